/*
 * The commit path: submitted ops wait in their document's queue; the
 * worker holding the document's Redis lock (or any worker, without Redis)
 * transforms each against what was committed since its version, drops
 * duplicates by (src, seq), validates it on a working copy of the text,
 * commits the batch in one statement, then advances the document (which
 * delivers and acks in version order) and publishes each op.
 */

#ifndef _NGX_HTTP_COLLAB_COMMIT_H_INCLUDED_
#define _NGX_HTTP_COLLAB_COMMIT_H_INCLUDED_


#include "ngx_http_collab.h"
#include "doc/ngx_http_collab_commit_latency.h"
#include "doc/ngx_http_collab_doc.h"


struct ngx_http_collab_submit_s {
    ngx_queue_t                queue;       /* doc->submits or doc->batch */
    ngx_queue_t                sq;          /* the session's pending list */
    ngx_http_collab_doc_t     *doc;
    ngx_http_collab_ws_t      *ws;          /* NULL once the session left */

    ngx_str_t                  src;
    ngx_str_t                  principal;
    ngx_str_t                  data;        /* create data */
    ngx_str_t                  raw;         /* the request, for errors */
    uint64_t                   seq;
    uint64_t                   v;           /* as submitted */
    uint64_t                   tv;          /* op is transformed up to tv */
    ngx_uint_t                 kind;        /* NGX_HTTP_COLLAB_DOC_* */

    collab_op_t                op;          /* transformed up to tv */
    collab_op_t                bop;         /* and past the batch before */
    char                      *json;        /* bop encoded, malloc'ed */
    size_t                     json_len;
    ngx_http_collab_frame_t   *frame;       /* its op message, committed */

    ngx_http_collab_commit_stamps_t  stamps; /* for commit_latency */

    ngx_pid_t                  origin;      /* forwarded by this worker */
    ngx_msec_t                 fwd_time;    /* when we forwarded it */

    /* a reply carrier: the ops its submitter missed are being read */
    ngx_http_collab_doc_req_t  missed;
    ngx_http_collab_frame_t   *ack;         /* sent after them */

    unsigned                   has_v:1;
    unsigned                   caught_up:1;
    unsigned                   no_forward:1;
    unsigned                   missing:1;   /* a carrier, "missed" queued */
};


/* per worker: group commits and the debug counters' status section */
ngx_int_t ngx_http_collab_commit_init_process(void);
void ngx_http_collab_commit_exit_process(void);

ngx_int_t ngx_http_collab_commit_init(ngx_http_collab_doc_t *doc);
void ngx_http_collab_commit_free(ngx_http_collab_doc_t *doc);

/*
 * A submit from a decoded "op" message (raw is its text).  On failure
 * returns NULL and sets *code / *message (code NULL: out of memory).
 */
ngx_http_collab_submit_t *ngx_http_collab_submit_new(collab_msg_t *msg,
    u_char *raw, size_t len, ngx_str_t *src, ngx_str_t *principal,
    ngx_http_collab_ws_t *ws, const char **code, const char **message);

/* queues it on the document, which owns it from now on */
void ngx_http_collab_commit_submit(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s);

/* frees a submit that was never queued */
void ngx_http_collab_commit_discard(ngx_http_collab_submit_t *s);

/* the session is closing: the op still commits, nobody is answered */
void ngx_http_collab_submit_detach(ngx_http_collab_submit_t *s);

/* a lock nudge ("W<pid>" or "F<pid>") received on the doc channel */
void ngx_http_collab_commit_nudge(ngx_http_collab_doc_t *doc,
    u_char *payload, size_t len);

/*
 * A committed op arrived from elsewhere: if it is one this worker
 * forwarded, returns its submit (out of the forwarded list) and sets *ack
 * to its ack frame (NULL when its session left or on no memory).
 */
ngx_http_collab_submit_t *ngx_http_collab_commit_forwarded(
    ngx_http_collab_doc_t *doc, ngx_str_t *src, uint64_t seq,
    ngx_http_collab_frame_t **ack);
/* after the advance at version v: the ops it missed, its ack; frees s */
void ngx_http_collab_commit_forwarded_done(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s, ngx_http_collab_frame_t *ack,
    ngx_int_t delivered, uint64_t v);

/* starts the next batch if the document allows it */
void ngx_http_collab_commit_run(ngx_http_collab_doc_t *doc);

/* the document could not be loaded: every queued submit fails */
void ngx_http_collab_commit_fail(ngx_http_collab_doc_t *doc, ngx_int_t rc);

/*
 * The copy was wrong and is reloading: every queued submit fails (each
 * was transformed, or written, against versions that may not exist).
 */
void ngx_http_collab_commit_reset(ngx_http_collab_doc_t *doc);

/*
 * While PostgreSQL is away: the queued ops older than collab_commit_wait
 * get an error; returns how many still wait.  backoff: ms until the next
 * try (50 ms, doubling, at most 1 s; reset by a commit).
 */
ngx_uint_t ngx_http_collab_commit_expire(ngx_http_collab_doc_t *doc);
ngx_msec_t ngx_http_collab_commit_backoff(ngx_http_collab_doc_t *doc);

/* no lock operation is pending (the document may be evicted) */
ngx_uint_t ngx_http_collab_commit_idle(ngx_http_collab_doc_t *doc);

/* sends the error reply for a request given as raw text */
void ngx_http_collab_commit_reply_error(ngx_http_collab_ws_t *ws,
    ngx_str_t *raw, const char *code, const char *message);


#endif /* _NGX_HTTP_COLLAB_COMMIT_H_INCLUDED_ */

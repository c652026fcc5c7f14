/*
 * The per-worker document registry.
 *
 * A document in memory holds its head version, its text, a bounded ring of
 * recent committed ops (each with its encoded broadcast frame, which shows
 * the public form of its src: ngx_http_collab_src.h), the local
 * subscribers, the requests waiting for it to be loaded and the queue of
 * submitted ops (see ngx_http_collab_commit.h).  It advances only through
 * ngx_http_collab_doc_advance(), one committed op at a time in version
 * order, whatever the op's source: own commit, pub/sub or a read from
 * PostgreSQL.
 *
 * Versions are ShareDB's: a document at version v has had v ops; the op
 * committed at v (its message's "v") is stored as version v + 1.
 */

#ifndef _NGX_HTTP_COLLAB_DOC_H_INCLUDED_
#define _NGX_HTTP_COLLAB_DOC_H_INCLUDED_


#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"
#include "redis/ngx_http_collab_redis.h"
#include "engine/collab_ot.h"
#include "engine/collab_text.h"
#include "protocol/collab_msg.h"
#include "protocol/collab_msg_enc.h"
#include "store/ngx_http_collab_store.h"


#define NGX_HTTP_COLLAB_DOC_LOADING    0
#define NGX_HTTP_COLLAB_DOC_READY      1

/* op kinds, the store's numbering */
#define NGX_HTTP_COLLAB_DOC_CREATE     1
#define NGX_HTTP_COLLAB_DOC_OP         2
#define NGX_HTTP_COLLAB_DOC_DEL        3

/* outcomes given to waiting requests besides NGX_OK */
#define NGX_HTTP_COLLAB_DOC_UNAVAILABLE  1   /* the database is down */


typedef struct ngx_http_collab_doc_s      ngx_http_collab_doc_t;
typedef struct ngx_http_collab_doc_req_s  ngx_http_collab_doc_req_t;
typedef struct ngx_http_collab_submit_s   ngx_http_collab_submit_t;


/* a committed op kept for transforms and catch-ups */
typedef struct {
    uint64_t                   v;           /* version it applied at */
    uint64_t                   seq;
    ngx_uint_t                 kind;
    ngx_str_t                  src;         /* heap */
    collab_op_t                op;          /* kind OP */
    ngx_http_collab_frame_t   *frame;       /* the op message, shared */
} ngx_http_collab_doc_op_t;


/* a session subscribed to a document */
typedef struct {
    ngx_queue_t                dq;          /* in doc->subs */
    ngx_queue_t                sq;          /* in the session's list */
    ngx_http_collab_doc_t     *doc;
    ngx_http_collab_ws_t      *ws;
} ngx_http_collab_doc_sub_t;


/*
 * A request waiting for a document (load, catch-up, ops since a version).
 * The handler runs once with NGX_OK or an error outcome; the doc is kept
 * in memory meanwhile.
 */
typedef void (*ngx_http_collab_doc_ready_pt)(ngx_http_collab_doc_req_t *req,
    ngx_int_t rc);

struct ngx_http_collab_doc_req_s {
    ngx_queue_t                queue;       /* in doc->waiters */
    ngx_http_collab_doc_t     *doc;
    ngx_http_collab_doc_ready_pt  handler;
    void                      *data;

    /* ops since: versions [since, until or head) to ws before the handler */
    ngx_http_collab_ws_t      *ws;
    uint64_t                   since;
    uint64_t                   until;       /* 0: the head */
    ngx_msec_t                 queued_at;   /* PostgreSQL away: its age */
    unsigned                   want_ops:1;
    unsigned                   fresh:1;     /* read the DB head first */
    unsigned                   no_wait:1;   /* PostgreSQL away: fail now */
    unsigned                   queued:1;
};


struct ngx_http_collab_doc_s {
    ngx_str_node_t             sn;          /* key: name */
    ngx_queue_t                all;

    ngx_str_t                  c;
    ngx_str_t                  d;
    ngx_str_t                  name;        /* "<len(c)>:<c>/<d>" */
    ngx_str_t                  channel;     /* redis channel, heap */

    ngx_uint_t                 state;
    uint64_t                   v;           /* head */
    collab_text_t             *text;        /* NULL unless it exists */
    collab_text_t             *work;        /* text + batch in flight */
    unsigned                   exists:1;
    unsigned                   deleted:1;
    unsigned                   catching_up:1;
    unsigned                   catchup_again:1;
    unsigned                   channel_on:1;
    unsigned                   channel_active:1;
    unsigned                   gone:1;      /* evicted, waiting for refs */
    unsigned                   loading:1;   /* a load is in flight */
    unsigned                   reading:1;   /* ops for a waiter */
    unsigned                   own_apply:1; /* advancing by own commit */
    unsigned                   cached:1;    /* from the cache, unchecked */

    /* ring of committed ops: versions [v - ring_n, v) */
    ngx_http_collab_doc_op_t  *ring;
    ngx_uint_t                 ring_cap;
    ngx_uint_t                 ring_n;
    ngx_uint_t                 ring_head;   /* index of the oldest */
    size_t                     ring_bytes;  /* estimated memory held */

    uint64_t                   seen_v;      /* highest pub/sub version */
    uint64_t                   verify_v;    /* re-read from it, 0: none */

    ngx_queue_t                subs;
    ngx_uint_t                 nsubs;
    ngx_queue_t                waiters;
    ngx_http_collab_doc_req_t *reading_req;
    ngx_uint_t                 refs;        /* callbacks and requests */

    /* the commit path (ngx_http_collab_commit.c) */
    ngx_queue_t                submits;
    ngx_uint_t                 nsubmits;
    ngx_queue_t                batch;
    ngx_uint_t                 nbatch;
    ngx_uint_t                 retries;
    ngx_uint_t                 lock_state;
    ngx_msec_t                 lock_time;
    ngx_msec_t                 lock_backoff;
    ngx_msec_t                 lock_wait;   /* since when it is refused */
    uint64_t                   lock_asked;  /* us, the acquire sent */
    ngx_msec_t                 db_backoff;  /* PostgreSQL away: ms */
    ngx_event_t                load_retry;  /* a load that found it away */
    uint64_t                   publish_sent; /* us, the last PUBLISH */
    ngx_event_t                linger;
    ngx_http_collab_redis_lock_t  lock;
    ngx_event_t                lock_retry;
    ngx_uint_t                 publish_pending;
    ngx_uint_t                 tenure;      /* batches since acquired */
    ngx_queue_t                forwarded;   /* sent to the lock holder */
    ngx_uint_t                 nforwarded;
    ngx_event_t                fwd_timer;
    unsigned                   forwarding:1; /* another worker holds it */
    ngx_queue_t                gq;          /* waiting for a group commit */
    unsigned                   grouped:1;
    unsigned                   remote_quiet:1;
    unsigned                   committing:1;
    unsigned                   release_pending:1;
    unsigned                   contended:1; /* keeps the channel for nudges */
    unsigned                   wanted:1;    /* another worker waits */
    unsigned                   yielded:1;   /* released for another */
    unsigned                   freed:1;     /* "free" seen while acquiring */

    ngx_event_t                evict;
};


/* worker-wide state shared by the doc, commit and fan-out files */
typedef struct {
    ngx_rbtree_t               tree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                all;
    ngx_uint_t                 ndocs;
    ngx_http_collab_main_conf_t  *cmcf;
    ngx_log_t                 *log;
    collab_msg_enc_t           enc;
    collab_msg_t               msg;         /* pub/sub decoding */
    collab_msg_tree_t          tree_json;   /* create data decoding */
    ngx_uint_t                 exiting;
} ngx_http_collab_doc_worker_t;


extern ngx_http_collab_doc_worker_t  ngx_http_collab_doc_worker;


ngx_int_t ngx_http_collab_doc_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_doc_exit_process(ngx_cycle_t *cycle);

/* finds the document, or creates it and starts loading it; NULL: nomem */
ngx_http_collab_doc_t *ngx_http_collab_doc_get(ngx_str_t *c, ngx_str_t *d);

/*
 * Runs req->handler once the document is loaded (and, with req->fresh,
 * caught up with the database head; with req->want_ops, after the ops
 * since req->since were sent to req->ws).  May call it before returning.
 */
void ngx_http_collab_doc_wait(ngx_http_collab_doc_t *doc,
    ngx_http_collab_doc_req_t *req);
/* the request's owner went away: it is dropped without its handler */
void ngx_http_collab_doc_cancel(ngx_http_collab_doc_req_t *req);

void ngx_http_collab_doc_ref(ngx_http_collab_doc_t *doc);
void ngx_http_collab_doc_unref(ngx_http_collab_doc_t *doc);

/*
 * A callback that held a reference is back and gives it up: NGX_DECLINED
 * if the document was evicted meanwhile (it may be freed now: the caller
 * must not touch it), NGX_OK otherwise (nothing else is done: no idle
 * check, unlike unref).
 */
ngx_int_t ngx_http_collab_doc_back(ngx_http_collab_doc_t *doc);

/* the current snapshot; *buf (malloc'ed, may be NULL) is the caller's */
ngx_int_t ngx_http_collab_doc_snapshot(ngx_http_collab_doc_t *doc,
    collab_msg_snapshot_t *snap, u_char **buf);

void ngx_http_collab_doc_subscribe(ngx_http_collab_doc_t *doc,
    ngx_http_collab_doc_sub_t *sub, ngx_http_collab_ws_t *ws);
void ngx_http_collab_doc_unsubscribe(ngx_http_collab_doc_sub_t *sub);

/* the ring entry at version v, or NULL if the ring does not hold it */
ngx_http_collab_doc_op_t *ngx_http_collab_doc_ring_get(
    ngx_http_collab_doc_t *doc, uint64_t v);

/*
 * Applies the committed op at version doc->v (its op is taken over, the
 * frame retained), stores it in the ring and queues its frame to every
 * subscriber, except that the session "acked" gets "ack" instead.
 * Returns NGX_OK, or NGX_ERROR if the op does not apply (the doc is then
 * reloaded).
 */
ngx_int_t ngx_http_collab_doc_advance(ngx_http_collab_doc_t *doc,
    ngx_uint_t kind, collab_op_t *op, const char *data, size_t len,
    ngx_str_t *src, uint64_t seq, ngx_http_collab_frame_t *frame,
    ngx_http_collab_ws_t *acked, ngx_http_collab_frame_t *ack);

/*
 * Reads the ops after the head from the database and applies them (from
 * doc->verify_v if set: those the copy has are compared with the ring).
 */
void ngx_http_collab_doc_catch_up(ngx_http_collab_doc_t *doc);

/* forgets the copy and loads the document again */
void ngx_http_collab_doc_reload(ngx_http_collab_doc_t *doc);

/* sends the ring ops [from, to) to ws; NGX_DECLINED if not all held */
ngx_int_t ngx_http_collab_doc_send_ring(ngx_http_collab_doc_t *doc,
    ngx_http_collab_ws_t *ws, uint64_t from, uint64_t to);

/*
 * Queues an op frame (src in its public form) to ws, or the same with the
 * real src if ws is its author's.  src is the op's real src.
 */
ngx_int_t ngx_http_collab_doc_send_op(ngx_http_collab_ws_t *ws,
    ngx_http_collab_frame_t *frame, ngx_str_t *src);

/*
 * The initial text of a stored create (its create_data is the JSON text
 * of a string), valid until the next call: COLLAB_OT_OK, or
 * COLLAB_OT_ERR_JSON.
 */
int ngx_http_collab_doc_create_text(ngx_http_collab_store_op_t *so,
    collab_msg_str_t *text);

/*
 * Replays the stored ops of res that continue version *at onto *text
 * (NULL: no document): a create replaces it, a del drops it.  *at
 * advances past each op applied.  Returns COLLAB_OT_OK or the first error.
 */
int ngx_http_collab_doc_replay(collab_text_t **text, uint64_t *at,
    ngx_http_collab_store_result_t *res);

/* encodes a stored op into a frame (the public src); NULL on failure */
ngx_http_collab_frame_t *ngx_http_collab_doc_stored_frame(
    ngx_http_collab_doc_t *doc, ngx_http_collab_store_op_t *so,
    collab_op_t *op);

/* makes doc->work, the working copy of the text */
ngx_int_t ngx_http_collab_doc_work(ngx_http_collab_doc_t *doc);

/* checks whether the document can be evicted (later, on a timer) */
void ngx_http_collab_doc_idle(ngx_http_collab_doc_t *doc);


/* the head of an op message of doc: its names, src, version and seq */
void ngx_http_collab_doc_op_head(ngx_http_collab_doc_t *doc,
    collab_msg_op_head_t *h, const u_char *src, size_t src_len, uint64_t v,
    uint64_t seq);


#endif /* _NGX_HTTP_COLLAB_DOC_H_INCLUDED_ */

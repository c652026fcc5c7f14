/*
 * PostgreSQL is the truth, the Redis channel only news of it.  A message
 * no commit made (forged, stray, replayed with a new version, another
 * deployment on the same Redis and prefix) may be applied to a worker's
 * copy and delivered; the copy then disagrees with the op log.  These
 * calls notice it and bring the worker back: the copy is thrown away and
 * loaded again, its queued ops fail, and its subscribers are closed with
 * NGX_HTTP_COLLAB_CLOSE_RELOADED (their state has ops the log has not; a
 * ShareDB Doc never moves its version back, so they must fetch anew).
 */

#ifndef _NGX_HTTP_COLLAB_DOC_RESYNC_H_INCLUDED_
#define _NGX_HTTP_COLLAB_DOC_RESYNC_H_INCLUDED_


#include "ngx_http_collab.h"
#include "doc/ngx_http_collab_doc.h"


#define NGX_HTTP_COLLAB_CLOSE_RELOADED  4001


/*
 * A catch-up read (rc, res) against the copy: NGX_OK if they agree (or
 * the read failed), NGX_DECLINED if the copy was wrong and is reloading:
 * the database head is below the copy's, or an op the copy has (read back
 * from doc->verify_v) is not the one the ring holds at that version.
 */
ngx_int_t ngx_http_collab_doc_resync_check(ngx_http_collab_doc_t *doc,
    ngx_int_t rc, ngx_http_collab_store_result_t *res);

/*
 * After a complete catch-up that saw the database head: a version heard
 * on the channel above it was claimed by no commit, and is forgotten.
 */
void ngx_http_collab_doc_resync_seen(ngx_http_collab_doc_t *doc,
    int64_t head);

/*
 * A message for a version the copy has (v < doc->v): if the ring holds
 * another (src, seq) there, one of them is not in the log: the next
 * catch-up reads that version back.
 */
void ngx_http_collab_doc_resync_heard(ngx_http_collab_doc_t *doc,
    uint64_t v, ngx_str_t *src, uint64_t seq);

/* the copy disagrees with the database (why, at version v): reload it */
void ngx_http_collab_doc_resync(ngx_http_collab_doc_t *doc, const char *why,
    int64_t v);


#endif /* _NGX_HTTP_COLLAB_DOC_RESYNC_H_INCLUDED_ */

/*
 * A worker's copy of a document against PostgreSQL, the truth.
 *
 * What makes a copy suspect: a commit conflict that a catch-up does not
 * explain, the periodic head check seeing the copy ahead of the database,
 * or a message for a version the copy has with another (src, seq) than
 * the copy applied there.  Each ends in a catch-up read, here compared
 * with the copy: its versions are all committed before the read is sent
 * (a copy advances only by committed ops, and no catch-up runs while the
 * worker's own commit is out), so a database head below the copy's, or a
 * stored op that is not the ring's at its version, means the copy holds
 * an op no commit made.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"
#include "doc/ngx_http_collab_doc_resync.h"


static ngx_uint_t ngx_http_collab_doc_resync_same(
    ngx_http_collab_doc_op_t *e, ngx_uint_t kind, ngx_str_t *src,
    uint64_t seq);


ngx_int_t
ngx_http_collab_doc_resync_check(ngx_http_collab_doc_t *doc, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_uint_t                   i;
    ngx_http_collab_doc_op_t    *e;
    ngx_http_collab_store_op_t  *so;

    if (doc->state != NGX_HTTP_COLLAB_DOC_READY) {
        return NGX_OK;
    }

    if (rc == NGX_HTTP_COLLAB_STORE_NOT_FOUND) {
        if (doc->v == 0) {
            return NGX_OK;
        }

        ngx_http_collab_doc_resync(doc, "no such document, head", 0);
        return NGX_DECLINED;
    }

    if (rc != NGX_HTTP_COLLAB_STORE_OK) {
        return NGX_OK;
    }

    if (res->version < (int64_t) doc->v) {
        ngx_http_collab_doc_resync(doc, "its head is", res->version);
        return NGX_DECLINED;
    }

    for (i = 0; i < res->nops; i++) {
        so = &res->ops[i];

        if (so->version < 1 || (uint64_t) so->version > doc->v) {
            continue;
        }

        /* the ring keeps the op committed at v as entry v - 1 */
        e = ngx_http_collab_doc_ring_get(doc, (uint64_t) so->version - 1);

        if (e && !ngx_http_collab_doc_resync_same(e, so->kind, &so->src,
                                                  (uint64_t) so->seq))
        {
            ngx_http_collab_doc_resync(doc, "another op is its", so->version);
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


void
ngx_http_collab_doc_resync_seen(ngx_http_collab_doc_t *doc, int64_t head)
{
    if (doc->seen_v <= doc->v || doc->seen_v <= (uint64_t) head) {
        return;
    }

    /* else every catch-up would start the next one, and commits wait */

    ngx_log_error(NGX_LOG_WARN, ngx_http_collab_doc_worker.log, 0,
                  "collab: a message on \"%V\" claims v%uL, PostgreSQL's "
                  "head of \"%V\" is v%L: ignoring it", &doc->channel,
                  doc->seen_v - 1, &doc->name, head);

    doc->seen_v = doc->v;
}


void
ngx_http_collab_doc_resync_heard(ngx_http_collab_doc_t *doc, uint64_t v,
    ngx_str_t *src, uint64_t seq)
{
    ngx_http_collab_doc_op_t  *e;

    e = ngx_http_collab_doc_ring_get(doc, v);

    if (e == NULL || ngx_http_collab_doc_resync_same(e, e->kind, src, seq)) {
        /* a repeat (our own op coming back), or too old to tell */
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_collab_doc_worker.log, 0,
                   "collab resync: \"%V\" heard another op at v%uL",
                   &doc->name, v);

    if (doc->verify_v == 0 || doc->verify_v > v + 1) {
        doc->verify_v = v + 1;
    }

    ngx_http_collab_doc_catch_up(doc);
}


void
ngx_http_collab_doc_resync(ngx_http_collab_doc_t *doc, const char *why,
    int64_t v)
{
    ngx_queue_t                *q, *next;
    ngx_http_collab_doc_sub_t  *sub;

    ngx_log_error(NGX_LOG_WARN, ngx_http_collab_doc_worker.log, 0,
                  "collab: \"%V\" at v%uL disagrees with PostgreSQL (%s "
                  "v%L): reloading it, closing its %ui subscriber(s)",
                  &doc->name, doc->v, why, v, doc->nsubs);

    doc->refs++;

    ngx_http_collab_commit_reset(doc);

    doc->seen_v = 0;
    doc->verify_v = 0;

    /*
     * Each subscriber has the wrong ops (queued before the close frame);
     * a socket may go at once and unlink only its own sub.
     */

    for (q = ngx_queue_head(&doc->subs);
         q != ngx_queue_sentinel(&doc->subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_http_collab_doc_sub_t, dq);

        ngx_http_collab_ws_close(sub->ws, NGX_HTTP_COLLAB_CLOSE_RELOADED,
                                 "document reloaded: fetch it again");
    }

    ngx_http_collab_doc_reload(doc);

    ngx_http_collab_doc_unref(doc);
}


static ngx_uint_t
ngx_http_collab_doc_resync_same(ngx_http_collab_doc_op_t *e, ngx_uint_t kind,
    ngx_str_t *src, uint64_t seq)
{
    return e->kind == kind && e->seq == seq && e->src.len == src->len
           && (src->len == 0
               || ngx_memcmp(e->src.data, src->data, src->len) == 0);
}

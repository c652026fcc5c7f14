/*
 * Group commit (see ngx_http_collab_commit.c): the batches of the
 * documents ready in one event loop turn go to PostgreSQL in one
 * statement, at most collab_postgres_pool of them out at a time.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "engine/collab_ot_json.h"
#include "doc/ngx_http_collab_doc.h"
#include "doc/ngx_http_collab_commit.h"
#include "doc/ngx_http_collab_commit_int.h"
#include "doc/ngx_http_collab_commit_latency.h"
#include "doc/ngx_http_collab_doc_resync.h"
#include "doc/ngx_http_collab_fanout.h"
#include "protocol/ngx_http_collab_src.h"
#include "status/ngx_http_collab_status.h"


void
ngx_http_collab_commit_send(ngx_http_collab_doc_t *doc)
{
    uint64_t                         t;
    ngx_queue_t                     *q;
    ngx_http_collab_submit_t        *s;
    ngx_http_collab_commit_group_t  *g;

    g = &ngx_http_collab_commit_group;

    t = collab_latency_now();

    for (q = ngx_queue_head(&doc->batch);
         q != ngx_queue_sentinel(&doc->batch);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);
        s->stamps.sent = t;
    }

    if (doc->v == 0 || doc->retries) {
        ngx_http_collab_commit_send_one(doc);
        return;
    }

    for (q = ngx_queue_head(&doc->batch);
         q != ngx_queue_sentinel(&doc->batch);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

        if (s->kind != NGX_HTTP_COLLAB_DOC_OP) {
            ngx_http_collab_commit_send_one(doc);
            return;
        }
    }

    /* it waits for the group commit at the end of this turn */

    doc->committing = 1;
    doc->grouped = 1;
    doc->refs++;

    ngx_queue_insert_tail(&g->pending, &doc->gq);
    g->npending++;

    if (!g->flush.posted) {
        ngx_post_event(&g->flush, &ngx_posted_events);
    }
}


void
ngx_http_collab_commit_flush_handler(ngx_event_t *ev)
{
    ngx_queue_t                     *q;
    ngx_http_collab_doc_t           *doc;
    ngx_http_collab_commit_group_t  *g;

    g = &ngx_http_collab_commit_group;

    while (g->npending
           && g->inflight < ngx_http_collab_doc_worker.cmcf->pg_pool_size)
    {
        if (g->npending == 1) {
            /* alone: the plain statement */
            q = ngx_queue_head(&g->pending);
            doc = ngx_queue_data(q, ngx_http_collab_doc_t, gq);

            ngx_queue_remove(q);
            g->npending--;
            doc->grouped = 0;
            doc->refs--;
            doc->committing = 0;

            ngx_http_collab_commit_send_one(doc);
            continue;
        }

        if (ngx_http_collab_commit_send_group() != NGX_OK) {
            break;
        }
    }
}


ngx_int_t
ngx_http_collab_commit_send_group(void)
{
    ngx_int_t                         rc;
    ngx_uint_t                        i, n, nops, k;
    ngx_queue_t                      *q, *sq;
    ngx_http_collab_doc_t            *doc;
    ngx_http_collab_submit_t         *s;
    ngx_http_collab_store_op_t       *ops;
    ngx_http_collab_commit_greq_t    *greq;
    ngx_http_collab_commit_group_t   *g;
    ngx_http_collab_store_batch_t    *b;

    g = &ngx_http_collab_commit_group;

    n = ngx_min(g->npending, NGX_HTTP_COLLAB_COMMIT_GROUP);
    nops = 0;
    i = 0;

    for (q = ngx_queue_head(&g->pending);
         q != ngx_queue_sentinel(&g->pending) && i < n;
         q = ngx_queue_next(q), i++)
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, gq);
        nops += doc->nbatch;
    }

    greq = ngx_alloc(sizeof(ngx_http_collab_commit_greq_t)
                     + n * sizeof(ngx_http_collab_doc_t *),
                     ngx_http_collab_doc_worker.log);
    b = ngx_alloc(n * sizeof(ngx_http_collab_store_batch_t),
                  ngx_http_collab_doc_worker.log);
    ops = ngx_calloc(nops * sizeof(ngx_http_collab_store_op_t),
                     ngx_http_collab_doc_worker.log);

    if (greq == NULL || b == NULL || ops == NULL) {
        goto failed;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        q = ngx_queue_head(&g->pending);
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, gq);

        ngx_queue_remove(q);
        g->npending--;
        doc->grouped = 0;

        greq->docs[i] = doc;

        b[i].collection = doc->c;
        b[i].doc = doc->d;
        b[i].base = (int64_t) doc->v;
        b[i].ops = &ops[k];
        b[i].n = 0;

        for (sq = ngx_queue_head(&doc->batch);
             sq != ngx_queue_sentinel(&doc->batch);
             sq = ngx_queue_next(sq))
        {
            s = ngx_queue_data(sq, ngx_http_collab_submit_t, queue);

            ops[k].kind = NGX_HTTP_COLLAB_STORE_OP;
            ops[k].src = s->src;
            ops[k].seq = (int64_t) s->seq;
            ops[k].principal = s->principal;
            ops[k].op.data = (u_char *) s->json;
            ops[k].op.len = s->json_len;

            k++;
            b[i].n++;
        }
    }

    greq->n = n;

    rc = ngx_http_collab_store_commit_multi(b, n,
                                            ngx_http_collab_commit_group_done,
                                            greq);
    ngx_free(b);
    ngx_free(ops);

    if (rc == NGX_OK) {
        g->inflight++;
        ngx_http_collab_commit_stats.groups++;
        ngx_http_collab_commit_stats.grouped_docs += n;
        return NGX_OK;
    }

    /* each alone then */

    for (i = 0; i < n; i++) {
        doc = greq->docs[i];
        doc->refs--;
        doc->committing = 0;
        ngx_http_collab_commit_send_one(doc);
    }

    ngx_free(greq);

    return NGX_OK;

failed:

    if (greq) {
        ngx_free(greq);
    }

    if (b) {
        ngx_free(b);
    }

    if (ops) {
        ngx_free(ops);
    }

    while (!ngx_queue_empty(&g->pending)) {
        q = ngx_queue_head(&g->pending);
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, gq);

        ngx_queue_remove(q);
        g->npending--;
        doc->grouped = 0;
        doc->refs--;
        doc->committing = 0;

        ngx_http_collab_commit_send_one(doc);
    }

    return NGX_ERROR;
}


void
ngx_http_collab_commit_group_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_commit_greq_t  *greq = data;

    ngx_int_t                        drc;
    ngx_uint_t                       i;
    ngx_http_collab_doc_t           *doc;
    ngx_http_collab_commit_group_t  *g;

    g = &ngx_http_collab_commit_group;
    g->inflight--;

    for (i = 0; i < greq->n; i++) {
        doc = greq->docs[i];

        if (rc == NGX_HTTP_COLLAB_STORE_OK) {
            drc = (i < res->nheads && res->heads[i] == 1)
                  ? NGX_HTTP_COLLAB_STORE_OK
                  : NGX_HTTP_COLLAB_STORE_CONFLICT;

            ngx_http_collab_commit_done(doc, drc, NULL);
            continue;
        }

        if (rc == NGX_HTTP_COLLAB_STORE_CONFLICT
            || rc == NGX_HTTP_COLLAB_STORE_DUPLICATE)
        {
            /* rolled back as a whole: each alone says whose it was */
            if (ngx_http_collab_doc_back(doc) != NGX_OK) {
                continue;
            }
            doc->committing = 0;
            ngx_http_collab_commit_send_one(doc);
            continue;
        }

        ngx_http_collab_commit_done(doc, rc, NULL);
    }

    ngx_http_collab_store_result_free(res);
    ngx_free(greq);

    if (g->npending && !g->flush.posted) {
        ngx_post_event(&g->flush, &ngx_posted_events);
    }
}

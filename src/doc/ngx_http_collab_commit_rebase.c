/*
 * Rebasing a submitted op onto the head: transformed against each op
 * committed since its version, from the ring or from PostgreSQL, with
 * the work bounded (collab_max_op_lag); a resend found among them is
 * acked only if it is the op committed under its (src, seq).
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


/*
 * Transforming an op against history costs about its components times the
 * versions it is behind, and reads those versions from PostgreSQL: both
 * are bounded, so one message cannot buy unbounded work.
 */
#define NGX_HTTP_COLLAB_MAX_TRANSFORM_WORK  ((uint64_t) 1 << 24)


ngx_uint_t
ngx_http_collab_commit_too_old(ngx_http_collab_doc_t *doc,
    ngx_http_collab_submit_t *s)
{
    uint64_t  lag;

    lag = doc->v - s->tv;

    if (lag <= ngx_http_collab_doc_worker.cmcf->max_op_lag
        && (s->kind != NGX_HTTP_COLLAB_DOC_OP
            || lag * (s->op.ncomps + 1) <= NGX_HTTP_COLLAB_MAX_TRANSFORM_WORK))
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "collab: op of %uz components on \"%V\" refused: "
                  "%uL versions behind the head (collab_max_op_lag %ui)",
                  (size_t) s->op.ncomps, &doc->name, lag,
                  ngx_http_collab_doc_worker.cmcf->max_op_lag);

    return 1;
}


/*
 * One committed op at version v between the submit's version and the
 * head: NGX_OK after transforming past it, NGX_DONE when s was answered
 * (it is that op, or it conflicts).
 */
ngx_int_t
ngx_http_collab_commit_past(ngx_http_collab_submit_t *s, ngx_uint_t kind,
    collab_op_t *op, ngx_str_t *src, uint64_t seq, uint64_t v)
{
    const char  *code, *message;

    if (ngx_http_collab_commit_same(src, seq, &s->src, s->seq)) {
        /* already committed (a resend after a reconnect) */
        ngx_http_collab_commit_resend(s, kind, op, v);
        return NGX_DONE;
    }

    code = ngx_http_collab_commit_transform(s, &s->op, s->kind, op, kind,
                                            &message);
    if (code) {
        ngx_http_collab_commit_error(s, code, message);
        return NGX_DONE;
    }

    s->tv = v + 1;

    return NGX_OK;
}


/*
 * s has the (src, seq) of the op committed at v: a resend, acked, if it
 * is the same op (s->op is transformed up to v by now, as the original
 * was); else someone else's op under that (src, seq): acking it would
 * tell the client its text is in the document.
 */
void
ngx_http_collab_commit_resend(ngx_http_collab_submit_t *s, ngx_uint_t kind,
    collab_op_t *op, uint64_t v)
{
    if (kind == s->kind
        && (kind != NGX_HTTP_COLLAB_DOC_OP || collab_op_equal(op, &s->op)))
    {
        ngx_http_collab_commit_ack(s->doc, s, v);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_http_collab_doc_worker.log, 0,
                  "collab: \"%V\": seq %uL of a src differs from the op "
                  "committed under it at v%uL", &s->doc->name, s->seq, v);

    ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_SEQ_TAKEN,
                                 "Another op is committed under this src "
                                 "and seq");
}


/* ShareDB's ot.transform() for text-unicode */
const char *
ngx_http_collab_commit_transform(ngx_http_collab_submit_t *s,
    collab_op_t *op, ngx_uint_t kind, collab_op_t *other, ngx_uint_t okind,
    const char **message)
{
    int          rc;
    collab_op_t  tmp;

    if (okind == NGX_HTTP_COLLAB_DOC_DEL) {
        if (kind != NGX_HTTP_COLLAB_DOC_DEL) {
            *message = "Document was deleted";
            return COLLAB_MSG_ERR_WAS_DELETED;
        }

        return NULL;
    }

    if (okind == NGX_HTTP_COLLAB_DOC_CREATE
        || kind == NGX_HTTP_COLLAB_DOC_CREATE)
    {
        *message = "Document was created remotely";
        return COLLAB_MSG_ERR_ALREADY_CREATED;
    }

    if (kind != NGX_HTTP_COLLAB_DOC_OP) {
        return NULL;
    }

    collab_op_init(&tmp);

    rc = collab_op_transform(&tmp, op, other, COLLAB_OT_LEFT);
    if (rc != COLLAB_OT_OK) {
        collab_op_free(&tmp);
        *message = collab_ot_strerror(rc);
        return rc == COLLAB_OT_ERR_NOMEM ? COLLAB_MSG_ERR_UNKNOWN
                                         : COLLAB_MSG_ERR_OT_BADLY_FORMED;
    }

    collab_op_free(op);
    *op = tmp;

    return NULL;
}


void
ngx_http_collab_commit_history(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_doc_t  *doc = data;

    int                          r;
    ngx_uint_t                   i, kind;
    ngx_queue_t                 *q;
    collab_op_t                  op;
    ngx_http_collab_submit_t    *s;
    ngx_http_collab_store_op_t  *so;

    if (ngx_http_collab_doc_back(doc) != NGX_OK) {
        ngx_http_collab_store_result_free(res);
        return;
    }
    doc->committing = 0;

    if (doc->catchup_again) {
        /* a gap was seen meanwhile: catch up first, then go on */
        doc->catchup_again = 0;
        ngx_http_collab_doc_catch_up(doc);
    }

    if (ngx_queue_empty(&doc->submits)) {
        ngx_http_collab_store_result_free(res);
        goto next;
    }

    q = ngx_queue_head(&doc->submits);
    s = ngx_queue_data(q, ngx_http_collab_submit_t, queue);

    if (rc == NGX_HTTP_COLLAB_STORE_UNAVAILABLE
        || rc == NGX_HTTP_COLLAB_STORE_UNKNOWN)
    {
        /* a read: tried again while the ops wait (collab_commit_wait) */
        ngx_http_collab_store_result_free(res);

        if (ngx_http_collab_commit_expire(doc)) {
            ngx_http_collab_commit_later(doc,
                                         ngx_http_collab_commit_backoff(doc));
            ngx_http_collab_doc_idle(doc);
            return;
        }

        goto next;
    }

    if (rc != NGX_HTTP_COLLAB_STORE_OK) {
        ngx_http_collab_store_result_free(res);
        ngx_queue_remove(q);
        doc->nsubmits--;

        if (rc == NGX_HTTP_COLLAB_STORE_NOT_FOUND) {
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_OPS_NOT_FOUND,
                                         "Missing ops to transform against");
        } else {
            ngx_http_collab_commit_error(s, COLLAB_MSG_ERR_UNKNOWN,
                                         NGX_HTTP_COLLAB_COMMIT_UNAVAILABLE);
        }

        ngx_http_collab_submit_free(s);
        goto next;
    }

    collab_op_init(&op);

    for (i = 0; i < res->nops; i++) {
        so = &res->ops[i];

        if ((uint64_t) so->version != s->tv + 1) {
            continue;
        }

        kind = so->kind;

        if (kind == NGX_HTTP_COLLAB_STORE_OP) {
            r = collab_op_decode_json(&op, (const char *) so->op.data,
                                      so->op.len);
            if (r != COLLAB_OT_OK) {
                break;
            }
        }

        if (ngx_http_collab_commit_past(s, kind, &op, &so->src,
                                        (uint64_t) so->seq, s->tv)
            != NGX_OK)
        {
            ngx_queue_remove(q);
            doc->nsubmits--;
            ngx_http_collab_submit_free(s);
            break;
        }
    }

    collab_op_free(&op);
    ngx_http_collab_store_result_free(res);

next:

    ngx_http_collab_commit_run(doc);
    ngx_http_collab_doc_idle(doc);
}

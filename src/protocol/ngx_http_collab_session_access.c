/*
 * Access checks of the ShareDB session: every message that reads or
 * writes a document passes the gate first (docs/access.md).
 *
 * A message whose roles are not cached yet waits at the head of the
 * session's held queue (so later messages keep their order behind it)
 * until the lookups are over, then goes through the gate again.  While
 * PostgreSQL is away it waits as a commit does, up to collab_commit_wait.
 * A refused message gets its own error reply with ERR_FORBIDDEN: the
 * stock client treats ERR_OP_SUBMIT_REJECTED as a silent success, and an
 * unsolicited subscribe error crashes it.
 *
 * A change of roles (ngx_http_collab_access_changed, from any worker)
 * re-checks the live subscriptions of what changed: one that lost read
 * access is dropped, so that socket gets no more of the document's ops.
 */

#include "ngx_http_collab.h"
#include "access/ngx_http_collab_access.h"
#include "doc/ngx_http_collab_doc.h"
#include "protocol/ngx_http_collab_session.h"


/* the most documents one message names (bulk) that may wait at once */
#define NGX_HTTP_COLLAB_GATE_MAX_WAITS  1000


typedef struct {
    ngx_queue_t                    sq;      /* in session->access_checks */
    ngx_http_collab_access_wait_t  w;
    ngx_http_collab_session_t     *s;
    ngx_http_collab_doc_t         *doc;     /* a re-check, or NULL */
} ngx_http_collab_gate_check_t;


static ngx_int_t ngx_http_collab_gate_need(collab_msg_t *msg,
    ngx_uint_t *need, ngx_str_t *c, ngx_str_t *d);
static ngx_int_t ngx_http_collab_gate_doc(ngx_http_collab_session_t *s,
    collab_msg_t *msg, ngx_str_t *c, ngx_str_t *d, ngx_uint_t need);
static void ngx_http_collab_gate_cancel(ngx_http_collab_session_t *s);
static ngx_http_collab_gate_check_t *ngx_http_collab_gate_check(
    ngx_http_collab_session_t *s, ngx_http_collab_doc_t *doc);
static void ngx_http_collab_gate_free(ngx_http_collab_gate_check_t *k);
static void ngx_http_collab_gate_ready(ngx_http_collab_access_wait_t *w);
static void ngx_http_collab_gate_retry(ngx_event_t *ev);
static void ngx_http_collab_gate_recheck(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc);
static void ngx_http_collab_gate_rechecked(ngx_http_collab_access_wait_t *w);
static void ngx_http_collab_gate_revoke(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc);


void
ngx_http_collab_session_access_init(ngx_http_collab_session_t *s)
{
    ngx_queue_init(&s->access_checks);

    s->access_retry.handler = ngx_http_collab_gate_retry;
    s->access_retry.data = s;
    s->access_retry.log = s->ws->connection->log;
    s->access_retry.cancelable = 1;
}


void
ngx_http_collab_session_access_close(ngx_http_collab_session_t *s)
{
    ngx_queue_t  *q;

    while (!ngx_queue_empty(&s->access_checks)) {
        q = ngx_queue_head(&s->access_checks);
        ngx_http_collab_gate_free(
            ngx_queue_data(q, ngx_http_collab_gate_check_t, sq));
    }

    s->access_pending = 0;

    if (s->access_retry.timer_set) {
        ngx_del_timer(&s->access_retry);
    }
}


ngx_uint_t
ngx_http_collab_session_access_waiting(ngx_http_collab_session_t *s)
{
    return s->access_pending || s->access_retry.timer_set;
}


ngx_int_t
ngx_http_collab_session_gate(ngx_http_collab_session_t *s,
    collab_msg_t *msg, u_char *data, size_t len)
{
    int                           has_v;
    uint64_t                      v;
    ngx_int_t                     rc, waits, away;
    ngx_str_t                     c, d;
    ngx_uint_t                    need, i, n, bulk;
    collab_msg_str_t              id;
    ngx_http_collab_loc_conf_t   *clcf;
    ngx_http_collab_main_conf_t  *cmcf;

    clcf = s->ws->conf;

    if (!clcf->auth.enabled || s->admin) {
        return NGX_OK;
    }

    if (ngx_http_collab_gate_need(msg, &need, &c, &d) != NGX_OK) {
        ngx_http_collab_session_error(s, msg, NGX_HTTP_COLLAB_ERR_FORBIDDEN,
                                      "Presence channels are per document "
                                      "(\"<collection>.<id>\") when signed "
                                      "in");
        return NGX_DONE;
    }

    if (need == NGX_HTTP_COLLAB_ROLE_NONE
        || ngx_http_collab_access_quick(clcf, s->admin, &c, need) == NGX_OK)
    {
        return NGX_OK;
    }

    bulk = (msg->action == COLLAB_MSG_A_BS || msg->action == COLLAB_MSG_A_BF);
    n = bulk ? msg->nb : 1;

    waits = 0;
    away = 0;

    for (i = 0; i < n; i++) {
        if (bulk) {
            collab_msg_bulk_item(msg, i, &id, &v, &has_v);
            d.data = (u_char *) id.data;
            d.len = id.len;
        }

        rc = ngx_http_collab_gate_doc(s, msg, &c, &d, need);

        if (rc == NGX_AGAIN) {
            waits++;
            continue;
        }

        if (rc == NGX_DECLINED) {
            away++;
            continue;
        }

        if (rc == NGX_OK) {
            continue;
        }

        /* refused, or out of memory: what was started for it is moot */
        ngx_http_collab_gate_cancel(s);

        if (rc == NGX_ERROR) {
            ngx_http_collab_ws_close(s->ws, 1011, "out of memory");
            return NGX_DONE;
        }

        ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                      "collab: \"%V\" may not %s \"%V\" in \"%V\"",
                      &s->principal,
                      need >= NGX_HTTP_COLLAB_ROLE_EDITOR ? "change"
                                                          : "read",
                      &d, &c);

        ngx_http_collab_session_error(s, msg, NGX_HTTP_COLLAB_ERR_FORBIDDEN,
                                      need >= NGX_HTTP_COLLAB_ROLE_OWNER
                                      ? "Only the document's owner may do "
                                        "that"
                                      : need >= NGX_HTTP_COLLAB_ROLE_EDITOR
                                      ? "You may not change this document"
                                      : "You may not read this document");
        return NGX_DONE;
    }

    if (waits) {
        s->access_pending = waits;
        ngx_http_collab_session_hold_first(s, data, len);
        return NGX_DONE;
    }

    if (away == 0) {
        s->access_since = 0;
        return NGX_OK;
    }

    /* PostgreSQL is away: wait as a commit would, then say so */
    cmcf = ngx_http_collab_doc_worker.cmcf;

    if (s->access_since == 0) {
        s->access_since = ngx_current_msec;
    }

    if (ngx_current_msec - s->access_since < cmcf->commit_wait) {
        ngx_add_timer(&s->access_retry, NGX_HTTP_COLLAB_ACCESS_RETRY);
        ngx_http_collab_session_hold_first(s, data, len);
        return NGX_DONE;
    }

    s->access_since = 0;

    ngx_http_collab_session_error(s, msg, COLLAB_MSG_ERR_UNKNOWN,
                                  "Database unavailable: the document's "
                                  "roles cannot be read");
    return NGX_DONE;
}


/*
 * Roles changed for (c, d) (NULL: all): the subscriptions of this
 * worker's sessions to what changed are checked again.
 */
void
ngx_http_collab_session_access_changed(ngx_str_t *c, ngx_str_t *d)
{
    ngx_http_collab_session_access_recheck(c, d, NULL);
}


/* the same for one session only (NULL: all), whose token changed */
void
ngx_http_collab_session_access_recheck(ngx_str_t *c, ngx_str_t *d,
    ngx_http_collab_session_t *only)
{
    ngx_queue_t                *q, *sq, *next;
    ngx_http_collab_doc_t      *doc;
    ngx_http_collab_doc_sub_t  *ds;
    ngx_http_collab_session_t  *s;

    if (ngx_http_collab_doc_worker.all.next == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_collab_doc_worker.all);
         q != ngx_queue_sentinel(&ngx_http_collab_doc_worker.all);
         q = ngx_queue_next(q))
    {
        doc = ngx_queue_data(q, ngx_http_collab_doc_t, all);

        if (c && (doc->c.len != c->len
                  || ngx_memcmp(doc->c.data, c->data, c->len) != 0))
        {
            continue;
        }

        if (d && (doc->d.len != d->len
                  || ngx_memcmp(doc->d.data, d->data, d->len) != 0))
        {
            continue;
        }

        for (sq = ngx_queue_head(&doc->subs);
             sq != ngx_queue_sentinel(&doc->subs);
             sq = next)
        {
            /* a cached answer may drop it at once */
            next = ngx_queue_next(sq);
            ds = ngx_queue_data(sq, ngx_http_collab_doc_sub_t, dq);
            s = ds->ws ? ds->ws->session : NULL;

            if (s && (only == NULL || s == only)
                && s->ws->conf->auth.enabled && !s->admin)
            {
                ngx_http_collab_gate_recheck(s, doc);
            }
        }
    }
}


/* what the message needs, on which document (c, d; d unset for bulk) */
static ngx_int_t
ngx_http_collab_gate_need(collab_msg_t *msg, ngx_uint_t *need,
    ngx_str_t *c, ngx_str_t *d)
{
    u_char  *dot;

    c->data = (u_char *) msg->c.data;
    c->len = msg->c.len;
    d->data = (u_char *) msg->d.data;
    d->len = msg->d.len;

    switch (msg->action) {

    case COLLAB_MSG_A_S:
    case COLLAB_MSG_A_F:
    case COLLAB_MSG_A_BS:
    case COLLAB_MSG_A_BF:
        *need = NGX_HTTP_COLLAB_ROLE_VIEWER;
        return NGX_OK;

    case COLLAB_MSG_A_NF:
        *need = NGX_HTTP_COLLAB_ROLE_EDITOR;
        return NGX_OK;

    case COLLAB_MSG_A_OP:
        *need = (msg->kind == COLLAB_MSG_OP_DEL) ? NGX_HTTP_COLLAB_ROLE_OWNER
                                                 : NGX_HTTP_COLLAB_ROLE_EDITOR;
        return NGX_OK;

    case COLLAB_MSG_A_P:
    case COLLAB_MSG_A_PS:
    case COLLAB_MSG_A_PU:
    case COLLAB_MSG_A_PR:
        /* sharedb's doc presence channel: "<collection>.<id>" */
        *need = NGX_HTTP_COLLAB_ROLE_VIEWER;

        dot = msg->ch.data ? ngx_strlchr((u_char *) msg->ch.data,
                                         (u_char *) msg->ch.data
                                         + msg->ch.len, '.')
                           : NULL;
        if (dot == NULL) {
            return NGX_DECLINED;
        }

        c->data = (u_char *) msg->ch.data;
        c->len = dot - c->data;
        d->data = dot + 1;
        d->len = msg->ch.len - c->len - 1;
        return NGX_OK;

    default:
        /* hs, pp, u, bu, nt, queries: nothing of a document is read */
        *need = NGX_HTTP_COLLAB_ROLE_NONE;
        return NGX_OK;
    }
}


/*
 * One document: NGX_OK allowed, NGX_ABORT refused, NGX_AGAIN a lookup
 * is out, NGX_DECLINED PostgreSQL away, NGX_ERROR out of memory.
 */
static ngx_int_t
ngx_http_collab_gate_doc(ngx_http_collab_session_t *s, collab_msg_t *msg,
    ngx_str_t *c, ngx_str_t *d, ngx_uint_t need)
{
    ngx_int_t                      rc;
    ngx_uint_t                     role;
    ngx_http_collab_access_t       a;
    ngx_http_collab_gate_check_t  *k;

    k = ngx_http_collab_gate_check(s, NULL);
    if (k == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_collab_access_lookup(c, d, &s->principal, &a, &k->w);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    ngx_http_collab_gate_free(k);

    if (rc != NGX_OK) {
        return rc;
    }

    /*
     * A document nobody made yet: anyone signed in reads it or makes it.
     * Nobody edits it: the op would fail, or, if someone created it
     * meanwhile, land in a document that is not theirs.
     */
    if (!a.exists) {
        return (need <= NGX_HTTP_COLLAB_ROLE_VIEWER
                || (msg->action == COLLAB_MSG_A_OP
                    && msg->kind == COLLAB_MSG_OP_CREATE))
               ? NGX_OK : NGX_ABORT;
    }

    role = ngx_http_collab_access_role(s->ws->conf, c, a.role);

    return (role >= need) ? NGX_OK : NGX_ABORT;
}


static ngx_http_collab_gate_check_t *
ngx_http_collab_gate_check(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc)
{
    ngx_http_collab_gate_check_t  *k;

    k = ngx_alloc(sizeof(ngx_http_collab_gate_check_t),
                  s->ws->connection->log);
    if (k == NULL) {
        return NULL;
    }

    k->w.entry = NULL;
    k->w.handler = doc ? ngx_http_collab_gate_rechecked
                       : ngx_http_collab_gate_ready;
    k->w.data = k;
    k->s = s;
    k->doc = doc;

    /* a document without subscribers may go while its check is out */
    if (doc) {
        ngx_http_collab_doc_ref(doc);
    }

    ngx_queue_insert_tail(&s->access_checks, &k->sq);

    return k;
}


static void
ngx_http_collab_gate_free(ngx_http_collab_gate_check_t *k)
{
    ngx_http_collab_access_cancel(&k->w);
    ngx_queue_remove(&k->sq);

    if (k->doc) {
        ngx_http_collab_doc_unref(k->doc);
    }

    ngx_free(k);
}


/* the lookups started for the message at the gate (not the re-checks) */
static void
ngx_http_collab_gate_cancel(ngx_http_collab_session_t *s)
{
    ngx_queue_t                   *q, *next;
    ngx_http_collab_gate_check_t  *k;

    for (q = ngx_queue_head(&s->access_checks);
         q != ngx_queue_sentinel(&s->access_checks);
         q = next)
    {
        next = ngx_queue_next(q);
        k = ngx_queue_data(q, ngx_http_collab_gate_check_t, sq);

        if (k->doc == NULL) {
            ngx_http_collab_gate_free(k);
        }
    }

    s->access_pending = 0;
}


/* one lookup of the held message is over: the last one releases it */
static void
ngx_http_collab_gate_ready(ngx_http_collab_access_wait_t *w)
{
    ngx_http_collab_gate_check_t  *k = w->data;

    ngx_http_collab_session_t  *s;

    s = k->s;
    ngx_http_collab_gate_free(k);

    if (s->access_pending && --s->access_pending == 0) {
        ngx_http_collab_session_release(s);
    }
}


static void
ngx_http_collab_gate_retry(ngx_event_t *ev)
{
    ngx_http_collab_session_release(ev->data);
}


static void
ngx_http_collab_gate_recheck(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc)
{
    ngx_int_t                      rc;
    ngx_http_collab_access_t       a;
    ngx_http_collab_gate_check_t  *k;

    if (ngx_http_collab_access_quick(s->ws->conf, s->admin, &doc->c,
                                     NGX_HTTP_COLLAB_ROLE_VIEWER)
        == NGX_OK)
    {
        return;
    }

    k = ngx_http_collab_gate_check(s, doc);
    if (k == NULL) {
        return;
    }

    rc = ngx_http_collab_access_lookup(&doc->c, &doc->d, &s->principal, &a,
                                       &k->w);
    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_collab_gate_free(k);

    if (rc == NGX_OK && a.exists
        && ngx_http_collab_access_role(s->ws->conf, &doc->c, a.role)
           < NGX_HTTP_COLLAB_ROLE_VIEWER)
    {
        ngx_http_collab_gate_revoke(s, doc);
    }
}


static void
ngx_http_collab_gate_rechecked(ngx_http_collab_access_wait_t *w)
{
    ngx_http_collab_gate_check_t  *k = w->data;

    /* the answer is cached now; k keeps the document meanwhile */
    ngx_http_collab_gate_recheck(k->s, k->doc);
    ngx_http_collab_gate_free(k);
}


/* the subscription to doc goes, if the session still has it */
static void
ngx_http_collab_gate_revoke(ngx_http_collab_session_t *s,
    ngx_http_collab_doc_t *doc)
{
    ngx_http_collab_doc_sub_t  *ds;

    ds = ngx_http_collab_session_sub(s, doc);
    if (ds == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, s->ws->connection->log, 0,
                  "collab: \"%V\" may no longer read \"%V\": unsubscribed",
                  &s->principal, &doc->d);

    ngx_queue_remove(&ds->sq);
    ngx_http_collab_doc_unsubscribe(ds);
    ngx_free(ds);
    s->nsubs--;
}

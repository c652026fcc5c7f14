/*
 * Member statements.  Every statement answers the same columns: document
 * found, user found, done, then a member (id, principal, name, role,
 * granted_by, granted_at in ms) or NULLs; one parser reads them all.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_pg.h"
#include "store/ngx_http_collab_store.h"
#include "store/ngx_http_collab_store_int.h"
#include "store/ngx_http_collab_store_members.h"


#define NGX_HTTP_COLLAB_MEMBER_MS(t)                                         \
    "(extract(epoch FROM " t ") * 1000)::bigint"

/* the document, locked: member writes of one document go one at a time */
#define NGX_HTTP_COLLAB_MEMBER_DOC                                           \
    "WITH d AS (SELECT id FROM collab_docs"                                  \
    "           WHERE collection = $1 AND name = $2 FOR NO KEY UPDATE),"


static ngx_http_collab_pg_stmt_t  ngx_http_collab_store_members_table[] = {

    /* NGX_HTTP_COLLAB_STMT_MEMBERS: no row without the document */
    { "collab_members",
      "WITH d AS (SELECT id FROM collab_docs"
      "           WHERE collection = $1 AND name = $2) "
      "SELECT true, true, false, u.id, u.principal, u.name, m.role,"
      "       m.granted_by, " NGX_HTTP_COLLAB_MEMBER_MS("m.granted_at")
      " FROM d LEFT JOIN collab_members m ON m.doc = d.id"
      " LEFT JOIN collab_users u ON u.id = m.user_id"
      " ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1"
      "          WHEN 'commenter' THEN 2 ELSE 3 END, u.id",
      2 },

    /* _MEMBER_PUT: the owner's row is left alone (checked once locked) */
    { "collab_member_put",
      NGX_HTTP_COLLAB_MEMBER_DOC
      " u AS (SELECT id, principal, name FROM collab_users WHERE id = $3),"
      " w AS ("
      "  INSERT INTO collab_members (doc, user_id, role, granted_by)"
      "  SELECT d.id, u.id, $4,"
      "         (SELECT g.id FROM collab_users g WHERE g.principal = $5)"
      "  FROM d, u"
      "  ON CONFLICT (doc, user_id) DO UPDATE"
      "  SET role = EXCLUDED.role, granted_by = EXCLUDED.granted_by,"
      "      granted_at = now()"
      "  WHERE collab_members.role <> 'owner'"
      "  RETURNING user_id, role, granted_by, granted_at,"
      "            xmax = 0 AS added) "
      "SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1 FROM u),"
      "       coalesce(w.added, false), u.id, u.principal, u.name, w.role,"
      "       w.granted_by, " NGX_HTTP_COLLAB_MEMBER_MS("w.granted_at")
      " FROM (SELECT 1) one LEFT JOIN w ON true"
      " LEFT JOIN u ON u.id = w.user_id",
      5 },

    /* _MEMBER_DEL */
    { "collab_member_del",
      NGX_HTTP_COLLAB_MEMBER_DOC
      " m AS (SELECT m.role FROM collab_members m, d"
      "       WHERE m.doc = d.id AND m.user_id = $3),"
      " x AS (DELETE FROM collab_members m USING d"
      "       WHERE m.doc = d.id AND m.user_id = $3 AND m.role <> 'owner'"
      "       RETURNING 1) "
      "SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1 FROM m),"
      "       EXISTS (SELECT 1 FROM x), NULL::bigint, NULL::text,"
      "       NULL::text, NULL::text, NULL::bigint, NULL::bigint",
      3 },

    /*
     * _OWNER: the owner before becomes an editor, then (n waits for all
     * of old) the user becomes the owner; the unique index sees the old
     * owner's row as changed by this statement, not as a second owner
     */
    { "collab_owner",
      NGX_HTTP_COLLAB_MEMBER_DOC
      " u AS (SELECT id, principal, name FROM collab_users WHERE id = $3),"
      " old AS (UPDATE collab_members m SET role = 'editor' FROM d, u"
      "         WHERE m.doc = d.id AND m.role = 'owner'"
      "           AND m.user_id <> u.id RETURNING 1),"
      " n AS (SELECT count(*) FROM old),"
      " w AS ("
      "  INSERT INTO collab_members (doc, user_id, role, granted_by)"
      "  SELECT d.id, u.id, 'owner',"
      "         (SELECT g.id FROM collab_users g WHERE g.principal = $4)"
      "  FROM d, u, n"
      "  ON CONFLICT (doc, user_id) DO UPDATE"
      "  SET role = 'owner', granted_by = EXCLUDED.granted_by,"
      "      granted_at = now()"
      "  RETURNING user_id, role, granted_by, granted_at) "
      "SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1 FROM u), true,"
      "       u.id, u.principal, u.name, w.role, w.granted_by, "
      NGX_HTTP_COLLAB_MEMBER_MS("w.granted_at")
      " FROM (SELECT 1) one LEFT JOIN w ON true"
      " LEFT JOIN u ON u.id = w.user_id",
      4 },

    /* _USERS: strpos, not LIKE: q has no wildcards to escape */
    { "collab_users",
      "SELECT true, true, false, id, principal, name, NULL::text,"
      "       NULL::bigint, NULL::bigint"
      " FROM collab_users"
      " WHERE strpos(lower(coalesce(name, '')), lower($1)) > 0"
      "    OR strpos(lower(principal), lower($1)) > 0"
      " ORDER BY lower(coalesce(name, principal)), id LIMIT $2",
      2 }
};


ngx_http_collab_pg_stmt_t *
ngx_http_collab_store_members_stmts(ngx_uint_t *n)
{
    *n = sizeof(ngx_http_collab_store_members_table)
         / sizeof(ngx_http_collab_pg_stmt_t);

    return ngx_http_collab_store_members_table;
}


ngx_int_t
ngx_http_collab_store_members(ngx_str_t *collection, ngx_str_t *doc,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_MEMBERS,
                                    collection->len + doc->len + 2,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_member_put(ngx_str_t *collection, ngx_str_t *doc,
    int64_t user, ngx_str_t *role, ngx_str_t *principal,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_MEMBER_PUT,
                                    collection->len + doc->len
                                    + NGX_INT64_LEN + role->len
                                    + principal->len + 5,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_int(ctx, 2, user);
    ngx_http_collab_store_text(ctx, 3, role);
    ngx_http_collab_store_text(ctx, 4, principal);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_member_del(ngx_str_t *collection, ngx_str_t *doc,
    int64_t user, ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_MEMBER_DEL,
                                    collection->len + doc->len
                                    + NGX_INT64_LEN + 3,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_int(ctx, 2, user);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_owner(ngx_str_t *collection, ngx_str_t *doc,
    int64_t user, ngx_str_t *principal,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_OWNER,
                                    collection->len + doc->len
                                    + NGX_INT64_LEN + principal->len + 4,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_int(ctx, 2, user);
    ngx_http_collab_store_text(ctx, 3, principal);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_users(ngx_str_t *q, ngx_uint_t limit,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_USERS,
                                    q->len + NGX_INT64_LEN + 2,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, q);
    ngx_http_collab_store_int(ctx, 1, (int64_t) limit);

    return ngx_http_collab_store_send(ctx);
}


ngx_http_collab_store_result_t *
ngx_http_collab_store_members_result(PGresult *res)
{
    int                              row, nrows;
    u_char                          *p;
    ngx_uint_t                       n;
    ngx_http_collab_store_member_t  *m;
    ngx_http_collab_store_result_t  *r;

    nrows = PQntuples(res);

    /* the members ride in the space reserved for ops (an op is larger) */
    r = ngx_http_collab_store_result(res, nrows, 0, &p);
    if (r == NULL) {
        return NULL;
    }

    m = (ngx_http_collab_store_member_t *) r->ops;
    r->ops = NULL;
    r->nops = 0;
    r->members = m;

    if (nrows) {
        r->exists = ngx_http_collab_store_get_bool(res, 0, 0);
        r->user_found = ngx_http_collab_store_get_bool(res, 0, 1);
        r->done = ngx_http_collab_store_get_bool(res, 0, 2);
    }

    n = 0;

    for (row = 0; row < nrows; row++) {
        if (PQgetisnull(res, row, 3)) {
            continue;
        }

        m[n].id = ngx_http_collab_store_get_int(res, row, 3);
        ngx_http_collab_store_copy(&p, res, row, 4, &m[n].principal);
        ngx_http_collab_store_copy(&p, res, row, 5, &m[n].name);
        ngx_http_collab_store_copy(&p, res, row, 6, &m[n].role);
        m[n].granted_by = ngx_http_collab_store_get_int(res, row, 7);
        m[n].granted_at = ngx_http_collab_store_get_int(res, row, 8);
        n++;
    }

    r->nmembers = n;

    return r;
}

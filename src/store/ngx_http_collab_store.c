/*
 * Document statements.  Each call builds one heap block holding the pool
 * request, the callback and copies of its parameters; op batches travel as
 * binary arrays (no quoting of op JSON) and are unnested by the server into
 * one multi-row INSERT, together with the guarded head UPDATE, in a single
 * statement (one implicit transaction, one round trip).
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_pg.h"
#include "store/ngx_http_collab_store.h"
#include "store/ngx_http_collab_store_int.h"


/* op columns shared by the ops and find statements, after doc columns */
#define NGX_HTTP_COLLAB_OP_COLUMNS                                           \
    "o.version, o.src, o.seq, o.kind, o.op, o.create_type, o.create_data, "  \
    "o.principal, (extract(epoch FROM o.created_at) * 1000)::bigint"


static ngx_http_collab_pg_stmt_t  ngx_http_collab_store_stmts[] = {

    /* row 0: the doc and its latest snapshot; then the ops after it */
    { "collab_load",
      "WITH d AS (SELECT id, type, version, deleted FROM collab_docs"
      "           WHERE collection = $1 AND name = $2),"
      " s AS (SELECT sn.version, sn.type, sn.data"
      "       FROM collab_snapshots sn, d WHERE sn.doc = d.id"
      "       ORDER BY sn.version DESC LIMIT 1) "
      "SELECT 0 AS r, d.version AS v, NULL::text, s.version, NULL::text,"
      "       s.data, d.type, s.type, d.deleted"
      " FROM d LEFT JOIN s ON true "
      "UNION ALL "
      "SELECT 1, o.version, o.src, o.seq, o.kind, o.op, o.create_type,"
      "       o.create_data, NULL"
      " FROM d JOIN collab_ops o ON o.doc = d.id"
      " WHERE o.version > coalesce((SELECT version FROM s), 0) "
      "ORDER BY 1, 2",
      2 },

    { "collab_ops",
      "SELECT d.version, d.deleted, d.type, " NGX_HTTP_COLLAB_OP_COLUMNS
      " FROM collab_docs d LEFT JOIN collab_ops o"
      "  ON o.doc = d.id AND o.version >= $3 AND o.version < $4"
      " WHERE d.collection = $1 AND d.name = $2"
      " ORDER BY o.version LIMIT $5",
      5 },

    /*
     * the UPDATE matches nothing when the head moved (another writer won,
     * or our lock was stale): then nothing is inserted either; the last
     * column is the head as it was when the statement started
     */
    { "collab_commit",
      "WITH head AS ("
      "  UPDATE collab_docs SET version = $4, updated_at = now(),"
      "         deleted = coalesce($5::boolean, deleted),"
      "         type = coalesce($6::text, type)"
      "  WHERE collection = $1 AND name = $2 AND version = $3"
      "  RETURNING id),"
      " ins AS ("
      "  INSERT INTO collab_ops (doc, version, src, seq, kind, op,"
      "                          create_type, create_data, principal)"
      "  SELECT head.id, $3 + u.n, u.src, u.seq, u.kind, u.op, u.ctype,"
      "         u.cdata, u.principal"
      "  FROM head, unnest($7::text[], $8::bigint[], $9::text[],"
      "                    $10::text[], $11::text[], $12::text[],"
      "                    $13::text[])"
      "       WITH ORDINALITY AS u(src, seq, kind, op, ctype, cdata,"
      "                            principal, n)"
      "  RETURNING 1) "
      "SELECT (SELECT count(*) FROM head), (SELECT count(*) FROM ins),"
      "       (SELECT version FROM collab_docs"
      "        WHERE collection = $1 AND name = $2)",
      13 },

    /* after a (src, seq) violation: which batch entry, at what version */
    { "collab_dup",
      "SELECT u.i, o.version FROM collab_docs d"
      " CROSS JOIN unnest($3::text[], $4::bigint[])"
      "            WITH ORDINALITY AS u(src, seq, i)"
      " JOIN collab_ops o"
      "  ON o.doc = d.id AND o.src = u.src AND o.seq = u.seq"
      " WHERE d.collection = $1 AND d.name = $2"
      " ORDER BY u.i LIMIT 1",
      4 },

    { "collab_create",
      "WITH d AS ("
      "  INSERT INTO collab_docs (collection, name, type, version)"
      "  VALUES ($1, $2, $3, 1)"
      "  ON CONFLICT (collection, name) DO NOTHING RETURNING id),"
      " ins AS ("
      "  INSERT INTO collab_ops (doc, version, src, seq, kind,"
      "                          create_type, create_data, principal)"
      "  SELECT id, 1, $4, $5, 'create', $3, $6, $7 FROM d"
      "  RETURNING 1),"
      /* its creator owns it, in the same transaction (sql/002) */
      " u AS ("
      "  INSERT INTO collab_users (principal)"
      "  SELECT $7 FROM d WHERE $7 <> ''"
      "  ON CONFLICT (principal) DO UPDATE SET last_seen = now()"
      "  RETURNING id),"
      " own AS ("
      "  INSERT INTO collab_members (doc, user_id, role)"
      "  SELECT d.id, u.id, 'owner' FROM d, u) "
      "SELECT count(*) FROM ins",
      7 },

    { "collab_find",
      "SELECT d.version, d.deleted, d.type, " NGX_HTTP_COLLAB_OP_COLUMNS
      " FROM collab_docs d JOIN collab_ops o"
      "  ON o.doc = d.id AND o.src = $3 AND o.seq = $4"
      " WHERE d.collection = $1 AND d.name = $2",
      4 },

    { "collab_snapshot",
      "INSERT INTO collab_snapshots (doc, version, type, data)"
      " SELECT id, $3, $4, $5 FROM collab_docs"
      " WHERE collection = $1 AND name = $2"
      " ON CONFLICT (doc, version) DO NOTHING",
      5 },

    { "collab_heads",
      "SELECT coalesce(d.version, 0), coalesce(d.deleted, false)"
      " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(c, n, i)"
      " LEFT JOIN collab_docs d ON d.collection = u.c AND d.name = u.n"
      " ORDER BY u.i",
      2 },

    { "collab_list",
      "SELECT name, version, type,"
      "       (extract(epoch FROM updated_at) * 1000)::bigint"
      " FROM collab_docs d WHERE collection = $1 AND NOT deleted"
      "  AND ($3 = '' OR EXISTS ("
      "       SELECT 1 FROM collab_members m"
      "       JOIN collab_users u ON u.id = m.user_id"
      "       WHERE m.doc = d.id AND u.principal = $3))"
      " ORDER BY updated_at DESC, name LIMIT $2",
      3 },

    /*
     * the batches of several documents in one transaction: a document
     * whose head moved updates nothing and gets no rows; one row per
     * batch says whether it went in (the heads result shape)
     */
    { "collab_commit_multi",
      "WITH d AS ("
      "  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[],"
      "                       $4::bigint[])"
      "         WITH ORDINALITY AS d(collection, name, base, head, i)),"
      " head AS ("
      "  UPDATE collab_docs c SET version = d.head, updated_at = now()"
      "  FROM d WHERE c.collection = d.collection AND c.name = d.name"
      "           AND c.version = d.base"
      "  RETURNING c.id, d.i, d.base),"
      " ins AS ("
      "  INSERT INTO collab_ops (doc, version, src, seq, kind, op,"
      "                          principal)"
      "  SELECT head.id, head.base + u.n, u.src, u.seq, 'op', u.op,"
      "         u.principal"
      "  FROM unnest($5::bigint[], $6::bigint[], $7::text[],"
      "              $8::bigint[], $9::text[], $10::text[])"
      "       AS u(di, n, src, seq, op, principal)"
      "  JOIN head ON head.i = u.di"
      "  RETURNING 1) "
      "SELECT (h.i IS NOT NULL)::int::bigint, false,"
      "       (SELECT count(*) FROM ins)"
      " FROM d LEFT JOIN head h ON h.i = d.i ORDER BY d.i",
      10 },

    /* readiness (collab_health ready) */
    { "collab_ping", "SELECT 1", 0 },

    /* whether the document exists, and the principal's role on it */
    { "collab_access",
      "SELECT d.id IS NOT NULL, coalesce(d.deleted, false),"
      "       CASE m.role WHEN 'viewer' THEN 1 WHEN 'commenter' THEN 2"
      "                   WHEN 'editor' THEN 3 WHEN 'owner' THEN 4"
      "                   ELSE 0 END"
      " FROM (SELECT 1) one"
      " LEFT JOIN collab_docs d ON d.collection = $1 AND d.name = $2"
      " LEFT JOIN collab_users u ON u.principal = $3"
      " LEFT JOIN collab_members m ON m.doc = d.id AND m.user_id = u.id",
      3 },

    { "collab_user_seen",
      "INSERT INTO collab_users (principal, iss, sub, name, email)"
      " VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''))"
      " ON CONFLICT (principal) DO UPDATE"
      " SET last_seen = now(), iss = EXCLUDED.iss, sub = EXCLUDED.sub,"
      "     name = coalesce(EXCLUDED.name, collab_users.name),"
      "     email = coalesce(EXCLUDED.email, collab_users.email)",
      5 },

    /* the built-in sign-in: the hash to check, and the name to show */
    { "collab_login_get",
      "SELECT l.password_hash, coalesce(u.name, '')"
      " FROM collab_logins l JOIN collab_users u ON u.id = l.user_id"
      " WHERE l.username = $1",
      1 },

    /* sign-up: nothing when the name (or its principal) is taken */
    { "collab_login_add",
      "WITH u AS ("
      "  INSERT INTO collab_users (principal, iss, sub, name)"
      "  VALUES ($1, $2, $3, nullif($4, ''))"
      "  ON CONFLICT (principal) DO NOTHING RETURNING id) "
      "INSERT INTO collab_logins (username, user_id, password_hash)"
      " SELECT $3, id, $5 FROM u"
      " ON CONFLICT (username) DO NOTHING RETURNING 1",
      5 }
};


static void ngx_http_collab_store_array(ngx_http_collab_store_ctx_t *ctx,
    ngx_uint_t oid, ngx_uint_t n);
static void ngx_http_collab_store_elem_text(ngx_http_collab_store_ctx_t *ctx,
    ngx_str_t *s);
static void ngx_http_collab_store_elem_int(ngx_http_collab_store_ctx_t *ctx,
    int64_t v);
static void ngx_http_collab_store_array_end(ngx_http_collab_store_ctx_t *ctx,
    ngx_uint_t i);
static u_char *ngx_http_collab_store_be32(u_char *p, uint32_t v);
static void ngx_http_collab_store_done(ngx_http_collab_pg_req_t *req,
    ngx_int_t rc, PGresult *res);
static ngx_int_t ngx_http_collab_store_commit_done(
    ngx_http_collab_store_ctx_t *ctx, PGresult *res,
    ngx_http_collab_store_result_t **out);
static ngx_int_t ngx_http_collab_store_sql_error(
    ngx_http_collab_store_ctx_t *ctx, PGresult *res);
static ngx_uint_t ngx_http_collab_store_kind(PGresult *res, int row,
    int col);
static ngx_http_collab_store_result_t *ngx_http_collab_store_load_result(
    PGresult *res);
static ngx_http_collab_store_result_t *ngx_http_collab_store_ops_result(
    PGresult *res);
static ngx_http_collab_store_result_t *ngx_http_collab_store_heads_result(
    PGresult *res);
static ngx_http_collab_store_result_t *ngx_http_collab_store_list_result(
    PGresult *res);


static ngx_str_t  ngx_http_collab_store_kinds[] = {
    ngx_null_string,
    ngx_string("create"),
    ngx_string("op"),
    ngx_string("del")
};


ngx_http_collab_pg_stmt_t *
ngx_http_collab_store_statements(ngx_uint_t *n)
{
    ngx_uint_t  i;

    static ngx_http_collab_pg_stmt_t  all[NGX_HTTP_COLLAB_STMT_N];

    for (i = 0; i < NGX_HTTP_COLLAB_STMT_N; i++) {
        all[i] = *ngx_http_collab_store_stmt(i);
    }

    *n = NGX_HTTP_COLLAB_STMT_N;

    return all;
}


ngx_http_collab_pg_stmt_t *
ngx_http_collab_store_stmt(ngx_uint_t i)
{
    ngx_uint_t  n;

    if (i < NGX_HTTP_COLLAB_STMT_MEMBERS) {
        return &ngx_http_collab_store_stmts[i];
    }

    return &ngx_http_collab_store_members_stmts(&n)[i
                                          - NGX_HTTP_COLLAB_STMT_MEMBERS];
}


ngx_int_t
ngx_http_collab_store_load(ngx_str_t *collection, ngx_str_t *doc,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_LOAD,
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
ngx_http_collab_store_ops(ngx_str_t *collection, ngx_str_t *doc,
    int64_t from, int64_t to, ngx_uint_t limit,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_OPS,
                                    collection->len + doc->len + 2
                                    + 3 * (NGX_INT64_LEN + 1),
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_int(ctx, 2, from);
    ngx_http_collab_store_int(ctx, 3,
                              to < 0 ? NGX_HTTP_COLLAB_STORE_INT64_MAX : to);

    if (limit) {
        ngx_http_collab_store_int(ctx, 4, (int64_t) limit);

    } else {
        ngx_http_collab_store_text(ctx, 4, NULL);
    }

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_commit(ngx_str_t *collection, ngx_str_t *doc,
    int64_t base, ngx_http_collab_store_op_t *ops, ngx_uint_t n,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    size_t                        size;
    ngx_int_t                     deleted;
    ngx_str_t                     t, *type;
    ngx_uint_t                    i;
    ngx_http_collab_store_ctx_t  *ctx;

    if (n == 0 || base < 0) {
        return NGX_ERROR;
    }

    /* params, 7 array headers, 4 bytes of length per element */
    size = collection->len + doc->len + 2 + 4 * (NGX_INT64_LEN + 1)
           + 7 * 20 + n * (7 * 4 + 8);

    deleted = -1;
    type = NULL;

    for (i = 0; i < n; i++) {
        size += ops[i].src.len + ops[i].op.len + ops[i].create_type.len
                + ops[i].create_data.len + ops[i].principal.len + 8;

        if (ops[i].kind == NGX_HTTP_COLLAB_STORE_DEL) {
            deleted = 1;

        } else if (ops[i].kind == NGX_HTTP_COLLAB_STORE_CREATE) {
            deleted = 0;
            type = &ops[i].create_type;

        } else if (ops[i].kind != NGX_HTTP_COLLAB_STORE_OP) {
            return NGX_ERROR;
        }
    }

    if (type) {
        size += type->len + 1;
    }

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_COMMIT, size,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->n = n;
    ctx->base = base;

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_int(ctx, 2, base);
    ngx_http_collab_store_int(ctx, 3, base + (int64_t) n);

    if (deleted == -1) {
        ngx_http_collab_store_text(ctx, 4, NULL);

    } else {
        ngx_str_set(&t, "f");
        if (deleted) {
            ngx_str_set(&t, "t");
        }
        ngx_http_collab_store_text(ctx, 4, &t);
    }

    ngx_http_collab_store_text(ctx, 5, type);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx, &ops[i].src);
    }
    ngx_http_collab_store_array_end(ctx, 6);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_INT8OID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_int(ctx, ops[i].seq);
    }
    ngx_http_collab_store_array_end(ctx, 7);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx,
                                  &ngx_http_collab_store_kinds[ops[i].kind]);
    }
    ngx_http_collab_store_array_end(ctx, 8);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx,
                      ops[i].kind == NGX_HTTP_COLLAB_STORE_OP ? &ops[i].op
                                                               : NULL);
    }
    ngx_http_collab_store_array_end(ctx, 9);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx,
                                  ops[i].kind == NGX_HTTP_COLLAB_STORE_CREATE
                                  ? &ops[i].create_type : NULL);
    }
    ngx_http_collab_store_array_end(ctx, 10);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx,
                                  ops[i].kind == NGX_HTTP_COLLAB_STORE_CREATE
                                  ? &ops[i].create_data : NULL);
    }
    ngx_http_collab_store_array_end(ctx, 11);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx, &ops[i].principal);
    }
    ngx_http_collab_store_array_end(ctx, 12);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_commit_multi(ngx_http_collab_store_batch_t *b,
    ngx_uint_t n, ngx_http_collab_store_handler_pt handler, void *data)
{
    size_t                        size;
    ngx_uint_t                    i, j, nops;
    ngx_http_collab_store_op_t   *op;
    ngx_http_collab_store_ctx_t  *ctx;

    if (n == 0) {
        return NGX_ERROR;
    }

    /* 10 array headers, per document 4 elements, per op 6 elements */
    size = 10 * 20 + n * 4 * (4 + 8);
    nops = 0;

    for (i = 0; i < n; i++) {
        if (b[i].n == 0 || b[i].base <= 0) {
            return NGX_ERROR;
        }

        size += b[i].collection.len + b[i].doc.len;
        nops += b[i].n;

        for (j = 0; j < b[i].n; j++) {
            op = &b[i].ops[j];

            if (op->kind != NGX_HTTP_COLLAB_STORE_OP) {
                return NGX_ERROR;
            }

            size += 6 * (4 + 8) + op->src.len + op->op.len
                    + op->principal.len;
        }
    }

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_COMMIT_MULTI, size,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->n = n;

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx, &b[i].collection);
    }
    ngx_http_collab_store_array_end(ctx, 0);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx, &b[i].doc);
    }
    ngx_http_collab_store_array_end(ctx, 1);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_INT8OID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_int(ctx, b[i].base);
    }
    ngx_http_collab_store_array_end(ctx, 2);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_INT8OID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_int(ctx, b[i].base + (int64_t) b[i].n);
    }
    ngx_http_collab_store_array_end(ctx, 3);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_INT8OID, nops);
    for (i = 0; i < n; i++) {
        for (j = 0; j < b[i].n; j++) {
            ngx_http_collab_store_elem_int(ctx, (int64_t) i + 1);
        }
    }
    ngx_http_collab_store_array_end(ctx, 4);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_INT8OID, nops);
    for (i = 0; i < n; i++) {
        for (j = 0; j < b[i].n; j++) {
            ngx_http_collab_store_elem_int(ctx, (int64_t) j + 1);
        }
    }
    ngx_http_collab_store_array_end(ctx, 5);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, nops);
    for (i = 0; i < n; i++) {
        for (j = 0; j < b[i].n; j++) {
            ngx_http_collab_store_elem_text(ctx, &b[i].ops[j].src);
        }
    }
    ngx_http_collab_store_array_end(ctx, 6);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_INT8OID, nops);
    for (i = 0; i < n; i++) {
        for (j = 0; j < b[i].n; j++) {
            ngx_http_collab_store_elem_int(ctx, b[i].ops[j].seq);
        }
    }
    ngx_http_collab_store_array_end(ctx, 7);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, nops);
    for (i = 0; i < n; i++) {
        for (j = 0; j < b[i].n; j++) {
            ngx_http_collab_store_elem_text(ctx, &b[i].ops[j].op);
        }
    }
    ngx_http_collab_store_array_end(ctx, 8);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, nops);
    for (i = 0; i < n; i++) {
        for (j = 0; j < b[i].n; j++) {
            ngx_http_collab_store_elem_text(ctx, &b[i].ops[j].principal);
        }
    }
    ngx_http_collab_store_array_end(ctx, 9);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_create(ngx_str_t *collection, ngx_str_t *doc,
    ngx_http_collab_store_op_t *create,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_CREATE,
                                    collection->len + doc->len
                                    + create->create_type.len
                                    + create->src.len
                                    + create->create_data.len
                                    + create->principal.len
                                    + NGX_INT64_LEN + 7,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_text(ctx, 2, &create->create_type);
    ngx_http_collab_store_text(ctx, 3, &create->src);
    ngx_http_collab_store_int(ctx, 4, create->seq);
    ngx_http_collab_store_text(ctx, 5, &create->create_data);
    ngx_http_collab_store_text(ctx, 6, &create->principal);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_find(ngx_str_t *collection, ngx_str_t *doc,
    ngx_str_t *src, int64_t seq,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_FIND,
                                    collection->len + doc->len + src->len
                                    + NGX_INT64_LEN + 4,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_text(ctx, 2, src);
    ngx_http_collab_store_int(ctx, 3, seq);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_snapshot(ngx_str_t *collection, ngx_str_t *doc,
    int64_t version, ngx_str_t *type, ngx_str_t *text)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_SNAPSHOT,
                                    collection->len + doc->len + type->len
                                    + text->len + NGX_INT64_LEN + 5,
                                    NULL, NULL);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_int(ctx, 2, version);
    ngx_http_collab_store_text(ctx, 3, type);
    ngx_http_collab_store_text(ctx, 4, text);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_heads(ngx_str_t *collections, ngx_str_t *docs,
    ngx_uint_t n, ngx_http_collab_store_handler_pt handler, void *data)
{
    size_t                        size;
    ngx_uint_t                    i;
    ngx_http_collab_store_ctx_t  *ctx;

    size = 2 * 20;
    for (i = 0; i < n; i++) {
        size += collections[i].len + docs[i].len + 8;
    }

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_HEADS, size,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx, &collections[i]);
    }
    ngx_http_collab_store_array_end(ctx, 0);

    ngx_http_collab_store_array(ctx, NGX_HTTP_COLLAB_PG_TEXTOID, n);
    for (i = 0; i < n; i++) {
        ngx_http_collab_store_elem_text(ctx, &docs[i]);
    }
    ngx_http_collab_store_array_end(ctx, 1);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_list(ngx_str_t *collection, ngx_uint_t limit,
    ngx_str_t *member, ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_str_t                     all = ngx_string("");
    ngx_http_collab_store_ctx_t  *ctx;

    if (member == NULL) {
        member = &all;
    }

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_LIST,
                                    collection->len + 1 + NGX_INT64_LEN + 1
                                    + member->len + 1,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_int(ctx, 1, (int64_t) limit);
    ngx_http_collab_store_text(ctx, 2, member);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_access(ngx_str_t *collection, ngx_str_t *doc,
    ngx_str_t *principal, ngx_http_collab_store_handler_pt handler,
    void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_ACCESS,
                                    collection->len + doc->len
                                    + principal->len + 3,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, collection);
    ngx_http_collab_store_text(ctx, 1, doc);
    ngx_http_collab_store_text(ctx, 2, principal);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_login_get(ngx_str_t *username,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_LOGIN_GET,
                                    username->len + 1, handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, username);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_login_add(ngx_str_t *principal, ngx_str_t *iss,
    ngx_str_t *username, ngx_str_t *name, ngx_str_t *hash,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_LOGIN_ADD,
                                    principal->len + iss->len + username->len
                                    + name->len + hash->len + 5,
                                    handler, data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, principal);
    ngx_http_collab_store_text(ctx, 1, iss);
    ngx_http_collab_store_text(ctx, 2, username);
    ngx_http_collab_store_text(ctx, 3, name);
    ngx_http_collab_store_text(ctx, 4, hash);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_user_seen(ngx_str_t *principal, ngx_str_t *iss,
    ngx_str_t *sub, ngx_str_t *name, ngx_str_t *email)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_USER_SEEN,
                                    principal->len + iss->len + sub->len
                                    + name->len + email->len + 5,
                                    NULL, NULL);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_store_text(ctx, 0, principal);
    ngx_http_collab_store_text(ctx, 1, iss);
    ngx_http_collab_store_text(ctx, 2, sub);
    ngx_http_collab_store_text(ctx, 3, name);
    ngx_http_collab_store_text(ctx, 4, email);

    return ngx_http_collab_store_send(ctx);
}


ngx_int_t
ngx_http_collab_store_ping(ngx_http_collab_store_handler_pt handler,
    void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_http_collab_store_ctx(NGX_HTTP_COLLAB_STMT_PING, 0, handler,
                                    data);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_collab_store_send(ctx);
}


void
ngx_http_collab_store_result_free(ngx_http_collab_store_result_t *res)
{
    if (res) {
        ngx_free(res);
    }
}


ngx_http_collab_store_ctx_t *
ngx_http_collab_store_ctx(ngx_uint_t stmt, size_t size,
    ngx_http_collab_store_handler_pt handler, void *data)
{
    ngx_http_collab_store_ctx_t  *ctx;

    ctx = ngx_alloc(sizeof(ngx_http_collab_store_ctx_t) + size,
                    ngx_cycle->log);
    if (ctx == NULL) {
        return NULL;
    }

    ngx_memzero(ctx, sizeof(ngx_http_collab_store_ctx_t));

    ctx->req.stmt = stmt;
    ctx->req.nparams = ngx_http_collab_store_stmt(stmt)->nparams;
    ctx->req.values = ctx->values;
    ctx->req.lengths = ctx->lengths;
    ctx->req.formats = ctx->formats;
    ctx->req.handler = ngx_http_collab_store_done;
    ctx->req.data = ctx;

    ctx->handler = handler;
    ctx->data = data;

    ctx->pos = (u_char *) ctx + sizeof(ngx_http_collab_store_ctx_t);
    ctx->end = ctx->pos + size;

    return ctx;
}


void
ngx_http_collab_store_text(ngx_http_collab_store_ctx_t *ctx, ngx_uint_t i,
    ngx_str_t *s)
{
    if (s == NULL) {
        ctx->values[i] = NULL;
        return;
    }

    /* libpq takes text parameters NUL-terminated */
    ctx->values[i] = (const char *) ctx->pos;
    ctx->lengths[i] = s->len;
    ctx->pos = ngx_cpymem(ctx->pos, s->data, s->len);
    *ctx->pos++ = '\0';
}


void
ngx_http_collab_store_int(ngx_http_collab_store_ctx_t *ctx, ngx_uint_t i,
    int64_t v)
{
    ctx->values[i] = (const char *) ctx->pos;
    ctx->pos = ngx_sprintf(ctx->pos, "%L", v);
    ctx->lengths[i] = (u_char *) ctx->pos - (u_char *) ctx->values[i];
    *ctx->pos++ = '\0';
}


/*
 * The binary array format of array_recv(): ndim, has-null flag, element
 * type, then per dimension its size and lower bound, then for each element
 * a 4-byte length (-1 for NULL) and its bytes.
 */

static void
ngx_http_collab_store_array(ngx_http_collab_store_ctx_t *ctx,
    ngx_uint_t oid, ngx_uint_t n)
{
    ctx->array = ctx->pos;
    ctx->pos = ngx_http_collab_store_be32(ctx->pos, 1);
    ctx->pos = ngx_http_collab_store_be32(ctx->pos, 1);
    ctx->pos = ngx_http_collab_store_be32(ctx->pos, oid);
    ctx->pos = ngx_http_collab_store_be32(ctx->pos, n);
    ctx->pos = ngx_http_collab_store_be32(ctx->pos, 1);
}


static void
ngx_http_collab_store_elem_text(ngx_http_collab_store_ctx_t *ctx,
    ngx_str_t *s)
{
    if (s == NULL) {
        ctx->pos = ngx_http_collab_store_be32(ctx->pos, 0xffffffff);
        return;
    }

    ctx->pos = ngx_http_collab_store_be32(ctx->pos, s->len);
    ctx->pos = ngx_cpymem(ctx->pos, s->data, s->len);
}


static void
ngx_http_collab_store_elem_int(ngx_http_collab_store_ctx_t *ctx, int64_t v)
{
    uint64_t  u;

    u = (uint64_t) v;

    ctx->pos = ngx_http_collab_store_be32(ctx->pos, 8);
    ctx->pos = ngx_http_collab_store_be32(ctx->pos, (uint32_t) (u >> 32));
    ctx->pos = ngx_http_collab_store_be32(ctx->pos, (uint32_t) u);
}


static void
ngx_http_collab_store_array_end(ngx_http_collab_store_ctx_t *ctx,
    ngx_uint_t i)
{
    ctx->values[i] = (const char *) ctx->array;
    ctx->lengths[i] = ctx->pos - ctx->array;
    ctx->formats[i] = 1;
}


static u_char *
ngx_http_collab_store_be32(u_char *p, uint32_t v)
{
    *p++ = (u_char) (v >> 24);
    *p++ = (u_char) (v >> 16);
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return p;
}


ngx_int_t
ngx_http_collab_store_send(ngx_http_collab_store_ctx_t *ctx)
{
    if (ctx->pos > ctx->end) {
        /* a size estimate above is wrong: never send a corrupt request */
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "collab: store parameter overflow in \"%s\"",
                      ngx_http_collab_store_stmt(ctx->req.stmt)->name);
        ngx_free(ctx);
        return NGX_ERROR;
    }

    return ngx_http_collab_pg_send(&ctx->req);
}


static void
ngx_http_collab_store_done(ngx_http_collab_pg_req_t *req, ngx_int_t rc,
    PGresult *res)
{
    u_char                          *p;
    ngx_int_t                        src;
    ExecStatusType                   st;
    ngx_http_collab_store_ctx_t     *ctx;
    ngx_http_collab_store_result_t  *out;

    ctx = req->data;
    out = NULL;

    if (rc == NGX_HTTP_COLLAB_PG_UNAVAILABLE) {
        src = NGX_HTTP_COLLAB_STORE_UNAVAILABLE;
        goto done;
    }

    if (rc != NGX_HTTP_COLLAB_PG_OK) {
        src = NGX_HTTP_COLLAB_STORE_UNKNOWN;
        goto done;
    }

    st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        src = ngx_http_collab_store_sql_error(ctx, res);

        if (src == NGX_DONE) {
            /* the duplicate lookup went out with the same ctx */
            return;
        }

        goto done;
    }

    src = NGX_HTTP_COLLAB_STORE_OK;

    switch (req->stmt) {

    case NGX_HTTP_COLLAB_STMT_LOAD:
        if (PQntuples(res) == 0) {
            src = NGX_HTTP_COLLAB_STORE_NOT_FOUND;
            break;
        }

        out = ngx_http_collab_store_load_result(res);
        break;

    case NGX_HTTP_COLLAB_STMT_OPS:
    case NGX_HTTP_COLLAB_STMT_FIND:
        if (PQntuples(res) == 0) {
            src = NGX_HTTP_COLLAB_STORE_NOT_FOUND;
            break;
        }

        out = ngx_http_collab_store_ops_result(res);
        break;

    case NGX_HTTP_COLLAB_STMT_COMMIT:
        src = ngx_http_collab_store_commit_done(ctx, res, &out);
        break;

    case NGX_HTTP_COLLAB_STMT_DUP:
        if (PQntuples(res) != 1) {
            /* the batch repeated a (src, seq) within itself */
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "collab: commit batch repeats a (src, seq)");
            src = NGX_HTTP_COLLAB_STORE_ERROR;
            break;
        }

        out = ngx_http_collab_store_result(res, 0, 0, NULL);
        if (out) {
            out->dup_index = ngx_http_collab_store_get_int(res, 0, 0) - 1;
            out->dup_version = ngx_http_collab_store_get_int(res, 0, 1);
        }

        src = NGX_HTTP_COLLAB_STORE_DUPLICATE;
        break;

    case NGX_HTTP_COLLAB_STMT_CREATE:
        if (ngx_http_collab_store_get_int(res, 0, 0) != 1) {
            src = NGX_HTTP_COLLAB_STORE_ALREADY_EXISTS;
            break;
        }

        out = ngx_http_collab_store_result(res, 0, 0, NULL);
        if (out) {
            out->version = 1;
        }
        break;

    case NGX_HTTP_COLLAB_STMT_HEADS:
    case NGX_HTTP_COLLAB_STMT_COMMIT_MULTI:
        out = ngx_http_collab_store_heads_result(res);
        break;

    case NGX_HTTP_COLLAB_STMT_LIST:
        out = ngx_http_collab_store_list_result(res);
        break;

    case NGX_HTTP_COLLAB_STMT_LOGIN_GET:
        if (PQntuples(res) != 1) {
            src = NGX_HTTP_COLLAB_STORE_NOT_FOUND;
            break;
        }

        out = ngx_http_collab_store_result(res, 0, 0, &p);
        if (out) {
            ngx_http_collab_store_copy(&p, res, 0, 0, &out->login_hash);
            ngx_http_collab_store_copy(&p, res, 0, 1, &out->login_name);
        }
        break;

    case NGX_HTTP_COLLAB_STMT_LOGIN_ADD:
        if (PQntuples(res) != 1) {
            src = NGX_HTTP_COLLAB_STORE_ALREADY_EXISTS;
            break;
        }

        out = ngx_http_collab_store_result(res, 0, 0, NULL);
        break;

    case NGX_HTTP_COLLAB_STMT_ACCESS:
        if (PQntuples(res) != 1) {
            src = NGX_HTTP_COLLAB_STORE_ERROR;
            break;
        }

        out = ngx_http_collab_store_result(res, 0, 0, NULL);
        if (out) {
            out->exists = ngx_http_collab_store_get_bool(res, 0, 0);
            out->deleted = ngx_http_collab_store_get_bool(res, 0, 1);
            out->role = (ngx_uint_t) ngx_http_collab_store_get_int(res, 0, 2);
        }
        break;

    default: /* NGX_HTTP_COLLAB_STMT_SNAPSHOT, _PING, _USER_SEEN */
        if (req->stmt >= NGX_HTTP_COLLAB_STMT_MEMBERS) {
            out = ngx_http_collab_store_members_result(res);
        }

        break;
    }

    if (out == NULL && (src == NGX_HTTP_COLLAB_STORE_OK
                        || src == NGX_HTTP_COLLAB_STORE_DUPLICATE)
        && req->stmt != NGX_HTTP_COLLAB_STMT_SNAPSHOT
        && req->stmt != NGX_HTTP_COLLAB_STMT_PING
        && req->stmt != NGX_HTTP_COLLAB_STMT_USER_SEEN)
    {
        src = NGX_HTTP_COLLAB_STORE_ERROR;
    }

done:

    if (ctx->handler) {
        ctx->handler(ctx->data, src, out);

    } else {
        if (src != NGX_HTTP_COLLAB_STORE_OK) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "collab: \"%s\" did not complete (%i)",
                          ngx_http_collab_store_stmt(req->stmt)->name, src);
        }

        ngx_http_collab_store_result_free(out);
    }

    ngx_free(ctx);
}


static ngx_int_t
ngx_http_collab_store_commit_done(ngx_http_collab_store_ctx_t *ctx,
    PGresult *res, ngx_http_collab_store_result_t **out)
{
    ngx_http_collab_store_result_t  *r;

    if (PQntuples(res) != 1) {
        return NGX_HTTP_COLLAB_STORE_ERROR;
    }

    if (PQgetisnull(res, 0, 2)) {
        return NGX_HTTP_COLLAB_STORE_NOT_FOUND;
    }

    r = ngx_http_collab_store_result(res, 0, 0, NULL);
    if (r == NULL) {
        return NGX_HTTP_COLLAB_STORE_ERROR;
    }

    *out = r;

    if (ngx_http_collab_store_get_int(res, 0, 0) != 1) {
        r->version = ngx_http_collab_store_get_int(res, 0, 2);
        return NGX_HTTP_COLLAB_STORE_CONFLICT;
    }

    if (ngx_http_collab_store_get_int(res, 0, 1) != (int64_t) ctx->n) {
        /* cannot happen: the INSERT either takes every row or fails */
        return NGX_HTTP_COLLAB_STORE_ERROR;
    }

    r->version = ctx->base + ctx->n;

    return NGX_HTTP_COLLAB_STORE_OK;
}


static ngx_int_t
ngx_http_collab_store_sql_error(ngx_http_collab_store_ctx_t *ctx,
    PGresult *res)
{
    char       *state, *cons;
    ngx_str_t   msg;

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

    if (state && ngx_strcmp(state, "23505") == 0 && cons) {

        if (ngx_strcmp(cons, "collab_ops_pkey") == 0) {
            return NGX_HTTP_COLLAB_STORE_CONFLICT;
        }

        if (ngx_strcmp(cons, "collab_ops_src_seq_key") == 0
            && ctx->req.stmt == NGX_HTTP_COLLAB_STMT_COMMIT)
        {
            /* ask which entry: same collection, doc, srcs and seqs */
            ctx->req.stmt = NGX_HTTP_COLLAB_STMT_DUP;
            ctx->req.nparams = 4;
            ctx->values[2] = ctx->values[6];
            ctx->lengths[2] = ctx->lengths[6];
            ctx->formats[2] = ctx->formats[6];
            ctx->values[3] = ctx->values[7];
            ctx->lengths[3] = ctx->lengths[7];
            ctx->formats[3] = ctx->formats[7];

            (void) ngx_http_collab_pg_send(&ctx->req);
            return NGX_DONE;
        }

        if (ngx_strcmp(cons, "collab_ops_src_seq_key") == 0) {
            return NGX_HTTP_COLLAB_STORE_DUPLICATE;
        }

        /* a concurrent change made another owner first */
        if (ngx_strcmp(cons, "collab_members_one_owner") == 0) {
            return NGX_HTTP_COLLAB_STORE_CONFLICT;
        }
    }

    /* member writes of one document that crossed: none took effect */
    if (state && ngx_strcmp(state, "40P01") == 0
        && ctx->req.stmt >= NGX_HTTP_COLLAB_STMT_MEMBERS)
    {
        return NGX_HTTP_COLLAB_STORE_CONFLICT;
    }

    /* the server is going away or refuses: the statement did not run */
    if (state && (ngx_strncmp(state, "08", 2) == 0
                  || ngx_strncmp(state, "57", 2) == 0
                  || ngx_strncmp(state, "53", 2) == 0))
    {
        return NGX_HTTP_COLLAB_STORE_UNAVAILABLE;
    }

    msg.data = (u_char *) PQresultErrorMessage(res);
    msg.len = ngx_strlen(msg.data);
    while (msg.len && msg.data[msg.len - 1] == '\n') {
        msg.len--;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "collab: postgres statement \"%s\" failed: %V",
                  ngx_http_collab_store_stmt(ctx->req.stmt)->name, &msg);

    return NGX_HTTP_COLLAB_STORE_ERROR;
}


ngx_http_collab_store_result_t *
ngx_http_collab_store_result(PGresult *res, ngx_uint_t nops,
    ngx_uint_t nheads, u_char **strings)
{
    int                              row, col, nrows, ncols;
    u_char                          *p;
    size_t                           size;
    ngx_http_collab_store_result_t  *r;

    nrows = PQntuples(res);
    ncols = PQnfields(res);

    size = sizeof(ngx_http_collab_store_result_t)
           + nops * sizeof(ngx_http_collab_store_op_t)
           + nheads * sizeof(int64_t) + nheads;

    /* every string value gets its own NUL */
    for (row = 0; row < nrows; row++) {
        for (col = 0; col < ncols; col++) {
            size += PQgetlength(res, row, col) + 1;
        }
    }

    r = ngx_alloc(size, ngx_cycle->log);
    if (r == NULL) {
        return NULL;
    }

    ngx_memzero(r, sizeof(ngx_http_collab_store_result_t));

    p = (u_char *) r + sizeof(ngx_http_collab_store_result_t);

    if (nops) {
        r->ops = (ngx_http_collab_store_op_t *) p;
        r->nops = nops;
        ngx_memzero(p, nops * sizeof(ngx_http_collab_store_op_t));
        p += nops * sizeof(ngx_http_collab_store_op_t);
    }

    if (nheads) {
        r->heads = (int64_t *) p;
        r->nheads = nheads;
        p += nheads * sizeof(int64_t);
        r->heads_deleted = p;
        p += nheads;
    }

    if (strings) {
        *strings = p;
    }

    return r;
}


void
ngx_http_collab_store_copy(u_char **p, PGresult *res, int row, int col,
    ngx_str_t *dst)
{
    dst->data = *p;
    dst->len = PQgetisnull(res, row, col) ? 0 : PQgetlength(res, row, col);

    *p = ngx_cpymem(*p, PQgetvalue(res, row, col), dst->len);
    *(*p)++ = '\0';
}


int64_t
ngx_http_collab_store_get_int(PGresult *res, int row, int col)
{
    char  *v;

    if (PQgetisnull(res, row, col)) {
        return 0;
    }

    v = PQgetvalue(res, row, col);

    return (int64_t) strtoll(v, NULL, 10);
}


ngx_uint_t
ngx_http_collab_store_get_bool(PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}


static ngx_uint_t
ngx_http_collab_store_kind(PGresult *res, int row, int col)
{
    char  *v;

    v = PQgetvalue(res, row, col);

    if (v[0] == 'c') {
        return NGX_HTTP_COLLAB_STORE_CREATE;
    }

    if (v[0] == 'd') {
        return NGX_HTTP_COLLAB_STORE_DEL;
    }

    return NGX_HTTP_COLLAB_STORE_OP;
}


static ngx_http_collab_store_result_t *
ngx_http_collab_store_load_result(PGresult *res)
{
    int                              row, nrows;
    u_char                          *p;
    ngx_http_collab_store_op_t      *op;
    ngx_http_collab_store_result_t  *r;

    /* columns: r, v, src, seq, kind, op, ctype, cdata, deleted */

    nrows = PQntuples(res);

    r = ngx_http_collab_store_result(res, nrows - 1, 0, &p);
    if (r == NULL) {
        return NULL;
    }

    r->version = ngx_http_collab_store_get_int(res, 0, 1);
    r->snapshot_version = ngx_http_collab_store_get_int(res, 0, 3);
    ngx_http_collab_store_copy(&p, res, 0, 5, &r->snapshot);
    ngx_http_collab_store_copy(&p, res, 0, 6, &r->type);
    ngx_http_collab_store_copy(&p, res, 0, 7, &r->snapshot_type);
    r->deleted = ngx_http_collab_store_get_bool(res, 0, 8);

    for (row = 1; row < nrows; row++) {
        op = &r->ops[row - 1];

        op->version = ngx_http_collab_store_get_int(res, row, 1);
        ngx_http_collab_store_copy(&p, res, row, 2, &op->src);
        op->seq = ngx_http_collab_store_get_int(res, row, 3);
        op->kind = ngx_http_collab_store_kind(res, row, 4);
        ngx_http_collab_store_copy(&p, res, row, 5, &op->op);
        ngx_http_collab_store_copy(&p, res, row, 6, &op->create_type);
        ngx_http_collab_store_copy(&p, res, row, 7, &op->create_data);
    }

    return r;
}


static ngx_http_collab_store_result_t *
ngx_http_collab_store_ops_result(PGresult *res)
{
    int                              row, nrows, nops;
    u_char                          *p;
    ngx_http_collab_store_op_t      *op;
    ngx_http_collab_store_result_t  *r;

    /*
     * columns: doc version, deleted, type, then op version, src, seq,
     * kind, op, create_type, create_data, principal, time; a doc without
     * ops in the range gives one row with a NULL op version
     */

    nrows = PQntuples(res);
    nops = PQgetisnull(res, 0, 3) ? 0 : nrows;

    r = ngx_http_collab_store_result(res, nops, 0, &p);
    if (r == NULL) {
        return NULL;
    }

    r->version = ngx_http_collab_store_get_int(res, 0, 0);
    r->deleted = ngx_http_collab_store_get_bool(res, 0, 1);
    ngx_http_collab_store_copy(&p, res, 0, 2, &r->type);

    for (row = 0; row < nops; row++) {
        op = &r->ops[row];

        op->version = ngx_http_collab_store_get_int(res, row, 3);
        ngx_http_collab_store_copy(&p, res, row, 4, &op->src);
        op->seq = ngx_http_collab_store_get_int(res, row, 5);
        op->kind = ngx_http_collab_store_kind(res, row, 6);
        ngx_http_collab_store_copy(&p, res, row, 7, &op->op);
        ngx_http_collab_store_copy(&p, res, row, 8, &op->create_type);
        ngx_http_collab_store_copy(&p, res, row, 9, &op->create_data);
        ngx_http_collab_store_copy(&p, res, row, 10, &op->principal);
        op->time = ngx_http_collab_store_get_int(res, row, 11);
    }

    return r;
}


static ngx_http_collab_store_result_t *
ngx_http_collab_store_heads_result(PGresult *res)
{
    int                              row, nrows;
    ngx_http_collab_store_result_t  *r;

    nrows = PQntuples(res);

    r = ngx_http_collab_store_result(res, 0, nrows, NULL);
    if (r == NULL) {
        return NULL;
    }

    for (row = 0; row < nrows; row++) {
        r->heads[row] = ngx_http_collab_store_get_int(res, row, 0);
        r->heads_deleted[row] = ngx_http_collab_store_get_bool(res, row, 1);
    }

    return r;
}


static ngx_http_collab_store_result_t *
ngx_http_collab_store_list_result(PGresult *res)
{
    int                              row, nrows;
    u_char                          *p;
    ngx_http_collab_store_doc_t     *d;
    ngx_http_collab_store_result_t  *r;

    /* columns: name, version, type, updated (ms) */

    nrows = PQntuples(res);

    /* the docs ride in the space reserved for nrows ops (an op is larger) */
    r = ngx_http_collab_store_result(res, nrows, 0, &p);
    if (r == NULL) {
        return NULL;
    }

    d = (ngx_http_collab_store_doc_t *) r->ops;
    r->ops = NULL;
    r->nops = 0;
    r->docs = d;
    r->ndocs = nrows;

    for (row = 0; row < nrows; row++) {
        ngx_http_collab_store_copy(&p, res, row, 0, &d[row].name);
        d[row].version = ngx_http_collab_store_get_int(res, row, 1);
        ngx_http_collab_store_copy(&p, res, row, 2, &d[row].type);
        d[row].updated = ngx_http_collab_store_get_int(res, row, 3);
    }

    return r;
}

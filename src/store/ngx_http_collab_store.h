/*
 * Document statements on top of the PostgreSQL pool: load a document,
 * read ops by version range, commit a batch of ops in one statement,
 * create, find an op by (src, seq), write a snapshot, read many heads,
 * list a collection's documents.
 *
 * Every call is asynchronous: it returns NGX_OK and later calls the handler
 * exactly once (never from inside the call), or returns NGX_ERROR (out of
 * memory) and never calls it.  Input strings are copied by the call.
 * Results live in one heap block the caller owns and frees with
 * ngx_http_collab_store_result_free(); nothing points into a PGresult.
 *
 * Versions: a stored op's version is the document version it PRODUCED (the
 * create op is version 1).  ShareDB's wire "v" of an op is the version it
 * was applied to, i.e. stored version - 1; the protocol layer converts.
 */

#ifndef _NGX_HTTP_COLLAB_STORE_H_INCLUDED_
#define _NGX_HTTP_COLLAB_STORE_H_INCLUDED_


#include "ngx_http_collab.h"
#include "store/ngx_http_collab_pg.h"


/* outcomes */
#define NGX_HTTP_COLLAB_STORE_OK              0
#define NGX_HTTP_COLLAB_STORE_NOT_FOUND       1  /* no such document/op */
#define NGX_HTTP_COLLAB_STORE_CONFLICT        2  /* head moved / PK taken */
#define NGX_HTTP_COLLAB_STORE_DUPLICATE       3  /* (src, seq) committed */
#define NGX_HTTP_COLLAB_STORE_ALREADY_EXISTS  4  /* create: doc row exists */
#define NGX_HTTP_COLLAB_STORE_UNAVAILABLE     5  /* not sent: no database */
#define NGX_HTTP_COLLAB_STORE_UNKNOWN         6  /* sent, connection lost */
#define NGX_HTTP_COLLAB_STORE_ERROR           7  /* SQL error (logged) */

/* op kinds */
#define NGX_HTTP_COLLAB_STORE_CREATE          1
#define NGX_HTTP_COLLAB_STORE_OP              2
#define NGX_HTTP_COLLAB_STORE_DEL             3


typedef struct {
    int64_t                    version;
    int64_t                    seq;
    int64_t                    time;         /* ms since the epoch, or 0 */
    ngx_uint_t                 kind;         /* NGX_HTTP_COLLAB_STORE_* */
    ngx_str_t                  src;
    ngx_str_t                  op;           /* raw op JSON (kind OP) */
    ngx_str_t                  create_type;  /* type URI (kind CREATE) */
    ngx_str_t                  create_data;  /* raw JSON of create.data */
    ngx_str_t                  principal;    /* empty if none */
} ngx_http_collab_store_op_t;


/* one row of a document list */
typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  type;         /* type URI */
    int64_t                    version;      /* head version */
    int64_t                    updated;      /* ms since the epoch */
} ngx_http_collab_store_doc_t;


/* one member of a document, or one user of a search (role empty) */
typedef struct {
    int64_t                    id;           /* collab_users.id */
    ngx_str_t                  principal;
    ngx_str_t                  name;         /* empty if none */
    ngx_str_t                  role;
    int64_t                    granted_by;   /* a user id, 0: unknown */
    int64_t                    granted_at;   /* ms since the epoch */
} ngx_http_collab_store_member_t;


typedef struct {
    /* load and ops: the document row */
    ngx_str_t                  type;
    int64_t                    version;      /* head version */
    ngx_uint_t                 deleted;

    /* load: the latest snapshot (snapshot_version 0: none) */
    int64_t                    snapshot_version;
    ngx_str_t                  snapshot_type;
    ngx_str_t                  snapshot;

    /* load: the ops after the snapshot; ops: the range; find: one op */
    ngx_uint_t                 nops;
    ngx_http_collab_store_op_t  *ops;

    /* commit: DUPLICATE says which batch entry and where it was committed */
    ngx_uint_t                 dup_index;
    int64_t                    dup_version;

    /* heads: one per requested document, 0 for a missing one */
    ngx_uint_t                 nheads;
    int64_t                   *heads;
    u_char                    *heads_deleted;

    /* list: the documents, most recently updated first */
    ngx_uint_t                 ndocs;
    ngx_http_collab_store_doc_t  *docs;

    /* access: the doc row exists (deleted says how), the member's role */
    ngx_uint_t                 exists;
    ngx_uint_t                 role;         /* 0 none .. 4 owner */

    /* login_get: the argon2id hash (crypto_pwhash_str) and the name */
    ngx_str_t                  login_hash;
    ngx_str_t                  login_name;

    /* members (store_members.h): also exists, for the document */
    ngx_uint_t                 user_found;
    ngx_uint_t                 done;
    ngx_uint_t                 nmembers;
    ngx_http_collab_store_member_t  *members;
} ngx_http_collab_store_result_t;


/*
 * res is non-NULL for OK (and for DUPLICATE, with dup_*; and for CONFLICT
 * of a commit, with version = the head seen, 0 if the doc is missing) and
 * must then be freed by the callee's owner with _result_free().
 */
typedef void (*ngx_http_collab_store_handler_pt)(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);


/* type, head, deleted, latest snapshot and every op after it */
ngx_int_t ngx_http_collab_store_load(ngx_str_t *collection, ngx_str_t *doc,
    ngx_http_collab_store_handler_pt handler, void *data);

/* ops with from <= version < to (to < 0: no bound), at most limit (0: all) */
ngx_int_t ngx_http_collab_store_ops(ngx_str_t *collection, ngx_str_t *doc,
    int64_t from, int64_t to, ngx_uint_t limit,
    ngx_http_collab_store_handler_pt handler, void *data);

/*
 * ops[0..n) become versions base+1..base+n in one statement, guarded by
 * the document head being base; kinds OP, DEL and CREATE (re-create after
 * delete) are allowed; ops[i].version is ignored.
 */
ngx_int_t ngx_http_collab_store_commit(ngx_str_t *collection, ngx_str_t *doc,
    int64_t base, ngx_http_collab_store_op_t *ops, ngx_uint_t n,
    ngx_http_collab_store_handler_pt handler, void *data);

/* one document's batch of a multi-document commit */
typedef struct {
    ngx_str_t                    collection;
    ngx_str_t                    doc;
    int64_t                      base;        /* head it applies to, > 0 */
    ngx_http_collab_store_op_t  *ops;         /* kind OP only */
    ngx_uint_t                   n;
} ngx_http_collab_store_batch_t;

/*
 * The batches of several documents (each at most once) in one
 * transaction.  OK: res->heads[i] is 1 where b[i] went in, 0 where its
 * head had moved (nothing of it written).  Any other outcome applies to
 * the whole statement: CONFLICT or DUPLICATE (a unique violation) mean
 * that nothing was written.
 */
ngx_int_t ngx_http_collab_store_commit_multi(ngx_http_collab_store_batch_t *b,
    ngx_uint_t n, ngx_http_collab_store_handler_pt handler, void *data);

/* a new document: its row and its create op at version 1 */
ngx_int_t ngx_http_collab_store_create(ngx_str_t *collection, ngx_str_t *doc,
    ngx_http_collab_store_op_t *create,
    ngx_http_collab_store_handler_pt handler, void *data);

/* the committed op with this (src, seq), or NOT_FOUND */
ngx_int_t ngx_http_collab_store_find(ngx_str_t *collection, ngx_str_t *doc,
    ngx_str_t *src, int64_t seq,
    ngx_http_collab_store_handler_pt handler, void *data);

/* fire and forget; failures are logged */
ngx_int_t ngx_http_collab_store_snapshot(ngx_str_t *collection,
    ngx_str_t *doc, int64_t version, ngx_str_t *type, ngx_str_t *text);

/* head versions of docs[i] in collections[i], i < n */
ngx_int_t ngx_http_collab_store_heads(ngx_str_t *collections,
    ngx_str_t *docs, ngx_uint_t n,
    ngx_http_collab_store_handler_pt handler, void *data);

/*
 * Documents of a collection that are not deleted, at most limit; with
 * member not NULL, only those it is a member of.
 */
ngx_int_t ngx_http_collab_store_list(ngx_str_t *collection, ngx_uint_t limit,
    ngx_str_t *member, ngx_http_collab_store_handler_pt handler, void *data);

/* whether the document exists and the role principal holds on it */
ngx_int_t ngx_http_collab_store_access(ngx_str_t *collection, ngx_str_t *doc,
    ngx_str_t *principal, ngx_http_collab_store_handler_pt handler,
    void *data);

/* the built-in sign-in's row of username; NOT_FOUND without one */
ngx_int_t ngx_http_collab_store_login_get(ngx_str_t *username,
    ngx_http_collab_store_handler_pt handler, void *data);

/* a new user and its login; ALREADY_EXISTS when the name is taken */
ngx_int_t ngx_http_collab_store_login_add(ngx_str_t *principal,
    ngx_str_t *iss, ngx_str_t *username, ngx_str_t *name, ngx_str_t *hash,
    ngx_http_collab_store_handler_pt handler, void *data);

/* fire and forget: the collab_users row of a verified token, refreshed */
ngx_int_t ngx_http_collab_store_user_seen(ngx_str_t *principal,
    ngx_str_t *iss, ngx_str_t *sub, ngx_str_t *name, ngx_str_t *email);

/* SELECT 1 on the pool: NGX_HTTP_COLLAB_STORE_OK when it answered */
ngx_int_t ngx_http_collab_store_ping(ngx_http_collab_store_handler_pt handler,
    void *data);

void ngx_http_collab_store_result_free(ngx_http_collab_store_result_t *res);

/* the statements the pool prepares on every connection */
ngx_http_collab_pg_stmt_t *ngx_http_collab_store_statements(ngx_uint_t *n);


#endif /* _NGX_HTTP_COLLAB_STORE_H_INCLUDED_ */

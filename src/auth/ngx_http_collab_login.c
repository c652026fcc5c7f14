/*
 * The built-in sign-in (ngx_http_collab_login.h).
 *
 * One attempt is a chain of asynchronous steps on a heap context that
 * outlives the request if the client goes: count the attempt in Redis,
 * read the user's hash from PostgreSQL, check (or, to sign up, make) the
 * argon2id hash in a thread, store the new user, answer.  An unknown user
 * costs the same hash as a known one, so that timing does not tell names.
 */

#include "ngx_http_collab.h"
#include "api/ngx_http_collab_api.h"
#include "auth/ngx_http_collab_auth.h"
#include "auth/ngx_http_collab_login.h"
#include "redis/ngx_http_collab_redis.h"
#include "store/ngx_http_collab_store.h"

#include <sodium.h>
#include <yajl/yajl_tree.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif


#define NGX_HTTP_COLLAB_LOGIN_LOGIN   0
#define NGX_HTTP_COLLAB_LOGIN_SIGNUP  1

#define NGX_HTTP_COLLAB_LOGIN_NAME_MAX      64
#define NGX_HTTP_COLLAB_LOGIN_PASSWORD_MIN  8
#define NGX_HTTP_COLLAB_LOGIN_PASSWORD_MAX  1024


typedef struct {
    ngx_http_request_t        *r;          /* NULL once the client went */
    ngx_uint_t                 mode;
    ngx_uint_t                 pending;    /* callbacks still to come */
    ngx_uint_t                 counting;   /* Redis counts asked for */
    ngx_uint_t                 counted;    /* Redis counts received */
    ngx_uint_t                 too_many;
    ngx_uint_t                 known;      /* the user has a hash */
    ngx_uint_t                 ok;         /* thread: hash matched/made */

    ngx_str_t                  user;
    ngx_str_t                  name;
    u_char                     password[NGX_HTTP_COLLAB_LOGIN_PASSWORD_MAX
                                        + 1];
    size_t                     password_len;
    char                       hash[crypto_pwhash_STRBYTES];
    u_char                     data[1];    /* user, name */
} ngx_http_collab_login_ctx_t;


static void ngx_http_collab_login_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_collab_login_parse(ngx_http_request_t *r,
    ngx_uint_t mode, ngx_http_collab_login_ctx_t **out);
static ngx_int_t ngx_http_collab_login_count(
    ngx_http_collab_login_ctx_t *ctx);
static void ngx_http_collab_login_counted(redisReply *reply, void *data);
static ngx_int_t ngx_http_collab_login_lookup(
    ngx_http_collab_login_ctx_t *ctx);
static void ngx_http_collab_login_found(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static ngx_int_t ngx_http_collab_login_hash(ngx_http_collab_login_ctx_t *ctx);
static void ngx_http_collab_login_thread(void *data, ngx_log_t *log);
static void ngx_http_collab_login_hashed(ngx_event_t *ev);
static void ngx_http_collab_login_added(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_login_finish(ngx_http_collab_login_ctx_t *ctx,
    ngx_int_t rc);
static ngx_int_t ngx_http_collab_login_grant(ngx_http_request_t *r,
    ngx_str_t *user, ngx_str_t *name);
static ngx_int_t ngx_http_collab_login_refresh(ngx_http_request_t *r);
static ngx_int_t ngx_http_collab_login_cookie(ngx_http_request_t *r,
    ngx_str_t *token, time_t max_age);
static void ngx_http_collab_login_cleanup(void *data);
static void ngx_http_collab_login_release(ngx_http_collab_login_ctx_t *ctx);
static ngx_int_t ngx_http_collab_login_user_ok(ngx_str_t *user);
static ngx_int_t ngx_http_collab_login_route(ngx_http_request_t *r);
static ngx_int_t ngx_http_collab_login_handler(ngx_http_request_t *r);


/* collab_auth_login */
char *
ngx_http_collab_login(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_http_core_loc_conf_t     *hclcf;
    ngx_http_collab_main_conf_t  *cmcf;

    if (clcf->login != NGX_CONF_UNSET) {
        return "is duplicate";
    }

#if (NGX_THREADS)
    clcf->login = 1;

    /* argon2id takes ~50 ms and 64 MiB: never on the event loop */
    clcf->login_pool = ngx_thread_pool_add(cf, NULL);
    if (clcf->login_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    hclcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    hclcf->handler = ngx_http_collab_login_handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_collab_module);
    cmcf->enabled = 1;

    return NGX_CONF_OK;
#else
    return "needs nginx built with threads (--with-threads)";
#endif
}


char *
ngx_http_collab_login_merge(ngx_conf_t *cf, ngx_http_collab_loc_conf_t *prev,
    ngx_http_collab_loc_conf_t *conf)
{
    if (conf->login == NGX_CONF_UNSET) {
        conf->login = 0;
    }

    ngx_conf_merge_sec_value(conf->login_ttl, prev->login_ttl, 3600);
    ngx_conf_merge_value(conf->login_signup, prev->login_signup, 0);

    if (conf->login && !ngx_http_collab_auth_can_sign(&conf->auth)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_auth_login\" signs its tokens "
                           "with the location's first "
                           "\"collab_auth_jwt_key_file\", which must be an "
                           "HS256, HS384 or HS512 secret");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_collab_login_init_process(ngx_cycle_t *cycle)
{
    if (sodium_init() < 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "collab: libsodium could not be initialised");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_collab_login_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_http_collab_api_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "use POST");
    }

    switch (ngx_http_collab_login_route(r)) {

    case NGX_HTTP_COLLAB_LOGIN_LOGIN:
    case NGX_HTTP_COLLAB_LOGIN_SIGNUP:
        break;

    case 2:
        rc = ngx_http_discard_request_body(r);
        return (rc != NGX_OK) ? rc : ngx_http_collab_login_refresh(r);

    case 3:
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        /* the cookie goes; the token itself lives until it expires */
        if (ngx_http_collab_login_cookie(r, NULL, 0) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_collab_api_send(r, NGX_HTTP_OK,
                                        (u_char *) "{}\n", 3);

    default:
        return ngx_http_collab_api_error(r, NGX_HTTP_NOT_FOUND,
                                         "no such endpoint");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_COLLAB_LOGIN_MAX_BODY) {
        return ngx_http_collab_api_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "request body too large");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_collab_login_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* 0 login, 1 signup, 2 refresh, 3 logout, -1 anything else */
static ngx_int_t
ngx_http_collab_login_route(ngx_http_request_t *r)
{
    size_t       i, len;
    u_char      *p;
    ngx_uint_t   n;

    static const char  *routes[] = { "login", "signup", "refresh",
                                     "logout" };

    p = r->uri.data + r->uri.len;
    len = 0;

    while (p > r->uri.data && p[-1] != '/') {
        p--;
        len++;
    }

    for (n = 0; n < sizeof(routes) / sizeof(routes[0]); n++) {
        i = ngx_strlen(routes[n]);

        if (len == i && ngx_strncmp(p, routes[n], i) == 0) {
            return (ngx_int_t) n;
        }
    }

    return -1;
}


static void
ngx_http_collab_login_body(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_uint_t                    mode;
    ngx_pool_cleanup_t           *cln;
    ngx_http_collab_loc_conf_t   *clcf;
    ngx_http_collab_login_ctx_t  *ctx;

    ctx = NULL;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);
    mode = (ngx_uint_t) ngx_http_collab_login_route(r);

    if (mode == NGX_HTTP_COLLAB_LOGIN_SIGNUP && !clcf->login_signup) {
        rc = ngx_http_collab_api_error(r, NGX_HTTP_FORBIDDEN,
                                       "sign-up is off "
                                       "(collab_auth_login_signup)");
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* without a context, rc is the error response's */
    rc = ngx_http_collab_login_parse(r, mode, &ctx);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_free(ctx);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_http_collab_login_cleanup;
    cln->data = ctx;

    rc = ngx_http_collab_login_count(ctx);
    if (rc == NGX_DECLINED) {
        /* no Redis: nothing to count with (logged once per attempt) */
        rc = (mode == NGX_HTTP_COLLAB_LOGIN_LOGIN)
             ? ngx_http_collab_login_lookup(ctx)
             : ngx_http_collab_login_hash(ctx);
    }

    if (rc != NGX_OK) {
        ngx_http_collab_login_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* {"user", "password", "name"?}: *out, or NULL and the error sent */
static ngx_int_t
ngx_http_collab_login_parse(ngx_http_request_t *r, ngx_uint_t mode,
    ngx_http_collab_login_ctx_t **out)
{
    char                         *json, err[128];
    size_t                        len;
    u_char                       *p;
    ngx_buf_t                    *b;
    ngx_str_t                     user, name, password;
    yajl_val                      root, v;
    ngx_http_collab_login_ctx_t  *ctx;

    static const char  *user_path[] = { "user", NULL };
    static const char  *password_path[] = { "password", NULL };
    static const char  *name_path[] = { "name", NULL };

    *out = NULL;

    if (r->request_body == NULL || r->request_body->temp_file
        || r->request_body->bufs == NULL
        || r->request_body->bufs->next != NULL)
    {
        return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                         "expected a JSON body");
    }

    b = r->request_body->bufs->buf;
    len = b->last - b->pos;

    if (len > NGX_HTTP_COLLAB_LOGIN_MAX_BODY) {
        return ngx_http_collab_api_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "request body too large");
    }

    json = ngx_pnalloc(r->pool, len + 1);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(json, b->pos, len);
    json[len] = '\0';

    root = yajl_tree_parse(json, err, sizeof(err));
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                         "expected a JSON object");
    }

    ngx_str_null(&user);
    ngx_str_null(&password);
    ngx_str_null(&name);

    v = yajl_tree_get(root, user_path, yajl_t_string);
    if (v) {
        user.data = (u_char *) v->u.string;
        user.len = ngx_strlen(v->u.string);
    }

    v = yajl_tree_get(root, password_path, yajl_t_string);
    if (v) {
        password.data = (u_char *) v->u.string;
        password.len = ngx_strlen(v->u.string);
    }

    v = yajl_tree_get(root, name_path, yajl_t_string);
    if (v) {
        name.data = (u_char *) v->u.string;
        name.len = ngx_min(ngx_strlen(v->u.string), 128);
    }

    if (ngx_http_collab_login_user_ok(&user) != NGX_OK) {
        yajl_tree_free(root);
        return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                         "user: 1 to 64 of a-z A-Z 0-9 "
                                         ". _ - @");
    }

    if (password.len == 0 || password.len > NGX_HTTP_COLLAB_LOGIN_PASSWORD_MAX
        || (mode == NGX_HTTP_COLLAB_LOGIN_SIGNUP
            && password.len < NGX_HTTP_COLLAB_LOGIN_PASSWORD_MIN))
    {
        yajl_tree_free(root);
        return ngx_http_collab_api_error(r, NGX_HTTP_BAD_REQUEST,
                                         "password: 8 to 1024 bytes");
    }

    ctx = ngx_alloc(sizeof(ngx_http_collab_login_ctx_t) + user.len
                    + name.len, r->connection->log);
    if (ctx == NULL) {
        yajl_tree_free(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(ctx, sizeof(ngx_http_collab_login_ctx_t));

    ctx->r = r;
    ctx->mode = mode;

    p = ctx->data;
    ctx->user.data = p;
    ctx->user.len = user.len;
    p = ngx_cpymem(p, user.data, user.len);

    ctx->name.data = p;
    ctx->name.len = name.len;

    if (name.len) {
        ngx_memcpy(p, name.data, name.len);
    }

    ngx_memcpy(ctx->password, password.data, password.len);
    ctx->password_len = password.len;

    /* the tree held the only other copy of the password */
    sodium_memzero(json, len);
    yajl_tree_free(root);

    *out = ctx;

    return NGX_OK;
}


/* one attempt more for the address and for the name; NGX_DECLINED: none */
static ngx_int_t
ngx_http_collab_login_count(ngx_http_collab_login_ctx_t *ctx)
{
    size_t               lens[6];
    ngx_str_t            keys[2], name, addr;
    ngx_uint_t           i;
    const char          *argv[6];
    ngx_http_request_t  *r;

    static ngx_str_t  ttl[2] = { ngx_string("60000"),
                                 ngx_string("900000") };

    if (!ngx_http_collab_redis_enabled()) {
        return NGX_DECLINED;
    }

    r = ctx->r;
    addr = r->connection->addr_text;

    name.len = sizeof("login-addr:") - 1 + addr.len;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(name.data, "login-addr:", 11), addr.data,
               addr.len);

    if (ngx_http_collab_redis_name(r->pool, "", &name, &keys[0]) != NGX_OK) {
        return NGX_ERROR;
    }

    name.len = sizeof("login-user:") - 1 + ctx->user.len;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(name.data, "login-user:", 11), ctx->user.data,
               ctx->user.len);

    if (ngx_http_collab_redis_name(r->pool, "", &name, &keys[1]) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        /* the window starts with the first attempt: SET NX PX, then INCR */
        argv[0] = "SET"; lens[0] = 3;
        argv[1] = (const char *) keys[i].data; lens[1] = keys[i].len;
        argv[2] = "0"; lens[2] = 1;
        argv[3] = "NX"; lens[3] = 2;
        argv[4] = "PX"; lens[4] = 2;
        argv[5] = (const char *) ttl[i].data; lens[5] = ttl[i].len;

        if (ngx_http_collab_redis_command(6, argv, lens, NULL, NULL)
            != NGX_OK)
        {
            break;
        }

        argv[0] = "INCR"; lens[0] = 4;

        if (ngx_http_collab_redis_command(2, argv, lens,
                                          ngx_http_collab_login_counted, ctx)
            != NGX_OK)
        {
            break;
        }

        ctx->pending++;
        ctx->counting++;
    }

    return ctx->counting ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_collab_login_counted(redisReply *reply, void *data)
{
    ngx_http_collab_login_ctx_t  *ctx = data;

    long long  limit;

    limit = (ctx->counted == 0) ? NGX_HTTP_COLLAB_LOGIN_MAX_PER_ADDR
                                : NGX_HTTP_COLLAB_LOGIN_MAX_PER_USER;

    /* Redis away meanwhile: the attempt is not refused for it */
    if (reply && reply->type == REDIS_REPLY_INTEGER
        && reply->integer > limit)
    {
        ctx->too_many = 1;
    }

    ctx->pending--;

    if (++ctx->counted < ctx->counting) {
        return;
    }

    if (ctx->r == NULL) {
        ngx_http_collab_login_release(ctx);
        return;
    }

    if (ctx->too_many) {
        ngx_log_error(NGX_LOG_WARN, ctx->r->connection->log, 0,
                      "collab: too many sign-in attempts for \"%V\" or "
                      "from this address", &ctx->user);
        ngx_http_collab_login_finish(ctx, NGX_HTTP_TOO_MANY_REQUESTS);
        return;
    }

    if (((ctx->mode == NGX_HTTP_COLLAB_LOGIN_LOGIN)
         ? ngx_http_collab_login_lookup(ctx)
         : ngx_http_collab_login_hash(ctx))
        != NGX_OK)
    {
        ngx_http_collab_login_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static ngx_int_t
ngx_http_collab_login_lookup(ngx_http_collab_login_ctx_t *ctx)
{
    if (ngx_http_collab_store_login_get(&ctx->user,
                                        ngx_http_collab_login_found, ctx)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->pending++;

    return NGX_OK;
}


static void
ngx_http_collab_login_found(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_login_ctx_t  *ctx = data;

    ctx->pending--;

    if (ctx->r == NULL) {
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_login_release(ctx);
        return;
    }

    if (rc == NGX_HTTP_COLLAB_STORE_OK
        && res->login_hash.len < sizeof(ctx->hash))
    {
        ctx->known = 1;
        ngx_memcpy(ctx->hash, res->login_hash.data, res->login_hash.len);
        ctx->hash[res->login_hash.len] = '\0';

        /* the name to show comes from the database */
        if (res->login_name.len && ctx->name.len == 0) {
            ctx->name.data = ngx_pnalloc(ctx->r->pool, res->login_name.len);
            if (ctx->name.data) {
                ngx_memcpy(ctx->name.data, res->login_name.data,
                           res->login_name.len);
                ctx->name.len = res->login_name.len;
            }
        }

    } else if (rc != NGX_HTTP_COLLAB_STORE_NOT_FOUND) {
        ngx_http_collab_store_result_free(res);
        ngx_http_collab_login_finish(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    ngx_http_collab_store_result_free(res);

    if (ngx_http_collab_login_hash(ctx) != NGX_OK) {
        ngx_http_collab_login_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* the argon2id work, in a thread of the pool */
static ngx_int_t
ngx_http_collab_login_hash(ngx_http_collab_login_ctx_t *ctx)
{
#if (NGX_THREADS)
    ngx_thread_task_t           *task;
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(ctx->r, ngx_http_collab_module);

    /* on the heap: the task may outlive the request */
    task = ngx_calloc(sizeof(ngx_thread_task_t), ctx->r->connection->log);
    if (task == NULL) {
        return NGX_ERROR;
    }

    task->ctx = ctx;
    task->handler = ngx_http_collab_login_thread;
    task->event.handler = ngx_http_collab_login_hashed;
    task->event.data = task;
    task->event.log = ngx_cycle->log;

    if (ngx_thread_task_post(clcf->login_pool, task) != NGX_OK) {
        ngx_free(task);
        return NGX_ERROR;
    }

    ctx->pending++;

    return NGX_OK;
#else
    return NGX_ERROR;
#endif
}


static void
ngx_http_collab_login_thread(void *data, ngx_log_t *log)
{
    ngx_http_collab_login_ctx_t  *ctx = data;

    char  dummy[crypto_pwhash_STRBYTES];

    if (ctx->mode == NGX_HTTP_COLLAB_LOGIN_SIGNUP) {
        ctx->ok = (crypto_pwhash_str_alg(ctx->hash, (char *) ctx->password,
                                         ctx->password_len,
                                         crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                         crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                         crypto_pwhash_ALG_ARGON2ID13)
                   == 0);

    } else if (ctx->known) {
        ctx->ok = (crypto_pwhash_str_verify(ctx->hash,
                                            (char *) ctx->password,
                                            ctx->password_len)
                   == 0);

    } else {
        /* as long as a check: nobody learns which names exist */
        if (crypto_pwhash_str_alg(dummy, (char *) ctx->password,
                                  ctx->password_len,
                                  crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                  crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                  crypto_pwhash_ALG_ARGON2ID13)
            != 0)
        {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "collab: argon2id failed (out of memory?)");
        }

        ctx->ok = 0;
    }

    sodium_memzero(ctx->password, sizeof(ctx->password));
}


/* back on the event loop */
static void
ngx_http_collab_login_hashed(ngx_event_t *ev)
{
#if (NGX_THREADS)
    ngx_thread_task_t            *task = ev->data;
    ngx_http_collab_login_ctx_t  *ctx = task->ctx;

    ngx_str_t                     principal, iss, hash;
    ngx_http_request_t           *r;
    ngx_http_collab_loc_conf_t   *clcf;

    ngx_free(task);

    ctx->pending--;
    r = ctx->r;

    if (r == NULL) {
        ngx_http_collab_login_release(ctx);
        return;
    }

    if (ctx->mode == NGX_HTTP_COLLAB_LOGIN_LOGIN) {
        if (!ctx->ok) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "collab: sign-in of \"%V\" refused", &ctx->user);
            ngx_http_collab_login_finish(ctx, NGX_HTTP_UNAUTHORIZED);
            return;
        }

        ngx_http_collab_login_finish(ctx, NGX_HTTP_OK);
        return;
    }

    if (!ctx->ok) {
        ngx_http_collab_login_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* sign-up: the principal the tokens of this location will carry */
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);
    iss = clcf->auth.issuer;

    principal.len = iss.len + 1 + ctx->user.len;
    principal.data = ngx_pnalloc(r->pool, principal.len);
    if (principal.data == NULL) {
        ngx_http_collab_login_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (iss.len) {
        ngx_sprintf(principal.data, "%V %V", &iss, &ctx->user);

    } else {
        ngx_memcpy(principal.data, ctx->user.data, ctx->user.len);
        principal.len = ctx->user.len;
    }

    hash.data = (u_char *) ctx->hash;
    hash.len = ngx_strlen(ctx->hash);

    if (ngx_http_collab_store_login_add(&principal, &iss, &ctx->user,
                                        &ctx->name, &hash,
                                        ngx_http_collab_login_added, ctx)
        != NGX_OK)
    {
        ngx_http_collab_login_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->pending++;
#endif
}


static void
ngx_http_collab_login_added(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_login_ctx_t  *ctx = data;

    ngx_http_collab_store_result_free(res);

    ctx->pending--;

    if (ctx->r == NULL) {
        ngx_http_collab_login_release(ctx);
        return;
    }

    switch (rc) {

    case NGX_HTTP_COLLAB_STORE_OK:
        ngx_log_error(NGX_LOG_NOTICE, ctx->r->connection->log, 0,
                      "collab: user \"%V\" signed up", &ctx->user);
        ngx_http_collab_login_finish(ctx, NGX_HTTP_OK);
        return;

    case NGX_HTTP_COLLAB_STORE_ALREADY_EXISTS:
        ngx_http_collab_login_finish(ctx, NGX_HTTP_CONFLICT);
        return;

    default:
        ngx_http_collab_login_finish(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }
}


/* the answer to the attempt; the context goes with the request */
static void
ngx_http_collab_login_finish(ngx_http_collab_login_ctx_t *ctx, ngx_int_t rc)
{
    size_t               lens[2];
    ngx_str_t            name, key;
    const char          *argv[2];
    ngx_http_request_t  *r;

    r = ctx->r;

    switch (rc) {

    case NGX_HTTP_OK:
        /* a success clears the name's count of attempts */
        name.len = sizeof("login-user:") - 1 + ctx->user.len;
        name.data = ngx_pnalloc(r->pool, name.len);

        if (name.data && ngx_http_collab_redis_enabled()) {
            ngx_memcpy(ngx_cpymem(name.data, "login-user:", 11),
                       ctx->user.data, ctx->user.len);

            if (ngx_http_collab_redis_name(r->pool, "", &name, &key)
                == NGX_OK)
            {
                argv[0] = "DEL"; lens[0] = 3;
                argv[1] = (const char *) key.data; lens[1] = key.len;
                (void) ngx_http_collab_redis_command(2, argv, lens, NULL,
                                                     NULL);
            }
        }

        rc = ngx_http_collab_login_grant(r, &ctx->user, &ctx->name);
        break;

    case NGX_HTTP_UNAUTHORIZED:
        rc = ngx_http_collab_api_error(r, rc,
                                       "wrong user name or password");
        break;

    case NGX_HTTP_CONFLICT:
        rc = ngx_http_collab_api_error(r, rc, "user name taken");
        break;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        rc = ngx_http_collab_api_error(r, rc, "too many attempts: try "
                                       "again later");
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        rc = ngx_http_collab_api_error(r, rc, "database unavailable");
        break;
    }

    ngx_http_finalize_request(r, rc);
}


/* 200 {"token", "expires_at", "user"} and the cookie */
static ngx_int_t
ngx_http_collab_login_grant(ngx_http_request_t *r, ngx_str_t *user,
    ngx_str_t *name)
{
    u_char                      *body, *p;
    time_t                       exp;
    ngx_str_t                    token;
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    exp = ngx_time() + clcf->login_ttl;

    if (ngx_http_collab_auth_sign(r, &clcf->auth, user, name, exp, &token)
        != NGX_OK
        || ngx_http_collab_login_cookie(r, &token, clcf->login_ttl) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* user and name are checked or escaped text: see _user_ok() */
    body = ngx_pnalloc(r->pool, token.len + 6 * (user->len + name->len)
                                + 128);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"token\":\"%V\",\"expires_at\":%T,"
                    "\"user\":{\"sub\":\"%V\",\"name\":\"", &token, exp,
                    user);
    p = (u_char *) ngx_escape_json(p, name->data, name->len);
    p = ngx_cpymem(p, "\"}}\n", 4);

    return ngx_http_collab_api_send(r, NGX_HTTP_OK, body, p - body);
}


/* a new token for the holder of a valid one of ours (same sub) */
static ngx_int_t
ngx_http_collab_login_refresh(ngx_http_request_t *r)
{
    const char                  *reason;
    ngx_http_collab_auth_t       who;
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    switch (ngx_http_collab_auth_verify(r, &clcf->auth, &who, &reason)) {

    case NGX_OK:
        break;

    case NGX_HTTP_UNAUTHORIZED:
        return ngx_http_collab_auth_deny(r, reason);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_collab_login_grant(r, &who.sub, &who.name);
}


/* the token cookie; token NULL clears it */
static ngx_int_t
ngx_http_collab_login_cookie(ngx_http_request_t *r, ngx_str_t *token,
    time_t max_age)
{
    u_char                      *p;
    size_t                       len;
    ngx_table_elt_t             *h;
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    len = clcf->auth.cookie.len + (token ? token->len : 0)
          + NGX_TIME_T_LEN + 80;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Set-Cookie");
    h->value.data = p;

    /* HttpOnly: scripts never read it; SameSite: no cross-site sends */
    if (token) {
        p = ngx_sprintf(p, "%V=%V; Path=/; Max-Age=%T; HttpOnly; "
                        "SameSite=Strict", &clcf->auth.cookie, token,
                        max_age);

    } else {
        p = ngx_sprintf(p, "%V=; Path=/; Max-Age=0; HttpOnly; "
                        "SameSite=Strict", &clcf->auth.cookie);
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_cpymem(p, "; Secure", 8);
    }
#endif

    h->value.len = p - h->value.data;

    return NGX_OK;
}


static void
ngx_http_collab_login_cleanup(void *data)
{
    ngx_http_collab_login_ctx_t  *ctx = data;

    ctx->r = NULL;
    ngx_http_collab_login_release(ctx);
}


/* freed when the request is over and no callback is still to come */
static void
ngx_http_collab_login_release(ngx_http_collab_login_ctx_t *ctx)
{
    if (ctx->r == NULL && ctx->pending == 0) {
        sodium_memzero(ctx->password, sizeof(ctx->password));
        ngx_free(ctx);
    }
}


/* 1 to 64 of a-z A-Z 0-9 . _ - @: safe in JSON, principals and keys */
static ngx_int_t
ngx_http_collab_login_user_ok(ngx_str_t *user)
{
    size_t  i;
    u_char  ch;

    if (user->len == 0 || user->len > NGX_HTTP_COLLAB_LOGIN_NAME_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i < user->len; i++) {
        ch = user->data[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_'
              || ch == '-' || ch == '@'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}

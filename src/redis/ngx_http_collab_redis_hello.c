/*
 * The first exchange on each new Redis connection, before anything else
 * is sent on it: AUTH [user] password (collab_redis user= password...),
 * then, when the Sentinels named the server, ROLE, which must say
 * "master" (a Sentinel's answer may be stale, and a demoted master takes
 * no writes).  Until then the connection stays "connecting".
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "redis/ngx_http_collab_redis_conn.h"


static void ngx_http_collab_redis_hello_role(
    ngx_http_collab_redis_conn_t *conn, redisAsyncContext *ac);
static void ngx_http_collab_redis_hello_send(
    ngx_http_collab_redis_conn_t *conn, redisAsyncContext *ac,
    redisCallbackFn *fn, int argc, const char **argv, size_t *argvlen);
static void ngx_http_collab_redis_auth_done(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_role_done(redisAsyncContext *ac,
    void *reply, void *privdata);
static ngx_int_t ngx_http_collab_redis_hello_reply(
    ngx_http_collab_redis_conn_t *conn, redisReply *r);
static void ngx_http_collab_redis_hello_refuse(
    ngx_http_collab_redis_conn_t *conn, redisAsyncContext *ac,
    const char *what, redisReply *r);


void
ngx_http_collab_redis_hello(ngx_http_collab_redis_conn_t *conn,
    redisAsyncContext *ac)
{
    int                           argc;
    size_t                        argvlen[3];
    const char                   *argv[3];
    ngx_http_collab_main_conf_t  *cmcf;

    cmcf = ngx_http_collab_redis_worker.cmcf;

    if (cmcf->redis_password.len == 0) {
        ngx_http_collab_redis_hello_role(conn, ac);
        return;
    }

    argc = 0;
    argv[argc] = "AUTH";
    argvlen[argc++] = 4;

    if (cmcf->redis_user.len) {
        argv[argc] = (const char *) cmcf->redis_user.data;
        argvlen[argc++] = cmcf->redis_user.len;
    }

    argv[argc] = (const char *) cmcf->redis_password.data;
    argvlen[argc++] = cmcf->redis_password.len;

    ngx_http_collab_redis_hello_send(conn, ac,
                                     ngx_http_collab_redis_auth_done,
                                     argc, argv, argvlen);
}


static void
ngx_http_collab_redis_hello_role(ngx_http_collab_redis_conn_t *conn,
    redisAsyncContext *ac)
{
    size_t       argvlen[1];
    const char  *argv[1];

    if (ngx_http_collab_redis_worker.cmcf->redis_sentinels == NULL) {
        ngx_http_collab_redis_up(conn, ac);
        return;
    }

    argv[0] = "ROLE";
    argvlen[0] = 4;

    ngx_http_collab_redis_hello_send(conn, ac,
                                     ngx_http_collab_redis_role_done,
                                     1, argv, argvlen);
}


/* one command, answered within collab_redis_connect_timeout */
static void
ngx_http_collab_redis_hello_send(ngx_http_collab_redis_conn_t *conn,
    redisAsyncContext *ac, redisCallbackFn *fn, int argc, const char **argv,
    size_t *argvlen)
{
    conn->authing = 1;
    ngx_add_timer(&conn->timeout,
                  ngx_http_collab_redis_worker.cmcf->redis_connect_timeout);

    if (redisAsyncCommandArgv(ac, fn, conn, argc, argv, argvlen)
        != REDIS_OK)
    {
        conn->refused = 1;
        redisAsyncDisconnect(ac);
    }
}


static void
ngx_http_collab_redis_auth_done(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                    *r;
    ngx_http_collab_redis_conn_t  *conn;

    conn = privdata;
    r = reply;

    if (ngx_http_collab_redis_hello_reply(conn, r) != NGX_OK) {
        return;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        /* the reply names the failure, never the password */
        ngx_http_collab_redis_hello_refuse(conn, ac, "AUTH refused", r);
        return;
    }

    ngx_http_collab_redis_hello_role(conn, ac);
}


static void
ngx_http_collab_redis_role_done(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                    *r, *role;
    ngx_http_collab_redis_conn_t  *conn;

    conn = privdata;
    r = reply;

    if (ngx_http_collab_redis_hello_reply(conn, r) != NGX_OK) {
        return;
    }

    role = (r->type == REDIS_REPLY_ARRAY && r->elements > 0)
           ? r->element[0] : NULL;

    if (role == NULL || role->type != REDIS_REPLY_STRING
        || role->len != 6 || ngx_strncmp(role->str, "master", 6) != 0)
    {
        ngx_http_collab_redis_hello_refuse(conn, ac, "not the master",
                                           role ? role : r);
        return;
    }

    ngx_http_collab_redis_up(conn, ac);
}


/* NGX_OK: a reply to look at; otherwise the connection went away */
static ngx_int_t
ngx_http_collab_redis_hello_reply(ngx_http_collab_redis_conn_t *conn,
    redisReply *r)
{
    if (r == NULL) {
        /* gone: the disconnect callback says so */
        return NGX_DECLINED;
    }

    conn->authing = 0;

    if (conn->timeout.timer_set) {
        ngx_del_timer(&conn->timeout);
    }

    return NGX_OK;
}


static void
ngx_http_collab_redis_hello_refuse(ngx_http_collab_redis_conn_t *conn,
    redisAsyncContext *ac, const char *what, redisReply *r)
{
    ngx_str_t                        text;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    ngx_str_set(&text, "?");

    if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STRING
        || r->type == REDIS_REPLY_STATUS)
    {
        text.data = (u_char *) r->str;
        text.len = r->len;
    }

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "collab: redis %s connection to \"%V\": %s: %V",
                  conn->name, &w->cmcf->redis_addr, what, &text);

    /* retried with a growing delay (the disconnect callback) */
    conn->refused = 1;
    redisAsyncDisconnect(ac);
}

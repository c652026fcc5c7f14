/*
 * Redis connections of a worker: configuration, connect, reconnect with
 * exponential backoff and jitter, PUBLISH and single commands on the
 * command connection, and the "redis" status section.  Pub/sub lives in
 * ngx_http_collab_redis_pubsub.c, locks in ngx_http_collab_redis_lock.c.
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "redis/ngx_http_collab_redis_conn.h"
#include "redis/ngx_http_collab_redis_adapter.h"
#include "status/ngx_http_collab_status.h"


#define NGX_HTTP_COLLAB_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_COLLAB_REDIS_BACKOFF_MAX  10000

/* beyond this much unsent output, publishes are dropped (Redis stalls) */
#define NGX_HTTP_COLLAB_REDIS_OBUF_MAX     (64 * 1024 * 1024)


typedef struct {
    ngx_http_collab_redis_reply_pt   handler;
    void                            *data;
} ngx_http_collab_redis_cmd_ctx_t;


static void ngx_http_collab_redis_connect(ngx_http_collab_redis_conn_t *conn);
static void ngx_http_collab_redis_failed(ngx_http_collab_redis_conn_t *conn,
    const char *reason);
static void ngx_http_collab_redis_schedule(ngx_http_collab_redis_conn_t *conn,
    const char *what, const char *reason);
static void ngx_http_collab_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_collab_redis_timeout_handler(ngx_event_t *ev);
static void ngx_http_collab_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_collab_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_collab_redis_publish_done(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_command_done(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_status(ngx_http_collab_status_t *st);
static ngx_int_t ngx_http_collab_redis_options(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf);
static void ngx_http_collab_redis_auth(ngx_http_collab_redis_conn_t *conn,
    redisAsyncContext *ac);
static void ngx_http_collab_redis_auth_done(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_up(ngx_http_collab_redis_conn_t *conn,
    const redisAsyncContext *ac);


ngx_http_collab_redis_worker_t  ngx_http_collab_redis_worker;

static ngx_http_collab_redis_event_pt   ngx_http_collab_redis_on_up;
static ngx_http_collab_redis_event_pt   ngx_http_collab_redis_on_shutdown;
static void                            *ngx_http_collab_redis_on_data;

static const char  *ngx_http_collab_redis_conn_names[] = {
    "command", "subscribe", "lock"
};

static const char  *ngx_http_collab_redis_state_names[] = {
    "disconnected", "connecting", "connected"
};


char *
ngx_http_collab_redis_set_addr(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_collab_main_conf_t  *cmcf = conf;

    size_t      len;
    u_char     *p;
    ngx_url_t   u;
    ngx_str_t  *value;

    if (cmcf->redis_addr.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    cmcf->redis_addr = value[1];

    if (ngx_http_collab_redis_options(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.default_port = 6379;

    /* resolved here, once: workers must not block on DNS */
    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid \"collab_redis\" address "
                           "\"%V\": %s", &value[1],
                           u.err ? u.err : "cannot parse");
        return NGX_CONF_ERROR;
    }

    if (u.uri.len || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid \"collab_redis\" address "
                           "\"%V\": expected host:port or unix:/path",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (u.family == AF_UNIX) {
        len = value[1].len - 5;

        p = ngx_pnalloc(cf->pool, len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(p, value[1].data + 5, len);
        p[len] = '\0';

        cmcf->redis_host.data = p;
        cmcf->redis_host.len = len;
        cmcf->redis_port = 0;

        return NGX_CONF_OK;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                        NGX_SOCKADDR_STRLEN, 0);
    p[len] = '\0';

    cmcf->redis_host.data = p;
    cmcf->redis_host.len = len;
    cmcf->redis_port = ngx_inet_get_port(u.addrs[0].sockaddr);

    return NGX_CONF_OK;
}


/* user=<name>, password=<secret> or password_file=<file>: Redis AUTH */
static ngx_int_t
ngx_http_collab_redis_options(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf)
{
    ngx_str_t   *value, v, file;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {
        v = value[i];

        if (v.len > 5 && ngx_strncmp(v.data, "user=", 5) == 0) {
            cmcf->redis_user.data = v.data + 5;
            cmcf->redis_user.len = v.len - 5;
            continue;
        }

        if (v.len > 9 && ngx_strncmp(v.data, "password=", 9) == 0) {
            cmcf->redis_password.data = v.data + 9;
            cmcf->redis_password.len = v.len - 9;
            continue;
        }

        if (v.len > 14 && ngx_strncmp(v.data, "password_file=", 14) == 0) {
            file.data = v.data + 14;
            file.len = v.len - 14;

            if (ngx_http_collab_conf_read_file(cf, &file, 1024,
                                               "Redis password file",
                                               &cmcf->redis_password)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            /* the file's bytes without one final newline */
            if (cmcf->redis_password.len
                && cmcf->redis_password.data[cmcf->redis_password.len - 1]
                   == '\n')
            {
                cmcf->redis_password.data[--cmcf->redis_password.len] = '\0';
            }

            if (cmcf->redis_password.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "collab: Redis password file \"%V\" is "
                                   "empty", &file);
                return NGX_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid \"collab_redis\" option "
                           "\"%V\" (user=, password= or password_file=)",
                           &v);
        return NGX_ERROR;
    }

    if (cmcf->redis_user.len && cmcf->redis_password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_redis\" user= needs a "
                           "password= or password_file=");
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_redis_init_module(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (cmcf->redis_addr.len == 0 && ccf->worker_processes > 1) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "collab: \"collab_redis\" is not set: fan-out across "
                      "the %i worker processes is disabled, each worker "
                      "only sees its own sessions", ccf->worker_processes);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    ngx_uint_t                       i;
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    ngx_memzero(w, sizeof(ngx_http_collab_redis_worker_t));
    w->cmcf = cmcf;
    w->log = cycle->log;

    if (ngx_http_collab_status_add_section("redis",
                                           ngx_http_collab_redis_status)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (cmcf->redis_addr.len == 0) {
        return NGX_OK;
    }

    w->enabled = 1;

    ngx_http_collab_redis_pubsub_init();
    ngx_http_collab_redis_lock_init_process();

    for (i = 0; i < NGX_HTTP_COLLAB_REDIS_NCONN; i++) {
        conn = &w->conn[i];
        conn->name = ngx_http_collab_redis_conn_names[i];

        conn->retry.handler = ngx_http_collab_redis_retry_handler;
        conn->retry.data = conn;
        conn->retry.log = cycle->log;
        conn->retry.cancelable = 1;

        conn->timeout.handler = ngx_http_collab_redis_timeout_handler;
        conn->timeout.data = conn;
        conn->timeout.log = cycle->log;
        conn->timeout.cancelable = 1;

        ngx_http_collab_redis_connect(conn);
    }

    return NGX_OK;
}


void
ngx_http_collab_redis_exit_process(ngx_cycle_t *cycle)
{
    int                              done;
    ngx_uint_t                       i;
    redisAsyncContext               *ac;
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    if (!w->enabled) {
        return;
    }

    w->exiting = 1;

    for (i = 0; i < NGX_HTTP_COLLAB_REDIS_NCONN; i++) {
        conn = &w->conn[i];

        if (conn->retry.timer_set) {
            ngx_del_timer(&conn->retry);
        }

        if (conn->timeout.timer_set) {
            ngx_del_timer(&conn->timeout);
        }

        ac = conn->ac;

        if (ac && conn->state == NGX_HTTP_COLLAB_REDIS_UP) {
            /*
             * One non-blocking write of what is queued (the DELs of the
             * srcs of sessions that just closed, so that their clients
             * get them back at once on the next workers); on the context
             * itself, which the async layer would free on an error.
             */
            (void) redisBufferWrite(&ac->c, &done);
        }

        conn->ac = NULL;
        conn->state = NGX_HTTP_COLLAB_REDIS_DOWN;

        if (ac) {
            /* pending callbacks run with NULL replies, then it closes */
            redisAsyncFree(ac);
        }
    }

    ngx_http_collab_redis_lock_down();
    ngx_http_collab_redis_pubsub_exit();

    w->enabled = 0;
}


void
ngx_http_collab_redis_on_lock_events(
    ngx_http_collab_redis_event_pt reconnected,
    ngx_http_collab_redis_event_pt shutdown, void *data)
{
    ngx_http_collab_redis_on_up = reconnected;
    ngx_http_collab_redis_on_shutdown = shutdown;
    ngx_http_collab_redis_on_data = data;
}


void
ngx_http_collab_redis_shutdown(void)
{
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    /* the shutdown timer marks every connection again: once is enough */
    if (!w->enabled || w->exiting || w->shutting_down) {
        return;
    }

    w->shutting_down = 1;

    if (ngx_http_collab_redis_on_shutdown) {
        ngx_http_collab_redis_on_shutdown(ngx_http_collab_redis_on_data);
    }
}


ngx_uint_t
ngx_http_collab_redis_enabled(void)
{
    return ngx_http_collab_redis_worker.enabled;
}


redisAsyncContext *
ngx_http_collab_redis_ready(ngx_uint_t i)
{
    ngx_http_collab_redis_conn_t  *conn;

    if (!ngx_http_collab_redis_worker.enabled) {
        return NULL;
    }

    conn = &ngx_http_collab_redis_worker.conn[i];

    return conn->state == NGX_HTTP_COLLAB_REDIS_UP ? conn->ac : NULL;
}


static void
ngx_http_collab_redis_connect(ngx_http_collab_redis_conn_t *conn)
{
    redisAsyncContext               *ac;
    ngx_http_collab_main_conf_t     *cmcf;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;
    cmcf = w->cmcf;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, w->log, 0,
                   "collab: redis %s connection: connecting to %V",
                   conn->name, &cmcf->redis_addr);

    /* an address, never a name: resolved at configuration time */
    if (cmcf->redis_port == 0) {
        ac = redisAsyncConnectUnix((char *) cmcf->redis_host.data);

    } else {
        ac = redisAsyncConnect((char *) cmcf->redis_host.data,
                               (int) cmcf->redis_port);
    }

    if (ac == NULL) {
        ngx_http_collab_redis_failed(conn, "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_collab_redis_failed(conn, ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    ac->data = conn;

    if (ngx_http_collab_redis_attach(ac, w->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_collab_redis_failed(conn, "no free worker connection");
        return;
    }

    redisAsyncSetConnectCallback(ac, ngx_http_collab_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_collab_redis_disconnected);

    conn->ac = ac;
    conn->state = NGX_HTTP_COLLAB_REDIS_CONNECTING;

    ngx_add_timer(&conn->timeout, cmcf->redis_connect_timeout);
}


static void
ngx_http_collab_redis_failed(ngx_http_collab_redis_conn_t *conn,
    const char *reason)
{
    conn->failed++;
    ngx_http_collab_redis_schedule(conn, "failed", reason);
}


static void
ngx_http_collab_redis_schedule(ngx_http_collab_redis_conn_t *conn,
    const char *what, const char *reason)
{
    ngx_msec_t                       delay;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    conn->ac = NULL;
    conn->state = NGX_HTTP_COLLAB_REDIS_DOWN;

    if (w->exiting) {
        return;
    }

    delay = NGX_HTTP_COLLAB_REDIS_BACKOFF_MIN << ngx_min(conn->failures, 8);
    delay = ngx_min(delay, NGX_HTTP_COLLAB_REDIS_BACKOFF_MAX);
    conn->failures++;

    /* jitter: workers that lost Redis together do not return together */
    delay = delay / 2 + (ngx_msec_t) ngx_random() % (delay / 2 + 1);

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "collab: redis %s connection to \"%V\" %s: %s, "
                  "reconnecting in %M ms (attempt %ui)",
                  conn->name, &w->cmcf->redis_addr, what, reason, delay,
                  conn->failures);

    ngx_add_timer(&conn->retry, delay);
}


static void
ngx_http_collab_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_collab_redis_connect(ev->data);
}


static void
ngx_http_collab_redis_timeout_handler(ngx_event_t *ev)
{
    redisAsyncContext             *ac;
    ngx_http_collab_redis_conn_t  *conn;

    conn = ev->data;
    ac = conn->ac;

    if (ac == NULL || conn->state != NGX_HTTP_COLLAB_REDIS_CONNECTING) {
        return;
    }

    if (conn->authing) {
        /* connected, but AUTH unanswered: hiredis tells the disconnect */
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_redis_worker.log, 0,
                      "collab: redis %s connection to \"%V\": AUTH timed "
                      "out", conn->name,
                      &ngx_http_collab_redis_worker.cmcf->redis_addr);
        conn->refused = 1;
        redisAsyncDisconnect(ac);
        return;
    }

    /* not connected yet: hiredis calls no disconnect callback */
    redisAsyncFree(ac);

    ngx_http_collab_redis_failed(conn, "connect timed out");
}


static void
ngx_http_collab_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;
    conn = ac->data;

    if (conn->timeout.timer_set) {
        ngx_del_timer(&conn->timeout);
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns */
        ngx_http_collab_redis_failed(conn, ac->errstr);
        return;
    }

    if (w->cmcf->redis_password.len) {
        ngx_http_collab_redis_auth(conn, (redisAsyncContext *) ac);
        return;
    }

    ngx_http_collab_redis_up(conn, ac);
}


/* AUTH [user] password, first on every connection: up once it says OK */
static void
ngx_http_collab_redis_auth(ngx_http_collab_redis_conn_t *conn,
    redisAsyncContext *ac)
{
    int                           argc;
    size_t                        argvlen[3];
    const char                   *argv[3];
    ngx_http_collab_main_conf_t  *cmcf;

    cmcf = ngx_http_collab_redis_worker.cmcf;

    argc = 0;
    argv[argc] = "AUTH";
    argvlen[argc++] = 4;

    if (cmcf->redis_user.len) {
        argv[argc] = (const char *) cmcf->redis_user.data;
        argvlen[argc++] = cmcf->redis_user.len;
    }

    argv[argc] = (const char *) cmcf->redis_password.data;
    argvlen[argc++] = cmcf->redis_password.len;

    /* still "connecting" (nothing else is sent) until the answer */
    conn->authing = 1;
    ngx_add_timer(&conn->timeout, cmcf->redis_connect_timeout);

    if (redisAsyncCommandArgv(ac, ngx_http_collab_redis_auth_done, conn,
                              argc, argv, argvlen)
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

    if (r == NULL) {
        /* the connection went away: the disconnect callback says so */
        return;
    }

    conn->authing = 0;

    if (conn->timeout.timer_set) {
        ngx_del_timer(&conn->timeout);
    }

    if (r->type == REDIS_REPLY_ERROR) {
        /* the reply names the failure, never the password */
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_redis_worker.log, 0,
                      "collab: redis %s connection to \"%V\": AUTH "
                      "refused: %*s", conn->name,
                      &ngx_http_collab_redis_worker.cmcf->redis_addr,
                      (size_t) r->len, r->str);
        conn->refused = 1;
        redisAsyncDisconnect(ac);
        return;
    }

    ngx_http_collab_redis_up(conn, ac);
}


static void
ngx_http_collab_redis_up(ngx_http_collab_redis_conn_t *conn,
    const redisAsyncContext *ac)
{
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    conn->state = NGX_HTTP_COLLAB_REDIS_UP;
    conn->failures = 0;
    conn->connects++;

    if (w->cmcf->redis_port != 0) {
        /* notices a vanished peer on an idle connection */
        (void) redisEnableKeepAlive((redisContext *) &ac->c);
    }

    ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                  "collab: redis %s connection to \"%V\" established",
                  conn->name, &w->cmcf->redis_addr);

    if (conn == &w->conn[NGX_HTTP_COLLAB_REDIS_SUB]) {
        ngx_http_collab_redis_pubsub_up();

    } else if (ngx_http_collab_redis_on_up) {
        /* back after a loss: locks and the waits on them need a look */
        ngx_http_collab_redis_on_up(ngx_http_collab_redis_on_data);
    }
}


static void
ngx_http_collab_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;
    conn = ac->data;

    conn->disconnects++;

    if (w->exiting) {
        ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                      "collab: redis %s connection to \"%V\" closed",
                      conn->name, &w->cmcf->redis_addr);
        return;
    }

    conn->ac = NULL;
    conn->state = NGX_HTTP_COLLAB_REDIS_DOWN;
    conn->authing = 0;

    if (conn->timeout.timer_set) {
        ngx_del_timer(&conn->timeout);
    }

    if (conn == &w->conn[NGX_HTTP_COLLAB_REDIS_SUB]) {
        ngx_http_collab_redis_pubsub_down();

    } else if (conn == &w->conn[NGX_HTTP_COLLAB_REDIS_LCK]) {
        ngx_http_collab_redis_lock_down();
    }

    if (conn->refused) {
        /* AUTH refused: retried, with a growing delay */
        conn->refused = 0;
        conn->failed++;
        ngx_http_collab_redis_schedule(conn, "failed", "AUTH refused");
        return;
    }

    /* lost, not failed: back to the shortest delay */
    conn->failures = 0;

    ngx_http_collab_redis_schedule(conn, "lost",
                                   ac->err ? ac->errstr : "closed");
}


ngx_int_t
ngx_http_collab_redis_name(ngx_pool_t *pool, const char *kind,
    ngx_str_t *name, ngx_str_t *out)
{
    size_t                        len, klen;
    u_char                       *p;
    ngx_str_t                    *prefix;
    ngx_http_collab_main_conf_t  *cmcf;

    cmcf = ngx_http_collab_redis_worker.cmcf;
    prefix = &cmcf->redis_prefix;

    klen = ngx_strlen(kind);
    len = prefix->len + klen + name->len;

    if (pool) {
        p = ngx_pnalloc(pool, len + 1);

    } else {
        p = ngx_alloc(len + 1, ngx_http_collab_redis_worker.log);
    }

    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    out->len = len;

    p = ngx_cpymem(p, prefix->data, prefix->len);
    p = ngx_cpymem(p, kind, klen);
    p = ngx_cpymem(p, name->data, name->len);
    *p = '\0';

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_redis_publish(ngx_str_t *channel, u_char *payload,
    size_t len)
{
    size_t                           argvlen[3];
    const char                      *argv[3];
    redisAsyncContext               *ac;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    ac = ngx_http_collab_redis_ready(NGX_HTTP_COLLAB_REDIS_CMD);

    if (ac == NULL || sdslen(ac->c.obuf) > NGX_HTTP_COLLAB_REDIS_OBUF_MAX) {
        w->stats.publish_dropped++;
        return NGX_DECLINED;
    }

    argv[0] = "PUBLISH";
    argvlen[0] = 7;
    argv[1] = (const char *) channel->data;
    argvlen[1] = channel->len;
    argv[2] = (const char *) payload;
    argvlen[2] = len;

    if (redisAsyncCommandArgv(ac, ngx_http_collab_redis_publish_done, NULL,
                              3, argv, argvlen)
        != REDIS_OK)
    {
        w->stats.publish_dropped++;
        return NGX_DECLINED;
    }

    w->stats.publishes++;

    return NGX_OK;
}


static void
ngx_http_collab_redis_publish_done(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply  *r = reply;

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        ngx_http_collab_redis_worker.stats.publish_errors++;
    }
}


ngx_int_t
ngx_http_collab_redis_command(int argc, const char **argv,
    const size_t *argvlen, ngx_http_collab_redis_reply_pt handler,
    void *data)
{
    redisAsyncContext                *ac;
    ngx_http_collab_redis_cmd_ctx_t  *ctx;

    ac = ngx_http_collab_redis_ready(NGX_HTTP_COLLAB_REDIS_CMD);
    if (ac == NULL) {
        return NGX_DECLINED;
    }

    ctx = NULL;

    if (handler) {
        ctx = ngx_alloc(sizeof(ngx_http_collab_redis_cmd_ctx_t),
                        ngx_http_collab_redis_worker.log);
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ctx->handler = handler;
        ctx->data = data;
    }

    if (redisAsyncCommandArgv(ac, ngx_http_collab_redis_command_done, ctx,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        if (ctx) {
            ngx_free(ctx);
        }

        return NGX_DECLINED;
    }

    ngx_http_collab_redis_worker.stats.commands++;

    return NGX_OK;
}


static void
ngx_http_collab_redis_command_done(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                       *r = reply;
    ngx_http_collab_redis_cmd_ctx_t  *ctx = privdata;

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        ngx_http_collab_redis_worker.stats.command_errors++;
    }

    if (ctx) {
        ctx->handler(r, ctx->data);
        ngx_free(ctx);
    }
}


static void
ngx_http_collab_redis_status(ngx_http_collab_status_t *st)
{
    u_char                           addr[NGX_SOCKADDR_STRLEN + 16];
    ngx_uint_t                       i;
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_stats_t   *s;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;
    s = &w->stats;

    ngx_http_collab_status_gauge(st, "enabled", w->enabled);

    if (!w->enabled) {
        return;
    }

    *ngx_snprintf(addr, sizeof(addr) - 1, "%V", &w->cmcf->redis_addr) = '\0';
    ngx_http_collab_status_string(st, "address", (char *) addr);

    ngx_http_collab_status_open(st, "connections");

    for (i = 0; i < NGX_HTTP_COLLAB_REDIS_NCONN; i++) {
        conn = &w->conn[i];

        ngx_http_collab_status_open(st, conn->name);
        ngx_http_collab_status_string(st, "state",
                            ngx_http_collab_redis_state_names[conn->state]);
        ngx_http_collab_status_gauge(st, "up",
                            conn->state == NGX_HTTP_COLLAB_REDIS_UP);
        ngx_http_collab_status_counter(st, "connects", conn->connects);
        ngx_http_collab_status_counter(st, "disconnects", conn->disconnects);
        ngx_http_collab_status_counter(st, "failed_attempts", conn->failed);
        ngx_http_collab_status_close(st);
    }

    ngx_http_collab_status_close(st);

    ngx_http_collab_status_counter(st, "publishes", s->publishes);
    ngx_http_collab_status_counter(st, "publish_errors", s->publish_errors);
    ngx_http_collab_status_counter(st, "publish_dropped", s->publish_dropped);
    ngx_http_collab_status_counter(st, "messages", s->messages);
    ngx_http_collab_status_counter(st, "commands", s->commands);
    ngx_http_collab_status_counter(st, "command_errors", s->command_errors);
    ngx_http_collab_status_counter(st, "resubscribes", s->resubscribes);
    ngx_http_collab_status_gauge(st, "channels", s->channels);

    ngx_http_collab_status_open(st, "locks");
    ngx_http_collab_status_counter(st, "acquired", s->lock_acquired);
    ngx_http_collab_status_counter(st, "conflicts", s->lock_conflicts);
    ngx_http_collab_status_counter(st, "extended", s->lock_extended);
    ngx_http_collab_status_counter(st, "lost", s->lock_lost);
    ngx_http_collab_status_counter(st, "released", s->lock_released);
    ngx_http_collab_status_counter(st, "retaken", s->lock_retaken);
    ngx_http_collab_status_counter(st, "errors", s->lock_errors);
    ngx_http_collab_status_gauge(st, "queued", s->lock_queued);
    ngx_http_collab_status_close(st);
}

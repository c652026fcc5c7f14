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

    if (ngx_http_collab_redis_sign_init(cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (cmcf->redis_sentinels == NULL) {
        w->master = cmcf->redis_server;
        w->master_known = 1;

    } else {
        ngx_http_collab_redis_sentinel_init();
    }

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

    ngx_http_collab_redis_sentinel_exit();
    ngx_http_collab_redis_sign_exit();

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

    if (!w->master_known) {
        /* the Sentinels name it first; the answer connects us */
        conn->waiting = 1;
        ngx_http_collab_redis_sentinel_ask();
        return;
    }

    /* an address, never a name: resolved at configuration time */
    if (w->master.port == 0) {
        ac = redisAsyncConnectUnix((char *) w->master.host.data);

    } else {
        ac = redisAsyncConnect((char *) w->master.host.data,
                               (int) w->master.port);
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

    if (w->cmcf->redis_sentinels) {
        /* a failover may be why: ask the Sentinels again */
        w->master_known = 0;
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
        /* connected, but AUTH or ROLE unanswered: hiredis tells */
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_redis_worker.log, 0,
                      "collab: redis %s connection to \"%V\": no answer "
                      "to AUTH or ROLE", conn->name,
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
    ngx_http_collab_redis_conn_t  *conn;

    conn = ac->data;

    if (conn->timeout.timer_set) {
        ngx_del_timer(&conn->timeout);
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns */
        ngx_http_collab_redis_failed(conn, ac->errstr);
        return;
    }

    /* AUTH, the master's ROLE: then up (ngx_http_collab_redis_hello.c) */
    ngx_http_collab_redis_hello(conn, (redisAsyncContext *) ac);
}


void
ngx_http_collab_redis_master_found(u_char *host, size_t len,
    ngx_uint_t port, ngx_http_collab_redis_addr_t *by)
{
    ngx_uint_t                       i;
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    len = ngx_min(len, NGX_SOCKADDR_STRLEN);
    ngx_memcpy(w->master_host, host, len);
    w->master_host[len] = '\0';
    w->master.host.data = w->master_host;
    w->master.host.len = len;
    w->master.port = port;
    w->master_known = 1;

    ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                  "collab: redis master \"%V\" is at %V:%ui (Sentinel "
                  "%V:%ui)", &w->cmcf->redis_sentinel_name, &w->master.host,
                  port, &by->host, by->port);

    for (i = 0; i < NGX_HTTP_COLLAB_REDIS_NCONN; i++) {
        conn = &w->conn[i];

        if (conn->waiting) {
            conn->waiting = 0;
            ngx_http_collab_redis_connect(conn);
        }
    }
}


/* a failover: every connection is made again, to the new master */
void
ngx_http_collab_redis_master_moved(void)
{
    ngx_uint_t                       i;
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;
    w->master_known = 0;

    for (i = 0; i < NGX_HTTP_COLLAB_REDIS_NCONN; i++) {
        conn = &w->conn[i];

        if (conn->ac && conn->state != NGX_HTTP_COLLAB_REDIS_DOWN) {
            /* the disconnect callback reconnects, asking the Sentinels */
            redisAsyncDisconnect(conn->ac);
        }
    }
}


void
ngx_http_collab_redis_master_unknown(const char *reason)
{
    ngx_uint_t                       i;
    ngx_http_collab_redis_conn_t    *conn;
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    for (i = 0; i < NGX_HTTP_COLLAB_REDIS_NCONN; i++) {
        conn = &w->conn[i];

        if (conn->waiting) {
            conn->waiting = 0;
            ngx_http_collab_redis_failed(conn, reason);
        }
    }
}


void
ngx_http_collab_redis_up(ngx_http_collab_redis_conn_t *conn,
    const redisAsyncContext *ac)
{
    ngx_http_collab_redis_worker_t  *w;

    w = &ngx_http_collab_redis_worker;

    conn->state = NGX_HTTP_COLLAB_REDIS_UP;
    conn->failures = 0;
    conn->connects++;

    if (w->master.port != 0) {
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
        /* AUTH or ROLE said no: retried, with a growing delay */
        conn->refused = 0;
        conn->failed++;
        ngx_http_collab_redis_schedule(conn, "failed", "refused");
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

    payload = ngx_http_collab_redis_sign(channel, payload, len, &len);
    if (payload == NULL) {
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


ngx_int_t
ngx_http_collab_redis_publish_cb(ngx_str_t *channel, u_char *payload,
    size_t len, ngx_http_collab_redis_reply_pt handler, void *data)
{
    size_t       argvlen[3];
    const char  *argv[3];

    payload = ngx_http_collab_redis_sign(channel, payload, len, &len);
    if (payload == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "PUBLISH";
    argvlen[0] = 7;
    argv[1] = (const char *) channel->data;
    argvlen[1] = channel->len;
    argv[2] = (const char *) payload;
    argvlen[2] = len;

    return ngx_http_collab_redis_command(3, argv, argvlen, handler, data);
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
    ngx_http_collab_status_counter(st, "messages_forged", s->forged);
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

/*
 * Redis Sentinel (collab_redis sentinel=<name> host:port ...): where the
 * master is.  Before a connection to the master is made, and again after
 * any connection was lost or failed (a failover makes Sentinel close the
 * clients of the old and the new master), the Sentinels are asked
 * "SENTINEL get-master-addr-by-name <name>", one at a time, each on a
 * short-lived connection, until one answers with an address.  The answer
 * must be an IP address: workers resolve no names.  One question at a
 * time per worker; connections that need the master wait for it.
 *
 * A demoted master keeps its clients (Sentinel reconfigures it seconds
 * later), so each worker also listens to one Sentinel's +switch-master
 * channel: when it names our master, the connections are closed and made
 * again to the master the Sentinels name now.
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "redis/ngx_http_collab_redis_conn.h"
#include "redis/ngx_http_collab_redis_adapter.h"


typedef struct {
    redisAsyncContext             *ac;
    ngx_http_collab_redis_addr_t  *asked;
    ngx_uint_t                     next;       /* the Sentinel to ask next */
    ngx_uint_t                     tried;      /* in this round */
    ngx_uint_t                     asking;
    ngx_uint_t                     connected;
    ngx_uint_t                     found;
    ngx_uint_t                     port;
    size_t                         host_len;
    u_char                         host[NGX_SOCKADDR_STRLEN + 1];
    ngx_event_t                    timeout;
} ngx_http_collab_redis_sentinel_t;


static void ngx_http_collab_redis_sentinel_next(void);
static void ngx_http_collab_redis_sentinel_connected(
    const redisAsyncContext *ac, int status);
static void ngx_http_collab_redis_sentinel_disconnected(
    const redisAsyncContext *ac, int status);
static void ngx_http_collab_redis_sentinel_reply(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_sentinel_timeout(ngx_event_t *ev);
static void ngx_http_collab_redis_sentinel_failed(const char *reason);
static void ngx_http_collab_redis_watch(void);
static void ngx_http_collab_redis_watch_retry(ngx_event_t *ev);
static void ngx_http_collab_redis_watch_connected(
    const redisAsyncContext *ac, int status);
static void ngx_http_collab_redis_watch_disconnected(
    const redisAsyncContext *ac, int status);
static void ngx_http_collab_redis_watch_message(redisAsyncContext *ac,
    void *reply, void *privdata);


/* the +switch-master listener: one Sentinel at a time, the next on loss */
typedef struct {
    redisAsyncContext             *ac;
    ngx_http_collab_redis_addr_t  *at;
    ngx_uint_t                     next;
    ngx_event_t                    retry;
} ngx_http_collab_redis_watch_t;


static ngx_http_collab_redis_watch_t  ngx_http_collab_redis_watcher;


static ngx_http_collab_redis_sentinel_t  ngx_http_collab_redis_sentinel;


void
ngx_http_collab_redis_sentinel_init(void)
{
    ngx_http_collab_redis_watch_t  *wt;

    wt = &ngx_http_collab_redis_watcher;

    wt->retry.handler = ngx_http_collab_redis_watch_retry;
    wt->retry.data = wt;
    wt->retry.log = ngx_http_collab_redis_worker.log;
    wt->retry.cancelable = 1;

    ngx_http_collab_redis_watch();
}


void
ngx_http_collab_redis_sentinel_ask(void)
{
    ngx_http_collab_redis_sentinel_t  *s;

    s = &ngx_http_collab_redis_sentinel;

    if (s->asking || ngx_http_collab_redis_worker.exiting) {
        return;
    }

    s->timeout.handler = ngx_http_collab_redis_sentinel_timeout;
    s->timeout.data = s;
    s->timeout.log = ngx_http_collab_redis_worker.log;
    s->timeout.cancelable = 1;

    s->asking = 1;
    s->tried = 0;

    ngx_http_collab_redis_sentinel_next();
}


void
ngx_http_collab_redis_sentinel_exit(void)
{
    redisAsyncContext                 *ac;
    ngx_http_collab_redis_sentinel_t  *s;

    s = &ngx_http_collab_redis_sentinel;

    if (s->timeout.timer_set) {
        ngx_del_timer(&s->timeout);
    }

    ac = s->ac;
    s->ac = NULL;
    s->asking = 0;

    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }

    if (ngx_http_collab_redis_watcher.retry.timer_set) {
        ngx_del_timer(&ngx_http_collab_redis_watcher.retry);
    }

    ac = ngx_http_collab_redis_watcher.ac;
    ngx_http_collab_redis_watcher.ac = NULL;

    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
}


static void
ngx_http_collab_redis_sentinel_next(void)
{
    redisAsyncContext                 *ac;
    ngx_array_t                       *all;
    ngx_http_collab_main_conf_t       *cmcf;
    ngx_http_collab_redis_sentinel_t  *s;

    s = &ngx_http_collab_redis_sentinel;
    cmcf = ngx_http_collab_redis_worker.cmcf;
    all = cmcf->redis_sentinels;

    for ( ;; ) {
        if (s->tried == all->nelts) {
            s->asking = 0;
            ngx_http_collab_redis_master_unknown("no Sentinel named the "
                                                 "master");
            return;
        }

        s->asked = (ngx_http_collab_redis_addr_t *) all->elts + s->next;
        s->next = (s->next + 1) % all->nelts;
        s->tried++;
        s->connected = 0;
        s->found = 0;

        ac = redisAsyncConnect((char *) s->asked->host.data,
                               (int) s->asked->port);

        if (ac == NULL) {
            continue;
        }

        if (ac->err) {
            ngx_http_collab_redis_sentinel_failed(ac->errstr);
            redisAsyncFree(ac);
            continue;
        }

        ac->data = s;

        if (ngx_http_collab_redis_attach(ac, ngx_http_collab_redis_worker.log)
            != NGX_OK)
        {
            redisAsyncFree(ac);
            continue;
        }

        redisAsyncSetConnectCallback(ac,
                                     ngx_http_collab_redis_sentinel_connected);
        redisAsyncSetDisconnectCallback(ac,
                                  ngx_http_collab_redis_sentinel_disconnected);

        /* queued now, written once connected */
        if (redisAsyncCommand(ac, ngx_http_collab_redis_sentinel_reply, s,
                              "SENTINEL get-master-addr-by-name %b",
                              cmcf->redis_sentinel_name.data,
                              cmcf->redis_sentinel_name.len)
            != REDIS_OK)
        {
            redisAsyncFree(ac);
            continue;
        }

        s->ac = ac;
        ngx_add_timer(&s->timeout, cmcf->redis_connect_timeout);

        return;
    }
}


static void
ngx_http_collab_redis_sentinel_connected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_collab_redis_sentinel_t  *s;

    s = ac->data;

    if (s == NULL) {
        return;
    }

    if (status == REDIS_OK) {
        s->connected = 1;
        return;
    }

    /* hiredis frees the context when this returns, with no disconnect */
    ngx_http_collab_redis_sentinel_failed(ac->errstr);

    s->ac = NULL;

    if (s->timeout.timer_set) {
        ngx_del_timer(&s->timeout);
    }

    ngx_http_collab_redis_sentinel_next();
}


static void
ngx_http_collab_redis_sentinel_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    u_char                            *p;
    ngx_int_t                          port;
    redisReply                        *r, *host, *pr;
    ngx_http_collab_redis_sentinel_t  *s;

    s = privdata;
    r = reply;

    if (r == NULL || ac->data == NULL) {
        return;
    }

    host = (r->type == REDIS_REPLY_ARRAY && r->elements == 2)
           ? r->element[0] : NULL;
    pr = host ? r->element[1] : NULL;

    port = (pr && pr->type == REDIS_REPLY_STRING)
           ? ngx_atoi((u_char *) pr->str, pr->len) : NGX_ERROR;

    if (host == NULL || host->type != REDIS_REPLY_STRING
        || host->len == 0 || host->len > NGX_SOCKADDR_STRLEN
        || port <= 0 || port > 65535)
    {
        ngx_http_collab_redis_sentinel_failed(
                              r->type == REDIS_REPLY_ERROR ? r->str
                              : "does not know the master");

    } else {
        /* an IP address (v4 or v6): names would need a resolver here */
        p = (u_char *) host->str;

        if (ngx_inet_addr(p, host->len) == INADDR_NONE
#if (NGX_HAVE_INET6)
            && ngx_strlchr(p, p + host->len, ':') == NULL
#endif
           )
        {
            ngx_http_collab_redis_sentinel_failed("named the master by a "
                                                  "host name, not an IP "
                                                  "address");

        } else {
            ngx_memcpy(s->host, host->str, host->len);
            s->host_len = host->len;
            s->port = (ngx_uint_t) port;
            s->found = 1;
        }
    }

    /* the rest happens once this context is gone */
    redisAsyncDisconnect(ac);
}


static void
ngx_http_collab_redis_sentinel_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_collab_redis_sentinel_t  *s;

    s = ac->data;

    if (s == NULL) {
        return;
    }

    s->ac = NULL;

    if (s->timeout.timer_set) {
        ngx_del_timer(&s->timeout);
    }

    if (ngx_http_collab_redis_worker.exiting) {
        s->asking = 0;
        return;
    }

    if (s->found) {
        s->found = 0;
        s->asking = 0;
        ngx_http_collab_redis_master_found(s->host, s->host_len, s->port,
                                           s->asked);
        return;
    }

    ngx_http_collab_redis_sentinel_next();
}


static void
ngx_http_collab_redis_sentinel_timeout(ngx_event_t *ev)
{
    redisAsyncContext                 *ac;
    ngx_http_collab_redis_sentinel_t  *s;

    s = &ngx_http_collab_redis_sentinel;
    ac = s->ac;

    if (ac == NULL) {
        return;
    }

    ngx_http_collab_redis_sentinel_failed("timed out");

    if (s->connected) {
        /* the disconnect callback asks the next one */
        redisAsyncDisconnect(ac);
        return;
    }

    /* not connected yet: hiredis calls no disconnect callback */
    s->ac = NULL;
    ac->data = NULL;
    redisAsyncFree(ac);

    ngx_http_collab_redis_sentinel_next();
}


static void
ngx_http_collab_redis_sentinel_failed(const char *reason)
{
    ngx_http_collab_redis_sentinel_t  *s;

    s = &ngx_http_collab_redis_sentinel;

    ngx_log_error(NGX_LOG_WARN, ngx_http_collab_redis_worker.log, 0,
                  "collab: redis Sentinel %V:%ui about master \"%V\": %s",
                  &s->asked->host, s->asked->port,
                  &ngx_http_collab_redis_worker.cmcf->redis_sentinel_name,
                  reason);
}


static void
ngx_http_collab_redis_watch(void)
{
    redisAsyncContext              *ac;
    ngx_array_t                    *all;
    ngx_http_collab_redis_watch_t  *wt;

    wt = &ngx_http_collab_redis_watcher;
    all = ngx_http_collab_redis_worker.cmcf->redis_sentinels;

    if (ngx_http_collab_redis_worker.exiting) {
        return;
    }

    wt->at = (ngx_http_collab_redis_addr_t *) all->elts + wt->next;
    wt->next = (wt->next + 1) % all->nelts;

    ac = redisAsyncConnect((char *) wt->at->host.data, (int) wt->at->port);

    if (ac == NULL || ac->err
        || ngx_http_collab_redis_attach(ac, ngx_http_collab_redis_worker.log)
           != NGX_OK)
    {
        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_add_timer(&wt->retry, 1000);
        return;
    }

    ac->data = wt;
    redisAsyncSetConnectCallback(ac, ngx_http_collab_redis_watch_connected);
    redisAsyncSetDisconnectCallback(ac,
                                    ngx_http_collab_redis_watch_disconnected);

    if (redisAsyncCommand(ac, ngx_http_collab_redis_watch_message, wt,
                          "SUBSCRIBE +switch-master")
        != REDIS_OK)
    {
        redisAsyncFree(ac);
        ngx_add_timer(&wt->retry, 1000);
        return;
    }

    wt->ac = ac;
}


static void
ngx_http_collab_redis_watch_retry(ngx_event_t *ev)
{
    ngx_http_collab_redis_watch();
}


static void
ngx_http_collab_redis_watch_connected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_collab_redis_watch_t  *wt;

    wt = ac->data;

    if (wt == NULL || status == REDIS_OK) {
        return;
    }

    /* freed by hiredis with no disconnect callback: the next Sentinel */
    wt->ac = NULL;
    ngx_add_timer(&wt->retry, 1000);
}


static void
ngx_http_collab_redis_watch_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_collab_redis_watch_t  *wt;

    wt = ac->data;

    if (wt == NULL) {
        return;
    }

    wt->ac = NULL;

    if (!ngx_http_collab_redis_worker.exiting) {
        ngx_add_timer(&wt->retry, 1000);
    }
}


/* "message" "+switch-master" "<name> <old ip> <old port> <new ip> <port>" */
static void
ngx_http_collab_redis_watch_message(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    size_t                        n;
    redisReply                   *r, *kind, *text;
    ngx_http_collab_main_conf_t  *cmcf;

    r = reply;
    cmcf = ngx_http_collab_redis_worker.cmcf;

    if (r == NULL || ac->data == NULL || r->type != REDIS_REPLY_ARRAY
        || r->elements != 3)
    {
        return;
    }

    kind = r->element[0];
    text = r->element[2];
    n = cmcf->redis_sentinel_name.len;

    if (kind->type != REDIS_REPLY_STRING || kind->len != 7
        || ngx_strncmp(kind->str, "message", 7) != 0
        || text->type != REDIS_REPLY_STRING || text->len <= n
        || ngx_strncmp(text->str, cmcf->redis_sentinel_name.data, n) != 0
        || text->str[n] != ' ')
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_http_collab_redis_worker.log, 0,
                  "collab: redis Sentinel %V:%ui: +switch-master %*s",
                  &ngx_http_collab_redis_watcher.at->host,
                  ngx_http_collab_redis_watcher.at->port,
                  (size_t) text->len, text->str);

    ngx_http_collab_redis_master_moved();
}

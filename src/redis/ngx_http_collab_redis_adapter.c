/*
 * hiredis async contexts driven by the nginx event loop.
 *
 * hiredis asks for read/write interest through ac->ev; we map that onto
 * the events of an ngx_connection_t wrapping the context's socket.  With
 * edge-triggered epoll a read event fires once per arrival, while hiredis
 * reads at most 16 KB per call: the read handler keeps calling it while
 * the socket still holds bytes, or replies would stall until the next
 * arrival.
 *
 * The connections are marked idle, so that ngx_close_idle_connections()
 * tells us when a graceful exit begins: the connection stays open (the
 * worker still needs it to give back its locks) and the connection
 * manager hears about it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/ioctl.h>

#include "redis/ngx_http_collab_redis_adapter.h"
#include "redis/ngx_http_collab_redis_conn.h"


/* reads per event before yielding to other connections */
#define NGX_HTTP_COLLAB_REDIS_READ_ROUNDS  64


static ngx_int_t ngx_http_collab_redis_dispatch(ngx_connection_t *c,
    ngx_uint_t write);
static void ngx_http_collab_redis_read_handler(ngx_event_t *rev);
static void ngx_http_collab_redis_write_handler(ngx_event_t *wev);
static ngx_uint_t ngx_http_collab_redis_event_flags(void);
static void ngx_http_collab_redis_add_read(void *privdata);
static void ngx_http_collab_redis_del_read(void *privdata);
static void ngx_http_collab_redis_add_write(void *privdata);
static void ngx_http_collab_redis_del_write(void *privdata);
static void ngx_http_collab_redis_cleanup(void *privdata);


/*
 * The connection whose events are being handled, and whether hiredis
 * freed it meanwhile: after that neither the connection nor the context
 * may be touched.  Event handlers never nest, so one slot is enough.
 */
static ngx_connection_t  *ngx_http_collab_redis_current;
static ngx_uint_t         ngx_http_collab_redis_gone;


ngx_int_t
ngx_http_collab_redis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_collab_redis_read_handler;
    c->write->handler = ngx_http_collab_redis_write_handler;
    c->idle = 1;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_collab_redis_add_read;
    ac->ev.delRead = ngx_http_collab_redis_del_read;
    ac->ev.addWrite = ngx_http_collab_redis_add_write;
    ac->ev.delWrite = ngx_http_collab_redis_del_write;
    ac->ev.cleanup = ngx_http_collab_redis_cleanup;

    /* writability tells hiredis that the non-blocking connect finished */
    if (ngx_add_event(c->write, NGX_WRITE_EVENT,
                      ngx_http_collab_redis_event_flags())
        != NGX_OK)
    {
        ngx_memzero(&ac->ev, sizeof(ac->ev));
        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_collab_redis_dispatch(ngx_connection_t *c, ngx_uint_t write)
{
    redisAsyncContext  *ac;

    ac = c->data;

    ngx_http_collab_redis_current = c;
    ngx_http_collab_redis_gone = 0;

    if (write) {
        redisAsyncHandleWrite(ac);

    } else {
        redisAsyncHandleRead(ac);
    }

    ngx_http_collab_redis_current = NULL;

    return ngx_http_collab_redis_gone ? NGX_DONE : NGX_OK;
}


static void
ngx_http_collab_redis_read_handler(ngx_event_t *rev)
{
    int                n;
    ngx_uint_t         i, eof;
    ngx_connection_t  *c;

    c = rev->data;
    eof = 0;

    if (c->close) {
        /* ngx_close_idle_connections() or the shutdown timer */
        c->close = 0;
        ngx_http_collab_redis_shutdown();
    }

    for (i = 0; i < NGX_HTTP_COLLAB_REDIS_READ_ROUNDS; i++) {

        if (ngx_http_collab_redis_dispatch(c, 0) != NGX_OK) {
            return;
        }

        if (!(ngx_event_flags & NGX_USE_CLEAR_EVENT)) {
            return;
        }

        if (ioctl(c->fd, FIONREAD, &n) == -1) {
            return;
        }

        if (n <= 0) {

            /*
             * The peer's FIN came with the last bytes, in the same edge:
             * one more read lets hiredis see the end of the stream, or a
             * subscriber would never learn that Redis went away
             */

            if (!rev->pending_eof || eof) {
                return;
            }

            eof = 1;
        }
    }

    /* more is buffered: go on after the other ready events */
    ngx_post_event(rev, &ngx_posted_events);
}


static void
ngx_http_collab_redis_write_handler(ngx_event_t *wev)
{
    (void) ngx_http_collab_redis_dispatch(wev->data, 1);
}


static ngx_uint_t
ngx_http_collab_redis_event_flags(void)
{
    return (ngx_event_flags & NGX_USE_CLEAR_EVENT) ? NGX_CLEAR_EVENT
                                                   : NGX_LEVEL_EVENT;
}


static void
ngx_http_collab_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        return;
    }

    if (ngx_add_event(c->read, NGX_READ_EVENT,
                      ngx_http_collab_redis_event_flags())
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "collab: redis: adding a read event failed");
    }
}


static void
ngx_http_collab_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        return;
    }

    if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "collab: redis: deleting a read event failed");
    }
}


static void
ngx_http_collab_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        return;
    }

    if (ngx_add_event(c->write, NGX_WRITE_EVENT,
                      ngx_http_collab_redis_event_flags())
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "collab: redis: adding a write event failed");
    }
}


static void
ngx_http_collab_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->write->active) {
        return;
    }

    if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "collab: redis: deleting a write event failed");
    }
}


/*
 * Called by hiredis while it frees the context; it closes the socket
 * itself right after, so only the nginx side is released here.
 */
static void
ngx_http_collab_redis_cleanup(void *privdata)
{
    ngx_connection_t   *c = privdata;
    redisAsyncContext  *ac;

    if (c == NULL) {
        return;
    }

    ac = c->data;

    if (c == ngx_http_collab_redis_current) {
        ngx_http_collab_redis_gone = 1;
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* the socket is closed next, which drops it from epoll by itself */
    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    ac->ev.data = NULL;

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}

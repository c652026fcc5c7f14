/* TEMPORARY debug hook: removed after manual verification. */
#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"

static ngx_event_t dbg_ev;
static ngx_http_collab_redis_lock_t dbg_lock;
static ngx_str_t dbg_ch;
static int dbg_step;
static u_char big[100000];

static void dbg_lock_cb(ngx_http_collab_lock_result_e rc, void *data);

static void
dbg_msg(ngx_str_t *ch, u_char *p, size_t len, void *data)
{
    ngx_int_t rc;
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG msg sub=%s ch=%V len=%uz first=%*s", (char *) data, ch, len, len > 10 ? 10 : len, p ? p : (u_char *) "");
    if (p == NULL && ngx_strcmp(data, "A1") == 0) {
        ngx_memset(big, 'x', sizeof(big));
        rc = ngx_http_collab_redis_publish(ch, (u_char *) "hello", 5);
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG publish rc=%i", rc);
        ngx_http_collab_redis_publish(ch, big, sizeof(big));
        ngx_http_collab_redis_publish(ch, big, sizeof(big));
        ngx_http_collab_redis_publish(ch, (u_char *) "last", 4);
    }
    if (p && len == 4 && ngx_strcmp(data, "A2") == 0) {
        /* unsubscribe self during dispatch */
        ngx_http_collab_redis_unsubscribe(ch, dbg_msg, data);
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG A2 unsubscribed");
    }
}

static void
dbg_resub(void *data)
{
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG resubscribed hook");
}

static void
dbg_lock_cb(ngx_http_collab_lock_result_e rc, void *data)
{
    ngx_int_t r = 0;
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG lock step %d rc=%d held=%d token=%*s", dbg_step, rc, dbg_lock.held, dbg_lock.token_len, dbg_lock.token);
    dbg_step++;
    switch (dbg_step) {
    case 1: r = ngx_http_collab_redis_lock_extend(&dbg_lock, dbg_lock_cb, NULL); break;
    case 2: r = ngx_http_collab_redis_lock_release(&dbg_lock, dbg_lock_cb, NULL); break;
    case 3: r = ngx_http_collab_redis_lock_release(&dbg_lock, dbg_lock_cb, NULL); break; /* not ours: HELD */
    case 4: r = ngx_http_collab_redis_lock_acquire(&dbg_lock, dbg_lock_cb, NULL); break;
    case 5: r = ngx_http_collab_redis_lock_acquire(&dbg_lock, dbg_lock_cb, NULL); break; /* conflict with self */
    case 6: ngx_http_collab_redis_lock_free(&dbg_lock); /* held: released in background */
            ngx_http_collab_redis_lock_init(&dbg_lock, &dbg_ch);
            r = ngx_http_collab_redis_lock_acquire(&dbg_lock, dbg_lock_cb, NULL);
            ngx_http_collab_redis_lock_free(&dbg_lock); /* forgotten acquire: auto release */
            break;
    }
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG lock next call rc=%i", r);
}

static void
dbg_handler(ngx_event_t *ev)
{
    ngx_int_t rc;
    ngx_str_t doc = ngx_string("coll/doc1");
    if (ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_DOC, &doc, &dbg_ch) != NGX_OK) return;
    ngx_http_collab_redis_on_resubscribed(dbg_resub, NULL);
    rc = ngx_http_collab_redis_subscribe(&dbg_ch, dbg_msg, "A1");
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG subscribe A1 rc=%i", rc);
    rc = ngx_http_collab_redis_subscribe(&dbg_ch, dbg_msg, "A2");
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG subscribe A2 rc=%i", rc);
    ngx_http_collab_redis_lock_init(&dbg_lock, &doc);
    rc = ngx_http_collab_redis_lock_acquire(&dbg_lock, dbg_lock_cb, NULL);
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "DBG acquire rc=%i key=%V", rc, &dbg_lock.key);
}

ngx_int_t ngx_http_collab_redis_zzdebug_init(ngx_cycle_t *cycle);
ngx_int_t
ngx_http_collab_redis_zzdebug_init(ngx_cycle_t *cycle)
{
    dbg_ev.handler = dbg_handler; dbg_ev.log = cycle->log; dbg_ev.data = big; dbg_ev.cancelable = 1;
    ngx_add_timer(&dbg_ev, 500);
    return NGX_OK;
}


/*
 * Document locks without Lua.
 *
 * Acquire: SET <key> <token> NX PX <ttl> on the command connection.
 * Extend and release: WATCH <key>, GET <key>; if the value is our token,
 * MULTI, PEXPIRE <key> <ttl> (or DEL <key>), EXEC, else UNWATCH.  WATCH
 * state belongs to the connection, so these sequences run on the lock
 * connection one at a time: the next WATCH is sent only after the
 * previous sequence sent its EXEC or UNWATCH.  Tokens are random (from
 * the kernel CSPRNG) and carry the pid and a counter, so they are unique
 * per worker and acquisition.
 *
 * A release that may have missed Redis (the connection was down or went
 * down meanwhile) leaves the lock "stale": the key may still carry our
 * token until its TTL.  A later acquisition refused by that key takes it
 * back (WATCH, GET, same token: PEXPIRE) instead of waiting on itself,
 * and the owner may release it once Redis is back.
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "redis/ngx_http_collab_redis_conn.h"

#include <sys/random.h>


typedef enum {
    NGX_HTTP_COLLAB_LOCK_ACQUIRE = 0,
    NGX_HTTP_COLLAB_LOCK_EXTEND,
    NGX_HTTP_COLLAB_LOCK_RELEASE,
    NGX_HTTP_COLLAB_LOCK_RETAKE     /* an acquisition, with the old token */
} ngx_http_collab_lock_op_e;


struct ngx_http_collab_redis_op_s {
    ngx_queue_t                      queue;
    ngx_http_collab_redis_lock_t    *lock;     /* NULL: forgotten */
    ngx_http_collab_redis_lock_pt    handler;
    void                            *data;
    ngx_http_collab_lock_op_e        type;
    ngx_str_t                        key;
    ngx_str_t                        token;
};


static ngx_int_t ngx_http_collab_redis_token(ngx_str_t *token);
static ngx_http_collab_redis_op_t *ngx_http_collab_redis_op(
    ngx_http_collab_redis_lock_t *lock, ngx_str_t *key, ngx_str_t *token,
    ngx_http_collab_lock_op_e type);
static ngx_int_t ngx_http_collab_redis_watched(
    ngx_http_collab_redis_lock_t *lock, ngx_http_collab_lock_op_e type,
    ngx_http_collab_redis_lock_pt handler, void *data);
static void ngx_http_collab_redis_enqueue(ngx_http_collab_redis_op_t *op);
static ngx_int_t ngx_http_collab_redis_start(ngx_http_collab_redis_op_t *op);
static void ngx_http_collab_redis_retake(ngx_http_collab_redis_op_t *op);
static void ngx_http_collab_redis_next(void);
static void ngx_http_collab_redis_acquired(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_got(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_collab_redis_executed(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_collab_redis_complete(ngx_http_collab_redis_op_t *op,
    ngx_http_collab_lock_result_e rc);
static void ngx_http_collab_redis_op_free(ngx_http_collab_redis_op_t *op);
static size_t ngx_http_collab_redis_ttl(u_char *buf);


/* sequences waiting for the lock connection, and the one running */
static ngx_queue_t                  ngx_http_collab_redis_queue;
static ngx_http_collab_redis_op_t  *ngx_http_collab_redis_running;
static ngx_uint_t                   ngx_http_collab_redis_tokens;

/* operations alive (running, queued or awaiting a reply) */
static ngx_uint_t                   ngx_http_collab_redis_nops;


void
ngx_http_collab_redis_lock_init_process(void)
{
    ngx_queue_init(&ngx_http_collab_redis_queue);
    ngx_http_collab_redis_running = NULL;
    ngx_http_collab_redis_nops = 0;
}


ngx_uint_t
ngx_http_collab_redis_lock_pending(void)
{
    return ngx_http_collab_redis_nops;
}


ngx_int_t
ngx_http_collab_redis_lock_init(ngx_http_collab_redis_lock_t *lock,
    ngx_str_t *doc)
{
    ngx_memzero(lock, sizeof(ngx_http_collab_redis_lock_t));

    return ngx_http_collab_redis_name(NULL, NGX_HTTP_COLLAB_REDIS_LOCK, doc,
                                      &lock->key);
}


ngx_int_t
ngx_http_collab_redis_lock_acquire(ngx_http_collab_redis_lock_t *lock,
    ngx_http_collab_redis_lock_pt handler, void *data)
{
    size_t                       argvlen[6];
    u_char                       ttl[NGX_INT_T_LEN];
    u_char                       buf[NGX_HTTP_COLLAB_REDIS_TOKEN_LEN];
    ngx_str_t                    token;
    const char                  *argv[6];
    redisAsyncContext           *ac;
    ngx_http_collab_redis_op_t  *op;

    if (lock->op || lock->held) {
        return NGX_BUSY;
    }

    ac = ngx_http_collab_redis_ready(NGX_HTTP_COLLAB_REDIS_CMD);
    if (ac == NULL) {
        return NGX_DECLINED;
    }

    /* the lock keeps its token until this one wins */
    token.data = buf;

    if (ngx_http_collab_redis_token(&token) != NGX_OK) {
        return NGX_ERROR;
    }

    op = ngx_http_collab_redis_op(lock, &lock->key, &token,
                                  NGX_HTTP_COLLAB_LOCK_ACQUIRE);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->handler = handler;
    op->data = data;

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) op->key.data;
    argvlen[1] = op->key.len;
    argv[2] = (const char *) op->token.data;
    argvlen[2] = op->token.len;
    argv[3] = "NX";
    argvlen[3] = 2;
    argv[4] = "PX";
    argvlen[4] = 2;
    argv[5] = (const char *) ttl;
    argvlen[5] = ngx_http_collab_redis_ttl(ttl);

    if (redisAsyncCommandArgv(ac, ngx_http_collab_redis_acquired, op, 6,
                              argv, argvlen)
        != REDIS_OK)
    {
        ngx_http_collab_redis_op_free(op);
        return NGX_DECLINED;
    }

    lock->op = op;

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_redis_lock_extend(ngx_http_collab_redis_lock_t *lock,
    ngx_http_collab_redis_lock_pt handler, void *data)
{
    return ngx_http_collab_redis_watched(lock, NGX_HTTP_COLLAB_LOCK_EXTEND,
                                         handler, data);
}


ngx_int_t
ngx_http_collab_redis_lock_release(ngx_http_collab_redis_lock_t *lock,
    ngx_http_collab_redis_lock_pt handler, void *data)
{
    return ngx_http_collab_redis_watched(lock, NGX_HTTP_COLLAB_LOCK_RELEASE,
                                         handler, data);
}


void
ngx_http_collab_redis_lock_free(ngx_http_collab_redis_lock_t *lock)
{
    ngx_str_t                    token;
    ngx_http_collab_redis_op_t  *op;

    if (lock->op) {
        /* it completes on its own; complete() gives back what it gains */
        lock->op->lock = NULL;
        lock->op = NULL;

    } else if ((lock->held || lock->stale)
               && ngx_http_collab_redis_ready(NGX_HTTP_COLLAB_REDIS_LCK))
    {
        token.data = lock->token;
        token.len = lock->token_len;

        op = ngx_http_collab_redis_op(NULL, &lock->key, &token,
                                      NGX_HTTP_COLLAB_LOCK_RELEASE);
        if (op) {
            ngx_http_collab_redis_enqueue(op);
        }
    }

    if (lock->key.data) {
        ngx_free(lock->key.data);
        ngx_str_null(&lock->key);
    }

    lock->held = 0;
    lock->stale = 0;
}


void
ngx_http_collab_redis_lock_down(void)
{
    ngx_queue_t                 *q;
    ngx_http_collab_redis_op_t  *op;

    /* a running sequence already got its NULL reply from hiredis */
    ngx_http_collab_redis_running = NULL;

    while (!ngx_queue_empty(&ngx_http_collab_redis_queue)) {
        q = ngx_queue_head(&ngx_http_collab_redis_queue);
        ngx_queue_remove(q);
        ngx_http_collab_redis_worker.stats.lock_queued--;

        op = ngx_queue_data(q, ngx_http_collab_redis_op_t, queue);
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
    }
}


static ngx_int_t
ngx_http_collab_redis_watched(ngx_http_collab_redis_lock_t *lock,
    ngx_http_collab_lock_op_e type, ngx_http_collab_redis_lock_pt handler,
    void *data)
{
    ngx_str_t                    token;
    ngx_http_collab_redis_op_t  *op;

    if (lock->op) {
        return NGX_BUSY;
    }

    if (ngx_http_collab_redis_ready(NGX_HTTP_COLLAB_REDIS_LCK) == NULL) {
        if (type == NGX_HTTP_COLLAB_LOCK_RELEASE && lock->held) {
            /* the key expires by itself, or is taken back later */
            lock->held = 0;
            lock->stale = 1;
        }

        return NGX_DECLINED;
    }

    token.data = lock->token;
    token.len = lock->token_len;

    op = ngx_http_collab_redis_op(lock, &lock->key, &token, type);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->handler = handler;
    op->data = data;

    if (ngx_http_collab_redis_running == NULL) {
        /* started here, so a failure cannot call the handler from here */
        if (ngx_http_collab_redis_start(op) != NGX_OK) {
            ngx_http_collab_redis_op_free(op);
            return NGX_DECLINED;
        }

    } else {
        ngx_queue_insert_tail(&ngx_http_collab_redis_queue, &op->queue);
        ngx_http_collab_redis_worker.stats.lock_queued++;
    }

    lock->op = op;

    return NGX_OK;
}


/* a sequence without a caller: started now or queued, never reported */
static void
ngx_http_collab_redis_enqueue(ngx_http_collab_redis_op_t *op)
{
    if (ngx_http_collab_redis_running == NULL) {
        if (ngx_http_collab_redis_start(op) != NGX_OK) {
            ngx_http_collab_redis_op_free(op);
        }

        return;
    }

    ngx_queue_insert_tail(&ngx_http_collab_redis_queue, &op->queue);
    ngx_http_collab_redis_worker.stats.lock_queued++;
}


static ngx_int_t
ngx_http_collab_redis_start(ngx_http_collab_redis_op_t *op)
{
    size_t              argvlen[2];
    const char         *argv[2];
    redisAsyncContext  *ac;

    ac = ngx_http_collab_redis_ready(NGX_HTTP_COLLAB_REDIS_LCK);
    if (ac == NULL) {
        return NGX_DECLINED;
    }

    argv[1] = (const char *) op->key.data;
    argvlen[1] = op->key.len;

    argv[0] = "WATCH";
    argvlen[0] = 5;

    if (redisAsyncCommandArgv(ac, NULL, NULL, 2, argv, argvlen) != REDIS_OK) {
        return NGX_DECLINED;
    }

    argv[0] = "GET";
    argvlen[0] = 3;

    if (redisAsyncCommandArgv(ac, ngx_http_collab_redis_got, op, 2,
                              argv, argvlen)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    ngx_http_collab_redis_running = op;

    return NGX_OK;
}


/* starts queued sequences until one runs; called from reply callbacks */
static void
ngx_http_collab_redis_next(void)
{
    ngx_queue_t                 *q;
    ngx_http_collab_redis_op_t  *op;

    while (ngx_http_collab_redis_running == NULL
           && !ngx_queue_empty(&ngx_http_collab_redis_queue))
    {
        q = ngx_queue_head(&ngx_http_collab_redis_queue);
        ngx_queue_remove(q);
        ngx_http_collab_redis_worker.stats.lock_queued--;

        op = ngx_queue_data(q, ngx_http_collab_redis_op_t, queue);

        if (ngx_http_collab_redis_start(op) != NGX_OK) {
            ngx_http_collab_redis_complete(op,
                                           NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
        }
    }
}


static void
ngx_http_collab_redis_acquired(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                  *r = reply;
    ngx_http_collab_redis_op_t  *op = privdata;

    if (r == NULL) {
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);

    } else if (r->type == REDIS_REPLY_STATUS) {
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_OK);

    } else if (r->type == REDIS_REPLY_NIL) {
        if (op->lock && op->lock->stale) {
            /* perhaps our own key, left by a release that missed Redis */
            ngx_http_collab_redis_retake(op);
            return;
        }

        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_HELD);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_redis_worker.log, 0,
                      "collab: redis lock \"%V\": SET failed: %*s",
                      &op->key, r->type == REDIS_REPLY_ERROR ? r->len : 0,
                      r->str);
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
    }
}


static void
ngx_http_collab_redis_got(redisAsyncContext *ac, void *reply, void *privdata)
{
    size_t                       argvlen[3];
    u_char                       ttl[NGX_INT_T_LEN];
    const char                  *argv[3];
    redisReply                  *r = reply;
    ngx_http_collab_redis_op_t  *op = privdata;

    ngx_http_collab_redis_running = NULL;

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r) {
            (void) redisAsyncCommand(ac, NULL, NULL, "UNWATCH");
        }

        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
        ngx_http_collab_redis_next();
        return;
    }

    if (r->type != REDIS_REPLY_STRING
        || r->len != op->token.len
        || ngx_strncmp(r->str, op->token.data, op->token.len) != 0)
    {
        /* expired, or someone else's now */
        (void) redisAsyncCommand(ac, NULL, NULL, "UNWATCH");

        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_HELD);
        ngx_http_collab_redis_next();
        return;
    }

    argv[1] = (const char *) op->key.data;
    argvlen[1] = op->key.len;

    if (op->type != NGX_HTTP_COLLAB_LOCK_RELEASE) {
        argv[0] = "PEXPIRE";
        argvlen[0] = 7;
        argv[2] = (const char *) ttl;
        argvlen[2] = ngx_http_collab_redis_ttl(ttl);

    } else {
        argv[0] = "DEL";
        argvlen[0] = 3;
    }

    if (redisAsyncCommand(ac, NULL, NULL, "MULTI") != REDIS_OK
        || redisAsyncCommandArgv(ac, NULL, NULL,
                                 op->type != NGX_HTTP_COLLAB_LOCK_RELEASE
                                 ? 3 : 2, argv, argvlen)
           != REDIS_OK
        || redisAsyncCommand(ac, ngx_http_collab_redis_executed, op, "EXEC")
           != REDIS_OK)
    {
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
        ngx_http_collab_redis_next();
        return;
    }

    /* EXEC is on its way: the connection is free for the next WATCH */
    ngx_http_collab_redis_next();
}


static void
ngx_http_collab_redis_executed(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                  *r = reply;
    ngx_http_collab_redis_op_t  *op = privdata;

    if (r == NULL) {
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);

    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
               && r->element[0]->type == REDIS_REPLY_INTEGER)
    {
        /* 1: done; 0: the key vanished between GET and EXEC */
        ngx_http_collab_redis_complete(op, r->element[0]->integer == 1
                                           ? NGX_HTTP_COLLAB_LOCK_OK
                                           : NGX_HTTP_COLLAB_LOCK_HELD);

    } else if (r->type == REDIS_REPLY_NIL) {
        /* the watched key changed: not ours any more */
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_HELD);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_http_collab_redis_worker.log, 0,
                      "collab: redis lock \"%V\": unexpected EXEC reply "
                      "type %d", &op->key, r->type);
        ngx_http_collab_redis_complete(op, NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
    }
}


static void
ngx_http_collab_redis_complete(ngx_http_collab_redis_op_t *op,
    ngx_http_collab_lock_result_e rc)
{
    void                            *data;
    ngx_http_collab_redis_lock_t    *lock;
    ngx_http_collab_redis_stats_t   *s;
    ngx_http_collab_redis_lock_pt    handler;

    s = &ngx_http_collab_redis_worker.stats;

    if (rc == NGX_HTTP_COLLAB_LOCK_UNAVAILABLE) {
        s->lock_errors++;

    } else if (op->type == NGX_HTTP_COLLAB_LOCK_ACQUIRE
               || op->type == NGX_HTTP_COLLAB_LOCK_RETAKE)
    {
        if (rc == NGX_HTTP_COLLAB_LOCK_OK) {
            s->lock_acquired++;

        } else {
            s->lock_conflicts++;
        }

        if (op->type == NGX_HTTP_COLLAB_LOCK_RETAKE
            && rc == NGX_HTTP_COLLAB_LOCK_OK)
        {
            s->lock_retaken++;
        }

    } else if (op->type == NGX_HTTP_COLLAB_LOCK_EXTEND) {
        if (rc == NGX_HTTP_COLLAB_LOCK_OK) {
            s->lock_extended++;

        } else {
            s->lock_lost++;
        }

    } else if (rc == NGX_HTTP_COLLAB_LOCK_OK) {
        s->lock_released++;
    }

    lock = op->lock;

    if (lock == NULL) {
        /* forgotten by its owner: give back what was just gained */
        if (rc == NGX_HTTP_COLLAB_LOCK_OK
            && op->type != NGX_HTTP_COLLAB_LOCK_RELEASE)
        {
            op->type = NGX_HTTP_COLLAB_LOCK_RELEASE;
            op->handler = NULL;
            ngx_http_collab_redis_enqueue(op);
            return;
        }

        ngx_http_collab_redis_op_free(op);
        return;
    }

    lock->op = NULL;

    switch (op->type) {

    case NGX_HTTP_COLLAB_LOCK_ACQUIRE:
        if (rc == NGX_HTTP_COLLAB_LOCK_OK
            || (rc == NGX_HTTP_COLLAB_LOCK_UNAVAILABLE && !lock->stale))
        {
            /* unavailable: the SET may have been applied all the same */
            ngx_memcpy(lock->token, op->token.data, op->token.len);
            lock->token_len = op->token.len;
        }

        lock->held = (rc == NGX_HTTP_COLLAB_LOCK_OK);
        lock->stale = (rc == NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
        break;

    case NGX_HTTP_COLLAB_LOCK_RETAKE:
        /* unavailable: still stale, the next acquisition tries again */
        lock->held = (rc == NGX_HTTP_COLLAB_LOCK_OK);
        lock->stale = (rc == NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
        break;

    case NGX_HTTP_COLLAB_LOCK_EXTEND:
        if (rc == NGX_HTTP_COLLAB_LOCK_HELD) {
            lock->held = 0;
        }
        break;

    default: /* NGX_HTTP_COLLAB_LOCK_RELEASE */
        lock->stale = (rc == NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
        lock->held = 0;
        break;
    }

    handler = op->handler;
    data = op->data;

    ngx_http_collab_redis_op_free(op);

    if (handler) {
        handler(rc, data);
    }
}


/*
 * SET NX was refused while the lock is stale: if the key still carries
 * the lock's old token it is ours, and extending it under WATCH takes it
 * back.  Reported as the acquisition's outcome.
 */
static void
ngx_http_collab_redis_retake(ngx_http_collab_redis_op_t *op)
{
    ngx_http_collab_redis_lock_t  *lock;

    lock = op->lock;

    op->type = NGX_HTTP_COLLAB_LOCK_RETAKE;
    op->token.len = lock->token_len;
    ngx_memcpy(op->token.data, lock->token, lock->token_len);

    if (ngx_http_collab_redis_running == NULL) {
        if (ngx_http_collab_redis_start(op) != NGX_OK) {
            ngx_http_collab_redis_complete(op,
                                           NGX_HTTP_COLLAB_LOCK_UNAVAILABLE);
        }

        return;
    }

    ngx_queue_insert_tail(&ngx_http_collab_redis_queue, &op->queue);
    ngx_http_collab_redis_worker.stats.lock_queued++;
}


/* token->data has NGX_HTTP_COLLAB_REDIS_TOKEN_LEN bytes */
static ngx_int_t
ngx_http_collab_redis_token(ngx_str_t *token)
{
    u_char  *p;
    u_char   rnd[16];

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd)) {
        ngx_log_error(NGX_LOG_ALERT, ngx_http_collab_redis_worker.log,
                      ngx_errno, "collab: getrandom() failed");
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, "%xi-%xi-", (ngx_uint_t) ngx_pid,
                    ++ngx_http_collab_redis_tokens);
    p = ngx_hex_dump(p, rnd, sizeof(rnd));

    token->len = p - token->data;

    return NGX_OK;
}


static ngx_http_collab_redis_op_t *
ngx_http_collab_redis_op(ngx_http_collab_redis_lock_t *lock, ngx_str_t *key,
    ngx_str_t *token, ngx_http_collab_lock_op_e type)
{
    u_char                      *p;
    ngx_http_collab_redis_op_t  *op;

    /* room for any token: a retake swaps in the lock's old one */
    op = ngx_alloc(sizeof(ngx_http_collab_redis_op_t) + key->len
                   + NGX_HTTP_COLLAB_REDIS_TOKEN_LEN,
                   ngx_http_collab_redis_worker.log);
    if (op == NULL) {
        return NULL;
    }

    ngx_http_collab_redis_nops++;

    ngx_memzero(op, sizeof(ngx_http_collab_redis_op_t));

    op->lock = lock;
    op->type = type;

    p = (u_char *) (op + 1);

    op->key.data = p;
    op->key.len = key->len;
    p = ngx_cpymem(p, key->data, key->len);

    op->token.data = p;
    op->token.len = token->len;
    ngx_memcpy(p, token->data, token->len);

    return op;
}


static void
ngx_http_collab_redis_op_free(ngx_http_collab_redis_op_t *op)
{
    ngx_http_collab_redis_nops--;
    ngx_free(op);
}


static size_t
ngx_http_collab_redis_ttl(u_char *buf)
{
    ngx_msec_t  ttl;

    ttl = ngx_http_collab_redis_worker.cmcf->lock_ttl;

    return ngx_sprintf(buf, "%M", ttl) - buf;
}

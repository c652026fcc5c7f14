/*
 * Redis inside a worker: fan-out (PUBLISH/SUBSCRIBE) and per-document
 * locks without Lua.
 *
 * Each worker keeps three connections, each reconnected on its own with
 * exponential backoff and jitter:
 *   command    PUBLISH, SET NX PX (lock acquisition), other single
 *              commands, pipelined;
 *   subscribe  one channel per document with local subscribers (and
 *              presence channels), resubscribed after a reconnect;
 *   lock       the WATCH/GET/MULTI/EXEC sequences that extend or release
 *              a lock, strictly one sequence at a time.
 *
 * Nothing here calls back synchronously from inside a call made by the
 * caller: results arrive later from the event loop.  When a call returns
 * NGX_DECLINED, Redis is unavailable (not configured, or this connection
 * is down) and no callback will follow.
 */

#ifndef _NGX_HTTP_COLLAB_REDIS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_REDIS_H_INCLUDED_


#include "ngx_http_collab.h"

#include <hiredis/hiredis.h>


/* name kinds for ngx_http_collab_redis_name() */
#define NGX_HTTP_COLLAB_REDIS_DOC       "doc:"
#define NGX_HTTP_COLLAB_REDIS_PRESENCE  "presence:"
#define NGX_HTTP_COLLAB_REDIS_LOCK      "lock:"
#define NGX_HTTP_COLLAB_REDIS_SRC       "src:"
#define NGX_HTTP_COLLAB_REDIS_WORKER    "worker:"
#define NGX_HTTP_COLLAB_REDIS_CACHE     "cache:"

/* "<pid hex>-<counter hex>-<32 hex random>" */
#define NGX_HTTP_COLLAB_REDIS_TOKEN_LEN  64


typedef enum {
    NGX_HTTP_COLLAB_LOCK_OK = 0,      /* acquired, extended or released */
    NGX_HTTP_COLLAB_LOCK_HELD,        /* another holder has it / lost it */
    NGX_HTTP_COLLAB_LOCK_UNAVAILABLE  /* Redis down or an error reply */
} ngx_http_collab_lock_result_e;


typedef struct ngx_http_collab_redis_op_s  ngx_http_collab_redis_op_t;

/*
 * A message on a subscribed channel.  payload == NULL (len 0) instead
 * says that the subscription is now active in Redis (first time, or again
 * after a reconnect): what was published before may have been missed.
 */
typedef void (*ngx_http_collab_redis_message_pt)(ngx_str_t *channel,
    u_char *payload, size_t len, void *data);

/* the lock operation's outcome; see ngx_http_collab_lock_result_e */
typedef void (*ngx_http_collab_redis_lock_pt)(
    ngx_http_collab_lock_result_e rc, void *data);

/* reply == NULL: the connection failed before the reply arrived */
typedef void (*ngx_http_collab_redis_reply_pt)(redisReply *reply,
    void *data);

/* the subscription connection is back and every channel is active again */
typedef void (*ngx_http_collab_redis_event_pt)(void *data);


/*
 * A document lock, embedded by the caller (zeroed, then lock_init).  At
 * most one operation runs on it at a time (calls return NGX_BUSY
 * meanwhile).  "held" is this worker's belief, updated before each
 * callback.
 */
typedef struct {
    ngx_str_t                      key;     /* <prefix>lock:<doc>, heap */
    u_char                         token[NGX_HTTP_COLLAB_REDIS_TOKEN_LEN];
    size_t                         token_len;
    ngx_http_collab_redis_op_t    *op;      /* the operation in flight */
    unsigned                       held:1;
    unsigned                       stale:1; /* a release missed Redis */
} ngx_http_collab_redis_lock_t;


/* configuration */
char *ngx_http_collab_redis_set_addr(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_collab_redis_init_module(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);

/* worker lifetime (called by the module) */
ngx_int_t ngx_http_collab_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_redis_exit_process(ngx_cycle_t *cycle);

/* whether collab_redis is configured: without it, one worker needs none */
ngx_uint_t ngx_http_collab_redis_enabled(void);

/*
 * <prefix><kind><name>, kind one of the NGX_HTTP_COLLAB_REDIS_* names.
 * Allocated from pool, or with ngx_alloc() when pool is NULL (the caller
 * then frees out->data with ngx_free()).
 */
ngx_int_t ngx_http_collab_redis_name(ngx_pool_t *pool, const char *kind,
    ngx_str_t *name, ngx_str_t *out);

/*
 * PUBLISH, signed (ngx_http_collab_redis_sign.c), pipelined on the command
 * connection; failures are counted.  The payload is copied before
 * returning.  _publish is fire and forget; _publish_cb calls handler with
 * the reply (the number of receivers) as _command does.
 */
ngx_int_t ngx_http_collab_redis_publish(ngx_str_t *channel, u_char *payload,
    size_t len);
ngx_int_t ngx_http_collab_redis_publish_cb(ngx_str_t *channel,
    u_char *payload, size_t len, ngx_http_collab_redis_reply_pt handler,
    void *data);

/*
 * What this deployment writes to Redis is signed (ngx_http_collab_redis_
 * sign.c): sign returns "<signature>.<payload>" for a channel or key name
 * in a buffer of its own, valid until the next call (NULL: out of memory);
 * verify points *payload past a valid signature, or says NGX_DECLINED.
 */
u_char *ngx_http_collab_redis_sign(ngx_str_t *name, u_char *payload,
    size_t len, size_t *out_len);
ngx_int_t ngx_http_collab_redis_verify(ngx_str_t *name, u_char **payload,
    size_t *len);

/* any other single command on the command connection; handler may be NULL */
ngx_int_t ngx_http_collab_redis_command(int argc, const char **argv,
    const size_t *argvlen, ngx_http_collab_redis_reply_pt handler,
    void *data);

/*
 * Subscribers are counted per channel (the full name, see _name()); the
 * channel is subscribed in Redis while it has one.  Returns NGX_OK if the
 * channel is already active, NGX_AGAIN if the handler will receive the
 * "active" notification (payload NULL) later, NGX_DECLINED without Redis,
 * NGX_ERROR on allocation failure.  A handler may unsubscribe itself.
 * Handlers get only messages signed by this deployment (the signature
 * removed), or with unsigned_ok also unsigned ones (hints that carry no
 * authority, such as the role change notice).
 */
ngx_int_t ngx_http_collab_redis_subscribe(ngx_str_t *channel,
    ngx_http_collab_redis_message_pt handler, void *data,
    ngx_uint_t unsigned_ok);
void ngx_http_collab_redis_unsubscribe(ngx_str_t *channel,
    ngx_http_collab_redis_message_pt handler, void *data);

/* called after each reconnect of the subscription connection */
void ngx_http_collab_redis_on_resubscribed(
    ngx_http_collab_redis_event_pt handler, void *data);

/*
 * Lock events: "reconnected" after the command or the lock connection
 * came back (locks may be re-checked, waits on them cut short);
 * "shutdown" once when the worker begins a graceful exit (reload, QUIT)
 * while Redis is connected: locks should be released now.
 */
void ngx_http_collab_redis_on_lock_events(
    ngx_http_collab_redis_event_pt reconnected,
    ngx_http_collab_redis_event_pt shutdown, void *data);

/*
 * Locks: SET key token NX PX ttl to acquire; extend and release check the
 * token under WATCH and then PEXPIRE / DEL inside MULTI/EXEC.  The TTL is
 * collab_lock_ttl.  Each returns NGX_OK (the handler will be called),
 * NGX_BUSY (an operation on this lock is in flight, or acquire while
 * held), NGX_DECLINED (Redis unavailable now) or NGX_ERROR.  handler may
 * be NULL for release.  Extending or releasing a lock this worker does
 * not hold (any more) reports NGX_HTTP_COLLAB_LOCK_HELD.  Releasing a
 * stale lock (not held, see "stale") deletes the key if it still carries
 * the old token.
 */
ngx_int_t ngx_http_collab_redis_lock_init(ngx_http_collab_redis_lock_t *lock,
    ngx_str_t *doc);
ngx_int_t ngx_http_collab_redis_lock_acquire(
    ngx_http_collab_redis_lock_t *lock, ngx_http_collab_redis_lock_pt handler,
    void *data);
ngx_int_t ngx_http_collab_redis_lock_extend(
    ngx_http_collab_redis_lock_t *lock, ngx_http_collab_redis_lock_pt handler,
    void *data);
ngx_int_t ngx_http_collab_redis_lock_release(
    ngx_http_collab_redis_lock_t *lock, ngx_http_collab_redis_lock_pt handler,
    void *data);

/*
 * Forgets the lock: an operation in flight completes without its handler
 * (an acquisition that succeeds is released), a held or stale lock is
 * released in the background, and lock->key is freed.  The lock memory
 * may then go.
 */
void ngx_http_collab_redis_lock_free(ngx_http_collab_redis_lock_t *lock);

/* lock operations not completed yet (a draining worker waits for them) */
ngx_uint_t ngx_http_collab_redis_lock_pending(void);


#endif /* _NGX_HTTP_COLLAB_REDIS_H_INCLUDED_ */

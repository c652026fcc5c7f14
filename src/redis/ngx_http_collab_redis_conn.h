/*
 * Internal to src/redis: the worker's three connections and counters,
 * shared by the connection manager, pub/sub and locks.
 */

#ifndef _NGX_HTTP_COLLAB_REDIS_CONN_H_INCLUDED_
#define _NGX_HTTP_COLLAB_REDIS_CONN_H_INCLUDED_


#include "ngx_http_collab.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


typedef enum {
    NGX_HTTP_COLLAB_REDIS_CMD = 0,
    NGX_HTTP_COLLAB_REDIS_SUB,
    NGX_HTTP_COLLAB_REDIS_LCK,
    NGX_HTTP_COLLAB_REDIS_NCONN
} ngx_http_collab_redis_conn_e;


typedef enum {
    NGX_HTTP_COLLAB_REDIS_DOWN = 0,
    NGX_HTTP_COLLAB_REDIS_CONNECTING,
    NGX_HTTP_COLLAB_REDIS_UP
} ngx_http_collab_redis_state_e;


typedef struct {
    redisAsyncContext             *ac;
    const char                    *name;
    ngx_http_collab_redis_state_e  state;
    ngx_uint_t                     failures;    /* in a row: the backoff */
    ngx_event_t                    retry;
    ngx_event_t                    timeout;     /* connect timeout */
    unsigned                       authing:1;   /* hello unanswered */
    unsigned                       refused:1;   /* AUTH or ROLE said no */
    unsigned                       waiting:1;   /* for the Sentinels */

    uint64_t                       connects;
    uint64_t                       disconnects;
    uint64_t                       failed;      /* attempts that failed */
} ngx_http_collab_redis_conn_t;


typedef struct {
    uint64_t                       publishes;
    uint64_t                       publish_errors;   /* error replies */
    uint64_t                       publish_dropped;  /* not sent */
    uint64_t                       messages;         /* received */
    uint64_t                       forged;           /* bad signature */
    uint64_t                       commands;
    uint64_t                       command_errors;
    uint64_t                       resubscribes;

    uint64_t                       lock_acquired;
    uint64_t                       lock_conflicts;
    uint64_t                       lock_extended;
    uint64_t                       lock_lost;
    uint64_t                       lock_released;
    uint64_t                       lock_retaken;     /* stale, ours again */
    uint64_t                       lock_errors;

    ngx_uint_t                     channels;         /* registered */
    ngx_uint_t                     lock_queued;      /* WATCH queue */
} ngx_http_collab_redis_stats_t;


typedef struct {
    ngx_http_collab_main_conf_t   *cmcf;
    ngx_log_t                     *log;
    ngx_http_collab_redis_conn_t   conn[NGX_HTTP_COLLAB_REDIS_NCONN];
    ngx_http_collab_redis_stats_t  stats;
    ngx_uint_t                     enabled;
    ngx_uint_t                     exiting;          /* exit_process */

    /* the server connected to: collab_redis's, or the Sentinels' master */
    ngx_http_collab_redis_addr_t   master;
    ngx_uint_t                     master_known;
    u_char                         master_host[NGX_SOCKADDR_STRLEN + 1];
    ngx_uint_t                     shutting_down;    /* graceful exit */
} ngx_http_collab_redis_worker_t;


extern ngx_http_collab_redis_worker_t  ngx_http_collab_redis_worker;


/* connected (and said hello): the connection is used from now on */
void ngx_http_collab_redis_up(ngx_http_collab_redis_conn_t *conn,
    const redisAsyncContext *ac);

/*
 * The first exchange on a new connection (ngx_http_collab_redis_hello.c):
 * AUTH when there is a password, ROLE when the Sentinels named the
 * server (it must still be the master); then ngx_http_collab_redis_up(),
 * or a disconnect with conn->refused set.
 */
void ngx_http_collab_redis_hello(ngx_http_collab_redis_conn_t *conn,
    redisAsyncContext *ac);

/*
 * Sentinels (ngx_http_collab_redis_sentinel.c): ask them, one after the
 * other, where the master is; the answer comes back through
 * ngx_http_collab_redis_master_found() or _master_unknown(), later.
 */
void ngx_http_collab_redis_sentinel_init(void);
void ngx_http_collab_redis_sentinel_ask(void);
void ngx_http_collab_redis_sentinel_exit(void);
void ngx_http_collab_redis_master_moved(void);
void ngx_http_collab_redis_master_found(u_char *host, size_t len,
    ngx_uint_t port, ngx_http_collab_redis_addr_t *by);
void ngx_http_collab_redis_master_unknown(const char *reason);

/* the bus's key (ngx_http_collab_redis_sign.c) */
ngx_int_t ngx_http_collab_redis_sign_init(ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_redis_sign_exit(void);


/* the context of a connection that is up, or NULL */
redisAsyncContext *ngx_http_collab_redis_ready(ngx_uint_t conn);

void ngx_http_collab_redis_pubsub_init(void);
void ngx_http_collab_redis_pubsub_up(void);
void ngx_http_collab_redis_pubsub_down(void);
void ngx_http_collab_redis_pubsub_exit(void);

/* called by the adapter: ngx_close_idle_connections() reached us */
void ngx_http_collab_redis_shutdown(void);

void ngx_http_collab_redis_lock_init_process(void);
void ngx_http_collab_redis_lock_down(void);


#endif /* _NGX_HTTP_COLLAB_REDIS_CONN_H_INCLUDED_ */

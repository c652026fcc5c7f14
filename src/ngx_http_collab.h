/*
 * ngx_http_collab_module: shared declarations.
 *
 * The module configuration lives here so that every subsystem (WebSocket
 * sessions, PostgreSQL store, Redis, document registry) reads the same
 * structures.  Pure engine code (src/engine, src/ws/collab_*, and
 * src/protocol/collab_*) never includes this file.
 */

#ifndef _NGX_HTTP_COLLAB_H_INCLUDED_
#define _NGX_HTTP_COLLAB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_COLLAB_VERSION  "0.1.0"


/* a Redis server or Sentinel: an address, never a name (NUL-ended) */
typedef struct {
    ngx_str_t                  host;             /* or a unix socket path */
    ngx_uint_t                 port;             /* 0: unix socket */
} ngx_http_collab_redis_addr_t;


/* http{} level: settings that own per-worker external connections */
typedef struct {
    ngx_str_t                  pg_conninfo;      /* collab_postgres */
    ngx_uint_t                 pg_pool_size;     /* collab_postgres_pool */
    ngx_uint_t                 pg_queue_size;    /* collab_postgres_queue */
    ngx_msec_t                 pg_timeout;       /* collab_postgres_timeout */
    ngx_uint_t                 snapshot_interval; /* collab_snapshot_interval */
    ngx_uint_t                 max_op_lag;       /* collab_max_op_lag */
    ngx_msec_t                 commit_wait;      /* collab_commit_wait */
    ngx_msec_t                 access_ttl;       /* collab_access_cache_ttl */

    ngx_str_t                  redis_addr;       /* collab_redis, as said */
    ngx_http_collab_redis_addr_t  redis_server;  /* without Sentinels */
    ngx_str_t                  redis_sentinel_name;  /* sentinel= */
    ngx_array_t               *redis_sentinels;  /* of ..._redis_addr_t */
    ngx_str_t                  redis_user;       /* user=, NUL-ended */
    ngx_str_t                  redis_password;   /* password(_file)= */
    ngx_str_t                  redis_prefix;     /* collab_redis_prefix */
    ngx_msec_t                 redis_connect_timeout;
                                       /* collab_redis_connect_timeout */
    ngx_msec_t                 lock_ttl;         /* collab_lock_ttl */
    ngx_str_t                  src_secret;       /* collab_src_secret */
    ngx_flag_t                 cache;            /* collab_cache */
    ngx_msec_t                 cache_ttl;        /* collab_cache_ttl */

    ngx_flag_t                 enabled;          /* any collab location */
    ngx_flag_t                 api;              /* any collab_api location */
} ngx_http_collab_main_conf_t;


/* location level: who may ask (src/auth/ngx_http_collab_auth.h) */
typedef struct {
    ngx_flag_t                 enabled;          /* collab_auth_jwt */
    ngx_array_t               *keys;             /* collab_auth_jwt_key_file */
    ngx_str_t                  issuer;           /* collab_auth_jwt_issuer */
    ngx_array_t               *audience;         /* collab_auth_jwt_audience */
    time_t                     leeway;           /* collab_auth_jwt_leeway */
    ngx_str_t                  cookie;           /* collab_auth_jwt_cookie */
    ngx_str_t                  arg;              /* collab_auth_jwt_arg */
    ngx_flag_t                 close;            /* collab_auth_jwt_close */
    ngx_str_t                  admin_claim;      /* collab_auth_admin_claim */
    ngx_str_t                  admin_value;

    /* $cookie_<cookie> and $arg_<arg>, resolved once; NGX_ERROR: off */
    ngx_int_t                  cookie_index;
    ngx_int_t                  arg_index;
} ngx_http_collab_auth_conf_t;


/* location level: collab_limit_ops (protocol/ngx_http_collab_limit_ops.h) */
typedef struct {
    ngx_shm_zone_t            *zone;             /* NULL: not limited */
    ngx_uint_t                 burst;            /* ops */
    ngx_uint_t                 presence_rate;    /* 1/1000 r/s; 0: any */
    ngx_uint_t                 presence_burst;
    ngx_uint_t                 abuse;            /* refusals; 0: never */
} ngx_http_collab_limit_conf_t;


/* location level: the WebSocket endpoint */
typedef struct {
    ngx_flag_t                 websocket;        /* collab_websocket */
    size_t                     max_message_size; /* collab_max_message_size */
    size_t                     send_queue_limit; /* collab_send_queue_limit */
    ngx_msec_t                 ping_interval;    /* collab_ping_interval */
    ngx_msec_t                 pong_timeout;     /* collab_pong_timeout */
    ngx_msec_t                 send_timeout;     /* collab_send_timeout */
    ngx_array_t               *allowed_origins;  /* collab_allowed_origins */
    ngx_flag_t                 api;              /* collab_api */

    /* per connection, enforced by the ShareDB session */
    ngx_uint_t                 max_subscriptions;
                                       /* collab_max_subscriptions */
    ngx_uint_t                 max_ops_in_flight;
                                       /* collab_max_ops_in_flight */
    ngx_uint_t                 max_presence_channels;
                                       /* collab_max_presence_channels */
    size_t                     max_presence_size;
                                       /* collab_max_presence_size */

    ngx_http_collab_auth_conf_t  auth;
    ngx_http_collab_limit_conf_t limit;

    /* collab_collection_role: ngx_http_collab_collection_role_t, or NULL */
    ngx_array_t               *collection_roles;

    /* the built-in sign-in (src/auth/ngx_http_collab_login.h) */
    ngx_flag_t                 login;            /* collab_auth_login */
    time_t                     login_ttl;        /* collab_auth_login_ttl */
    ngx_flag_t                 login_signup;     /* collab_auth_login_signup */
    void                      *login_pool;       /* ngx_thread_pool_t */

    ngx_uint_t                 health;           /* collab_health */
} ngx_http_collab_loc_conf_t;


extern ngx_module_t  ngx_http_collab_module;


/*
 * A small file named in the configuration (a key, a password): its bytes,
 * NUL-ended, from cf->pool; the name is made absolute; nginx -t messages
 * call it what.
 */
ngx_int_t ngx_http_collab_conf_read_file(ngx_conf_t *cf, ngx_str_t *file,
    size_t max, const char *what, ngx_str_t *out);


#endif /* _NGX_HTTP_COLLAB_H_INCLUDED_ */

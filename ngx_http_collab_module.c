/*
 * ngx_http_collab_module: real-time collaborative editing inside nginx.
 *
 * This file holds the module definition, its directives, configuration
 * create/merge and the worker init/exit hooks.  The work itself lives in
 * src/: ws/ (WebSocket sessions), protocol/ (ShareDB messages), doc/ (the
 * per-worker document registry and commit path), store/ (PostgreSQL) and
 * redis/ (pub/sub fan-out and locks).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"
#include "store/ngx_http_collab_pg.h"
#include "redis/ngx_http_collab_redis.h"
#include "status/ngx_http_collab_status.h"
#include "api/ngx_http_collab_api.h"
#include "doc/ngx_http_collab_doc.h"
#include "cache/ngx_http_collab_cache.h"
#include "protocol/ngx_http_collab_presence.h"
#include "protocol/ngx_http_collab_src.h"
#include "protocol/ngx_http_collab_src_live.h"
#include "auth/ngx_http_collab_auth.h"
#include "access/ngx_http_collab_access.h"
#include "auth/ngx_http_collab_login.h"
#include "status/ngx_http_collab_health.h"
#include "protocol/ngx_http_collab_limit_ops.h"


static void *ngx_http_collab_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_collab_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_collab_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_collab_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_collab_websocket(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_collab_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_collab_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_collab_init_process(ngx_cycle_t *cycle);
static void ngx_http_collab_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_collab_commands[] = {

    { ngx_string("collab_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, pg_conninfo),
      NULL },

    { ngx_string("collab_postgres_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, pg_pool_size),
      NULL },

    { ngx_string("collab_postgres_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, pg_queue_size),
      NULL },

    { ngx_string("collab_postgres_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, pg_timeout),
      NULL },

    { ngx_string("collab_snapshot_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, snapshot_interval),
      NULL },

    { ngx_string("collab_max_op_lag"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, max_op_lag),
      NULL },

    { ngx_string("collab_commit_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, commit_wait),
      NULL },

    { ngx_string("collab_access_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, access_ttl),
      NULL },

    { ngx_string("collab_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_collab_redis_set_addr,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_redis_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, redis_connect_timeout),
      NULL },

    { ngx_string("collab_lock_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, lock_ttl),
      NULL },

    { ngx_string("collab_redis_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, redis_prefix),
      NULL },

    { ngx_string("collab_src_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_collab_src_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, cache),
      NULL },

    { ngx_string("collab_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_collab_main_conf_t, cache_ttl),
      NULL },

    { ngx_string("collab_websocket"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_collab_websocket,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_collab_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_collab_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_max_message_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, max_message_size),
      NULL },

    { ngx_string("collab_send_queue_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, send_queue_limit),
      NULL },

    { ngx_string("collab_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, ping_interval),
      NULL },

    { ngx_string("collab_pong_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, pong_timeout),
      NULL },

    { ngx_string("collab_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, send_timeout),
      NULL },

    { ngx_string("collab_allowed_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_collab_ws_allowed_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, allowed_origins),
      NULL },

    { ngx_string("collab_max_subscriptions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, max_subscriptions),
      NULL },

    { ngx_string("collab_max_ops_in_flight"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, max_ops_in_flight),
      NULL },

    { ngx_string("collab_max_presence_channels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, max_presence_channels),
      NULL },

    { ngx_string("collab_max_presence_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, max_presence_size),
      NULL },

    { ngx_string("collab_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_collab_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_auth_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, auth.enabled),
      NULL },

    { ngx_string("collab_auth_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_collab_auth_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_auth_jwt_jwks_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_collab_auth_jwks_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_auth_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, auth.issuer),
      NULL },

    { ngx_string("collab_auth_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_collab_auth_audience,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_auth_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, auth.leeway),
      NULL },

    { ngx_string("collab_auth_jwt_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, auth.cookie),
      NULL },

    { ngx_string("collab_auth_jwt_close"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, auth.close),
      NULL },

    { ngx_string("collab_auth_admin_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_collab_auth_admin_claim,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_auth_login"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_collab_login,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_auth_login_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, login_ttl),
      NULL },

    { ngx_string("collab_auth_login_signup"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, login_signup),
      NULL },

    { ngx_string("collab_collection_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_collab_access_collection_role,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_limit_ops_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_collab_limit_ops_zone,
      0,
      0,
      NULL },

    { ngx_string("collab_limit_ops"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_collab_limit_ops,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("collab_auth_jwt_arg"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_collab_loc_conf_t, auth.arg),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_collab_module_ctx = {
    ngx_http_collab_auth_add_variables,    /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_collab_create_main_conf,      /* create main configuration */
    ngx_http_collab_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_collab_create_loc_conf,       /* create location configuration */
    ngx_http_collab_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_collab_module = {
    NGX_MODULE_V1,
    &ngx_http_collab_module_ctx,           /* module context */
    ngx_http_collab_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_collab_init_module,           /* init module */
    ngx_http_collab_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_collab_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_collab_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_collab_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_collab_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->pg_conninfo = { 0, NULL };
     *     cmcf->redis_addr = { 0, NULL };
     *     cmcf->redis_prefix = { 0, NULL };
     *     cmcf->src_secret = { 0, NULL };
     */

    cmcf->pg_pool_size = NGX_CONF_UNSET_UINT;
    cmcf->pg_queue_size = NGX_CONF_UNSET_UINT;
    cmcf->pg_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->snapshot_interval = NGX_CONF_UNSET_UINT;
    cmcf->max_op_lag = NGX_CONF_UNSET_UINT;
    cmcf->commit_wait = NGX_CONF_UNSET_MSEC;
    cmcf->access_ttl = NGX_CONF_UNSET_MSEC;
    cmcf->redis_connect_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->lock_ttl = NGX_CONF_UNSET_MSEC;
    cmcf->cache = NGX_CONF_UNSET;
    cmcf->cache_ttl = NGX_CONF_UNSET_MSEC;
    cmcf->enabled = NGX_CONF_UNSET;
    cmcf->api = NGX_CONF_UNSET;

    return cmcf;
}


static char *
ngx_http_collab_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_collab_main_conf_t  *cmcf = conf;

    ngx_conf_init_uint_value(cmcf->pg_pool_size, 4);
    ngx_conf_init_uint_value(cmcf->pg_queue_size, 1024);
    ngx_conf_init_msec_value(cmcf->pg_timeout, 10000);
    ngx_conf_init_uint_value(cmcf->snapshot_interval, 100);
    ngx_conf_init_uint_value(cmcf->max_op_lag, 100000);
    ngx_conf_init_msec_value(cmcf->commit_wait, 30000);
    ngx_conf_init_msec_value(cmcf->access_ttl, 30000);

    /* a role that expires as it is stored would be asked for forever */
    if (cmcf->access_ttl < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_access_cache_ttl\" must be at "
                           "least 1s");
        return NGX_CONF_ERROR;
    }
    ngx_conf_init_value(cmcf->enabled, 0);
    ngx_conf_init_value(cmcf->api, 0);

    if (cmcf->pg_pool_size == 0 || cmcf->pg_pool_size > 64) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_postgres_pool\" must be "
                           "between 1 and 64, not %ui", cmcf->pg_pool_size);
        return NGX_CONF_ERROR;
    }

    if (cmcf->pg_queue_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_postgres_queue\" must be at "
                           "least 1");
        return NGX_CONF_ERROR;
    }

    if (cmcf->pg_timeout == 0 || cmcf->snapshot_interval == 0
        || cmcf->max_op_lag == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_postgres_timeout\", "
                           "\"collab_snapshot_interval\" and "
                           "\"collab_max_op_lag\" must not be 0");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_collab_pg_check_conf(cf, cmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (cmcf->pg_conninfo.data == NULL) {

        /* a history endpoint without a database can only ever fail */
        if (cmcf->api) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "collab: \"collab_api\" requires "
                               "\"collab_postgres\"");
            return NGX_CONF_ERROR;
        }

        /* WebSockets still work (handshake, ping) but nothing persists */
        if (cmcf->enabled) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "collab: \"collab_postgres\" is not set: "
                               "documents cannot be loaded or committed");
        }
    }

    if (cmcf->redis_prefix.data == NULL) {
        ngx_str_set(&cmcf->redis_prefix, "collab:");
    }

    ngx_conf_init_msec_value(cmcf->redis_connect_timeout, 3000);
    ngx_conf_init_msec_value(cmcf->lock_ttl, 5000);

    if (cmcf->redis_connect_timeout == 0 || cmcf->lock_ttl < 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_redis_connect_timeout\" must "
                           "not be 0 and \"collab_lock_ttl\" must be at "
                           "least 100ms");
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_value(cmcf->cache, 0);
    ngx_conf_init_msec_value(cmcf->cache_ttl, 600000);

    if (cmcf->cache && cmcf->redis_addr.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_cache on\" needs "
                           "\"collab_redis\"");
        return NGX_CONF_ERROR;
    }

    if (cmcf->cache_ttl < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_cache_ttl\" must be at "
                           "least 1s");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_collab_src_init_conf(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_collab_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_collab_loc_conf_t  *clcf;

    clcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_collab_loc_conf_t));
    if (clcf == NULL) {
        return NULL;
    }

    clcf->websocket = NGX_CONF_UNSET;
    clcf->max_message_size = NGX_CONF_UNSET_SIZE;
    clcf->send_queue_limit = NGX_CONF_UNSET_SIZE;
    clcf->ping_interval = NGX_CONF_UNSET_MSEC;
    clcf->pong_timeout = NGX_CONF_UNSET_MSEC;
    clcf->send_timeout = NGX_CONF_UNSET_MSEC;
    clcf->allowed_origins = NGX_CONF_UNSET_PTR;
    clcf->api = NGX_CONF_UNSET;
    clcf->max_subscriptions = NGX_CONF_UNSET_UINT;
    clcf->max_ops_in_flight = NGX_CONF_UNSET_UINT;
    clcf->max_presence_channels = NGX_CONF_UNSET_UINT;
    clcf->max_presence_size = NGX_CONF_UNSET_SIZE;
    clcf->collection_roles = NGX_CONF_UNSET_PTR;
    clcf->login = NGX_CONF_UNSET;
    clcf->login_ttl = NGX_CONF_UNSET;
    clcf->login_signup = NGX_CONF_UNSET;

    ngx_http_collab_auth_create_conf(&clcf->auth);
    ngx_http_collab_limit_ops_create_conf(&clcf->limit);

    return clcf;
}


static char *
ngx_http_collab_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_collab_loc_conf_t  *prev = parent;
    ngx_http_collab_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->websocket, prev->websocket, 0);
    ngx_conf_merge_size_value(conf->max_message_size,
                              prev->max_message_size, 1024 * 1024);
    ngx_conf_merge_size_value(conf->send_queue_limit,
                              prev->send_queue_limit, 4 * 1024 * 1024);
    ngx_conf_merge_msec_value(conf->ping_interval, prev->ping_interval,
                              30000);
    ngx_conf_merge_msec_value(conf->pong_timeout, prev->pong_timeout,
                              10000);
    ngx_conf_merge_msec_value(conf->send_timeout, prev->send_timeout,
                              60000);
    ngx_conf_merge_ptr_value(conf->allowed_origins, prev->allowed_origins,
                             NULL);
    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_uint_value(conf->max_subscriptions,
                              prev->max_subscriptions, 1000);
    ngx_conf_merge_uint_value(conf->max_ops_in_flight,
                              prev->max_ops_in_flight, 256);
    ngx_conf_merge_uint_value(conf->max_presence_channels,
                              prev->max_presence_channels, 100);
    ngx_conf_merge_size_value(conf->max_presence_size,
                              prev->max_presence_size, 16 * 1024);
    ngx_conf_merge_ptr_value(conf->collection_roles, prev->collection_roles,
                             NULL);
    ngx_http_collab_limit_ops_merge_conf(&prev->limit, &conf->limit);

    if (conf->max_message_size < 125) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_max_message_size\" must be at "
                           "least 125 bytes");
        return NGX_CONF_ERROR;
    }

    /* 0 would refuse every subscription, op or presence */
    if (conf->max_subscriptions == 0 || conf->max_ops_in_flight == 0
        || conf->max_presence_channels == 0 || conf->max_presence_size == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_max_subscriptions\", "
                           "\"collab_max_ops_in_flight\", "
                           "\"collab_max_presence_channels\" and "
                           "\"collab_max_presence_size\" must not be 0");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_collab_auth_merge_conf(cf, &prev->auth, &conf->auth)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_collab_login_merge(cf, prev, conf);
}


static char *
ngx_http_collab_websocket(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_http_core_loc_conf_t     *hclcf;
    ngx_http_collab_main_conf_t  *cmcf;

    if (clcf->websocket != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf->websocket = 1;

    hclcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    hclcf->handler = ngx_http_collab_ws_handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_collab_module);
    cmcf->enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_collab_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_http_core_loc_conf_t     *hclcf;
    ngx_http_collab_main_conf_t  *cmcf;

    if (clcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf->api = 1;

    hclcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    hclcf->handler = ngx_http_collab_api_handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_collab_module);
    cmcf->enabled = 1;
    cmcf->api = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_collab_init_module(ngx_cycle_t *cycle)
{
    ngx_http_collab_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_collab_module);
    if (cmcf == NULL || !cmcf->enabled) {
        return NGX_OK;
    }

    return ngx_http_collab_redis_init_module(cycle, cmcf);
}


static ngx_int_t
ngx_http_collab_init_process(ngx_cycle_t *cycle)
{
    ngx_http_collab_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_collab_module);
    if (cmcf == NULL || !cmcf->enabled) {
        return NGX_OK;
    }

    ngx_http_collab_src_init_process(cmcf);

    if (ngx_http_collab_login_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_ws_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_pg_init_process(cycle, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_redis_init_process(cycle, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_cache_init_process(cycle, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_doc_init_process(cycle, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_presence_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_collab_limit_ops_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_collab_src_live_init_process(cycle);

    return ngx_http_collab_access_init_process(cycle, cmcf);
}


static void
ngx_http_collab_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_collab_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_collab_module);
    if (cmcf == NULL || !cmcf->enabled) {
        return;
    }

    /* sessions go first: closing them unlinks them from the documents */
    ngx_http_collab_ws_exit_process(cycle);
    ngx_http_collab_presence_exit_process(cycle);
    ngx_http_collab_src_live_exit_process(cycle);
    ngx_http_collab_access_exit_process(cycle);
    ngx_http_collab_doc_exit_process(cycle);
    ngx_http_collab_redis_exit_process(cycle);
    ngx_http_collab_pg_exit_process(cycle);
}


ngx_int_t
ngx_http_collab_conf_read_file(ngx_conf_t *cf, ngx_str_t *file, size_t max,
    const char *what, ngx_str_t *out)
{
    ssize_t          n;
    ngx_int_t        rc;
    ngx_file_t       f;
    ngx_file_info_t  fi;

    if (ngx_conf_full_name(cf->cycle, file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.name = *file;
    f.log = cf->log;
    f.fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (f.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "collab: cannot open %s \"%V\"", what, file);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR
        || (size_t) ngx_file_size(&fi) > max)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: %s \"%V\" is not a regular file of at "
                           "most %uz bytes", what, file, max);
        goto done;
    }

    out->data = ngx_pnalloc(cf->pool, (size_t) ngx_file_size(&fi) + 1);
    if (out->data == NULL) {
        goto done;
    }

    n = ngx_read_file(&f, out->data, (size_t) ngx_file_size(&fi), 0);

    if (n != (ssize_t) ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "collab: cannot read %s \"%V\"", what, file);
        goto done;
    }

    out->len = (size_t) n;
    out->data[out->len] = '\0';
    rc = NGX_OK;

done:

    if (ngx_close_file(f.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", file);
    }

    return rc;
}

/*
 * Op and presence rate limits of WebSocket sessions (collab_limit_ops_zone,
 * collab_limit_ops): a leaky bucket per user (or client address) in a
 * shared memory zone, so every worker of a host counts against the same
 * bucket (ngx_http_collab_limit_ops.c, docs/directives.md).
 */

#ifndef _NGX_HTTP_COLLAB_LIMIT_OPS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_LIMIT_OPS_H_INCLUDED_


#include "ngx_http_collab.h"
#include "protocol/collab_msg.h"
#include "protocol/ngx_http_collab_session.h"


#define NGX_HTTP_COLLAB_ERR_RATE_LIMITED  "ERR_RATE_LIMITED"

/* the close code of a socket that keeps going past its burst */
#define NGX_HTTP_COLLAB_LIMIT_CLOSE       4429

/* refusals are counted towards the close within this window */
#define NGX_HTTP_COLLAB_LIMIT_WINDOW      10000


char *ngx_http_collab_limit_ops_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_collab_limit_ops(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_collab_limit_ops_create_conf(ngx_http_collab_limit_conf_t *lc);
void ngx_http_collab_limit_ops_merge_conf(ngx_http_collab_limit_conf_t *prev,
    ngx_http_collab_limit_conf_t *conf);
ngx_int_t ngx_http_collab_limit_ops_init_process(ngx_cycle_t *cycle);

/*
 * A decoded message of s, once (on arrival, or when first processed):
 * NGX_OK to go on; NGX_AGAIN to process it *delay ms from now, behind
 * nothing new; NGX_DONE when it was refused (answered ERR_RATE_LIMITED or
 * the socket closed with 4429) or dropped (presence).
 */
ngx_int_t ngx_http_collab_limit_ops_check(ngx_http_collab_session_t *s,
    collab_msg_t *msg, ngx_msec_t *delay);


#endif /* _NGX_HTTP_COLLAB_LIMIT_OPS_H_INCLUDED_ */

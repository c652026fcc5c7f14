/*
 * PLACEHOLDER: replaced by the owner of src/ws/.
 */

#ifndef _NGX_HTTP_COLLAB_WS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_WS_H_INCLUDED_


#include "ngx_http_collab.h"


ngx_int_t ngx_http_collab_ws_init_process(ngx_cycle_t *cycle);
void ngx_http_collab_ws_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_collab_ws_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COLLAB_WS_H_INCLUDED_ */

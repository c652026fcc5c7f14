/* PLACEHOLDER: replaced by the owner of src/ws/. */

#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"


ngx_int_t
ngx_http_collab_ws_init_process(ngx_cycle_t *cycle)
{
    return NGX_OK;
}


void
ngx_http_collab_ws_exit_process(ngx_cycle_t *cycle)
{
}


ngx_int_t
ngx_http_collab_ws_handler(ngx_http_request_t *r)
{
    return NGX_HTTP_NOT_IMPLEMENTED;
}

/* PLACEHOLDER: replaced by the owner of src/store/. */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_pg.h"


ngx_int_t
ngx_http_collab_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    return NGX_OK;
}


void
ngx_http_collab_pg_exit_process(ngx_cycle_t *cycle)
{
}

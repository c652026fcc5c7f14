/* PLACEHOLDER: replaced by the owner of src/redis/. */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"


ngx_int_t
ngx_http_collab_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    return NGX_OK;
}


void
ngx_http_collab_redis_exit_process(ngx_cycle_t *cycle)
{
}

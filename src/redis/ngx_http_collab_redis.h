/*
 * PLACEHOLDER: replaced by the owner of src/redis/.
 */

#ifndef _NGX_HTTP_COLLAB_REDIS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_REDIS_H_INCLUDED_


#include "ngx_http_collab.h"


ngx_int_t ngx_http_collab_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_redis_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_COLLAB_REDIS_H_INCLUDED_ */

/*
 * PLACEHOLDER: replaced by the owner of src/store/.
 */

#ifndef _NGX_HTTP_COLLAB_PG_H_INCLUDED_
#define _NGX_HTTP_COLLAB_PG_H_INCLUDED_


#include "ngx_http_collab.h"


ngx_int_t ngx_http_collab_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_pg_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_COLLAB_PG_H_INCLUDED_ */

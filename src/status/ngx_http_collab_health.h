/*
 * collab_health: liveness (200 while the worker runs) and readiness (this
 * worker's PostgreSQL answers SELECT 1 and its Redis PING, checked at most
 * about once a second), as application/health+json, for load balancers
 * and orchestrators.
 */

#ifndef _NGX_HTTP_COLLAB_HEALTH_H_INCLUDED_
#define _NGX_HTTP_COLLAB_HEALTH_H_INCLUDED_


#include "ngx_http_collab.h"


/* collab_health live | ready (location context) */
char *ngx_http_collab_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_COLLAB_HEALTH_H_INCLUDED_ */

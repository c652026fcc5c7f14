/*
 * hiredis async contexts driven by the nginx event loop.
 */

#ifndef _NGX_HTTP_COLLAB_REDIS_ADAPTER_H_INCLUDED_
#define _NGX_HTTP_COLLAB_REDIS_ADAPTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


/*
 * Wraps ac->c.fd in an ngx_connection_t and installs the ac->ev hooks.
 * The caller must not free the connection: hiredis calls the cleanup hook
 * when it frees the context, and that releases the ngx_connection_t.  The
 * write event is armed at once so that the non-blocking connect completes
 * (hiredis reports it through its connect callback).
 */
ngx_int_t ngx_http_collab_redis_attach(redisAsyncContext *ac, ngx_log_t *log);


#endif /* _NGX_HTTP_COLLAB_REDIS_ADAPTER_H_INCLUDED_ */

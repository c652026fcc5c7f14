/*
 * The protocol layer's hooks, called by the WebSocket layer
 * (ws/ngx_http_collab_ws.c).  Implemented in ngx_http_collab_session.c.
 */

#ifndef _NGX_HTTP_COLLAB_SESSION_H_INCLUDED_
#define _NGX_HTTP_COLLAB_SESSION_H_INCLUDED_


#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"


/*
 * Before the 101 is sent: authenticate/authorize the request (the auth
 * issue fills this in).  Returns NGX_OK to upgrade, or an HTTP status
 * (401, 403, ...) to refuse; nothing has been sent yet.
 */
ngx_int_t ngx_http_collab_session_pre_upgrade(ngx_http_request_t *r);

/* after the 101 was sent; NGX_ERROR closes the socket (1011) */
ngx_int_t ngx_http_collab_session_open(ngx_http_collab_ws_t *ws);

/*
 * One complete, UTF-8 valid text message.  data stays valid only for the
 * duration of the call.
 */
void ngx_http_collab_session_message(ngx_http_collab_ws_t *ws,
    u_char *data, size_t len);

/*
 * The socket is going away (any reason); called exactly once, after which
 * ws must not be used.
 */
void ngx_http_collab_session_close(ngx_http_collab_ws_t *ws);


#endif /* _NGX_HTTP_COLLAB_SESSION_H_INCLUDED_ */

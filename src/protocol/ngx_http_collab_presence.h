/*
 * Presence relay: p/ps/pu/pr.  Each presence channel ("ch") with local
 * subscribers is one Redis channel; a presence message is relayed with
 * the sender's src added to every subscriber of ch but its sender, on
 * every worker and host.
 */

#ifndef _NGX_HTTP_COLLAB_PRESENCE_H_INCLUDED_
#define _NGX_HTTP_COLLAB_PRESENCE_H_INCLUDED_


#include "ngx_http_collab.h"
#include "protocol/collab_msg.h"
#include "protocol/ngx_http_collab_session.h"


ngx_int_t ngx_http_collab_presence_init_process(ngx_cycle_t *cycle);
void ngx_http_collab_presence_exit_process(ngx_cycle_t *cycle);

/* handles one decoded p, ps, pu or pr message */
void ngx_http_collab_presence_message(ngx_http_collab_session_t *s,
    collab_msg_t *msg);

/* the session closes: its subscriptions go, its presences are cleared */
void ngx_http_collab_presence_close(ngx_http_collab_session_t *s);


#endif /* _NGX_HTTP_COLLAB_PRESENCE_H_INCLUDED_ */

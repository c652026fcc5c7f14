/*
 * Fan-out across workers and hosts: one Redis channel per document with
 * local subscribers.  Committed ops are published with their version; a
 * received op at the head is applied and delivered, an old one ignored, a
 * jump fills the gap from PostgreSQL first.  A (re)activated channel and
 * a periodic head check catch up what pub/sub may have lost.
 */

#ifndef _NGX_HTTP_COLLAB_FANOUT_H_INCLUDED_
#define _NGX_HTTP_COLLAB_FANOUT_H_INCLUDED_


#include "ngx_http_collab.h"
#include "doc/ngx_http_collab_doc.h"


ngx_int_t ngx_http_collab_fanout_init_process(ngx_cycle_t *cycle);
void ngx_http_collab_fanout_exit_process(ngx_cycle_t *cycle);

/* per document: the channel name; and releasing it */
ngx_int_t ngx_http_collab_fanout_init(ngx_http_collab_doc_t *doc);
void ngx_http_collab_fanout_free(ngx_http_collab_doc_t *doc);

/* the first local subscriber came / the last one left */
void ngx_http_collab_fanout_channel_on(ngx_http_collab_doc_t *doc);
void ngx_http_collab_fanout_channel_off(ngx_http_collab_doc_t *doc);

/*
 * Publishes one committed op message (it carries its version and the
 * public form of its src) with the op's real src beside it, so that a
 * receiver can give the author its own.  With a handler: NGX_OK says it
 * runs once Redis has processed this PUBLISH (and every one before it on
 * the connection); otherwise it is not called.
 */
ngx_int_t ngx_http_collab_fanout_publish(ngx_http_collab_doc_t *doc,
    ngx_str_t *src, u_char *payload, size_t len,
    ngx_http_collab_redis_reply_pt handler, void *data);


#endif /* _NGX_HTTP_COLLAB_FANOUT_H_INCLUDED_ */

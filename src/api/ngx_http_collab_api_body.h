/*
 * The JSON body of a REST write, read with nginx's request-body API and
 * kept in memory: at most NGX_HTTP_COLLAB_API_BODY_MAX bytes, and no more
 * than client_body_buffer_size (a body nginx would write to a temporary
 * file is refused, never read back from disk).
 */

#ifndef _NGX_HTTP_COLLAB_API_BODY_H_INCLUDED_
#define _NGX_HTTP_COLLAB_API_BODY_H_INCLUDED_


#include "ngx_http_collab.h"


#define NGX_HTTP_COLLAB_API_BODY_MAX  16384


/*
 * NGX_DECLINED to go on: *body is the whole body, NUL-terminated (for
 * yajl); NGX_DONE: it is being read and the content handler runs again
 * once it is in; else what the handler returns (415 not JSON, 413 too
 * large: answered).
 */
ngx_int_t ngx_http_collab_api_read_body(ngx_http_request_t *r,
    ngx_str_t *body);


#endif /* _NGX_HTTP_COLLAB_API_BODY_H_INCLUDED_ */

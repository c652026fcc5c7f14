/*
 * GET <location>/<collection>/<doc>[?v=N]: the document as ShareDB's fetch
 * (or, with v, its "nf") sees it:
 *
 *     200 {"v":<version>,"type":"http://sharejs.org/types/text-unicode",
 *          "data":"<text>"}
 *
 * with ETag "<collection>/<doc>/v<version>" (If-None-Match gives 304 and
 * If-Match 412 through nginx's not_modified filter) and
 * "Cache-Control: no-cache".  A document that does not exist at that
 * version (never created: v 0; deleted) is 404 with ShareDB's snapshot of
 * it, {"v":<version>,"type":null}; a v past the head is 404
 * {"error":"no such version"}; a bad v 400; PostgreSQL unreachable 503.
 *
 * The latest version comes from the worker's document registry: served
 * at once when the registry is current (loaded, and kept current by the
 * document's Redis channel, which a read turns on), else after the
 * registry caught up with PostgreSQL.  Older versions replay the op log.
 */

#ifndef _NGX_HTTP_COLLAB_API_SNAPSHOT_H_INCLUDED_
#define _NGX_HTTP_COLLAB_API_SNAPSHOT_H_INCLUDED_


#include "ngx_http_collab.h"


/* ops read per statement while replaying the log up to an old version */
#define NGX_HTTP_COLLAB_API_REPLAY_CHUNK  10000

/* longest collection + document name the registry takes */
#define NGX_HTTP_COLLAB_API_MAX_NAME      1024


ngx_int_t ngx_http_collab_api_snapshot(ngx_http_request_t *r,
    ngx_str_t *collection, ngx_str_t *doc);


#endif /* _NGX_HTTP_COLLAB_API_SNAPSHOT_H_INCLUDED_ */

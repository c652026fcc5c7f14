/*
 * The Redis read cache of head snapshots (collab_cache).
 *
 * One key per document, <prefix>cache:<doc name>, holding
 *
 *     <version>:<commit time, ms since the epoch>:<type URI>:<text>
 *
 * with the text raw (UTF-8, not JSON), or "-" as the type and no text for
 * a deleted document (a tombstone: reads treat it as a miss).  Every key
 * has the TTL collab_cache_ttl.
 *
 * Only if newer, without Lua or WATCH: each write is "SET key value PX ttl
 * GET", which swaps atomically and returns what it displaced.  If that was
 * newer than what was written, the writer puts it back the same way, and
 * so on while it displaces something newer than its best: whatever a
 * writer displaces, it replaces with something at least as new before it
 * is done, so once racing writers are done the key holds the newest
 * value.  An older value is visible for at most those round trips.
 *
 * Nothing here calls back from inside a call.
 */

#ifndef _NGX_HTTP_COLLAB_CACHE_H_INCLUDED_
#define _NGX_HTTP_COLLAB_CACHE_H_INCLUDED_


#include "ngx_http_collab.h"
#include "engine/collab_text.h"


/*
 * A lookup's outcome: NGX_OK with the cached head (text valid during the
 * call only), or NGX_DECLINED for a miss, a tombstone, a value that cannot
 * be used or a failed connection.
 */
typedef void (*ngx_http_collab_cache_pt)(void *data, ngx_int_t rc,
    uint64_t v, u_char *text, size_t len);


ngx_int_t ngx_http_collab_cache_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);

/* whether collab_cache is on and Redis configured */
ngx_uint_t ngx_http_collab_cache_enabled(void);

/*
 * GET of the document "name" (the registry's name).  NGX_OK: the handler
 * will be called; NGX_DECLINED: the cache is off or Redis down now, no
 * call will follow; NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_collab_cache_get(ngx_str_t *name,
    ngx_http_collab_cache_pt handler, void *data);

/*
 * Fire and forget: version v of the document is text (NULL: deleted, a
 * tombstone is written).  Failures are counted.
 */
void ngx_http_collab_cache_put(ngx_str_t *name, uint64_t v,
    collab_text_t *text);


#endif /* _NGX_HTTP_COLLAB_CACHE_H_INCLUDED_ */

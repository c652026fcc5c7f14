/*
 * Which srcs are live: a src is held by one connection at a time, in every
 * worker and host, so that nobody can take a live client's src (and
 * commit under it before the client resends its own op).
 *
 * In a worker, a tree of the srcs its connections hold.  Across workers,
 * a Redis key <prefix>src:<src> naming the holding worker, SET NX while
 * held, deleted on release; a worker or host that dies stops refreshing
 * its own key <prefix>worker:<name>, and its srcs can be taken over
 * NGX_HTTP_COLLAB_SRC_CLAIM_DEAD ms later.  Without Redis (one worker)
 * the tree is all there is; when Redis cannot answer, the tree alone
 * decides (a reconnecting client keeps its src rather than losing its
 * in-flight op).
 */

#ifndef _NGX_HTTP_COLLAB_SRC_LIVE_H_INCLUDED_
#define _NGX_HTTP_COLLAB_SRC_LIVE_H_INCLUDED_


#include "ngx_http_collab.h"
#include "protocol/ngx_http_collab_src.h"


typedef struct ngx_http_collab_src_live_s  ngx_http_collab_src_live_t;

/* ms after its last refresh that a silent worker's srcs come free */
#define NGX_HTTP_COLLAB_SRC_CLAIM_DEAD   6000

/*
 * How long an hs claim of a live src waits for it to come free, asking
 * again this often: longer than the above, and than a probe's ping.
 */
#define NGX_HTTP_COLLAB_SRC_CLAIM_WAIT   (NGX_HTTP_COLLAB_SRC_CLAIM_DEAD + 1000)
#define NGX_HTTP_COLLAB_SRC_CLAIM_RETRY  250

/*
 * The outcome of a claim that had to ask Redis: NGX_OK (held now) or
 * NGX_BUSY (live on another worker or host: the claim is freed).
 */
typedef void (*ngx_http_collab_src_live_pt)(ngx_int_t rc, void *data);


void ngx_http_collab_src_live_init_process(ngx_cycle_t *cycle);
void ngx_http_collab_src_live_exit_process(ngx_cycle_t *cycle);

/*
 * Takes src for a connection (data: the taker, see _holder).  fresh: a
 * src just issued, which nobody else can know: held at once, Redis is
 * only told.  Returns NGX_OK (held, *live set), NGX_AGAIN (*live set;
 * handler gets the outcome later, never from inside this call), NGX_BUSY
 * (held by another connection of this worker; *live NULL) or NGX_ERROR.
 */
ngx_int_t ngx_http_collab_src_live_take(const u_char *src, ngx_uint_t fresh,
    ngx_http_collab_src_live_pt handler, void *data,
    ngx_http_collab_src_live_t **live);

/* the data of whoever holds src on this worker, or NULL */
void *ngx_http_collab_src_live_holder(const u_char *src);

/* gives src up (a claim still waiting for Redis is cancelled) */
void ngx_http_collab_src_live_release(ngx_http_collab_src_live_t *live);

/* the src held */
u_char *ngx_http_collab_src_live_src(ngx_http_collab_src_live_t *live);


#endif /* _NGX_HTTP_COLLAB_SRC_LIVE_H_INCLUDED_ */

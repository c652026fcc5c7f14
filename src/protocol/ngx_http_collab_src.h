/*
 * Op authors: the src ids of sessions, and what others see of them.
 *
 * A src is "<16 hex random><16 hex digest of principal and random>".  It
 * is a client's proof of authorship: a reconnecting client keeps it (hs
 * "id") and resends its in-flight op under it, which the op log dedups by
 * (src, seq).  So a src is only ever sent to its owner: the hs reply, its
 * acks and its own ops.  Everyone else gets the public form, a keyed
 * digest of the same length (collab_src_secret): stable while the session
 * lasts, so clients still tell authors apart (sharedb moves a remote
 * cursor with its author's own ops by comparing the two), but useless for
 * claiming the src.
 */

#ifndef _NGX_HTTP_COLLAB_SRC_H_INCLUDED_
#define _NGX_HTTP_COLLAB_SRC_H_INCLUDED_


#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"


#define NGX_HTTP_COLLAB_SRC_LEN  32


/* "collab_src_secret": the key of the public form (config time) */
char *ngx_http_collab_src_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* a random key when none is configured: shared by this nginx's workers */
ngx_int_t ngx_http_collab_src_init_conf(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_src_init_process(ngx_http_collab_main_conf_t *cmcf);

/* a fresh src for principal into out[NGX_HTTP_COLLAB_SRC_LEN] */
void ngx_http_collab_src_issue(ngx_str_t *principal, u_char *out);

/* whether id is a src issued to principal */
ngx_uint_t ngx_http_collab_src_valid(ngx_str_t *principal, const u_char *id,
    size_t len);

/* the public form of src into out[NGX_HTTP_COLLAB_SRC_LEN] */
void ngx_http_collab_src_public(const u_char *src, size_t len, u_char *out);

/*
 * An op frame ({"a":"op","c","d","v","src":<public>,...}) as its author
 * gets it: the same with the real src.  NULL on failure.
 */
ngx_http_collab_frame_t *ngx_http_collab_src_owner_frame(
    ngx_http_collab_frame_t *f, ngx_str_t *src, ngx_log_t *log);


#endif /* _NGX_HTTP_COLLAB_SRC_H_INCLUDED_ */

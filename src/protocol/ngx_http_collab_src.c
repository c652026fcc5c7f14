/*
 * Op authors: issuing srcs, checking a reconnecting client's claim, and
 * the public form everyone but the owner sees (HMAC-SHA256 keyed by
 * collab_src_secret, cut to the length of a src).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_md5.h>

#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"
#include "protocol/ngx_http_collab_src.h"


#define NGX_HTTP_COLLAB_SRC_SECRET_MIN  16
#define NGX_HTTP_COLLAB_SRC_KEY_LEN     32


static void ngx_http_collab_src_random(u_char *buf, size_t len);
static void ngx_http_collab_src_digest(ngx_str_t *principal,
    const u_char *random, u_char *out);
static ngx_uint_t ngx_http_collab_src_hex(const u_char *p, size_t n);


static ngx_str_t   ngx_http_collab_src_key;

/*
 * The last src made public: runs of ops (a batch, a catch-up, a history
 * page) mostly come from one author.
 */
static u_char      ngx_http_collab_src_last[NGX_HTTP_COLLAB_SRC_LEN];
static u_char      ngx_http_collab_src_last_public[NGX_HTTP_COLLAB_SRC_LEN];
static ngx_uint_t  ngx_http_collab_src_last_set;


char *
ngx_http_collab_src_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_main_conf_t  *cmcf = conf;

    ngx_str_t  *value;

    if (cmcf->src_secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < NGX_HTTP_COLLAB_SRC_SECRET_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_src_secret\" must be at least "
                           "%d characters", NGX_HTTP_COLLAB_SRC_SECRET_MIN);
        return NGX_CONF_ERROR;
    }

    cmcf->src_secret = value[1];

    return NGX_CONF_OK;
}


/* the secret when none is configured: one per master process */
static u_char      ngx_http_collab_src_default[NGX_HTTP_COLLAB_SRC_KEY_LEN];
static ngx_uint_t  ngx_http_collab_src_default_made;


ngx_int_t
ngx_http_collab_src_init_conf(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf)
{
    if (cmcf->src_secret.data) {
        return NGX_OK;
    }

    /*
     * Made in the master, once: every worker of this nginx has the same,
     * and so do the workers of the next reload (the module stays loaded),
     * which must understand the old ones' signed Redis messages.
     */
    if (!ngx_http_collab_src_default_made) {
        ngx_http_collab_src_random(ngx_http_collab_src_default,
                                   NGX_HTTP_COLLAB_SRC_KEY_LEN);
        ngx_http_collab_src_default_made = 1;
    }

    cmcf->src_secret.data = ngx_http_collab_src_default;
    cmcf->src_secret.len = NGX_HTTP_COLLAB_SRC_KEY_LEN;

    if (cmcf->enabled && cmcf->redis_addr.len) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "collab: \"collab_src_secret\" is not set: "
                           "other hosts show different author ids for the "
                           "same clients and cannot talk to this one over "
                           "Redis (its messages are signed with a key made "
                           "from it); set the same secret on every host");
    }

    return NGX_OK;
}


void
ngx_http_collab_src_init_process(ngx_http_collab_main_conf_t *cmcf)
{
    ngx_http_collab_src_key = cmcf->src_secret;
    ngx_http_collab_src_last_set = 0;
}


void
ngx_http_collab_src_issue(ngx_str_t *principal, u_char *out)
{
    u_char  rnd[8];

    ngx_http_collab_src_random(rnd, sizeof(rnd));

    ngx_hex_dump(out, rnd, sizeof(rnd));
    ngx_http_collab_src_digest(principal, out, out + 16);
}


ngx_uint_t
ngx_http_collab_src_valid(ngx_str_t *principal, const u_char *id, size_t len)
{
    u_char  digest[16];

    if (len != NGX_HTTP_COLLAB_SRC_LEN || !ngx_http_collab_src_hex(id, 16)) {
        return 0;
    }

    ngx_http_collab_src_digest(principal, id, digest);

    return ngx_memcmp(digest, id + 16, 16) == 0;
}


void
ngx_http_collab_src_public(const u_char *src, size_t len, u_char *out)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  mdlen;

    if (len == NGX_HTTP_COLLAB_SRC_LEN && ngx_http_collab_src_last_set
        && ngx_memcmp(src, ngx_http_collab_src_last, len) == 0)
    {
        ngx_memcpy(out, ngx_http_collab_src_last_public,
                   NGX_HTTP_COLLAB_SRC_LEN);
        return;
    }

    mdlen = 0;

    if (HMAC(EVP_sha256(), ngx_http_collab_src_key.data,
             (int) ngx_http_collab_src_key.len, src, len, md, &mdlen)
        == NULL
        || mdlen < NGX_HTTP_COLLAB_SRC_LEN / 2)
    {
        /* never the src itself */
        ngx_memset(out, '0', NGX_HTTP_COLLAB_SRC_LEN);
        return;
    }

    ngx_hex_dump(out, md, NGX_HTTP_COLLAB_SRC_LEN / 2);

    if (len == NGX_HTTP_COLLAB_SRC_LEN) {
        ngx_memcpy(ngx_http_collab_src_last, src, len);
        ngx_memcpy(ngx_http_collab_src_last_public, out,
                   NGX_HTTP_COLLAB_SRC_LEN);
        ngx_http_collab_src_last_set = 1;
    }
}


ngx_http_collab_frame_t *
ngx_http_collab_src_owner_frame(ngx_http_collab_frame_t *f, ngx_str_t *src,
    ngx_log_t *log)
{
    size_t                    len, head, tail;
    u_char                   *payload, *p, *q, *buf;
    ngx_http_collab_frame_t  *own;

    static const u_char       key[] = "\"src\":\"";

    payload = ngx_http_collab_frame_payload(f, &len);

    /*
     * c and d come before "src" and are JSON strings, so their quotes are
     * escaped: the first "src":" is the key.
     */

    p = ngx_strlcasestrn(payload, payload + len, (u_char *) key,
                         sizeof(key) - 2);
    if (p == NULL) {
        return NULL;
    }

    p += sizeof(key) - 1;

    q = ngx_strlchr(p, payload + len, '"');
    if (q == NULL) {
        return NULL;
    }

    head = p - payload;
    tail = payload + len - q;

    buf = ngx_alloc(head + src->len + tail, log);
    if (buf == NULL) {
        return NULL;
    }

    p = ngx_cpymem(buf, payload, head);
    p = ngx_cpymem(p, src->data, src->len);
    p = ngx_cpymem(p, q, tail);

    own = ngx_http_collab_frame_text(buf, p - buf, log);

    ngx_free(buf);

    return own;
}


static void
ngx_http_collab_src_random(u_char *buf, size_t len)
{
    size_t  i;

    if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t) len) {
        return;
    }

    /* no entropy yet (early boot): still unpredictable enough to differ */
    for (i = 0; i < len; i++) {
        buf[i] ^= (u_char) (ngx_random() ^ ngx_pid ^ ngx_current_msec ^ i);
    }
}


/* 16 hex digits of md5(principal NUL random-hex): binds an id to a user */
static void
ngx_http_collab_src_digest(ngx_str_t *principal, const u_char *random,
    u_char *out)
{
    u_char     md[16];
    ngx_md5_t  md5;

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, "collab-src", sizeof("collab-src"));

    if (principal->len) {
        ngx_md5_update(&md5, principal->data, principal->len);
    }

    ngx_md5_update(&md5, "", 1);
    ngx_md5_update(&md5, random, 16);
    ngx_md5_final(md, &md5);

    ngx_hex_dump(out, md, 8);
}


static ngx_uint_t
ngx_http_collab_src_hex(const u_char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}

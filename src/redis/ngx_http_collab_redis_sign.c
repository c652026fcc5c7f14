/*
 * Messages between workers and hosts on Redis carry an HMAC: anyone else
 * who can PUBLISH on a channel (another application on the same Redis, a
 * stray deployment, an attacker) gets the message dropped and counted,
 * never applied or forwarded.
 *
 * The key is HMAC-SHA256(collab_src_secret, "collab redis bus v1"): the
 * secret every host of a deployment already shares (nginx draws a random
 * one, kept across reloads, when none is set: then only its own workers
 * understand each other).  A signed payload is
 *
 *     <43 characters: base64url of HMAC-SHA256(key, channel NUL payload)>.
 *     <payload>
 *
 * so a message cannot be moved to another channel.  A captured message
 * can be replayed on its own channel: ops are idempotent by version and
 * forwarded submits by (src, seq), so a replay changes nothing.
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"
#include "redis/ngx_http_collab_redis_conn.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


#define NGX_HTTP_COLLAB_REDIS_SIG_LEN  43


static ngx_int_t ngx_http_collab_redis_mac(ngx_str_t *channel,
    u_char *payload, size_t len, u_char *sig);


static u_char   ngx_http_collab_redis_key[32];
static u_char  *ngx_http_collab_redis_sbuf;
static size_t   ngx_http_collab_redis_sbuf_size;


ngx_int_t
ngx_http_collab_redis_sign_init(ngx_http_collab_main_conf_t *cmcf)
{
    unsigned int  n;

    n = sizeof(ngx_http_collab_redis_key);

    if (HMAC(EVP_sha256(), cmcf->src_secret.data, (int) cmcf->src_secret.len,
             (const u_char *) "collab redis bus v1",
             sizeof("collab redis bus v1") - 1, ngx_http_collab_redis_key,
             &n)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


u_char *
ngx_http_collab_redis_sign(ngx_str_t *channel, u_char *payload, size_t len,
    size_t *out_len)
{
    u_char  *p;
    size_t   size;

    size = NGX_HTTP_COLLAB_REDIS_SIG_LEN + 1 + len;

    if (size > ngx_http_collab_redis_sbuf_size) {
        p = ngx_alloc(ngx_max(size, 4096), ngx_http_collab_redis_worker.log);
        if (p == NULL) {
            return NULL;
        }

        if (ngx_http_collab_redis_sbuf) {
            ngx_free(ngx_http_collab_redis_sbuf);
        }

        ngx_http_collab_redis_sbuf = p;
        ngx_http_collab_redis_sbuf_size = ngx_max(size, 4096);
    }

    p = ngx_http_collab_redis_sbuf;

    if (ngx_http_collab_redis_mac(channel, payload, len, p) != NGX_OK) {
        return NULL;
    }

    p[NGX_HTTP_COLLAB_REDIS_SIG_LEN] = '.';
    ngx_memcpy(p + NGX_HTTP_COLLAB_REDIS_SIG_LEN + 1, payload, len);

    *out_len = size;

    return p;
}


ngx_int_t
ngx_http_collab_redis_verify(ngx_str_t *channel, u_char **payload,
    size_t *len)
{
    u_char  *p, sig[NGX_HTTP_COLLAB_REDIS_SIG_LEN + 1];

    p = *payload;

    if (*len < NGX_HTTP_COLLAB_REDIS_SIG_LEN + 1
        || p[NGX_HTTP_COLLAB_REDIS_SIG_LEN] != '.')
    {
        return NGX_DECLINED;
    }

    if (ngx_http_collab_redis_mac(channel,
                                  p + NGX_HTTP_COLLAB_REDIS_SIG_LEN + 1,
                                  *len - NGX_HTTP_COLLAB_REDIS_SIG_LEN - 1,
                                  sig)
        != NGX_OK
        || CRYPTO_memcmp(sig, p, NGX_HTTP_COLLAB_REDIS_SIG_LEN) != 0)
    {
        return NGX_DECLINED;
    }

    *payload = p + NGX_HTTP_COLLAB_REDIS_SIG_LEN + 1;
    *len -= NGX_HTTP_COLLAB_REDIS_SIG_LEN + 1;

    return NGX_OK;
}


void
ngx_http_collab_redis_sign_exit(void)
{
    if (ngx_http_collab_redis_sbuf) {
        ngx_free(ngx_http_collab_redis_sbuf);
        ngx_http_collab_redis_sbuf = NULL;
        ngx_http_collab_redis_sbuf_size = 0;
    }
}


/* base64url (no padding) of HMAC-SHA256(key, channel NUL payload) */
static ngx_int_t
ngx_http_collab_redis_mac(ngx_str_t *channel, u_char *payload, size_t len,
    u_char *sig)
{
    ngx_int_t     rc;
    u_char        md[EVP_MAX_MD_SIZE], b64[48];
    unsigned int  n;
    ngx_str_t     src, dst;
    HMAC_CTX     *h;

    n = 0;
    h = HMAC_CTX_new();

    rc = (h != NULL
          && HMAC_Init_ex(h, ngx_http_collab_redis_key,
                          sizeof(ngx_http_collab_redis_key), EVP_sha256(),
                          NULL)
          && HMAC_Update(h, channel->data, channel->len)
          && HMAC_Update(h, (const u_char *) "", 1)
          && HMAC_Update(h, payload, len)
          && HMAC_Final(h, md, &n)
          && n == 32)
         ? NGX_OK : NGX_ERROR;

    HMAC_CTX_free(h);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    src.data = md;
    src.len = 32;
    dst.data = b64;

    ngx_encode_base64url(&dst, &src);

    ngx_memcpy(sig, b64, NGX_HTTP_COLLAB_REDIS_SIG_LEN);

    return NGX_OK;
}

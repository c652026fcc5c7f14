/*
 * collab_auth_jwt_jwks_file: the keys of a JSON Web Key Set, as an
 * identity provider publishes them, read when the configuration is (so
 * again on nginx -s reload).  collab_jwks.c checks the set; here each RSA
 * (n, e) and EC (crv, x, y) key becomes a PEM public key with OpenSSL, and
 * each oct key a secret, added as collab_auth_jwt_key_file adds its key
 * (same checks, same kid namespace, the alg pinned per key).
 */

#include "ngx_http_collab.h"
#include "auth/collab_jwks.h"
#include "auth/ngx_http_collab_auth.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>


static ngx_int_t ngx_http_collab_auth_jwk_key(ngx_conf_t *cf,
    collab_jwk_t *jwk, ngx_str_t *key);
static EVP_PKEY *ngx_http_collab_auth_jwk_pkey(collab_jwk_t *jwk);


/* collab_auth_jwt_jwks_file <file> [<alg for keys that name none>] */
char *
ngx_http_collab_auth_jwks_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    char           *rv, err[256];
    u_char         *p;
    size_t          i;
    ngx_str_t      *value, file, json, alg, kid, key, from;
    collab_jwks_t   set;

    value = cf->args->elts;
    file = value[1];

    if (ngx_http_collab_conf_read_file(cf, &file, COLLAB_JWKS_MAX_LEN,
                                       "JWT key file", &json)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (collab_jwks_parse((const char *) json.data, json.len,
                          cf->args->nelts == 3
                          ? (const char *) value[2].data : NULL,
                          &set, err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: JWKS file \"%V\": %s", &file, err);
        collab_jwks_free(&set);
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_OK;

    for (i = 0; i < set.nkeys && rv == NGX_CONF_OK; i++) {
        from.data = ngx_pnalloc(cf->pool, file.len + sizeof(" key 64"));
        if (from.data == NULL) {
            rv = NGX_CONF_ERROR;
            break;
        }

        p = ngx_sprintf(from.data, "%V key %uz", &file, i + 1);
        from.len = p - from.data;

        if (ngx_http_collab_auth_jwk_key(cf, &set.keys[i], &key) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "collab: JWKS file \"%V\": OpenSSL does not "
                               "take the public key", &from);
            rv = NGX_CONF_ERROR;
            break;
        }

        alg.data = (u_char *) set.keys[i].alg;
        alg.len = ngx_strlen(set.keys[i].alg);

        kid.len = ngx_strlen(set.keys[i].kid);
        kid.data = ngx_pnalloc(cf->pool, kid.len);
        if (kid.data == NULL) {
            rv = NGX_CONF_ERROR;
            break;
        }

        ngx_memcpy(kid.data, set.keys[i].kid, kid.len);

        rv = ngx_http_collab_auth_add_key(cf, &clcf->auth, &alg,
                                          set.keys[i].has_kid ? &kid : NULL,
                                          &key, &from);
    }

    collab_jwks_free(&set);

    return rv;
}


/* the key as collab_auth_jwt_key_file would hold it: a secret, or PEM */
static ngx_int_t
ngx_http_collab_auth_jwk_key(ngx_conf_t *cf, collab_jwk_t *jwk,
    ngx_str_t *key)
{
    BIO       *bio;
    long       n;
    char      *pem;
    EVP_PKEY  *pk;
    ngx_int_t  rc;

    if (jwk->type == COLLAB_JWK_OCT) {
        key->len = jwk->a_len;
        key->data = ngx_pnalloc(cf->pool, key->len + 1);
        if (key->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(key->data, jwk->a, key->len);
        key->data[key->len] = '\0';
        return NGX_OK;
    }

    pk = ngx_http_collab_auth_jwk_pkey(jwk);
    if (pk == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    bio = BIO_new(BIO_s_mem());

    if (bio && PEM_write_bio_PUBKEY(bio, pk)) {
        n = BIO_get_mem_data(bio, &pem);
        key->data = ngx_pnalloc(cf->pool, (size_t) n + 1);

        if (n > 0 && key->data) {
            ngx_memcpy(key->data, pem, (size_t) n);
            key->data[n] = '\0';
            key->len = (size_t) n;
            rc = NGX_OK;
        }
    }

    BIO_free(bio);
    EVP_PKEY_free(pk);
    ERR_clear_error();

    return rc;
}


/* an RSA or EC public key from its JWK parameters, checked by OpenSSL */
static EVP_PKEY *
ngx_http_collab_auth_jwk_pkey(collab_jwk_t *jwk)
{
    int              ok;
    u_char           point[1 + 2 * 66];
    BIGNUM          *n, *e;
    EVP_PKEY        *pk;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx, *check;
    OSSL_PARAM_BLD  *bld;

    pk = NULL;
    n = NULL;
    e = NULL;
    params = NULL;
    ctx = NULL;

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        return NULL;
    }

    if (jwk->type == COLLAB_JWK_RSA) {
        n = BN_bin2bn(jwk->a, (int) jwk->a_len, NULL);
        e = BN_bin2bn(jwk->b, (int) jwk->b_len, NULL);

        ok = n && e
             && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
             && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);

    } else {
        /* the uncompressed point: 04 || x || y */
        if (jwk->a_len + jwk->b_len + 1 > sizeof(point)) {
            OSSL_PARAM_BLD_free(bld);
            return NULL;
        }

        point[0] = 0x04;
        ngx_memcpy(point + 1, jwk->a, jwk->a_len);
        ngx_memcpy(point + 1 + jwk->a_len, jwk->b, jwk->b_len);

        ok = OSSL_PARAM_BLD_push_utf8_string(bld,
                                             OSSL_PKEY_PARAM_GROUP_NAME,
                                             jwk->curve, 0)
             && OSSL_PARAM_BLD_push_octet_string(bld,
                                                 OSSL_PKEY_PARAM_PUB_KEY,
                                                 point,
                                                 1 + jwk->a_len
                                                 + jwk->b_len);
    }

    if (ok) {
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL,
                                         jwk->type == COLLAB_JWK_RSA
                                         ? "RSA" : "EC", NULL);
    }

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    {
        pk = NULL;
    }

    /* an EC point off the curve, an even RSA modulus: refused here */
    if (pk) {
        check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);

        if (check == NULL || EVP_PKEY_public_check(check) != 1) {
            EVP_PKEY_free(pk);
            pk = NULL;
        }

        EVP_PKEY_CTX_free(check);
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    return pk;
}

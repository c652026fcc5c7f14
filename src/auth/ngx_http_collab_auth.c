/*
 * JWT authentication of the upgrade and of REST requests (see
 * ngx_http_collab_auth.h).  Keys are read and checked at configuration
 * time (nginx -t names the file); nothing here writes to configuration
 * at request time.
 */

#include "ngx_http_collab.h"
#include "auth/collab_jwt.h"
#include "auth/ngx_http_collab_auth.h"

#include <jwt.h>
#include <yajl/yajl_tree.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>


typedef struct {
    jwt_alg_t                  alg;
    const char                *alg_name;
    ngx_str_t                  kid;         /* empty: none */
    u_char                    *key;         /* secret, or PEM, NUL-ended */
    size_t                     key_len;
} ngx_http_collab_auth_key_t;


typedef struct {
    const char                *name;
    jwt_alg_t                  alg;
    int                        type;        /* EVP_PKEY_*, 0: a secret */
    size_t                     min;         /* secret bytes at least */
    const char                *curve;
} ngx_http_collab_auth_alg_t;


static ngx_int_t ngx_http_collab_auth_token(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_str_t *token, const char **reason);
static ngx_int_t ngx_http_collab_auth_index(ngx_conf_t *cf,
    const char *prefix, ngx_str_t *name);
static ngx_int_t ngx_http_collab_auth_var(ngx_http_request_t *r,
    ngx_int_t index, ngx_str_t *value);
ngx_int_t ngx_http_collab_auth_verify(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_http_collab_auth_t *who,
    const char **reason);
static void ngx_http_collab_auth_clear(ngx_http_collab_auth_t *who);
static ngx_int_t ngx_http_collab_auth_extras(ngx_pool_t *pool,
    ngx_http_collab_auth_conf_t *acf, ngx_http_collab_auth_t *who);
static ngx_uint_t ngx_http_collab_auth_admin_value(
    ngx_http_collab_auth_conf_t *acf, yajl_val v);
static ngx_int_t ngx_http_collab_auth_cached(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_collab_auth_key_t *ngx_http_collab_auth_key(
    ngx_http_collab_auth_conf_t *acf, collab_jwt_header_t *h,
    const char **reason);
static ngx_int_t ngx_http_collab_auth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static char *ngx_http_collab_auth_check_pem(ngx_conf_t *cf,
    ngx_http_collab_auth_alg_t *a, ngx_str_t *file, u_char *pem,
    size_t len);


static ngx_http_collab_auth_alg_t  ngx_http_collab_auth_algs[] = {
    { "HS256", JWT_ALG_HS256, 0, 32, NULL },
    { "HS384", JWT_ALG_HS384, 0, 48, NULL },
    { "HS512", JWT_ALG_HS512, 0, 64, NULL },
    { "RS256", JWT_ALG_RS256, EVP_PKEY_RSA, 0, NULL },
    { "RS384", JWT_ALG_RS384, EVP_PKEY_RSA, 0, NULL },
    { "RS512", JWT_ALG_RS512, EVP_PKEY_RSA, 0, NULL },
    { "ES256", JWT_ALG_ES256, EVP_PKEY_EC, 0, "prime256v1" },
    { "ES384", JWT_ALG_ES384, EVP_PKEY_EC, 0, "secp384r1" },
    { NULL, JWT_ALG_NONE, 0, 0, NULL }
};


/*
 * One verification per request, whoever asks (the handler, log_format,
 * limit_req): the outcome is the value of a hidden variable, which nginx
 * keeps for the rest of the request.  A request that moved to a location
 * with other rules (an internal redirect) is verified again.
 */
typedef struct {
    ngx_http_collab_auth_conf_t  *acf;
    ngx_int_t                     rc;
    ngx_http_collab_auth_t        who;
    const char                   *reason;
} ngx_http_collab_auth_outcome_t;


static ngx_str_t  ngx_http_collab_auth_outcome_name =
    ngx_string("collab_jwt_outcome");
static ngx_int_t  ngx_http_collab_auth_outcome_index = NGX_ERROR;


static ngx_str_t  ngx_http_collab_auth_sub_name =
    ngx_string("collab_jwt_sub");
static ngx_str_t  ngx_http_collab_auth_claim_prefix =
    ngx_string("collab_jwt_claim_");


ngx_int_t
ngx_http_collab_auth_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_collab_auth_sub_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_collab_auth_variable;
    var->data = 0;

    var = ngx_http_add_variable(cf, &ngx_http_collab_auth_claim_prefix,
                                NGX_HTTP_VAR_PREFIX);
    if (var == NULL) {
        return NGX_ERROR;
    }

    /* nginx gives a prefix variable's handler its full name as data */
    var->get_handler = ngx_http_collab_auth_variable;

    /* the outcome of the request's verification (not for configs) */
    var = ngx_http_add_variable(cf, &ngx_http_collab_auth_outcome_name,
                                NGX_HTTP_VAR_NOHASH);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_collab_auth_cached;

    ngx_http_collab_auth_outcome_index =
        ngx_http_get_variable_index(cf, &ngx_http_collab_auth_outcome_name);

    return ngx_http_collab_auth_outcome_index == NGX_ERROR ? NGX_ERROR
                                                           : NGX_OK;
}


/* data 0: sub; else the name of a $collab_jwt_claim_<name> variable */
static ngx_int_t
ngx_http_collab_auth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    char                        *json, *key;
    u_char                      *p;
    size_t                       i;
    ngx_str_t                   *name;
    yajl_val                     root, val;
    const char                  *reason;
    ngx_http_collab_auth_t       who;
    ngx_http_collab_loc_conf_t  *clcf;

    v->not_found = 1;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    if (!clcf->auth.enabled
        || ngx_http_collab_auth_check(r, &clcf->auth, &who, &reason)
           != NGX_OK)
    {
        return NGX_OK;
    }

    json = ngx_pnalloc(r->pool, who.claims.len + 1);
    if (json == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(json, who.claims.data, who.claims.len);
    json[who.claims.len] = '\0';

    if (data == 0) {
        key = "sub";

    } else {
        name = (ngx_str_t *) data;

        if (name->len <= ngx_http_collab_auth_claim_prefix.len) {
            return NGX_OK;
        }

        i = name->len - ngx_http_collab_auth_claim_prefix.len;

        key = ngx_pnalloc(r->pool, i + 1);
        if (key == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(key, name->data + ngx_http_collab_auth_claim_prefix.len, i);
        key[i] = '\0';
    }

    root = yajl_tree_parse(json, NULL, 0);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return NGX_OK;
    }

    val = NULL;

    for (i = 0; i < root->u.object.len; i++) {
        if (ngx_strcmp(root->u.object.keys[i], key) == 0) {
            val = root->u.object.values[i];
        }
    }

    if (val && (YAJL_IS_STRING(val) || YAJL_IS_INTEGER(val))) {
        v->len = YAJL_IS_STRING(val) ? ngx_strlen(val->u.string)
                                     : NGX_INT64_LEN;
        p = ngx_pnalloc(r->pool, v->len);

        if (p) {
            if (YAJL_IS_STRING(val)) {
                ngx_memcpy(p, val->u.string, v->len);

            } else {
                v->len = ngx_sprintf(p, "%L", YAJL_GET_INTEGER(val)) - p;
            }

            v->data = p;
            v->valid = 1;
            v->no_cacheable = 0;
            v->not_found = 0;
        }
    }

    yajl_tree_free(root);

    return NGX_OK;
}


void
ngx_http_collab_auth_create_conf(ngx_http_collab_auth_conf_t *acf)
{
    acf->enabled = NGX_CONF_UNSET;
    acf->keys = NGX_CONF_UNSET_PTR;
    acf->audience = NGX_CONF_UNSET_PTR;
    acf->leeway = NGX_CONF_UNSET;
    acf->close = NGX_CONF_UNSET;
}


char *
ngx_http_collab_auth_merge_conf(ngx_conf_t *cf,
    ngx_http_collab_auth_conf_t *prev, ngx_http_collab_auth_conf_t *conf)
{
    ngx_conf_merge_value(conf->enabled, prev->enabled, 0);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_ptr_value(conf->audience, prev->audience, NULL);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_str_value(conf->cookie, prev->cookie, "collab_token");
    ngx_conf_merge_str_value(conf->arg, prev->arg, "off");
    ngx_conf_merge_value(conf->close, prev->close, 0);

    if (conf->admin_claim.data == NULL) {
        conf->admin_claim = prev->admin_claim;
        conf->admin_value = prev->admin_value;
    }

    conf->cookie_index = ngx_http_collab_auth_index(cf, "cookie_",
                                                    &conf->cookie);
    conf->arg_index = ngx_http_collab_auth_index(cf, "arg_", &conf->arg);

    if (conf->cookie_index == NGX_ABORT || conf->arg_index == NGX_ABORT) {
        return NGX_CONF_ERROR;
    }

    if (conf->enabled && (conf->keys == NULL || conf->keys->nelts == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_auth_jwt on\" needs at least "
                           "one \"collab_auth_jwt_key_file\" or "
                           "\"collab_auth_jwt_jwks_file\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* collab_auth_jwt_key_file <alg> <file> [<kid>] */
char *
ngx_http_collab_auth_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_str_t  *value, file, key, *kid;

    value = cf->args->elts;

    file = value[2];
    kid = cf->args->nelts == 4 ? &value[3] : NULL;

    if (ngx_http_collab_conf_read_file(cf, &file, 64 * 1024, "JWT key file",
                                       &key)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* a secret is the file's bytes without one final newline */
    if (value[1].data[0] == 'H' && key.len && key.data[key.len - 1] == '\n')
    {
        key.data[--key.len] = '\0';
    }

    return ngx_http_collab_auth_add_key(cf, &clcf->auth, &value[1], kid,
                                        &key, &file);
}


char *
ngx_http_collab_auth_add_key(ngx_conf_t *cf, ngx_http_collab_auth_conf_t *acf,
    ngx_str_t *alg, ngx_str_t *kid, ngx_str_t *key, ngx_str_t *from)
{
    ngx_uint_t                   i;
    ngx_http_collab_auth_alg_t  *a;
    ngx_http_collab_auth_key_t  *k, *keys;

    a = NULL;

    for (i = 0; ngx_http_collab_auth_algs[i].name; i++) {
        if (alg->len == ngx_strlen(ngx_http_collab_auth_algs[i].name)
            && ngx_strncmp(alg->data, ngx_http_collab_auth_algs[i].name,
                           alg->len) == 0)
        {
            a = &ngx_http_collab_auth_algs[i];
            break;
        }
    }

    if (a == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: unsupported JWT algorithm \"%V\" (HS256, "
                           "HS384, HS512, RS256, RS384, RS512, ES256, "
                           "ES384; never \"none\")", alg);
        return NGX_CONF_ERROR;
    }

    if (acf->keys == NGX_CONF_UNSET_PTR) {
        acf->keys = ngx_array_create(cf->pool, 2,
                                     sizeof(ngx_http_collab_auth_key_t));
        if (acf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (kid) {
        keys = acf->keys->elts;

        for (i = 0; i < acf->keys->nelts; i++) {
            if (keys[i].kid.len == kid->len
                && ngx_strncmp(keys[i].kid.data, kid->data, kid->len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "collab: JWT key id \"%V\" is duplicate",
                                   kid);
                return NGX_CONF_ERROR;
            }
        }
    }

    k = ngx_array_push(acf->keys);
    if (k == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(k, sizeof(ngx_http_collab_auth_key_t));

    k->key = key->data;
    k->key_len = key->len;
    k->alg = a->alg;
    k->alg_name = a->name;

    if (kid) {
        k->kid = *kid;
    }

    if (a->type != 0) {
        return ngx_http_collab_auth_check_pem(cf, a, from, k->key,
                                              k->key_len);
    }

    if (k->key_len < a->min) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: the %s secret in \"%V\" is %uz "
                           "bytes, at least %uz are needed", a->name,
                           from, k->key_len, a->min);
        return NGX_CONF_ERROR;
    }

    if (ngx_strstrn(k->key, "-----BEGIN", 10 - 1)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"%V\" holds a PEM key, not an %s "
                           "secret", from, a->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a public key of the type (and curve) the algorithm needs */
static char *
ngx_http_collab_auth_check_pem(ngx_conf_t *cf, ngx_http_collab_auth_alg_t *a,
    ngx_str_t *file, u_char *pem, size_t len)
{
    BIO       *bio;
    char       group[64];
    size_t     glen;
    EVP_PKEY  *pk;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        return NGX_CONF_ERROR;
    }

    pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);

    if (pk == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"%V\" is not a PEM public key (%s)",
                           file, a->name);
        return NGX_CONF_ERROR;
    }

    if (EVP_PKEY_get_base_id(pk) != a->type) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"%V\" is not a%s key, as %s needs",
                           file, a->type == EVP_PKEY_RSA ? "n RSA" : "n EC",
                           a->name);
        EVP_PKEY_free(pk);
        return NGX_CONF_ERROR;
    }

    if (a->curve) {
        glen = 0;

        if (!EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen)
            || ngx_strcmp(group, a->curve) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "collab: the EC key in \"%V\" is not on the "
                               "curve %s needs (%s)", file, a->name,
                               a->curve);
            EVP_PKEY_free(pk);
            return NGX_CONF_ERROR;
        }
    }

    EVP_PKEY_free(pk);

    return NGX_CONF_OK;
}


/* collab_auth_jwt_audience <aud> ... */
char *
ngx_http_collab_auth_audience(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;
    const char **a;

    if (clcf->auth.audience != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    clcf->auth.audience = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                           sizeof(const char *));
    if (clcf->auth.audience == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        a = ngx_array_push(clcf->auth.audience);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        /* the arguments are NUL-terminated by the parser */
        *a = (const char *) value[i].data;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_collab_auth_check(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_http_collab_auth_t *who,
    const char **reason)
{
    ngx_http_variable_value_t       *vv;
    ngx_http_collab_auth_outcome_t  *o;

    if (!acf->enabled) {
        ngx_memzero(who, sizeof(ngx_http_collab_auth_t));
        ngx_str_set(&who->principal, "");
        ngx_str_set(&who->iss, "");
        ngx_str_set(&who->sub, "");
        ngx_str_set(&who->name, "");
        ngx_str_set(&who->email, "");
        return NGX_OK;
    }

    vv = ngx_http_get_indexed_variable(r, ngx_http_collab_auth_outcome_index);

    if (vv == NULL || vv->not_found
        || vv->len != sizeof(ngx_http_collab_auth_outcome_t))
    {
        return NGX_ERROR;
    }

    o = (ngx_http_collab_auth_outcome_t *) vv->data;

    if (o->acf != acf) {
        return ngx_http_collab_auth_verify(r, acf, who, reason);
    }

    *who = o->who;
    *reason = o->reason;

    return o->rc;
}


static ngx_int_t
ngx_http_collab_auth_cached(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_collab_loc_conf_t      *clcf;
    ngx_http_collab_auth_outcome_t  *o;

    o = ngx_pcalloc(r->pool, sizeof(ngx_http_collab_auth_outcome_t));
    if (o == NULL) {
        return NGX_ERROR;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_collab_module);

    o->acf = &clcf->auth;
    o->rc = ngx_http_collab_auth_verify(r, o->acf, &o->who, &o->reason);

    if (o->rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    v->data = (u_char *) o;
    v->len = sizeof(ngx_http_collab_auth_outcome_t);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_collab_auth_verify(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_http_collab_auth_t *who,
    const char **reason)
{
    ngx_str_t  token;

    *reason = NULL;

    if (ngx_http_collab_auth_token(r, acf, &token, reason) != NGX_OK) {
        ngx_http_collab_auth_clear(who);
        return NGX_HTTP_UNAUTHORIZED;
    }

    return ngx_http_collab_auth_verify_token(r->pool, acf, &token, who,
                                             reason);
}


static void
ngx_http_collab_auth_clear(ngx_http_collab_auth_t *who)
{
    ngx_str_set(&who->principal, "");
    ngx_str_set(&who->iss, "");
    ngx_str_set(&who->sub, "");
    ngx_str_set(&who->name, "");
    ngx_str_set(&who->email, "");
    who->expires = 0;
    who->admin = 0;
    ngx_str_null(&who->claims);
}


ngx_int_t
ngx_http_collab_auth_verify_token(ngx_pool_t *pool,
    ngx_http_collab_auth_conf_t *acf, ngx_str_t *token,
    ngx_http_collab_auth_t *who, const char **reason)
{
    ngx_str_t                   *principal, *name;
    int                          rc;
    u_char                      *tok, *buf, *p;
    size_t                       n;
    jwt_t                       *jwt;
    collab_jwt_parts_t           parts;
    collab_jwt_rules_t           rules;
    collab_jwt_header_t          h;
    collab_jwt_claims_t          c;
    ngx_http_collab_auth_key_t  *k;

    principal = &who->principal;
    name = &who->name;

    ngx_http_collab_auth_clear(who);
    *reason = NULL;

    rc = collab_jwt_split((const char *) token->data, token->len, &parts);
    if (rc != COLLAB_JWT_OK) {
        *reason = collab_jwt_strerror(rc);
        return NGX_HTTP_UNAUTHORIZED;
    }

    buf = ngx_pnalloc(pool, token->len + 1);
    tok = ngx_pnalloc(pool, token->len + 1);
    if (buf == NULL || tok == NULL) {
        return NGX_ERROR;
    }

    rc = collab_jwt_b64url_decode(parts.header, parts.header_len, buf, &n);
    if (rc == COLLAB_JWT_OK) {
        rc = collab_jwt_header_parse((const char *) buf, n, &h);
    }

    if (rc != COLLAB_JWT_OK) {
        *reason = collab_jwt_strerror(rc);
        return NGX_HTTP_UNAUTHORIZED;
    }

    k = ngx_http_collab_auth_key(acf, &h, reason);
    if (k == NULL) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    /* the key is chosen and its alg pinned: now the signature */
    p = ngx_cpymem(tok, token->data, token->len);
    *p = '\0';

    jwt = NULL;

    if (jwt_decode(&jwt, (const char *) tok, k->key, (int) k->key_len) != 0
        || jwt == NULL)
    {
        *reason = "bad signature";
        return NGX_HTTP_UNAUTHORIZED;
    }

    if (jwt_get_alg(jwt) != k->alg) {
        jwt_free(jwt);
        *reason = "alg not the key's";
        return NGX_HTTP_UNAUTHORIZED;
    }

    jwt_free(jwt);

    rc = collab_jwt_b64url_decode(parts.payload, parts.payload_len, buf, &n);
    if (rc != COLLAB_JWT_OK) {
        *reason = collab_jwt_strerror(rc);
        return NGX_HTTP_UNAUTHORIZED;
    }

    rules.now = ngx_time();
    rules.leeway = acf->leeway;
    rules.iss = acf->issuer.len ? (const char *) acf->issuer.data : NULL;
    rules.aud = acf->audience ? acf->audience->elts : NULL;
    rules.naud = acf->audience ? acf->audience->nelts : 0;

    rc = collab_jwt_claims_check((const char *) buf, n, &rules, &c);
    if (rc != COLLAB_JWT_OK) {
        *reason = collab_jwt_strerror(rc);
        return NGX_HTTP_UNAUTHORIZED;
    }

    who->expires = (time_t) (c.exp + acf->leeway);
    who->claims.data = buf;
    who->claims.len = n;

    n = ngx_strlen(c.iss);

    principal->data = ngx_pnalloc(pool, n + 1 + ngx_strlen(c.sub));
    if (principal->data == NULL) {
        return NGX_ERROR;
    }

    p = principal->data;

    if (n) {
        p = ngx_cpymem(p, c.iss, n);
        *p++ = ' ';
    }

    p = ngx_cpymem(p, c.sub, ngx_strlen(c.sub));
    principal->len = p - principal->data;

    /* the principal is "<iss> <sub>": both are in it */
    who->iss.data = principal->data;
    who->iss.len = n;
    who->sub.data = p - ngx_strlen(c.sub);
    who->sub.len = ngx_strlen(c.sub);

    name->len = ngx_strlen(c.name);

    if (name->len) {
        name->data = ngx_pnalloc(pool, name->len);
        if (name->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(name->data, c.name, name->len);
    }

    return ngx_http_collab_auth_extras(pool, acf, who);
}


/* email, and whether the token names an admin (collab_auth_admin_claim) */
static ngx_int_t
ngx_http_collab_auth_extras(ngx_pool_t *pool,
    ngx_http_collab_auth_conf_t *acf, ngx_http_collab_auth_t *who)
{
    char        *json;
    size_t       i;
    yajl_val     root, v;
    const char  *key;

    json = ngx_pnalloc(pool, who->claims.len + 1);
    if (json == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(json, who->claims.data, who->claims.len);
    json[who->claims.len] = '\0';

    /* the claims were checked as a JSON object already */
    root = yajl_tree_parse(json, NULL, 0);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return NGX_OK;
    }

    for (i = 0; i < root->u.object.len; i++) {
        key = root->u.object.keys[i];
        v = root->u.object.values[i];

        if (ngx_strcmp(key, "email") == 0 && YAJL_IS_STRING(v)) {
            who->email.len = ngx_strlen(v->u.string);
            who->email.data = ngx_pnalloc(pool, who->email.len + 1);
            if (who->email.data == NULL) {
                yajl_tree_free(root);
                return NGX_ERROR;
            }

            ngx_memcpy(who->email.data, v->u.string, who->email.len);
        }

        if (acf->admin_claim.len
            && ngx_strcmp(key, (char *) acf->admin_claim.data) == 0)
        {
            who->admin = ngx_http_collab_auth_admin_value(acf, v);
        }
    }

    yajl_tree_free(root);

    return NGX_OK;
}


/* the claim is the value, an array holding it, or true for "true" */
static ngx_uint_t
ngx_http_collab_auth_admin_value(ngx_http_collab_auth_conf_t *acf,
    yajl_val v)
{
    size_t  i;

    if (YAJL_IS_STRING(v)) {
        return ngx_strcmp(v->u.string, (char *) acf->admin_value.data) == 0;
    }

    if (YAJL_IS_TRUE(v)) {
        return ngx_strcmp(acf->admin_value.data, "true") == 0;
    }

    if (YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++) {
            if (YAJL_IS_STRING(v->u.array.values[i])
                && ngx_strcmp(v->u.array.values[i]->u.string,
                              (char *) acf->admin_value.data) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/* collab_auth_admin_claim <claim> <value> */
char *
ngx_http_collab_auth_admin_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_str_t  *value;

    if (clcf->auth.admin_claim.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[2].len == 0) {
        return "needs a claim name and a value";
    }

    /* config strings are NUL-terminated: compared with ngx_strcmp() */
    clcf->auth.admin_claim = value[1];
    clcf->auth.admin_value = value[2];

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_collab_auth_sign(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_str_t *sub, ngx_str_t *name,
    time_t exp, ngx_str_t *token)
{
    int                          rc;
    char                        *enc, *s, *nm;
    jwt_t                       *jwt;
    const char                 **aud;
    ngx_http_collab_auth_key_t  *k;

    k = acf->keys->elts;

    s = ngx_pnalloc(r->pool, sub->len + 1);
    nm = ngx_pnalloc(r->pool, name->len + 1);
    if (s == NULL || nm == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(s, sub->data, sub->len) = '\0';
    *ngx_cpymem(nm, name->data, name->len) = '\0';

    if (jwt_new(&jwt) != 0) {
        return NGX_ERROR;
    }

    rc = jwt_add_grant(jwt, "sub", s);
    rc |= jwt_add_grant_int(jwt, "iat", (long) ngx_time());
    rc |= jwt_add_grant_int(jwt, "exp", (long) exp);

    if (name->len) {
        rc |= jwt_add_grant(jwt, "name", nm);
    }

    if (acf->issuer.len) {
        rc |= jwt_add_grant(jwt, "iss", (char *) acf->issuer.data);
    }

    if (acf->audience && acf->audience->nelts) {
        aud = acf->audience->elts;
        rc |= jwt_add_grant(jwt, "aud", aud[0]);
    }

    if (k->kid.len) {
        rc |= jwt_add_header(jwt, "kid", (char *) k->kid.data);
    }

    rc |= jwt_set_alg(jwt, k->alg, k->key, (int) k->key_len);

    enc = (rc == 0) ? jwt_encode_str(jwt) : NULL;
    jwt_free(jwt);

    if (enc == NULL) {
        return NGX_ERROR;
    }

    token->len = ngx_strlen(enc);
    token->data = ngx_pnalloc(r->pool, token->len);

    if (token->data) {
        ngx_memcpy(token->data, enc, token->len);
    }

    free(enc);

    return token->data ? NGX_OK : NGX_ERROR;
}


ngx_uint_t
ngx_http_collab_auth_can_sign(ngx_http_collab_auth_conf_t *acf)
{
    ngx_http_collab_auth_key_t  *k;

    if (acf->keys == NULL || acf->keys->nelts == 0) {
        return 0;
    }

    k = acf->keys->elts;

    return k->alg == JWT_ALG_HS256 || k->alg == JWT_ALG_HS384
           || k->alg == JWT_ALG_HS512;
}


/* the token: Authorization: Bearer, then the cookie, then the argument */
static ngx_int_t
ngx_http_collab_auth_token(ngx_http_request_t *r,
    ngx_http_collab_auth_conf_t *acf, ngx_str_t *token, const char **reason)
{
    ngx_str_t         found[3], *v;
    ngx_uint_t        i, n;
    ngx_table_elt_t  *h;

    n = 0;
    h = r->headers_in.authorization;

    if (h) {
        v = &h->value;

        if (v->len < 7 || ngx_strncasecmp(v->data, (u_char *) "Bearer ", 7)
                          != 0)
        {
            *reason = "Authorization is not a Bearer token";
            return NGX_DECLINED;
        }

        found[n].data = v->data + 7;
        found[n].len = v->len - 7;

        while (found[n].len && found[n].data[0] == ' ') {
            found[n].data++;
            found[n].len--;
        }

        n++;
    }

    if (ngx_http_collab_auth_var(r, acf->cookie_index, &found[n]) == NGX_OK) {
        n++;
    }

    if (ngx_http_collab_auth_var(r, acf->arg_index, &found[n]) == NGX_OK) {
        n++;
    }

    if (n == 0) {
        *reason = NULL;
        return NGX_DECLINED;
    }

    for (i = 1; i < n; i++) {
        if (found[i].len != found[0].len
            || ngx_strncmp(found[i].data, found[0].data, found[0].len) != 0)
        {
            *reason = "two different tokens";
            return NGX_DECLINED;
        }
    }

    if (found[0].len > COLLAB_JWT_MAX_LEN) {
        *reason = collab_jwt_strerror(COLLAB_JWT_ERR_TOO_LONG);
        return NGX_DECLINED;
    }

    *token = found[0];

    return NGX_OK;
}


/*
 * The index of $<prefix><name>, taken at configuration time so that a
 * request only reads it; NGX_ERROR when name is "off", NGX_ABORT when
 * there is no memory.
 */
static ngx_int_t
ngx_http_collab_auth_index(ngx_conf_t *cf, const char *prefix,
    ngx_str_t *name)
{
    u_char     *p;
    size_t      len;
    ngx_int_t   index;
    ngx_str_t   var;

    if (ngx_strcmp(name->data, "off") == 0) {
        return NGX_ERROR;
    }

    len = ngx_strlen(prefix);

    var.len = len + name->len;
    var.data = ngx_pnalloc(cf->pool, var.len);
    if (var.data == NULL) {
        return NGX_ABORT;
    }

    p = ngx_cpymem(var.data, prefix, len);
    ngx_memcpy(p, name->data, name->len);
    ngx_strlow(var.data, var.data, var.len);

    index = ngx_http_get_variable_index(cf, &var);

    return index == NGX_ERROR ? NGX_ABORT : index;
}


/* an indexed variable, when set and not empty */
static ngx_int_t
ngx_http_collab_auth_var(ngx_http_request_t *r, ngx_int_t index,
    ngx_str_t *value)
{
    ngx_http_variable_value_t  *vv;

    if (index == NGX_ERROR) {
        return NGX_DECLINED;
    }

    vv = ngx_http_get_indexed_variable(r, index);

    if (vv == NULL || vv->not_found || vv->len == 0) {
        return NGX_DECLINED;
    }

    value->data = vv->data;
    value->len = vv->len;

    return NGX_OK;
}


static ngx_http_collab_auth_key_t *
ngx_http_collab_auth_key(ngx_http_collab_auth_conf_t *acf,
    collab_jwt_header_t *h, const char **reason)
{
    size_t                       len;
    ngx_uint_t                   i;
    ngx_http_collab_auth_key_t  *keys, *k;

    keys = acf->keys->elts;
    k = NULL;

    if (h->has_kid) {
        len = ngx_strlen(h->kid);

        for (i = 0; i < acf->keys->nelts; i++) {
            if (keys[i].kid.len == len
                && ngx_strncmp(keys[i].kid.data, h->kid, len) == 0)
            {
                k = &keys[i];
                break;
            }
        }

        if (k == NULL) {
            *reason = "unknown kid";
            return NULL;
        }

    } else if (acf->keys->nelts == 1) {
        k = &keys[0];

    } else {
        *reason = "no kid, and several keys";
        return NULL;
    }

    /* exact: "none", "HS256" for an RSA key, "hs256" are all refused */
    if (ngx_strcmp(h->alg, k->alg_name) != 0) {
        *reason = "alg not the key's";
        return NULL;
    }

    return k;
}


ngx_int_t
ngx_http_collab_auth_deny(ngx_http_request_t *r, const char *reason)
{
    u_char           *p, *last;
    u_char            hdr[160], body[160];
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "collab: token rejected: %s",
                  reason ? reason : "no token");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = hdr + sizeof(hdr);

    if (reason) {
        p = ngx_slprintf(hdr, last, "Bearer realm=\"collab\", "
                         "error=\"invalid_token\", "
                         "error_description=\"%s\"", reason);
    } else {
        p = ngx_slprintf(hdr, last, "Bearer realm=\"collab\"");
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value.len = p - hdr;
    h->value.data = ngx_pnalloc(r->pool, h->value.len);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(h->value.data, hdr, h->value.len);

    last = body + sizeof(body);
    p = ngx_slprintf(body, last, "{\"error\":\"%s\",\"reason\":\"%s\"}\n",
                     reason ? "invalid_token" : "unauthorized",
                     reason ? reason : "no token");

    r->headers_out.status = NGX_HTTP_UNAUTHORIZED;
    r->headers_out.content_length_n = p - body;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    b = ngx_create_temp_buf(r->pool, p - body);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, body, p - body);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

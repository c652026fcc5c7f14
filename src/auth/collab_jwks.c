/*
 * JSON Web Key Sets: see collab_jwks.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/collab_jwt.h"
#include "auth/collab_jwks.h"


typedef struct {
    const char         *alg;
    collab_jwk_type_e   type;
    const char         *crv;           /* EC: the JWK curve it needs */
} collab_jwks_alg_t;


typedef struct {
    const char         *crv;
    const char         *group;         /* OpenSSL's name */
    size_t              size;          /* bytes of a coordinate */
    const char         *alg;
} collab_jwks_curve_t;


static int collab_jwks_key(yajl_val obj, const char *default_alg,
    collab_jwk_t *k, int *skip, const char **reason);
static int collab_jwks_dup(yajl_val obj);
static const char *collab_jwks_str(yajl_val obj, const char *name,
    int *bad);
static int collab_jwks_bytes(yajl_val obj, const char *name,
    unsigned char **out, size_t *len);


static const collab_jwks_alg_t  collab_jwks_algs[] = {
    { "RS256", COLLAB_JWK_RSA, NULL },
    { "RS384", COLLAB_JWK_RSA, NULL },
    { "RS512", COLLAB_JWK_RSA, NULL },
    { "ES256", COLLAB_JWK_EC, "P-256" },
    { "ES384", COLLAB_JWK_EC, "P-384" },
    { "HS256", COLLAB_JWK_OCT, NULL },
    { "HS384", COLLAB_JWK_OCT, NULL },
    { "HS512", COLLAB_JWK_OCT, NULL },
    { NULL, 0, NULL }
};


static const collab_jwks_curve_t  collab_jwks_curves[] = {
    { "P-256", "prime256v1", 32, "ES256" },
    { "P-384", "secp384r1", 48, "ES384" },
    { NULL, NULL, 0, NULL }
};


/* members that only a private key has (RFC 7518 6.2.2, 6.3.2) */
static const char  *collab_jwks_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", NULL
};


int
collab_jwks_parse(const char *json, size_t len, const char *default_alg,
    collab_jwks_t *set, char *err, size_t size)
{
    int           dup, skip;
    char         *buf;
    size_t        i;
    yajl_val      root, keys;
    const char   *reason;
    collab_jwk_t *k;

    memset(set, 0, sizeof(collab_jwks_t));
    err[0] = '\0';

    if (len > COLLAB_JWKS_MAX_LEN) {
        snprintf(err, size, "larger than %d bytes", COLLAB_JWKS_MAX_LEN);
        return -1;
    }

    buf = malloc(len + 1);
    if (buf == NULL) {
        snprintf(err, size, "out of memory");
        return -1;
    }

    memcpy(buf, json, len);
    buf[len] = '\0';

    root = strlen(buf) == len ? yajl_tree_parse(buf, NULL, 0) : NULL;
    free(buf);

    dup = 0;
    keys = root && YAJL_IS_OBJECT(root)
           ? collab_jwt_get(root, "keys", &dup) : NULL;

    if (keys == NULL || dup || !YAJL_IS_ARRAY(keys)) {
        snprintf(err, size, "not a JSON Web Key Set ({\"keys\": [...]})");
        yajl_tree_free(root);
        return -1;
    }

    if (keys->u.array.len > COLLAB_JWKS_MAX_KEYS) {
        snprintf(err, size, "more than %d keys", COLLAB_JWKS_MAX_KEYS);
        yajl_tree_free(root);
        return -1;
    }

    set->keys = calloc(keys->u.array.len + 1, sizeof(collab_jwk_t));
    if (set->keys == NULL) {
        snprintf(err, size, "out of memory");
        yajl_tree_free(root);
        return -1;
    }

    for (i = 0; i < keys->u.array.len; i++) {
        k = &set->keys[set->nkeys];
        skip = 0;
        reason = NULL;

        if (collab_jwks_key(keys->u.array.values[i], default_alg, k, &skip,
                            &reason)
            != 0)
        {
            snprintf(err, size, "key %zu%s%s%s: %s", i + 1,
                     k->has_kid ? " (kid \"" : "", k->has_kid ? k->kid : "",
                     k->has_kid ? "\")" : "", reason);
            set->nkeys++;
            yajl_tree_free(root);
            return -1;
        }

        if (skip) {
            free(k->a);
            free(k->b);
            memset(k, 0, sizeof(collab_jwk_t));
            set->skipped++;
            continue;
        }

        set->nkeys++;
    }

    yajl_tree_free(root);

    if (set->nkeys == 0) {
        snprintf(err, size, "no signing key in the set");
        return -1;
    }

    return 0;
}


void
collab_jwks_free(collab_jwks_t *set)
{
    size_t  i;

    if (set->keys == NULL) {
        return;
    }

    for (i = 0; i < set->nkeys; i++) {
        free(set->keys[i].a);
        free(set->keys[i].b);
    }

    free(set->keys);
    memset(set, 0, sizeof(collab_jwks_t));
}


/* one key; *skip: valid, but not for signatures */
static int
collab_jwks_key(yajl_val obj, const char *default_alg, collab_jwk_t *k,
    int *skip, const char **reason)
{
    int                         bad;
    size_t                      i;
    const char                 *kty, *use, *kid, *alg, *crv;
    const collab_jwks_alg_t    *a;
    const collab_jwks_curve_t  *c;

    if (!YAJL_IS_OBJECT(obj)) {
        *reason = "not a JSON object";
        return -1;
    }

    bad = 0;
    kid = collab_jwks_str(obj, "kid", &bad);

    if (kid) {
        if (kid[0] == '\0' || strlen(kid) >= sizeof(k->kid)) {
            *reason = "kid empty or too long";
            return -1;
        }

        strcpy(k->kid, kid);
        k->has_kid = 1;
    }

    if (bad || collab_jwks_dup(obj)) {
        *reason = "a member twice, or kid not a string";
        return -1;
    }

    kty = collab_jwks_str(obj, "kty", &bad);
    use = collab_jwks_str(obj, "use", &bad);
    alg = collab_jwks_str(obj, "alg", &bad);
    crv = collab_jwks_str(obj, "crv", &bad);

    if (bad) {
        *reason = "kty, use, alg or crv not a string";
        return -1;
    }

    if (kty == NULL) {
        *reason = "no kty";
        return -1;
    }

    if (strcmp(kty, "RSA") == 0) {
        k->type = COLLAB_JWK_RSA;

    } else if (strcmp(kty, "EC") == 0) {
        k->type = COLLAB_JWK_EC;

    } else if (strcmp(kty, "oct") == 0) {
        k->type = COLLAB_JWK_OCT;

    } else {
        *reason = "kty is not RSA, EC or oct";
        return -1;
    }

    if (k->type != COLLAB_JWK_OCT) {
        for (i = 0; collab_jwks_private[i]; i++) {
            if (collab_jwt_get(obj, collab_jwks_private[i], &bad)) {
                *reason = "a private key: publish only the public part";
                return -1;
            }
        }
    }

    if (use && strcmp(use, "sig") != 0) {
        *skip = 1;
        return 0;
    }

    c = NULL;

    if (k->type == COLLAB_JWK_EC) {
        for (i = 0; crv && collab_jwks_curves[i].crv; i++) {
            if (strcmp(crv, collab_jwks_curves[i].crv) == 0) {
                c = &collab_jwks_curves[i];
                break;
            }
        }

        if (c == NULL) {
            *reason = "crv is not P-256 or P-384";
            return -1;
        }

        if (alg == NULL) {
            alg = c->alg;
        }

        k->curve = c->group;
    }

    if (alg == NULL) {
        alg = default_alg;
    }

    if (alg == NULL) {
        *reason = "no alg (name one in the key, or a default in the "
                  "directive)";
        return -1;
    }

    for (a = collab_jwks_algs; a->alg; a++) {
        if (strcmp(a->alg, alg) == 0) {
            break;
        }
    }

    if (a->alg == NULL) {
        *reason = "alg is not one of HS256, HS384, HS512, RS256, RS384, "
                  "RS512, ES256, ES384";
        return -1;
    }

    if (a->type != k->type || (c && strcmp(a->crv, c->crv) != 0)) {
        *reason = "alg does not fit the key's kty or crv";
        return -1;
    }

    strcpy(k->alg, a->alg);

    switch (k->type) {

    case COLLAB_JWK_RSA:
        if (collab_jwks_bytes(obj, "n", &k->a, &k->a_len) != 0
            || collab_jwks_bytes(obj, "e", &k->b, &k->b_len) != 0)
        {
            *reason = "n or e missing, or not base64url";
            return -1;
        }

        break;

    case COLLAB_JWK_EC:
        if (collab_jwks_bytes(obj, "x", &k->a, &k->a_len) != 0
            || collab_jwks_bytes(obj, "y", &k->b, &k->b_len) != 0)
        {
            *reason = "x or y missing, or not base64url";
            return -1;
        }

        if (k->a_len != c->size || k->b_len != c->size) {
            *reason = "x or y not the curve's size";
            return -1;
        }

        break;

    default: /* COLLAB_JWK_OCT */
        if (collab_jwks_bytes(obj, "k", &k->a, &k->a_len) != 0) {
            *reason = "k missing, or not base64url";
            return -1;
        }
    }

    return 0;
}


/* some member name twice */
static int
collab_jwks_dup(yajl_val obj)
{
    size_t  i, j;

    for (i = 0; i < obj->u.object.len; i++) {
        for (j = i + 1; j < obj->u.object.len; j++) {
            if (strcmp(obj->u.object.keys[i], obj->u.object.keys[j]) == 0) {
                return 1;
            }
        }
    }

    return 0;
}


/* a string member, NULL when absent; *bad when present and no string */
static const char *
collab_jwks_str(yajl_val obj, const char *name, int *bad)
{
    int       dup;
    yajl_val  v;

    dup = 0;
    v = collab_jwt_get(obj, name, &dup);

    if (v == NULL) {
        return NULL;
    }

    if (!YAJL_IS_STRING(v)) {
        *bad = 1;
        return NULL;
    }

    return YAJL_GET_STRING(v);
}


/* a base64url member, decoded into a new buffer; -1 if absent or bad */
static int
collab_jwks_bytes(yajl_val obj, const char *name, unsigned char **out,
    size_t *len)
{
    int          bad;
    size_t       n;
    const char  *s;

    bad = 0;
    s = collab_jwks_str(obj, name, &bad);

    if (s == NULL || s[0] == '\0') {
        return -1;
    }

    n = strlen(s);

    *out = malloc(n * 3 / 4 + 3);
    if (*out == NULL) {
        return -1;
    }

    if (collab_jwt_b64url_decode(s, n, *out, len) != COLLAB_JWT_OK
        || *len == 0)
    {
        return -1;
    }

    return 0;
}

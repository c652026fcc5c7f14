/*
 * JSON Web Tokens: shape, header and claims (see collab_jwt.h).
 *
 * Every registered name read here must appear at most once: a token with
 * two "alg" or two "exp" means different things to different parsers.
 */

#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "auth/collab_jwt.h"


static int collab_jwt_b64url_value(unsigned char c);
static int collab_jwt_copy(yajl_val v, char *buf, size_t size);
static int collab_jwt_int(yajl_val v, int64_t *out);
static int collab_jwt_aud_ok(yajl_val aud, const collab_jwt_rules_t *r);


static const char  *collab_jwt_errors[] = {
    "ok",
    "token too long",
    "not three dot-separated segments",
    "bad base64url",
    "header is not a JSON object",
    "alg missing or not a string",
    "typ is not JWT",
    "crit is not supported",
    "claims are not a JSON object",
    "exp missing",
    "exp is not an integer",
    "token expired",
    "token not valid yet (nbf)",
    "token issued in the future (iat)",
    "wrong issuer",
    "wrong audience",
    "sub missing or not a string",
    "out of memory"
};


const char *
collab_jwt_strerror(int err)
{
    if (err < 0 || (size_t) err >= sizeof(collab_jwt_errors)
                                   / sizeof(collab_jwt_errors[0]))
    {
        return "invalid token";
    }

    return collab_jwt_errors[err];
}


int
collab_jwt_split(const char *token, size_t len, collab_jwt_parts_t *p)
{
    size_t       i, seg;
    const char  *start[3];
    size_t       n[3];

    if (len > COLLAB_JWT_MAX_LEN) {
        return COLLAB_JWT_ERR_TOO_LONG;
    }

    seg = 0;
    start[0] = token;
    n[0] = n[1] = n[2] = 0;

    for (i = 0; i < len; i++) {
        if (token[i] == '.') {
            if (++seg > 2) {
                return COLLAB_JWT_ERR_SEGMENTS;
            }

            start[seg] = token + i + 1;
            continue;
        }

        if (collab_jwt_b64url_value((unsigned char) token[i]) < 0) {
            return COLLAB_JWT_ERR_BASE64;
        }

        n[seg]++;
    }

    if (seg != 2 || n[0] == 0 || n[1] == 0) {
        return COLLAB_JWT_ERR_SEGMENTS;
    }

    p->header = start[0];
    p->header_len = n[0];
    p->payload = start[1];
    p->payload_len = n[1];
    p->signature = start[2];
    p->signature_len = n[2];

    return COLLAB_JWT_OK;
}


int
collab_jwt_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t *out_len)
{
    int       v;
    size_t    i, o, bits;
    uint32_t  acc;

    /* a length of 1 mod 4 cannot come from any byte string */
    if (len % 4 == 1) {
        return COLLAB_JWT_ERR_BASE64;
    }

    acc = 0;
    bits = 0;
    o = 0;

    for (i = 0; i < len; i++) {
        v = collab_jwt_b64url_value((unsigned char) in[i]);
        if (v < 0) {
            return COLLAB_JWT_ERR_BASE64;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char) (acc >> bits);
            acc &= ((uint32_t) 1 << bits) - 1;
        }
    }

    /* the unused low bits of the last character must be zero */
    if (acc != 0) {
        return COLLAB_JWT_ERR_BASE64;
    }

    *out_len = o;

    return COLLAB_JWT_OK;
}


int
collab_jwt_header_parse(const char *json, size_t len, collab_jwt_header_t *h)
{
    int       dup;
    char      buf[COLLAB_JWT_MAX_LEN + 1];
    yajl_val  root, alg, kid, typ;

    memset(h, 0, sizeof(collab_jwt_header_t));

    if (len > COLLAB_JWT_MAX_LEN) {
        return COLLAB_JWT_ERR_TOO_LONG;
    }

    memcpy(buf, json, len);
    buf[len] = '\0';

    if (strlen(buf) != len) {
        return COLLAB_JWT_ERR_HEADER;
    }

    root = yajl_tree_parse(buf, NULL, 0);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return COLLAB_JWT_ERR_HEADER;
    }

    dup = 0;
    alg = collab_jwt_get(root, "alg", &dup);
    kid = collab_jwt_get(root, "kid", &dup);
    typ = collab_jwt_get(root, "typ", &dup);

    if (dup) {
        yajl_tree_free(root);
        return COLLAB_JWT_ERR_HEADER;
    }

    if (alg == NULL || collab_jwt_copy(alg, h->alg, sizeof(h->alg)) != 0
        || h->alg[0] == '\0')
    {
        yajl_tree_free(root);
        return COLLAB_JWT_ERR_ALG;
    }

    if (kid) {
        if (collab_jwt_copy(kid, h->kid, sizeof(h->kid)) != 0) {
            yajl_tree_free(root);
            return COLLAB_JWT_ERR_HEADER;
        }

        h->has_kid = 1;
    }

    if (typ && (!YAJL_IS_STRING(typ)
                || strcasecmp(typ->u.string, "JWT") != 0))
    {
        yajl_tree_free(root);
        return COLLAB_JWT_ERR_TYP;
    }

    /* extensions the recipient must understand: none are */
    if (collab_jwt_get(root, "crit", &dup)) {
        yajl_tree_free(root);
        return COLLAB_JWT_ERR_CRIT;
    }

    yajl_tree_free(root);

    return COLLAB_JWT_OK;
}


int
collab_jwt_claims_check(const char *json, size_t len,
    const collab_jwt_rules_t *r, collab_jwt_claims_t *c)
{
    int       dup, rc;
    char      buf[COLLAB_JWT_MAX_LEN + 1];
    int64_t   exp, t;
    yajl_val  root, v, sub, iss, aud, name;

    memset(c, 0, sizeof(collab_jwt_claims_t));

    if (len > COLLAB_JWT_MAX_LEN) {
        return COLLAB_JWT_ERR_TOO_LONG;
    }

    memcpy(buf, json, len);
    buf[len] = '\0';

    if (strlen(buf) != len) {
        return COLLAB_JWT_ERR_CLAIMS;
    }

    root = yajl_tree_parse(buf, NULL, 0);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return COLLAB_JWT_ERR_CLAIMS;
    }

    dup = 0;
    v = collab_jwt_get(root, "exp", &dup);
    sub = collab_jwt_get(root, "sub", &dup);
    iss = collab_jwt_get(root, "iss", &dup);
    aud = collab_jwt_get(root, "aud", &dup);
    (void) collab_jwt_get(root, "nbf", &dup);
    (void) collab_jwt_get(root, "iat", &dup);

    if (dup) {
        rc = COLLAB_JWT_ERR_CLAIMS;
        goto done;
    }

    if (v == NULL) {
        rc = COLLAB_JWT_ERR_EXP_MISSING;
        goto done;
    }

    if (collab_jwt_int(v, &exp) != 0) {
        rc = COLLAB_JWT_ERR_EXP_TYPE;
        goto done;
    }

    if (r->now > exp + r->leeway) {
        rc = COLLAB_JWT_ERR_EXPIRED;
        goto done;
    }

    c->exp = exp;

    v = collab_jwt_get(root, "nbf", &dup);

    if (v && (collab_jwt_int(v, &t) != 0 || t > r->now + r->leeway)) {
        rc = COLLAB_JWT_ERR_NBF;
        goto done;
    }

    v = collab_jwt_get(root, "iat", &dup);

    if (v && (collab_jwt_int(v, &t) != 0 || t > r->now + r->leeway)) {
        rc = COLLAB_JWT_ERR_IAT;
        goto done;
    }

    if (iss && collab_jwt_copy(iss, c->iss, sizeof(c->iss)) != 0) {
        rc = COLLAB_JWT_ERR_ISS;
        goto done;
    }

    if (r->iss && (iss == NULL || strcmp(c->iss, r->iss) != 0)) {
        rc = COLLAB_JWT_ERR_ISS;
        goto done;
    }

    if (r->naud && !collab_jwt_aud_ok(aud, r)) {
        rc = COLLAB_JWT_ERR_AUD;
        goto done;
    }

    if (sub == NULL || collab_jwt_copy(sub, c->sub, sizeof(c->sub)) != 0
        || c->sub[0] == '\0')
    {
        rc = COLLAB_JWT_ERR_SUB;
        goto done;
    }

    name = collab_jwt_get(root, "name", &dup);

    if (name == NULL || !YAJL_IS_STRING(name)) {
        name = collab_jwt_get(root, "preferred_username", &dup);
    }

    if (name == NULL || collab_jwt_copy(name, c->name, sizeof(c->name)) != 0)
    {
        c->name[0] = '\0';
    }

    rc = COLLAB_JWT_OK;

done:

    yajl_tree_free(root);

    return rc;
}


static int
collab_jwt_b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


/* obj[name]; *dup set when the name appears more than once */
yajl_val
collab_jwt_get(yajl_val obj, const char *name, int *dup)
{
    size_t    i;
    yajl_val  found;

    found = NULL;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], name) == 0) {
            if (found) {
                *dup = 1;
            }

            found = obj->u.object.values[i];
        }
    }

    return found;
}


/* a JSON string that fits in buf, NUL-free */
static int
collab_jwt_copy(yajl_val v, char *buf, size_t size)
{
    size_t       n;
    const char  *s;

    if (!YAJL_IS_STRING(v)) {
        return -1;
    }

    s = v->u.string;
    n = strlen(s);

    if (n >= size) {
        return -1;
    }

    memcpy(buf, s, n + 1);

    return 0;
}


/* a JSON integer (not a real, not a string) */
static int
collab_jwt_int(yajl_val v, int64_t *out)
{
    if (!YAJL_IS_INTEGER(v)) {
        return -1;
    }

    *out = (int64_t) YAJL_GET_INTEGER(v);

    return 0;
}


/* aud: a string or an array of strings, one of them allowed */
static int
collab_jwt_aud_ok(yajl_val aud, const collab_jwt_rules_t *r)
{
    size_t    i, j;
    yajl_val  a;

    if (aud == NULL) {
        return 0;
    }

    if (YAJL_IS_STRING(aud)) {
        for (j = 0; j < r->naud; j++) {
            if (strcmp(aud->u.string, r->aud[j]) == 0) {
                return 1;
            }
        }

        return 0;
    }

    if (!YAJL_IS_ARRAY(aud)) {
        return 0;
    }

    for (i = 0; i < aud->u.array.len; i++) {
        a = aud->u.array.values[i];

        if (!YAJL_IS_STRING(a)) {
            return 0;
        }

        for (j = 0; j < r->naud; j++) {
            if (strcmp(a->u.string, r->aud[j]) == 0) {
                return 1;
            }
        }
    }

    return 0;
}

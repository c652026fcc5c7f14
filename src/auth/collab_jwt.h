/*
 * JSON Web Tokens, the parts libjwt 1.10 leaves to us: the token's shape,
 * its JOSE header (alg, kid, typ) read before any key is chosen, and the
 * registered claims (exp, nbf, iat, iss, aud, sub) checked against rules.
 * The signature is libjwt's, with a key the header cannot choose the type
 * of.  No nginx headers (unit-tested and fuzzed).
 */

#ifndef _COLLAB_JWT_H_INCLUDED_
#define _COLLAB_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>


/* longer tokens are refused before anything is decoded */
#define COLLAB_JWT_MAX_LEN     8192

#define COLLAB_JWT_ALG_LEN     16
#define COLLAB_JWT_KID_LEN     128
#define COLLAB_JWT_STR_LEN     256


typedef enum {
    COLLAB_JWT_OK = 0,
    COLLAB_JWT_ERR_TOO_LONG,
    COLLAB_JWT_ERR_SEGMENTS,
    COLLAB_JWT_ERR_BASE64,
    COLLAB_JWT_ERR_HEADER,
    COLLAB_JWT_ERR_ALG,
    COLLAB_JWT_ERR_TYP,
    COLLAB_JWT_ERR_CRIT,
    COLLAB_JWT_ERR_CLAIMS,
    COLLAB_JWT_ERR_EXP_MISSING,
    COLLAB_JWT_ERR_EXP_TYPE,
    COLLAB_JWT_ERR_EXPIRED,
    COLLAB_JWT_ERR_NBF,
    COLLAB_JWT_ERR_IAT,
    COLLAB_JWT_ERR_ISS,
    COLLAB_JWT_ERR_AUD,
    COLLAB_JWT_ERR_SUB,
    COLLAB_JWT_ERR_NOMEM
} collab_jwt_err_e;


/* where the three segments are in the token */
typedef struct {
    const char  *header;
    size_t       header_len;
    const char  *payload;
    size_t       payload_len;
    const char  *signature;
    size_t       signature_len;
} collab_jwt_parts_t;


typedef struct {
    char         alg[COLLAB_JWT_ALG_LEN];
    char         kid[COLLAB_JWT_KID_LEN];
    unsigned     has_kid:1;
} collab_jwt_header_t;


typedef struct {
    int64_t      now;                 /* seconds since the epoch */
    int64_t      leeway;              /* seconds */
    const char  *iss;                 /* required issuer, or NULL */
    const char **aud;                 /* any one of these, or naud 0 */
    size_t       naud;
} collab_jwt_rules_t;


typedef struct {
    char         sub[COLLAB_JWT_STR_LEN];
    char         iss[COLLAB_JWT_STR_LEN];
    char         name[COLLAB_JWT_STR_LEN];   /* name or preferred_username */
    int64_t      exp;
} collab_jwt_claims_t;


/* a short reason, for logs and the 401 body */
const char *collab_jwt_strerror(int err);

/* three non-empty-ish base64url segments (signature may be empty: "none") */
int collab_jwt_split(const char *token, size_t len, collab_jwt_parts_t *p);

/*
 * base64url without padding into out (room for len * 3 / 4 + 3 bytes);
 * COLLAB_JWT_ERR_BASE64 on any other character or a bad length.
 */
int collab_jwt_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t *out_len);

/* the decoded header: a JSON object with a string alg */
int collab_jwt_header_parse(const char *json, size_t len,
    collab_jwt_header_t *h);

/* the decoded payload: a JSON object whose claims satisfy the rules */
int collab_jwt_claims_check(const char *json, size_t len,
    const collab_jwt_rules_t *rules, collab_jwt_claims_t *c);


/*
 * obj's member called name (an object from yajl_tree); *dup is set when
 * the name is there twice (yajl keeps both: the last one wins here, and
 * a caller refuses the object).
 */
yajl_val collab_jwt_get(yajl_val obj, const char *name, int *dup);


#endif /* _COLLAB_JWT_H_INCLUDED_ */

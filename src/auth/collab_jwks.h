/*
 * JSON Web Key Sets (RFC 7517) as identity providers publish them: the
 * public verification keys, each pinned to one JWS algorithm.  Parsing
 * and checking only; turning RSA n/e and EC x/y into keys is OpenSSL's,
 * in the nginx glue.  No nginx headers (unit-tested and fuzzed).
 *
 * Refused, with the key's index and kid in the message: a set that is not
 * {"keys": [...]}, a key that is not an object or has a member twice, an
 * unknown kty, a private member (d, p, q, dp, dq, qi, oth), an alg we do
 * not verify or that does not fit the kty (or the curve), no alg where
 * none can be told (RSA and oct keys need one, or a default from the
 * configuration), bad base64url, EC coordinates of the wrong length.
 * Keys whose "use" is not "sig" (encryption keys) are skipped.
 */

#ifndef _COLLAB_JWKS_H_INCLUDED_
#define _COLLAB_JWKS_H_INCLUDED_


#include <stddef.h>


#define COLLAB_JWKS_MAX_LEN   (1024 * 1024)
#define COLLAB_JWKS_MAX_KEYS  64
#define COLLAB_JWKS_KID_LEN   128


typedef enum {
    COLLAB_JWK_RSA = 1,
    COLLAB_JWK_EC,
    COLLAB_JWK_OCT
} collab_jwk_type_e;


typedef struct {
    collab_jwk_type_e   type;
    char                alg[8];                   /* "RS256", "ES384", ... */
    char                kid[COLLAB_JWKS_KID_LEN];
    unsigned            has_kid:1;
    const char         *curve;         /* EC: OpenSSL's group name */
    unsigned char      *a;             /* RSA n, EC x, oct k */
    size_t              a_len;
    unsigned char      *b;             /* RSA e, EC y */
    size_t              b_len;
} collab_jwk_t;


typedef struct {
    collab_jwk_t       *keys;
    size_t              nkeys;
    size_t              skipped;       /* "use" other than "sig" */
} collab_jwks_t;


/*
 * Parses json (len bytes) into set; default_alg (NULL: none) is the alg of
 * keys that name none.  0 on success (free with collab_jwks_free, also
 * after a failure); -1 with a message in err (size bytes).
 */
int collab_jwks_parse(const char *json, size_t len, const char *default_alg,
    collab_jwks_t *set, char *err, size_t size);

void collab_jwks_free(collab_jwks_t *set);


#endif /* _COLLAB_JWKS_H_INCLUDED_ */

/*
 * JSON Web Key Sets: what a set must look like, which algorithm each key
 * is pinned to (named, told by the curve, or the directive's default), and
 * everything refused before OpenSSL sees a key (private keys, an alg that
 * does not fit, EC coordinates of the wrong size, bad base64url).
 */

#include "collab_test.h"
#include "auth/collab_jwks.h"


/* 32 and 48 zero bytes, base64url */
#define X32  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define X48  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

#define RSA_KEY(extra)                                                        \
    "{\"kty\":\"RSA\","                                                       \
    "\"n\":\"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri\","                 \
    "\"e\":\"AQAB\"" extra "}"


static char  err[256];


static int
parse(const char *json, const char *def, collab_jwks_t *set)
{
    return collab_jwks_parse(json, strlen(json), def, set, err, sizeof(err));
}


/* json is refused, and the message has want in it */
static void
refused(const char *json, const char *def, const char *want, int line)
{
    collab_jwks_t  set;

    COLLAB_CHECK_MSG(parse(json, def, &set) == -1 && strstr(err, want),
                     "line %d: err \"%s\", want \"%s\"", line, err, want);
    collab_jwks_free(&set);
}

#define REFUSED(json, def, want)  refused(json, def, want, __LINE__)


static void
test_accepted(void)
{
    collab_jwks_t  set;

    COLLAB_CHECK(parse("{\"keys\":["
                       RSA_KEY(",\"alg\":\"RS256\",\"kid\":\"r1\","
                               "\"use\":\"sig\",\"x5t\":\"ignored\"") ","
                       "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e1\","
                       "\"x\":\"" X32 "\",\"y\":\"" X32 "\"},"
                       "{\"kty\":\"EC\",\"crv\":\"P-384\",\"alg\":\"ES384\","
                       "\"x\":\"" X48 "\",\"y\":\"" X48 "\"},"
                       "{\"kty\":\"oct\",\"alg\":\"HS512\",\"kid\":\"h\","
                       "\"k\":\"" X48 "\"},"
                       "{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"x\"}"
                       "]}", NULL, &set) == 0);
    COLLAB_CHECK_MSG(set.nkeys == 4 && set.skipped == 1, "%zu keys, %zu "
                     "skipped (%s)", set.nkeys, set.skipped, err);

    if (set.nkeys == 4) {
        COLLAB_CHECK(set.keys[0].type == COLLAB_JWK_RSA);
        COLLAB_CHECK(strcmp(set.keys[0].alg, "RS256") == 0);
        COLLAB_CHECK(set.keys[0].has_kid
                     && strcmp(set.keys[0].kid, "r1") == 0);
        COLLAB_CHECK(set.keys[0].b_len == 3 && set.keys[0].b[0] == 1
                     && set.keys[0].b[2] == 1);
        COLLAB_CHECK(set.keys[0].a_len == 33);

        /* no alg on an EC key: the curve tells */
        COLLAB_CHECK(strcmp(set.keys[1].alg, "ES256") == 0);
        COLLAB_CHECK(strcmp(set.keys[1].curve, "prime256v1") == 0);
        COLLAB_CHECK(set.keys[1].a_len == 32 && set.keys[1].b_len == 32);

        COLLAB_CHECK(strcmp(set.keys[2].alg, "ES384") == 0);
        COLLAB_CHECK(!set.keys[2].has_kid);
        COLLAB_CHECK(strcmp(set.keys[2].curve, "secp384r1") == 0);

        COLLAB_CHECK(set.keys[3].type == COLLAB_JWK_OCT);
        COLLAB_CHECK(set.keys[3].a_len == 48 && set.keys[3].b == NULL);
    }

    collab_jwks_free(&set);
    COLLAB_CHECK(set.keys == NULL && set.nkeys == 0);

    /* the directive's default pins keys that name no alg */
    COLLAB_CHECK(parse("{\"keys\":[" RSA_KEY("") "]}", "RS384", &set) == 0);
    COLLAB_CHECK(set.nkeys == 1 && strcmp(set.keys[0].alg, "RS384") == 0);
    collab_jwks_free(&set);

    /* a key's own alg wins over the default */
    COLLAB_CHECK(parse("{\"keys\":[" RSA_KEY(",\"alg\":\"RS512\"") "]}",
                       "RS256", &set) == 0);
    COLLAB_CHECK(set.nkeys == 1 && strcmp(set.keys[0].alg, "RS512") == 0);
    collab_jwks_free(&set);
}


static void
test_refused(void)
{
    char  big[COLLAB_JWKS_MAX_KEYS * 8 + 64], *p;
    int   i;

    REFUSED("", NULL, "not a JSON Web Key Set");
    REFUSED("[]", NULL, "not a JSON Web Key Set");
    REFUSED("{\"keys\":{}}", NULL, "not a JSON Web Key Set");
    REFUSED("{\"keys\":[],\"keys\":[]}", NULL, "not a JSON Web Key Set");
    REFUSED(RSA_KEY(",\"alg\":\"RS256\""), NULL, "not a JSON Web Key Set");
    REFUSED("{\"keys\":[]}", NULL, "no signing key");
    REFUSED("{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\"}]}", NULL,
            "no signing key");
    REFUSED("{\"keys\":[1]}", NULL, "key 1: not a JSON object");
    REFUSED("{\"keys\":[{}]}", NULL, "key 1: no kty");
    REFUSED("{\"keys\":[{\"kty\":\"OKP\",\"kid\":\"ed\"}]}", NULL,
            "key 1 (kid \"ed\"): kty is not RSA, EC or oct");
    REFUSED("{\"keys\":[{\"kty\":1}]}", NULL, "not a string");
    REFUSED("{\"keys\":[{\"kid\":7,\"kty\":\"RSA\"}]}", NULL,
            "kid not a string");
    REFUSED("{\"keys\":[{\"kid\":\"\",\"kty\":\"RSA\"}]}", NULL,
            "kid empty");
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"RS256\",\"alg\":\"HS256\"")
            "]}", NULL, "a member twice");

    /* the second key is named in the message */
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"RS256\"") ","
            RSA_KEY(",\"kid\":\"r2\"") "]}", NULL,
            "key 2 (kid \"r2\"): no alg");
    REFUSED("{\"keys\":[{\"kty\":\"oct\",\"k\":\"" X32 "\"}]}", NULL,
            "no alg");

    /* private keys are not verification keys */
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"RS256\",\"d\":\"AQAB\"")
            "]}", NULL, "a private key");
    REFUSED("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"" X32
            "\",\"x\":\"" X32 "\",\"y\":\"" X32 "\"}]}", NULL,
            "a private key");

    /* alg: ours, and fitting the key */
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"PS256\"") "]}", NULL,
            "alg is not one of");
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"none\"") "]}", NULL,
            "alg is not one of");
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"rs256\"") "]}", NULL,
            "alg is not one of");
    REFUSED("{\"keys\":[" RSA_KEY("") "]}", "none", "alg is not one of");
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"HS256\"") "]}", NULL,
            "does not fit");
    REFUSED("{\"keys\":[" RSA_KEY(",\"alg\":\"ES256\"") "]}", NULL,
            "does not fit");
    REFUSED("{\"keys\":[{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"" X32
            "\"}]}", NULL, "does not fit");
    REFUSED("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\","
            "\"x\":\"" X32 "\",\"y\":\"" X32 "\"}]}", NULL, "does not fit");
    REFUSED("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\","
            "\"x\":\"" X32 "\",\"y\":\"" X32 "\"}]}", NULL,
            "crv is not P-256 or P-384");
    REFUSED("{\"keys\":[{\"kty\":\"EC\",\"x\":\"" X32 "\",\"y\":\"" X32
            "\"}]}", NULL, "crv is not");

    /* the key material itself */
    REFUSED("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" X48
            "\",\"y\":\"" X32 "\"}]}", NULL, "not the curve's size");
    REFUSED("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" X32
            "\"}]}", NULL, "x or y missing");
    REFUSED("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQAB\"}]}",
            NULL, "n or e missing");
    REFUSED("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQ==\","
            "\"e\":\"AQAB\"}]}", NULL, "not base64url");
    REFUSED("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"a+b/\","
            "\"e\":\"AQAB\"}]}", NULL, "not base64url");
    REFUSED("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"\","
            "\"e\":\"AQAB\"}]}", NULL, "n or e missing");
    REFUSED("{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":5}]}",
            NULL, "k missing");

    /* a NUL byte, and too many keys */
    COLLAB_CHECK(collab_jwks_parse("{\"keys\":[]}\0x", 14, NULL,
                                   &(collab_jwks_t) { 0 }, err, sizeof(err))
                 == -1);

    p = big + sprintf(big, "{\"keys\":[");
    for (i = 0; i <= COLLAB_JWKS_MAX_KEYS; i++) {
        p += sprintf(p, "%s{}", i ? "," : "");
    }
    sprintf(p, "]}");
    REFUSED(big, NULL, "more than");
}


int
main(void)
{
    test_accepted();
    test_refused();

    return COLLAB_TEST_DONE();
}

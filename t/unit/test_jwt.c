/*
 * The JWT parts libjwt leaves to us: the token's shape and base64url, the
 * JOSE header, and every registered claim against the rules, including
 * the attacks (duplicate names, exp as a string or a real, crit, typ).
 */

#include "collab_test.h"
#include "auth/collab_jwt.h"


static const collab_jwt_rules_t  rules_none = { 1000, 0, NULL, NULL, 0 };


static int
claims(const char *json, const collab_jwt_rules_t *r)
{
    collab_jwt_claims_t  c;

    return collab_jwt_claims_check(json, strlen(json), r, &c);
}


static int
header(const char *json, collab_jwt_header_t *h)
{
    return collab_jwt_header_parse(json, strlen(json), h);
}


static void
test_split(void)
{
    char                 big[COLLAB_JWT_MAX_LEN + 2];
    collab_jwt_parts_t   p;

    COLLAB_CHECK(collab_jwt_split("a.b.c", 5, &p) == COLLAB_JWT_OK);
    COLLAB_CHECK(p.header_len == 1 && p.payload_len == 1
                 && p.signature_len == 1 && p.signature[0] == 'c');
    /* alg none tokens end in a dot: their shape is fine, their alg not */
    COLLAB_CHECK(collab_jwt_split("a.b.", 4, &p) == COLLAB_JWT_OK);
    COLLAB_CHECK(collab_jwt_split("a.b", 3, &p) == COLLAB_JWT_ERR_SEGMENTS);
    COLLAB_CHECK(collab_jwt_split("a.b.c.d", 7, &p)
                 == COLLAB_JWT_ERR_SEGMENTS);
    COLLAB_CHECK(collab_jwt_split(".b.c", 4, &p) == COLLAB_JWT_ERR_SEGMENTS);
    COLLAB_CHECK(collab_jwt_split("a+.b.c", 6, &p) == COLLAB_JWT_ERR_BASE64);
    COLLAB_CHECK(collab_jwt_split("a=.b.c", 6, &p) == COLLAB_JWT_ERR_BASE64);
    COLLAB_CHECK(collab_jwt_split("a b.b.c", 7, &p) == COLLAB_JWT_ERR_BASE64);

    memset(big, 'a', sizeof(big));
    big[10] = '.';
    big[20] = '.';
    COLLAB_CHECK(collab_jwt_split(big, COLLAB_JWT_MAX_LEN + 1, &p)
                 == COLLAB_JWT_ERR_TOO_LONG);
    COLLAB_CHECK(collab_jwt_split(big, COLLAB_JWT_MAX_LEN, &p)
                 == COLLAB_JWT_OK);
}


static void
test_b64url(void)
{
    size_t         n;
    unsigned char  out[64];

    COLLAB_CHECK(collab_jwt_b64url_decode("eyJhIjoxfQ", 10, out, &n)
                 == COLLAB_JWT_OK);
    COLLAB_CHECK_MEM(out, n, "{\"a\":1}", 7);
    COLLAB_CHECK(collab_jwt_b64url_decode("_-8", 3, out, &n)
                 == COLLAB_JWT_OK && n == 2 && out[0] == 0xff
                 && out[1] == 0xef);
    COLLAB_CHECK(collab_jwt_b64url_decode("a", 1, out, &n)
                 == COLLAB_JWT_ERR_BASE64);
    /* unused bits set: not the canonical encoding of anything */
    COLLAB_CHECK(collab_jwt_b64url_decode("ab", 2, out, &n)
                 == COLLAB_JWT_ERR_BASE64);
    COLLAB_CHECK(collab_jwt_b64url_decode("a/", 2, out, &n)
                 == COLLAB_JWT_ERR_BASE64);
    COLLAB_CHECK(collab_jwt_b64url_decode("", 0, out, &n) == COLLAB_JWT_OK
                 && n == 0);
}


static void
test_header(void)
{
    collab_jwt_header_t  h;

    COLLAB_CHECK(header("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", &h)
                 == COLLAB_JWT_OK);
    COLLAB_CHECK(strcmp(h.alg, "HS256") == 0 && !h.has_kid);
    COLLAB_CHECK(header("{\"alg\":\"RS256\",\"kid\":\"k1\"}", &h)
                 == COLLAB_JWT_OK && h.has_kid && strcmp(h.kid, "k1") == 0);
    COLLAB_CHECK(header("{\"alg\":\"none\"}", &h) == COLLAB_JWT_OK
                 && strcmp(h.alg, "none") == 0);
    COLLAB_CHECK(header("{\"typ\":\"jwt\",\"alg\":\"ES256\"}", &h)
                 == COLLAB_JWT_OK);

    COLLAB_CHECK(header("[]", &h) == COLLAB_JWT_ERR_HEADER);
    COLLAB_CHECK(header("\"x\"", &h) == COLLAB_JWT_ERR_HEADER);
    COLLAB_CHECK(header("{", &h) == COLLAB_JWT_ERR_HEADER);
    COLLAB_CHECK(header("{}", &h) == COLLAB_JWT_ERR_ALG);
    COLLAB_CHECK(header("{\"alg\":256}", &h) == COLLAB_JWT_ERR_ALG);
    COLLAB_CHECK(header("{\"alg\":\"\"}", &h) == COLLAB_JWT_ERR_ALG);
    COLLAB_CHECK(header("{\"alg\":\"HS256\",\"alg\":\"none\"}", &h)
                 == COLLAB_JWT_ERR_HEADER);
    COLLAB_CHECK(header("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", &h)
                 == COLLAB_JWT_ERR_TYP);
    COLLAB_CHECK(header("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", &h)
                 == COLLAB_JWT_ERR_CRIT);
    COLLAB_CHECK(header("{\"alg\":\"HS256\",\"kid\":7}", &h)
                 == COLLAB_JWT_ERR_HEADER);
    COLLAB_CHECK(collab_jwt_header_parse("{\"alg\":\"HS256\"}\0x", 17, &h)
                 == COLLAB_JWT_ERR_HEADER);
}


static void
test_claims(void)
{
    const char           *auds[] = { "collab", "other" };
    collab_jwt_rules_t    r;
    collab_jwt_claims_t   c;

    r = rules_none;

    COLLAB_CHECK(collab_jwt_claims_check(
                     "{\"sub\":\"ann\",\"exp\":2000,\"name\":\"Ann\"}", 37,
                     &r, &c) == COLLAB_JWT_OK);
    COLLAB_CHECK(strcmp(c.sub, "ann") == 0 && strcmp(c.name, "Ann") == 0
                 && c.exp == 2000);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,"
                        "\"preferred_username\":\"al\"}", &r)
                 == COLLAB_JWT_OK);

    COLLAB_CHECK(claims("[]", &r) == COLLAB_JWT_ERR_CLAIMS);
    COLLAB_CHECK(claims("{\"sub\":\"a\"}", &r) == COLLAB_JWT_ERR_EXP_MISSING);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":\"2000\"}", &r)
                 == COLLAB_JWT_ERR_EXP_TYPE);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000.5}", &r)
                 == COLLAB_JWT_ERR_EXP_TYPE);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":999}", &r)
                 == COLLAB_JWT_ERR_EXPIRED);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":1000}", &r) == COLLAB_JWT_OK);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,\"exp\":1}", &r)
                 == COLLAB_JWT_ERR_CLAIMS);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,\"nbf\":1001}", &r)
                 == COLLAB_JWT_ERR_NBF);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,\"nbf\":\"0\"}", &r)
                 == COLLAB_JWT_ERR_NBF);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,\"iat\":1001}", &r)
                 == COLLAB_JWT_ERR_IAT);
    COLLAB_CHECK(claims("{\"exp\":2000}", &r) == COLLAB_JWT_ERR_SUB);
    COLLAB_CHECK(claims("{\"sub\":7,\"exp\":2000}", &r) == COLLAB_JWT_ERR_SUB);
    COLLAB_CHECK(claims("{\"sub\":\"\",\"exp\":2000}", &r)
                 == COLLAB_JWT_ERR_SUB);

    /* leeway */
    r.leeway = 5;
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":996}", &r) == COLLAB_JWT_OK);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":994}", &r)
                 == COLLAB_JWT_ERR_EXPIRED);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,\"nbf\":1004}", &r)
                 == COLLAB_JWT_OK);

    /* issuer and audience */
    r = rules_none;
    r.iss = "https://id.example";
    r.aud = auds;
    r.naud = 2;
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,"
                        "\"iss\":\"https://id.example\",\"aud\":\"collab\"}",
                        &r) == COLLAB_JWT_OK);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,"
                        "\"iss\":\"https://id.example\","
                        "\"aud\":[\"x\",\"other\"]}", &r) == COLLAB_JWT_OK);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,"
                        "\"iss\":\"https://evil.example\",\"aud\":\"collab\"}",
                        &r) == COLLAB_JWT_ERR_ISS);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,\"aud\":\"collab\"}", &r)
                 == COLLAB_JWT_ERR_ISS);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,"
                        "\"iss\":\"https://id.example\",\"aud\":\"x\"}", &r)
                 == COLLAB_JWT_ERR_AUD);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,"
                        "\"iss\":\"https://id.example\",\"aud\":[]}", &r)
                 == COLLAB_JWT_ERR_AUD);
    COLLAB_CHECK(claims("{\"sub\":\"a\",\"exp\":2000,"
                        "\"iss\":\"https://id.example\"}", &r)
                 == COLLAB_JWT_ERR_AUD);
}


static void
test_strerror(void)
{
    COLLAB_CHECK(strcmp(collab_jwt_strerror(COLLAB_JWT_ERR_EXPIRED),
                        "token expired") == 0);
    COLLAB_CHECK(strcmp(collab_jwt_strerror(999), "invalid token") == 0);
    COLLAB_CHECK(strcmp(collab_jwt_strerror(COLLAB_JWT_ERR_NOMEM),
                        "out of memory") == 0);
}


int
main(void)
{
    test_split();
    test_b64url();
    test_header();
    test_claims();
    test_strerror();

    return COLLAB_TEST_DONE();
}

/*
 * What verifying a token costs, per upgrade or REST request, as the module
 * does it: shape, header and claims (src/auth/collab_jwt.c) and libjwt's
 * signature check with the pinned key.  Usage:
 *   bench_jwt <hs secret file> <rsa private pem> <rsa public pem>
 *             <ec private pem> <ec public pem>
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "auth/collab_jwt.h"


static char *
slurp(const char *path, size_t *len)
{
    FILE  *f;
    char  *buf;
    long   n;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);

    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        exit(1);
    }

    buf[n] = '\0';
    fclose(f);
    *len = (size_t) n;

    return buf;
}


static double
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}


static char *
make(jwt_alg_t alg, const unsigned char *key, size_t len)
{
    jwt_t  *jwt;
    char   *out;

    jwt_new(&jwt);
    jwt_add_grant(jwt, "sub", "ann");
    jwt_add_grant(jwt, "iss", "https://id.example");
    jwt_add_grant(jwt, "aud", "collab");
    jwt_add_grant_int(jwt, "exp", time(NULL) + 3600);
    jwt_set_alg(jwt, alg, key, (int) len);
    out = jwt_encode_str(jwt);
    jwt_free(jwt);

    return out;
}


/* what ngx_http_collab_auth_check does for one token, without nginx */
static int
verify(const char *tok, const unsigned char *key, size_t len)
{
    size_t                n;
    jwt_t                *jwt;
    unsigned char         buf[COLLAB_JWT_MAX_LEN];
    const char           *aud[] = { "collab" };
    collab_jwt_parts_t    p;
    collab_jwt_header_t   h;
    collab_jwt_claims_t   c;
    collab_jwt_rules_t    r = { 0, 0, "https://id.example", aud, 1 };

    r.now = time(NULL);

    if (collab_jwt_split(tok, strlen(tok), &p) != COLLAB_JWT_OK
        || collab_jwt_b64url_decode(p.header, p.header_len, buf, &n)
        || collab_jwt_header_parse((char *) buf, n, &h))
    {
        return -1;
    }

    if (jwt_decode(&jwt, tok, key, (int) len) != 0) {
        return -1;
    }

    jwt_free(jwt);

    if (collab_jwt_b64url_decode(p.payload, p.payload_len, buf, &n)
        || collab_jwt_claims_check((char *) buf, n, &r, &c))
    {
        return -1;
    }

    return 0;
}


static void
run(const char *name, const char *tok, const unsigned char *key, size_t len,
    int iters)
{
    int     i;
    double  t0, t;

    for (i = 0; i < 50; i++) {
        if (verify(tok, key, len) != 0) {
            fprintf(stderr, "%s: verification failed\n", name);
            exit(1);
        }
    }

    t0 = now_us();

    for (i = 0; i < iters; i++) {
        (void) verify(tok, key, len);
    }

    t = (now_us() - t0) / iters;
    printf("verify %s: %.1f us per token (%zu bytes)\n", name, t,
           strlen(tok));
}


int
main(int argc, char **argv)
{
    char    *hs, *rpriv, *rpub, *epriv, *epub, *tok;
    size_t   hl, rl, rpl, el, epl;

    if (argc != 6) {
        fprintf(stderr, "usage: bench_jwt hs rsa.pem rsa.pub ec.pem ec.pub\n");
        return 1;
    }

    hs = slurp(argv[1], &hl);
    while (hl && hs[hl - 1] == '\n') {
        hs[--hl] = '\0';
    }

    rpriv = slurp(argv[2], &rl);
    rpub = slurp(argv[3], &rpl);
    epriv = slurp(argv[4], &el);
    epub = slurp(argv[5], &epl);

    tok = make(JWT_ALG_HS256, (unsigned char *) hs, hl);
    run("HS256", tok, (unsigned char *) hs, hl, 20000);
    free(tok);

    tok = make(JWT_ALG_RS256, (unsigned char *) rpriv, rl);
    run("RS256 (2048-bit)", tok, (unsigned char *) rpub, rpl, 5000);
    free(tok);

    tok = make(JWT_ALG_ES256, (unsigned char *) epriv, el);
    run("ES256", tok, (unsigned char *) epub, epl, 5000);
    free(tok);

    return 0;
}

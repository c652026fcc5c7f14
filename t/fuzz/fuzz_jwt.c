/*
 * libFuzzer target for the token parser: any bytes as a token go through
 * split, base64url, the header and the claims, as the auth layer runs them
 * before any key is used.  Properties: no crash or sanitizer report; a
 * decoded segment is never longer than 3/4 of its text; an accepted
 * header has a non-empty alg; accepted claims have a sub and an exp not
 * before now - leeway.
 */

#include <assert.h>
#include <string.h>

#include "auth/collab_jwt.h"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    size_t                n;
    unsigned char         buf[COLLAB_JWT_MAX_LEN];
    const char           *aud[] = { "collab" };
    collab_jwt_parts_t    p;
    collab_jwt_header_t   h;
    collab_jwt_claims_t   c;
    collab_jwt_rules_t    r = { 1700000000, 30, NULL, aud, 0 };

    if (collab_jwt_split((const char *) data, size, &p) != COLLAB_JWT_OK) {
        return 0;
    }

    if (collab_jwt_b64url_decode(p.header, p.header_len, buf, &n)
        == COLLAB_JWT_OK)
    {
        assert(n <= p.header_len * 3 / 4);

        if (collab_jwt_header_parse((const char *) buf, n, &h)
            == COLLAB_JWT_OK)
        {
            assert(h.alg[0] != '\0');
        }
    }

    if (collab_jwt_b64url_decode(p.payload, p.payload_len, buf, &n)
        == COLLAB_JWT_OK)
    {
        r.naud = (size & 1);

        if (collab_jwt_claims_check((const char *) buf, n, &r, &c)
            == COLLAB_JWT_OK)
        {
            assert(c.sub[0] != '\0');
            assert(c.exp + r.leeway >= r.now);
        }
    }

    return 0;
}

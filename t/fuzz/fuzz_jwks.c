/*
 * libFuzzer target for the JSON Web Key Set parser: any bytes as a key
 * set file, with or without a default alg (the first byte chooses).
 * Properties: no crash, leak or sanitizer report; an accepted set has at
 * least one key, each pinned to an alg, with its key material, and EC
 * coordinates the size of the curve.
 */

#include <assert.h>
#include <string.h>

#include "auth/collab_jwks.h"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char            err[256];
    size_t          i;
    const char     *def;
    collab_jwks_t   set;
    collab_jwk_t   *k;

    if (size == 0) {
        return 0;
    }

    def = (data[0] & 1) ? "RS256" : NULL;

    if (collab_jwks_parse((const char *) data + 1, size - 1, def, &set, err,
                          sizeof(err))
        == 0)
    {
        assert(set.nkeys > 0);

        for (i = 0; i < set.nkeys; i++) {
            k = &set.keys[i];
            assert(k->alg[0] != '\0');
            assert(k->a != NULL && k->a_len > 0);

            if (k->type == COLLAB_JWK_EC) {
                assert(k->a_len == k->b_len);
                assert(k->a_len == (strcmp(k->alg, "ES256") == 0 ? 32 : 48));
            }

            if (k->type == COLLAB_JWK_RSA) {
                assert(k->b != NULL && k->b_len > 0);
            }
        }

    } else {
        assert(err[0] != '\0');
    }

    collab_jwks_free(&set);

    return 0;
}

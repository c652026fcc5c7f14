/*
 * A minimal unit-test harness for the pure engine: no nginx, no framework.
 * Each test program ends with the plain line "N passed, N failed" and exits
 * non-zero when anything failed.
 */

#ifndef _COLLAB_TEST_H_INCLUDED_
#define _COLLAB_TEST_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static unsigned long  collab_test_passed;
static unsigned long  collab_test_failed;


#define COLLAB_CHECK(cond)                                                    \
    do {                                                                      \
        if (cond) {                                                           \
            collab_test_passed++;                                             \
        } else {                                                              \
            collab_test_failed++;                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                     \
    } while (0)

#define COLLAB_CHECK_MSG(cond, ...)                                           \
    do {                                                                      \
        if (cond) {                                                           \
            collab_test_passed++;                                             \
        } else {                                                              \
            collab_test_failed++;                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

#define COLLAB_CHECK_MEM(a, alen, b, blen)                                    \
    COLLAB_CHECK_MSG((alen) == (blen) && memcmp(a, b, alen) == 0,             \
                     "got \"%.*s\", want \"%.*s\"", (int) (alen),             \
                     (const char *) (a), (int) (blen), (const char *) (b))

#define COLLAB_TEST_DONE()                                                    \
    (printf("%lu passed, %lu failed\n", collab_test_passed,                   \
            collab_test_failed),                                              \
     collab_test_failed ? 1 : 0)


#endif /* _COLLAB_TEST_H_INCLUDED_ */

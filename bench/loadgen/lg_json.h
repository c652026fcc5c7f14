/*
 * A scanner for the top-level members of the small JSON objects ShareDB
 * sends.  Only "a", "v", "seq", "src" and whether "error" is present are
 * needed on the hot path, and building a tree for each of the hundreds of
 * thousands of messages a second that fan-out produces would make the
 * load generator the bottleneck.  Nested values are skipped.
 */

#ifndef _LG_JSON_H_INCLUDED_
#define _LG_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct {
    const char  *a;            /* action, not terminated */
    size_t       a_len;
    const char  *src;          /* raw string contents, not terminated */
    size_t       src_len;
    const char  *id;           /* "id" of a handshake reply */
    size_t       id_len;
    int64_t      v;            /* -1 when absent or null */
    int64_t      seq;          /* -1 when absent */
    unsigned     has_error:1;
    unsigned     has_data:1;
} lg_msg_t;


/* returns 0 on success, -1 if the text is not an object it understands */
int lg_json_scan(const char *p, size_t len, lg_msg_t *m);


#endif /* _LG_JSON_H_INCLUDED_ */

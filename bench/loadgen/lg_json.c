/*
 * Top-level JSON member scanner (see lg_json.h).
 */

#include <string.h>

#include "lg_json.h"


static const char *lg_json_ws(const char *p, const char *end);
static const char *lg_json_string(const char *p, const char *end);
static const char *lg_json_skip(const char *p, const char *end);


static const char *
lg_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    return p;
}


/* p at the opening quote: returns the position after the closing quote */

static const char *
lg_json_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }

        if (*p == '"') {
            return p + 1;
        }
    }

    return NULL;
}


/* skips any value: returns the position after it */

static const char *
lg_json_skip(const char *p, const char *end)
{
    int  depth;

    if (p >= end) {
        return NULL;
    }

    if (*p == '"') {
        return lg_json_string(p, end);
    }

    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']'
               && *p != ' ' && *p != '\n')
        {
            p++;
        }
        return p;
    }

    depth = 0;

    while (p < end) {
        if (*p == '"') {
            p = lg_json_string(p, end);
            if (p == NULL) {
                return NULL;
            }
            continue;
        }

        if (*p == '{' || *p == '[') {
            depth++;

        } else if (*p == '}' || *p == ']') {
            if (--depth == 0) {
                return p + 1;
            }
        }

        p++;
    }

    return NULL;
}


int
lg_json_scan(const char *p, size_t len, lg_msg_t *m)
{
    int64_t      n;
    size_t       klen;
    const char  *end, *k, *v, *after;

    memset(m, 0, sizeof(lg_msg_t));
    m->v = -1;
    m->seq = -1;

    end = p + len;
    p = lg_json_ws(p, end);

    if (p >= end || *p != '{') {
        return -1;
    }

    p++;

    for ( ;; ) {
        p = lg_json_ws(p, end);

        if (p < end && *p == '}') {
            return 0;
        }

        if (p >= end || *p != '"') {
            return -1;
        }

        k = p + 1;
        p = lg_json_string(p, end);
        if (p == NULL) {
            return -1;
        }
        klen = (size_t) (p - 1 - k);

        p = lg_json_ws(p, end);
        if (p >= end || *p != ':') {
            return -1;
        }
        p = lg_json_ws(p + 1, end);

        v = p;
        after = lg_json_skip(p, end);
        if (after == NULL) {
            return -1;
        }

        if (klen == 1 && k[0] == 'a' && *v == '"') {
            m->a = v + 1;
            m->a_len = (size_t) (after - v - 2);

        } else if (klen == 3 && memcmp(k, "src", 3) == 0 && *v == '"') {
            m->src = v + 1;
            m->src_len = (size_t) (after - v - 2);

        } else if (klen == 2 && memcmp(k, "id", 2) == 0 && *v == '"') {
            m->id = v + 1;
            m->id_len = (size_t) (after - v - 2);

        } else if ((klen == 1 && k[0] == 'v')
                   || (klen == 3 && memcmp(k, "seq", 3) == 0))
        {
            if (*v >= '0' && *v <= '9') {
                n = 0;
                while (v < after && *v >= '0' && *v <= '9') {
                    n = n * 10 + (*v++ - '0');
                }
                if (klen == 1) {
                    m->v = n;
                } else {
                    m->seq = n;
                }
            }

        } else if (klen == 5 && memcmp(k, "error", 5) == 0) {
            m->has_error = 1;

        } else if (klen == 4 && memcmp(k, "data", 4) == 0) {
            m->has_data = 1;
        }

        p = lg_json_ws(after, end);

        if (p < end && *p == ',') {
            p++;
            continue;
        }

        if (p < end && *p == '}') {
            return 0;
        }

        return -1;
    }
}

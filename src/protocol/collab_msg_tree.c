/*
 * JSON text -> yajl_val tree in an arena (see collab_msg_tree.h).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "protocol/collab_msg_tree.h"


struct collab_msg_chunk_s {
    collab_msg_chunk_t  *next;
    size_t               size;
};


#define COLLAB_MSG_ALIGN(n)      (((n) + 7) & ~((size_t) 7))
#define COLLAB_MSG_CHUNK_HDR     COLLAB_MSG_ALIGN(sizeof(collab_msg_chunk_t))
#define collab_msg_chunk_data(c) ((char *) (c) + COLLAB_MSG_CHUNK_HDR)


static void *collab_msg_tree_alloc(collab_msg_tree_t *t, size_t size);
static char *collab_msg_tree_strdup(collab_msg_tree_t *t, const char *s,
    size_t len);
static yajl_val collab_msg_tree_node(collab_msg_tree_t *t, yajl_type type);
static int collab_msg_tree_add(collab_msg_tree_t *t, yajl_val v);
static int collab_msg_tree_grow(void **p, size_t *cap, size_t n);
static int collab_msg_tree_open(collab_msg_tree_t *t, yajl_type type);
static int collab_msg_tree_close(collab_msg_tree_t *t);
static const char *collab_msg_tree_check_escapes(const char *p, size_t len);
static int collab_msg_tree_hex4(const char *p, const char *end);
static int collab_msg_tree_null(void *ctx);
static int collab_msg_tree_boolean(void *ctx, int b);
static int collab_msg_tree_number(void *ctx, const char *s, size_t len);
static int collab_msg_tree_string(void *ctx, const unsigned char *s,
    size_t len);
static int collab_msg_tree_start_map(void *ctx);
static int collab_msg_tree_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int collab_msg_tree_end(void *ctx);
static int collab_msg_tree_start_array(void *ctx);


static yajl_callbacks  collab_msg_tree_callbacks = {
    collab_msg_tree_null,
    collab_msg_tree_boolean,
    NULL,                               /* integers come as numbers */
    NULL,                               /* doubles too */
    collab_msg_tree_number,
    collab_msg_tree_string,
    collab_msg_tree_start_map,
    collab_msg_tree_map_key,
    collab_msg_tree_end,
    collab_msg_tree_start_array,
    collab_msg_tree_end
};


void
collab_msg_tree_init(collab_msg_tree_t *t)
{
    memset(t, 0, sizeof(collab_msg_tree_t));
}


int
collab_msg_tree_parse(collab_msg_tree_t *t, const char *json, size_t len,
    yajl_val *root, char *errbuf, size_t errlen)
{
    size_t          n;
    yajl_status     st;
    yajl_handle     h;
    const char     *reason;
    unsigned char  *yerr;

    *root = NULL;

    collab_msg_tree_reset(t);

    reason = collab_msg_tree_check_escapes(json, len);

    if (reason != NULL) {
        snprintf(errbuf, errlen, "%s", reason);
        return COLLAB_MSG_TREE_INVALID;
    }

    h = yajl_alloc(&collab_msg_tree_callbacks, NULL, t);
    if (h == NULL) {
        return COLLAB_MSG_TREE_NOMEM;
    }

    st = yajl_parse(h, (const unsigned char *) json, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    if (st == yajl_status_ok) {
        yajl_free(h);
        *root = t->root;
        return COLLAB_MSG_TREE_OK;
    }

    if (t->nomem) {
        yajl_free(h);
        return COLLAB_MSG_TREE_NOMEM;
    }

    if (st == yajl_status_client_canceled) {
        snprintf(errbuf, errlen, "%s", t->error);

    } else {
        yerr = yajl_get_error(h, 0, (const unsigned char *) json, len);
        if (yerr == NULL) {
            yajl_free(h);
            return COLLAB_MSG_TREE_NOMEM;
        }

        /* "parse error: premature EOF\n": keep the words */
        n = strlen((char *) yerr);
        while (n && (yerr[n - 1] == '\n' || yerr[n - 1] == ' ')) {
            n--;
        }

        snprintf(errbuf, errlen, "invalid JSON (%.*s)", (int) n,
                 (char *) yerr);
        yajl_free_error(h, yerr);
    }

    yajl_free(h);

    return COLLAB_MSG_TREE_INVALID;
}


void
collab_msg_tree_reset(collab_msg_tree_t *t)
{
    collab_msg_chunk_t  *c, *next;

    for (c = t->extra; c; c = next) {
        next = c->next;
        free(c);
    }

    t->extra = NULL;

    if (t->base) {
        t->pos = collab_msg_chunk_data(t->base);
        t->end = t->pos + t->base->size;

    } else {
        t->pos = NULL;
        t->end = NULL;
    }

    if (t->vals_cap > COLLAB_MSG_SCRATCH_KEEP) {
        free(t->vals);
        t->vals = NULL;
        t->vals_cap = 0;
    }

    if (t->keys_cap > COLLAB_MSG_SCRATCH_KEEP) {
        free(t->keys);
        t->keys = NULL;
        t->keys_cap = 0;
    }

    t->nvals = 0;
    t->nkeys = 0;
    t->depth = 0;
    t->count = 0;
    t->root = NULL;
    t->error = NULL;
    t->nomem = 0;
}


void
collab_msg_tree_free(collab_msg_tree_t *t)
{
    collab_msg_tree_reset(t);

    free(t->base);
    free(t->vals);
    free(t->keys);

    collab_msg_tree_init(t);
}


size_t
collab_msg_strlen(const char *s)
{
    size_t  len;

    memcpy(&len, s - sizeof(size_t), sizeof(size_t));

    return len;
}


static void *
collab_msg_tree_alloc(collab_msg_tree_t *t, size_t size)
{
    char                *p;
    size_t               csize;
    collab_msg_chunk_t  *c;

    size = COLLAB_MSG_ALIGN(size);

    if ((size_t) (t->end - t->pos) >= size) {
        p = t->pos;
        t->pos += size;
        return p;
    }

    /* a big value gets a chunk of its own; the current one keeps filling */

    csize = size > COLLAB_MSG_CHUNK_SIZE / 4 ? size : COLLAB_MSG_CHUNK_SIZE;

    c = malloc(COLLAB_MSG_CHUNK_HDR + csize);
    if (c == NULL) {
        t->nomem = 1;
        return NULL;
    }

    c->size = csize;
    p = collab_msg_chunk_data(c);

    if (t->base == NULL && csize == COLLAB_MSG_CHUNK_SIZE) {
        c->next = NULL;
        t->base = c;

    } else {
        c->next = t->extra;
        t->extra = c;
    }

    if (csize == COLLAB_MSG_CHUNK_SIZE) {
        t->pos = p + size;
        t->end = p + csize;
    }

    return p;
}


static char *
collab_msg_tree_strdup(collab_msg_tree_t *t, const char *s, size_t len)
{
    char  *p;

    p = collab_msg_tree_alloc(t, sizeof(size_t) + len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, &len, sizeof(size_t));
    p += sizeof(size_t);

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


static yajl_val
collab_msg_tree_node(collab_msg_tree_t *t, yajl_type type)
{
    yajl_val  v;

    if (++t->count > (t->max_values ? t->max_values
                                    : COLLAB_MSG_MAX_VALUES))
    {
        t->error = "too many JSON values";
        return NULL;
    }

    v = collab_msg_tree_alloc(t, sizeof(struct yajl_val_s));
    if (v == NULL) {
        return NULL;
    }

    memset(v, 0, sizeof(struct yajl_val_s));
    v->type = type;

    return v;
}


static int
collab_msg_tree_grow(void **p, size_t *cap, size_t n)
{
    void    *np;
    size_t   ncap;

    if (n < *cap) {
        return 0;
    }

    ncap = *cap ? *cap * 2 : 64;

    np = realloc(*p, ncap * sizeof(void *));
    if (np == NULL) {
        return -1;
    }

    *p = np;
    *cap = ncap;

    return 0;
}


static int
collab_msg_tree_add(collab_msg_tree_t *t, yajl_val v)
{
    if (v == NULL) {
        return 0;
    }

    if (t->depth == 0) {
        t->root = v;
        return 1;
    }

    if (collab_msg_tree_grow((void **) &t->vals, &t->vals_cap, t->nvals)
        != 0)
    {
        t->nomem = 1;
        return 0;
    }

    t->vals[t->nvals++] = v;

    return 1;
}


static int
collab_msg_tree_open(collab_msg_tree_t *t, yajl_type type)
{
    yajl_val             v;
    collab_msg_frame_t  *f;

    if (t->depth == COLLAB_MSG_MAX_DEPTH) {
        t->error = "JSON nested too deeply";
        return 0;
    }

    v = collab_msg_tree_node(t, type);

    if (!collab_msg_tree_add(t, v)) {
        return 0;
    }

    f = &t->frames[t->depth++];
    f->node = v;
    f->vbase = t->nvals;
    f->kbase = t->nkeys;

    return 1;
}


static int
collab_msg_tree_close(collab_msg_tree_t *t)
{
    size_t               n;
    yajl_val             v, *vals;
    const char         **keys;
    collab_msg_frame_t  *f;

    f = &t->frames[--t->depth];
    v = f->node;
    n = t->nvals - f->vbase;

    vals = NULL;

    if (n) {
        vals = collab_msg_tree_alloc(t, n * sizeof(yajl_val));
        if (vals == NULL) {
            return 0;
        }

        memcpy(vals, &t->vals[f->vbase], n * sizeof(yajl_val));
    }

    if (v->type == yajl_t_object) {
        keys = NULL;

        if (n) {
            keys = collab_msg_tree_alloc(t, n * sizeof(char *));
            if (keys == NULL) {
                return 0;
            }

            memcpy(keys, &t->keys[f->kbase], n * sizeof(char *));
        }

        v->u.object.keys = keys;
        v->u.object.values = vals;
        v->u.object.len = n;

    } else {
        v->u.array.values = vals;
        v->u.array.len = n;
    }

    t->nvals = f->vbase;
    t->nkeys = f->kbase;

    return 1;
}


static int
collab_msg_tree_null(void *ctx)
{
    return collab_msg_tree_add(ctx, collab_msg_tree_node(ctx, yajl_t_null));
}


static int
collab_msg_tree_boolean(void *ctx, int b)
{
    return collab_msg_tree_add(ctx,
               collab_msg_tree_node(ctx, b ? yajl_t_true : yajl_t_false));
}


static int
collab_msg_tree_number(void *ctx, const char *s, size_t len)
{
    char               *end;
    double              d;
    yajl_val            v;
    long long           i;
    collab_msg_tree_t  *t;

    t = ctx;

    v = collab_msg_tree_node(t, yajl_t_number);
    if (v == NULL) {
        return 0;
    }

    v->u.number.r = collab_msg_tree_strdup(t, s, len);
    if (v->u.number.r == NULL) {
        return 0;
    }

    /* the same flags yajl_tree sets */

    errno = 0;
    i = strtoll(v->u.number.r, &end, 10);

    if (errno == 0 && *end == '\0') {
        v->u.number.i = i;
        v->u.number.d = (double) i;
        v->u.number.flags = YAJL_NUMBER_INT_VALID | YAJL_NUMBER_DOUBLE_VALID;

    } else {
        errno = 0;
        d = strtod(v->u.number.r, &end);

        if (errno == 0 && *end == '\0') {
            v->u.number.d = d;
            v->u.number.flags = YAJL_NUMBER_DOUBLE_VALID;
        }
    }

    return collab_msg_tree_add(t, v);
}


static int
collab_msg_tree_string(void *ctx, const unsigned char *s, size_t len)
{
    yajl_val            v;
    collab_msg_tree_t  *t;

    t = ctx;

    v = collab_msg_tree_node(t, yajl_t_string);
    if (v == NULL) {
        return 0;
    }

    v->u.string = collab_msg_tree_strdup(t, (const char *) s, len);
    if (v->u.string == NULL) {
        return 0;
    }

    return collab_msg_tree_add(t, v);
}


static int
collab_msg_tree_start_map(void *ctx)
{
    return collab_msg_tree_open(ctx, yajl_t_object);
}


static int
collab_msg_tree_map_key(void *ctx, const unsigned char *s, size_t len)
{
    char               *key;
    collab_msg_tree_t  *t;

    t = ctx;

    if (++t->count > (t->max_values ? t->max_values
                                    : COLLAB_MSG_MAX_VALUES))
    {
        t->error = "too many JSON values";
        return 0;
    }

    key = collab_msg_tree_strdup(t, (const char *) s, len);
    if (key == NULL) {
        return 0;
    }

    if (collab_msg_tree_grow((void **) &t->keys, &t->keys_cap, t->nkeys)
        != 0)
    {
        t->nomem = 1;
        return 0;
    }

    t->keys[t->nkeys++] = key;

    return 1;
}


static int
collab_msg_tree_end(void *ctx)
{
    return collab_msg_tree_close(ctx);
}


static int
collab_msg_tree_start_array(void *ctx)
{
    return collab_msg_tree_open(ctx, yajl_t_array);
}


/*
 * yajl turns \u0000 into a NUL inside the string (C consumers then see a
 * shorter string), a lone high surrogate into '?' and a lone low surrogate
 * into invalid UTF-8.  Refuse all three up front; only messages with
 * backslashes pay for the scan beyond one memchr().
 */

static const char *
collab_msg_tree_check_escapes(const char *p, size_t len)
{
    int          cp, lo;
    const char  *end;

    end = p + len;

    for ( ;; ) {
        p = memchr(p, '\\', end - p);

        if (p == NULL || end - p < 2) {
            return NULL;
        }

        if (p[1] != 'u') {
            p += 2;
            continue;
        }

        cp = collab_msg_tree_hex4(p + 2, end);

        if (cp < 0) {
            /* malformed escape: yajl reports it */
            return NULL;
        }

        if (cp == 0) {
            return "strings must not contain U+0000";
        }

        if (cp >= 0xdc00 && cp <= 0xdfff) {
            return "unpaired UTF-16 surrogate in a string";
        }

        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u') {
                return "unpaired UTF-16 surrogate in a string";
            }

            lo = collab_msg_tree_hex4(p + 8, end);

            if (lo < 0xdc00 || lo > 0xdfff) {
                return "unpaired UTF-16 surrogate in a string";
            }

            p += 12;
            continue;
        }

        p += 6;
    }
}


static int
collab_msg_tree_hex4(const char *p, const char *end)
{
    int  i, c, v;

    if (end - p < 4) {
        return -1;
    }

    v = 0;

    for (i = 0; i < 4; i++) {
        c = (unsigned char) p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        v = v << 4 | c;
    }

    return v;
}

/*
 * Editing trace loader: zlib to inflate, a yajl tree to parse.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>
#include <zlib.h>

#include "trace_load.h"


static char *trace_read_gz(const char *path, size_t *len);
typedef struct {
    trace_t      *tr;
    size_t        depth;
    size_t        size;
    size_t        field;         /* index inside the current patch */
    long long     pos;
    long long     del;
    int           in_patches;
    int           bad;
    char          key[16];
} trace_ctx_t;


static int trace_on_start_map(void *ctx);
static int trace_on_end_map(void *ctx);
static int trace_on_start_array(void *ctx);
static int trace_on_end_array(void *ctx);
static int trace_on_key(void *ctx, const unsigned char *s, size_t len);
static int trace_on_integer(void *ctx, long long i);
static int trace_on_string(void *ctx, const unsigned char *s, size_t len);


static char *
trace_read_gz(const char *path, size_t *len)
{
    int     n;
    char   *buf, *p;
    size_t  size;
    gzFile  gz;

    gz = gzopen(path, "rb");
    if (gz == NULL) {
        return NULL;
    }

    size = 1 << 20;
    *len = 0;
    buf = malloc(size + 1);

    while (buf) {
        if (*len == size) {
            size *= 2;
            p = realloc(buf, size + 1);

            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }

            buf = p;
        }

        n = gzread(gz, buf + *len, size - *len);

        if (n < 0) {
            free(buf);
            buf = NULL;
            break;
        }

        if (n == 0) {
            buf[*len] = '\0';
            break;
        }

        *len += n;
    }

    gzclose(gz);

    return buf;
}


/*
 * A streaming parse: yajl trees grow arrays one element per realloc, which
 * is quadratic on a 260,000-element array.  Depths: 1 the root map, 2 txns,
 * 3 a txn, 4 its patches, 5 a patch [pos, del, ins].
 */

static int
trace_on_start_map(void *ctx)
{
    ((trace_ctx_t *) ctx)->depth++;
    return 1;
}


static int
trace_on_end_map(void *ctx)
{
    ((trace_ctx_t *) ctx)->depth--;
    return 1;
}


static int
trace_on_start_array(void *ctx)
{
    size_t        size;
    trace_ctx_t  *c;
    collab_op_t  *ops;

    c = ctx;
    c->depth++;

    if (c->depth == 4) {
        c->in_patches = (strcmp(c->key, "patches") == 0);
    }

    if (c->depth == 5 && c->in_patches) {
        if (c->tr->nops == c->size) {
            size = c->size ? c->size * 2 : 1024;
            ops = realloc(c->tr->ops, size * sizeof(collab_op_t));

            if (ops == NULL) {
                return 0;
            }

            c->tr->ops = ops;
            c->size = size;
        }

        collab_op_init(&c->tr->ops[c->tr->nops++]);
        c->field = 0;
    }

    return 1;
}


static int
trace_on_end_array(void *ctx)
{
    trace_ctx_t  *c;
    collab_op_t  *op;

    c = ctx;

    if (c->depth == 5 && c->in_patches) {
        op = &c->tr->ops[c->tr->nops - 1];

        if (c->field != 3) {
            c->bad = 1;
            return 0;
        }

        /* a pure cursor move [pos, 0, ""] would leave a trailing skip */

        if (op->ncomps && op->comps[op->ncomps - 1].type == COLLAB_OT_SKIP)
        {
            op->ncomps--;
        }
    }

    c->depth--;

    return 1;
}


static int
trace_on_key(void *ctx, const unsigned char *s, size_t len)
{
    trace_ctx_t  *c;

    c = ctx;

    if (len >= sizeof(c->key)) {
        len = sizeof(c->key) - 1;
    }

    memcpy(c->key, s, len);
    c->key[len] = '\0';

    return 1;
}


static int
trace_on_integer(void *ctx, long long i)
{
    trace_ctx_t  *c;

    c = ctx;

    if (c->depth == 5 && c->in_patches) {
        if (c->field == 0) {
            c->pos = i;

        } else if (c->field == 1) {
            c->del = i;
        }

        c->field++;
    }

    return 1;
}


static int
trace_on_string(void *ctx, const unsigned char *s, size_t len)
{
    int           rc;
    char        **dst;
    size_t       *dlen;
    trace_ctx_t  *c;
    collab_op_t  *op;

    c = ctx;

    if (c->depth == 5 && c->in_patches) {
        op = &c->tr->ops[c->tr->nops - 1];
        c->field++;

        /* [pos, del, ins] is the op [pos, {d:del}, ins] */

        rc = COLLAB_OT_OK;

        if (c->pos > 0) {
            rc = collab_op_push_skip(op, c->pos);
        }

        if (rc == COLLAB_OT_OK && c->del > 0) {
            rc = collab_op_push_delete(op, c->del);
        }

        if (rc == COLLAB_OT_OK && len > 0) {
            rc = collab_op_push_insert(op, (const char *) s, len);
        }

        return rc == COLLAB_OT_OK;
    }

    if (c->depth != 1) {
        return 1;
    }

    if (strcmp(c->key, "startContent") == 0) {
        dst = &c->tr->start;
        dlen = &c->tr->start_len;

    } else if (strcmp(c->key, "endContent") == 0) {
        dst = &c->tr->end;
        dlen = &c->tr->end_len;

    } else {
        return 1;
    }

    *dst = malloc(len + 1);
    if (*dst == NULL) {
        return 0;
    }

    memcpy(*dst, s, len);
    (*dst)[len] = '\0';
    *dlen = len;

    return 1;
}


int
trace_load(trace_t *tr, const char *path)
{
    char          *json;
    size_t         len;
    yajl_handle    h;
    yajl_status    st;
    trace_ctx_t    ctx;
    yajl_callbacks cb;

    memset(tr, 0, sizeof(trace_t));
    memset(&ctx, 0, sizeof(trace_ctx_t));
    memset(&cb, 0, sizeof(yajl_callbacks));

    ctx.tr = tr;

    cb.yajl_integer = trace_on_integer;
    cb.yajl_string = trace_on_string;
    cb.yajl_start_map = trace_on_start_map;
    cb.yajl_map_key = trace_on_key;
    cb.yajl_end_map = trace_on_end_map;
    cb.yajl_start_array = trace_on_start_array;
    cb.yajl_end_array = trace_on_end_array;

    json = trace_read_gz(path, &len);
    if (json == NULL) {
        fprintf(stderr, "%s: cannot read\n", path);
        return -1;
    }

    h = yajl_alloc(&cb, NULL, &ctx);
    if (h == NULL) {
        free(json);
        return -1;
    }

    st = yajl_parse(h, (const unsigned char *) json, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);
    free(json);

    if (st != yajl_status_ok || ctx.bad || tr->start == NULL
        || tr->end == NULL)
    {
        fprintf(stderr, "%s: not a trace\n", path);
        trace_free(tr);
        return -1;
    }

    return 0;
}


void
trace_free(trace_t *tr)
{
    size_t  i;

    for (i = 0; i < tr->nops; i++) {
        collab_op_free(&tr->ops[i]);
    }

    free(tr->ops);
    free(tr->start);
    free(tr->end);
}

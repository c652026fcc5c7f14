/*
 * Editing trace loader: zlib to inflate, a yajl tree to parse.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>
#include <zlib.h>

#include "trace_load.h"


static char *trace_read_gz(const char *path, size_t *len);
static char *trace_dup(yajl_val v, size_t *len);


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


static char *
trace_dup(yajl_val v, size_t *len)
{
    const char  *s;

    s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";
    *len = strlen(s);

    return strdup(s);
}


int
trace_load(trace_t *tr, const char *path)
{
    char         *json, err[256];
    size_t        len, i, j, n;
    yajl_val      root, txns, patches, p;
    const char   *k_start[] = { "startContent", NULL };
    const char   *k_end[] = { "endContent", NULL };
    const char   *k_txns[] = { "txns", NULL };
    const char   *k_patches[] = { "patches", NULL };
    collab_op_t  *op;

    memset(tr, 0, sizeof(trace_t));

    json = trace_read_gz(path, &len);
    if (json == NULL) {
        fprintf(stderr, "%s: cannot read\n", path);
        return -1;
    }

    root = yajl_tree_parse(json, err, sizeof(err));
    free(json);

    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }

    tr->start = trace_dup(yajl_tree_get(root, k_start, yajl_t_string),
                          &tr->start_len);
    tr->end = trace_dup(yajl_tree_get(root, k_end, yajl_t_string),
                        &tr->end_len);
    txns = yajl_tree_get(root, k_txns, yajl_t_array);

    if (txns == NULL || tr->start == NULL || tr->end == NULL) {
        fprintf(stderr, "%s: not a trace\n", path);
        yajl_tree_free(root);
        return -1;
    }

    n = 0;

    for (i = 0; i < txns->u.array.len; i++) {
        patches = yajl_tree_get(txns->u.array.values[i], k_patches,
                                yajl_t_array);
        n += patches ? patches->u.array.len : 0;
    }

    tr->ops = calloc(n ? n : 1, sizeof(collab_op_t));
    if (tr->ops == NULL) {
        yajl_tree_free(root);
        return -1;
    }

    for (i = 0; i < txns->u.array.len; i++) {
        patches = yajl_tree_get(txns->u.array.values[i], k_patches,
                                yajl_t_array);

        for (j = 0; patches && j < patches->u.array.len; j++) {
            p = patches->u.array.values[j];
            op = &tr->ops[tr->nops++];

            if (!YAJL_IS_ARRAY(p) || p->u.array.len != 3) {
                fprintf(stderr, "%s: bad patch\n", path);
                yajl_tree_free(root);
                return -1;
            }

            if (YAJL_GET_INTEGER(p->u.array.values[0]) > 0) {
                collab_op_push_skip(op,
                                    YAJL_GET_INTEGER(p->u.array.values[0]));
            }

            if (YAJL_GET_INTEGER(p->u.array.values[1]) > 0) {
                collab_op_push_delete(op,
                                      YAJL_GET_INTEGER(p->u.array.values[1]));
            }

            if (YAJL_GET_STRING(p->u.array.values[2])[0]) {
                collab_op_push_insert(op, YAJL_GET_STRING(
                                              p->u.array.values[2]),
                                      strlen(YAJL_GET_STRING(
                                              p->u.array.values[2])));
            }

            /* a pure cursor move [pos, 0, ""] leaves a trailing skip */

            if (op->ncomps && op->comps[op->ncomps - 1].type
                              == COLLAB_OT_SKIP)
            {
                op->ncomps--;
            }
        }
    }

    yajl_tree_free(root);

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

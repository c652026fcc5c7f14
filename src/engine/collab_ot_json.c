/*
 * text-unicode ops to and from JSON with yajl.
 */

#include <stdlib.h>
#include <string.h>

#include "engine/collab_ot_json.h"
#include "protocol/collab_msg_tree.h"


static int collab_ot_json_count(yajl_val v, size_t *n, int err);
static int collab_ot_json_delete(collab_op_t *op, yajl_val v);
static int collab_ot_json_has_nul(const char *p, size_t len);


/* A JSON number as a non-negative integer count; err when it is not one. */

static int
collab_ot_json_count(yajl_val v, size_t *n, int err)
{
    double     d;
    long long  i;

    if (YAJL_IS_INTEGER(v)) {
        i = YAJL_GET_INTEGER(v);

        if (i < 0) {
            return err;
        }

        if ((unsigned long long) i > COLLAB_OT_MAX_LEN) {
            return COLLAB_OT_ERR_LIMIT;
        }

        *n = (size_t) i;

        return COLLAB_OT_OK;
    }

    if (!YAJL_IS_DOUBLE(v)) {
        return err;
    }

    d = YAJL_GET_DOUBLE(v);

    if (!(d >= 0)) {
        return err;
    }

    if (d > (double) COLLAB_OT_MAX_LEN) {
        return COLLAB_OT_ERR_LIMIT;
    }

    if (d != (double) (size_t) d) {
        return err;
    }

    *n = (size_t) d;

    return COLLAB_OT_OK;
}


static int
collab_ot_json_delete(collab_op_t *op, yajl_val v)
{
    int          rc;
    size_t       i, n;
    yajl_val     d;
    const char  *s;

    d = NULL;

    /* like JSON.parse, the last "d" wins; other keys are ignored */

    for (i = 0; i < v->u.object.len; i++) {
        if (strcmp(v->u.object.keys[i], "d") == 0) {
            d = v->u.object.values[i];
        }
    }

    if (d == NULL) {
        return COLLAB_OT_ERR_DELETE;
    }

    if (YAJL_IS_STRING(d)) {
        s = YAJL_GET_STRING(d);
        return collab_op_push_delete_str(op, s, strlen(s));
    }

    if (!YAJL_IS_NUMBER(d)) {
        return COLLAB_OT_ERR_DELETE;
    }

    rc = collab_ot_json_count(d, &n, COLLAB_OT_ERR_DELETE);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    return collab_op_push_delete(op, n);
}


int
collab_op_decode(collab_op_t *op, yajl_val v)
{
    int          rc;
    size_t       i, n;
    yajl_val     c;
    const char  *s;

    collab_op_reset(op);

    if (!YAJL_IS_ARRAY(v)) {
        return COLLAB_OT_ERR_NOT_ARRAY;
    }

    for (i = 0; i < v->u.array.len; i++) {
        c = v->u.array.values[i];

        if (YAJL_IS_NUMBER(c)) {
            rc = collab_ot_json_count(c, &n, COLLAB_OT_ERR_SKIP);
            if (rc == COLLAB_OT_OK) {
                rc = collab_op_push_skip(op, n);
            }

        } else if (YAJL_IS_STRING(c)) {
            s = YAJL_GET_STRING(c);
            rc = collab_op_push_insert(op, s, strlen(s));

        } else if (YAJL_IS_OBJECT(c)) {
            rc = collab_ot_json_delete(op, c);

        } else {
            rc = COLLAB_OT_ERR_COMPONENT;
        }

        if (rc != COLLAB_OT_OK) {
            return rc;
        }
    }

    return collab_op_check(op);
}


/* Whether JSON text holds a "\u0000" escape, which yajl trees truncate. */

static int
collab_ot_json_has_nul(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i + 1 < len; i++) {
        if (p[i] != '\\') {
            continue;
        }

        if (p[i + 1] == 'u' && len - i >= 6 && memcmp(p + i + 2, "0000", 4)
                                                == 0)
        {
            return 1;
        }

        i++;
    }

    return 0;
}


/*
 * Stored ops are parsed with the arena builder of collab_msg_tree.h, not
 * yajl_tree_parse(): yajl 2.1's tree grows an array by one element per
 * value (a realloc each), quadratic in the op's components, and a log that
 * holds a 10,000-component op would pay that on every load.
 */

int
collab_op_decode_json(collab_op_t *op, const char *json, size_t len)
{
    int                       rc;
    char                      err[128];
    yajl_val                  v;

    /* one arena for every call: a replay decodes many ops in a row */
    static collab_msg_tree_t  tree;

    collab_op_reset(op);

    if (memchr(json, '\0', len)) {
        return COLLAB_OT_ERR_JSON;
    }

    if (collab_ot_json_has_nul(json, len)) {
        return COLLAB_OT_ERR_UTF8;
    }

    /*
     * A stored op is trusted to be as large as it is: every value takes
     * a byte of the text at least, so its length is the bound.
     */

    tree.max_values = len + 1;

    switch (collab_msg_tree_parse(&tree, json, len, &v, err, sizeof(err))) {

    case COLLAB_MSG_TREE_OK:
        rc = collab_op_decode(op, v);
        break;

    case COLLAB_MSG_TREE_NOMEM:
        rc = COLLAB_OT_ERR_NOMEM;
        break;

    default:
        rc = COLLAB_OT_ERR_JSON;
        break;
    }

    /* the arena's first chunk stays for the next call */
    collab_msg_tree_reset(&tree);

    return rc;
}


int
collab_op_encode(const collab_op_t *op, yajl_gen g)
{
    size_t                   i;
    yajl_gen_status          st;
    const collab_ot_comp_t  *c;

    st = yajl_gen_array_open(g);

    for (i = 0; st == yajl_gen_status_ok && i < op->ncomps; i++) {
        c = &op->comps[i];

        switch (c->type) {

        case COLLAB_OT_SKIP:
            st = yajl_gen_integer(g, (long long) c->n);
            break;

        case COLLAB_OT_INSERT:
            st = yajl_gen_string(g, (const unsigned char *) op->str + c->off,
                                 c->len);
            break;

        default: /* delete */
            st = yajl_gen_map_open(g);

            if (st == yajl_gen_status_ok) {
                st = yajl_gen_string(g, (const unsigned char *) "d", 1);
            }

            if (st == yajl_gen_status_ok) {
                st = (c->type == COLLAB_OT_DELETE)
                     ? yajl_gen_integer(g, (long long) c->n)
                     : yajl_gen_string(g,
                           (const unsigned char *) op->str + c->off, c->len);
            }

            if (st == yajl_gen_status_ok) {
                st = yajl_gen_map_close(g);
            }

            break;
        }
    }

    if (st == yajl_gen_status_ok) {
        st = yajl_gen_array_close(g);
    }

    return st == yajl_gen_status_ok ? COLLAB_OT_OK : COLLAB_OT_ERR_JSON;
}


int
collab_op_encode_json(const collab_op_t *op, char **out, size_t *len)
{
    int                   rc;
    char                 *p;
    size_t                n;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return COLLAB_OT_ERR_NOMEM;
    }

    rc = collab_op_encode(op, g);

    if (rc == COLLAB_OT_OK) {
        if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
            rc = COLLAB_OT_ERR_JSON;

        } else {
            p = malloc(n + 1);

            if (p == NULL) {
                rc = COLLAB_OT_ERR_NOMEM;

            } else {
                memcpy(p, buf, n);
                p[n] = '\0';
                *out = p;
                *len = n;
            }
        }
    }

    yajl_gen_free(g);

    return rc;
}

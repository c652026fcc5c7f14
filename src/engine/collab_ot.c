/*
 * text-unicode OT: op storage, checkOp, normalize, transform, compose,
 * cursor transforms and inversion.  The algorithms follow the semantics of
 * npm ot-text-unicode 4.0.0 exactly (including how components are split,
 * merged and tie-broken), which the differential test in t/ot checks.
 */

#include <stdlib.h>
#include <string.h>

#include "engine/collab_ot.h"
#include "engine/collab_utf8.h"


#define COLLAB_OT_TAKE_ALL  ((size_t) -1)
#define COLLAB_OT_NONE      ((uint32_t) -1)

#define collab_ot_is_delete(t)                                                \
    ((t) == COLLAB_OT_DELETE || (t) == COLLAB_OT_DELETE_STR)

#define collab_ot_has_text(t)                                                 \
    ((t) == COLLAB_OT_INSERT || (t) == COLLAB_OT_DELETE_STR)

/* a component's text; never arithmetic on a NULL buffer */
#define collab_ot_text(op, c)                                                 \
    ((c)->len ? (op)->str + (c)->off : NULL)


/* A reader over an op's components that can split them (the "take"). */
typedef struct {
    const collab_op_t  *op;
    size_t              idx;
    size_t              off;       /* code points into comps[idx] */
    size_t              off_b;     /* bytes into comps[idx]'s text */
} collab_ot_iter_t;


/* A piece of a component handed out by the iterator. */
typedef struct {
    const char  *s;
    size_t       n;
    size_t       len;
    uint32_t     type;
} collab_ot_part_t;


static int collab_op_reserve(collab_op_t *op, size_t ncomps, size_t nstr);
static int collab_op_push(collab_op_t *op, uint32_t type, size_t n,
    const char *s, size_t len);
static int collab_ot_class(uint32_t type);
static void collab_ot_iter_init(collab_ot_iter_t *it, const collab_op_t *op);
static int collab_ot_take(collab_ot_iter_t *it, size_t n, int indivisible,
    collab_ot_part_t *part);
static int collab_ot_append_part(collab_op_t *dst,
    const collab_ot_part_t *part);
static int collab_ot_start(collab_op_t *dst, collab_ot_iter_t *it,
    const collab_op_t *op, const collab_op_t *other);
static int collab_ot_skip(collab_op_t *dst, collab_ot_iter_t *it,
    size_t length, int indivisible);
static int collab_ot_finish(collab_op_t *dst, collab_ot_iter_t *it);
static void collab_op_trim(collab_op_t *op);


static const char  *collab_ot_errors[] = {
    "ok",
    "out of memory",
    "op is not valid JSON",
    "Op must be an array of components",
    "Op components must be numbers, strings or {d:...}",
    "Skip components must be >0",
    "Delete must be a positive integer or a string",
    "Deletes must not be empty",
    "Inserts cannot be empty",
    "Op strings must be valid UTF-8 without U+0000",
    "Adjacent skip components should be combined",
    "Op has a trailing skip",
    "Op lengths exceed 2^53",
    "The op is too long for this document",
    "Deleted text does not match the document",
    "Cannot invert text op: Deleted characters missing from operation"
};


const char *
collab_ot_strerror(int rc)
{
    if (rc < 0 || rc >= COLLAB_OT_ERR_LAST) {
        return "unknown error";
    }

    return collab_ot_errors[rc];
}


int
collab_ot_err_not_applied(int rc)
{
    return rc == COLLAB_OT_ERR_TOO_LONG || rc == COLLAB_OT_ERR_MISMATCH
           || rc == COLLAB_OT_ERR_NOT_INVERTIBLE;
}


void
collab_op_init(collab_op_t *op)
{
    memset(op, 0, sizeof(collab_op_t));
}


void
collab_op_free(collab_op_t *op)
{
    free(op->comps);
    free(op->str);
    memset(op, 0, sizeof(collab_op_t));
}


void
collab_op_reset(collab_op_t *op)
{
    op->ncomps = 0;
    op->str_len = 0;
}


static int
collab_op_reserve(collab_op_t *op, size_t ncomps, size_t nstr)
{
    size_t             size;
    char              *str;
    collab_ot_comp_t  *comps;

    if (op->ncomps + ncomps > op->comps_size) {
        size = op->comps_size ? op->comps_size * 2 : 8;

        while (size < op->ncomps + ncomps) {
            size *= 2;
        }

        comps = realloc(op->comps, size * sizeof(collab_ot_comp_t));
        if (comps == NULL) {
            return COLLAB_OT_ERR_NOMEM;
        }

        op->comps = comps;
        op->comps_size = size;
    }

    if (nstr > COLLAB_OT_MAX_LEN) {
        return COLLAB_OT_ERR_LIMIT;
    }

    if (op->str_len + nstr > op->str_size) {
        size = op->str_size ? op->str_size * 2 : 64;

        while (size < op->str_len + nstr) {
            size *= 2;
        }

        str = realloc(op->str, size);
        if (str == NULL) {
            return COLLAB_OT_ERR_NOMEM;
        }

        op->str = str;
        op->str_size = size;
    }

    return COLLAB_OT_OK;
}


static int
collab_op_push(collab_op_t *op, uint32_t type, size_t n, const char *s,
    size_t len)
{
    int                rc;
    collab_ot_comp_t  *c;

    rc = collab_op_reserve(op, 1, len);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    c = &op->comps[op->ncomps++];
    c->type = type;
    c->n = n;
    c->off = op->str_len;
    c->len = len;

    if (len) {
        memcpy(op->str + op->str_len, s, len);
        op->str_len += len;
    }

    return COLLAB_OT_OK;
}


int
collab_op_copy(collab_op_t *dst, const collab_op_t *src)
{
    int  rc;

    collab_op_reset(dst);

    rc = collab_op_reserve(dst, src->ncomps, src->str_len);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    if (src->ncomps) {
        memcpy(dst->comps, src->comps, src->ncomps * sizeof(collab_ot_comp_t));
    }

    if (src->str_len) {
        memcpy(dst->str, src->str, src->str_len);
    }

    dst->ncomps = src->ncomps;
    dst->str_len = src->str_len;

    return COLLAB_OT_OK;
}


int
collab_op_push_skip(collab_op_t *op, size_t n)
{
    return collab_op_push(op, COLLAB_OT_SKIP, n, NULL, 0);
}


int
collab_op_push_delete(collab_op_t *op, size_t n)
{
    return collab_op_push(op, COLLAB_OT_DELETE, n, NULL, 0);
}


int
collab_op_push_insert(collab_op_t *op, const char *s, size_t len)
{
    size_t  n;

    if (collab_utf8_count(s, len, &n) != 0 || memchr(s, '\0', len)) {
        return COLLAB_OT_ERR_UTF8;
    }

    return collab_op_push(op, COLLAB_OT_INSERT, n, s, len);
}


int
collab_op_push_delete_str(collab_op_t *op, const char *s, size_t len)
{
    size_t  n;

    if (collab_utf8_count(s, len, &n) != 0 || memchr(s, '\0', len)) {
        return COLLAB_OT_ERR_UTF8;
    }

    return collab_op_push(op, COLLAB_OT_DELETE_STR, n, s, len);
}


/* The reference merges by JavaScript typeof: number, string, object. */

static int
collab_ot_class(uint32_t type)
{
    return type == COLLAB_OT_DELETE_STR ? COLLAB_OT_DELETE : (int) type;
}


int
collab_op_append(collab_op_t *op, uint32_t type, size_t n, const char *s,
    size_t len)
{
    int                rc;
    collab_ot_comp_t  *last;

    if (n == 0) {
        return COLLAB_OT_OK;
    }

    if (op->ncomps == 0) {
        return collab_op_push(op, type, n, s, len);
    }

    last = &op->comps[op->ncomps - 1];

    if (collab_ot_class(last->type) != collab_ot_class(type)) {
        return collab_op_push(op, type, n, s, len);
    }

    if (last->type == COLLAB_OT_SKIP) {
        last->n += n;
        return COLLAB_OT_OK;
    }

    if (last->type == type && collab_ot_has_text(type)) {

        /* the last component's text is the tail of op->str */

        rc = collab_op_reserve(op, 0, len);
        if (rc != COLLAB_OT_OK) {
            return rc;
        }

        last = &op->comps[op->ncomps - 1];
        if (len) {
            memcpy(op->str + op->str_len, s, len);
        }

        op->str_len += len;
        last->len += len;
        last->n += n;

        return COLLAB_OT_OK;
    }

    /* {d:"str"} merged with {d:N}: the text is dropped */

    if (last->type == COLLAB_OT_DELETE_STR) {
        op->str_len = last->off;
    }

    last->type = COLLAB_OT_DELETE;
    last->off = 0;
    last->len = 0;
    last->n += n;

    return COLLAB_OT_OK;
}


static void
collab_op_trim(collab_op_t *op)
{
    if (op->ncomps && op->comps[op->ncomps - 1].type == COLLAB_OT_SKIP) {
        op->ncomps--;
    }
}


int
collab_op_check(const collab_op_t *op)
{
    size_t                   i, base, target;
    uint32_t                 prev;
    const collab_ot_comp_t  *c;

    base = 0;
    target = 0;
    prev = COLLAB_OT_NONE;

    for (i = 0; i < op->ncomps; i++) {
        c = &op->comps[i];

        switch (c->type) {

        case COLLAB_OT_SKIP:
            if (c->n == 0) {
                return COLLAB_OT_ERR_SKIP;
            }

            if (prev == COLLAB_OT_SKIP) {
                return COLLAB_OT_ERR_ADJACENT_SKIPS;
            }

            base += c->n;
            target += c->n;
            break;

        case COLLAB_OT_INSERT:
            if (c->n == 0) {
                return COLLAB_OT_ERR_EMPTY_INSERT;
            }

            target += c->n;
            break;

        case COLLAB_OT_DELETE:
        case COLLAB_OT_DELETE_STR:
            if (c->n == 0) {
                return COLLAB_OT_ERR_EMPTY_DELETE;
            }

            base += c->n;
            break;

        default:
            return COLLAB_OT_ERR_COMPONENT;
        }

        if (c->n > COLLAB_OT_MAX_LEN || base > COLLAB_OT_MAX_LEN
            || target > COLLAB_OT_MAX_LEN)
        {
            return COLLAB_OT_ERR_LIMIT;
        }

        prev = c->type;
    }

    if (prev == COLLAB_OT_SKIP) {
        return COLLAB_OT_ERR_TRAILING_SKIP;
    }

    return COLLAB_OT_OK;
}


size_t
collab_op_base_length(const collab_op_t *op)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < op->ncomps; i++) {
        if (op->comps[i].type != COLLAB_OT_INSERT) {
            n += op->comps[i].n;
        }
    }

    return n;
}


size_t
collab_op_target_length(const collab_op_t *op)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < op->ncomps; i++) {
        if (!collab_ot_is_delete(op->comps[i].type)) {
            n += op->comps[i].n;
        }
    }

    return n;
}


static void
collab_ot_iter_init(collab_ot_iter_t *it, const collab_op_t *op)
{
    it->op = op;
    it->idx = 0;
    it->off = 0;
    it->off_b = 0;
}


/*
 * Takes up to n code points from the front of the op (all of the next
 * component when n is COLLAB_OT_TAKE_ALL).  Components of the class
 * "indivisible" are never split.  Past the end the op skips forever.
 * Returns 0 only when n is COLLAB_OT_TAKE_ALL and the op is exhausted.
 */

static int
collab_ot_take(collab_ot_iter_t *it, size_t n, int indivisible,
    collab_ot_part_t *part)
{
    size_t                   rem, b;
    const collab_ot_comp_t  *c;

    if (it->idx == it->op->ncomps) {
        if (n == COLLAB_OT_TAKE_ALL) {
            return 0;
        }

        part->type = COLLAB_OT_SKIP;
        part->n = n;
        part->s = NULL;
        part->len = 0;

        return 1;
    }

    c = &it->op->comps[it->idx];
    rem = c->n - it->off;

    part->type = c->type;
    part->s = collab_ot_has_text(c->type) ? it->op->str + c->off + it->off_b
                                           : NULL;

    if (n == COLLAB_OT_TAKE_ALL || rem <= n
        || collab_ot_class(c->type) == indivisible)
    {
        part->n = rem;
        part->len = collab_ot_has_text(c->type) ? c->len - it->off_b : 0;

        it->idx++;
        it->off = 0;
        it->off_b = 0;

        return 1;
    }

    b = collab_ot_has_text(c->type)
        ? collab_utf8_offset(part->s, c->len - it->off_b, n) : 0;

    part->n = n;
    part->len = b;

    it->off += n;
    it->off_b += b;

    return 1;
}


static int
collab_ot_append_part(collab_op_t *dst, const collab_ot_part_t *part)
{
    return collab_op_append(dst, part->type, part->n, part->s, part->len);
}


int
collab_op_normalize(collab_op_t *dst, const collab_op_t *op)
{
    int                      rc;
    size_t                   i;
    const collab_ot_comp_t  *c;

    collab_op_reset(dst);

    for (i = 0; i < op->ncomps; i++) {
        c = &op->comps[i];

        rc = collab_op_append(dst, c->type, c->n, collab_ot_text(op, c),
                              c->len);
        if (rc != COLLAB_OT_OK) {
            return rc;
        }
    }

    collab_op_trim(dst);

    return COLLAB_OT_OK;
}


/* resets dst, checks both ops, and starts reading op */

static int
collab_ot_start(collab_op_t *dst, collab_ot_iter_t *it, const collab_op_t *op,
    const collab_op_t *other)
{
    int  rc;

    collab_op_reset(dst);

    rc = collab_op_check(op);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    rc = collab_op_check(other);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    collab_ot_iter_init(it, op);

    return COLLAB_OT_OK;
}


/*
 * Copies length code points of the op read by it into dst; the parts of
 * the class "indivisible" are copied whole and do not count.
 */

static int
collab_ot_skip(collab_op_t *dst, collab_ot_iter_t *it, size_t length,
    int indivisible)
{
    int               rc;
    collab_ot_part_t  p;

    while (length > 0) {
        collab_ot_take(it, length, indivisible, &p);

        rc = collab_ot_append_part(dst, &p);
        if (rc != COLLAB_OT_OK) {
            return rc;
        }

        if (collab_ot_class(p.type) != indivisible) {
            length -= p.n;
        }
    }

    return COLLAB_OT_OK;
}


/* copies the rest of the op read by it into dst */

static int
collab_ot_finish(collab_op_t *dst, collab_ot_iter_t *it)
{
    int               rc;
    collab_ot_part_t  p;

    while (collab_ot_take(it, COLLAB_OT_TAKE_ALL, -1, &p)) {
        rc = collab_ot_append_part(dst, &p);
        if (rc != COLLAB_OT_OK) {
            return rc;
        }
    }

    collab_op_trim(dst);

    return COLLAB_OT_OK;
}


int
collab_op_transform(collab_op_t *dst, const collab_op_t *op,
    const collab_op_t *other, collab_ot_side_e side)
{
    int                      rc;
    size_t                   i, length;
    collab_ot_iter_t         it;
    collab_ot_part_t         p;
    const collab_ot_comp_t  *c, *next;

    rc = collab_ot_start(dst, &it, op, other);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    for (i = 0; i < other->ncomps; i++) {
        c = &other->comps[i];

        switch (c->type) {

        case COLLAB_OT_SKIP:
            rc = collab_ot_skip(dst, &it, c->n, COLLAB_OT_INSERT);
            if (rc != COLLAB_OT_OK) {
                return rc;
            }

            break;

        case COLLAB_OT_INSERT:
            next = it.idx < op->ncomps ? &op->comps[it.idx] : NULL;

            if (side == COLLAB_OT_LEFT && next
                && next->type == COLLAB_OT_INSERT)
            {
                /* the left insert goes first */

                collab_ot_take(&it, COLLAB_OT_TAKE_ALL, -1, &p);

                rc = collab_ot_append_part(dst, &p);
                if (rc != COLLAB_OT_OK) {
                    return rc;
                }
            }

            rc = collab_op_append(dst, COLLAB_OT_SKIP, c->n, NULL, 0);
            if (rc != COLLAB_OT_OK) {
                return rc;
            }

            break;

        default: /* delete */
            length = c->n;

            while (length > 0) {
                collab_ot_take(&it, length, COLLAB_OT_INSERT, &p);

                if (p.type == COLLAB_OT_INSERT) {
                    rc = collab_ot_append_part(dst, &p);
                    if (rc != COLLAB_OT_OK) {
                        return rc;
                    }

                } else {
                    /* skipped text is gone; a delete is already done */
                    length -= p.n;
                }
            }

            break;
        }
    }

    return collab_ot_finish(dst, &it);
}


int
collab_op_compose(collab_op_t *dst, const collab_op_t *a,
    const collab_op_t *b)
{
    int                      rc;
    size_t                   i, length, offset, off_b, nb;
    const char              *s;
    collab_ot_iter_t         it;
    collab_ot_part_t         p;
    const collab_ot_comp_t  *c;

    rc = collab_ot_start(dst, &it, a, b);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    for (i = 0; i < b->ncomps; i++) {
        c = &b->comps[i];

        switch (c->type) {

        case COLLAB_OT_SKIP:
            rc = collab_ot_skip(dst, &it, c->n, COLLAB_OT_DELETE);
            if (rc != COLLAB_OT_OK) {
                return rc;
            }

            break;

        case COLLAB_OT_INSERT:
            rc = collab_op_append(dst, c->type, c->n,
                                  collab_ot_text(b, c), c->len);
            if (rc != COLLAB_OT_OK) {
                return rc;
            }

            break;

        default: /* delete */
            length = c->n;
            offset = 0;
            off_b = 0;

            while (offset < length) {
                collab_ot_take(&it, length - offset, COLLAB_OT_DELETE, &p);

                if (collab_ot_is_delete(p.type)) {
                    rc = collab_ot_append_part(dst, &p);
                    if (rc != COLLAB_OT_OK) {
                        return rc;
                    }

                    continue;
                }

                nb = 0;
                s = NULL;

                if (c->type == COLLAB_OT_DELETE_STR) {
                    s = b->str + c->off + off_b;
                    nb = collab_utf8_offset(s, c->len - off_b, p.n);
                }

                if (p.type == COLLAB_OT_SKIP) {
                    /* b deletes text a kept */

                    rc = collab_op_append(dst, c->type, p.n, s, nb);
                    if (rc != COLLAB_OT_OK) {
                        return rc;
                    }
                }

                /* else b deletes text a inserted: both vanish */

                offset += p.n;
                off_b += nb;
            }

            break;
        }
    }

    return collab_ot_finish(dst, &it);
}


size_t
collab_op_transform_position(size_t cursor, const collab_op_t *op)
{
    size_t                   i, pos, d;
    const collab_ot_comp_t  *c;

    pos = 0;

    for (i = 0; i < op->ncomps && cursor > pos; i++) {
        c = &op->comps[i];

        switch (c->type) {

        case COLLAB_OT_SKIP:
            pos += c->n;
            break;

        case COLLAB_OT_INSERT:
            pos += c->n;
            cursor += c->n;
            break;

        default: /* delete */
            d = cursor - pos;
            cursor -= c->n < d ? c->n : d;
            break;
        }
    }

    return cursor;
}


void
collab_op_transform_selection(const collab_op_t *op, size_t *anchor,
    size_t *focus)
{
    *anchor = collab_op_transform_position(*anchor, op);
    *focus = collab_op_transform_position(*focus, op);
}


int
collab_op_invert(collab_op_t *dst, const collab_op_t *op)
{
    int                      rc;
    size_t                   i;
    uint32_t                 type;
    const collab_ot_comp_t  *c;

    collab_op_reset(dst);

    rc = collab_op_check(op);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    for (i = 0; i < op->ncomps; i++) {
        c = &op->comps[i];

        switch (c->type) {

        case COLLAB_OT_DELETE:
            return COLLAB_OT_ERR_NOT_INVERTIBLE;

        case COLLAB_OT_DELETE_STR:
            type = COLLAB_OT_INSERT;
            break;

        case COLLAB_OT_INSERT:
            type = COLLAB_OT_DELETE_STR;
            break;

        default:
            type = COLLAB_OT_SKIP;
            break;
        }

        rc = collab_op_append(dst, type, c->n, collab_ot_text(op, c), c->len);
        if (rc != COLLAB_OT_OK) {
            return rc;
        }
    }

    collab_op_trim(dst);

    return COLLAB_OT_OK;
}


int
collab_op_is_invertible(const collab_op_t *op)
{
    size_t  i;

    for (i = 0; i < op->ncomps; i++) {
        if (op->comps[i].type == COLLAB_OT_DELETE) {
            return 0;
        }
    }

    return 1;
}


int
collab_op_strip_invertible(collab_op_t *dst, const collab_op_t *op)
{
    int                      rc;
    size_t                   i;
    const collab_ot_comp_t  *c;

    collab_op_reset(dst);

    for (i = 0; i < op->ncomps; i++) {
        c = &op->comps[i];

        if (c->type == COLLAB_OT_DELETE_STR) {
            rc = collab_op_append(dst, COLLAB_OT_DELETE, c->n, NULL, 0);

        } else {
            rc = collab_op_append(dst, c->type, c->n,
                                  collab_ot_text(op, c), c->len);
        }

        if (rc != COLLAB_OT_OK) {
            return rc;
        }
    }

    collab_op_trim(dst);

    return COLLAB_OT_OK;
}


int
collab_op_is_noop(const collab_op_t *op)
{
    return op->ncomps == 0;
}


int
collab_op_equal(const collab_op_t *a, const collab_op_t *b)
{
    size_t                   i;
    uint32_t                 ta, tb;
    const collab_ot_comp_t  *ca, *cb;

    if (a->ncomps != b->ncomps) {
        return 0;
    }

    for (i = 0; i < a->ncomps; i++) {
        ca = &a->comps[i];
        cb = &b->comps[i];

        ta = ca->type == COLLAB_OT_DELETE_STR ? COLLAB_OT_DELETE : ca->type;
        tb = cb->type == COLLAB_OT_DELETE_STR ? COLLAB_OT_DELETE : cb->type;

        if (ta != tb || ca->n != cb->n) {
            return 0;
        }

        if (ta == COLLAB_OT_INSERT
            && (ca->len != cb->len
                || memcmp(a->str + ca->off, b->str + cb->off, ca->len) != 0))
        {
            return 0;
        }
    }

    return 1;
}

/*
 * The document rope: a B+tree whose leaves hold UTF-8 bytes.
 *
 * Inner nodes store the code point count of each child, leaves store their
 * byte and code point counts; a leaf that is pure ASCII (bytes == code
 * points) maps positions to bytes directly.  An insert that overflows a
 * leaf redistributes the leaf plus the new text evenly over as many leaves
 * as needed; a delete that drains a leaf removes it, one that leaves it
 * small merges it with a sibling.
 *
 * Applying an op is atomic: the op is validated against the document first,
 * and every node an insert may need is reserved in the spare pool before
 * the tree changes, so nothing can fail half way.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/collab_text.h"
#include "engine/collab_utf8.h"


/* overridable so tests can build deep trees from small documents */
#ifndef COLLAB_TEXT_LEAF_SIZE
#define COLLAB_TEXT_LEAF_SIZE  1024
#endif

#ifndef COLLAB_TEXT_FANOUT
#define COLLAB_TEXT_FANOUT  16
#endif

#define COLLAB_TEXT_LEAF_CAP                                                  \
    (COLLAB_TEXT_LEAF_SIZE - 3 * sizeof(void *) - 2 * sizeof(uint32_t))

/* spare nodes kept in the pool after an op */
#define COLLAB_TEXT_POOL_KEEP  32


typedef struct collab_text_node_s  collab_text_node_t;
typedef struct collab_text_leaf_s  collab_text_leaf_t;


struct collab_text_leaf_s {
    collab_text_leaf_t  *prev;
    collab_text_leaf_t  *next;
    collab_text_node_t  *parent;
    uint32_t             nbytes;
    uint32_t             ncp;
    char                 data[COLLAB_TEXT_LEAF_CAP];
};


struct collab_text_node_s {
    collab_text_node_t  *parent;
    size_t               nchildren;
    size_t               leaves;       /* children are leaves */
    size_t               cps[COLLAB_TEXT_FANOUT];
    void                *child[COLLAB_TEXT_FANOUT];
};


struct collab_text_s {
    collab_text_node_t  *root;
    collab_text_leaf_t  *first;
    size_t               ncp;
    size_t               nbytes;
    size_t               nleaves;
    size_t               nnodes;
    size_t               depth;        /* inner node levels */
};


/* Up to three byte ranges read as one stream (head, insert, tail). */
typedef struct {
    const char  *p[3];
    size_t       len[3];
    size_t       seg;
    size_t       off;
    size_t       left;
} collab_text_stream_t;


typedef struct {
    collab_text_leaf_t  *leaves;
    collab_text_node_t  *nodes;
    size_t               nleaves;
    size_t               nnodes;
    size_t               peak;         /* most spares held at once */
} collab_text_pool_t;


static int collab_text_reserve(size_t nleaves, size_t nnodes);
static void collab_text_pool_trim(size_t keep);
static collab_text_leaf_t *collab_text_leaf_get(collab_text_t *t);
static collab_text_node_t *collab_text_node_get(collab_text_t *t);
static void collab_text_leaf_put(collab_text_t *t, collab_text_leaf_t *l);
static void collab_text_node_put(collab_text_t *t, collab_text_node_t *n);
static size_t collab_text_index(const collab_text_node_t *n,
    const void *child);
static void collab_text_propagate(collab_text_node_t *n, void *child,
    size_t delta);
static collab_text_leaf_t *collab_text_locate(const collab_text_t *t,
    size_t pos, size_t *off);
static size_t collab_text_leaf_offset(const collab_text_leaf_t *l,
    size_t cp);
static void collab_text_set_parent(collab_text_node_t *n, void *child);
static void collab_text_node_insert(collab_text_t *t, collab_text_node_t *n,
    size_t idx, void *child, size_t cps);
static void collab_text_node_remove(collab_text_t *t, collab_text_node_t *n,
    void *child);
static void collab_text_insert_leaf_after(collab_text_t *t,
    collab_text_leaf_t *prev, collab_text_leaf_t *l);
static void collab_text_remove_leaf(collab_text_t *t, collab_text_leaf_t *l);
static void collab_text_merge(collab_text_t *t, collab_text_leaf_t *l);
static size_t collab_text_stream_take(collab_text_stream_t *st, size_t want,
    char *dst);
static void collab_text_insert(collab_text_t *t, size_t pos, const char *s,
    size_t len, size_t ncp);
static void collab_text_delete(collab_text_t *t, size_t pos, size_t n);
static int collab_text_equal_at(const collab_text_t *t, size_t pos,
    const char *s, size_t len);
static void collab_text_insert_needs(size_t depth, size_t len,
    size_t *nleaves, size_t *nnodes);
static void collab_text_free_node(collab_text_node_t *n);


static collab_text_pool_t  collab_text_pool;


static int
collab_text_reserve(size_t nleaves, size_t nnodes)
{
    collab_text_leaf_t  *l;
    collab_text_node_t  *n;

    while (collab_text_pool.nleaves < nleaves) {
        l = malloc(sizeof(collab_text_leaf_t));
        if (l == NULL) {
            return COLLAB_OT_ERR_NOMEM;
        }

        l->next = collab_text_pool.leaves;
        collab_text_pool.leaves = l;
        collab_text_pool.nleaves++;
    }

    while (collab_text_pool.nnodes < nnodes) {
        n = malloc(sizeof(collab_text_node_t));
        if (n == NULL) {
            return COLLAB_OT_ERR_NOMEM;
        }

        n->parent = collab_text_pool.nodes;
        collab_text_pool.nodes = n;
        collab_text_pool.nnodes++;
    }

    if (collab_text_pool.nleaves + collab_text_pool.nnodes
        > collab_text_pool.peak)
    {
        collab_text_pool.peak = collab_text_pool.nleaves
                                + collab_text_pool.nnodes;
    }

    return COLLAB_OT_OK;
}


static void
collab_text_pool_trim(size_t keep)
{
    collab_text_leaf_t  *l;
    collab_text_node_t  *n;

    while (collab_text_pool.nleaves > keep) {
        l = collab_text_pool.leaves;
        collab_text_pool.leaves = l->next;
        collab_text_pool.nleaves--;
        free(l);
    }

    while (collab_text_pool.nnodes > keep) {
        n = collab_text_pool.nodes;
        collab_text_pool.nodes = n->parent;
        collab_text_pool.nnodes--;
        free(n);
    }
}


size_t
collab_text_pool_peak(int reset)
{
    size_t  peak;

    peak = collab_text_pool.peak;

    if (reset) {
        collab_text_pool.peak = collab_text_pool.nleaves
                                + collab_text_pool.nnodes;
    }

    return peak;
}


void
collab_text_pool_free(void)
{
    collab_text_pool_trim(0);
}


/*
 * Only called after collab_text_reserve(), so the pool holds enough; the
 * malloc fallback only guards against a wrong bound.
 */

static collab_text_leaf_t *
collab_text_leaf_get(collab_text_t *t)
{
    collab_text_leaf_t  *l;

    if (collab_text_pool.leaves == NULL && collab_text_reserve(1, 0)) {
        abort();
    }

    l = collab_text_pool.leaves;
    collab_text_pool.leaves = l->next;
    collab_text_pool.nleaves--;

    memset(l, 0, offsetof(collab_text_leaf_t, data));
    t->nleaves++;

    return l;
}


static collab_text_node_t *
collab_text_node_get(collab_text_t *t)
{
    collab_text_node_t  *n;

    if (collab_text_pool.nodes == NULL && collab_text_reserve(0, 1)) {
        abort();
    }

    n = collab_text_pool.nodes;
    collab_text_pool.nodes = n->parent;
    collab_text_pool.nnodes--;

    memset(n, 0, sizeof(collab_text_node_t));
    t->nnodes++;

    return n;
}


static void
collab_text_leaf_put(collab_text_t *t, collab_text_leaf_t *l)
{
    l->next = collab_text_pool.leaves;
    collab_text_pool.leaves = l;
    collab_text_pool.nleaves++;
    t->nleaves--;
}


static void
collab_text_node_put(collab_text_t *t, collab_text_node_t *n)
{
    n->parent = collab_text_pool.nodes;
    collab_text_pool.nodes = n;
    collab_text_pool.nnodes++;
    t->nnodes--;
}


int
collab_text_create(collab_text_t **tp, const char *s, size_t len)
{
    int             rc;
    size_t          ncp, nl, nn;
    collab_text_t  *t;

    *tp = NULL;

    if (collab_utf8_count(s, len, &ncp) != 0) {
        return COLLAB_OT_ERR_UTF8;
    }

    t = calloc(1, sizeof(collab_text_t));
    if (t == NULL) {
        return COLLAB_OT_ERR_NOMEM;
    }

    /* the text goes in as one insert into an empty one-leaf document */

    collab_text_insert_needs(1, len, &nl, &nn);

    rc = collab_text_reserve(nl + 1, nn + 1);
    if (rc != COLLAB_OT_OK) {
        free(t);
        return rc;
    }

    t->root = collab_text_node_get(t);
    t->root->leaves = 1;
    t->depth = 1;
    t->first = collab_text_leaf_get(t);

    collab_text_node_insert(t, t->root, 0, t->first, 0);

    if (ncp) {
        collab_text_insert(t, 0, s, len, ncp);
        t->ncp = ncp;
    }

    collab_text_pool_trim(COLLAB_TEXT_POOL_KEEP);

    *tp = t;

    return COLLAB_OT_OK;
}


static void
collab_text_free_node(collab_text_node_t *n)
{
    size_t  i;

    for (i = 0; i < n->nchildren; i++) {
        if (n->leaves) {
            free(n->child[i]);

        } else {
            collab_text_free_node(n->child[i]);
        }
    }

    free(n);
}


void
collab_text_free(collab_text_t *t)
{
    if (t == NULL) {
        return;
    }

    collab_text_free_node(t->root);
    free(t);
}


size_t
collab_text_length(const collab_text_t *t)
{
    return t->ncp;
}


size_t
collab_text_bytes(const collab_text_t *t)
{
    return t->nbytes;
}


size_t
collab_text_memory(const collab_text_t *t)
{
    return sizeof(collab_text_t) + t->nleaves * sizeof(collab_text_leaf_t)
           + t->nnodes * sizeof(collab_text_node_t);
}


static size_t
collab_text_index(const collab_text_node_t *n, const void *child)
{
    size_t  i;

    for (i = 0; n->child[i] != child; i++) {
        /* void */
    }

    return i;
}


/* Adds delta (modulo SIZE_MAX, so it may "subtract") up the tree. */

static void
collab_text_propagate(collab_text_node_t *n, void *child, size_t delta)
{
    while (n) {
        n->cps[collab_text_index(n, child)] += delta;
        child = n;
        n = n->parent;
    }
}


/*
 * The leaf holding code point pos and the offset in it; a position on a
 * leaf boundary resolves to the end of the earlier leaf.
 */

static collab_text_leaf_t *
collab_text_locate(const collab_text_t *t, size_t pos, size_t *off)
{
    size_t               i;
    collab_text_node_t  *n;

    n = t->root;

    for ( ;; ) {
        for (i = 0; i + 1 < n->nchildren && pos > n->cps[i]; i++) {
            pos -= n->cps[i];
        }

        if (n->leaves) {
            *off = pos;
            return n->child[i];
        }

        n = n->child[i];
    }
}


static size_t
collab_text_leaf_offset(const collab_text_leaf_t *l, size_t cp)
{
    if (l->nbytes == l->ncp) {
        return cp;
    }

    return collab_utf8_offset(l->data, l->nbytes, cp);
}


static void
collab_text_set_parent(collab_text_node_t *n, void *child)
{
    if (n->leaves) {
        ((collab_text_leaf_t *) child)->parent = n;

    } else {
        ((collab_text_node_t *) child)->parent = n;
    }
}


/* Inserts child (holding cps code points) at idx, splitting up the tree. */

static void
collab_text_node_insert(collab_text_t *t, collab_text_node_t *n, size_t idx,
    void *child, size_t cps)
{
    size_t               i, half, total, moved;
    void                *children[COLLAB_TEXT_FANOUT + 1];
    size_t               counts[COLLAB_TEXT_FANOUT + 1];
    collab_text_node_t  *q, *r;

    if (n->nchildren < COLLAB_TEXT_FANOUT) {
        memmove(&n->child[idx + 1], &n->child[idx],
                (n->nchildren - idx) * sizeof(void *));
        memmove(&n->cps[idx + 1], &n->cps[idx],
                (n->nchildren - idx) * sizeof(size_t));

        n->child[idx] = child;
        n->cps[idx] = cps;
        n->nchildren++;

        collab_text_set_parent(n, child);
        collab_text_propagate(n->parent, n, cps);

        return;
    }

    /* full: split into n and a new right sibling q */

    memcpy(children, n->child, idx * sizeof(void *));
    memcpy(counts, n->cps, idx * sizeof(size_t));
    children[idx] = child;
    counts[idx] = cps;
    memcpy(&children[idx + 1], &n->child[idx],
           (COLLAB_TEXT_FANOUT - idx) * sizeof(void *));
    memcpy(&counts[idx + 1], &n->cps[idx],
           (COLLAB_TEXT_FANOUT - idx) * sizeof(size_t));

    half = (COLLAB_TEXT_FANOUT + 1) / 2;

    q = collab_text_node_get(t);
    q->leaves = n->leaves;

    total = 0;
    moved = 0;

    for (i = 0; i < COLLAB_TEXT_FANOUT + 1; i++) {
        if (i < half) {
            n->child[i] = children[i];
            n->cps[i] = counts[i];
            collab_text_set_parent(n, children[i]);
            total += counts[i];

        } else {
            q->child[i - half] = children[i];
            q->cps[i - half] = counts[i];
            collab_text_set_parent(q, children[i]);
            moved += counts[i];
        }
    }

    n->nchildren = half;
    q->nchildren = COLLAB_TEXT_FANOUT + 1 - half;

    if (n->parent == NULL) {
        r = collab_text_node_get(t);
        r->child[0] = n;
        r->cps[0] = total;
        r->child[1] = q;
        r->cps[1] = moved;
        r->nchildren = 2;
        n->parent = r;
        q->parent = r;
        t->root = r;
        t->depth++;

        return;
    }

    /* n's own count changes by cps - moved; q carries moved */

    collab_text_propagate(n->parent, n, cps - moved);
    collab_text_node_insert(t, n->parent, collab_text_index(n->parent, n) + 1,
                            q, moved);
}


/*
 * Unlinks child from n without touching the counts above: the caller has
 * already moved the child's code points elsewhere or drained them.
 */

static void
collab_text_node_remove(collab_text_t *t, collab_text_node_t *n,
    void *child)
{
    size_t               i;
    collab_text_node_t  *r;

    i = collab_text_index(n, child);

    memmove(&n->child[i], &n->child[i + 1],
            (n->nchildren - i - 1) * sizeof(void *));
    memmove(&n->cps[i], &n->cps[i + 1],
            (n->nchildren - i - 1) * sizeof(size_t));
    n->nchildren--;

    if (n->nchildren == 0 && n->parent) {
        collab_text_node_remove(t, n->parent, n);
        collab_text_node_put(t, n);
        return;
    }

    while (t->root->nchildren == 1 && !t->root->leaves) {
        r = t->root;
        t->root = r->child[0];
        t->root->parent = NULL;
        t->depth--;
        collab_text_node_put(t, r);
    }
}


static void
collab_text_insert_leaf_after(collab_text_t *t, collab_text_leaf_t *prev,
    collab_text_leaf_t *l)
{
    l->prev = prev;
    l->next = prev->next;

    if (prev->next) {
        prev->next->prev = l;
    }

    prev->next = l;

    collab_text_node_insert(t, prev->parent,
                            collab_text_index(prev->parent, prev) + 1,
                            l, l->ncp);
}


/* Removes an empty leaf. */

static void
collab_text_remove_leaf(collab_text_t *t, collab_text_leaf_t *l)
{
    if (l->prev) {
        l->prev->next = l->next;

    } else {
        t->first = l->next;
    }

    if (l->next) {
        l->next->prev = l->prev;
    }

    collab_text_node_remove(t, l->parent, l);
    collab_text_leaf_put(t, l);
}


/* Merges a small leaf with a sibling under the same parent, if they fit. */

static void
collab_text_merge(collab_text_t *t, collab_text_leaf_t *l)
{
    collab_text_leaf_t  *a, *b;
    collab_text_node_t  *p;

    a = l->prev;
    b = l;

    if (l->next && l->next->parent == l->parent
        && l->nbytes + l->next->nbytes <= COLLAB_TEXT_LEAF_CAP)
    {
        a = l;
        b = l->next;

    } else if (a == NULL || a->parent != l->parent
               || a->nbytes + l->nbytes > COLLAB_TEXT_LEAF_CAP)
    {
        return;
    }

    /* b moves into a; the parent's total stays the same */

    p = a->parent;

    memcpy(a->data + a->nbytes, b->data, b->nbytes);
    a->nbytes += b->nbytes;
    a->ncp += b->ncp;
    p->cps[collab_text_index(p, a)] += b->ncp;

    b->nbytes = 0;
    b->ncp = 0;

    collab_text_remove_leaf(t, b);
}


/*
 * Copies about want bytes of the stream into dst, cut back to a code point
 * boundary; returns the byte count.
 */

static size_t
collab_text_stream_take(collab_text_stream_t *st, size_t want, char *dst)
{
    size_t         n, k, seg, off;
    unsigned char  c;

    if (want >= st->left) {
        want = st->left;

    } else {
        for ( ;; ) {
            /* the byte just after the cut */

            seg = st->seg;
            off = st->off + want;

            while (off >= st->len[seg]) {
                off -= st->len[seg];
                seg++;
            }

            c = (unsigned char) st->p[seg][off];

            if ((c & 0xc0) != 0x80) {
                break;
            }

            want--;
        }
    }

    n = want;

    while (n) {
        k = st->len[st->seg] - st->off;

        if (k > n) {
            k = n;
        }

        if (k) {
            memcpy(dst, st->p[st->seg] + st->off, k);
            dst += k;
            n -= k;
            st->off += k;
        }

        if (st->off == st->len[st->seg]) {
            st->seg++;
            st->off = 0;
        }
    }

    st->left -= want;

    return want;
}


static void
collab_text_insert(collab_text_t *t, size_t pos, const char *s, size_t len,
    size_t ncp)
{
    char                  tmp[COLLAB_TEXT_LEAF_CAP];
    size_t                off, b, total, k, target, want, old;
    collab_text_leaf_t   *l, *nl, *prev;
    collab_text_stream_t  st;

    l = collab_text_locate(t, pos, &off);

    if (l->nbytes + len > COLLAB_TEXT_LEAF_CAP) {

        /* at a boundary, a neighbour with room avoids a split */

        if (off == l->ncp && l->next
            && l->next->nbytes + len <= COLLAB_TEXT_LEAF_CAP)
        {
            l = l->next;
            off = 0;

        } else if (off == 0 && l->prev
                   && l->prev->nbytes + len <= COLLAB_TEXT_LEAF_CAP)
        {
            l = l->prev;
            off = l->ncp;
        }
    }

    b = collab_text_leaf_offset(l, off);

    t->nbytes += len;

    if (l->nbytes + len <= COLLAB_TEXT_LEAF_CAP) {
        memmove(l->data + b + len, l->data + b, l->nbytes - b);
        memcpy(l->data + b, s, len);
        l->nbytes += len;
        l->ncp += ncp;

        collab_text_propagate(l->parent, l, ncp);

        return;
    }

    /* spread head + s + tail evenly over k leaves of about target bytes */

    memcpy(tmp, l->data, l->nbytes);

    st.p[0] = tmp;
    st.len[0] = b;
    st.p[1] = s;
    st.len[1] = len;
    st.p[2] = tmp + b;
    st.len[2] = l->nbytes - b;
    st.seg = 0;
    st.off = 0;
    st.left = l->nbytes + len;

    total = st.left;
    k = total / (COLLAB_TEXT_LEAF_CAP * 3 / 4) + 1;
    target = total / k;

    old = l->ncp;
    l->nbytes = collab_text_stream_take(&st, target, l->data);
    l->ncp = collab_utf8_length(l->data, l->nbytes);

    collab_text_propagate(l->parent, l, l->ncp - old);

    prev = l;

    while (st.left) {
        want = st.left > COLLAB_TEXT_LEAF_CAP ? target : st.left;

        nl = collab_text_leaf_get(t);
        nl->nbytes = collab_text_stream_take(&st, want, nl->data);
        nl->ncp = collab_utf8_length(nl->data, nl->nbytes);

        collab_text_insert_leaf_after(t, prev, nl);
        prev = nl;
    }
}


static void
collab_text_delete(collab_text_t *t, size_t pos, size_t n)
{
    size_t               off, k, b0, b1;
    collab_text_leaf_t  *l;

    while (n) {
        l = collab_text_locate(t, pos, &off);

        if (off == l->ncp) {
            l = l->next;
            off = 0;
        }

        k = l->ncp - off;

        if (k > n) {
            k = n;
        }

        b0 = collab_text_leaf_offset(l, off);
        b1 = (k == l->ncp - off)
             ? l->nbytes
             : b0 + collab_utf8_offset(l->data + b0, l->nbytes - b0, k);

        memmove(l->data + b0, l->data + b1, l->nbytes - b1);
        l->nbytes -= b1 - b0;
        l->ncp -= k;
        t->nbytes -= b1 - b0;
        n -= k;

        collab_text_propagate(l->parent, l, (size_t) 0 - k);

        if (l->ncp == 0 && t->nleaves > 1) {
            collab_text_remove_leaf(t, l);

        } else if (l->nbytes < COLLAB_TEXT_LEAF_CAP / 4) {
            collab_text_merge(t, l);
        }
    }
}


static int
collab_text_equal_at(const collab_text_t *t, size_t pos, const char *s,
    size_t len)
{
    size_t               off, b, k;
    collab_text_leaf_t  *l;

    l = collab_text_locate(t, pos, &off);
    b = collab_text_leaf_offset(l, off);

    while (len) {
        if (b == l->nbytes) {
            l = l->next;
            b = 0;

            if (l == NULL) {
                return 0;
            }

            continue;
        }

        k = l->nbytes - b;

        if (k > len) {
            k = len;
        }

        if (memcmp(l->data + b, s, k) != 0) {
            return 0;
        }

        s += k;
        len -= k;
        b += k;
    }

    return 1;
}


size_t
collab_text_slice(const collab_text_t *t, size_t from, size_t n, char *buf)
{
    size_t               off, b, e, k, total;
    collab_text_leaf_t  *l;

    l = collab_text_locate(t, from, &off);
    total = 0;

    while (n && l) {
        k = l->ncp - off;

        if (k > n) {
            k = n;
        }

        b = collab_text_leaf_offset(l, off);
        e = (k == l->ncp - off)
            ? l->nbytes
            : b + collab_utf8_offset(l->data + b, l->nbytes - b, k);

        memcpy(buf + total, l->data + b, e - b);
        total += e - b;
        n -= k;
        l = l->next;
        off = 0;
    }

    return total;
}


int
collab_text_check_op(const collab_text_t *t, const collab_op_t *op)
{
    int                      rc;
    size_t                   i, pre;
    const collab_ot_comp_t  *c;

    rc = collab_op_check(op);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    if (collab_op_base_length(op) > t->ncp) {
        return COLLAB_OT_ERR_TOO_LONG;
    }

    pre = 0;

    for (i = 0; i < op->ncomps; i++) {
        c = &op->comps[i];

        if (c->type == COLLAB_OT_DELETE_STR
            && !collab_text_equal_at(t, pre, op->str + c->off, c->len))
        {
            return COLLAB_OT_ERR_MISMATCH;
        }

        if (c->type != COLLAB_OT_INSERT) {
            pre += c->n;
        }
    }

    return COLLAB_OT_OK;
}


/*
 * Upper bounds of the leaves and inner nodes one insert of len bytes may
 * create in a tree of the given depth.  An overflowing insert refills at
 * most CAP + len bytes into leaves of at least 3/7 CAP - 4 bytes (target
 * >= 3/7 CAP, minus the cut back to a code point boundary), the last one
 * aside.  A node splits again only after FANOUT / 2 more insertions, so the
 * splits of one level are at most 1 + half those of the level below, which
 * sums to L + 2 plus 2 per level; the tree grows by at most log2(L) + 2
 * levels, each a new root.
 */

static void
collab_text_insert_needs(size_t depth, size_t len, size_t *nleaves,
    size_t *nnodes)
{
    size_t  l, g;

    l = (COLLAB_TEXT_LEAF_CAP + len) / (COLLAB_TEXT_LEAF_CAP * 3 / 7 - 4) + 1;

    for (g = 2; ((size_t) 1 << (g - 2)) < l; g++) {
        /* void */
    }

    *nleaves = l;
    *nnodes = l + 2 + 3 * (depth + g + 2);
}


/*
 * Applies the op in two passes so that memory stays linear in its size and
 * the document stays unchanged on failure:
 *
 *   1. inserts, right to left, each at its position in the original text
 *      (nothing to its left has moved yet); the spare pool is topped up
 *      before each one for that insert alone, so the reserve is bounded by
 *      one component, not by the whole op;
 *   2. deletes, right to left, each shifted by the inserts before it.
 *
 * Deletes never allocate, so once the inserts are in nothing can fail; an
 * allocation failure during pass 1 is undone by deleting the inserts made.
 */

int
collab_text_apply(collab_text_t *t, const collab_op_t *op)
{
    int                      rc;
    size_t                   i, j, pos, ins, nl, nn;
    const collab_ot_comp_t  *c;

    rc = collab_text_check_op(t, op);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    pos = collab_op_base_length(op);
    ins = 0;
    rc = COLLAB_OT_OK;

    for (i = op->ncomps; i-- > 0; /* void */) {
        c = &op->comps[i];

        if (c->type != COLLAB_OT_INSERT) {
            pos -= c->n;
            continue;
        }

        collab_text_insert_needs(t->depth, c->len, &nl, &nn);

        rc = collab_text_reserve(nl, nn);
        if (rc != COLLAB_OT_OK) {
            break;
        }

        collab_text_insert(t, pos, op->str + c->off, c->len, c->n);
        t->ncp += c->n;
        ins += c->n;
    }

    if (rc != COLLAB_OT_OK) {

        /* the inserts after i are in, each still at its original position */

        for (j = i + 1; j < op->ncomps; j++) {
            c = &op->comps[j];

            if (c->type == COLLAB_OT_INSERT) {
                collab_text_delete(t, pos, c->n);
                t->ncp -= c->n;

            } else {
                pos += c->n;
            }
        }

        collab_text_pool_trim(COLLAB_TEXT_POOL_KEEP);

        return rc;
    }

    /* pass 2: ins counts the code points inserted left of component i */

    pos = collab_op_base_length(op);

    for (i = op->ncomps; i-- > 0; /* void */) {
        c = &op->comps[i];

        if (c->type == COLLAB_OT_INSERT) {
            ins -= c->n;
            continue;
        }

        pos -= c->n;

        if (c->type != COLLAB_OT_SKIP) {
            collab_text_delete(t, pos + ins, c->n);
            t->ncp -= c->n;
        }
    }

    if (collab_text_pool.nleaves > COLLAB_TEXT_POOL_KEEP
        || collab_text_pool.nnodes > COLLAB_TEXT_POOL_KEEP)
    {
        collab_text_pool_trim(COLLAB_TEXT_POOL_KEEP);
    }

    return COLLAB_OT_OK;
}


void
collab_text_copy(const collab_text_t *t, char *buf)
{
    const collab_text_leaf_t  *l;

    for (l = t->first; l; l = l->next) {
        memcpy(buf, l->data, l->nbytes);
        buf += l->nbytes;
    }
}


void
collab_text_iter_init(const collab_text_t *t, collab_text_iter_t *it)
{
    it->leaf = t->first;
}


int
collab_text_iter_next(collab_text_iter_t *it, const char **p, size_t *len)
{
    const collab_text_leaf_t  *l;

    for (l = it->leaf; l && l->nbytes == 0; l = l->next) {
        /* void */
    }

    if (l == NULL) {
        it->leaf = NULL;
        return 0;
    }

    *p = l->data;
    *len = l->nbytes;
    it->leaf = l->next;

    return 1;
}


int
collab_op_make_invertible(collab_op_t *dst, const collab_op_t *op,
    const collab_text_t *t)
{
    int                      rc;
    char                    *buf;
    size_t                   i, pre, len;
    const collab_ot_comp_t  *c;

    collab_op_reset(dst);

    rc = collab_text_check_op(t, op);
    if (rc != COLLAB_OT_OK) {
        return rc;
    }

    pre = 0;

    for (i = 0; i < op->ncomps; i++) {
        c = &op->comps[i];

        if (c->type != COLLAB_OT_DELETE) {
            rc = collab_op_append(dst, c->type, c->n,
                                  c->len ? op->str + c->off : NULL, c->len);

            if (c->type != COLLAB_OT_INSERT) {
                pre += c->n;
            }

        } else {
            buf = malloc(c->n * 4);
            if (buf == NULL) {
                return COLLAB_OT_ERR_NOMEM;
            }

            len = collab_text_slice(t, pre, c->n, buf);
            rc = collab_op_append(dst, COLLAB_OT_DELETE_STR, c->n, buf, len);
            free(buf);

            pre += c->n;
        }

        if (rc != COLLAB_OT_OK) {
            return rc;
        }
    }

    if (dst->ncomps && dst->comps[dst->ncomps - 1].type == COLLAB_OT_SKIP) {
        dst->ncomps--;
    }

    return COLLAB_OT_OK;
}

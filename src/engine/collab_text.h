/*
 * A text-unicode document: UTF-8 text in a B+tree rope (leaves of about
 * 1 KB, each with its byte and code point counts; inner nodes keep the code
 * point count of every child), so locating a code point position costs
 * O(log n) plus a scan inside one leaf, and an edit moves at most one
 * leaf's bytes.  Leaves are also linked in order, for reading the text out
 * chunk by chunk without copying.
 *
 * Not thread-safe: the engine keeps one small per-process pool of spare
 * tree nodes (nginx workers are single-threaded).
 */

#ifndef _COLLAB_TEXT_H_INCLUDED_
#define _COLLAB_TEXT_H_INCLUDED_


#include <stddef.h>

#include "engine/collab_ot.h"


typedef struct collab_text_s  collab_text_t;


typedef struct {
    const void  *leaf;
} collab_text_iter_t;


/*
 * Creates a document from UTF-8 text (validated; COLLAB_OT_ERR_UTF8 when
 * invalid).  Returns COLLAB_OT_OK and sets *tp, or an error code.
 */
int collab_text_create(collab_text_t **tp, const char *s, size_t len);
void collab_text_free(collab_text_t *t);

/* Length in code points, in bytes, and heap bytes held by the document. */
size_t collab_text_length(const collab_text_t *t);
size_t collab_text_bytes(const collab_text_t *t);
size_t collab_text_memory(const collab_text_t *t);

/*
 * Applies a text-unicode op.  The op is checked (collab_op_check), must
 * not reach past the end of the document (COLLAB_OT_ERR_TOO_LONG; the
 * reference ignores a {d} past the end, we refuse it) and every {d:"str"}
 * must match the text it deletes (COLLAB_OT_ERR_MISMATCH; the reference
 * does not look).  Atomic: on any error, out of memory included, the
 * document is unchanged.
 */
int collab_text_apply(collab_text_t *t, const collab_op_t *op);

/* The validation part of collab_text_apply() alone. */
int collab_text_check_op(const collab_text_t *t, const collab_op_t *op);

/* Copies the text into buf, which holds collab_text_bytes(t) bytes. */
void collab_text_copy(const collab_text_t *t, char *buf);

/*
 * Reads the text chunk by chunk without copying:
 *   collab_text_iter_init(t, &it);
 *   while (collab_text_iter_next(&it, &p, &len)) { ... }
 * The document must not change during the iteration.
 */
void collab_text_iter_init(const collab_text_t *t, collab_text_iter_t *it);
int collab_text_iter_next(collab_text_iter_t *it, const char **p,
    size_t *len);

/*
 * Copies code points [from, from + n) into buf (at least 4 * n bytes) and
 * returns the byte count; the range must lie inside the document.
 */
size_t collab_text_slice(const collab_text_t *t, size_t from, size_t n,
    char *buf);

/*
 * makeInvertible(op, doc): every {d:N} becomes {d:"deleted text"} read from
 * the document the op applies to; the result is normalised.  Errors as for
 * collab_text_check_op().
 */
int collab_op_make_invertible(collab_op_t *dst, const collab_op_t *op,
    const collab_text_t *t);

/*
 * The most spare nodes and leaves the pool held at once since the last
 * reset (reset != 0 restarts the count from what it holds now): what an
 * apply reserves stays bounded by one insert's needs, not the op's.
 */
size_t collab_text_pool_peak(int reset);

/* Frees the spare nodes the engine keeps (for leak checkers at exit). */
void collab_text_pool_free(void);


#endif /* _COLLAB_TEXT_H_INCLUDED_ */

/*
 * The text-unicode OT type (npm ot-text-unicode 4.x) in pure C.
 *
 * An op is a list of components applied left to right over a document:
 *   N          skip N code points             (JSON number)
 *   "str"      insert str                     (JSON string)
 *   {d:N}      delete N code points           (JSON {"d":N})
 *   {d:"str"}  delete str, text kept so the op can be inverted
 * Positions and lengths count Unicode code points; strings are UTF-8.
 *
 * collab_op_t owns its memory: initialise with collab_op_init() (or zero
 * it), release with collab_op_free().  Functions that produce an op write
 * into a caller-initialised destination, replacing its content; the
 * destination must not be one of the inputs.  Every function returning int
 * returns COLLAB_OT_OK or a collab_ot_err_e code; on error the destination
 * holds an unspecified valid op (still to be freed).
 *
 * Component boundaries are preserved exactly as decoded (["a","b"] is not
 * ["ab"]: transform ties differ), as the reference does; results of
 * transform, compose, normalize, invert and make_invertible are normalised
 * the way the reference's append does it.
 */

#ifndef _COLLAB_OT_H_INCLUDED_
#define _COLLAB_OT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef enum {
    COLLAB_OT_OK = 0,
    COLLAB_OT_ERR_NOMEM,
    COLLAB_OT_ERR_JSON,           /* the text is not JSON */
    COLLAB_OT_ERR_NOT_ARRAY,      /* op is not an array of components */
    COLLAB_OT_ERR_COMPONENT,      /* not a number, string or {d:...} */
    COLLAB_OT_ERR_SKIP,           /* skip is not a positive integer */
    COLLAB_OT_ERR_DELETE,         /* {d} not a positive int / string */
    COLLAB_OT_ERR_EMPTY_DELETE,   /* {d:0} or {d:""} */
    COLLAB_OT_ERR_EMPTY_INSERT,   /* "" */
    COLLAB_OT_ERR_UTF8,           /* invalid UTF-8 or U+0000 in a string */
    COLLAB_OT_ERR_ADJACENT_SKIPS,
    COLLAB_OT_ERR_TRAILING_SKIP,
    COLLAB_OT_ERR_LIMIT,          /* lengths beyond COLLAB_OT_MAX_LEN */
    COLLAB_OT_ERR_TOO_LONG,       /* op longer than the document */
    COLLAB_OT_ERR_MISMATCH,       /* {d:"str"} differs from the text */
    COLLAB_OT_ERR_NOT_INVERTIBLE, /* invert of an op with {d:N} */
    COLLAB_OT_ERR_LAST
} collab_ot_err_e;


typedef enum {
    COLLAB_OT_LEFT = 0,
    COLLAB_OT_RIGHT
} collab_ot_side_e;


typedef enum {
    COLLAB_OT_SKIP = 0,
    COLLAB_OT_INSERT,
    COLLAB_OT_DELETE,             /* {d:N} */
    COLLAB_OT_DELETE_STR          /* {d:"str"} */
} collab_ot_comp_type_e;


/* JavaScript's largest safe integer bounds every length and position. */
#define COLLAB_OT_MAX_LEN  ((size_t) 9007199254740991ULL)


typedef struct {
    size_t    n;        /* code points */
    size_t    off;      /* INSERT, DELETE_STR: bytes at op->str + off */
    size_t    len;      /* INSERT, DELETE_STR: byte length, else 0 */
    uint32_t  type;     /* collab_ot_comp_type_e */
} collab_ot_comp_t;


typedef struct {
    collab_ot_comp_t  *comps;
    size_t             ncomps;
    size_t             comps_size;
    char              *str;
    size_t             str_len;
    size_t             str_size;
} collab_op_t;


/* A human reason for an error code ("Skip components must be >0", ...). */
const char *collab_ot_strerror(int rc);

/*
 * 1 when rc means a well-formed op that does not fit the document
 * (ERR_OT_OP_NOT_APPLIED), 0 for a malformed op (ERR_OT_OP_BADLY_FORMED).
 */
int collab_ot_err_not_applied(int rc);


void collab_op_init(collab_op_t *op);
void collab_op_free(collab_op_t *op);
/* Empties op, keeping its buffers. */
void collab_op_reset(collab_op_t *op);
int collab_op_copy(collab_op_t *dst, const collab_op_t *src);

/*
 * Builders: append one component as is (no merging).  Insert and delete
 * strings are validated as UTF-8 (U+0000 refused).  The op still has to
 * pass collab_op_check() before use.
 */
int collab_op_push_skip(collab_op_t *op, size_t n);
int collab_op_push_insert(collab_op_t *op, const char *s, size_t len);
int collab_op_push_delete(collab_op_t *op, size_t n);
int collab_op_push_delete_str(collab_op_t *op, const char *s, size_t len);

/*
 * Appends one component the way the reference's append does: empty ones
 * are dropped, a component of the same kind as the last one is merged into
 * it ({d:"a"} + {d:2} gives {d:3}).  s points at the component's text.
 */
int collab_op_append(collab_op_t *op, uint32_t type, size_t n,
    const char *s, size_t len);

/* checkOp: structural validity (no zero/adjacent/trailing skips, ...). */
int collab_op_check(const collab_op_t *op);

/* Code points the op consumes (skips + deletes) and produces. */
size_t collab_op_base_length(const collab_op_t *op);
size_t collab_op_target_length(const collab_op_t *op);

int collab_op_normalize(collab_op_t *dst, const collab_op_t *op);

/*
 * transform(op, other, side): op rewritten to apply after other; with
 * COLLAB_OT_LEFT op's insert goes first when both insert at one place.
 * Both ops are checked first.
 */
int collab_op_transform(collab_op_t *dst, const collab_op_t *op,
    const collab_op_t *other, collab_ot_side_e side);

/* compose(a, b): one op with the effect of a then b. */
int collab_op_compose(collab_op_t *dst, const collab_op_t *a,
    const collab_op_t *b);

/* Cursor transforms: an insert at the cursor leaves it in place. */
size_t collab_op_transform_position(size_t cursor, const collab_op_t *op);
void collab_op_transform_selection(const collab_op_t *op, size_t *anchor,
    size_t *focus);

/* invert: needs every delete as {d:"str"} (see collab_op_make_invertible) */
int collab_op_invert(collab_op_t *dst, const collab_op_t *op);
int collab_op_is_invertible(const collab_op_t *op);
int collab_op_strip_invertible(collab_op_t *dst, const collab_op_t *op);
int collab_op_is_noop(const collab_op_t *op);

/*
 * 1 when a and b make the same edit: a delete is compared by its length
 * only ({d:2} and {d:"ab"} are the same edit of one document).
 */
int collab_op_equal(const collab_op_t *a, const collab_op_t *b);


#endif /* _COLLAB_OT_H_INCLUDED_ */

/*
 * JSON codec for text-unicode ops (yajl): a yajl tree node or JSON text to
 * collab_op_t and back.  Decoding validates as the reference's checkOp
 * does, plus strict UTF-8 and integer checks.
 */

#ifndef _COLLAB_OT_JSON_H_INCLUDED_
#define _COLLAB_OT_JSON_H_INCLUDED_


#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "engine/collab_ot.h"


/*
 * Decodes an op (a JSON array) into op (reset first) and checks it with
 * collab_op_check().  Numbers must be integers (1.0 is accepted as 1).
 * yajl trees cut strings at U+0000, so such strings cannot reach here
 * intact: collab_op_decode_json() refuses "\u0000" escapes for that reason.
 */
int collab_op_decode(collab_op_t *op, yajl_val v);
int collab_op_decode_json(collab_op_t *op, const char *json, size_t len);

/* Generates the op as a JSON array into g (compact: [3,"hi",{"d":5}]). */
int collab_op_encode(const collab_op_t *op, yajl_gen g);

/*
 * Encodes the op as JSON text into *out (malloc'ed, NUL-terminated, the
 * caller free()s it); *len excludes the NUL.
 */
int collab_op_encode_json(const collab_op_t *op, char **out, size_t *len);


#endif /* _COLLAB_OT_JSON_H_INCLUDED_ */

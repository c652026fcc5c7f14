/*
 * JSON text -> yajl_val tree, built in a reusable arena.
 *
 * yajl_tree_parse() needs a NUL-terminated copy of the input, mallocs every
 * node and string, frees recursively (a deeply nested message overflows the
 * stack) and loses string lengths.  This builder drives yajl's callback
 * parser instead and produces nodes with the public yajl_val layout (so the
 * YAJL_IS_* / YAJL_GET_* macros and yajl_tree_get() work on them), but:
 *
 *   - every node, key and string lives in one arena that is reset, not
 *     freed, between messages: no malloc per message once warm;
 *   - nesting is limited to COLLAB_MSG_MAX_DEPTH, values to
 *     COLLAB_MSG_MAX_VALUES (or max_values, set after init);
 *   - strings and keys are NUL-terminated and their byte length is stored
 *     in front of them: collab_msg_strlen() is O(1);
 *   - strings with U+0000 or lone UTF-16 surrogates (\ud800 alone) are
 *     rejected: yajl would truncate or mangle them, and PostgreSQL text
 *     cannot hold U+0000 anyway.
 *
 * Never pass these trees to yajl_tree_free().
 */

#ifndef _COLLAB_MSG_TREE_H_INCLUDED_
#define _COLLAB_MSG_TREE_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_tree.h>


#define COLLAB_MSG_MAX_DEPTH       32
#define COLLAB_MSG_MAX_VALUES      100000

/* arena chunk size, and what a reset keeps */
#define COLLAB_MSG_CHUNK_SIZE      8192
#define COLLAB_MSG_SCRATCH_KEEP    1024


typedef struct collab_msg_chunk_s  collab_msg_chunk_t;


typedef struct {
    yajl_val            node;
    size_t              vbase;     /* first child in vals */
    size_t              kbase;     /* first key in keys */
} collab_msg_frame_t;


typedef struct {
    collab_msg_chunk_t *base;      /* kept across resets */
    collab_msg_chunk_t *extra;     /* freed on reset */
    char               *pos;
    char               *end;

    /* children of the open containers, copied out when one closes */
    yajl_val           *vals;
    size_t              nvals;
    size_t              vals_cap;
    const char        **keys;
    size_t              nkeys;
    size_t              keys_cap;

    collab_msg_frame_t  frames[COLLAB_MSG_MAX_DEPTH];
    size_t              depth;
    size_t              count;     /* values built so far */
    size_t              max_values; /* 0: COLLAB_MSG_MAX_VALUES */

    yajl_val            root;
    const char         *error;     /* why a callback stopped the parser */
    unsigned            nomem:1;
} collab_msg_tree_t;


#define COLLAB_MSG_TREE_OK         0
#define COLLAB_MSG_TREE_INVALID   -1   /* errbuf says why */
#define COLLAB_MSG_TREE_NOMEM     -2


/* a zeroed struct is initialised too */
void collab_msg_tree_init(collab_msg_tree_t *t);

/*
 * Parses one complete JSON text (any value at the top).  Resets the arena
 * first, so earlier trees from t become invalid.  On success *root is the
 * tree; on failure errbuf holds a short NUL-terminated reason.
 */
int collab_msg_tree_parse(collab_msg_tree_t *t, const char *json, size_t len,
    yajl_val *root, char *errbuf, size_t errlen);

/* drops the tree; keeps the base chunk and small scratch for reuse */
void collab_msg_tree_reset(collab_msg_tree_t *t);

/* releases everything */
void collab_msg_tree_free(collab_msg_tree_t *t);

/*
 * Byte length of a string node (or of an object key) built by this
 * builder: O(1), exact even for long strings.
 */
size_t collab_msg_strlen(const char *s);


#endif /* _COLLAB_MSG_TREE_H_INCLUDED_ */

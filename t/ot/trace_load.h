/*
 * Loads an editing trace (gzipped JSON: startContent, endContent,
 * txns[].patches[[pos, del, ins]]) into text-unicode ops, one op per patch.
 * Shared by the trace test and the benchmark.
 */

#ifndef _TRACE_LOAD_H_INCLUDED_
#define _TRACE_LOAD_H_INCLUDED_


#include "engine/collab_ot.h"


typedef struct {
    char         *start;
    size_t        start_len;
    char         *end;
    size_t        end_len;
    collab_op_t  *ops;
    size_t        nops;
} trace_t;


/* 0 on success, -1 with a message on stderr. */
int trace_load(trace_t *tr, const char *path);
void trace_free(trace_t *tr);


#endif /* _TRACE_LOAD_H_INCLUDED_ */

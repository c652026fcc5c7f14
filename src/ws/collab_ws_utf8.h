/*
 * Incremental UTF-8 validation for WebSocket text messages: a code point
 * may be split across frames and reads, so the state carries over between
 * calls.  Pure C, no nginx headers.
 */

#ifndef _COLLAB_WS_UTF8_H_INCLUDED_
#define _COLLAB_WS_UTF8_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct {
    uint32_t  state;
} collab_ws_utf8_t;


void collab_ws_utf8_init(collab_ws_utf8_t *u);

/* 0 while the bytes seen so far can still be valid UTF-8, -1 once not. */
int collab_ws_utf8_feed(collab_ws_utf8_t *u, const uint8_t *p, size_t n);

/* 0 if the input ended on a code point boundary (a complete message). */
int collab_ws_utf8_finish(const collab_ws_utf8_t *u);


#endif /* _COLLAB_WS_UTF8_H_INCLUDED_ */

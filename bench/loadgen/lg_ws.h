/*
 * The client half of RFC 6455 that the load generator needs: the upgrade
 * request, a check of the 101 response, masked outgoing frames and a
 * parser for the unmasked frames a server sends.
 */

#ifndef _LG_WS_H_INCLUDED_
#define _LG_WS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define LG_WS_OP_CONT    0x0
#define LG_WS_OP_TEXT    0x1
#define LG_WS_OP_BINARY  0x2
#define LG_WS_OP_CLOSE   0x8
#define LG_WS_OP_PING    0x9
#define LG_WS_OP_PONG    0xa


typedef struct {
    int         opcode;
    int         fin;
    uint8_t    *payload;       /* points into the caller's buffer */
    size_t      len;
} lg_ws_frame_t;


/*
 * writes "GET path ..." into buf (with "Authorization: Bearer token" when
 * token is not NULL); returns its length, or 0 if too small
 */
size_t lg_ws_request(char *buf, size_t size, const char *host,
    const char *path, const char *token);

/*
 * looks for the end of the response headers in buf[0..len): returns the
 * header length once they are complete (0: need more, -1: not a 101)
 */
long lg_ws_response(const char *buf, size_t len);

/* a masked client frame: 14-byte header at most, then len bytes */
size_t lg_ws_encode(uint8_t *out, int opcode, const void *data, size_t len,
    uint32_t mask);

/*
 * parses one server frame at buf[0..len): returns the bytes it takes and
 * fills f (0: incomplete, -1: protocol error such as a masked frame)
 */
long lg_ws_decode(uint8_t *buf, size_t len, lg_ws_frame_t *f);


#endif /* _LG_WS_H_INCLUDED_ */

/*
 * RFC 6455 frame codec: pure C, no nginx headers.
 *
 * The parser is incremental: feed it whatever bytes arrived, in any chunk
 * sizes, and it hands back one event at a time.  Payload bytes are unmasked
 * in place in the caller's buffer and returned as chunks, so the parser
 * never buffers a data payload itself; the caller decides where a message
 * is assembled.  Sizes are checked against the declared frame length before
 * a single payload byte is consumed, so a declared 1 TiB frame is rejected
 * (1009) without allocation.
 */

#ifndef _COLLAB_WS_FRAME_H_INCLUDED_
#define _COLLAB_WS_FRAME_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ws/collab_ws_utf8.h"


#define COLLAB_WS_OP_CONT              0x0
#define COLLAB_WS_OP_TEXT              0x1
#define COLLAB_WS_OP_BINARY            0x2
#define COLLAB_WS_OP_CLOSE             0x8
#define COLLAB_WS_OP_PING              0x9
#define COLLAB_WS_OP_PONG              0xa

#define COLLAB_WS_CLOSE_NORMAL         1000
#define COLLAB_WS_CLOSE_GOING_AWAY     1001
#define COLLAB_WS_CLOSE_PROTOCOL       1002
#define COLLAB_WS_CLOSE_UNSUPPORTED    1003
#define COLLAB_WS_CLOSE_NO_STATUS      1005    /* never sent on the wire */
#define COLLAB_WS_CLOSE_ABNORMAL       1006    /* never sent on the wire */
#define COLLAB_WS_CLOSE_INVALID_DATA   1007
#define COLLAB_WS_CLOSE_POLICY         1008
#define COLLAB_WS_CLOSE_TOO_BIG        1009
#define COLLAB_WS_CLOSE_INTERNAL       1011

#define COLLAB_WS_MAX_CONTROL          125
#define COLLAB_WS_MAX_HEADER           14      /* client header, with mask */


typedef enum {
    COLLAB_WS_EV_NONE = 0,      /* all input consumed, need more bytes */
    COLLAB_WS_EV_DATA,          /* a chunk of the current text message */
    COLLAB_WS_EV_CONTROL,       /* a complete ping, pong or close frame */
    COLLAB_WS_EV_ERROR          /* violation: close with ev->close_code */
} collab_ws_event_e;


typedef struct {
    collab_ws_event_e   type;

    /*
     * EV_DATA: data/len point into the caller's buffer (already unmasked).
     * message_start is set on the first chunk of a message, message_end on
     * the last one (the message is complete and, for text, valid UTF-8).
     * A zero-length message or final fragment still yields one event with
     * len == 0.  frame_len is the declared payload length of the frame the
     * chunk belongs to (useful to size a buffer for unfragmented messages).
     *
     * EV_CONTROL: opcode is PING, PONG or CLOSE; data/len is the whole
     * unmasked payload (at most 125 bytes, held inside the parser until the
     * next call).  For CLOSE, close_code is the received code or 1005 when
     * the payload was empty, and reason/reason_len the (UTF-8 checked) text.
     *
     * EV_ERROR: close_code is 1002, 1003, 1007 or 1009 and reason a short
     * static description for logs.  The parser stays in the error state.
     */
    int                 opcode;
    const uint8_t      *data;
    size_t              len;
    uint64_t            frame_len;
    unsigned            message_start:1;
    unsigned            message_end:1;

    uint16_t            close_code;
    const uint8_t      *reason;
    size_t              reason_len;
    const char         *error;
} collab_ws_event_t;


typedef struct {
    uint64_t            max_message_size;

    /* private state */
    int                 state;
    uint8_t             hdr[COLLAB_WS_MAX_HEADER];
    size_t              hdr_len;
    size_t              hdr_need;
    int                 opcode;
    unsigned            fin:1;
    unsigned            in_message:1;
    unsigned            message_text:1;
    unsigned            message_pending:1;  /* message_start not yet sent */
    uint8_t             mask[4];
    uint64_t            frame_len;
    uint64_t            frame_done;
    uint64_t            message_len;
    collab_ws_utf8_t    utf8;
    uint8_t             control[COLLAB_WS_MAX_CONTROL];
    uint16_t            error_code;
    const char         *error;
} collab_ws_parser_t;


void collab_ws_parser_init(collab_ws_parser_t *p, uint64_t max_message_size);

/*
 * Consume bytes from in[0..len) and fill ev with at most one event.
 * Returns the number of bytes consumed.  Call again with the rest until it
 * returns ev->type == COLLAB_WS_EV_NONE (all consumed) or EV_ERROR.
 * A DATA or CONTROL event may be returned with 0 bytes consumed.
 */
size_t collab_ws_parse(collab_ws_parser_t *p, uint8_t *in, size_t len,
    collab_ws_event_t *ev);


/*
 * Server frames (never masked).  The header is at most 10 bytes; returns
 * its length.
 */
size_t collab_ws_encode_header(uint8_t *out, int opcode, int fin,
    uint64_t payload_len);

/*
 * A whole close frame (header + code + reason truncated to fit the 125-byte
 * control limit at a UTF-8 boundary).  out needs 2 + 125 bytes.  Returns
 * the frame length.  code 0 or 1005 sends an empty payload.
 */
size_t collab_ws_encode_close(uint8_t *out, uint16_t code,
    const char *reason, size_t reason_len);

/* 1 if a received close code is allowed on the wire (RFC 6455 7.4). */
int collab_ws_close_code_valid(unsigned code);


#endif /* _COLLAB_WS_FRAME_H_INCLUDED_ */

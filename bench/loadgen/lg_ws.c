/*
 * WebSocket client codec for the load generator.
 */

#include <stdio.h>
#include <string.h>

#include "lg_ws.h"


size_t
lg_ws_request(char *buf, size_t size, const char *host, const char *path,
    const char *token)
{
    int  n;

    /* the key is fixed: the load generator trusts its server under test */
    n = snprintf(buf, size,
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "%s%s%s"
                 "\r\n", path, host,
                 token ? "Authorization: Bearer " : "",
                 token ? token : "", token ? "\r\n" : "");

    if (n < 0 || (size_t) n >= size) {
        return 0;
    }

    return (size_t) n;
}


long
lg_ws_response(const char *buf, size_t len)
{
    size_t  i;

    if (len >= 12 && memcmp(buf, "HTTP/1.1 ", 9) == 0
        && memcmp(buf + 9, "101", 3) != 0)
    {
        return -1;
    }

    for (i = 3; i < len; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n'
            && buf[i - 3] == '\r')
        {
            return memcmp(buf, "HTTP/1.1 101", 12) == 0 ? (long) i + 1 : -1;
        }
    }

    return 0;
}


size_t
lg_ws_encode(uint8_t *out, int opcode, const void *data, size_t len,
    uint32_t mask)
{
    size_t          h, i;
    uint8_t         m[4];
    const uint8_t  *p;

    out[0] = (uint8_t) (0x80 | opcode);

    if (len < 126) {
        out[1] = (uint8_t) (0x80 | len);
        h = 2;

    } else if (len < 65536) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t) (len >> 8);
        out[3] = (uint8_t) len;
        h = 4;

    } else {
        out[1] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
        }
        h = 10;
    }

    m[0] = (uint8_t) (mask >> 24);
    m[1] = (uint8_t) (mask >> 16);
    m[2] = (uint8_t) (mask >> 8);
    m[3] = (uint8_t) mask;
    memcpy(out + h, m, 4);
    h += 4;

    p = data;
    for (i = 0; i < len; i++) {
        out[h + i] = p[i] ^ m[i & 3];
    }

    return h + len;
}


long
lg_ws_decode(uint8_t *buf, size_t len, lg_ws_frame_t *f)
{
    size_t    h, i;
    uint64_t  plen;

    if (len < 2) {
        return 0;
    }

    if (buf[1] & 0x80) {
        return -1;                  /* servers never mask */
    }

    f->fin = buf[0] >> 7;
    f->opcode = buf[0] & 0x0f;
    plen = buf[1] & 0x7f;
    h = 2;

    if (plen == 126) {
        if (len < 4) {
            return 0;
        }
        plen = ((uint64_t) buf[2] << 8) | buf[3];
        h = 4;

    } else if (plen == 127) {
        if (len < 10) {
            return 0;
        }
        plen = 0;
        for (i = 0; i < 8; i++) {
            plen = (plen << 8) | buf[2 + i];
        }
        if (plen > ((uint64_t) 1 << 40)) {
            return -1;
        }
        h = 10;
    }

    if (len - h < plen) {
        return 0;
    }

    f->payload = buf + h;
    f->len = (size_t) plen;

    return (long) (h + plen);
}

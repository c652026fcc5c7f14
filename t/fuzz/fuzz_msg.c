/*
 * libFuzzer over the ShareDB message decoder and the encoders that echo
 * decoded data: every input is decoded; whatever decoded to an object is
 * echoed in an error reply, and that reply must decode again and echo to
 * the very same bytes (the echo is a fixed point).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/collab_msg.h"
#include "protocol/collab_msg_enc.h"


static void fuzz_msg_extra(collab_msg_t *msg, collab_msg_enc_t *enc);


static collab_msg_t      fuzz_msg;
static collab_msg_t      fuzz_msg2;
static collab_msg_enc_t  fuzz_enc;
static collab_msg_enc_t  fuzz_enc2;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               rc;
    collab_msg_err_t  err, err2;

    if (fuzz_enc.gen == NULL) {
        if (collab_msg_enc_init(&fuzz_enc) != COLLAB_MSG_OK
            || collab_msg_enc_init(&fuzz_enc2) != COLLAB_MSG_OK)
        {
            abort();
        }
    }

    rc = collab_msg_decode((const char *) data, size, &fuzz_msg, &err);

    if (rc == COLLAB_MSG_NOMEM) {
        return 0;
    }

    if (rc == COLLAB_MSG_OK) {
        fuzz_msg_extra(&fuzz_msg, &fuzz_enc);

    } else if (err.code == NULL || err.message[0] == '\0') {
        abort();
    }

    if (fuzz_msg.root == NULL) {
        return 0;
    }

    if (collab_msg_enc_error(&fuzz_enc, &fuzz_msg, COLLAB_MSG_ERR_UNKNOWN,
                             "fuzz")
        != COLLAB_MSG_OK)
    {
        abort();
    }

    /* the reply is a JSON object that echoes to itself */

    rc = collab_msg_decode((const char *) collab_msg_enc_data(&fuzz_enc),
                           fuzz_enc.len, &fuzz_msg2, &err2);

    if (rc == COLLAB_MSG_NOMEM) {
        return 0;
    }

    if (fuzz_msg2.root == NULL) {
        abort();
    }

    if (collab_msg_enc_error(&fuzz_enc2, &fuzz_msg2, COLLAB_MSG_ERR_UNKNOWN,
                             "fuzz")
        != COLLAB_MSG_OK)
    {
        abort();
    }

    if (fuzz_enc.len != fuzz_enc2.len
        || memcmp(collab_msg_enc_data(&fuzz_enc),
                  collab_msg_enc_data(&fuzz_enc2), fuzz_enc.len) != 0)
    {
        abort();
    }

    return 0;
}


static void
fuzz_msg_extra(collab_msg_t *msg, collab_msg_enc_t *enc)
{
    int               has;
    size_t            i;
    uint64_t          v;
    collab_msg_str_t  id, src;

    src.data = "fuzz";
    src.len = 4;

    switch (msg->action) {

    case COLLAB_MSG_A_P:
        if (collab_msg_enc_presence(enc, msg, &src, NULL) != COLLAB_MSG_OK) {
            abort();
        }
        break;

    case COLLAB_MSG_A_BS:
    case COLLAB_MSG_A_BF:
    case COLLAB_MSG_A_BU:
        for (i = 0; i < msg->nb; i++) {
            collab_msg_bulk_item(msg, i, &id, &v, &has);

            if (id.len == 0 || strlen(id.data) != id.len) {
                abort();
            }
        }

        if (collab_msg_enc_bulk_reply(enc, msg->action, &msg->c, msg->b)
            != COLLAB_MSG_OK)
        {
            abort();
        }
        break;

    case COLLAB_MSG_A_OP:
        if (msg->kind == COLLAB_MSG_OP_CREATE
            && strlen(msg->create_data.data) != msg->create_data.len)
        {
            abort();
        }
        break;

    default:
        break;
    }
}

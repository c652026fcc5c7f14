/*
 * ShareDB server -> client messages, written with yajl_gen into one
 * growable buffer that is reused from message to message.
 *
 * Each collab_msg_enc_*() call produces one complete JSON message:
 * collab_msg_enc_data(enc) / enc->len.  It stays valid until the next
 * call on the same encoder, so the caller copies it into its frame (or,
 * to skip that copy, writes the frame header into the
 * COLLAB_MSG_ENC_HEADROOM bytes just before the data and sends in place).
 *
 * Every function returns COLLAB_MSG_OK, COLLAB_MSG_NOMEM, or
 * COLLAB_MSG_ENC_ERROR (generator misuse, or the caller's emit callback
 * failed).
 */

#ifndef _COLLAB_MSG_ENC_H_INCLUDED_
#define _COLLAB_MSG_ENC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "protocol/collab_msg.h"


#define COLLAB_MSG_ENC_ERROR       -3

/* a server frame header is at most 10 bytes (no mask) */
#define COLLAB_MSG_ENC_HEADROOM    10

/* a buffer grown past this by one big message is released afterwards */
#define COLLAB_MSG_ENC_KEEP        65536

#define collab_msg_enc_data(enc)   ((enc)->buf + COLLAB_MSG_ENC_HEADROOM)


typedef struct {
    yajl_gen        gen;
    unsigned char  *buf;       /* headroom, then the JSON */
    size_t          len;       /* JSON bytes */
    size_t          cap;       /* bytes allocated, headroom included */
    unsigned        nomem:1;
} collab_msg_enc_t;


/* writes one JSON value (the op body) into g; non-zero on failure */
typedef int (*collab_msg_emit_pt)(yajl_gen g, void *ctx);


/* a document snapshot {v, data, type} */
typedef struct {
    uint64_t        v;
    const char     *data;      /* UTF-8 text */
    size_t          len;

    /* 0: missing (v 0) or deleted doc: "type":null and no "data" */
    unsigned        exists:1;
} collab_msg_snapshot_t;


/* the common part of every op message */
typedef struct {
    collab_msg_str_t  c;
    collab_msg_str_t  d;
    collab_msg_str_t  src;     /* omitted when data is NULL */
    uint64_t          v;       /* the version the op was committed at */
    uint64_t          seq;
} collab_msg_op_head_t;


int collab_msg_enc_init(collab_msg_enc_t *enc);
void collab_msg_enc_free(collab_msg_enc_t *enc);

/* {"a":"hs","protocol":1,"protocolMinor":2,"id":id,"type":<json0 URI>} */
int collab_msg_enc_hs(collab_msg_enc_t *enc, const collab_msg_str_t *id);

/* {"a":"pp"} */
int collab_msg_enc_pp(collab_msg_enc_t *enc);

/*
 * The reply to auth: {"a":"auth","exp":exp} when code is NULL, else
 * {"a":"auth","error":{"code","message"}} (the token is not echoed)
 */
int collab_msg_enc_auth(collab_msg_enc_t *enc, uint64_t exp,
    const char *code, const char *message);

/* s or f without v: {"a","c","d","data":{"v","data","type"}} */
int collab_msg_enc_snapshot(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c, const collab_msg_str_t *d,
    const collab_msg_snapshot_t *snap);

/*
 * {"a","c","d"}: the end of an s/f catch-up (after the op messages since
 * v), and the u reply.
 */
int collab_msg_enc_doc_reply(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c, const collab_msg_str_t *d);

/*
 * bs/bf with the array form: {"a","c","data":{id:{v,data,type}|
 * {"error":{code,message}},...}}, built item by item.
 */
int collab_msg_enc_bulk_begin(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c);
int collab_msg_enc_bulk_snapshot(collab_msg_enc_t *enc,
    const collab_msg_str_t *id, const collab_msg_snapshot_t *snap);
int collab_msg_enc_bulk_error(collab_msg_enc_t *enc,
    const collab_msg_str_t *id, const char *code, const char *message);
int collab_msg_enc_bulk_end(collab_msg_enc_t *enc);

/*
 * {"a","c","b":<b echoed>}: the end of a bs/bf versions-form catch-up and
 * the bu reply; b is the request's msg->b.
 */
int collab_msg_enc_bulk_reply(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c, yajl_val b);

/* {"a":"op","c","d","v","src","seq","op":<emit()>} */
int collab_msg_enc_op(collab_msg_enc_t *enc, const collab_msg_op_head_t *h,
    collab_msg_emit_pt emit, void *ctx);

/* ... "create":{"type":<text-unicode URI>,"data":data} */
int collab_msg_enc_op_create(collab_msg_enc_t *enc,
    const collab_msg_op_head_t *h, const collab_msg_str_t *data);

/* ... "del":true */
int collab_msg_enc_op_del(collab_msg_enc_t *enc,
    const collab_msg_op_head_t *h);

/* the ack: {"a":"op","c","d","v","src","seq"} */
int collab_msg_enc_op_ack(collab_msg_enc_t *enc,
    const collab_msg_op_head_t *h);

/* {"a":"nf","id":<request id>,"v","data","type"} */
int collab_msg_enc_nf(collab_msg_enc_t *enc, yajl_val id,
    const collab_msg_snapshot_t *snap);

/*
 * A decoded p message relayed (and echoed to its sender as the ack):
 * {"a":"p","ch","src","id","p","pv"} plus c, d, v, t as received.  With
 * name not NULL, a p that is an object gets "name" set to it (the signed
 * in user's name, whatever the client said).
 */
int collab_msg_enc_presence(collab_msg_enc_t *enc, const collab_msg_t *msg,
    const collab_msg_str_t *src, const collab_msg_str_t *name);

/* ps/pu reply: {"a","ch","seq"} (seq omitted when !has_seq) */
int collab_msg_enc_presence_sub(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *ch, uint64_t seq, int has_seq);

/* {"a":"pr","ch"}: sent to the other subscribers of ch */
int collab_msg_enc_presence_request(collab_msg_enc_t *enc,
    const collab_msg_str_t *ch);

/*
 * The error reply: the request object echoed (any "error" key dropped)
 * with "error":{"code","message"} added.  With no object to echo (msg or
 * msg->root NULL) it is just {"error":{...}}.
 */
int collab_msg_enc_error(collab_msg_enc_t *enc, const collab_msg_t *msg,
    const char *code, const char *message);

/* generator helpers, also for emit callbacks */
int collab_msg_emit_value(yajl_gen g, yajl_val v);
int collab_msg_emit_str(yajl_gen g, const char *s, size_t len);

/* inserts already encoded JSON as one value (the caller vouches for it) */
int collab_msg_emit_raw(yajl_gen g, const char *json, size_t len);


#endif /* _COLLAB_MSG_ENC_H_INCLUDED_ */

/*
 * ShareDB server -> client message encoders (see collab_msg_enc.h).
 *
 * Shapes follow sharedb 7 lib/agent.js (_reply, _sendOp, _initMessage,
 * getSnapshotData, _createPresence) and what lib/client reads.  Field order
 * does not matter to the client; absent and null do, so they mirror
 * JSON.stringify() of what the agent builds (undefined keys vanish).
 */


#include <stdlib.h>
#include <string.h>

#include "protocol/collab_msg_enc.h"


#define collab_msg_lit(g, s)                                                  \
    yajl_gen_string(g, (const unsigned char *) s, sizeof(s) - 1)


static void collab_msg_enc_print(void *ctx, const char *s, size_t len);
static yajl_gen collab_msg_enc_begin(collab_msg_enc_t *enc);
static int collab_msg_enc_end(collab_msg_enc_t *enc, int rc);
static int collab_msg_enc_action(yajl_gen g, collab_msg_action_e a);
static int collab_msg_enc_snap(yajl_gen g, const collab_msg_snapshot_t *s,
    int open);
static int collab_msg_enc_op_begin(yajl_gen g,
    const collab_msg_op_head_t *h);
static int collab_msg_enc_op_flag(collab_msg_enc_t *enc,
    const collab_msg_op_head_t *h, const char *flag);
static int collab_msg_enc_doc(yajl_gen g, collab_msg_action_e a,
    const collab_msg_str_t *c, const collab_msg_str_t *d);
static int collab_msg_enc_head(yajl_gen g, collab_msg_action_e a,
    const char *key, const collab_msg_str_t *s);
static int collab_msg_enc_field(yajl_gen g, const char *key,
    const collab_msg_str_t *s);
static int collab_msg_enc_err(yajl_gen g, const char *code,
    const char *message);


int
collab_msg_enc_init(collab_msg_enc_t *enc)
{
    memset(enc, 0, sizeof(collab_msg_enc_t));

    enc->gen = yajl_gen_alloc(NULL);
    if (enc->gen == NULL) {
        return COLLAB_MSG_NOMEM;
    }

    if (!yajl_gen_config(enc->gen, yajl_gen_print_callback,
                         collab_msg_enc_print, enc))
    {
        yajl_gen_free(enc->gen);
        enc->gen = NULL;
        return COLLAB_MSG_ENC_ERROR;
    }

    return COLLAB_MSG_OK;
}


void
collab_msg_enc_free(collab_msg_enc_t *enc)
{
    if (enc->gen) {
        yajl_gen_free(enc->gen);
    }

    free(enc->buf);

    memset(enc, 0, sizeof(collab_msg_enc_t));
}


int
collab_msg_enc_hs(collab_msg_enc_t *enc, const collab_msg_str_t *id)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = yajl_gen_map_open(g);
    rc |= collab_msg_enc_action(g, COLLAB_MSG_A_HS);
    rc |= collab_msg_lit(g, "protocol");
    rc |= yajl_gen_integer(g, COLLAB_MSG_PROTOCOL);
    rc |= collab_msg_lit(g, "protocolMinor");
    rc |= yajl_gen_integer(g, COLLAB_MSG_PROTOCOL_MINOR);
    rc |= collab_msg_enc_field(g, "id", id);

    /* the client insists on its default type here, whatever we serve */
    rc |= collab_msg_lit(g, "type");
    rc |= collab_msg_lit(g, COLLAB_MSG_TYPE_JSON0);
    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_pp(collab_msg_enc_t *enc)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = yajl_gen_map_open(g);
    rc |= collab_msg_enc_action(g, COLLAB_MSG_A_PP);
    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_auth(collab_msg_enc_t *enc, uint64_t exp, const char *code,
    const char *message)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = yajl_gen_map_open(g);
    rc |= collab_msg_enc_action(g, COLLAB_MSG_A_AUTH);

    if (code) {
        rc |= collab_msg_enc_err(g, code, message);

    } else {
        rc |= collab_msg_lit(g, "exp");
        rc |= yajl_gen_integer(g, (long long) exp);
    }

    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


/* with snap NULL: the doc_reply */

int
collab_msg_enc_snapshot(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c, const collab_msg_str_t *d,
    const collab_msg_snapshot_t *snap)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = yajl_gen_map_open(g);
    rc |= collab_msg_enc_doc(g, a, c, d);

    if (snap) {
        rc |= collab_msg_lit(g, "data");
        rc |= collab_msg_enc_snap(g, snap, 1);
    }

    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_doc_reply(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c, const collab_msg_str_t *d)
{
    return collab_msg_enc_snapshot(enc, a, c, d, NULL);
}


int
collab_msg_enc_bulk_begin(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = collab_msg_enc_head(g, a, "c", c);
    rc |= collab_msg_lit(g, "data");
    rc |= yajl_gen_map_open(g);

    return rc ? COLLAB_MSG_ENC_ERROR : COLLAB_MSG_OK;
}


int
collab_msg_enc_bulk_snapshot(collab_msg_enc_t *enc,
    const collab_msg_str_t *id, const collab_msg_snapshot_t *snap)
{
    int  rc;

    rc = collab_msg_emit_str(enc->gen, id->data, id->len);
    rc |= collab_msg_enc_snap(enc->gen, snap, 1);

    return rc ? COLLAB_MSG_ENC_ERROR : COLLAB_MSG_OK;
}


int
collab_msg_enc_bulk_error(collab_msg_enc_t *enc, const collab_msg_str_t *id,
    const char *code, const char *message)
{
    int       rc;
    yajl_gen  g;

    g = enc->gen;

    rc = collab_msg_emit_str(g, id->data, id->len);
    rc |= yajl_gen_map_open(g);
    rc |= collab_msg_enc_err(g, code, message);
    rc |= yajl_gen_map_close(g);

    return rc ? COLLAB_MSG_ENC_ERROR : COLLAB_MSG_OK;
}


int
collab_msg_enc_bulk_end(collab_msg_enc_t *enc)
{
    int  rc;

    rc = yajl_gen_map_close(enc->gen);
    rc |= yajl_gen_map_close(enc->gen);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_bulk_reply(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *c, yajl_val b)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = collab_msg_enc_head(g, a, "c", c);
    rc |= collab_msg_lit(g, "b");
    rc |= collab_msg_emit_value(g, b);
    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_op(collab_msg_enc_t *enc, const collab_msg_op_head_t *h,
    collab_msg_emit_pt emit, void *ctx)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = collab_msg_enc_op_begin(g, h);
    rc |= collab_msg_lit(g, "op");

    if (rc == 0 && emit(g, ctx) != 0) {
        return collab_msg_enc_end(enc, COLLAB_MSG_ENC_ERROR);
    }

    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_op_create(collab_msg_enc_t *enc, const collab_msg_op_head_t *h,
    const collab_msg_str_t *data)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = collab_msg_enc_op_begin(g, h);
    rc |= collab_msg_lit(g, "create");
    rc |= yajl_gen_map_open(g);
    rc |= collab_msg_lit(g, "type");
    rc |= collab_msg_lit(g, COLLAB_MSG_TYPE_TEXT_UNICODE);
    rc |= collab_msg_enc_field(g, "data", data);
    rc |= yajl_gen_map_close(g);
    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_op_del(collab_msg_enc_t *enc, const collab_msg_op_head_t *h)
{
    return collab_msg_enc_op_flag(enc, h, "del");
}


int
collab_msg_enc_op_ack(collab_msg_enc_t *enc, const collab_msg_op_head_t *h)
{
    return collab_msg_enc_op_flag(enc, h, NULL);
}


int
collab_msg_enc_nf(collab_msg_enc_t *enc, yajl_val id,
    const collab_msg_snapshot_t *snap)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = yajl_gen_map_open(g);
    rc |= collab_msg_enc_action(g, COLLAB_MSG_A_NF);
    rc |= collab_msg_lit(g, "id");
    rc |= collab_msg_emit_value(g, id);
    rc |= collab_msg_enc_snap(g, snap, 0);
    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_presence(collab_msg_enc_t *enc, const collab_msg_t *msg,
    const collab_msg_str_t *src, const collab_msg_str_t *name)
{
    int       rc;
    size_t    i;
    yajl_gen  g;
    yajl_val  v;

    /* the doc presence fields, relayed exactly as sent (null included) */
    static const struct {
        collab_msg_field_e   field;
        const char          *key;
    } doc_fields[] = {
        { COLLAB_MSG_F_C, "c" },
        { COLLAB_MSG_F_D, "d" },
        { COLLAB_MSG_F_V, "v" },
        { COLLAB_MSG_F_T, "t" }
    };

    g = collab_msg_enc_begin(enc);

    rc = collab_msg_enc_head(g, COLLAB_MSG_A_P, "ch", &msg->ch);
    rc |= collab_msg_enc_field(g, "src", src);
    rc |= collab_msg_enc_field(g, "id", &msg->id);

    if (msg->p && name && YAJL_IS_OBJECT(msg->p)) {
        /* the name others see is the one the token gave */
        rc |= collab_msg_lit(g, "p");
        rc |= yajl_gen_map_open(g);

        for (i = 0; i < msg->p->u.object.len; i++) {
            if (strcmp(msg->p->u.object.keys[i], "name") != 0) {
                rc |= collab_msg_emit_str(g, msg->p->u.object.keys[i],
                                          strlen(msg->p->u.object.keys[i]));
                rc |= collab_msg_emit_value(g, msg->p->u.object.values[i]);
            }
        }

        rc |= collab_msg_lit(g, "name");
        rc |= collab_msg_emit_str(g, name->data, name->len);
        rc |= yajl_gen_map_close(g);

    } else if (msg->p) {
        rc |= collab_msg_lit(g, "p");
        rc |= collab_msg_emit_value(g, msg->p);
    }

    rc |= collab_msg_lit(g, "pv");
    rc |= yajl_gen_integer(g, (long long) msg->pv);

    for (i = 0; i < sizeof(doc_fields) / sizeof(doc_fields[0]); i++) {
        v = msg->field[doc_fields[i].field];

        if (v != NULL) {
            rc |= collab_msg_emit_str(g, doc_fields[i].key,
                                      strlen(doc_fields[i].key));
            rc |= collab_msg_emit_value(g, v);
        }
    }

    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_presence_sub(collab_msg_enc_t *enc, collab_msg_action_e a,
    const collab_msg_str_t *ch, uint64_t seq, int has_seq)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = collab_msg_enc_head(g, a, "ch", ch);

    if (has_seq) {
        rc |= collab_msg_lit(g, "seq");
        rc |= yajl_gen_integer(g, (long long) seq);
    }

    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_enc_presence_request(collab_msg_enc_t *enc,
    const collab_msg_str_t *ch)
{
    return collab_msg_enc_presence_sub(enc, COLLAB_MSG_A_PR, ch, 0, 0);
}


int
collab_msg_enc_error(collab_msg_enc_t *enc, const collab_msg_t *msg,
    const char *code, const char *message)
{
    int          rc;
    size_t       i;
    yajl_gen     g;
    yajl_val     root;
    const char  *key;

    g = collab_msg_enc_begin(enc);

    rc = yajl_gen_map_open(g);

    root = msg ? msg->root : NULL;

    if (YAJL_IS_OBJECT(root)) {
        for (i = 0; i < root->u.object.len; i++) {
            key = root->u.object.keys[i];

            if (strcmp(key, "error") == 0) {
                continue;
            }

            rc |= collab_msg_emit_str(g, key, strlen(key));
            rc |= collab_msg_emit_value(g, root->u.object.values[i]);
        }
    }

    rc |= collab_msg_enc_err(g, code, message);
    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


int
collab_msg_emit_value(yajl_gen g, yajl_val v)
{
    int          rc;
    size_t       i;
    const char  *key;

    if (v == NULL) {
        return yajl_gen_null(g);
    }

    switch (v->type) {

    case yajl_t_string:
        return collab_msg_emit_str(g, v->u.string, strlen(v->u.string));

    case yajl_t_number:
        /* the number exactly as it was written */
        return yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));

    case yajl_t_object:
        rc = yajl_gen_map_open(g);

        for (i = 0; rc == 0 && i < v->u.object.len; i++) {
            key = v->u.object.keys[i];
            rc |= collab_msg_emit_str(g, key, strlen(key));
            rc |= collab_msg_emit_value(g, v->u.object.values[i]);
        }

        return rc | yajl_gen_map_close(g);

    case yajl_t_array:
        rc = yajl_gen_array_open(g);

        for (i = 0; rc == 0 && i < v->u.array.len; i++) {
            rc |= collab_msg_emit_value(g, v->u.array.values[i]);
        }

        return rc | yajl_gen_array_close(g);

    case yajl_t_true:
        return yajl_gen_bool(g, 1);

    case yajl_t_false:
        return yajl_gen_bool(g, 0);

    default:
        return yajl_gen_null(g);
    }
}


int
collab_msg_emit_str(yajl_gen g, const char *s, size_t len)
{
    return yajl_gen_string(g, (const unsigned char *) s, len);
}


int
collab_msg_emit_raw(yajl_gen g, const char *json, size_t len)
{
    /* yajl_gen_number() prints its argument verbatim as one value */
    return yajl_gen_number(g, json, len);
}


static void
collab_msg_enc_print(void *ctx, const char *s, size_t len)
{
    size_t             need, cap;
    unsigned char     *buf;
    collab_msg_enc_t  *enc;

    enc = ctx;

    if (enc->nomem) {
        return;
    }

    need = COLLAB_MSG_ENC_HEADROOM + enc->len + len;

    if (need > enc->cap) {
        cap = enc->cap ? enc->cap * 2 : 1024;

        while (cap < need) {
            cap *= 2;
        }

        buf = realloc(enc->buf, cap);
        if (buf == NULL) {
            enc->nomem = 1;
            return;
        }

        enc->buf = buf;
        enc->cap = cap;
    }

    memcpy(enc->buf + COLLAB_MSG_ENC_HEADROOM + enc->len, s, len);
    enc->len += len;
}


static yajl_gen
collab_msg_enc_begin(collab_msg_enc_t *enc)
{
    /* one big snapshot must not pin its buffer for the connection's life */

    if (enc->cap > COLLAB_MSG_ENC_KEEP) {
        free(enc->buf);
        enc->buf = NULL;
        enc->cap = 0;
    }

    enc->len = 0;
    enc->nomem = 0;

    yajl_gen_reset(enc->gen, NULL);

    return enc->gen;
}


static int
collab_msg_enc_end(collab_msg_enc_t *enc, int rc)
{
    if (enc->nomem) {
        return COLLAB_MSG_NOMEM;
    }

    if (rc != 0 || enc->buf == NULL) {
        return COLLAB_MSG_ENC_ERROR;
    }

    return COLLAB_MSG_OK;
}


static int
collab_msg_enc_action(yajl_gen g, collab_msg_action_e a)
{
    int          rc;
    const char  *name;

    name = collab_msg_action_name(a);

    /* two statements: the order of the writes matters */
    rc = collab_msg_lit(g, "a");
    rc |= collab_msg_emit_str(g, name, strlen(name));

    return rc;
}


static int
collab_msg_enc_snap(yajl_gen g, const collab_msg_snapshot_t *s, int open)
{
    int  rc;

    rc = open ? yajl_gen_map_open(g) : 0;

    rc |= collab_msg_lit(g, "v");
    rc |= yajl_gen_integer(g, (long long) s->v);

    if (s->exists) {
        rc |= collab_msg_lit(g, "data");
        rc |= collab_msg_emit_str(g, s->data, s->len);
        rc |= collab_msg_lit(g, "type");
        rc |= collab_msg_lit(g, COLLAB_MSG_TYPE_TEXT_UNICODE);

    } else {
        /* getSnapshotData(): data undefined (dropped), type null */
        rc |= collab_msg_lit(g, "type");
        rc |= yajl_gen_null(g);
    }

    if (open) {
        rc |= yajl_gen_map_close(g);
    }

    return rc;
}


static int
collab_msg_enc_op_begin(yajl_gen g, const collab_msg_op_head_t *h)
{
    int  rc;

    rc = yajl_gen_map_open(g);
    rc |= collab_msg_enc_action(g, COLLAB_MSG_A_OP);
    rc |= collab_msg_enc_field(g, "c", &h->c);
    rc |= collab_msg_enc_field(g, "d", &h->d);
    rc |= collab_msg_lit(g, "v");
    rc |= yajl_gen_integer(g, (long long) h->v);

    if (h->src.data) {
        rc |= collab_msg_enc_field(g, "src", &h->src);
    }

    rc |= collab_msg_lit(g, "seq");
    rc |= yajl_gen_integer(g, (long long) h->seq);

    return rc;
}


/* the op head, then "<flag>":true unless flag is NULL (the ack) */

static int
collab_msg_enc_op_flag(collab_msg_enc_t *enc, const collab_msg_op_head_t *h,
    const char *flag)
{
    int       rc;
    yajl_gen  g;

    g = collab_msg_enc_begin(enc);

    rc = collab_msg_enc_op_begin(g, h);

    if (flag) {
        rc |= collab_msg_emit_str(g, flag, strlen(flag));
        rc |= yajl_gen_bool(g, 1);
    }

    rc |= yajl_gen_map_close(g);

    return collab_msg_enc_end(enc, rc);
}


static int
collab_msg_enc_doc(yajl_gen g, collab_msg_action_e a,
    const collab_msg_str_t *c, const collab_msg_str_t *d)
{
    int  rc;

    rc = collab_msg_enc_action(g, a);
    rc |= collab_msg_enc_field(g, "c", c);
    rc |= collab_msg_enc_field(g, "d", d);

    return rc;
}


static int
collab_msg_enc_head(yajl_gen g, collab_msg_action_e a, const char *key,
    const collab_msg_str_t *s)
{
    int  rc;

    rc = yajl_gen_map_open(g);
    rc |= collab_msg_enc_action(g, a);
    rc |= collab_msg_enc_field(g, key, s);

    return rc;
}


static int
collab_msg_enc_field(yajl_gen g, const char *key, const collab_msg_str_t *s)
{
    int  rc;

    /* two statements: the order of the writes matters */
    rc = collab_msg_emit_str(g, key, strlen(key));
    rc |= collab_msg_emit_str(g, s->data, s->len);

    return rc;
}


/* "error":{"code","message"} */

static int
collab_msg_enc_err(yajl_gen g, const char *code, const char *message)
{
    int  rc;

    rc = collab_msg_lit(g, "error");
    rc |= yajl_gen_map_open(g);
    rc |= collab_msg_lit(g, "code");
    rc |= collab_msg_emit_str(g, code, strlen(code));
    rc |= collab_msg_lit(g, "message");
    rc |= collab_msg_emit_str(g, message, strlen(message));
    rc |= yajl_gen_map_close(g);

    return rc;
}


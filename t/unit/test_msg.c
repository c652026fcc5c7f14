/*
 * ShareDB message model: decoding of every action from the shapes the
 * sharedb 7 client sends, every validation error, numbers and strings at
 * the edges, and the exact text of every encoder.
 */


#include <stdlib.h>
#include <string.h>

#include "collab_test.h"
#include "protocol/collab_msg.h"
#include "protocol/collab_msg_enc.h"


#define TEST_STR(s)  { s, sizeof(s) - 1 }


static int test_dec(const char *json);
static void test_bad(const char *json, const char *code, const char *message);
static void test_out(const char *want);
static int test_emit_op(yajl_gen g, void *ctx);
static int test_emit_fail(yajl_gen g, void *ctx);
static void test_handshake(void);
static void test_doc_actions(void);
static void test_numbers(void);
static void test_bulk(void);
static void test_op(void);
static void test_nf_pp_query(void);
static void test_presence(void);
static void test_unknown_and_json(void);
static void test_names_and_strings(void);
static void test_limits(void);
static void test_encoders(void);
static void test_enc_presence_error(void);
static void test_reuse(void);


static collab_msg_t      msg;
static collab_msg_err_t  err;
static collab_msg_enc_t  enc;


int
main(void)
{
    collab_msg_init(&msg);
    COLLAB_CHECK(collab_msg_enc_init(&enc) == COLLAB_MSG_OK);

    test_handshake();
    test_doc_actions();
    test_numbers();
    test_bulk();
    test_op();
    test_nf_pp_query();
    test_presence();
    test_unknown_and_json();
    test_names_and_strings();
    test_limits();
    test_encoders();
    test_enc_presence_error();
    test_reuse();

    collab_msg_free(&msg);
    collab_msg_enc_free(&enc);

    return COLLAB_TEST_DONE();
}


static int
test_dec(const char *json)
{
    return collab_msg_decode(json, strlen(json), &msg, &err);
}


static void
test_bad(const char *json, const char *code, const char *message)
{
    int  rc;

    rc = test_dec(json);

    COLLAB_CHECK_MSG(rc == COLLAB_MSG_INVALID, "accepted %s", json);

    if (rc != COLLAB_MSG_INVALID) {
        return;
    }

    COLLAB_CHECK_MSG(strcmp(err.code, code) == 0, "%s: code %s, want %s",
                     json, err.code, code);
    COLLAB_CHECK_MSG(strcmp(err.message, message) == 0,
                     "%s: message \"%s\", want \"%s\"", json, err.message,
                     message);
}


static void
test_out(const char *want)
{
    COLLAB_CHECK_MEM(collab_msg_enc_data(&enc), enc.len, want, strlen(want));
}


static void
test_handshake(void)
{
    COLLAB_CHECK(test_dec("{\"a\":\"hs\",\"id\":null,\"protocol\":1,"
                          "\"protocolMinor\":2}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_HS);
    COLLAB_CHECK(msg.id.data == NULL);
    COLLAB_CHECK(YAJL_IS_INTEGER(msg.field[COLLAB_MSG_F_PROTOCOL]));
    COLLAB_CHECK(msg.field[COLLAB_MSG_F_PROTOCOL_MINOR]->u.number.i == 2);

    COLLAB_CHECK(test_dec("{\"a\":\"hs\",\"id\":\"8f3a9c\",\"protocol\":1,"
                          "\"protocolMinor\":2}") == COLLAB_MSG_OK);
    COLLAB_CHECK_MEM(msg.id.data, msg.id.len, "8f3a9c", 6);

    /* "" is "no id" (agent.js: if (request.id)); strings are protocols */
    COLLAB_CHECK(test_dec("{\"a\":\"hs\",\"id\":\"\",\"protocol\":\"1\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.id.data == NULL);

    test_bad("{\"a\":\"hs\",\"id\":5}", COLLAB_MSG_ERR_BADLY_FORMED,
             "hs: id must be a string or null");
    test_bad("{\"a\":\"hs\",\"protocol\":{}}", COLLAB_MSG_ERR_BADLY_FORMED,
             "hs: Invalid protocol");
    test_bad("{\"a\":\"hs\",\"protocolMinor\":[2]}",
             COLLAB_MSG_ERR_BADLY_FORMED, "hs: Invalid protocol");
}


static void
test_doc_actions(void)
{
    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"readme\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_S);
    COLLAB_CHECK_MEM(msg.c.data, msg.c.len, "docs", 4);
    COLLAB_CHECK_MEM(msg.d.data, msg.d.len, "readme", 6);
    COLLAB_CHECK(!msg.has_v);

    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"r\",\"v\":12}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.has_v && msg.v == 12);

    COLLAB_CHECK(test_dec("{\"a\":\"f\",\"c\":\"docs\",\"d\":\"r\","
                          "\"v\":null}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_F && !msg.has_v);

    COLLAB_CHECK(test_dec("{\"a\":\"u\",\"c\":\"docs\",\"d\":\"r\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_U);

    test_bad("{\"a\":\"s\",\"d\":\"r\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "s: Invalid collection");
    test_bad("{\"a\":\"f\",\"c\":\"docs\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "f: Invalid id");
    test_bad("{\"a\":\"u\",\"c\":\"docs\",\"d\":7}",
             COLLAB_MSG_ERR_BADLY_FORMED, "u: Invalid id");
    test_bad("{\"a\":\"s\",\"c\":[],\"d\":\"r\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "s: Invalid collection");
}


static void
test_numbers(void)
{
    char          buf[128];
    size_t        i;
    uint64_t      u;
    const char   *bad[] = { "-1", "1.5", "\"3\"", "true", "{}", "[1]",
                            "9007199254740992", "1e400", "-0.5",
                            "99999999999999999999", NULL };

    for (i = 0; bad[i]; i++) {
        snprintf(buf, sizeof(buf),
                 "{\"a\":\"s\",\"c\":\"docs\",\"d\":\"r\",\"v\":%s}", bad[i]);
        test_bad(buf, COLLAB_MSG_ERR_BADLY_FORMED,
                 "s: v must be a non-negative integer");
    }

    /* integral doubles are integers; the largest safe integer is fine */

    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"x\",\"d\":\"r\",\"v\":1e3}")
                 == COLLAB_MSG_OK && msg.v == 1000);
    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"x\",\"d\":\"r\",\"v\":4.0}")
                 == COLLAB_MSG_OK && msg.v == 4);
    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"x\",\"d\":\"r\",\"v\":-0}")
                 == COLLAB_MSG_OK && msg.v == 0);
    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"x\",\"d\":\"r\","
                          "\"v\":9007199254740991}") == COLLAB_MSG_OK
                 && msg.v == 9007199254740991ULL);

    COLLAB_CHECK(collab_msg_get_uint(NULL, &u) == -1);

    /* seq: same rules; on an op, >= MAX_SAFE_INTEGER is sharedb's overflow */

    test_bad("{\"a\":\"ps\",\"ch\":\"x\",\"seq\":\"1\"}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "ps: seq must be a non-negative integer");
    test_bad("{\"a\":\"pp\",\"seq\":-3}", COLLAB_MSG_ERR_BADLY_FORMED,
             "pp: seq must be a non-negative integer");
    test_bad("{\"a\":\"op\",\"c\":\"x\",\"d\":\"r\",\"v\":1,\"seq\":1.25,"
             "\"op\":[]}", COLLAB_MSG_ERR_BADLY_FORMED,
             "op: seq must be a non-negative integer");
    test_bad("{\"a\":\"op\",\"c\":\"x\",\"d\":\"r\",\"v\":1,"
             "\"seq\":9007199254740991,\"op\":[]}",
             COLLAB_MSG_ERR_SEQ_OVERFLOW,
             "op: Connection seq has exceeded the max safe integer");
    test_bad("{\"a\":\"op\",\"c\":\"x\",\"d\":\"r\",\"v\":1,\"seq\":1e300,"
             "\"op\":[]}", COLLAB_MSG_ERR_SEQ_OVERFLOW,
             "op: Connection seq has exceeded the max safe integer");
    test_bad("{\"a\":\"op\",\"c\":\"x\",\"d\":\"r\",\"v\":1,\"seq\":1e999,"
             "\"op\":[]}", COLLAB_MSG_ERR_SEQ_OVERFLOW,
             "op: Connection seq has exceeded the max safe integer");
    test_bad("{\"a\":\"op\",\"c\":\"x\",\"d\":\"r\",\"v\":1,\"seq\":-1e999,"
             "\"op\":[]}", COLLAB_MSG_ERR_BADLY_FORMED,
             "op: seq must be a non-negative integer");
}


static void
test_bulk(void)
{
    int               has;
    uint64_t          v;
    collab_msg_str_t  id;

    /* Connection._sendBulk: ids without versions as an array */

    COLLAB_CHECK(test_dec("{\"a\":\"bs\",\"c\":\"docs\","
                          "\"b\":[\"a\",\"b\",\"c\"]}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_BS && msg.nb == 3);
    COLLAB_CHECK(!msg.b_versions);
    collab_msg_bulk_item(&msg, 2, &id, &v, &has);
    COLLAB_CHECK_MEM(id.data, id.len, "c", 1);
    COLLAB_CHECK(!has);

    /* ... and with versions as an object */

    COLLAB_CHECK(test_dec("{\"a\":\"bf\",\"c\":\"docs\","
                          "\"b\":{\"a\":3,\"bb\":null,\"c\":0}}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_BF && msg.nb == 3);
    COLLAB_CHECK(msg.b_versions);
    collab_msg_bulk_item(&msg, 0, &id, &v, &has);
    COLLAB_CHECK(has && v == 3 && id.len == 1);
    collab_msg_bulk_item(&msg, 1, &id, &v, &has);
    COLLAB_CHECK(!has);
    COLLAB_CHECK_MEM(id.data, id.len, "bb", 2);
    collab_msg_bulk_item(&msg, 2, &id, &v, &has);
    COLLAB_CHECK(has && v == 0);

    COLLAB_CHECK(test_dec("{\"a\":\"bu\",\"c\":\"docs\",\"b\":[]}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_BU && msg.nb == 0);

    test_bad("{\"a\":\"bs\",\"c\":\"docs\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "bs: Invalid bulk subscribe data");
    test_bad("{\"a\":\"bs\",\"c\":\"docs\",\"b\":\"a\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "bs: Invalid bulk subscribe data");
    test_bad("{\"a\":\"bs\",\"c\":\"docs\",\"b\":null}",
             COLLAB_MSG_ERR_BADLY_FORMED, "bs: Invalid bulk subscribe data");
    test_bad("{\"a\":\"bs\",\"c\":\"docs\",\"b\":[\"a\",1]}",
             COLLAB_MSG_ERR_BADLY_FORMED, "bs: Invalid id");
    test_bad("{\"a\":\"bf\",\"c\":\"docs\",\"b\":{\"__proto__\":1}}",
             COLLAB_MSG_ERR_BADLY_FORMED, "bf: Invalid id");
    test_bad("{\"a\":\"bf\",\"c\":\"docs\",\"b\":{\"\":1}}",
             COLLAB_MSG_ERR_BADLY_FORMED, "bf: Invalid id");
    test_bad("{\"a\":\"bf\",\"c\":\"docs\",\"b\":{\"a\":-1}}",
             COLLAB_MSG_ERR_BADLY_FORMED, "bf: Invalid version");
    test_bad("{\"a\":\"bu\",\"b\":[\"a\"]}", COLLAB_MSG_ERR_BADLY_FORMED,
             "bu: Invalid collection");
}


static void
test_op(void)
{
    /* Connection.sendOp: c, d, v, src, seq, x, then op | create | del */

    COLLAB_CHECK(test_dec("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\","
                          "\"v\":4,\"src\":\"9c1f\",\"seq\":7,\"x\":{},"
                          "\"op\":[2,\"hi\",{\"d\":1}]}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_OP);
    COLLAB_CHECK(msg.kind == COLLAB_MSG_OP_EDIT);
    COLLAB_CHECK(msg.has_v && msg.v == 4 && msg.has_seq && msg.seq == 7);
    COLLAB_CHECK_MEM(msg.src.data, msg.src.len, "9c1f", 4);
    COLLAB_CHECK(YAJL_IS_ARRAY(msg.op) && msg.op->u.array.len == 3);
    COLLAB_CHECK(YAJL_IS_STRING(msg.op->u.array.values[1]));
    COLLAB_CHECK(collab_msg_strlen(msg.op->u.array.values[1]->u.string)
                 == 2);

    /* no src (first submit) and an empty one are the same */

    COLLAB_CHECK(test_dec("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\","
                          "\"v\":0,\"src\":\"\",\"seq\":1,"
                          "\"create\":{\"type\":\"text-unicode\","
                          "\"data\":\"hello\"}}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.kind == COLLAB_MSG_OP_CREATE);
    COLLAB_CHECK(msg.src.data == NULL);
    COLLAB_CHECK_MEM(msg.create_data.data, msg.create_data.len, "hello", 5);

    /* a locally created doc has version null */

    COLLAB_CHECK(test_dec("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\","
                          "\"v\":null,\"seq\":1,\"create\":{\"type\":"
                          "\"http://sharejs.org/types/text-unicode\"}}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.kind == COLLAB_MSG_OP_CREATE && !msg.has_v);
    COLLAB_CHECK(msg.create_data.len == 0 && msg.create_data.data);

    COLLAB_CHECK(test_dec("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\","
                          "\"v\":9,\"seq\":3,\"del\":true}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.kind == COLLAB_MSG_OP_DEL);

    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"create\":{\"type\":\"http://sharejs.org/types/JSONv0\"}}",
             COLLAB_MSG_ERR_TYPE_UNKNOWN,
             "op: Unknown type (only text-unicode is served)");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"create\":{\"type\":\"rich-text\",\"data\":\"\"}}",
             COLLAB_MSG_ERR_TYPE_UNKNOWN,
             "op: Unknown type (only text-unicode is served)");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"create\":{\"data\":\"x\"}}", COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: Missing create type");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"create\":\"text-unicode\"}", COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: Create data must be an object");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"create\":{\"type\":\"text-unicode\",\"data\":null}}",
             COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: Initial data must be a string");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"create\":{\"type\":\"text-unicode\",\"data\":[\"x\"]}}",
             COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: Initial data must be a string");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"del\":1}", COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: del value must be true");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"del\":false}", COLLAB_MSG_ERR_BADLY_FORMED,
             "op: Invalid op message");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1}",
             COLLAB_MSG_ERR_BADLY_FORMED, "op: Invalid op message");

    /* more than one of op, create and del: which one was meant? */

    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"op\":[1,\"x\"],\"del\":true}", COLLAB_MSG_ERR_BADLY_FORMED,
             "op: Only one of op, create and del may be given");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":0,\"seq\":1,"
             "\"create\":{\"type\":\"text-unicode\"},\"op\":[\"x\"]}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "op: Only one of op, create and del may be given");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":0,\"seq\":1,"
             "\"create\":{\"type\":\"text-unicode\"},\"del\":true}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "op: Only one of op, create and del may be given");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"op\":null,\"create\":{\"type\":\"text-unicode\"},"
             "\"del\":true}", COLLAB_MSG_ERR_BADLY_FORMED,
             "op: Only one of op, create and del may be given");

    /* absent by value (null, false) as in sharedb: the op alone counts */

    COLLAB_CHECK(test_dec("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\","
                          "\"v\":2,\"seq\":4,\"op\":[1,\"x\"],"
                          "\"create\":null,\"del\":false}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.kind == COLLAB_MSG_OP_EDIT);
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":1,"
             "\"op\":null}", COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: op must be an array");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,"
             "\"op\":[1]}", COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: Both src and seq must be set together");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":1,\"seq\":2,"
             "\"src\":42,\"op\":[1]}", COLLAB_MSG_ERR_OT_BADLY_FORMED,
             "op: src must be a string");
    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":-4,\"seq\":2,"
             "\"op\":[1]}", COLLAB_MSG_ERR_BADLY_FORMED,
             "op: v must be a non-negative integer");
    test_bad("{\"a\":\"op\",\"d\":\"r\",\"v\":4,\"seq\":2,\"op\":[1]}",
             COLLAB_MSG_ERR_BADLY_FORMED, "op: Invalid collection");
}


static void
test_nf_pp_query(void)
{
    /* SnapshotVersionRequest._message: {a, id, c, d, v} */

    COLLAB_CHECK(test_dec("{\"a\":\"nf\",\"id\":3,\"c\":\"docs\","
                          "\"d\":\"r\",\"v\":2}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_NF && msg.v == 2);
    COLLAB_CHECK(YAJL_IS_INTEGER(msg.field[COLLAB_MSG_F_ID]));

    COLLAB_CHECK(test_dec("{\"a\":\"nf\",\"id\":4,\"c\":\"docs\","
                          "\"d\":\"r\",\"v\":null}") == COLLAB_MSG_OK);
    COLLAB_CHECK(!msg.has_v);

    test_bad("{\"a\":\"nf\",\"c\":\"docs\",\"d\":\"r\",\"v\":2}",
             COLLAB_MSG_ERR_BADLY_FORMED, "nf: Invalid snapshot request id");
    test_bad("{\"a\":\"nf\",\"id\":1,\"d\":\"r\",\"v\":2}",
             COLLAB_MSG_ERR_BADLY_FORMED, "nf: Invalid collection");

    COLLAB_CHECK(test_dec("{\"a\":\"nt\",\"id\":5,\"c\":\"docs\","
                          "\"d\":\"r\",\"ts\":1700000000000}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_NT && msg.has_ts);
    test_bad("{\"a\":\"nt\",\"id\":5,\"c\":\"docs\",\"d\":\"r\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "nt: Invalid timestamp");

    COLLAB_CHECK(test_dec("{\"a\":\"pp\"}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_PP);

    /* auth: ours, a token string of 1 to 8192 bytes */
    COLLAB_CHECK(test_dec("{\"a\":\"auth\",\"token\":\"a.b.c\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_AUTH && msg.token.len == 5
                 && memcmp(msg.token.data, "a.b.c", 5) == 0);
    test_bad("{\"a\":\"auth\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "auth: token must be a string");
    test_bad("{\"a\":\"auth\",\"token\":7}", COLLAB_MSG_ERR_BADLY_FORMED,
             "auth: token must be a string");
    test_bad("{\"a\":\"auth\",\"token\":\"\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "auth: token must be 1 to 8192 bytes");
    test_bad("{\"a\":\"authx\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "Invalid or unknown message");

    COLLAB_CHECK(test_dec("{\"a\":\"qs\",\"id\":1,\"c\":\"docs\","
                          "\"q\":{}}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_QS && msg.query_id == 1);
    COLLAB_CHECK(test_dec("{\"a\":\"qu\",\"id\":9}") == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_QU);
    test_bad("{\"a\":\"qf\",\"c\":\"docs\",\"q\":{}}",
             COLLAB_MSG_ERR_BADLY_FORMED, "qf: Missing query ID");
}


static void
test_presence(void)
{
    /* LocalDocPresence: {a, ch, id, p, pv} plus c, d, v, t */

    COLLAB_CHECK(test_dec("{\"a\":\"p\",\"ch\":\"docs.r\",\"id\":\"p1\","
                          "\"p\":{\"index\":3,\"length\":0},\"pv\":0,"
                          "\"c\":\"docs\",\"d\":\"r\",\"v\":5,"
                          "\"t\":\"http://sharejs.org/types/text-unicode\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_P);
    COLLAB_CHECK_MEM(msg.ch.data, msg.ch.len, "docs.r", 6);
    COLLAB_CHECK_MEM(msg.id.data, msg.id.len, "p1", 2);
    COLLAB_CHECK(YAJL_IS_OBJECT(msg.p));
    COLLAB_CHECK(msg.has_pv && msg.pv == 0 && msg.has_v && msg.v == 5);
    COLLAB_CHECK(msg.t.len == sizeof(COLLAB_MSG_TYPE_TEXT_UNICODE) - 1);

    /* plain presence, cleared */

    COLLAB_CHECK(test_dec("{\"a\":\"p\",\"ch\":\"room\",\"id\":\"p1\","
                          "\"p\":null,\"pv\":4}") == COLLAB_MSG_OK);
    COLLAB_CHECK(YAJL_IS_NULL(msg.p) && msg.c.data == NULL);

    test_bad("{\"a\":\"p\",\"ch\":\"room\",\"p\":1,\"pv\":4}",
             COLLAB_MSG_ERR_BADLY_FORMED, "p: Invalid presence ID");
    test_bad("{\"a\":\"p\",\"ch\":\"room\",\"id\":\"x\",\"pv\":-1}",
             COLLAB_MSG_ERR_BADLY_FORMED, "p: Invalid presence version");
    test_bad("{\"a\":\"p\",\"ch\":\"room\",\"id\":\"x\",\"p\":1}",
             COLLAB_MSG_ERR_BADLY_FORMED, "p: Invalid presence version");
    test_bad("{\"a\":\"p\",\"id\":\"x\",\"pv\":1}",
             COLLAB_MSG_ERR_BADLY_FORMED, "p: Invalid presence channel");
    test_bad("{\"a\":\"p\",\"ch\":\"r\",\"id\":\"x\",\"pv\":1,\"v\":\"2\"}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "p: v must be a non-negative integer");
    test_bad("{\"a\":\"p\",\"ch\":\"r\",\"id\":\"x\",\"pv\":1,\"t\":3}",
             COLLAB_MSG_ERR_BADLY_FORMED, "p: Invalid presence type");

    /* Connection._sendPresenceAction: {a, ch, seq} */

    COLLAB_CHECK(test_dec("{\"a\":\"ps\",\"ch\":\"docs.r\",\"seq\":1}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_PS && msg.seq == 1);
    COLLAB_CHECK(test_dec("{\"a\":\"pu\",\"ch\":\"docs.r\",\"seq\":2}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_PU);
    COLLAB_CHECK(test_dec("{\"a\":\"pr\",\"ch\":\"docs.r\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_PR);
    test_bad("{\"a\":\"ps\",\"seq\":1}", COLLAB_MSG_ERR_BADLY_FORMED,
             "ps: Invalid presence channel");
    test_bad("{\"a\":\"pr\",\"ch\":5}", COLLAB_MSG_ERR_BADLY_FORMED,
             "pr: Invalid presence channel");
}


static void
test_unknown_and_json(void)
{
    size_t       i;
    const char  *notobj[] = { "", "{", "[1]", "\"s\"", "12", "null",
                              "{}x", "{}{}", "{\"a\":\"s\",}", "{'a':1}",
                              "{\"a\":\"s\"} // c", "{\"a\":\"\xff\"}",
                              NULL };

    test_bad("{\"a\":\"zz\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "Invalid or unknown message");
    test_bad("{\"a\":\"init\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "Invalid or unknown message");
    test_bad("{\"c\":\"docs\"}", COLLAB_MSG_ERR_BADLY_FORMED,
             "Invalid or unknown message");
    test_bad("{\"a\":5}", COLLAB_MSG_ERR_BADLY_FORMED,
             "Invalid or unknown message");
    COLLAB_CHECK(msg.root != NULL && !err.fatal);

    /* agent.js checks c on any action, known or not */
    test_bad("{\"a\":\"zz\",\"c\":1}", COLLAB_MSG_ERR_BADLY_FORMED,
             "message: Invalid collection");

    for (i = 0; notobj[i]; i++) {
        COLLAB_CHECK_MSG(test_dec(notobj[i]) == COLLAB_MSG_INVALID
                         && err.fatal && msg.root == NULL
                         && err.message[0] != '\0',
                         "accepted %s", notobj[i]);
    }

    /* a NUL byte ends nothing early: the length is what counts */
    COLLAB_CHECK(collab_msg_decode("{\"a\":\"pp\"}\0x", 12, &msg, &err)
                 == COLLAB_MSG_INVALID);

    /* the last duplicate key wins, as with JSON.parse() */
    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"x\",\"d\":\"y\",\"a\":\"f\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.action == COLLAB_MSG_A_F);
}


static void
test_names_and_strings(void)
{
    char  buf[1024];

    memset(buf, 0, sizeof(buf));
    strcpy(buf, "{\"a\":\"s\",\"d\":\"r\",\"c\":\"");
    memset(buf + strlen(buf), 'c', COLLAB_MSG_MAX_COLLECTION);
    strcat(buf, "\"}");
    COLLAB_CHECK(test_dec(buf) == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.c.len == COLLAB_MSG_MAX_COLLECTION);

    memset(buf, 0, sizeof(buf));
    strcpy(buf, "{\"a\":\"s\",\"d\":\"r\",\"c\":\"");
    memset(buf + strlen(buf), 'c', COLLAB_MSG_MAX_COLLECTION + 1);
    strcat(buf, "\"}");
    test_bad(buf, COLLAB_MSG_ERR_BADLY_FORMED, "s: Invalid collection");

    test_bad("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "s: Invalid id");
    test_bad("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"a\\u0001b\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "s: Invalid id");
    test_bad("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"a\\nb\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "s: Invalid id");
    test_bad("{\"a\":\"s\",\"c\":\"constructor\",\"d\":\"r\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "s: Invalid collection");
    test_bad("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"hasOwnProperty\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "s: Invalid id");

    /* escapes and raw UTF-8 decode to the same bytes */

    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"docs\",\"d\":"
                          "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK_MEM(msg.d.data, msg.d.len,
                     "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" /", 16);

    COLLAB_CHECK(test_dec("{\"a\":\"s\",\"c\":\"docs\",\"d\":"
                          "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK_MEM(msg.d.data, msg.d.len,
                     "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);

    /* U+0000 and lone surrogates are refused, wherever they are */

    test_bad("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"a\\u0000b\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "strings must not contain U+0000");
    test_bad("{\"a\":\"s\",\"c\":\"docs\",\"d\\u0000\":\"ab\"}",
             COLLAB_MSG_ERR_BADLY_FORMED, "strings must not contain U+0000");
    test_bad("{\"a\":\"op\",\"op\":[\"\\ud83d\"]}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "unpaired UTF-16 surrogate in a string");
    test_bad("{\"a\":\"op\",\"op\":[\"\\ude00x\"]}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "unpaired UTF-16 surrogate in a string");
    test_bad("{\"a\":\"op\",\"op\":[\"\\ud83d\\u0041\"]}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "unpaired UTF-16 surrogate in a string");
    COLLAB_CHECK(err.fatal);

    /* but the text "\u0000" (escaped backslash) is ordinary text */

    COLLAB_CHECK(test_dec("{\"a\":\"op\",\"c\":\"x\",\"d\":\"y\",\"v\":0,"
                          "\"seq\":1,\"op\":[\"\\\\u0000\\\\\"]}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK_MEM(msg.op->u.array.values[0]->u.string,
                     collab_msg_strlen(msg.op->u.array.values[0]->u.string),
                     "\\u0000\\", 7);
}


static void
test_limits(void)
{
    char    *big;
    size_t   i, n;

    /* nesting: 32 levels (the message object included) fit, 33 do not */

    big = malloc(1 << 20);
    COLLAB_CHECK(big != NULL);
    if (big == NULL) {
        return;
    }

    n = 0;
    n += sprintf(big, "{\"a\":\"p\",\"ch\":\"r\",\"id\":\"x\",\"pv\":1,"
                 "\"p\":");
    for (i = 0; i < COLLAB_MSG_MAX_DEPTH - 1; i++) {
        big[n++] = '[';
    }
    for (i = 0; i < COLLAB_MSG_MAX_DEPTH - 1; i++) {
        big[n++] = ']';
    }
    big[n++] = '}';
    big[n] = '\0';
    COLLAB_CHECK(test_dec(big) == COLLAB_MSG_OK);

    n = 0;
    for (i = 0; i < 100000; i++) {
        big[n++] = '[';
    }
    big[n] = '\0';
    test_bad(big, COLLAB_MSG_ERR_BADLY_FORMED, "JSON nested too deeply");

    /* values */

    n = sprintf(big, "{\"a\":\"op\",\"op\":[");
    for (i = 0; i < COLLAB_MSG_MAX_VALUES; i++) {
        n += sprintf(big + n, "1,");
    }
    n += sprintf(big + n, "1]}");
    test_bad(big, COLLAB_MSG_ERR_BADLY_FORMED, "too many JSON values");

    /* a big string gets its own chunk and keeps its exact length */

    n = sprintf(big, "{\"a\":\"op\",\"c\":\"x\",\"d\":\"y\",\"v\":0,"
                "\"seq\":1,\"create\":{\"type\":\"text-unicode\","
                "\"data\":\"");
    for (i = 0; i < 300000; i++) {
        big[n++] = 'a' + i % 26;
    }
    n += sprintf(big + n, "\"}}");
    COLLAB_CHECK(test_dec(big) == COLLAB_MSG_OK);
    COLLAB_CHECK(msg.create_data.len == 300000);
    COLLAB_CHECK(msg.create_data.data[299999] == 'a' + 299999 % 26);
    COLLAB_CHECK(msg.create_data.data[300000] == '\0');

    /* too many bulk ids */

    n = sprintf(big, "{\"a\":\"bs\",\"c\":\"x\",\"b\":[");
    for (i = 0; i <= COLLAB_MSG_MAX_BULK; i++) {
        n += sprintf(big + n, "%s\"d%zu\"", i ? "," : "", i);
    }
    n += sprintf(big + n, "]}");
    test_bad(big, COLLAB_MSG_ERR_BADLY_FORMED,
             "bs: too many ids in one bulk request");

    free(big);
}


static int
test_emit_op(yajl_gen g, void *ctx)
{
    (void) ctx;

    return yajl_gen_array_open(g) | yajl_gen_integer(g, 2)
           | collab_msg_emit_str(g, "h\xc3\xa9", 3)
           | collab_msg_emit_raw(g, "{\"d\":1}", 7)
           | yajl_gen_array_close(g);
}


static int
test_emit_fail(yajl_gen g, void *ctx)
{
    (void) ctx;

    (void) yajl_gen_array_open(g);

    return 1;
}


static void
test_encoders(void)
{
    char                   *text;
    size_t                  i;
    collab_msg_str_t        id = TEST_STR("8f3a9c");
    collab_msg_str_t        c = TEST_STR("docs");
    collab_msg_str_t        d = TEST_STR("read\"me");
    collab_msg_str_t        data = TEST_STR("line1\nline2 \xf0\x9f\x98\x80");
    collab_msg_op_head_t    h;
    collab_msg_snapshot_t   snap, none;

    COLLAB_CHECK(collab_msg_enc_hs(&enc, &id) == COLLAB_MSG_OK);
    test_out("{\"a\":\"hs\",\"protocol\":1,\"protocolMinor\":2,"
             "\"id\":\"8f3a9c\",\"type\":\"http://sharejs.org/types/JSONv0\"}");

    COLLAB_CHECK(collab_msg_enc_pp(&enc) == COLLAB_MSG_OK);
    test_out("{\"a\":\"pp\"}");

    COLLAB_CHECK(collab_msg_enc_auth(&enc, 1800000000, NULL, NULL)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"auth\",\"exp\":1800000000}");
    COLLAB_CHECK(collab_msg_enc_auth(&enc, 0, "ERR_TOKEN_INVALID", "expired")
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"auth\",\"error\":{\"code\":\"ERR_TOKEN_INVALID\","
             "\"message\":\"expired\"}}");

    snap.v = 3;
    snap.data = "hi \"q\"\n\t\\ \xc3\xa9";
    snap.len = strlen(snap.data);
    snap.exists = 1;

    none.v = 0;
    none.data = NULL;
    none.len = 0;
    none.exists = 0;

    COLLAB_CHECK(collab_msg_enc_snapshot(&enc, COLLAB_MSG_A_S, &c, &d, &snap)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"s\",\"c\":\"docs\",\"d\":\"read\\\"me\",\"data\":"
             "{\"v\":3,\"data\":\"hi \\\"q\\\"\\n\\t\\\\ \xc3\xa9\","
             "\"type\":\"http://sharejs.org/types/text-unicode\"}}");

    COLLAB_CHECK(collab_msg_enc_snapshot(&enc, COLLAB_MSG_A_F, &c, &d, &none)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"f\",\"c\":\"docs\",\"d\":\"read\\\"me\",\"data\":"
             "{\"v\":0,\"type\":null}}");

    COLLAB_CHECK(collab_msg_enc_doc_reply(&enc, COLLAB_MSG_A_U, &c, &d)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"u\",\"c\":\"docs\",\"d\":\"read\\\"me\"}");

    /* bulk, snapshot form */

    COLLAB_CHECK(collab_msg_enc_bulk_begin(&enc, COLLAB_MSG_A_BS, &c)
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_bulk_snapshot(&enc, &id, &snap)
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_bulk_snapshot(&enc, &c, &none)
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_bulk_error(&enc, &d,
                                           COLLAB_MSG_ERR_SUBMIT_REJECTED,
                                           "no access") == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_bulk_end(&enc) == COLLAB_MSG_OK);
    test_out("{\"a\":\"bs\",\"c\":\"docs\",\"data\":{"
             "\"8f3a9c\":{\"v\":3,\"data\":\"hi \\\"q\\\"\\n\\t\\\\ \xc3\xa9\","
             "\"type\":\"http://sharejs.org/types/text-unicode\"},"
             "\"docs\":{\"v\":0,\"type\":null},"
             "\"read\\\"me\":{\"error\":{\"code\":\"ERR_OP_SUBMIT_REJECTED\","
             "\"message\":\"no access\"}}}}");

    COLLAB_CHECK(collab_msg_enc_bulk_begin(&enc, COLLAB_MSG_A_BF, &c)
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_bulk_end(&enc) == COLLAB_MSG_OK);
    test_out("{\"a\":\"bf\",\"c\":\"docs\",\"data\":{}}");

    /* bulk, versions form and bu: the request's b echoed */

    COLLAB_CHECK(test_dec("{\"a\":\"bs\",\"c\":\"docs\","
                          "\"b\":{\"a\":3,\"b\":null,\"c\":1.0}}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_bulk_reply(&enc, msg.action, &msg.c, msg.b)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"bs\",\"c\":\"docs\",\"b\":{\"a\":3,\"b\":null,"
             "\"c\":1.0}}");

    COLLAB_CHECK(test_dec("{\"a\":\"bu\",\"c\":\"docs\",\"b\":[\"x\",\"y\"]}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_bulk_reply(&enc, msg.action, &msg.c, msg.b)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"bu\",\"c\":\"docs\",\"b\":[\"x\",\"y\"]}");

    /* ops */

    h.c = c;
    h.d = d;
    h.src.data = "9c1f";
    h.src.len = 4;
    h.v = 41;
    h.seq = 7;

    COLLAB_CHECK(collab_msg_enc_op(&enc, &h, test_emit_op, NULL)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"read\\\"me\",\"v\":41,"
             "\"src\":\"9c1f\",\"seq\":7,\"op\":[2,\"h\xc3\xa9\",{\"d\":1}]}");

    COLLAB_CHECK(collab_msg_enc_op_ack(&enc, &h) == COLLAB_MSG_OK);
    test_out("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"read\\\"me\",\"v\":41,"
             "\"src\":\"9c1f\",\"seq\":7}");

    COLLAB_CHECK(collab_msg_enc_op_del(&enc, &h) == COLLAB_MSG_OK);
    test_out("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"read\\\"me\",\"v\":41,"
             "\"src\":\"9c1f\",\"seq\":7,\"del\":true}");

    h.v = 0;
    h.src.data = NULL;
    COLLAB_CHECK(collab_msg_enc_op_create(&enc, &h, &data) == COLLAB_MSG_OK);
    test_out("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"read\\\"me\",\"v\":0,"
             "\"seq\":7,\"create\":{\"type\":"
             "\"http://sharejs.org/types/text-unicode\","
             "\"data\":\"line1\\nline2 \xf0\x9f\x98\x80\"}}");

    /* an emit callback that fails fails the message */

    COLLAB_CHECK(collab_msg_enc_op(&enc, &h, test_emit_fail, NULL)
                 == COLLAB_MSG_ENC_ERROR);

    /* nf: the request id echoed */

    COLLAB_CHECK(test_dec("{\"a\":\"nf\",\"id\":12,\"c\":\"docs\","
                          "\"d\":\"r\",\"v\":3}") == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_nf(&enc, msg.field[COLLAB_MSG_F_ID], &snap)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"nf\",\"id\":12,\"v\":3,"
             "\"data\":\"hi \\\"q\\\"\\n\\t\\\\ \xc3\xa9\","
             "\"type\":\"http://sharejs.org/types/text-unicode\"}");
    COLLAB_CHECK(collab_msg_enc_nf(&enc, msg.field[COLLAB_MSG_F_ID], &none)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"nf\",\"id\":12,\"v\":0,\"type\":null}");

    /* a snapshot bigger than the kept buffer, then a small message */

    text = malloc(200000);
    COLLAB_CHECK(text != NULL);
    if (text == NULL) {
        return;
    }

    for (i = 0; i < 200000; i++) {
        text[i] = 'a' + i % 26;
    }

    snap.data = text;
    snap.len = 200000;
    COLLAB_CHECK(collab_msg_enc_snapshot(&enc, COLLAB_MSG_A_S, &c, &c, &snap)
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(enc.len == 200000 + sizeof("{\"a\":\"s\",\"c\":\"docs\","
                 "\"d\":\"docs\",\"data\":{\"v\":3,\"data\":\"\","
                 "\"type\":\"http://sharejs.org/types/text-unicode\"}}") - 1);
    COLLAB_CHECK(enc.cap > COLLAB_MSG_ENC_KEEP);
    COLLAB_CHECK(collab_msg_enc_pp(&enc) == COLLAB_MSG_OK);
    test_out("{\"a\":\"pp\"}");
    COLLAB_CHECK(enc.cap <= COLLAB_MSG_ENC_KEEP);

    free(text);
}


static void
test_enc_presence_error(void)
{
    collab_msg_str_t  src = TEST_STR("9c1f");
    collab_msg_str_t  ch = TEST_STR("docs.r");
    collab_msg_str_t  who = TEST_STR("Alice");

    COLLAB_CHECK(test_dec("{\"a\":\"p\",\"ch\":\"docs.r\",\"id\":\"p1\","
                          "\"p\":{\"index\":3,\"length\":0},\"pv\":2,"
                          "\"c\":\"docs\",\"d\":\"r\",\"v\":null,"
                          "\"t\":\"http://sharejs.org/types/text-unicode\","
                          "\"extra\":1}") == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_presence(&enc, &msg, &src, NULL)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"p\",\"ch\":\"docs.r\",\"src\":\"9c1f\",\"id\":\"p1\","
             "\"p\":{\"index\":3,\"length\":0},\"pv\":2,\"c\":\"docs\","
             "\"d\":\"r\",\"v\":null,"
             "\"t\":\"http://sharejs.org/types/text-unicode\"}");

    /* signed in: the token's name replaces (or joins) the client's */
    COLLAB_CHECK(test_dec("{\"a\":\"p\",\"ch\":\"docs.r\",\"id\":\"p1\","
                          "\"p\":{\"name\":\"Mallory\",\"sel\":[1,2]},"
                          "\"pv\":5}") == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_presence(&enc, &msg, &src, &who)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"p\",\"ch\":\"docs.r\",\"src\":\"9c1f\",\"id\":\"p1\","
             "\"p\":{\"sel\":[1,2],\"name\":\"Alice\"},\"pv\":5}");
    COLLAB_CHECK(test_dec("{\"a\":\"p\",\"ch\":\"docs.r\",\"id\":\"p1\","
                          "\"p\":{\"sel\":[0,0]},\"pv\":6}")
                 == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_presence(&enc, &msg, &src, &who)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"p\",\"ch\":\"docs.r\",\"src\":\"9c1f\",\"id\":\"p1\","
             "\"p\":{\"sel\":[0,0],\"name\":\"Alice\"},\"pv\":6}");
    /* clearing stays null */
    COLLAB_CHECK(test_dec("{\"a\":\"p\",\"ch\":\"docs.r\",\"id\":\"p1\","
                          "\"p\":null,\"pv\":7}") == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_presence(&enc, &msg, &src, &who)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"p\",\"ch\":\"docs.r\",\"src\":\"9c1f\",\"id\":\"p1\","
             "\"p\":null,\"pv\":7}");

    COLLAB_CHECK(test_dec("{\"a\":\"p\",\"ch\":\"room\",\"id\":\"p1\","
                          "\"pv\":3}") == COLLAB_MSG_OK);
    COLLAB_CHECK(collab_msg_enc_presence(&enc, &msg, &src, NULL)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"p\",\"ch\":\"room\",\"src\":\"9c1f\",\"id\":\"p1\","
             "\"pv\":3}");

    COLLAB_CHECK(collab_msg_enc_presence_sub(&enc, COLLAB_MSG_A_PS, &ch, 4, 1)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"ps\",\"ch\":\"docs.r\",\"seq\":4}");
    COLLAB_CHECK(collab_msg_enc_presence_sub(&enc, COLLAB_MSG_A_PU, &ch, 0, 0)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"pu\",\"ch\":\"docs.r\"}");
    COLLAB_CHECK(collab_msg_enc_presence_request(&enc, &ch)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"pr\",\"ch\":\"docs.r\"}");

    /* error replies echo the request as written, minus its own "error" */

    test_bad("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"caf\\u00e9\",\"v\":1.50,"
             "\"seq\":2,\"op\":[1,\"\\u00e9\\n\",{\"d\":1e2}],"
             "\"error\":\"old\",\"x\":{\"source\":true,\"n\":null}}",
             COLLAB_MSG_ERR_BADLY_FORMED,
             "op: v must be a non-negative integer");
    COLLAB_CHECK(collab_msg_enc_error(&enc, &msg, err.code, err.message)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"op\",\"c\":\"docs\",\"d\":\"caf\xc3\xa9\",\"v\":1.50,"
             "\"seq\":2,\"op\":[1,\"\xc3\xa9\\n\",{\"d\":1e2}],"
             "\"x\":{\"source\":true,\"n\":null},"
             "\"error\":{\"code\":\"ERR_MESSAGE_BADLY_FORMED\","
             "\"message\":\"op: v must be a non-negative integer\"}}");

    test_bad("{\"a\":\"zz\",\"id\":7,\"q\":[false]}",
             COLLAB_MSG_ERR_BADLY_FORMED, "Invalid or unknown message");
    COLLAB_CHECK(collab_msg_enc_error(&enc, &msg, err.code, err.message)
                 == COLLAB_MSG_OK);
    test_out("{\"a\":\"zz\",\"id\":7,\"q\":[false],\"error\":{\"code\":"
             "\"ERR_MESSAGE_BADLY_FORMED\","
             "\"message\":\"Invalid or unknown message\"}}");

    /* nothing to echo */

    COLLAB_CHECK(test_dec("[1,2]") == COLLAB_MSG_INVALID && err.fatal);
    COLLAB_CHECK(collab_msg_enc_error(&enc, &msg, err.code, err.message)
                 == COLLAB_MSG_OK);
    test_out("{\"error\":{\"code\":\"ERR_MESSAGE_BADLY_FORMED\","
             "\"message\":\"Received non-object message\"}}");

    COLLAB_CHECK(collab_msg_enc_error(&enc, NULL, COLLAB_MSG_ERR_UNKNOWN,
                                      "x") == COLLAB_MSG_OK);
    test_out("{\"error\":{\"code\":\"ERR_UNKNOWN_ERROR\",\"message\":\"x\"}}");

    /* a decode error message names yajl's reason */

    COLLAB_CHECK(test_dec("{\"a\":") == COLLAB_MSG_INVALID);
    COLLAB_CHECK(strncmp(err.message, "invalid JSON (", 14) == 0);
}


static void
test_reuse(void)
{
    int          i;
    const char  *m[] = {
        "{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\",\"v\":4,\"src\":\"9c1f\","
        "\"seq\":7,\"x\":{},\"op\":[2,\"hi\",{\"d\":1}]}",
        "{\"a\":\"p\",\"ch\":\"docs.r\",\"id\":\"p1\","
        "\"p\":{\"index\":3,\"length\":0},\"pv\":0}",
        "{\"a\":\"bs\",\"c\":\"docs\",\"b\":{\"a\":3,\"bb\":null}}",
        "{\"a\":\"nope\"}",
        "{\"a\":"
    };

    /* the arena and the encoder buffer are reused; ASan checks for leaks */

    for (i = 0; i < 5000; i++) {
        (void) test_dec(m[i % 5]);

        if (msg.root) {
            (void) collab_msg_enc_error(&enc, &msg, err.code, "again");
        }
    }

    COLLAB_CHECK(test_dec(m[0]) == COLLAB_MSG_OK && msg.seq == 7);
    COLLAB_CHECK(msg.tree.extra == NULL);
}

/*
 * ShareDB client message decoding and validation (see collab_msg.h).
 *
 * The checks follow sharedb 7 lib/agent.js (_checkRequest, createClientOp)
 * and lib/ot.js (checkOp).  Stricter than sharedb, on purpose: names are
 * 1..limit bytes without control characters; v, seq, pv are integers
 * below 2^53 (sharedb takes any number); s/f/u/op need c and d; op needs
 * seq; p needs ch, id and pv; ps/pu/pr need ch.
 */


#include <stdio.h>
#include <string.h>

#include "protocol/collab_msg.h"


typedef struct {
    const char           *name;
    collab_msg_action_e   action;
} collab_msg_action_t;


static collab_msg_field_e collab_msg_field_index(const char *key, size_t len);
static collab_msg_action_e collab_msg_action(yajl_val a);
static int collab_msg_fail(collab_msg_t *msg, collab_msg_err_t *err,
    const char *code, const char *detail);
static int collab_msg_name(yajl_val v, size_t max, collab_msg_str_t *out);
static int collab_msg_name_str(const char *s, size_t len, size_t max);
static int collab_msg_dangerous(const char *s, size_t len);
static int collab_msg_version(yajl_val v, uint64_t *out, unsigned *has);
static int collab_msg_check_common(collab_msg_t *msg, collab_msg_err_t *err);
static int collab_msg_check_doc(collab_msg_t *msg, collab_msg_err_t *err);
static int collab_msg_check_op(collab_msg_t *msg, collab_msg_err_t *err);
static int collab_msg_check_bulk(collab_msg_t *msg, collab_msg_err_t *err);
static int collab_msg_check_hs(collab_msg_t *msg, collab_msg_err_t *err);
static int collab_msg_check_presence(collab_msg_t *msg,
    collab_msg_err_t *err);
static int collab_msg_check_query(collab_msg_t *msg, collab_msg_err_t *err);
static int collab_msg_check_auth(collab_msg_t *msg, collab_msg_err_t *err);


static const collab_msg_action_t  collab_msg_actions[] = {
    { "?",  COLLAB_MSG_A_UNKNOWN },
    { "hs", COLLAB_MSG_A_HS },
    { "s",  COLLAB_MSG_A_S },
    { "f",  COLLAB_MSG_A_F },
    { "u",  COLLAB_MSG_A_U },
    { "bs", COLLAB_MSG_A_BS },
    { "bf", COLLAB_MSG_A_BF },
    { "bu", COLLAB_MSG_A_BU },
    { "op", COLLAB_MSG_A_OP },
    { "nf", COLLAB_MSG_A_NF },
    { "nt", COLLAB_MSG_A_NT },
    { "pp", COLLAB_MSG_A_PP },
    { "p",  COLLAB_MSG_A_P },
    { "ps", COLLAB_MSG_A_PS },
    { "pu", COLLAB_MSG_A_PU },
    { "pr", COLLAB_MSG_A_PR },
    { "qf", COLLAB_MSG_A_QF },
    { "qs", COLLAB_MSG_A_QS },
    { "qu", COLLAB_MSG_A_QU },
    { "auth", COLLAB_MSG_A_AUTH }
};


/* Object.prototype's own property names: sharedb refuses them as names */
static const char  *collab_msg_dangerous_names[] = {
    "constructor", "__defineGetter__", "__defineSetter__", "hasOwnProperty",
    "__lookupGetter__", "__lookupSetter__", "isPrototypeOf",
    "propertyIsEnumerable", "toString", "valueOf", "__proto__",
    "toLocaleString", NULL
};


void
collab_msg_init(collab_msg_t *msg)
{
    memset(msg, 0, sizeof(collab_msg_t));
}


void
collab_msg_free(collab_msg_t *msg)
{
    collab_msg_tree_free(&msg->tree);
    collab_msg_init(msg);
}


int
collab_msg_decode(const char *json, size_t len, collab_msg_t *msg,
    collab_msg_err_t *err)
{
    int                 rc;
    size_t              i, klen;
    yajl_val            root;
    const char         *key;
    collab_msg_tree_t   tree;
    collab_msg_field_e  f;

    /* keep the arena, clear the rest */
    tree = msg->tree;
    memset(msg, 0, sizeof(collab_msg_t));
    msg->tree = tree;

    err->code = COLLAB_MSG_ERR_BADLY_FORMED;
    err->message[0] = '\0';
    err->fatal = 0;

    rc = collab_msg_tree_parse(&msg->tree, json, len, &root, err->message,
                               sizeof(err->message));

    if (rc == COLLAB_MSG_TREE_NOMEM) {
        return COLLAB_MSG_NOMEM;
    }

    if (rc != COLLAB_MSG_TREE_OK) {
        err->fatal = 1;
        return COLLAB_MSG_INVALID;
    }

    if (!YAJL_IS_OBJECT(root)) {
        err->fatal = 1;
        snprintf(err->message, sizeof(err->message),
                 "Received non-object message");
        return COLLAB_MSG_INVALID;
    }

    msg->root = root;

    /* the last occurrence of a key wins, as with JSON.parse() */

    for (i = 0; i < root->u.object.len; i++) {
        key = root->u.object.keys[i];
        klen = collab_msg_strlen(key);

        f = collab_msg_field_index(key, klen);

        if (f != COLLAB_MSG_F_COUNT) {
            msg->field[f] = root->u.object.values[i];
        }
    }

    msg->action = collab_msg_action(msg->field[COLLAB_MSG_F_A]);

    if (collab_msg_check_common(msg, err) != COLLAB_MSG_OK) {
        return COLLAB_MSG_INVALID;
    }

    switch (msg->action) {

    case COLLAB_MSG_A_HS:
        return collab_msg_check_hs(msg, err);

    case COLLAB_MSG_A_S:
    case COLLAB_MSG_A_F:
    case COLLAB_MSG_A_U:
    case COLLAB_MSG_A_NF:
    case COLLAB_MSG_A_NT:
        return collab_msg_check_doc(msg, err);

    case COLLAB_MSG_A_OP:
        return collab_msg_check_op(msg, err);

    case COLLAB_MSG_A_BS:
    case COLLAB_MSG_A_BF:
    case COLLAB_MSG_A_BU:
        return collab_msg_check_bulk(msg, err);

    case COLLAB_MSG_A_P:
    case COLLAB_MSG_A_PS:
    case COLLAB_MSG_A_PU:
    case COLLAB_MSG_A_PR:
        return collab_msg_check_presence(msg, err);

    case COLLAB_MSG_A_QF:
    case COLLAB_MSG_A_QS:
    case COLLAB_MSG_A_QU:
        return collab_msg_check_query(msg, err);

    case COLLAB_MSG_A_PP:
        return COLLAB_MSG_OK;

    case COLLAB_MSG_A_AUTH:
        return collab_msg_check_auth(msg, err);

    default:
        snprintf(err->message, sizeof(err->message),
                 "Invalid or unknown message");
        return COLLAB_MSG_INVALID;
    }
}


void
collab_msg_bulk_item(const collab_msg_t *msg, size_t i, collab_msg_str_t *id,
    uint64_t *v, int *has_v)
{
    unsigned  has;
    yajl_val  b;

    b = msg->b;
    *v = 0;
    *has_v = 0;

    if (YAJL_IS_ARRAY(b)) {
        id->data = b->u.array.values[i]->u.string;
        id->len = collab_msg_strlen(id->data);
        return;
    }

    id->data = b->u.object.keys[i];
    id->len = collab_msg_strlen(id->data);

    has = 0;
    (void) collab_msg_version(b->u.object.values[i], v, &has);
    *has_v = has;
}


const char *
collab_msg_action_name(collab_msg_action_e action)
{
    if ((size_t) action
        >= sizeof(collab_msg_actions) / sizeof(collab_msg_actions[0]))
    {
        return "?";
    }

    return collab_msg_actions[action].name;
}


int
collab_msg_get_uint(yajl_val v, uint64_t *out)
{
    double  d;

    if (!YAJL_IS_NUMBER(v)) {
        return -1;
    }

    if (v->u.number.flags & YAJL_NUMBER_INT_VALID) {
        if (v->u.number.i < 0
            || (uint64_t) v->u.number.i > COLLAB_MSG_MAX_SAFE_INTEGER)
        {
            return -1;
        }

        *out = (uint64_t) v->u.number.i;
        return 0;
    }

    if (v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID) {
        d = v->u.number.d;

        if (!(d >= 0 && d <= (double) COLLAB_MSG_MAX_SAFE_INTEGER)
            || (double) (uint64_t) d != d)
        {
            return -1;
        }

        *out = (uint64_t) d;
        return 0;
    }

    return -1;
}


static collab_msg_field_e
collab_msg_field_index(const char *key, size_t len)
{
    switch (len) {

    case 1:
        switch (key[0]) {
        case 'a': return COLLAB_MSG_F_A;
        case 'c': return COLLAB_MSG_F_C;
        case 'd': return COLLAB_MSG_F_D;
        case 'v': return COLLAB_MSG_F_V;
        case 'b': return COLLAB_MSG_F_B;
        case 'p': return COLLAB_MSG_F_P;
        case 't': return COLLAB_MSG_F_T;
        }
        break;

    case 2:
        if (memcmp(key, "op", 2) == 0) {
            return COLLAB_MSG_F_OP;
        }
        if (memcmp(key, "id", 2) == 0) {
            return COLLAB_MSG_F_ID;
        }
        if (memcmp(key, "ch", 2) == 0) {
            return COLLAB_MSG_F_CH;
        }
        if (memcmp(key, "pv", 2) == 0) {
            return COLLAB_MSG_F_PV;
        }
        if (memcmp(key, "ts", 2) == 0) {
            return COLLAB_MSG_F_TS;
        }
        break;

    case 3:
        if (memcmp(key, "src", 3) == 0) {
            return COLLAB_MSG_F_SRC;
        }
        if (memcmp(key, "seq", 3) == 0) {
            return COLLAB_MSG_F_SEQ;
        }
        if (memcmp(key, "del", 3) == 0) {
            return COLLAB_MSG_F_DEL;
        }
        break;

    case 5:
        if (memcmp(key, "token", 5) == 0) {
            return COLLAB_MSG_F_TOKEN;
        }
        break;

    case 6:
        if (memcmp(key, "create", 6) == 0) {
            return COLLAB_MSG_F_CREATE;
        }
        break;

    case 8:
        if (memcmp(key, "protocol", 8) == 0) {
            return COLLAB_MSG_F_PROTOCOL;
        }
        break;

    case 13:
        if (memcmp(key, "protocolMinor", 13) == 0) {
            return COLLAB_MSG_F_PROTOCOL_MINOR;
        }
        break;
    }

    return COLLAB_MSG_F_COUNT;
}


static collab_msg_action_e
collab_msg_action(yajl_val a)
{
    size_t  i, len;

    if (!YAJL_IS_STRING(a)) {
        return COLLAB_MSG_A_UNKNOWN;
    }

    len = collab_msg_strlen(a->u.string);

    if (len == 0 || len > 4) {
        return COLLAB_MSG_A_UNKNOWN;
    }

    for (i = 1;
         i < sizeof(collab_msg_actions) / sizeof(collab_msg_actions[0]);
         i++)
    {
        if (strcmp(a->u.string, collab_msg_actions[i].name) == 0) {
            return collab_msg_actions[i].action;
        }
    }

    return COLLAB_MSG_A_UNKNOWN;
}


static int
collab_msg_fail(collab_msg_t *msg, collab_msg_err_t *err, const char *code,
    const char *detail)
{
    err->code = code;

    snprintf(err->message, sizeof(err->message), "%s: %s",
             msg->action == COLLAB_MSG_A_UNKNOWN
             ? "message" : collab_msg_action_name(msg->action),
             detail);

    return COLLAB_MSG_INVALID;
}


/* 0: a valid name; -1 otherwise */

static int
collab_msg_name(yajl_val v, size_t max, collab_msg_str_t *out)
{
    size_t  len;

    if (!YAJL_IS_STRING(v)) {
        return -1;
    }

    len = collab_msg_strlen(v->u.string);

    if (collab_msg_name_str(v->u.string, len, max) != 0) {
        return -1;
    }

    out->data = v->u.string;
    out->len = len;

    return 0;
}


static int
collab_msg_name_str(const char *s, size_t len, size_t max)
{
    size_t  i;

    if (len == 0 || len > max) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return -1;
        }
    }

    return collab_msg_dangerous(s, len) ? -1 : 0;
}


static int
collab_msg_dangerous(const char *s, size_t len)
{
    const char  **n;

    if (len < 7 || len > 20) {
        return 0;
    }

    for (n = collab_msg_dangerous_names; *n; n++) {
        if (strcmp(s, *n) == 0) {
            return 1;
        }
    }

    return 0;
}


/* absent or null: ok, *has = 0; a valid version: ok, *has = 1 */

static int
collab_msg_version(yajl_val v, uint64_t *out, unsigned *has)
{
    *has = 0;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (collab_msg_get_uint(v, out) != 0) {
        return -1;
    }

    *has = 1;

    return 0;
}


/* agent.js checks c, ch and seq on every message, whatever its action */

static int
collab_msg_check_common(collab_msg_t *msg, collab_msg_err_t *err)
{
    double    d;
    yajl_val  v;

    v = msg->field[COLLAB_MSG_F_C];

    if (v && !YAJL_IS_NULL(v)
        && collab_msg_name(v, COLLAB_MSG_MAX_COLLECTION, &msg->c) != 0)
    {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid collection");
    }

    v = msg->field[COLLAB_MSG_F_CH];

    if (v && !YAJL_IS_NULL(v)
        && collab_msg_name(v, COLLAB_MSG_MAX_CHANNEL, &msg->ch) != 0)
    {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid presence channel");
    }

    v = msg->field[COLLAB_MSG_F_SEQ];

    if (v == NULL || YAJL_IS_NULL(v)) {
        return COLLAB_MSG_OK;
    }

    if (collab_msg_get_uint(v, &msg->seq) == 0) {
        msg->has_seq = 1;

        if (msg->seq >= COLLAB_MSG_MAX_SAFE_INTEGER
            && msg->action == COLLAB_MSG_A_OP)
        {
            goto overflow;
        }

        return COLLAB_MSG_OK;
    }

    /* a huge but otherwise fine seq is sharedb's overflow error */

    if (YAJL_IS_NUMBER(v) && msg->action == COLLAB_MSG_A_OP
        && (v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID))
    {
        d = v->u.number.d;

        if (d >= (double) COLLAB_MSG_MAX_SAFE_INTEGER) {
            goto overflow;
        }
    }

    if (YAJL_IS_NUMBER(v) && msg->action == COLLAB_MSG_A_OP
        && v->u.number.flags == 0 && v->u.number.r[0] != '-')
    {
        /* beyond double range */
        goto overflow;
    }

    return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                           "seq must be a non-negative integer");

overflow:

    return collab_msg_fail(msg, err, COLLAB_MSG_ERR_SEQ_OVERFLOW,
                           "Connection seq has exceeded the max safe integer");
}


/* s, f, u, nf, nt (and the doc part of op and p) */

static int
collab_msg_check_doc(collab_msg_t *msg, collab_msg_err_t *err)
{
    unsigned  has;
    yajl_val  v;

    v = msg->field[COLLAB_MSG_F_D];

    if (v && !YAJL_IS_NULL(v)
        && collab_msg_name(v, COLLAB_MSG_MAX_DOC_ID, &msg->d) != 0)
    {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid id");
    }

    if (collab_msg_version(msg->field[COLLAB_MSG_F_V], &msg->v, &has) != 0) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "v must be a non-negative integer");
    }

    msg->has_v = has;

    if (collab_msg_version(msg->field[COLLAB_MSG_F_TS], &msg->ts, &has)
        != 0)
    {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid timestamp");
    }

    msg->has_ts = has;

    if (msg->action == COLLAB_MSG_A_P) {
        return COLLAB_MSG_OK;
    }

    if (msg->c.data == NULL) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid collection");
    }

    if (msg->d.data == NULL) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid id");
    }

    if (msg->action == COLLAB_MSG_A_NF) {
        v = msg->field[COLLAB_MSG_F_ID];

        if (!YAJL_IS_NUMBER(v) && !YAJL_IS_STRING(v)) {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                                   "Invalid snapshot request id");
        }
    }

    if (msg->action == COLLAB_MSG_A_NT && !msg->has_ts) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid timestamp");
    }

    return COLLAB_MSG_OK;
}


static int
collab_msg_check_op(collab_msg_t *msg, collab_msg_err_t *err)
{
    size_t            len;
    yajl_val          v, create, type, data;
    const char       *name;
    collab_msg_str_t  src;

    if (collab_msg_check_doc(msg, err) != COLLAB_MSG_OK) {
        return COLLAB_MSG_INVALID;
    }

    /*
     * createClientOp() takes 'op' in request, then create, then del; a
     * message with more than one would be committed as something else
     * than its sender may mean: refuse it.
     */

    create = msg->field[COLLAB_MSG_F_CREATE];
    v = msg->field[COLLAB_MSG_F_DEL];

    if ((msg->field[COLLAB_MSG_F_OP] != NULL)
        + (create && !YAJL_IS_NULL(create) && !YAJL_IS_FALSE(create))
        + (v && !YAJL_IS_NULL(v) && !YAJL_IS_FALSE(v))
        > 1)
    {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Only one of op, create and del may be "
                               "given");
    }

    if (msg->field[COLLAB_MSG_F_OP]) {
        msg->kind = COLLAB_MSG_OP_EDIT;
        msg->op = msg->field[COLLAB_MSG_F_OP];

        if (!YAJL_IS_ARRAY(msg->op)) {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_OT_BADLY_FORMED,
                                   "op must be an array");
        }

    } else if (create && !YAJL_IS_NULL(create) && !YAJL_IS_FALSE(create)) {
        msg->kind = COLLAB_MSG_OP_CREATE;

        if (!YAJL_IS_OBJECT(create)) {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_OT_BADLY_FORMED,
                                   "Create data must be an object");
        }

        type = NULL;
        data = NULL;

        for (len = 0; len < create->u.object.len; len++) {
            name = create->u.object.keys[len];

            if (strcmp(name, "type") == 0) {
                type = create->u.object.values[len];

            } else if (strcmp(name, "data") == 0) {
                data = create->u.object.values[len];
            }
        }

        if (!YAJL_IS_STRING(type)) {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_OT_BADLY_FORMED,
                                   "Missing create type");
        }

        if (strcmp(type->u.string, COLLAB_MSG_TYPE_TEXT_UNICODE) != 0
            && strcmp(type->u.string, "text-unicode") != 0)
        {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_TYPE_UNKNOWN,
                                   "Unknown type (only text-unicode is"
                                   " served)");
        }

        /* text-unicode create(initial = ''): undefined is "", null is not */

        if (data == NULL) {
            msg->create_data.data = "";
            msg->create_data.len = 0;

        } else if (YAJL_IS_STRING(data)) {
            msg->create_data.data = data->u.string;
            msg->create_data.len = collab_msg_strlen(data->u.string);

        } else {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_OT_BADLY_FORMED,
                                   "Initial data must be a string");
        }

    } else if (v && !YAJL_IS_NULL(v) && !YAJL_IS_FALSE(v)) {
        msg->kind = COLLAB_MSG_OP_DEL;

        if (!YAJL_IS_TRUE(v)) {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_OT_BADLY_FORMED,
                                   "del value must be true");
        }

    } else {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid op message");
    }

    v = msg->field[COLLAB_MSG_F_SRC];

    if (v && !YAJL_IS_NULL(v)) {
        /* sharedb ignores an empty src ("request.src || clientId") */

        if (YAJL_IS_STRING(v) && v->u.string[0] == '\0') {
            v = NULL;

        } else if (collab_msg_name(v, COLLAB_MSG_MAX_SRC, &src) != 0) {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_OT_BADLY_FORMED,
                                   "src must be a string");

        } else {
            msg->src = src;
        }
    }

    if (!msg->has_seq) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_OT_BADLY_FORMED,
                               "Both src and seq must be set together");
    }

    return COLLAB_MSG_OK;
}


static int
collab_msg_check_bulk(collab_msg_t *msg, collab_msg_err_t *err)
{
    size_t            i;
    uint64_t          ver;
    unsigned          has;
    yajl_val          b;
    const char       *key;
    collab_msg_str_t  id;

    if (msg->c.data == NULL) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid collection");
    }

    b = msg->field[COLLAB_MSG_F_B];

    if (YAJL_IS_ARRAY(b)) {
        msg->nb = b->u.array.len;

        for (i = 0; i < msg->nb; i++) {
            if (collab_msg_name(b->u.array.values[i], COLLAB_MSG_MAX_DOC_ID,
                                &id)
                != 0)
            {
                return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                                       "Invalid id");
            }
        }

    } else if (YAJL_IS_OBJECT(b)) {
        msg->nb = b->u.object.len;
        msg->b_versions = 1;

        for (i = 0; i < msg->nb; i++) {
            key = b->u.object.keys[i];

            if (collab_msg_name_str(key, collab_msg_strlen(key),
                                    COLLAB_MSG_MAX_DOC_ID)
                != 0)
            {
                return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                                       "Invalid id");
            }

            if (collab_msg_version(b->u.object.values[i], &ver, &has) != 0) {
                return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                                       "Invalid version");
            }
        }

    } else {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid bulk subscribe data");
    }

    if (msg->nb > COLLAB_MSG_MAX_BULK) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "too many ids in one bulk request");
    }

    msg->b = b;

    return COLLAB_MSG_OK;
}


static int
collab_msg_check_hs(collab_msg_t *msg, collab_msg_err_t *err)
{
    int       i;
    yajl_val  v;

    for (i = COLLAB_MSG_F_PROTOCOL; i <= COLLAB_MSG_F_PROTOCOL_MINOR; i++) {
        v = msg->field[i];

        if (v && !YAJL_IS_NULL(v) && !YAJL_IS_NUMBER(v)
            && !YAJL_IS_STRING(v))
        {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                                   "Invalid protocol");
        }
    }

    /* the previous id: null, "" (none) or a name */

    v = msg->field[COLLAB_MSG_F_ID];

    if (v == NULL || YAJL_IS_NULL(v)
        || (YAJL_IS_STRING(v) && v->u.string[0] == '\0'))
    {
        return COLLAB_MSG_OK;
    }

    if (collab_msg_name(v, COLLAB_MSG_MAX_SRC, &msg->id) != 0) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "id must be a string or null");
    }

    return COLLAB_MSG_OK;
}


static int
collab_msg_check_presence(collab_msg_t *msg, collab_msg_err_t *err)
{
    unsigned  has;
    yajl_val  v;

    if (msg->ch.data == NULL) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid presence channel");
    }

    if (msg->action != COLLAB_MSG_A_P) {
        return COLLAB_MSG_OK;
    }

    if (collab_msg_check_doc(msg, err) != COLLAB_MSG_OK) {
        return COLLAB_MSG_INVALID;
    }

    if (collab_msg_name(msg->field[COLLAB_MSG_F_ID],
                        COLLAB_MSG_MAX_PRESENCE_ID, &msg->id)
        != 0)
    {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid presence ID");
    }

    if (collab_msg_version(msg->field[COLLAB_MSG_F_PV], &msg->pv, &has) != 0
        || !has)
    {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Invalid presence version");
    }

    msg->has_pv = 1;

    v = msg->field[COLLAB_MSG_F_T];

    if (v && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_STRING(v)
            || collab_msg_strlen(v->u.string) > COLLAB_MSG_MAX_COLLECTION)
        {
            return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                                   "Invalid presence type");
        }

        msg->t.data = v->u.string;
        msg->t.len = collab_msg_strlen(v->u.string);
    }

    msg->p = msg->field[COLLAB_MSG_F_P];

    return COLLAB_MSG_OK;
}


static int
collab_msg_check_query(collab_msg_t *msg, collab_msg_err_t *err)
{
    uint64_t  id;

    if (collab_msg_get_uint(msg->field[COLLAB_MSG_F_ID], &id) != 0) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "Missing query ID");
    }

    msg->query_id = (int64_t) id;

    return COLLAB_MSG_OK;
}


/* auth: a token, as a string no longer than one on the upgrade may be */
static int
collab_msg_check_auth(collab_msg_t *msg, collab_msg_err_t *err)
{
    size_t    len;
    yajl_val  v;

    v = msg->field[COLLAB_MSG_F_TOKEN];

    if (!YAJL_IS_STRING(v)) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "token must be a string");
    }

    len = collab_msg_strlen(v->u.string);

    if (len == 0 || len > COLLAB_MSG_MAX_TOKEN) {
        return collab_msg_fail(msg, err, COLLAB_MSG_ERR_BADLY_FORMED,
                               "token must be 1 to 8192 bytes");
    }

    msg->token.data = v->u.string;
    msg->token.len = len;

    return COLLAB_MSG_OK;
}

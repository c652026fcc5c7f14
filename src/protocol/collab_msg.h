/*
 * The ShareDB v1.2 client message model: one JSON object per WebSocket text
 * message, decoded into a struct and validated the way sharedb's
 * lib/agent.js does (with a few stricter checks, noted where they are).
 *
 * Strings in collab_msg_t point into the parsed tree; the tree lives in
 * the collab_msg_t's arena until the next collab_msg_decode() on the same
 * struct or collab_msg_free().  Anything kept longer (an op waiting for
 * its commit) must be converted or copied first.  Decoding is synchronous,
 * so one collab_msg_t per worker is enough.
 */

#ifndef _COLLAB_MSG_H_INCLUDED_
#define _COLLAB_MSG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "protocol/collab_msg_tree.h"


#define COLLAB_MSG_OK                  0
#define COLLAB_MSG_INVALID            -1    /* reply with err (echo msg) */
#define COLLAB_MSG_NOMEM              -2

/* sane limits, in bytes */
#define COLLAB_MSG_MAX_COLLECTION      128
#define COLLAB_MSG_MAX_DOC_ID          256
#define COLLAB_MSG_MAX_SRC             64
#define COLLAB_MSG_MAX_CHANNEL         512
#define COLLAB_MSG_MAX_PRESENCE_ID     128
#define COLLAB_MSG_MAX_BULK            4096  /* ids in one bs/bf/bu */
#define COLLAB_MSG_MAX_TOKEN           8192  /* as on the upgrade */

/* Number.MAX_SAFE_INTEGER: every v, seq, pv must stay below it */
#define COLLAB_MSG_MAX_SAFE_INTEGER    9007199254740991ULL

#define COLLAB_MSG_PROTOCOL            1
#define COLLAB_MSG_PROTOCOL_MINOR      2

#define COLLAB_MSG_TYPE_TEXT_UNICODE   "http://sharejs.org/types/text-unicode"
#define COLLAB_MSG_TYPE_JSON0          "http://sharejs.org/types/JSONv0"

/* ShareDB error codes (lib/error.js) this server sends */
#define COLLAB_MSG_ERR_BADLY_FORMED    "ERR_MESSAGE_BADLY_FORMED"
#define COLLAB_MSG_ERR_OT_BADLY_FORMED "ERR_OT_OP_BADLY_FORMED"
#define COLLAB_MSG_ERR_OT_NOT_APPLIED  "ERR_OT_OP_NOT_APPLIED"
#define COLLAB_MSG_ERR_TYPE_UNKNOWN    "ERR_DOC_TYPE_NOT_RECOGNIZED"
#define COLLAB_MSG_ERR_SEQ_OVERFLOW    "ERR_CONNECTION_SEQ_INTEGER_OVERFLOW"
#define COLLAB_MSG_ERR_ALREADY_CREATED "ERR_DOC_ALREADY_CREATED"
#define COLLAB_MSG_ERR_DOES_NOT_EXIST  "ERR_DOC_DOES_NOT_EXIST"
#define COLLAB_MSG_ERR_WAS_DELETED     "ERR_DOC_WAS_DELETED"
#define COLLAB_MSG_ERR_VERSION_NEWER                                          \
    "ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT"
#define COLLAB_MSG_ERR_OPS_NOT_FOUND   "ERR_SUBMIT_TRANSFORM_OPS_NOT_FOUND"
#define COLLAB_MSG_ERR_SUBMIT_REJECTED "ERR_OP_SUBMIT_REJECTED"
/*
 * Not ERR_OP_SUBMIT_REJECTED: the stock client rolls that back quietly and
 * calls the submit back without an error, as if it had been acked.
 */
#define COLLAB_MSG_ERR_SRC_NOT_OWNED   "ERR_OP_SRC_NOT_OWNED"
#define COLLAB_MSG_ERR_SEQ_TAKEN       "ERR_OP_SEQ_TAKEN"
#define COLLAB_MSG_ERR_MAX_RETRIES     "ERR_MAX_SUBMIT_RETRIES_EXCEEDED"
#define COLLAB_MSG_ERR_NO_OP           "ERR_NO_OP"
#define COLLAB_MSG_ERR_NOT_IMPLEMENTED "ERR_DATABASE_METHOD_NOT_IMPLEMENTED"
#define COLLAB_MSG_ERR_SILENT_REJECT   "ERR_SNAPSHOT_READ_SILENT_REJECTION"
#define COLLAB_MSG_ERR_UNKNOWN         "ERR_UNKNOWN_ERROR"


typedef enum {
    COLLAB_MSG_A_UNKNOWN = 0,
    COLLAB_MSG_A_HS,            /* handshake */
    COLLAB_MSG_A_S,             /* subscribe */
    COLLAB_MSG_A_F,             /* fetch */
    COLLAB_MSG_A_U,             /* unsubscribe */
    COLLAB_MSG_A_BS,            /* bulk subscribe */
    COLLAB_MSG_A_BF,            /* bulk fetch */
    COLLAB_MSG_A_BU,            /* bulk unsubscribe */
    COLLAB_MSG_A_OP,            /* submit */
    COLLAB_MSG_A_NF,            /* snapshot at a version */
    COLLAB_MSG_A_NT,            /* snapshot at a timestamp */
    COLLAB_MSG_A_PP,            /* ping */
    COLLAB_MSG_A_P,             /* presence */
    COLLAB_MSG_A_PS,            /* presence subscribe */
    COLLAB_MSG_A_PU,            /* presence unsubscribe */
    COLLAB_MSG_A_PR,            /* presence request */
    COLLAB_MSG_A_QF,            /* queries: decoded, not served */
    COLLAB_MSG_A_QS,
    COLLAB_MSG_A_QU,
    COLLAB_MSG_A_AUTH           /* ours: a new token for the session */
} collab_msg_action_e;


typedef enum {
    COLLAB_MSG_OP_EDIT = 0,     /* msg->op */
    COLLAB_MSG_OP_CREATE,       /* msg->create_data */
    COLLAB_MSG_OP_DEL
} collab_msg_op_kind_e;


/* top-level keys whose raw value is kept in msg->field[] */
typedef enum {
    COLLAB_MSG_F_A = 0,
    COLLAB_MSG_F_C,
    COLLAB_MSG_F_D,
    COLLAB_MSG_F_V,
    COLLAB_MSG_F_SRC,
    COLLAB_MSG_F_SEQ,
    COLLAB_MSG_F_OP,
    COLLAB_MSG_F_CREATE,
    COLLAB_MSG_F_DEL,
    COLLAB_MSG_F_B,
    COLLAB_MSG_F_ID,
    COLLAB_MSG_F_PROTOCOL,
    COLLAB_MSG_F_PROTOCOL_MINOR,
    COLLAB_MSG_F_CH,
    COLLAB_MSG_F_P,
    COLLAB_MSG_F_PV,
    COLLAB_MSG_F_T,
    COLLAB_MSG_F_TS,
    COLLAB_MSG_F_TOKEN,
    COLLAB_MSG_F_COUNT
} collab_msg_field_e;


typedef struct {
    const char  *data;
    size_t       len;
} collab_msg_str_t;


typedef struct {
    const char  *code;          /* static ShareDB code string */
    char         message[160];  /* "op: v must be a non-negative integer" */

    /*
     * The message is not a JSON object at all: sharedb closes the
     * connection in that case; msg->root is NULL or not an object.
     */
    unsigned     fatal:1;
} collab_msg_err_t;


typedef struct {
    collab_msg_action_e   action;

    /*
     * Strings: data is NULL when the key was absent or null.  They point
     * into the tree and are NUL-terminated as well.
     */
    collab_msg_str_t      c;          /* collection */
    collab_msg_str_t      d;          /* document id */
    collab_msg_str_t      src;        /* op: resend source */
    collab_msg_str_t      ch;         /* presence channel */
    collab_msg_str_t      id;         /* hs: previous id; p: presence id */
    collab_msg_str_t      t;          /* p: type URI of the doc */
    collab_msg_str_t      token;      /* auth: the new token */

    /* integers are 0 .. 2^53-1; has_* says present and not null */
    uint64_t              v;
    uint64_t              seq;
    uint64_t              pv;
    uint64_t              ts;
    int64_t               query_id;   /* qf/qs/qu */

    unsigned              has_v:1;
    unsigned              has_seq:1;
    unsigned              has_pv:1;
    unsigned              has_ts:1;

    /* bs/bf/bu: b is {id: version|null} rather than [id, ...] */
    unsigned              b_versions:1;

    /* op */
    collab_msg_op_kind_e  kind;
    yajl_val              op;         /* EDIT: the component array */
    collab_msg_str_t      create_data;  /* CREATE: "" when absent */

    /* bulk: the validated array or object, see collab_msg_bulk_item() */
    yajl_val              b;
    size_t                nb;

    /* p: the presence value (yajl null when clearing; NULL if absent) */
    yajl_val              p;

    /* the whole request, for error replies, and each known key's value */
    yajl_val              root;
    yajl_val              field[COLLAB_MSG_F_COUNT];

    collab_msg_tree_t     tree;
} collab_msg_t;


/* a zeroed struct is initialised too */
void collab_msg_init(collab_msg_t *msg);

/*
 * Decodes and validates one client message.  Returns COLLAB_MSG_OK,
 * COLLAB_MSG_INVALID (err filled; msg->root kept for the error echo when it
 * is an object) or COLLAB_MSG_NOMEM.  An unknown action is INVALID with
 * ERR_MESSAGE_BADLY_FORMED, as in sharedb.  The previous message decoded
 * into msg is released first.
 */
int collab_msg_decode(const char *json, size_t len, collab_msg_t *msg,
    collab_msg_err_t *err);

/* releases everything msg holds (it may be decoded into again) */
void collab_msg_free(collab_msg_t *msg);

/*
 * Bulk item i (< msg->nb): the doc id and, in the versions form, the
 * version (has_v 0 for null or for the array form).
 */
void collab_msg_bulk_item(const collab_msg_t *msg, size_t i,
    collab_msg_str_t *id, uint64_t *v, int *has_v);

/* "hs", "op", ... for logs; "?" for UNKNOWN */
const char *collab_msg_action_name(collab_msg_action_e action);

/*
 * Version-like numbers: a non-negative integer below 2^53 (an integral
 * double such as 1e3 or 4.0 is accepted).  Returns 0 and sets *out, or -1.
 */
int collab_msg_get_uint(yajl_val v, uint64_t *out);


#endif /* _COLLAB_MSG_H_INCLUDED_ */

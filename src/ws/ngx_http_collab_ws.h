/*
 * WebSocket sessions inside nginx workers: the upgrade handshake, the read
 * loop (frames decoded by the pure codec in collab_ws_frame.c), a bounded
 * send queue of shared, pre-encoded frames, keepalive pings, and close 1001
 * on worker shutdown.
 *
 * The protocol layer above (src/protocol/ngx_http_collab_session.c) gets
 * whole text messages through the ngx_http_collab_session_* hooks declared
 * in protocol/ngx_http_collab_session.h and answers with the send functions
 * below.
 */

#ifndef _NGX_HTTP_COLLAB_WS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_WS_H_INCLUDED_


#include "ngx_http_collab.h"
#include "auth/ngx_http_collab_auth.h"


typedef struct ngx_http_collab_ws_s  ngx_http_collab_ws_t;


/*
 * A fully encoded server frame (header + payload) on the heap, shared by
 * every socket it is queued to: an op broadcast is encoded once and the
 * same buffer is written to each subscriber.  Freed when the last
 * reference is released.
 */
typedef struct {
    ngx_uint_t                 refcount;
    size_t                     len;
    u_char                    *data;        /* points just past the struct */
} ngx_http_collab_frame_t;


struct ngx_http_collab_ws_s {
    /*
     * The upgrade request: valid during ngx_http_collab_session_open()
     * only.  It is freed once the 101 is written (an idle socket must stay
     * small), and NULL from then on: a session copies what it needs.
     */
    ngx_http_request_t        *request;
    ngx_http_collab_auth_t     who;         /* who asked: as request */
    ngx_connection_t          *connection;
    ngx_http_collab_loc_conf_t *conf;
    void                      *session;     /* owned by the protocol layer */
    /* the rest is private to ngx_http_collab_ws.c */
    void                      *priv;
};


ngx_int_t ngx_http_collab_ws_init_process(ngx_cycle_t *cycle);
void ngx_http_collab_ws_exit_process(ngx_cycle_t *cycle);

/* "collab_allowed_origins" values: "*" or scheme://host[:port] */
char *ngx_http_collab_ws_allowed_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* content handler of "collab_websocket" locations */
ngx_int_t ngx_http_collab_ws_handler(ngx_http_request_t *r);

/* a text frame holding payload[0..len), refcount 1; NULL on failure */
ngx_http_collab_frame_t *ngx_http_collab_frame_text(const u_char *payload,
    size_t len, ngx_log_t *log);
/* the payload of a frame made by ngx_http_collab_frame_text() */
u_char *ngx_http_collab_frame_payload(ngx_http_collab_frame_t *f,
    size_t *len);
void ngx_http_collab_frame_retain(ngx_http_collab_frame_t *f);
void ngx_http_collab_frame_release(ngx_http_collab_frame_t *f);

/*
 * Queue a frame (takes its own reference) and start writing.  Returns
 * NGX_OK, or NGX_ERROR if the socket is closing or the queue limit
 * (collab_send_queue_limit) was exceeded, in which case the socket is
 * being closed (1008) and the caller must not use it after its
 * session_close hook has run.
 */
ngx_int_t ngx_http_collab_ws_send(ngx_http_collab_ws_t *ws,
    ngx_http_collab_frame_t *f);

/* convenience: encode payload as a one-off text frame and queue it */
ngx_int_t ngx_http_collab_ws_send_text(ngx_http_collab_ws_t *ws,
    const u_char *payload, size_t len);

/* bytes queued and not yet written (for back-pressure decisions) */
size_t ngx_http_collab_ws_queued(ngx_http_collab_ws_t *ws);

/*
 * Is the peer still there?  A ping now; without a pong within
 * NGX_HTTP_COLLAB_WS_PROBE_WAIT ms (or collab_pong_timeout if shorter)
 * the socket is closed.  For a socket whose client may have reconnected
 * on another one (a half-open TCP connection keeps its src).
 */
#define NGX_HTTP_COLLAB_WS_PROBE_WAIT  3000

void ngx_http_collab_ws_probe(ngx_http_collab_ws_t *ws);

/*
 * Around a message the protocol layer kept and processes later, outside
 * the read handler: as in it, a close meanwhile takes effect in leave()
 * (after which ws and its session may be gone).  enter() returns
 * NGX_DECLINED, and nothing is to be done, when the socket is closing.
 */
ngx_int_t ngx_http_collab_ws_enter(ngx_http_collab_ws_t *ws);
void ngx_http_collab_ws_leave(ngx_http_collab_ws_t *ws);

/*
 * Start the close handshake with code and reason: queued frames are
 * flushed, then the close frame, then the socket is closed when the peer
 * answers or after a short timeout.  Safe to call more than once.
 */
void ngx_http_collab_ws_close(ngx_http_collab_ws_t *ws, ngx_uint_t code,
    const char *reason);


#endif /* _NGX_HTTP_COLLAB_WS_H_INCLUDED_ */

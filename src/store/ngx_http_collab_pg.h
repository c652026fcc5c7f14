/*
 * A per-worker pool of asynchronous libpq connections driven by the nginx
 * event loop.
 *
 * Each connection is a small state machine (connecting, checking the schema
 * version, preparing the statements, idle, busy, waiting to reconnect) with
 * one dispatcher.  Requests run a prepared statement on the first idle
 * connection, wait in a bounded FIFO when all are busy, and fail at once
 * when no connection is up.  Lost connections are retried with exponential
 * backoff and jitter.
 */

#ifndef _NGX_HTTP_COLLAB_PG_H_INCLUDED_
#define _NGX_HTTP_COLLAB_PG_H_INCLUDED_


#include <libpq-fe.h>

#include "ngx_http_collab.h"


/* the schema version this module was written for, and where it lives */
#define NGX_HTTP_COLLAB_PG_SCHEMA_VERSION  2
#define NGX_HTTP_COLLAB_PG_SCHEMA_FILE     "sql/002_access.sql"


/* outcome passed to a request's handler */
#define NGX_HTTP_COLLAB_PG_OK           0   /* res holds the result */
#define NGX_HTTP_COLLAB_PG_UNAVAILABLE  1   /* never sent: no connection */
#define NGX_HTTP_COLLAB_PG_UNKNOWN      2   /* sent, then connection lost */


typedef struct ngx_http_collab_pg_req_s  ngx_http_collab_pg_req_t;

/*
 * Called exactly once per submitted request (never from inside
 * ngx_http_collab_pg_send() itself, and never after exit_process).
 * res is only valid during the call (the pool clears it afterwards) and is
 * NULL unless rc is NGX_HTTP_COLLAB_PG_OK.  The handler may free req or
 * submit it again.
 */
typedef void (*ngx_http_collab_pg_handler_pt)(ngx_http_collab_pg_req_t *req,
    ngx_int_t rc, PGresult *res);


typedef struct {
    const char                *name;
    const char                *sql;
    int                        nparams;
} ngx_http_collab_pg_stmt_t;


struct ngx_http_collab_pg_req_s {
    ngx_queue_t                queue;       /* private: the FIFO */
    ngx_event_t                post;        /* private: deferred failure */
    ngx_int_t                  rc;          /* private: its outcome */

    ngx_uint_t                 stmt;        /* index in the statement table */
    int                        nparams;
    const char               **values;      /* NUL-terminated, or NULL */
    int                       *lengths;     /* used for binary params */
    int                       *formats;     /* 0 text, 1 binary; or NULL */

    ngx_http_collab_pg_handler_pt  handler;
    void                      *data;
};


ngx_int_t ngx_http_collab_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf);
void ngx_http_collab_pg_exit_process(ngx_cycle_t *cycle);

/* config time: "nginx -t" fails on a conninfo libpq cannot parse */
char *ngx_http_collab_pg_check_conf(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf);

/*
 * Submit a request.  The parameter strings must stay valid until the
 * handler runs.  Always returns NGX_OK: failures (no connection up, queue
 * full) are reported through the handler from a posted event, so callers
 * never see their handler run re-entrantly.
 */
ngx_int_t ngx_http_collab_pg_send(ngx_http_collab_pg_req_t *req);

/* true if at least one connection is ready for statements */
ngx_uint_t ngx_http_collab_pg_available(void);


#endif /* _NGX_HTTP_COLLAB_PG_H_INCLUDED_ */

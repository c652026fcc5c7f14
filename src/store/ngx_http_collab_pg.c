/*
 * The per-worker PostgreSQL connection pool.
 *
 * Every PGconn is non-blocking and its socket is an ngx_connection_t with
 * level-triggered read events (libpq may leave bytes in the kernel buffer
 * after PQconsumeInput, so edge-triggered events could stall) and a write
 * event armed only while PQflush() has output left.  One state per
 * connection and one dispatcher (ngx_http_collab_pg_handler) drive connect,
 * the schema check, statement preparation and queries.
 */

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_pg.h"
#include "store/ngx_http_collab_store.h"
#include "status/ngx_http_collab_status.h"


#define NGX_HTTP_COLLAB_PG_BACKOFF_MIN  100
#define NGX_HTTP_COLLAB_PG_BACKOFF_MAX  10000


typedef enum {
    NGX_HTTP_COLLAB_PG_CLOSED = 0,
    NGX_HTTP_COLLAB_PG_BACKOFF,
    NGX_HTTP_COLLAB_PG_CONNECTING,
    NGX_HTTP_COLLAB_PG_CHECKING,
    NGX_HTTP_COLLAB_PG_PREPARING,
    NGX_HTTP_COLLAB_PG_IDLE,
    NGX_HTTP_COLLAB_PG_BUSY
} ngx_http_collab_pg_state_e;


typedef struct {
    ngx_http_collab_pg_state_e  state;
    ngx_uint_t                  index;
    PGconn                     *conn;
    ngx_connection_t           *c;
    PGresult                   *res;        /* last result of the query */
    ngx_http_collab_pg_req_t   *req;        /* in flight */
    ngx_uint_t                  prepared;   /* statements prepared */
    ngx_msec_t                  backoff;
    ngx_event_t                 retry;
} ngx_http_collab_pg_conn_t;


typedef struct {
    ngx_http_collab_pg_conn_t  *conns;
    ngx_uint_t                  nconns;
    ngx_uint_t                  up;         /* IDLE or BUSY connections */
    ngx_uint_t                  starting;   /* first attempts under way */

    ngx_queue_t                 queue;
    ngx_uint_t                  queued;
    ngx_uint_t                  queue_max;
    ngx_msec_t                  timeout;

    const char                **keys;
    const char                **vals;
    PQconninfoOption           *opts;
    char                       *peer;       /* "host:port/db", no secrets */

    ngx_http_collab_pg_stmt_t  *stmts;
    ngx_uint_t                  nstmts;

    ngx_log_t                  *log;
} ngx_http_collab_pg_pool_t;


static char *ngx_http_collab_pg_resolve(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf, PQconninfoOption *opts);
static ngx_int_t ngx_http_collab_pg_resolve_host(ngx_conf_t *cf,
    u_char *host, size_t len, ngx_str_t *addr);
static ngx_uint_t ngx_http_collab_pg_numeric(u_char *host, size_t len);
static u_char *ngx_http_collab_pg_quote(u_char *p, const char *s);
static ngx_int_t ngx_http_collab_pg_params(ngx_cycle_t *cycle,
    ngx_http_collab_pg_pool_t *pool, ngx_str_t *conninfo);
static void ngx_http_collab_pg_connect(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_connect_failed(
    ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_handler(ngx_event_t *ev);
static void ngx_http_collab_pg_poll(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_read(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_flush(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_done(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_checked(ngx_http_collab_pg_conn_t *pc,
    PGresult *res);
static void ngx_http_collab_pg_prepare(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_ready(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_run(ngx_http_collab_pg_conn_t *pc,
    ngx_http_collab_pg_req_t *req);
static void ngx_http_collab_pg_dispatch(void);
static void ngx_http_collab_pg_lost(ngx_http_collab_pg_conn_t *pc,
    const char *what);
static void ngx_http_collab_pg_close(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_schedule(ngx_http_collab_pg_conn_t *pc);
static void ngx_http_collab_pg_retry(ngx_event_t *ev);
static ngx_int_t ngx_http_collab_pg_events(ngx_http_collab_pg_conn_t *pc,
    ngx_uint_t rd, ngx_uint_t wr);
static ngx_int_t ngx_http_collab_pg_event(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t want);
static void ngx_http_collab_pg_timer(ngx_http_collab_pg_conn_t *pc,
    ngx_uint_t cancelable);
static void ngx_http_collab_pg_fail(ngx_http_collab_pg_req_t *req,
    ngx_int_t rc);
static void ngx_http_collab_pg_posted(ngx_event_t *ev);
static void ngx_http_collab_pg_flush_queue(void);
static void ngx_http_collab_pg_settle(void);
static ngx_str_t ngx_http_collab_pg_errmsg(const char *msg);
static void ngx_http_collab_pg_status(ngx_http_collab_status_t *st);


static ngx_http_collab_pg_pool_t  *ngx_http_collab_pg_pool;

/* statements sent by this worker: what a read path costs PostgreSQL */
static uint64_t                    ngx_http_collab_pg_statements;


char *
ngx_http_collab_pg_check_conf(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf)
{
    char              *ci, *err, *rv;
    ngx_str_t          msg;
    PQconninfoOption  *opts;

    if (cmcf->pg_conninfo.data == NULL) {
        return NGX_CONF_OK;
    }

    ci = ngx_pnalloc(cf->pool, cmcf->pg_conninfo.len + 1);
    if (ci == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(ci, cmcf->pg_conninfo.data, cmcf->pg_conninfo.len);
    ci[cmcf->pg_conninfo.len] = '\0';

    err = NULL;
    opts = PQconninfoParse(ci, &err);

    if (opts == NULL) {
        /* the message names the bad keyword, never a value */
        msg = ngx_http_collab_pg_errmsg(err ? err : "out of memory");
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid \"collab_postgres\" conninfo: %V",
                           &msg);
        if (err) {
            PQfreemem(err);
        }
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_collab_pg_resolve(cf, cmcf, opts);

    PQconninfoFree(opts);

    return rv;
}


/*
 * libpq resolves "host" names with a blocking getaddrinfo() inside
 * PQconnectStartParams()/PQconnectPoll(), in the worker, at every
 * (re)connection.  Names are resolved here instead, once, as nginx does
 * for upstream servers, and handed to libpq as "hostaddr" (it still uses
 * "host" for authentication and certificate checks).  The conninfo is
 * rewritten as keyword='value' pairs with the hostaddr list added.
 */

static char *
ngx_http_collab_pg_resolve(ngx_conf_t *cf, ngx_http_collab_main_conf_t *cmcf,
    PQconninfoOption *opts)
{
    u_char            *p, *last, *item, *end;
    size_t             len;
    ngx_str_t          addr;
    ngx_uint_t         named;
    const char        *host;
    PQconninfoOption  *o;

    host = NULL;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            /* the operator chose the addresses */
            return NGX_CONF_OK;
        }

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;
        }
    }

    if (host == NULL) {
        return NGX_CONF_OK;
    }

    /*
     * hostaddr='a,b,...' has one entry per host; entries left empty
     * (socket paths, addresses) make libpq use the host as it is
     */

    len = sizeof("hostaddr=''")
          + (NGX_INET6_ADDRSTRLEN + 1) * (ngx_strlen(host) + 1);

    for (o = opts; o->keyword; o++) {
        if (o->val) {
            len += ngx_strlen(o->keyword) + 4 + 2 * ngx_strlen(o->val);
        }
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    last = p;

    for (o = opts; o->keyword; o++) {
        if (o->val) {
            last = ngx_sprintf(last, "%s=", o->keyword);
            last = ngx_http_collab_pg_quote(last, o->val);
            *last++ = ' ';
        }
    }

    last = ngx_cpymem(last, "hostaddr='", sizeof("hostaddr='") - 1);

    named = 0;
    item = (u_char *) host;

    for ( ;; ) {
        end = (u_char *) ngx_strchr(item, ',');
        if (end == NULL) {
            end = item + ngx_strlen(item);
        }

        if (end > item && item[0] != '/' && item[0] != '@'
            && !ngx_http_collab_pg_numeric(item, end - item))
        {
            if (ngx_http_collab_pg_resolve_host(cf, item, end - item, &addr)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            last = ngx_cpymem(last, addr.data, addr.len);
            named = 1;
        }

        if (*end == '\0') {
            break;
        }

        *last++ = ',';
        item = end + 1;
    }

    if (!named) {
        return NGX_CONF_OK;
    }

    *last++ = '\'';

    cmcf->pg_conninfo.data = p;
    cmcf->pg_conninfo.len = last - p;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_collab_pg_resolve_host(ngx_conf_t *cf, u_char *host, size_t len,
    ngx_str_t *addr)
{
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.host.data = host;
    u.host.len = len;
    u.port = 5432;

    if (ngx_inet_resolve_host(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_postgres\" host \"%*s\" "
                           "not found", len, host);
        return NGX_ERROR;
    }

    /* IPv4 first, as nginx orders them; libpq gets the first one */

    addr->data = ngx_pnalloc(cf->pool, NGX_INET6_ADDRSTRLEN);
    if (addr->data == NULL) {
        return NGX_ERROR;
    }

    addr->len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                              addr->data, NGX_INET6_ADDRSTRLEN, 0);

    ngx_log_debug3(NGX_LOG_DEBUG_CORE, cf->log, 0,
                   "collab: postgres host \"%*s\" is %V", len, host, addr);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_collab_pg_numeric(u_char *host, size_t len)
{
#if (NGX_HAVE_INET6)
    u_char  a6[16];

    if (ngx_inet6_addr(host, len, a6) == NGX_OK) {
        return 1;
    }
#endif

    return ngx_inet_addr(host, len) != INADDR_NONE;
}


/* a conninfo value in single quotes, with \ and ' escaped */

static u_char *
ngx_http_collab_pg_quote(u_char *p, const char *s)
{
    *p++ = '\'';

    while (*s) {
        if (*s == '\'' || *s == '\\') {
            *p++ = '\\';
        }

        *p++ = *s++;
    }

    *p++ = '\'';

    return p;
}


ngx_int_t
ngx_http_collab_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    ngx_uint_t                  i;
    ngx_http_collab_pg_conn_t  *pc;
    ngx_http_collab_pg_pool_t  *pool;

    ngx_http_collab_pg_pool = NULL;
    ngx_http_collab_pg_statements = 0;

    if (cmcf->pg_conninfo.data == NULL) {
        return NGX_OK;
    }

    if (ngx_http_collab_status_add_section("postgres",
                                           ngx_http_collab_pg_status)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_collab_pg_pool_t));
    if (pool == NULL) {
        return NGX_ERROR;
    }

    pool->log = cycle->log;
    pool->nconns = cmcf->pg_pool_size;
    pool->queue_max = cmcf->pg_queue_size;
    pool->timeout = cmcf->pg_timeout;
    ngx_queue_init(&pool->queue);

    pool->stmts = ngx_http_collab_store_statements(&pool->nstmts);

    if (ngx_http_collab_pg_params(cycle, pool, &cmcf->pg_conninfo)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pool->conns = ngx_pcalloc(cycle->pool,
                              pool->nconns * sizeof(ngx_http_collab_pg_conn_t));
    if (pool->conns == NULL) {
        return NGX_ERROR;
    }

    ngx_http_collab_pg_pool = pool;

    /*
     * a fresh worker (start, reload) queues requests until its first
     * connection attempts end, instead of failing the first few of them
     */
    pool->starting = 1;

    for (i = 0; i < pool->nconns; i++) {
        pc = &pool->conns[i];
        pc->index = i;
        pc->backoff = NGX_HTTP_COLLAB_PG_BACKOFF_MIN;
        pc->retry.handler = ngx_http_collab_pg_retry;
        pc->retry.data = pc;
        pc->retry.log = cycle->log;
        pc->retry.cancelable = 1;

        ngx_http_collab_pg_connect(pc);
    }

    return NGX_OK;
}


void
ngx_http_collab_pg_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_http_collab_pg_conn_t  *pc;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;
    if (pool == NULL) {
        return;
    }

    /* handlers are not called any more: their owners are going away too */

    for (i = 0; i < pool->nconns; i++) {
        pc = &pool->conns[i];

        if (pc->retry.timer_set) {
            ngx_del_timer(&pc->retry);
        }

        ngx_http_collab_pg_close(pc);
    }

    PQconninfoFree(pool->opts);
    ngx_http_collab_pg_pool = NULL;
}


ngx_uint_t
ngx_http_collab_pg_available(void)
{
    return ngx_http_collab_pg_pool && ngx_http_collab_pg_pool->up;
}


ngx_int_t
ngx_http_collab_pg_send(ngx_http_collab_pg_req_t *req)
{
    ngx_uint_t                  i;
    ngx_http_collab_pg_conn_t  *pc;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    if (pool == NULL || (pool->up == 0 && !pool->starting)) {
        ngx_http_collab_pg_fail(req, NGX_HTTP_COLLAB_PG_UNAVAILABLE);
        return NGX_OK;
    }

    for (i = 0; i < pool->nconns; i++) {
        pc = &pool->conns[i];

        if (pc->state == NGX_HTTP_COLLAB_PG_IDLE) {
            ngx_http_collab_pg_run(pc, req);
            return NGX_OK;
        }
    }

    if (pool->queued >= pool->queue_max) {
        ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                      "collab: postgres %s: request queue full (%ui)",
                      pool->peer, pool->queued);
        ngx_http_collab_pg_fail(req, NGX_HTTP_COLLAB_PG_UNAVAILABLE);
        return NGX_OK;
    }

    ngx_queue_insert_tail(&pool->queue, &req->queue);
    pool->queued++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_collab_pg_params(ngx_cycle_t *cycle,
    ngx_http_collab_pg_pool_t *pool, ngx_str_t *conninfo)
{
    char              *ci, *err, *p;
    size_t             len;
    ngx_uint_t         n, i, enc, app;
    const char        *host, *port, *db;
    PQconninfoOption  *o;

    ci = ngx_pnalloc(cycle->pool, conninfo->len + 1);
    if (ci == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ci, conninfo->data, conninfo->len);
    ci[conninfo->len] = '\0';

    err = NULL;
    pool->opts = PQconninfoParse(ci, &err);
    if (pool->opts == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "collab: invalid \"collab_postgres\" conninfo");
        if (err) {
            PQfreemem(err);
        }
        return NGX_ERROR;
    }

    n = 0;
    for (o = pool->opts; o->keyword; o++) {
        n++;
    }

    /* room for client_encoding, application_name and the terminator */
    pool->keys = ngx_pcalloc(cycle->pool, (n + 3) * sizeof(char *));
    pool->vals = ngx_pcalloc(cycle->pool, (n + 3) * sizeof(char *));
    if (pool->keys == NULL || pool->vals == NULL) {
        return NGX_ERROR;
    }

    host = NULL;
    port = "5432";
    db = "";
    enc = 0;
    app = 0;
    i = 0;

    for (o = pool->opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        pool->keys[i] = o->keyword;
        pool->vals[i] = o->val;
        i++;

        if (ngx_strcmp(o->keyword, "host") == 0
            || (host == NULL && ngx_strcmp(o->keyword, "hostaddr") == 0))
        {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = o->val;

        } else if (ngx_strcmp(o->keyword, "dbname") == 0) {
            db = o->val;

        } else if (ngx_strcmp(o->keyword, "client_encoding") == 0) {
            enc = 1;

        } else if (ngx_strcmp(o->keyword, "application_name") == 0) {
            app = 1;
        }
    }

    /* documents are UTF-8 end to end */
    if (!enc) {
        pool->keys[i] = "client_encoding";
        pool->vals[i] = "UTF8";
        i++;
    }

    if (!app) {
        pool->keys[i] = "application_name";
        pool->vals[i] = "nginx-collab";
        i++;
    }

    if (host == NULL) {
        host = "(local socket)";
    }

    len = ngx_strlen(host) + ngx_strlen(port) + ngx_strlen(db) + 3;

    pool->peer = ngx_pnalloc(cycle->pool, len);
    if (pool->peer == NULL) {
        return NGX_ERROR;
    }

    p = (char *) ngx_sprintf((u_char *) pool->peer, "%s:%s/%s",
                             host, port, db);
    *p = '\0';

    return NGX_OK;
}


static void
ngx_http_collab_pg_connect(ngx_http_collab_pg_conn_t *pc)
{
    ngx_connection_t           *c;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    pc->conn = PQconnectStartParams(pool->keys, pool->vals, 0);
    if (pc->conn == NULL) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "collab: postgres %s: out of memory", pool->peer);
        ngx_http_collab_pg_schedule(pc);
        return;
    }

    if (PQstatus(pc->conn) == CONNECTION_BAD
        || PQsetnonblocking(pc->conn, 1) != 0
        || PQsocket(pc->conn) < 0)
    {
        ngx_http_collab_pg_connect_failed(pc);
        return;
    }

    c = ngx_get_connection(PQsocket(pc->conn), pool->log);
    if (c == NULL) {
        ngx_http_collab_pg_close(pc);
        ngx_http_collab_pg_schedule(pc);
        return;
    }

    c->data = pc;
    c->read->handler = ngx_http_collab_pg_handler;
    c->write->handler = ngx_http_collab_pg_handler;
    c->read->log = pool->log;
    c->write->log = pool->log;
    pc->c = c;

    pc->state = NGX_HTTP_COLLAB_PG_CONNECTING;
    pc->prepared = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "collab: postgres connection %ui connecting fd:%d",
                   pc->index, c->fd);

    /* libpq starts as if PQconnectPoll() had asked for writability */
    ngx_http_collab_pg_timer(pc, 1);

    if (ngx_http_collab_pg_events(pc, 0, 1) != NGX_OK) {
        ngx_http_collab_pg_lost(pc, "connect");
    }
}


/* libpq gave up on this attempt: log why, then back off and retry */

static void
ngx_http_collab_pg_connect_failed(ngx_http_collab_pg_conn_t *pc)
{
    ngx_str_t                   msg;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    msg = ngx_http_collab_pg_errmsg(PQerrorMessage(pc->conn));
    ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                  "collab: postgres %s: connection %ui failed: %V",
                  pool->peer, pc->index, &msg);
    ngx_http_collab_pg_close(pc);
    ngx_http_collab_pg_schedule(pc);
}


static void
ngx_http_collab_pg_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_collab_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    if (ev->timedout) {
        ev->timedout = 0;
        ngx_http_collab_pg_lost(pc, "timed out");
        return;
    }

    switch (pc->state) {

    case NGX_HTTP_COLLAB_PG_CONNECTING:
        ngx_http_collab_pg_poll(pc);
        return;

    case NGX_HTTP_COLLAB_PG_CHECKING:
    case NGX_HTTP_COLLAB_PG_PREPARING:
    case NGX_HTTP_COLLAB_PG_BUSY:
        if (ev->write) {
            ngx_http_collab_pg_flush(pc);

        } else {
            ngx_http_collab_pg_read(pc);
        }
        return;

    case NGX_HTTP_COLLAB_PG_IDLE:
        if (ev->write) {
            (void) ngx_http_collab_pg_events(pc, 1, 0);
            return;
        }

        /* an idle socket became readable: a notice, or the server left */
        ngx_http_collab_pg_read(pc);
        return;

    default:
        return;
    }
}


static void
ngx_http_collab_pg_poll(ngx_http_collab_pg_conn_t *pc)
{
    PostgresPollingStatusType   st;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    /*
     * libpq may close the socket and open another one (next address or
     * host) inside PQconnectPoll(): take the fd out of epoll while it is
     * still valid and register whatever socket libpq has afterwards
     */
    if (ngx_http_collab_pg_events(pc, 0, 0) != NGX_OK) {
        ngx_http_collab_pg_lost(pc, "connect");
        return;
    }

    st = PQconnectPoll(pc->conn);

    if (PQsocket(pc->conn) >= 0) {
        pc->c->fd = PQsocket(pc->conn);
    }

    switch (st) {

    case PGRES_POLLING_READING:
        if (ngx_http_collab_pg_events(pc, 1, 0) != NGX_OK) {
            ngx_http_collab_pg_lost(pc, "connect");
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_http_collab_pg_events(pc, 0, 1) != NGX_OK) {
            ngx_http_collab_pg_lost(pc, "connect");
        }
        return;

    case PGRES_POLLING_OK:
        break;

    default:
        ngx_http_collab_pg_connect_failed(pc);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "collab: postgres connection %ui connected, checking",
                   pc->index);

    pc->state = NGX_HTTP_COLLAB_PG_CHECKING;

    if (!PQsendQuery(pc->conn,
                     "SELECT max(version) FROM collab_schema_version"))
    {
        ngx_http_collab_pg_lost(pc, "schema check");
        return;
    }

    ngx_http_collab_pg_timer(pc, 1);
    ngx_http_collab_pg_flush(pc);
}


static void
ngx_http_collab_pg_flush(ngx_http_collab_pg_conn_t *pc)
{
    int  rc;

    rc = PQflush(pc->conn);

    if (rc < 0) {
        ngx_http_collab_pg_lost(pc, "send");
        return;
    }

    if (ngx_http_collab_pg_events(pc, 1, rc == 1) != NGX_OK) {
        ngx_http_collab_pg_lost(pc, "send");
    }
}


static void
ngx_http_collab_pg_read(ngx_http_collab_pg_conn_t *pc)
{
    PGresult  *res;

    if (!PQconsumeInput(pc->conn)) {
        ngx_http_collab_pg_lost(pc, "receive");
        return;
    }

    if (pc->state == NGX_HTTP_COLLAB_PG_IDLE) {
        /* nothing expected: drop stray results (async notices) */
        while (!PQisBusy(pc->conn)) {
            res = PQgetResult(pc->conn);
            if (res == NULL) {
                break;
            }
            PQclear(res);
        }
        return;
    }

    /* libpq may still have output queued while it waits for input */
    if (PQisnonblocking(pc->conn) && PQflush(pc->conn) < 0) {
        ngx_http_collab_pg_lost(pc, "send");
        return;
    }

    while (!PQisBusy(pc->conn)) {
        res = PQgetResult(pc->conn);

        if (res == NULL) {
            ngx_http_collab_pg_done(pc);
            return;
        }

        /* one statement gives one result; keep the last to be safe */
        if (pc->res) {
            PQclear(pc->res);
        }

        pc->res = res;
    }
}


static void
ngx_http_collab_pg_done(ngx_http_collab_pg_conn_t *pc)
{
    PGresult                  *res;
    ngx_http_collab_pg_req_t  *req;

    res = pc->res;
    pc->res = NULL;

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    switch (pc->state) {

    case NGX_HTTP_COLLAB_PG_CHECKING:
        ngx_http_collab_pg_checked(pc, res);
        break;

    case NGX_HTTP_COLLAB_PG_PREPARING:
        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            ngx_str_t  msg;

            msg = ngx_http_collab_pg_errmsg(res ? PQresultErrorMessage(res)
                                                : "no result");
            ngx_log_error(NGX_LOG_ERR, ngx_http_collab_pg_pool->log, 0,
                          "collab: postgres %s: preparing \"%s\" failed: %V",
                          ngx_http_collab_pg_pool->peer,
                          ngx_http_collab_pg_pool->stmts[pc->prepared].name,
                          &msg);
            ngx_http_collab_pg_close(pc);
            pc->backoff = NGX_HTTP_COLLAB_PG_BACKOFF_MAX;
            ngx_http_collab_pg_schedule(pc);
            break;
        }

        pc->prepared++;
        ngx_http_collab_pg_prepare(pc);
        break;

    case NGX_HTTP_COLLAB_PG_BUSY:
        req = pc->req;
        pc->req = NULL;
        pc->state = NGX_HTTP_COLLAB_PG_IDLE;

        /* the handler may submit more requests, to this connection too */
        req->handler(req, NGX_HTTP_COLLAB_PG_OK, res);
        PQclear(res);

        ngx_http_collab_pg_dispatch();
        return;

    default:
        break;
    }

    if (res) {
        PQclear(res);
    }
}


static void
ngx_http_collab_pg_checked(ngx_http_collab_pg_conn_t *pc, PGresult *res)
{
    char                       *v, *state;
    ngx_str_t                   msg;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    if (res && PQresultStatus(res) == PGRES_TUPLES_OK
        && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
    {
        v = PQgetvalue(res, 0, 0);

        if (ngx_atoi((u_char *) v, ngx_strlen(v))
            == NGX_HTTP_COLLAB_PG_SCHEMA_VERSION)
        {
            pc->state = NGX_HTTP_COLLAB_PG_PREPARING;
            ngx_http_collab_pg_prepare(pc);
            return;
        }

        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "collab: postgres %s: database schema version is %s, "
                      "this module needs schema version %d: apply the "
                      "sql/ files up to " NGX_HTTP_COLLAB_PG_SCHEMA_FILE
                      " (connection %ui not used, retrying later)",
                      pool->peer, v, NGX_HTTP_COLLAB_PG_SCHEMA_VERSION,
                      pc->index);

    } else {
        state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        msg = ngx_http_collab_pg_errmsg(res ? PQresultErrorMessage(res)
                                            : "no result");

        if (state && ngx_strcmp(state, "42P01") == 0) {
            ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                          "collab: postgres %s: the collab schema is missing "
                          "(no table collab_schema_version): apply the sql/ "
                          "files up to " NGX_HTTP_COLLAB_PG_SCHEMA_FILE
                          " (schema version "
                          "%d expected; connection %ui not used, retrying "
                          "later)", pool->peer,
                          NGX_HTTP_COLLAB_PG_SCHEMA_VERSION, pc->index);

        } else {
            ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                          "collab: postgres %s: schema version check failed "
                          "(schema version %d expected, see "
                          NGX_HTTP_COLLAB_PG_SCHEMA_FILE "): %V",
                          pool->peer, NGX_HTTP_COLLAB_PG_SCHEMA_VERSION,
                          &msg);
        }
    }

    ngx_http_collab_pg_close(pc);
    pc->backoff = NGX_HTTP_COLLAB_PG_BACKOFF_MAX;
    ngx_http_collab_pg_schedule(pc);
}


static void
ngx_http_collab_pg_prepare(ngx_http_collab_pg_conn_t *pc)
{
    ngx_http_collab_pg_stmt_t  *st;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    if (pc->prepared == pool->nstmts) {
        ngx_http_collab_pg_ready(pc);
        return;
    }

    st = &pool->stmts[pc->prepared];

    if (!PQsendPrepare(pc->conn, st->name, st->sql, st->nparams, NULL)) {
        ngx_http_collab_pg_lost(pc, "prepare");
        return;
    }

    ngx_http_collab_pg_timer(pc, 1);
    ngx_http_collab_pg_flush(pc);
}


static void
ngx_http_collab_pg_ready(ngx_http_collab_pg_conn_t *pc)
{
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    pc->state = NGX_HTTP_COLLAB_PG_IDLE;
    pc->backoff = NGX_HTTP_COLLAB_PG_BACKOFF_MIN;
    pool->up++;
    pool->starting = 0;

    ngx_log_error(NGX_LOG_NOTICE, pool->log, 0,
                  "collab: postgres %s: connection %ui ready "
                  "(schema version %d, %ui of %ui up)",
                  pool->peer, pc->index, NGX_HTTP_COLLAB_PG_SCHEMA_VERSION,
                  pool->up, pool->nconns);

    ngx_http_collab_pg_dispatch();
}


static void
ngx_http_collab_pg_run(ngx_http_collab_pg_conn_t *pc,
    ngx_http_collab_pg_req_t *req)
{
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    if (!PQsendQueryPrepared(pc->conn, pool->stmts[req->stmt].name,
                             req->nparams, req->values, req->lengths,
                             req->formats, 0))
    {
        /* nothing was sent: the request may still go elsewhere */
        ngx_http_collab_pg_lost(pc, "send");
        (void) ngx_http_collab_pg_send(req);
        return;
    }

    ngx_http_collab_pg_statements++;

    pc->req = req;
    pc->state = NGX_HTTP_COLLAB_PG_BUSY;

    /* not cancelable: a graceful shutdown waits for queries in flight */
    ngx_http_collab_pg_timer(pc, 0);
    ngx_http_collab_pg_flush(pc);
}


static void
ngx_http_collab_pg_dispatch(void)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_collab_pg_conn_t  *pc;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    for (i = 0; i < pool->nconns && !ngx_queue_empty(&pool->queue); i++) {
        pc = &pool->conns[i];

        if (pc->state != NGX_HTTP_COLLAB_PG_IDLE) {
            continue;
        }

        q = ngx_queue_head(&pool->queue);
        ngx_queue_remove(q);
        pool->queued--;

        ngx_http_collab_pg_run(pc, ngx_queue_data(q, ngx_http_collab_pg_req_t,
                                                  queue));
    }
}


static void
ngx_http_collab_pg_lost(ngx_http_collab_pg_conn_t *pc, const char *what)
{
    ngx_str_t                   msg;
    ngx_uint_t                  was_up;
    ngx_http_collab_pg_req_t   *req;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    was_up = (pc->state == NGX_HTTP_COLLAB_PG_IDLE
              || pc->state == NGX_HTTP_COLLAB_PG_BUSY);

    msg = ngx_http_collab_pg_errmsg(pc->conn ? PQerrorMessage(pc->conn)
                                             : "");
    if (msg.len == 0) {
        ngx_str_set(&msg, "connection closed");
    }

    ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                  "collab: postgres %s: connection %ui %s (%s): %V",
                  pool->peer, pc->index,
                  was_up ? "lost" : "failed", what, &msg);

    req = pc->req;
    pc->req = NULL;

    ngx_http_collab_pg_close(pc);

    if (was_up) {
        pool->up--;
    }

    ngx_http_collab_pg_schedule(pc);

    if (req) {
        /* it may or may not have been committed */
        req->handler(req, NGX_HTTP_COLLAB_PG_UNKNOWN, NULL);
    }

    if (pool->up == 0 && !pool->starting) {
        ngx_http_collab_pg_flush_queue();
    }
}


static void
ngx_http_collab_pg_flush_queue(void)
{
    ngx_queue_t                *q;
    ngx_http_collab_pg_req_t   *req;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    while (!ngx_queue_empty(&pool->queue)) {
        q = ngx_queue_head(&pool->queue);
        ngx_queue_remove(q);
        pool->queued--;

        req = ngx_queue_data(q, ngx_http_collab_pg_req_t, queue);
        req->handler(req, NGX_HTTP_COLLAB_PG_UNAVAILABLE, NULL);
    }
}


static void
ngx_http_collab_pg_close(ngx_http_collab_pg_conn_t *pc)
{
    ngx_uint_t         flags;
    ngx_connection_t  *c;

    c = pc->c;

    if (c) {
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        /*
         * libpq closes the socket itself when it sees the server go away:
         * epoll forgot a closed fd already, and asking it again would fail
         */
        flags = (pc->conn && PQsocket(pc->conn) == c->fd) ? 0
                                                          : NGX_CLOSE_EVENT;

        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, flags);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        /* libpq owns the socket and closes it in PQfinish() */
        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
        pc->c = NULL;
    }

    if (pc->res) {
        PQclear(pc->res);
        pc->res = NULL;
    }

    if (pc->conn) {
        PQfinish(pc->conn);
        pc->conn = NULL;
    }

    pc->state = NGX_HTTP_COLLAB_PG_CLOSED;
}


static void
ngx_http_collab_pg_schedule(ngx_http_collab_pg_conn_t *pc)
{
    ngx_msec_t  delay;

    /* exponential backoff, each delay drawn from [d/2, d] */
    delay = pc->backoff / 2 + (ngx_msec_t) ngx_random() % (pc->backoff / 2
                                                            + 1);

    pc->backoff *= 2;
    if (pc->backoff > NGX_HTTP_COLLAB_PG_BACKOFF_MAX) {
        pc->backoff = NGX_HTTP_COLLAB_PG_BACKOFF_MAX;
    }

    pc->state = NGX_HTTP_COLLAB_PG_BACKOFF;
    ngx_add_timer(&pc->retry, delay);

    ngx_http_collab_pg_settle();
}


static void
ngx_http_collab_pg_settle(void)
{
    ngx_uint_t                  i;
    ngx_http_collab_pg_pool_t  *pool;

    pool = ngx_http_collab_pg_pool;

    if (!pool->starting) {
        return;
    }

    for (i = 0; i < pool->nconns; i++) {
        if (pool->conns[i].state != NGX_HTTP_COLLAB_PG_BACKOFF) {
            return;
        }
    }

    /* every first attempt failed: from now on fail fast */
    pool->starting = 0;
    ngx_http_collab_pg_flush_queue();
}


static void
ngx_http_collab_pg_retry(ngx_event_t *ev)
{
    ngx_http_collab_pg_conn_t  *pc;

    pc = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_collab_pg_connect(pc);
}


static ngx_int_t
ngx_http_collab_pg_events(ngx_http_collab_pg_conn_t *pc, ngx_uint_t rd,
    ngx_uint_t wr)
{
    ngx_int_t  rc;

    rc = ngx_http_collab_pg_event(pc->c->write, NGX_WRITE_EVENT, wr);

    if (rc == NGX_OK) {
        rc = ngx_http_collab_pg_event(pc->c->read, NGX_READ_EVENT, rd);
    }

    return (rc == NGX_OK) ? NGX_OK : NGX_ERROR;
}


/* adds or deletes one event of the connection so that it is as wanted */

static ngx_int_t
ngx_http_collab_pg_event(ngx_event_t *ev, ngx_int_t event, ngx_uint_t want)
{
    if (want && !ev->active) {
        return ngx_add_event(ev, event, NGX_LEVEL_EVENT);
    }

    if (!want && ev->active) {
        return ngx_del_event(ev, event, 0);
    }

    return NGX_OK;
}


static void
ngx_http_collab_pg_timer(ngx_http_collab_pg_conn_t *pc,
    ngx_uint_t cancelable)
{
    ngx_event_t  *rev;

    rev = pc->c->read;

    if (rev->timer_set) {
        ngx_del_timer(rev);
    }

    rev->cancelable = cancelable;
    ngx_add_timer(rev, ngx_http_collab_pg_pool->timeout);
}


static void
ngx_http_collab_pg_fail(ngx_http_collab_pg_req_t *req, ngx_int_t rc)
{
    ngx_log_t  *log;

    log = ngx_http_collab_pg_pool ? ngx_http_collab_pg_pool->log
                                  : ngx_cycle->log;

    ngx_memzero(&req->post, sizeof(ngx_event_t));
    req->post.handler = ngx_http_collab_pg_posted;
    req->post.data = req;
    req->post.log = log;

    req->rc = rc;

    ngx_post_event(&req->post, &ngx_posted_events);
}


static void
ngx_http_collab_pg_posted(ngx_event_t *ev)
{
    ngx_http_collab_pg_req_t  *req;

    req = ev->data;

    req->handler(req, req->rc, NULL);
}


static ngx_str_t
ngx_http_collab_pg_errmsg(const char *msg)
{
    u_char     *nl;
    ngx_str_t   s;

    /* libpq messages span lines; the first one says what happened */
    s.data = (u_char *) msg;
    s.len = ngx_strlen(msg);

    nl = ngx_strlchr(s.data, s.data + s.len, '\n');
    if (nl) {
        s.len = nl - s.data;
    }

    while (s.len && s.data[s.len - 1] == ' ') {
        s.len--;
    }

    return s;
}


static void
ngx_http_collab_pg_status(ngx_http_collab_status_t *st)
{
    ngx_http_collab_status_counter(st, "statements",
                                   ngx_http_collab_pg_statements);
}

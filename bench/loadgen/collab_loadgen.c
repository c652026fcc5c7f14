/*
 * collab_loadgen: a ShareDB-protocol load generator over WebSocket.
 *
 * One thread, one epoll set, many connections (edge-triggered, non-blocking
 * sockets), each connection one ShareDB client.  Modes:
 *
 *   writers  W writers (and R readers) on D documents: each writer keeps one
 *            op in flight (the ShareDB client discipline), either closed loop
 *            (--rate 0: the next op leaves when the ack arrives) or open loop
 *            at --rate ops/s.  Ack latency per op, delivery latency per op per
 *            reader (the reader knows the send time by src+seq; with
 *            COLLAB_SRC_SECRET set, also by the public form of the src that
 *            our server shows others, HMAC-SHA256 of it), committed ops/s.
 *   idle     N connections that only handshake, held for --hold seconds
 *            (the orchestrator samples server RSS/CPU meanwhile).
 *   replay   one connection replays a file of text-unicode ops (one JSON op
 *            a line), one op per ack, then fetches the document and compares
 *            it with --expect byte for byte.
 *
 * Open-loop latency is measured from the time an op was due when the
 * previous op's ack made it late (no coordinated omission), otherwise from
 * when it was written.  Every run prints one JSON line on stdout, including
 * the load generator's own CPU use so it can be shown not to be the
 * bottleneck.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <yajl/yajl_tree.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lg_hist.h"
#include "lg_json.h"
#include "lg_ws.h"


#define LG_RING            512
#define LG_SRC_MAX         64
#define LG_PUB_LEN         32
#define LG_IN_INIT         16384
#define LG_MSG_MAX         4096
#define LG_HS                                                                \
    "{\"a\":\"hs\",\"id\":null,\"protocol\":1,\"protocolMinor\":2}"
#define LG_TEXT_URI        "http://sharejs.org/types/text-unicode"


typedef enum {
    LG_MODE_WRITERS = 0,
    LG_MODE_IDLE,
    LG_MODE_REPLAY
} lg_mode_e;


typedef enum {
    LG_ROLE_WRITER = 0,
    LG_ROLE_READER,
    LG_ROLE_IDLE,
    LG_ROLE_REPLAY
} lg_role_e;


typedef enum {
    LG_CS_NEW = 0,
    LG_CS_CONNECTING,
    LG_CS_UPGRADING,
    LG_CS_HS,
    LG_CS_READY,
    LG_CS_CLOSED
} lg_cstate_e;


typedef enum {
    LG_PH_CONNECT = 0,
    LG_PH_CREATE,
    LG_PH_SUBSCRIBE,
    LG_PH_RUN,
    LG_PH_DRAIN,
    LG_PH_DONE
} lg_phase_e;


typedef enum {
    LG_IF_NONE = 0,
    LG_IF_CREATE,
    LG_IF_OP,
    LG_IF_FETCH
} lg_inflight_e;


typedef struct {
    int64_t             seq;
    uint64_t            t;
    int                 measured;
} lg_sent_t;


typedef struct {
    int                 fd;
    int                 idx;
    lg_role_e           role;
    lg_cstate_e         state;
    int                 doc;

    uint8_t            *in;
    size_t              in_len;
    size_t              in_cap;
    char               *frag;
    size_t              frag_len;
    size_t              frag_cap;
    uint8_t            *out;
    size_t              out_off;
    size_t              out_len;
    size_t              out_cap;
    unsigned            blocked:1;
    unsigned            subscribed:1;

    char                src[LG_SRC_MAX];
    size_t              src_len;
    char                pub[LG_PUB_LEN + 1];  /* what readers see of src */

    int64_t             version;
    int64_t             seq;
    lg_inflight_e       inflight;
    int64_t             inflight_seq;
    uint64_t            inflight_base;
    int                 inflight_measured;
    uint64_t            due;
    int                 next_create;

    lg_sent_t           ring[LG_RING];
} lg_conn_t;


typedef struct {
    /* options */
    lg_mode_e           mode;
    const char         *host;
    int                 port;
    const char         *path;
    const char         *collection;
    const char         *token;       /* --token, or NULL */
    char                prefix[64];
    const char         *label;
    const char         *init_text;
    const char         *ins_text;
    int                 docs;
    int                 writers;
    int                 readers;
    int                 idle;
    double              rate;
    double              warmup;
    double              duration;
    double              hold;
    double              timeout;
    int                 nosub;
    int                 src_addrs;
    int                 src_base;
    int                 max_pending;
    const char         *ops_file;
    const char         *expect_file;
    long                max_ops;

    /* state */
    int                 epfd;
    lg_conn_t          *conns;
    int                 nconns;
    int                 next_connect;
    int                 pending;
    int                 ready;
    int                 failed;
    int                 disconnects;
    int                 created;
    int                 creators;
    int                 creators_done;
    int                 to_subscribe;
    int                 subscribed;
    lg_phase_e          phase;
    uint64_t            t_start;
    uint64_t            t_ready;
    uint64_t            t_run;
    uint64_t            t_meas;
    uint64_t            t_end;
    uint64_t            next_due_min;
    uint64_t            period;
    uint64_t            rng;
    long                errors;
    int                 error_logs;
    long                acks;
    long                sent;
    long                deliveries_unmatched;
    lg_hist_t           ack;
    lg_hist_t           delivery;
    struct rusage       ru_meas;
    int                 ru_taken;
    long                duplicates;

    /* src -> writer index */
    int                *map;
    size_t              map_cap;

    /* replay */
    char              **ops;
    long                nops;
    long                next_op;
    char               *expect;
    size_t              expect_len;
    int                 match;
    uint64_t            t_replay_start;
    uint64_t            t_replay_end;
} lg_t;


static lg_t  g;


static uint64_t lg_now(void);
static uint64_t lg_rand(void);
static void lg_die(const char *fmt, const char *arg);
static void lg_usage(void);
static void lg_options(int argc, char **argv);
static void lg_setup(void);
static char *lg_read_file(const char *name, size_t *len);
static void lg_load_ops(void);
static void lg_connect_more(void);
static void lg_connect(lg_conn_t *c);
static void lg_close(lg_conn_t *c, const char *why);
static void lg_on_event(lg_conn_t *c, uint32_t events);
static void lg_read(lg_conn_t *c);
static int lg_frames(lg_conn_t *c);
static void lg_message(lg_conn_t *c, char *p, size_t len);
static void lg_on_hs(lg_conn_t *c, lg_msg_t *m);
static void lg_on_op(lg_conn_t *c, lg_msg_t *m, char *p, size_t len);
static void lg_on_reply(lg_conn_t *c, lg_msg_t *m, char *p, size_t len);
static int64_t lg_tree_version(yajl_val data);
static void lg_send(lg_conn_t *c, const char *p, size_t len, int opcode);
static void lg_flush(lg_conn_t *c);
static void lg_create_next(lg_conn_t *c);
static void lg_subscribe_all(void);
static void lg_start_run(void);
static void lg_writer_send(lg_conn_t *c, uint64_t base);
static void lg_writer_after_ack(lg_conn_t *c, uint64_t now);
static void lg_replay_next(lg_conn_t *c);
static void lg_timers(uint64_t now);
static void lg_map_add(lg_conn_t *c, const char *key, size_t len);
static lg_conn_t *lg_map_find(const char *src, size_t len);
static void lg_public_src(lg_conn_t *c);
static void lg_report(void);


static uint64_t
lg_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}


static uint64_t
lg_rand(void)
{
    g.rng ^= g.rng << 13;
    g.rng ^= g.rng >> 7;
    g.rng ^= g.rng << 17;

    return g.rng;
}


static void
lg_die(const char *fmt, const char *arg)
{
    fprintf(stderr, "collab_loadgen: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}


static void
lg_usage(void)
{
    fprintf(stderr,
        "usage: collab_loadgen [options]\n"
        "  --mode writers|idle|replay   (writers)\n"
        "  --host H --port P --path /ws (127.0.0.1 8080 /ws)\n"
        "  --docs D --writers W --readers R\n"
        "  --rate R        ops/s per writer, 0 = closed loop (0)\n"
        "  --warmup S --duration S      seconds (1, 5)\n"
        "  --nosub         writers do not subscribe\n"
        "  --conns N --hold S           idle mode\n"
        "  --ops FILE --expect FILE --max-ops N   replay mode\n"
        "  --src-addrs N --src-base B   bind to 127.0.0.B..B+N-1\n"
        "  --max-pending N              handshakes in progress (256)\n"
        "  --collection C --prefix P --label L --timeout S\n"
        "  --token JWT     sent as Authorization: Bearer on the upgrade\n");
    exit(2);
}


static void
lg_options(int argc, char **argv)
{
    int                   o;
    static struct option  opts[] = {
        { "mode", 1, NULL, 'm' }, { "host", 1, NULL, 'H' },
        { "port", 1, NULL, 'p' }, { "path", 1, NULL, 'P' },
        { "docs", 1, NULL, 'd' }, { "writers", 1, NULL, 'w' },
        { "readers", 1, NULL, 'r' }, { "rate", 1, NULL, 'R' },
        { "warmup", 1, NULL, 'W' }, { "duration", 1, NULL, 'D' },
        { "nosub", 0, NULL, 'n' }, { "conns", 1, NULL, 'c' },
        { "hold", 1, NULL, 'h' }, { "ops", 1, NULL, 'o' },
        { "expect", 1, NULL, 'e' }, { "max-ops", 1, NULL, 'M' },
        { "src-addrs", 1, NULL, 'a' }, { "src-base", 1, NULL, 'b' },
        { "max-pending", 1, NULL, 'q' }, { "collection", 1, NULL, 'C' },
        { "prefix", 1, NULL, 'x' }, { "label", 1, NULL, 'l' },
        { "timeout", 1, NULL, 't' }, { "text", 1, NULL, 'T' },
        { "token", 1, NULL, 'k' },
        { NULL, 0, NULL, 0 }
    };

    g.host = "127.0.0.1";
    g.port = 8080;
    g.path = "/ws";
    g.collection = "bench";
    g.label = "";
    g.init_text = ".";
    g.ins_text = "x";
    g.docs = 1;
    g.writers = 1;
    g.warmup = 1;
    g.duration = 5;
    g.hold = 10;
    g.src_addrs = 1;
    g.src_base = 2;
    g.max_pending = 256;
    snprintf(g.prefix, sizeof(g.prefix), "lg%lx-%d",
             (unsigned long) time(NULL), (int) getpid());

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm':
            if (strcmp(optarg, "writers") == 0) {
                g.mode = LG_MODE_WRITERS;
            } else if (strcmp(optarg, "idle") == 0) {
                g.mode = LG_MODE_IDLE;
            } else if (strcmp(optarg, "replay") == 0) {
                g.mode = LG_MODE_REPLAY;
            } else {
                lg_die("unknown mode \"%s\"", optarg);
            }
            break;
        case 'H': g.host = optarg; break;
        case 'p': g.port = atoi(optarg); break;
        case 'P': g.path = optarg; break;
        case 'd': g.docs = atoi(optarg); break;
        case 'w': g.writers = atoi(optarg); break;
        case 'r': g.readers = atoi(optarg); break;
        case 'R': g.rate = atof(optarg); break;
        case 'W': g.warmup = atof(optarg); break;
        case 'D': g.duration = atof(optarg); break;
        case 'n': g.nosub = 1; break;
        case 'c': g.idle = atoi(optarg); break;
        case 'h': g.hold = atof(optarg); break;
        case 'o': g.ops_file = optarg; break;
        case 'e': g.expect_file = optarg; break;
        case 'M': g.max_ops = atol(optarg); break;
        case 'a': g.src_addrs = atoi(optarg); break;
        case 'b': g.src_base = atoi(optarg); break;
        case 'q': g.max_pending = atoi(optarg); break;
        case 'C': g.collection = optarg; break;
        case 'x': snprintf(g.prefix, sizeof(g.prefix), "%s", optarg); break;
        case 'l': g.label = optarg; break;
        case 't': g.timeout = atof(optarg); break;
        case 'T': g.ins_text = optarg; break;
        case 'k': g.token = optarg; break;
        default: lg_usage();
        }
    }

    if (g.docs < 1 || g.max_pending < 1 || g.src_addrs < 1
        || g.src_base + g.src_addrs > 255)
    {
        lg_usage();
    }

    if (g.mode == LG_MODE_REPLAY && g.ops_file == NULL) {
        lg_die("%s", "replay needs --ops FILE");
    }
}


static char *
lg_read_file(const char *name, size_t *len)
{
    long   n;
    char  *p;
    FILE  *f;

    f = fopen(name, "rb");
    if (f == NULL) {
        lg_die("cannot open \"%s\"", name);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc((size_t) n + 1);
    if (p == NULL || fread(p, 1, (size_t) n, f) != (size_t) n) {
        lg_die("cannot read \"%s\"", name);
    }

    p[n] = '\0';
    fclose(f);
    *len = (size_t) n;

    return p;
}


static void
lg_load_ops(void)
{
    long    cap;
    char   *p, *nl;
    size_t  len;

    p = lg_read_file(g.ops_file, &len);
    cap = 1024;
    g.ops = malloc(cap * sizeof(char *));
    if (g.ops == NULL) {
        lg_die("%s", "out of memory");
    }

    while (*p) {
        nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
        }

        if (*p) {
            if (g.nops == cap) {
                cap *= 2;
                g.ops = realloc(g.ops, cap * sizeof(char *));
                if (g.ops == NULL) {
                    lg_die("%s", "out of memory");
                }
            }
            g.ops[g.nops++] = p;
        }

        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }

    if (g.max_ops > 0 && g.max_ops < g.nops) {
        g.nops = g.max_ops;
    }

    if (g.expect_file) {
        g.expect = lg_read_file(g.expect_file, &g.expect_len);
    }
}


static void
lg_setup(void)
{
    int            i, n;
    struct rlimit  rl;

    switch (g.mode) {
    case LG_MODE_WRITERS:
        n = g.writers + g.readers;
        break;
    case LG_MODE_IDLE:
        n = g.idle;
        break;
    default:
        n = 1;
        g.docs = 1;
        lg_load_ops();
    }

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0
        && (rlim_t) n + 16 > rl.rlim_cur)
    {
        fprintf(stderr, "collab_loadgen: %d connections exceed the open-file"
                " limit %lu: use several processes\n",
                n, (unsigned long) rl.rlim_cur);
        exit(1);
    }

    g.nconns = n;
    g.conns = calloc((size_t) n, sizeof(lg_conn_t));
    g.map_cap = 16;
    while (g.map_cap < (size_t) (g.writers + 1) * 4) {
        g.map_cap *= 2;
    }
    g.map = malloc(g.map_cap * sizeof(int));
    if (g.conns == NULL || g.map == NULL) {
        lg_die("%s", "out of memory");
    }
    memset(g.map, 0xff, g.map_cap * sizeof(int));

    for (i = 0; i < n; i++) {
        g.conns[i].fd = -1;
        g.conns[i].idx = i;
        g.conns[i].seq = 1;
        g.conns[i].version = 1;

        switch (g.mode) {
        case LG_MODE_WRITERS:
            if (i < g.writers) {
                g.conns[i].role = LG_ROLE_WRITER;
                g.conns[i].doc = i % g.docs;
            } else {
                g.conns[i].role = LG_ROLE_READER;
                g.conns[i].doc = (i - g.writers) % g.docs;
            }
            break;
        case LG_MODE_IDLE:
            g.conns[i].role = LG_ROLE_IDLE;
            break;
        default:
            g.conns[i].role = LG_ROLE_REPLAY;
        }
    }

    g.epfd = epoll_create1(0);
    if (g.epfd == -1) {
        lg_die("%s", "epoll_create1 failed");
    }

    g.rng = lg_now() ^ ((uint64_t) getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
    g.period = g.rate > 0 ? (uint64_t) (1e9 / g.rate) : 0;
    g.next_due_min = UINT64_MAX;

    if (g.timeout <= 0) {
        g.timeout = g.warmup + g.duration + g.hold + 120;
        if (g.mode == LG_MODE_REPLAY) {
            g.timeout = 3600;
        }
    }
}


static void
lg_connect_more(void)
{
    while (g.pending < g.max_pending && g.next_connect < g.nconns) {
        lg_connect(&g.conns[g.next_connect++]);
    }
}


static void
lg_connect(lg_conn_t *c)
{
    int                  fd, one;
    size_t               n;
    char                 req[8192 + 512];    /* a token fits */
    struct sockaddr_in   sa, src;
    struct epoll_event   ev;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        g.failed++;
        c->state = LG_CS_CLOSED;
        return;
    }

    one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (g.src_addrs > 1) {
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                          sizeof(one));
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000000u
                                    | (uint32_t) (g.src_base
                                                  + c->idx % g.src_addrs));
        if (bind(fd, (struct sockaddr *) &src, sizeof(src)) == -1) {
            perror("collab_loadgen: bind");
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) g.port);
    if (inet_pton(AF_INET, g.host, &sa.sin_addr) != 1) {
        lg_die("bad host \"%s\" (an IPv4 address)", g.host);
    }

    c->fd = fd;
    c->in_cap = LG_IN_INIT;
    c->in = malloc(c->in_cap);
    c->out_cap = 1024;
    c->out = malloc(c->out_cap);
    if (c->in == NULL || c->out == NULL) {
        lg_die("%s", "out of memory");
    }

    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
        lg_die("%s", "epoll_ctl failed");
    }

    g.pending++;

    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == -1
        && errno != EINPROGRESS)
    {
        lg_close(c, "connect");
        return;
    }

    c->state = LG_CS_CONNECTING;

    n = lg_ws_request(req, sizeof(req), g.host, g.path, g.token);
    memcpy(c->out, req, n);
    c->out_len = n;
}


static void
lg_close(lg_conn_t *c, const char *why)
{
    if (c->state == LG_CS_CLOSED) {
        return;
    }

    if (c->state < LG_CS_READY) {
        g.pending--;
        g.failed++;
        if (g.failed <= 5) {
            fprintf(stderr, "collab_loadgen: connection %d failed (%s): %s\n",
                    c->idx, why, strerror(errno));
        }

    } else if (g.phase != LG_PH_DONE) {
        g.disconnects++;
        if (g.disconnects <= 5) {
            fprintf(stderr, "collab_loadgen: connection %d closed (%s)\n",
                    c->idx, why);
        }
    }

    if (c->inflight == LG_IF_CREATE) {
        g.creators_done++;
    }

    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }

    c->state = LG_CS_CLOSED;
    c->inflight = LG_IF_NONE;
}


static void
lg_on_event(lg_conn_t *c, uint32_t events)
{
    int        err;
    socklen_t  len;

    if (c->state == LG_CS_CONNECTING) {
        err = 0;
        len = sizeof(err);
        (void) getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            errno = err;
            lg_close(c, "connect");
            return;
        }
        if (events & (EPOLLOUT | EPOLLIN)) {
            c->state = LG_CS_UPGRADING;
        }
    }

    if (events & EPOLLOUT) {
        c->blocked = 0;
        lg_flush(c);
    }

    if (c->state != LG_CS_CLOSED && (events & (EPOLLIN | EPOLLRDHUP
                                               | EPOLLHUP | EPOLLERR)))
    {
        lg_read(c);
    }
}


static void
lg_read(lg_conn_t *c)
{
    long     hl;
    ssize_t  n;

    for ( ;; ) {
        if (c->in_len == c->in_cap) {
            c->in_cap *= 2;
            c->in = realloc(c->in, c->in_cap);
            if (c->in == NULL) {
                lg_die("%s", "out of memory");
            }
        }

        n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);

        if (n == 0) {
            lg_close(c, "eof");
            return;
        }

        if (n < 0) {
            if (errno == EAGAIN) {
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            lg_close(c, "read");
            return;
        }

        c->in_len += (size_t) n;

        if (c->state == LG_CS_UPGRADING) {
            hl = lg_ws_response((char *) c->in, c->in_len);
            if (hl < 0) {
                errno = EPROTO;
                lg_close(c, "upgrade refused");
                return;
            }
            if (hl == 0) {
                continue;
            }

            memmove(c->in, c->in + hl, c->in_len - (size_t) hl);
            c->in_len -= (size_t) hl;
            c->state = LG_CS_HS;
            lg_send(c, LG_HS, sizeof(LG_HS) - 1, LG_WS_OP_TEXT);
        }

        if (c->state >= LG_CS_HS && lg_frames(c) != 0) {
            return;
        }
    }
}


/* handles every complete frame in c->in; returns -1 if c was closed */

static int
lg_frames(lg_conn_t *c)
{
    long           n;
    size_t         off;
    lg_ws_frame_t  f;

    off = 0;

    while (c->state != LG_CS_CLOSED) {
        n = lg_ws_decode(c->in + off, c->in_len - off, &f);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            lg_close(c, "bad frame");
            return -1;
        }

        off += (size_t) n;

        switch (f.opcode) {
        case LG_WS_OP_TEXT:
        case LG_WS_OP_BINARY:
        case LG_WS_OP_CONT:
            if (f.fin && f.opcode != LG_WS_OP_CONT && c->frag_len == 0) {
                lg_message(c, (char *) f.payload, f.len);
                break;
            }

            if (c->frag_len + f.len > c->frag_cap) {
                c->frag_cap = (c->frag_len + f.len) * 2;
                c->frag = realloc(c->frag, c->frag_cap);
                if (c->frag == NULL) {
                    lg_die("%s", "out of memory");
                }
            }
            memcpy(c->frag + c->frag_len, f.payload, f.len);
            c->frag_len += f.len;

            if (f.fin) {
                lg_message(c, c->frag, c->frag_len);
                c->frag_len = 0;
            }
            break;

        case LG_WS_OP_PING:
            lg_send(c, (char *) f.payload, f.len, LG_WS_OP_PONG);
            break;

        case LG_WS_OP_CLOSE:
            lg_close(c, "close frame");
            return -1;

        default:
            break;
        }
    }

    if (c->state == LG_CS_CLOSED) {
        return -1;
    }

    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }

    return 0;
}


static void
lg_message(lg_conn_t *c, char *p, size_t len)
{
    lg_msg_t  m;

    if (lg_json_scan(p, len, &m) != 0 || m.a == NULL) {
        g.errors++;
        if (g.error_logs++ < 5) {
            fprintf(stderr, "collab_loadgen: unparsed message: %.*s\n",
                    (int) (len > 200 ? 200 : len), p);
        }
        return;
    }

    if (m.a_len == 2 && memcmp(m.a, "op", 2) == 0) {
        lg_on_op(c, &m, p, len);

    } else if (m.a_len == 2 && memcmp(m.a, "hs", 2) == 0) {
        lg_on_hs(c, &m);

    } else if (m.a_len == 1 && (m.a[0] == 's' || m.a[0] == 'f')) {
        lg_on_reply(c, &m, p, len);

    } else if (m.has_error) {
        g.errors++;
        if (g.error_logs++ < 5) {
            fprintf(stderr, "collab_loadgen: error: %.*s\n",
                    (int) (len > 300 ? 300 : len), p);
        }
    }

    /* "init", "pp", presence and anything else: nothing to do */
}


static void
lg_on_hs(lg_conn_t *c, lg_msg_t *m)
{
    if (c->state != LG_CS_HS) {
        return;
    }

    if (m->id == NULL || m->id_len == 0 || m->id_len >= LG_SRC_MAX) {
        lg_close(c, "handshake without id");
        return;
    }

    memcpy(c->src, m->id, m->id_len);
    c->src_len = m->id_len;
    c->src[c->src_len] = '\0';
    c->state = LG_CS_READY;
    g.pending--;
    g.ready++;

    if (c->role == LG_ROLE_WRITER) {
        lg_map_add(c, c->src, c->src_len);
        lg_public_src(c);
    }
}


/* the public form of the src (our server's collab_src_secret), mapped too */
static void
lg_public_src(lg_conn_t *c)
{
    size_t          k;
    unsigned int    mdlen;
    const char     *secret;
    unsigned char   md[EVP_MAX_MD_SIZE];

    secret = getenv("COLLAB_SRC_SECRET");
    if (secret == NULL || *secret == '\0') {
        return;
    }

    if (HMAC(EVP_sha256(), secret, (int) strlen(secret),
             (const unsigned char *) c->src, c->src_len, md, &mdlen) == NULL
        || mdlen < LG_PUB_LEN / 2)
    {
        return;
    }

    for (k = 0; k < LG_PUB_LEN / 2; k++) {
        sprintf(&c->pub[2 * k], "%02x", md[k]);
    }

    lg_map_add(c, c->pub, LG_PUB_LEN);
}


static void
lg_on_op(lg_conn_t *c, lg_msg_t *m, char *p, size_t len)
{
    uint64_t    now;
    lg_conn_t  *w;
    lg_sent_t  *s;

    now = lg_now();

    if (c->inflight != LG_IF_NONE && m->seq == c->inflight_seq
        && (m->src == NULL
            || (m->src_len == c->src_len
                && memcmp(m->src, c->src, c->src_len) == 0)))
    {
        /* our ack (or the error for our op) */

        if (m->has_error) {
            if (c->inflight == LG_IF_CREATE
                && memmem(p, len, "ERR_DOC_ALREADY_CREATED", 23) != NULL)
            {
                m->has_error = 0;

            } else {
                g.errors++;
                if (g.error_logs++ < 5) {
                    fprintf(stderr, "collab_loadgen: op error: %.*s\n",
                            (int) (len > 300 ? 300 : len), p);
                }
            }
        }

        if (!m->has_error && m->v >= 0 && m->v + 1 > c->version) {
            c->version = m->v + 1;
        }

        if (c->inflight == LG_IF_CREATE) {
            c->inflight = LG_IF_NONE;
            if (!m->has_error) {
                g.created++;
            }
            lg_create_next(c);
            return;
        }

        c->inflight = LG_IF_NONE;

        if (!m->has_error && c->inflight_measured) {
            lg_hist_add(&g.ack, now - c->inflight_base);
            g.acks++;
        }

        if (c->role == LG_ROLE_REPLAY) {
            if (m->has_error) {
                g.t_replay_end = now;
                g.phase = LG_PH_DONE;
                return;
            }
            lg_replay_next(c);
            return;
        }

        lg_writer_after_ack(c, now);
        return;
    }

    if (m->has_error) {
        return;
    }

    if (m->v >= 0 && m->v + 1 <= c->version && c->role == LG_ROLE_READER) {
        /* an op it already has: a ShareDB client ignores it too */
        g.duplicates++;
        return;
    }

    if (m->v >= 0 && m->v + 1 > c->version) {
        c->version = m->v + 1;
    }

    if (c->role != LG_ROLE_READER || m->src == NULL || m->seq < 0) {
        return;
    }

    w = lg_map_find(m->src, m->src_len);
    if (w == NULL) {
        return;
    }

    s = &w->ring[m->seq % LG_RING];
    if (s->seq != m->seq) {
        g.deliveries_unmatched++;
        return;
    }

    if (s->measured) {
        lg_hist_add(&g.delivery, now - s->t);
    }
}


static void
lg_on_reply(lg_conn_t *c, lg_msg_t *m, char *p, size_t len)
{
    char          *s, err[128];
    yajl_val       tree, data, text;
    const char    *data_path[] = { "data", NULL };
    const char    *text_path[] = { "data", NULL };

    if (m->has_error) {
        g.errors++;
        if (g.error_logs++ < 5) {
            fprintf(stderr, "collab_loadgen: error: %.*s\n",
                    (int) (len > 300 ? 300 : len), p);
        }
    }

    s = malloc(len + 1);
    if (s == NULL) {
        lg_die("%s", "out of memory");
    }
    memcpy(s, p, len);
    s[len] = '\0';

    tree = yajl_tree_parse(s, err, sizeof(err));
    free(s);

    data = tree ? yajl_tree_get(tree, data_path, yajl_t_object) : NULL;

    if (m->a[0] == 's') {
        if (data && lg_tree_version(data) > c->version) {
            c->version = lg_tree_version(data);
        }

        if (!c->subscribed) {
            c->subscribed = 1;
            g.subscribed++;
        }

    } else if (c->inflight == LG_IF_FETCH) {
        c->inflight = LG_IF_NONE;
        text = data ? yajl_tree_get(data, text_path, yajl_t_string) : NULL;

        if (text && g.expect) {
            s = YAJL_GET_STRING(text);
            g.match = strlen(s) == g.expect_len
                      && memcmp(s, g.expect, g.expect_len) == 0;
            if (!g.match) {
                fprintf(stderr, "collab_loadgen: final text differs"
                        " (%zu bytes, expected %zu)\n",
                        strlen(s), g.expect_len);
            }
        }

        g.phase = LG_PH_DONE;
    }

    if (tree) {
        yajl_tree_free(tree);
    }
}


static int64_t
lg_tree_version(yajl_val data)
{
    yajl_val     v;
    const char  *path[] = { "v", NULL };

    v = yajl_tree_get(data, path, yajl_t_number);

    return (v && YAJL_IS_INTEGER(v)) ? YAJL_GET_INTEGER(v) : -1;
}


static void
lg_send(lg_conn_t *c, const char *p, size_t len, int opcode)
{
    size_t  need;

    if (c->state == LG_CS_CLOSED) {
        return;
    }

    need = c->out_len + len + 14;
    if (need > c->out_cap) {
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
            need = c->out_len + len + 14;
        }
        if (need > c->out_cap) {
            c->out_cap = need * 2;
            c->out = realloc(c->out, c->out_cap);
            if (c->out == NULL) {
                lg_die("%s", "out of memory");
            }
        }
    }

    c->out_len += lg_ws_encode(c->out + c->out_len, opcode, p, len,
                               (uint32_t) lg_rand());
    lg_flush(c);
}


static void
lg_flush(lg_conn_t *c)
{
    ssize_t  n;

    if (c->blocked || c->state < LG_CS_UPGRADING) {
        return;
    }

    while (c->out_off < c->out_len) {
        n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) {
                c->blocked = 1;
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            lg_close(c, "write");
            return;
        }
        c->out_off += (size_t) n;
    }

    c->out_off = 0;
    c->out_len = 0;
}


static void
lg_create_next(lg_conn_t *c)
{
    int   n, d;
    char  msg[LG_MSG_MAX];

    d = c->next_create;

    if (d >= g.docs || c->state != LG_CS_READY) {
        g.creators_done++;
        return;
    }

    c->next_create += g.creators;
    c->inflight = LG_IF_CREATE;
    c->inflight_seq = c->seq++;

    n = snprintf(msg, sizeof(msg),
                 "{\"a\":\"op\",\"c\":\"%s\",\"d\":\"%s-%d\",\"v\":0,"
                 "\"seq\":%lld,\"create\":{\"type\":\"" LG_TEXT_URI "\","
                 "\"data\":\"%s\"}}",
                 g.collection, g.prefix, d, (long long) c->inflight_seq,
                 g.init_text);

    lg_send(c, msg, (size_t) n, LG_WS_OP_TEXT);
}


static void
lg_subscribe_all(void)
{
    int         i, n;
    char        msg[LG_MSG_MAX];
    lg_conn_t  *c;

    g.phase = LG_PH_SUBSCRIBE;

    for (i = 0; i < g.nconns; i++) {
        c = &g.conns[i];

        if (c->state != LG_CS_READY
            || c->role == LG_ROLE_IDLE || c->role == LG_ROLE_REPLAY
            || (c->role == LG_ROLE_WRITER && g.nosub))
        {
            continue;
        }

        g.to_subscribe++;
        n = snprintf(msg, sizeof(msg),
                     "{\"a\":\"s\",\"c\":\"%s\",\"d\":\"%s-%d\"}",
                     g.collection, g.prefix, c->doc);
        lg_send(c, msg, (size_t) n, LG_WS_OP_TEXT);
    }
}


static void
lg_start_run(void)
{
    int         i;
    uint64_t    now;
    lg_conn_t  *c;

    now = lg_now();
    g.phase = LG_PH_RUN;
    g.t_run = now;
    g.t_meas = now + (uint64_t) (g.warmup * 1e9);
    g.t_end = g.t_meas + (uint64_t) (g.duration * 1e9);

    for (i = 0; i < g.nconns; i++) {
        c = &g.conns[i];

        if (c->state != LG_CS_READY) {
            continue;
        }

        if (c->role == LG_ROLE_REPLAY) {
            g.t_replay_start = now;
            g.t_meas = now;
            g.t_end = UINT64_MAX;
            lg_replay_next(c);
            continue;
        }

        if (c->role != LG_ROLE_WRITER) {
            continue;
        }

        if (g.period) {
            c->due = now + lg_rand() % g.period;
            if (c->due < g.next_due_min) {
                g.next_due_min = c->due;
            }

        } else {
            lg_writer_send(c, now);
        }
    }
}


static void
lg_writer_send(lg_conn_t *c, uint64_t base)
{
    int         n;
    char        msg[LG_MSG_MAX];
    int64_t     len, pos;
    uint64_t    now;
    lg_sent_t  *s;

    now = lg_now();

    /* every op inserts ins_text, so the length at a version is known */
    len = (int64_t) strlen(g.init_text)
          + (c->version - 1) * (int64_t) strlen(g.ins_text);
    pos = (int64_t) (lg_rand() % (uint64_t) (len + 1));

    c->inflight = LG_IF_OP;
    c->inflight_seq = c->seq++;
    c->inflight_base = base;
    c->inflight_measured = base >= g.t_meas && base < g.t_end;

    s = &c->ring[c->inflight_seq % LG_RING];
    s->seq = c->inflight_seq;
    s->t = now;
    s->measured = c->inflight_measured;

    if (pos > 0) {
        n = snprintf(msg, sizeof(msg),
                     "{\"a\":\"op\",\"c\":\"%s\",\"d\":\"%s-%d\",\"v\":%lld,"
                     "\"src\":\"%s\",\"seq\":%lld,\"op\":[%lld,\"%s\"]}",
                     g.collection, g.prefix, c->doc, (long long) c->version,
                     c->src, (long long) c->inflight_seq, (long long) pos,
                     g.ins_text);
    } else {
        n = snprintf(msg, sizeof(msg),
                     "{\"a\":\"op\",\"c\":\"%s\",\"d\":\"%s-%d\",\"v\":%lld,"
                     "\"src\":\"%s\",\"seq\":%lld,\"op\":[\"%s\"]}",
                     g.collection, g.prefix, c->doc, (long long) c->version,
                     c->src, (long long) c->inflight_seq, g.ins_text);
    }

    g.sent++;
    lg_send(c, msg, (size_t) n, LG_WS_OP_TEXT);
}


static void
lg_writer_after_ack(lg_conn_t *c, uint64_t now)
{
    uint64_t  due;

    if (g.phase != LG_PH_RUN || now >= g.t_end) {
        return;
    }

    if (g.period == 0) {
        lg_writer_send(c, now);
        return;
    }

    if (now >= c->due) {
        /* it was due while the previous op was in flight: count from then */
        due = c->due;
        c->due += g.period;
        lg_writer_send(c, due);
        return;
    }

    if (c->due < g.next_due_min) {
        g.next_due_min = c->due;
    }
}


static void
lg_replay_next(lg_conn_t *c)
{
    int      n;
    char    *msg;
    size_t   size;

    if (g.next_op >= g.nops) {
        g.t_replay_end = lg_now();
        c->inflight = LG_IF_FETCH;
        c->inflight_seq = -2;
        msg = malloc(LG_MSG_MAX);
        if (msg == NULL) {
            lg_die("%s", "out of memory");
        }
        n = snprintf(msg, LG_MSG_MAX,
                     "{\"a\":\"f\",\"c\":\"%s\",\"d\":\"%s-0\"}",
                     g.collection, g.prefix);
        lg_send(c, msg, (size_t) n, LG_WS_OP_TEXT);
        free(msg);
        return;
    }

    size = strlen(g.ops[g.next_op]) + 512;
    msg = malloc(size);
    if (msg == NULL) {
        lg_die("%s", "out of memory");
    }

    c->inflight = LG_IF_OP;
    c->inflight_seq = c->seq++;
    c->inflight_base = lg_now();
    c->inflight_measured = 1;

    n = snprintf(msg, size,
                 "{\"a\":\"op\",\"c\":\"%s\",\"d\":\"%s-0\",\"v\":%lld,"
                 "\"src\":\"%s\",\"seq\":%lld,\"op\":%s}",
                 g.collection, g.prefix, (long long) c->version, c->src,
                 (long long) c->inflight_seq, g.ops[g.next_op]);
    g.next_op++;
    g.sent++;

    lg_send(c, msg, (size_t) n, LG_WS_OP_TEXT);
    free(msg);
}


/* sends the ops of open-loop writers that came due */

static void
lg_timers(uint64_t now)
{
    int         i;
    uint64_t    min;
    lg_conn_t  *c;

    if (g.period == 0 || g.phase != LG_PH_RUN || now < g.next_due_min) {
        return;
    }

    min = UINT64_MAX;

    for (i = 0; i < g.writers; i++) {
        c = &g.conns[i];

        if (c->state != LG_CS_READY || c->inflight != LG_IF_NONE) {
            continue;
        }

        if (c->due <= now && now < g.t_end) {
            c->due += g.period;
            lg_writer_send(c, now);
            continue;
        }

        if (c->due < min) {
            min = c->due;
        }
    }

    g.next_due_min = min;
}


static void
lg_map_add(lg_conn_t *c, const char *key, size_t len)
{
    size_t    i;
    uint32_t  h;
    size_t    k;

    h = 2166136261u;
    for (k = 0; k < len; k++) {
        h = (h ^ (uint8_t) key[k]) * 16777619u;
    }

    for (i = h & (g.map_cap - 1); g.map[i] != -1; i = (i + 1) & (g.map_cap - 1))
    {
        /* linear probing */
    }

    g.map[i] = c->idx;
}


static lg_conn_t *
lg_map_find(const char *src, size_t len)
{
    size_t      i, k;
    uint32_t    h;
    lg_conn_t  *c;

    h = 2166136261u;
    for (k = 0; k < len; k++) {
        h = (h ^ (uint8_t) src[k]) * 16777619u;
    }

    for (i = h & (g.map_cap - 1); g.map[i] != -1; i = (i + 1) & (g.map_cap - 1))
    {
        c = &g.conns[g.map[i]];
        if ((c->src_len == len && memcmp(c->src, src, len) == 0)
            || (len == LG_PUB_LEN && c->pub[0]
                && memcmp(c->pub, src, len) == 0))
        {
            return c;
        }
    }

    return NULL;
}


static void
lg_report(void)
{
    int            i, unacked;
    double         meas, cpu, wall;
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);

    unacked = 0;
    for (i = 0; i < g.nconns; i++) {
        if (g.conns[i].inflight == LG_IF_OP) {
            unacked++;
        }
    }

    cpu = (double) (ru.ru_utime.tv_sec - g.ru_meas.ru_utime.tv_sec)
          + (ru.ru_utime.tv_usec - g.ru_meas.ru_utime.tv_usec) / 1e6
          + (double) (ru.ru_stime.tv_sec - g.ru_meas.ru_stime.tv_sec)
          + (ru.ru_stime.tv_usec - g.ru_meas.ru_stime.tv_usec) / 1e6;

    wall = (lg_now() - g.t_start) / 1e9;

    printf("{\"label\":\"%s\",\"mode\":\"%s\",\"port\":%d,\"conns\":%d,"
           "\"connected\":%d,\"connect_failures\":%d,\"disconnects\":%d,"
           "\"connect_s\":%.3f,",
           g.label,
           g.mode == LG_MODE_WRITERS ? "writers"
           : g.mode == LG_MODE_IDLE ? "idle" : "replay",
           g.port, g.nconns, g.ready, g.failed, g.disconnects,
           g.t_ready ? (g.t_ready - g.t_start) / 1e9 : -1.0);

    if (g.mode == LG_MODE_WRITERS) {
        meas = g.duration;
        printf("\"docs\":%d,\"writers\":%d,\"readers\":%d,\"rate\":%g,"
               "\"subscribe\":%s,\"duration_s\":%.3f,\"acks\":%ld,"
               "\"ops_per_s\":%.1f,\"unacked\":%d,\"ack\":",
               g.docs, g.writers, g.readers, g.rate,
               g.nosub ? "false" : "true", meas, g.acks,
               meas > 0 ? g.acks / meas : 0.0, unacked);
        lg_hist_json(stdout, &g.ack);
        printf(",\"delivery\":");
        lg_hist_json(stdout, &g.delivery);
        printf(",\"deliveries_unmatched\":%ld,\"duplicates\":%ld,",
               g.deliveries_unmatched, g.duplicates);

    } else if (g.mode == LG_MODE_REPLAY) {
        meas = g.t_replay_end > g.t_replay_start
               ? (g.t_replay_end - g.t_replay_start) / 1e9 : 0;
        printf("\"ops\":%ld,\"acks\":%ld,\"total_s\":%.3f,"
               "\"ops_per_s\":%.1f,\"match\":%s,\"ack\":",
               g.nops, g.acks, meas, meas > 0 ? g.acks / meas : 0.0,
               g.expect == NULL ? "null" : g.match ? "true" : "false");
        lg_hist_json(stdout, &g.ack);
        printf(",");

    } else {
        meas = g.hold;
        printf("\"hold_s\":%.1f,", g.hold);
    }

    printf("\"errors\":%ld,\"sent\":%ld,\"cpu_s\":%.3f,"
           "\"cpu_pct\":%.1f,\"wall_s\":%.2f}\n",
           g.errors, g.sent, cpu, meas > 0 ? 100.0 * cpu / meas : 0.0,
           wall);
    fflush(stdout);
}


int
main(int argc, char **argv)
{
    int                  i, n, tmo, creators;
    uint64_t             now, deadline, drain_until;
    struct epoll_event   evs[512];

    lg_options(argc, argv);
    lg_setup();

    g.t_start = lg_now();
    deadline = g.t_start + (uint64_t) (g.timeout * 1e9);
    drain_until = 0;

    lg_connect_more();

    while (g.phase != LG_PH_DONE) {
        now = lg_now();

        if (now >= deadline) {
            fprintf(stderr, "collab_loadgen: timeout in phase %d\n", g.phase);
            break;
        }

        switch (g.phase) {
        case LG_PH_CONNECT:
            lg_connect_more();
            if (g.ready + g.failed < g.nconns) {
                break;
            }

            g.t_ready = now;

            if (g.mode == LG_MODE_IDLE) {
                fprintf(stderr, "ready %d\n", g.ready);
                getrusage(RUSAGE_SELF, &g.ru_meas);
                g.phase = LG_PH_RUN;
                g.t_end = now + (uint64_t) (g.hold * 1e9);
                break;
            }

            g.phase = LG_PH_CREATE;
            creators = 0;
            for (i = 0; i < g.nconns && creators < 32; i++) {
                if (g.conns[i].state == LG_CS_READY
                    && g.conns[i].role != LG_ROLE_READER)
                {
                    g.conns[i].next_create = creators++;
                }
            }
            g.creators = creators;
            if (creators > g.docs) {
                g.creators = g.docs;
            }
            if (creators == 0) {
                lg_die("%s", "no connection could be opened");
            }
            for (i = 0, n = 0; i < g.nconns && n < g.creators; i++) {
                if (g.conns[i].state == LG_CS_READY
                    && g.conns[i].role != LG_ROLE_READER)
                {
                    lg_create_next(&g.conns[i]);
                    n++;
                }
            }
            break;

        case LG_PH_CREATE:
            if (g.creators_done >= g.creators) {
                if (g.created < g.docs) {
                    fprintf(stderr, "collab_loadgen: created %d of %d docs\n",
                            g.created, g.docs);
                }
                lg_subscribe_all();
            }
            break;

        case LG_PH_SUBSCRIBE:
            if (g.subscribed >= g.to_subscribe) {
                lg_start_run();
            }
            break;

        case LG_PH_RUN:
            if (g.mode == LG_MODE_IDLE) {
                if (now >= g.t_end) {
                    g.phase = LG_PH_DONE;
                }
                break;
            }

            if (!g.ru_taken && now >= g.t_meas) {
                getrusage(RUSAGE_SELF, &g.ru_meas);
                g.ru_taken = 1;
            }

            lg_timers(now);

            if (now >= g.t_end) {
                g.phase = LG_PH_DRAIN;
                drain_until = now + 5000000000ULL;
            }
            break;

        case LG_PH_DRAIN:
            n = 0;
            for (i = 0; i < g.writers; i++) {
                if (g.conns[i].inflight != LG_IF_NONE) {
                    n++;
                }
            }
            if (n == 0 && now >= g.t_end + 300000000ULL) {
                g.phase = LG_PH_DONE;
            }
            if (now >= drain_until) {
                g.phase = LG_PH_DONE;
            }
            break;

        default:
            break;
        }

        if (g.phase == LG_PH_DONE) {
            break;
        }

        tmo = 100;
        if (g.phase == LG_PH_RUN && g.period && g.next_due_min != UINT64_MAX)
        {
            now = lg_now();
            tmo = g.next_due_min > now
                  ? (int) ((g.next_due_min - now + 999999) / 1000000) : 0;
            if (tmo > 100) {
                tmo = 100;
            }
        }
        if (g.phase == LG_PH_CREATE || g.phase == LG_PH_SUBSCRIBE) {
            tmo = 10;
        }

        n = epoll_wait(g.epfd, evs, 512, tmo);

        for (i = 0; i < n; i++) {
            lg_on_event(evs[i].data.ptr, evs[i].events);
        }
    }

    lg_report();

    return g.failed || g.errors || g.disconnects
           || (g.mode == LG_MODE_REPLAY && g.expect && !g.match) ? 3 : 0;
}

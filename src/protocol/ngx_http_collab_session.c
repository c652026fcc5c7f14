/*
 * Interim ShareDB protocol layer: answers the handshake ("hs") with a
 * fresh, globally unique src id, answers "pp", and replies to anything
 * else with ShareDB's error shape (the request echoed back with an "error"
 * object added).  The full protocol replaces this file.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/random.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_collab.h"
#include "ws/ngx_http_collab_ws.h"
#include "protocol/ngx_http_collab_session.h"


/* deeper JSON is refused before yajl sees it (its tree code recurses) */
#define NGX_HTTP_COLLAB_SESSION_MAX_DEPTH  64

#define NGX_HTTP_COLLAB_SRC_BYTES          16


static ngx_int_t ngx_http_collab_session_depth_ok(u_char *p, size_t len);
static void ngx_http_collab_session_handshake(ngx_http_collab_ws_t *ws);
static void ngx_http_collab_session_error(ngx_http_collab_ws_t *ws,
    yajl_val request, const char *code, const char *message);
static ngx_int_t ngx_http_collab_session_gen(yajl_gen g, yajl_val v);
static ngx_int_t ngx_http_collab_session_gen_str(yajl_gen g, const char *s);
static void ngx_http_collab_session_reply(ngx_http_collab_ws_t *ws,
    yajl_gen g);
static void ngx_http_collab_session_src(u_char *out);


ngx_int_t
ngx_http_collab_session_pre_upgrade(ngx_http_request_t *r)
{
    /* the auth issue fills this in */
    return NGX_OK;
}


ngx_int_t
ngx_http_collab_session_open(ngx_http_collab_ws_t *ws)
{
    ws->session = NULL;
    return NGX_OK;
}


void
ngx_http_collab_session_message(ngx_http_collab_ws_t *ws, u_char *data,
    size_t len)
{
    char        *json;
    yajl_val     root, a;
    const char  *path[2], *action;

    if (ngx_strlchr(data, data + len, '\0') != NULL
        || ngx_http_collab_session_depth_ok(data, len) != NGX_OK)
    {
        ngx_http_collab_session_error(ws, NULL, "ERR_MESSAGE_BADLY_FORMED",
                                      "Invalid JSON");
        return;
    }

    /* yajl_tree wants a NUL-terminated copy */

    json = ngx_alloc(len + 1, ws->connection->log);
    if (json == NULL) {
        ngx_http_collab_ws_close(ws, 1011, "out of memory");
        return;
    }

    ngx_memcpy(json, data, len);
    json[len] = '\0';

    root = yajl_tree_parse(json, NULL, 0);

    ngx_free(json);

    if (root == NULL) {
        ngx_http_collab_session_error(ws, NULL, "ERR_MESSAGE_BADLY_FORMED",
                                      "Invalid JSON");
        return;
    }

    if (!YAJL_IS_OBJECT(root)) {
        ngx_http_collab_session_error(ws, NULL, "ERR_MESSAGE_BADLY_FORMED",
                                      "Received non-object message");
        yajl_tree_free(root);
        return;
    }

    path[0] = "a";
    path[1] = NULL;

    a = yajl_tree_get(root, path, yajl_t_string);
    action = (a != NULL) ? a->u.string : "";

    if (ngx_strcmp(action, "hs") == 0) {
        ngx_http_collab_session_handshake(ws);

    } else if (ngx_strcmp(action, "pp") == 0) {
        (void) ngx_http_collab_ws_send_text(ws, (u_char *) "{\"a\":\"pp\"}",
                                            sizeof("{\"a\":\"pp\"}") - 1);

    } else {
        /* ShareDB's answer to an unknown action (agent.js) */
        ngx_http_collab_session_error(ws, root, "ERR_MESSAGE_BADLY_FORMED",
                                      "Invalid or unknown message");
    }

    yajl_tree_free(root);
}


void
ngx_http_collab_session_close(ngx_http_collab_ws_t *ws)
{
    ws->session = NULL;
}


static ngx_int_t
ngx_http_collab_session_depth_ok(u_char *p, size_t len)
{
    u_char      *end;
    ngx_uint_t   depth, in_string;

    depth = 0;
    in_string = 0;

    for (end = p + len; p < end; p++) {

        if (in_string) {
            if (*p == '\\') {
                p++;

            } else if (*p == '"') {
                in_string = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            in_string = 1;
            break;

        case '[':
        case '{':
            if (++depth > NGX_HTTP_COLLAB_SESSION_MAX_DEPTH) {
                return NGX_DECLINED;
            }
            break;

        case ']':
        case '}':
            if (depth) {
                depth--;
            }
            break;
        }
    }

    return NGX_OK;
}


static void
ngx_http_collab_session_handshake(ngx_http_collab_ws_t *ws)
{
    u_char    src[2 * NGX_HTTP_COLLAB_SRC_BYTES];
    yajl_gen  g;

    /*
     * Always a fresh id: a client's previous id is not trusted until the
     * auth layer can tie it to a principal.
     */

    ngx_http_collab_session_src(src);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_collab_ws_close(ws, 1011, "out of memory");
        return;
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_collab_session_gen_str(g, "a") != NGX_OK
        || ngx_http_collab_session_gen_str(g, "hs") != NGX_OK
        || ngx_http_collab_session_gen_str(g, "protocol") != NGX_OK
        || yajl_gen_integer(g, 1) != yajl_gen_status_ok
        || ngx_http_collab_session_gen_str(g, "protocolMinor") != NGX_OK
        || yajl_gen_integer(g, 2) != yajl_gen_status_ok
        || ngx_http_collab_session_gen_str(g, "id") != NGX_OK
        || yajl_gen_string(g, src, sizeof(src)) != yajl_gen_status_ok
        || ngx_http_collab_session_gen_str(g, "type") != NGX_OK
        || ngx_http_collab_session_gen_str(g,
                                   "http://sharejs.org/types/JSONv0")
           != NGX_OK
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        ngx_http_collab_ws_close(ws, 1011, "internal error");
        return;
    }

    ngx_http_collab_session_reply(ws, g);
}


static void
ngx_http_collab_session_error(ngx_http_collab_ws_t *ws, yajl_val request,
    const char *code, const char *message)
{
    size_t    i;
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_collab_ws_close(ws, 1011, "out of memory");
        return;
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok) {
        goto failed;
    }

    if (request) {
        for (i = 0; i < request->u.object.len; i++) {
            if (ngx_strcmp(request->u.object.keys[i], "error") == 0) {
                continue;
            }

            if (ngx_http_collab_session_gen_str(g,
                                                request->u.object.keys[i])
                != NGX_OK
                || ngx_http_collab_session_gen(g,
                                               request->u.object.values[i])
                   != NGX_OK)
            {
                goto failed;
            }
        }
    }

    if (ngx_http_collab_session_gen_str(g, "error") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_collab_session_gen_str(g, "code") != NGX_OK
        || ngx_http_collab_session_gen_str(g, code) != NGX_OK
        || ngx_http_collab_session_gen_str(g, "message") != NGX_OK
        || ngx_http_collab_session_gen_str(g, message) != NGX_OK
        || yajl_gen_map_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        goto failed;
    }

    ngx_http_collab_session_reply(ws, g);
    return;

failed:

    yajl_gen_free(g);
    ngx_http_collab_ws_close(ws, 1011, "internal error");
}


static ngx_int_t
ngx_http_collab_session_gen(yajl_gen g, yajl_val v)
{
    size_t           i;
    yajl_gen_status  s;

    switch (v->type) {

    case yajl_t_string:
        return ngx_http_collab_session_gen_str(g, v->u.string);

    case yajl_t_number:
        /* the original text, so numbers round-trip exactly */
        s = yajl_gen_number(g, v->u.number.r, ngx_strlen(v->u.number.r));
        break;

    case yajl_t_object:
        if (yajl_gen_map_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (i = 0; i < v->u.object.len; i++) {
            if (ngx_http_collab_session_gen_str(g, v->u.object.keys[i])
                != NGX_OK
                || ngx_http_collab_session_gen(g, v->u.object.values[i])
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        s = yajl_gen_map_close(g);
        break;

    case yajl_t_array:
        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (i = 0; i < v->u.array.len; i++) {
            if (ngx_http_collab_session_gen(g, v->u.array.values[i])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        s = yajl_gen_array_close(g);
        break;

    case yajl_t_true:
        s = yajl_gen_bool(g, 1);
        break;

    case yajl_t_false:
        s = yajl_gen_bool(g, 0);
        break;

    default: /* yajl_t_null */
        s = yajl_gen_null(g);
        break;
    }

    return (s == yajl_gen_status_ok) ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_collab_session_gen_str(yajl_gen g, const char *s)
{
    if (yajl_gen_string(g, (const unsigned char *) s, ngx_strlen(s))
        != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_collab_session_reply(ngx_http_collab_ws_t *ws, yajl_gen g)
{
    size_t                len;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        (void) ngx_http_collab_ws_send_text(ws, buf, len);
    }

    yajl_gen_free(g);
}


static void
ngx_http_collab_session_src(u_char *out)
{
    u_char             rnd[NGX_HTTP_COLLAB_SRC_BYTES];
    ngx_uint_t         i;
    static ngx_uint_t  seq;

    /*
     * The kernel CSPRNG makes ids unique across workers and hosts; the
     * fallback (entropy not yet initialised at boot) mixes pid, time and
     * a counter so it still differs per worker.
     */

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd)) {
        for (i = 0; i < sizeof(rnd); i++) {
            rnd[i] = (u_char) (ngx_random() ^ (ngx_pid >> (i % 4) * 8)
                               ^ (ngx_current_msec >> (i % 8) * 4)
                               ^ seq++);
        }
    }

    ngx_hex_dump(out, rnd, sizeof(rnd));
}

/*
 * collab_status: this worker's state as JSON (default) or Prometheus text
 * (?format=prometheus).  The answer is built in the request pool, which
 * lives only as long as this short request.
 */

#include "ngx_http_collab.h"
#include "status/ngx_http_collab_status.h"


#define NGX_HTTP_COLLAB_STATUS_SECTIONS  16
#define NGX_HTTP_COLLAB_STATUS_DEPTH     8
#define NGX_HTTP_COLLAB_STATUS_NAME      256
#define NGX_HTTP_COLLAB_STATUS_BUF       4096


typedef struct {
    const char                         *name;
    ngx_http_collab_status_section_pt   handler;
} ngx_http_collab_status_section_t;


struct ngx_http_collab_status_s {
    ngx_pool_t                         *pool;
    ngx_chain_t                        *out;
    ngx_chain_t                       **last;
    ngx_buf_t                          *buf;

    /* Prometheus: the current name prefix and its length per depth */
    u_char                              prefix[NGX_HTTP_COLLAB_STATUS_NAME];
    size_t                              plen[NGX_HTTP_COLLAB_STATUS_DEPTH];

    /* JSON: whether a member was already written at each depth */
    ngx_uint_t                          more[NGX_HTTP_COLLAB_STATUS_DEPTH];

    ngx_uint_t                          depth;
    ngx_uint_t                          prometheus;
    ngx_uint_t                          error;
};


static ngx_int_t ngx_http_collab_status_handler(ngx_http_request_t *r);
static void ngx_http_collab_status_write(ngx_http_collab_status_t *st,
    u_char *data, size_t len);
static void ngx_http_collab_status_printf(ngx_http_collab_status_t *st,
    const char *fmt, ...);
static void ngx_http_collab_status_json_name(ngx_http_collab_status_t *st,
    const char *name);
static void ngx_http_collab_status_json_string(ngx_http_collab_status_t *st,
    const char *value);
static void ngx_http_collab_status_prom_type(ngx_http_collab_status_t *st,
    const char *name, const char *suffix, const char *type);
static void ngx_http_collab_status_number(ngx_http_collab_status_t *st,
    const char *name, const char *suffix, const char *type, u_char *num,
    u_char *last);


static ngx_http_collab_status_section_t
    ngx_http_collab_status_sections[NGX_HTTP_COLLAB_STATUS_SECTIONS];
static ngx_uint_t  ngx_http_collab_status_nsections;


char *
ngx_http_collab_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t     *hclcf;
    ngx_http_collab_main_conf_t  *cmcf;

    hclcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (hclcf->handler == ngx_http_collab_status_handler) {
        return "is duplicate";
    }

    hclcf->handler = ngx_http_collab_status_handler;

    /* the subsystems it reports on must run in the workers */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_collab_module);
    cmcf->enabled = 1;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_collab_status_add_section(const char *name,
    ngx_http_collab_status_section_pt handler)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_collab_status_nsections; i++) {
        if (ngx_strcmp(ngx_http_collab_status_sections[i].name, name) == 0) {
            ngx_http_collab_status_sections[i].handler = handler;
            return NGX_OK;
        }
    }

    if (ngx_http_collab_status_nsections == NGX_HTTP_COLLAB_STATUS_SECTIONS) {
        return NGX_ERROR;
    }

    ngx_http_collab_status_sections[i].name = name;
    ngx_http_collab_status_sections[i].handler = handler;
    ngx_http_collab_status_nsections++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_collab_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_str_t                          format;
    ngx_uint_t                         i;
    ngx_chain_t                       *cl;
    ngx_http_collab_status_t          *st;
    ngx_http_collab_status_section_t  *sec;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_collab_status_t));
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->pool = r->pool;
    st->last = &st->out;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            st->prometheus = 1;

        } else if (format.len != 4
                   || ngx_strncmp(format.data, "json", 4) != 0)
        {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    if (st->prometheus) {
        ngx_memcpy(st->prefix, "collab", 6);
        st->plen[0] = 6;
        ngx_http_collab_status_gauge(st, "worker_pid", ngx_pid);
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");

    } else {
        ngx_http_collab_status_printf(st, "{\"pid\":%P,\"version\":\""
                                      NGX_HTTP_COLLAB_VERSION "\"", ngx_pid);
        st->more[0] = 1;
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    for (i = 0; i < ngx_http_collab_status_nsections; i++) {
        sec = &ngx_http_collab_status_sections[i];

        ngx_http_collab_status_open(st, sec->name);
        sec->handler(st);
        ngx_http_collab_status_close(st);
    }

    if (!st->prometheus) {
        ngx_http_collab_status_printf(st, "}\n");
    }

    if (st->error || st->out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;

    for (cl = st->out; cl; cl = cl->next) {
        r->headers_out.content_length_n += ngx_buf_size(cl->buf);
    }

    st->buf->last_buf = (r == r->main) ? 1 : 0;
    st->buf->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, st->out);
}


void
ngx_http_collab_status_open(ngx_http_collab_status_t *st, const char *name)
{
    size_t  len, plen;

    if (st->depth + 1 == NGX_HTTP_COLLAB_STATUS_DEPTH) {
        st->error = 1;
        return;
    }

    if (st->prometheus) {
        len = ngx_strlen(name);
        plen = st->plen[st->depth];

        if (plen + 1 + len >= NGX_HTTP_COLLAB_STATUS_NAME) {
            st->error = 1;
            return;
        }

        st->prefix[plen] = '_';
        ngx_memcpy(&st->prefix[plen + 1], name, len);
        st->depth++;
        st->plen[st->depth] = plen + 1 + len;
        return;
    }

    ngx_http_collab_status_json_name(st, name);
    ngx_http_collab_status_printf(st, "{");
    st->depth++;
    st->more[st->depth] = 0;
}


void
ngx_http_collab_status_close(ngx_http_collab_status_t *st)
{
    if (st->depth == 0) {
        st->error = 1;
        return;
    }

    st->depth--;

    if (!st->prometheus) {
        ngx_http_collab_status_printf(st, "}");
    }
}


void
ngx_http_collab_status_counter(ngx_http_collab_status_t *st,
    const char *name, uint64_t value)
{
    u_char  num[NGX_INT64_LEN];

    ngx_http_collab_status_number(st, name, "_total", "counter", num,
                                  ngx_sprintf(num, "%uL", value));
}


void
ngx_http_collab_status_gauge(ngx_http_collab_status_t *st,
    const char *name, int64_t value)
{
    u_char  num[NGX_INT64_LEN];

    ngx_http_collab_status_number(st, name, "", "gauge", num,
                                  ngx_sprintf(num, "%L", value));
}


/* a metric whose value is the number num .. last, already formatted */

static void
ngx_http_collab_status_number(ngx_http_collab_status_t *st,
    const char *name, const char *suffix, const char *type, u_char *num,
    u_char *last)
{
    if (st->prometheus) {
        ngx_http_collab_status_prom_type(st, name, suffix, type);
        ngx_http_collab_status_printf(st, "%s{pid=\"%P\"} ", suffix, ngx_pid);
        ngx_http_collab_status_write(st, num, last - num);
        ngx_http_collab_status_write(st, (u_char *) "\n", 1);
        return;
    }

    ngx_http_collab_status_json_name(st, name);
    ngx_http_collab_status_write(st, num, last - num);
}


void
ngx_http_collab_status_string(ngx_http_collab_status_t *st,
    const char *name, const char *value)
{
    u_char      *p;
    ngx_uint_t   i;

    if (st->prometheus) {
        ngx_http_collab_status_prom_type(st, name, "", "gauge");
        ngx_http_collab_status_printf(st, "{pid=\"%P\",%s=\"", ngx_pid, name);

        /* label values: escape \ " and newlines */
        p = (u_char *) value;
        for (i = 0; p[i]; i++) {
            if (p[i] == '\\' || p[i] == '"') {
                ngx_http_collab_status_write(st, (u_char *) "\\", 1);

            } else if (p[i] == '\n') {
                ngx_http_collab_status_write(st, (u_char *) "\\n", 2);
                continue;
            }

            ngx_http_collab_status_write(st, &p[i], 1);
        }

        ngx_http_collab_status_printf(st, "\"} 1\n");
        return;
    }

    ngx_http_collab_status_json_name(st, name);
    ngx_http_collab_status_json_string(st, value);
}


static void
ngx_http_collab_status_prom_type(ngx_http_collab_status_t *st,
    const char *name, const char *suffix, const char *type)
{
    size_t  plen;

    plen = st->plen[st->depth];

    ngx_http_collab_status_printf(st, "# TYPE ");
    ngx_http_collab_status_write(st, st->prefix, plen);
    ngx_http_collab_status_printf(st, "_%s%s %s\n", name, suffix, type);
    ngx_http_collab_status_write(st, st->prefix, plen);
    ngx_http_collab_status_printf(st, "_%s", name);
}


static void
ngx_http_collab_status_json_name(ngx_http_collab_status_t *st,
    const char *name)
{
    if (st->more[st->depth]) {
        ngx_http_collab_status_write(st, (u_char *) ",", 1);
    }

    st->more[st->depth] = 1;

    ngx_http_collab_status_json_string(st, name);
    ngx_http_collab_status_write(st, (u_char *) ":", 1);
}


static void
ngx_http_collab_status_json_string(ngx_http_collab_status_t *st,
    const char *value)
{
    u_char      *p;
    ngx_uint_t   i;

    ngx_http_collab_status_write(st, (u_char *) "\"", 1);

    p = (u_char *) value;

    for (i = 0; p[i]; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            ngx_http_collab_status_write(st, (u_char *) "\\", 1);
            ngx_http_collab_status_write(st, &p[i], 1);

        } else if (p[i] < 0x20) {
            ngx_http_collab_status_printf(st, "\\u%04xi", (ngx_uint_t) p[i]);

        } else {
            ngx_http_collab_status_write(st, &p[i], 1);
        }
    }

    ngx_http_collab_status_write(st, (u_char *) "\"", 1);
}


static void
ngx_http_collab_status_printf(ngx_http_collab_status_t *st,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    tmp[NGX_HTTP_COLLAB_STATUS_NAME * 2];

    va_start(args, fmt);
    p = ngx_vslprintf(tmp, tmp + sizeof(tmp), fmt, args);
    va_end(args);

    ngx_http_collab_status_write(st, tmp, p - tmp);
}


static void
ngx_http_collab_status_write(ngx_http_collab_status_t *st, u_char *data,
    size_t len)
{
    size_t        n;
    ngx_chain_t  *cl;

    while (len) {

        if (st->error) {
            return;
        }

        if (st->buf == NULL || st->buf->last == st->buf->end) {
            cl = ngx_alloc_chain_link(st->pool);
            if (cl == NULL) {
                st->error = 1;
                return;
            }

            cl->buf = ngx_create_temp_buf(st->pool,
                                          NGX_HTTP_COLLAB_STATUS_BUF);
            if (cl->buf == NULL) {
                st->error = 1;
                return;
            }

            cl->next = NULL;
            *st->last = cl;
            st->last = &cl->next;
            st->buf = cl->buf;
        }

        n = ngx_min(len, (size_t) (st->buf->end - st->buf->last));
        st->buf->last = ngx_cpymem(st->buf->last, data, n);
        data += n;
        len -= n;
    }
}

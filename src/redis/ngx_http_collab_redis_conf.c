/*
 * collab_redis: the Redis server, or the Sentinels that know it, and the
 * credentials.  Addresses are resolved here, once: workers never block on
 * DNS.
 *
 *   collab_redis host[:port] | unix:/path [user=] [password= | password_file=]
 *   collab_redis sentinel=<master name> host:port ... [user=] [password...]
 */

#include "ngx_http_collab.h"
#include "redis/ngx_http_collab_redis.h"


static ngx_int_t ngx_http_collab_redis_option(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf, ngx_str_t *v);
static ngx_int_t ngx_http_collab_redis_parse_addr(ngx_conf_t *cf,
    ngx_str_t *text, ngx_uint_t unix_ok, ngx_http_collab_redis_addr_t *a);


char *
ngx_http_collab_redis_set_addr(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_collab_main_conf_t  *cmcf = conf;

    ngx_str_t                     *value, *addr;
    ngx_uint_t                     i, naddrs;
    ngx_http_collab_redis_addr_t  *a;

    if (cmcf->redis_addr.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    naddrs = 0;
    addr = NULL;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')) {
            if (ngx_http_collab_redis_option(cf, cmcf, &value[i]) != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (addr == NULL) {
            addr = &value[i];
        }

        naddrs++;
    }

    if (naddrs == 0) {
        return "needs an address";
    }

    if (cmcf->redis_user.len && cmcf->redis_password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: \"collab_redis\" user= needs a "
                           "password= or password_file=");
        return NGX_CONF_ERROR;
    }

    if (cmcf->redis_sentinel_name.len == 0) {
        if (naddrs > 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "collab: \"collab_redis\" takes one address, "
                               "or sentinel=<master name> and the "
                               "Sentinels' addresses");
            return NGX_CONF_ERROR;
        }

        cmcf->redis_addr = *addr;

        return ngx_http_collab_redis_parse_addr(cf, addr, 1,
                                                &cmcf->redis_server)
               == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    /* logs name the master by the configuration's words */
    cmcf->redis_addr.len = sizeof("sentinel=") - 1
                           + cmcf->redis_sentinel_name.len;
    cmcf->redis_addr.data = ngx_pnalloc(cf->pool, cmcf->redis_addr.len);
    if (cmcf->redis_addr.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(cmcf->redis_addr.data, "sentinel=%V",
                &cmcf->redis_sentinel_name);

    cmcf->redis_sentinels = ngx_array_create(cf->pool, naddrs,
                                        sizeof(ngx_http_collab_redis_addr_t));
    if (cmcf->redis_sentinels == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')) {
            continue;
        }

        a = ngx_array_push(cmcf->redis_sentinels);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_collab_redis_parse_addr(cf, &value[i], 0, a) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* user=, password=, password_file=, sentinel= */
static ngx_int_t
ngx_http_collab_redis_option(ngx_conf_t *cf,
    ngx_http_collab_main_conf_t *cmcf, ngx_str_t *v)
{
    ngx_str_t  file, *pw;

    pw = &cmcf->redis_password;

    if (v->len > 5 && ngx_strncmp(v->data, "user=", 5) == 0) {
        cmcf->redis_user.data = v->data + 5;
        cmcf->redis_user.len = v->len - 5;
        return NGX_OK;
    }

    if (v->len > 9 && ngx_strncmp(v->data, "sentinel=", 9) == 0) {
        cmcf->redis_sentinel_name.data = v->data + 9;
        cmcf->redis_sentinel_name.len = v->len - 9;
        return NGX_OK;
    }

    if (v->len > 9 && ngx_strncmp(v->data, "password=", 9) == 0) {
        pw->data = v->data + 9;
        pw->len = v->len - 9;
        return NGX_OK;
    }

    if (v->len > 14 && ngx_strncmp(v->data, "password_file=", 14) == 0) {
        file.data = v->data + 14;
        file.len = v->len - 14;

        if (ngx_http_collab_conf_read_file(cf, &file, 1024,
                                           "Redis password file", pw)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* the file's bytes without one final newline */
        if (pw->len && pw->data[pw->len - 1] == '\n') {
            pw->data[--pw->len] = '\0';
        }

        if (pw->len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "collab: Redis password file \"%V\" is "
                               "empty", &file);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "collab: invalid \"collab_redis\" option \"%V\" "
                       "(user=, password=, password_file= or sentinel=)",
                       v);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_collab_redis_parse_addr(ngx_conf_t *cf, ngx_str_t *text,
    ngx_uint_t unix_ok, ngx_http_collab_redis_addr_t *a)
{
    size_t     len;
    u_char    *p;
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = *text;
    u.default_port = unix_ok ? 6379 : 26379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid \"collab_redis\" address "
                           "\"%V\": %s", text,
                           u.err ? u.err : "cannot parse");
        return NGX_ERROR;
    }

    if (u.uri.len || u.naddrs == 0 || (u.family == AF_UNIX && !unix_ok)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid \"collab_redis\" address "
                           "\"%V\": expected host:port%s", text,
                           unix_ok ? " or unix:/path" : "");
        return NGX_ERROR;
    }

    if (u.family == AF_UNIX) {
        len = text->len - 5;

        p = ngx_pnalloc(cf->pool, len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, text->data + 5, len);
        p[len] = '\0';

        a->host.data = p;
        a->host.len = len;
        a->port = 0;

        return NGX_OK;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                        NGX_SOCKADDR_STRLEN, 0);
    p[len] = '\0';

    a->host.data = p;
    a->host.len = len;
    a->port = ngx_inet_get_port(u.addrs[0].sockaddr);

    return NGX_OK;
}

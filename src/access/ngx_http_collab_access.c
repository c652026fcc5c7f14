/*
 * The role cache and the access policy (ngx_http_collab_access.h).
 *
 * One entry per (document, principal) asked about, in an rbtree by key
 * and in one LRU.  An entry is being asked (its waiters queued), known
 * (until its TTL) or failed (PostgreSQL away: NGX_DECLINED for a short
 * while, so that waiting sessions do not spin on it).  A change notice
 * drops the entries it names; one that is being asked is marked stale
 * and dropped when its answer comes, since the answer may predate the
 * change.
 */

#include "ngx_http_collab.h"
#include "access/ngx_http_collab_access.h"
#include "protocol/ngx_http_collab_session.h"
#include "redis/ngx_http_collab_redis.h"
#include "store/ngx_http_collab_store.h"

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>


#define NGX_HTTP_COLLAB_ACCESS_ASKING  0
#define NGX_HTTP_COLLAB_ACCESS_KNOWN   1
#define NGX_HTTP_COLLAB_ACCESS_FAILED  2


typedef struct {
    ngx_str_node_t             sn;          /* key: see _key() */
    ngx_queue_t                lru;
    ngx_queue_t                waiters;
    ngx_msec_t                 expires;
    ngx_http_collab_access_t   a;
    ngx_str_t                  c;           /* point into the key */
    ngx_str_t                  d;
    ngx_str_t                  principal;
    unsigned                   state:2;
    unsigned                   stale:1;
} ngx_http_collab_access_entry_t;


typedef struct {
    ngx_rbtree_t               tree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;
    ngx_uint_t                 n;
    ngx_msec_t                 ttl;
    ngx_str_t                  channel;     /* <prefix>access, heap */
    ngx_log_t                 *log;
} ngx_http_collab_access_cache_t;


static ngx_http_collab_access_entry_t *ngx_http_collab_access_entry(
    ngx_str_t *c, ngx_str_t *d, ngx_str_t *principal, uint32_t hash,
    ngx_str_t *key);
static void ngx_http_collab_access_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static void ngx_http_collab_access_free(ngx_http_collab_access_entry_t *e);
static void ngx_http_collab_access_drop(ngx_str_t *c, ngx_str_t *d);
static void ngx_http_collab_access_message(ngx_str_t *channel,
    u_char *payload, size_t len, void *data);
static u_char *ngx_http_collab_access_key(u_char *p, ngx_str_t *c,
    ngx_str_t *d, ngx_str_t *principal);


static ngx_http_collab_access_cache_t  ngx_http_collab_access_cache;

static const char  *ngx_http_collab_access_roles[] = {
    "none", "viewer", "commenter", "editor", "owner"
};


/* collab_collection_role <collection> none|viewer|commenter|editor */
char *
ngx_http_collab_access_collection_role(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_collab_loc_conf_t  *clcf = conf;

    ngx_str_t                          *value;
    ngx_uint_t                          i, role;
    ngx_http_collab_collection_role_t  *cr;

    value = cf->args->elts;

    for (role = 0; role < NGX_HTTP_COLLAB_ROLE_OWNER; role++) {
        if (ngx_strcmp(value[2].data, ngx_http_collab_access_roles[role])
            == 0)
        {
            break;
        }
    }

    if (role == NGX_HTTP_COLLAB_ROLE_OWNER) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "collab: invalid role \"%V\" for collection "
                           "\"%V\": none, viewer, commenter or editor",
                           &value[2], &value[1]);
        return NGX_CONF_ERROR;
    }

    if (clcf->collection_roles == NGX_CONF_UNSET_PTR) {
        clcf->collection_roles =
            ngx_array_create(cf->pool, 4,
                             sizeof(ngx_http_collab_collection_role_t));
        if (clcf->collection_roles == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    cr = clcf->collection_roles->elts;

    for (i = 0; i < clcf->collection_roles->nelts; i++) {
        if (cr[i].collection.len == value[1].len
            && ngx_strncmp(cr[i].collection.data, value[1].data,
                           value[1].len) == 0)
        {
            return "is duplicate for this collection";
        }
    }

    cr = ngx_array_push(clcf->collection_roles);
    if (cr == NULL) {
        return NGX_CONF_ERROR;
    }

    cr->collection = value[1];
    cr->role = role;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_collab_access_init_process(ngx_cycle_t *cycle,
    ngx_http_collab_main_conf_t *cmcf)
{
    ngx_str_t                        name = ngx_string("");
    ngx_int_t                        rc;
    ngx_http_collab_access_cache_t  *cache;

    cache = &ngx_http_collab_access_cache;

    ngx_rbtree_init(&cache->tree, &cache->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&cache->lru);

    cache->n = 0;
    cache->ttl = cmcf->access_ttl;
    cache->log = cycle->log;

    if (!ngx_http_collab_redis_enabled()) {
        /* one worker, one cache: the TTL and local notices suffice */
        return NGX_OK;
    }

    if (ngx_http_collab_redis_name(NULL, "access", &name, &cache->channel)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* unsigned notices too: operators publish them (docs/access.md) */
    rc = ngx_http_collab_redis_subscribe(&cache->channel,
                                         ngx_http_collab_access_message,
                                         cache, 1);

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


void
ngx_http_collab_access_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                     *q;
    ngx_http_collab_access_cache_t  *cache;

    cache = &ngx_http_collab_access_cache;

    if (cache->lru.next == NULL) {
        return;
    }

    /* nobody waits any more: the sessions are gone */
    while (!ngx_queue_empty(&cache->lru)) {
        q = ngx_queue_head(&cache->lru);
        ngx_http_collab_access_free(
            ngx_queue_data(q, ngx_http_collab_access_entry_t, lru));
    }

    if (cache->channel.data) {
        ngx_free(cache->channel.data);
        ngx_str_null(&cache->channel);
    }
}


ngx_int_t
ngx_http_collab_access_quick(ngx_http_collab_loc_conf_t *clcf,
    ngx_uint_t admin, ngx_str_t *c, ngx_uint_t need)
{
    if (!clcf->auth.enabled || admin
        || ngx_http_collab_access_role(clcf, c, NGX_HTTP_COLLAB_ROLE_NONE)
           >= need)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


ngx_uint_t
ngx_http_collab_access_role(ngx_http_collab_loc_conf_t *clcf, ngx_str_t *c,
    ngx_uint_t member)
{
    ngx_uint_t                          i, dflt;
    ngx_http_collab_collection_role_t  *cr;

    dflt = NGX_HTTP_COLLAB_ROLE_NONE;

    if (clcf->collection_roles) {
        cr = clcf->collection_roles->elts;

        for (i = 0; i < clcf->collection_roles->nelts; i++) {
            if (cr[i].collection.len == c->len
                && ngx_strncmp(cr[i].collection.data, c->data, c->len) == 0)
            {
                dflt = cr[i].role;
                break;
            }

            if (cr[i].collection.len == 1 && cr[i].collection.data[0] == '*')
            {
                /* unless the collection is named later */
                dflt = cr[i].role;
            }
        }
    }

    return ngx_max(dflt, member);
}


ngx_int_t
ngx_http_collab_access_lookup(ngx_str_t *c, ngx_str_t *d,
    ngx_str_t *principal, ngx_http_collab_access_t *a,
    ngx_http_collab_access_wait_t *w)
{
    u_char                           buf[512], *p;
    uint32_t                         hash;
    ngx_str_t                        key;
    ngx_http_collab_access_entry_t  *e;
    ngx_http_collab_access_cache_t  *cache;

    cache = &ngx_http_collab_access_cache;

    key.len = 3 * NGX_SIZE_T_LEN + c->len + d->len + principal->len;

    if (key.len <= sizeof(buf)) {
        key.data = buf;

    } else {
        key.data = ngx_alloc(key.len, cache->log);
        if (key.data == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_http_collab_access_key(key.data, c, d, principal);
    key.len = p - key.data;
    hash = ngx_crc32_short(key.data, key.len);

    e = (ngx_http_collab_access_entry_t *)
        ngx_str_rbtree_lookup(&cache->tree, &key, hash);

    if (e == NULL) {
        e = ngx_http_collab_access_entry(c, d, principal, hash, &key);
    }

    if (key.data != buf) {
        ngx_free(key.data);
    }

    if (e == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_remove(&e->lru);
    ngx_queue_insert_tail(&cache->lru, &e->lru);

    if (e->state == NGX_HTTP_COLLAB_ACCESS_KNOWN
        && (ngx_msec_int_t) (e->expires - ngx_current_msec) > 0)
    {
        *a = e->a;
        return NGX_OK;
    }

    if (e->state == NGX_HTTP_COLLAB_ACCESS_FAILED
        && (ngx_msec_int_t) (e->expires - ngx_current_msec) > 0)
    {
        return NGX_DECLINED;
    }

    if (e->state != NGX_HTTP_COLLAB_ACCESS_ASKING) {
        /* new, expired, or failed a while ago: ask (again) */
        e->state = NGX_HTTP_COLLAB_ACCESS_ASKING;
        e->stale = 0;

        if (ngx_http_collab_store_access(&e->c, &e->d, &e->principal,
                                         ngx_http_collab_access_done, e)
            != NGX_OK)
        {
            ngx_http_collab_access_free(e);
            return NGX_ERROR;
        }
    }

    w->entry = e;
    ngx_queue_insert_tail(&e->waiters, &w->queue);

    return NGX_AGAIN;
}


void
ngx_http_collab_access_cancel(ngx_http_collab_access_wait_t *w)
{
    if (w->entry) {
        ngx_queue_remove(&w->queue);
        w->entry = NULL;
    }
}


void
ngx_http_collab_access_changed(ngx_str_t *c, ngx_str_t *d)
{
    size_t                           len;
    yajl_gen                         g;
    const unsigned char             *buf;
    ngx_http_collab_access_cache_t  *cache;

    cache = &ngx_http_collab_access_cache;

    ngx_http_collab_access_drop(c, d);

    if (cache->channel.data == NULL) {
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return;
    }

    yajl_gen_array_open(g);

    if (c) {
        yajl_gen_string(g, c->data, c->len);
    }

    if (c && d) {
        yajl_gen_string(g, d->data, d->len);
    }

    yajl_gen_array_close(g);

    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        (void) ngx_http_collab_redis_publish(&cache->channel, (u_char *) buf,
                                             len);
    }

    yajl_gen_free(g);
}


const char *
ngx_http_collab_access_role_name(ngx_uint_t role)
{
    return ngx_http_collab_access_roles[ngx_min(role,
                                                NGX_HTTP_COLLAB_ROLE_OWNER)];
}


static ngx_http_collab_access_entry_t *
ngx_http_collab_access_entry(ngx_str_t *c, ngx_str_t *d,
    ngx_str_t *principal, uint32_t hash, ngx_str_t *key)
{
    u_char                          *p;
    ngx_queue_t                     *q;
    ngx_http_collab_access_entry_t  *e, *old;
    ngx_http_collab_access_cache_t  *cache;

    cache = &ngx_http_collab_access_cache;

    /* the least recently used that nobody waits for makes room */
    if (cache->n >= NGX_HTTP_COLLAB_ACCESS_MAX) {
        for (q = ngx_queue_head(&cache->lru);
             q != ngx_queue_sentinel(&cache->lru);
             q = ngx_queue_next(q))
        {
            old = ngx_queue_data(q, ngx_http_collab_access_entry_t, lru);

            if (old->state != NGX_HTTP_COLLAB_ACCESS_ASKING) {
                ngx_http_collab_access_free(old);
                break;
            }
        }
    }

    e = ngx_alloc(sizeof(ngx_http_collab_access_entry_t) + key->len
                  + c->len + d->len + principal->len, cache->log);
    if (e == NULL) {
        return NULL;
    }

    ngx_memzero(e, sizeof(ngx_http_collab_access_entry_t));

    p = (u_char *) (e + 1);

    e->sn.str.data = p;
    e->sn.str.len = key->len;
    e->sn.node.key = hash;
    p = ngx_cpymem(p, key->data, key->len);

    e->c.data = p;
    e->c.len = c->len;
    p = ngx_cpymem(p, c->data, c->len);

    e->d.data = p;
    e->d.len = d->len;
    p = ngx_cpymem(p, d->data, d->len);

    e->principal.data = p;
    e->principal.len = principal->len;
    ngx_memcpy(p, principal->data, principal->len);

    e->state = NGX_HTTP_COLLAB_ACCESS_FAILED;
    e->expires = ngx_current_msec;
    ngx_queue_init(&e->waiters);

    ngx_rbtree_insert(&cache->tree, &e->sn.node);
    ngx_queue_insert_tail(&cache->lru, &e->lru);
    cache->n++;

    return e;
}


static void
ngx_http_collab_access_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_access_entry_t  *e = data;

    ngx_queue_t                     *q, waiters;
    ngx_http_collab_access_wait_t   *w;
    ngx_http_collab_access_cache_t  *cache;

    cache = &ngx_http_collab_access_cache;

    if (rc == NGX_HTTP_COLLAB_STORE_OK && !e->stale) {
        /*
         * "no such document" holds only for those who asked now: whoever
         * creates it owns it the moment after, and others must not write
         * on the strength of a stale "anyone may"
         */
        e->state = NGX_HTTP_COLLAB_ACCESS_KNOWN;
        e->expires = ngx_current_msec + (res->exists ? cache->ttl : 1);
        e->a.role = res->role;
        e->a.exists = res->exists ? 1 : 0;
        e->a.deleted = res->deleted ? 1 : 0;

    } else if (!e->stale) {
        ngx_log_error(NGX_LOG_WARN, cache->log, 0,
                      "collab: roles of \"%V\" could not be read (%i): "
                      "asking again in %d ms", &e->d, rc,
                      NGX_HTTP_COLLAB_ACCESS_RETRY);

        e->state = NGX_HTTP_COLLAB_ACCESS_FAILED;
        e->expires = ngx_current_msec + NGX_HTTP_COLLAB_ACCESS_RETRY;
    }

    ngx_http_collab_store_result_free(res);

    /* the waiters ask again; a handler may cancel the others */
    ngx_queue_init(&waiters);

    if (!ngx_queue_empty(&e->waiters)) {
        ngx_queue_add(&waiters, &e->waiters);
        ngx_queue_init(&e->waiters);
    }

    if (e->stale) {
        ngx_http_collab_access_free(e);
    }

    while (!ngx_queue_empty(&waiters)) {
        q = ngx_queue_head(&waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_collab_access_wait_t, queue);
        w->entry = NULL;
        w->handler(w);
    }
}


static void
ngx_http_collab_access_free(ngx_http_collab_access_entry_t *e)
{
    ngx_queue_t                    *q;
    ngx_http_collab_access_wait_t  *w;

    /* only at exit or for a stale entry: waiters were taken before */
    while (!ngx_queue_empty(&e->waiters)) {
        q = ngx_queue_head(&e->waiters);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_http_collab_access_wait_t, queue);
        w->entry = NULL;
    }

    ngx_rbtree_delete(&ngx_http_collab_access_cache.tree, &e->sn.node);
    ngx_queue_remove(&e->lru);
    ngx_http_collab_access_cache.n--;

    ngx_free(e);
}


/* drops the entries of (c, d) here, then re-checks who is subscribed */
static void
ngx_http_collab_access_drop(ngx_str_t *c, ngx_str_t *d)
{
    ngx_queue_t                     *q, *next;
    ngx_http_collab_access_entry_t  *e;
    ngx_http_collab_access_cache_t  *cache;

    cache = &ngx_http_collab_access_cache;

    if (cache->lru.next == NULL) {
        return;
    }

    for (q = ngx_queue_head(&cache->lru);
         q != ngx_queue_sentinel(&cache->lru);
         q = next)
    {
        next = ngx_queue_next(q);
        e = ngx_queue_data(q, ngx_http_collab_access_entry_t, lru);

        if (c && (e->c.len != c->len
                  || ngx_memcmp(e->c.data, c->data, c->len) != 0))
        {
            continue;
        }

        if (d && (e->d.len != d->len
                  || ngx_memcmp(e->d.data, d->data, d->len) != 0))
        {
            continue;
        }

        if (e->state == NGX_HTTP_COLLAB_ACCESS_ASKING) {
            e->stale = 1;
            continue;
        }

        ngx_http_collab_access_free(e);
    }

    ngx_http_collab_session_access_changed(c, d);
}


/* a change notice from any worker; NULL: (re)subscribed, maybe missed */
static void
ngx_http_collab_access_message(ngx_str_t *channel, u_char *payload,
    size_t len, void *data)
{
    char       *json;
    ngx_str_t   c, d;
    yajl_val    root, v;

    if (payload == NULL) {
        ngx_http_collab_access_drop(NULL, NULL);
        return;
    }

    json = ngx_alloc(len + 1, ngx_http_collab_access_cache.log);
    if (json == NULL) {
        /* what it names cannot be known: forget everything */
        ngx_http_collab_access_drop(NULL, NULL);
        return;
    }

    ngx_memcpy(json, payload, len);
    json[len] = '\0';

    root = yajl_tree_parse(json, NULL, 0);
    ngx_free(json);

    if (root == NULL || !YAJL_IS_ARRAY(root) || root->u.array.len > 2) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_collab_access_cache.log, 0,
                      "collab: ignored a malformed role change notice on "
                      "\"%V\" (%uz bytes)", channel, len);
        yajl_tree_free(root);
        return;
    }

    ngx_str_null(&c);
    ngx_str_null(&d);

    if (root->u.array.len >= 1) {
        v = root->u.array.values[0];

        if (YAJL_IS_STRING(v)) {
            c.data = (u_char *) v->u.string;
            c.len = ngx_strlen(v->u.string);
        }
    }

    if (root->u.array.len == 2) {
        v = root->u.array.values[1];

        if (YAJL_IS_STRING(v)) {
            d.data = (u_char *) v->u.string;
            d.len = ngx_strlen(v->u.string);
        }
    }

    if ((root->u.array.len >= 1 && c.data == NULL)
        || (root->u.array.len == 2 && d.data == NULL))
    {
        ngx_log_error(NGX_LOG_WARN, ngx_http_collab_access_cache.log, 0,
                      "collab: ignored a role change notice on \"%V\" "
                      "whose names are not strings", channel);
        yajl_tree_free(root);
        return;
    }

    ngx_http_collab_access_drop(c.data ? &c : NULL, d.data ? &d : NULL);

    yajl_tree_free(root);
}


/* "<len c>:<c><len d>:<d><principal>": no two triples share a key */
static u_char *
ngx_http_collab_access_key(u_char *p, ngx_str_t *c, ngx_str_t *d,
    ngx_str_t *principal)
{
    p = ngx_sprintf(p, "%uz:", c->len);
    p = ngx_cpymem(p, c->data, c->len);
    p = ngx_sprintf(p, "%uz:", d->len);
    p = ngx_cpymem(p, d->data, d->len);

    return ngx_cpymem(p, principal->data, principal->len);
}

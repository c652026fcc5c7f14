/*
 * The members routes: method and path, the owner check of the role
 * matrix (ngx_http_collab_api_access), the JSON body, one store statement
 * while the request is held (count++), then the answer and, after a
 * committed change, the notice that makes every worker re-check roles.
 */

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_collab.h"
#include "store/ngx_http_collab_store.h"
#include "store/ngx_http_collab_store_members.h"
#include "engine/collab_utf8.h"
#include "access/ngx_http_collab_access.h"
#include "api/ngx_http_collab_api.h"
#include "api/ngx_http_collab_api_body.h"
#include "api/ngx_http_collab_api_members.h"


/* longest search text, in bytes */
#define NGX_HTTP_COLLAB_API_MAX_QUERY  256


typedef enum {
    NGX_HTTP_COLLAB_API_MEMBERS_LIST = 0,
    NGX_HTTP_COLLAB_API_MEMBERS_PUT,
    NGX_HTTP_COLLAB_API_MEMBERS_DEL,
    NGX_HTTP_COLLAB_API_MEMBERS_OWNER,
    NGX_HTTP_COLLAB_API_MEMBERS_USERS
} ngx_http_collab_api_members_e;


/* a request held while its statement runs */
typedef struct {
    ngx_http_request_t             *r;
    ngx_str_t                       c;
    ngx_str_t                       d;
    ngx_http_collab_api_members_e   what;
} ngx_http_collab_api_members_t;


static ngx_int_t ngx_http_collab_api_members_field(ngx_http_request_t *r,
    char *key, ngx_str_t *s, int64_t *n);
static ngx_int_t ngx_http_collab_api_members_role(ngx_http_request_t *r,
    ngx_str_t *role);
static ngx_int_t ngx_http_collab_api_members_hold(ngx_http_request_t *r,
    ngx_int_t rc);
static void ngx_http_collab_api_members_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res);
static ngx_int_t ngx_http_collab_api_members_answer(
    ngx_http_collab_api_members_t *m, ngx_http_collab_store_result_t *res);
static ngx_int_t ngx_http_collab_api_members_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_collab_store_result_t *res,
    ngx_uint_t one);
static void ngx_http_collab_api_members_gen_int(yajl_gen g, int64_t n);


#define ngx_http_collab_api_members_key(g, s)                                \
    yajl_gen_string(g, (const unsigned char *) (s), sizeof(s) - 1)


ngx_uint_t
ngx_http_collab_api_members_methods(ngx_str_t *parts, ngx_int_t n,
    ngx_str_t *allow)
{
    if (n == 3 && parts[2].len == 5
        && ngx_strncmp(parts[2].data, "owner", 5) == 0)
    {
        ngx_str_set(allow, "POST");
        return NGX_HTTP_POST;
    }

    if ((n != 3 && n != 4) || parts[2].len != 7
        || ngx_strncmp(parts[2].data, "members", 7) != 0)
    {
        return 0;
    }

    if (n == 3) {
        ngx_str_set(allow, "GET, HEAD");
        return NGX_HTTP_GET|NGX_HTTP_HEAD;
    }

    ngx_str_set(allow, "PUT, DELETE");
    return NGX_HTTP_PUT|NGX_HTTP_DELETE;
}


ngx_int_t
ngx_http_collab_api_members(ngx_http_request_t *r,
    ngx_http_collab_auth_t *who, ngx_str_t *parts, ngx_int_t n)
{
    int64_t                         user;
    ngx_int_t                       rc;
    ngx_str_t                       allow, role;
    ngx_http_collab_api_members_t  *m;

    if (ngx_http_collab_api_members_methods(parts, n, &allow) == 0) {
        return NGX_DECLINED;
    }

    /* the owner's routes (admins pass); others learn 403 or 404 */
    rc = ngx_http_collab_api_access(r, who, &parts[0], &parts[1],
                                    NGX_HTTP_COLLAB_ROLE_OWNER, 0);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    m = ngx_pcalloc(r->pool, sizeof(ngx_http_collab_api_members_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m->r = r;
    m->c = parts[0];
    m->d = parts[1];

    user = 0;

    if (n == 4) {
        rc = ngx_atoi(parts[3].data, parts[3].len);
        if (rc == NGX_ERROR) {
            return ngx_http_collab_api_fail(r, NGX_HTTP_NOT_FOUND,
                                            "no_such_user",
                                            "a user is a collab_users id");
        }

        user = rc;
    }

    switch (r->method) {

    case NGX_HTTP_PUT:
        m->what = NGX_HTTP_COLLAB_API_MEMBERS_PUT;

        rc = ngx_http_collab_api_members_field(r, "role", &role, NULL);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        rc = ngx_http_collab_api_members_role(r, &role);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        rc = ngx_http_collab_store_member_put(&m->c, &m->d, user, &role,
                                              &who->principal,
                                              ngx_http_collab_api_members_done,
                                              m);
        break;

    case NGX_HTTP_DELETE:
        m->what = NGX_HTTP_COLLAB_API_MEMBERS_DEL;
        rc = ngx_http_collab_store_member_del(&m->c, &m->d, user,
                                              ngx_http_collab_api_members_done,
                                              m);
        break;

    case NGX_HTTP_POST:
        m->what = NGX_HTTP_COLLAB_API_MEMBERS_OWNER;

        rc = ngx_http_collab_api_members_field(r, "user", NULL, &user);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        rc = ngx_http_collab_store_owner(&m->c, &m->d, user, &who->principal,
                                         ngx_http_collab_api_members_done, m);
        break;

    default: /* GET, HEAD */
        m->what = NGX_HTTP_COLLAB_API_MEMBERS_LIST;
        rc = ngx_http_collab_store_members(&m->c, &m->d,
                                           ngx_http_collab_api_members_done,
                                           m);
        break;
    }

    return ngx_http_collab_api_members_hold(r, rc);
}


ngx_int_t
ngx_http_collab_api_users(ngx_http_request_t *r)
{
    u_char                         *dst, *src;
    size_t                          ncp;
    ngx_int_t                       rc;
    ngx_str_t                       arg, q;
    ngx_http_collab_api_members_t  *m;

    if (ngx_http_arg(r, (u_char *) "q", 1, &arg) != NGX_OK || arg.len == 0) {
        return ngx_http_collab_api_fail(r, NGX_HTTP_BAD_REQUEST, "bad_query",
                                        "q must be at least 1 character");
    }

    if (arg.len > NGX_HTTP_COLLAB_API_MAX_QUERY) {
        return ngx_http_collab_api_fail(r, NGX_HTTP_BAD_REQUEST, "bad_query",
                                        "q is too long");
    }

    q.data = ngx_pnalloc(r->pool, arg.len);
    if (q.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* "+" is a space in a query string */
    for (dst = q.data, src = arg.data; src < arg.data + arg.len; src++) {
        *dst++ = (*src == '+') ? ' ' : *src;
    }

    src = q.data;
    dst = q.data;
    ngx_unescape_uri(&dst, &src, arg.len, 0);
    q.len = dst - q.data;

    if (q.len == 0
        || ngx_strlchr(q.data, q.data + q.len, '\0') != NULL
        || collab_utf8_count((const char *) q.data, q.len, &ncp) != 0)
    {
        return ngx_http_collab_api_fail(r, NGX_HTTP_BAD_REQUEST, "bad_query",
                                        "q must be UTF-8 text");
    }

    m = ngx_pcalloc(r->pool, sizeof(ngx_http_collab_api_members_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m->r = r;
    m->what = NGX_HTTP_COLLAB_API_MEMBERS_USERS;

    rc = ngx_http_collab_store_users(&q, NGX_HTTP_COLLAB_API_MAX_USERS,
                                     ngx_http_collab_api_members_done, m);

    return ngx_http_collab_api_members_hold(r, rc);
}


/*
 * The body {"<key>": <value>} and nothing else: NGX_DECLINED with a
 * string in *s, or (s NULL) an integer in *n; else a 400 answered
 */
static ngx_int_t
ngx_http_collab_api_members_field(ngx_http_request_t *r, char *key,
    ngx_str_t *s, int64_t *n)
{
    char        *msg;
    size_t       i;
    yajl_val     root, v;
    ngx_int_t    rc;
    ngx_str_t    body;
    const char  *code;

    rc = ngx_http_collab_api_read_body(r, &body);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    root = yajl_tree_parse((const char *) body.data, NULL, 0);
    if (root == NULL) {
        return ngx_http_collab_api_fail(r, NGX_HTTP_BAD_REQUEST, "bad_json",
                                        "the body is not JSON");
    }

    v = NULL;
    code = "bad_body";
    msg = "the body must be a JSON object";

    if (YAJL_IS_OBJECT(root)) {
        msg = NULL;

        for (i = 0; i < root->u.object.len; i++) {
            if (ngx_strcmp(root->u.object.keys[i], key) != 0) {
                code = "unknown_field";
                msg = s ? "unknown field: only role is allowed"
                        : "unknown field: only user is allowed";
                break;
            }

            v = root->u.object.values[i];
        }

        if (msg == NULL && v == NULL) {
            code = "missing_field";
            msg = s ? "role is missing" : "user is missing";
        }
    }

    if (msg == NULL && s) {
        if (YAJL_IS_STRING(v)) {
            s->len = ngx_strlen(v->u.string);
            s->data = ngx_pnalloc(r->pool, s->len);
            if (s->data == NULL) {
                yajl_tree_free(root);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(s->data, v->u.string, s->len);

        } else {
            code = "wrong_type";
            msg = "role must be a string";
        }

    } else if (msg == NULL) {
        if (YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0) {
            *n = YAJL_GET_INTEGER(v);

        } else {
            code = "wrong_type";
            msg = "user must be a collab_users id (an integer)";
        }
    }

    yajl_tree_free(root);

    if (msg) {
        return ngx_http_collab_api_fail(r, NGX_HTTP_BAD_REQUEST, (char *) code,
                                        msg);
    }

    return NGX_DECLINED;
}


/* a role PUT may grant (NGX_DECLINED): ownership moves only by transfer */
static ngx_int_t
ngx_http_collab_api_members_role(ngx_http_request_t *r, ngx_str_t *role)
{
    ngx_uint_t  i;

    static ngx_str_t  roles[] = {
        ngx_string("editor"),
        ngx_string("commenter"),
        ngx_string("viewer")
    };

    for (i = 0; i < sizeof(roles) / sizeof(ngx_str_t); i++) {
        if (role->len == roles[i].len
            && ngx_strncmp(role->data, roles[i].data, role->len) == 0)
        {
            return NGX_DECLINED;
        }
    }

    if (role->len == 5 && ngx_strncmp(role->data, "owner", 5) == 0) {
        return ngx_http_collab_api_fail(r, NGX_HTTP_BAD_REQUEST, "bad_role",
                                        "ownership moves only by POST "
                                        "<doc>/owner");
    }

    return ngx_http_collab_api_fail(r, NGX_HTTP_BAD_REQUEST, "bad_role",
                                    "role must be editor, commenter or "
                                    "viewer");
}


/* rc of a store call: the request waits for the answer, or it failed */
static ngx_int_t
ngx_http_collab_api_members_hold(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* held until the store answers; it always does, asynchronously */
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_collab_api_members_done(void *data, ngx_int_t rc,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_collab_api_members_t  *m = data;

    ngx_int_t            status;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = m->r;
    c = r->connection;

    if (rc == NGX_HTTP_COLLAB_STORE_OK) {
        status = ngx_http_collab_api_members_answer(m, res);

    } else if (rc == NGX_HTTP_COLLAB_STORE_CONFLICT) {
        /* another transfer of the same document went first */
        status = ngx_http_collab_api_fail(r, NGX_HTTP_CONFLICT, "conflict",
                                          "the owner changed meanwhile: "
                                          "try again");

    } else {
        status = ngx_http_collab_api_store_error(r, rc, NULL);
    }

    ngx_http_collab_store_result_free(res);

    ngx_http_finalize_request(r, status);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_collab_api_members_answer(ngx_http_collab_api_members_t *m,
    ngx_http_collab_store_result_t *res)
{
    ngx_http_request_t  *r;

    r = m->r;

    if (m->what == NGX_HTTP_COLLAB_API_MEMBERS_USERS) {
        return ngx_http_collab_api_members_json(r, NGX_HTTP_OK, res, 0);
    }

    if (!res->exists) {
        /* byte for byte what a document hidden from the caller says */
        return ngx_http_collab_api_error(r, NGX_HTTP_NOT_FOUND,
                                         "no such document");
    }

    switch (m->what) {

    case NGX_HTTP_COLLAB_API_MEMBERS_LIST:
        return ngx_http_collab_api_members_json(r, NGX_HTTP_OK, res, 0);

    case NGX_HTTP_COLLAB_API_MEMBERS_DEL:
        if (!res->user_found) {
            return ngx_http_collab_api_fail(r, NGX_HTTP_NOT_FOUND,
                                            "not_a_member",
                                            "the user is not a member");
        }

        if (!res->done) {
            return ngx_http_collab_api_fail(r, NGX_HTTP_CONFLICT,
                                            "only_owner",
                                            "the owner cannot be removed: "
                                            "transfer ownership first");
        }

        ngx_http_collab_access_changed(&m->c, &m->d);

        return NGX_HTTP_NO_CONTENT;

    default: /* PUT, OWNER */
        if (!res->user_found) {
            return ngx_http_collab_api_fail(r, NGX_HTTP_NOT_FOUND,
                                            "no_such_user",
                                            "no such user");
        }

        if (res->nmembers != 1) {
            return ngx_http_collab_api_fail(r, NGX_HTTP_CONFLICT,
                                            "only_owner",
                                            "the owner cannot be demoted: "
                                            "transfer ownership first");
        }

        ngx_http_collab_access_changed(&m->c, &m->d);

        return ngx_http_collab_api_members_json(r,
                                   (m->what == NGX_HTTP_COLLAB_API_MEMBERS_PUT
                                    && res->done)
                                   ? NGX_HTTP_CREATED : NGX_HTTP_OK,
                                   res, 1);
    }
}


/* the members (one: the first alone, not in an array) as JSON */
static ngx_int_t
ngx_http_collab_api_members_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_collab_store_result_t *res, ngx_uint_t one)
{
    size_t                           len;
    yajl_gen                         g;
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    const unsigned char             *buf;
    ngx_http_collab_store_member_t  *mb;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!one) {
        yajl_gen_array_open(g);
    }

    for (i = 0; i < res->nmembers; i++) {
        mb = &res->members[i];

        yajl_gen_map_open(g);

        ngx_http_collab_api_members_key(g, "user");
        ngx_http_collab_api_members_gen_int(g, mb->id);

        ngx_http_collab_api_members_key(g, "principal");
        yajl_gen_string(g, mb->principal.data, mb->principal.len);

        ngx_http_collab_api_members_key(g, "name");
        if (mb->name.len) {
            yajl_gen_string(g, mb->name.data, mb->name.len);

        } else {
            yajl_gen_null(g);
        }

        if (mb->role.len) {
            ngx_http_collab_api_members_key(g, "role");
            yajl_gen_string(g, mb->role.data, mb->role.len);

            ngx_http_collab_api_members_key(g, "granted_by");
            if (mb->granted_by) {
                ngx_http_collab_api_members_gen_int(g, mb->granted_by);

            } else {
                yajl_gen_null(g);
            }

            ngx_http_collab_api_members_key(g, "granted_at");
            ngx_http_collab_api_members_gen_int(g, mb->granted_at);
        }

        yajl_gen_map_close(g);

        if (one) {
            break;
        }
    }

    if (!one) {
        yajl_gen_array_close(g);
    }

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_collab_api_send(r, status, buf, len);

    yajl_gen_free(g);

    return rc;
}


static void
ngx_http_collab_api_members_gen_int(yajl_gen g, int64_t n)
{
    u_char  *p;
    u_char   num[NGX_INT64_LEN];

    p = ngx_sprintf(num, "%L", n);
    yajl_gen_number(g, (const char *) num, p - num);
}

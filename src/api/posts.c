/*
 * posts.c - the posts API of seed 002 (API.md section 5): GET /posts (paginated with
 * ?page=&page_size=, cached), POST /posts, GET|PUT|DELETE /posts/{id}. Every route needs a
 * valid access token; only the author or an admin may change or delete a post (403
 * otherwise).
 *
 * Input: title 1..200 and body 1..10000 characters of valid UTF-8 without NUL (svc.c).
 * Output is JSON-escaped, which makes it safe to embed in JSON but NOT in HTML: escaping
 * user content for HTML is the client's job (jwtd's web UI inserts text with textContent).
 *
 * DESIGN (cache): list pages are cached in the store's generic cache (store.h: in-process,
 * or Redis shared by every instance when JWTD_REDIS_URL is set) under
 * "posts:<page>:<page_size>" in the group "posts", for CACHE_TTL_S seconds. Every write
 * (create, update, delete) drops the whole group after the database commit, before its
 * answer. A page computed while a write was in flight could be stored after that drop: a
 * process-wide write counter, read before the query and compared before storing, keeps
 * this instance from caching such a page; across instances the TTL bounds the staleness.
 * Cache hits are answered on the loop (embedded store) or from the Redis reply; misses read
 * the database on the blocking pool.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "api/svc.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "resource/post_store.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define DEFAULT_PAGE_SIZE 20
#define MAX_PAGE_SIZE     100
#define MAX_OFFSET        100000
#define MAX_TITLE_CHARS   200
#define MAX_BODY_CHARS    10000
#define CACHE_TTL_S       30
#define CACHE_GROUP       "posts"
#define LIST_MAX_BYTES    (8u << 20)

static struct {
    auth_t *auth;
    db_t *db;
    store_t *store;
} g_posts;

static atomic_uint_fast64_t g_writes; /* bumped after every committed write */

static void append_post(buf_t *b, const resource_post_t *p)
{
    buf_printf(b, "{\"id\":%" PRId64 ",\"title\":", p->id);
    jsonw_buf_str(b, p->title, strlen(p->title));
    buf_append_cstr(b, ",\"body\":");
    jsonw_buf_str(b, p->body, strlen(p->body));
    buf_printf(b, ",\"author_id\":%" PRId64 ",\"author\":", p->author_id);
    jsonw_buf_str(b, p->author, strlen(p->author));
    buf_printf(b, ",\"created_at\":%" PRId64 ",\"updated_at\":%" PRId64 "}", p->created_at,
               p->updated_at);
}

static bool parse_id(str_t s, int64_t *out)
{
    if (s.len == 0 || s.len > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (s.ptr[i] - '0');
    }
    *out = v;
    return v > 0;
}

/* ==== GET /posts ================================================================================
 */

struct list_job {
    http_req_t *req; /* for the cache callback only; never touched on the pool */
    uint32_t page, page_size;
    uint64_t writes_before;
    char key[64];
    int rc;
    buf_t out;
};

static void list_work(void *arg)
{
    struct list_job *j = arg;
    resource_post_list_t l;
    int64_t total = 0;
    j->rc = resource_post_list(g_posts.db, (j->page - 1) * j->page_size, j->page_size, &l, &total);
    if (j->rc != 0)
        return;
    buf_append_cstr(&j->out, "{\"items\":[");
    for (size_t i = 0; i < l.count; i++) {
        if (i)
            buf_append_char(&j->out, ',');
        append_post(&j->out, &l.items[i]);
    }
    buf_printf(&j->out, "],\"page\":%u,\"page_size\":%u,\"total\":%" PRId64 "}", j->page,
               j->page_size, total);
    resource_post_list_dispose(&l);
    if (atomic_load(&g_writes) == j->writes_before)
        store_cache_set(g_posts.store, j->key, buf_str(&j->out), CACHE_TTL_S, CACHE_GROUP);
}

static void list_done(http_req_t *req, void *arg, int status)
{
    struct list_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        http_resp_header_add(req, "X-Cache", "MISS");
        http_respond(req, 200, API_JSON_CT, buf_str(&j->out));
    } else {
        api__failure(req, rc);
    }
    buf_dispose(&j->out);
    free(j);
}

static void on_cache(void *arg, int status, str_t value)
{
    struct list_job *j = arg;
    http_req_t *req = j->req;
    if (status == 0) {
        http_resp_header_add(req, "X-Cache", "HIT");
        http_respond(req, 200, API_JSON_CT, value);
        buf_dispose(&j->out);
        free(j);
        return;
    }
    if (http_pool_submit(req, list_work, list_done, j) != 0) {
        buf_dispose(&j->out);
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

static void on_list(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate(req, g_posts.auth, c, &uid) != 0)
        return;
    uint32_t page, size;
    if (api__pagination(req, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, &page, &size) != 0)
        return;
    if ((uint64_t)page * size > MAX_OFFSET) {
        api__bad_request(req, "page", "Page is too deep.");
        return;
    }
    struct list_job *j = xcalloc(1, sizeof *j);
    j->req = req;
    j->page = page;
    j->page_size = size;
    j->writes_before = atomic_load(&g_writes);
    snprintf(j->key, sizeof j->key, "posts:%u:%u", page, size);
    buf_init(&j->out, LIST_MAX_BYTES);
    store_cache_get(g_posts.store, j->key, on_cache, j); /* on_cache owns j */
}

/* ==== POST /posts, GET|PUT|DELETE /posts/{id} ================================================= */

enum op { OP_CREATE, OP_GET, OP_UPDATE, OP_DELETE };

struct post_job {
    enum op op;
    int64_t id, user_id;
    bool is_admin;
    char *title, *body; /* NULL = unchanged (update) */
    int rc;
    buf_t out;
};

static void post_job_free(struct post_job *j)
{
    free(j->title);
    free(j->body);
    buf_dispose(&j->out);
    free(j);
}

static void post_work(void *arg)
{
    struct post_job *j = arg;
    int64_t now = clock_now_s();
    resource_post_t p = {0};
    if (j->op == OP_CREATE) {
        j->rc = resource_post_create(g_posts.db, j->user_id, j->title, j->body, now, &j->id);
        if (j->rc == 0) {
            atomic_fetch_add(&g_writes, 1);
            store_cache_drop_group(g_posts.store, CACHE_GROUP);
        }
    } else {
        j->rc = resource_post_get(g_posts.db, j->id, &p);
        if (j->rc == 0 && j->op != OP_GET && p.author_id != j->user_id && !j->is_admin)
            j->rc = ERR_PERMISSION;
        if (j->rc == 0 && j->op == OP_UPDATE)
            j->rc = resource_post_update(g_posts.db, j->id, j->title ? j->title : p.title,
                                         j->body ? j->body : p.body, now);
        if (j->rc == 0 && j->op == OP_DELETE)
            j->rc = resource_post_delete(g_posts.db, j->id);
        if (j->rc == 0 && (j->op == OP_UPDATE || j->op == OP_DELETE)) {
            atomic_fetch_add(&g_writes, 1);
            store_cache_drop_group(g_posts.store, CACHE_GROUP);
        }
        resource_post_dispose(&p);
    }
    if (j->rc == 0 && j->op != OP_DELETE) {
        j->rc = resource_post_get(g_posts.db, j->id, &p);
        if (j->rc == 0)
            append_post(&j->out, &p);
        resource_post_dispose(&p);
    }
}

static void post_done(http_req_t *req, void *arg, int status)
{
    struct post_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0 && j->op == OP_DELETE)
        http_respond(req, 204, NULL, STR_NULL);
    else if (rc == 0)
        http_respond(req, j->op == OP_CREATE ? 201 : 200, API_JSON_CT, buf_str(&j->out));
    else if (rc == ERR_NOT_FOUND || rc == ERR_PERMISSION)
        http_respond_error(req, rc, NULL);
    else
        api__failure(req, rc);
    post_job_free(j);
}

/* Authenticates and starts a job for op; reads and validates the body for create/update. */
static void start(http_req_t *req, enum op op)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid, id = 0;
    if (api_authenticate(req, g_posts.auth, c, &uid) != 0)
        return;
    if (op != OP_CREATE && !parse_id(http_req_param(req, "id"), &id)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    struct post_job *j = xcalloc(1, sizeof *j);
    j->op = op;
    j->id = id;
    j->user_id = uid;
    j->is_admin = c->role && strcmp(c->role, "admin") == 0;
    buf_init(&j->out, 1u << 20);
    if (op == OP_CREATE || op == OP_UPDATE) {
        api_field_t f[2] = {
            {.name = "title",
             .required = op == OP_CREATE,
             .trim = true,
             .max_chars = MAX_TITLE_CHARS},
            {.name = "body",
             .required = op == OP_CREATE,
             .trim = false,
             .max_chars = MAX_BODY_CHARS},
        };
        json_t *body;
        if (api__read_fields(req, f, 2, &body) != 0) {
            post_job_free(j);
            return;
        }
        if (op == OP_UPDATE && !f[0].value.ptr && !f[1].value.ptr) {
            json_decref(body);
            post_job_free(j);
            api__bad_request(req, "non_field_errors", "Give title, body or both.");
            return;
        }
        j->title = f[0].value.ptr ? xstrndup(f[0].value.ptr, f[0].value.len) : NULL;
        j->body = f[1].value.ptr ? xstrndup(f[1].value.ptr, f[1].value.len) : NULL;
        json_decref(body);
    }
    if (http_pool_submit(req, post_work, post_done, j) != 0) {
        post_job_free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

static void on_create(http_req_t *req)
{
    start(req, OP_CREATE);
}

static void on_get(http_req_t *req)
{
    start(req, OP_GET);
}

static void on_update(http_req_t *req)
{
    start(req, OP_UPDATE);
}

static void on_delete(http_req_t *req)
{
    start(req, OP_DELETE);
}

/* See api.h. */
int api_posts_register(http_router_t *router, auth_t *auth, struct db *db)
{
    g_posts.auth = auth;
    g_posts.db = db;
    g_posts.store = auth_store(auth);
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_GET, "/posts", on_list, NULL);
    rc |= http_router_add(router, HTTP_M_POST, "/posts", on_create, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/posts/{id}", on_get, NULL);
    rc |= http_router_add(router, HTTP_M_PUT, "/posts/{id}", on_update, NULL);
    rc |= http_router_add(router, HTTP_M_DELETE, "/posts/{id}", on_delete, NULL);
    return rc ? ERR_INVALID : 0;
}

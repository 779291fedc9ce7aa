/*
 * posts.c - the posts API: GET /posts (paginated with ?page=&page_size=, cached), POST
 * /posts, GET|PUT|DELETE /posts/{id}. Every route needs a valid access token; only the
 * author or an admin may change or delete a post (403 otherwise).
 *
 * Input: title 1..200 and body 1..10000 characters of valid UTF-8 without NUL. Cache hits
 * are answered on the loop (embedded store) or from the Redis reply; misses and writes run
 * on the blocking pool (storage: posts_data.c).
 */
#define LOG_MODULE "resource"
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "resource/resource_internal.h"
#include "runtime/alloc.h"

static const api_paging_t PAGING = {20, 100, 100000};
#define MAX_TITLE_CHARS 200
#define MAX_BODY_CHARS  10000
#define LIST_MAX_BYTES  (8u << 20)

/* ==== GET /posts ============================================================================== */

struct list_job {
    resource_t *res;
    http_req_t *req; /* for the cache callback only; never touched on the pool */
    uint32_t page, page_size;
    uint64_t writes_before;
    int rc;
    buf_t out;
};

static void list_job_free(void *arg)
{
    struct list_job *j = arg;
    buf_dispose(&j->out);
    free(j);
}

static void list_work(void *arg)
{
    struct list_job *j = arg;
    j->rc = resource__posts_page(j->res, j->page, j->page_size, j->writes_before, &j->out);
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
    list_job_free(j);
}

static void on_cache(void *arg, int status, str_t value)
{
    struct list_job *j = arg;
    http_req_t *req = j->req;
    if (status == 0) {
        http_resp_header_add(req, "X-Cache", "HIT");
        http_respond(req, 200, API_JSON_CT, value);
        list_job_free(j);
        return;
    }
    api__submit(req, list_work, list_done, j, list_job_free);
}

static void on_list(http_req_t *req)
{
    resource_t *res = req->route_data;
    if (!resource__caller(req, NULL))
        return;
    uint32_t page, size;
    if (api__pagination(req, &PAGING, &page, &size) != 0)
        return;
    struct list_job *j = xcalloc(1, sizeof *j);
    j->res = res;
    j->req = req;
    j->page = page;
    j->page_size = size;
    j->writes_before = resource__posts_writes(res);
    buf_init(&j->out, LIST_MAX_BYTES);
    char key[64];
    resource__posts_page_key(page, size, key);
    resource__posts_cached(res, key, on_cache, j); /* on_cache owns j */
}

/* ==== POST /posts, GET|PUT|DELETE /posts/{id} ================================================= */

struct post_job {
    resource_t *res;
    enum resource_post_op op;
    int64_t id, user_id;
    bool is_admin;
    char *title, *body; /* NULL = unchanged (update) */
    int rc;
    buf_t out;
};

static void post_job_free(void *arg)
{
    struct post_job *j = arg;
    free(j->title);
    free(j->body);
    buf_dispose(&j->out);
    free(j);
}

static void post_work(void *arg)
{
    struct post_job *j = arg;
    j->rc = resource__post_run(j->res, j->op, &j->id, j->user_id, j->is_admin, j->title, j->body,
                               &j->out);
}

static void post_done(http_req_t *req, void *arg, int status)
{
    struct post_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0 && j->op == RESOURCE_POST_DELETE)
        http_respond(req, 204, NULL, STR_NULL);
    else if (rc == 0)
        http_respond(req, j->op == RESOURCE_POST_CREATE ? 201 : 200, API_JSON_CT, buf_str(&j->out));
    else if (rc == ERR_NOT_FOUND || rc == ERR_PERMISSION)
        http_respond_error(req, rc, NULL);
    else
        api__failure(req, rc);
    post_job_free(j);
}

/* Reads and checks title and body for create (both required) or update (at least one). */
static bool read_post(http_req_t *req, struct post_job *j)
{
    bool create = j->op == RESOURCE_POST_CREATE;
    api_field_t f[2] = {
        {.name = "title", .required = create, .trim = true, .max_chars = MAX_TITLE_CHARS},
        {.name = "body", .required = create, .trim = false, .max_chars = MAX_BODY_CHARS},
    };
    json_t *body;
    if (api__read_fields(req, f, 2, 0, &body) != 0)
        return false;
    if (!create && !f[0].value.ptr && !f[1].value.ptr) {
        json_decref(body);
        api__bad_request(req, "non_field_errors", "Give title, body or both.");
        return false;
    }
    j->title = f[0].value.ptr ? xstrndup(f[0].value.ptr, f[0].value.len) : NULL;
    j->body = f[1].value.ptr ? xstrndup(f[1].value.ptr, f[1].value.len) : NULL;
    json_decref(body);
    return true;
}

/* POST /posts (create) and GET, PUT, DELETE /posts/{id}: authenticates and starts a job for
   the method's operation; reads and validates the body for create and update. */
static void on_post(http_req_t *req)
{
    resource_t *res = req->route_data;
    enum resource_post_op op = req->method == HTTP_M_POST     ? RESOURCE_POST_CREATE
                               : req->method == HTTP_M_PUT    ? RESOURCE_POST_UPDATE
                               : req->method == HTTP_M_DELETE ? RESOURCE_POST_DELETE
                                                              : RESOURCE_POST_GET;
    const auth_token_ref_t *t = resource__caller(req, NULL);
    if (!t)
        return;
    int64_t id = 0;
    if (op != RESOURCE_POST_CREATE && !api__param_id(req, "id", &id)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    struct post_job *j = xcalloc(1, sizeof *j);
    j->res = res;
    j->op = op;
    j->id = id;
    j->user_id = t->user_id;
    j->is_admin = api__is_admin(t);
    buf_init(&j->out, 1u << 20);
    if ((op == RESOURCE_POST_CREATE || op == RESOURCE_POST_UPDATE) && !read_post(req, j)) {
        post_job_free(j);
        return;
    }
    api__submit(req, post_work, post_done, j, post_job_free);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/posts", on_list},         {HTTP_M_POST, "/posts", on_post},
    {HTTP_M_GET, "/posts/{id}", on_post},    {HTTP_M_PUT, "/posts/{id}", on_post},
    {HTTP_M_DELETE, "/posts/{id}", on_post},
};

/* See resource_internal.h. */
const api_family_t resource__posts_family = API_FAMILY(ROUTES, NULL);

/*
 * users.c - GET /users/{id} (the user themself or an admin) and GET /users (admins only,
 * paginated with ?page=&page_size=), seed 002.
 *
 * Authorisation is decided on the loop from the verified token (its user_id and role
 * claims); the database read runs on the blocking pool. A non-admin asking for another
 * user's id gets 403 whether or not that id exists (no enumeration); an admin gets 404 for
 * an id that does not exist. Pages are computed over db_user_list's keyset pagination
 * (ids ascending), skipping (page - 1) * page_size rows in chunks, so deep pages cost more;
 * page * page_size is bounded by MAX_OFFSET.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/svc.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/err.h"
#include "runtime/alloc.h"

#define DEFAULT_PAGE_SIZE 20
#define MAX_PAGE_SIZE     100
#define MAX_OFFSET        100000
#define CHUNK             1000

static struct {
    auth_t *auth;
    db_t *db;
} g_users;

struct users_job {
    bool list;
    int64_t id;
    uint32_t page, page_size;
    int rc;
    buf_t out;
};

static void append_user(buf_t *b, const db_user_t *u)
{
    size_t n = 0;
    char *j = auth_user_json(u, &n);
    buf_append(b, j, n);
    free(j);
}

static void users_work(void *arg)
{
    struct users_job *j = arg;
    if (!j->list) {
        db_user_t u;
        j->rc = db_user_find_by_id(g_users.db, j->id, &u);
        if (j->rc == 0)
            append_user(&j->out, &u);
        db_user_dispose(&u);
        return;
    }
    /* skip (page - 1) * page_size rows, then read one page */
    uint64_t skip = (uint64_t)(j->page - 1) * j->page_size;
    int64_t after = 0;
    while (skip > 0) {
        uint32_t n = skip > CHUNK ? CHUNK : (uint32_t)skip;
        db_user_list_t l;
        j->rc = db_user_list(g_users.db, after, n, &l);
        if (j->rc != 0)
            return;
        if (l.count == 0) {
            skip = 0;
            after = INT64_MAX;
        } else {
            after = l.items[l.count - 1].id;
            skip -= l.count < n ? skip : l.count;
        }
        db_user_list_dispose(&l);
    }
    db_user_list_t l = {0};
    if (after != INT64_MAX)
        j->rc = db_user_list(g_users.db, after, j->page_size, &l);
    if (j->rc != 0)
        return;
    buf_append_cstr(&j->out, "{\"items\":[");
    for (size_t i = 0; i < l.count; i++) {
        if (i)
            buf_append_char(&j->out, ',');
        append_user(&j->out, &l.items[i]);
    }
    buf_printf(&j->out, "],\"page\":%u,\"page_size\":%u,\"has_next\":%s}", j->page, j->page_size,
               l.count == j->page_size ? "true" : "false");
    db_user_list_dispose(&l);
}

static void users_done(http_req_t *req, void *arg, int status)
{
    struct users_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 200, API_JSON_CT, buf_str(&j->out));
    } else if (rc == ERR_NOT_FOUND) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
    } else {
        api__failure(req, rc);
    }
    buf_dispose(&j->out);
    free(j);
}

static void submit(http_req_t *req, struct users_job *j)
{
    buf_init(&j->out, 4u << 20);
    if (http_pool_submit(req, users_work, users_done, j) != 0) {
        buf_dispose(&j->out);
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

static void on_user_get(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid, id;
    if (api_authenticate(req, g_users.auth, c, &uid) != 0)
        return;
    str_t p = http_req_param(req, "id");
    char tmp[24];
    if (p.len == 0 || p.len >= sizeof tmp) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    memcpy(tmp, p.ptr, p.len);
    tmp[p.len] = '\0';
    if (auth_parse_user_id(tmp, &id) != 0 || id <= 0) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    bool admin = c->role && strcmp(c->role, "admin") == 0;
    if (id != uid && !admin) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return;
    }
    struct users_job *j = xcalloc(1, sizeof *j);
    j->id = id;
    submit(req, j);
}

static void on_users_list(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate_role(req, g_users.auth, "admin", c, &uid) != 0)
        return;
    uint32_t page, size;
    if (api__pagination(req, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, &page, &size) != 0)
        return;
    if ((uint64_t)page * size > MAX_OFFSET) {
        api__bad_request(req, "page", "Page is too deep.");
        return;
    }
    struct users_job *j = xcalloc(1, sizeof *j);
    j->list = true;
    j->page = page;
    j->page_size = size;
    submit(req, j);
}

/* See api.h. */
int api_users_register(http_router_t *router, auth_t *auth, struct db *db)
{
    g_users.auth = auth;
    g_users.db = db;
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_GET, "/users", on_users_list, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/users/{id}", on_user_get, NULL);
    return rc ? ERR_INVALID : 0;
}

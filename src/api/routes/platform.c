/*
 * platform.c - the platform route that needs no backend, and the test routes.
 *
 * GET /healthz says the process is alive and serving: a constant body, no allocation,
 * no backend call. It is also the HTTP layer's benchmark target, so keep it that cheap.
 */
#include "api/routes/routes.h"
#include "common/str.h"

static void on_healthz(http_req_t *req)
{
    http_respond(req, 200, "application/json", STR_LIT("{\"status\":\"ok\"}"));
}

static const api_route_t ROUTES[] = {{HTTP_M_GET, "/healthz", on_healthz}};

/* See routes.h. */
const api_family_t api_platform_family = API_FAMILY(ROUTES, NULL);

/* ---- test routes ------------------------------------------------------------------------ */
/*
 * Registered only when JWTD_TEST_ROUTES=1 outside production (the composition root): they
 * let the integration tests drive the HTTP layer (bodies, JSON, path parameters, slow work
 * on the blocking pool). They touch no state.
 */

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"
#include "runtime/alloc.h"

/* POST /_test/echo: parses the body (JSON or form) and echoes it with what the request
 * carried. */
static void on_test_echo(http_req_t *req)
{
    json_t *body;
    if (http_req_json(req, &body) != 0)
        return;
    json_t *o = json_object();
    json_object_set_new(o, "body", body);
    json_object_set_new(o, "body_bytes", json_integer((json_int_t)req->body.len));
    json_object_set_new(o, "method", json_stringn(req->method_name.ptr, req->method_name.len));
    json_object_set_new(o, "peer", json_string(http_req_peer_str(req)));
    http_resp_header_add(req, "X-Test", "1");
    http_resp_header_add(req, "Set-Cookie", "a=1; Path=/");
    http_resp_header_add(req, "Set-Cookie", "b=2; Path=/");
    http_respond_json(req, 200, o);
    json_decref(o);
}

/* GET|DELETE /_test/items/{id}/sub/{name}: path parameters and the query string. */
static void on_test_item(http_req_t *req)
{
    str_t id = http_req_param(req, "id"), name = http_req_param(req, "name"), q;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_stringn(id.ptr, id.len));
    json_object_set_new(o, "name", json_stringn(name.ptr, name.len));
    int rc = http_req_query(req, "q", &q);
    if (rc == ERR_INVALID) {
        json_decref(o);
        http_respond_error(req, ERR_INVALID, "Bad query string.");
        return;
    }
    if (rc == 0)
        json_object_set_new(o, "q", json_stringn(q.ptr, q.len));
    http_respond_json(req, 200, o);
    json_decref(o);
}

struct sleep_job {
    long ms;
};

static void sleep_work(void *arg)
{
    struct sleep_job *j = arg;
    struct timespec ts = {j->ms / 1000, (j->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void sleep_done(http_req_t *req, void *arg, int status)
{
    struct sleep_job *j = arg;
    char body[64];
    snprintf(body, sizeof body, "{\"slept_ms\":%ld,\"status\":%d}", j->ms, status);
    free(j);
    http_respond(req, 200, "application/json", str_cstr(body));
}

/* GET /_test/sleep?ms=N: N ms of blocking work on the pool (N <= 10000). */
static void on_test_sleep(http_req_t *req)
{
    str_t v;
    long ms = 100;
    if (http_req_query(req, "ms", &v) == 0) {
        char *end;
        ms = strtol(v.ptr, &end, 10);
        if (*end || ms < 0 || ms > 10000) {
            http_respond_error(req, ERR_INVALID, "ms must be 0..10000.");
            return;
        }
    }
    struct sleep_job *j = xmalloc(sizeof *j);
    j->ms = ms;
    int rc = http_pool_submit(req, sleep_work, sleep_done, j);
    if (rc != 0) {
        free(j);
        http_respond_error(req, rc, NULL);
    }
}

static const api_route_t TEST_ROUTES[] = {
    {HTTP_M_POST, "/_test/echo", on_test_echo},
    {HTTP_M_PUT, "/_test/echo", on_test_echo},
    {HTTP_M_GET, "/_test/items/{id}/sub/{name}", on_test_item},
    {HTTP_M_DELETE, "/_test/items/{id}/sub/{name}", on_test_item},
    {HTTP_M_GET, "/_test/sleep", on_test_sleep},
};

/* See routes.h. */
const api_family_t api_test_family = API_FAMILY(TEST_ROUTES, NULL);

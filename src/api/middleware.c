/*
 * middleware.c - the chain of request hooks that runs before routing. The HTTP layer offers
 * one before-hook (http_router_set_before); this file turns it into an ordered list of
 * links, so each concern (CORS and security headers, CSRF, auto-refresh; later rate limits
 * and IP rules) is one link registered by its own module, in the order serve.c adds them.
 *
 * A link returns ERR_DECLINED to pass the request on, or 0 once it has responded or gone
 * asynchronous. An asynchronous link (pool work) calls api_middleware_continue(req, self)
 * from its done callback: the links after it run, then the route, exactly as if the chain
 * had not paused. Links may add response headers (they travel with whatever answer the
 * route gives).
 *
 * Threads: the chain is built before http_server_run and read-only afterwards; links run
 * on the request's loop thread.
 */
#define LOG_MODULE "api"
#include <stdio.h>

#include "api/api.h"
#include "common/err.h"
#include "runtime/log.h"

#define MAX_LINKS 16

struct link {
    api_mw_fn fn;
    void *data;
    const char *name;
};

static struct link g_links[MAX_LINKS];
static uint32_t g_count;
static const http_router_t *g_router;

/* See api.h. */
int api_middleware_add(const char *name, api_mw_fn fn, void *data)
{
    if (g_count >= MAX_LINKS || !fn)
        return ERR_INVALID;
    g_links[g_count].fn = fn;
    g_links[g_count].data = data;
    g_links[g_count].name = name;
    g_count++;
    return 0;
}

/* See api.h. */
void api_middleware_reset(void)
{
    g_count = 0;
    g_router = NULL;
}

/* Runs links from index first; ERR_DECLINED when all of them passed the request on. */
static int run_from(http_req_t *req, uint32_t first)
{
    for (uint32_t i = first; i < g_count; i++) {
        if (g_links[i].fn(req, g_links[i].data, i) != ERR_DECLINED)
            return 0;
    }
    return ERR_DECLINED;
}

static int on_before(http_req_t *req)
{
    return run_from(req, 0);
}

/* See api.h. */
void api_middleware_install(http_router_t *router)
{
    g_router = router;
    if (g_count)
        http_router_set_before(router, on_before);
}

/*
 * Routing after an asynchronous link, as the HTTP layer's dispatch does it: the matched
 * handler, else the OPTIONS answer (204 + Allow), 405 with Allow, or 404.
 */
static void route(http_req_t *req)
{
    http_handler_fn fn;
    void *data;
    char allow[96];
    int rc =
        http_router_match(g_router, req->method, req->path, &fn, &data, req, allow, sizeof allow);
    if (rc == 0) {
        req->route_data = data;
        req->is_head = req->method == HTTP_M_HEAD;
        fn(req);
        return;
    }
    if (rc == ERR_METHOD) {
        http_resp_header_add(req, "Allow", allow);
        if (req->method == HTTP_M_OPTIONS) {
            http_respond(req, 204, NULL, STR_NULL);
            return;
        }
        char detail[128];
        snprintf(detail, sizeof detail, "Method \"%.*s\" not allowed.", STR_FMT(req->method_name));
        http_respond_error(req, ERR_METHOD, detail);
        return;
    }
    http_respond_error(req, ERR_NOT_FOUND, NULL);
}

/* See api.h. */
void api_middleware_continue(http_req_t *req, uint32_t self)
{
    if (run_from(req, self + 1) == ERR_DECLINED)
        route(req);
}

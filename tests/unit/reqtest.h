/*
 * reqtest.h - a small harness for the request layer's unit tests: a request with chosen
 * headers (no connection), a context from options, and a whole request run through the
 * real connection state machine (bytes in, response bytes out) against one route, so that
 * helpers that need the request arena and the body parsers run as in the server.
 */
#ifndef JWTD_TEST_REQTEST_H
#define JWTD_TEST_REQTEST_H

#include <stdlib.h>
#include <string.h>

#include "api/request/req.h"
#include "common/buf.h"
#include "http/http_internal.h"

/* A request with the given headers (name, value pairs; NULL-terminated), no connection. */
static inline void make_req(http_req_t *req, http_header_t *hs, const char *const *kv)
{
    memset(req, 0, sizeof *req);
    uint32_t n = 0;
    for (; kv[2 * n]; n++) {
        hs[n].name = str_cstr(kv[2 * n]);
        hs[n].value = str_cstr(kv[2 * n + 1]);
    }
    req->headers = hs;
    req->header_count = n;
}

/* A context without the token service (for the helpers that do not verify tokens). */
static inline api_ctx_t *reqtest_ctx(const api_options_t *o)
{
    api_ctx_t *ctx = NULL;
    api_options_t none;
    memset(&none, 0, sizeof none);
    return api_ctx_new(o ? o : &none, NULL, &ctx) == 0 ? ctx : NULL;
}

static buf_t reqtest_out;

static void reqtest_write(http_conn_t *c, const char *d, size_t n)
{
    (void)c;
    buf_append(&reqtest_out, d, n);
}

static void reqtest_close(http_conn_t *c)
{
    c->closed = true;
}

static void reqtest_pause(http_conn_t *c, bool p)
{
    (void)c;
    (void)p;
}

/*
 * Runs raw (one whole HTTP request) from peer (NULL: 0.0.0.0) against a router whose only
 * route is method + path -> fn (route data: data), with trusted (may be NULL) as the
 * trusted proxies. Returns the response bytes (heap, NUL-terminated; free them).
 */
static inline char *reqtest_run_from(const char *peer, enum http_method method, const char *path,
                                     http_handler_fn fn, void *data, const ip_net_list_t *trusted,
                                     const char *raw)
{
    static const struct http_io io = {reqtest_write, reqtest_close, reqtest_pause};
    struct http_options opts;
    http_options_defaults(&opts);
    opts.trusted_proxies = trusted;
    http_router_t *r = http_router_new();
    http_router_add(r, method, path, fn, data);
    http_worker_t w;
    memset(&w, 0, sizeof w);
    http__worker_init_common(&w, r, &opts, &io);
    buf_init(&reqtest_out, 1 << 20);
    http_conn_t *c = calloc(1, sizeof *c);
    http__conn_init(c, &w);
    if (peer)
        (void)ip_parse(str_cstr(peer), &c->peer);
    size_t n = strlen(raw);
    char *tmp = malloc(n);
    memcpy(tmp, raw, n);
    http__conn_feed(c, tmp, n);
    free(tmp);
    http__conn_dispose(c);
    free(c);
    http__worker_dispose_common(&w);
    http_router_free(r);
    char *res = strdup(reqtest_out.data ? reqtest_out.data : "");
    buf_dispose(&reqtest_out);
    return res;
}

/* The same from no particular peer. */
static inline char *reqtest_run(enum http_method method, const char *path, http_handler_fn fn,
                                void *data, const ip_net_list_t *trusted, const char *raw)
{
    return reqtest_run_from(NULL, method, path, fn, data, trusted, raw);
}

#endif

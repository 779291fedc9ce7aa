/*
 * observe.c - what the request layer observes of every request: the "observe" link (the
 * request id, a sane X-Request-Id of the client or a generated one, echoed in
 * X-Request-Id; X-Content-Type-Options: nosniff), and the server's observers (api_observe):
 * request counts and durations by route family, slow requests in the performance log, and
 * the open-connection gauge. /metrics renders the counts (routes/metrics.c).
 */
#define LOG_MODULE "metrics"
#include "api/middleware/middleware.h"
#include "common/err.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

static void on_request_done(void *data, http_req_t *req, int status, uint64_t bytes, uint64_t us)
{
    const api_ctx_t *ctx = data;
    (void)bytes;
    str_t path = req->path.ptr ? req->path : STR_LIT("-");
    metrics_request(metrics_family_of_path(path), status, us);
    uint64_t slow_us = ctx->o.slow_request_ms * 1000;
    /* the revocation feed's streams and long polls last by design */
    bool lasts = str_starts_with(path, STR_LIT("/auth/revocations")) && status == 200;
    if (slow_us && us >= slow_us && !lasts) {
        char p[128];
        metrics_count(METRICS_SLOW_REQUESTS);
        log_perf_warn(http_req_rid(req),
                      "event=slow_request path=\"%s\" status=%d duration_us=%llu pool_depth=%u",
                      log_value_escape(p, sizeof p, path.ptr, path.len), status,
                      (unsigned long long)us, http_pool_depth());
    }
}

static void on_conn(void *data, int delta)
{
    (void)data;
    metrics_gauge_add(METRICS_G_OPEN_CONNECTIONS, delta);
}

/* See api.h. */
void api_observe(api_ctx_t *ctx, struct http_options *ho)
{
    ho->observer = on_request_done;
    ho->conn_observer = on_conn;
    ho->observer_data = ctx;
}

static int on_observe(http_req_t *req, void *data)
{
    (void)data;
    str_t rid = http_req_header(req, "x-request-id");
    if (rid.ptr)
        (void)http_req_set_rid(req, str_trim(rid)); /* an insane value keeps a generated id */
    http_resp_header_add(req, "X-Request-Id", http_req_rid(req));
    http_resp_header_add(req, "X-Content-Type-Options", "nosniff");
    return ERR_DECLINED;
}

/* See middleware.h. */
int api_observe_register(http_router_t *r, api_ctx_t *ctx)
{
    return http_router_use(r, "observe", on_observe, ctx);
}

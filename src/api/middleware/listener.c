/*
 * listener.c - the "listener" link: with JWTD_METRICS_LISTEN, GET /metrics is served only on
 * the server's second listener (http_req_on_aux) and answers 404 on the public one, and the
 * second listener serves nothing but /metrics. Without it the link adds no hook.
 */
#include "api/middleware/middleware.h"
#include "common/err.h"

static int on_listener(http_req_t *req, void *data)
{
    (void)data;
    bool metrics = str_eq(req->path, STR_LIT("/metrics"));
    if (http_req_on_aux(req) == metrics)
        return ERR_DECLINED;
    http_respond_error(req, ERR_NOT_FOUND, NULL);
    return 0;
}

/* See middleware.h. */
int api_listener_register(http_router_t *r, api_ctx_t *ctx)
{
    return ctx->o.metrics_apart ? http_router_use(r, "listener", on_listener, ctx) : 0;
}

/*
 * iprules.c - the "iprules" link: with JWTD_IP_ALLOWLIST the deployment answers only
 * clients inside those networks; others get 403 permission_denied on every route except
 * /healthz (the load balancer's probe), logged as event=ip_denied. Off (no link) with an
 * empty list.
 *
 * The other IP rule, JWTD_ADMIN_IP_ALLOWLIST (an admin's token is accepted only from those
 * networks), is part of authentication (request/locals.c). Both use the HTTP layer's client
 * address: the TCP peer, or the X-Forwarded-For hop added by a proxy listed in
 * JWTD_TRUSTED_PROXIES, never a header from an untrusted peer.
 */
#define LOG_MODULE "api"
#include "api/middleware/middleware.h"
#include "common/err.h"
#include "runtime/log.h"

static int on_iprules(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    if (str_eq(req->path, STR_LIT("/healthz")))
        return ERR_DECLINED;
    if (ip_net_list_contains(&ctx->ip_allowlist, http_req_client_addr(req)))
        return ERR_DECLINED;
    audit_ctx_t who = api__audit_ctx(req);
    audit_warn(&who, .event = "ip_denied", .outcome = "blocked", .reason = "JWTD_IP_ALLOWLIST");
    http_respond_error(req, ERR_PERMISSION, "Client address not allowed.");
    return 0;
}

/* See middleware.h. */
int api_iprules_register(http_router_t *r, api_ctx_t *ctx)
{
    return ctx->ip_allowlist.count ? http_router_use(r, "iprules", on_iprules, ctx) : 0;
}

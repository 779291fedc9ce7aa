/*
 * binding.c - the "binding" link, off unless configured: client-fingerprint binding of
 * refresh tokens and the refresh anomaly rule, applied to the refresh routes
 * (POST /api/token/refresh/, /api/auth/refresh/, /auth/refresh).
 *
 * With JWTD_FINGERPRINT_HEADERS a login binds the session's tokens to the client's
 * fingerprint (request/web.c; claim "fph", carried over by every rotation). A refresh token
 * that verifies and carries an fph differing from the requesting client's is refused: 401
 * token_not_valid, logged as event=fingerprint_mismatch (a token copied to another browser
 * or device cannot be refreshed there). Tokens without fph (issued before binding was
 * switched on, other issuers) are not checked. With JWTD_FINGERPRINT_ACCESS the same rule
 * applies to access tokens, in authentication (request/locals.c).
 *
 * With JWTD_REFRESH_ANOMALY_WINDOW, a refresh family (sid) refreshed from a client address
 * outside the network of its previous refresh (IPv4 /JWTD_REFRESH_ANOMALY_PREFIX, default
 * /16; IPv6 /48) within the window is taken as stolen: the session is revoked (every token
 * of it dies), the refresh gets 401 "Token is blacklisted", and event=refresh_anomaly is
 * logged. The last network of each family lives in the guards' store (auth_guard_family_
 * network: shared across instances with Redis) for the window.
 *
 * A token that does not verify is left to the route, which answers it as usual; the route
 * reuses this link's verification (api__verify).
 */
#define LOG_MODULE "api"
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/middleware/middleware.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

static bool is_refresh_route(str_t p)
{
    return str_eq(p, STR_LIT("/api/token/refresh/")) || str_eq(p, STR_LIT("/api/auth/refresh/")) ||
           str_eq(p, STR_LIT("/auth/refresh"));
}

/*
 * The refresh token of a refresh request: body "refresh" / "refresh_token" (JSON or form),
 * else the refresh cookie; copied into the arena. Empty when none.
 */
static str_t presented_refresh(http_req_t *req)
{
    json_t *root = NULL;
    if (req->body.len) {
        str_t ct = http_req_header(req, "content-type");
        if (ct.ptr && str_starts_with(ct, STR_LIT("application/x-www-form-urlencoded")))
            (void)http_form_to_json(req->body, &root);
        else
            root = json_loadb(req->body.ptr, req->body.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                              NULL); /* as http_req_json reads it for the route */
    }
    str_t tok = api__json_string(root, "refresh");
    if (!tok.ptr)
        tok = api__json_string(root, "refresh_token");
    if (tok.ptr)
        tok = str_make(http_req_strndup(req, tok), tok.len);
    json_decref(root);
    return tok.ptr ? tok : api__cookie(req, API_REFRESH_COOKIE);
}

/* ---- anomaly rule ------------------------------------------------------------------------- */

struct anomaly {
    http_req_t *req;
    const api_ctx_t *ctx;
    bool in_call; /* the guard answered before auth_guard_family_network returned */
    bool decided, allowed;
    char sid[AUTH_ID_MAX + 1];
    int rc;
};

/* The client's network (masked address, hex) into out. */
static void client_net(http_req_t *req, const api_ctx_t *ctx, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    const ip_addr_t *a = http_req_client_addr(req);
    ip_addr_t m;
    ip_mask(a, ip_is_v4(a) ? 96 + ctx->o.refresh_anomaly_prefix : 48, &m);
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hex[m.b[i] >> 4];
        out[2 * i + 1] = hex[m.b[i] & 15];
    }
    out[32] = '\0';
}

static void revoke_work(void *arg)
{
    struct anomaly *an = arg;
    an->rc = auth_revoke_session(an->ctx->auth, an->sid, clock_now_s());
}

static void revoke_done(http_req_t *req, void *arg, int status)
{
    (void)status;
    struct anomaly *an = arg;
    const api_ctx_t *ctx = an->ctx;
    free(an);
    api__respond_token_invalid(req, ctx, AUTH_REVOKED);
}

/* The decision is in: let the request through, or revoke the family and refuse it. */
static void anomaly_finish(struct anomaly *an)
{
    http_req_t *req = an->req;
    if (an->allowed) {
        free(an);
        http_req_route(req);
        return;
    }
    metrics_count(METRICS_REFRESH_ANOMALY);
    log_audit_warn(http_req_rid(req),
                   "event=refresh_anomaly sid=%s ip=%s msg=\"refresh family used from a "
                   "distant network within the window; session revoked\"",
                   an->sid, http_req_client_str(req));
    api__submit(req, revoke_work, revoke_done, an, free);
}

static void on_family(void *arg, const auth_guard_result_t *r)
{
    struct anomaly *an = arg;
    an->allowed = r->allowed;
    an->decided = true;
    if (!an->in_call)
        anomaly_finish(an);
}

/* Returns ERR_DECLINED (go on) or 0 (answered, or finishing asynchronously). */
static int check_anomaly(http_req_t *req, const api_ctx_t *ctx, const auth_token_ref_t *t)
{
    if (!ctx->o.refresh_anomaly_window_s || !t->sid[0])
        return ERR_DECLINED;
    char net[33];
    client_net(req, ctx, net);
    struct anomaly *an = xcalloc(1, sizeof *an);
    an->req = req;
    an->ctx = ctx;
    memcpy(an->sid, t->sid, sizeof an->sid);
    an->in_call = true;
    auth_guard_family_network(ctx->auth, t->sid, net, ctx->o.refresh_anomaly_window_s, on_family,
                              an);
    an->in_call = false;
    if (an->decided) {
        if (an->allowed) {
            free(an);
            return ERR_DECLINED;
        }
        anomaly_finish(an);
    }
    return 0;
}

static int on_binding(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    if (req->method != HTTP_M_POST || !is_refresh_route(req->path))
        return ERR_DECLINED;
    str_t tok = presented_refresh(req);
    if (!tok.len)
        return ERR_DECLINED;
    enum auth_verdict v;
    const auth_token_ref_t *t = api__verify(req, ctx, tok, AUTH_TOKEN_REFRESH, &v);
    if (v != AUTH_OK)
        return ERR_DECLINED; /* the route answers it */
    char mine[AUTH_FPH_MAX + 1];
    if (t->fph[0] && (!api__fingerprint(req, ctx, mine) || strcmp(t->fph, mine) != 0)) {
        log_audit_warn(http_req_rid(req), "event=fingerprint_mismatch token=refresh path=\"%.*s\"",
                       (int)req->path.len, req->path.ptr);
        api__respond_token_invalid(req, ctx, AUTH_INVALID);
        return 0;
    }
    return check_anomaly(req, ctx, t);
}

/* See middleware.h. */
int api_binding_register(http_router_t *r, api_ctx_t *ctx)
{
    if (ctx->o.refresh_anomaly_prefix > 32)
        ctx->o.refresh_anomaly_prefix = 32;
    if (!ctx->fingerprint_fields[0] && !ctx->o.refresh_anomaly_window_s)
        return 0;
    return http_router_use(r, "binding", on_binding, ctx);
}

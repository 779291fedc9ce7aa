/*
 * ratelimit.c - the "ratelimit" link: every request counts against one budget of the
 * service's guards (auth.h, auth_guard_*), decided before routing so that a 429 costs no
 * route work and carries the CORS headers.
 *
 * Policy (docs "Rate limits"):
 *   - login routes (POST /api/token/, /api/auth/login/, /api/auth/mobile/login/,
 *     /auth/login) pass: their route counts the attempt once it has read the username and
 *     the device token (api__login_submit, auth_guard_login; docs/security.md);
 *   - a request with a valid Bearer access token counts against its user; any other request
 *     against the client address ("anonymous"). A Bearer token that does not verify also
 *     counts against the address's invalid-token budget;
 *   - exempt: /healthz, /readyz, /metrics, everything under /.well-known/ and /app/, OPTIONS
 *     (preflight), /auth/introspect (nginx asks it once per proxied request, all from
 *     nginx's address; limit at the proxy instead).
 * The client address is the HTTP layer's (http_req_client_addr: the peer, or behind a
 * trusted proxy the address it saw). A check may wait for Redis: the link then returns 0
 * and the guard's callback answers 429 or lets the request through (http_req_route).
 */
#define LOG_MODULE "api"
#include <string.h>

#include "api/middleware/middleware.h"
#include "common/err.h"

/* One check in flight, in the request arena. */
struct rl {
    http_req_t *req;
    enum auth_guard_kind kind;
    bool in_call; /* the guard answered before auth_guard_check returned */
    bool done;
    auth_guard_result_t res;
};

static void on_guard(void *arg, const auth_guard_result_t *r)
{
    struct rl *c = arg;
    if (c->in_call) {
        c->res = *r;
        c->done = true;
        return;
    }
    if (r->allowed)
        http_req_route(c->req);
    else
        api__respond_throttled(c->req, r, c->kind);
}

static bool is_login_path(str_t p)
{
    return str_eq(p, STR_LIT("/api/token/")) || str_eq(p, STR_LIT("/api/auth/login/")) ||
           str_eq(p, STR_LIT("/api/auth/mobile/login/")) || str_eq(p, STR_LIT("/auth/login"));
}

static bool is_exempt(const http_req_t *req)
{
    str_t p = req->path;
    if (req->method == HTTP_M_OPTIONS)
        return true;
    return str_eq(p, STR_LIT("/healthz")) || str_eq(p, STR_LIT("/readyz")) ||
           str_eq(p, STR_LIT("/metrics")) || str_starts_with(p, STR_LIT("/.well-known/")) ||
           str_starts_with(p, STR_LIT("/app/")) || str_eq(p, STR_LIT("/app")) ||
           str_eq(p, STR_LIT("/auth/introspect")); /* nginx's per-request subrequest */
}

/* A resource server's verifier key on a feed route: not a JWT, so never verified as one nor
   counted as an invalid token (the route checks the key); the request counts against the
   address's budget. */
static bool is_verifier_key(const http_req_t *req)
{
    str_t key;
    return str_starts_with(req->path, STR_LIT("/auth/revocations")) &&
           api__bearer(req, &key) == 0 && auth_verifier_key_shape(key);
}

static int on_ratelimit(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    if (is_exempt(req))
        return ERR_DECLINED;
    /* a login attempt is counted by its route once the credentials are read
       (api__login_submit: the username and device token decide its budgets) */
    if (req->method == HTTP_M_POST && is_login_path(req->path))
        return ERR_DECLINED;
    enum auth_guard_kind kind = AUTH_GUARD_ANON;
    /* nothing would be counted (limits "0", as in the benchmarks): no work at all */
    if (!auth_guard_limited(ctx->auth, kind))
        return ERR_DECLINED;
    const char *client = http_req_client_str(req);
    int64_t uid = 0;
    const api_locals_t *caller = is_verifier_key(req) ? NULL : api__caller(req, ctx);
    if (caller && caller->bearer_rc == 0 && caller->verdict == AUTH_OK && caller->ref.has_user_id &&
        caller->ref.user_id != INT64_MIN) {
        kind = AUTH_GUARD_USER;
        uid = caller->ref.user_id;
    } else if (caller && caller->bearer_rc == 0) {
        auth_guard_invalid_token(ctx->auth, client);
    }
    struct rl *c = http_req_alloc(req, sizeof *c);
    memset(c, 0, sizeof *c);
    c->req = req;
    c->kind = kind;
    c->in_call = true;
    auth_guard_check(ctx->auth, kind, client, NULL, uid, on_guard, c);
    c->in_call = false;
    if (!c->done)
        return 0; /* asynchronous: on_guard routes the request or answers 429 */
    if (c->res.allowed)
        return ERR_DECLINED;
    api__respond_throttled(req, &c->res, kind);
    return 0;
}

/* See middleware.h. */
int api_ratelimit_register(http_router_t *r, api_ctx_t *ctx)
{
    return http_router_use(r, "ratelimit", on_ratelimit, ctx);
}

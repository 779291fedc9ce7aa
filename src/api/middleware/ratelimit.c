/*
 * ratelimit.c - the "ratelimit" link: every request counts against one budget of the
 * service's guards (auth.h, auth_guard_*), decided before routing so that a 429 costs no
 * route work and carries the CORS headers.
 *
 * Policy (docs "Rate limits"):
 *   - login routes (POST /api/token/, /api/auth/login/, /api/auth/mobile/login/,
 *     /auth/login): the attempt counts against the client address; the username's budget of
 *     FAILED attempts (counted by the login itself) is checked;
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
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/middleware/middleware.h"
#include "common/err.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

static const char *const KIND[] = {"login", "user", "anon"};

/* One check in flight, in the request arena. */
struct rl {
    http_req_t *req;
    enum auth_guard_kind kind;
    bool in_call; /* the guard answered before auth_guard_check returned */
    bool done;
    auth_guard_result_t res;
};

static void respond_throttled(http_req_t *req, const auth_guard_result_t *r,
                              enum auth_guard_kind kind)
{
    char retry[16], detail[96];
    snprintf(retry, sizeof retry, "%u", r->retry_after_s);
    snprintf(detail, sizeof detail, "Request was throttled. Expected available in %u second%s.",
             r->retry_after_s, r->retry_after_s == 1 ? "" : "s");
    http_resp_header_add(req, "Retry-After", retry);
    metrics_count(kind == AUTH_GUARD_LOGIN  ? METRICS_RATE_LOGIN
                  : kind == AUTH_GUARD_USER ? METRICS_RATE_USER
                                            : METRICS_RATE_ANON);
    char extra[48];
    snprintf(extra, sizeof extra, "retry_after=%u%s", r->retry_after_s, r->local ? " local=1" : "");
    audit_ctx_t who = api__audit_ctx(req);
    audit_info(&who, .event = "throttled", .outcome = "blocked", .reason = KIND[kind],
               .detail = extra);
    http_respond_error(req, ERR_THROTTLED, detail);
}

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
        respond_throttled(c->req, r, c->kind);
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

/* The username of a login body (JSON or form), into out; "" when absent. */
static void login_username(http_req_t *req, char *out, size_t cap)
{
    out[0] = '\0';
    if (!req->body.len)
        return;
    str_t ct = http_req_header(req, "content-type");
    if (ct.ptr && str_starts_with(ct, STR_LIT("application/x-www-form-urlencoded"))) {
        str_t cur = req->body, k, v;
        while (http_form_next(&cur, &k, &v)) {
            if (!str_eq(k, STR_LIT("username")))
                continue;
            char *tmp = http_req_alloc(req, v.len + 1);
            long n = http_pct_decode(v, tmp, true);
            if (n >= 0)
                snprintf(out, cap, "%.*s", (int)n, tmp);
            return;
        }
        return;
    }
    json_t *j = json_loadb(req->body.ptr, req->body.len, JSON_DISABLE_EOF_CHECK, NULL);
    if (!j)
        return;
    json_t *u = json_object_get(j, "username");
    if (json_is_string(u))
        snprintf(out, cap, "%s", json_string_value(u));
    json_decref(j);
}

static int on_ratelimit(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    if (is_exempt(req))
        return ERR_DECLINED;
    bool login = req->method == HTTP_M_POST && is_login_path(req->path);
    enum auth_guard_kind kind = login ? AUTH_GUARD_LOGIN : AUTH_GUARD_ANON;
    /* nothing would be counted (limits "0", as in the benchmarks): no work at all */
    if (!auth_guard_limited(ctx->auth, kind))
        return ERR_DECLINED;
    const char *client = http_req_client_str(req);
    char user[160] = "";
    int64_t uid = 0;
    if (login) {
        login_username(req, user, sizeof user);
    } else {
        const api_locals_t *caller = api__caller(req, ctx);
        if (caller->bearer_rc == 0 && caller->verdict == AUTH_OK && caller->ref.has_user_id &&
            caller->ref.user_id != INT64_MIN) {
            kind = AUTH_GUARD_USER;
            uid = caller->ref.user_id;
        } else if (caller->bearer_rc == 0) {
            auth_guard_invalid_token(ctx->auth, client);
        }
    }
    struct rl *c = http_req_alloc(req, sizeof *c);
    memset(c, 0, sizeof *c);
    c->req = req;
    c->kind = kind;
    c->in_call = true;
    auth_guard_check(ctx->auth, kind, client, user, uid, on_guard, c);
    c->in_call = false;
    if (!c->done)
        return 0; /* asynchronous: on_guard routes the request or answers 429 */
    if (c->res.allowed)
        return ERR_DECLINED;
    respond_throttled(req, &c->res, kind);
    return 0;
}

/* See middleware.h. */
int api_ratelimit_register(http_router_t *r, api_ctx_t *ctx)
{
    return http_router_use(r, "ratelimit", on_ratelimit, ctx);
}

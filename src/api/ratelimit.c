/*
 * ratelimit.c - the "ratelimit" link of the middleware chain (API.md section 9): login
 * attempts per client IP and per username, anonymous requests per IP, authenticated
 * requests per user, and the count of invalid tokens per IP (logged as suspicious beyond
 * JWTD_INVALID_TOKEN_LIMIT, optionally blocked for JWTD_INVALID_TOKEN_BLOCK).
 *
 * The buckets live in the store (store.h: GCRA; in Redis when configured, so every
 * instance shares them; in-process otherwise, and as the fallback while Redis is down). A
 * request needs at most one Redis round trip, asynchronous on its own loop: the link
 * returns 0, and the store's callback either answers 429 or resumes the chain.
 *
 * Policy (README "Rate limits"):
 *   - login routes (POST /api/token/, /api/auth/login/, /api/auth/mobile/login/,
 *     /auth/login): every attempt counts against the client IP; only FAILED attempts count
 *     against the username (auth's login-failed hook), and the username bucket is only
 *     checked, never consumed, by the request itself. So a user who types the right
 *     password never uses up their own budget, one attacker is stopped by the IP limit, and
 *     a distributed guesser gets `count` guesses per period for the whole account. The
 *     price: while such an attack runs, the account's logins are throttled too (existing
 *     sessions and refreshes are not) - never longer than period/count after it stops.
 *   - a request with a valid Bearer access token counts against its user; any other
 *     request counts against the client IP ("anonymous"). A Bearer token that does not
 *     verify also counts against the IP's invalid-token budget.
 *   - exempt: /healthz, /readyz, /metrics, everything under /.well-known/ and /app/,
 *     OPTIONS (preflight), /auth/introspect (nginx asks it once per proxied request, all
 *     from nginx's address; limit at the proxy instead).
 * Client IP: the peer address, or - only when the peer is in JWTD_TRUSTED_PROXIES - the
 * right-most X-Forwarded-For address that is not itself a trusted proxy.
 */
#define LOG_MODULE "api"
#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "common/err.h"
#include "config/config.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "store/store.h"

static struct {
    auth_t *auth;
    store_t *st;
    cfg_rate_t login, anon, user, invalid;
    uint32_t block_s;
    const ip_net_list_t *trusted;
} g;

/* ---- client address ---------------------------------------------------------------------- */

/* See api.h. */
void api_client_ip(http_req_t *req, char *out, size_t cap)
{
    const ip_net_list_t *trusted = g.trusted;
    ip_addr_t addr = *http_req_peer_addr(req);
    if (trusted && trusted->count && ip_net_list_contains(trusted, &addr)) {
        str_t xff = http_req_header(req, "x-forwarded-for");
        /* right to left: the first address not added by one of our proxies */
        while (xff.ptr && xff.len) {
            const char *comma = NULL;
            for (size_t i = xff.len; i > 0; i--)
                if (xff.ptr[i - 1] == ',') {
                    comma = xff.ptr + i - 1;
                    break;
                }
            str_t item = comma ? str_make(comma + 1, xff.len - (size_t)(comma + 1 - xff.ptr)) : xff;
            ip_addr_t a;
            if (ip_parse(item, &a) != 0)
                break; /* garbage: keep the last believable address */
            addr = a;
            if (!ip_net_list_contains(trusted, &a))
                break;
            if (!comma)
                break;
            xff.len = (size_t)(comma - xff.ptr);
        }
    }
    char text[IP_TEXT_MAX];
    ip_format(&addr, text);
    snprintf(out, cap, "%s", text);
}

/* ---- the link ----------------------------------------------------------------------------- */

struct rl_ctx {
    http_req_t *req;
    uint32_t self;
    bool in_call; /* the store answered before store_rate_check returned */
    bool done;
    store_rate_result_t res;
    char ip[64];
    int kind; /* 0 login, 1 user, 2 anon */
};

static const char *const KIND[] = {"login", "user", "anon"};

static void respond_throttled(http_req_t *req, const store_rate_result_t *r, const char *ip,
                              int kind)
{
    char retry[16], detail[96];
    snprintf(retry, sizeof retry, "%u", r->retry_after_s);
    snprintf(detail, sizeof detail, "Request was throttled. Expected available in %u second%s.",
             r->retry_after_s, r->retry_after_s == 1 ? "" : "s");
    http_resp_header_add(req, "Retry-After", retry);
    metrics_count(kind == 0   ? METRICS_RATE_LOGIN
                  : kind == 1 ? METRICS_RATE_USER
                              : METRICS_RATE_ANON);
    log_audit_info(http_req_rid(req), "event=throttled kind=%s ip=%s retry_after=%u%s", KIND[kind],
                   ip, r->retry_after_s, r->local ? " local=1" : "");
    http_respond_error(req, ERR_THROTTLED, detail);
}

static void on_rate(void *arg, const store_rate_result_t *r)
{
    struct rl_ctx *c = arg;
    if (c->in_call) {
        c->res = *r;
        c->done = true;
        return;
    }
    if (r->allowed)
        api_middleware_continue(c->req, c->self);
    else
        respond_throttled(c->req, r, c->ip, c->kind);
}

struct bad_ctx {
    char ip[64];
};

/*
 * Whether to log a suspicious IP now: at most once a minute per IP (a hashed slot per
 * address; a collision only drops a log line), so an attack is visible without flooding.
 */
static bool log_suspicious_now(const char *ip)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        uint64_t h;
        int64_t at;
    } slots[1024];
    uint64_t h = 1469598103934665603ull;
    for (const char *p = ip; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    int64_t now = clock_now_s();
    pthread_mutex_lock(&mu);
    bool yes = slots[h % 1024].h != h || now - slots[h % 1024].at >= 60;
    if (yes) {
        slots[h % 1024].h = h;
        slots[h % 1024].at = now;
    }
    pthread_mutex_unlock(&mu);
    return yes;
}

/* The invalid-token count of an IP went over its limit: log, and block if configured. */
static void on_invalid(void *arg, const store_rate_result_t *r)
{
    struct bad_ctx *b = arg;
    if (!r->allowed)
        metrics_count(METRICS_RATE_INVALID);
    if (!r->allowed && log_suspicious_now(b->ip)) {
        log_audit_warn(NULL,
                       "event=suspicious_invalid_tokens ip=%s limit=%u/%us action=%s "
                       "msg=\"more invalid tokens than the limit (logged at most once a minute)\"",
                       b->ip, g.invalid.count, g.invalid.period_s,
                       g.block_s ? "blocked" : "logged");
    }
    if (!r->allowed) {
        if (g.block_s) {
            char k[96];
            snprintf(k, sizeof k, "block:%s", b->ip);
            store_rate_block(g.st, k, g.block_s);
        }
    }
    free(b);
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
            if (n >= 0) {
                size_t l = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
                memcpy(out, tmp, l);
                out[l] = '\0';
            }
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

static bool limited(const cfg_rate_t *r)
{
    return r->count > 0 && r->period_s > 0;
}

static int rate_link(http_req_t *req, void *data, uint32_t self)
{
    (void)data;
    if (is_exempt(req))
        return ERR_DECLINED;
    bool login_req = req->method == HTTP_M_POST && is_login_path(req->path);
    /* nothing would be counted (limits "0", as in the benchmarks): no work at all */
    if (!g.block_s && !(login_req ? limited(&g.login)
                                  : limited(&g.anon) || limited(&g.user) || limited(&g.invalid)))
        return ERR_DECLINED;
    struct rl_ctx *c = http_req_alloc(req, sizeof *c);
    memset(c, 0, sizeof *c);
    c->req = req;
    c->self = self;
    api_client_ip(req, c->ip, sizeof c->ip);

    store_rate_t r[3];
    size_t n = 0;
    char *kb = http_req_alloc(req, 3 * 256);
    if (g.block_s) {
        snprintf(kb, 256, "block:%s", c->ip);
        r[n++] = (store_rate_t){kb, 0, 0, STORE_RATE_BLOCK};
    }
    str_t tok;
    if (login_req) {
        c->kind = 0;
        if (limited(&g.login)) {
            char user[160];
            login_username(req, user, sizeof user);
            snprintf(kb + 256, 256, "login:ip:%s", c->ip);
            r[n++] = (store_rate_t){kb + 256, g.login.count, g.login.period_s, STORE_RATE_CONSUME};
            if (user[0]) {
                snprintf(kb + 512, 256, "login:user:%.150s", user);
                r[n++] = (store_rate_t){kb + 512, g.login.count, g.login.period_s, STORE_RATE_PEEK};
            }
        }
    } else if (api__bearer(req, &tok) == 0) {
        jwtv_claims *claims = http_req_alloc(req, sizeof *claims);
        int64_t uid;
        if (auth_verify_access(g.auth, tok, 0, claims) == AUTH_OK && claims->user_id &&
            auth_parse_user_id(claims->user_id, &uid) == 0) {
            c->kind = 1;
            if (limited(&g.user)) {
                snprintf(kb + 256, 256, "user:%" PRId64, uid);
                r[n++] =
                    (store_rate_t){kb + 256, g.user.count, g.user.period_s, STORE_RATE_CONSUME};
            }
        } else {
            c->kind = 2;
            if (limited(&g.invalid)) {
                struct bad_ctx *b = malloc(sizeof *b);
                if (b) {
                    memcpy(b->ip, c->ip, sizeof b->ip);
                    char k[96];
                    snprintf(k, sizeof k, "invalid:%s", c->ip);
                    store_rate_t ir = {k, g.invalid.count, g.invalid.period_s, STORE_RATE_CONSUME};
                    store_rate_check(g.st, &ir, 1, on_invalid, b);
                }
            }
        }
    } else {
        c->kind = 2;
    }
    if (c->kind == 2 && limited(&g.anon)) {
        snprintf(kb + 256, 256, "anon:%s", c->ip);
        r[n++] = (store_rate_t){kb + 256, g.anon.count, g.anon.period_s, STORE_RATE_CONSUME};
    }
    if (n == 0)
        return ERR_DECLINED;
    c->in_call = true;
    store_rate_check(g.st, r, n, on_rate, c);
    c->in_call = false;
    if (!c->done)
        return 0; /* asynchronous: on_rate resumes the chain or answers 429 */
    if (c->res.allowed)
        return ERR_DECLINED;
    respond_throttled(req, &c->res, c->ip, c->kind);
    return 0;
}

/* auth's login-failed hook (pool thread): one failure against the username. */
static void on_login_failed(void *arg, const char *username)
{
    (void)arg;
    if (!limited(&g.login) || !username || !*username)
        return;
    char k[200];
    snprintf(k, sizeof k, "login:user:%.150s", username);
    store_rate_consume(g.st, k, g.login.count, g.login.period_s);
}

/* See api.h. */
int api_ratelimit_register(auth_t *auth, const struct cfg *cfg)
{
    g.auth = auth;
    g.st = auth_store(auth);
    g.login = cfg->rate_limit_login;
    g.anon = cfg->rate_limit_anon;
    g.user = cfg->rate_limit_user;
    g.invalid = cfg->invalid_token_limit;
    g.block_s = (uint32_t)cfg->invalid_token_block_s;
    g.trusted = &cfg->trusted_proxies;
    auth_set_login_failed_hook(auth, on_login_failed, NULL);
    return api_middleware_add("ratelimit", rate_link, NULL);
}

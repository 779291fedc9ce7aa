/*
 * binding.c - client-fingerprint binding of tokens (issue 9, seed 004), off by default.
 *
 * With JWTD_FINGERPRINT_HEADERS=User-Agent,Accept-Language (any header names) a login
 * computes fph = base64url(first 16 bytes of SHA-256("name:value\n" for each header, in
 * the configured order, missing = empty)) and auth binds it into the session's tokens
 * (claim "fph", carried over by every rotation). Then:
 *   - the "binding" link refuses a refresh (POST /api/token/refresh/, /api/auth/refresh/,
 *     /auth/refresh) whose refresh token carries an fph that differs from the requesting
 *     client's: 401 token_not_valid, logged as event=fingerprint_mismatch (a token copied to
 *     another browser or device cannot be refreshed there);
 *   - with JWTD_FINGERPRINT_ACCESS=true, api_authenticate refuses an access token whose fph
 *     differs from the request's (stricter: a browser update changing User-Agent logs the
 *     user out at once instead of at the next refresh).
 * Tokens without fph (issued before binding was switched on, other issuers) are not
 * checked.
 *
 * The same link applies seed 001's anomaly rule when JWTD_REFRESH_ANOMALY_WINDOW is set: a
 * refresh family (sid) refreshed from a client address outside the network of its previous
 * refresh (IPv4 /JWTD_REFRESH_ANOMALY_PREFIX, default /16; IPv6 /48) within the window is
 * taken as stolen: the session is revoked (every token of it dies), the refresh gets 401
 * "Token is blacklisted", and event=refresh_anomaly is logged. The last network of each
 * family lives in the store's cache (shared across instances with Redis) for the window. The
 * fingerprint is not a secret and not a proof: it raises the bar for replay from another client,
 * nothing more (headers are chosen by the client).
 */
#define LOG_MODULE "api"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "api/api.h"
#include "auth/auth.h"
#include "common/b64url.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "config/config.h"
#include "runtime/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "store/store.h"

#define MAX_FIELDS 8

static struct {
    char *fields[MAX_FIELDS];
    size_t count;
    bool access;
    auth_t *auth;
    uint32_t anomaly_window_s; /* 0 = rule off */
    unsigned anomaly_prefix;   /* IPv4 prefix length */
} g;

/* See api.h. */
bool api_fingerprint(http_req_t *req, char *out)
{
    if (!g.count)
        return false;
    buf_t m;
    buf_init(&m, 64 * 1024);
    for (size_t i = 0; i < g.count; i++) {
        str_t v = http_req_header(req, g.fields[i]);
        buf_append_cstr(&m, g.fields[i]);
        buf_append_char(&m, ':');
        if (v.ptr)
            buf_append(&m, v.ptr, v.len);
        buf_append_char(&m, '\n');
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    int ok = EVP_Digest(m.data ? m.data : "", m.len, d, &dl, EVP_sha256(), NULL);
    buf_dispose(&m);
    if (!ok || b64url_encode(d, 16, out, AUTH_FPH_MAX + 1) != AUTH_FPH_MAX)
        return false;
    out[AUTH_FPH_MAX] = '\0';
    return true;
}

/* See api.h. */
char *api_fingerprint_dup(http_req_t *req)
{
    char f[AUTH_FPH_MAX + 1];
    return api_fingerprint(req, f) ? xstrdup(f) : NULL;
}

/* See api.h. */
bool api_fingerprint_access_ok(http_req_t *req, const char *token_fph)
{
    if (!g.access || !token_fph || !*token_fph)
        return true;
    char f[AUTH_FPH_MAX + 1];
    if (api_fingerprint(req, f) && strcmp(f, token_fph) == 0)
        return true;
    log_audit_warn(http_req_rid(req), "event=fingerprint_mismatch token=access");
    return false;
}

/* The refresh token of a refresh request: body "refresh" / "refresh_token" (JSON or form),
 * else the refresh_token cookie. Empty when none. */
static str_t presented_refresh(http_req_t *req, json_t **root)
{
    str_t body = req->body;
    *root = NULL;
    if (body.len) {
        str_t ct = http_req_header(req, "content-type");
        if (ct.ptr && ct.len >= 33 &&
            strncasecmp(ct.ptr, "application/x-www-form-urlencoded", 33) == 0)
            (void)http_form_to_json(body, root);
        else
            *root = json_loadb(body.ptr, body.len, JSON_REJECT_DUPLICATES, NULL);
    }
    if (*root && json_is_object(*root)) {
        json_t *v = json_object_get(*root, "refresh");
        if (!json_is_string(v))
            v = json_object_get(*root, "refresh_token");
        if (json_is_string(v))
            return str_make(json_string_value(v), json_string_length(v));
    }
    str_t cookie = http_req_header(req, "cookie");
    for (size_t i = 0; cookie.ptr && i + 14 <= cookie.len; i++) {
        if ((i == 0 || cookie.ptr[i - 1] == ' ' || cookie.ptr[i - 1] == ';') &&
            memcmp(cookie.ptr + i, "refresh_token=", 14) == 0) {
            size_t s = i + 14, e = s;
            while (e < cookie.len && cookie.ptr[e] != ';')
                e++;
            return str_make(cookie.ptr + s, e - s);
        }
    }
    return STR_NULL;
}

/* The "fph" claim of a compact token's payload (not verified: the handler verifies the
 * token; a forged token fails there whatever its fph). Empty when absent. */
static void token_fph(str_t tok, char out[AUTH_FPH_MAX + 1])
{
    out[0] = '\0';
    const char *d1 = memchr(tok.ptr, '.', tok.len);
    if (!d1)
        return;
    const char *p = d1 + 1;
    const char *d2 = memchr(p, '.', tok.len - (size_t)(p - tok.ptr));
    if (!d2 || (size_t)(d2 - p) > 8192)
        return;
    char buf[6200];
    size_t len;
    if (!b64url_decode(p, (size_t)(d2 - p), buf, sizeof buf, &len))
        return;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = j ? json_object_get(j, "fph") : NULL;
    if (json_is_string(v) && json_string_length(v) <= AUTH_FPH_MAX)
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
    json_decref(j);
}

static bool is_refresh_route(str_t p)
{
    return str_eq(p, STR_LIT("/api/token/refresh/")) || str_eq(p, STR_LIT("/api/auth/refresh/")) ||
           str_eq(p, STR_LIT("/auth/refresh"));
}

/* ---- anomaly rule ---------------------------------------------------------------------- */

struct anomaly {
    http_req_t *req;
    uint32_t self;
    bool async; /* the store answers later: the callback finishes */
    bool decided;
    bool distant;
    char key[48];
    char net[40];
    char ip[64];
    char sid[40];
    int rc;
};

/* The client's network (masked address, hex) of req into out. */
static void client_net(http_req_t *req, char *ip, size_t ipcap, char out[40])
{
    static const char hex[] = "0123456789abcdef";
    ip_addr_t a, m;
    api_client_ip(req, ip, ipcap);
    if (ip_parse(str_cstr(ip), &a) != 0)
        a = *http_req_peer_addr(req);
    ip_mask(&a, ip_is_v4(&a) ? 96 + g.anomaly_prefix : 48, &m);
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hex[m.b[i] >> 4];
        out[2 * i + 1] = hex[m.b[i] & 15];
    }
    out[32] = '\0';
}

static void revoke_work(void *arg)
{
    struct anomaly *an = arg;
    an->rc = auth_revoke_session(g.auth, an->sid, clock_now_s());
}

static void revoke_done(http_req_t *req, void *arg, int status)
{
    struct anomaly *an = arg;
    (void)status;
    free(an);
    http_resp_header_add(req, "WWW-Authenticate", "Bearer realm=\"api\", error=\"invalid_token\"");
    http_respond(req, 401, "application/json",
                 STR_LIT("{\"detail\":\"Token is blacklisted\",\"code\":\"token_not_valid\"}"));
}

static void anomaly_finish(struct anomaly *an)
{
    http_req_t *req = an->req;
    if (!an->distant) {
        store_cache_set(auth_store(g.auth), an->key, str_cstr(an->net), g.anomaly_window_s, NULL);
        uint32_t self = an->self;
        free(an);
        api_middleware_continue(req, self);
        return;
    }
    metrics_count(METRICS_REFRESH_ANOMALY);
    log_audit_warn(http_req_rid(req),
                   "event=refresh_anomaly sid=%s ip=%s msg=\"refresh family used from a distant "
                   "network within the window; session revoked\"",
                   an->sid, an->ip);
    if (http_pool_submit(req, revoke_work, revoke_done, an) != 0) {
        free(an);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

static void on_family_net(void *arg, int status, str_t value)
{
    struct anomaly *an = arg;
    an->distant = status == 0 && !str_eq_cstr(value, an->net);
    an->decided = true;
    if (an->async)
        anomaly_finish(an);
}

/* Returns ERR_DECLINED (go on) or 0 (answered, or finishing asynchronously). */
static int check_anomaly(http_req_t *req, str_t tok, uint32_t self)
{
    if (!g.anomaly_window_s || !tok.len)
        return ERR_DECLINED;
    jwtv_claims *c = http_req_alloc(req, sizeof *c);
    if (auth_verify_refresh(g.auth, tok, 0, c) != AUTH_OK || !c->sid || strlen(c->sid) > 32)
        return ERR_DECLINED; /* the route answers it */
    struct anomaly *an = xcalloc(1, sizeof *an);
    an->req = req;
    an->self = self;
    snprintf(an->sid, sizeof an->sid, "%s", c->sid);
    snprintf(an->key, sizeof an->key, "fam:%s", c->sid);
    client_net(req, an->ip, sizeof an->ip, an->net);
    store_cache_get(auth_store(g.auth), an->key, on_family_net, an);
    if (an->decided) {
        anomaly_finish(an);
        return 0;
    }
    an->async = true;
    return 0;
}

static int on_binding(http_req_t *req, void *data, uint32_t self)
{
    (void)data;
    if (req->method != HTTP_M_POST || !is_refresh_route(req->path))
        return ERR_DECLINED;
    json_t *root;
    str_t tok = presented_refresh(req, &root);
    char bound[AUTH_FPH_MAX + 1], mine[AUTH_FPH_MAX + 1];
    if (tok.len)
        token_fph(tok, bound);
    else
        bound[0] = '\0';
    if (!bound[0] || (api_fingerprint(req, mine) && strcmp(bound, mine) == 0)) {
        /* tok points into root (or the request): copy before releasing root */
        str_t t = tok.len ? str_make(http_req_strndup(req, tok), tok.len) : tok;
        json_decref(root);
        return check_anomaly(req, t, self);
    }
    json_decref(root);
    log_audit_warn(http_req_rid(req), "event=fingerprint_mismatch token=refresh path=\"%.*s\"",
                   (int)req->path.len, req->path.ptr);
    http_resp_header_add(req, "WWW-Authenticate", "Bearer realm=\"api\", error=\"invalid_token\"");
    http_respond(
        req, 401, "application/json",
        STR_LIT("{\"detail\":\"Token is invalid or expired\",\"code\":\"token_not_valid\"}"));
    return 0;
}

/* See api.h. */
int api_binding_register(auth_t *auth, const struct cfg *cfg)
{
    g.auth = auth;
    g.anomaly_window_s = (uint32_t)cfg->refresh_anomaly_window_s;
    g.anomaly_prefix = cfg->refresh_anomaly_prefix > 32 ? 32 : cfg->refresh_anomaly_prefix;
    g.count = 0;
    for (size_t i = 0; i < cfg->fingerprint_headers.count && g.count < MAX_FIELDS; i++) {
        char *f = xstrdup(cfg->fingerprint_headers.items[i]);
        for (char *c = f; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        g.fields[g.count++] = f;
    }
    g.access = cfg->fingerprint_access;
    return g.count || g.anomaly_window_s ? api_middleware_add("binding", on_binding, NULL) : 0;
}

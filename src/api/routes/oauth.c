/*
 * oauth.c - jwtd as an OAuth 2.0 / OpenID Connect provider (auth/oauth.h, docs/oidc.md):
 *
 *   GET  /oauth/authorize    the authorization endpoint: redirects with code, state and iss,
 *                            or to the web UI's sign-in, or shows the consent page; an
 *                            unknown client or redirect URI gets an error page, never a
 *                            redirect (RFC 6749 §4.1.2.1)
 *   POST /oauth/authorize    the consent form's answer (CSRF token tied to the browser)
 *   POST /oauth/token        grants; RFC 6749 §5.2 errors, 401 + WWW-Authenticate for
 *                            invalid_client (a body over the limit too: 413 invalid_request,
 *                            as on /oauth/revoke and /oauth/introspect)
 *   GET|POST /oauth/userinfo the claims of the token's scopes
 *   POST /oauth/revoke       RFC 7009
 *   POST /oauth/introspect   RFC 7662
 *   GET  /oauth/logout       RP-initiated logout 1.0 (without id_token_hint the user
 *                            confirms: POST /oauth/logout, CSRF-protected)
 *   POST /oauth/session      the web UI, signed in (Bearer), gets the OAuth browser session
 *                            cookie (Path=/oauth/) that /oauth/authorize reads
 *   GET  /auth/apps, DELETE /auth/apps/{client_id}   the user's connected apps
 *   GET|POST /admin/clients, GET|DELETE /admin/clients/{client_id}   clients (admin role)
 *
 * Every answer of the OAuth endpoints carries RFC 6749's {"error","error_description"}
 * plus the contract's {"detail","code"}. Everything that touches the database runs as a
 * job on the blocking pool; request strings live in the request's arena, which outlives
 * the job.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/routes/routes.h"
#include "auth/oauth.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"

#define COOKIE        "jwtd_oauth"
#define MAX_PARAM     2048
#define PAGE_CSP      "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'"
#define HTML_CT       "text/html; charset=utf-8"
#define WWW_BASIC     "Basic realm=\"jwtd\""
#define WWW_BEARER_IT "Bearer realm=\"api\", error=\"invalid_token\""

/* ==== small helpers ========================================================================== */

/* A request parameter (query, or the parsed form body when body is not NULL), NUL-terminated
   in the arena; NULL when absent or empty; *bad set when it is too long or holds a NUL. */
static const char *param(http_req_t *req, json_t *body, const char *name, bool *bad)
{
    str_t v = STR_NULL;
    if (body) {
        json_t *j = json_object_get(body, name);
        if (j && !json_is_string(j)) {
            *bad = true;
            return NULL;
        }
        if (j)
            v = str_make(json_string_value(j), json_string_length(j));
    } else {
        int rc = http_req_query(req, name, &v);
        if (rc == ERR_INVALID)
            *bad = true;
        if (rc != 0)
            return NULL;
    }
    if (!v.ptr || v.len == 0)
        return NULL;
    if (v.len > MAX_PARAM || memchr(v.ptr, '\0', v.len)) {
        *bad = true;
        return NULL;
    }
    return http_req_strndup(req, v);
}

/* Appends s percent-encoded for a query string (RFC 3986 unreserved kept). */
static void pct(buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            buf_append_char(b, (char)*p);
        } else {
            buf_append_char(b, '%');
            buf_append_char(b, hex[*p >> 4]);
            buf_append_char(b, hex[*p & 15]);
        }
    }
}

/* Appends "&name=value" (or "?" / nothing first, per *first) when value is set. */
static void qparam(buf_t *b, bool *sep, const char *name, const char *value)
{
    if (!value)
        return;
    buf_append_char(b, *sep ? '&' : '?');
    *sep = true;
    buf_append_cstr(b, name);
    buf_append_char(b, '=');
    pct(b, value);
}

/* Appends s escaped for HTML text and attribute values. */
static void html(buf_t *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&':
            buf_append_cstr(b, "&amp;");
            break;
        case '<':
            buf_append_cstr(b, "&lt;");
            break;
        case '>':
            buf_append_cstr(b, "&gt;");
            break;
        case '"':
            buf_append_cstr(b, "&quot;");
            break;
        case '\'':
            buf_append_cstr(b, "&#39;");
            break;
        default:
            buf_append_char(b, *p);
        }
    }
}

static void page_start(buf_t *b, const char *title)
{
    buf_append_cstr(b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                       "<title>");
    html(b, title);
    buf_append_cstr(b, " · jwtd</title><link rel=\"stylesheet\" href=\"/app/app.css\"></head>"
                       "<body><main class=\"card\"><h1>");
    html(b, title);
    buf_append_cstr(b, "</h1>");
}

static void respond_page(http_req_t *req, int status, buf_t *b)
{
    buf_append_cstr(b, "</main></body></html>\n");
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_resp_header_add(req, "Content-Security-Policy", PAGE_CSP);
    http_resp_header_add(req, "X-Frame-Options", "DENY");
    http_resp_header_add(req, "Referrer-Policy", "same-origin");
    http_respond(req, status, HTML_CT, buf_str(b));
    buf_dispose(b);
}

/* An error page: the browser is NOT sent back to the client. */
static void error_page(http_req_t *req, int status, const char *error, const char *text)
{
    buf_t b;
    buf_init(&b, 16384);
    page_start(&b, "Sign-in request refused");
    buf_append_cstr(&b, "<p role=\"alert\">");
    html(&b, text);
    buf_append_cstr(&b, "</p><p class=\"muted small\">Error: <code>");
    html(&b, error);
    buf_append_cstr(&b, "</code>. Return to the application and try again.</p>");
    respond_page(req, status, &b);
}

static void redirect(http_req_t *req, const char *location)
{
    http_resp_header_add(req, "Location", location);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 302, NULL, STR_NULL);
}

/* The OAuth error answer: RFC 6749's members and the contract's. */
static void oauth_error(http_req_t *req, int status, const char *error, const char *description,
                        const char *www)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"error\":");
    jsonw_buf_cstr(&b, error);
    buf_append_cstr(&b, ",\"error_description\":");
    jsonw_buf_cstr(&b, description ? description : error);
    buf_append_cstr(&b, ",\"detail\":");
    jsonw_buf_cstr(&b, description ? description : error);
    buf_append_cstr(&b, ",\"code\":");
    jsonw_buf_cstr(&b, error);
    buf_append_char(&b, '}');
    if (www)
        http_resp_header_add(req, "WWW-Authenticate", www);
    http_resp_header_add(req, "Pragma", "no-cache");
    api__respond_nostore(req, status, buf_str(&b));
    buf_dispose(&b);
}

/* The browser session from the cookie (zeroed when none). */
static void browser(http_req_t *req, const api_ctx_t *ctx, auth_oauth_browser_t *me)
{
    str_t c = api__cookie(req, COOKIE);
    if (!c.len || !auth_oauth_browser_check(ctx->auth, c, clock_now_s(), me))
        memset(me, 0, sizeof *me);
}

static void set_cookie(http_req_t *req, const api_ctx_t *ctx, const char *value, int64_t max_age)
{
    buf_t b;
    buf_init(&b, AUTH_TOKEN_MAX + 256);
    buf_printf(&b, COOKIE "=%s; Path=/oauth/; HttpOnly; SameSite=Lax; Max-Age=%" PRId64,
               value ? value : "", value ? max_age : 0);
    if (ctx->o.secure_cookie || api__https(req, ctx))
        buf_append_cstr(&b, "; Secure");
    buf_append_char(&b, '\0');
    http_resp_header_add(req, "Set-Cookie", (const char *)b.data);
    buf_dispose(&b);
}

/* ==== /oauth/authorize ======================================================================= */

struct authz_job {
    auth_t *auth;
    auth_oauth_authz_t q;
    auth_oauth_browser_t me;
    char issuer[512];
    int rc;
    auth_oauth_authz_result_t r;
};

static void authz_work(void *arg)
{
    struct authz_job *j = arg;
    j->rc = auth_oauth_authorize(j->auth, &j->q, clock_now_s(), &j->r);
}

static void authz_free(void *arg)
{
    struct authz_job *j = arg;
    auth_oauth_authz_result_dispose(&j->r);
    free(j);
}

/* The authorization request again, as a path of this server (the sign-in's way back),
   without prompt=login and max_age when the sign-in is forced (it satisfies both). */
static void authorize_path(buf_t *b, const auth_oauth_authz_t *q, bool forced)
{
    bool sep = false;
    buf_append_cstr(b, "/oauth/authorize");
    qparam(b, &sep, "client_id", q->client_id);
    qparam(b, &sep, "redirect_uri", q->redirect_uri);
    qparam(b, &sep, "response_type", q->response_type);
    qparam(b, &sep, "scope", q->scope);
    qparam(b, &sep, "state", q->state);
    qparam(b, &sep, "nonce", q->nonce);
    qparam(b, &sep, "code_challenge", q->code_challenge);
    qparam(b, &sep, "code_challenge_method", q->code_challenge_method);
    if (q->prompt && !(forced && strstr(q->prompt, "login")))
        qparam(b, &sep, "prompt", q->prompt);
    if (q->max_age >= 0 && !forced) {
        char n[24];
        snprintf(n, sizeof n, "%" PRId64, q->max_age);
        qparam(b, &sep, "max_age", n);
    }
}

/* A hidden form field. */
static void hidden(buf_t *b, const char *name, const char *value)
{
    if (!value)
        return;
    buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    html(b, value);
    buf_append_cstr(b, "\">");
}

static const char *scope_text(const char *s, size_t n)
{
    if (n == 6 && memcmp(s, "openid", 6) == 0)
        return "Know who you are (your user id)";
    if (n == 7 && memcmp(s, "profile", 7) == 0)
        return "See your username and name";
    if (n == 5 && memcmp(s, "email", 5) == 0)
        return "See your e-mail address";
    if (n == 14 && memcmp(s, "offline_access", 14) == 0)
        return "Stay signed in (keep access while you are away)";
    if (n == 5 && memcmp(s, "roles", 5) == 0)
        return "See your role (user, instructor or admin)";
    return NULL;
}

static void consent_page(http_req_t *req, const struct authz_job *j)
{
    char csrf[AUTH_OAUTH_SECRET_LEN + 1];
    auth_oauth_csrf(api__cookie(req, COOKIE), csrf);
    buf_t b;
    buf_init(&b, 64 * 1024);
    page_start(&b, "Allow access?");
    buf_append_cstr(&b, "<p><strong>");
    html(&b, j->r.client_name);
    buf_append_cstr(&b, "</strong> asks to:</p><ul id=\"scopes\">");
    for (const char *p = j->r.scope; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        const char *t = scope_text(p, (size_t)(e - p));
        if (t) {
            buf_append_cstr(&b, "<li>");
            html(&b, t);
            buf_append_cstr(&b, " <code>");
            buf_append(&b, p, (size_t)(e - p));
            buf_append_cstr(&b, "</code></li>");
        }
        p = e;
    }
    buf_append_cstr(&b, "</ul><p class=\"muted small\">You will be sent back to ");
    html(&b, j->r.redirect_uri ? j->r.redirect_uri : j->q.redirect_uri);
    buf_append_cstr(&b, ". You can revoke this access on your dashboard.</p>"
                        "<form method=\"post\" action=\"/oauth/authorize\">");
    hidden(&b, "csrf_token", csrf);
    hidden(&b, "client_id", j->q.client_id);
    hidden(&b, "redirect_uri", j->q.redirect_uri);
    hidden(&b, "response_type", j->q.response_type);
    hidden(&b, "scope", j->q.scope);
    hidden(&b, "state", j->q.state);
    hidden(&b, "nonce", j->q.nonce);
    hidden(&b, "code_challenge", j->q.code_challenge);
    hidden(&b, "code_challenge_method", j->q.code_challenge_method);
    buf_append_cstr(&b, "<button id=\"allow\" type=\"submit\" name=\"decision\" value=\"allow\">"
                        "Allow</button> <button id=\"deny\" type=\"submit\" name=\"decision\" "
                        "value=\"deny\" class=\"link\">Deny</button></form>");
    respond_page(req, 200, &b);
}

static void authz_done(http_req_t *req, void *arg, int status)
{
    struct authz_job *j = arg;
    int rc = status ? status : j->rc;
    if (rc != 0) {
        error_page(req, 503, "temporarily_unavailable",
                   "The sign-in service is temporarily unavailable. Try again in a moment.");
    } else if (j->r.next == AUTH_OAUTH_ERROR_PAGE) {
        error_page(req, 400, j->r.error, j->r.description);
    } else if (j->r.next == AUTH_OAUTH_LOGIN) {
        buf_t path, b;
        buf_init(&path, 16384);
        buf_init(&b, 65536);
        authorize_path(&path, &j->q, j->r.force_login);
        buf_append_char(&path, '\0');
        buf_append_cstr(&b, "/app/?");
        if (j->r.force_login)
            buf_append_cstr(&b, "login=1&");
        buf_append_cstr(&b, "next=");
        pct(&b, (const char *)path.data);
        buf_append_char(&b, '\0');
        redirect(req, (const char *)b.data);
        buf_dispose(&path);
        buf_dispose(&b);
    } else if (j->r.next == AUTH_OAUTH_CONSENT) {
        consent_page(req, j);
    } else {
        buf_t b;
        buf_init(&b, 65536);
        buf_append_cstr(&b, j->r.redirect_uri);
        bool sep = strchr(j->r.redirect_uri, '?') != NULL;
        if (j->r.code) {
            qparam(&b, &sep, "code", j->r.code);
        } else {
            qparam(&b, &sep, "error", j->r.error);
            qparam(&b, &sep, "error_description", j->r.description);
        }
        qparam(&b, &sep, "state", j->q.state);
        qparam(&b, &sep, "iss", j->issuer);
        buf_append_char(&b, '\0');
        redirect(req, (const char *)b.data);
        buf_dispose_secret(&b);
    }
    authz_free(j);
}

/* GET /oauth/authorize and the consent form's POST. */
static void on_authorize(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    json_t *body = NULL;
    bool post = req->method == HTTP_M_POST, bad = false;
    if (post && http_req_json(req, &body) != 0)
        return;
    struct authz_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    if (!api__oidc_issuer(req, ctx, j->issuer, sizeof j->issuer)) {
        json_decref(body);
        free(j);
        error_page(req, 503, "server_error",
                   "OpenID Connect needs JWTD_ISSUER or JWTD_PUBLIC_URL outside development.");
        return;
    }
    auth_oauth_authz_t *q = &j->q;
    q->client_id = param(req, body, "client_id", &bad);
    q->redirect_uri = param(req, body, "redirect_uri", &bad);
    q->response_type = param(req, body, "response_type", &bad);
    q->scope = param(req, body, "scope", &bad);
    q->state = param(req, body, "state", &bad);
    q->nonce = param(req, body, "nonce", &bad);
    q->code_challenge = param(req, body, "code_challenge", &bad);
    q->code_challenge_method = param(req, body, "code_challenge_method", &bad);
    q->prompt = post ? NULL : param(req, body, "prompt", &bad);
    const char *max_age = post ? NULL : param(req, body, "max_age", &bad);
    uint64_t ma = 0;
    q->max_age = -1;
    if (max_age && str_to_u64(str_cstr(max_age), INT32_MAX, &ma))
        q->max_age = (int64_t)ma;
    else if (max_age)
        bad = true;
    browser(req, ctx, &j->me);
    q->me = &j->me;
    if (post) {
        const char *csrf = param(req, body, "csrf_token", &bad);
        const char *decision = param(req, body, "decision", &bad);
        char want[AUTH_OAUTH_SECRET_LEN + 1];
        auth_oauth_csrf(api__cookie(req, COOKIE), want);
        str_t origin = http_req_header(req, "origin");
        bool origin_ok =
            !origin.ptr || api__origin_is_self(req, origin) || api__origin_is_public(ctx, origin);
        if (!j->me.user_id || !csrf || strlen(csrf) != AUTH_OAUTH_SECRET_LEN ||
            CRYPTO_memcmp(csrf, want, AUTH_OAUTH_SECRET_LEN) != 0 || !origin_ok) {
            json_decref(body);
            free(j);
            error_page(req, 403, "access_denied",
                       "This consent form is not valid for this browser session; start again "
                       "from the application.");
            return;
        }
        q->consent = decision && strcmp(decision, "allow") == 0 ? 1 : -1;
    }
    json_decref(body); /* the parameters were copied into the arena */
    if (bad) {
        free(j);
        error_page(req, 400, "invalid_request", "A parameter is malformed or too long.");
        return;
    }
    api__submit(req, authz_work, authz_done, j, authz_free);
}

/* ==== client authentication of the back-channel endpoints ==================================== */

/* The largest form body the back-channel endpoints read (their parameters are at most
   MAX_PARAM bytes each, and a handful of them). */
#define BACK_BODY_MAX (64 * 1024)

/*
 * The form body of /oauth/token, /oauth/revoke and /oauth/introspect into *out (an object of
 * strings): application/x-www-form-urlencoded only (RFC 6749 §4.1.3, RFC 7009 §2.1, RFC 7662
 * §2.1), at most BACK_BODY_MAX bytes, valid percent-encoding and UTF-8, and each parameter
 * at most once (RFC 6749 §3.2). An empty body without a Content-Type is an empty form. false
 * when it has RESPONDED: 400 invalid_request in RFC 6749's shape, never jwtd's own.
 */
static bool back_form(http_req_t *req, json_t **out)
{
    *out = NULL;
    str_t ct = http_req_header(req, "content-type");
    bool form_ct = false;
    if (ct.ptr) {
        const char *semi = memchr(ct.ptr, ';', ct.len);
        str_t base = str_trim(semi ? str_make(ct.ptr, (size_t)(semi - ct.ptr)) : ct);
        form_ct = str_eq_nocase(base, STR_LIT("application/x-www-form-urlencoded"));
    }
    if (ct.ptr ? !form_ct : req->body.len != 0) {
        oauth_error(req, 400, "invalid_request",
                    "The request body must be application/x-www-form-urlencoded.", NULL);
        return false;
    }
    if (req->body.len > BACK_BODY_MAX) {
        oauth_error(req, 400, "invalid_request", "The request body is larger than 64 KiB.", NULL);
        return false;
    }
    json_t *obj = json_object();
    char *kb = http_req_alloc(req, req->body.len + 1), *vb = http_req_alloc(req, req->body.len + 1);
    const char *why = NULL;
    char dup[96];
    str_t cur = req->body, k, v;
    while (!why && http_form_next(&cur, &k, &v)) {
        long kl = http_pct_decode(k, kb, true), vl = http_pct_decode(v, vb, true);
        json_t *s = kl > 0 && vl >= 0 && !memchr(kb, '\0', (size_t)kl)
                        ? json_stringn(vb, (size_t)vl)
                        : NULL;
        if (!s) {
            why = "The form body is malformed (a bad %-escape, or text that is not UTF-8).";
        } else if (json_object_getn(obj, kb, (size_t)kl)) {
            json_decref(s);
            /* the name when it is a plain one, else none: it is the client's text */
            bool plain = kl <= 40;
            for (long i = 0; plain && i < kl; i++)
                plain = (kb[i] >= 'a' && kb[i] <= 'z') || kb[i] == '_';
            snprintf(dup, sizeof dup, "A parameter is repeated%s%.*s (RFC 6749 §3.2).",
                     plain ? ": " : "", plain ? (int)kl : 0, kb);
            why = dup;
        } else if (json_object_setn_new(obj, kb, (size_t)kl, s) != 0) {
            why = "The form body is malformed (a parameter name that is not UTF-8).";
        }
    }
    if (why) {
        json_decref(obj);
        oauth_error(req, 400, "invalid_request", why, NULL);
        return false;
    }
    *out = obj;
    return true;
}

/* Reads client_secret_basic / client_secret_post / none. false when it has RESPONDED. */
static bool client_auth(http_req_t *req, json_t *body, auth_oauth_client_auth_t *ca)
{
    bool bad = false;
    memset(ca, 0, sizeof *ca);
    const char *id = param(req, body, "client_id", &bad);
    const char *secret = param(req, body, "client_secret", &bad);
    str_t h = http_req_header(req, "authorization");
    if (h.len > 6 && strncasecmp(h.ptr, "Basic ", 6) == 0) {
        str_t v = str_trim(str_make(h.ptr + 6, h.len - 6));
        unsigned char *raw = http_req_alloc(req, v.len + 4);
        int n = v.len && v.len % 4 == 0 && v.len < 4096
                    ? EVP_DecodeBlock(raw, (const unsigned char *)v.ptr, (int)v.len)
                    : -1;
        if (n > 0) /* EVP_DecodeBlock counts the padding */
            n -= (v.ptr[v.len - 1] == '=') + (v.ptr[v.len - 2] == '=');
        const char *colon = n > 0 ? memchr(raw, ':', (size_t)n) : NULL;
        if (!colon || secret) {
            oauth_error(req, 401, "invalid_client", "Malformed client authentication.", WWW_BASIC);
            return false;
        }
        size_t idl = (size_t)(colon - (const char *)raw), sl = (size_t)n - idl - 1;
        char *bid = http_req_alloc(req, idl + 1), *bsec = http_req_alloc(req, sl + 1);
        long a = http_pct_decode(str_make((const char *)raw, idl), bid, true);
        long b = http_pct_decode(str_make(colon + 1, sl), bsec, true);
        if (a <= 0 || b < 0 || memchr(bid, '\0', (size_t)a) || memchr(bsec, '\0', (size_t)b) ||
            (id && (strlen(id) != (size_t)a || memcmp(id, bid, (size_t)a) != 0))) {
            oauth_error(req, 401, "invalid_client", "Malformed client authentication.", WWW_BASIC);
            return false;
        }
        bid[a] = '\0';
        bsec[b] = '\0';
        ca->client_id = bid;
        ca->client_secret = b ? bsec : NULL;
        ca->basic = true;
        return true;
    }
    if (bad) {
        oauth_error(req, 400, "invalid_request", "A parameter is malformed or too long.", NULL);
        return false;
    }
    ca->client_id = id;
    ca->client_secret = secret;
    return true;
}

/* One job for token, revoke and introspect. */
enum back_op { BACK_TOKEN, BACK_REVOKE, BACK_INTROSPECT };

struct back_job {
    auth_t *auth;
    enum back_op op;
    auth_oauth_client_auth_t ca;
    auth_oauth_token_req_t q;
    const char *token;
    char issuer[512];
    int rc;
    auth_oauth_answer_t r;
};

static void back_work(void *arg)
{
    struct back_job *j = arg;
    int64_t now = clock_now_s();
    str_t t = str_cstr(j->token ? j->token : "");
    switch (j->op) {
    case BACK_TOKEN:
        j->rc = auth_oauth_token(j->auth, &j->ca, &j->q, now, &j->r);
        break;
    case BACK_REVOKE:
        j->rc = auth_oauth_revoke(j->auth, &j->ca, t, now, &j->r);
        break;
    case BACK_INTROSPECT:
        j->rc = auth_oauth_introspect(j->auth, &j->ca, t, now, &j->r);
        break;
    }
}

static void back_free(void *arg)
{
    struct back_job *j = arg;
    auth_oauth_answer_dispose(&j->r);
    free(j);
}

static void back_done(http_req_t *req, void *arg, int status)
{
    struct back_job *j = arg;
    int rc = status ? status : j->rc;
    if (rc == ERR_UNAVAILABLE)
        oauth_error(req, 503, "temporarily_unavailable",
                    "The service is temporarily unavailable; try again.", NULL);
    else if (rc != 0)
        oauth_error(req, 500, "server_error", "The request could not be completed.", NULL);
    else if (j->r.error && strcmp(j->r.error, "invalid_client") == 0)
        oauth_error(req, 401, j->r.error, j->r.description, WWW_BASIC);
    else if (j->r.error)
        oauth_error(req, 400, j->r.error, j->r.description, NULL);
    else if (j->op == BACK_REVOKE) {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 200, NULL, STR_NULL);
    } else {
        http_resp_header_add(req, "Pragma", "no-cache");
        api__respond_nostore(req, 200, buf_str(&j->r.body));
    }
    back_free(j);
}

/* POST /oauth/token, /oauth/revoke, /oauth/introspect. */
static void on_back(http_req_t *req, enum back_op op)
{
    const api_ctx_t *ctx = req->route_data;
    json_t *body = NULL;
    if (!back_form(req, &body))
        return;
    struct back_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->op = op;
    auth_oauth_answer_init(&j->r);
    bool bad = false;
    if (!client_auth(req, body, &j->ca)) {
        json_decref(body);
        back_free(j);
        return;
    }
    if (op == BACK_TOKEN) {
        j->q.grant_type = param(req, body, "grant_type", &bad);
        j->q.code = param(req, body, "code", &bad);
        j->q.redirect_uri = param(req, body, "redirect_uri", &bad);
        j->q.code_verifier = param(req, body, "code_verifier", &bad);
        j->q.refresh_token = param(req, body, "refresh_token", &bad);
        j->q.scope = param(req, body, "scope", &bad);
        if (!api__oidc_issuer(req, ctx, j->issuer, sizeof j->issuer))
            j->issuer[0] = '\0';
        j->q.issuer = j->issuer;
    } else {
        j->token = param(req, body, "token", &bad);
        if (!j->token && !bad) {
            json_decref(body);
            back_free(j);
            oauth_error(req, 400, "invalid_request", "token is required.", NULL);
            return;
        }
    }
    json_decref(body);
    if (bad) {
        back_free(j);
        oauth_error(req, 400, "invalid_request", "A parameter is malformed or too long.", NULL);
        return;
    }
    if (http_pool_submit(req, back_work, back_done, j) != 0) {
        back_free(j);
        oauth_error(req, 503, "temporarily_unavailable",
                    "The service is temporarily unavailable; try again.", NULL);
    }
}

static void on_token(http_req_t *req)
{
    on_back(req, BACK_TOKEN);
}

static void on_revoke(http_req_t *req)
{
    on_back(req, BACK_REVOKE);
}

static void on_introspect(http_req_t *req)
{
    on_back(req, BACK_INTROSPECT);
}

/* ==== userinfo =============================================================================== */

struct userinfo_job {
    auth_t *auth;
    auth_token_ref_t ref;
    int rc;
    auth_oauth_answer_t r;
};

static void userinfo_work(void *arg)
{
    struct userinfo_job *j = arg;
    j->rc = auth_oauth_userinfo(j->auth, &j->ref, clock_now_s(), &j->r);
}

static void userinfo_free(void *arg)
{
    struct userinfo_job *j = arg;
    auth_oauth_answer_dispose(&j->r);
    free(j);
}

static void userinfo_done(http_req_t *req, void *arg, int status)
{
    struct userinfo_job *j = arg;
    int rc = status ? status : j->rc;
    if (rc != 0)
        oauth_error(req, 503, "temporarily_unavailable", "Try again.", NULL);
    else if (j->r.error && strcmp(j->r.error, "insufficient_scope") == 0)
        oauth_error(req, 403, j->r.error, j->r.description,
                    "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"openid\"");
    else if (j->r.error)
        oauth_error(req, 401, j->r.error, j->r.description, WWW_BEARER_IT);
    else
        api__respond_nostore(req, 200, buf_str(&j->r.body));
    userinfo_free(j);
}

static void on_userinfo(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    struct userinfo_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->ref = *t;
    auth_oauth_answer_init(&j->r);
    api__submit(req, userinfo_work, userinfo_done, j, userinfo_free);
}

/* ==== the browser session and logout ========================================================= */

struct session_job {
    auth_t *auth;
    auth_token_ref_t ref;
    int rc;
    char cookie[AUTH_TOKEN_MAX + 1];
    size_t len;
    int64_t lifetime;
};

static void session_work(void *arg)
{
    struct session_job *j = arg;
    j->rc = auth_oauth_browser_issue(j->auth, &j->ref, clock_now_s(), j->cookie, sizeof j->cookie,
                                     &j->len, &j->lifetime);
}

static void session_done(http_req_t *req, void *arg, int status)
{
    struct session_job *j = arg;
    int rc = status ? status : j->rc;
    if (rc == ERR_NOT_FOUND) {
        api__respond_code(req, 401, "token_not_valid", "The session is no longer active.",
                          API_WWW_INVALID);
    } else if (rc != 0) {
        api__failure(req, rc);
    } else {
        set_cookie(req, req->route_data, j->cookie, j->lifetime);
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 204, NULL, STR_NULL);
    }
    OPENSSL_cleanse(j, sizeof *j);
    free(j);
}

/* POST /oauth/session: the signed-in web UI's access token -> the browser session cookie. */
static void on_session(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    struct session_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->ref = *t;
    api__submit(req, session_work, session_done, j, free);
}

struct logout_job {
    auth_t *auth;
    const char *hint, *client_id, *uri, *state;
    auth_oauth_browser_t me;
    bool confirmed;
    int rc;
    char *redirect;
    const char *why;
};

static void logout_work(void *arg)
{
    struct logout_job *j = arg;
    j->rc = auth_oauth_logout(j->auth, str_cstr(j->hint ? j->hint : ""), j->client_id, j->uri,
                              &j->me, j->confirmed, clock_now_s(), &j->redirect, &j->why);
}

static void logout_free(void *arg)
{
    struct logout_job *j = arg;
    free(j->redirect);
    free(j);
}

static void logout_done(http_req_t *req, void *arg, int status)
{
    struct logout_job *j = arg;
    int rc = status ? status : j->rc;
    if (rc == ERR_INVALID) {
        error_page(req, 400, "invalid_request", j->why);
    } else if (rc == ERR_DECLINED) {
        char csrf[AUTH_OAUTH_SECRET_LEN + 1];
        auth_oauth_csrf(api__cookie(req, COOKIE), csrf);
        buf_t b;
        buf_init(&b, 16384);
        page_start(&b, "Sign out?");
        buf_append_cstr(&b, "<p>An application asks to sign you out of jwtd.</p>"
                            "<form method=\"post\" action=\"/oauth/logout\">");
        hidden(&b, "csrf_token", csrf);
        hidden(&b, "client_id", j->client_id);
        hidden(&b, "post_logout_redirect_uri", j->uri);
        hidden(&b, "state", j->state);
        buf_append_cstr(&b, "<button id=\"signout\" type=\"submit\">Sign out</button></form>");
        respond_page(req, 200, &b);
    } else if (rc != 0) {
        error_page(req, 503, "temporarily_unavailable", "Try again in a moment.");
    } else {
        set_cookie(req, req->route_data, NULL, 0);
        if (j->redirect) {
            buf_t b;
            buf_init(&b, 16384);
            buf_append_cstr(&b, j->redirect);
            bool sep = strchr(j->redirect, '?') != NULL;
            qparam(&b, &sep, "state", j->state);
            buf_append_char(&b, '\0');
            redirect(req, (const char *)b.data);
            buf_dispose(&b);
        } else {
            buf_t b;
            buf_init(&b, 4096);
            page_start(&b, "Signed out");
            buf_append_cstr(&b, "<p role=\"status\">You are signed out.</p>"
                                "<p><a href=\"/app/\">Sign in again</a></p>");
            respond_page(req, 200, &b);
        }
    }
    logout_free(j);
}

/* GET /oauth/logout (RP-initiated logout) and its confirmation form's POST. */
static void on_logout(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    json_t *body = NULL;
    bool bad = false;
    if (req->method == HTTP_M_POST && http_req_json(req, &body) != 0)
        return;
    struct logout_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->hint = body ? NULL : param(req, NULL, "id_token_hint", &bad);
    j->client_id = param(req, body, "client_id", &bad);
    j->uri = param(req, body, "post_logout_redirect_uri", &bad);
    j->state = param(req, body, "state", &bad);
    browser(req, ctx, &j->me);
    if (body) {
        const char *csrf = param(req, body, "csrf_token", &bad);
        char want[AUTH_OAUTH_SECRET_LEN + 1];
        auth_oauth_csrf(api__cookie(req, COOKIE), want);
        str_t origin = http_req_header(req, "origin");
        j->confirmed =
            csrf && strlen(csrf) == AUTH_OAUTH_SECRET_LEN &&
            CRYPTO_memcmp(csrf, want, AUTH_OAUTH_SECRET_LEN) == 0 &&
            (!origin.ptr || api__origin_is_self(req, origin) || api__origin_is_public(ctx, origin));
        json_decref(body);
        if (!j->confirmed && j->me.user_id) {
            free(j);
            error_page(req, 403, "access_denied",
                       "This sign-out form is not valid for this browser session.");
            return;
        }
    }
    if (bad) {
        free(j);
        error_page(req, 400, "invalid_request", "A parameter is malformed or too long.");
        return;
    }
    api__submit(req, logout_work, logout_done, j, logout_free);
}

/* ==== connected apps ========================================================================= */

struct apps_job {
    auth_t *auth;
    int64_t user_id;
    char client_id[AUTH_OAUTH_ID_MAX + 1];
};

static int apps_list(void *arg, buf_t *out)
{
    struct apps_job *j = arg;
    return auth_oauth_apps_json(j->auth, j->user_id, clock_now_s(), out);
}

static int apps_revoke(void *arg, buf_t *out)
{
    struct apps_job *j = arg;
    int rc = auth_oauth_app_revoke(j->auth, j->user_id, j->client_id, clock_now_s());
    if (rc == 0)
        buf_append_cstr(out, "{\"revoked\":true}");
    return rc;
}

/* GET /auth/apps and DELETE /auth/apps/{client_id}. */
static void on_apps(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    struct apps_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->user_id = t->user_id;
    if (req->method == HTTP_M_DELETE) {
        str_t id = http_req_param(req, "client_id");
        if (!id.len || id.len > AUTH_OAUTH_ID_MAX) {
            free(j);
            http_respond_error(req, ERR_NOT_FOUND, "No such app.");
            return;
        }
        memcpy(j->client_id, id.ptr, id.len);
        api__submit_json(req, apps_revoke, j, free, 4096);
        return;
    }
    api__submit_json(req, apps_list, j, free, 4u << 20);
}

/* ==== /admin/clients ========================================================================= */

struct admin_job {
    auth_t *auth;
    enum { ADMIN_LIST, ADMIN_GET, ADMIN_DELETE, ADMIN_CREATE } op;
    char client_id[AUTH_OAUTH_ID_MAX + 1];
    auth_oauth_client_new_t n;
    const char *uris[32], *logouts[32];
    const char *why;
    int rc;    /* ADMIN_CREATE: the result, */
    buf_t out; /* and the answer */
};

static int admin_work(void *arg, buf_t *out)
{
    struct admin_job *j = arg;
    int64_t now = clock_now_s();
    int rc = 0;
    switch (j->op) {
    case ADMIN_LIST: {
        auth_oauth_client_list_t l;
        if ((rc = auth_oauth_client_list(j->auth, &l)) != 0)
            return rc;
        buf_append_cstr(out, "{\"clients\":[");
        for (size_t i = 0; i < l.count; i++) {
            if (i)
                buf_append_char(out, ',');
            auth_oauth_client_json(&l.items[i], out);
        }
        buf_append_cstr(out, "]}");
        auth_oauth_client_list_dispose(&l);
        return 0;
    }
    case ADMIN_GET: {
        auth_oauth_client_t c;
        if ((rc = auth_oauth_client_get(j->auth, j->client_id, &c)) == 0)
            auth_oauth_client_json(&c, out);
        auth_oauth_client_dispose(&c);
        return rc;
    }
    case ADMIN_DELETE:
        rc = auth_oauth_client_delete(j->auth, j->client_id, now);
        if (rc == 0)
            buf_append_cstr(out, "{\"deleted\":true}");
        return rc;
    case ADMIN_CREATE: {
        auth_oauth_client_t c;
        char secret[AUTH_OAUTH_SECRET_LEN + 1];
        rc = auth_oauth_client_create(j->auth, &j->n, now, &c, secret, &j->why);
        if (rc == 0) {
            auth_oauth_client_json(&c, out);
            if (secret[0]) {
                out->len--;
                buf_printf(out, ",\"client_secret\":\"%s\"}", secret);
            }
            OPENSSL_cleanse(secret, sizeof secret);
            auth_oauth_client_dispose(&c);
        }
        return rc;
    }
    }
    return ERR_INTERNAL;
}

/* Reads an array of strings (or one string) from the body into v. false: malformed. */
static bool string_list(http_req_t *req, json_t *body, const char *name, const char **v, size_t *n)
{
    *n = 0;
    json_t *a = json_object_get(body, name);
    if (!a)
        return true;
    if (json_is_string(a)) {
        v[(*n)++] = http_req_strndup(req, str_make(json_string_value(a), json_string_length(a)));
        return true;
    }
    if (!json_is_array(a) || json_array_size(a) > 32)
        return false;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s) || memchr(json_string_value(s), '\0', json_string_length(s)))
            return false;
        v[(*n)++] = http_req_strndup(req, str_make(json_string_value(s), json_string_length(s)));
    }
    return true;
}

static void admin_create_work(void *arg)
{
    struct admin_job *j = arg;
    buf_init(&j->out, 1 << 20);
    j->rc = admin_work(j, &j->out);
}

static void admin_create_done(http_req_t *req, void *arg, int status)
{
    struct admin_job *j = arg;
    int rc = status ? status : j->rc;
    if (rc == ERR_INVALID)
        api__bad_request(req, NULL, j->why ? j->why : "Invalid client.");
    else if (rc != 0)
        api__failure(req, rc);
    else
        api__respond_nostore(req, 201, buf_str(&j->out));
    buf_dispose_secret(&j->out);
    free(j);
}

/* /admin/clients[/{client_id}] for admins. */
static void on_admin_clients(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate_role(req, ctx, "admin");
    if (!t)
        return;
    struct admin_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    str_t id = http_req_param(req, "client_id");
    if (id.ptr) {
        if (!id.len || id.len > AUTH_OAUTH_ID_MAX) {
            free(j);
            http_respond_error(req, ERR_NOT_FOUND, "No such client.");
            return;
        }
        memcpy(j->client_id, id.ptr, id.len);
        j->op = req->method == HTTP_M_DELETE ? ADMIN_DELETE : ADMIN_GET;
        api__submit_json(req, admin_work, j, free, 1 << 20);
        return;
    }
    if (req->method != HTTP_M_POST) {
        j->op = ADMIN_LIST;
        api__submit_json(req, admin_work, j, free, 8u << 20);
        return;
    }
    json_t *body = NULL;
    if (http_req_json(req, &body) != 0) {
        free(j);
        return;
    }
    j->op = ADMIN_CREATE;
    json_t *name = json_object_get(body, "name"), *pub = json_object_get(body, "public");
    json_t *fp = json_object_get(body, "first_party"), *sc = json_object_get(body, "scope");
    json_t *gt = json_object_get(body, "grant_types");
    bool ok = json_is_string(name) && (!pub || json_is_boolean(pub)) &&
              (!fp || json_is_boolean(fp)) && (!sc || json_is_string(sc)) &&
              (!gt || json_is_string(gt)) &&
              string_list(req, body, "redirect_uris", j->uris, &j->n.n_redirect_uris) &&
              string_list(req, body, "post_logout_redirect_uris", j->logouts, &j->n.n_post_logout);
    if (!ok) {
        json_decref(body);
        free(j);
        api__bad_request(req, NULL,
                         "Expected {\"name\", \"redirect_uris\": [...], \"public\", "
                         "\"first_party\", \"scope\", \"grant_types\", "
                         "\"post_logout_redirect_uris\": [...]}.");
        return;
    }
    j->n.name = http_req_strndup(req, str_make(json_string_value(name), json_string_length(name)));
    j->n.redirect_uris = j->uris;
    j->n.post_logout_redirect_uris = j->logouts;
    j->n.is_public = pub && json_is_true(pub);
    j->n.first_party = fp && json_is_true(fp);
    j->n.scopes =
        sc ? http_req_strndup(req, str_make(json_string_value(sc), json_string_length(sc))) : NULL;
    j->n.grant_types =
        gt ? http_req_strndup(req, str_make(json_string_value(gt), json_string_length(gt))) : NULL;
    json_decref(body);
    api__submit(req, admin_create_work, admin_create_done, j, free);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/oauth/authorize", on_authorize},
    {HTTP_M_POST, "/oauth/authorize", on_authorize},
    {HTTP_M_POST, "/oauth/token", on_token},
    {HTTP_M_GET, "/oauth/userinfo", on_userinfo},
    {HTTP_M_POST, "/oauth/userinfo", on_userinfo},
    {HTTP_M_POST, "/oauth/revoke", on_revoke},
    {HTTP_M_POST, "/oauth/introspect", on_introspect},
    {HTTP_M_GET, "/oauth/logout", on_logout},
    {HTTP_M_POST, "/oauth/logout", on_logout},
    {HTTP_M_POST, "/oauth/session", on_session},
    {HTTP_M_GET, "/auth/apps", on_apps},
    {HTTP_M_DELETE, "/auth/apps/{client_id}", on_apps},
    {HTTP_M_GET, "/admin/clients", on_admin_clients},
    {HTTP_M_POST, "/admin/clients", on_admin_clients},
    {HTTP_M_GET, "/admin/clients/{client_id}", on_admin_clients},
    {HTTP_M_DELETE, "/admin/clients/{client_id}", on_admin_clients},
};

/*
 * A body over JWTD_MAX_BODY_BYTES on the back channel, refused by the HTTP layer before the
 * route runs: RFC 6749's invalid_request like every other bad form, with the status that
 * says what happened (413: the body was not read, so nothing in it was judged).
 */
static void on_back_refused(http_req_t *req, int err)
{
    oauth_error(req, err_http_status(err), "invalid_request", err_message(err), NULL);
}

/* The back-channel endpoints answer a refused request in their own shape. */
static int mount(http_router_t *r, void *data)
{
    static const char *const back[] = {"/oauth/token", "/oauth/revoke", "/oauth/introspect"};
    for (size_t i = 0; i < sizeof back / sizeof back[0]; i++)
        if (http_router_set_refusal(r, HTTP_M_POST, back[i], on_back_refused) != 0)
            return ERR_INVALID;
    return 0;
}

/* See routes.h. */
const api_family_t api_oauth_family = API_FAMILY(ROUTES, mount);

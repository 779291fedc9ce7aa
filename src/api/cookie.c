/*
 * cookie.c - the browser cookie flow of API.md section 4 (seed 004) under /api/auth/, and
 * the "auto-refresh" link of the middleware chain.
 *
 *   POST /api/auth/login/         {"access","user"} + Set-Cookie refresh_token (HttpOnly,
 *                                 Path=/api/auth/, SameSite=Lax, Max-Age, Secure unless
 *                                 development, Domain when JWTD_COOKIE_DOMAIN is set)
 *   POST /api/auth/mobile/login/  {"access","refresh","user"}: no cookie (secure storage)
 *   POST /api/auth/refresh/       cookie -> {"access"} + rotated cookie; {"refresh"} body
 *                                 (mobile) -> {"access","refresh"}; neither -> 401
 *   POST /api/auth/logout/        Bearer (+ cookie or body): the session is revoked (its
 *                                 access tokens fail at once), the cookie cleared; a second
 *                                 logout is harmless (200, unlike the Django peer's 400)
 *   GET  /api/auth/verify/        Bearer -> {"valid":true,"user":{...}}
 *   POST /api/auth/check/         {"token"} -> {"valid","message"}
 *
 * Error bodies keep the seed's "error" text and add API.md's "detail" and "code".
 * All token work is the auth service's (src/auth/auth.h); this file only adapts HTTP.
 *
 * Auto-refresh: when a request carries a valid Bearer access token with less than
 * JWTD_AUTO_REFRESH_WINDOW left AND a refresh cookie of the same session, the link asks
 * the auth service for a new access token of that session (the database must still accept
 * the refresh token; it is not rotated) and the answer carries X-New-Access-Token. With
 * JWTD_SLIDING_SESSION the refresh token is rotated instead and the new cookie set, so an
 * active session slides forward. Requests without the cookie (every request outside
 * /api/auth/, since the cookie's Path keeps it there) cost one header scan.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/svc.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define WWW_PLAIN   "Bearer realm=\"api\""
#define WWW_INVALID "Bearer realm=\"api\", error=\"invalid_token\""

/* ==== cookies ============================================================================== */

/* Adds Set-Cookie for value (NULL: the clearing cookie, Max-Age=0). */
static void set_refresh_cookie(http_req_t *req, const char *value, size_t len)
{
    const api_web_options_t *w = api__web();
    buf_t b;
    buf_init(&b, 2 * AUTH_TOKEN_MAX);
    buf_append_cstr(&b, API_REFRESH_COOKIE "=");
    if (value) {
        buf_append(&b, value, len);
        buf_printf(&b, "; Max-Age=%" PRId64, w->refresh_lifetime_s);
    } else {
        buf_append_cstr(&b, "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    }
    buf_append_cstr(&b, "; Path=/api/auth/; HttpOnly; SameSite=Lax");
    if (w->secure_cookie)
        buf_append_cstr(&b, "; Secure");
    if (w->cookie_domain)
        buf_printf(&b, "; Domain=%s", w->cookie_domain);
    http_resp_header_add(req, "Set-Cookie", b.data);
    buf_dispose_secret(&b);
}

static void respond_body(http_req_t *req, int status, str_t body)
{
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, status, API_JSON_CT, body);
}

/* ==== request bodies ======================================================================= */

/*
 * The non-empty string field name of a parsed body object; STR_NULL when absent, not a
 * string, or empty. Values point into body.
 */
static str_t body_string(json_t *body, const char *name)
{
    json_t *v = json_is_object(body) ? json_object_get(body, name) : NULL;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return STR_NULL;
    return str_make(json_string_value(v), json_string_length(v));
}

/* ==== login ================================================================================= */

static void login_done(http_req_t *req, void *arg, int status)
{
    api_login_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        buf_t b;
        buf_init(&b, 4 * AUTH_TOKEN_MAX);
        buf_append_cstr(&b, "{\"access\":\"");
        buf_append(&b, j->pair.access, j->pair.access_len);
        if (j->mobile) {
            buf_append_cstr(&b, "\",\"refresh\":\"");
            buf_append(&b, j->pair.refresh, j->pair.refresh_len);
        }
        buf_append_cstr(&b, "\",\"user\":");
        buf_append(&b, j->pair.user_json, j->pair.user_json_len);
        buf_append_char(&b, '}');
        if (!j->mobile)
            set_refresh_cookie(req, j->pair.refresh, j->pair.refresh_len);
        respond_body(req, 200, buf_str(&b));
        buf_dispose_secret(&b);
    } else if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        api__auth_error(req, 401, "no_active_account", "Invalid credentials", WWW_PLAIN);
    } else {
        api__failure(req, rc);
    }
    api__login_job_free(j);
}

static void login_route(http_req_t *req, bool mobile)
{
    json_t *body;
    if (http_req_json(req, &body) != 0)
        return;
    str_t user = body_string(body, "username");
    str_t pass = body_string(body, "password");
    if (!user.ptr || !pass.ptr || memchr(user.ptr, '\0', user.len)) {
        json_decref(body);
        api__auth_error(req, 400, "invalid_request", "Username and password are required", NULL);
        return;
    }
    int rc = api__login_submit(req, req->route_data, user, pass, mobile, login_done);
    json_decref(body);
    if (rc != 0)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
}

static void on_login(http_req_t *req)
{
    login_route(req, false);
}

static void on_mobile_login(http_req_t *req)
{
    login_route(req, true);
}

/* ==== refresh and logout ===================================================================== */

static void refresh_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc != 0) {
        api__failure(req, rc);
    } else if (j->verdict != AUTH_OK) {
        api__auth_error(req, 401, "token_not_valid", "Invalid or expired refresh token",
                        WWW_INVALID);
    } else {
        buf_t b;
        buf_init(&b, 3 * AUTH_TOKEN_MAX);
        buf_append_cstr(&b, "{\"access\":\"");
        buf_append(&b, j->pair.access, j->pair.access_len);
        if (j->from_body && j->pair.refresh_len) {
            buf_append_cstr(&b, "\",\"refresh\":\"");
            buf_append(&b, j->pair.refresh, j->pair.refresh_len);
        }
        buf_append_cstr(&b, "\"}");
        if (!j->from_body && j->pair.refresh_len)
            set_refresh_cookie(req, j->pair.refresh, j->pair.refresh_len);
        respond_body(req, 200, buf_str(&b));
        buf_dispose_secret(&b);
    }
    api__token_job_free(j);
}

/*
 * The refresh token of the request: the cookie, else the "refresh" field of a JSON/form
 * body. OUT: *token (arena copy), *from_body. Returns 0, ERR_NOT_FOUND (neither), or -1
 * when the body parser already answered.
 */
static int find_refresh(http_req_t *req, str_t *token, bool *from_body)
{
    *from_body = false;
    *token = api__cookie(req, API_REFRESH_COOKIE);
    if (token->ptr)
        return 0;
    if (req->body.len == 0)
        return ERR_NOT_FOUND;
    json_t *body;
    if (http_req_json(req, &body) != 0)
        return -1;
    str_t t = body_string(body, "refresh");
    if (t.ptr)
        *token = str_cstr(http_req_strndup(req, t));
    json_decref(body);
    if (!token->ptr)
        return ERR_NOT_FOUND;
    *from_body = true;
    return 0;
}

static void on_refresh(http_req_t *req)
{
    auth_t *a = req->route_data;
    str_t token;
    bool from_body;
    int rc = find_refresh(req, &token, &from_body);
    if (rc == -1)
        return;
    if (rc != 0) {
        api__auth_error(req, 401, "not_authenticated", "Refresh token not found", WWW_PLAIN);
        return;
    }
    jwtv_claims c;
    auth_token_ref_t ref;
    if (auth_verify_refresh(a, token, 0, &c) != AUTH_OK || auth_token_ref_from_claims(&c, &ref)) {
        api__auth_error(req, 401, "token_not_valid", "Invalid or expired refresh token",
                        WWW_INVALID);
        return;
    }
    api_token_job_t *j = api__token_job_new(a, API_TOKEN_REFRESH);
    j->from_body = from_body;
    j->ref = ref;
    j->has_ref = true;
    if (api__token_submit(req, j, refresh_done) != 0)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
}

static void logout_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc != 0) {
        api__failure(req, rc);
    } else {
        set_refresh_cookie(req, NULL, 0);
        respond_body(req, 200, STR_LIT("{\"message\":\"Logout successful\"}"));
    }
    api__token_job_free(j);
}

static void on_logout(http_req_t *req)
{
    auth_t *a = req->route_data;
    str_t bearer;
    int rc = api__bearer(req, &bearer);
    if (rc != 0) {
        api__bearer_error(req, rc, AUTH_INVALID);
        return;
    }
    jwtv_claims c;
    enum auth_verdict v = auth_verify_access(a, bearer, 0, &c);
    /* A revoked (already logged out) token may log out again: it can only revoke what is
       already revoked, and clear the cookie. Forged, expired or wrong-type tokens may not. */
    if (v != AUTH_OK && v != AUTH_REVOKED) {
        api__bearer_error(req, 0, v);
        return;
    }
    api_token_job_t *j = api__token_job_new(a, API_TOKEN_LOGOUT);
    if (v == AUTH_OK && c.sid && strlen(c.sid) <= DB_ID_MAX)
        snprintf(j->access_sid, sizeof j->access_sid, "%s", c.sid);
    str_t token;
    bool from_body;
    rc = find_refresh(req, &token, &from_body);
    if (rc == -1) {
        api__token_job_free(j);
        return;
    }
    if (rc == 0 && auth_verify_refresh(a, token, 0, &c) == AUTH_OK &&
        auth_token_ref_from_claims(&c, &j->ref) == 0)
        j->has_ref = true;
    if (api__token_submit(req, j, logout_done) != 0)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
}

/* ==== the access-token check of this request, done once =============================== */

/*
 * The auto-refresh link verifies the Bearer token of requests that carry the refresh cookie
 * (in practice GET /api/auth/verify/ from a browser); the route then reuses that result
 * instead of verifying the signature a second time, so such requests cost no more than
 * without the link. Keyed by the request id on the loop thread; the claims live in the
 * request arena until the answer.
 */
static _Thread_local struct {
    uint64_t req_id;
    const char *token;
    size_t token_len;
    enum auth_verdict verdict;
    jwtv_claims *claims;
} tl_access;

static void remember_access(http_req_t *req, str_t token, enum auth_verdict v, jwtv_claims *c)
{
    tl_access.req_id = http_req_id(req);
    tl_access.token = token.ptr;
    tl_access.token_len = token.len;
    tl_access.verdict = v;
    tl_access.claims = c;
}

/* auth_verify_access, or the result the link already got for this very token. */
static enum auth_verdict verify_access_once(http_req_t *req, auth_t *a, str_t token,
                                            jwtv_claims **out)
{
    if (tl_access.claims && tl_access.req_id == http_req_id(req) && tl_access.token == token.ptr &&
        tl_access.token_len == token.len) {
        *out = tl_access.claims;
        tl_access.claims = NULL;
        return tl_access.verdict;
    }
    *out = http_req_alloc(req, sizeof **out);
    return auth_verify_access(a, token, 0, *out);
}

/* ==== verify and check =========================================================================
 */

/* Answers /verify from the user cache. Returns false on a miss (nothing sent). */
static bool verify_from_cache(http_req_t *req, auth_t *a, int64_t user_id)
{
    char stackbuf[2048];
    char *out = stackbuf;
    size_t len = 0;
    bool active = false;
    int64_t now = clock_now_s();
    int rc = auth_user_cached(a, user_id, now, out, sizeof stackbuf, &len, &active);
    if (rc == ERR_TOO_LARGE) {
        out = http_req_alloc(req, len);
        rc = auth_user_cached(a, user_id, now, out, len, &len, &active);
    }
    if (rc != 0)
        return false;
    if (!active) {
        api__auth_error(req, 401, "user_inactive", "User is inactive", WWW_INVALID);
        return true;
    }
    buf_t b;
    buf_init(&b, len + 64);
    buf_append_cstr(&b, "{\"valid\":true,\"user\":");
    buf_append(&b, out, len);
    buf_append_char(&b, '}');
    respond_body(req, 200, buf_str(&b));
    buf_dispose(&b);
    return true;
}

static void user_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == ERR_NOT_FOUND)
        api__auth_error(req, 401, "user_not_found", "User not found", WWW_INVALID);
    else if (rc != 0)
        api__failure(req, rc);
    else if (!verify_from_cache(req, j->auth, j->user_id))
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    api__token_job_free(j);
}

static void on_verify(http_req_t *req)
{
    auth_t *a = req->route_data;
    str_t bearer;
    int rc = api__bearer(req, &bearer);
    if (rc != 0) {
        api__bearer_error(req, rc, AUTH_INVALID);
        return;
    }
    jwtv_claims *c;
    enum auth_verdict v = verify_access_once(req, a, bearer, &c);
    if (v != AUTH_OK) {
        api__bearer_error(req, 0, v);
        return;
    }
    int64_t uid;
    if (auth_parse_user_id(c->user_id, &uid) != 0) {
        api__bearer_error(req, 0, AUTH_INVALID);
        return;
    }
    if (verify_from_cache(req, a, uid))
        return;
    api_token_job_t *j = api__token_job_new(a, API_TOKEN_USER);
    j->user_id = uid;
    if (api__token_submit(req, j, user_done) != 0)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
}

static void on_check(http_req_t *req)
{
    auth_t *a = req->route_data;
    json_t *body;
    if (http_req_json(req, &body) != 0)
        return;
    str_t token = body_string(body, "token");
    if (!token.ptr) {
        json_decref(body);
        api__auth_error(req, 400, "invalid_request", "Token is required", NULL);
        return;
    }
    jwtv_claims c;
    enum auth_verdict v = auth_verify_access(a, token, 0, &c);
    json_decref(body);
    if (v == AUTH_OK) {
        respond_body(req, 200, STR_LIT("{\"valid\":true,\"message\":\"Token is valid\"}"));
        return;
    }
    const char *why = auth_verdict_message(v);
    buf_t b;
    buf_init(&b, 512);
    buf_append_cstr(&b, "{\"valid\":false,\"error\":");
    jsonw_buf_str(&b, why, strlen(why));
    buf_append_cstr(&b, ",\"detail\":");
    jsonw_buf_str(&b, why, strlen(why));
    buf_append_cstr(&b,
                    ",\"code\":\"token_not_valid\",\"message\":\"Token is invalid or expired\"}");
    respond_body(req, 401, buf_str(&b));
    buf_dispose(&b);
}

/* ==== the auto-refresh link ====================================================================
 */

static void auto_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    if (status != 0) {
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
        api__token_job_free(j);
        return;
    }
    if (j->rc == 0 && j->verdict == AUTH_OK && j->pair.access_len) {
        char *tok = http_req_strndup(req, str_make(j->pair.access, j->pair.access_len));
        http_resp_header_add(req, "X-New-Access-Token", tok);
        if (j->sliding && j->pair.refresh_len)
            set_refresh_cookie(req, j->pair.refresh, j->pair.refresh_len);
    }
    uint32_t self = j->self;
    api__token_job_free(j);
    api_middleware_continue(req, self);
}

static int on_auto_refresh(http_req_t *req, void *data, uint32_t self)
{
    auth_t *a = data;
    const api_web_options_t *w = api__web();
    if (w->auto_refresh_window_s <= 0)
        return ERR_DECLINED;
    str_t cookie = api__cookie(req, API_REFRESH_COOKIE);
    if (!cookie.ptr)
        return ERR_DECLINED;
    /* the routes that manage the cookie themselves */
    if (str_eq_cstr(req->path, "/api/auth/refresh/") ||
        str_eq_cstr(req->path, "/api/auth/logout/") || str_eq_cstr(req->path, "/api/auth/login/"))
        return ERR_DECLINED;
    str_t bearer;
    if (api__bearer(req, &bearer) != 0)
        return ERR_DECLINED;
    int64_t now = clock_now_s();
    jwtv_claims *c = http_req_alloc(req, sizeof *c);
    enum auth_verdict v = auth_verify_access(a, bearer, now, c);
    remember_access(req, bearer, v, c);
    if (v != AUTH_OK || !c->has_exp || c->exp - now >= w->auto_refresh_window_s || !c->sid ||
        strlen(c->sid) > DB_ID_MAX)
        return ERR_DECLINED;
    jwtv_claims *rc = http_req_alloc(req, sizeof *rc);
    auth_token_ref_t ref;
    if (auth_verify_refresh(a, cookie, now, rc) != AUTH_OK ||
        auth_token_ref_from_claims(rc, &ref) != 0 || strcmp(ref.sid, c->sid) != 0)
        return ERR_DECLINED;
    tl_access.claims = NULL; /* after the pool wait the route verifies afresh */
    api_token_job_t *j =
        api__token_job_new(a, w->sliding_session ? API_TOKEN_REFRESH : API_TOKEN_ACCESS);
    j->sliding = w->sliding_session;
    j->ref = ref;
    j->has_ref = true;
    j->self = self;
    if (api__token_submit(req, j, auto_done) != 0)
        return ERR_DECLINED; /* saturated: serve the request without the new token */
    return 0;
}

/* ==== registration =============================================================================
 */

/* See api.h. */
int api_cookie_register(http_router_t *router, auth_t *auth)
{
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_POST, "/api/auth/login/", on_login, auth);
    rc |= http_router_add(router, HTTP_M_POST, "/api/auth/mobile/login/", on_mobile_login, auth);
    rc |= http_router_add(router, HTTP_M_POST, "/api/auth/refresh/", on_refresh, auth);
    rc |= http_router_add(router, HTTP_M_POST, "/api/auth/logout/", on_logout, auth);
    rc |= http_router_add(router, HTTP_M_GET, "/api/auth/verify/", on_verify, auth);
    rc |= http_router_add(router, HTTP_M_POST, "/api/auth/check/", on_check, auth);
    if (rc)
        return ERR_INVALID;
    return api_middleware_add("auto-refresh", on_auto_refresh, auth);
}

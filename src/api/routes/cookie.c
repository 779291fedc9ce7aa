/*
 * cookie.c - the browser cookie flow under /api/auth/:
 *
 *   POST /api/auth/login/         {"access","user"} + Set-Cookie refresh_token (HttpOnly,
 *                                 Path=/api/auth/, SameSite=Lax, Max-Age, Secure unless
 *                                 development, Domain when JWTD_COOKIE_DOMAIN is set)
 *                                 + Set-Cookie device_token (HttpOnly, SameSite=Strict,
 *                                 Path=/api/auth/login/; docs/security.md)
 *   POST /api/auth/mobile/login/  {"access","refresh","user"} + X-Device-Token: no cookie
 *                                 (secure storage)
 *   POST /api/auth/refresh/       cookie -> {"access"} + rotated cookie; {"refresh"} body
 *                                 (mobile) -> {"access","refresh"}; neither -> 401
 *   POST /api/auth/logout/        refresh cookie (or body) and/or Bearer: the session is
 *                                 revoked (its access tokens fail at once), the cookie
 *                                 cleared; the refresh token alone is enough (an expired
 *                                 access token does not stop a logout); a second logout is
 *                                 harmless (200)
 *   GET  /api/auth/verify/        Bearer -> {"valid":true,"user":{...}}
 *   POST /api/auth/check/         {"token"} -> {"valid","message"}
 *
 * Error bodies keep the browser flow's "error" text and add the contract's "detail" and
 * "code". X-New-Access-Token is the autorefresh link's (middleware/autorefresh.c).
 */
#define LOG_MODULE "api"
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/routes/routes.h"
#include "common/err.h"
#include "common/jsonw.h"

enum { SHAPE_COOKIE = 0, SHAPE_MOBILE = 1 };

/* ==== login ================================================================================== */

/* See req.h (API_LOGIN_FAMILIES): the answer of a login, or of its second step. */
void api_cookie_login_done(http_req_t *req, void *arg, int status)
{
    api_login_job_t *j = arg;
    const api_ctx_t *ctx = req->route_data;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        bool mobile = j->shape == SHAPE_MOBILE;
        buf_t b;
        buf_init(&b, 4 * AUTH_TOKEN_MAX);
        buf_append_cstr(&b, "{\"access\":\"");
        buf_append(&b, j->pair.access, j->pair.access_len);
        if (mobile) {
            buf_append_cstr(&b, "\",\"refresh\":\"");
            buf_append(&b, j->pair.refresh, j->pair.refresh_len);
        }
        buf_append_cstr(&b, "\",\"user\":");
        buf_append(&b, j->pair.user_json, j->pair.user_json_len);
        buf_append_char(&b, '}');
        if (!mobile)
            api__set_refresh_cookie(req, ctx, j->pair.refresh, j->pair.refresh_len);
        if (!mobile && j->device_token)
            api__set_device_cookie(req, ctx, j->device_token, j->device_token_len);
        else if (mobile)
            api__device_token_header(req, j);
        api__respond_nostore(req, 200, buf_str(&b));
        buf_dispose_secret(&b);
    } else if (api__respond_login_step(req, rc, &j->pair, true)) {
    } else if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        api__auth_error(req, 401, "no_active_account", "Invalid credentials", API_WWW_PLAIN);
    } else {
        api__failure(req, rc);
    }
    api__login_job_free(j);
}

static void login_route(http_req_t *req, int shape)
{
    json_t *body;
    if (http_req_json(req, &body) != 0)
        return;
    str_t user = api__json_string(body, "username");
    str_t pass = api__json_string(body, "password");
    str_t device = api__json_string(body, API_DEVICE_TOKEN);
    if (!user.ptr || !pass.ptr) {
        json_decref(body);
        api__auth_error(req, 400, "invalid_request", "Username and password are required", NULL);
        return;
    }
    const char *nul = memchr(user.ptr, '\0', user.len)   ? "username"
                      : memchr(pass.ptr, '\0', pass.len) ? "password"
                                                         : NULL;
    if (nul) {
        json_decref(body);
        char msg[64];
        snprintf(msg, sizeof msg, "Null characters are not allowed in %s", nul);
        api__auth_error(req, 400, "invalid_request", msg, NULL);
        return;
    }
    api__login_submit(req, req->route_data, user, pass, device.ptr ? device : STR_NULL, shape,
                      api_cookie_login_done);
    json_decref(body);
}

static void on_login(http_req_t *req)
{
    login_route(req, SHAPE_COOKIE);
}

static void on_mobile_login(http_req_t *req)
{
    login_route(req, SHAPE_MOBILE);
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
                        API_WWW_INVALID);
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
            api__set_refresh_cookie(req, j->ctx, j->pair.refresh, j->pair.refresh_len);
        api__respond_nostore(req, 200, buf_str(&b));
        buf_dispose_secret(&b);
    }
    api__token_job_free(j);
}

/*
 * The refresh token of the request: the cookie, else the "refresh" field of a JSON/form
 * body. OUT: *token (request storage), *from_body. Returns 0, ERR_NOT_FOUND (neither), or
 * -1 when the body parser already answered.
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
    str_t t = api__json_string(body, "refresh");
    if (t.ptr)
        *token = str_make(http_req_strndup(req, t), t.len);
    json_decref(body);
    if (!token->ptr)
        return ERR_NOT_FOUND;
    *from_body = true;
    return 0;
}

static void on_refresh(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    str_t token;
    bool from_body;
    int rc = find_refresh(req, &token, &from_body);
    if (rc == -1)
        return;
    if (rc != 0) {
        api__auth_error(req, 401, "not_authenticated", "Refresh token not found", API_WWW_PLAIN);
        return;
    }
    enum auth_verdict v;
    const auth_token_ref_t *t = api__verify(req, ctx, token, AUTH_TOKEN_REFRESH, &v);
    if (v != AUTH_OK) {
        api__auth_error(req, 401, "token_not_valid", "Invalid or expired refresh token",
                        API_WWW_INVALID);
        return;
    }
    api_token_job_t *j = api__token_job_new(ctx, API_TOKEN_REFRESH);
    j->from_body = from_body;
    j->ctx = ctx;
    j->ref = *t;
    j->has_ref = true;
    (void)api__token_submit(req, j, refresh_done, true);
}

static void logout_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc != 0) {
        api__failure(req, rc);
    } else {
        api__set_refresh_cookie(req, j->ctx, NULL, 0);
        api__respond_nostore(req, 200, STR_LIT("{\"message\":\"Logout successful\"}"));
    }
    api__token_job_free(j);
}

/*
 * Logout is authenticated by either credential of the session: the refresh token (cookie,
 * CSRF-checked by the "csrf" link, or body) or the Bearer access token. The refresh token is
 * enough on its own, so a browser whose access token has expired can still sign out; an
 * expired or forged Bearer beside a valid refresh token does not stop it.
 *   - a valid refresh token: its session is revoked (and the Bearer's, when that is valid
 *     and names another session), the cookie cleared, 200;
 *   - a refresh token already used, revoked or expired: nothing is left to revoke by it; the
 *     Bearer's session is revoked when the Bearer is valid; the cookie cleared, 200;
 *   - no refresh token: the Bearer decides, as before (valid or revoked: 200, else 401);
 *   - a refresh token that is not one of ours (forged, wrong type) and no valid Bearer: 401.
 */
static void on_logout(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    str_t token;
    bool from_body;
    int rc = find_refresh(req, &token, &from_body);
    if (rc == -1)
        return;
    enum auth_verdict rv = AUTH_INVALID;
    const auth_token_ref_t *t =
        rc == 0 ? api__verify(req, ctx, token, AUTH_TOKEN_REFRESH, &rv) : NULL;
    bool refresh_spent = rc == 0 && (rv == AUTH_REVOKED || rv == AUTH_EXPIRED);
    const api_locals_t *caller = api__caller(req, ctx);
    bool bearer_ok = caller->bearer_rc == 0 && caller->verdict == AUTH_OK;
    if (rv != AUTH_OK && !refresh_spent) {
        /* no usable refresh token: the Bearer decides. A revoked (already logged out) access
           token may log out again: it can only revoke what is already revoked. */
        if (caller->bearer_rc != 0 && rc == 0) {
            api__auth_error(req, 401, "token_not_valid", "Invalid or expired refresh token",
                            API_WWW_INVALID);
            return;
        }
        if (caller->bearer_rc != 0) {
            api__bearer_error(req, ctx, caller->bearer_rc, AUTH_INVALID);
            return;
        }
        if (caller->verdict != AUTH_OK && caller->verdict != AUTH_REVOKED) {
            api__bearer_error(req, ctx, 0, caller->verdict);
            return;
        }
    }
    api_token_job_t *j = api__token_job_new(ctx, API_TOKEN_LOGOUT);
    j->ctx = ctx;
    if (bearer_ok)
        memcpy(j->access_sid, caller->ref.sid, sizeof j->access_sid);
    if (t && rv == AUTH_OK) {
        j->ref = *t;
        j->has_ref = true;
    }
    (void)api__token_submit(req, j, logout_done, true);
}

/* ==== verify and check =========================================================================
 */

static void on_verify(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const api_locals_t *caller = api__caller_presented(req, ctx);
    if (!caller)
        return;
    if (caller->verdict != AUTH_OK || caller->ref.user_id == INT64_MIN ||
        !caller->ref.has_user_id) {
        api__bearer_error(req, ctx, 0, caller->verdict);
        return;
    }
    api__respond_user(req, ctx, caller->ref.user_id, true);
}

static void on_check(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    json_t *body;
    if (http_req_json(req, &body) != 0)
        return;
    str_t token = api__json_string(body, "token");
    if (!token.ptr) {
        json_decref(body);
        api__auth_error(req, 400, "invalid_request", "Token is required", NULL);
        return;
    }
    enum auth_verdict v;
    (void)api__verify(req, ctx, token, AUTH_TOKEN_ACCESS, &v);
    json_decref(body);
    if (v == AUTH_OK) {
        api__respond_nostore(req, 200, STR_LIT("{\"valid\":true,\"message\":\"Token is valid\"}"));
        return;
    }
    const char *why = api__verdict_text(ctx, v);
    buf_t b;
    buf_init(&b, 512);
    buf_append_cstr(&b, "{\"valid\":false,\"error\":");
    jsonw_buf_cstr(&b, why);
    buf_append_cstr(&b, ",\"detail\":");
    jsonw_buf_cstr(&b, why);
    buf_append_cstr(&b,
                    ",\"code\":\"token_not_valid\",\"message\":\"Token is invalid or expired\"}");
    api__respond_nostore(req, 401, buf_str(&b));
    buf_dispose(&b);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_POST, "/api/auth/login/", on_login},
    {HTTP_M_POST, "/api/auth/mobile/login/", on_mobile_login},
    {HTTP_M_POST, "/api/auth/refresh/", on_refresh},
    {HTTP_M_POST, "/api/auth/logout/", on_logout},
    {HTTP_M_GET, "/api/auth/verify/", on_verify},
    {HTTP_M_POST, "/api/auth/check/", on_check},
};

/* See routes.h. */
const api_family_t api_cookie_family = API_FAMILY(ROUTES, NULL);

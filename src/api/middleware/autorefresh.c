/*
 * autorefresh.c - the "autorefresh" link (X-New-Access-Token of the browser flow): when a
 * request carries a valid Bearer access token with less than JWTD_AUTO_REFRESH_WINDOW left
 * AND a refresh cookie of the same session, the service issues a new access token of that
 * session (the database must still accept the refresh token; it is not rotated) and the
 * answer carries X-New-Access-Token. With JWTD_SLIDING_SESSION the refresh token is rotated
 * instead and the new cookie set, so an active session slides forward. Requests without the
 * cookie (every request outside /api/auth/, since the cookie's Path keeps it there) cost
 * one header scan. The routes that manage the cookie themselves are left alone.
 *
 * The caller's verification is the request's (api__caller): the route after this link
 * does not verify the token again.
 */
#define LOG_MODULE "api"
#include <string.h>

#include "api/middleware/middleware.h"
#include "common/clock.h"
#include "common/err.h"

static void on_renewed(http_req_t *req, void *arg, int status)
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
            api__set_refresh_cookie(req, j->ctx, j->pair.refresh, j->pair.refresh_len);
    }
    api__token_job_free(j);
    http_req_route(req);
}

static bool manages_cookie(str_t path)
{
    return str_eq_cstr(path, "/api/auth/refresh/") || str_eq_cstr(path, "/api/auth/logout/") ||
           str_eq_cstr(path, "/api/auth/login/");
}

static int on_autorefresh(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    str_t cookie = api__cookie(req, API_REFRESH_COOKIE);
    if (!cookie.ptr || manages_cookie(req->path))
        return ERR_DECLINED;
    const api_locals_t *caller = api__caller(req, ctx);
    int64_t now = clock_now_s();
    if (caller->bearer_rc != 0 || caller->verdict != AUTH_OK || !caller->ref.exp ||
        caller->ref.exp - now >= ctx->o.auto_refresh_window_s || !caller->ref.sid[0])
        return ERR_DECLINED;
    enum auth_verdict v;
    const auth_token_ref_t *rt = api__verify(req, ctx, cookie, AUTH_TOKEN_REFRESH, &v);
    if (v != AUTH_OK || strcmp(rt->sid, caller->ref.sid) != 0)
        return ERR_DECLINED;
    api_token_job_t *j =
        api__token_job_new(ctx, ctx->o.sliding_session ? API_TOKEN_REFRESH : API_TOKEN_ACCESS);
    j->sliding = ctx->o.sliding_session;
    j->ctx = ctx;
    j->ref = *rt;
    j->has_ref = true;
    if (api__token_submit(req, j, on_renewed, false) != 0)
        return ERR_DECLINED; /* saturated: serve the request without the new token */
    return 0;
}

/* See middleware.h. */
int api_autorefresh_register(http_router_t *r, api_ctx_t *ctx)
{
    if (ctx->o.auto_refresh_window_s <= 0)
        return 0;
    return http_router_use(r, "autorefresh", on_autorefresh, ctx);
}

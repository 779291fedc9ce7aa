/*
 * cors.c - two links of the hook chain for browsers:
 *
 * "cors": CORS per JWTD_ENVIRONMENT / JWTD_CORS_ALLOWED_ORIGINS (development defaults to
 * the localhost:3000 origins of a Next.js dev server; staging and production allow nothing
 * unless configured). A listed origin gets Access-Control-Allow-Origin: <origin> with
 * Allow-Credentials and Expose-Headers: X-New-Access-Token, X-Device-Token; "*" in the
 * list allows any origin WITHOUT credentials; every other origin gets no CORS header, so the
 * browser keeps the answer from the page. Preflights (OPTIONS + Access-Control-Request-Method)
 * are answered here, 204 for an allowed origin, 403 otherwise. Responses that depend on
 * Origin carry Vary: Origin. With JWTD_HSTS_MAX_AGE (365d in production), every answer known
 * to be https (api__https: an https public URL, or a trusted proxy's X-Forwarded-Proto) also
 * carries Strict-Transport-Security; over plain http browsers ignore it, so it is not sent.
 *
 * "csrf": a state-changing request (not GET/HEAD/OPTIONS) that carries the refresh_token
 * cookie is accepted only when its Origin (else the origin of its Referer) is this server
 * itself (the Host header, or the origin of JWTD_PUBLIC_URL) or a listed origin; with
 * neither header it is refused (403). Why SameSite=Lax is not enough on its own: "site" is
 * the registrable domain, so every subdomain and every port of the same host (an old app
 * on staging.example.com, user content on cdn.example.com, a dev server on localhost:3001)
 * is same-site and gets the cookie on a cross-origin POST; with JWTD_COOKIE_DOMAIN set the
 * cookie is shared with all subdomains on purpose; and Lax still sends cookies on
 * top-level GET navigations and in browsers that ignore SameSite. The origin check closes
 * all of these; it costs nothing for requests without the cookie (mobile clients send the
 * refresh token in the body, not a cookie).
 */
#define LOG_MODULE "api"
#include <stdio.h>
#include <string.h>

#include "api/middleware/middleware.h"
#include "common/err.h"
#include "runtime/log.h"

static void forbid(http_req_t *req, const char *detail)
{
    http_respond_error(req, ERR_PERMISSION, detail);
}

static int on_cors(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    if (ctx->hsts && api__https(req, ctx))
        http_resp_header_add(req, "Strict-Transport-Security", ctx->hsts);
    str_t origin = http_req_header(req, "origin");
    if (!origin.ptr) {
        if (ctx->o.cors_origin_count)
            http_resp_header_add(req, "Vary", "Origin");
        return ERR_DECLINED;
    }
    http_resp_header_add(req, "Vary", "Origin");
    bool listed = api__origin_listed(ctx, origin);
    bool star = !listed && ctx->cors_any;
    if (listed) {
        char *o = http_req_strndup(req, origin);
        http_resp_header_add(req, "Access-Control-Allow-Origin", o);
        http_resp_header_add(req, "Access-Control-Allow-Credentials", "true");
        http_resp_header_add(req, "Access-Control-Expose-Headers",
                             "X-New-Access-Token, X-Device-Token");
    } else if (star) {
        http_resp_header_add(req, "Access-Control-Allow-Origin", "*");
        http_resp_header_add(req, "Access-Control-Expose-Headers",
                             "X-New-Access-Token, X-Device-Token");
    }
    if (req->method != HTTP_M_OPTIONS || !http_req_header(req, "access-control-request-method").ptr)
        return ERR_DECLINED;
    /* a preflight */
    if (!listed && !star) {
        if (!api__origin_is_self(req, origin) && !api__origin_is_public(ctx, origin)) {
            forbid(req, "CORS origin not allowed.");
            return 0;
        }
        http_respond(req, 204, NULL, STR_NULL);
        return 0;
    }
    http_resp_header_add(req, "Access-Control-Allow-Methods",
                         "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    http_resp_header_add(req, "Access-Control-Allow-Headers",
                         "Authorization, Content-Type, X-Requested-With");
    http_resp_header_add(req, "Access-Control-Max-Age", "600");
    http_respond(req, 204, NULL, STR_NULL);
    return 0;
}

static int on_csrf(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    if (req->method == HTTP_M_GET || req->method == HTTP_M_HEAD || req->method == HTTP_M_OPTIONS)
        return ERR_DECLINED;
    if (!api__cookie(req, API_REFRESH_COOKIE).ptr)
        return ERR_DECLINED;
    str_t origin = http_req_header(req, "origin");
    const char *via = "Origin";
    if (!origin.ptr || !origin.len) {
        str_t ref = http_req_header(req, "referer");
        origin = ref.ptr ? api__referer_origin(ref) : STR_NULL;
        via = "Referer";
    }
    if (!origin.ptr) {
        char path[300];
        audit_ctx_t who = api__audit_ctx(req);
        audit_warn(&who, .event = "csrf_rejected", .outcome = "failure", .reason = "no_origin",
                   .detail = api__audit_path(req, path, sizeof path));
        forbid(req, "CSRF check failed: the request has neither Origin nor Referer.");
        return 0;
    }
    if (api__origin_is_self(req, origin) || api__origin_is_public(ctx, origin) ||
        api__origin_listed(ctx, origin))
        return ERR_DECLINED;
    char path[300], detail[320];
    snprintf(detail, sizeof detail, "via=%s %s", via, api__audit_path(req, path, sizeof path));
    audit_ctx_t who = api__audit_ctx(req);
    audit_warn(&who, .event = "csrf_rejected", .outcome = "failure", .reason = "origin",
               .detail = detail);
    forbid(req, "CSRF check failed: origin not allowed.");
    return 0;
}

/* See middleware.h. */
int api_cors_register(http_router_t *r, api_ctx_t *ctx)
{
    for (size_t i = 0; ctx->hsts && ctx->cors[i]; i++) {
        /* HSTS on: credentials over plain HTTP, or any origin, are most likely mistakes */
        if (strcmp(ctx->cors[i], "*") == 0 || strncmp(ctx->cors[i], "http://", 7) == 0)
            log_warn("msg=\"JWTD_CORS_ALLOWED_ORIGINS entry unusual with HSTS\" origin=%s",
                     ctx->cors[i]);
    }
    int rc = http_router_use(r, "cors", on_cors, ctx);
    if (rc == 0)
        rc = http_router_use(r, "csrf", on_csrf, ctx);
    return rc;
}

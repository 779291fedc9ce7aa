/*
 * routes.h - the route families of the request layer, one registration function each,
 * called by api_mount (request/ctx.c) in the documented order. Each family registers its
 * routes with the context as route data. Not a contract for other subsystems (api.h is).
 */
#ifndef JWTD_API_ROUTES_H
#define JWTD_API_ROUTES_H

#include "api/request/req.h"

/* GET /healthz (platform.c). */
int api_platform_register(http_router_t *r, api_ctx_t *ctx);
/* /_test/...: echo, path parameters, slow pool work (platform.c; tests only). */
int api_test_routes_register(http_router_t *r, api_ctx_t *ctx);
/* /api/token/, refresh, verify, blacklist and /api/users/me/ (simplejwt.c). */
int api_simplejwt_register(http_router_t *r, api_ctx_t *ctx);
/* GET /.well-known/jwks.json and /.well-known/openid-configuration (wellknown.c). */
int api_wellknown_register(http_router_t *r, api_ctx_t *ctx);
/* The browser cookie flow under /api/auth/ (cookie.c). */
int api_cookie_register(http_router_t *r, api_ctx_t *ctx);
/* GET|DELETE /auth/sessions, DELETE /auth/sessions/{sid} (sessions.c). */
int api_sessions_register(http_router_t *r, api_ctx_t *ctx);
/* /auth/register, login, refresh, logout, logout-all, me (service.c). */
int api_service_register(http_router_t *r, api_ctx_t *ctx);
/* GET /auth/introspect and GET /auth/revocations (introspect.c). */
int api_introspect_register(http_router_t *r, api_ctx_t *ctx);
/* GET /metrics (metrics.c). */
int api_metrics_register(http_router_t *r, api_ctx_t *ctx);
/* GET /readyz (readyz.c). */
int api_readyz_register(http_router_t *r, api_ctx_t *ctx);
/*
 * The web UI under /app/ (static.c): every regular file below ctx->o.web_dir is loaded
 * (bounded) into ctx->ui and registered as its own GET route, so no request path ever
 * reaches the file system. Returns 0 (also without a directory: no UI, logged),
 * ERR_TOO_LARGE or ERR_IO.
 */
int api_static_register(http_router_t *r, api_ctx_t *ctx);
/* Frees what api_static_register loaded. NULL is a no-op. */
void api_static_free(struct api_static *ui);
/* GET /openapi.json (openapi.c); last, see api_mount_docs. */
int api_openapi_register(http_router_t *r, api_ctx_t *ctx);

#endif

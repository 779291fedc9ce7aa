/*
 * routes.h - the route families of the request layer, one registration function each,
 * called by api_mount (request/ctx.c) in the documented order. Each family registers its
 * routes with the context as route data. Not a contract for other subsystems (api.h is).
 */
#ifndef JWTD_API_ROUTES_H
#define JWTD_API_ROUTES_H

#include "api/request/req.h"

/*
 * The core families in mounting order (hot routes first: the router scans in registration
 * order), each with its file: platform (GET /healthz), simplejwt (/api/token/, refresh,
 * verify, blacklist, /api/users/me/), wellknown (JWKS, OpenID discovery), metrics,
 * readyz, cookie (the browser flow under /api/auth/), sessions (/auth/sessions), service
 * (/auth/register, login, refresh, logout, logout-all, me), introspect (/auth/introspect,
 * /auth/revocations) and static (the web UI under /app/: every regular file below
 * ctx->o.web_dir is loaded, bounded, into ctx->ui and registered as its own GET route, so
 * no request path ever reaches the file system; no directory means no UI, logged).
 * Each function returns 0, ERR_INVALID (a route), or for static ERR_TOO_LARGE / ERR_IO.
 */
#define API_ROUTE_FAMILIES(X)                                                                      \
    X(platform)                                                                                    \
    X(simplejwt)                                                                                   \
    X(wellknown) X(metrics) X(readyz) X(cookie) X(sessions) X(service) X(introspect) X(static)

#define API_FAMILY_DECL_(name) extern const api_family_t api_##name##_family;
API_ROUTE_FAMILIES(API_FAMILY_DECL_)
#undef API_FAMILY_DECL_

/* /_test/...: echo, path parameters, slow pool work (platform.c; tests only). */
extern const api_family_t api_test_family;
/* Frees what the static family loaded. NULL is a no-op. */
void api_static_free(struct api_static *ui);
/* GET /openapi.json (openapi.c); last, see api_mount_docs. */
extern const api_family_t api_openapi_family;

#endif

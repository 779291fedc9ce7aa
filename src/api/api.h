/*
 * api.h - the route families of jwtd. Each src/api/<family>.c is a thin adapter from HTTP
 * (src/http/) to the domain (src/auth/, stores) and exposes one registration function
 * here, called by src/cli/serve.c when it builds the router.
 */
#ifndef JWTD_API_H
#define JWTD_API_H

#include "http/http.h"

typedef struct auth auth_t;

/*
 * Platform routes (API.md section 7) that need no backend: GET /healthz. Returns 0 or
 * the error of http_router_add.
 */
int api_platform_register(http_router_t *router);
/*
 * Routes that exist only for the integration tests of the HTTP layer (/_test/...): echo,
 * path parameters, slow pool work. serve registers them only with JWTD_TEST_ROUTES=1
 * outside production.
 */
int api_test_routes_register(http_router_t *router);
/*
 * The SimpleJWT family (API.md section 3, simplejwt.c): /api/token/, /api/token/refresh/,
 * /api/token/verify/, /api/token/blacklist/, /api/users/me/. auth is borrowed and must
 * outlive the server. Returns 0 or ERR_INVALID.
 */
int api_simplejwt_register(http_router_t *router, auth_t *auth);
/*
 * GET /.well-known/jwks.json and /.well-known/openid-configuration (wellknown.c).
 */
int api_wellknown_register(http_router_t *router, auth_t *auth);

#endif

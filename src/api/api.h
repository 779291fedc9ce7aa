/*
 * api.h - the route families of jwtd. Each src/api/<family>.c is a thin adapter from HTTP
 * (src/http/) to the domain (src/auth/, stores) and exposes one registration function
 * here, called by src/cli/serve.c when it builds the router.
 */
#ifndef JWTD_API_H
#define JWTD_API_H

#include "http/http.h"

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

#endif

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

#endif

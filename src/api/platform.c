/*
 * platform.c - platform routes of API.md section 7 that need no backend.
 *
 * GET /healthz says the process is alive and serving: a constant body, no allocation,
 * no backend call. It is also the HTTP layer's benchmark target, so keep it that cheap.
 */
#include "api/api.h"

#include "common/str.h"

static void on_healthz(http_req_t *req)
{
    http_respond(req, 200, "application/json", STR_LIT("{\"status\":\"ok\"}"));
}

/* See api.h. */
int api_platform_register(http_router_t *router)
{
    return http_router_add(router, HTTP_M_GET, "/healthz", on_healthz, NULL);
}

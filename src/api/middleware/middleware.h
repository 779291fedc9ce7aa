/*
 * middleware.h - the links of the hook chain every request passes before routing (http.h:
 * http_router_use), one registration function each, called by api_mount (request/ctx.c)
 * in this order (API_LINKS):
 *   observe      request id and nosniff on every answer (observe.c)
 *   listener     with a metrics listener: /metrics there only, nothing else there (listener.c)
 *   cors, csrf   CORS answers and preflights, HSTS; the origin check of cookie-carrying
 *                state changes (cors.c)
 *   ratelimit    the guards' budgets, so that a 429 carries the CORS headers (ratelimit.c)
 *   iprules      JWTD_IP_ALLOWLIST (iprules.c)
 *   binding      fingerprint binding and the refresh anomaly rule (binding.c)
 *   onetime      one-time-use access tokens (onetime.c)
 *   autorefresh  X-New-Access-Token (autorefresh.c)
 * A link that is not configured adds nothing. A link returns ERR_DECLINED to pass the
 * request on, or 0 when it has answered or gone asynchronous; an asynchronous link resumes
 * the request with http_req_route(req). Not a contract for other subsystems.
 */
#ifndef JWTD_API_MIDDLEWARE_H
#define JWTD_API_MIDDLEWARE_H

#include "api/request/req.h"

#define API_LINKS(X)                                                                               \
    X(observe) X(listener) X(cors) X(ratelimit) X(iprules) X(binding) X(onetime) X(autorefresh)

#define API_LINK_DECL_(name) int api_##name##_register(http_router_t *r, api_ctx_t *ctx);
API_LINKS(API_LINK_DECL_)
#undef API_LINK_DECL_

#endif

/*
 * api.h - the route families of jwtd. Each src/api/<family>.c is a thin adapter from HTTP
 * (src/http/) to the domain (src/auth/, stores) and exposes one registration function
 * here, called by src/cli/serve.c when it builds the router.
 */
#ifndef JWTD_API_H
#define JWTD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ==== browser flow (issue 7): middleware chain, cookie routes, CORS/CSRF, UI, sessions ==== */

/*
 * The middleware chain (middleware.c). The HTTP layer has ONE before-hook; the chain runs
 * an ordered list of links there. Order (serve.c): "cors" (CORS answers, preflight,
 * security headers), "csrf" (origin check of cookie-authenticated state changes),
 * "auto-refresh" (X-New-Access-Token); later issues append rate limits and IP rules as
 * further links. A link returns ERR_DECLINED to pass the request on, or 0 when it has
 * responded or gone asynchronous; an asynchronous link resumes the chain from its done
 * callback with api_middleware_continue(req, self) (self = the index it was called with).
 * Links are added before http_server_run; api_middleware_install sets the hook.
 */
typedef int (*api_mw_fn)(http_req_t *req, void *data, uint32_t self);
/* Appends a link (name for logs). Returns 0 or ERR_INVALID (chain full). */
int api_middleware_add(const char *name, api_mw_fn fn, void *data);
/* Installs the chain as router's before-hook (no hook when the chain is empty). */
void api_middleware_install(http_router_t *router);
/* Runs the links after self, then routes the request (404/405/OPTIONS as the HTTP layer). */
void api_middleware_continue(http_req_t *req, uint32_t self);
/* Empties the chain (tests). */
void api_middleware_reset(void);

/* Browser settings, plain values copied from struct cfg by serve.c (web.c copies them). */
typedef struct {
    bool secure_cookie;            /* Secure attribute on the refresh cookie (not development) */
    bool hsts;                     /* production: Strict-Transport-Security on every answer */
    const char *cookie_domain;     /* Domain attribute, NULL = host-only */
    int64_t refresh_lifetime_s;    /* cookie Max-Age */
    int64_t auto_refresh_window_s; /* 0 disables X-New-Access-Token */
    bool sliding_session;          /* auto-refresh also rotates the refresh cookie */
    char *const *cors_origins;     /* JWTD_CORS_ALLOWED_ORIGINS; "*" = any origin, no credentials */
    size_t cors_origin_count;
} api_web_options_t;

/* Copies o (strings too) as the process-wide browser settings. Call once before serving. */
void api_web_configure(const api_web_options_t *o);
/* Adds the "cors" and "csrf" links (cors.c) to the middleware chain. */
int api_cors_register(void);
/*
 * The cookie flow of API.md section 4 under /api/auth/ (cookie.c): login, refresh, logout,
 * verify, check, mobile/login; and the "auto-refresh" link. auth is borrowed.
 */
int api_cookie_register(http_router_t *router, auth_t *auth);
/*
 * GET /auth/sessions, DELETE /auth/sessions/{sid} and DELETE /auth/sessions (all of the
 * user's sessions) (sessions.c). db and auth are borrowed.
 */
struct db;
int api_sessions_register(http_router_t *router, auth_t *auth, struct db *db);
/*
 * The static web UI under /app/ (static.c): every regular file below dir is loaded at
 * start (bounded) and registered as its own GET route, so no request path ever reaches the
 * file system. Returns 0 (also when dir does not exist: no UI, logged), ERR_TOO_LARGE or
 * ERR_IO.
 */
int api_static_register(http_router_t *router, const char *dir);
/* Frees what api_static_register loaded (after the server stopped). */
void api_static_free(void);

/* ==== shared state (issue 5): rate limits, orders cache, readiness ========================== */

struct cfg;
/*
 * Adds the "ratelimit" link (ratelimit.c) with cfg's JWTD_RATE_LIMIT_*, JWTD_INVALID_TOKEN_*
 * and JWTD_TRUSTED_PROXIES (cfg is borrowed: it must outlive the server), and sets auth's
 * login-failed hook (per-username counts). Returns 0 or ERR_INVALID (chain full).
 */
int api_ratelimit_register(auth_t *auth, const struct cfg *cfg);
/*
 * The client address of req as text (out, cap >= 64): the peer, or when the peer is in
 * JWTD_TRUSTED_PROXIES (as given to api_ratelimit_register) the right-most
 * X-Forwarded-For address that is not a trusted proxy.
 */
void api_client_ip(http_req_t *req, char *out, size_t cap);
/*
 * IP allowlists (iprules.c, issue 9): adds the "iprules" link when JWTD_IP_ALLOWLIST is set
 * (add it after "ratelimit", whose JWTD_TRUSTED_PROXIES api_client_ip uses) and keeps
 * JWTD_ADMIN_IP_ALLOWLIST for api_iprules_role_allowed. cfg is borrowed. Returns 0 or
 * ERR_INVALID.
 */
int api_iprules_register(const struct cfg *cfg);
/* False (logged) when a token of this role may not be used from req's client address. */
bool api_iprules_role_allowed(http_req_t *req, const char *role);
/*
 * Client-fingerprint binding and the refresh anomaly rule (binding.c, issue 9): adds the
 * "binding" link (refresh requests whose token's fph differs from the client's get 401;
 * a family refreshed from a distant network within JWTD_REFRESH_ANOMALY_WINDOW is revoked)
 * when JWTD_FINGERPRINT_HEADERS or the window is set. auth and cfg are borrowed. Returns 0
 * or ERR_INVALID.
 */
int api_binding_register(auth_t *auth, const struct cfg *cfg);
/*
 * One-time-use access tokens (onetime.c, issue 9): adds the "onetime" link when
 * JWTD_ONE_TIME_ROUTES is set. auth and cfg are borrowed. Returns 0 or ERR_INVALID.
 */
int api_onetime_register(auth_t *auth, const struct cfg *cfg);
/* The request's fingerprint into out (23 bytes); false when binding is off. */
bool api_fingerprint(http_req_t *req, char *out);
/* The same, heap-allocated for a login job (free it); NULL when binding is off. */
char *api_fingerprint_dup(http_req_t *req);
/* JWTD_FINGERPRINT_ACCESS: false (logged) when an access token's fph is not the request's. */
bool api_fingerprint_access_ok(http_req_t *req, const char *token_fph);
/* GET /api/orders/ (orders.c): seed 000's per-user, per-token cache. */
int api_orders_register(http_router_t *router, auth_t *auth);
/*
 * GET /readyz (readyz.c): 200 {"status":"ready","database":"ok","redis":...} when the
 * database answers and (when JWTD_REDIS_REQUIRED) Redis is up; 503 otherwise.
 */
struct db;
/*
 * GET /metrics (Prometheus text; metrics.c), the HTTP and connection observers feeding it,
 * and the "observe" middleware link (X-Request-Id, X-Content-Type-Options) -- add it
 * before the other links. Requests slower than slow_ms (0 = never) are logged as
 * event=slow_request. auth and db are borrowed. Returns 0 or ERR_INVALID.
 */
int api_metrics_register(http_router_t *router, auth_t *auth, struct db *db, uint64_t slow_ms);
int api_readyz_register(http_router_t *router, auth_t *auth, struct db *db, bool redis_required);

/* ==== service and resource side (issue 8) ================================================== */

struct jwtv_claims;

/*
 * Bearer authentication of a protected route (authn.c): SimpleJWT's header parsing, then
 * auth_verify_access on the loop (no I/O). Returns 0 with *claims (caller storage, about
 * 13 KiB: use http_req_alloc) and *user_id filled; otherwise it has RESPONDED (401 with the
 * API.md section 2 body and WWW-Authenticate) and returns -1.
 */
int api_authenticate(http_req_t *req, auth_t *auth, struct jwtv_claims *claims, int64_t *user_id);
/*
 * This thread's claims buffer for api_authenticate, instead of 13 KiB from the request
 * arena (a malloc per request): valid until the handler returns, so only for handlers
 * that are done with the claims before they return (they copy what an async step needs).
 */
struct jwtv_claims *api_claims_scratch(void);
/* The same, then 403 permission_denied unless the token's `role` claim equals role. */
int api_authenticate_role(http_req_t *req, auth_t *auth, const char *role,
                          struct jwtv_claims *claims, int64_t *user_id);

/* Plain values for the service/resource routes, copied from struct cfg by serve.c. */
typedef struct {
    int64_t access_lifetime_s;   /* expires_in of /auth/login and /auth/refresh */
    const char *upload_dir;      /* JWTD_UPLOAD_DIR (created if missing) */
    uint64_t max_upload_bytes;   /* JWTD_MAX_UPLOAD_BYTES: larger files get 413 */
    uint32_t posts_cache_ttl_ms; /* lifetime of a cached /posts page; 0 = no cache */
} api_service_options_t;

/*
 * /auth/register, /auth/login, /auth/refresh, /auth/logout, /auth/logout-all, /auth/me
 * (service.c, API.md section 5). auth and db are borrowed; o is copied.
 */
int api_service_register(http_router_t *router, auth_t *auth, struct db *db,
                         const api_service_options_t *o);
/* GET|POST /posts, GET|PUT|DELETE /posts/{id} (posts.c). */
int api_posts_register(http_router_t *router, auth_t *auth, struct db *db);
/* GET /users (admin), GET /users/{id} (self or admin) (users.c). */
int api_users_register(http_router_t *router, auth_t *auth, struct db *db);
/*
 * GET /, GET /protected, GET /admin/dashboard, POST /upload, GET /upload/{id}
 * (resource.c, API.md section 6). Returns 0, ERR_INVALID or ERR_IO (upload dir).
 */
int api_resource_register(http_router_t *router, auth_t *auth, const api_service_options_t *o);
/*
 * GET /auth/introspect (introspect.c, API.md section 7): nginx auth_request; and
 * GET /auth/revocations (admin): the revocation feed for edge verifiers, looking back
 * window_s seconds by default (the access-token lifetime).
 */
int api_introspect_register(http_router_t *router, auth_t *auth, struct db *db, int64_t window_s);
/*
 * GET /openapi.json (openapi.c): the embedded OpenAPI 3 document of every route.
 */
int api_openapi_register(http_router_t *router);

#endif

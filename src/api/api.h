/*
 * api.h - the request layer of jwtd as the composition root sees it: its options, its
 * context, and what it mounts on a router.
 *
 * The request layer adapts HTTP (src/http/) to the token service and its use cases
 * (src/auth/auth.h). It is three kinds of code, one folder each:
 *   src/api/routes/      route families: one file per family of the HTTP contract
 *   src/api/middleware/  links of the hook chain that every request passes before routing
 *   src/api/request/     helpers shared by both (body fields, Bearer authentication once
 *                        per request, cookies, answers in the contract's shapes, jobs)
 * Every route and link gets its context explicitly (the api_ctx_t, as route or hook data);
 * the layer keeps no file-scope mutable state. It never calls the database or the shared
 * store directly: auth.h is its only way down.
 *
 * Threads: the context is built before the server runs and read-only afterwards (what it
 * holds that changes, the service, has its own locks); handlers and links run on their
 * request's loop thread.
 */
#ifndef JWTD_API_H
#define JWTD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"
#include "http/http.h"

typedef struct auth auth_t;
typedef struct api_ctx api_ctx_t;
struct auth_oidc;

/* Where the web UI under /app/ comes from (api_options_t.web). */
enum api_web {
    API_WEB_NONE = 0, /* no UI: /app/ answers 404 */
    API_WEB_BUILTIN,  /* the files of web/app/ built into jwtd (routes.h, api_web_files) */
    API_WEB_DIR,      /* the files below web_dir, read once at start */
};

/* Plain values the request layer needs, filled by the composition root. Copied by
   api_ctx_new (strings and lists too). */
typedef struct {
    /* browser: cookies, CORS, HSTS; https: public_url https://, or a trusted proxy's
       X-Forwarded-Proto (http_req_forwarded_https) */
    bool secure_cookie;              /* Secure refresh cookie on every answer (else on https) */
    int64_t hsts_max_age_s;          /* Strict-Transport-Security on https answers; 0 = none */
    bool hsts_include_subdomains;    /* ; includeSubDomains */
    bool hsts_preload;               /* ; preload (the configuration checked the rules) */
    const char *public_url;          /* external base URL, no trailing '/'; NULL = from Host */
    const char *cookie_domain;       /* Domain attribute, NULL = host-only */
    const char *cookie_path;         /* Path attribute of the refresh cookie; NULL = /api/auth/ */
    const char *cookie_samesite;     /* SameSite attribute: "Lax", "Strict" or "None" (+Secure);
                                        NULL = Lax */
    bool combined_token_messages;    /* "Token is invalid or expired" for both (SimpleJWT 5.2) */
    int64_t refresh_lifetime_s;      /* the refresh cookie's Max-Age */
    int64_t device_token_lifetime_s; /* the device cookie's Max-Age (0: device tokens off) */
    int64_t auto_refresh_window_s;   /* X-New-Access-Token threshold; 0 disables */
    bool sliding_session;            /* auto-refresh also rotates the refresh cookie */
    char *const *cors_origins;       /* allowed origins; "*" = any origin, no credentials */
    size_t cors_origin_count;
    /* token binding and IP rules */
    char *const *fingerprint_headers; /* headers hashed into the "fph" claim; none = off */
    size_t fingerprint_header_count;
    bool fingerprint_access;                 /* also check access tokens' fph */
    uint32_t refresh_anomaly_window_s;       /* 0 = the anomaly rule is off */
    uint32_t refresh_anomaly_prefix;         /* IPv4 network bits (IPv6: /48) */
    const ip_net_list_t *ip_allowlist;       /* NULL or empty = every client */
    const ip_net_list_t *admin_ip_allowlist; /* NULL or empty = admins from anywhere */
    char *const *one_time_routes;            /* exact paths whose tokens are single-use */
    size_t one_time_route_count;
    /* routes */
    int64_t access_lifetime_s;    /* expires_in of the service routes */
    int64_t revocations_window_s; /* default look-back of GET /auth/revocations */
    uint64_t slow_request_ms;     /* performance-log threshold; 0 = never */
    uint64_t feed_keepalive_ms;   /* ": keepalive" interval of revocation streams; 0 = 15 s */
    bool redis_required;          /* /readyz fails while Redis is down */
    bool metrics_apart;    /* GET /metrics only on the server's second listener (http_req_on_aux),
                              404 on the public one; the second listener serves nothing else */
    enum api_web web;      /* the web UI: none, built in, or web_dir */
    const char *web_dir;   /* API_WEB_DIR: the directory of the UI's files */
    const char *issuer;    /* JWTD_ISSUER (discovery's base URL when http(s)) */
    bool issuer_from_host; /* development: without JWTD_ISSUER and JWTD_PUBLIC_URL, the OpenID
                              Connect issuer is the request's base URL (never otherwise) */
} api_options_t;

/*
 * Builds the request layer's context for auth (borrowed: must outlive it; NULL only in
 * tests of the helpers that verify no token) from o (copied). OUT: *out, freed with api_ctx_free
 * after the server stopped. Returns 0 or ERR_INVALID.
 */
int api_ctx_new(const api_options_t *o, auth_t *auth, api_ctx_t **out);
void api_ctx_free(api_ctx_t *ctx);
/*
 * On worker w's thread when its loop has stopped (http_options.on_worker_stop): the
 * request layer wakes that loop no more (the revocation feed's streams).
 */
void api_worker_stop(api_ctx_t *ctx, http_worker_t *w);

/*
 * Gives the request layer the relying party of social sign-in (auth/oidc.h; borrowed, must
 * outlive ctx): api_mount then mounts /auth/oidc/... Call before api_mount.
 */
void api_ctx_set_oidc(api_ctx_t *ctx, struct auth_oidc *oidc);

/* Sets ho's observers: request counts and durations, slow requests, open connections. */
void api_observe(api_ctx_t *ctx, struct http_options *ho);

/*
 * Mounts the hook chain (API_LINKS, in this order: observe, cors and csrf, ratelimit,
 * iprules, binding, onetime, auto-refresh; the optional ones only when configured) and the
 * core route families (API_ROUTE_FAMILIES: platform, SimpleJWT, discovery, metrics, readyz,
 * the cookie flow, sessions, the service routes, introspection, the web UI). Returns 0,
 * ERR_INVALID or what loading the web UI returned.
 */
int api_mount(api_ctx_t *ctx, http_router_t *r);
/* Routes for the HTTP layer's own integration tests (/_test/...). Never in production. */
int api_mount_test_routes(api_ctx_t *ctx, http_router_t *r);
/*
 * GET /openapi.json. Mount it last: it checks every route registered so far against the
 * embedded document (docs/openapi.json). Returns 0, ERR_INVALID or ERR_INTERNAL.
 */
int api_mount_docs(api_ctx_t *ctx, http_router_t *r);

#endif

/*
 * ctx.c - the request layer's context (api_ctx_new: the options copied, the origins and
 * fingerprint headers normalised, the HSTS value and the public origin computed once) and what
 * api.h mounts: the hook chain in its order, the core route families, the test routes and the
 * documentation route.
 */
#define LOG_MODULE "api"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/middleware/middleware.h"
#include "api/request/req.h"
#include "api/routes/routes.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

/* A NULL-terminated copy of n strings, each through fix (may be NULL). */
static char **copy_list(char *const *items, size_t n, char *(*fix)(const char *))
{
    char **out = xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = fix ? fix(items[i]) : xstrdup(items[i]);
    return out;
}

static void free_list(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

/* "http://a.example/" and "http://a.example" are the same origin. */
static char *origin_fix(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    return xstrndup(s, n);
}

static char *lower_fix(const char *s)
{
    char *c = xstrdup(s);
    for (char *p = c; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return c;
}

/* The Strict-Transport-Security value of o; NULL when max-age is 0. */
static char *hsts_value(const api_options_t *o)
{
    if (o->hsts_max_age_s <= 0)
        return NULL;
    char v[96];
    snprintf(v, sizeof v, "max-age=%lld%s%s", (long long)o->hsts_max_age_s,
             o->hsts_include_subdomains ? "; includeSubDomains" : "",
             o->hsts_preload ? "; preload" : "");
    return xstrdup(v);
}

/* scheme://authority of an absolute http(s) URL (the public URL, validated at load). */
static char *origin_of(const char *url)
{
    const char *auth = strstr(url, "://");
    if (!auth)
        return NULL;
    auth += 3;
    return xstrndup(url, (size_t)(auth - url) + strcspn(auth, "/"));
}

static void copy_nets(const ip_net_list_t *from, ip_net_list_t *to)
{
    to->count = from ? from->count : 0;
    to->items = to->count ? xcalloc(to->count, sizeof *to->items) : NULL;
    if (to->count)
        memcpy(to->items, from->items, to->count * sizeof *to->items);
}

/* See api.h. */
int api_ctx_new(const api_options_t *o, auth_t *auth, api_ctx_t **out)
{
    if (!o)
        return ERR_INVALID;
    api_ctx_t *c = xcalloc(1, sizeof *c);
    c->auth = auth;
    c->o = *o;
    c->o.cookie_domain = dup_or_null(o->cookie_domain);
    c->o.cookie_path = xstrdup(o->cookie_path ? o->cookie_path : "/api/auth/");
    c->o.cookie_samesite = xstrdup(o->cookie_samesite ? o->cookie_samesite : "Lax");
    c->o.web_dir = dup_or_null(o->web_dir);
    c->o.issuer = dup_or_null(o->issuer);
    c->o.public_url = dup_or_null(o->public_url);
    if (c->o.public_url) {
        c->public_https = strncmp(c->o.public_url, "https://", 8) == 0;
        c->public_origin = origin_of(c->o.public_url);
    }
    c->hsts = hsts_value(o);
    c->cors = copy_list(o->cors_origins, o->cors_origin_count, origin_fix);
    for (size_t i = 0; i < o->cors_origin_count; i++)
        c->cors_any |= strcmp(c->cors[i], "*") == 0;
    c->o.cors_origins = c->cors;
    c->fingerprint_fields =
        copy_list(o->fingerprint_headers, o->fingerprint_header_count, lower_fix);
    c->o.fingerprint_headers = c->fingerprint_fields;
    c->one_time_routes = copy_list(o->one_time_routes, o->one_time_route_count, NULL);
    c->o.one_time_routes = c->one_time_routes;
    copy_nets(o->ip_allowlist, &c->ip_allowlist);
    copy_nets(o->admin_ip_allowlist, &c->admin_allowlist);
    c->o.ip_allowlist = &c->ip_allowlist;
    c->o.admin_ip_allowlist = &c->admin_allowlist;
    if (c->o.revocations_window_s <= 0)
        c->o.revocations_window_s = 900;
    if (c->o.feed_keepalive_ms == 0)
        c->o.feed_keepalive_ms = 15000;
    c->feed = api__feed_new(auth);
    *out = c;
    return 0;
}

/* See api.h. */
void api_ctx_free(api_ctx_t *c)
{
    if (!c)
        return;
    api__feed_free(c->feed);
    api_static_free(c->ui);
    free((char *)c->o.cookie_domain);
    free((char *)c->o.cookie_path);
    free((char *)c->o.cookie_samesite);
    free((char *)c->o.web_dir);
    free((char *)c->o.issuer);
    free((char *)c->o.public_url);
    free(c->public_origin);
    free(c->hsts);
    free_list(c->cors);
    free_list(c->fingerprint_fields);
    free_list(c->one_time_routes);
    ip_net_list_dispose(&c->ip_allowlist);
    ip_net_list_dispose(&c->admin_allowlist);
    free(c->openapi);
    free(c);
}

/* See req.h. */
int api__families_add(http_router_t *r, const api_family_t *const *families, size_t n, void *data)
{
    for (size_t i = 0; i < n; i++) {
        const api_family_t *f = families[i];
        for (size_t k = 0; k < f->n; k++)
            if (http_router_add(r, f->routes[k].method, f->routes[k].pattern, f->routes[k].fn,
                                data) != 0)
                return ERR_INVALID;
        int rc = f->mount ? f->mount(r, data) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* See api.h. */
void api_ctx_set_oidc(api_ctx_t *ctx, struct auth_oidc *oidc)
{
    ctx->oidc = oidc;
}

/* See api.h. */
int api_mount(api_ctx_t *ctx, http_router_t *r)
{
    /* the chain: the order is part of the contract (a 429 carries CORS headers, ...) */
#define API_LINK_ROW_(name) api_##name##_register,
    int (*const links[])(http_router_t *, api_ctx_t *) = {API_LINKS(API_LINK_ROW_)};
#undef API_LINK_ROW_
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        int rc = links[i](r, ctx);
        if (rc != 0)
            return rc;
    }
#define API_FAMILY_ROW_(name) &api_##name##_family,
    static const api_family_t *const families[] = {API_ROUTE_FAMILIES(API_FAMILY_ROW_)};
#undef API_FAMILY_ROW_
    return api__families_add(r, families, sizeof families / sizeof families[0], ctx);
}

/* See api.h. */
int api_mount_test_routes(api_ctx_t *ctx, http_router_t *r)
{
    static const api_family_t *const test[] = {&api_test_family};
    return api__families_add(r, test, 1, ctx);
}

/* See api.h. */
int api_mount_docs(api_ctx_t *ctx, http_router_t *r)
{
    static const api_family_t *const docs[] = {&api_openapi_family};
    return api__families_add(r, docs, 1, ctx);
}

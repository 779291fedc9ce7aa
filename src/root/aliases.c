/*
 * aliases.c - JWTD_ROUTE_ALIASES resolved into the router once every route is registered:
 * a Django project's own URL layout (/login/simpleJWT/ for SimpleJWT's obtain view) served
 * by the routes it stands for.
 *
 * The configuration checked each item's syntax and that no two items claim the same path;
 * only here are the routes known, so an unknown target or an alias path that a route
 * already serves is refused here, before the server listens. Each alias becomes an exact
 * path of the router's alias table (http_router_alias): at request time the path is
 * replaced by its target's before any hook runs, with no parsing and no allocation.
 *
 * DESIGN: the form without (or with) the trailing slash is registered too, because Django
 * projects are reached both ways (APPEND_SLASH redirects a GET, but a POST to the other
 * form fails there); these variants come after every item's own paths and are skipped
 * silently when their path is taken, so they never shadow a route or another item. A prefix alias
 * expands to the fixed routes below its target; routes with path parameters are left out (their
 * path cannot be substituted without per-request work).
 */
#define LOG_MODULE "root"
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "config/config.h"
#include "root/root.h"
#include "runtime/log.h"

#define ALIAS_PATH_MAX 600 /* two sides of at most 256 bytes each, and a route's tail */

/* path with its trailing slash dropped, or added: into out. false when there is none. */
static bool slash_variant(const char *path, char *out, size_t cap)
{
    size_t n = strlen(path);
    if (n <= 1 || n + 2 > cap)
        return false;
    if (path[n - 1] == '/')
        snprintf(out, cap, "%.*s", (int)(n - 1), path);
    else
        snprintf(out, cap, "%s/", path);
    return true;
}

/*
 * Registers alias -> target (item names the item in messages); with variants, only the
 * form of alias with or without its trailing slash, when that path is free.
 */
static int add_one(http_router_t *r, const char *item, const char *alias, const char *target,
                   bool variants, char *err, size_t cap)
{
    if (variants) {
        char variant[ALIAS_PATH_MAX];
        if (slash_variant(alias, variant, sizeof variant))
            (void)http_router_alias(r, variant, target); /* a taken path stays its own */
        return 0;
    }
    int rc = http_router_alias(r, alias, target);
    if (rc == ERR_NOT_FOUND) {
        char other[ALIAS_PATH_MAX];
        enum http_method m;
        const char *pat;
        bool near = false;
        if (slash_variant(target, other, sizeof other))
            for (size_t i = 0; !near && http_router_route(r, i, &m, &pat) == 0; i++)
                near = strcmp(pat, other) == 0;
        snprintf(err, cap, "JWTD_ROUTE_ALIASES: %s: unknown target route %s%s%s%s", item, target,
                 near ? " (did you mean " : "", near ? other : "", near ? "?)" : "");
        return ERR_CONFIG;
    }
    if (rc == ERR_CONFLICT) {
        snprintf(err, cap,
                 "JWTD_ROUTE_ALIASES: %s: the path %s is already a route or the alias of "
                 "another target",
                 item, alias);
        return ERR_CONFIG;
    }
    if (rc != 0) {
        snprintf(err, cap, "JWTD_ROUTE_ALIASES: %s: %s cannot be an alias of %s", item, alias,
                 target);
        return ERR_CONFIG;
    }
    return 0;
}

/* A prefix alias: every fixed route below target, also below alias. */
static int add_prefix(http_router_t *r, const char *item, str_t alias, str_t target, bool variants,
                      char *err, size_t cap)
{
    size_t n = http_router_count(r), added = 0;
    for (size_t i = 0; i < n; i++) {
        enum http_method m;
        const char *pat;
        if (http_router_route(r, i, &m, &pat) != 0 || strchr(pat, '{') ||
            strncmp(pat, target.ptr, target.len) != 0)
            continue;
        char from[ALIAS_PATH_MAX];
        int w = snprintf(from, sizeof from, "%.*s%s", STR_FMT(alias), pat + target.len);
        if (w < 0 || (size_t)w >= sizeof from)
            continue;
        int rc = add_one(r, item, from, pat, variants, err, cap);
        if (rc != 0)
            return rc;
        added++;
    }
    if (added == 0) {
        snprintf(err, cap, "JWTD_ROUTE_ALIASES: %s: no route below %.*s", item, STR_FMT(target));
        return ERR_CONFIG;
    }
    return 0;
}

/* One item of JWTD_ROUTE_ALIASES: its own paths, or (variants) their slash variants. */
static int add_item(http_router_t *r, const char *item, bool variants, char *err, size_t cap)
{
    cfg_route_alias_t a;
    char why[200];
    if (cfg_parse_route_alias(str_cstr(item), &a, why, sizeof why) != 0) {
        snprintf(err, cap, "JWTD_ROUTE_ALIASES: %s: %s", item, why);
        return ERR_CONFIG;
    }
    if (a.prefix)
        return add_prefix(r, item, a.alias, a.target, variants, err, cap);
    char from[ALIAS_PATH_MAX], to[ALIAS_PATH_MAX];
    snprintf(from, sizeof from, "%.*s", STR_FMT(a.alias));
    snprintf(to, sizeof to, "%.*s", STR_FMT(a.target));
    return add_one(r, item, from, to, variants, err, cap);
}

/* See root.h. */
int root__route_aliases(http_router_t *r, char *const *items, size_t n, char *err, size_t cap)
{
    /* every alias as written first, then the slash variants, so a variant never takes a
       path that an item names */
    for (int pass = 0; pass < 2; pass++) {
        bool variants = pass == 1;
        for (size_t i = 0; i < n; i++) {
            int rc = add_item(r, items[i], variants, err, cap);
            if (rc != 0)
                return rc;
        }
    }
    if (n)
        log_info("msg=\"route aliases\" items=%zu paths=%zu", n, http_router_alias_count(r));
    return 0;
}

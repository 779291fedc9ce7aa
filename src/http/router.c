/*
 * router.c - method + path routing with {name} path parameters (see http.h).
 *
 * Routes live in one array, matched in registration order by walking the pattern and the
 * path together: no allocation, no regex. Before routing, a request passes the router's
 * chain of hooks (http_router_use) in order; a hook may stop it (answer) or pause it (go
 * asynchronous, then resume with http_req_route). A path that matches some pattern but none for
 * the method yields 405 with the list of methods (the Allow header). The route count is
 * small (tens), so a linear scan beats anything cleverer; register hot routes first.
 *
 * Aliases (http_router_alias) are exact paths served as a route's path: the request's path
 * is replaced by the target's once, before the hooks run (http__router_resolve), so hooks,
 * handlers, logs and metrics see the target and an alias behaves exactly like it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "http/http_internal.h"
#include "runtime/alloc.h"

struct route {
    enum http_method method;
    char *pattern;
    http_handler_fn fn;
    void *data;
    size_t stream_max;      /* streaming route: its body limit; 0 = buffered body */
    http_refusal_fn refuse; /* its own refusal answer; NULL = the server's */
};

struct hook {
    const char *name;
    http_hook_fn fn;
    void *data;
};

/* An exact path served as another: the request's path is replaced before the hooks run. */
struct alias {
    char *from, *to;
    size_t from_len, to_len;
};

struct http_router {
    struct route *routes;
    size_t count, cap;
    struct alias *aliases;
    size_t alias_count, alias_cap;
    bool has_stream; /* some route streams its body (checked only for requests with one) */
    struct hook hooks[HTTP_MAX_HOOKS];
    uint8_t hook_count;
    http_options_fn options;
};

static const char *const method_names[HTTP_M__COUNT] = {
    "OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
};

/* See http.h. */
const char *http_method_name(enum http_method m)
{
    return (unsigned)m < HTTP_M__COUNT ? method_names[m] : "OTHER";
}

/* Maps llhttp's method numbers (llhttp_method_t) to ours. */
enum http_method http__method_from_llhttp(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return HTTP_M_GET;
    case HTTP_HEAD:
        return HTTP_M_HEAD;
    case HTTP_POST:
        return HTTP_M_POST;
    case HTTP_PUT:
        return HTTP_M_PUT;
    case HTTP_DELETE:
        return HTTP_M_DELETE;
    case HTTP_PATCH:
        return HTTP_M_PATCH;
    case HTTP_OPTIONS:
        return HTTP_M_OPTIONS;
    default:
        return HTTP_M_OTHER;
    }
}

/* See http.h. */
http_router_t *http_router_new(void)
{
    return xcalloc(1, sizeof(http_router_t));
}

/* See http.h. */
void http_router_free(http_router_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        free(r->routes[i].pattern);
    free(r->routes);
    for (size_t i = 0; i < r->alias_count; i++) {
        free(r->aliases[i].from);
        free(r->aliases[i].to);
    }
    free(r->aliases);
    free(r);
}

static int pattern_valid(const char *p)
{
    if (p[0] != '/')
        return 0;
    int params = 0;
    for (const char *s = p; *s; s++) {
        if (*s == '{') {
            if (s[-1] != '/')
                return 0;
            const char *e = strchr(s, '}');
            if (!e || e == s + 1 || (e[1] != '/' && e[1] != '\0'))
                return 0;
            for (const char *q = s + 1; q < e; q++)
                if (*q == '/' || *q == '{')
                    return 0;
            if (++params > HTTP_MAX_PARAMS)
                return 0;
            s = e;
        } else if (*s == '}') {
            return 0;
        }
    }
    return 1;
}

/* See http.h. */
int http_router_add(http_router_t *r, enum http_method method, const char *pattern,
                    http_handler_fn fn, void *data)
{
    if (!pattern || !fn || method == HTTP_M_OTHER || !pattern_valid(pattern))
        return ERR_INVALID;
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = xrealloc(r->routes, r->cap * sizeof *r->routes);
    }
    r->routes[r->count++] = (struct route){method, xstrdup(pattern), fn, data, 0, NULL};
    return 0;
}

/* See http.h. */
int http_router_add_stream(http_router_t *r, enum http_method method, const char *pattern,
                           http_handler_fn fn, void *data, size_t max_body_bytes)
{
    if (max_body_bytes == 0)
        return ERR_INVALID;
    int rc = http_router_add(r, method, pattern, fn, data);
    if (rc != 0)
        return rc;
    r->routes[r->count - 1].stream_max = max_body_bytes;
    r->has_stream = true;
    return 0;
}

static bool match_path(const char *pat, str_t path, http_req_t *params);

/* See http.h. */
int http_router_alias(http_router_t *r, const char *alias, const char *target)
{
    if (!alias || !target || !pattern_valid(alias) || strchr(alias, '{') || !pattern_valid(target))
        return ERR_INVALID;
    if (strchr(target, '{'))
        return ERR_INVALID; /* a path is substituted, not a pattern */
    bool found = false;
    for (size_t i = 0; i < r->count; i++) {
        if (match_path(r->routes[i].pattern, str_cstr(alias), NULL))
            return ERR_CONFLICT; /* already served by a route */
        found = found || strcmp(r->routes[i].pattern, target) == 0;
    }
    if (!found)
        return ERR_NOT_FOUND;
    size_t fl = strlen(alias);
    for (size_t i = 0; i < r->alias_count; i++) {
        const struct alias *a = &r->aliases[i];
        if (a->from_len == fl && memcmp(a->from, alias, fl) == 0)
            return strcmp(a->to, target) == 0 ? 0 : ERR_CONFLICT;
    }
    if (r->alias_count == r->alias_cap) {
        r->alias_cap = r->alias_cap ? r->alias_cap * 2 : 8;
        r->aliases = xrealloc(r->aliases, r->alias_cap * sizeof *r->aliases);
    }
    r->aliases[r->alias_count++] =
        (struct alias){xstrdup(alias), xstrdup(target), fl, strlen(target)};
    return 0;
}

/* See http.h. */
size_t http_router_alias_count(const http_router_t *r)
{
    return r->alias_count;
}

/*
 * The path a request for path is served as: the target of the alias path is, else path.
 * A scan comparing lengths first: aliases are few, and none costs one test.
 */
str_t http__router_resolve(const http_router_t *r, str_t path)
{
    for (size_t i = 0; i < r->alias_count; i++) {
        const struct alias *a = &r->aliases[i];
        if (a->from_len == path.len && memcmp(a->from, path.ptr, path.len) == 0)
            return str_make(a->to, a->to_len);
    }
    return path;
}

/* See http.h. */
size_t http_router_count(const http_router_t *r)
{
    return r->count;
}

/* See http.h. */
int http_router_route(const http_router_t *r, size_t i, enum http_method *method,
                      const char **pattern)
{
    if (i >= r->count)
        return ERR_NOT_FOUND;
    *method = r->routes[i].method;
    *pattern = r->routes[i].pattern;
    return 0;
}

/* See http.h. */
int http_router_use(http_router_t *r, const char *name, http_hook_fn fn, void *data)
{
    if (!fn || r->hook_count >= HTTP_MAX_HOOKS)
        return ERR_INVALID;
    r->hooks[r->hook_count++] = (struct hook){name, fn, data};
    return 0;
}

/* See http.h. */
void http_router_set_options(http_router_t *r, http_options_fn fn)
{
    r->options = fn;
}

/* Walks pattern against path; fills params (may be NULL). */
static bool match_path(const char *pat, str_t path, http_req_t *params)
{
    const char *p = path.ptr, *end = path.ptr + path.len;
    uint32_t n = 0;
    while (*pat) {
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            const char *seg = p;
            while (p < end && *p != '/')
                p++;
            if (p == seg)
                return false;
            if (params) {
                params->param_names[n] = str_make(pat + 1, (size_t)(close - pat - 1));
                params->param_values[n] = str_make(seg, (size_t)(p - seg));
            }
            n++;
            pat = close + 1;
            continue;
        }
        if (p == end || *p != *pat)
            return false;
        p++;
        pat++;
    }
    if (p != end)
        return false;
    if (params)
        params->param_count = n;
    return true;
}

static void allow_add(char *allow, size_t cap, size_t *len, unsigned *seen, enum http_method m)
{
    if (*seen & (1u << m))
        return;
    *seen |= 1u << m;
    if (cap == 0)
        return;
    int n = snprintf(allow + *len, cap - *len, "%s%s", *len ? ", " : "", method_names[m]);
    if (n > 0 && *len + (size_t)n < cap)
        *len += (size_t)n;
}

/* See http.h. */
int http_router_match(const http_router_t *r, enum http_method method, str_t path,
                      http_handler_fn *fn, void **data, http_req_t *params_out, char *allow,
                      size_t allow_cap)
{
    enum http_method want = method == HTTP_M_HEAD ? HTTP_M_GET : method;
    bool path_found = false;
    const struct route *head_route = NULL;
    for (size_t i = 0; i < r->count; i++) {
        const struct route *rt = &r->routes[i];
        if (rt->method != want && !(method == HTTP_M_HEAD && rt->method == HTTP_M_HEAD)) {
            if (!path_found && match_path(rt->pattern, path, NULL))
                path_found = true;
            continue;
        }
        if (!match_path(rt->pattern, path, params_out))
            continue;
        if (rt->method == HTTP_M_HEAD || method != HTTP_M_HEAD) {
            *fn = rt->fn;
            *data = rt->data;
            return 0;
        }
        if (!head_route)
            head_route = rt; /* GET route answering HEAD, unless an explicit HEAD exists */
    }
    if (head_route) {
        match_path(head_route->pattern, path, params_out);
        *fn = head_route->fn;
        *data = head_route->data;
        return 0;
    }
    if (!path_found)
        return ERR_NOT_FOUND;
    size_t len = 0;
    unsigned seen = 0;
    if (allow_cap)
        allow[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        const struct route *rt = &r->routes[i];
        if (!match_path(rt->pattern, path, NULL))
            continue;
        allow_add(allow, allow_cap, &len, &seen, rt->method);
        if (rt->method == HTTP_M_GET)
            allow_add(allow, allow_cap, &len, &seen, HTTP_M_HEAD);
    }
    allow_add(allow, allow_cap, &len, &seen, HTTP_M_OPTIONS);
    return ERR_METHOD;
}

/*
 * For a request with a body, after its headers: the body limit of the route that will
 * serve method + path if that route streams its body, else 0 (buffered as usual).
 */
size_t http__router_stream_max(const http_router_t *r, enum http_method method, str_t path)
{
    if (!r->has_stream || method == HTTP_M_HEAD)
        return 0;
    for (size_t i = 0; i < r->count; i++) {
        const struct route *rt = &r->routes[i];
        if (rt->method == method && match_path(rt->pattern, path, NULL))
            return rt->stream_max; /* the route http_router_match will pick */
    }
    return 0;
}

/* See http.h. */
int http_router_set_refusal(http_router_t *r, enum http_method method, const char *pattern,
                            http_refusal_fn fn)
{
    for (size_t i = 0; i < r->count; i++) {
        struct route *rt = &r->routes[i];
        if (rt->method == method && strcmp(rt->pattern, pattern) == 0) {
            rt->refuse = fn;
            return 0;
        }
    }
    return ERR_NOT_FOUND;
}

/* See http_internal.h. */
http_refusal_fn http__router_refusal(const http_router_t *r, enum http_method method, str_t path,
                                     void **data)
{
    for (size_t i = 0; i < r->count; i++) {
        const struct route *rt = &r->routes[i];
        if (rt->method == method && match_path(rt->pattern, path, NULL)) {
            *data = rt->data; /* the route http_router_match will pick */
            return rt->refuse;
        }
    }
    return NULL;
}

/*
 * Runs the hooks of r that have not run yet for req (req->_hook_next onwards). Returns
 * ERR_DECLINED when every one passed the request on, 0 when one responded or went
 * asynchronous (it resumes with http_req_route, which continues after it).
 */
int http__router_run_hooks(const http_router_t *r, http_req_t *req)
{
    while (req->_hook_next < r->hook_count) {
        const struct hook *h = &r->hooks[req->_hook_next++];
        if (h->fn(req, h->data) != ERR_DECLINED)
            return 0;
    }
    return ERR_DECLINED;
}

http_options_fn http__router_options(const http_router_t *r)
{
    return r->options;
}

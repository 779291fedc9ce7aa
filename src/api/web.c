/*
 * web.c - the shared pieces of jwtd's browser flow (web.h): the process-wide browser
 * settings, Cookie and Authorization parsing, origin comparison and the seed-004 error
 * shape used by the /api/auth/ routes.
 *
 * Threads: api_web_configure runs once before serving; everything else only reads.
 */
#define LOG_MODULE "api"
#include "api/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

static api_web_options_t g_web;
static char **g_origins;

/* See api.h. */
void api_web_configure(const api_web_options_t *o)
{
    g_web = *o;
    g_web.cookie_domain = o->cookie_domain && *o->cookie_domain ? xstrdup(o->cookie_domain) : NULL;
    g_origins = o->cors_origin_count ? xcalloc(o->cors_origin_count, sizeof *g_origins) : NULL;
    for (size_t i = 0; i < o->cors_origin_count; i++) {
        /* "http://a.example/" and "http://a.example" are the same origin */
        size_t n = strlen(o->cors_origins[i]);
        while (n > 0 && o->cors_origins[i][n - 1] == '/')
            n--;
        g_origins[i] = xstrndup(o->cors_origins[i], n);
    }
    g_web.cors_origins = g_origins;
}

/* See web.h. */
const api_web_options_t *api__web(void)
{
    return &g_web;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* See web.h. */
str_t api__cookie(const http_req_t *req, const char *name)
{
    size_t nl = strlen(name);
    for (uint32_t h = 0; h < req->header_count; h++) {
        if (!str_eq_nocase(req->headers[h].name, STR_LIT("cookie")))
            continue;
        str_t v = req->headers[h].value;
        size_t i = 0;
        while (i < v.len) {
            while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == ';'))
                i++;
            size_t start = i;
            while (i < v.len && v.ptr[i] != ';')
                i++;
            str_t pair = str_make(v.ptr + start, i - start);
            if (pair.len > nl && memcmp(pair.ptr, name, nl) == 0 && pair.ptr[nl] == '=') {
                str_t val = str_trim(str_make(pair.ptr + nl + 1, pair.len - nl - 1));
                if (val.len >= 2 && val.ptr[0] == '"' && val.ptr[val.len - 1] == '"')
                    val = str_make(val.ptr + 1, val.len - 2);
                if (val.len)
                    return val;
            }
        }
    }
    return STR_NULL;
}

/* See web.h. */
int api__bearer(const http_req_t *req, str_t *token)
{
    str_t h = http_req_header(req, "authorization");
    if (!h.ptr)
        return ERR_NOT_AUTHENTICATED;
    /* Fast path (every authenticated request): "Bearer <token>" and no byte <= ' ' in the
       token, checked 8 bytes at a time; the same answer as the split below. */
    if (h.len > 7 && memcmp(h.ptr, "Bearer ", 7) == 0) {
        const char *p = h.ptr + 7;
        size_t n = h.len - 7, i = 0;
        uint64_t low = 0, w;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8); /* a byte < 0x21 sets its high bit in low (exact) */
            low |= (w - 0x2121212121212121ull) & ~w & 0x8080808080808080ull;
        }
        for (; i < n; i++)
            low |= (unsigned char)p[i] <= ' ';
        if (!low) {
            *token = str_make(p, n);
            return 0;
        }
    }
    str_t parts[3];
    size_t n = 0, i = 0;
    while (i < h.len && n < 3) {
        while (i < h.len && is_ws(h.ptr[i]))
            i++;
        if (i >= h.len)
            break;
        size_t start = i;
        while (i < h.len && !is_ws(h.ptr[i]))
            i++;
        parts[n++] = str_make(h.ptr + start, i - start);
    }
    if (n == 0 || !str_eq_cstr(parts[0], "Bearer"))
        return ERR_NOT_AUTHENTICATED;
    if (n != 2)
        return ERR_BAD_AUTH_HEADER;
    *token = parts[1];
    return 0;
}

/* See web.h. */
bool api__origin_listed(str_t origin)
{
    if (!origin.len)
        return false;
    for (size_t i = 0; i < g_web.cors_origin_count; i++) {
        if (str_eq_nocase(origin, str_cstr(g_origins[i])))
            return true;
    }
    return false;
}

/* See web.h. */
bool api__origin_is_self(const http_req_t *req, str_t origin)
{
    str_t host = http_req_header(req, "host");
    if (!host.ptr || !host.len)
        return false;
    str_t auth;
    if (str_starts_with(origin, STR_LIT("http://")))
        auth = str_make(origin.ptr + 7, origin.len - 7);
    else if (str_starts_with(origin, STR_LIT("https://")))
        auth = str_make(origin.ptr + 8, origin.len - 8);
    else
        return false;
    return str_eq_nocase(auth, str_trim(host));
}

/* See web.h. */
void api__auth_error(http_req_t *req, int status, const char *code, const char *msg,
                     const char *www)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"error\":");
    jsonw_buf_str(&b, msg, strlen(msg));
    buf_append_cstr(&b, ",\"detail\":");
    jsonw_buf_str(&b, msg, strlen(msg));
    buf_append_cstr(&b, ",\"code\":");
    jsonw_buf_str(&b, code, strlen(code));
    buf_append_char(&b, '}');
    if (www)
        http_resp_header_add(req, "WWW-Authenticate", www);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, status, API_JSON_CT, buf_str(&b));
    buf_dispose(&b);
}

/* See web.h. */
void api__bearer_error(http_req_t *req, int rc, int verdict)
{
    if (rc == ERR_NOT_AUTHENTICATED) {
        http_resp_header_add(req, "WWW-Authenticate", "Bearer realm=\"api\"");
        http_respond(req, 401, API_JSON_CT,
                     STR_LIT("{\"detail\":\"Authentication credentials were not provided.\","
                             "\"code\":\"not_authenticated\"}"));
        return;
    }
    if (rc == ERR_BAD_AUTH_HEADER) {
        http_resp_header_add(req, "WWW-Authenticate",
                             "Bearer realm=\"api\", error=\"invalid_request\"");
        http_respond(req, 401, API_JSON_CT,
                     STR_LIT("{\"detail\":\"Authorization header must contain two "
                             "space-delimited values\",\"code\":\"bad_authorization_header\"}"));
        return;
    }
    char body[320];
    int n = snprintf(body, sizeof body,
                     "{\"detail\":\"Given token not valid for any token type\",\"code\":"
                     "\"token_not_valid\",\"messages\":[{\"token_class\":\"AccessToken\","
                     "\"token_type\":\"access\",\"message\":\"%s\"}]}",
                     auth_verdict_message((enum auth_verdict)verdict));
    http_resp_header_add(req, "WWW-Authenticate", "Bearer realm=\"api\", error=\"invalid_token\"");
    http_respond(req, 401, API_JSON_CT, str_make(body, (size_t)n));
}

/* See web.h. */
void api__failure(http_req_t *req, int rc)
{
    if (rc == ERR_UNAVAILABLE)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    else
        http_respond_error(req, ERR_INTERNAL, NULL);
}

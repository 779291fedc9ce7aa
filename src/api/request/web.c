/*
 * web.c - what the browser flow needs of a request: the Cookie header, the refresh and
 * device cookies' Set-Cookie, origin comparison (CORS, CSRF), whether the request came over
 * https and this server's external base URL (JWTD_PUBLIC_URL, else the Host header), and the
 * client fingerprint that binds a session's tokens to the client that signed in.
 *
 * The fingerprint (JWTD_FINGERPRINT_HEADERS) is base64url(first 16 bytes of SHA-256 of
 * "name:value\n" for each configured header, in order, missing = empty). It is not a
 * secret and not a proof: it raises the bar for replay from another client, nothing more
 * (headers are chosen by the client).
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/request/req.h"
#include "common/b64url.h"

/* See req.h. */
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

/* See req.h. */
void api__set_refresh_cookie(http_req_t *req, const api_ctx_t *ctx, const char *value, size_t len)
{
    buf_t b;
    buf_init(&b, 2 * AUTH_TOKEN_MAX);
    buf_append_cstr(&b, API_REFRESH_COOKIE "=");
    if (value) {
        buf_append(&b, value, len);
        buf_printf(&b, "; Max-Age=%" PRId64, auth_refresh_lifetime(ctx->auth));
    } else {
        buf_append_cstr(&b, "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    }
    buf_printf(&b, "; Path=%s; HttpOnly; SameSite=%s", ctx->o.cookie_path, ctx->o.cookie_samesite);
    if (ctx->o.secure_cookie || api__https(req, ctx) || strcmp(ctx->o.cookie_samesite, "None") == 0)
        buf_append_cstr(&b, "; Secure");
    if (ctx->o.cookie_domain)
        buf_printf(&b, "; Domain=%s", ctx->o.cookie_domain);
    http_resp_header_add(req, "Set-Cookie", b.data);
    buf_dispose_secret(&b);
}

/* See req.h. */
void api__set_device_cookie(http_req_t *req, const api_ctx_t *ctx, const char *value, size_t len)
{
    buf_t b;
    buf_init(&b, 2 * AUTH_TOKEN_MAX);
    buf_append_cstr(&b, API_DEVICE_TOKEN "=");
    buf_append(&b, value, len);
    buf_printf(&b, "; Max-Age=%" PRId64 "; Path=/api/auth/login/; HttpOnly; SameSite=Strict",
               ctx->o.device_token_lifetime_s);
    if (ctx->o.secure_cookie || api__https(req, ctx))
        buf_append_cstr(&b, "; Secure");
    http_resp_header_add(req, "Set-Cookie", b.data);
    buf_dispose_secret(&b);
}

/* See req.h. */
bool api__origin_listed(const api_ctx_t *ctx, str_t origin)
{
    if (!origin.len)
        return false;
    for (size_t i = 0; ctx->cors[i]; i++)
        if (str_eq_nocase(origin, str_cstr(ctx->cors[i])))
            return true;
    return false;
}

/* See req.h. */
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

/* See req.h. */
bool api__origin_is_public(const api_ctx_t *ctx, str_t origin)
{
    return ctx->public_origin && origin.len && str_eq_nocase(origin, str_cstr(ctx->public_origin));
}

/* See req.h. */
bool api__https(const http_req_t *req, const api_ctx_t *ctx)
{
    return ctx->public_https || http_req_forwarded_https(req);
}

/* Whether a Host header value is a plain host[:port] we may echo into a URL. */
static bool host_ok(str_t h)
{
    if (h.len == 0 || h.len > 255)
        return false;
    for (size_t i = 0; i < h.len; i++) {
        char c = h.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

/* See req.h. */
void api__base_url(const http_req_t *req, const api_ctx_t *ctx, char *out, size_t cap)
{
    if (ctx->o.public_url) {
        snprintf(out, cap, "%s", ctx->o.public_url);
        return;
    }
    const char *scheme = api__https(req, ctx) ? "https" : "http";
    str_t host = http_req_header(req, "host");
    if (host.ptr && host_ok(host))
        snprintf(out, cap, "%s://%.*s", scheme, STR_FMT(host));
    else
        snprintf(out, cap, "%s://localhost", scheme);
}

/* See req.h. */
bool api__fingerprint(http_req_t *req, const api_ctx_t *ctx, char *out)
{
    if (!ctx->fingerprint_fields[0])
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && ctx->fingerprint_fields[i]; i++) {
        const char *f = ctx->fingerprint_fields[i];
        str_t v = http_req_header(req, f);
        ok = EVP_DigestUpdate(md, f, strlen(f)) == 1 && EVP_DigestUpdate(md, ":", 1) == 1 &&
             (!v.ptr || EVP_DigestUpdate(md, v.ptr, v.len) == 1) &&
             EVP_DigestUpdate(md, "\n", 1) == 1;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    ok = ok && EVP_DigestFinal_ex(md, d, &dl) == 1;
    EVP_MD_CTX_free(md);
    if (!ok || b64url_encode(d, 16, out, AUTH_FPH_MAX + 1) != AUTH_FPH_MAX)
        return false;
    out[AUTH_FPH_MAX] = '\0';
    return true;
}

/* See req.h. */
str_t api__referer_origin(str_t ref)
{
    size_t skip;
    if (str_starts_with(ref, STR_LIT("http://")))
        skip = 7;
    else if (str_starts_with(ref, STR_LIT("https://")))
        skip = 8;
    else
        return STR_NULL;
    size_t i = skip;
    while (i < ref.len && ref.ptr[i] != '/' && ref.ptr[i] != '?' && ref.ptr[i] != '#')
        i++;
    if (i == skip)
        return STR_NULL;
    return str_make(ref.ptr, i);
}

/* See req.h. */
void api__request_origin(const http_req_t *req, char *out, size_t cap)
{
    str_t origin = http_req_header(req, "origin");
    if (!origin.ptr || !origin.len) {
        str_t ref = http_req_header(req, "referer");
        origin = ref.ptr ? api__referer_origin(ref) : STR_NULL;
    }
    snprintf(out, cap, "%.*s", origin.ptr && origin.len < cap ? (int)origin.len : 0,
             origin.ptr ? origin.ptr : "");
}

/*
 * oidc_http.c - the relying party's HTTP client over libcurl: discovery, JWKS and the token
 * endpoint. One easy handle per request, on the calling (blocking pool) thread.
 *
 * DESIGN: what the provider answers is untrusted input. TLS is always verified
 * (CURLOPT_SSL_VERIFYPEER and _VERIFYHOST, the system's CA store), redirects are never
 * followed (a provider's endpoint that redirects is an error, not a hop to somewhere else),
 * only https is allowed (http as well where the configuration allowed it: a loopback
 * provider or development), the connection and the whole request are bounded in time, and
 * the body in size: the write callback refuses the byte past the limit, which aborts the
 * transfer. No signal is used for timeouts (CURLOPT_NOSIGNAL: threads).
 */
#define LOG_MODULE "oidc"
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "auth/oidc_internal.h"
#include "common/err.h"
#include "runtime/log.h"

/* See oidc_internal.h. */
void auth__oidc_http_init(void)
{
    static bool done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = true;
    }
}

static bool loopback_host(str_t h)
{
    return str_eq(h, STR_LIT("127.0.0.1")) || str_eq_nocase(h, STR_LIT("localhost")) ||
           str_eq(h, STR_LIT("[::1]"));
}

/* See oidc_internal.h. */
bool auth__oidc_url_ok(const auth__oidc_http_limits_t *lim, const char *url)
{
    str_t u = str_cstr(url);
    for (size_t k = 0; k < u.len; k++)
        if ((unsigned char)u.ptr[k] <= 0x20 || (unsigned char)u.ptr[k] >= 0x7f)
            return false;
    if (str_starts_with(u, STR_LIT("https://")))
        return u.len > 8;
    if (!str_starts_with(u, STR_LIT("http://")))
        return false;
    if (lim->allow_http)
        return u.len > 7;
    str_t rest = str_make(u.ptr + 7, u.len - 7);
    size_t hl = 0;
    if (rest.len && rest.ptr[0] == '[') {
        const char *rb = memchr(rest.ptr, ']', rest.len);
        hl = rb ? (size_t)(rb - rest.ptr) + 1 : 0;
    } else {
        while (hl < rest.len && rest.ptr[hl] != '/' && rest.ptr[hl] != ':' && rest.ptr[hl] != '@')
            hl++;
        if (hl < rest.len && rest.ptr[hl] == '@')
            return false; /* user info: never */
    }
    return hl > 0 && loopback_host(str_make(rest.ptr, hl));
}

struct sink {
    buf_t *body;
    size_t max;
    bool too_large;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (s->body->len + len > s->max || buf_append(s->body, p, len) != 0) {
        s->too_large = true;
        return 0; /* aborts the transfer */
    }
    return len;
}

/* See oidc_internal.h. */
int auth__oidc_http(const auth__oidc_http_limits_t *lim, const char *url, const char *form,
                    const char *user, const char *pass, const char *bearer, long *status,
                    buf_t *body)
{
    *status = 0;
    if (!auth__oidc_url_ok(lim, url))
        return ERR_INVALID;
    CURL *c = curl_easy_init();
    if (!c)
        return ERR_UNAVAILABLE;
    struct sink s = {body, lim->max_bytes, false};
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
    if (bearer) {
        buf_t h;
        buf_init(&h, 16 * 1024);
        buf_append_cstr(&h, "Authorization: Bearer ");
        buf_append_cstr(&h, bearer);
        if (h.data)
            hdr = curl_slist_append(hdr, h.data);
        buf_dispose_secret(&h);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)lim->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)lim->timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)lim->max_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "jwtd");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    if (form) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    }
    if (user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, pass ? pass : "");
    }
    CURLcode cc = curl_easy_perform(c);
    int rc = 0;
    if (s.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = ERR_TOO_LARGE;
    } else if (cc != CURLE_OK) {
        log_warn("msg=\"provider request failed\" error=\"%s\"", curl_easy_strerror(cc));
        rc = ERR_UNAVAILABLE;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    for (struct curl_slist *l = hdr; l; l = l->next)
        OPENSSL_cleanse(l->data, strlen(l->data)); /* the access token */
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return rc;
}

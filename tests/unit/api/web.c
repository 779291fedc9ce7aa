/*
 * Unit tests of src/api/web.c: the Cookie and Authorization parsing and the origin checks
 * the browser flow's CSRF and CORS decisions rest on.
 */
#include "api/web.h"

#include <string.h>

#include "common/err.h"
#include "test.h"

/* A request with the given headers (name, value pairs; NULL-terminated). */
static void make_req(http_req_t *req, http_header_t *hs, const char *const *kv)
{
    memset(req, 0, sizeof *req);
    uint32_t n = 0;
    for (; kv[2 * n]; n++) {
        hs[n].name = str_cstr(kv[2 * n]);
        hs[n].value = str_cstr(kv[2 * n + 1]);
    }
    req->headers = hs;
    req->header_count = n;
}

static int cookie_is(const char *const *kv, const char *want)
{
    http_req_t req;
    http_header_t hs[8];
    make_req(&req, hs, kv);
    str_t v = api__cookie(&req, API_REFRESH_COOKIE);
    if (!want)
        return v.ptr == NULL;
    return v.ptr && str_eq_cstr(v, want);
}

TEST(api_web_cookie_parsing)
{
    CHECK_TRUE(cookie_is((const char *[]){"Cookie", "refresh_token=abc", NULL}, "abc"));
    CHECK_TRUE(
        cookie_is((const char *[]){"cookie", "a=1; refresh_token=abc.def; b=2", NULL}, "abc.def"));
    CHECK_TRUE(
        cookie_is((const char *[]){"Cookie", "a=1", "Cookie", "refresh_token=x", NULL}, "x"));
    CHECK_TRUE(cookie_is((const char *[]){"Cookie", "refresh_token=\"q\"", NULL}, "q"));
    CHECK_TRUE(cookie_is((const char *[]){"Cookie", "refresh_token=", NULL}, NULL));
    CHECK_TRUE(
        cookie_is((const char *[]){"Cookie", "xrefresh_token=1; refresh_token_old=2", NULL}, NULL));
    CHECK_TRUE(cookie_is((const char *[]){"X-Cookie", "refresh_token=1", NULL}, NULL));
    CHECK_TRUE(cookie_is((const char *[]){NULL}, NULL));
    /* an empty first one does not hide a later real one */
    CHECK_TRUE(cookie_is((const char *[]){"Cookie", "refresh_token=; refresh_token=z", NULL}, "z"));
}

static int bearer_rc(const char *value, str_t *tok)
{
    http_req_t req;
    http_header_t hs[2];
    const char *kv[] = {"Authorization", value, NULL};
    make_req(&req, hs, value ? kv : (const char *[]){NULL});
    return api__bearer(&req, tok);
}

TEST(api_web_bearer_parsing)
{
    str_t t = STR_NULL;
    ASSERT_EQ_INT(bearer_rc("Bearer abc", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "abc"));
    ASSERT_EQ_INT(bearer_rc("  Bearer \t abc  ", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "abc"));
    CHECK_EQ_INT(bearer_rc(NULL, &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("bearer abc", &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("Basic abc", &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("", &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("Bearer", &t), ERR_BAD_AUTH_HEADER);
    CHECK_EQ_INT(bearer_rc("Bearer a b", &t), ERR_BAD_AUTH_HEADER);
    /* the 8-bytes-at-a-time fast path agrees with the split: whitespace in any position of
       a long token, and bytes >= 0x80 or just above ' ' that are not whitespace */
    const char *ws = " \t\r\n\v\f";
    for (size_t pos = 0; pos < 19; pos++) {
        for (const char *w = ws; *w; w++) {
            char v[64];
            snprintf(v, sizeof v, "Bearer %.*s%cabcdefghijklmnopq", (int)pos, "0123456789abcdefghi",
                     *w);
            CHECK_EQ_INT(bearer_rc(v, &t), pos == 0 ? 0 : ERR_BAD_AUTH_HEADER);
        }
    }
    ASSERT_EQ_INT(bearer_rc("Bearer eyJ.\x80\xff!~-_.0123456789", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "eyJ.\x80\xff!~-_.0123456789"));
    ASSERT_EQ_INT(bearer_rc("Bearer abcdefgh ", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "abcdefgh"));
}

TEST(api_web_origin_checks)
{
    char *origins[] = {"https://app.example.com/", "http://localhost:3000"};
    api_web_options_t o;
    memset(&o, 0, sizeof o);
    o.cors_origins = origins;
    o.cors_origin_count = 2;
    api_web_configure(&o);
    CHECK_TRUE(api__origin_listed(STR_LIT("https://app.example.com")));
    CHECK_TRUE(api__origin_listed(STR_LIT("HTTPS://APP.EXAMPLE.COM")));
    CHECK_TRUE(api__origin_listed(STR_LIT("http://localhost:3000")));
    CHECK_TRUE(!api__origin_listed(STR_LIT("https://app.example.com.evil.net")));
    CHECK_TRUE(!api__origin_listed(STR_LIT("http://app.example.com")));
    CHECK_TRUE(!api__origin_listed(STR_LIT("http://localhost:3001")));
    CHECK_TRUE(!api__origin_listed(STR_LIT("null")));
    CHECK_TRUE(!api__origin_listed(STR_LIT("")));

    http_req_t req;
    http_header_t hs[2];
    make_req(&req, hs, (const char *[]){"Host", "127.0.0.1:8000", NULL});
    CHECK_TRUE(api__origin_is_self(&req, STR_LIT("http://127.0.0.1:8000")));
    CHECK_TRUE(api__origin_is_self(&req, STR_LIT("https://127.0.0.1:8000")));
    CHECK_TRUE(!api__origin_is_self(&req, STR_LIT("http://127.0.0.1:8001")));
    CHECK_TRUE(!api__origin_is_self(&req, STR_LIT("http://127.0.0.1")));
    CHECK_TRUE(!api__origin_is_self(&req, STR_LIT("127.0.0.1:8000")));
    CHECK_TRUE(!api__origin_is_self(&req, STR_LIT("null")));
    make_req(&req, hs, (const char *[]){NULL});
    CHECK_TRUE(!api__origin_is_self(&req, STR_LIT("http://127.0.0.1:8000")));
}

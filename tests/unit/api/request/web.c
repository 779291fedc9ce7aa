/*
 * Unit tests of src/api/request/web.c: the Cookie parsing and the origin checks the browser
 * flow's CSRF and CORS decisions rest on.
 */
#include <string.h>

#include "api/request/req.h"
#include "common/err.h"
#include "reqtest.h"
#include "test.h"

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

TEST(api_request_cookie_parsing)
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

TEST(api_request_origin_checks)
{
    char *origins[] = {"https://app.example.com/", "http://localhost:3000"};
    api_options_t o;
    memset(&o, 0, sizeof o);
    o.cors_origins = origins;
    o.cors_origin_count = 2;
    api_ctx_t *ctx = reqtest_ctx(&o);
    CHECK_TRUE(api__origin_listed(ctx, STR_LIT("https://app.example.com")));
    CHECK_TRUE(api__origin_listed(ctx, STR_LIT("HTTPS://APP.EXAMPLE.COM")));
    CHECK_TRUE(api__origin_listed(ctx, STR_LIT("http://localhost:3000")));
    CHECK_TRUE(!api__origin_listed(ctx, STR_LIT("https://app.example.com.evil.net")));
    CHECK_TRUE(!api__origin_listed(ctx, STR_LIT("http://app.example.com")));
    CHECK_TRUE(!api__origin_listed(ctx, STR_LIT("http://localhost:3001")));
    CHECK_TRUE(!api__origin_listed(ctx, STR_LIT("null")));
    CHECK_TRUE(!api__origin_listed(ctx, STR_LIT("")));
    api_ctx_free(ctx);

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

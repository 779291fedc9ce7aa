/*
 * oidc.c - unit tests for the pure parts of the relying party (src/auth/oidc.c): which
 * `next` paths a sign-in may return to (no open redirect), the error codes, and a relying
 * party without providers.
 */
#include <string.h>

#include "auth/oidc.h"
#include "common/err.h"
#include "test.h"

TEST(auth_oidc_next_only_paths_of_this_site)
{
    static const char *const ok[] = {"/", "/app/", "/app/dashboard.html?tab=security#x", "/a/b/c"};
    static const char *const bad[] = {"",
                                      "//evil.example",
                                      "/\\evil.example",
                                      "https://evil.example/",
                                      "http:/x",
                                      "evil",
                                      "/app/\\x",
                                      "/app/ x",
                                      "/\t/evil",
                                      "/app/\"x",
                                      "/app/<script>",
                                      "/\x7f",
                                      "/caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK_TRUE(auth_oidc_next_ok(str_cstr(ok[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_TRUE(!auth_oidc_next_ok(str_cstr(bad[i])));
    char longest[514];
    memset(longest, 'a', sizeof longest - 1);
    longest[0] = '/';
    longest[513] = '\0';
    CHECK_TRUE(!auth_oidc_next_ok(str_cstr(longest)));
    longest[512] = '\0';
    CHECK_TRUE(auth_oidc_next_ok(str_cstr(longest)));
}

TEST(auth_oidc_error_codes)
{
    CHECK_STR_EQ(auth_oidc_error_code(AUTH_OIDC_INVALID_STATE), "invalid_state");
    CHECK_STR_EQ(auth_oidc_error_code(AUTH_OIDC_INVALID_ID_TOKEN), "invalid_id_token");
    CHECK_STR_EQ(auth_oidc_error_code(AUTH_OIDC_UNAVAILABLE), "provider_unavailable");
    CHECK_STR_EQ(auth_oidc_error_code(AUTH_OIDC_ACCOUNT_INACTIVE), "account_inactive");
}

TEST(auth_oidc_without_providers)
{
    auth_oidc_options_t o = {0};
    auth_oidc_t *rp = NULL;
    ASSERT_EQ_INT(auth_oidc_new(NULL, &o, &rp), 0);
    CHECK_EQ_INT(auth_oidc_count(rp), 0);
    CHECK_TRUE(!auth_oidc_has(rp, STR_LIT("google")));
    CHECK_TRUE(auth_oidc_name(rp, 0) == NULL);
    auth_oidc_start_t s;
    CHECK_EQ_INT(auth_oidc_start(rp, STR_LIT("google"), "http://x/cb", "/app/", 1, &s),
                 ERR_NOT_FOUND);
    auth_oidc_free(rp);
}

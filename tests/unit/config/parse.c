/*
 * parse.c - unit tests for the configuration value parsers (src/config/parse.c): booleans,
 * durations, sizes, rates, CIDRs and CIDR membership, string lists.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "common/err.h"
#include "config/config.h"
#include "test.h"

#define S(lit) str_cstr(lit)

TEST(cfg_parse_bool_accepts_all_spellings)
{
    static const char *const yes[] = {"true", "TRUE", "1", "yes", "Yes", "on", " on "};
    static const char *const no[] = {"false", "False", "0", "no", "NO", "off", "\toff"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        bool b = false;
        CHECK_EQ_INT(cfg_parse_bool(S(yes[i]), &b), 0);
        CHECK_TRUE(b);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        bool b = true;
        CHECK_EQ_INT(cfg_parse_bool(S(no[i]), &b), 0);
        CHECK_TRUE(!b);
    }
}

TEST(cfg_parse_bool_rejects_junk)
{
    static const char *const bad[] = {"", "2", "tru", "yess", "enabled", "o n", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool b;
        CHECK_EQ_INT(cfg_parse_bool(S(bad[i]), &b), ERR_CONFIG);
    }
}

TEST(cfg_parse_duration_units)
{
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {
        {"900", 900000},  {"0", 0},         {"15m", 900000},      {"7d", 604800000},
        {"10s", 10000},   {"500ms", 500},   {"2h", 7200000},      {"1w", 604800000},
        {" 5m ", 300000}, {"5 m", 300000},  {"3days", 259200000}, {"1hour", 3600000},
        {"10sec", 10000}, {"2MIN", 120000}, {"007s", 7000},       {"1D", 86400000},
        {"0ms", 0},       {"90s", 90000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        if (!CHECK_EQ_INT(cfg_parse_duration_ms(S(ok[i].in), &ms), 0))
            fprintf(stderr, "    input \"%s\"\n", ok[i].in);
        CHECK_EQ_INT(ms, ok[i].ms);
    }
}

TEST(cfg_parse_duration_rejects_junk_and_overflow)
{
    static const char *const bad[] = {"",
                                      "15x",
                                      "m",
                                      "-5s",
                                      "1.5s",
                                      "5 minutes ago",
                                      "1e3",
                                      "s5",
                                      "+5",
                                      "99999999999999999999",
                                      "9223372036854775807d",
                                      "10 s s",
                                      "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        if (!CHECK_EQ_INT(cfg_parse_duration_ms(S(bad[i]), &ms), ERR_CONFIG))
            fprintf(stderr, "    input \"%s\"\n", bad[i]);
    }
}

TEST(cfg_parse_size_units)
{
    static const struct {
        const char *in;
        uint64_t v;
    } ok[] = {{"1048576", 1048576}, {"1m", 1048576},  {"16k", 16384},           {"16K", 16384},
              {"16kb", 16384},      {"16KiB", 16384}, {"2g", 2147483648ULL},    {"0", 0},
              {"512b", 512},        {" 8 k ", 8192},  {"1t", 1099511627776ULL}, {"3MB", 3145728}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 1;
        if (!CHECK_EQ_INT(cfg_parse_size(S(ok[i].in), &v), 0))
            fprintf(stderr, "    input \"%s\"\n", ok[i].in);
        CHECK_EQ_INT(v, ok[i].v);
    }
    static const char *const bad[] = {
        "", "k", "1x", "1kk", "-1", "1.5m", "99999999999999999g", "18446744073709551616", "1 mega"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        if (!CHECK_EQ_INT(cfg_parse_size(S(bad[i]), &v), ERR_CONFIG))
            fprintf(stderr, "    input \"%s\"\n", bad[i]);
    }
}

TEST(cfg_parse_rate_forms)
{
    static const struct {
        const char *in;
        uint32_t count, period_s;
    } ok[] = {{"5/minute", 5, 60},  {"100/hour", 100, 3600},
              {"10/second", 10, 1}, {"1000/day", 1000, 86400},
              {"5/m", 5, 60},       {"3 / h", 3, 3600},
              {"5/15m", 5, 900},    {"0", 0, 0},
              {"0/minute", 0, 0},   {"7/MINUTE", 7, 60},
              {"2/30s", 2, 30},     {"1/2d", 1, 172800}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cfg_rate_t r = {9, 9};
        if (!CHECK_EQ_INT(cfg_parse_rate(S(ok[i].in), &r), 0))
            fprintf(stderr, "    input \"%s\"\n", ok[i].in);
        CHECK_EQ_INT(r.count, ok[i].count);
        CHECK_EQ_INT(r.period_s, ok[i].period_s);
    }
    static const char *const bad[] = {
        "",     "5",       "5/",         "/minute",           "5/fortnight",  "5/500ms",
        "5/0s", "-1/hour", "5/minute/2", "4294967296/second", "5 per minute", "5/m1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg_rate_t r;
        if (!CHECK_EQ_INT(cfg_parse_rate(S(bad[i]), &r), ERR_CONFIG))
            fprintf(stderr, "    input \"%s\"\n", bad[i]);
    }
}

TEST(cfg_parse_strlist_trims_and_drops_empty)
{
    cfg_strlist_t l;
    ASSERT_EQ_INT(cfg_parse_strlist(S(" http://a:1 ,http://b ,, ,c"), &l), 0);
    ASSERT_EQ_INT(l.count, 3);
    CHECK_STR_EQ(l.items[0], "http://a:1");
    CHECK_STR_EQ(l.items[1], "http://b");
    CHECK_STR_EQ(l.items[2], "c");
    cfg_strlist_dispose(&l);
    ASSERT_EQ_INT(cfg_parse_strlist(S(""), &l), 0);
    CHECK_EQ_INT(l.count, 0);
    cfg_strlist_dispose(&l);
}

TEST(cfg_parse_public_url_accepts_and_normalises)
{
    static const struct {
        const char *in;
        const char *norm;
        bool https;
    } ok[] = {
        {"https://auth.example.com", "https://auth.example.com", true},
        {"https://auth.example.com/", "https://auth.example.com", true},
        {"http://auth.example.com:8080//", "http://auth.example.com:8080", false},
        {"https://example.com/auth/", "https://example.com/auth", true},
        {"https://[::1]:8443", "https://[::1]:8443", true},
        {"http://127.0.0.1", "http://127.0.0.1", false},
        {"https://Auth-1.Example.COM/a_b/c~d.e", "https://Auth-1.Example.COM/a_b/c~d.e", true},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t len = 0;
        bool https = !ok[i].https;
        char why[160] = "";
        if (!CHECK_EQ_INT(cfg_parse_public_url(S(ok[i].in), &len, &https, why, sizeof why), 0))
            fprintf(stderr, "    input \"%s\": %s\n", ok[i].in, why);
        CHECK_EQ_INT(len, strlen(ok[i].norm));
        CHECK_MEM_EQ(ok[i].in, ok[i].norm, strlen(ok[i].norm));
        CHECK_EQ_INT(https, ok[i].https);
    }
}

#define URL_EXPECTED "expected an absolute http:// or https:// URL, e.g. https://auth.example.com"

TEST(cfg_parse_public_url_rejects_with_reasons)
{
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        {"", URL_EXPECTED},
        {"auth.example.com", URL_EXPECTED},
        {"HTTPS://auth.example.com", URL_EXPECTED},
        {" https://auth.example.com", URL_EXPECTED},
        {"ftp://auth.example.com", URL_EXPECTED},
        {"https://", "the URL has no host"},
        {"https:///path", "the URL has no host"},
        {"https://auth.example.com?x=1", "a public URL has no query or fragment"},
        {"https://auth.example.com/a?x=1", "a public URL has no query or fragment"},
        {"https://auth.example.com/#f", "a public URL has no query or fragment"},
        {"https://user:pw@auth.example.com", "a public URL has no user name or password"},
        {"https://auth.example.com:0", "the port must be a number 1..65535"},
        {"https://auth.example.com:65536", "the port must be a number 1..65535"},
        {"https://auth.example.com:", "the port must be a number 1..65535"},
        {"https://auth.example.com:80x", "bad character in the host"},
        {"https://auth_example.com", "bad character in the host"},
        {"https://[::1", "bad IPv6 literal in the host"},
        {"https://[zz]", "bad IPv6 literal in the host"},
        {"https://a.example/x y", "character ' ' not allowed in a path"},
        {"https://a.example/a/../b", "empty, '.' or '..' path segment"},
        {"https://a.example/a//b", "empty, '.' or '..' path segment"},
        {"https://a.example/%41", "character '%' not allowed in a path"},
        {"https://a.example ", "bad character in the host"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        bool https;
        char why[160] = "";
        if (!CHECK_EQ_INT(cfg_parse_public_url(S(bad[i].in), &len, &https, why, sizeof why),
                          ERR_CONFIG))
            fprintf(stderr, "    input \"%s\"\n", bad[i].in);
        CHECK_STR_EQ(why, bad[i].why);
    }
}

TEST(cfg_parse_route_alias_forms)
{
    cfg_route_alias_t a;
    char why[160] = "";
    ASSERT_EQ_INT(
        cfg_parse_route_alias(S(" /login/simpleJWT/ = /api/token/ "), &a, why, sizeof why), 0);
    CHECK_TRUE(str_eq(a.alias, STR_LIT("/login/simpleJWT/")));
    CHECK_TRUE(str_eq(a.target, STR_LIT("/api/token/")));
    CHECK_TRUE(!a.prefix);
    ASSERT_EQ_INT(
        cfg_parse_route_alias(S("/login/simpleJWT=/api/token/verify/"), &a, why, sizeof why), 0);
    CHECK_TRUE(str_eq(a.alias, STR_LIT("/login/simpleJWT")));
    ASSERT_EQ_INT(cfg_parse_route_alias(S("/auth/jwt/*=/api/token/*"), &a, why, sizeof why), 0);
    CHECK_TRUE(a.prefix);
    CHECK_TRUE(str_eq(a.alias, STR_LIT("/auth/jwt/")));
    CHECK_TRUE(str_eq(a.target, STR_LIT("/api/token/")));
    ASSERT_EQ_INT(cfg_parse_route_alias(S("/*=/api/*"), &a, why, sizeof why), 0);
    CHECK_TRUE(a.prefix && str_eq(a.alias, STR_LIT("/")));
}

TEST(cfg_parse_route_alias_rejects_with_reasons)
{
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        {"/login/", "expected ALIAS=TARGET, e.g. /login/simpleJWT/=/api/token/"},
        {"", "expected ALIAS=TARGET, e.g. /login/simpleJWT/=/api/token/"},
        {"login/=/api/token/", "the alias must be an absolute path starting with '/'"},
        {"/login/=", "the target must be an absolute path starting with '/'"},
        {"/login/=api/token/", "the target must be an absolute path starting with '/'"},
        {"/log in/=/api/token/", "alias: character ' ' not allowed in a path"},
        {"/login/=/api/token/?x", "target: character '?' not allowed in a path"},
        {"/login/{id}=/api/token/", "alias: character '{' not allowed in a path"},
        {"/login/=/api/token/=x", "target: character '=' not allowed in a path"},
        {"/a/../b=/api/token/", "alias: empty, '.' or '..' path segment"},
        {"/a//b=/api/token/", "alias: empty, '.' or '..' path segment"},
        {"/a/./=/api/token/", "alias: empty, '.' or '..' path segment"},
        {"/api/token/=/api/token/", "the alias and the target are the same path"},
        {"/a/*=/api/token/", "a prefix alias ends in /* on both sides, e.g. "
                             "/login/simpleJWT/*=/api/token/*"},
        {"/a*=/b*", "alias: character '*' not allowed in a path"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg_route_alias_t a;
        char why[200] = "";
        if (!CHECK_EQ_INT(cfg_parse_route_alias(S(bad[i].in), &a, why, sizeof why), ERR_CONFIG))
            fprintf(stderr, "    input \"%s\"\n", bad[i].in);
        CHECK_STR_EQ(why, bad[i].why);
    }
    char long_path[300];
    memset(long_path, 'a', sizeof long_path);
    long_path[0] = '/';
    memcpy(long_path + 280, "=/api/token/", 13);
    cfg_route_alias_t a;
    char why[200] = "";
    CHECK_EQ_INT(cfg_parse_route_alias(S(long_path), &a, why, sizeof why), ERR_CONFIG);
    CHECK_STR_EQ(why, "the alias is longer than 256 bytes");
}

/*
 * apply.c - unit tests for filling struct cfg (src/config/apply.c): the config-file syntax,
 * precedence (env over file over default), error messages naming file, line, variable and
 * value (never a secret), cfg_load with a real file and environment, and cfg_set.
 */
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "config/cfgtest.h"
#include "config/config.h"
#include "test.h"

TEST(cfg_file_syntax_comments_quotes_prefixes)
{
    struct cfg c;
    char err[256] = "";
    const char *text = "\xef\xbb\xbf# a comment\n"
                       "\n"
                       "   # indented comment\n"
                       "LISTEN = 0.0.0.0:9000\r\n"
                       "JWTD_WORKERS=4\n"
                       "export LEEWAY=30s\n"
                       "issuer=\"https://issuer.example/ # not a comment\"\n"
                       "JWTD_AUDIENCE='  spaced  '\n"
                       "data_dir=/srv/jwtd\n"
                       "JWTD_ACCESS_TOKEN_LIFETIME=5m\n"
                       "JWTD_ACCESS_TOKEN_LIFETIME=10m\n" /* last wins */
                       "TRUSTED_PROXIES=10.0.0.0/8, ::1/128, 127.0.0.1\n"
                       "JWTD_SECRET_KEY=\"0123456789abcdef0123456789abcdef\"\n"
                       "JWTD_RATE_LIMIT_LOGIN=10/second";
    ASSERT_EQ_INT(cfgtest_load_text(&c, text, err, sizeof err), 0);
    CHECK_STR_EQ(c.listen, "0.0.0.0:9000");
    CHECK_EQ_INT(c.workers, 4);
    CHECK_EQ_INT(c.leeway_s, 30);
    CHECK_STR_EQ(c.issuer, "https://issuer.example/ # not a comment");
    CHECK_STR_EQ(c.audience, "  spaced  ");
    CHECK_STR_EQ(c.data_dir, "/srv/jwtd");
    CHECK_EQ_INT(c.access_token_lifetime_s, 600);
    CHECK_EQ_INT(c.trusted_proxies.count, 3);
    CHECK_STR_EQ(c.secret_key, "0123456789abcdef0123456789abcdef");
    CHECK_EQ_INT(c.rate_limit_login.count, 10);
    CHECK_EQ_INT(c.rate_limit_login.period_s, 1);
    CHECK_EQ_INT(cfg_source_of(&c, "LISTEN"), CFG_SRC_FILE);
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_MAX_HEADERS"), CFG_SRC_DEFAULT);
    cfg_dispose(&c);
}

TEST(cfg_file_errors_name_line_variable_and_value)
{
    cfgtest_expect_error("A=1\nJWTD_ACCESS_TOKEN_LIFETIME=15x\n",
                         "test.conf:2: JWTD_ACCESS_TOKEN_LIFETIME: invalid duration \"15x\" "
                         "(expected e.g. 900, 15m, 7d)");
    cfgtest_expect_error("# c\n\njust some words\n", "test.conf:3: expected KEY=VALUE");
    cfgtest_expect_error("BAD KEY=1\n",
                         "test.conf:1: invalid key \"BAD KEY\" (expected a name such as "
                         "JWTD_LISTEN)");
    cfgtest_expect_error("=1\n",
                         "test.conf:1: invalid key \"\" (expected a name such as JWTD_LISTEN)");
    cfgtest_expect_error("ISSUER=\"abc\n", "test.conf:1: JWTD_ISSUER: unterminated quote");
    cfgtest_expect_error("ISSUER='abc\"\n", "test.conf:1: JWTD_ISSUER: unterminated quote");
    cfgtest_expect_error("ISSUER=\"\n", "test.conf:1: JWTD_ISSUER: unterminated quote");
    cfgtest_expect_error(
        "WORKERS=lots\n",
        "test.conf:1: JWTD_WORKERS: invalid integer \"lots\" (expected a whole number)");
    cfgtest_expect_error("WORKERS=5000\n",
                         "test.conf:1: JWTD_WORKERS: \"5000\" is out of range (0..1024)");
    cfgtest_expect_error("WORKERS=-1\n",
                         "test.conf:1: JWTD_WORKERS: \"-1\" is out of range (0..1024)");
    cfgtest_expect_error("LEEWAY=500ms\n",
                         "test.conf:1: JWTD_LEEWAY: \"500ms\" is not a whole number of seconds "
                         "(sub-second values are not supported here)");
    cfgtest_expect_error("LEEWAY=2h\n", "test.conf:1: JWTD_LEEWAY: \"2h\" is out of range (0..1h)");
    cfgtest_expect_error("HEADER_TIMEOUT=1ms\n",
                         "test.conf:1: JWTD_HEADER_TIMEOUT: \"1ms\" is out of range (10ms..1h)");
    cfgtest_expect_error(
        "ROTATE_REFRESH_TOKENS=maybe\n",
        "test.conf:1: JWTD_ROTATE_REFRESH_TOKENS: invalid boolean \"maybe\" (expected "
        "true/false, 1/0, yes/no, on/off)");
    cfgtest_expect_error("MAX_BODY_BYTES=1q\n",
                         "test.conf:1: JWTD_MAX_BODY_BYTES: invalid size \"1q\" "
                         "(expected e.g. 1048576, 16k, 1m)");
    cfgtest_expect_error(
        "RATE_LIMIT_ANON=5/fortnight\n",
        "test.conf:1: JWTD_RATE_LIMIT_ANON: invalid rate \"5/fortnight\" (expected e.g. "
        "5/minute, 100/hour, 0 = unlimited)");
    cfgtest_expect_error(
        "TRUSTED_PROXIES=10.0.0.0/8,10.0.0.0/33\n",
        "test.conf:1: JWTD_TRUSTED_PROXIES: invalid CIDR \"10.0.0.0/33\" (expected e.g. "
        "10.0.0.0/8, ::1/128, 127.0.0.1)");
    cfgtest_expect_error("ENVIRONMENT=prod\n",
                         "test.conf:1: JWTD_ENVIRONMENT: invalid value \"prod\" (expected one of: "
                         "development, staging, production)");
    cfgtest_expect_error(
        "ALGORITHM=none\n",
        "test.conf:1: JWTD_ALGORITHM: invalid value \"none\" (expected one of: HS256, "
        "HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)");
    cfgtest_expect_error("LISTEN=\n", "test.conf:1: JWTD_LISTEN: must not be empty");
    cfgtest_expect_error(
        "LISTEN=localhost\n",
        "test.conf:1: JWTD_LISTEN: invalid value \"localhost\" (expected host:port, "
        "e.g. 127.0.0.1:8000 or [::1]:8000)");
    cfgtest_expect_error("LISTEN=127.0.0.1:70000\n", "test.conf:1: JWTD_LISTEN: invalid value "
                                                     "\"127.0.0.1:70000\" (port must be a number "
                                                     "0..65535)");
    cfgtest_expect_error(
        "DATABASE_URL=mysql://u:hunter2@db/x\n",
        "test.conf:1: JWTD_DATABASE_URL: invalid value \"mysql://u:<redacted>@db/x\" "
        "(expected sqlite:PATH or postgresql://user:pass@host/db)");
    cfgtest_expect_error(
        "ok=1\nISSUER=a\x01z\n",
        "test.conf:2: JWTD_ISSUER: value \"a\\x01z\" contains a control character");
    {
        static const char nul[] = "A=1\nB=x\0y\n";
        struct cfg c;
        char err[256] = "";
        CHECK_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
        CHECK_EQ_INT(cfg_apply_buffer(&c, "n.conf", nul, sizeof nul - 1, err, sizeof err),
                     ERR_CONFIG);
        CHECK_STR_EQ(err, "n.conf:2: NUL byte in line");
        cfg_dispose(&c);
    }
}

TEST(cfg_secret_values_never_appear_in_errors)
{
    struct cfg c;
    char err[512] = "";
    ASSERT_EQ_INT(cfgtest_load_text(&c, "JWTD_SECRET_KEY=tooshort-hunter2\n", err, sizeof err),
                  ERR_CONFIG);
    CHECK_STR_EQ(err, "test.conf:1: JWTD_SECRET_KEY: value is too short (16 bytes, need at "
                      "least 32)");
    CHECK_TRUE(strstr(err, "hunter2") == NULL);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "JWTD_SECRET_KEY=hunter2\x02hunter2hunter2hunter2hunter2\n",
                                    err, sizeof err),
                  ERR_CONFIG);
    CHECK_TRUE(strstr(err, "hunter2") == NULL);
    CHECK_TRUE(strstr(err, "JWTD_SECRET_KEY") != NULL);
    cfg_dispose(&c);
}

TEST(cfg_env_wins_over_file_over_default)
{
    struct cfg c;
    char err[256] = "";
    char *envp[] = {"PATH=/bin",
                    "JWTD_WORKERS=7",
                    "JWTD_SRC_ROOT=/ignored",
                    "jwtd_leeway=99", /* not JWTD_-prefixed: not ours */
                    "JWTD_ISSUER=env-issuer",
                    NULL};
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    const char *file = "WORKERS=3\nLEEWAY=5\nISSUER=file-issuer\nMAX_HEADERS=50\n";
    ASSERT_EQ_INT(cfg_apply_buffer(&c, "f", file, strlen(file), err, sizeof err), 0);
    ASSERT_EQ_INT(cfg_apply_env(&c, envp, err, sizeof err), 0);
    ASSERT_EQ_INT(cfg_finish(&c, err, sizeof err), 0);
    CHECK_EQ_INT(c.workers, 7);  /* env over file */
    CHECK_EQ_INT(c.leeway_s, 5); /* file over default */
    CHECK_STR_EQ(c.issuer, "env-issuer");
    CHECK_EQ_INT(c.max_headers, 50);
    CHECK_EQ_INT(c.max_url_bytes, 8192); /* default */
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_WORKERS"), CFG_SRC_ENV);
    CHECK_EQ_INT(cfg_source_of(&c, "LEEWAY"), CFG_SRC_FILE);
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_MAX_URL_BYTES"), CFG_SRC_DEFAULT);
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_NOPE"), -1);
    cfg_dispose(&c);
}

TEST(cfg_load_reads_file_then_real_environment)
{
    char path[] = "/tmp/jwtd-cfg-test-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    const char *text = "JWTD_JSON_MAX_DEPTH=8\nJWTD_POOL_QUEUE_MAX=77\n";
    CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    const char *saved = getenv("JWTD_JSON_MAX_DEPTH");
    char *saved_copy = saved ? strdup(saved) : NULL;
    setenv("JWTD_JSON_MAX_DEPTH", "9", 1);
    struct cfg c;
    char err[256] = "";
    int rc = cfg_load(&c, path, err, sizeof err);
    if (saved_copy)
        setenv("JWTD_JSON_MAX_DEPTH", saved_copy, 1);
    else
        unsetenv("JWTD_JSON_MAX_DEPTH");
    free(saved_copy);
    unlink(path);
    ASSERT_EQ_INT(rc, 0);
    CHECK_EQ_INT(c.json_max_depth, 9);
    CHECK_EQ_INT(c.pool_queue_max, 77);
    cfg_dispose(&c);

    /* a missing file is an error naming it */
    rc = cfg_load(&c, "/nonexistent/jwtd.conf", err, sizeof err);
    CHECK_EQ_INT(rc, ERR_CONFIG);
    CHECK_STR_EQ(err, "cannot read config file /nonexistent/jwtd.conf: No such file or directory");
    cfg_dispose(&c); /* safe after a failed load */
}

TEST(cfg_bad_env_value_names_variable)
{
    struct cfg c;
    char err[256] = "";
    char *envp[] = {"JWTD_MAX_BODY_BYTES=lots", NULL};
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    CHECK_EQ_INT(cfg_apply_env(&c, envp, err, sizeof err), ERR_CONFIG);
    CHECK_STR_EQ(err, "JWTD_MAX_BODY_BYTES: invalid size \"lots\" (expected e.g. 1048576, 16k, "
                      "1m)");
    CHECK_EQ_INT(c.max_body_bytes, 1048576); /* failed set leaves the old value */
    cfg_dispose(&c);
}

TEST(cfg_set_by_name)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    CHECK_EQ_INT(cfg_set(&c, "listen", STR_LIT("127.0.0.1:0"), CFG_SRC_CLI, err, sizeof err), 0);
    CHECK_STR_EQ(c.listen, "127.0.0.1:0");
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_LISTEN"), CFG_SRC_CLI);
    CHECK_EQ_INT(cfg_set(&c, "JWTD_WROKERS", STR_LIT("2"), CFG_SRC_CLI, err, sizeof err),
                 ERR_NOT_FOUND);
    CHECK_STR_EQ(err, "unknown configuration variable \"JWTD_WROKERS\" (did you mean "
                      "JWTD_WORKERS?)");
    cfg_dispose(&c);
}

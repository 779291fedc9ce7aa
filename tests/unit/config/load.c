/*
 * load.c - unit tests for configuration loading (src/config/load.c, table.c): defaults,
 * the config-file syntax, precedence (env over file over default), error messages, secret
 * redaction, unknown-variable warnings, dump round trips, and that docs/config.md is what
 * `jwtd config --markdown` prints.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/config.h"
#include "config/table.h"
#include "runtime/log.h"
#include "test.h"

/* Reads everything written to fd (a tmpfile) since it was created; caller frees. */
static char *slurp_fd(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)end + 1);
    if (pread(fd, s, (size_t)end, 0) != end)
        s[0] = '\0';
    return s;
}

static int tmp_fd(void)
{
    FILE *f = tmpfile();
    int fd = dup(fileno(f));
    fclose(f);
    return fd;
}

/* Applies a config-file buffer on top of the defaults; returns cfg_apply_buffer's result. */
static int load_text(struct cfg *cfg, const char *text, char *err, size_t cap)
{
    int rc = cfg_init_defaults(cfg, err, cap);
    if (rc != 0)
        return rc;
    rc = cfg_apply_buffer(cfg, "test.conf", text, strlen(text), err, cap);
    if (rc == 0)
        rc = cfg_finish(cfg, err, cap);
    return rc;
}

/* Runs fn with log lines (warn and up) captured; returns the captured text (caller frees). */
static int capture_fd = -1;
static void capture_logs_begin(void)
{
    capture_fd = tmp_fd();
    log_set_fd(capture_fd);
    log_set_level(LOG_WARN);
}
static char *capture_logs_end(void)
{
    char *s = slurp_fd(capture_fd);
    log_set_fd(2);
    log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_OFF);
    close(capture_fd);
    capture_fd = -1;
    return s;
}

TEST(cfg_defaults_match_api_md)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    ASSERT_EQ_INT(cfg_finish(&c, err, sizeof err), 0);
    CHECK_STR_EQ(c.listen, "127.0.0.1:8000");
    CHECK_EQ_INT(c.workers, 0);
    CHECK_EQ_INT(c.environment, CFG_ENV_DEVELOPMENT);
    CHECK_STR_EQ(c.database_url, "sqlite:var/jwtd.db");
    CHECK_TRUE(c.redis_url == NULL);
    CHECK_STR_EQ(c.algorithm, "HS256");
    CHECK_TRUE(c.secret_key == NULL);
    CHECK_EQ_INT(c.access_token_lifetime_s, 900);
    CHECK_EQ_INT(c.refresh_token_lifetime_s, 7 * 86400);
    CHECK_TRUE(c.rotate_refresh_tokens);
    CHECK_EQ_INT(c.refresh_reuse_grace_s, 10);
    CHECK_EQ_INT(c.leeway_s, 0);
    CHECK_TRUE(c.issuer == NULL && c.audience == NULL);
    CHECK_EQ_INT(c.auto_refresh_window_s, 300);
    ASSERT_EQ_INT(c.cors_allowed_origins.count, 2);
    CHECK_STR_EQ(c.cors_allowed_origins.items[0], "http://localhost:3000");
    CHECK_STR_EQ(c.cors_allowed_origins.items[1], "http://127.0.0.1:3000");
    CHECK_EQ_INT(c.rate_limit_login.count, 5);
    CHECK_EQ_INT(c.rate_limit_login.period_s, 60);
    CHECK_EQ_INT(c.rate_limit_anon.count, 100);
    CHECK_EQ_INT(c.rate_limit_anon.period_s, 3600);
    CHECK_EQ_INT(c.rate_limit_user.count, 1000);
    CHECK_EQ_INT(c.rate_limit_user.period_s, 3600);
    CHECK_EQ_INT(c.trusted_proxies.count, 0);
    CHECK_EQ_INT(c.max_body_bytes, 1048576);
    CHECK_TRUE(c.log_dir == NULL);
    CHECK_STR_EQ(c.data_dir, "var");
    CHECK_STR_EQ(c.log_level, "info");
    CHECK_EQ_INT(c.argon2_memory_kib, 19456);
    CHECK_EQ_INT(c.argon2_iterations, 2);
    CHECK_EQ_INT(c.argon2_parallelism, 1);
    CHECK_EQ_INT(c.max_header_bytes, 16384);
    CHECK_EQ_INT(c.max_headers, 100);
    CHECK_EQ_INT(c.max_url_bytes, 8192);
    CHECK_EQ_INT(c.json_max_depth, 32);
    CHECK_EQ_INT(c.header_timeout_ms, 10000);
    CHECK_EQ_INT(c.body_timeout_ms, 30000);
    CHECK_EQ_INT(c.idle_timeout_ms, 60000);
    CHECK_EQ_INT(c.shutdown_timeout_ms, 10000);
    CHECK_EQ_INT(c.max_connections, 65536);
    CHECK_EQ_INT(c.pool_threads, 0);
    CHECK_EQ_INT(c.pool_queue_max, 1024);
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_LISTEN"), CFG_SRC_DEFAULT);
    cfg_dispose(&c);
}

TEST(cfg_cors_default_depends_on_environment)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(load_text(&c, "ENVIRONMENT=production\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.environment, CFG_ENV_PRODUCTION);
    CHECK_EQ_INT(c.cors_allowed_origins.count, 0);
    cfg_dispose(&c);
    /* explicitly empty in development stays empty */
    ASSERT_EQ_INT(load_text(&c, "CORS_ALLOWED_ORIGINS=\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.cors_allowed_origins.count, 0);
    cfg_dispose(&c);
    ASSERT_EQ_INT(load_text(&c,
                            "JWTD_CORS_ALLOWED_ORIGINS=https://app.example\n"
                            "JWTD_ENVIRONMENT=staging\n",
                            err, sizeof err),
                  0);
    ASSERT_EQ_INT(c.cors_allowed_origins.count, 1);
    CHECK_STR_EQ(c.cors_allowed_origins.items[0], "https://app.example");
    cfg_dispose(&c);
}

TEST(cfg_every_row_default_parses_and_is_documented)
{
    ASSERT_TRUE(cfg_rows_count > 40);
    for (size_t i = 0; i < cfg_rows_count; i++) {
        const struct cfg_row *r = &cfg_rows[i];
        CHECK_TRUE(strncmp(r->name, "JWTD_", 5) == 0);
        CHECK_TRUE(r->help && r->help[0]);
        CHECK_EQ_INT(cfg__row_find(str_cstr(r->name)), (long long)i);
        for (size_t j = 0; j < i; j++)
            CHECK_TRUE(strcmp(r->name, cfg_rows[j].name) != 0);
    }
}

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
    ASSERT_EQ_INT(load_text(&c, text, err, sizeof err), 0);
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

/* Loads text, expects failure, and checks that err equals want exactly. */
static void expect_error(const char *text, const char *want)
{
    struct cfg c;
    char err[512] = "";
    int rc = load_text(&c, text, err, sizeof err);
    if (!CHECK_EQ_INT(rc, ERR_CONFIG) || !CHECK_STR_EQ(err, want))
        fprintf(stderr, "    config text: %s\n", text);
    cfg_dispose(&c);
}

TEST(cfg_file_errors_name_line_variable_and_value)
{
    expect_error("A=1\nJWTD_ACCESS_TOKEN_LIFETIME=15x\n",
                 "test.conf:2: JWTD_ACCESS_TOKEN_LIFETIME: invalid duration \"15x\" "
                 "(expected e.g. 900, 15m, 7d)");
    expect_error("# c\n\njust some words\n", "test.conf:3: expected KEY=VALUE");
    expect_error("BAD KEY=1\n", "test.conf:1: invalid key \"BAD KEY\" (expected a name such as "
                                "JWTD_LISTEN)");
    expect_error("=1\n", "test.conf:1: invalid key \"\" (expected a name such as JWTD_LISTEN)");
    expect_error("ISSUER=\"abc\n", "test.conf:1: JWTD_ISSUER: unterminated quote");
    expect_error("ISSUER='abc\"\n", "test.conf:1: JWTD_ISSUER: unterminated quote");
    expect_error("ISSUER=\"\n", "test.conf:1: JWTD_ISSUER: unterminated quote");
    expect_error("WORKERS=lots\n",
                 "test.conf:1: JWTD_WORKERS: invalid integer \"lots\" (expected a whole number)");
    expect_error("WORKERS=5000\n", "test.conf:1: JWTD_WORKERS: \"5000\" is out of range (0..1024)");
    expect_error("WORKERS=-1\n", "test.conf:1: JWTD_WORKERS: \"-1\" is out of range (0..1024)");
    expect_error("LEEWAY=500ms\n",
                 "test.conf:1: JWTD_LEEWAY: \"500ms\" is not a whole number of seconds "
                 "(sub-second values are not supported here)");
    expect_error("LEEWAY=2h\n", "test.conf:1: JWTD_LEEWAY: \"2h\" is out of range (0..1h)");
    expect_error("HEADER_TIMEOUT=1ms\n",
                 "test.conf:1: JWTD_HEADER_TIMEOUT: \"1ms\" is out of range (10ms..1h)");
    expect_error("ROTATE_REFRESH_TOKENS=maybe\n",
                 "test.conf:1: JWTD_ROTATE_REFRESH_TOKENS: invalid boolean \"maybe\" (expected "
                 "true/false, 1/0, yes/no, on/off)");
    expect_error("MAX_BODY_BYTES=1q\n", "test.conf:1: JWTD_MAX_BODY_BYTES: invalid size \"1q\" "
                                        "(expected e.g. 1048576, 16k, 1m)");
    expect_error("RATE_LIMIT_ANON=5/fortnight\n",
                 "test.conf:1: JWTD_RATE_LIMIT_ANON: invalid rate \"5/fortnight\" (expected e.g. "
                 "5/minute, 100/hour, 0 = unlimited)");
    expect_error("TRUSTED_PROXIES=10.0.0.0/8,10.0.0.0/33\n",
                 "test.conf:1: JWTD_TRUSTED_PROXIES: invalid CIDR \"10.0.0.0/33\" (expected e.g. "
                 "10.0.0.0/8, ::1/128, 127.0.0.1)");
    expect_error("ENVIRONMENT=prod\n",
                 "test.conf:1: JWTD_ENVIRONMENT: invalid value \"prod\" (expected one of: "
                 "development, staging, production)");
    expect_error("ALGORITHM=none\n",
                 "test.conf:1: JWTD_ALGORITHM: invalid value \"none\" (expected one of: HS256, "
                 "HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)");
    expect_error("LISTEN=\n", "test.conf:1: JWTD_LISTEN: must not be empty");
    expect_error("LISTEN=localhost\n",
                 "test.conf:1: JWTD_LISTEN: invalid value \"localhost\" (expected host:port, "
                 "e.g. 127.0.0.1:8000 or [::1]:8000)");
    expect_error("LISTEN=127.0.0.1:70000\n", "test.conf:1: JWTD_LISTEN: invalid value "
                                             "\"127.0.0.1:70000\" (port must be a number "
                                             "0..65535)");
    expect_error("DATABASE_URL=mysql://u:hunter2@db/x\n",
                 "test.conf:1: JWTD_DATABASE_URL: invalid value \"mysql://u:<redacted>@db/x\" "
                 "(expected sqlite:PATH or postgresql://user:pass@host/db)");
    expect_error("ok=1\nISSUER=a\x01z\n",
                 "test.conf:2: JWTD_ISSUER: value \"a\\x01z\" contains a control character");
    expect_error("SECRET_KEY=\nSECRET_KEY_FILE=/k\nSECRET_KEY=0123456789abcdef0123456789abcdef\n",
                 "JWTD_SECRET_KEY and JWTD_SECRET_KEY_FILE are both set; set only one");
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
    ASSERT_EQ_INT(load_text(&c, "JWTD_SECRET_KEY=tooshort-hunter2\n", err, sizeof err), ERR_CONFIG);
    CHECK_STR_EQ(err, "test.conf:1: JWTD_SECRET_KEY: value is too short (16 bytes, need at "
                      "least 32)");
    CHECK_TRUE(strstr(err, "hunter2") == NULL);
    cfg_dispose(&c);
    ASSERT_EQ_INT(
        load_text(&c, "JWTD_SECRET_KEY=hunter2\x02hunter2hunter2hunter2hunter2\n", err, sizeof err),
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

TEST(cfg_unknown_variables_warn_with_suggestion)
{
    struct cfg c;
    char err[256] = "";
    char *envp[] = {"JWTD_LISTN=1.2.3.4:5", "JWTD_TOTALLY_UNRELATED_THING=1", "JWTD_BIN=/x",
                    "JWTD_TEST_ANYTHING=1", NULL};
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    capture_logs_begin();
    int rc1 = cfg_apply_env(&c, envp, err, sizeof err);
    const char *file = "# x\nACCESS_TOKEN_LIFETIM=5m\n";
    int rc2 = cfg_apply_buffer(&c, "my.conf", file, strlen(file), err, sizeof err);
    char *early = capture_logs_end();
    CHECK_STR_EQ(early, ""); /* queued until the log level is known */
    free(early);
    capture_logs_begin();
    CHECK_EQ_INT(cfg_finish(&c, err, sizeof err), 0);
    char *logs = capture_logs_end();
    CHECK_EQ_INT(rc1, 0);
    CHECK_EQ_INT(rc2, 0);
    CHECK_STR_EQ(c.listen, "127.0.0.1:8000"); /* unknown names change nothing */
    CHECK_TRUE(strstr(logs, "level=warn module=config") != NULL);
    CHECK_TRUE(strstr(logs, "name=\"JWTD_LISTN\" source=\"environment\" "
                            "did_you_mean=JWTD_LISTEN") != NULL);
    CHECK_TRUE(strstr(logs, "name=\"JWTD_TOTALLY_UNRELATED_THING\" source=\"environment\"\n") !=
               NULL);
    CHECK_TRUE(strstr(logs, "name=\"ACCESS_TOKEN_LIFETIM\" source=\"my.conf:2\" "
                            "did_you_mean=JWTD_ACCESS_TOKEN_LIFETIME") != NULL);
    CHECK_TRUE(strstr(logs, "JWTD_BIN") == NULL); /* harness variables are not warned about */
    CHECK_TRUE(strstr(logs, "JWTD_TEST_") == NULL);
    free(logs);
    cfg_dispose(&c);

    /* JWTD_LOG_LEVEL=error (set after the unknown name) silences them; dispose frees them */
    char *quiet[] = {"JWTD_LISTN=1", "JWTD_LOG_LEVEL=error", NULL};
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    capture_logs_begin();
    CHECK_EQ_INT(cfg_apply_env(&c, quiet, err, sizeof err), 0);
    CHECK_EQ_INT(cfg_finish(&c, err, sizeof err), 0);
    logs = capture_logs_end();
    CHECK_STR_EQ(logs, "");
    free(logs);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    CHECK_EQ_INT(cfg_apply_env(&c, quiet, err, sizeof err), 0);
    cfg_dispose(&c); /* without cfg_finish: the queue must not leak (ASan run) */
}

TEST(cfg_dump_redacts_secrets_and_url_passwords)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(load_text(&c,
                            "JWTD_SECRET_KEY=s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n"
                            "DATABASE_URL=postgresql://jwtd:pg-hunter2@db:5432/jwtd?sslmode=require"
                            "&password=qs-hunter2\n"
                            "REDIS_URL=redis://:redis-hunter2@cache:6379/0\n",
                            err, sizeof err),
                  0);
    int fd = tmp_fd();
    cfg_dump(&c, fd);
    char *out = slurp_fd(fd);
    close(fd);
    CHECK_TRUE(strstr(out, "s3cr3t") == NULL);
    CHECK_TRUE(strstr(out, "hunter2") == NULL);
    CHECK_TRUE(strstr(out, "JWTD_SECRET_KEY=<redacted>\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_DATABASE_URL=postgresql://jwtd:<redacted>@db:5432/"
                           "jwtd?sslmode=require&password=<redacted>\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_REDIS_URL=redis://:<redacted>@cache:6379/0\n") != NULL);
    free(out);
    cfg_dispose(&c);

    /* a raw '/' or '@' in the password, and sslpassword in the query, stay hidden */
    ASSERT_EQ_INT(load_text(&c,
                            "DATABASE_URL=postgres://u:pw/with@at-hunter2@db/x?"
                            "sslpassword=ssl-hunter2&a=b&password\n",
                            err, sizeof err),
                  0);
    fd = tmp_fd();
    cfg_dump(&c, fd);
    out = slurp_fd(fd);
    close(fd);
    CHECK_TRUE(strstr(out, "hunter2") == NULL);
    CHECK_TRUE(strstr(out, "JWTD_DATABASE_URL=postgres://u:<redacted>@db/"
                           "x?sslpassword=<redacted>&a=b&password\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_LISTEN=127.0.0.1:8000\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_ACCESS_TOKEN_LIFETIME=15m\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_RATE_LIMIT_LOGIN=5/minute\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_CORS_ALLOWED_ORIGINS=http://localhost:3000,"
                           "http://127.0.0.1:3000\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_ISSUER=\n") != NULL);
    /* one line per row */
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_EQ_INT(lines, cfg_rows_count);
    free(out);
    cfg_dispose(&c);

    ASSERT_EQ_INT(load_text(&c, "", err, sizeof err), 0);
    fd = tmp_fd();
    cfg_dump(&c, fd);
    out = slurp_fd(fd);
    close(fd);
    CHECK_TRUE(strstr(out, "JWTD_SECRET_KEY=<unset>\n") != NULL);
    CHECK_TRUE(strstr(out, "JWTD_REDIS_URL=\n") != NULL);
    free(out);
    cfg_dispose(&c);
}

TEST(cfg_dump_round_trips_through_the_file_parser)
{
    struct cfg a, b;
    char err[256] = "";
    ASSERT_EQ_INT(load_text(&a,
                            "LISTEN=[::1]:0\nENVIRONMENT=staging\nLEEWAY=90\n"
                            "HEADER_TIMEOUT=1500ms\nRATE_LIMIT_USER=7/15m\nRATE_LIMIT_ANON=0\n"
                            "TRUSTED_PROXIES=10.1.0.0/16,2001:db8::/48,::ffff:0:0/96,1.2.3.4\n"
                            "ISSUER=\" lead and trail \"\nAUDIENCE='\"quoted\"'\n"
                            "CORS_ALLOWED_ORIGINS=a, b ,c\nMAX_BODY_BYTES=2m\n"
                            "ROTATE_REFRESH_TOKENS=off\nSECRET_KEY_FILE=/run/secrets/k\n",
                            err, sizeof err),
                  0);
    buf_t t1, t2;
    buf_init(&t1, 1 << 20);
    buf_init(&t2, 1 << 20);
    ASSERT_EQ_INT(cfg__format(&a, &t1, true), 0);
    ASSERT_EQ_INT(load_text(&b, t1.data, err, sizeof err), 0);
    ASSERT_EQ_INT(cfg__format(&b, &t2, true), 0);
    CHECK_STR_EQ(t1.data, t2.data);
    CHECK_STR_EQ(b.issuer, " lead and trail ");
    CHECK_STR_EQ(b.audience, "\"quoted\"");
    CHECK_EQ_INT(b.header_timeout_ms, 1500);
    CHECK_EQ_INT(b.rate_limit_user.period_s, 900);
    CHECK_TRUE(strstr(t1.data, "JWTD_TRUSTED_PROXIES=10.1.0.0/16,2001:db8::/48,0.0.0.0/0,"
                               "1.2.3.4/32\n") != NULL);
    buf_dispose(&t1);
    buf_dispose(&t2);
    cfg_dispose(&a);
    cfg_dispose(&b);
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

TEST(cfg_markdown_matches_docs_config_md)
{
    char path[1024];
    test_data_path("../docs/config.md", path, sizeof path);
    int fd = tmp_fd();
    cfg_markdown(fd);
    char *want = slurp_fd(fd);
    close(fd);
    FILE *f = fopen(path, "rb");
    if (!f) {
        test__fail(__FILE__, __LINE__, "cannot open %s", path);
        free(want);
        return;
    }
    char *have = calloc(1, 1 << 20);
    size_t n = fread(have, 1, (1 << 20) - 1, f);
    fclose(f);
    have[n] = '\0';
    if (strcmp(have, want) != 0)
        test__fail(__FILE__, __LINE__,
                   "docs/config.md is stale: regenerate with "
                   "`./build/jwtd config --markdown > docs/config.md`");
    CHECK_TRUE(strstr(want, "| `JWTD_LISTEN` | string | `127.0.0.1:8000` |") != NULL);
    free(have);
    free(want);
}

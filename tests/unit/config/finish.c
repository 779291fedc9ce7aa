/*
 * finish.c - unit tests for the last loading step (src/config/finish.c): defaults that
 * follow JWTD_ENVIRONMENT, checks across variables, and the warnings queued while loading
 * (logged by cfg_finish once JWTD_LOG_LEVEL is known, dropped by cfg_dispose).
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "config/cfgtest.h"
#include "config/config.h"
#include "test.h"

TEST(cfg_cors_default_depends_on_environment)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(cfgtest_load_text(&c, "ENVIRONMENT=production\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.environment, CFG_ENV_PRODUCTION);
    CHECK_EQ_INT(c.cors_allowed_origins.count, 0);
    cfg_dispose(&c);
    /* explicitly empty in development stays empty */
    ASSERT_EQ_INT(cfgtest_load_text(&c, "CORS_ALLOWED_ORIGINS=\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.cors_allowed_origins.count, 0);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c,
                                    "JWTD_CORS_ALLOWED_ORIGINS=https://app.example\n"
                                    "JWTD_ENVIRONMENT=staging\n",
                                    err, sizeof err),
                  0);
    ASSERT_EQ_INT(c.cors_allowed_origins.count, 1);
    CHECK_STR_EQ(c.cors_allowed_origins.items[0], "https://app.example");
    cfg_dispose(&c);
}

TEST(cfg_signup_and_resource_routes_close_outside_development)
{
    static const char *const closed_envs[] = {"ENVIRONMENT=staging\n", "ENVIRONMENT=production\n"};
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(cfgtest_load_text(&c, "", err, sizeof err), 0);
    CHECK_EQ_INT(c.signup, CFG_SIGNUP_OPEN);
    CHECK_TRUE(c.resource_routes);
    cfg_dispose(&c);
    for (size_t i = 0; i < 2; i++) {
        ASSERT_EQ_INT(cfgtest_load_text(&c, closed_envs[i], err, sizeof err), 0);
        CHECK_EQ_INT(c.signup, CFG_SIGNUP_CLOSED);
        CHECK_TRUE(!c.resource_routes);
        CHECK_EQ_INT(cfg_source_of(&c, "JWTD_SIGNUP"), CFG_SRC_DEFAULT);
        cfg_dispose(&c);
    }
    /* what the operator sets wins, in either direction */
    ASSERT_EQ_INT(cfgtest_load_text(&c, "ENVIRONMENT=production\nSIGNUP=open\nRESOURCE_ROUTES=on\n",
                                    err, sizeof err),
                  0);
    CHECK_EQ_INT(c.signup, CFG_SIGNUP_OPEN);
    CHECK_TRUE(c.resource_routes);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "SIGNUP=closed\nRESOURCE_ROUTES=off\n", err, sizeof err),
                  0);
    CHECK_EQ_INT(c.signup, CFG_SIGNUP_CLOSED);
    CHECK_TRUE(!c.resource_routes);
    cfg_dispose(&c);
}

TEST(cfg_signup_verified_needs_smtp_outside_development)
{
    cfgtest_expect_error("ENVIRONMENT=production\nSIGNUP=verified\n",
                         "JWTD_SIGNUP=verified needs JWTD_SMTP_URL outside development (the "
                         "confirmation mail could not be sent)");
    cfgtest_expect_error("ENVIRONMENT=staging\nSMTP_URL=smtp://mail.example.com\n",
                         "JWTD_SMTP_URL needs JWTD_PUBLIC_URL outside development (the links of "
                         "the mails point to it)");
    cfgtest_expect_error("ENVIRONMENT=staging\nSMTP_URL=smtp://mail.example.com\n"
                         "PUBLIC_URL=https://auth.example.com\n",
                         "JWTD_SMTP_URL needs JWTD_MAIL_FROM outside development (the sender of "
                         "the mails)");
    cfgtest_expect_error(
        "SIGNUP=invite\n",
        "test.conf:1: JWTD_SIGNUP: invalid value \"invite\" (expected one of: open, "
        "verified, closed)");
    struct cfg c;
    char err[512] = "";
    /* development: .eml files stand in for SMTP */
    CHECK_EQ_INT(cfgtest_load_text(&c, "SIGNUP=verified\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.signup, CFG_SIGNUP_VERIFIED);
    cfg_dispose(&c);
    CHECK_EQ_INT(cfgtest_load_text(&c,
                                   "ENVIRONMENT=production\nSIGNUP=verified\n"
                                   "SMTP_URL=smtps://u:p@mail.example.com:465?tls=required\n"
                                   "PUBLIC_URL=https://auth.example.com\n"
                                   "MAIL_FROM=Example <auth@example.com>\n",
                                   err, sizeof err),
                 0);
    CHECK_STR_EQ(err, "");
    cfg_dispose(&c);
}

TEST(cfg_mail_values_are_checked)
{
    struct cfg c;
    char err[512];
    const char *bad[] = {"SMTP_URL=http://mail.example.com\n",
                         "SMTP_URL=smtp://\n",
                         "SMTP_URL=smtp://h?tls=maybe\n",
                         "MAIL_FROM=nobody\n",
                         "MAIL_FROM=Name <a@b\n",
                         "MAIL_FROM=Ann <a@b> x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_INT(cfgtest_load_text(&c, bad[i], err, sizeof err), ERR_CONFIG);
        CHECK_TRUE(strstr(err, "test.conf:1:") != NULL);
        cfg_dispose(&c);
    }
    /* the URL's password never appears in an error */
    CHECK_EQ_INT(cfgtest_load_text(&c, "SMTP_URL=smtp://u:hunter2@h?x=1\n", err, sizeof err),
                 ERR_CONFIG);
    CHECK_TRUE(strstr(err, "hunter2") == NULL);
    cfg_dispose(&c);
}

TEST(cfg_secret_key_and_its_file_are_exclusive)
{
    cfgtest_expect_error(
        "SECRET_KEY=\nSECRET_KEY_FILE=/k\nSECRET_KEY=0123456789abcdef0123456789abcdef\n",
        "JWTD_SECRET_KEY and JWTD_SECRET_KEY_FILE are both set; set only one");
}

TEST(cfg_unknown_variables_warn_with_suggestion)
{
    struct cfg c;
    char err[256] = "";
    char *envp[] = {"JWTD_LISTN=1.2.3.4:5", "JWTD_TOTALLY_UNRELATED_THING=1", "JWTD_BIN=/x",
                    "JWTD_TEST_ANYTHING=1", NULL};
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    cfgtest_logs_begin();
    int rc1 = cfg_apply_env(&c, envp, err, sizeof err);
    const char *file = "# x\nACCESS_TOKEN_LIFETIM=5m\n";
    int rc2 = cfg_apply_buffer(&c, "my.conf", file, strlen(file), err, sizeof err);
    char *early = cfgtest_logs_end();
    CHECK_STR_EQ(early, ""); /* queued until the log level is known */
    free(early);
    cfgtest_logs_begin();
    CHECK_EQ_INT(cfg_finish(&c, err, sizeof err), 0);
    char *logs = cfgtest_logs_end();
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
    cfgtest_logs_begin();
    CHECK_EQ_INT(cfg_apply_env(&c, quiet, err, sizeof err), 0);
    CHECK_EQ_INT(cfg_finish(&c, err, sizeof err), 0);
    logs = cfgtest_logs_end();
    CHECK_STR_EQ(logs, "");
    free(logs);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    CHECK_EQ_INT(cfg_apply_env(&c, quiet, err, sizeof err), 0);
    cfg_dispose(&c); /* without cfg_finish: the queue must not leak (ASan run) */
}

TEST(cfg_data_dir_default_depends_on_environment)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(cfgtest_load_text(&c, "", err, sizeof err), 0);
    CHECK_STR_EQ(c.data_dir, "var");
    CHECK_STR_EQ(c.database_url, "sqlite:var/jwtd.db");
    CHECK_STR_EQ(c.upload_dir, "var/uploads");
    CHECK_STR_EQ(c.web_dir, "builtin");
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_DATABASE_URL"), CFG_SRC_DEFAULT);
    cfg_dispose(&c);
    static const char *const servers[] = {"ENVIRONMENT=staging\n", "ENVIRONMENT=production\n"};
    for (size_t i = 0; i < 2; i++) {
        ASSERT_EQ_INT(cfgtest_load_text(&c, servers[i], err, sizeof err), 0);
        CHECK_STR_EQ(c.data_dir, "/var/lib/jwtd");
        CHECK_STR_EQ(c.database_url, "sqlite:///var/lib/jwtd/jwtd.db");
        CHECK_STR_EQ(c.upload_dir, "/var/lib/jwtd/uploads");
        CHECK_EQ_INT(cfg_source_of(&c, "JWTD_DATA_DIR"), CFG_SRC_DEFAULT);
        cfg_dispose(&c);
    }
}

TEST(cfg_data_dir_holds_the_default_database_and_uploads)
{
    struct cfg c;
    char err[256] = "";
    /* a directory of its own moves both; trailing slashes are not repeated */
    ASSERT_EQ_INT(
        cfgtest_load_text(&c, "ENVIRONMENT=production\nDATA_DIR=/srv/jwtd//\n", err, sizeof err),
        0);
    CHECK_STR_EQ(c.database_url, "sqlite:///srv/jwtd/jwtd.db");
    CHECK_STR_EQ(c.upload_dir, "/srv/jwtd/uploads");
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "DATA_DIR=state\n", err, sizeof err), 0);
    CHECK_STR_EQ(c.database_url, "sqlite:state/jwtd.db");
    CHECK_STR_EQ(c.upload_dir, "state/uploads");
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "DATA_DIR=/\n", err, sizeof err), 0);
    CHECK_STR_EQ(c.database_url, "sqlite:///jwtd.db");
    CHECK_STR_EQ(c.upload_dir, "/uploads");
    cfg_dispose(&c);
    /* what the operator sets wins; an empty upload directory means the default */
    ASSERT_EQ_INT(cfgtest_load_text(&c,
                                    "DATA_DIR=/srv/jwtd\nDATABASE_URL=postgresql://db/jwtd\n"
                                    "UPLOAD_DIR=/srv/files\n",
                                    err, sizeof err),
                  0);
    CHECK_STR_EQ(c.database_url, "postgresql://db/jwtd");
    CHECK_STR_EQ(c.upload_dir, "/srv/files");
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "DATA_DIR=/srv/jwtd\nUPLOAD_DIR=\n", err, sizeof err), 0);
    CHECK_STR_EQ(c.upload_dir, "/srv/jwtd/uploads");
    cfg_dispose(&c);
    /* a '?' would start the URL's options: refused, unless the URL is set */
    cfgtest_expect_error("DATA_DIR=/srv/a?b\n",
                         "JWTD_DATA_DIR contains '?', which cannot be part of the default "
                         "database URL; set JWTD_DATABASE_URL");
    ASSERT_EQ_INT(cfgtest_load_text(&c, "DATA_DIR=/srv/a?b\nDATABASE_URL=sqlite:/srv/jwtd.db\n",
                                    err, sizeof err),
                  0);
    CHECK_STR_EQ(c.upload_dir, "/srv/a?b/uploads");
    cfg_dispose(&c);
}

TEST(cfg_hsts_defaults_and_preload_rules)
{
    struct cfg c;
    char err[512] = "";
    ASSERT_EQ_INT(cfgtest_load_text(&c, "", err, sizeof err), 0);
    CHECK_EQ_INT(c.hsts_max_age_s, 0);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "ENVIRONMENT=staging\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.hsts_max_age_s, 0);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "ENVIRONMENT=production\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.hsts_max_age_s, 31536000);
    cfg_dispose(&c);
    ASSERT_EQ_INT(
        cfgtest_load_text(&c, "ENVIRONMENT=production\nHSTS_MAX_AGE=0\n", err, sizeof err), 0);
    CHECK_EQ_INT(c.hsts_max_age_s, 0);
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c,
                                    "HSTS_MAX_AGE=2y\n"
                                    "HSTS_INCLUDE_SUBDOMAINS=true\nHSTS_PRELOAD=on\n",
                                    err, sizeof err),
                  ERR_CONFIG); /* no "y" unit: a year is 365d */
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c,
                                    "HSTS_MAX_AGE=365d\n"
                                    "HSTS_INCLUDE_SUBDOMAINS=true\nHSTS_PRELOAD=on\n",
                                    err, sizeof err),
                  0);
    CHECK_TRUE(c.hsts_preload && c.hsts_include_subdomains);
    cfg_dispose(&c);
    cfgtest_expect_error("HSTS_MAX_AGE=365d\nHSTS_PRELOAD=true\n",
                         "JWTD_HSTS_PRELOAD=true needs JWTD_HSTS_INCLUDE_SUBDOMAINS=true and "
                         "JWTD_HSTS_MAX_AGE of at least 365d (31536000 s); got "
                         "includeSubDomains=false, max-age=31536000");
    cfgtest_expect_error("HSTS_MAX_AGE=364d\nHSTS_INCLUDE_SUBDOMAINS=1\nHSTS_PRELOAD=true\n",
                         "JWTD_HSTS_PRELOAD=true needs JWTD_HSTS_INCLUDE_SUBDOMAINS=true and "
                         "JWTD_HSTS_MAX_AGE of at least 365d (31536000 s); got "
                         "includeSubDomains=true, max-age=31449600");
}

TEST(cfg_hsts_include_subdomains_without_max_age_warns)
{
    struct cfg c;
    char err[256] = "";
    cfgtest_logs_begin();
    int rc = cfgtest_load_text(&c, "HSTS_INCLUDE_SUBDOMAINS=true\n", err, sizeof err);
    char *logs = cfgtest_logs_end();
    CHECK_EQ_INT(rc, 0);
    CHECK_TRUE(logs && strstr(logs, "JWTD_HSTS_INCLUDE_SUBDOMAINS has no effect"));
    free(logs);
    cfg_dispose(&c);
}

TEST(cfg_public_url_trailing_slash_dropped)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(
        cfgtest_load_text(&c, "PUBLIC_URL=https://auth.example.com/base//\n", err, sizeof err), 0);
    CHECK_STR_EQ(c.public_url, "https://auth.example.com/base");
    cfg_dispose(&c);
    ASSERT_EQ_INT(cfgtest_load_text(&c, "PUBLIC_URL=\n", err, sizeof err), 0);
    CHECK_TRUE(c.public_url == NULL);
    cfg_dispose(&c);
    cfgtest_expect_error("PUBLIC_URL=https://a.example/?x\n",
                         "test.conf:1: JWTD_PUBLIC_URL: invalid value \"https://a.example/?x\" "
                         "(a public URL has no query or fragment)");
}

TEST(cfg_route_aliases_items_and_duplicates)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(cfgtest_load_text(&c,
                                    "ROUTE_ALIASES=/login/simpleJWT/=/api/token/, "
                                    "/login/simpleJWT/refresh/=/api/token/refresh/,"
                                    "/jwt/*=/api/token/*\n",
                                    err, sizeof err),
                  0);
    ASSERT_EQ_INT(c.route_aliases.count, 3);
    CHECK_STR_EQ(c.route_aliases.items[1], "/login/simpleJWT/refresh/=/api/token/refresh/");
    cfg_dispose(&c);
    cfgtest_expect_error("ROUTE_ALIASES=/a/=/api/token/,/b=/x y\n",
                         "test.conf:1: JWTD_ROUTE_ALIASES: invalid item \"/b=/x y\" (target: "
                         "character ' ' not allowed in a path)");
    cfgtest_expect_error("ROUTE_ALIASES=/a/=/api/token/,/b/=/c/,/a=/api/token/verify/\n",
                         "JWTD_ROUTE_ALIASES: duplicate alias path /a (items 1 and 3)");
    cfgtest_expect_error("ROUTE_ALIASES=/a/*=/api/*,/a/*=/auth/*\n",
                         "JWTD_ROUTE_ALIASES: duplicate alias path /a/ (items 1 and 2)");
    /* an exact alias and a prefix alias may share a path: the router decides at start */
    ASSERT_EQ_INT(
        cfgtest_load_text(&c, "ROUTE_ALIASES=/a/*=/api/token/*,/a/=/api/token/\n", err, sizeof err),
        0);
    cfg_dispose(&c);
}

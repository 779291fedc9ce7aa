/*
 * finish.c - unit tests for the last loading step (src/config/finish.c): defaults that
 * follow JWTD_ENVIRONMENT, checks across variables, and the warnings queued while loading
 * (logged by cfg_finish once JWTD_LOG_LEVEL is known, dropped by cfg_dispose).
 */
#include <stdlib.h>

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

TEST(cfg_signup_verified_is_refused_without_email_delivery)
{
    cfgtest_expect_error("SIGNUP=verified\n",
                         "JWTD_SIGNUP=verified needs e-mail delivery, which this build does not "
                         "configure; use open or closed");
    cfgtest_expect_error(
        "SIGNUP=invite\n",
        "test.conf:1: JWTD_SIGNUP: invalid value \"invite\" (expected one of: open, "
        "verified, closed)");
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

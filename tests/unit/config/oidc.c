/*
 * oidc.c - unit tests for the per-name variables of social sign-in (src/config/oidc.c):
 * JWTD_OIDC_<NAME>_* taken in any order from file and environment, built into one
 * provider per listed name (defaults, lower-cased names, '-' as '_'), the checks of each
 * provider, the warning for an unlisted name, `jwtd config` lines that load back, and a
 * reload that keeps the running providers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "config/cfgtest.h"
#include "config/config.h"
#include "test.h"

TEST(cfg_oidc_providers_built_from_per_name_variables)
{
    struct cfg c;
    char err[512] = "";
    /* the per-name values come before the list: order does not matter */
    ASSERT_EQ_INT(cfgtest_load_text(&c,
                                    "OIDC_GOOGLE_ISSUER=https://accounts.google.com\n"
                                    "jwtd_oidc_google_client_id=g-id\n"
                                    "JWTD_OIDC_MY_IDP_ISSUER=http://127.0.0.1:8080/realms/x\n"
                                    "JWTD_OIDC_MY_IDP_CLIENT_ID=m\n"
                                    "JWTD_OIDC_MY_IDP_CLIENT_SECRET_FILE=/etc/jwtd/m.secret\n"
                                    "JWTD_OIDC_MY_IDP_SCOPES=openid email\n"
                                    "OIDC_PROVIDERS=Google,my-idp\n",
                                    err, sizeof err),
                  0);
    ASSERT_EQ_INT(c.oidc_count, 2);
    CHECK_STR_EQ(c.oidc[0].name, "google");
    CHECK_STR_EQ(c.oidc[0].issuer, "https://accounts.google.com");
    CHECK_STR_EQ(c.oidc[0].client_id, "g-id");
    CHECK_TRUE(c.oidc[0].client_secret_file == NULL);
    CHECK_STR_EQ(c.oidc[0].scopes, "openid email profile");
    CHECK_STR_EQ(c.oidc[1].name, "my-idp");
    CHECK_STR_EQ(c.oidc[1].client_secret_file, "/etc/jwtd/m.secret");
    CHECK_STR_EQ(c.oidc[1].scopes, "openid email");
    CHECK_TRUE(c.oidc_link_by_email);
    cfg_dispose(&c);
}

TEST(cfg_oidc_environment_names_are_exact)
{
    struct cfg c;
    char err[512] = "";
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    char *env[] = {"JWTD_OIDC_PROVIDERS=x", "JWTD_OIDC_X_ISSUER=https://x.example",
                   "JWTD_OIDC_X_CLIENT_ID=c", "jwtd_oidc_x_scopes=email", NULL};
    ASSERT_EQ_INT(cfg_apply_env(&c, env, err, sizeof err), 0);
    ASSERT_EQ_INT(cfg_finish(&c, err, sizeof err), 0);
    ASSERT_EQ_INT(c.oidc_count, 1);
    CHECK_STR_EQ(c.oidc[0].scopes, "openid email profile"); /* the lower-case name is no name */
    cfg_dispose(&c);
}

TEST(cfg_oidc_provider_checks)
{
    cfgtest_expect_error("OIDC_PROVIDERS=g\n",
                         "JWTD_OIDC_PROVIDERS lists g: set JWTD_OIDC_G_ISSUER and "
                         "JWTD_OIDC_G_CLIENT_ID");
    cfgtest_expect_error("OIDC_PROVIDERS=g\nOIDC_G_ISSUER=https://x\n",
                         "JWTD_OIDC_PROVIDERS lists g: set JWTD_OIDC_G_ISSUER and "
                         "JWTD_OIDC_G_CLIENT_ID");
    cfgtest_expect_error("OIDC_PROVIDERS=g\nOIDC_G_ISSUER=ftp://x\nOIDC_G_CLIENT_ID=c\n",
                         "JWTD_OIDC_G_ISSUER: expected an https:// URL (the provider's issuer)");
    cfgtest_expect_error(
        "OIDC_PROVIDERS=g\nOIDC_G_ISSUER=https://x?a=b\nOIDC_G_CLIENT_ID=c\n",
        "JWTD_OIDC_G_ISSUER: an issuer has no blank, user info, query or fragment");
    cfgtest_expect_error("OIDC_PROVIDERS=g\nOIDC_G_ISSUER=https://u@x\nOIDC_G_CLIENT_ID=c\n",
                         "JWTD_OIDC_G_ISSUER: an issuer has no blank, user info, query or "
                         "fragment");
    cfgtest_expect_error("ENVIRONMENT=production\nOIDC_PROVIDERS=g\n"
                         "OIDC_G_ISSUER=http://idp.example\nOIDC_G_CLIENT_ID=c\n",
                         "JWTD_OIDC_G_ISSUER: http:// is allowed only on a loopback host or in "
                         "development; use https://");
    cfgtest_expect_error("OIDC_PROVIDERS=g\nOIDC_G_ISSUER=https://x\nOIDC_G_CLIENT_ID=c\n"
                         "OIDC_G_SCOPES=email profile\n",
                         "JWTD_OIDC_G_SCOPES: the scopes must include openid");
    cfgtest_expect_error("OIDC_PROVIDERS=g,G\nOIDC_G_ISSUER=https://x\nOIDC_G_CLIENT_ID=c\n",
                         "JWTD_OIDC_PROVIDERS: provider G listed twice");
    cfgtest_expect_error("OIDC_PROVIDERS=a b\n",
                         "test.conf:1: JWTD_OIDC_PROVIDERS: invalid item \"a b\" (a provider "
                         "name is 1..32 letters, digits, '-' or '_' (not `providers` or "
                         "`identities`: routes of their own))");
    /* loopback http outside development is fine (tests, a provider on the same host) */
    struct cfg c;
    char err[512] = "";
    CHECK_EQ_INT(cfgtest_load_text(&c,
                                   "ENVIRONMENT=production\nOIDC_PROVIDERS=g\n"
                                   "OIDC_G_ISSUER=http://127.0.0.1:9000\nOIDC_G_CLIENT_ID=c\n",
                                   err, sizeof err),
                 0);
    cfg_dispose(&c);
}

TEST(cfg_oidc_unlisted_name_warns)
{
    struct cfg c;
    char err[512] = "";
    cfgtest_logs_begin();
    CHECK_EQ_INT(cfgtest_load_text(&c, "OIDC_OTHER_ISSUER=https://x\nOIDC_OTHER_CLIENT_ID=c\n", err,
                                   sizeof err),
                 0);
    char *logs = cfgtest_logs_end();
    CHECK_TRUE(strstr(logs, "name=JWTD_OIDC_OTHER_ISSUER") != NULL);
    CHECK_TRUE(strstr(logs, "unknown configuration variable") == NULL);
    CHECK_EQ_INT(c.oidc_count, 0);
    free(logs);
    cfg_dispose(&c);
}

static void on_change(const char *name, bool reloads, void *arg)
{
    if (strcmp(name, "JWTD_OIDC_<NAME>_*") == 0 && !reloads)
        ++*(int *)arg;
}

TEST(cfg_oidc_dump_loads_back_and_reload_keeps_running)
{
    struct cfg a, b;
    char err[512] = "";
    ASSERT_EQ_INT(cfgtest_load_text(&a,
                                    "OIDC_PROVIDERS=kc\nOIDC_KC_ISSUER=https://kc.example/realms/"
                                    "r\nOIDC_KC_CLIENT_ID=jwtd\n",
                                    err, sizeof err),
                  0);
    int fd = cfgtest_tmp_fd();
    cfg_dump(&a, fd);
    char *dump = cfgtest_slurp_fd(fd);
    CHECK_TRUE(strstr(dump, "\nJWTD_OIDC_KC_ISSUER=https://kc.example/realms/r\n") != NULL);
    CHECK_TRUE(strstr(dump, "\nJWTD_OIDC_KC_SCOPES=openid email profile\n") != NULL);
    /* the dump's JWTD_OIDC_* lines load back to the same providers (the rest of a dump
       redacts secrets: config.c's round trip tests cover it) */
    char oidc_lines[2048] = "";
    for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "JWTD_OIDC_", 10) == 0) {
            strncat(oidc_lines, line, sizeof oidc_lines - strlen(oidc_lines) - 2);
            strcat(oidc_lines, "\n");
        }
    }
    int rc = cfgtest_load_text(&b, oidc_lines, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "    %s\n", err);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(b.oidc_count, 1);
    CHECK_STR_EQ(b.oidc[0].issuer, a.oidc[0].issuer);
    CHECK_STR_EQ(b.oidc[0].client_id, "jwtd");
    cfg_dispose(&b);
    /* a reload with another client id: reported as needing a restart, the running one kept */
    ASSERT_EQ_INT(cfgtest_load_text(&b,
                                    "OIDC_PROVIDERS=kc\nOIDC_KC_ISSUER=https://kc.example/realms/"
                                    "r\nOIDC_KC_CLIENT_ID=other\n",
                                    err, sizeof err),
                  0);
    int changed = 0;
    cfg_reload_merge(&b, &a, on_change, &changed);
    CHECK_EQ_INT(changed, 1);
    ASSERT_EQ_INT(b.oidc_count, 1);
    CHECK_STR_EQ(b.oidc[0].client_id, "jwtd");
    free(dump);
    close(fd);
    cfg_dispose(&a);
    cfg_dispose(&b);
}

/*
 * output.c - unit tests for writing the configuration out (src/config/output.c): `jwtd
 * config` redacts secrets and URL passwords, its output loads back to the same values, and
 * docs/config.md is what `jwtd config --markdown` prints.
 */
#include <stdlib.h>
#include <unistd.h>

#include "common/buf.h"
#include "config/cfgtest.h"
#include "config/table.h"
#include "test.h"

TEST(cfg_dump_redacts_secrets_and_url_passwords)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(
        cfgtest_load_text(&c,
                          "JWTD_SECRET_KEY=s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n"
                          "DATABASE_URL=postgresql://jwtd:pg-hunter2@db:5432/jwtd?sslmode=require"
                          "&password=qs-hunter2\n"
                          "REDIS_URL=redis://:redis-hunter2@cache:6379/0\n",
                          err, sizeof err),
        0);
    int fd = cfgtest_tmp_fd();
    cfg_dump(&c, fd);
    char *out = cfgtest_slurp_fd(fd);
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
    ASSERT_EQ_INT(cfgtest_load_text(&c,
                                    "DATABASE_URL=postgres://u:pw/with@at-hunter2@db/x?"
                                    "sslpassword=ssl-hunter2&a=b&password\n",
                                    err, sizeof err),
                  0);
    fd = cfgtest_tmp_fd();
    cfg_dump(&c, fd);
    out = cfgtest_slurp_fd(fd);
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

    ASSERT_EQ_INT(cfgtest_load_text(&c, "", err, sizeof err), 0);
    fd = cfgtest_tmp_fd();
    cfg_dump(&c, fd);
    out = cfgtest_slurp_fd(fd);
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
    ASSERT_EQ_INT(
        cfgtest_load_text(&a,
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
    ASSERT_EQ_INT(cfgtest_load_text(&b, t1.data, err, sizeof err), 0);
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

TEST(cfg_markdown_matches_docs_config_md)
{
    char path[1024];
    test_data_path("../docs/config.md", path, sizeof path);
    int fd = cfgtest_tmp_fd();
    cfg_markdown(fd);
    char *want = cfgtest_slurp_fd(fd);
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

/*
 * table.c - unit tests for the configuration table (src/config/table.c): the defaults are
 * those docs/config.md documents, and every row is well formed (JWTD_ name, help, unique, found by
 * its own name, a type that exists).
 */
#include <string.h>

#include "config/table.h"
#include "test.h"

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
    CHECK_EQ_INT(c.signup, CFG_SIGNUP_OPEN);
    CHECK_TRUE(c.resource_routes);
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

TEST(cfg_every_row_default_parses_and_is_documented)
{
    ASSERT_TRUE(cfg_rows_count > 40);
    for (size_t i = 0; i < cfg_rows_count; i++) {
        const struct cfg_row *r = &cfg_rows[i];
        CHECK_TRUE(strncmp(r->name, "JWTD_", 5) == 0);
        CHECK_TRUE(r->help && r->help[0]);
        CHECK_TRUE(r->type < CFG_T_COUNT);
        CHECK_TRUE(r->type != CFG_T_ENUM || r->values != NULL);
        CHECK_EQ_INT(cfg__row_find(str_cstr(r->name)), (long long)i);
        for (size_t j = 0; j < i; j++)
            CHECK_TRUE(strcmp(r->name, cfg_rows[j].name) != 0);
    }
}

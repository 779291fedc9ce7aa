/*
 * lookup.c - unit tests for finding a variable by name (src/config/lookup.c): the lenient
 * lookup of files and cfg_set, the exact one of the environment, the harness variables
 * that are not configuration, and the "did you mean" suggestion.
 */
#include "config/table.h"
#include "test.h"

TEST(cfg_row_find_is_lenient_about_prefix_and_case)
{
    int listen = cfg__row_find(STR_LIT("JWTD_LISTEN"));
    ASSERT_TRUE(listen >= 0);
    CHECK_STR_EQ(cfg_rows[listen].name, "JWTD_LISTEN");
    CHECK_EQ_INT(cfg__row_find(STR_LIT("listen")), listen);
    CHECK_EQ_INT(cfg__row_find(STR_LIT("jwtd_Listen")), listen);
    CHECK_EQ_INT(cfg__row_find(STR_LIT("JWTD_")), -1);
    CHECK_EQ_INT(cfg__row_find(STR_LIT("JWTD_JWTD_LISTEN")), -1);
    CHECK_EQ_INT(cfg__row_find(STR_LIT("LISTENER")), -1);
    CHECK_EQ_INT(cfg__row_find(STR_LIT("")), -1);
}

TEST(cfg_row_find_exact_wants_the_environment_spelling)
{
    int listen = cfg__row_find(STR_LIT("LISTEN"));
    CHECK_EQ_INT(cfg__row_find_exact(STR_LIT("JWTD_LISTEN")), listen);
    CHECK_EQ_INT(cfg__row_find_exact(STR_LIT("LISTEN")), -1);
    CHECK_EQ_INT(cfg__row_find_exact(STR_LIT("JWTD_listen")), -1);
    for (size_t i = 0; i < cfg_rows_count; i++)
        CHECK_EQ_INT(cfg__row_find_exact(str_cstr(cfg_rows[i].name)), (long long)i);
}

TEST(cfg_env_ignored_names_harness_variables_only)
{
    CHECK_TRUE(cfg__env_ignored(STR_LIT("JWTD_SRC_ROOT")));
    CHECK_TRUE(cfg__env_ignored(STR_LIT("JWTD_BIN")));
    CHECK_TRUE(cfg__env_ignored(STR_LIT("JWTD_TEST_ANYTHING")));
    CHECK_TRUE(!cfg__env_ignored(STR_LIT("JWTD_TEST")));
    CHECK_TRUE(!cfg__env_ignored(STR_LIT("JWTD_BINARY")));
    CHECK_TRUE(!cfg__env_ignored(STR_LIT("JWTD_LISTEN")));
    for (size_t i = 0; i < cfg_rows_count; i++)
        CHECK_TRUE(!cfg__env_ignored(str_cstr(cfg_rows[i].name)));
}

TEST(cfg_suggest_within_two_edits_of_a_long_enough_name)
{
    CHECK_STR_EQ(cfg__suggest(STR_LIT("JWTD_LISTN")), "JWTD_LISTEN");
    CHECK_STR_EQ(cfg__suggest(STR_LIT("wrokers")), "JWTD_WORKERS");
    CHECK_STR_EQ(cfg__suggest(STR_LIT("ACCESS_TOKEN_LIFETIM")), "JWTD_ACCESS_TOKEN_LIFETIME");
    CHECK_STR_EQ(cfg__suggest(STR_LIT("jwtd_max_header")), "JWTD_MAX_HEADERS");
    /* three edits away, or an edit for every three letters, is too far */
    CHECK_TRUE(cfg__suggest(STR_LIT("JWTD_LSTNR")) == NULL);
    CHECK_TRUE(cfg__suggest(STR_LIT("JWTD_TOTALLY_UNRELATED_THING")) == NULL);
    CHECK_TRUE(cfg__suggest(STR_LIT("LEEWA")) != NULL);
    CHECK_TRUE(cfg__suggest(STR_LIT("LEEW")) == NULL);
    CHECK_TRUE(cfg__suggest(STR_LIT("")) == NULL);
}

TEST(cfg_source_of_unknown_name_is_minus_one)
{
    struct cfg c;
    char err[256] = "";
    ASSERT_EQ_INT(cfg_init_defaults(&c, err, sizeof err), 0);
    CHECK_EQ_INT(cfg_source_of(&c, "JWTD_NOPE"), -1);
    CHECK_EQ_INT(cfg_source_of(&c, "leeway"), CFG_SRC_DEFAULT);
    cfg_dispose(&c);
}

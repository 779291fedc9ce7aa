/*
 * Unit tests for src/db/stmt.c: the rewrite of ?n placeholders into PostgreSQL's $n (quoted
 * text left alone, unnumbered placeholders refused), the choice of a backend's text, the
 * completeness check and the per-connection statement cache.
 */
#include "test.h"

#include <stdlib.h>

#include "common/err.h"
#include "db/db_internal.h"

static void check_dollar(const char *in, const char *want)
{
    char *got = db__sql_to_dollar(in);
    if (!want)
        CHECK_TRUE(got == NULL);
    else
        CHECK_STR_EQ(got, want);
    free(got);
}

TEST(db_stmt_placeholders_become_dollars)
{
    check_dollar("SELECT 1", "SELECT 1");
    check_dollar("", "");
    check_dollar("UPDATE t SET a = ?1, b = ?12 WHERE c = ?1",
                 "UPDATE t SET a = $1, b = $12 WHERE c = $1");
    /* quoted literals and identifiers are copied as they are, doubled quotes included */
    check_dollar("SELECT '?1', 'it''s ?2', \"col?3\" FROM t WHERE x = ?4",
                 "SELECT '?1', 'it''s ?2', \"col?3\" FROM t WHERE x = $4");
    check_dollar("SELECT ''''||?1", "SELECT ''''||$1");
    /* an unterminated literal is copied to the end (the server reports it) */
    check_dollar("SELECT 'abc ?1", "SELECT 'abc ?1");
    /* every placeholder is numbered: a bare ? has no $ spelling */
    check_dollar("SELECT ?", NULL);
    check_dollar("SELECT ? + ?1", NULL);
    check_dollar("SELECT ?a", NULL);
}

TEST(db_stmt_text_per_backend_and_check)
{
    const db_stmt_def_t defs[] = {
        {.name = "shared", .sql = "SELECT 1"},
        {.name = "pg_own", .sql = "SELECT 1", .pg = "SELECT 2"},
        {.name = "sqlite_only", .sqlite = "SELECT 3"},
    };
    CHECK_STR_EQ(db__stmt_text(&defs[0], DB_BACKEND_SQLITE), "SELECT 1");
    CHECK_STR_EQ(db__stmt_text(&defs[0], DB_BACKEND_PG), "SELECT 1");
    CHECK_STR_EQ(db__stmt_text(&defs[1], DB_BACKEND_SQLITE), "SELECT 1");
    CHECK_STR_EQ(db__stmt_text(&defs[1], DB_BACKEND_PG), "SELECT 2");
    CHECK_STR_EQ(db__stmt_text(&defs[2], DB_BACKEND_SQLITE), "SELECT 3");
    CHECK_TRUE(db__stmt_text(&defs[2], DB_BACKEND_PG) == NULL);

    char err[128] = "";
    CHECK_EQ_INT(db__stmt_check(defs, 3, DB_BACKEND_SQLITE, err, sizeof err), 0);
    CHECK_EQ_INT(db__stmt_check(defs, 3, DB_BACKEND_PG, err, sizeof err), ERR_INTERNAL);
    CHECK_STR_EQ(err, "this jwtd lacks the postgresql text of statement sqlite_only");
}

static int released;

static void on_release(void *val)
{
    released += (int)(intptr_t)val;
}

TEST(db_stmt_cache_finds_what_it_holds)
{
    enum { N = 300 };
    static db_stmt_def_t defs[N];
    db_stmt_cache_t cache = {0};
    CHECK_TRUE(db__stmt_cache_get(&cache, &defs[0]) == NULL);
    for (int i = 0; i < N; i++) {
        db__stmt_cache_put(&cache, &defs[i], (void *)(intptr_t)(i + 1));
        CHECK_TRUE(db__stmt_cache_get(&cache, &defs[i]) == (void *)(intptr_t)(i + 1));
    }
    int misses = 0;
    for (int i = 0; i < N; i++)
        misses += db__stmt_cache_get(&cache, &defs[i]) != (void *)(intptr_t)(i + 1);
    CHECK_EQ_INT(misses, 0);
    CHECK_EQ_INT(cache.count, N);
    CHECK_TRUE(cache.count * 2 <= cache.cap);
    released = 0;
    db__stmt_cache_clear(&cache, on_release);
    CHECK_EQ_INT(released, N * (N + 1) / 2);
    CHECK_TRUE(cache.cap == 0 && cache.count == 0 && cache.keys == NULL);
    CHECK_TRUE(db__stmt_cache_get(&cache, &defs[0]) == NULL);
}

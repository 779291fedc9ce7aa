/*
 * Unit tests for src/db/sql.c, db's statement table: every statement has a name and text
 * for both backends (db_open refuses a build where one lacks it), and every text has
 * numbered placeholders, so the PostgreSQL spelling exists.
 */
#include "test.h"

#include <stdlib.h>

#include "db/db_internal.h"

TEST(db_sql_table_is_complete_for_both_backends)
{
    char err[128] = "";
    CHECK_EQ_INT(db__stmt_check(db__sql, DB_STMT__COUNT, DB_BACKEND_SQLITE, err, sizeof err), 0);
    CHECK_EQ_INT(db__stmt_check(db__sql, DB_STMT__COUNT, DB_BACKEND_PG, err, sizeof err), 0);
    CHECK_EQ_INT(db__migrations_check(DB_BACKEND_SQLITE, err, sizeof err), 0);
    CHECK_EQ_INT(db__migrations_check(DB_BACKEND_PG, err, sizeof err), 0);
    for (int i = 0; i < DB_STMT__COUNT; i++) {
        const db_stmt_def_t *def = &db__sql[i];
        if (!CHECK_TRUE(def->name != NULL))
            continue;
        char *pg = db__sql_to_dollar(db__stmt_text(def, DB_BACKEND_PG));
        if (!pg)
            test__fail(__FILE__, __LINE__, "%s: a placeholder without a number", def->name);
        free(pg);
        /* a shared text needs no override: an override equal to it is a copy */
        if (def->sql && def->pg && strcmp(def->sql, def->pg) == 0)
            test__fail(__FILE__, __LINE__, "%s: PostgreSQL override equals the text", def->name);
        if (def->sql && def->sqlite && strcmp(def->sql, def->sqlite) == 0)
            test__fail(__FILE__, __LINE__, "%s: SQLite override equals the text", def->name);
    }
}

/*
 * Unit tests for src/db/db.c: database URLs (schemes, options, paths) and opening and
 * closing a handle. postgresql:// URLs are tested in db_pg.c.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "db/db.h"
#include "db/tmpdb.h"

TEST(db_open_urls)
{
    db_t *db = NULL;
    char err[256];
    /* postgresql:// URLs: tests/unit/db/db_pg.c */
    ASSERT_EQ_INT(db_open("mysql://x", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite::memory:", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite:", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite://host/x.db", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite:/tmp/x.db?synchronous=maybe", NULL, &db, err, sizeof err),
                  ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite:/tmp/x.db?bogus=1", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(db == NULL);
    ASSERT_EQ_INT(db_open("sqlite:/nonexistent-dir/a/b.db", NULL, &db, err, sizeof err),
                  ERR_UNAVAILABLE);

    char dir[] = "/tmp/jwtd-dburl-XXXXXX", url[256], path[96];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/abs.db", dir);
    snprintf(url, sizeof url, "sqlite://%s?synchronous=full&busy_timeout_ms=100&pool=2", path);
    ASSERT_EQ_INT(db_open(url, NULL, &db, err, sizeof err), 0);
    ASSERT_STR_EQ(db_backend_name(db), "sqlite");
    ASSERT_EQ_INT(db_ping(db), 0);
    db_close(db);
    ASSERT_EQ_INT(access(path, F_OK), 0);
    unlink(path);
    rmdir(dir);
}

/* The blocking pool's auto size: the cores on SQLite, 4 per core within 8..32 on PostgreSQL
   (whose calls wait on round trips and commits). */
TEST(db_pool_threads_for_each_backend)
{
    CHECK_EQ_INT(db_pool_threads_for("sqlite:/tmp/x.db", 2), 2);
    CHECK_EQ_INT(db_pool_threads_for(NULL, 4), 4);
    CHECK_EQ_INT(db_pool_threads_for("postgresql://h/db", 1), 8);
    CHECK_EQ_INT(db_pool_threads_for("postgres://h/db", 2), 8);
    CHECK_EQ_INT(db_pool_threads_for("postgresql://h/db", 4), 16);
    CHECK_EQ_INT(db_pool_threads_for("postgresql://h/db", 64), 32);
    CHECK_EQ_INT(db_pool_threads_for("mysql://h/db", 0), 1);
}

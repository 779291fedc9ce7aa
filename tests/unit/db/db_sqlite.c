/*
 * Unit tests for what is specific to src/db/db_sqlite.c: the pragmas every connection
 * gets, the background WAL checkpointer (commits reach the main database file without
 * closing the database, i.e. without relying on SQLite's autocheckpoint in the writer) and
 * a lock held by another process past the busy timeout answering ERR_UNAVAILABLE.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "db/db.h"

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(db_sqlite_background_checkpoint_moves_wal_into_the_database)
{
    char dir[] = "/tmp/jwtd-dbsq-XXXXXX", path[96], url[160], p[128];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/c.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    db_t *db;
    ASSERT_EQ_INT(db_open(url, NULL, &db, NULL, 0), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    /* journal mode is persistent in the file: check it from outside */
    sqlite3 *h;
    ASSERT_EQ_INT(sqlite3_open(path, &h), SQLITE_OK);
    sqlite3_stmt *s;
    ASSERT_EQ_INT(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_step(s), SQLITE_ROW);
    CHECK_STR_EQ((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(h);

    /* a wait so the checkpoint of the migration itself is done, then a baseline */
    struct timespec ts = {1, 500000000L};
    nanosleep(&ts, NULL);
    long before = file_size(path);
    /* ~1,500 pages of user rows (each ~3 KB of names), then the once-a-second pass */
    static char name[3000];
    memset(name, 'n', sizeof name - 1);
    for (int i = 0; i < 1500; i++) {
        char uname[32];
        snprintf(uname, sizeof uname, "user%04d", i);
        db_user_t u = {0};
        u.username = uname;
        u.first_name = name;
        u.is_active = true;
        ASSERT_EQ_INT(db_user_create(db, &u, 1000, NULL), 0);
    }
    long after = before;
    for (int i = 0; i < 100 && after < before + 1000L * 4096; i++) { /* up to 10 s */
        struct timespec tick = {0, 100000000L};
        nanosleep(&tick, NULL);
        after = file_size(path);
    }
    /* the database file grew by the checkpointed pages while the db_t is still open */
    if (!CHECK_TRUE(after >= before + 1000L * 4096)) {
        snprintf(p, sizeof p, "%s-wal", path);
        fprintf(stderr, "    db %ld -> %ld bytes, wal %ld bytes\n", before, after, file_size(p));
    }
    db_close(db);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void remove_db(const char *dir, const char *path)
{
    char p[128];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int set_role_body(db_tx_t *tx, void *arg)
{
    static const db_stmt_def_t set_role = {.name = "t_set_role",
                                           .sql = "UPDATE users SET role = ?1 WHERE id = ?2"};
    db_param_t p[] = {db_text("admin"), db_int(*(int64_t *)arg)};
    return db_tx_exec(tx, &set_role, p, DB_NPARAMS(p), NULL);
}

TEST(db_sqlite_lock_past_busy_timeout_is_unavailable)
{
    char dir[] = "/tmp/jwtd-dbsq-XXXXXX", path[96], url[200];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/l.db", dir);
    snprintf(url, sizeof url, "sqlite:%s?busy_timeout_ms=50&synchronous=off", path);
    db_t *db;
    ASSERT_EQ_INT(db_open(url, NULL, &db, NULL, 0), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    db_user_t u = {0};
    int64_t id = 0;
    u.username = (char *)"alice";
    ASSERT_EQ_INT(db_user_create(db, &u, 1000, &id), 0);

    /* another process (here: another handle) holds the write lock */
    sqlite3 *h;
    ASSERT_EQ_INT(sqlite3_open(path, &h), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(db_user_set_role(db, id, DB_ROLE_ADMIN, 1100), ERR_UNAVAILABLE);
    CHECK_EQ_INT(db_transact(db, set_role_body, &id), ERR_UNAVAILABLE);
    db_rotate_result_t r;
    CHECK_EQ_INT(db_refresh_rotate(db, "s1", "r1", "r2", 9000, 1100, 10, &r), ERR_UNAVAILABLE);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    db_rotate_result_dispose(&r);
    /* released: the same calls succeed */
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(h);
    CHECK_EQ_INT(db_transact(db, set_role_body, &id), 0);
    CHECK_EQ_INT(db_user_set_role(db, id, DB_ROLE_USER, 1200), 0);
    db_close(db);
    remove_db(dir, path);
}

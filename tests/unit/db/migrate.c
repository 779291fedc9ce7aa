/*
 * Unit tests for src/db/migrate.c: migrating is idempotent and seen by every handle, and a
 * migration over a database holding data keeps it (migration 3 over refresh tokens). With
 * JWTD_TEST_PG=1 they run on PostgreSQL (tmpdb.h).
 */
#include <stdio.h>

#include "test.h"

#include "common/err.h"
#include "db/db.h"
#include "db/tmpdb.h"

TEST(db_migrate_is_idempotent)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int v = -1, applied = -1;
    CHECK_EQ_INT(db_schema_version(t.db, &v), 0);
    CHECK_EQ_INT(v, db_schema_latest());
    CHECK_TRUE(db_schema_latest() >= 1);
    CHECK_EQ_INT(db_migrate(t.db, &applied), 0);
    CHECK_EQ_INT(applied, 0);
    /* A second handle on the same file sees the migrated schema. */
    db_t *db2;
    CHECK_EQ_INT(db_open(t.url, NULL, &db2, NULL, 0), 0);
    CHECK_EQ_INT(db_migrate(db2, &applied), 0);
    CHECK_EQ_INT(applied, 0);
    db_close(db2);
    tmpdb_close(&t);
}

/* A session and its first refresh token written with the columns of migration 1 only: the
   current db_session_create writes columns later migrations added (amr, auth_time). */
static int mksession_v1(db_t *db, int64_t uid, const char *sid, const char *jti, int64_t now,
                        int64_t exp)
{
    static const db_stmt_def_t insert = {
        .name = "test_session_v1",
        .sql = "INSERT INTO sessions (id, user_id, created_at, last_used_at, client_ip, "
               "user_agent) VALUES (?1, ?2, ?3, ?3, '127.0.0.1', 'test')"};
    db_param_t p[] = {db_text(sid), db_int(uid), db_int(now)};
    int rc = db_exec(db, &insert, p, DB_NPARAMS(p), NULL);
    if (rc != 0)
        return rc;
    db_refresh_t rt = {.issued_at = now, .expires_at = exp};
    snprintf(rt.jti, sizeof rt.jti, "%s", jti);
    snprintf(rt.sid, sizeof rt.sid, "%s", sid);
    return db_refresh_insert(db, &rt);
}

/* Migration 3 (refresh tokens keyed by (sid, jti)) over a database holding tokens: they
   keep their fields and rotate, grace and flush as before. */
TEST(db_migration_3_keeps_refresh_tokens)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open_at(&t, 2), 0);
    int v = 0;
    CHECK_EQ_INT(db_schema_version(t.db, &v), 0);
    CHECK_EQ_INT(v, 2);
    int64_t uid = tmpdb_mkuser(t.db, "alice", "");
    ASSERT_EQ_INT(mksession_v1(t.db, uid, "s1", "r1", 2000, 9000), 0);
    ASSERT_EQ_INT(mksession_v1(t.db, uid, "s2", "q1", 2000, 3000), 0);
    ASSERT_EQ_INT(db_refresh_insert(t.db, &(db_refresh_t){.jti = "p0",
                                                          .sid = "s1",
                                                          .issued_at = 1500,
                                                          .expires_at = 9000,
                                                          .used_at = 1990,
                                                          .replaced_by = "r1"}),
                  0);
    int applied = 0;
    ASSERT_EQ_INT(db_migrate(t.db, &applied), 0);
    CHECK_EQ_INT(applied, db_schema_latest() - 2);
    CHECK_EQ_INT(db_schema_version(t.db, &v), 0);
    CHECK_EQ_INT(v, db_schema_latest());

    db_refresh_t rt;
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "p0", &rt), 0);
    CHECK_EQ_INT(rt.issued_at, 1500);
    CHECK_EQ_INT(rt.used_at, 1990);
    CHECK_STR_EQ(rt.replaced_by, "r1");
    CHECK_EQ_INT(db_refresh_get(t.db, "s2", "r1", &rt), ERR_NOT_FOUND); /* not its session */

    db_rotate_result_t r;
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2100, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    CHECK_STR_EQ(r.user.username, "alice");
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r3", 9500, 2105, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_REUSED_WITHIN_GRACE);
    CHECK_STR_EQ(r.successor_jti, "r2");
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r2", &rt), 0);
    CHECK_STR_EQ(rt.parent_jti, "r1");
    /* the migrated key still refuses a duplicate within the session */
    CHECK_EQ_INT(
        db_refresh_insert(t.db, &(db_refresh_t){.jti = "r2", .sid = "s1", .expires_at = 9}),
        ERR_CONFLICT);

    /* flush (a table scan now) removes the expired token of s2 and the session with it */
    db_flush_stats_t st;
    CHECK_EQ_INT(db_flush_expired(t.db, 4000, 0, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.sessions, 1);
    CHECK_EQ_INT(db_refresh_get(t.db, "s2", "q1", &rt), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r2", &rt), 0);
    tmpdb_close(&t);
}

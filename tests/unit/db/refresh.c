/*
 * Unit tests for src/db/refresh.c: refresh rotation semantics (rotated, grace, reuse,
 * unknown, expired, watermark, inactive user), the race of N threads rotating one token
 * (exactly one successor) and the insert/lookup of tokens. With JWTD_TEST_PG=1 they run on
 * PostgreSQL.
 */
#include "test.h"

#include <pthread.h>
#include <stdio.h>

#include "common/err.h"
#include "db/db.h"
#include "db/tmpdb.h"

TEST(db_refresh_rotation_semantics)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = tmpdb_mkuser(t.db, "alice", "");
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    db_rotate_result_t r;

    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2100, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    CHECK_STR_EQ(r.successor_jti, "r2");
    CHECK_STR_EQ(r.sid, "s1");
    CHECK_EQ_INT(r.user_id, uid);
    CHECK_STR_EQ(r.user.username, "alice");
    CHECK_EQ_INT(r.successor_issued_at, 2100);
    CHECK_EQ_INT(r.successor_expires_at, 9500);
    db_rotate_result_dispose(&r);
    db_refresh_t rt;
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r1", &rt), 0);
    CHECK_EQ_INT(rt.used_at, 2100);
    CHECK_STR_EQ(rt.replaced_by, "r2");
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r2", &rt), 0);
    CHECK_STR_EQ(rt.parent_jti, "r1");
    CHECK_STR_EQ(rt.sid, "s1");
    CHECK_EQ_INT(rt.used_at, 0);
    db_session_t s;
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.last_used_at, 2100);
    db_session_dispose(&s);

    /* again within the grace: the same successor, nothing new written */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r3", 9600, 2110, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_REUSED_WITHIN_GRACE);
    CHECK_STR_EQ(r.successor_jti, "r2");
    CHECK_EQ_INT(r.successor_issued_at, 2100);
    CHECK_EQ_INT(r.successor_expires_at, 9500);
    CHECK_STR_EQ(r.user.username, "alice");
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r3", &rt), ERR_NOT_FOUND);

    /* the successor rotates normally */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r2", "r3", 9700, 2200, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    db_rotate_result_dispose(&r);

    /* r1 after the grace: reuse, the whole session dies */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r4", 9800, 2111, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_REUSE_DETECTED);
    CHECK_STR_EQ(r.reason, "reuse");
    CHECK_STR_EQ(r.sid, "s1");
    CHECK_EQ_INT(r.user_id, uid);
    CHECK_TRUE(r.user.username == NULL);
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 2111);
    db_session_dispose(&s);
    /* and the live head of the family no longer rotates */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r3", "r5", 9800, 2300, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "session_revoked");
    db_rotate_result_dispose(&r);

    /* unknown, expired, bad ids */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "nope", "r6", 9800, 2300, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "unknown");
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s2", "q1", 3000, 4000), 0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s2", "q1", "q2", 9800, 4000, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "expired");
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s2", "q1", "", 9800, 3500, 10, &r), ERR_INVALID);
    /* new jti colliding with one of the session's: error, nothing changed */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s2", "q1", "q1", 9800, 3500, 10, &r), ERR_CONFLICT);
    CHECK_EQ_INT(db_refresh_get(t.db, "s2", "q1", &rt), 0);
    CHECK_EQ_INT(rt.used_at, 0);

    /* watermark and inactive user */
    CHECK_EQ_INT(db_user_revoke_all(t.db, uid, 3200, NULL), 0);
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s3", "w1", 3300, 9000), 0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s3", "w1", "w2", 9800, 3400, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(
        db_refresh_insert(
            t.db,
            &(db_refresh_t){.jti = "old", .sid = "s3", .issued_at = 3100, .expires_at = 9000}),
        0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s3", "old", "w3", 9800, 3400, 10, &r), 0);
    CHECK_STR_EQ(r.reason, "watermark");
    CHECK_EQ_INT(db_user_set_active(t.db, uid, false, 3500), 0);
    CHECK_EQ_INT(db_session_revoke(t.db, "s3", 0, NULL), 0); /* no-op: already revoked */
    CHECK_EQ_INT(
        db_refresh_insert(
            t.db, &(db_refresh_t){.jti = "x", .sid = "zz", .issued_at = 1, .expires_at = 2}),
        ERR_NOT_FOUND);
    tmpdb_close(&t);
}

TEST(db_refresh_rotation_inactive_user)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = tmpdb_mkuser(t.db, "alice", "");
    /* deactivation at 1500 revokes what exists; a session created later (which the auth
       layer would refuse) still cannot refresh while the user is inactive */
    ASSERT_EQ_INT(db_user_set_active(t.db, uid, false, 1500), 0);
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    db_rotate_result_t r;
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2100, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "user_inactive");
    CHECK_EQ_INT(db_user_set_active(t.db, uid, true, 2200), 0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2300, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    db_rotate_result_dispose(&r);
    tmpdb_close(&t);
}

struct race {
    db_t *db;
    int idx;
    int rc;
    db_rotate_result_t r;
    pthread_barrier_t *barrier;
};

static void *race_main(void *arg)
{
    struct race *x = arg;
    char jti[32];
    snprintf(jti, sizeof jti, "new%02d", x->idx);
    pthread_barrier_wait(x->barrier);
    x->rc = db_refresh_rotate(x->db, "s1", "r1", jti, 9500, 2100, 10, &x->r);
    return NULL;
}

TEST(db_refresh_rotation_thread_race_yields_one_successor)
{
    enum { N = 12, ROUNDS = 5 };
    for (int round = 0; round < ROUNDS; round++) {
        struct tmpdb t;
        ASSERT_EQ_INT(tmpdb_open(&t), 0);
        int64_t uid = tmpdb_mkuser(t.db, "alice", "");
        ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, N);
        pthread_t th[N];
        struct race x[N];
        for (int i = 0; i < N; i++) {
            x[i] = (struct race){.db = t.db, .idx = i, .barrier = &barrier};
            pthread_create(&th[i], NULL, race_main, &x[i]);
        }
        for (int i = 0; i < N; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&barrier);
        int rotated = 0, grace = 0;
        const char *winner = NULL;
        for (int i = 0; i < N; i++) {
            CHECK_EQ_INT(x[i].rc, 0);
            if (x[i].r.status == DB_ROTATE_ROTATED) {
                rotated++;
                winner = x[i].r.successor_jti;
            } else if (x[i].r.status == DB_ROTATE_REUSED_WITHIN_GRACE) {
                grace++;
            }
        }
        CHECK_EQ_INT(rotated, 1);
        CHECK_EQ_INT(grace, N - 1);
        for (int i = 0; winner && i < N; i++)
            CHECK_STR_EQ(x[i].r.successor_jti, winner);
        /* exactly one successor row exists */
        int rows = 0;
        for (int i = 0; i < N; i++) {
            char jti[32];
            db_refresh_t rt;
            snprintf(jti, sizeof jti, "new%02d", i);
            if (db_refresh_get(t.db, "s1", jti, &rt) == 0)
                rows++;
        }
        CHECK_EQ_INT(rows, 1);
        for (int i = 0; i < N; i++)
            db_rotate_result_dispose(&x[i].r);
        tmpdb_close(&t);
        if (test__failed())
            return;
    }
}

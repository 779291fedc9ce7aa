/*
 * Unit tests for src/db/flush.c: what db_flush_expired deletes (expired refresh tokens and
 * revocations, sessions without tokens past the retention) and what it keeps (a revoked
 * session while its access tokens may live). With JWTD_TEST_PG=1 they run on PostgreSQL.
 */
#include "test.h"

#include "common/err.h"
#include "db/db.h"
#include "db/tmpdb.h"

TEST(db_flush_expired_tokens_revocations_and_sessions)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    ASSERT_EQ_INT(db_revoked_insert(t.db, "a1", 5000, 1000, "logout"), 0);
    ASSERT_EQ_INT(db_revoked_insert(t.db, "a2", 3000, 1000, "admin"), 0);
    int64_t uid = tmpdb_mkuser(t.db, "alice", "");
    /* s1: revoked at 2000, token expires 4000. s2: live, token expires 9000.
       s3: never revoked, token expired at 2500, idle since 2000. */
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r1", 1000, 4000), 0);
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s2", "r2", 1000, 9000), 0);
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s3", "r3", 1000, 2500), 0);
    ASSERT_EQ_INT(db_session_revoke(t.db, "s1", 2000, NULL), 0);

    db_flush_stats_t st;
    /* at 3000 with 900 s retention: r3 and a2 go; s3 has no token left but was used at
       1000 <= 2100, so it goes; s1 still has r1 */
    CHECK_EQ_INT(db_flush_expired(t.db, 3000, 900, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.revoked_tokens, 1);
    CHECK_EQ_INT(st.sessions, 1);
    db_session_t s;
    CHECK_EQ_INT(db_session_get(t.db, "s3", &s), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    db_session_dispose(&s);
    /* at 4500: r1 expired, s1 (revoked at 2000 <= 3600) goes with it; s2 stays */
    CHECK_EQ_INT(db_flush_expired(t.db, 4500, 900, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.sessions, 1);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_get(t.db, "s2", &s), 0);
    db_session_dispose(&s);
    /* a recently revoked session outlives its tokens by the retention */
    ASSERT_EQ_INT(db_session_revoke(t.db, "s2", 8800, NULL), 0);
    CHECK_EQ_INT(db_flush_expired(t.db, 9100, 900, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.sessions, 0);
    CHECK_EQ_INT(db_flush_expired(t.db, 9701, 900, NULL), 0);
    CHECK_EQ_INT(db_session_get(t.db, "s2", &s), ERR_NOT_FOUND);
    tmpdb_close(&t);
}

/*
 * Unit tests for src/db/sessions.c: login (session + first refresh token in one
 * transaction, nothing left behind by a failed one), lookups, the throttled touch,
 * revocation and the active and revoked lists. With JWTD_TEST_PG=1 they run on PostgreSQL.
 */
#include "test.h"

#include "common/err.h"
#include "db/db.h"
#include "db/tmpdb.h"

TEST(db_sessions_lifecycle)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = tmpdb_mkuser(t.db, "alice", "a@x.org");
    ASSERT_TRUE(uid > 0);
    CHECK_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    CHECK_EQ_INT(tmpdb_mksession(t.db, uid, "s2", "r2", 2100, 9000), 0);
    CHECK_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r3", 2100, 9000), ERR_CONFLICT); /* dup sid */
    /* a refresh token's key is (sid, jti): a jti is unique within its session (jtis are 128
       random bits, so another session's equal jti is a different token, not a conflict) */
    CHECK_EQ_INT(
        db_refresh_insert(t.db, &(db_refresh_t){.jti = "r1", .sid = "s1", .expires_at = 9}),
        ERR_CONFLICT);
    CHECK_EQ_INT(tmpdb_mksession(t.db, 999, "s4", "r4", 2100, 9000), ERR_NOT_FOUND); /* no user */
    /* the failed transactions left nothing behind */
    db_session_t s;
    CHECK_EQ_INT(db_session_get(t.db, "s3", &s), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_get(t.db, "s4", &s), ERR_NOT_FOUND);

    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_STR_EQ(s.sid, "s1");
    CHECK_EQ_INT(s.user_id, uid);
    CHECK_EQ_INT(s.created_at, 2000);
    CHECK_EQ_INT(s.last_used_at, 2000);
    CHECK_EQ_INT(s.revoked_at, 0);
    CHECK_STR_EQ(s.client_ip, "127.0.0.1");
    CHECK_STR_EQ(s.user_agent, "test?agent");
    db_session_dispose(&s);
    db_user_t u;
    CHECK_EQ_INT(db_user_find_by_id(t.db, uid, &u), 0);
    CHECK_EQ_INT(u.last_login, 2100); /* login records last_login */
    db_user_dispose(&u);

    db_refresh_t rt;
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r1", &rt), 0);
    CHECK_STR_EQ(rt.sid, "s1");
    CHECK_STR_EQ(rt.parent_jti, "");
    CHECK_EQ_INT(rt.issued_at, 2000);
    CHECK_EQ_INT(rt.expires_at, 9000);
    CHECK_EQ_INT(rt.used_at, 0);
    CHECK_STR_EQ(rt.replaced_by, "");
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "nope", &rt), ERR_NOT_FOUND);

    /* touch is throttled */
    CHECK_EQ_INT(db_session_touch(t.db, "s1", 2030, 60), 0);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.last_used_at, 2000);
    db_session_dispose(&s);
    CHECK_EQ_INT(db_session_touch(t.db, "s1", 2061, 60), 0);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.last_used_at, 2061);
    db_session_dispose(&s);
    CHECK_EQ_INT(db_session_touch(t.db, "zz", 2061, 60), ERR_NOT_FOUND);

    db_session_list_t l;
    CHECK_EQ_INT(db_session_list_active(t.db, uid, 3000, &l), 0);
    CHECK_EQ_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR_EQ(l.items[0].sid, "s2"); /* newest use first */
        CHECK_STR_EQ(l.items[1].sid, "s1");
    }
    db_session_list_dispose(&l);
    CHECK_EQ_INT(db_session_list_active(t.db, uid, 9000, &l), 0); /* tokens expired */
    CHECK_EQ_INT(l.count, 0);
    db_session_list_dispose(&l);

    bool was = false;
    CHECK_EQ_INT(db_session_revoke(t.db, "s1", 3000, &was), 0);
    CHECK_TRUE(was);
    CHECK_EQ_INT(db_session_revoke(t.db, "s1", 3001, &was), 0);
    CHECK_TRUE(!was);
    CHECK_EQ_INT(db_session_revoke(t.db, "zz", 3001, &was), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_list_active(t.db, uid, 3000, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    db_session_list_dispose(&l);
    CHECK_EQ_INT(db_session_list_revoked(t.db, 2500, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    if (l.count == 1) {
        CHECK_STR_EQ(l.items[0].sid, "s1");
        CHECK_EQ_INT(l.items[0].revoked_at, 3000);
    }
    db_session_list_dispose(&l);
    CHECK_EQ_INT(db_session_list_revoked(t.db, 3001, &l), 0);
    CHECK_EQ_INT(l.count, 0);
    db_session_list_dispose(&l);

    uint32_t n = 0;
    CHECK_EQ_INT(db_session_revoke_all_for_user(t.db, uid, 3100, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 3000); /* an earlier revocation is kept */
    db_session_dispose(&s);
    tmpdb_close(&t);
}

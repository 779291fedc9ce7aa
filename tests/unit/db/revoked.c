/*
 * Unit tests for src/db/revoked.c: recording access-token revocations (idempotent, ids
 * checked) and listing the live ones. With JWTD_TEST_PG=1 they run on PostgreSQL.
 */
#include "test.h"

#include "common/err.h"
#include "db/db.h"
#include "db/tmpdb.h"

TEST(db_revoked_tokens_insert_and_list)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    CHECK_EQ_INT(db_revoked_insert(t.db, "a1", 5000, 1000, "logout"), 0);
    CHECK_EQ_INT(db_revoked_insert(t.db, "a1", 5000, 1001, "logout"), 0); /* idempotent */
    CHECK_EQ_INT(db_revoked_insert(t.db, "a2", 3000, 1000, "admin"), 0);
    CHECK_EQ_INT(db_revoked_insert(t.db, "", 3000, 1000, "admin"), ERR_INVALID);
    db_revoked_list_t rl;
    CHECK_EQ_INT(db_revoked_list(t.db, 2000, &rl), 0);
    CHECK_EQ_INT(rl.count, 2);
    db_revoked_list_dispose(&rl);
    CHECK_EQ_INT(db_revoked_list(t.db, 3000, &rl), 0);
    CHECK_EQ_INT(rl.count, 1);
    if (rl.count == 1) {
        CHECK_STR_EQ(rl.items[0].jti, "a1");
        CHECK_EQ_INT(rl.items[0].expires_at, 5000);
    }
    db_revoked_list_dispose(&rl);
    CHECK_EQ_INT(db_revoked_list(t.db, 5000, &rl), 0);
    CHECK_EQ_INT(rl.count, 0);
    CHECK_TRUE(rl.items == NULL);
    db_revoked_list_dispose(&rl);
    tmpdb_close(&t);
}

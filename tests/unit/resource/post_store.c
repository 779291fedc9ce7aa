/*
 * Unit tests for src/resource/post_store.c: posts created, read with their author, paged
 * newest first, updated and deleted through db's statement runner, with db's error mapping
 * (a missing author is ERR_NOT_FOUND). With JWTD_TEST_PG=1 they run on PostgreSQL
 * (tests/unit/db/tmpdb.h).
 */
#include "test.h"

#include <stdio.h>

#include "common/err.h"
#include "db/tmpdb.h"
#include "resource/post_store.h"

TEST(resource_post_store_crud_and_pages)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t alice = tmpdb_mkuser(t.db, "alice", "alice@example.com");
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char title[16];
        snprintf(title, sizeof title, "t%d", i);
        ASSERT_EQ_INT(resource_post_create(t.db, alice, title, "body \xc3\xa9", 100 + i, &ids[i]),
                      0);
    }
    CHECK_EQ_INT(resource_post_create(t.db, 999999, "x", "y", 1, NULL), ERR_NOT_FOUND);
    resource_post_t p;
    ASSERT_EQ_INT(resource_post_get(t.db, ids[2], &p), 0);
    CHECK_STR_EQ(p.title, "t2");
    CHECK_STR_EQ(p.body, "body \xc3\xa9");
    CHECK_STR_EQ(p.author, "alice");
    CHECK_TRUE(p.author_id == alice && p.created_at == 102 && p.updated_at == 102);
    resource_post_dispose(&p);
    resource_post_list_t l;
    int64_t total = 0;
    ASSERT_EQ_INT(resource_post_list(t.db, 1, 2, &l, &total), 0);
    CHECK_TRUE(total == 5 && l.count == 2);
    CHECK_TRUE(l.items[0].id == ids[3] && l.items[1].id == ids[2]); /* newest first */
    resource_post_list_dispose(&l);
    ASSERT_EQ_INT(resource_post_list(t.db, 10, 2, &l, &total), 0);
    CHECK_TRUE(l.count == 0 && total == 5);
    resource_post_list_dispose(&l);
    CHECK_EQ_INT(resource_post_list(t.db, 0, 0, &l, NULL), ERR_INVALID);
    CHECK_EQ_INT(resource_post_update(t.db, ids[0], "new", "text", 500), 0);
    ASSERT_EQ_INT(resource_post_get(t.db, ids[0], &p), 0);
    CHECK_TRUE(strcmp(p.title, "new") == 0 && p.updated_at == 500 && p.created_at == 100);
    resource_post_dispose(&p);
    CHECK_EQ_INT(resource_post_update(t.db, 999999, "a", "b", 1), ERR_NOT_FOUND);
    CHECK_EQ_INT(resource_post_delete(t.db, ids[0]), 0);
    CHECK_EQ_INT(resource_post_delete(t.db, ids[0]), ERR_NOT_FOUND);
    CHECK_EQ_INT(resource_post_get(t.db, ids[0], &p), ERR_NOT_FOUND);
    tmpdb_close(&t);
}

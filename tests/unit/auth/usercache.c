/*
 * Unit tests for src/auth/usercache.c: the table behind the user cache (internal API of
 * auth_internal.h): bounded, replaced entries, the minimum load time.
 */
#include "auth/auth_internal.h"
#include "common/err.h"
#include "test.h"

TEST(auth_usercache_bounded)
{
    auth_ucache_t *c = auth__ucache_new(4);
    for (int64_t i = 1; i <= 10; i++)
        auth__ucache_put(c, i, true, "{}", 2, 100);
    CHECK_TRUE(auth__ucache_count(c) <= 4);
    char out[8];
    size_t len;
    bool active;
    CHECK_EQ_INT(auth__ucache_get(c, 10, 0, out, sizeof out, &len, &active), 0);
    auth__ucache_put(c, 10, false, "{\"a\":1}", 7, 200);
    CHECK_EQ_INT(auth__ucache_get(c, 10, 150, out, sizeof out, &len, &active), 0);
    CHECK_EQ_INT(len, 7);
    CHECK_TRUE(!active);
    CHECK_EQ_INT(auth__ucache_get(c, 10, 201, out, sizeof out, &len, &active), ERR_NOT_FOUND);
    auth__ucache_free(c);
}

/* Versioned fills: a fill whose ticket predates a drop of its user stores nothing. */
TEST(auth_usercache_put_if_after_drop_is_refused)
{
    auth_ucache_t *c = auth__ucache_new(16);
    char out[16];
    size_t len;
    bool active;
    /* begin fill (ticket) -> the writer drops the user -> conditional put -> miss */
    uint64_t t = auth__ucache_ticket(c, 5);
    auth__ucache_drop(c, 5);
    CHECK_TRUE(!auth__ucache_put_if(c, 5, true, "{\"old\":1}", 9, 100, t));
    CHECK_EQ_INT(auth__ucache_get(c, 5, 0, out, sizeof out, &len, &active), ERR_NOT_FOUND);
    /* a fill begun after the drop, and one with no drop at all, are hits later */
    t = auth__ucache_ticket(c, 5);
    CHECK_TRUE(auth__ucache_put_if(c, 5, true, "{\"new\":1}", 9, 100, t));
    CHECK_EQ_INT(auth__ucache_get(c, 5, 0, out, sizeof out, &len, &active), 0);
    CHECK_MEM_EQ(out, "{\"new\":1}", 9);
    t = auth__ucache_ticket(c, 6);
    CHECK_TRUE(auth__ucache_put_if(c, 6, false, "{}", 2, 100, t));
    CHECK_EQ_INT(auth__ucache_get(c, 6, 0, out, sizeof out, &len, &active), 0);
    CHECK_TRUE(!active);
    auth__ucache_free(c);
}

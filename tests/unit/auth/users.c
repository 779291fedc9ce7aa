/*
 * Unit tests for src/auth/users.c: the user cache behind auth_user_cached (filled by a
 * login, TTL, invalidation, loading). Against the fixture of fx.h.
 */
#include "fx.h"
#include "test.h"

TEST(auth_user_cache_fill_ttl_invalidate)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    char out[512];
    size_t len = 0;
    bool active = false;
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0); /* login fills the cache */
    ASSERT_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_TRUE(active);
    CHECK_EQ_INT(len, p.user_json_len);
    CHECK_MEM_EQ(out, p.user_json, len);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, 4, &len, &active), ERR_TOO_LARGE);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now + 61, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND); /* stale after the TTL */
    auth_user_invalidate(f.auth, f.uid);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    ASSERT_EQ_INT(auth_user_load(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_EQ_INT(auth_user_load(f.auth, 424242, now), ERR_NOT_FOUND);
    /* a deactivation made by this process drops the entry */
    ASSERT_EQ_INT(auth_user_set_active(f.auth, f.uid, false, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    ASSERT_EQ_INT(auth_user_load(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_TRUE(!active);
    auth_pair_dispose(&p);
    fx_close(&f);
}

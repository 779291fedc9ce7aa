/*
 * Unit tests for src/auth/auth.c: the cache groups other modules register (their limits,
 * and a refresh dropping the user's registered groups, not the others). Against the
 * fixture of fx.h, whose store is the embedded one (its cache answers at once).
 */
#include <inttypes.h>

#include "fx.h"
#include "test.h"

TEST(auth_cache_group_register_limits)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    CHECK_EQ_INT(auth_cache_group_register(f.auth, NULL), ERR_INVALID);
    CHECK_EQ_INT(auth_cache_group_register(f.auth, ""), ERR_INVALID);
    /* under 24 bytes */
    CHECK_EQ_INT(auth_cache_group_register(f.auth, "abcdefghijklmnopqrstuvwx"), ERR_INVALID);
    CHECK_EQ_INT(auth_cache_group_register(f.auth, "abcdefghijklmnopqrstuvw"), 0);
    /* at most 8 */
    char prefix[16];
    for (int i = 1; i < 8; i++) {
        snprintf(prefix, sizeof prefix, "g%d:", i);
        CHECK_EQ_INT(auth_cache_group_register(f.auth, prefix), 0);
    }
    CHECK_EQ_INT(auth_cache_group_register(f.auth, "g8:"), ERR_INVALID);
    fx_close(&f);
}

/* Whether key is in the service's cache. */
static bool cached(struct fx *f, const char *key)
{
    char v[64];
    size_t len = 0;
    return store_cache_get_sync(auth_store(f->auth), key, v, sizeof v, &len) == 0;
}

/* Puts key in group "<prefix><user_id>". */
static void put(struct fx *f, const char *key, const char *prefix, int64_t user_id)
{
    char group[64];
    snprintf(group, sizeof group, "%s%" PRId64, prefix, user_id);
    store_cache_set(auth_store(f->auth), key, STR_LIT("v"), 600, group);
}

/* Registers "orders:user:", fills a registered group of alice and of another user and an
   unregistered group of alice, refreshes alice's session (as configured), and checks that
   only alice's registered group is gone. */
static void refresh_drops_registered_group(const auth_options_t *o)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, o), 0);
    int64_t now = clock_now_s();
    ASSERT_EQ_INT(auth_cache_group_register(f.auth, "orders:user:"), 0);
    put(&f, "orders:alice:1", "orders:user:", f.uid);
    put(&f, "orders:alice:2", "orders:user:", f.uid);
    put(&f, "orders:other:1", "orders:user:", f.uid + 1);
    put(&f, "posts:alice:1", "posts:user:", f.uid); /* a group nobody registered */
    ASSERT_TRUE(cached(&f, "orders:alice:1") && cached(&f, "posts:alice:1"));

    auth_pair_t p = {0}, r = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    /* a login is not a renewal */
    CHECK_TRUE(cached(&f, "orders:alice:1"));
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now + 1, &r, &v), 0);
    ASSERT_EQ_INT(v, AUTH_OK);
    CHECK_TRUE(!cached(&f, "orders:alice:1"));
    CHECK_TRUE(!cached(&f, "orders:alice:2"));
    CHECK_TRUE(cached(&f, "orders:other:1"));
    CHECK_TRUE(cached(&f, "posts:alice:1"));
    auth_pair_dispose(&p);
    auth_pair_dispose(&r);
    fx_close(&f);
}

TEST(auth_refresh_drops_registered_cache_groups)
{
    auth_options_t o;
    fx_options(&o);
    refresh_drops_registered_group(&o);
}

TEST(auth_refresh_without_rotation_drops_registered_cache_groups)
{
    auth_options_t o;
    fx_options(&o);
    o.rotate_refresh_tokens = false;
    refresh_drops_registered_group(&o);
}

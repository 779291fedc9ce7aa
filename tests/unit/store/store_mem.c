/*
 * Unit tests for src/store/store_mem.c: the embedded store's revocation calls, the pull
 * feed (initial load, since bounds with overlap, the background poll, failures) and close.
 */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "store/store.h"

struct feed {
    atomic_int calls;
    atomic_int fail;          /* return ERR_UNAVAILABLE while set */
    atomic_llong last_since;  /* since of the last call */
    atomic_llong first_since; /* since of the first call */
    int64_t revoke_user;      /* when > 0, the pull sets this user's watermark */
};

static int on_pull(void *arg, store_t *st, int64_t since, int64_t now)
{
    struct feed *f = arg;
    if (atomic_fetch_add(&f->calls, 1) == 0)
        f->first_since = since;
    f->last_since = since;
    if (f->fail)
        return ERR_UNAVAILABLE;
    if (f->revoke_user > 0)
        store_revoke_user(st, f->revoke_user, now, now + 100);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static store_id_t id_of(const char *hex)
{
    store_id_t id;
    if (store_id_parse(str_cstr(hex), &id) != 0)
        memset(&id, 0, sizeof id);
    return id;
}

TEST(store_mem_revoke_and_check)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    store_id_t jti = id_of("00112233445566778899aabbccddeeff");
    store_id_t sid = id_of("ffeeddccbbaa99887766554433221100");
    store_id_t other = id_of("0123456789abcdef0123456789abcdef");
    store_token_ref_t ref = {&other, &other, 7, 1000};
    CHECK_EQ_INT(store_check(st, &ref), STORE_NOT_REVOKED);
    store_revoke_jti(st, &jti, clock_now_s() + 100);
    ref.jti = &jti;
    CHECK_EQ_INT(store_check(st, &ref), STORE_REVOKED_JTI);
    ref.jti = &other;
    store_revoke_sid(st, &sid, clock_now_s() + 100);
    ref.sid = &sid;
    CHECK_EQ_INT(store_check(st, &ref), STORE_REVOKED_SID);
    ref.sid = NULL;
    store_revoke_user(st, 7, 2000, clock_now_s() + 100);
    CHECK_EQ_INT(store_check(st, &ref), STORE_REVOKED_WATERMARK);
    ref.iat = 2000; /* issued at the watermark: not revoked */
    CHECK_EQ_INT(store_check(st, &ref), STORE_NOT_REVOKED);
    store_stats_t s;
    store_stats(st, &s);
    CHECK_EQ_INT(s.index.jtis, 1);
    CHECK_EQ_INT(s.index.sids, 1);
    CHECK_EQ_INT(s.index.users, 1);
    store_close(st);
}

TEST(store_mem_feed_thread_pulls_everything_then_polls_with_overlap)
{
    struct feed f = {0};
    f.revoke_user = 42;
    store_options_t o = {on_pull, &f, 20, 50, 10};
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(&o, &st), 0);
    ASSERT_EQ_INT(store_start(st), 0);
    CHECK_EQ_INT(f.first_since, 0); /* the initial load asks for everything */
    store_token_ref_t ref = {NULL, NULL, 42, 0};
    CHECK_EQ_INT(store_check(st, &ref), STORE_REVOKED_WATERMARK);
    /* the feed thread polls every 20 ms: wait for 4 pulls (up to 10 s on a slow machine) */
    for (int i = 0; i < 500 && atomic_load(&f.calls) < 4; i++)
        sleep_ms(20);
    CHECK_TRUE(atomic_load(&f.calls) >= 4);
    int64_t now = clock_now_s();
    /* later pulls start at the last good pull minus the overlap */
    CHECK_TRUE(f.last_since >= now - 12 && f.last_since <= now - 9);
    store_stats_t s;
    store_stats(st, &s);
    CHECK_TRUE(s.pulls_ok >= 4);
    CHECK_EQ_INT(s.pulls_failed, 0);
    store_close(st); /* joins the feed thread promptly */
}

TEST(store_mem_start_fails_when_the_initial_pull_fails)
{
    struct feed f = {0};
    f.fail = 1;
    store_options_t o = {on_pull, &f, 20, 0, 0};
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(&o, &st), 0);
    CHECK_EQ_INT(store_start(st), ERR_UNAVAILABLE);
    /* a failed pull keeps since at 0 (nothing was loaded yet) */
    f.fail = 0;
    CHECK_EQ_INT(store_sync(st), 0);
    CHECK_EQ_INT(f.last_since, 0);
    store_stats_t s;
    store_stats(st, &s);
    CHECK_EQ_INT(s.pulls_failed, 1);
    CHECK_EQ_INT(s.pulls_ok, 1);
    store_close(st); /* never started: no thread to join */
}

TEST(store_mem_sync_without_feed_is_a_noop)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    CHECK_EQ_INT(store_start(st), 0);
    CHECK_EQ_INT(store_sync(st), 0);
    store_close(st);
    store_close(NULL);
}

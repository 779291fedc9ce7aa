/*
 * Unit tests for src/store/store_local.c and the embedded dispatch of store_redis.c: the
 * GCRA arithmetic (burst, steady rate, Retry-After, peek, forced counts), multi-bucket
 * checks (all-or-nothing), blocks, and the cache (TTL, groups, delete) through store.h.
 */
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/store.h"
#include "store/store_internal.h"

#define S 1000000LL /* one second in microseconds */

TEST(store_gcra_burst_then_steady_rate)
{
    int64_t tat = 0, now = 1000 * S;
    for (int i = 0; i < 5; i++) /* 5/minute: five at once */
        ASSERT_EQ_INT(store__gcra(&tat, 5, 60, now, STORE_RATE_CONSUME), 0);
    int64_t wait = store__gcra(&tat, 5, 60, now, STORE_RATE_CONSUME);
    CHECK_EQ_INT(wait, 12 * S); /* one every 12 s */
    CHECK_EQ_INT(store__gcra(&tat, 5, 60, now + 12 * S - 1, STORE_RATE_CONSUME), 1);
    CHECK_EQ_INT(store__gcra(&tat, 5, 60, now + 12 * S, STORE_RATE_CONSUME), 0);
    CHECK_EQ_INT(store__gcra(&tat, 5, 60, now + 12 * S, STORE_RATE_CONSUME), 12 * S);
    /* after a quiet full period the whole burst is back */
    int64_t later = now + 200 * S;
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(store__gcra(&tat, 5, 60, later, STORE_RATE_CONSUME), 0);
}

TEST(store_gcra_peek_force_and_unlimited)
{
    int64_t tat = 0, now = 50 * S;
    for (int i = 0; i < 10; i++) /* peeking never counts */
        CHECK_EQ_INT(store__gcra(&tat, 2, 10, now, STORE_RATE_PEEK), 0);
    CHECK_EQ_INT(tat, 0);
    for (int i = 0; i < 10; i++) /* forced counts saturate at one period ahead */
        store__gcra(&tat, 2, 10, now, STORE__RATE_FORCE);
    CHECK_EQ_INT(tat, now + 10 * S);
    CHECK_TRUE(store__gcra(&tat, 2, 10, now, STORE_RATE_PEEK) > 0);
    CHECK_EQ_INT(store__gcra(&tat, 2, 10, now + 5 * S, STORE_RATE_PEEK), 0);
    int64_t t2 = 0;
    CHECK_EQ_INT(store__gcra(&t2, 0, 10, now, STORE_RATE_CONSUME), 0); /* count 0: unlimited */
}

TEST(store_gcra_refund_gives_one_back_never_below_empty)
{
    int64_t tat = 0, now = 50 * S;
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(store__gcra(&tat, 2, 10, now, STORE_RATE_CONSUME), 0);
    CHECK_TRUE(store__gcra(&tat, 2, 10, now, STORE_RATE_CONSUME) > 0);
    store__gcra(&tat, 2, 10, now, STORE__RATE_REFUND);
    CHECK_EQ_INT(tat, now + 5 * S);
    CHECK_EQ_INT(store__gcra(&tat, 2, 10, now, STORE_RATE_CONSUME), 0); /* the slot is back */
    for (int i = 0; i < 5; i++)
        store__gcra(&tat, 2, 10, now, STORE__RATE_REFUND);
    CHECK_EQ_INT(tat, now); /* an empty bucket: no credit beyond the burst */
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(store__gcra(&tat, 2, 10, now, STORE_RATE_CONSUME), 0);
    CHECK_TRUE(store__gcra(&tat, 2, 10, now, STORE_RATE_CONSUME) > 0);
}

struct rate_out {
    int calls;
    store_rate_result_t r;
};

static void on_rate(void *arg, const store_rate_result_t *r)
{
    struct rate_out *o = arg;
    o->calls++;
    o->r = *r;
}

TEST(store_rate_refund_embedded)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    store_rate_t acct = {"login:user:carol", 2, 3600, STORE_RATE_CONSUME};
    struct rate_out o = {0};
    for (int i = 0; i < 2; i++) {
        store_rate_check(st, &acct, 1, on_rate, &o);
        CHECK_TRUE(o.r.allowed);
    }
    store_rate_check(st, &acct, 1, on_rate, &o);
    CHECK_TRUE(!o.r.allowed);
    store_rate_refund(st, "login:user:carol", 2, 3600);
    store_rate_check(st, &acct, 1, on_rate, &o);
    CHECK_TRUE(o.r.allowed);
    store_rate_check(st, &acct, 1, on_rate, &o);
    CHECK_TRUE(!o.r.allowed);
    store_close(st);
}

TEST(store_rate_check_all_or_nothing)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    store_rate_t ip = {"login:ip:192.0.2.1", 3, 60, STORE_RATE_CONSUME};
    store_rate_t user = {"login:user:bob", 1, 60, STORE_RATE_PEEK};
    store_rate_t both[] = {ip, user};
    struct rate_out o = {0};
    for (int i = 0; i < 3; i++) {
        store_rate_check(st, both, 2, on_rate, &o);
        CHECK_TRUE(o.r.allowed);
        CHECK_TRUE(o.r.local);
    }
    CHECK_EQ_INT(o.calls, 3); /* embedded: the callback runs before the call returns */
    store_rate_check(st, both, 2, on_rate, &o);
    CHECK_TRUE(!o.r.allowed);
    CHECK_EQ_INT(o.r.denied_by, 0);
    CHECK_TRUE(o.r.retry_after_s >= 19 && o.r.retry_after_s <= 20);
    /* a failure counted against bob: the user bucket (peek) now denies, and a denied check
       consumes nothing from the other buckets */
    store_rate_consume(st, "login:user:bob", 1, 60);
    store_rate_t ip2 = {"login:ip:192.0.2.2", 3, 60, STORE_RATE_CONSUME};
    store_rate_t both2[] = {ip2, user};
    store_rate_check(st, both2, 2, on_rate, &o);
    CHECK_TRUE(!o.r.allowed);
    CHECK_EQ_INT(o.r.denied_by, 1);
    store_rate_check(st, &ip2, 1, on_rate, &o);
    store_rate_check(st, &ip2, 1, on_rate, &o);
    store_rate_check(st, &ip2, 1, on_rate, &o);
    CHECK_TRUE(o.r.allowed); /* still three left for 192.0.2.2 */
    store_close(st);
}

/* Threads checking one bucket, each beside a key of its own and a second shared bucket given
 * in the opposite order by half of them (the shards are locked in one order, whatever the
 * request's): exactly the bucket's count is allowed, and nobody deadlocks. */
struct rate_thread {
    store_local_t *l;
    int id;
    int allowed;
};

static void *rate_thread_run(void *arg)
{
    struct rate_thread *t = arg;
    char own[32];
    snprintf(own, sizeof own, "own:%d", t->id);
    for (int i = 0; i < 3000; i++) {
        store_rate_t a = {"shared:a", 5000, 3600, STORE_RATE_CONSUME};
        store_rate_t b = {"shared:b", 1000000, 3600, STORE_RATE_CONSUME};
        store_rate_t o = {own, 1000000, 3600, STORE_RATE_CONSUME};
        store_rate_t even[] = {a, b, o}, odd[] = {o, b, a};
        store_rate_result_t res;
        store__local_rate_check(t->l, t->id % 2 ? odd : even, 3, 1000 * S, &res);
        t->allowed += res.allowed;
    }
    return NULL;
}

TEST(store_local_rate_exact_across_threads)
{
    store_local_t *l = store__local_new(0);
    struct rate_thread t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct rate_thread){l, i, 0};
        pthread_create(&th[i], NULL, rate_thread_run, &t[i]);
    }
    int allowed = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        allowed += t[i].allowed;
    }
    CHECK_EQ_INT(allowed, 5000); /* 12,000 asked, the clock stopped: the burst exactly */
    store_rate_t a = {"shared:a", 5000, 3600, STORE_RATE_PEEK};
    store_rate_result_t res;
    store__local_rate_check(l, &a, 1, 1000 * S, &res);
    CHECK_TRUE(!res.allowed);
    store__local_free(l);
}

TEST(store_rate_block)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    store_rate_t b = {"block:192.0.2.9", 0, 0, STORE_RATE_BLOCK};
    struct rate_out o = {0};
    store_rate_check(st, &b, 1, on_rate, &o);
    CHECK_TRUE(o.r.allowed);
    store_rate_block(st, "block:192.0.2.9", 30);
    store_rate_check(st, &b, 1, on_rate, &o);
    CHECK_TRUE(!o.r.allowed);
    CHECK_TRUE(o.r.retry_after_s >= 29 && o.r.retry_after_s <= 30);
    store_close(st);
}

struct get_out {
    int status;
    char v[64];
};

static void on_get(void *arg, int status, str_t value)
{
    struct get_out *o = arg;
    o->status = status;
    o->v[0] = '\0';
    if (status == 0 && value.len < sizeof o->v) {
        memcpy(o->v, value.ptr, value.len);
        o->v[value.len] = '\0';
    }
}

TEST(store_cache_groups_and_delete)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    struct get_out o;
    store_cache_get(st, "orders:1:a", on_get, &o);
    CHECK_EQ_INT(o.status, ERR_NOT_FOUND);
    store_cache_set(st, "orders:1:a", STR_LIT("[1]"), 900, "user:1");
    store_cache_set(st, "orders:1:b", STR_LIT("[2]"), 900, "user:1");
    store_cache_set(st, "orders:2:c", STR_LIT("[3]"), 900, "user:2");
    store_cache_set(st, "posts:page:1", STR_LIT("{}"), 300, NULL);
    store_cache_get(st, "orders:1:a", on_get, &o);
    CHECK_EQ_INT(o.status, 0);
    CHECK_STR_EQ(o.v, "[1]");
    store_cache_drop_group(st, "user:1");
    store_cache_get(st, "orders:1:a", on_get, &o);
    CHECK_EQ_INT(o.status, ERR_NOT_FOUND);
    store_cache_get(st, "orders:1:b", on_get, &o);
    CHECK_EQ_INT(o.status, ERR_NOT_FOUND);
    store_cache_get(st, "orders:2:c", on_get, &o);
    CHECK_EQ_INT(o.status, 0);
    char buf[16];
    size_t len = 0;
    CHECK_EQ_INT(store_cache_get_sync(st, "posts:page:1", buf, sizeof buf, &len), 0);
    CHECK_EQ_INT(len, 2);
    store_cache_del(st, "posts:page:1");
    CHECK_EQ_INT(store_cache_get_sync(st, "posts:page:1", buf, sizeof buf, &len), ERR_NOT_FOUND);
    store_cache_set(st, "zero", STR_LIT("x"), 0, NULL); /* ttl 0: not stored */
    CHECK_EQ_INT(store_cache_get_sync(st, "zero", buf, sizeof buf, &len), ERR_NOT_FOUND);
    CHECK_TRUE(!store_redis_configured(st) && !store_redis_up(st));
    store_close(st);
}

/* The group counting filter stays in step when an entry changes group, is deleted or is
   dropped: a group is dropped exactly when it still has entries. */
TEST(store_cache_group_filter_bookkeeping)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    char buf[16];
    size_t len = 0;
    store_cache_drop_group(st, "user:9"); /* empty: nothing to do */
    store_cache_set(st, "k1", STR_LIT("a"), 900, "user:1");
    store_cache_set(st, "k1", STR_LIT("b"), 900, "user:2"); /* moves to user:2 */
    store_cache_drop_group(st, "user:1");
    CHECK_EQ_INT(store_cache_get_sync(st, "k1", buf, sizeof buf, &len), 0);
    store_cache_drop_group(st, "user:2");
    CHECK_EQ_INT(store_cache_get_sync(st, "k1", buf, sizeof buf, &len), ERR_NOT_FOUND);
    store_cache_set(st, "k2", STR_LIT("c"), 900, "user:3");
    store_cache_del(st, "k2");
    store_cache_set(st, "k3", STR_LIT("d"), 900, "user:3");
    store_cache_set(st, "k4", STR_LIT("e"), 900, NULL);
    store_cache_drop_group(st, "user:3");
    CHECK_EQ_INT(store_cache_get_sync(st, "k3", buf, sizeof buf, &len), ERR_NOT_FOUND);
    CHECK_EQ_INT(store_cache_get_sync(st, "k4", buf, sizeof buf, &len), 0);
    for (int i = 0; i < 3000; i++) { /* more groups than filter slots: shared slots */
        char k[32], g[32];
        snprintf(k, sizeof k, "key:%d", i);
        snprintf(g, sizeof g, "user:%d", i % 1500);
        store_cache_set(st, k, STR_LIT("v"), 900, g);
    }
    store_cache_drop_group(st, "user:7");
    CHECK_EQ_INT(store_cache_get_sync(st, "key:7", buf, sizeof buf, &len), ERR_NOT_FOUND);
    CHECK_EQ_INT(store_cache_get_sync(st, "key:1507", buf, sizeof buf, &len), ERR_NOT_FOUND);
    CHECK_EQ_INT(store_cache_get_sync(st, "key:8", buf, sizeof buf, &len), 0);
    store_close(st);
}

TEST(store_local_ttl_and_bound)
{
    store_local_t *l = store__local_new(4);
    store__local_cache_set(l, "a", STR_LIT("1"), 10, NULL, 100 * S);
    size_t len;
    char *v = store__local_cache_get(l, "a", 109 * S, &len);
    CHECK_TRUE(v && len == 1);
    free(v);
    CHECK_TRUE(store__local_cache_get(l, "a", 110 * S, &len) == NULL); /* expired */
    for (int i = 0; i < 10; i++) { /* over the bound: emptied, never more than max */
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        store__local_cache_set(l, k, STR_LIT("v"), 10, NULL, 200 * S);
    }
    v = store__local_cache_get(l, "k9", 200 * S, &len);
    CHECK_TRUE(v != NULL);
    free(v);
    CHECK_EQ_INT(store__local_prune(l, 300 * S) > 0, 1);
    store__local_free(l);
}

TEST(store_redis_start_rejects_bad_urls)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    char err[256];
    const char *bad[] = {"rediss://h:1/0",
                         "redis://h:99999/0",
                         "redis://h:1/x",
                         "http://h",
                         "unix://relative",
                         "redis-sentinel://h1:26379,h2:26379",
                         "redis-sentinel://h1:26379/",
                         "redis-sentinel:///mymaster",
                         "redis-sentinel://h1:0/mymaster",
                         "redis-sentinel://h1:26379,:1/mymaster",
                         "redis-sentinel://h1/mymaster?db=x",
                         "redis-sentinel://h1/mymaster?nope=1",
                         "redis-sentinel://a,b,c,d,e,f,g,h,i/mymaster",
                         "redis-cluster://h1:6379,h2:6379/2",
                         "redis-cluster://h1:6379,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        store_redis_options_t o = {bad[i], NULL, 100, NULL};
        CHECK_EQ_INT(store_redis_start(st, &o, err, sizeof err), ERR_CONFIG);
        CHECK_TRUE(strstr(err, "JWTD_REDIS_URL") != NULL);
    }
    CHECK_TRUE(!store_redis_configured(st));
    store_close(st);
}

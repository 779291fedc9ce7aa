/* Unit tests for src/store/revindex.c. */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/revindex.h"

static store_id_t id_from(uint64_t n)
{
    store_id_t id;
    memset(&id, 0, sizeof id);
    for (int i = 0; i < 8; i++)
        id.b[i] = (uint8_t)(n >> (8 * i));
    id.b[15] = 0xa5;
    return id;
}

TEST(store_id_parse_accepts_only_32_lowercase_hex)
{
    store_id_t id;
    char out[33];
    ASSERT_EQ_INT(store_id_parse(STR_LIT("0123456789abcdef0123456789abcdef"), &id), 0);
    store_id_format(&id, out);
    ASSERT_STR_EQ(out, "0123456789abcdef0123456789abcdef");
    ASSERT_EQ_INT(store_id_parse(STR_LIT("0123456789ABCDEF0123456789abcdef"), &id), -1);
    ASSERT_EQ_INT(store_id_parse(STR_LIT("0123456789abcdef0123456789abcde"), &id), -1);
    ASSERT_EQ_INT(store_id_parse(STR_LIT("0123456789abcdef0123456789abcdeg"), &id), -1);
    ASSERT_EQ_INT(store_id_parse(STR_LIT(""), &id), -1);
}

TEST(revindex_jti_sid_and_watermark_rules)
{
    store_revindex_t *ix = store_revindex_new();
    store_id_t j1 = id_from(1), j2 = id_from(2), s1 = id_from(101), s2 = id_from(102);
    store_token_ref_t t = {&j2, &s2, 7, 1000};
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_NOT_REVOKED);

    store_revindex_add_jti(ix, &j1, 5000);
    store_revindex_add_sid(ix, &s1, 5000);
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_NOT_REVOKED);
    t.jti = &j1;
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_REVOKED_JTI);
    t.jti = &j2;
    t.sid = &s1;
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_REVOKED_SID);
    t.sid = NULL;
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_NOT_REVOKED);

    /* Watermark: iat strictly before it is revoked; it only moves forward. */
    store_revindex_set_watermark(ix, 7, 1000, 9000);
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_NOT_REVOKED); /* iat == watermark */
    t.iat = 999;
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_REVOKED_WATERMARK);
    store_revindex_set_watermark(ix, 7, 500, 9000);
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_REVOKED_WATERMARK);
    t.user_id = 8;
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_NOT_REVOKED);
    t.user_id = INT64_MIN;
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_NOT_REVOKED);
    store_revindex_free(ix);
}

TEST(revindex_prune_drops_only_expired_entries)
{
    store_revindex_t *ix = store_revindex_new();
    store_id_t a = id_from(1), b = id_from(2);
    store_revindex_add_jti(ix, &a, 100);
    store_revindex_add_jti(ix, &b, 300);
    store_revindex_set_watermark(ix, 1, 50, 150);
    ASSERT_EQ_INT(store_revindex_prune(ix, 200), 2);
    store_revindex_stats_t st;
    store_revindex_stats(ix, &st);
    CHECK_EQ_INT(st.jtis, 1);
    CHECK_EQ_INT(st.users, 0);
    store_token_ref_t t = {&b, NULL, INT64_MIN, 0};
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_REVOKED_JTI);
    t.jti = &a;
    CHECK_EQ_INT(store_revindex_check(ix, &t), STORE_NOT_REVOKED);
    store_revindex_free(ix);
}

/* Random adds and prunes checked against a plain array model: exercises growth and the
 * backward-shift deletion across clusters and wrap-around. */
TEST(revindex_matches_reference_model_under_random_churn)
{
    enum { N = 5000 };
    static int64_t model_exp[N]; /* 0 = absent */
    memset(model_exp, 0, sizeof model_exp);
    store_revindex_t *ix = store_revindex_new();
    unsigned seed = 12345;
    int64_t now = 0;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 400; k++) {
            int n = (int)(rand_r(&seed) % N);
            int64_t exp = now + 1 + (int64_t)(rand_r(&seed) % 50);
            store_id_t id = id_from((uint64_t)n);
            store_revindex_add_jti(ix, &id, exp);
            if (exp > model_exp[n])
                model_exp[n] = exp;
        }
        now += 10;
        store_revindex_prune(ix, now);
        for (int n = 0; n < N; n++)
            if (model_exp[n] && model_exp[n] < now)
                model_exp[n] = 0;
        for (int n = 0; n < N; n++) {
            store_id_t id = id_from((uint64_t)n);
            store_token_ref_t t = {&id, NULL, INT64_MIN, 0};
            int expect = model_exp[n] ? STORE_REVOKED_JTI : STORE_NOT_REVOKED;
            if (!CHECK_EQ_INT(store_revindex_check(ix, &t), expect)) {
                store_revindex_free(ix);
                return;
            }
        }
    }
    store_revindex_free(ix);
}

struct reader_arg {
    store_revindex_t *ix;
    atomic_int *stop;
    atomic_long checks;
    int wrong;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    store_id_t always = id_from(999999);
    while (!atomic_load(a->stop)) {
        store_token_ref_t t = {&always, NULL, INT64_MIN, 0};
        if (store_revindex_check(a->ix, &t) != STORE_REVOKED_JTI)
            a->wrong++;
        atomic_fetch_add(&a->checks, 1);
    }
    return NULL;
}

/* Waits until every reader has made a check (a loaded machine may not have run them yet). */
static void wait_readers(struct reader_arg *args, int n)
{
    for (int i = 0; i < n; i++)
        while (atomic_load(&args[i].checks) == 0)
            sched_yield();
}

TEST(revindex_thread_readers_see_stable_entries_during_writes)
{
    store_revindex_t *ix = store_revindex_new();
    store_id_t always = id_from(999999);
    store_revindex_add_jti(ix, &always, 1000000);
    atomic_int stop = 0;
    struct reader_arg args[2] = {{ix, &stop, 0, 0}, {ix, &stop, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, reader, &args[i]);
    wait_readers(args, 2);
    for (int k = 0; k < 20000; k++) {
        store_id_t id = id_from((uint64_t)k);
        store_revindex_add_jti(ix, &id, k % 2 ? 10 : 1000);
        if (k % 1000 == 999)
            store_revindex_prune(ix, 100);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(args[0].wrong + args[1].wrong, 0);
    CHECK_TRUE(args[0].checks > 0 && args[1].checks > 0);
    store_revindex_free(ix);
}

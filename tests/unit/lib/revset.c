/*
 * revset.c - tests for libjwtv's revocation set (src/lib/revset.c): each kind of entry,
 * the later expiry and higher watermark winning, feed events, pruning, growth past many
 * resizes, jwtv_verify_revocable, and readers checking while a writer adds and prunes
 * (the thread test runs under `make tsan`).
 */
#include "jwtv/jwtv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

static jwtv_claims *claims(jwtv_claims *c, const char *jti, const char *sid, const char *uid,
                           int64_t iat)
{
    memset(c, 0, offsetof(jwtv_claims, _storage));
    c->jti = jti;
    c->sid = sid;
    c->user_id = uid;
    c->iat = iat;
    c->has_iat = true;
    return c;
}

static void hexid(unsigned n, char out[33])
{
    snprintf(out, 33, "%08x%08x%08x%08x", n, n * 2654435761u, ~n, n ^ 0x5bd1e995u);
}

TEST(jwtv_revset_kinds_and_rules)
{
    jwtv_revset *rs;
    ASSERT_EQ_INT(jwtv_revset_new(&rs), JWTV_OK);
    jwtv_claims c;
    const char *j1 = "0123456789abcdef0123456789abcdef", *s1 = "fedcba9876543210fedcba9876543210";
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, j1, s1, "7", 100)), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_add_jti(rs, j1, 5000), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, j1, NULL, "7", 100)), JWTV_EREVOKED);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, s1, NULL, "7", 100)),
                 JWTV_OK); /* a jti, not a sid */
    CHECK_EQ_INT(jwtv_revset_add_sid(rs, s1, 5000), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, "other", s1, "7", 100)), JWTV_EREVOKED);
    /* user watermark: tokens issued before it only */
    CHECK_EQ_INT(jwtv_revset_add_user(rs, "42", 1000, 5000), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, NULL, "42", 999)), JWTV_EREVOKED);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, NULL, "42", 1000)), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, NULL, "4", 10)), JWTV_OK);
    /* a lower watermark never lowers it; a higher one raises it */
    CHECK_EQ_INT(jwtv_revset_add_user(rs, "42", 500, 5000), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, NULL, "42", 999)), JWTV_EREVOKED);
    CHECK_EQ_INT(jwtv_revset_add_user(rs, "42", 2000, 6000), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, NULL, "42", 1500)), JWTV_EREVOKED);
    CHECK_EQ_INT((int)jwtv_revset_count(rs), 3);
    /* bad input */
    CHECK_EQ_INT(jwtv_revset_add_jti(rs, "", 10), JWTV_EINVAL);
    CHECK_EQ_INT(jwtv_revset_add_jti(rs, j1, 0), JWTV_EINVAL);
    CHECK_EQ_INT(jwtv_revset_check(NULL, &c), JWTV_EINVAL);
    CHECK_STR_EQ(jwtv_errname(JWTV_EREVOKED), "JWTV_EREVOKED");
    /* pruning: the jti until 5000 goes at 5001, the later entries stay */
    CHECK_EQ_INT((int)jwtv_revset_prune(rs, 5001), 2);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, j1, NULL, NULL, 0)), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, NULL, "42", 1500)), JWTV_EREVOKED);
    CHECK_EQ_INT((int)jwtv_revset_count(rs), 1);
    /* a pruned entry can come back */
    CHECK_EQ_INT(jwtv_revset_add_jti(rs, j1, 9000), JWTV_OK);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, j1, NULL, NULL, 0)), JWTV_EREVOKED);
    jwtv_revset_free(rs);
}

TEST(jwtv_revset_feed_events)
{
    jwtv_revset *rs;
    ASSERT_EQ_INT(jwtv_revset_new(&rs), JWTV_OK);
    const char *ev[] = {
        "{\"type\":\"jti\",\"value\":\"0123456789abcdef0123456789abcdef\",\"until\":9000}",
        "{\"type\":\"sid\",\"value\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"until\":9000}",
        "{\"type\":\"user\",\"value\":\"12\",\"before\":700,\"until\":9000}",
        "{\"type\":\"future-kind\",\"value\":\"x\",\"until\":9000}",
    };
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_INT(jwtv_revset_apply_event(rs, ev[i], strlen(ev[i])), JWTV_OK);
    CHECK_EQ_INT((int)jwtv_revset_count(rs), 3);
    jwtv_claims c;
    CHECK_EQ_INT(
        jwtv_revset_check(rs, claims(&c, NULL, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1", 1)),
        JWTV_EREVOKED);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, NULL, "12", 699)), JWTV_EREVOKED);
    const char *bad[] = {"",
                         "[]",
                         "{\"type\":\"jti\"}",
                         "{\"type\":\"jti\",\"value\":\"\",\"until\":1}",
                         "{\"type\":\"user\",\"value\":\"1\",\"until\":1}",
                         "{\"type\":\"jti\",\"value\":\"a\",\"until\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_TRUE(jwtv_revset_apply_event(rs, bad[i], strlen(bad[i])) != JWTV_OK);
    jwtv_revset_free(rs);
}

TEST(jwtv_revset_grows)
{
    jwtv_revset *rs;
    ASSERT_EQ_INT(jwtv_revset_new(&rs), JWTV_OK);
    char id[33];
    for (unsigned i = 0; i < 20000; i++) {
        hexid(i, id);
        ASSERT_EQ_INT(jwtv_revset_add_sid(rs, id, 1000 + (i % 2) * 1000), JWTV_OK);
    }
    CHECK_EQ_INT((int)jwtv_revset_count(rs), 20000);
    jwtv_claims c;
    int missing = 0;
    for (unsigned i = 0; i < 20000; i++) {
        hexid(i, id);
        missing += jwtv_revset_check(rs, claims(&c, NULL, id, NULL, 0)) != JWTV_EREVOKED;
    }
    CHECK_EQ_INT(missing, 0);
    hexid(20001, id);
    CHECK_EQ_INT(jwtv_revset_check(rs, claims(&c, NULL, id, NULL, 0)), JWTV_OK);
    CHECK_EQ_INT((int)jwtv_revset_prune(rs, 1500), 10000);
    for (unsigned i = 20000; i < 30000; i++) { /* rebuilds over the removed slots */
        hexid(i, id);
        ASSERT_EQ_INT(jwtv_revset_add_sid(rs, id, 3000), JWTV_OK);
    }
    CHECK_EQ_INT((int)jwtv_revset_count(rs), 20000);
    jwtv_revset_free(rs);
}

/* ---- readers while a writer adds, grows and prunes --------------------------------------- */

#define WRITES 20000
static jwtv_revset *g_rs;
static atomic_uint g_published; /* entries [0, g_published) are in the set */
static atomic_int g_errors;

static void *reader(void *arg)
{
    (void)arg;
    char id[33], never[33];
    jwtv_claims c;
    hexid(0xfffffff0u, never);
    for (unsigned round = 0; atomic_load(&g_published) < WRITES || round < 3; round++) {
        unsigned n = atomic_load(&g_published);
        for (unsigned i = 0; i < n; i += 7) {
            hexid(i, id);
            if (jwtv_revset_check(g_rs, claims(&c, id, NULL, NULL, 0)) != JWTV_EREVOKED)
                atomic_fetch_add(&g_errors, 1);
        }
        if (jwtv_revset_check(g_rs, claims(&c, never, never, "never", 1)) != JWTV_OK)
            atomic_fetch_add(&g_errors, 1);
    }
    return NULL;
}

TEST(jwtv_revset_thread_readers_never_lock_or_miss)
{
    ASSERT_EQ_INT(jwtv_revset_new(&g_rs), JWTV_OK);
    atomic_store(&g_published, 0);
    atomic_store(&g_errors, 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, reader, NULL), 0);
    char id[33];
    for (unsigned i = 0; i < WRITES; i++) {
        hexid(i, id);
        ASSERT_EQ_INT(jwtv_revset_add_jti(g_rs, id, 100000), JWTV_OK);
        if (i % 1000 == 999) { /* short-lived entries that prune drops meanwhile */
            ASSERT_EQ_INT(jwtv_revset_add_sid(g_rs, id, 5), JWTV_OK);
            (void)jwtv_revset_prune(g_rs, 10);
        }
        atomic_store(&g_published, i + 1);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&g_errors), 0);
    CHECK_EQ_INT((int)jwtv_revset_count(g_rs), WRITES);
    jwtv_revset_free(g_rs);
}

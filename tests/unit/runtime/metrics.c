/*
 * Unit tests of runtime/metrics.c: counts land in the snapshot, labels and families are
 * right, the alg label is jose's row (or "other") for accepted and rejected tokens alike,
 * and counts made by many threads at once are all in the sum (the "thread" test also runs
 * under `make tsan`).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/metrics.h"
#include "test.h"

static enum metrics_alg alg_label(const char *name)
{
    return metrics_alg_of(jose_alg_by_name(str_cstr(name)));
}

TEST(metrics_counts_and_histogram)
{
    metrics_snapshot_t a, b;
    metrics_snapshot(&a);
    metrics_count(METRICS_LOGIN_SUCCESS);
    metrics_count(METRICS_LOGIN_SUCCESS);
    enum metrics_alg es256 = alg_label("ES256"), eddsa = alg_label("EdDSA");
    metrics_verified(es256, METRICS_R_BAD_SIGNATURE);
    metrics_issued(eddsa, 1);
    metrics_request(METRICS_F_TOKEN, 200, 50);      /* first bucket (<= 100 us) */
    metrics_request(METRICS_F_TOKEN, 401, 3000000); /* +Inf */
    metrics_request(METRICS_F_TOKEN, 999, 100);     /* odd status -> 5xx class */
    metrics_gauge_add(METRICS_G_OPEN_CONNECTIONS, 3);
    metrics_gauge_add(METRICS_G_OPEN_CONNECTIONS, -1);
    metrics_snapshot(&b);
    ASSERT_EQ_INT(b.counter[METRICS_LOGIN_SUCCESS] - a.counter[METRICS_LOGIN_SUCCESS], 2);
    ASSERT_EQ_INT(
        b.verified[es256][METRICS_R_BAD_SIGNATURE] - a.verified[es256][METRICS_R_BAD_SIGNATURE], 1);
    ASSERT_EQ_INT(b.issued[eddsa][1] - a.issued[eddsa][1], 1);
    ASSERT_EQ_INT(b.requests[METRICS_F_TOKEN][1] - a.requests[METRICS_F_TOKEN][1], 1);
    ASSERT_EQ_INT(b.requests[METRICS_F_TOKEN][3] - a.requests[METRICS_F_TOKEN][3], 1);
    ASSERT_EQ_INT(b.requests[METRICS_F_TOKEN][4] - a.requests[METRICS_F_TOKEN][4], 1);
    ASSERT_EQ_INT(b.bucket[METRICS_F_TOKEN][0] - a.bucket[METRICS_F_TOKEN][0], 2);
    ASSERT_EQ_INT(b.bucket[METRICS_F_TOKEN][METRICS__BUCKETS - 1] -
                      a.bucket[METRICS_F_TOKEN][METRICS__BUCKETS - 1],
                  1);
    ASSERT_EQ_INT(b.sum_us[METRICS_F_TOKEN] - a.sum_us[METRICS_F_TOKEN], 3000150);
    ASSERT_EQ_INT(b.gauge[METRICS_G_OPEN_CONNECTIONS] - a.gauge[METRICS_G_OPEN_CONNECTIONS], 2);
}

TEST(metrics_names_and_families)
{
    ASSERT_STR_EQ(metrics_result_name(METRICS_R_UNKNOWN_KID), "unknown_kid");
    ASSERT_STR_EQ(metrics_counter_name(METRICS_REFRESH_REUSE), "refresh_reuse_detections");
    ASSERT_STR_EQ(metrics_counter_labels(METRICS_LOGIN_FAILURE), "result=\"failure\"");
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/api/token/refresh/")), METRICS_F_TOKEN);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/api/auth/login/")), METRICS_F_COOKIE);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/auth/login")), METRICS_F_SERVICE);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/posts/3")), METRICS_F_POSTS);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/postsX")), METRICS_F_OTHER);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/oauth/token")), METRICS_F_OAUTH);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/admin/clients/abc")), METRICS_F_OAUTH);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/auth/apps")), METRICS_F_OAUTH);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/metrics")), METRICS_F_PLATFORM);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/.well-known/jwks.json")), METRICS_F_WELLKNOWN);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/")), METRICS_F_RESOURCE);
}

TEST(metrics_alg_labels_are_jose_rows)
{
    /* the label values of jwtd_tokens_{issued,verified}_total, in their order */
    static const char *const labels[] = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                         "RS512", "PS256", "PS384", "PS512", "ES256",
                                         "ES384", "EdDSA", "other"};
    ASSERT_EQ_INT(METRICS__ALGS, sizeof labels / sizeof labels[0]);
    for (unsigned i = 0; i < METRICS__ALGS; i++) {
        ASSERT_STR_EQ(metrics_alg_name((enum metrics_alg)i), labels[i]);
        if (i < JOSE_ALG_COUNT)
            ASSERT_EQ_INT(metrics_alg_of(jose_alg_at(i)), i);
    }
    ASSERT_EQ_INT(metrics_alg_of(NULL), METRICS_ALG_OTHER);
    ASSERT_STR_EQ(metrics_alg_name(METRICS__ALGS), "other");
    ASSERT_EQ_INT(alg_label("EdDSA"), 11);
}

TEST(metrics_alg_of_rejected_tokens)
{
    /* jose's verify path labels what it rejects: the header's alg when readable */
    static const struct {
        const char *token, *label;
        int rc;
    } cases[] = {
        /* {"alg":"ES256","typ":"JWT"}, signature not base64url */
        {"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.e30.x", "ES256", JWTV_EMALFORMED},
        /* {"alg":"none"} */
        {"eyJhbGciOiJub25lIn0.e30.", "other", JWTV_EALG},
        /* { "alg" : "HS256" } with blanks: no key in the ring */
        {"eyAiYWxnIiA6ICJIUzI1NiIgfQ.e30.AAAA", "HS256", JWTV_ENOKEY},
        /* {"alg":"HS256","crit":["x"]} */
        {"eyJhbGciOiJIUzI1NiIsImNyaXQiOlsieCJdfQ.e30.AAAA", "HS256", JWTV_ECRIT},
        {"", "other", JWTV_EMALFORMED},
        {"nodots", "other", JWTV_EMALFORMED},
        {"!!!.e30.x", "other", JWTV_EMALFORMED},
        {"eyJhbGciOiJFUzI1NiJ9", "other", JWTV_EMALFORMED},
    };
    jose_keyring_t *ring = jose_keyring_new();
    jwtv_claims *c = malloc(sizeof *c);
    jwtv_options opt;
    metrics_snapshot_t a, b;
    ASSERT_TRUE(ring && c);
    jwtv_options_init(&opt);
    metrics_snapshot(&a);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = jose_jwt_verify(ring, &opt, str_cstr(cases[i].token), 1700000000, c);
        CHECK_EQ_INT(rc, cases[i].rc);
        enum metrics_alg l = metrics_alg_of(jose_claims_alg(c));
        if (!CHECK_STR_EQ(metrics_alg_name(l), cases[i].label))
            fprintf(stderr, "    token \"%s\"\n", cases[i].token);
        metrics_verified(l, METRICS_R_MALFORMED);
    }
    metrics_snapshot(&b);
    enum metrics_alg hs256 = alg_label("HS256");
    ASSERT_EQ_INT(b.verified[hs256][METRICS_R_MALFORMED] - a.verified[hs256][METRICS_R_MALFORMED],
                  2);
    ASSERT_EQ_INT(b.verified[METRICS_ALG_OTHER][METRICS_R_MALFORMED] -
                      a.verified[METRICS_ALG_OTHER][METRICS_R_MALFORMED],
                  5);
    free(c);
    jose_keyring_release(ring);
}

enum { THREADS = 8, PER_THREAD = 100000 };

static void *count_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_count(METRICS_REVOKE_JTI);
        metrics_request(METRICS_F_OTHER, 204, (uint64_t)i);
    }
    return NULL;
}

static void *scrape_many(void *arg)
{
    int *stop = arg;
    metrics_snapshot_t s;
    while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE))
        metrics_snapshot(&s);
    return NULL;
}

TEST(metrics_thread_counts_all_arrive)
{
    metrics_snapshot_t a, b;
    pthread_t t[THREADS], scraper;
    int stop = 0;
    metrics_snapshot(&a);
    ASSERT_EQ_INT(pthread_create(&scraper, NULL, scrape_many, &stop), 0);
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, count_many, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(scraper, NULL);
    metrics_snapshot(&b);
    ASSERT_EQ_INT(b.counter[METRICS_REVOKE_JTI] - a.counter[METRICS_REVOKE_JTI],
                  (uint64_t)THREADS * PER_THREAD);
    ASSERT_EQ_INT(b.requests[METRICS_F_OTHER][1] - a.requests[METRICS_F_OTHER][1],
                  (uint64_t)THREADS * PER_THREAD);
}

TEST(metrics_every_counter_family_has_help)
{
    for (unsigned c = 0; c < METRICS__COUNTERS; c++) {
        const char *help = metrics_counter_help(c);
        CHECK_TRUE(help != NULL && help[0] != '\0' && strchr(help, '\n') == NULL);
    }
}

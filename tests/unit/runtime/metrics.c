/*
 * Unit tests of common/metrics.c: counts land in the snapshot, labels and families are
 * right, the alg of a token header is found (or "other"), and counts made by many threads
 * at once are all in the sum (the "thread" test also runs under `make tsan`).
 */
#include <pthread.h>
#include <string.h>

#include "runtime/metrics.h"
#include "test.h"

TEST(metrics_counts_and_histogram)
{
    metrics_snapshot_t a, b;
    metrics_snapshot(&a);
    metrics_count(METRICS_LOGIN_SUCCESS);
    metrics_count(METRICS_LOGIN_SUCCESS);
    metrics_verified(METRICS_ALG_ES256, METRICS_R_BAD_SIGNATURE);
    metrics_issued(METRICS_ALG_EDDSA, 1);
    metrics_request(METRICS_F_TOKEN, 200, 50);      /* first bucket (<= 100 us) */
    metrics_request(METRICS_F_TOKEN, 401, 3000000); /* +Inf */
    metrics_request(METRICS_F_TOKEN, 999, 100);     /* odd status -> 5xx class */
    metrics_gauge_add(METRICS_G_OPEN_CONNECTIONS, 3);
    metrics_gauge_add(METRICS_G_OPEN_CONNECTIONS, -1);
    metrics_snapshot(&b);
    ASSERT_EQ_INT(b.counter[METRICS_LOGIN_SUCCESS] - a.counter[METRICS_LOGIN_SUCCESS], 2);
    ASSERT_EQ_INT(b.verified[METRICS_ALG_ES256][METRICS_R_BAD_SIGNATURE] -
                      a.verified[METRICS_ALG_ES256][METRICS_R_BAD_SIGNATURE],
                  1);
    ASSERT_EQ_INT(b.issued[METRICS_ALG_EDDSA][1] - a.issued[METRICS_ALG_EDDSA][1], 1);
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
    ASSERT_STR_EQ(metrics_alg_name(METRICS_ALG_EDDSA), "EdDSA");
    ASSERT_STR_EQ(metrics_result_name(METRICS_R_UNKNOWN_KID), "unknown_kid");
    ASSERT_STR_EQ(metrics_counter_name(METRICS_REFRESH_REUSE), "refresh_reuse_detections");
    ASSERT_STR_EQ(metrics_counter_labels(METRICS_LOGIN_FAILURE), "result=\"failure\"");
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/api/token/refresh/")), METRICS_F_TOKEN);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/api/auth/login/")), METRICS_F_COOKIE);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/auth/login")), METRICS_F_SERVICE);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/posts/3")), METRICS_F_POSTS);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/postsX")), METRICS_F_OTHER);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/metrics")), METRICS_F_PLATFORM);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/.well-known/jwks.json")), METRICS_F_WELLKNOWN);
    ASSERT_EQ_INT(metrics_family_of_path(STR_LIT("/")), METRICS_F_RESOURCE);
}

TEST(metrics_alg_of_token_header)
{
    /* {"alg":"ES256","typ":"JWT"} */
    ASSERT_EQ_INT(metrics_alg_of_token(STR_LIT("eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.e30.x")),
                  METRICS_ALG_ES256);
    /* {"alg":"none"} */
    ASSERT_EQ_INT(metrics_alg_of_token(STR_LIT("eyJhbGciOiJub25lIn0.e30.")), METRICS_ALG_OTHER);
    /* { "alg" : "HS256" } with blanks */
    ASSERT_EQ_INT(metrics_alg_of_token(STR_LIT("eyAiYWxnIiA6ICJIUzI1NiIgfQ.e30.x")),
                  METRICS_ALG_HS256);
    ASSERT_EQ_INT(metrics_alg_of_token(STR_LIT("")), METRICS_ALG_OTHER);
    ASSERT_EQ_INT(metrics_alg_of_token(STR_LIT("nodots")), METRICS_ALG_OTHER);
    ASSERT_EQ_INT(metrics_alg_of_token(STR_LIT("!!!.e30.x")), METRICS_ALG_OTHER);
    ASSERT_EQ_INT(metrics_alg_of_token(STR_LIT("eyJhbGciOiJFUzI1NiJ9")), METRICS_ALG_OTHER);
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

/*
 * metrics.h - process-wide counters for GET /metrics, without contention on the hot path.
 *
 * Every thread that counts gets its own shard (allocated on its first count, linked into a
 * global list under a mutex once, never freed: threads are few and long-lived, and a
 * finished thread's counts must stay in the totals). A count is a relaxed load + store of
 * the thread's own slot: no lock, no read-modify-write shared with another core. The
 * scraper (metrics_snapshot) sums the shards with relaxed loads, so a scrape sees every
 * count that happened before it started, and a count racing with it lands in the next one.
 *
 * What is counted is fixed here (enums below), so a shard is one flat struct and labels
 * cost nothing at count time; src/api/routes/metrics.c turns a snapshot into Prometheus text. The
 * one exception is the alg label: its values are the rows of jose's algorithm table
 * (jose.h), jwtd's only list of algorithms, plus "other".
 */
#ifndef JWTD_RUNTIME_METRICS_H
#define JWTD_RUNTIME_METRICS_H

#include <stdint.h>

#include "common/str.h"
#include "jose/jose.h"

/* Scalar counters: name (without jwtd_ prefix and _total suffix) and label text. */
#define METRICS_COUNTER_MAP(X)                                                                     \
    X(LOGIN_SUCCESS, "logins", "result=\"success\"")                                               \
    X(LOGIN_FAILURE, "logins", "result=\"failure\"")                                               \
    X(LOGIN_ERROR, "logins", "result=\"error\"")                                                   \
    X(REFRESH_ROTATED, "refreshes", "result=\"rotated\"")                                          \
    X(REFRESH_GRACE, "refreshes", "result=\"grace_successor\"")                                    \
    X(REFRESH_REFUSED, "refreshes", "result=\"refused\"")                                          \
    X(REFRESH_REUSE, "refresh_reuse_detections", "")                                               \
    X(REFRESH_ANOMALY, "refresh_anomalies", "")                                                    \
    X(REVOKE_JTI, "revocations", "kind=\"token\"")                                                 \
    X(REVOKE_SID, "revocations", "kind=\"session\"")                                               \
    X(REVOKE_USER, "revocations", "kind=\"user\"")                                                 \
    X(RATE_LOGIN, "rate_limit_hits", "limit=\"login\"")                                            \
    X(RATE_ANON, "rate_limit_hits", "limit=\"anon\"")                                              \
    X(RATE_USER, "rate_limit_hits", "limit=\"user\"")                                              \
    X(RATE_INVALID, "rate_limit_hits", "limit=\"invalid_token\"")                                  \
    X(RATE_MAIL, "rate_limit_hits", "limit=\"mail\"")                                              \
    X(MAIL_QUEUED, "mails", "result=\"queued\"")                                                   \
    X(MAIL_SENT, "mails", "result=\"sent\"")                                                       \
    X(MAIL_RETRIED, "mails", "result=\"retried\"")                                                 \
    X(MAIL_FAILED, "mails", "result=\"failed\"")                                                   \
    X(POOL_REJECTED, "pool_rejections", "")                                                        \
    X(SLOW_REQUESTS, "slow_requests", "")                                                          \
    X(FEED_EVENTS, "revocation_feed_events", "")

/* The HELP text of each counter family above (one row per family name). */
#define METRICS_COUNTER_HELP_MAP(X)                                                                \
    X("logins", "Password logins by result (error: the backend failed).")                          \
    X("refreshes", "Refresh token uses by result.")                                                \
    X("refresh_reuse_detections", "Reuses of an already rotated refresh token.")                   \
    X("refresh_anomalies", "Refresh families revoked as stolen (used from a distant network).")    \
    X("revocations", "Revocations by kind (one token, a session, every token of a user).")         \
    X("rate_limit_hits", "Requests refused by a rate limit, by limit.")                            \
    X("mails", "Mails by result: queued in the outbox, sent, retried after a failed attempt, "     \
               "failed for good.")                                                                 \
    X("pool_rejections", "Requests refused because the blocking pool was full.")                   \
    X("slow_requests", "Requests slower than JWTD_SLOW_REQUEST.")                                  \
    X("revocation_feed_events", "Revocation events sent to resource servers (streams and polls).")

enum metrics_counter {
#define METRICS_C_ENUM_(id, name, labels) METRICS_##id,
    METRICS_COUNTER_MAP(METRICS_C_ENUM_)
#undef METRICS_C_ENUM_
        METRICS__COUNTERS
};

/*
 * Token algorithms (label alg): 0..JOSE_ALG_COUNT-1 is the index of a row of jose's
 * algorithm table (metrics_alg_of), labelled with the row's name; METRICS_ALG_OTHER is a
 * token whose header named no supported algorithm (`none`, unknown, unreadable).
 */
enum metrics_alg { METRICS_ALG_OTHER = JOSE_ALG_COUNT, METRICS__ALGS };

/* Verification results (label result): ok, then the tamper classification. */
#define METRICS_RESULT_MAP(X)                                                                      \
    X(OK, "ok")                                                                                    \
    X(MALFORMED, "malformed")                                                                      \
    X(BAD_ALG, "bad_alg")                                                                          \
    X(BAD_SIGNATURE, "bad_signature")                                                              \
    X(UNKNOWN_KID, "unknown_kid")                                                                  \
    X(EXPIRED, "expired")                                                                          \
    X(INVALID_CLAIMS, "invalid_claims")                                                            \
    X(WRONG_TYPE, "wrong_type")                                                                    \
    X(REVOKED, "revoked")

enum metrics_result {
#define METRICS_R_ENUM_(id, name) METRICS_R_##id,
    METRICS_RESULT_MAP(METRICS_R_ENUM_)
#undef METRICS_R_ENUM_
        METRICS__RESULTS
};

/* Route families (label family) of the request counters and duration histograms. */
#define METRICS_FAMILY_MAP(X)                                                                      \
    X(TOKEN, "token")                                                                              \
    X(COOKIE, "cookie_auth")                                                                       \
    X(SERVICE, "service_auth")                                                                     \
    X(USERS, "users")                                                                              \
    X(POSTS, "posts")                                                                              \
    X(RESOURCE, "resource")                                                                        \
    X(WELLKNOWN, "well_known")                                                                     \
    X(PLATFORM, "platform")                                                                        \
    X(APP, "app")                                                                                  \
    X(OAUTH, "oauth")                                                                              \
    X(OTHER, "other")

enum metrics_family {
#define METRICS_F_ENUM_(id, name) METRICS_F_##id,
    METRICS_FAMILY_MAP(METRICS_F_ENUM_)
#undef METRICS_F_ENUM_
        METRICS__FAMILIES
};

/* Upper bounds of the duration buckets, in microseconds (+Inf is implicit). */
#define METRICS_BUCKETS_US                                                                         \
    {                                                                                              \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,     \
            2500000                                                                                \
    }
#define METRICS__BUCKETS 15 /* 14 bounds + Inf */

/* Gauges kept by increments (each shard holds its own delta; the sum is the value). */
enum metrics_gauge { METRICS_G_OPEN_CONNECTIONS, METRICS_G_FEED_CLIENTS, METRICS__GAUGES };

/* A summed view of every shard (metrics_snapshot). Status classes: 1xx..5xx -> [0..4]. */
typedef struct {
    uint64_t counter[METRICS__COUNTERS];
    uint64_t verified[METRICS__ALGS][METRICS__RESULTS];
    uint64_t issued[METRICS__ALGS][2]; /* [alg][0 access, 1 refresh] */
    uint64_t requests[METRICS__FAMILIES][5];
    uint64_t bucket[METRICS__FAMILIES][METRICS__BUCKETS]; /* per bucket, NOT cumulative */
    uint64_t sum_us[METRICS__FAMILIES];
    int64_t gauge[METRICS__GAUGES];
} metrics_snapshot_t;

void metrics_count(enum metrics_counter c);
void metrics_verified(enum metrics_alg alg, enum metrics_result r);
void metrics_issued(enum metrics_alg alg, int is_refresh);
/* One finished request: family, HTTP status, duration in microseconds. */
void metrics_request(enum metrics_family f, int status, uint64_t duration_us);
void metrics_gauge_add(enum metrics_gauge g, int64_t delta);

/* Sums every shard into *out. Any thread. */
void metrics_snapshot(metrics_snapshot_t *out);

/* Label texts (alg: the name of jose's row, "HS256", or "other"). */
const char *metrics_alg_name(enum metrics_alg a);
const char *metrics_result_name(enum metrics_result r);
const char *metrics_family_name(enum metrics_family f);
const char *metrics_counter_name(enum metrics_counter c);
const char *metrics_counter_labels(enum metrics_counter c);
/* The HELP text of counter c's family (METRICS_COUNTER_HELP_MAP), or NULL if it has none. */
const char *metrics_counter_help(enum metrics_counter c);
/* Bucket bound i in microseconds (i < METRICS__BUCKETS - 1). */
uint64_t metrics_bucket_bound_us(unsigned i);

/*
 * The alg label of a row of jose's algorithm table; METRICS_ALG_OTHER for NULL. For a
 * token, pass jose_claims_alg() of its claims view: jose fills in the algorithm also when it
 * rejects the token, as long as the header was readable.
 */
enum metrics_alg metrics_alg_of(const jose_alg_t *alg);
/* The route family of a request path. */
enum metrics_family metrics_family_of_path(str_t path);

#endif

/*
 * metrics.c - per-thread counter shards summed at scrape time (see metrics.h).
 *
 * Writes: the owning thread does load-relaxed + store-relaxed on its own slot (a plain
 * load and store on x86/arm64: no lock prefix, no cache line shared with another writer).
 * Reads: the scraper loads every slot relaxed. Both are C11-atomic accesses, so
 * ThreadSanitizer sees no race, and no count is ever lost (one writer per slot).
 */
#include "runtime/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

struct shard {
    metrics_snapshot_t v;
    struct shard *next;
};

static pthread_mutex_t shards_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shard *shards; /* read with acquire, pushed under shards_lock with release */
static __thread struct shard *mine;

static struct shard *shard_get(void)
{
    struct shard *s = mine;
    if (__builtin_expect(s != NULL, 1))
        return s;
    s = xcalloc(1, sizeof *s);
    pthread_mutex_lock(&shards_lock);
    s->next = shards;
    __atomic_store_n(&shards, s, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&shards_lock);
    mine = s;
    return s;
}

static inline void bump(uint64_t *p, uint64_t d)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + d, __ATOMIC_RELAXED);
}

static inline uint64_t rd(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* See metrics.h. */
void metrics_count(enum metrics_counter c)
{
    if ((unsigned)c < METRICS__COUNTERS)
        bump(&shard_get()->v.counter[c], 1);
}

/* See metrics.h. */
void metrics_verified(enum metrics_alg alg, enum metrics_result r)
{
    if ((unsigned)alg < METRICS__ALGS && (unsigned)r < METRICS__RESULTS)
        bump(&shard_get()->v.verified[alg][r], 1);
}

/* See metrics.h. */
void metrics_issued(enum metrics_alg alg, int is_refresh)
{
    if ((unsigned)alg < METRICS__ALGS)
        bump(&shard_get()->v.issued[alg][is_refresh ? 1 : 0], 1);
}

static const uint64_t bounds_us[METRICS__BUCKETS - 1] = METRICS_BUCKETS_US;

/* See metrics.h. */
uint64_t metrics_bucket_bound_us(unsigned i)
{
    return i < METRICS__BUCKETS - 1 ? bounds_us[i] : UINT64_MAX;
}

/* See metrics.h. */
void metrics_request(enum metrics_family f, int status, uint64_t duration_us)
{
    if ((unsigned)f >= METRICS__FAMILIES)
        f = METRICS_F_OTHER;
    struct shard *s = shard_get();
    int cls = status / 100 - 1;
    if (cls < 0 || cls > 4)
        cls = 4;
    unsigned b = 0;
    while (b < METRICS__BUCKETS - 1 && duration_us > bounds_us[b])
        b++;
    bump(&s->v.requests[f][cls], 1);
    bump(&s->v.bucket[f][b], 1);
    bump(&s->v.sum_us[f], duration_us);
}

/* See metrics.h. */
void metrics_gauge_add(enum metrics_gauge g, int64_t delta)
{
    if ((unsigned)g < METRICS__GAUGES)
        bump((uint64_t *)&shard_get()->v.gauge[g], (uint64_t)delta);
}

/* See metrics.h. */
void metrics_snapshot(metrics_snapshot_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t *dst = (uint64_t *)out;
    size_t n = sizeof *out / sizeof(uint64_t);
    for (struct shard *s = __atomic_load_n(&shards, __ATOMIC_ACQUIRE); s; s = s->next) {
        const uint64_t *src = (const uint64_t *)&s->v;
        for (size_t i = 0; i < n; i++)
            dst[i] += rd(&src[i]); /* gauges too: two's complement sums are exact */
    }
}

/* See metrics.h. */
enum metrics_alg metrics_alg_of(const jose_alg_t *alg)
{
    return alg ? (enum metrics_alg)jose_alg_index(alg) : METRICS_ALG_OTHER;
}

/* See metrics.h. */
const char *metrics_alg_name(enum metrics_alg a)
{
    const jose_alg_t *alg = jose_alg_at((size_t)a);
    return alg ? alg->name : "other";
}

static const char *const result_names[METRICS__RESULTS] = {
#define METRICS_R_NAME_(id, name) name,
    METRICS_RESULT_MAP(METRICS_R_NAME_)
#undef METRICS_R_NAME_
};

/* See metrics.h. */
const char *metrics_result_name(enum metrics_result r)
{
    return (unsigned)r < METRICS__RESULTS ? result_names[r] : "other";
}

static const char *const family_names[METRICS__FAMILIES] = {
#define METRICS_F_NAME_(id, name) name,
    METRICS_FAMILY_MAP(METRICS_F_NAME_)
#undef METRICS_F_NAME_
};

/* See metrics.h. */
const char *metrics_family_name(enum metrics_family f)
{
    return (unsigned)f < METRICS__FAMILIES ? family_names[f] : "other";
}

static const char *const counter_names[METRICS__COUNTERS] = {
#define METRICS_C_NAME_(id, name, labels) name,
    METRICS_COUNTER_MAP(METRICS_C_NAME_)
#undef METRICS_C_NAME_
};
static const char *const counter_labels[METRICS__COUNTERS] = {
#define METRICS_C_LABELS_(id, name, labels) labels,
    METRICS_COUNTER_MAP(METRICS_C_LABELS_)
#undef METRICS_C_LABELS_
};

/* See metrics.h. */
const char *metrics_counter_name(enum metrics_counter c)
{
    return (unsigned)c < METRICS__COUNTERS ? counter_names[c] : "unknown";
}

/* See metrics.h. */
const char *metrics_counter_labels(enum metrics_counter c)
{
    return (unsigned)c < METRICS__COUNTERS ? counter_labels[c] : "";
}

/* See metrics.h. */
const char *metrics_counter_help(enum metrics_counter c)
{
    static const struct {
        const char *name, *help;
    } rows[] = {
#define METRICS_C_HELP_(name, help) {name, help},
        METRICS_COUNTER_HELP_MAP(METRICS_C_HELP_)
#undef METRICS_C_HELP_
    };
    const char *name = metrics_counter_name(c);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].name, name) == 0)
            return rows[i].help;
    return NULL;
}

/* See metrics.h. */
enum metrics_family metrics_family_of_path(str_t p)
{
    if (str_starts_with(p, STR_LIT("/api/token/")))
        return METRICS_F_TOKEN;
    if (str_starts_with(p, STR_LIT("/oauth/")) || str_eq(p, STR_LIT("/admin/clients")) ||
        str_starts_with(p, STR_LIT("/admin/clients/")) || str_eq(p, STR_LIT("/auth/apps")) ||
        str_starts_with(p, STR_LIT("/auth/apps/")))
        return METRICS_F_OAUTH;
    if (str_starts_with(p, STR_LIT("/api/auth/")))
        return METRICS_F_COOKIE;
    if (str_starts_with(p, STR_LIT("/auth/")))
        return METRICS_F_SERVICE;
    if (str_starts_with(p, STR_LIT("/api/users/")) || str_eq(p, STR_LIT("/users")) ||
        str_starts_with(p, STR_LIT("/users/")) || str_eq(p, STR_LIT("/admin/users")) ||
        str_starts_with(p, STR_LIT("/admin/users/")))
        return METRICS_F_USERS;
    if (str_eq(p, STR_LIT("/posts")) || str_starts_with(p, STR_LIT("/posts/")))
        return METRICS_F_POSTS;
    if (str_eq(p, STR_LIT("/")) || str_eq(p, STR_LIT("/protected")) ||
        str_eq(p, STR_LIT("/upload")) || str_starts_with(p, STR_LIT("/admin/")) ||
        str_starts_with(p, STR_LIT("/api/orders/")))
        return METRICS_F_RESOURCE;
    if (str_starts_with(p, STR_LIT("/.well-known/")))
        return METRICS_F_WELLKNOWN;
    if (str_eq(p, STR_LIT("/healthz")) || str_eq(p, STR_LIT("/readyz")) ||
        str_eq(p, STR_LIT("/metrics")))
        return METRICS_F_PLATFORM;
    if (str_eq(p, STR_LIT("/app")) || str_starts_with(p, STR_LIT("/app/")))
        return METRICS_F_APP;
    return METRICS_F_OTHER;
}

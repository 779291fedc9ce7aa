/*
 * store_internal.h - what the files of src/store/ share and nobody else uses: the store
 * struct itself (store_mem.c builds it, store_redis.c extends it), the in-process tables
 * behind the cache and rate-limit API (store_local.c) and the hooks between the feed and
 * the Redis backend.
 */
#ifndef JWTD_STORE_INTERNAL_H
#define JWTD_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_local store_local_t;
typedef struct store_redis store_redis_t;

struct store {
    store_revindex_t *ix;
    store_options_t opts;
    pthread_mutex_t pull_lock; /* serialises pulls; guards the pull bookkeeping below */
    int64_t last_good_start;   /* start (Unix s) of the last successful pull; 0 = never */
    uint64_t pulls_ok, pulls_failed;
    /* feed thread */
    pthread_mutex_t mu; /* guards stopping, pull_requested */
    pthread_cond_t cv;
    bool stopping;
    bool pull_requested;
    bool started;
    pthread_t thread;
    /* shared state */
    store_user_fn user_fn;
    void *user_arg;
    store_local_t *local; /* cache + rate tables (embedded backend, and Redis fallback) */
    store_redis_t *rd;    /* NULL = embedded store */
};

/* ---- store_local.c: in-process cache and GCRA buckets -------------------------------- */

store_local_t *store__local_new(size_t max_entries);
void store__local_free(store_local_t *l);
/* Returns a malloc'd copy of the value (NUL-terminated; *len without it), or NULL on a miss. */
char *store__local_cache_get(store_local_t *l, const char *key, int64_t now_us, size_t *len);
void store__local_cache_set(store_local_t *l, const char *key, str_t value, uint32_t ttl_s,
                            const char *group, int64_t now_us);
/* The current ticket of versioned fills (store_cache_fill_begin). */
uint64_t store__local_cache_ticket(store_local_t *l);
/* store__local_cache_set unless key or group was invalidated after ticket; true when stored. */
bool store__local_cache_set_if(store_local_t *l, const char *key, str_t value, uint32_t ttl_s,
                               const char *group, int64_t now_us, uint64_t ticket);
/* Drops key and stamps it (versioned fills). */
void store__local_cache_del(store_local_t *l, const char *key);
/* Stamps group (versioned fills), then drops its entries. */
void store__local_cache_drop_group(store_local_t *l, const char *group);
/* Internal modes beyond enum store_rate_mode: count one event whatever the bucket says;
   give one counted event back (never below an empty bucket). */
#define STORE__RATE_FORCE  3
#define STORE__RATE_REFUND 4
void store__local_rate_check(store_local_t *l, const store_rate_t *r, size_t n, int64_t now_us,
                             store_rate_result_t *out);
void store__local_rate_block(store_local_t *l, const char *key, uint32_t seconds, int64_t now_us);
/* Drops expired entries; returns how many. */
size_t store__local_prune(store_local_t *l, int64_t now_us);

/* ---- GCRA arithmetic shared by the local tables and the tests ------------------------- */

/*
 * One bucket at now: *tat is the stored TAT (0 = none; updated when the request counts).
 * Returns 0 when allowed, else the microseconds until it would be.
 */
int64_t store__gcra(int64_t *tat, uint32_t count, uint32_t period_s, int64_t now_us, int mode);

/* ---- store_redis.c hooks used by store_mem.c ------------------------------------------ */

/* Publishes one revocation message ("j HEX EXP", ...) unless the caller is the pull. */
void store__redis_publish(store_redis_t *rd, const char *msg);
/* Stops the Redis thread and frees the backend. */
void store__redis_close(store_redis_t *rd);
/* True while the current thread is running the pull (its revocations are not published). */
bool store__in_pull(void);

#endif

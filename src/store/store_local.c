/*
 * store_local.c - the in-process tables behind the store's cache and rate-limit API: what
 * the embedded backend uses, and what the Redis backend falls back to while Redis is
 * unreachable (rate limits only; the cache then misses).
 *
 * DESIGN
 * One chained hash table of string keys under one mutex. An entry is either a cache value
 * (value, expiry, optional group) or a rate bucket (its GCRA TAT in microseconds, expiry =
 * when the bucket is back to full). Expired entries are dropped when met and by
 * store__local_prune() (the feed thread). Bounded: at max_entries, expired entries are
 * pruned first and, if still full, the table is emptied (cache entries are cheap to
 * recompute; emptying also forgets rate buckets, which is why the cap is large).
 * Dropping a group scans the table: groups are dropped on writes (refresh, post edits),
 * rare next to reads. A counting filter (group_n: entries per hash slot of their group)
 * skips the scan when no entry can be in the group, which is the common case of a
 * refresh (every refresh drops its user's group, usually not cached).
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"
#include "store/store_internal.h"

struct lentry {
    struct lentry *next;
    char *key;
    char *group; /* NULL = none */
    char *value; /* NULL for a rate bucket */
    size_t value_len;
    int64_t tat_us;     /* rate bucket */
    int64_t expires_us; /* entry is gone at or after this */
    uint64_t hash;
};

#define NBUCKETS    16384u
#define GROUP_SLOTS 1024u

struct store_local {
    pthread_mutex_t mu;
    struct lentry *b[NBUCKETS];
    size_t count, max;
    uint32_t group_n[GROUP_SLOTS]; /* entries whose group hashes to the slot */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

store_local_t *store__local_new(size_t max_entries)
{
    store_local_t *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->max = max_entries ? max_entries : 200000;
    return l;
}

static void entry_free(struct lentry *e)
{
    free(e->key);
    free(e->group);
    free(e->value);
    free(e);
}

static size_t group_slot(const char *group)
{
    return (size_t)(hash_str(group) % GROUP_SLOTS);
}

/* Sets e's group (NULL = none), keeping group_n in step. Caller holds mu. */
static void entry_set_group(store_local_t *l, struct lentry *e, const char *group)
{
    if (e->group) {
        l->group_n[group_slot(e->group)]--;
        free(e->group);
        e->group = NULL;
    }
    if (group) {
        e->group = xstrdup(group);
        l->group_n[group_slot(group)]++;
    }
}

/* Unlinked entry e freed, group_n in step. Caller holds mu. */
static void entry_drop(store_local_t *l, struct lentry *e)
{
    entry_set_group(l, e, NULL);
    entry_free(e);
}

static void clear_all(store_local_t *l)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct lentry *e = l->b[i];
        while (e) {
            struct lentry *n = e->next;
            entry_free(e);
            e = n;
        }
        l->b[i] = NULL;
    }
    l->count = 0;
    memset(l->group_n, 0, sizeof l->group_n);
}

void store__local_free(store_local_t *l)
{
    if (!l)
        return;
    clear_all(l);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Finds key (dropping it when expired). Caller holds mu. */
static struct lentry *find(store_local_t *l, const char *key, uint64_t h, int64_t now_us)
{
    struct lentry **pp = &l->b[h % NBUCKETS];
    while (*pp) {
        struct lentry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            if (e->expires_us <= now_us) {
                *pp = e->next;
                entry_drop(l, e);
                l->count--;
                return NULL;
            }
            return e;
        }
        pp = &e->next;
    }
    return NULL;
}

static size_t prune_locked(store_local_t *l, int64_t now_us)
{
    size_t n = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct lentry **pp = &l->b[i];
        while (*pp) {
            struct lentry *e = *pp;
            if (e->expires_us <= now_us) {
                *pp = e->next;
                entry_drop(l, e);
                l->count--;
                n++;
            } else {
                pp = &e->next;
            }
        }
    }
    return n;
}

/* Creates (or returns) the entry of key. Caller holds mu. */
static struct lentry *upsert(store_local_t *l, const char *key, int64_t now_us)
{
    uint64_t h = hash_str(key);
    struct lentry *e = find(l, key, h, now_us);
    if (e)
        return e;
    if (l->count >= l->max) {
        prune_locked(l, now_us);
        if (l->count >= l->max)
            clear_all(l);
    }
    e = xcalloc(1, sizeof *e);
    e->key = xstrdup(key);
    e->hash = h;
    e->next = l->b[h % NBUCKETS];
    l->b[h % NBUCKETS] = e;
    l->count++;
    return e;
}

static void remove_key(store_local_t *l, const char *key)
{
    uint64_t h = hash_str(key);
    struct lentry **pp = &l->b[h % NBUCKETS];
    while (*pp) {
        struct lentry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            *pp = e->next;
            entry_drop(l, e);
            l->count--;
            return;
        }
        pp = &e->next;
    }
}

char *store__local_cache_get(store_local_t *l, const char *key, int64_t now_us, size_t *len)
{
    char *out = NULL;
    pthread_mutex_lock(&l->mu);
    struct lentry *e = find(l, key, hash_str(key), now_us);
    if (e && e->value) {
        out = xmalloc(e->value_len + 1);
        memcpy(out, e->value, e->value_len);
        out[e->value_len] = '\0';
        *len = e->value_len;
    }
    pthread_mutex_unlock(&l->mu);
    return out;
}

void store__local_cache_set(store_local_t *l, const char *key, str_t value, uint32_t ttl_s,
                            const char *group, int64_t now_us)
{
    if (ttl_s == 0)
        return;
    char *v = xmalloc(value.len + 1);
    memcpy(v, value.ptr, value.len);
    v[value.len] = '\0';
    pthread_mutex_lock(&l->mu);
    struct lentry *e = upsert(l, key, now_us);
    free(e->value);
    e->value = v;
    e->value_len = value.len;
    entry_set_group(l, e, group);
    e->expires_us = now_us + (int64_t)ttl_s * 1000000;
    pthread_mutex_unlock(&l->mu);
}

void store__local_cache_del(store_local_t *l, const char *key)
{
    pthread_mutex_lock(&l->mu);
    remove_key(l, key);
    pthread_mutex_unlock(&l->mu);
}

void store__local_cache_drop_group(store_local_t *l, const char *group)
{
    pthread_mutex_lock(&l->mu);
    if (l->group_n[group_slot(group)] == 0) { /* nothing can be in the group */
        pthread_mutex_unlock(&l->mu);
        return;
    }
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct lentry **pp = &l->b[i];
        while (*pp) {
            struct lentry *e = *pp;
            if (e->group && strcmp(e->group, group) == 0) {
                *pp = e->next;
                entry_drop(l, e);
                l->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
}

/* See store_internal.h. */
int64_t store__gcra(int64_t *tat, uint32_t count, uint32_t period_s, int64_t now_us, int mode)
{
    if (count == 0)
        return 0;
    int64_t period = (int64_t)period_s * 1000000;
    int64_t t = period / count;
    if (t < 1)
        t = 1;
    int64_t cur = *tat > now_us ? *tat : now_us;
    if (mode == STORE__RATE_FORCE) {
        int64_t n = cur + t;
        *tat = n > now_us + period ? now_us + period : n;
        return 0;
    }
    if (mode == STORE__RATE_REFUND) {
        *tat = cur - t > now_us ? cur - t : now_us;
        return 0;
    }
    int64_t over = cur - now_us - (period - t);
    if (over > 0)
        return over;
    if (mode == STORE_RATE_CONSUME)
        *tat = cur + t;
    return 0;
}

/* "rate:" + key, so rate buckets and cache keys never collide. */
static void rate_key(char *out, size_t cap, const char *key)
{
    size_t n = strlen(key);
    if (n + 6 > cap)
        n = cap - 6;
    memcpy(out, "rate:", 5);
    memcpy(out + 5, key, n);
    out[5 + n] = '\0';
}

/* Whether a check's bucket is written when the request is allowed. */
static bool rate_counted(const store_rate_t *r)
{
    int mode = (int)r->mode;
    return (mode == STORE_RATE_CONSUME || mode == STORE__RATE_FORCE ||
            mode == STORE__RATE_REFUND) &&
           r->count != 0;
}

void store__local_rate_check(store_local_t *l, const store_rate_t *r, size_t n, int64_t now_us,
                             store_rate_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->allowed = true;
    out->denied_by = -1;
    out->local = true;
    int64_t retry = 0;
    int64_t tats[8];
    struct lentry *found[8];
    bool all_found = true; /* then the counting pass needs no second lookup */
    if (n > 8)
        n = 8;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        char k[300];
        rate_key(k, sizeof k, r[i].key);
        struct lentry *e = find(l, k, hash_str(k), now_us);
        found[i] = e;
        all_found = all_found && (e || !rate_counted(&r[i]));
        tats[i] = e ? e->tat_us : 0;
        int64_t wait = 0;
        if ((int)r[i].mode == STORE_RATE_BLOCK) {
            wait = e ? e->expires_us - now_us : 0;
        } else {
            int64_t t = tats[i];
            wait = store__gcra(&t, r[i].count, r[i].period_s, now_us, (int)r[i].mode);
            tats[i] = t;
        }
        if (wait > 0) {
            if (out->denied_by < 0)
                out->denied_by = (int)i;
            if (wait > retry)
                retry = wait;
        }
    }
    if (out->denied_by >= 0) {
        out->allowed = false;
        out->retry_after_s = (uint32_t)((retry + 999999) / 1000000);
        if (out->retry_after_s == 0)
            out->retry_after_s = 1;
    } else {
        for (size_t i = 0; i < n; i++) {
            if (!rate_counted(&r[i]))
                continue;
            /* an insertion may prune (free) other entries: found[] holds only while none
               is inserted */
            struct lentry *e = found[i];
            if (!all_found) {
                char k[300];
                rate_key(k, sizeof k, r[i].key);
                e = upsert(l, k, now_us);
            }
            e->tat_us = tats[i];
            e->expires_us = tats[i] > now_us ? tats[i] + 1 : now_us + 1;
        }
    }
    pthread_mutex_unlock(&l->mu);
}

void store__local_rate_block(store_local_t *l, const char *key, uint32_t seconds, int64_t now_us)
{
    if (seconds == 0)
        return;
    char k[300];
    rate_key(k, sizeof k, key);
    pthread_mutex_lock(&l->mu);
    struct lentry *e = upsert(l, k, now_us);
    e->expires_us = now_us + (int64_t)seconds * 1000000;
    pthread_mutex_unlock(&l->mu);
}

size_t store__local_prune(store_local_t *l, int64_t now_us)
{
    pthread_mutex_lock(&l->mu);
    size_t n = prune_locked(l, now_us);
    pthread_mutex_unlock(&l->mu);
    return n;
}

/*
 * store_local.c - the in-process tables behind the store's cache and rate-limit API: what
 * the embedded backend uses, and what the Redis backend falls back to while Redis is
 * unreachable (rate limits only; the cache then misses).
 *
 * DESIGN
 * Chained hash tables of string keys in SHARDS shards, a key's shard chosen by its hash, each
shard under its own mutex (adaptive: the critical sections are a few hundred nanoseconds, so a
waiter spins briefly instead of sleeping in the kernel). Two workers checking different
clients' buckets do not contend; two checking the same bucket (one client on two keep-alive
connections) share a cache line but no system call. An entry is either a cache value
 * (value, expiry, optional group) or a rate bucket (its GCRA TAT in microseconds, expiry =
 * when the bucket is back to full). Expired entries are dropped when met and by
 * store__local_prune() (the feed thread). Bounded: at max_entries (split evenly between
 * shards), the shard's expired entries are pruned first and, if still full, the shard is emptied
(cache entries are cheap to
 * recompute; emptying also forgets rate buckets, which is why the cap is large).
 * Dropping a group scans the table: groups are dropped on writes (refresh, post edits),
 * rare next to reads. A counting filter per shard (group_n: entries per hash slot of their
 * group) skips a shard's scan when none of its entries can be in the group, which is the common
 * case of a refresh (every refresh drops its user's group, usually not cached).
 *
 * Versioned fills (store.h): one atomic sequence per table; a delete takes the next value and
 * writes it, under the key's shard lock, into the key's stamp (a slot of key_stamp chosen by
 * the key's hash, so neighbours share a stamp: a fill can be dropped for another key's
 * invalidation, never kept after its own); a group drop stamps the group's slot of
 * group_stamp in the group's shard before it scans. store__local_cache_set_if holds the
 * key's and the group's shard locks together and stores only when neither stamp is newer
 * than the ticket. The stamps survive a shard being emptied and never expire (fixed memory,
 * 16 x 1280 x 8 bytes), so the guarantee has no time bound here. A ticket is an atomic load:
 * a miss pays nothing measurable, a hit nothing at all.
 */
#include <stdatomic.h>
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

#define SHARDS       16u
#define NBUCKETS     1024u /* per shard */
#define GROUP_SLOTS  512u
#define KEY_STAMPS   1024u /* per shard */
#define GROUP_STAMPS 256u  /* per shard */

struct shard {
    pthread_mutex_t mu;
    struct lentry *b[NBUCKETS];
    size_t count, max;
    uint32_t group_n[GROUP_SLOTS];      /* entries whose group hashes to the slot */
    uint64_t key_stamp[KEY_STAMPS];     /* last invalidation of the keys of the slot */
    uint64_t group_stamp[GROUP_STAMPS]; /* last drop of the groups of the slot */
} __attribute__((aligned(64)));

struct store_local {
    struct shard s[SHARDS];
    _Atomic uint64_t seq; /* the last invalidation's stamp (versioned fills) */
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

/* The shard of a key and its chain, from one hash: low bits pick the chain, high bits the
 * shard, so that a shard's chains are all used. */
static struct shard *shard_of(store_local_t *l, uint64_t h)
{
    return &l->s[(h >> 40) % SHARDS];
}

static struct lentry **chain(struct shard *sh, uint64_t h)
{
    return &sh->b[h % NBUCKETS];
}

store_local_t *store__local_new(size_t max_entries)
{
    store_local_t *l = xaligned_alloc(_Alignof(struct shard), sizeof *l);
    memset(l, 0, sizeof *l);
    size_t max = max_entries ? max_entries : 200000;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&l->s[i].mu, &a);
        l->s[i].max = (max + SHARDS - 1) / SHARDS;
    }
    pthread_mutexattr_destroy(&a);
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

/* Sets e's group (NULL = none), keeping group_n in step. Caller holds sh->mu. */
static void entry_set_group(struct shard *sh, struct lentry *e, const char *group)
{
    if (e->group) {
        sh->group_n[group_slot(e->group)]--;
        free(e->group);
        e->group = NULL;
    }
    if (group) {
        e->group = xstrdup(group);
        sh->group_n[group_slot(group)]++;
    }
}

/* Unlinked entry e freed, count and group_n in step. Caller holds sh->mu. */
static void entry_drop(struct shard *sh, struct lentry *e)
{
    entry_set_group(sh, e, NULL);
    entry_free(e);
    sh->count--;
}

static void clear_shard(struct shard *sh)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct lentry *e = sh->b[i];
        while (e) {
            struct lentry *n = e->next;
            entry_free(e);
            e = n;
        }
        sh->b[i] = NULL;
    }
    sh->count = 0;
    memset(sh->group_n, 0, sizeof sh->group_n);
}

void store__local_free(store_local_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < SHARDS; i++) {
        clear_shard(&l->s[i]);
        pthread_mutex_destroy(&l->s[i].mu);
    }
    free(l);
}

/* Finds key (dropping it when expired). Caller holds sh->mu. */
static struct lentry *find(struct shard *sh, const char *key, uint64_t h, int64_t now_us)
{
    struct lentry **pp = chain(sh, h);
    while (*pp) {
        struct lentry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            if (e->expires_us <= now_us) {
                *pp = e->next;
                entry_drop(sh, e);
                return NULL;
            }
            return e;
        }
        pp = &e->next;
    }
    return NULL;
}

/* Drops sh's entries that match: expired ones (group NULL) or those of group. Caller holds
 * sh->mu. */
static size_t drop_where(struct shard *sh, int64_t now_us, const char *group)
{
    size_t n = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct lentry **pp = &sh->b[i];
        while (*pp) {
            struct lentry *e = *pp;
            if (group ? e->group && strcmp(e->group, group) == 0 : e->expires_us <= now_us) {
                *pp = e->next;
                entry_drop(sh, e);
                n++;
            } else {
                pp = &e->next;
            }
        }
    }
    return n;
}

/* Creates (or returns) the entry of key, whose hash is h. Caller holds sh->mu. */
static struct lentry *upsert(struct shard *sh, const char *key, uint64_t h, int64_t now_us)
{
    struct lentry *e = find(sh, key, h, now_us);
    if (e)
        return e;
    if (sh->count >= sh->max) {
        drop_where(sh, now_us, NULL);
        if (sh->count >= sh->max)
            clear_shard(sh);
    }
    e = xcalloc(1, sizeof *e);
    e->key = xstrdup(key);
    e->hash = h;
    e->next = *chain(sh, h);
    *chain(sh, h) = e;
    sh->count++;
    return e;
}

char *store__local_cache_get(store_local_t *l, const char *key, int64_t now_us, size_t *len)
{
    char *out = NULL;
    uint64_t h = hash_str(key);
    struct shard *sh = shard_of(l, h);
    pthread_mutex_lock(&sh->mu);
    struct lentry *e = find(sh, key, h, now_us);
    if (e && e->value) {
        out = xmalloc(e->value_len + 1);
        memcpy(out, e->value, e->value_len);
        out[e->value_len] = '\0';
        *len = e->value_len;
    }
    pthread_mutex_unlock(&sh->mu);
    return out;
}

static size_t lock_shards(store_local_t *l, const uint64_t *h, size_t n, struct shard **held);
static void unlock_shards(struct shard **held, size_t k);

/* A NUL-terminated malloc'd copy of value (built before taking a lock). */
static char *value_copy(str_t value)
{
    char *v = xmalloc(value.len + 1);
    if (value.len)
        memcpy(v, value.ptr, value.len);
    v[value.len] = '\0';
    return v;
}

/* Stores v (taken over) under key, whose hash is h. Caller holds sh->mu. */
static void cache_put(struct shard *sh, const char *key, uint64_t h, char *v, size_t len,
                      uint32_t ttl_s, const char *group, int64_t now_us)
{
    struct lentry *e = upsert(sh, key, h, now_us);
    free(e->value);
    e->value = v;
    e->value_len = len;
    entry_set_group(sh, e, group);
    e->expires_us = now_us + (int64_t)ttl_s * 1000000;
}

void store__local_cache_set(store_local_t *l, const char *key, str_t value, uint32_t ttl_s,
                            const char *group, int64_t now_us)
{
    if (ttl_s == 0)
        return;
    char *v = value_copy(value);
    uint64_t h = hash_str(key);
    struct shard *sh = shard_of(l, h);
    pthread_mutex_lock(&sh->mu);
    cache_put(sh, key, h, v, value.len, ttl_s, group, now_us);
    pthread_mutex_unlock(&sh->mu);
}

/* The stamp slots of a key and of a group (in their shards). */
static size_t key_stamp_slot(uint64_t h)
{
    return (size_t)(h % KEY_STAMPS);
}

static size_t group_stamp_slot(uint64_t gh)
{
    return (size_t)((gh >> 16) % GROUP_STAMPS);
}

/* See store_internal.h. */
uint64_t store__local_cache_ticket(store_local_t *l)
{
    return atomic_load(&l->seq);
}

/* Takes the next stamp (caller holds the lock of the shard it writes it into). */
static uint64_t next_stamp(store_local_t *l)
{
    return atomic_fetch_add(&l->seq, 1) + 1;
}

/* See store_internal.h. */
bool store__local_cache_set_if(store_local_t *l, const char *key, str_t value, uint32_t ttl_s,
                               const char *group, int64_t now_us, uint64_t ticket)
{
    if (ttl_s == 0)
        return false;
    char *v = value_copy(value);
    uint64_t h[2] = {hash_str(key), group ? hash_str(group) : 0};
    struct shard *held[2];
    size_t nheld = lock_shards(l, h, group ? 2 : 1, held);
    struct shard *sh = shard_of(l, h[0]);
    /* a ticket newer than the sequence was never handed out (STORE_FILL_NONE) */
    bool ok = ticket <= atomic_load(&l->seq) && sh->key_stamp[key_stamp_slot(h[0])] <= ticket &&
              (!group || shard_of(l, h[1])->group_stamp[group_stamp_slot(h[1])] <= ticket);
    if (ok) {
        cache_put(sh, key, h[0], v, value.len, ttl_s, group, now_us);
        v = NULL;
    }
    unlock_shards(held, nheld);
    free(v);
    return ok;
}

void store__local_cache_del(store_local_t *l, const char *key)
{
    uint64_t h = hash_str(key);
    struct shard *sh = shard_of(l, h);
    pthread_mutex_lock(&sh->mu);
    sh->key_stamp[key_stamp_slot(h)] = next_stamp(l);
    for (struct lentry **pp = chain(sh, h); *pp; pp = &(*pp)->next) {
        struct lentry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            *pp = e->next;
            entry_drop(sh, e);
            break;
        }
    }
    pthread_mutex_unlock(&sh->mu);
}

void store__local_cache_drop_group(store_local_t *l, const char *group)
{
    /* the stamp first: a set_if that stores before it is dropped by the scan below */
    uint64_t gh = hash_str(group);
    struct shard *gsh = shard_of(l, gh);
    pthread_mutex_lock(&gsh->mu);
    gsh->group_stamp[group_stamp_slot(gh)] = next_stamp(l);
    pthread_mutex_unlock(&gsh->mu);
    size_t slot = group_slot(group);
    for (size_t i = 0; i < SHARDS; i++) {
        struct shard *sh = &l->s[i];
        pthread_mutex_lock(&sh->mu);
        if (sh->group_n[slot] != 0) /* else nothing of sh can be in the group */
            drop_where(sh, 0, group);
        pthread_mutex_unlock(&sh->mu);
    }
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

/* Locks the shards of keys h[0..n) once each, in ascending order (the lock order every
 * multi-key check follows); held[] receives them for unlock_shards(). */
static size_t lock_shards(store_local_t *l, const uint64_t *h, size_t n, struct shard **held)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct shard *sh = shard_of(l, h[i]);
        size_t j = 0;
        while (j < k && held[j] < sh)
            j++;
        if (j < k && held[j] == sh)
            continue;
        memmove(held + j + 1, held + j, (k - j) * sizeof *held);
        held[j] = sh;
        k++;
    }
    for (size_t i = 0; i < k; i++)
        pthread_mutex_lock(&held[i]->mu);
    return k;
}

static void unlock_shards(struct shard **held, size_t k)
{
    while (k > 0)
        pthread_mutex_unlock(&held[--k]->mu);
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
    char keys[8][300];
    uint64_t h[8] = {0}; /* (all set below; silences -Wmaybe-uninitialized) */
    struct shard *held[8];
    struct lentry *found[8];
    bool all_found = true; /* then the counting pass needs no second lookup */
    if (n > 8)
        n = 8;
    for (size_t i = 0; i < n; i++) {
        rate_key(keys[i], sizeof keys[i], r[i].key);
        h[i] = hash_str(keys[i]);
    }
    size_t nheld = lock_shards(l, h, n, held);
    for (size_t i = 0; i < n; i++) {
        struct lentry *e = find(shard_of(l, h[i]), keys[i], h[i], now_us);
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
            /* an insertion may empty a full shard (free other entries): found[] holds only
               while none is inserted */
            struct lentry *e = found[i];
            if (!all_found)
                e = upsert(shard_of(l, h[i]), keys[i], h[i], now_us);
            e->tat_us = tats[i];
            e->expires_us = tats[i] > now_us ? tats[i] + 1 : now_us + 1;
        }
    }
    unlock_shards(held, nheld);
}

void store__local_rate_block(store_local_t *l, const char *key, uint32_t seconds, int64_t now_us)
{
    if (seconds == 0)
        return;
    char k[300];
    rate_key(k, sizeof k, key);
    uint64_t h = hash_str(k);
    struct shard *sh = shard_of(l, h);
    pthread_mutex_lock(&sh->mu);
    struct lentry *e = upsert(sh, k, h, now_us);
    e->expires_us = now_us + (int64_t)seconds * 1000000;
    pthread_mutex_unlock(&sh->mu);
}

size_t store__local_prune(store_local_t *l, int64_t now_us)
{
    size_t n = 0;
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&l->s[i].mu);
        n += drop_where(&l->s[i], now_us, NULL);
        pthread_mutex_unlock(&l->s[i].mu);
    }
    return n;
}

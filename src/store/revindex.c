/*
 * revindex.c - in-memory revocation index (see revindex.h for the design).
 */
#include "store/revindex.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "runtime/alloc.h"

#define MIN_CAP 64

struct id_slot {
    store_id_t id;
    int64_t exp;
    bool used;
};

struct id_table {
    struct id_slot *slots;
    size_t cap; /* power of two */
    size_t count;
};

struct user_slot {
    int64_t user_id;
    int64_t revoke_before;
    int64_t keep_until;
    bool used;
};

struct user_table {
    struct user_slot *slots;
    size_t cap;
    size_t count;
};

struct store_revindex {
    pthread_rwlock_t lock;
    atomic_size_t total; /* entries in all tables: 0 lets readers skip the lock */
    uint64_t seed;
    struct id_table jtis;
    struct id_table sids;
    struct user_table users;
};

/* ------------------------------------------------------------------------------------------
 * ids
 * ---------------------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* See revindex.h. */
int store_id_parse(str_t s, store_id_t *out)
{
    if (s.len != 32)
        return -1;
    for (size_t i = 0; i < 16; i++) {
        int hi = hexval(s.ptr[2 * i]), lo = hexval(s.ptr[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* See revindex.h. */
void store_id_format(const store_id_t *id, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; i++) {
        out[2 * i] = hex[id->b[i] >> 4];
        out[2 * i + 1] = hex[id->b[i] & 15];
    }
    out[32] = '\0';
}

static uint64_t mix64(uint64_t x)
{
    /* splitmix64 finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_id(uint64_t seed, const store_id_t *id)
{
    uint64_t a, b;
    memcpy(&a, id->b, 8);
    memcpy(&b, id->b + 8, 8);
    return mix64(a ^ seed) ^ mix64(b + seed);
}

static uint64_t hash_user(uint64_t seed, int64_t user_id)
{
    return mix64((uint64_t)user_id ^ seed);
}

/* ------------------------------------------------------------------------------------------
 * id tables: linear probing, backward-shift deletion
 * ---------------------------------------------------------------------------------------- */

static void id_table_init(struct id_table *t, size_t cap)
{
    t->slots = xcalloc(cap, sizeof *t->slots);
    t->cap = cap;
    t->count = 0;
}

static struct id_slot *id_table_find(const struct id_table *t, uint64_t seed, const store_id_t *id)
{
    size_t mask = t->cap - 1;
    for (size_t i = hash_id(seed, id) & mask;; i = (i + 1) & mask) {
        struct id_slot *s = &t->slots[i];
        if (!s->used)
            return NULL;
        if (memcmp(s->id.b, id->b, 16) == 0)
            return s;
    }
}

static void id_table_put_new(struct id_table *t, uint64_t seed, const store_id_t *id, int64_t exp)
{
    size_t mask = t->cap - 1;
    size_t i = hash_id(seed, id) & mask;
    while (t->slots[i].used)
        i = (i + 1) & mask;
    t->slots[i] = (struct id_slot){*id, exp, true};
    t->count++;
}

static void id_table_grow(struct id_table *t, uint64_t seed)
{
    struct id_table bigger;
    id_table_init(&bigger, t->cap * 2);
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].used)
            id_table_put_new(&bigger, seed, &t->slots[i].id, t->slots[i].exp);
    free(t->slots);
    *t = bigger;
}

/* Returns 1 when a new entry was added, 0 when an existing one was updated. */
static int id_table_add(struct id_table *t, uint64_t seed, const store_id_t *id, int64_t exp)
{
    struct id_slot *s = id_table_find(t, seed, id);
    if (s) {
        if (exp > s->exp)
            s->exp = exp;
        return 0;
    }
    if ((t->count + 1) * 2 > t->cap)
        id_table_grow(t, seed);
    id_table_put_new(t, seed, id, exp);
    return 1;
}

/* Removes slot i and shifts the following cluster back so lookups stay correct. */
static void id_table_delete_at(struct id_table *t, uint64_t seed, size_t i)
{
    size_t mask = t->cap - 1;
    size_t j = i;
    t->slots[i].used = false;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].used)
            break;
        size_t home = hash_id(seed, &t->slots[j].id) & mask;
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        bool home_between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!home_between) {
            t->slots[i] = t->slots[j];
            t->slots[j].used = false;
            i = j;
        }
    }
    t->count--;
}

static size_t id_table_prune(struct id_table *t, uint64_t seed, int64_t now)
{
    size_t removed = 0;
    for (size_t i = 0; i < t->cap;) {
        if (t->slots[i].used && t->slots[i].exp < now) {
            id_table_delete_at(t, seed, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

/* ------------------------------------------------------------------------------------------
 * user watermark table
 * ---------------------------------------------------------------------------------------- */

static void user_table_init(struct user_table *t, size_t cap)
{
    t->slots = xcalloc(cap, sizeof *t->slots);
    t->cap = cap;
    t->count = 0;
}

static struct user_slot *user_table_find(const struct user_table *t, uint64_t seed, int64_t uid)
{
    size_t mask = t->cap - 1;
    for (size_t i = hash_user(seed, uid) & mask;; i = (i + 1) & mask) {
        struct user_slot *s = &t->slots[i];
        if (!s->used)
            return NULL;
        if (s->user_id == uid)
            return s;
    }
}

static void user_table_put_new(struct user_table *t, uint64_t seed, const struct user_slot *e)
{
    size_t mask = t->cap - 1;
    size_t i = hash_user(seed, e->user_id) & mask;
    while (t->slots[i].used)
        i = (i + 1) & mask;
    t->slots[i] = *e;
    t->slots[i].used = true;
    t->count++;
}

static void user_table_grow(struct user_table *t, uint64_t seed)
{
    struct user_table bigger;
    user_table_init(&bigger, t->cap * 2);
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].used)
            user_table_put_new(&bigger, seed, &t->slots[i]);
    free(t->slots);
    *t = bigger;
}

static void user_table_delete_at(struct user_table *t, uint64_t seed, size_t i)
{
    size_t mask = t->cap - 1;
    size_t j = i;
    t->slots[i].used = false;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].used)
            break;
        size_t home = hash_user(seed, t->slots[j].user_id) & mask;
        bool home_between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!home_between) {
            t->slots[i] = t->slots[j];
            t->slots[j].used = false;
            i = j;
        }
    }
    t->count--;
}

/* ------------------------------------------------------------------------------------------
 * public API
 * ---------------------------------------------------------------------------------------- */

/* See revindex.h. */
store_revindex_t *store_revindex_new(void)
{
    store_revindex_t *ix = xcalloc(1, sizeof *ix);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Revocations must not starve behind a steady stream of readers. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (RAND_bytes((unsigned char *)&ix->seed, sizeof ix->seed) != 1)
        ix->seed = 0x6a09e667f3bcc908ULL ^ (uint64_t)(uintptr_t)ix;
    atomic_init(&ix->total, 0);
    id_table_init(&ix->jtis, MIN_CAP);
    id_table_init(&ix->sids, MIN_CAP);
    user_table_init(&ix->users, MIN_CAP);
    return ix;
}

/* See revindex.h. */
void store_revindex_free(store_revindex_t *ix)
{
    if (!ix)
        return;
    pthread_rwlock_destroy(&ix->lock);
    free(ix->jtis.slots);
    free(ix->sids.slots);
    free(ix->users.slots);
    free(ix);
}

static void update_total(store_revindex_t *ix)
{
    atomic_store_explicit(&ix->total, ix->jtis.count + ix->sids.count + ix->users.count,
                          memory_order_release);
}

/* See revindex.h. */
void store_revindex_add_jti(store_revindex_t *ix, const store_id_t *jti, int64_t exp)
{
    pthread_rwlock_wrlock(&ix->lock);
    id_table_add(&ix->jtis, ix->seed, jti, exp);
    update_total(ix);
    pthread_rwlock_unlock(&ix->lock);
}

/* See revindex.h. */
void store_revindex_add_sid(store_revindex_t *ix, const store_id_t *sid, int64_t exp)
{
    pthread_rwlock_wrlock(&ix->lock);
    id_table_add(&ix->sids, ix->seed, sid, exp);
    update_total(ix);
    pthread_rwlock_unlock(&ix->lock);
}

/* See revindex.h. */
void store_revindex_set_watermark(store_revindex_t *ix, int64_t user_id, int64_t revoke_before,
                                  int64_t keep_until)
{
    pthread_rwlock_wrlock(&ix->lock);
    struct user_slot *s = user_table_find(&ix->users, ix->seed, user_id);
    if (s) {
        if (revoke_before > s->revoke_before)
            s->revoke_before = revoke_before;
        if (keep_until > s->keep_until)
            s->keep_until = keep_until;
    } else {
        if ((ix->users.count + 1) * 2 > ix->users.cap)
            user_table_grow(&ix->users, ix->seed);
        struct user_slot e = {user_id, revoke_before, keep_until, true};
        user_table_put_new(&ix->users, ix->seed, &e);
    }
    update_total(ix);
    pthread_rwlock_unlock(&ix->lock);
}

/* See revindex.h. */
enum store_revoked_by store_revindex_check(store_revindex_t *ix, const store_token_ref_t *tok)
{
    if (atomic_load_explicit(&ix->total, memory_order_acquire) == 0)
        return STORE_NOT_REVOKED;
    enum store_revoked_by by = STORE_NOT_REVOKED;
    pthread_rwlock_rdlock(&ix->lock);
    if (tok->jti && ix->jtis.count && id_table_find(&ix->jtis, ix->seed, tok->jti)) {
        by = STORE_REVOKED_JTI;
    } else if (tok->sid && ix->sids.count && id_table_find(&ix->sids, ix->seed, tok->sid)) {
        by = STORE_REVOKED_SID;
    } else if (tok->user_id != INT64_MIN && ix->users.count) {
        const struct user_slot *u = user_table_find(&ix->users, ix->seed, tok->user_id);
        if (u && tok->iat < u->revoke_before)
            by = STORE_REVOKED_WATERMARK;
    }
    pthread_rwlock_unlock(&ix->lock);
    return by;
}

/* See revindex.h. */
size_t store_revindex_prune(store_revindex_t *ix, int64_t now)
{
    size_t removed = 0;
    pthread_rwlock_wrlock(&ix->lock);
    removed += id_table_prune(&ix->jtis, ix->seed, now);
    removed += id_table_prune(&ix->sids, ix->seed, now);
    for (size_t i = 0; i < ix->users.cap;) {
        if (ix->users.slots[i].used && ix->users.slots[i].keep_until < now) {
            user_table_delete_at(&ix->users, ix->seed, i);
            removed++;
        } else {
            i++;
        }
    }
    update_total(ix);
    pthread_rwlock_unlock(&ix->lock);
    return removed;
}

/* See revindex.h. */
void store_revindex_stats(store_revindex_t *ix, store_revindex_stats_t *out)
{
    pthread_rwlock_rdlock(&ix->lock);
    out->jtis = ix->jtis.count;
    out->sids = ix->sids.count;
    out->users = ix->users.count;
    pthread_rwlock_unlock(&ix->lock);
}

/*
 * usercache.c - the user cache that lets GET /api/users/me/ answer without a database
 * query per request: user id -> the user's API JSON object, is_active and load time.
 *
 * DESIGN
 * A chained hash table (power-of-two buckets, multiplicative hash of the id) under one
 * pthread rwlock. Event-loop threads take the read lock and copy the JSON out (a few
 * hundred bytes); writers (pool threads after a login, refresh or miss; revocations) build
 * the new entry before taking the write lock and free the old one after releasing it.
 * Staleness is bounded by the caller's TTL (min_loaded_at); changes made by this process
 * replace or drop entries at once. When max_entries is reached the table is emptied:
 * a reload costs one query, and the bound keeps memory proportional to active users.
 *
 * Versioned fills: a miss is filled by a pool thread that reads the row, and a write on
 * another thread can commit and drop the entry between that read and the put, which would
 * then store the old row for the whole TTL. So every drop advances a generation (GEN_SLOTS
 * counters, one per slot of the id's hash, under the write lock; they never wrap in practice
 * and are never reset, so there is no time bound); a fill takes the generation of its user
 * before its read (auth__ucache_ticket) and auth__ucache_put_if stores only when it is
 * unchanged. Users sharing a slot can only make a fill be dropped (one more query later),
 * never keep an old row. Puts made by writers themselves (login, refresh) stay unconditional.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "common/err.h"
#include "runtime/alloc.h"

struct entry {
    struct entry *next;
    int64_t user_id;
    int64_t loaded_at;
    bool is_active;
    size_t len;
    char json[]; /* len bytes */
};

#define GEN_SLOTS 4096u

struct auth_ucache {
    pthread_rwlock_t lock;
    struct entry **buckets;
    size_t mask; /* buckets - 1 */
    size_t count, max;
    uint64_t gen[GEN_SLOTS]; /* drops of the users of the slot (versioned fills) */
};

static size_t slot(const auth_ucache_t *c, int64_t id)
{
    uint64_t h = (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & c->mask;
}

/* See auth_internal.h. */
auth_ucache_t *auth__ucache_new(size_t max_entries)
{
    auth_ucache_t *c = xcalloc(1, sizeof *c);
    size_t n = 1024;
    while (n < max_entries && n < ((size_t)1 << 20))
        n <<= 1;
    c->buckets = xcalloc(n, sizeof *c->buckets);
    c->mask = n - 1;
    c->max = max_entries ? max_entries : 65536;
    pthread_rwlock_init(&c->lock, NULL);
    return c;
}

static void free_chain(struct entry *e)
{
    while (e) {
        struct entry *n = e->next;
        free(e);
        e = n;
    }
}

/* See auth_internal.h. */
void auth__ucache_free(auth_ucache_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        free_chain(c->buckets[i]);
    free(c->buckets);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

/* Unlinks the entry of id from its bucket (write lock held). Returns it or NULL. */
static struct entry *unlink_entry(auth_ucache_t *c, int64_t id)
{
    struct entry **pp = &c->buckets[slot(c, id)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->user_id == id) {
            struct entry *e = *pp;
            *pp = e->next;
            e->next = NULL;
            c->count--;
            return e;
        }
    }
    return NULL;
}

static size_t gen_slot(int64_t id)
{
    uint64_t h = (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 40) % GEN_SLOTS;
}

/* See auth_internal.h. */
uint64_t auth__ucache_ticket(auth_ucache_t *c, int64_t user_id)
{
    pthread_rwlock_rdlock(&c->lock);
    uint64_t g = c->gen[gen_slot(user_id)];
    pthread_rwlock_unlock(&c->lock);
    return g;
}

/* The put itself; ticket NULL = unconditional. Returns true when stored. */
static bool put(auth_ucache_t *c, int64_t user_id, bool is_active, const char *json, size_t len,
                int64_t loaded_at, const uint64_t *ticket)
{
    struct entry *e = xmalloc(sizeof *e + len);
    e->user_id = user_id;
    e->loaded_at = loaded_at;
    e->is_active = is_active;
    e->len = len;
    memcpy(e->json, json, len);
    struct entry *garbage = NULL;
    pthread_rwlock_wrlock(&c->lock);
    if (ticket && c->gen[gen_slot(user_id)] != *ticket) {
        pthread_rwlock_unlock(&c->lock); /* dropped since the fill's read began */
        free(e);
        return false;
    }
    struct entry *old = unlink_entry(c, user_id);
    if (c->count >= c->max) {
        /* full: drop everything (collected into one chain, freed after unlocking) */
        for (size_t i = 0; i <= c->mask; i++) {
            struct entry *x = c->buckets[i];
            while (x) {
                struct entry *n = x->next;
                x->next = garbage;
                garbage = x;
                x = n;
            }
            c->buckets[i] = NULL;
        }
        c->count = 0;
    }
    size_t s = slot(c, user_id);
    e->next = c->buckets[s];
    c->buckets[s] = e;
    c->count++;
    pthread_rwlock_unlock(&c->lock);
    free(old);
    free_chain(garbage);
    return true;
}

/* See auth_internal.h. */
void auth__ucache_put(auth_ucache_t *c, int64_t user_id, bool is_active, const char *json,
                      size_t len, int64_t loaded_at)
{
    put(c, user_id, is_active, json, len, loaded_at, NULL);
}

/* See auth_internal.h. */
bool auth__ucache_put_if(auth_ucache_t *c, int64_t user_id, bool is_active, const char *json,
                         size_t len, int64_t loaded_at, uint64_t ticket)
{
    return put(c, user_id, is_active, json, len, loaded_at, &ticket);
}

/* See auth_internal.h. */
int auth__ucache_get(auth_ucache_t *c, int64_t user_id, int64_t min_loaded_at, char *out,
                     size_t cap, size_t *len, bool *is_active)
{
    int rc = ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&c->lock);
    for (struct entry *e = c->buckets[slot(c, user_id)]; e; e = e->next) {
        if (e->user_id != user_id)
            continue;
        if (e->loaded_at < min_loaded_at)
            break;
        *len = e->len;
        *is_active = e->is_active;
        if (e->len > cap) {
            rc = ERR_TOO_LARGE;
            break;
        }
        memcpy(out, e->json, e->len);
        rc = 0;
        break;
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

/* See auth_internal.h. */
void auth__ucache_drop(auth_ucache_t *c, int64_t user_id)
{
    pthread_rwlock_wrlock(&c->lock);
    c->gen[gen_slot(user_id)]++;
    struct entry *e = unlink_entry(c, user_id);
    pthread_rwlock_unlock(&c->lock);
    free(e);
}

/* See auth_internal.h. */
size_t auth__ucache_count(auth_ucache_t *c)
{
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->count;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

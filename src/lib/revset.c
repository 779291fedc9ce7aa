/*
 * revset.c - libjwtv's revocation set (include/jwtv/jwtv.h "Revocations"): the revocations
 * a resource server learns from jwtd's revocation feed -- by jti, by sid, by user watermark,
 * each with the time after which it can be forgotten -- consulted by every verification.
 *
 * DESIGN
 * Readers never lock and never wait for a writer: a lookup is a few atomic loads in one
 * open-addressing table (linear probing), O(1) expected at a load factor of at most 1/2.
 *   - Each slot is a small seqlock: the writer makes its sequence odd, stores the fields,
 *     makes it even again (release); a reader reads the sequence (acquire), the fields, the
 *     sequence again, and retries the slot in the rare case a write overlapped. Every field
 *     is an atomic, so concurrent reads and writes are well defined (and TSan-clean).
 *   - A slot, once given a key, keeps it: removing (pruning) clears its `until`, so probe
 *     chains never break. When live + removed slots would pass half the table, the writer
 *     builds a table twice as large (or the same size, if most were removed) with the live
 *     entries and publishes it with one atomic pointer store. A reader still walking the
 *     old table sees a consistent (slightly older) set. Old tables are kept until
 *     jwtv_revset_free, since no reader registers itself: the sizes double, so they cost at
 *     most as much again as the current table.
 *   - Writers (the feed thread) are serialised by a mutex.
 * Keys: a jti or sid of 32 lowercase hex digits (jwtd's) is its 16 bytes; any other value
 * (a user id, another issuer's ids) is a 128-bit hash of its text, with a different seed
 * per kind.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/json_scan.h"
#include "jose/jose.h"
#include "jwtv/jwtv.h"

enum { KIND_JTI = 1, KIND_SID = 2, KIND_USER = 3 };

struct slot {
    _Atomic uint64_t seq;    /* odd while being written */
    _Atomic uint64_t k0, k1; /* the key */
    _Atomic uint64_t kind;   /* 0 = never used */
    _Atomic int64_t until;   /* 0 = removed */
    _Atomic int64_t before;  /* user watermark */
};

struct table {
    size_t cap;          /* a power of two */
    size_t used;         /* slots with a key (live or removed); writer only */
    struct table *older; /* retired tables, freed with the set */
    struct slot slots[];
};

struct jwtv_revset {
    _Atomic(struct table *) t;
    _Atomic size_t live;
    pthread_mutex_t mu;
};

typedef struct {
    uint64_t k0, k1;
    uint64_t kind;
} key_t_;

#define MIN_CAP 64

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static key_t_ make_key(uint64_t kind, const char *s, size_t n)
{
    key_t_ k = {0, 0, kind};
    bool hex = n == 32 && kind != KIND_USER;
    for (size_t i = 0; hex && i < 32; i++) {
        int v = hexval(s[i]);
        if (v < 0) {
            hex = false;
            break;
        }
        if (i < 16)
            k.k0 = (k.k0 << 4) | (uint64_t)v;
        else
            k.k1 = (k.k1 << 4) | (uint64_t)v;
    }
    if (hex)
        return k;
    /* FNV-1a over the text, twice with different bases, then mixed */
    uint64_t a = 0xcbf29ce484222325ULL ^ kind, b = 0x84222325cbf29ce4ULL + kind;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        b = (b ^ (unsigned char)s[i]) * 0x1000000001b3ULL;
    }
    k.k0 = mix(a);
    k.k1 = mix(b ^ n);
    return k;
}

static size_t home(const key_t_ *k, size_t cap)
{
    return (size_t)(mix(k->k0 ^ (k->k1 * 31) ^ k->kind) & (cap - 1));
}

static struct table *table_new(size_t cap)
{
    struct table *t = jose__calloc(1, sizeof *t + cap * sizeof(struct slot));
    if (t)
        t->cap = cap;
    return t;
}

/* A consistent copy of slot s. */
struct snap {
    uint64_t k0, k1, kind;
    int64_t until, before;
};

static void read_slot(const struct slot *s, struct snap *o)
{
    for (;;) {
        uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (s1 & 1)
            continue;
        o->k0 = atomic_load_explicit(&s->k0, memory_order_relaxed);
        o->k1 = atomic_load_explicit(&s->k1, memory_order_relaxed);
        o->kind = atomic_load_explicit(&s->kind, memory_order_relaxed);
        o->until = atomic_load_explicit(&s->until, memory_order_relaxed);
        o->before = atomic_load_explicit(&s->before, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) == s1)
            return;
    }
}

/* Writer only (mu held): stores the fields of slot s as one seqlock write. */
static void write_slot(struct slot *s, const key_t_ *k, int64_t until, int64_t before)
{
    uint64_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->k0, k->k0, memory_order_relaxed);
    atomic_store_explicit(&s->k1, k->k1, memory_order_relaxed);
    atomic_store_explicit(&s->kind, k->kind, memory_order_relaxed);
    atomic_store_explicit(&s->until, until, memory_order_relaxed);
    atomic_store_explicit(&s->before, before, memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 2, memory_order_release);
}

/* Lookup: the slot holding k, or NULL (readers and writer). */
static const struct slot *find(const struct table *t, const key_t_ *k, struct snap *o)
{
    size_t mask = t->cap - 1;
    for (size_t i = home(k, t->cap), n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        read_slot(&t->slots[i], o);
        if (o->kind == 0)
            return NULL;
        if (o->kind == k->kind && o->k0 == k->k0 && o->k1 == k->k1)
            return &t->slots[i];
    }
    return NULL;
}

/* Writer: puts the entry into t (which has room). */
static void put(struct table *t, const key_t_ *k, int64_t until, int64_t before)
{
    size_t mask = t->cap - 1;
    for (size_t i = home(k, t->cap);; i = (i + 1) & mask) {
        struct slot *s = &t->slots[i];
        uint64_t kind = atomic_load_explicit(&s->kind, memory_order_relaxed);
        if (kind == 0) {
            t->used++;
            write_slot(s, k, until, before);
            return;
        }
        if (kind == k->kind && atomic_load_explicit(&s->k0, memory_order_relaxed) == k->k0 &&
            atomic_load_explicit(&s->k1, memory_order_relaxed) == k->k1) {
            write_slot(s, k, until, before);
            return;
        }
    }
}

/* Writer: a table with room for one more key, rebuilt and published when needed. */
static struct table *room(jwtv_revset *rs)
{
    struct table *t = atomic_load_explicit(&rs->t, memory_order_relaxed);
    if ((t->used + 1) * 2 <= t->cap)
        return t;
    size_t live = atomic_load_explicit(&rs->live, memory_order_relaxed);
    size_t cap = t->cap;
    while ((live + 1) * 4 > cap)
        cap *= 2;
    struct table *n = table_new(cap);
    if (!n)
        return NULL;
    for (size_t i = 0; i < t->cap; i++) {
        struct snap s;
        read_slot(&t->slots[i], &s);
        if (s.kind && s.until) {
            key_t_ k = {s.k0, s.k1, s.kind};
            put(n, &k, s.until, s.before);
        }
    }
    n->older = t;
    atomic_store_explicit(&rs->t, n, memory_order_release);
    return n;
}

/* See jwtv.h. */
int jwtv_revset_new(jwtv_revset **out)
{
    if (!out)
        return JWTV_EINVAL;
    *out = NULL;
    jwtv_revset *rs = jose__calloc(1, sizeof *rs);
    struct table *t = table_new(MIN_CAP);
    if (!rs || !t) {
        jose__free(rs);
        jose__free(t);
        return JWTV_ENOMEM;
    }
    atomic_init(&rs->t, t);
    atomic_init(&rs->live, 0);
    pthread_mutex_init(&rs->mu, NULL);
    *out = rs;
    return JWTV_OK;
}

/* See jwtv.h. */
void jwtv_revset_free(jwtv_revset *rs)
{
    if (!rs)
        return;
    for (struct table *t = atomic_load(&rs->t), *o; t; t = o) {
        o = t->older;
        jose__free(t);
    }
    pthread_mutex_destroy(&rs->mu);
    jose__free(rs);
}

static int add(jwtv_revset *rs, uint64_t kind, const char *value, int64_t before, int64_t until)
{
    if (!rs || !value || !*value || until <= 0)
        return JWTV_EINVAL;
    size_t n = strlen(value);
    if (n > 255)
        return JWTV_ETOOLARGE;
    key_t_ k = make_key(kind, value, n);
    int rc = JWTV_OK;
    pthread_mutex_lock(&rs->mu);
    struct snap cur;
    struct table *t = atomic_load_explicit(&rs->t, memory_order_relaxed);
    const struct slot *s = find(t, &k, &cur);
    if (s && cur.until) {
        /* a later expiry and, for a user, the higher watermark win */
        int64_t u = until > cur.until ? until : cur.until;
        int64_t b = before > cur.before ? before : cur.before;
        if (u != cur.until || b != cur.before)
            write_slot((struct slot *)s, &k, u, b);
    } else if (s) {
        write_slot((struct slot *)s, &k, until, before); /* a removed entry comes back */
        atomic_fetch_add(&rs->live, 1);
    } else if ((t = room(rs)) != NULL) {
        put(t, &k, until, before);
        atomic_fetch_add(&rs->live, 1);
    } else {
        rc = JWTV_ENOMEM;
    }
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

/* See jwtv.h. */
int jwtv_revset_add_jti(jwtv_revset *rs, const char *jti, int64_t until)
{
    return add(rs, KIND_JTI, jti, 0, until);
}

/* See jwtv.h. */
int jwtv_revset_add_sid(jwtv_revset *rs, const char *sid, int64_t until)
{
    return add(rs, KIND_SID, sid, 0, until);
}

/* See jwtv.h. */
int jwtv_revset_add_user(jwtv_revset *rs, const char *user_id, int64_t before, int64_t until)
{
    return add(rs, KIND_USER, user_id, before, until);
}

/* See jwtv.h. */
int jwtv_revset_apply_event(jwtv_revset *rs, const char *json, size_t len)
{
    json_tok_t toks[32];
    size_t nt;
    if (!rs || !json)
        return JWTV_EINVAL;
    if (json_scan(json, len, toks, 32, 4, &nt) != 0 || toks[0].type != JSON_T_OBJECT)
        return JWTV_EMALFORMED;
    long ti = json_obj_get(json, toks, 0, "type"), vi = json_obj_get(json, toks, 0, "value");
    long ui = json_obj_get(json, toks, 0, "until"), bi = json_obj_get(json, toks, 0, "before");
    int64_t until = 0, before = 0;
    if (ti < 0 || vi < 0 || ui < 0 || toks[ti].type != JSON_T_STRING ||
        toks[vi].type != JSON_T_STRING || json_tok_int64(json, &toks[ui], &until) != 0)
        return JWTV_EMALFORMED;
    char value[256];
    size_t vn = json_str_unescape(json, &toks[vi], value, sizeof value - 1);
    if (vn == 0 || vn >= sizeof value - 1 || memchr(value, '\0', vn))
        return JWTV_EMALFORMED;
    value[vn] = '\0';
    if (json_str_eq(json, &toks[ti], "jti", 3))
        return jwtv_revset_add_jti(rs, value, until);
    if (json_str_eq(json, &toks[ti], "sid", 3))
        return jwtv_revset_add_sid(rs, value, until);
    if (json_str_eq(json, &toks[ti], "user", 4)) {
        if (bi < 0 || json_tok_int64(json, &toks[bi], &before) != 0)
            return JWTV_EMALFORMED;
        return jwtv_revset_add_user(rs, value, before, until);
    }
    return JWTV_OK; /* a kind this version does not know: nothing to revoke */
}

/* See jwtv.h. */
size_t jwtv_revset_prune(jwtv_revset *rs, int64_t now)
{
    if (!rs)
        return 0;
    size_t removed = 0;
    pthread_mutex_lock(&rs->mu);
    struct table *t = atomic_load_explicit(&rs->t, memory_order_relaxed);
    for (size_t i = 0; i < t->cap; i++) {
        struct snap s;
        read_slot(&t->slots[i], &s);
        if (s.kind && s.until && s.until < now) {
            key_t_ k = {s.k0, s.k1, s.kind};
            write_slot(&t->slots[i], &k, 0, 0);
            removed++;
        }
    }
    atomic_fetch_sub(&rs->live, removed);
    pthread_mutex_unlock(&rs->mu);
    return removed;
}

/* See jwtv.h. */
size_t jwtv_revset_count(const jwtv_revset *rs)
{
    return rs ? atomic_load_explicit(&((jwtv_revset *)rs)->live, memory_order_relaxed) : 0;
}

/* Whether (kind, value) is in force; for a user, its watermark in *before. */
static bool lookup(const struct table *t, uint64_t kind, const char *value, int64_t *before)
{
    if (!value || !*value)
        return false;
    key_t_ k = make_key(kind, value, strnlen(value, 256));
    struct snap s;
    if (!find(t, &k, &s) || s.until == 0)
        return false;
    if (before)
        *before = s.before;
    return true;
}

/* See jwtv.h. */
int jwtv_revset_check(const jwtv_revset *rs, const jwtv_claims *c)
{
    if (!rs || !c)
        return JWTV_EINVAL;
    if (atomic_load_explicit(&((jwtv_revset *)rs)->live, memory_order_relaxed) == 0)
        return JWTV_OK; /* nothing revoked: the common case costs one load */
    const struct table *t = atomic_load_explicit(&((jwtv_revset *)rs)->t, memory_order_acquire);
    if (lookup(t, KIND_JTI, c->jti, NULL) || lookup(t, KIND_SID, c->sid, NULL))
        return JWTV_EREVOKED;
    int64_t before;
    if (c->user_id && lookup(t, KIND_USER, c->user_id, &before) && c->has_iat && c->iat < before)
        return JWTV_EREVOKED;
    return JWTV_OK;
}

/* See jwtv.h. */
int jwtv_verify_revocable(const jwtv_verifier *v, const jwtv_revset *rs, const char *token,
                          size_t len, jwtv_claims *out)
{
    int rc = jwtv_verify(v, token, len, out);
    if (rc == JWTV_OK && rs && jwtv_revset_check(rs, out) != JWTV_OK)
        rc = JWTV_EREVOKED; /* the view stays filled: the caller may log who it was */
    return rc;
}

/*
 * feed.c - the revocation feed for resource servers (auth.h "the revocation feed"): the
 * events of the revocation_events table (database migration 6) in an in-memory ring, the
 * snapshot of everything in force, the verifier keys that may read them.
 *
 * DESIGN
 * Source of truth: every revocation writes one revocation_events row in its own
 * transaction (triggers on revoked_tokens, sessions and users, so routes, commands and
 * PostgreSQL's rotation function all feed it), and the row's increasing id is the cursor.
 * So a cursor means the same thing on every instance that shares the database, and after a
 * restart. On PostgreSQL the trigger's advisory lock hands ids out in commit order: reading
 * `id > last` never skips a row that commits later.
 *
 * The ring holds the last AUTH_FEED_HISTORY events read from the database, in cursor order,
 * under a mutex held only to copy (readers are the event loops: a stream copies a batch
 * and writes it without the lock). auth_feed_refresh reads the rows past the newest one
 * held (one indexed query), appends them and tells the subscribers (the request layer,
 * which wakes its loops). It runs after each revocation this process makes, before the
 * revoking request is answered, and from the store's pull (every poll interval, and at
 * once when Redis says another instance revoked something), so streams on every instance
 * hear of a revocation within a pull of its commit.
 *
 * A cursor is servable when the ring holds everything after it: floor <= since <= head,
 * where floor is the cursor before the oldest event kept. Else (a cursor from before the
 * retained history, or from another database) the client gets the snapshot: the
 * revocations in force, read from the same tables as the index's pull, each with the
 * cursor of the newest event committed before the read.
 *
 * Verifier keys: "jwtdv_" + 64 random hex characters (256 bits), shown once; the
 * database keeps their SHA-256 only (a key is random, so a fast hash is enough, and a
 * lookup is one indexed query).
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/auth_internal.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"

#define FEED_READ_BATCH 512
#define FEED_MAX_SUBS   4

struct auth_feed {
    pthread_mutex_t mu; /* guards the ring, floor and head */
    auth_feed_event_t *ring;
    size_t start, count; /* oldest event at ring[start], count events */
    uint64_t floor;      /* every event after floor is in the ring */
    _Atomic uint64_t head;
    pthread_mutex_t refresh_mu; /* one refresh at a time */
    pthread_mutex_t subs_mu;    /* guards subs; held while they run */
    bool loaded;
    struct {
        auth_feed_fn fn;
        void *arg;
    } subs[FEED_MAX_SUBS];
    size_t nsubs;
};

enum { EV_MAX_ID, EV_SINCE, VF_INSERT, VF_LIST, VF_DELETE, VF_FIND, VF_TOUCH, FEED__N };

/* Parameters -> result columns in each comment. */
static const db_stmt_def_t feed_sql[FEED__N] = {
    /* -> the newest cursor, 0 when none */
    [EV_MAX_ID] = {.name = "feed_max_id",
                   .sql = "SELECT COALESCE(MAX(id), 0) FROM revocation_events"},
    /* after, limit -> id, kind, value, revoke_before, expires_at, created_at */
    [EV_SINCE] = {.name = "feed_since",
                  .sql = "SELECT id, kind, value, revoke_before, expires_at, created_at "
                         "FROM revocation_events WHERE id > ?1 ORDER BY id LIMIT ?2"},
    /* name, key hash, now -> id */
    [VF_INSERT] = {.name = "verifier_insert",
                   .sql = "INSERT INTO verifiers (name, key_hash, created_at) VALUES (?1, ?2, ?3) "
                          "RETURNING id"},
    /* -> id, name, created_at, last_used_at */
    [VF_LIST] = {.name = "verifier_list",
                 .sql = "SELECT id, name, created_at, last_used_at FROM verifiers ORDER BY id"},
    /* name */
    [VF_DELETE] = {.name = "verifier_delete", .sql = "DELETE FROM verifiers WHERE name = ?1"},
    /* key hash -> id, last_used_at */
    [VF_FIND] = {.name = "verifier_find",
                 .sql = "SELECT id, last_used_at FROM verifiers WHERE key_hash = ?1"},
    /* now, id */
    [VF_TOUCH] = {.name = "verifier_touch",
                  .sql = "UPDATE verifiers SET last_used_at = ?1 WHERE id = ?2"},
};

/* ==== the ring ============================================================================== */

/* See auth_internal.h. */
struct auth_feed *auth__feed_new(void)
{
    struct auth_feed *f = xcalloc(1, sizeof *f);
    f->ring = xcalloc(AUTH_FEED_HISTORY, sizeof *f->ring);
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_init(&f->refresh_mu, NULL);
    pthread_mutex_init(&f->subs_mu, NULL);
    return f;
}

/* See auth_internal.h. */
void auth__feed_free(struct auth_feed *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    pthread_mutex_destroy(&f->refresh_mu);
    pthread_mutex_destroy(&f->subs_mu);
    free(f->ring);
    free(f);
}

/* See auth.h. */
int auth_feed_subscribe(auth_t *a, auth_feed_fn fn, void *arg)
{
    struct auth_feed *f = a->feed;
    int rc = 0;
    pthread_mutex_lock(&f->subs_mu);
    if (!fn || f->nsubs >= FEED_MAX_SUBS) {
        rc = ERR_INVALID;
    } else {
        f->subs[f->nsubs].fn = fn;
        f->subs[f->nsubs].arg = arg;
        f->nsubs++;
    }
    pthread_mutex_unlock(&f->subs_mu);
    return rc;
}

/* See auth.h. */
void auth_feed_unsubscribe(auth_t *a, auth_feed_fn fn, void *arg)
{
    struct auth_feed *f = a->feed;
    pthread_mutex_lock(&f->subs_mu);
    for (size_t i = 0; i < f->nsubs; i++) {
        if (f->subs[i].fn == fn && f->subs[i].arg == arg) {
            f->subs[i] = f->subs[f->nsubs - 1];
            f->nsubs--;
            break;
        }
    }
    pthread_mutex_unlock(&f->subs_mu);
}

/* See auth.h. */
uint64_t auth_feed_head(auth_t *a)
{
    return atomic_load(&a->feed->head);
}

/* Index (0..count) in the ring of the first event after since; f->mu held. */
static size_t first_after(const struct auth_feed *f, uint64_t since)
{
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->ring[(f->start + mid) % AUTH_FEED_HISTORY].cursor <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* See auth.h. */
int auth_feed_read(auth_t *a, uint64_t since, auth_feed_event_t *out, size_t max, size_t *n)
{
    struct auth_feed *f = a->feed;
    *n = 0;
    pthread_mutex_lock(&f->mu);
    uint64_t head = atomic_load(&f->head);
    if (!f->loaded || since < f->floor || since > head) {
        pthread_mutex_unlock(&f->mu);
        return ERR_NOT_FOUND;
    }
    size_t i = first_after(f, since), k = 0;
    for (; i < f->count && k < max; i++, k++)
        out[k] = f->ring[(f->start + i) % AUTH_FEED_HISTORY];
    pthread_mutex_unlock(&f->mu);
    *n = k;
    return 0;
}

/* Appends one event; f->mu held. The oldest one goes when the ring is full. */
static void ring_push(struct auth_feed *f, const auth_feed_event_t *e)
{
    if (f->count == AUTH_FEED_HISTORY) {
        f->floor = f->ring[f->start].cursor;
        f->start = (f->start + 1) % AUTH_FEED_HISTORY;
        f->count--;
    }
    f->ring[(f->start + f->count) % AUTH_FEED_HISTORY] = *e;
    f->count++;
    atomic_store(&f->head, e->cursor);
}

/* ==== events from rows ======================================================================= */

/* When an event of kind at `at` (user: the watermark) may be forgotten; exp for a jti. */
static int64_t until_of(const auth_t *a, enum auth_feed_kind kind, int64_t at, int64_t exp)
{
    return kind == AUTH_FEED_JTI ? exp + a->opts.leeway_s + 1 : auth__revocation_horizon(a, at);
}

struct read_ctx {
    auth_t *a;
    auth_feed_event_t *ev;
    size_t n;
};

static int read_event(void *arg, const db_row_t *row)
{
    struct read_ctx *r = arg;
    auth_feed_event_t *e = &r->ev[r->n];
    memset(e, 0, sizeof *e);
    size_t kl = 0, vl = 0;
    const char *kind = db_row_text(row, 1, &kl);
    const char *value = db_row_text(row, 2, &vl);
    if (!kind || !value || vl == 0 || vl >= sizeof e->value)
        return 0; /* not an event this version knows: skipped */
    if (kl == 3 && memcmp(kind, "jti", 3) == 0)
        e->kind = AUTH_FEED_JTI;
    else if (kl == 3 && memcmp(kind, "sid", 3) == 0)
        e->kind = AUTH_FEED_SID;
    else if (kl == 4 && memcmp(kind, "user", 4) == 0)
        e->kind = AUTH_FEED_USER;
    else
        return 0;
    e->cursor = (uint64_t)db_row_int(row, 0);
    memcpy(e->value, value, vl);
    e->before = e->kind == AUTH_FEED_USER ? db_row_int(row, 3) : 0;
    e->until = until_of(r->a, (enum auth_feed_kind)e->kind, db_row_int(row, 5), db_row_int(row, 4));
    r->n++;
    return 0;
}

static void notify(struct auth_feed *f)
{
    pthread_mutex_lock(&f->subs_mu);
    for (size_t i = 0; i < f->nsubs; i++)
        f->subs[i].fn(f->subs[i].arg);
    pthread_mutex_unlock(&f->subs_mu);
}

/* See auth.h. */
int auth_feed_refresh(auth_t *a)
{
    struct auth_feed *f = a->feed;
    auth_feed_event_t *batch = xmalloc(FEED_READ_BATCH * sizeof *batch);
    int rc = 0;
    bool appended = false;
    pthread_mutex_lock(&f->refresh_mu);
    if (!f->loaded) {
        /* The first load: the last AUTH_FEED_HISTORY cursors, so that a client that was
           following before a restart resumes where it was. */
        int64_t max_id = 0;
        rc = db_query_one(a->db, &feed_sql[EV_MAX_ID], NULL, 0, db_row_read_int, &max_id);
        if (rc == 0) {
            uint64_t floor = max_id > AUTH_FEED_HISTORY ? (uint64_t)max_id - AUTH_FEED_HISTORY : 0;
            pthread_mutex_lock(&f->mu);
            f->floor = floor;
            atomic_store(&f->head, floor);
            f->loaded = true;
            pthread_mutex_unlock(&f->mu);
        }
    }
    while (rc == 0) {
        struct read_ctx r = {a, batch, 0};
        db_param_t p[] = {db_int((int64_t)atomic_load(&f->head)), db_int(FEED_READ_BATCH)};
        uint64_t before = atomic_load(&f->head);
        rc = db_query(a->db, &feed_sql[EV_SINCE], p, DB_NPARAMS(p), read_event, &r);
        if (rc != 0)
            break;
        pthread_mutex_lock(&f->mu);
        for (size_t i = 0; i < r.n; i++)
            if (batch[i].cursor > atomic_load(&f->head))
                ring_push(f, &batch[i]);
        pthread_mutex_unlock(&f->mu);
        if (atomic_load(&f->head) != before)
            appended = true;
        if (r.n < FEED_READ_BATCH)
            break;
    }
    pthread_mutex_unlock(&f->refresh_mu);
    free(batch);
    if (appended)
        notify(f);
    return rc == 0 ? 0 : ERR_UNAVAILABLE;
}

/* See auth.h. */
int auth_feed_snapshot(auth_t *a, int64_t now, auth_feed_snapshot_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t max_id = 0;
    /* The cursor first: whatever committed before it is in the lists read after it. */
    int rc = db_query_one(a->db, &feed_sql[EV_MAX_ID], NULL, 0, db_row_read_int, &max_id);
    if (rc != 0)
        return ERR_UNAVAILABLE;
    int64_t since =
        now - atomic_load(&a->max_access_lifetime_s) - a->opts.leeway_s - a->opts.reuse_grace_s;
    auth__revocations_t r;
    if (auth__revocations_read(a, since, now, &r) != 0)
        return ERR_UNAVAILABLE;
    size_t n = r.jtis.count + r.sids.count + r.users.count, k = 0;
    out->events = xcalloc(n ? n : 1, sizeof *out->events);
    out->cursor = (uint64_t)max_id;
    for (size_t i = 0; i < r.jtis.count; i++) {
        auth_feed_event_t *e = &out->events[k++];
        e->cursor = out->cursor;
        e->kind = AUTH_FEED_JTI;
        auth__id_copy(e->value, r.jtis.items[i].jti);
        e->until = until_of(a, AUTH_FEED_JTI, 0, r.jtis.items[i].expires_at);
    }
    for (size_t i = 0; i < r.sids.count; i++) {
        const db_session_t *s = &r.sids.items[i];
        auth_feed_event_t *e = &out->events[k++];
        e->cursor = out->cursor;
        e->kind = AUTH_FEED_SID;
        auth__id_copy(e->value, s->sid);
        e->until = until_of(a, AUTH_FEED_SID,
                            s->revoked_at > s->last_used_at ? s->revoked_at : s->last_used_at, 0);
    }
    for (size_t i = 0; i < r.users.count; i++) {
        const db_watermark_t *w = &r.users.items[i];
        auth_feed_event_t *e = &out->events[k++];
        e->cursor = out->cursor;
        e->kind = AUTH_FEED_USER;
        snprintf(e->value, sizeof e->value, "%" PRId64, w->user_id);
        e->before = w->revoke_before;
        e->until = until_of(a, AUTH_FEED_USER, w->revoke_before, 0);
    }
    out->count = k;
    auth__revocations_dispose(&r);
    return 0;
}

/* See auth.h. */
void auth_feed_snapshot_dispose(auth_feed_snapshot_t *s)
{
    if (!s)
        return;
    free(s->events);
    memset(s, 0, sizeof *s);
}

/* See auth.h. */
const char *auth_feed_kind_name(enum auth_feed_kind k)
{
    return k == AUTH_FEED_JTI ? "jti" : k == AUTH_FEED_SID ? "sid" : "user";
}

/* ==== verifier keys ========================================================================= */

#define KEY_PREFIX     "jwtdv_"
#define KEY_PREFIX_LEN 6
#define KEY_HEX_LEN    64

/* SHA-256 of key as 64 hex characters and a NUL. */
static int key_hash(const char *key, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != sizeof md)
        return ERR_INTERNAL;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* See auth.h. */
bool auth_verifier_key_shape(str_t key)
{
    if (key.len != KEY_PREFIX_LEN + KEY_HEX_LEN || memcmp(key.ptr, KEY_PREFIX, KEY_PREFIX_LEN) != 0)
        return false;
    for (size_t i = KEY_PREFIX_LEN; i < key.len; i++) {
        char c = key.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* See auth.h. */
int auth_verifier_create(auth_t *a, const char *name, int64_t now, char key[AUTH_VERIFIER_KEY_MAX])
{
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > 100)
        return ERR_INVALID;
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return ERR_INVALID;
    char r1[33], r2[33], h[65];
    if (auth__random_id(r1) != 0 || auth__random_id(r2) != 0)
        return ERR_INTERNAL;
    snprintf(key, AUTH_VERIFIER_KEY_MAX, KEY_PREFIX "%s%s", r1, r2);
    OPENSSL_cleanse(r1, sizeof r1);
    OPENSSL_cleanse(r2, sizeof r2);
    int rc = key_hash(key, strlen(key), h);
    int64_t id = 0;
    if (rc == 0) {
        db_param_t p[] = {db_text(name), db_text(h), db_int(now)};
        rc = db_query_one(a->db, &feed_sql[VF_INSERT], p, DB_NPARAMS(p), db_row_read_int, &id);
    }
    if (rc != 0) {
        OPENSSL_cleanse(key, AUTH_VERIFIER_KEY_MAX);
        return rc == ERR_CONFLICT ? ERR_CONFLICT : rc == ERR_INTERNAL ? rc : ERR_UNAVAILABLE;
    }
    char detail[128];
    snprintf(detail, sizeof detail, "verifier=%s", name);
    audit_info(NULL, .event = "verifier_created", .outcome = "success", .detail = detail);
    return 0;
}

static int read_verifier(void *item, const db_row_t *row)
{
    auth_verifier_t *v = item;
    v->id = db_row_int(row, 0);
    v->name = db_row_strdup(row, 1);
    v->created_at = db_row_int(row, 2);
    v->last_used_at = db_row_int(row, 3);
    return 0;
}

static void dispose_verifier(void *item)
{
    free(((auth_verifier_t *)item)->name);
}

static const db_list_def_t VERIFIER_ROWS = {sizeof(auth_verifier_t), 0, read_verifier,
                                            dispose_verifier};

/* See auth.h. */
int auth_verifier_list(auth_t *a, auth_verifier_list_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = DB_QUERY_LIST(a->db, &feed_sql[VF_LIST], NULL, 0, &VERIFIER_ROWS, out);
    return rc == 0 ? 0 : ERR_UNAVAILABLE;
}

/* See auth.h. */
void auth_verifier_list_dispose(auth_verifier_list_t *l)
{
    DB_LIST_RELEASE(&VERIFIER_ROWS, l);
}

/* See auth.h. */
int auth_verifier_delete(auth_t *a, const char *name)
{
    int64_t changed = 0;
    db_param_t p[] = {db_text(name)};
    int rc = db_exec(a->db, &feed_sql[VF_DELETE], p, DB_NPARAMS(p), &changed);
    if (rc != 0)
        return ERR_UNAVAILABLE;
    if (changed == 0)
        return ERR_NOT_FOUND;
    char detail[128];
    snprintf(detail, sizeof detail, "verifier=%s", name);
    audit_info(NULL, .event = "verifier_deleted", .outcome = "success", .detail = detail);
    return 0;
}

struct found {
    int64_t id, last_used_at;
};

static int read_found(void *arg, const db_row_t *row)
{
    struct found *f = arg;
    f->id = db_row_int(row, 0);
    f->last_used_at = db_row_int(row, 1);
    return 0;
}

/*
 * See auth.h. The hook for OAuth clients: once the provider issues client-credentials
 * tokens, a Bearer that is not a verifier key is checked here as an access token whose
 * scope holds "revocations:read"; until then only verifier keys are accepted.
 */
int auth_feed_authorize(auth_t *a, str_t credential, int64_t now)
{
    if (!auth_verifier_key_shape(credential))
        return ERR_NOT_AUTHENTICATED;
    char h[65];
    if (key_hash(credential.ptr, credential.len, h) != 0)
        return ERR_INTERNAL;
    struct found f = {0, 0};
    db_param_t p[] = {db_text(h)};
    int rc = db_query_one(a->db, &feed_sql[VF_FIND], p, DB_NPARAMS(p), read_found, &f);
    if (rc == ERR_NOT_FOUND)
        return ERR_NOT_AUTHENTICATED;
    if (rc != 0)
        return ERR_UNAVAILABLE;
    if (now - f.last_used_at >= 60) { /* at most one write a minute per verifier */
        db_param_t t[] = {db_int(now), db_int(f.id)};
        (void)db_exec(a->db, &feed_sql[VF_TOUCH], t, DB_NPARAMS(t), NULL);
    }
    return 0;
}

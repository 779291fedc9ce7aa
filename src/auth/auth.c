/*
 * auth.c - the token service's construction and what it publishes: options, lifecycle,
 * the keys as served in the JWKS, the cache groups other modules register, and the health
 * of the backends for readiness and metrics.
 *
 * What it is not: verification (verify.c), issuing and refresh (issue.c), revocation
 * (revoke.c), users (users.c), queries (sessions.c), guards (guard.c).
 *
 * DESIGN
 * - Verification (any thread): jose_jwt_verify with one of three prebuilt option sets
 *   (access / refresh / any type), then store_check() against the in-memory index. No lock
 *   but the index's read lock, no allocation, no I/O.
 * - Issuing: claims are written by the fixed-buffer JSON writer (common/jsonw.h), not
 *   jansson, and signed with the ring's ACTIVE key. jti/sid are 16 bytes of RAND_bytes in
 *   hex.
 * - Revocation: every revocation this process makes is written to the database first and
 *   then applied to the index, before the caller answers its client. Revocations by other
 *   processes arrive through the store's pull, which re-reads revoked jtis, sessions revoked
 *   since the last pull (minus an overlap) and raised user watermarks. Index entries carry
 *   the expiry after which no token they could match is alive (access lifetime + leeway +
 *   reuse grace past the revocation).
 */
#define LOG_MODULE "auth"
#include "auth/auth.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* ==== options and lifecycle ================================================================ */

/* See auth.h. */
void auth_options_defaults(auth_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->access_lifetime_s = 900;
    o->refresh_lifetime_s = 7 * 86400;
    o->rotate_refresh_tokens = true;
    o->reuse_grace_s = 10;
    o->leeway_s = 0;
    auth_argon2_params_t d = AUTH_ARGON2_DEFAULTS;
    o->argon2 = d;
    o->user_cache_ttl_s = 3600;
    o->poll_interval_ms = 1000;
    o->hash_dummy = true;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

/* store_user_fn: another instance changed user_id (watermark, profile): drop our copy. */
static void on_user_changed(void *arg, int64_t user_id)
{
    auth_t *a = arg;
    auth__ucache_drop(a->users, user_id);
}

/* The three verification option sets, from vopt (strings copied into l). */
static void set_verify_options(auth_live_t *l, const jwtv_options *vopt)
{
    l->v_issuer = dup_or_null(vopt->issuer);
    l->v_audience = dup_or_null(vopt->audience);
    l->v_any = *vopt;
    l->v_any.issuer = l->v_issuer;
    l->v_any.audience = l->v_audience;
    l->v_any.token_type = NULL;
    l->v_any.required |= JWTV_REQUIRE_EXP | JWTV_REQUIRE_JTI | JWTV_REQUIRE_TOKEN_TYPE;
    l->v_access = l->v_any;
    l->v_access.token_type = "access";
    l->v_refresh = l->v_any;
    l->v_refresh.token_type = "refresh";
}

/* ==== the live snapshot ===================================================================== */

static void live_release(auth_live_t *l)
{
    if (!l || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
        return;
    jose_keyring_release(l->ring);
    free(l->v_issuer);
    free(l->v_audience);
    free(l);
}

/* A snapshot of ring (retained), vopt and the live part of opts, or NULL when the ring
   cannot sign. */
static auth_live_t *live_new(const auth_options_t *opts, jose_keyring_t *ring,
                             const jwtv_options *vopt)
{
    static _Atomic uint64_t gens;
    const jose_key_t *k = jose_keyring_active(ring);
    if (!k || !jose_key_can_sign(k))
        return NULL;
    auth_live_t *l = xcalloc(1, sizeof *l);
    atomic_init(&l->refs, 1);
    l->gen = atomic_fetch_add(&gens, 1) + 1;
    l->ring = jose_keyring_retain(ring);
    l->sign_key = k;
    set_verify_options(l, vopt);
    l->access_lifetime_s = opts->access_lifetime_s;
    l->refresh_lifetime_s = opts->refresh_lifetime_s;
    l->guard = opts->guard;
    return l;
}

/* A thread's snapshots: the current one and the one before (see auth__live). */
struct live_tls {
    auth_live_t *cur, *prev;
};

static pthread_key_t live_key;
static pthread_once_t live_once = PTHREAD_ONCE_INIT;

/* At thread exit: drop the thread's references. */
static void live_tls_free(void *p)
{
    struct live_tls *t = p;
    live_release(t->prev);
    live_release(t->cur);
    t->prev = t->cur = NULL;
}

static void live_key_init(void)
{
    if (pthread_key_create(&live_key, live_tls_free) != 0)
        abort();
}

/*
 * See auth_internal.h. DESIGN: read-copy-update with the grace given by the threads
 * themselves: each thread holds a reference to the snapshot it uses, and lets it go only
 * when it next sees a new generation, so a snapshot is freed once every thread that used
 * it has moved on (or exited). The hot path takes no lock and writes nothing shared.
 */
const auth_live_t *auth__live(const auth_t *a)
{
    static _Thread_local struct live_tls tls;
    uint64_t gen = atomic_load_explicit(&a->live_gen, memory_order_acquire);
    if (tls.cur && tls.cur->gen == gen)
        return tls.cur;
    if (!tls.cur && !tls.prev) {
        pthread_once(&live_once, live_key_init);
        pthread_setspecific(live_key, &tls);
    }
    auth_t *m = (auth_t *)a; /* the mutex only; the snapshot itself is immutable */
    pthread_mutex_lock(&m->live_mu);
    auth_live_t *l = m->live;
    atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&m->live_mu);
    live_release(tls.prev);
    tls.prev = tls.cur;
    tls.cur = l;
    return l;
}

/* See auth.h. */
int auth_reload(auth_t *a, const auth_options_t *opts, jose_keyring_t *ring,
                const jwtv_options *vopt)
{
    if (!opts || !ring || !vopt || opts->access_lifetime_s <= 0 || opts->refresh_lifetime_s <= 0)
        return ERR_INVALID;
    auth_live_t *l = live_new(opts, ring, vopt);
    if (!l) {
        log_error("msg=\"the key ring has no signing key\"");
        return ERR_INVALID;
    }
    int64_t max = atomic_load(&a->max_access_lifetime_s);
    while (l->access_lifetime_s > max &&
           !atomic_compare_exchange_weak(&a->max_access_lifetime_s, &max, l->access_lifetime_s)) {
    }
    pthread_mutex_lock(&a->live_mu);
    auth_live_t *old = a->live;
    a->live = l;
    atomic_store_explicit(&a->live_gen, l->gen, memory_order_release);
    pthread_mutex_unlock(&a->live_mu);
    live_release(old);
    return 0;
}

/* See auth.h. */
int64_t auth_access_lifetime(const auth_t *a)
{
    return auth__live(a)->access_lifetime_s;
}

/* See auth.h. */
int64_t auth_refresh_lifetime(const auth_t *a)
{
    return auth__live(a)->refresh_lifetime_s;
}

/* See auth.h. */
int auth_new(const auth_options_t *opts, db_t *db, jose_keyring_t *ring, const jwtv_options *vopt,
             auth_t **out)
{
    static _Atomic uint64_t epochs;
    *out = NULL;
    if (!opts || !db || !ring || !vopt || opts->access_lifetime_s <= 0 ||
        opts->refresh_lifetime_s <= 0 || opts->reuse_grace_s < 0 || opts->leeway_s < 0)
        return ERR_INVALID;
    auth_live_t *live = live_new(opts, ring, vopt);
    if (!live) {
        log_error("msg=\"the key ring has no signing key\"");
        return ERR_INVALID;
    }
    if (opts->hash_dummy) {
        int rc = auth_password_dummy_init(&opts->argon2);
        if (rc != 0) {
            live_release(live);
            return rc;
        }
    }
    auth_t *a = xcalloc(1, sizeof *a);
    a->opts = *opts;
    if (a->opts.user_cache_ttl_s < 0)
        a->opts.user_cache_ttl_s = 3600;
    a->issuer = dup_or_null(opts->issuer);
    a->audience = dup_or_null(opts->audience);
    a->opts.issuer = a->issuer;
    a->opts.audience = a->audience;
    a->db = db;
    a->live = live;
    pthread_mutex_init(&a->live_mu, NULL);
    atomic_init(&a->live_gen, live->gen);
    atomic_init(&a->max_access_lifetime_s, opts->access_lifetime_s);
    a->epoch = atomic_fetch_add(&epochs, 1) + 1;
    a->users = auth__ucache_new(65536);
    a->guard_log = auth__guard_log_new();
    a->feed = auth__feed_new();
    store_options_t so = {0};
    so.pull = auth__pull;
    so.pull_arg = a;
    so.poll_interval_ms = opts->poll_interval_ms;
    int rc = store_mem_open(&so, &a->store);
    if (rc != 0) {
        auth_free(a);
        return rc;
    }
    store_set_user_hook(a->store, on_user_changed, a);
    if (opts->mail.enabled && (rc = auth__mailer_new(&opts->mail, &a->mailer)) != 0) {
        auth_free(a);
        return rc;
    }
    if (a->opts.mail.link_lifetime_s <= 0)
        a->opts.mail.link_lifetime_s = 1800;
    if (a->opts.mail.code_lifetime_s <= 0)
        a->opts.mail.code_lifetime_s = 600;
    *out = a;
    return 0;
}

/* See auth.h. */
int auth_start(auth_t *a)
{
    /* hashes on SCHED_IDLE threads of their own, one per core (password.h): the event
       loops always win the CPU, and logins still reach cores / hash time */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (auth_password_offload_start(cores > 0 ? (unsigned)cores : 2) != 0)
        log_warn("msg=\"no hashing thread: passwords are hashed on the pool threads\"");
    int rc = store_start(a->store);
    if (rc == 0 && a->mailer && (rc = auth__mailer_start(a->mailer, a->db)) != 0)
        log_error("msg=\"cannot start the mail sender\"");
    if (rc == 0)
        rc = auth_feed_refresh(a);
    return rc;
}

/* See auth.h. */
void auth_free(auth_t *a)
{
    if (!a)
        return;
    auth__mailer_free(a->mailer); /* its current attempt finishes first */
    store_close(a->store);
    auth__ucache_free(a->users);
    auth__guard_log_free(a->guard_log);
    auth__feed_free(a->feed);
    live_release(a->live);
    pthread_mutex_destroy(&a->live_mu);
    free(a->issuer);
    free(a->audience);
    free(a);
}

/* See auth.h. */
store_t *auth_store(auth_t *a)
{
    return a->store;
}

/* See auth.h. */
const auth_options_t *auth_options(const auth_t *a)
{
    return &a->opts;
}

/* See auth_internal.h. */
int64_t auth__revocation_horizon(const auth_t *a, int64_t at)
{
    return at + atomic_load(&a->max_access_lifetime_s) + a->opts.leeway_s + a->opts.reuse_grace_s +
           1;
}

/* See auth_internal.h. */
int auth__map_db(int rc)
{
    return rc == 0 || rc == ERR_NOT_FOUND ? rc : ERR_UNAVAILABLE;
}

/* ==== cache groups ========================================================================= */

/* See auth.h. */
int auth_cache_group_register(auth_t *a, const char *prefix)
{
    if (!prefix || !*prefix || strlen(prefix) >= AUTH__CACHE_GROUP_MAX ||
        a->cache_group_count >= AUTH__MAX_CACHE_GROUPS)
        return ERR_INVALID;
    memcpy(a->cache_groups[a->cache_group_count++], prefix, strlen(prefix) + 1);
    return 0;
}

/* See auth_internal.h. */
/* See auth.h. */
void auth_cache_group_name(const char *prefix, int64_t user_id, char out[AUTH_CACHE_GROUP_NAME_MAX])
{
    snprintf(out, AUTH_CACHE_GROUP_NAME_MAX, "%s%lld", prefix, (long long)user_id);
}

void auth__drop_user_groups(auth_t *a, int64_t user_id)
{
    for (size_t i = 0; i < a->cache_group_count; i++) {
        char group[AUTH_CACHE_GROUP_NAME_MAX];
        auth_cache_group_name(a->cache_groups[i], user_id, group);
        store_cache_drop_group(a->store, group);
    }
}

/* ==== keys as published ==================================================================== */

/* See auth.h. */
int auth_jwks_json(const auth_t *a, buf_t *out)
{
    return jose_keyring_public_jwks(auth__live(a)->ring, out);
}

/* See auth.h. */
const char *auth_signing_alg(const auth_t *a)
{
    return jose_key_alg(auth__live(a)->sign_key)->name;
}

/* ==== health ================================================================================ */

/* See auth.h. */
void auth_health_quick(auth_t *a, auth_health_t *h)
{
    memset(h, 0, sizeof *h);
    h->redis_configured = store_redis_configured(a->store);
    h->redis_up = h->redis_configured && store_redis_up(a->store);
    store_stats_t st;
    store_stats(a->store, &st);
    h->index_jtis = st.index.jtis;
    h->index_sids = st.index.sids;
    h->index_users = st.index.users;
    h->pulls_failed = st.pulls_failed;
}

/* See auth.h. */
void auth_health(auth_t *a, auth_health_t *h)
{
    auth_health_quick(a, h);
    uint64_t t0 = clock_mono_ns();
    h->db_rc = db_ping(a->db);
    h->db_ping_ns = clock_mono_ns() - t0;
}

/* See auth.h. */
bool auth_revocations_current(auth_t *a, int64_t now)
{
    enum { STALE_AFTER_S = 30 }; /* a feed that has not succeeded for this long */
    static _Thread_local int64_t checked_at;
    static _Thread_local uint64_t checked_for; /* the service's epoch */
    static _Thread_local bool stale;
    if (now != checked_at || checked_for != a->epoch) {
        store_stats_t st;
        store_stats(a->store, &st);
        stale = st.pulls_failed > 0 && st.last_pull_at > 0 && now - st.last_pull_at > STALE_AFTER_S;
        checked_at = now;
        checked_for = a->epoch;
    }
    return !stale;
}

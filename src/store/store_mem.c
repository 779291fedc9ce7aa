/*
 * store_mem.c - the embedded store backend: one process, the revocation index in memory,
 * kept current from the durable database by polling.
 *
 * DESIGN
 * The index (revindex.c) does the O(1) lookups and its own locking. This file adds the
 * feed: one background thread ("store-feed") that wakes every poll_interval_ms, calls the
 * owner's pull function with since = (start of the last successful pull) - overlap_s, and
 * every prune_interval_ms drops expired entries. Pulls are serialised by pull_lock, so a
 * store_sync() from a pool thread and the feed thread never run the pull at once. The
 * thread sleeps on a condition variable (monotonic clock), so store_close() wakes it and
 * joins it without waiting for the interval.
 *
 * Propagation bound: a revocation committed by another process is applied here at most
 * poll_interval_ms (+ the pull's duration) after its commit. The overlap re-reads a window
 * of recent rows on every pull; applying a row twice is a no-op.
 */
#define LOG_MODULE "store"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"
#include "runtime/log.h"
#include "store/store.h"
#include "store/store_internal.h"

/* See store.h. */
int store_mem_open(const store_options_t *opts, store_t **out)
{
    if (!out)
        return ERR_INVALID;
    store_t *st = xcalloc(1, sizeof *st);
    if (opts)
        st->opts = *opts;
    if (st->opts.poll_interval_ms == 0)
        st->opts.poll_interval_ms = 1000;
    if (st->opts.prune_interval_ms == 0)
        st->opts.prune_interval_ms = 10000;
    if (st->opts.overlap_s <= 0)
        st->opts.overlap_s = 10;
    st->ix = store_revindex_new();
    st->local = store__local_new(0);
    pthread_mutex_init(&st->pull_lock, NULL);
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = st;
    return 0;
}

static __thread bool tls_in_pull;

/* See store_internal.h. */
bool store__in_pull(void)
{
    return tls_in_pull;
}

/* One pull with the bookkeeping. Returns the pull's result. */
static int pull_once(store_t *st)
{
    if (!st->opts.pull)
        return 0;
    pthread_mutex_lock(&st->pull_lock);
    tls_in_pull = true;
    int64_t now = clock_now_s();
    int64_t since = st->last_good_start ? st->last_good_start - st->opts.overlap_s : 0;
    if (since < 0)
        since = 0;
    int rc = st->opts.pull(st->opts.pull_arg, st, since, now);
    if (rc == 0) {
        st->last_good_start = now;
        st->pulls_ok++;
    } else {
        st->pulls_failed++;
    }
    tls_in_pull = false;
    pthread_mutex_unlock(&st->pull_lock);
    return rc;
}

static void *feed_main(void *arg)
{
    store_t *st = arg;
    uint64_t next_prune = clock_mono_ns() + (uint64_t)st->opts.prune_interval_ms * 1000000u;
    bool was_failing = false;
    pthread_mutex_lock(&st->mu);
    while (!st->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)st->opts.poll_interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        if (!st->pull_requested)
            pthread_cond_timedwait(&st->cv, &st->mu, &ts);
        if (st->stopping)
            break;
        st->pull_requested = false;
        pthread_mutex_unlock(&st->mu);

        int rc = pull_once(st);
        if (rc != 0 && !was_failing)
            log_warn("msg=\"revocation poll failed, retrying\" err=%s", err_name(rc));
        else if (rc == 0 && was_failing)
            log_info("msg=\"revocation poll recovered\"");
        was_failing = rc != 0;
        if (clock_mono_ns() >= next_prune) {
            size_t n = store_revindex_prune(st->ix, clock_now_s());
            if (n)
                log_debug("msg=\"pruned revocation index\" removed=%zu", n);
            store__local_prune(st->local, (int64_t)clock_now_s() * 1000000);
            next_prune = clock_mono_ns() + (uint64_t)st->opts.prune_interval_ms * 1000000u;
        }
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* See store.h. */
int store_start(store_t *st)
{
    int rc = pull_once(st);
    if (rc != 0)
        return rc;
    store_revindex_prune(st->ix, clock_now_s());
    if (pthread_create(&st->thread, NULL, feed_main, st) != 0)
        return ERR_INTERNAL;
    st->started = true;
    return 0;
}

/* See store.h. */
int store_sync(store_t *st)
{
    return pull_once(st);
}

/* See store.h. */
void store_close(store_t *st)
{
    if (!st)
        return;
    if (st->started) {
        pthread_mutex_lock(&st->mu);
        st->stopping = true;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->thread, NULL);
    }
    store__redis_close(st->rd); /* after the feed: a pull may still publish */
    st->rd = NULL;
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->pull_lock);
    store_revindex_free(st->ix);
    store__local_free(st->local);
    free(st);
}

/* Tells the other instances of an id revoked here ("j <hex> <exp>" or "s <hex> <exp>"),
   unless it came from them (a pull). */
static void publish_id(store_t *st, char kind, const store_id_t *id, int64_t exp)
{
    if (st->rd && !tls_in_pull) {
        char msg[80], hex[33];
        store_id_format(id, hex);
        snprintf(msg, sizeof msg, "%c %s %" PRId64, kind, hex, exp);
        store__redis_publish(st->rd, msg);
    }
}

/* See store.h. */
void store_revoke_jti(store_t *st, const store_id_t *jti, int64_t exp)
{
    store_revindex_add_jti(st->ix, jti, exp);
    publish_id(st, 'j', jti, exp);
}

/* See store.h. */
void store_revoke_sid(store_t *st, const store_id_t *sid, int64_t exp)
{
    store_revindex_add_sid(st->ix, sid, exp);
    publish_id(st, 's', sid, exp);
}

/* See store.h. */
void store_revoke_user(store_t *st, int64_t user_id, int64_t revoke_before, int64_t keep_until)
{
    store_revindex_set_watermark(st->ix, user_id, revoke_before, keep_until);
    if (st->rd && !tls_in_pull) {
        char msg[96];
        snprintf(msg, sizeof msg, "w %" PRId64 " %" PRId64 " %" PRId64, user_id, revoke_before,
                 keep_until);
        store__redis_publish(st->rd, msg);
    }
}

/* See store.h. */
void store_set_user_hook(store_t *st, store_user_fn fn, void *arg)
{
    st->user_fn = fn;
    st->user_arg = arg;
}

/* See store.h. */
void store_user_changed(store_t *st, int64_t user_id)
{
    if (st->rd) {
        char msg[40];
        snprintf(msg, sizeof msg, "u %" PRId64, user_id);
        store__redis_publish(st->rd, msg);
    }
}

/* See store.h. */
void store_request_pull(store_t *st)
{
    pthread_mutex_lock(&st->mu);
    st->pull_requested = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* See store.h. */
enum store_revoked_by store_check(store_t *st, const store_token_ref_t *tok)
{
    return store_revindex_check(st->ix, tok);
}

/* See store.h. */
void store_stats(store_t *st, store_stats_t *out)
{
    store_revindex_stats(st->ix, &out->index);
    pthread_mutex_lock(&st->pull_lock);
    out->pulls_ok = st->pulls_ok;
    out->pulls_failed = st->pulls_failed;
    out->last_pull_at = st->last_good_start;
    pthread_mutex_unlock(&st->pull_lock);
}

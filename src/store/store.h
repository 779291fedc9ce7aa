/*
 * store.h - shared revocation state behind one interface: what every token verification
 * consults, and how revocations made elsewhere reach this process.
 *
 * A store wraps the in-memory revocation index (revindex.h: revoked jtis, revoked sessions,
 * per-user watermarks) and keeps it current:
 *   - revocations made by this process are applied with store_revoke_*() BEFORE the request
 *     that caused them is answered, so a logout is enforced at once on this instance;
 *   - revocations made by other processes (the CLI, another jwtd on the same database) come
 *     in through the backend's feed. The embedded backend (store_mem.c) polls: a background
 *     thread calls the owner's pull function every poll_interval_ms with a `since` bound,
 *     and the pull function re-applies what the durable database recorded since then. The
 *     Redis backend of the next issue pushes changes instead; the interface stays.
 *   - expired entries are pruned by the same background thread (no cleanup cron).
 *
 * The store knows nothing about the database: the owner (src/auth/) supplies the pull
 * function, which reads the database and calls store_revoke_*() for each row. Applying an
 * entry twice is harmless (the index keeps the later expiry / the higher watermark).
 *
 * Threads: store_check() and store_revoke_*() may be called from any thread (event loops,
 * the blocking pool). store_start() / store_close() from the owning (main) thread only.
 */
#ifndef JWTD_STORE_STORE_H
#define JWTD_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/revindex.h"

typedef struct store store_t;

/*
 * Pulls revocations recorded since `since` (Unix seconds; 0 on the first pull: load
 * everything that can still matter) into st with store_revoke_*(). Runs on the store's
 * background thread (or on the caller of store_sync()); may block. Returns 0 or an ERR_*
 * (the store logs it and retries on the next tick with the same since).
 */
typedef int (*store_pull_fn)(void *arg, store_t *st, int64_t since, int64_t now);

typedef struct {
    store_pull_fn pull;         /* NULL: no feed (tests, a store used by one process) */
    void *pull_arg;             /* passed to pull */
    uint32_t poll_interval_ms;  /* how often pull runs; 0 = 1000 */
    uint32_t prune_interval_ms; /* how often expired entries are dropped; 0 = 10000 */
    int64_t overlap_s; /* since = start of the last good pull - overlap_s, so that rows whose
                          timestamp was taken before a slow commit are not missed; 0 = 10 */
} store_options_t;

/*
 * Creates the embedded (one process) store. Nothing runs until store_start(). Never fails
 * except on a bad argument (ERR_INVALID). OUT: *out, released with store_close().
 */
int store_mem_open(const store_options_t *opts, store_t **out);

/*
 * Runs the first pull synchronously (since = 0: the initial load; its error is returned so
 * that a server does not start with an empty index), then starts the background feed
 * thread. Returns 0 or the pull's ERR_*.
 */
int store_start(store_t *st);

/*
 * Runs one pull now, on the calling thread, with the usual since bound (tests; and after
 * a revocation whose rows this process did not see one by one, e.g. a password change
 * that revoked every session of a user). Returns the pull's result.
 */
int store_sync(store_t *st);

/* Stops the feed thread (if started) and frees the store. NULL is a no-op. */
void store_close(store_t *st);

/* ---- revocations (apply to the local index; thread-safe) ------------------------------- */

/* Revokes one token id until exp (after which the token is expired anyway). */
void store_revoke_jti(store_t *st, const store_id_t *jti, int64_t exp);
/* Revokes a session until exp (the latest expiry of any access token of that session). */
void store_revoke_sid(store_t *st, const store_id_t *sid, int64_t exp);
/* Tokens of user_id with iat < revoke_before are revoked; the entry lives until keep_until. */
void store_revoke_user(store_t *st, int64_t user_id, int64_t revoke_before, int64_t keep_until);

/* Checks a token against the index: O(1), no I/O. Thread-safe. */
enum store_revoked_by store_check(store_t *st, const store_token_ref_t *tok)
    __attribute__((warn_unused_result));

/* Entry counts and feed state, for metrics and tests. */
typedef struct {
    store_revindex_stats_t index;
    uint64_t pulls_ok;     /* successful pulls, including the initial load */
    uint64_t pulls_failed; /* failed pulls (the database was unavailable) */
    int64_t last_pull_at;  /* Unix seconds of the last successful pull's start; 0 = never */
} store_stats_t;
void store_stats(store_t *st, store_stats_t *out);

#endif

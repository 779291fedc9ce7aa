/*
 * auth_internal.h - what the files of src/auth/ share (not a contract for others): the
 * service's struct, the helpers the use-case files have in common, the user cache behind
 * auth_user_cached() and the per-thread cache of verified tokens.
 *
 * Files: auth.c (construction, keys as published, health), verify.c (the hot path and the
 * verified-token cache), issue.c (login, signing, refresh), revoke.c (revocations and the
 * feed that keeps the index current), users.c (registration, the user object and cache),
 * sessions.c (queries of sessions and revocations), guard.c (rate limits and the other
 * store-backed guards), mfa.c (second factors and a login's second step, mfa.h), usercache.c,
 * vcache.c, password.c, policy.c.
 */
#ifndef JWTD_AUTH_INTERNAL_H
#define JWTD_AUTH_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/mail.h"
#include "db/db.h"
#include "jose/jose.h"
#include "store/store.h"

typedef struct auth_ucache auth_ucache_t;

#define AUTH__MAX_CACHE_GROUPS 8
#define AUTH__CACHE_GROUP_MAX  24

/*
 * What a reload (auth_reload) may change, as one immutable snapshot: the key ring with its
 * signing key and the verification options built for it, the token lifetimes and the
 * guards' limits. gen is unique in the process (the verified-token cache keys on it).
 */
typedef struct auth_live {
    _Atomic long refs;
    uint64_t gen;
    jose_keyring_t *ring;
    const jose_key_t *sign_key;
    char *v_issuer, *v_audience; /* copies of the verification options' strings */
    jwtv_options v_access, v_refresh, v_any;
    int64_t access_lifetime_s, refresh_lifetime_s;
    auth_guard_options_t guard;
} auth_live_t;

struct auth {
    auth_options_t opts;     /* as built; the live part of it is in the snapshot */
    char *issuer, *audience; /* copies; opts.issuer/audience point here */
    db_t *db;
    /* the current snapshot: replaced under live_mu, whose generation readers compare
       (live_gen) without a lock; see auth__live */
    auth_live_t *live;
    pthread_mutex_t live_mu;
    _Atomic uint64_t live_gen;
    _Atomic int64_t max_access_lifetime_s; /* the longest ever in force: revocation horizons */
    store_t *store;
    auth_ucache_t *users;
    uint64_t epoch; /* unique per auth_new in the process (verified-token cache entries) */
    char cache_groups[AUTH__MAX_CACHE_GROUPS][AUTH__CACHE_GROUP_MAX];
    size_t cache_group_count;
    struct auth_guard_log *guard_log; /* guard.c: when each suspicious address was logged */
    struct auth_mailer *mailer;       /* outbox.c; NULL = no mail (the e-mail routes answer 503) */
    struct auth_feed *feed;           /* feed.c: the revocation feed's ring */
};

/* The revocation feed's state (feed.c). */
struct auth_feed *auth__feed_new(void);
void auth__feed_free(struct auth_feed *f);

/* The revocations recorded in the database: revoked access-token ids not yet expired,
   sessions revoked since `since` and user watermarks raised since `since`. */
typedef struct {
    db_revoked_list_t jtis;
    db_session_list_t sids;
    db_watermark_list_t users;
} auth__revocations_t;
/* Reads them into *out (disposed on failure). Returns 0 or ERR_UNAVAILABLE. */
int auth__revocations_read(auth_t *a, int64_t since, int64_t now, auth__revocations_t *out);
void auth__revocations_dispose(auth__revocations_t *r);

/*
 * The current snapshot, for the calling thread. Hot path: one atomic load and a compare
 * with the thread's cached generation; only after a reload does a thread take live_mu once
 * to retain the new snapshot. The pointer stays valid on this thread until its next call
 * after a reload (the thread keeps its previous snapshot one reload longer), so a use case
 * calls it once per step and never keeps the pointer across a wait.
 */
const auth_live_t *auth__live(const auth_t *a);

/* Database errors other than "no such row" become ERR_UNAVAILABLE: 503, never 401/500. */
int auth__map_db(int rc);
/* How long after a revocation at `at` a token it covers may still be alive. */
int64_t auth__revocation_horizon(const auth_t *a, int64_t at);
/* Writes 32 random lowercase hex characters and a NUL. Returns 0 or ERR_INTERNAL. */
int auth__random_id(char out[33]);
/* Copies an id (at most AUTH_ID_MAX bytes, checked by the callers) with a bound. */
void auth__id_copy(char dst[AUTH_ID_MAX + 1], const char *src);
/*
 * Creates a session for u (already authenticated: amr says how, at auth_time; 0 = unknown,
 * no claims) with client's details, signs its first pair into *out and caches the user.
 * Returns 0, ERR_NO_ACTIVE_ACCOUNT (the user is gone), ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth__issue_session(auth_t *a, const db_user_t *u, const auth_client_t *client, int64_t now,
                        unsigned amr, int64_t auth_time, auth_pair_t *out);
/* Caches u (the API user object) at now, and when out is not NULL puts its JSON there. */
void auth__user_cache_put(auth_t *a, const db_user_t *u, int64_t now, auth_pair_t *out);
/*
 * A change to user_id was committed: drops its user-tier entry (in process; in Redis, waiting
 * for Redis off the event loops, so that no instance serves it after the writer answers) and
 * its registered cache groups (the API-response tier). The caller also tells the other
 * instances (store_user_changed) for their in-process copies.
 */
void auth__user_drop(auth_t *a, int64_t user_id);
/* Drops every cache group registered for user_id (auth_cache_group_register). */
void auth__drop_user_groups(auth_t *a, int64_t user_id);
/*
 * The database's view of a refresh token. OUT: *verdict; on AUTH_OK *user (when not NULL;
 * dispose it) and sid (when not NULL: the session of record). Returns 0 or ERR_UNAVAILABLE.
 */
int auth__refresh_lookup(auth_t *a, const auth_token_ref_t *ref, int64_t now,
                         enum auth_verdict *verdict, db_user_t *user, char sid[AUTH_ID_MAX + 1]);
/* Whether token's header names (kid) one of jwtd's own keys, not a trusted issuer's
   (device.c): jwtd's own statements (device tokens, OAuth browser sessions, ID token hints). */
bool auth__own_key(const auth_t *a, str_t token);
/* A new session and its pair for the active user user_id, authenticated elsewhere (the
   OAuth code exchange; issue.c) as amr says, at auth_time (as auth__issue_session). Returns
   0, ERR_NO_ACTIVE_ACCOUNT (missing or inactive), ERR_UNAVAILABLE, ERR_INTERNAL. OUT: *out
   (dispose it). */
int auth__issue_for_user_id(auth_t *a, int64_t user_id, const auth_client_t *client, int64_t now,
                            unsigned amr, int64_t auth_time, auth_pair_t *out);
/*
 * Appends the user's passkeys to a factor list being written (passkeys.c): items
 * {"id":"webauthn-<n>","type":"webauthn"} (brief) or with name, created_at and last_used_at,
 * each preceded by a comma when *n (the items written so far, updated) is not 0. Returns 0
 * or ERR_UNAVAILABLE.
 */
int auth__webauthn_factors(auth_t *a, int64_t user_id, bool brief, buf_t *out, size_t *n);
/* Applies the revocation of session sid (made at now) to the index. */
void auth__index_revoke_sid(auth_t *a, const char *sid, int64_t now);
/*
 * After the database revoked every session of user_id and raised its watermark (or wrote a
 * deleted user's tombstone) to watermark: the watermark goes into the index at once (and to
 * the other instances through the store), the user cache entry is dropped, and a pull
 * brings the revoked sessions (which also cover tokens issued earlier in the same second,
 * which the watermark cannot).
 */
void auth__index_revoke_user(auth_t *a, int64_t user_id, int64_t watermark);
/* The store's pull function: re-applies what the database recorded since `since`. */
int auth__pull(void *arg, store_t *st, int64_t since, int64_t now);
/*
 * The end of a login attempt that auth_guard_login let through (guard.c): a success gives
 * back the failure budgets the check reserved (the device's, or the account's from the
 * client's address and from every untrusted client); a failure keeps them spent. Any
 * thread; does not wait.
 */
void auth__guard_login_done(auth_t *a, const char *username, const auth_client_t *client,
                            bool success);
/*
 * Signs u (authenticated by other means than auth_login's password: an e-mailed code) in:
 * a new session and its pair, counted and audited as a login with reason = method.
 */
int auth__login_user(auth_t *a, const db_user_t *u, const auth_client_t *client, const char *method,
                     int64_t now, auth_pair_t *out);
/*
 * After a right first factor (amr: how; client: the family and bind of the login): 1 when
 * the login may issue its session; ERR_MFA_REQUIRED with a challenge in out when the user
 * has a second factor (with AUTH_AMR_HWK in amr, a passkey sign-in, only a TOTP factor
 * counts: a second passkey is no other factor); ERR_MFA_ENROLL_REQUIRED with an enrolment
 * token in out when the user's role requires one and there is none; or the error.
 */
int auth__second_step(auth_t *a, const db_user_t *u, const auth_client_t *client, int64_t now,
                      unsigned amr, auth_pair_t *out);
/* Whether user_id has an active TOTP factor. OUT: *has. Returns 0 or ERR_UNAVAILABLE. */
int auth__mfa_has_totp(auth_t *a, int64_t user_id, bool *has);

/* ---- housekeeping (flush.c: auth_flush_expired) ---------------------------------------------- */

/* Each deletes its module's rows that can no longer matter (see auth_flush_expired). OUT:
   the rows deleted. Return 0 or the database's error. */
int auth__mfa_flush(db_t *db, int64_t now, int64_t *deleted);
int auth__oidc_flush(db_t *db, int64_t now, int64_t *deleted);
int auth__oauth_flush(db_t *db, int64_t now, int64_t *deleted);
int auth__outbox_flush(db_t *db, int64_t now, int64_t *mails, int64_t *links);

/* ---- mail (outbox.c, lifecycle.c; mail.h) --------------------------------------------------- */

struct auth_mailer;
/* The mailer of opts (templates loaded, SMTP URL parsed). 0, ERR_CONFIG (logged). */
int auth__mailer_new(const auth_mail_options_t *opts, struct auth_mailer **out);
/* Starts the sender thread over db (the server only). 0 or ERR_INTERNAL. */
int auth__mailer_start(struct auth_mailer *m, db_t *db);
/* Stops the sender (after its current attempt) and frees m. NULL is a no-op. */
void auth__mailer_free(struct auth_mailer *m);
const auth_mail_options_t *auth__mailer_options(const struct auth_mailer *m);
/* Whether mail goes to the spool directory (development without SMTP). */
bool auth__mailer_spool(const struct auth_mailer *m);
/* After a commit that queued a real mail: counts it (the sender finds it by its poll). */
void auth__mailer_kick(struct auth_mailer *m);
/*
 * Inside tx: renders the mail of kind for to with the template values vars (mail.h
 * auth_mail_var_t) and inserts it into the outbox; void_row: written as 'void', never sent.
 */
int auth__outbox_add(db_tx_t *tx, struct auth_mailer *m, enum auth_mail_kind kind, const char *to,
                     const auth_mail_var_t *vars, size_t n, bool void_row, int64_t now);
/* Registration with JWTD_SIGNUP=verified (users.c): the verification link and mail inside the
   transaction that creates the user; then auth__signup_mail_queued after its commit. */
int auth__signup_mail_tx(auth_t *a, db_tx_t *tx, int64_t user_id, const char *username,
                         const char *email, int64_t now);
void auth__signup_mail_queued(auth_t *a);

/* The guards' per-service state (guard.c). */
struct auth_guard_log *auth__guard_log_new(void);
void auth__guard_log_free(struct auth_guard_log *l);

/* ---- user cache (usercache.c) ------------------------------------------------------------- */

/*
 * user id -> the user's API JSON object and is_active, with the time it was loaded. One
 * reader-writer lock; readers (event loops) copy the JSON out under the read lock. Bounded:
 * when max_entries is reached the table is emptied (entries are cheap to reload).
 */
auth_ucache_t *auth__ucache_new(size_t max_entries);
void auth__ucache_free(auth_ucache_t *c);
/* Stores a copy of json (len bytes) for user_id, replacing any entry. */
void auth__ucache_put(auth_ucache_t *c, int64_t user_id, bool is_active, const char *json,
                      size_t len, int64_t loaded_at);
/*
 * Versioned fills: the ticket of a fill of user_id, taken before its database read;
 * auth__ucache_put_if stores only when no auth__ucache_drop of user_id (or of a user sharing
 * its generation slot) came in between. Returns true when stored.
 */
uint64_t auth__ucache_ticket(auth_ucache_t *c, int64_t user_id);
bool auth__ucache_put_if(auth_ucache_t *c, int64_t user_id, bool is_active, const char *json,
                         size_t len, int64_t loaded_at, uint64_t ticket);
/*
 * Copies the entry of user_id when it was loaded at or after min_loaded_at. Returns 0,
 * ERR_NOT_FOUND (absent or older) or ERR_TOO_LARGE (cap < *len).
 */
int auth__ucache_get(auth_ucache_t *c, int64_t user_id, int64_t min_loaded_at, char *out,
                     size_t cap, size_t *len, bool *is_active);
/* Drops the entry of user_id and advances its generation (a fill in flight is not stored). */
void auth__ucache_drop(auth_ucache_t *c, int64_t user_id);
size_t auth__ucache_count(auth_ucache_t *c);

/* ---- verified-token cache (vcache.c) ------------------------------------------------------- */

/*
 * A per-thread, direct-mapped cache of access tokens that verified: exact token bytes (the
 * hash only picks the slot) -> the token's reference. An entry is used only under the
 * snapshot (auth_live_t.gen: service and key ring) that verified it, while now is in [verified_at,
 * exp), so a hit skips only work whose result cannot have changed. Revocation is not cached.
 */
/* The cached reference of token at now (OUT: *alg, its metrics label), or NULL. */
const auth_token_ref_t *auth__vcache_get(uint64_t gen, str_t token, int64_t now, int *alg);
/* Remembers ref (alg: its metrics label) for token verified at now; tokens too large are not
   cached. */
void auth__vcache_put(uint64_t gen, str_t token, int64_t now, const auth_token_ref_t *ref, int alg);

#endif

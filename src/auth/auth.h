/*
 * auth.h - the token service of jwtd: login, token issuing, refresh rotation, revocation
 * and the user cache. Knows nothing of HTTP (src/api/ adapts it).
 *
 * One process-wide auth_t is built at start from plain options + the database handle
 * (db.h) + the key ring (jose.h) + verification options (auth_keys_verify_options()). It
 * owns the revocation store (store.h, embedded backend), whose index it loads from the
 * database at auth_start() and keeps current (this process's revocations at once, other
 * processes' through the store's feed: a poll of the database every poll_interval_ms).
 *
 * Two kinds of functions:
 *   - HOT PATH (any thread, never blocks, no database): auth_verify_*, auth_user_cached.
 *     Signature + claims through jose, then the O(1) revocation index.
 *   - BLOCKING (the blocking pool or a CLI, never an event loop): everything that touches
 *     the database or hashes a password. Their `now` is Unix seconds (pass clock_now_s();
 *     tests pin it).
 * Blocking functions return 0 or: ERR_NO_ACTIVE_ACCOUNT (login), ERR_NOT_FOUND (no such
 * user/session), ERR_UNAVAILABLE (the database is down or locked: answer 503, never 401),
 * ERR_INTERNAL (signing or RNG failure; details logged). A token that is not acceptable is
 * not an error: those functions return 0 and report an auth_verdict.
 *
 * Claims (API.md section 1): access = token_type, exp, iat, jti, user_id (string), sub,
 * sid, username, email, role, premium (+ iss/aud when configured); refresh = token_type,
 * exp, iat, jti, user_id, sub, sid (+ iss/aud). jti and sid are 32 random lowercase hex.
 *
 * Thread-safe after auth_start(): the key ring is immutable, the index and the user cache
 * have their own locks, the database handle is a pool.
 */
#ifndef JWTD_AUTH_AUTH_H
#define JWTD_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/password.h"
#include "auth/policy.h"
#include "common/str.h"
#include "db/db.h"
#include "jose/jose.h"
#include "runtime/metrics.h"
#include "store/store.h"

typedef struct auth auth_t;

/* Largest token auth issues (bytes, without the NUL). */
#define AUTH_TOKEN_MAX JWTV_MAX_TOKEN_BYTES

/* ---- construction ------------------------------------------------------------------------ */

typedef struct {
    int64_t access_lifetime_s;  /* JWTD_ACCESS_TOKEN_LIFETIME; default 900 */
    int64_t refresh_lifetime_s; /* JWTD_REFRESH_TOKEN_LIFETIME; default 7 days */
    bool rotate_refresh_tokens; /* JWTD_ROTATE_REFRESH_TOKENS; default true */
    int64_t reuse_grace_s;      /* JWTD_REFRESH_REUSE_GRACE; default 10 */
    int64_t leeway_s;           /* JWTD_LEEWAY; default 0 */
    const char *issuer;         /* JWTD_ISSUER or NULL; copied */
    const char *audience;       /* JWTD_AUDIENCE or NULL; copied */
    auth_argon2_params_t argon2;
    int64_t user_cache_ttl_s;  /* how long /api/users/me/ serves a cached user; default 60 */
    uint32_t poll_interval_ms; /* revocation poll of the database; default 1000 */
    bool hash_dummy;           /* compute the dummy hash at auth_new (login needs it);
                                  default true; the CLI turns it off */
} auth_options_t;

/* Fills *o with the defaults above. */
void auth_options_defaults(auth_options_t *o);

/*
 * Creates the service. db is borrowed (must outlive it); ring is retained (one reference
 * taken, released by auth_free); vopt is copied (its strings too) and used for every check
 * after the token_type is set per check. Nothing is loaded until auth_start(). Returns 0,
 * ERR_INVALID (bad option, a ring that cannot sign) or an error of the dummy-hash setup.
 * OUT: *out.
 */
int auth_new(const auth_options_t *opts, db_t *db, jose_keyring_t *ring, const jwtv_options *vopt,
             auth_t **out);
/*
 * Loads the revocation index from the database and starts its feed thread. Returns 0 or
 * the database error (ERR_UNAVAILABLE): a server must not serve with an unloaded index.
 */
int auth_start(auth_t *a);
/* Stops the feed and frees everything. NULL is a no-op. No other thread may use a. */
void auth_free(auth_t *a);

/* The key ring (borrowed; lives as long as a), for the JWKS route. */
const jose_keyring_t *auth_keyring(const auth_t *a);
/* The revocation store (borrowed), for metrics and tests. */
store_t *auth_store(auth_t *a);
/* The options in effect (issuer/audience point into a). */
const auth_options_t *auth_options(const auth_t *a);

/* ---- hot path: verification ------------------------------------------------------------- */

/* Why a token was refused; the messages are SimpleJWT's. */
enum auth_verdict {
    AUTH_OK = 0,
    AUTH_INVALID = 1,    /* "Token is invalid or expired": format, signature, alg, claims, exp */
    AUTH_WRONG_TYPE = 2, /* "Token has wrong type" (reported after expiry, as SimpleJWT does) */
    AUTH_REVOKED = 3,    /* "Token is blacklisted": revoked by jti, session or watermark, or a
                            refresh token already used */
};

/* SimpleJWT's text for a verdict ("Token is blacklisted"); "" for AUTH_OK. */
const char *auth_verdict_message(enum auth_verdict v);

/*
 * Verifies token as an access token at time now (0 = clock_now_s()): signature and claims
 * (jose), token_type "access", then the revocation index. OUT: *claims (filled on AUTH_OK;
 * cleared otherwise). Never blocks. Thread-safe.
 */
enum auth_verdict auth_verify_access(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
    __attribute__((warn_unused_result));
/* The same for a refresh token (token_type "refresh"; the database is not consulted). */
enum auth_verdict auth_verify_refresh(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
    __attribute__((warn_unused_result));
/*
 * Any token type (/api/token/verify/): signature, claims, revocation index. A refresh token
 * should then also be checked against the database with auth_refresh_check() (blocking).
 */
enum auth_verdict auth_verify_any(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
    __attribute__((warn_unused_result));

/*
 * The tamper class of a jose verification error (a metrics_result of common/metrics.h:
 * malformed, bad_alg, bad_signature, unknown_kid, expired, invalid_claims, wrong_type).
 * Every rejected token is counted under it by alg in jwtd_tokens_verified_total (issue 9).
 */
int auth_reject_class(int jose_rc);

/* The parts of verified claims the blocking functions need (copied: claims can go away). */
typedef struct {
    char jti[DB_ID_MAX + 1];
    char sid[DB_ID_MAX + 1]; /* "" when the token has none (another issuer's token) */
    int64_t user_id;         /* INT64_MIN when user_id is not a decimal integer */
    int64_t iat, exp;
    bool is_refresh;
    char fph[24]; /* the token's "fph" claim (client fingerprint), "" when none */
} auth_token_ref_t;

/* Copies the reference of verified claims. Returns 0 or ERR_INVALID (jti/sid too long). */
int auth_token_ref_from_claims(const jwtv_claims *c, auth_token_ref_t *out);

/* Parses a decimal user id ("42"). Returns 0 or ERR_INVALID. */
int auth_parse_user_id(const char *s, int64_t *out);

/* The revocation index's view of verified claims: jti and sid are parsed into *jti and *sid
 * (ref points at them, or is NULL where the claim is absent or not an id), user_id and iat
 * are INT64_MIN when absent. */
void auth_revocation_ref(const jwtv_claims *c, store_id_t *jti, store_id_t *sid,
                         store_token_ref_t *ref);

/* The verdict for a token whose signature and claims verified: AUTH_REVOKED or AUTH_OK by
 * the revocation index, counted in the metrics under alg. O(1), no I/O: loop-safe. */
enum auth_verdict auth_check_revoked(auth_t *a, const store_token_ref_t *ref, enum metrics_alg alg);

/* ---- blocking: issuing ------------------------------------------------------------------- */

/* Client details recorded on a new session (all may be NULL). */
typedef struct {
    const char *ip;
    const char *user_agent;
    /* client fingerprint (issue 9, JWTD_FINGERPRINT_HEADERS): bound into the session's
       tokens as the "fph" claim and carried over by every rotation; NULL/"" = unbound */
    const char *fph;
} auth_client_t;

/* Longest fingerprint claim ("fph"): base64url of 16 bytes. */
#define AUTH_FPH_MAX 22

/* A freshly issued pair (or, on refresh without rotation, only an access token). */
typedef struct {
    char access[AUTH_TOKEN_MAX + 1];
    size_t access_len;
    char refresh[AUTH_TOKEN_MAX + 1];
    size_t refresh_len; /* 0 = no refresh token in this result */
    int64_t user_id;
    char sid[DB_ID_MAX + 1];
    char *user_json; /* heap: the API user object {"id",...,"premium"}; NULL if not set */
    size_t user_json_len;
} auth_pair_t;

/* Frees user_json and wipes the tokens. Safe on a zeroed or disposed struct. */
void auth_pair_dispose(auth_pair_t *p);

/*
 * Login: finds username (exact), verifies password (the dummy hash when the user does not
 * exist, so timing does not reveal it), refuses an inactive user with the same answer,
 * rehashes to argon2id when the stored hash is weaker, creates a session with a fresh sid
 * and its first refresh token, signs the pair and caches the user. OUT: *out (dispose it).
 * Returns 0, ERR_NO_ACTIVE_ACCOUNT, ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_login(auth_t *a, const char *username, const char *password, size_t password_len,
               const auth_client_t *client, int64_t now, auth_pair_t *out);

/*
 * Issues a session and pair for username without a password (`jwtd token issue`).
 * Returns 0, ERR_NOT_FOUND, ERR_NO_ACTIVE_ACCOUNT (inactive), ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_issue_for_user(auth_t *a, const char *username, const auth_client_t *client, int64_t now,
                        auth_pair_t *out);

/*
 * Refresh (the token was verified as a refresh token on the loop first). With rotation:
 * db_refresh_rotate, then ROTATED -> new refresh + access; REUSED_WITHIN_GRACE -> the SAME
 * successor (same jti/iat/exp) + a new access; REUSE_DETECTED -> the session is revoked
 * (index updated, event=refresh_reuse logged) and *verdict = AUTH_REVOKED; NOT_VALID ->
 * AUTH_REVOKED (used, session revoked, watermark, inactive user) or AUTH_INVALID (unknown,
 * expired). Without rotation: the token is checked in the database and only an access
 * token is issued. Returns 0 (see *verdict; tokens in *out only on AUTH_OK),
 * ERR_UNAVAILABLE or ERR_INTERNAL.
 */
int auth_refresh(auth_t *a, const auth_token_ref_t *ref, int64_t now, auth_pair_t *out,
                 enum auth_verdict *verdict);

/*
 * Auto-refresh (API.md section 4, X-New-Access-Token): a new access token for the session
 * of a refresh token that the database still accepts (as auth_refresh_check), WITHOUT
 * rotating or using the refresh token. *verdict as auth_refresh_check; on AUTH_OK
 * out->access, sid, user_id and user_json are set (refresh_len = 0). Returns 0,
 * ERR_UNAVAILABLE or ERR_INTERNAL. (Added by the browser-flow work, issue 7.)
 */
int auth_access_for_refresh(auth_t *a, const auth_token_ref_t *ref, int64_t now, auth_pair_t *out,
                            enum auth_verdict *verdict);

/*
 * Whether a verified refresh token is still usable according to the database: AUTH_OK,
 * AUTH_REVOKED (used, session revoked, user inactive or watermark), AUTH_INVALID (unknown,
 * expired). Returns 0 or ERR_UNAVAILABLE.
 */
int auth_refresh_check(auth_t *a, const auth_token_ref_t *ref, int64_t now,
                       enum auth_verdict *verdict);

/* ---- blocking: revocation ---------------------------------------------------------------- */

/*
 * Blacklist / logout with a refresh token: checks it (auth_refresh_check), then revokes its
 * whole session in the database and in the index. *verdict = AUTH_REVOKED when it was
 * already used or revoked. Returns 0, ERR_UNAVAILABLE.
 */
int auth_logout(auth_t *a, const auth_token_ref_t *refresh, int64_t now,
                enum auth_verdict *verdict);
/* Revokes session sid (database + index). Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth_revoke_session(auth_t *a, const char *sid, int64_t now);
/* Revokes one access token (database + index) until exp. Returns 0, ERR_UNAVAILABLE. */
int auth_revoke_jti(auth_t *a, const char *jti, int64_t exp, int64_t now);
/*
 * Logout-all: raises the user's watermark to now and revokes every session (database +
 * index, user cache dropped). Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE.
 */
int auth_user_revoke_all(auth_t *a, int64_t user_id, int64_t now);
/*
 * Password change: checks the policy (ERR_INVALID, messages in *policy when not NULL),
 * hashes, stores, and revokes every session of the user as auth_user_revoke_all does.
 */
int auth_user_set_password(auth_t *a, int64_t user_id, const char *password, size_t len,
                           int64_t now, auth_policy_result_t *policy);
/* (De)activates a user; deactivation revokes everything as auth_user_revoke_all does. */
int auth_user_set_active(auth_t *a, int64_t user_id, bool is_active, int64_t now);

/* ---- user cache (/api/users/me/ without a query per request) ----------------------------- */

/*
 * Hot path: copies the cached user object of user_id into out (cap bytes, not NUL-
 * terminated) if present and younger than the TTL at now. OUT: *len (also set when cap is
 * too small), *is_active. Returns 0, ERR_NOT_FOUND (miss or stale: load it on the pool)
 * or ERR_TOO_LARGE (retry with *len bytes). Thread-safe, never blocks on I/O.
 */
int auth_user_cached(auth_t *a, int64_t user_id, int64_t now, char *out, size_t cap, size_t *len,
                     bool *is_active);
/*
 * Blocking: loads user_id from the database into the cache. Returns 0, ERR_NOT_FOUND,
 * ERR_UNAVAILABLE.
 */
int auth_user_load(auth_t *a, int64_t user_id, int64_t now);
/* Drops user_id from the cache (after a change made outside auth). Thread-safe. */
void auth_user_invalidate(auth_t *a, int64_t user_id);

/* ---- shared-state hooks (issue 5) ---------------------------------------------------------- */

/*
 * Called on the login's thread (the pool) after a failed login for username (wrong
 * password, unknown or inactive user): the rate limiter counts it against the username.
 * Set before serving.
 */
typedef void (*auth_login_failed_fn)(void *arg, const char *username);
void auth_set_login_failed_hook(auth_t *a, auth_login_failed_fn fn, void *arg);

/*
 * Cache group of the per-user, per-token cache entries (seed 000's orders cache): every
 * successful refresh of one of the user's sessions drops the whole group
 * (store_cache_drop_group), on every instance when the store is shared. Writes
 * "user:<id>" into out (AUTH_USER_GROUP_MAX bytes).
 */
#define AUTH_USER_GROUP_MAX 32
void auth_user_cache_group(int64_t user_id, char out[AUTH_USER_GROUP_MAX]);

/*
 * Writes the API user object of u ({"id":..,"username":..,"email":..,"first_name":..,
 * "last_name":..,"role":..,"premium":..}) into a heap string. OUT: *len. Never NULL.
 */
char *auth_user_json(const db_user_t *u, size_t *len);

#endif

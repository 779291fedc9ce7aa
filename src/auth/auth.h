/*
 * auth.h - the token service of jwtd and the use cases built on it: login, token issuing,
 * refresh rotation, revocation, user registration, sessions, the user cache, and the abuse
 * guards (rate limits, one-time tokens, refresh-family networks). Knows nothing of HTTP:
 * the request layer (src/api/) adapts it, the commands (src/cli/) call it.
 *
 * This header is the request layer's only way down: it does not include db.h, store.h or
 * jose.h, so a route cannot reach the database or the shared store around it. The token
 * vocabulary it speaks (claims view, verification options) is the public one of
 * include/jwtv/jwtv.h.
 *
 * One process-wide auth_t is built at start from plain options, the database handle, the
 * key ring and the verification options. It owns the revocation store, whose index it loads
 * from the database at auth_start() and keeps current (this process's revocations at once,
 * other processes' through the store's feed).
 *
 * Three kinds of functions:
 *   - HOT PATH (any thread, never blocks, no database): auth_verify_*, auth_user_cached,
 *     auth_revocations_current. Signature + claims through jose, then the O(1) revocation
 *     index.
 *   - BLOCKING (the blocking pool or a command, never an event loop): everything that
 *     touches the database or hashes a password. Their `now` is Unix seconds (pass
 *     clock_now_s(); tests pin it).
 *   - The guards (auth_guard_*) are asynchronous: they answer through a callback, on the
 *     calling loop, and never block it.
 * Blocking functions return 0 or: ERR_NO_ACTIVE_ACCOUNT (login), ERR_NOT_FOUND (no such
 * user/session), ERR_UNAVAILABLE (the database is down or locked: answer 503, never 401),
 * ERR_INTERNAL (signing or RNG failure; details logged). A token that is not acceptable is
 * not an error: those functions return 0 and report an auth_verdict.
 *
 * Claims (docs/api.md "Tokens"): access = token_type, exp, iat, jti, user_id (string), sub,
 * sid, username, email, role, premium (+ iss/aud when configured); refresh = token_type,
 * exp, iat, jti, user_id, sub, sid (+ iss/aud); both + amr and auth_time (how and when the
 * session signed in, auth/mfa.h) when known, carried over by every refresh. jti and sid are
 * 32 random lowercase hex.
 *
 * Thread-safe after auth_start(): the key ring, lifetimes and guard limits are one immutable
 * snapshot that auth_reload replaces atomically (readers take no lock), the index and the
 * caches have their own locks, the database handle is a pool.
 */
#ifndef JWTD_AUTH_AUTH_H
#define JWTD_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/password.h"
#include "auth/policy.h"
#include "common/buf.h"
#include "common/str.h"
#include "jwtv/jwtv.h"

struct audit_record;
struct db;
struct db_user;
struct jose_keyring;
struct store;

typedef struct auth auth_t;

/* Largest token auth issues (bytes, without the NUL). */
#define AUTH_TOKEN_MAX JWTV_MAX_TOKEN_BYTES
/* Longest jti / sid accepted in a token (jwtd's own are 32 lowercase hex). */
#define AUTH_ID_MAX 64
/* Longest fingerprint claim ("fph"): base64url of 16 bytes. */
#define AUTH_FPH_MAX 22

/* ==== construction ========================================================================= */

/* A rate such as "5/minute": count events per period_s seconds; count 0 = unlimited. */
typedef struct {
    uint32_t count;
    uint32_t period_s;
} auth_rate_t;

/* The abuse guards' limits (auth_guard_*). */
typedef struct {
    auth_rate_t login;            /* login attempts per client address, or per device token (a count
                                     of 0 switches every login budget off, the three below too) */
    auth_rate_t login_account;    /* failed logins per account from untrusted clients (no
                                     device token for it), every address together */
    auth_rate_t login_account_ip; /* the same from one address (keep it below the above) */
    auth_rate_t login_device;     /* failed logins per device token */
    auth_rate_t anon;             /* requests without a valid access token, per client address */
    auth_rate_t user;             /* requests with a valid access token, per user */
    auth_rate_t invalid_token;    /* invalid tokens per client address before it is suspicious */
    uint32_t invalid_block_s;     /* then blocked this long; 0 = only logged */
    auth_rate_t mail_address;     /* mails asked for one address (any route that sends one) */
    auth_rate_t mail_ip;          /* mails asked for by one client address */
} auth_guard_options_t;

/* E-mail of the account lifecycle (lifecycle.c, outbox.c). Strings are copied. */
typedef struct {
    bool enabled;              /* mail can be sent: SMTP, or .eml files in development */
    const char *smtp_url;      /* smtp:// or smtps:// (?tls=required); NULL = spool_dir */
    const char *smtp_password; /* JWTD_SMTP_PASSWORD_FILE's content; NULL = the URL's */
    const char *smtp_ca_file;  /* JWTD_SMTP_CA_FILE: PEM CAs for the server; NULL = system's */
    const char *from;          /* JWTD_MAIL_FROM, "Name <addr>" or "addr" */
    const char *spool_dir;     /* without SMTP: DATA_DIR/mail (the links are logged) */
    const char *templates_dir; /* NULL = the built-in templates */
    const char *link_base;     /* links are <link_base>/app/<page>#token=... */
    const char *site_name;     /* the {{site}} of the templates (the public URL's host) */
    int64_t link_lifetime_s;   /* default 1800 */
    int64_t code_lifetime_s;   /* e-mailed sign-in codes; default 600 */
    int64_t retry_base_s;      /* first retry delay, doubled per attempt; default 30 */
} auth_mail_options_t;

typedef struct {
    int64_t access_lifetime_s;  /* default 900 */
    int64_t refresh_lifetime_s; /* default 7 days */
    bool rotate_refresh_tokens; /* default true */
    int64_t reuse_grace_s;      /* default 10 */
    int64_t leeway_s;           /* default 0 */
    const char *issuer;         /* or NULL; copied */
    const char *audience;       /* or NULL; copied */
    auth_argon2_params_t argon2;
    int64_t user_cache_ttl_s;  /* how long the user tier serves an entry; default 3600, 0 = off */
    uint32_t poll_interval_ms; /* revocation poll of the database; default 1000 */
    bool hash_dummy;           /* compute the dummy hash at auth_new (login needs it);
                                  default true; commands turn it off */
    auth_guard_options_t guard;
    int64_t device_token_lifetime_s; /* device tokens (device.c); 0 = none issued or accepted
                                        (the default) */
    bool signup_closed;   /* auth_user_register refuses (ERR_SIGNUP_CLOSED); default false */
    bool signup_verified; /* a new account signs in once its e-mail address is confirmed
                             (login answers ERR_EMAIL_NOT_VERIFIED until then); needs mail */
    auth_mail_options_t mail;
    /* roles (bit 1 << db role: user 0, instructor 1, admin 2) whose users get tokens only
       after a second factor, and until they have one only a token that can enroll one
       (JWTD_MFA_REQUIRED_ROLES); 0 = none */
    unsigned mfa_required_roles;
    /* passkeys (passkeys.c): borrowed strings that outlive the service; rp id NULL = off */
    const char *webauthn_rp_id;
    const char *webauthn_rp_name;
    char *const *webauthn_origins;
    size_t webauthn_origin_count;
    bool webauthn_require_uv;
    uint32_t webauthn_timeout_s; /* ceremony timeout and challenge life; 0 = 300 */
} auth_options_t;

/* Fills *o with the defaults above (no guard limits). */
void auth_options_defaults(auth_options_t *o);

/*
 * Creates the service. db is borrowed (must outlive it); ring is retained (one reference
 * taken, released by auth_free); vopt is copied (its strings too) and used for every check
 * after the token_type is set per check. Nothing is loaded until auth_start(). Returns 0,
 * ERR_INVALID (bad option, a ring that cannot sign) or an error of the dummy-hash setup.
 * OUT: *out.
 */
int auth_new(const auth_options_t *opts, struct db *db, struct jose_keyring *ring,
             const jwtv_options *vopt, auth_t **out);
/*
 * Loads the revocation index from the database and starts its feed thread. Returns 0 or
 * the database error (ERR_UNAVAILABLE): a server must not serve with an unloaded index.
 */
int auth_start(auth_t *a);
/* Stops the feed and frees everything. NULL is a no-op. No other thread may use a. */
void auth_free(auth_t *a);

/* The revocation store (borrowed), for the composition root (Redis, event loops) and tests. */
struct store *auth_store(auth_t *a);
/* The options in effect (issuer/audience point into a). */
const auth_options_t *auth_options(const auth_t *a);

/*
 * Registers a cache group prefix of a module that keeps per-user entries in the shared
 * cache ("orders:user:" -> group "orders:user:<id>"): every time a user's tokens are
 * renewed (refresh), each registered group of that user is dropped, on every instance
 * when the store is shared. Call before serving; at most 8 prefixes, each under 24 bytes.
 * Returns 0 or ERR_INVALID.
 */
int auth_cache_group_register(auth_t *a, const char *prefix);
/* Room for a group name: a registered prefix (under 24 bytes) and a user id. */
#define AUTH_CACHE_GROUP_NAME_MAX 48
/* The name of user_id's group under prefix ("<prefix><user_id>"): the group a module stores
   a user's entries in so that auth drops them. The name is cut to fit out. */
void auth_cache_group_name(const char *prefix, int64_t user_id,
                           char out[AUTH_CACHE_GROUP_NAME_MAX]);

/* ==== keys as published ===================================================================== */

/* Appends the public JWK Set (active, next and retired asymmetric keys) to out. 0 or ERR_*. */
int auth_jwks_json(const auth_t *a, buf_t *out);

/*
 * Reload (SIGHUP): publishes ring (retained), vopt and the live part of opts (token
 * lifetimes, guard limits; the rest of opts is ignored) as the service's new snapshot.
 * Requests already running finish with the snapshot they started with; the old one is
 * freed when the last thread that used it moves on. Any thread; call from one at a time.
 * Returns 0, or ERR_INVALID (bad lifetimes, a ring that cannot sign: nothing changes).
 */
int auth_reload(auth_t *a, const auth_options_t *opts, struct jose_keyring *ring,
                const jwtv_options *vopt);
/* The access and refresh token lifetimes in force (they change with auth_reload). */
int64_t auth_access_lifetime(const auth_t *a);
int64_t auth_refresh_lifetime(const auth_t *a);
/* The signing algorithm's name ("HS256", "ES256", ...). */
const char *auth_signing_alg(const auth_t *a);

/* ==== hot path: verification ================================================================= */

/* Why a token was refused; the messages are SimpleJWT's. */
enum auth_verdict {
    AUTH_OK = 0,
    AUTH_INVALID = 1,    /* "Token is invalid": format, signature, alg, claims */
    AUTH_WRONG_TYPE = 2, /* "Token has wrong type" (reported after expiry, as SimpleJWT does) */
    AUTH_REVOKED = 3,    /* "Token is blacklisted": revoked by jti, session or watermark, or a
                            refresh token already used */
    AUTH_EXPIRED = 4,    /* "Token is expired": exp has passed (beyond the leeway), the token
                            otherwise valid as far as it was checked */
};

/* SimpleJWT's text for a verdict ("Token is blacklisted"; expired and invalid worded as
   SimpleJWT 5.3 and later words them); "" for AUTH_OK. */
const char *auth_verdict_message(enum auth_verdict v);

/* Which token type a check expects. */
enum auth_token_kind { AUTH_TOKEN_ACCESS = 0, AUTH_TOKEN_REFRESH = 1, AUTH_TOKEN_ANY = 2 };

/* Longest claims a verified token may carry into auth_token_ref_t (bytes, without NUL). */
#define AUTH_CLAIM_ID_MAX   63  /* user_id as text */
#define AUTH_CLAIM_NAME_MAX 600 /* username: 150 characters of up to 4 bytes */
#define AUTH_CLAIM_ROLE_MAX 31

/* What jwtd needs of a verified token, copied out of its claims (no pointer into them). */
typedef struct {
    char jti[AUTH_ID_MAX + 1];
    char sid[AUTH_ID_MAX + 1]; /* "" when the token has none (another issuer's token) */
    int64_t user_id;           /* INT64_MIN when user_id is not a decimal integer */
    int64_t iat, exp;          /* 0 when absent */
    bool is_refresh;
    bool has_user_id, has_username, has_role; /* the claims were present */
    char user_id_str[AUTH_CLAIM_ID_MAX + 1];  /* the user_id claim as sent ("" when absent) */
    char username[AUTH_CLAIM_NAME_MAX + 1];   /* access tokens only */
    char role[AUTH_CLAIM_ROLE_MAX + 1];       /* access tokens only */
    char fph[AUTH_FPH_MAX + 1]; /* the token's "fph" claim (client fingerprint), "" when none */
    /* on AUTH_INVALID only: the tamper class when the token looks forged or altered
       ("bad_signature", "bad_alg", "unknown_kid", "malformed"); NULL when it was merely
       expired, of the wrong type, with unacceptable claims, or revoked */
    const char *tamper;
    /* how the session was authenticated: AUTH_AMR_* bits of the "amr" claim (auth/mfa.h)
       and "auth_time" (0 when absent: a token issued before jwtd had them) */
    unsigned amr;
    int64_t auth_time;
    bool is_mfa_enroll; /* token_type "mfa_enroll": it may only enroll a second factor */
} auth_token_ref_t;

/*
 * Verifies token as kind at time now (0 = clock_now_s()): signature and claims (jose), the
 * token type, then the revocation index, and copies what it needs into *out (filled on
 * AUTH_OK; zeroed otherwise, but for its tamper class). A token whose jti or sid is longer than
 * AUTH_ID_MAX, or an access token whose user_id, username or role claim is longer than its
 * AUTH_CLAIM_*_MAX, is AUTH_INVALID. Access tokens go through a per-thread cache of tokens already
 * verified (exact bytes, while unexpired and the key ring unchanged): a repeated token costs a
 * compare instead of base64, signature and JSON, and the revocation index is still asked
 * every time. Never blocks. Thread-safe. Each call is counted once in the metrics.
 */
enum auth_verdict auth_verify_token(auth_t *a, str_t token, enum auth_token_kind kind, int64_t now,
                                    auth_token_ref_t *out) __attribute__((warn_unused_result));

/*
 * The same with the whole claims view (tests, commands; jwtv_claims is about 13 KiB). OUT:
 * *claims (filled on AUTH_OK; cleared otherwise). Never cached.
 */
enum auth_verdict auth_verify_access(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
    __attribute__((warn_unused_result));
enum auth_verdict auth_verify_refresh(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
    __attribute__((warn_unused_result));
enum auth_verdict auth_verify_any(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
    __attribute__((warn_unused_result));

/* Copies the reference of verified claims. Returns 0 or ERR_INVALID (a claim too long). */
int auth_token_ref_from_claims(const jwtv_claims *c, auth_token_ref_t *out);

/* Parses a decimal user id ("42"). Returns 0 or ERR_INVALID. */
int auth_parse_user_id(const char *s, int64_t *out);

/*
 * Whether the revocation index can be trusted now: false when its feed (the database that
 * records other processes' revocations) has failed for longer than 30 s. A verifier that
 * must not accept a token revoked elsewhere answers 503 instead of accepting then. Looked
 * up at most once a second per thread. Never blocks.
 */
bool auth_revocations_current(auth_t *a, int64_t now);

/* ==== blocking: issuing ======================================================================= */

/* Client details recorded on a new session (all may be NULL). */
typedef struct {
    const char *ip;
    const char *user_agent;
    /* client fingerprint (JWTD_FINGERPRINT_HEADERS): bound into the session's tokens as the
       "fph" claim and carried over by every rotation; NULL/"" = unbound */
    const char *fph;
    /* login only: the id of the valid device token the attempt presented for its username
       (auth_device_token_check), NULL/"" = an untrusted client; the same as given to
       auth_guard_login */
    const char *device;
    /* login only: the family of the route that started it ("simplejwt", "cookie", ...) and
       what its second step must present again (bind: the cookie flow's Origin), kept with
       the mfa_token when the user has a second factor (auth/mfa.h); NULL = "" */
    const char *family;
    const char *bind;
} auth_client_t;

/* A freshly issued pair (or, on refresh without rotation, only an access token). */
typedef struct {
    char access[AUTH_TOKEN_MAX + 1];
    size_t access_len;
    char refresh[AUTH_TOKEN_MAX + 1];
    size_t refresh_len; /* 0 = no refresh token in this result */
    int64_t user_id;
    char sid[AUTH_ID_MAX + 1];
    char *user_json; /* heap: the API user object {"id",...,"premium"}; NULL if not set */
    size_t user_json_len;
    /* auth_login's ERR_MFA_REQUIRED: the single-use mfa_token and the JSON array of the
       user's factors [{"id","type"}] (heap); ERR_MFA_ENROLL_REQUIRED: access holds a token
       that can only enroll a factor (token_type "mfa_enroll", no refresh token) */
    char mfa_token[65];
    char *mfa_factors;
    size_t mfa_factors_len;
    /* a password login finished by its second step (auth/mfa.h), with device tokens on: the
       device token it earned, as a one-step login earns one (heap, NULL = none) */
    char *device_token;
    size_t device_token_len;
} auth_pair_t;

/* Frees user_json and wipes the tokens. Safe on a zeroed or disposed struct. */
void auth_pair_dispose(auth_pair_t *p);

/*
 * Login: finds username (exact), verifies password (the dummy hash when the user does not
 * exist, so timing does not reveal it), refuses an inactive user with the same answer,
 * rehashes to argon2id when the stored hash is weaker, creates a session with a fresh sid
 * and its first refresh token, signs the pair and caches the user. The attempt was checked
 * by auth_guard_login first (with client->ip and client->device), which reserved its
 * failure budgets: a failed login keeps them spent, a right password gives them back.
 * A user with an active second factor (auth/mfa.h) gets no tokens: ERR_MFA_REQUIRED with
 * out->mfa_token and out->mfa_factors (a challenge remembering client->family and ->bind);
 * a user of a role in mfa_required_roles without a factor gets ERR_MFA_ENROLL_REQUIRED with
 * only an enrolment token in out->access. Tokens carry amr ["pwd"] and auth_time now.
 * OUT: *out (dispose it). Returns 0, ERR_NO_ACTIVE_ACCOUNT, ERR_MFA_REQUIRED,
 * ERR_MFA_ENROLL_REQUIRED, ERR_UNAVAILABLE, ERR_INTERNAL.
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
 * ROTATED -> new refresh + access; REUSED_WITHIN_GRACE -> the SAME successor (same
 * jti/iat/exp) + a new access; reuse after the grace -> the session is revoked (index
 * updated, event=refresh_reuse logged) and *verdict = AUTH_REVOKED; otherwise AUTH_REVOKED
 * (used, session revoked, watermark, inactive user) or AUTH_INVALID (unknown, expired).
 * Without rotation: the token is checked in the database and only an access token is
 * issued. The user's registered cache groups are dropped. Returns 0 (see *verdict; tokens
 * in *out only on AUTH_OK), ERR_UNAVAILABLE or ERR_INTERNAL.
 */
int auth_refresh(auth_t *a, const auth_token_ref_t *ref, int64_t now, auth_pair_t *out,
                 enum auth_verdict *verdict);

/*
 * Auto-refresh (X-New-Access-Token): a new access token for the session of a refresh token
 * that the database still accepts (as auth_refresh_check), WITHOUT rotating or using the
 * refresh token. *verdict as auth_refresh_check; on AUTH_OK out->access, sid, user_id and
 * user_json are set (refresh_len = 0). Returns 0, ERR_UNAVAILABLE or ERR_INTERNAL.
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

/* ==== blocking: revocation =====================================================================
 */

/*
 * Blacklist / logout with a refresh token: checks it (auth_refresh_check), then revokes its
 * whole session in the database and in the index. *verdict = AUTH_REVOKED when it was
 * already used or revoked. Returns 0, ERR_UNAVAILABLE.
 */
int auth_logout(auth_t *a, const auth_token_ref_t *refresh, int64_t now,
                enum auth_verdict *verdict);
/* Revokes session sid (database + index). Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth_revoke_session(auth_t *a, const char *sid, int64_t now);
/*
 * Revokes session sid if it belongs to user_id (a user signing out one of their own
 * sessions). Returns 0, ERR_NOT_FOUND (no such session, or another user's: not revealed),
 * ERR_UNAVAILABLE.
 */
int auth_revoke_own_session(auth_t *a, int64_t user_id, const char *sid, int64_t now);
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

/* ==== blocking: users ========================================================================= */

/* A new account: borrowed strings, NULL = "". */
typedef struct {
    const char *username;
    const char *email;
    const char *password;
    size_t password_len;
    const char *first_name;
    const char *last_name;
    const char *role; /* "user", "instructor", "admin"; NULL = "user" */
    bool premium;
} auth_new_user_t;

/* Why a new account was refused, field by field (static texts; NULL = fine). */
typedef struct {
    const char *username;
    const char *email;
    const char *role;
    const char *name;              /* first or last name too long */
    auth_policy_result_t password; /* every password rule broken */
} auth_user_errors_t;

/*
 * Checks a new account without touching the database: username (Django's rules: 1..150
 * characters of letters, digits and @.+-_), email (empty allowed when email_optional),
 * role, names (at most 150 characters), and the password policy (skipped when password is
 * NULL: a command checks the rest before it asks for the password). Pure; any thread. Returns 0, or
 * ERR_INVALID with *errors saying why.
 */
int auth_user_validate(const auth_new_user_t *u, bool email_optional, auth_user_errors_t *errors);
/* Whether s looks like an e-mail address (the rule of auth_user_validate). Pure. */
bool auth_email_valid(const char *s);
/*
 * Whether self-registration is open (auth_options_t.signup_closed is false), so that a
 * route can refuse before it reads the request body. Any thread.
 */
bool auth_signup_open(const auth_t *a);
/*
 * Registration (self-service, through the API): refused with ERR_SIGNUP_CLOSED when signup
 * is closed; otherwise validates (as auth_user_validate, email required), hashes the
 * password and creates the user (active). OUT: *id, and *json (the API user object, heap,
 * when json is not NULL; free it). Returns 0, ERR_SIGNUP_CLOSED, ERR_INVALID (*errors
 * set), ERR_CONFLICT (*errors->username or ->email says which is taken), ERR_UNAVAILABLE.
 */
int auth_user_register(auth_t *a, const auth_new_user_t *u, int64_t now, int64_t *id, char **json,
                       size_t *json_len, auth_user_errors_t *errors);
/*
 * The same for an administrator's command line: no auth_t needed (db and argon2 given),
 * email optional, allowed whatever the signup setting. Same results but ERR_SIGNUP_CLOSED.
 */
int auth_user_create(struct db *db, const auth_argon2_params_t *argon2, const auth_new_user_t *u,
                     int64_t now, int64_t *id, auth_user_errors_t *errors);

/*
 * Writes the API user object of u ({"id":..,"username":..,"email":..,"first_name":..,
 * "last_name":..,"role":..,"premium":..}) into a heap string. OUT: *len. Never NULL.
 */
char *auth_user_json(const struct db_user *u, size_t *len);

/* ==== blocking: administration (admin.c: the admin API, DELETE /auth/me) ===================== */

/*
 * Each writes one audit record (admin_user_list, _view, _sessions, _create, _update,
 * _delete, _revoke; account_deleted) with its outcome, under the thread's audit context.
 * The admin user object is the API user object plus "is_active", "email_verified",
 * "created_at", "updated_at" and "last_login" (Unix seconds, null when never). Results that do not
 * fit out are ERR_TOO_LARGE.
 */

/*
 * Page page (>= 1) of page_size (1..1000) users whose username or e-mail contains q (ASCII
 * case-insensitive; "" = all), by id: {"count","page","page_size","results":[...]} appended
 * to out. Returns 0, ERR_INVALID (bounds), ERR_UNAVAILABLE.
 */
int auth_admin_users_json(auth_t *a, const char *q, uint32_t page, uint32_t page_size, buf_t *out);
/* The admin user object of id appended to out. Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth_admin_user_get_json(auth_t *a, int64_t id, buf_t *out);
/*
 * The sessions of user id that can still refresh, as auth_sessions_list, appended to out:
 * {"sessions":[{"sid","created_at","last_used_at","client_ip","user_agent"}]}. Returns 0,
 * ERR_NOT_FOUND (no such user), ERR_UNAVAILABLE.
 */
int auth_admin_sessions_json(auth_t *a, int64_t id, int64_t now, buf_t *out);
/*
 * Creates an account as auth_user_create does (the same validation and password policy,
 * e-mail optional, any role), inactive unless is_active, its address unverified unless
 * email_verified, and appends its admin object to out. Returns 0, ERR_INVALID /
 * ERR_CONFLICT (*errors says why), ERR_UNAVAILABLE.
 */
int auth_admin_user_create(auth_t *a, const auth_new_user_t *u, bool is_active, bool email_verified,
                           int64_t now, buf_t *out, auth_user_errors_t *errors);

/* What an administrator changes on a user: NULL / false = unchanged. */
typedef struct {
    const char *email; /* a valid address, or "" to clear it */
    const char *role;  /* "user", "instructor", "admin" */
    bool set_active;
    bool is_active;
    bool set_email_verified; /* without it, a new address is unverified */
    bool email_verified;
} auth_user_change_t;

/* Checks c without touching the database (errors->email, ->role). Pure. 0 or ERR_INVALID. */
int auth_user_change_validate(const auth_user_change_t *c, auth_user_errors_t *errors);
/*
 * Applies c to user id in one transaction. Deactivating the user or changing its role also
 * revokes every session and access token it holds (watermark), at once on every instance;
 * any change drops the user's cache entries here and on the other instances. The admin user
 * object after the change is appended to out (may be NULL). Returns 0, ERR_NOT_FOUND,
 * ERR_INVALID / ERR_CONFLICT (the e-mail is taken; *errors says why), ERR_UNAVAILABLE.
 */
int auth_user_change(auth_t *a, int64_t id, const auth_user_change_t *c, int64_t now, buf_t *out,
                     auth_user_errors_t *errors);
/*
 * Deletes user id with its sessions, refresh tokens and resource rows; every token it held
 * is refused at once, on every instance and after a restart (db_user_delete's tombstone).
 * Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE.
 */
int auth_user_delete(auth_t *a, int64_t id, int64_t now);
/* Revokes every session and access token of user id (auth_user_revoke_all), audited as an
   administrator's act. Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth_admin_user_revoke(auth_t *a, int64_t id, int64_t now);
/*
 * DELETE /auth/me: deletes the caller's own account, as auth_user_delete, once password is
 * its password. The attempt was counted by auth_guard_login (client->ip, the username) like
 * a login: a right password gives the reserved failure budgets back. Returns 0,
 * ERR_PERMISSION (wrong password; nothing changed), ERR_NOT_FOUND (already gone),
 * ERR_UNAVAILABLE.
 */
int auth_account_delete(auth_t *a, int64_t user_id, const char *password, size_t password_len,
                        const auth_client_t *client, int64_t now);

/* ==== blocking: the account lifecycle over e-mail (lifecycle.c) ============================== */

/*
 * Mail goes out through an outbox (outbox.c): each use case below writes its change, its
 * link token (256 random bits, stored as a SHA-256, one purpose, one user, single use,
 * expiring) and its mail in one transaction, and a sender thread delivers the mail with
 * retries. Routes that take an address answer the same, and do the same work, whether or
 * not it has an account. All return ERR_UNAVAILABLE when the database fails, and those that
 * send mail ERR_UNAVAILABLE when no mail is configured (auth_mail_enabled).
 */
/* Whether mail can be sent (SMTP, or .eml files in development). Any thread. */
bool auth_mail_enabled(const auth_t *a);
/*
 * `jwtd check`'s probe of o's SMTP server: connects, EHLO, STARTTLS or implicit TLS as
 * configured (certificate verified), AUTH when a user is set, and hangs up; no mail is sent.
 * o->smtp_url must be set. Returns 0 with msg "host:port, <TLS>, <auth>" or -1 with msg the
 * reason; msg (cap bytes) never holds the password. Blocking (at most about a minute).
 */
int auth_mail_probe(const auth_mail_options_t *o, char *msg, size_t cap);
/*
 * Applies a verification or e-mail change link: the address is marked verified (changed
 * first, for a change). OUT: *json, the user object (heap). Returns 0, ERR_INVALID_LINK
 * (unknown, used, expired, another purpose's, or the new address taken meanwhile).
 */
int auth_email_verify(auth_t *a, const char *token, int64_t now, char **json, size_t *json_len);
/* A new verification mail to the account of email when it is not verified yet. 0 always but
   for ERR_UNAVAILABLE. */
int auth_email_resend(auth_t *a, const char *email, int64_t now);
/* A reset mail to the active account of email, if any. 0 always but for ERR_UNAVAILABLE. */
int auth_password_forgot(auth_t *a, const char *email, int64_t now);
/*
 * Sets the password of a reset link's user (policy: ERR_INVALID with *policy, the link stays
 * usable), revokes every session and, by the watermark, every access token at once, and marks
 * the address verified. Returns 0, ERR_INVALID_LINK, ERR_INVALID.
 */
int auth_password_reset(auth_t *a, const char *token, const char *password, size_t len, int64_t now,
                        auth_policy_result_t *policy);
/*
 * A signed-in user's new password: current must be right (ERR_PERMISSION), the new one pass
 * the policy (ERR_INVALID, *policy). Every session but sid is revoked, and a notice mail
 * queued in the same transaction when mail is on. ERR_NOT_FOUND when the user is gone.
 */
int auth_password_change(auth_t *a, int64_t user_id, const char *sid, const char *current,
                         size_t current_len, const char *password, size_t len, int64_t now,
                         auth_policy_result_t *policy);
/*
 * A confirmation link to new_email (validated by the caller); the change applies when it is
 * followed (auth_email_verify). password must be the user's (ERR_PERMISSION). An address
 * that has an account gets no mail, with the same answer.
 */
int auth_email_change(auth_t *a, int64_t user_id, const char *new_email, const char *password,
                      size_t len, int64_t now);
/* A sign-in code (6 digits) and link to the active account of email, if any. 0 always but
   for ERR_UNAVAILABLE. */
int auth_otp_request(auth_t *a, const char *email, int64_t now);
/*
 * Sign-in by e-mail: the code mailed to email (compared in constant time; the fifth wrong
 * code retires it), or the link's token (email and code ignored then). The address counts
 * as verified. OUT: *out as auth_login's. Returns 0, ERR_INVALID_LINK.
 */
int auth_otp_verify(auth_t *a, const char *email, const char *code, const char *token,
                    const auth_client_t *client, int64_t now, auth_pair_t *out);

/* ==== the user cache (the /me routes without a query per request) ============================ */

/*
 * Hot path: copies the cached user object of user_id into out (cap bytes, not NUL-
 * terminated) if present and younger than the TTL at now. OUT: *len (also set when cap is
 * too small), *is_active. Returns 0, ERR_NOT_FOUND (miss or stale: load it on the pool)
 * or ERR_TOO_LARGE (retry with *len bytes). Thread-safe, never blocks on I/O. The in-process
 * tier only: with Redis (the tier is shared, see auth_user_cached_get) or a TTL of 0, always
 * ERR_NOT_FOUND.
 */
int auth_user_cached(auth_t *a, int64_t user_id, int64_t now, char *out, size_t cap, size_t *len,
                     bool *is_active);
/* What auth_user_cached_get finds: status 0 with the user object (valid during the call only)
   and is_active, or ERR_NOT_FOUND (miss, tier off, Redis unreachable: load it on the pool). */
typedef void (*auth_user_cb)(void *arg, int status, str_t json, bool is_active);
/*
 * Hot path (an event loop): looks user_id up in the user tier. In process (no Redis) cb runs
 * before the call returns, as auth_user_cached; with Redis the tier is the shared key and cb
 * runs later on this loop (store_cache_get), never blocking it.
 */
void auth_user_cached_get(auth_t *a, int64_t user_id, int64_t now, auth_user_cb cb, void *arg);
/* Blocking: loads user_id into the cache. Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth_user_load(auth_t *a, int64_t user_id, int64_t now);
/*
 * auth_user_load, and on success a copy of what was cached: out->user_id, out->user_json
 * (auth_pair_dispose frees it) and *is_active. The copy answers the request that asked for
 * the load even when a change to the user drops the cache entry right after.
 */
int auth_user_load_copy(auth_t *a, int64_t user_id, int64_t now, auth_pair_t *out, bool *is_active);
/* Drops user_id from the cache (after a change made outside auth). Thread-safe. */
void auth_user_invalidate(auth_t *a, int64_t user_id);

/* ==== blocking: queries ========================================================================
 */

/* One session as a user sees it in their list. */
typedef struct {
    char sid[AUTH_ID_MAX + 1];
    int64_t created_at, last_used_at;
    char *client_ip;  /* heap, "" when unknown */
    char *user_agent; /* heap, "" when unknown */
} auth_session_t;

typedef struct {
    auth_session_t *items;
    size_t count;
} auth_session_list_t;

void auth_session_list_dispose(auth_session_list_t *l);
/*
 * The user's sessions that can still refresh (not revoked, an unexpired refresh token),
 * newest first, at most 1000. Returns 0 or ERR_UNAVAILABLE. OUT: *out.
 */
int auth_sessions_list(auth_t *a, int64_t user_id, int64_t now, auth_session_list_t *out);

/*
 * Appends the revocations that can still matter as JSON to out: every revoked access-
 * token jti not yet expired, every session revoked at or after since, every user watermark
 * at or after since: {"now","since","jtis":[{"jti","exp"}],"sids":[{"sid","user_id",
 * "revoked_at"}],"users":[{"user_id","revoke_before"}]}. Returns 0 or ERR_UNAVAILABLE.
 */
int auth_revocations_json(auth_t *a, int64_t since, int64_t now, buf_t *out);

/* What /readyz and /metrics report of the backends. */
typedef struct {
    int db_rc; /* 0 when the database answered a ping */
    uint64_t db_ping_ns;
    bool redis_configured;
    bool redis_up;
    size_t index_jtis, index_sids, index_users; /* revocation index entries */
    uint64_t pulls_failed;                      /* failed feed pulls */
} auth_health_t;

/* Blocking (pings the database). OUT: *h. */
void auth_health(auth_t *a, auth_health_t *h);
/* The same without the database ping (db_rc = 0 and db_ping_ns = 0): never blocks. */
void auth_health_quick(auth_t *a, auth_health_t *h);

/* ==== the revocation feed (feed.c) ==========================================================
 *
 * Every revocation (by jti, by sid, by user watermark) as an event with a cursor: the id of
 * its database row, increasing, the same on every instance and after restarts. The feed
 * carries ids and times, never tokens. Resource servers read it with a verifier key
 * (`jwtd verifier create`) over GET /auth/revocations[/stream].
 */

/* Events kept in memory per process: a cursor older than that gets the snapshot. */
#define AUTH_FEED_HISTORY 4096

enum auth_feed_kind { AUTH_FEED_JTI = 0, AUTH_FEED_SID = 1, AUTH_FEED_USER = 2 };

typedef struct {
    uint64_t cursor; /* the event's row id; a snapshot's events all carry its cursor */
    int64_t before;  /* USER: tokens of that user with iat < before are revoked; else 0 */
    int64_t until;   /* Unix time after which every token it covers has expired */
    uint8_t kind;    /* enum auth_feed_kind */
    char value[AUTH_ID_MAX + 1]; /* the jti, the sid, or the user id in decimal */
} auth_feed_event_t;

/* "jti", "sid", "user". */
const char *auth_feed_kind_name(enum auth_feed_kind k);

/*
 * Any thread, no I/O: copies at most max events with a cursor after since, oldest first.
 * Returns 0 (OUT: *n, 0 when nothing is newer), or ERR_NOT_FOUND when the process cannot
 * tell what came after since: older than the history it keeps, or newer than what it has
 * read (another database, or not refreshed yet); then the client needs the snapshot.
 */
int auth_feed_read(auth_t *a, uint64_t since, auth_feed_event_t *out, size_t max, size_t *n);
/* The newest cursor this process has read (any thread). */
uint64_t auth_feed_head(auth_t *a);
/*
 * Blocking: reads the events committed since the newest one held (the first call loads the
 * last AUTH_FEED_HISTORY), then runs the subscribers when there were any. Returns 0 or
 * ERR_UNAVAILABLE. Called after each revocation and by the store's pull.
 */
int auth_feed_refresh(auth_t *a);
/*
 * Called (on the refreshing thread, which must not be kept waiting) after new events were
 * appended. Register before serving; at most 4. Returns 0 or ERR_INVALID.
 */
typedef void (*auth_feed_fn)(void *arg);
int auth_feed_subscribe(auth_t *a, auth_feed_fn fn, void *arg);
/* Removes a subscriber; once it returns, fn(arg) is not running and never runs again. */
void auth_feed_unsubscribe(auth_t *a, auth_feed_fn fn, void *arg);

typedef struct {
    auth_feed_event_t *events;
    size_t count;
    uint64_t cursor; /* follow with events after it */
} auth_feed_snapshot_t;
/*
 * Blocking: every revocation still in force (live jtis, sessions and watermarks within the
 * revocation horizon) as events carrying the cursor of the newest committed event. Returns
 * 0 or ERR_UNAVAILABLE. OUT: *out, released with auth_feed_snapshot_dispose.
 */
int auth_feed_snapshot(auth_t *a, int64_t now, auth_feed_snapshot_t *out);
void auth_feed_snapshot_dispose(auth_feed_snapshot_t *s);

/*
 * Blocking: whether credential (the Bearer value) may read the feed: a verifier key that
 * exists. Returns 0, ERR_NOT_AUTHENTICATED or ERR_UNAVAILABLE. An OAuth client's access
 * token with the scope "revocations:read" is the second kind of credential, to be accepted
 * here once jwtd issues client-credentials tokens.
 */
int auth_feed_authorize(auth_t *a, str_t credential, int64_t now);
/* Any thread: whether s has the shape of a verifier key ("jwtdv_" + 64 lowercase hex). */
bool auth_verifier_key_shape(str_t s);

/* Verifier keys (`jwtd verifier`), blocking. */
#define AUTH_VERIFIER_KEY_MAX 80
/*
 * Creates the verifier name (1..100 characters, no control bytes) with a new key, written
 * into key (shown once: only its SHA-256 is stored). Returns 0, ERR_INVALID (name),
 * ERR_CONFLICT (name taken), ERR_UNAVAILABLE.
 */
int auth_verifier_create(auth_t *a, const char *name, int64_t now, char key[AUTH_VERIFIER_KEY_MAX]);
typedef struct {
    int64_t id;
    char *name;
    int64_t created_at, last_used_at; /* last_used_at: 0 = never; updated at most once a minute */
} auth_verifier_t;
typedef struct {
    auth_verifier_t *items;
    size_t count;
} auth_verifier_list_t;
/* Every verifier, oldest first. Returns 0 or ERR_UNAVAILABLE. */
int auth_verifier_list(auth_t *a, auth_verifier_list_t *out);
void auth_verifier_list_dispose(auth_verifier_list_t *l);
/* Deletes the verifier name: its key is refused from then on. 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth_verifier_delete(auth_t *a, const char *name);

/* ==== guards (asynchronous, on an event loop) ==================================================
 */

/* A guard's decision. */
typedef struct {
    bool allowed;
    uint32_t retry_after_s; /* when refused: seconds until it would be allowed (>= 1) */
    bool local;             /* decided by this process alone (no shared store reachable) */
} auth_guard_result_t;

/* Called once with the decision, on the calling loop (possibly before the call returns). */
typedef void (*auth_guard_cb)(void *arg, const auth_guard_result_t *r);

/* What a request counts against (auth_guard_check). */
enum auth_guard_kind {
    AUTH_GUARD_LOGIN = 0, /* a login attempt: client address + the username's failures */
    AUTH_GUARD_USER = 1,  /* a request with a valid access token: its user */
    AUTH_GUARD_ANON = 2,  /* any other request: the client address */
    AUTH_GUARD_MAIL = 3,  /* a request that sends mail: the address and the client address */
};

/*
 * A login attempt (the login routes, once username and device token are read): counts it
 * against the budgets of docs/security.md and decides. client is the client address as
 * text, username the attempt's (may be NULL or ""), device the id of a valid device token
 * for that username (auth_device_token_check; NULL or "" = untrusted). A trusted device
 * counts against its own attempts and failures only; an untrusted client against the
 * address's attempts, the account's failures from that address and the account's failures
 * from every untrusted client. Failures are reserved here and given back by a successful
 * auth_login with the same client. cb runs once, on this loop.
 */
void auth_guard_login(auth_t *a, const char *client, const char *username, const char *device,
                      auth_guard_cb cb, void *arg);
/*
 * Gives back the failure budgets auth_guard_login reserved for an attempt it let through that
 * never reached auth_login (the blocking pool was full). Same arguments. Any thread.
 */
void auth_guard_login_cancel(auth_t *a, const char *client, const char *username,
                             const char *device);

/* ==== device tokens (device.c; on any thread, no I/O) ========================================= */

/* Length of a device token's id (lowercase hex). */
#define AUTH_DEVICE_ID_LEN 32

/* Whether device tokens are issued and accepted (a lifetime is configured). */
bool auth_device_tokens_enabled(const auth_t *a);
/*
 * After a successful login of username: a new device token (a compact JWS of the ring's
 * active key, a fresh random id, valid for the configured lifetime) into out (cap bytes,
 * NUL-terminated; AUTH_TOKEN_MAX + 1 is enough). OUT: *out_len. Returns 0, ERR_INVALID
 * (device tokens off, no username), ERR_TOO_LARGE or ERR_INTERNAL.
 */
int auth_device_token_issue(auth_t *a, const char *username, int64_t now, char *out, size_t cap,
                            size_t *out_len);
/*
 * Whether token is a valid device token for username at now: signed by one of jwtd's own
 * keys (not a trusted issuer's), not expired, issued for exactly username. OUT: device
 * (its id, NUL-terminated; "" when not valid).
 */
bool auth_device_token_check(const auth_t *a, str_t token, const char *username, int64_t now,
                             char device[AUTH_DEVICE_ID_LEN + 1]);

/*
 * A request that sends mail (or checks an e-mailed code) to address from client: counts
 * against the address's budget (lowercased) and the client address's (guard.mail_address,
 * guard.mail_ip), whether or not the address has an account. cb runs once, on this loop.
 */
void auth_guard_mail(auth_t *a, const char *client, const char *address, auth_guard_cb cb,
                     void *arg);

/* Whether kind is limited at all (nothing would be counted otherwise). */
bool auth_guard_limited(const auth_t *a, enum auth_guard_kind kind);
/*
 * Counts one request against the budgets of kind (and the client's block, if any) and
 * decides: client is the client address as text, username the login's username (may be
 * NULL or ""), user_id the token's user. AUTH_GUARD_LOGIN is auth_guard_login for an
 * untrusted client. cb runs once, on this loop.
 */
void auth_guard_check(auth_t *a, enum auth_guard_kind kind, const char *client,
                      const char *username, int64_t user_id, auth_guard_cb cb, void *arg);
/*
 * Counts an invalid token presented from client; past the invalid-token budget the
 * address is logged as suspicious (at most once a minute) and, when configured, blocked.
 * Any thread; does not wait.
 */
void auth_guard_invalid_token(auth_t *a, const char *client);
/* Tamper records written per client address a minute (auth_guard_tamper_sample). */
#define AUTH_TAMPER_RECORDS_PER_MINUTE 10
/*
 * Whether to write an audit record for a forged or altered token presented from client
 * now: at most AUTH_TAMPER_RECORDS_PER_MINUTE per address a minute (hashed slots, so two
 * addresses may share a budget). OUT: *suppressed, the records of this address skipped
 * since the last one written (when true). Any thread; a hash and a lock.
 */
bool auth_guard_tamper_sample(auth_t *a, const char *client, uint32_t *suppressed);
/*
 * One-time access tokens: consumes jti (valid until exp) on every instance; the first use
 * is allowed, any later one refused. cb runs once, on this loop.
 */
void auth_guard_use_once(auth_t *a, const char *jti, int64_t exp, auth_guard_cb cb, void *arg);
/*
 * Refresh-family networks: the network (any short text) a session sid last refreshed from,
 * remembered for window_s. cb gets allowed = true when the family has no other network on
 * record within the window (net is then recorded), false when it was last used from
 * another one (the caller decides; nothing is recorded). cb runs once, on this loop.
 */
void auth_guard_family_network(auth_t *a, const char *sid, const char *net, uint32_t window_s,
                               auth_guard_cb cb, void *arg);

/* ==== housekeeping (flush.c, `jwtd flush-expired`) ============================================ */

/* Rows deleted per table by auth_flush_expired. */
typedef struct {
    int64_t mfa_challenges; /* second steps of logins */
    int64_t oauth_codes;    /* authorization codes */
    int64_t oidc_states;    /* social sign-ins in progress */
    int64_t email_tokens;   /* e-mailed links and codes */
    int64_t mail_outbox;    /* delivered, failed or void mails */
} auth_flush_stats_t;

/*
 * Deletes the rows of the auth tables that can no longer matter (db_flush_expired does the
 * token tables): MFA challenges expired and older than the per-user attempt window
 * (AUTH_MFA_USER_WINDOW_S, their failures still count until then); OAuth authorization codes
 * expired for an hour (a replayed code is recognised, and revokes what it issued, until
 * then); social sign-in states expired; e-mailed links and codes expired for a day; mails
 * no longer pending and a week old. Passkey challenges live in the store with a TTL and
 * need nothing. Each table in its own statement. OUT: *stats (may be NULL; counts of the
 * statements that ran). Returns 0 or the database's error. Blocking.
 */
int auth_flush_expired(struct db *db, int64_t now, auth_flush_stats_t *stats);

/* ==== the audit trail (the audit_log table) =================================================== */

/*
 * Stores every audit record (runtime/audit.h) in the database from now on: sets the audit
 * sink and starts the writer thread, which inserts queued records in batches and, with
 * sweep (the server; commands leave it to the server), deletes rows older than retention_s
 * at start and then every quarter of it (at least every second, at most every hour). One
 * trail per process; a second call is a no-op. The schema must be migrated. Returns 0 or
 * ERR_INTERNAL.
 */
int auth_audit_start(struct db *db, int64_t retention_s, bool sweep);
/* Waits until every record emitted so far is written (tests, commands). */
void auth_audit_flush(void);
/* Writes what is queued, stops the writer and removes the sink. No-op when not started. */
void auth_audit_stop(void);
/* Deletes the records older than now - retention_s (none when retention_s <= 0). OUT:
 *deleted. Returns 0 or the database's error. Blocking. */
int auth_audit_sweep(struct db *db, int64_t now, int64_t retention_s, int64_t *deleted);

/* A query of the audit trail: "" / 0 = no filter. */
typedef struct {
    const char *user;     /* a user id or a username (attempted names included) */
    const char *event;    /* exact event name */
    const char *ip;       /* exact client address */
    int64_t since, until; /* Unix seconds, inclusive */
    uint32_t limit;       /* rows, newest first; 0 = 100 */
} auth_audit_filter_t;
/* Called per row, newest first; nonzero stops the query and is returned. */
typedef int (*auth_audit_row_fn)(void *arg, const struct audit_record *r);
/* Runs the query (`jwtd audit`). Blocking. Returns 0 or the database's error. */
int auth_audit_query(struct db *db, const auth_audit_filter_t *f, auth_audit_row_fn fn, void *arg);

/* ==== passkeys (passkeys.c): WebAuthn Level 3 ================================================ */
/*
 * Registration and sign-in with passkeys, over the checks of auth/webauthn.h. Options and
 * responses are the standard JSON forms (PublicKeyCredentialCreationOptionsJSON, ...), so a
 * browser's PublicKeyCredential.parseCreationOptionsFromJSON / toJSON() work unchanged.
 * Challenges are 32 random bytes in the shared store (cache entries with the ceremony's
 * timeout), single-use: a response consumes its challenge atomically (a one-event rate
 * bucket, like one-time tokens) before anything else is checked, so a replay fails even on
 * another instance. Credentials are rows of webauthn_credentials (a migration of db).
 * Every function here is BLOCKING (pool threads). body is a parsed JSON object (jansson),
 * borrowed.
 */
struct json_t;

/* What a passkey ceremony ended with, besides errors of the backends. */
enum auth_webauthn_result {
    AUTH_WA_OK = 0,
    AUTH_WA_MALFORMED = 1, /* the request is not a well-formed response: 400 invalid_request */
    AUTH_WA_CHALLENGE = 2, /* the challenge is unknown, expired or already used: 400 */
    AUTH_WA_REJECTED = 3,  /* a WebAuthn check failed (origin, rpIdHash, flags, signature,
                              unknown credential): 401 on sign-in, 400 on registration */
    AUTH_WA_CLONED = 4,    /* the signature counter went backwards: 401 */
    AUTH_WA_DUPLICATE = 5, /* the credential is registered already: 409 */
};

/* Whether passkeys are configured (a relying party id). Any thread. */
bool auth_webauthn_enabled(const auth_t *a);

/*
 * PublicKeyCredentialCreationOptionsJSON for user_id (resident key required, the user's
 * credentials in excludeCredentials, ES256, EdDSA and RS256, attestation "none"), its
 * challenge stored. Appends to out. Returns 0, ERR_NOT_FOUND (no such user),
 * ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_webauthn_register_options(auth_t *a, int64_t user_id, int64_t now, buf_t *out);

/*
 * Verifies a RegistrationResponseJSON (body, with an optional "name" of at most 64
 * characters) for user_id and stores the credential. OUT: *res and *why (a user-safe
 * sentence when *res is not AUTH_WA_OK); on AUTH_WA_OK the factor object
 * {"id","type":"webauthn","name","created_at","last_used_at",...} is appended to out.
 * Returns 0 (see *res), ERR_UNAVAILABLE or ERR_INTERNAL.
 */
int auth_webauthn_register(auth_t *a, int64_t user_id, struct json_t *body, int64_t now, buf_t *out,
                           enum auth_webauthn_result *res, const char **why);

/*
 * PublicKeyCredentialRequestOptionsJSON plus "challenge_id": for username (NULL = a
 * discoverable, username-less sign-in: no allowCredentials), or for the user of a pending
 * MFA step when mfa_token is not NULL (username is then ignored; the step is completed by
 * auth_webauthn_login). An unknown username gets options with no credentials, like a user
 * without passkeys (no enumeration). Appends to out. Returns 0, ERR_MFA_TOKEN_INVALID (no
 * such pending step), ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_webauthn_login_options(auth_t *a, const char *username, const char *mfa_token, int64_t now,
                                buf_t *out);

/* Room for the name of the login family an MFA step answers in ("" = a passkey sign-in). */
#define AUTH_WEBAUTHN_FAMILY_MAX 15

/*
 * Verifies an AuthenticationResponseJSON ({"challenge_id","credential"}): the challenge is
 * consumed, the credential looked up (it must belong to the user the options were for, and
 * userHandle, required without a username, must be the credential's), the assertion
 * verified (webauthn.h) and the counter stored only if it is still the one read, so two
 * concurrent uses of one counter value cannot both pass. Then it issues: a passkey sign-in
 * (amr ["hwk","user"], family "") or, when the options were for an MFA step, that step
 * completed (amr of the first factor + hwk + mfa; bind as for auth_mfa_verify; family = the
 * login family that started it). OUT: *out (on AUTH_WA_OK; dispose it), family, *res, *why.
 * Returns 0 (see *res), ERR_MFA_TOKEN_INVALID, ERR_NO_ACTIVE_ACCOUNT, ERR_UNAVAILABLE or
 * ERR_INTERNAL.
 */
int auth_webauthn_login(auth_t *a, struct json_t *body, const char *bind,
                        const auth_client_t *client, int64_t now, auth_pair_t *out,
                        char family[AUTH_WEBAUTHN_FAMILY_MAX + 1], enum auth_webauthn_result *res,
                        const char **why);

/* The user's passkeys as a JSON array of factor objects (newest first). 0 or ERR_*. */
int auth_webauthn_list(auth_t *a, int64_t user_id, buf_t *out);
/* Whether the user has at least one passkey. OUT: *has. 0 or ERR_UNAVAILABLE. */
int auth_webauthn_has(auth_t *a, int64_t user_id, bool *has);
/* Removes passkey id of user_id. Returns 0, ERR_NOT_FOUND (none of the user's), ERR_*. */
int auth_webauthn_delete(auth_t *a, int64_t user_id, int64_t id);

#endif

/*
 * db.h - the user and token-lifecycle store of jwtd: one interface, backend chosen by URL.
 *
 * This is the only database header other subsystems include. It speaks in domain terms
 * (users, sessions, refresh tokens, access-token revocations); no driver type crosses it,
 * and the only SQL that does is the statements of modules owning tables of their own (end
 * of this file). Backends: `sqlite:PATH` / `sqlite:///abs/path` (db_sqlite.c) and
 * `postgresql://user:pass@host:port/db` (db_pg.c, libpq; `postgres://` too).
 *
 * Every function is blocking: call it from the blocking pool (libuv threadpool), never from
 * an event loop. All functions return 0 or a negative ERR_* code (src/common/err.h) and
 * write results through out-parameters:
 *   ERR_NOT_FOUND     no such row (user, session, token)
 *   ERR_CONFLICT      a unique constraint (username, email, sid, jti) was violated
 *   ERR_INVALID       an argument is out of range (empty username, jti too long, bad role)
 *   ERR_UNAVAILABLE   the database cannot be reached or stayed locked past the busy timeout
 *   ERR_INTERNAL      anything else (details are logged, never returned)
 *
 * Time is Unix seconds (int64_t) passed in by the caller (`now`), so tests can pin it. A
 * nullable timestamp is 0 when NULL (last_login, used_at, revoked_at).
 *
 * Result structs are caller-provided storage filled by the call; those holding heap strings
 * are released with their `_dispose` (safe on a zeroed or already-disposed struct). Input
 * structs are borrowed for the duration of the call.
 *
 * DESIGN (threads): a db_t is a shared handle (configuration + a connection pool) and is
 * thread-safe. Each call checks a connection out of the pool, uses it on the calling thread
 * only, and checks it back in, so any number of pool threads may call concurrently; the
 * pool opens connections lazily up to max_connections and makes callers wait beyond that.
 * Each connection caches its prepared statements. Every multi-statement operation (rotation,
 * password change, logout-all, session creation) is ONE transaction inside one call; callers
 * never hold a transaction open across calls. Modules with tables of their own run their
 * statements the same way (see "statements of other modules" at the end). See
 * docs/internals.md "db".
 */
#ifndef JWTD_DB_H
#define JWTD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct db db_t;
/* The statements of one db_transact body (end of this file). */
typedef struct db_tx db_tx_t;

/* Longest jti / sid stored (jwtd issues 32 lowercase hex digits; longer ids are
   ERR_INVALID). */
#define DB_ID_MAX 64

/* ==== opening ============================================================================ */

enum db_role { DB_ROLE_USER = 0, DB_ROLE_INSTRUCTOR = 1, DB_ROLE_ADMIN = 2 };

/* SQLite's PRAGMA synchronous in WAL mode; PostgreSQL maps it to synchronous_commit. */
enum db_sync {
    DB_SYNC_DEFAULT = 0, /* NORMAL: survives a process crash, may lose the last commits on
                            power loss (no fsync per commit). */
    DB_SYNC_OFF = 1,     /* no fsync at all: tests and benchmarks only */
    DB_SYNC_NORMAL = 2,
    DB_SYNC_FULL = 3 /* fsync per commit: survives power loss, ~1 commit per disk flush */
};

typedef struct {
    uint32_t max_connections; /* pool size; 0 = 8 */
    uint32_t busy_timeout_ms; /* wait for a lock held by another process; 0 = 5000 */
    enum db_sync synchronous; /* overridden by a `?synchronous=off|normal|full` URL query */
    bool read_only;           /* inspect only (`jwtd check`): SQLite opens an existing file
                                 read-only and never creates it or its directory; PostgreSQL
                                 sessions are read-only transactions */
} db_options_t;

/*
 * Opens the database named by url ("sqlite:var/jwtd.db", "sqlite:///abs/path.db",
 * optionally followed by "?synchronous=normal&busy_timeout_ms=5000&pool=8"). The file is
 * created if missing (unless opts->read_only); the schema is NOT migrated (call
 * db_migrate). opts may be NULL for the defaults. On failure returns ERR_CONFIG (bad URL,
 * unsupported scheme) or ERR_UNAVAILABLE (cannot open / connect) and writes a one-line reason into
 * err (cap bytes; err may be NULL). OUT: *out, freed with db_close().
 */
int db_open(const char *url, const db_options_t *opts, db_t **out, char *err, size_t cap);
/*
 * Whether opening url would find an existing database rather than create one: for SQLite,
 * whether its file exists; a server database (PostgreSQL) is assumed to. A bad URL: false.
 */
bool db_exists(const char *url);
/*
 * The blocking pool's size that suits url's database on a machine of `cores` cores: cores
 * for SQLite (a call is CPU work on this machine), 4 per core for PostgreSQL, 8 to 32 (a
 * call mostly waits on a round trip or a commit's WAL flush, and concurrent commits share
 * the flush; measured in BENCH.md "pg"). Each thread holds one connection.
 */
uint32_t db_pool_threads_for(const char *url, uint32_t cores);
/* Closes every pooled connection and frees db. No call may be running. NULL is a no-op. */
void db_close(db_t *db);
/* Backend name: "sqlite" or "postgresql". */
const char *db_backend_name(const db_t *db);

/*
 * Applies the migrations the database lacks, each in its own transaction, in order; safe
 * to run on every start and concurrently from several processes. OUT: *applied (may be
 * NULL) = how many ran. Fails with ERR_CONFIG if the database is newer than this binary.
 */
int db_migrate(db_t *db, int *applied);
/* db_migrate, but stops at schema version `version` (tests of a migration over existing
   data start from the version before it). */
int db_migrate_to(db_t *db, int version, int *applied);
/* OUT: *version = highest applied migration (0 for an empty database). Writes nothing. */
int db_schema_version(db_t *db, int *version);
/* Highest migration this binary knows. */
int db_schema_latest(void);
/* A cheap round trip ("SELECT 1"), for /readyz. */
int db_ping(db_t *db);

/* ==== users =============================================================================== */

/* "user", "instructor", "admin". */
const char *db_role_name(enum db_role role);
/* Parses a role name (exact, lowercase). Returns 0 or ERR_INVALID. */
int db_role_parse(const char *name, size_t len, enum db_role *out);

/*
 * One row of `users`. As a result every string is heap-owned (never NULL; "" when empty)
 * and released by db_user_dispose(); as an input (db_user_create) strings are borrowed
 * and NULL means "".
 */
typedef struct db_user {
    int64_t id;
    char *username; /* unique, case-sensitive (Django's rule); 1..150 bytes */
    char *email;    /* unique when non-empty, compared case-insensitively (ASCII) */
    char *first_name;
    char *last_name;
    enum db_role role;
    bool premium;
    bool is_active;
    char *password_hash; /* PHC / Django-format string; "" = unusable password */
    int64_t created_at;
    int64_t last_login;    /* 0 = never */
    int64_t revoke_before; /* watermark: tokens with iat < this are revoked; 0 = none */
    int64_t updated_at;
} db_user_t;

/* Frees the strings of u (the password hash is wiped first) and zeroes it. */
void db_user_dispose(db_user_t *u);

/*
 * Inserts a user from u (id, created_at, updated_at, last_login and revoke_before are
 * ignored; created_at = updated_at = now). ERR_CONFLICT when the username or the email is
 * taken, ERR_INVALID for an empty or over-long username. OUT: *id (may be NULL).
 */
int db_user_create(db_t *db, const db_user_t *u, int64_t now, int64_t *id);
/* OUT: *u (dispose it). ERR_NOT_FOUND when absent. */
int db_user_find_by_id(db_t *db, int64_t id, db_user_t *u);
/* Exact, case-sensitive lookup. OUT: *u (dispose it). ERR_NOT_FOUND when absent. */
int db_user_find_by_username(db_t *db, const char *username, db_user_t *u);

typedef struct {
    db_user_t *items;
    size_t count;
} db_user_list_t;

/* Frees every user and the array. */
void db_user_list_dispose(db_user_list_t *list);
/*
 * Keyset pagination by id: up to limit (1..1000) users with id > after_id, ascending.
 * Start with after_id = 0 and pass the last id seen to get the next page. OUT: *list.
 */
int db_user_list(db_t *db, int64_t after_id, uint32_t limit, db_user_list_t *list);

/* A user as the administration API shows it: the row and whether its e-mail is verified. */
typedef struct {
    db_user_t user;
    bool email_verified;
} db_admin_user_t;

typedef struct {
    db_admin_user_t *items;
    size_t count;
} db_admin_user_list_t;

void db_admin_user_list_dispose(db_admin_user_list_t *list);
/*
 * Search for the administration API: up to limit (1..1000) users, skipping offset, ordered by
 * id, whose username or email contains q (ASCII case-insensitive; "" or NULL = every user;
 * '%', '_' and '\\' in q match themselves). OUT: *list, *total (may be NULL) = every match.
 */
int db_user_search(db_t *db, const char *q, uint64_t offset, uint32_t limit,
                   db_admin_user_list_t *list, int64_t *total);

/* What an administrator changes on a user (db_user_admin_update): the fields flagged set. */
typedef struct {
    bool set_email, set_role, set_active, set_email_verified;
    const char *email; /* "" clears it */
    enum db_role role;
    bool is_active;
    bool email_verified; /* with set_email_verified; a new address without it is unverified */
} db_user_change_t;

/*
 * Applies c to user id in one transaction and, when it deactivates the user or changes its
 * role, also raises revoke_before to now and revokes every open session (tokens carry the
 * role: the old ones must not outlive the change). OUT: *revoked (may be NULL) = whether it
 * did; *before (may be NULL; dispose it) = the user as it was. ERR_NOT_FOUND, ERR_CONFLICT
 * (email taken), ERR_INVALID (a bad role).
 */
int db_user_admin_update(db_t *db, int64_t id, const db_user_change_t *c, int64_t now,
                         bool *revoked, db_user_t *before);
/*
 * Deletes user id and, with it (foreign keys), its sessions, refresh tokens and posts, in one
 * transaction that also records a tombstone: revoke_before (pass now + 1, so that tokens
 * issued in this very second are covered) stays in db_watermark_list's answer until
 * db_flush_expired removes it, so the revocation index still refuses the deleted user's
 * access tokens after a restart. The id is never reused. ERR_NOT_FOUND.
 */
int db_user_delete(db_t *db, int64_t id, int64_t revoke_before);

/*
 * Updates email, first_name, last_name, role and premium of user id from u (other fields
 * ignored). ERR_NOT_FOUND, ERR_CONFLICT (email taken).
 */
int db_user_update_profile(db_t *db, int64_t id, const db_user_t *u, int64_t now);
/*
 * Stores a new password hash. With revoke_sessions (a password change, not a login-time
 * rehash) the same transaction also raises revoke_before to now and revokes every open
 * session of the user. ERR_NOT_FOUND.
 */
int db_user_set_password(db_t *db, int64_t id, const char *hash, bool revoke_sessions, int64_t now);
/*
 * Activates or deactivates a user. Deactivation also raises revoke_before to now and
 * revokes every open session, in the same transaction. ERR_NOT_FOUND.
 */
int db_user_set_active(db_t *db, int64_t id, bool is_active, int64_t now);
/* ERR_NOT_FOUND. */
int db_user_set_role(db_t *db, int64_t id, enum db_role role, int64_t now);
/* Records a successful login time. ERR_NOT_FOUND. */
int db_user_set_last_login(db_t *db, int64_t id, int64_t now);
/*
 * Logout-all: in one transaction raises revoke_before to max(revoke_before, now) and
 * revokes every open session of the user. OUT: *sessions_revoked (may be NULL).
 * ERR_NOT_FOUND.
 */
int db_user_revoke_all(db_t *db, int64_t id, int64_t now, uint32_t *sessions_revoked);

/* Looks a user up by e-mail address (ASCII case-insensitive, as the unique index compares;
   "" never matches). OUT: *u (dispose it), *email_verified (may be NULL). ERR_NOT_FOUND. */
int db_user_find_by_email(db_t *db, const char *email, db_user_t *u, bool *email_verified);
/* OUT: *verified, whether user id confirmed its e-mail address. ERR_NOT_FOUND. */
int db_user_email_verified(db_t *db, int64_t id, bool *verified);

/*
 * The same user writes inside a transaction of db_transact (the account lifecycle: a change
 * and the mail it causes commit together, src/auth/lifecycle.c). Same rules and results as
 * the functions above.
 *   db_tx_user_create: db_user_create, with email_verified as given.
 *   db_tx_user_set_password: a new hash; revoke = also the watermark and every session
 *     (db_user_set_password with revoke_sessions).
 *   db_tx_user_set_email: email (NULL = keep it) and email_verified; ERR_CONFLICT when the
 *     address belongs to another user.
 *   db_tx_session_revoke_others: every open session of the user but keep_sid (a password
 *     change keeps the session that made it). OUT: *count (may be NULL).
 */
int db_tx_user_create(db_tx_t *tx, const db_user_t *u, bool email_verified, int64_t now,
                      int64_t *id);
int db_tx_user_find_by_id(db_tx_t *tx, int64_t id, db_user_t *u);
int db_tx_user_set_password(db_tx_t *tx, int64_t id, const char *hash, bool revoke, int64_t now);
int db_tx_user_set_email(db_tx_t *tx, int64_t id, const char *email, bool verified, int64_t now);
int db_tx_session_revoke_others(db_tx_t *tx, int64_t user_id, const char *keep_sid, int64_t now,
                                uint32_t *count);

enum db_import_status {
    DB_IMPORT_CREATED = 0,  /* no user had this id: inserted with it */
    DB_IMPORT_UPDATED = 1,  /* the user with this id was brought up to date */
    DB_IMPORT_UNCHANGED = 2 /* the user with this id already matched */
};

/*
 * Import of a user from another system (`jwtd import-django`), keyed by u->id (>= 1), in
 * one transaction. Absent: inserted with that id, u's created_at (now when 0) and
 * last_login, and the password hash as given (Django formats are verified by
 * src/auth/password.c and rehashed at the first login). Present with the same username:
 * email, names, role, premium and is_active are set from u; the password hash is replaced
 * only while
 * the stored one is not jwtd's own argon2id (`$argon2...`): a user who already logged in
 * to jwtd (rehash) or changed the password here keeps it when the import runs again. A
 * deactivation also raises revoke_before to now and revokes every open session, as
 * db_user_set_active does. Later inserts never reuse an imported id. ERR_CONFLICT when
 * the id belongs to a user with another username (two people are never merged) or the
 * username or email belongs to another id; ERR_INVALID for a bad id/username/role.
 * OUT: *status (may be NULL).
 */
int db_user_import(db_t *db, const db_user_t *u, int64_t now, enum db_import_status *status);

typedef struct {
    int64_t user_id;
    int64_t revoke_before;
} db_watermark_t;

typedef struct {
    db_watermark_t *items;
    size_t count;
} db_watermark_list_t;

void db_watermark_list_dispose(db_watermark_list_t *list);
/*
 * Every user with revoke_before >= since (pass now - access lifetime - leeway: older
 * watermarks cannot reject a live access token), then every deleted user's tombstone
 * (db_user_delete) at or after since, for loading the revocation index.
 */
int db_watermark_list(db_t *db, int64_t since, db_watermark_list_t *list);

/* ==== sessions (one per login; id = the `sid` claim) ===================================== */

typedef struct {
    char sid[DB_ID_MAX + 1];
    int64_t user_id;
    int64_t created_at;
    int64_t last_used_at;
    int64_t revoked_at; /* 0 = active */
    char *client_ip;    /* heap-owned in results ("" when unknown); borrowed as input */
    char *user_agent;   /* idem, truncated to 512 bytes on insert */
    /* how the login authenticated (written on insert only): RFC 8176 values separated by
       spaces ("pwd otp mfa"), NULL/"" = unknown; auth_time 0 = unknown */
    const char *amr;
    int64_t auth_time;
} db_session_t;

void db_session_dispose(db_session_t *s);

/* One refresh token of a session's family. */
typedef struct {
    char jti[DB_ID_MAX + 1];
    char sid[DB_ID_MAX + 1];
    char parent_jti[DB_ID_MAX + 1]; /* "" for the first token of the session */
    int64_t issued_at;
    int64_t expires_at;
    int64_t used_at;                 /* 0 = not yet rotated */
    char replaced_by[DB_ID_MAX + 1]; /* successor jti, "" when unused */
} db_refresh_t;

/*
 * Login: in one transaction inserts session s (created_at = last_used_at = now, not
 * revoked), its first refresh token rt (may be NULL when refresh tokens are not stored;
 * rt->sid must equal s->sid, issued_at = now, parent/used fields ignored) and sets the
 * user's last_login to now. ERR_CONFLICT on a duplicate sid/jti, ERR_NOT_FOUND when the
 * user does not exist.
 */
int db_session_create(db_t *db, const db_session_t *s, const db_refresh_t *rt, int64_t now);
/* OUT: *s (dispose it). ERR_NOT_FOUND. */
int db_session_get(db_t *db, const char *sid, db_session_t *s);
/*
 * Sets last_used_at = now unless it was set less than min_interval_s ago (throttles
 * writes; a no-op is success). ERR_NOT_FOUND only if the session does not exist.
 */
int db_session_touch(db_t *db, const char *sid, int64_t now, int64_t min_interval_s);
/*
 * Revokes one session (revoked_at = now) unless already revoked. OUT: *was_active (may be
 * NULL): whether this call revoked it. ERR_NOT_FOUND.
 */
int db_session_revoke(db_t *db, const char *sid, int64_t now, bool *was_active);
/* Revokes every open session of the user (not the watermark). OUT: *count (may be NULL). */
int db_session_revoke_all_for_user(db_t *db, int64_t user_id, int64_t now, uint32_t *count);

typedef struct {
    db_session_t *items;
    size_t count;
} db_session_list_t;

void db_session_list_dispose(db_session_list_t *list);
/*
 * Sessions of a user that are not revoked and still hold an unexpired refresh token
 * (i.e. can still refresh), newest first, at most 1000.
 */
int db_session_list_active(db_t *db, int64_t user_id, int64_t now, db_session_list_t *list);
/*
 * Sessions revoked at or after `since` (pass now - access lifetime - leeway: an access
 * token of a session revoked earlier has expired), for loading the revocation index at
 * start. An entry can leave the index at max(revoked_at, last_used_at) + access lifetime.
 */
int db_session_list_revoked(db_t *db, int64_t since, db_session_list_t *list);

/* ==== refresh tokens ====================================================================== */

/* Inserts rt as given (used_at / replaced_by honoured). ERR_CONFLICT (sid, jti taken),
   ERR_NOT_FOUND (sid). */
int db_refresh_insert(db_t *db, const db_refresh_t *rt);
/* The token jti of session sid (the table's key is (sid, jti): a refresh token's claims carry
   both, and a jti is only looked up within its session). OUT: *rt. ERR_NOT_FOUND. */
int db_refresh_get(db_t *db, const char *sid, const char *jti, db_refresh_t *rt);
/*
 * The token jti of session sid with its session's revoked_at and the session's user, in one
 * statement (one round trip on PostgreSQL instead of three lookups), without locking: what
 * a logout checks before it revokes. OUT: *rt (parent_jti left ""), *session_revoked_at
 * (0 = open), *user (dispose it). ERR_NOT_FOUND (no such token, or its session is gone).
 */
int db_refresh_load(db_t *db, const char *sid, const char *jti, db_refresh_t *rt,
                    int64_t *session_revoked_at, db_user_t *user);

enum db_rotate_status {
    DB_ROTATE_ROTATED = 0,             /* old marked used, successor new_jti inserted */
    DB_ROTATE_REUSED_WITHIN_GRACE = 1, /* already rotated within grace: same successor */
    DB_ROTATE_REUSE_DETECTED = 2,      /* used after the grace: session revoked (in the txn) */
    DB_ROTATE_NOT_VALID = 3            /* unknown, expired, session revoked, user inactive or
                                          token older than the user's watermark */
};

typedef struct {
    enum db_rotate_status status;
    const char *reason; /* static text for logs: "rotated", "grace", "reuse", "unknown",
                           "expired", "session_revoked", "user_inactive", "watermark" */
    int64_t user_id;    /* set unless "unknown" */
    char sid[DB_ID_MAX + 1];
    /* ROTATED: new_jti; REUSED_WITHIN_GRACE: the existing successor (re-issue it) */
    char successor_jti[DB_ID_MAX + 1];
    int64_t successor_issued_at;
    int64_t successor_expires_at;
    /* ROTATED and REUSED_WITHIN_GRACE: the user row (for the new access token's claims),
       read in the same transaction. Otherwise zeroed. Dispose with db_rotate_result_dispose. */
    db_user_t user;
} db_rotate_result_t;

void db_rotate_result_dispose(db_rotate_result_t *r);

/*
 * Atomic refresh rotation, ONE transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: row
 * lock): loads old_jti of session sid (both from the token's claims) with its session and
 * user, then
 *   - not valid (see DB_ROTATE_NOT_VALID)           -> NOT_VALID, nothing written;
 *   - unused  -> used_at = now, replaced_by = new_jti, successor inserted (parent old_jti,
 *     issued_at now, expires_at new_exp), session last_used_at = now    -> ROTATED;
 *   - used and now - used_at <= grace_s             -> REUSED_WITHIN_GRACE + successor;
 *   - used and now - used_at >  grace_s             -> session revoked_at = now,
 *                                                      REUSE_DETECTED.
 * N threads rotating the same jti concurrently produce exactly one successor; the others
 * get REUSED_WITHIN_GRACE with it. The status is in out->status; the return value is 0
 * for every status and an ERR_* only for a database failure. OUT: *out (dispose it).
 */
int db_refresh_rotate(db_t *db, const char *sid, const char *old_jti, const char *new_jti,
                      int64_t new_exp, int64_t now, int64_t grace_s, db_rotate_result_t *out);

/* ==== access-token revocations ============================================================ */

typedef struct {
    char jti[DB_ID_MAX + 1];
    int64_t expires_at;
} db_revoked_t;

typedef struct {
    db_revoked_t *items;
    size_t count;
} db_revoked_list_t;

void db_revoked_list_dispose(db_revoked_list_t *list);
/*
 * Records that access token jti (expiring at expires_at) is revoked; reason is a short
 * static word for audits ("logout", "admin"). Revoking twice is success (no-op).
 */
int db_revoked_insert(db_t *db, const char *jti, int64_t expires_at, int64_t now,
                      const char *reason);
/* Every revocation with expires_at > now, for loading the revocation index at start. */
int db_revoked_list(db_t *db, int64_t now, db_revoked_list_t *list);

/* ==== housekeeping ======================================================================== */

typedef struct {
    uint32_t refresh_tokens; /* rows deleted per table */
    uint32_t revoked_tokens;
    uint32_t sessions;
    uint32_t tombstones; /* deleted users' watermarks (db_user_delete) */
    uint32_t revocation_events;
} db_flush_stats_t;

/*
 * Deletes what can no longer matter, in one transaction: refresh tokens with
 * expires_at <= now; access-token revocations with expires_at <= now; sessions that have
 * no refresh token left and were last used / revoked before now - retain_s (pass the
 * access-token lifetime + leeway, so a revoked session's row outlives every access token
 * it issued and the revocation index still finds it after a restart); deleted users'
 * tombstones whose watermark is older than now - retain_s; revocation events made before
 * now - retain_s. OUT: *stats (may be NULL).
 */
int db_flush_expired(db_t *db, int64_t now, int64_t retain_s, db_flush_stats_t *stats);

/* ==== copying a SQLite database into PostgreSQL (copy.c, `jwtd db copy`) ================== */

/* One table of a copy: rows and checksum on each side (hex SHA-256 sums, see copy.c). */
typedef struct {
    char table[64];
    int64_t source_rows, target_rows;
    char source_checksum[65], target_checksum[65];
    bool match;
} db_copy_table_t;

typedef struct {
    int schema_version;
    db_copy_table_t *tables; /* in the order they were filled */
    size_t count;
} db_copy_report_t;

void db_copy_report_dispose(db_copy_report_t *r);
/*
 * Copies every row of every table (but schema_version) of the SQLite database from_url into
 * the PostgreSQL database to_url, migrated first to the same schema version (the source
 * must be at this binary's latest), in ONE transaction on the target: refused with
 * ERR_CONFLICT when a table of the target has rows, unless force (then every row of the
 * target is replaced); identity sequences moved past the copied ids; then, before the
 * commit, the row count and checksum of each table compared on both sides (any difference
 * rolls back). Opens and closes both databases itself. OUT: *report (dispose it; filled as
 * far as the verification got), a one-line reason in err (cap bytes) on failure. Returns 0,
 * ERR_CONFIG (URLs, schema versions), ERR_INVALID (schemas differ), ERR_CONFLICT,
 * ERR_UNAVAILABLE, ERR_INTERNAL (the copy differs).
 */
int db_copy(const char *from_url, const char *to_url, bool force, db_copy_report_t *report,
            char *err, size_t cap);

/* ==== statements of other modules ======================================================== */

/*
 * A module outside src/db/ that owns tables of its own (src/resource/post_store.c: posts)
 * runs its statements through db's statement runner: the same pool, the same per-connection
 * cache of prepared statements, the same error mapping (the ERR_* list at the top of this
 * file) and, on PostgreSQL, the same idle-connection check and reconnect. It never sees a
 * driver type or a connection. Its tables are created by db's migrations (db_migrate), the
 * one ordered history of the schema.
 *
 * A statement is a db_stmt_def_t with static storage duration: its address keys each
 * connection's cache, so it is prepared once per connection on its first run. The text is
 * written once in `sql` where SQLite and PostgreSQL agree; `sqlite` / `pg` replace it on that
 * backend where the dialects differ (`FOR UPDATE`, sequences, advisory locks). Every text
 * spells its placeholders ?1..?n (a number may repeat); db rewrites them to PostgreSQL's $n
 * when it prepares the statement. A statement without text for the open backend fails with
 * ERR_INTERNAL (logged). Nothing is ever built from input: values go in as parameters.
 *
 * Rows are read by a callback (db_row_cb) through the db_row_* accessors; a row and its text
 * are valid only during the callback. Everything here blocks, like the rest of db.h.
 */
typedef struct {
    const char *name;   /* for log lines ("post_get") */
    const char *sql;    /* the text on every backend, or NULL when each has its own */
    const char *sqlite; /* SQLite's own text where the dialects differ, else NULL */
    const char *pg;     /* PostgreSQL's own text where the dialects differ, else NULL */
} db_stmt_def_t;

enum db_param_type { DB_PARAM_NULL = 0, DB_PARAM_INT, DB_PARAM_BOOL, DB_PARAM_TEXT };

/* One statement parameter, built with db_int() and friends. Text is borrowed until the
   statement has run and need not be NUL-terminated. */
typedef struct {
    enum db_param_type type;
    int64_t i;     /* INT; BOOL as 0 or 1 */
    const char *s; /* TEXT */
    size_t len;    /* TEXT: bytes */
} db_param_t;

#define DB_NPARAMS(a) (sizeof(a) / sizeof((a)[0]))

static inline db_param_t db_null(void)
{
    return (db_param_t){DB_PARAM_NULL, 0, NULL, 0};
}

static inline db_param_t db_int(int64_t v)
{
    return (db_param_t){DB_PARAM_INT, v, NULL, 0};
}

static inline db_param_t db_bool(bool v)
{
    return (db_param_t){DB_PARAM_BOOL, v ? 1 : 0, NULL, 0};
}

/* NULL binds "" (text columns are NOT NULL DEFAULT ''). */
static inline db_param_t db_text(const char *s)
{
    return (db_param_t){DB_PARAM_TEXT, 0, s ? s : "", s ? strlen(s) : 0};
}

/* NULL or "" binds SQL NULL (nullable id columns). */
static inline db_param_t db_text_or_null(const char *s)
{
    return s && *s ? db_text(s) : db_null();
}

/* 0 binds SQL NULL (nullable timestamps). */
static inline db_param_t db_int_or_null(int64_t v)
{
    return v != 0 ? db_int(v) : db_null();
}

/* The current row of a statement, valid during a db_row_cb call only. */
typedef struct db_row db_row_t;

/*
 * Called for a row; returns 0 to go on, or an ERR_* code that stops the statement and
 * becomes the result of the call that ran it.
 */
typedef int (*db_row_cb)(void *arg, const db_row_t *row);

/* Integer (or boolean 0/1) value of column col (0-based); 0 for SQL NULL. */
int64_t db_row_int(const db_row_t *row, int col);
bool db_row_is_null(const db_row_t *row, int col);
/* Text of column col, NULL for SQL NULL; valid during the callback. OUT: *len. */
const char *db_row_text(const db_row_t *row, int col, size_t *len);
/* A heap copy of column col's text ("" for SQL NULL); the caller frees it. */
char *db_row_strdup(const db_row_t *row, int col);
/* A ready-made db_row_cb: stores column 0 of the row into *(int64_t *)arg. */
int db_row_read_int(void *arg, const db_row_t *row);

/*
 * Runs one statement on a connection of the pool (autocommit) and returns its result.
 * OUT: *changes (may be NULL) = rows inserted, updated or deleted.
 */
int db_exec(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
            int64_t *changes);
/* Runs one statement and hands every row to on_row(arg, row) (on_row may be NULL). */
int db_query(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
             db_row_cb on_row, void *arg);
/* Runs one statement and hands its first row to on_row; ERR_NOT_FOUND when it has none. */
int db_query_one(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                 db_row_cb on_row, void *arg);

/*
 * A list of rows read into an array of items: elem bytes each, zeroed, then filled by
 * read(item, row) (a db_row_cb whose arg is the item); at most limit items (0: no limit).
 * dispose(item) (may be NULL) releases what read allocated.
 */
typedef struct {
    size_t elem;
    size_t limit;
    db_row_cb read;
    void (*dispose)(void *item);
} db_list_def_t;
/* Runs one statement and returns its rows as a new array: OUT the caller's item pointer
   (items is its address, a T **; free with db_list_free), *count. On failure nothing is
   returned (NULL, 0). */
int db_query_list(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                  const db_list_def_t *list, void *items, size_t *count);
/* Disposes count items of a db_query_list array and frees it. NULL is a no-op. */
void db_list_free(const db_list_def_t *list, void *items, size_t count);
/* Runs a list query into l, a struct with `items` and `count` (the list types of this
   header and of other modules). Evaluates to db_query_list's result. */
#define DB_QUERY_LIST(db, def, params, n, list_def, l)                                             \
    db_query_list((db), (def), (params), (n), (list_def), &(l)->items, &(l)->count)
/* Frees such a struct's items and empties it; NULL is a no-op. */
#define DB_LIST_RELEASE(list_def, l)                                                               \
    do {                                                                                           \
        if (l) {                                                                                   \
            db_list_free((list_def), (l)->items, (l)->count);                                      \
            (l)->items = NULL;                                                                     \
            (l)->count = 0;                                                                        \
        }                                                                                          \
    } while (0)

/* A transaction's body: 0 commits, an ERR_* code rolls back and is returned. */
typedef int (*db_tx_cb)(db_tx_t *tx, void *arg);

/*
 * Runs body(tx, arg) as ONE write transaction on one connection: begin, the body's
 * statements, commit when it returns 0 (a failed commit is returned), rollback otherwise.
 * A statement failing inside the body returns its ERR_* to the body, which normally
 * returns it. tx is valid only during the body.
 */
int db_transact(db_t *db, db_tx_cb body, void *arg);
/* db_exec, db_query and db_query_one inside a transaction's body. */
int db_tx_exec(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n,
               int64_t *changes);
int db_tx_query(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                db_row_cb on_row, void *arg);
int db_tx_query_one(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                    db_row_cb on_row, void *arg);

#endif

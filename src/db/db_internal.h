/*
 * db_internal.h - what the files of src/db/ share and nothing outside includes: the
 * statement table of db's own statements (sql.c), the statement helpers (stmt.c), the
 * driver interface a backend implements (db_sqlite.c, db_pg.c), struct db with its pool
 * and the runner's internal entry points (run.c), and the migration check (migrate.c).
 *
 * The layering: the domain files (users.c, sessions.c, refresh.c, revoked.c, flush.c,
 * migrate.c) say which statements run, with which parameters, in which transaction, and
 * read rows through callbacks; the runner (run.c) checks a connection out, drives the
 * driver and releases the connection; a driver only speaks to its database library.
 *
 * Rules a driver keeps:
 *   - one statement is active per connection at a time: query() resets any previous one;
 *   - query() + next() report ERR_CONFLICT for a unique/primary-key violation,
 *     ERR_NOT_FOUND for a foreign-key violation, ERR_INVALID for a CHECK/NOT NULL one,
 *     ERR_UNAVAILABLE for lock timeouts and lost connections, ERR_INTERNAL otherwise
 *     (logging the backend's message);
 *   - query() prepares a statement once per connection and caches it by its definition
 *     (db_stmt_cache_t), with the text db__stmt_text() picks for the backend;
 *   - begin(write = true) takes whatever lock makes the transaction serialisable against
 *     other writers of the same rows (SQLite: BEGIN IMMEDIATE; PostgreSQL: the statements
 *     that need it lock rows, ROTATE_LOAD with SELECT ... FOR UPDATE);
 *   - conn_is_broken() tells the pool to discard a connection instead of reusing it.
 */
#ifndef JWTD_DB_INTERNAL_H
#define JWTD_DB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* ==== backends ============================================================================ */

enum db_backend { DB_BACKEND_SQLITE = 0, DB_BACKEND_PG = 1 };

/* Key of PostgreSQL's advisory lock that serialises migrators (any constant unique to jwtd). */
#define DB_MIGRATE_LOCK "7305079216"

/* ==== db's own statements (sql.c) ========================================================= */

/*
 * Every statement of the token core, as parameters -> result columns. The parameter order
 * and the column order are the contract between sql.c's text and the domain file that
 * runs it. The user columns are read by users.c (db__read_user_at).
 */
enum db_stmt {
    DB_STMT_PING,                  /* -> 1 */
    DB_STMT_SCHEMA_LOCK,           /* serialise migrators (no-op where begin(write) suffices) */
    DB_STMT_SCHEMA_EXISTS,         /* -> 1 when the schema_version table exists, else 0 */
    DB_STMT_SCHEMA_VERSION,        /* -> max(version) or 0 */
    DB_STMT_SCHEMA_INSERT,         /* version, now */
    DB_STMT_USER_INSERT,           /* username, email, first, last, role, premium, active,
                                      password, now -> id */
    DB_STMT_USER_BY_ID,            /* id -> user columns */
    DB_STMT_USER_BY_USERNAME,      /* username -> user columns */
    DB_STMT_USER_LIST,             /* after_id, limit -> user columns */
    DB_STMT_USER_UPDATE_PROFILE,   /* email, first, last, role, premium, now, id */
    DB_STMT_USER_SET_PASSWORD,     /* password, now, id */
    DB_STMT_USER_SET_ACTIVE,       /* active, now, id */
    DB_STMT_USER_SET_ROLE,         /* role, now, id */
    DB_STMT_USER_SET_LAST_LOGIN,   /* now, id */
    DB_STMT_USER_IMPORT_INSERT,    /* id, username, email, first, last, role, premium, active,
                                      password, created_at, last_login, now */
    DB_STMT_USER_IMPORT_UPDATE,    /* username, email, first, last, role, premium, active,
                                      password, now, id */
    DB_STMT_USER_ID_SYNC,          /* after explicit ids: later inserts get a higher id (no-op
                                      where the backend tracks it) */
    DB_STMT_USER_BUMP_WATERMARK,   /* now, id: revoke_before = max(revoke_before, now) */
    DB_STMT_WATERMARK_LIST,        /* since -> id, revoke_before (users, then tombstones) */
    DB_STMT_USER_BY_EMAIL,         /* email -> user columns (case-insensitive, ASCII) */
    DB_STMT_USER_EMAIL_VERIFIED,   /* id -> email_verified */
    DB_STMT_USER_SET_EMAIL,        /* email, verified, now, id */
    DB_STMT_USER_INSERT_VERIFIED,  /* USER_INSERT's parameters, then email_verified -> id */
    DB_STMT_SESSION_REVOKE_OTHERS, /* now, user_id, keep_sid: every other open session */
    DB_STMT_SESSION_INSERT,        /* sid, user_id, now, client_ip, user_agent */
    DB_STMT_SESSION_GET,           /* sid -> session columns */
    DB_STMT_SESSION_TOUCH,         /* now, sid, threshold: only if last_used_at < threshold */
    DB_STMT_SESSION_REVOKE,        /* now, sid: only if not revoked */
    DB_STMT_SESSION_REVOKE_USER,   /* now, user_id: every open session */
    DB_STMT_SESSION_LIST_ACTIVE,   /* user_id, now -> session columns */
    DB_STMT_SESSION_LIST_REVOKED,  /* since -> session columns */
    DB_STMT_SESSION_SET_USED,      /* now, sid */
    DB_STMT_REFRESH_INSERT,        /* jti, sid, parent, issued, expires, used_at, replaced_by */
    DB_STMT_REFRESH_GET,           /* sid, jti -> jti, sid, parent, issued, expires, used_at,
                                      replaced_by */
    DB_STMT_ROTATE_LOAD,           /* sid, jti -> sid, issued, expires, used_at, replaced_by,
                                      session revoked_at, then the user columns (locks the row) */
    DB_STMT_ROTATE_MARK,           /* now, new_jti, sid, old_jti: only if unused */
    DB_STMT_REFRESH_LOAD,          /* ROTATE_LOAD without the lock (db_refresh_load) */
    DB_STMT_REVOKED_INSERT,        /* jti, expires_at, now, reason: no-op if present */
    DB_STMT_REVOKED_LIST,          /* now -> jti, expires_at */
    DB_STMT_FLUSH_REFRESH,         /* now */
    DB_STMT_FLUSH_REVOKED,         /* now */
    DB_STMT_FLUSH_EVENTS,          /* threshold: revocation events made at or before it */
    DB_STMT_FLUSH_SESSIONS,        /* threshold: no refresh token left, last activity <= it */
    DB_STMT_USER_ADMIN_UPDATE,     /* email, role, active, email_verified, now, id */
    DB_STMT_USER_SEARCH,           /* pattern ("" = all), limit, offset -> user columns,
                                      email_verified */
    DB_STMT_USER_SEARCH_COUNT,     /* pattern ("" = all) -> count */
    DB_STMT_USER_DELETE,           /* id */
    DB_STMT_TOMBSTONE_INSERT,      /* id, revoke_before */
    DB_STMT_FLUSH_TOMBSTONES,      /* threshold: revoke_before <= it */
    DB_STMT__COUNT
};

extern const db_stmt_def_t db__sql[DB_STMT__COUNT];

/* The definition of statement DB_STMT_<name>. */
#define DB_SQL(name) (&db__sql[DB_STMT_##name])

/*
 * PostgreSQL's whole rotation as one statement (no SQLite text: SQLite rotates through
 * ROTATE_LOAD and the runner): calls migration 5's jwtd_refresh_rotate. sid, jti, new_jti,
 * new_exp, now, grace_s -> no row (unknown token) or action (0 rotated, 1 grace, 2 reuse,
 * 3 not valid), successor jti, issued, expires, then ROTATE_LOAD's columns (sid, issued,
 * expires, used_at, replaced_by, session revoked_at, the user columns).
 */
extern const db_stmt_def_t db__pg_rotate;
/*
 * PostgreSQL's login write as one statement (data-modifying CTEs; SQLite runs create_body's
 * transaction): sid, user_id, now, client_ip, user_agent, first jti (NULL: no refresh
 * token), its expires_at -> the number of users whose last_login was set (1).
 */
extern const db_stmt_def_t db__pg_session_create;
/*
 * PostgreSQL's revocation of every session of a user as one statement (data-modifying
 * CTEs; SQLite runs db__revoke_user_in_tx's transaction): now, user_id, new password hash
 * (NULL: unchanged), is_active (NULL: unchanged) -> the number of users updated (0 or 1),
 * the number of sessions revoked. Raises the watermark to now as USER_BUMP_WATERMARK does.
 */
extern const db_stmt_def_t db__pg_revoke_user;

/* ==== statement helpers (stmt.c) ========================================================== */

/* The text of def on backend b (its override, else the shared text); NULL when it has none. */
const char *db__stmt_text(const db_stmt_def_t *def, enum db_backend b);
/*
 * Checks that each of the n definitions has text for backend b. Returns 0, or ERR_INTERNAL
 * with a one-line reason naming the first one that lacks it in err (cap bytes).
 */
int db__stmt_check(const db_stmt_def_t *defs, size_t n, enum db_backend b, char *err, size_t cap);
/*
 * SQL text with ?1..?n placeholders rewritten to PostgreSQL's $1..$n (quoted literals and
 * identifiers are copied as they are). Returns a heap string (free it), or NULL when the
 * text has a placeholder without a number.
 */
char *db__sql_to_dollar(const char *sql);

/*
 * A connection's prepared statements, keyed by the address of their definition (open
 * addressing; a handful of lookups per call). The value is the driver's: a sqlite3_stmt,
 * or the number of a PostgreSQL prepared statement. Owned by one connection, so by one
 * thread at a time.
 */
typedef struct {
    const db_stmt_def_t **keys; /* cap slots, NULL = free */
    void **vals;
    uint32_t cap; /* a power of two, 0 before the first put */
    uint32_t count;
} db_stmt_cache_t;

/* The value cached for def, NULL when def was not prepared on this connection yet. */
void *db__stmt_cache_get(const db_stmt_cache_t *cache, const db_stmt_def_t *def);
/* Caches val (not NULL) for def, which is not cached yet. */
void db__stmt_cache_put(db_stmt_cache_t *cache, const db_stmt_def_t *def, void *val);
/* Hands every cached value to release (may be NULL) and empties the cache. */
void db__stmt_cache_clear(db_stmt_cache_t *cache, void (*release)(void *val));

/* ==== the driver interface ================================================================ */

typedef struct db_conn db_conn_t; /* defined by each backend */

struct db_driver {
    const char *name;
    enum db_backend backend;
    /* Rotations run one at a time on one dedicated connection (SQLite, see run.c). */
    bool dedicated_rotation_conn;
    /* Parses the part of the URL after the scheme, checks it can open, and creates the
       backend-wide state (shared by all connections). */
    int (*open)(const char *target, const db_options_t *opts, void **state, char *err, size_t cap);
    void (*close)(void *state);
    int (*conn_open)(void *state, db_conn_t **out);
    void (*conn_close)(db_conn_t *c);
    bool (*conn_is_broken)(db_conn_t *c);
    int (*begin)(db_conn_t *c, bool write);
    int (*commit)(db_conn_t *c);
    void (*rollback)(db_conn_t *c);
    /* Runs a multi-statement SQL text (migrations only; no parameters). */
    int (*exec_script)(db_conn_t *c, const char *sql);
    /* Prepares (cached) statement def and binds params; rows come from next(). */
    int (*query)(db_conn_t *c, const db_stmt_def_t *def, const db_param_t *params, size_t n);
    /* 1 = a row is available, 0 = done (the statement is finished), < 0 = ERR_*. */
    int (*next)(db_conn_t *c);
    int64_t (*col_int)(db_conn_t *c, int col);
    bool (*col_is_null)(db_conn_t *c, int col);
    /* Text of a column of the current row, NULL for SQL NULL; valid until next()/reset(). */
    const char *(*col_text)(db_conn_t *c, int col, size_t *len);
    /* Ends the active statement (releases read locks). */
    void (*reset)(db_conn_t *c);
    /* Rows changed by the last finished INSERT/UPDATE/DELETE. */
    int64_t (*changes)(db_conn_t *c);
    /* Round trips to the server so far, all connections (NULL: an in-process backend). */
    uint64_t (*round_trips)(void *state);
};

extern const struct db_driver db__sqlite_driver;
extern const struct db_driver db__pg_driver;

/* ==== URLs (db.c) ======================================================================== */

/* A URL option that is not jwtd's own: 0, or ERR_CONFIG with a reason in err. */
typedef int (*db_url_item_cb)(void *arg, const char *item, size_t n, char *err, size_t cap);
/*
 * Walks the query string of a database URL ("k=v&k=v", after the '?'). jwtd's own options
 * are applied here: synchronous (off|normal|full) to *sync, busy_timeout_ms (0..600000) to
 * *busy_timeout_ms, pool (db_open reads it). Every other item (n bytes, not NUL-terminated)
 * goes to other(arg, ...). Returns 0, or ERR_CONFIG with a reason in err.
 */
int db__url_query(const char *q, enum db_sync *sync, uint32_t *busy_timeout_ms,
                  db_url_item_cb other, void *arg, char *err, size_t cap);

/* ==== the handle, the pool and the runner (run.c) ========================================= */

/*
 * DESIGN (pool): mu guards the idle stack and the counts. A connection is used by one
 * thread between checkout and release and never holds a transaction across calls.
 */
struct db {
    const struct db_driver *drv;
    void *state;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    db_conn_t **idle; /* stack of idle connections, capacity max */
    uint32_t n_idle;
    uint32_t n_open; /* idle + checked out (+ being opened) */
    uint32_t max;
    /* drv->dedicated_rotation_conn: the connection every rotation uses, one at a time
       (rot_mu); opened on first use, outside max. See run.c. */
    pthread_mutex_t rot_mu;
    db_conn_t *rot_conn;
};

/* Sets up the pool of db (drv and state already set) for at most max connections. */
void db__pool_init(db_t *db, uint32_t max);
/* Closes every idle connection and the rotation connection; frees the pool. */
void db__pool_dispose(db_t *db);

/* Round trips db's backend has made to its server so far (0 for SQLite): tests count
   them around one call. */
uint64_t db__round_trips(const db_t *db);
/* Runs body(tx, arg) on one connection of the pool without a transaction: each statement
   commits by itself. Returns what body returns (or the checkout's error). */
int db__run(db_t *db, db_tx_cb body, void *arg);
/* db_transact on the connection rotations use (see run.c), for db_refresh_rotate. */
int db__transact_rotation(db_t *db, db_tx_cb body, void *arg);
/* Runs a parameterless multi-statement script (a migration) on tx's connection. */
int db__tx_script(db_tx_t *tx, const char *sql);
/* db_exec / db_tx_exec for an UPDATE or DELETE by key: ERR_NOT_FOUND when no row changed. */
int db__exec_one(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n);
int db__tx_exec_one(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n);

/* ==== helpers of the domain files (run.c) ================================================= */

/* Copies an id column (jti, sid) into out, truncated to DB_ID_MAX; "" for SQL NULL. */
void db__row_id(const db_row_t *row, int col, char out[DB_ID_MAX + 1]);
/* Whether id is a storable jti / sid: 1..DB_ID_MAX bytes. */
bool db__valid_id(const char *id);

/* ==== users (users.c) ===================================================================== */

/* Number of user columns a statement returns ("id, username, ..., updated_at"). */
#define DB_USER_NCOLS 13
/* Reads the user columns of row, starting at column base, into u (dispose it). */
void db__read_user_at(const db_row_t *row, int base, db_user_t *u);
/* Raises the watermark of user id to now and revokes every open session, inside a
   transaction. OUT: *count (may be NULL) = sessions revoked. ERR_NOT_FOUND. */
int db__revoke_user_in_tx(db_tx_t *tx, int64_t id, int64_t now, uint32_t *count);

/* ==== refresh tokens (refresh.c) ========================================================== */

/* Inserts rt as given, on tx's connection. */
int db__refresh_insert_in_tx(db_tx_t *tx, const db_refresh_t *rt);

/* ==== migrations (migrate.c) ============================================================== */

/* Checks that every migration has text for backend b (as db__stmt_check). */
int db__migrations_check(enum db_backend b, char *err, size_t cap);

#endif

/*
 * db_internal.h - the driver interface between db.c (domain logic, pool, migrations) and
 * one backend file (db_sqlite.c, later db_pg.c). Only src/db/ includes this header.
 *
 * A driver is a small table of functions over a connection: begin/commit/rollback, run a
 * prepared statement chosen by id with typed parameters, step through its rows, read
 * columns. The domain logic (what to read, in which transaction, the rotation algorithm)
 * is written once in db.c against this table; a backend supplies only connection handling,
 * error mapping, its SQL text for every statement id (same parameters, same result
 * columns, its own dialect and placeholders) and its migrations.
 *
 * Rules a driver keeps:
 *   - one statement is active per connection at a time: query() resets any previous one;
 *   - query() + next() report ERR_CONFLICT for a unique/primary-key violation,
 *     ERR_NOT_FOUND for a foreign-key violation, ERR_INVALID for a CHECK/NOT NULL one,
 *     ERR_UNAVAILABLE for lock timeouts and lost connections, ERR_INTERNAL otherwise
 *     (logging the backend's message);
 *   - begin(write = true) takes whatever lock makes the transaction serialisable against
 *     other writers of the same rows (SQLite: BEGIN IMMEDIATE; PostgreSQL: the statements
 *     marked "locks" below use SELECT ... FOR UPDATE);
 *   - conn_is_broken() tells the pool to discard a connection instead of reusing it.
 */
#ifndef JWTD_DB_INTERNAL_H
#define JWTD_DB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/*
 * Every statement jwtd runs: X(NAME, parameters -> result columns). The parameter order
 * and the column order are the contract each backend's SQL text follows.
 */
#define DB_USER_COLS                                                                               \
    "id, username, email, first_name, last_name, role, premium, is_active, password, "             \
    "created_at, last_login, revoke_before, updated_at"
#define DB_USER_NCOLS 13
/* the same columns of "users u" in a join */
#define DB_USER_COLS_U                                                                             \
    "u.id, u.username, u.email, u.first_name, u.last_name, u.role, u.premium, u.is_active, "       \
    "u.password, u.created_at, u.last_login, u.revoke_before, u.updated_at"
/* posts joined with their author's username (issue 8) */
#define DB_POST_COLS "p.id, p.author_id, u.username, p.title, p.body, p.created_at, p.updated_at"

#define DB_STMT_MAP(X)                                                                             \
    X(PING)                 /* -> 1 */                                                             \
    X(SCHEMA_LOCK)          /* serialise migrators (no-op where begin(write) suffices) */          \
    X(SCHEMA_VERSION)       /* -> max(version) or 0 */                                             \
    X(SCHEMA_INSERT)        /* version, now */                                                     \
    X(USER_INSERT)          /* username,email,first,last,role,premium,active,password,now -> id */ \
    X(USER_BY_ID)           /* id -> DB_USER_COLS */                                               \
    X(USER_BY_USERNAME)     /* username -> DB_USER_COLS */                                         \
    X(USER_LIST)            /* after_id, limit -> DB_USER_COLS */                                  \
    X(USER_UPDATE_PROFILE)  /* email, first, last, role, premium, now, id */                       \
    X(USER_SET_PASSWORD)    /* password, now, id */                                                \
    X(USER_SET_ACTIVE)      /* active, now, id */                                                  \
    X(USER_SET_ROLE)        /* role, now, id */                                                    \
    X(USER_SET_LAST_LOGIN)  /* now, id */                                                          \
    X(USER_IMPORT_INSERT)   /* id, username, email, first, last, role, premium, active, password,  \
                               created_at, last_login, now */                                      \
    X(USER_IMPORT_UPDATE)   /* username, email, first, last, role, premium, active, password,      \
                               now, id */                                                          \
    X(USER_ID_SYNC)         /* after explicit ids: later inserts get a higher id (no-op where the  \
                               backend tracks it) */                                               \
    X(USER_BUMP_WATERMARK)  /* now, id: revoke_before = max(revoke_before, now) */                 \
    X(WATERMARK_LIST)       /* since -> id, revoke_before */                                       \
    X(SESSION_INSERT)       /* sid, user_id, now, client_ip, user_agent */                         \
    X(SESSION_GET)          /* sid -> sid, user_id, created, last_used, revoked, ip, ua */         \
    X(SESSION_TOUCH)        /* now, sid, threshold: only if last_used_at < threshold */            \
    X(SESSION_REVOKE)       /* now, sid: only if not revoked */                                    \
    X(SESSION_REVOKE_USER)  /* now, user_id: every open session */                                 \
    X(SESSION_LIST_ACTIVE)  /* user_id, now -> session columns */                                  \
    X(SESSION_LIST_REVOKED) /* since -> session columns */                                         \
    X(REFRESH_INSERT)       /* jti, sid, parent, issued, expires, used_at, replaced_by */          \
    X(REFRESH_GET)          /* jti -> jti, sid, parent, issued, expires, used_at, replaced_by */   \
    X(ROTATE_LOAD)          /* jti -> sid, issued, expires, used_at, replaced_by, session          \
                               revoked_at, then the user's DB_USER_COLS_U (locks the row) */       \
    X(ROTATE_MARK)          /* now, new_jti, old_jti: only if unused */                            \
    X(SESSION_SET_USED)     /* now, sid */                                                         \
    X(REVOKED_INSERT)       /* jti, expires_at, now, reason: no-op if present */                   \
    X(REVOKED_LIST)         /* now -> jti, expires_at */                                           \
    X(FLUSH_REFRESH)        /* now */                                                              \
    X(FLUSH_REVOKED)        /* now */                                                              \
    X(FLUSH_SESSIONS)       /* threshold: no refresh token left, last activity <= threshold */     \
    X(POST_INSERT)          /* author_id, title, body, now -> id */                                \
    X(POST_GET)             /* id -> DB_POST_COLS */                                               \
    X(POST_LIST)            /* limit, offset -> DB_POST_COLS, newest first (id DESC) */            \
    X(POST_COUNT)           /* -> count(*) */                                                      \
    X(POST_UPDATE)          /* title, body, now, id */                                             \
    X(POST_DELETE)          /* id */

enum db_stmt {
#define DB_STMT_ENUM_(name) DB_STMT_##name,
    DB_STMT_MAP(DB_STMT_ENUM_)
#undef DB_STMT_ENUM_
        DB_STMT__COUNT
};

enum db_ptype { DB_P_NULL = 0, DB_P_INT, DB_P_BOOL, DB_P_TEXT };

/* One statement parameter; text is borrowed for the duration of query(). */
typedef struct {
    enum db_ptype type;
    int64_t i;
    const char *s;
    size_t len;
} db_param_t;

typedef struct db_conn db_conn_t; /* defined by each backend */

struct db_driver {
    const char *name;
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
    /* Prepares (cached) statement id and binds params; rows come from next(). */
    int (*query)(db_conn_t *c, enum db_stmt id, const db_param_t *params, size_t n);
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
    /* The migrations of this backend, in order: migrations[i] takes version i to i + 1. */
    const char *const *migrations;
    size_t n_migrations;
    /* DDL creating the schema_version table if missing (run outside migrations). */
    const char *schema_version_ddl;
};

extern const struct db_driver db__sqlite_driver;
extern const struct db_driver db__pg_driver; /* db_pg.c */

#endif

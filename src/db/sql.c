/*
 * sql.c - the SQL text of every statement of db's own (enum db_stmt, db_internal.h), written
 * once where SQLite and PostgreSQL agree, with a backend's own text only where the
 * dialects differ. Placeholders are ?1..?n everywhere; the PostgreSQL driver rewrites them
 * to $1..$n when it prepares a statement. Schema changes (DDL) are not here but in
 * migrate.c, and nothing here is ever built from input.
 *
 * Where the dialects differ: serialising migrators (PostgreSQL's advisory lock; SQLite's
 * BEGIN IMMEDIATE already does it), the row lock of a rotation (PostgreSQL's
 * `FOR UPDATE OF r`; SQLite has one writer at a time) and moving the user id sequence past
 * imported ids (SQLite's AUTOINCREMENT tracks explicit ids by itself). db_open refuses a
 * build in which a statement lacks text for the backend being opened.
 */
#include "db/db_internal.h"

/* The user columns (DB_USER_NCOLS of them, read by db__read_user_at), bare and of "users u". */
#define USER_COLS                                                                                  \
    "id, username, email, first_name, last_name, role, premium, is_active, password, "             \
    "created_at, last_login, revoke_before, updated_at"
#define USER_COLS_U                                                                                \
    "u.id, u.username, u.email, u.first_name, u.last_name, u.role, u.premium, u.is_active, "       \
    "u.password, u.created_at, u.last_login, u.revoke_before, u.updated_at"
#define SESSION_COLS "id, user_id, created_at, last_used_at, revoked_at, client_ip, user_agent"

#define ROTATE_LOAD_SQL                                                                            \
    "SELECT r.sid, r.issued_at, r.expires_at, r.used_at, r.replaced_by, "                          \
    "s.revoked_at, " USER_COLS_U " FROM refresh_tokens r JOIN sessions s ON s.id = r.sid "         \
    "JOIN users u ON u.id = s.user_id WHERE r.sid = ?1 AND r.jti = ?2"

#define STMT(id, text) [DB_STMT_##id] = {.name = #id, .sql = text}

/* See db_internal.h. */
const db_stmt_def_t db__sql[DB_STMT__COUNT] = {
    STMT(PING, "SELECT 1"),
    [DB_STMT_SCHEMA_LOCK] = {.name = "SCHEMA_LOCK",
                             .sqlite = "SELECT 1",
                             .pg = "SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK ")"},
    [DB_STMT_SCHEMA_EXISTS] = {.name = "SCHEMA_EXISTS",
                               .sqlite = "SELECT count(*) FROM sqlite_master "
                                         "WHERE type = 'table' AND name = 'schema_version'",
                               .pg = "SELECT count(*) FROM information_schema.tables "
                                     "WHERE table_schema = current_schema() "
                                     "AND table_name = 'schema_version'"},
    STMT(SCHEMA_VERSION, "SELECT COALESCE(MAX(version), 0) FROM schema_version"),
    STMT(SCHEMA_INSERT, "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)"),

    /* users */
    STMT(USER_INSERT,
         "INSERT INTO users (username, email, first_name, last_name, role, premium, is_active, "
         "password, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) "
         "RETURNING id"),
    STMT(USER_BY_ID, "SELECT " USER_COLS " FROM users WHERE id = ?1"),
    STMT(USER_BY_USERNAME, "SELECT " USER_COLS " FROM users WHERE username = ?1"),
    STMT(USER_LIST, "SELECT " USER_COLS " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"),
    STMT(USER_UPDATE_PROFILE,
         "UPDATE users SET email = ?1, first_name = ?2, last_name = ?3, role = ?4, premium = ?5, "
         "updated_at = ?6 WHERE id = ?7"),
    STMT(USER_SET_PASSWORD, "UPDATE users SET password = ?1, updated_at = ?2 WHERE id = ?3"),
    STMT(USER_SET_ACTIVE, "UPDATE users SET is_active = ?1, updated_at = ?2 WHERE id = ?3"),
    STMT(USER_SET_ROLE, "UPDATE users SET role = ?1, updated_at = ?2 WHERE id = ?3"),
    STMT(USER_SET_LAST_LOGIN, "UPDATE users SET last_login = ?1 WHERE id = ?2"),
    STMT(USER_ADMIN_UPDATE, "UPDATE users SET email = ?1, role = ?2, is_active = ?3, "
                            "email_verified = ?4, updated_at = ?5 WHERE id = ?6"),
    /* ?1 is a LIKE pattern over the lowercased username and e-mail ('\\' escapes) */
    STMT(USER_SEARCH, "SELECT " USER_COLS ", email_verified FROM users WHERE ?1 = '' OR "
                      "lower(username) LIKE ?1 ESCAPE '\\' OR lower(email) LIKE ?1 ESCAPE '\\' "
                      "ORDER BY id LIMIT ?2 OFFSET ?3"),
    STMT(USER_SEARCH_COUNT, "SELECT count(*) FROM users WHERE ?1 = '' OR lower(username) LIKE ?1 "
                            "ESCAPE '\\' OR lower(email) LIKE ?1 ESCAPE '\\'"),
    STMT(USER_DELETE, "DELETE FROM users WHERE id = ?1"),
    STMT(TOMBSTONE_INSERT,
         "INSERT INTO user_tombstones (user_id, revoke_before) VALUES (?1, ?2) "
         "ON CONFLICT (user_id) DO UPDATE SET revoke_before = excluded.revoke_before"),
    STMT(USER_IMPORT_INSERT,
         "INSERT INTO users (id, username, email, first_name, last_name, role, premium, "
         "is_active, password, created_at, last_login, updated_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
    STMT(USER_IMPORT_UPDATE,
         "UPDATE users SET username = ?1, email = ?2, first_name = ?3, last_name = ?4, role = ?5, "
         "premium = ?6, is_active = ?7, password = ?8, updated_at = ?9 WHERE id = ?10"),
    /* SQLite's AUTOINCREMENT records explicit ids in sqlite_sequence by itself; PostgreSQL's
       identity sequence does not see them: move it past them. */
    [DB_STMT_USER_ID_SYNC] = {.name = "USER_ID_SYNC",
                              .sqlite = "SELECT 1",
                              .pg = "SELECT setval(pg_get_serial_sequence('users', 'id'), "
                                    "GREATEST((SELECT MAX(id) FROM users), 1))"},
    STMT(USER_BUMP_WATERMARK,
         "UPDATE users SET revoke_before = CASE WHEN revoke_before < ?1 THEN ?1 "
         "ELSE revoke_before END, updated_at = ?1 WHERE id = ?2"),
    /* the unique index's folding (migration 1): ASCII only on both backends */
    [DB_STMT_USER_BY_EMAIL] = {.name = "USER_BY_EMAIL",
                               .sqlite = "SELECT " USER_COLS
                                         ", email_verified FROM users WHERE email <> '' "
                                         "AND lower(email) = lower(?1)",
                               .pg = "SELECT " USER_COLS
                                     ", email_verified FROM users WHERE email <> '' "
                                     "AND lower(email COLLATE \"C\") = lower(?1 COLLATE \"C\")"},
    STMT(USER_EMAIL_VERIFIED, "SELECT email_verified FROM users WHERE id = ?1"),
    STMT(USER_SET_EMAIL,
         "UPDATE users SET email = ?1, email_verified = ?2, updated_at = ?3 WHERE id = ?4"),
    STMT(USER_INSERT_VERIFIED,
         "INSERT INTO users (username, email, first_name, last_name, role, premium, is_active, "
         "password, created_at, updated_at, email_verified) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10) RETURNING id"),
    STMT(WATERMARK_LIST,
         "SELECT id, revoke_before FROM users WHERE revoke_before > 0 AND revoke_before >= ?1 "
         "UNION ALL SELECT user_id, revoke_before FROM user_tombstones WHERE revoke_before >= ?1"),

    /* sessions */
    STMT(SESSION_INSERT,
         "INSERT INTO sessions (id, user_id, created_at, last_used_at, client_ip, user_agent, "
         "amr, auth_time) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7)"),
    STMT(SESSION_GET, "SELECT " SESSION_COLS " FROM sessions WHERE id = ?1"),
    STMT(SESSION_TOUCH,
         "UPDATE sessions SET last_used_at = ?1 WHERE id = ?2 AND last_used_at < ?3"),
    STMT(SESSION_REVOKE,
         "UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL"),
    STMT(SESSION_REVOKE_USER,
         "UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL"),
    STMT(SESSION_LIST_ACTIVE,
         "SELECT " SESSION_COLS " FROM sessions s WHERE s.user_id = ?1 AND s.revoked_at IS NULL "
         "AND EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.sid = s.id AND r.used_at IS NULL "
         "AND r.expires_at > ?2) ORDER BY s.last_used_at DESC, s.id LIMIT 1000"),
    STMT(SESSION_LIST_REVOKED,
         "SELECT " SESSION_COLS " FROM sessions WHERE revoked_at IS NOT NULL AND revoked_at >= ?1"),
    STMT(SESSION_REVOKE_OTHERS, "UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND "
                                "id <> ?3 AND revoked_at IS NULL"),
    STMT(SESSION_SET_USED, "UPDATE sessions SET last_used_at = ?1 WHERE id = ?2"),

    /* refresh tokens */
    STMT(REFRESH_INSERT,
         "INSERT INTO refresh_tokens (jti, sid, parent_jti, issued_at, expires_at, used_at, "
         "replaced_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
    STMT(REFRESH_GET, "SELECT jti, sid, parent_jti, issued_at, expires_at, used_at, replaced_by "
                      "FROM refresh_tokens WHERE sid = ?1 AND jti = ?2"),
    /* PostgreSQL (READ COMMITTED) locks the token's row: concurrent rotations of one token
       queue there and see the winner's successor. SQLite writes one transaction at a time. */
    [DB_STMT_ROTATE_LOAD] = {.name = "ROTATE_LOAD",
                             .sql = ROTATE_LOAD_SQL,
                             .pg = ROTATE_LOAD_SQL " FOR UPDATE OF r"},
    STMT(ROTATE_MARK, "UPDATE refresh_tokens SET used_at = ?1, replaced_by = ?2 "
                      "WHERE sid = ?3 AND jti = ?4 AND used_at IS NULL"),
    STMT(REFRESH_LOAD, ROTATE_LOAD_SQL),

    /* access-token revocations */
    STMT(REVOKED_INSERT, "INSERT INTO revoked_tokens (jti, expires_at, revoked_at, reason) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (jti) DO NOTHING"),
    STMT(REVOKED_LIST, "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?1"),

    /* housekeeping */
    STMT(FLUSH_REFRESH, "DELETE FROM refresh_tokens WHERE expires_at <= ?1"),
    STMT(FLUSH_REVOKED, "DELETE FROM revoked_tokens WHERE expires_at <= ?1"),
    STMT(FLUSH_TOMBSTONES, "DELETE FROM user_tombstones WHERE revoke_before <= ?1"),
    STMT(FLUSH_EVENTS, "DELETE FROM revocation_events WHERE created_at <= ?1"),
    STMT(FLUSH_SESSIONS,
         "DELETE FROM sessions WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r "
         "WHERE r.sid = sessions.id) AND (CASE WHEN revoked_at IS NOT NULL AND revoked_at > "
         "last_used_at THEN revoked_at ELSE last_used_at END) <= ?1"),
};

/* See db_internal.h. The function is migration 5's (migrate.c); the user columns are read
   out of its o_user (DB_USER_NCOLS of them, read by db__read_user_at). */
const db_stmt_def_t db__pg_rotate = {
    .name = "ROTATE_PG",
    .pg = "SELECT f.o_action, f.o_succ_jti, f.o_succ_issued_at, f.o_succ_expires_at, f.o_sid, "
          "f.o_issued_at, f.o_expires_at, f.o_used_at, f.o_replaced_by, f.o_session_revoked_at, "
          "(f.o_user).id, (f.o_user).username, (f.o_user).email, (f.o_user).first_name, "
          "(f.o_user).last_name, (f.o_user).role, (f.o_user).premium, (f.o_user).is_active, "
          "(f.o_user).password, (f.o_user).created_at, (f.o_user).last_login, "
          "(f.o_user).revoke_before, (f.o_user).updated_at "
          "FROM jwtd_refresh_rotate(?1, ?2, ?3, ?4, ?5, ?6) f"};

/* See db_internal.h. Constraints are checked at the end of the statement, so the refresh
   token's foreign key sees the session inserted by the same statement, and a missing user
   fails the session's (ERR_NOT_FOUND) as in the transaction. */
const db_stmt_def_t db__pg_session_create = {
    .name = "SESSION_CREATE_PG",
    .pg = "WITH s AS (INSERT INTO sessions (id, user_id, created_at, last_used_at, client_ip, "
          "user_agent, amr, auth_time) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?8, ?9) RETURNING id), "
          "r AS (INSERT INTO refresh_tokens (jti, sid, issued_at, expires_at) "
          "SELECT ?6::text, s.id, ?3::bigint, ?7::bigint FROM s WHERE ?6::text IS NOT NULL), "
          "u AS (UPDATE users SET last_login = ?3 WHERE id = ?2 RETURNING id) "
          "SELECT count(*) FROM u"};

/* See db_internal.h. The user row is updated first (the CTE s reads u, so u runs first):
   the same lock order as the transaction of db__revoke_user_in_tx (the user, then its
   sessions). */
const db_stmt_def_t db__pg_revoke_user = {
    .name = "REVOKE_USER_PG",
    .pg = "WITH u AS (UPDATE users SET password = COALESCE(?3::text, password), "
          "is_active = COALESCE(?4::boolean, is_active), "
          "revoke_before = CASE WHEN revoke_before < ?1 THEN ?1 ELSE revoke_before END, "
          "updated_at = ?1 WHERE id = ?2 RETURNING id), "
          "s AS (UPDATE sessions SET revoked_at = ?1 WHERE user_id = (SELECT id FROM u) "
          "AND revoked_at IS NULL RETURNING 1) "
          "SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM s)"};

/*
 * migrate.c - the schema's history and the migration runner (db.h db_migrate and friends).
 * Every version is written in both dialects side by side, SQLite's then PostgreSQL's, so the
 * two schemas cannot drift apart in number; DDL is where the dialects differ most (identity
 * columns, BOOLEAN, WITHOUT ROWID, how a primary key is replaced). It holds every table's
 * DDL, including tables another module owns (posts, src/resource/post_store.c): the schema
 * has one ordered history. It is not for statements run at request time (sql.c).
 *
 * DESIGN: schema_version(version, applied_at) records each applied migration. db_migrate_to
 * creates that table if missing, then applies one migration per transaction: take the
 * migrators' lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory transaction lock), read
 * the version, apply the next script, record it, commit; so several processes may migrate
 * the same database at once and each migration runs exactly once. A database newer than this
 * binary is refused (ERR_CONFIG).
 */
#include "db/db.h"

#include <stdio.h>

#include "common/clock.h"
#include "common/err.h"
#include "db/db_internal.h"

#define LOG_MODULE "db"
#include "runtime/log.h"

/*
 * jwtd_refresh_rotate(sid, jti, new_jti, new_exp, now, grace): the whole rotation of
 * db_refresh_rotate (db.h) as one PostgreSQL function, so one statement and one round trip:
 * load the token with its session and lock it (FOR UPDATE OF r: concurrent presentations
 * queue here, and each statement after the lock sees the winner's commit, READ COMMITTED),
 * read the session's user, then decide and write exactly as refresh.c's transaction does.
 * No row: unknown token. One row: o_action 0 rotated (marked used, successor inserted,
 * session touched), 1 used within the grace (o_succ_* = the existing successor), 2 reuse
 * (session revoked), 3 not valid (refusal, or a successor already flushed); then the loaded
 * token, its session's revoked_at and the user row (o_user), from which the caller names the
 * reason. Written once here; a later change is a new migration (CREATE OR REPLACE).
 */
#define PG_REFRESH_ROTATE_FN                                                                       \
    "CREATE OR REPLACE FUNCTION jwtd_refresh_rotate(p_sid TEXT, p_jti TEXT, p_new_jti TEXT,"       \
    "  p_new_exp BIGINT, p_now BIGINT, p_grace BIGINT,"                                            \
    "  OUT o_action INTEGER, OUT o_succ_jti TEXT, OUT o_succ_issued_at BIGINT,"                    \
    "  OUT o_succ_expires_at BIGINT, OUT o_sid TEXT, OUT o_issued_at BIGINT,"                      \
    "  OUT o_expires_at BIGINT, OUT o_used_at BIGINT, OUT o_replaced_by TEXT,"                     \
    "  OUT o_session_revoked_at BIGINT, OUT o_user users)"                                         \
    " RETURNS SETOF record LANGUAGE plpgsql AS $fn$"                                               \
    " DECLARE v_user_id BIGINT;"                                                                   \
    " BEGIN"                                                                                       \
    "  SELECT r.sid, r.issued_at, r.expires_at, r.used_at, r.replaced_by, s.revoked_at, s.user_id" \
    "    INTO o_sid, o_issued_at, o_expires_at, o_used_at, o_replaced_by, o_session_revoked_at,"   \
    "         v_user_id"                                                                           \
    "    FROM refresh_tokens r JOIN sessions s ON s.id = r.sid"                                    \
    "    WHERE r.sid = p_sid AND r.jti = p_jti FOR UPDATE OF r;"                                   \
    "  IF NOT FOUND THEN RETURN; END IF;"                                                          \
    "  SELECT * INTO o_user FROM users WHERE id = v_user_id;"                                      \
    "  IF NOT FOUND THEN RETURN; END IF;"                                                          \
    "  o_action := 3;"                                                                             \
    "  IF COALESCE(o_session_revoked_at, 0) <> 0 OR NOT o_user.is_active"                          \
    "     OR o_issued_at < o_user.revoke_before OR o_expires_at <= p_now THEN"                     \
    "    RETURN NEXT; RETURN;"                                                                     \
    "  END IF;"                                                                                    \
    "  IF o_used_at IS NULL THEN"                                                                  \
    "    UPDATE refresh_tokens SET used_at = p_now, replaced_by = p_new_jti"                       \
    "      WHERE sid = o_sid AND jti = p_jti;"                                                     \
    "    INSERT INTO refresh_tokens (jti, sid, parent_jti, issued_at, expires_at)"                 \
    "      VALUES (p_new_jti, o_sid, p_jti, p_now, p_new_exp);"                                    \
    "    UPDATE sessions SET last_used_at = p_now WHERE id = o_sid;"                               \
    "    o_action := 0; o_succ_jti := p_new_jti;"                                                  \
    "    o_succ_issued_at := p_now; o_succ_expires_at := p_new_exp;"                               \
    "  ELSIF p_now - o_used_at <= p_grace AND COALESCE(o_replaced_by, '') <> '' THEN"              \
    "    SELECT t.jti, t.issued_at, t.expires_at"                                                  \
    "      INTO o_succ_jti, o_succ_issued_at, o_succ_expires_at"                                   \
    "      FROM refresh_tokens t WHERE t.sid = o_sid AND t.jti = o_replaced_by;"                   \
    "    IF FOUND THEN o_action := 1; END IF;"                                                     \
    "  ELSE"                                                                                       \
    "    UPDATE sessions SET revoked_at = p_now WHERE id = o_sid AND revoked_at IS NULL;"          \
    "    o_action := 2;"                                                                           \
    "  END IF;"                                                                                    \
    "  RETURN NEXT;"                                                                               \
    " END $fn$;"

/* One schema version: the script taking version i to i + 1, per dialect. */
struct migration {
    const char *sqlite;
    const char *pg;
};

/*
 * Migration 1 written once over what the dialects spell differently: the 64-bit integer
 * type, a never-reused identity key, the character-count function, a boolean column
 * (FLAG(column, 0 or 1, false or true)), the case-folded e-mail, and the clustered-table
 * suffix.
 */
#define MIGRATION_1(I64, ID_KEY, CHARS, FLAG, EMAIL_LOWER, CLUSTERED)                              \
    "CREATE TABLE users ("                                                                         \
    "  id " ID_KEY ","                                                                             \
    "  username TEXT NOT NULL UNIQUE CHECK (" CHARS "(username) BETWEEN 1 AND 150),"               \
    "  email TEXT NOT NULL DEFAULT '',"                                                            \
    "  first_name TEXT NOT NULL DEFAULT '',"                                                       \
    "  last_name TEXT NOT NULL DEFAULT '',"                                                        \
    "  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'instructor', 'admin')),"         \
    "  premium " FLAG(                                                                             \
        premium, 0,                                                                                \
        false) ","                                                                                 \
               "  is_active " FLAG(                                                                \
                   is_active, 1,                                                                   \
                   true) ","                                                                       \
                         "  password TEXT NOT NULL DEFAULT '',"                                    \
                         "  created_at " I64 " NOT NULL,"                                          \
                         "  last_login " I64 ","                                                   \
                         "  revoke_before " I64 " NOT NULL DEFAULT 0,"                             \
                         "  updated_at " I64 " NOT NULL"                                           \
                         ");"                                                                      \
                         "CREATE UNIQUE INDEX users_email_key ON users (" EMAIL_LOWER              \
                         ") WHERE email <> '';"                                                    \
                         "CREATE INDEX users_revoke_before_idx ON users (revoke_before) WHERE "    \
                         "revoke_before > 0;"                                                      \
                         "CREATE TABLE sessions ("                                                 \
                         "  id TEXT PRIMARY KEY,"                                                  \
                         "  user_id " I64 " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"     \
                         "  created_at " I64 " NOT NULL,"                                          \
                         "  last_used_at " I64 " NOT NULL,"                                        \
                         "  client_ip TEXT NOT NULL DEFAULT '',"                                   \
                         "  user_agent TEXT NOT NULL DEFAULT '',"                                  \
                         "  revoked_at " I64 ")" CLUSTERED ";"                                     \
                         "CREATE INDEX sessions_user_idx ON sessions (user_id);"                   \
                         "CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE "       \
                         "revoked_at IS NOT NULL;"                                                 \
                         "CREATE TABLE refresh_tokens ("                                           \
                         "  jti TEXT PRIMARY KEY,"                                                 \
                         "  sid TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,"         \
                         "  parent_jti TEXT,"                                                      \
                         "  issued_at " I64 " NOT NULL,"                                           \
                         "  expires_at " I64 " NOT NULL,"                                          \
                         "  used_at " I64 ","                                                      \
                         "  replaced_by TEXT)" CLUSTERED ";"                                       \
                         "CREATE INDEX refresh_tokens_sid_idx ON refresh_tokens (sid);"            \
                         "CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);" \
                         "CREATE TABLE revoked_tokens ("                                           \
                         "  jti TEXT PRIMARY KEY,"                                                 \
                         "  expires_at " I64 " NOT NULL,"                                          \
                         "  revoked_at " I64 " NOT NULL,"                                          \
                         "  reason TEXT NOT NULL DEFAULT '')" CLUSTERED ";"                        \
                         "CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);"
#define SQLITE_FLAG(col, bit, word) "INTEGER NOT NULL DEFAULT " #bit " CHECK (" #col " IN (0, 1))"
#define PG_FLAG(col, bit, word)     "BOOLEAN NOT NULL DEFAULT " #word

/*
 * Append only, never edit a released migration. Users keep ids that are never reused
 * (SQLite AUTOINCREMENT, PostgreSQL identity) so a deleted user's id (the `user_id` claim of
 * tokens that may still be live) is never given to someone else. Emails are unique
 * case-insensitively in ASCII on both: PostgreSQL's lower() under the "C" collation folds
 * only A-Z whatever the database's locale, as SQLite's lower() does.
 */
/* Migration 4's table, written once over the identity key and the 64-bit integer type. */
#define AUDIT_LOG_COLUMNS(ID_KEY, I64)                                                             \
    "  id " ID_KEY ","                                                                             \
    "  ts " I64 " NOT NULL,"                                                                       \
    "  event TEXT NOT NULL,"                                                                       \
    "  outcome TEXT NOT NULL DEFAULT '',"                                                          \
    "  user_id " I64 ","                                                                           \
    "  username TEXT NOT NULL DEFAULT '',"                                                         \
    "  ip TEXT NOT NULL DEFAULT '',"                                                               \
    "  request_id TEXT NOT NULL DEFAULT '',"                                                       \
    "  sid TEXT NOT NULL DEFAULT '',"                                                              \
    "  user_agent TEXT NOT NULL DEFAULT '',"                                                       \
    "  source TEXT NOT NULL DEFAULT '',"                                                           \
    "  actor TEXT NOT NULL DEFAULT '',"                                                            \
    "  reason TEXT NOT NULL DEFAULT '',"                                                           \
    "  detail TEXT NOT NULL DEFAULT ''"
#define AUDIT_LOG_INDEXES                                                                          \
    "CREATE INDEX audit_log_ts_idx ON audit_log (ts);"                                             \
    "CREATE INDEX audit_log_event_idx ON audit_log (event, ts);"

/* Migration 6's tables, written once over the 64-bit integer type. Flags are 0/1 integers
   on both backends. URI and scope lists are space-separated (a URI holds no blank). */
#define OAUTH_TABLES(I64)                                                                          \
    "CREATE TABLE oauth_clients ("                                                                 \
    "  client_id TEXT PRIMARY KEY,"                                                                \
    "  secret_hash TEXT NOT NULL DEFAULT '',"                                                      \
    "  name TEXT NOT NULL,"                                                                        \
    "  redirect_uris TEXT NOT NULL DEFAULT '',"                                                    \
    "  post_logout_redirect_uris TEXT NOT NULL DEFAULT '',"                                        \
    "  is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),"                          \
    "  first_party INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1)),"                      \
    "  scopes TEXT NOT NULL DEFAULT '',"                                                           \
    "  grant_types TEXT NOT NULL DEFAULT '',"                                                      \
    "  created_at " I64 " NOT NULL);"                                                              \
    "CREATE TABLE oauth_codes ("                                                                   \
    "  code_hash TEXT PRIMARY KEY,"                                                                \
    "  client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,"            \
    "  user_id " I64 " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  browser_sid TEXT NOT NULL DEFAULT '',"                                                      \
    "  redirect_uri TEXT NOT NULL,"                                                                \
    "  scope TEXT NOT NULL DEFAULT '',"                                                            \
    "  nonce TEXT NOT NULL DEFAULT '',"                                                            \
    "  code_challenge TEXT NOT NULL DEFAULT '',"                                                   \
    "  auth_time " I64 " NOT NULL,"                                                                \
    "  created_at " I64 " NOT NULL,"                                                               \
    "  expires_at " I64 " NOT NULL,"                                                               \
    "  used_at " I64 ","                                                                           \
    "  issued_sid TEXT NOT NULL DEFAULT '');"                                                      \
    "CREATE INDEX oauth_codes_expires_idx ON oauth_codes (expires_at);"                            \
    "CREATE TABLE oauth_grants ("                                                                  \
    "  sid TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,"                           \
    "  client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,"            \
    "  user_id " I64 " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  scope TEXT NOT NULL DEFAULT '',"                                                            \
    "  auth_time " I64 " NOT NULL,"                                                                \
    "  created_at " I64 " NOT NULL);"                                                              \
    "CREATE INDEX oauth_grants_user_idx ON oauth_grants (user_id, client_id);"                     \
    "CREATE INDEX oauth_grants_client_idx ON oauth_grants (client_id);"                            \
    "CREATE TABLE oauth_consents ("                                                                \
    "  user_id " I64 " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,"            \
    "  scope TEXT NOT NULL DEFAULT '',"                                                            \
    "  granted_at " I64 " NOT NULL,"                                                               \
    "  PRIMARY KEY (user_id, client_id));"
/*
 * Migration 7's tables, written once over the identity key and the 64-bit integer type:
 * user_identities (an external OpenID Connect account, by its issuer and subject, linked to
 * a user; auth/oidc.c) and oidc_states (a sign-in in progress: the state's hash, single-use,
 * with the nonce, the PKCE verifier and where to go next; rows live ten minutes).
 */
#define OIDC_RP_TABLES(ID_KEY, I64)                                                                \
    "CREATE TABLE user_identities ("                                                               \
    "  id " ID_KEY ","                                                                             \
    "  user_id " I64 " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  provider TEXT NOT NULL,"                                                                    \
    "  issuer TEXT NOT NULL,"                                                                      \
    "  subject TEXT NOT NULL,"                                                                     \
    "  email TEXT NOT NULL DEFAULT '',"                                                            \
    "  created_at " I64 " NOT NULL,"                                                               \
    "  last_login " I64 " NOT NULL DEFAULT 0,"                                                     \
    "  UNIQUE (issuer, subject));"                                                                 \
    "CREATE INDEX user_identities_user_idx ON user_identities (user_id);"                          \
    "CREATE TABLE oidc_states ("                                                                   \
    "  state_hash TEXT PRIMARY KEY,"                                                               \
    "  provider TEXT NOT NULL,"                                                                    \
    "  bind_hash TEXT NOT NULL,"                                                                   \
    "  nonce TEXT NOT NULL,"                                                                       \
    "  verifier TEXT NOT NULL,"                                                                    \
    "  redirect_uri TEXT NOT NULL,"                                                                \
    "  next TEXT NOT NULL,"                                                                        \
    "  expires_at " I64 " NOT NULL);"                                                              \
    "CREATE INDEX oidc_states_expires_idx ON oidc_states (expires_at);"
/* The tables of multi-factor authentication (id type, integer type). */
#define MFA_TABLES(ID, INT)                                                                        \
    "CREATE TABLE mfa_factors ("                                                                   \
    "  id " ID ","                                                                                 \
    "  user_id " INT " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  type TEXT NOT NULL CHECK (type IN ('totp')),"                                               \
    "  name TEXT NOT NULL DEFAULT '',"                                                             \
    "  secret TEXT NOT NULL,"                                                                      \
    "  active " INT " NOT NULL DEFAULT 0,"                                                         \
    "  last_step " INT ","                                                                         \
    "  created_at " INT " NOT NULL,"                                                               \
    "  last_used_at " INT ");"                                                                     \
    "CREATE INDEX mfa_factors_user_idx ON mfa_factors (user_id);"                                  \
    "CREATE TABLE mfa_recovery_codes ("                                                            \
    "  user_id " INT " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  code_hash TEXT NOT NULL,"                                                                   \
    "  created_at " INT " NOT NULL,"                                                               \
    "  used_at " INT ","                                                                           \
    "  PRIMARY KEY (user_id, code_hash)"                                                           \
    ");"                                                                                           \
    "CREATE TABLE mfa_challenges ("                                                                \
    "  token_hash TEXT PRIMARY KEY,"                                                               \
    "  user_id " INT " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  family TEXT NOT NULL,"                                                                      \
    "  bind TEXT NOT NULL DEFAULT '',"                                                             \
    "  amr TEXT NOT NULL,"                                                                         \
    "  created_at " INT " NOT NULL,"                                                               \
    "  expires_at " INT " NOT NULL,"                                                               \
    "  attempts " INT " NOT NULL DEFAULT 0,"                                                       \
    "  used_at " INT ");"                                                                          \
    "CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id, created_at);"
/* Migration 6's DDL, written once over the 64-bit integer type, the identity key, the
   boolean column and its true. */
#define LIFECYCLE_TABLES(I64, ID_KEY, FLAG_COL, TRUE)                                              \
    "ALTER TABLE users ADD COLUMN email_verified " FLAG_COL ";"                                    \
    "UPDATE users SET email_verified = " TRUE ";"                                                  \
    "CREATE TABLE email_tokens ("                                                                  \
    "  token_hash TEXT PRIMARY KEY,"                                                               \
    "  user_id " I64 " REFERENCES users (id) ON DELETE CASCADE,"                                   \
    "  purpose TEXT NOT NULL,"                                                                     \
    "  new_email TEXT NOT NULL DEFAULT '',"                                                        \
    "  code_hash TEXT NOT NULL DEFAULT '',"                                                        \
    "  attempts INTEGER NOT NULL DEFAULT 0,"                                                       \
    "  created_at " I64 " NOT NULL,"                                                               \
    "  expires_at " I64 " NOT NULL,"                                                               \
    "  used_at " I64 ");"                                                                          \
    "CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);"                       \
    "CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);"                          \
    "CREATE TABLE mail_outbox ("                                                                   \
    "  id " ID_KEY ","                                                                             \
    "  kind TEXT NOT NULL,"                                                                        \
    "  recipient TEXT NOT NULL,"                                                                   \
    "  message TEXT NOT NULL,"                                                                     \
    "  state TEXT NOT NULL DEFAULT 'pending',"                                                     \
    "  attempts INTEGER NOT NULL DEFAULT 0,"                                                       \
    "  created_at " I64 " NOT NULL,"                                                               \
    "  next_attempt_at " I64 " NOT NULL,"                                                          \
    "  lease_until " I64 " NOT NULL DEFAULT 0,"                                                    \
    "  lease_owner TEXT NOT NULL DEFAULT '',"                                                      \
    "  sent_at " I64 ","                                                                           \
    "  last_error TEXT NOT NULL DEFAULT '');"                                                      \
    "CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE state = 'pending';"

/* The passkeys' table, written once over the identity key, the integer type and flags. */
#define WEBAUTHN_COLUMNS(ID_KEY, I64, FLAG)                                                        \
    "  id " ID_KEY ","                                                                             \
    "  user_id " I64 " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"                          \
    "  credential_id TEXT NOT NULL UNIQUE,"                                                        \
    "  user_handle TEXT NOT NULL,"                                                                 \
    "  public_key TEXT NOT NULL,"                                                                  \
    "  alg INTEGER NOT NULL,"                                                                      \
    "  sign_count " I64 " NOT NULL DEFAULT 0,"                                                     \
    "  transports TEXT NOT NULL DEFAULT '',"                                                       \
    "  name TEXT NOT NULL DEFAULT '',"                                                             \
    "  aaguid TEXT NOT NULL DEFAULT '',"                                                           \
    "  attestation TEXT NOT NULL DEFAULT 'none',"                                                  \
    "  backup_eligible " FLAG(                                                                     \
        backup_eligible, 0,                                                                        \
        false) ","                                                                                 \
               "  backup_state " FLAG(backup_state, 0,                                             \
                                      false) ","                                                   \
                                             "  uv_initialized " FLAG(uv_initialized, 0,           \
                                                                      false) ","                   \
                                                                             "  created_at " I64   \
                                                                             " NOT NULL,"          \
                                                                             "  last_used_at " I64
#define WEBAUTHN_INDEXES                                                                           \
    "CREATE INDEX webauthn_credentials_user_idx ON webauthn_credentials (user_id);"
/* Migration 12's tables, written once over the identity key and the 64-bit integer type. */
#define REVOCATION_EVENTS_COLUMNS(ID_KEY, I64)                                                     \
    "  id " ID_KEY ","                                                                             \
    "  kind TEXT NOT NULL CHECK (kind IN ('jti', 'sid', 'user')),"                                 \
    "  value TEXT NOT NULL,"                                                                       \
    "  revoke_before " I64 " NOT NULL DEFAULT 0,"                                                  \
    "  expires_at " I64 " NOT NULL DEFAULT 0,"                                                     \
    "  created_at " I64 " NOT NULL"
#define REVOCATION_EVENTS_INDEX                                                                    \
    "CREATE INDEX revocation_events_created_idx ON revocation_events (created_at);"
#define VERIFIERS_COLUMNS(ID_KEY, I64, CHARS)                                                      \
    "  id " ID_KEY ","                                                                             \
    "  name TEXT NOT NULL UNIQUE CHECK (" CHARS "(name) BETWEEN 1 AND 100),"                       \
    "  key_hash TEXT NOT NULL UNIQUE,"                                                             \
    "  created_at " I64 " NOT NULL,"                                                               \
    "  last_used_at " I64
/* The transaction advisory lock of PostgreSQL's revocation_events trigger. */
#define DB_FEED_LOCK "7305079217"

static const struct migration migrations[] = {
    /* 1: users, sessions, refresh tokens, access-token revocations */
    {.sqlite = MIGRATION_1("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT", "length", SQLITE_FLAG,
                           "lower(email)", " WITHOUT ROWID"),
     .pg = MIGRATION_1("BIGINT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                       "char_length", PG_FLAG, "lower(email COLLATE \"C\")", "")},
    /* 2: posts, the table of the demo resource API (src/resource/post_store.c owns its
       statements). It stays here as version 2 because deployed databases already recorded it
       under that number: a migration is never renumbered or moved out of the sequence. A
       user's posts go with the user. */
    {.sqlite = "CREATE TABLE posts ("
               "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
               "  author_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
               "  title TEXT NOT NULL,"
               "  body TEXT NOT NULL,"
               "  created_at INTEGER NOT NULL,"
               "  updated_at INTEGER NOT NULL"
               ");"
               "CREATE INDEX posts_author_idx ON posts (author_id);",
     .pg = "CREATE TABLE posts ("
           "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
           "  author_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
           "  title TEXT NOT NULL,"
           "  body TEXT NOT NULL,"
           "  created_at BIGINT NOT NULL,"
           "  updated_at BIGINT NOT NULL"
           ");"
           "CREATE INDEX posts_author_idx ON posts (author_id);"},
    /* 3: refresh tokens keyed by (sid, jti). On SQLite the key clusters a session's tokens
       (WITHOUT ROWID): a token and its successor share a leaf page, and the sid and expiry
       indexes go (the key's prefix serves the session lookups and the cascade; flush-expired
       scans the table), so a rotation dirties two b-tree pages instead of five. */
    {.sqlite = "CREATE TABLE refresh_tokens_v3 ("
               "  jti TEXT NOT NULL,"
               "  sid TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,"
               "  parent_jti TEXT,"
               "  issued_at INTEGER NOT NULL,"
               "  expires_at INTEGER NOT NULL,"
               "  used_at INTEGER,"
               "  replaced_by TEXT,"
               "  PRIMARY KEY (sid, jti)"
               ") WITHOUT ROWID;"
               "INSERT INTO refresh_tokens_v3 (jti, sid, parent_jti, issued_at, expires_at, "
               "used_at, replaced_by) SELECT jti, sid, parent_jti, issued_at, expires_at, "
               "used_at, replaced_by FROM refresh_tokens ORDER BY sid, jti;"
               "DROP TABLE refresh_tokens;"
               "ALTER TABLE refresh_tokens_v3 RENAME TO refresh_tokens;",
     .pg = "ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_pkey;"
           "ALTER TABLE refresh_tokens ADD PRIMARY KEY (sid, jti);"
           "DROP INDEX refresh_tokens_sid_idx;"
           "DROP INDEX refresh_tokens_expires_idx;"},
    /* 4: audit_log, the audit trail (src/auth/audit.c owns its statements): one row per
       security event, appended by one writer thread, swept by ts past the retention. No
       foreign key: a record outlives the user it names, and an attempted username may name
       nobody. Indexes serve the sweep and the event filter of `jwtd audit`. */
    {.sqlite = "CREATE TABLE audit_log (" AUDIT_LOG_COLUMNS("INTEGER PRIMARY KEY AUTOINCREMENT",
                                                            "INTEGER") ");" AUDIT_LOG_INDEXES,
     .pg = "CREATE TABLE audit_log (" AUDIT_LOG_COLUMNS(
         "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT") ");" AUDIT_LOG_INDEXES},
    /* 5: PostgreSQL's rotation in one round trip: jwtd_refresh_rotate, a server-side function
       called by one autocommit statement (sql.c db__pg_rotate; refresh.c). SQLite rotates
       in-process through the runner and needs nothing. */
    {.sqlite = "SELECT 1", .pg = PG_REFRESH_ROTATE_FN},
    /* 6: the OAuth 2.0 / OpenID Connect provider (src/auth/oauth_store.c owns the
       statements): registered clients (secrets stored as SHA-256 hex), authorization codes
       (stored as SHA-256 hex of the code, single-use), grants (one jwtd session per code
       exchange, so refresh rotation, reuse detection and revocation are the sessions') and
       remembered consents. A client's rows go with it; its sessions are revoked first. */
    {.sqlite = OAUTH_TABLES("INTEGER"), .pg = OAUTH_TABLES("BIGINT")},
    /* 7: social sign-in (OpenID Connect relying party): linked identities and sign-ins in
       progress. */
    {.sqlite = OIDC_RP_TABLES("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"),
     .pg = OIDC_RP_TABLES("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT")},
    /* 8: multi-factor authentication (src/auth/mfa.c owns the statements of its tables):
       mfa_factors (one row per factor: type 'totp' with its secret encrypted, the last time
       step accepted so that a code is used once), mfa_recovery_codes (SHA-256 of each code,
       single-use), mfa_challenges (the pending second step of a login: the SHA-256 of its
       mfa_token, the family that started it, failed attempts); and how each session was
       authenticated (amr, space-separated RFC 8176 values, and auth_time). */
    {.sqlite = MFA_TABLES("INTEGER PRIMARY KEY AUTOINCREMENT",
                          "INTEGER") "ALTER TABLE sessions ADD COLUMN amr TEXT;"
                                     "ALTER TABLE sessions ADD COLUMN auth_time INTEGER;",
     .pg = MFA_TABLES("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                      "BIGINT") "ALTER TABLE sessions ADD COLUMN amr TEXT;"
                                "ALTER TABLE sessions ADD COLUMN auth_time BIGINT;"},
    /* 9: the account lifecycle over e-mail. users.email_verified (accounts that existed
       before count as verified: nobody could confirm an address then); email_tokens, the
       links and codes mailed to users (src/auth/lifecycle.c owns its statements: only the
       SHA-256 of a token is stored, one purpose, one user, single use); mail_outbox, every
       mail written in the transaction of the change that causes it and delivered by the
       sender thread (src/auth/outbox.c), claimed with a lease so that two instances never
       send one row at the same time. */
    {.sqlite = LIFECYCLE_TABLES("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT",
                                "INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1))", "1"),
     .pg = LIFECYCLE_TABLES("BIGINT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                            "BOOLEAN NOT NULL DEFAULT false", "true")},
    /* 10: user_tombstones: the watermark of a deleted user (db_user_delete). Deleting a user
       deletes its sessions (cascade), so neither its row's revoke_before nor its revoked
       sessions are left for the revocation index to reload after a restart; this row is,
       until every access token the user held has expired (db_flush_expired deletes it). */
    {.sqlite = "CREATE TABLE user_tombstones (user_id INTEGER PRIMARY KEY,"
               "  revoke_before INTEGER NOT NULL);",
     .pg = "CREATE TABLE user_tombstones (user_id BIGINT PRIMARY KEY,"
           "  revoke_before BIGINT NOT NULL);"},
    /* 11: webauthn_credentials: passkeys (src/auth/passkeys.c owns the statements). Binary
       values as base64url text (credential id, user handle, COSE key), the AAGUID as hex. */
    {.sqlite = "CREATE TABLE webauthn_credentials (" WEBAUTHN_COLUMNS(
         "INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER", SQLITE_FLAG) ");" WEBAUTHN_INDEXES,
     .pg = "CREATE TABLE webauthn_credentials (" WEBAUTHN_COLUMNS(
         "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT",
         PG_FLAG) ");" WEBAUTHN_INDEXES},
    /* 12: the revocation feed (src/auth/feed.c owns its statements): revocation_events, one
       row per revocation, written by triggers in the transaction that revokes (a token
       inserted into revoked_tokens, a session whose revoked_at is set, a user watermark
       raised, a deleted user's tombstone), so every writer -- routes, commands, PostgreSQL's
       rotation function -- feeds it, and its increasing id is the feed's cursor on every instance.
       On PostgreSQL the trigger first takes a transaction advisory lock, so ids are handed out in
       commit order and a reader never skips an id committed later. verifiers: the keys of `jwtd
       verifier` (SHA-256 of the key, never the key). */
    {.sqlite = "CREATE TABLE revocation_events (" REVOCATION_EVENTS_COLUMNS(
         "INTEGER PRIMARY KEY AUTOINCREMENT",
         "INTEGER") ");" REVOCATION_EVENTS_INDEX
                    "CREATE TRIGGER revocation_events_jti AFTER INSERT ON revoked_tokens BEGIN"
                    "  INSERT INTO revocation_events (kind, value, expires_at, created_at)"
                    "  VALUES ('jti', NEW.jti, NEW.expires_at, NEW.revoked_at); END;"
                    "CREATE TRIGGER revocation_events_sid AFTER UPDATE OF revoked_at ON sessions"
                    "  WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL BEGIN"
                    "  INSERT INTO revocation_events (kind, value, created_at)"
                    "  VALUES ('sid', NEW.id, NEW.revoked_at); END;"
                    "CREATE TRIGGER revocation_events_user AFTER UPDATE OF revoke_before ON users"
                    "  WHEN NEW.revoke_before > OLD.revoke_before BEGIN"
                    "  INSERT INTO revocation_events (kind, value, revoke_before, created_at)"
                    "  VALUES ('user', CAST(NEW.id AS TEXT), NEW.revoke_before, NEW.revoke_before);"
                    "  END;"
                    "CREATE TRIGGER revocation_events_tombstone AFTER INSERT ON user_tombstones"
                    "  BEGIN INSERT INTO revocation_events (kind, value, revoke_before, created_at)"
                    "  VALUES ('user', CAST(NEW.user_id AS TEXT), NEW.revoke_before,"
                    "  NEW.revoke_before); END;"
                    "CREATE TABLE verifiers (" VERIFIERS_COLUMNS(
                        "INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER", "length") ");",
     .pg = "CREATE TABLE revocation_events (" REVOCATION_EVENTS_COLUMNS(
         "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
         "BIGINT") ");" REVOCATION_EVENTS_INDEX "CREATE FUNCTION jwtd_revocation_event() RETURNS "
                   "trigger LANGUAGE plpgsql AS $fn$"
                   " BEGIN"
                   "  PERFORM pg_advisory_xact_lock(" DB_FEED_LOCK ");"
                   "  IF TG_TABLE_NAME = 'revoked_tokens' THEN"
                   "    INSERT INTO revocation_events (kind, value, expires_at, created_at)"
                   "    VALUES ('jti', NEW.jti, NEW.expires_at, NEW.revoked_at);"
                   "  ELSIF TG_TABLE_NAME = 'sessions' THEN"
                   "    INSERT INTO revocation_events (kind, value, created_at)"
                   "    VALUES ('sid', NEW.id, NEW.revoked_at);"
                   "  ELSIF TG_TABLE_NAME = 'user_tombstones' THEN"
                   "    INSERT INTO revocation_events (kind, value, revoke_before, created_at)"
                   "    VALUES ('user', NEW.user_id::text, NEW.revoke_before, NEW.revoke_before);"
                   "  ELSE"
                   "    INSERT INTO revocation_events (kind, value, revoke_before, created_at)"
                   "    VALUES ('user', NEW.id::text, NEW.revoke_before, NEW.revoke_before);"
                   "  END IF;"
                   "  RETURN NULL;"
                   " END $fn$;"
                   "CREATE TRIGGER revocation_events_jti AFTER INSERT ON revoked_tokens"
                   "  FOR EACH ROW EXECUTE FUNCTION jwtd_revocation_event();"
                   "CREATE TRIGGER revocation_events_sid AFTER UPDATE OF revoked_at ON sessions"
                   "  FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)"
                   "  EXECUTE FUNCTION jwtd_revocation_event();"
                   "CREATE TRIGGER revocation_events_user AFTER UPDATE OF revoke_before ON users"
                   "  FOR EACH ROW WHEN (NEW.revoke_before > OLD.revoke_before)"
                   "  EXECUTE FUNCTION jwtd_revocation_event();"
                   "CREATE TRIGGER revocation_events_tombstone AFTER INSERT ON user_tombstones"
                   "  FOR EACH ROW EXECUTE FUNCTION jwtd_revocation_event();"
                   "CREATE TABLE verifiers (" VERIFIERS_COLUMNS(
                       "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT",
                       "char_length") ");"},
    /* 13: the revocation feed's PostgreSQL triggers fire at commit (deferred constraint
       triggers), so the feed's advisory lock is the LAST lock a revoking transaction takes.
       Migration 12's triggers took it at the end of each revoking statement, while the
       transaction could still take row locks after it: a logout-all (watermark, then the
       user's sessions) and a logout of one of those sessions (its row, then the lock) each
       held what the other waited for, and PostgreSQL aborted one of them (40P01, a 503).
       Now whoever holds the lock is committing and only inserts events, so it never waits
       for a row lock: no cycle can go through it. Ids still follow commit order (the lock
       is held until the commit ends). SQLite has one writer at a time and needs nothing. */
    {.sqlite = "SELECT 1",
     .pg = "DROP TRIGGER revocation_events_jti ON revoked_tokens;"
           "DROP TRIGGER revocation_events_sid ON sessions;"
           "DROP TRIGGER revocation_events_user ON users;"
           "DROP TRIGGER revocation_events_tombstone ON user_tombstones;"
           "CREATE CONSTRAINT TRIGGER revocation_events_jti AFTER INSERT ON revoked_tokens"
           "  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
           "  EXECUTE FUNCTION jwtd_revocation_event();"
           "CREATE CONSTRAINT TRIGGER revocation_events_sid AFTER UPDATE OF revoked_at ON sessions"
           "  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
           "  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)"
           "  EXECUTE FUNCTION jwtd_revocation_event();"
           "CREATE CONSTRAINT TRIGGER revocation_events_user AFTER UPDATE OF revoke_before ON users"
           "  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
           "  WHEN (NEW.revoke_before > OLD.revoke_before)"
           "  EXECUTE FUNCTION jwtd_revocation_event();"
           "CREATE CONSTRAINT TRIGGER revocation_events_tombstone AFTER INSERT ON user_tombstones"
           "  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
           "  EXECUTE FUNCTION jwtd_revocation_event();"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* The schema_version table, created outside the migrations. PostgreSQL: concurrent
   CREATE TABLE IF NOT EXISTS can collide in the catalog, so it is serialised (the two
   statements run as one implicit transaction, which holds the lock). */
static const struct migration schema_version_ddl = {
    .sqlite = "CREATE TABLE IF NOT EXISTS schema_version ("
              "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    .pg = "SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK ");"
          "CREATE TABLE IF NOT EXISTS schema_version ("
          "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
};

static const char *script_of(const struct migration *m, enum db_backend b)
{
    return b == DB_BACKEND_PG ? m->pg : m->sqlite;
}

/* See db_internal.h. */
int db__migrations_check(enum db_backend b, char *err, size_t cap)
{
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        if (!script_of(&migrations[i], b)) {
            snprintf(err, cap, "this jwtd lacks the %s text of migration %zu",
                     b == DB_BACKEND_PG ? "postgresql" : "sqlite", i + 1);
            return ERR_INTERNAL;
        }
    }
    return 0;
}

/* See db.h. */
int db_schema_latest(void)
{
    return (int)N_MIGRATIONS;
}

static int read_version(db_tx_t *tx, int *version)
{
    int64_t v = 0;
    int rc = db_tx_query_one(tx, DB_SQL(SCHEMA_VERSION), NULL, 0, db_row_read_int, &v);
    if (rc == 0)
        *version = (int)v;
    return rc;
}

struct version_args {
    int version;
};

/* Reads the version; 0 when schema_version does not exist yet (no transaction, no write). */
static int version_body(db_tx_t *tx, void *arg)
{
    struct version_args *a = arg;
    int64_t exists = 0;
    int rc = db_tx_query_one(tx, DB_SQL(SCHEMA_EXISTS), NULL, 0, db_row_read_int, &exists);
    if (rc != 0 || !exists) {
        a->version = 0;
        return rc;
    }
    return read_version(tx, &a->version);
}

/* See db.h. */
int db_schema_version(db_t *db, int *version)
{
    struct version_args a = {0};
    int rc = db__run(db, version_body, &a);
    if (rc == 0)
        *version = a.version;
    return rc;
}

struct step_args {
    enum db_backend backend;
    size_t target;
    int applied; /* the version this step reached, 0 when there was nothing to do */
};

/* One migration step, inside its write transaction: the next missing version, if any. */
static int step_body(db_tx_t *tx, void *arg)
{
    struct step_args *a = arg;
    int v = 0;
    int rc = db_tx_exec(tx, DB_SQL(SCHEMA_LOCK), NULL, 0, NULL);
    if (rc == 0)
        rc = read_version(tx, &v);
    if (rc != 0)
        return rc;
    if ((size_t)v > N_MIGRATIONS) {
        log_error("msg=\"database schema is newer than this jwtd\" version=%d known=%zu", v,
                  N_MIGRATIONS);
        return ERR_CONFIG;
    }
    if ((size_t)v >= a->target)
        return 0; /* nothing to do: an empty transaction commits */
    rc = db__tx_script(tx, script_of(&migrations[v], a->backend));
    if (rc == 0) {
        db_param_t p[] = {db_int(v + 1), db_int(clock_now_s())};
        rc = db_tx_exec(tx, DB_SQL(SCHEMA_INSERT), p, DB_NPARAMS(p), NULL);
    }
    if (rc == 0)
        a->applied = v + 1;
    return rc;
}

/* See db.h. */
int db_migrate(db_t *db, int *applied)
{
    return db_migrate_to(db, db_schema_latest(), applied);
}

/* Creates schema_version if missing (no transaction). */
static int create_version_table(db_tx_t *tx, void *arg)
{
    const enum db_backend *backend = arg;
    return db__tx_script(tx, script_of(&schema_version_ddl, *backend));
}

/* See db.h. */
int db_migrate_to(db_t *db, int version, int *applied)
{
    int n_applied = 0;
    enum db_backend backend = db->drv->backend;
    int rc = db__run(db, create_version_table, &backend);
    struct step_args a = {db->drv->backend, version < 0 ? 0 : (size_t)version, 0};
    if (a.target > N_MIGRATIONS)
        a.target = N_MIGRATIONS;
    while (rc == 0) {
        a.applied = 0;
        if ((rc = db_transact(db, step_body, &a)) != 0 || a.applied == 0)
            break;
        n_applied++;
        log_info("msg=\"migration applied\" version=%d", a.applied);
    }
    if (applied)
        *applied = n_applied;
    return rc;
}

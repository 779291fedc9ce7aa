/*
 * sessions.c - the sessions table (db.h "sessions"): login (a session with its first
 * refresh token, in one transaction; on PostgreSQL one statement, db__pg_session_create,
 * so one round trip), lookups, the throttled last-use touch, revocation and
 * the two lists (a user's active sessions, recently revoked ones for the revocation index).
 * Statements run through the runner (run.c); their text is in sql.c. Refresh tokens and
 * their rotation are refresh.c's; revoking every session of a user together with the
 * watermark is users.c's.
 */
#include "db/db.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define MAX_USER_AGENT_BYTES 512
#define MAX_CLIENT_IP_BYTES  64

/* See db.h. */
void db_session_dispose(db_session_t *s)
{
    if (!s)
        return;
    free(s->client_ip);
    free(s->user_agent);
    memset(s, 0, sizeof *s);
}

/* Reads the session columns (id, user_id, created, last_used, revoked, ip, ua) into the
   db_session_t item. */
static int read_session(void *item, const db_row_t *row)
{
    db_session_t *s = item;
    db__row_id(row, 0, s->sid);
    s->user_id = db_row_int(row, 1);
    s->created_at = db_row_int(row, 2);
    s->last_used_at = db_row_int(row, 3);
    s->revoked_at = db_row_int(row, 4);
    s->client_ip = db_row_strdup(row, 5);
    s->user_agent = db_row_strdup(row, 6);
    return 0;
}

static void dispose_session(void *item)
{
    db_session_dispose(item);
}

static const db_list_def_t SESSION_ROWS = {sizeof(db_session_t), 0, read_session, dispose_session};

/*
 * Copies untrusted header text for storage: printable ASCII kept, anything else replaced
 * by '?', truncated to max bytes (so every backend accepts it as valid UTF-8).
 */
static char *clean_text(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n > max)
        n = max;
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    out[n] = '\0';
    return out;
}

struct create {
    const db_session_t *s;
    const db_refresh_t *rt;
    const char *ip, *ua; /* cleaned copies of s's */
    int64_t now;
};

/* Login's transaction: the session, its first refresh token, the user's last login. */
static int create_body(db_tx_t *tx, void *arg)
{
    const struct create *a = arg;
    db_param_t p[] = {db_text(a->s->sid),
                      db_int(a->s->user_id),
                      db_int(a->now),
                      db_text(a->ip),
                      db_text(a->ua),
                      db_text_or_null(a->s->amr),
                      db_int_or_null(a->s->auth_time)};
    int rc = db_tx_exec(tx, DB_SQL(SESSION_INSERT), p, DB_NPARAMS(p), NULL);
    if (rc == 0 && a->rt) {
        db_refresh_t first;
        memset(&first, 0, sizeof first);
        memcpy(first.jti, a->rt->jti, sizeof first.jti);
        memcpy(first.sid, a->s->sid, sizeof first.sid);
        first.issued_at = a->now;
        first.expires_at = a->rt->expires_at;
        rc = db__refresh_insert_in_tx(tx, &first);
    }
    if (rc == 0) {
        db_param_t q[] = {db_int(a->now), db_int(a->s->user_id)};
        rc = db__tx_exec_one(tx, DB_SQL(USER_SET_LAST_LOGIN), q, DB_NPARAMS(q));
    }
    return rc;
}

/* See db.h. */
int db_session_create(db_t *db, const db_session_t *s, const db_refresh_t *rt, int64_t now)
{
    if (!db__valid_id(s->sid) || (rt && !db__valid_id(rt->jti)))
        return ERR_INVALID;
    char *ip = clean_text(s->client_ip, MAX_CLIENT_IP_BYTES);
    char *ua = clean_text(s->user_agent, MAX_USER_AGENT_BYTES);
    struct create a = {s, rt, ip, ua, now};
    int rc;
    if (db->drv->backend == DB_BACKEND_PG) { /* one statement, one round trip */
        db_param_t p[] = {db_text(s->sid),
                          db_int(s->user_id),
                          db_int(now),
                          db_text(ip),
                          db_text(ua),
                          db_text_or_null(rt ? rt->jti : NULL),
                          db_int(rt ? rt->expires_at : 0),
                          db_text_or_null(s->amr),
                          db_int_or_null(s->auth_time)};
        int64_t users = 0;
        rc = db_query_one(db, &db__pg_session_create, p, DB_NPARAMS(p), db_row_read_int, &users);
        if (rc == 0 && users != 1)
            rc = ERR_NOT_FOUND;
    } else {
        rc = db_transact(db, create_body, &a);
    }
    free(ip);
    free(ua);
    return rc;
}

/* See db.h. */
int db_session_get(db_t *db, const char *sid, db_session_t *s)
{
    memset(s, 0, sizeof *s);
    if (!db__valid_id(sid))
        return ERR_NOT_FOUND;
    db_param_t p[] = {db_text(sid)};
    return db_query_one(db, DB_SQL(SESSION_GET), p, DB_NPARAMS(p), read_session, s);
}

/* A conditional update of session sid (touch, revoke), then, when it changed nothing,
   whether the session exists at all, on one connection. */
struct update_or_exists {
    const db_stmt_def_t *def;
    const db_param_t *params;
    size_t n;
    const char *sid;
    int64_t changed;
};

static int update_or_exists_body(db_tx_t *tx, void *arg)
{
    struct update_or_exists *a = arg;
    int rc = db_tx_exec(tx, a->def, a->params, a->n, &a->changed);
    if (rc == 0 && a->changed == 0) {
        db_param_t q[] = {db_text(a->sid)};
        rc = db_tx_query_one(tx, DB_SQL(SESSION_GET), q, DB_NPARAMS(q), NULL, NULL);
    }
    return rc;
}

/* See db.h. */
int db_session_touch(db_t *db, const char *sid, int64_t now, int64_t min_interval_s)
{
    if (!db__valid_id(sid))
        return ERR_NOT_FOUND;
    /* no change: throttled, or no such session (ERR_NOT_FOUND) */
    db_param_t p[] = {db_int(now), db_text(sid), db_int(now - min_interval_s)};
    struct update_or_exists a = {DB_SQL(SESSION_TOUCH), p, DB_NPARAMS(p), sid, 0};
    return db__run(db, update_or_exists_body, &a);
}

/* See db.h. */
int db_session_revoke(db_t *db, const char *sid, int64_t now, bool *was_active)
{
    if (was_active)
        *was_active = false;
    if (!db__valid_id(sid))
        return ERR_NOT_FOUND;
    /* no change: already revoked, or no such session (ERR_NOT_FOUND) */
    db_param_t p[] = {db_int(now), db_text(sid)};
    struct update_or_exists a = {DB_SQL(SESSION_REVOKE), p, DB_NPARAMS(p), sid, 0};
    int rc = db__run(db, update_or_exists_body, &a);
    if (rc == 0 && was_active)
        *was_active = a.changed == 1;
    return rc;
}

/* See db.h. */
int db_session_revoke_all_for_user(db_t *db, int64_t user_id, int64_t now, uint32_t *count)
{
    int64_t revoked = 0;
    db_param_t p[] = {db_int(now), db_int(user_id)};
    int rc = db_exec(db, DB_SQL(SESSION_REVOKE_USER), p, DB_NPARAMS(p), &revoked);
    if (rc == 0 && count)
        *count = (uint32_t)revoked;
    return rc;
}

/* See db.h. */
void db_session_list_dispose(db_session_list_t *list)
{
    DB_LIST_RELEASE(&SESSION_ROWS, list);
}

static int list_sessions(db_t *db, const db_stmt_def_t *def, const db_param_t *p, size_t n,
                         db_session_list_t *list)
{
    return DB_QUERY_LIST(db, def, p, n, &SESSION_ROWS, list);
}

/* See db.h. */
int db_session_list_active(db_t *db, int64_t user_id, int64_t now, db_session_list_t *list)
{
    db_param_t p[] = {db_int(user_id), db_int(now)};
    return list_sessions(db, DB_SQL(SESSION_LIST_ACTIVE), p, DB_NPARAMS(p), list);
}

/* See db.h. */
int db_session_list_revoked(db_t *db, int64_t since, db_session_list_t *list)
{
    db_param_t p[] = {db_int(since)};
    return list_sessions(db, DB_SQL(SESSION_LIST_REVOKED), p, DB_NPARAMS(p), list);
}

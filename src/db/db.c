/*
 * db.c - the backend-independent half of src/db/ (see db.h): URL dispatch, the connection
 * pool, migrations and every domain operation (users, sessions, refresh rotation,
 * revocations, housekeeping), written once against the driver table of db_internal.h.
 * No SQL text lives here; each backend supplies the text for every statement id.
 *
 * DESIGN (pool): struct db holds the driver, its shared state and a pool of connections
 * guarded by one mutex. conn_get() pops an idle connection, or opens a new one while fewer
 * than max are open, or waits on a condition variable for a checkin. conn_put() returns it
 * (or closes it when the driver reports it broken, so the next caller opens a fresh one).
 * A connection is used by one thread between get and put and never holds a transaction
 * across calls. With the libuv threadpool (UV_THREADPOOL_SIZE threads) the pool settles
 * at one connection per pool thread that touches the database; PostgreSQL will reuse the
 * same pool with health checks in its driver.
 */
#include "db/db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define LOG_MODULE "db"
#include "runtime/log.h"

#define DEFAULT_MAX_CONNECTIONS 8
#define MAX_USERNAME_BYTES      150
#define MAX_USER_AGENT_BYTES    512
#define MAX_CLIENT_IP_BYTES     64
#define MAX_LIST_ROWS           1000

struct db {
    const struct db_driver *drv;
    void *state;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    db_conn_t **idle; /* stack of idle connections, capacity max */
    uint32_t n_idle;
    uint32_t n_open; /* idle + checked out (+ being opened) */
    uint32_t max;
    /* SQLite only: the connection every rotation uses, one at a time (rot_mu). SQLite runs
       one write transaction at a time anyway; on a single connection the pages the last
       rotation wrote stay valid in its cache instead of being re-read from the WAL by whichever
       pool connection comes next. Opened on first use, outside max. */
    pthread_mutex_t rot_mu;
    db_conn_t *rot_conn;
};

/* ==== parameters and columns ============================================================= */

static db_param_t p_int(int64_t v)
{
    return (db_param_t){DB_P_INT, v, NULL, 0};
}

static db_param_t p_bool(bool v)
{
    return (db_param_t){DB_P_BOOL, v ? 1 : 0, NULL, 0};
}

static db_param_t p_text(const char *s)
{
    return (db_param_t){DB_P_TEXT, 0, s ? s : "", s ? strlen(s) : 0};
}

/* NULL or "" become SQL NULL (nullable id columns). */
static db_param_t p_text_or_null(const char *s)
{
    if (!s || !*s)
        return (db_param_t){DB_P_NULL, 0, NULL, 0};
    return p_text(s);
}

/* 0 becomes SQL NULL (nullable timestamps). */
static db_param_t p_ts_or_null(int64_t t)
{
    if (t == 0)
        return (db_param_t){DB_P_NULL, 0, NULL, 0};
    return p_int(t);
}

#define NPARAMS(a) (sizeof(a) / sizeof((a)[0]))

static char *col_dup(db_t *db, db_conn_t *c, int col)
{
    size_t len;
    const char *t = db->drv->col_text(c, col, &len);
    return t ? xstrndup(t, len) : xstrdup("");
}

static void col_id(db_t *db, db_conn_t *c, int col, char out[DB_ID_MAX + 1])
{
    size_t len;
    const char *t = db->drv->col_text(c, col, &len);
    if (!t)
        len = 0;
    if (len > DB_ID_MAX)
        len = DB_ID_MAX;
    if (len)
        memcpy(out, t, len);
    out[len] = '\0';
}

/* A nullable integer column, 0 for NULL. */
static int64_t col_ts(db_t *db, db_conn_t *c, int col)
{
    return db->drv->col_is_null(c, col) ? 0 : db->drv->col_int(c, col);
}

static bool valid_id(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    return n >= 1 && n <= DB_ID_MAX;
}

/* ==== pool ================================================================================ */

static int conn_get(db_t *db, db_conn_t **out)
{
    pthread_mutex_lock(&db->mu);
    for (;;) {
        if (db->n_idle > 0) {
            *out = db->idle[--db->n_idle];
            pthread_mutex_unlock(&db->mu);
            return 0;
        }
        if (db->n_open < db->max) {
            db->n_open++;
            pthread_mutex_unlock(&db->mu);
            int rc = db->drv->conn_open(db->state, out);
            if (rc != 0) {
                pthread_mutex_lock(&db->mu);
                db->n_open--;
                pthread_cond_signal(&db->cv);
                pthread_mutex_unlock(&db->mu);
            }
            return rc;
        }
        pthread_cond_wait(&db->cv, &db->mu);
    }
}

static void conn_put(db_t *db, db_conn_t *c)
{
    db->drv->reset(c);
    if (db->drv->conn_is_broken(c)) {
        db->drv->conn_close(c);
        pthread_mutex_lock(&db->mu);
        db->n_open--;
    } else {
        pthread_mutex_lock(&db->mu);
        db->idle[db->n_idle++] = c;
    }
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

/* ==== statement helpers ================================================================== */

/* Runs a statement that returns no rows (or whose rows are ignored). */
static int exec(db_t *db, db_conn_t *c, enum db_stmt id, const db_param_t *p, size_t n)
{
    int rc = db->drv->query(c, id, p, n);
    while (rc == 0 && (rc = db->drv->next(c)) == 1)
        rc = 0;
    db->drv->reset(c);
    return rc;
}

/* Runs an UPDATE/DELETE and returns ERR_NOT_FOUND when it changed no row. */
static int exec_one(db_t *db, db_conn_t *c, enum db_stmt id, const db_param_t *p, size_t n)
{
    int rc = exec(db, c, id, p, n);
    if (rc == 0 && db->drv->changes(c) == 0)
        rc = ERR_NOT_FOUND;
    return rc;
}

/* Runs a statement returning one integer in the first column of its first row. */
static int query_int(db_t *db, db_conn_t *c, enum db_stmt id, const db_param_t *p, size_t n,
                     int64_t *out)
{
    int rc = db->drv->query(c, id, p, n);
    if (rc == 0) {
        rc = db->drv->next(c);
        if (rc == 1) {
            *out = db->drv->col_int(c, 0);
            /* Run the statement to its end: an autocommit INSERT ... RETURNING commits
               there (SQLite), and a failed commit must be reported, not lost in reset(). */
            while ((rc = db->drv->next(c)) == 1)
                ;
        } else if (rc == 0) {
            rc = ERR_NOT_FOUND;
        }
    }
    db->drv->reset(c);
    return rc;
}

static int tx_end(db_t *db, db_conn_t *c, int rc)
{
    if (rc == 0)
        return db->drv->commit(c);
    db->drv->rollback(c);
    return rc;
}

/* ==== opening and migrations ============================================================== */

/* Reads "pool=N" from the URL's query string, if any. */
static uint32_t url_pool_size(const char *url)
{
    const char *q = strchr(url, '?');
    while (q) {
        q++;
        if (strncmp(q, "pool=", 5) == 0) {
            char *end;
            unsigned long v = strtoul(q + 5, &end, 10);
            if (end != q + 5 && (*end == '\0' || *end == '&') && v >= 1 && v <= 1024)
                return (uint32_t)v;
            return 0;
        }
        q = strchr(q, '&');
    }
    return 0;
}

/* See db.h. */
int db_open(const char *url, const db_options_t *opts, db_t **out, char *err, size_t cap)
{
    char dummy[1];
    if (!err || cap == 0) {
        err = dummy;
        cap = sizeof dummy;
    }
    *err = '\0';
    *out = NULL;
    if (!url || !*url) {
        snprintf(err, cap, "database URL is empty");
        return ERR_CONFIG;
    }
    const struct db_driver *drv = NULL;
    const char *target = NULL;
    if (strncmp(url, "sqlite:", 7) == 0) {
        drv = &db__sqlite_driver;
        target = url + 7;
    } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        drv = &db__pg_driver;
        target = url; /* libpq parses the whole URL */
    } else {
        snprintf(err, cap,
                 "unsupported database URL scheme (expected sqlite:PATH or postgresql://...)");
        return ERR_CONFIG;
    }
    void *state = NULL;
    int rc = drv->open(target, opts, &state, err, cap);
    if (rc != 0)
        return rc;
    db_t *db = xcalloc(1, sizeof *db);
    db->drv = drv;
    db->state = state;
    db->max = url_pool_size(url);
    if (!db->max)
        db->max = opts && opts->max_connections ? opts->max_connections : DEFAULT_MAX_CONNECTIONS;
    db->idle = xcalloc(db->max, sizeof *db->idle);
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    pthread_mutex_init(&db->rot_mu, NULL);
    *out = db;
    return 0;
}

/* See db.h. */
void db_close(db_t *db)
{
    if (!db)
        return;
    for (uint32_t i = 0; i < db->n_idle; i++)
        db->drv->conn_close(db->idle[i]);
    if (db->n_open != db->n_idle)
        log_warn("msg=\"db_close with connections checked out\" open=%u idle=%u", db->n_open,
                 db->n_idle);
    if (db->rot_conn)
        db->drv->conn_close(db->rot_conn);
    db->drv->close(db->state);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->rot_mu);
    free(db->idle);
    free(db);
}

/* See db.h. */
const char *db_backend_name(const db_t *db)
{
    return db->drv->name;
}

/* See db.h. */
int db_schema_latest(void)
{
    return (int)db__sqlite_driver.n_migrations;
}

static int read_version(db_t *db, db_conn_t *c, int *version)
{
    int64_t v = 0;
    int rc = query_int(db, c, DB_STMT_SCHEMA_VERSION, NULL, 0, &v);
    if (rc == 0)
        *version = (int)v;
    return rc;
}

/* See db.h. */
int db_schema_version(db_t *db, int *version)
{
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    rc = db->drv->exec_script(c, db->drv->schema_version_ddl);
    if (rc == 0)
        rc = read_version(db, c, version);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_migrate(db_t *db, int *applied)
{
    return db_migrate_to(db, db_schema_latest(), applied);
}

/* See db.h. */
int db_migrate_to(db_t *db, int version, int *applied)
{
    size_t target = version < 0 ? 0 : (size_t)version;
    if (target > db->drv->n_migrations)
        target = db->drv->n_migrations;
    int n_applied = 0;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    rc = db->drv->exec_script(c, db->drv->schema_version_ddl);
    while (rc == 0) {
        int v = 0;
        if ((rc = db->drv->begin(c, true)) != 0)
            break;
        rc = exec(db, c, DB_STMT_SCHEMA_LOCK, NULL, 0);
        if (rc == 0)
            rc = read_version(db, c, &v);
        if (rc == 0 && (size_t)v > db->drv->n_migrations) {
            log_error("msg=\"database schema is newer than this jwtd\" version=%d known=%zu", v,
                      db->drv->n_migrations);
            rc = ERR_CONFIG;
        }
        if (rc != 0 || (size_t)v >= target) {
            db->drv->rollback(c);
            break;
        }
        rc = db->drv->exec_script(c, db->drv->migrations[v]);
        if (rc == 0) {
            db_param_t p[] = {p_int(v + 1), p_int(clock_now_s())};
            rc = exec(db, c, DB_STMT_SCHEMA_INSERT, p, NPARAMS(p));
        }
        rc = tx_end(db, c, rc);
        if (rc == 0) {
            n_applied++;
            log_info("msg=\"migration applied\" version=%d", v + 1);
        }
    }
    conn_put(db, c);
    if (applied)
        *applied = n_applied;
    return rc;
}

/* See db.h. */
int db_ping(db_t *db)
{
    db_conn_t *c;
    int64_t one = 0;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    rc = query_int(db, c, DB_STMT_PING, NULL, 0, &one);
    conn_put(db, c);
    return rc;
}

/* ==== users =============================================================================== */

static const char *const role_names[] = {"user", "instructor", "admin"};

/* See db.h. */
const char *db_role_name(enum db_role role)
{
    if ((unsigned)role < sizeof role_names / sizeof role_names[0])
        return role_names[role];
    return "user";
}

/* See db.h. */
int db_role_parse(const char *name, size_t len, enum db_role *out)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
        if (strlen(role_names[i]) == len && memcmp(role_names[i], name, len) == 0) {
            *out = (enum db_role)i;
            return 0;
        }
    }
    return ERR_INVALID;
}

/* See db.h. */
void db_user_dispose(db_user_t *u)
{
    if (!u)
        return;
    free(u->username);
    free(u->email);
    free(u->first_name);
    free(u->last_name);
    if (u->password_hash)
        free_secret(u->password_hash, strlen(u->password_hash));
    memset(u, 0, sizeof *u);
}

/* Reads DB_USER_COLS, starting at column b of the current row, into u. */
static void read_user_at(db_t *db, db_conn_t *c, int b, db_user_t *u)
{
    size_t len;
    const char *role;
    u->id = db->drv->col_int(c, b + 0);
    u->username = col_dup(db, c, b + 1);
    u->email = col_dup(db, c, b + 2);
    u->first_name = col_dup(db, c, b + 3);
    u->last_name = col_dup(db, c, b + 4);
    role = db->drv->col_text(c, b + 5, &len);
    if (!role || db_role_parse(role, len, &u->role) != 0)
        u->role = DB_ROLE_USER;
    u->premium = db->drv->col_int(c, b + 6) != 0;
    u->is_active = db->drv->col_int(c, b + 7) != 0;
    u->password_hash = col_dup(db, c, b + 8);
    u->created_at = db->drv->col_int(c, b + 9);
    u->last_login = col_ts(db, c, b + 10);
    u->revoke_before = db->drv->col_int(c, b + 11);
    u->updated_at = db->drv->col_int(c, b + 12);
}

/* Reads DB_USER_COLS of the current row into u. */
static void read_user(db_t *db, db_conn_t *c, db_user_t *u)
{
    read_user_at(db, c, 0, u);
}

static int query_user(db_t *db, db_conn_t *c, enum db_stmt id, const db_param_t *p, size_t n,
                      db_user_t *u)
{
    int rc = db->drv->query(c, id, p, n);
    if (rc == 0) {
        rc = db->drv->next(c);
        if (rc == 1) {
            read_user(db, c, u);
            rc = 0;
        } else if (rc == 0) {
            rc = ERR_NOT_FOUND;
        }
    }
    db->drv->reset(c);
    return rc;
}

/* See db.h. */
int db_user_create(db_t *db, const db_user_t *u, int64_t now, int64_t *id)
{
    size_t ulen = u->username ? strlen(u->username) : 0;
    if (ulen == 0 || ulen > MAX_USERNAME_BYTES || (unsigned)u->role > DB_ROLE_ADMIN)
        return ERR_INVALID;
    db_conn_t *c;
    int64_t new_id = 0;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_text(u->username),
                      p_text(u->email),
                      p_text(u->first_name),
                      p_text(u->last_name),
                      p_text(db_role_name(u->role)),
                      p_bool(u->premium),
                      p_bool(u->is_active),
                      p_text(u->password_hash),
                      p_int(now)};
    rc = query_int(db, c, DB_STMT_USER_INSERT, p, NPARAMS(p), &new_id);
    conn_put(db, c);
    if (rc == 0 && id)
        *id = new_id;
    return rc;
}

/* See db.h. */
int db_user_find_by_id(db_t *db, int64_t id, db_user_t *u)
{
    memset(u, 0, sizeof *u);
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(id)};
    rc = query_user(db, c, DB_STMT_USER_BY_ID, p, 1, u);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_user_find_by_username(db_t *db, const char *username, db_user_t *u)
{
    memset(u, 0, sizeof *u);
    if (!username || !*username)
        return ERR_NOT_FOUND;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_text(username)};
    rc = query_user(db, c, DB_STMT_USER_BY_USERNAME, p, 1, u);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
void db_user_list_dispose(db_user_list_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        db_user_dispose(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* See db.h. */
int db_user_list(db_t *db, int64_t after_id, uint32_t limit, db_user_list_t *list)
{
    memset(list, 0, sizeof *list);
    if (limit < 1 || limit > MAX_LIST_ROWS)
        return ERR_INVALID;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(after_id), p_int(limit)};
    list->items = xcalloc(limit, sizeof *list->items);
    rc = db->drv->query(c, DB_STMT_USER_LIST, p, NPARAMS(p));
    while (rc == 0 && (rc = db->drv->next(c)) == 1 && list->count < limit) {
        read_user(db, c, &list->items[list->count++]);
        rc = 0;
    }
    if (rc == 1)
        rc = 0;
    db->drv->reset(c);
    conn_put(db, c);
    if (rc != 0 || list->count == 0)
        db_user_list_dispose(list);
    return rc;
}

/* See db.h. */
int db_user_update_profile(db_t *db, int64_t id, const db_user_t *u, int64_t now)
{
    if ((unsigned)u->role > DB_ROLE_ADMIN)
        return ERR_INVALID;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_text(u->email),
                      p_text(u->first_name),
                      p_text(u->last_name),
                      p_text(db_role_name(u->role)),
                      p_bool(u->premium),
                      p_int(now),
                      p_int(id)};
    rc = exec_one(db, c, DB_STMT_USER_UPDATE_PROFILE, p, NPARAMS(p));
    conn_put(db, c);
    return rc;
}

/* Raises the watermark and revokes every open session of user id (inside a transaction). */
static int revoke_user_in_tx(db_t *db, db_conn_t *c, int64_t id, int64_t now, uint32_t *count)
{
    db_param_t p[] = {p_int(now), p_int(id)};
    int rc = exec_one(db, c, DB_STMT_USER_BUMP_WATERMARK, p, NPARAMS(p));
    if (rc == 0)
        rc = exec(db, c, DB_STMT_SESSION_REVOKE_USER, p, NPARAMS(p));
    if (rc == 0 && count)
        *count = (uint32_t)db->drv->changes(c);
    return rc;
}

/* See db.h. */
int db_user_set_password(db_t *db, int64_t id, const char *hash, bool revoke_sessions, int64_t now)
{
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    if ((rc = db->drv->begin(c, true)) == 0) {
        db_param_t p[] = {p_text(hash), p_int(now), p_int(id)};
        rc = exec_one(db, c, DB_STMT_USER_SET_PASSWORD, p, NPARAMS(p));
        if (rc == 0 && revoke_sessions)
            rc = revoke_user_in_tx(db, c, id, now, NULL);
        rc = tx_end(db, c, rc);
    }
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_user_set_active(db_t *db, int64_t id, bool is_active, int64_t now)
{
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    if ((rc = db->drv->begin(c, true)) == 0) {
        db_param_t p[] = {p_bool(is_active), p_int(now), p_int(id)};
        rc = exec_one(db, c, DB_STMT_USER_SET_ACTIVE, p, NPARAMS(p));
        if (rc == 0 && !is_active)
            rc = revoke_user_in_tx(db, c, id, now, NULL);
        rc = tx_end(db, c, rc);
    }
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_user_set_role(db_t *db, int64_t id, enum db_role role, int64_t now)
{
    if ((unsigned)role > DB_ROLE_ADMIN)
        return ERR_INVALID;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_text(db_role_name(role)), p_int(now), p_int(id)};
    rc = exec_one(db, c, DB_STMT_USER_SET_ROLE, p, NPARAMS(p));
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_user_set_last_login(db_t *db, int64_t id, int64_t now)
{
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(now), p_int(id)};
    rc = exec_one(db, c, DB_STMT_USER_SET_LAST_LOGIN, p, NPARAMS(p));
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_user_revoke_all(db_t *db, int64_t id, int64_t now, uint32_t *sessions_revoked)
{
    db_conn_t *c;
    uint32_t n = 0;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    if ((rc = db->drv->begin(c, true)) == 0) {
        rc = revoke_user_in_tx(db, c, id, now, &n);
        rc = tx_end(db, c, rc);
    }
    conn_put(db, c);
    if (rc == 0 && sessions_revoked)
        *sessions_revoked = n;
    return rc;
}

static bool str_differs(const char *stored, const char *given)
{
    return strcmp(stored ? stored : "", given ? given : "") != 0;
}

/* The body of db_user_import, inside the write transaction. */
static int import_in_tx(db_t *db, db_conn_t *c, const db_user_t *u, int64_t now,
                        enum db_import_status *status)
{
    db_user_t cur;
    memset(&cur, 0, sizeof cur);
    db_param_t k[] = {p_int(u->id)};
    int rc = query_user(db, c, DB_STMT_USER_BY_ID, k, 1, &cur);
    if (rc == ERR_NOT_FOUND) {
        db_param_t p[] = {p_int(u->id),
                          p_text(u->username),
                          p_text(u->email),
                          p_text(u->first_name),
                          p_text(u->last_name),
                          p_text(db_role_name(u->role)),
                          p_bool(u->premium),
                          p_bool(u->is_active),
                          p_text(u->password_hash),
                          p_int(u->created_at ? u->created_at : now),
                          p_ts_or_null(u->last_login),
                          p_int(now)};
        rc = exec(db, c, DB_STMT_USER_IMPORT_INSERT, p, NPARAMS(p));
        if (rc == 0)
            rc = exec(db, c, DB_STMT_USER_ID_SYNC, NULL, 0);
        *status = DB_IMPORT_CREATED;
        return rc;
    }
    if (rc != 0)
        return rc;
    if (str_differs(cur.username, u->username)) {
        /* the id belongs to someone else here: never merge two people */
        db_user_dispose(&cur);
        return ERR_CONFLICT;
    }
    /* jwtd's own hash (login rehash or a password change here) wins over the import */
    const char *hash =
        strncmp(cur.password_hash, "$argon2", 7) == 0 ? cur.password_hash : u->password_hash;
    bool deactivate = cur.is_active && !u->is_active;
    bool same = !str_differs(cur.username, u->username) && !str_differs(cur.email, u->email) &&
                !str_differs(cur.first_name, u->first_name) &&
                !str_differs(cur.last_name, u->last_name) && cur.role == u->role &&
                cur.premium == u->premium && cur.is_active == u->is_active &&
                !str_differs(cur.password_hash, hash);
    *status = same ? DB_IMPORT_UNCHANGED : DB_IMPORT_UPDATED;
    if (!same) {
        db_param_t p[] = {p_text(u->username),
                          p_text(u->email),
                          p_text(u->first_name),
                          p_text(u->last_name),
                          p_text(db_role_name(u->role)),
                          p_bool(u->premium),
                          p_bool(u->is_active),
                          p_text(hash),
                          p_int(now),
                          p_int(u->id)};
        rc = exec_one(db, c, DB_STMT_USER_IMPORT_UPDATE, p, NPARAMS(p));
        if (rc == 0 && deactivate)
            rc = revoke_user_in_tx(db, c, u->id, now, NULL);
    }
    db_user_dispose(&cur);
    return rc;
}

/* See db.h. */
int db_user_import(db_t *db, const db_user_t *u, int64_t now, enum db_import_status *status)
{
    size_t ulen = u->username ? strlen(u->username) : 0;
    if (u->id < 1 || ulen == 0 || ulen > MAX_USERNAME_BYTES || (unsigned)u->role > DB_ROLE_ADMIN)
        return ERR_INVALID;
    enum db_import_status st = DB_IMPORT_UNCHANGED;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    if ((rc = db->drv->begin(c, true)) == 0) {
        rc = import_in_tx(db, c, u, now, &st);
        rc = tx_end(db, c, rc);
    }
    conn_put(db, c);
    if (rc == 0 && status)
        *status = st;
    return rc;
}

/* See db.h. */
void db_watermark_list_dispose(db_watermark_list_t *list)
{
    if (!list)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* See db.h. */
int db_watermark_list(db_t *db, int64_t since, db_watermark_list_t *list)
{
    memset(list, 0, sizeof *list);
    db_conn_t *c;
    size_t cap = 0;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(since)};
    rc = db->drv->query(c, DB_STMT_WATERMARK_LIST, p, 1);
    while (rc == 0 && (rc = db->drv->next(c)) == 1) {
        if (list->count == cap) {
            cap = cap ? cap * 2 : 64;
            list->items = xrealloc(list->items, cap * sizeof *list->items);
        }
        list->items[list->count].user_id = db->drv->col_int(c, 0);
        list->items[list->count].revoke_before = db->drv->col_int(c, 1);
        list->count++;
        rc = 0;
    }
    db->drv->reset(c);
    conn_put(db, c);
    if (rc != 0)
        db_watermark_list_dispose(list);
    return rc;
}

/* ==== sessions ============================================================================ */

/* See db.h. */
void db_session_dispose(db_session_t *s)
{
    if (!s)
        return;
    free(s->client_ip);
    free(s->user_agent);
    memset(s, 0, sizeof *s);
}

/* Reads the session columns (id, user_id, created, last_used, revoked, ip, ua) into s. */
static void read_session(db_t *db, db_conn_t *c, db_session_t *s)
{
    col_id(db, c, 0, s->sid);
    s->user_id = db->drv->col_int(c, 1);
    s->created_at = db->drv->col_int(c, 2);
    s->last_used_at = db->drv->col_int(c, 3);
    s->revoked_at = col_ts(db, c, 4);
    s->client_ip = col_dup(db, c, 5);
    s->user_agent = col_dup(db, c, 6);
}

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

/* See db.h. */
int db_session_create(db_t *db, const db_session_t *s, const db_refresh_t *rt, int64_t now)
{
    if (!valid_id(s->sid) || (rt && !valid_id(rt->jti)))
        return ERR_INVALID;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    char *ip = clean_text(s->client_ip, MAX_CLIENT_IP_BYTES);
    char *ua = clean_text(s->user_agent, MAX_USER_AGENT_BYTES);
    if ((rc = db->drv->begin(c, true)) == 0) {
        db_param_t p[] = {p_text(s->sid), p_int(s->user_id), p_int(now), p_text(ip), p_text(ua)};
        rc = exec(db, c, DB_STMT_SESSION_INSERT, p, NPARAMS(p));
        if (rc == 0 && rt) {
            db_param_t q[] = {p_text(rt->jti),     p_text(s->sid),        p_text_or_null(NULL),
                              p_int(now),          p_int(rt->expires_at), p_ts_or_null(0),
                              p_text_or_null(NULL)};
            rc = exec(db, c, DB_STMT_REFRESH_INSERT, q, NPARAMS(q));
        }
        if (rc == 0) {
            db_param_t q[] = {p_int(now), p_int(s->user_id)};
            rc = exec_one(db, c, DB_STMT_USER_SET_LAST_LOGIN, q, NPARAMS(q));
        }
        rc = tx_end(db, c, rc);
    }
    free(ip);
    free(ua);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_session_get(db_t *db, const char *sid, db_session_t *s)
{
    memset(s, 0, sizeof *s);
    if (!valid_id(sid))
        return ERR_NOT_FOUND;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_text(sid)};
    rc = db->drv->query(c, DB_STMT_SESSION_GET, p, 1);
    if (rc == 0) {
        rc = db->drv->next(c);
        if (rc == 1) {
            read_session(db, c, s);
            rc = 0;
        } else if (rc == 0) {
            rc = ERR_NOT_FOUND;
        }
    }
    db->drv->reset(c);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_session_touch(db_t *db, const char *sid, int64_t now, int64_t min_interval_s)
{
    if (!valid_id(sid))
        return ERR_NOT_FOUND;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(now), p_text(sid), p_int(now - min_interval_s)};
    rc = exec(db, c, DB_STMT_SESSION_TOUCH, p, NPARAMS(p));
    if (rc == 0 && db->drv->changes(c) == 0) {
        /* Throttled, or no such session: tell them apart. */
        db_param_t q[] = {p_text(sid)};
        rc = db->drv->query(c, DB_STMT_SESSION_GET, q, 1);
        if (rc == 0)
            rc = db->drv->next(c) == 1 ? 0 : ERR_NOT_FOUND;
        db->drv->reset(c);
    }
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_session_revoke(db_t *db, const char *sid, int64_t now, bool *was_active)
{
    if (was_active)
        *was_active = false;
    if (!valid_id(sid))
        return ERR_NOT_FOUND;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(now), p_text(sid)};
    rc = exec(db, c, DB_STMT_SESSION_REVOKE, p, NPARAMS(p));
    if (rc == 0 && db->drv->changes(c) == 1) {
        if (was_active)
            *was_active = true;
    } else if (rc == 0) {
        db_param_t q[] = {p_text(sid)};
        rc = db->drv->query(c, DB_STMT_SESSION_GET, q, 1);
        if (rc == 0)
            rc = db->drv->next(c) == 1 ? 0 : ERR_NOT_FOUND;
        db->drv->reset(c);
    }
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_session_revoke_all_for_user(db_t *db, int64_t user_id, int64_t now, uint32_t *count)
{
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(now), p_int(user_id)};
    rc = exec(db, c, DB_STMT_SESSION_REVOKE_USER, p, NPARAMS(p));
    if (rc == 0 && count)
        *count = (uint32_t)db->drv->changes(c);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
void db_session_list_dispose(db_session_list_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        db_session_dispose(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int list_sessions(db_t *db, enum db_stmt id, const db_param_t *p, size_t n,
                         db_session_list_t *list)
{
    memset(list, 0, sizeof *list);
    db_conn_t *c;
    size_t cap = 0;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    rc = db->drv->query(c, id, p, n);
    while (rc == 0 && (rc = db->drv->next(c)) == 1) {
        if (list->count == cap) {
            cap = cap ? cap * 2 : 16;
            list->items = xrealloc(list->items, cap * sizeof *list->items);
        }
        memset(&list->items[list->count], 0, sizeof list->items[0]);
        read_session(db, c, &list->items[list->count++]);
        rc = 0;
    }
    db->drv->reset(c);
    conn_put(db, c);
    if (rc != 0)
        db_session_list_dispose(list);
    return rc;
}

/* See db.h. */
int db_session_list_active(db_t *db, int64_t user_id, int64_t now, db_session_list_t *list)
{
    db_param_t p[] = {p_int(user_id), p_int(now)};
    return list_sessions(db, DB_STMT_SESSION_LIST_ACTIVE, p, NPARAMS(p), list);
}

/* See db.h. */
int db_session_list_revoked(db_t *db, int64_t since, db_session_list_t *list)
{
    db_param_t p[] = {p_int(since)};
    return list_sessions(db, DB_STMT_SESSION_LIST_REVOKED, p, NPARAMS(p), list);
}

/* ==== refresh tokens ====================================================================== */

static int insert_refresh(db_t *db, db_conn_t *c, const db_refresh_t *rt)
{
    db_param_t p[] = {p_text(rt->jti),
                      p_text(rt->sid),
                      p_text_or_null(rt->parent_jti),
                      p_int(rt->issued_at),
                      p_int(rt->expires_at),
                      p_ts_or_null(rt->used_at),
                      p_text_or_null(rt->replaced_by)};
    return exec(db, c, DB_STMT_REFRESH_INSERT, p, NPARAMS(p));
}

/* See db.h. */
int db_refresh_insert(db_t *db, const db_refresh_t *rt)
{
    if (!valid_id(rt->jti) || !valid_id(rt->sid))
        return ERR_INVALID;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    rc = insert_refresh(db, c, rt);
    conn_put(db, c);
    return rc;
}

static int get_refresh(db_t *db, db_conn_t *c, const char *sid, const char *jti, db_refresh_t *rt)
{
    db_param_t p[] = {p_text(sid), p_text(jti)};
    int rc = db->drv->query(c, DB_STMT_REFRESH_GET, p, NPARAMS(p));
    if (rc == 0) {
        rc = db->drv->next(c);
        if (rc == 1) {
            col_id(db, c, 0, rt->jti);
            col_id(db, c, 1, rt->sid);
            col_id(db, c, 2, rt->parent_jti);
            rt->issued_at = db->drv->col_int(c, 3);
            rt->expires_at = db->drv->col_int(c, 4);
            rt->used_at = col_ts(db, c, 5);
            col_id(db, c, 6, rt->replaced_by);
            rc = 0;
        } else if (rc == 0) {
            rc = ERR_NOT_FOUND;
        }
    }
    db->drv->reset(c);
    return rc;
}

/* See db.h. */
int db_refresh_get(db_t *db, const char *sid, const char *jti, db_refresh_t *rt)
{
    memset(rt, 0, sizeof *rt);
    if (!valid_id(sid) || !valid_id(jti))
        return ERR_NOT_FOUND;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    rc = get_refresh(db, c, sid, jti, rt);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
void db_rotate_result_dispose(db_rotate_result_t *r)
{
    if (!r)
        return;
    db_user_dispose(&r->user);
}

/* The row ROTATE_LOAD returns, copied out before the next statement runs. */
struct rotate_row {
    char sid[DB_ID_MAX + 1];
    int64_t issued_at, expires_at, used_at;
    char replaced_by[DB_ID_MAX + 1];
    int64_t session_revoked_at;
    db_user_t user; /* the session's user (dispose it) */
};

static int rotate_load(db_t *db, db_conn_t *c, const char *sid, const char *jti,
                       struct rotate_row *r)
{
    db_param_t p[] = {p_text(sid), p_text(jti)};
    int rc = db->drv->query(c, DB_STMT_ROTATE_LOAD, p, NPARAMS(p));
    if (rc == 0) {
        rc = db->drv->next(c);
        if (rc == 1) {
            col_id(db, c, 0, r->sid);
            r->issued_at = db->drv->col_int(c, 1);
            r->expires_at = db->drv->col_int(c, 2);
            r->used_at = col_ts(db, c, 3);
            col_id(db, c, 4, r->replaced_by);
            r->session_revoked_at = col_ts(db, c, 5);
            read_user_at(db, c, 6, &r->user);
            rc = 0;
        } else if (rc == 0) {
            rc = ERR_NOT_FOUND;
        }
    }
    db->drv->reset(c);
    return rc;
}

/* The body of a rotation, inside the write transaction, given the loaded row r (whose user
   the caller hands to out or disposes). */
static int rotate_decide(db_t *db, db_conn_t *c, const char *old_jti, const char *new_jti,
                         int64_t new_exp, int64_t now, int64_t grace_s, const struct rotate_row *r,
                         db_rotate_result_t *out)
{
    int rc;
    out->user_id = r->user.id;
    memcpy(out->sid, r->sid, sizeof out->sid);
    if (r->session_revoked_at != 0) {
        out->reason = "session_revoked";
        return 0;
    }
    if (!r->user.is_active) {
        out->reason = "user_inactive";
        return 0;
    }
    if (r->issued_at < r->user.revoke_before) {
        out->reason = "watermark";
        return 0;
    }
    if (r->expires_at <= now) {
        out->reason = "expired";
        return 0;
    }
    if (r->used_at == 0) {
        db_param_t p[] = {p_int(now), p_text(new_jti), p_text(r->sid), p_text(old_jti)};
        if ((rc = exec_one(db, c, DB_STMT_ROTATE_MARK, p, NPARAMS(p))) != 0)
            return rc == ERR_NOT_FOUND ? ERR_INTERNAL : rc; /* impossible under the lock */
        db_refresh_t succ;
        memset(&succ, 0, sizeof succ);
        snprintf(succ.jti, sizeof succ.jti, "%s", new_jti);
        memcpy(succ.sid, r->sid, sizeof succ.sid);
        snprintf(succ.parent_jti, sizeof succ.parent_jti, "%s", old_jti);
        succ.issued_at = now;
        succ.expires_at = new_exp;
        if ((rc = insert_refresh(db, c, &succ)) != 0)
            return rc;
        db_param_t q[] = {p_int(now), p_text(r->sid)};
        if ((rc = exec(db, c, DB_STMT_SESSION_SET_USED, q, NPARAMS(q))) != 0)
            return rc;
        out->status = DB_ROTATE_ROTATED;
        out->reason = "rotated";
        memcpy(out->successor_jti, succ.jti, sizeof out->successor_jti);
        out->successor_issued_at = now;
        out->successor_expires_at = new_exp;
        return 0;
    }
    if (now - r->used_at <= grace_s && r->replaced_by[0]) {
        db_refresh_t succ;
        memset(&succ, 0, sizeof succ);
        if ((rc = get_refresh(db, c, r->sid, r->replaced_by, &succ)) != 0)
            return rc == ERR_NOT_FOUND ? 0 : rc; /* successor flushed: stays NOT_VALID */
        out->status = DB_ROTATE_REUSED_WITHIN_GRACE;
        out->reason = "grace";
        memcpy(out->successor_jti, succ.jti, sizeof out->successor_jti);
        out->successor_issued_at = succ.issued_at;
        out->successor_expires_at = succ.expires_at;
        return 0;
    }
    db_param_t p[] = {p_int(now), p_text(r->sid)};
    if ((rc = exec(db, c, DB_STMT_SESSION_REVOKE, p, NPARAMS(p))) != 0)
        return rc;
    out->status = DB_ROTATE_REUSE_DETECTED;
    out->reason = "reuse";
    return 0;
}

/* One rotation inside the write transaction: ROTATE_LOAD (the token with its session and
   user in one statement), then the decision and its writes. */
static int rotate_in_tx(db_t *db, db_conn_t *c, const char *sid, const char *old_jti,
                        const char *new_jti, int64_t new_exp, int64_t now, int64_t grace_s,
                        db_rotate_result_t *out)
{
    struct rotate_row r;
    memset(&r, 0, sizeof r);
    int rc = rotate_load(db, c, sid, old_jti, &r);
    if (rc == ERR_NOT_FOUND) {
        out->reason = "unknown";
        return 0;
    }
    if (rc == 0)
        rc = rotate_decide(db, c, old_jti, new_jti, new_exp, now, grace_s, &r, out);
    if (rc == 0 &&
        (out->status == DB_ROTATE_ROTATED || out->status == DB_ROTATE_REUSED_WITHIN_GRACE))
        out->user = r.user; /* the user row of the access token (see db.h) */
    else
        db_user_dispose(&r.user);
    return rc;
}

/* A rotation's result back to NOT_VALID/"error" after a failed or rolled-back transaction. */
static void rotate_result_reset(db_rotate_result_t *out, const char *reason)
{
    db_rotate_result_dispose(out);
    memset(out, 0, sizeof *out);
    out->status = DB_ROTATE_NOT_VALID;
    out->reason = reason;
}

/* One rotation in a transaction of its own on connection c (PostgreSQL: a pool connection;
   SQLite: rot_conn). */
static int rotate_one(db_t *db, db_conn_t *c, const char *sid, const char *old_jti,
                      const char *new_jti, int64_t new_exp, int64_t now, int64_t grace_s,
                      db_rotate_result_t *out)
{
    int rc = db->drv->begin(c, true);
    if (rc == 0) {
        rc = rotate_in_tx(db, c, sid, old_jti, new_jti, new_exp, now, grace_s, out);
        /* NOT_VALID wrote nothing; committing it is as cheap as rolling back. */
        rc = tx_end(db, c, rc);
    }
    if (rc != 0)
        rotate_result_reset(out, "error");
    return rc;
}

/* See db.h. */
int db_refresh_rotate(db_t *db, const char *sid, const char *old_jti, const char *new_jti,
                      int64_t new_exp, int64_t now, int64_t grace_s, db_rotate_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->status = DB_ROTATE_NOT_VALID;
    out->reason = "unknown";
    if (!valid_id(new_jti))
        return ERR_INVALID;
    if (!valid_id(sid) || !valid_id(old_jti))
        return 0;
    db_conn_t *c;
    int rc = 0;
    if (db->drv != &db__sqlite_driver) {
        if ((rc = conn_get(db, &c)) != 0)
            return rc;
        rc = rotate_one(db, c, sid, old_jti, new_jti, new_exp, now, grace_s, out);
        conn_put(db, c);
        return rc;
    }
    pthread_mutex_lock(&db->rot_mu); /* see rot_conn */
    if (!db->rot_conn)
        rc = db->drv->conn_open(db->state, &db->rot_conn);
    if (db->rot_conn) {
        c = db->rot_conn;
        rc = rotate_one(db, c, sid, old_jti, new_jti, new_exp, now, grace_s, out);
        db->drv->reset(c);
        if (db->drv->conn_is_broken(c)) {
            db->drv->conn_close(c);
            db->rot_conn = NULL;
        }
    }
    pthread_mutex_unlock(&db->rot_mu);
    return rc;
}

/* ==== access-token revocations ============================================================ */

/* See db.h. */
void db_revoked_list_dispose(db_revoked_list_t *list)
{
    if (!list)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* See db.h. */
int db_revoked_insert(db_t *db, const char *jti, int64_t expires_at, int64_t now,
                      const char *reason)
{
    if (!valid_id(jti))
        return ERR_INVALID;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_text(jti), p_int(expires_at), p_int(now), p_text(reason)};
    rc = exec(db, c, DB_STMT_REVOKED_INSERT, p, NPARAMS(p));
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_revoked_list(db_t *db, int64_t now, db_revoked_list_t *list)
{
    memset(list, 0, sizeof *list);
    db_conn_t *c;
    size_t cap = 0;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(now)};
    rc = db->drv->query(c, DB_STMT_REVOKED_LIST, p, 1);
    while (rc == 0 && (rc = db->drv->next(c)) == 1) {
        if (list->count == cap) {
            cap = cap ? cap * 2 : 64;
            list->items = xrealloc(list->items, cap * sizeof *list->items);
        }
        col_id(db, c, 0, list->items[list->count].jti);
        list->items[list->count].expires_at = db->drv->col_int(c, 1);
        list->count++;
        rc = 0;
    }
    db->drv->reset(c);
    conn_put(db, c);
    if (rc != 0)
        db_revoked_list_dispose(list);
    return rc;
}

/* ==== housekeeping ======================================================================== */

/* See db.h. */
int db_flush_expired(db_t *db, int64_t now, int64_t retain_s, db_flush_stats_t *stats)
{
    db_flush_stats_t st = {0, 0, 0};
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    if ((rc = db->drv->begin(c, true)) == 0) {
        db_param_t p[] = {p_int(now)};
        rc = exec(db, c, DB_STMT_FLUSH_REFRESH, p, 1);
        if (rc == 0) {
            st.refresh_tokens = (uint32_t)db->drv->changes(c);
            rc = exec(db, c, DB_STMT_FLUSH_REVOKED, p, 1);
        }
        if (rc == 0) {
            st.revoked_tokens = (uint32_t)db->drv->changes(c);
            db_param_t q[] = {p_int(now - retain_s)};
            rc = exec(db, c, DB_STMT_FLUSH_SESSIONS, q, 1);
        }
        if (rc == 0)
            st.sessions = (uint32_t)db->drv->changes(c);
        rc = tx_end(db, c, rc);
    }
    conn_put(db, c);
    if (rc == 0 && stats)
        *stats = st;
    return rc;
}

/* ==== posts ================================================================================ */

/* See db.h. */
void db_post_dispose(db_post_t *p)
{
    if (!p)
        return;
    free(p->author);
    free(p->title);
    free(p->body);
    memset(p, 0, sizeof *p);
}

/* See db.h. */
void db_post_list_dispose(db_post_list_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        db_post_dispose(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static void read_post(db_t *db, db_conn_t *c, db_post_t *p)
{
    p->id = db->drv->col_int(c, 0);
    p->author_id = db->drv->col_int(c, 1);
    p->author = col_dup(db, c, 2);
    p->title = col_dup(db, c, 3);
    p->body = col_dup(db, c, 4);
    p->created_at = db->drv->col_int(c, 5);
    p->updated_at = db->drv->col_int(c, 6);
}

/* See db.h. */
int db_post_create(db_t *db, int64_t author_id, const char *title, const char *body, int64_t now,
                   int64_t *id)
{
    db_conn_t *c;
    int64_t new_id = 0;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(author_id), p_text(title), p_text(body), p_int(now)};
    rc = query_int(db, c, DB_STMT_POST_INSERT, p, NPARAMS(p), &new_id);
    conn_put(db, c);
    if (rc == 0 && id)
        *id = new_id;
    return rc;
}

/* See db.h. */
int db_post_get(db_t *db, int64_t id, db_post_t *out)
{
    memset(out, 0, sizeof *out);
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(id)};
    rc = db->drv->query(c, DB_STMT_POST_GET, p, NPARAMS(p));
    if (rc == 0) {
        rc = db->drv->next(c);
        if (rc == 1) {
            read_post(db, c, out);
            rc = 0;
        } else if (rc == 0) {
            rc = ERR_NOT_FOUND;
        }
    }
    db->drv->reset(c);
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_post_list(db_t *db, uint32_t offset, uint32_t limit, db_post_list_t *list, int64_t *total)
{
    memset(list, 0, sizeof *list);
    if (limit < 1 || limit > MAX_LIST_ROWS)
        return ERR_INVALID;
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    int64_t count = 0;
    rc = query_int(db, c, DB_STMT_POST_COUNT, NULL, 0, &count);
    if (rc == 0) {
        db_param_t p[] = {p_int(limit), p_int(offset)};
        list->items = xcalloc(limit, sizeof *list->items);
        rc = db->drv->query(c, DB_STMT_POST_LIST, p, NPARAMS(p));
        while (rc == 0 && list->count < limit && (rc = db->drv->next(c)) == 1) {
            read_post(db, c, &list->items[list->count++]);
            rc = 0;
        }
        if (rc == 1)
            rc = 0;
        db->drv->reset(c);
    }
    conn_put(db, c);
    if (rc != 0)
        db_post_list_dispose(list);
    else if (total)
        *total = count;
    return rc;
}

/* See db.h. */
int db_post_update(db_t *db, int64_t id, const char *title, const char *body, int64_t now)
{
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_text(title), p_text(body), p_int(now), p_int(id)};
    rc = exec_one(db, c, DB_STMT_POST_UPDATE, p, NPARAMS(p));
    conn_put(db, c);
    return rc;
}

/* See db.h. */
int db_post_delete(db_t *db, int64_t id)
{
    db_conn_t *c;
    int rc = conn_get(db, &c);
    if (rc != 0)
        return rc;
    db_param_t p[] = {p_int(id)};
    rc = exec_one(db, c, DB_STMT_POST_DELETE, p, NPARAMS(p));
    conn_put(db, c);
    return rc;
}

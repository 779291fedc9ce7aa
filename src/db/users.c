/*
 * users.c - the users table (db.h "users"): roles, creation and lookups, keyset listing,
 * profile/password/role/activation updates, logout-all, the import of users from another
 * system and the watermark list the revocation index loads. Each operation is a statement or
 * one transaction through the runner (run.c); the SQL text is in sql.c. Sessions, refresh
 * tokens and revocations have files of their own, though deactivation and password changes
 * revoke sessions here, in their own transaction (db__revoke_user_in_tx; on PostgreSQL in one
 * statement, db__pg_revoke_user, when nothing else shares the transaction).
 */
#include "db/db.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"
#include "common/text.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define MAX_USERNAME_CHARS 150
#define MAX_LIST_ROWS      1000

static const char *const role_names[] = {"user", "instructor", "admin"};

/* ==== roles and rows ====================================================================== */

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

/* See db_internal.h. */
void db__read_user_at(const db_row_t *row, int base, db_user_t *u)
{
    size_t len;
    const char *role = db_row_text(row, base + 5, &len);
    u->id = db_row_int(row, base + 0);
    u->username = db_row_strdup(row, base + 1);
    u->email = db_row_strdup(row, base + 2);
    u->first_name = db_row_strdup(row, base + 3);
    u->last_name = db_row_strdup(row, base + 4);
    if (!role || db_role_parse(role, len, &u->role) != 0)
        u->role = DB_ROLE_USER;
    u->premium = db_row_int(row, base + 6) != 0;
    u->is_active = db_row_int(row, base + 7) != 0;
    u->password_hash = db_row_strdup(row, base + 8);
    u->created_at = db_row_int(row, base + 9);
    u->last_login = db_row_int(row, base + 10);
    u->revoke_before = db_row_int(row, base + 11);
    u->updated_at = db_row_int(row, base + 12);
}

/* A db_row_cb reading the user columns into the db_user_t arg. */
static int read_user_row(void *arg, const db_row_t *row)
{
    db__read_user_at(row, 0, arg);
    return 0;
}

#define PROFILE_NPARAMS 8

/* The parameters every user write starts with: username, email, first name, last name,
   role, premium, active, password hash (hash, borrowed like u's strings). */
static void profile_params(const db_user_t *u, const char *hash, db_param_t p[PROFILE_NPARAMS])
{
    p[0] = db_text(u->username);
    p[1] = db_text(u->email);
    p[2] = db_text(u->first_name);
    p[3] = db_text(u->last_name);
    p[4] = db_text(db_role_name(u->role));
    p[5] = db_bool(u->premium);
    p[6] = db_bool(u->is_active);
    p[7] = db_text(hash);
}

/* The schema's limit counts characters (VARCHAR(150) in PostgreSQL), as Django does. */
static bool valid_user(const db_user_t *u)
{
    str_t name = str_cstr(u->username ? u->username : "");
    if (name.len < 1 || name.len > 4 * MAX_USERNAME_CHARS || !text_utf8_valid(name))
        return false;
    return text_utf8_chars(name) <= MAX_USERNAME_CHARS && (unsigned)u->role <= DB_ROLE_ADMIN;
}

/* ==== creation and lookups ================================================================ */

/* See db.h. */
int db_user_create(db_t *db, const db_user_t *u, int64_t now, int64_t *id)
{
    if (!valid_user(u))
        return ERR_INVALID;
    int64_t new_id = 0;
    db_param_t p[PROFILE_NPARAMS + 1];
    profile_params(u, u->password_hash, p);
    p[PROFILE_NPARAMS] = db_int(now);
    int rc = db_query_one(db, DB_SQL(USER_INSERT), p, DB_NPARAMS(p), db_row_read_int, &new_id);
    if (rc == 0 && id)
        *id = new_id;
    return rc;
}

/* See db.h. */
int db_user_find_by_id(db_t *db, int64_t id, db_user_t *u)
{
    memset(u, 0, sizeof *u);
    db_param_t p[] = {db_int(id)};
    return db_query_one(db, DB_SQL(USER_BY_ID), p, DB_NPARAMS(p), read_user_row, u);
}

/* See db.h. */
int db_user_find_by_username(db_t *db, const char *username, db_user_t *u)
{
    memset(u, 0, sizeof *u);
    if (!username || !*username)
        return ERR_NOT_FOUND;
    db_param_t p[] = {db_text(username)};
    return db_query_one(db, DB_SQL(USER_BY_USERNAME), p, DB_NPARAMS(p), read_user_row, u);
}

/* See db.h. */
/* A db_row_cb reading the user columns, then email_verified, into a struct user_verified. */
struct user_verified {
    db_user_t *u;
    bool verified;
};

static int read_user_verified_row(void *arg, const db_row_t *row)
{
    struct user_verified *uv = arg;
    db__read_user_at(row, 0, uv->u);
    uv->verified = db_row_int(row, DB_USER_NCOLS) != 0;
    return 0;
}

/* See db.h. */
int db_user_find_by_email(db_t *db, const char *email, db_user_t *u, bool *email_verified)
{
    memset(u, 0, sizeof *u);
    if (email_verified)
        *email_verified = false;
    if (!email || !*email)
        return ERR_NOT_FOUND;
    struct user_verified uv = {u, false};
    db_param_t p[] = {db_text(email)};
    int rc = db_query_one(db, DB_SQL(USER_BY_EMAIL), p, DB_NPARAMS(p), read_user_verified_row, &uv);
    if (rc == 0 && email_verified)
        *email_verified = uv.verified;
    return rc;
}

/* See db.h. */
int db_user_email_verified(db_t *db, int64_t id, bool *verified)
{
    int64_t v = 0;
    db_param_t p[] = {db_int(id)};
    int rc = db_query_one(db, DB_SQL(USER_EMAIL_VERIFIED), p, DB_NPARAMS(p), db_row_read_int, &v);
    *verified = rc == 0 && v != 0;
    return rc;
}

/* See db.h. */
int db_tx_user_create(db_tx_t *tx, const db_user_t *u, bool email_verified, int64_t now,
                      int64_t *id)
{
    if (!valid_user(u))
        return ERR_INVALID;
    int64_t new_id = 0;
    db_param_t p[PROFILE_NPARAMS + 2];
    profile_params(u, u->password_hash, p);
    p[PROFILE_NPARAMS] = db_int(now);
    p[PROFILE_NPARAMS + 1] = db_bool(email_verified);
    int rc = db_tx_query_one(tx, DB_SQL(USER_INSERT_VERIFIED), p, DB_NPARAMS(p), db_row_read_int,
                             &new_id);
    if (rc == 0 && id)
        *id = new_id;
    return rc;
}

/* See db.h. */
int db_tx_user_find_by_id(db_tx_t *tx, int64_t id, db_user_t *u)
{
    memset(u, 0, sizeof *u);
    db_param_t p[] = {db_int(id)};
    return db_tx_query_one(tx, DB_SQL(USER_BY_ID), p, DB_NPARAMS(p), read_user_row, u);
}

static void dispose_user(void *item)
{
    db_user_dispose(item);
}

/* See db.h. */
void db_user_list_dispose(db_user_list_t *list)
{
    const db_list_def_t rows = {sizeof(db_user_t), 0, read_user_row, dispose_user};
    DB_LIST_RELEASE(&rows, list);
}

/* See db.h. */
int db_user_list(db_t *db, int64_t after_id, uint32_t limit, db_user_list_t *list)
{
    memset(list, 0, sizeof *list);
    if (limit < 1 || limit > MAX_LIST_ROWS)
        return ERR_INVALID;
    const db_list_def_t rows = {sizeof(db_user_t), limit, read_user_row, dispose_user};
    db_param_t p[] = {db_int(after_id), db_int(limit)};
    return DB_QUERY_LIST(db, DB_SQL(USER_LIST), p, DB_NPARAMS(p), &rows, list);
}

/* The LIKE pattern of a search: %q%, lowercased (ASCII), with %, _ and \\ escaped; "" for
   no filter. The caller frees it. */
static char *search_pattern(const char *q)
{
    size_t n = q ? strlen(q) : 0;
    char *p = xmalloc(2 * n + 3);
    size_t k = 0;
    if (n == 0) {
        p[0] = '\0';
        return p;
    }
    p[k++] = '%';
    for (size_t i = 0; i < n; i++) {
        char c = q[i];
        if (c == '%' || c == '_' || c == '\\')
            p[k++] = '\\';
        p[k++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    p[k++] = '%';
    p[k] = '\0';
    return p;
}

static int read_admin_user_row(void *arg, const db_row_t *row)
{
    db_admin_user_t *a = arg;
    db__read_user_at(row, 0, &a->user);
    a->email_verified = db_row_int(row, DB_USER_NCOLS) != 0;
    return 0;
}

static void dispose_admin_user(void *item)
{
    db_admin_user_t *a = item;
    db_user_dispose(&a->user);
}

static const db_list_def_t ADMIN_USER_ROWS = {sizeof(db_admin_user_t), 0, read_admin_user_row,
                                              dispose_admin_user};

/* See db.h. */
void db_admin_user_list_dispose(db_admin_user_list_t *list)
{
    DB_LIST_RELEASE(&ADMIN_USER_ROWS, list);
}

/* See db.h. */
int db_user_search(db_t *db, const char *q, uint64_t offset, uint32_t limit,
                   db_admin_user_list_t *list, int64_t *total)
{
    memset(list, 0, sizeof *list);
    if (limit < 1 || limit > MAX_LIST_ROWS || offset > INT64_MAX)
        return ERR_INVALID;
    char *pattern = search_pattern(q);
    int rc = 0;
    if (total) {
        *total = 0;
        db_param_t c[] = {db_text(pattern)};
        rc = db_query_one(db, DB_SQL(USER_SEARCH_COUNT), c, DB_NPARAMS(c), db_row_read_int, total);
    }
    if (rc == 0) {
        db_list_def_t rows = ADMIN_USER_ROWS;
        rows.limit = limit;
        db_param_t p[] = {db_text(pattern), db_int(limit), db_int((int64_t)offset)};
        rc = DB_QUERY_LIST(db, DB_SQL(USER_SEARCH), p, DB_NPARAMS(p), &rows, list);
    }
    free(pattern);
    return rc;
}

/* ==== updates ============================================================================= */

/* See db.h. */
int db_user_update_profile(db_t *db, int64_t id, const db_user_t *u, int64_t now)
{
    if ((unsigned)u->role > DB_ROLE_ADMIN)
        return ERR_INVALID;
    db_param_t p[] = {db_text(u->email),
                      db_text(u->first_name),
                      db_text(u->last_name),
                      db_text(db_role_name(u->role)),
                      db_bool(u->premium),
                      db_int(now),
                      db_int(id)};
    return db__exec_one(db, DB_SQL(USER_UPDATE_PROFILE), p, DB_NPARAMS(p));
}

/* See db_internal.h. */
int db__revoke_user_in_tx(db_tx_t *tx, int64_t id, int64_t now, uint32_t *count)
{
    int64_t revoked = 0;
    db_param_t p[] = {db_int(now), db_int(id)};
    int rc = db__tx_exec_one(tx, DB_SQL(USER_BUMP_WATERMARK), p, DB_NPARAMS(p));
    if (rc == 0)
        rc = db_tx_exec(tx, DB_SQL(SESSION_REVOKE_USER), p, DB_NPARAMS(p), &revoked);
    if (rc == 0 && count)
        *count = (uint32_t)revoked;
    return rc;
}

/* The counts db__pg_revoke_user returns. */
struct pg_revoked {
    int64_t users, sessions;
};

static int read_pg_revoked(void *arg, const db_row_t *row)
{
    struct pg_revoked *r = arg;
    r->users = db_row_int(row, 0);
    r->sessions = db_row_int(row, 1);
    return 0;
}

/*
 * PostgreSQL: the watermark, every open session and an optional new password or active
 * flag (value of DB_PARAM_NULL: unchanged) in one autocommit statement, one round trip
 * instead of four (BEGIN + update, revoke sessions, COMMIT). OUT: *count (may be NULL).
 */
static int revoke_user_pg(db_t *db, int64_t id, int64_t now, db_param_t password, db_param_t active,
                          uint32_t *count)
{
    struct pg_revoked r = {0, 0};
    db_param_t p[] = {db_int(now), db_int(id), password, active};
    int rc = db_query_one(db, &db__pg_revoke_user, p, DB_NPARAMS(p), read_pg_revoked, &r);
    if (rc == 0 && r.users == 0)
        rc = ERR_NOT_FOUND;
    if (rc == 0 && count)
        *count = (uint32_t)r.sessions;
    return rc;
}

/* One column update of user id (a password or the active flag) and, when revoke is set,
   the watermark and every open session, in one transaction. */
struct user_update {
    const db_stmt_def_t *def;
    db_param_t value;
    int64_t id, now;
    bool revoke;
};

static int user_update_body(db_tx_t *tx, void *arg)
{
    const struct user_update *a = arg;
    db_param_t p[] = {a->value, db_int(a->now), db_int(a->id)};
    int rc = db__tx_exec_one(tx, a->def, p, DB_NPARAMS(p));
    if (rc == 0 && a->revoke)
        rc = db__revoke_user_in_tx(tx, a->id, a->now, NULL);
    return rc;
}

/* See db.h. */
int db_user_set_password(db_t *db, int64_t id, const char *hash, bool revoke_sessions, int64_t now)
{
    if (revoke_sessions && db->drv->backend == DB_BACKEND_PG)
        return revoke_user_pg(db, id, now, db_text(hash), db_null(), NULL);
    struct user_update a = {DB_SQL(USER_SET_PASSWORD), db_text(hash), id, now, revoke_sessions};
    return db_transact(db, user_update_body, &a);
}

/* See db.h. */
int db_tx_user_set_password(db_tx_t *tx, int64_t id, const char *hash, bool revoke, int64_t now)
{
    struct user_update a = {DB_SQL(USER_SET_PASSWORD), db_text(hash), id, now, revoke};
    return user_update_body(tx, &a);
}

/* See db.h. */
int db_tx_user_set_email(db_tx_t *tx, int64_t id, const char *email, bool verified, int64_t now)
{
    db_user_t cur;
    int rc = db_tx_user_find_by_id(tx, id, &cur);
    if (rc == 0) {
        db_param_t p[] = {db_text(email ? email : cur.email), db_bool(verified), db_int(now),
                          db_int(id)};
        rc = db__tx_exec_one(tx, DB_SQL(USER_SET_EMAIL), p, DB_NPARAMS(p));
    }
    db_user_dispose(&cur);
    return rc;
}

/* See db.h. */
int db_tx_session_revoke_others(db_tx_t *tx, int64_t user_id, const char *keep_sid, int64_t now,
                                uint32_t *count)
{
    int64_t n = 0;
    db_param_t p[] = {db_int(now), db_int(user_id), db_text(keep_sid)};
    int rc = db_tx_exec(tx, DB_SQL(SESSION_REVOKE_OTHERS), p, DB_NPARAMS(p), &n);
    if (rc == 0 && count)
        *count = (uint32_t)n;
    return rc;
}

/* See db.h. */
int db_user_set_active(db_t *db, int64_t id, bool is_active, int64_t now)
{
    if (!is_active && db->drv->backend == DB_BACKEND_PG)
        return revoke_user_pg(db, id, now, db_null(), db_bool(false), NULL);
    struct user_update a = {DB_SQL(USER_SET_ACTIVE), db_bool(is_active), id, now, !is_active};
    return db_transact(db, user_update_body, &a);
}

/* See db.h. */
int db_user_set_role(db_t *db, int64_t id, enum db_role role, int64_t now)
{
    if ((unsigned)role > DB_ROLE_ADMIN)
        return ERR_INVALID;
    db_param_t p[] = {db_text(db_role_name(role)), db_int(now), db_int(id)};
    return db__exec_one(db, DB_SQL(USER_SET_ROLE), p, DB_NPARAMS(p));
}

/* See db.h. */
int db_user_set_last_login(db_t *db, int64_t id, int64_t now)
{
    db_param_t p[] = {db_int(now), db_int(id)};
    return db__exec_one(db, DB_SQL(USER_SET_LAST_LOGIN), p, DB_NPARAMS(p));
}

struct admin_update {
    int64_t id, now;
    const db_user_change_t *c;
    bool revoked;
    db_user_t before;
};

static int admin_update_body(db_tx_t *tx, void *arg)
{
    struct admin_update *a = arg;
    const db_user_change_t *c = a->c;
    db_user_dispose(&a->before);
    db_param_t k[] = {db_int(a->id)};
    int rc = db_tx_query_one(tx, DB_SQL(USER_BY_ID), k, DB_NPARAMS(k), read_user_row, &a->before);
    if (rc != 0)
        return rc;
    const db_user_t *cur = &a->before;
    enum db_role role = c->set_role ? c->role : cur->role;
    bool active = c->set_active ? c->is_active : cur->is_active;
    const char *email = c->set_email ? (c->email ? c->email : "") : cur->email;
    int64_t was_verified = 0;
    rc = db_tx_query_one(tx, DB_SQL(USER_EMAIL_VERIFIED), k, DB_NPARAMS(k), db_row_read_int,
                         &was_verified);
    if (rc != 0)
        return rc;
    /* a new address is not verified unless the administrator says so */
    bool verified = c->set_email_verified            ? c->email_verified
                    : strcmp(email, cur->email) != 0 ? false
                                                     : was_verified != 0;
    db_param_t p[] = {db_text(email),  db_text(db_role_name(role)),
                      db_bool(active), db_bool(verified),
                      db_int(a->now),  db_int(a->id)};
    rc = db__tx_exec_one(tx, DB_SQL(USER_ADMIN_UPDATE), p, DB_NPARAMS(p));
    a->revoked = role != cur->role || (cur->is_active && !active);
    if (rc == 0 && a->revoked)
        rc = db__revoke_user_in_tx(tx, a->id, a->now, NULL);
    return rc;
}

/* See db.h. */
int db_user_admin_update(db_t *db, int64_t id, const db_user_change_t *c, int64_t now,
                         bool *revoked, db_user_t *before)
{
    if (c->set_role && (unsigned)c->role > DB_ROLE_ADMIN)
        return ERR_INVALID;
    struct admin_update a = {.id = id, .now = now, .c = c};
    int rc = db_transact(db, admin_update_body, &a);
    if (revoked)
        *revoked = rc == 0 && a.revoked;
    if (rc == 0 && before)
        *before = a.before;
    else
        db_user_dispose(&a.before);
    return rc;
}

struct user_delete {
    int64_t id, revoke_before;
};

static int delete_body(db_tx_t *tx, void *arg)
{
    const struct user_delete *a = arg;
    db_param_t k[] = {db_int(a->id)};
    int rc = db__tx_exec_one(tx, DB_SQL(USER_DELETE), k, DB_NPARAMS(k));
    db_param_t t[] = {db_int(a->id), db_int(a->revoke_before)};
    if (rc == 0)
        rc = db_tx_exec(tx, DB_SQL(TOMBSTONE_INSERT), t, DB_NPARAMS(t), NULL);
    return rc;
}

/* See db.h. */
int db_user_delete(db_t *db, int64_t id, int64_t revoke_before)
{
    struct user_delete a = {id, revoke_before};
    return db_transact(db, delete_body, &a);
}

struct revoke_all {
    int64_t id, now;
    uint32_t count;
};

static int revoke_all_body(db_tx_t *tx, void *arg)
{
    struct revoke_all *a = arg;
    return db__revoke_user_in_tx(tx, a->id, a->now, &a->count);
}

/* See db.h. */
int db_user_revoke_all(db_t *db, int64_t id, int64_t now, uint32_t *sessions_revoked)
{
    if (db->drv->backend == DB_BACKEND_PG)
        return revoke_user_pg(db, id, now, db_null(), db_null(), sessions_revoked);
    struct revoke_all a = {id, now, 0};
    int rc = db_transact(db, revoke_all_body, &a);
    if (rc == 0 && sessions_revoked)
        *sessions_revoked = a.count;
    return rc;
}

/* ==== import ============================================================================== */

struct import {
    const db_user_t *u;
    int64_t now;
    enum db_import_status status;
};

static bool str_differs(const char *stored, const char *given)
{
    return strcmp(stored ? stored : "", given ? given : "") != 0;
}

/* The import of a user whose id is free: inserted with it, the id sequence moved past it. */
static int import_insert(db_tx_t *tx, struct import *a)
{
    const db_user_t *u = a->u;
    db_param_t p[PROFILE_NPARAMS + 4];
    p[0] = db_int(u->id);
    profile_params(u, u->password_hash, p + 1);
    p[PROFILE_NPARAMS + 1] = db_int(u->created_at ? u->created_at : a->now);
    p[PROFILE_NPARAMS + 2] = db_int_or_null(u->last_login);
    p[PROFILE_NPARAMS + 3] = db_int(a->now);
    int rc = db_tx_exec(tx, DB_SQL(USER_IMPORT_INSERT), p, DB_NPARAMS(p), NULL);
    if (rc == 0)
        rc = db_tx_exec(tx, DB_SQL(USER_ID_SYNC), NULL, 0, NULL);
    a->status = DB_IMPORT_CREATED;
    return rc;
}

/* The import over the stored user cur with the same id and username. */
static int import_update(db_tx_t *tx, struct import *a, const db_user_t *cur)
{
    const db_user_t *u = a->u;
    /* jwtd's own hash (login rehash or a password change here) wins over the import */
    const char *hash =
        strncmp(cur->password_hash, "$argon2", 7) == 0 ? cur->password_hash : u->password_hash;
    bool deactivate = cur->is_active && !u->is_active;
    bool same = !str_differs(cur->email, u->email) &&
                !str_differs(cur->first_name, u->first_name) &&
                !str_differs(cur->last_name, u->last_name) && cur->role == u->role &&
                cur->premium == u->premium && cur->is_active == u->is_active &&
                !str_differs(cur->password_hash, hash);
    a->status = same ? DB_IMPORT_UNCHANGED : DB_IMPORT_UPDATED;
    if (same)
        return 0;
    db_param_t p[PROFILE_NPARAMS + 2];
    profile_params(u, hash, p);
    p[PROFILE_NPARAMS] = db_int(a->now);
    p[PROFILE_NPARAMS + 1] = db_int(u->id);
    int rc = db__tx_exec_one(tx, DB_SQL(USER_IMPORT_UPDATE), p, DB_NPARAMS(p));
    if (rc == 0 && deactivate)
        rc = db__revoke_user_in_tx(tx, u->id, a->now, NULL);
    return rc;
}

/* The body of db_user_import, inside the write transaction. */
static int import_body(db_tx_t *tx, void *arg)
{
    struct import *a = arg;
    db_user_t cur;
    memset(&cur, 0, sizeof cur);
    db_param_t k[] = {db_int(a->u->id)};
    int rc = db_tx_query_one(tx, DB_SQL(USER_BY_ID), k, DB_NPARAMS(k), read_user_row, &cur);
    if (rc == ERR_NOT_FOUND)
        rc = import_insert(tx, a);
    else if (rc == 0 && str_differs(cur.username, a->u->username))
        rc = ERR_CONFLICT; /* the id belongs to someone else here: never merge two people */
    else if (rc == 0)
        rc = import_update(tx, a, &cur);
    db_user_dispose(&cur);
    return rc;
}

/* See db.h. */
int db_user_import(db_t *db, const db_user_t *u, int64_t now, enum db_import_status *status)
{
    if (u->id < 1 || !valid_user(u))
        return ERR_INVALID;
    struct import a = {u, now, DB_IMPORT_UNCHANGED};
    int rc = db_transact(db, import_body, &a);
    if (rc == 0 && status)
        *status = a.status;
    return rc;
}

/* ==== watermarks ========================================================================== */

static int read_watermark(void *item, const db_row_t *row)
{
    db_watermark_t *w = item;
    w->user_id = db_row_int(row, 0);
    w->revoke_before = db_row_int(row, 1);
    return 0;
}

static const db_list_def_t WATERMARK_ROWS = {sizeof(db_watermark_t), 0, read_watermark, NULL};

/* See db.h. */
void db_watermark_list_dispose(db_watermark_list_t *list)
{
    DB_LIST_RELEASE(&WATERMARK_ROWS, list);
}

/* See db.h. */
int db_watermark_list(db_t *db, int64_t since, db_watermark_list_t *list)
{
    db_param_t p[] = {db_int(since)};
    return DB_QUERY_LIST(db, DB_SQL(WATERMARK_LIST), p, DB_NPARAMS(p), &WATERMARK_ROWS, list);
}

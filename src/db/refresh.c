/*
 * refresh.c - refresh tokens (db.h "refresh tokens"): insert, lookup by (sid, jti) and the
 * atomic rotation, the hottest write of jwtd. On SQLite a rotation is one write transaction
 * through the runner on SQLite's dedicated rotation connection (run.c) of four statements:
 * load the token with its session and user (ROTATE_LOAD), then mark it used, insert the
 * successor and touch the session. On PostgreSQL the same steps run inside the server, in
 * the function jwtd_refresh_rotate (migration 5, migrate.c), called by one autocommit
 * statement (db__pg_rotate): one round trip instead of five (BEGIN + load, mark, insert,
 * touch, COMMIT). The SQL text is in sql.c and migrate.c; sessions are sessions.c's.
 *
 * DESIGN (concurrency): N threads presenting the same token serialise on the write lock
 * (SQLite: one writer; PostgreSQL: the function's SELECT ... FOR UPDATE OF r), so the first marks
 * it used and inserts the successor and the others find it used within the grace and answer that
 * same successor. ROTATE_MARK's "AND used_at IS NULL" cannot miss under that lock.
 */
#include "db/db.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "db/db_internal.h"

/* ==== insert and lookup =================================================================== */

#define REFRESH_NPARAMS 7

/* REFRESH_INSERT's parameters for rt (borrowing its strings). */
static void refresh_params(const db_refresh_t *rt, db_param_t p[REFRESH_NPARAMS])
{
    p[0] = db_text(rt->jti);
    p[1] = db_text(rt->sid);
    p[2] = db_text_or_null(rt->parent_jti);
    p[3] = db_int(rt->issued_at);
    p[4] = db_int(rt->expires_at);
    p[5] = db_int_or_null(rt->used_at);
    p[6] = db_text_or_null(rt->replaced_by);
}

/* See db_internal.h. */
int db__refresh_insert_in_tx(db_tx_t *tx, const db_refresh_t *rt)
{
    db_param_t p[REFRESH_NPARAMS];
    refresh_params(rt, p);
    return db_tx_exec(tx, DB_SQL(REFRESH_INSERT), p, REFRESH_NPARAMS, NULL);
}

/* See db.h. */
int db_refresh_insert(db_t *db, const db_refresh_t *rt)
{
    if (!db__valid_id(rt->jti) || !db__valid_id(rt->sid))
        return ERR_INVALID;
    db_param_t p[REFRESH_NPARAMS];
    refresh_params(rt, p);
    return db_exec(db, DB_SQL(REFRESH_INSERT), p, REFRESH_NPARAMS, NULL);
}

/* A db_row_cb reading REFRESH_GET's columns into the db_refresh_t arg. */
static int read_refresh_row(void *arg, const db_row_t *row)
{
    db_refresh_t *rt = arg;
    db__row_id(row, 0, rt->jti);
    db__row_id(row, 1, rt->sid);
    db__row_id(row, 2, rt->parent_jti);
    rt->issued_at = db_row_int(row, 3);
    rt->expires_at = db_row_int(row, 4);
    rt->used_at = db_row_int(row, 5);
    db__row_id(row, 6, rt->replaced_by);
    return 0;
}

/* See db.h. */
int db_refresh_get(db_t *db, const char *sid, const char *jti, db_refresh_t *rt)
{
    memset(rt, 0, sizeof *rt);
    if (!db__valid_id(sid) || !db__valid_id(jti))
        return ERR_NOT_FOUND;
    db_param_t p[] = {db_text(sid), db_text(jti)};
    return db_query_one(db, DB_SQL(REFRESH_GET), p, DB_NPARAMS(p), read_refresh_row, rt);
}

/* ==== rotation ============================================================================ */

/* See db.h. */
void db_rotate_result_dispose(db_rotate_result_t *r)
{
    if (!r)
        return;
    db_user_dispose(&r->user);
}

/* A rotation's arguments and result, handed to its transaction's body. */
struct rotate {
    const char *sid, *old_jti, *new_jti;
    int64_t new_exp, now, grace_s;
    db_rotate_result_t *out;
};

/* The row ROTATE_LOAD returns, copied out before the next statement runs. */
struct rotate_row {
    char sid[DB_ID_MAX + 1];
    int64_t issued_at, expires_at, used_at;
    char replaced_by[DB_ID_MAX + 1];
    int64_t session_revoked_at;
    db_user_t user; /* the session's user (dispose it) */
};

static int read_rotate_row(void *arg, const db_row_t *row)
{
    struct rotate_row *r = arg;
    db__row_id(row, 0, r->sid);
    r->issued_at = db_row_int(row, 1);
    r->expires_at = db_row_int(row, 2);
    r->used_at = db_row_int(row, 3);
    db__row_id(row, 4, r->replaced_by);
    r->session_revoked_at = db_row_int(row, 5);
    db__read_user_at(row, 6, &r->user);
    return 0;
}

/* See db.h. */
int db_refresh_load(db_t *db, const char *sid, const char *jti, db_refresh_t *rt,
                    int64_t *session_revoked_at, db_user_t *user)
{
    memset(rt, 0, sizeof *rt);
    memset(user, 0, sizeof *user);
    *session_revoked_at = 0;
    if (!db__valid_id(sid) || !db__valid_id(jti))
        return ERR_NOT_FOUND;
    struct rotate_row r;
    memset(&r, 0, sizeof r);
    db_param_t p[] = {db_text(sid), db_text(jti)};
    int rc = db_query_one(db, DB_SQL(REFRESH_LOAD), p, DB_NPARAMS(p), read_rotate_row, &r);
    if (rc != 0) {
        db_user_dispose(&r.user);
        return rc;
    }
    snprintf(rt->jti, sizeof rt->jti, "%s", jti);
    memcpy(rt->sid, r.sid, sizeof rt->sid);
    rt->issued_at = r.issued_at;
    rt->expires_at = r.expires_at;
    rt->used_at = r.used_at;
    memcpy(rt->replaced_by, r.replaced_by, sizeof rt->replaced_by);
    *session_revoked_at = r.session_revoked_at;
    *user = r.user;
    return 0;
}

/* Why the loaded token r cannot rotate (a reason of db.h), or NULL when it may. */
static const char *refusal(const struct rotate_row *r, int64_t now)
{
    if (r->session_revoked_at != 0)
        return "session_revoked";
    if (!r->user.is_active)
        return "user_inactive";
    if (r->issued_at < r->user.revoke_before)
        return "watermark";
    if (r->expires_at <= now)
        return "expired";
    return NULL;
}

/* An unused token: mark it used, insert its successor, touch the session -> ROTATED. */
static int rotate_unused(db_tx_t *tx, const struct rotate *a, const struct rotate_row *r)
{
    db_param_t p[] = {db_int(a->now), db_text(a->new_jti), db_text(r->sid), db_text(a->old_jti)};
    int rc = db__tx_exec_one(tx, DB_SQL(ROTATE_MARK), p, DB_NPARAMS(p));
    if (rc != 0)
        return rc == ERR_NOT_FOUND ? ERR_INTERNAL : rc; /* impossible under the lock */
    db_refresh_t succ;
    memset(&succ, 0, sizeof succ);
    snprintf(succ.jti, sizeof succ.jti, "%s", a->new_jti);
    memcpy(succ.sid, r->sid, sizeof succ.sid);
    snprintf(succ.parent_jti, sizeof succ.parent_jti, "%s", a->old_jti);
    succ.issued_at = a->now;
    succ.expires_at = a->new_exp;
    if ((rc = db__refresh_insert_in_tx(tx, &succ)) != 0)
        return rc;
    db_param_t q[] = {db_int(a->now), db_text(r->sid)};
    if ((rc = db_tx_exec(tx, DB_SQL(SESSION_SET_USED), q, DB_NPARAMS(q), NULL)) != 0)
        return rc;
    a->out->status = DB_ROTATE_ROTATED;
    a->out->reason = "rotated";
    memcpy(a->out->successor_jti, succ.jti, sizeof a->out->successor_jti);
    a->out->successor_issued_at = a->now;
    a->out->successor_expires_at = a->new_exp;
    return 0;
}

/* A token used within the grace: the successor it already has -> REUSED_WITHIN_GRACE. */
static int rotate_within_grace(db_tx_t *tx, const struct rotate *a, const struct rotate_row *r)
{
    db_refresh_t succ;
    memset(&succ, 0, sizeof succ);
    db_param_t p[] = {db_text(r->sid), db_text(r->replaced_by)};
    int rc = db_tx_query_one(tx, DB_SQL(REFRESH_GET), p, DB_NPARAMS(p), read_refresh_row, &succ);
    if (rc != 0)
        return rc == ERR_NOT_FOUND ? 0 : rc; /* successor flushed: stays NOT_VALID */
    a->out->status = DB_ROTATE_REUSED_WITHIN_GRACE;
    a->out->reason = "grace";
    memcpy(a->out->successor_jti, succ.jti, sizeof a->out->successor_jti);
    a->out->successor_issued_at = succ.issued_at;
    a->out->successor_expires_at = succ.expires_at;
    return 0;
}

/* The decision and its writes, given the loaded row r. */
static int rotate_decide(db_tx_t *tx, const struct rotate *a, const struct rotate_row *r)
{
    a->out->user_id = r->user.id;
    memcpy(a->out->sid, r->sid, sizeof a->out->sid);
    const char *refused = refusal(r, a->now);
    if (refused) {
        a->out->reason = refused;
        return 0;
    }
    if (r->used_at == 0)
        return rotate_unused(tx, a, r);
    if (a->now - r->used_at <= a->grace_s && r->replaced_by[0])
        return rotate_within_grace(tx, a, r);
    db_param_t p[] = {db_int(a->now), db_text(r->sid)};
    int rc = db_tx_exec(tx, DB_SQL(SESSION_REVOKE), p, DB_NPARAMS(p), NULL);
    if (rc != 0)
        return rc;
    a->out->status = DB_ROTATE_REUSE_DETECTED;
    a->out->reason = "reuse";
    return 0;
}

/* The rotation's transaction: ROTATE_LOAD (the token with its session and user in one
   statement), then the decision and its writes. */
static int rotate_body(db_tx_t *tx, void *arg)
{
    const struct rotate *a = arg;
    struct rotate_row r;
    memset(&r, 0, sizeof r);
    db_param_t p[] = {db_text(a->sid), db_text(a->old_jti)};
    int rc = db_tx_query_one(tx, DB_SQL(ROTATE_LOAD), p, DB_NPARAMS(p), read_rotate_row, &r);
    if (rc == ERR_NOT_FOUND) {
        a->out->reason = "unknown";
        return 0; /* NOT_VALID wrote nothing; committing it is as cheap as rolling back */
    }
    if (rc == 0)
        rc = rotate_decide(tx, a, &r);
    if (rc == 0 &&
        (a->out->status == DB_ROTATE_ROTATED || a->out->status == DB_ROTATE_REUSED_WITHIN_GRACE))
        a->out->user = r.user; /* the user row of the access token (see db.h) */
    else
        db_user_dispose(&r.user);
    return rc;
}

/* db__pg_rotate's row: the function's verdict, then ROTATE_LOAD's columns. */
struct pg_rotate_row {
    int64_t action; /* 0 rotated, 1 grace, 2 reuse, 3 not valid */
    char succ_jti[DB_ID_MAX + 1];
    int64_t succ_issued_at, succ_expires_at;
    struct rotate_row r;
};

static int read_pg_rotate_row(void *arg, const db_row_t *row)
{
    struct pg_rotate_row *x = arg;
    x->action = db_row_int(row, 0);
    db__row_id(row, 1, x->succ_jti);
    x->succ_issued_at = db_row_int(row, 2);
    x->succ_expires_at = db_row_int(row, 3);
    db__row_id(row, 4, x->r.sid);
    x->r.issued_at = db_row_int(row, 5);
    x->r.expires_at = db_row_int(row, 6);
    x->r.used_at = db_row_int(row, 7);
    db__row_id(row, 8, x->r.replaced_by);
    x->r.session_revoked_at = db_row_int(row, 9);
    db__read_user_at(row, 10, &x->r.user);
    return 0;
}

/*
 * PostgreSQL: the whole rotation is one autocommit statement, one round trip (the function
 * jwtd_refresh_rotate of migration 5 loads, locks, decides and writes in the server; see
 * rotate_body for the same steps run from here). Its action is mapped to the result the
 * same way; the refusal reason is named here from the row it returns (refusal()).
 */
static int rotate_pg(db_t *db, const struct rotate *a)
{
    struct pg_rotate_row x;
    memset(&x, 0, sizeof x);
    db_param_t p[] = {db_text(a->sid),    db_text(a->old_jti), db_text(a->new_jti),
                      db_int(a->new_exp), db_int(a->now),      db_int(a->grace_s)};
    int rc = db_query_one(db, &db__pg_rotate, p, DB_NPARAMS(p), read_pg_rotate_row, &x);
    if (rc == ERR_NOT_FOUND) {
        a->out->reason = "unknown";
        return 0;
    }
    if (rc != 0) {
        db_user_dispose(&x.r.user);
        return rc;
    }
    db_rotate_result_t *out = a->out;
    out->user_id = x.r.user.id;
    memcpy(out->sid, x.r.sid, sizeof out->sid);
    switch (x.action) {
    case 0:
        out->status = DB_ROTATE_ROTATED;
        out->reason = "rotated";
        break;
    case 1:
        out->status = DB_ROTATE_REUSED_WITHIN_GRACE;
        out->reason = "grace";
        break;
    case 2:
        out->status = DB_ROTATE_REUSE_DETECTED;
        out->reason = "reuse";
        break;
    default: { /* refused, or a successor already flushed (stays "unknown", as rotate_decide) */
        const char *refused = refusal(&x.r, a->now);
        out->reason = refused ? refused : "unknown";
        break;
    }
    }
    if (out->status == DB_ROTATE_ROTATED || out->status == DB_ROTATE_REUSED_WITHIN_GRACE) {
        memcpy(out->successor_jti, x.succ_jti, sizeof out->successor_jti);
        out->successor_issued_at = x.succ_issued_at;
        out->successor_expires_at = x.succ_expires_at;
        out->user = x.r.user; /* the user row of the access token (see db.h) */
    } else {
        db_user_dispose(&x.r.user);
    }
    return 0;
}

/* See db.h. */
int db_refresh_rotate(db_t *db, const char *sid, const char *old_jti, const char *new_jti,
                      int64_t new_exp, int64_t now, int64_t grace_s, db_rotate_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->status = DB_ROTATE_NOT_VALID;
    out->reason = "unknown";
    if (!db__valid_id(new_jti))
        return ERR_INVALID;
    if (!db__valid_id(sid) || !db__valid_id(old_jti))
        return 0;
    struct rotate a = {sid, old_jti, new_jti, new_exp, now, grace_s, out};
    int rc = db->drv->backend == DB_BACKEND_PG ? rotate_pg(db, &a)
                                               : db__transact_rotation(db, rotate_body, &a);
    if (rc != 0) { /* rolled back: nothing of it holds */
        db_rotate_result_dispose(out);
        memset(out, 0, sizeof *out);
        out->status = DB_ROTATE_NOT_VALID;
        out->reason = "error";
    }
    return rc;
}

/*
 * run.c - the statement runner of src/db/ and the connection pool under it. Every statement
 * jwtd runs, db's own and other modules' (db.h "statements of other modules"), goes through
 * here: check a connection out, bind, run, hand each row to a reader callback, release;
 * several statements in one transaction go through db_transact (begin, the body's
 * statements, commit or rollback, release). It knows no SQL and no domain rule: which
 * statements run, with which parameters, is the domain files' business (users.c, ...), and
 * how a statement is prepared or an error mapped is the driver's (db_sqlite.c, db_pg.c).
 *
 * DESIGN (pool): struct db (db_internal.h) holds a stack of idle connections guarded by one
 * mutex. checkout pops an idle connection, or opens a new one while fewer than max are
 * open, or waits on a condition variable for a release. release returns it (or closes it
 * when the driver reports it broken, so the next caller opens a fresh one). A connection is
 * used by one thread between checkout and release and never holds a transaction across
 * calls. With the libuv threadpool the pool settles at one connection per pool thread that
 * touches the database; each connection caches its prepared statements (stmt.c).
 *
 * DESIGN (rotation connection): when the driver asks for it (SQLite), every rotation runs on
 * one dedicated connection, rot_conn, under rot_mu, outside the pool and its max. SQLite
 * runs one write transaction at a time anyway; on a single connection the pages the last
 * rotation wrote stay valid in its cache instead of being re-read from the WAL by whichever
 * pool connection comes next. PostgreSQL rotations use the pool.
 *
 * DESIGN (rows): a statement asked for its first row only (db_query_one) is still run to its
 * end outside a transaction, so that an autocommit INSERT ... RETURNING commits there and a
 * failed commit is reported, not lost in the reset; inside a transaction the commit reports
 * it, and reading stops at the first row.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define LOG_MODULE "db"
#include "runtime/log.h"

/* A checked-out connection: the db_tx_t of db.h. */
struct db_tx {
    db_t *db;
    db_conn_t *c;
    bool in_tx;       /* between begin and commit/rollback */
    bool on_rot_conn; /* c is db->rot_conn, rot_mu held */
};

/* The current row of the statement active on c: the db_row_t of db.h. */
struct db_row {
    const struct db_driver *drv;
    db_conn_t *c;
};

enum rows { ROWS_ALL, ROWS_FIRST };

/* ==== pool ================================================================================ */

/* See db_internal.h. */
void db__pool_init(db_t *db, uint32_t max)
{
    db->max = max;
    db->idle = xcalloc(max, sizeof *db->idle);
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    pthread_mutex_init(&db->rot_mu, NULL);
}

/* See db_internal.h. */
void db__pool_dispose(db_t *db)
{
    for (uint32_t i = 0; i < db->n_idle; i++)
        db->drv->conn_close(db->idle[i]);
    if (db->n_open != db->n_idle)
        log_warn("msg=\"db_close with connections checked out\" open=%u idle=%u", db->n_open,
                 db->n_idle);
    if (db->rot_conn)
        db->drv->conn_close(db->rot_conn);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->rot_mu);
    free(db->idle);
}

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

/* Checks out a pool connection, or the rotation connection (see DESIGN) for a rotation. */
static int checkout(db_t *db, bool rotation, struct db_tx *tx)
{
    memset(tx, 0, sizeof *tx);
    tx->db = db;
    if (!rotation || !db->drv->dedicated_rotation_conn)
        return conn_get(db, &tx->c);
    pthread_mutex_lock(&db->rot_mu);
    int rc = db->rot_conn ? 0 : db->drv->conn_open(db->state, &db->rot_conn);
    if (rc != 0) {
        pthread_mutex_unlock(&db->rot_mu);
        return rc;
    }
    tx->c = db->rot_conn;
    tx->on_rot_conn = true;
    return 0;
}

static void release(struct db_tx *tx)
{
    db_t *db = tx->db;
    if (!tx->on_rot_conn) {
        conn_put(db, tx->c);
        return;
    }
    db->drv->reset(tx->c);
    if (db->drv->conn_is_broken(tx->c)) {
        db->drv->conn_close(tx->c);
        db->rot_conn = NULL;
    }
    pthread_mutex_unlock(&db->rot_mu);
}

/* ==== the runner ========================================================================== */

/*
 * Runs def on tx's connection: binds params, steps through the rows (all of them, or the
 * first; see DESIGN), hands them to on_row, ends the statement. OUT: *changes (may be NULL).
 */
static int run_stmt(struct db_tx *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                    enum rows rows, db_row_cb on_row, void *arg, int64_t *changes)
{
    const struct db_driver *drv = tx->db->drv;
    struct db_row row = {drv, tx->c};
    size_t seen = 0;
    int rc = drv->query(tx->c, def, params, n);
    while (rc == 0 && (rc = drv->next(tx->c)) == 1) {
        rc = 0;
        if (rows == ROWS_FIRST && seen > 0)
            continue;
        seen++;
        if (on_row)
            rc = on_row(arg, &row);
        if (rows == ROWS_FIRST && tx->in_tx)
            break;
    }
    if (rc == 0 && rows == ROWS_FIRST && seen == 0)
        rc = ERR_NOT_FOUND;
    if (rc == 0 && changes)
        *changes = drv->changes(tx->c);
    drv->reset(tx->c);
    return rc;
}

/* One statement on a pool connection of its own (autocommit). */
static int run_single(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                      enum rows rows, db_row_cb on_row, void *arg, int64_t *changes)
{
    struct db_tx tx;
    int rc = checkout(db, false, &tx);
    if (rc != 0)
        return rc;
    rc = run_stmt(&tx, def, params, n, rows, on_row, arg, changes);
    release(&tx);
    return rc;
}

/* One write transaction (see db_transact) on a pool connection or the rotation one. */
static int transact(db_t *db, bool rotation, db_tx_cb body, void *arg)
{
    struct db_tx tx;
    int rc = checkout(db, rotation, &tx);
    if (rc != 0)
        return rc;
    if ((rc = db->drv->begin(tx.c, true)) == 0) {
        tx.in_tx = true;
        rc = body(&tx, arg);
        if (rc == 0)
            rc = db->drv->commit(tx.c);
        else
            db->drv->rollback(tx.c);
        tx.in_tx = false;
    }
    release(&tx);
    return rc;
}

/* See db.h. */
int db_exec(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
            int64_t *changes)
{
    return run_single(db, def, params, n, ROWS_ALL, NULL, NULL, changes);
}

/* See db.h. */
int db_query(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
             db_row_cb on_row, void *arg)
{
    return run_single(db, def, params, n, ROWS_ALL, on_row, arg, NULL);
}

/* See db.h. */
int db_query_one(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                 db_row_cb on_row, void *arg)
{
    return run_single(db, def, params, n, ROWS_FIRST, on_row, arg, NULL);
}

/* See db.h. */
int db_transact(db_t *db, db_tx_cb body, void *arg)
{
    return transact(db, false, body, arg);
}

/* See db.h. */
int db_tx_exec(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n,
               int64_t *changes)
{
    return run_stmt(tx, def, params, n, ROWS_ALL, NULL, NULL, changes);
}

/* See db.h. */
int db_tx_query(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                db_row_cb on_row, void *arg)
{
    return run_stmt(tx, def, params, n, ROWS_ALL, on_row, arg, NULL);
}

/* See db.h. */
int db_tx_query_one(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                    db_row_cb on_row, void *arg)
{
    return run_stmt(tx, def, params, n, ROWS_FIRST, on_row, arg, NULL);
}

/* See db_internal.h. */
int db__run(db_t *db, db_tx_cb body, void *arg)
{
    struct db_tx tx;
    int rc = checkout(db, false, &tx);
    if (rc != 0)
        return rc;
    rc = body(&tx, arg);
    release(&tx);
    return rc;
}

/* See db_internal.h. */
int db__transact_rotation(db_t *db, db_tx_cb body, void *arg)
{
    return transact(db, true, body, arg);
}

/* See db_internal.h. */
uint64_t db__round_trips(const db_t *db)
{
    return db->drv->round_trips ? db->drv->round_trips(db->state) : 0;
}

/* See db_internal.h. */
int db__tx_script(db_tx_t *tx, const char *sql)
{
    return tx->db->drv->exec_script(tx->c, sql);
}

/* See db_internal.h. */
int db__exec_one(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n)
{
    int64_t changes = 0;
    int rc = db_exec(db, def, params, n, &changes);
    return rc == 0 && changes == 0 ? ERR_NOT_FOUND : rc;
}

/* See db_internal.h. */
int db__tx_exec_one(db_tx_t *tx, const db_stmt_def_t *def, const db_param_t *params, size_t n)
{
    int64_t changes = 0;
    int rc = db_tx_exec(tx, def, params, n, &changes);
    return rc == 0 && changes == 0 ? ERR_NOT_FOUND : rc;
}

/* ==== rows ================================================================================ */

/* See db.h. */
int64_t db_row_int(const db_row_t *row, int col)
{
    return row->drv->col_int(row->c, col);
}

/* See db.h. */
bool db_row_is_null(const db_row_t *row, int col)
{
    return row->drv->col_is_null(row->c, col);
}

/* See db.h. */
const char *db_row_text(const db_row_t *row, int col, size_t *len)
{
    return row->drv->col_text(row->c, col, len);
}

/* See db.h. */
char *db_row_strdup(const db_row_t *row, int col)
{
    size_t len;
    const char *t = row->drv->col_text(row->c, col, &len);
    return t ? xstrndup(t, len) : xstrdup("");
}

/* See db.h. */
int db_row_read_int(void *arg, const db_row_t *row)
{
    *(int64_t *)arg = db_row_int(row, 0);
    return 0;
}

/* ==== helpers of the domain files ========================================================= */

/* See db_internal.h. */
void db__row_id(const db_row_t *row, int col, char out[DB_ID_MAX + 1])
{
    size_t len;
    const char *t = row->drv->col_text(row->c, col, &len);
    if (!t)
        len = 0;
    if (len > DB_ID_MAX)
        len = DB_ID_MAX;
    if (len)
        memcpy(out, t, len);
    out[len] = '\0';
}

/* See db_internal.h. */
bool db__valid_id(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    return n >= 1 && n <= DB_ID_MAX;
}

/* A list being read (db_query_list). */
struct collect {
    const db_list_def_t *def;
    void *items;
    size_t count, cap;
};

static int collect_row(void *arg, const db_row_t *row)
{
    struct collect *l = arg;
    if (l->def->limit && l->count == l->def->limit)
        return 0;
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xrealloc(l->items, l->cap * l->def->elem);
    }
    void *item = (char *)l->items + l->count * l->def->elem;
    memset(item, 0, l->def->elem);
    l->count++;
    return l->def->read(item, row);
}

/* See db.h. */
int db_query_list(db_t *db, const db_stmt_def_t *def, const db_param_t *params, size_t n,
                  const db_list_def_t *list, void *items, size_t *count)
{
    struct collect l = {.def = list};
    int rc = db_query(db, def, params, n, collect_row, &l);
    if (rc != 0) {
        db_list_free(list, l.items, l.count);
        l.items = NULL;
        l.count = 0;
    }
    memcpy(items, &l.items, sizeof l.items); /* the caller's T * */
    *count = l.count;
    return rc;
}

/* See db.h. */
void db_list_free(const db_list_def_t *list, void *items, size_t count)
{
    if (!items)
        return;
    for (size_t i = 0; list->dispose && i < count; i++)
        list->dispose((char *)items + i * list->elem);
    free(items);
}

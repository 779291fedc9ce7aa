/*
 * db_pg.c - the PostgreSQL backend of src/db/ (libpq): connections, prepared statements,
 * error mapping, health checks and reconnects for
 * `postgresql://user:pass@host:port/dbname[?options]` URLs. It implements the driver table
 * of db_internal.h and nothing else: the SQL text is in sql.c and migrate.c, what to run in
 * which transaction in the domain files, and the pool and the runner in run.c, so both
 * backends run the same domain logic.
 *
 * DESIGN (blocking connections on the blocking pool): every db.h call already runs on a
 * libuv threadpool thread, and the pool of run.c settles at one connection per pool thread
 * that touches the database. A blocking libpq connection per checkout is therefore the
 * natural fit: one round trip per statement with no event-loop hand-off, and the event
 * loops never see the database. (libpq's non-blocking API on the loop would save the pool
 * thread, but the login path must leave the loop for argon2 anyway. The measured cost is in
 * BENCH.md "pg".)
 *
 * Statements are prepared once per connection (PQprepare on first use, named "sN" in the
 * order the connection met them, their ?n placeholders rewritten to $n at that moment) and
 * cached by definition; they are executed with bound text parameters (PQexecPrepared);
 * nothing is ever built from input. Results are fetched whole (every statement returns at
 * most 1000 rows).
 *
 * Isolation: READ COMMITTED. Atomic rotation is one statement calling the server-side
 * function jwtd_refresh_rotate (migration 5; refresh.c), one round trip in autocommit; it
 * takes a row lock on the refresh token (`SELECT ... FOR UPDATE OF r`): concurrent rotations
 * of one jti queue on that lock, and each statement after the lock sees the winner's
 * committed successor (READ COMMITTED takes a fresh snapshot per statement, inside a
 * function too), so N concurrent presentations produce one successor and N-1 "grace"
 * answers, as on SQLite. Other write transactions touch rows by
 * key (UPDATE takes the row lock itself). The revocation feed's triggers take an advisory
 * lock at commit (deferred, migration 13), after every row lock of their transaction, so no
 * lock cycle can go through it. Lock waits are bounded by lock_timeout (busy_timeout_ms); a
 * timeout is ERR_UNAVAILABLE.
 *
 * Health and reconnect: before the first statement of a checkout (BEGIN or an autocommit
 * statement) the driver polls the idle socket without blocking: a server that restarted or
 * terminated the backend has sent an error and closed the socket, which shows as readable;
 * PQconsumeInput then reports the connection bad and the driver reconnects (PQreset) before
 * sending anything. A connection that breaks mid-statement answers ERR_UNAVAILABLE (503)
 * for that call and is marked broken; the pool closes it at checkin and the next checkout
 * opens a fresh one. While the server is down every call answers ERR_UNAVAILABLE quickly
 * (connection refused) and the first call after it is back succeeds.
 *
 * Durability: `synchronous` maps to synchronous_commit for this session: off/normal ->
 * off (a commit returns before its WAL is flushed; a crash of the server or the machine may
 * lose the last ~3 x wal_writer_delay of commits, never corrupts: the same bound class as
 * SQLite NORMAL's checkpoint interval), full -> on; the default leaves the server's own
 * setting (on unless the DBA changed it).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define LOG_MODULE "db"
#include "runtime/log.h"

#define MAX_PARAMS 16

/* Round trips are counted (pg_state.round_trips, db__round_trips) so that tests can assert
   how many a call costs: one per PQexec / PQprepare / PQexecPrepared / pipeline. */

/* ==== state and connections ============================================================== */

struct pg_state {
    char *url;             /* the URL handed to libpq (jwtd's own options removed) */
    char *where;           /* host:port/db for messages (never the password) */
    uint32_t lock_timeout; /* ms */
    enum db_sync synchronous;
    bool read_only;       /* db_options_t.read_only */
    uint64_t round_trips; /* atomic (__atomic builtins): messages answered by the server */
};

struct db_conn {
    struct pg_state *st;
    PGconn *pg;
    db_stmt_cache_t cache; /* statement number + 1 ("sN") by definition */
    PGresult *res;         /* result of the last query(), until reset */
    int row;               /* current row of res (-1 before the first next()) */
    int64_t changes;
    bool in_tx;
    bool begin_pending; /* BEGIN not sent yet: it goes out with the first statement */
    bool broken;
};

/* Counts one round trip to the server (a statement, a pipeline, a PREPARE). */
static void count_trip(const struct db_conn *c)
{
    __atomic_fetch_add(&c->st->round_trips, 1, __ATOMIC_RELAXED);
}

/* First line of libpq's message (they end in '\n' and may span lines). */
static void log_pg_error(const char *what, const char *msg, const char *sqlstate)
{
    size_t n = strcspn(msg ? msg : "", "\n");
    log_error("msg=\"database error\" op=%s sqlstate=%s err=\"%.*s\"", what,
              sqlstate ? sqlstate : "-", (int)n, msg ? msg : "");
}

/*
 * Maps a failed result (or NULL: out of memory / lost connection) to ERR_* per
 * db_internal.h and marks the connection broken when it cannot be reused.
 */
static int map_result(struct db_conn *c, const PGresult *r, const char *what)
{
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
        log_warn("msg=\"database connection lost\" op=%s err=\"%.*s\"", what,
                 (int)strcspn(PQerrorMessage(c->pg), "\n"), PQerrorMessage(c->pg));
        return ERR_UNAVAILABLE;
    }
    if (!r) {
        log_pg_error(what, PQerrorMessage(c->pg), NULL);
        return ERR_NOMEM;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state)
        state = "";
    if (strcmp(state, "23505") == 0)
        return ERR_CONFLICT; /* unique_violation */
    if (strcmp(state, "23503") == 0)
        return ERR_NOT_FOUND; /* foreign_key_violation */
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
        return ERR_INVALID; /* check / not null / bad data (invalid UTF-8) */
    if (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 ||
        strncmp(state, "40", 2) == 0 || strncmp(state, "53", 2) == 0) {
        /* lock timeout, statement timeout, serialization/deadlock, out of resources */
        log_warn("msg=\"database busy\" op=%s sqlstate=%s", what, state);
        return ERR_UNAVAILABLE;
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
        /* connection exception, admin shutdown, crash shutdown, cannot connect now */
        c->broken = true;
        log_warn("msg=\"database unavailable\" op=%s sqlstate=%s", what, state);
        return ERR_UNAVAILABLE;
    }
    log_pg_error(what, PQresultErrorMessage(r), state);
    return ERR_INTERNAL;
}

/* Runs a parameterless command on the connection (session settings, BEGIN/COMMIT). */
static int simple_exec(struct db_conn *c, const char *sql, const char *what)
{
    count_trip(c);
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = map_result(c, r, what);
    PQclear(r);
    return rc;
}

static const char *sync_setting(enum db_sync s)
{
    switch (s) {
    case DB_SYNC_OFF:
    case DB_SYNC_NORMAL:
        return "off";
    case DB_SYNC_FULL:
        return "on";
    default:
        return NULL; /* the server's setting */
    }
}

/* Per-connection settings, after (re)connecting. */
static int session_setup(struct db_conn *c)
{
    char sql[200];
    const char *sync = sync_setting(c->st->synchronous);
    snprintf(sql, sizeof sql, "SET client_min_messages = warning; SET lock_timeout = %u%s%s%s",
             c->st->lock_timeout, sync ? "; SET synchronous_commit = " : "", sync ? sync : "",
             c->st->read_only ? "; SET default_transaction_read_only = on" : "");
    db__stmt_cache_clear(&c->cache, NULL); /* a new server session has none */
    return simple_exec(c, sql, "setup");
}

/* Server notices and asynchronous errors go to the log, not to stderr. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    log_info("msg=\"database notice\" text=\"%.*s\"", (int)strcspn(message, "\n"), message);
}

static PGconn *connect_url(const char *url)
{
    /* Defaults first: the URL's own parameters override them (expand_dbname rule). */
    const char *const keys[] = {"connect_timeout",
                                "application_name",
                                "keepalives",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "client_encoding",
                                "dbname",
                                NULL};
    const char *const vals[] = {"5", "jwtd", "1", "30", "10", "3", "UTF8", url, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

static int pg_conn_open(void *state, db_conn_t **out)
{
    struct pg_state *st = state;
    struct db_conn *c = xcalloc(1, sizeof *c);
    c->st = st;
    c->row = -1;
    c->pg = connect_url(st->url);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        const char *m = c->pg ? PQerrorMessage(c->pg) : "out of memory";
        log_warn("msg=\"cannot connect to the database\" db=%s err=\"%.*s\"", st->where,
                 (int)strcspn(m, "\n"), m);
        PQfinish(c->pg);
        free(c);
        return ERR_UNAVAILABLE;
    }
    PQsetNoticeProcessor(c->pg, on_notice, NULL);
    int rc = session_setup(c);
    if (rc != 0) {
        PQfinish(c->pg);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void pg_reset(db_conn_t *c)
{
    PQclear(c->res);
    c->res = NULL;
    c->row = -1;
}

static void pg_conn_close(db_conn_t *c)
{
    if (!c)
        return;
    pg_reset(c);
    db__stmt_cache_clear(&c->cache, NULL);
    PQfinish(c->pg);
    free(c);
}

static bool pg_conn_is_broken(db_conn_t *c)
{
    return c->broken || PQstatus(c->pg) != CONNECTION_OK || c->in_tx;
}

/*
 * The health check before the first statement of a checkout (see DESIGN): an idle
 * connection has nothing to read unless the server spoke (usually to say goodbye).
 */
static int ensure_alive(struct db_conn *c)
{
    bool bad = PQstatus(c->pg) != CONNECTION_OK;
    if (!bad) {
        struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
        if (p.fd < 0)
            bad = true;
        /* A goodbye is an ErrorResponse (57P01) then EOF, possibly seen in two reads. */
        for (int i = 0; !bad && i < 4 && poll(&p, 1, 0) > 0; i++)
            bad = !PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK;
        if (!bad) {
            PGnotify *n;
            while ((n = PQnotifies(c->pg)) != NULL)
                PQfreemem(n);
        }
    }
    if (!bad)
        return 0;
    log_info("msg=\"database connection lost while idle, reconnecting\" db=%s", c->st->where);
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
        log_warn("msg=\"cannot reconnect to the database\" db=%s err=\"%.*s\"", c->st->where,
                 (int)strcspn(PQerrorMessage(c->pg), "\n"), PQerrorMessage(c->pg));
        return ERR_UNAVAILABLE;
    }
    c->broken = false;
    return session_setup(c);
}

/*
 * BEGIN costs no round trip of its own: it is sent in one pipeline with the transaction's
 * first statement (send_with_begin), so a rotation is one round trip shorter.
 */
static int pg_begin(db_conn_t *c, bool write)
{
    (void)write; /* row locks are taken by the statements (FOR UPDATE, UPDATE) */
    pg_reset(c);
    int rc = ensure_alive(c);
    if (rc == 0) {
        c->in_tx = true;
        c->begin_pending = true;
    }
    return rc;
}

/* Sends a BEGIN still pending on its own (before statements that cannot be pipelined). */
static int flush_begin(struct db_conn *c)
{
    if (!c->begin_pending)
        return 0;
    c->begin_pending = false;
    return simple_exec(c, "BEGIN", "begin");
}

static int pg_commit(db_conn_t *c)
{
    pg_reset(c);
    if (c->begin_pending) { /* nothing was run: nothing to commit */
        c->begin_pending = false;
        c->in_tx = false;
        return 0;
    }
    count_trip(c);
    PGresult *r = PQexec(c->pg, "COMMIT");
    int rc = 0;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = map_result(c, r, "commit");
    else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
        rc = ERR_UNAVAILABLE; /* the transaction had failed: nothing was committed */
    PQclear(r);
    c->in_tx = false;
    return rc;
}

static void pg_rollback(db_conn_t *c)
{
    pg_reset(c);
    c->begin_pending = false;
    if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        simple_exec(c, "ROLLBACK", "rollback");
    c->in_tx = false;
}

static int pg_exec_script(db_conn_t *c, const char *sql)
{
    pg_reset(c);
    int rc = c->in_tx ? flush_begin(c) : ensure_alive(c);
    if (rc != 0)
        return rc;
    count_trip(c);
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = map_result(c, r, "script");
    PQclear(r);
    return rc;
}

/*
 * BEGIN + the prepared statement in one pipeline (libpq >= 14): returns the statement's
 * result (or NULL with *rc set when BEGIN or the pipeline failed).
 */
static PGresult *send_with_begin(struct db_conn *c, const char *name, int n,
                                 const char *const *values, const int *lengths, int *rc)
{
    PGresult *got[2] = {NULL, NULL};
    int k = 0;
    c->begin_pending = false;
    count_trip(c); /* BEGIN and the statement travel together */
    if (!PQenterPipelineMode(c->pg) ||
        !PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c->pg, name, n, values, lengths, NULL, 0) || !PQpipelineSync(c->pg)) {
        *rc = map_result(c, NULL, "pipeline");
        PQexitPipelineMode(c->pg);
        return NULL;
    }
    /* results: BEGIN, NULL, statement, NULL, PIPELINE_SYNC */
    for (int i = 0; i < 8; i++) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (PQstatus(c->pg) != CONNECTION_OK)
                break;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (k < 2)
            got[k++] = r;
        else
            PQclear(r);
    }
    PQexitPipelineMode(c->pg);
    ExecStatusType s0 = got[0] ? PQresultStatus(got[0]) : PGRES_FATAL_ERROR;
    if (s0 != PGRES_COMMAND_OK) {
        *rc = map_result(c, got[0], "begin");
        PQclear(got[0]);
        PQclear(got[1]);
        return NULL;
    }
    PQclear(got[0]);
    if (!got[1])
        *rc = map_result(c, NULL, "query");
    return got[1];
}

/* Prepares def on the connection as statement "s<number>". OUT: *number. */
static int prepare(struct db_conn *c, const db_stmt_def_t *def, uint32_t *number)
{
    const char *text = db__stmt_text(def, DB_BACKEND_PG);
    char *sql = text ? db__sql_to_dollar(text) : NULL;
    if (!sql) {
        log_error("msg=\"statement has no PostgreSQL text\" stmt=%s", def->name ? def->name : "-");
        return ERR_INTERNAL;
    }
    char name[16];
    *number = c->cache.count;
    snprintf(name, sizeof name, "s%u", *number);
    count_trip(c);
    PGresult *r = PQprepare(c->pg, name, sql, 0, NULL);
    free(sql);
    int rc = 0;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = map_result(c, r, "prepare");
    PQclear(r);
    if (rc == 0)
        db__stmt_cache_put(&c->cache, def, (void *)(uintptr_t)(*number + 1));
    return rc;
}

static int pg_query(db_conn_t *c, const db_stmt_def_t *def, const db_param_t *params, size_t n)
{
    pg_reset(c);
    c->changes = 0;
    if (n > MAX_PARAMS)
        return ERR_INTERNAL;
    int rc = c->in_tx ? 0 : ensure_alive(c);
    uintptr_t cached = rc == 0 ? (uintptr_t)db__stmt_cache_get(&c->cache, def) : 0;
    uint32_t number = cached ? (uint32_t)(cached - 1) : 0;
    if (rc == 0 && !cached) {
        rc = flush_begin(c); /* first use on this connection: BEGIN, PREPARE, then run */
        if (rc == 0)
            rc = prepare(c, def, &number);
    }
    if (rc != 0)
        return rc;
    char nums[MAX_PARAMS][24];
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    for (size_t i = 0; i < n; i++) {
        lengths[i] = 0;
        switch (params[i].type) {
        case DB_PARAM_NULL:
            values[i] = NULL;
            break;
        case DB_PARAM_BOOL:
            values[i] = params[i].i ? "t" : "f";
            break;
        case DB_PARAM_INT:
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)params[i].i);
            values[i] = nums[i];
            break;
        case DB_PARAM_TEXT:
        default:
            values[i] = params[i].s ? params[i].s : "";
            break;
        }
    }
    char name[16];
    snprintf(name, sizeof name, "s%u", number);
    PGresult *r;
    if (c->begin_pending) {
        r = send_with_begin(c, name, (int)n, values, lengths, &rc);
        if (!r)
            return rc ? rc : ERR_INTERNAL;
    } else {
        count_trip(c);
        r = PQexecPrepared(c->pg, name, (int)n, values, lengths, NULL, 0);
    }
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        rc = map_result(c, r, "query");
        PQclear(r);
        return rc;
    }
    const char *t = PQcmdTuples(r);
    c->changes = t && *t ? strtoll(t, NULL, 10) : 0;
    c->res = r;
    c->row = -1;
    return 0;
}

static int pg_next(db_conn_t *c)
{
    if (!c->res)
        return 0;
    if (c->row + 1 < PQntuples(c->res)) {
        c->row++;
        return 1;
    }
    return 0;
}

static int64_t pg_col_int(db_conn_t *c, int col)
{
    if (!c->res || c->row < 0 || PQgetisnull(c->res, c->row, col))
        return 0;
    const char *v = PQgetvalue(c->res, c->row, col);
    if (v[0] == 't') /* BOOLEAN */
        return 1;
    if (v[0] == 'f')
        return 0;
    return strtoll(v, NULL, 10);
}

static bool pg_col_is_null(db_conn_t *c, int col)
{
    return !c->res || c->row < 0 || PQgetisnull(c->res, c->row, col);
}

static const char *pg_col_text(db_conn_t *c, int col, size_t *len)
{
    if (pg_col_is_null(c, col)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)PQgetlength(c->res, c->row, col);
    return PQgetvalue(c->res, c->row, col);
}

static int64_t pg_changes(db_conn_t *c)
{
    return c->changes;
}

/* ==== URL and state ======================================================================= */

/* libpq's options of the URL (sslmode, connect_timeout, ...), joined again with '&'. */
struct kept {
    char *out;
    size_t len;
};

static int keep_option(void *arg, const char *item, size_t n, char *err, size_t cap)
{
    struct kept *k = arg;
    if (k->len)
        k->out[k->len++] = '&';
    memcpy(k->out + k->len, item, n);
    k->len += n;
    k->out[k->len] = '\0';
    return 0;
}

/*
 * Takes jwtd's own options (synchronous, busy_timeout_ms, pool) out of the URL's query
 * string into st and leaves libpq's in *kept (free it).
 */
static int parse_query(const char *q, struct pg_state *st, char **kept, char *err, size_t cap)
{
    struct kept k = {xmalloc(strlen(q) + 1), 0};
    k.out[0] = '\0';
    int rc = db__url_query(q, &st->synchronous, &st->lock_timeout, keep_option, &k, err, cap);
    if (rc != 0) {
        free(k.out);
        return rc;
    }
    *kept = k.out;
    return 0;
}

/* "host:port/db" of a postgresql:// URL for messages, without user and password. */
static char *describe(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *end = p + strcspn(p, "?");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    return xstrndup(p, (size_t)(end - p));
}

/*
 * target is what follows "postgresql://" (db.c passes the whole URL: libpq parses it).
 * Connects once so that a wrong URL or an unreachable server is reported at start.
 */
static int pg_open(const char *target, const db_options_t *opts, void **state, char *err,
                   size_t cap)
{
    struct pg_state *st = xcalloc(1, sizeof *st);
    st->lock_timeout = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : 5000;
    st->synchronous = opts ? opts->synchronous : DB_SYNC_DEFAULT;
    st->read_only = opts && opts->read_only;
    const char *qm = strchr(target, '?');
    size_t blen = qm ? (size_t)(qm - target) : strlen(target);
    char *kept = NULL;
    if (qm && parse_query(qm + 1, st, &kept, err, cap) != 0) {
        free(st);
        return ERR_CONFIG;
    }
    size_t klen = kept ? strlen(kept) : 0;
    st->url = xmalloc(blen + klen + 2);
    memcpy(st->url, target, blen);
    if (klen) {
        st->url[blen] = '?';
        memcpy(st->url + blen + 1, kept, klen + 1);
    } else {
        st->url[blen] = '\0';
    }
    free(kept);
    st->where = describe(st->url);

    char *perr = NULL;
    PQconninfoOption *ci = PQconninfoParse(st->url, &perr);
    if (!ci) {
        snprintf(err, cap, "invalid PostgreSQL URL: %.*s", (int)strcspn(perr ? perr : "", "\n"),
                 perr ? perr : "out of memory");
        PQfreemem(perr);
        goto fail_config;
    }
    PQconninfoFree(ci);

    db_conn_t *c = NULL;
    int rc = pg_conn_open(st, &c);
    if (rc != 0) {
        snprintf(err, cap, "cannot connect to PostgreSQL at %s", st->where);
        free(st->url);
        free(st->where);
        free(st);
        return rc;
    }
    pg_conn_close(c);
    *state = st;
    return 0;
fail_config:
    free(st->url);
    free(st->where);
    free(st);
    return ERR_CONFIG;
}

static uint64_t pg_round_trips(void *state)
{
    struct pg_state *st = state;
    return __atomic_load_n(&st->round_trips, __ATOMIC_RELAXED);
}

static void pg_close(void *state)
{
    struct pg_state *st = state;
    if (!st)
        return;
    free(st->url);
    free(st->where);
    free(st);
}

/* The PostgreSQL driver table (see db_internal.h). */
const struct db_driver db__pg_driver = {
    .name = "postgresql",
    .backend = DB_BACKEND_PG,
    .dedicated_rotation_conn = false,
    .open = pg_open,
    .close = pg_close,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .conn_is_broken = pg_conn_is_broken,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .exec_script = pg_exec_script,
    .query = pg_query,
    .next = pg_next,
    .col_int = pg_col_int,
    .col_is_null = pg_col_is_null,
    .col_text = pg_col_text,
    .reset = pg_reset,
    .changes = pg_changes,
    .round_trips = pg_round_trips,
};

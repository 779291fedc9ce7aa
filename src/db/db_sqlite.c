/*
 * db_sqlite.c - the SQLite backend of src/db/: connections, prepared statements, error
 * mapping and the write lock for `sqlite:PATH` URLs. It implements the driver table of
 * db_internal.h and nothing else: the SQL text is in sql.c and migrate.c, what to run in
 * which transaction in the domain files, and the pool and the runner in run.c.
 *
 * DESIGN: every connection opens the same file in WAL mode (readers never block the writer
 * or each other) with foreign_keys=ON, a busy_timeout for locks held by other processes
 * (the CLI) and `synchronous` chosen by the options (NORMAL by default: in WAL mode a
 * commit only appends to the WAL without fsync, so a process crash loses nothing and a
 * power loss may lose the last commits; FULL fsyncs the WAL on every commit). Statements
 * are prepared once per connection (SQLite spells the ?n placeholders natively) and cached
 * by definition; nothing is ever built from input.
 *
 * SQLite allows one writer at a time. Instead of letting writers of this process collide
 * on the file lock (SQLite's busy handler then sleeps in 1..100 ms steps, which wrecks
 * throughput), write transactions first take an in-process mutex shared by all
 * connections of the db_t, then BEGIN IMMEDIATE (which still waits, bounded by
 * busy_timeout, for writers in other processes). Reads run in autocommit or BEGIN DEFERRED
 * and never take the mutex.
 *
 * Checkpoints are moved off the write path. SQLite's default (autocheckpoint every 1000
 * WAL pages, run by the committing writer) puts a checkpoint with two fsyncs into every
 * ~150th rotation. Here each connection's WAL hook only notes the commit; one background
 * thread per db_t runs a PASSIVE checkpoint (which never blocks writers or readers) when
 * WAL_SOFT_PAGES frames were added since the last one, and at least
 * every CKPT_INTERVAL_MS while anything was committed. The interval bounds what
 * synchronous=NORMAL can lose on power loss (the WAL is fsynced by the checkpoint) to about
 * one interval of commits. If the checkpointer falls behind and the WAL passes
 * WAL_HARD_PAGES, the committing writer checkpoints inline (back-pressure, bounded WAL).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define LOG_MODULE "db"
#include "runtime/log.h"

/* ==== state and connections ============================================================== */

struct sqlite_state {
    char *path;
    uint32_t busy_timeout_ms;
    enum db_sync synchronous;
    bool read_only;             /* db_options_t.read_only */
    pthread_mutex_t write_lock; /* one writer of this process at a time, see DESIGN */
    /* background checkpointer (see DESIGN) */
    pthread_t ckpt_thread;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    bool ckpt_wanted; /* WAL_SOFT_PAGES frames were added since the last checkpoint */
    int ckpt_done;    /* frames of the WAL already copied by the last checkpoint */
    bool ckpt_dirty;  /* something was committed since the last checkpoint */
    bool ckpt_stop;
};

struct db_conn {
    struct sqlite_state *st;
    sqlite3 *h;
    db_stmt_cache_t cache; /* sqlite3_stmt by definition */
    sqlite3_stmt *active;  /* statement of the last query(), until reset */
    bool holds_write_lock;
    bool in_tx;
    bool broken;
};

static int map_rc(struct db_conn *c, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return ERR_CONFLICT;
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return ERR_NOT_FOUND;
        return ERR_INVALID;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        log_warn("msg=\"database locked\" op=%s", what);
        return ERR_UNAVAILABLE;
    case SQLITE_NOMEM:
        return ERR_NOMEM;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_NOTADB:
        c->broken = true;
        log_error("msg=\"database error\" op=%s rc=%d err=\"%s\"", what, rc,
                  c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
        return ERR_UNAVAILABLE;
    default:
        log_error("msg=\"database error\" op=%s rc=%d err=\"%s\"", what, rc,
                  c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
        return ERR_INTERNAL;
    }
}

#define WAL_SOFT_PAGES   4000  /* 16 MiB of new WAL frames wake the checkpointer */
#define WAL_HARD_PAGES   20000 /* 80 MiB: the writer checkpoints inline */
#define WAL_SIZE_LIMIT   "PRAGMA journal_size_limit=67108864" /* truncate the WAL to 64 MiB */
#define CKPT_INTERVAL_MS 1000

/* WAL hook: runs in the committing thread after every commit (the write mutex held). */
static int on_wal_commit(void *arg, sqlite3 *h, const char *dbname, int pages)
{
    struct sqlite_state *st = arg;
    if (pages >= WAL_HARD_PAGES) {
        sqlite3_wal_checkpoint_v2(h, dbname, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    pthread_mutex_lock(&st->ckpt_mu);
    st->ckpt_dirty = true;
    if (pages < st->ckpt_done) /* the WAL was restarted from its beginning */
        st->ckpt_done = 0;
    if (pages - st->ckpt_done >= WAL_SOFT_PAGES && !st->ckpt_wanted) {
        st->ckpt_wanted = true;
        pthread_cond_signal(&st->ckpt_cv);
    }
    pthread_mutex_unlock(&st->ckpt_mu);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    struct sqlite_state *st = arg;
    sqlite3 *h = NULL;
    pthread_mutex_lock(&st->ckpt_mu);
    while (!st->ckpt_stop) {
        if (!st->ckpt_wanted) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += CKPT_INTERVAL_MS / 1000;
            ts.tv_nsec += (long)(CKPT_INTERVAL_MS % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&st->ckpt_cv, &st->ckpt_mu, &ts);
        }
        if (st->ckpt_stop)
            break;
        if (!st->ckpt_wanted && !st->ckpt_dirty)
            continue;
        st->ckpt_wanted = false;
        st->ckpt_dirty = false;
        pthread_mutex_unlock(&st->ckpt_mu);
        /* A connection only knows the file is in WAL mode once it has read it: without
           this read the checkpoint below would be a silent no-op. */
        if (!h && (sqlite3_open_v2(st->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                   NULL) != SQLITE_OK ||
                   sqlite3_exec(h, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)) {
            log_warn("msg=\"checkpointer cannot open the database\"");
            sqlite3_close(h);
            h = NULL;
        }
        int done = 0;
        if (h) {
            int rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &done);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY)
                log_warn("msg=\"checkpoint failed\" err=\"%s\"", sqlite3_errmsg(h));
        }
        pthread_mutex_lock(&st->ckpt_mu);
        st->ckpt_done = done > 0 ? done : 0;
    }
    pthread_mutex_unlock(&st->ckpt_mu);
    sqlite3_close(h);
    return NULL;
}

static const char *sync_pragma(enum db_sync s)
{
    switch (s) {
    case DB_SYNC_OFF:
        return "PRAGMA synchronous=OFF";
    case DB_SYNC_FULL:
        return "PRAGMA synchronous=FULL";
    default:
        return "PRAGMA synchronous=NORMAL";
    }
}

/*
 * The URI that opens path read-only without creating anything: with no -wal file beside it
 * no process has the database open in WAL mode, and immutable=1 keeps SQLite from creating
 * the -wal and -shm files a WAL reader otherwise needs; with one, a writer runs and they
 * exist already. '%', '?' and '#' are escaped. Free the result.
 */
static char *read_only_uri(const char *path)
{
    size_t n = strlen(path);
    char *wal = xmalloc(n + 5);
    memcpy(wal, path, n);
    memcpy(wal + n, "-wal", 5);
    bool writer = access(wal, F_OK) == 0;
    free(wal);
    size_t cap = 3 * n + 32, o = 5;
    char *uri = xmalloc(cap);
    memcpy(uri, "file:", o);
    for (const char *p = path; *p; p++) {
        if (strchr("%?#", *p))
            o += (size_t)snprintf(uri + o, cap - o, "%%%02X", (unsigned char)*p);
        else
            uri[o++] = *p;
    }
    snprintf(uri + o, cap - o, "?mode=ro%s", writer ? "" : "&immutable=1");
    return uri;
}

static int sq_conn_open(void *state, db_conn_t **out)
{
    struct sqlite_state *st = state;
    struct db_conn *c = xcalloc(1, sizeof *c);
    c->st = st;
    int rc;
    if (st->read_only) {
        char *uri = read_only_uri(st->path);
        rc = sqlite3_open_v2(uri, &c->h,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
        free(uri);
    } else {
        rc =
            sqlite3_open_v2(st->path, &c->h,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    }
    if (rc != SQLITE_OK) {
        log_error("msg=\"cannot open database\" err=\"%s\"",
                  c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
        sqlite3_close(c->h);
        free(c);
        return ERR_UNAVAILABLE;
    }
    sqlite3_extended_result_codes(c->h, 1);
    sqlite3_busy_timeout(c->h, (int)st->busy_timeout_ms);
    /* journal_mode=WAL is persistent in the file; the others are per connection. */
    const char *pragmas[] = {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON",
                             sync_pragma(st->synchronous), "PRAGMA temp_store=MEMORY",
                             WAL_SIZE_LIMIT};
    /* Read-only: the journal mode and WAL limit would write to the file; foreign_keys is
       the only one that matters for reading. */
    size_t npragmas = st->read_only ? 2 : sizeof pragmas / sizeof pragmas[0];
    if (st->read_only)
        pragmas[0] = "PRAGMA query_only=ON";
    for (size_t i = 0; i < npragmas; i++) {
        rc = sqlite3_exec(c->h, pragmas[i], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            int err = map_rc(c, rc, pragmas[i]);
            sqlite3_close(c->h);
            free(c);
            return err ? err : ERR_INTERNAL;
        }
    }
    sqlite3_wal_hook(c->h, on_wal_commit, st); /* replaces autocheckpoint, see DESIGN */
    *out = c;
    return 0;
}

static void finalize(void *stmt)
{
    sqlite3_finalize(stmt);
}

static void sq_conn_close(db_conn_t *c)
{
    if (!c)
        return;
    db__stmt_cache_clear(&c->cache, finalize);
    if (c->holds_write_lock)
        pthread_mutex_unlock(&c->st->write_lock);
    sqlite3_close(c->h);
    free(c);
}

static bool sq_conn_is_broken(db_conn_t *c)
{
    return c->broken;
}

static void sq_reset(db_conn_t *c)
{
    if (c->active) {
        sqlite3_reset(c->active);
        sqlite3_clear_bindings(c->active);
        c->active = NULL;
    }
}

static void release_write_lock(struct db_conn *c)
{
    if (c->holds_write_lock) {
        c->holds_write_lock = false;
        pthread_mutex_unlock(&c->st->write_lock);
    }
}

static int sq_begin(db_conn_t *c, bool write)
{
    sq_reset(c);
    if (write) {
        pthread_mutex_lock(&c->st->write_lock);
        c->holds_write_lock = true;
    }
    int rc = sqlite3_exec(c->h, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        release_write_lock(c);
        return map_rc(c, rc, "begin");
    }
    c->in_tx = true;
    return 0;
}

static int sq_commit(db_conn_t *c)
{
    sq_reset(c);
    int rc = sqlite3_exec(c->h, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int err = map_rc(c, rc, "commit");
        if (!sqlite3_get_autocommit(c->h))
            sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
        c->in_tx = false;
        release_write_lock(c);
        return err;
    }
    c->in_tx = false;
    release_write_lock(c);
    return 0;
}

static void sq_rollback(db_conn_t *c)
{
    sq_reset(c);
    if (!sqlite3_get_autocommit(c->h))
        sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
    c->in_tx = false;
    release_write_lock(c);
}

static int sq_exec_script(db_conn_t *c, const char *sql)
{
    sq_reset(c);
    char *msg = NULL;
    int rc = sqlite3_exec(c->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("msg=\"migration failed\" err=\"%s\"", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return ERR_INTERNAL;
    }
    return 0;
}

static int prepare(struct db_conn *c, const db_stmt_def_t *def, sqlite3_stmt **out)
{
    const char *sql = db__stmt_text(def, DB_BACKEND_SQLITE);
    if (!sql) {
        log_error("msg=\"statement has no SQLite text\" stmt=%s", def->name ? def->name : "-");
        return ERR_INTERNAL;
    }
    int rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK)
        return map_rc(c, rc, "prepare");
    db__stmt_cache_put(&c->cache, def, *out);
    return 0;
}

static int sq_query(db_conn_t *c, const db_stmt_def_t *def, const db_param_t *params, size_t n)
{
    sq_reset(c);
    sqlite3_stmt *s = db__stmt_cache_get(&c->cache, def);
    if (!s) {
        int rc = prepare(c, def, &s);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        int rc, idx = (int)i + 1;
        switch (params[i].type) {
        case DB_PARAM_NULL:
            rc = sqlite3_bind_null(s, idx);
            break;
        case DB_PARAM_INT:
        case DB_PARAM_BOOL:
            rc = sqlite3_bind_int64(s, idx, params[i].i);
            break;
        case DB_PARAM_TEXT:
        default:
            rc = sqlite3_bind_text(s, idx, params[i].s ? params[i].s : "", (int)params[i].len,
                                   SQLITE_STATIC);
            break;
        }
        if (rc != SQLITE_OK) {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            return map_rc(c, rc, "bind");
        }
    }
    c->active = s;
    return 0;
}

static int sq_next(db_conn_t *c)
{
    if (!c->active)
        return 0;
    int rc = sqlite3_step(c->active);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    int err = map_rc(c, rc, "step");
    sq_reset(c);
    return err ? err : ERR_INTERNAL;
}

static int64_t sq_col_int(db_conn_t *c, int col)
{
    return sqlite3_column_int64(c->active, col);
}

static bool sq_col_is_null(db_conn_t *c, int col)
{
    return sqlite3_column_type(c->active, col) == SQLITE_NULL;
}

static const char *sq_col_text(db_conn_t *c, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(c->active, col);
    *len = t ? (size_t)sqlite3_column_bytes(c->active, col) : 0;
    return (const char *)t;
}

static int64_t sq_changes(db_conn_t *c)
{
    return sqlite3_changes64(c->h);
}

/* ==== URL and state ======================================================================= */

/* An option of the URL that is not jwtd's own: SQLite takes none. */
static int refuse_option(void *arg, const char *item, size_t n, char *err, size_t cap)
{
    const char *eq = memchr(item, '=', n);
    if (!eq)
        snprintf(err, cap, "database URL option without a value: %.*s", (int)n, item);
    else
        snprintf(err, cap, "database URL: unknown option %.*s", (int)(eq - item), item);
    return ERR_CONFIG;
}

/*
 * Creates the parent directory of path if it is missing (one level, like `var/`, mode
 * 0700) and the database file itself with mode 0600 when it does not exist yet: SQLite
 * gives its -wal and -shm files the mode of the database file, so all three stay private.
 */
static void make_private_files(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char *dir = xstrndup(path, (size_t)(slash - path));
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            log_debug("msg=\"cannot create database directory\" errno=%d", errno);
        free(dir);
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd); /* a failure is SQLite's to report, with its own words, just after */
}

/*
 * target is what follows "sqlite:": "PATH[?opts]" or "///abs/path[?opts]". In-memory
 * databases are refused: each pooled connection would see its own empty database.
 */
static int sq_open(const char *target, const db_options_t *opts, void **state, char *err,
                   size_t cap)
{
    const char *p = target;
    if (strncmp(p, "//", 2) == 0) {
        p += 2;
        if (*p != '/') {
            snprintf(err, cap, "sqlite URL must be sqlite:PATH or sqlite:///abs/path");
            return ERR_CONFIG;
        }
    }
    const char *qm = strchr(p, '?');
    size_t plen = qm ? (size_t)(qm - p) : strlen(p);
    if (plen == 0) {
        snprintf(err, cap, "sqlite URL has an empty path");
        return ERR_CONFIG;
    }
    if ((plen == 8 && memcmp(p, ":memory:", 8) == 0) || memchr(p, '\0', plen)) {
        snprintf(err, cap, "in-memory SQLite databases are not supported; give a file path");
        return ERR_CONFIG;
    }
    struct sqlite_state *st = xcalloc(1, sizeof *st);
    st->path = xstrndup(p, plen);
    st->busy_timeout_ms = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : 5000;
    st->synchronous = opts ? opts->synchronous : DB_SYNC_DEFAULT;
    if (qm) {
        int rc = db__url_query(qm + 1, &st->synchronous, &st->busy_timeout_ms, refuse_option, NULL,
                               err, cap);
        if (rc != 0) {
            free(st->path);
            free(st);
            return rc;
        }
    }
    pthread_mutex_init(&st->write_lock, NULL);
    pthread_mutex_init(&st->ckpt_mu, NULL);
    pthread_cond_init(&st->ckpt_cv, NULL);
    st->read_only = opts && opts->read_only;
    if (!st->read_only)
        make_private_files(st->path);
    /* Open once now so that a bad path is reported at start, not at the first request. */
    db_conn_t *c = NULL;
    int rc = sq_conn_open(st, &c);
    if (rc != 0) {
        snprintf(err, cap, "cannot open SQLite database %s", st->path);
        goto fail;
    }
    sq_conn_close(c);
    if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) != 0) {
        snprintf(err, cap, "cannot start the SQLite checkpointer thread");
        rc = ERR_INTERNAL;
        goto fail;
    }
    *state = st;
    return 0;
fail:
    pthread_cond_destroy(&st->ckpt_cv);
    pthread_mutex_destroy(&st->ckpt_mu);
    pthread_mutex_destroy(&st->write_lock);
    free(st->path);
    free(st);
    return rc;
}

static void sq_close(void *state)
{
    struct sqlite_state *st = state;
    if (!st)
        return;
    pthread_mutex_lock(&st->ckpt_mu);
    st->ckpt_stop = true;
    pthread_cond_signal(&st->ckpt_cv);
    pthread_mutex_unlock(&st->ckpt_mu);
    pthread_join(st->ckpt_thread, NULL);
    pthread_cond_destroy(&st->ckpt_cv);
    pthread_mutex_destroy(&st->ckpt_mu);
    pthread_mutex_destroy(&st->write_lock);
    free(st->path);
    free(st);
}

/* The SQLite driver table (see db_internal.h). */
const struct db_driver db__sqlite_driver = {
    .name = "sqlite",
    .backend = DB_BACKEND_SQLITE,
    .dedicated_rotation_conn = true,
    .open = sq_open,
    .close = sq_close,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .conn_is_broken = sq_conn_is_broken,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec_script = sq_exec_script,
    .query = sq_query,
    .next = sq_next,
    .col_int = sq_col_int,
    .col_is_null = sq_col_is_null,
    .col_text = sq_col_text,
    .reset = sq_reset,
    .changes = sq_changes,
};

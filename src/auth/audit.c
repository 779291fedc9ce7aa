/*
 * audit.c - the audit trail in the database (auth.h "the audit trail"): the sink of
 * runtime/audit.h that stores every audit record in the audit_log table (migration 4), its
 * retention sweep, and the query behind `jwtd audit`.
 *
 * DESIGN: records are emitted on any thread, event loops included, and a loop must never
 * wait for the database. The sink only copies the record into a bounded in-memory queue;
 * one writer thread ("audit") takes up to AUDIT_BATCH records at a time and inserts them in
 * one transaction, so a burst costs one commit per batch. The queue is bounded
 * (AUDIT_QUEUE_MAX): if the database cannot keep up, further records are dropped (still in
 * the log) and counted, and the drop is logged once per batch. The same thread deletes rows
 * older than the retention every sweep interval. The disk use of the table is bounded by
 * what can happen within the retention: failed logins and invalid tokens are rate limited
 * per client address (JWTD_RATE_LIMIT_LOGIN, JWTD_INVALID_TOKEN_LIMIT), and tamper records per
 * address are sampled (api layer), so a flood costs at most those rates times the retention.
 */
#define LOG_MODULE "audit"
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_internal.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"
#include "runtime/log.h"

#define AUDIT_QUEUE_MAX 2048
#define AUDIT_BATCH     128

enum { A_INSERT, A_SWEEP, A_QUERY, A__N };

/* The columns the query reads, in audit_record_t's order. */
#define AUDIT_COLS                                                                                 \
    "ts, event, outcome, user_id, username, ip, request_id, sid, user_agent, source, actor, "      \
    "reason, detail"

static const db_stmt_def_t audit_sql[A__N] = {
    [A_INSERT] = {.name = "audit_insert",
                  .sql = "INSERT INTO audit_log (" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                         "?7, ?8, ?9, ?10, ?11, ?12, ?13)"},
    /* cutoff */
    [A_SWEEP] = {.name = "audit_sweep", .sql = "DELETE FROM audit_log WHERE ts < ?1"},
    /* user ('' = any; an id or a username), event, ip, since, until (0 = open), limit ->
       AUDIT_COLS, newest first */
    [A_QUERY] = {.name = "audit_query",
                 .sqlite = "SELECT " AUDIT_COLS " FROM audit_log WHERE "
                           "(?1 = '' OR CAST(user_id AS TEXT) = ?1 OR username = ?1) AND "
                           "(?2 = '' OR event = ?2) AND (?3 = '' OR ip = ?3) AND "
                           "(?4 = 0 OR ts >= ?4) AND (?5 = 0 OR ts <= ?5) "
                           "ORDER BY ts DESC, id DESC LIMIT ?6",
                 .pg = "SELECT " AUDIT_COLS " FROM audit_log WHERE "
                       "(?1::text = '' OR user_id::text = ?1::text OR username = ?1::text) AND "
                       "(?2::text = '' OR event = ?2::text) AND (?3::text = '' OR ip = ?3::text) "
                       "AND (?4::bigint = 0 OR ts >= ?4::bigint) AND "
                       "(?5::bigint = 0 OR ts <= ?5::bigint) "
                       "ORDER BY ts DESC, id DESC LIMIT ?6::bigint"},
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop;
    db_t *db;
    int64_t retention_s; /* rows older than this are swept; 0 = no sweep */
    audit_record_t *q;   /* ring of AUDIT_QUEUE_MAX */
    size_t head, n;
    size_t busy; /* records taken by the writer and not yet written */
    uint64_t dropped;
} W = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* The sink (any thread): a copy into the queue, or a drop when it is full. */
static void on_record(void *arg, const audit_record_t *r)
{
    (void)arg;
    pthread_mutex_lock(&W.mu);
    if (W.n < AUDIT_QUEUE_MAX && !W.stop) {
        W.q[(W.head + W.n) % AUDIT_QUEUE_MAX] = *r;
        W.n++;
        pthread_cond_broadcast(&W.cv); /* the writer, not only a flusher, must wake */
    } else {
        W.dropped++;
    }
    pthread_mutex_unlock(&W.mu);
}

struct batch {
    audit_record_t *r;
    size_t n;
};

static int insert_batch(db_tx_t *tx, void *arg)
{
    struct batch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        const audit_record_t *r = &b->r[i];
        db_param_t p[] = {db_int(r->ts),        db_text(r->event),
                          db_text(r->outcome),  db_int_or_null(r->user_id),
                          db_text(r->username), db_text(r->ip),
                          db_text(r->rid),      db_text(r->sid),
                          db_text(r->ua),       db_text(r->source),
                          db_text(r->actor),    db_text(r->reason),
                          db_text(r->detail)};
        int rc = db_tx_exec(tx, &audit_sql[A_INSERT], p, DB_NPARAMS(p), NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The sweep interval: a quarter of the retention, between 1 s and an hour. */
static int64_t sweep_every(int64_t retention_s)
{
    int64_t s = retention_s / 4;
    return s < 1 ? 1 : s > 3600 ? 3600 : s;
}

static void sweep(int64_t now)
{
    int64_t deleted = 0;
    int rc = auth_audit_sweep(W.db, now, W.retention_s, &deleted);
    if (rc != 0)
        log_warn("msg=\"audit sweep failed\" err=%s", err_name(rc));
    else if (deleted > 0)
        log_info("msg=\"audit records past retention deleted\" rows=%" PRId64, deleted);
}

static void *writer_main(void *arg)
{
    (void)arg;
    audit_record_t *batch = xcalloc(AUDIT_BATCH, sizeof *batch);
    int64_t next_sweep = W.retention_s ? (int64_t)time(NULL) : INT64_MAX;
    pthread_mutex_lock(&W.mu);
    for (;;) {
        while (W.n == 0 && !W.stop && (int64_t)time(NULL) < next_sweep) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&W.cv, &W.mu, &until);
        }
        size_t n = W.n < AUDIT_BATCH ? W.n : AUDIT_BATCH;
        for (size_t i = 0; i < n; i++)
            batch[i] = W.q[(W.head + i) % AUDIT_QUEUE_MAX];
        W.head = (W.head + n) % AUDIT_QUEUE_MAX;
        W.n -= n;
        W.busy = n;
        uint64_t dropped = W.dropped;
        W.dropped = 0;
        bool stop = W.stop && W.n == 0 && n == 0;
        pthread_mutex_unlock(&W.mu);
        if (dropped)
            log_warn("msg=\"audit queue full: records not stored (still logged)\" dropped=%" PRIu64,
                     dropped);
        if (n) {
            struct batch b = {batch, n};
            int rc = db_transact(W.db, insert_batch, &b);
            if (rc != 0)
                log_warn("msg=\"audit records not stored\" rows=%zu err=%s", n, err_name(rc));
        }
        int64_t now = (int64_t)time(NULL);
        if (!stop && now >= next_sweep) {
            sweep(now);
            next_sweep = now + sweep_every(W.retention_s);
        }
        pthread_mutex_lock(&W.mu);
        W.busy = 0;
        pthread_cond_broadcast(&W.cv);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&W.mu);
    free(batch);
    return NULL;
}

/* See auth.h. */
int auth_audit_start(struct db *db, int64_t retention_s, bool sweep)
{
    if (W.running)
        return 0;
    W.db = db;
    W.retention_s = sweep && retention_s > 0 ? retention_s : 0;
    W.q = xcalloc(AUDIT_QUEUE_MAX, sizeof *W.q);
    W.head = W.n = W.busy = 0;
    W.dropped = 0;
    W.stop = false;
    if (pthread_create(&W.thread, NULL, writer_main, NULL) != 0) {
        free(W.q);
        W.q = NULL;
        return ERR_INTERNAL;
    }
    W.running = true;
    audit_set_sink(on_record, NULL);
    return 0;
}

/* See auth.h. */
void auth_audit_flush(void)
{
    if (!W.running)
        return;
    pthread_mutex_lock(&W.mu);
    pthread_cond_signal(&W.cv);
    while (W.n || W.busy)
        pthread_cond_wait(&W.cv, &W.mu);
    pthread_mutex_unlock(&W.mu);
}

/* See auth.h. */
void auth_audit_stop(void)
{
    if (!W.running)
        return;
    audit_set_sink(NULL, NULL);
    pthread_mutex_lock(&W.mu);
    W.stop = true;
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
    pthread_join(W.thread, NULL);
    W.running = false;
    free(W.q);
    W.q = NULL;
}

/* See auth.h. */
int auth_audit_sweep(struct db *db, int64_t now, int64_t retention_s, int64_t *deleted)
{
    *deleted = 0;
    if (retention_s <= 0)
        return 0;
    db_param_t p[] = {db_int(now - retention_s)};
    return db_exec(db, &audit_sql[A_SWEEP], p, 1, deleted);
}

struct query {
    auth_audit_row_fn fn;
    void *arg;
};

static void col_copy(const db_row_t *row, int col, char *out, size_t cap)
{
    size_t len = 0;
    const char *t = db_row_text(row, col, &len);
    audit_text_copy(out, cap, t ? t : "", t ? len : 0);
}

static int on_row(void *arg, const db_row_t *row)
{
    struct query *q = arg;
    audit_record_t r;
    memset(&r, 0, sizeof r);
    r.ts = db_row_int(row, 0);
    col_copy(row, 1, r.event, sizeof r.event);
    col_copy(row, 2, r.outcome, sizeof r.outcome);
    r.user_id = db_row_int(row, 3);
    col_copy(row, 4, r.username, sizeof r.username);
    col_copy(row, 5, r.ip, sizeof r.ip);
    col_copy(row, 6, r.rid, sizeof r.rid);
    col_copy(row, 7, r.sid, sizeof r.sid);
    col_copy(row, 8, r.ua, sizeof r.ua);
    col_copy(row, 9, r.source, sizeof r.source);
    col_copy(row, 10, r.actor, sizeof r.actor);
    col_copy(row, 11, r.reason, sizeof r.reason);
    col_copy(row, 12, r.detail, sizeof r.detail);
    return q->fn(q->arg, &r);
}

/* See auth.h. */
int auth_audit_query(struct db *db, const auth_audit_filter_t *f, auth_audit_row_fn fn, void *arg)
{
    struct query q = {fn, arg};
    db_param_t p[] = {db_text(f->user),
                      db_text(f->event),
                      db_text(f->ip),
                      db_int(f->since > 0 ? f->since : 0),
                      db_int(f->until > 0 ? f->until : 0),
                      db_int(f->limit ? f->limit : 100)};
    return db_query(db, &audit_sql[A_QUERY], p, DB_NPARAMS(p), on_row, &q);
}

/*
 * outbox.c - the mail outbox (the mail_outbox table; this file owns its statements) and the
 * sender thread that empties it.
 *
 * A use case renders its mail and inserts it with auth__outbox_add inside the transaction of
 * the change that causes it: the mail exists if and only if the change committed. The sender
 * thread (one per server process, started by auth_start) claims due rows, delivers them
 * (smtp.c) and records the outcome:
 *   - delivered: state 'sent', the message text dropped (it held a live link);
 *   - a temporary failure (no connection, TLS, timeout, 4xx): attempts + 1, next attempt
 *     after retry_base * 2^(attempts - 1), at most 120 * retry_base; after MAX_ATTEMPTS,
 *     state 'failed';
 *   - a 5xx refusal: state 'failed' at once.
 *
 * DESIGN (at least once, never twice at the same time): a claim is one statement that sets
 * a lease (lease_until, lease_owner) on up to CLAIM_BATCH due rows whose lease has expired
 * (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent instances claim disjoint rows; SQLite
 * has one writer at a time). The outcome is written only while the lease is still this
 * sender's. A process that dies between the server's 250 and the outcome leaves a leased row
 * that another claim takes after LEASE_S: that mail is sent twice, the only duplicate there
 * is. A row is never lost: it stays until delivered or failed.
 */
#define LOG_MODULE "mail"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "auth/auth_internal.h"
#include "auth/mail.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define CLAIM_BATCH    8
#define LEASE_S        150 /* longer than one batch of attempts (curl's bounds) */
#define MAX_ATTEMPTS   10
#define KEEP_DONE_S    (7 * 86400) /* sent, failed and void rows are deleted after this */
#define HOUSEKEEPING_S 600
#define KEEP_LINKS_S   86400 /* e-mailed links and codes are deleted a day after they expire */
#define POLL_MS        500   /* how often due mail is looked for */

struct auth_mailer {
    auth_mail_options_t o;
    auth_mail_transport_t t;
    auth_mail_templates_t *templates;
    char owner[33];
    db_t *db;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int64_t last_housekeeping;
    bool poll_failing; /* the last poll failed (logged once per outage) */
};

/* ==== statements ============================================================================ */

static const db_stmt_def_t OUTBOX_INSERT = {
    "outbox_insert",
    "INSERT INTO mail_outbox (kind, recipient, message, state, created_at, next_attempt_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    NULL, NULL};

#define CLAIM_SQL(LOCK)                                                                            \
    "UPDATE mail_outbox SET lease_until = ?1 + ?2, lease_owner = ?3, attempts = attempts + 1 "     \
    "WHERE id IN (SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= ?1 "   \
    "AND lease_until <= ?1 ORDER BY id LIMIT ?4" LOCK ") "                                         \
    "RETURNING id, recipient, message, attempts"
static const db_stmt_def_t OUTBOX_CLAIM = {"outbox_claim", NULL, CLAIM_SQL(""),
                                           CLAIM_SQL(" FOR UPDATE SKIP LOCKED")};

/* Whether anything is due: the idle poll is this read, never a write. */
static const db_stmt_def_t OUTBOX_DUE = {
    "outbox_due",
    "SELECT count(*) FROM (SELECT 1 FROM mail_outbox WHERE state = 'pending' AND "
    "next_attempt_at <= ?1 AND lease_until <= ?1 LIMIT 1) d",
    NULL, NULL};

static const db_stmt_def_t OUTBOX_SENT = {
    "outbox_sent",
    "UPDATE mail_outbox SET state = 'sent', sent_at = ?1, message = '', lease_until = 0, "
    "last_error = '' WHERE id = ?2 AND lease_owner = ?3 AND state = 'pending'",
    NULL, NULL};

static const db_stmt_def_t OUTBOX_RETRY = {
    "outbox_retry",
    "UPDATE mail_outbox SET next_attempt_at = ?1, lease_until = 0, last_error = ?2 "
    "WHERE id = ?3 AND lease_owner = ?4 AND state = 'pending'",
    NULL, NULL};

static const db_stmt_def_t OUTBOX_FAILED = {
    "outbox_failed",
    "UPDATE mail_outbox SET state = 'failed', message = '', lease_until = 0, last_error = ?1 "
    "WHERE id = ?2 AND lease_owner = ?3 AND state = 'pending'",
    NULL, NULL};

static const db_stmt_def_t OUTBOX_PRUNE = {
    "outbox_prune", "DELETE FROM mail_outbox WHERE state <> 'pending' AND created_at < ?1", NULL,
    NULL};

static const db_stmt_def_t TOKENS_PRUNE = {
    "email_tokens_prune", "DELETE FROM email_tokens WHERE expires_at < ?1", NULL, NULL};

/* ==== the mailer ============================================================================ */

/* See auth_internal.h. */
int auth__mailer_new(const auth_mail_options_t *o, struct auth_mailer **out)
{
    char why[256] = "";
    struct auth_mailer *m = xcalloc(1, sizeof *m);
    *out = NULL;
    m->o = *o;
    int rc = auth__mail_templates_load(o->templates_dir, &m->templates, why, sizeof why);
    if (rc == 0 && o->smtp_url && *o->smtp_url)
        rc = auth__smtp_url_parse(o->smtp_url, &m->t, why, sizeof why);
    if (rc != 0) {
        log_error("msg=\"mail configuration refused\" reason=\"%s\"", why);
        auth__mailer_free(m);
        return ERR_CONFIG;
    }
    char addr[320];
    auth__mail_address(o->from ? o->from : "", addr, sizeof addr);
    m->t.envelope_from = xstrdup(addr);
    m->t.password = o->smtp_password ? xstrdup(o->smtp_password) : NULL;
    m->t.ca_file = o->smtp_ca_file && *o->smtp_ca_file ? xstrdup(o->smtp_ca_file) : NULL;
    m->t.spool_dir = o->spool_dir ? xstrdup(o->spool_dir) : NULL;
    if (!m->t.url && !m->t.spool_dir) {
        log_error("msg=\"mail needs JWTD_SMTP_URL or a data directory\"");
        auth__mailer_free(m);
        return ERR_CONFIG;
    }
    if (auth__random_id(m->owner) != 0) {
        auth__mailer_free(m);
        return ERR_INTERNAL;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    /* copies of what o pointed at that the mailer keeps using */
    m->o.from = xstrdup(o->from ? o->from : "");
    m->o.link_base = xstrdup(o->link_base ? o->link_base : "");
    m->o.site_name = xstrdup(o->site_name ? o->site_name : "");
    m->o.smtp_url = m->o.smtp_password = m->o.spool_dir = m->o.templates_dir = NULL;
    m->o.smtp_ca_file = NULL;
    *out = m;
    return 0;
}

/* See auth.h. */
int auth_mail_probe(const auth_mail_options_t *o, char *msg, size_t cap)
{
    auth_mail_transport_t t = {0};
    char why[512] = "";
    int rc = auth__smtp_url_parse(o->smtp_url ? o->smtp_url : "", &t, why, sizeof why);
    if (rc != 0) {
        snprintf(msg, cap, "%s", why);
        auth__mail_transport_dispose(&t);
        return -1;
    }
    t.password = o->smtp_password ? xstrdup(o->smtp_password) : NULL;
    t.ca_file = o->smtp_ca_file && *o->smtp_ca_file ? xstrdup(o->smtp_ca_file) : NULL;
    /* what is shown of the URL: host[:port], never its user:password@ */
    bool smtps = strncmp(t.url, "smtps://", 8) == 0;
    const char *host = t.url + (smtps ? 8 : 7);
    const char *at = strrchr(host, '@');
    bool user = at != NULL;
    if (at)
        host = at + 1;
    const char *tls = smtps ? "implicit TLS" : t.tls_required ? "STARTTLS" : "STARTTLS if offered";
    const char *login = user ? "AUTH ok" : "no AUTH";
    rc = auth__smtp_probe(&t, why, sizeof why);
    if (rc == 0)
        snprintf(msg, cap, "%.*s, %s, %s", (int)strcspn(host, "/"), host, tls, login);
    else
        snprintf(msg, cap, "%.*s: %s", (int)strcspn(host, "/"), host, why);
    auth__mail_transport_dispose(&t);
    return rc == 0 ? 0 : -1;
}

/* Claims and delivers one batch. Returns how many rows it claimed. */
static int run_batch(struct auth_mailer *m, int64_t now);

/* See auth_internal.h. */
int auth__outbox_flush(db_t *db, int64_t now, int64_t *mails, int64_t *links)
{
    db_param_t p[] = {db_int(now - KEEP_DONE_S)};
    db_param_t q[] = {db_int(now - KEEP_LINKS_S)};
    int rc = db_exec(db, &OUTBOX_PRUNE, p, 1, mails);
    return rc == 0 ? db_exec(db, &TOKENS_PRUNE, q, 1, links) : rc;
}

static void housekeeping(struct auth_mailer *m, int64_t now)
{
    if (now - m->last_housekeeping < HOUSEKEEPING_S)
        return;
    m->last_housekeeping = now;
    int64_t rows = 0, tokens = 0;
    int rc = auth__outbox_flush(m->db, now, &rows, &tokens);
    if (rc != 0)
        log_warn("msg=\"outbox housekeeping failed\" err=%s", err_name(rc));
    else if (rows || tokens)
        log_info("msg=\"outbox housekeeping\" mails=%" PRId64 " links=%" PRId64, rows, tokens);
}

static void *sender_main(void *arg)
{
    struct auth_mailer *m = arg;
    log_info("msg=\"mail sender started\" transport=%s", m->t.url ? "smtp" : "files");
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        pthread_mutex_unlock(&m->mu);
        int64_t now = clock_now_s();
        int n = run_batch(m, now);
        housekeeping(m, now);
        pthread_mutex_lock(&m->mu);
        if (n >= CLAIM_BATCH || m->stop)
            continue; /* more may be due */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->cv, &m->mu, &ts); /* signalled only to stop */
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* See auth_internal.h. */
int auth__mailer_start(struct auth_mailer *m, db_t *db)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!m || m->running)
        return 0;
    pthread_once(&once, curl_init_once);
    m->db = db;
    m->stop = false;
    if (pthread_create(&m->thread, NULL, sender_main, m) != 0)
        return ERR_INTERNAL;
    m->running = true;
    return 0;
}

/* See auth_internal.h. */
void auth__mailer_free(struct auth_mailer *m)
{
    if (!m)
        return;
    if (m->running) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->thread, NULL);
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
    } else if (m->owner[0]) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
    }
    auth__mail_transport_dispose(&m->t);
    auth__mail_templates_free(m->templates);
    free((char *)m->o.from);
    free((char *)m->o.link_base);
    free((char *)m->o.site_name);
    free(m);
}

/* See auth_internal.h. */
const auth_mail_options_t *auth__mailer_options(const struct auth_mailer *m)
{
    return &m->o;
}

/* See auth_internal.h. */
bool auth__mailer_spool(const struct auth_mailer *m)
{
    return !m->t.url;
}

/* ==== queueing ============================================================================== */

/* See auth_internal.h. */
int auth__outbox_add(db_tx_t *tx, struct auth_mailer *m, enum auth_mail_kind kind, const char *to,
                     const auth_mail_var_t *vars, size_t n, bool void_row, int64_t now)
{
    size_t len;
    char *msg = auth__mail_render(m->templates, kind, m->o.from, to, vars, n, now, &len);
    /* a void row (an unknown address) is written like a real one and never sent: the same
       work either way, so the answer's timing does not tell them apart */
    db_param_t p[] = {db_text(auth__mail_kind_name(kind)), db_text(to),
                      db_text(void_row ? "" : msg), db_text(void_row ? "void" : "pending"),
                      db_int(now)};
    int rc = db_tx_exec(tx, &OUTBOX_INSERT, p, DB_NPARAMS(p), NULL);
    free_secret(msg, len + 1);
    return rc;
}

/*
 * See auth_internal.h. DESIGN: the sender is not woken here. It polls every POLL_MS, so a
 * request that queued a real mail and one that wrote a void row (an unknown address) leave
 * the same work behind them: waking the sender at once would start an SMTP conversation
 * while the answer is on its way and make the known address measurably slower.
 */
void auth__mailer_kick(struct auth_mailer *m)
{
    (void)m;
    metrics_count(METRICS_MAIL_QUEUED);
}

/* ==== sending =============================================================================== */

struct claimed {
    int64_t id;
    char *rcpt;
    char *msg;
    size_t len;
    int64_t attempts;
};

static int read_claimed(void *item, const db_row_t *row)
{
    struct claimed *c = item;
    size_t len = 0;
    const char *msg = db_row_text(row, 2, &len);
    c->id = db_row_int(row, 0);
    c->rcpt = db_row_strdup(row, 1);
    c->msg = xstrndup(msg ? msg : "", msg ? len : 0);
    c->len = msg ? len : 0;
    c->attempts = db_row_int(row, 3);
    return 0;
}

static void dispose_claimed(void *item)
{
    struct claimed *c = item;
    free(c->rcpt);
    if (c->msg)
        free_secret(c->msg, c->len + 1);
}

static const db_list_def_t CLAIMED = {sizeof(struct claimed), CLAIM_BATCH, read_claimed,
                                      dispose_claimed};

/* The delay before attempt number attempts + 1. */
static int64_t backoff(const struct auth_mailer *m, int64_t attempts)
{
    int64_t base = m->o.retry_base_s > 0 ? m->o.retry_base_s : 30;
    int64_t cap = 120 * base, d = base;
    for (int64_t i = 1; i < attempts && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

static void record(struct auth_mailer *m, const struct claimed *c, enum auth_mail_result r,
                   const char *why)
{
    int64_t now = clock_now_s();
    int rc;
    if (r == AUTH_MAIL_DELIVERED) {
        db_param_t p[] = {db_int(now), db_int(c->id), db_text(m->owner)};
        rc = db_exec(m->db, &OUTBOX_SENT, p, DB_NPARAMS(p), NULL);
        metrics_count(METRICS_MAIL_SENT);
        log_info("msg=\"mail sent\" id=%" PRId64 " attempts=%" PRId64, c->id, c->attempts);
    } else if (r == AUTH_MAIL_RETRY && c->attempts < MAX_ATTEMPTS) {
        int64_t next = now + backoff(m, c->attempts);
        db_param_t p[] = {db_int(next), db_text(why), db_int(c->id), db_text(m->owner)};
        rc = db_exec(m->db, &OUTBOX_RETRY, p, DB_NPARAMS(p), NULL);
        metrics_count(METRICS_MAIL_RETRIED);
        log_warn("msg=\"mail not sent, will retry\" id=%" PRId64 " attempts=%" PRId64
                 " retry_in=%" PRId64 " reason=\"%s\"",
                 c->id, c->attempts, next - now, why);
    } else {
        db_param_t p[] = {db_text(why), db_int(c->id), db_text(m->owner)};
        rc = db_exec(m->db, &OUTBOX_FAILED, p, DB_NPARAMS(p), NULL);
        metrics_count(METRICS_MAIL_FAILED);
        log_error("msg=\"mail failed for good\" id=%" PRId64 " attempts=%" PRId64 " reason=\"%s\"",
                  c->id, c->attempts, why);
    }
    if (rc != 0) /* the lease runs out and the row is tried again: at least once */
        log_warn("msg=\"outbox outcome not recorded\" id=%" PRId64 " err=%s", c->id, err_name(rc));
}

static int by_id(const void *x, const void *y)
{
    const struct claimed *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

static int run_batch(struct auth_mailer *m, int64_t now)
{
    struct {
        struct claimed *items;
        size_t count;
    } l = {0};
    int64_t due = 0;
    db_param_t d[] = {db_int(now)};
    int rc = db_query_one(m->db, &OUTBOX_DUE, d, DB_NPARAMS(d), db_row_read_int, &due);
    if (rc != 0 && !m->poll_failing)
        log_warn("msg=\"outbox poll failed; mail waits in the outbox\" err=%s", err_name(rc));
    else if (rc == 0 && m->poll_failing)
        log_info("msg=\"outbox poll works again\"");
    m->poll_failing = rc != 0;
    if (rc != 0 || due == 0)
        return 0;
    db_param_t p[] = {db_int(now), db_int(LEASE_S), db_text(m->owner), db_int(CLAIM_BATCH)};
    rc = DB_QUERY_LIST(m->db, &OUTBOX_CLAIM, p, DB_NPARAMS(p), &CLAIMED, &l);
    if (rc != 0) {
        log_warn("msg=\"outbox claim failed\" err=%s", err_name(rc));
        return 0;
    }
    /* in the order they were queued (RETURNING has no order of its own) */
    if (l.count > 1)
        qsort(l.items, l.count, sizeof l.items[0], by_id);
    for (size_t i = 0; i < l.count; i++) {
        char why[256];
        enum auth_mail_result r = auth__mail_deliver(
            &m->t, l.items[i].id, l.items[i].rcpt, l.items[i].msg, l.items[i].len, why, sizeof why);
        record(m, &l.items[i], r, why);
    }
    int n = (int)l.count;
    db_list_free(&CLAIMED, l.items, l.count);
    return n;
}

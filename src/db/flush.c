/*
 * flush.c - housekeeping (db.h db_flush_expired, `jwtd flush-expired`): one transaction
 * deleting refresh tokens and access-token revocations past their expiry, then sessions
 * that have no refresh token left and whose last use or revocation is older than the
 * retention. A revoked session must outlive its refresh tokens: the revocation index
 * reloads revoked sids from the sessions table at start, so the row stays as long as an
 * access token of the session can live; and deleted users' tombstones past the same
 * retention. Revocation events (the feed's) older than the retention go too: every token
 * they cover has expired. Nothing else is deleted here.
 */
#include "db/db.h"

#include "db/db_internal.h"

struct flush {
    int64_t now, retain_s;
    db_flush_stats_t stats;
};

static int flush_body(db_tx_t *tx, void *arg)
{
    struct flush *a = arg;
    int64_t refresh = 0, revoked = 0, sessions = 0, tombstones = 0, events = 0;
    db_param_t p[] = {db_int(a->now)};
    db_param_t q[] = {db_int(a->now - a->retain_s)};
    int rc = db_tx_exec(tx, DB_SQL(FLUSH_REFRESH), p, DB_NPARAMS(p), &refresh);
    if (rc == 0)
        rc = db_tx_exec(tx, DB_SQL(FLUSH_REVOKED), p, DB_NPARAMS(p), &revoked);
    if (rc == 0)
        rc = db_tx_exec(tx, DB_SQL(FLUSH_SESSIONS), q, DB_NPARAMS(q), &sessions);
    if (rc == 0)
        rc = db_tx_exec(tx, DB_SQL(FLUSH_TOMBSTONES), q, DB_NPARAMS(q), &tombstones);
    if (rc == 0)
        rc = db_tx_exec(tx, DB_SQL(FLUSH_EVENTS), q, DB_NPARAMS(q), &events);
    a->stats.refresh_tokens = (uint32_t)refresh;
    a->stats.revoked_tokens = (uint32_t)revoked;
    a->stats.sessions = (uint32_t)sessions;
    a->stats.tombstones = (uint32_t)tombstones;
    a->stats.revocation_events = (uint32_t)events;
    return rc;
}

/* See db.h. */
int db_flush_expired(db_t *db, int64_t now, int64_t retain_s, db_flush_stats_t *stats)
{
    struct flush a = {now, retain_s, {0}};
    int rc = db_transact(db, flush_body, &a);
    if (rc == 0 && stats)
        *stats = a.stats;
    return rc;
}

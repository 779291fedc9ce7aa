/*
 * db.c - opening and closing a database (db.h "opening"): the URL picks the driver
 * (sqlite: or postgresql://), jwtd's own URL options are read here for every driver
 * (db__url_query), the driver opens its backend-wide state, and the handle gets its
 * connection pool (run.c). Opening refuses a build whose statement table (sql.c) or
 * migrations (migrate.c) lack text for the backend. Nothing here runs a statement except
 * db_ping; the domain operations live in one file per table family (users.c, sessions.c,
 * refresh.c, revoked.c, flush.c) and migrations in migrate.c.
 */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/err.h"
#include "common/str.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define DEFAULT_MAX_CONNECTIONS 8

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

static int parse_u32(const char *v, size_t len, uint32_t max, uint32_t *out)
{
    uint64_t x;
    if (len > 10 || !str_to_u64(str_make(v, len), max, &x))
        return -1;
    *out = (uint32_t)x;
    return 0;
}

/* Applies jwtd's option key=v (kl and vl bytes); 1 when key is not one of jwtd's. */
static int own_option(const char *key, size_t kl, const char *v, size_t vl, enum db_sync *sync,
                      uint32_t *busy_timeout_ms, char *err, size_t cap)
{
    if (kl == 11 && memcmp(key, "synchronous", 11) == 0) {
        if (vl == 3 && strncasecmp(v, "off", 3) == 0)
            *sync = DB_SYNC_OFF;
        else if (vl == 6 && strncasecmp(v, "normal", 6) == 0)
            *sync = DB_SYNC_NORMAL;
        else if (vl == 4 && strncasecmp(v, "full", 4) == 0)
            *sync = DB_SYNC_FULL;
        else {
            snprintf(err, cap, "database URL: synchronous must be off, normal or full");
            return ERR_CONFIG;
        }
        return 0;
    }
    if (kl == 15 && memcmp(key, "busy_timeout_ms", 15) == 0) {
        if (parse_u32(v, vl, 600000, busy_timeout_ms) != 0) {
            snprintf(err, cap, "database URL: busy_timeout_ms must be 0..600000");
            return ERR_CONFIG;
        }
        return 0;
    }
    if (kl == 4 && memcmp(key, "pool", 4) == 0)
        return 0; /* db_open reads it (url_pool_size) */
    return 1;
}

/* See db_internal.h. */
int db__url_query(const char *q, enum db_sync *sync, uint32_t *busy_timeout_ms,
                  db_url_item_cb other, void *arg, char *err, size_t cap)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        size_t kl = eq ? (size_t)(eq - q) : n;
        int rc = own_option(q, kl, eq ? eq + 1 : "", eq ? n - kl - 1 : 0, sync, busy_timeout_ms,
                            err, cap);
        if (rc == 1)
            rc = other(arg, q, n, err, cap);
        if (rc != 0)
            return rc;
        q += n + (amp ? 1 : 0);
    }
    return 0;
}

/* The driver of url's scheme and the part of the URL it parses; NULL for another scheme. */
static const struct db_driver *driver_for(const char *url, const char **target)
{
    if (strncmp(url, "sqlite:", 7) == 0) {
        *target = url + 7;
        return &db__sqlite_driver;
    }
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        *target = url; /* libpq parses the whole URL */
        return &db__pg_driver;
    }
    return NULL;
}

/* See db.h. */
uint32_t db_pool_threads_for(const char *url, uint32_t cores)
{
    const char *target;
    if (cores == 0)
        cores = 1;
    if (!url || driver_for(url, &target) != &db__pg_driver)
        return cores;
    uint32_t n = cores * 4;
    return n < 8 ? 8 : n > 32 ? 32 : n;
}

/* See db.h. */
bool db_exists(const char *url)
{
    const char *target = NULL;
    const struct db_driver *drv = url ? driver_for(url, &target) : NULL;
    if (!drv)
        return false;
    if (drv != &db__sqlite_driver)
        return true;
    if (strncmp(target, "//", 2) == 0)
        target += 2;
    size_t n = strcspn(target, "?");
    char *path = xstrndup(target, n);
    bool yes = n > 0 && access(path, F_OK) == 0;
    free(path);
    return yes;
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
    const char *target = NULL;
    const struct db_driver *drv = driver_for(url, &target);
    if (!drv) {
        snprintf(err, cap,
                 "unsupported database URL scheme (expected sqlite:PATH or postgresql://...)");
        return ERR_CONFIG;
    }
    /* A guard for statements and migrations added later without every backend's text. */
    int rc = db__stmt_check(db__sql, DB_STMT__COUNT, drv->backend, err, cap);
    if (rc == 0 && drv->backend == DB_BACKEND_PG)
        rc = db__stmt_check(&db__pg_rotate, 1, drv->backend, err, cap);
    if (rc == 0 && drv->backend == DB_BACKEND_PG)
        rc = db__stmt_check(&db__pg_session_create, 1, drv->backend, err, cap);
    if (rc == 0)
        rc = db__migrations_check(drv->backend, err, cap);
    if (rc != 0)
        return rc;
    void *state = NULL;
    if ((rc = drv->open(target, opts, &state, err, cap)) != 0)
        return rc;
    db_t *db = xcalloc(1, sizeof *db);
    db->drv = drv;
    db->state = state;
    uint32_t max = url_pool_size(url);
    if (!max)
        max = opts && opts->max_connections ? opts->max_connections : DEFAULT_MAX_CONNECTIONS;
    db__pool_init(db, max);
    *out = db;
    return 0;
}

/* See db.h. */
void db_close(db_t *db)
{
    if (!db)
        return;
    db__pool_dispose(db);
    db->drv->close(db->state);
    free(db);
}

/* See db.h. */
const char *db_backend_name(const db_t *db)
{
    return db->drv->name;
}

/* See db.h. */
int db_ping(db_t *db)
{
    int64_t one = 0;
    return db_query_one(db, DB_SQL(PING), NULL, 0, db_row_read_int, &one);
}

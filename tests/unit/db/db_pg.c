/*
 * Unit tests of the PostgreSQL backend (src/db/db_pg.c) against a real server started by
 * the tests (pgtest.h), plus the fixture itself. The backend-independent behaviour (every
 * operation, rotation races, flush, the runner) is the suite in the other files of this
 * directory, which runs against PostgreSQL when JWTD_TEST_PG=1 (tmpdb.h; `make test` does
 * both); the tests here cover what only PostgreSQL has: URL options handed to libpq,
 * SQLSTATE mapping, lock timeouts, a lost server answering ERR_UNAVAILABLE and the pool
 * recovering by itself.
 */
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "db/db.h"
#include "db/db_internal.h"
#include "db/pgtest.h"

/* ==== fixture ============================================================================= */

static char server_dir[128];
static char admin_url[256];
static int server_port;
static int db_seq;
static bool server_failed;

/* tests/pg/pg-server under JWTD_SRC_ROOT (make unit sets it) or the current directory. */
static const char *script(void)
{
    static char path[512];
    const char *root = getenv("JWTD_SRC_ROOT");
    snprintf(path, sizeof path, "%s/tests/pg/pg-server", root && *root ? root : ".");
    return path;
}

bool pgtest_available(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s available", script());
    return access(script(), X_OK) == 0 && system(cmd) == 0;
}

static void stop_server(void)
{
    if (!server_dir[0])
        return;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s stop %s", script(), server_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pgtest: stopping %s failed\n", server_dir);
    server_dir[0] = '\0';
}

static int start_server(int port)
{
    char cmd[700];
    if (port)
        snprintf(cmd, sizeof cmd, "PG_SERVER_OPTS='-c fsync=off' %s start %s %d", script(),
                 server_dir, port);
    else
        snprintf(cmd, sizeof cmd, "PG_SERVER_OPTS='-c fsync=off' %s start %s", script(),
                 server_dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[256] = "";
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    int st = pclose(p);
    line[strcspn(line, "\n")] = '\0';
    if (st != 0 || strncmp(line, "postgresql://", 13) != 0)
        return -1;
    snprintf(admin_url, sizeof admin_url, "%s", line);
    const char *colon = strrchr(line, ':');
    server_port = colon ? atoi(colon + 1) : 0;
    return 0;
}

static int ensure_server(void)
{
    if (admin_url[0])
        return 0;
    if (server_failed || !pgtest_available())
        return -1;
    snprintf(server_dir, sizeof server_dir, "/tmp/jwtd-pgunit-XXXXXX");
    if (!mkdtemp(server_dir) || start_server(0) != 0) {
        fprintf(stderr, "pgtest: cannot start a PostgreSQL server\n");
        server_failed = true;
        stop_server();
        return -1;
    }
    atexit(stop_server);
    return 0;
}

const char *pgtest_admin_url(void)
{
    return admin_url;
}

int pgtest_halt(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s halt %s", script(), server_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int pgtest_resume(void)
{
    return start_server(server_port);
}

static int admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(admin_url);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc != 0)
            fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

int pgtest_create_db(char *url, size_t cap)
{
    if (ensure_server() != 0)
        return -1;
    char name[64], sql[128];
    snprintf(name, sizeof name, "jwtd_u_%d_%d", (int)getpid(), ++db_seq);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (admin_exec(sql) != 0)
        return -1;
    const char *slash = strrchr(admin_url, '/');
    snprintf(url, cap, "%.*s/%s?synchronous=off", (int)(slash - admin_url), admin_url, name);
    return 0;
}

void pgtest_drop_db(const char *url)
{
    const char *slash = strrchr(url, '/');
    if (!slash || !admin_url[0])
        return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
             (int)strcspn(slash + 1, "?"), slash + 1);
    admin_exec(sql);
}

#define SKIP_WITHOUT_PG()                                                                          \
    do {                                                                                           \
        if (!pgtest_available()) {                                                                 \
            fprintf(stderr, "  (skipped: PostgreSQL server binaries are not installed)\n");        \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ==== tests =============================================================================== */

TEST(db_pg_open_urls)
{
    db_t *db = NULL;
    char err[256];
    /* Nothing listens on port 1: unreachable is UNAVAILABLE, and the password never shows. */
    ASSERT_EQ_INT(db_open("postgresql://u:s3cret@127.0.0.1:1/x", NULL, &db, err, sizeof err),
                  ERR_UNAVAILABLE);
    ASSERT_TRUE(strstr(err, "cannot connect to PostgreSQL at 127.0.0.1:1/x") != NULL);
    ASSERT_TRUE(strstr(err, "s3cret") == NULL);
    ASSERT_EQ_INT(db_open("postgresql://u@h/x?synchronous=maybe", NULL, &db, err, sizeof err),
                  ERR_CONFIG);
    ASSERT_EQ_INT(db_open("postgresql://u@h/x?busy_timeout_ms=x", NULL, &db, err, sizeof err),
                  ERR_CONFIG);
    ASSERT_EQ_INT(db_open("postgresql://u@h/x?bogus=1", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "invalid PostgreSQL URL") != NULL);
    ASSERT_TRUE(db == NULL);

    SKIP_WITHOUT_PG();
    char url[320], full[400];
    ASSERT_EQ_INT(pgtest_create_db(url, sizeof url), 0);
    /* jwtd's options are taken out; libpq's (connect_timeout) are kept. */
    snprintf(full, sizeof full, "%s&busy_timeout_ms=100&pool=2&connect_timeout=3", url);
    ASSERT_EQ_INT(db_open(full, NULL, &db, err, sizeof err), 0);
    ASSERT_STR_EQ(db_backend_name(db), "postgresql");
    ASSERT_EQ_INT(db_ping(db), 0);
    int v = -1;
    ASSERT_EQ_INT(db_schema_version(db, &v), 0);
    ASSERT_EQ_INT(v, 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    ASSERT_EQ_INT(db_schema_version(db, &v), 0);
    ASSERT_EQ_INT(v, db_schema_latest());
    db_close(db);
    /* postgres:// is the same scheme */
    snprintf(full, sizeof full, "postgres://%s", strstr(url, "://") + 3);
    ASSERT_EQ_INT(db_open(full, NULL, &db, err, sizeof err), 0);
    ASSERT_EQ_INT(db_ping(db), 0);
    db_close(db);
    pgtest_drop_db(url);
}

/* Migrations run concurrently from several handles apply once (advisory lock). */
struct mig {
    const char *url;
    int rc, applied;
};

static void *mig_main(void *arg)
{
    struct mig *m = arg;
    db_t *db;
    m->rc = db_open(m->url, NULL, &db, NULL, 0);
    if (m->rc == 0) {
        m->rc = db_migrate(db, &m->applied);
        db_close(db);
    }
    return NULL;
}

TEST(db_pg_concurrent_migrations_apply_once)
{
    SKIP_WITHOUT_PG();
    enum { N = 4 };
    char url[320];
    ASSERT_EQ_INT(pgtest_create_db(url, sizeof url), 0);
    pthread_t th[N];
    struct mig m[N];
    for (int i = 0; i < N; i++) {
        m[i] = (struct mig){.url = url};
        pthread_create(&th[i], NULL, mig_main, &m[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(m[i].rc, 0);
        total += m[i].applied;
    }
    CHECK_EQ_INT(total, db_schema_latest());
    pgtest_drop_db(url);
}

static int64_t mkuser(db_t *db, const char *name)
{
    db_user_t u = {0};
    int64_t id = 0;
    u.username = (char *)name;
    u.is_active = true;
    u.password_hash = (char *)"x";
    return db_user_create(db, &u, 1000, &id) == 0 ? id : -1;
}

TEST(db_pg_lock_timeout_is_unavailable)
{
    SKIP_WITHOUT_PG();
    char url[320], full[400], err[256];
    db_t *db;
    ASSERT_EQ_INT(pgtest_create_db(url, sizeof url), 0);
    snprintf(full, sizeof full, "%s&busy_timeout_ms=200", url);
    ASSERT_EQ_INT(db_open(full, NULL, &db, err, sizeof err), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    int64_t uid = mkuser(db, "alice");
    ASSERT_TRUE(uid > 0);
    db_session_t s = {0};
    db_refresh_t rt = {0};
    snprintf(s.sid, sizeof s.sid, "s1");
    s.user_id = uid;
    snprintf(rt.jti, sizeof rt.jti, "r1");
    rt.expires_at = 9000;
    ASSERT_EQ_INT(db_session_create(db, &s, &rt, 2000), 0);

    /* Another client holds the refresh token's row lock in an open transaction. */
    char raw[320];
    snprintf(raw, sizeof raw, "%.*s", (int)strcspn(url, "?"), url);
    PGconn *other = PQconnectdb(raw);
    ASSERT_TRUE(PQstatus(other) == CONNECTION_OK);
    PQclear(PQexec(other, "BEGIN"));
    PGresult *r = PQexec(other, "SELECT 1 FROM refresh_tokens WHERE jti = 'r1' FOR UPDATE");
    CHECK_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);

    db_rotate_result_t out;
    double t0 = now_ms();
    CHECK_EQ_INT(db_refresh_rotate(db, "s1", "r1", "r2", 9500, 2100, 10, &out), ERR_UNAVAILABLE);
    double took = now_ms() - t0;
    CHECK_TRUE(took >= 150 && took < 3000);
    CHECK_EQ_INT(out.status, DB_ROTATE_NOT_VALID);
    db_rotate_result_dispose(&out);

    /* Released: the same call succeeds on the same pool. */
    PQclear(PQexec(other, "ROLLBACK"));
    PQfinish(other);
    CHECK_EQ_INT(db_refresh_rotate(db, "s1", "r1", "r2", 9500, 2100, 10, &out), 0);
    CHECK_EQ_INT(out.status, DB_ROTATE_ROTATED);
    CHECK_STR_EQ(out.user.username, "alice");
    db_rotate_result_dispose(&out);
    db_close(db);
    pgtest_drop_db(url);
}

/* A rotation on PostgreSQL is one round trip whatever its verdict: the function call of
   db__pg_rotate, in autocommit (no BEGIN, no COMMIT). */
TEST(db_pg_rotation_is_one_round_trip)
{
    SKIP_WITHOUT_PG();
    char url[320], err[256];
    db_t *db;
    ASSERT_EQ_INT(pgtest_create_db(url, sizeof url), 0);
    ASSERT_EQ_INT(db_open(url, &(db_options_t){.max_connections = 1}, &db, err, sizeof err), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    int64_t uid = mkuser(db, "alice");
    ASSERT_TRUE(uid > 0);
    db_session_t s = {0};
    db_refresh_t rt = {0};
    snprintf(s.sid, sizeof s.sid, "s1");
    s.user_id = uid;
    snprintf(rt.jti, sizeof rt.jti, "r1");
    rt.expires_at = 9000;
    ASSERT_EQ_INT(db_session_create(db, &s, &rt, 2000), 0);

    /* The first rotation on the connection also prepares the statement (one more trip). */
    db_rotate_result_t out;
    uint64_t before = db__round_trips(db);
    CHECK_EQ_INT(db_refresh_rotate(db, "s1", "r1", "r2", 9500, 2100, 10, &out), 0);
    CHECK_EQ_INT(out.status, DB_ROTATE_ROTATED);
    CHECK_TRUE(db__round_trips(db) - before <= 2);
    db_rotate_result_dispose(&out);

    struct {
        const char *jti, *new_jti;
        int64_t now;
        enum db_rotate_status status;
        const char *reason;
    } steps[] = {
        {"r2", "r3", 2200, DB_ROTATE_ROTATED, "rotated"},
        {"r2", "r4", 2205, DB_ROTATE_REUSED_WITHIN_GRACE, "grace"},
        {"zz", "r5", 2206, DB_ROTATE_NOT_VALID, "unknown"},
        {"r1", "r6", 2300, DB_ROTATE_REUSE_DETECTED, "reuse"},
        {"r3", "r7", 2301, DB_ROTATE_NOT_VALID, "session_revoked"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        before = db__round_trips(db);
        CHECK_EQ_INT(db_refresh_rotate(db, "s1", steps[i].jti, steps[i].new_jti, 9500, steps[i].now,
                                       10, &out),
                     0);
        CHECK_EQ_INT(db__round_trips(db) - before, 1);
        CHECK_EQ_INT(out.status, steps[i].status);
        CHECK_STR_EQ(out.reason, steps[i].reason);
        if (steps[i].status == DB_ROTATE_REUSED_WITHIN_GRACE) {
            CHECK_STR_EQ(out.successor_jti, "r3");
            CHECK_EQ_INT(out.successor_issued_at, 2200);
            CHECK_STR_EQ(out.user.username, "alice");
        }
        db_rotate_result_dispose(&out);
    }
    /* login's write (session, first refresh token, last_login) is one trip too */
    db_session_t s2 = {0};
    db_refresh_t rt2 = {0};
    snprintf(s2.sid, sizeof s2.sid, "s2");
    s2.user_id = uid;
    snprintf(rt2.jti, sizeof rt2.jti, "q1");
    rt2.expires_at = 9000;
    CHECK_EQ_INT(db_session_create(db, &s2, &rt2, 2350), 0); /* prepares it */
    snprintf(s2.sid, sizeof s2.sid, "s3");
    before = db__round_trips(db);
    CHECK_EQ_INT(db_session_create(db, &s2, &rt2, 2351), 0); /* q1 again: another session */
    CHECK_EQ_INT(db__round_trips(db) - before, 1);
    db_refresh_t got;
    CHECK_EQ_INT(db_refresh_get(db, "s3", "q1", &got), 0);
    CHECK_EQ_INT(got.issued_at, 2351);
    CHECK_EQ_INT(got.expires_at, 9000);
    db_user_t u;
    CHECK_EQ_INT(db_user_find_by_id(db, uid, &u), 0);
    CHECK_EQ_INT(u.last_login, 2351);
    db_user_dispose(&u);
    snprintf(s2.sid, sizeof s2.sid, "s4"); /* without a refresh token */
    CHECK_EQ_INT(db_session_create(db, &s2, NULL, 2352), 0);
    CHECK_EQ_INT(db_refresh_get(db, "s4", "q1", &got), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_create(db, &s2, NULL, 2353), ERR_CONFLICT);
    s2.user_id = uid + 100;
    snprintf(s2.sid, sizeof s2.sid, "s5");
    CHECK_EQ_INT(db_session_create(db, &s2, &rt2, 2354), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_refresh_get(db, "s5", "q1", &got), ERR_NOT_FOUND);

    /* a user's revocation (logout-all: the watermark and every open session) is one trip */
    CHECK_EQ_INT(db_user_revoke_all(db, uid, 2400, NULL), 0); /* prepares it */
    snprintf(s2.sid, sizeof s2.sid, "s6");
    s2.user_id = uid;
    CHECK_EQ_INT(db_session_create(db, &s2, NULL, 2401), 0);
    uint32_t n = 0;
    before = db__round_trips(db);
    CHECK_EQ_INT(db_user_revoke_all(db, uid, 2402, &n), 0);
    CHECK_EQ_INT(db__round_trips(db) - before, 1);
    CHECK_EQ_INT(n, 1);
    db_session_t got_s;
    CHECK_EQ_INT(db_session_get(db, "s6", &got_s), 0);
    CHECK_EQ_INT(got_s.revoked_at, 2402);
    db_session_dispose(&got_s);
    CHECK_EQ_INT(db_user_find_by_id(db, uid, &u), 0);
    CHECK_EQ_INT(u.revoke_before, 2402);
    db_user_dispose(&u);
    CHECK_EQ_INT(db_user_revoke_all(db, uid + 100, 2403, NULL), ERR_NOT_FOUND);

    /* a logout's lookup: the token, its session's revocation and its user in one trip */
    int64_t revoked_at = 0;
    CHECK_EQ_INT(db_refresh_load(db, "s3", "q1", &got, &revoked_at, &u), 0); /* prepares */
    db_user_dispose(&u);
    before = db__round_trips(db);
    CHECK_EQ_INT(db_refresh_load(db, "s3", "q1", &got, &revoked_at, &u), 0);
    CHECK_EQ_INT(db__round_trips(db) - before, 1);
    CHECK_STR_EQ(got.sid, "s3");
    CHECK_EQ_INT(got.issued_at, 2351);
    CHECK_EQ_INT(got.used_at, 0);
    CHECK_EQ_INT(revoked_at, 2400);
    CHECK_STR_EQ(u.username, "alice");
    CHECK_EQ_INT(u.revoke_before, 2402);
    db_user_dispose(&u);
    CHECK_EQ_INT(db_refresh_load(db, "s3", "zz", &got, &revoked_at, &u), ERR_NOT_FOUND);

    /* the counter counts: a two-statement transaction is more than one trip */
    before = db__round_trips(db);
    CHECK_EQ_INT(db_user_delete(db, uid, 2500), 0);
    CHECK_TRUE(db__round_trips(db) - before >= 2);
    db_close(db);
    pgtest_drop_db(url);
}

TEST(db_pg_lost_server_is_unavailable_and_recovers)
{
    SKIP_WITHOUT_PG();
    char url[320], err[256];
    db_t *db;
    ASSERT_EQ_INT(pgtest_create_db(url, sizeof url), 0);
    ASSERT_EQ_INT(db_open(url, NULL, &db, err, sizeof err), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    ASSERT_TRUE(mkuser(db, "alice") > 0);

    /* Restarted while the pooled connection was idle: the health check reconnects before
       sending, so the very first call after the restart succeeds. */
    ASSERT_EQ_INT(pgtest_halt(), 0);
    ASSERT_EQ_INT(pgtest_resume(), 0);
    db_user_t u;
    CHECK_EQ_INT(db_user_find_by_username(db, "alice", &u), 0);
    db_user_dispose(&u);

    /* Down: every call answers UNAVAILABLE, quickly (refused), never NOT_FOUND. */
    ASSERT_EQ_INT(pgtest_halt(), 0);
    double t0 = now_ms();
    CHECK_EQ_INT(db_user_find_by_username(db, "alice", &u), ERR_UNAVAILABLE);
    CHECK_EQ_INT(db_ping(db), ERR_UNAVAILABLE);
    db_rotate_result_t out;
    CHECK_EQ_INT(db_refresh_rotate(db, "s1", "r1", "r2", 9500, 2100, 10, &out), ERR_UNAVAILABLE);
    db_rotate_result_dispose(&out);
    CHECK_TRUE(now_ms() - t0 < 5000);

    /* Back: the next call succeeds by itself. */
    ASSERT_EQ_INT(pgtest_resume(), 0);
    CHECK_EQ_INT(db_ping(db), 0);
    CHECK_EQ_INT(db_user_find_by_username(db, "alice", &u), 0);
    CHECK_STR_EQ(u.username, "alice");
    db_user_dispose(&u);
    db_close(db);
    pgtest_drop_db(url);
}

TEST(db_pg_sqlstate_mapping)
{
    SKIP_WITHOUT_PG();
    char url[320];
    db_t *db;
    ASSERT_EQ_INT(pgtest_create_db(url, sizeof url), 0);
    ASSERT_EQ_INT(db_open(url, NULL, &db, NULL, 0), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    int64_t uid = mkuser(db, "alice");
    ASSERT_TRUE(uid > 0);
    /* 23505 -> CONFLICT (username; email case-insensitive in ASCII, whatever the locale) */
    CHECK_EQ_INT(mkuser(db, "alice"), -1);
    db_user_t u = {0};
    u.username = (char *)"bob";
    u.email = (char *)"Bob@Example.org";
    CHECK_EQ_INT(db_user_create(db, &u, 1000, NULL), 0);
    u.username = (char *)"bob2";
    u.email = (char *)"bob@example.ORG";
    CHECK_EQ_INT(db_user_create(db, &u, 1000, NULL), ERR_CONFLICT);
    /* invalid UTF-8 (22021) -> INVALID, not INTERNAL */
    u.username = (char *)"bad\xff";
    u.email = (char *)"";
    CHECK_EQ_INT(db_user_create(db, &u, 1000, NULL), ERR_INVALID);
    /* 23503 -> NOT_FOUND (session of a missing user) */
    db_session_t s = {0};
    snprintf(s.sid, sizeof s.sid, "s1");
    s.user_id = 999;
    CHECK_EQ_INT(db_session_create(db, &s, NULL, 1000), ERR_NOT_FOUND);
    /* the pool is still healthy after errors inside transactions */
    CHECK_EQ_INT(db_ping(db), 0);
    s.user_id = uid;
    CHECK_EQ_INT(db_session_create(db, &s, NULL, 1000), 0);
    db_close(db);
    pgtest_drop_db(url);
}

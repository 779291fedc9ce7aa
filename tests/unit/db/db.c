/*
 * Unit tests for src/db/ (db.c over the SQLite driver), each against a fresh temporary
 * SQLite file: URLs, migrations, every operation, constraint mapping, refresh rotation
 * semantics (including N threads rotating one jti), revocations and flush.
 * With JWTD_TEST_PG=1 the same tests run against a fresh database on a real PostgreSQL
 * server instead (tests/unit/db/pgtest.h; `make test` runs both).
 */
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "db/db.h"
#include "db/pgtest.h"

struct tmpdb {
    char dir[64];
    char path[128];
    char url[320];
    db_t *db;
    bool pg;
};

/* A fresh database (SQLite file, or PostgreSQL with JWTD_TEST_PG=1) migrated to version. */
static int tmpdb_open_at(struct tmpdb *t, int version)
{
    const char *pg = getenv("JWTD_TEST_PG");
    t->pg = pg && strcmp(pg, "1") == 0;
    if (t->pg) {
        if (pgtest_create_db(t->url, sizeof t->url) != 0)
            return -1;
        char perr[256];
        int prc = db_open(t->url, NULL, &t->db, perr, sizeof perr);
        if (prc != 0) {
            fprintf(stderr, "db_open: %s\n", perr);
            return prc;
        }
        return db_migrate_to(t->db, version, NULL);
    }
    snprintf(t->dir, sizeof t->dir, "/tmp/jwtd-dbtest-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof t->path, "%s/t.db", t->dir);
    snprintf(t->url, sizeof t->url, "sqlite:%s?synchronous=off", t->path);
    char err[256];
    int rc = db_open(t->url, NULL, &t->db, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "db_open: %s\n", err);
        return rc;
    }
    return db_migrate_to(t->db, version, NULL);
}

static int tmpdb_open(struct tmpdb *t)
{
    return tmpdb_open_at(t, db_schema_latest());
}

static void tmpdb_close(struct tmpdb *t)
{
    char p[200];
    db_close(t->db);
    t->db = NULL;
    if (t->pg) {
        pgtest_drop_db(t->url);
        return;
    }
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", t->path, suffixes[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

static int64_t mkuser(db_t *db, const char *name, const char *email)
{
    db_user_t u = {0};
    int64_t id = 0;
    u.username = (char *)name;
    u.email = (char *)email;
    u.is_active = true;
    u.password_hash = (char *)"x";
    if (db_user_create(db, &u, 1000, &id) != 0)
        return -1;
    return id;
}

/* A session "s<n>" with first refresh token "r<n>" expiring at exp. */
static int mksession(db_t *db, int64_t uid, const char *sid, const char *jti, int64_t now,
                     int64_t exp)
{
    db_session_t s = {0};
    db_refresh_t rt = {0};
    snprintf(s.sid, sizeof s.sid, "%s", sid);
    s.user_id = uid;
    s.client_ip = (char *)"127.0.0.1";
    s.user_agent = (char *)"test\001agent";
    snprintf(rt.jti, sizeof rt.jti, "%s", jti);
    rt.expires_at = exp;
    return db_session_create(db, &s, &rt, now);
}

TEST(db_open_urls)
{
    db_t *db = NULL;
    char err[256];
    /* postgresql:// URLs: tests/unit/db/db_pg.c */
    ASSERT_EQ_INT(db_open("mysql://x", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite::memory:", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite:", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite://host/x.db", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite:/tmp/x.db?synchronous=maybe", NULL, &db, err, sizeof err),
                  ERR_CONFIG);
    ASSERT_EQ_INT(db_open("sqlite:/tmp/x.db?bogus=1", NULL, &db, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(db == NULL);
    ASSERT_EQ_INT(db_open("sqlite:/nonexistent-dir/a/b.db", NULL, &db, err, sizeof err),
                  ERR_UNAVAILABLE);

    char dir[] = "/tmp/jwtd-dburl-XXXXXX", url[256], path[96];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/abs.db", dir);
    snprintf(url, sizeof url, "sqlite://%s?synchronous=full&busy_timeout_ms=100&pool=2", path);
    ASSERT_EQ_INT(db_open(url, NULL, &db, err, sizeof err), 0);
    ASSERT_STR_EQ(db_backend_name(db), "sqlite");
    ASSERT_EQ_INT(db_ping(db), 0);
    db_close(db);
    ASSERT_EQ_INT(access(path, F_OK), 0);
    unlink(path);
    rmdir(dir);
}

TEST(db_migrate_is_idempotent)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int v = -1, applied = -1;
    CHECK_EQ_INT(db_schema_version(t.db, &v), 0);
    CHECK_EQ_INT(v, db_schema_latest());
    CHECK_TRUE(db_schema_latest() >= 1);
    CHECK_EQ_INT(db_migrate(t.db, &applied), 0);
    CHECK_EQ_INT(applied, 0);
    /* A second handle on the same file sees the migrated schema. */
    db_t *db2;
    CHECK_EQ_INT(db_open(t.url, NULL, &db2, NULL, 0), 0);
    CHECK_EQ_INT(db_migrate(db2, &applied), 0);
    CHECK_EQ_INT(applied, 0);
    db_close(db2);
    tmpdb_close(&t);
}

TEST(db_users_crud_and_conflicts)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    db_user_t u = {0}, got = {0};
    int64_t id = 0;
    u.username = (char *)"alice";
    u.email = (char *)"Alice@Example.com";
    u.first_name = (char *)"Alice";
    u.role = DB_ROLE_INSTRUCTOR;
    u.premium = true;
    u.is_active = true;
    u.password_hash = (char *)"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA";
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, &id), 0);
    CHECK_TRUE(id > 0);
    /* username taken; email taken ignoring case; username is case-sensitive. */
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, NULL), ERR_CONFLICT);
    u.username = (char *)"bob";
    u.email = (char *)"alice@example.COM";
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, NULL), ERR_CONFLICT);
    u.username = (char *)"Alice";
    u.email = (char *)"";
    CHECK_TRUE(db_user_create(t.db, &u, 1000, NULL) == 0);
    u.username = (char *)"carol"; /* two empty emails are fine */
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, NULL), 0);
    u.username = (char *)"";
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, NULL), ERR_INVALID);
    u.username = (char *)"dave";
    u.role = (enum db_role)7;
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, NULL), ERR_INVALID);

    CHECK_EQ_INT(db_user_find_by_id(t.db, id, &got), 0);
    CHECK_STR_EQ(got.username, "alice");
    CHECK_STR_EQ(got.email, "Alice@Example.com");
    CHECK_STR_EQ(got.first_name, "Alice");
    CHECK_STR_EQ(got.last_name, "");
    CHECK_EQ_INT(got.role, DB_ROLE_INSTRUCTOR);
    CHECK_TRUE(got.premium && got.is_active);
    CHECK_EQ_INT(got.created_at, 1000);
    CHECK_EQ_INT(got.updated_at, 1000);
    CHECK_EQ_INT(got.last_login, 0);
    CHECK_EQ_INT(got.revoke_before, 0);
    CHECK_STR_EQ(got.password_hash, "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA");
    db_user_dispose(&got);
    CHECK_EQ_INT(db_user_find_by_username(t.db, "Alice", &got), 0);
    CHECK_TRUE(got.id != id);
    db_user_dispose(&got);
    CHECK_EQ_INT(db_user_find_by_username(t.db, "nobody", &got), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_user_find_by_id(t.db, 999, &got), ERR_NOT_FOUND);

    /* profile, role, last login, password */
    db_user_t p = {0};
    p.email = (char *)"a2@example.com";
    p.last_name = (char *)"Liddell";
    p.role = DB_ROLE_ADMIN;
    CHECK_EQ_INT(db_user_update_profile(t.db, id, &p, 1100), 0);
    CHECK_EQ_INT(db_user_update_profile(t.db, 999, &p, 1100), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_user_set_role(t.db, id, DB_ROLE_USER, 1200), 0);
    CHECK_EQ_INT(db_user_set_last_login(t.db, id, 1300), 0);
    CHECK_EQ_INT(db_user_set_password(t.db, id, "newhash", false, 1400), 0);
    CHECK_EQ_INT(db_user_set_password(t.db, 999, "newhash", false, 1400), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_user_find_by_id(t.db, id, &got), 0);
    CHECK_STR_EQ(got.email, "a2@example.com");
    CHECK_STR_EQ(got.last_name, "Liddell");
    CHECK_STR_EQ(got.first_name, "");
    CHECK_EQ_INT(got.role, DB_ROLE_USER);
    CHECK_TRUE(!got.premium);
    CHECK_EQ_INT(got.last_login, 1300);
    CHECK_STR_EQ(got.password_hash, "newhash");
    CHECK_EQ_INT(got.revoke_before, 0); /* a rehash does not revoke */
    CHECK_EQ_INT(got.updated_at, 1400);
    db_user_dispose(&got);
    /* email uniqueness applies to updates too */
    int64_t carol = 0;
    CHECK_EQ_INT(db_user_find_by_username(t.db, "carol", &got), 0);
    carol = got.id;
    db_user_dispose(&got);
    CHECK_EQ_INT(db_user_update_profile(t.db, carol, &p, 1500), ERR_CONFLICT);
    tmpdb_close(&t);
}

TEST(db_user_list_paginates)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    char name[32];
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof name, "user%02d", i);
        ASSERT_TRUE(mkuser(t.db, name, "") > 0);
    }
    db_user_list_t l;
    int64_t after = 0;
    size_t total = 0, pages = 0;
    for (;;) {
        ASSERT_EQ_INT(db_user_list(t.db, after, 10, &l), 0);
        if (l.count == 0)
            break;
        for (size_t i = 0; i < l.count; i++) {
            snprintf(name, sizeof name, "user%02zu", total + i);
            CHECK_STR_EQ(l.items[i].username, name);
            CHECK_TRUE(l.items[i].id > after);
        }
        total += l.count;
        pages++;
        after = l.items[l.count - 1].id;
        db_user_list_dispose(&l);
    }
    CHECK_EQ_INT(total, 25);
    CHECK_EQ_INT(pages, 3);
    CHECK_EQ_INT(db_user_list(t.db, 0, 0, &l), ERR_INVALID);
    CHECK_EQ_INT(db_user_list(t.db, 0, 1001, &l), ERR_INVALID);
    tmpdb_close(&t);
}

TEST(db_sessions_lifecycle)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = mkuser(t.db, "alice", "a@x.org");
    ASSERT_TRUE(uid > 0);
    CHECK_EQ_INT(mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    CHECK_EQ_INT(mksession(t.db, uid, "s2", "r2", 2100, 9000), 0);
    CHECK_EQ_INT(mksession(t.db, uid, "s1", "r3", 2100, 9000), ERR_CONFLICT); /* dup sid */
    /* a refresh token's key is (sid, jti): a jti is unique within its session (jtis are 128
       random bits, so another session's equal jti is a different token, not a conflict) */
    CHECK_EQ_INT(
        db_refresh_insert(t.db, &(db_refresh_t){.jti = "r1", .sid = "s1", .expires_at = 9}),
        ERR_CONFLICT);
    CHECK_EQ_INT(mksession(t.db, 999, "s4", "r4", 2100, 9000), ERR_NOT_FOUND); /* no user */
    /* the failed transactions left nothing behind */
    db_session_t s;
    CHECK_EQ_INT(db_session_get(t.db, "s3", &s), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_get(t.db, "s4", &s), ERR_NOT_FOUND);

    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_STR_EQ(s.sid, "s1");
    CHECK_EQ_INT(s.user_id, uid);
    CHECK_EQ_INT(s.created_at, 2000);
    CHECK_EQ_INT(s.last_used_at, 2000);
    CHECK_EQ_INT(s.revoked_at, 0);
    CHECK_STR_EQ(s.client_ip, "127.0.0.1");
    CHECK_STR_EQ(s.user_agent, "test?agent");
    db_session_dispose(&s);
    db_user_t u;
    CHECK_EQ_INT(db_user_find_by_id(t.db, uid, &u), 0);
    CHECK_EQ_INT(u.last_login, 2100); /* login records last_login */
    db_user_dispose(&u);

    db_refresh_t rt;
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r1", &rt), 0);
    CHECK_STR_EQ(rt.sid, "s1");
    CHECK_STR_EQ(rt.parent_jti, "");
    CHECK_EQ_INT(rt.issued_at, 2000);
    CHECK_EQ_INT(rt.expires_at, 9000);
    CHECK_EQ_INT(rt.used_at, 0);
    CHECK_STR_EQ(rt.replaced_by, "");
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "nope", &rt), ERR_NOT_FOUND);

    /* touch is throttled */
    CHECK_EQ_INT(db_session_touch(t.db, "s1", 2030, 60), 0);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.last_used_at, 2000);
    db_session_dispose(&s);
    CHECK_EQ_INT(db_session_touch(t.db, "s1", 2061, 60), 0);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.last_used_at, 2061);
    db_session_dispose(&s);
    CHECK_EQ_INT(db_session_touch(t.db, "zz", 2061, 60), ERR_NOT_FOUND);

    db_session_list_t l;
    CHECK_EQ_INT(db_session_list_active(t.db, uid, 3000, &l), 0);
    CHECK_EQ_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR_EQ(l.items[0].sid, "s2"); /* newest use first */
        CHECK_STR_EQ(l.items[1].sid, "s1");
    }
    db_session_list_dispose(&l);
    CHECK_EQ_INT(db_session_list_active(t.db, uid, 9000, &l), 0); /* tokens expired */
    CHECK_EQ_INT(l.count, 0);
    db_session_list_dispose(&l);

    bool was = false;
    CHECK_EQ_INT(db_session_revoke(t.db, "s1", 3000, &was), 0);
    CHECK_TRUE(was);
    CHECK_EQ_INT(db_session_revoke(t.db, "s1", 3001, &was), 0);
    CHECK_TRUE(!was);
    CHECK_EQ_INT(db_session_revoke(t.db, "zz", 3001, &was), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_list_active(t.db, uid, 3000, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    db_session_list_dispose(&l);
    CHECK_EQ_INT(db_session_list_revoked(t.db, 2500, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    if (l.count == 1) {
        CHECK_STR_EQ(l.items[0].sid, "s1");
        CHECK_EQ_INT(l.items[0].revoked_at, 3000);
    }
    db_session_list_dispose(&l);
    CHECK_EQ_INT(db_session_list_revoked(t.db, 3001, &l), 0);
    CHECK_EQ_INT(l.count, 0);
    db_session_list_dispose(&l);

    uint32_t n = 0;
    CHECK_EQ_INT(db_session_revoke_all_for_user(t.db, uid, 3100, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 3000); /* an earlier revocation is kept */
    db_session_dispose(&s);
    tmpdb_close(&t);
}

TEST(db_password_change_and_disable_revoke_everything)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = mkuser(t.db, "alice", "");
    int64_t other = mkuser(t.db, "bob", "");
    ASSERT_EQ_INT(mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    ASSERT_EQ_INT(mksession(t.db, uid, "s2", "r2", 2000, 9000), 0);
    ASSERT_EQ_INT(mksession(t.db, other, "s3", "r3", 2000, 9000), 0);
    CHECK_EQ_INT(db_user_set_password(t.db, uid, "h2", true, 2500), 0);
    db_user_t u;
    db_session_t s;
    CHECK_EQ_INT(db_user_find_by_id(t.db, uid, &u), 0);
    CHECK_EQ_INT(u.revoke_before, 2500);
    db_user_dispose(&u);
    CHECK_EQ_INT(db_session_get(t.db, "s2", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 2500);
    db_session_dispose(&s);
    CHECK_EQ_INT(db_session_get(t.db, "s3", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 0); /* other users untouched */
    db_session_dispose(&s);

    /* watermark never moves backwards; logout-all counts sessions */
    uint32_t n = 99;
    CHECK_EQ_INT(db_user_revoke_all(t.db, uid, 2400, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(db_user_find_by_id(t.db, uid, &u), 0);
    CHECK_EQ_INT(u.revoke_before, 2500);
    db_user_dispose(&u);
    CHECK_EQ_INT(db_user_revoke_all(t.db, 999, 2400, &n), ERR_NOT_FOUND);

    CHECK_EQ_INT(db_user_set_active(t.db, other, false, 2600), 0);
    CHECK_EQ_INT(db_user_find_by_id(t.db, other, &u), 0);
    CHECK_TRUE(!u.is_active);
    CHECK_EQ_INT(u.revoke_before, 2600);
    db_user_dispose(&u);
    CHECK_EQ_INT(db_session_get(t.db, "s3", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 2600);
    db_session_dispose(&s);
    CHECK_EQ_INT(db_user_set_active(t.db, other, true, 2700), 0);
    CHECK_EQ_INT(db_user_set_active(t.db, 999, true, 2700), ERR_NOT_FOUND);

    db_watermark_list_t w;
    CHECK_EQ_INT(db_watermark_list(t.db, 2550, &w), 0);
    CHECK_EQ_INT(w.count, 1);
    if (w.count == 1) {
        CHECK_EQ_INT(w.items[0].user_id, other);
        CHECK_EQ_INT(w.items[0].revoke_before, 2600);
    }
    db_watermark_list_dispose(&w);
    CHECK_EQ_INT(db_watermark_list(t.db, 0, &w), 0);
    CHECK_EQ_INT(w.count, 2);
    db_watermark_list_dispose(&w);
    tmpdb_close(&t);
}

TEST(db_refresh_rotation_semantics)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = mkuser(t.db, "alice", "");
    ASSERT_EQ_INT(mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    db_rotate_result_t r;

    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2100, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    CHECK_STR_EQ(r.successor_jti, "r2");
    CHECK_STR_EQ(r.sid, "s1");
    CHECK_EQ_INT(r.user_id, uid);
    CHECK_STR_EQ(r.user.username, "alice");
    CHECK_EQ_INT(r.successor_issued_at, 2100);
    CHECK_EQ_INT(r.successor_expires_at, 9500);
    db_rotate_result_dispose(&r);
    db_refresh_t rt;
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r1", &rt), 0);
    CHECK_EQ_INT(rt.used_at, 2100);
    CHECK_STR_EQ(rt.replaced_by, "r2");
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r2", &rt), 0);
    CHECK_STR_EQ(rt.parent_jti, "r1");
    CHECK_STR_EQ(rt.sid, "s1");
    CHECK_EQ_INT(rt.used_at, 0);
    db_session_t s;
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.last_used_at, 2100);
    db_session_dispose(&s);

    /* again within the grace: the same successor, nothing new written */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r3", 9600, 2110, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_REUSED_WITHIN_GRACE);
    CHECK_STR_EQ(r.successor_jti, "r2");
    CHECK_EQ_INT(r.successor_issued_at, 2100);
    CHECK_EQ_INT(r.successor_expires_at, 9500);
    CHECK_STR_EQ(r.user.username, "alice");
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r3", &rt), ERR_NOT_FOUND);

    /* the successor rotates normally */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r2", "r3", 9700, 2200, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    db_rotate_result_dispose(&r);

    /* r1 after the grace: reuse, the whole session dies */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r4", 9800, 2111, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_REUSE_DETECTED);
    CHECK_STR_EQ(r.reason, "reuse");
    CHECK_STR_EQ(r.sid, "s1");
    CHECK_EQ_INT(r.user_id, uid);
    CHECK_TRUE(r.user.username == NULL);
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 2111);
    db_session_dispose(&s);
    /* and the live head of the family no longer rotates */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r3", "r5", 9800, 2300, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "session_revoked");
    db_rotate_result_dispose(&r);

    /* unknown, expired, bad ids */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "nope", "r6", 9800, 2300, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "unknown");
    ASSERT_EQ_INT(mksession(t.db, uid, "s2", "q1", 3000, 4000), 0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s2", "q1", "q2", 9800, 4000, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "expired");
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s2", "q1", "", 9800, 3500, 10, &r), ERR_INVALID);
    /* new jti colliding with one of the session's: error, nothing changed */
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s2", "q1", "q1", 9800, 3500, 10, &r), ERR_CONFLICT);
    CHECK_EQ_INT(db_refresh_get(t.db, "s2", "q1", &rt), 0);
    CHECK_EQ_INT(rt.used_at, 0);

    /* watermark and inactive user */
    CHECK_EQ_INT(db_user_revoke_all(t.db, uid, 3200, NULL), 0);
    ASSERT_EQ_INT(mksession(t.db, uid, "s3", "w1", 3300, 9000), 0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s3", "w1", "w2", 9800, 3400, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(
        db_refresh_insert(
            t.db,
            &(db_refresh_t){.jti = "old", .sid = "s3", .issued_at = 3100, .expires_at = 9000}),
        0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s3", "old", "w3", 9800, 3400, 10, &r), 0);
    CHECK_STR_EQ(r.reason, "watermark");
    CHECK_EQ_INT(db_user_set_active(t.db, uid, false, 3500), 0);
    CHECK_EQ_INT(db_session_revoke(t.db, "s3", 0, NULL), 0); /* no-op: already revoked */
    CHECK_EQ_INT(
        db_refresh_insert(
            t.db, &(db_refresh_t){.jti = "x", .sid = "zz", .issued_at = 1, .expires_at = 2}),
        ERR_NOT_FOUND);
    tmpdb_close(&t);
}

/* Migration 3 (refresh tokens keyed by (sid, jti)) over a database holding tokens: they
   keep their fields and rotate, grace and flush as before. */
TEST(db_migration_3_keeps_refresh_tokens)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open_at(&t, 2), 0);
    int v = 0;
    CHECK_EQ_INT(db_schema_version(t.db, &v), 0);
    CHECK_EQ_INT(v, 2);
    int64_t uid = mkuser(t.db, "alice", "");
    ASSERT_EQ_INT(mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    ASSERT_EQ_INT(mksession(t.db, uid, "s2", "q1", 2000, 3000), 0);
    ASSERT_EQ_INT(db_refresh_insert(t.db, &(db_refresh_t){.jti = "p0",
                                                          .sid = "s1",
                                                          .issued_at = 1500,
                                                          .expires_at = 9000,
                                                          .used_at = 1990,
                                                          .replaced_by = "r1"}),
                  0);
    int applied = 0;
    ASSERT_EQ_INT(db_migrate(t.db, &applied), 0);
    CHECK_EQ_INT(applied, db_schema_latest() - 2);
    CHECK_EQ_INT(db_schema_version(t.db, &v), 0);
    CHECK_EQ_INT(v, db_schema_latest());

    db_refresh_t rt;
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "p0", &rt), 0);
    CHECK_EQ_INT(rt.issued_at, 1500);
    CHECK_EQ_INT(rt.used_at, 1990);
    CHECK_STR_EQ(rt.replaced_by, "r1");
    CHECK_EQ_INT(db_refresh_get(t.db, "s2", "r1", &rt), ERR_NOT_FOUND); /* not its session */

    db_rotate_result_t r;
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2100, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    CHECK_STR_EQ(r.user.username, "alice");
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r3", 9500, 2105, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_REUSED_WITHIN_GRACE);
    CHECK_STR_EQ(r.successor_jti, "r2");
    db_rotate_result_dispose(&r);
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r2", &rt), 0);
    CHECK_STR_EQ(rt.parent_jti, "r1");
    /* the migrated key still refuses a duplicate within the session */
    CHECK_EQ_INT(
        db_refresh_insert(t.db, &(db_refresh_t){.jti = "r2", .sid = "s1", .expires_at = 9}),
        ERR_CONFLICT);

    /* flush (a table scan now) removes the expired token of s2 and the session with it */
    db_flush_stats_t st;
    CHECK_EQ_INT(db_flush_expired(t.db, 4000, 0, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.sessions, 1);
    CHECK_EQ_INT(db_refresh_get(t.db, "s2", "q1", &rt), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_refresh_get(t.db, "s1", "r2", &rt), 0);
    tmpdb_close(&t);
}

TEST(db_refresh_rotation_inactive_user)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = mkuser(t.db, "alice", "");
    /* deactivation at 1500 revokes what exists; a session created later (which the auth
       layer would refuse) still cannot refresh while the user is inactive */
    ASSERT_EQ_INT(db_user_set_active(t.db, uid, false, 1500), 0);
    ASSERT_EQ_INT(mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    db_rotate_result_t r;
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2100, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_NOT_VALID);
    CHECK_STR_EQ(r.reason, "user_inactive");
    CHECK_EQ_INT(db_user_set_active(t.db, uid, true, 2200), 0);
    CHECK_EQ_INT(db_refresh_rotate(t.db, "s1", "r1", "r2", 9500, 2300, 10, &r), 0);
    CHECK_EQ_INT(r.status, DB_ROTATE_ROTATED);
    db_rotate_result_dispose(&r);
    tmpdb_close(&t);
}

struct race {
    db_t *db;
    int idx;
    int rc;
    db_rotate_result_t r;
    pthread_barrier_t *barrier;
};

static void *race_main(void *arg)
{
    struct race *x = arg;
    char jti[32];
    snprintf(jti, sizeof jti, "new%02d", x->idx);
    pthread_barrier_wait(x->barrier);
    x->rc = db_refresh_rotate(x->db, "s1", "r1", jti, 9500, 2100, 10, &x->r);
    return NULL;
}

TEST(db_refresh_rotation_thread_race_yields_one_successor)
{
    enum { N = 12, ROUNDS = 5 };
    for (int round = 0; round < ROUNDS; round++) {
        struct tmpdb t;
        ASSERT_EQ_INT(tmpdb_open(&t), 0);
        int64_t uid = mkuser(t.db, "alice", "");
        ASSERT_EQ_INT(mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, N);
        pthread_t th[N];
        struct race x[N];
        for (int i = 0; i < N; i++) {
            x[i] = (struct race){.db = t.db, .idx = i, .barrier = &barrier};
            pthread_create(&th[i], NULL, race_main, &x[i]);
        }
        for (int i = 0; i < N; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&barrier);
        int rotated = 0, grace = 0;
        const char *winner = NULL;
        for (int i = 0; i < N; i++) {
            CHECK_EQ_INT(x[i].rc, 0);
            if (x[i].r.status == DB_ROTATE_ROTATED) {
                rotated++;
                winner = x[i].r.successor_jti;
            } else if (x[i].r.status == DB_ROTATE_REUSED_WITHIN_GRACE) {
                grace++;
            }
        }
        CHECK_EQ_INT(rotated, 1);
        CHECK_EQ_INT(grace, N - 1);
        for (int i = 0; winner && i < N; i++)
            CHECK_STR_EQ(x[i].r.successor_jti, winner);
        /* exactly one successor row exists */
        int rows = 0;
        for (int i = 0; i < N; i++) {
            char jti[32];
            db_refresh_t rt;
            snprintf(jti, sizeof jti, "new%02d", i);
            if (db_refresh_get(t.db, "s1", jti, &rt) == 0)
                rows++;
        }
        CHECK_EQ_INT(rows, 1);
        for (int i = 0; i < N; i++)
            db_rotate_result_dispose(&x[i].r);
        tmpdb_close(&t);
        if (test__failed())
            return;
    }
}

TEST(db_revoked_tokens_and_flush)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    CHECK_EQ_INT(db_revoked_insert(t.db, "a1", 5000, 1000, "logout"), 0);
    CHECK_EQ_INT(db_revoked_insert(t.db, "a1", 5000, 1001, "logout"), 0); /* idempotent */
    CHECK_EQ_INT(db_revoked_insert(t.db, "a2", 3000, 1000, "admin"), 0);
    CHECK_EQ_INT(db_revoked_insert(t.db, "", 3000, 1000, "admin"), ERR_INVALID);
    db_revoked_list_t rl;
    CHECK_EQ_INT(db_revoked_list(t.db, 2000, &rl), 0);
    CHECK_EQ_INT(rl.count, 2);
    db_revoked_list_dispose(&rl);
    CHECK_EQ_INT(db_revoked_list(t.db, 3000, &rl), 0);
    CHECK_EQ_INT(rl.count, 1);
    if (rl.count == 1) {
        CHECK_STR_EQ(rl.items[0].jti, "a1");
        CHECK_EQ_INT(rl.items[0].expires_at, 5000);
    }
    db_revoked_list_dispose(&rl);

    int64_t uid = mkuser(t.db, "alice", "");
    /* s1: revoked at 2000, token expires 4000. s2: live, token expires 9000.
       s3: never revoked, token expired at 2500, idle since 2000. */
    ASSERT_EQ_INT(mksession(t.db, uid, "s1", "r1", 1000, 4000), 0);
    ASSERT_EQ_INT(mksession(t.db, uid, "s2", "r2", 1000, 9000), 0);
    ASSERT_EQ_INT(mksession(t.db, uid, "s3", "r3", 1000, 2500), 0);
    ASSERT_EQ_INT(db_session_revoke(t.db, "s1", 2000, NULL), 0);

    db_flush_stats_t st;
    /* at 3000 with 900 s retention: r3 and a2 go; s3 has no token left but was used at
       1000 <= 2100, so it goes; s1 still has r1 */
    CHECK_EQ_INT(db_flush_expired(t.db, 3000, 900, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.revoked_tokens, 1);
    CHECK_EQ_INT(st.sessions, 1);
    db_session_t s;
    CHECK_EQ_INT(db_session_get(t.db, "s3", &s), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    db_session_dispose(&s);
    /* at 4500: r1 expired, s1 (revoked at 2000 <= 3600) goes with it; s2 stays */
    CHECK_EQ_INT(db_flush_expired(t.db, 4500, 900, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.sessions, 1);
    CHECK_EQ_INT(db_session_get(t.db, "s1", &s), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_session_get(t.db, "s2", &s), 0);
    db_session_dispose(&s);
    /* a recently revoked session outlives its tokens by the retention */
    ASSERT_EQ_INT(db_session_revoke(t.db, "s2", 8800, NULL), 0);
    CHECK_EQ_INT(db_flush_expired(t.db, 9100, 900, &st), 0);
    CHECK_EQ_INT(st.refresh_tokens, 1);
    CHECK_EQ_INT(st.sessions, 0);
    CHECK_EQ_INT(db_flush_expired(t.db, 9701, 900, &st), 0);
    CHECK_EQ_INT(st.sessions, 1);
    tmpdb_close(&t);
}

/* ---- posts (issue 8) ---------------------------------------------------------------------- */

TEST(db_posts_crud_and_pages)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t alice = mkuser(t.db, "alice", "alice@example.com");
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char title[16];
        snprintf(title, sizeof title, "t%d", i);
        ASSERT_EQ_INT(db_post_create(t.db, alice, title, "body \xc3\xa9", 100 + i, &ids[i]), 0);
    }
    CHECK_EQ_INT(db_post_create(t.db, 999999, "x", "y", 1, NULL), ERR_NOT_FOUND);
    db_post_t p;
    ASSERT_EQ_INT(db_post_get(t.db, ids[2], &p), 0);
    CHECK_STR_EQ(p.title, "t2");
    CHECK_STR_EQ(p.body, "body \xc3\xa9");
    CHECK_STR_EQ(p.author, "alice");
    CHECK_TRUE(p.author_id == alice && p.created_at == 102 && p.updated_at == 102);
    db_post_dispose(&p);
    db_post_list_t l;
    int64_t total = 0;
    ASSERT_EQ_INT(db_post_list(t.db, 1, 2, &l, &total), 0);
    CHECK_TRUE(total == 5 && l.count == 2);
    CHECK_TRUE(l.items[0].id == ids[3] && l.items[1].id == ids[2]); /* newest first */
    db_post_list_dispose(&l);
    ASSERT_EQ_INT(db_post_list(t.db, 10, 2, &l, &total), 0);
    CHECK_TRUE(l.count == 0 && total == 5);
    db_post_list_dispose(&l);
    CHECK_EQ_INT(db_post_list(t.db, 0, 0, &l, NULL), ERR_INVALID);
    CHECK_EQ_INT(db_post_update(t.db, ids[0], "new", "text", 500), 0);
    ASSERT_EQ_INT(db_post_get(t.db, ids[0], &p), 0);
    CHECK_TRUE(strcmp(p.title, "new") == 0 && p.updated_at == 500 && p.created_at == 100);
    db_post_dispose(&p);
    CHECK_EQ_INT(db_post_update(t.db, 999999, "a", "b", 1), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_post_delete(t.db, ids[0]), 0);
    CHECK_EQ_INT(db_post_delete(t.db, ids[0]), ERR_NOT_FOUND);
    CHECK_EQ_INT(db_post_get(t.db, ids[0], &p), ERR_NOT_FOUND);
    tmpdb_close(&t);
}

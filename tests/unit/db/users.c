/*
 * Unit tests for src/db/users.c: creation, lookups and constraint mapping, keyset listing,
 * updates, password change and deactivation revoking sessions, watermarks, the import
 * of users from another system (on both backends), the administration search and updates,
 * deletion with its tombstone. With JWTD_TEST_PG=1 the tmpdb tests run
 * on PostgreSQL (tmpdb.h).
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "db/db.h"
#include "db/pgtest.h"
#include "db/tmpdb.h"

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
    /* The limit is 150 characters, not bytes (both schemas count characters). */
    char wide[2 * 151 + 1] = {0};
    for (int i = 0; i < 151; i++)
        memcpy(wide + 2 * i, "\xc3\xa9", 2); /* é */
    u.role = DB_ROLE_USER;
    u.username = wide;
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, NULL), ERR_INVALID);
    wide[2 * 150] = '\0';
    CHECK_EQ_INT(db_user_create(t.db, &u, 1000, NULL), 0);
    u.username = (char *)"dave";

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
        ASSERT_TRUE(tmpdb_mkuser(t.db, name, "") > 0);
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

TEST(db_password_change_and_disable_revoke_everything)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = tmpdb_mkuser(t.db, "alice", "");
    int64_t other = tmpdb_mkuser(t.db, "bob", "");
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s2", "r2", 2000, 9000), 0);
    ASSERT_EQ_INT(tmpdb_mksession(t.db, other, "s3", "r3", 2000, 9000), 0);
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

/* ---- import (both backends: SQLite, then PostgreSQL when installed) ---------------------- */

static void import_semantics(db_t *db)
{
    db_user_t u = {0};
    enum db_import_status st = DB_IMPORT_UNCHANGED;
    u.id = 42;
    u.username = (char *)"alice";
    u.email = (char *)"alice@example.org";
    u.first_name = (char *)"Alice";
    u.last_name = (char *)"A";
    u.role = DB_ROLE_ADMIN;
    u.is_active = true;
    u.password_hash = (char *)"pbkdf2_sha256$260000$salt$aGFzaA==";
    u.created_at = 500;
    u.last_login = 700;
    CHECK_EQ_INT(db_user_import(db, &u, 1000, &st), 0);
    CHECK_EQ_INT(st, DB_IMPORT_CREATED);
    db_user_t got;
    ASSERT_EQ_INT(db_user_find_by_id(db, 42, &got), 0);
    CHECK_STR_EQ(got.username, "alice");
    CHECK_STR_EQ(got.password_hash, "pbkdf2_sha256$260000$salt$aGFzaA==");
    CHECK_EQ_INT(got.role, DB_ROLE_ADMIN);
    CHECK_EQ_INT(got.created_at, 500);
    CHECK_EQ_INT(got.last_login, 700);
    db_user_dispose(&got);
    /* idempotent */
    CHECK_EQ_INT(db_user_import(db, &u, 1001, &st), 0);
    CHECK_EQ_INT(st, DB_IMPORT_UNCHANGED);
    /* a native user created afterwards never takes an imported id */
    int64_t nid = tmpdb_mkuser(db, "native", "");
    CHECK_TRUE(nid > 42);
    /* another id with a taken username / email: CONFLICT */
    u.id = 50;
    CHECK_EQ_INT(db_user_import(db, &u, 1002, &st), ERR_CONFLICT);
    u.username = (char *)"alice2";
    CHECK_EQ_INT(db_user_import(db, &u, 1002, &st), ERR_CONFLICT);
    u.email = (char *)"";
    CHECK_EQ_INT(db_user_import(db, &u, 1002, &st), 0);
    CHECK_EQ_INT(st, DB_IMPORT_CREATED);
    /* the id of a user with another username: never merged */
    u.id = 42;
    u.username = (char *)"alice.renamed";
    u.email = (char *)"alice@example.org";
    CHECK_EQ_INT(db_user_import(db, &u, 1003, &st), ERR_CONFLICT);
    /* updates */
    u.username = (char *)"alice";
    u.first_name = (char *)"Alicia";
    CHECK_EQ_INT(db_user_import(db, &u, 1003, &st), 0);
    CHECK_EQ_INT(st, DB_IMPORT_UPDATED);
    /* after a login rehash in jwtd, a re-import keeps jwtd's hash */
    CHECK_EQ_INT(
        db_user_set_password(db, 42, "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", false, 1004), 0);
    CHECK_EQ_INT(db_user_import(db, &u, 1005, &st), 0);
    CHECK_EQ_INT(st, DB_IMPORT_UNCHANGED);
    ASSERT_EQ_INT(db_user_find_by_id(db, 42, &got), 0);
    CHECK_STR_EQ(got.password_hash, "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA");
    CHECK_STR_EQ(got.first_name, "Alicia");
    db_user_dispose(&got);
    /* deactivation in Django: the watermark rises and sessions are revoked */
    db_session_t s = {0};
    snprintf(s.sid, sizeof s.sid, "s42");
    s.user_id = 42;
    CHECK_EQ_INT(db_session_create(db, &s, NULL, 1006), 0);
    u.is_active = false;
    CHECK_EQ_INT(db_user_import(db, &u, 1007, &st), 0);
    CHECK_EQ_INT(st, DB_IMPORT_UPDATED);
    ASSERT_EQ_INT(db_user_find_by_id(db, 42, &got), 0);
    CHECK_TRUE(!got.is_active);
    CHECK_EQ_INT(got.revoke_before, 1007);
    db_user_dispose(&got);
    ASSERT_EQ_INT(db_session_get(db, "s42", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 1007);
    db_session_dispose(&s);
    u.id = 0;
    CHECK_EQ_INT(db_user_import(db, &u, 1008, &st), ERR_INVALID);
}

TEST(db_user_import_both_backends)
{
    char dir[] = "/tmp/jwtd-dbimport-XXXXXX", url[320], path[96];
    db_t *db;
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/i.db", dir);
    snprintf(url, sizeof url, "sqlite:%s?synchronous=off", path);
    ASSERT_EQ_INT(db_open(url, NULL, &db, NULL, 0), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    import_semantics(db);
    db_close(db);
    char p[128];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
    if (test__failed())
        return;

    if (!pgtest_available()) {
        fprintf(stderr, "  (skipped on PostgreSQL: the server binaries are not installed)\n");
        return;
    }
    ASSERT_EQ_INT(pgtest_create_db(url, sizeof url), 0);
    ASSERT_EQ_INT(db_open(url, NULL, &db, NULL, 0), 0);
    ASSERT_EQ_INT(db_migrate(db, NULL), 0);
    import_semantics(db);
    db_close(db);
    pgtest_drop_db(url);
}

TEST(db_user_search_matches_username_and_email)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    ASSERT_TRUE(tmpdb_mkuser(t.db, "Alice", "alice@Corp.example") > 0);
    ASSERT_TRUE(tmpdb_mkuser(t.db, "bob", "bob@home.example") > 0);
    ASSERT_TRUE(tmpdb_mkuser(t.db, "corp_admin", "") > 0);
    ASSERT_TRUE(tmpdb_mkuser(t.db, "100%real", "") > 0);
    db_admin_user_list_t l;
    int64_t total = -1;
    ASSERT_EQ_INT(db_user_search(t.db, "", 0, 10, &l, &total), 0);
    CHECK_EQ_INT(total, 4);
    CHECK_EQ_INT(l.count, 4);
    db_admin_user_list_dispose(&l);
    /* case-insensitive, username or e-mail */
    ASSERT_EQ_INT(db_user_search(t.db, "CORP", 0, 10, &l, &total), 0);
    CHECK_EQ_INT(total, 2);
    ASSERT_EQ_INT(l.count, 2);
    CHECK_STR_EQ(l.items[0].user.username, "Alice");
    CHECK_STR_EQ(l.items[1].user.username, "corp_admin");
    db_admin_user_list_dispose(&l);
    /* LIKE's wildcards match themselves */
    ASSERT_EQ_INT(db_user_search(t.db, "%", 0, 10, &l, &total), 0);
    CHECK_EQ_INT(total, 1);
    ASSERT_EQ_INT(l.count, 1);
    CHECK_STR_EQ(l.items[0].user.username, "100%real");
    db_admin_user_list_dispose(&l);
    ASSERT_EQ_INT(db_user_search(t.db, "p_a", 0, 10, &l, &total), 0);
    CHECK_EQ_INT(total, 1);
    db_admin_user_list_dispose(&l);
    ASSERT_EQ_INT(db_user_search(t.db, "b_b", 0, 10, &l, &total), 0);
    CHECK_EQ_INT(total, 0);
    db_admin_user_list_dispose(&l);
    /* pages: offset and limit, the total stays the whole match */
    ASSERT_EQ_INT(db_user_search(t.db, NULL, 2, 1, &l, &total), 0);
    CHECK_EQ_INT(total, 4);
    ASSERT_EQ_INT(l.count, 1);
    CHECK_STR_EQ(l.items[0].user.username, "corp_admin");
    db_admin_user_list_dispose(&l);
    CHECK_EQ_INT(db_user_search(t.db, "", 0, 0, &l, NULL), ERR_INVALID);
    CHECK_EQ_INT(db_user_search(t.db, "", 0, 1001, &l, NULL), ERR_INVALID);
    tmpdb_close(&t);
}

/* The watermark db_watermark_list reports for user_id (0 = none). */
static int64_t watermark_of(db_t *db, int64_t user_id)
{
    db_watermark_list_t w;
    int64_t found = 0;
    if (db_watermark_list(db, 0, &w) != 0)
        return -1;
    for (size_t i = 0; i < w.count; i++)
        if (w.items[i].user_id == user_id)
            found = w.items[i].revoke_before;
    db_watermark_list_dispose(&w);
    return found;
}

TEST(db_user_admin_update_revokes_on_role_and_deactivation)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = tmpdb_mkuser(t.db, "erin", "erin@example.com");
    int64_t other = tmpdb_mkuser(t.db, "fred", "fred@example.com");
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "s1", "r1", 2000, 9000), 0);
    bool revoked = true, verified = false;
    db_user_t before = {0}, got = {0};
    /* an e-mail change: no revocation, the new address unverified */
    ASSERT_EQ_INT(db_user_email_verified(t.db, uid, &verified), 0);
    db_user_change_t c = {.set_email = true, .email = "erin@new.example"};
    ASSERT_EQ_INT(db_user_admin_update(t.db, uid, &c, 3000, &revoked, &before), 0);
    CHECK_TRUE(!revoked);
    CHECK_STR_EQ(before.email, "erin@example.com");
    db_user_dispose(&before);
    ASSERT_EQ_INT(db_user_email_verified(t.db, uid, &verified), 0);
    CHECK_TRUE(!verified);
    CHECK_EQ_INT(watermark_of(t.db, uid), 0);
    c = (db_user_change_t){.set_email_verified = true, .email_verified = true};
    ASSERT_EQ_INT(db_user_admin_update(t.db, uid, &c, 3000, &revoked, NULL), 0);
    ASSERT_EQ_INT(db_user_email_verified(t.db, uid, &verified), 0);
    CHECK_TRUE(verified);
    /* a taken address, an unknown user, a bad role */
    c = (db_user_change_t){.set_email = true, .email = "FRED@example.com"};
    CHECK_EQ_INT(db_user_admin_update(t.db, uid, &c, 3000, NULL, NULL), ERR_CONFLICT);
    CHECK_EQ_INT(db_user_admin_update(t.db, 99999, &c, 3000, NULL, NULL), ERR_NOT_FOUND);
    c = (db_user_change_t){.set_role = true, .role = (enum db_role)9};
    CHECK_EQ_INT(db_user_admin_update(t.db, uid, &c, 3000, NULL, NULL), ERR_INVALID);
    /* the same role: nothing revoked; another role: watermark and sessions */
    c = (db_user_change_t){.set_role = true, .role = DB_ROLE_USER};
    ASSERT_EQ_INT(db_user_admin_update(t.db, uid, &c, 3000, &revoked, NULL), 0);
    CHECK_TRUE(!revoked);
    c.role = DB_ROLE_ADMIN;
    ASSERT_EQ_INT(db_user_admin_update(t.db, uid, &c, 3100, &revoked, NULL), 0);
    CHECK_TRUE(revoked);
    CHECK_EQ_INT(watermark_of(t.db, uid), 3100);
    db_session_t s = {0};
    ASSERT_EQ_INT(db_session_get(t.db, "s1", &s), 0);
    CHECK_EQ_INT(s.revoked_at, 3100);
    db_session_dispose(&s);
    ASSERT_EQ_INT(db_user_find_by_id(t.db, uid, &got), 0);
    CHECK_EQ_INT(got.role, DB_ROLE_ADMIN);
    CHECK_STR_EQ(got.email, "erin@new.example");
    db_user_dispose(&got);
    /* deactivation revokes, reactivation does not */
    c = (db_user_change_t){.set_active = true, .is_active = false};
    ASSERT_EQ_INT(db_user_admin_update(t.db, uid, &c, 3200, &revoked, NULL), 0);
    CHECK_TRUE(revoked);
    CHECK_EQ_INT(watermark_of(t.db, uid), 3200);
    c.is_active = true;
    ASSERT_EQ_INT(db_user_admin_update(t.db, uid, &c, 3300, &revoked, NULL), 0);
    CHECK_TRUE(!revoked);
    CHECK_EQ_INT(watermark_of(t.db, other), 0);
    tmpdb_close(&t);
}

TEST(db_user_delete_leaves_a_tombstone_until_flushed)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t uid = tmpdb_mkuser(t.db, "gone", "gone@example.com");
    int64_t keep = tmpdb_mkuser(t.db, "kept", "");
    ASSERT_EQ_INT(tmpdb_mksession(t.db, uid, "sg", "rg", 2000, 9000), 0);
    ASSERT_EQ_INT(tmpdb_mksession(t.db, keep, "sk", "rk", 2000, 9000), 0);
    ASSERT_EQ_INT(db_user_delete(t.db, uid, 5001), 0);
    CHECK_EQ_INT(db_user_delete(t.db, uid, 5001), ERR_NOT_FOUND);
    db_user_t u = {0};
    CHECK_EQ_INT(db_user_find_by_id(t.db, uid, &u), ERR_NOT_FOUND);
    db_session_t s = {0};
    CHECK_EQ_INT(db_session_get(t.db, "sg", &s), ERR_NOT_FOUND); /* cascaded */
    CHECK_EQ_INT(db_session_get(t.db, "sk", &s), 0);
    db_session_dispose(&s);
    /* the tombstone is a watermark the index reloads */
    CHECK_EQ_INT(watermark_of(t.db, uid), 5001);
    db_watermark_list_t w;
    ASSERT_EQ_INT(db_watermark_list(t.db, 6000, &w), 0); /* older than since: not listed */
    CHECK_EQ_INT(w.count, 0);
    db_watermark_list_dispose(&w);
    /* the name is free, the id is not reused */
    int64_t again = tmpdb_mkuser(t.db, "gone", "gone@example.com");
    CHECK_TRUE(again > uid);
    /* flushed once past the retention */
    db_flush_stats_t st = {0};
    ASSERT_EQ_INT(db_flush_expired(t.db, 5500, 900, &st), 0);
    CHECK_EQ_INT(st.tombstones, 0);
    ASSERT_EQ_INT(db_flush_expired(t.db, 5901, 900, &st), 0);
    CHECK_EQ_INT(st.tombstones, 1);
    CHECK_EQ_INT(watermark_of(t.db, uid), 0);
    tmpdb_close(&t);
}

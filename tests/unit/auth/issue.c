/*
 * Unit tests for src/auth/issue.c: login (the claims of a new pair, failures that look
 * alike, the dummy hash for unknown users), refresh rotation (rotated, grace re-issue of the
 * same successor, reuse after the grace -> session revoked, concurrent presentations, zero
 * grace) and refresh without rotation. Against the fixture of fx.h.
 */
#include <pthread.h>
#include <stdlib.h>

#include <jansson.h>

#include "fx.h"
#include "test.h"

static bool is_hex32(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

TEST(auth_login_issues_claims_of_api_section_1)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    jwtv_claims c;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(p.access, p.access_len), now, &c), AUTH_OK);
    CHECK_STR_EQ(c.token_type, "access");
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)f.uid);
    CHECK_STR_EQ(c.user_id, uid);
    CHECK_STR_EQ(c.sub, uid);
    CHECK_TRUE(is_hex32(c.jti));
    CHECK_TRUE(is_hex32(c.sid));
    CHECK_STR_EQ(c.sid, p.sid);
    CHECK_STR_EQ(c.username, "alice");
    CHECK_STR_EQ(c.email, "alice@example.com");
    CHECK_STR_EQ(c.role, "instructor");
    CHECK_TRUE(c.has_premium && c.premium);
    CHECK_EQ_INT(c.iat, now);
    CHECK_EQ_INT(c.exp - c.iat, 900);
    /* user_id is a JSON string in the payload (SimpleJWT >= 5.5) */
    CHECK_TRUE(strstr(c.payload, "\"user_id\":\"") != NULL);
    char access_jti[33];
    snprintf(access_jti, sizeof access_jti, "%s", c.jti);

    ASSERT_EQ_INT(auth_verify_refresh(f.auth, str_make(p.refresh, p.refresh_len), now, &c),
                  AUTH_OK);
    CHECK_STR_EQ(c.token_type, "refresh");
    CHECK_EQ_INT(c.exp - c.iat, 7 * 86400);
    CHECK_STR_EQ(c.sid, p.sid);
    CHECK_TRUE(c.username == NULL); /* refresh tokens carry no profile claims */
    CHECK_TRUE(strcmp(c.jti, access_jti) != 0);

    /* the user object is valid JSON with escaped strings */
    json_error_t je;
    json_t *u = json_loadb(p.user_json, p.user_json_len, 0, &je);
    ASSERT_TRUE(u != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(u, "id")), f.uid);
    CHECK_STR_EQ(json_string_value(json_object_get(u, "first_name")), "Al\"ice");
    CHECK_STR_EQ(json_string_value(json_object_get(u, "last_name")), "Line\nBreak");
    CHECK_STR_EQ(json_string_value(json_object_get(u, "role")), "instructor");
    CHECK_TRUE(json_is_true(json_object_get(u, "premium")));
    json_decref(u);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_login_failures_are_indistinguishable)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    auth_client_t c = {0};
    CHECK_EQ_INT(auth_login(f.auth, "alice", "wrong", 5, &c, now, &p), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_login(f.auth, "nobody", "correct horse", 13, &c, now, &p),
                 ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_login(f.auth, "Alice", "correct horse", 13, &c, now, &p),
                 ERR_NO_ACTIVE_ACCOUNT); /* usernames are case-sensitive */
    ASSERT_EQ_INT(db_user_set_active(f.db, f.uid, false, now), 0);
    CHECK_EQ_INT(login(&f, now, &p), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_issue_for_user(f.auth, "alice", &c, now, &p), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_issue_for_user(f.auth, "nobody", &c, now, &p), ERR_NOT_FOUND);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_login_unknown_user_costs_a_password_hash)
{
    /* the unknown user is verified against the dummy hash, computed at auth_new with the
       configured parameters: exactly the argon2 work of a wrong password for a real user */
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    o.argon2.memory_kib = 64;
    o.argon2.iterations = 3;
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    char hash[AUTH_PASSWORD_HASH_MAX];
    ASSERT_EQ_INT(auth_password_hash(&o.argon2, "correct horse", 13, hash, sizeof hash), 0);
    ASSERT_EQ_INT(db_user_set_password(f.db, f.uid, hash, false, clock_now_s()), 0);
    auth_pair_t p = {0};
    auth_client_t c = {0};
    uint64_t w0 = auth__password_argon2_work();
    CHECK_EQ_INT(auth_login(f.auth, "alice", "wrong pw", 8, &c, clock_now_s(), &p),
                 ERR_NO_ACTIVE_ACCOUNT);
    uint64_t w1 = auth__password_argon2_work();
    CHECK_EQ_INT(auth_login(f.auth, "nobody", "wrong pw", 8, &c, clock_now_s(), &p),
                 ERR_NO_ACTIVE_ACCOUNT);
    uint64_t w2 = auth__password_argon2_work();
    CHECK_EQ_INT(w1 - w0, (uint64_t)o.argon2.memory_kib * o.argon2.iterations);
    CHECK_EQ_INT(w2 - w1, w1 - w0);
    fx_close(&f);
}

TEST(auth_refresh_rotates_then_grace_then_reuse_revokes_session)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, r1 = {0}, r2 = {0}, r3 = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref, ref1;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;

    /* first presentation: rotated, a new refresh token and a new access token */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r1, &v), 0);
    ASSERT_EQ_INT(v, AUTH_OK);
    CHECK_TRUE(r1.refresh_len > 0 && r1.access_len > 0);
    CHECK_TRUE(strcmp(r1.refresh, p.refresh) != 0);
    ASSERT_EQ_INT(verify_refresh(&f, r1.refresh, r1.refresh_len, now, &ref1), AUTH_OK);
    CHECK_TRUE(strcmp(ref1.jti, ref.jti) != 0);
    CHECK_STR_EQ(ref1.sid, ref.sid);
    CHECK_EQ_INT(verify_access(&f, r1.access, r1.access_len, now), AUTH_OK);

    /* within the grace: the SAME successor (same bytes with HS256), a fresh access token */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now + 5, &r2, &v), 0);
    ASSERT_EQ_INT(v, AUTH_OK);
    CHECK_EQ_INT(r2.refresh_len, r1.refresh_len);
    CHECK_STR_EQ(r2.refresh, r1.refresh);
    CHECK_TRUE(strcmp(r2.access, r1.access) != 0);

    /* the used token is blacklisted for /verify's database check */
    CHECK_EQ_INT(auth_refresh_check(f.auth, &ref, now + 5, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    CHECK_EQ_INT(auth_refresh_check(f.auth, &ref1, now + 5, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);

    /* after the grace: reuse -> the whole session is revoked, at once in the index */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now + 11, &r3, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    CHECK_EQ_INT(r3.refresh_len, 0);
    CHECK_EQ_INT(verify_access(&f, r1.access, r1.access_len, now + 11), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 11), AUTH_REVOKED);
    CHECK_EQ_INT(verify_refresh(&f, r1.refresh, r1.refresh_len, now + 11, NULL), AUTH_REVOKED);
    /* and the successor cannot refresh any more (database: session revoked) */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref1, now + 12, &r3, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    store_stats_t s;
    store_stats(auth_store(f.auth), &s);
    CHECK_EQ_INT(s.index.sids, 1);

    /* an unknown jti is invalid, not blacklisted */
    auth_token_ref_t bogus = ref1;
    memcpy(bogus.jti, "00000000000000000000000000000000", 33);
    ASSERT_EQ_INT(auth_refresh(f.auth, &bogus, now, &r3, &v), 0);
    CHECK_EQ_INT(v, AUTH_INVALID);
    auth_pair_dispose(&p);
    auth_pair_dispose(&r1);
    auth_pair_dispose(&r2);
    auth_pair_dispose(&r3);
    fx_close(&f);
}

struct race {
    struct fx *f;
    auth_token_ref_t ref;
    int64_t now;
    int rc;
    enum auth_verdict v;
    auth_pair_t out;
};

static void *race_main(void *arg)
{
    struct race *r = arg;
    r->rc = auth_refresh(r->f->auth, &r->ref, r->now, &r->out, &r->v);
    return NULL;
}

TEST(auth_refresh_threads_presenting_one_token_get_one_successor)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum { N = 6 };
    struct race *r = calloc(N, sizeof *r);
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i].f = &f;
        r[i].ref = ref;
        r[i].now = now;
        pthread_create(&t[i], NULL, race_main, &r[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(r[i].rc, 0);
        CHECK_EQ_INT(r[i].v, AUTH_OK);
        CHECK_STR_EQ(r[i].out.refresh, r[0].out.refresh);
    }
    for (int i = 0; i < N; i++)
        auth_pair_dispose(&r[i].out);
    free(r);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_refresh_without_rotation_issues_only_access)
{
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    o.rotate_refresh_tokens = false;
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, r = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;
    for (int i = 0; i < 3; i++) { /* the same refresh token works again and again */
        ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now + 60 * i, &r, &v), 0);
        CHECK_EQ_INT(v, AUTH_OK);
        CHECK_EQ_INT(r.refresh_len, 0);
        CHECK_EQ_INT(verify_access(&f, r.access, r.access_len, now + 60 * i), AUTH_OK);
        auth_pair_dispose(&r);
    }
    /* logout still ends it */
    ASSERT_EQ_INT(auth_logout(f.auth, &ref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_refresh_zero_grace_makes_any_reuse_fatal)
{
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    o.reuse_grace_s = 0;
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, r = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);
    auth_pair_dispose(&r);
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0); /* same second */
    CHECK_EQ_INT(v, AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_REVOKED);
    auth_pair_dispose(&p);
    fx_close(&f);
}

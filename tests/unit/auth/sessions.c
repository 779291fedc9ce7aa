/*
 * Unit tests for src/auth/sessions.c: a user's list of live sessions (newest first, neither
 * revoked nor unable to refresh, never another user's), signing out one's own session (and
 * not another user's), and the revocations feed as JSON. Against the fixture of fx.h.
 */
#include <jansson.h>

#include "fx.h"
#include "test.h"

static int login_user(struct fx *f, const char *username, const auth_client_t *c, int64_t now,
                      auth_pair_t *p)
{
    return auth_login(f->auth, username, "correct horse", 13, c, now, p);
}

TEST(auth_sessions_list_newest_first_live_only)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t bob;
    ASSERT_EQ_INT(fx_add_user(&f, "bob", "bob@example.com", &bob), 0);
    int64_t now = clock_now_s();
    auth_client_t anon = {0};
    auth_pair_t old = {0}, a = {0}, b = {0}, c = {0}, d = {0}, o = {0};
    /* a session whose refresh token has expired cannot refresh: not listed */
    ASSERT_EQ_INT(login(&f, now - 8 * 86400, &old), 0);
    ASSERT_EQ_INT(login(&f, now - 40, &a), 0);
    ASSERT_EQ_INT(login_user(&f, "alice", &anon, now - 30, &b), 0);
    ASSERT_EQ_INT(login(&f, now - 20, &c), 0);
    ASSERT_EQ_INT(login(&f, now - 10, &d), 0);
    ASSERT_EQ_INT(login_user(&f, "bob", &anon, now - 5, &o), 0); /* another user's */
    ASSERT_EQ_INT(auth_revoke_session(f.auth, c.sid, now - 15), 0);

    auth_session_list_t l;
    ASSERT_EQ_INT(auth_sessions_list(f.auth, f.uid, now, &l), 0);
    ASSERT_EQ_INT(l.count, 3);
    CHECK_STR_EQ(l.items[0].sid, d.sid);
    CHECK_STR_EQ(l.items[1].sid, b.sid);
    CHECK_STR_EQ(l.items[2].sid, a.sid);
    CHECK_EQ_INT(l.items[0].created_at, now - 10);
    CHECK_EQ_INT(l.items[0].last_used_at, now - 10);
    CHECK_STR_EQ(l.items[0].client_ip, "127.0.0.1");
    CHECK_STR_EQ(l.items[0].user_agent, "unit");
    CHECK_STR_EQ(l.items[1].client_ip, ""); /* unknown client: empty, never NULL */
    CHECK_STR_EQ(l.items[1].user_agent, "");
    auth_session_list_dispose(&l);
    CHECK_TRUE(l.items == NULL && l.count == 0);

    /* a refresh uses the session: it moves to the front, and its successor keeps it live */
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, a.refresh, a.refresh_len, now, &ref), AUTH_OK);
    auth_pair_t r = {0};
    enum auth_verdict v;
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now - 1, &r, &v), 0);
    ASSERT_EQ_INT(v, AUTH_OK);
    ASSERT_EQ_INT(auth_sessions_list(f.auth, f.uid, now, &l), 0);
    ASSERT_EQ_INT(l.count, 3);
    CHECK_STR_EQ(l.items[0].sid, a.sid);
    CHECK_EQ_INT(l.items[0].created_at, now - 40);
    CHECK_EQ_INT(l.items[0].last_used_at, now - 1);
    auth_session_list_dispose(&l);

    /* the other user sees only theirs; a user without sessions gets an empty list */
    ASSERT_EQ_INT(auth_sessions_list(f.auth, bob, now, &l), 0);
    ASSERT_EQ_INT(l.count, 1);
    CHECK_STR_EQ(l.items[0].sid, o.sid);
    auth_session_list_dispose(&l);
    ASSERT_EQ_INT(auth_sessions_list(f.auth, 424242, now, &l), 0);
    CHECK_EQ_INT(l.count, 0);
    auth_session_list_dispose(&l);

    /* logout-all empties the list */
    ASSERT_EQ_INT(auth_user_revoke_all(f.auth, f.uid, now), 0);
    ASSERT_EQ_INT(auth_sessions_list(f.auth, f.uid, now, &l), 0);
    CHECK_EQ_INT(l.count, 0);
    auth_session_list_dispose(&l);
    auth_pair_t *all[] = {&old, &a, &b, &c, &d, &o, &r};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        auth_pair_dispose(all[i]);
    fx_close(&f);
}

TEST(auth_revoke_own_session_only)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t bob;
    ASSERT_EQ_INT(fx_add_user(&f, "bob", "bob@example.com", &bob), 0);
    int64_t now = clock_now_s();
    auth_client_t anon = {0};
    auth_pair_t mine = {0}, other = {0}, theirs = {0};
    ASSERT_EQ_INT(login(&f, now, &mine), 0);
    ASSERT_EQ_INT(login(&f, now, &other), 0);
    ASSERT_EQ_INT(login_user(&f, "bob", &anon, now, &theirs), 0);
    /* the access tokens are in the verified-token cache before the revocation */
    auth_token_ref_t ref;
    ASSERT_EQ_INT(auth_verify_token(f.auth, str_make(mine.access, mine.access_len),
                                    AUTH_TOKEN_ACCESS, now, &ref),
                  AUTH_OK);
    ASSERT_EQ_INT(auth_verify_token(f.auth, str_make(theirs.access, theirs.access_len),
                                    AUTH_TOKEN_ACCESS, now, &ref),
                  AUTH_OK);

    /* another user's session: not found, and nothing revoked */
    CHECK_EQ_INT(auth_revoke_own_session(f.auth, f.uid, theirs.sid, now), ERR_NOT_FOUND);
    CHECK_EQ_INT(auth_verify_token(f.auth, str_make(theirs.access, theirs.access_len),
                                   AUTH_TOKEN_ACCESS, now, &ref),
                 AUTH_OK);
    auth_token_ref_t tref;
    ASSERT_EQ_INT(verify_refresh(&f, theirs.refresh, theirs.refresh_len, now, &tref), AUTH_OK);
    enum auth_verdict v;
    ASSERT_EQ_INT(auth_refresh_check(f.auth, &tref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);
    auth_session_list_t l;
    ASSERT_EQ_INT(auth_sessions_list(f.auth, bob, now, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    auth_session_list_dispose(&l);
    /* unknown or malformed sids: not found */
    CHECK_EQ_INT(auth_revoke_own_session(f.auth, f.uid, "ffffffffffffffffffffffffffffffff", now),
                 ERR_NOT_FOUND);
    CHECK_EQ_INT(auth_revoke_own_session(f.auth, f.uid, "not a sid", now), ERR_NOT_FOUND);

    /* one's own: revoked, the access token refused at once (cached or not) */
    auth_token_ref_t mref;
    ASSERT_EQ_INT(verify_refresh(&f, mine.refresh, mine.refresh_len, now, &mref), AUTH_OK);
    ASSERT_EQ_INT(auth_revoke_own_session(f.auth, f.uid, mine.sid, now), 0);
    CHECK_EQ_INT(auth_verify_token(f.auth, str_make(mine.access, mine.access_len),
                                   AUTH_TOKEN_ACCESS, now, &ref),
                 AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, mine.access, mine.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_refresh(&f, mine.refresh, mine.refresh_len, now, NULL), AUTH_REVOKED);
    /* ... and in the database: its refresh token cannot refresh */
    ASSERT_EQ_INT(auth_refresh_check(f.auth, &mref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    ASSERT_EQ_INT(auth_sessions_list(f.auth, f.uid, now, &l), 0);
    ASSERT_EQ_INT(l.count, 1);
    CHECK_STR_EQ(l.items[0].sid, other.sid);
    auth_session_list_dispose(&l);
    CHECK_EQ_INT(verify_access(&f, other.access, other.access_len, now), AUTH_OK);
    auth_pair_dispose(&mine);
    auth_pair_dispose(&other);
    auth_pair_dispose(&theirs);
    fx_close(&f);
}

/* The members of a revocations object, or NULL. */
static json_t *revocations(struct fx *f, int64_t since, int64_t now)
{
    buf_t b;
    buf_init(&b, 1u << 20);
    json_t *j = NULL;
    if (auth_revocations_json(f->auth, since, now, &b) == 0)
        j = json_loadb(b.data, b.len, 0, NULL);
    buf_dispose(&b);
    return j;
}

/* The element of array whose member key is the string val, or NULL. */
static json_t *find_by(json_t *array, const char *key, const char *val)
{
    for (size_t i = 0; i < json_array_size(array); i++) {
        json_t *e = json_array_get(array, i);
        const char *s = json_string_value(json_object_get(e, key));
        if (s && strcmp(s, val) == 0)
            return e;
    }
    return NULL;
}

TEST(auth_revocations_json_members)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t bob;
    ASSERT_EQ_INT(fx_add_user(&f, "bob", "bob@example.com", &bob), 0);
    int64_t now = clock_now_s();
    auth_client_t anon = {0};
    auth_pair_t p = {0}, q = {0}, r = {0};
    ASSERT_EQ_INT(login(&f, now - 100, &p), 0);
    ASSERT_EQ_INT(login(&f, now - 100, &q), 0);
    ASSERT_EQ_INT(login_user(&f, "bob", &anon, now - 100, &r), 0);

    /* nothing revoked yet */
    json_t *j = revocations(&f, now - 60, now);
    ASSERT_TRUE(j != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "now")), now);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "since")), now - 60);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "jtis")), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "sids")), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "users")), 0);
    json_decref(j);

    /* one access token, one session, one user (whose session goes with it) */
    jwtv_claims c;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(p.access, p.access_len), now, &c), AUTH_OK);
    char jti[33];
    snprintf(jti, sizeof jti, "%s", c.jti);
    int64_t exp = c.exp;
    ASSERT_EQ_INT(auth_revoke_jti(f.auth, jti, exp, now - 30), 0);
    ASSERT_EQ_INT(auth_revoke_session(f.auth, q.sid, now - 20), 0);
    ASSERT_EQ_INT(auth_user_revoke_all(f.auth, bob, now - 10), 0);

    j = revocations(&f, now - 60, now);
    ASSERT_TRUE(j != NULL);
    json_t *jtis = json_object_get(j, "jtis"), *sids = json_object_get(j, "sids"),
           *users = json_object_get(j, "users");
    CHECK_EQ_INT(json_array_size(jtis), 1);
    json_t *e = find_by(jtis, "jti", jti);
    if (CHECK_TRUE(e != NULL))
        CHECK_EQ_INT(json_integer_value(json_object_get(e, "exp")), exp);
    CHECK_EQ_INT(json_array_size(sids), 2);
    e = find_by(sids, "sid", q.sid);
    if (CHECK_TRUE(e != NULL)) {
        CHECK_EQ_INT(json_integer_value(json_object_get(e, "user_id")), f.uid);
        CHECK_EQ_INT(json_integer_value(json_object_get(e, "revoked_at")), now - 20);
    }
    e = find_by(sids, "sid", r.sid);
    if (CHECK_TRUE(e != NULL)) {
        CHECK_EQ_INT(json_integer_value(json_object_get(e, "user_id")), bob);
        CHECK_EQ_INT(json_integer_value(json_object_get(e, "revoked_at")), now - 10);
    }
    CHECK_TRUE(find_by(sids, "sid", p.sid) == NULL);
    ASSERT_EQ_INT(json_array_size(users), 1);
    e = json_array_get(users, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(e, "user_id")), bob);
    CHECK_EQ_INT(json_integer_value(json_object_get(e, "revoke_before")), now - 10);
    json_decref(j);

    /* since bounds sessions and watermarks (at or after it), not access tokens */
    j = revocations(&f, now - 10, now);
    ASSERT_TRUE(j != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "jtis")), 1);
    sids = json_object_get(j, "sids");
    CHECK_EQ_INT(json_array_size(sids), 1);
    CHECK_TRUE(find_by(sids, "sid", r.sid) != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "users")), 1);
    json_decref(j);
    j = revocations(&f, now - 9, now);
    ASSERT_TRUE(j != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "jtis")), 1);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "sids")), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "users")), 0);
    json_decref(j);
    /* a revoked access token is listed until it expires */
    j = revocations(&f, now - 60, exp);
    ASSERT_TRUE(j != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "jtis")), 0);
    json_decref(j);
    auth_pair_dispose(&p);
    auth_pair_dispose(&q);
    auth_pair_dispose(&r);
    fx_close(&f);
}

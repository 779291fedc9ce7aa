/*
 * Unit tests for src/auth/revoke.c: every revocation kind (logout, session, access token,
 * every session of a user, password change, deactivation) and its effect on the in-memory
 * index at once, and revocations made by another process (pulled) or before a restart.
 * Against the fixture of fx.h.
 */
#include "fx.h"
#include "test.h"

TEST(auth_logout_revokes_session_in_index_at_once)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, other = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    ASSERT_EQ_INT(login(&f, now, &other), 0); /* a second session of the same user */
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;
    ASSERT_EQ_INT(auth_logout(f.auth, &ref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, other.access, other.access_len, now), AUTH_OK);
    /* twice: blacklisted */
    ASSERT_EQ_INT(auth_logout(f.auth, &ref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    auth_pair_t r = {0};
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    /* by sid and by jti */
    ASSERT_EQ_INT(auth_revoke_session(f.auth, other.sid, now), 0);
    CHECK_EQ_INT(verify_access(&f, other.access, other.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(auth_revoke_session(f.auth, "ffffffffffffffffffffffffffffffff", now),
                 ERR_NOT_FOUND);
    auth_pair_t q = {0};
    ASSERT_EQ_INT(login(&f, now, &q), 0);
    jwtv_claims c;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(q.access, q.access_len), now, &c), AUTH_OK);
    ASSERT_EQ_INT(auth_revoke_jti(f.auth, c.jti, c.exp, now), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_refresh(&f, q.refresh, q.refresh_len, now, NULL), AUTH_OK);
    auth_pair_dispose(&p);
    auth_pair_dispose(&other);
    auth_pair_dispose(&q);
    fx_close(&f);
}

TEST(auth_user_wide_revocations)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, q = {0};
    ASSERT_EQ_INT(login(&f, now - 5, &p), 0);
    ASSERT_EQ_INT(auth_user_revoke_all(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_REVOKED);
    auth_pair_dispose(&p);
    /* a login right after (same second) is valid: watermark is iat < revoke_before */
    ASSERT_EQ_INT(login(&f, now, &q), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now), AUTH_OK);
    auth_pair_dispose(&q);

    /* password change: policy, then everything revoked, new password works */
    auth_policy_result_t pol;
    CHECK_EQ_INT(auth_user_set_password(f.auth, f.uid, "1234567890", 10, now + 1, &pol),
                 ERR_INVALID);
    CHECK_TRUE(pol.count >= 1);
    ASSERT_EQ_INT(login(&f, now + 1, &q), 0);
    ASSERT_EQ_INT(auth_user_set_password(f.auth, f.uid, "new passphrase", 14, now + 2, NULL), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now + 2), AUTH_REVOKED);
    CHECK_EQ_INT(login(&f, now + 2, &p), ERR_NO_ACTIVE_ACCOUNT);
    auth_client_t c = {0};
    auth_pair_dispose(&q);
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "new passphrase", 14, &c, now + 2, &q), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now + 2), AUTH_OK);

    /* deactivation */
    ASSERT_EQ_INT(auth_user_set_active(f.auth, f.uid, false, now + 3), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now + 3), AUTH_REVOKED);
    CHECK_EQ_INT(auth_login(f.auth, "alice", "new passphrase", 14, &c, now + 3, &p),
                 ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_user_revoke_all(f.auth, 999999, now), ERR_NOT_FOUND);
    auth_pair_dispose(&p);
    auth_pair_dispose(&q);
    fx_close(&f);
}

TEST(auth_revocations_by_other_processes_and_after_restart)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t a = {0}, b = {0};
    ASSERT_EQ_INT(login(&f, now - 10, &a), 0);
    ASSERT_EQ_INT(login(&f, now - 10, &b), 0);
    jwtv_claims c;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(b.access, b.access_len), now, &c), AUTH_OK);
    char bjti[33];
    snprintf(bjti, sizeof bjti, "%s", c.jti);
    /* another process (the CLI) writes the database directly */
    ASSERT_EQ_INT(db_session_revoke(f.db, a.sid, now, NULL), 0);
    ASSERT_EQ_INT(db_revoked_insert(f.db, bjti, now + 900, now, "admin"), 0);
    CHECK_EQ_INT(verify_access(&f, a.access, a.access_len, now), AUTH_OK); /* not yet seen */
    ASSERT_EQ_INT(store_sync(auth_store(f.auth)), 0);                      /* the poll */
    CHECK_EQ_INT(verify_access(&f, a.access, a.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, b.access, b.access_len, now), AUTH_REVOKED);

    /* restart: a new service on the same database loads every revocation */
    auth_free(f.auth);
    f.auth = NULL;
    auth_options_t o;
    fx_options(&o);
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_EQ_INT(verify_access(&f, a.access, a.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, b.access, b.access_len, now), AUTH_REVOKED);
    /* watermark from another process */
    auth_pair_t d = {0};
    ASSERT_EQ_INT(login(&f, now - 1, &d), 0);
    ASSERT_EQ_INT(db_user_revoke_all(f.db, f.uid, now, NULL), 0);
    ASSERT_EQ_INT(store_sync(auth_store(f.auth)), 0);
    CHECK_EQ_INT(verify_access(&f, d.access, d.access_len, now), AUTH_REVOKED);
    auth_pair_dispose(&a);
    auth_pair_dispose(&b);
    auth_pair_dispose(&d);
    fx_close(&f);
}

/*
 * Unit tests for src/auth/verify.c: the verdicts (wrong type, expiry reported first,
 * tampering) and their SimpleJWT messages, user id parsing. Against the fixture of fx.h.
 */
#include "fx.h"
#include "test.h"

TEST(auth_verify_wrong_type_and_expiry_first)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    CHECK_EQ_INT(verify_access(&f, p.refresh, p.refresh_len, now), AUTH_WRONG_TYPE);
    CHECK_EQ_INT(verify_refresh(&f, p.access, p.access_len, now, NULL), AUTH_WRONG_TYPE);
    jwtv_claims c;
    CHECK_EQ_INT(auth_verify_any(f.auth, str_make(p.refresh, p.refresh_len), now, &c), AUTH_OK);
    CHECK_EQ_INT(auth_verify_any(f.auth, str_make(p.access, p.access_len), now, &c), AUTH_OK);
    /* expired: invalid (not wrong type), as SimpleJWT reports expiry before type */
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 900), AUTH_INVALID);
    CHECK_EQ_INT(verify_access(&f, p.refresh, p.refresh_len, now + 7 * 86400), AUTH_INVALID);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 899), AUTH_OK);
    /* tampering */
    p.access[p.access_len - 5] ^= 1;
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_INVALID);
    CHECK_EQ_INT(verify_access(&f, "abc", 3, now), AUTH_INVALID);
    CHECK_STR_EQ(auth_verdict_message(AUTH_INVALID), "Token is invalid or expired");
    CHECK_STR_EQ(auth_verdict_message(AUTH_WRONG_TYPE), "Token has wrong type");
    CHECK_STR_EQ(auth_verdict_message(AUTH_REVOKED), "Token is blacklisted");
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_parse_user_id)
{
    int64_t v;
    CHECK_EQ_INT(auth_parse_user_id("42", &v), 0);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(auth_parse_user_id("", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id("-1", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id("1a", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id("99999999999999999999", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id(NULL, &v), ERR_INVALID);
}

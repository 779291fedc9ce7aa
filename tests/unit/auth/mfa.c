/* Unit tests for the pure parts of src/auth/mfa.c: TOTP against RFC 6238's test vectors,
   base32 against RFC 4648's, amr values and the step-up window. */
#include "test.h"

#include "auth/mfa.h"
#include "common/err.h"

TEST(totp_rfc6238_sha1_vectors)
{
    /* RFC 6238 appendix B, SHA-1 seed; the 8-digit values' last 6 digits */
    static const unsigned char key[] = "12345678901234567890";
    static const struct {
        int64_t t;
        uint32_t code;
    } v[] = {{59, 287082},       {1111111109, 81804},  {1111111111, 50471},
             {1234567890, 5924}, {2000000000, 279037}, {20000000000, 353130}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t code = 0;
        CHECK_EQ_INT(auth_totp_code(key, 20, v[i].t / AUTH_TOTP_STEP_S, &code), 0);
        CHECK_EQ_INT(code, v[i].code);
    }
}

TEST(base32_rfc4648_vectors_and_round_trip)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",        "MY",       "MZXQ",      "MZXW6",
                                      "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
    for (size_t i = 0; i < 7; i++) {
        char enc[32];
        auth_base32_encode((const unsigned char *)in[i], strlen(in[i]), enc);
        CHECK_STR_EQ(enc, out[i]);
        unsigned char dec[32];
        size_t n = 99;
        CHECK_EQ_INT(auth_base32_decode(enc, strlen(enc), dec, sizeof dec, &n), 0);
        CHECK_EQ_INT(n, strlen(in[i]));
        CHECK_MEM_EQ(dec, in[i], n);
    }
    unsigned char dec[4];
    size_t n;
    CHECK_EQ_INT(auth_base32_decode("mzxw 6ytb-oi==", 14, dec, 3, &n), ERR_INVALID); /* cap */
    CHECK_EQ_INT(auth_base32_decode("MZ1W", 4, dec, sizeof dec, &n), ERR_INVALID);
    CHECK_EQ_INT(auth_base32_decode("mzxw", 4, dec, sizeof dec, &n), 0);
    CHECK_EQ_INT(n, 2);
}

TEST(amr_values_and_text)
{
    char t[AUTH_AMR_TEXT_MAX];
    auth_amr_text(AUTH_AMR_PWD | AUTH_AMR_OTP | AUTH_AMR_MFA, t);
    CHECK_STR_EQ(t, "pwd otp mfa");
    auth_amr_text(AUTH_AMR_PWD | AUTH_AMR_OTP | AUTH_AMR_MFA | AUTH_AMR_HWK | AUTH_AMR_USER, t);
    CHECK_STR_EQ(t, "pwd otp mfa hwk user");
    /* every value, jwtd's "ext" (a social sign-in) included, fits */
    auth_amr_text(AUTH_AMR_PWD | AUTH_AMR_OTP | AUTH_AMR_MFA | AUTH_AMR_HWK | AUTH_AMR_USER |
                      AUTH_AMR_EXT,
                  t);
    CHECK_STR_EQ(t, "pwd otp mfa hwk user ext");
    CHECK_EQ_INT(auth_amr_bit("ext", 3), AUTH_AMR_EXT);
    auth_amr_text(0, t);
    CHECK_STR_EQ(t, "");
    CHECK_EQ_INT(auth_amr_bit("hwk", 3), AUTH_AMR_HWK);
    CHECK_EQ_INT(auth_amr_bit("pwdx", 4), 0);
    CHECK_EQ_INT(auth_amr_bit("sms", 3), 0);
}

TEST(recent_auth_window)
{
    CHECK_TRUE(auth_recent_auth(1000, 1000));
    CHECK_TRUE(auth_recent_auth(1000, 1000 + AUTH_REAUTH_WINDOW_S));
    CHECK_TRUE(!auth_recent_auth(1000, 1001 + AUTH_REAUTH_WINDOW_S));
    CHECK_TRUE(!auth_recent_auth(0, 1000));    /* unknown */
    CHECK_TRUE(!auth_recent_auth(5000, 1000)); /* from the future */
}

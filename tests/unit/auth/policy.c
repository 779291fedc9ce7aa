/* Unit tests for src/auth/policy.c: each rule, Django's texts, combinations. */
#include "test.h"

#include "auth/policy.h"
#include "common/err.h"

#define PW(s) (s), strlen(s)

TEST(policy_accepts_reasonable_password)
{
    auth_policy_result_t r;
    CHECK_EQ_INT(auth_password_policy_check(PW("correct horse"), "alice", "a@x.org", &r), 0);
    CHECK_EQ_INT(r.count, 0);
    CHECK_EQ_INT(auth_password_policy_check(PW("12345678a"), "alice", NULL, &r), 0);
}

TEST(policy_rules_and_texts)
{
    auth_policy_result_t r;
    CHECK_EQ_INT(auth_password_policy_check(PW("short"), "alice", NULL, &r), ERR_INVALID);
    CHECK_EQ_INT(r.count, 1);
    CHECK_STR_EQ(r.messages[0],
                 "This password is too short. It must contain at least 8 characters.");
    CHECK_EQ_INT(auth_password_policy_check(PW("1234"), "alice", NULL, &r), ERR_INVALID);
    CHECK_EQ_INT(r.count, 2);
    CHECK_STR_EQ(r.messages[1], "This password is entirely numeric.");
    CHECK_EQ_INT(auth_password_policy_check(PW("12345678901"), "alice", NULL, &r), ERR_INVALID);
    CHECK_EQ_INT(r.count, 1);
    CHECK_STR_EQ(r.messages[0], "This password is entirely numeric.");
    CHECK_EQ_INT(auth_password_policy_check(PW("LongUserName"), "longusername", NULL, &r),
                 ERR_INVALID);
    CHECK_EQ_INT(r.count, 1);
    CHECK_STR_EQ(r.messages[0], "The password is too similar to the username.");
    CHECK_EQ_INT(auth_password_policy_check(PW("Bob@Example.org"), "bob", "bob@example.org", &r),
                 ERR_INVALID);
    CHECK_STR_EQ(r.messages[0], "The password is too similar to the email address.");
    CHECK_EQ_INT(auth_password_policy_check("", 0, "bob", NULL, &r), ERR_INVALID);
    CHECK_EQ_INT(r.count, 1);
}

TEST(policy_counts_characters_not_bytes)
{
    auth_policy_result_t r;
    /* 7 two-byte characters = 14 bytes: still too short */
    const char *seven = "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4";
    CHECK_EQ_INT(auth_password_policy_check(PW(seven), "bob", NULL, &r), ERR_INVALID);
    const char *eight = "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4";
    CHECK_EQ_INT(auth_password_policy_check(PW(eight), "bob", NULL, &r), 0);
}

TEST(policy_bounds_length)
{
    static char big[4098];
    auth_policy_result_t r;
    memset(big, 'a', sizeof big);
    CHECK_EQ_INT(auth_password_policy_check(big, 4096, "bob", NULL, &r), 0);
    CHECK_EQ_INT(auth_password_policy_check(big, 4097, "bob", NULL, &r), ERR_INVALID);
    CHECK_STR_EQ(r.messages[0],
                 "This password is too long. It must contain at most 4096 characters.");
}

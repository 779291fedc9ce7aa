/*
 * policy.c - password rules for create/change (see policy.h). Stateless; no hashing here.
 */
#include "auth/policy.h"

#include <stdbool.h>
#include <string.h>

#include "common/err.h"
#include "common/str.h"
#include "common/text.h"

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void add(auth_policy_result_t *out, const char *msg)
{
    if (out->count < AUTH_POLICY_MAX_MESSAGES)
        out->messages[out->count++] = msg;
}

/* See policy.h. */
int auth_password_policy_check(const char *pw, size_t pw_len, const char *username,
                               const char *email, auth_policy_result_t *out)
{
    memset(out, 0, sizeof *out);
    str_t p = str_make(pw, pw_len);
    if (username && *username && str_eq_nocase(p, str_cstr(username)))
        add(out, "The password is too similar to the username.");
    else if (email && *email && str_eq_nocase(p, str_cstr(email)))
        add(out, "The password is too similar to the email address.");
    size_t chars = text_utf8_chars(str_make(pw, pw_len));
    if (chars < AUTH_PASSWORD_MIN_CHARS)
        add(out, "This password is too short. It must contain at least 8 characters.");
    if (chars > AUTH_PASSWORD_MAX_CHARS)
        add(out, "This password is too long. It must contain at most 4096 characters.");
    if (all_digits(pw, pw_len))
        add(out, "This password is entirely numeric.");
    return out->count ? ERR_INVALID : 0;
}

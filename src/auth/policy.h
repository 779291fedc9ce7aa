/*
 * policy.h - what a new password must look like (create, change), with Django's texts.
 *
 * The rules are those of Django's default AUTH_PASSWORD_VALIDATORS that matter here, with
 * Django's wording so that DRF-style 400 bodies read the same
 * (`{"password": ["This password is too short. ..."]}`), plus an upper bound that keeps the
 * cost of hashing bounded:
 *   - not the username or the email (ASCII case-insensitive)
 *     "The password is too similar to the username." / "... to the email address."
 *   - at least AUTH_PASSWORD_MIN_CHARS characters (Unicode code points, as Django counts)
 *     "This password is too short. It must contain at least 8 characters."
 *   - not entirely digits: "This password is entirely numeric."
 *   - at most AUTH_PASSWORD_MAX_CHARS characters
 *     "This password is too long. It must contain at most 4096 characters."
 * Messages are static strings in Django's validator order. Pure functions, thread-safe.
 */
#ifndef JWTD_AUTH_POLICY_H
#define JWTD_AUTH_POLICY_H

#include <stddef.h>

#define AUTH_PASSWORD_MIN_CHARS  8
#define AUTH_PASSWORD_MAX_CHARS  4096
#define AUTH_POLICY_MAX_MESSAGES 4

typedef struct {
    const char *messages[AUTH_POLICY_MAX_MESSAGES]; /* static strings */
    size_t count;
} auth_policy_result_t;

/*
 * Checks a candidate password (pw_len bytes, UTF-8) for the user named username (NUL-
 * terminated, may be NULL) with the given email (may be NULL or ""). OUT: *out lists every
 * rule broken. Returns 0 when the password is acceptable, ERR_INVALID otherwise.
 */
int auth_password_policy_check(const char *pw, size_t pw_len, const char *username,
                               const char *email, auth_policy_result_t *out);

#endif

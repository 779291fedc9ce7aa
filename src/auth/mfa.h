/*
 * mfa.h - multi-factor authentication (docs/mfa.md): TOTP factors (RFC 6238) with their
 * recovery codes, the second step of a password login (the mfa_token), and the claims that
 * say how a session was authenticated (amr, RFC 8176, and auth_time).
 *
 * The login routes keep calling auth_login: for a user with an active factor it issues no
 * tokens but a challenge (ERR_MFA_REQUIRED, the mfa_token in auth_pair_t.mfa_token), and
 * auth_mfa_verify finishes it with a code, issuing the session the login would have. The
 * family that started the login (auth_client_t.family: "simplejwt", "cookie", "mobile",
 * "service", ...) is stored with the challenge and given back, so the request layer answers
 * in that family's shape. Another kind of factor (passkeys) plugs in through
 * auth_mfa_has_factor (does the user need the second step), the challenge
 * (auth_mfa_challenge_find / auth_mfa_challenge_complete) and the factor list.
 *
 * Every function here blocks (database) unless it says otherwise; `now` is Unix seconds.
 * Secrets are encrypted at rest (AES-256-GCM, a key derived with HKDF from the signing key
 * that was active at enrolment, named by its kid in the stored value) and never logged.
 */
#ifndef JWTD_AUTH_MFA_H
#define JWTD_AUTH_MFA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "common/buf.h"

/* ==== amr (RFC 8176) ===========================================================================
 */

#define AUTH_AMR_PWD  0x01u /* password */
#define AUTH_AMR_OTP  0x02u /* one-time code: TOTP, recovery code, e-mailed code */
#define AUTH_AMR_MFA  0x04u /* more than one factor */
#define AUTH_AMR_HWK  0x08u /* proof of possession of a hardware key (passkey) */
#define AUTH_AMR_USER 0x10u /* user presence/verification by the authenticator */
/* jwtd's own value, not one of RFC 8176's: the first factor was a sign-in at an external
   OpenID Connect provider (social sign-in, auth/oidc.h) */
#define AUTH_AMR_EXT 0x20u

/* Room for the space-separated text of every value ("pwd otp mfa hwk user ext"). */
#define AUTH_AMR_TEXT_MAX 32
/* The values of amr separated by spaces (the sessions table's column), "" for none. */
void auth_amr_text(unsigned amr, char out[AUTH_AMR_TEXT_MAX]);
/* Parses one value ("otp"); 0 when it is not one of the six above. Pure. */
unsigned auth_amr_bit(const char *name, size_t len);

/* Step-up: how recent a sign-in must be for a sensitive action (removing a factor). */
#define AUTH_REAUTH_WINDOW_S 600
/* Whether auth_time (0 = unknown) is within AUTH_REAUTH_WINDOW_S of now. Pure. */
bool auth_recent_auth(int64_t auth_time, int64_t now);

/* ==== TOTP (pure; RFC 6238 with HMAC-SHA1, 6 digits, 30 s steps) ===============================
 */

#define AUTH_TOTP_STEP_S     30
#define AUTH_TOTP_DIGITS     6
#define AUTH_TOTP_SECRET_LEN 20 /* bytes: 160 bits, RFC 4226's recommendation */
#define AUTH_TOTP_SECRET_B32 32 /* base32 characters of such a secret (no padding) */
/* The code of key at time step step (floor(unix time / 30)). Returns 0 or ERR_INTERNAL. */
int auth_totp_code(const unsigned char *key, size_t len, int64_t step, uint32_t *code);
/* RFC 4648 base32 without padding, upper case. out holds ceil(len * 8 / 5) + 1 bytes. */
void auth_base32_encode(const unsigned char *in, size_t len, char *out);
/* Decodes base32 (either case, blanks and '=' padding skipped). OUT: *out_len. Returns 0 or
   ERR_INVALID (a bad character, more than cap bytes). */
int auth_base32_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len);

/* ==== factors ==================================================================================
 */

#define AUTH_RECOVERY_CODES      10
#define AUTH_RECOVERY_CODE_CHARS 19 /* "xxxx-xxxx-xxxx-xxxx": 16 base32 characters, 80 bits */

/*
 * Whether user_id has an active factor of any kind (today TOTP), i.e. whether a password
 * login needs the second step. Returns 0 (OUT: *has) or ERR_UNAVAILABLE.
 */
int auth_mfa_has_factor(auth_t *a, int64_t user_id, bool *has);

/* A TOTP enrolment, not active until auth_mfa_totp_activate. */
typedef struct {
    int64_t factor_id;
    char secret[AUTH_TOTP_SECRET_B32 + 1]; /* base32, for typing into an app */
    char *otpauth_uri;                     /* heap: otpauth://totp/<issuer>:<user>?secret=... */
} auth_totp_enrollment_t;
void auth_totp_enrollment_dispose(auth_totp_enrollment_t *e);

/*
 * A new TOTP factor for user_id (inactive): a random secret, stored encrypted; issuer names
 * the service in the authenticator app ("jwtd" when NULL/""). Inactive enrolments of the
 * user older than an hour are dropped. OUT: *out (dispose it). Returns 0, ERR_NOT_FOUND (no
 * such user), ERR_UNAVAILABLE, ERR_INTERNAL (no key to encrypt with).
 */
int auth_mfa_totp_enroll(auth_t *a, int64_t user_id, const char *issuer, int64_t now,
                         auth_totp_enrollment_t *out);
/*
 * Activates factor_id of user_id with a first valid code (which is then used up), and
 * replaces the user's recovery codes with AUTH_RECOVERY_CODES new ones, written into codes
 * (shown once: only their hashes are stored). Returns 0, ERR_NOT_FOUND (no such inactive
 * factor of the user), ERR_MFA_CODE_INVALID, ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_mfa_totp_activate(auth_t *a, int64_t user_id, int64_t factor_id, const char *code,
                           int64_t now,
                           char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_CHARS + 1]);
/*
 * The user's active factors as the JSON array [{"id","type","name","created_at",
 * "last_used_at"}] (times in Unix seconds, last_used_at null when never), appended to out.
 * Returns 0 or ERR_UNAVAILABLE.
 */
int auth_mfa_factors_json(auth_t *a, int64_t user_id, buf_t *out);
/*
 * Removes factor id of user_id (the caller checked auth_recent_auth). Removing the last
 * factor also deletes the recovery codes. Returns 0, ERR_NOT_FOUND (none, or another
 * user's), ERR_UNAVAILABLE.
 */
int auth_mfa_factor_delete(auth_t *a, int64_t user_id, int64_t id, int64_t now);

/* ==== the second step of a login ================================================================
 */

#define AUTH_MFA_TOKEN_LEN      64  /* hex characters of an mfa_token (256 bits) */
#define AUTH_MFA_TOKEN_TTL_S    300 /* an mfa_token expires 5 minutes after the password */
#define AUTH_MFA_TOKEN_ATTEMPTS 5   /* wrong codes per mfa_token before it is dead */
#define AUTH_MFA_USER_ATTEMPTS  10  /* wrong codes per user ... */
#define AUTH_MFA_USER_WINDOW_S  900 /* ... within this window, then 429 until it passes */
#define AUTH_MFA_FAMILY_MAX     15
#define AUTH_MFA_BIND_MAX       255

/* A pending challenge as stored. */
typedef struct {
    int64_t user_id;
    unsigned amr; /* what the first step proved (AUTH_AMR_PWD for a password) */
    char family[AUTH_MFA_FAMILY_MAX + 1];
    char bind[AUTH_MFA_BIND_MAX + 1]; /* e.g. the cookie flow's Origin, "" = none */
} auth_mfa_challenge_t;

/*
 * After a right first factor: a new challenge for user_id (single-use, AUTH_MFA_TOKEN_TTL_S)
 * remembering family and bind (NULL = ""), its token written to token. Then the JSON array
 * [{"id","type"}] of the user's active factors is appended to factors (when not NULL).
 * Returns 0, ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_mfa_challenge_new(auth_t *a, int64_t user_id, unsigned amr, const char *family,
                           const char *bind, int64_t now, char token[AUTH_MFA_TOKEN_LEN + 1],
                           buf_t *factors);
/*
 * The challenge of token, when it is unused, unexpired and has attempts left. OUT: *c.
 * Returns 0, ERR_MFA_TOKEN_INVALID, ERR_THROTTLED (the user's attempts are spent; OUT:
 * *retry_after_s when not NULL), ERR_UNAVAILABLE.
 */
int auth_mfa_challenge_find(auth_t *a, const char *token, int64_t now, auth_mfa_challenge_t *c,
                            uint32_t *retry_after_s);
/* Counts a wrong second factor against token and its user. Returns 0 or ERR_UNAVAILABLE. */
int auth_mfa_challenge_fail(auth_t *a, const char *token, int64_t now);
/*
 * Uses the challenge of token up (once: a second call fails) and issues the session the
 * login would have issued, with amr = the challenge's | factor_amr | AUTH_AMR_MFA and
 * auth_time now. OUT: *out (dispose it). Returns 0, ERR_MFA_TOKEN_INVALID (used meanwhile),
 * ERR_NO_ACTIVE_ACCOUNT (the user was deactivated), ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_mfa_challenge_complete(auth_t *a, const char *token, const auth_mfa_challenge_t *c,
                                unsigned factor_amr, const auth_client_t *client, int64_t now,
                                auth_pair_t *out);
/*
 * POST /auth/mfa/verify: the challenge of token (bound to bind, NULL = none), then code as
 * a TOTP code of one of the user's factors (each time step accepted once per factor) or as
 * one of their recovery codes (each once), then auth_mfa_challenge_complete. A wrong code
 * counts against the token and the user. OUT: *out, family (the family that started the
 * login) and *retry_after_s on ERR_THROTTLED. Returns 0, ERR_MFA_TOKEN_INVALID,
 * ERR_MFA_CODE_INVALID, ERR_THROTTLED, ERR_NO_ACTIVE_ACCOUNT, ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_mfa_verify(auth_t *a, const char *token, const char *code, const char *bind,
                    const auth_client_t *client, int64_t now, auth_pair_t *out,
                    char family[AUTH_MFA_FAMILY_MAX + 1], uint32_t *retry_after_s);

#endif

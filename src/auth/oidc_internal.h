/*
 * oidc_internal.h - what the files of the relying party share (src/auth/oidc*.c only): the
 * HTTP client (oidc_http.c) and the tables (oidc_store.c).
 */
#ifndef JWTD_AUTH_OIDC_INTERNAL_H
#define JWTD_AUTH_OIDC_INTERNAL_H

#include "auth/auth_internal.h"
#include "auth/oidc.h"

/* How the HTTP client may fetch. */
typedef struct {
    bool allow_http; /* http:// on any host (development); else only on loopback hosts */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    size_t max_bytes;
} auth__oidc_http_limits_t;

/* Whether url may be fetched or redirected to: https://, or http:// on a loopback host or
   when lim allows it; no blank or control byte. */
bool auth__oidc_url_ok(const auth__oidc_http_limits_t *lim, const char *url);

/*
 * One request (BLOCKS): GET url, or POST form (application/x-www-form-urlencoded) when form
 * is not NULL, with HTTP basic authentication when user is not NULL (already
 * form-encoded, RFC 6749 §2.3.1), or Authorization: Bearer when bearer is not NULL. No redirects;
 * TLS peer and host verified; the limits of lim. OUT: *status, body (appended; at most
 * lim->max_bytes). Returns 0 (any status), ERR_UNAVAILABLE (connection, TLS, timeout),
 * ERR_TOO_LARGE, ERR_INVALID (url refused).
 */
int auth__oidc_http(const auth__oidc_http_limits_t *lim, const char *url, const char *form,
                    const char *user, const char *pass, const char *bearer, long *status,
                    buf_t *body);
/* Once per process, before threads fetch. */
void auth__oidc_http_init(void);

/* --- oidc_store.c: user_identities and oidc_states ------------------------------------- */

/* A sign-in in progress, as stored. Heap strings. */
typedef struct {
    char *provider;
    char *bind_hash;
    char *nonce;
    char *verifier;
    char *redirect_uri;
    char *next;
    int64_t expires_at;
} auth__oidc_state_t;
void auth__oidc_state_dispose(auth__oidc_state_t *s);

/* Stores a state under state_hash (and deletes expired ones). 0 or ERR_UNAVAILABLE. */
int auth__oidc_state_put(db_t *db, const char *state_hash, const auth__oidc_state_t *s,
                         int64_t now);
/* Reads and deletes the state of state_hash. 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth__oidc_state_take(db_t *db, const char *state_hash, auth__oidc_state_t *out);

/* The user linked to (issuer, subject). OUT: *user_id. 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth__oidc_identity_find(db_t *db, const char *issuer, const char *subject, int64_t *user_id);
/* Links (issuer, subject) to user_id. 0, ERR_CONFLICT, ERR_NOT_FOUND (no user),
   ERR_UNAVAILABLE. */
int auth__oidc_identity_add(db_t *db, int64_t user_id, const char *provider, const char *issuer,
                            const char *subject, const char *email, int64_t now);
/* Records a sign-in through (issuer, subject). */
int auth__oidc_identity_touch(db_t *db, const char *issuer, const char *subject, int64_t now);
/* The active-or-not user whose e-mail is email (case-insensitive ASCII). OUT: *user_id. */
int auth__oidc_user_by_email(db_t *db, const char *email, int64_t *user_id);
/* Appends user_id's identities as a JSON array. */
int auth__oidc_identities_json(db_t *db, int64_t user_id, buf_t *out);
/* Deletes identity id of user_id unless it is the last way to sign in (ERR_CONFLICT). */
int auth__oidc_identity_remove(db_t *db, int64_t user_id, int64_t id);

#endif

/*
 * oauth_internal.h - what oauth.c (the flows) and oauth_store.c (tables, clients) share.
 * Only src/auth/ includes it.
 */
#ifndef JWTD_AUTH_OAUTH_INTERNAL_H
#define JWTD_AUTH_OAUTH_INTERNAL_H

#include "auth/auth_internal.h"
#include "auth/oauth.h"

/* The grants a client may be registered for. */
#define OAUTH__GRANTS "authorization_code refresh_token client_credentials"

enum oauth_stmt {
    OQ_CLIENT_INSERT,
    OQ_CLIENT_GET,
    OQ_CLIENT_LIST,
    OQ_CLIENT_COUNT,
    OQ_CLIENT_DELETE,
    OQ_CLIENT_UPDATE,
    OQ_CLIENT_SECRET,
    OQ_GRANT_SIDS_CLIENT,
    OQ_GRANT_SIDS_USER,
    OQ_GRANT_INSERT,
    OQ_GRANT_GET,
    OQ_CONSENT_GET,
    OQ_CONSENT_PUT,
    OQ_CONSENT_DELETE,
    OQ_CODE_PURGE,
    OQ_CODE_INSERT,
    OQ_CODE_GET,
    OQ_CODE_USE,
    OQ_CODE_SET_SID,
    OQ_APPS,
    OQ__N
};
extern const db_stmt_def_t oauth__sql[OQ__N];

/* A client with its secret's hash (64 hex, "" for a public client). */
typedef struct {
    auth_oauth_client_t c;
    char secret_hash[65];
} oauth__client_t;

/* Loads a client. Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. OUT: *out (dispose out->c). */
int oauth__client_load(auth_t *a, const char *client_id, oauth__client_t *out);

/* Session ids read by oauth__read_sids (a db_row_cb over column 0). */
#define OAUTH__MAX_SIDS 1000
typedef struct {
    char sid[OAUTH__MAX_SIDS][AUTH_ID_MAX + 1];
    size_t count;
} oauth__sids_t;
int oauth__read_sids(void *arg, const db_row_t *row);
/* Revokes each session (database + index); failures are logged. */
void oauth__revoke_sids(auth_t *a, const oauth__sids_t *l, int64_t now);

/* SHA-256 of p as 64 lowercase hex characters and a NUL. */
void oauth__sha256_hex(const void *p, size_t n, char out[65]);
/* base64url of 32 random bytes (43 characters and a NUL). Returns 0 or ERR_INTERNAL. */
int oauth__random_token(char out[AUTH_OAUTH_SECRET_LEN + 1]);
/* Whether the space-separated list holds item (len bytes) / the C string item. */
bool oauth__list_has(const char *list, const char *item, size_t len);
/* The space-separated words of s, each once, in order (heap), or NULL when one is not in
   allowed (nor, when also is not NULL, in also). */
char *oauth__words(const char *s, const char *allowed, const char *also);
bool oauth__list_has_cstr(const char *list, const char *item);
/* Whether u is an acceptable redirect URI to register (oauth.h auth_oauth_client_create). */
bool oauth__redirect_uri_ok(const char *u);

#endif

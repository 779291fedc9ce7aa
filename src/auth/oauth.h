/*
 * oauth.h - jwtd as an OAuth 2.0 / OpenID Connect provider: registered clients, the
 * authorization code flow with PKCE, the token endpoint's grants, ID tokens, userinfo,
 * revocation (RFC 7009), introspection (RFC 7662), RP-initiated logout and the user's
 * "connected apps". Part of the token service (auth.h) and, like it, knows nothing of HTTP:
 * src/api/routes/oauth.c adapts it. The protocol is docs/oidc.md.
 *
 * DESIGN
 * - A code exchange creates an ordinary jwtd session for the user (one refresh-token
 *   family), recorded as a grant of the client (oauth_grants). So an OAuth refresh token is a
 *   jwtd refresh token: rotation, reuse detection, the grace, revocation by session, user
 *   watermark and every instance's revocation index work unchanged. Access tokens are jwtd
 *   access tokens of that session. A client_credentials token is a JWS of the active key
 *   with sub = client_id and no user: no user route accepts it (it names no user).
 * - The browser's sign-in is jwtd's own (the web UI's cookie flow). The web UI then asks for
 *   the "OAuth browser session", a JWS cookie scoped to /oauth/ that names the signed-in
 *   session (sid, user, auth_time): /oauth/authorize verifies it with no I/O, and it dies
 *   with the session (the revocation index is asked on every use).
 * - Secrets and codes are stored as SHA-256 (hex) of 256 random bits and compared in
 *   constant time. A code lives 60 s and is used once: presenting it again revokes the
 *   session it issued.
 * - ID tokens need an asymmetric signing key (RS/PS/ES/EdDSA): with an HMAC key the server
 *   refuses to start while clients are registered (auth_oauth_check_keys).
 * - The values another feature owns are behind one function each in oauth.c: the
 *   authentication methods (amr: ["pwd"]), the authentication time (the session's creation)
 *   and email_verified (false until e-mail verification exists).
 *
 * Every function here blocks (the database) unless it says otherwise.
 */
#ifndef JWTD_AUTH_OAUTH_H
#define JWTD_AUTH_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "common/buf.h"
#include "common/str.h"

/* A client_id: 32 lowercase hex characters (accepted up to this length on input). */
#define AUTH_OAUTH_ID_MAX 64
/* A client secret as shown once: base64url of 32 random bytes. */
#define AUTH_OAUTH_SECRET_LEN 43
/* The scopes jwtd knows ("roles": the user's jwtd role as the claims "role" and "roles"). */
#define AUTH_OAUTH_SCOPES "openid profile email offline_access roles"
/* How long an authorization code lives (seconds). */
#define AUTH_OAUTH_CODE_LIFETIME_S 60

/* ==== clients ================================================================================= */

typedef struct {
    char *client_id;
    char *name;
    char *redirect_uris;             /* space-separated, exact match */
    char *post_logout_redirect_uris; /* space-separated, exact match */
    char *scopes;                    /* allowed scopes, space-separated */
    char *grant_types;               /* allowed grants, space-separated */
    bool is_public;                  /* no secret; PKCE required */
    bool first_party;                /* no consent asked */
    int64_t created_at;
} auth_oauth_client_t;

typedef struct {
    auth_oauth_client_t *items;
    size_t count;
} auth_oauth_client_list_t;

/* A new client: borrowed strings. */
typedef struct {
    const char *name;
    const char *const *redirect_uris; /* at least one for the authorization code grant */
    size_t n_redirect_uris;
    const char *const *post_logout_redirect_uris;
    size_t n_post_logout;
    bool is_public;
    bool first_party;
    const char *scopes;      /* NULL = AUTH_OAUTH_SCOPES; each must be one of them */
    const char *grant_types; /* NULL = authorization_code refresh_token (+ client_credentials
                                for a confidential client) */
} auth_oauth_client_new_t;

void auth_oauth_client_dispose(auth_oauth_client_t *c);
void auth_oauth_client_list_dispose(auth_oauth_client_list_t *l);
/*
 * Registers a client. Redirect URIs must be absolute http(s) URIs without a fragment (http
 * only for loopback hosts, or any host for a native app's custom scheme "x.y:/..."). OUT:
 * *out (dispose it) and secret (NUL-terminated; "" for a public client): shown once, only
 * its hash is stored. Returns 0, ERR_INVALID (*why says which value), ERR_UNAVAILABLE.
 */
int auth_oauth_client_create(auth_t *a, const auth_oauth_client_new_t *n, int64_t now,
                             auth_oauth_client_t *out, char secret[AUTH_OAUTH_SECRET_LEN + 1],
                             const char **why);
/* A change to a registered client (borrowed strings): only what is set changes. A list that
   is set replaces the registered one. */
typedef struct {
    const char *name; /* NULL = unchanged */
    const char *const *redirect_uris;
    size_t n_redirect_uris;
    bool set_redirect_uris;
    const char *const *post_logout_redirect_uris;
    size_t n_post_logout;
    bool set_post_logout;
    const char *scopes;      /* NULL = unchanged */
    const char *grant_types; /* NULL = unchanged */
    int first_party;         /* -1 = unchanged, else 0 or 1 */
} auth_oauth_client_change_t;

/*
 * Changes a client: the result is checked as auth_oauth_client_create checks a new one (the
 * URIs, the scopes, the grants for a public or confidential client, a redirect URI for the
 * authorization code grant). The secret, the client type and the sessions issued to the
 * client stay as they are: a session keeps the scopes it was granted. Audited. OUT: *out
 * (the client as changed; dispose it). Returns 0, ERR_NOT_FOUND, ERR_INVALID (*why says
 * which value), ERR_UNAVAILABLE.
 */
int auth_oauth_client_update(auth_t *a, const char *client_id, const auth_oauth_client_change_t *ch,
                             auth_oauth_client_t *out, const char **why);
/*
 * Gives a confidential client a new secret (made as auth_oauth_client_create makes one, only
 * its hash stored): the old one stops working at once, with no overlap; the sessions issued
 * to the client live on. Audited. OUT: secret (NUL-terminated), shown once. Returns 0,
 * ERR_NOT_FOUND, ERR_INVALID (a public client: it has no secret), ERR_UNAVAILABLE,
 * ERR_INTERNAL.
 */
int auth_oauth_client_rotate_secret(auth_t *a, const char *client_id,
                                    char secret[AUTH_OAUTH_SECRET_LEN + 1]);
/* Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. OUT: *out. */
int auth_oauth_client_get(auth_t *a, const char *client_id, auth_oauth_client_t *out);
/* Every client, oldest first. Returns 0 or ERR_UNAVAILABLE. */
int auth_oauth_client_list(auth_t *a, auth_oauth_client_list_t *out);
/* Revokes every session issued to the client, then deletes it with its codes, grants and
   consents. Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int auth_oauth_client_delete(auth_t *a, const char *client_id, int64_t now);
/* Appends the client as JSON (no secret): {"client_id","name","redirect_uris":[...],
   "post_logout_redirect_uris":[...],"public","first_party","scopes":[...],
   "grant_types":[...],"created_at"}. Pure. */
void auth_oauth_client_json(const auth_oauth_client_t *c, buf_t *out);
/*
 * Whether the deployment can serve OpenID Connect: clients registered while the signing key
 * is an HMAC key cannot get ID tokens. Returns 0, ERR_CONFIG (logged, naming the fix) or
 * ERR_UNAVAILABLE. Called by the server at start.
 */
int auth_oauth_check_keys(auth_t *a);
/* How many clients the database db holds (for `jwtd check`, which has no token service).
   Returns 0 (*n set) or ERR_UNAVAILABLE (no client table: an older schema). */
int auth_oauth_client_count(struct db *db, int64_t *n);
/* Whether the active signing key is asymmetric (ID tokens can be signed). Never blocks. */
bool auth_oauth_can_sign_id_tokens(const auth_t *a);

/* ==== the browser session (never blocks but auth_oauth_browser_issue) ======================= */

/* What the OAuth browser session cookie says. */
typedef struct {
    int64_t user_id; /* 0 = no valid session */
    char sid[AUTH_ID_MAX + 1];
    int64_t auth_time;
} auth_oauth_browser_t;

/*
 * For the web UI's signed-in session (its verified access token): the cookie value (a JWS of
 * the active key, valid as long as a refresh token) into out (cap bytes, NUL-terminated).
 * The session must still be active. OUT: *len, *lifetime_s. Returns 0, ERR_NOT_FOUND (the
 * session is gone or revoked), ERR_UNAVAILABLE, ERR_INTERNAL.
 */
int auth_oauth_browser_issue(auth_t *a, const auth_token_ref_t *access, int64_t now, char *out,
                             size_t cap, size_t *len, int64_t *lifetime_s);
/* Whether cookie is a valid browser session at now (signature by jwtd's own key, expiry,
   the session not revoked). OUT: *out (zeroed when not). Never blocks. */
bool auth_oauth_browser_check(auth_t *a, str_t cookie, int64_t now, auth_oauth_browser_t *out);

/* The consent form's CSRF token for a browser session cookie: base64url of SHA-256 over a
   fixed label and the cookie, which only that browser holds (HttpOnly). Pure. */
void auth_oauth_csrf(str_t cookie, char out[AUTH_OAUTH_SECRET_LEN + 1]);

/* ==== the authorization endpoint ============================================================== */

/* An authorization request (borrowed strings; NULL = absent). */
typedef struct {
    const char *client_id, *redirect_uri, *response_type, *scope, *state, *nonce;
    const char *code_challenge, *code_challenge_method, *prompt;
    int64_t max_age;                /* -1 = absent */
    const auth_oauth_browser_t *me; /* the browser session (user_id 0 = none) */
    int consent;                    /* the consent form's answer: 1 allow, -1 deny, 0 none */
} auth_oauth_authz_t;

enum auth_oauth_next {
    AUTH_OAUTH_ERROR_PAGE = 0, /* unknown client or redirect URI: show error, never redirect */
    AUTH_OAUTH_REDIRECT,       /* redirect to redirect_uri with code, or with error */
    AUTH_OAUTH_LOGIN,          /* sign in first (again when force_login) */
    AUTH_OAUTH_CONSENT,        /* ask the user: client_name wants scope */
};

typedef struct {
    enum auth_oauth_next next;
    const char *error;       /* static: OAuth error code (ERROR_PAGE, REDIRECT with error) */
    const char *description; /* static, human text for error */
    char *redirect_uri;      /* REDIRECT: the registered URI to send the browser to */
    char *code;              /* REDIRECT on success */
    char *client_name;       /* CONSENT */
    char *scope;             /* CONSENT: the scopes asked, normalised */
    bool force_login;        /* LOGIN: prompt=login or max_age passed */
} auth_oauth_authz_result_t;

void auth_oauth_authz_result_dispose(auth_oauth_authz_result_t *r);
/*
 * Decides an authorization request (RFC 6749 §4.1, OpenID Connect Core §3.1.2, PKCE):
 * client and redirect URI first (error page), then the request's parameters (redirect with
 * invalid_request, unsupported_response_type, invalid_scope), then the session
 * (prompt=none: login_required), then consent (first-party clients skip it; a consent is
 * remembered per user, client and scopes; prompt=none: consent_required), then a code.
 * Returns 0 (see *r, dispose it) or ERR_UNAVAILABLE.
 */
int auth_oauth_authorize(auth_t *a, const auth_oauth_authz_t *q, int64_t now,
                         auth_oauth_authz_result_t *r);

/* ==== the token endpoint and the client-authenticated endpoints ============================== */

/* Client authentication of a request (borrowed; NULL = absent). */
typedef struct {
    const char *client_id;
    const char *client_secret;
    bool basic; /* they came in an Authorization: Basic header */
} auth_oauth_client_auth_t;

/* A token request (borrowed; NULL = absent). */
typedef struct {
    const char *grant_type, *code, *redirect_uri, *code_verifier, *refresh_token, *scope;
    const char *issuer; /* the provider's issuer, for ID tokens */
} auth_oauth_token_req_t;

/* An OAuth answer: error NULL = success with body; else the RFC 6749 §5.2 error. */
typedef struct {
    const char *error;       /* static: "invalid_client", "invalid_grant", ... */
    const char *description; /* static */
    buf_t body;              /* success: the JSON answer */
} auth_oauth_answer_t;

void auth_oauth_answer_init(auth_oauth_answer_t *r);
void auth_oauth_answer_dispose(auth_oauth_answer_t *r);

/*
 * POST /oauth/token: client authentication (client_secret_basic, client_secret_post, none
 * for public clients), then the grant: authorization_code (single-use, 60 s, redirect URI
 * and PKCE verifier checked; a replay revokes the session it issued), refresh_token (jwtd's
 * rotation; the token must belong to the client; with openid, a new ID token for the same
 * authentication, without nonce: OpenID Connect Core §12.2), client_credentials
 * (confidential clients). Success: {"access_token","token_type":"Bearer","expires_in",
 * "scope","refresh_token"? (offline_access), "id_token"? (openid)}; the ID token carries
 * "role" and "roles" (the user's jwtd role, and it as a one-item array) with scope roles.
 * Returns 0 (see *r) or ERR_UNAVAILABLE.
 */
int auth_oauth_token(auth_t *a, const auth_oauth_client_auth_t *ca, const auth_oauth_token_req_t *q,
                     int64_t now, auth_oauth_answer_t *r);
/* POST /oauth/revoke (RFC 7009): an access or refresh token of the authenticated client is
   revoked (a refresh token: its whole session); anything else is ignored. Success has an
   empty body. Returns 0 (see *r) or ERR_UNAVAILABLE. */
int auth_oauth_revoke(auth_t *a, const auth_oauth_client_auth_t *ca, str_t token, int64_t now,
                      auth_oauth_answer_t *r);
/* POST /oauth/introspect (RFC 7662) for an authenticated confidential client:
   {"active":false} or {"active":true,"scope","client_id","username","token_type","exp",
   "iat","sub","iss"?,"aud"?,"jti","sid"?}. Returns 0 (see *r) or ERR_UNAVAILABLE. */
int auth_oauth_introspect(auth_t *a, const auth_oauth_client_auth_t *ca, str_t token, int64_t now,
                          auth_oauth_answer_t *r);
/*
 * GET|POST /oauth/userinfo for a verified access token of an OAuth grant: the claims its
 * scopes allow (sub; profile: preferred_username, name; email: email, email_verified;
 * roles: role, roles).
 * r->error "invalid_token" (not an OAuth token, grant gone) or "insufficient_scope" (no
 * openid). Returns 0 (see *r) or ERR_UNAVAILABLE.
 */
int auth_oauth_userinfo(auth_t *a, const auth_token_ref_t *access, int64_t now,
                        auth_oauth_answer_t *r);

/* ==== logout and connected apps ================================================================
 */

/*
 * RP-initiated logout: id_token_hint (may be empty: jwtd's own signature required, expiry
 * ignored) names the client (else client_id); post_logout_redirect_uri (may be NULL) must
 * be one of its registered ones. Ends the browser session me (may be NULL); without a
 * hint, only once the user confirmed (confirmed: the confirmation form's answer). OUT:
 * *redirect (heap; NULL = show the signed-out page). Returns 0, ERR_DECLINED (ask the user
 * first; nothing done), ERR_INVALID (*why: a bad hint, an unregistered URI),
 * ERR_UNAVAILABLE.
 */
int auth_oauth_logout(auth_t *a, str_t id_token_hint, const char *client_id,
                      const char *post_logout_redirect_uri, const auth_oauth_browser_t *me,
                      bool confirmed, int64_t now, char **redirect, const char **why);
/* The user's connected apps: {"apps":[{"client_id","name","scope","granted_at",
   "active_sessions"}]}. Returns 0 or ERR_UNAVAILABLE. */
int auth_oauth_apps_json(auth_t *a, int64_t user_id, int64_t now, buf_t *out);
/* Forgets the user's consent to the client and revokes every session it was issued.
   Returns 0, ERR_NOT_FOUND (nothing to revoke), ERR_UNAVAILABLE. */
int auth_oauth_app_revoke(auth_t *a, int64_t user_id, const char *client_id, int64_t now);

#endif

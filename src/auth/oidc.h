/*
 * oidc.h - social sign-in: jwtd as an OpenID Connect relying party. A user signs in at an
 * external provider (Google, Keycloak, ...) with the authorization code flow (state, nonce,
 * PKCE S256), jwtd verifies the ID token against the provider's JWKS and signs the user in
 * with an ordinary session of the token service (auth.h): the account found by the
 * provider's iss + sub (table user_identities), else the local account with the same
 * e-mail when the provider says it is verified (and linking by e-mail is on), else a new
 * account when sign-up is open.
 *
 * Like auth.h, it knows nothing of HTTP: the request layer (api/routes/oidc.c) reads the
 * request and writes the redirects; this module does the protocol. Every function that
 * talks to a provider or the database BLOCKS (the blocking pool, never an event loop). The
 * provider's documents are fetched with libcurl: TLS verified, no redirects, connect and
 * total timeouts, a size limit; http:// only where the configuration allowed it (a loopback
 * issuer, or development).
 *
 * DESIGN: a sign-in in progress is kept server-side, in the database (oidc_states): the
 * state's SHA-256 as key, single-use (deleted as it is read), ten minutes at most, with
 * the nonce, the PKCE verifier, the redirect_uri and where to go next. It is also bound to
 * the browser that started it: start returns a random binding value that the route sets
 * as an HttpOnly, SameSite=Lax cookie, and the callback must present it (its hash is in
 * the row). So a forged, replayed or transplanted callback fails, on any instance sharing
 * the database.
 *
 * The discovery document is cached for an hour (refetched sooner when a fetch failed); the
 * JWKS is cached and refetched when an ID token names an unknown kid, at most once a
 * minute per provider. Thread-safe.
 */
#ifndef JWTD_AUTH_OIDC_H
#define JWTD_AUTH_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "common/buf.h"
#include "common/str.h"

typedef struct auth_oidc auth_oidc_t;

/* One configured provider: borrowed strings, copied by auth_oidc_new. */
typedef struct {
    const char *name;          /* as in the routes: /auth/oidc/<name>/start */
    const char *issuer;        /* exact; discovery is <issuer>/.well-known/openid-configuration */
    const char *client_id;     /* jwtd's client at the provider */
    const char *client_secret; /* NULL = public client (PKCE only) */
    const char *scopes;        /* space-separated, with openid */
    bool trust_mfa;            /* an ID token whose amr says multi-factor ("mfa", "otp", "hwk", ...)
                                  stands for jwtd's own second step; false = the user's factor is asked */
} auth_oidc_provider_t;

typedef struct {
    const auth_oidc_provider_t *providers;
    size_t count;
    bool link_by_email;         /* JWTD_OIDC_LINK_BY_EMAIL */
    bool allow_http;            /* http:// provider URLs beyond loopback (development) */
    int64_t connect_timeout_ms; /* 0 = 5 s */
    int64_t timeout_ms;         /* whole request; 0 = 10 s */
    size_t max_response_bytes;  /* 0 = 256 KiB */
} auth_oidc_options_t;

/*
 * Builds the relying party over the token service a (borrowed, must outlive it). Fetches
 * nothing yet. With no providers it still lists and unlinks identities linked earlier.
 * OUT: *out. Returns 0 or ERR_INVALID.
 */
int auth_oidc_new(auth_t *a, const auth_oidc_options_t *o, auth_oidc_t **out);
/* Frees it (secrets wiped). NULL is a no-op. */
void auth_oidc_free(auth_oidc_t *o);
/* How many providers, and the name of the i-th (configuration order). NULL-safe. */
size_t auth_oidc_count(const auth_oidc_t *o);
const char *auth_oidc_name(const auth_oidc_t *o, size_t i);
/* Whether name is a configured provider. */
bool auth_oidc_has(const auth_oidc_t *o, str_t name);

/*
 * Whether next is a path of this site to return to after sign-in: starts with one '/',
 * is not "//..." or "/\...", holds no backslash, blank, control byte or scheme, at most
 * 512 bytes. Pure.
 */
bool auth_oidc_next_ok(str_t next);

/* Random values of a sign-in: base64url of 32 bytes. */
#define AUTH_OIDC_RANDOM_LEN 43

/* What auth_oidc_start gives the route. */
typedef struct {
    char *location;                      /* heap: the provider's authorization URL */
    char bind[AUTH_OIDC_RANDOM_LEN + 1]; /* the browser binding (cookie value) */
} auth_oidc_start_t;
void auth_oidc_start_dispose(auth_oidc_start_t *s);

/*
 * Starts a sign-in with provider name (BLOCKS: discovery when not cached, one insert):
 * fresh state, nonce, PKCE verifier and binding; the row stored; the authorization URL
 * built with redirect_uri (the callback's absolute URL) and next (checked by the route).
 * Returns 0, ERR_NOT_FOUND (no such provider), ERR_UNAVAILABLE (provider or database down),
 * ERR_INTERNAL.
 */
int auth_oidc_start(auth_oidc_t *o, str_t name, const char *redirect_uri, const char *next,
                    int64_t now, auth_oidc_start_t *out);

/* Why a callback did not sign anyone in: stable codes (the redirect's oidc_error). */
enum auth_oidc_error {
    AUTH_OIDC_OK = 0,
    AUTH_OIDC_INVALID_STATE,    /* unknown, used, expired, foreign or unbound state */
    AUTH_OIDC_PROVIDER_ERROR,   /* the provider answered error= (e.g. access_denied) */
    AUTH_OIDC_EXCHANGE_FAILED,  /* the token endpoint refused the code */
    AUTH_OIDC_INVALID_ID_TOKEN, /* signature, key, alg, iss, aud, azp, exp, iat, nonce */
    AUTH_OIDC_UNAVAILABLE,      /* the provider or the database cannot be reached */
    AUTH_OIDC_SIGNUP_CLOSED,    /* no account and sign-up is closed */
    AUTH_OIDC_ACCOUNT_EXISTS,   /* the e-mail has an account but cannot be linked */
    AUTH_OIDC_ACCOUNT_INACTIVE, /* the account is disabled */
};
/* The stable code of an error ("invalid_state"). */
const char *auth_oidc_error_code(enum auth_oidc_error e);

/* A callback's parameters: slices into the request (decoded), STR_NULL when absent. */
typedef struct {
    str_t state, code, error, bind;
} auth_oidc_callback_t;

/*
 * A signed-in callback: the session's tokens and where to go. Or, when step is not 0, the
 * sign-in needs jwtd's second step (the user has a factor, auth/mfa.h): step is
 * ERR_MFA_REQUIRED with pair.mfa_token and pair.mfa_factors (a challenge of the "cookie"
 * family), or ERR_MFA_ENROLL_REQUIRED with an enrolment token in pair.access; no session.
 */
typedef struct {
    auth_pair_t pair;
    int step;     /* 0, ERR_MFA_REQUIRED or ERR_MFA_ENROLL_REQUIRED */
    char *next;   /* heap: the path stored at start */
    bool created; /* a new account */
    bool linked;  /* an existing account linked by e-mail */
} auth_oidc_result_t;
void auth_oidc_result_dispose(auth_oidc_result_t *r);

/*
 * Finishes a sign-in (BLOCKS: the state consumed, the code exchanged, the ID token
 * verified, the account found, linked or created, a session issued with amr ["ext"], or
 * ["ext","mfa"] when the provider is trusted for MFA and its ID token's amr proves it; a
 * user with a factor of jwtd's otherwise gets the second step, see out->step). client is
 * recorded on the session (its family and bind on the second step's challenge). Returns an
 * auth_oidc_error; on AUTH_OIDC_OK *out holds the session (dispose it). Each failure is logged and
 * audited with its reason; nothing of it reaches the browser but the code.
 */
enum auth_oidc_error auth_oidc_finish(auth_oidc_t *o, str_t name, const auth_oidc_callback_t *cb,
                                      const auth_client_t *client, int64_t now,
                                      auth_oidc_result_t *out);

/*
 * The identities linked to user_id as a JSON array
 * [{"id","provider","email","created_at","last_login"}] appended to out (BLOCKS). Returns 0
 * or ERR_UNAVAILABLE.
 */
int auth_oidc_identities_json(auth_oidc_t *o, int64_t user_id, buf_t *out);
/*
 * Unlinks identity id of user_id (BLOCKS). Refused with ERR_CONFLICT when it is the only
 * way left to sign in (no other identity and no usable password). Returns 0, ERR_NOT_FOUND
 * (no such identity of this user), ERR_CONFLICT, ERR_UNAVAILABLE.
 */
int auth_oidc_unlink(auth_oidc_t *o, int64_t user_id, int64_t id, int64_t now);

#endif

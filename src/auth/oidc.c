/*
 * oidc.c - social sign-in (oidc.h): the providers' discovery documents and keys, the
 * authorization request, and the callback: state, code exchange, ID token, account, session.
 *
 * ID token rules (OpenID Connect Core §3.1.3.7): the signature by a key of the provider's
 * JWKS (jose: kid picks the key, whose algorithm must be the token's), the algorithm among
 * the discovery document's id_token_signing_alg_values_supported and asymmetric (never
 * `none`, never HS*: a provider's JWKS is public, and a client secret is no key of ours),
 * iss equal to the configured issuer, aud holding client_id (with azp equal to it when aud
 * has several values or azp is present), exp in the future and iat not in the future
 * (60 s of clock skew each way), nonce equal to the one stored at start, sub a non-empty
 * string. An unknown kid refetches the JWKS once, at most once a minute per provider.
 */
#define LOG_MODULE "oidc"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/mfa.h"
#include "auth/oidc_internal.h"
#include "common/b64url.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"

#define DISCOVERY_TTL_S   3600
#define DISCOVERY_RETRY_S 10
#define JWKS_REFETCH_S    60
#define STATE_TTL_S       600
#define CLOCK_SKEW_S      60
#define NEXT_MAX          512
#define SUB_MAX           255

struct provider {
    char *name, *issuer, *client_id, *client_secret, *scopes;
    bool trust_mfa;     /* the ID token's amr may stand for jwtd's second step */
    pthread_mutex_t mu; /* the cached documents below */
    int64_t disc_at;    /* 0 = no discovery document */
    int64_t disc_failed_at;
    char *authorization_endpoint, *token_endpoint, *jwks_uri;
    char *userinfo_endpoint; /* NULL = none */
    unsigned algs;           /* JWTV_ALG_* bits allowed for ID tokens */
    bool auth_basic;         /* token_endpoint_auth_methods_supported */
    bool auth_post;
    jose_keyring_t *ring; /* the JWKS, NULL until fetched */
    int64_t jwks_at;
};

struct auth_oidc {
    auth_t *a;
    struct provider *p;
    size_t n;
    bool link_by_email;
    auth__oidc_http_limits_t lim;
};

/* ==== construction ========================================================================= */

static void provider_clear_discovery(struct provider *p)
{
    free(p->authorization_endpoint);
    free(p->token_endpoint);
    free(p->jwks_uri);
    free(p->userinfo_endpoint);
    p->authorization_endpoint = p->token_endpoint = p->jwks_uri = p->userinfo_endpoint = NULL;
    p->disc_at = 0;
}

/* See oidc.h. */
int auth_oidc_new(auth_t *a, const auth_oidc_options_t *o, auth_oidc_t **out)
{
    auth_oidc_t *r = xcalloc(1, sizeof *r);
    r->a = a;
    r->link_by_email = o->link_by_email;
    r->lim.allow_http = o->allow_http;
    r->lim.connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    r->lim.timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
    r->lim.max_bytes = o->max_response_bytes ? o->max_response_bytes : 256 * 1024;
    r->p = o->count ? xcalloc(o->count, sizeof *r->p) : NULL;
    for (size_t i = 0; i < o->count; i++) {
        const auth_oidc_provider_t *c = &o->providers[i];
        struct provider *p = &r->p[r->n++];
        p->name = xstrdup(c->name);
        p->issuer = xstrdup(c->issuer);
        p->client_id = xstrdup(c->client_id);
        p->client_secret = c->client_secret ? xstrdup(c->client_secret) : NULL;
        p->scopes = xstrdup(c->scopes ? c->scopes : "openid email profile");
        p->trust_mfa = c->trust_mfa;
        pthread_mutex_init(&p->mu, NULL);
    }
    auth__oidc_http_init();
    *out = r;
    return 0;
}

/* See oidc.h. */
void auth_oidc_free(auth_oidc_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        struct provider *p = &o->p[i];
        free(p->name);
        free(p->issuer);
        free(p->client_id);
        if (p->client_secret)
            free_secret(p->client_secret, strlen(p->client_secret) + 1);
        free(p->scopes);
        provider_clear_discovery(p);
        jose_keyring_release(p->ring);
        pthread_mutex_destroy(&p->mu);
    }
    free(o->p);
    free(o);
}

/* See oidc.h. */
size_t auth_oidc_count(const auth_oidc_t *o)
{
    return o ? o->n : 0;
}

/* See oidc.h. */
const char *auth_oidc_name(const auth_oidc_t *o, size_t i)
{
    return o && i < o->n ? o->p[i].name : NULL;
}

static struct provider *find(const auth_oidc_t *o, str_t name)
{
    for (size_t i = 0; o && i < o->n; i++)
        if (str_eq_cstr(name, o->p[i].name))
            return &o->p[i];
    return NULL;
}

/* See oidc.h. */
bool auth_oidc_has(const auth_oidc_t *o, str_t name)
{
    return find(o, name) != NULL;
}

/* See oidc.h. */
bool auth_oidc_next_ok(str_t next)
{
    if (next.len == 0 || next.len > NEXT_MAX || next.ptr[0] != '/')
        return false;
    if (next.len > 1 && (next.ptr[1] == '/' || next.ptr[1] == '\\'))
        return false; /* //host and /\host are other sites to a browser */
    for (size_t k = 0; k < next.len; k++) {
        unsigned char c = (unsigned char)next.ptr[k];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '"' || c == '<' || c == '>')
            return false;
    }
    return true;
}

/* ==== helpers ============================================================================== */

/* base64url of 32 random bytes into out (AUTH_OIDC_RANDOM_LEN + 1). */
static int random_b64(char out[AUTH_OIDC_RANDOM_LEN + 1])
{
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1)
        return ERR_INTERNAL;
    b64url_encode(b, sizeof b, out, AUTH_OIDC_RANDOM_LEN + 1);
    OPENSSL_cleanse(b, sizeof b);
    return 0;
}

/* SHA-256 of s as 64 lowercase hex characters. */
static void sha256_hex(str_t s, char out[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(s.ptr, s.len, d, &dl, EVP_sha256(), NULL) != 1)
        memset(d, 0, sizeof d);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

/* The PKCE S256 challenge of verifier: base64url(SHA-256(verifier)). */
static void pkce_challenge(const char *verifier, char out[AUTH_OIDC_RANDOM_LEN + 1])
{
    unsigned char d[32];
    unsigned int dl = 0;
    if (EVP_Digest(verifier, strlen(verifier), d, &dl, EVP_sha256(), NULL) != 1)
        memset(d, 0, sizeof d);
    b64url_encode(d, sizeof d, out, AUTH_OIDC_RANDOM_LEN + 1);
}

/* Appends s percent-encoded for a query or form (RFC 3986 unreserved kept). */
static void append_enc(buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            buf_append_char(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(b, e, 3);
        }
    }
}

static void append_param(buf_t *b, const char *name, const char *value)
{
    if (b->len && b->data[b->len - 1] != '?')
        buf_append_char(b, '&');
    buf_append_cstr(b, name);
    buf_append_char(b, '=');
    append_enc(b, value);
}

static const char *json_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An endpoint of the discovery document: a URL the client may fetch, copied. */
static char *endpoint(const auth_oidc_t *o, const json_t *doc, const char *key)
{
    const char *v = json_str(doc, key);
    if (!v || !auth__oidc_url_ok(&o->lim, v))
        return NULL;
    return xstrdup(v);
}

/* ==== discovery and keys (p->mu held) ====================================================== */

/* Reads the discovery document of p. 0, ERR_UNAVAILABLE (fetch or document refused). */
static int discover_locked(const auth_oidc_t *o, struct provider *p, int64_t now)
{
    if (p->disc_at && now - p->disc_at < DISCOVERY_TTL_S)
        return 0;
    if (!p->disc_at && p->disc_failed_at && now - p->disc_failed_at < DISCOVERY_RETRY_S)
        return ERR_UNAVAILABLE;
    buf_t url, body;
    buf_init(&url, 4096);
    buf_init(&body, o->lim.max_bytes);
    str_t iss = str_cstr(p->issuer);
    while (iss.len && iss.ptr[iss.len - 1] == '/')
        iss.len--;
    buf_append_str(&url, iss);
    buf_append_cstr(&url, "/.well-known/openid-configuration");
    long status = 0;
    int rc = auth__oidc_http(&o->lim, url.data, NULL, NULL, NULL, NULL, &status, &body);
    json_t *doc = NULL;
    const char *why = NULL;
    if (rc != 0 || status != 200)
        why = rc == ERR_TOO_LARGE ? "too_large" : "fetch_failed";
    else if (!(doc = json_loadb(body.data, body.len, JSON_REJECT_DUPLICATES, NULL)) ||
             !json_is_object(doc))
        why = "not_json";
    else if (!json_str(doc, "issuer") || strcmp(json_str(doc, "issuer"), p->issuer) != 0)
        why = "issuer_mismatch";
    char *authz = NULL, *token = NULL, *jwks = NULL, *userinfo = NULL;
    unsigned algs = 0;
    bool basic = false, post = false;
    if (!why) {
        authz = endpoint(o, doc, "authorization_endpoint");
        token = endpoint(o, doc, "token_endpoint");
        jwks = endpoint(o, doc, "jwks_uri");
        userinfo = endpoint(o, doc, "userinfo_endpoint");
        if (!authz || !token || !jwks)
            why = "bad_endpoint";
    }
    if (!why) {
        const json_t *a = json_object_get(doc, "id_token_signing_alg_values_supported");
        size_t i;
        const json_t *v;
        if (!json_is_array(a))
            algs = JWTV_ALG_RS256; /* the specification's default */
        json_array_foreach(a, i, v)
        {
            if (json_is_string(v))
                algs |= jwtv_alg_from_name(json_string_value(v));
        }
        algs &= JWTV_ALG_ASYMMETRIC;
        if (!algs)
            why = "no_usable_alg";
        const json_t *m = json_object_get(doc, "token_endpoint_auth_methods_supported");
        if (!json_is_array(m))
            basic = true;
        json_array_foreach(m, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), "client_secret_basic") == 0)
                basic = true;
            if (json_is_string(v) && strcmp(json_string_value(v), "client_secret_post") == 0)
                post = true;
        }
    }
    json_decref(doc);
    buf_dispose(&url);
    buf_dispose(&body);
    if (why) {
        free(authz);
        free(token);
        free(jwks);
        free(userinfo);
        p->disc_failed_at = now;
        log_warn("msg=\"provider discovery failed\" provider=%s reason=%s status=%ld", p->name, why,
                 status);
        return ERR_UNAVAILABLE;
    }
    provider_clear_discovery(p);
    p->authorization_endpoint = authz;
    p->token_endpoint = token;
    p->jwks_uri = jwks;
    p->userinfo_endpoint = userinfo;
    p->algs = algs;
    p->auth_basic = basic;
    p->auth_post = post;
    p->disc_at = now;
    return 0;
}

/* Fetches p's JWKS into a new ring. 0 or ERR_UNAVAILABLE. */
static int jwks_fetch_locked(const auth_oidc_t *o, struct provider *p, int64_t now)
{
    buf_t body;
    buf_init(&body, o->lim.max_bytes);
    long status = 0;
    int rc = auth__oidc_http(&o->lim, p->jwks_uri, NULL, NULL, NULL, NULL, &status, &body);
    p->jwks_at = now;
    if (rc != 0 || status != 200) {
        buf_dispose(&body);
        log_warn("msg=\"provider JWKS fetch failed\" provider=%s status=%ld", p->name, status);
        return ERR_UNAVAILABLE;
    }
    jose_keyring_t *ring = jose_keyring_new();
    char err[256] = "";
    size_t added = 0;
    rc = ring ? jose_keyring_add_jwks(ring, buf_str(&body), JOSE_ROLE_TRUSTED, &added, err,
                                      sizeof err)
              : JWTV_ENOMEM;
    buf_dispose(&body);
    if (rc != 0) {
        jose_keyring_release(ring);
        log_warn("msg=\"provider JWKS refused\" provider=%s reason=%s", p->name, jwtv_errname(rc));
        return ERR_UNAVAILABLE;
    }
    jose_keyring_release(p->ring);
    p->ring = ring;
    return 0;
}

/* ==== start ================================================================================ */

/* See oidc.h. */
void auth_oidc_start_dispose(auth_oidc_start_t *s)
{
    free(s->location);
    OPENSSL_cleanse(s, sizeof *s);
}

/* See oidc.h. */
int auth_oidc_start(auth_oidc_t *o, str_t name, const char *redirect_uri, const char *next,
                    int64_t now, auth_oidc_start_t *out)
{
    memset(out, 0, sizeof *out);
    struct provider *p = find(o, name);
    if (!p)
        return ERR_NOT_FOUND;
    pthread_mutex_lock(&p->mu);
    int rc = discover_locked(o, p, now);
    char *authz = rc == 0 ? xstrdup(p->authorization_endpoint) : NULL;
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        return rc;
    char state[AUTH_OIDC_RANDOM_LEN + 1], nonce[AUTH_OIDC_RANDOM_LEN + 1],
        verifier[AUTH_OIDC_RANDOM_LEN + 1], challenge[AUTH_OIDC_RANDOM_LEN + 1];
    char state_hash[65], bind_hash[65];
    if (random_b64(state) != 0 || random_b64(nonce) != 0 || random_b64(verifier) != 0 ||
        random_b64(out->bind) != 0) {
        free(authz);
        return ERR_INTERNAL;
    }
    pkce_challenge(verifier, challenge);
    sha256_hex(str_cstr(state), state_hash);
    sha256_hex(str_cstr(out->bind), bind_hash);
    auth__oidc_state_t s = {p->name,      bind_hash,        nonce, verifier, (char *)redirect_uri,
                            (char *)next, now + STATE_TTL_S};
    rc = auth__oidc_state_put(o->a->db, state_hash, &s, now);
    if (rc == 0) {
        buf_t b;
        buf_init(&b, 16 * 1024);
        buf_append_cstr(&b, authz);
        buf_append_char(&b, strchr(authz, '?') ? '&' : '?');
        append_param(&b, "response_type", "code");
        append_param(&b, "client_id", p->client_id);
        append_param(&b, "redirect_uri", redirect_uri);
        append_param(&b, "scope", p->scopes);
        append_param(&b, "state", state);
        append_param(&b, "nonce", nonce);
        append_param(&b, "code_challenge", challenge);
        append_param(&b, "code_challenge_method", "S256");
        out->location = xstrndup(b.data, b.len);
        buf_dispose(&b);
    }
    OPENSSL_cleanse(verifier, sizeof verifier);
    OPENSSL_cleanse(nonce, sizeof nonce);
    OPENSSL_cleanse(state, sizeof state);
    free(authz);
    return rc;
}

/* ==== callback ============================================================================= */

/* See oidc.h. */
const char *auth_oidc_error_code(enum auth_oidc_error e)
{
    switch (e) {
    case AUTH_OIDC_OK:
        return "ok";
    case AUTH_OIDC_INVALID_STATE:
        return "invalid_state";
    case AUTH_OIDC_PROVIDER_ERROR:
        return "provider_error";
    case AUTH_OIDC_EXCHANGE_FAILED:
        return "exchange_failed";
    case AUTH_OIDC_INVALID_ID_TOKEN:
        return "invalid_id_token";
    case AUTH_OIDC_UNAVAILABLE:
        return "provider_unavailable";
    case AUTH_OIDC_SIGNUP_CLOSED:
        return "signup_closed";
    case AUTH_OIDC_ACCOUNT_EXISTS:
        return "account_exists";
    case AUTH_OIDC_ACCOUNT_INACTIVE:
        return "account_inactive";
    }
    return "error";
}

/* See oidc.h. */
void auth_oidc_result_dispose(auth_oidc_result_t *r)
{
    auth_pair_dispose(&r->pair);
    free(r->next);
    r->next = NULL;
}

/* What the callback learnt from a verified ID token. */
struct identity {
    char *sub, *email, *preferred_username, *given_name, *family_name;
    bool email_verified;
    bool mfa; /* the ID token's amr says the provider used more than a password */
};

/*
 * Whether an ID token's amr (RFC 8176) proves a multi-factor sign-in at the provider:
 * "mfa", or a possession factor that a provider only asks for beside the password ("otp",
 * "hwk", "swk", "sc", "sms", "tel"). Anything else ("pwd" alone, biometrics alone,
 * unknown values, no amr) does not.
 */
static bool amr_is_mfa(const json_t *amr)
{
    static const char *const strong[] = {"mfa", "otp", "hwk", "swk", "sc", "sms", "tel"};
    size_t i;
    const json_t *v;
    if (!json_is_array(amr))
        return false;
    json_array_foreach(amr, i, v)
    {
        for (size_t k = 0; json_is_string(v) && k < sizeof strong / sizeof strong[0]; k++)
            if (strcmp(json_string_value(v), strong[k]) == 0)
                return true;
    }
    return false;
}

static void identity_dispose(struct identity *id)
{
    free(id->sub);
    free(id->email);
    free(id->preferred_username);
    free(id->given_name);
    free(id->family_name);
    memset(id, 0, sizeof *id);
}

/* A NumericDate member: an integer (or a number, truncated). */
static bool json_date(const json_t *o, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 253402300799.0) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

static char *dup_or_null(const char *s, size_t max)
{
    return s && *s && strlen(s) <= max ? xstrdup(s) : NULL;
}

/*
 * The claims of a verified payload (see the rules at the top). OUT: *id. Returns NULL or
 * the broken rule (a word for logs).
 */
static const char *check_claims(const struct provider *p, str_t payload, const char *nonce,
                                int64_t now, struct identity *id)
{
    json_t *c = json_loadb(payload.ptr, payload.len, JSON_REJECT_DUPLICATES, NULL);
    const char *why = NULL;
    int64_t exp = 0, iat = 0;
    if (!json_is_object(c)) {
        why = "payload";
        goto out;
    }
    const char *iss = json_str(c, "iss");
    if (!iss || strcmp(iss, p->issuer) != 0) {
        why = "iss";
        goto out;
    }
    const json_t *aud = json_object_get(c, "aud");
    bool aud_ok = false;
    size_t naud = 0;
    if (json_is_string(aud)) {
        naud = 1;
        aud_ok = strcmp(json_string_value(aud), p->client_id) == 0;
    } else if (json_is_array(aud)) {
        size_t i;
        const json_t *v;
        naud = json_array_size(aud);
        json_array_foreach(aud, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), p->client_id) == 0)
                aud_ok = true;
        }
    }
    if (!aud_ok) {
        why = "aud";
        goto out;
    }
    const json_t *azp = json_object_get(c, "azp");
    if ((naud > 1 || azp) &&
        (!json_is_string(azp) || strcmp(json_string_value(azp), p->client_id) != 0)) {
        why = "azp";
        goto out;
    }
    if (!json_date(c, "exp", &exp) || exp + CLOCK_SKEW_S <= now) {
        why = "exp";
        goto out;
    }
    if (!json_date(c, "iat", &iat) || iat > now + CLOCK_SKEW_S) {
        why = "iat";
        goto out;
    }
    const char *n = json_str(c, "nonce");
    if (!n || strlen(n) != strlen(nonce) || CRYPTO_memcmp(n, nonce, strlen(nonce)) != 0) {
        why = "nonce";
        goto out;
    }
    const char *sub = json_str(c, "sub");
    if (!sub || !*sub || strlen(sub) > SUB_MAX) {
        why = "sub";
        goto out;
    }
    id->sub = xstrdup(sub);
    id->email = dup_or_null(json_str(c, "email"), 254);
    const json_t *ev = json_object_get(c, "email_verified");
    id->email_verified =
        json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
    id->preferred_username = dup_or_null(json_str(c, "preferred_username"), 150);
    id->given_name = dup_or_null(json_str(c, "given_name"), 150);
    id->family_name = dup_or_null(json_str(c, "family_name"), 150);
    id->mfa = amr_is_mfa(json_object_get(c, "amr"));
out:
    json_decref(c);
    return why;
}

/*
 * Exchanges code at p's token endpoint (p->mu held for the endpoint only; the request runs
 * without it). OUT: id_token, access_token (appended; the latter may stay empty). Returns
 * AUTH_OIDC_OK or the error.
 */
static enum auth_oidc_error exchange(const auth_oidc_t *o, struct provider *p, str_t code,
                                     const auth__oidc_state_t *st, buf_t *id_token,
                                     buf_t *access_token)
{
    pthread_mutex_lock(&p->mu);
    char *token_endpoint = xstrdup(p->token_endpoint);
    bool basic = p->auth_basic, post = p->auth_post;
    pthread_mutex_unlock(&p->mu);
    buf_t form, body, user, pass;
    buf_init(&form, 16 * 1024);
    buf_init(&body, o->lim.max_bytes);
    buf_init(&user, 4096);
    buf_init(&pass, 4096);
    char *c = xstrndup(code.ptr, code.len);
    append_param(&form, "grant_type", "authorization_code");
    append_param(&form, "code", c);
    append_param(&form, "redirect_uri", st->redirect_uri);
    append_param(&form, "code_verifier", st->verifier);
    bool use_basic = p->client_secret && (basic || !post);
    if (!use_basic)
        append_param(&form, "client_id", p->client_id);
    if (p->client_secret && !use_basic)
        append_param(&form, "client_secret", p->client_secret);
    if (use_basic) { /* RFC 6749 §2.3.1: both form-encoded first */
        append_enc(&user, p->client_id);
        append_enc(&pass, p->client_secret);
    }
    long status = 0;
    int rc = auth__oidc_http(&o->lim, token_endpoint, form.data, use_basic ? user.data : NULL,
                             use_basic ? pass.data : NULL, NULL, &status, &body);
    enum auth_oidc_error e = AUTH_OIDC_OK;
    json_t *doc = NULL;
    if (rc != 0) {
        e = AUTH_OIDC_UNAVAILABLE;
    } else if (status != 200 ||
               !(doc = json_loadb(body.data, body.len, JSON_REJECT_DUPLICATES, NULL)) ||
               !json_str(doc, "id_token")) {
        char what[64] = "";
        const char *err = doc ? json_str(doc, "error") : NULL;
        log_value_escape(what, sizeof what, err ? err : "", err ? strlen(err) : 0);
        log_warn("msg=\"code exchange refused\" provider=%s status=%ld error=\"%s\"", p->name,
                 status, what);
        e = AUTH_OIDC_EXCHANGE_FAILED;
    } else {
        buf_append_cstr(id_token, json_str(doc, "id_token"));
        const char *at = json_str(doc, "access_token");
        if (at && strlen(at) < access_token->max_len)
            buf_append_cstr(access_token, at);
    }
    json_decref(doc);
    free_secret(c, code.len + 1);
    free(token_endpoint);
    buf_dispose_secret(&form);
    buf_dispose_secret(&body);
    buf_dispose(&user);
    buf_dispose_secret(&pass);
    return e;
}

/* Verifies id_token with p's keys (refetched once on an unknown kid). OUT: payload. */
static enum auth_oidc_error verify_signature(const auth_oidc_t *o, struct provider *p,
                                             str_t id_token, int64_t now, buf_t *payload,
                                             const char **why)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (!p->ring)
        rc = jwks_fetch_locked(o, p, now);
    jose_keyring_t *ring = rc == 0 ? jose_keyring_retain(p->ring) : NULL;
    unsigned algs = p->algs;
    pthread_mutex_unlock(&p->mu);
    if (!ring)
        return AUTH_OIDC_UNAVAILABLE;
    rc = jose_jws_verify(ring, algs, id_token, payload);
    jose_keyring_release(ring);
    if (rc == JWTV_ENOKEY) {
        pthread_mutex_lock(&p->mu);
        bool may = now - p->jwks_at >= JWKS_REFETCH_S;
        int frc = may ? jwks_fetch_locked(o, p, now) : ERR_UNAVAILABLE;
        ring = frc == 0 ? jose_keyring_retain(p->ring) : NULL;
        pthread_mutex_unlock(&p->mu);
        if (ring) {
            buf_reset(payload);
            rc = jose_jws_verify(ring, algs, id_token, payload);
            jose_keyring_release(ring);
        }
    }
    if (rc != 0) {
        *why = jwtv_errname(rc);
        return AUTH_OIDC_INVALID_ID_TOKEN;
    }
    return AUTH_OIDC_OK;
}

/*
 * Fills what the ID token did not carry (e-mail, name) from the userinfo endpoint, as a
 * provider that keeps the ID token small (OpenID Connect Core §5.4: scope claims go to
 * userinfo when an access token is issued) expects. The answer must be a JSON object for the
 * same sub; anything else is ignored (logged): the sign-in goes on with what the ID token had.
 */
static void userinfo_fill(const auth_oidc_t *o, struct provider *p, str_t access_token,
                          struct identity *id)
{
    if (id->email && id->preferred_username)
        return;
    pthread_mutex_lock(&p->mu);
    char *url = p->userinfo_endpoint ? xstrdup(p->userinfo_endpoint) : NULL;
    pthread_mutex_unlock(&p->mu);
    if (!url || !access_token.len) {
        free(url);
        return;
    }
    buf_t body;
    buf_init(&body, o->lim.max_bytes);
    char *at = xstrndup(access_token.ptr, access_token.len);
    long status = 0;
    int rc = auth__oidc_http(&o->lim, url, NULL, NULL, NULL, at, &status, &body);
    json_t *doc = rc == 0 && status == 200
                      ? json_loadb(body.data, body.len, JSON_REJECT_DUPLICATES, NULL)
                      : NULL;
    const char *sub = doc ? json_str(doc, "sub") : NULL;
    if (!sub || strcmp(sub, id->sub) != 0) {
        log_warn("msg=\"userinfo ignored\" provider=%s status=%ld reason=%s", p->name, status,
                 !doc ? "not_json" : "sub");
    } else {
        if (!id->email) {
            id->email = dup_or_null(json_str(doc, "email"), 254);
            const json_t *ev = json_object_get(doc, "email_verified");
            id->email_verified =
                id->email && (json_is_true(ev) ||
                              (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0));
        }
        if (!id->preferred_username)
            id->preferred_username = dup_or_null(json_str(doc, "preferred_username"), 150);
        if (!id->given_name)
            id->given_name = dup_or_null(json_str(doc, "given_name"), 150);
        if (!id->family_name)
            id->family_name = dup_or_null(json_str(doc, "family_name"), 150);
    }
    json_decref(doc);
    free_secret(at, access_token.len + 1);
    buf_dispose_secret(&body);
    free(url);
}

/* A username for a new account: from the provider's preferred_username, else the e-mail's
   local part, else "user"; only Django's characters, at most 100 of them. */
static void base_username(const struct identity *id, char out[101])
{
    const char *src = id->preferred_username;
    size_t n = src ? strlen(src) : 0;
    if (!n && id->email) {
        src = id->email;
        const char *at = strchr(src, '@');
        n = at ? (size_t)(at - src) : strlen(src);
    }
    size_t k = 0;
    for (size_t i = 0; i < n && k < 100; i++) {
        char c = src[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '@' || c == '.' || c == '+' || c == '-' || c == '_')
            out[k++] = c;
    }
    if (k == 0) {
        memcpy(out, "user", 4);
        k = 4;
    }
    out[k] = '\0';
}

/* Creates an account for id (unusable password, e-mail only when verified). OUT: *uid. */
static int create_account(auth_oidc_t *o, const struct identity *id, int64_t now, int64_t *uid,
                          char **username)
{
    char base[101], name[160];
    base_username(id, base);
    db_user_t u;
    memset(&u, 0, sizeof u);
    u.email = (char *)(id->email && id->email_verified ? id->email : "");
    u.first_name = (char *)(id->given_name ? id->given_name : "");
    u.last_name = (char *)(id->family_name ? id->family_name : "");
    u.role = DB_ROLE_USER;
    u.is_active = true;
    u.password_hash = (char *)"";
    for (int attempt = 0; attempt < 20; attempt++) {
        if (attempt == 0) {
            snprintf(name, sizeof name, "%s", base);
        } else if (attempt < 10) {
            snprintf(name, sizeof name, "%s%d", base, attempt + 1);
        } else {
            char r[33];
            if (auth__random_id(r) != 0)
                return ERR_INTERNAL;
            snprintf(name, sizeof name, "%s-%.8s", base, r);
        }
        u.username = name;
        int rc = db_user_create(o->a->db, &u, now, uid);
        if (rc == 0) {
            *username = xstrdup(name);
            return 0;
        }
        if (rc != ERR_CONFLICT)
            return ERR_UNAVAILABLE;
        int64_t other;
        if (*u.email && auth__oidc_user_by_email(o->a->db, u.email, &other) == 0)
            return ERR_CONFLICT; /* the e-mail, not the name: taken meanwhile */
    }
    return ERR_CONFLICT;
}

/* See oidc.h. */
enum auth_oidc_error auth_oidc_finish(auth_oidc_t *o, str_t name, const auth_oidc_callback_t *cb,
                                      const auth_client_t *client, int64_t now,
                                      auth_oidc_result_t *out)
{
    memset(out, 0, sizeof *out);
    struct provider *p = find(o, name);
    auth__oidc_state_t st;
    memset(&st, 0, sizeof st);
    struct identity id;
    memset(&id, 0, sizeof id);
    buf_t token, payload, access;
    buf_init(&token, JWTV_MAX_TOKEN_BYTES);
    buf_init(&access, 8192);
    buf_init(&payload, JWTV_MAX_PAYLOAD_BYTES);
    enum auth_oidc_error e = AUTH_OIDC_OK;
    const char *why = NULL;
    db_user_t user;
    memset(&user, 0, sizeof user);
    int64_t uid = 0;
    char *created_name = NULL;

    /* the state: known, unused, unexpired, this provider's, this browser's */
    if (!p || !cb->state.ptr || cb->state.len == 0 || cb->state.len > 128) {
        e = AUTH_OIDC_INVALID_STATE, why = "missing";
        goto out;
    }
    char state_hash[65], bind_hash[65];
    sha256_hex(cb->state, state_hash);
    int rc = auth__oidc_state_take(o->a->db, state_hash, &st);
    if (rc == ERR_NOT_FOUND) {
        e = AUTH_OIDC_INVALID_STATE, why = "unknown";
        goto out;
    }
    if (rc != 0) {
        e = AUTH_OIDC_UNAVAILABLE, why = "database";
        goto out;
    }
    sha256_hex(cb->bind.ptr ? cb->bind : STR_LIT(""), bind_hash);
    if (st.expires_at < now || strcmp(st.provider, p->name) != 0 || !cb->bind.len ||
        CRYPTO_memcmp(bind_hash, st.bind_hash, 64) != 0) {
        e = AUTH_OIDC_INVALID_STATE;
        why = st.expires_at < now ? "expired" : cb->bind.len ? "other_browser" : "no_cookie";
        goto out;
    }
    if (cb->error.ptr) {
        e = AUTH_OIDC_PROVIDER_ERROR, why = "provider";
        goto out;
    }
    if (!cb->code.ptr || cb->code.len == 0 || cb->code.len > 2048) {
        e = AUTH_OIDC_EXCHANGE_FAILED, why = "no_code";
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    rc = discover_locked(o, p, now);
    pthread_mutex_unlock(&p->mu);
    if (rc != 0) {
        e = AUTH_OIDC_UNAVAILABLE, why = "discovery";
        goto out;
    }
    if ((e = exchange(o, p, cb->code, &st, &token, &access)) != AUTH_OIDC_OK) {
        why = "exchange";
        goto out;
    }
    if ((e = verify_signature(o, p, buf_str(&token), now, &payload, &why)) != AUTH_OIDC_OK)
        goto out;
    if ((why = check_claims(p, buf_str(&payload), st.nonce, now, &id)) != NULL) {
        e = AUTH_OIDC_INVALID_ID_TOKEN;
        goto out;
    }
    userinfo_fill(o, p, buf_str(&access), &id);

    /* the account: by iss + sub, else by verified e-mail, else a new one */
    rc = auth__oidc_identity_find(o->a->db, p->issuer, id.sub, &uid);
    if (rc == 0) {
        (void)auth__oidc_identity_touch(o->a->db, p->issuer, id.sub, now);
    } else if (rc == ERR_NOT_FOUND) {
        int64_t by_email = 0;
        int erc = id.email && id.email_verified
                      ? auth__oidc_user_by_email(o->a->db, id.email, &by_email)
                      : ERR_NOT_FOUND;
        if (erc != 0 && erc != ERR_NOT_FOUND) {
            e = AUTH_OIDC_UNAVAILABLE, why = "database";
            goto out;
        }
        if (erc == 0 && !o->link_by_email) {
            e = AUTH_OIDC_ACCOUNT_EXISTS, why = "email_taken";
            goto out;
        }
        if (erc == 0) {
            uid = by_email;
            out->linked = true;
        } else if (!auth_signup_open(o->a)) {
            e = AUTH_OIDC_SIGNUP_CLOSED, why = "signup_closed";
            goto out;
        } else {
            rc = create_account(o, &id, now, &uid, &created_name);
            if (rc != 0) {
                e = rc == ERR_CONFLICT ? AUTH_OIDC_ACCOUNT_EXISTS : AUTH_OIDC_UNAVAILABLE;
                why = "create";
                goto out;
            }
            out->created = true;
        }
        rc = auth__oidc_identity_add(o->a->db, uid, p->name, p->issuer, id.sub,
                                     id.email && id.email_verified ? id.email : "", now);
        if (rc != 0 && rc != ERR_CONFLICT) {
            e = AUTH_OIDC_UNAVAILABLE, why = "database";
            goto out;
        }
    } else {
        e = AUTH_OIDC_UNAVAILABLE, why = "database";
        goto out;
    }
    rc = db_user_find_by_id(o->a->db, uid, &user);
    if (rc != 0) {
        e = AUTH_OIDC_UNAVAILABLE, why = "database";
        goto out;
    }
    if (!user.is_active) {
        e = AUTH_OIDC_ACCOUNT_INACTIVE, why = "inactive";
        goto out;
    }
    /* the provider's sign-in is one factor (amr ext): a user with a factor of jwtd's takes
       the second step, as after a password, unless the provider is trusted to have asked
       for more than one and its ID token says so */
    bool trusted_mfa = p->trust_mfa && id.mfa;
    rc = trusted_mfa ? 1 : auth__second_step(o->a, &user, client, now, AUTH_AMR_EXT, &out->pair);
    if (rc == 1)
        rc = auth__issue_session(o->a, &user, client, now,
                                 AUTH_AMR_EXT | (trusted_mfa ? AUTH_AMR_MFA : 0), now, &out->pair);
    if (rc == ERR_MFA_REQUIRED || rc == ERR_MFA_ENROLL_REQUIRED) {
        out->step = rc;
    } else if (rc != 0) {
        e = rc == ERR_NO_ACTIVE_ACCOUNT ? AUTH_OIDC_ACCOUNT_INACTIVE : AUTH_OIDC_UNAVAILABLE;
        why = "session";
        goto out;
    }
    out->next = xstrdup(st.next);
out:
    if (e == AUTH_OIDC_OK) {
        char detail[96];
        snprintf(detail, sizeof detail, "provider=%s%s", p->name,
                 out->created  ? " account=created"
                 : out->linked ? " account=linked"
                               : "");
        if (out->created)
            audit_info(NULL, .event = "signup", .outcome = "success", .user_id = uid,
                       .username = created_name, .reason = "oidc", .detail = detail);
        if (out->step == 0) /* (a second step was audited as mfa_challenge) */
            audit_info(NULL, .event = "login", .outcome = "success", .user_id = uid,
                       .username = user.username, .sid = out->pair.sid, .reason = "oidc",
                       .detail = detail);
    } else {
        char detail[96];
        snprintf(detail, sizeof detail, "provider=%s error=%s", p ? p->name : "unknown",
                 auth_oidc_error_code(e));
        audit_info(NULL, .event = "login_failed", .outcome = "failure", .user_id = uid,
                   .reason = why ? why : "oidc", .detail = detail);
        auth_oidc_result_dispose(out);
    }
    free(created_name);
    db_user_dispose(&user);
    identity_dispose(&id);
    auth__oidc_state_dispose(&st);
    buf_dispose_secret(&token);
    buf_dispose_secret(&payload);
    buf_dispose_secret(&access);
    return e;
}

/* ==== identities =========================================================================== */

/* See oidc.h. */
int auth_oidc_identities_json(auth_oidc_t *o, int64_t user_id, buf_t *out)
{
    return auth__oidc_identities_json(o->a->db, user_id, out);
}

/* See oidc.h. */
int auth_oidc_unlink(auth_oidc_t *o, int64_t user_id, int64_t id, int64_t now)
{
    int rc = auth__oidc_identity_remove(o->a->db, user_id, id);
    audit_info(NULL, .event = "identity_unlink", .outcome = rc == 0 ? "success" : "failure",
               .user_id = user_id,
               .reason = rc == 0              ? NULL
                         : rc == ERR_CONFLICT ? "last_sign_in_method"
                                              : "not_found");
    (void)now;
    return rc;
}

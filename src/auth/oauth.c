/*
 * oauth.c - the provider's flows (oauth.h): the browser session, the authorization
 * decision, the token endpoint's grants, ID tokens, userinfo, revocation, introspection,
 * RP-initiated logout and connected apps. Tables and clients are oauth_store.c's.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/mfa.h"
#include "auth/oauth_internal.h"
#include "common/b64url.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"

/* ==== values other features own (wired here, one function each) ============================ */

/* How session sid was authenticated (its AUTH_AMR_* bits and auth_time, from the session
   row; a session recorded before multi-factor sign-in: a password at its creation). */
static unsigned session_amr(auth_t *a, const char *sid, int64_t *auth_time)
{
    db_session_t s;
    memset(&s, 0, sizeof s);
    *auth_time = 0;
    if (!sid || !*sid || db_session_get(a->db, sid, &s) != 0)
        return AUTH_AMR_PWD;
    unsigned amr = 0;
    for (const char *p = s.amr ? s.amr : ""; *p;) {
        size_t n = strcspn(p, " ");
        amr |= auth_amr_bit(p, n);
        p += n + (p[n] == ' ');
    }
    *auth_time = s.auth_time ? s.auth_time : s.created_at;
    db_session_dispose(&s);
    return amr ? amr : AUTH_AMR_PWD;
}

/* The "amr" claim (RFC 8176) of an ID token for session sid, as a JSON array into out. */
static const char *session_amr_json(auth_t *a, const char *sid, char *out, size_t cap)
{
    int64_t t;
    char text[AUTH_AMR_TEXT_MAX];
    auth_amr_text(session_amr(a, sid, &t), text);
    size_t n = 0;
    out[n++] = '[';
    for (const char *p = text; *p && n + 12 < cap;) {
        size_t k = strcspn(p, " ");
        n += (size_t)snprintf(out + n, cap - n, "%s\"%.*s\"", n > 1 ? "," : "", (int)k, p);
        p += k + (p[k] == ' ');
    }
    out[n++] = ']';
    out[n] = '\0';
    return out;
}

/* When the user of session s authenticated: its recorded auth_time, else its creation. */
static int64_t session_auth_time(const db_session_t *s)
{
    return s->auth_time ? s->auth_time : s->created_at;
}

/* Whether the user's e-mail address is verified: not known until e-mail verification
   exists. */
static bool user_email_verified(const db_user_t *u)
{
    (void)u;
    return false;
}

/* The user's jwtd role into role ("" when scope has no "roles": no role claims). Returns 0,
   or ERR_UNAVAILABLE (a user that is gone has no role claims: the grant fails elsewhere). */
static int grant_role(auth_t *a, int64_t user_id, const char *scope, char role[32])
{
    role[0] = '\0';
    if (!oauth__list_has_cstr(scope, "roles"))
        return 0;
    db_user_t u;
    memset(&u, 0, sizeof u);
    int rc = auth__map_db(db_user_find_by_id(a->db, user_id, &u));
    if (rc == 0)
        snprintf(role, 32, "%s", db_role_name(u.role));
    db_user_dispose(&u);
    return rc == 0 || rc == ERR_NOT_FOUND ? 0 : ERR_UNAVAILABLE;
}

/* ==== answers ================================================================================ */

/* See oauth.h. */
void auth_oauth_answer_init(auth_oauth_answer_t *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, 64 * 1024);
}

/* See oauth.h. */
void auth_oauth_answer_dispose(auth_oauth_answer_t *r)
{
    buf_dispose_secret(&r->body);
}

static int fail(auth_oauth_answer_t *r, const char *error, const char *description)
{
    r->error = error;
    r->description = description;
    return 0;
}

/* ==== signing ================================================================================ */

/* Signs the JSON payload w with the ring's active key into out (AUTH_TOKEN_MAX + 1). */
static int sign_json(const auth_t *a, jsonw_t *w, char *out, size_t *out_len)
{
    if (jsonw_failed(w))
        return ERR_TOO_LARGE;
    int rc = jose_jws_sign(auth__live(a)->sign_key, STR_NULL, str_make(w->buf, jsonw_len(w)), out,
                           AUTH_TOKEN_MAX + 1, out_len);
    if (rc != 0) {
        log_error("msg=\"OAuth signing failed\" err=%s", jwtv_errname(rc));
        return ERR_INTERNAL;
    }
    return 0;
}

/* Verifies a JWS of jwtd's own keys and parses its payload; NULL when it is not one. */
static json_t *own_payload(auth_t *a, str_t token)
{
    if (!token.len || token.len > AUTH_TOKEN_MAX || !auth__own_key(a, token))
        return NULL;
    buf_t p;
    buf_init(&p, AUTH_TOKEN_MAX);
    const auth_live_t *l = auth__live(a);
    json_t *j = jose_jws_verify(l->ring, l->v_any.algorithms, token, &p) == 0
                    ? json_loadb((const char *)p.data, p.len, JSON_REJECT_DUPLICATES, NULL)
                    : NULL;
    buf_dispose(&p);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static const char *jstr(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t jint(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* ==== the browser session ==================================================================== */

/* See oauth.h. */
int auth_oauth_browser_issue(auth_t *a, const auth_token_ref_t *access, int64_t now, char *out,
                             size_t cap, size_t *len, int64_t *lifetime_s)
{
    if (!access->sid[0] || access->user_id <= 0 || cap < AUTH_TOKEN_MAX + 1)
        return ERR_NOT_FOUND;
    db_session_t s;
    memset(&s, 0, sizeof s);
    int rc = auth__map_db(db_session_get(a->db, access->sid, &s));
    if (rc != 0)
        return rc;
    bool live = s.revoked_at == 0 && s.user_id == access->user_id;
    int64_t auth_time = session_auth_time(&s);
    db_session_dispose(&s);
    if (!live)
        return ERR_NOT_FOUND;
    *lifetime_s = auth__live(a)->refresh_lifetime_s;
    char buf[1024];
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    jsonw_raw(&w, "{\"oauth_browser\":");
    jsonw_str(&w, access->sid);
    jsonw_raw(&w, ",\"uid\":");
    jsonw_int(&w, access->user_id);
    jsonw_raw(&w, ",\"auth_time\":");
    jsonw_int(&w, auth_time);
    jsonw_raw(&w, ",\"iat\":");
    jsonw_int(&w, now);
    jsonw_raw(&w, ",\"exp\":");
    jsonw_int(&w, now + *lifetime_s);
    jsonw_raw(&w, "}");
    return sign_json(a, &w, out, len);
}

/* See oauth.h. */
bool auth_oauth_browser_check(auth_t *a, str_t cookie, int64_t now, auth_oauth_browser_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = own_payload(a, cookie);
    if (!j)
        return false;
    const char *sid = jstr(j, "oauth_browser");
    int64_t uid = jint(j, "uid"), iat = jint(j, "iat");
    bool ok = sid && strlen(sid) <= AUTH_ID_MAX && uid > 0 && jint(j, "exp") > now;
    if (ok) {
        store_id_t sid_id;
        store_token_ref_t ref = {0};
        ref.sid = store_id_parse(str_cstr(sid), &sid_id) == 0 ? &sid_id : NULL;
        ref.user_id = uid;
        ref.iat = iat;
        ok = ref.sid && store_check(a->store, &ref) == STORE_NOT_REVOKED;
    }
    if (ok) {
        out->user_id = uid;
        auth__id_copy(out->sid, sid);
        out->auth_time = jint(j, "auth_time");
    }
    json_decref(j);
    return ok;
}

/* ==== authorization ========================================================================== */

/* See oauth.h. */
void auth_oauth_authz_result_dispose(auth_oauth_authz_result_t *r)
{
    free(r->redirect_uri);
    free(r->code);
    free(r->client_name);
    free(r->scope);
    memset(r, 0, sizeof *r);
}

/* Whether every word of want is in have. */
static bool words_within(const char *want, const char *have)
{
    const char *p = want;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p && !oauth__list_has(have, p, (size_t)(e - p)))
            return false;
        p = e;
    }
    return true;
}

/* The registered URI equal to given, or the only one when given is NULL; NULL otherwise. */
static const char *match_uri(const char *registered, const char *given)
{
    if (given)
        return oauth__list_has_cstr(registered, given) ? given : NULL;
    if (!*registered || strchr(registered, ' '))
        return NULL;
    return registered;
}

/* Whether s is a PKCE code challenge: 43 base64url characters (SHA-256). */
static bool is_challenge(const char *s)
{
    unsigned char d[32];
    size_t n = 0;
    return strlen(s) == 43 && b64url_decode(s, 43, d, sizeof d, &n) && n == 32;
}

/* The scope asked, normalised (known, allowed, each once, in order) into *out (heap). */
static const char *normalise_scope(const char *asked, const char *allowed, char **out)
{
    *out = oauth__words(asked ? asked : "", AUTH_OAUTH_SCOPES, allowed);
    return *out ? NULL : "A requested scope is unknown or not allowed for this client.";
}

static void redirect_error(auth_oauth_authz_result_t *r, const char *uri, const char *error,
                           const char *description)
{
    r->next = AUTH_OAUTH_REDIRECT;
    r->redirect_uri = xstrdup(uri);
    r->error = error;
    r->description = description;
}

static int read_text0(void *arg, const db_row_t *row)
{
    *(char **)arg = db_row_strdup(row, 0);
    return 0;
}

/* Issues a code for the request (stored hashed). */
static int issue_code(auth_t *a, const auth_oauth_authz_t *q, const char *client_id,
                      const char *uri, const char *scope, int64_t now, auth_oauth_authz_result_t *r)
{
    char code[AUTH_OAUTH_SECRET_LEN + 1], hash[65];
    if (oauth__random_token(code) != 0)
        return ERR_INTERNAL;
    oauth__sha256_hex(code, AUTH_OAUTH_SECRET_LEN, hash);
    db_param_t purge[] = {db_int(now - 3600)};
    (void)db_exec(a->db, &oauth__sql[OQ_CODE_PURGE], purge, DB_NPARAMS(purge), NULL);
    db_param_t p[] = {db_text(hash), db_text(client_id), db_int(q->me->user_id),
                      db_text(q->me->sid),
                      /* "" when the request left redirect_uri out (one registered URI):
                         the token request may then leave it out too (RFC 6749 §4.1.3) */
                      db_text(q->redirect_uri ? uri : ""), db_text(scope), db_text(q->nonce),
                      db_text(q->code_challenge), db_int(q->me->auth_time), db_int(now),
                      db_int(now + AUTH_OAUTH_CODE_LIFETIME_S)};
    int rc = auth__map_db(db_exec(a->db, &oauth__sql[OQ_CODE_INSERT], p, DB_NPARAMS(p), NULL));
    if (rc == ERR_NOT_FOUND) /* the user or client went away meanwhile */
        rc = ERR_UNAVAILABLE;
    if (rc != 0)
        return rc;
    r->next = AUTH_OAUTH_REDIRECT;
    r->redirect_uri = xstrdup(uri);
    r->code = xstrdup(code);
    OPENSSL_cleanse(code, sizeof code);
    return 0;
}

/* See oauth.h. */
int auth_oauth_authorize(auth_t *a, const auth_oauth_authz_t *q, int64_t now,
                         auth_oauth_authz_result_t *r)
{
    memset(r, 0, sizeof *r);
    oauth__client_t k;
    int rc = oauth__client_load(a, q->client_id, &k);
    if (rc == ERR_NOT_FOUND) {
        r->error = "invalid_request";
        r->description = q->client_id ? "Unknown client_id." : "client_id is required.";
        return 0;
    }
    if (rc != 0)
        return rc;
    const auth_oauth_client_t *c = &k.c;
    const char *uri = match_uri(c->redirect_uris, q->redirect_uri);
    if (!uri) {
        r->error = "invalid_request";
        r->description = q->redirect_uri ? "redirect_uri is not registered for this client."
                                         : "redirect_uri is required.";
        goto out;
    }
    char *scope = NULL;
    const char *bad = NULL, *err = "invalid_request";
    bool prompt_none = false, prompt_login = false, prompt_consent = false;
    for (const char *p = q->prompt ? q->prompt : ""; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 4 && memcmp(p, "none", 4) == 0)
            prompt_none = true;
        else if (n == 5 && memcmp(p, "login", 5) == 0)
            prompt_login = true;
        else if (n == 7 && memcmp(p, "consent", 7) == 0)
            prompt_consent = true;
        else if (n && !(n == 14 && memcmp(p, "select_account", 14) == 0))
            bad = "prompt: none, login, consent or select_account.";
        p = e;
    }
    if (!bad && prompt_none && (prompt_login || prompt_consent))
        bad = "prompt=none cannot be combined with another value.";
    if (bad) {
    } else if (!oauth__list_has_cstr(c->grant_types, "authorization_code")) {
        err = "unauthorized_client";
        bad = "This client may not use the authorization code grant.";
    } else if (!q->response_type) {
        bad = "response_type is required.";
    } else if (strcmp(q->response_type, "code") != 0) {
        err = "unsupported_response_type";
        bad = "Only response_type=code is supported.";
    } else if ((bad = normalise_scope(q->scope, c->scopes, &scope)) != NULL) {
        err = "invalid_scope";
    } else if (q->code_challenge &&
               (!q->code_challenge_method || strcmp(q->code_challenge_method, "S256") != 0)) {
        bad = "code_challenge_method must be S256.";
    } else if (q->code_challenge && !is_challenge(q->code_challenge)) {
        bad = "code_challenge must be the base64url SHA-256 of the code verifier.";
    } else if (!q->code_challenge && q->code_challenge_method) {
        bad = "code_challenge is required with code_challenge_method.";
    } else if (!q->code_challenge && c->is_public) {
        bad = "PKCE is required for public clients: send code_challenge with "
              "code_challenge_method=S256.";
    }
    if (bad) {
        redirect_error(r, uri, err, bad);
        goto out_scope;
    }
    /* the user: signed in, recently enough */
    bool stale = q->me->user_id > 0 && q->max_age >= 0 && now - q->me->auth_time > q->max_age;
    if (q->me->user_id <= 0 || ((prompt_login || stale) && q->consent == 0)) {
        if (prompt_none)
            redirect_error(r, uri, "login_required", "The user is not signed in.");
        else {
            r->next = AUTH_OAUTH_LOGIN;
            r->force_login = q->me->user_id > 0;
        }
        goto out_scope;
    }
    /* consent */
    if (!c->first_party) {
        if (q->consent < 0) {
            audit_info(NULL, .event = "oauth_consent", .outcome = "failure",
                       .user_id = q->me->user_id, .reason = "denied");
            redirect_error(r, uri, "access_denied", "The user denied the request.");
            goto out_scope;
        }
        if (q->consent > 0) {
            db_param_t p[] = {db_int(q->me->user_id), db_text(c->client_id), db_text(scope),
                              db_int(now)};
            rc = auth__map_db(db_exec(a->db, &oauth__sql[OQ_CONSENT_PUT], p, DB_NPARAMS(p), NULL));
            if (rc != 0) {
                rc = ERR_UNAVAILABLE;
                goto out_scope;
            }
            char detail[160];
            snprintf(detail, sizeof detail, "client_id=%s", c->client_id);
            audit_info(NULL, .event = "oauth_consent", .outcome = "success",
                       .user_id = q->me->user_id, .detail = detail);
        } else {
            char *have = NULL;
            db_param_t p[] = {db_int(q->me->user_id), db_text(c->client_id)};
            rc = db_query_one(a->db, &oauth__sql[OQ_CONSENT_GET], p, DB_NPARAMS(p), read_text0,
                              &have);
            if (rc != 0 && rc != ERR_NOT_FOUND) {
                rc = ERR_UNAVAILABLE;
                goto out_scope;
            }
            rc = 0;
            bool covered = have && words_within(scope, have);
            free(have);
            if (!covered || prompt_consent) {
                if (prompt_none) {
                    redirect_error(r, uri, "consent_required", "The user has not consented.");
                } else {
                    r->next = AUTH_OAUTH_CONSENT;
                    r->client_name = xstrdup(c->name);
                    r->scope = scope;
                    scope = NULL;
                }
                goto out_scope;
            }
        }
    }
    rc = issue_code(a, q, c->client_id, uri, scope, now, r);
out_scope:
    free(scope);
out:
    auth_oauth_client_dispose(&k.c);
    OPENSSL_cleanse(k.secret_hash, sizeof k.secret_hash);
    return rc;
}

/* ==== client authentication ================================================================== */

/* Authenticates the client of a token-endpoint request. Returns 0 with *k loaded, or sets
   r's error (invalid_client) and returns ERR_PERMISSION, or ERR_UNAVAILABLE. */
static int client_authenticate(auth_t *a, const auth_oauth_client_auth_t *ca, bool need_secret,
                               oauth__client_t *k, auth_oauth_answer_t *r)
{
    memset(k, 0, sizeof *k);
    int rc = oauth__client_load(a, ca->client_id, k);
    if (rc == ERR_UNAVAILABLE)
        return rc;
    bool ok = rc == 0;
    if (ok && k->c.is_public)
        ok = !ca->client_secret && !need_secret;
    else if (ok) {
        char h[65];
        ok = ca->client_secret && k->secret_hash[0];
        if (ok) {
            oauth__sha256_hex(ca->client_secret, strlen(ca->client_secret), h);
            ok = CRYPTO_memcmp(h, k->secret_hash, 64) == 0;
        }
    }
    if (ok)
        return 0;
    char detail[120];
    snprintf(detail, sizeof detail, "client_id_known=%s", rc == 0 ? "true" : "false");
    audit_warn(NULL, .event = "oauth_client_auth", .outcome = "failure",
               .reason = rc == 0 ? "bad_secret" : "unknown_client", .detail = detail);
    if (rc == 0)
        auth_oauth_client_dispose(&k->c);
    fail(r, "invalid_client", "Client authentication failed.");
    return ERR_PERMISSION;
}

/* ==== tokens ================================================================================= */

/* at_hash (OpenID Connect Core §3.1.3.6): the left half of the access token's hash with the
   ID token's algorithm's hash, base64url. */
static void at_hash(const auth_t *a, const char *access, size_t len, char out[96])
{
    const jose_alg_t *alg = jose_key_alg(auth__live(a)->sign_key);
    const EVP_MD *md = alg && alg->md_name ? EVP_get_digestbyname(alg->md_name) : EVP_sha512();
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (md && EVP_Digest(access, len, d, &n, md, NULL) == 1)
        b64url_encode(d, n / 2, out, 96);
}

typedef struct {
    const char *issuer, *client_id, *nonce, *sid;
    const char *role; /* "" = no role claims (the grant has no "roles" scope) */
    int64_t user_id, auth_time;
    const char *access;
    size_t access_len;
} id_claims_t;

/* Signs an ID token into out (AUTH_TOKEN_MAX + 1). */
static int sign_id_token(auth_t *a, const id_claims_t *c, int64_t now, char *out, size_t *len)
{
    if (!auth_oauth_can_sign_id_tokens(a)) {
        log_error("msg=\"an ID token needs an asymmetric signing key\"");
        return ERR_CONFIG;
    }
    char buf[4096], ah[96];
    at_hash(a, c->access, c->access_len, ah);
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    jsonw_raw(&w, "{\"iss\":");
    jsonw_str(&w, c->issuer);
    jsonw_raw(&w, ",\"sub\":\"");
    jsonw_int(&w, c->user_id);
    jsonw_raw(&w, "\",\"aud\":");
    jsonw_str(&w, c->client_id);
    jsonw_member(&w, "azp", c->client_id);
    jsonw_raw(&w, ",\"exp\":");
    jsonw_int(&w, now + auth__live(a)->access_lifetime_s);
    jsonw_raw(&w, ",\"iat\":");
    jsonw_int(&w, now);
    jsonw_raw(&w, ",\"auth_time\":");
    jsonw_int(&w, c->auth_time);
    if (c->nonce && *c->nonce)
        jsonw_member(&w, "nonce", c->nonce);
    jsonw_member(&w, "at_hash", ah);
    jsonw_raw(&w, ",\"amr\":");
    char amr[64];
    jsonw_raw(&w, session_amr_json(a, c->sid, amr, sizeof amr));
    jsonw_member(&w, "sid", c->sid);
    if (c->role && *c->role) {
        jsonw_member(&w, "role", c->role);
        jsonw_raw(&w, ",\"roles\":[");
        jsonw_str(&w, c->role);
        jsonw_raw(&w, "]");
    }
    jsonw_raw(&w, "}");
    return sign_json(a, &w, out, len);
}

/* The success answer of the token endpoint. */
static void token_answer(auth_t *a, auth_oauth_answer_t *r, const char *access, const char *refresh,
                         const char *id_token, const char *scope)
{
    buf_t *b = &r->body;
    buf_append_cstr(b, "{\"access_token\":");
    jsonw_buf_cstr(b, access);
    buf_printf(b, ",\"token_type\":\"Bearer\",\"expires_in\":%" PRId64,
               auth__live(a)->access_lifetime_s);
    if (refresh) {
        buf_append_cstr(b, ",\"refresh_token\":");
        jsonw_buf_cstr(b, refresh);
    }
    if (id_token) {
        buf_append_cstr(b, ",\"id_token\":");
        jsonw_buf_cstr(b, id_token);
    }
    buf_append_cstr(b, ",\"scope\":");
    jsonw_buf_cstr(b, scope ? scope : "");
    buf_append_char(b, '}');
}

/* A code row. */
typedef struct {
    char *client_id, *redirect_uri, *scope, *nonce, *challenge, *issued_sid, *browser_sid;
    int64_t user_id, auth_time, expires_at, used_at;
} code_row_t;

static int read_code(void *arg, const db_row_t *row)
{
    code_row_t *c = arg;
    c->client_id = db_row_strdup(row, 0);
    c->user_id = db_row_int(row, 1);
    c->redirect_uri = db_row_strdup(row, 2);
    c->scope = db_row_strdup(row, 3);
    c->nonce = db_row_strdup(row, 4);
    c->challenge = db_row_strdup(row, 5);
    c->auth_time = db_row_int(row, 6);
    c->expires_at = db_row_int(row, 7);
    c->used_at = db_row_int(row, 8);
    c->issued_sid = db_row_strdup(row, 9);
    c->browser_sid = db_row_strdup(row, 10);
    return 0;
}

static void code_row_dispose(code_row_t *c)
{
    free(c->client_id);
    free(c->redirect_uri);
    free(c->scope);
    free(c->nonce);
    free(c->challenge);
    free(c->issued_sid);
    free(c->browser_sid);
    memset(c, 0, sizeof *c);
}

/* Whether verifier is a valid PKCE code verifier whose S256 challenge is challenge. */
static bool pkce_ok(const char *verifier, const char *challenge)
{
    size_t n = verifier ? strlen(verifier) : 0;
    if (n < 43 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = verifier[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_' || ch == '~'))
            return false;
    }
    unsigned char d[32];
    unsigned int dl = 0;
    char enc[48];
    EVP_Digest(verifier, n, d, &dl, EVP_sha256(), NULL);
    b64url_encode(d, sizeof d, enc, sizeof enc);
    return strlen(challenge) == 43 && CRYPTO_memcmp(enc, challenge, 43) == 0;
}

/* The authorization_code grant. */
static int grant_code(auth_t *a, const auth_oauth_client_t *c, const auth_oauth_token_req_t *q,
                      int64_t now, auth_oauth_answer_t *r)
{
    if (!q->code)
        return fail(r, "invalid_request", "code is required.");
    char hash[65];
    oauth__sha256_hex(q->code, strlen(q->code), hash);
    code_row_t row;
    memset(&row, 0, sizeof row);
    db_param_t p[] = {db_text(hash)};
    int rc = db_query_one(a->db, &oauth__sql[OQ_CODE_GET], p, DB_NPARAMS(p), read_code, &row);
    if (rc == ERR_NOT_FOUND)
        return fail(r, "invalid_grant", "The authorization code is invalid or expired.");
    if (rc != 0)
        return ERR_UNAVAILABLE;
    int64_t changes = 0;
    if (strcmp(row.client_id, c->client_id) != 0) {
        fail(r, "invalid_grant", "The authorization code was issued to another client.");
        goto out;
    }
    if (row.used_at == 0) {
        db_param_t u[] = {db_text(hash), db_int(now)};
        if (db_exec(a->db, &oauth__sql[OQ_CODE_USE], u, DB_NPARAMS(u), &changes) != 0) {
            rc = ERR_UNAVAILABLE;
            goto out;
        }
    }
    if (changes == 0) {
        /* a replay: the code was used before, so whoever holds it now may have stolen it;
           what it issued is revoked (RFC 6749 §4.1.2) */
        code_row_t again;
        memset(&again, 0, sizeof again);
        if (db_query_one(a->db, &oauth__sql[OQ_CODE_GET], p, DB_NPARAMS(p), read_code, &again) ==
                0 &&
            again.issued_sid[0]) {
            int r2 = auth_revoke_session(a, again.issued_sid, now);
            if (r2 != 0 && r2 != ERR_NOT_FOUND)
                log_warn("msg=\"cannot revoke the session of a replayed code\"");
        }
        char detail[120];
        snprintf(detail, sizeof detail, "client_id=%s", c->client_id);
        audit_warn(NULL, .event = "oauth_code_replay", .outcome = "detected",
                   .user_id = row.user_id, .sid = again.issued_sid, .detail = detail);
        code_row_dispose(&again);
        fail(r, "invalid_grant", "The authorization code was already used.");
        goto out;
    }
    if (row.expires_at <= now) {
        fail(r, "invalid_grant", "The authorization code is invalid or expired.");
        goto out;
    }
    if (row.redirect_uri[0]
            ? !q->redirect_uri || strcmp(q->redirect_uri, row.redirect_uri) != 0
            : q->redirect_uri && !oauth__list_has_cstr(c->redirect_uris, q->redirect_uri)) {
        fail(r, "invalid_grant", "redirect_uri does not match the authorization request.");
        goto out;
    }
    if (row.challenge[0] ? !pkce_ok(q->code_verifier, row.challenge) : q->code_verifier != NULL) {
        fail(r, "invalid_grant", "The code_verifier does not match the code_challenge.");
        goto out;
    }
    auth_pair_t *pair = xcalloc(1, sizeof *pair);
    auth_client_t client = {.user_agent = c->name};
    /* the app's session is authenticated as the browser session it came from */
    int64_t browser_auth_time;
    unsigned amr = session_amr(a, row.browser_sid, &browser_auth_time);
    rc = auth__issue_for_user_id(a, row.user_id, &client, now, amr,
                                 row.auth_time ? row.auth_time : browser_auth_time, pair);
    if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        rc = 0;
        fail(r, "invalid_grant", "The user is no longer active.");
    } else if (rc == 0) {
        db_param_t g[] = {db_text(pair->sid), db_text(c->client_id), db_int(row.user_id),
                          db_text(row.scope), db_int(row.auth_time), db_int(now)};
        db_param_t s[] = {db_text(hash), db_text(pair->sid)};
        rc = auth__map_db(db_exec(a->db, &oauth__sql[OQ_GRANT_INSERT], g, DB_NPARAMS(g), NULL));
        if (rc == 0)
            rc = auth__map_db(db_exec(a->db, &oauth__sql[OQ_CODE_SET_SID], s, DB_NPARAMS(s), NULL));
        char *id_token = NULL;
        size_t id_len = 0;
        if (rc == 0 && oauth__list_has_cstr(row.scope, "openid")) {
            id_token = xmalloc(AUTH_TOKEN_MAX + 1);
            char role[32];
            id_claims_t ic = {q->issuer,   c->client_id,  row.nonce,    pair->sid,       role,
                              row.user_id, row.auth_time, pair->access, pair->access_len};
            rc = grant_role(a, row.user_id, row.scope, role);
            if (rc == 0)
                rc = sign_id_token(a, &ic, now, id_token, &id_len);
        }
        if (rc == 0) {
            token_answer(a, r, pair->access,
                         oauth__list_has_cstr(row.scope, "offline_access") ? pair->refresh : NULL,
                         id_token, row.scope);
            char detail[120];
            snprintf(detail, sizeof detail, "client_id=%s", c->client_id);
            audit_info(NULL, .event = "oauth_token", .outcome = "success", .user_id = row.user_id,
                       .sid = pair->sid, .reason = "authorization_code", .detail = detail);
        } else {
            (void)auth_revoke_session(a, pair->sid, now);
            rc = rc == ERR_CONFIG ? ERR_INTERNAL : ERR_UNAVAILABLE;
        }
        free_secret(id_token, AUTH_TOKEN_MAX + 1);
    }
    auth_pair_dispose(pair);
    free(pair);
out:
    code_row_dispose(&row);
    return rc;
}

/* A grant row. */
typedef struct {
    char *client_id, *scope;
    int64_t user_id, auth_time;
} grant_row_t;

static int read_grant(void *arg, const db_row_t *row)
{
    grant_row_t *g = arg;
    g->client_id = db_row_strdup(row, 0);
    g->user_id = db_row_int(row, 1);
    g->scope = db_row_strdup(row, 2);
    g->auth_time = db_row_int(row, 3);
    return 0;
}

static void grant_row_dispose(grant_row_t *g)
{
    free(g->client_id);
    free(g->scope);
    memset(g, 0, sizeof *g);
}

/* The grant of session sid. Returns 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
static int grant_get(auth_t *a, const char *sid, grant_row_t *g)
{
    memset(g, 0, sizeof *g);
    if (!sid || !*sid)
        return ERR_NOT_FOUND;
    db_param_t p[] = {db_text(sid)};
    return auth__map_db(
        db_query_one(a->db, &oauth__sql[OQ_GRANT_GET], p, DB_NPARAMS(p), read_grant, g));
}

/* The refresh_token grant. */
static int grant_refresh(auth_t *a, const auth_oauth_client_t *c, const auth_oauth_token_req_t *q,
                         int64_t now, auth_oauth_answer_t *r)
{
    if (!q->refresh_token)
        return fail(r, "invalid_request", "refresh_token is required.");
    auth_token_ref_t ref;
    enum auth_verdict v =
        auth_verify_token(a, str_cstr(q->refresh_token), AUTH_TOKEN_REFRESH, now, &ref);
    if (v != AUTH_OK)
        return fail(r, "invalid_grant", "The refresh token is invalid, expired or revoked.");
    grant_row_t g;
    int rc = grant_get(a, ref.sid, &g);
    if (rc == ERR_UNAVAILABLE)
        return rc;
    if (rc != 0 || strcmp(g.client_id, c->client_id) != 0) {
        grant_row_dispose(&g);
        return fail(r, "invalid_grant", "The refresh token was not issued to this client.");
    }
    if (q->scope && !words_within(q->scope, g.scope)) {
        grant_row_dispose(&g);
        return fail(r, "invalid_scope", "The scope asked exceeds the grant's.");
    }
    if (oauth__list_has_cstr(g.scope, "openid") && !auth_oauth_can_sign_id_tokens(a)) {
        /* checked before the rotation, which would consume the client's refresh token */
        log_error("msg=\"an ID token needs an asymmetric signing key\"");
        grant_row_dispose(&g);
        return ERR_INTERNAL;
    }
    char role[32];
    if ((rc = grant_role(a, g.user_id, g.scope, role)) != 0) {
        grant_row_dispose(&g);
        return rc;
    }
    auth_pair_t *pair = xcalloc(1, sizeof *pair);
    char *id_token = NULL;
    size_t id_len = 0;
    rc = auth_refresh(a, &ref, now, pair, &v);
    if (rc == 0 && v != AUTH_OK) {
        fail(r, "invalid_grant", "The refresh token is invalid, expired or revoked.");
    } else if (rc == 0) {
        /* OpenID Connect Core §12.2: a new ID token for the same authentication (iss, sub,
           aud, auth_time, amr and sid unchanged), new iat and exp, at_hash of the new access
           token, and no nonce (it belonged to the authentication request) */
        if (oauth__list_has_cstr(g.scope, "openid")) {
            id_token = xmalloc(AUTH_TOKEN_MAX + 1);
            id_claims_t ic = {q->issuer, c->client_id, NULL,         ref.sid,         role,
                              g.user_id, g.auth_time,  pair->access, pair->access_len};
            rc = sign_id_token(a, &ic, now, id_token, &id_len);
        }
        if (rc == 0)
            token_answer(a, r, pair->access, pair->refresh_len ? pair->refresh : q->refresh_token,
                         id_token, g.scope);
        else /* the rotation happened: its new refresh token is lost with this error */
            rc = rc == ERR_CONFIG || rc == ERR_TOO_LARGE ? ERR_INTERNAL : ERR_UNAVAILABLE;
    } else {
        rc = ERR_UNAVAILABLE;
    }
    free_secret(id_token, AUTH_TOKEN_MAX + 1);
    auth_pair_dispose(pair);
    free(pair);
    grant_row_dispose(&g);
    return rc;
}

/* The client_credentials grant: a token for the client itself. */
static int grant_client(auth_t *a, const auth_oauth_client_t *c, const auth_oauth_token_req_t *q,
                        int64_t now, auth_oauth_answer_t *r)
{
    if (c->is_public)
        return fail(r, "unauthorized_client", "A public client cannot use client_credentials.");
    char *scope = NULL;
    if (normalise_scope(q->scope, c->scopes, &scope) != NULL)
        return fail(r, "invalid_scope", "A requested scope is unknown or not allowed.");
    char jti[33];
    char *tok = xmalloc(AUTH_TOKEN_MAX + 1);
    size_t len = 0;
    int rc = auth__random_id(jti);
    if (rc == 0) {
        char buf[2048];
        jsonw_t w;
        jsonw_init(&w, buf, sizeof buf);
        jsonw_raw(&w, "{\"token_type\":\"access\",\"exp\":");
        jsonw_int(&w, now + auth__live(a)->access_lifetime_s);
        jsonw_raw(&w, ",\"iat\":");
        jsonw_int(&w, now);
        jsonw_member(&w, "jti", jti);
        jsonw_member(&w, "sub", c->client_id);
        /* jwtd's verifiers require user_id: "client:<id>", never a user's decimal id, so no
           user route takes the token for a user's */
        char uid[AUTH_OAUTH_ID_MAX + 8];
        snprintf(uid, sizeof uid, "client:%s", c->client_id);
        jsonw_member(&w, "user_id", uid);
        jsonw_member(&w, "client_id", c->client_id);
        jsonw_member(&w, "scope", scope);
        if (a->issuer)
            jsonw_member(&w, "iss", a->issuer);
        if (a->audience)
            jsonw_member(&w, "aud", a->audience);
        jsonw_raw(&w, "}");
        rc = sign_json(a, &w, tok, &len);
    }
    if (rc == 0) {
        token_answer(a, r, tok, NULL, NULL, scope);
        char detail[120];
        snprintf(detail, sizeof detail, "client_id=%s", c->client_id);
        audit_info(NULL, .event = "oauth_token", .outcome = "success",
                   .reason = "client_credentials", .detail = detail);
    }
    free_secret(tok, AUTH_TOKEN_MAX + 1);
    free(scope);
    return rc == 0 ? 0 : ERR_INTERNAL;
}

/* See oauth.h. */
int auth_oauth_token(auth_t *a, const auth_oauth_client_auth_t *ca, const auth_oauth_token_req_t *q,
                     int64_t now, auth_oauth_answer_t *r)
{
    if (!q->grant_type)
        return fail(r, "invalid_request", "grant_type is required.");
    if (!oauth__list_has_cstr(OAUTH__GRANTS, q->grant_type))
        return fail(r, "unsupported_grant_type",
                    "grant_type: authorization_code, refresh_token or client_credentials.");
    oauth__client_t k;
    int rc = client_authenticate(a, ca, false, &k, r);
    if (rc != 0)
        return rc == ERR_PERMISSION ? 0 : rc;
    if (!oauth__list_has_cstr(k.c.grant_types, q->grant_type))
        fail(r, "unauthorized_client", "This client may not use this grant type.");
    else if (strcmp(q->grant_type, "authorization_code") == 0)
        rc = grant_code(a, &k.c, q, now, r);
    else if (strcmp(q->grant_type, "refresh_token") == 0)
        rc = grant_refresh(a, &k.c, q, now, r);
    else
        rc = grant_client(a, &k.c, q, now, r);
    auth_oauth_client_dispose(&k.c);
    return rc;
}

/* ==== revocation, introspection, userinfo =================================================== */

/* A verified token of any kind with its payload (NULL when it does not verify). */
static json_t *verified_payload(auth_t *a, str_t token, int64_t now, auth_token_ref_t *ref,
                                enum auth_verdict *v)
{
    *v = auth_verify_token(a, token, AUTH_TOKEN_ANY, now, ref);
    if (*v != AUTH_OK)
        return NULL;
    buf_t h, p;
    buf_init(&h, 4096);
    buf_init(&p, AUTH_TOKEN_MAX);
    json_t *j = jose_jws_decode_unverified(token, &h, &p) == 0
                    ? json_loadb((const char *)p.data, p.len, 0, NULL)
                    : NULL;
    buf_dispose(&h);
    buf_dispose(&p);
    return j;
}

/* See oauth.h. */
int auth_oauth_revoke(auth_t *a, const auth_oauth_client_auth_t *ca, str_t token, int64_t now,
                      auth_oauth_answer_t *r)
{
    oauth__client_t k;
    int rc = client_authenticate(a, ca, false, &k, r);
    if (rc != 0)
        return rc == ERR_PERMISSION ? 0 : rc;
    auth_token_ref_t ref;
    enum auth_verdict v;
    json_t *j = verified_payload(a, token, now, &ref, &v);
    const char *cid = jstr(j, "client_id");
    if (!j) {
        /* unknown, expired or already revoked: nothing to do (RFC 7009 §2.2) */
    } else if (!ref.sid[0] && cid && strcmp(cid, k.c.client_id) == 0 && ref.jti[0]) {
        rc = auth_revoke_jti(a, ref.jti, ref.exp, now); /* a client_credentials token */
    } else if (ref.sid[0]) {
        grant_row_t g;
        rc = grant_get(a, ref.sid, &g);
        if (rc == 0 && strcmp(g.client_id, k.c.client_id) == 0)
            rc = ref.is_refresh ? auth_revoke_session(a, ref.sid, now)
                                : auth_revoke_jti(a, ref.jti, ref.exp, now);
        else if (rc == ERR_NOT_FOUND)
            rc = 0;
        grant_row_dispose(&g);
    }
    json_decref(j);
    auth_oauth_client_dispose(&k.c);
    return rc == 0 || rc == ERR_NOT_FOUND ? 0 : ERR_UNAVAILABLE;
}

/* See oauth.h. */
int auth_oauth_introspect(auth_t *a, const auth_oauth_client_auth_t *ca, str_t token, int64_t now,
                          auth_oauth_answer_t *r)
{
    oauth__client_t k;
    int rc = client_authenticate(a, ca, true, &k, r);
    if (rc != 0)
        return rc == ERR_PERMISSION ? 0 : rc;
    auth_oauth_client_dispose(&k.c);
    auth_token_ref_t ref;
    enum auth_verdict v;
    json_t *j = verified_payload(a, token, now, &ref, &v);
    buf_t *b = &r->body;
    if (j && ref.is_refresh) {
        rc = auth_refresh_check(a, &ref, now, &v);
        if (rc != 0) {
            json_decref(j);
            return ERR_UNAVAILABLE;
        }
    }
    if (!j || v != AUTH_OK) {
        json_decref(j);
        buf_append_cstr(b, "{\"active\":false}");
        return 0;
    }
    grant_row_t g;
    memset(&g, 0, sizeof g);
    if (ref.sid[0] && grant_get(a, ref.sid, &g) == ERR_UNAVAILABLE) {
        json_decref(j);
        return ERR_UNAVAILABLE;
    }
    const char *cid = g.client_id ? g.client_id : jstr(j, "client_id");
    const char *scope = g.scope ? g.scope : jstr(j, "scope");
    buf_append_cstr(b, "{\"active\":true");
    if (scope) {
        buf_append_cstr(b, ",\"scope\":");
        jsonw_buf_cstr(b, scope);
    }
    if (cid) {
        buf_append_cstr(b, ",\"client_id\":");
        jsonw_buf_cstr(b, cid);
    }
    const char *username = jstr(j, "username");
    if (username) {
        buf_append_cstr(b, ",\"username\":");
        jsonw_buf_cstr(b, username);
    }
    buf_append_cstr(b, ref.is_refresh ? ",\"token_type\":\"refresh_token\""
                                      : ",\"token_type\":\"Bearer\"");
    buf_printf(b, ",\"exp\":%" PRId64 ",\"iat\":%" PRId64, ref.exp, ref.iat);
    static const char *const names[] = {"sub", "iss", "aud", "jti", "sid"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *s = jstr(j, names[i]);
        if (s) {
            buf_printf(b, ",\"%s\":", names[i]);
            jsonw_buf_cstr(b, s);
        }
    }
    buf_append_char(b, '}');
    grant_row_dispose(&g);
    json_decref(j);
    return 0;
}

/* See oauth.h. */
int auth_oauth_userinfo(auth_t *a, const auth_token_ref_t *access, int64_t now,
                        auth_oauth_answer_t *r)
{
    grant_row_t g;
    int rc = grant_get(a, access->sid, &g);
    if (rc == ERR_UNAVAILABLE)
        return rc;
    if (rc != 0 || g.user_id != access->user_id) {
        grant_row_dispose(&g);
        return fail(r, "invalid_token", "The access token was not issued to an OAuth client.");
    }
    if (!oauth__list_has_cstr(g.scope, "openid")) {
        grant_row_dispose(&g);
        return fail(r, "insufficient_scope", "The access token lacks the openid scope.");
    }
    db_user_t u;
    memset(&u, 0, sizeof u);
    rc = auth__map_db(db_user_find_by_id(a->db, g.user_id, &u));
    if (rc == ERR_NOT_FOUND || (rc == 0 && !u.is_active)) {
        db_user_dispose(&u);
        grant_row_dispose(&g);
        return fail(r, "invalid_token", "The user is no longer active.");
    }
    if (rc != 0) {
        grant_row_dispose(&g);
        return rc;
    }
    buf_t *b = &r->body;
    buf_printf(b, "{\"sub\":\"%" PRId64 "\"", u.id);
    if (oauth__list_has_cstr(g.scope, "profile")) {
        buf_append_cstr(b, ",\"preferred_username\":");
        jsonw_buf_cstr(b, u.username);
        char name[700];
        snprintf(name, sizeof name, "%s%s%s", u.first_name ? u.first_name : "",
                 u.first_name && *u.first_name && u.last_name && *u.last_name ? " " : "",
                 u.last_name ? u.last_name : "");
        buf_append_cstr(b, ",\"name\":");
        jsonw_buf_cstr(b, *name ? name : u.username);
    }
    if (oauth__list_has_cstr(g.scope, "email") && u.email && *u.email) {
        buf_append_cstr(b, ",\"email\":");
        jsonw_buf_cstr(b, u.email);
        buf_printf(b, ",\"email_verified\":%s", user_email_verified(&u) ? "true" : "false");
    }
    if (oauth__list_has_cstr(g.scope, "roles"))
        buf_printf(b, ",\"role\":\"%s\",\"roles\":[\"%s\"]", db_role_name(u.role),
                   db_role_name(u.role));
    buf_append_char(b, '}');
    db_user_dispose(&u);
    grant_row_dispose(&g);
    return 0;
}

/* ==== logout and connected apps ============================================================== */

/* See oauth.h. */
int auth_oauth_logout(auth_t *a, str_t id_token_hint, const char *client_id,
                      const char *post_logout_redirect_uri, const auth_oauth_browser_t *me,
                      bool confirmed, int64_t now, char **redirect, const char **why)
{
    *redirect = NULL;
    *why = NULL;
    char *hint_client = NULL;
    if (id_token_hint.len) {
        json_t *j = own_payload(a, id_token_hint);
        const char *aud = jstr(j, "aud");
        if (!aud) {
            json_decref(j);
            *why = "id_token_hint is not an ID token of this provider.";
            return ERR_INVALID;
        }
        hint_client = xstrdup(aud);
        json_decref(j);
    }
    if (hint_client && client_id && strcmp(hint_client, client_id) != 0) {
        free(hint_client);
        *why = "client_id does not match the id_token_hint.";
        return ERR_INVALID;
    }
    const char *cid = hint_client ? hint_client : client_id;
    int rc = 0;
    if (post_logout_redirect_uri) {
        oauth__client_t k;
        rc = cid ? oauth__client_load(a, cid, &k) : ERR_NOT_FOUND;
        if (rc == 0) {
            if (oauth__list_has_cstr(k.c.post_logout_redirect_uris, post_logout_redirect_uri))
                *redirect = xstrdup(post_logout_redirect_uri);
            else
                *why = "post_logout_redirect_uri is not registered for this client.";
            auth_oauth_client_dispose(&k.c);
        } else if (rc == ERR_NOT_FOUND) {
            *why = "post_logout_redirect_uri needs id_token_hint or client_id of a registered "
                   "client.";
        }
    }
    free(hint_client);
    if (rc == ERR_UNAVAILABLE)
        return rc;
    if (*why)
        return ERR_INVALID;
    /* without a valid hint, the user confirms first (RP-Initiated Logout 1.0 §2): a page
       elsewhere must not sign a user out by a link */
    if (me && me->user_id > 0 && !id_token_hint.len && !confirmed) {
        free(*redirect);
        *redirect = NULL;
        return ERR_DECLINED;
    }
    if (me && me->user_id > 0) {
        rc = auth_revoke_session(a, me->sid, now);
        if (rc == 0)
            audit_info(NULL, .event = "oauth_logout", .outcome = "success", .user_id = me->user_id,
                       .sid = me->sid);
        if (rc == ERR_NOT_FOUND)
            rc = 0;
    }
    if (rc != 0) {
        free(*redirect);
        *redirect = NULL;
    }
    return rc;
}

typedef struct {
    buf_t *out;
    size_t n;
} apps_acc_t;

static int read_app(void *arg, const db_row_t *row)
{
    apps_acc_t *acc = arg;
    size_t len;
    const char *s;
    if (acc->n++)
        buf_append_char(acc->out, ',');
    buf_append_cstr(acc->out, "{\"client_id\":");
    s = db_row_text(row, 0, &len);
    jsonw_buf_str(acc->out, s ? s : "", s ? len : 0);
    buf_append_cstr(acc->out, ",\"name\":");
    s = db_row_text(row, 1, &len);
    jsonw_buf_str(acc->out, s ? s : "", s ? len : 0);
    buf_append_cstr(acc->out, ",\"scope\":");
    s = db_row_text(row, 2, &len);
    jsonw_buf_str(acc->out, s ? s : "", s ? len : 0);
    buf_printf(acc->out, ",\"granted_at\":%" PRId64 ",\"active_sessions\":%" PRId64 "}",
               db_row_int(row, 3), db_row_int(row, 4));
    return 0;
}

/* See oauth.h. */
int auth_oauth_apps_json(auth_t *a, int64_t user_id, int64_t now, buf_t *out)
{
    (void)now;
    apps_acc_t acc = {out, 0};
    buf_append_cstr(out, "{\"apps\":[");
    db_param_t p[] = {db_int(user_id)};
    int rc = db_query(a->db, &oauth__sql[OQ_APPS], p, DB_NPARAMS(p), read_app, &acc);
    if (rc != 0)
        return ERR_UNAVAILABLE;
    buf_append_cstr(out, "]}");
    return 0;
}

/* See oauth.h. */
int auth_oauth_app_revoke(auth_t *a, int64_t user_id, const char *client_id, int64_t now)
{
    if (!client_id || strlen(client_id) > AUTH_OAUTH_ID_MAX)
        return ERR_NOT_FOUND;
    oauth__sids_t *sids = xcalloc(1, sizeof *sids);
    db_param_t p[] = {db_int(user_id), db_text(client_id)};
    int64_t changes = 0;
    int rc =
        db_query(a->db, &oauth__sql[OQ_GRANT_SIDS_USER], p, DB_NPARAMS(p), oauth__read_sids, sids);
    if (rc == 0)
        rc = db_exec(a->db, &oauth__sql[OQ_CONSENT_DELETE], p, DB_NPARAMS(p), &changes);
    if (rc == 0) {
        oauth__revoke_sids(a, sids, now);
        if (changes == 0 && sids->count == 0)
            rc = ERR_NOT_FOUND;
        else {
            char detail[120];
            snprintf(detail, sizeof detail, "client_id=%s sessions_revoked=%zu", client_id,
                     sids->count);
            audit_info(NULL, .event = "oauth_app_revoked", .outcome = "success", .user_id = user_id,
                       .detail = detail);
        }
    } else {
        rc = ERR_UNAVAILABLE;
    }
    free(sids);
    return rc;
}

/* See oauth.h. */
void auth_oauth_csrf(str_t cookie, char out[AUTH_OAUTH_SECRET_LEN + 1])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int n = 0;
    out[0] = '\0';
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, "jwtd-oauth-consent:", 19) == 1 &&
        EVP_DigestUpdate(ctx, cookie.ptr, cookie.len) == 1 && EVP_DigestFinal_ex(ctx, d, &n) == 1)
        b64url_encode(d, sizeof d, out, AUTH_OAUTH_SECRET_LEN + 1);
    EVP_MD_CTX_free(ctx);
}

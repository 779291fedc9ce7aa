/*
 * auth.c - the token service: verification on the hot path, login, issuing, refresh
 * rotation, revocation, and the feed that keeps the revocation index current.
 *
 * What it is not: HTTP (src/api/), key loading (keys.c), password hashing (password.c), the
 * user cache's data structure (usercache.c) or SQL (src/db/).
 *
 * DESIGN
 * - Verification (any thread): jose_jwt_verify with one of three prebuilt option sets
 *   (access / refresh / any type), then store_check() against the in-memory index. No lock
 *   but the index's read lock, no allocation, no I/O.
 * - Issuing: claims are written by a small fixed-buffer JSON writer (jsonw.c), not jansson,
 *   and signed with the ring's ACTIVE key. jti/sid are 16 bytes of RAND_bytes in hex.
 * - Revocation: every revocation this process makes is written to the database first and
 *   then applied to the index, before the caller answers its client. Revocations by other
 *   processes arrive through pull(), which the store runs every poll_interval_ms: it
 *   re-reads revoked jtis, sessions revoked since the last pull (minus an overlap) and
 *   raised user watermarks. Index entries carry the expiry after which no token they could
 *   match is alive (access lifetime + leeway + reuse grace past the revocation).
 */
#define LOG_MODULE "auth"
#include "auth/auth.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth/auth_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

struct auth {
    auth_options_t opts;
    char *issuer, *audience; /* copies; opts.issuer/audience point here */
    db_t *db;
    jose_keyring_t *ring;
    const jose_key_t *sign_key;
    char *v_issuer, *v_audience; /* copies of the verification options' strings */
    jwtv_options v_access, v_refresh, v_any;
    store_t *store;
    auth_ucache_t *users;
    auth_login_failed_fn login_failed; /* issue 5: the rate limiter's per-username count */
    void *login_failed_arg;
};

/* ==== options and lifecycle ================================================================ */

/* See auth.h. */
void auth_options_defaults(auth_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->access_lifetime_s = 900;
    o->refresh_lifetime_s = 7 * 86400;
    o->rotate_refresh_tokens = true;
    o->reuse_grace_s = 10;
    o->leeway_s = 0;
    auth_argon2_params_t d = AUTH_ARGON2_DEFAULTS;
    o->argon2 = d;
    o->user_cache_ttl_s = 60;
    o->poll_interval_ms = 1000;
    o->hash_dummy = true;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

static int pull(void *arg, store_t *st, int64_t since, int64_t now);

/* store_user_fn: another instance changed user_id (watermark, profile): drop our copy. */
static void on_user_changed(void *arg, int64_t user_id)
{
    auth_t *a = arg;
    auth__ucache_drop(a->users, user_id);
}

/* See auth.h. */
int auth_new(const auth_options_t *opts, db_t *db, jose_keyring_t *ring, const jwtv_options *vopt,
             auth_t **out)
{
    *out = NULL;
    if (!opts || !db || !ring || !vopt || opts->access_lifetime_s <= 0 ||
        opts->refresh_lifetime_s <= 0 || opts->reuse_grace_s < 0 || opts->leeway_s < 0)
        return ERR_INVALID;
    const jose_key_t *k = jose_keyring_active(ring);
    if (!k || !jose_key_can_sign(k)) {
        log_error("msg=\"the key ring has no signing key\"");
        return ERR_INVALID;
    }
    if (opts->hash_dummy) {
        int rc = auth_password_dummy_init(&opts->argon2);
        if (rc != 0)
            return rc;
    }
    auth_t *a = xcalloc(1, sizeof *a);
    a->opts = *opts;
    if (a->opts.user_cache_ttl_s <= 0)
        a->opts.user_cache_ttl_s = 60;
    a->issuer = dup_or_null(opts->issuer);
    a->audience = dup_or_null(opts->audience);
    a->opts.issuer = a->issuer;
    a->opts.audience = a->audience;
    a->db = db;
    a->ring = jose_keyring_retain(ring);
    a->sign_key = k;
    a->v_issuer = dup_or_null(vopt->issuer);
    a->v_audience = dup_or_null(vopt->audience);
    a->v_any = *vopt;
    a->v_any.issuer = a->v_issuer;
    a->v_any.audience = a->v_audience;
    a->v_any.token_type = NULL;
    a->v_any.required |= JWTV_REQUIRE_EXP | JWTV_REQUIRE_JTI | JWTV_REQUIRE_TOKEN_TYPE;
    a->v_access = a->v_any;
    a->v_access.token_type = "access";
    a->v_refresh = a->v_any;
    a->v_refresh.token_type = "refresh";
    a->users = auth__ucache_new(65536);
    store_options_t so = {0};
    so.pull = pull;
    so.pull_arg = a;
    so.poll_interval_ms = opts->poll_interval_ms;
    int rc = store_mem_open(&so, &a->store);
    if (rc != 0) {
        auth_free(a);
        return rc;
    }
    store_set_user_hook(a->store, on_user_changed, a);
    *out = a;
    return 0;
}

/* See auth.h. */
int auth_start(auth_t *a)
{
    /* hashes on SCHED_IDLE threads of their own, one per core (password.h): the event
       loops always win the CPU, and logins still reach cores / hash time */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (auth_password_offload_start(cores > 0 ? (unsigned)cores : 2) != 0)
        log_warn("msg=\"no hashing thread: passwords are hashed on the pool threads\"");
    return store_start(a->store);
}

/* See auth.h. */
void auth_free(auth_t *a)
{
    if (!a)
        return;
    store_close(a->store);
    auth__ucache_free(a->users);
    jose_keyring_release(a->ring);
    free(a->issuer);
    free(a->audience);
    free(a->v_issuer);
    free(a->v_audience);
    free(a);
}

/* See auth.h. */
const jose_keyring_t *auth_keyring(const auth_t *a)
{
    return a->ring;
}

/* See auth.h. */
store_t *auth_store(auth_t *a)
{
    return a->store;
}

/* See auth.h. */
const auth_options_t *auth_options(const auth_t *a)
{
    return &a->opts;
}

/* How long after a revocation at `at` a token it covers may still be alive. */
static int64_t revocation_horizon(const auth_t *a, int64_t at)
{
    return at + a->opts.access_lifetime_s + a->opts.leeway_s + a->opts.reuse_grace_s + 1;
}

/* Database errors other than "no such row" become ERR_UNAVAILABLE: 503, never 401/500. */
static int map_db(int rc)
{
    return rc == 0 || rc == ERR_NOT_FOUND ? rc : ERR_UNAVAILABLE;
}

/* ==== ids ================================================================================= */

/* Copies an id (jti, sid: at most DB_ID_MAX bytes, checked by the callers) with a bound. */
static void id_copy(char dst[DB_ID_MAX + 1], const char *src)
{
    snprintf(dst, DB_ID_MAX + 1, "%s", src);
}

/* Writes 32 random lowercase hex characters and a NUL. Returns 0 or ERR_INTERNAL. */
static int random_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return ERR_INTERNAL;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
    return 0;
}

/* See auth.h. */
int auth_parse_user_id(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 19)
        return ERR_INVALID;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return ERR_INVALID;
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return ERR_INVALID;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

/* See auth.h. */
int auth_token_ref_from_claims(const jwtv_claims *c, auth_token_ref_t *out)
{
    memset(out, 0, sizeof *out);
    if (!c->jti || strlen(c->jti) > DB_ID_MAX || (c->sid && strlen(c->sid) > DB_ID_MAX))
        return ERR_INVALID;
    id_copy(out->jti, c->jti);
    if (c->sid)
        id_copy(out->sid, c->sid);
    if (auth_parse_user_id(c->user_id ? c->user_id : c->sub, &out->user_id) != 0)
        out->user_id = INT64_MIN;
    out->iat = c->has_iat ? c->iat : 0;
    out->exp = c->has_exp ? c->exp : 0;
    out->is_refresh = c->token_type && strcmp(c->token_type, "refresh") == 0;
    if (jwtv_claims_get_string(c, "fph", out->fph, sizeof out->fph) != 0)
        out->fph[0] = '\0';
    return 0;
}

/* ==== verification (hot path) ============================================================== */

/* See auth.h. */
const char *auth_verdict_message(enum auth_verdict v)
{
    switch (v) {
    case AUTH_OK:
        return "";
    case AUTH_WRONG_TYPE:
        return "Token has wrong type";
    case AUTH_REVOKED:
        return "Token is blacklisted";
    case AUTH_INVALID:
    default:
        return "Token is invalid or expired";
    }
}

static enum auth_verdict verify_with(auth_t *a, const jwtv_options *o, str_t token, int64_t now,
                                     jwtv_claims *c)
{
    int rc = jose_jwt_verify(a->ring, o, token, now, c);
    /* jose names the token's algorithm in c->alg, for a rejected token too when its header
     * was readable: every verdict is counted under it */
    enum metrics_alg alg = metrics_alg_of(jose_claims_alg(c));
    if (rc != 0) {
        /* tamper classification: counted by alg and reason */
        metrics_verified(alg, auth_reject_class(rc));
        return rc == JWTV_ETOKEN_TYPE ? AUTH_WRONG_TYPE : AUTH_INVALID;
    }
    store_id_t jti, sid;
    store_token_ref_t ref;
    auth_revocation_ref(c, &jti, &sid, &ref);
    return auth_check_revoked(a, &ref, alg);
}

/* See auth.h. */
void auth_revocation_ref(const jwtv_claims *c, store_id_t *jti, store_id_t *sid,
                         store_token_ref_t *ref)
{
    ref->jti = c->jti && store_id_parse(str_cstr(c->jti), jti) == 0 ? jti : NULL;
    ref->sid = c->sid && store_id_parse(str_cstr(c->sid), sid) == 0 ? sid : NULL;
    if (auth_parse_user_id(c->user_id ? c->user_id : c->sub, &ref->user_id) != 0)
        ref->user_id = INT64_MIN;
    ref->iat = c->has_iat ? c->iat : INT64_MIN;
}

/* See auth.h. */
enum auth_verdict auth_check_revoked(auth_t *a, const store_token_ref_t *ref, enum metrics_alg alg)
{
    if (store_check(a->store, ref) != STORE_NOT_REVOKED) {
        metrics_verified(alg, METRICS_R_REVOKED);
        return AUTH_REVOKED;
    }
    metrics_verified(alg, METRICS_R_OK);
    return AUTH_OK;
}

/* See auth.h. */
int auth_reject_class(int jose_rc)
{
    switch (jose_rc) {
    case JWTV_OK:
        return METRICS_R_OK;
    case JWTV_EALG:
    case JWTV_EUNSUPPORTED_ALG:
        return METRICS_R_BAD_ALG;
    case JWTV_ESIGNATURE:
        return METRICS_R_BAD_SIGNATURE;
    case JWTV_ENOKEY:
        return METRICS_R_UNKNOWN_KID;
    case JWTV_EEXPIRED:
        return METRICS_R_EXPIRED;
    case JWTV_ENOTYET:
    case JWTV_EIAT:
    case JWTV_EISSUER:
    case JWTV_EAUDIENCE:
        return METRICS_R_INVALID_CLAIMS;
    case JWTV_ETOKEN_TYPE:
        return METRICS_R_WRONG_TYPE;
    default: /* EMALFORMED, ETOOLARGE, EHEADER, ECRIT, ECLAIM, ... */
        return METRICS_R_MALFORMED;
    }
}

/* See auth.h. */
enum auth_verdict auth_verify_access(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
{
    return verify_with(a, &a->v_access, token, now, claims);
}

/* See auth.h. */
enum auth_verdict auth_verify_refresh(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
{
    return verify_with(a, &a->v_refresh, token, now, claims);
}

/* See auth.h. */
enum auth_verdict auth_verify_any(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
{
    return verify_with(a, &a->v_any, token, now, claims);
}

/* ==== issuing ============================================================================== */

/* See auth.h. */
void auth_pair_dispose(auth_pair_t *p)
{
    if (!p)
        return;
    free(p->user_json);
    OPENSSL_cleanse(p, sizeof *p);
    memset(p, 0, sizeof *p);
}

/* See auth.h. */
char *auth_user_json(const db_user_t *u, size_t *len)
{
    jsonw_t w;
    size_t cap = 160 + 6 * (strlen(u->username) + strlen(u->email) + strlen(u->first_name) +
                            strlen(u->last_name));
    char *buf = xmalloc(cap);
    jsonw_init(&w, buf, cap);
    jsonw_raw(&w, "{\"id\":");
    jsonw_int(&w, u->id);
    jsonw_raw(&w, ",\"username\":");
    jsonw_str(&w, u->username);
    jsonw_raw(&w, ",\"email\":");
    jsonw_str(&w, u->email);
    jsonw_raw(&w, ",\"first_name\":");
    jsonw_str(&w, u->first_name);
    jsonw_raw(&w, ",\"last_name\":");
    jsonw_str(&w, u->last_name);
    jsonw_raw(&w, ",\"role\":");
    jsonw_str(&w, db_role_name(u->role));
    jsonw_raw(&w, u->premium ? ",\"premium\":true}" : ",\"premium\":false}");
    /* cap covers the worst case (every byte escaped as \u00XX), so the writer cannot fail */
    *len = jsonw_len(&w);
    buf[*len] = '\0';
    return buf;
}

/* Appends the claims both token types carry, after token_type/exp/iat/jti. */
static void claims_common(jsonw_t *w, const auth_t *a, const char *type, int64_t iat, int64_t exp,
                          const char *jti, int64_t user_id, const char *sid)
{
    jsonw_raw(w, "{\"token_type\":");
    jsonw_str(w, type);
    jsonw_raw(w, ",\"exp\":");
    jsonw_int(w, exp);
    jsonw_raw(w, ",\"iat\":");
    jsonw_int(w, iat);
    jsonw_raw(w, ",\"jti\":");
    jsonw_str(w, jti);
    jsonw_raw(w, ",\"user_id\":\"");
    jsonw_int(w, user_id);
    jsonw_raw(w, "\",\"sub\":\"");
    jsonw_int(w, user_id);
    jsonw_raw(w, "\",\"sid\":");
    jsonw_str(w, sid);
    if (a->issuer) {
        jsonw_raw(w, ",\"iss\":");
        jsonw_str(w, a->issuer);
    }
    if (a->audience) {
        jsonw_raw(w, ",\"aud\":");
        jsonw_str(w, a->audience);
    }
}

static int sign_payload(const auth_t *a, jsonw_t *w, char *out, size_t *out_len)
{
    if (jsonw_failed(w))
        return ERR_TOO_LARGE;
    int rc = jose_jws_sign(a->sign_key, STR_NULL, str_make(w->buf, jsonw_len(w)), out,
                           AUTH_TOKEN_MAX + 1, out_len);
    if (rc != 0) {
        log_error("msg=\"signing failed\" err=%s", jwtv_errname(rc));
        return ERR_INTERNAL;
    }
    /* payloads start {"token_type":"access"|"refresh",... (claims_common) */
    metrics_issued(metrics_alg_of(jose_key_alg(a->sign_key)),
                   jsonw_len(w) > 16 && w->buf[15] == 'r');
    return 0;
}

/* Signs a refresh token. out holds AUTH_TOKEN_MAX + 1 bytes. */
static int sign_refresh(const auth_t *a, const char *jti, const char *sid, int64_t user_id,
                        int64_t iat, int64_t exp, const char *fph, char *out, size_t *out_len)
{
    char buf[1024];
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    claims_common(&w, a, "refresh", iat, exp, jti, user_id, sid);
    if (fph && *fph) { /* client fingerprint binding (issue 9) */
        jsonw_raw(&w, ",\"fph\":");
        jsonw_str(&w, fph);
    }
    jsonw_raw(&w, "}");
    return sign_payload(a, &w, out, out_len);
}

/* Signs a new access token for user u in session sid, issued at now. */
static int sign_access(const auth_t *a, const db_user_t *u, const char *sid, int64_t now,
                       const char *fph, char *out, size_t *out_len)
{
    char jti[33];
    if (random_id(jti) != 0)
        return ERR_INTERNAL;
    char buf[4096];
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    claims_common(&w, a, "access", now, now + a->opts.access_lifetime_s, jti, u->id, sid);
    jsonw_raw(&w, ",\"username\":");
    jsonw_str(&w, u->username);
    jsonw_raw(&w, ",\"email\":");
    jsonw_str(&w, u->email);
    jsonw_raw(&w, ",\"role\":");
    jsonw_str(&w, db_role_name(u->role));
    jsonw_raw(&w, u->premium ? ",\"premium\":true" : ",\"premium\":false");
    if (fph && *fph) {
        jsonw_raw(&w, ",\"fph\":");
        jsonw_str(&w, fph);
    }
    jsonw_raw(&w, "}");
    return sign_payload(a, &w, out, out_len);
}

/* Caches u and puts its JSON into out. */
static void pair_set_user(auth_t *a, const db_user_t *u, int64_t now, auth_pair_t *out)
{
    out->user_id = u->id;
    out->user_json = auth_user_json(u, &out->user_json_len);
    auth__ucache_put(a->users, u->id, u->is_active, out->user_json, out->user_json_len, now);
}

/* Creates a session for u (already authenticated) and signs its first pair. */
static int issue_session(auth_t *a, const db_user_t *u, const auth_client_t *client, int64_t now,
                         auth_pair_t *out)
{
    db_session_t s;
    db_refresh_t rt;
    memset(&s, 0, sizeof s);
    memset(&rt, 0, sizeof rt);
    if (random_id(s.sid) != 0 || random_id(rt.jti) != 0)
        return ERR_INTERNAL;
    s.user_id = u->id;
    s.client_ip = client ? (char *)client->ip : NULL;
    s.user_agent = client ? (char *)client->user_agent : NULL;
    id_copy(rt.sid, s.sid);
    rt.issued_at = now;
    rt.expires_at = now + a->opts.refresh_lifetime_s;
    int rc = db_session_create(a->db, &s, &rt, now);
    if (rc != 0) {
        log_warn("msg=\"cannot create session\" user_id=%" PRId64 " err=%s", u->id, err_name(rc));
        return map_db(rc) == ERR_NOT_FOUND ? ERR_NO_ACTIVE_ACCOUNT : ERR_UNAVAILABLE;
    }
    id_copy(out->sid, s.sid);
    const char *fph = client && client->fph && *client->fph ? client->fph : NULL;
    if ((rc = sign_refresh(a, rt.jti, s.sid, u->id, now, rt.expires_at, fph, out->refresh,
                           &out->refresh_len)) != 0 ||
        (rc = sign_access(a, u, s.sid, now, fph, out->access, &out->access_len)) != 0)
        return rc;
    pair_set_user(a, u, now, out);
    return 0;
}

/* See auth.h. */
int auth_login(auth_t *a, const char *username, const char *password, size_t password_len,
               const auth_client_t *client, int64_t now, auth_pair_t *out)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    memset(out, 0, sizeof *out);
    int rc = db_user_find_by_username(a->db, username, &u);
    if (rc == ERR_NOT_FOUND || rc == ERR_INVALID) {
        auth_password_verify_dummy(password, password_len);
        log_audit_info(NULL, "event=login_failed reason=no_such_user");
        metrics_count(METRICS_LOGIN_FAILURE);
        if (a->login_failed)
            a->login_failed(a->login_failed_arg, username);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    if (rc != 0) {
        metrics_count(METRICS_LOGIN_ERROR);
        return ERR_UNAVAILABLE;
    }
    bool ok = auth_password_verify(u.password_hash, password, password_len);
    if (!ok || !u.is_active) {
        log_audit_info(NULL, "event=login_failed user_id=%" PRId64 " reason=%s", u.id,
                       ok ? "inactive" : "bad_password");
        metrics_count(METRICS_LOGIN_FAILURE);
        db_user_dispose(&u);
        if (a->login_failed)
            a->login_failed(a->login_failed_arg, username);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    if (auth_password_needs_rehash(u.password_hash, &a->opts.argon2)) {
        char h[AUTH_PASSWORD_HASH_MAX];
        if (auth_password_hash(&a->opts.argon2, password, password_len, h, sizeof h) == 0) {
            int r2 = db_user_set_password(a->db, u.id, h, false, now);
            if (r2 != 0)
                log_warn("msg=\"rehash not stored\" user_id=%" PRId64 " err=%s", u.id,
                         err_name(r2));
            else
                log_audit_info(NULL, "event=password_rehashed user_id=%" PRId64, u.id);
        }
        OPENSSL_cleanse(h, sizeof h);
    }
    rc = issue_session(a, &u, client, now, out);
    metrics_count(rc == 0 ? METRICS_LOGIN_SUCCESS : METRICS_LOGIN_ERROR);
    if (rc == 0)
        log_audit_info(NULL, "event=login user_id=%" PRId64 " sid=%s", u.id, out->sid);
    else
        auth_pair_dispose(out);
    db_user_dispose(&u);
    return rc;
}

/* See auth.h. */
int auth_issue_for_user(auth_t *a, const char *username, const auth_client_t *client, int64_t now,
                        auth_pair_t *out)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    memset(out, 0, sizeof *out);
    int rc = db_user_find_by_username(a->db, username, &u);
    if (rc != 0)
        return rc == ERR_INVALID ? ERR_NOT_FOUND : map_db(rc);
    if (!u.is_active) {
        db_user_dispose(&u);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    rc = issue_session(a, &u, client, now, out);
    if (rc != 0)
        auth_pair_dispose(out);
    db_user_dispose(&u);
    return rc;
}

/* ==== refresh ============================================================================== */

/*
 * The database's view of a refresh token. OUT: *verdict; on AUTH_OK *user (when not NULL;
 * dispose it) and sid (when not NULL: the session of record). Returns 0 or ERR_UNAVAILABLE.
 */
static int refresh_lookup(auth_t *a, const auth_token_ref_t *ref, int64_t now,
                          enum auth_verdict *verdict, db_user_t *user, char sid[DB_ID_MAX + 1])
{
    db_refresh_t rt;
    db_session_t s;
    db_user_t u;
    memset(&s, 0, sizeof s);
    memset(&u, 0, sizeof u);
    *verdict = AUTH_INVALID;
    int rc = db_refresh_get(a->db, ref->sid, ref->jti, &rt);
    if (rc == ERR_NOT_FOUND || rc == ERR_INVALID)
        return 0;
    if (rc != 0)
        return ERR_UNAVAILABLE;
    if (rt.used_at != 0) {
        *verdict = AUTH_REVOKED;
        return 0;
    }
    if (rt.expires_at <= now)
        return 0;
    rc = db_session_get(a->db, rt.sid, &s);
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return ERR_UNAVAILABLE;
    int64_t uid = s.user_id;
    bool revoked = s.revoked_at != 0;
    db_session_dispose(&s);
    if (revoked) {
        *verdict = AUTH_REVOKED;
        return 0;
    }
    rc = db_user_find_by_id(a->db, uid, &u);
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return ERR_UNAVAILABLE;
    if (!u.is_active || ref->iat < u.revoke_before) {
        *verdict = AUTH_REVOKED;
        db_user_dispose(&u);
        return 0;
    }
    *verdict = AUTH_OK;
    if (sid)
        id_copy(sid, rt.sid);
    if (user)
        *user = u;
    else
        db_user_dispose(&u);
    return 0;
}

/* See auth.h. */
int auth_refresh_check(auth_t *a, const auth_token_ref_t *ref, int64_t now,
                       enum auth_verdict *verdict)
{
    return refresh_lookup(a, ref, now, verdict, NULL, NULL);
}

/* Applies a session revocation to the index. */
static void index_revoke_sid(auth_t *a, const char *sid, int64_t now)
{
    store_id_t id;
    if (store_id_parse(str_cstr(sid), &id) == 0)
        store_revoke_sid(a->store, &id, revocation_horizon(a, now));
}

/* See auth.h. */
int auth_refresh(auth_t *a, const auth_token_ref_t *ref, int64_t now, auth_pair_t *out,
                 enum auth_verdict *verdict)
{
    memset(out, 0, sizeof *out);
    *verdict = AUTH_INVALID;
    int rc;
    if (!a->opts.rotate_refresh_tokens) {
        db_user_t u;
        memset(&u, 0, sizeof u);
        if ((rc = refresh_lookup(a, ref, now, verdict, &u, NULL)) != 0 || *verdict != AUTH_OK)
            return rc;
        id_copy(out->sid, ref->sid);
        rc = sign_access(a, &u, ref->sid, now, ref->fph, out->access, &out->access_len);
        if (rc == 0) {
            pair_set_user(a, &u, now, out);
            (void)db_session_touch(a->db, ref->sid, now, 60);
        } else {
            *verdict = AUTH_INVALID;
        }
        db_user_dispose(&u);
        return rc;
    }

    char new_jti[33];
    if (random_id(new_jti) != 0)
        return ERR_INTERNAL;
    db_rotate_result_t r;
    memset(&r, 0, sizeof r);
    /* grace 0 means none: the database treats now - used_at <= grace as within it, so a
       second presentation in the same second would still count; -1 makes any reuse */
    int64_t grace = a->opts.reuse_grace_s > 0 ? a->opts.reuse_grace_s : -1;
    rc = db_refresh_rotate(a->db, ref->sid, ref->jti, new_jti, now + a->opts.refresh_lifetime_s,
                           now, grace, &r);
    if (rc != 0) {
        db_rotate_result_dispose(&r);
        return ERR_UNAVAILABLE;
    }
    switch (r.status) {
    case DB_ROTATE_ROTATED:
    case DB_ROTATE_REUSED_WITHIN_GRACE:
        id_copy(out->sid, r.sid);
        rc = sign_refresh(a, r.successor_jti, r.sid, r.user_id, r.successor_issued_at,
                          r.successor_expires_at, ref->fph, out->refresh, &out->refresh_len);
        if (rc == 0)
            rc = sign_access(a, &r.user, r.sid, now, ref->fph, out->access, &out->access_len);
        if (rc == 0) {
            pair_set_user(a, &r.user, now, out);
            *verdict = AUTH_OK;
            char group[AUTH_USER_GROUP_MAX]; /* seed 000: a refresh drops the user's cache */
            auth_user_cache_group(r.user_id, group);
            store_cache_drop_group(a->store, group);
            metrics_count(r.status == DB_ROTATE_ROTATED ? METRICS_REFRESH_ROTATED
                                                        : METRICS_REFRESH_GRACE);
            if (r.status == DB_ROTATE_REUSED_WITHIN_GRACE)
                log_audit_info(NULL, "event=refresh_grace user_id=%" PRId64 " sid=%s jti=%s",
                               r.user_id, r.sid, ref->jti);
        } else {
            auth_pair_dispose(out);
        }
        break;
    case DB_ROTATE_REUSE_DETECTED:
        metrics_count(METRICS_REFRESH_REUSE);
        metrics_count(METRICS_REFRESH_REFUSED);
        metrics_count(METRICS_REVOKE_SID);
        index_revoke_sid(a, r.sid, now);
        log_audit_warn(NULL,
                       "event=refresh_reuse user_id=%" PRId64 " sid=%s jti=%s msg=\"refresh token "
                       "presented after rotation; session revoked\"",
                       r.user_id, r.sid, ref->jti);
        *verdict = AUTH_REVOKED;
        break;
    case DB_ROTATE_NOT_VALID:
    default:
        metrics_count(METRICS_REFRESH_REFUSED);
        *verdict =
            r.reason && (strcmp(r.reason, "unknown") == 0 || strcmp(r.reason, "expired") == 0)
                ? AUTH_INVALID
                : AUTH_REVOKED;
        break;
    }
    db_rotate_result_dispose(&r);
    return rc;
}

/* See auth.h. */
int auth_access_for_refresh(auth_t *a, const auth_token_ref_t *ref, int64_t now, auth_pair_t *out,
                            enum auth_verdict *verdict)
{
    memset(out, 0, sizeof *out);
    db_user_t u;
    memset(&u, 0, sizeof u);
    char sid[DB_ID_MAX + 1];
    int rc = refresh_lookup(a, ref, now, verdict, &u, sid);
    if (rc != 0 || *verdict != AUTH_OK)
        return rc;
    id_copy(out->sid, sid);
    rc = sign_access(a, &u, sid, now, ref->fph, out->access, &out->access_len);
    if (rc == 0)
        pair_set_user(a, &u, now, out);
    else
        *verdict = AUTH_INVALID;
    db_user_dispose(&u);
    return rc;
}

/* ==== revocation ============================================================================ */

/* See auth.h. */
int auth_logout(auth_t *a, const auth_token_ref_t *refresh, int64_t now, enum auth_verdict *verdict)
{
    char sid[DB_ID_MAX + 1];
    int rc = refresh_lookup(a, refresh, now, verdict, NULL, sid);
    if (rc != 0 || *verdict != AUTH_OK)
        return rc;
    bool was_active = false;
    rc = db_session_revoke(a->db, sid, now, &was_active);
    if (rc == ERR_NOT_FOUND) {
        *verdict = AUTH_INVALID;
        return 0;
    }
    if (rc != 0)
        return ERR_UNAVAILABLE;
    index_revoke_sid(a, sid, now);
    if (!was_active) {
        *verdict = AUTH_REVOKED;
        return 0;
    }
    metrics_count(METRICS_REVOKE_SID);
    log_audit_info(NULL, "event=logout user_id=%" PRId64 " sid=%s", refresh->user_id, sid);
    return 0;
}

/* See auth.h. */
int auth_revoke_session(auth_t *a, const char *sid, int64_t now)
{
    int rc = db_session_revoke(a->db, sid, now, NULL);
    if (rc != 0)
        return map_db(rc);
    index_revoke_sid(a, sid, now);
    metrics_count(METRICS_REVOKE_SID);
    log_audit_info(NULL, "event=session_revoked sid=%s", sid);
    return 0;
}

/* See auth.h. */
int auth_revoke_jti(auth_t *a, const char *jti, int64_t exp, int64_t now)
{
    int rc = db_revoked_insert(a->db, jti, exp, now, "logout");
    if (rc != 0)
        return map_db(rc) == ERR_NOT_FOUND ? ERR_NOT_FOUND : ERR_UNAVAILABLE;
    store_id_t id;
    if (store_id_parse(str_cstr(jti), &id) == 0)
        store_revoke_jti(a->store, &id, exp + a->opts.leeway_s + 1);
    metrics_count(METRICS_REVOKE_JTI);
    return 0;
}

/*
 * After the database revoked every session of user_id and raised its watermark to now:
 * the watermark goes into the index at once, and a pull brings the revoked sessions (which
 * also cover tokens issued earlier in the same second, which the watermark cannot).
 */
static void index_revoke_user(auth_t *a, int64_t user_id, int64_t now)
{
    store_revoke_user(a->store, user_id, now, revocation_horizon(a, now));
    metrics_count(METRICS_REVOKE_USER);
    auth__ucache_drop(a->users, user_id);
    int rc = store_sync(a->store);
    if (rc != 0)
        log_warn("msg=\"revocation pull after user revocation failed\" user_id=%" PRId64 " err=%s",
                 user_id, err_name(rc));
}

/* See auth.h. */
int auth_user_revoke_all(auth_t *a, int64_t user_id, int64_t now)
{
    uint32_t n = 0;
    int rc = db_user_revoke_all(a->db, user_id, now, &n);
    if (rc != 0)
        return map_db(rc);
    index_revoke_user(a, user_id, now);
    log_audit_info(NULL, "event=logout_all user_id=%" PRId64 " sessions=%u", user_id, n);
    return 0;
}

/* See auth.h. */
int auth_user_set_password(auth_t *a, int64_t user_id, const char *password, size_t len,
                           int64_t now, auth_policy_result_t *policy)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0)
        return map_db(rc);
    auth_policy_result_t local;
    rc = auth_password_policy_check(password, len, u.username, u.email, policy ? policy : &local);
    db_user_dispose(&u);
    if (rc != 0)
        return ERR_INVALID;
    char h[AUTH_PASSWORD_HASH_MAX];
    rc = auth_password_hash(&a->opts.argon2, password, len, h, sizeof h);
    if (rc == 0)
        rc = map_db(db_user_set_password(a->db, user_id, h, true, now));
    OPENSSL_cleanse(h, sizeof h);
    if (rc != 0)
        return rc;
    index_revoke_user(a, user_id, now);
    log_audit_info(NULL, "event=password_changed user_id=%" PRId64, user_id);
    return 0;
}

/* See auth.h. */
int auth_user_set_active(auth_t *a, int64_t user_id, bool is_active, int64_t now)
{
    int rc = db_user_set_active(a->db, user_id, is_active, now);
    if (rc != 0)
        return map_db(rc);
    if (!is_active)
        index_revoke_user(a, user_id, now);
    else
        auth__ucache_drop(a->users, user_id);
    store_user_changed(a->store, user_id);
    log_audit_info(NULL, "event=%s user_id=%" PRId64,
                   is_active ? "user_activated" : "user_deactivated", user_id);
    return 0;
}

/* ==== the revocation feed ==================================================================== */

/*
 * store_pull_fn: applies what the database recorded since `since` (bounded below by the
 * oldest revocation that can still cover a live access token).
 */
static int pull(void *arg, store_t *st, int64_t since, int64_t now)
{
    auth_t *a = arg;
    int64_t horizon = now - a->opts.access_lifetime_s - a->opts.leeway_s - a->opts.reuse_grace_s;
    if (since < horizon)
        since = horizon;
    db_revoked_list_t rl = {0};
    db_session_list_t sl = {0};
    db_watermark_list_t wl = {0};
    int rc = db_revoked_list(a->db, now, &rl);
    if (rc == 0)
        rc = db_session_list_revoked(a->db, since, &sl);
    if (rc == 0)
        rc = db_watermark_list(a->db, since, &wl);
    if (rc == 0) {
        store_id_t id;
        for (size_t i = 0; i < rl.count; i++)
            if (store_id_parse(str_cstr(rl.items[i].jti), &id) == 0)
                store_revoke_jti(st, &id, rl.items[i].expires_at + a->opts.leeway_s + 1);
        for (size_t i = 0; i < sl.count; i++) {
            const db_session_t *s = &sl.items[i];
            int64_t at = s->revoked_at > s->last_used_at ? s->revoked_at : s->last_used_at;
            if (store_id_parse(str_cstr(s->sid), &id) == 0)
                store_revoke_sid(st, &id, revocation_horizon(a, at));
        }
        for (size_t i = 0; i < wl.count; i++) {
            const db_watermark_t *w = &wl.items[i];
            store_revoke_user(st, w->user_id, w->revoke_before,
                              revocation_horizon(a, w->revoke_before));
            auth__ucache_drop(a->users, w->user_id);
        }
    }
    db_revoked_list_dispose(&rl);
    db_session_list_dispose(&sl);
    db_watermark_list_dispose(&wl);
    return rc == 0 ? 0 : ERR_UNAVAILABLE;
}

/* ==== user cache ============================================================================= */

/* See auth.h. */
int auth_user_cached(auth_t *a, int64_t user_id, int64_t now, char *out, size_t cap, size_t *len,
                     bool *is_active)
{
    return auth__ucache_get(a->users, user_id, now - a->opts.user_cache_ttl_s, out, cap, len,
                            is_active);
}

/* See auth.h. */
int auth_user_load(auth_t *a, int64_t user_id, int64_t now)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0) {
        if (rc == ERR_NOT_FOUND)
            auth__ucache_drop(a->users, user_id);
        return map_db(rc);
    }
    size_t len;
    char *json = auth_user_json(&u, &len);
    auth__ucache_put(a->users, u.id, u.is_active, json, len, now);
    free(json);
    db_user_dispose(&u);
    return 0;
}

/* See auth.h. */
void auth_user_invalidate(auth_t *a, int64_t user_id)
{
    auth__ucache_drop(a->users, user_id);
    store_user_changed(a->store, user_id); /* the other instances' caches too */
}

/* See auth.h. */
void auth_set_login_failed_hook(auth_t *a, auth_login_failed_fn fn, void *arg)
{
    a->login_failed = fn;
    a->login_failed_arg = arg;
}

/* See auth.h. */
void auth_user_cache_group(int64_t user_id, char out[AUTH_USER_GROUP_MAX])
{
    snprintf(out, AUTH_USER_GROUP_MAX, "user:%" PRId64, user_id);
}

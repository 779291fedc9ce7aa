/*
 * issue.c - issuing: login (the dummy hash for unknown users, rehashing to argon2id), the
 * token pairs of a new session, refresh rotation with its grace and reuse detection, and
 * the access token of an auto-refresh. Claims are written with common/jsonw.h and signed
 * with the ring's ACTIVE key.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth/auth_internal.h"
#include "auth/mfa.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* ==== ids ================================================================================= */

/* See auth_internal.h. */
void auth__id_copy(char dst[AUTH_ID_MAX + 1], const char *src)
{
    snprintf(dst, AUTH_ID_MAX + 1, "%s", src);
}

/* See auth_internal.h. */
int auth__random_id(char out[33])
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

/* ==== issuing ============================================================================== */

/* See auth.h. */
void auth_pair_dispose(auth_pair_t *p)
{
    if (!p)
        return;
    free(p->user_json);
    free(p->mfa_factors);
    if (p->device_token) {
        OPENSSL_cleanse(p->device_token, p->device_token_len);
        free(p->device_token);
    }
    OPENSSL_cleanse(p, sizeof *p);
    memset(p, 0, sizeof *p);
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
    if (a->issuer)
        jsonw_member(w, "iss", a->issuer);
    if (a->audience)
        jsonw_member(w, "aud", a->audience);
}

/* Appends "amr" and "auth_time" (RFC 8176, OpenID Connect Core) when auth_time is known. */
static void claims_how(jsonw_t *w, unsigned amr, int64_t auth_time)
{
    if (auth_time <= 0)
        return;
    static const char *const names[] = {"pwd", "otp", "mfa", "hwk", "user", "ext"};
    jsonw_raw(w, ",\"amr\":[");
    bool first = true;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(amr & (1u << i)))
            continue;
        if (!first)
            jsonw_raw(w, ",");
        jsonw_str(w, names[i]);
        first = false;
    }
    jsonw_raw(w, "],\"auth_time\":");
    jsonw_int(w, auth_time);
}

/* Ends the claims with the client fingerprint binding, when there is one, and signs them. */
static int sign_payload(const auth_t *a, jsonw_t *w, const char *fph, char *out, size_t *out_len)
{
    if (fph && *fph)
        jsonw_member(w, "fph", fph);
    jsonw_raw(w, "}");
    if (jsonw_failed(w))
        return ERR_TOO_LARGE;
    const jose_key_t *key = auth__live(a)->sign_key;
    int rc = jose_jws_sign(key, STR_NULL, str_make(w->buf, jsonw_len(w)), out, AUTH_TOKEN_MAX + 1,
                           out_len);
    if (rc != 0) {
        log_error("msg=\"signing failed\" err=%s", jwtv_errname(rc));
        return ERR_INTERNAL;
    }
    /* payloads start {"token_type":"access"|"refresh",... (claims_common) */
    metrics_issued(metrics_alg_of(jose_key_alg(key)), jsonw_len(w) > 16 && w->buf[15] == 'r');
    return 0;
}

/* Signs a refresh token. out holds AUTH_TOKEN_MAX + 1 bytes. */
static int sign_refresh(const auth_t *a, const char *jti, const char *sid, int64_t user_id,
                        int64_t iat, int64_t exp, const char *fph, unsigned amr, int64_t auth_time,
                        char *out, size_t *out_len)
{
    char buf[1024];
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    claims_common(&w, a, "refresh", iat, exp, jti, user_id, sid);
    claims_how(&w, amr, auth_time);
    return sign_payload(a, &w, fph, out, out_len);
}

/* Signs a new token of type (access, or mfa_enroll living lifetime_s) for user u in session
   sid, issued at now. */
static int sign_user_token(const auth_t *a, const char *type, int64_t lifetime_s,
                           const db_user_t *u, const char *sid, int64_t now, const char *fph,
                           unsigned amr, int64_t auth_time, char *out, size_t *out_len)
{
    char jti[33];
    if (auth__random_id(jti) != 0)
        return ERR_INTERNAL;
    char buf[4096];
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    claims_common(&w, a, type, now, now + lifetime_s, jti, u->id, sid);
    jsonw_member(&w, "username", u->username);
    jsonw_member(&w, "email", u->email);
    jsonw_member(&w, "role", db_role_name(u->role));
    jsonw_raw(&w, u->premium ? ",\"premium\":true" : ",\"premium\":false");
    claims_how(&w, amr, auth_time);
    return sign_payload(a, &w, fph, out, out_len);
}

/* Signs a new access token for user u in session sid, issued at now. */
static int sign_access(const auth_t *a, const db_user_t *u, const char *sid, int64_t now,
                       const char *fph, unsigned amr, int64_t auth_time, char *out, size_t *out_len)
{
    return sign_user_token(a, "access", auth__live(a)->access_lifetime_s, u, sid, now, fph, amr,
                           auth_time, out, out_len);
}

/* See auth_internal.h. */
int auth__issue_session(auth_t *a, const db_user_t *u, const auth_client_t *client, int64_t now,
                        unsigned amr, int64_t auth_time, auth_pair_t *out)
{
    db_session_t s;
    db_refresh_t rt;
    memset(&s, 0, sizeof s);
    memset(&rt, 0, sizeof rt);
    if (auth__random_id(s.sid) != 0 || auth__random_id(rt.jti) != 0)
        return ERR_INTERNAL;
    s.user_id = u->id;
    s.client_ip = client ? (char *)client->ip : NULL;
    s.user_agent = client ? (char *)client->user_agent : NULL;
    char amr_text[AUTH_AMR_TEXT_MAX];
    auth_amr_text(auth_time > 0 ? amr : 0, amr_text);
    s.amr = amr_text;
    s.auth_time = auth_time;
    auth__id_copy(rt.sid, s.sid);
    rt.issued_at = now;
    rt.expires_at = now + auth__live(a)->refresh_lifetime_s;
    int rc = db_session_create(a->db, &s, &rt, now);
    if (rc != 0) {
        log_warn("msg=\"cannot create session\" user_id=%" PRId64 " err=%s", u->id, err_name(rc));
        return auth__map_db(rc) == ERR_NOT_FOUND ? ERR_NO_ACTIVE_ACCOUNT : ERR_UNAVAILABLE;
    }
    auth__id_copy(out->sid, s.sid);
    const char *fph = client && client->fph && *client->fph ? client->fph : NULL;
    if ((rc = sign_refresh(a, rt.jti, s.sid, u->id, now, rt.expires_at, fph, amr, auth_time,
                           out->refresh, &out->refresh_len)) != 0 ||
        (rc = sign_access(a, u, s.sid, now, fph, amr, auth_time, out->access, &out->access_len)) !=
            0)
        return rc;
    auth__user_cache_put(a, u, now, out);
    return 0;
}

/* Signs a token that can only enroll a second factor (token_type "mfa_enroll", 10 minutes,
   no session behind it: a random sid). */
static int sign_enroll(const auth_t *a, const db_user_t *u, int64_t now, auth_pair_t *out)
{
    char sid[33];
    if (auth__random_id(sid) != 0)
        return ERR_INTERNAL;
    return sign_user_token(a, "mfa_enroll", AUTH_REAUTH_WINDOW_S, u, sid, now, NULL, AUTH_AMR_PWD,
                           now, out->access, &out->access_len);
}

/* See auth_internal.h. */
int auth__second_step(auth_t *a, const db_user_t *u, const auth_client_t *client, int64_t now,
                      unsigned amr, auth_pair_t *out)
{
    bool has = false;
    int rc = (amr & AUTH_AMR_HWK) ? auth__mfa_has_totp(a, u->id, &has)
                                  : auth_mfa_has_factor(a, u->id, &has);
    if (rc != 0)
        return rc;
    if (has) {
        buf_t factors;
        buf_init(&factors, 64 * 1024);
        rc = auth_mfa_challenge_new(a, u->id, amr, client ? client->family : NULL,
                                    client ? client->bind : NULL, now, out->mfa_token, &factors);
        if (rc == 0) {
            out->mfa_factors = factors.data; /* the buffer's heap string, now the pair's */
            out->mfa_factors_len = factors.len;
            out->user_id = u->id;
            audit_info(NULL, .event = "mfa_challenge", .outcome = "success", .user_id = u->id,
                       .username = u->username, .reason = client ? client->family : NULL);
            return ERR_MFA_REQUIRED;
        }
        buf_dispose(&factors);
        return rc;
    }
    if (a->opts.mfa_required_roles & (1u << u->role)) {
        if ((rc = sign_enroll(a, u, now, out)) != 0)
            return rc;
        out->user_id = u->id;
        audit_info(NULL, .event = "mfa_enroll_required", .outcome = "success", .user_id = u->id,
                   .username = u->username);
        return ERR_MFA_ENROLL_REQUIRED;
    }
    return 1;
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
        audit_info(NULL, .event = "login_failed", .outcome = "failure", .username = username,
                   .reason = "no_such_user");
        metrics_count(METRICS_LOGIN_FAILURE);
        auth__guard_login_done(a, username, client, false);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    if (rc != 0) {
        metrics_count(METRICS_LOGIN_ERROR);
        auth__guard_login_done(a, username, client, true); /* no guess was tried */
        return ERR_UNAVAILABLE;
    }
    bool ok = auth_password_verify(u.password_hash, password, password_len);
    if (!ok || !u.is_active) {
        audit_info(NULL, .event = "login_failed", .outcome = "failure", .user_id = u.id,
                   .username = u.username, .reason = ok ? "inactive" : "bad_password");
        metrics_count(METRICS_LOGIN_FAILURE);
        db_user_dispose(&u);
        auth__guard_login_done(a, username, client, false);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    auth__guard_login_done(a, username, client, true);
    if (a->opts.signup_verified) { /* told only to whoever knows the password */
        bool verified = false;
        rc = db_user_email_verified(a->db, u.id, &verified);
        if (rc != 0 || !verified) {
            audit_info(NULL, .event = "login_failed", .outcome = "failure", .user_id = u.id,
                       .username = u.username, .reason = rc ? "unavailable" : "email_not_verified");
            metrics_count(rc ? METRICS_LOGIN_ERROR : METRICS_LOGIN_FAILURE);
            db_user_dispose(&u);
            return rc ? auth__map_db(rc) : ERR_EMAIL_NOT_VERIFIED;
        }
    }
    if (auth_password_needs_rehash(u.password_hash, &a->opts.argon2)) {
        char h[AUTH_PASSWORD_HASH_MAX];
        if (auth_password_hash(&a->opts.argon2, password, password_len, h, sizeof h) == 0) {
            int r2 = db_user_set_password(a->db, u.id, h, false, now);
            if (r2 != 0)
                log_warn("msg=\"rehash not stored\" user_id=%" PRId64 " err=%s", u.id,
                         err_name(r2));
            else
                audit_info(NULL, .event = "password_rehashed", .outcome = "success",
                           .user_id = u.id, .username = u.username);
        }
        OPENSSL_cleanse(h, sizeof h);
    }
    rc = auth__second_step(a, &u, client, now, AUTH_AMR_PWD, out);
    if (rc == 1)
        rc = auth__issue_session(a, &u, client, now, AUTH_AMR_PWD, now, out);
    else if (rc == ERR_MFA_REQUIRED || rc == ERR_MFA_ENROLL_REQUIRED) {
        db_user_dispose(&u);
        return rc;
    }
    metrics_count(rc == 0 ? METRICS_LOGIN_SUCCESS : METRICS_LOGIN_ERROR);
    if (rc == 0)
        audit_info(NULL, .event = "login", .outcome = "success", .user_id = u.id,
                   .username = u.username, .sid = out->sid);
    else
        auth_pair_dispose(out);
    db_user_dispose(&u);
    return rc;
}

/* See auth_internal.h. */
int auth__login_user(auth_t *a, const db_user_t *u, const auth_client_t *client, const char *method,
                     int64_t now, auth_pair_t *out)
{
    /* an e-mailed code is one factor: a user with a second one still needs it */
    int rc = auth__second_step(a, u, client, now, AUTH_AMR_OTP, out);
    if (rc == 1)
        rc = auth__issue_session(a, u, client, now, AUTH_AMR_OTP, now, out);
    else if (rc == ERR_MFA_REQUIRED || rc == ERR_MFA_ENROLL_REQUIRED)
        return rc;
    metrics_count(rc == 0 ? METRICS_LOGIN_SUCCESS : METRICS_LOGIN_ERROR);
    if (rc == 0)
        audit_info(NULL, .event = "login", .outcome = "success", .user_id = u->id,
                   .username = u->username, .sid = out->sid, .reason = method);
    else
        auth_pair_dispose(out);
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
        return rc == ERR_INVALID ? ERR_NOT_FOUND : auth__map_db(rc);
    if (!u.is_active) {
        db_user_dispose(&u);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    rc = auth__issue_session(a, &u, client, now, 0, 0, out);
    if (rc != 0)
        auth_pair_dispose(out);
    db_user_dispose(&u);
    return rc;
}

/* See auth_internal.h. */
int auth__issue_for_user_id(auth_t *a, int64_t user_id, const auth_client_t *client, int64_t now,
                            unsigned amr, int64_t auth_time, auth_pair_t *out)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    memset(out, 0, sizeof *out);
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0)
        return auth__map_db(rc) == ERR_NOT_FOUND ? ERR_NO_ACTIVE_ACCOUNT : ERR_UNAVAILABLE;
    rc = u.is_active ? auth__issue_session(a, &u, client, now, amr, auth_time, out)
                     : ERR_NO_ACTIVE_ACCOUNT;
    if (rc != 0)
        auth_pair_dispose(out);
    db_user_dispose(&u);
    return rc;
}

/* ==== refresh ============================================================================== */

/* See auth_internal.h. */
int auth__refresh_lookup(auth_t *a, const auth_token_ref_t *ref, int64_t now,
                         enum auth_verdict *verdict, db_user_t *user, char sid[AUTH_ID_MAX + 1])
{
    db_refresh_t rt;
    db_user_t u;
    int64_t session_revoked_at = 0;
    *verdict = AUTH_INVALID;
    /* the token, its session and its user in one statement (one round trip) */
    int rc = db_refresh_load(a->db, ref->sid, ref->jti, &rt, &session_revoked_at, &u);
    if (rc == ERR_NOT_FOUND || rc == ERR_INVALID)
        return 0;
    if (rc != 0)
        return ERR_UNAVAILABLE;
    /* in the order of the checks: used, expired (invalid), session revoked, user */
    if (rt.used_at != 0)
        *verdict = AUTH_REVOKED;
    else if (rt.expires_at <= now)
        *verdict = AUTH_INVALID;
    else if (session_revoked_at != 0 || !u.is_active || ref->iat < u.revoke_before)
        *verdict = AUTH_REVOKED;
    else
        *verdict = AUTH_OK;
    if (*verdict != AUTH_OK) {
        db_user_dispose(&u);
        return 0;
    }
    if (sid)
        auth__id_copy(sid, rt.sid);
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
    return auth__refresh_lookup(a, ref, now, verdict, NULL, NULL);
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
        if ((rc = auth__refresh_lookup(a, ref, now, verdict, &u, NULL)) != 0 ||
            *verdict != AUTH_OK) {
            if (rc == 0)
                audit_warn(NULL, .event = "refresh_failed", .outcome = "failure",
                           .user_id = ref->user_id != INT64_MIN ? ref->user_id : 0, .sid = ref->sid,
                           .reason = *verdict == AUTH_REVOKED ? "revoked" : "invalid");
            return rc;
        }
        auth__id_copy(out->sid, ref->sid);
        rc = sign_access(a, &u, ref->sid, now, ref->fph, ref->amr, ref->auth_time, out->access,
                         &out->access_len);
        if (rc == 0) {
            auth__user_cache_put(a, &u, now, out);
            auth__drop_user_groups(a, u.id); /* a renewal, as with rotation */
            (void)db_session_touch(a->db, ref->sid, now, 60);
            audit_info(NULL, .event = "refresh", .outcome = "success", .user_id = u.id,
                       .username = u.username, .sid = ref->sid, .reason = "no_rotation");
        } else {
            *verdict = AUTH_INVALID;
        }
        db_user_dispose(&u);
        return rc;
    }

    char new_jti[33];
    if (auth__random_id(new_jti) != 0)
        return ERR_INTERNAL;
    db_rotate_result_t r;
    memset(&r, 0, sizeof r);
    /* grace 0 means none: the database treats now - used_at <= grace as within it, so a
       second presentation in the same second would still count; -1 makes any reuse */
    int64_t grace = a->opts.reuse_grace_s > 0 ? a->opts.reuse_grace_s : -1;
    rc = db_refresh_rotate(a->db, ref->sid, ref->jti, new_jti,
                           now + auth__live(a)->refresh_lifetime_s, now, grace, &r);
    if (rc != 0) {
        db_rotate_result_dispose(&r);
        return ERR_UNAVAILABLE;
    }
    switch (r.status) {
    case DB_ROTATE_ROTATED:
    case DB_ROTATE_REUSED_WITHIN_GRACE:
        auth__id_copy(out->sid, r.sid);
        rc = sign_refresh(a, r.successor_jti, r.sid, r.user_id, r.successor_issued_at,
                          r.successor_expires_at, ref->fph, ref->amr, ref->auth_time, out->refresh,
                          &out->refresh_len);
        if (rc == 0)
            rc = sign_access(a, &r.user, r.sid, now, ref->fph, ref->amr, ref->auth_time,
                             out->access, &out->access_len);
        if (rc == 0) {
            auth__user_cache_put(a, &r.user, now, out);
            *verdict = AUTH_OK;
            auth__drop_user_groups(a, r.user_id); /* a renewal drops the user's caches */
            metrics_count(r.status == DB_ROTATE_ROTATED ? METRICS_REFRESH_ROTATED
                                                        : METRICS_REFRESH_GRACE);
            char detail[AUTH_ID_MAX + 8];
            snprintf(detail, sizeof detail, "jti=%s", ref->jti);
            audit_info(NULL, .event = "refresh", .outcome = "success", .user_id = r.user_id,
                       .username = r.user.username, .sid = r.sid,
                       .reason = r.status == DB_ROTATE_ROTATED ? "rotated" : "grace",
                       .detail = detail);
        } else {
            auth_pair_dispose(out);
        }
        break;
    case DB_ROTATE_REUSE_DETECTED:
        metrics_count(METRICS_REFRESH_REUSE);
        metrics_count(METRICS_REFRESH_REFUSED);
        metrics_count(METRICS_REVOKE_SID);
        auth__index_revoke_sid(a, r.sid, now);
        char reused[AUTH_ID_MAX + 80];
        snprintf(reused, sizeof reused,
                 "jti=%s msg=\"refresh token presented after rotation; session revoked\"",
                 ref->jti);
        audit_warn(NULL, .event = "refresh_reuse", .outcome = "detected", .user_id = r.user_id,
                   .sid = r.sid, .reason = "reuse_after_grace", .detail = reused);
        *verdict = AUTH_REVOKED;
        break;
    case DB_ROTATE_NOT_VALID:
    default:
        metrics_count(METRICS_REFRESH_REFUSED);
        *verdict =
            r.reason && (strcmp(r.reason, "unknown") == 0 || strcmp(r.reason, "expired") == 0)
                ? AUTH_INVALID
                : AUTH_REVOKED;
        audit_warn(NULL, .event = "refresh_failed", .outcome = "failure",
                   .user_id = ref->user_id != INT64_MIN ? ref->user_id : 0, .sid = ref->sid,
                   .reason = r.reason ? r.reason : "not_valid");
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
    char sid[AUTH_ID_MAX + 1];
    int rc = auth__refresh_lookup(a, ref, now, verdict, &u, sid);
    if (rc != 0 || *verdict != AUTH_OK)
        return rc;
    auth__id_copy(out->sid, sid);
    rc = sign_access(a, &u, sid, now, ref->fph, ref->amr, ref->auth_time, out->access,
                     &out->access_len);
    if (rc == 0) {
        auth__user_cache_put(a, &u, now, out);
        auth__drop_user_groups(a, u.id); /* a new access token drops the user's caches, as a
                                            refresh does (auto-refresh goes through here) */
    } else {
        *verdict = AUTH_INVALID;
    }
    db_user_dispose(&u);
    return rc;
}

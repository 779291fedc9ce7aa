/*
 * revoke.c - revocation: logout with a refresh token, sessions, single access tokens,
 * every session of a user (logout-all, password change, deactivation), and the feed that
 * re-applies what other processes recorded in the database (the store's pull).
 *
 * Every revocation is written to the database first and then applied to the index, before
 * the caller answers its client: a logout is enforced at once on this instance, and on the
 * others through the shared store or the database poll.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/auth_internal.h"
#include "common/err.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* See auth_internal.h. */
void auth__index_revoke_sid(auth_t *a, const char *sid, int64_t now)
{
    store_id_t id;
    if (store_id_parse(str_cstr(sid), &id) == 0)
        store_revoke_sid(a->store, &id, auth__revocation_horizon(a, now));
    (void)auth_feed_refresh(a); /* the feed has it before the answer; else the next pull */
}

/* ==== revocation ============================================================================ */

/* See auth.h. */
int auth_logout(auth_t *a, const auth_token_ref_t *refresh, int64_t now, enum auth_verdict *verdict)
{
    char sid[AUTH_ID_MAX + 1];
    int rc = auth__refresh_lookup(a, refresh, now, verdict, NULL, sid);
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
    auth__index_revoke_sid(a, sid, now);
    if (!was_active) {
        *verdict = AUTH_REVOKED;
        return 0;
    }
    metrics_count(METRICS_REVOKE_SID);
    audit_info(NULL, .event = "logout", .outcome = "success", .user_id = refresh->user_id,
               .sid = sid);
    return 0;
}

/* See auth.h. */
int auth_revoke_session(auth_t *a, const char *sid, int64_t now)
{
    int rc = db_session_revoke(a->db, sid, now, NULL);
    if (rc != 0)
        return auth__map_db(rc);
    auth__index_revoke_sid(a, sid, now);
    metrics_count(METRICS_REVOKE_SID);
    audit_info(NULL, .event = "session_revoked", .outcome = "success", .sid = sid);
    return 0;
}

/* See auth.h. */
int auth_revoke_jti(auth_t *a, const char *jti, int64_t exp, int64_t now)
{
    int rc = db_revoked_insert(a->db, jti, exp, now, "logout");
    if (rc != 0)
        return auth__map_db(rc) == ERR_NOT_FOUND ? ERR_NOT_FOUND : ERR_UNAVAILABLE;
    store_id_t id;
    if (store_id_parse(str_cstr(jti), &id) == 0)
        store_revoke_jti(a->store, &id, exp + a->opts.leeway_s + 1);
    (void)auth_feed_refresh(a);
    metrics_count(METRICS_REVOKE_JTI);
    char detail[AUTH_ID_MAX + 8];
    snprintf(detail, sizeof detail, "jti=%s", jti);
    audit_info(NULL, .event = "token_revoked", .outcome = "success", .detail = detail);
    return 0;
}

/* See auth_internal.h. */
void auth__index_revoke_user(auth_t *a, int64_t user_id, int64_t watermark)
{
    store_revoke_user(a->store, user_id, watermark, auth__revocation_horizon(a, watermark));
    metrics_count(METRICS_REVOKE_USER);
    auth__user_drop(a, user_id);
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
        return auth__map_db(rc);
    auth__index_revoke_user(a, user_id, now);
    char detail[32];
    snprintf(detail, sizeof detail, "sessions=%u", n);
    audit_info(NULL, .event = "logout_all", .outcome = "success", .user_id = user_id,
               .detail = detail);
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
        return auth__map_db(rc);
    auth_policy_result_t local;
    rc = auth_password_policy_check(password, len, u.username, u.email, policy ? policy : &local);
    db_user_dispose(&u);
    if (rc != 0)
        return ERR_INVALID;
    char h[AUTH_PASSWORD_HASH_MAX];
    rc = auth_password_hash(&a->opts.argon2, password, len, h, sizeof h);
    if (rc == 0)
        rc = auth__map_db(db_user_set_password(a->db, user_id, h, true, now));
    OPENSSL_cleanse(h, sizeof h);
    if (rc != 0)
        return rc;
    auth__index_revoke_user(a, user_id, now);
    audit_info(NULL, .event = "password_changed", .outcome = "success", .user_id = user_id);
    return 0;
}

/* See auth.h. */
int auth_user_set_active(auth_t *a, int64_t user_id, bool is_active, int64_t now)
{
    int rc = db_user_set_active(a->db, user_id, is_active, now);
    if (rc != 0)
        return auth__map_db(rc);
    if (!is_active)
        auth__index_revoke_user(a, user_id, now);
    else
        auth__user_drop(a, user_id);
    store_user_changed(a->store, user_id);
    audit_info(NULL, .event = is_active ? "user_activated" : "user_deactivated",
               .outcome = "success", .user_id = user_id);
    return 0;
}

/* ==== the revocation feed ==================================================================== */

/*
 * See auth_internal.h. Bounded below by the oldest revocation that can still cover a live
 * access token.
 */
int auth__pull(void *arg, store_t *st, int64_t since, int64_t now)
{
    auth_t *a = arg;
    int64_t horizon =
        now - atomic_load(&a->max_access_lifetime_s) - a->opts.leeway_s - a->opts.reuse_grace_s;
    if (since < horizon)
        since = horizon;
    auth__revocations_t r;
    if (auth__revocations_read(a, since, now, &r) != 0)
        return ERR_UNAVAILABLE;
    store_id_t id;
    for (size_t i = 0; i < r.jtis.count; i++)
        if (store_id_parse(str_cstr(r.jtis.items[i].jti), &id) == 0)
            store_revoke_jti(st, &id, r.jtis.items[i].expires_at + a->opts.leeway_s + 1);
    for (size_t i = 0; i < r.sids.count; i++) {
        const db_session_t *s = &r.sids.items[i];
        int64_t at = s->revoked_at > s->last_used_at ? s->revoked_at : s->last_used_at;
        if (store_id_parse(str_cstr(s->sid), &id) == 0)
            store_revoke_sid(st, &id, auth__revocation_horizon(a, at));
    }
    for (size_t i = 0; i < r.users.count; i++) {
        const db_watermark_t *w = &r.users.items[i];
        store_revoke_user(st, w->user_id, w->revoke_before,
                          auth__revocation_horizon(a, w->revoke_before));
        auth__ucache_drop(a->users, w->user_id);
    }
    auth__revocations_dispose(&r);
    (void)auth_feed_refresh(a); /* the feed's events, read the same way */
    return 0;
}

/* See auth_internal.h. */
int auth__revocations_read(auth_t *a, int64_t since, int64_t now, auth__revocations_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = db_revoked_list(a->db, now, &out->jtis);
    if (rc == 0)
        rc = db_session_list_revoked(a->db, since, &out->sids);
    if (rc == 0)
        rc = db_watermark_list(a->db, since, &out->users);
    if (rc != 0) {
        auth__revocations_dispose(out);
        return ERR_UNAVAILABLE;
    }
    return 0;
}

/* See auth_internal.h. */
void auth__revocations_dispose(auth__revocations_t *r)
{
    db_revoked_list_dispose(&r->jtis);
    db_session_list_dispose(&r->sids);
    db_watermark_list_dispose(&r->users);
}

/*
 * admin.c - the administration use cases behind the admin API (/admin/users...) and the
 * account deletion of DELETE /auth/me: searching, reading, creating, changing and deleting
 * users, revoking everything a user holds, listing a user's sessions.
 *
 * Every call writes one audit record (event admin_user_*, user_deleted, account_deleted)
 * with the outcome, under the caller's audit context: the blocking pool's request (client
 * address, request id) and, for the admin API, the acting administrator as `actor`.
 *
 * A change that must reach existing access tokens at once goes through the revocation
 * index, which the verified-token cache asks on every use: deactivation and a role change
 * (the role is a claim of the token) raise the user's watermark and revoke every session;
 * deletion writes a tombstone watermark one second ahead (db_user_delete), so even a token
 * issued in the very second of the deletion is refused, on every instance (the store
 * publishes it) and after a restart (the index reloads tombstones). Other changes drop the
 * user cache entry here and on the other instances (store_user_changed).
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/audit.h"
#include "runtime/log.h"

/* ==== the admin view of a user ============================================================== */

/* Appends the admin user object of u (whose e-mail is verified or not) to out. */
static int admin_user_append(buf_t *out, const db_user_t *u, bool verified)
{
    size_t len;
    char *json = auth_user_json(u, &len);
    /* the API user object without its closing brace, then the admin's fields */
    int rc = buf_append(out, json, len - 1);
    free(json);
    if (rc == 0)
        rc = buf_printf(out,
                        ",\"is_active\":%s,\"email_verified\":%s,\"created_at\":%" PRId64
                        ",\"updated_at\":%" PRId64 ",\"last_login\":",
                        u->is_active ? "true" : "false", verified ? "true" : "false", u->created_at,
                        u->updated_at);
    if (rc == 0)
        rc = u->last_login ? buf_printf(out, "%" PRId64 "}", u->last_login)
                           : buf_append_cstr(out, "null}");
    return rc == 0 ? 0 : ERR_TOO_LARGE;
}

/* Loads user id and appends its admin object to out. ERR_NOT_FOUND, ERR_UNAVAILABLE. OUT: *u
   (dispose it). */
static int load_append(auth_t *a, int64_t id, db_user_t *u, buf_t *out)
{
    bool verified = false;
    int rc = auth__map_db(db_user_find_by_id(a->db, id, u));
    if (rc == 0)
        rc = auth__map_db(db_user_email_verified(a->db, id, &verified));
    if (rc == 0 && out)
        rc = admin_user_append(out, u, verified);
    return rc;
}

/* The detail of an audit record naming the target user. */
static const char *target_detail(char *out, size_t cap, int64_t id, const char *more)
{
    snprintf(out, cap, "target=%" PRId64 "%s%s", id, more && *more ? " " : "", more ? more : "");
    return out;
}

/* The audit outcome word of a result. */
static const char *outcome_of(int rc)
{
    return rc == 0 ? "success" : "failure";
}

/* The audit reason word of a failure ("" on success). */
static const char *reason_of(int rc)
{
    switch (rc) {
    case 0:
        return "";
    case ERR_NOT_FOUND:
        return "no_such_user";
    case ERR_CONFLICT:
        return "taken";
    case ERR_INVALID:
        return "invalid";
    default:
        return "unavailable";
    }
}

/* ==== queries ================================================================================ */

/* See auth.h. */
int auth_admin_users_json(auth_t *a, const char *q, uint32_t page, uint32_t page_size, buf_t *out)
{
    db_admin_user_list_t list;
    int64_t total = 0;
    uint64_t offset = (uint64_t)(page ? page - 1 : 0) * page_size;
    int rc = auth__map_db(db_user_search(a->db, q, offset, page_size, &list, &total));
    if (rc == 0) {
        rc = buf_printf(out, "{\"count\":%" PRId64 ",\"page\":%u,\"page_size\":%u,\"results\":[",
                        total, page, page_size);
        for (size_t i = 0; rc == 0 && i < list.count; i++) {
            if (i)
                rc = buf_append_char(out, ',');
            if (rc == 0)
                rc = admin_user_append(out, &list.items[i].user, list.items[i].email_verified);
        }
        if (rc == 0)
            rc = buf_append_cstr(out, "]}");
        if (rc != 0)
            rc = ERR_TOO_LARGE;
    }
    db_admin_user_list_dispose(&list);
    char detail[96];
    snprintf(detail, sizeof detail, "page=%u page_size=%u results=%" PRId64 " query=%s", page,
             page_size, total, q && *q ? "yes" : "no");
    audit_info(NULL, .event = "admin_user_list", .outcome = outcome_of(rc), .reason = reason_of(rc),
               .detail = detail);
    return rc;
}

/* See auth.h. */
int auth_admin_user_get_json(auth_t *a, int64_t id, buf_t *out)
{
    db_user_t u;
    int rc = load_append(a, id, &u, out);
    char detail[48];
    audit_info(NULL, .event = "admin_user_view", .outcome = outcome_of(rc), .user_id = u.id,
               .username = u.username, .reason = reason_of(rc),
               .detail = target_detail(detail, sizeof detail, id, NULL));
    db_user_dispose(&u);
    return rc;
}

/* See auth.h. */
int auth_admin_sessions_json(auth_t *a, int64_t id, int64_t now, buf_t *out)
{
    db_user_t u;
    auth_session_list_t list = {0};
    int rc = auth__map_db(db_user_find_by_id(a->db, id, &u));
    if (rc == 0)
        rc = auth_sessions_list(a, id, now, &list);
    if (rc == 0) {
        rc = buf_append_cstr(out, "{\"sessions\":[");
        for (size_t i = 0; rc == 0 && i < list.count; i++) {
            const auth_session_t *s = &list.items[i];
            rc = buf_append_cstr(out, i ? ",{\"sid\":" : "{\"sid\":");
            rc = rc ? rc : jsonw_buf_cstr(out, s->sid);
            rc = rc ? rc
                    : buf_printf(out, ",\"created_at\":%" PRId64 ",\"last_used_at\":%" PRId64,
                                 s->created_at, s->last_used_at);
            rc = rc ? rc : buf_append_cstr(out, ",\"client_ip\":");
            rc = rc ? rc : jsonw_buf_cstr(out, s->client_ip);
            rc = rc ? rc : buf_append_cstr(out, ",\"user_agent\":");
            rc = rc ? rc : jsonw_buf_cstr(out, s->user_agent);
            rc = rc ? rc : buf_append_char(out, '}');
        }
        rc = rc ? rc : buf_append_cstr(out, "]}");
        if (rc != 0)
            rc = ERR_TOO_LARGE;
    }
    char more[24], detail[64];
    snprintf(more, sizeof more, "sessions=%zu", list.count);
    audit_info(NULL, .event = "admin_user_sessions", .outcome = outcome_of(rc), .user_id = u.id,
               .username = u.username, .reason = reason_of(rc),
               .detail = target_detail(detail, sizeof detail, id, more));
    auth_session_list_dispose(&list);
    db_user_dispose(&u);
    return rc;
}

/* ==== changes ================================================================================ */

/* See auth.h. */
int auth_admin_user_create(auth_t *a, const auth_new_user_t *nu, bool is_active,
                           bool email_verified, int64_t now, buf_t *out, auth_user_errors_t *errors)
{
    int64_t id = 0;
    int rc = auth_user_create(a->db, &a->opts.argon2, nu, now, &id, errors);
    db_user_change_t c = {.set_active = true,
                          .is_active = is_active,
                          .set_email_verified = true,
                          .email_verified = email_verified};
    if (rc == 0 && (!is_active || !email_verified))
        rc = auth__map_db(db_user_admin_update(a->db, id, &c, now, NULL, NULL));
    db_user_t u;
    memset(&u, 0, sizeof u);
    if (rc == 0)
        rc = load_append(a, id, &u, out);
    char more[40], detail[80];
    snprintf(more, sizeof more, "role=%s is_active=%s", nu->role ? nu->role : "user",
             is_active ? "true" : "false");
    audit_info(NULL, .event = "admin_user_create", .outcome = outcome_of(rc), .user_id = id,
               .username = nu->username, .reason = reason_of(rc),
               .detail = target_detail(detail, sizeof detail, id, more));
    db_user_dispose(&u);
    return rc;
}

/* See auth.h. */
int auth_user_change_validate(const auth_user_change_t *c, auth_user_errors_t *errors)
{
    memset(errors, 0, sizeof *errors);
    if (c->email && *c->email) {
        auth_new_user_t probe = {.username = "x", .email = c->email};
        auth_user_errors_t e;
        (void)auth_user_validate(&probe, true, &e);
        errors->email = e.email;
    }
    enum db_role role;
    if (c->role && db_role_parse(c->role, strlen(c->role), &role) != 0)
        errors->role = "Select a valid role: user, instructor or admin.";
    return errors->email || errors->role ? ERR_INVALID : 0;
}

/* See auth.h. */
int auth_user_change(auth_t *a, int64_t id, const auth_user_change_t *c, int64_t now, buf_t *out,
                     auth_user_errors_t *errors)
{
    int rc = auth_user_change_validate(c, errors);
    db_user_change_t dc = {0};
    dc.set_email = c->email != NULL;
    dc.email = c->email;
    dc.set_role = c->role != NULL;
    if (dc.set_role)
        (void)db_role_parse(c->role, strlen(c->role), &dc.role);
    dc.set_active = c->set_active;
    dc.is_active = c->is_active;
    dc.set_email_verified = c->set_email_verified;
    dc.email_verified = c->email_verified;
    bool revoked = false;
    db_user_t before;
    memset(&before, 0, sizeof before);
    if (rc == 0)
        rc = db_user_admin_update(a->db, id, &dc, now, &revoked, &before);
    if (rc == ERR_CONFLICT)
        errors->email = "A user with that email already exists.";
    else if (rc != ERR_INVALID)
        rc = auth__map_db(rc);
    if (rc == 0) {
        if (revoked)
            auth__index_revoke_user(a, id, now); /* the old claims die with the tokens */
        auth__user_drop(a, id);
        store_user_changed(a->store, id);
    }
    db_user_t u;
    memset(&u, 0, sizeof u);
    if (rc == 0 && out)
        rc = load_append(a, id, &u, out);
    char more[96], detail[128];
    snprintf(more, sizeof more, "fields=%s%s%s%s revoked=%s", c->email ? "email," : "",
             c->role ? "role," : "", c->set_active ? "is_active," : "",
             c->set_email_verified ? "email_verified," : "", revoked ? "yes" : "no");
    audit_info(NULL, .event = "admin_user_update", .outcome = outcome_of(rc), .user_id = id,
               .username = before.username, .reason = reason_of(rc),
               .detail = target_detail(detail, sizeof detail, id, more));
    db_user_dispose(&u);
    db_user_dispose(&before);
    return rc;
}

/* Deletes user id (its tombstone one second ahead) and drops it from the index and caches. */
static int delete_user(auth_t *a, int64_t id, int64_t now)
{
    int rc = auth__map_db(db_user_delete(a->db, id, now + 1));
    if (rc != 0)
        return rc;
    auth__index_revoke_user(a, id, now + 1); /* drops its cache tiers too */
    store_user_changed(a->store, id);
    return 0;
}

/* See auth.h. */
int auth_user_delete(auth_t *a, int64_t id, int64_t now)
{
    db_user_t u;
    int rc = auth__map_db(db_user_find_by_id(a->db, id, &u));
    if (rc == 0)
        rc = delete_user(a, id, now);
    char detail[48];
    audit_info(NULL, .event = "admin_user_delete", .outcome = outcome_of(rc), .user_id = id,
               .username = u.username, .reason = reason_of(rc),
               .detail = target_detail(detail, sizeof detail, id, NULL));
    db_user_dispose(&u);
    return rc;
}

/* See auth.h. */
int auth_admin_user_revoke(auth_t *a, int64_t id, int64_t now)
{
    int rc = auth_user_revoke_all(a, id, now);
    char detail[48];
    audit_info(NULL, .event = "admin_user_revoke", .outcome = outcome_of(rc), .user_id = id,
               .reason = reason_of(rc), .detail = target_detail(detail, sizeof detail, id, NULL));
    return rc;
}

/* See auth.h. */
int auth_account_delete(auth_t *a, int64_t user_id, const char *password, size_t password_len,
                        const auth_client_t *client, int64_t now)
{
    db_user_t u;
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0) {
        db_user_dispose(&u);
        return auth__map_db(rc);
    }
    bool ok = auth_password_verify(u.password_hash, password, password_len);
    auth__guard_login_done(a, u.username, client, ok);
    if (!ok) {
        audit_warn(NULL, .event = "account_deleted", .outcome = "failure", .user_id = user_id,
                   .username = u.username, .reason = "bad_password");
        db_user_dispose(&u);
        return ERR_PERMISSION;
    }
    rc = delete_user(a, user_id, now);
    audit_info(NULL, .event = "account_deleted", .outcome = outcome_of(rc), .user_id = user_id,
               .username = u.username, .reason = reason_of(rc));
    db_user_dispose(&u);
    return rc;
}

/*
 * sessions.c - the signed-in user's sessions (API.md section 7), for the web UI's
 * "active sessions" list:
 *
 *   GET    /auth/sessions        {"sessions":[{"sid","created_at","last_used_at",
 *                                "client_ip","user_agent","current"}]}, newest first
 *   DELETE /auth/sessions/{sid}  revokes one of the user's sessions (204; 404 when the sid
 *                                is not one of theirs); its access tokens fail at once
 *   DELETE /auth/sessions        "sign out everywhere": every session of the user (204)
 *
 * Bearer-authenticated (jose + the revocation index on the loop); the database work runs
 * on the blocking pool. Revocation goes through the auth service so the index sees it.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/web.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "db/db.h"
#include "runtime/alloc.h"

enum kind { LIST, REVOKE_ONE, REVOKE_ALL };

struct route_ctx {
    auth_t *auth;
    db_t *db;
};

struct job {
    struct route_ctx *ctx;
    enum kind kind;
    int64_t user_id;
    char current_sid[DB_ID_MAX + 1];
    char target_sid[DB_ID_MAX + 1];
    int rc;
    db_session_list_t list;
};

static struct route_ctx g_ctx;

static void job_free(struct job *j)
{
    if (j->kind == LIST)
        db_session_list_dispose(&j->list);
    free(j);
}

static void work(void *arg)
{
    struct job *j = arg;
    int64_t now = clock_now_s();
    switch (j->kind) {
    case LIST:
        j->rc = db_session_list_active(j->ctx->db, j->user_id, now, &j->list);
        break;
    case REVOKE_ONE: {
        db_session_t s;
        memset(&s, 0, sizeof s);
        j->rc = db_session_get(j->ctx->db, j->target_sid, &s);
        if (j->rc == 0) {
            bool mine = s.user_id == j->user_id;
            db_session_dispose(&s);
            j->rc = mine ? auth_revoke_session(j->ctx->auth, j->target_sid, now) : ERR_NOT_FOUND;
        }
        break;
    }
    case REVOKE_ALL:
        j->rc = auth_user_revoke_all(j->ctx->auth, j->user_id, now);
        break;
    }
    if (j->rc != 0 && j->rc != ERR_NOT_FOUND)
        j->rc = ERR_UNAVAILABLE;
}

static void done(http_req_t *req, void *arg, int status)
{
    struct job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == ERR_NOT_FOUND) {
        http_respond_error(req, ERR_NOT_FOUND, "No such session.");
    } else if (rc != 0) {
        api__failure(req, rc);
    } else if (j->kind != LIST) {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 204, NULL, STR_NULL);
    } else {
        buf_t b;
        buf_init(&b, 4u << 20);
        buf_append_cstr(&b, "{\"sessions\":[");
        for (size_t i = 0; i < j->list.count; i++) {
            const db_session_t *s = &j->list.items[i];
            if (i)
                buf_append_char(&b, ',');
            buf_append_cstr(&b, "{\"sid\":");
            jsonw_buf_str(&b, s->sid, strlen(s->sid));
            buf_printf(&b, ",\"created_at\":%" PRId64 ",\"last_used_at\":%" PRId64, s->created_at,
                       s->last_used_at);
            buf_append_cstr(&b, ",\"client_ip\":");
            const char *ip = s->client_ip ? s->client_ip : "";
            jsonw_buf_str(&b, ip, strlen(ip));
            buf_append_cstr(&b, ",\"user_agent\":");
            const char *ua = s->user_agent ? s->user_agent : "";
            jsonw_buf_str(&b, ua, strlen(ua));
            buf_append_cstr(&b, strcmp(s->sid, j->current_sid) == 0 ? ",\"current\":true}"
                                                                    : ",\"current\":false}");
        }
        buf_append_cstr(&b, "]}");
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 200, API_JSON_CT, buf_str(&b));
        buf_dispose(&b);
    }
    job_free(j);
}

/* Authenticates the Bearer token and submits kind. */
static void start(http_req_t *req, enum kind kind)
{
    struct route_ctx *ctx = req->route_data;
    str_t bearer;
    int rc = api__bearer(req, &bearer);
    if (rc != 0) {
        api__bearer_error(req, rc, AUTH_INVALID);
        return;
    }
    jwtv_claims *c = http_req_alloc(req, sizeof *c);
    enum auth_verdict v = auth_verify_access(ctx->auth, bearer, 0, c);
    if (v != AUTH_OK) {
        api__bearer_error(req, 0, v);
        return;
    }
    int64_t uid;
    if (auth_parse_user_id(c->user_id, &uid) != 0) {
        api__bearer_error(req, 0, AUTH_INVALID);
        return;
    }
    struct job *j = xcalloc(1, sizeof *j);
    j->ctx = ctx;
    j->kind = kind;
    j->user_id = uid;
    if (c->sid && strlen(c->sid) <= DB_ID_MAX)
        snprintf(j->current_sid, sizeof j->current_sid, "%s", c->sid);
    if (kind == REVOKE_ONE) {
        str_t sid = http_req_param(req, "sid");
        if (sid.len == 0 || sid.len > DB_ID_MAX) {
            free(j);
            http_respond_error(req, ERR_NOT_FOUND, "No such session.");
            return;
        }
        memcpy(j->target_sid, sid.ptr, sid.len);
    }
    if (http_pool_submit(req, work, done, j) != 0) {
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

static void on_list(http_req_t *req)
{
    start(req, LIST);
}

static void on_revoke_one(http_req_t *req)
{
    start(req, REVOKE_ONE);
}

static void on_revoke_all(http_req_t *req)
{
    start(req, REVOKE_ALL);
}

/* See api.h. */
int api_sessions_register(http_router_t *router, auth_t *auth, struct db *db)
{
    g_ctx.auth = auth;
    g_ctx.db = db;
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_GET, "/auth/sessions", on_list, &g_ctx);
    rc |= http_router_add(router, HTTP_M_DELETE, "/auth/sessions", on_revoke_all, &g_ctx);
    rc |= http_router_add(router, HTTP_M_DELETE, "/auth/sessions/{sid}", on_revoke_one, &g_ctx);
    return rc ? ERR_INVALID : 0;
}

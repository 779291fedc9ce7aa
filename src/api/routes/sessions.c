/*
 * sessions.c - the signed-in user's sessions, for the web UI's "active sessions" list:
 *
 *   GET    /auth/sessions        {"sessions":[{"sid","created_at","last_used_at",
 *                                "client_ip","user_agent","current"}]}, newest first
 *   DELETE /auth/sessions/{sid}  revokes one of the user's sessions (204; 404 when the sid
 *                                is not one of theirs); its access tokens fail at once
 *   DELETE /auth/sessions        "sign out everywhere": every session of the user (204)
 *
 * The caller's token is checked on the loop; the service's queries and revocations run on
 * the blocking pool.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes/routes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

enum kind { LIST, REVOKE_ONE, REVOKE_ALL };

struct job {
    auth_t *auth;
    enum kind kind;
    int64_t user_id;
    char current_sid[AUTH_ID_MAX + 1];
    char target_sid[AUTH_ID_MAX + 1];
    int rc;
    auth_session_list_t list;
};

static void job_free(void *arg)
{
    struct job *j = arg;
    auth_session_list_dispose(&j->list);
    free(j);
}

static void work(void *arg)
{
    struct job *j = arg;
    int64_t now = clock_now_s();
    switch (j->kind) {
    case LIST:
        j->rc = auth_sessions_list(j->auth, j->user_id, now, &j->list);
        break;
    case REVOKE_ONE:
        j->rc = auth_revoke_own_session(j->auth, j->user_id, j->target_sid, now);
        break;
    case REVOKE_ALL:
        j->rc = auth_user_revoke_all(j->auth, j->user_id, now);
        break;
    }
    if (j->rc != 0 && j->rc != ERR_NOT_FOUND)
        j->rc = ERR_UNAVAILABLE;
}

static void respond_list(http_req_t *req, const struct job *j)
{
    buf_t b;
    buf_init(&b, 4u << 20);
    buf_append_cstr(&b, "{\"sessions\":[");
    for (size_t i = 0; i < j->list.count; i++) {
        const auth_session_t *s = &j->list.items[i];
        if (i)
            buf_append_char(&b, ',');
        buf_append_cstr(&b, "{\"sid\":");
        jsonw_buf_cstr(&b, s->sid);
        buf_printf(&b, ",\"created_at\":%" PRId64 ",\"last_used_at\":%" PRId64, s->created_at,
                   s->last_used_at);
        buf_append_cstr(&b, ",\"client_ip\":");
        jsonw_buf_cstr(&b, s->client_ip);
        buf_append_cstr(&b, ",\"user_agent\":");
        jsonw_buf_cstr(&b, s->user_agent);
        buf_append_cstr(&b, strcmp(s->sid, j->current_sid) == 0 ? ",\"current\":true}"
                                                                : ",\"current\":false}");
    }
    buf_append_cstr(&b, "]}");
    api__respond_nostore(req, 200, buf_str(&b));
    buf_dispose(&b);
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
        respond_list(req, j);
    }
    job_free(j);
}

/* GET /auth/sessions (list), DELETE /auth/sessions (revoke all) and DELETE
   /auth/sessions/{sid} (revoke one; {sid} is never empty): authenticates the Bearer token
   and submits the method's job. */
static void on_sessions(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    str_t sid = http_req_param(req, "sid");
    /* HEAD is a GET */
    enum kind kind = req->method != HTTP_M_DELETE ? LIST : sid.ptr ? REVOKE_ONE : REVOKE_ALL;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    if (kind == REVOKE_ONE && (sid.len == 0 || sid.len > AUTH_ID_MAX)) {
        http_respond_error(req, ERR_NOT_FOUND, "No such session.");
        return;
    }
    struct job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->kind = kind;
    j->user_id = t->user_id;
    memcpy(j->current_sid, t->sid, sizeof j->current_sid);
    if (kind == REVOKE_ONE)
        memcpy(j->target_sid, sid.ptr, sid.len);
    api__submit(req, work, done, j, job_free);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/auth/sessions", on_sessions},
    {HTTP_M_DELETE, "/auth/sessions", on_sessions},
    {HTTP_M_DELETE, "/auth/sessions/{sid}", on_sessions},
};

/* See routes.h. */
const api_family_t api_sessions_family = API_FAMILY(ROUTES, NULL);

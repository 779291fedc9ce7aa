/*
 * introspect.c - GET /auth/introspect (API.md section 7), the subrequest target of nginx's
 * auth_request: 204 with X-User-Id, X-Username and X-User-Role for a valid access token,
 * 401 otherwise, 503 when jwtd cannot decide. An optional `?role=admin[,instructor]`
 * makes it also require one of those roles (403 otherwise) for role-restricted locations.
 *
 * This is the per-request cost every proxied request pays, so it is the hot path of
 * jwtd: the Bearer token is verified on the worker's loop (jose + the in-memory revocation
 * index), with no database, no pool hop and no allocation beyond the request arena. A
 * revocation made on this instance is in the index before the revoking request is
 * answered, so a logged-out token is refused by the very next subrequest.
 *
 * "Cannot decide" (503): the revocation index is only trusted while its feed is fresh.
 * When the feed has been failing for longer than STALE_AFTER_S (the database that records
 * revocations made by other processes is unreachable), a token that verifies may still be
 * one revoked elsewhere, so the answer is 503 rather than a possibly wrong 204; nginx then
 * answers 500 to the client (fail closed). Bad tokens are still 401: refusing needs no
 * fresh data.
 *
 * GET /auth/revocations?since=T (admin token) is the optional feed for edge verifiers that
 * check tokens locally (examples/resource-server-c, a gateway with a JWKS): every access-
 * token jti revoked and not yet expired, every session revoked at or after T, and every
 * user watermark at or after T (default T: now - access-token lifetime), read from the
 * database (the durable record the index is loaded from) on the blocking pool. Trade-off:
 * a verifier polling it every N seconds rejects a revoked token within N seconds at one
 * small query per poll per verifier, instead of never (plain JWKS verification) or at once
 * (introspection: one hop per request).
 *
 * Header values come from verified claims; a claim containing CR/LF or other control
 * bytes (which jwtv already refuses for NULs) is not copied into a header: the token is
 * refused instead, so a token can never inject a header into the upstream request.
 */
#define LOG_MODULE "api"
#include "api/api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/web.h"
#include "auth/auth.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"

/* A feed that has not succeeded for this long makes verdicts undecidable. */
#define STALE_AFTER_S 30

static bool header_safe(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* Looked up at most once a second per loop thread: store_stats takes the store's locks. */
static bool feed_is_stale(auth_t *a, int64_t now)
{
    static _Thread_local int64_t checked_at;
    static _Thread_local bool stale;
    if (now != checked_at) {
        store_stats_t st;
        store_stats(auth_store(a), &st);
        stale = st.pulls_failed > 0 && st.last_pull_at > 0 && now - st.last_pull_at > STALE_AFTER_S;
        checked_at = now;
    }
    return stale;
}

/*
 * ?role=admin or ?role=instructor,admin: the token's role must be one of them (403
 * otherwise), so an nginx location can require a role with its own auth_request URI. No
 * `role` parameter: any role.
 */
static bool role_allowed(http_req_t *req, const char *role)
{
    str_t want;
    if (http_req_query(req, "role", &want) != 0)
        return true;
    if (!role)
        return false;
    size_t rl = strlen(role);
    size_t i = 0;
    while (i <= want.len) {
        size_t s = i;
        while (i < want.len && want.ptr[i] != ',')
            i++;
        str_t one = str_trim(str_make(want.ptr + s, i - s));
        if (one.len == rl && memcmp(one.ptr, role, rl) == 0)
            return true;
        i++;
    }
    return false;
}

static void on_introspect(http_req_t *req)
{
    auth_t *a = req->route_data;
    str_t token;
    int rc = api__bearer(req, &token);
    if (rc != 0) {
        api__bearer_error(req, rc, AUTH_INVALID);
        return;
    }
    jwtv_claims *c = api_claims_scratch();
    enum auth_verdict v = auth_verify_access(a, token, 0, c);
    if (v == AUTH_OK && (!c->user_id || !header_safe(c->user_id) || !header_safe(c->username) ||
                         !header_safe(c->role)))
        v = AUTH_INVALID;
    if (v != AUTH_OK) {
        api__bearer_error(req, 0, v);
        return;
    }
    if (req->query.len && !role_allowed(req, c->role)) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return;
    }
    if (feed_is_stale(a, clock_now_s())) {
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
        return;
    }
    http_resp_header_add(req, "X-User-Id", c->user_id);
    http_resp_header_add(req, "X-Username", c->username ? c->username : "");
    http_resp_header_add(req, "X-User-Role", c->role ? c->role : "");
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 204, NULL, STR_NULL);
}

/* ==== GET /auth/revocations ================================================================= */

static db_t *g_db;
static int64_t g_window_s; /* default look-back: the access-token lifetime */

struct rev_job {
    int64_t since, now;
    int rc;
    buf_t out;
};

static void rev_work(void *arg)
{
    struct rev_job *j = arg;
    db_revoked_list_t jl = {0};
    db_session_list_t sl = {0};
    db_watermark_list_t wl = {0};
    j->rc = db_revoked_list(g_db, j->now, &jl);
    if (j->rc == 0)
        j->rc = db_session_list_revoked(g_db, j->since, &sl);
    if (j->rc == 0)
        j->rc = db_watermark_list(g_db, j->since, &wl);
    if (j->rc == 0) {
        buf_printf(&j->out, "{\"now\":%" PRId64 ",\"since\":%" PRId64 ",\"jtis\":[", j->now,
                   j->since);
        for (size_t i = 0; i < jl.count; i++)
            buf_printf(&j->out, "%s{\"jti\":\"%s\",\"exp\":%" PRId64 "}", i ? "," : "",
                       jl.items[i].jti, jl.items[i].expires_at);
        buf_append_cstr(&j->out, "],\"sids\":[");
        for (size_t i = 0; i < sl.count; i++)
            buf_printf(&j->out,
                       "%s{\"sid\":\"%s\",\"user_id\":%" PRId64 ",\"revoked_at\":%" PRId64 "}",
                       i ? "," : "", sl.items[i].sid, sl.items[i].user_id, sl.items[i].revoked_at);
        buf_append_cstr(&j->out, "],\"users\":[");
        for (size_t i = 0; i < wl.count; i++)
            buf_printf(&j->out, "%s{\"user_id\":%" PRId64 ",\"revoke_before\":%" PRId64 "}",
                       i ? "," : "", wl.items[i].user_id, wl.items[i].revoke_before);
        buf_append_cstr(&j->out, "]}");
    }
    db_revoked_list_dispose(&jl);
    db_session_list_dispose(&sl);
    db_watermark_list_dispose(&wl);
}

static void rev_done(http_req_t *req, void *arg, int status)
{
    struct rev_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 200, API_JSON_CT, buf_str(&j->out));
    } else {
        api__failure(req, rc);
    }
    buf_dispose(&j->out);
    free(j);
}

/* Parses ?since= (Unix seconds, 0 .. now + 1 day). Returns false when present and bad. */
static bool parse_since(http_req_t *req, int64_t now, int64_t *since)
{
    str_t v;
    int rc = http_req_query(req, "since", &v);
    if (rc == ERR_DECLINED)
        return true;
    if (rc != 0 || v.len == 0 || v.len > 18)
        return false;
    int64_t s = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        s = s * 10 + (v.ptr[i] - '0');
    }
    if (s > now + 86400)
        return false;
    *since = s;
    return true;
}

static void on_revocations(http_req_t *req)
{
    auth_t *a = req->route_data;
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate_role(req, a, "admin", c, &uid) != 0)
        return;
    int64_t now = clock_now_s();
    int64_t since = now - g_window_s;
    if (!parse_since(req, now, &since)) {
        http_respond(req, 400, API_JSON_CT,
                     STR_LIT("{\"detail\":\"since must be Unix seconds\",\"code\":"
                             "\"invalid_request\",\"since\":[\"since must be Unix seconds\"]}"));
        return;
    }
    struct rev_job *j = xcalloc(1, sizeof *j);
    j->since = since;
    j->now = now;
    buf_init(&j->out, 64u << 20);
    if (http_pool_submit(req, rev_work, rev_done, j) != 0) {
        buf_dispose(&j->out);
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

/* See api.h. */
int api_introspect_register(http_router_t *router, auth_t *auth, struct db *db, int64_t window_s)
{
    g_db = db;
    g_window_s = window_s > 0 ? window_s : 900;
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_GET, "/auth/introspect", on_introspect, auth);
    rc |= http_router_add(router, HTTP_M_GET, "/auth/revocations", on_revocations, auth);
    return rc ? ERR_INVALID : 0;
}

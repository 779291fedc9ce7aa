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
 * Header values come from verified claims; a claim containing CR/LF or other control
 * bytes (which jwtv already refuses for NULs) is not copied into a header: the token is
 * refused instead, so a token can never inject a header into the upstream request.
 */
#define LOG_MODULE "api"
#include "api/api.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/web.h"
#include "auth/auth.h"
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
    jwtv_claims *c = http_req_alloc(req, sizeof *c);
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

/* See api.h. */
int api_introspect_register(http_router_t *router, auth_t *auth)
{
    return http_router_add(router, HTTP_M_GET, "/auth/introspect", on_introspect, auth)
               ? ERR_INVALID
               : 0;
}

/*
 * introspect.c - GET /auth/introspect, the subrequest target of nginx's auth_request: 204
 * with X-User-Id, X-Username and X-User-Role for a valid access token, 401 otherwise, 503
 * when jwtd cannot decide. An optional `?role=admin[,instructor]` makes it also require one
 * of those roles (403 otherwise) for role-restricted locations. And GET /auth/revocations
 * (admin), the revocations that can still matter, for verifiers that check tokens locally.
 *
 * This is the per-request cost every proxied request pays, so it is the hot path of jwtd:
 * the Bearer token is verified on the worker's loop (the service's verified-token cache,
 * then the in-memory revocation index), with no database, no pool hop and no allocation
 * beyond the request arena. A revocation made on this instance is in the index before the
 * revoking request is answered, so a logged-out token is refused by the very next
 * subrequest.
 *
 * "Cannot decide" (503): the revocation index is only trusted while its feed is fresh
 * (auth_revocations_current); when the database that records other processes'
 * revocations has been unreachable for too long, a token that verifies may still be one
 * revoked elsewhere, so the answer is 503 rather than a possibly wrong 204; nginx then
 * answers 500 to the client (fail closed). Bad tokens are still 401: refusing needs no
 * fresh data.
 *
 * GET /auth/revocations?since=T (admin token): every access-token jti revoked and not yet
 * expired, every session revoked at or after T, every user watermark at or after T (default
 * T: now - access-token lifetime), read from the database on the blocking pool. A verifier
 * polling it every N seconds rejects a revoked token within N seconds, at one small query
 * per poll.
 *
 * Header values come from verified claims; a claim containing CR/LF or other control bytes
 * is not copied into a header: the token is refused instead, so a token can never inject a
 * header into the upstream request.
 */
#define LOG_MODULE "api"
#include <stdlib.h>
#include <string.h>

#include "api/routes/routes.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"

static bool header_safe(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/*
 * ?role=admin or ?role=instructor,admin: the token's role must be one of them, so that an
 * nginx location can require a role with its own auth_request URI. No `role`: any role.
 */
static bool role_allowed(http_req_t *req, const auth_token_ref_t *t)
{
    str_t want;
    if (http_req_query(req, "role", &want) != 0)
        return true;
    if (!t->has_role)
        return false;
    size_t rl = strlen(t->role), i = 0;
    while (i <= want.len) {
        size_t s = i;
        while (i < want.len && want.ptr[i] != ',')
            i++;
        str_t one = str_trim(str_make(want.ptr + s, i - s));
        if (one.len == rl && memcmp(one.ptr, t->role, rl) == 0)
            return true;
        i++;
    }
    return false;
}

static void on_introspect(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const api_locals_t *caller = api__caller_presented(req, ctx);
    if (!caller)
        return;
    const auth_token_ref_t *t = &caller->ref;
    enum auth_verdict v = caller->verdict;
    if (v == AUTH_OK && (!t->has_user_id || !header_safe(t->user_id_str) ||
                         !header_safe(t->username) || !header_safe(t->role)))
        v = AUTH_INVALID;
    if (v != AUTH_OK) {
        api__bearer_error(req, ctx, 0, v);
        return;
    }
    if (req->query.len && !role_allowed(req, t)) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return;
    }
    if (!auth_revocations_current(ctx->auth, clock_now_s())) {
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
        return;
    }
    http_resp_header_add(req, "X-User-Id", t->user_id_str);
    http_resp_header_add(req, "X-Username", t->username);
    http_resp_header_add(req, "X-User-Role", t->role);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 204, NULL, STR_NULL);
}

/* ==== GET /auth/revocations =====================================================================
 */

struct rev_job {
    auth_t *auth;
    int64_t since, now;
};

static int rev_work(void *arg, buf_t *out)
{
    struct rev_job *j = arg;
    return auth_revocations_json(j->auth, j->since, j->now, out);
}

/* Parses ?since= (Unix seconds, 0 .. now + 1 day). Returns false when present and bad. */
static bool parse_since(http_req_t *req, int64_t now, int64_t *since)
{
    str_t v;
    int rc = http_req_query(req, "since", &v);
    if (rc == ERR_DECLINED)
        return true;
    uint64_t s;
    if (rc != 0 || !str_to_u64(v, (uint64_t)now + 86400, &s))
        return false;
    *since = (int64_t)s;
    return true;
}

static void on_revocations(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    str_t bearer;
    if (api__bearer(req, &bearer) == 0 && auth_verifier_key_shape(bearer)) {
        api__feed_poll(req); /* a resource server's verifier key: the feed (feed.c) */
        return;
    }
    if (!api__authenticate_role(req, ctx, "admin"))
        return;
    int64_t now = clock_now_s();
    int64_t since = now - ctx->o.revocations_window_s;
    if (!parse_since(req, now, &since)) {
        api__bad_request(req, "since", "since must be Unix seconds");
        return;
    }
    struct rev_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->since = since;
    j->now = now;
    api__submit_json(req, rev_work, j, free, 64u << 20);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/auth/introspect", on_introspect},
    {HTTP_M_GET, "/auth/revocations", on_revocations},
};

/* See routes.h. */
const api_family_t api_introspect_family = API_FAMILY(ROUTES, NULL);

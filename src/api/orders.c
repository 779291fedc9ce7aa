/*
 * orders.c - GET /api/orders/ (API.md section 3, seed 000): the orders of the
 * authenticated user, answered from a per-user, per-token cache.
 *
 * Semantics of seed 000's OrderListView, kept: {"cached": bool, "data": [...]}; an entry
 * per (user, access token) lives 15 minutes (never past the token's expiry); a successful
 * refresh of any of the user's sessions drops all of the user's entries (auth_refresh drops
 * the cache group "user:<id>", on every instance when the store is on Redis). The orders
 * themselves are seed 000's fake "database" (two fixed orders of the user).
 *
 * Fixed: seed 000's login and refresh views write {"username": ...} under the SAME key the
 * orders view reads, so its first GET after a login answers {"cached": true, "data":
 * {"username": ...}}. Here the key is "orders:<user_id>:<jti>" and nothing but this route
 * writes under "orders:": the first GET with a new token is always a miss with the orders.
 * (The key uses the jti, not the token text: shorter, and the same token has one jti.)
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonw.h"
#include "store/store.h"

#define ORDERS_TTL_S 900 /* seed 000: 60 * 15 */

struct orders_ctx {
    http_req_t *req;
    auth_t *auth;
    int64_t user_id;
    int64_t exp;
    char key[128];
    char username[160];
};

static void respond_orders(http_req_t *req, bool cached, str_t data)
{
    buf_t b;
    buf_init(&b, 1u << 20);
    buf_append_cstr(&b, cached ? "{\"cached\":true,\"data\":" : "{\"cached\":false,\"data\":");
    buf_append_str(&b, data);
    buf_append_char(&b, '}');
    http_respond(req, 200, API_JSON_CT, str_make((const char *)b.data, b.len));
    buf_dispose(&b);
}

/* Seed 000's get_orders_from_db(user). */
static void orders_from_db(const char *username, buf_t *out)
{
    size_t n = strlen(username);
    buf_append_cstr(out,
                    "[{\"id\":1,\"product\":\"\xEB\x85\xB8\xED\x8A\xB8\xEB\xB6\x81\",\"user\":");
    jsonw_buf_str(out, username, n);
    buf_append_cstr(out,
                    "},{\"id\":2,\"product\":\"\xEB\xA7\x88\xEC\x9A\xB0\xEC\x8A\xA4\",\"user\":");
    jsonw_buf_str(out, username, n);
    buf_append_cstr(out, "}]");
}

static void on_cached(void *arg, int status, str_t value)
{
    struct orders_ctx *c = arg;
    if (status == 0) {
        respond_orders(c->req, true, value);
        return;
    }
    buf_t data;
    buf_init(&data, 1u << 20);
    orders_from_db(c->username, &data);
    int64_t ttl = c->exp - clock_now_s();
    if (ttl > ORDERS_TTL_S)
        ttl = ORDERS_TTL_S;
    if (ttl > 0) {
        char group[AUTH_USER_GROUP_MAX];
        auth_user_cache_group(c->user_id, group);
        store_cache_set(auth_store(c->auth), c->key, str_make((const char *)data.data, data.len),
                        (uint32_t)ttl, group);
    }
    respond_orders(c->req, false, str_make((const char *)data.data, data.len));
    buf_dispose(&data);
}

static void on_orders(http_req_t *req)
{
    auth_t *a = req->route_data;
    str_t tok;
    int rc = api__bearer(req, &tok);
    if (rc != 0) {
        api__bearer_error(req, rc, 0);
        return;
    }
    jwtv_claims *claims = http_req_alloc(req, sizeof *claims);
    enum auth_verdict v = auth_verify_access(a, tok, 0, claims);
    int64_t uid;
    if (v == AUTH_OK && (!claims->user_id || auth_parse_user_id(claims->user_id, &uid) != 0))
        v = AUTH_INVALID;
    if (v != AUTH_OK) {
        api__bearer_error(req, 0, (int)v);
        return;
    }
    struct orders_ctx *c = http_req_alloc(req, sizeof *c);
    memset(c, 0, sizeof *c);
    c->req = req;
    c->auth = a;
    c->user_id = uid;
    c->exp = claims->has_exp ? claims->exp : clock_now_s() + ORDERS_TTL_S;
    snprintf(c->key, sizeof c->key, "orders:%" PRId64 ":%.64s", uid, claims->jti);
    snprintf(c->username, sizeof c->username, "%s", claims->username ? claims->username : "");
    store_cache_get(auth_store(a), c->key, on_cached, c);
}

/* See api.h. */
int api_orders_register(http_router_t *router, auth_t *auth)
{
    return http_router_add(router, HTTP_M_GET, "/api/orders/", on_orders, auth);
}

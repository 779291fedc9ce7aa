/*
 * order_cache.c - the storage of GET /api/orders/: the orders themselves (a fixed
 * "database" of two orders per user) and their per-user, per-token cache in the shared
 * store (the API-response tier): an entry per (user, access token jti),
 * "orders:<user_id>:<jti>", lives JWTD_API_CACHE_TTL (api_cache_ttl_s; 0 = no cache) and never
 * past the token's expiry, in the group "orders:user:<user_id>". The wing registers that group
 * with the token service, so a renewal of any of the user's tokens and any change to the user
 * drop all of the user's entries, on every instance when the store is on Redis.
 *
 * Nothing but this file writes under "orders:": the first GET with a new token is always a
 * miss with the orders. (The key uses the jti, not the token text: shorter, and the same
 * token has one jti.)
 */
#define LOG_MODULE "resource"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "resource/resource_internal.h"
#include "runtime/alloc.h"
#include "store/store.h"

#define GROUP_PREFIX "orders:user:"

/* See resource_internal.h. */
void resource__orders_key(int64_t user_id, const char *jti, char key[RESOURCE_ORDERS_KEY_MAX])
{
    snprintf(key, RESOURCE_ORDERS_KEY_MAX, "orders:%" PRId64 ":%.64s", user_id, jti);
}

struct lookup {
    resource_t *res;
    void (*cb)(void *arg, bool cached, str_t data);
    void *arg;
    int64_t user_id, exp;
    char key[RESOURCE_ORDERS_KEY_MAX];
    char username[AUTH_CLAIM_NAME_MAX + 1];
};

/* The orders of a user. */
static void orders_of(const char *username, buf_t *out)
{
    buf_append_cstr(out,
                    "[{\"id\":1,\"product\":\"\xEB\x85\xB8\xED\x8A\xB8\xEB\xB6\x81\",\"user\":");
    jsonw_buf_cstr(out, username);
    buf_append_cstr(out,
                    "},{\"id\":2,\"product\":\"\xEB\xA7\x88\xEC\x9A\xB0\xEC\x8A\xA4\",\"user\":");
    jsonw_buf_cstr(out, username);
    buf_append_cstr(out, "}]");
}

static void on_cached(void *arg, int status, str_t value)
{
    struct lookup *l = arg;
    if (status == 0) {
        l->cb(l->arg, true, value);
        free(l);
        return;
    }
    buf_t data;
    buf_init(&data, 1u << 20);
    orders_of(l->username, &data);
    int64_t ttl = l->exp - clock_now_s();
    if (ttl > l->res->api_cache_ttl_s)
        ttl = l->res->api_cache_ttl_s;
    if (ttl > 0) {
        char group[AUTH_CACHE_GROUP_NAME_MAX];
        auth_cache_group_name(GROUP_PREFIX, l->user_id, group);
        store_cache_set(l->res->store, l->key, buf_str(&data), (uint32_t)ttl, group);
    }
    l->cb(l->arg, false, buf_str(&data));
    buf_dispose(&data);
    free(l);
}

/* See resource_internal.h. */
void resource__orders_get(resource_t *res, int64_t user_id, const char *jti, int64_t exp,
                          const char *username, void (*cb)(void *arg, bool cached, str_t data),
                          void *arg)
{
    struct lookup *l = xcalloc(1, sizeof *l);
    l->res = res;
    l->cb = cb;
    l->arg = arg;
    l->user_id = user_id;
    l->exp = exp ? exp : clock_now_s() + res->api_cache_ttl_s;
    resource__orders_key(user_id, jti, l->key);
    snprintf(l->username, sizeof l->username, "%s", username);
    if (!res->api_cache_ttl_s) {
        on_cached(l, ERR_NOT_FOUND, STR_NULL); /* the tier is off: always computed */
        return;
    }
    store_cache_get(res->store, l->key, on_cached, l);
}

/* See resource_internal.h. */
int resource__orders_init(resource_t *res)
{
    return auth_cache_group_register(res->ctx->auth, GROUP_PREFIX);
}

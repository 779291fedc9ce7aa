/*
 * orders.c - GET /api/orders/: the orders of the authenticated user, answered from a
 * per-user, per-token cache ({"cached": bool, "data": [...]}; storage: order_cache.c). A
 * refresh of any of the user's sessions drops the user's entries.
 */
#define LOG_MODULE "resource"
#include "common/err.h"
#include "resource/resource_internal.h"

static void on_orders_data(void *arg, bool cached, str_t data)
{
    http_req_t *req = arg;
    buf_t b;
    buf_init(&b, 1u << 20);
    buf_append_cstr(&b, cached ? "{\"cached\":true,\"data\":" : "{\"cached\":false,\"data\":");
    buf_append_str(&b, data);
    buf_append_char(&b, '}');
    http_respond(req, 200, API_JSON_CT, buf_str(&b));
    buf_dispose(&b);
}

static void on_orders(http_req_t *req)
{
    resource_t *res = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, res->ctx);
    if (t)
        resource__orders_get(res, t->user_id, t->jti, t->exp, t->username, on_orders_data, req);
}

/* See resource_internal.h. */
int resource__orders_register(http_router_t *r, resource_t *res)
{
    return http_router_add(r, HTTP_M_GET, "/api/orders/", on_orders, res);
}

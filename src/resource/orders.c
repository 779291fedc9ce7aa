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
    api__respond_buf(req, 200, &b);
}

static void on_orders(http_req_t *req)
{
    const auth_token_ref_t *t = resource__caller(req, NULL);
    if (t)
        resource__orders_get(req->route_data, t->user_id, t->jti, t->exp, t->username,
                             on_orders_data, req);
}

static const api_route_t ROUTES[] = {{HTTP_M_GET, "/api/orders/", on_orders}};

/* See resource_internal.h. */
const api_family_t resource__orders_family = API_FAMILY(ROUTES, NULL);

/*
 * pages.c - GET /, GET /protected and GET /admin/dashboard: answered from the verified
 * token alone, no database. The admin check reads the token's `role` claim, which jwtd
 * always issues.
 */
#define LOG_MODULE "resource"
#include "common/err.h"
#include "common/jsonw.h"
#include "resource/resource_internal.h"

static void on_root(http_req_t *req)
{
    http_respond(req, 200, API_JSON_CT, STR_LIT("{\"status\":\"ok\"}"));
}

/* {"message": msg, "user_id": "<id>", "username": ..., "role": ...} */
static void respond_claims(http_req_t *req, const char *msg, const auth_token_ref_t *t)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"message\":");
    jsonw_buf_cstr(&b, msg);
    buf_append_cstr(&b, ",\"user_id\":");
    jsonw_buf_cstr(&b, t->user_id_str);
    buf_append_cstr(&b, ",\"username\":");
    if (t->has_username)
        jsonw_buf_cstr(&b, t->username);
    else
        buf_append_cstr(&b, "null");
    buf_append_cstr(&b, ",\"role\":");
    if (t->has_role)
        jsonw_buf_cstr(&b, t->role);
    else
        buf_append_cstr(&b, "null");
    buf_append_char(&b, '}');
    http_respond(req, 200, API_JSON_CT, buf_str(&b));
    buf_dispose(&b);
}

static void on_protected(http_req_t *req)
{
    resource_t *res = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, res->ctx);
    if (t)
        respond_claims(req, "Authenticated", t);
}

static void on_admin_dashboard(http_req_t *req)
{
    resource_t *res = req->route_data;
    const auth_token_ref_t *t = api__authenticate_role(req, res->ctx, "admin");
    if (t)
        respond_claims(req, "Welcome to the admin dashboard", t);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/", on_root},
    {HTTP_M_GET, "/protected", on_protected},
    {HTTP_M_GET, "/admin/dashboard", on_admin_dashboard},
};

/* See resource_internal.h. */
int resource__pages_register(http_router_t *r, resource_t *res)
{
    return API_ROUTES_ADD(r, ROUTES, res);
}

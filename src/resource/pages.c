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
    api__respond_buf(req, 200, &b);
}

static void on_protected(http_req_t *req)
{
    const auth_token_ref_t *t = resource__caller(req, NULL);
    if (t)
        respond_claims(req, "Authenticated", t);
}

static void on_admin_dashboard(http_req_t *req)
{
    const auth_token_ref_t *t = resource__caller(req, "admin");
    if (t)
        respond_claims(req, "Welcome to the admin dashboard", t);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/", on_root},
    {HTTP_M_GET, "/protected", on_protected},
    {HTTP_M_GET, "/admin/dashboard", on_admin_dashboard},
};

/* See resource_internal.h. */
const api_family_t resource__pages_family = API_FAMILY(ROUTES, NULL);

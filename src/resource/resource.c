/*
 * resource.c - the resource wing's construction and mounting (see resource.h).
 */
#define LOG_MODULE "resource"
#include "resource/resource.h"

#include <stdlib.h>

#include "common/err.h"
#include "resource/resource_internal.h"
#include "runtime/alloc.h"

/* See resource.h. */
int resource_new(const resource_options_t *o, api_ctx_t *ctx, struct db *db, resource_t **out)
{
    if (!o || !ctx || !db)
        return ERR_INVALID;
    resource_t *res = xcalloc(1, sizeof *res);
    res->ctx = ctx;
    res->db = db;
    res->store = auth_store(ctx->auth);
    res->upload_dir = xstrdup(o->upload_dir && *o->upload_dir ? o->upload_dir : "var/uploads");
    res->max_upload_bytes = o->max_upload_bytes;
    res->posts_cache_ttl_s = o->posts_cache_ttl_s;
    res->api_cache_ttl_s = o->api_cache_ttl_s;
    int rc = resource__uploads_init(res);
    if (rc == 0)
        rc = resource__orders_init(res);
    if (rc != 0) {
        resource_free(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* See resource.h. */
int resource_mount(resource_t *res, http_router_t *r)
{
    static const api_family_t *const families[] = {
        &resource__orders_family, &resource__pages_family, &resource__uploads_family,
        &resource__users_family,  &resource__posts_family,
    };
    return api__families_add(r, families, sizeof families / sizeof families[0], res);
}

/* See resource.h. */
void resource_free(resource_t *res)
{
    if (!res)
        return;
    free(res->upload_dir);
    free(res);
}

/* See resource_internal.h. */
const auth_token_ref_t *resource__caller(http_req_t *req, const char *role)
{
    resource_t *res = req->route_data;
    return role ? api__authenticate_role(req, res->ctx, role) : api__authenticate(req, res->ctx);
}

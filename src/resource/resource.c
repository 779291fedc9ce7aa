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
    int (*const families[])(http_router_t *, resource_t *) = {
        resource__orders_register, resource__pages_register, resource__uploads_register,
        resource__users_register,  resource__posts_register,
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        int rc = families[i](r, res);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* See resource.h. */
void resource_free(resource_t *res)
{
    if (!res)
        return;
    free(res->upload_dir);
    free(res);
}

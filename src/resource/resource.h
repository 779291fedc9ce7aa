/*
 * resource.h - the demo resource wing: the small API a team's own services would offer,
 * protected by jwtd's tokens, kept apart from the token service so that a deployment can
 * leave it out (JWTD_RESOURCE_ROUTES). It serves:
 *   GET /, GET /protected, GET /admin/dashboard      (pages.c)
 *   GET|POST /posts, GET|PUT|DELETE /posts/{id}       (posts.c, storage posts_data.c)
 *   GET /api/orders/                                  (orders.c, storage order_cache.c)
 *   POST /upload (streamed), GET /upload/{id}         (uploads.c, storage upload_store.c)
 *   GET /users, GET /users/{id}                       (users.c, storage user_store.c)
 * Its routes use the request layer's helpers (api/request/req.h); its storage files own
 * every database statement and cache entry of the wing. The token service knows nothing of
 * it: the wing registers its own cache group (the orders of a user, dropped when the
 * user's tokens are renewed).
 */
#ifndef JWTD_RESOURCE_H
#define JWTD_RESOURCE_H

#include <stdint.h>

#include "api/api.h"

struct db;

typedef struct resource resource_t;

typedef struct {
    const char *upload_dir;     /* created if missing (mode 0700) */
    uint64_t max_upload_bytes;  /* larger files get 413 */
    uint32_t posts_cache_ttl_s; /* lifetime of a cached /posts page; 0 = no cache */
    uint32_t api_cache_ttl_s;   /* lifetime of a cached per-user answer (orders); 0 = no cache */
} resource_options_t;

/*
 * Builds the wing on the request layer's context and the database (both borrowed; they
 * must outlive it): creates the upload directory and removes the temp files a crash left
 * there. OUT: *out (resource_free). Returns 0, ERR_IO (the upload directory) or ERR_INVALID.
 */
int resource_new(const resource_options_t *o, api_ctx_t *ctx, struct db *db, resource_t **out);
/* Registers the wing's routes. Returns 0 or ERR_INVALID. */
int resource_mount(resource_t *res, http_router_t *r);
/* Frees the wing (after the server stopped). NULL is a no-op. */
void resource_free(resource_t *res);

#endif

/*
 * resource_internal.h - what the files of the resource wing share: the wing's context and
 * its storage, each function owned by one storage file. Only src/resource/ includes this.
 * Route files (pages.c, posts.c, orders.c, uploads.c, users.c) call the storage functions
 * below, never the database or the shared store.
 */
#ifndef JWTD_RESOURCE_INTERNAL_H
#define JWTD_RESOURCE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/request/req.h"
#include "resource/resource.h"

struct resource {
    api_ctx_t *ctx;
    struct db *db;
    struct store *store;
    char *upload_dir;
    uint64_t max_upload_bytes;
    uint32_t posts_cache_ttl_s;
    uint32_t api_cache_ttl_s;
    atomic_uint_fast64_t post_writes; /* bumped after every committed post write */
};

/* ---- route families ---------------------------------------------------------------------- */

extern const api_family_t resource__pages_family;
extern const api_family_t resource__posts_family;
extern const api_family_t resource__orders_family;
extern const api_family_t resource__uploads_family;
extern const api_family_t resource__users_family;

/* The caller of a route of the wing (req->route_data), authenticated (api__authenticate,
   or api__authenticate_role when role is not NULL); NULL after it has RESPONDED. */
const auth_token_ref_t *resource__caller(http_req_t *req, const char *role);

/* ---- posts (posts_data.c) ----------------------------------------------------------------- */

/* What a post job does. Blocking: on the pool. */
enum resource_post_op {
    RESOURCE_POST_CREATE,
    RESOURCE_POST_GET,
    RESOURCE_POST_UPDATE,
    RESOURCE_POST_DELETE
};

/*
 * Runs op on post id for user_id (is_admin may change any post): create (title, body),
 * get, update (title and/or body; NULL = unchanged), delete. Every committed write drops
 * the cached pages. OUT: the post as JSON appended to out (not for delete), *id for create.
 * Returns 0, ERR_NOT_FOUND, ERR_PERMISSION (another user's post), ERR_UNAVAILABLE.
 */
int resource__post_run(resource_t *res, enum resource_post_op op, int64_t *id, int64_t user_id,
                       bool is_admin, const char *title, const char *body, buf_t *out);
/*
 * A page of posts as JSON into out ({"items","page","page_size","total"}), from the
 * database, and cached for the next readers unless a write happened since writes_before.
 * Blocking. Returns 0 or ERR_UNAVAILABLE.
 */
int resource__posts_page(resource_t *res, uint32_t page, uint32_t page_size, uint64_t writes_before,
                         buf_t *out);
/* The cache key of a page into key (64 bytes). */
void resource__posts_page_key(uint32_t page, uint32_t page_size, char key[64]);
/* Writes counted so far (read before a page is computed). */
uint64_t resource__posts_writes(resource_t *res);
/* Looks a cached page up: cb(arg, 0, page) or cb(arg, ERR_NOT_FOUND, ...), on this loop. */
void resource__posts_cached(resource_t *res, const char *key,
                            void (*cb)(void *arg, int status, str_t value), void *arg);

/* ---- orders (order_cache.c) --------------------------------------------------------------- */

/*
 * The orders of user_id as seen with the access token jti (expiring at exp): cb(arg, cached,
 * data) with the cached entry, or the orders computed and cached (never past exp), on this
 * loop.
 */
void resource__orders_get(resource_t *res, int64_t user_id, const char *jti, int64_t exp,
                          const char *username, void (*cb)(void *arg, bool cached, str_t data),
                          void *arg);
/* Room for an orders cache key. */
#define RESOURCE_ORDERS_KEY_MAX 96
/* The cache key of user_id's orders as seen with the token jti ("orders:<id>:<jti>", the jti
   cut at 64 bytes). */
void resource__orders_key(int64_t user_id, const char *jti, char key[RESOURCE_ORDERS_KEY_MAX]);
/* Registers the orders' per-user cache group with the token service. */
int resource__orders_init(resource_t *res);

/* ---- uploads (upload_store.c) ------------------------------------------------------------- */

#define RESOURCE_UPLOAD_ID_HEX 32

/* Creates the directory (mode 0700) and removes stale temp files. Returns 0 or ERR_IO. */
int resource__uploads_init(resource_t *res);
/* Creates the temp file of upload id for writing (O_EXCL, 0600). Returns the fd or -1. */
int resource__upload_create(resource_t *res, const char *id);
/* Closes and removes the temp file of upload id (error, abort, disconnect). */
void resource__upload_discard(resource_t *res, const char *id, int fd);
/*
 * fsync + close fd, rename the temp file into place, then write its metadata sidecar
 * atomically ({"owner","filename","size","sha256","content_type","created_at"}); removes
 * everything on failure. Returns 0 or ERR_IO / ERR_INTERNAL.
 */
int resource__upload_commit(resource_t *res, const char *id, int fd, int64_t owner,
                            const char *filename, uint64_t size, const char *sha256,
                            const char *content_type);
/*
 * The metadata of upload id as the answer of GET /upload/{id} (heap JSON) when requester
 * owns it. Returns 0, ERR_NOT_FOUND (absent or someone else's: not revealed), ERR_IO.
 */
int resource__upload_meta(resource_t *res, const char *id, int64_t requester, char **json);

/* ---- users (user_store.c) ------------------------------------------------------------------ */

/* The API user object of id appended to out. Blocking. 0, ERR_NOT_FOUND, ERR_UNAVAILABLE. */
int resource__user_json(resource_t *res, int64_t id, buf_t *out);
/*
 * A page of users as {"items","page","page_size","has_next"} appended to out (ids
 * ascending). Blocking. Returns 0 or ERR_UNAVAILABLE.
 */
int resource__users_page(resource_t *res, uint32_t page, uint32_t page_size, buf_t *out);

#endif

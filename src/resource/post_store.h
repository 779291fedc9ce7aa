/*
 * post_store.h - storage of the demo resource API's posts (routes: posts.c, posts_data.c):
 * create, read,
 * page, update and delete rows of the `posts` table, each post with its author's username.
 *
 * The store owns its SQL and runs it through db's statement runner (db.h "statements of
 * other modules"): it never sees a driver or a connection, and errors are db.h's
 * (ERR_NOT_FOUND, ERR_CONFLICT, ERR_INVALID, ERR_UNAVAILABLE, ERR_INTERNAL). The table
 * itself is created by db's migrations (db_migrate, migration 2). It is not for access
 * rules (who may change a post is posts_data.c's decision) and knows nothing of HTTP or
 * caching.
 *
 * Every function blocks: call it from the blocking pool, never from an event loop. Time is
 * Unix seconds passed in by the caller.
 */
#ifndef JWTD_RESOURCE_POST_STORE_H
#define JWTD_RESOURCE_POST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* One post with its author's username. Strings heap-owned; release with
   resource_post_dispose (safe on a zeroed or already-disposed post). */
typedef struct {
    int64_t id;
    int64_t author_id;
    char *author; /* the author's username */
    char *title;
    char *body;
    int64_t created_at;
    int64_t updated_at;
} resource_post_t;

void resource_post_dispose(resource_post_t *p);

typedef struct {
    resource_post_t *items;
    size_t count;
} resource_post_list_t;

/* Frees every post and the array. */
void resource_post_list_dispose(resource_post_list_t *list);

/* Inserts a post (created_at = updated_at = now). ERR_NOT_FOUND: no such author. OUT: *id
   (may be NULL). */
int resource_post_create(db_t *db, int64_t author_id, const char *title, const char *body,
                         int64_t now, int64_t *id);
/* OUT: *out (dispose it). ERR_NOT_FOUND. */
int resource_post_get(db_t *db, int64_t id, resource_post_t *out);
/*
 * A page of posts, newest first: up to limit (1..1000) posts after skipping offset.
 * OUT: *list (dispose it), *total (every post, may be NULL).
 */
int resource_post_list(db_t *db, uint32_t offset, uint32_t limit, resource_post_list_t *list,
                       int64_t *total);
/* Replaces title and body, updated_at = now. ERR_NOT_FOUND. */
int resource_post_update(db_t *db, int64_t id, const char *title, const char *body, int64_t now);
/* ERR_NOT_FOUND. */
int resource_post_delete(db_t *db, int64_t id);

#endif

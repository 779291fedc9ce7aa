/*
 * auth_internal.h - helpers shared by the files of src/auth/ (not a contract for others):
 * the user cache behind auth_user_cached().
 */
#ifndef JWTD_AUTH_INTERNAL_H
#define JWTD_AUTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- user cache (usercache.c) ------------------------------------------------------------- */

/*
 * user id -> the user's API JSON object and is_active, with the time it was loaded. One
 * reader-writer lock; readers (event loops) copy the JSON out under the read lock. Bounded:
 * when max_entries is reached the table is emptied (entries are cheap to reload).
 */
typedef struct auth_ucache auth_ucache_t;

auth_ucache_t *auth__ucache_new(size_t max_entries);
void auth__ucache_free(auth_ucache_t *c);
/* Stores a copy of json (len bytes) for user_id, replacing any entry. */
void auth__ucache_put(auth_ucache_t *c, int64_t user_id, bool is_active, const char *json,
                      size_t len, int64_t loaded_at);
/*
 * Copies the entry of user_id when it was loaded at or after min_loaded_at. Returns 0,
 * ERR_NOT_FOUND (absent or older) or ERR_TOO_LARGE (cap < *len).
 */
int auth__ucache_get(auth_ucache_t *c, int64_t user_id, int64_t min_loaded_at, char *out,
                     size_t cap, size_t *len, bool *is_active);
void auth__ucache_drop(auth_ucache_t *c, int64_t user_id);
size_t auth__ucache_count(auth_ucache_t *c);

#endif

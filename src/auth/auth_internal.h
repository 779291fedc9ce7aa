/*
 * auth_internal.h - helpers shared by the files of src/auth/ (not a contract for others):
 * the small JSON writer used on the token-issuing path, and the user cache behind
 * auth_user_cached().
 */
#ifndef JWTD_AUTH_INTERNAL_H
#define JWTD_AUTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- JSON writer (jsonw.c) ---------------------------------------------------------------- */

/*
 * Writes JSON text into a caller-provided buffer. An append that does not fit marks the
 * writer failed (and later appends are ignored); check auth__jsonw_failed() once at the end.
 * The buffer is not NUL-terminated by the writer. Not thread-safe (one owner).
 */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} auth_jsonw_t;

void auth__jsonw_init(auth_jsonw_t *w, char *buf, size_t cap);
/* Appends s verbatim (JSON punctuation, member names already quoted). */
void auth__jsonw_raw(auth_jsonw_t *w, const char *s);
/* Appends s (NUL-terminated, UTF-8) as a quoted, escaped JSON string. */
void auth__jsonw_str(auth_jsonw_t *w, const char *s);
/* Appends the same for n bytes. */
void auth__jsonw_strn(auth_jsonw_t *w, const char *s, size_t n);
/* Appends a decimal integer. */
void auth__jsonw_int(auth_jsonw_t *w, int64_t v);
bool auth__jsonw_failed(const auth_jsonw_t *w);
size_t auth__jsonw_len(const auth_jsonw_t *w);

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

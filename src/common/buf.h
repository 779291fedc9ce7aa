/*
 * buf.h - bounded growable byte buffer (curl's dynbuf).
 *
 * A buf_t is created with a maximum size; every append that would cross it fails with
 * ERR_TOO_LARGE and leaves the buffer unchanged. That is how each input path (headers, body,
 * JSON output) carries its documented limit. The bytes are always followed by a NUL that is
 * not counted in len, so data can be handed to APIs that want C strings.
 *
 * buf uses plain malloc/realloc and reports ERR_NOMEM rather than aborting, because the
 * jwtv library links it too. Not thread-safe: one owner at a time.
 */
#ifndef JWTD_COMMON_BUF_H
#define JWTD_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/str.h"

typedef struct {
    char *data;     /* NUL-terminated after len; NULL until the first append */
    size_t len;     /* bytes used, excluding the trailing NUL */
    size_t cap;     /* bytes allocated */
    size_t max_len; /* hard limit on len */
} buf_t;

/* Initialises caller-provided storage with a hard limit of max_len bytes. Allocates nothing. */
void buf_init(buf_t *b, size_t max_len);
/* Releases the storage; the buffer is empty and reusable afterwards. */
void buf_dispose(buf_t *b);
/* Like buf_dispose, but wipes the bytes first (secrets). */
void buf_dispose_secret(buf_t *b);
/* Empties the buffer, keeping its allocation. */
void buf_reset(buf_t *b);
/* Ensures room for n more bytes. Returns 0, ERR_TOO_LARGE or ERR_NOMEM. */
int buf_reserve(buf_t *b, size_t n);
/* Appends n bytes. Returns 0, ERR_TOO_LARGE or ERR_NOMEM; on failure b is unchanged. */
int buf_append(buf_t *b, const void *p, size_t n);
int buf_append_str(buf_t *b, str_t s);
int buf_append_cstr(buf_t *b, const char *s);
int buf_append_char(buf_t *b, char c);
/* Appends printf-formatted text. Same returns as buf_append. */
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(buf_t *b, size_t n);
/* A slice over the current contents; valid until the next modification. */
static inline str_t buf_str(const buf_t *b)
{
    return str_make(b->data ? b->data : "", b->len);
}

#endif

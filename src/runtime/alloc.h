/*
 * alloc.h - jwtd's allocation wrappers.
 *
 * Inside the jwtd binary, xmalloc() and friends abort on out-of-memory (Redis zmalloc), so
 * call sites do not check. The jwtv library never uses these: it reports JWTV_ENOMEM instead.
 */
#ifndef JWTD_RUNTIME_ALLOC_H
#define JWTD_RUNTIME_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
/* align is a power of two, a multiple of sizeof(void *); freed with free(). */
void *xaligned_alloc(size_t align, size_t n);
/* Copies n bytes and appends a NUL; the result is freed with free(). */
char *xstrndup(const char *s, size_t n);
char *xstrdup(const char *s);
/* Wipes n bytes (OPENSSL_cleanse) then frees. free_secret(NULL, n) is a no-op. */
void free_secret(void *p, size_t n);

#endif

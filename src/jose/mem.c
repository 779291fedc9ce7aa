/*
 * mem.c - jose's allocator hooks and error-message helper.
 *
 * jose (and therefore jwtv) never aborts on OOM: it allocates through these hooks, which
 * default to malloc/realloc/free and are replaceable once at start-up by
 * jwtv_set_allocator(). Not for jwtd code outside jose/ and lib/, which uses xmalloc.
 */
#include "jose/jose.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*malloc_fn)(size_t) = malloc;
static void *(*realloc_fn)(void *, size_t) = realloc;
static void (*free_fn)(void *) = free;

/* Replaces the hooks (NULLs restore the defaults). Call before any allocation. */
void jose__set_allocator(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *))
{
    malloc_fn = m ? m : malloc;
    realloc_fn = r ? r : realloc;
    free_fn = f ? f : free;
}

/* malloc through the hook; NULL on OOM. */
void *jose__malloc(size_t n)
{
    return malloc_fn(n ? n : 1);
}

/* calloc through the hook (overflow-checked); NULL on OOM. */
void *jose__calloc(size_t count, size_t n)
{
    if (n && count > (size_t)-1 / n)
        return NULL;
    size_t total = count * n;
    void *p = malloc_fn(total ? total : 1);
    if (p)
        memset(p, 0, total);
    return p;
}

/* realloc through the hook; NULL on OOM (p unchanged). */
void *jose__realloc(void *p, size_t n)
{
    return realloc_fn(p, n ? n : 1);
}

/* free through the hook; NULL is a no-op. */
void jose__free(void *p)
{
    if (p)
        free_fn(p);
}

/* Copies n bytes plus a NUL; NULL on OOM. */
char *jose__strndup(const char *s, size_t n)
{
    char *p = jose__malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* See jose.h. */
void jose__errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
}

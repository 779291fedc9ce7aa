/*
 * alloc.c - aborting allocators for the jwtd binary (see alloc.h).
 */
#include "runtime/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "runtime/log.h"

static void oom(size_t n)
{
    /* log_write formats on the stack: it needs no memory */
    log_write(LOG_CH_SERVER, LOG_ERROR, "alloc", NULL, "msg=\"out of memory\" bytes=%zu", n);
    abort();
}

/* Allocates n bytes (at least one); never returns NULL. */
void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

/* Allocates zeroed storage for count elements of n bytes; never returns NULL. */
void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

/* Allocates n bytes aligned to align (a power of two); freed with free(). Never returns
 * NULL. */
void *xaligned_alloc(size_t align, size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, align, n ? n : 1) != 0)
        oom(n);
    return p;
}

/* Resizes p to n bytes; never returns NULL. */
void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

/* Copies n bytes of s and NUL-terminates; the caller frees. */
char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Copies a NUL-terminated string; the caller frees. */
char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

/* Wipes then frees a secret of n bytes. */
void free_secret(void *p, size_t n)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

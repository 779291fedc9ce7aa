/*
 * str.h - ptr+len slices over bytes we do not own (wire data, buffers).
 *
 * A str_t never owns its bytes and is never assumed NUL-terminated. It is the currency of
 * every parser in jwtd: headers, paths, tokens, JSON members. Helpers here are pure and
 * inline; nothing allocates.
 */
#ifndef JWTD_COMMON_STR_H
#define JWTD_COMMON_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *ptr;
    size_t len;
} str_t;

#define STR_LIT(s)                                                                                 \
    (str_t)                                                                                        \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }
#define STR_NULL                                                                                   \
    (str_t)                                                                                        \
    {                                                                                              \
        NULL, 0                                                                                    \
    }
/* printf("%.*s", STR_FMT(s)) */
#define STR_FMT(s) (int)(s).len, (s).ptr

static inline str_t str_make(const char *p, size_t n)
{
    str_t s = {p, n};
    return s;
}

static inline str_t str_cstr(const char *p)
{
    str_t s = {p, p ? strlen(p) : 0};
    return s;
}

static inline bool str_eq(str_t a, str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool str_eq_cstr(str_t a, const char *b)
{
    return str_eq(a, str_cstr(b));
}

/* ASCII case-insensitive equality (header names, schemes). */
static inline bool str_eq_nocase(str_t a, str_t b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        unsigned char x = (unsigned char)a.ptr[i], y = (unsigned char)b.ptr[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

static inline bool str_starts_with(str_t s, str_t prefix)
{
    return s.len >= prefix.len && memcmp(s.ptr, prefix.ptr, prefix.len) == 0;
}

/* Strips ASCII spaces and tabs from both ends. */
static inline str_t str_trim(str_t s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* Copies s into out (cap bytes) with a terminating NUL. False, out untouched, when it does
   not fit. */
static inline bool str_copy_cstr(str_t s, char *out, size_t cap)
{
    if (s.len >= cap)
        return false;
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return true;
}

/* Parses s as a decimal of one or more ASCII digits and nothing else (no sign, no
   space), at most max. False, *out untouched, otherwise. Never overflows. */
static inline bool str_to_u64(str_t s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.ptr[i] - '0';
        if (d > 9 || d > max || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

#endif

/*
 * jsonw.c - a minimal JSON writer into a fixed buffer, for the token-issuing path (claims,
 * the user object) where jansson's allocations are not wanted.
 *
 * Strings are escaped per RFC 8259: quote, backslash and control characters; everything
 * else (UTF-8 included) is copied as is. The writer never writes past cap.
 */
#include "auth/auth_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* See auth_internal.h. */
void auth__jsonw_init(auth_jsonw_t *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->len = 0;
    w->cap = cap;
    w->failed = false;
}

static void put(auth_jsonw_t *w, const char *s, size_t n)
{
    if (w->failed || n > w->cap - w->len) {
        w->failed = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* See auth_internal.h. */
void auth__jsonw_raw(auth_jsonw_t *w, const char *s)
{
    put(w, s, strlen(s));
}

/* See auth_internal.h. */
void auth__jsonw_strn(auth_jsonw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        put(w, s + i - run, run);
        run = 0;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
            break;
        }
        put(w, esc, el);
    }
    put(w, s + n - run, run);
    put(w, "\"", 1);
}

/* See auth_internal.h. */
void auth__jsonw_str(auth_jsonw_t *w, const char *s)
{
    auth__jsonw_strn(w, s ? s : "", s ? strlen(s) : 0);
}

/* See auth_internal.h. */
void auth__jsonw_int(auth_jsonw_t *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(w, tmp, (size_t)n);
}

/* See auth_internal.h. */
bool auth__jsonw_failed(const auth_jsonw_t *w)
{
    return w->failed;
}

/* See auth_internal.h. */
size_t auth__jsonw_len(const auth_jsonw_t *w)
{
    return w->len;
}

/*
 * text.c - UTF-8 and edit-distance helpers (see text.h).
 */
#include "common/text.h"

#include <string.h>

/* See text.h. */
bool text_utf8_valid(str_t s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0, n = s.len;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < k + 1)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* See text.h. */
size_t text_utf8_chars(str_t s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.ptr[i] & 0xc0) != 0x80;
    return n;
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

/* See text.h. */
size_t text_edit_distance(str_t a, str_t b)
{
    size_t prev[TEXT_EDIT_MAX + 1], cur[TEXT_EDIT_MAX + 1];
    if (a.len > TEXT_EDIT_MAX || b.len > TEXT_EDIT_MAX)
        return TEXT_EDIT_MAX + 1;
    for (size_t j = 0; j <= b.len; j++)
        prev[j] = j;
    for (size_t i = 1; i <= a.len; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= b.len; j++) {
            size_t best = prev[j - 1] + (upper(a.ptr[i - 1]) != upper(b.ptr[j - 1]));
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof prev);
    }
    return prev[b.len];
}

/* See text.h. */
size_t text_put_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/*
 * multipart.c - the multipart/form-data parser of multipart.h: delimiter search over a
 * buffered body, part headers (Content-Disposition, Content-Type), and the filename
 * sanitiser used before a client's filename is stored as metadata. No allocation.
 */
#include "api/multipart.h"

#include <string.h>

#include "api/svc.h"
#include "common/err.h"

static bool ieq_prefix(str_t s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && str_eq_nocase(str_make(s.ptr, n), str_make(p, n));
}

static bool bchar_ok(unsigned char c)
{
    /* RFC 2046 bcharsnospace plus space (not last) */
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

/* See multipart.h. */
int api_mp_boundary(str_t ct, str_t *boundary)
{
    if (!ct.ptr || !ieq_prefix(ct, "multipart/form-data"))
        return ERR_UNSUPPORTED_MEDIA;
    size_t i = strlen("multipart/form-data");
    if (i < ct.len && ct.ptr[i] != ';' && ct.ptr[i] != ' ' && ct.ptr[i] != '\t')
        return ERR_UNSUPPORTED_MEDIA;
    while (i < ct.len) {
        while (i < ct.len && (ct.ptr[i] == ';' || ct.ptr[i] == ' ' || ct.ptr[i] == '\t'))
            i++;
        size_t ks = i;
        while (i < ct.len && ct.ptr[i] != '=' && ct.ptr[i] != ';')
            i++;
        str_t key = str_trim(str_make(ct.ptr + ks, i - ks));
        if (i >= ct.len || ct.ptr[i] != '=') {
            continue;
        }
        i++;
        str_t val;
        if (i < ct.len && ct.ptr[i] == '"') {
            size_t vs = ++i;
            while (i < ct.len && ct.ptr[i] != '"')
                i++;
            if (i >= ct.len)
                return ERR_INVALID;
            val = str_make(ct.ptr + vs, i - vs);
            i++;
        } else {
            size_t vs = i;
            while (i < ct.len && ct.ptr[i] != ';' && ct.ptr[i] != ' ' && ct.ptr[i] != '\t')
                i++;
            val = str_make(ct.ptr + vs, i - vs);
        }
        if (str_eq_nocase(key, STR_LIT("boundary"))) {
            if (val.len == 0 || val.len > API_MP_MAX_BOUNDARY || val.ptr[val.len - 1] == ' ')
                return ERR_INVALID;
            for (size_t k = 0; k < val.len; k++) {
                if (!bchar_ok((unsigned char)val.ptr[k]))
                    return ERR_INVALID;
            }
            *boundary = val;
            return 0;
        }
    }
    return ERR_INVALID;
}

/* First occurrence of needle in hay[from..], or SIZE_MAX. */
static size_t find(str_t hay, size_t from, const char *needle, size_t nlen)
{
    if (nlen == 0 || from > hay.len || hay.len - from < nlen)
        return (size_t)-1;
    const char *p = memmem(hay.ptr + from, hay.len - from, needle, nlen);
    return p ? (size_t)(p - hay.ptr) : (size_t)-1;
}

/* Parses `; name="x"; filename="y"` parameters of a Content-Disposition value. */
static int parse_disposition(str_t v, api_mp_part_t *part)
{
    if (!ieq_prefix(v, "form-data"))
        return ERR_INVALID;
    size_t i = strlen("form-data");
    bool have_name = false;
    while (i < v.len) {
        while (i < v.len && (v.ptr[i] == ';' || v.ptr[i] == ' ' || v.ptr[i] == '\t'))
            i++;
        if (i >= v.len)
            break;
        size_t ks = i;
        while (i < v.len && v.ptr[i] != '=' && v.ptr[i] != ';')
            i++;
        str_t key = str_trim(str_make(v.ptr + ks, i - ks));
        if (i >= v.len || v.ptr[i] != '=')
            continue;
        i++;
        str_t val;
        if (i < v.len && v.ptr[i] == '"') {
            size_t vs = ++i;
            while (i < v.len && v.ptr[i] != '"') {
                if (v.ptr[i] == '\\' && i + 1 < v.len)
                    i++;
                i++;
            }
            if (i >= v.len)
                return ERR_INVALID;
            val = str_make(v.ptr + vs, i - vs);
            i++;
        } else {
            size_t vs = i;
            while (i < v.len && v.ptr[i] != ';')
                i++;
            val = str_trim(str_make(v.ptr + vs, i - vs));
        }
        if (str_eq_nocase(key, STR_LIT("name"))) {
            part->name = val;
            have_name = true;
        } else if (str_eq_nocase(key, STR_LIT("filename"))) {
            part->filename = val;
            part->has_filename = true;
        }
    }
    return have_name ? 0 : ERR_INVALID;
}

/* See multipart.h. */
int api_mp_next(str_t body, str_t b, size_t *pos, api_mp_part_t *part)
{
    char delim[API_MP_MAX_BOUNDARY + 4];
    if (b.len == 0 || b.len > API_MP_MAX_BOUNDARY)
        return ERR_INVALID;
    memset(part, 0, sizeof *part);
    size_t p = *pos & ((size_t)-1 >> 8);
    size_t count = *pos >> (sizeof(size_t) * 8 - 8);
    if (count >= API_MP_MAX_PARTS)
        return ERR_INVALID;
    /* "\r\n--boundary": the first delimiter may also start the body without the CRLF */
    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = '-';
    delim[3] = '-';
    memcpy(delim + 4, b.ptr, b.len);
    size_t dlen = b.len + 4;
    if (p == 0) {
        size_t at;
        if (body.len >= dlen - 2 && memcmp(body.ptr, delim + 2, dlen - 2) == 0)
            at = 0;
        else if ((at = find(body, 0, delim, dlen)) != (size_t)-1)
            at += 2;
        else
            return ERR_INVALID;
        p = at + dlen - 2;
    }
    /* after a delimiter: "--" = end, else optional transport padding then CRLF */
    if (p + 2 <= body.len && body.ptr[p] == '-' && body.ptr[p + 1] == '-')
        return ERR_DECLINED;
    while (p < body.len && (body.ptr[p] == ' ' || body.ptr[p] == '\t'))
        p++;
    if (p + 2 > body.len || body.ptr[p] != '\r' || body.ptr[p + 1] != '\n')
        return ERR_INVALID;
    p += 2;
    /* headers up to the blank line (Content-Disposition is required, so never empty) */
    size_t hend = find(body, p, "\r\n\r\n", 4);
    if (hend == (size_t)-1 || hend - p > API_MP_MAX_HEADER_BYTES)
        return ERR_INVALID;
    bool have_disp = false;
    size_t i = p;
    while (i <= hend) {
        size_t eol = find(body, i, "\r\n", 2);
        if (eol == (size_t)-1 || eol > hend)
            eol = hend;
        str_t line = str_make(body.ptr + i, eol - i);
        const char *colon = line.len ? memchr(line.ptr, ':', line.len) : NULL;
        if (!colon)
            return ERR_INVALID;
        str_t name = str_trim(str_make(line.ptr, (size_t)(colon - line.ptr)));
        str_t val = str_trim(str_make(colon + 1, line.len - (size_t)(colon - line.ptr) - 1));
        if (str_eq_nocase(name, STR_LIT("content-disposition"))) {
            if (have_disp || parse_disposition(val, part) != 0)
                return ERR_INVALID;
            have_disp = true;
        } else if (str_eq_nocase(name, STR_LIT("content-type"))) {
            part->content_type = val;
        }
        i = eol + 2;
    }
    p = hend + 4;
    if (!have_disp)
        return ERR_INVALID;
    size_t next = find(body, p, delim, dlen);
    if (next == (size_t)-1)
        return ERR_INVALID;
    part->data = str_make(body.ptr + p, next - p);
    p = next + dlen;
    *pos = p | ((count + 1) << (sizeof(size_t) * 8 - 8));
    return 0;
}

/* See multipart.h. */
void api_mp_sanitize_filename(str_t in, char *out, size_t cap)
{
    size_t start = 0;
    for (size_t i = 0; i < in.len; i++) {
        if (in.ptr[i] == '/' || in.ptr[i] == '\\')
            start = i + 1;
    }
    size_t o = 0;
    size_t i = start;
    while (i < in.len && o + 1 < cap) {
        unsigned char c = (unsigned char)in.ptr[i];
        if (c < 0x80) {
            i++;
            if (c < 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' ||
                c == ':' || c == '|' || c == '*' || c == '?' || (o == 0 && (c == '.' || c == ' ')))
                continue;
            out[o++] = (char)c;
            continue;
        }
        size_t k = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (k == 0 || i + k > in.len || !api__utf8_valid(str_make(in.ptr + i, k))) {
            out[o++] = '_';
            i++;
            continue;
        }
        if (o + k + 1 > cap)
            break;
        memcpy(out + o, in.ptr + i, k);
        o += k;
        i += k;
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '.'))
        o--;
    if (o == 0) {
        const char *d = "upload";
        o = strlen(d) < cap ? strlen(d) : cap - 1;
        memcpy(out, d, o);
    }
    out[o] = '\0';
}

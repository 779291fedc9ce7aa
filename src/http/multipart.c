/*
 * multipart.c - the streaming multipart/form-data parser of multipart.h: a state machine
 * over chunks (preamble, delimiter, part headers, part data, epilogue), the Content-Type
 * boundary and Content-Disposition parameter parsers, and the filename sanitiser used
 * before a client's filename is stored as metadata. No allocation.
 *
 * DESIGN: the delimiter ("\r\n--" boundary) is found with memmem over each chunk; the
 * longest chunk tail that could start a delimiter is held back (at most 73 bytes) and
 * searched again together with the start of the next chunk, so a delimiter split anywhere
 * is found and content is reported exactly once, in order. Part headers are copied into a
 * bounded buffer until their blank line, then parsed in one go.
 */
#include "http/multipart.h"

#include <stddef.h>
#include <string.h>

#include "common/err.h"
#include "common/text.h"

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

/*
 * The next `key=value` parameter of a header value v from *pos (after the leading media
 * type or disposition), skipping separators and parameters without '='. A quoted value
 * runs to the closing quote (backslash escapes kept raw); an unquoted one to ';' or, when
 * token, to whitespace too, and is trimmed. Returns 1 with key and val, 0 at the end, or
 * ERR_INVALID for an unterminated quote.
 */
static int next_param(str_t v, size_t *pos, bool token, str_t *key, str_t *val)
{
    size_t i = *pos;
    for (;;) {
        while (i < v.len && (v.ptr[i] == ';' || v.ptr[i] == ' ' || v.ptr[i] == '\t'))
            i++;
        if (i >= v.len)
            return 0;
        size_t ks = i;
        while (i < v.len && v.ptr[i] != '=' && v.ptr[i] != ';')
            i++;
        *key = str_trim(str_make(v.ptr + ks, i - ks));
        if (i < v.len && v.ptr[i] == '=')
            break;
    }
    size_t vs = ++i;
    if (i < v.len && v.ptr[i] == '"') {
        vs = ++i;
        while (i < v.len && v.ptr[i] != '"')
            i += v.ptr[i] == '\\' && i + 1 < v.len ? 2 : 1;
        if (i >= v.len)
            return ERR_INVALID;
        *val = str_make(v.ptr + vs, i - vs);
        i++;
    } else {
        while (i < v.len && v.ptr[i] != ';' && !(token && (v.ptr[i] == ' ' || v.ptr[i] == '\t')))
            i++;
        *val = str_trim(str_make(v.ptr + vs, i - vs));
    }
    *pos = i;
    return 1;
}

/* See multipart.h. */
int http_mp_boundary(str_t ct, str_t *boundary)
{
    if (!ct.ptr || !ieq_prefix(ct, "multipart/form-data"))
        return ERR_UNSUPPORTED_MEDIA;
    size_t i = strlen("multipart/form-data");
    if (i < ct.len && ct.ptr[i] != ';' && ct.ptr[i] != ' ' && ct.ptr[i] != '\t')
        return ERR_UNSUPPORTED_MEDIA;
    str_t key, val;
    while (next_param(ct, &i, true, &key, &val) > 0) {
        if (!str_eq_nocase(key, STR_LIT("boundary")))
            continue;
        if (val.len == 0 || val.len > HTTP_MP_MAX_BOUNDARY || val.ptr[val.len - 1] == ' ')
            return ERR_INVALID;
        for (size_t k = 0; k < val.len; k++)
            if (!bchar_ok((unsigned char)val.ptr[k]))
                return ERR_INVALID;
        *boundary = val;
        return 0;
    }
    return ERR_INVALID;
}

/* Parses `; name="x"; filename="y"` parameters of a Content-Disposition value. */
static int parse_disposition(str_t v, http_mp_part_t *part)
{
    if (!ieq_prefix(v, "form-data"))
        return ERR_INVALID;
    size_t i = strlen("form-data");
    bool have_name = false;
    str_t key, val;
    int rc;
    while ((rc = next_param(v, &i, false, &key, &val)) > 0) {
        if (str_eq_nocase(key, STR_LIT("name"))) {
            part->name = val;
            have_name = true;
        } else if (str_eq_nocase(key, STR_LIT("filename"))) {
            part->filename = val;
            part->has_filename = true;
        }
    }
    return rc == 0 && have_name ? 0 : ERR_INVALID;
}

enum { MP_PREAMBLE, MP_AFTER, MP_HEADERS, MP_DATA, MP_END, MP_DEAD };

/* See multipart.h. */
int http_mp_init(http_mp_parser_t *p, str_t b, const http_mp_callbacks_t *cb, void *arg)
{
    if (b.len == 0 || b.len > HTTP_MP_MAX_BOUNDARY)
        return ERR_INVALID;
    memset(p, 0, offsetof(http_mp_parser_t, _hdr));
    p->_cb = cb;
    p->_arg = arg;
    memcpy(p->_delim, "\r\n--", 4);
    memcpy(p->_delim + 4, b.ptr, b.len);
    p->_dlen = (uint32_t)b.len + 4;
    /* The first delimiter may start the body without its CRLF: pretend one came first. */
    memcpy(p->_carry, "\r\n", 2);
    p->_carry_n = 2;
    p->_state = MP_PREAMBLE;
    return 0;
}

/* Length of the longest proper prefix of the delimiter that ends s[0..n). */
static size_t tail_prefix(const http_mp_parser_t *p, const char *s, size_t n)
{
    size_t k = n < p->_dlen - 1 ? n : p->_dlen - 1;
    for (; k > 0; k--) {
        if (s[n - k] == '\r' && memcmp(s + n - k, p->_delim, k) == 0)
            return k;
    }
    return 0;
}

/* Content before a delimiter: the part's data, or preamble (dropped). */
static int emit(http_mp_parser_t *p, const char *s, size_t n)
{
    if (n == 0 || p->_state != MP_DATA || !p->_cb->on_data)
        return 0;
    return p->_cb->on_data(p->_arg, str_make(s, n));
}

/*
 * Looks for the delimiter from s[*off], taking the held-back bytes of the previous chunk
 * into account, and emits the content before it. Returns 1 when a delimiter ended (*off is
 * past it), 0 when the chunk is used up (a possible delimiter start is held back), or a
 * callback's error.
 */
static int scan(http_mp_parser_t *p, const char *s, size_t len, size_t *off)
{
    size_t i = *off, dl = p->_dlen;
    int rc;
    if (p->_carry_n) {
        /* A delimiter starting in the carry ends within dl bytes of this chunk. */
        char tmp[2 * sizeof p->_carry];
        size_t cn = p->_carry_n, take = len - i < dl ? len - i : dl, tn = cn + take;
        memcpy(tmp, p->_carry, cn);
        memcpy(tmp + cn, s + i, take);
        const char *m = memmem(tmp, tn, p->_delim, dl);
        if (m) {
            size_t at = (size_t)(m - tmp);
            p->_carry_n = 0;
            if ((rc = emit(p, tmp, at)) != 0)
                return rc;
            *off = i + at + dl - cn;
            return 1;
        }
        if (take == len - i) {
            size_t keep = tail_prefix(p, tmp, tn);
            p->_carry_n = 0;
            if ((rc = emit(p, tmp, tn - keep)) != 0)
                return rc;
            memcpy(p->_carry, tmp + tn - keep, keep);
            p->_carry_n = (uint32_t)keep;
            *off = len;
            return 0;
        }
        p->_carry_n = 0;
        if ((rc = emit(p, tmp, cn)) != 0)
            return rc;
    }
    const char *m = memmem(s + i, len - i, p->_delim, dl);
    if (m) {
        size_t at = (size_t)(m - s);
        if ((rc = emit(p, s + i, at - i)) != 0)
            return rc;
        *off = at + dl;
        return 1;
    }
    size_t keep = tail_prefix(p, s + i, len - i);
    if ((rc = emit(p, s + i, len - i - keep)) != 0)
        return rc;
    memcpy(p->_carry, s + len - keep, keep);
    p->_carry_n = (uint32_t)keep;
    *off = len;
    return 0;
}

/* Parses the header section in _hdr (without its final blank line) and reports the part. */
static int part_headers(http_mp_parser_t *p, size_t n)
{
    http_mp_part_t part = {0};
    str_t all = str_make(p->_hdr, n);
    bool have_disp = false;
    size_t i = 0;
    while (i <= n) {
        const char *crlf = i < n ? memmem(all.ptr + i, n - i, "\r\n", 2) : NULL;
        size_t eol = crlf ? (size_t)(crlf - all.ptr) : n;
        str_t line = str_make(all.ptr + i, eol - i);
        const char *colon = line.len ? memchr(line.ptr, ':', line.len) : NULL;
        if (!colon)
            return ERR_INVALID;
        str_t name = str_trim(str_make(line.ptr, (size_t)(colon - line.ptr)));
        str_t val = str_trim(str_make(colon + 1, line.len - (size_t)(colon - line.ptr) - 1));
        if (str_eq_nocase(name, STR_LIT("content-disposition"))) {
            if (have_disp || parse_disposition(val, &part) != 0)
                return ERR_INVALID;
            have_disp = true;
        } else if (str_eq_nocase(name, STR_LIT("content-type"))) {
            part.content_type = val;
        }
        i = eol + 2;
    }
    if (!have_disp)
        return ERR_INVALID;
    return p->_cb->on_part ? p->_cb->on_part(p->_arg, &part) : 0;
}

/* One byte after a delimiter: "--" (the end), or transport padding then CRLF. */
static int after_delim(http_mp_parser_t *p, char ch)
{
    switch (p->_sub) {
    case 0:
        p->_sub = ch == '-' ? 1 : ch == ' ' || ch == '\t' ? 2 : ch == '\r' ? 3 : 9;
        break;
    case 1:
        if (ch != '-')
            return ERR_INVALID;
        p->_state = MP_END;
        return 0;
    case 2:
        if (ch == '\r')
            p->_sub = 3;
        else if ((ch != ' ' && ch != '\t') || ++p->_pad > HTTP_MP_MAX_PADDING)
            return ERR_INVALID;
        return 0;
    case 3:
        if (ch != '\n' || p->_parts >= HTTP_MP_MAX_PARTS)
            return ERR_INVALID;
        p->_parts++;
        p->_hlen = 0;
        p->_state = MP_HEADERS;
        return 0;
    }
    return p->_sub == 9 ? ERR_INVALID : 0;
}

/* Header bytes from s[*off]: copies up to the blank line, then reports the part. */
static int headers(http_mp_parser_t *p, const char *s, size_t len, size_t *off)
{
    size_t i = *off;
    while (i < len) {
        if (p->_hlen >= sizeof p->_hdr)
            return ERR_INVALID;
        char ch = s[i++];
        p->_hdr[p->_hlen++] = ch;
        if (ch != '\n')
            continue;
        if (p->_hlen == 2 && p->_hdr[0] == '\r')
            return ERR_INVALID; /* no headers: Content-Disposition is required */
        if (p->_hlen >= 4 && memcmp(p->_hdr + p->_hlen - 4, "\r\n\r\n", 4) == 0) {
            *off = i;
            int rc = part_headers(p, p->_hlen - 4);
            if (rc != 0)
                return rc;
            p->_state = MP_DATA;
            p->_carry_n = 0;
            return 0;
        }
    }
    *off = i;
    return 0;
}

/* See multipart.h. */
int http_mp_feed(http_mp_parser_t *p, str_t chunk)
{
    const char *s = chunk.ptr;
    size_t len = chunk.len, i = 0;
    int rc = 0;
    if (p->_state == MP_DEAD)
        return ERR_INVALID;
    while (i < len && rc == 0) {
        switch (p->_state) {
        case MP_PREAMBLE:
        case MP_DATA:
            rc = scan(p, s, len, &i);
            if (rc == 1) {
                rc = p->_state == MP_DATA && p->_cb->on_part_end ? p->_cb->on_part_end(p->_arg) : 0;
                p->_state = MP_AFTER;
                p->_sub = 0;
                p->_pad = 0;
            }
            break;
        case MP_AFTER:
            rc = after_delim(p, s[i++]);
            break;
        case MP_HEADERS:
            rc = headers(p, s, len, &i);
            break;
        case MP_END:
            return 0; /* epilogue */
        }
    }
    if (rc != 0)
        p->_state = MP_DEAD;
    return rc;
}

/* See multipart.h. */
int http_mp_finish(http_mp_parser_t *p)
{
    return p->_state == MP_END ? 0 : ERR_INVALID;
}

/* See multipart.h. */
bool http_mp_done(const http_mp_parser_t *p)
{
    return p->_state == MP_END;
}

/* See multipart.h. */
void http_mp_sanitize_filename(str_t in, char *out, size_t cap)
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
        if (k == 0 || i + k > in.len || !text_utf8_valid(str_make(in.ptr + i, k))) {
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

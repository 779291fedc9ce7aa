/*
 * jsonw.c - the JSON string escaper and the fixed-buffer writer of jsonw.h. One escaping
 * routine feeds both sinks (the fixed buffer and a buf_t), so every JSON string jwtd writes
 * by hand is escaped the same way. The fixed writer never writes past cap.
 */
#include "common/jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* See jsonw.h. */
void jsonw_init(jsonw_t *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->len = 0;
    w->cap = cap;
    w->failed = false;
}

static void put(jsonw_t *w, const char *s, size_t n)
{
    if (w->failed || n > w->cap - w->len) {
        w->failed = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* See jsonw.h. */
void jsonw_raw(jsonw_t *w, const char *s)
{
    put(w, s, strlen(s));
}

/* A destination of escaped text: returns nonzero to stop. */
typedef int (*sink_fn)(void *arg, const char *s, size_t n);

/* Writes s as a quoted JSON string through sink; returns the first nonzero sink result. */
static int escape(const char *s, size_t n, sink_fn sink, void *arg)
{
    static const char hex[] = "0123456789abcdef";
    int rc = sink(arg, "\"", 1);
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        rc = sink(arg, s + i - run, run);
        run = 0;
        /* the two-character escapes of RFC 8259, else \u00XX */
        static const char short_esc[32] = {
            ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
        char esc[6] = {'\\', c < 0x20 ? short_esc[c] : (char)c, '0', '0', hex[c >> 4], hex[c & 15]};
        size_t el = 2;
        if (!esc[1]) {
            esc[1] = 'u';
            el = 6;
        }
        if (rc == 0)
            rc = sink(arg, esc, el);
    }
    if (rc == 0)
        rc = sink(arg, s + n - run, run);
    return rc == 0 ? sink(arg, "\"", 1) : rc;
}

/* See jsonw.h. */
void jsonw_member(jsonw_t *w, const char *name, const char *value)
{
    jsonw_raw(w, ",\"");
    jsonw_raw(w, name);
    jsonw_raw(w, "\":");
    jsonw_str(w, value);
}

static int sink_fixed(void *arg, const char *s, size_t n)
{
    put(arg, s, n);
    return 0; /* the writer records failure itself */
}

static int sink_buf(void *arg, const char *s, size_t n)
{
    return buf_append(arg, s, n);
}

/* See jsonw.h. */
void jsonw_strn(jsonw_t *w, const char *s, size_t n)
{
    (void)escape(s, n, sink_fixed, w);
}

/* See jsonw.h. */
int jsonw_buf_str(buf_t *b, const char *s, size_t n)
{
    return escape(s ? s : "", s ? n : 0, sink_buf, b);
}

/* See jsonw.h. */
int jsonw_buf_cstr(buf_t *b, const char *s)
{
    return jsonw_buf_str(b, s, s ? strlen(s) : 0);
}

/* See jsonw.h. */
void jsonw_str(jsonw_t *w, const char *s)
{
    jsonw_strn(w, s ? s : "", s ? strlen(s) : 0);
}

/* See jsonw.h. */
void jsonw_int(jsonw_t *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(w, tmp, (size_t)n);
}

/* See jsonw.h. */
bool jsonw_failed(const jsonw_t *w)
{
    return w->failed;
}

/* See jsonw.h. */
size_t jsonw_len(const jsonw_t *w)
{
    return w->len;
}

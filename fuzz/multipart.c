/*
 * multipart.c - libFuzzer target for the streaming multipart/form-data parser
 * (src/api/multipart.c).
 *
 * Input: the first line is a Content-Type value, the rest is the body. The body is parsed
 * once in one piece and once cut into pieces whose sizes come from the input itself.
 * Properties: both runs give the same events (part headers, content bytes, part ends) and
 * the same result; iteration reports at most HTTP_MP_MAX_PARTS parts; no content slice is
 * empty and no part's content contains the delimiter; the boundary lies inside the
 * Content-Type; the sanitised filename is NUL-terminated, bounded, valid UTF-8, and contains
 * no '/', '\' or control byte and does not start with '.'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/text.h"
#include "http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(str_t in)
{
    char out[64];
    http_mp_sanitize_filename(in, out, sizeof out);
    size_t n = strlen(out);
    if (n == 0 || n >= sizeof out || out[0] == '.' || !text_utf8_valid(str_make(out, n)))
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
            abort();
    }
}

struct run {
    buf_t log;   /* events, in order */
    buf_t part;  /* content of the current part (delimiter check) */
    str_t delim; /* "\r\n--" boundary */
    int parts;
};

static int on_part(void *arg, const http_mp_part_t *p)
{
    struct run *r = arg;
    if (++r->parts > HTTP_MP_MAX_PARTS)
        abort();
    if (p->name.len > HTTP_MP_MAX_HEADER_BYTES || p->filename.len > HTTP_MP_MAX_HEADER_BYTES ||
        p->content_type.len > HTTP_MP_MAX_HEADER_BYTES)
        abort();
    buf_printf(&r->log, "[%zu:", p->name.len);
    buf_append_str(&r->log, p->name);
    if (p->has_filename) {
        check_name(p->filename);
        buf_printf(&r->log, "|%zu:", p->filename.len);
        buf_append_str(&r->log, p->filename);
    }
    if (p->content_type.ptr) {
        buf_printf(&r->log, "|%zu:", p->content_type.len);
        buf_append_str(&r->log, p->content_type);
    }
    buf_append_cstr(&r->log, "]");
    buf_reset(&r->part);
    return 0;
}

static int on_data(void *arg, str_t d)
{
    struct run *r = arg;
    if (d.len == 0)
        abort();
    buf_append_str(&r->log, d); /* raw: the same bytes whatever the slicing */
    buf_append_str(&r->part, d);
    return 0;
}

static int on_end(void *arg)
{
    struct run *r = arg;
    if (r->part.len && memmem(r->part.data, r->part.len, r->delim.ptr, r->delim.len))
        abort();
    buf_append_cstr(&r->log, "<end>");
    return 0;
}

static const http_mp_callbacks_t cb = {on_part, on_data, on_end};

/* Parses body in pieces (sizes from sizes[], cycling; NULL: one piece). Returns the result. */
static int run(struct run *r, str_t boundary, str_t body, const uint8_t *sizes, size_t nsizes)
{
    static http_mp_parser_t p;
    char delim[HTTP_MP_MAX_BOUNDARY + 4] = "\r\n--";
    memcpy(delim + 4, boundary.ptr, boundary.len);
    buf_init(&r->log, (size_t)1 << 24);
    buf_init(&r->part, (size_t)1 << 24);
    r->delim = str_make(delim, boundary.len + 4);
    r->parts = 0;
    if (http_mp_init(&p, boundary, &cb, r) != 0)
        abort();
    size_t off = 0, k = 0;
    int rc = 0;
    while (off < body.len && rc == 0) {
        size_t n = sizes ? 1 + (size_t)(sizes[k++ % nsizes] % 97) : body.len;
        if (n > body.len - off)
            n = body.len - off;
        rc = http_mp_feed(&p, str_make(body.ptr + off, n));
        off += n;
    }
    if (rc == 0)
        rc = http_mp_finish(&p);
    buf_dispose(&r->part);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - p) : size;
    str_t ct = str_make(p, ctlen);
    str_t body = nl ? str_make(nl + 1, size - ctlen - 1) : str_make(p + size, 0);
    check_name(str_make(p, size > 512 ? 512 : size));
    str_t b;
    int rc = http_mp_boundary(ct, &b);
    if (rc != 0) {
        if (rc != ERR_INVALID && rc != ERR_UNSUPPORTED_MEDIA)
            abort();
        b = STR_LIT("boundary"); /* still exercise the part parser */
    } else if (b.ptr < p || b.ptr + b.len > p + ctlen || b.len == 0 ||
               b.len > HTTP_MP_MAX_BOUNDARY) {
        abort();
    }
    struct run whole, pieces;
    int rc1 = run(&whole, b, body, NULL, 0);
    int rc2 = run(&pieces, b, body, data, size ? size : 1);
    if (rc1 != rc2 || (rc1 != 0 && rc1 != ERR_INVALID))
        abort();
    if (whole.parts != pieces.parts || !str_eq(buf_str(&whole.log), buf_str(&pieces.log)))
        abort();
    buf_dispose(&whole.log);
    buf_dispose(&pieces.log);
    return 0;
}

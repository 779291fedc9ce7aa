/*
 * multipart.c - libFuzzer target for the multipart/form-data parser (src/api/multipart.c).
 *
 * Input: the first line is a Content-Type value, the rest is the body. Properties: the
 * boundary and every part slice lie inside their buffers; iteration terminates within
 * API_MP_MAX_PARTS + 1 steps; part data never contains the delimiter; the sanitised
 * filename is NUL-terminated, bounded, valid UTF-8, and contains no '/', '\' or control
 * byte and does not start with '.'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/multipart.h"
#include "api/svc.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(str_t s, const char *base, size_t len)
{
    if (s.ptr && (s.ptr < base || s.ptr + s.len > base + len))
        abort();
}

static void check_name(str_t in)
{
    char out[64];
    api_mp_sanitize_filename(in, out, sizeof out);
    size_t n = strlen(out);
    if (n == 0 || n >= sizeof out || out[0] == '.' || !api__utf8_valid(str_make(out, n)))
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
            abort();
    }
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
    int rc = api_mp_boundary(ct, &b);
    if (rc != 0) {
        if (rc != ERR_INVALID && rc != ERR_UNSUPPORTED_MEDIA)
            abort();
        b = STR_LIT("boundary"); /* still exercise the part parser */
    } else {
        inside(b, p, ctlen);
        if (b.len == 0 || b.len > API_MP_MAX_BOUNDARY)
            abort();
    }
    size_t pos = 0;
    api_mp_part_t part;
    int steps = 0;
    while ((rc = api_mp_next(body, b, &pos, &part)) == 0) {
        if (++steps > API_MP_MAX_PARTS)
            abort();
        inside(part.name, body.ptr, body.len);
        inside(part.filename, body.ptr, body.len);
        inside(part.content_type, body.ptr, body.len);
        inside(part.data, body.ptr, body.len);
        char delim[API_MP_MAX_BOUNDARY + 4] = "\r\n--";
        memcpy(delim + 4, b.ptr, b.len);
        if (part.data.len && memmem(part.data.ptr, part.data.len, delim, b.len + 4))
            abort();
        if (part.has_filename)
            check_name(part.filename);
    }
    if (rc != ERR_DECLINED && rc != ERR_INVALID)
        abort();
    return 0;
}

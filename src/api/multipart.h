/*
 * multipart.h - a multipart/form-data parser (RFC 7578 over RFC 2046) for POST /upload.
 *
 * It works on a complete body in memory (the HTTP layer buffers bodies up to
 * JWTD_MAX_BODY_BYTES) and never copies: each part is a set of slices into the body. It is
 * strict where laxness would be dangerous (a boundary must be 1..70 characters, part
 * headers are bounded in size and count, the closing delimiter must be present) and
 * decodes only what a file upload needs: the name and filename of Content-Disposition and
 * the part's Content-Type. Pure functions, thread-safe; fuzzed by fuzz/multipart.c.
 */
#ifndef JWTD_API_MULTIPART_H
#define JWTD_API_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "common/str.h"

#define API_MP_MAX_BOUNDARY     70
#define API_MP_MAX_HEADER_BYTES 8192 /* all headers of one part */
#define API_MP_MAX_PARTS        64

typedef struct {
    str_t name;     /* Content-Disposition name (quotes removed, not unescaped) */
    str_t filename; /* filename parameter; valid when has_filename */
    bool has_filename;
    str_t content_type; /* STR_NULL when absent */
    str_t data;         /* the part's content */
} api_mp_part_t;

/*
 * The boundary parameter of a Content-Type value "multipart/form-data; boundary=..."
 * (quoted or not). Returns 0 and *boundary (a slice of content_type), ERR_UNSUPPORTED_MEDIA
 * when the type is not multipart/form-data, ERR_INVALID for a missing or bad boundary.
 */
int api_mp_boundary(str_t content_type, str_t *boundary);

/*
 * Iterates the parts of body. Start with *pos = 0. Returns 0 with *part filled, ERR_DECLINED
 * after the closing delimiter (the end), or ERR_INVALID for a malformed body (no opening
 * delimiter, truncated part, bad or oversized headers, too many parts: *pos counts them in
 * the high bits, callers only pass it back).
 */
int api_mp_next(str_t body, str_t boundary, size_t *pos, api_mp_part_t *part);

/*
 * A stored-name-safe version of a client filename for metadata: the last path component
 * (after '/' or '\'), control characters and quotes removed, invalid UTF-8 replaced by
 * '_', leading dots dropped, at most cap - 1 bytes (cut on a character boundary). Never
 * empty: "upload" when nothing is left. Writes a NUL-terminated string into out.
 */
void api_mp_sanitize_filename(str_t in, char *out, size_t cap);

#endif

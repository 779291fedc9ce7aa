/*
 * multipart.h - a streaming multipart/form-data parser (RFC 7578 over RFC 2046) for
 * POST /upload.
 *
 * The body is fed in chunks as it arrives (http_mp_feed); a delimiter, a part's header
 * section or the closing "--" may straddle chunk boundaries. The parser reports each part's
 * headers once (on_part), then its content as slices (on_data, possibly many per part,
 * possibly empty for none), then its end (on_part_end). It never holds more than one part's
 * header section (HTTP_MP_MAX_HEADER_BYTES) and a delimiter's length of content, so memory
 * stays constant whatever the body size.
 *
 * It is strict where laxness would be dangerous: a boundary must be 1..70 characters, part
 * headers are bounded in size and count, Content-Disposition is required (once) and must
 * be form-data with a name, the closing delimiter must be present (http_mp_finish). It
 * decodes only what a file upload needs: the name and filename of Content-Disposition and
 * the part's Content-Type. No allocation; one parser per body, used on one thread; fuzzed
 * by fuzz/multipart.c.
 */
#ifndef JWTD_HTTP_MULTIPART_H
#define JWTD_HTTP_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/str.h"

#define HTTP_MP_MAX_BOUNDARY     70
#define HTTP_MP_MAX_HEADER_BYTES 8192 /* all headers of one part, with their CRLFs */
#define HTTP_MP_MAX_PARTS        64
#define HTTP_MP_MAX_PADDING      256 /* transport padding (LWSP) after a delimiter */

/* What on_part sees of a part. Slices are valid only during the callback. */
typedef struct {
    str_t name;     /* Content-Disposition name (quotes removed, not unescaped) */
    str_t filename; /* filename parameter; valid when has_filename */
    bool has_filename;
    str_t content_type; /* STR_NULL when absent */
} http_mp_part_t;

/*
 * Callbacks; each returns 0 to go on, or an error code that stops parsing: http_mp_feed then
 * returns that code and the parser is dead. data slices are valid only during the call.
 */
typedef struct {
    int (*on_part)(void *arg, const http_mp_part_t *part);
    int (*on_data)(void *arg, str_t data);
    int (*on_part_end)(void *arg);
} http_mp_callbacks_t;

/* Parser state (caller storage, about 8.5 KiB). Fields are private. */
typedef struct {
    const http_mp_callbacks_t *_cb;
    void *_arg;
    char _delim[HTTP_MP_MAX_BOUNDARY + 4]; /* "\r\n--" boundary */
    uint32_t _dlen;
    uint8_t _state;
    uint8_t _sub;      /* position inside the bytes after a delimiter */
    uint32_t _pad;     /* transport padding bytes seen */
    uint32_t _parts;   /* parts begun */
    uint32_t _carry_n; /* held-back bytes that may start a delimiter */
    char _carry[HTTP_MP_MAX_BOUNDARY + 4];
    uint32_t _hlen; /* bytes in _hdr */
    char _hdr[HTTP_MP_MAX_HEADER_BYTES + 4];
} http_mp_parser_t;

/*
 * The boundary parameter of a Content-Type value "multipart/form-data; boundary=..."
 * (quoted or not). Returns 0 and *boundary (a slice of content_type), ERR_UNSUPPORTED_MEDIA
 * when the type is not multipart/form-data, ERR_INVALID for a missing or bad boundary.
 */
int http_mp_boundary(str_t content_type, str_t *boundary);

/*
 * Prepares p for one body with boundary (1..HTTP_MP_MAX_BOUNDARY bytes, copied) and the
 * callbacks (borrowed, with arg, for the parser's life). Returns 0 or ERR_INVALID.
 */
int http_mp_init(http_mp_parser_t *p, str_t boundary, const http_mp_callbacks_t *cb, void *arg);

/*
 * Parses the next chunk of the body (any length, any split). Returns 0; ERR_INVALID for a
 * malformed body (no opening delimiter is only known at http_mp_finish); or the first
 * nonzero code a callback returned. After an error every call returns ERR_INVALID.
 */
int http_mp_feed(http_mp_parser_t *p, str_t chunk);

/* The body ended: 0 if the closing delimiter was seen, else ERR_INVALID (truncated). */
int http_mp_finish(http_mp_parser_t *p);

/* True once the closing delimiter was parsed (the rest of the body is epilogue). */
bool http_mp_done(const http_mp_parser_t *p);

/*
 * A stored-name-safe version of a client filename for metadata: the last path component
 * (after '/' or '\'), control characters and quotes removed, invalid UTF-8 replaced by
 * '_', leading dots dropped, at most cap - 1 bytes (cut on a character boundary). Never
 * empty: "upload" when nothing is left. Writes a NUL-terminated string into out.
 */
void http_mp_sanitize_filename(str_t in, char *out, size_t cap);

#endif

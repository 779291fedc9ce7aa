/*
 * jsonw.h - JSON text written without a JSON library: the one string escaper of jwtd, and
 * a small writer into a fixed buffer for the paths where jansson's allocations are not
 * wanted (token claims, the user object, answers built on the event loops).
 *
 * Strings are escaped per RFC 8259: quote, backslash and control characters (\n, \t, ...
 * or \u00XX); everything else (UTF-8 included) is copied as is. The caller is responsible
 * for handing over valid UTF-8.
 */
#ifndef JWTD_COMMON_JSONW_H
#define JWTD_COMMON_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Writes JSON text into a caller-provided buffer. An append that does not fit marks the
 * writer failed (and later appends are ignored); check jsonw_failed() once at the end. The
 * buffer is not NUL-terminated by the writer. Not thread-safe (one owner).
 */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} jsonw_t;

void jsonw_init(jsonw_t *w, char *buf, size_t cap);
/* Appends s verbatim (JSON punctuation, member names already quoted). */
void jsonw_raw(jsonw_t *w, const char *s);
/* Appends s (NUL-terminated, UTF-8; NULL = "") as a quoted, escaped JSON string. */
void jsonw_str(jsonw_t *w, const char *s);
/* The same for n bytes. */
void jsonw_strn(jsonw_t *w, const char *s, size_t n);
/* Appends a decimal integer. */
void jsonw_int(jsonw_t *w, int64_t v);
/* Appends ,"name":"value": a member after the first; name is written as is (a literal
   with nothing to escape), value as jsonw_str. */
void jsonw_member(jsonw_t *w, const char *name, const char *value);
bool jsonw_failed(const jsonw_t *w);
size_t jsonw_len(const jsonw_t *w);

/* Appends s (n bytes) as a quoted, escaped JSON string to b. Returns buf_append's result. */
int jsonw_buf_str(buf_t *b, const char *s, size_t n);
/* The same for a NUL-terminated string (NULL = ""). */
int jsonw_buf_cstr(buf_t *b, const char *s);

#endif

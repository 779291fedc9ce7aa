/*
 * text.h - small text helpers shared by several modules: UTF-8 validation and counting,
 * and the edit distance behind "did you mean ...?" suggestions. Pure functions.
 */
#ifndef JWTD_COMMON_TEXT_H
#define JWTD_COMMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/str.h"

/* Whether s is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
bool text_utf8_valid(str_t s);
/* Unicode code points in s (continuation bytes are not counted; an invalid byte counts 1). */
size_t text_utf8_chars(str_t s);
/*
 * Levenshtein distance of a and b, ASCII letters compared case-insensitively. Words longer
 * than TEXT_EDIT_MAX bytes are "far": the result is then TEXT_EDIT_MAX + 1.
 */
#define TEXT_EDIT_MAX 64
size_t text_edit_distance(str_t a, str_t b);

/* Writes v in decimal at out (room for 20 characters, no NUL); returns the length. For hot
   paths that build a line by hand instead of through printf. */
size_t text_put_u64(char *out, uint64_t v);
#endif

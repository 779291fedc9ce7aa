/*
 * json_scan.h - a strict, zero-allocation JSON tokenizer for small documents (JWT headers
 * and claims), in the spirit of jsmn but validating all of RFC 8259.
 *
 * json_scan() checks the whole text (grammar, string escapes including surrogate pairs,
 * UTF-8, number syntax, nesting depth, duplicate member names in every object, compared
 * after unescaping) and fills a caller-provided array of tokens in document order. Each
 * token records where its text is and the index just past its subtree (`next`), so a
 * caller walks an object's members without recursion:
 *
 *     for (uint32_t k = obj + 1; k < toks[obj].next; k = toks[k + 1].next)
 *         key = toks[k], value = toks[k + 1]
 *
 * It is for the token hot path, where a tree parser's allocations would cost more than
 * the rest of verification. Everything else in jwtd parses JSON with jansson.
 */
#ifndef JWTD_COMMON_JSON_SCAN_H
#define JWTD_COMMON_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
    JSON_T_OBJECT = 1,
    JSON_T_ARRAY,
    JSON_T_STRING,
    JSON_T_NUMBER,
    JSON_T_TRUE,
    JSON_T_FALSE,
    JSON_T_NULL,
};

/* Errors of json_scan(). */
enum json_scan_err {
    JSON_E_SYNTAX = -1,  /* not valid JSON (or not UTF-8) */
    JSON_E_DEPTH = -2,   /* nested deeper than max_depth */
    JSON_E_TOOMANY = -3, /* more values than max_toks */
    JSON_E_DUPKEY = -4,  /* an object repeats a member name */
};

typedef struct {
    uint8_t type;       /* enum json_type */
    uint8_t has_escape; /* strings: contains a backslash escape */
    uint8_t is_int;     /* numbers: no fraction and no exponent */
    uint8_t _pad;
    uint32_t start; /* offset of the value's text; strings: just after the opening quote */
    uint32_t len;   /* text length; strings: raw length between the quotes */
    uint32_t next;  /* index of the first token after this value's subtree */
    uint32_t size;  /* objects: member count; arrays: element count; keys: internal */
} json_tok_t;

/*
 * Scans text (len bytes, no NUL needed) into toks (max_toks entries). max_depth bounds the
 * nesting of objects and arrays (the top level counts as 1). An object member produces two
 * tokens, key then value. OUT: *n_toks. Returns 0 or a JSON_E_* code.
 */
int json_scan(const char *text, size_t len, json_tok_t *toks, size_t max_toks, unsigned max_depth,
              size_t *n_toks) __attribute__((warn_unused_result));

/*
 * Writes the unescaped bytes of a string token into out (cap bytes, no NUL added). The
 * token must come from a successful json_scan() of text. Returns the length, or
 * (size_t)-1 when cap is too small. The result may contain NUL bytes (from \u0000).
 */
size_t json_str_unescape(const char *text, const json_tok_t *t, char *out, size_t cap);

/* Whether a string token's unescaped value equals the n bytes of s. */
bool json_str_eq(const char *text, const json_tok_t *t, const char *s, size_t n);

/*
 * Reads an integer number token (no fraction, no exponent) into *out. Returns 0, or -1
 * when the token is not an integer or does not fit in int64_t.
 */
int json_tok_int64(const char *text, const json_tok_t *t, int64_t *out);

/*
 * Index of the value of member `name` in the object at index obj, or -1 when absent.
 * Linear in the number of members.
 */
long json_obj_get(const char *text, const json_tok_t *toks, uint32_t obj, const char *name);

#endif

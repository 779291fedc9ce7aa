/*
 * b64url.h - strict base64url (RFC 4648 §5) without padding, as JOSE uses it.
 *
 * The decoder is canonical: it rejects padding ('='), the standard alphabet's '+' and '/',
 * whitespace, a length of 1 modulo 4, and a last character whose unused low bits are not
 * zero. So exactly one encoding maps to each byte string, and a token cannot be altered in
 * its "don't care" bits (peers that ignore those bits accept such tokens; jwtd must not).
 * Nothing here allocates.
 */
#ifndef JWTD_COMMON_B64URL_H
#define JWTD_COMMON_B64URL_H

#include <stdbool.h>
#include <stddef.h>

/* Encoded length of n bytes (no padding, no NUL). */
#define B64URL_ENC_LEN(n) (((n) / 3) * 4 + (((n) % 3) ? ((n) % 3) + 1 : 0))
/* Upper bound of the decoded length of n encoded characters. */
#define B64URL_DEC_MAX(n) (((n) / 4) * 3 + 2)

/*
 * Encodes n bytes of in into out (cap bytes; a NUL is appended when room remains).
 * Returns the encoded length, or (size_t)-1 when cap < B64URL_ENC_LEN(n).
 */
size_t b64url_encode(const void *in, size_t n, char *out, size_t cap);

/*
 * Decodes n characters of in into out (cap bytes), strictly (see above). OUT: *out_len.
 * Returns true on success; false on any non-canonical input or when out is too small.
 */
bool b64url_decode(const char *in, size_t n, void *out, size_t cap, size_t *out_len)
    __attribute__((warn_unused_result));

/* Exact decoded length of n characters, or (size_t)-1 when n % 4 == 1. */
size_t b64url_decoded_len(size_t n);

#endif

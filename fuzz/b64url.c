/*
 * b64url.c - libFuzzer target for strict base64url (src/common/b64url.c).
 *
 * Properties: decoding is canonical (whatever decodes re-encodes to exactly the input),
 * encoding round-trips (decode(encode(x)) == x), and the length helpers agree with both.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t dmax = B64URL_DEC_MAX(size), emax = B64URL_ENC_LEN(size) + 1, n = 0;
    unsigned char *dec = malloc(dmax + 1);
    char *enc = malloc(emax > dmax * 2 + 8 ? emax : dmax * 2 + 8);
    unsigned char *back = malloc(size + 1);
    if (b64url_decode((const char *)data, size, dec, dmax, &n)) {
        if (n != b64url_decoded_len(size))
            abort();
        size_t e = b64url_encode(dec, n, enc, B64URL_ENC_LEN(n) + 1);
        if (e != size || memcmp(enc, data, size) != 0)
            abort(); /* non-canonical input was accepted */
    }
    size_t e = b64url_encode(data, size, enc, emax);
    if (e != B64URL_ENC_LEN(size))
        abort();
    if (!b64url_decode(enc, e, back, size + 1, &n) || n != size || memcmp(back, data, size) != 0)
        abort();
    free(dec);
    free(enc);
    free(back);
    return 0;
}

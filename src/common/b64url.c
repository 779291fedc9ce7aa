/*
 * b64url.c - strict, canonical base64url without padding (see b64url.h).
 *
 * Decoding goes through a 256-entry table where every byte outside the URL-safe alphabet
 * maps to 0xff, so '=', '+', '/', whitespace and NUL are all rejected by the same test. The
 * canonical check looks at the last character only: with 2 leftover characters it carries
 * 4 unused bits, with 3 it carries 2, and those must be zero.
 */
#include "common/b64url.h"

#include <stdint.h>

static const char enc_table[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define XX 0xff
/* clang-format off */
static const uint8_t dec_table[256] = {
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, 62, XX, XX,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, XX, XX, XX, XX, XX, XX,
    XX, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, XX, XX, XX, XX, 63,
    XX, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
};
/* clang-format on */
#undef XX

/*
 * dec_table pre-shifted into each of the four positions of a quad, with bit 31 set for
 * invalid characters: a quad decodes with four loads, three ORs and one test. Built once
 * at load time from dec_table.
 */
static uint32_t dec_shifted[4][256];

__attribute__((constructor)) static void build_dec_shifted(void)
{
    for (int c = 0; c < 256; c++)
        for (int k = 0; k < 4; k++)
            dec_shifted[k][c] =
                dec_table[c] == 0xff ? 0x80000000u : (uint32_t)dec_table[c] << (18 - 6 * k);
}

/* See b64url.h. */
size_t b64url_encode(const void *in, size_t n, char *out, size_t cap)
{
    const uint8_t *p = in;
    size_t need = B64URL_ENC_LEN(n), o = 0, i = 0;
    if (cap < need)
        return (size_t)-1;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = enc_table[v >> 18];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
        out[o++] = enc_table[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = enc_table[v >> 18];
        out[o++] = enc_table[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = enc_table[v >> 18];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
    }
    if (o < cap)
        out[o] = '\0';
    return o;
}

/* See b64url.h. */
size_t b64url_decoded_len(size_t n)
{
    if (n % 4 == 1)
        return (size_t)-1;
    return (n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* See b64url.h. */
bool b64url_decode(const char *in, size_t n, void *out, size_t cap, size_t *out_len)
{
    const uint8_t *s = (const uint8_t *)in;
    uint8_t *d = out;
    size_t need = b64url_decoded_len(n), i = 0, o = 0;
    if (need == (size_t)-1 || need > cap)
        return false;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = dec_shifted[0][s[i]] | dec_shifted[1][s[i + 1]] | dec_shifted[2][s[i + 2]] |
                     dec_shifted[3][s[i + 3]];
        if (v & 0x80000000u)
            return false;
        d[o] = (uint8_t)(v >> 16);
        d[o + 1] = (uint8_t)(v >> 8);
        d[o + 2] = (uint8_t)v;
        o += 3;
    }
    size_t rest = n - i;
    if (rest == 2) {
        uint32_t a = dec_table[s[i]], b = dec_table[s[i + 1]];
        if ((a | b) & 0x80 || (b & 0x0f))
            return false;
        d[o++] = (uint8_t)(a << 2 | b >> 4);
    } else if (rest == 3) {
        uint32_t a = dec_table[s[i]], b = dec_table[s[i + 1]], c = dec_table[s[i + 2]];
        if ((a | b | c) & 0x80 || (c & 0x03))
            return false;
        uint32_t v = a << 18 | b << 12 | c << 6;
        d[o++] = (uint8_t)(v >> 16);
        d[o++] = (uint8_t)(v >> 8);
    }
    *out_len = o;
    return true;
}

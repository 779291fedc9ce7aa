/*
 * b64url.c - tests for strict base64url (src/common/b64url.c): RFC 4648 test vectors,
 * every length mod 3, and each rejection rule (padding, standard alphabet, whitespace,
 * length 1 mod 4, non-zero unused bits, short output buffer).
 */
#include "common/b64url.h"

#include <stdlib.h>

#include "test.h"

TEST(b64url_rfc4648_vectors)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[32], back[32];
        size_t n = b64url_encode(plain[i], strlen(plain[i]), out, sizeof out), m = 0;
        ASSERT_EQ_INT(n, strlen(enc[i]));
        ASSERT_STR_EQ(out, enc[i]);
        ASSERT_TRUE(b64url_decode(out, n, back, sizeof back, &m));
        ASSERT_EQ_INT(m, strlen(plain[i]));
        ASSERT_MEM_EQ(back, plain[i], m);
    }
}

TEST(b64url_url_alphabet)
{
    const unsigned char in[] = {0xfb, 0xff, 0xbf};
    char out[8];
    unsigned char back[8];
    size_t m;
    b64url_encode(in, 3, out, sizeof out);
    ASSERT_STR_EQ(out, "-_-_");
    ASSERT_TRUE(b64url_decode("-_-_", 4, back, sizeof back, &m));
    ASSERT_MEM_EQ(back, in, 3);
    ASSERT_TRUE(!b64url_decode("+/+/", 4, back, sizeof back, &m));
}

TEST(b64url_roundtrip_all_lengths)
{
    unsigned char in[300], back[300];
    char enc[512];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t e = b64url_encode(in, n, enc, sizeof enc), m = 0;
        ASSERT_EQ_INT(e, B64URL_ENC_LEN(n));
        ASSERT_EQ_INT(b64url_decoded_len(e), n);
        ASSERT_TRUE(b64url_decode(enc, e, back, sizeof back, &m));
        ASSERT_EQ_INT(m, n);
        ASSERT_TRUE(memcmp(in, back, n) == 0);
    }
}

TEST(b64url_rejects_noncanonical)
{
    unsigned char out[16];
    size_t m;
    /* "Zg" is canonical for "f"; "Zh".."Zv" differ only in the 4 unused bits */
    ASSERT_TRUE(b64url_decode("Zg", 2, out, sizeof out, &m));
    ASSERT_TRUE(!b64url_decode("Zh", 2, out, sizeof out, &m));
    ASSERT_TRUE(!b64url_decode("Zv", 2, out, sizeof out, &m));
    /* "Zm8" is canonical for "fo"; "Zm9" sets an unused bit */
    ASSERT_TRUE(b64url_decode("Zm8", 3, out, sizeof out, &m));
    ASSERT_TRUE(!b64url_decode("Zm9", 3, out, sizeof out, &m));
    ASSERT_TRUE(!b64url_decode("Zm-", 3, out, sizeof out, &m));
}

TEST(b64url_rejects_bad_input)
{
    unsigned char out[16];
    size_t m;
    ASSERT_TRUE(!b64url_decode("Zg==", 4, out, sizeof out, &m));      /* padding */
    ASSERT_TRUE(!b64url_decode("Zm9v\n", 5, out, sizeof out, &m));    /* newline */
    ASSERT_TRUE(!b64url_decode("Zm 9v", 5, out, sizeof out, &m));     /* space */
    ASSERT_TRUE(!b64url_decode("Zm9vY", 5, out, sizeof out, &m));     /* length 1 mod 4 */
    ASSERT_TRUE(!b64url_decode("Zm9v\0Zm9", 8, out, sizeof out, &m)); /* NUL */
    ASSERT_TRUE(!b64url_decode("Zm9v\xc3\xa9", 6, out, sizeof out, &m));
    ASSERT_TRUE(!b64url_decode("Zm9vYmFy", 8, out, 5, &m)); /* out too small */
    ASSERT_TRUE(b64url_decode("Zm9vYmFy", 8, out, 6, &m));
    ASSERT_TRUE(b64url_decode("", 0, out, 0, &m));
    ASSERT_EQ_INT(m, 0);
}

TEST(b64url_encode_short_buffer)
{
    char out[4];
    ASSERT_EQ_INT(b64url_encode("foob", 4, out, sizeof out), (size_t)-1);
    ASSERT_EQ_INT(b64url_encode("foo", 3, out, 4), 4); /* exact fit, no room for NUL */
    ASSERT_MEM_EQ(out, "Zm9v", 4);
}

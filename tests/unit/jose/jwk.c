/*
 * jwk.c - tests for jose keys (src/jose/jwk.c): HMAC secret lengths, PEM formats (PKCS#8,
 * traditional, SPKI, PKCS#1 public), weak, mismatched and encrypted keys, JWK export/import
 * round trips, and the JWKs that must be refused or skipped.
 */
#include <stdio.h>
#include <stdlib.h>

#include "jose/jose.h"
#include "josetest.h"
#include "test.h"

TEST(jose_hmac_secret_length)
{
    jose_key_t *k = NULL;
    char err[256];
    unsigned char s[64] = {1};
    ASSERT_EQ_INT(jose_key_from_secret(josetest_alg("HS256"), s, 31, &k, err, sizeof err),
                  JWTV_EKEY);
    ASSERT_TRUE(strstr(err, "at least 32") != NULL);
    ASSERT_EQ_INT(jose_key_from_secret(josetest_alg("HS384"), s, 47, &k, err, sizeof err),
                  JWTV_EKEY);
    ASSERT_EQ_INT(jose_key_from_secret(josetest_alg("HS512"), s, 63, &k, err, sizeof err),
                  JWTV_EKEY);
    ASSERT_EQ_INT(jose_key_from_secret(josetest_alg("RS256"), s, 64, &k, err, sizeof err),
                  JWTV_EKEY);
    ASSERT_EQ_INT(jose_key_from_secret(josetest_alg("HS512"), s, 64, &k, err, sizeof err), 0);
    /* kid of an HMAC key: thumbprint of {"k":..,"kty":"oct"} */
    ASSERT_EQ_INT(strlen(jose_key_kid(k)), JOSE_THUMBPRINT_LEN);
    buf_t b;
    buf_init(&b, 4096);
    ASSERT_EQ_INT(jose_key_public_jwk(k, &b), JWTV_EKEY); /* never exported */
    buf_dispose(&b);
    jose_key_free(k);
}

TEST(jose_pem_formats)
{
    static const struct {
        const char *file, *alg;
        int rc;
        bool priv;
    } cases[] = {
        {"keys/rsa2048.pem", NULL, 0, true},
        {"keys/rsa2048-traditional.pem", "PS256", 0, true},
        {"keys/rsa2048.pub.pem", "RS512", 0, false},
        {"keys/rsa2048.pkcs1pub.pem", NULL, 0, false},
        {"keys/p256.pem", NULL, 0, true},
        {"keys/p256-traditional.pem", "ES256", 0, true},
        {"keys/p256.pub.pem", "ES256", 0, false},
        {"keys/p384.pem", "ES384", 0, true},
        {"keys/ed25519.pem", "EdDSA", 0, true},
        {"keys/rsa1024.pem", NULL, JWTV_EKEY, false}, /* too small */
        {"keys/p256.pem", "ES384", JWTV_EKEY, false}, /* wrong curve */
        {"keys/p256.pem", "RS256", JWTV_EKEY, false}, /* wrong type */
        {"keys/rsa2048.pem", "EdDSA", JWTV_EKEY, false},
        {"keys/p521.pem", NULL, JWTV_EKEY, false},     /* unsupported curve */
        {"keys/hs256.secret", NULL, JWTV_EKEY, false}, /* not PEM */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *pem = josetest_read_vec(cases[i].file, &len), err[256] = "";
        jose_key_t *k = NULL;
        ASSERT_TRUE(pem != NULL);
        int rc = jose_key_from_pem(cases[i].alg ? josetest_alg(cases[i].alg) : NULL, pem, len, &k,
                                   err, sizeof err);
        if (!CHECK_EQ_INT(rc, cases[i].rc))
            fprintf(stderr, "    %s: %s\n", cases[i].file, err);
        if (rc == 0)
            CHECK_EQ_INT(jose_key_can_sign(k), cases[i].priv);
        jose_key_free(k);
        free(pem);
    }
}

TEST(jose_pem_encrypted_refused)
{
    const char *pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE "
                      "KEY-----\n";
    jose_key_t *k;
    char err[256];
    ASSERT_EQ_INT(jose_key_from_pem(NULL, pem, strlen(pem), &k, err, sizeof err), JWTV_EKEY);
    ASSERT_TRUE(strstr(err, "encrypted") != NULL);
}

TEST(jose_jwk_export_import_roundtrip)
{
    static const char *const names[] = {"RS256", "PS384", "ES256", "ES384", "EdDSA"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        jose_key_t *k, *pub;
        char err[256], tok[4096];
        size_t tl;
        buf_t jwk;
        ASSERT_EQ_INT(jose_key_generate(josetest_alg(names[i]), 0, &k, err, sizeof err), 0);
        buf_init(&jwk, 1 << 16);
        ASSERT_EQ_INT(jose_key_public_jwk(k, &jwk), 0);
        ASSERT_TRUE(strstr(jwk.data, "\"d\"") == NULL);
        ASSERT_EQ_INT(jose_key_from_jwk(buf_str(&jwk), &pub, err, sizeof err), 0);
        ASSERT_STR_EQ(jose_key_kid(pub), jose_key_kid(k));
        ASSERT_TRUE(jose_key_alg(pub) == jose_key_alg(k));
        ASSERT_TRUE(!jose_key_can_sign(pub));
        /* a public key verifies what the private key signed */
        jose_keyring_t *ring = jose_keyring_new();
        ASSERT_EQ_INT(jose_keyring_add(ring, pub, JOSE_ROLE_TRUSTED, err, sizeof err), 0);
        ASSERT_EQ_INT(jose_jws_sign(k, STR_NULL, STR_LIT(JOSETEST_CLAIMS), tok, sizeof tok, &tl),
                      0);
        jwtv_options opt;
        static jwtv_claims c;
        jwtv_options_init(&opt);
        ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c), 0);
        /* and the public key cannot sign */
        ASSERT_EQ_INT(jose_jws_sign(pub, STR_NULL, STR_LIT(JOSETEST_CLAIMS), tok, sizeof tok, &tl),
                      JWTV_EKEY);
        jose_keyring_release(ring);
        jose_key_free(k);
        buf_dispose(&jwk);
    }
    jose_thread_cleanup();
}

TEST(jose_jwk_rejects)
{
    static const struct {
        const char *json;
        int rc;
    } cases[] = {
        {"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", JWTV_EKEY},
        {"{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"AAAA\"}", JWTV_EKEY},
        {"{\"kty\":\"oct\",\"alg\":\"none\",\"k\":\"AAAA\"}", JWTV_EKEY},
        {"{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"AAAA\"}", JWTV_EKEY},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", JWTV_EKEY},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
         "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}",
         JWTV_EKEY}, /* non-canonical base64url */
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
         "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}",
         JWTV_EKEY}, /* not on the curve */
        {"{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", JWTV_EUNSUPPORTED_ALG},
        {"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}", JWTV_EUNSUPPORTED_ALG},
        {"{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"AQAB\"}", JWTV_EKEY}, /* tiny modulus */
        {"{\"kty\":\"RSA\",\"e\":\"AQ\",\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_"
         "KuKPEHLd4rHVTeT"
         "-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5"
         "ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0Z"
         "CuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuax"
         "wUkRz5iaiQkqgc5gHdrNP5zw\"}",
         JWTV_EKEY}, /* e = 1 */
        {"{\"kty\":\"RSA\",\"use\":\"enc\",\"e\":\"AQAB\",\"n\":\"AQAB\"}", JWTV_EUNSUPPORTED_ALG},
        {"{\"kty\":\"XYZ\"}", JWTV_EUNSUPPORTED_ALG},
        {"{\"kty\":1}", JWTV_EKEY},
        {"[1]", JWTV_EJWKS},
        {"{\"kty\":\"oct\",\"kty\":\"oct\"}", JWTV_EJWKS}, /* duplicate member */
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
         "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
         JWTV_EKEY},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"nWGxne_"
         "9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
         "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp\"}",
         JWTV_EKEY}, /* x does not match d (and is non-canonical) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jose_key_t *k = NULL;
        char err[256] = "";
        int rc = jose_key_from_jwk(str_cstr(cases[i].json), &k, err, sizeof err);
        if (!CHECK_EQ_INT(rc, cases[i].rc))
            fprintf(stderr, "    case %zu: %s (%s)\n", i, cases[i].json, err);
        jose_key_free(k);
    }
}

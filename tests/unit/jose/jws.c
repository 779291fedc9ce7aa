/*
 * jws.c - tests for jose keys, rings, signing and verification (src/jose/): a sign/verify
 * round trip for every algorithm through the ring, PEM formats (PKCS#8, traditional, SPKI,
 * PKCS#1 public), weak and mismatched keys, JWK export/import round trips, rotation roles,
 * the public JWKS (no secrets), and verification from many threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "jose/jose.h"
#include "test.h"

static const char *claims = "{\"token_type\":\"access\",\"exp\":4102444800,\"iat\":1700000000,"
                            "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":\"7\","
                            "\"sub\":\"7\",\"sid\":\"s\",\"username\":\"bob\",\"email\":\"b@x\","
                            "\"role\":\"admin\",\"premium\":true}";

static char *read_vec_file(const char *rel, size_t *len)
{
    char path[1024], full[1200];
    snprintf(path, sizeof path, "vectors/%s", rel);
    FILE *f = fopen(test_data_path(path, full, sizeof full), "rb");
    if (!f)
        return NULL;
    char *p = malloc(1 << 20);
    *len = fread(p, 1, (1 << 20) - 1, f);
    p[*len] = '\0';
    fclose(f);
    return p;
}

static const jose_alg_t *alg(const char *name)
{
    return jose_alg_by_name(str_cstr(name));
}

TEST(jose_sign_verify_every_alg)
{
    static const char *const names[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                                        "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        jose_key_t *k;
        char err[256], tok[4096];
        size_t tl;
        jwtv_options opt;
        static jwtv_claims c;
        jose_keyring_t *ring = jose_keyring_new();
        ASSERT_EQ_INT(jose_key_generate(alg(names[i]), 2048, &k, err, sizeof err), 0);
        ASSERT_EQ_INT(jose_keyring_add(ring, k, JOSE_ROLE_ACTIVE, err, sizeof err), 0);
        ASSERT_EQ_INT(jose_jws_sign(k, STR_NULL, str_cstr(claims), tok, sizeof tok, &tl), 0);
        jwtv_options_init(&opt);
        opt.token_type = "access";
        ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c), 0);
        ASSERT_STR_EQ(c.alg, names[i]);
        ASSERT_STR_EQ(c.kid, jose_key_kid(k));
        ASSERT_STR_EQ(c.user_id, "7");
        ASSERT_STR_EQ(c.role, "admin");
        ASSERT_TRUE(c.premium && c.has_premium);
        ASSERT_EQ_INT(c.exp, 4102444800);
        /* the header is exactly {"alg","typ":"JWT","kid"} */
        buf_t h, p;
        buf_init(&h, 4096);
        buf_init(&p, 4096);
        ASSERT_EQ_INT(jose_jws_decode_unverified(str_make(tok, tl), &h, &p), 0);
        char want[256];
        snprintf(want, sizeof want, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", names[i],
                 jose_key_kid(k));
        ASSERT_STR_EQ(h.data, want);
        ASSERT_STR_EQ(p.data, claims);
        buf_dispose(&h);
        buf_dispose(&p);
        /* a token of the wrong type */
        opt.token_type = "refresh";
        ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c),
                      JWTV_ETOKEN_TYPE);
        ASSERT_TRUE(c.user_id == NULL);
        jose_keyring_release(ring);
    }
    jose_thread_cleanup();
}

TEST(jose_sign_buffer_too_small)
{
    jose_key_t *k;
    char err[128], tok[64];
    size_t tl;
    ASSERT_EQ_INT(jose_key_generate(alg("HS256"), 0, &k, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_jws_sign(k, STR_NULL, str_cstr(claims), tok, sizeof tok, &tl),
                  JWTV_ETOOLARGE);
    jose_key_free(k);
    jose_thread_cleanup();
}

TEST(jose_sign_header_extra)
{
    jose_key_t *k;
    char err[128], tok[2048];
    size_t tl;
    buf_t h, p;
    ASSERT_EQ_INT(jose_key_generate(alg("ES256"), 0, &k, err, sizeof err), 0);
    ASSERT_EQ_INT(
        jose_jws_sign(k, STR_LIT("\"cty\":\"x\""), str_cstr(claims), tok, sizeof tok, &tl), 0);
    buf_init(&h, 4096);
    buf_init(&p, 4096);
    ASSERT_EQ_INT(jose_jws_decode_unverified(str_make(tok, tl), &h, &p), 0);
    ASSERT_TRUE(strstr(h.data, "\"cty\":\"x\"}") != NULL);
    buf_dispose(&h);
    buf_dispose(&p);
    jose_key_free(k);
    jose_thread_cleanup();
}

TEST(jose_hmac_secret_length)
{
    jose_key_t *k = NULL;
    char err[256];
    unsigned char s[64] = {1};
    ASSERT_EQ_INT(jose_key_from_secret(alg("HS256"), s, 31, &k, err, sizeof err), JWTV_EKEY);
    ASSERT_TRUE(strstr(err, "at least 32") != NULL);
    ASSERT_EQ_INT(jose_key_from_secret(alg("HS384"), s, 47, &k, err, sizeof err), JWTV_EKEY);
    ASSERT_EQ_INT(jose_key_from_secret(alg("HS512"), s, 63, &k, err, sizeof err), JWTV_EKEY);
    ASSERT_EQ_INT(jose_key_from_secret(alg("RS256"), s, 64, &k, err, sizeof err), JWTV_EKEY);
    ASSERT_EQ_INT(jose_key_from_secret(alg("HS512"), s, 64, &k, err, sizeof err), 0);
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
        char *pem = read_vec_file(cases[i].file, &len), err[256] = "";
        jose_key_t *k = NULL;
        ASSERT_TRUE(pem != NULL);
        int rc = jose_key_from_pem(cases[i].alg ? alg(cases[i].alg) : NULL, pem, len, &k, err,
                                   sizeof err);
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
        ASSERT_EQ_INT(jose_key_generate(alg(names[i]), 0, &k, err, sizeof err), 0);
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
        ASSERT_EQ_INT(jose_jws_sign(k, STR_NULL, str_cstr(claims), tok, sizeof tok, &tl), 0);
        jwtv_options opt;
        static jwtv_claims c;
        jwtv_options_init(&opt);
        ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c), 0);
        /* and the public key cannot sign */
        ASSERT_EQ_INT(jose_jws_sign(pub, STR_NULL, str_cstr(claims), tok, sizeof tok, &tl),
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

TEST(jose_keyring_roles_and_jwks)
{
    jose_keyring_t *ring = jose_keyring_new();
    jose_key_t *a, *b, *c, *h, *dup;
    char err[256];
    buf_t jwks;
    ASSERT_EQ_INT(jose_key_generate(alg("ES256"), 0, &a, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_key_generate(alg("ES256"), 0, &b, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_key_generate(alg("EdDSA"), 0, &c, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_key_generate(alg("HS256"), 0, &h, err, sizeof err), 0);
    char kid_a[JOSE_KID_MAX + 1];
    snprintf(kid_a, sizeof kid_a, "%s", jose_key_kid(a));
    ASSERT_EQ_INT(jose_keyring_add(ring, a, JOSE_ROLE_ACTIVE, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, b, JOSE_ROLE_NEXT, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, c, JOSE_ROLE_RETIRED, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, h, JOSE_ROLE_TRUSTED, err, sizeof err), 0);
    ASSERT_TRUE(jose_keyring_active(ring) == a);
    ASSERT_TRUE(jose_keyring_find(ring, str_cstr(kid_a)) == a);
    ASSERT_TRUE(jose_keyring_find(ring, str_cstr(jose_key_kid(c))) == c);
    ASSERT_TRUE(jose_keyring_find(ring, STR_LIT("nope")) == NULL);
    /* a second active key, and a duplicate kid, are refused (and freed) */
    ASSERT_EQ_INT(jose_key_generate(alg("ES256"), 0, &dup, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, dup, JOSE_ROLE_ACTIVE, err, sizeof err), JWTV_EKEY);
    size_t len;
    char *pem = read_vec_file("keys/p256.pem", &len);
    ASSERT_EQ_INT(jose_key_from_pem(NULL, pem, len, &dup, err, sizeof err), 0);
    jose_key_t *dup2;
    ASSERT_EQ_INT(jose_key_from_pem(NULL, pem, len, &dup2, err, sizeof err), 0);
    free(pem);
    ASSERT_EQ_INT(jose_keyring_add(ring, dup, JOSE_ROLE_RETIRED, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, dup2, JOSE_ROLE_RETIRED, err, sizeof err), JWTV_EKEY);
    ASSERT_TRUE(strstr(err, "duplicate kid") != NULL);
    /* the JWKS publishes ACTIVE, NEXT, RETIRED asymmetric keys; never HMAC or TRUSTED */
    buf_init(&jwks, 1 << 16);
    ASSERT_EQ_INT(jose_keyring_public_jwks(ring, &jwks), 0);
    ASSERT_TRUE(strstr(jwks.data, kid_a) != NULL);
    ASSERT_TRUE(strstr(jwks.data, jose_key_kid(c)) != NULL);
    ASSERT_TRUE(strstr(jwks.data, jose_key_kid(h)) == NULL);
    ASSERT_TRUE(strstr(jwks.data, "\"oct\"") == NULL);
    ASSERT_TRUE(strstr(jwks.data, "\"d\":") == NULL);
    /* and it loads back as a verifier key set */
    jose_keyring_t *back = jose_keyring_new();
    size_t added = 0;
    ASSERT_EQ_INT(
        jose_keyring_add_jwks(back, buf_str(&jwks), JOSE_ROLE_TRUSTED, &added, err, sizeof err), 0);
    ASSERT_EQ_INT(added, 4);
    buf_dispose(&jwks);
    jose_keyring_release(back);
    /* retain/release */
    jose_keyring_retain(ring);
    jose_keyring_release(ring);
    ASSERT_TRUE(jose_keyring_active(ring) == a);
    jose_keyring_release(ring);
}

struct thread_arg {
    const jose_keyring_t *ring;
    const char *tok;
    int failures;
};

static void *verify_thread(void *p)
{
    struct thread_arg *a = p;
    jwtv_options opt;
    jwtv_claims *c = malloc(sizeof *c);
    jwtv_options_init(&opt);
    for (int i = 0; i < 300; i++)
        if (jose_jwt_verify(a->ring, &opt, str_cstr(a->tok), 1700000000, c) != 0)
            a->failures++;
    free(c);
    jose_thread_cleanup();
    return NULL;
}

TEST(jose_thread_verify_concurrent)
{
    static const char *const names[] = {"HS256", "ES256", "EdDSA", "RS256"};
    jose_keyring_t *ring = jose_keyring_new();
    char toks[4][4096], err[256];
    for (int i = 0; i < 4; i++) {
        jose_key_t *k;
        size_t tl;
        ASSERT_EQ_INT(jose_key_generate(alg(names[i]), 0, &k, err, sizeof err), 0);
        ASSERT_EQ_INT(
            jose_keyring_add(ring, k, i == 0 ? JOSE_ROLE_ACTIVE : JOSE_ROLE_NEXT, err, sizeof err),
            0);
        ASSERT_EQ_INT(jose_jws_sign(k, STR_NULL, str_cstr(claims), toks[i], sizeof toks[i], &tl),
                      0);
    }
    pthread_t th[8];
    struct thread_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct thread_arg){ring, toks[i % 4], 0};
        pthread_create(&th[i], NULL, verify_thread, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(args[i].failures, 0);
    }
    jose_keyring_release(ring);
    jose_thread_cleanup();
}

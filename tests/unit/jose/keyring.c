/*
 * keyring.c - tests for jose key rings (src/jose/keyring.c): rotation roles (one ACTIVE key),
 * duplicate kids, lookup by kid, the public JWKS (no HMAC, TRUSTED or private keys) and
 * loading it back, reference counting.
 */
#include <stdio.h>
#include <stdlib.h>

#include "jose/jose.h"
#include "josetest.h"
#include "test.h"

TEST(jose_keyring_roles_and_jwks)
{
    jose_keyring_t *ring = jose_keyring_new();
    jose_key_t *a, *b, *c, *h, *dup;
    char err[256];
    buf_t jwks;
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("ES256"), 0, &a, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("ES256"), 0, &b, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("EdDSA"), 0, &c, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("HS256"), 0, &h, err, sizeof err), 0);
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
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("ES256"), 0, &dup, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, dup, JOSE_ROLE_ACTIVE, err, sizeof err), JWTV_EKEY);
    size_t len;
    char *pem = josetest_read_vec("keys/p256.pem", &len);
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

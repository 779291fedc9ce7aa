/*
 * jwk_parse.c - libFuzzer target for JWK and JWK Set parsing (src/jose/jwk.c, keyring.c):
 * jose_key_from_jwk() and jose_keyring_add_jwks() on arbitrary JSON.
 *
 * Properties: no crash/leak/UB; every key that loads exports a public JWK (unless HMAC)
 * that loads again with the same kid, algorithm and thumbprint; a loaded key set's public
 * JWKS never contains private members.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const jose_key_t *k)
{
    buf_t jwk;
    jose_key_t *back = NULL;
    char err[256], t1[JOSE_THUMBPRINT_LEN + 1], t2[JOSE_THUMBPRINT_LEN + 1];
    if (jose_key_alg(k)->family == JOSE_FAMILY_HMAC)
        return;
    buf_init(&jwk, 1 << 20);
    if (jose_key_public_jwk(k, &jwk) != 0)
        abort();
    if (jose_key_from_jwk(buf_str(&jwk), &back, err, sizeof err) != 0)
        abort();
    if (strcmp(jose_key_kid(back), jose_key_kid(k)) != 0 || jose_key_alg(back) != jose_key_alg(k))
        abort();
    if (jose_key_thumbprint(k, t1) != 0 || jose_key_thumbprint(back, t2) != 0 ||
        strcmp(t1, t2) != 0)
        abort();
    jose_key_free(back);
    buf_dispose(&jwk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jose_key_t *k = NULL;
    char err[256];
    str_t in = str_make((const char *)data, size);
    if (jose_key_from_jwk(in, &k, err, sizeof err) == 0) {
        roundtrip(k);
        jose_key_free(k);
    }
    jose_keyring_t *ring = jose_keyring_new();
    size_t added = 0;
    if (jose_keyring_add_jwks(ring, in, JOSE_ROLE_RETIRED, &added, err, sizeof err) == 0) {
        buf_t out;
        buf_init(&out, 1 << 22);
        if (added != jose_keyring_count(ring) || jose_keyring_public_jwks(ring, &out) != 0)
            abort();
        if (strstr(out.data, "\"d\":") || strstr(out.data, "\"k\":"))
            abort();
        for (size_t i = 0; i < jose_keyring_count(ring); i++)
            roundtrip(jose_keyring_at(ring, i, NULL));
        buf_dispose(&out);
    }
    jose_keyring_release(ring);
    jose_thread_cleanup();
    return 0;
}

/*
 * webauthn.c - libFuzzer target for the WebAuthn parsers (src/auth/webauthn.c): the first
 * byte picks the parser, the rest is its input: 0 authenticator data, 1 attestation object
 * (then its authenticator data and the credential key, as a registration reads them), 2 a
 * COSE public key, 3 clientDataJSON.
 *
 * Properties: no crash/leak/UB; the slices of accepted authenticator data lie within it, an
 * accepted authenticator data with AT has a COSE key that parses again by itself to the same
 * verdict, and a COSE key that parses yields an EVP_PKEY.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void within(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    if (n && (p < base || p + n > base + size))
        abort();
}

static void cose(const uint8_t *p, size_t n)
{
    int alg = 0;
    EVP_PKEY *k = NULL;
    const char *why = NULL;
    if (wa_cose_key_parse(p, n, &alg, &k, &why) == 0) {
        if (!k || (alg != WA_ALG_ES256 && alg != WA_ALG_RS256 && alg != WA_ALG_EDDSA))
            abort();
        EVP_PKEY_free(k);
    } else if (!why || k) {
        abort();
    }
}

static void authdata(const uint8_t *p, size_t n)
{
    wa_authdata_t ad;
    const char *why = NULL;
    if (wa_authdata_parse(p, n, &ad, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    within(ad.rp_id_hash, 32, p, n);
    if (ad.attested) {
        within(ad.aaguid, 16, p, n);
        within(ad.cred_id, ad.cred_id_len, p, n);
        within(ad.cose_key, ad.cose_key_len, p, n);
        if (ad.cred_id_len == 0 || ad.cred_id_len > WA_MAX_CRED_ID || ad.cose_key_len == 0)
            abort();
        cose(ad.cose_key, ad.cose_key_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        authdata(p, n);
        break;
    case 1: {
        wa_attestation_t a;
        const char *why = NULL;
        if (wa_attestation_parse(p, n, &a, &why) == 0) {
            /* slices point into libcbor's tree (its own copies), not into p */
            if (!a.root || (a.sig_len && !a.sig) || a.x5c_n > WA_MAX_X5C)
                abort();
            authdata(a.auth_data, a.auth_data_len);
            wa_attestation_dispose(&a);
        } else if (!why) {
            abort();
        }
        break;
    }
    case 2:
        cose(p, n);
        break;
    default: {
        uint8_t ch[64];
        size_t len = 0;
        if (wa_client_data_challenge(p, n, ch, sizeof ch, &len) == 0 && len > sizeof ch)
            abort();
        break;
    }
    }
    return 0;
}

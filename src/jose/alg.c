/*
 * alg.c - the table of JWS algorithms jwtd supports (RFC 7518 §3, RFC 8037), and lookups.
 *
 * One row per algorithm: name, jwtv bit, signature family, digest, and for EC/OKP the
 * curve and coordinate size. Everything else in jose/ is driven by these rows.
 */
#include "jose/jose.h"

#include <string.h>

static const jose_alg_t algs[] = {
    {"HS256", JWTV_ALG_HS256, JOSE_FAMILY_HMAC, "SHA256", 32, NULL, 0},
    {"HS384", JWTV_ALG_HS384, JOSE_FAMILY_HMAC, "SHA384", 48, NULL, 0},
    {"HS512", JWTV_ALG_HS512, JOSE_FAMILY_HMAC, "SHA512", 64, NULL, 0},
    {"RS256", JWTV_ALG_RS256, JOSE_FAMILY_RSA, "SHA256", 32, NULL, 0},
    {"RS384", JWTV_ALG_RS384, JOSE_FAMILY_RSA, "SHA384", 48, NULL, 0},
    {"RS512", JWTV_ALG_RS512, JOSE_FAMILY_RSA, "SHA512", 64, NULL, 0},
    {"PS256", JWTV_ALG_PS256, JOSE_FAMILY_RSA_PSS, "SHA256", 32, NULL, 0},
    {"PS384", JWTV_ALG_PS384, JOSE_FAMILY_RSA_PSS, "SHA384", 48, NULL, 0},
    {"PS512", JWTV_ALG_PS512, JOSE_FAMILY_RSA_PSS, "SHA512", 64, NULL, 0},
    {"ES256", JWTV_ALG_ES256, JOSE_FAMILY_EC, "SHA256", 32, "P-256", 32},
    {"ES384", JWTV_ALG_ES384, JOSE_FAMILY_EC, "SHA384", 48, "P-384", 48},
    {"EdDSA", JWTV_ALG_EDDSA, JOSE_FAMILY_EDDSA, NULL, 0, "Ed25519", 32},
};

/* See jose.h. */
const jose_alg_t *jose_alg_by_name(str_t name)
{
    if (name.len < 5 || name.len > 5)
        return NULL;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (memcmp(algs[i].name, name.ptr, 5) == 0)
            return &algs[i];
    return NULL;
}

/* See jose.h. */
const jose_alg_t *jose_alg_by_bit(unsigned bit)
{
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (algs[i].bit == bit)
            return &algs[i];
    return NULL;
}

/* See jose.h. */
bool jose_alg_is_none(str_t name)
{
    return str_eq_nocase(name, STR_LIT("none"));
}

/*
 * alg.c - the table of JWS algorithms jwtd supports (RFC 7518 §3, RFC 8037), and lookups.
 *
 * One row per algorithm: name, jwtv bit, signature family, digest, and for EC/OKP the
 * curve and coordinate size. Everything else in jose/ is driven by these rows, and this is
 * jwtd's only list of algorithms: the metrics label tokens by a row's index
 * (jose_alg_index), names come from the rows. Rows are in the order of the JWTV_ALG_* bits.
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
_Static_assert(sizeof algs / sizeof algs[0] == JOSE_ALG_COUNT, "JOSE_ALG_COUNT is the row count");

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
const jose_alg_t *jose_alg_at(size_t i)
{
    return i < JOSE_ALG_COUNT ? &algs[i] : NULL;
}

/* See jose.h. */
size_t jose_alg_index(const jose_alg_t *alg)
{
    return (size_t)(alg - algs);
}

/* See jose.h. */
const jose_alg_t *jose_claims_alg(const jwtv_claims *c)
{
    return c->alg ? jose_alg_by_name(str_cstr(c->alg)) : NULL;
}

/* See jose.h. */
bool jose_alg_is_none(str_t name)
{
    return str_eq_nocase(name, STR_LIT("none"));
}

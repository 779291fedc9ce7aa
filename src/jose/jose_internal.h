/*
 * jose_internal.h - definitions shared by the files of src/jose/ (and src/lib/, which is
 * jose's public face). Other subsystems include jose.h only.
 */
#ifndef JWTD_JOSE_INTERNAL_H
#define JWTD_JOSE_INTERNAL_H

#include <stdint.h>

#include <openssl/evp.h>

#include "jose/jose.h"

/* Largest signature we handle: RSA-8192. */
#define JOSE_SIG_MAX 1024
/* Largest digest (SHA-512). */
#define JOSE_HASH_MAX 64

struct jose_key {
    const jose_alg_t *alg;
    EVP_PKEY *pkey;        /* NULL for HMAC */
    EVP_MD *md;            /* fetched digest (NULL for EdDSA) */
    unsigned char *secret; /* HMAC secret, wiped on free */
    size_t secret_len;     /* bytes of secret */
    size_t sig_len;        /* exact signature length */
    uint64_t serial;       /* process-unique, never reused: per-thread cache tag */
    bool has_private;      /* can sign */
    bool matches_no_kid;   /* JWK had no kid: also used for kid-less tokens */
    size_t kid_len;        /* bytes of kid */
    char kid[JOSE_KID_MAX + 1];
    char *hdr_b64;      /* base64url of {"alg","typ":"JWT","kid"}; signing keys only */
    size_t hdr_b64_len; /* bytes of hdr_b64 */
};

struct json_t;
/*
 * Builds a key from a parsed JWK object (jansson). Returns JWTV_EUNSUPPORTED_ALG for keys
 * that a JWKS loader should skip (unknown kty/crv/alg, use != sig, key_ops without
 * sign/verify), other errors as jose_key_from_jwk().
 */
int jose__key_from_jwk_obj(struct json_t *jwk, jose_key_t **out, char *err, size_t cap);

/* A fresh process-unique serial for a new key. Thread-safe. */
uint64_t jose__next_serial(void);
/*
 * Finishes a key whose alg and pkey/secret are set: fetches md, computes sig_len, the kid
 * (thumbprint unless kid_len is already set) and the signing header. Returns 0 or error.
 */
int jose__key_finish(jose_key_t *key, char *err, size_t cap);

/*
 * Verifies sig over msg with key (cached per-thread contexts). Returns 0, JWTV_ESIGNATURE,
 * JWTV_ECRYPTO or JWTV_ENOMEM. The caller has checked siglen == key->sig_len.
 */
int jose__verify_sig(const jose_key_t *key, const unsigned char *msg, size_t len,
                     const unsigned char *sig, size_t siglen);
/* Signs msg into sig (JOSE_SIG_MAX bytes). OUT: *siglen. Returns 0 or an error. */
int jose__sign_sig(const jose_key_t *key, const unsigned char *msg, size_t len, unsigned char *sig,
                   size_t *siglen);

/*
 * Decodes, parses and checks the claims in the base64url payload segment into out
 * (header-derived fields are set by the caller). Returns 0 or a JWTV_E* code.
 */
int jose__claims_check(const jwtv_options *opt, const char *pl_b64, size_t pl_len, int64_t now,
                       jwtv_claims *out);

/* Copies n bytes plus a NUL into out's storage. Returns the copy or NULL when full. */
const char *jose__claims_store(jwtv_claims *out, const char *p, size_t n);

#endif

/*
 * jose.h - the JOSE engine of jwtd and of libjwtv: the algorithm table, keys, key rings,
 * compact JWS sign/verify and JWT claim checks, over OpenSSL 3 EVP. This header is the
 * subsystem's contract; jwtd's other modules include only this.
 *
 * Vocabulary: include/jwtv/jwtv.h is the shared token vocabulary, and jose keeps none of
 * its own. The error codes (JWTV_E*), limits (JWTV_MAX_*), algorithm bits (JWTV_ALG_*),
 * verification options (jwtv_options) and the claims view (jwtv_claims) are defined there
 * once, and jose, jwtd (src/auth/, src/root/, src/cli/) and the library's users all speak
 * them; this header includes jwtv.h and adds only the engine. Functions go the other way:
 * jose uses jwtv.h's types and macros but defines and calls none of its functions. Every
 * jwtv_* function is defined in src/lib/, the library's public surface over this engine.
 *
 * What it is not: HTTP, token issuing policy (jti, lifetimes, sessions: src/auth/), or
 * configuration (src/root/keys.c builds a key ring from the key settings).
 *
 * Errors: every fallible function returns 0 or a negative JWTV_E* code (jwtv.h). Functions
 * that load keys also write a human-readable message into err (cap bytes) when err != NULL.
 *
 * Memory: jose never aborts on OOM (the jwtv library is built from it); it allocates with
 * jose__malloc()/jose__free(), which jwtv_set_allocator() can redirect.
 *
 * Threads: keys and key rings are immutable once built and may be shared by any number of
 * threads. Signing and verifying use a per-thread cache of pre-initialised EVP contexts,
 * keyed by a process-unique key serial (see jws.c DESIGN); jose_thread_cleanup() frees it.
 */
#ifndef JWTD_JOSE_H
#define JWTD_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/str.h"
#include "jwtv/jwtv.h"

/* ---------------------------------------------------------------------------------------- */
/* Algorithms                                                                                */
/* ---------------------------------------------------------------------------------------- */

enum jose_family {
    JOSE_FAMILY_HMAC = 1,
    JOSE_FAMILY_RSA,     /* RSASSA-PKCS1-v1_5 */
    JOSE_FAMILY_RSA_PSS, /* RSASSA-PSS, MGF1 with the same hash, salt = hash length */
    JOSE_FAMILY_EC,      /* ECDSA, raw r||s signature (RFC 7518 §3.4) */
    JOSE_FAMILY_EDDSA,   /* Ed25519 (RFC 8037) */
};

typedef struct jose_alg {
    const char *name;        /* "ES256" */
    unsigned bit;            /* JWTV_ALG_* */
    enum jose_family family; /* signature scheme */
    const char *md_name;     /* "SHA256"; NULL for EdDSA */
    size_t hash_len;         /* digest bytes; 0 for EdDSA */
    const char *curve;       /* JWK crv for EC/OKP ("P-256", "Ed25519"), else NULL */
    size_t coord_len;        /* EC coordinate / Ed25519 key bytes; 0 otherwise */
} jose_alg_t;

/* Rows of the algorithm table (alg.c), indexed 0..JOSE_ALG_COUNT-1 in JWTV_ALG_* bit order. */
#define JOSE_ALG_COUNT 12

/* The algorithm with this exact (case-sensitive) name, or NULL when unsupported. */
const jose_alg_t *jose_alg_by_name(str_t name);
/* The algorithm for a JWTV_ALG_* bit, or NULL. */
const jose_alg_t *jose_alg_by_bit(unsigned bit);
/* The i-th row of the table, or NULL when i >= JOSE_ALG_COUNT. */
const jose_alg_t *jose_alg_at(size_t i);
/* The index of a row of the table (alg must be one: never NULL). */
size_t jose_alg_index(const jose_alg_t *alg);
/*
 * The row named by a claims view's alg, or NULL when alg is NULL. jose_jwt_verify() sets
 * alg as soon as the token's header is read, so a rejected token has one too when its
 * header decoded and named a supported algorithm: what metrics and logs label it by.
 */
const jose_alg_t *jose_claims_alg(const jwtv_claims *c);
/* Whether name spells "none" in any letter case (always rejected, never "unsupported"). */
bool jose_alg_is_none(str_t name);

/* ---------------------------------------------------------------------------------------- */
/* Keys                                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* A key bound to exactly one algorithm. Immutable after creation; see jwk.c. */
typedef struct jose_key jose_key_t;

/* Longest kid we accept or produce (a thumbprint is 43 characters). */
#define JOSE_KID_MAX 128
/* Length of an RFC 7638 SHA-256 thumbprint in base64url. */
#define JOSE_THUMBPRINT_LEN 43

/*
 * Creates an HMAC key from raw secret bytes (copied, wiped on free). The secret must be at
 * least the algorithm's hash length (RFC 7518 §3.2). kid = RFC 7638 thumbprint of the oct
 * JWK. OUT: *out. Returns 0, JWTV_EKEY (weak secret, non-HMAC alg) or JWTV_ENOMEM.
 */
int jose_key_from_secret(const jose_alg_t *alg, const void *secret, size_t len, jose_key_t **out,
                         char *err, size_t cap);

/*
 * Loads a PEM key: a private key (PKCS#8, or traditional RSA/EC "BEGIN RSA/EC PRIVATE KEY"),
 * or a public key (SPKI "BEGIN PUBLIC KEY", or "BEGIN RSA PUBLIC KEY"). Encrypted PEM is
 * refused (no passphrase prompt, ever). alg may be NULL to take the key type's default
 * (RS256, ES256/ES384 by curve, EdDSA); otherwise it must fit the key (type, curve, RSA >=
 * 2048 bits). OUT: *out. Returns 0, JWTV_EKEY or JWTV_ENOMEM.
 */
int jose_key_from_pem(const jose_alg_t *alg, const char *pem, size_t len, jose_key_t **out,
                      char *err, size_t cap);

/*
 * Loads one JWK (RFC 7517) given as JSON text: RSA, EC P-256/P-384, OKP Ed25519, oct;
 * public, or private when the private members are present. The key's algorithm is its
 * `alg` member, else the type's default (oct requires `alg`). The kid is the JWK's `kid`,
 * else the RFC 7638 thumbprint — and then the key also matches tokens without a kid.
 * Returns 0, JWTV_EKEY (malformed, weak or inconsistent key), JWTV_EUNSUPPORTED_ALG (a key
 * type/curve/alg we do not support: JWKS loading skips those), JWTV_EJWKS (not a JSON
 * object) or JWTV_ENOMEM.
 */
int jose_key_from_jwk(str_t json, jose_key_t **out, char *err, size_t cap);

/* Generates a fresh key for alg (RSA: rsa_bits, 0 = 2048; HMAC: 64 random bytes). */
int jose_key_generate(const jose_alg_t *alg, unsigned rsa_bits, jose_key_t **out, char *err,
                      size_t cap);

/* Releases a key. NULL is a no-op. Keys added to a ring are owned (and freed) by the ring. */
void jose_key_free(jose_key_t *key);

const jose_alg_t *jose_key_alg(const jose_key_t *key);
/* The key's kid (NUL-terminated, never NULL). */
const char *jose_key_kid(const jose_key_t *key);
/* Whether the key holds private material (or is an HMAC secret) and can sign. */
bool jose_key_can_sign(const jose_key_t *key);
/* Whether the key is used for tokens that carry no kid (its JWK had none). */
bool jose_key_matches_missing_kid(const jose_key_t *key);
/* Signature length in bytes for this key (HMAC: hash length; RSA: modulus bytes; ...). */
size_t jose_key_sig_len(const jose_key_t *key);

/* Writes the RFC 7638 SHA-256 thumbprint (43 chars + NUL) into out. Returns 0 or error. */
int jose_key_thumbprint(const jose_key_t *key, char out[JOSE_THUMBPRINT_LEN + 1]);

/*
 * Appends the public JWK of an asymmetric key as one JSON object, members `kty`, key
 * members, `use":"sig"`, `alg`, `kid`. HMAC keys are never exported: JWTV_EKEY.
 */
int jose_key_public_jwk(const jose_key_t *key, buf_t *out);

/* Appends the private key as unencrypted PKCS#8 PEM (asymmetric keys only). */
int jose_key_private_pem(const jose_key_t *key, buf_t *out);

/*
 * Derives len bytes (at most 64) for another use of the key's secret material: HKDF-SHA256
 * (RFC 5869) over the HMAC secret or the private key's DER encoding, with info naming the
 * use (e.g. "jwtd mfa secret v1"), so the derived bytes say nothing of the key and differ per
 * use. The material never leaves jose. Keys without private material: JWTV_EKEY.
 */
int jose_key_derive(const jose_key_t *key, const char *info, unsigned char *out, size_t len);

/* ---------------------------------------------------------------------------------------- */
/* Key rings                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* Why a key is in a ring. Only ACTIVE signs; every role verifies. */
enum jose_key_role {
    JOSE_ROLE_ACTIVE = 0,  /* the one signing key; published in the JWKS */
    JOSE_ROLE_NEXT = 1,    /* pre-published for the next rotation; verifies, published */
    JOSE_ROLE_RETIRED = 2, /* a former signing key, kept until its tokens expire; published */
    JOSE_ROLE_TRUSTED = 3, /* another issuer's key (migration); verifies, never published */
};

/*
 * A set of keys with O(1) lookup by kid. Built single-threaded, then read-only and shared:
 * reference-counted so that a reload can swap rings while requests still hold the old one.
 */
typedef struct jose_keyring jose_keyring_t;

/* A new empty ring with one reference, or NULL on OOM. */
jose_keyring_t *jose_keyring_new(void);
/* Adds one reference (atomic). Returns ring. */
jose_keyring_t *jose_keyring_retain(jose_keyring_t *ring);
/* Drops one reference (atomic); the last frees the ring and its keys. NULL is a no-op. */
void jose_keyring_release(jose_keyring_t *ring);

/*
 * Adds a key; the ring takes ownership of key even on failure. Only one ACTIVE key (and it
 * must be able to sign). Duplicate kids are refused. Returns 0, JWTV_EKEY or JWTV_ENOMEM.
 */
int jose_keyring_add(jose_keyring_t *ring, jose_key_t *key, enum jose_key_role role, char *err,
                     size_t cap);

/*
 * Adds every usable key of a JWK Set (or of a single JWK) with the given role. Keys of
 * unsupported type/curve/alg or with `use` other than "sig" are skipped. OUT: *added (may
 * be NULL). Returns 0, JWTV_EJWKS (bad JSON, duplicate members, nothing usable), JWTV_EKEY.
 */
int jose_keyring_add_jwks(jose_keyring_t *ring, str_t json, enum jose_key_role role, size_t *added,
                          char *err, size_t cap);

/* The key with this kid, or NULL. */
const jose_key_t *jose_keyring_find(const jose_keyring_t *ring, str_t kid);
/* The ACTIVE key, or NULL when the ring cannot sign. */
const jose_key_t *jose_keyring_active(const jose_keyring_t *ring);
size_t jose_keyring_count(const jose_keyring_t *ring);
/* The i-th key in insertion order (i < count); OUT: *role (may be NULL). */
const jose_key_t *jose_keyring_at(const jose_keyring_t *ring, size_t i, enum jose_key_role *role);
/* Appends {"keys":[...]} with the public JWKs of the ACTIVE, NEXT and RETIRED asymmetric keys. */
int jose_keyring_public_jwks(const jose_keyring_t *ring, buf_t *out);

/* ---------------------------------------------------------------------------------------- */
/* Compact JWS and JWT                                                                       */
/* ---------------------------------------------------------------------------------------- */

/*
 * Signs payload (bytes, normally the JSON claims) with key, writing the compact JWS into
 * out (cap bytes, NUL-terminated). The protected header is {"alg":..,"typ":"JWT","kid":..};
 * header_extra, when not empty, is raw JSON members appended to it (`"cty":"x"`). OUT:
 * *out_len (without NUL). Returns 0, JWTV_ETOOLARGE (out too small), JWTV_EKEY (key cannot
 * sign) or JWTV_ECRYPTO. Thread-safe; allocation-free after the thread's first use of key
 * for HMAC.
 */
int jose_jws_sign(const jose_key_t *key, str_t header_extra, str_t payload, char *out, size_t cap,
                  size_t *out_len) __attribute__((warn_unused_result));

/* Same, appending the token to a buf_t. */
int jose_jws_sign_buf(const jose_key_t *key, str_t payload, buf_t *out)
    __attribute__((warn_unused_result));

/*
 * Verifies a compact JWS token and its claims with the keys of ring and the options opt,
 * at time now (seconds; 0 = clock_now_s()). See jwtv.h for every rule. On success fills
 * *out; on failure clears it and returns a JWTV_E* code, but for out->alg: whenever the
 * header decoded to a JSON object whose `alg` names a row of the table, out->alg is that
 * name (even if another header rule, the key, the signature or a claim failed); otherwise
 * NULL (`none`, unknown names, undecodable headers). Unauthenticated on failure: a label
 * for metrics and logs, nothing to decide on. Thread-safe.
 */
int jose_jwt_verify(const jose_keyring_t *ring, const jwtv_options *opt, str_t token, int64_t now,
                    jwtv_claims *out) __attribute__((warn_unused_result));

/*
 * Verifies a compact JWS (any payload, not necessarily JWT claims): every header and key
 * rule of jose_jwt_verify() and the signature, restricted to the JWTV_ALG_* bits in
 * algorithms. Appends the decoded payload to payload. Returns 0 or a JWTV_E* code.
 */
int jose_jws_verify(const jose_keyring_t *ring, unsigned algorithms, str_t token, buf_t *payload)
    __attribute__((warn_unused_result));

/*
 * Decodes header and payload WITHOUT verifying anything but the compact syntax (three
 * base64url segments, JSON objects): for `jwtd token inspect` only. Appends the decoded
 * JSON texts to header and payload. Returns 0 or JWTV_EMALFORMED / JWTV_ETOOLARGE.
 */
int jose_jws_decode_unverified(str_t token, buf_t *header, buf_t *payload);

/* Frees the calling thread's EVP context cache (also done at thread exit). */
void jose_thread_cleanup(void);

/* ---------------------------------------------------------------------------------------- */
/* Internals shared between jose/ and lib/ (not for other subsystems)                        */
/* ---------------------------------------------------------------------------------------- */

void *jose__malloc(size_t n);
void *jose__calloc(size_t count, size_t n);
void *jose__realloc(void *p, size_t n);
void jose__free(void *p);
char *jose__strndup(const char *s, size_t n);
void jose__set_allocator(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *));
/* Formats an error message into err (when err != NULL). */
void jose__errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Formats an error message into err (when err != NULL) and evaluates to code. A macro, so
 * that the result is visible where it is used (the static analyzer then knows that an
 * error path never returns 0). */
#define jose__err(err, cap, code, ...) (jose__errf((err), (cap), __VA_ARGS__), (code))

#endif

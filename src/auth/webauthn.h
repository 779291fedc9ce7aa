/*
 * webauthn.h - the WebAuthn Level 3 relying-party checks of jwtd (passkeys): parsers of the
 * authenticator data, the attestation object and COSE public keys (CBOR through Debian's
 * libcbor), and the verification of a registration and of an assertion (OpenSSL 3).
 *
 * Pure: no database, no store, no clock but the certificate validity of x5c attestation,
 * no allocation a caller must know of except the documented owners. Every parser is bounded
 * (WA_MAX_INPUT bytes), rejects indefinite-length strings, duplicate map keys and trailing
 * bytes, and never trusts a length it has not checked against what remains. Failures return
 * ERR_INVALID and point *why at a static, user-safe sentence (it names the rule, never a
 * value). The use cases of passkeys (passkeys.c) and the fuzz target fuzz/webauthn.c call
 * these; the HTTP side never does.
 *
 * What is checked (WebAuthn Level 3 §7.1 registration, §7.2 authentication):
 *   - clientDataJSON: type ("webauthn.create" / "webauthn.get"), the challenge (exact
 *     bytes), the origin (one of the relying party's origins, exact string), crossOrigin
 *     absent or false and no topOrigin (jwtd is never embedded in another site's frame);
 *   - rpIdHash = SHA-256 of the RP ID; user presence (UP) always; user verification (UV)
 *     when the relying party requires it; BS set without BE is malformed;
 *   - registration: attestation "none" (empty statement) or "packed": self attestation (alg
 *     equal to the credential's, signature by the credential key) or x5c (signature by the
 *     first certificate over authData || SHA-256(clientDataJSON), each certificate signed by
 *     the next, every one within its validity, and the §8.2.1 requirements on the first:
 *     version 3, subject C, O, OU "Authenticator Attestation" and CN, not a CA, and an
 *     id-fido-gen-ce-aaguid extension, when present, not critical and equal to the AAGUID).
 *     No trust anchor is evaluated: jwtd keeps no metadata service, so an x5c statement is
 *     verified for consistency, not for the authenticator's make;
 *   - the credential public key: COSE ES256 (P-256, point on the curve), RS256 (2048..8192
 *     bits) or EdDSA (Ed25519), turned into an EVP_PKEY;
 *   - assertion: signature over authData || SHA-256(clientDataJSON) by the stored key; the
 *     signature counter (below).
 *
 * Signature counter (§6.1.1): when the stored counter or the new one is not zero, the new one
 * must be greater than the stored one, else the assertion is refused as coming from a cloned
 * authenticator (WA_E_COUNTER). An authenticator that does not count (it always reports 0,
 * as synced passkeys do) is accepted while both stay 0: nothing can be concluded then.
 */
#ifndef JWTD_AUTH_WEBAUTHN_H
#define JWTD_AUTH_WEBAUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Largest attestation object, authenticator data, COSE key or clientDataJSON accepted. */
#define WA_MAX_INPUT 16384
/* Longest credential id (WebAuthn: at most 1023 bytes). */
#define WA_MAX_CRED_ID 1023
/* Challenge length jwtd generates (random bytes). */
#define WA_CHALLENGE_LEN 32
/* Most certificates an x5c attestation may carry. */
#define WA_MAX_X5C 5

/* Authenticator data flags. */
#define WA_FLAG_UP 0x01u
#define WA_FLAG_UV 0x04u
#define WA_FLAG_BE 0x08u
#define WA_FLAG_BS 0x10u
#define WA_FLAG_AT 0x40u
#define WA_FLAG_ED 0x80u

/* COSE algorithm identifiers jwtd accepts. */
#define WA_ALG_ES256 (-7)
#define WA_ALG_EDDSA (-8)
#define WA_ALG_RS256 (-257)

/* The assertion's counter went backwards (or stayed put): a cloned authenticator. */
#define WA_E_COUNTER 1

/* Authenticator data (§6.1), pointing into the parsed bytes. */
typedef struct {
    const uint8_t *rp_id_hash; /* 32 bytes */
    uint8_t flags;
    uint32_t sign_count;
    bool attested;          /* AT: the fields below are set */
    const uint8_t *aaguid;  /* 16 bytes */
    const uint8_t *cred_id; /* 1..WA_MAX_CRED_ID bytes */
    size_t cred_id_len;
    const uint8_t *cose_key; /* the credential public key, one CBOR map */
    size_t cose_key_len;
} wa_authdata_t;

/*
 * Parses authenticator data: 37 fixed bytes, the attested credential data when AT is set
 * (its COSE key one CBOR item), the extensions when ED is set (one CBOR map), and nothing
 * after. Returns 0 or ERR_INVALID (*why).
 */
int wa_authdata_parse(const uint8_t *p, size_t n, wa_authdata_t *out, const char **why);

/*
 * Parses a COSE_Key (RFC 9052/9053) of the accepted algorithms into *pkey (a new EVP_PKEY
 * the caller frees; may be NULL to check only) and *alg. The key's alg member is required.
 * Returns 0 or ERR_INVALID (*why).
 */
int wa_cose_key_parse(const uint8_t *p, size_t n, int *alg, EVP_PKEY **pkey, const char **why);

/* An attestation object (§6.5), pointing into the CBOR tree it owns. */
typedef struct {
    void *root;   /* the libcbor tree; wa_attestation_dispose frees it */
    char fmt[16]; /* "none", "packed", ... */
    bool has_alg; /* attStmt members (packed) */
    int64_t alg;  /* attStmt alg */
    const uint8_t *sig;
    size_t sig_len;
    size_t x5c_n;
    const uint8_t *x5c[WA_MAX_X5C];
    size_t x5c_len[WA_MAX_X5C];
    size_t att_stmt_members;
    const uint8_t *auth_data;
    size_t auth_data_len;
} wa_attestation_t;

/*
 * Parses an attestation object: a CBOR map of exactly "fmt" (text), "attStmt" (map) and
 * "authData" (bytes), nothing after. attStmt members alg (integer), sig (bytes) and x5c
 * (array of 1..WA_MAX_X5C byte strings) are read; other members are counted. Returns 0
 * (dispose *out) or ERR_INVALID (*why; nothing to dispose).
 */
int wa_attestation_parse(const uint8_t *p, size_t n, wa_attestation_t *out, const char **why);
void wa_attestation_dispose(wa_attestation_t *a);

/*
 * Verifies sig over msg with key for the COSE algorithm alg (ES256: DER ECDSA over
 * SHA-256; RS256: PKCS#1 v1.5 over SHA-256; EdDSA: Ed25519). Returns 0 or ERR_INVALID.
 */
int wa_signature_verify(EVP_PKEY *key, int alg, const uint8_t *msg, size_t msg_len,
                        const uint8_t *sig, size_t sig_len);

/* The relying party: borrowed strings. */
typedef struct {
    const char *rp_id;          /* e.g. "example.com" */
    const char *const *origins; /* exact origins ("https://example.com") */
    size_t n_origins;
    bool require_uv; /* user verification required (else preferred: not checked) */
} wa_rp_t;

/*
 * Checks clientDataJSON (cdj, raw bytes) for type, challenge, origin and crossOrigin, and
 * writes its SHA-256 into hash. Returns 0 or ERR_INVALID (*why).
 */
int wa_client_data_check(const wa_rp_t *rp, const char *type, const uint8_t *challenge,
                         size_t challenge_len, const uint8_t *cdj, size_t cdj_len, uint8_t hash[32],
                         const char **why);

/*
 * Reads the challenge of clientDataJSON (base64url-decoded) into out (cap bytes). Nothing
 * else is checked. Returns 0 or ERR_INVALID.
 */
int wa_client_data_challenge(const uint8_t *cdj, size_t cdj_len, uint8_t *out, size_t cap,
                             size_t *len);

/* A credential a registration verified: everything the relying party stores. */
typedef struct {
    uint8_t cred_id[WA_MAX_CRED_ID];
    size_t cred_id_len;
    int alg;
    uint8_t *cose_key; /* heap copy */
    size_t cose_key_len;
    uint32_t sign_count;
    uint8_t aaguid[16];
    uint8_t flags;
    char fmt[16];  /* "none" or "packed" */
    bool attested; /* packed x5c (certificate chain verified, trust not evaluated) */
} wa_credential_t;
void wa_credential_dispose(wa_credential_t *c);

/*
 * Verifies a registration (§7.1 steps 5-26 that do not need storage): clientDataJSON
 * ("webauthn.create"), the attestation object, its authenticator data (rpIdHash, UP, UV as
 * configured, AT, an accepted COSE key) and statement ("none" or "packed"). OUT: *out
 * (dispose it) on success. Returns 0 or ERR_INVALID (*why).
 */
int wa_registration_verify(const wa_rp_t *rp, const uint8_t *challenge, size_t challenge_len,
                           const uint8_t *cdj, size_t cdj_len, const uint8_t *att_obj,
                           size_t att_obj_len, wa_credential_t *out, const char **why);

/* What an assertion proved. */
typedef struct {
    uint32_t sign_count;
    uint8_t flags;
} wa_assertion_t;

/*
 * Verifies an assertion (§7.2): clientDataJSON ("webauthn.get"), the authenticator data
 * (rpIdHash, UP, UV as configured, no AT), the signature by the stored COSE key (alg must
 * be the stored one), then the counter against stored_count (WA_E_COUNTER when it went
 * backwards). Returns 0 (*out set), WA_E_COUNTER or ERR_INVALID (*why in both cases).
 */
int wa_assertion_verify(const wa_rp_t *rp, const uint8_t *challenge, size_t challenge_len,
                        const uint8_t *cdj, size_t cdj_len, const uint8_t *auth_data,
                        size_t auth_data_len, const uint8_t *sig, size_t sig_len,
                        const uint8_t *cose_key, size_t cose_key_len, int alg,
                        uint32_t stored_count, wa_assertion_t *out, const char **why);

#endif

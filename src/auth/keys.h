/*
 * keys.h - builds jwtd's signing/verification key ring from the configuration.
 *
 * This is wiring code: the only place that reads the key-related fields of struct cfg
 * (JWTD_ALGORITHM, JWTD_SECRET_KEY, JWTD_SECRET_KEY_FILE, JWTD_SIGNING_KEY_FILE,
 * JWTD_TRUSTED_JWKS_FILE, environment, data_dir, leeway, issuer, audience) and turns them
 * into a jose_keyring_t plus jwtv_options. Everything cryptographic is in src/jose/.
 *
 * Key sources, in order:
 *   - HS*: JWTD_SECRET_KEY (the bytes of the value) or JWTD_SECRET_KEY_FILE (the file's
 *     bytes, one trailing newline stripped); at least 32 bytes and at least the hash length.
 *     In development with neither set, a random secret is generated once into
 *     <data_dir>/secret.key (mode 0600) and reused on later starts.
 *   - RS*, PS*, ES*, EdDSA: JWTD_SIGNING_KEY_FILE, a PEM private key that fits the
 *     algorithm (RSA >= 2048 bits, the right curve).
 *   Key rotation: JWTD_SECRET_KEY_FILE and JWTD_SIGNING_KEY_FILE accept a comma-separated
 *   list "current.pem,next=new.pem,old.pem": the first entry is the ACTIVE signing key, an
 *   entry prefixed "next=" is pre-published (verifies, appears in the JWKS), any other entry
 *   is a RETIRED key kept for verification until its tokens have expired.
 *   - JWTD_TRUSTED_JWKS_FILE: a JWK Set of other issuers' keys (e.g. a Django issuer during
 *     a migration), accepted for verification, never published. A shared HMAC secret of such
 *     an issuer is an `oct` JWK with `alg` (e.g. {"kty":"oct","alg":"HS256","k":"<base64url
 *     of SIMPLE_JWT SIGNING_KEY>"}); without `kid` it matches the issuer's kid-less tokens.
 *
 * Production (and staging) refuse to start with a missing or weak key, or with a key file
 * (or trusted JWKS file holding secrets) readable by group or others.
 */
#ifndef JWTD_AUTH_KEYS_H
#define JWTD_AUTH_KEYS_H

#include <stddef.h>

#include "jose/jose.h"

struct cfg;

/*
 * Builds the key ring for cfg. OUT: *out (one reference; jose_keyring_release() it).
 * Returns 0, or ERR_CONFIG with a message naming the variable in err (cap bytes).
 * Not thread-safe (start-up and reload only).
 */
int auth_keys_load(const struct cfg *cfg, jose_keyring_t **out, char *err, size_t cap);

/*
 * Fills *opt with the verification options of jwtd's own tokens: every algorithm present
 * in the ring, cfg's issuer, audience and leeway, and the claims jwtd always issues (exp,
 * iat, jti, token_type, user_id). token_type is left NULL: the caller sets it per check.
 * The strings point into cfg, which must outlive opt.
 */
void auth_keys_verify_options(const struct cfg *cfg, const jose_keyring_t *ring, jwtv_options *opt);

#endif

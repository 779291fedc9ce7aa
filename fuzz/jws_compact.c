/*
 * jws_compact.c - libFuzzer target for the token verify path: compact JWS split, strict
 * base64url, header JSON and its rules, key selection, signature check, payload JSON and
 * every claim rule (src/jose/jws.c, jwt.c, src/common/json_scan.c, b64url.c).
 *
 * The first input byte picks a mode, so that the fuzzer also gets past the signature:
 *   0: the rest is a token, verified as is against a fixed key ring (HS256 with kid,
 *      ES256 RFC 7515 A.3 with kid, Ed25519 RFC 8037 without kid);
 *   1: the rest is a payload, signed by jwtd with the HS256 key, then verified (claims);
 *   2: the rest is a header, signed (with a fixed valid payload) with the HS256 key's
 *      secret, then verified (header rules after a valid signature).
 * Properties: no crash/leak/UB; a successful verify yields a consistent claims view, a
 * failed one a cleared view whose alg is NULL or a supported algorithm's name; a token
 * jwtd signs always decodes with jose_jws_decode_unverified.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64url.h"
#include "jose/jose.h"
#include "jose/jose_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static jose_keyring_t *ring;
static const jose_key_t *hs;
static jwtv_options opt;
static jwtv_claims claims;

static const char *const jwks =
    "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"es\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char secret[] = "fuzz-secret-0123456789abcdefghijklmnopqrstuvwxyz";
    jose_key_t *k;
    char err[256];
    (void)argc;
    (void)argv;
    ring = jose_keyring_new();
    if (jose_key_from_secret(jose_alg_by_name(STR_LIT("HS256")), secret, sizeof secret - 1, &k, err,
                             sizeof err) != 0 ||
        jose_keyring_add(ring, k, JOSE_ROLE_ACTIVE, err, sizeof err) != 0 ||
        jose_keyring_add_jwks(ring, str_cstr(jwks), JOSE_ROLE_TRUSTED, NULL, err, sizeof err) != 0)
        abort();
    hs = k;
    jwtv_options_init(&opt);
    return 0;
}

static void check_verified(int rc)
{
    if (rc != 0) {
        if (claims.payload || claims.user_id || claims.kid)
            abort(); /* a failure must clear the view ... */
        if (claims.alg && !jose_claims_alg(&claims))
            abort(); /* ... but for alg, which can only name a row of jose's table */
        return;
    }
    if (!claims.payload || !claims.alg || strlen(claims.payload) != claims.payload_len)
        abort();
    if (claims.has_exp && (claims.exp < 0 || claims.exp > JWTV_MAX_NUMERIC_DATE))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tok[3 * JWTV_MAX_TOKEN_BYTES];
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 3;
    const char *in = (const char *)data + 1;
    size_t n = size - 1, tl = 0;
    int rc;
    if (mode == 0) {
        buf_t h, p;
        rc = jose_jwt_verify(ring, &opt, str_make(in, n), 1700000000, &claims);
        check_verified(rc);
        buf_init(&h, 1 << 16);
        buf_init(&p, 1 << 16);
        (void)jose_jws_decode_unverified(str_make(in, n), &h, &p);
        buf_dispose(&h);
        buf_dispose(&p);
    } else if (mode == 1) {
        if (jose_jws_sign(hs, STR_NULL, str_make(in, n), tok, sizeof tok, &tl) != 0)
            return 0;
        rc = jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &claims);
        check_verified(rc);
        if (rc == 0 && (claims.payload_len != n || memcmp(claims.payload, in, n) != 0))
            abort(); /* the verified payload is exactly what was signed */
    } else {
        static const char pl[] =
            "{\"exp\":4102444800,\"jti\":\"0123456789abcdef0123456789abcdef\"}";
        unsigned char sig[JOSE_SIG_MAX];
        size_t siglen = 0;
        if (B64URL_ENC_LEN(n) + 200 > sizeof tok)
            return 0;
        size_t o = b64url_encode(in, n, tok, sizeof tok);
        tok[o++] = '.';
        o += b64url_encode(pl, sizeof pl - 1, tok + o, sizeof tok - o);
        if (jose__sign_sig(hs, (const unsigned char *)tok, o, sig, &siglen) != 0)
            return 0;
        tok[o++] = '.';
        o += b64url_encode(sig, siglen, tok + o, sizeof tok - o);
        rc = jose_jwt_verify(ring, &opt, str_make(tok, o), 1700000000, &claims);
        check_verified(rc);
    }
    return 0;
}

/*
 * jwk.c - jose keys: creation from HMAC secrets, PEM, JWK and fresh generation; export
 * as public JWK and PKCS#8 PEM; RFC 7638 thumbprints.
 *
 * A jose_key_t binds key material to exactly one algorithm and checks, when it is built,
 * everything that makes the pair acceptable: HMAC secrets at least the hash length
 * (RFC 7518 §3.2), RSA at least 2048 bits (at most 8192), EC keys on the curve the
 * algorithm names (point validated), Ed25519 private and public halves consistent. After
 * jose__key_finish() a key is immutable and may be shared between threads.
 *
 * Off the hot path: JSON here is parsed with jansson (duplicate members rejected).
 */
#include "jose/jose.h"

#include <stdatomic.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "common/b64url.h"
#include "jose/jose_internal.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

static _Atomic uint64_t serial_counter;

/* See jose_internal.h. */
uint64_t jose__next_serial(void)
{
    return atomic_fetch_add(&serial_counter, 1) + 1;
}

static jose_key_t *key_alloc(const jose_alg_t *alg)
{
    jose_key_t *k = jose__calloc(1, sizeof *k);
    if (k) {
        k->alg = alg;
        k->serial = jose__next_serial();
    }
    return k;
}

/* Wraps pkey (taken over: freed on failure) into a finished key of alg. OUT: *out. */
static int key_from_pkey(const jose_alg_t *alg, EVP_PKEY *pkey, bool priv, jose_key_t **out,
                         char *err, size_t cap)
{
    jose_key_t *k = key_alloc(alg);
    int rc;
    if (!k) {
        EVP_PKEY_free(pkey);
        return JWTV_ENOMEM;
    }
    k->pkey = pkey;
    k->has_private = priv;
    if ((rc = jose__key_finish(k, err, cap)) != 0) {
        jose_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

/* See jose.h. */
void jose_key_free(jose_key_t *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey);
    EVP_MD_free(key->md);
    if (key->secret) {
        OPENSSL_cleanse(key->secret, key->secret_len);
        jose__free(key->secret);
    }
    jose__free(key->hdr_b64);
    jose__free(key);
}

const jose_alg_t *jose_key_alg(const jose_key_t *key)
{
    return key->alg;
}

const char *jose_key_kid(const jose_key_t *key)
{
    return key->kid;
}

bool jose_key_can_sign(const jose_key_t *key)
{
    return key->has_private;
}

bool jose_key_matches_missing_kid(const jose_key_t *key)
{
    return key->matches_no_kid;
}

size_t jose_key_sig_len(const jose_key_t *key)
{
    return key->sig_len;
}

/* ---------------------------------------------------------------------------------------- */
/* Components, thumbprints, public JWK                                                       */
/* ---------------------------------------------------------------------------------------- */

static int append_b64(buf_t *out, const unsigned char *p, size_t n)
{
    int rc = buf_reserve(out, B64URL_ENC_LEN(n) + 1);
    if (rc)
        return rc == -1 ? JWTV_ENOMEM : JWTV_ETOOLARGE;
    size_t w = b64url_encode(p, n, out->data + out->len, out->cap - out->len);
    out->len += w;
    out->data[out->len] = '\0';
    return 0;
}

static int append_bn_b64(buf_t *out, const EVP_PKEY *pkey, const char *param, size_t pad)
{
    BIGNUM *bn = NULL;
    unsigned char tmp[RSA_MAX_BITS / 8];
    int rc = JWTV_ECRYPTO, n;
    if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
        goto out;
    n = pad ? BN_bn2binpad(bn, tmp, (int)pad) : BN_bn2bin(bn, tmp);
    if (n <= 0 || (size_t)BN_num_bytes(bn) > sizeof tmp)
        goto out;
    rc = append_b64(out, tmp, (size_t)n);
out:
    BN_free(bn);
    return rc;
}

static int map_buf_err(int rc)
{
    return rc == 0 ? 0 : JWTV_ENOMEM;
}

/*
 * Appends the RFC 7638 required members of the key, in lexicographic order, without the
 * braces: "e":"..","kty":"RSA","n":"..". This one function feeds both the thumbprint and
 * the public JWK, so the two can never disagree.
 */
static int append_required_members(const jose_key_t *key, buf_t *out)
{
    int rc;
    switch (key->alg->family) {
    case JOSE_FAMILY_HMAC:
        if ((rc = map_buf_err(buf_append_cstr(out, "\"k\":\""))) ||
            (rc = append_b64(out, key->secret, key->secret_len)) ||
            (rc = map_buf_err(buf_append_cstr(out, "\",\"kty\":\"oct\""))))
            return rc;
        return 0;
    case JOSE_FAMILY_RSA:
    case JOSE_FAMILY_RSA_PSS:
        if ((rc = map_buf_err(buf_append_cstr(out, "\"e\":\""))) ||
            (rc = append_bn_b64(out, key->pkey, OSSL_PKEY_PARAM_RSA_E, 0)) ||
            (rc = map_buf_err(buf_append_cstr(out, "\",\"kty\":\"RSA\",\"n\":\""))) ||
            (rc = append_bn_b64(out, key->pkey, OSSL_PKEY_PARAM_RSA_N, 0)) ||
            (rc = map_buf_err(buf_append_char(out, '"'))))
            return rc;
        return 0;
    case JOSE_FAMILY_EC:
        if ((rc = map_buf_err(
                 buf_printf(out, "\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"", key->alg->curve))) ||
            (rc = append_bn_b64(out, key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, key->alg->coord_len)) ||
            (rc = map_buf_err(buf_append_cstr(out, "\",\"y\":\""))) ||
            (rc = append_bn_b64(out, key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, key->alg->coord_len)) ||
            (rc = map_buf_err(buf_append_char(out, '"'))))
            return rc;
        return 0;
    case JOSE_FAMILY_EDDSA: {
        unsigned char raw[32];
        size_t n = sizeof raw;
        if (!EVP_PKEY_get_raw_public_key(key->pkey, raw, &n) || n != 32)
            return JWTV_ECRYPTO;
        if ((rc = map_buf_err(
                 buf_append_cstr(out, "\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\""))) ||
            (rc = append_b64(out, raw, n)) || (rc = map_buf_err(buf_append_char(out, '"'))))
            return rc;
        return 0;
    }
    }
    return JWTV_EKEY;
}

/* See jose.h. */
int jose_key_thumbprint(const jose_key_t *key, char out[JOSE_THUMBPRINT_LEN + 1])
{
    buf_t b;
    unsigned char md[32];
    unsigned int mdlen = 0;
    int rc;
    buf_init(&b, 64 * 1024);
    if ((rc = map_buf_err(buf_append_char(&b, '{'))) || (rc = append_required_members(key, &b)) ||
        (rc = map_buf_err(buf_append_char(&b, '}'))))
        goto out;
    rc = JWTV_ECRYPTO;
    if (!EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        goto out;
    b64url_encode(md, 32, out, JOSE_THUMBPRINT_LEN + 1);
    rc = 0;
out:
    buf_dispose_secret(&b);
    return rc;
}

/* See jose.h. */
int jose_key_public_jwk(const jose_key_t *key, buf_t *out)
{
    int rc;
    if (key->alg->family == JOSE_FAMILY_HMAC)
        return JWTV_EKEY;
    if ((rc = map_buf_err(buf_append_char(out, '{'))) || (rc = append_required_members(key, out)))
        return rc;
    return map_buf_err(buf_printf(out, ",\"use\":\"sig\",\"alg\":\"%s\",\"kid\":\"%s\"}",
                                  key->alg->name, key->kid));
}

/* See jose.h. */
int jose_key_private_pem(const jose_key_t *key, buf_t *out)
{
    BIO *bio;
    char *p;
    long n;
    int rc = JWTV_ECRYPTO;
    if (!key->pkey || !key->has_private)
        return JWTV_EKEY;
    if (!(bio = BIO_new(BIO_s_mem())))
        return JWTV_ENOMEM;
    if (!PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL))
        goto out;
    n = BIO_get_mem_data(bio, &p);
    rc = map_buf_err(buf_append(out, p, (size_t)n));
out:
    BIO_free_all(bio);
    return rc;
}

/* See jose.h. */
int jose_key_derive(const jose_key_t *key, const char *info, unsigned char *out, size_t len)
{
    if (!key || !key->has_private || len == 0 || len > 64)
        return JWTV_EKEY;
    unsigned char *der = NULL;
    const unsigned char *ikm = key->secret;
    size_t ikm_len = key->secret_len;
    if (key->pkey) {
        int n = i2d_PrivateKey(key->pkey, &der);
        if (n <= 0)
            return JWTV_ECRYPTO;
        ikm = der;
        ikm_len = (size_t)n;
    }
    int rc = JWTV_ECRYPTO;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx) {
        static const char salt[] = "jwtd key derivation";
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof salt - 1),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
            OSSL_PARAM_construct_end()};
        if (EVP_KDF_derive(kctx, out, len, params) == 1)
            rc = JWTV_OK;
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    if (der) {
        OPENSSL_cleanse(der, ikm_len);
        OPENSSL_free(der);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Finishing a key                                                                           */
/* ---------------------------------------------------------------------------------------- */

static bool kid_ok(const char *s, size_t n)
{
    if (n == 0 || n > JOSE_KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

/* Checks that pkey's type, size and curve fit alg. */
static int check_pkey_fits(const jose_alg_t *alg, EVP_PKEY *pkey, char *err, size_t cap)
{
    switch (alg->family) {
    case JOSE_FAMILY_RSA:
    case JOSE_FAMILY_RSA_PSS: {
        if (!EVP_PKEY_is_a(pkey, "RSA"))
            return jose__err(err, cap, JWTV_EKEY, "%s needs an RSA key", alg->name);
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
            return jose__err(err, cap, JWTV_EKEY, "RSA key of %d bits: must be %d..%d", bits,
                             RSA_MIN_BITS, RSA_MAX_BITS);
        /* e = 1 (or any even e) would make the public operation trivial or broken */
        BIGNUM *e = NULL, *n = NULL;
        bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) &&
                  EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) && BN_is_odd(e) &&
                  BN_is_odd(n) && BN_num_bits(e) >= 2 && BN_num_bits(e) <= 256;
        BN_free(e);
        BN_free(n);
        if (!ok)
            return jose__err(err, cap, JWTV_EKEY, "RSA key with an invalid modulus or exponent");
        return 0;
    }
    case JOSE_FAMILY_EC: {
        char group[64] = "";
        size_t gl = 0;
        if (!EVP_PKEY_is_a(pkey, "EC"))
            return jose__err(err, cap, JWTV_EKEY, "%s needs an EC key", alg->name);
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                            &gl))
            return jose__err(err, cap, JWTV_EKEY, "EC key without a named curve");
        bool ok = alg->coord_len == 32
                      ? (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
                      : (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0);
        if (!ok)
            return jose__err(err, cap, JWTV_EKEY, "%s needs a %s key, not %s", alg->name,
                             alg->curve, group);
        return 0;
    }
    case JOSE_FAMILY_EDDSA:
        if (!EVP_PKEY_is_a(pkey, "ED25519"))
            return jose__err(err, cap, JWTV_EKEY, "EdDSA needs an Ed25519 key");
        return 0;
    case JOSE_FAMILY_HMAC:
        break;
    }
    return jose__err(err, cap, JWTV_EKEY, "%s is not an asymmetric algorithm", alg->name);
}

/* See jose_internal.h. */
int jose__key_finish(jose_key_t *key, char *err, size_t cap)
{
    const jose_alg_t *alg = key->alg;
    int rc;
    if (alg->md_name && !(key->md = EVP_MD_fetch(NULL, alg->md_name, NULL)))
        return jose__err(err, cap, JWTV_ECRYPTO, "digest %s unavailable", alg->md_name);
    switch (alg->family) {
    case JOSE_FAMILY_HMAC:
        key->sig_len = alg->hash_len;
        break;
    case JOSE_FAMILY_RSA:
    case JOSE_FAMILY_RSA_PSS:
        key->sig_len = (size_t)EVP_PKEY_get_size(key->pkey);
        break;
    case JOSE_FAMILY_EC:
        key->sig_len = 2 * alg->coord_len;
        break;
    case JOSE_FAMILY_EDDSA:
        key->sig_len = 64;
        break;
    }
    if (key->sig_len == 0 || key->sig_len > JOSE_SIG_MAX)
        return jose__err(err, cap, JWTV_EKEY, "unsupported key size");
    if (key->kid_len == 0) {
        if ((rc = jose_key_thumbprint(key, key->kid)) != 0)
            return jose__err(err, cap, rc, "cannot compute the key thumbprint");
        key->kid_len = JOSE_THUMBPRINT_LEN;
    }
    if (key->has_private) {
        char hdr[JOSE_KID_MAX + 64];
        int n = snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
                         alg->name, key->kid);
        size_t enc = B64URL_ENC_LEN((size_t)n);
        if (!(key->hdr_b64 = jose__malloc(enc + 1)))
            return JWTV_ENOMEM;
        key->hdr_b64_len = b64url_encode(hdr, (size_t)n, key->hdr_b64, enc + 1);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* HMAC secrets                                                                              */
/* ---------------------------------------------------------------------------------------- */

/* Builds an unfinished HMAC key (no kid yet). */
static int secret_key_new(const jose_alg_t *alg, const void *secret, size_t len, jose_key_t **out,
                          char *err, size_t cap)
{
    jose_key_t *k;
    *out = NULL;
    if (!alg || alg->family != JOSE_FAMILY_HMAC)
        return jose__err(err, cap, JWTV_EKEY, "a secret key needs an HS* algorithm");
    if (len < alg->hash_len)
        return jose__err(err, cap, JWTV_EKEY, "%s secret of %zu bytes: needs at least %zu",
                         alg->name, len, alg->hash_len);
    if (len > 4096)
        return jose__err(err, cap, JWTV_EKEY, "HMAC secret longer than 4096 bytes");
    if (!(k = key_alloc(alg)) || !(k->secret = jose__malloc(len))) {
        jose_key_free(k);
        return JWTV_ENOMEM;
    }
    memcpy(k->secret, secret, len);
    k->secret_len = len;
    k->has_private = true;
    *out = k;
    return 0;
}

/* See jose.h. */
int jose_key_from_secret(const jose_alg_t *alg, const void *secret, size_t len, jose_key_t **out,
                         char *err, size_t cap)
{
    jose_key_t *k;
    int rc = secret_key_new(alg, secret, len, &k, err, cap);
    *out = NULL;
    if (rc)
        return rc;
    if ((rc = jose__key_finish(k, err, cap)) != 0) {
        jose_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* PEM                                                                                       */
/* ---------------------------------------------------------------------------------------- */

static int no_passphrase(char *buf, size_t size, size_t *len, const OSSL_PARAM params[], void *arg)
{
    (void)buf;
    (void)size;
    (void)params;
    (void)arg;
    *len = 0;
    return 0;
}

static EVP_PKEY *decode_pem(const char *pem, size_t len, int selection)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, selection, NULL, NULL);
    if (!dctx)
        return NULL;
    OSSL_DECODER_CTX_set_passphrase_cb(dctx, no_passphrase, NULL);
    const unsigned char *p = (const unsigned char *)pem;
    size_t n = len;
    if (!OSSL_DECODER_from_data(dctx, &p, &n)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

static const jose_alg_t *default_alg_for(EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return jose_alg_by_name(STR_LIT("RS256"));
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return jose_alg_by_name(STR_LIT("EdDSA"));
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64] = "";
        size_t gl = 0;
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &gl);
        if (strcmp(group, "prime256v1") == 0)
            return jose_alg_by_name(STR_LIT("ES256"));
        if (strcmp(group, "secp384r1") == 0)
            return jose_alg_by_name(STR_LIT("ES384"));
    }
    return NULL;
}

/* See jose.h. */
int jose_key_from_pem(const jose_alg_t *alg, const char *pem, size_t len, jose_key_t **out,
                      char *err, size_t cap)
{
    EVP_PKEY *pkey;
    bool priv = true;
    int rc;
    *out = NULL;
    if (!memmem(pem, len, "-----BEGIN ", 11))
        return jose__err(err, cap, JWTV_EKEY, "not a PEM key");
    if (memmem(pem, len, "ENCRYPTED", 9))
        return jose__err(err, cap, JWTV_EKEY, "encrypted PEM keys are not supported");
    pkey = decode_pem(pem, len, EVP_PKEY_KEYPAIR);
    if (!pkey) {
        priv = false;
        pkey = decode_pem(pem, len, EVP_PKEY_PUBLIC_KEY);
    }
    ERR_clear_error();
    if (!pkey)
        return jose__err(err, cap, JWTV_EKEY, "cannot decode the PEM key");
    if (!alg && !(alg = default_alg_for(pkey))) {
        EVP_PKEY_free(pkey);
        return jose__err(err, cap, JWTV_EKEY, "unsupported key type or curve");
    }
    if ((rc = check_pkey_fits(alg, pkey, err, cap)) != 0) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    return key_from_pkey(alg, pkey, priv, out, err, cap);
}

/* ---------------------------------------------------------------------------------------- */
/* Generation                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* See jose.h. */
int jose_key_generate(const jose_alg_t *alg, unsigned rsa_bits, jose_key_t **out, char *err,
                      size_t cap)
{
    EVP_PKEY *pkey = NULL;
    int rc;
    *out = NULL;
    switch (alg->family) {
    case JOSE_FAMILY_HMAC: {
        unsigned char secret[64];
        if (RAND_bytes(secret, sizeof secret) != 1)
            return jose__err(err, cap, JWTV_ECRYPTO, "RAND_bytes failed");
        rc = jose_key_from_secret(alg, secret, sizeof secret, out, err, cap);
        OPENSSL_cleanse(secret, sizeof secret);
        return rc;
    }
    case JOSE_FAMILY_RSA:
    case JOSE_FAMILY_RSA_PSS:
        if (rsa_bits == 0)
            rsa_bits = RSA_MIN_BITS;
        if (rsa_bits < RSA_MIN_BITS || rsa_bits > RSA_MAX_BITS)
            return jose__err(err, cap, JWTV_EKEY, "RSA keys must be %d..%d bits", RSA_MIN_BITS,
                             RSA_MAX_BITS);
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits);
        break;
    case JOSE_FAMILY_EC:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg->coord_len == 32 ? "P-256" : "P-384");
        break;
    case JOSE_FAMILY_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    }
    if (!pkey)
        return jose__err(err, cap, JWTV_ECRYPTO, "key generation failed");
    return key_from_pkey(alg, pkey, true, out, err, cap);
}

/* ---------------------------------------------------------------------------------------- */
/* JWK import                                                                                */
/* ---------------------------------------------------------------------------------------- */

/*
 * Decodes the base64url string member `name` into a fresh buffer. want: exact length
 * required (0 = any, but non-empty). OUT: *p (jose__free; wipe when secret), *n.
 * Returns 0, 1 when absent, or JWTV_EKEY.
 */
static int jwk_b64(json_t *jwk, const char *name, size_t want, unsigned char **p, size_t *n,
                   char *err, size_t cap)
{
    json_t *v = json_object_get(jwk, name);
    *p = NULL;
    *n = 0;
    if (!v)
        return 1;
    if (!json_is_string(v))
        return jose__err(err, cap, JWTV_EKEY, "JWK member %s is not a string", name);
    const char *s = json_string_value(v);
    size_t sl = json_string_length(v), dl = b64url_decoded_len(sl);
    if (sl == 0 || dl == (size_t)-1 || sl > 16384)
        return jose__err(err, cap, JWTV_EKEY, "JWK member %s: bad length", name);
    if (!(*p = jose__malloc(dl + 1)))
        return JWTV_ENOMEM;
    if (!b64url_decode(s, sl, *p, dl + 1, n)) {
        jose__free(*p);
        *p = NULL;
        return jose__err(err, cap, JWTV_EKEY, "JWK member %s is not canonical base64url", name);
    }
    if (want && *n != want) {
        OPENSSL_cleanse(*p, *n);
        jose__free(*p);
        *p = NULL;
        return jose__err(err, cap, JWTV_EKEY, "JWK member %s must be %zu bytes, not %zu", name,
                         want, *n);
    }
    return 0;
}

static void wipe_free(unsigned char *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        jose__free(p);
    }
}

static EVP_PKEY *pkey_fromdata(const char *type, int selection, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        if (EVP_PKEY_fromdata(ctx, &pkey, selection, params) <= 0)
            pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* Public-key (and, with a private part, pairwise) validation of an imported key. */
static bool pkey_valid(EVP_PKEY *pkey, bool priv)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx && EVP_PKEY_public_check(ctx) > 0 && (!priv || EVP_PKEY_pairwise_check(ctx) > 0);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static int bld_bn(OSSL_PARAM_BLD *bld, const char *name, const unsigned char *p, size_t n,
                  BIGNUM **keep)
{
    BIGNUM *bn = BN_bin2bn(p, (int)n, NULL);
    if (!bn)
        return JWTV_ENOMEM;
    if (!OSSL_PARAM_BLD_push_BN(bld, name, bn)) {
        BN_clear_free(bn);
        return JWTV_ENOMEM;
    }
    *keep = bn; /* the builder references it until to_param */
    return 0;
}

static int jwk_rsa(json_t *jwk, EVP_PKEY **out, bool *priv, char *err, size_t cap)
{
    static const char *const names[8] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    static const char *const params[8] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    unsigned char *v[8] = {0};
    size_t vl[8] = {0};
    BIGNUM *bns[8] = {0};
    OSSL_PARAM_BLD *bld = NULL;
    int rc, present = 0;
    *out = NULL;
    for (int i = 0; i < 8; i++) {
        rc = jwk_b64(jwk, names[i], 0, &v[i], &vl[i], err, cap);
        if (rc < 0)
            goto out;
        if (rc == 0)
            present |= 1 << i;
    }
    rc = JWTV_EKEY;
    if ((present & 3) != 3) {
        jose__errf(err, cap, "RSA JWK needs n and e");
        goto out;
    }
    if (vl[0] && v[0][0] == 0) {
        jose__errf(err, cap, "RSA JWK n has a leading zero byte");
        goto out;
    }
    *priv = (present & 4) != 0;
    if (*priv && present != 0xff) {
        jose__errf(err, cap, "private RSA JWK needs d, p, q, dp, dq and qi");
        goto out;
    }
    if (!*priv && (present & ~3)) {
        jose__errf(err, cap, "RSA JWK has private members without d");
        goto out;
    }
    rc = JWTV_ENOMEM;
    if (!(bld = OSSL_PARAM_BLD_new()))
        goto out;
    for (int i = 0; i < 8; i++)
        if (v[i] && (rc = bld_bn(bld, params[i], v[i], vl[i], &bns[i])) != 0)
            goto out;
    *out = pkey_fromdata("RSA", *priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld);
    rc = 0;
    if (!*out || (*priv && !pkey_valid(*out, true))) {
        EVP_PKEY_free(*out);
        *out = NULL;
        rc = jose__err(err, cap, JWTV_EKEY, "invalid RSA key");
    }
out:
    OSSL_PARAM_BLD_free(bld);
    for (int i = 0; i < 8; i++) {
        BN_clear_free(bns[i]);
        wipe_free(v[i], vl[i]);
    }
    return rc;
}

static int jwk_ec(json_t *jwk, const jose_alg_t *alg, EVP_PKEY **out, bool *priv, char *err,
                  size_t cap)
{
    unsigned char *x = NULL, *y = NULL, *d = NULL, pub[1 + 2 * 48];
    size_t xl, yl, dl = 0, cl = alg->coord_len;
    BIGNUM *dbn = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int rc;
    *out = NULL;
    if ((rc = jwk_b64(jwk, "x", cl, &x, &xl, err, cap)) != 0 ||
        (rc = jwk_b64(jwk, "y", cl, &y, &yl, err, cap)) != 0) {
        if (rc == 1)
            rc = jose__err(err, cap, JWTV_EKEY, "EC JWK needs x and y");
        goto out;
    }
    rc = jwk_b64(jwk, "d", cl, &d, &dl, err, cap);
    if (rc < 0)
        goto out;
    *priv = rc == 0;
    pub[0] = 0x04;
    memcpy(pub + 1, x, cl);
    memcpy(pub + 1 + cl, y, cl);
    rc = JWTV_ENOMEM;
    if (!(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         cl == 32 ? "prime256v1" : "secp384r1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * cl))
        goto out;
    if (*priv && (rc = bld_bn(bld, OSSL_PKEY_PARAM_PRIV_KEY, d, dl, &dbn)) != 0)
        goto out;
    *out = pkey_fromdata("EC", *priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld);
    rc = 0;
    if (!*out || !pkey_valid(*out, *priv)) {
        EVP_PKEY_free(*out);
        *out = NULL;
        rc = jose__err(err, cap, JWTV_EKEY, "invalid EC key (point not on %s?)", alg->curve);
    }
out:
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(dbn);
    jose__free(x);
    jose__free(y);
    wipe_free(d, dl);
    return rc;
}

static int jwk_okp(json_t *jwk, EVP_PKEY **out, bool *priv, char *err, size_t cap)
{
    unsigned char *x = NULL, *d = NULL, derived[32];
    size_t xl = 0, dl = 0, n = sizeof derived;
    int rc;
    *out = NULL;
    if ((rc = jwk_b64(jwk, "x", 32, &x, &xl, err, cap)) != 0) {
        if (rc == 1)
            rc = jose__err(err, cap, JWTV_EKEY, "OKP JWK needs x");
        goto out;
    }
    rc = jwk_b64(jwk, "d", 32, &d, &dl, err, cap);
    if (rc < 0)
        goto out;
    *priv = rc == 0;
    if (*priv) {
        *out = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, dl);
        if (*out && (!EVP_PKEY_get_raw_public_key(*out, derived, &n) || n != 32 ||
                     CRYPTO_memcmp(derived, x, 32) != 0)) {
            EVP_PKEY_free(*out);
            *out = NULL;
            rc = jose__err(err, cap, JWTV_EKEY, "Ed25519 JWK: x does not match d");
            goto out;
        }
    } else {
        *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
    }
    rc = *out ? 0 : jose__err(err, cap, JWTV_EKEY, "invalid Ed25519 key");
out:
    jose__free(x);
    wipe_free(d, dl);
    return rc;
}

static const char *jwk_str(json_t *jwk, const char *name)
{
    json_t *v = json_object_get(jwk, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* See jose_internal.h. */
int jose__key_from_jwk_obj(json_t *jwk, jose_key_t **out, char *err, size_t cap)
{
    const char *kty, *alg_name, *crv, *use;
    const jose_alg_t *alg = NULL;
    EVP_PKEY *pkey = NULL;
    bool priv = false;
    jose_key_t *k = NULL;
    json_t *v;
    int rc;
    *out = NULL;
    if (!json_is_object(jwk))
        return jose__err(err, cap, JWTV_EJWKS, "a JWK must be a JSON object");
    if (!(kty = jwk_str(jwk, "kty")))
        return jose__err(err, cap, JWTV_EKEY, "JWK without a string kty");
    alg_name = jwk_str(jwk, "alg");
    if (json_object_get(jwk, "alg") && !alg_name)
        return jose__err(err, cap, JWTV_EKEY, "JWK alg is not a string");
    use = jwk_str(jwk, "use");
    if (use && strcmp(use, "sig") != 0)
        return jose__err(err, cap, JWTV_EUNSUPPORTED_ALG, "JWK use is \"%s\", not sig", use);
    if ((v = json_object_get(jwk, "key_ops")) != NULL) {
        bool sig = false;
        size_t i;
        json_t *op;
        if (!json_is_array(v))
            return jose__err(err, cap, JWTV_EKEY, "JWK key_ops is not an array");
        json_array_foreach(v, i, op)
        {
            if (json_is_string(op) && (strcmp(json_string_value(op), "verify") == 0 ||
                                       strcmp(json_string_value(op), "sign") == 0))
                sig = true;
        }
        if (!sig)
            return jose__err(err, cap, JWTV_EUNSUPPORTED_ALG, "JWK key_ops excludes sign/verify");
    }
    if (alg_name) {
        if (jose_alg_is_none(str_cstr(alg_name)))
            return jose__err(err, cap, JWTV_EKEY, "JWK alg none");
        if (!(alg = jose_alg_by_name(str_cstr(alg_name))))
            return jose__err(err, cap, JWTV_EUNSUPPORTED_ALG, "JWK alg %s unsupported", alg_name);
    }
    crv = jwk_str(jwk, "crv");
    if (strcmp(kty, "oct") == 0) {
        unsigned char *secret;
        size_t sl;
        if (!alg)
            return jose__err(err, cap, JWTV_EKEY, "oct JWK must carry alg");
        if (alg->family != JOSE_FAMILY_HMAC)
            return jose__err(err, cap, JWTV_EKEY, "oct JWK with alg %s", alg->name);
        if ((rc = jwk_b64(jwk, "k", 0, &secret, &sl, err, cap)) != 0)
            return rc == 1 ? jose__err(err, cap, JWTV_EKEY, "oct JWK needs k") : rc;
        rc = secret_key_new(alg, secret, sl, &k, err, cap);
        wipe_free(secret, sl);
        if (rc)
            return rc;
        goto kid;
    } else if (strcmp(kty, "RSA") == 0) {
        if (!alg)
            alg = jose_alg_by_name(STR_LIT("RS256"));
        if (alg->family != JOSE_FAMILY_RSA && alg->family != JOSE_FAMILY_RSA_PSS)
            return jose__err(err, cap, JWTV_EKEY, "RSA JWK with alg %s", alg->name);
        rc = jwk_rsa(jwk, &pkey, &priv, err, cap);
    } else if (strcmp(kty, "EC") == 0) {
        const jose_alg_t *by_crv = NULL;
        if (crv && strcmp(crv, "P-256") == 0)
            by_crv = jose_alg_by_name(STR_LIT("ES256"));
        else if (crv && strcmp(crv, "P-384") == 0)
            by_crv = jose_alg_by_name(STR_LIT("ES384"));
        if (!by_crv)
            return jose__err(err, cap, JWTV_EUNSUPPORTED_ALG, "EC curve %s unsupported",
                             crv ? crv : "(none)");
        if (alg && alg != by_crv)
            return jose__err(err, cap, JWTV_EKEY, "EC JWK on %s with alg %s", crv, alg->name);
        alg = by_crv;
        rc = jwk_ec(jwk, alg, &pkey, &priv, err, cap);
    } else if (strcmp(kty, "OKP") == 0) {
        if (!crv || strcmp(crv, "Ed25519") != 0)
            return jose__err(err, cap, JWTV_EUNSUPPORTED_ALG, "OKP curve %s unsupported",
                             crv ? crv : "(none)");
        if (alg && alg->family != JOSE_FAMILY_EDDSA)
            return jose__err(err, cap, JWTV_EKEY, "Ed25519 JWK with alg %s", alg->name);
        alg = jose_alg_by_name(STR_LIT("EdDSA"));
        rc = jwk_okp(jwk, &pkey, &priv, err, cap);
    } else {
        return jose__err(err, cap, JWTV_EUNSUPPORTED_ALG, "JWK kty %s unsupported", kty);
    }
    if (rc)
        return rc;
    if ((rc = check_pkey_fits(alg, pkey, err, cap)) != 0) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    if (!(k = key_alloc(alg))) {
        EVP_PKEY_free(pkey);
        return JWTV_ENOMEM;
    }
    k->pkey = pkey;
    k->has_private = priv;
kid:
    if ((v = json_object_get(jwk, "kid")) != NULL) {
        if (!json_is_string(v) || !kid_ok(json_string_value(v), json_string_length(v))) {
            jose_key_free(k);
            return jose__err(err, cap, JWTV_EKEY, "JWK kid must be 1..%d printable characters",
                             JOSE_KID_MAX);
        }
        k->kid_len = json_string_length(v);
        memcpy(k->kid, json_string_value(v), k->kid_len);
        k->kid[k->kid_len] = '\0';
    } else {
        k->matches_no_kid = true;
    }
    if ((rc = jose__key_finish(k, err, cap)) != 0) {
        jose_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

/* See jose.h. */
int jose_key_from_jwk(str_t json, jose_key_t **out, char *err, size_t cap)
{
    json_error_t jerr;
    json_t *root = json_loadb(json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr);
    *out = NULL;
    if (!root)
        return jose__err(err, cap, JWTV_EJWKS, "JWK is not valid JSON: %s", jerr.text);
    int rc = jose__key_from_jwk_obj(root, out, err, cap);
    json_decref(root);
    return rc;
}

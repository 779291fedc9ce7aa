/*
 * jws.c - compact JWS (RFC 7515): signing, signature verification over OpenSSL EVP with
 * per-thread cached contexts, and the strict compact/header parser of the verify path.
 *
 * DESIGN (contexts): building an EVP context for a key costs microseconds (a bake-off
 * measured ~3.5 us for EVP_DigestVerifyInit on RSA), as much as the rest of an HS256
 * verification. So each thread keeps a small direct-mapped cache of contexts initialised
 * once per (key, operation): an EVP_MAC_CTX holding the HMAC key, which EVP_MAC_init(NULL
 * key) rewinds (measured: 443 ns per HMAC-SHA256 of 470 bytes, against 686 ns for an
 * EVP_MAC_CTX_dup of a template per call); an EVP_PKEY_CTX set up for sign/verify with padding and
 * digest, fed a digest computed with a reused EVP_MD_CTX; for Ed25519 an EVP_MD_CTX initialised
 * once and reused for every one-shot EVP_DigestVerify/EVP_DigestSign, as `openssl speed` does (a
 * probe at first use checks that this OpenSSL allows it, including after a failed verification;
 * otherwise the context is re-initialised per call, which costs a few microseconds). Slots are
 * tagged with the key's process-unique serial, so a freed key's slot can never be mistaken for a
 * new key's; the contexts hold their own references to the EVP_PKEY. The cache is freed at thread
 * exit (pthread key destructor) or by jose_thread_cleanup().
 *
 * DESIGN (parsing): the verify path allocates nothing. The header is decoded into a stack
 * buffer and tokenized with json_scan (strict JSON, duplicate members rejected); the
 * signature is decoded on the stack; the payload is decoded into the caller's jwtv_claims
 * storage only after the signature has been checked (jwt.c).
 */
#include "jose/jose.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "common/b64url.h"
#include "common/clock.h"
#include "common/json_scan.h"
#include "jose/jose_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Per-thread context cache                                                                  */
/* ---------------------------------------------------------------------------------------- */

enum { OP_VERIFY = 0, OP_SIGN = 1 };

#define CACHE_SLOTS 64

struct slot {
    uint64_t tag; /* serial * 2 + op; 0 = empty */
    EVP_MAC_CTX *mac;
    EVP_PKEY_CTX *pctx;
    EVP_MD_CTX *md;
};

struct tcache {
    struct slot slots[CACHE_SLOTS];
};

static __thread struct tcache *tcache;
static pthread_key_t tcache_key;
static pthread_once_t tcache_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_impl;
static bool eddsa_reuse; /* a one-shot EdDSA EVP_MD_CTX may be reused (probed once) */

/* Checks that an initialised Ed25519 EVP_MD_CTX can sign and verify several times. */
static bool probe_eddsa_reuse(void)
{
    static const unsigned char msg[] = "probe";
    unsigned char sig[64], bad[64];
    size_t n = sizeof sig, m = sizeof bad;
    bool ok = false;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_MD_CTX *sc = EVP_MD_CTX_new(), *vc = EVP_MD_CTX_new();
    if (!pk || !sc || !vc || EVP_DigestSignInit_ex(sc, NULL, NULL, NULL, NULL, pk, NULL) != 1 ||
        EVP_DigestVerifyInit_ex(vc, NULL, NULL, NULL, NULL, pk, NULL) != 1)
        goto out;
    if (EVP_DigestSign(sc, bad, &m, msg, 4) != 1 || EVP_DigestSign(sc, sig, &n, msg, 5) != 1)
        goto out;
    ok = EVP_DigestVerify(vc, sig, n, msg, 5) == 1 && EVP_DigestVerify(vc, bad, m, msg, 5) != 1 &&
         EVP_DigestVerify(vc, sig, n, msg, 5) == 1;
out:
    EVP_MD_CTX_free(sc);
    EVP_MD_CTX_free(vc);
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return ok;
}

static void slot_clear(struct slot *s)
{
    EVP_MAC_CTX_free(s->mac);
    EVP_PKEY_CTX_free(s->pctx);
    EVP_MD_CTX_free(s->md);
    memset(s, 0, sizeof *s);
}

static void tcache_destroy(void *p)
{
    struct tcache *tc = p;
    if (!tc)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        slot_clear(&tc->slots[i]);
    jose__free(tc);
}

static void tcache_init_once(void)
{
    pthread_key_create(&tcache_key, tcache_destroy);
    hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
    eddsa_reuse = probe_eddsa_reuse();
}

/* See jose.h. */
void jose_thread_cleanup(void)
{
    if (tcache) {
        pthread_setspecific(tcache_key, NULL);
        tcache_destroy(tcache);
        tcache = NULL;
    }
}

static int eddsa_init(struct slot *s, const jose_key_t *key, int op)
{
    int ok = op == OP_SIGN
                 ? EVP_DigestSignInit_ex(s->md, NULL, NULL, NULL, NULL, key->pkey, NULL)
                 : EVP_DigestVerifyInit_ex(s->md, NULL, NULL, NULL, NULL, key->pkey, NULL);
    return ok == 1 ? 0 : JWTV_ECRYPTO;
}

static int slot_setup(struct slot *s, const jose_key_t *key, int op)
{
    const jose_alg_t *alg = key->alg;
    switch (alg->family) {
    case JOSE_FAMILY_HMAC: {
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)alg->md_name, 0),
            OSSL_PARAM_construct_end()};
        if (!hmac_impl || !(s->mac = EVP_MAC_CTX_new(hmac_impl)))
            return JWTV_ECRYPTO;
        if (!EVP_MAC_init(s->mac, key->secret, key->secret_len, params))
            return JWTV_ECRYPTO;
        return 0;
    }
    case JOSE_FAMILY_RSA:
    case JOSE_FAMILY_RSA_PSS:
    case JOSE_FAMILY_EC:
        if (!(s->md = EVP_MD_CTX_new()) ||
            !(s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL)))
            return JWTV_ENOMEM;
        if ((op == OP_SIGN ? EVP_PKEY_sign_init(s->pctx) : EVP_PKEY_verify_init(s->pctx)) <= 0)
            return JWTV_ECRYPTO;
        if (EVP_PKEY_CTX_set_signature_md(s->pctx, key->md) <= 0)
            return JWTV_ECRYPTO;
        if (alg->family == JOSE_FAMILY_RSA &&
            EVP_PKEY_CTX_set_rsa_padding(s->pctx, RSA_PKCS1_PADDING) <= 0)
            return JWTV_ECRYPTO;
        if (alg->family == JOSE_FAMILY_RSA_PSS &&
            (EVP_PKEY_CTX_set_rsa_padding(s->pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
             EVP_PKEY_CTX_set_rsa_pss_saltlen(s->pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
             EVP_PKEY_CTX_set_rsa_mgf1_md(s->pctx, key->md) <= 0))
            return JWTV_ECRYPTO;
        return 0;
    case JOSE_FAMILY_EDDSA:
        if (!(s->md = EVP_MD_CTX_new()))
            return JWTV_ENOMEM;
        return eddsa_init(s, key, op);
    }
    return JWTV_ECRYPTO;
}

/* The calling thread's slot for (key, op), set up on first use. NULL on failure. */
static struct slot *get_slot(const jose_key_t *key, int op, int *rc)
{
    uint64_t tag = key->serial * 2 + (uint64_t)op;
    struct tcache *tc = tcache;
    if (!tc) {
        pthread_once(&tcache_once, tcache_init_once);
        if (!(tc = jose__calloc(1, sizeof *tc))) {
            *rc = JWTV_ENOMEM;
            return NULL;
        }
        tcache = tc;
        pthread_setspecific(tcache_key, tc);
    }
    struct slot *s = &tc->slots[(tag * 0x9E3779B97F4A7C15ull) >> 58];
    if (s->tag == tag)
        return s;
    slot_clear(s);
    if ((*rc = slot_setup(s, key, op)) != 0) {
        slot_clear(s);
        ERR_clear_error();
        return NULL;
    }
    s->tag = tag;
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* ECDSA signature format (RFC 7518 §3.4): raw r||s <-> DER                                  */
/* ---------------------------------------------------------------------------------------- */

static const unsigned char p256_order[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
static const unsigned char p384_order[48] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73};

/* Whether the big-endian integer v (n bytes) is in [1, order - 1]. */
static bool scalar_in_range(const unsigned char *v, size_t n)
{
    const unsigned char *order = n == 32 ? p256_order : p384_order;
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= v[i];
    return any != 0 && memcmp(v, order, n) < 0;
}

static size_t der_int(unsigned char *o, const unsigned char *v, size_t n)
{
    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    size_t pad = (v[0] & 0x80) ? 1 : 0;
    o[0] = 0x02;
    o[1] = (unsigned char)(n + pad);
    o[2] = 0;
    memcpy(o + 2 + pad, v, n);
    return 2 + pad + n;
}

/* r||s (2n bytes) -> DER SEQUENCE; n <= 48 keeps every length in the short form. */
static size_t raw_to_der(const unsigned char *raw, size_t n, unsigned char *der)
{
    size_t len = der_int(der + 2, raw, n);
    len += der_int(der + 2 + len, raw + n, n);
    der[0] = 0x30;
    der[1] = (unsigned char)len;
    return len + 2;
}

static int der_to_raw(const unsigned char *der, size_t len, unsigned char *raw, size_t n)
{
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int rc = JWTV_ECRYPTO;
    if (!sig)
        return rc;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, raw, (int)n) == (int)n && BN_bn2binpad(s, raw + n, (int)n) == (int)n)
        rc = 0;
    ECDSA_SIG_free(sig);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Signature primitives                                                                      */
/* ---------------------------------------------------------------------------------------- */

static int digest(struct slot *s, const jose_key_t *key, const unsigned char *msg, size_t len,
                  unsigned char *out, unsigned int *out_len)
{
    if (!EVP_DigestInit_ex2(s->md, key->md, NULL) || !EVP_DigestUpdate(s->md, msg, len) ||
        !EVP_DigestFinal_ex(s->md, out, out_len))
        return JWTV_ECRYPTO;
    return 0;
}

static int hmac(struct slot *s, const unsigned char *msg, size_t len, unsigned char *out,
                size_t *out_len)
{
    if (!EVP_MAC_init(s->mac, NULL, 0, NULL) || !EVP_MAC_update(s->mac, msg, len) ||
        !EVP_MAC_final(s->mac, out, out_len, JOSE_HASH_MAX))
        return JWTV_ECRYPTO;
    return 0;
}

/* See jose_internal.h. */
int jose__verify_sig(const jose_key_t *key, const unsigned char *msg, size_t len,
                     const unsigned char *sig, size_t siglen)
{
    unsigned char h[JOSE_HASH_MAX], der[8 + 2 * 52];
    unsigned int hl = 0;
    size_t ml = 0, dl;
    int rc = JWTV_ESIGNATURE, ok;
    struct slot *s;
    if (siglen != key->sig_len)
        return JWTV_ESIGNATURE;
    if (!(s = get_slot(key, OP_VERIFY, &rc)))
        return rc;
    rc = JWTV_ESIGNATURE;
    switch (key->alg->family) {
    case JOSE_FAMILY_HMAC:
        if (hmac(s, msg, len, h, &ml) != 0) {
            rc = JWTV_ECRYPTO;
            break;
        }
        if (ml == siglen && CRYPTO_memcmp(h, sig, siglen) == 0)
            rc = 0;
        break;
    case JOSE_FAMILY_RSA:
    case JOSE_FAMILY_RSA_PSS:
        if (digest(s, key, msg, len, h, &hl) != 0) {
            rc = JWTV_ECRYPTO;
            break;
        }
        if (EVP_PKEY_verify(s->pctx, sig, siglen, h, hl) == 1)
            rc = 0;
        break;
    case JOSE_FAMILY_EC: {
        size_t n = key->alg->coord_len;
        if (!scalar_in_range(sig, n) || !scalar_in_range(sig + n, n))
            break;
        if (digest(s, key, msg, len, h, &hl) != 0) {
            rc = JWTV_ECRYPTO;
            break;
        }
        dl = raw_to_der(sig, n, der);
        if (EVP_PKEY_verify(s->pctx, der, dl, h, hl) == 1)
            rc = 0;
        break;
    }
    case JOSE_FAMILY_EDDSA:
        if (!eddsa_reuse && eddsa_init(s, key, OP_VERIFY) != 0) {
            rc = JWTV_ECRYPTO;
            break;
        }
        ok = EVP_DigestVerify(s->md, sig, siglen, msg, len) == 1;
        if (ok)
            rc = 0;
        break;
    }
    if (rc)
        ERR_clear_error();
    return rc;
}

/* See jose_internal.h. */
int jose__sign_sig(const jose_key_t *key, const unsigned char *msg, size_t len, unsigned char *sig,
                   size_t *siglen)
{
    unsigned char h[JOSE_HASH_MAX], der[8 + 2 * 52];
    unsigned int hl = 0;
    size_t n;
    int rc = JWTV_ECRYPTO;
    struct slot *s;
    if (!key->has_private)
        return JWTV_EKEY;
    if (!(s = get_slot(key, OP_SIGN, &rc)))
        return rc;
    rc = JWTV_ECRYPTO;
    switch (key->alg->family) {
    case JOSE_FAMILY_HMAC:
        rc = hmac(s, msg, len, sig, siglen);
        break;
    case JOSE_FAMILY_RSA:
    case JOSE_FAMILY_RSA_PSS:
        n = JOSE_SIG_MAX;
        if (digest(s, key, msg, len, h, &hl) == 0 && EVP_PKEY_sign(s->pctx, sig, &n, h, hl) == 1 &&
            n == key->sig_len) {
            *siglen = n;
            rc = 0;
        }
        break;
    case JOSE_FAMILY_EC:
        n = sizeof der;
        if (digest(s, key, msg, len, h, &hl) == 0 && EVP_PKEY_sign(s->pctx, der, &n, h, hl) == 1 &&
            der_to_raw(der, n, sig, key->alg->coord_len) == 0) {
            *siglen = 2 * key->alg->coord_len;
            rc = 0;
        }
        break;
    case JOSE_FAMILY_EDDSA:
        n = 64;
        if ((eddsa_reuse || eddsa_init(s, key, OP_SIGN) == 0) &&
            EVP_DigestSign(s->md, sig, &n, msg, len) == 1 && n == 64) {
            *siglen = n;
            rc = 0;
        }
        break;
    }
    if (rc)
        ERR_clear_error();
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Signing                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* See jose.h. */
int jose_jws_sign(const jose_key_t *key, str_t header_extra, str_t payload, char *out, size_t cap,
                  size_t *out_len)
{
    unsigned char sig[JOSE_SIG_MAX];
    size_t siglen = 0, o, need;
    int rc;
    *out_len = 0;
    if (!key->has_private || !key->hdr_b64)
        return JWTV_EKEY;
    if (header_extra.len) {
        char hdr[JWTV_MAX_HEADER_BYTES];
        int n = snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\",%.*s}",
                         key->alg->name, key->kid, STR_FMT(header_extra));
        if (n < 0 || (size_t)n >= sizeof hdr)
            return JWTV_ETOOLARGE;
        if (B64URL_ENC_LEN((size_t)n) + 1 > cap)
            return JWTV_ETOOLARGE;
        o = b64url_encode(hdr, (size_t)n, out, cap);
    } else {
        if (key->hdr_b64_len + 1 > cap)
            return JWTV_ETOOLARGE;
        memcpy(out, key->hdr_b64, key->hdr_b64_len);
        o = key->hdr_b64_len;
    }
    need = o + 1 + B64URL_ENC_LEN(payload.len) + 1 + B64URL_ENC_LEN(key->sig_len) + 1;
    if (need > cap)
        return JWTV_ETOOLARGE;
    out[o++] = '.';
    o += b64url_encode(payload.ptr, payload.len, out + o, cap - o);
    if ((rc = jose__sign_sig(key, (const unsigned char *)out, o, sig, &siglen)) != 0)
        return rc;
    out[o++] = '.';
    o += b64url_encode(sig, siglen, out + o, cap - o);
    out[o] = '\0';
    *out_len = o;
    return 0;
}

/* See jose.h. */
int jose_jws_sign_buf(const jose_key_t *key, str_t payload, buf_t *out)
{
    size_t need = JWTV_MAX_HEADER_BYTES + B64URL_ENC_LEN(payload.len) + 2 * JOSE_SIG_MAX, n = 0;
    int rc;
    if (buf_reserve(out, need))
        return JWTV_ETOOLARGE;
    rc = jose_jws_sign(key, STR_NULL, payload, out->data + out->len, out->cap - out->len, &n);
    if (rc == 0)
        out->len += n;
    if (out->data)
        out->data[out->len] = '\0';
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Verification                                                                              */
/* ---------------------------------------------------------------------------------------- */

#define HEADER_TOKS 64

struct parts {
    str_t hdr, pl, sig; /* the three base64url segments */
};

static int split(str_t token, struct parts *p)
{
    const char *d1, *d2;
    if (token.len > JWTV_MAX_TOKEN_BYTES)
        return JWTV_ETOOLARGE;
    if (token.len == 0 || !(d1 = memchr(token.ptr, '.', token.len)))
        return JWTV_EMALFORMED;
    const char *end = token.ptr + token.len;
    if (!(d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1))))
        return JWTV_EMALFORMED;
    if (memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        return JWTV_EMALFORMED; /* more than three segments (JWE has five) */
    p->hdr = str_make(token.ptr, (size_t)(d1 - token.ptr));
    p->pl = str_make(d1 + 1, (size_t)(d2 - d1 - 1));
    p->sig = str_make(d2 + 1, (size_t)(end - d2 - 1));
    if (!p->hdr.len || !p->pl.len)
        return JWTV_EMALFORMED;
    return 0;
}

static int scan_err(int jrc)
{
    return jrc == JSON_E_TOOMANY || jrc == JSON_E_DEPTH ? JWTV_ETOOLARGE : JWTV_EMALFORMED;
}

/* Parsed header: the members that matter, as unescaped strings. */
struct header {
    char alg[16];
    size_t alg_len;
    bool alg_long; /* longer than any algorithm name */
    char kid[JOSE_KID_MAX + 1];
    size_t kid_len;
    bool has_kid;
};

/*
 * Decodes the header segment into *h. Returns 0 or the first rule broken, in member order;
 * once the JSON is scanned, the members after a broken rule are still read, so that h->alg
 * is known for every header that decodes (the alg a rejected token is counted under).
 */
static int parse_header(str_t b64, struct header *h)
{
    char buf[JWTV_MAX_HEADER_BYTES];
    json_tok_t toks[HEADER_TOKS];
    size_t len, nt;
    bool has_alg = false;
    int jrc, rc = 0;
    if (b64.len > B64URL_ENC_LEN(JWTV_MAX_HEADER_BYTES))
        return JWTV_ETOOLARGE;
    if (!b64url_decode(b64.ptr, b64.len, buf, sizeof buf, &len))
        return JWTV_EMALFORMED;
    if ((jrc = json_scan(buf, len, toks, HEADER_TOKS, 4, &nt)) != 0)
        return scan_err(jrc);
    if (toks[0].type != JSON_T_OBJECT)
        return JWTV_EHEADER;
    for (uint32_t k = 1; k < toks[0].next; k = toks[k + 1].next) {
        const json_tok_t *key = &toks[k], *val = &toks[k + 1];
        char name[8];
        int broken = 0;
        str_t n = str_make(buf + key->start, key->len);
        if (key->has_escape) {
            size_t nl = json_str_unescape(buf, key, name, sizeof name);
            if (nl == (size_t)-1)
                continue; /* longer than any name we act on */
            n = str_make(name, nl);
        }
        if (n.len != 3 && n.len != 4)
            continue;
        if (str_eq_cstr(n, "alg")) {
            if (val->type != JSON_T_STRING) {
                broken = JWTV_EHEADER;
            } else {
                h->alg_len = json_str_unescape(buf, val, h->alg, sizeof h->alg - 1);
                if (h->alg_len == (size_t)-1) {
                    h->alg_long = true;
                    h->alg_len = 0;
                }
                h->alg[h->alg_len] = '\0';
                has_alg = true;
            }
        } else if (str_eq_cstr(n, "kid")) {
            if (val->type != JSON_T_STRING) {
                broken = JWTV_EHEADER;
            } else {
                h->kid_len = json_str_unescape(buf, val, h->kid, JOSE_KID_MAX);
                if (h->kid_len == (size_t)-1 || h->kid_len == 0) {
                    h->kid_len = 0;
                    broken = JWTV_ENOKEY; /* no key can have this kid */
                } else {
                    h->kid[h->kid_len] = '\0';
                    h->has_kid = true;
                }
            }
        } else if (str_eq_cstr(n, "crit")) {
            broken = JWTV_ECRIT; /* we implement no extension, so any crit entry is unknown */
        } else if (str_eq_cstr(n, "jku") || str_eq_cstr(n, "jwk") || str_eq_cstr(n, "x5u") ||
                   str_eq_cstr(n, "x5c") || str_eq_cstr(n, "b64")) {
            broken = JWTV_EHEADER; /* keys come from the verifier, never from the token */
        }
        if (broken && !rc)
            rc = broken;
    }
    if (rc)
        return rc;
    return has_alg ? 0 : JWTV_EHEADER;
}

/*
 * Everything up to and including the signature: split, header rules, key selection by kid
 * and alg, signature check. OUT: *p (the segments), *h (header members), *alg_out: the row
 * the header's alg names, set as soon as the header is read, so also on most failures
 * (NULL when the header did not decode or named no supported algorithm).
 */
static int verify_compact(const jose_keyring_t *ring, unsigned algorithms, str_t token,
                          struct parts *p, struct header *h, const jose_alg_t **alg_out)
{
    unsigned char sig[JOSE_SIG_MAX];
    size_t siglen = 0;
    const jose_alg_t *alg;
    const jose_key_t *key = NULL;
    int rc;

    memset(h, 0, sizeof *h);
    *alg_out = NULL;
    if ((rc = split(token, p)) != 0)
        return rc;
    rc = parse_header(p->hdr, h);
    *alg_out = alg = jose_alg_by_name(str_make(h->alg, h->alg_len));
    if (rc != 0)
        return rc;
    if (h->alg_long)
        return JWTV_EUNSUPPORTED_ALG;
    if (jose_alg_is_none(str_make(h->alg, h->alg_len)))
        return JWTV_EALG;
    if (!alg)
        return JWTV_EUNSUPPORTED_ALG;
    if (!(algorithms & alg->bit))
        return JWTV_EALG;
    if (p->sig.len > B64URL_ENC_LEN(JOSE_SIG_MAX))
        return JWTV_ETOOLARGE;
    if (!p->sig.len || !b64url_decode(p->sig.ptr, p->sig.len, sig, sizeof sig, &siglen))
        return JWTV_EMALFORMED;
    /* message = ASCII(BASE64URL(header) || '.' || BASE64URL(payload)) */
    const unsigned char *msg = (const unsigned char *)token.ptr;
    size_t msg_len = (size_t)(p->sig.ptr - token.ptr) - 1;
    rc = JWTV_ENOKEY;
    if (h->has_kid) {
        if (!(key = jose_keyring_find(ring, str_make(h->kid, h->kid_len))))
            return JWTV_ENOKEY;
        if (key->alg != alg)
            return JWTV_EALG;
        rc = jose__verify_sig(key, msg, msg_len, sig, siglen);
    } else {
        /* Kid-less tokens: only keys configured for them (their JWK had no kid). */
        size_t n = jose_keyring_count(ring);
        for (size_t i = 0; i < n; i++) {
            const jose_key_t *k = jose_keyring_at(ring, i, NULL);
            if (!k->matches_no_kid || k->alg != alg)
                continue;
            rc = jose__verify_sig(k, msg, msg_len, sig, siglen);
            if (rc != JWTV_ESIGNATURE)
                break;
        }
    }
    return rc;
}

/* See jose.h. */
int jose_jwt_verify(const jose_keyring_t *ring, const jwtv_options *opt, str_t token, int64_t now,
                    jwtv_claims *out)
{
    struct parts p;
    struct header h;
    const jose_alg_t *alg = NULL;
    int rc;

    memset(out, 0, offsetof(jwtv_claims, _storage));
    out->_used = 0;
    if ((rc = verify_compact(ring, opt->algorithms, token, &p, &h, &alg)) != 0)
        goto fail;
    if ((rc = jose__claims_check(opt, p.pl.ptr, p.pl.len, now ? now : clock_now_s(), out)) != 0)
        goto fail;
    if (!(out->alg = jose__claims_store(out, alg->name, strlen(alg->name))) ||
        (h.has_kid && !(out->kid = jose__claims_store(out, h.kid, h.kid_len)))) {
        rc = JWTV_ETOOLARGE;
        goto fail;
    }
    return 0;
fail:
    memset(out, 0, offsetof(jwtv_claims, _storage));
    out->_used = 0;
    /* a rejected token keeps the algorithm its header named: the label metrics count it by */
    if (alg)
        out->alg = jose__claims_store(out, alg->name, strlen(alg->name));
    return rc;
}

/* See jose.h. */
int jose_jws_verify(const jose_keyring_t *ring, unsigned algorithms, str_t token, buf_t *payload)
{
    struct parts p;
    struct header h;
    const jose_alg_t *alg = NULL;
    size_t len;
    int rc = verify_compact(ring, algorithms, token, &p, &h, &alg);
    if (rc)
        return rc;
    if (buf_reserve(payload, B64URL_DEC_MAX(p.pl.len) + 1))
        return JWTV_ETOOLARGE;
    if (!b64url_decode(p.pl.ptr, p.pl.len, payload->data + payload->len,
                       payload->cap - payload->len, &len))
        return JWTV_EMALFORMED;
    payload->len += len;
    payload->data[payload->len] = '\0';
    return 0;
}

/* See jose.h. */
int jose_jws_decode_unverified(str_t token, buf_t *header, buf_t *payload)
{
    struct parts p;
    char buf[JWTV_MAX_TOKEN_BYTES];
    size_t len, nt;
    json_tok_t toks[JWTV_MAX_JSON_TOKENS];
    int rc;
    if ((rc = split(token, &p)) != 0)
        return rc;
    str_t segs[2] = {p.hdr, p.pl};
    buf_t *outs[2] = {header, payload};
    for (int i = 0; i < 2; i++) {
        if (!b64url_decode(segs[i].ptr, segs[i].len, buf, sizeof buf, &len))
            return JWTV_EMALFORMED;
        if ((rc = json_scan(buf, len, toks, JWTV_MAX_JSON_TOKENS, JWTV_MAX_JSON_DEPTH, &nt)) != 0)
            return scan_err(rc);
        if (toks[0].type != JSON_T_OBJECT)
            return JWTV_EMALFORMED;
        if (buf_append(outs[i], buf, len))
            return JWTV_ENOMEM;
    }
    if (p.sig.len && !b64url_decode(p.sig.ptr, p.sig.len, buf, sizeof buf, &len))
        return JWTV_EMALFORMED;
    return 0;
}

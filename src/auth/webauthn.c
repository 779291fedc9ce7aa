/*
 * webauthn.c - WebAuthn parsers and verification (see webauthn.h).
 *
 * DESIGN: CBOR is decoded by libcbor (cbor_load), which builds a tree and reports how many
 * bytes one item took; everything WebAuthn-specific (which members, which types, what may
 * follow) is checked here, member by member, against the bytes that remain. libcbor keeps
 * its own explicit stack, so nesting depth costs memory bounded by the input (at most
 * WA_MAX_INPUT bytes), not C stack. Strings must be definite-length: a chunked string has
 * no single handle, and no authenticator writes one.
 */
#include "auth/webauthn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/b64url.h"
#include "common/err.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        *why = (msg);                                                                              \
        return ERR_INVALID;                                                                        \
    } while (0)

/* ==== CBOR helpers ========================================================================== */

#define CBOR_MAX_DEPTH 16

/*
 * Checks that p starts with one well-formed CBOR item of the kinds WebAuthn uses: definite
 * lengths only, no tags, simple values false/true/null/undefined and floats, at most
 * CBOR_MAX_DEPTH levels, and no string, array or map count larger than the bytes left (an
 * element takes at least one byte). libcbor 0.8 allocates an array for the count an item
 * declares before reading its elements, so this scan runs first and libcbor never sees a
 * count the input cannot hold. Iterative. OUT: *len, the item's size.
 */
static bool cbor_prescan(const uint8_t *p, size_t n, size_t *len)
{
    uint64_t pending[CBOR_MAX_DEPTH + 1];
    int depth = 0;
    size_t off = 0;
    pending[0] = 1;
    for (;;) {
        if (pending[depth] == 0) {
            if (depth == 0)
                break;
            depth--;
            continue;
        }
        pending[depth]--;
        if (off >= n)
            return false;
        uint8_t ib = p[off++], major = ib >> 5, ai = ib & 31;
        uint64_t v = ai;
        if (ai >= 24 && ai <= 27) {
            size_t k = (size_t)1 << (ai - 24);
            if (n - off < k)
                return false;
            v = 0;
            for (size_t i = 0; i < k; i++)
                v = v << 8 | p[off + i];
            off += k;
        } else if (ai > 27) {
            return false; /* reserved, or an indefinite length */
        }
        switch (major) {
        case 0:
        case 1:
            break;
        case 2:
        case 3:
            if (v > n - off)
                return false;
            off += (size_t)v;
            break;
        case 4:
        case 5:
            if (v > n - off || (major == 5 && v > (n - off) / 2) || depth == CBOR_MAX_DEPTH)
                return false;
            pending[++depth] = major == 5 ? v * 2 : v;
            break;
        case 6:
            return false;
        default: /* 7: false, true, null, undefined, half/single/double floats */
            if (!((ai >= 20 && ai <= 23) || (ai >= 25 && ai <= 27)))
                return false;
            break;
        }
    }
    *len = off;
    return true;
}

/* One CBOR item from p..p+n (cbor_prescan's rules). OUT: *used. NULL when it does not
   decode. */
static cbor_item_t *cbor_one(const uint8_t *p, size_t n, size_t *used)
{
    struct cbor_load_result res;
    size_t len = 0;
    if (n == 0 || n > WA_MAX_INPUT || !cbor_prescan(p, n, &len))
        return NULL;
    cbor_item_t *it = cbor_load(p, len, &res);
    if (!it || res.error.code != CBOR_ERR_NONE || res.read != len) {
        if (it)
            cbor_decref(&it);
        return NULL;
    }
    *used = len;
    return it;
}

/* A definite byte string's bytes. */
static bool cbor_bytes(const cbor_item_t *it, const uint8_t **p, size_t *n)
{
    if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
        return false;
    *p = cbor_bytestring_handle(it);
    *n = cbor_bytestring_length(it);
    if (!*p && *n == 0)
        *p = (const uint8_t *)"";
    return true;
}

/* A definite text string equal to s. */
static bool cbor_text_is(const cbor_item_t *it, const char *s)
{
    if (!cbor_isa_string(it) || !cbor_string_is_definite(it))
        return false;
    size_t n = cbor_string_length(it);
    return n == strlen(s) && (n == 0 || memcmp(cbor_string_handle(it), s, n) == 0);
}

/* An integer (major type 0 or 1) that fits int64_t. */
static bool cbor_int64(const cbor_item_t *it, int64_t *out)
{
    if (cbor_isa_uint(it)) {
        uint64_t v = cbor_get_int(it);
        if (v > INT64_MAX)
            return false;
        *out = (int64_t)v;
        return true;
    }
    if (cbor_isa_negint(it)) {
        uint64_t v = cbor_get_int(it);
        if (v > INT64_MAX)
            return false;
        *out = -1 - (int64_t)v;
        return true;
    }
    return false;
}

/* A definite map's pairs. */
static bool cbor_pairs(const cbor_item_t *it, struct cbor_pair **pairs, size_t *n)
{
    if (!cbor_isa_map(it) || !cbor_map_is_definite(it))
        return false;
    *pairs = cbor_map_handle(it);
    *n = cbor_map_size(it);
    return true;
}

/* ==== authenticator data ==================================================================== */

int wa_authdata_parse(const uint8_t *p, size_t n, wa_authdata_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (n < 37)
        FAIL("authenticator data is too short");
    if (n > WA_MAX_INPUT)
        FAIL("authenticator data is too long");
    out->rp_id_hash = p;
    out->flags = p[32];
    out->sign_count = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 | (uint32_t)p[35] << 8 | p[36];
    if ((out->flags & WA_FLAG_BS) && !(out->flags & WA_FLAG_BE))
        FAIL("authenticator data flags are inconsistent (backup state without eligibility)");
    size_t off = 37;
    if (out->flags & WA_FLAG_AT) {
        if (n - off < 18)
            FAIL("attested credential data is truncated");
        out->attested = true;
        out->aaguid = p + off;
        size_t l = (size_t)p[off + 16] << 8 | p[off + 17];
        off += 18;
        if (l == 0 || l > WA_MAX_CRED_ID)
            FAIL("credential id length is out of range");
        if (n - off < l)
            FAIL("credential id is truncated");
        out->cred_id = p + off;
        out->cred_id_len = l;
        off += l;
        size_t used = 0;
        cbor_item_t *key = cbor_one(p + off, n - off, &used);
        if (!key)
            FAIL("credential public key is not valid CBOR");
        bool map = cbor_isa_map(key);
        cbor_decref(&key);
        if (!map)
            FAIL("credential public key is not a CBOR map");
        out->cose_key = p + off;
        out->cose_key_len = used;
        off += used;
    }
    if (out->flags & WA_FLAG_ED) {
        size_t used = 0;
        cbor_item_t *ext = cbor_one(p + off, n - off, &used);
        if (!ext)
            FAIL("extensions are not valid CBOR");
        bool map = cbor_isa_map(ext);
        cbor_decref(&ext);
        if (!map)
            FAIL("extensions are not a CBOR map");
        off += used;
    }
    if (off != n)
        FAIL("authenticator data has trailing bytes");
    return 0;
}

/* ==== COSE keys ============================================================================= */

/* COSE labels and values (RFC 9052, 9053). */
#define COSE_KTY     1
#define COSE_ALG     3
#define COSE_CRV_N   (-1) /* crv (EC2, OKP) or n (RSA) */
#define COSE_X_E     (-2) /* x (EC2, OKP) or e (RSA) */
#define COSE_Y       (-3)
#define COSE_KTY_OKP 1
#define COSE_KTY_EC2 2
#define COSE_KTY_RSA 3
#define COSE_P256    1
#define COSE_ED25519 6

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pk = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pk;
}

/* Whether pk passes OpenSSL's public-key check (EC: the point is on the curve). */
static bool pkey_check(EVP_PKEY *pk)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static EVP_PKEY *ec_p256(const uint8_t *x, const uint8_t *y)
{
    uint8_t pt[65];
    pt[0] = 4;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pk = NULL;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt))
        pk = pkey_fromdata("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

static EVP_PKEY *rsa_key(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len)
{
    BIGNUM *bn = BN_bin2bn(n, (int)n_len, NULL), *be = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pk = NULL;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pk = pkey_fromdata("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pk;
}

int wa_cose_key_parse(const uint8_t *p, size_t n, int *alg, EVP_PKEY **pkey, const char **why)
{
    size_t used = 0;
    if (pkey)
        *pkey = NULL;
    cbor_item_t *root = cbor_one(p, n, &used);
    if (!root)
        FAIL("credential public key is not valid CBOR");
    struct cbor_pair *pairs = NULL;
    size_t np = 0;
    /* members by label -4..4 (index label + 4); other labels are ignored */
    const cbor_item_t *m[9] = {0};
    const char *err = NULL;
    if (used != n)
        err = "credential public key has trailing bytes";
    else if (!cbor_pairs(root, &pairs, &np))
        err = "credential public key is not a CBOR map";
    for (size_t i = 0; !err && i < np; i++) {
        int64_t label;
        if (!cbor_int64(pairs[i].key, &label) || label < -4 || label > 4)
            continue;
        if (m[label + 4])
            err = "credential public key repeats a member";
        m[label + 4] = pairs[i].value;
    }
#define MEMBER(l) m[(l) + 4]
    int64_t kty = 0, a = 0, crv = 0;
    const uint8_t *b1 = NULL, *b2 = NULL, *b3 = NULL;
    size_t l1 = 0, l2 = 0, l3 = 0;
    if (!err && (!MEMBER(COSE_KTY) || !cbor_int64(MEMBER(COSE_KTY), &kty)))
        err = "credential public key has no valid kty";
    if (!err && (!MEMBER(COSE_ALG) || !cbor_int64(MEMBER(COSE_ALG), &a)))
        err = "credential public key has no valid alg";
    EVP_PKEY *pk = NULL;
    if (!err) {
        bool okp = a == WA_ALG_EDDSA, ec2 = a == WA_ALG_ES256, rsa = a == WA_ALG_RS256;
        if (!okp && !ec2 && !rsa)
            err = "credential algorithm is not supported (ES256, RS256 or EdDSA)";
        else if (kty != (okp ? COSE_KTY_OKP : ec2 ? COSE_KTY_EC2 : COSE_KTY_RSA))
            err = "credential key type does not match its algorithm";
        else if (rsa && !(MEMBER(COSE_CRV_N) && cbor_bytes(MEMBER(COSE_CRV_N), &b1, &l1) &&
                          MEMBER(COSE_X_E) && cbor_bytes(MEMBER(COSE_X_E), &b2, &l2)))
            err = "RSA key needs n and e";
        else if (!rsa && !(MEMBER(COSE_CRV_N) && cbor_int64(MEMBER(COSE_CRV_N), &crv) &&
                           MEMBER(COSE_X_E) && cbor_bytes(MEMBER(COSE_X_E), &b2, &l2)))
            err = "credential key needs crv and x";
        else if (ec2 && !(MEMBER(COSE_Y) && cbor_bytes(MEMBER(COSE_Y), &b3, &l3)))
            err = "EC2 key needs y";
        else if (ec2) {
            if (crv != COSE_P256)
                err = "ES256 needs a key on P-256";
            else if (l2 != 32 || l3 != 32)
                err = "ES256 key coordinates must be 32 bytes";
            else if (!(pk = ec_p256(b2, b3)) || !pkey_check(pk))
                err = "ES256 key is not a point on P-256";
        } else if (okp) {
            if (crv != COSE_ED25519)
                err = "EdDSA needs an Ed25519 key";
            else if (l2 != 32)
                err = "Ed25519 key must be 32 bytes";
            else if (!(pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, b2, 32)))
                err = "Ed25519 key is not valid";
        } else {
            if (l1 < 256 || l1 > 1024 || b1[0] == 0 || l2 == 0 || l2 > 8)
                err = "RSA key size is out of range (2048 to 8192 bits)";
            else if (!(pk = rsa_key(b1, l1, b2, l2)) || EVP_PKEY_get_bits(pk) < 2048)
                err = "RSA key is not valid";
        }
    }
#undef MEMBER
    cbor_decref(&root);
    if (err) {
        EVP_PKEY_free(pk);
        FAIL(err);
    }
    *alg = (int)a;
    if (pkey)
        *pkey = pk;
    else
        EVP_PKEY_free(pk);
    return 0;
}

/* ==== attestation object ==================================================================== */

void wa_attestation_dispose(wa_attestation_t *a)
{
    if (a->root) {
        cbor_item_t *root = a->root;
        cbor_decref(&root);
    }
    memset(a, 0, sizeof *a);
}

/* Reads the packed-style members of attStmt. */
static const char *att_stmt_read(const cbor_item_t *st, wa_attestation_t *a)
{
    struct cbor_pair *pairs;
    size_t np;
    bool seen_sig = false, seen_x5c = false;
    if (!cbor_pairs(st, &pairs, &np))
        return "attStmt is not a CBOR map";
    a->att_stmt_members = np;
    for (size_t i = 0; i < np; i++) {
        const cbor_item_t *k = pairs[i].key, *v = pairs[i].value;
        if (cbor_text_is(k, "alg")) {
            if (a->has_alg || !cbor_int64(v, &a->alg))
                return "attStmt alg is not valid";
            a->has_alg = true;
        } else if (cbor_text_is(k, "sig")) {
            if (seen_sig || !cbor_bytes(v, &a->sig, &a->sig_len) || a->sig_len == 0)
                return "attStmt sig is not valid";
            seen_sig = true;
        } else if (cbor_text_is(k, "x5c")) {
            if (seen_x5c || !cbor_isa_array(v) || !cbor_array_is_definite(v))
                return "attStmt x5c is not valid";
            size_t nc = cbor_array_size(v);
            if (nc == 0 || nc > WA_MAX_X5C)
                return "attStmt x5c has too few or too many certificates";
            cbor_item_t **items = cbor_array_handle(v);
            for (size_t c = 0; c < nc; c++)
                if (!cbor_bytes(items[c], &a->x5c[c], &a->x5c_len[c]) || a->x5c_len[c] == 0)
                    return "attStmt x5c holds something else than certificates";
            a->x5c_n = nc;
            seen_x5c = true;
        }
    }
    return NULL;
}

int wa_attestation_parse(const uint8_t *p, size_t n, wa_attestation_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    size_t used = 0;
    if (n > WA_MAX_INPUT)
        FAIL("attestation object is too long");
    cbor_item_t *root = cbor_one(p, n, &used);
    if (!root)
        FAIL("attestation object is not valid CBOR");
    struct cbor_pair *pairs;
    size_t np;
    const cbor_item_t *fmt = NULL, *stmt = NULL, *ad = NULL;
    const char *err = NULL;
    if (used != n)
        err = "attestation object has trailing bytes";
    else if (!cbor_pairs(root, &pairs, &np) || np != 3)
        err = "attestation object must be a map of fmt, attStmt and authData";
    for (size_t i = 0; !err && i < np; i++) {
        const cbor_item_t *k = pairs[i].key;
        const cbor_item_t **slot = cbor_text_is(k, "fmt")        ? &fmt
                                   : cbor_text_is(k, "attStmt")  ? &stmt
                                   : cbor_text_is(k, "authData") ? &ad
                                                                 : NULL;
        if (!slot || *slot)
            err = "attestation object must be a map of fmt, attStmt and authData";
        else
            *slot = pairs[i].value;
    }
    if (!err) {
        size_t fl;
        if (!cbor_isa_string(fmt) || !cbor_string_is_definite(fmt) ||
            (fl = cbor_string_length(fmt)) == 0 || fl >= sizeof out->fmt)
            err = "attestation format is not valid";
        else {
            memcpy(out->fmt, cbor_string_handle(fmt), fl);
            out->fmt[fl] = 0;
            if (memchr(out->fmt, 0, fl))
                err = "attestation format is not valid";
        }
    }
    if (!err && !cbor_bytes(ad, &out->auth_data, &out->auth_data_len))
        err = "authData is not a byte string";
    if (!err)
        err = att_stmt_read(stmt, out);
    if (err) {
        cbor_decref(&root);
        memset(out, 0, sizeof *out);
        FAIL(err);
    }
    out->root = root;
    return 0;
}

/* ==== signatures ============================================================================ */

int wa_signature_verify(EVP_PKEY *key, int alg, const uint8_t *msg, size_t msg_len,
                        const uint8_t *sig, size_t sig_len)
{
    int id = EVP_PKEY_get_base_id(key);
    const EVP_MD *md = NULL;
    if (alg == WA_ALG_ES256 && id == EVP_PKEY_EC)
        md = EVP_sha256();
    else if (alg == WA_ALG_RS256 && id == EVP_PKEY_RSA)
        md = EVP_sha256();
    else if (!(alg == WA_ALG_EDDSA && id == EVP_PKEY_ED25519))
        return ERR_INVALID;
    if (alg == WA_ALG_ES256) { /* the curve must be P-256 (an x5c key could be another) */
        char group[32];
        size_t gl = 0;
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &gl) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
            return ERR_INVALID;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : ERR_INVALID;
}

/* ==== clientDataJSON ======================================================================== */

static json_t *client_data_load(const uint8_t *cdj, size_t n)
{
    if (n == 0 || n > WA_MAX_INPUT)
        return NULL;
    json_t *o = json_loadb((const char *)cdj, n, JSON_REJECT_DUPLICATES, NULL);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int challenge_of(json_t *o, uint8_t *out, size_t cap, size_t *len)
{
    json_t *c = json_object_get(o, "challenge");
    if (!json_is_string(c))
        return ERR_INVALID;
    return b64url_decode(json_string_value(c), json_string_length(c), out, cap, len) ? 0
                                                                                     : ERR_INVALID;
}

int wa_client_data_challenge(const uint8_t *cdj, size_t cdj_len, uint8_t *out, size_t cap,
                             size_t *len)
{
    json_t *o = client_data_load(cdj, cdj_len);
    if (!o)
        return ERR_INVALID;
    int rc = challenge_of(o, out, cap, len);
    json_decref(o);
    return rc;
}

static const char *client_data_rules(const wa_rp_t *rp, json_t *o, const char *type,
                                     const uint8_t *challenge, size_t challenge_len)
{
    json_t *t = json_object_get(o, "type"), *origin = json_object_get(o, "origin");
    json_t *cross = json_object_get(o, "crossOrigin");
    uint8_t got[64];
    size_t got_len = 0;
    if (!json_is_string(t) || strcmp(json_string_value(t), type) != 0)
        return "clientDataJSON has the wrong type";
    if (challenge_of(o, got, sizeof got, &got_len) != 0 || got_len != challenge_len ||
        CRYPTO_memcmp(got, challenge, challenge_len) != 0)
        return "clientDataJSON does not answer this challenge";
    if (!json_is_string(origin))
        return "clientDataJSON has no origin";
    bool listed = false;
    for (size_t i = 0; i < rp->n_origins && !listed; i++)
        listed = strlen(rp->origins[i]) == json_string_length(origin) &&
                 strcmp(rp->origins[i], json_string_value(origin)) == 0;
    if (!listed)
        return "origin is not one of this relying party's origins";
    if (cross && !json_is_false(cross))
        return "cross-origin ceremonies are not accepted";
    if (json_object_get(o, "topOrigin"))
        return "cross-origin ceremonies are not accepted";
    return NULL;
}

int wa_client_data_check(const wa_rp_t *rp, const char *type, const uint8_t *challenge,
                         size_t challenge_len, const uint8_t *cdj, size_t cdj_len, uint8_t hash[32],
                         const char **why)
{
    json_t *o = client_data_load(cdj, cdj_len);
    if (!o)
        FAIL("clientDataJSON is not a JSON object");
    const char *err = client_data_rules(rp, o, type, challenge, challenge_len);
    json_decref(o);
    if (err)
        FAIL(err);
    SHA256(cdj, cdj_len, hash);
    return 0;
}

/* ==== registration ========================================================================== */

void wa_credential_dispose(wa_credential_t *c)
{
    free(c->cose_key);
    memset(c, 0, sizeof *c);
}

/* rpIdHash, UP and UV of authenticator data. */
static const char *authdata_rules(const wa_rp_t *rp, const wa_authdata_t *ad)
{
    uint8_t h[32];
    SHA256((const uint8_t *)rp->rp_id, strlen(rp->rp_id), h);
    if (CRYPTO_memcmp(h, ad->rp_id_hash, 32) != 0)
        return "rpIdHash is not the hash of this relying party's id";
    if (!(ad->flags & WA_FLAG_UP))
        return "the authenticator did not report user presence";
    if (rp->require_uv && !(ad->flags & WA_FLAG_UV))
        return "the authenticator did not verify the user";
    return NULL;
}

/* The subject's entry nid of x as text ("" when absent). */
static void subject_entry(X509 *x, int nid, char *out, size_t cap)
{
    out[0] = 0;
    X509_NAME *name = X509_get_subject_name(x);
    if (name)
        X509_NAME_get_text_by_NID(name, nid, out, (int)cap);
}

/* The §8.2.1 requirements of a packed attestation certificate. */
static const char *packed_cert_rules(X509 *x, const uint8_t aaguid[16])
{
    char c[64], o[256], ou[64], cn[256];
    if (X509_get_version(x) != 2)
        return "attestation certificate is not version 3";
    subject_entry(x, NID_countryName, c, sizeof c);
    subject_entry(x, NID_organizationName, o, sizeof o);
    subject_entry(x, NID_organizationalUnitName, ou, sizeof ou);
    subject_entry(x, NID_commonName, cn, sizeof cn);
    if (strlen(c) != 2 || !o[0] || !cn[0] || strcmp(ou, "Authenticator Attestation") != 0)
        return "attestation certificate subject does not meet the packed requirements";
    if (X509_get_extension_flags(x) & EXFLAG_CA)
        return "attestation certificate must not be a CA";
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
    int idx = oid ? X509_get_ext_by_OBJ(x, oid, -1) : -1;
    ASN1_OBJECT_free(oid);
    if (idx >= 0) {
        X509_EXTENSION *ext = X509_get_ext(x, idx);
        if (X509_EXTENSION_get_critical(ext))
            return "attestation certificate AAGUID extension must not be critical";
        ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
        const unsigned char *q = ASN1_STRING_get0_data(v);
        ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &q, ASN1_STRING_length(v));
        bool same = inner && ASN1_STRING_length(inner) == 16 &&
                    q == ASN1_STRING_get0_data(v) + ASN1_STRING_length(v) &&
                    memcmp(ASN1_STRING_get0_data(inner), aaguid, 16) == 0;
        ASN1_OCTET_STRING_free(inner);
        if (!same)
            return "attestation certificate AAGUID does not match the authenticator data";
    }
    return NULL;
}

/* packed with x5c: chain, validity, requirements, then the signature by x5c[0]. */
static const char *packed_x5c(const wa_attestation_t *att, const wa_authdata_t *ad,
                              const uint8_t *msg, size_t msg_len)
{
    X509 *certs[WA_MAX_X5C] = {0};
    const char *err = NULL;
    for (size_t i = 0; i < att->x5c_n && !err; i++) {
        const unsigned char *q = att->x5c[i];
        certs[i] = d2i_X509(NULL, &q, (long)att->x5c_len[i]);
        if (!certs[i] || q != att->x5c[i] + att->x5c_len[i])
            err = "x5c holds a certificate that does not parse";
        else if (X509_cmp_current_time(X509_get0_notBefore(certs[i])) >= 0 ||
                 X509_cmp_current_time(X509_get0_notAfter(certs[i])) <= 0)
            err = "x5c holds a certificate outside its validity period";
    }
    for (size_t i = 0; !err && i + 1 < att->x5c_n; i++) {
        EVP_PKEY *issuer = X509_get0_pubkey(certs[i + 1]);
        if (!issuer || X509_verify(certs[i], issuer) != 1)
            err = "x5c certificate chain does not verify";
    }
    if (!err)
        err = packed_cert_rules(certs[0], ad->aaguid);
    if (!err) {
        EVP_PKEY *k = X509_get0_pubkey(certs[0]);
        if (!k || wa_signature_verify(k, (int)att->alg, msg, msg_len, att->sig, att->sig_len))
            err = "attestation signature does not verify with the x5c certificate";
    }
    for (size_t i = 0; i < att->x5c_n; i++)
        X509_free(certs[i]);
    return err;
}

/* The attestation statement of fmt none or packed. */
static const char *statement_rules(const wa_attestation_t *att, const wa_authdata_t *ad,
                                   EVP_PKEY *cred_key, int cred_alg, const uint8_t cdh[32],
                                   bool *attested)
{
    *attested = false;
    if (strcmp(att->fmt, "none") == 0)
        return att->att_stmt_members == 0 ? NULL : "attestation none must have an empty attStmt";
    if (strcmp(att->fmt, "packed") != 0)
        return "attestation format is not supported (none or packed)";
    if (!att->has_alg || !att->sig)
        return "packed attestation needs alg and sig";
    if (att->x5c_n == 0 && att->att_stmt_members != 2)
        return "packed self attestation has unexpected members";
    if (att->x5c_n > 0 && att->att_stmt_members != 3)
        return "packed attestation has unexpected members";
    size_t msg_len = att->auth_data_len + 32;
    uint8_t *msg = malloc(msg_len);
    if (!msg)
        return "out of memory";
    memcpy(msg, att->auth_data, att->auth_data_len);
    memcpy(msg + att->auth_data_len, cdh, 32);
    const char *err = NULL;
    if (att->x5c_n > 0) {
        err = packed_x5c(att, ad, msg, msg_len);
        *attested = !err;
    } else if (att->alg != cred_alg)
        err = "packed self attestation alg is not the credential's";
    else if (wa_signature_verify(cred_key, cred_alg, msg, msg_len, att->sig, att->sig_len))
        err = "packed self attestation signature does not verify";
    free(msg);
    return err;
}

int wa_registration_verify(const wa_rp_t *rp, const uint8_t *challenge, size_t challenge_len,
                           const uint8_t *cdj, size_t cdj_len, const uint8_t *att_obj,
                           size_t att_obj_len, wa_credential_t *out, const char **why)
{
    uint8_t cdh[32];
    memset(out, 0, sizeof *out);
    if (wa_client_data_check(rp, "webauthn.create", challenge, challenge_len, cdj, cdj_len, cdh,
                             why) != 0)
        return ERR_INVALID;
    wa_attestation_t att;
    if (wa_attestation_parse(att_obj, att_obj_len, &att, why) != 0)
        return ERR_INVALID;
    wa_authdata_t ad;
    EVP_PKEY *key = NULL;
    int alg = 0;
    bool attested = false;
    const char *err = NULL;
    if (wa_authdata_parse(att.auth_data, att.auth_data_len, &ad, &err) == 0) {
        err = authdata_rules(rp, &ad);
        if (!err && !ad.attested)
            err = "authenticator data has no attested credential";
        if (!err && wa_cose_key_parse(ad.cose_key, ad.cose_key_len, &alg, &key, &err) == 0)
            err = statement_rules(&att, &ad, key, alg, cdh, &attested);
    }
    if (!err) {
        memcpy(out->cred_id, ad.cred_id, ad.cred_id_len);
        out->cred_id_len = ad.cred_id_len;
        out->alg = alg;
        out->cose_key = malloc(ad.cose_key_len);
        if (!out->cose_key)
            err = "out of memory";
        else {
            memcpy(out->cose_key, ad.cose_key, ad.cose_key_len);
            out->cose_key_len = ad.cose_key_len;
        }
        out->sign_count = ad.sign_count;
        memcpy(out->aaguid, ad.aaguid, 16);
        out->flags = ad.flags;
        snprintf(out->fmt, sizeof out->fmt, "%s", att.fmt);
        out->attested = attested;
    }
    EVP_PKEY_free(key);
    wa_attestation_dispose(&att);
    if (err) {
        wa_credential_dispose(out);
        FAIL(err);
    }
    return 0;
}

/* ==== assertion ============================================================================= */

int wa_assertion_verify(const wa_rp_t *rp, const uint8_t *challenge, size_t challenge_len,
                        const uint8_t *cdj, size_t cdj_len, const uint8_t *auth_data,
                        size_t auth_data_len, const uint8_t *sig, size_t sig_len,
                        const uint8_t *cose_key, size_t cose_key_len, int alg,
                        uint32_t stored_count, wa_assertion_t *out, const char **why)
{
    uint8_t cdh[32];
    memset(out, 0, sizeof *out);
    if (wa_client_data_check(rp, "webauthn.get", challenge, challenge_len, cdj, cdj_len, cdh,
                             why) != 0)
        return ERR_INVALID;
    wa_authdata_t ad;
    if (wa_authdata_parse(auth_data, auth_data_len, &ad, why) != 0)
        return ERR_INVALID;
    const char *err = authdata_rules(rp, &ad);
    if (err)
        FAIL(err);
    if (ad.attested)
        FAIL("an assertion must not carry attested credential data");
    EVP_PKEY *key = NULL;
    int key_alg = 0;
    if (wa_cose_key_parse(cose_key, cose_key_len, &key_alg, &key, why) != 0)
        return ERR_INVALID;
    if (key_alg != alg) {
        EVP_PKEY_free(key);
        FAIL("the stored key does not match its algorithm");
    }
    size_t msg_len = auth_data_len + 32;
    uint8_t *msg = malloc(msg_len);
    int rc = ERR_INVALID;
    if (msg) {
        memcpy(msg, auth_data, auth_data_len);
        memcpy(msg + auth_data_len, cdh, 32);
        rc = wa_signature_verify(key, alg, msg, msg_len, sig, sig_len);
        free(msg);
    }
    EVP_PKEY_free(key);
    if (rc != 0)
        FAIL("assertion signature does not verify");
    if ((ad.sign_count != 0 || stored_count != 0) && ad.sign_count <= stored_count) {
        *why = "signature counter did not increase: possibly a cloned authenticator";
        return WA_E_COUNTER;
    }
    out->sign_count = ad.sign_count;
    out->flags = ad.flags;
    return 0;
}

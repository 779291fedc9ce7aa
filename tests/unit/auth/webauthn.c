/*
 * Unit tests for src/auth/webauthn.c: every vector of tests/vectors/webauthn/webauthn.vec
 * (made by gen_vectors.py with Python's cryptography: registrations with attestation none,
 * packed self and packed x5c over ES256, EdDSA and RS256 keys, assertions, and the negative
 * cases of each rule), then the parsers' bounds on hand-made inputs.
 */
#include "test.h"

#include <stdlib.h>

#include "auth/webauthn.h"
#include "common/err.h"

const char *test_data_path(const char *rel, char *out, size_t cap);

#define MAXK 16

struct wvec {
    char *keys[MAXK], *vals[MAXK];
    int n;
};

static const char *wget(const struct wvec *v, const char *k)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], k) == 0)
            return v->vals[i];
    return NULL;
}

/* Hex value of k into a new buffer. OUT: *len. */
static uint8_t *whex(const struct wvec *v, const char *k, size_t *len)
{
    const char *h = wget(v, k);
    size_t n = h ? strlen(h) / 2 : 0;
    uint8_t *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        sscanf(h + 2 * i, "%2x", &x);
        b[i] = (uint8_t)x;
    }
    *len = n;
    return b;
}

static int run_vector(const struct wvec *v)
{
    const char *name = wget(v, "name"), *kind = wget(v, "kind"), *expect = wget(v, "expect");
    const char *origin = wget(v, "origin");
    wa_rp_t rp = {.rp_id = wget(v, "rp_id"),
                  .origins = &origin,
                  .n_origins = 1,
                  .require_uv = wget(v, "uv") && strcmp(wget(v, "uv"), "1") == 0};
    const char *why = NULL;
    int ok = 1;
    size_t chl = 0, cdjl = 0;
    uint8_t *ch = whex(v, "challenge", &chl), *cdj = whex(v, "cdj", &cdjl);
    if (strcmp(kind, "cose") == 0) {
        size_t cl;
        uint8_t *c = whex(v, "cose", &cl);
        int alg;
        int rc = wa_cose_key_parse(c, cl, &alg, NULL, &why);
        if (rc != ERR_INVALID || !why)
            test__fail(__FILE__, __LINE__, "%s: rc %d, expected invalid", name, rc), ok = 0;
        free(c);
    } else if (strcmp(kind, "reg") == 0) {
        size_t al;
        uint8_t *att = whex(v, "att", &al);
        wa_credential_t cred;
        int rc = wa_registration_verify(&rp, ch, chl, cdj, cdjl, att, al, &cred, &why);
        if (strcmp(expect, "ok") == 0) {
            if (rc != 0) {
                test__fail(__FILE__, __LINE__, "%s: refused: %s", name, why);
                ok = 0;
            } else {
                size_t idl;
                uint8_t *id = whex(v, "cred_id", &idl);
                if (cred.alg != atoi(wget(v, "alg")) ||
                    cred.sign_count != (uint32_t)atoi(wget(v, "count")) ||
                    cred.cred_id_len != idl || memcmp(cred.cred_id, id, idl) != 0) {
                    test__fail(__FILE__, __LINE__, "%s: wrong credential", name);
                    ok = 0;
                }
                /* the stored key verifies as a key of its algorithm */
                int alg = 0;
                if (wa_cose_key_parse(cred.cose_key, cred.cose_key_len, &alg, NULL, &why) != 0 ||
                    alg != cred.alg) {
                    test__fail(__FILE__, __LINE__, "%s: stored key", name);
                    ok = 0;
                }
                free(id);
                wa_credential_dispose(&cred);
            }
        } else if (rc != ERR_INVALID || !why) {
            test__fail(__FILE__, __LINE__, "%s: rc %d, expected invalid", name, rc);
            ok = 0;
        }
        free(att);
    } else {
        size_t adl, sl, cl;
        uint8_t *ad = whex(v, "authdata", &adl), *sig = whex(v, "sig", &sl);
        uint8_t *cose = whex(v, "cose", &cl);
        wa_assertion_t out;
        int rc = wa_assertion_verify(&rp, ch, chl, cdj, cdjl, ad, adl, sig, sl, cose, cl,
                                     atoi(wget(v, "alg")), (uint32_t)atoi(wget(v, "stored")), &out,
                                     &why);
        int want = strcmp(expect, "ok") == 0        ? 0
                   : strcmp(expect, "counter") == 0 ? WA_E_COUNTER
                                                    : ERR_INVALID;
        if (rc != want) {
            test__fail(__FILE__, __LINE__, "%s: rc %d, expected %d (%s)", name, rc, want,
                       why ? why : "");
            ok = 0;
        } else if (want == 0 && out.sign_count != (uint32_t)atoi(wget(v, "count"))) {
            test__fail(__FILE__, __LINE__, "%s: counter %u", name, out.sign_count);
            ok = 0;
        }
        free(ad);
        free(sig);
        free(cose);
    }
    free(ch);
    free(cdj);
    return ok;
}

TEST(webauthn_vectors)
{
    char path[4096];
    FILE *f = fopen(test_data_path("vectors/webauthn/webauthn.vec", path, sizeof path), "r");
    ASSERT_TRUE(f != NULL);
    static char line[1 << 16];
    struct wvec v = {0};
    int count = 0, kinds[3] = {0};
    for (;;) {
        char *l = fgets(line, sizeof line, f);
        if (l && l[0] == '#')
            continue;
        if (!l || l[0] == '\n') {
            if (v.n) {
                const char *k = wget(&v, "kind");
                kinds[strcmp(k, "reg") == 0 ? 0 : strcmp(k, "get") == 0 ? 1 : 2]++;
                run_vector(&v);
                count++;
                for (int i = 0; i < v.n; i++) {
                    free(v.keys[i]);
                    free(v.vals[i]);
                }
                v.n = 0;
            }
            if (!l)
                break;
            continue;
        }
        l[strcspn(l, "\n")] = 0;
        char *sp = strchr(l, ' ');
        if (!sp || v.n == MAXK)
            continue;
        *sp = 0;
        v.keys[v.n] = strdup(l);
        v.vals[v.n++] = strdup(sp + 1);
    }
    fclose(f);
    CHECK_TRUE(count >= 40);
    CHECK_TRUE(kinds[0] >= 10 && kinds[1] >= 10 && kinds[2] >= 5);
}

TEST(webauthn_authdata_bounds)
{
    uint8_t ad[128] = {0};
    wa_authdata_t out;
    const char *why = NULL;
    CHECK_EQ_INT(wa_authdata_parse(ad, 36, &out, &why), ERR_INVALID);
    CHECK_EQ_INT(wa_authdata_parse(ad, 37, &out, &why), 0);
    CHECK_EQ_INT(wa_authdata_parse(ad, 38, &out, &why), ERR_INVALID); /* trailing byte */
    ad[32] = WA_FLAG_AT | WA_FLAG_UP;
    CHECK_EQ_INT(wa_authdata_parse(ad, 37 + 17, &out, &why), ERR_INVALID); /* truncated */
    /* credential id length 0, then a length past the end */
    CHECK_EQ_INT(wa_authdata_parse(ad, 37 + 18, &out, &why), ERR_INVALID);
    ad[37 + 16] = 0xff;
    ad[37 + 17] = 0xff;
    CHECK_EQ_INT(wa_authdata_parse(ad, 100, &out, &why), ERR_INVALID);
    /* id of 1 byte, then a key that is not a map, then a map with an extra byte */
    ad[37 + 16] = 0;
    ad[37 + 17] = 1;
    ad[56] = 0x01; /* CBOR 1 */
    CHECK_EQ_INT(wa_authdata_parse(ad, 57, &out, &why), ERR_INVALID);
    ad[56] = 0xa0; /* {} */
    CHECK_EQ_INT(wa_authdata_parse(ad, 57, &out, &why), 0);
    CHECK_EQ_INT(out.cred_id_len, 1);
    CHECK_EQ_INT(out.cose_key_len, 1);
    CHECK_EQ_INT(wa_authdata_parse(ad, 58, &out, &why), ERR_INVALID);
    /* ED without extensions, and extensions that are not a map */
    ad[32] = WA_FLAG_ED;
    CHECK_EQ_INT(wa_authdata_parse(ad, 37, &out, &why), ERR_INVALID);
    ad[37] = 0x80; /* [] */
    CHECK_EQ_INT(wa_authdata_parse(ad, 38, &out, &why), ERR_INVALID);
    ad[37] = 0xa0;
    CHECK_EQ_INT(wa_authdata_parse(ad, 38, &out, &why), 0);
}

TEST(webauthn_attestation_object_shape)
{
    wa_attestation_t a;
    const char *why = NULL;
    /* {"fmt":"none","attStmt":{},"authData":h''} */
    static const uint8_t good[] = {0xa3, 0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n',  'e',
                                   0x67, 'a',  't', 't', 'S', 't',  'm', 't', 0xa0, 0x68,
                                   'a',  'u',  't', 'h', 'D', 'a',  't', 'a', 0x40};
    CHECK_EQ_INT(wa_attestation_parse(good, sizeof good, &a, &why), 0);
    CHECK_STR_EQ(a.fmt, "none");
    CHECK_EQ_INT(a.auth_data_len, 0);
    wa_attestation_dispose(&a);
    uint8_t bad[sizeof good];
    memcpy(bad, good, sizeof bad);
    bad[0] = 0xa2; /* a map of 2 followed by garbage */
    CHECK_EQ_INT(wa_attestation_parse(bad, sizeof bad, &a, &why), ERR_INVALID);
    memcpy(bad, good, sizeof bad);
    bad[28] = 0x60; /* authData as text */
    CHECK_EQ_INT(wa_attestation_parse(bad, sizeof bad, &a, &why), ERR_INVALID);
    /* an indefinite-length byte string for authData */
    uint8_t indef[sizeof good + 2];
    memcpy(indef, good, sizeof good - 1);
    indef[sizeof good - 1] = 0x5f;
    indef[sizeof good] = 0x40;
    indef[sizeof good + 1] = 0xff;
    CHECK_EQ_INT(wa_attestation_parse(indef, sizeof indef, &a, &why), ERR_INVALID);
    CHECK_EQ_INT(wa_attestation_parse(good, 0, &a, &why), ERR_INVALID);
    CHECK_EQ_INT(wa_attestation_parse(good, sizeof good - 1, &a, &why), ERR_INVALID);
}

TEST(webauthn_client_data_challenge)
{
    static const char cdj[] = "{\"type\":\"webauthn.get\",\"challenge\":\"AAEC\",\"origin\":\"x\"}";
    uint8_t out[8];
    size_t n = 0;
    CHECK_EQ_INT(wa_client_data_challenge((const uint8_t *)cdj, strlen(cdj), out, sizeof out, &n),
                 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(out[2], 2);
    static const char dup[] = "{\"challenge\":\"AAEC\",\"challenge\":\"AAEC\"}";
    CHECK_EQ_INT(wa_client_data_challenge((const uint8_t *)dup, strlen(dup), out, sizeof out, &n),
                 ERR_INVALID);
    static const char pad[] = "{\"challenge\":\"AAE=\"}";
    CHECK_EQ_INT(wa_client_data_challenge((const uint8_t *)pad, strlen(pad), out, sizeof out, &n),
                 ERR_INVALID);
}

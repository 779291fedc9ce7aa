/*
 * jws.c - tests for compact JWS and JWT verification (src/jose/jws.c, jwt.c): a sign/verify
 * round trip for every algorithm through the ring, the signing header and buffer limits,
 * the algorithm a rejected token reports, and verification from many threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/b64url.h"
#include "jose/jose.h"
#include "josetest.h"
#include "test.h"

TEST(jose_sign_verify_every_alg)
{
    static const char *const names[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                                        "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        jose_key_t *k;
        char err[256], tok[4096];
        size_t tl;
        jwtv_options opt;
        static jwtv_claims c;
        jose_keyring_t *ring = jose_keyring_new();
        ASSERT_EQ_INT(jose_key_generate(josetest_alg(names[i]), 2048, &k, err, sizeof err), 0);
        ASSERT_EQ_INT(jose_keyring_add(ring, k, JOSE_ROLE_ACTIVE, err, sizeof err), 0);
        ASSERT_EQ_INT(jose_jws_sign(k, STR_NULL, STR_LIT(JOSETEST_CLAIMS), tok, sizeof tok, &tl),
                      0);
        jwtv_options_init(&opt);
        opt.token_type = "access";
        ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c), 0);
        ASSERT_STR_EQ(c.alg, names[i]);
        ASSERT_STR_EQ(c.kid, jose_key_kid(k));
        ASSERT_STR_EQ(c.user_id, "7");
        ASSERT_STR_EQ(c.role, "admin");
        ASSERT_TRUE(c.premium && c.has_premium);
        ASSERT_EQ_INT(c.exp, 4102444800);
        /* the header is exactly {"alg","typ":"JWT","kid"} */
        buf_t h, p;
        buf_init(&h, 4096);
        buf_init(&p, 4096);
        ASSERT_EQ_INT(jose_jws_decode_unverified(str_make(tok, tl), &h, &p), 0);
        char want[256];
        snprintf(want, sizeof want, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", names[i],
                 jose_key_kid(k));
        ASSERT_STR_EQ(h.data, want);
        ASSERT_STR_EQ(p.data, JOSETEST_CLAIMS);
        buf_dispose(&h);
        buf_dispose(&p);
        /* a token of the wrong type */
        opt.token_type = "refresh";
        ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c),
                      JWTV_ETOKEN_TYPE);
        ASSERT_TRUE(c.user_id == NULL);
        jose_keyring_release(ring);
    }
    jose_thread_cleanup();
}

TEST(jose_sign_buffer_too_small)
{
    jose_key_t *k;
    char err[128], tok[64];
    size_t tl;
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("HS256"), 0, &k, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_jws_sign(k, STR_NULL, STR_LIT(JOSETEST_CLAIMS), tok, sizeof tok, &tl),
                  JWTV_ETOOLARGE);
    jose_key_free(k);
    jose_thread_cleanup();
}

TEST(jose_sign_header_extra)
{
    jose_key_t *k;
    char err[128], tok[2048];
    size_t tl;
    buf_t h, p;
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("ES256"), 0, &k, err, sizeof err), 0);
    ASSERT_EQ_INT(
        jose_jws_sign(k, STR_LIT("\"cty\":\"x\""), STR_LIT(JOSETEST_CLAIMS), tok, sizeof tok, &tl),
        0);
    buf_init(&h, 4096);
    buf_init(&p, 4096);
    ASSERT_EQ_INT(jose_jws_decode_unverified(str_make(tok, tl), &h, &p), 0);
    ASSERT_TRUE(strstr(h.data, "\"cty\":\"x\"}") != NULL);
    buf_dispose(&h);
    buf_dispose(&p);
    jose_key_free(k);
    jose_thread_cleanup();
}

/* Writes BASE64URL(header) "." BASE64URL(payload) "." sig (sig as given) into out. */
static str_t forge(const char *header, const char *payload, const char *sig, char *out, size_t cap)
{
    size_t o = b64url_encode(header, strlen(header), out, cap);
    out[o++] = '.';
    o += b64url_encode(payload, strlen(payload), out + o, cap - o);
    o += (size_t)snprintf(out + o, cap - o, ".%s", sig);
    return str_make(out, o);
}

TEST(jose_rejected_token_reports_alg)
{
    jose_keyring_t *ring = jose_keyring_new();
    jose_key_t *hs, *es;
    char err[256], tok[4096], forged[4096], hdr[256];
    size_t tl;
    jwtv_options opt;
    static jwtv_claims c;
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("HS256"), 0, &hs, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_key_generate(josetest_alg("ES256"), 0, &es, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, hs, JOSE_ROLE_ACTIVE, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_add(ring, es, JOSE_ROLE_NEXT, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_jws_sign(hs, STR_NULL, STR_LIT(JOSETEST_CLAIMS), tok, sizeof tok, &tl), 0);
    jwtv_options_init(&opt);

    /* a tampered signature: the view is cleared but for alg */
    char saved = tok[tl - 10];
    tok[tl - 10] = saved == 'A' ? 'B' : 'A';
    ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c), JWTV_ESIGNATURE);
    ASSERT_STR_EQ(c.alg, "HS256");
    ASSERT_TRUE(jose_claims_alg(&c) == josetest_alg("HS256"));
    ASSERT_TRUE(!c.payload && !c.user_id && !c.kid && !c.jti && !c.has_exp);
    tok[tl - 10] = saved;

    /* an authentic token that breaks a claim or an option */
    ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 4102444800, &c), JWTV_EEXPIRED);
    ASSERT_STR_EQ(c.alg, "HS256");
    ASSERT_TRUE(!c.payload && !c.user_id && !c.kid);
    opt.algorithms = JWTV_ALG_ES256;
    ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000000, &c), JWTV_EALG);
    ASSERT_STR_EQ(c.alg, "HS256");
    jwtv_options_init(&opt);

    static const struct {
        const char *header, *sig, *alg; /* alg: the name reported, NULL for none */
        int rc;
    } cases[] = {
        {"{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"nope\"}", "AAAA", "ES256", JWTV_ENOKEY},
        {"{\"alg\":\"ES256\",\"kid\":\"\"}", "AAAA", "ES256", JWTV_ENOKEY},
        {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "", NULL, JWTV_EALG},
        {"{\"alg\":\"NONE\"}", "AAAA", NULL, JWTV_EALG},
        {"{\"alg\":\"HS999\"}", "AAAA", NULL, JWTV_EUNSUPPORTED_ALG},
        {"{\"alg\":\"a-very-long-algorithm-name\"}", "AAAA", NULL, JWTV_EUNSUPPORTED_ALG},
        {"{\"alg\":256}", "AAAA", NULL, JWTV_EHEADER},
        {"{\"typ\":\"JWT\"}", "AAAA", NULL, JWTV_EHEADER},
        {"[\"HS256\"]", "AAAA", NULL, JWTV_EHEADER},
        {"{\"alg\":\"HS256\"", "AAAA", NULL, JWTV_EMALFORMED}, /* not JSON */
        /* a header rule broken before or after alg: alg is still read */
        {"{\"crit\":[\"exp\"],\"alg\":\"ES384\"}", "AAAA", "ES384", JWTV_ECRIT},
        {"{\"jku\":\"https://x\",\"alg\":\"RS256\",\"crit\":[]}", "AAAA", "RS256", JWTV_EHEADER},
        {"{\"alg\":\"EdDSA\",\"kid\":7}", "AAAA", "EdDSA", JWTV_EHEADER},
        /* the signature segment is not base64url */
        {"{\"alg\":\"PS512\"}", "x", "PS512", JWTV_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        str_t t = forge(cases[i].header, JOSETEST_CLAIMS, cases[i].sig, forged, sizeof forged);
        int rc = jose_jwt_verify(ring, &opt, t, 1700000000, &c);
        if (!CHECK_EQ_INT(rc, cases[i].rc) ||
            !(cases[i].alg ? CHECK_STR_EQ(c.alg, cases[i].alg) : CHECK_TRUE(c.alg == NULL)))
            fprintf(stderr, "    header %s\n", cases[i].header);
        CHECK_TRUE(!c.payload && !c.kid && !c.user_id);
    }

    /* a header that is not base64url, and a token too large to be read at all */
    ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, STR_LIT("!!!.e30.AAAA"), 1700000000, &c),
                  JWTV_EMALFORMED);
    ASSERT_TRUE(c.alg == NULL && jose_claims_alg(&c) == NULL);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", jose_key_kid(hs));
    static char big[JWTV_MAX_TOKEN_BYTES + 64];
    str_t t = forge(hdr, JOSETEST_CLAIMS, "", big, sizeof big);
    memset(big + t.len, 'A', sizeof big - t.len - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ_INT(jose_jwt_verify(ring, &opt, str_cstr(big), 1700000000, &c), JWTV_ETOOLARGE);
    ASSERT_TRUE(c.alg == NULL);
    jose_keyring_release(ring);
    jose_thread_cleanup();
}

struct thread_arg {
    const jose_keyring_t *ring;
    const char *tok;
    int failures;
};

static void *verify_thread(void *p)
{
    struct thread_arg *a = p;
    jwtv_options opt;
    jwtv_claims *c = malloc(sizeof *c);
    jwtv_options_init(&opt);
    for (int i = 0; i < 300; i++)
        if (jose_jwt_verify(a->ring, &opt, str_cstr(a->tok), 1700000000, c) != 0)
            a->failures++;
    free(c);
    jose_thread_cleanup();
    return NULL;
}

TEST(jose_thread_verify_concurrent)
{
    static const char *const names[] = {"HS256", "ES256", "EdDSA", "RS256"};
    jose_keyring_t *ring = jose_keyring_new();
    char toks[4][4096], err[256];
    for (int i = 0; i < 4; i++) {
        jose_key_t *k;
        size_t tl;
        ASSERT_EQ_INT(jose_key_generate(josetest_alg(names[i]), 0, &k, err, sizeof err), 0);
        ASSERT_EQ_INT(
            jose_keyring_add(ring, k, i == 0 ? JOSE_ROLE_ACTIVE : JOSE_ROLE_NEXT, err, sizeof err),
            0);
        ASSERT_EQ_INT(
            jose_jws_sign(k, STR_NULL, STR_LIT(JOSETEST_CLAIMS), toks[i], sizeof toks[i], &tl), 0);
    }
    pthread_t th[8];
    struct thread_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct thread_arg){ring, toks[i % 4], 0};
        pthread_create(&th[i], NULL, verify_thread, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(args[i].failures, 0);
    }
    jose_keyring_release(ring);
    jose_thread_cleanup();
}

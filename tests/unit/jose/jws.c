/*
 * jws.c - tests for compact JWS and JWT verification (src/jose/jws.c, jwt.c): a sign/verify
 * round trip for every algorithm through the ring, the signing header and buffer limits,
 * the algorithm a rejected token reports, and verification from many threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

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

/*
 * jwtv.c - tests for the public jwtv API (src/lib/jwtv.c): option validation, JWKS
 * loading errors, verify/verify_ex overrides, the alg a rejected token still names, the
 * accessors for other claims, error names and messages, and the replaceable allocator.
 */
#include "jwtv/jwtv.h"

#include <stdlib.h>

#include "jose/jose.h"
#include "test.h"

static const char *jwks_path(char *out, size_t cap)
{
    return test_data_path("vectors/jwtv/jwks.json", out, cap);
}

static char *read_token(void)
{
    static char tok[JWTV_MAX_TOKEN_BYTES];
    char path[1024];
    FILE *f = fopen(test_data_path("vectors/jwtv/token.txt", path, sizeof path), "r");
    if (!f || !fgets(tok, sizeof tok, f)) {
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    tok[strcspn(tok, "\n")] = '\0';
    return tok;
}

TEST(jwtv_options_and_errors)
{
    jwtv_options o;
    jwtv_verifier *v = (jwtv_verifier *)1;
    char path[1024];
    jwtv_options_init(&o);
    ASSERT_EQ_INT(o.algorithms, JWTV_ALG_ALL);
    ASSERT_EQ_INT(o.required, JWTV_REQUIRE_EXP);
    ASSERT_EQ_INT(jwtv_verifier_new_jwks(NULL, 0, &o, &v), JWTV_EINVAL);
    ASSERT_TRUE(v == NULL);
    o.leeway_s = -1;
    ASSERT_EQ_INT(jwtv_verifier_new_jwks_file(jwks_path(path, sizeof path), &o, &v), JWTV_EINVAL);
    o.leeway_s = 0;
    o.algorithms = 0;
    ASSERT_EQ_INT(jwtv_verifier_new_jwks_file(jwks_path(path, sizeof path), &o, &v), JWTV_EINVAL);
    o.algorithms = JWTV_ALG_ALL;
    ASSERT_EQ_INT(jwtv_verifier_new_jwks_file("/nonexistent/jwks.json", &o, &v), JWTV_EIO);
    ASSERT_EQ_INT(jwtv_verifier_new_jwks("{", 1, &o, &v), JWTV_EJWKS);
    ASSERT_EQ_INT(jwtv_verifier_new_jwks("{\"keys\":[]}", 11, &o, &v), JWTV_EJWKS);
    ASSERT_EQ_INT(jwtv_verifier_new_jwks("{\"keys\":[{\"kty\":\"EC\"}]}", 23, &o, &v),
                  JWTV_EJWKS); /* no curve: skipped as unsupported, nothing usable */
    ASSERT_EQ_INT(jwtv_alg_from_name("ES256"), JWTV_ALG_ES256);
    ASSERT_EQ_INT(jwtv_alg_from_name("none"), 0);
    ASSERT_EQ_INT(jwtv_alg_from_name("es256"), 0);
    /* every code has a distinct name and a message */
    for (int e = JWTV_ECRYPTO; e <= 0; e++) {
        ASSERT_TRUE(strncmp(jwtv_errname(e), "JWTV_", 5) == 0);
        ASSERT_TRUE(strcmp(jwtv_strerror(e), "unknown error") != 0);
    }
    ASSERT_STR_EQ(jwtv_errname(JWTV_EEXPIRED), "JWTV_EEXPIRED");
    ASSERT_STR_EQ(jwtv_strerror(-999), "unknown error");
    ASSERT_STR_EQ(jwtv_errname(-999), "JWTV_UNKNOWN");
}

TEST(jwtv_verify_and_accessors)
{
    jwtv_options o;
    jwtv_verifier *v;
    jwtv_claims *c = malloc(sizeof *c);
    char path[1024], buf[64];
    int64_t n;
    const char *tok = read_token();
    ASSERT_TRUE(tok != NULL && c != NULL);
    jwtv_options_init(&o);
    o.token_type = "access";
    ASSERT_EQ_INT(jwtv_verifier_new_jwks_file(jwks_path(path, sizeof path), &o, &v), 0);
    ASSERT_EQ_INT(jwtv_verifier_key_count(v), 1);
    ASSERT_EQ_INT(jwtv_verify(v, tok, strlen(tok), c), 0);
    ASSERT_STR_EQ(c->sid, "abc");
    ASSERT_STR_EQ(c->kid, "es");
    ASSERT_EQ_INT(jwtv_claims_get_string(c, "username", buf, sizeof buf), 0);
    ASSERT_STR_EQ(buf, "bob");
    ASSERT_EQ_INT(jwtv_claims_get_string(c, "username", buf, 3), JWTV_ETOOLARGE);
    ASSERT_EQ_INT(jwtv_claims_get_string(c, "exp", buf, sizeof buf), JWTV_ECLAIM);
    ASSERT_EQ_INT(jwtv_claims_get_string(c, "missing", buf, sizeof buf), JWTV_ECLAIM);
    ASSERT_EQ_INT(jwtv_claims_get_int(c, "iat", &n), 0);
    ASSERT_EQ_INT(n, 1700000000);
    ASSERT_EQ_INT(jwtv_claims_get_int(c, "role", &n), JWTV_ECLAIM);
    /* per-call overrides: "" accepts any type; now replaces the clock */
    ASSERT_EQ_INT(jwtv_verify_ex(v, tok, strlen(tok), "refresh", 0, c), JWTV_ETOKEN_TYPE);
    ASSERT_EQ_INT(jwtv_verify_ex(v, tok, strlen(tok), "", 0, c), 0);
    ASSERT_EQ_INT(jwtv_verify_ex(v, tok, strlen(tok), NULL, 1600000000, c), JWTV_EIAT);
    ASSERT_EQ_INT(jwtv_verify_ex(v, tok, strlen(tok), NULL, 4102444800, c), JWTV_EEXPIRED);
    /* a rejected token keeps its alg (and only that) when the header was readable */
    ASSERT_STR_EQ(c->alg, "ES256");
    ASSERT_TRUE(c->kid == NULL && c->sid == NULL && c->payload == NULL);
    ASSERT_EQ_INT(jwtv_verify(v, "e30.e30.AAAA", 12, c), JWTV_EHEADER);
    ASSERT_TRUE(c->alg == NULL);
    ASSERT_EQ_INT(jwtv_verify(NULL, tok, strlen(tok), c), JWTV_EINVAL);
    ASSERT_TRUE(c->alg == NULL);
    ASSERT_EQ_INT(jwtv_verify(v, tok, strlen(tok), NULL), JWTV_EINVAL);
    /* a verifier restricted to HMAC refuses the ES256 token */
    jwtv_verifier *h;
    o.algorithms = JWTV_ALG_HS256;
    ASSERT_EQ_INT(jwtv_verifier_new_jwks_file(jwks_path(path, sizeof path), &o, &h), 0);
    ASSERT_EQ_INT(jwtv_verify(h, tok, strlen(tok), c), JWTV_EALG);
    ASSERT_STR_EQ(c->alg, "ES256");
    jwtv_verifier_free(h);
    jwtv_verifier_free(v);
    jwtv_verifier_free(NULL);
    free(c);
    jwtv_thread_cleanup();
}

static size_t counted_allocs;

static void *count_malloc(size_t n)
{
    counted_allocs++;
    return malloc(n);
}

TEST(jwtv_replaceable_allocator)
{
    jwtv_options o;
    jwtv_verifier *v;
    char path[1024];
    jwtv_options_init(&o);
    counted_allocs = 0;
    jwtv_set_allocator(count_malloc, realloc, free);
    int rc = jwtv_verifier_new_jwks_file(jwks_path(path, sizeof path), &o, &v);
    jwtv_verifier_free(v);
    jwtv_set_allocator(NULL, NULL, NULL);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_TRUE(counted_allocs >= 3); /* file buffer, verifier, ring, key */
}

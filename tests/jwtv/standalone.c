/*
 * standalone.c - proves that libjwtv works on its own: this program includes only
 * <jwtv/jwtv.h> and links only libjwtv.a + OpenSSL + jansson (`make jwtv-check`).
 *
 * Usage: jwtv_standalone VECTORS_DIR
 * Loads VECTORS_DIR/jwtv/jwks.json, verifies VECTORS_DIR/jwtv/token.txt (an ES256 access
 * token valid until 2100) and checks its claims, then checks that a tampered copy (which
 * still names its alg), a refresh-type requirement and a wrong issuer are all rejected.
 * Exits 0 only if all hold.
 */
#include <jwtv/jwtv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "jwtv_standalone: FAIL %s\n", what);                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    char path[4096], token[JWTV_MAX_TOKEN_BYTES + 2];
    jwtv_options opt;
    jwtv_verifier *v = NULL, *v_iss = NULL;
    jwtv_claims *c = malloc(sizeof *c);
    FILE *f;
    int rc;
    if (argc != 2 || !c) {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/jwtv/token.txt", argv[1]);
    if (!(f = fopen(path, "r")) || !fgets(token, sizeof token, f)) {
        fprintf(stderr, "jwtv_standalone: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    token[strcspn(token, "\r\n")] = '\0';

    jwtv_options_init(&opt);
    opt.algorithms = JWTV_ALG_ASYMMETRIC;
    opt.token_type = "access";
    opt.required = JWTV_REQUIRE_EXP | JWTV_REQUIRE_JTI | JWTV_REQUIRE_USER_ID;
    snprintf(path, sizeof path, "%s/jwtv/jwks.json", argv[1]);
    rc = jwtv_verifier_new_jwks_file(path, &opt, &v);
    if (rc != JWTV_OK) {
        fprintf(stderr, "jwtv_standalone: %s: %s\n", path, jwtv_strerror(rc));
        return 1;
    }
    CHECK(jwtv_verifier_key_count(v) == 1, "one key loaded");

    rc = jwtv_verify(v, token, strlen(token), c);
    CHECK(rc == JWTV_OK, "the token verifies");
    if (rc == JWTV_OK) {
        CHECK(c->user_id && strcmp(c->user_id, "7") == 0, "user_id");
        CHECK(c->role && strcmp(c->role, "admin") == 0, "role");
        CHECK(c->premium && c->has_premium, "premium");
        CHECK(c->alg && strcmp(c->alg, "ES256") == 0, "alg");
        CHECK(c->has_exp && c->exp == 4102444800, "exp");
        char name[64];
        CHECK(jwtv_claims_get_string(c, "sid", name, sizeof name) == JWTV_OK &&
                  strcmp(name, "abc") == 0,
              "jwtv_claims_get_string");
    } else {
        fprintf(stderr, "jwtv_standalone: %s\n", jwtv_strerror(rc));
    }

    /* tampered: flip one character in the middle of the payload */
    char *dot = strchr(token, '.'), saved = dot[5];
    dot[5] = saved == 'A' ? 'B' : 'A';
    rc = jwtv_verify(v, token, strlen(token), c);
    CHECK(rc == JWTV_ESIGNATURE || rc == JWTV_EMALFORMED, "a tampered token is rejected");
    CHECK(c->user_id == NULL, "no claims after a failure");
    CHECK(c->alg && strcmp(c->alg, "ES256") == 0, "a rejected token still names its alg");
    dot[5] = saved;

    CHECK(jwtv_verify_ex(v, token, strlen(token), "refresh", 0, c) == JWTV_ETOKEN_TYPE,
          "wrong token_type is rejected");
    CHECK(jwtv_verify_ex(v, token, strlen(token), NULL, 4102444800, c) == JWTV_EEXPIRED,
          "expired at exp");

    opt.issuer = "https://not-this-issuer.example";
    CHECK(jwtv_verifier_new_jwks_file(path, &opt, &v_iss) == JWTV_OK, "second verifier");
    CHECK(jwtv_verify(v_iss, token, strlen(token), c) == JWTV_EISSUER, "issuer is checked");

    CHECK(jwtv_verify(v, "a.b", 3, c) == JWTV_EMALFORMED, "garbage is rejected");
    CHECK(c->alg == NULL, "garbage names no alg");
    CHECK(strcmp(jwtv_errname(JWTV_ESIGNATURE), "JWTV_ESIGNATURE") == 0, "errname");

    jwtv_verifier_free(v);
    jwtv_verifier_free(v_iss);
    jwtv_thread_cleanup();
    free(c);
    if (failures) {
        fprintf(stderr, "jwtv_standalone: %d check(s) failed\n", failures);
        return 1;
    }
    printf("jwtv_standalone: OK (jwtv %s)\n", jwtv_version());
    return 0;
}

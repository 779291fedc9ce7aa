/*
 * micro_jose.c - single-thread microbenchmark of jose sign and verify per algorithm.
 *
 * For each algorithm: a fresh key, a token with the claims jwtd puts in an access token,
 * then timed loops of jose_jws_sign() and jose_jwt_verify() (full path: split, header
 * JSON, key lookup, signature, payload decode, claims parse and checks). Prints one line per
 * (alg, op): "alg op ns_per_op ops_per_s". Built and run by bench/micro-jose, which puts the
 * numbers next to `openssl speed` for the same primitives.
 *
 * Time is user CPU time (getrusage), as `openssl speed` measures by default, so that the two
 * are comparable on a shared machine (neither counts time spent descheduled or in the kernel).
 *
 * Usage: micro_jose [SECONDS_PER_CASE] [ALG...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "jose/jose.h"

static double now_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static const char *claims =
    "{\"token_type\":\"access\",\"exp\":4102444800,\"iat\":1700000000,"
    "\"jti\":\"3f2a9c0d4b5e6f708192a3b4c5d6e7f8\",\"user_id\":\"12345\",\"sub\":\"12345\","
    "\"sid\":\"9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d\",\"username\":\"alice\","
    "\"email\":\"alice@example.com\",\"role\":\"user\",\"premium\":false}";

static int bench_alg(const char *name, double seconds)
{
    const jose_alg_t *alg = jose_alg_by_name(str_cstr(name));
    jose_key_t *key = NULL;
    jose_keyring_t *ring = jose_keyring_new();
    char err[256], tok[4096];
    size_t tl = 0;
    jwtv_options opt;
    static jwtv_claims c;
    if (!alg || jose_key_generate(alg, 2048, &key, err, sizeof err) != 0) {
        fprintf(stderr, "%s: cannot generate key: %s\n", name, err);
        return 1;
    }
    if (jose_keyring_add(ring, key, JOSE_ROLE_ACTIVE, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", name, err);
        return 1;
    }
    jwtv_options_init(&opt);
    opt.token_type = "access";
    opt.required = JWTV_REQUIRE_EXP | JWTV_REQUIRE_IAT | JWTV_REQUIRE_JTI |
                   JWTV_REQUIRE_TOKEN_TYPE | JWTV_REQUIRE_USER_ID;

    /* sign (MICRO_JOSE_OPS=verify skips the timed sign loop, for profiling) */
    long n = 0, batch = 16;
    const char *ops = getenv("MICRO_JOSE_OPS");
    double sign_s = ops && strcmp(ops, "verify") == 0 ? 0 : seconds;
    double t0 = now_s(), t1;
    do {
        for (long i = 0; i < batch; i++)
            if (jose_jws_sign(key, STR_NULL, str_cstr(claims), tok, sizeof tok, &tl) != 0) {
                fprintf(stderr, "%s: sign failed\n", name);
                return 1;
            }
        n += batch;
        t1 = now_s();
    } while (t1 - t0 < sign_s);
    printf("%s sign %.0f %.0f\n", name, (t1 - t0) / (double)n * 1e9, (double)n / (t1 - t0));

    /* verify (full: parse + signature + claims) */
    n = 0;
    t0 = now_s();
    do {
        for (long i = 0; i < batch; i++)
            if (jose_jwt_verify(ring, &opt, str_make(tok, tl), 1700000100, &c) != 0) {
                fprintf(stderr, "%s: verify failed\n", name);
                return 1;
            }
        n += batch;
        t1 = now_s();
    } while (t1 - t0 < seconds);
    printf("%s verify %.0f %.0f\n", name, (t1 - t0) / (double)n * 1e9, (double)n / (t1 - t0));
    fflush(stdout);
    jose_keyring_release(ring);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *all[] = {"HS256", "HS384", "HS512", "RS256", "PS256",
                                "ES256", "ES384", "EdDSA", NULL};
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int rc = 0;
    if (argc > 2) {
        for (int i = 2; i < argc; i++)
            rc |= bench_alg(argv[i], seconds);
    } else {
        for (int i = 0; all[i]; i++)
            rc |= bench_alg(all[i], seconds);
    }
    jose_thread_cleanup();
    return rc;
}

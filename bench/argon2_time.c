/*
 * argon2_time.c - how long one argon2id password hash takes on one core, in process.
 *
 * The login throughput target of issue 4 is "cores / one argon2id time": this measures that
 * time the way the server pays it (libargon2's argon2id_hash_encoded, the same call and
 * parameters as src/auth/password.c with the JWTD_ARGON2_* defaults), without the process
 * start-up and page-fault cost that the argon2 CLI adds. Prints the min, median and max of
 * N hashes in milliseconds as one line: "argon2id m=KIB t=T p=P n=N min MS median MS max MS".
 * Built and run by bench/run-tokens.
 *
 * Usage: argon2_time [N] [MEMORY_KIB] [ITERATIONS] [PARALLELISM]
 */
#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    unsigned m = argc > 2 ? (unsigned)atoi(argv[2]) : 19456;
    unsigned t = argc > 3 ? (unsigned)atoi(argv[3]) : 2;
    unsigned p = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
    if (n < 1 || n > 10000) {
        fprintf(stderr,
                "usage: argon2_time [N 1..10000] [MEMORY_KIB] [ITERATIONS] [PARALLELISM]\n");
        return 2;
    }
    static const char pwd[] = "testpass123";
    static const unsigned char salt[16] = "jwtd-bench-salt";
    char encoded[256];
    double *runs = malloc(sizeof(double) * (size_t)n);
    if (!runs)
        return 1;
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        int rc = argon2id_hash_encoded(t, m, p, pwd, strlen(pwd), salt, sizeof salt, 32, encoded,
                                       sizeof encoded);
        runs[i] = now_ms() - t0;
        if (rc != ARGON2_OK) {
            fprintf(stderr, "argon2id: %s\n", argon2_error_message(rc));
            free(runs);
            return 1;
        }
    }
    qsort(runs, (size_t)n, sizeof(double), cmp_double);
    printf("argon2id m=%u t=%u p=%u n=%d min %.2f median %.2f max %.2f\n", m, t, p, n, runs[0],
           runs[n / 2], runs[n - 1]);
    free(runs);
    return 0;
}

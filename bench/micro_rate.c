/*
 * micro_rate.c - what the rate limiter adds to a request, without the network.
 *
 * Runs the ratelimit link's per-request work for an anonymous request (the verify route's
 * case; auth_guard_check in src/auth/guard.c): the two bucket keys written as it writes them
 * ("block:<ip>" and "anon:<ip>", two copies), the check record allocated and freed, and
 * store_rate_check() on the embedded store (the key's shard mutex, a hash lookup, GCRA), from
 * THREADS threads at once on the SAME client address (the worst case for the store's locks:
 * every worker wants the same bucket, as when wrk hammers from 127.0.0.1) or on ADDRESSES
 * addresses in turn. Prints the CPU time per
 * check (user + system, getrusage RUSAGE_SELF, all threads) so that it can be set against
 * the CPU time of a whole request (BENCH.md's µs column). Built and run by bench/micro-rate.
 *
 * Usage: micro_rate [SECONDS] [THREADS] [ADDRESSES]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "store/store.h"

static store_t *st;
static atomic_bool stop;
static unsigned addresses = 1;
static char (*clients)[48];

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void on_rate(void *arg, const store_rate_result_t *r)
{
    if (!r->allowed)
        atomic_fetch_add((atomic_ulong *)arg, 1);
}

struct worker {
    pthread_t t;
    unsigned long checks;
    atomic_ulong denied;
};

static void *run(void *arg)
{
    struct worker *w = arg;
    unsigned long n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int i = 0; i < 1000; i++, n++) {
            const char *client = clients[n % addresses]; /* the request has it as text */
            size_t cl = strlen(client);
            char(*keys)[256] = calloc(3, sizeof *keys); /* the check record */
            memcpy(keys[0], "block:", 6);
            memcpy(keys[0] + 6, client, cl + 1);
            memcpy(keys[1], "anon:", 5);
            memcpy(keys[1] + 5, client, cl + 1);
            /* GCRA counts in whole microseconds, so one bucket sustains at most 1M checks/s;
             * an hour's period gives it an hour of burst: never denied in a run. */
            store_rate_t r[2] = {{keys[0], 0, 0, STORE_RATE_BLOCK},
                                 {keys[1], 1000000000u, 3600, STORE_RATE_CONSUME}};
            store_rate_check(st, r, 2, on_rate, &w->denied);
            free(keys);
        }
    }
    w->checks = n;
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (argc > 3)
        addresses = (unsigned)atoi(argv[3]);
    if (threads < 1 || threads > 16 || seconds <= 0 || addresses < 1) {
        fprintf(stderr, "usage: micro_rate [SECONDS] [THREADS 1-16] [ADDRESSES]\n");
        return 2;
    }
    clients = calloc(addresses, sizeof *clients);
    for (unsigned i = 0; i < addresses; i++)
        snprintf(clients[i], sizeof clients[i], "127.0.%u.%u", i / 250, i % 250 + 1);
    if (store_mem_open(NULL, &st) != 0)
        return 1;
    struct worker w[16] = {0};
    double c0 = cpu_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&w[i].t, NULL, run, &w[i]);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, true);
    unsigned long total = 0, denied = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].t, NULL);
        total += w[i].checks;
        denied += atomic_load(&w[i].denied);
    }
    double cpu = cpu_s() - c0;
    printf("threads %d addresses %u checks %lu denied %lu cpu_ns_per_check %.0f\n", threads,
           addresses, total, denied, cpu * 1e9 / (double)total);
    store_close(st);
    free(clients);
    return denied ? 1 : 0;
}

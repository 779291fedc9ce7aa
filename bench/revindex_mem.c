/*
 * revindex_mem.c - memory of the revocation index per revoked id (docs/capacity.md).
 *
 * Adds N random jtis (then N random sids) to a store_revindex_t, the index every instance
 * keeps in memory (src/store/revindex.h), and prints the process's VmRSS before and after
 * each batch: the resident memory one instance pays for N revocations, table growth and
 * allocator overhead included. Entries expire an hour from now, so nothing is pruned.
 * Prints one JSON object (read by bench/run-costs).
 *
 * Usage: revindex_mem [N]    (default 1000000)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/revindex.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* splitmix64: distinct, unpredictable-looking 128-bit ids without a syscall per id */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void next_id(uint64_t *s, store_id_t *id)
{
    uint64_t a = mix(s), b = mix(s);
    memcpy(id->b, &a, 8);
    memcpy(id->b + 8, &b, 8);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n <= 0) {
        fprintf(stderr, "usage: revindex_mem [N]\n");
        return 2;
    }
    int64_t exp = (int64_t)time(NULL) + 3600;
    uint64_t seed = (uint64_t)time(NULL);
    store_id_t id;
    store_revindex_t *ix = store_revindex_new();
    long rss0 = rss_kib();
    for (long i = 0; i < n; i++) {
        next_id(&seed, &id);
        store_revindex_add_jti(ix, &id, exp);
    }
    long rss1 = rss_kib();
    for (long i = 0; i < n; i++) {
        next_id(&seed, &id);
        store_revindex_add_sid(ix, &id, exp);
    }
    long rss2 = rss_kib();
    store_revindex_stats_t st;
    store_revindex_stats(ix, &st);
    printf("{\"n\": %ld, \"jtis\": %zu, \"sids\": %zu, \"rss_start_kib\": %ld, "
           "\"rss_after_jtis_kib\": %ld, \"rss_after_sids_kib\": %ld}\n",
           n, st.jtis, st.sids, rss0, rss1, rss2);
    store_revindex_free(ix);
    return st.jtis == (size_t)n && st.sids == (size_t)n ? 0 : 1;
}

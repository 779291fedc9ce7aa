/*
 * redis_redirect.c - libFuzzer target for the Redis Cluster redirect parser and key slot
 * (src/store/cluster.c).
 *
 * Properties: no crash or read past the input; an accepted redirect has a slot below 16384,
 * a port in 1..65535 and a NUL-terminated host that appears in the input; the slot of any
 * key is below 16384 and a key "{t}x" has the slot of "t" when t is a non-empty tag.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (size)
        memcpy(s, data, size);
    struct redirect r;
    enum redirect_kind k = store__redirect_parse(s, size, &r);
    if (k != r.kind)
        abort();
    if (k != REDIRECT_NONE) {
        size_t hl = strlen(r.host);
        if (r.slot >= CLUSTER_SLOTS || r.port <= 0 || r.port > 65535 || hl >= sizeof r.host)
            abort();
        if (hl && !memmem(s, size, r.host, hl))
            abort();
    }
    if (store__key_slot(s, size) >= CLUSTER_SLOTS)
        abort();
    if (size > 0 && !memchr(s, '}', size) && !memchr(s, '{', size)) {
        char *tagged = malloc(size + 3);
        tagged[0] = '{';
        memcpy(tagged + 1, s, size);
        tagged[size + 1] = '}';
        tagged[size + 2] = 'x';
        if (store__key_slot(tagged, size + 3) != store__key_slot(s, size))
            abort();
        free(tagged);
    }
    free(s);
    return 0;
}

/*
 * vcache.c - the per-thread cache of verified access tokens (see auth_internal.h), which
 * lets a repeated token (every request of a client, every nginx subrequest) cost a hash and
 * a compare instead of base64 + signature + JSON.
 *
 * DESIGN
 * Direct-mapped, VC_SLOTS entries per thread, allocated on the thread's first access-token
 * verification and freed when the thread exits. The slot is picked from the token's last 16
 * bytes and its length: the end of a JWS is its signature (or MAC), as good as random, so
 * this spreads tokens as well as hashing every byte at a fraction of the cost. A crafted
 * collision only costs a verification: a hit always compares the whole token.
 *
 * An entry is used only by the service that verified it (its epoch: a service freed and
 * another allocated at the same address never shares entries), with the same number of keys
 * in the ring, while now is in [verified_at, exp) (no leeway: past exp the full
 * verification decides). Tokens over VC_TOKEN_MAX bytes are not cached. Memory: about 2 KiB
 * per slot per thread that verifies access tokens (touched as slots fill).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "runtime/alloc.h"

#define VC_SLOTS     256
#define VC_TOKEN_MAX 1024

struct vc_entry {
    uint64_t hash;
    size_t len;   /* 0: empty */
    uint64_t gen; /* the snapshot (auth_live_t) that verified it */
    int64_t verified_at;
    int alg;
    auth_token_ref_t ref;
    char token[VC_TOKEN_MAX];
};

struct vc_table {
    struct vc_entry slots[VC_SLOTS];
};

static pthread_key_t vc_key;
static pthread_once_t vc_once = PTHREAD_ONCE_INIT;

static void vc_key_init(void)
{
    if (pthread_key_create(&vc_key, free) != 0)
        abort();
}

static struct vc_table *vc_table(void)
{
    static _Thread_local struct vc_table *t;
    if (!t) {
        pthread_once(&vc_once, vc_key_init);
        t = xcalloc(1, sizeof *t);
        pthread_setspecific(vc_key, t); /* freed when the thread exits */
    }
    return t;
}

static uint64_t vc_hash(str_t s)
{
    uint64_t a = 0, b = 0;
    size_t n = s.len < 16 ? s.len : 16, k = n < 8 ? n : 8;
    memcpy(&a, s.ptr + s.len - n, k);
    memcpy(&b, s.ptr + s.len - n + k, n - k);
    uint64_t h = (a ^ (s.len * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 29) ^ b) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 32);
}

/* See auth_internal.h. */
const auth_token_ref_t *auth__vcache_get(uint64_t gen, str_t token, int64_t now, int *alg)
{
    if (token.len == 0 || token.len > VC_TOKEN_MAX)
        return NULL;
    uint64_t h = vc_hash(token);
    const struct vc_entry *e = &vc_table()->slots[h % VC_SLOTS];
    if (e->len != token.len || e->hash != h || e->gen != gen || now < e->verified_at ||
        now >= e->ref.exp || memcmp(e->token, token.ptr, token.len) != 0)
        return NULL;
    *alg = e->alg;
    return &e->ref;
}

/* See auth_internal.h. */
void auth__vcache_put(uint64_t gen, str_t token, int64_t now, const auth_token_ref_t *ref, int alg)
{
    if (token.len == 0 || token.len > VC_TOKEN_MAX || ref->exp <= now || ref->is_refresh)
        return;
    uint64_t h = vc_hash(token);
    struct vc_entry *e = &vc_table()->slots[h % VC_SLOTS];
    e->len = 0;
    e->hash = h;
    e->gen = gen;
    e->verified_at = now;
    e->alg = alg;
    e->ref = *ref;
    memcpy(e->token, token.ptr, token.len);
    e->len = token.len;
}

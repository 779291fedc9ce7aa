/*
 * password.c - argon2id hashing and multi-format verification (see password.h).
 *
 * This file knows the stored formats and the primitives (libargon2, OpenSSL PBKDF2,
 * libcrypt bcrypt); it knows nothing of users, HTTP or the database. Policy (what a new
 * password must look like) lives in policy.c.
 *
 * DESIGN (memory): argon2id at m=19 MiB touches every byte of its work area. Getting that
 * area from malloc each time means a fresh mmap of 19 MiB and ~4,900 page faults per hash,
 * then munmap. Instead, libargon2's allocate/free callbacks hand out a per-thread arena
 * kept between hashes (freed when the thread exits); requests larger than ARENA_MAX_BYTES
 * (an imported Django hash at m=100 MiB, say) get plain malloc/free so one odd hash does
 * not pin that much memory per thread. The cost is RSS: one arena per thread that hashes
 * (hashing threads x memory_kib). libargon2 wipes the area before "freeing" it either way.
 * BENCH.md ("Design measurements and rejected alternatives") has the measurement.
 */
#include "auth/password.h"

#include <crypt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "runtime/alloc.h"

#define LOG_MODULE "password"
#include "runtime/log.h"

#define SALT_BYTES      16
#define TAG_BYTES       32
#define ARENA_MAX_BYTES (64u << 20)

/* Verification limits for stored hashes (a planted hash must not stall a worker). */
#define VERIFY_MAX_M_KIB     (1u << 20)
#define VERIFY_MAX_T         64u
#define VERIFY_MAX_P         64u
#define VERIFY_MAX_PBKDF2    10000000u
#define VERIFY_MAX_BCRYPT    16
#define VERIFY_MAX_SALT      128
#define VERIFY_MAX_TAG       128
#define VERIFY_MAX_PW_BYTES  (1u << 16)
#define MAX_STORED_HASH_SIZE 512

/* ==== base64 (standard alphabet) ========================================================= */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes n bytes; with pad, '=' padded (Python's b64encode). Returns the length written. */
static size_t b64_encode(const uint8_t *in, size_t n, char *out, bool pad)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64_alphabet[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes unpadded base64 (PHC); returns the byte count or -1 if invalid or over cap. */
static long b64_decode_nopad(const char *in, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

/* ==== per-thread argon2 arena ============================================================ */

struct arena {
    uint8_t *mem;
    size_t size;
};

static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static bool arena_key_ok;         /* the key exists (set once) */
static bool arena_enabled = true; /* allocations use the arena (benchmarks turn it off) */

static void arena_destroy(void *p)
{
    struct arena *a = p;
    free(a->mem);
    free(a);
}

static void arena_key_init(void)
{
    arena_key_ok = pthread_key_create(&arena_key, arena_destroy) == 0;
}

/* The calling thread's arena, created on first use; NULL when arenas are off. */
static struct arena *arena_get(bool create)
{
    pthread_once(&arena_once, arena_key_init);
    if (!arena_key_ok)
        return NULL;
    struct arena *a = pthread_getspecific(arena_key);
    if (!a && create && arena_enabled) {
        a = xcalloc(1, sizeof *a);
        pthread_setspecific(arena_key, a);
    }
    return a;
}

static int on_argon2_allocate(uint8_t **memory, size_t bytes)
{
    struct arena *a = bytes <= ARENA_MAX_BYTES && arena_enabled ? arena_get(true) : NULL;
    if (!a) {
        *memory = malloc(bytes);
        return *memory ? ARGON2_OK : ARGON2_MEMORY_ALLOCATION_ERROR;
    }
    if (a->size < bytes) {
        free(a->mem);
        a->mem = malloc(bytes);
        a->size = a->mem ? bytes : 0;
        if (!a->mem)
            return ARGON2_MEMORY_ALLOCATION_ERROR;
    }
    *memory = a->mem;
    return ARGON2_OK;
}

static void on_argon2_free(uint8_t *memory, size_t bytes)
{
    (void)bytes;
    struct arena *a = arena_get(false);
    if (!a || memory != a->mem)
        free(memory);
}

/* See password.h. */
void auth__password_use_arena(bool on)
{
    pthread_once(&arena_once, arena_key_init);
    arena_enabled = on;
}

/* ==== argon2 ============================================================================== */

/* Work of every argon2 computation so far, in KiB of memory times passes (see password.h). */
static _Atomic uint64_t argon2_work;

/* See password.h. */
uint64_t auth__password_argon2_work(void)
{
    return atomic_load_explicit(&argon2_work, memory_order_relaxed);
}

static int argon2_raw(argon2_type type, uint32_t version, uint32_t m, uint32_t t, uint32_t p,
                      const uint8_t *salt, size_t salt_len, const char *pw, size_t pw_len,
                      uint8_t *out, size_t out_len)
{
    static const uint8_t empty[1];
    atomic_fetch_add_explicit(&argon2_work, (uint64_t)m * t, memory_order_relaxed);
    argon2_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.out = out;
    ctx.outlen = (uint32_t)out_len;
    ctx.pwd = (uint8_t *)(pw_len ? (const uint8_t *)pw : empty); /* read only: no CLEAR flag */
    ctx.pwdlen = (uint32_t)pw_len;
    ctx.salt = (uint8_t *)salt;
    ctx.saltlen = (uint32_t)salt_len;
    ctx.t_cost = t;
    ctx.m_cost = m;
    ctx.lanes = p;
    ctx.threads = 1; /* the blocking pool is our parallelism */
    ctx.version = version;
    ctx.allocate_cbk = on_argon2_allocate;
    ctx.free_cbk = on_argon2_free;
    ctx.flags = ARGON2_DEFAULT_FLAGS;
    return argon2_ctx(&ctx, type);
}

static bool params_ok(const auth_argon2_params_t *p)
{
    return p && p->parallelism >= 1 && p->parallelism <= 16 && p->iterations >= 1 &&
           p->iterations <= 64 && p->memory_kib >= 8 * p->parallelism && p->memory_kib <= 4194304;
}

static int hash_impl(const auth_argon2_params_t *params, const char *pw, size_t pw_len, char *out,
                     size_t cap)
{
    uint8_t salt[SALT_BYTES], tag[TAG_BYTES];
    char salt64[32], tag64[48];
    int rc = 0;
    if (!params_ok(params) || cap < AUTH_PASSWORD_HASH_MAX || pw_len > VERIFY_MAX_PW_BYTES)
        return ERR_INVALID;
    if (RAND_bytes(salt, sizeof salt) != 1)
        return ERR_INTERNAL;
    int arc = argon2_raw(Argon2_id, ARGON2_VERSION_13, params->memory_kib, params->iterations,
                         params->parallelism, salt, sizeof salt, pw, pw_len, tag, sizeof tag);
    if (arc != ARGON2_OK) {
        log_error("msg=\"argon2 failed\" err=\"%s\"", argon2_error_message(arc));
        rc = arc == ARGON2_MEMORY_ALLOCATION_ERROR ? ERR_NOMEM : ERR_INTERNAL;
        goto out;
    }
    b64_encode(salt, sizeof salt, salt64, false);
    b64_encode(tag, sizeof tag, tag64, false);
    int n = snprintf(out, cap, "$argon2id$v=19$m=%u,t=%u,p=%u$%s$%s", params->memory_kib,
                     params->iterations, params->parallelism, salt64, tag64);
    if (n < 0 || (size_t)n >= cap)
        rc = ERR_INTERNAL;
out:
    OPENSSL_cleanse(tag, sizeof tag);
    OPENSSL_cleanse(tag64, sizeof tag64);
    return rc;
}

struct phc {
    argon2_type type;
    uint32_t version, m, t, p;
    uint8_t salt[VERIFY_MAX_SALT];
    size_t salt_len;
    uint8_t tag[VERIFY_MAX_TAG];
    size_t tag_len;
};

/* Parses a decimal uint32 at *s, advancing it; fails on no digits, overflow, leading 0. */
static bool parse_u32(const char **s, uint32_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return false;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return false;
        p++;
    }
    *s = p;
    *out = (uint32_t)v;
    return true;
}

static bool skip(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) != 0)
        return false;
    *s += n;
    return true;
}

/* Parses a PHC argon2 string: $argon2{id,i,d}[$v=NN]$m=..,t=..,p=..$salt$tag. */
static bool phc_parse(const char *s, struct phc *h)
{
    memset(h, 0, sizeof *h);
    if (skip(&s, "$argon2id$"))
        h->type = Argon2_id;
    else if (skip(&s, "$argon2i$"))
        h->type = Argon2_i;
    else if (skip(&s, "$argon2d$"))
        h->type = Argon2_d;
    else
        return false;
    h->version = ARGON2_VERSION_10;
    if (skip(&s, "v=")) {
        if (!parse_u32(&s, &h->version) || !skip(&s, "$"))
            return false;
        if (h->version != ARGON2_VERSION_10 && h->version != ARGON2_VERSION_13)
            return false;
    }
    if (!skip(&s, "m=") || !parse_u32(&s, &h->m) || !skip(&s, ",t=") || !parse_u32(&s, &h->t) ||
        !skip(&s, ",p=") || !parse_u32(&s, &h->p) || !skip(&s, "$"))
        return false;
    const char *dollar = strchr(s, '$');
    if (!dollar)
        return false;
    long n = b64_decode_nopad(s, (size_t)(dollar - s), h->salt, sizeof h->salt);
    if (n < ARGON2_MIN_SALT_LENGTH)
        return false;
    h->salt_len = (size_t)n;
    s = dollar + 1;
    n = b64_decode_nopad(s, strlen(s), h->tag, sizeof h->tag);
    if (n < ARGON2_MIN_OUTLEN)
        return false;
    h->tag_len = (size_t)n;
    return true;
}

static bool verify_argon2(const char *phc_str, const char *pw, size_t pw_len)
{
    struct phc h;
    uint8_t out[VERIFY_MAX_TAG];
    bool ok = false;
    if (!phc_parse(phc_str, &h))
        return false;
    if (h.m > VERIFY_MAX_M_KIB || h.t > VERIFY_MAX_T || h.p > VERIFY_MAX_P || h.p == 0 ||
        h.t == 0 || h.m < 8 * h.p) {
        log_warn("msg=\"stored argon2 parameters beyond limits\" m=%u t=%u p=%u", h.m, h.t, h.p);
        return false;
    }
    int arc = argon2_raw(h.type, h.version, h.m, h.t, h.p, h.salt, h.salt_len, pw, pw_len, out,
                         h.tag_len);
    if (arc == ARGON2_OK)
        ok = CRYPTO_memcmp(out, h.tag, h.tag_len) == 0;
    else
        log_error("msg=\"argon2 verify failed\" err=\"%s\"", argon2_error_message(arc));
    OPENSSL_cleanse(out, sizeof out);
    return ok;
}

/* ==== PBKDF2 (Django) ===================================================================== */

/* "<iterations>$<salt>$<b64 hash>" after "pbkdf2_sha256$" / "pbkdf2_sha1$". */
static bool verify_pbkdf2(const char *rest, const EVP_MD *md, const char *pw, size_t pw_len)
{
    uint32_t iter;
    uint8_t dk[EVP_MAX_MD_SIZE];
    char enc[EVP_MAX_MD_SIZE * 2];
    bool ok = false;
    if (!parse_u32(&rest, &iter) || iter == 0 || iter > VERIFY_MAX_PBKDF2 || *rest++ != '$')
        return false;
    const char *salt = rest, *dollar = strchr(salt, '$');
    if (!dollar || dollar == salt)
        return false;
    const char *hash = dollar + 1;
    size_t dk_len = (size_t)EVP_MD_get_size(md);
    if (PKCS5_PBKDF2_HMAC(pw, (int)pw_len, (const unsigned char *)salt, (int)(dollar - salt),
                          (int)iter, md, (int)dk_len, dk) != 1)
        goto out;
    size_t n = b64_encode(dk, dk_len, enc, true);
    ok = strlen(hash) == n && CRYPTO_memcmp(enc, hash, n) == 0;
out:
    OPENSSL_cleanse(dk, sizeof dk);
    OPENSSL_cleanse(enc, sizeof enc);
    return ok;
}

/* ==== bcrypt (Django) ===================================================================== */

/* bcrypt setting "$2b$NN$<53 chars>": crypt_r over key (NUL-terminated) must reproduce it. */
static bool verify_bcrypt(const char *stored, const char *key)
{
    if (strlen(stored) != 60 ||
        (strncmp(stored, "$2b$", 4) != 0 && strncmp(stored, "$2a$", 4) != 0 &&
         strncmp(stored, "$2y$", 4) != 0))
        return false;
    if (stored[4] < '0' || stored[4] > '9' || stored[5] < '0' || stored[5] > '9' ||
        stored[6] != '$' || (stored[4] - '0') * 10 + (stored[5] - '0') > VERIFY_MAX_BCRYPT)
        return false;
    struct crypt_data *cd = xcalloc(1, sizeof *cd);
    bool ok = false;
    const char *r = crypt_r(key, stored, cd);
    if (r && r[0] != '*' && strlen(r) == 60)
        ok = CRYPTO_memcmp(r, stored, 60) == 0;
    free_secret(cd, sizeof *cd);
    return ok;
}

static bool verify_bcrypt_sha256(const char *stored, const char *pw, size_t pw_len)
{
    uint8_t digest[32];
    char hex[65];
    unsigned int dlen = 0;
    bool ok = false;
    if (EVP_Digest(pw, pw_len, digest, &dlen, EVP_sha256(), NULL) == 1 && dlen == 32) {
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        ok = verify_bcrypt(stored, hex);
    }
    OPENSSL_cleanse(digest, sizeof digest);
    OPENSSL_cleanse(hex, sizeof hex);
    return ok;
}

static bool verify_bcrypt_plain(const char *stored, const char *pw, size_t pw_len)
{
    if (memchr(pw, '\0', pw_len))
        return false; /* bcrypt cannot see past a NUL; refuse rather than truncate */
    char *key = xstrndup(pw, pw_len);
    bool ok = verify_bcrypt(stored, key);
    free_secret(key, pw_len + 1);
    return ok;
}

/* ==== dispatch ============================================================================ */

static bool verify_impl(const char *stored, const char *pw, size_t pw_len)
{
    if (!stored || !pw || pw_len > VERIFY_MAX_PW_BYTES ||
        strnlen(stored, MAX_STORED_HASH_SIZE) >= MAX_STORED_HASH_SIZE)
        return false;
    if (stored[0] == '$')
        return verify_argon2(stored, pw, pw_len);
    if (strncmp(stored, "argon2$", 7) == 0)
        return verify_argon2(stored + 6, pw, pw_len);
    if (strncmp(stored, "pbkdf2_sha256$", 14) == 0)
        return verify_pbkdf2(stored + 14, EVP_sha256(), pw, pw_len);
    if (strncmp(stored, "pbkdf2_sha1$", 12) == 0)
        return verify_pbkdf2(stored + 12, EVP_sha1(), pw, pw_len);
    if (strncmp(stored, "bcrypt_sha256$", 14) == 0)
        return verify_bcrypt_sha256(stored + 14, pw, pw_len);
    if (strncmp(stored, "bcrypt$", 7) == 0)
        return verify_bcrypt_plain(stored + 7, pw, pw_len);
    return false;
}

/* ==== hashing threads ===================================================================== */

/*
 * With auth_password_offload_start(n), every hash and verification runs on one of n
 * threads of their own under SCHED_IDLE, and the calling (pool) thread sleeps until it is
 * done. SCHED_IDLE threads run only on CPU time no normal thread wants, so an event loop
 * that wakes up preempts a hash at once (nice +10 on the pool threads still let hashes
 * delay verify requests by milliseconds), while logins alone still use every core. Only
 * the pure computation moves: the caller keeps everything that takes locks (database
 * writes, the store), so a starved idle-class thread never holds a lock a normal thread
 * waits for. Without offload (the CLI, unit tests) everything runs on the caller.
 */
struct hash_task {
    struct hash_task *next;
    void (*fn)(struct hash_task *);
    /* in */
    const auth_argon2_params_t *params;
    const char *stored, *pw;
    size_t pw_len, cap;
    char *out;
    /* out */
    int rc;
    bool ok;
    bool done;
    pthread_cond_t cv; /* signalled by the hashing thread when done (under hq_mu) */
};

static pthread_mutex_t hq_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hq_cv = PTHREAD_COND_INITIALIZER;
static struct hash_task *hq_head, **hq_tail = &hq_head;
static unsigned hq_threads; /* started (0 = run inline) */

static void *hasher_main(void *arg)
{
    (void)arg;
    struct sched_param sp = {.sched_priority = 0};
    int err = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    if (err != 0) { /* not expected on Linux (lowering is always allowed); nice 19 then */
        log_warn("msg=\"hashing thread cannot use SCHED_IDLE; using nice 19\" errno=%d", err);
        if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) != 0)
            log_debug("msg=\"cannot lower the hashing thread's priority\"");
    }
    pthread_mutex_lock(&hq_mu);
    for (;;) {
        while (!hq_head)
            pthread_cond_wait(&hq_cv, &hq_mu);
        struct hash_task *t = hq_head;
        hq_head = t->next;
        if (!hq_head)
            hq_tail = &hq_head;
        pthread_mutex_unlock(&hq_mu);
        t->fn(t);
        pthread_mutex_lock(&hq_mu);
        t->done = true;
        pthread_cond_signal(&t->cv);
    }
    return NULL;
}

/* See password.h. */
int auth_password_offload_start(unsigned n)
{
    pthread_mutex_lock(&hq_mu);
    int rc = 0;
    while (hq_threads < n) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&th, &attr, hasher_main, NULL);
        pthread_attr_destroy(&attr);
        if (err != 0) {
            rc = hq_threads ? 0 : ERR_INTERNAL; /* fewer threads still work */
            break;
        }
        hq_threads++;
    }
    pthread_mutex_unlock(&hq_mu);
    return rc;
}

/* Runs t->fn(t) on a hashing thread and waits for it, or inline without them. */
static void run_task(struct hash_task *t)
{
    pthread_mutex_lock(&hq_mu);
    if (hq_threads == 0) {
        pthread_mutex_unlock(&hq_mu);
        t->fn(t);
        return;
    }
    /* queued by a heap copy: the queue (a global) never points into this stack */
    struct hash_task *q = xmalloc(sizeof *q);
    *q = *t;
    pthread_cond_init(&q->cv, NULL);
    q->done = false;
    q->next = NULL;
    *hq_tail = q;
    hq_tail = &q->next;
    pthread_cond_signal(&hq_cv);
    while (!q->done)
        pthread_cond_wait(&q->cv, &hq_mu);
    pthread_mutex_unlock(&hq_mu);
    pthread_cond_destroy(&q->cv);
    t->rc = q->rc;
    t->ok = q->ok;
    free(q);
}

static void hash_fn(struct hash_task *t)
{
    t->rc = hash_impl(t->params, t->pw, t->pw_len, t->out, t->cap);
}

static void verify_fn(struct hash_task *t)
{
    t->ok = verify_impl(t->stored, t->pw, t->pw_len);
}

/* See password.h. */
int auth_password_hash(const auth_argon2_params_t *params, const char *pw, size_t pw_len, char *out,
                       size_t cap)
{
    struct hash_task t = {
        .fn = hash_fn, .params = params, .pw = pw, .pw_len = pw_len, .out = out, .cap = cap};
    run_task(&t);
    return t.rc;
}

/* See password.h. */
bool auth_password_verify(const char *stored, const char *pw, size_t pw_len)
{
    struct hash_task t = {.fn = verify_fn, .stored = stored, .pw = pw, .pw_len = pw_len};
    run_task(&t);
    return t.ok;
}

/* See password.h. */
bool auth_password_needs_rehash(const char *stored, const auth_argon2_params_t *params)
{
    struct phc h;
    if (!stored || strncmp(stored, "$argon2id$v=19$", 15) != 0 || !phc_parse(stored, &h))
        return true;
    return h.m < params->memory_kib || h.t < params->iterations || h.salt_len < SALT_BYTES ||
           h.tag_len < TAG_BYTES;
}

/* ==== dummy hash ========================================================================== */

/* Used until auth_password_dummy_init runs: argon2id at the defaults (argon2 CLI output). */
static char dummy_hash[AUTH_PASSWORD_HASH_MAX] =
    "$argon2id$v=19$m=19456,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$"
    "vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CFyTNI2wuYEw";

/*
 * See password.h. DESIGN: the dummy need not be the hash of anything. Verifying a password
 * against "$argon2id$...$<salt>$<tag>" computes argon2id(password, salt) at the stored
 * parameters and compares it with the tag, so a random salt and a random tag give exactly the
 * cost of a real verification, and no password matches (a 256-bit random tag). Writing the
 * string instead of hashing saves one argon2 computation at start (tens of ms), and the
 * hashing thread's 19 MiB work area with it: the main thread never hashes again, so that
 * memory would stay resident for nothing.
 */
int auth_password_dummy_init(const auth_argon2_params_t *params)
{
    uint8_t salt[SALT_BYTES], tag[TAG_BYTES];
    char salt64[32], tag64[48], hash[AUTH_PASSWORD_HASH_MAX];
    if (!params_ok(params))
        return ERR_INVALID;
    if (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(tag, sizeof tag) != 1)
        return ERR_INTERNAL;
    b64_encode(salt, sizeof salt, salt64, false);
    b64_encode(tag, sizeof tag, tag64, false);
    int n = snprintf(hash, sizeof hash, "$argon2id$v=19$m=%u,t=%u,p=%u$%s$%s", params->memory_kib,
                     params->iterations, params->parallelism, salt64, tag64);
    if (n < 0 || (size_t)n >= sizeof hash)
        return ERR_INTERNAL;
    memcpy(dummy_hash, hash, sizeof dummy_hash);
    return 0;
}

/* See password.h. */
void auth_password_verify_dummy(const char *pw, size_t pw_len)
{
    bool ok = auth_password_verify(dummy_hash, pw, pw_len);
    (void)ok;
}

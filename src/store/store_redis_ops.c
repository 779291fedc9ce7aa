/*
 * store_redis_ops.c - the cache and rate-limit operations of store.h: over this loop's
 * Redis connection (or the store thread's) when Redis is configured, with Lua scripts so
 * that each is one atomic round trip; on the in-process tables (store_local.c) otherwise,
 * and as the fallback while Redis is down (rate checks decide locally, logged once per
 * outage; cache reads miss, writes are dropped).
 */
#define LOG_MODULE "store"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"
#include "store/redis_internal.h"

/* ---- cache ---------------------------------------------------------------------------------- */

/* See redis_internal.h. */
size_t store__redis_key(const store_redis_t *rd, char *out, size_t cap, const char *kind,
                        const char *key)
{
    int n;
    if (!rd->cluster)
        n = snprintf(out, cap, "%s%s:%s", rd->prefix, kind, key);
    else if (strncmp(kind, "cache", 5) == 0) /* an entry and its group: one slot */
        n = snprintf(out, cap, "%s{cache}%s:%s", rd->prefix, kind + 5, key);
    else /* the buckets of one check: one slot */
        n = snprintf(out, cap, "%s{%s}:%s", rd->prefix, kind, key);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static size_t cache_key(const store_redis_t *rd, char *out, size_t cap, const char *kind,
                        const char *key)
{
    return store__redis_key(rd, out, cap, kind, key);
}

struct get_ctx {
    store_cache_cb cb;
    void *arg;
};

static void on_get_reply(rconn_t *rc, void *arg, redisReply *r)
{
    (void)rc;
    struct get_ctx c = *(struct get_ctx *)arg;
    free(arg);
    if (r && r->type == REDIS_REPLY_STRING)
        c.cb(c.arg, 0, str_make(r->str, r->len));
    else
        c.cb(c.arg, ERR_NOT_FOUND, STR_NULL);
}

/* See store.h. */
void store_cache_get(store_t *st, const char *key, store_cache_cb cb, void *arg)
{
    if (!st->rd) {
        size_t len = 0;
        char *v = store__local_cache_get(st->local, key, store__redis_now_us(), &len);
        if (v)
            cb(arg, 0, str_make(v, len));
        else
            cb(arg, ERR_NOT_FOUND, STR_NULL);
        free(v);
        return;
    }
    char k[512];
    size_t kl = cache_key(st->rd, k, sizeof k, "cache", key);
    const char *argv[] = {"GET", k};
    size_t len[] = {3, kl};
    struct get_ctx *c = xmalloc(sizeof *c);
    c->cb = cb;
    c->arg = arg;
    if (store__tls_rc && store__tls_rc->rd == st->rd &&
        store__rc_cmd(store__tls_rc, on_get_reply, c, 2, argv, len) == 0)
        return;
    free(c);
    cb(arg, ERR_NOT_FOUND, STR_NULL);
}

/* See store.h. */
int store_cache_get_sync(store_t *st, const char *key, char *out, size_t cap, size_t *len)
{
    if (!st->rd) {
        size_t n = 0;
        char *v = store__local_cache_get(st->local, key, store__redis_now_us(), &n);
        if (!v)
            return ERR_NOT_FOUND;
        memcpy(out, v, n < cap ? n : cap);
        *len = n;
        free(v);
        return 0;
    }
    if (!atomic_load(&st->rd->cmd_up))
        return ERR_NOT_FOUND;
    char k[512];
    size_t kl = cache_key(st->rd, k, sizeof k, "cache", key);
    const char *argv[] = {"GET", k};
    size_t alen[] = {3, kl};
    struct syncwait w;
    memset(&w, 0, sizeof w);
    pthread_cond_init(&w.cv, NULL);
    w.out = out;
    w.cap = cap;
    store__redis_enqueue(st->rd, 2, argv, alen, &w);
    pthread_mutex_lock(&st->rd->qmu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &st->rd->qmu); /* the command timeout bounds this */
    pthread_mutex_unlock(&st->rd->qmu);
    pthread_cond_destroy(&w.cv);
    *len = w.len;
    return w.status;
}

/* See store.h. */
void store_cache_set(store_t *st, const char *key, str_t value, uint32_t ttl_s, const char *group)
{
    if (ttl_s == 0)
        return;
    if (!st->rd) {
        store__local_cache_set(st->local, key, value, ttl_s, group, store__redis_now_us());
        return;
    }
    char k[512], g[512], ttl[16];
    size_t kl = cache_key(st->rd, k, sizeof k, "cache", key);
    size_t gl = group ? cache_key(st->rd, g, sizeof g, "cache-group", group) : 0;
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    const char *argv[] = {"EVALSHA", st->rd->sha[SCRIPT_SET], group ? "2" : "1",
                          k,         group ? g : "",          value.ptr ? value.ptr : "",
                          ttl};
    size_t len[] = {7, 40, 1, kl, gl, value.len, strlen(ttl)};
    const char *a2[] = {argv[0], argv[1], argv[2], argv[3], argv[5], argv[6]};
    size_t l2[] = {len[0], len[1], len[2], len[3], len[5], len[6]};
    int n = group ? 7 : 6;
    const char **av = group ? argv : a2;
    size_t *al = group ? len : l2;
    if (store__tls_rc || !atomic_load(&st->rd->cmd_up)) {
        store__redis_send_any(st->rd, n, av, al); /* an event loop never waits */
        return;
    }
    /* a pool thread: wait for Redis to have stored it (bounded by the command timeout), so
       that a write made after this request was answered, on any instance, drops the entry
       instead of being overtaken by it */
    struct syncwait w;
    memset(&w, 0, sizeof w);
    pthread_cond_init(&w.cv, NULL);
    store__redis_enqueue(st->rd, n, av, al, &w);
    pthread_mutex_lock(&st->rd->qmu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &st->rd->qmu);
    pthread_mutex_unlock(&st->rd->qmu);
    pthread_cond_destroy(&w.cv);
}

/* Sends a command through the store thread and waits for its reply (bounded by the command
   timeout); a string or integer reply is copied into out (cap bytes). Returns the status. */
static int cmd_wait(store_redis_t *rd, int argc, const char **argv, const size_t *len, char *out,
                    size_t cap, size_t *outlen)
{
    struct syncwait w;
    memset(&w, 0, sizeof w);
    pthread_cond_init(&w.cv, NULL);
    w.out = out;
    w.cap = cap;
    store__redis_enqueue(rd, argc, argv, len, &w);
    pthread_mutex_lock(&rd->qmu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &rd->qmu);
    pthread_mutex_unlock(&rd->qmu);
    pthread_cond_destroy(&w.cv);
    if (outlen)
        *outlen = w.len;
    return w.status;
}

/* The sequence of versioned fills (store.h). */
static size_t seq_key(const store_redis_t *rd, char *out, size_t cap)
{
    return cache_key(rd, out, cap, "cache-meta", "seq");
}

/* See store.h. */
store_fill_t store_cache_fill_begin(store_t *st)
{
    if (!st->rd)
        return store__local_cache_ticket(st->local);
    if (store__tls_rc || !atomic_load(&st->rd->cmd_up))
        return STORE_FILL_NONE; /* an event loop never waits; Redis down: fills are dropped */
    char s[512], out[24];
    size_t sl = seq_key(st->rd, s, sizeof s);
    const char *argv[] = {"EVALSHA", st->rd->sha[SCRIPT_TICKET], "1", s};
    size_t len[] = {7, 40, 1, sl}, n = 0;
    if (cmd_wait(st->rd, 4, argv, len, out, sizeof out - 1, &n) != 0 || n == 0 || n >= sizeof out)
        return STORE_FILL_NONE;
    out[n] = '\0';
    char *end;
    unsigned long long v = strtoull(out, &end, 10);
    return *end == '\0' && out[0] != '-' ? (store_fill_t)v : STORE_FILL_NONE;
}

/* See store.h. */
bool store_cache_set_if(store_t *st, const char *key, str_t value, uint32_t ttl_s,
                        const char *group, store_fill_t ticket)
{
    if (ttl_s == 0)
        return false;
    if (!st->rd)
        return store__local_cache_set_if(st->local, key, value, ttl_s, group, store__redis_now_us(),
                                         ticket);
    if (ticket == STORE_FILL_NONE)
        return false;
    char k[512], ks[512], s[512], g[512], gs[512], ttl[16], t[24];
    size_t kl = cache_key(st->rd, k, sizeof k, "cache", key);
    size_t ksl = cache_key(st->rd, ks, sizeof ks, "cache-stamp", key);
    size_t sl = seq_key(st->rd, s, sizeof s);
    size_t gl = group ? cache_key(st->rd, g, sizeof g, "cache-group", group) : 0;
    size_t gsl = group ? cache_key(st->rd, gs, sizeof gs, "cache-group-stamp", group) : 0;
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    snprintf(t, sizeof t, "%" PRIu64, ticket);
    const char *argv[] = {"EVALSHA",
                          st->rd->sha[SCRIPT_SET_IF],
                          group ? "5" : "3",
                          k,
                          ks,
                          s,
                          g,
                          gs,
                          value.ptr ? value.ptr : "",
                          ttl,
                          t};
    size_t len[] = {7, 40, 1, kl, ksl, sl, gl, gsl, value.len, strlen(ttl), strlen(t)};
    if (!group) { /* no KEYS[4], KEYS[5] */
        argv[6] = argv[8], argv[7] = argv[9], argv[8] = argv[10];
        len[6] = len[8], len[7] = len[9], len[8] = len[10];
    }
    int n = group ? 11 : 9;
    if (store__tls_rc || !atomic_load(&st->rd->cmd_up)) {
        store__redis_send_any(st->rd, n, argv, len); /* an event loop never waits */
        return atomic_load(&st->rd->cmd_up);
    }
    /* a pool thread: wait, as store_cache_set does */
    char out[4];
    size_t ol = 0;
    return cmd_wait(st->rd, n, argv, len, out, sizeof out, &ol) == 0 && ol == 1 && out[0] == '1';
}

/*
 * Runs script (SCRIPT_DEL or SCRIPT_DROP) on name's cache key of kind and its stamp key of
 * stamp_kind: the entry (or group) is deleted and the stamp left for STORE_CACHE_STAMP_TTL_S,
 * so that a fill begun before it is refused. From an event loop (or while Redis is down) the
 * command is sent without waiting; a pool thread (a write: a user change, a refresh) waits
 * for Redis to have done it (bounded by the command timeout), so that no instance serves the
 * entry once the writer has answered.
 */
static void cache_invalidate(store_t *st, int script, const char *kind, const char *stamp_kind,
                             const char *name)
{
    char k[512], ks[512], s[512], ttl[16];
    size_t kl = cache_key(st->rd, k, sizeof k, kind, name);
    size_t ksl = cache_key(st->rd, ks, sizeof ks, stamp_kind, name);
    size_t sl = seq_key(st->rd, s, sizeof s);
    snprintf(ttl, sizeof ttl, "%d", STORE_CACHE_STAMP_TTL_S);
    const char *argv[] = {"EVALSHA", st->rd->sha[script], "3", k, ks, s, ttl};
    size_t len[] = {7, 40, 1, kl, ksl, sl, strlen(ttl)};
    if (store__tls_rc || !atomic_load(&st->rd->cmd_up))
        store__redis_send_any(st->rd, 7, argv, len); /* an event loop never waits */
    else
        cmd_wait(st->rd, 7, argv, len, NULL, 0, NULL);
}

/* See store.h. */
void store_cache_del(store_t *st, const char *key)
{
    if (!st->rd)
        store__local_cache_del(st->local, key);
    else
        cache_invalidate(st, SCRIPT_DEL, "cache", "cache-stamp", key);
}

/* See store.h. */
void store_cache_drop_group(store_t *st, const char *group)
{
    if (!st->rd)
        store__local_cache_drop_group(st->local, group);
    else
        cache_invalidate(st, SCRIPT_DROP, "cache-group", "cache-group-stamp", group);
}

/* ---- rate limits ------------------------------------------------------------------------------
 */

#define RATE_MAX 4

struct rate_ctx {
    store_t *st;
    store_rate_cb cb;
    void *arg;
    size_t n;
    store_rate_t r[RATE_MAX];
    char keys[RATE_MAX][256];
};

static void rate_local(struct rate_ctx *c)
{
    store_rate_result_t res;
    store__local_rate_check(c->st->local, c->r, c->n, store__redis_now_us(), &res);
    c->cb(c->arg, &res);
}

static void fallback_note(store_redis_t *rd, bool falling_back)
{
    if (falling_back && atomic_load(&rd->cmd_up)) {
        /* Redis answers the store thread: only this loop's connection is not (yet) ready */
        log_debug("msg=\"rate limit decided locally: this loop's redis connection is not ready\"");
        return;
    }
    bool was = atomic_exchange(&rd->fallback, falling_back);
    if (falling_back && !was)
        log_warn("msg=\"redis unreachable: rate limits fall back to local counters of this "
                 "instance\"");
    else if (!falling_back && was)
        log_info("msg=\"redis reachable again: rate limits shared again\"");
}

static void on_rate_reply(rconn_t *rc, void *arg, redisReply *r)
{
    struct rate_ctx *c = arg;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_INTEGER) {
        fallback_note(rc->rd, false);
        store_rate_result_t res = {0};
        res.allowed = r->element[0]->integer == 1;
        long long retry = r->element[1]->type == REDIS_REPLY_INTEGER ? r->element[1]->integer : 1;
        res.retry_after_s = res.allowed ? 0 : (uint32_t)(retry < 1 ? 1 : retry);
        res.denied_by =
            r->element[2]->type == REDIS_REPLY_INTEGER ? (int)r->element[2]->integer : -1;
        res.local = false;
        c->cb(c->arg, &res);
    } else {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("msg=\"redis rate script failed\" err=\"%s\"", r->str);
        fallback_note(rc->rd, true);
        rate_local(c);
    }
    free(c);
}

static const char RATE_MODE[] = {'c', 'p', 'b', 'f', 'r'};

/* Builds the EVALSHA argv of the rate script for c into argv/len; returns argc. */
static int rate_argv(struct rate_ctx *c, const char **argv, size_t *len, char nums[][2][16],
                     char modes[][2], char *nkeys)
{
    store_redis_t *rd = c->st->rd;
    int a = 0;
    argv[a] = "EVALSHA";
    len[a++] = 7;
    argv[a] = rd->sha[SCRIPT_RATE];
    len[a++] = 40;
    snprintf(nkeys, 4, "%zu", c->n);
    argv[a] = nkeys;
    len[a++] = strlen(nkeys);
    for (size_t i = 0; i < c->n; i++) {
        argv[a] = c->keys[i];
        len[a++] = strlen(c->keys[i]);
    }
    for (size_t i = 0; i < c->n; i++) {
        snprintf(nums[i][0], 16, "%u", c->r[i].count);
        snprintf(nums[i][1], 16, "%u", c->r[i].period_s);
        unsigned m = (unsigned)c->r[i].mode;
        modes[i][0] = RATE_MODE[m < sizeof RATE_MODE ? m : 1];
        modes[i][1] = '\0';
        argv[a] = nums[i][0];
        len[a++] = strlen(nums[i][0]);
        argv[a] = nums[i][1];
        len[a++] = strlen(nums[i][1]);
        argv[a] = modes[i];
        len[a++] = 1;
    }
    return a;
}

static struct rate_ctx *rate_ctx_new(store_t *st, const store_rate_t *r, size_t n, store_rate_cb cb,
                                     void *arg)
{
    struct rate_ctx *c = xcalloc(1, sizeof *c);
    c->st = st;
    c->cb = cb;
    c->arg = arg;
    size_t m = n > RATE_MAX ? RATE_MAX : n;
    c->n = m;
    for (size_t i = 0; i < m; i++) {
        c->r[i] = r[i];
        if (st->rd)
            store__redis_key(st->rd, c->keys[i], sizeof c->keys[i], "rate_limit", r[i].key);
        else
            snprintf(c->keys[i], sizeof c->keys[i], "%s", r[i].key);
        c->r[i].key = c->keys[i];
    }
    return c;
}

/* See store.h. */
void store_rate_check(store_t *st, const store_rate_t *r, size_t n, store_rate_cb cb, void *arg)
{
    if (!st->rd) {
        store_rate_result_t res;
        store__local_rate_check(st->local, r, n > RATE_MAX ? RATE_MAX : n, store__redis_now_us(),
                                &res);
        res.local = true;
        cb(arg, &res);
        return;
    }
    struct rate_ctx *c = rate_ctx_new(st, r, n, cb, arg);
    const char *argv[3 + 4 * RATE_MAX];
    size_t len[3 + 4 * RATE_MAX];
    char nums[RATE_MAX][2][16], modes[RATE_MAX][2], nk[4];
    int argc = rate_argv(c, argv, len, nums, modes, nk);
    if (store__tls_rc && store__tls_rc->rd == st->rd &&
        store__rc_cmd(store__tls_rc, on_rate_reply, c, argc, argv, len) == 0)
        return;
    fallback_note(st->rd, true);
    rate_local(c);
    free(c);
}

/* One event counted (STORE__RATE_FORCE) or given back (STORE__RATE_REFUND), not waited for. */
static void rate_adjust(store_t *st, const char *key, uint32_t count, uint32_t period_s, int mode)
{
    if (count == 0)
        return;
    store_rate_t r = {key, count, period_s, (enum store_rate_mode)mode};
    if (!st->rd || !atomic_load(&st->rd->cmd_up)) {
        store_rate_result_t res;
        char k[300];
        if (st->rd) {
            store__redis_key(st->rd, k, sizeof k, "rate_limit", key);
            r.key = k;
        }
        store__local_rate_check(st->local, &r, 1, store__redis_now_us(), &res);
        return;
    }
    struct rate_ctx *c = rate_ctx_new(st, &r, 1, NULL, NULL);
    const char *argv[3 + 4];
    size_t len[3 + 4];
    char nums[1][2][16], modes[1][2], nk[4];
    int argc = rate_argv(c, argv, len, nums, modes, nk);
    store__redis_send_any(st->rd, argc, argv, len);
    free(c);
}

/* See store.h. */
void store_rate_consume(store_t *st, const char *key, uint32_t count, uint32_t period_s)
{
    rate_adjust(st, key, count, period_s, STORE__RATE_FORCE);
}

/* See store.h. */
void store_rate_refund(store_t *st, const char *key, uint32_t count, uint32_t period_s)
{
    rate_adjust(st, key, count, period_s, STORE__RATE_REFUND);
}

/* See store.h. */
void store_rate_block(store_t *st, const char *key, uint32_t seconds)
{
    if (seconds == 0)
        return;
    if (!st->rd || !atomic_load(&st->rd->cmd_up)) {
        char k[300];
        if (st->rd)
            store__redis_key(st->rd, k, sizeof k, "rate_limit", key);
        store__local_rate_block(st->local, st->rd ? k : key, seconds, store__redis_now_us());
        return;
    }
    char k[300], ms[24];
    size_t kl = store__redis_key(st->rd, k, sizeof k, "rate_limit", key);
    snprintf(ms, sizeof ms, "%" PRIu64, (uint64_t)seconds * 1000u);
    const char *argv[] = {"SET", k, "1", "PX", ms};
    size_t len[] = {3, kl, 1, 2, strlen(ms)};
    store__redis_send_any(st->rd, 5, argv, len);
}

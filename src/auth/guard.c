/*
 * guard.c - the abuse guards, on the shared store (store.h: GCRA buckets and a cache; in
 * Redis when configured, so every instance shares them; in-process otherwise, and as the
 * fallback while Redis is down):
 *   - login attempts (auth_guard_login; docs/security.md), OWASP's device-cookie scheme:
 *       - with a valid device token for the username (device.c, a "trusted device"): the
 *         attempt counts against that device's attempts (the login rate) and failures;
 *       - without one ("untrusted"): against the client address's attempts (the login
 *         rate), the account's failures from that address, and the account's failures
 *         from every untrusted client;
 *     failure budgets are reserved by the check (so attempts in flight count) and given back
 *     when the login succeeds (auth__guard_login_done), so a user who types the right
 *     password never spends them, and when the untrusted budgets of an account are spent
 *     only its untrusted clients are refused;
 *   - requests with a valid access token count against their user, any other request
 *     against the client address ("anonymous");
 *   - invalid tokens count against the client address: past the budget it is logged as
 *     suspicious (at most once a minute) and, when configured, blocked for a while;
 *   - one-time access tokens: a one-shot bucket per jti;
 *   - refresh families: the network each session last refreshed from, for a window.
 * A check needs at most one Redis round trip, asynchronous on the caller's loop.
 *
 * DESIGN: the suspicious-address log table (struct auth_guard_log) lives in the service:
 * one slot per hashed address, so a collision only drops a log line.
 * DESIGN: the failures of one account from one address are a budget of their own, smaller
 * than the account's (count and rate): one address alone can never spend the account's
 * budget, so while one address guesses, the owner still signs in from any other address
 * without a device token; only guessing from several addresses at once locks out the
 * account's untrusted clients, and then its devices still pass.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "common/clock.h"
#include "common/ip.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define LOG_SLOTS 1024
#define KEY_MAX   256

struct auth_guard_log {
    pthread_mutex_t mu;
    struct {
        uint64_t h;
        int64_t at;
    } slots[LOG_SLOTS];
    struct { /* tamper records: per address slot, the minute and how many in it */
        uint64_t h;
        int64_t minute;
        uint32_t written, suppressed;
    } tamper[LOG_SLOTS];
};

/* See auth_internal.h. */
struct auth_guard_log *auth__guard_log_new(void)
{
    struct auth_guard_log *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

/* See auth_internal.h. */
void auth__guard_log_free(struct auth_guard_log *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static bool limited(const auth_rate_t *r)
{
    return r->count > 0 && r->period_s > 0;
}

/* See auth.h. */
bool auth_guard_limited(const auth_t *a, enum auth_guard_kind kind)
{
    const auth_guard_options_t *g = &auth__live(a)->guard;
    if (g->invalid_block_s)
        return true; /* a blocked address is refused whatever it asks */
    if (kind == AUTH_GUARD_LOGIN)
        return limited(&g->login); /* the login rate switches every login budget */
    return limited(&g->anon) || limited(&g->user) || limited(&g->invalid_token);
}

/* ---- checks ---------------------------------------------------------------------------------- */

/* The head of every check in flight (its first member): the caller's callback. on_rate
   answers it and frees the whole check. */
struct check_reply {
    auth_guard_cb cb;
    void *arg;
};

/* One check in flight: the caller's callback and the keys the buckets point at. */
struct check {
    struct check_reply reply;
    char keys[3][KEY_MAX];
};

/* The store's answer to a check whose first member is a struct check_reply. */
static void on_rate(void *arg, const store_rate_result_t *r)
{
    struct check_reply *c = arg;
    auth_guard_result_t res = {r->allowed, r->retry_after_s, r->local};
    auth_guard_cb cb = c->cb;
    void *cb_arg = c->arg;
    free(c);
    cb(cb_arg, &res);
}

static void allow_now(auth_guard_cb cb, void *arg)
{
    auth_guard_result_t res = {true, 0, true};
    cb(arg, &res);
}

/* See auth.h. */
void auth_guard_check(auth_t *a, enum auth_guard_kind kind, const char *client,
                      const char *username, int64_t user_id, auth_guard_cb cb, void *arg)
{
    if (kind == AUTH_GUARD_LOGIN) {
        auth_guard_login(a, client, username, NULL, cb, arg);
        return;
    }
    const auth_guard_options_t *g = &auth__live(a)->guard;
    struct check *c = xcalloc(1, sizeof *c);
    store_rate_t r[3];
    size_t n = 0;
    c->reply.cb = cb;
    c->reply.arg = arg;
    if (g->invalid_block_s) {
        snprintf(c->keys[n], KEY_MAX, "block:%s", client);
        r[n] = (store_rate_t){c->keys[n], 0, 0, STORE_RATE_BLOCK};
        n++;
    }
    if (kind == AUTH_GUARD_USER && limited(&g->user)) {
        snprintf(c->keys[n], KEY_MAX, "user:%" PRId64, user_id);
        r[n] = (store_rate_t){c->keys[n], g->user.count, g->user.period_s, STORE_RATE_CONSUME};
        n++;
    } else if (kind == AUTH_GUARD_ANON && limited(&g->anon)) {
        snprintf(c->keys[n], KEY_MAX, "anon:%s", client);
        r[n] = (store_rate_t){c->keys[n], g->anon.count, g->anon.period_s, STORE_RATE_CONSUME};
        n++;
    }
    if (n == 0) {
        free(c);
        allow_now(cb, arg);
        return;
    }
    store_rate_check(a->store, r, n, on_rate, c);
}

/* ---- logins -------------------------------------------------------------------------------- */

/* The buckets of one login check: their keys and rates. */
struct login_buckets {
    size_t n;
    store_rate_t r[4];
    char keys[4][KEY_MAX];
};

/* Appends a bucket of key (printf format) with rate rt and mode to b. */
__attribute__((format(printf, 4, 5))) static void
add(struct login_buckets *b, const auth_rate_t *rt, enum store_rate_mode mode, const char *fmt, ...)
{
    if (b->n >= 4)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->keys[b->n], KEY_MAX, fmt, ap);
    va_end(ap);
    b->r[b->n] = (store_rate_t){b->keys[b->n], rt ? rt->count : 0, rt ? rt->period_s : 0, mode};
    b->n++;
}

/*
 * The failure budgets of a login attempt (those a success gives back), appended to b: the
 * device's, or the account's from this address and from every untrusted client (CONSUME).
 */
static void failure_budgets(const auth_t *a, const char *client, const char *username,
                            const char *device, struct login_buckets *b)
{
    const auth_guard_options_t *g = &auth__live(a)->guard;
    if (!limited(&g->login))
        return;
    if (device && *device) {
        if (limited(&g->login_device))
            add(b, &g->login_device, STORE_RATE_CONSUME, "login:devfail:%.64s", device);
        return;
    }
    if (!username || !*username)
        return;
    /* an address never holds '|': the first one ends it */
    if (limited(&g->login_account_ip) && client && *client)
        add(b, &g->login_account_ip, STORE_RATE_CONSUME, "login:pair:%.64s|%.150s", client,
            username);
    if (limited(&g->login_account))
        add(b, &g->login_account, STORE_RATE_CONSUME, "login:user:%.150s", username);
}

/* A login check in flight: the caller's callback and the buckets. */
struct login_check {
    struct check_reply reply;
    struct login_buckets b;
};

/* See auth.h. */
void auth_guard_login(auth_t *a, const char *client, const char *username, const char *device,
                      auth_guard_cb cb, void *arg)
{
    const auth_guard_options_t *g = &auth__live(a)->guard;
    struct login_check *c = xcalloc(1, sizeof *c);
    c->reply.cb = cb;
    c->reply.arg = arg;
    if (g->invalid_block_s)
        add(&c->b, NULL, STORE_RATE_BLOCK, "block:%s", client);
    if (limited(&g->login)) {
        /* every attempt: the device's (a trusted device is its own client), else the
           address's */
        if (device && *device)
            add(&c->b, &g->login, STORE_RATE_CONSUME, "login:dev:%.64s", device);
        else
            add(&c->b, &g->login, STORE_RATE_CONSUME, "login:ip:%s", client);
        failure_budgets(a, client, username, device, &c->b);
    }
    if (c->b.n == 0) {
        free(c);
        allow_now(cb, arg);
        return;
    }
    store_rate_check(a->store, c->b.r, c->b.n, on_rate, c);
}

/* See auth.h. */
void auth_guard_login_cancel(auth_t *a, const char *client, const char *username,
                             const char *device)
{
    auth_client_t c = {.ip = client, .device = device};
    auth__guard_login_done(a, username, &c, true);
}

/* See auth_internal.h. */
void auth__guard_login_done(auth_t *a, const char *username, const auth_client_t *client,
                            bool success)
{
    if (!success)
        return; /* the check counted it already */
    struct login_buckets b = {0};
    failure_budgets(a, client ? client->ip : NULL, username, client ? client->device : NULL, &b);
    for (size_t i = 0; i < b.n; i++)
        store_rate_refund(a->store, b.r[i].key, b.r[i].count, b.r[i].period_s);
}

/* ---- invalid tokens ---------------------------------------------------------------------- */

static uint64_t client_hash(const char *client)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = client; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* See auth.h. */
bool auth_guard_tamper_sample(auth_t *a, const char *client, uint32_t *suppressed)
{
    struct auth_guard_log *l = a->guard_log;
    uint64_t h = client_hash(client);
    int64_t minute = clock_now_s() / 60;
    pthread_mutex_lock(&l->mu);
    __typeof__(l->tamper[0]) *s = &l->tamper[h % LOG_SLOTS];
    if (s->h != h || s->minute != minute) {
        uint32_t carried = s->h == h ? s->suppressed : 0;
        s->h = h;
        s->minute = minute;
        s->written = 0;
        s->suppressed = carried;
    }
    bool yes = s->written < AUTH_TAMPER_RECORDS_PER_MINUTE;
    *suppressed = 0;
    if (yes) {
        s->written++;
        *suppressed = s->suppressed;
        s->suppressed = 0;
    } else {
        s->suppressed++;
    }
    pthread_mutex_unlock(&l->mu);
    return yes;
}

/* Whether to log a suspicious address now: at most once a minute per address. */
static bool log_suspicious_now(struct auth_guard_log *l, const char *client)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = client; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    int64_t now = clock_now_s();
    pthread_mutex_lock(&l->mu);
    bool yes = l->slots[h % LOG_SLOTS].h != h || now - l->slots[h % LOG_SLOTS].at >= 60;
    if (yes) {
        l->slots[h % LOG_SLOTS].h = h;
        l->slots[h % LOG_SLOTS].at = now;
    }
    pthread_mutex_unlock(&l->mu);
    return yes;
}

struct invalid {
    auth_t *a;
    char client[IP_TEXT_MAX + 8];
};

static void on_invalid(void *arg, const store_rate_result_t *r)
{
    struct invalid *b = arg;
    const auth_guard_options_t *g = &auth__live(b->a)->guard;
    if (!r->allowed) {
        metrics_count(METRICS_RATE_INVALID);
        if (log_suspicious_now(b->a->guard_log, b->client)) {
            char detail[160];
            snprintf(detail, sizeof detail,
                     "limit=%u/%us action=%s msg=\"more invalid tokens than the limit (logged at "
                     "most once a minute)\"",
                     g->invalid_token.count, g->invalid_token.period_s,
                     g->invalid_block_s ? "blocked" : "logged");
            audit_ctx_t who = {.ip = b->client};
            audit_warn(&who, .event = "suspicious_invalid_tokens",
                       .outcome = g->invalid_block_s ? "blocked" : "detected",
                       .reason = "invalid_token_rate", .detail = detail);
        }
        if (g->invalid_block_s) {
            char k[KEY_MAX];
            snprintf(k, sizeof k, "block:%s", b->client);
            store_rate_block(b->a->store, k, g->invalid_block_s);
        }
    }
    free(b);
}

/* See auth.h. */
void auth_guard_invalid_token(auth_t *a, const char *client)
{
    const auth_rate_t *inv = &auth__live(a)->guard.invalid_token;
    if (!limited(inv))
        return;
    struct invalid *b = xcalloc(1, sizeof *b);
    b->a = a;
    snprintf(b->client, sizeof b->client, "%s", client);
    char k[KEY_MAX];
    snprintf(k, sizeof k, "invalid:%s", b->client);
    store_rate_t r = {k, inv->count, inv->period_s, STORE_RATE_CONSUME};
    store_rate_check(a->store, &r, 1, on_invalid, b);
}

/* ---- one-time tokens ----------------------------------------------------------------------- */

/* See auth.h. */
void auth_guard_use_once(auth_t *a, const char *jti, int64_t exp, auth_guard_cb cb, void *arg)
{
    int64_t left = exp > 0 ? exp - clock_now_s() : 3600;
    uint32_t period = (uint32_t)(left < 1 ? 1 : left > 86400 ? 86400 : left) + 1;
    struct check *c = xcalloc(1, sizeof *c);
    c->reply.cb = cb;
    c->reply.arg = arg;
    snprintf(c->keys[0], KEY_MAX, "once:%.64s", jti);
    store_rate_t r = {c->keys[0], 1, period, STORE_RATE_CONSUME};
    store_rate_check(a->store, &r, 1, on_rate, c);
}

/* ---- refresh-family networks --------------------------------------------------------------- */

struct family {
    auth_t *a;
    auth_guard_cb cb;
    void *arg;
    uint32_t window_s;
    char key[KEY_MAX];
    char net[64];
};

static void on_family(void *arg, int status, str_t value)
{
    struct family *f = arg;
    bool distant = status == 0 && !str_eq_cstr(value, f->net);
    if (!distant)
        store_cache_set(f->a->store, f->key, str_cstr(f->net), f->window_s, NULL);
    auth_guard_result_t res = {!distant, 0, !store_redis_up(f->a->store)};
    auth_guard_cb cb = f->cb;
    void *cb_arg = f->arg;
    free(f);
    cb(cb_arg, &res);
}

/* See auth.h. */
void auth_guard_family_network(auth_t *a, const char *sid, const char *net, uint32_t window_s,
                               auth_guard_cb cb, void *arg)
{
    struct family *f = xcalloc(1, sizeof *f);
    f->a = a;
    f->cb = cb;
    f->arg = arg;
    f->window_s = window_s;
    snprintf(f->key, sizeof f->key, "fam:%.64s", sid);
    snprintf(f->net, sizeof f->net, "%s", net);
    store_cache_get(a->store, f->key, on_family, f);
}

/*
 * store.h - shared revocation state behind one interface: what every token verification
 * consults, and how revocations made elsewhere reach this process.
 *
 * A store wraps the in-memory revocation index (revindex.h: revoked jtis, revoked sessions,
 * per-user watermarks) and keeps it current:
 *   - revocations made by this process are applied with store_revoke_*() BEFORE the request
 *     that caused them is answered, so a logout is enforced at once on this instance;
 *   - revocations made by other processes (the CLI, another jwtd on the same database) come
 *     in through the backend's feed. The embedded backend (store_mem.c) polls: a background
 *     thread calls the owner's pull function every poll_interval_ms with a `since` bound,
 *     and the pull function re-applies what the durable database recorded since then. With
 *     Redis, changes are also pushed (below); the interface is the same.
 *   - expired entries are pruned by the same background thread (no cleanup cron).
 *
 * The store knows nothing about the database: the owner (src/auth/) supplies the pull
 * function, which reads the database and calls store_revoke_*() for each row. Applying an
 * entry twice is harmless (the index keeps the later expiry / the higher watermark).
 *
 * Threads: store_check() and store_revoke_*() may be called from any thread (event loops,
 * the blocking pool). store_start() / store_close() from the owning (main) thread only.
 *
 * Shared state for several instances: with store_redis_start() the store also
 *   - PUBLISHes every revocation made by this process on the channel <prefix>revocations
 *     and applies what other instances publish (a subscriber connection on the store's own
 *     thread), so a revocation reaches every instance in about a millisecond; on every
 *     (re)connect it runs a pull, so nothing published while it was away is missed; the
 *     database poll keeps running as the safety net (a lost message costs at most one
 *     poll interval);
 *   - keeps the rate-limit buckets (GCRA, one Lua script per check) and the cache entries
 *     in Redis, through one connection per event loop (store_loop_attach()).
 * Without Redis the same calls work on in-process tables (store_local.c). With Redis
 * configured but unreachable: revocations still apply locally (and reach the other
 * instances through the database poll), rate limits fall back to the local tables
 * (logged once per outage), cache reads miss and writes are dropped (never a stale hit).
 * The verify hot path (store_check) never touches Redis.
 */
#ifndef JWTD_STORE_STORE_H
#define JWTD_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/str.h"
#include "store/revindex.h"

typedef struct store store_t;
struct uv_loop_s;

/*
 * Pulls revocations recorded since `since` (Unix seconds; 0 on the first pull: load
 * everything that can still matter) into st with store_revoke_*(). Runs on the store's
 * background thread (or on the caller of store_sync()); may block. Returns 0 or an ERR_*
 * (the store logs it and retries on the next tick with the same since).
 */
typedef int (*store_pull_fn)(void *arg, store_t *st, int64_t since, int64_t now);

typedef struct {
    store_pull_fn pull;         /* NULL: no feed (tests, a store used by one process) */
    void *pull_arg;             /* passed to pull */
    uint32_t poll_interval_ms;  /* how often pull runs; 0 = 1000 */
    uint32_t prune_interval_ms; /* how often expired entries are dropped; 0 = 10000 */
    int64_t overlap_s; /* since = start of the last good pull - overlap_s, so that rows whose
                          timestamp was taken before a slow commit are not missed; 0 = 10 */
} store_options_t;

/*
 * Creates the embedded (one process) store. Nothing runs until store_start(). Never fails
 * except on a bad argument (ERR_INVALID). OUT: *out, released with store_close().
 */
int store_mem_open(const store_options_t *opts, store_t **out);

/*
 * Runs the first pull synchronously (since = 0: the initial load; its error is returned so
 * that a server does not start with an empty index), then starts the background feed
 * thread. Returns 0 or the pull's ERR_*.
 */
int store_start(store_t *st);

/*
 * Runs one pull now, on the calling thread, with the usual since bound (tests; and after
 * a revocation whose rows this process did not see one by one, e.g. a password change
 * that revoked every session of a user). Returns the pull's result.
 */
int store_sync(store_t *st);

/* Stops the feed thread (if started) and frees the store. NULL is a no-op. */
void store_close(store_t *st);

/* ---- revocations (apply to the local index; thread-safe) ------------------------------- */

/* Revokes one token id until exp (after which the token is expired anyway). */
void store_revoke_jti(store_t *st, const store_id_t *jti, int64_t exp);
/* Revokes a session until exp (the latest expiry of any access token of that session). */
void store_revoke_sid(store_t *st, const store_id_t *sid, int64_t exp);
/* Tokens of user_id with iat < revoke_before are revoked; the entry lives until keep_until. */
void store_revoke_user(store_t *st, int64_t user_id, int64_t revoke_before, int64_t keep_until);

/* Checks a token against the index: O(1), no I/O. Thread-safe. */
enum store_revoked_by store_check(store_t *st, const store_token_ref_t *tok)
    __attribute__((warn_unused_result));

/* Entry counts and feed state, for metrics and tests. */
typedef struct {
    store_revindex_stats_t index;
    uint64_t pulls_ok;     /* successful pulls, including the initial load */
    uint64_t pulls_failed; /* failed pulls (the database was unavailable) */
    int64_t last_pull_at;  /* Unix seconds of the last successful pull's start; 0 = never */
} store_stats_t;
void store_stats(store_t *st, store_stats_t *out);

/*
 * Called (any thread) when another instance says user_id changed (watermark raised, user
 * cache entry stale), so the owner can drop its own caches of that user. Set before
 * store_redis_start().
 */
typedef void (*store_user_fn)(void *arg, int64_t user_id);
void store_set_user_hook(store_t *st, store_user_fn fn, void *arg);
/* Tells the other instances that user_id changed (their user hook runs). Any thread. */
void store_user_changed(store_t *st, int64_t user_id);
/* Asks the feed thread for a pull as soon as possible (any thread, does not wait). */
void store_request_pull(store_t *st);

/* ---- Redis backend (store_redis.c) ------------------------------------------------------ */

typedef struct {
    /* redis://[:password@]host[:port][/db], unix:///path[?db=N] or
       redis-sentinel://[:password@]host[:port],host[:port]/MASTER[?db=N&sentinel_password=P]
       (the password before '@' is the master's; sentinels default to port 26379) or
       redis-cluster://[:password@]host[:port],host[:port] (seed nodes, database 0 only) */
    const char *url;
    const char *prefix;  /* prefix of every key and channel; NULL = "jwtd:" */
    uint32_t timeout_ms; /* connect and command timeout; 0 = 500 */
    /* sentinel mode: a file holding the sentinels' password (read once, trailing newline
       dropped); NULL = none or the URL's sentinel_password */
    const char *sentinel_password_file;
} store_redis_options_t;

/*
 * Connects the store to Redis: parses the URL (ERR_CONFIG with a message in err on a bad
 * one), starts the store thread (subscriber + command connection). Never fails because
 * Redis is down: it keeps reconnecting with backoff. Call after store_start(), once.
 * Sentinel mode: the store thread asks the sentinels for the master (SENTINEL
 * get-master-addr-by-name, confirmed by ROLE), follows +switch-master, and asks again when a
 * connection fails or answers READONLY; every connection then moves to the new master (the
 * subscriber re-subscribes, which pulls the revocations from the database).
 */
int store_redis_start(store_t *st, const store_redis_options_t *o, char *err, size_t cap);
/*
 * One synchronous round trip to the Redis of o (`jwtd check`): connect (in sentinel mode:
 * to the master the sentinels name, confirmed by ROLE), AUTH and SELECT when the URL asks
 * for them, PING, each bounded by o->timeout_ms; no store needed, nothing written. Returns 0,
 * ERR_CONFIG (bad URL) or ERR_UNAVAILABLE, with a message in err.
 */
int store_redis_ping(const store_redis_options_t *o, char *err, size_t cap);
/*
 * For processes without a store (the CLI): PUBLISHes "every session of user_id issued
 * before revoke_before is revoked" on the revocation channel of o, as a server does, so
 * the servers apply a change the CLI wrote to the database at once instead of at their
 * next database poll (which waits for the database: a change made just before a database
 * outage would otherwise reach them only after it). Same connection steps and result as
 * store_redis_ping.
 */
int store_redis_publish_watermark(const store_redis_options_t *o, int64_t user_id,
                                  int64_t revoke_before, int64_t keep_until, char *err, size_t cap);
/* Whether Redis is configured / currently reachable (subscribed and answering). */
bool store_redis_configured(const store_t *st);
bool store_redis_up(const store_t *st);

/*
 * On an event-loop thread (the HTTP on-worker-start hook): opens that loop's Redis
 * connection; cache and rate operations made on this thread use it. No-op without Redis.
 * store_loop_detach() on the same thread when the loop has ended (on-worker-stop).
 */
void store_loop_attach(store_t *st, struct uv_loop_s *loop);
void store_loop_detach(store_t *st);

/* ---- cache (any backend) --------------------------------------------------------------- */
/*
 * A string-keyed cache with TTLs and invalidation groups (all entries of one user, "the
 * post list"). Keys and groups are short printable strings chosen by the caller (e.g.
 * "orders:42:<jti>", group "orders:42"); in Redis they become <prefix>cache:<key> and
 * <prefix>cache-group:<group> (a SET of its keys, with the longest TTL of its entries).
 */

/* status 0 + value (valid during the call only), or ERR_NOT_FOUND (miss, Redis down). */
typedef void (*store_cache_cb)(void *arg, int status, str_t value);
/*
 * Looks key up. With Redis: ONLY on a thread with store_loop_attach() (asynchronous, cb runs
 * later on that loop, at most timeout_ms later); otherwise (embedded, or Redis unreachable)
 * cb runs before store_cache_get returns.
 */
void store_cache_get(store_t *st, const char *key, store_cache_cb cb, void *arg);
/*
 * Blocking lookup for pool threads: copies at most cap bytes of the value into out.
 * Returns 0 (*len = value length, may exceed cap: then nothing useful is copied),
 * ERR_NOT_FOUND (miss or Redis unreachable). Never call on an event loop.
 */
int store_cache_get_sync(store_t *st, const char *key, char *out, size_t cap, size_t *len);
/*
 * Stores value under key for ttl_s seconds, adding key to group (NULL = none). Any thread; with
 * Redis, off the event loops the call returns once Redis has stored it (at most timeout_ms), so
 * a drop made after the caller answered cannot be overtaken by the entry.
 */
void store_cache_set(store_t *st, const char *key, str_t value, uint32_t ttl_s, const char *group);
/*
 * Versioned fills (memcache "leases"): a fill that computes an entry from the database can be
 * overtaken by a write. Reader R misses and reads the row; writer W commits and drops the key;
 * R stores the row it read before the commit, which is then served until its TTL. To close
 * that window R takes a ticket BEFORE its read and stores with store_cache_set_if: the store
 * drops the value when the key or its group was invalidated (store_cache_del,
 * store_cache_drop_group) after the ticket was taken.
 *
 * Tickets are values of one store-wide sequence that every invalidation advances; each
 * invalidation also stamps its key (or group) with the value it took. Embedded: the stamps are
 * kept in fixed tables (per slot of the key's hash, so two keys may share a stamp: a fill may
 * be dropped for a neighbour's invalidation, never kept after its own); no time bound. Redis:
 * the sequence is a key that never expires, a stamp a key living STORE_CACHE_STAMP_TTL_S, so
 * a fill whose read takes longer than that may still store an old value (the bound).
 */
typedef uint64_t store_fill_t;
/* A ticket that never stores (Redis unreachable when the fill began). */
#define STORE_FILL_NONE UINT64_MAX
/* How long (seconds) an invalidation's stamp lives in Redis: longer than any database read. */
#define STORE_CACHE_STAMP_TTL_S 30
/*
 * Takes a fill's ticket (call before reading what will be stored). Embedded: an atomic load.
 * Redis: one round trip (the sequence's value), blocking: pool threads only (on an event loop,
 * or with Redis unreachable, STORE_FILL_NONE).
 */
store_fill_t store_cache_fill_begin(store_t *st);
/*
 * store_cache_set, unless key or group was invalidated after ticket was taken (then nothing is
 * stored). Atomic: under the shard's lock (embedded), one Lua script (Redis). Same threading
 * as store_cache_set. Returns true when stored (with Redis off an event loop: Redis said so;
 * on an event loop: sent).
 */
bool store_cache_set_if(store_t *st, const char *key, str_t value, uint32_t ttl_s,
                        const char *group, store_fill_t ticket);
/* Drops one key. Any thread; with Redis, off the event loops the call returns once Redis has
   done it (at most timeout_ms), like store_cache_drop_group. Stamps the key (above). */
void store_cache_del(store_t *st, const char *key);
/*
 * Drops every key of group and the group. Any thread; with Redis, one atomic script, and
 * off the event loops the call returns once Redis has done it (at most timeout_ms). Stamps the
 * group (above).
 */
void store_cache_drop_group(store_t *st, const char *group);

/* ---- rate limits (any backend): GCRA ------------------------------------------------------- */
/*
 * Generic cell rate algorithm: a bucket "count per period_s" stores one value, the
 * theoretical arrival time (TAT). Emission interval T = period/count; a request at now is
 * allowed when TAT - now <= period - T (so `count` requests may come at once, then one per
 * T); allowing it moves TAT to max(TAT, now) + T. Retry-After = TAT - (period - T) - now.
 * Keys become <prefix>rate_limit:<key> in Redis with a TTL of TAT - now (nothing outlives
 * its window). Time comes from the Redis server (TIME), so instances' clocks do not matter.
 */
enum store_rate_mode {
    STORE_RATE_CONSUME = 0, /* check, and count the request when every bucket allows it */
    STORE_RATE_PEEK = 1,    /* check only (e.g. failed logins of a username) */
    STORE_RATE_BLOCK = 2,   /* deny while key is blocked (store_rate_block) */
};
typedef struct {
    const char *key;
    uint32_t count, period_s; /* count 0 = unlimited (always allowed) */
    enum store_rate_mode mode;
} store_rate_t;
typedef struct {
    bool allowed;
    uint32_t retry_after_s; /* when denied: seconds until the request would be allowed (>= 1) */
    int denied_by;          /* index of the first denying bucket, -1 when allowed */
    bool local;             /* decided by local counters (no Redis, or Redis unreachable) */
} store_rate_result_t;
typedef void (*store_rate_cb)(void *arg, const store_rate_result_t *r);
/*
 * Checks n (<= 4) buckets atomically: allowed only when all allow; CONSUME buckets count the
 * request only then. Same threading as store_cache_get (async on an attached loop).
 */
void store_rate_check(store_t *st, const store_rate_t *r, size_t n, store_rate_cb cb, void *arg);
/* Counts one event in a bucket without a decision (a failed login). Any thread, async. */
void store_rate_consume(store_t *st, const char *key, uint32_t count, uint32_t period_s);
/*
 * Gives back one event a CONSUME check counted in the bucket (a login attempt that turned out
 * to be a success), never below an empty bucket: TAT = max(TAT - period/count, now). Any
 * thread, async. Same count and period as the check, else the arithmetic is meaningless.
 */
void store_rate_refund(store_t *st, const char *key, uint32_t count, uint32_t period_s);
/* Blocks key for seconds (a STORE_RATE_BLOCK bucket denies until then). Any thread. */
void store_rate_block(store_t *st, const char *key, uint32_t seconds);

#endif

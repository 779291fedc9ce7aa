/*
 * store_redis.c - the Redis backend of the store: connections (one per event loop, and the
 * store thread's subscriber and command connection), revocations pushed between instances
 * by pub/sub, and the lifecycle. The cache and rate-limit operations over these
 * connections are in store_redis_ops.c.
 *
 * DESIGN
 * hiredis 0.14 async with its libuv adapter. A `rconn` is one connection bound to one
 * loop, with what hiredis 0.14 lacks: a connect timeout, a command timeout (Redis answers
 * in order, so only the oldest outstanding command is checked) and reconnect with
 * exponential backoff (50 ms .. 2 s), all driven by one uv timer per connection. On
 * (re)connect it pipelines AUTH / SELECT / SCRIPT LOAD before anything else, so commands
 * sent after it see the right database and the Lua scripts (EVALSHA) loaded.
 *
 * Connections:
 *   - one per event loop (store_loop_attach, thread-local): cache reads and rate checks of
 *     requests served on that loop, answered on that loop; nothing blocks;
 *   - on the store's own thread ("store-redis", its own loop): the subscriber (SUBSCRIBE
 *     <prefix>revocations) and a command connection for what other threads send (PUBLISH
 *     of revocations made on pool threads, invalidations, failed-login counts), fed through
 *     a mutex-protected queue and a uv_async.
 * Every (re)subscription asks the feed for a pull: what was published while this instance
 * was not listening is in the database, so it is never missed. When a connection is down
 * or a command times out, its callbacks still run exactly once (with a NULL reply): rate
 * checks then decide on the local tables (logged once per outage), cache reads miss.
 *
 * Redis Cluster (redis-cluster://, hiredis 0.14 has no cluster support): the per-loop and
 * the command connection are routers, each with its own slot map (CLUSTER SLOTS) and one
 * child connection per master; commands go to their key's slot owner and MOVED / ASK /
 * NOSCRIPT are followed before the caller's callback runs (see "cluster" below). Keys are
 * hash-tagged (store__redis_key) so each script touches one slot; the subscriber listens
 * on one seed node (Redis 7 forwards every PUBLISH to every node), the next when it fails.
 *
 * Messages on the channel (text): "j <jti> <exp>", "s <sid> <exp>",
 * "w <user_id> <revoke_before> <keep_until>", "u <user_id>".
 */
#define LOG_MODULE "store"
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wcast-function-type"
#include <hiredis/adapters/libuv.h>
#pragma GCC diagnostic pop

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"
#include "store/redis_internal.h"

/* ---- Lua scripts ---------------------------------------------------------------------- */

/*
 * GCRA over KEYS[1..n]; ARGV = count, period_s, mode per key (mode c = consume, p = peek,
 * b = blocked-key check, f = count whatever the bucket says, r = give one counted event
 * back, never below an empty bucket). Returns {allowed, retry_s,
 * denied_index}. Same arithmetic as store__gcra(); time from the server.
 */
static const char LUA_RATE[] =
    "local t=redis.call('TIME') local now=tonumber(t[1])*1000000+tonumber(t[2])\n"
    "local deny=-1 local retry=0 local tats={}\n"
    "for i=1,#KEYS do\n"
    " local count=tonumber(ARGV[3*i-2]) local period=tonumber(ARGV[3*i-1])*1000000\n"
    " local mode=ARGV[3*i]\n"
    " if mode=='b' then\n"
    "  local ttl=redis.call('PTTL',KEYS[i])\n"
    "  if ttl>0 then if deny<0 then deny=i-1 end if ttl*1000>retry then retry=ttl*1000 end end\n"
    " elseif count>0 then\n"
    "  local T=math.max(1,math.floor(period/count))\n"
    "  local tat=tonumber(redis.call('GET',KEYS[i]) or '0') or 0\n"
    "  if tat<now then tat=now end\n"
    "  if mode=='f' then tats[i]=math.min(tat+T,now+period)\n"
    "  elseif mode=='r' then if tat>now then tats[i]=math.max(tat-T,now) end\n"
    "  else\n"
    "   local over=tat-now-(period-T)\n"
    "   if over>0 then if deny<0 then deny=i-1 end if over>retry then retry=over end\n"
    "   elseif mode=='c' then tats[i]=tat+T end\n"
    "  end\n"
    " end\n"
    "end\n"
    "if deny>=0 then return {0,math.ceil(retry/1000000),deny} end\n"
    "for i=1,#KEYS do if tats[i] then\n"
    " redis.call('SET',KEYS[i],string.format('%.0f',tats[i]),'PX',math.ceil((tats[i]-now)/"
    "1000)+1)\n"
    "end end\n"
    "return {1,0,-1}\n";

/* SET KEYS[1]=ARGV[1] EX ARGV[2]; with KEYS[2], add the key to that group SET. */
static const char LUA_SET[] = "redis.call('SET',KEYS[1],ARGV[1],'EX',ARGV[2])\n"
                              "if KEYS[2] then redis.call('SADD',KEYS[2],KEYS[1])\n"
                              " if redis.call('TTL',KEYS[2])<tonumber(ARGV[2]) then "
                              "redis.call('EXPIRE',KEYS[2],ARGV[2]) end\n"
                              "end return 1\n";

/*
 * Versioned fills (store.h): KEYS[3] of the scripts below is the cache's sequence (a counter
 * whose TTL, a day, every invalidation renews, as nothing of jwtd lives in Redis without a
 * TTL), KEYS[2] the stamp of the key or group (the sequence value of its last invalidation,
 * living ARGV[1] = STORE_CACHE_STAMP_TTL_S seconds). A fill's ticket is the sequence read
 * before its database read (LUA_TICKET: 0 while absent). When the sequence is lost (expired
 * after a quiet day, Redis restarted empty) it starts again below the tickets in flight, which
 * LUA_SET_IF then refuses: a reset can only drop fills.
 */
static const char LUA_TICKET[] = "return tonumber(redis.call('GET',KEYS[1]) or '0') or 0\n";

/* Stamps the group SET KEYS[1] (KEYS[2]), deletes every member of it, then the set. */
static const char LUA_DROP[] = "local s=redis.call('INCR',KEYS[3])\n"
                               "redis.call('EXPIRE',KEYS[3],86400)\n"
                               "redis.call('SET',KEYS[2],s,'EX',ARGV[1])\n"
                               "local m=redis.call('SMEMBERS',KEYS[1])\n"
                               "for i=1,#m do redis.call('DEL',m[i]) end\n"
                               "redis.call('DEL',KEYS[1]) return #m\n";

/* Stamps the key KEYS[1] (KEYS[2]) and deletes it. */
static const char LUA_DEL[] = "local s=redis.call('INCR',KEYS[3])\n"
                              "redis.call('EXPIRE',KEYS[3],86400)\n"
                              "redis.call('SET',KEYS[2],s,'EX',ARGV[1])\n"
                              "return redis.call('DEL',KEYS[1])\n";

/*
 * LUA_SET (KEYS[1] = ARGV[1] for ARGV[2] s, in the group KEYS[4]) unless the ticket ARGV[3]
 * is older than the stamp of the key (KEYS[2]) or of the group (KEYS[5]), or newer than the
 * sequence (never handed out: STORE_FILL_NONE, or Redis lost the sequence since). 1 = stored.
 */
static const char LUA_SET_IF[] =
    "local t=tonumber(ARGV[3])\n"
    "if t>(tonumber(redis.call('GET',KEYS[3]) or '0') or 0) then return 0 end\n"
    "local m=redis.call('GET',KEYS[2]) if m and tonumber(m)>t then return 0 end\n"
    "if KEYS[4] then m=redis.call('GET',KEYS[5]) if m and tonumber(m)>t then return 0 end end\n"
    "redis.call('SET',KEYS[1],ARGV[1],'EX',ARGV[2])\n"
    "if KEYS[4] then redis.call('SADD',KEYS[4],KEYS[1])\n"
    " if redis.call('TTL',KEYS[4])<tonumber(ARGV[2]) then redis.call('EXPIRE',KEYS[4],ARGV[2]) "
    "end\n"
    "end return 1\n";

static const char *const SCRIPTS[SCRIPT__N] = {LUA_RATE,   LUA_SET, LUA_DROP,
                                               LUA_SET_IF, LUA_DEL, LUA_TICKET};

__thread rconn_t *store__tls_rc;

/* See redis_internal.h. */
uint64_t store__redis_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* See redis_internal.h. */
int64_t store__redis_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- URL ------------------------------------------------------------------------------- */

/* "host[:port]" or "[v6]:port" of n bytes at p into *host (allocated) and *port. 0 or -1. */
static int parse_hostport(const char *p, size_t n, int def_port, char **host, int *port)
{
    const char *pc = NULL;
    *port = def_port;
    if (n && p[0] == '[') {
        const char *rb = memchr(p, ']', n);
        if (!rb || rb == p + 1)
            return -1;
        if (rb + 1 < p + n) {
            if (rb[1] != ':')
                return -1;
            pc = rb + 2;
        }
        *host = xstrndup(p + 1, (size_t)(rb - p - 1));
    } else {
        const char *colon = memchr(p, ':', n);
        size_t hl = colon ? (size_t)(colon - p) : n;
        if (hl == 0)
            return -1;
        *host = xstrndup(p, hl);
        if (colon)
            pc = colon + 1;
    }
    if (pc) {
        char *end;
        long v = strtol(pc, &end, 10);
        if (end == pc || end != p + n || v <= 0 || v > 65535) {
            free(*host);
            *host = NULL;
            return -1;
        }
        *port = (int)v;
    }
    return 0;
}

/* Decodes the %XX escapes of n bytes at p (a password may hold '@', '&', '/'). */
static char *url_decode(const char *p, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = OPENSSL_hexchar2int((unsigned char)p[i + 1])) >= 0 &&
            (lo = OPENSSL_hexchar2int((unsigned char)p[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    return out;
}

/*
 * The password of a sentinel or cluster URL's authority [p, hosts_end): ":password@" or
 * "password@" (%XX-decoded), the last '@' before hosts_end ending it. Returns where the
 * host list starts (p when there is none).
 */
static const char *parse_userinfo(store_redis_t *rd, const char *p, const char *hosts_end)
{
    const char *at = NULL;
    for (const char *c = p; c < hosts_end; c++)
        if (*c == '@')
            at = c;
    if (!at)
        return p;
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon)
        rd->password = url_decode(colon + 1, (size_t)(at - colon - 1));
    else if (at > p)
        rd->password = url_decode(p, (size_t)(at - p));
    return at + 1;
}

/*
 * Appends the comma-separated host[:port] list [h, end) to rd's seeds (port default_port
 * when omitted). what names an address in errors ("sentinel"), many the list's limit
 * ("sentinels").
 */
static int parse_seeds(store_redis_t *rd, const char *h, const char *end, int default_port,
                       const char *what, const char *many, char *err, size_t cap)
{
    while (h < end) {
        const char *comma = memchr(h, ',', (size_t)(end - h));
        const char *he = comma ? comma : end;
        if (rd->nseeds == SEED_MAX) {
            snprintf(err, cap, "JWTD_REDIS_URL: at most %d %s", SEED_MAX, many);
            return ERR_CONFIG;
        }
        int i = rd->nseeds;
        if (parse_hostport(h, (size_t)(he - h), default_port, &rd->seed_host[i],
                           &rd->seed_port[i]) != 0) {
            snprintf(err, cap, "JWTD_REDIS_URL: bad %s address (expected host:port)", what);
            return ERR_CONFIG;
        }
        rd->nseeds++;
        h = comma ? comma + 1 : end;
    }
    return 0;
}

/*
 * redis-sentinel://[:password@]h1[:port],h2[:port]/MASTER[?db=N&sentinel_password=P]: the
 * password before '@' is the master's (as in redis://), sentinels default to port 26379.
 */
static int parse_sentinel_url(store_redis_t *rd, const char *url, char *err, size_t cap)
{
    static const char usage[] = "JWTD_REDIS_URL: expected "
                                "redis-sentinel://host:port,host:port/MASTERNAME[?db=N]";
    const char *p = url + strlen("redis-sentinel://");
    rd->sentinel = true;
    const char *q = strchr(p, '?');
    const char *end = q ? q : p + strlen(p);
    const char *slash = memchr(p, '/', (size_t)(end - p));
    p = parse_userinfo(rd, p, slash ? slash : end);
    slash = memchr(p, '/', (size_t)(end - p));
    if (!slash || slash == p || slash + 1 == end) {
        snprintf(err, cap, "%s", usage);
        return ERR_CONFIG;
    }
    rd->master_name = xstrndup(slash + 1, (size_t)(end - slash - 1));
    int rc = parse_seeds(rd, p, slash, 26379, "sentinel", "sentinels", err, cap);
    if (rc != 0)
        return rc;
    for (const char *a = q ? q + 1 : NULL; a && *a;) {
        const char *amp = strchr(a, '&');
        size_t n = amp ? (size_t)(amp - a) : strlen(a);
        if (n > 3 && strncmp(a, "db=", 3) == 0) {
            char *e;
            long db = strtol(a + 3, &e, 10);
            if (e != a + n || db < 0 || db > 1000000) {
                snprintf(err, cap, "JWTD_REDIS_URL: bad database number");
                return ERR_CONFIG;
            }
            rd->db = (int)db;
        } else if (n > 18 && strncmp(a, "sentinel_password=", 18) == 0) {
            free(rd->sentinel_password);
            rd->sentinel_password = url_decode(a + 18, n - 18);
        } else {
            snprintf(err, cap,
                     "JWTD_REDIS_URL: unknown parameter %.*s (known: db, sentinel_password)",
                     (int)(memchr(a, '=', n) ? (const char *)memchr(a, '=', n) - a : (long)n), a);
            return ERR_CONFIG;
        }
        a = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* Reads the sentinels' password from path (the first line). */
static int read_password_file(store_redis_t *rd, const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "JWTD_REDIS_SENTINEL_PASSWORD_FILE: cannot read the file: %s",
                 strerror(errno));
        return ERR_CONFIG;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) {
        snprintf(err, cap, "JWTD_REDIS_SENTINEL_PASSWORD_FILE: the file is empty");
        return ERR_CONFIG;
    }
    free(rd->sentinel_password);
    rd->sentinel_password = xstrdup(buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

/*
 * redis-cluster://[:password@]h1[:port],h2[:port][/]: seed nodes (port 6379 when omitted);
 * a cluster has only database 0, so a path or ?db= other than 0 is refused.
 */
static int parse_cluster_url(store_redis_t *rd, const char *url, char *err, size_t cap)
{
    static const char usage[] = "JWTD_REDIS_URL: expected "
                                "redis-cluster://[:password@]host:port,host:port";
    const char *p = url + strlen("redis-cluster://");
    rd->cluster = true;
    const char *q = strchr(p, '?');
    const char *end = q ? q : p + strlen(p);
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *hosts_end = slash ? slash : end;
    p = parse_userinfo(rd, p, hosts_end);
    if (p == hosts_end) {
        snprintf(err, cap, "%s", usage);
        return ERR_CONFIG;
    }
    if (hosts_end[-1] == ',') {
        snprintf(err, cap, "JWTD_REDIS_URL: bad cluster node address (expected host:port)");
        return ERR_CONFIG;
    }
    if ((slash && !(slash + 1 == end || (slash + 2 == end && slash[1] == '0'))) ||
        (q && strcmp(q, "?db=0") != 0)) {
        snprintf(err, cap,
                 "JWTD_REDIS_URL: a Redis Cluster has only database 0 (no /db or "
                 "?db= other than 0)");
        return ERR_CONFIG;
    }
    return parse_seeds(rd, p, hosts_end, 6379, "cluster node", "seed nodes", err, cap);
}

static int parse_url(store_redis_t *rd, const char *url, char *err, size_t cap)
{
    rd->port = 6379;
    rd->db = 0;
    if (strncmp(url, "redis-sentinel://", 17) == 0)
        return parse_sentinel_url(rd, url, err, cap);
    if (strncmp(url, "redis-cluster://", 16) == 0)
        return parse_cluster_url(rd, url, err, cap);
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, cap,
                 "JWTD_REDIS_URL: rediss:// (TLS) is not supported by this build's "
                 "hiredis 0.14; use a TLS proxy (stunnel) or a private network");
        return ERR_CONFIG;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || p[0] != '/') {
            snprintf(err, cap, "JWTD_REDIS_URL: expected unix:///absolute/path[?db=N]");
            return ERR_CONFIG;
        }
        rd->unix_path = xstrndup(p, n);
        if (q && strncmp(q, "?db=", 4) == 0)
            rd->db = (int)strtol(q + 4, NULL, 10);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, cap, "JWTD_REDIS_URL: expected redis://[:password@]host[:port][/db]");
        return ERR_CONFIG;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon)
            rd->password = xstrndup(colon + 1, (size_t)(at - colon - 1));
        else if (at > p)
            rd->password = xstrndup(p, (size_t)(at - p));
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    const char *pc = NULL;
    if (hl && p[0] == '[') {
        const char *rb = memchr(p, ']', hl);
        if (!rb) {
            snprintf(err, cap, "JWTD_REDIS_URL: bad IPv6 address");
            return ERR_CONFIG;
        }
        rd->host = xstrndup(p + 1, (size_t)(rb - p - 1));
        if (rb + 1 < p + hl && rb[1] == ':')
            pc = rb + 2;
    } else {
        const char *colon = memchr(p, ':', hl);
        rd->host = xstrndup(p, colon ? (size_t)(colon - p) : hl);
        if (colon)
            pc = colon + 1;
    }
    if (!rd->host[0]) {
        free(rd->host);
        rd->host = xstrdup("127.0.0.1");
    }
    if (pc) {
        char *end;
        long port = strtol(pc, &end, 10);
        if (end == pc || (end != p + hl) || port <= 0 || port > 65535) {
            snprintf(err, cap, "JWTD_REDIS_URL: bad port");
            return ERR_CONFIG;
        }
        rd->port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000000) {
            snprintf(err, cap, "JWTD_REDIS_URL: bad database number");
            return ERR_CONFIG;
        }
        rd->db = (int)db;
    }
    return 0;
}

/* ---- sentinel: where the master is -------------------------------------------------------- */

/* Connects with timeouts and sends AUTH when password is set. NULL (message in err) or a
   context the caller frees. */
static redisContext *sync_connect(const char *host, int port, const char *password, uint32_t ms,
                                  char *err, size_t cap)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(err, cap, "cannot connect to %s:%d: %s", host, port,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (password) {
        const char *argv[] = {"AUTH", password};
        redisReply *r = redisCommandArgv(c, 2, argv, NULL);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok)
            snprintf(err, cap, "AUTH at %s:%d %s", host, port, r ? "refused" : "failed: no reply");
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Whether the server at host:port answers ROLE with "master". */
static bool is_master(const store_redis_t *rd, const char *host, int port, char *err, size_t cap)
{
    redisContext *c = sync_connect(host, port, rd->password, rd->timeout_ms, err, cap);
    if (!c)
        return false;
    redisReply *r = redisCommand(c, "ROLE");
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
              r->element[0]->type == REDIS_REPLY_STRING &&
              strcmp(r->element[0]->str, "master") == 0;
    if (!ok)
        snprintf(err, cap, "%s:%d is not a master (%s)", host, port,
                 !r ? "no answer to ROLE" : "ROLE says otherwise");
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

/*
 * Asks the sentinels, starting with the one the watch uses, for the master of
 * rd->master_name and confirms it with ROLE. Blocking (each step bounded by the timeout):
 * only on the store thread, or in `jwtd check`. 0 with host/port, or ERR_UNAVAILABLE.
 */
static int sentinel_discover(store_redis_t *rd, char *host, size_t hcap, int *port, char *err,
                             size_t cap)
{
    char tried[256] = "";
    int tried_port = 0;
    snprintf(err, cap, "no sentinel answered");
    for (int k = 0; k < rd->nseeds; k++) {
        int i = (rd->watch_idx + k) % rd->nseeds;
        char why[256];
        redisContext *c = sync_connect(rd->seed_host[i], rd->seed_port[i], rd->sentinel_password,
                                       rd->timeout_ms, why, sizeof why);
        if (!c) {
            snprintf(err, cap, "sentinel %s", why);
            continue;
        }
        const char *argv[] = {"SENTINEL", "get-master-addr-by-name", rd->master_name};
        redisReply *r = redisCommandArgv(c, 3, argv, NULL);
        bool got = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                   r->element[0]->type == REDIS_REPLY_STRING &&
                   r->element[1]->type == REDIS_REPLY_STRING;
        if (got) {
            snprintf(host, hcap, "%s", r->element[0]->str);
            *port = (int)strtol(r->element[1]->str, NULL, 10);
        } else {
            snprintf(err, cap, "sentinel %s:%d does not know master %s", rd->seed_host[i],
                     rd->seed_port[i], rd->master_name);
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (!got)
            continue;
        if (strcmp(tried, host) == 0 && tried_port == *port)
            continue; /* the same answer as the previous sentinel, already refused */
        snprintf(tried, sizeof tried, "%s", host);
        tried_port = *port;
        if (is_master(rd, host, *port, err, cap))
            return 0;
    }
    return ERR_UNAVAILABLE;
}

/* Store thread: records the master's address; connections made for another one move. */
static void set_master(store_redis_t *rd, const char *host, int port, const char *why)
{
    pthread_mutex_lock(&rd->amu);
    bool changed = strcmp(rd->master_host, host) != 0 || rd->master_port != port;
    bool first = !rd->master_host[0];
    if (changed) {
        snprintf(rd->master_host, sizeof rd->master_host, "%s", host);
        rd->master_port = port;
        atomic_fetch_add(&rd->master_gen, 1);
    }
    pthread_mutex_unlock(&rd->amu);
    if (changed && first)
        log_info("msg=\"redis master found by sentinel\" master=%s host=%s port=%d",
                 rd->master_name, host, port);
    else if (changed)
        log_warn("msg=\"redis master changed, reconnecting\" master=%s host=%s port=%d by=%s",
                 rd->master_name, host, port, why);
}

/* Store thread, every tick: asks the sentinels when a connection asked for it (failure,
   READONLY), when the watch is not subscribed (every 5 s), never more often than the
   backoff allows. */
static void maybe_discover(store_redis_t *rd, uint64_t now)
{
    bool watching = rd->watch && rd->watch->state == RC_READY;
    bool want = atomic_load(&rd->rediscover) || rd->discovered_ns == 0 ||
                (!watching && now - rd->discovered_ns > 5000000000u);
    if (!want || now < rd->discover_at_ns)
        return;
    atomic_store(&rd->rediscover, false);
    char host[256], err[512];
    int port = 0;
    if (sentinel_discover(rd, host, sizeof host, &port, err, sizeof err) == 0) {
        set_master(rd, host, port, "sentinel");
        rd->discovered_ns = store__redis_mono_ns();
        rd->discover_backoff = 0;
        rd->discover_at_ns = rd->discovered_ns + 100000000u;
        return;
    }
    atomic_store(&rd->rediscover, true);
    rd->discover_backoff = rd->discover_backoff ? rd->discover_backoff * 2 : 100;
    if (rd->discover_backoff > 1000)
        rd->discover_backoff = 1000;
    rd->discover_at_ns = store__redis_mono_ns() + (uint64_t)rd->discover_backoff * 1000000u;
    log_debug("msg=\"redis master not found by sentinel\" master=%s err=\"%s\"", rd->master_name,
              err);
}

/* ---- one connection ------------------------------------------------------------------------ */

static void rc_on_reply(redisAsyncContext *ac, void *r, void *privdata);
static int cluster_cmd(rconn_t *router, rop_fn fn, void *arg, int argc, const char **argv,
                       const size_t *argvlen);
static void cluster_tick(rconn_t *router, uint64_t now);
static int cluster_node(rconn_t *router, const char *host, int port);
static void rc_on_sub(redisAsyncContext *ac, void *r, void *privdata);

static const char *rc_name(const rconn_t *rc)
{
    return rc->watch        ? "sentinel"
           : rc->subscriber ? "subscriber"
           : rc->parent     ? "cluster-node"
                            : "command";
}

/* Sends argv without looking at the state (the connect preamble). 0 or -1. */
static int rc_send(rconn_t *rc, rop_fn fn, void *arg, int argc, const char **argv,
                   const size_t *argvlen)
{
    if (!rc->ac)
        return -1;
    struct rop *op = xmalloc(sizeof *op);
    op->next = NULL;
    op->start_ns = store__redis_mono_ns();
    op->fn = fn;
    op->arg = arg;
    if (rc->tail)
        rc->tail->next = op;
    else
        rc->head = op;
    rc->tail = op;
    if (redisAsyncCommandArgv(rc->ac, rc_on_reply, op, argc, argv, argvlen) != REDIS_OK) {
        /* not queued: unlink (it is the tail) */
        struct rop **pp = &rc->head;
        struct rop *prev = NULL;
        while (*pp && *pp != op) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp)
            *pp = op->next;
        if (rc->tail == op)
            rc->tail = prev;
        free(op);
        return -1;
    }
    return 0;
}

/* See redis_internal.h. */
int store__rc_cmd(rconn_t *rc, rop_fn fn, void *arg, int argc, const char **argv,
                  const size_t *argvlen)
{
    if (rc && rc->cl)
        return cluster_cmd(rc, fn, arg, argc, argv, argvlen);
    if (!rc || rc->state != RC_READY)
        return -1;
    return rc_send(rc, fn, arg, argc, argv, argvlen);
}

static void on_preamble(rconn_t *rc, void *arg, redisReply *r);

/* Loads the Lua scripts (EVALSHA needs them): after connect, and after a NOSCRIPT. */
static void rc_load_scripts(rconn_t *rc)
{
    rc->scripts_loaded_ns = store__redis_mono_ns();
    for (int i = 0; i < SCRIPT__N; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", SCRIPTS[i]};
        size_t len[] = {6, 4, strlen(SCRIPTS[i])};
        rc_send(rc, on_preamble, "SCRIPT LOAD", 3, argv, len);
    }
}

static void rc_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    rconn_t *rc = ac->data;
    struct rop *op = privdata;
    /* unlink op: normally the head (replies come in order) */
    struct rop **pp = &rc->head, *prev = NULL;
    while (*pp && *pp != op) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = op->next;
        if (rc->tail == op)
            rc->tail = prev;
    }
    redisReply *reply = r;
    /* someone ran SCRIPT FLUSH (or a failover to a replica without them): load them again
       (once for the burst of commands already sent: at most every 100 ms); this command
       itself falls back like any other failure */
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
        rc->ac && store__redis_mono_ns() - rc->scripts_loaded_ns > 100000000u) {
        log_warn("msg=\"redis lost the Lua scripts, loading them again\" conn=%s", rc_name(rc));
        rc_load_scripts(rc);
    }
    /* a master demoted to replica (a failover we have not heard of yet): ask the
       sentinels and reconnect at the next tick; this command falls back */
    if (reply && reply->type == REDIS_REPLY_ERROR && rc->rd->sentinel &&
        strncmp(reply->str, "READONLY", 8) == 0 && !rc->reconnect) {
        log_warn("msg=\"redis answered READONLY, asking the sentinels\" conn=%s", rc_name(rc));
        rc->reconnect = true;
        atomic_store(&rc->rd->rediscover, true);
    }
    if (op->fn)
        op->fn(rc, op->arg, r);
    free(op);
}

static void schedule_retry(rconn_t *rc)
{
    rc->state = RC_DOWN;
    rc->backoff = rc->backoff ? rc->backoff * 2 : 50;
    if (rc->backoff > 2000)
        rc->backoff = 2000;
    rc->retry_at_ns = store__redis_mono_ns() + (uint64_t)rc->backoff * 1000000u;
    if (rc->was_ready) {
        log_warn("msg=\"redis connection lost, reconnecting\" conn=%s", rc_name(rc));
        rc->was_ready = false;
    }
    if (rc->subscriber)
        atomic_store(&rc->rd->sub_up, false);
    else if (rc == rc->rd->cmd)
        atomic_store(&rc->rd->cmd_up, false);
    if (rc->parent) /* a node failed: maybe its slots moved (a failover) */
        rc->parent->cl->refresh = true;
    else if (rc->rd->cluster && rc->subscriber) /* the next attempt goes to the next node */
        rc->rd->sub_idx = (rc->rd->sub_idx + 1) % rc->rd->nseeds;
    if (rc->watch) /* the next attempt goes to the next sentinel */
        rc->rd->watch_idx = (rc->rd->watch_idx + 1) % rc->rd->nseeds;
    else if (rc->rd->sentinel)
        atomic_store(&rc->rd->rediscover, true); /* maybe the master moved */
}

/* Drops the connection (timeout, stop): outstanding callbacks run with a NULL reply. */
static void rc_teardown(rconn_t *rc)
{
    redisAsyncContext *ac = rc->ac;
    rc->ac = NULL;
    if (ac)
        redisAsyncFree(ac);
    if (!rc->closing)
        schedule_retry(rc);
    else
        rc->state = RC_DOWN;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn_t *rc = ac->data;
    if (rc->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        log_debug("msg=\"redis connect failed\" conn=%s err=\"%s\"", rc_name(rc), ac->errstr);
        rc->ac = NULL;
        schedule_retry(rc);
        return;
    }
    if (rc->subscriber || rc->watch)
        return; /* ready once the subscription is confirmed */
    rc->state = RC_READY;
    rc->backoff = 0;
    if (!rc->was_ready) {
        rc->was_ready = true;
        if (rc == rc->rd->cmd)
            log_info("msg=\"redis connected\" conn=%s", rc_name(rc));
    }
    if (rc == rc->rd->cmd)
        atomic_store(&rc->rd->cmd_up, true);
    if (rc->parent && !rc->parent->cl->loaded) /* the slot map at once, not at the next tick */
        cluster_tick(rc->parent, store__redis_mono_ns());
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn_t *rc = ac->data;
    (void)status;
    if (rc->ac != ac)
        return; /* we tore it down ourselves */
    rc->ac = NULL;
    if (!rc->closing)
        schedule_retry(rc);
}

/* Replies of the connect preamble: only errors matter (logged). */
static void on_preamble(rconn_t *rc, void *arg, redisReply *r)
{
    const char *what = arg;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("msg=\"redis %s failed\" conn=%s err=\"%s\"", what, rc_name(rc), r->str);
}

static void rc_on_watch(redisAsyncContext *ac, void *r, void *privdata);

static void rc_connect(rconn_t *rc)
{
    store_redis_t *rd = rc->rd;
    rc->reconnect = false;
    char host[256];
    int port = rd->port;
    if (rc->watch) {
        snprintf(host, sizeof host, "%s", rd->seed_host[rd->watch_idx]);
        port = rd->seed_port[rd->watch_idx];
    } else if (rc->node_port) {
        snprintf(host, sizeof host, "%s", rc->node_host);
        port = rc->node_port;
    } else if (rd->cluster) { /* the subscriber: any node hears every PUBLISH */
        snprintf(host, sizeof host, "%s", rd->seed_host[rd->sub_idx]);
        port = rd->seed_port[rd->sub_idx];
    } else if (rd->sentinel) {
        pthread_mutex_lock(&rd->amu);
        snprintf(host, sizeof host, "%s", rd->master_host);
        port = rd->master_port;
        rc->gen = atomic_load(&rd->master_gen);
        pthread_mutex_unlock(&rd->amu);
        if (!host[0]) { /* not known yet: the store thread is asking */
            schedule_retry(rc);
            return;
        }
    } else if (!rd->unix_path) {
        snprintf(host, sizeof host, "%s", rd->host);
    }
    redisAsyncContext *ac =
        rd->unix_path ? redisAsyncConnectUnix(rd->unix_path) : redisAsyncConnect(host, port);
    if (!ac) {
        schedule_retry(rc);
        return;
    }
    if (ac->err) {
        log_debug("msg=\"redis connect failed\" err=\"%s\"", ac->errstr);
        redisAsyncFree(ac);
        schedule_retry(rc);
        return;
    }
    ac->data = rc;
    if (redisLibuvAttach(ac, rc->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(rc);
        return;
    }
    rc->ac = ac;
    rc->state = RC_CONNECTING;
    rc->connect_started_ns = store__redis_mono_ns();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (rc->watch) {
        if (rd->sentinel_password) {
            const char *argv[] = {"AUTH", rd->sentinel_password};
            size_t len[] = {4, strlen(rd->sentinel_password)};
            rc_send(rc, on_preamble, "sentinel AUTH", 2, argv, len);
        }
        const char *argv[] = {"SUBSCRIBE", "+switch-master"};
        size_t len[] = {9, 14};
        redisAsyncCommandArgv(ac, rc_on_watch, rc, 2, argv, len);
        return;
    }
    if (rd->password) {
        const char *argv[] = {"AUTH", rd->password};
        size_t len[] = {4, strlen(rd->password)};
        rc_send(rc, on_preamble, "AUTH", 2, argv, len);
    }
    if (rc->subscriber) {
        const char *argv[] = {"SUBSCRIBE", rd->channel};
        size_t len[] = {9, strlen(rd->channel)};
        redisAsyncCommandArgv(ac, rc_on_sub, rc, 2, argv, len);
        return;
    }
    if (rd->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", rd->db);
        const char *argv[] = {"SELECT", db};
        size_t len[] = {6, strlen(db)};
        rc_send(rc, on_preamble, "SELECT", 2, argv, len);
    }
    rc_load_scripts(rc);
}

static void on_timer(uv_timer_t *t)
{
    rconn_t *rc = t->data;
    if (rc->closing)
        return;
    uint64_t now = store__redis_mono_ns();
    uint64_t limit = (uint64_t)rc->rd->timeout_ms * 1000000u;
    store_redis_t *rd = rc->rd;
    if (rc->cl) {
        cluster_tick(rc, now);
        return;
    }
    bool pinger = rc == rd->cmd || (rc->parent && rc->parent == rd->cmd);
    if (rd->sentinel && rc == rd->cmd)
        maybe_discover(rd, now);
    if (rd->sentinel && !rc->watch && rc->gen != atomic_load(&rd->master_gen)) {
        /* the master moved: reconnect now, whatever the backoff */
        if (rc->ac)
            rc_teardown(rc);
        rc->gen = atomic_load(&rd->master_gen);
        rc->backoff = 0;
        rc->retry_at_ns = now;
        now = store__redis_mono_ns();
    } else if (rc->reconnect && rc->ac) {
        rc_teardown(rc);
    }
    switch (rc->state) {
    case RC_DOWN:
        if (now >= rc->retry_at_ns)
            rc_connect(rc);
        break;
    case RC_CONNECTING:
        if (now - rc->connect_started_ns > limit) {
            log_debug("msg=\"redis connect timed out\" conn=%s", rc_name(rc));
            rc_teardown(rc);
        }
        break;
    case RC_READY:
        if (rc->head && now - rc->head->start_ns > limit) {
            log_warn("msg=\"redis command timed out, reconnecting\" conn=%s timeout_ms=%u",
                     rc_name(rc), rc->rd->timeout_ms);
            rc_teardown(rc);
            /* the subscriber shares the server: a silent (hung) Redis is only seen here */
            if (rc == rc->rd->cmd && rc->rd->sub && rc->rd->sub->ac)
                rc_teardown(rc->rd->sub);
        } else if (pinger && now - rc->ping_ns > 1000000000u) {
            rc->ping_ns = now; /* health check of the store thread's connection */
            const char *argv[] = {"PING"};
            size_t len[] = {4};
            store__rc_cmd(rc, NULL, NULL, 1, argv, len);
        }
        break;
    }
}

/* parent, host, port: a cluster node connection of that router. */
static rconn_t *rc_new_kind(store_redis_t *rd, uv_loop_t *loop, bool subscriber, bool watch,
                            rconn_t *parent, const char *host, int port)
{
    rconn_t *rc = xcalloc(1, sizeof *rc);
    rc->rd = rd;
    rc->loop = loop;
    rc->subscriber = subscriber;
    rc->watch = watch;
    rc->state = RC_DOWN;
    rc->parent = parent;
    if (parent) {
        snprintf(rc->node_host, sizeof rc->node_host, "%s", host);
        rc->node_port = port;
    } else if (rd->cluster && !subscriber) {
        /* a router: a connection per seed node until CLUSTER SLOTS names the masters */
        rc->cl = xcalloc(1, sizeof *rc->cl);
        memset(rc->cl->slot, NODE_NONE, sizeof rc->cl->slot);
        rc->cl->refresh = true;
        for (int i = 0; i < rd->nseeds; i++)
            cluster_node(rc, rd->seed_host[i], rd->seed_port[i]);
    }
    uv_timer_init(loop, &rc->timer);
    rc->timer.data = rc;
    uint64_t tick = rd->timeout_ms / 4;
    if (tick < 5)
        tick = 5;
    if (tick > 100)
        tick = 100;
    uv_timer_start(&rc->timer, on_timer, 0, tick);
    if (!rc->cl)
        rc_connect(rc);
    return rc;
}

static rconn_t *rc_new(store_redis_t *rd, uv_loop_t *loop, bool subscriber)
{
    return rc_new_kind(rd, loop, subscriber, false, NULL, NULL, 0);
}

/* Sentinel mode: the store thread's subscription to +switch-master. */
static rconn_t *rc_new_watch(store_redis_t *rd, uv_loop_t *loop)
{
    return rc_new_kind(rd, loop, false, true, NULL, NULL, 0);
}

static void rc_free_cb(uv_handle_t *h)
{
    free(h->data);
}

/* Closes rc on its loop thread; memory is freed when the loop runs the close callback. */
static void rc_close(rconn_t *rc)
{
    if (!rc)
        return;
    rc->closing = true;
    uv_timer_stop(&rc->timer);
    if (rc->cl) { /* the nodes' callbacks (NULL replies) run now, while cl is still there */
        for (int i = 0; i < rc->cl->nnodes; i++)
            rc_close(rc->cl->node[i]);
        free(rc->cl);
        rc->cl = NULL;
    }
    rc_teardown(rc);
    uv_close((uv_handle_t *)&rc->timer, rc_free_cb);
}

/* ---- cluster: slot map and redirections ------------------------------------------------------ */

/* The node connection of router for host:port (created, and connecting, when new). Its
   index, or -1 when CLUSTER_NODES_MAX are in use. */
static int cluster_node(rconn_t *router, const char *host, int port)
{
    struct cluster *cl = router->cl;
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->node[i]->node_port == port && strcmp(cl->node[i]->node_host, host) == 0)
            return i;
    if (cl->nnodes == CLUSTER_NODES_MAX)
        return -1;
    cl->node[cl->nnodes] = rc_new_kind(router->rd, router->loop, false, false, router, host, port);
    return cl->nnodes++;
}

/* A command routed by the router: a copy of it, to send it again after a redirection. */
struct ccmd {
    rconn_t *router;
    rop_fn fn;
    void *arg;
    int argc;
    int tries;
    char **argv;
    size_t *len;
};

static void ccmd_free(struct ccmd *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->len);
    free(c);
}

/* The key that decides the node: EVAL[SHA]'s first key, else the first argument (GET, SET,
   DEL). false: any node will do (PING, a script without keys, PUBLISH: Redis 7 forwards it
   to every node over the cluster bus, so a lost node only costs its own slots). */
static bool ccmd_key(int argc, char *const *argv, const size_t *len, const char **key, size_t *klen)
{
    if (strcasecmp(argv[0], "PUBLISH") == 0)
        return false;
    if (argc >= 3 && (strcasecmp(argv[0], "EVALSHA") == 0 || strcasecmp(argv[0], "EVAL") == 0)) {
        if (argc < 4 || strcmp(argv[2], "0") == 0)
            return false;
        *key = argv[3];
        *klen = len[3];
        return true;
    }
    if (argc < 2)
        return false;
    *key = argv[1];
    *klen = len[1];
    return true;
}

static void on_cluster_reply(rconn_t *node, void *arg, redisReply *r);

/* Sends c on node i (after ASKING when asking). 0, or -1 when that node is not ready. */
static int ccmd_send(struct ccmd *c, int i, bool asking)
{
    rconn_t *node = c->router->cl->node[i];
    if (node->state != RC_READY)
        return -1;
    if (asking && rc_send(node, NULL, NULL, 1, (const char *[]){"ASKING"}, (size_t[]){6}) != 0)
        return -1;
    return rc_send(node, on_cluster_reply, c, c->argc, (const char **)c->argv, c->len);
}

/* The node for c: the slot's owner, or (no key) the first ready node. -1 if none. */
static int ccmd_route(struct ccmd *c)
{
    struct cluster *cl = c->router->cl;
    const char *key;
    size_t klen;
    if (ccmd_key(c->argc, c->argv, c->len, &key, &klen)) {
        uint8_t i = cl->slot[store__key_slot(key, klen)];
        return i == NODE_NONE ? -1 : i;
    }
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->node[i]->state == RC_READY)
            return i;
    return -1;
}

static int cluster_cmd(rconn_t *router, rop_fn fn, void *arg, int argc, const char **argv,
                       const size_t *argvlen)
{
    if (!router->cl->loaded)
        return -1;
    struct ccmd *c = xcalloc(1, sizeof *c);
    c->router = router;
    c->fn = fn;
    c->arg = arg;
    c->argc = argc;
    c->argv = xmalloc(sizeof(char *) * (size_t)argc);
    c->len = xmalloc(sizeof(size_t) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        c->argv[i] = xstrndup(argv[i], argvlen[i]);
        c->len[i] = argvlen[i];
    }
    int i = ccmd_route(c);
    if (i < 0 || ccmd_send(c, i, false) != 0) {
        ccmd_free(c);
        return -1;
    }
    return 0;
}

/* EVALSHA that met NOSCRIPT (the node lost its scripts, or this connection is newer than
   them): the same command as EVAL with the script's text. false if c is not our EVALSHA. */
static bool ccmd_as_eval(struct ccmd *c)
{
    if (c->argc < 3 || strcmp(c->argv[0], "EVALSHA") != 0)
        return false;
    for (int s = 0; s < SCRIPT__N; s++) {
        if (strcmp(c->argv[1], c->router->rd->sha[s]) != 0)
            continue;
        free(c->argv[0]);
        free(c->argv[1]);
        c->argv[0] = xstrdup("EVAL");
        c->len[0] = 4;
        c->argv[1] = xstrdup(SCRIPTS[s]);
        c->len[1] = strlen(SCRIPTS[s]);
        return true;
    }
    return false;
}

/* Every routed command's reply: MOVED (the slot has a new owner: remember it, read the
   map again, send there), ASK (a slot being migrated: ASKING then the command on the
   target, this once), NOSCRIPT (again as EVAL), else the caller's callback. */
static void on_cluster_reply(rconn_t *node, void *arg, redisReply *r)
{
    struct ccmd *c = arg;
    struct cluster *cl = c->router->cl;
    if (!r) {
        if (cl)
            cl->refresh = true; /* a timeout or a lost node: maybe the map changed */
    } else if (r->type == REDIS_REPLY_ERROR && cl && !node->closing && c->tries < 5) {
        struct redirect red;
        if (store__redirect_parse(r->str, r->len, &red) != REDIRECT_NONE) {
            c->tries++;
            /* a node that does not know its address means the one we asked */
            int i = cluster_node(c->router, red.host[0] ? red.host : node->node_host, red.port);
            if (i >= 0 && red.kind == REDIRECT_MOVED) {
                cl->slot[red.slot] = (uint8_t)i;
                cl->refresh = true;
            }
            if (i >= 0 && ccmd_send(c, i, red.kind == REDIRECT_ASK) == 0)
                return;
            log_debug("msg=\"redis cluster redirect not followed: node not ready\" slot=%u "
                      "host=%s port=%d",
                      red.slot, red.host, red.port);
        } else if (strncmp(r->str, "NOSCRIPT", 8) == 0 && ccmd_as_eval(c)) {
            c->tries++;
            if (rc_send(node, on_cluster_reply, c, c->argc, (const char **)c->argv, c->len) == 0)
                return;
        } else if (strncmp(r->str, "CLUSTERDOWN", 11) == 0 || strncmp(r->str, "TRYAGAIN", 8) == 0) {
            cl->refresh = true;
        }
    }
    if (c->fn)
        c->fn(node, c->arg, r);
    ccmd_free(c);
}

/* CLUSTER SLOTS: [[start, end, [host, port, id...], replicas...], ...]. Applies the
   masters to the router's map; unknown slots stay unknown (commands there fall back). */
static void on_slots(rconn_t *node, void *arg, redisReply *r)
{
    rconn_t *router = arg;
    struct cluster *cl = router->cl;
    if (!cl || router->closing)
        return;
    cl->refreshing = false;
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    for (size_t k = 0; ok && k < r->elements; k++) {
        redisReply *e = r->element[k];
        ok = e->type == REDIS_REPLY_ARRAY && e->elements >= 3 &&
             e->element[0]->type == REDIS_REPLY_INTEGER &&
             e->element[1]->type == REDIS_REPLY_INTEGER &&
             e->element[2]->type == REDIS_REPLY_ARRAY && e->element[2]->elements >= 2 &&
             e->element[2]->element[0]->type == REDIS_REPLY_STRING &&
             e->element[2]->element[1]->type == REDIS_REPLY_INTEGER &&
             e->element[0]->integer >= 0 && e->element[0]->integer <= e->element[1]->integer &&
             e->element[1]->integer < CLUSTER_SLOTS && e->element[2]->element[1]->integer > 0 &&
             e->element[2]->element[1]->integer <= 65535;
    }
    uint64_t now = store__redis_mono_ns();
    if (!ok) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_warn("msg=\"redis CLUSTER SLOTS refused\" host=%s port=%d err=\"%s\"",
                     node->node_host, node->node_port, r->str);
        cl->backoff = cl->backoff ? cl->backoff * 2 : 100;
        if (cl->backoff > 2000)
            cl->backoff = 2000;
        cl->refresh = true;
        cl->refresh_at_ns = now + (uint64_t)cl->backoff * 1000000u;
        return;
    }
    memset(cl->slot, NODE_NONE, sizeof cl->slot);
    size_t covered = 0;
    for (size_t k = 0; k < r->elements; k++) {
        redisReply *e = r->element[k];
        const char *host = e->element[2]->element[0]->str;
        int i = cluster_node(router, host[0] && strcmp(host, "?") != 0 ? host : node->node_host,
                             (int)e->element[2]->element[1]->integer);
        if (i < 0)
            continue;
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            cl->slot[s] = (uint8_t)i;
        covered += (size_t)(e->element[1]->integer - e->element[0]->integer + 1);
    }
    if (!cl->loaded || covered != CLUSTER_SLOTS)
        log_info("msg=\"redis cluster slot map read\" ranges=%zu slots_covered=%zu nodes=%d",
                 r->elements, covered, cl->nnodes);
    cl->loaded = true;
    cl->refresh = false;
    cl->backoff = 0;
    cl->refresh_at_ns = now + 100000000u; /* at most 10 maps a second */
}

/* The router's tick: reads CLUSTER SLOTS (from any ready node) when asked, and publishes
   the store thread's router's health. */
static void cluster_tick(rconn_t *router, uint64_t now)
{
    struct cluster *cl = router->cl;
    store_redis_t *rd = router->rd;
    int ready = -1;
    for (int k = 0; k < cl->nnodes && ready < 0; k++)
        if (cl->node[k]->state == RC_READY)
            ready = k;
    if (router == rd->cmd) {
        bool up = cl->loaded && ready >= 0;
        bool was = atomic_exchange(&rd->cmd_up, up);
        if (up && !was)
            log_info("msg=\"redis cluster connected\" nodes=%d", cl->nnodes);
        else if (!up && was)
            log_warn("msg=\"redis cluster unreachable, reconnecting\"");
    }
    router->state = cl->loaded ? RC_READY : RC_DOWN;
    if (cl->refreshing || !cl->refresh || now < cl->refresh_at_ns || ready < 0)
        return;
    /* start from a different node each time: the one that failed may be the first */
    static _Thread_local unsigned spin;
    for (int k = 0; k < cl->nnodes; k++) {
        rconn_t *n = cl->node[(unsigned)(k + (int)spin) % (unsigned)cl->nnodes];
        if (n->state != RC_READY)
            continue;
        if (rc_send(n, on_slots, router, 2, (const char *[]){"CLUSTER", "SLOTS"},
                    (size_t[]){7, 5}) == 0) {
            cl->refreshing = true;
            spin++;
            return;
        }
    }
}

/* ---- subscriber ------------------------------------------------------------------------------ */

static bool parse_i64(const char **p, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(*p, &end, 10);
    if (end == *p || errno)
        return false;
    *out = v;
    *p = end;
    return true;
}

/* Applies one message of another instance (or our own: harmless) to the local index. */
static void apply_message(store_redis_t *rd, const char *m, size_t n)
{
    store_t *st = rd->st;
    char buf[160];
    if (n < 3 || n >= sizeof buf || m[1] != ' ')
        return;
    memcpy(buf, m, n);
    buf[n] = '\0';
    const char *p = buf + 2;
    int64_t a, b, c;
    store_id_t id;
    switch (buf[0]) {
    case 'j':
    case 's':
        if (n < 2 + 32 + 2 || store_id_parse(str_make(p, 32), &id) != 0)
            return;
        p += 32;
        if (!parse_i64(&p, &a))
            return;
        if (buf[0] == 'j')
            store_revindex_add_jti(st->ix, &id, a);
        else
            store_revindex_add_sid(st->ix, &id, a);
        store_request_pull(st); /* the owner's pull also brings the revocation feed's rows */
        break;
    case 'w':
        if (!parse_i64(&p, &a) || !parse_i64(&p, &b) || !parse_i64(&p, &c))
            return;
        store_revindex_set_watermark(st->ix, a, b, c);
        if (st->user_fn)
            st->user_fn(st->user_arg, a);
        store_request_pull(st); /* the sessions revoked with it */
        break;
    case 'u':
        if (parse_i64(&p, &a) && st->user_fn)
            st->user_fn(st->user_arg, a);
        break;
    default:
        break;
    }
}

static void rc_on_sub(redisAsyncContext *ac, void *r, void *privdata)
{
    rconn_t *rc = privdata;
    redisReply *reply = r;
    (void)ac;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
        return;
    redisReply *kind = reply->element[0];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(kind->str, "message") == 0) {
        redisReply *data = reply->element[2];
        if (data->type == REDIS_REPLY_STRING)
            apply_message(rc->rd, data->str, data->len);
    } else if (strcmp(kind->str, "subscribe") == 0) {
        rc->state = RC_READY;
        rc->backoff = 0;
        atomic_store(&rc->rd->sub_up, true);
        if (!rc->was_ready) {
            rc->was_ready = true;
            log_info("msg=\"redis subscribed, resynchronising revocations\" channel=%s",
                     rc->rd->channel);
        }
        /* anything published while we were not listening is in the database */
        store_request_pull(rc->rd->st);
    }
}

/* The sentinel's +switch-master messages: "<name> <old-ip> <old-port> <new-ip> <new-port>". */
static void rc_on_watch(redisAsyncContext *ac, void *r, void *privdata)
{
    rconn_t *rc = privdata;
    store_redis_t *rd = rc->rd;
    redisReply *reply = r;
    (void)ac;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = reply->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        rc->state = RC_READY;
        rc->backoff = 0;
        if (!rc->was_ready) {
            rc->was_ready = true;
            log_info("msg=\"redis sentinel watched\" host=%s port=%d master=%s",
                     rd->seed_host[rd->watch_idx], rd->seed_port[rd->watch_idx], rd->master_name);
        }
        atomic_store(&rd->rediscover, true); /* a switch may have happened meanwhile */
        return;
    }
    if (strcmp(kind, "message") != 0 || reply->element[2]->type != REDIS_REPLY_STRING)
        return;
    char name[128], oldh[256], newh[256];
    int oldp, newp;
    if (sscanf(reply->element[2]->str, "%127s %255s %d %255s %d", name, oldh, &oldp, newh, &newp) !=
            5 ||
        strcmp(name, rd->master_name) != 0 || newp <= 0 || newp > 65535)
        return;
    set_master(rd, newh, newp, "+switch-master");
    /* confirmed by ROLE at the next tick (and corrected if the sentinels disagree) */
    atomic_store(&rd->rediscover, true);
    rd->discover_at_ns = 0;
}

/* ---- the store thread and its queue --------------------------------------------------------- */

static void qitem_free(struct qitem *q)
{
    for (int i = 0; i < q->argc; i++)
        free(q->argv[i]);
    free(q->argv);
    free(q->argvlen);
    free(q);
}

static void on_sync_reply(rconn_t *rc, void *arg, redisReply *r)
{
    struct syncwait *w = arg;
    pthread_mutex_lock(&rc->rd->qmu);
    if (r && r->type == REDIS_REPLY_STRING) {
        w->status = 0;
        w->len = r->len;
        if (w->out && w->cap)
            memcpy(w->out, r->str, r->len < w->cap ? r->len : w->cap);
    } else if (r && r->type == REDIS_REPLY_INTEGER) { /* as its decimal text */
        char num[24];
        int n = snprintf(num, sizeof num, "%lld", r->integer);
        w->status = 0;
        w->len = (size_t)n;
        if (w->out && w->cap)
            memcpy(w->out, num, (size_t)n < w->cap ? (size_t)n : w->cap);
    } else {
        w->status = ERR_NOT_FOUND;
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&rc->rd->qmu);
}

static void on_wake(uv_async_t *h)
{
    store_redis_t *rd = h->data;
    pthread_mutex_lock(&rd->qmu);
    struct qitem *q = rd->qhead;
    rd->qhead = rd->qtail = NULL;
    rd->qlen = 0;
    bool stopping = rd->stopping;
    pthread_mutex_unlock(&rd->qmu);
    while (q) {
        struct qitem *next = q->next;
        int rc = -1;
        if (!stopping)
            rc = store__rc_cmd(rd->cmd, q->wait ? on_sync_reply : NULL, q->wait, q->argc,
                               (const char **)q->argv, q->argvlen);
        if (rc != 0) {
            atomic_fetch_add(&rd->dropped, 1);
            if (q->wait) {
                pthread_mutex_lock(&rd->qmu);
                q->wait->status = ERR_NOT_FOUND;
                q->wait->done = true;
                pthread_cond_signal(&q->wait->cv);
                pthread_mutex_unlock(&rd->qmu);
            }
        }
        qitem_free(q);
        q = next;
    }
    if (stopping) {
        rc_close(rd->cmd);
        rc_close(rd->sub);
        rc_close(rd->watch);
        uv_close((uv_handle_t *)&rd->wake, NULL);
    }
}

static void *redis_main(void *arg)
{
    store_redis_t *rd = arg;
    uv_run(&rd->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* See redis_internal.h. */
void store__redis_enqueue(store_redis_t *rd, int argc, const char **argv, const size_t *argvlen,
                          struct syncwait *w)
{
    struct qitem *q = xcalloc(1, sizeof *q);
    q->argc = argc;
    q->argv = xmalloc(sizeof(char *) * (size_t)argc);
    q->argvlen = xmalloc(sizeof(size_t) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        q->argv[i] = xstrndup(argv[i], argvlen[i]);
        q->argvlen[i] = argvlen[i];
    }
    q->wait = w;
    pthread_mutex_lock(&rd->qmu);
    if (rd->stopping || rd->qlen > 100000) {
        pthread_mutex_unlock(&rd->qmu);
        atomic_fetch_add(&rd->dropped, 1);
        if (w) {
            w->status = ERR_NOT_FOUND;
            w->done = true;
        }
        qitem_free(q);
        return;
    }
    if (rd->qtail)
        rd->qtail->next = q;
    else
        rd->qhead = q;
    rd->qtail = q;
    rd->qlen++;
    pthread_mutex_unlock(&rd->qmu);
    uv_async_send(&rd->wake);
}

/* See redis_internal.h. */
void store__redis_send_any(store_redis_t *rd, int argc, const char **argv, const size_t *argvlen)
{
    if (store__tls_rc && store__tls_rc->rd == rd &&
        store__rc_cmd(store__tls_rc, NULL, NULL, argc, argv, argvlen) == 0)
        return;
    store__redis_enqueue(rd, argc, argv, argvlen, NULL);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void sha1_hex(const char *s, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < n && i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[40] = '\0';
}

static void rd_free(store_redis_t *rd)
{
    free(rd->host);
    free(rd->unix_path);
    if (rd->password)
        OPENSSL_cleanse(rd->password, strlen(rd->password));
    free(rd->password);
    if (rd->sentinel_password)
        OPENSSL_cleanse(rd->sentinel_password, strlen(rd->sentinel_password));
    free(rd->sentinel_password);
    free(rd->master_name);
    for (int i = 0; i < rd->nseeds; i++)
        free(rd->seed_host[i]);
    free(rd);
}

/* The URL, then the sentinels' password file. */
static int rd_configure(store_redis_t *rd, const store_redis_options_t *o, char *err, size_t cap)
{
    int rc = parse_url(rd, o->url, err, cap);
    if (rc == 0 && o->sentinel_password_file && rd->sentinel)
        rc = read_password_file(rd, o->sentinel_password_file, err, cap);
    rd->timeout_ms = o->timeout_ms ? o->timeout_ms : 500;
    return rc;
}

/* Sends one command and checks its reply is not an error. Returns 0 or ERR_UNAVAILABLE. */
static int sync_command(redisContext *c, int argc, const char **argv, char *err, size_t cap)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int rc = 0;
    if (!r)
        snprintf(err, cap, "%s failed: %s", argv[0], c->errstr[0] ? c->errstr : "no reply");
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, cap, "%s refused: %.*s", argv[0], (int)r->len, r->str);
    rc = !r || r->type == REDIS_REPLY_ERROR ? ERR_UNAVAILABLE : 0;
    if (r)
        freeReplyObject(r);
    return rc;
}

/* One synchronous command (after connect, AUTH, SELECT) to the Redis of o. */
static int sync_once(const store_redis_options_t *o, int argc, const char **argv, char *err,
                     size_t cap);

/* See store.h. */
int store_redis_ping(const store_redis_options_t *o, char *err, size_t cap)
{
    return sync_once(o, 1, (const char *[]){"PING"}, err, cap);
}

/* See store.h. */
int store_redis_publish_watermark(const store_redis_options_t *o, int64_t user_id,
                                  int64_t revoke_before, int64_t keep_until, char *err, size_t cap)
{
    char channel[160], msg[96];
    snprintf(channel, sizeof channel, "%srevocations", o->prefix ? o->prefix : "jwtd:");
    snprintf(msg, sizeof msg, "w %" PRId64 " %" PRId64 " %" PRId64, user_id, revoke_before,
             keep_until);
    return sync_once(o, 3, (const char *[]){"PUBLISH", channel, msg}, err, cap);
}

static int sync_once(const store_redis_options_t *o, int argc, const char **argv, char *err,
                     size_t cap)
{
    store_redis_t *rd = xcalloc(1, sizeof *rd);
    int rc = rd_configure(rd, o, err, cap);
    uint32_t ms = rd->timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    redisContext *c = NULL;
    if (rc == 0 && rd->sentinel) {
        char host[256];
        int port = 0;
        rc = sentinel_discover(rd, host, sizeof host, &port, err, cap);
        if (rc == 0) {
            rd->host = xstrdup(host);
            rd->port = port;
        }
    }
    if (rc == 0 && rd->cluster) { /* any node answers PING, and PUBLISH reaches them all */
        for (int i = 0; i < rd->nseeds && !c; i++) {
            c = sync_connect(rd->seed_host[i], rd->seed_port[i], rd->password, ms, err, cap);
            if (c)
                rc = sync_command(c, argc, argv, err, cap);
        }
        if (!c)
            rc = ERR_UNAVAILABLE;
        else
            redisFree(c);
        rd_free(rd);
        return rc;
    }
    if (rc == 0) {
        c = rd->unix_path ? redisConnectUnixWithTimeout(rd->unix_path, tv)
                          : redisConnectWithTimeout(rd->host, rd->port, tv);
        if (!c || c->err) {
            if (rd->unix_path)
                snprintf(err, cap, "cannot connect to %s: %s", rd->unix_path,
                         c ? c->errstr : "out of memory");
            else
                snprintf(err, cap, "cannot connect to %s:%d: %s", rd->host, rd->port,
                         c ? c->errstr : "out of memory");
            rc = ERR_UNAVAILABLE;
        }
    }
    if (rc == 0)
        redisSetTimeout(c, tv);
    if (rc == 0 && rd->password)
        rc = sync_command(c, 2, (const char *[]){"AUTH", rd->password}, err, cap);
    char dbs[16];
    snprintf(dbs, sizeof dbs, "%d", rd->db);
    if (rc == 0 && rd->db)
        rc = sync_command(c, 2, (const char *[]){"SELECT", dbs}, err, cap);
    if (rc == 0)
        rc = sync_command(c, argc, argv, err, cap);
    if (c)
        redisFree(c);
    rd_free(rd);
    return rc;
}

/* See store.h. */
int store_redis_start(store_t *st, const store_redis_options_t *o, char *err, size_t cap)
{
    if (!st || !o || !o->url || st->rd)
        return ERR_INVALID;
    store_redis_t *rd = xcalloc(1, sizeof *rd);
    rd->st = st;
    int rc = rd_configure(rd, o, err, cap);
    if (rc != 0) {
        rd_free(rd);
        return rc;
    }
    snprintf(rd->prefix, sizeof rd->prefix, "%s", o->prefix ? o->prefix : "jwtd:");
    snprintf(rd->channel, sizeof rd->channel, "%srevocations", rd->prefix);
    for (int i = 0; i < SCRIPT__N; i++)
        sha1_hex(SCRIPTS[i], rd->sha[i]);
    pthread_mutex_init(&rd->qmu, NULL);
    pthread_mutex_init(&rd->amu, NULL);
    uv_loop_init(&rd->loop);
    uv_async_init(&rd->loop, &rd->wake, on_wake);
    rd->wake.data = rd;
    /* created before the thread starts: other threads read rd->cmd (never written again) */
    rd->cmd = rc_new(rd, &rd->loop, false);
    rd->sub = rc_new(rd, &rd->loop, true);
    if (rd->sentinel) {
        rd->watch = rc_new_watch(rd, &rd->loop);
    }
    if (pthread_create(&rd->thread, NULL, redis_main, rd) != 0) {
        rc_close(rd->cmd);
        rc_close(rd->sub);
        rc_close(rd->watch);
        uv_close((uv_handle_t *)&rd->wake, NULL);
        uv_run(&rd->loop, UV_RUN_DEFAULT);
        uv_loop_close(&rd->loop);
        pthread_mutex_destroy(&rd->qmu);
        pthread_mutex_destroy(&rd->amu);
        rd_free(rd);
        return ERR_INTERNAL;
    }
    st->rd = rd;
    if (rd->cluster)
        log_info("msg=\"shared store on redis cluster\" seeds=%d prefix=%s", rd->nseeds,
                 rd->prefix);
    else if (rd->sentinel)
        log_info("msg=\"shared store on redis sentinel\" master=%s sentinels=%d db=%d prefix=%s",
                 rd->master_name, rd->nseeds, rd->db, rd->prefix);
    else if (rd->unix_path)
        log_info("msg=\"shared store on redis\" socket=%s db=%d prefix=%s", rd->unix_path, rd->db,
                 rd->prefix);
    else
        log_info("msg=\"shared store on redis\" host=%s port=%d db=%d prefix=%s", rd->host,
                 rd->port, rd->db, rd->prefix);
    return 0;
}

/* See store_internal.h. */
void store__redis_close(store_redis_t *rd)
{
    if (!rd)
        return;
    pthread_mutex_lock(&rd->qmu);
    rd->stopping = true;
    pthread_mutex_unlock(&rd->qmu);
    uv_async_send(&rd->wake);
    pthread_join(rd->thread, NULL);
    if (uv_loop_close(&rd->loop) == UV_EBUSY) {
        uv_run(&rd->loop, UV_RUN_DEFAULT);
        uv_loop_close(&rd->loop);
    }
    struct qitem *q = rd->qhead;
    while (q) {
        struct qitem *n = q->next;
        qitem_free(q);
        q = n;
    }
    pthread_mutex_destroy(&rd->qmu);
    pthread_mutex_destroy(&rd->amu);
    rd_free(rd);
}

/* See store.h. */
bool store_redis_configured(const store_t *st)
{
    return st && st->rd;
}

/* See store.h. */
bool store_redis_up(const store_t *st)
{
    return st && st->rd && atomic_load(&st->rd->cmd_up) && atomic_load(&st->rd->sub_up);
}

/* See store.h. */
void store_loop_attach(store_t *st, struct uv_loop_s *loop)
{
    if (!st || !st->rd || store__tls_rc)
        return;
    store__tls_rc = rc_new(st->rd, loop, false);
}

/* See store.h. */
void store_loop_detach(store_t *st)
{
    (void)st;
    if (!store__tls_rc)
        return;
    rc_close(store__tls_rc);
    store__tls_rc = NULL;
}

/* See store_internal.h. */
void store__redis_publish(store_redis_t *rd, const char *msg)
{
    const char *argv[] = {"PUBLISH", rd->channel, msg};
    size_t len[] = {7, strlen(rd->channel), strlen(msg)};
    store__redis_send_any(rd, 3, argv, len);
}

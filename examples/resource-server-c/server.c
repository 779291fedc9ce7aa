/*
 * server.c - a resource server in C that trusts jwtd's tokens without calling jwtd per
 * request: the C counterpart of a FastAPI + PyJWT resource service (examples/resource-server-c/).
 *
 * It fetches jwtd's public keys (GET /.well-known/jwks.json, a tiny HTTP/1.1 client over
 * plain sockets) and verifies every Bearer token locally with libjwtv:
 *   GET /                 {"status":"ok"}
 *   GET /protected        any valid access token: {"message","user_id","username","role"}
 *   GET /admin/dashboard  role "admin" only (403 otherwise)
 *   GET /_stats           {"jwks_fetches", "kid_refetches", "keys", and with a feed
 *                         "feed_ready", "feed_connected", "feed_events", "revoked"}
 *
 * Revocations (--feed-url http://HOST:PORT/auth/revocations/stream, the verifier key in the
 * environment variable JWTD_VERIFIER_KEY, from `jwtd verifier create NAME`): a thread
 * follows jwtd's revocation feed (Server-Sent Events over its own small socket client) and
 * applies each event to a libjwtv revocation set (jwtv_revset_apply_event); every request
 * checks its token against the set (jwtv_revset_check: O(1), no lock), cached tokens
 * included. The thread reconnects with backoff (0.25 s doubling to 30 s) and Last-Event-ID,
 * so nothing revoked while it was away is missed; a feed silent for --feed-timeout seconds
 * (default 40: jwtd writes a comment every 15 s, so only a dead peer or a stalled proxy is
 * that quiet) is dropped and reconnected; without --feed-url the server works as
 * before (signatures and expiry only).
 *
 * Keys: fetched at start (the server refuses to start without them), refreshed every
 * --refresh seconds in a background thread, and refetched at once when a token names a
 * kid the current set does not know (jwtd rotated its key) - but at most once per
 * --cooldown seconds, whatever the request rate: a flood of tokens with random kids costs
 * one fetch per cooldown, never a fetch storm against jwtd. A failed fetch keeps the old
 * keys. Alternatively --jwks-file reads a static JWK set (e.g. an `oct` key for HS256).
 *
 * DESIGN (threads): --threads event loops (epoll), fed by one listener (see accept_all),
 * share one immutable jwtv_verifier through an atomic pointer. A new key set replaces the
 * pointer; the old verifier is retired and freed only RETIRE_S seconds later by the
 * refresher thread, long after any in-flight verification (microseconds) has finished.
 * Each loop thread keeps its own jwtv_claims buffer (13 KiB) for the verification.
 *
 * A per-thread cache of verified tokens (see tc_entry) makes a repeated token cost a hash
 * and a memcmp instead of a signature check.
 *
 * Limits: requests up to 16 KiB of headers, GET/HEAD only, bodies refused; keep-alive and
 * pipelining supported. Build: `make examples` (links libjwtv.a + OpenSSL + jansson only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jwtv/jwtv.h>

#define IN_CAP     16384
#define MAX_EVENTS 256
#define RETIRE_S   60
#define JWKS_MAX   (1u << 20)

/* ==== configuration ========================================================================== */

static struct {
    char host[256];
    int port;
    char jwks_host[256];
    int jwks_port;
    char jwks_path[1024];
    const char *jwks_file;
    int refresh_s;
    int cooldown_s;
    int threads;
    jwtv_options vopt;
    char feed_host[256];
    int feed_port;
    char feed_path[1024];
    const char *feed_key;
    int feed_timeout_s; /* silence on the feed longer than this: the connection is dead */
} cfg = {.host = "127.0.0.1",
         .port = 9000,
         .refresh_s = 300,
         .cooldown_s = 30,
         .threads = 2,
         .feed_timeout_s = 40};

/* ==== keys ==================================================================================== */

static _Atomic(jwtv_verifier *) g_verifier;
static _Atomic int64_t g_last_kid_fetch_ms; /* last unknown-kid refetch (cooldown) */
static atomic_ulong g_fetches, g_kid_refetches;
static atomic_ulong g_key_gen = 1; /* bumped on every key-set change */
static pthread_mutex_t g_fetch_lock = PTHREAD_MUTEX_INITIALIZER;

struct retired {
    jwtv_verifier *v;
    int64_t at_ms;
    struct retired *next;
};
static struct retired *g_retired;
static pthread_mutex_t g_retired_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * GET http://jwks_host:jwks_port/jwks_path with HTTP/1.1 and Connection: close. Returns the
 * body (malloc'd, *len) on a 200, NULL otherwise (reason on stderr).
 */
static char *http_get(size_t *len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg.jwks_port);
    if (getaddrinfo(cfg.jwks_host, port, &hints, &ai) != 0) {
        fprintf(stderr, "jwks: cannot resolve %s\n", cfg.jwks_host);
        return NULL;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        fprintf(stderr, "jwks: cannot connect to %s:%d\n", cfg.jwks_host, cfg.jwks_port);
        return NULL;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[1600];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: application/json\r\n"
                     "User-Agent: jwtd-resource-server-c\r\nConnection: close\r\n\r\n",
                     cfg.jwks_path, cfg.jwks_host, cfg.jwks_port);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 65536, used = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (used == cap) {
            if (cap >= JWKS_MAX) {
                fprintf(stderr, "jwks: response too large\n");
                free(buf);
                close(fd);
                return NULL;
            }
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
    }
    close(fd);
    buf[used] = '\0';
    char *body = strstr(buf, "\r\n\r\n");
    if (used < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 9, "200", 3) != 0 || !body) {
        fprintf(stderr, "jwks: unexpected answer from %s:%d%s\n", cfg.jwks_host, cfg.jwks_port,
                cfg.jwks_path);
        free(buf);
        return NULL;
    }
    body += 4;
    /* Content-Length (jwtd always sends it); chunked is not needed for jwtd */
    *len = used - (size_t)(body - buf);
    memmove(buf, body, *len);
    buf[*len] = '\0';
    return buf;
}

static void retire(jwtv_verifier *old)
{
    if (!old)
        return;
    struct retired *r = malloc(sizeof *r);
    r->v = old;
    r->at_ms = now_ms();
    pthread_mutex_lock(&g_retired_lock);
    r->next = g_retired;
    g_retired = r;
    pthread_mutex_unlock(&g_retired_lock);
}

static void free_retired(bool all)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&g_retired_lock);
    struct retired **pp = &g_retired;
    while (*pp) {
        struct retired *r = *pp;
        if (all || now - r->at_ms > RETIRE_S * 1000) {
            *pp = r->next;
            jwtv_verifier_free(r->v);
            free(r);
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&g_retired_lock);
}

/* Loads the key set (URL or file) and installs it. Returns 0 or -1 (old keys kept). */
static int load_keys(void)
{
    pthread_mutex_lock(&g_fetch_lock); /* one fetch at a time */
    size_t len = 0;
    char *text = NULL;
    jwtv_verifier *v = NULL;
    int rc;
    if (cfg.jwks_file) {
        rc = jwtv_verifier_new_jwks_file(cfg.jwks_file, &cfg.vopt, &v);
    } else {
        text = http_get(&len);
        rc = text ? jwtv_verifier_new_jwks(text, len, &cfg.vopt, &v) : JWTV_EIO;
    }
    atomic_fetch_add(&g_fetches, 1);
    free(text);
    if (rc != JWTV_OK) {
        fprintf(stderr, "jwks: keeping the previous keys: %s\n", jwtv_strerror(rc));
        pthread_mutex_unlock(&g_fetch_lock);
        return -1;
    }
    retire(atomic_exchange(&g_verifier, v));
    atomic_fetch_add(&g_key_gen, 1); /* every thread's token cache is now stale */
    pthread_mutex_unlock(&g_fetch_lock);
    return 0;
}

/*
 * A token named a kid we do not know: refetch once, unless a refetch happened less than
 * cooldown ago (then the token is simply refused). Returns true when new keys were
 * installed (the caller verifies again).
 */
static bool refetch_for_unknown_kid(void)
{
    int64_t now = now_ms();
    int64_t last = atomic_load(&g_last_kid_fetch_ms);
    if (last != 0 && now - last < (int64_t)cfg.cooldown_s * 1000)
        return false;
    if (!atomic_compare_exchange_strong(&g_last_kid_fetch_ms, &last, now))
        return false; /* another thread won the race: it fetches */
    atomic_fetch_add(&g_kid_refetches, 1);
    return load_keys() == 0;
}

static void *refresher(void *arg)
{
    (void)arg;
    int64_t next = now_ms() + (int64_t)cfg.refresh_s * 1000;
    for (;;) {
        sleep(1);
        free_retired(false);
        if (now_ms() >= next) {
            load_keys();
            next = now_ms() + (int64_t)cfg.refresh_s * 1000;
        }
    }
    return NULL;
}

/* ==== HTTP =====================================================================================
 */

struct conn {
    int fd;
    size_t in_len;
    char in[IN_CAP];
    char *out;
    size_t out_len, out_off, out_cap;
    bool closing; /* close once the output is flushed */
};

static _Thread_local jwtv_claims t_claims;

/* ==== revocations: the feed ====================================================================
 */

static jwtv_revset *g_revset; /* NULL without --feed-url */
static atomic_bool g_feed_ready, g_feed_connected;
static atomic_ulong g_feed_events;

/* The event being read on one feed connection. A connection that ends in the middle of an
 * event takes its partial event with it: the next connection starts from an empty one (the
 * event comes again after Last-Event-ID, whole). */
struct feed_event {
    char id[24];
    char data[1024];
    size_t dlen;
};

/* Applies the SSE lines in buf[0..n) (complete lines only); returns the bytes consumed. */
static size_t feed_lines(char *buf, size_t n, struct feed_event *ev, char *last_id)
{
    size_t done = 0;
    for (;;) {
        char *nl = memchr(buf + done, '\n', n - done);
        if (!nl)
            return done;
        size_t ll = (size_t)(nl - (buf + done));
        char *line = buf + done;
        if (ll && line[ll - 1] == '\r')
            ll--;
        done = (size_t)(nl - buf) + 1;
        if (ll == 0) { /* end of an event */
            if (ev->dlen && jwtv_revset_apply_event(g_revset, ev->data, ev->dlen) == JWTV_OK) {
                atomic_fetch_add(&g_feed_events, 1);
                if (ev->id[0])
                    snprintf(last_id, 24, "%s", ev->id);
            }
            ev->dlen = 0;
            ev->id[0] = '\0';
        } else if (line[0] == ':') {
            if (ll == 7 && memcmp(line, ": ready", 7) == 0)
                atomic_store(&g_feed_ready, true); /* the snapshot or catch-up is in */
        } else if (ll > 4 && memcmp(line, "id: ", 4) == 0 && ll - 4 < sizeof ev->id) {
            memcpy(ev->id, line + 4, ll - 4);
            ev->id[ll - 4] = '\0';
        } else if (ll > 6 && memcmp(line, "data: ", 6) == 0 &&
                   ev->dlen + ll - 6 < sizeof ev->data) {
            memcpy(ev->data + ev->dlen, line + 6, ll - 6);
            ev->dlen += ll - 6;
        }
    }
}

/* One connection to the feed, read until it ends. Returns 1 when it delivered anything. */
static int feed_once(char *last_id)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg.feed_port);
    if (getaddrinfo(cfg.feed_host, port, &hints, &ai) != 0)
        return 0;
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return 0;
    /* jwtd sends a comment every 15 s: silence (a dead peer, a stalled proxy) means gone */
    struct timeval tv = {cfg.feed_timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[2048], resume[64] = "";
    if (last_id[0])
        snprintf(resume, sizeof resume, "Last-Event-ID: %s\r\n", last_id);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
                     "Authorization: Bearer %s\r\n%sUser-Agent: jwtd-resource-server-c\r\n"
                     "Connection: close\r\n\r\n",
                     cfg.feed_path, cfg.feed_host, cfg.feed_port, cfg.feed_key, resume);
    if (n <= 0 || n >= (int)sizeof req || write(fd, req, (size_t)n) != n) {
        close(fd);
        return 0;
    }
    static char buf[65536];
    size_t len = 0;
    bool in_body = false;
    int got = 0;
    struct feed_event ev = {.dlen = 0};
    int64_t next_prune = now_ms() + 60000;
    for (;;) {
        if (len == sizeof buf) { /* a line longer than the buffer: not jwtd's feed */
            break;
        }
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (!in_body) {
            char *end = memmem(buf, len, "\r\n\r\n", 4);
            if (!end)
                continue;
            if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || memcmp(buf + 9, "200", 3) != 0) {
                fprintf(stderr, "feed: refused (%.12s): check JWTD_VERIFIER_KEY\n", buf);
                break;
            }
            in_body = true;
            atomic_store(&g_feed_connected, true);
            size_t hl = (size_t)(end + 4 - buf);
            memmove(buf, buf + hl, len - hl);
            len -= hl;
        }
        size_t used = feed_lines(buf, len, &ev, last_id);
        memmove(buf, buf + used, len - used);
        len -= used;
        got = 1;
        if (now_ms() >= next_prune) {
            jwtv_revset_prune(g_revset, (int64_t)time(NULL));
            next_prune = now_ms() + 60000;
        }
    }
    atomic_store(&g_feed_connected, false);
    close(fd);
    return got;
}

static void *feed_main(void *arg)
{
    (void)arg;
    char last_id[24] = "";
    int64_t backoff = 250;
    for (;;) {
        if (feed_once(last_id))
            backoff = 250; /* it was up: come back soon */
        struct timespec ts = {0, 0};
        int64_t d = backoff / 2 + (int64_t)(random() % (backoff / 2 + 1));
        ts.tv_sec = d / 1000;
        ts.tv_nsec = (long)(d % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
    }
    return NULL;
}

/*
 * Per-thread cache of verified tokens. Clients send the same access token with every
 * request until it expires, and an ES256/RS256 signature check costs 20-60 us, so each
 * loop remembers the last TC_SLOTS tokens it accepted: exact token bytes (compared in
 * full, not only the hash) -> the claims this server answers with. An entry is used only
 * while the token's exp has not passed and the key set is the one that verified it (a
 * key refresh empties every cache by generation). Only successes are cached; a refused
 * token is verified again each time. Memory: TC_SLOTS * (token + claims) per thread.
 */
#define TC_SLOTS     1024
#define TC_TOKEN_MAX 2048

#define TC_TAIL_MAX 512

struct tc_entry {
    uint64_t hash;
    uint64_t gen;
    int64_t exp;
    size_t len, tail_len;
    bool admin;  /* role is "admin" */
    int64_t iat; /* what the revocation set is asked (revocations come later) */
    char jti[65], sid[65], uid[32];
    char token[TC_TOKEN_MAX];
    char tail[TC_TAIL_MAX]; /* the answer's body after "message": see body_tail() */
};
static _Thread_local struct tc_entry *t_cache;

/* Slot hash from the token's length and last 16 bytes: the end of a JWS is its signature,
   as good as random, and a hit compares the whole token anyway (a crafted collision only
   costs a verification). */
static uint64_t tc_hash(const char *p, size_t n)
{
    uint64_t w[2] = {0, 0};
    size_t k = n < sizeof w ? n : sizeof w;
    memcpy(w, p + n - k, k);
    uint64_t h = (w[0] + n) * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 31) ^ w[1]) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

/* Room for n more output bytes; the buffer grows only, so it stops allocating after the
   connection's first responses. */
static char *out_room(struct conn *c, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2 + 4096;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out)
            abort();
    }
    return c->out + c->out_len;
}

static void out_add(struct conn *c, const char *p, size_t n)
{
    memcpy(out_room(c, n), p, n);
    c->out_len += n;
}

static void respond(struct conn *c, int status, const char *extra, const char *body, bool head)
{
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 403 ? "Forbidden"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                                         : "Error";
    char hdr[512];
    size_t blen = strlen(body);
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "%s\r\n",
                     status, reason, blen, extra ? extra : "");
    out_add(c, hdr, (size_t)n);
    if (!head)
        out_add(c, body, blen);
}

/*
 * The 200 answer of /protected and /admin/dashboard, without printf: the fixed head,
 * Content-Length, then {"message":"<msg>", + tail ("user_id":...} from body_tail).
 */
static void respond_ok(struct conn *c, const char *msg, size_t mlen, const char *tail, size_t tlen,
                       bool head)
{
    static const char h1[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: ";
    static const char m1[] = "{\"message\":\"";
    size_t blen = (sizeof m1 - 1) + mlen + 2 + tlen;
    char *o = out_room(c, sizeof h1 + 24 + blen), *start = o;
    memcpy(o, h1, sizeof h1 - 1);
    o += sizeof h1 - 1;
    char digits[24];
    size_t nd = 0;
    for (size_t v = blen; v || !nd; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    while (nd)
        *o++ = digits[--nd];
    memcpy(o, "\r\n\r\n", 4);
    o += 4;
    if (!head) {
        memcpy(o, m1, sizeof m1 - 1);
        o += sizeof m1 - 1;
        memcpy(o, msg, mlen);
        o += mlen;
        memcpy(o, "\",", 2);
        o += 2;
        memcpy(o, tail, tlen);
        o += tlen;
    }
    c->out_len += (size_t)(o - start);
}

/* Appends s as a JSON string. */
static size_t json_str(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    if (!s) {
        return (size_t)snprintf(out, cap, "null");
    }
    out[o++] = '"';
    for (; *s && o + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

/* The part of the 200 body that depends on the token: "user_id":..,"username":..,"role":..} */
static size_t body_tail(char *b, size_t cap, const jwtv_claims *c)
{
    size_t o = (size_t)snprintf(b, cap, "\"user_id\":");
    o += json_str(b + o, cap - o - 64, c->user_id);
    o += (size_t)snprintf(b + o, cap - o, ",\"username\":");
    o += json_str(b + o, cap - o - 32, c->username);
    o += (size_t)snprintf(b + o, cap - o, ",\"role\":");
    o += json_str(b + o, cap - o - 4, c->role);
    o += (size_t)snprintf(b + o, cap - o, "}");
    return o;
}

#define WWW         "WWW-Authenticate: Bearer realm=\"api\"\r\n"
#define WWW_INVALID "WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\"\r\n"

static void handle(struct conn *c, const char *method, size_t mlen, const char *path, size_t plen,
                   const char *authz, size_t alen)
{
    bool head = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
    if (!head && !(mlen == 3 && memcmp(method, "GET", 3) == 0)) {
        respond(c, 405, "Allow: GET, HEAD\r\n",
                "{\"detail\":\"Method not allowed.\",\"code\":\"method_not_allowed\"}", false);
        return;
    }
    const char *q = memchr(path, '?', plen);
    if (q)
        plen = (size_t)(q - path);
#define IS(p) (plen == sizeof(p) - 1 && memcmp(path, p, plen) == 0)
    if (IS("/")) {
        respond(c, 200, NULL, "{\"status\":\"ok\"}", head);
        return;
    }
    if (IS("/_stats")) {
        char b[320];
        jwtv_verifier *v = atomic_load(&g_verifier);
        int n = snprintf(b, sizeof b, "{\"jwks_fetches\":%lu,\"kid_refetches\":%lu,\"keys\":%zu",
                         atomic_load(&g_fetches), atomic_load(&g_kid_refetches),
                         v ? jwtv_verifier_key_count(v) : 0);
        if (g_revset)
            n += snprintf(b + n, sizeof b - (size_t)n,
                          ",\"feed_ready\":%s,\"feed_connected\":%s,\"feed_events\":%lu,"
                          "\"revoked\":%zu",
                          atomic_load(&g_feed_ready) ? "true" : "false",
                          atomic_load(&g_feed_connected) ? "true" : "false",
                          atomic_load(&g_feed_events), jwtv_revset_count(g_revset));
        snprintf(b + n, sizeof b - (size_t)n, "}");
        respond(c, 200, NULL, b, head);
        return;
    }
    bool admin = IS("/admin/dashboard");
    if (!admin && !IS("/protected")) {
        respond(c, 404, NULL, "{\"detail\":\"Not found.\",\"code\":\"not_found\"}", head);
        return;
    }
#undef IS
    /* SimpleJWT/DRF Bearer parsing: scheme exactly "Bearer", exactly one token */
    if (!authz || alen < 7 || memcmp(authz, "Bearer ", 7) != 0) {
        respond(c, 401, WWW,
                "{\"detail\":\"Authentication credentials were not provided.\",\"code\":"
                "\"not_authenticated\"}",
                head);
        return;
    }
    const char *tok = authz + 7;
    size_t tlen = alen - 7;
    while (tlen && *tok == ' ')
        tok++, tlen--;
    if (tlen == 0 || memchr(tok, ' ', tlen)) {
        respond(c, 401, WWW,
                "{\"detail\":\"Authorization header must contain two space-delimited values\","
                "\"code\":\"bad_authorization_header\"}",
                head);
        return;
    }
    if (!t_cache)
        t_cache = calloc(TC_SLOTS, sizeof *t_cache);
    uint64_t gen = atomic_load(&g_key_gen);
    uint64_t h = tc_hash(tok, tlen);
    struct tc_entry *e = &t_cache[h % TC_SLOTS];
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME_COARSE, &rt);
    const char *tail;
    size_t tail_len;
    bool is_admin;
    if (e->hash == h && e->gen == gen && e->len == tlen && rt.tv_sec < e->exp &&
        memcmp(e->token, tok, tlen) == 0) {
        tail = e->tail;
        tail_len = e->tail_len;
        is_admin = e->admin;
        if (g_revset) { /* a cached token may have been revoked since */
            memset(&t_claims, 0, offsetof(jwtv_claims, _storage));
            t_claims.jti = e->jti[0] ? e->jti : NULL;
            t_claims.sid = e->sid[0] ? e->sid : NULL;
            t_claims.user_id = e->uid;
            t_claims.iat = e->iat;
            t_claims.has_iat = true;
            if (jwtv_revset_check(g_revset, &t_claims) == JWTV_EREVOKED) {
                e->hash = 0;
                goto revoked;
            }
        }
        goto verified;
    }
    jwtv_verifier *v = atomic_load(&g_verifier);
    int rc = jwtv_verify(v, tok, tlen, &t_claims);
    if (rc == JWTV_ENOKEY && refetch_for_unknown_kid()) {
        gen = atomic_load(&g_key_gen);
        rc = jwtv_verify(atomic_load(&g_verifier), tok, tlen, &t_claims);
    }
    if (rc == JWTV_OK && !t_claims.user_id)
        rc = JWTV_ECLAIM;
    if (rc == JWTV_OK && g_revset && jwtv_revset_check(g_revset, &t_claims) == JWTV_EREVOKED) {
    revoked:
        respond(c, 401, WWW_INVALID,
                "{\"detail\":\"Token is blacklisted\",\"code\":\"token_not_valid\"}", head);
        return;
    }
    if (rc != JWTV_OK) {
        char b[256];
        snprintf(b, sizeof b,
                 "{\"detail\":\"Token is invalid or expired\",\"code\":\"token_not_valid\","
                 "\"reason\":\"%s\"}",
                 jwtv_strerror(rc));
        respond(c, 401, WWW_INVALID, b, head);
        return;
    }
    static _Thread_local char tb[2048];
    tail = tb;
    tail_len = body_tail(tb, sizeof tb, &t_claims);
    is_admin = t_claims.role && strcmp(t_claims.role, "admin") == 0;
    if (tlen <= TC_TOKEN_MAX && tail_len <= TC_TAIL_MAX) {
        e->hash = h;
        e->gen = gen;
        e->exp = t_claims.exp; /* JWTV_REQUIRE_EXP: always present */
        e->len = tlen;
        memcpy(e->token, tok, tlen);
        e->tail_len = tail_len;
        memcpy(e->tail, tb, tail_len);
        e->admin = is_admin;
        e->iat = t_claims.has_iat ? t_claims.iat : 0;
        snprintf(e->jti, sizeof e->jti, "%s", t_claims.jti ? t_claims.jti : "");
        snprintf(e->sid, sizeof e->sid, "%s", t_claims.sid ? t_claims.sid : "");
        snprintf(e->uid, sizeof e->uid, "%s", t_claims.user_id);
        if (strlen(t_claims.user_id) >= sizeof e->uid ||
            (t_claims.jti && strlen(t_claims.jti) >= 65) ||
            (t_claims.sid && strlen(t_claims.sid) >= 65))
            e->hash = 0; /* not cached: the revocation check needs the whole values */
    }
verified:
    if (admin && !is_admin) {
        respond(c, 403, NULL,
                "{\"detail\":\"You do not have permission to perform this action.\",\"code\":"
                "\"permission_denied\"}",
                head);
        return;
    }
#define MSG(s) s, sizeof(s) - 1
    if (admin)
        respond_ok(c, MSG("Welcome to the admin dashboard"), tail, tail_len, head);
    else
        respond_ok(c, MSG("Authenticated"), tail, tail_len, head);
#undef MSG
}

/*
 * Parses and answers every complete request in c->in. Returns -1 to close the connection
 * (malformed request, Connection: close, a body), 0 otherwise.
 */
static int process(struct conn *c)
{
    size_t off = 0;
    int rc = 0;
    while (rc == 0) {
        char *start = c->in + off;
        size_t avail = c->in_len - off;
        char *end = avail >= 4 ? memmem(start, avail, "\r\n\r\n", 4) : NULL;
        if (!end)
            break;
        size_t hlen = (size_t)(end - start) + 4;
        char *sp1 = memchr(start, ' ', hlen);
        char *eol = memmem(start, hlen, "\r\n", 2);
        char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        if (!sp1 || !sp2 || sp2 > eol || sp1[1] != '/') {
            respond(c, 400, "Connection: close\r\n",
                    "{\"detail\":\"Bad request.\",\"code\":\"invalid_request\"}", false);
            return -1;
        }
        bool http10 = memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
        bool close_it = http10;
        const char *authz = NULL;
        size_t alen = 0;
        for (char *h = eol + 2; h < end;) {
            char *he = memmem(h, (size_t)(end + 2 - h), "\r\n", 2);
            char *colon = memchr(h, ':', (size_t)(he - h));
            if (colon) {
                size_t nl = (size_t)(colon - h);
                char *val = colon + 1;
                while (val < he && (*val == ' ' || *val == '\t'))
                    val++;
                size_t vl = (size_t)(he - val);
                while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
                    vl--;
                if (nl == 13 && strncasecmp(h, "authorization", 13) == 0) {
                    authz = val;
                    alen = vl;
                } else if (nl == 10 && strncasecmp(h, "connection", 10) == 0) {
                    if (vl == 5 && strncasecmp(val, "close", 5) == 0)
                        close_it = true;
                    else if (vl == 10 && strncasecmp(val, "keep-alive", 10) == 0)
                        close_it = false;
                } else if ((nl == 14 && strncasecmp(h, "content-length", 14) == 0 &&
                            !(vl == 1 && val[0] == '0')) ||
                           (nl == 17 && strncasecmp(h, "transfer-encoding", 17) == 0)) {
                    respond(c, 400, "Connection: close\r\n",
                            "{\"detail\":\"Request bodies are not accepted.\",\"code\":"
                            "\"invalid_request\"}",
                            false);
                    return -1;
                }
            }
            h = he + 2;
        }
        handle(c, start, (size_t)(sp1 - start), sp1 + 1, (size_t)(sp2 - sp1 - 1), authz, alen);
        off += hlen;
        if (close_it)
            rc = -1;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (rc == 0 && c->in_len == IN_CAP) {
        respond(c, 400, "Connection: close\r\n",
                "{\"detail\":\"Request header fields too large.\",\"code\":\"invalid_request\"}",
                false);
        return -1;
    }
    return rc;
}

/* Writes pending output. Returns 1 when all was written, 0 on EAGAIN, -1 on error. */
static int flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    return 1;
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

static int listen_socket(void) /* nonblocking, on cfg.host:cfg.port */
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg.port);
    if (getaddrinfo(cfg.host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        freeaddrinfo(ai);
        close(fd);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/*
 * One listening socket in every loop's epoll set (EPOLLEXCLUSIVE: one loop wakes per
 * connection); whichever loop accepts hands the connection to the loops in turn, so each
 * serves the same number of keep-alive connections (a listener per loop with SO_REUSEPORT
 * spreads them by a hash of the addresses: unevenly for a few dozen connections, and the
 * busier loop then limits the whole server). epoll_ctl on another loop's set is safe; the
 * connection is then touched only by that loop.
 */
static int g_lfd;
static int g_eps[64];
static atomic_uint g_next_loop;

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *nc = calloc(1, sizeof *nc);
        if (!nc) {
            close(fd);
            continue;
        }
        nc->fd = fd;
        struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                  .data.ptr = nc};
        int ep = g_eps[atomic_fetch_add(&g_next_loop, 1) % (unsigned)cfg.threads];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) != 0) {
            close(fd);
            free(nc);
        }
    }
}

static void *loop(void *arg)
{
    int ep = g_eps[(intptr_t)arg];
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                accept_all();
                continue;
            }
            bool dead = (evs[i].events & (EPOLLERR | EPOLLHUP)) != 0;
            int pr = 0;
            if (!dead && (evs[i].events & (EPOLLIN | EPOLLRDHUP))) {
                for (;;) {
                    size_t room = IN_CAP - c->in_len;
                    ssize_t r = read(c->fd, c->in + c->in_len, room);
                    if (r > 0) {
                        c->in_len += (size_t)r;
                        pr = process(c);
                        /* A short read drained the socket: no read until EAGAIN, since
                           data arriving later raises a new edge. Not after the peer's FIN
                           (EPOLLRDHUP): no edge follows it, so read on to see the 0. */
                        if (pr != 0 || c->in_len == IN_CAP ||
                            ((size_t)r < room && !(evs[i].events & EPOLLRDHUP)))
                            break;
                        continue;
                    }
                    if (r == 0)
                        dead = c->out_len == 0, pr = -1;
                    else if (errno != EAGAIN && errno != EINTR)
                        dead = true;
                    break;
                }
            }
            if (!dead) {
                /* edge-triggered for both directions: EPOLLOUT fires again once the socket
                   drains, so pending output needs no epoll_ctl per request */
                if (pr != 0)
                    c->closing = true;
                int fr = flush(c);
                if (fr < 0 || (fr == 1 && c->closing))
                    dead = true;
            }
            if (dead)
                conn_close(ep, c);
        }
    }
    return NULL;
}

/* ==== main ======================================================================================
 */

/* Strict decimal in [lo, hi]; -1 (and *out untouched) otherwise. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* http://HOST[:PORT][/PATH] into host (256 bytes), *port and path (1024 bytes). */
static int parse_url(const char *url, char *host, int *port_out, char *path)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    const char *colon = memchr(h, ':', slash ? (size_t)(slash - h) : strlen(h));
    size_t hl = colon ? (size_t)(colon - h) : slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= 256)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port_out = 80;
    if (colon) {
        char port[8];
        size_t pl = (size_t)((slash ? slash : colon + strlen(colon)) - colon - 1);
        if (pl == 0 || pl >= sizeof port)
            return -1;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
        if (parse_int(port, 1, 65535, port_out) != 0)
            return -1;
    }
    snprintf(path, 1024, "%s", slash ? slash : "/");
    return *port_out > 0 && *port_out < 65536 ? 0 : -1;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: resource-server --jwks-url http://HOST:PORT/.well-known/jwks.json | --jwks-file F\n"
        "                       [--listen HOST:PORT] [--threads N] [--refresh S] [--cooldown S]\n"
        "                       [--issuer ISS] [--audience AUD] [--leeway S]\n"
        "                       [--feed-url http://HOST:PORT/auth/revocations/stream]\n"
        "                       [--feed-timeout S]\n"
        "  (with --feed-url, the verifier key is read from JWTD_VERIFIER_KEY)\n");
}

int main(int argc, char **argv)
{
    jwtv_options_init(&cfg.vopt);
    cfg.vopt.token_type = "access";
    cfg.vopt.required = JWTV_REQUIRE_EXP | JWTV_REQUIRE_USER_ID;
    const char *url = NULL, *feed_url = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--jwks-url")) {
            url = v;
        } else if (!strcmp(a, "--jwks-file")) {
            cfg.jwks_file = v;
        } else if (!strcmp(a, "--listen")) {
            const char *c = strrchr(v, ':');
            if (!c || (size_t)(c - v) >= sizeof cfg.host) {
                usage();
                return 2;
            }
            memcpy(cfg.host, v, (size_t)(c - v));
            cfg.host[c - v] = '\0';
            if (parse_int(c + 1, 0, 65535, &cfg.port) != 0) {
                usage();
                return 2;
            }
        } else if (!strcmp(a, "--threads")) {
            if (parse_int(v, 1, 64, &cfg.threads) != 0) {
                usage();
                return 2;
            }
        } else if (!strcmp(a, "--refresh")) {
            if (parse_int(v, 1, 2592000, &cfg.refresh_s) != 0) {
                usage();
                return 2;
            }
        } else if (!strcmp(a, "--cooldown")) {
            if (parse_int(v, 0, 86400, &cfg.cooldown_s) != 0) {
                usage();
                return 2;
            }
        } else if (!strcmp(a, "--feed-url")) {
            feed_url = v;
        } else if (!strcmp(a, "--feed-timeout")) {
            if (parse_int(v, 1, 3600, &cfg.feed_timeout_s) != 0) {
                usage();
                return 2;
            }
        } else if (!strcmp(a, "--issuer")) {
            cfg.vopt.issuer = v;
        } else if (!strcmp(a, "--audience")) {
            cfg.vopt.audience = v;
        } else if (!strcmp(a, "--leeway")) {
            int leeway;
            if (parse_int(v, 0, 3600, &leeway) != 0) {
                usage();
                return 2;
            }
            cfg.vopt.leeway_s = leeway;
        } else {
            usage();
            return 2;
        }
    }
    if (feed_url) {
        cfg.feed_key = getenv("JWTD_VERIFIER_KEY");
        if (!cfg.feed_key || !*cfg.feed_key || strlen(cfg.feed_key) > 200 ||
            strpbrk(cfg.feed_key, "\r\n") ||
            parse_url(feed_url, cfg.feed_host, &cfg.feed_port, cfg.feed_path) != 0) {
            fprintf(stderr,
                    "resource-server: --feed-url needs an http:// URL and JWTD_VERIFIER_KEY\n");
            return 2;
        }
    }
    if ((!url && !cfg.jwks_file) ||
        (url && parse_url(url, cfg.jwks_host, &cfg.jwks_port, cfg.jwks_path) != 0) ||
        cfg.threads < 1 || cfg.threads > 64 || cfg.refresh_s < 1 || cfg.cooldown_s < 0) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (load_keys() != 0) {
        fprintf(stderr, "resource-server: no keys, not starting\n");
        return 1;
    }
    g_lfd = listen_socket();
    if (g_lfd < 0) {
        fprintf(stderr, "resource-server: cannot listen on %s:%d\n", cfg.host, cfg.port);
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(g_lfd, (struct sockaddr *)&ss, &sl);
    cfg.port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    for (int i = 0; i < cfg.threads; i++) { /* every set exists before any loop accepts */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
        g_eps[i] = epoll_create1(EPOLL_CLOEXEC);
        if (g_eps[i] < 0 || epoll_ctl(g_eps[i], EPOLL_CTL_ADD, g_lfd, &ev) != 0) {
            perror("resource-server: epoll");
            return 1;
        }
    }
    pthread_t th;
    pthread_create(&th, NULL, refresher, NULL);
    pthread_detach(th);
    if (feed_url) {
        if (jwtv_revset_new(&g_revset) != JWTV_OK) {
            fprintf(stderr, "resource-server: out of memory\n");
            return 1;
        }
        pthread_create(&th, NULL, feed_main, NULL);
        pthread_detach(th);
    }
    for (int i = 1; i < cfg.threads; i++) {
        pthread_create(&th, NULL, loop, (void *)(intptr_t)i);
        pthread_detach(th);
    }
    printf("resource-server listening on http://%s:%d\n", cfg.host, cfg.port);
    fflush(stdout);
    loop((void *)(intptr_t)0);
    return 0;
}

/*
 * stats.c - `jwtd stats`: the key figures of a running jwtd, read from its GET /metrics.
 *
 * A Grafana-free quick view: requests by status class, tokens issued and
 * verified (with the rejection classes), logins, refreshes and reuse detections,
 * revocations, rate-limit hits, pool depth, open connections, database and Redis state,
 * RSS. The instance is --url URL, else http://JWTD_LISTEN (a wildcard host is reached on
 * loopback). One blocking HTTP/1.0 request over a plain socket: no TLS (scrape jwtd
 * directly, not through nginx).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/err.h"

/* See cli.h. */
void cli_stats_help(FILE *out)
{
    fprintf(out, "usage: jwtd stats [--url URL]\n\n"
                 "Prints the key figures of a running jwtd from its GET /metrics: requests,\n"
                 "tokens issued and verified (and why tokens were rejected), logins, refreshes,\n"
                 "refresh-token reuse, revocations, rate-limit hits, pool depth, connections,\n"
                 "database and Redis state, memory. URL defaults to http://$JWTD_LISTEN\n"
                 "(127.0.0.1:8000).\n");
}

/* Splits http://HOST:PORT[/...] into host and port. Returns 0 or -1. */
static int parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap)
{
    if (strncmp(url, "http://", 7) == 0)
        url += 7;
    const char *end = url + strcspn(url, "/");
    const char *colon = NULL;
    if (*url == '[') {
        const char *rb = memchr(url, ']', (size_t)(end - url));
        if (!rb)
            return -1;
        if ((size_t)(rb - url - 1) >= hcap)
            return -1;
        memcpy(host, url + 1, (size_t)(rb - url - 1));
        host[rb - url - 1] = '\0';
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        for (const char *p = url; p < end; p++)
            if (*p == ':')
                colon = p;
        size_t hl = (size_t)((colon ? colon : end) - url);
        if (hl == 0 || hl >= hcap)
            return -1;
        memcpy(host, url, hl);
        host[hl] = '\0';
    }
    size_t pl = colon ? (size_t)(end - colon - 1) : 2;
    if (pl == 0 || pl >= pcap)
        return -1;
    if (colon) {
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
    } else {
        snprintf(port, pcap, "80");
    }
    if (strcmp(host, "0.0.0.0") == 0)
        snprintf(host, hcap, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, hcap, "::1");
    return 0;
}

/* GET /metrics from host:port into b (the body). Returns 0 or -1 (message printed). */
static int fetch(const char *host, const char *port, buf_t *b)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        fprintf(stderr, "jwtd stats: cannot resolve %s\n", host);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 10};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "jwtd stats: cannot connect to %s:%s (is jwtd running?)\n", host, port);
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    char req[512];
    int n = snprintf(req, sizeof req, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", host);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    char chunk[8192];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) > 0)
        if (buf_append(b, chunk, (size_t)r) != 0)
            break;
    close(fd);
    buf_append_char(b, '\0');
    if (strncmp(b->data, "HTTP/1.1 200", 12) != 0 && strncmp(b->data, "HTTP/1.0 200", 12) != 0) {
        fprintf(stderr, "jwtd stats: /metrics did not answer 200\n");
        return -1;
    }
    return 0;
}

/* Sum of the values of every sample whose "name{labels}" starts with prefix and contains
 * every NULL-terminated extra substring. */
static double sum(const char *text, const char *prefix, const char *must)
{
    double s = 0;
    size_t pl = strlen(prefix);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (*line == '#' || strncmp(line, prefix, pl) != 0)
            continue;
        const char *eol = strchr(line, '\n');
        const char *sp = eol ? eol : line + strlen(line);
        while (sp > line && sp[-1] != ' ')
            sp--;
        if (sp == line)
            continue;
        if (must) {
            const char *m = strstr(line, must);
            if (!m || (eol && m > eol))
                continue;
        }
        s += strtod(sp, NULL);
    }
    return s;
}

static const char *const RESULTS[] = {"malformed", "bad_alg",        "bad_signature", "unknown_kid",
                                      "expired",   "invalid_claims", "wrong_type",    "revoked"};

/* See cli.h. */
int cli_stats(int argc, char **argv)
{
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strncmp(argv[i], "--url=", 6) == 0) {
            url = argv[i] + 6;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            cli_stats_help(stdout);
            return CLI_EXIT_OK;
        } else {
            fprintf(stderr, "jwtd stats: unknown argument %s\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    char fallback[300];
    if (!url) {
        const char *listen = getenv("JWTD_LISTEN");
        snprintf(fallback, sizeof fallback, "http://%s",
                 listen && *listen ? listen : "127.0.0.1:8000");
        url = fallback;
    }
    char host[256], port[16];
    if (parse_url(url, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "jwtd stats: bad URL %s (expected http://HOST:PORT)\n", url);
        return CLI_EXIT_USAGE;
    }
    buf_t b;
    buf_init(&b, 16u << 20);
    if (fetch(host, port, &b) != 0) {
        buf_dispose(&b);
        return CLI_EXIT_FAILURE;
    }
    const char *t = strstr(b.data, "\r\n\r\n");
    t = t ? t + 4 : b.data;
    const char *V = "jwtd_tokens_verified_total";
    printf("jwtd at http://%s:%s\n", host, port);
    printf("requests        %.0f  (2xx %.0f, 3xx %.0f, 4xx %.0f, 5xx %.0f)\n",
           sum(t, "jwtd_http_requests_total", NULL), sum(t, "jwtd_http_requests_total", "2xx"),
           sum(t, "jwtd_http_requests_total", "3xx"), sum(t, "jwtd_http_requests_total", "4xx"),
           sum(t, "jwtd_http_requests_total", "5xx"));
    printf("tokens issued   %.0f  (access %.0f, refresh %.0f)\n",
           sum(t, "jwtd_tokens_issued_total", NULL),
           sum(t, "jwtd_tokens_issued_total", "type=\"access\""),
           sum(t, "jwtd_tokens_issued_total", "type=\"refresh\""));
    double all = sum(t, V, NULL), ok = sum(t, V, "result=\"ok\"");
    printf("verifications   %.0f  (ok %.0f, rejected %.0f", all, ok, all - ok);
    for (size_t i = 0; i < sizeof RESULTS / sizeof RESULTS[0]; i++) {
        char m[64];
        snprintf(m, sizeof m, "result=\"%s\"", RESULTS[i]);
        double v = sum(t, V, m);
        if (v > 0)
            printf("; %s %.0f", RESULTS[i], v);
    }
    printf(")\n");
    printf("logins          success %.0f, failure %.0f, error %.0f\n",
           sum(t, "jwtd_logins_total", "success"), sum(t, "jwtd_logins_total", "failure"),
           sum(t, "jwtd_logins_total", "\"error\""));
    printf("refreshes       rotated %.0f, grace %.0f, refused %.0f; reuse detected %.0f\n",
           sum(t, "jwtd_refreshes_total", "rotated"), sum(t, "jwtd_refreshes_total", "grace"),
           sum(t, "jwtd_refreshes_total", "refused"),
           sum(t, "jwtd_refresh_reuse_detections_total", NULL));
    printf("revocations     token %.0f, session %.0f, user %.0f\n",
           sum(t, "jwtd_revocations_total", "\"token\""),
           sum(t, "jwtd_revocations_total", "\"session\""),
           sum(t, "jwtd_revocations_total", "\"user\""));
    printf("rate limited    login %.0f, anon %.0f, user %.0f, invalid-token IPs %.0f\n",
           sum(t, "jwtd_rate_limit_hits_total", "\"login\""),
           sum(t, "jwtd_rate_limit_hits_total", "\"anon\""),
           sum(t, "jwtd_rate_limit_hits_total", "\"user\""),
           sum(t, "jwtd_rate_limit_hits_total", "invalid_token"));
    printf("server          open connections %.0f, pool depth %.0f, pool rejections %.0f, slow "
           "requests %.0f, RSS %.1f MiB\n",
           sum(t, "jwtd_http_open_connections", NULL), sum(t, "jwtd_http_pool_depth", NULL),
           sum(t, "jwtd_pool_rejections_total", NULL), sum(t, "jwtd_slow_requests_total", NULL),
           sum(t, "process_resident_memory_bytes", NULL) / 1048576.0);
    printf("backends        database %s (ping %.2f ms), redis %s\n",
           sum(t, "jwtd_database_up", NULL) > 0 ? "up" : "DOWN",
           sum(t, "jwtd_database_ping_seconds", NULL) * 1000,
           sum(t, "jwtd_redis_configured", NULL) == 0 ? "not configured"
           : sum(t, "jwtd_redis_up", NULL) > 0        ? "up"
                                                      : "DOWN");
    buf_dispose(&b);
    return CLI_EXIT_OK;
}

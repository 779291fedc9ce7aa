/*
 * metrics.c - GET /metrics (API.md section 7, issue 9) and the "observe" middleware link.
 *
 * The counters themselves live in common/metrics.c (per-thread shards, summed here at
 * scrape time); this file wires them to the server and renders Prometheus text format
 * 0.0.4:
 *   - an HTTP observer counts every finished request by route family and status class and
 *     into a duration histogram, and logs slow requests (performance events);
 *   - a connection observer keeps the open-connection gauge;
 *   - the "observe" link gives every routed request its X-Request-Id (a sane client value
 *     is kept, else the generated id) and X-Content-Type-Options: nosniff;
 *   - a scrape pings the database on the blocking pool (status and latency), reads the
 *     pool depth, the revocation index sizes and the Redis state, then answers.
 * Token, login, refresh and revocation counts are made by src/auth/auth.c, rate-limit
 * hits by src/api/ratelimit.c, pool rejections by src/http/pool.c.
 */
#define LOG_MODULE "metrics"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "db/db.h"
#include "runtime/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "store/store.h"

static struct {
    auth_t *auth;
    db_t *db;
    uint64_t slow_us; /* performance log threshold; 0 = off */
} g;

static void on_request_done(http_req_t *req, int status, uint64_t bytes, uint64_t us)
{
    (void)bytes;
    str_t path = req->path.ptr ? req->path : STR_LIT("-");
    metrics_request(metrics_family_of_path(path), status, us);
    if (g.slow_us && us >= g.slow_us) {
        char p[128];
        metrics_count(METRICS_SLOW_REQUESTS);
        log_perf_warn(http_req_rid(req),
                      "event=slow_request path=\"%s\" status=%d duration_us=%llu pool_depth=%u",
                      log_value_escape(p, sizeof p, path.ptr, path.len), status,
                      (unsigned long long)us, http_pool_depth());
    }
}

static void on_conn(int delta)
{
    metrics_gauge_add(METRICS_G_OPEN_CONNECTIONS, delta);
}

/* The "observe" link: request id and nosniff on every routed answer. */
static int on_observe(http_req_t *req, void *data, uint32_t self)
{
    (void)data;
    (void)self;
    str_t rid = http_req_header(req, "x-request-id");
    if (rid.ptr)
        (void)http_req_set_rid(req, str_trim(rid)); /* an insane value keeps a generated id */
    http_resp_header_add(req, "X-Request-Id", http_req_rid(req));
    http_resp_header_add(req, "X-Content-Type-Options", "nosniff");
    return ERR_DECLINED;
}

/* ---- scrape ----------------------------------------------------------------------------- */

struct scrape {
    int db_rc;
    uint64_t db_ns;
};

static void scrape_work(void *arg)
{
    struct scrape *s = arg;
    uint64_t t0 = clock_mono_ns();
    s->db_rc = g.db ? db_ping(g.db) : ERR_UNAVAILABLE;
    s->db_ns = clock_mono_ns() - t0;
}

static void head(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP jwtd_%s %s\n# TYPE jwtd_%s %s\n", name, help, name, type);
}

static const char *const CLASS[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * 4096L;
}

/* Renders the snapshot m plus the live gauges into b. */
static void render(buf_t *b, const metrics_snapshot_t *m, const struct scrape *s)
{
    head(b, "tokens_issued_total", "counter", "Tokens signed, by algorithm and type.");
    for (unsigned a = 0; a < METRICS__ALGS; a++)
        for (unsigned t = 0; t < 2; t++)
            if (m->issued[a][t])
                buf_printf(b, "jwtd_tokens_issued_total{alg=\"%s\",type=\"%s\"} %llu\n",
                           metrics_alg_name(a), t ? "refresh" : "access",
                           (unsigned long long)m->issued[a][t]);
    head(b, "tokens_verified_total", "counter",
         "Token verifications by algorithm and result (ok or the rejection class).");
    for (unsigned a = 0; a < METRICS__ALGS; a++)
        for (unsigned r = 0; r < METRICS__RESULTS; r++)
            if (m->verified[a][r])
                buf_printf(b, "jwtd_tokens_verified_total{alg=\"%s\",result=\"%s\"} %llu\n",
                           metrics_alg_name(a), metrics_result_name(r),
                           (unsigned long long)m->verified[a][r]);
    const char *last = "";
    for (unsigned c = 0; c < METRICS__COUNTERS; c++) {
        const char *name = metrics_counter_name(c), *labels = metrics_counter_labels(c);
        if (strcmp(name, last) != 0) {
            buf_printf(b, "# TYPE jwtd_%s_total counter\n", name);
            last = name;
        }
        buf_printf(b, "jwtd_%s_total%s%s%s %llu\n", name, *labels ? "{" : "", labels,
                   *labels ? "}" : "", (unsigned long long)m->counter[c]);
    }
    head(b, "http_requests_total", "counter", "Answered requests by route family and status.");
    uint64_t total = 0;
    for (unsigned f = 0; f < METRICS__FAMILIES; f++)
        for (unsigned k = 0; k < 5; k++)
            if (m->requests[f][k]) {
                total += m->requests[f][k];
                buf_printf(b, "jwtd_http_requests_total{family=\"%s\",code=\"%s\"} %llu\n",
                           metrics_family_name(f), CLASS[k], (unsigned long long)m->requests[f][k]);
            }
    head(b, "http_request_duration_seconds", "histogram",
         "Time from the first request byte to the response, by route family.");
    for (unsigned f = 0; f < METRICS__FAMILIES; f++) {
        uint64_t cum = 0;
        for (unsigned i = 0; i < METRICS__BUCKETS; i++)
            cum += m->bucket[f][i];
        if (!cum)
            continue;
        cum = 0;
        for (unsigned i = 0; i < METRICS__BUCKETS; i++) {
            cum += m->bucket[f][i];
            if (i < METRICS__BUCKETS - 1)
                buf_printf(b,
                           "jwtd_http_request_duration_seconds_bucket{family=\"%s\",le=\"%g\"} "
                           "%llu\n",
                           metrics_family_name(f), (double)metrics_bucket_bound_us(i) / 1e6,
                           (unsigned long long)cum);
            else
                buf_printf(b,
                           "jwtd_http_request_duration_seconds_bucket{family=\"%s\",le=\"+Inf\"} "
                           "%llu\n",
                           metrics_family_name(f), (unsigned long long)cum);
        }
        buf_printf(b, "jwtd_http_request_duration_seconds_sum{family=\"%s\"} %.6f\n",
                   metrics_family_name(f), (double)m->sum_us[f] / 1e6);
        buf_printf(b, "jwtd_http_request_duration_seconds_count{family=\"%s\"} %llu\n",
                   metrics_family_name(f), (unsigned long long)cum);
    }
    head(b, "http_open_connections", "gauge", "Open client connections.");
    buf_printf(b, "jwtd_http_open_connections %lld\n",
               (long long)m->gauge[METRICS_G_OPEN_CONNECTIONS]);
    head(b, "http_pool_depth", "gauge", "Blocking-pool jobs queued or running.");
    buf_printf(b, "jwtd_http_pool_depth %u\n", http_pool_depth());
    head(b, "database_up", "gauge", "1 when the database answered this scrape's ping.");
    buf_printf(b, "jwtd_database_up %d\n", s->db_rc == 0);
    head(b, "database_ping_seconds", "gauge", "Latency of this scrape's database ping.");
    buf_printf(b, "jwtd_database_ping_seconds %.6f\n", (double)s->db_ns / 1e9);
    store_t *st = g.auth ? auth_store(g.auth) : NULL;
    if (st) {
        head(b, "redis_configured", "gauge", "1 when JWTD_REDIS_URL is set.");
        buf_printf(b, "jwtd_redis_configured %d\n", store_redis_configured(st));
        head(b, "redis_up", "gauge", "1 when the Redis connections are established.");
        buf_printf(b, "jwtd_redis_up %d\n", store_redis_configured(st) && store_redis_up(st));
        store_stats_t ss;
        store_stats(st, &ss);
        head(b, "revocation_index_entries", "gauge", "Entries of the in-memory revocation index.");
        buf_printf(b, "jwtd_revocation_index_entries{kind=\"token\"} %zu\n", ss.index.jtis);
        buf_printf(b, "jwtd_revocation_index_entries{kind=\"session\"} %zu\n", ss.index.sids);
        buf_printf(b, "jwtd_revocation_index_entries{kind=\"user\"} %zu\n", ss.index.users);
        head(b, "revocation_pulls_failed_total", "counter", "Failed revocation feed pulls.");
        buf_printf(b, "jwtd_revocation_pulls_failed_total %llu\n",
                   (unsigned long long)ss.pulls_failed);
    }
    head(b, "process_resident_memory_bytes", "gauge", "Resident set size.");
    buf_printf(b, "jwtd_process_resident_memory_bytes %ld\n", rss_bytes());
    (void)total;
}

static void scrape_done(http_req_t *req, void *arg, int status)
{
    struct scrape *s = arg;
    if (status != 0)
        s->db_rc = ERR_UNAVAILABLE;
    metrics_snapshot_t *m = xmalloc(sizeof *m);
    metrics_snapshot(m);
    buf_t b;
    buf_init(&b, 1 << 20);
    render(&b, m, s);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf_str(&b));
    buf_dispose(&b);
    free(m);
    free(s);
}

static void on_metrics(http_req_t *req)
{
    struct scrape *s = xcalloc(1, sizeof *s);
    if (http_pool_submit(req, scrape_work, scrape_done, s) != 0) {
        s->db_rc = ERR_UNAVAILABLE; /* the pool is full: say so instead of failing */
        scrape_done(req, s, 0);
    }
}

/* See api.h. */
int api_metrics_register(http_router_t *router, auth_t *auth, struct db *db, uint64_t slow_ms)
{
    g.auth = auth;
    g.db = db;
    g.slow_us = slow_ms * 1000;
    http_set_observer(on_request_done);
    http_set_conn_observer(on_conn);
    int rc = api_middleware_add("observe", on_observe, NULL);
    if (rc == 0)
        rc = http_router_add(router, HTTP_M_GET, "/metrics", on_metrics, NULL);
    return rc;
}

/*
 * metrics.c - GET /metrics: the counters of runtime/metrics.c (per-thread shards, summed at
 * scrape time) and the backends' health (auth_health: a database ping on the blocking
 * pool, the Redis state, the revocation index), rendered in the Prometheus text format
 * 0.0.4, with jwtd_build_info and the process_* families of Prometheus' client libraries
 * (runtime/procstat.h, read on the pool with the health). Request counts and durations are recorded
 * by the request observer (middleware/observe.c); token, login, refresh and revocation counts by
 * the token service; rate-limit hits by the ratelimit link; pool rejections by the HTTP layer.
 */
#define LOG_MODULE "metrics"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "api/routes/routes.h"
#include "common/err.h"
#include "common/version.h"
#include "runtime/alloc.h"
#include "runtime/metrics.h"
#include "runtime/procstat.h"

/* HELP and TYPE of the family jwtd_<name>. */
static void head(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP jwtd_%s %s\n# TYPE jwtd_%s %s\n", name, help, name, type);
}

static const char *const CLASS[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/* One scrape: the backends' health, taken on the pool. */
struct scrape {
    auth_t *auth;
    auth_health_t h;
    procstat_t proc;
};

/* Renders the snapshot m plus the live gauges into b. */
static void render(buf_t *b, const metrics_snapshot_t *m, const auth_health_t *h)
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
            char family[96];
            snprintf(family, sizeof family, "%s_total", name);
            head(b, family, "counter", metrics_counter_help(c));
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
    head(b, "revocation_feed_clients", "gauge",
         "Resource servers following the revocation feed (streams and waiting polls).");
    buf_printf(b, "jwtd_revocation_feed_clients %lld\n",
               (long long)m->gauge[METRICS_G_FEED_CLIENTS]);
    head(b, "http_pool_depth", "gauge", "Blocking-pool jobs queued or running.");
    buf_printf(b, "jwtd_http_pool_depth %u\n", http_pool_depth());
    head(b, "database_up", "gauge", "1 when the database answered this scrape's ping.");
    buf_printf(b, "jwtd_database_up %d\n", h->db_rc == 0);
    head(b, "database_ping_seconds", "gauge", "Latency of this scrape's database ping.");
    buf_printf(b, "jwtd_database_ping_seconds %.6f\n", (double)h->db_ping_ns / 1e9);
    head(b, "redis_configured", "gauge", "1 when JWTD_REDIS_URL is set.");
    buf_printf(b, "jwtd_redis_configured %d\n", h->redis_configured);
    head(b, "redis_up", "gauge", "1 when the Redis connections are established.");
    buf_printf(b, "jwtd_redis_up %d\n", h->redis_up);
    head(b, "revocation_index_entries", "gauge", "Entries of the in-memory revocation index.");
    buf_printf(b, "jwtd_revocation_index_entries{kind=\"token\"} %zu\n", h->index_jtis);
    buf_printf(b, "jwtd_revocation_index_entries{kind=\"session\"} %zu\n", h->index_sids);
    buf_printf(b, "jwtd_revocation_index_entries{kind=\"user\"} %zu\n", h->index_users);
    head(b, "revocation_pulls_failed_total", "counter", "Failed revocation feed pulls.");
    buf_printf(b, "jwtd_revocation_pulls_failed_total %llu\n", (unsigned long long)h->pulls_failed);
    (void)total;
}

/* jwtd_build_info: the versions of jwtd and of the libraries it runs on, as labels. */
static void render_build_info(buf_t *b)
{
    head(b, "build_info", "gauge", "Always 1; the labels name the versions jwtd runs with.");
    buf_printf(b, "jwtd_build_info{version=\"%s\",openssl=\"%s\",libuv=\"%s\"} 1\n", JWTD_VERSION,
               OpenSSL_version(OPENSSL_VERSION_STRING), uv_version_string());
}

/* HELP and TYPE of a family without the jwtd_ prefix. */
static void head_bare(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The process_* families of Prometheus' client libraries (no jwtd_ prefix, on purpose). */
static void render_process(buf_t *b, const procstat_t *p)
{
    if (p->ok) {
        head_bare(b, "process_cpu_seconds_total", "counter",
                  "Total user and system CPU time spent in seconds.");
        buf_printf(b, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
        head_bare(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        buf_printf(b, "process_resident_memory_bytes %llu\n",
                   (unsigned long long)p->resident_bytes);
        head_bare(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        buf_printf(b, "process_virtual_memory_bytes %llu\n", (unsigned long long)p->virtual_bytes);
        head_bare(b, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.");
        buf_printf(b, "process_start_time_seconds %.2f\n", p->start_time);
    }
    if (p->open_fds >= 0) {
        head_bare(b, "process_open_fds", "gauge", "Number of open file descriptors.");
        buf_printf(b, "process_open_fds %lld\n", (long long)p->open_fds);
    }
    if (p->max_fds >= 0) {
        head_bare(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        buf_printf(b, "process_max_fds %lld\n", (long long)p->max_fds);
    }
}

static void scrape_work(void *arg)
{
    struct scrape *s = arg;
    auth_health(s->auth, &s->h);
    procstat_read(&s->proc);
}

static void scrape_done(http_req_t *req, void *arg, int status)
{
    struct scrape *s = arg;
    if (status != 0)
        s->h.db_rc = ERR_UNAVAILABLE;
    metrics_snapshot_t *m = xmalloc(sizeof *m);
    metrics_snapshot(m);
    buf_t b;
    buf_init(&b, 1 << 20);
    render(&b, m, &s->h);
    render_build_info(&b);
    render_process(&b, &s->proc);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf_str(&b));
    buf_dispose(&b);
    free(m);
    free(s);
}

static void on_metrics(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    struct scrape *s = xcalloc(1, sizeof *s);
    s->auth = ctx->auth;
    if (http_pool_submit(req, scrape_work, scrape_done, s) != 0) {
        auth_health_quick(ctx->auth, &s->h); /* the pool is full: say so instead of failing */
        s->h.db_rc = ERR_UNAVAILABLE;
        procstat_read(&s->proc); /* /proc is kernel memory, not a disk: bounded */
        scrape_done(req, s, 0);
    }
}

static const api_route_t ROUTES[] = {{HTTP_M_GET, "/metrics", on_metrics}};

/* See routes.h. */
const api_family_t api_metrics_family = API_FAMILY(ROUTES, NULL);

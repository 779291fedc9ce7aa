/*
 * serve.c - `jwtd serve` wired: logs, the shared store's Redis connection, the router with
 * the request layer (api.h: the hook chain, the core route families, the test routes outside
 * production, the documentation route last) and the resource wing when
 * JWTD_RESOURCE_ROUTES is on, then the HTTP server until SIGTERM/SIGINT; the PID file
 * (JWTD_PID_FILE) while it serves, and what SIGHUP does (serve_reload).
 */
#define LOG_MODULE "serve"
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/err.h"
#include "root/root.h"
#include "runtime/log.h"
#include "runtime/pidfile.h"

/* Splits "host:port", "[v6]:port" or ":port" into host (into hbuf) and port. */
static int split_listen(const char *listen, char *hbuf, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return ERR_CONFIG;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0) {
        h = "0.0.0.0";
        hl = 7;
    }
    if (hl >= cap)
        return ERR_CONFIG;
    memcpy(hbuf, h, hl);
    hbuf[hl] = '\0';
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return ERR_CONFIG;
    *port = (uint16_t)p;
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("msg=\"cannot raise RLIMIT_NOFILE\"");
    }
}

/* What the worker hooks reach: the store, and the request layer once built. */
struct serve_hooks {
    store_t *st;
    api_ctx_t *ctx;
};

/* Each event loop gets its own Redis connection (a no-op on the embedded store). */
static void on_worker_start(http_worker_t *w, struct uv_loop_s *loop, void *arg)
{
    struct serve_hooks *h = arg;
    (void)w;
    store_loop_attach(h->st, loop);
}

static void on_worker_stop(http_worker_t *w, struct uv_loop_s *loop, void *arg)
{
    struct serve_hooks *h = arg;
    (void)loop;
    api_worker_stop(h->ctx, w); /* no more wakeups for this loop (the revocation feed) */
    store_loop_detach(h->st);
}

/* SIGHUP's first step: the log files reopened by name (logrotate renamed them). */
static void reopen_logs(const root_t *r)
{
    log_flush(); /* buffered access lines go to the file they were written for */
    if (!r->opt.log_dir) {
        log_info("msg=\"SIGHUP: nothing to reopen (logging to stderr)\"");
        return;
    }
    if (log_reopen() != 0)
        log_error("msg=\"SIGHUP: cannot reopen the log files, still writing to the old ones\" "
                  "dir=%s",
                  r->opt.log_dir);
    else
        log_info("msg=\"SIGHUP: log files reopened\" dir=%s", r->opt.log_dir);
}

/*
 * SIGHUP, on the main loop: everything a reload does, in this one place. It reopens the log
 * files, then reads the configuration and the keys again (root_reload: what can change
 * live is applied, the rest waits for a restart). It never stops the process, and a step
 * that fails is logged and leaves the running state as it was.
 */
static void serve_reload(void *arg)
{
    root_t *r = arg;
    reopen_logs(r);
    (void)root_reload(r); /* logs what it did, or why nothing changed */
}

/* Before start-up: refuses a PID file naming another live process (stale ones are replaced). */
static int claim_pid_file(const root_t *r)
{
    char err[4200];
    if (r->opt.pid_file && pidfile_check(r->opt.pid_file, err, sizeof err) != 0) {
        root__fatal("%s", err);
        return ERR_CONFLICT;
    }
    return 0;
}

/* Once the listeners are up: the PID file, if configured. */
static int serve_ready(uint16_t port, void *arg)
{
    const root_t *r = arg;
    (void)port;
    if (!r->opt.pid_file)
        return 0;
    char err[4200];
    int rc = pidfile_write(r->opt.pid_file, err, sizeof err);
    if (rc != 0)
        root__fatal("%s", err);
    return rc;
}

/* The four files of JWTD_LOG_DIR (reopened on SIGHUP); JSON lines are on since root_open. */
static int open_logs(const root_t *r)
{
    if (!r->opt.log_dir)
        return 0;
    char err[1200];
    if (log_open_dir(r->opt.log_dir, err, sizeof err) != 0) {
        root__fatal("configuration error: %s", err);
        return ERR_CONFIG;
    }
    return 0;
}

/*
 * The router: the request layer, the resource wing, test routes, documentation last, then
 * JWTD_ROUTE_ALIASES (their targets must be registered).
 */
static int build_router(root_t *r, api_ctx_t *ctx, resource_t **res, http_router_t *router)
{
    int rc = api_mount(ctx, router);
    if (rc == 0 && r->opt.resource_routes) {
        rc = resource_new(&r->opt.resource, ctx, r->db, res);
        if (rc == 0)
            rc = resource_mount(*res, router);
    }
    const char *test_routes = getenv("JWTD_TEST_ROUTES");
    if (rc == 0 && test_routes && strcmp(test_routes, "1") == 0) {
        if (r->opt.environment == ROOT_ENV_PRODUCTION)
            log_warn("msg=\"JWTD_TEST_ROUTES ignored in production\"");
        else
            rc = api_mount_test_routes(ctx, router);
    }
    if (rc == 0) /* last: it checks every route registered above against the document */
        rc = api_mount_docs(ctx, router);
    if (rc == 0 && r->opt.route_alias_count) { /* once every route is known */
        char err[1200];
        rc = root__route_aliases(router, r->opt.route_aliases, r->opt.route_alias_count, err,
                                 sizeof err);
        if (rc != 0)
            root__fatal("configuration error: %s", err);
    }
    return rc;
}

/* Staging and production are meant to run behind https: say what is missing to know it. */
static void public_url_warn(const root_t *r)
{
    if (r->opt.environment == ROOT_ENV_DEVELOPMENT || r->opt.api.public_url)
        return;
    log_warn("msg=\"JWTD_PUBLIC_URL is unset: discovery URLs come from the Host header, and "
             "only a JWTD_TRUSTED_PROXIES peer's X-Forwarded-Proto: https makes an answer "
             "https (HSTS)\" environment=%s",
             r->opt.environment == ROOT_ENV_PRODUCTION ? "production" : "staging");
}

/* See root.h. */
int root_serve(root_t *r)
{
    char host[256];
    struct http_options ho = r->opt.http;
    if (split_listen(r->opt.listen, host, sizeof host, &ho.port) != 0) {
        root__fatal("configuration error: JWTD_LISTEN: expected HOST:PORT, got %s", r->opt.listen);
        return ERR_CONFIG;
    }
    ho.host = host;
    char metrics_host[256];
    if (r->opt.metrics_listen) {
        if (split_listen(r->opt.metrics_listen, metrics_host, sizeof metrics_host, &ho.aux_port) !=
            0) {
            root__fatal("configuration error: JWTD_METRICS_LISTEN: expected HOST:PORT, got %s",
                        r->opt.metrics_listen);
            return ERR_CONFIG;
        }
        ho.aux_host = metrics_host;
    }
    int rc = claim_pid_file(r);
    if (rc == 0)
        rc = open_logs(r);
    if (rc != 0)
        return rc;
    raise_nofile();
    public_url_warn(r);
    store_t *st = auth_store(r->auth);
    if (r->opt.redis) { /* shared state for several instances */
        char err[256] = "";
        if (store_redis_start(st, &r->opt.redis_opt, err, sizeof err) != 0) {
            root__fatal("configuration error: %s", err[0] ? err : "JWTD_REDIS_URL");
            return ERR_CONFIG;
        }
    }
    ho.on_worker_start = on_worker_start;
    ho.on_worker_stop = on_worker_stop;
    struct serve_hooks hooks = {st, NULL};
    ho.hook_arg = &hooks;
    ho.on_ready = serve_ready;
    ho.on_sighup = serve_reload;
    ho.signal_arg = r;
    api_ctx_t *ctx = NULL;
    resource_t *res = NULL;
    http_router_t *router = http_router_new();
    auth_oidc_t *oidc = NULL;
    rc = api_ctx_new(&r->opt.api, r->auth, &ctx);
    if (rc == 0 && (rc = root__oidc_new(r, &oidc)) == 0)
        api_ctx_set_oidc(ctx, oidc);
    hooks.ctx = ctx;
    if (rc == 0) {
        api_observe(ctx, &ho);
        rc = build_router(r, ctx, &res, router);
    }
    if (rc == 0) {
        if (log_buffer_start(r->opt.log_buffer_bytes, r->opt.log_flush_ms) != 0)
            log_warn("msg=\"cannot start the log flusher: access lines unbuffered\"");
        rc = http_server_run(&ho, router);
        if (rc == 0 && r->opt.pid_file)
            pidfile_remove(r->opt.pid_file);
    }
    log_buffer_stop(); /* the loops have ended: every buffered line is out (no-op if unused) */
    http_router_free(router);
    resource_free(res);
    api_ctx_free(ctx);
    auth_oidc_free(oidc);
    return rc;
}

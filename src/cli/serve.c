/*
 * serve.c - `jwtd serve`: loads the configuration, builds the router from every route
 * family of src/api/, and runs the HTTP server until SIGTERM/SIGINT.
 *
 * This is wiring code: the only place that copies struct cfg values into the HTTP layer's
 * plain options (src/http/ never sees struct cfg).
 */
#define LOG_MODULE "serve"
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "api/api.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "common/err.h"
#include "config/config.h"
#include "http/http.h"
#include "runtime/log.h"
#include "store/store.h"

/* See cli.h. */
void cli_serve_help(FILE *out)
{
    fprintf(out, "usage: jwtd serve [--config FILE]\n\n"
                 "Runs the HTTP server on JWTD_LISTEN with JWTD_WORKERS event loops and prints\n"
                 "\"jwtd listening on http://HOST:PORT\" once it accepts connections. SIGTERM or\n"
                 "SIGINT stop it gracefully (in-flight requests finish, bounded by the shutdown\n"
                 "timeout). Configuration: defaults, then FILE, then the environment.\n\n");
    fprintf(out, "options:\n"
                 "  --config FILE            read KEY=VALUE settings from FILE\n"
                 "  -h, --help               show this help\n");
}

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

/* Each event loop gets its own Redis connection (issue 5; no-op on the embedded store). */
static void on_worker_start(http_worker_t *w, struct uv_loop_s *loop, void *arg)
{
    (void)w;
    store_loop_attach(arg, loop);
}

static void on_worker_stop(http_worker_t *w, struct uv_loop_s *loop, void *arg)
{
    (void)w;
    (void)loop;
    store_loop_detach(arg);
}

/* See cli.h. */
int cli_serve(int argc, char **argv)
{
    const struct cli_opt opts[] = {{NULL, 0, CLI_OPT_FLAG, NULL, NULL, NULL}};
    struct cli_args args;
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc != 0)
        return rc;
    if (args.count) {
        fprintf(stderr, "jwtd serve: unexpected argument %s\n", args.v[0]);
        return CLI_EXIT_USAGE;
    }
    struct cfg cfg;
    rc = cli_load_config(argc, argv, &cfg);
    if (rc != 0)
        return rc;
    /* logs (issue 9): JSON lines and/or the four files of JWTD_LOG_DIR, reopened on SIGHUP */
    log_set_json(cfg.log_format && strcmp(cfg.log_format, "json") == 0);
    if (cfg.log_dir && *cfg.log_dir) {
        char lerr[1200];
        if (log_open_dir(cfg.log_dir, lerr, sizeof lerr) != 0) {
            fprintf(stderr, "jwtd: configuration error: %s\n", lerr);
            cfg_dispose(&cfg);
            return CLI_EXIT_FAILURE;
        }
    }
    raise_nofile();

    struct http_options ho;
    http_options_defaults(&ho);
    char host[256];
    if (split_listen(cfg.listen ? cfg.listen : "127.0.0.1:8000", host, sizeof host, &ho.port) !=
        0) {
        fprintf(stderr, "jwtd: configuration error: JWTD_LISTEN: expected HOST:PORT, got %s\n",
                cfg.listen ? cfg.listen : "");
        cfg_dispose(&cfg);
        return CLI_EXIT_FAILURE;
    }
    ho.host = host;
    ho.workers = cfg.workers > 0 ? (uint32_t)cfg.workers : 0;
    ho.affinity = (enum http_affinity)cfg.worker_affinity;
    ho.max_header_bytes = cfg.max_header_bytes;
    ho.max_headers = cfg.max_headers;
    ho.max_url_bytes = cfg.max_url_bytes;
    ho.max_body_bytes = cfg.max_body_bytes;
    ho.json_max_depth = cfg.json_max_depth;
    ho.header_timeout_ms = (uint64_t)cfg.header_timeout_ms;
    ho.body_timeout_ms = (uint64_t)cfg.body_timeout_ms;
    ho.idle_timeout_ms = (uint64_t)cfg.idle_timeout_ms;
    ho.shutdown_timeout_ms = (uint64_t)cfg.shutdown_timeout_ms;
    ho.max_connections = cfg.max_connections;
    ho.pool_threads = cfg.pool_threads;
    ho.pool_queue_max = cfg.pool_queue_max;

    struct cli_auth ca; /* database (migrated), key ring, token service with its index */
    rc = cli_auth_open(&cfg, true, &ca);
    if (rc != CLI_EXIT_OK) {
        cfg_dispose(&cfg);
        return rc;
    }
    if (cfg.redis_url) { /* shared state for several instances (issue 5) */
        char err[256] = "";
        store_redis_options_t ro = {
            .url = cfg.redis_url,
            .prefix = cfg.redis_prefix,
            .timeout_ms = (uint32_t)cfg.redis_timeout_ms,
        };
        if (store_redis_start(auth_store(ca.auth), &ro, err, sizeof err) != 0) {
            fprintf(stderr, "jwtd: configuration error: %s\n", err[0] ? err : "JWTD_REDIS_URL");
            cli_auth_close(&ca);
            cfg_dispose(&cfg);
            return CLI_EXIT_FAILURE;
        }
    }
    ho.on_worker_start = on_worker_start;
    ho.on_worker_stop = on_worker_stop;
    ho.hook_arg = auth_store(ca.auth);
    http_router_t *router = http_router_new();
    rc = api_platform_register(router);
    if (rc == 0)
        rc = api_simplejwt_register(router, ca.auth);
    if (rc == 0)
        rc = api_wellknown_register(router, ca.auth);
    if (rc == 0) { /* the browser flow (issue 7): chain links in order, then routes */
        api_web_options_t wo = {
            .secure_cookie = cfg.environment != CFG_ENV_DEVELOPMENT,
            .hsts = cfg.environment == CFG_ENV_PRODUCTION,
            .cookie_domain = cfg.cookie_domain,
            .refresh_lifetime_s = cfg.refresh_token_lifetime_s,
            .auto_refresh_window_s = cfg.auto_refresh_window_s,
            .sliding_session = cfg.sliding_session,
            .cors_origins = cfg.cors_allowed_origins.items,
            .cors_origin_count = cfg.cors_allowed_origins.count,
        };
        api_web_configure(&wo);
        /* first link: request id + nosniff on every answer, /metrics (issue 9) */
        rc = api_metrics_register(router, ca.auth, ca.db, (uint64_t)cfg.slow_request_ms);
        if (rc == 0)
            rc = api_cors_register();
    }
    if (rc == 0) /* rate limits right after CORS, so a 429 carries the CORS headers */
        rc = api_ratelimit_register(ca.auth, &cfg);
    if (rc == 0) /* IP allowlists (issue 9) */
        rc = api_iprules_register(&cfg);
    if (rc == 0) /* client-fingerprint binding (issue 9) */
        rc = api_binding_register(ca.auth, &cfg);
    if (rc == 0) /* one-time-use access tokens (issue 9) */
        rc = api_onetime_register(ca.auth, &cfg);
    if (rc == 0)
        rc = api_orders_register(router, ca.auth);
    if (rc == 0)
        rc = api_readyz_register(router, ca.auth, ca.db, cfg.redis_required);
    if (rc == 0)
        rc = api_cookie_register(router, ca.auth);
    if (rc == 0)
        rc = api_sessions_register(router, ca.auth, ca.db);
    char upload_dir[4096]; /* the service/resource routes (issue 8) */
    snprintf(upload_dir, sizeof upload_dir, "%s/uploads", cfg.data_dir ? cfg.data_dir : "var");
    api_service_options_t so = {
        .access_lifetime_s = cfg.access_token_lifetime_s,
        .upload_dir = cfg.upload_dir && *cfg.upload_dir ? cfg.upload_dir : upload_dir,
        .max_upload_bytes = cfg.max_upload_bytes,
        .posts_cache_ttl_ms = 30000,
    };
    if (rc == 0)
        rc = api_service_register(router, ca.auth, ca.db, &so);
    if (rc == 0)
        rc = api_resource_register(router, ca.auth, &so);
    if (rc == 0)
        rc = api_introspect_register(router, ca.auth, ca.db, cfg.access_token_lifetime_s);
    if (rc == 0)
        rc = api_users_register(router, ca.auth, ca.db);
    if (rc == 0)
        rc = api_posts_register(router, ca.auth, ca.db);
    if (rc == 0)
        rc = api_static_register(router, cfg.web_dir);
    if (rc == 0) /* last: it checks every route registered above against the document */
        rc = api_openapi_register(router);
    if (rc == 0)
        api_middleware_install(router);
    const char *test_routes = getenv("JWTD_TEST_ROUTES");
    if (rc == 0 && test_routes && strcmp(test_routes, "1") == 0) {
        if (cfg.environment == CFG_ENV_PRODUCTION)
            log_warn("msg=\"JWTD_TEST_ROUTES ignored in production\"");
        else
            rc = api_test_routes_register(router);
    }
    if (rc == 0)
        rc = http_server_run(&ho, router);
    http_router_free(router);
    api_static_free();
    cli_auth_close(&ca);
    cfg_dispose(&cfg);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

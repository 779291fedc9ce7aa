/*
 * readyz.c - GET /readyz: whether this instance should receive traffic.
 *
 * Ready (200) when the database answers a ping (auth_health, run on the blocking pool: the
 * loop never waits for it) and, when JWTD_REDIS_REQUIRED is set, Redis is up (the store's
 * subscriber and command connection are both established). Otherwise 503 with the same body, so a
 * load balancer takes the instance out and an operator sees which backend is missing:
 *   {"status":"ready"|"not_ready","database":"ok"|"unavailable",
 *    "redis":"ok"|"unavailable"|"not_configured"}
 * Redis down without JWTD_REDIS_REQUIRED is still ready (verification and rate limits
 * work on local state; see README "Several instances").
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/routes/routes.h"
#include "runtime/alloc.h"

struct ping_job {
    auth_t *auth;
    auth_health_t h;
};

static void ping_work(void *arg)
{
    struct ping_job *j = arg;
    auth_health(j->auth, &j->h);
}

static void ping_done(http_req_t *req, void *arg, int status)
{
    struct ping_job *j = arg;
    const api_ctx_t *ctx = req->route_data;
    bool db_ok = status == 0 && j->h.db_rc == 0;
    const char *redis = !j->h.redis_configured ? "not_configured"
                        : j->h.redis_up        ? "ok"
                                               : "unavailable";
    bool ready = db_ok && (!ctx->o.redis_required || !j->h.redis_configured || j->h.redis_up);
    free(j);
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"database\":\"%s\",\"redis\":\"%s\"}",
                     ready ? "ready" : "not_ready", db_ok ? "ok" : "unavailable", redis);
    api__respond_nostore(req, ready ? 200 : 503, str_make(body, (size_t)n));
}

static void on_readyz(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    struct ping_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    if (http_pool_submit(req, ping_work, ping_done, j) != 0) {
        free(j);
        http_respond(req, 503, API_JSON_CT,
                     STR_LIT("{\"status\":\"not_ready\",\"database\":\"unknown\",\"redis\":"
                             "\"unknown\"}"));
    }
}

static const api_route_t ROUTES[] = {{HTTP_M_GET, "/readyz", on_readyz}};

/* See routes.h. */
const api_family_t api_readyz_family = API_FAMILY(ROUTES, NULL);

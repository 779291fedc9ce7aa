/*
 * readyz.c - GET /readyz (API.md section 7): whether this instance should receive traffic.
 *
 * Ready (200) when the database answers a ping (run on the blocking pool: the loop never
 * waits for it) and, when JWTD_REDIS_REQUIRED is set, Redis is up (the store's subscriber
 * and command connection are both established). Otherwise 503 with the same body, so a
 * load balancer takes the instance out and an operator sees which backend is missing:
 *   {"status":"ready"|"not_ready","database":"ok"|"unavailable",
 *    "redis":"ok"|"unavailable"|"not_configured"}
 * Redis down without JWTD_REDIS_REQUIRED is still ready (verification and rate limits
 * work on local state; see README "Several instances").
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "api/web.h"
#include "auth/auth.h"
#include "db/db.h"
#include "runtime/alloc.h"
#include "store/store.h"

static struct {
    auth_t *auth;
    db_t *db;
    bool redis_required;
} g;

struct ping_job {
    int rc;
};

static void ping_work(void *arg)
{
    struct ping_job *j = arg;
    j->rc = db_ping(g.db);
}

static void ping_done(http_req_t *req, void *arg, int status)
{
    struct ping_job *j = arg;
    bool db_ok = status == 0 && j->rc == 0;
    free(j);
    store_t *st = auth_store(g.auth);
    const char *redis = !store_redis_configured(st) ? "not_configured"
                        : store_redis_up(st)        ? "ok"
                                                    : "unavailable";
    bool ready = db_ok && (!g.redis_required || !store_redis_configured(st) || store_redis_up(st));
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"database\":\"%s\",\"redis\":\"%s\"}",
                     ready ? "ready" : "not_ready", db_ok ? "ok" : "unavailable", redis);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, ready ? 200 : 503, API_JSON_CT, str_make(body, (size_t)n));
}

static void on_readyz(http_req_t *req)
{
    struct ping_job *j = xcalloc(1, sizeof *j);
    if (http_pool_submit(req, ping_work, ping_done, j) != 0) {
        free(j);
        http_respond(req, 503, API_JSON_CT,
                     STR_LIT("{\"status\":\"not_ready\",\"database\":\"unknown\",\"redis\":"
                             "\"unknown\"}"));
    }
}

/* See api.h. */
int api_readyz_register(http_router_t *router, auth_t *auth, struct db *db, bool redis_required)
{
    g.auth = auth;
    g.db = db;
    g.redis_required = redis_required;
    return http_router_add(router, HTTP_M_GET, "/readyz", on_readyz, NULL);
}

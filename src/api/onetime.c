/*
 * onetime.c - one-time-use access tokens for chosen routes (issue 9, seed 004 jti replay
 * protection), off by default.
 *
 * JWTD_ONE_TIME_ROUTES=/upload,/admin/dashboard lists exact paths. A request to one of them
 * with a VALID Bearer access token (verified here first, so a forged token cannot burn
 * someone's jti) consumes the token's jti: a one-shot GCRA bucket "once:<jti>" (count 1,
 * period = the token's remaining lifetime) in the store, so a replay is refused on every
 * instance when Redis is configured. A replay gets 401 token_not_valid "Token has already
 * been used" and is logged as event=token_replay. Requests without a valid token go on
 * to the route, which answers them as usual.
 * Trade-off: the client needs a fresh access token per call to those routes (refresh, or
 * an auto-refresh); a retry after a network error needs a new token too.
 */
#define LOG_MODULE "api"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "common/err.h"
#include "config/config.h"
#include "runtime/alloc.h"
#include "runtime/log.h"
#include "store/store.h"

static struct {
    auth_t *auth;
    const cfg_strlist_t *routes;
} g;

struct once {
    http_req_t *req;
    uint32_t self;
    bool done_sync; /* the callback ran inside store_rate_check */
    bool allowed;
    char jti[40];
};

static void finish(struct once *o)
{
    http_req_t *req = o->req;
    if (o->allowed) {
        uint32_t self = o->self;
        free(o);
        api_middleware_continue(req, self);
        return;
    }
    log_audit_warn(http_req_rid(req), "event=token_replay jti=%s path=\"%.*s\"", o->jti,
                   (int)req->path.len, req->path.ptr);
    free(o);
    http_resp_header_add(req, "WWW-Authenticate", "Bearer realm=\"api\", error=\"invalid_token\"");
    http_respond(req, 401, "application/json",
                 STR_LIT("{\"detail\":\"Token has already been used\",\"code\":"
                         "\"token_not_valid\"}"));
}

static void on_rate(void *arg, const store_rate_result_t *r)
{
    struct once *o = arg;
    o->allowed = r->allowed;
    if (!o->done_sync) {
        o->done_sync = true; /* synchronous answer: the link finishes it */
        return;
    }
    finish(o);
}

static int on_onetime(http_req_t *req, void *data, uint32_t self)
{
    (void)data;
    bool listed = false;
    for (size_t i = 0; i < g.routes->count && !listed; i++)
        listed = str_eq_cstr(req->path, g.routes->items[i]);
    if (!listed)
        return ERR_DECLINED;
    str_t auth = http_req_header(req, "authorization");
    if (!auth.ptr || auth.len < 8 || memcmp(auth.ptr, "Bearer ", 7) != 0)
        return ERR_DECLINED;
    jwtv_claims *c = http_req_alloc(req, sizeof *c);
    if (auth_verify_access(g.auth, str_trim(str_make(auth.ptr + 7, auth.len - 7)), 0, c) !=
            AUTH_OK ||
        !c->jti)
        return ERR_DECLINED; /* the route refuses it with the usual answer */
    int64_t left = c->has_exp ? c->exp - clock_now_s() : 3600;
    struct once *o = xcalloc(1, sizeof *o);
    o->req = req;
    o->self = self;
    snprintf(o->jti, sizeof o->jti, "%.32s", c->jti);
    char key[64];
    snprintf(key, sizeof key, "once:%s", o->jti);
    store_rate_t r = {key, 1,
                      (uint32_t)(left < 1       ? 1
                                 : left > 86400 ? 86400
                                                : left) +
                          1,
                      STORE_RATE_CONSUME};
    store_rate_check(auth_store(g.auth), &r, 1, on_rate, o);
    if (o->done_sync) { /* embedded store (or Redis down): decided already */
        finish(o);
        return 0;
    }
    o->done_sync = true; /* from now on the callback finishes it */
    return 0;
}

/* See api.h. */
int api_onetime_register(auth_t *auth, const struct cfg *cfg)
{
    g.auth = auth;
    g.routes = &cfg->one_time_routes;
    return g.routes->count ? api_middleware_add("onetime", on_onetime, NULL) : 0;
}

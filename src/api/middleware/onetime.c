/*
 * onetime.c - the "onetime" link, off unless JWTD_ONE_TIME_ROUTES lists exact paths: a
 * request to one of them with a VALID Bearer access token (verified first, so a forged
 * token cannot burn someone's jti) consumes the token's jti (auth_guard_use_once: a
 * one-shot bucket shared by every instance with Redis). A replay gets 401 token_not_valid
 * "Token has already been used" and is logged as event=token_replay. Requests without a
 * valid token go on to the route, which answers them as usual.
 *
 * Trade-off: the client needs a fresh access token per call to those routes (refresh, or an
 * auto-refresh); a retry after a network error needs a new token too.
 */
#define LOG_MODULE "api"
#include <stdio.h>
#include <string.h>

#include "api/middleware/middleware.h"
#include "common/err.h"
#include "runtime/log.h"

/* One use being recorded, in the request arena. */
struct once {
    http_req_t *req;
    bool in_call; /* the guard answered before auth_guard_use_once returned */
    bool decided, allowed;
};

static void refuse(http_req_t *req, const char *jti)
{
    char path[300], detail[400];
    snprintf(detail, sizeof detail, "jti=%.64s %s", jti, api__audit_path(req, path, sizeof path));
    audit_ctx_t who = api__audit_ctx(req);
    audit_warn(&who, .event = "token_replay", .outcome = "failure", .reason = "one_time",
               .detail = detail);
    api__respond_code(req, 401, "token_not_valid", "Token has already been used", API_WWW_INVALID);
}

static void on_once(void *arg, const auth_guard_result_t *r)
{
    struct once *o = arg;
    o->allowed = r->allowed;
    o->decided = true;
    if (o->in_call)
        return;
    if (o->allowed)
        http_req_route(o->req);
    else
        refuse(o->req, ((const api_locals_t *)o->req->slot)->ref.jti);
}

static int on_onetime(http_req_t *req, void *data)
{
    const api_ctx_t *ctx = data;
    bool listed = false;
    for (size_t i = 0; ctx->one_time_routes[i] && !listed; i++)
        listed = str_eq_cstr(req->path, ctx->one_time_routes[i]);
    if (!listed)
        return ERR_DECLINED;
    const api_locals_t *caller = api__caller(req, ctx);
    if (caller->bearer_rc != 0 || caller->verdict != AUTH_OK || !caller->ref.jti[0])
        return ERR_DECLINED; /* the route refuses it with the usual answer */
    struct once *o = http_req_alloc(req, sizeof *o);
    memset(o, 0, sizeof *o);
    o->req = req;
    o->in_call = true;
    auth_guard_use_once(ctx->auth, caller->ref.jti, caller->ref.exp, on_once, o);
    o->in_call = false;
    if (!o->decided)
        return 0; /* the guard routes or refuses it */
    if (o->allowed)
        return ERR_DECLINED;
    refuse(req, caller->ref.jti);
    return 0;
}

/* See middleware.h. */
int api_onetime_register(http_router_t *r, api_ctx_t *ctx)
{
    return ctx->one_time_routes[0] ? http_router_use(r, "onetime", on_onetime, ctx) : 0;
}

/*
 * jobs.c - the blocking-pool jobs of the token routes: one login job and one token job
 * (refresh, database check, auto-refresh access, logout, user load) shared by the SimpleJWT
 * routes, the cookie flow and the service routes, each with a per-route done callback
 * that writes the route's own answer.
 */
#define LOG_MODULE "api"
#include <stdlib.h>
#include <string.h>

#include "api/request/req.h"
#include "auth/mfa.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"

#define MAX_UA_BYTES 512

/* The User-Agent header, bounded, heap-owned; NULL when absent. */
static char *client_ua(http_req_t *req)
{
    str_t ua = http_req_header(req, "user-agent");
    if (!ua.ptr)
        return NULL;
    return xstrndup(ua.ptr, ua.len > MAX_UA_BYTES ? MAX_UA_BYTES : ua.len);
}

/* See req.h. */
void api__login_job_free(api_login_job_t *j)
{
    free(j->username);
    free_secret(j->password, j->password_len + 1);
    free(j->ip);
    free(j->ua);
    free(j->fph);
    free(j->bind);
    auth_pair_dispose(&j->pair);
    free_secret(j->device_token, j->device_token_len + 1);
    free(j);
}

static void login_work(void *arg)
{
    api_login_job_t *j = arg;
    auth_client_t client = {.ip = j->ip,
                            .user_agent = j->ua,
                            .fph = j->fph,
                            .device = j->device,
                            .family = j->family,
                            .bind = j->bind};
    int64_t now = clock_now_s();
    j->rc = auth_login(j->auth, j->username, j->password, j->password_len, &client, now, &j->pair);
    if (j->rc == 0 && auth_device_tokens_enabled(j->auth)) {
        j->device_token = xmalloc(AUTH_TOKEN_MAX + 1);
        if (auth_device_token_issue(j->auth, j->username, now, j->device_token, AUTH_TOKEN_MAX + 1,
                                    &j->device_token_len) != 0) {
            free(j->device_token); /* the login stands; the client stays untrusted */
            j->device_token = NULL;
            j->device_token_len = 0;
        }
    }
}

static void login_run(api_login_job_t *j)
{
    http_req_t *req = j->req;
    if (http_pool_submit(req, login_work, j->done, j) != 0) {
        auth_guard_login_cancel(j->auth, j->ip, j->username, j->device); /* no guess made */
        api__login_job_free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

/* auth_guard_cb of a login attempt: on the request's loop, now or once Redis answered. */
static void on_login_guard(void *arg, const auth_guard_result_t *r)
{
    api_login_job_t *j = arg;
    if (r->allowed) {
        login_run(j);
        return;
    }
    http_req_t *req = j->req;
    api__login_job_free(j);
    api__respond_throttled(req, r, AUTH_GUARD_LOGIN);
}

/* See req.h. */
void api__login_submit(http_req_t *req, const api_ctx_t *ctx, str_t username, str_t password,
                       str_t device_token, int shape, http_done_fn done)
{
    char fph[AUTH_FPH_MAX + 1];
    api_login_job_t *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->shape = shape;
    j->family = api__login_family(done, shape);
    bool bound = false;
#define API_BOUND_(name, fn, sh, b)                                                                \
    if (done == fn && shape == sh)                                                                 \
        bound = b;
    API_LOGIN_FAMILIES(API_BOUND_)
#undef API_BOUND_
    if (bound) {
        char origin[AUTH_MFA_BIND_MAX + 1];
        api__request_origin(req, origin, sizeof origin);
        j->bind = origin[0] ? xstrdup(origin) : NULL;
    }
    j->username = xstrndup(username.ptr, username.len);
    j->password = xstrndup(password.ptr, password.len);
    j->password_len = password.len;
    j->ip = xstrdup(http_req_client_str(req));
    j->ua = client_ua(req);
    j->fph = api__fingerprint(req, ctx, fph) ? xstrdup(fph) : NULL;
    j->req = req;
    j->done = done;
    if (!auth_guard_limited(ctx->auth, AUTH_GUARD_LOGIN)) {
        login_run(j); /* nothing would be counted (limits "0"): no work at all */
        return;
    }
    /* the body field, else the browser's cookie; an invalid one is no token at all */
    str_t dev = device_token.len ? device_token : api__cookie(req, API_DEVICE_TOKEN);
    if (dev.len)
        auth_device_token_check(ctx->auth, dev, j->username, clock_now_s(), j->device);
    auth_guard_login(ctx->auth, j->ip, j->username, j->device, on_login_guard, j);
}

/* See req.h. */
const char *api__login_family(http_done_fn done, int shape)
{
#define API_FAMILY_OF_(name, fn, sh, b)                                                            \
    if (done == fn && shape == sh)                                                                 \
        return name;
    API_LOGIN_FAMILIES(API_FAMILY_OF_)
#undef API_FAMILY_OF_
    return NULL;
}

/* See req.h. */
void api__finish_login(http_req_t *req, const char *family, auth_pair_t *pair)
{
#define API_FINISH_(name, fn, sh, b)                                                               \
    if (strcmp(family, name) == 0) {                                                               \
        api_login_job_t *j = xcalloc(1, sizeof *j);                                                \
        j->shape = sh;                                                                             \
        j->pair = *pair; /* moved: the login job owns it now */                                    \
        memset(pair, 0, sizeof *pair);                                                             \
        j->device_token = j->pair.device_token; /* earned by a password login's second step */     \
        j->device_token_len = j->pair.device_token_len;                                            \
        j->pair.device_token = NULL;                                                               \
        fn(req, j, 0);                                                                             \
        return;                                                                                    \
    }
    API_LOGIN_FAMILIES(API_FINISH_)
#undef API_FINISH_
    api__failure(req, ERR_INTERNAL); /* a family this build does not know */
}

/* See req.h. */
void api__client_dup(http_req_t *req, const api_ctx_t *ctx, char **ip, char **ua, char **fph)
{
    char f[AUTH_FPH_MAX + 1];
    *ip = xstrdup(http_req_client_str(req));
    *ua = client_ua(req);
    *fph = api__fingerprint(req, ctx, f) ? xstrdup(f) : NULL;
}

/* See req.h. */
void api__device_token_header(http_req_t *req, const api_login_job_t *j)
{
    if (j->device_token)
        http_resp_header_add(req, API_DEVICE_HEADER, j->device_token);
}

/* See req.h. */
api_token_job_t *api__token_job_new(const api_ctx_t *ctx, enum api_token_op op)
{
    api_token_job_t *j = xcalloc(1, sizeof *j);
    j->ctx = ctx;
    j->auth = ctx->auth;
    j->op = op;
    j->verdict = AUTH_INVALID;
    return j;
}

/* See req.h. */
void api__token_job_free(api_token_job_t *j)
{
    free_secret(j->presented, j->presented_len + 1);
    auth_pair_dispose(&j->pair);
    free(j);
}

/* See req.h. */
bool api__token_job_refused(http_req_t *req, const api_token_job_t *j, int status)
{
    int rc = status != 0 ? status : j->rc;
    if (rc != 0)
        api__failure(req, rc);
    else if (j->verdict != AUTH_OK)
        api__respond_token_invalid(req, j->ctx, j->verdict);
    return rc != 0 || j->verdict != AUTH_OK;
}

/* LOGOUT: the refresh token's session (an already revoked one is fine), then the Bearer's. */
static int logout(api_token_job_t *j, int64_t now)
{
    int rc = 0;
    if (j->has_ref)
        rc = auth_logout(j->auth, &j->ref, now, &j->verdict);
    if (rc == 0 && j->access_sid[0]) {
        int r2 = auth_revoke_session(j->auth, j->access_sid, now);
        if (r2 != ERR_NOT_FOUND)
            rc = r2;
    }
    return rc;
}

static void token_work(void *arg)
{
    api_token_job_t *j = arg;
    int64_t now = clock_now_s();
    j->verdict = AUTH_INVALID;
    switch (j->op) {
    case API_TOKEN_REFRESH:
        j->rc = auth_refresh(j->auth, &j->ref, now, &j->pair, &j->verdict);
        break;
    case API_TOKEN_CHECK:
        j->rc = auth_refresh_check(j->auth, &j->ref, now, &j->verdict);
        break;
    case API_TOKEN_ACCESS:
        j->rc = auth_access_for_refresh(j->auth, &j->ref, now, &j->pair, &j->verdict);
        break;
    case API_TOKEN_LOGOUT:
        j->rc = logout(j, now);
        break;
    case API_TOKEN_USER:
        j->rc = auth_user_load_copy(j->auth, j->user_id, now, &j->pair, &j->user_active);
        break;
    }
}

/* See req.h. */
int api__token_submit(http_req_t *req, api_token_job_t *j, http_done_fn done, bool answer)
{
    if (http_pool_submit(req, token_work, done, j) == 0)
        return 0;
    api__token_job_free(j);
    if (answer)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    return ERR_UNAVAILABLE;
}

/* See req.h. */
bool api__submit(http_req_t *req, http_work_fn work, http_done_fn done, void *job,
                 void (*job_free)(void *))
{
    if (http_pool_submit(req, work, done, job) == 0)
        return true;
    if (job_free)
        job_free(job);
    http_respond_error(req, ERR_UNAVAILABLE, NULL);
    return false;
}

struct json_job {
    api_json_work_fn work;
    void *arg;
    void (*arg_free)(void *);
    int rc;
    buf_t out;
};

static void json_job_free(void *p)
{
    struct json_job *j = p;
    if (j->arg_free)
        j->arg_free(j->arg);
    buf_dispose(&j->out);
    free(j);
}

static void json_work(void *p)
{
    struct json_job *j = p;
    j->rc = j->work(j->arg, &j->out);
}

static void json_done(http_req_t *req, void *p, int status)
{
    struct json_job *j = p;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0)
        api__respond_nostore(req, 200, buf_str(&j->out));
    else if (rc == ERR_NOT_FOUND || rc == ERR_PERMISSION)
        http_respond_error(req, rc, NULL);
    else
        api__failure(req, rc);
    json_job_free(j);
}

/* See req.h. */
void api__submit_json(http_req_t *req, api_json_work_fn work, void *arg, void (*arg_free)(void *),
                      size_t max_bytes)
{
    struct json_job *j = xcalloc(1, sizeof *j);
    j->work = work;
    j->arg = arg;
    j->arg_free = arg_free;
    buf_init(&j->out, max_bytes);
    api__submit(req, json_work, json_done, j, json_job_free);
}

/* ---- the user object ---------------------------------------------------------------------- */

static void respond_user(http_req_t *req, const char *out, size_t len, bool active, bool wrap);

struct user_lookup {
    http_req_t *req;
    const api_ctx_t *ctx;
    int64_t user_id;
    bool wrap;
};

static void user_done(http_req_t *req, void *arg, int status);

/* auth_user_cb: a hit answers the user object (or 401 user_inactive); a miss loads the user
   on the pool (user_done). */
static void on_user_cached(void *arg, int status, str_t json, bool active)
{
    struct user_lookup l = *(struct user_lookup *)arg;
    free(arg);
    if (status == 0) {
        respond_user(l.req, json.ptr, json.len, active, l.wrap);
        return;
    }
    api_token_job_t *j = api__token_job_new(l.ctx, API_TOKEN_USER);
    j->user_id = l.user_id;
    j->ctx = l.ctx;
    j->shape = l.wrap;
    (void)api__token_submit(l.req, j, user_done, true);
}

/* The user object json (wrapped when wrap), or 401 user_inactive in that shape. */
static void respond_user(http_req_t *req, const char *out, size_t len, bool active, bool wrap)
{
    if (!active) {
        if (wrap)
            api__auth_error(req, 401, "user_inactive", "User is inactive", API_WWW_INVALID);
        else
            api__respond_code(req, 401, "user_inactive", "User is inactive", API_WWW_INVALID);
        return;
    }
    if (!wrap) {
        api__respond_nostore(req, 200, str_make(out, len));
        return;
    }
    buf_t b;
    buf_init(&b, len + 64);
    buf_append_cstr(&b, "{\"valid\":true,\"user\":");
    buf_append(&b, out, len);
    buf_append_char(&b, '}');
    api__respond_nostore(req, 200, buf_str(&b));
    buf_dispose(&b);
}

static void user_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    bool wrap = j->shape != 0;
    if (rc == ERR_NOT_FOUND && wrap)
        api__auth_error(req, 401, "user_not_found", "User not found", API_WWW_INVALID);
    else if (rc == ERR_NOT_FOUND)
        api__respond_code(req, 401, "user_not_found", "User not found", API_WWW_INVALID);
    else if (rc != 0)
        api__failure(req, rc);
    else /* from the job's copy: a change to the user on any instance may have dropped the
            cache entry since (that was a 503 with every backend healthy) */
        respond_user(req, j->pair.user_json, j->pair.user_json_len, j->user_active, wrap);
    api__token_job_free(j);
}

/* See req.h. */
void api__respond_user(http_req_t *req, const api_ctx_t *ctx, int64_t user_id, bool wrap)
{
    struct user_lookup *l = xmalloc(sizeof *l);
    l->req = req;
    l->ctx = ctx;
    l->user_id = user_id;
    l->wrap = wrap;
    auth_user_cached_get(ctx->auth, user_id, clock_now_s(), on_user_cached, l);
}

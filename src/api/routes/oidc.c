/*
 * oidc.c - social sign-in routes (jwtd as an OpenID Connect relying party, auth/oidc.h):
 *
 *   GET    /auth/oidc/providers          {"providers":[{"name","start"}]}: the sign-in page's
 *                                        "Sign in with ..." buttons
 *   GET    /auth/oidc/{name}/start       ?next=/app/...: 302 to the provider's authorization
 *                                        endpoint, with the browser binding cookie
 *   GET    /auth/oidc/{name}/callback    the provider's redirect: 302 to next with the refresh
 *                                        cookie of the browser flow (as POST /api/auth/login/
 *                                        sets it), or 302 to the sign-in page with
 *                                        ?oidc_error=<code>, or for a user with a second
 *                                        factor 302 to the sign-in page with the mfa_token
 *                                        in the fragment (redirect_step)
 *   GET    /auth/oidc/identities         Bearer: the caller's linked identities
 *   DELETE /auth/oidc/identities/{id}    Bearer: unlink (409 last_sign_in_method when it is
 *                                        the only way left to sign in)
 *
 * The binding cookie (API_OIDC_COOKIE) is HttpOnly, SameSite=Lax (the provider's redirect
 * is a top-level GET, which Lax lets through), Path=/auth/oidc/, ten minutes; the callback
 * clears it. A callback's failure never shows more than its code: the reason is in the
 * logs and the audit trail.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes/routes.h"
#include "auth/oidc.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

#define API_OIDC_COOKIE   "jwtd_oidc"
#define OIDC_DEFAULT_NEXT "/app/"
#define OIDC_SIGNIN_PAGE  "/app/"
#define URL_MAX           2048

/* Set-Cookie of the browser binding (value NULL: cleared). */
static void set_bind_cookie(http_req_t *req, const api_ctx_t *ctx, const char *value)
{
    char c[256];
    bool secure = ctx->o.secure_cookie || api__https(req, ctx);
    snprintf(c, sizeof c,
             API_OIDC_COOKIE "=%s; Max-Age=%d; Path=/auth/oidc/; HttpOnly; SameSite=Lax%s",
             value ? value : "", value ? 600 : 0, secure ? "; Secure" : "");
    http_resp_header_add(req, "Set-Cookie", c);
}

static void redirect(http_req_t *req, const char *location)
{
    http_resp_header_add(req, "Location", location);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 302, NULL, STR_LIT(""));
}

/* 302 to the sign-in page with ?oidc_error=code. */
static void redirect_error(http_req_t *req, const char *code)
{
    char loc[128];
    snprintf(loc, sizeof loc, OIDC_SIGNIN_PAGE "?oidc_error=%s", code);
    redirect(req, loc);
}

/* ==== providers ============================================================================ */

static void on_providers(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    buf_t b;
    buf_init(&b, 64 * 1024);
    buf_append_cstr(&b, "{\"providers\":[");
    for (size_t i = 0; i < auth_oidc_count(ctx->oidc); i++) {
        const char *name = auth_oidc_name(ctx->oidc, i);
        buf_append_cstr(&b, i ? ",{\"name\":" : "{\"name\":");
        jsonw_buf_cstr(&b, name);
        buf_printf(&b, ",\"start\":\"/auth/oidc/%s/start\"}", name);
    }
    buf_append_cstr(&b, "]}");
    api__respond_buf(req, 200, &b);
}

/* ==== start ================================================================================ */

struct start_job {
    auth_oidc_t *oidc;
    char *name, *redirect_uri, *next;
    int rc;
    auth_oidc_start_t out;
};

static void start_job_free(void *p)
{
    struct start_job *j = p;
    free(j->name);
    free(j->redirect_uri);
    free(j->next);
    auth_oidc_start_dispose(&j->out);
    free(j);
}

static void start_work(void *arg)
{
    struct start_job *j = arg;
    j->rc = auth_oidc_start(j->oidc, str_cstr(j->name), j->redirect_uri, j->next, clock_now_s(),
                            &j->out);
}

static void start_done(http_req_t *req, void *arg, int status)
{
    struct start_job *j = arg;
    const api_ctx_t *ctx = req->route_data;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        set_bind_cookie(req, ctx, j->out.bind);
        redirect(req, j->out.location);
    } else if (rc == ERR_UNAVAILABLE) {
        redirect_error(req, auth_oidc_error_code(AUTH_OIDC_UNAVAILABLE));
    } else {
        api__failure(req, rc);
    }
    start_job_free(j);
}

static void on_start(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    str_t name = http_req_param(req, "name");
    if (!auth_oidc_has(ctx->oidc, name)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    str_t next = STR_LIT(OIDC_DEFAULT_NEXT);
    int qrc = http_req_query(req, "next", &next);
    if (qrc == ERR_INVALID || (qrc == 0 && !auth_oidc_next_ok(next))) {
        api__bad_request(req, "next", "next must be a path on this site, such as /app/.");
        return;
    }
    if (qrc != 0)
        next = STR_LIT(OIDC_DEFAULT_NEXT);
    char base[512];
    api__base_url(req, ctx, base, sizeof base);
    struct start_job *j = xcalloc(1, sizeof *j);
    j->oidc = ctx->oidc;
    j->name = xstrndup(name.ptr, name.len);
    j->next = xstrndup(next.ptr, next.len);
    size_t n = strlen(base) + name.len + 32;
    j->redirect_uri = xmalloc(n);
    snprintf(j->redirect_uri, n, "%s/auth/oidc/%s/callback", base, j->name);
    (void)api__submit(req, start_work, start_done, j, start_job_free);
}

/* ==== callback ============================================================================= */

struct callback_job {
    auth_oidc_t *oidc;
    char *name, *state, *code, *error, *bind;
    char *ip, *ua, *fph;
    enum auth_oidc_error e;
    auth_oidc_result_t out;
};

static void callback_job_free(void *p)
{
    struct callback_job *j = p;
    free(j->name);
    free(j->state);
    free(j->code);
    free(j->error);
    free(j->bind);
    free(j->ip);
    free(j->ua);
    free(j->fph);
    auth_oidc_result_dispose(&j->out);
    free(j);
}

static str_t opt_str(const char *s)
{
    return s ? str_cstr(s) : STR_NULL;
}

static void callback_work(void *arg)
{
    struct callback_job *j = arg;
    auth_oidc_callback_t cb = {opt_str(j->state), opt_str(j->code), opt_str(j->error),
                               opt_str(j->bind)};
    /* the browser flow's session; its second step, when one is needed, answers in it too */
    auth_client_t client = {.ip = j->ip, .user_agent = j->ua, .fph = j->fph, .family = "cookie"};
    j->e = auth_oidc_finish(j->oidc, str_cstr(j->name), &cb, &client, clock_now_s(), &j->out);
}

/*
 * 302 to the sign-in page for jwtd's second step: ?next=<next> and, in the fragment (never
 * sent to a server, nor in a Referer), mfa_token=<token>&factors=<types> (the page asks for
 * the code or the passkey and finishes with POST /auth/mfa/verify or the passkey routes, in
 * the cookie flow), or enroll_token=<token> when the user's role requires a factor that is
 * not set up yet.
 */
static void redirect_step(http_req_t *req, const auth_oidc_result_t *r)
{
    buf_t b;
    buf_init(&b, URL_MAX + 2 * AUTH_TOKEN_MAX);
    buf_append_cstr(&b, OIDC_SIGNIN_PAGE "?next=");
    for (const unsigned char *c = (const unsigned char *)r->next; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~/", *c))
            buf_append_char(&b, (char)*c);
        else
            buf_printf(&b, "%%%02X", *c);
    }
    if (r->step == ERR_MFA_REQUIRED) {
        buf_printf(&b, "#mfa_token=%s&factors=", r->pair.mfa_token);
        /* the kinds of factor the user has, from [{"id","type"},...]: "totp,webauthn" */
        bool totp = r->pair.mfa_factors && strstr(r->pair.mfa_factors, "\"type\":\"totp\"");
        bool wa = r->pair.mfa_factors && strstr(r->pair.mfa_factors, "\"type\":\"webauthn\"");
        buf_append_cstr(&b, totp && wa ? "totp,webauthn" : wa ? "webauthn" : "totp");
    } else {
        buf_append_cstr(&b, "#enroll_token=");
        buf_append(&b, r->pair.access, r->pair.access_len);
    }
    buf_append_char(&b, '\0');
    redirect(req, b.data);
    buf_dispose_secret(&b);
}

static void callback_done(http_req_t *req, void *arg, int status)
{
    struct callback_job *j = arg;
    const api_ctx_t *ctx = req->route_data;
    set_bind_cookie(req, ctx, NULL);
    if (status != 0) {
        api__failure(req, status);
    } else if (j->e == AUTH_OIDC_OK && j->out.step != 0) {
        redirect_step(req, &j->out);
    } else if (j->e == AUTH_OIDC_OK) {
        api__set_refresh_cookie(req, ctx, j->out.pair.refresh, j->out.pair.refresh_len);
        redirect(req, j->out.next);
    } else {
        redirect_error(req, auth_oidc_error_code(j->e));
    }
    callback_job_free(j);
}

/* The query parameter name copied to the heap, NULL when absent or badly escaped. */
static char *query_dup(http_req_t *req, const char *name, size_t max)
{
    str_t v;
    if (http_req_query(req, name, &v) != 0 || v.len > max)
        return NULL;
    return xstrndup(v.ptr, v.len);
}

static void on_callback(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    str_t name = http_req_param(req, "name");
    if (!auth_oidc_has(ctx->oidc, name)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    struct callback_job *j = xcalloc(1, sizeof *j);
    char fph[AUTH_FPH_MAX + 1];
    j->oidc = ctx->oidc;
    j->name = xstrndup(name.ptr, name.len);
    j->state = query_dup(req, "state", 256);
    j->code = query_dup(req, "code", 4096);
    j->error = query_dup(req, "error", 256);
    str_t bind = api__cookie(req, API_OIDC_COOKIE);
    j->bind = bind.ptr && bind.len <= 256 ? xstrndup(bind.ptr, bind.len) : NULL;
    j->ip = xstrdup(http_req_client_str(req));
    str_t ua = http_req_header(req, "user-agent");
    j->ua = ua.ptr ? xstrndup(ua.ptr, ua.len > 512 ? 512 : ua.len) : NULL;
    j->fph = api__fingerprint(req, ctx, fph) ? xstrdup(fph) : NULL;
    (void)api__submit(req, callback_work, callback_done, j, callback_job_free);
}

/* ==== identities =========================================================================== */

struct id_job {
    auth_oidc_t *oidc;
    int64_t user_id, id;
    int rc;
};

static int identities_work(void *arg, buf_t *out)
{
    struct id_job *j = arg;
    return auth_oidc_identities_json(j->oidc, j->user_id, out);
}

static void on_identities(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    struct id_job *j = xcalloc(1, sizeof *j);
    j->oidc = ctx->oidc;
    j->user_id = t->user_id;
    api__submit_json(req, identities_work, j, free, 256 * 1024);
}

static void unlink_work(void *arg)
{
    struct id_job *j = arg;
    j->rc = auth_oidc_unlink(j->oidc, j->user_id, j->id, clock_now_s());
}

static void unlink_done(http_req_t *req, void *arg, int status)
{
    struct id_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0)
        http_respond(req, 204, NULL, STR_LIT(""));
    else if (rc == ERR_NOT_FOUND)
        http_respond_error(req, ERR_NOT_FOUND, NULL);
    else if (rc == ERR_CONFLICT)
        api__respond_code(req, 409, "last_sign_in_method",
                          "This is the only way left to sign in to this account: set a password "
                          "or link another provider first.",
                          NULL);
    else
        api__failure(req, rc);
    free(j);
}

static void on_unlink(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    int64_t id;
    if (!api__param_id(req, "id", &id)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    struct id_job *j = xcalloc(1, sizeof *j);
    j->oidc = ctx->oidc;
    j->user_id = t->user_id;
    j->id = id;
    (void)api__submit(req, unlink_work, unlink_done, j, free);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/auth/oidc/providers", on_providers},
    {HTTP_M_GET, "/auth/oidc/identities", on_identities},
    {HTTP_M_DELETE, "/auth/oidc/identities/{id}", on_unlink},
    {HTTP_M_GET, "/auth/oidc/{name}/start", on_start},
    {HTTP_M_GET, "/auth/oidc/{name}/callback", on_callback},
};

/* Mounted only when the request layer has a relying party (api_ctx_set_oidc). */
static int mount(http_router_t *r, void *data)
{
    const api_ctx_t *ctx = data;
    if (!ctx->oidc)
        return 0;
    for (size_t k = 0; k < sizeof ROUTES / sizeof ROUTES[0]; k++)
        if (http_router_add(r, ROUTES[k].method, ROUTES[k].pattern, ROUTES[k].fn, data) != 0)
            return ERR_INVALID;
    return 0;
}

/* See routes.h. */
const api_family_t api_oidc_family = API_FAMILY_MOUNT(mount);

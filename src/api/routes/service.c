/*
 * service.c - the service routes (FastAPI-style): POST /auth/register, /auth/login (JSON or
 * the OAuth2 password form), /auth/refresh, /auth/logout, /auth/logout-all and GET
 * /auth/me.
 *
 * Thin adapters over the token service: tokens are issued, rotated and revoked exactly as
 * for the SimpleJWT routes; only the wire shapes differ ({"access_token","refresh_token",
 * "token_type":"bearer","expires_in","user"}). Registration is the service's use case
 * (auth_user_register), the same one `jwtd user create` runs.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/routes/routes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

/* ==== shapes ================================================================================= */

/* {"access_token","refresh_token","token_type":"bearer","expires_in","user"}, no-store. */
static void respond_tokens(http_req_t *req, const api_ctx_t *ctx, const auth_pair_t *p,
                           str_t refresh)
{
    buf_t b;
    buf_init(&b, 4 * AUTH_TOKEN_MAX + 8192);
    buf_append_cstr(&b, "{\"access_token\":\"");
    buf_append(&b, p->access, p->access_len);
    buf_append_cstr(&b, "\",\"refresh_token\":\"");
    buf_append(&b, refresh.ptr, refresh.len);
    buf_printf(&b, "\",\"token_type\":\"bearer\",\"expires_in\":%" PRId64,
               auth_access_lifetime(ctx->auth));
    if (p->user_json) {
        buf_append_cstr(&b, ",\"user\":");
        buf_append(&b, p->user_json, p->user_json_len);
    }
    buf_append_char(&b, '}');
    http_resp_header_add(req, "Pragma", "no-cache");
    api__respond_nostore(req, 200, buf_str(&b));
    buf_dispose_secret(&b);
}

/* ==== POST /auth/register ======================================================================
 */

struct register_job {
    auth_t *auth;
    char *username, *email, *first, *last;
    char *password;
    size_t password_len;
    int rc;
    auth_user_errors_t errors;
    char *user_json;
    size_t user_json_len;
};

static void register_job_free(void *arg)
{
    struct register_job *j = arg;
    free(j->username);
    free(j->email);
    free(j->first);
    free(j->last);
    free_secret(j->password, j->password_len + 1);
    free(j->user_json);
    free(j);
}

/* The account the job asks for. */
static auth_new_user_t new_user(const struct register_job *j)
{
    return (auth_new_user_t){.username = j->username,
                             .email = j->email,
                             .password = j->password,
                             .password_len = j->password_len,
                             .first_name = j->first,
                             .last_name = j->last};
}

static void register_work(void *arg)
{
    struct register_job *j = arg;
    auth_new_user_t u = new_user(j);
    j->rc = auth_user_register(j->auth, &u, clock_now_s(), NULL, &j->user_json, &j->user_json_len,
                               &j->errors);
}

/* 409 with the DRF field error of the taken field. */
static void respond_conflict(http_req_t *req, const auth_user_errors_t *e)
{
    const char *field = e->username ? "username" : "email";
    const char *msg = e->username ? e->username : e->email;
    buf_t b;
    buf_init(&b, 1024);
    buf_append_cstr(&b, "{\"detail\":");
    jsonw_buf_cstr(&b, msg);
    buf_printf(&b, ",\"code\":\"conflict\",\"%s\":[", field);
    jsonw_buf_cstr(&b, msg);
    buf_append_cstr(&b, "]}");
    api__respond_buf(req, 409, &b);
}

static void register_done(http_req_t *req, void *arg, int status)
{
    struct register_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0)
        http_respond(req, 201, API_JSON_CT, str_make(j->user_json, j->user_json_len));
    else if (rc == ERR_CONFLICT)
        respond_conflict(req, &j->errors);
    else if (rc == ERR_SIGNUP_CLOSED)
        http_respond_error(req, rc, NULL);
    else if (rc == ERR_INVALID)
        api__bad_request(req, "username",
                         j->errors.username ? j->errors.username : "Enter a valid username.");
    else
        api__failure(req, rc);
    register_job_free(j);
}

/* 400 with every field error: the fields' own, then the use case's (all password rules). */
static bool respond_register_errors(http_req_t *req, api_field_t *f, size_t n,
                                    const auth_user_errors_t *e)
{
    if (!f[0].error)
        f[0].error = e->username;
    if (!f[1].error)
        f[1].error = e->email;
    if (!e->password.count)
        return api__respond_field_errors(req, f, n);
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"detail\":\"Invalid input.\",\"code\":\"invalid_request\"");
    for (size_t i = 0; i < n; i++) {
        if (!f[i].error || i == 2)
            continue;
        buf_printf(&b, ",\"%s\":[", f[i].name);
        jsonw_buf_cstr(&b, f[i].error);
        buf_append_char(&b, ']');
    }
    buf_append_cstr(&b, ",\"password\":[");
    for (size_t i = 0; i < e->password.count; i++) {
        if (i)
            buf_append_char(&b, ',');
        jsonw_buf_cstr(&b, e->password.messages[i]);
    }
    buf_append_cstr(&b, "]}");
    api__respond_buf(req, 400, &b);
    return true;
}

static void on_register(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    api_field_t f[5] = {
        {.name = "username", .required = true, .trim = true, .max_chars = 150},
        {.name = "email", .required = true, .trim = true, .max_chars = 254},
        {.name = "password", .required = true, .trim = false, .max_chars = 0},
        {.name = "first_name", .trim = true, .allow_blank = true, .max_chars = 150},
        {.name = "last_name", .trim = true, .allow_blank = true, .max_chars = 150},
    };
    json_t *body;
    if (!auth_signup_open(ctx->auth)) { /* before the body: its mistakes are moot */
        http_respond_error(req, ERR_SIGNUP_CLOSED, NULL);
        return;
    }
    if (api__read_fields(req, f, 5, 0, &body) != 0)
        return;
    struct register_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->username = xstrndup(f[0].value.ptr, f[0].value.len);
    j->email = xstrndup(f[1].value.ptr, f[1].value.len);
    j->password = xstrndup(f[2].value.ptr, f[2].value.len);
    j->password_len = f[2].value.len;
    j->first = xstrndup(f[3].value.ptr ? f[3].value.ptr : "", f[3].value.len);
    j->last = xstrndup(f[4].value.ptr ? f[4].value.ptr : "", f[4].value.len);
    json_decref(body);
    auth_new_user_t u = new_user(j);
    if (auth_user_validate(&u, false, &j->errors) != 0) {
        respond_register_errors(req, f, 5, &j->errors);
        register_job_free(j);
        return;
    }
    api__submit(req, register_work, register_done, j, register_job_free);
}

/* ==== POST /auth/login ==========================================================================
 */

/* See req.h (API_LOGIN_FAMILIES): the answer of a login, or of its second step. */
void api_service_login_done(http_req_t *req, void *arg, int status)
{
    api_login_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        api__device_token_header(req, j);
        respond_tokens(req, req->route_data, &j->pair,
                       str_make(j->pair.refresh, j->pair.refresh_len));
    } else if (api__respond_login_step(req, rc, &j->pair, false)) {
    } else if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        http_resp_header_add(req, "WWW-Authenticate", API_WWW_PLAIN);
        http_respond_error(req, ERR_NO_ACTIVE_ACCOUNT, NULL);
    } else {
        api__failure(req, rc);
    }
    api__login_job_free(j);
}

/*
 * JSON {"username","password"} or the OAuth2 password form (FastAPI's
 * OAuth2PasswordRequestForm: grant_type optional but "password" when present; scope,
 * client_id and client_secret accepted and ignored).
 */
static void on_login(http_req_t *req)
{
    api_field_t f[4] = {
        {.name = "username", .required = true, .trim = true, .max_chars = 150},
        {.name = "password", .required = true, .trim = false},
        {.name = "grant_type", .trim = true, .allow_blank = true},
        {.name = API_DEVICE_TOKEN, .max_chars = AUTH_TOKEN_MAX},
    };
    json_t *body;
    if (api__read_fields(req, f, 4, 0, &body) != 0)
        return;
    if (f[2].value.ptr && f[2].value.len && !str_eq_cstr(f[2].value, "password")) {
        json_decref(body);
        http_respond(req, 400, API_JSON_CT,
                     STR_LIT("{\"detail\":\"grant_type must be \\\"password\\\"\","
                             "\"code\":\"invalid_request\",\"error\":\"unsupported_grant_type\"}"));
        return;
    }
    api__login_submit(req, req->route_data, f[0].value, f[1].value, f[3].value, 0,
                      api_service_login_done);
    json_decref(body);
}

/* ==== POST /auth/refresh =========================================================================
 */

static void refresh_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    if (!api__token_job_refused(req, j, status)) {
        /* without rotation the refresh token presented stays the client's */
        str_t refresh = j->pair.refresh_len ? str_make(j->pair.refresh, j->pair.refresh_len)
                                            : str_make(j->presented, j->presented_len);
        respond_tokens(req, j->ctx, &j->pair, refresh);
    }
    api__token_job_free(j);
}

static void on_refresh(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    api_field_t f[1] = {{.name = "refresh_token", .required = true, .trim = true, .token = true}};
    json_t *body;
    if (api__read_fields(req, f, 1, 0, &body) != 0)
        return;
    enum auth_verdict v;
    const auth_token_ref_t *t = api__verify(req, ctx, f[0].value, AUTH_TOKEN_REFRESH, &v);
    if (v != AUTH_OK) {
        json_decref(body);
        api__respond_token_invalid(req, ctx, v);
        return;
    }
    api_token_job_t *j = api__token_job_new(ctx, API_TOKEN_REFRESH);
    j->ctx = ctx;
    j->ref = *t;
    j->has_ref = true;
    j->presented = xstrndup(f[0].value.ptr, f[0].value.len);
    j->presented_len = f[0].value.len;
    json_decref(body);
    (void)api__token_submit(req, j, refresh_done, true);
}

/* ==== POST /auth/logout, /auth/logout-all =======================================================
 */

struct logout_job {
    auth_t *auth;
    bool all;
    int64_t user_id;
    char sid[AUTH_ID_MAX + 1];
    char jti[AUTH_ID_MAX + 1];
    int64_t exp;
    int rc;
};

static void logout_work(void *arg)
{
    struct logout_job *j = arg;
    int64_t now = clock_now_s();
    if (j->all) {
        j->rc = auth_user_revoke_all(j->auth, j->user_id, now);
        return;
    }
    /* the session (its refresh family and every access token it issued), and this access
       token by jti too, so that it is refused even by a verifier that only sees jtis */
    if (j->sid[0]) {
        j->rc = auth_revoke_session(j->auth, j->sid, now);
        if (j->rc == ERR_NOT_FOUND)
            j->rc = 0;
    }
    if (j->rc == 0 && j->jti[0])
        j->rc = auth_revoke_jti(j->auth, j->jti, j->exp, now);
}

static void logout_done(http_req_t *req, void *arg, int status)
{
    struct logout_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0 || rc == ERR_NOT_FOUND)
        http_respond(req, 204, NULL, STR_NULL);
    else
        api__failure(req, rc);
    free(j);
}

static void logout_route(http_req_t *req, bool all)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    struct logout_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->all = all;
    j->user_id = t->user_id;
    j->exp = t->exp ? t->exp : clock_now_s() + auth_access_lifetime(ctx->auth);
    memcpy(j->sid, t->sid, sizeof j->sid);
    memcpy(j->jti, t->jti, sizeof j->jti);
    api__submit(req, logout_work, logout_done, j, free);
}

static void on_logout(http_req_t *req)
{
    logout_route(req, false);
}

static void on_logout_all(http_req_t *req)
{
    logout_route(req, true);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_POST, "/auth/register", on_register},     {HTTP_M_POST, "/auth/login", on_login},
    {HTTP_M_POST, "/auth/refresh", on_refresh},       {HTTP_M_POST, "/auth/logout", on_logout},
    {HTTP_M_POST, "/auth/logout-all", on_logout_all}, {HTTP_M_GET, "/auth/me", api__on_me},
};

/* See routes.h. */
const api_family_t api_service_family = API_FAMILY(ROUTES, NULL);

/*
 * account.c - the account lifecycle routes (e-mail): POST /auth/email/verify,
 * /auth/email/resend, /auth/email/change, /auth/password/forgot, /auth/password/reset,
 * /auth/password/change, /auth/otp and /auth/otp/verify (with "set_cookie": true, as the web
 * UI sends it, the refresh token is also set as the browser flow's cookie).
 *
 * Thin adapters over the lifecycle use cases of auth.h (lifecycle.c): read the body, ask the
 * mail guard when the route sends mail or checks an e-mailed code (per address and per client
 * address, 429 with Retry-After), run the use case on the pool, answer. The routes that take
 * an address answer 202 {} whether or not it has an account. Without mail (no JWTD_SMTP_URL
 * outside development) the routes that send mail answer 503 instead of pretending.
 */
#define LOG_MODULE "api"
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/routes/routes.h"
#include "auth/mfa.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

#define MAIL_OFF_DETAIL "E-mail delivery is not configured on this server."

enum account_op {
    OP_VERIFY,
    OP_RESEND,
    OP_FORGOT,
    OP_RESET,
    OP_CHANGE_PASSWORD,
    OP_CHANGE_EMAIL,
    OP_OTP,
    OP_OTP_VERIFY,
};

struct account_job {
    const api_ctx_t *ctx;
    enum account_op op;
    http_req_t *req; /* while the guard decides */
    char *email, *token, *code;
    char *password, *password2; /* wiped on free */
    size_t password_len, password2_len;
    int64_t user_id;
    char sid[AUTH_ID_MAX + 1];
    char *ip, *ua;
    bool set_cookie; /* otp/verify from the web UI: the refresh token in the cookie too */
    char *bind;      /* with set_cookie: the request's origin, bound to a second step */
    /* OUT */
    int rc;
    auth_policy_result_t policy;
    char *json;
    size_t json_len;
    auth_pair_t pair;
};

static void job_free(void *arg)
{
    struct account_job *j = arg;
    free(j->email);
    if (j->token)
        free_secret(j->token, strlen(j->token) + 1);
    if (j->code)
        free_secret(j->code, strlen(j->code) + 1);
    if (j->password)
        free_secret(j->password, j->password_len + 1);
    if (j->password2)
        free_secret(j->password2, j->password2_len + 1);
    free(j->ip);
    free(j->ua);
    free(j->bind);
    free(j->json);
    auth_pair_dispose(&j->pair);
    free(j);
}

static struct account_job *job_new(http_req_t *req, enum account_op op)
{
    struct account_job *j = xcalloc(1, sizeof *j);
    j->ctx = req->route_data;
    j->op = op;
    j->req = req;
    return j;
}

static char *dup_field(str_t v)
{
    return v.ptr ? xstrndup(v.ptr, v.len) : NULL;
}

static void work(void *arg)
{
    struct account_job *j = arg;
    auth_t *a = j->ctx->auth;
    int64_t now = clock_now_s();
    switch (j->op) {
    case OP_VERIFY:
        j->rc = auth_email_verify(a, j->token, now, &j->json, &j->json_len);
        break;
    case OP_RESEND:
        j->rc = auth_email_resend(a, j->email, now);
        break;
    case OP_FORGOT:
        j->rc = auth_password_forgot(a, j->email, now);
        break;
    case OP_RESET:
        j->rc = auth_password_reset(a, j->token, j->password, j->password_len, now, &j->policy);
        break;
    case OP_CHANGE_PASSWORD:
        j->rc = auth_password_change(a, j->user_id, j->sid, j->password, j->password_len,
                                     j->password2, j->password2_len, now, &j->policy);
        break;
    case OP_CHANGE_EMAIL:
        j->rc = auth_email_change(a, j->user_id, j->email, j->password, j->password_len, now);
        break;
    case OP_OTP:
        j->rc = auth_otp_request(a, j->email, now);
        break;
    case OP_OTP_VERIFY: {
        /* a second step (POST /auth/mfa/verify) finishes in the shape of a login
           (API_LOGIN_FAMILIES): the web UI's (set_cookie) as its cookie login, bound to its
           origin as that one is; otherwise as /auth/login */
        auth_client_t client = {.ip = j->ip,
                                .user_agent = j->ua,
                                .family = j->set_cookie ? "cookie" : "service",
                                .bind = j->set_cookie ? j->bind : NULL};
        j->rc = auth_otp_verify(a, j->email, j->code, j->token, &client, now, &j->pair);
        break;
    }
    }
}

/* 400 with the policy's messages under field. */
static void respond_policy(http_req_t *req, const char *field, const auth_policy_result_t *p)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"detail\":\"Invalid input.\",\"code\":\"invalid_request\",");
    jsonw_buf_cstr(&b, field);
    buf_append_cstr(&b, ":[");
    for (size_t i = 0; i < p->count; i++) {
        if (i)
            buf_append_char(&b, ',');
        jsonw_buf_cstr(&b, p->messages[i]);
    }
    buf_append_cstr(&b, "]}");
    api__respond_buf(req, 400, &b);
}

static void done(http_req_t *req, void *arg, int status)
{
    struct account_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == ERR_INVALID_LINK) {
        http_respond_error(req, rc, NULL);
    } else if (rc == ERR_INVALID) {
        respond_policy(req, j->op == OP_CHANGE_PASSWORD ? "new_password" : "password", &j->policy);
    } else if (rc == ERR_PERMISSION) { /* the password given to confirm is wrong */
        const char *field = j->op == OP_CHANGE_PASSWORD ? "current_password" : "password";
        api__bad_request(req, field, "The password is not correct.");
    } else if (rc == ERR_UNAVAILABLE && !auth_mail_enabled(j->ctx->auth)) {
        http_respond_error(req, ERR_UNAVAILABLE, MAIL_OFF_DETAIL);
    } else if (rc == ERR_NOT_FOUND) { /* the caller's account is gone */
        api__respond_code(req, 401, "user_not_found", "User not found", API_WWW_INVALID);
    } else if (j->op == OP_OTP_VERIFY && api__respond_login_step(req, rc, &j->pair, false)) {
        /* 401 mfa_required (or 403 mfa_enrollment_required): sent */
    } else if (rc != 0) {
        api__failure(req, rc);
    } else if (j->op == OP_VERIFY) {
        api__respond_nostore(req, 200, str_make(j->json, j->json_len));
    } else if (j->op == OP_RESET || j->op == OP_CHANGE_PASSWORD) {
        api__respond_nostore(req, 200, STR_LIT("{}"));
    } else if (j->op == OP_OTP_VERIFY) {
        if (j->set_cookie)
            api__set_refresh_cookie(req, j->ctx, j->pair.refresh, j->pair.refresh_len);
        api__service_tokens(req, j->ctx, &j->pair, str_make(j->pair.refresh, j->pair.refresh_len));
    } else {
        api__respond_nostore(req, 202, STR_LIT("{}"));
    }
    job_free(j);
}

static void submit(http_req_t *req, struct account_job *j)
{
    api__submit(req, work, done, j, job_free);
}

/* The mail guard's answer: run the job, or 429. */
static void on_guard(void *arg, const auth_guard_result_t *r)
{
    struct account_job *j = arg;
    http_req_t *req = j->req;
    if (r->allowed) {
        submit(req, j);
        return;
    }
    job_free(j);
    api__respond_throttled(req, r, AUTH_GUARD_MAIL);
}

static void guard_then_submit(http_req_t *req, struct account_job *j, const char *address)
{
    auth_guard_mail(j->ctx->auth, http_req_client_str(req), address, on_guard, j);
}

/* 503 when the route would send mail and none can be sent. */
static bool mail_off(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    if (auth_mail_enabled(ctx->auth))
        return false;
    http_respond_error(req, ERR_UNAVAILABLE, MAIL_OFF_DETAIL);
    return true;
}

/* Reads an address field: present, at most 254 characters, an e-mail address. */
static bool read_address(http_req_t *req, const char *name, char **out)
{
    api_field_t f[1] = {{.name = name, .required = true, .trim = true, .max_chars = 254}};
    json_t *body;
    if (api__read_fields(req, f, 1, 0, &body) != 0)
        return false;
    *out = dup_field(f[0].value);
    json_decref(body);
    if (!auth_email_valid(*out)) {
        free(*out);
        *out = NULL;
        api__bad_request(req, name, "Enter a valid email address.");
        return false;
    }
    return true;
}

/* ==== routes ================================================================================ */

/* POST /auth/email/verify {"token"} */
static void on_verify(http_req_t *req)
{
    api_field_t f[1] = {{.name = "token", .required = true, .trim = true, .max_chars = 256}};
    json_t *body;
    if (api__read_fields(req, f, 1, 0, &body) != 0)
        return;
    struct account_job *j = job_new(req, OP_VERIFY);
    j->token = dup_field(f[0].value);
    json_decref(body);
    submit(req, j);
}

/* POST /auth/email/resend, /auth/password/forgot, /auth/otp {"email"} */
static void address_route(http_req_t *req, enum account_op op)
{
    char *email;
    if (mail_off(req) || !read_address(req, "email", &email))
        return;
    struct account_job *j = job_new(req, op);
    j->email = email;
    guard_then_submit(req, j, email);
}

static void on_resend(http_req_t *req)
{
    address_route(req, OP_RESEND);
}

static void on_forgot(http_req_t *req)
{
    address_route(req, OP_FORGOT);
}

static void on_otp(http_req_t *req)
{
    address_route(req, OP_OTP);
}

/* POST /auth/password/reset {"token","password"} */
static void on_reset(http_req_t *req)
{
    api_field_t f[2] = {{.name = "token", .required = true, .trim = true, .max_chars = 256},
                        {.name = "password", .required = true}};
    json_t *body;
    if (api__read_fields(req, f, 2, 0, &body) != 0)
        return;
    struct account_job *j = job_new(req, OP_RESET);
    j->token = dup_field(f[0].value);
    j->password = dup_field(f[1].value);
    j->password_len = f[1].value.len;
    json_decref(body);
    submit(req, j);
}

/* POST /auth/password/change, Bearer, {"current_password","new_password"} */
static void on_change_password(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t)
        return;
    api_field_t f[2] = {{.name = "current_password", .required = true},
                        {.name = "new_password", .required = true}};
    json_t *body;
    if (api__read_fields(req, f, 2, 0, &body) != 0)
        return;
    struct account_job *j = job_new(req, OP_CHANGE_PASSWORD);
    j->user_id = t->user_id;
    memcpy(j->sid, t->sid, sizeof j->sid);
    j->password = dup_field(f[0].value);
    j->password_len = f[0].value.len;
    j->password2 = dup_field(f[1].value);
    j->password2_len = f[1].value.len;
    json_decref(body);
    submit(req, j);
}

/* POST /auth/email/change, Bearer, {"new_email","password"} */
static void on_change_email(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (!t || mail_off(req))
        return;
    api_field_t f[2] = {{.name = "new_email", .required = true, .trim = true, .max_chars = 254},
                        {.name = "password", .required = true}};
    json_t *body;
    if (api__read_fields(req, f, 2, 0, &body) != 0)
        return;
    struct account_job *j = job_new(req, OP_CHANGE_EMAIL);
    j->user_id = t->user_id;
    j->email = dup_field(f[0].value);
    j->password = dup_field(f[1].value);
    j->password_len = f[1].value.len;
    json_decref(body);
    if (!auth_email_valid(j->email)) {
        job_free(j);
        api__bad_request(req, "new_email", "Enter a valid email address.");
        return;
    }
    guard_then_submit(req, j, j->email);
}

/* POST /auth/otp/verify {"email","code"} or {"token"} */
static void on_otp_verify(http_req_t *req)
{
    api_field_t f[3] = {{.name = "email", .trim = true, .max_chars = 254},
                        {.name = "code", .trim = true, .max_chars = 16},
                        {.name = "token", .trim = true, .max_chars = 256}};
    json_t *body;
    if (api__read_fields(req, f, 3, 0, &body) != 0)
        return;
    bool by_token = f[2].value.ptr && f[2].value.len;
    if (!by_token && !(f[0].value.len && f[1].value.len)) {
        json_decref(body);
        /* no field map: a "code" member would clash with the error body's own */
        api__bad_request(req, NULL, "Send the e-mail address and the code, or the token.");
        return;
    }
    struct account_job *j = job_new(req, OP_OTP_VERIFY);
    if (by_token) {
        j->token = dup_field(f[2].value);
    } else {
        j->email = dup_field(f[0].value);
        j->code = dup_field(f[1].value);
    }
    /* the web UI's sign-in: its session lives in the refresh cookie, as after its login */
    j->set_cookie = json_is_true(json_object_get(body, "set_cookie"));
    json_decref(body);
    if (j->set_cookie) {
        char origin[AUTH_MFA_BIND_MAX + 1];
        api__request_origin(req, origin, sizeof origin);
        j->bind = origin[0] ? xstrdup(origin) : NULL;
    }
    j->ip = xstrdup(http_req_client_str(req));
    str_t ua = http_req_header(req, "user-agent");
    j->ua = ua.ptr ? xstrndup(ua.ptr, ua.len > 512 ? 512 : ua.len) : NULL;
    /* every guess at a code counts against the address, like a mail */
    guard_then_submit(req, j, by_token ? NULL : j->email);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_POST, "/auth/email/verify", on_verify},
    {HTTP_M_POST, "/auth/email/resend", on_resend},
    {HTTP_M_POST, "/auth/email/change", on_change_email},
    {HTTP_M_POST, "/auth/password/forgot", on_forgot},
    {HTTP_M_POST, "/auth/password/reset", on_reset},
    {HTTP_M_POST, "/auth/password/change", on_change_password},
    {HTTP_M_POST, "/auth/otp", on_otp},
    {HTTP_M_POST, "/auth/otp/verify", on_otp_verify},
};

/* See routes.h. */
const api_family_t api_account_family = API_FAMILY(ROUTES, NULL);

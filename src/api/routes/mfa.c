/*
 * mfa.c - multi-factor authentication (docs/mfa.md):
 *
 *   POST   /auth/mfa/totp/enroll     Bearer -> {"factor_id","secret","otpauth_uri","qr_svg"}
 *   POST   /auth/mfa/totp/activate   Bearer, {"factor_id","code"} -> {"recovery_codes":[10]}
 *   GET    /auth/mfa/factors         Bearer -> [{"id","type","name","created_at",
 *                                    "last_used_at"}]
 *   DELETE /auth/mfa/factors/{id}    Bearer with auth_time within 10 minutes -> 204; else 401
 *                                    reauthentication_required
 *   POST   /auth/mfa/verify          {"mfa_token","code"} -> the answer of the login family
 *                                    that started it (API_LOGIN_FAMILIES)
 *
 * The first three also take the enrolment token a login of a role that requires a second
 * factor earns (token_type "mfa_enroll"); every other route refuses it (its type is not
 * "access"). The QR code is drawn by libqrencode as SVG, on the pool.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <qrencode.h>

#include "api/routes/routes.h"
#include "auth/mfa.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

/* ==== the caller ============================================================================= */

/*
 * The caller of an MFA route: an access token, or with enroll_ok an enrolment token. NULL
 * after it has responded (401/403, as api__authenticate).
 */
static const auth_token_ref_t *mfa_caller(http_req_t *req, const api_ctx_t *ctx, bool enroll_ok)
{
    const api_locals_t *l = api__caller_presented(req, ctx);
    if (!l)
        return NULL;
    if (enroll_ok && l->bearer_rc == 0 && l->verdict == AUTH_WRONG_TYPE) {
        enum auth_verdict v;
        const auth_token_ref_t *t = api__verify(req, ctx, l->token, AUTH_TOKEN_ANY, &v);
        if (v == AUTH_OK && t->is_mfa_enroll && t->user_id != INT64_MIN)
            return t;
    }
    return api__authenticate(req, ctx);
}

/* ==== the QR code ============================================================================ */

/* Appends the SVG of text's QR code (error correction M, 4 modules of quiet zone) to b. */
static int qr_svg(const char *text, buf_t *b)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return ERR_INTERNAL;
    int w = q->width, size = w + 8;
    buf_printf(b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\" shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
               "fill=\"#fff\"/><path fill=\"#000\" d=\"",
               size, size, size * 6, size * 6, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (q->data[y * w + x] & 1)
                buf_printf(b, "M%d %dh1v1h-1z", x + 4, y + 4);
    buf_append_cstr(b, "\"/></svg>");
    QRcode_free(q);
    return 0;
}

/* ==== jobs =================================================================================== */

enum op { ENROLL, ACTIVATE, LIST, REMOVE };

struct job {
    auth_t *auth;
    enum op op;
    int64_t user_id, factor_id;
    bool passkey; /* REMOVE: factor_id is a passkey's ("webauthn-<id>") */
    char *code;   /* ACTIVATE, wiped on free */
    int rc;
    buf_t out;
};

static void job_free(void *arg)
{
    struct job *j = arg;
    if (j->code)
        free_secret(j->code, strlen(j->code) + 1);
    buf_dispose_secret(&j->out);
    free(j);
}

static void enroll(struct job *j, int64_t now)
{
    auth_totp_enrollment_t e;
    j->rc = auth_mfa_totp_enroll(j->auth, j->user_id, "jwtd", now, &e);
    if (j->rc != 0)
        return;
    buf_printf(&j->out,
               "{\"factor_id\":\"%" PRId64 "\",\"secret\":\"%s\",\"otpauth_uri\":", e.factor_id,
               e.secret);
    jsonw_buf_cstr(&j->out, e.otpauth_uri);
    buf_t svg;
    buf_init(&svg, 1u << 20);
    j->rc = qr_svg(e.otpauth_uri, &svg);
    buf_append_cstr(&j->out, ",\"qr_svg\":");
    jsonw_buf_str(&j->out, svg.data ? svg.data : "", svg.len);
    buf_append_char(&j->out, '}');
    buf_dispose(&svg);
    auth_totp_enrollment_dispose(&e);
}

static void activate(struct job *j, int64_t now)
{
    char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_CHARS + 1];
    j->rc = auth_mfa_totp_activate(j->auth, j->user_id, j->factor_id, j->code, now, codes);
    if (j->rc != 0)
        return;
    buf_append_cstr(&j->out, "{\"recovery_codes\":[");
    for (int i = 0; i < AUTH_RECOVERY_CODES; i++) {
        if (i)
            buf_append_char(&j->out, ',');
        jsonw_buf_cstr(&j->out, codes[i]);
    }
    buf_append_cstr(&j->out, "]}");
    explicit_bzero(codes, sizeof codes);
}

static void work(void *arg)
{
    struct job *j = arg;
    int64_t now = clock_now_s();
    switch (j->op) {
    case ENROLL:
        enroll(j, now);
        break;
    case ACTIVATE:
        activate(j, now);
        break;
    case LIST:
        j->rc = auth_mfa_factors_json(j->auth, j->user_id, &j->out);
        break;
    case REMOVE:
        j->rc = j->passkey ? auth_webauthn_delete(j->auth, j->user_id, j->factor_id)
                           : auth_mfa_factor_delete(j->auth, j->user_id, j->factor_id, now);
        break;
    }
}

static void done(http_req_t *req, void *arg, int status)
{
    struct job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == ERR_NOT_FOUND)
        http_respond_error(req, ERR_NOT_FOUND, j->op == REMOVE ? "No such factor." : NULL);
    else if (rc == ERR_MFA_CODE_INVALID)
        api__respond_code(req, 400, "invalid_code", "The code is not valid.", NULL);
    else if (rc != 0)
        api__failure(req, rc);
    else if (j->op == REMOVE) {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 204, NULL, STR_NULL);
    } else
        api__respond_nostore(req, 200, buf_str(&j->out));
    job_free(j);
}

static struct job *job_new(const api_ctx_t *ctx, enum op op, int64_t user_id)
{
    struct job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->op = op;
    j->user_id = user_id;
    buf_init(&j->out, 1u << 20);
    return j;
}

/* ==== routes ================================================================================= */

static void on_enroll(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = mfa_caller(req, ctx, true);
    if (t)
        api__submit(req, work, done, job_new(ctx, ENROLL, t->user_id), job_free);
}

static void on_activate(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = mfa_caller(req, ctx, true);
    if (!t)
        return;
    api_field_t f[2] = {{.name = "factor_id", .required = true, .trim = true, .max_chars = 20},
                        {.name = "code", .required = true, .trim = true, .max_chars = 32}};
    json_t *body;
    if (api__read_fields(req, f, 2, API_FIELDS_NUMBERS, &body) != 0)
        return;
    uint64_t id = 0;
    if (!str_to_u64(f[0].value, INT64_MAX, &id) || id == 0) {
        json_decref(body);
        http_respond_error(req, ERR_NOT_FOUND, "No such factor.");
        return;
    }
    struct job *j = job_new(ctx, ACTIVATE, t->user_id);
    j->factor_id = (int64_t)id;
    j->code = xstrndup(f[1].value.ptr, f[1].value.len);
    json_decref(body);
    api__submit(req, work, done, j, job_free);
}

static void on_factors(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = mfa_caller(req, ctx, true);
    if (t)
        api__submit(req, work, done, job_new(ctx, LIST, t->user_id), job_free);
}

static void on_factor_delete(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = mfa_caller(req, ctx, false);
    if (!t)
        return;
    if (!auth_recent_auth(t->auth_time, clock_now_s())) {
        api__respond_code(req, 401, "reauthentication_required",
                          "Sign in again to confirm it is you: removing a factor needs a sign-in "
                          "within the last 10 minutes.",
                          API_WWW_INVALID);
        return;
    }
    int64_t id;
    /* a passkey's id in the factor list is "webauthn-<id>" */
    str_t p = http_req_param(req, "id");
    bool passkey = str_starts_with(p, STR_LIT("webauthn-"));
    if (passkey) {
        char num[24];
        if (p.len - 9 == 0 || p.len - 9 >= sizeof num ||
            strspn(p.ptr + 9, "0123456789") < p.len - 9) {
            http_respond_error(req, ERR_NOT_FOUND, "No such factor.");
            return;
        }
        memcpy(num, p.ptr + 9, p.len - 9);
        num[p.len - 9] = 0;
        id = strtoll(num, NULL, 10);
    } else if (!api__param_id(req, "id", &id)) {
        http_respond_error(req, ERR_NOT_FOUND, "No such factor.");
        return;
    }
    struct job *j = job_new(ctx, REMOVE, t->user_id);
    j->factor_id = id;
    j->passkey = passkey;
    api__submit(req, work, done, j, job_free);
}

/* ---- POST /auth/mfa/verify ------------------------------------------------------------------ */

struct verify_job {
    auth_t *auth;
    char *token, *code, *bind, *ip, *ua, *fph;
    int rc;
    uint32_t retry_after_s;
    char family[AUTH_MFA_FAMILY_MAX + 1];
    auth_pair_t pair;
};

static void verify_free(void *arg)
{
    struct verify_job *v = arg;
    free_secret(v->token, strlen(v->token) + 1);
    free_secret(v->code, strlen(v->code) + 1);
    free(v->bind);
    free(v->ip);
    free(v->ua);
    free(v->fph);
    auth_pair_dispose(&v->pair);
    free(v);
}

static void verify_work(void *arg)
{
    struct verify_job *v = arg;
    auth_client_t client = {.ip = v->ip, .user_agent = v->ua, .fph = v->fph};
    v->rc = auth_mfa_verify(v->auth, v->token, v->code, v->bind, &client, clock_now_s(), &v->pair,
                            v->family, &v->retry_after_s);
}

static void verify_done(http_req_t *req, void *arg, int status)
{
    struct verify_job *v = arg;
    int rc = status != 0 ? status : v->rc;
    if (rc == 0) {
        api__finish_login(req, v->family, &v->pair); /* as the login that started it */
    } else if (rc == ERR_MFA_TOKEN_INVALID || rc == ERR_MFA_CODE_INVALID ||
               rc == ERR_NO_ACTIVE_ACCOUNT) {
        http_resp_header_add(req, "WWW-Authenticate", API_WWW_PLAIN);
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond_error(req, rc, NULL);
    } else if (rc == ERR_THROTTLED) {
        auth_guard_result_t r = {.allowed = false, .retry_after_s = v->retry_after_s};
        api__respond_throttled(req, &r, AUTH_GUARD_LOGIN);
    } else {
        api__failure(req, rc);
    }
    verify_free(v);
}

static void on_verify(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    api_field_t f[2] = {{.name = "mfa_token", .required = true, .trim = true, .max_chars = 128},
                        {.name = "code", .required = true, .trim = true, .max_chars = 32}};
    json_t *body;
    if (api__read_fields(req, f, 2, API_FIELDS_NUMBERS, &body) != 0)
        return;
    struct verify_job *v = xcalloc(1, sizeof *v);
    v->auth = ctx->auth;
    v->token = xstrndup(f[0].value.ptr, f[0].value.len);
    v->code = xstrndup(f[1].value.ptr, f[1].value.len);
    json_decref(body);
    char origin[AUTH_MFA_BIND_MAX + 1];
    api__request_origin(req, origin, sizeof origin);
    v->bind = xstrdup(origin);
    api__client_dup(req, ctx, &v->ip, &v->ua, &v->fph);
    api__submit(req, verify_work, verify_done, v, verify_free);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_POST, "/auth/mfa/verify", on_verify},
    {HTTP_M_POST, "/auth/mfa/totp/enroll", on_enroll},
    {HTTP_M_POST, "/auth/mfa/totp/activate", on_activate},
    {HTTP_M_GET, "/auth/mfa/factors", on_factors},
    {HTTP_M_DELETE, "/auth/mfa/factors/{id}", on_factor_delete},
};

/* See routes.h. */
const api_family_t api_mfa_family = API_FAMILY(ROUTES, NULL);

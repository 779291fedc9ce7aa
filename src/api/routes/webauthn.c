/*
 * webauthn.c - the passkey routes (WebAuthn Level 3): POST /auth/webauthn/register/options
 * and /auth/webauthn/register (Bearer), POST /auth/webauthn/login/options and
 * /auth/webauthn/login, and the caller's passkeys: GET /auth/webauthn/credentials, DELETE
 * /auth/webauthn/credentials/{id}.
 *
 * Adapters over auth.h's passkey use cases, each one blocking job: the body (parsed JSON)
 * goes to the job, whose result maps to the contract's answers. A passkey sign-in answers
 * as POST /auth/login does ({"access_token","refresh_token","token_type","expires_in",
 * "user"}). When passkeys are not configured (no JWTD_WEBAUTHN_RP_ID) every route answers
 * 404 passkeys_disabled.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/routes/routes.h"
#include "auth/mfa.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"

#define OPTIONS_MAX  (64 * 1024)
#define CHALLENGE_TX "The challenge is unknown, expired or already used."

enum wa_op { OP_REG_OPTIONS, OP_REGISTER, OP_LOGIN_OPTIONS, OP_LOGIN, OP_LIST, OP_DELETE };

struct wa_job {
    const api_ctx_t *ctx;
    enum wa_op op;
    int64_t user_id; /* the caller (Bearer routes) */
    int64_t id;      /* OP_DELETE */
    json_t *body;
    char *username;  /* OP_LOGIN_OPTIONS, NULL = username-less */
    char *mfa_token; /* OP_LOGIN_OPTIONS, NULL = none */
    char *ip, *ua, *fph, *bind;
    char family[AUTH_WEBAUTHN_FAMILY_MAX + 1]; /* OUT: OP_LOGIN, "" = a passkey sign-in */
    bool cookie; /* OP_LOGIN: a passkey sign-in answers as the browser flow (refresh cookie) */
    /* OUT */
    int rc;
    enum auth_webauthn_result res;
    const char *why;
    buf_t out;
    auth_pair_t pair;
};

static void job_free(void *arg)
{
    struct wa_job *j = arg;
    if (j->body)
        json_decref(j->body);
    free(j->username);
    if (j->mfa_token)
        free_secret(j->mfa_token, strlen(j->mfa_token) + 1);
    free(j->ip);
    free(j->ua);
    free(j->fph);
    free(j->bind);
    buf_dispose(&j->out);
    auth_pair_dispose(&j->pair);
    free(j);
}

static void work(void *arg)
{
    struct wa_job *j = arg;
    auth_t *a = j->ctx->auth;
    int64_t now = clock_now_s();
    switch (j->op) {
    case OP_REG_OPTIONS:
        j->rc = auth_webauthn_register_options(a, j->user_id, now, &j->out);
        break;
    case OP_REGISTER:
        j->rc = auth_webauthn_register(a, j->user_id, j->body, now, &j->out, &j->res, &j->why);
        break;
    case OP_LOGIN_OPTIONS:
        j->rc = auth_webauthn_login_options(a, j->username, j->mfa_token, now, &j->out);
        break;
    case OP_LOGIN: {
        /* the family a passkey sign-in answers in, kept with its second step if one is
           needed (a passkey without user verification for a role that requires MFA) */
        auth_client_t client = {.ip = j->ip,
                                .user_agent = j->ua,
                                .fph = j->fph,
                                .family = j->cookie ? "cookie" : "service",
                                .bind = j->cookie ? j->bind : NULL};
        j->rc = auth_webauthn_login(a, j->body, j->bind, &client, now, &j->pair, j->family, &j->res,
                                    &j->why);
        break;
    }
    case OP_LIST:
        j->rc = auth_webauthn_list(a, j->user_id, &j->out);
        break;
    case OP_DELETE:
        j->rc = auth_webauthn_delete(a, j->user_id, j->id);
        break;
    }
}

/* The answer of a ceremony that did not end in AUTH_WA_OK. */
static void respond_result(http_req_t *req, const struct wa_job *j)
{
    const char *why = j->why ? j->why : "The passkey was not accepted.";
    switch (j->res) {
    case AUTH_WA_MALFORMED:
        api__respond_code(req, 400, "invalid_request", why, NULL);
        break;
    case AUTH_WA_CHALLENGE:
        api__respond_code(req, 400, "challenge_invalid", CHALLENGE_TX, NULL);
        break;
    case AUTH_WA_DUPLICATE:
        api__respond_code(req, 409, "conflict", why, NULL);
        break;
    case AUTH_WA_CLONED:
        api__respond_code(req, 401, "passkey_cloned", why, API_WWW_PLAIN);
        break;
    default:
        if (j->op == OP_LOGIN)
            api__respond_code(req, 401, "passkey_rejected", why, API_WWW_PLAIN);
        else
            api__respond_code(req, 400, "passkey_rejected", why, NULL);
        break;
    }
}

static void done(http_req_t *req, void *arg, int status)
{
    struct wa_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == ERR_NO_ACTIVE_ACCOUNT || rc == ERR_MFA_TOKEN_INVALID) {
        http_resp_header_add(req, "WWW-Authenticate", API_WWW_PLAIN);
        http_respond_error(req, rc, NULL);
    } else if (j->op == OP_LOGIN && api__respond_login_step(req, rc, &j->pair, j->cookie)) {
        /* a passkey without user verification for a role that requires MFA */
    } else if (rc == ERR_NOT_FOUND) {
        api__respond_code(req, 404, "not_found",
                          j->op == OP_DELETE ? "No such passkey." : "Not found.", NULL);
    } else if (rc != 0) {
        api__failure(req, rc);
    } else if ((j->op == OP_REGISTER || j->op == OP_LOGIN) && j->res != AUTH_WA_OK) {
        respond_result(req, j);
    } else if (j->op == OP_LOGIN) {
        /* a passkey sign-in answers as POST /auth/login ("service", or the browser flow's
           "cookie"); a completed MFA step as the login that started it */
        api__finish_login(req,
                          j->family[0] ? j->family
                          : j->cookie  ? "cookie"
                                       : "service",
                          &j->pair);
    } else if (j->op == OP_DELETE) {
        http_respond(req, 204, NULL, STR_NULL);
    } else {
        api__respond_nostore(req, j->op == OP_REGISTER ? 201 : 200, buf_str(&j->out));
    }
    job_free(j);
}

/* A job for op, or NULL after answering (passkeys off, no caller, bad body). */
static struct wa_job *job_new(http_req_t *req, enum wa_op op, bool bearer, bool body)
{
    const api_ctx_t *ctx = req->route_data;
    if (!auth_webauthn_enabled(ctx->auth)) {
        api__respond_code(req, 404, "passkeys_disabled", "Passkeys are not enabled on this server.",
                          NULL);
        return NULL;
    }
    const auth_token_ref_t *t = NULL;
    if (bearer && !(t = api__authenticate(req, ctx)))
        return NULL;
    json_t *b = NULL;
    if (body) {
        if (http_req_json(req, &b) != 0)
            return NULL;
        if (!json_is_object(b)) {
            json_decref(b);
            api__bad_request(req, NULL, "The body must be a JSON object.");
            return NULL;
        }
    }
    struct wa_job *j = xcalloc(1, sizeof *j);
    j->ctx = ctx;
    j->op = op;
    j->user_id = t ? t->user_id : 0;
    j->body = b;
    buf_init(&j->out, OPTIONS_MAX);
    return j;
}

static void on_register_options(http_req_t *req)
{
    struct wa_job *j = job_new(req, OP_REG_OPTIONS, true, false);
    if (j)
        api__submit(req, work, done, j, job_free);
}

static void on_register(http_req_t *req)
{
    struct wa_job *j = job_new(req, OP_REGISTER, true, true);
    if (j)
        api__submit(req, work, done, j, job_free);
}

static void on_login_options(http_req_t *req)
{
    struct wa_job *j = job_new(req, OP_LOGIN_OPTIONS, false, true);
    if (!j)
        return;
    json_t *u = json_object_get(j->body, "username"), *m = json_object_get(j->body, "mfa_token");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m) || json_string_length(m) == 0 || json_string_length(m) > 128 ||
            memchr(json_string_value(m), 0, json_string_length(m))) {
            job_free(j);
            api__bad_request(req, "mfa_token", "Not a valid string.");
            return;
        }
        j->mfa_token = xstrndup(json_string_value(m), json_string_length(m));
    } else if (u && !json_is_null(u)) {
        if (!json_is_string(u) || json_string_length(u) == 0 || json_string_length(u) > 600 ||
            memchr(json_string_value(u), 0, json_string_length(u))) {
            job_free(j);
            api__bad_request(req, "username", "Enter a valid username.");
            return;
        }
        j->username = xstrndup(json_string_value(u), json_string_length(u));
    }
    api__submit(req, work, done, j, job_free);
}

static void on_login(http_req_t *req)
{
    struct wa_job *j = job_new(req, OP_LOGIN, false, true);
    if (!j)
        return;
    char origin[256];
    api__request_origin(req, origin, sizeof origin);
    json_t *ck = json_object_get(j->body, "cookie");
    if (ck && !json_is_boolean(ck)) {
        job_free(j);
        api__bad_request(req, "cookie", "Must be a boolean.");
        return;
    }
    j->cookie = json_is_true(ck);
    /* the refresh cookie only for a page of this server or of a listed origin: another
       site must not sign a browser in (login CSRF with the attacker's own passkey) */
    str_t o = str_cstr(origin);
    if (j->cookie && !(o.len && (api__origin_is_self(req, o) || api__origin_listed(j->ctx, o) ||
                                 api__origin_is_public(j->ctx, o)))) {
        job_free(j);
        api__respond_code(req, 403, "permission_denied",
                          "A passkey sign-in with the refresh cookie needs the request's Origin "
                          "to be this server or an allowed origin.",
                          NULL);
        return;
    }
    j->bind = xstrdup(origin);
    api__client_dup(req, j->ctx, &j->ip, &j->ua, &j->fph);
    api__submit(req, work, done, j, job_free);
}

static void on_list(http_req_t *req)
{
    struct wa_job *j = job_new(req, OP_LIST, true, false);
    if (j)
        api__submit(req, work, done, j, job_free);
}

static void on_delete(http_req_t *req)
{
    int64_t id;
    if (!api__param_id(req, "id", &id)) {
        api__respond_code(req, 404, "not_found", "No such passkey.", NULL);
        return;
    }
    struct wa_job *j = job_new(req, OP_DELETE, true, false);
    if (!j)
        return;
    const api_locals_t *l = api__caller(req, j->ctx);
    if (!auth_recent_auth(l->ref.auth_time, clock_now_s())) {
        job_free(j);
        api__respond_code(req, 401, "reauthentication_required",
                          "Sign in again to confirm it is you: removing a passkey needs a "
                          "sign-in within the last 10 minutes.",
                          API_WWW_INVALID);
        return;
    }
    j->id = id;
    api__submit(req, work, done, j, job_free);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_POST, "/auth/webauthn/register/options", on_register_options},
    {HTTP_M_POST, "/auth/webauthn/register", on_register},
    {HTTP_M_POST, "/auth/webauthn/login/options", on_login_options},
    {HTTP_M_POST, "/auth/webauthn/login", on_login},
    {HTTP_M_GET, "/auth/webauthn/credentials", on_list},
    {HTTP_M_DELETE, "/auth/webauthn/credentials/{id}", on_delete},
};

/* See routes.h. */
const api_family_t api_webauthn_family = API_FAMILY(ROUTES, NULL);

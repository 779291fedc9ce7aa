/*
 * answer.c - the answers of the HTTP contract that more than one family gives: error bodies
 * ({"detail","code"}, DRF's field errors, SimpleJWT's token errors with messages[], the
 * browser flow's shape with "error"), blocking-side failures (503/500), the guards' 429,
 * and the user object from the user cache.
 */
#define LOG_MODULE "api"
#include <stdio.h>
#include <string.h>

#include "api/request/req.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/errtab.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* See req.h. */
void api__respond_nostore(http_req_t *req, int status, str_t body)
{
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, status, API_JSON_CT, body);
}

static const char *const GUARD_KIND[] = {"login", "user", "anon"};

/* See req.h. */
void api__respond_throttled(http_req_t *req, const auth_guard_result_t *r,
                            enum auth_guard_kind kind)
{
    char retry[16], detail[96];
    snprintf(retry, sizeof retry, "%u", r->retry_after_s);
    snprintf(detail, sizeof detail, "Request was throttled. Expected available in %u second%s.",
             r->retry_after_s, r->retry_after_s == 1 ? "" : "s");
    http_resp_header_add(req, "Retry-After", retry);
    metrics_count(kind == AUTH_GUARD_LOGIN  ? METRICS_RATE_LOGIN
                  : kind == AUTH_GUARD_USER ? METRICS_RATE_USER
                                            : METRICS_RATE_ANON);
    char extra[48];
    snprintf(extra, sizeof extra, "retry_after=%u%s", r->retry_after_s, r->local ? " local=1" : "");
    audit_ctx_t who = api__audit_ctx(req);
    audit_info(&who, .event = "throttled", .outcome = "blocked", .reason = GUARD_KIND[kind],
               .detail = extra);
    http_respond_error(req, ERR_THROTTLED, detail);
}

/* See req.h. */
bool api__respond_login_step(http_req_t *req, int rc, const auth_pair_t *p, bool browser)
{
    if (rc != ERR_MFA_REQUIRED && rc != ERR_MFA_ENROLL_REQUIRED)
        return false;
    const char *detail = err_message(rc);
    buf_t b;
    buf_init(&b, 2 * AUTH_TOKEN_MAX + 64 * 1024);
    buf_append_char(&b, '{');
    if (browser) {
        buf_append_cstr(&b, "\"error\":");
        jsonw_buf_cstr(&b, detail);
        buf_append_char(&b, ',');
    }
    buf_append_cstr(&b, "\"detail\":");
    jsonw_buf_cstr(&b, detail);
    buf_append_cstr(&b, ",\"code\":");
    jsonw_buf_cstr(&b, err_name(rc));
    if (rc == ERR_MFA_REQUIRED) {
        buf_append_cstr(&b, ",\"mfa_token\":");
        jsonw_buf_cstr(&b, p->mfa_token);
        buf_append_cstr(&b, ",\"factors\":");
        if (p->mfa_factors)
            buf_append(&b, p->mfa_factors, p->mfa_factors_len);
        else
            buf_append_cstr(&b, "[]");
        http_resp_header_add(req, "WWW-Authenticate", API_WWW_PLAIN);
    } else {
        buf_append_cstr(&b, ",\"enroll_token\":\"");
        buf_append(&b, p->access, p->access_len);
        buf_append_char(&b, '"');
    }
    buf_append_char(&b, '}');
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, err_http_status(rc), API_JSON_CT, buf_str(&b));
    buf_dispose_secret(&b);
    return true;
}

/* See req.h. */
void api__respond_buf(http_req_t *req, int status, buf_t *b)
{
    http_respond(req, status, API_JSON_CT, buf_str(b));
    buf_dispose(b);
}

/*
 * {"error": detail (with_error only), "detail": detail, "code": code} with status; www (may
 * be NULL) as WWW-Authenticate; Cache-Control: no-store when nostore.
 */
static void respond_error_body(http_req_t *req, int status, const char *code, const char *detail,
                               const char *www, bool with_error, bool nostore)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_char(&b, '{');
    if (with_error) {
        buf_append_cstr(&b, "\"error\":");
        jsonw_buf_cstr(&b, detail);
        buf_append_char(&b, ',');
    }
    buf_append_cstr(&b, "\"detail\":");
    jsonw_buf_cstr(&b, detail);
    buf_append_cstr(&b, ",\"code\":");
    jsonw_buf_cstr(&b, code);
    buf_append_char(&b, '}');
    if (www)
        http_resp_header_add(req, "WWW-Authenticate", www);
    if (nostore)
        http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, status, API_JSON_CT, buf_str(&b));
    buf_dispose(&b);
}

/* See req.h. */
void api__respond_code(http_req_t *req, int status, const char *code, const char *detail,
                       const char *www)
{
    respond_error_body(req, status, code, detail, www, false, false);
}

/* See req.h. */
const char *api__verdict_text(const api_ctx_t *ctx, enum auth_verdict v)
{
    if (v == AUTH_OK)
        v = AUTH_INVALID;
    if (ctx->o.combined_token_messages && (v == AUTH_INVALID || v == AUTH_EXPIRED))
        return "Token is invalid or expired";
    return auth_verdict_message(v);
}

/* See req.h. */
void api__respond_token_invalid(http_req_t *req, const api_ctx_t *ctx, enum auth_verdict v)
{
    api__respond_code(req, 401, "token_not_valid", api__verdict_text(ctx, v), API_WWW_INVALID);
}

/* See req.h. */
void api__bearer_error(http_req_t *req, const api_ctx_t *ctx, int rc, enum auth_verdict verdict)
{
    if (rc == ERR_NOT_AUTHENTICATED || rc == ERR_BAD_AUTH_HEADER) { /* no token, or no Bearer */
        bool none = rc == ERR_NOT_AUTHENTICATED;
        http_resp_header_add(req, "WWW-Authenticate", none ? API_WWW_PLAIN : API_WWW_BAD_REQUEST);
        http_respond(req, 401, API_JSON_CT,
                     none ? STR_LIT("{\"detail\":\"Authentication credentials were not provided.\","
                                    "\"code\":\"not_authenticated\"}")
                          : STR_LIT("{\"detail\":\"Authorization header must contain two "
                                    "space-delimited values\",\"code\":"
                                    "\"bad_authorization_header\"}"));
        return;
    }
    char body[320];
    int n = snprintf(body, sizeof body,
                     "{\"detail\":\"Given token not valid for any token type\",\"code\":"
                     "\"token_not_valid\",\"messages\":[{\"token_class\":\"AccessToken\","
                     "\"token_type\":\"access\",\"message\":\"%s\"}]}",
                     api__verdict_text(ctx, verdict));
    http_resp_header_add(req, "WWW-Authenticate", API_WWW_INVALID);
    http_respond(req, 401, API_JSON_CT, str_make(body, (size_t)n));
}

/* See req.h. */
void api__failure(http_req_t *req, int rc)
{
    http_respond_error(req, rc == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_INTERNAL, NULL);
}

/* Appends ,"field":[msg] to b. */
static void append_field_error(buf_t *b, const char *field, const char *msg)
{
    buf_append_char(b, ',');
    jsonw_buf_cstr(b, field);
    buf_append_cstr(b, ":[");
    jsonw_buf_cstr(b, msg);
    buf_append_char(b, ']');
}

/* See req.h. */
void api__bad_request(http_req_t *req, const char *field, const char *detail)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"detail\":");
    jsonw_buf_cstr(&b, detail);
    buf_append_cstr(&b, ",\"code\":\"invalid_request\"");
    if (field)
        append_field_error(&b, field, detail);
    buf_append_char(&b, '}');
    api__respond_buf(req, 400, &b);
}

/* See req.h. */
bool api__respond_field_errors(http_req_t *req, const api_field_t *f, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= f[i].error != NULL;
    if (!any)
        return false;
    /* a field named like a member of the contract's body ("code" of a one-time code) cannot
       have a member of its own: its message goes into detail */
    const api_field_t *clash = NULL;
    for (size_t i = 0; i < n && !clash; i++)
        if (f[i].error && (strcmp(f[i].name, "code") == 0 || strcmp(f[i].name, "detail") == 0))
            clash = &f[i];
    buf_t b;
    buf_init(&b, 8192);
    buf_append_cstr(&b, "{\"detail\":");
    if (clash) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s: %s", clash->name, clash->error);
        jsonw_buf_cstr(&b, detail);
    } else {
        buf_append_cstr(&b, "\"Invalid input.\"");
    }
    buf_append_cstr(&b, ",\"code\":\"invalid_request\"");
    for (size_t i = 0; i < n; i++)
        if (f[i].error &&
            (!clash || (strcmp(f[i].name, "code") != 0 && strcmp(f[i].name, "detail") != 0)))
            append_field_error(&b, f[i].name, f[i].error);
    buf_append_char(&b, '}');
    api__respond_buf(req, 400, &b);
    return true;
}

/* See req.h. */
void api__auth_error(http_req_t *req, int status, const char *code, const char *msg,
                     const char *www)
{
    respond_error_body(req, status, code, msg, www, true, true);
}

/*
 * simplejwt.c - the SimpleJWT-compatible routes of API.md section 3: POST /api/token/,
 * /api/token/refresh/, /api/token/verify/, /api/token/blacklist/ and GET /api/users/me/.
 *
 * Thin adapters: parse the body (JSON or form, DRF field rules), call src/auth/, and write
 * SimpleJWT's shapes (status, detail, code, messages[], WWW-Authenticate) with the API.md
 * differences (every error has a code; revoked access tokens are rejected; a revoked token
 * at /api/token/verify/ is 401 token_not_valid "Token is blacklisted").
 *
 * Threads: handlers run on their worker's loop. Token checks happen right there (jose +
 * the revocation index, no I/O); login, refresh, blacklist, the database check of a
 * refresh token at verify, and a user-cache miss at /me go through http_pool_submit and
 * answer from its done callback (503 when the pool is saturated or the database is down).
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "api/api.h"
#include "api/svc.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json_scan.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"
#include "runtime/log.h"

#define JSON_CT     "application/json; charset=utf-8"
#define WWW_PLAIN   "Bearer realm=\"api\""
#define WWW_INVALID "Bearer realm=\"api\", error=\"invalid_token\""

/* ==== responses ============================================================================ */

/* {"detail": detail, "code": code} with status; www (may be NULL) as WWW-Authenticate. */
static void respond_err(http_req_t *req, int status, const char *code, const char *detail,
                        const char *www)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"detail\":");
    jsonw_buf_str(&b, detail, strlen(detail));
    buf_append_cstr(&b, ",\"code\":");
    jsonw_buf_str(&b, code, strlen(code));
    buf_append_char(&b, '}');
    if (www)
        http_resp_header_add(req, "WWW-Authenticate", www);
    http_respond(req, status, JSON_CT, buf_str(&b));
    buf_dispose(&b);
}

/* 401 token_not_valid for a token given in a body field (refresh, verify, blacklist). */
static void respond_token_invalid(http_req_t *req, enum auth_verdict v)
{
    respond_err(req, 401, "token_not_valid", auth_verdict_message(v), WWW_INVALID);
}

static void respond_unavailable(http_req_t *req)
{
    respond_err(req, 503, "unavailable", err_message(ERR_UNAVAILABLE), NULL);
}

static void respond_internal(http_req_t *req)
{
    respond_err(req, 500, "internal_error", err_message(ERR_INTERNAL), NULL);
}

/* Maps an error of the blocking side to its answer (503 for the database, else 500). */
static void respond_failure(http_req_t *req, int rc)
{
    if (rc == ERR_UNAVAILABLE)
        respond_unavailable(req);
    else
        respond_internal(req);
}

static void respond_json_nostore(http_req_t *req, int status, str_t body)
{
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, status, JSON_CT, body);
}

/* ==== request bodies (DRF CharField rules) ================================================= */

#define MAX_FIELDS 2

struct field {
    const char *name;
    bool trim;         /* DRF trim_whitespace (true except for passwords) */
    str_t value;       /* OUT: the value (arena or jansson storage) */
    const char *error; /* OUT: DRF message, NULL when valid */
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Reads the body into fields. Returns 0 when every field is valid; otherwise it has
 * responded (400 with DRF-style field errors, or the body parser's error) and returns -1.
 * *body must be json_decref'd by the caller when 0 is returned (values point into it).
 */
static int read_fields(http_req_t *req, struct field *f, size_t n, json_t **body)
{
    if (http_req_json(req, body) != 0)
        return -1;
    if (!json_is_object(*body)) {
        const char *kind = json_is_array(*body)     ? "list"
                           : json_is_string(*body)  ? "str"
                           : json_is_integer(*body) ? "int"
                           : json_is_real(*body)    ? "float"
                           : json_is_boolean(*body) ? "bool"
                                                    : "NoneType";
        char msg[96];
        snprintf(msg, sizeof msg, "Invalid data. Expected a dictionary, but got %s.", kind);
        buf_t b;
        buf_init(&b, 1024);
        buf_append_cstr(&b, "{\"detail\":");
        jsonw_buf_str(&b, msg, strlen(msg));
        buf_append_cstr(&b, ",\"code\":\"invalid_request\",\"non_field_errors\":[");
        jsonw_buf_str(&b, msg, strlen(msg));
        buf_append_cstr(&b, "]}");
        http_respond(req, 400, JSON_CT, buf_str(&b));
        buf_dispose(&b);
        json_decref(*body);
        *body = NULL;
        return -1;
    }
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(*body, f[i].name);
        f[i].error = NULL;
        f[i].value = STR_NULL;
        if (!v) {
            f[i].error = "This field is required.";
        } else if (json_is_null(v)) {
            f[i].error = "This field may not be null.";
        } else if (json_is_string(v)) {
            f[i].value = str_make(json_string_value(v), json_string_length(v));
        } else if (json_is_integer(v) || json_is_real(v)) {
            char num[64];
            if (json_is_integer(v))
                snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else
                snprintf(num, sizeof num, "%.17g", json_real_value(v));
            f[i].value = str_cstr(http_req_strndup(req, str_cstr(num)));
        } else {
            f[i].error = "Not a valid string.";
        }
        if (!f[i].error) {
            str_t s = f[i].value;
            if (f[i].trim) {
                while (s.len && is_ws(s.ptr[0])) {
                    s.ptr++;
                    s.len--;
                }
                while (s.len && is_ws(s.ptr[s.len - 1]))
                    s.len--;
                f[i].value = s;
            }
            if (s.len == 0)
                f[i].error = "This field may not be blank.";
            else if (memchr(s.ptr, '\0', s.len))
                f[i].error = "Null characters are not allowed.";
        }
        bad |= f[i].error != NULL;
    }
    if (!bad)
        return 0;
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"detail\":\"Invalid input.\",\"code\":\"invalid_request\"");
    for (size_t i = 0; i < n; i++) {
        if (!f[i].error)
            continue;
        buf_append_char(&b, ',');
        jsonw_buf_str(&b, f[i].name, strlen(f[i].name));
        buf_append_cstr(&b, ":[");
        jsonw_buf_str(&b, f[i].error, strlen(f[i].error));
        buf_append_char(&b, ']');
    }
    buf_append_char(&b, '}');
    http_respond(req, 400, JSON_CT, buf_str(&b));
    buf_dispose(&b);
    json_decref(*body);
    *body = NULL;
    return -1;
}

/*
 * Fast path for the one-field token routes: when the body is a small JSON object whose
 * member `name` is a plain string (no escapes, no surrounding whitespace, not empty), the
 * value is a slice of the body, found by the zero-allocation scanner. Anything else
 * (form bodies, escapes, errors, other types) returns false and the caller takes the
 * jansson path above, which produces the exact DRF answers.
 */
static bool fast_field(const http_req_t *req, const char *name, str_t *out)
{
    if (req->body.len == 0 || req->body.len > 16384)
        return false;
    str_t ct = http_req_header(req, "content-type");
    if (ct.ptr) {
        str_t json = STR_LIT("application/json");
        if (ct.len < json.len || !str_eq_nocase(str_make(ct.ptr, json.len), json) ||
            (ct.len > json.len && ct.ptr[json.len] != ';' && ct.ptr[json.len] != ' '))
            return false;
    }
    json_tok_t toks[16];
    size_t n = 0;
    if (json_scan(req->body.ptr, req->body.len, toks, 16, 2, &n) != 0 || n == 0 ||
        toks[0].type != JSON_T_OBJECT)
        return false;
    long i = json_obj_get(req->body.ptr, toks, 0, name);
    if (i < 0 || toks[i].type != JSON_T_STRING || toks[i].has_escape || toks[i].len == 0)
        return false;
    str_t v = str_make(req->body.ptr + toks[i].start, toks[i].len);
    if (is_ws(v.ptr[0]) || is_ws(v.ptr[v.len - 1]))
        return false;
    *out = v;
    return true;
}

/* ==== POST /api/token/ ====================================================================== */

static void login_done(http_req_t *req, void *arg, int status)
{
    api_login_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        buf_t b;
        buf_init(&b, 4 * AUTH_TOKEN_MAX);
        buf_append_cstr(&b, "{\"refresh\":\"");
        buf_append(&b, j->pair.refresh, j->pair.refresh_len);
        buf_append_cstr(&b, "\",\"access\":\"");
        buf_append(&b, j->pair.access, j->pair.access_len);
        buf_append_cstr(&b, "\",\"user\":");
        buf_append(&b, j->pair.user_json, j->pair.user_json_len);
        buf_append_char(&b, '}');
        respond_json_nostore(req, 200, buf_str(&b));
        buf_dispose_secret(&b);
    } else if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        respond_err(req, 401, "no_active_account", err_message(ERR_NO_ACTIVE_ACCOUNT), WWW_PLAIN);
    } else {
        respond_failure(req, rc);
    }
    api__login_job_free(j);
}

static void on_token_obtain(http_req_t *req)
{
    struct field f[2] = {{"username", true, STR_NULL, NULL}, {"password", false, STR_NULL, NULL}};
    json_t *body;
    if (read_fields(req, f, 2, &body) != 0)
        return;
    int rc = api__login_submit(req, req->route_data, f[0].value, f[1].value, false, login_done);
    json_decref(body);
    if (rc != 0)
        respond_unavailable(req);
}

/* ==== refresh, verify, blacklist: a token in a body field =================================== */

static void token_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc != 0) {
        respond_failure(req, rc);
    } else if (j->verdict != AUTH_OK) {
        respond_token_invalid(req, j->verdict);
    } else if (j->op == API_TOKEN_REFRESH) {
        buf_t b;
        buf_init(&b, 3 * AUTH_TOKEN_MAX);
        buf_append_cstr(&b, "{\"access\":\"");
        buf_append(&b, j->pair.access, j->pair.access_len);
        if (j->pair.refresh_len) {
            buf_append_cstr(&b, "\",\"refresh\":\"");
            buf_append(&b, j->pair.refresh, j->pair.refresh_len);
        }
        buf_append_cstr(&b, "\"}");
        respond_json_nostore(req, 200, buf_str(&b));
        buf_dispose_secret(&b);
    } else {
        respond_json_nostore(req, 200, STR_LIT("{}"));
    }
    api__token_job_free(j);
}

/*
 * Shared front half: reads field `name`, verifies the token on the loop with the check for
 * kind, and either answers (bad input, refused token, or /verify of an access token) or
 * submits the blocking half.
 */
static void token_route(http_req_t *req, const char *name, enum api_token_op op)
{
    auth_t *a = req->route_data;
    struct field f[1] = {{name, true, STR_NULL, NULL}};
    json_t *body = NULL;
    if (!fast_field(req, name, &f[0].value) && read_fields(req, f, 1, &body) != 0)
        return;
    jwtv_claims c;
    enum auth_verdict v = op == API_TOKEN_CHECK ? auth_verify_any(a, f[0].value, 0, &c)
                                                : auth_verify_refresh(a, f[0].value, 0, &c);
    json_decref(body);
    if (v != AUTH_OK) {
        respond_token_invalid(req, v);
        return;
    }
    auth_token_ref_t ref;
    if (auth_token_ref_from_claims(&c, &ref) != 0) {
        respond_token_invalid(req, AUTH_INVALID);
        return;
    }
    if (op == API_TOKEN_CHECK && !ref.is_refresh) {
        /* an access (or other) token: signature, claims and the index were all it takes */
        respond_json_nostore(req, 200, STR_LIT("{}"));
        return;
    }
    api_token_job_t *j = api__token_job_new(a, op);
    j->ref = ref;
    j->has_ref = true;
    if (api__token_submit(req, j, token_done) != 0)
        respond_unavailable(req);
}

static void on_token_refresh(http_req_t *req)
{
    token_route(req, "refresh", API_TOKEN_REFRESH);
}

static void on_token_verify(http_req_t *req)
{
    token_route(req, "token", API_TOKEN_CHECK);
}

static void on_token_blacklist(http_req_t *req)
{
    token_route(req, "refresh", API_TOKEN_LOGOUT);
}

/* ==== GET /api/users/me/ ===================================================================== */

/* Answers /me from the cache. Returns false on a miss (nothing sent). */
static bool me_from_cache(http_req_t *req, auth_t *a, int64_t user_id)
{
    char stackbuf[2048];
    char *out = stackbuf;
    size_t len = 0;
    bool active = false;
    int64_t now = clock_now_s();
    int rc = auth_user_cached(a, user_id, now, out, sizeof stackbuf, &len, &active);
    if (rc == ERR_TOO_LARGE) {
        out = http_req_alloc(req, len);
        rc = auth_user_cached(a, user_id, now, out, len, &len, &active);
    }
    if (rc != 0)
        return false;
    if (!active)
        respond_err(req, 401, "user_inactive", "User is inactive", WWW_INVALID);
    else
        respond_json_nostore(req, 200, str_make(out, len));
    return true;
}

static void me_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == ERR_NOT_FOUND)
        respond_err(req, 401, "user_not_found", "User not found", WWW_INVALID);
    else if (rc != 0)
        respond_failure(req, rc);
    else if (!me_from_cache(req, j->auth, j->user_id))
        respond_unavailable(req); /* evicted in between: rare; the client retries */
    api__token_job_free(j);
}

static void on_users_me(http_req_t *req)
{
    auth_t *a = req->route_data;
    int64_t user_id;
    jwtv_claims *c = api_claims_scratch();
    if (api_authenticate(req, a, c, &user_id) != 0) /* authn.c: shared with every route */
        return;
    if (me_from_cache(req, a, user_id))
        return;
    api_token_job_t *j = api__token_job_new(a, API_TOKEN_USER);
    j->user_id = user_id;
    if (api__token_submit(req, j, me_done) != 0)
        respond_unavailable(req);
}

/* ==== registration ============================================================================ */

/* See api.h. */
int api_simplejwt_register(http_router_t *router, auth_t *auth)
{
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_POST, "/api/token/", on_token_obtain, auth);
    rc |= http_router_add(router, HTTP_M_POST, "/api/token/refresh/", on_token_refresh, auth);
    rc |= http_router_add(router, HTTP_M_POST, "/api/token/verify/", on_token_verify, auth);
    rc |= http_router_add(router, HTTP_M_POST, "/api/token/blacklist/", on_token_blacklist, auth);
    rc |= http_router_add(router, HTTP_M_GET, "/api/users/me/", on_users_me, auth);
    return rc ? ERR_INVALID : 0;
}

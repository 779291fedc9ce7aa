/*
 * service.c - the service routes of API.md section 5 (seed 002's FastAPI service):
 * POST /auth/register, /auth/login (JSON or the OAuth2 password form), /auth/refresh,
 * /auth/logout, /auth/logout-all and GET /auth/me.
 *
 * Thin adapters over src/auth/ (and db.h for registration): tokens are issued, rotated and
 * revoked by the token service exactly as for the SimpleJWT routes; only the wire shapes
 * differ ({"access_token","refresh_token","token_type":"bearer","expires_in","user"}).
 *
 * Threads: token checks run on the worker's loop (authn.c); password hashing, login,
 * rotation, revocation and user loads go through http_pool_submit and answer from the done
 * callback (503 when the pool is saturated or the database is down).
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "api/svc.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static struct {
    auth_t *auth;
    db_t *db;
    int64_t access_lifetime_s;
} g_svc;

/* ==== shapes ================================================================================ */

/* {"access_token","refresh_token","token_type":"bearer","expires_in","user"}, no-store. */
static void respond_tokens(http_req_t *req, const auth_pair_t *p, str_t refresh)
{
    buf_t b;
    buf_init(&b, 4 * AUTH_TOKEN_MAX + 8192);
    buf_append_cstr(&b, "{\"access_token\":\"");
    buf_append(&b, p->access, p->access_len);
    buf_append_cstr(&b, "\",\"refresh_token\":\"");
    buf_append(&b, refresh.ptr, refresh.len);
    buf_printf(&b, "\",\"token_type\":\"bearer\",\"expires_in\":%" PRId64, g_svc.access_lifetime_s);
    if (p->user_json) {
        buf_append_cstr(&b, ",\"user\":");
        buf_append(&b, p->user_json, p->user_json_len);
    }
    buf_append_char(&b, '}');
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_resp_header_add(req, "Pragma", "no-cache");
    http_respond(req, 200, API_JSON_CT, buf_str(&b));
    buf_dispose_secret(&b);
}

/* ==== POST /auth/register =================================================================== */

struct register_job {
    char *username, *email, *first, *last;
    char *password;
    size_t password_len;
    int rc;
    bool username_taken;
    char *user_json;
    size_t user_json_len;
};

static void register_job_free(struct register_job *j)
{
    free(j->username);
    free(j->email);
    free(j->first);
    free(j->last);
    free_secret(j->password, j->password_len + 1);
    free(j->user_json);
    free(j);
}

static void register_work(void *arg)
{
    struct register_job *j = arg;
    char hash[AUTH_PASSWORD_HASH_MAX];
    j->rc = auth_password_hash(&auth_options(g_svc.auth)->argon2, j->password, j->password_len,
                               hash, sizeof hash);
    if (j->rc != 0)
        return;
    db_user_t u = {0};
    u.username = j->username;
    u.email = j->email;
    u.first_name = j->first;
    u.last_name = j->last;
    u.role = DB_ROLE_USER;
    u.is_active = true;
    u.password_hash = hash;
    int64_t id = 0;
    int64_t now = clock_now_s();
    j->rc = db_user_create(g_svc.db, &u, now, &id);
    explicit_bzero(hash, sizeof hash);
    if (j->rc == ERR_CONFLICT) {
        db_user_t other;
        j->username_taken = db_user_find_by_username(g_svc.db, j->username, &other) == 0;
        db_user_dispose(&other);
        return;
    }
    if (j->rc != 0)
        return;
    db_user_t created;
    j->rc = db_user_find_by_id(g_svc.db, id, &created);
    if (j->rc == 0)
        j->user_json = auth_user_json(&created, &j->user_json_len);
    db_user_dispose(&created);
}

static void register_done(http_req_t *req, void *arg, int status)
{
    struct register_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        http_respond(req, 201, API_JSON_CT, str_make(j->user_json, j->user_json_len));
    } else if (rc == ERR_CONFLICT) {
        const char *field = j->username_taken ? "username" : "email";
        const char *msg = j->username_taken ? "A user with that username already exists."
                                            : "A user with that email already exists.";
        buf_t b;
        buf_init(&b, 1024);
        buf_append_cstr(&b, "{\"detail\":");
        jsonw_buf_str(&b, msg, strlen(msg));
        buf_printf(&b, ",\"code\":\"conflict\",\"%s\":[", field);
        jsonw_buf_str(&b, msg, strlen(msg));
        buf_append_cstr(&b, "]}");
        http_respond(req, 409, API_JSON_CT, buf_str(&b));
        buf_dispose(&b);
    } else if (rc == ERR_INVALID) {
        api__bad_request(req, "username", "Enter a valid username.");
    } else {
        api__failure(req, rc);
    }
    register_job_free(j);
}

/* Django's UnicodeUsernameValidator: letters, digits and @ . + - _ (ASCII here, plus any
   non-ASCII letter byte sequence, which UTF-8 validation already vetted). */
static bool username_ok(str_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '@' || c == '.' || c == '+' || c == '-' || c == '_')
            continue;
        return false;
    }
    return true;
}

/* A pragmatic email check (Django's EmailValidator in spirit): local@domain.tld, no spaces
   or control characters, one '@', a dot in the domain that neither starts nor ends it. */
static bool email_ok(str_t s)
{
    if (s.len < 3 || s.len > 254)
        return false;
    const char *at = memchr(s.ptr, '@', s.len);
    if (!at || at == s.ptr || memchr(at + 1, '@', s.len - (size_t)(at - s.ptr) - 1))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == ';' ||
            c == '\\' || c == '(' || c == ')' || c == '[' || c == ']')
            return false;
    }
    str_t dom = str_make(at + 1, s.len - (size_t)(at - s.ptr) - 1);
    const char *dot = memchr(dom.ptr, '.', dom.len);
    if (dom.len < 3 || !dot || dom.ptr[0] == '.' || dom.ptr[dom.len - 1] == '.')
        return false;
    for (size_t i = 1; i < dom.len; i++) {
        if (dom.ptr[i] == '.' && dom.ptr[i - 1] == '.')
            return false;
    }
    return true;
}

static void on_register(http_req_t *req)
{
    api_field_t f[5] = {
        {.name = "username", .required = true, .trim = true, .max_chars = 150},
        {.name = "email", .required = true, .trim = true, .max_chars = 254},
        {.name = "password", .required = true, .trim = false, .max_chars = 0},
        {.name = "first_name", .trim = true, .allow_blank = true, .max_chars = 150},
        {.name = "last_name", .trim = true, .allow_blank = true, .max_chars = 150},
    };
    json_t *body;
    if (api__read_fields(req, f, 5, &body) != 0)
        return;
    if (!username_ok(f[0].value))
        f[0].error = "Enter a valid username. This value may contain only letters, numbers, "
                     "and @/./+/-/_ characters.";
    if (!email_ok(f[1].value))
        f[1].error = "Enter a valid email address.";
    char *username = http_req_strndup(req, f[0].value);
    char *email = http_req_strndup(req, f[1].value);
    auth_policy_result_t pol;
    if (auth_password_policy_check(f[2].value.ptr, f[2].value.len, username, email, &pol) != 0) {
        /* the first rule broken (Django lists them all; clients show one at a time) */
        f[2].error = pol.count ? pol.messages[0] : "This password is not allowed.";
        if (pol.count > 1) {
            buf_t b;
            buf_init(&b, 4096);
            buf_append_cstr(&b, "{\"detail\":\"Invalid input.\",\"code\":\"invalid_request\"");
            for (size_t i = 0; i < 5; i++) {
                if (!f[i].error || i == 2)
                    continue;
                buf_printf(&b, ",\"%s\":[", f[i].name);
                jsonw_buf_str(&b, f[i].error, strlen(f[i].error));
                buf_append_char(&b, ']');
            }
            buf_append_cstr(&b, ",\"password\":[");
            for (size_t i = 0; i < pol.count; i++) {
                if (i)
                    buf_append_char(&b, ',');
                jsonw_buf_str(&b, pol.messages[i], strlen(pol.messages[i]));
            }
            buf_append_cstr(&b, "]}");
            http_respond(req, 400, API_JSON_CT, buf_str(&b));
            buf_dispose(&b);
            json_decref(body);
            return;
        }
    }
    if (api__respond_field_errors(req, f, 5)) {
        json_decref(body);
        return;
    }
    struct register_job *j = xcalloc(1, sizeof *j);
    j->username = xstrndup(f[0].value.ptr, f[0].value.len);
    j->email = xstrndup(f[1].value.ptr, f[1].value.len);
    j->password = xstrndup(f[2].value.ptr, f[2].value.len);
    j->password_len = f[2].value.len;
    j->first = xstrndup(f[3].value.ptr ? f[3].value.ptr : "", f[3].value.len);
    j->last = xstrndup(f[4].value.ptr ? f[4].value.ptr : "", f[4].value.len);
    json_decref(body);
    if (http_pool_submit(req, register_work, register_done, j) != 0) {
        register_job_free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

/* ==== POST /auth/login ======================================================================= */

static void login_done(http_req_t *req, void *arg, int status)
{
    api_login_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        respond_tokens(req, &j->pair, str_make(j->pair.refresh, j->pair.refresh_len));
    } else if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        http_resp_header_add(req, "WWW-Authenticate", "Bearer realm=\"api\"");
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
    api_field_t f[3] = {
        {.name = "username", .required = true, .trim = true, .max_chars = 150},
        {.name = "password", .required = true, .trim = false},
        {.name = "grant_type", .trim = true, .allow_blank = true},
    };
    json_t *body;
    if (api__read_fields(req, f, 3, &body) != 0)
        return;
    if (f[2].value.ptr && f[2].value.len && !str_eq_cstr(f[2].value, "password")) {
        json_decref(body);
        http_respond(req, 400, API_JSON_CT,
                     STR_LIT("{\"detail\":\"grant_type must be \\\"password\\\"\","
                             "\"code\":\"invalid_request\",\"error\":\"unsupported_grant_type\"}"));
        return;
    }
    int rc = api__login_submit(req, g_svc.auth, f[0].value, f[1].value, false, login_done);
    json_decref(body);
    if (rc != 0)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
}

/* ==== POST /auth/refresh ===================================================================== */

static void respond_token_invalid(http_req_t *req, enum auth_verdict v)
{
    char body[192];
    int n = snprintf(body, sizeof body, "{\"detail\":\"%s\",\"code\":\"token_not_valid\"}",
                     auth_verdict_message(v));
    http_resp_header_add(req, "WWW-Authenticate", "Bearer realm=\"api\", error=\"invalid_token\"");
    http_respond(req, 401, API_JSON_CT, str_make(body, (size_t)n));
}

static void refresh_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc != 0)
        api__failure(req, rc);
    else if (j->verdict != AUTH_OK)
        respond_token_invalid(req, j->verdict);
    else if (j->pair.refresh_len)
        respond_tokens(req, &j->pair, str_make(j->pair.refresh, j->pair.refresh_len));
    else
        respond_tokens(req, &j->pair, str_make(j->presented, j->presented_len));
    api__token_job_free(j);
}

static void on_refresh(http_req_t *req)
{
    api_field_t f[1] = {{.name = "refresh_token", .required = true, .trim = true}};
    json_t *body;
    if (api__read_fields(req, f, 1, &body) != 0)
        return;
    jwtv_claims *c = api_claims_scratch();
    enum auth_verdict v = auth_verify_refresh(g_svc.auth, f[0].value, 0, c);
    auth_token_ref_t ref;
    if (v == AUTH_OK && auth_token_ref_from_claims(c, &ref) != 0)
        v = AUTH_INVALID;
    if (v != AUTH_OK) {
        json_decref(body);
        respond_token_invalid(req, v);
        return;
    }
    api_token_job_t *j = api__token_job_new(g_svc.auth, API_TOKEN_REFRESH);
    j->ref = ref;
    j->has_ref = true;
    j->presented = xstrndup(f[0].value.ptr, f[0].value.len);
    j->presented_len = f[0].value.len;
    json_decref(body);
    if (api__token_submit(req, j, refresh_done) != 0)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
}

/* ==== POST /auth/logout, /auth/logout-all ==================================================== */

struct logout_job {
    bool all;
    int64_t user_id;
    char sid[DB_ID_MAX + 1];
    char jti[DB_ID_MAX + 1];
    int64_t exp;
    int rc;
};

static void logout_work(void *arg)
{
    struct logout_job *j = arg;
    int64_t now = clock_now_s();
    if (j->all) {
        j->rc = auth_user_revoke_all(g_svc.auth, j->user_id, now);
        return;
    }
    /* the session (its refresh family and every access token it issued), and this access
       token by jti too, so that it is refused even by a verifier that only sees jtis */
    if (j->sid[0]) {
        j->rc = auth_revoke_session(g_svc.auth, j->sid, now);
        if (j->rc == ERR_NOT_FOUND)
            j->rc = 0;
    }
    if (j->rc == 0 && j->jti[0])
        j->rc = auth_revoke_jti(g_svc.auth, j->jti, j->exp, now);
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
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate(req, g_svc.auth, c, &uid) != 0)
        return;
    struct logout_job *j = xcalloc(1, sizeof *j);
    j->all = all;
    j->user_id = uid;
    j->exp = c->has_exp ? c->exp : clock_now_s() + g_svc.access_lifetime_s;
    if (c->sid && strlen(c->sid) <= DB_ID_MAX)
        snprintf(j->sid, sizeof j->sid, "%s", c->sid);
    if (c->jti && strlen(c->jti) <= DB_ID_MAX)
        snprintf(j->jti, sizeof j->jti, "%s", c->jti);
    if (http_pool_submit(req, logout_work, logout_done, j) != 0) {
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

static void on_logout(http_req_t *req)
{
    logout_route(req, false);
}

static void on_logout_all(http_req_t *req)
{
    logout_route(req, true);
}

/* ==== GET /auth/me =========================================================================== */

/* Answers from the user cache. Returns false on a miss (nothing sent). */
static bool me_from_cache(http_req_t *req, int64_t user_id)
{
    char stackbuf[2048];
    char *out = stackbuf;
    size_t len = 0;
    bool active = false;
    int64_t now = clock_now_s();
    int rc = auth_user_cached(g_svc.auth, user_id, now, out, sizeof stackbuf, &len, &active);
    if (rc == ERR_TOO_LARGE) {
        out = http_req_alloc(req, len);
        rc = auth_user_cached(g_svc.auth, user_id, now, out, len, &len, &active);
    }
    if (rc != 0)
        return false;
    if (!active) {
        http_resp_header_add(req, "WWW-Authenticate",
                             "Bearer realm=\"api\", error=\"invalid_token\"");
        http_respond(req, 401, API_JSON_CT,
                     STR_LIT("{\"detail\":\"User is inactive\",\"code\":\"user_inactive\"}"));
    } else {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 200, API_JSON_CT, str_make(out, len));
    }
    return true;
}

static void me_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == ERR_NOT_FOUND) {
        http_resp_header_add(req, "WWW-Authenticate",
                             "Bearer realm=\"api\", error=\"invalid_token\"");
        http_respond(req, 401, API_JSON_CT,
                     STR_LIT("{\"detail\":\"User not found\",\"code\":\"user_not_found\"}"));
    } else if (rc != 0) {
        api__failure(req, rc);
    } else if (!me_from_cache(req, j->user_id)) {
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
    api__token_job_free(j);
}

static void on_me(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate(req, g_svc.auth, c, &uid) != 0)
        return;
    if (me_from_cache(req, uid))
        return;
    api_token_job_t *j = api__token_job_new(g_svc.auth, API_TOKEN_USER);
    j->user_id = uid;
    if (api__token_submit(req, j, me_done) != 0)
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
}

/* ==== registration =========================================================================== */

/* See api.h. */
int api_service_register(http_router_t *router, auth_t *auth, struct db *db,
                         const api_service_options_t *o)
{
    g_svc.auth = auth;
    g_svc.db = db;
    g_svc.access_lifetime_s = o->access_lifetime_s;
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_POST, "/auth/register", on_register, NULL);
    rc |= http_router_add(router, HTTP_M_POST, "/auth/login", on_login, NULL);
    rc |= http_router_add(router, HTTP_M_POST, "/auth/refresh", on_refresh, NULL);
    rc |= http_router_add(router, HTTP_M_POST, "/auth/logout", on_logout, NULL);
    rc |= http_router_add(router, HTTP_M_POST, "/auth/logout-all", on_logout_all, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/auth/me", on_me, NULL);
    return rc ? ERR_INVALID : 0;
}

/*
 * svc.c - the shared helpers of svc.h: DRF-style body fields with UTF-8 and length rules,
 * field-error answers and pagination parameters for service.c, posts.c, users.c and
 * resource.c, and the login and token jobs the token routes (simplejwt.c, cookie.c,
 * service.c) run on the blocking pool. Stateless.
 */
#define LOG_MODULE "api"
#include "api/svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/web.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/text.h"
#include "runtime/alloc.h"

#define MAX_UA_BYTES 512

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* See svc.h. */
bool api__respond_field_errors(http_req_t *req, const api_field_t *f, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= f[i].error != NULL;
    if (!any)
        return false;
    buf_t b;
    buf_init(&b, 8192);
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
    http_respond(req, 400, API_JSON_CT, buf_str(&b));
    buf_dispose(&b);
    return true;
}

/* See svc.h. */
void api__bad_request(http_req_t *req, const char *field, const char *detail)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"detail\":");
    jsonw_buf_str(&b, detail, strlen(detail));
    buf_append_cstr(&b, ",\"code\":\"invalid_request\"");
    if (field) {
        buf_append_char(&b, ',');
        jsonw_buf_str(&b, field, strlen(field));
        buf_append_cstr(&b, ":[");
        jsonw_buf_str(&b, detail, strlen(detail));
        buf_append_char(&b, ']');
    }
    buf_append_char(&b, '}');
    http_respond(req, 400, API_JSON_CT, buf_str(&b));
    buf_dispose(&b);
}

/* See svc.h. */
int api__read_fields(http_req_t *req, api_field_t *f, size_t n, json_t **body)
{
    if (http_req_json(req, body) != 0)
        return -1;
    if (!json_is_object(*body)) {
        json_decref(*body);
        *body = NULL;
        api__bad_request(req, "non_field_errors", "Invalid data. Expected a dictionary.");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(*body, f[i].name);
        f[i].value = STR_NULL;
        f[i].error = NULL;
        if (!v || json_is_null(v)) {
            if (f[i].required)
                f[i].error = v ? "This field may not be null." : "This field is required.";
            continue;
        }
        if (!json_is_string(v)) {
            f[i].error = "Not a valid string.";
            continue;
        }
        str_t s = str_make(json_string_value(v), json_string_length(v));
        if (f[i].trim) {
            while (s.len && is_ws(s.ptr[0])) {
                s.ptr++;
                s.len--;
            }
            while (s.len && is_ws(s.ptr[s.len - 1]))
                s.len--;
        }
        if (memchr(s.ptr, '\0', s.len)) {
            f[i].error = "Null characters are not allowed.";
        } else if (!text_utf8_valid(s)) {
            f[i].error = "Not valid UTF-8.";
        } else if (s.len == 0 && !f[i].allow_blank) {
            f[i].error = "This field may not be blank.";
        } else if (f[i].max_chars && text_utf8_chars(s) > f[i].max_chars) {
            char *m = http_req_alloc(req, 96);
            snprintf(m, 96, "Ensure this field has no more than %zu characters.", f[i].max_chars);
            f[i].error = m;
        }
        f[i].value = s;
    }
    if (api__respond_field_errors(req, f, n)) {
        json_decref(*body);
        *body = NULL;
        return -1;
    }
    return 0;
}

/* Parses a decimal in [lo, hi]. */
static bool parse_u32(str_t s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (s.len == 0 || s.len > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s.ptr[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* See svc.h. */
int api__pagination(http_req_t *req, uint32_t def, uint32_t max, uint32_t *page,
                    uint32_t *page_size)
{
    *page = 1;
    *page_size = def;
    str_t v;
    int rc = http_req_query(req, "page", &v);
    if (rc == 0 && !parse_u32(v, 1, 1000000, page)) {
        api__bad_request(req, "page", "A valid page number (1 or more) is required.");
        return -1;
    }
    if (rc == ERR_INVALID) {
        api__bad_request(req, "page", "A valid page number (1 or more) is required.");
        return -1;
    }
    rc = http_req_query(req, "page_size", &v);
    if ((rc == 0 && !parse_u32(v, 1, max, page_size)) || rc == ERR_INVALID) {
        char msg[96];
        snprintf(msg, sizeof msg, "page_size must be an integer between 1 and %u.", max);
        api__bad_request(req, "page_size", msg);
        return -1;
    }
    return 0;
}

/* ==== blocking-pool jobs of the token routes ============================================== */

/* The User-Agent header, bounded, heap-owned; NULL when absent. */
static char *client_ua(http_req_t *req)
{
    str_t ua = http_req_header(req, "user-agent");
    if (!ua.ptr)
        return NULL;
    return xstrndup(ua.ptr, ua.len > MAX_UA_BYTES ? MAX_UA_BYTES : ua.len);
}

/* See svc.h. */
void api__login_job_free(api_login_job_t *j)
{
    free(j->username);
    free_secret(j->password, j->password_len + 1);
    free(j->ip);
    free(j->ua);
    free(j->fph);
    auth_pair_dispose(&j->pair);
    free(j);
}

static void login_work(void *arg)
{
    api_login_job_t *j = arg;
    auth_client_t client = {j->ip, j->ua, j->fph};
    j->rc = auth_login(j->auth, j->username, j->password, j->password_len, &client, clock_now_s(),
                       &j->pair);
}

/* See svc.h. */
int api__login_submit(http_req_t *req, auth_t *a, str_t username, str_t password, bool mobile,
                      http_done_fn done)
{
    api_login_job_t *j = xcalloc(1, sizeof *j);
    j->auth = a;
    j->mobile = mobile;
    j->username = xstrndup(username.ptr, username.len);
    j->password = xstrndup(password.ptr, password.len);
    j->password_len = password.len;
    j->ip = xstrdup(http_req_peer_str(req));
    j->ua = client_ua(req);
    j->fph = api_fingerprint_dup(req);
    if (http_pool_submit(req, login_work, done, j) != 0) {
        api__login_job_free(j);
        return ERR_UNAVAILABLE;
    }
    return 0;
}

/* See svc.h. */
api_token_job_t *api__token_job_new(auth_t *a, enum api_token_op op)
{
    api_token_job_t *j = xcalloc(1, sizeof *j);
    j->auth = a;
    j->op = op;
    j->verdict = AUTH_INVALID;
    return j;
}

/* See svc.h. */
void api__token_job_free(api_token_job_t *j)
{
    free_secret(j->presented, j->presented_len + 1);
    auth_pair_dispose(&j->pair);
    free(j);
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
        j->rc = 0;
        if (j->has_ref) /* an already revoked session is fine (idempotent) */
            j->rc = auth_logout(j->auth, &j->ref, now, &j->verdict);
        if (j->rc == 0 && j->access_sid[0]) {
            int rc = auth_revoke_session(j->auth, j->access_sid, now);
            if (rc != ERR_NOT_FOUND)
                j->rc = rc;
        }
        break;
    case API_TOKEN_USER:
        j->rc = auth_user_load(j->auth, j->user_id, now);
        break;
    }
}

/* See svc.h. */
int api__token_submit(http_req_t *req, api_token_job_t *j, http_done_fn done)
{
    if (http_pool_submit(req, token_work, done, j) != 0) {
        api__token_job_free(j);
        return ERR_UNAVAILABLE;
    }
    return 0;
}

/*
 * admin.c - the administration API (role admin; docs/api.md "Admin API"):
 *
 *   GET    /admin/users?q=&page=&page_size=  users whose username or e-mail contains q,
 *                                            by id: {"count","page","page_size","results"}
 *   POST   /admin/users                      201, the new user (the password policy of
 *                                            every other path; role, is_active,
 *                                            email_verified)
 *   GET    /admin/users/{id}                 the admin user object
 *   PATCH  /admin/users/{id}                 email, role, is_active, email_verified: 200
 *   DELETE /admin/users/{id}                 204; the user, its sessions and tokens are gone
 *   POST   /admin/users/{id}/revoke          204; every session and access token revoked
 *   GET    /admin/users/{id}/sessions        {"sessions":[...]}
 *
 * The caller is authenticated on the loop (api__authenticate_role: an admin's token, from
 * JWTD_ADMIN_IP_ALLOWLIST when set; refusals are audited there); the use cases of auth.h
 * run on the blocking pool, each writing its own audit record with the acting admin as
 * `actor`. Unknown ids are 404, bad fields 400 with DRF field errors, a taken username or
 * e-mail 409.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/routes/routes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

/* Largest answer: a page of users (each object is bounded by its fields' limits). */
#define ANSWER_MAX (8u << 20)

static const api_paging_t PAGING = {50, 200, 1000000};

enum op { LIST, CREATE, GET, UPDATE, DELETE, REVOKE, SESSIONS };

struct job {
    auth_t *auth;
    enum op op;
    int64_t id;
    char actor[48]; /* "user_id=<admin's id>" */
    /* LIST */
    char *q;
    uint32_t page, page_size;
    /* CREATE, UPDATE */
    char *username, *email, *first, *last, *role;
    char *password;
    size_t password_len;
    bool set_active, is_active;
    bool set_verified, verified;
    /* OUT */
    int rc;
    auth_user_errors_t errors;
    buf_t out;
};

static void job_free(void *arg)
{
    struct job *j = arg;
    free(j->q);
    free(j->username);
    free(j->email);
    free(j->first);
    free(j->last);
    free(j->role);
    if (j->password)
        free_secret(j->password, j->password_len + 1);
    buf_dispose(&j->out);
    free(j);
}

static void work(void *arg)
{
    struct job *j = arg;
    int64_t now = clock_now_s();
    /* the pool set the request's audit context; the acting admin is added to it */
    const audit_ctx_t *cur = audit_ctx_current();
    audit_ctx_t who = cur ? *cur : (audit_ctx_t){0};
    who.actor = j->actor;
    audit_ctx_set(&who);
    switch (j->op) {
    case LIST:
        j->rc = auth_admin_users_json(j->auth, j->q, j->page, j->page_size, &j->out);
        break;
    case CREATE: {
        auth_new_user_t u = {.username = j->username,
                             .email = j->email,
                             .password = j->password,
                             .password_len = j->password_len,
                             .first_name = j->first,
                             .last_name = j->last,
                             .role = j->role};
        j->rc = auth_admin_user_create(j->auth, &u, !j->set_active || j->is_active,
                                       !j->set_verified || j->verified, now, &j->out, &j->errors);
        break;
    }
    case GET:
        j->rc = auth_admin_user_get_json(j->auth, j->id, &j->out);
        break;
    case UPDATE: {
        auth_user_change_t c = {j->email,     j->role,         j->set_active,
                                j->is_active, j->set_verified, j->verified};
        j->rc = auth_user_change(j->auth, j->id, &c, now, &j->out, &j->errors);
        break;
    }
    case DELETE:
        j->rc = auth_user_delete(j->auth, j->id, now);
        break;
    case REVOKE:
        j->rc = auth_admin_user_revoke(j->auth, j->id, now);
        break;
    case SESSIONS:
        j->rc = auth_admin_sessions_json(j->auth, j->id, now, &j->out);
        break;
    }
    audit_ctx_set(cur);
}

/* 400 or 409 with DRF field errors from the use case's *e. */
static void respond_user_errors(http_req_t *req, int status, const auth_user_errors_t *e)
{
    const char *code = status == 409 ? "conflict" : "invalid_request";
    const char *first = e->username         ? e->username
                        : e->email          ? e->email
                        : e->role           ? e->role
                        : e->name           ? e->name
                        : e->password.count ? e->password.messages[0]
                                            : "Invalid input.";
    buf_t b;
    buf_init(&b, 8192);
    buf_append_cstr(&b, "{\"detail\":");
    jsonw_buf_cstr(&b, status == 409 ? first : "Invalid input.");
    buf_printf(&b, ",\"code\":\"%s\"", code);
    const struct {
        const char *name, *msg;
    } f[] = {{"username", e->username}, {"email", e->email}, {"role", e->role}, {"name", e->name}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!f[i].msg)
            continue;
        buf_printf(&b, ",\"%s\":[", f[i].name);
        jsonw_buf_cstr(&b, f[i].msg);
        buf_append_char(&b, ']');
    }
    if (e->password.count) {
        buf_append_cstr(&b, ",\"password\":[");
        for (size_t i = 0; i < e->password.count; i++) {
            if (i)
                buf_append_char(&b, ',');
            jsonw_buf_cstr(&b, e->password.messages[i]);
        }
        buf_append_char(&b, ']');
    }
    buf_append_char(&b, '}');
    api__respond_buf(req, status, &b);
}

static void done(http_req_t *req, void *arg, int status)
{
    struct job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0 && (j->op == DELETE || j->op == REVOKE)) {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 204, NULL, STR_NULL);
    } else if (rc == 0) {
        api__respond_nostore(req, j->op == CREATE ? 201 : 200, buf_str(&j->out));
    } else if (rc == ERR_NOT_FOUND) {
        http_respond_error(req, ERR_NOT_FOUND, "No such user.");
    } else if (rc == ERR_CONFLICT) {
        respond_user_errors(req, 409, &j->errors);
    } else if (rc == ERR_INVALID) {
        respond_user_errors(req, 400, &j->errors);
    } else {
        api__failure(req, rc);
    }
    job_free(j);
}

/* A job for the admin calling, or NULL after answering 401/403. */
static struct job *job_for(http_req_t *req, enum op op)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate_role(req, ctx, "admin");
    if (!t)
        return NULL;
    struct job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->op = op;
    snprintf(j->actor, sizeof j->actor, "user_id=%" PRId64, t->user_id);
    buf_init(&j->out, ANSWER_MAX);
    return j;
}

/* The job of a route on /admin/users/{id}; 404 for an id that is not a positive number. */
static struct job *job_for_id(http_req_t *req, enum op op)
{
    struct job *j = job_for(req, op);
    if (j && !api__param_id(req, "id", &j->id)) {
        http_respond_error(req, ERR_NOT_FOUND, "No such user.");
        job_free(j);
        return NULL;
    }
    return j;
}

static char *dup_or_null(str_t v)
{
    return v.ptr ? xstrndup(v.ptr, v.len) : NULL;
}

/*
 * A boolean member of the body: JSON true/false, or (forms) "true"/"false"/"1"/"0".
 * Returns 1 with *out, 0 when absent, -1 when it is not a boolean.
 */
static int read_bool(json_t *body, const char *name, bool *out)
{
    json_t *v = json_object_get(body, name);
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)) {
        *out = true;
        return 1;
    }
    if (s && (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)) {
        *out = false;
        return 1;
    }
    return -1;
}

/* 400 {"detail","code", name: [msg]} for one field (name escaped: it may be the client's). */
static void respond_field(http_req_t *req, const char *name, const char *msg)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"detail\":\"Invalid input.\",\"code\":\"invalid_request\",");
    jsonw_buf_cstr(&b, name);
    buf_append_cstr(&b, ":[");
    jsonw_buf_cstr(&b, msg);
    buf_append_cstr(&b, "]}");
    api__respond_buf(req, 400, &b);
}

/* ==== handlers ================================================================================ */

static void on_list(http_req_t *req)
{
    uint32_t page, page_size;
    str_t q = STR_NULL;
    int qrc = http_req_query(req, "q", &q);
    if (qrc == ERR_INVALID) {
        api__bad_request(req, "q", "Invalid query string.");
        return;
    }
    if (q.len > 254) {
        api__bad_request(req, "q", "Ensure this field has no more than 254 characters.");
        return;
    }
    if (q.ptr && memchr(q.ptr, '\0', q.len)) {
        api__bad_request(req, "q", "Null characters are not allowed.");
        return;
    }
    if (api__pagination(req, &PAGING, &page, &page_size) != 0)
        return;
    struct job *j = job_for(req, LIST);
    if (!j)
        return;
    j->q = xstrndup(q.ptr ? q.ptr : "", q.len);
    j->page = page;
    j->page_size = page_size;
    api__submit(req, work, done, j, job_free);
}

static void on_create(http_req_t *req)
{
    struct job *j = job_for(req, CREATE);
    if (!j)
        return;
    api_field_t f[6] = {
        {.name = "username", .required = true, .trim = true, .max_chars = 150},
        {.name = "email", .trim = true, .allow_blank = true, .max_chars = 254},
        {.name = "password", .required = true, .trim = false},
        {.name = "first_name", .trim = true, .allow_blank = true, .max_chars = 150},
        {.name = "last_name", .trim = true, .allow_blank = true, .max_chars = 150},
        {.name = "role", .trim = true, .max_chars = 16},
    };
    json_t *body;
    if (api__read_fields(req, f, 6, 0, &body) != 0) {
        job_free(j);
        return;
    }
    bool active = true, verified = true;
    int b = read_bool(body, "is_active", &active);
    int v = read_bool(body, "email_verified", &verified);
    if (b < 0 || v < 0) {
        json_decref(body);
        respond_field(req, b < 0 ? "is_active" : "email_verified", "Must be a valid boolean.");
        job_free(j);
        return;
    }
    j->username = dup_or_null(f[0].value);
    j->email = xstrndup(f[1].value.ptr ? f[1].value.ptr : "", f[1].value.len);
    j->password = xstrndup(f[2].value.ptr, f[2].value.len);
    j->password_len = f[2].value.len;
    j->first = xstrndup(f[3].value.ptr ? f[3].value.ptr : "", f[3].value.len);
    j->last = xstrndup(f[4].value.ptr ? f[4].value.ptr : "", f[4].value.len);
    j->role = dup_or_null(f[5].value);
    j->set_active = b > 0;
    j->is_active = active;
    j->set_verified = v > 0;
    j->verified = verified;
    json_decref(body);
    /* the checks that need no database, before the pool (and the password hash) */
    auth_new_user_t u = {.username = j->username,
                         .email = j->email,
                         .password = j->password,
                         .password_len = j->password_len,
                         .first_name = j->first,
                         .last_name = j->last,
                         .role = j->role};
    if (auth_user_validate(&u, true, &j->errors) != 0) {
        respond_user_errors(req, 400, &j->errors);
        job_free(j);
        return;
    }
    api__submit(req, work, done, j, job_free);
}

/* The routes that take the user id alone: its job, submitted. */
static void submit_for_id(http_req_t *req, enum op op)
{
    struct job *j = job_for_id(req, op);
    if (j)
        api__submit(req, work, done, j, job_free);
}

static void on_get(http_req_t *req)
{
    submit_for_id(req, GET);
}

static void on_sessions(http_req_t *req)
{
    submit_for_id(req, SESSIONS);
}

static void on_delete(http_req_t *req)
{
    submit_for_id(req, DELETE);
}

static void on_revoke(http_req_t *req)
{
    submit_for_id(req, REVOKE);
}

static void on_update(http_req_t *req)
{
    struct job *j = job_for_id(req, UPDATE);
    if (!j)
        return;
    api_field_t f[2] = {
        {.name = "email", .trim = true, .allow_blank = true, .max_chars = 254},
        {.name = "role", .trim = true, .max_chars = 16},
    };
    json_t *body;
    if (api__read_fields(req, f, 2, 0, &body) != 0) {
        job_free(j);
        return;
    }
    int b = read_bool(body, "is_active", &j->is_active);
    int v = read_bool(body, "email_verified", &j->verified);
    const char *key;
    json_t *value;
    const char *unknown = NULL;
    json_object_foreach(body, key, value)
    {
        if (strcmp(key, "email") != 0 && strcmp(key, "role") != 0 &&
            strcmp(key, "is_active") != 0 && strcmp(key, "email_verified") != 0)
            unknown = key;
    }
    if (b < 0 || v < 0 || unknown || json_object_size(body) == 0) {
        if (b < 0 || v < 0)
            respond_field(req, b < 0 ? "is_active" : "email_verified", "Must be a valid boolean.");
        else if (unknown)
            respond_field(req, unknown,
                          "This field cannot be changed here: email, role, is_active and "
                          "email_verified can.");
        else
            api__bad_request(req, NULL,
                             "Nothing to change: give email, role, is_active or email_verified.");
        json_decref(body);
        job_free(j);
        return;
    }
    j->email = f[0].value.ptr ? xstrndup(f[0].value.ptr, f[0].value.len) : NULL;
    j->role = dup_or_null(f[1].value);
    j->set_active = b > 0;
    j->set_verified = v > 0;
    json_decref(body);
    auth_user_change_t c = {j->email,     j->role,         j->set_active,
                            j->is_active, j->set_verified, j->verified};
    if (auth_user_change_validate(&c, &j->errors) != 0) {
        respond_user_errors(req, 400, &j->errors);
        job_free(j);
        return;
    }
    api__submit(req, work, done, j, job_free);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/admin/users", on_list},
    {HTTP_M_POST, "/admin/users", on_create},
    {HTTP_M_GET, "/admin/users/{id}", on_get},
    {HTTP_M_PATCH, "/admin/users/{id}", on_update},
    {HTTP_M_DELETE, "/admin/users/{id}", on_delete},
    {HTTP_M_POST, "/admin/users/{id}/revoke", on_revoke},
    {HTTP_M_GET, "/admin/users/{id}/sessions", on_sessions},
};

/* See routes.h. */
const api_family_t api_admin_family = API_FAMILY(ROUTES, NULL);

/*
 * simplejwt.c - the SimpleJWT-compatible routes: POST /api/token/, /api/token/refresh/,
 * /api/token/verify/, /api/token/blacklist/ and GET /api/users/me/.
 *
 * Thin adapters: read the body (JSON or form, DRF field rules), call the token service, and
 * write SimpleJWT's shapes (status, detail, code, messages[], WWW-Authenticate) with the
 * contract's differences (every error has a code; revoked access tokens are refused; a
 * revoked token at /api/token/verify/ is 401 token_not_valid "Token is blacklisted").
 *
 * Threads: handlers run on their worker's loop. Token checks happen right there (jose + the
 * revocation index, no I/O); login, refresh, blacklist, the database check of a refresh
 * token at verify, and a user-cache miss at /me go through the blocking pool and answer from
 * its done callback (503 when the pool is saturated or the database is down).
 */
#define LOG_MODULE "api"
#include <jansson.h>

#include "api/routes/routes.h"
#include "common/err.h"

/* {"refresh","access","user"} / {"access","refresh"?} */
static void respond_tokens(http_req_t *req, const auth_pair_t *p, bool with_user)
{
    buf_t b;
    buf_init(&b, 4 * AUTH_TOKEN_MAX);
    if (with_user) {
        buf_append_cstr(&b, "{\"refresh\":\"");
        buf_append(&b, p->refresh, p->refresh_len);
        buf_append_cstr(&b, "\",\"access\":\"");
        buf_append(&b, p->access, p->access_len);
        buf_append_cstr(&b, "\",\"user\":");
        buf_append(&b, p->user_json, p->user_json_len);
        buf_append_char(&b, '}');
    } else {
        buf_append_cstr(&b, "{\"access\":\"");
        buf_append(&b, p->access, p->access_len);
        if (p->refresh_len) {
            buf_append_cstr(&b, "\",\"refresh\":\"");
            buf_append(&b, p->refresh, p->refresh_len);
        }
        buf_append_cstr(&b, "\"}");
    }
    api__respond_nostore(req, 200, buf_str(&b));
    buf_dispose_secret(&b);
}

/* ==== POST /api/token/ ======================================================================= */

/* See req.h (API_LOGIN_FAMILIES): the answer of a login, or of its second step. */
void api_simplejwt_login_done(http_req_t *req, void *arg, int status)
{
    api_login_job_t *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        api__device_token_header(req, j);
        respond_tokens(req, &j->pair, true);
    } else if (api__respond_login_step(req, rc, &j->pair, false)) {
    } else if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        api__respond_code(req, 401, "no_active_account",
                          "No active account found with the given credentials", API_WWW_PLAIN);
    } else {
        api__failure(req, rc);
    }
    api__login_job_free(j);
}

static void on_token_obtain(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    api_field_t f[3] = {{.name = "username", .required = true, .trim = true},
                        {.name = "password", .required = true},
                        {.name = API_DEVICE_TOKEN, .max_chars = AUTH_TOKEN_MAX}};
    json_t *body;
    if (api__read_fields(req, f, 3, API_FIELDS_NUMBERS, &body) != 0)
        return;
    api__login_submit(req, ctx, f[0].value, f[1].value, f[2].value, 0, api_simplejwt_login_done);
    json_decref(body);
}

/* ==== refresh, verify, blacklist: a token in a body field ==================================== */

static void token_done(http_req_t *req, void *arg, int status)
{
    api_token_job_t *j = arg;
    if (!api__token_job_refused(req, j, status)) {
        if (j->op == API_TOKEN_REFRESH)
            respond_tokens(req, &j->pair, false);
        else
            api__respond_nostore(req, 200, STR_LIT("{}"));
    }
    api__token_job_free(j);
}

/*
 * Shared front half: reads field `name`, verifies the token on the loop (any type for
 * verify, refresh otherwise), and either answers (bad input, refused token, or /verify of an
 * access token) or submits the blocking half.
 */
static void token_route(http_req_t *req, const char *name, enum api_token_op op)
{
    const api_ctx_t *ctx = req->route_data;
    api_field_t f[1] = {{.name = name, .required = true, .trim = true, .token = true}};
    json_t *body = NULL;
    if (!api__fast_field(req, name, &f[0].value) &&
        api__read_fields(req, f, 1, API_FIELDS_NUMBERS, &body) != 0)
        return;
    enum auth_verdict v;
    const auth_token_ref_t *t = api__verify(
        req, ctx, f[0].value, op == API_TOKEN_CHECK ? AUTH_TOKEN_ANY : AUTH_TOKEN_REFRESH, &v);
    json_decref(body);
    if (v != AUTH_OK) {
        api__respond_token_invalid(req, ctx, v);
        return;
    }
    if (op == API_TOKEN_CHECK && !t->is_refresh) {
        /* an access (or other) token: signature, claims and the index were all it takes */
        api__respond_nostore(req, 200, STR_LIT("{}"));
        return;
    }
    api_token_job_t *j = api__token_job_new(ctx, op);
    j->ref = *t;
    j->has_ref = true;
    (void)api__token_submit(req, j, token_done, true);
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

static const api_route_t ROUTES[] = {
    {HTTP_M_POST, "/api/token/", on_token_obtain},
    {HTTP_M_POST, "/api/token/refresh/", on_token_refresh},
    {HTTP_M_POST, "/api/token/verify/", on_token_verify},
    {HTTP_M_POST, "/api/token/blacklist/", on_token_blacklist},
    {HTTP_M_GET, "/api/users/me/", api__on_me},
};

/* See routes.h. */
const api_family_t api_simplejwt_family = API_FAMILY(ROUTES, NULL);

/*
 * authn.c - Bearer authentication shared by every route family that protects a route with
 * an access token (simplejwt.c's /api/users/me/, service.c, posts.c, users.c, resource.c).
 *
 * One place decides how a request's `Authorization: Bearer <token>` is parsed (api__bearer,
 * SimpleJWT's rules), verified (auth_verify_access: jose + the revocation index, on the
 * loop, no I/O) and refused (the API.md section 2 bodies and WWW-Authenticate headers), so
 * the routes cannot drift apart. It holds no state.
 */
#define LOG_MODULE "api"
#include "api/api.h"

#include <string.h>

#include "api/web.h"
#include "auth/auth.h"
#include "common/err.h"

/* See api.h. */
int api_authenticate(http_req_t *req, auth_t *a, struct jwtv_claims *claims, int64_t *user_id)
{
    str_t token;
    int rc = api__bearer(req, &token);
    if (rc != 0) {
        api__bearer_error(req, rc, AUTH_INVALID);
        return -1;
    }
    enum auth_verdict v = auth_verify_access(a, token, 0, claims);
    if (v != AUTH_OK) {
        api__bearer_error(req, 0, v);
        return -1;
    }
    if (auth_parse_user_id(claims->user_id, user_id) != 0) {
        http_resp_header_add(req, "WWW-Authenticate",
                             "Bearer realm=\"api\", error=\"invalid_token\"");
        http_respond(req, 401, API_JSON_CT,
                     STR_LIT("{\"detail\":\"Token contained no recognizable user "
                             "identification\",\"code\":\"token_not_valid\"}"));
        return -1;
    }
    if (!api_iprules_role_allowed(req, claims->role)) { /* JWTD_ADMIN_IP_ALLOWLIST */
        http_respond_error(req, ERR_PERMISSION, "Client address not allowed for this role.");
        return -1;
    }
    char fph[24];
    if (jwtv_claims_get_string(claims, "fph", fph, sizeof fph) == 0 &&
        !api_fingerprint_access_ok(req, fph)) { /* JWTD_FINGERPRINT_ACCESS */
        http_resp_header_add(req, "WWW-Authenticate",
                             "Bearer realm=\"api\", error=\"invalid_token\"");
        http_respond(req, 401, API_JSON_CT,
                     STR_LIT("{\"detail\":\"Given token not valid for any token type\",\"code\":"
                             "\"token_not_valid\",\"messages\":[{\"token_class\":\"AccessToken\","
                             "\"token_type\":\"access\",\"message\":\"Token is invalid or "
                             "expired\"}]}"));
        return -1;
    }
    req->log_user_id = *user_id; /* api.log names the user (issue 9) */
    return 0;
}

/* See api.h. */
int api_authenticate_role(http_req_t *req, auth_t *a, const char *role, struct jwtv_claims *claims,
                          int64_t *user_id)
{
    if (api_authenticate(req, a, claims, user_id) != 0)
        return -1;
    if (!claims->role || strcmp(claims->role, role) != 0) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return -1;
    }
    return 0;
}

/* See api.h. */
struct jwtv_claims *api_claims_scratch(void)
{
    static _Thread_local jwtv_claims scratch;
    return &scratch;
}

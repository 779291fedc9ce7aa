/*
 * wellknown.c - GET /.well-known/jwks.json and GET /.well-known/openid-configuration: what
 * a resource server needs to verify jwtd's tokens by itself.
 *
 * The JWKS lists the public keys of the ring (active, next, retired; never an HMAC secret
 * and never another issuer's trusted key), so with an HS* key the set is empty. Both bodies
 * are built per request from the immutable ring (cheap, and not a hot path) and may be
 * cached by clients for 5 minutes. Discovery describes jwtd as an OpenID Connect provider
 * (routes/oauth.c): its issuer is JWTD_ISSUER, else JWTD_PUBLIC_URL; its URLs start with
 * JWTD_PUBLIC_URL, else the issuer when it is an http(s) URL. Only in development may both
 * come from the request's scheme and Host when neither is set; elsewhere discovery is then
 * a 404 naming the missing setting.
 */
#include <stdio.h>
#include <string.h>

#include "api/routes/routes.h"
#include "auth/oauth.h"
#include "common/err.h"
#include "common/jsonw.h"

static void on_jwks(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    buf_t b;
    buf_init(&b, 1 << 20);
    if (auth_jwks_json(ctx->auth, &b) != 0) {
        buf_dispose(&b);
        http_respond_error(req, ERR_INTERNAL, NULL);
        return;
    }
    http_resp_header_add(req, "Cache-Control", "public, max-age=300");
    api__respond_buf(req, 200, &b);
}

static void on_openid_configuration(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    /* The issuer: JWTD_ISSUER, else JWTD_PUBLIC_URL, else (development only) the request's
       base URL. Endpoints start with JWTD_PUBLIC_URL, else the issuer when it is an http(s)
       URL, else (development only) the request's base URL. */
    char issuer[512], base[512];
    const char *cfg_issuer = ctx->o.issuer;
    if (!api__oidc_issuer(req, ctx, issuer, sizeof issuer)) {
        http_respond_error(req, ERR_NOT_FOUND,
                           "OpenID Connect discovery needs JWTD_ISSUER or JWTD_PUBLIC_URL.");
        return;
    }
    if (!ctx->o.public_url && cfg_issuer &&
        (strncmp(cfg_issuer, "https://", 8) == 0 || strncmp(cfg_issuer, "http://", 7) == 0)) {
        snprintf(base, sizeof base, "%s", issuer);
    } else if (ctx->o.public_url || ctx->o.issuer_from_host) {
        api__base_url(req, ctx, base, sizeof base);
    } else {
        http_respond_error(req, ERR_NOT_FOUND,
                           "OpenID Connect discovery needs JWTD_PUBLIC_URL (or an http(s) "
                           "JWTD_ISSUER).");
        return;
    }
    const char *alg = auth_signing_alg(ctx->auth);

    buf_t b;
    buf_init(&b, 16384);
    buf_append_cstr(&b, "{\"issuer\":");
    jsonw_buf_cstr(&b, issuer);
    buf_printf(&b, ",\"authorization_endpoint\":\"%s/oauth/authorize\"", base);
    buf_printf(&b, ",\"token_endpoint\":\"%s/oauth/token\"", base);
    buf_printf(&b, ",\"userinfo_endpoint\":\"%s/oauth/userinfo\"", base);
    buf_printf(&b, ",\"jwks_uri\":\"%s/.well-known/jwks.json\"", base);
    buf_printf(&b, ",\"revocation_endpoint\":\"%s/oauth/revoke\"", base);
    buf_printf(&b, ",\"introspection_endpoint\":\"%s/oauth/introspect\"", base);
    buf_printf(&b, ",\"end_session_endpoint\":\"%s/oauth/logout\"", base);
    /* jwtd's own refresh route (SimpleJWT's), kept for clients that read it */
    buf_printf(&b, ",\"refresh_endpoint\":\"%s/api/token/refresh/\"", base);
    buf_append_cstr(
        &b, ",\"scopes_supported\":[\"openid\",\"profile\",\"email\",\"offline_access\","
            "\"roles\"]"
            ",\"response_types_supported\":[\"code\"]"
            ",\"response_modes_supported\":[\"query\"]"
            ",\"grant_types_supported\":[\"authorization_code\",\"refresh_token\","
            "\"client_credentials\"]"
            ",\"code_challenge_methods_supported\":[\"S256\"]"
            ",\"subject_types_supported\":[\"public\"]"
            ",\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\","
            "\"client_secret_post\",\"none\"]"
            ",\"revocation_endpoint_auth_methods_supported\":[\"client_secret_basic\","
            "\"client_secret_post\",\"none\"]"
            ",\"introspection_endpoint_auth_methods_supported\":[\"client_secret_basic\","
            "\"client_secret_post\"]"
            ",\"prompt_values_supported\":[\"none\",\"login\",\"consent\",\"select_account\"]"
            ",\"claims_parameter_supported\":false,\"request_parameter_supported\":false"
            ",\"request_uri_parameter_supported\":false"
            ",\"authorization_response_iss_parameter_supported\":true");
    /* ID tokens are signed with the active key, which must be asymmetric for OIDC */
    if (auth_oauth_can_sign_id_tokens(ctx->auth))
        buf_printf(&b, ",\"id_token_signing_alg_values_supported\":[\"%s\"]", alg);
    else
        buf_append_cstr(&b, ",\"id_token_signing_alg_values_supported\":[]");
    buf_printf(&b, ",\"token_signing_alg_values_supported\":[\"%s\"]", alg);
    buf_append_cstr(&b, ",\"claims_supported\":[\"iss\",\"sub\",\"aud\",\"exp\",\"iat\","
                        "\"auth_time\",\"nonce\",\"at_hash\",\"amr\",\"azp\",\"sid\","
                        "\"preferred_username\",\"name\",\"email\",\"email_verified\","
                        "\"role\",\"roles\"]}");
    http_resp_header_add(req, "Cache-Control", "public, max-age=300");
    api__respond_buf(req, 200, &b);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/.well-known/jwks.json", on_jwks},
    {HTTP_M_GET, "/.well-known/openid-configuration", on_openid_configuration},
};

/* See routes.h. */
const api_family_t api_wellknown_family = API_FAMILY(ROUTES, NULL);

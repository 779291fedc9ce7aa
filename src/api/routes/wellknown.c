/*
 * wellknown.c - GET /.well-known/jwks.json and GET /.well-known/openid-configuration: what
 * a resource server needs to verify jwtd's tokens by itself.
 *
 * The JWKS lists the public keys of the ring (active, next, retired; never an HMAC secret
 * and never another issuer's trusted key), so with an HS* key the set is empty. Both bodies
 * are built per request from the immutable ring (cheap, and not a hot path) and may be
 * cached by clients for 5 minutes. Discovery's URLs start with JWTD_PUBLIC_URL when it is
 * set (never the Host header then), else the issuer when it is an http(s) URL, else the
 * request's scheme (https behind a trusted proxy that says so) and Host.
 */
#include <stdio.h>
#include <string.h>

#include "api/routes/routes.h"
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
    const char *cfg_issuer = ctx->o.issuer;
    /* The base URL: JWTD_PUBLIC_URL; else the issuer when it is an http(s) URL; else the
       request's scheme and Host. */
    char base[512];
    if (!ctx->o.public_url && cfg_issuer &&
        (strncmp(cfg_issuer, "https://", 8) == 0 || strncmp(cfg_issuer, "http://", 7) == 0)) {
        size_t l = strlen(cfg_issuer);
        while (l && cfg_issuer[l - 1] == '/')
            l--;
        snprintf(base, sizeof base, "%.*s", (int)(l > 400 ? 400 : l), cfg_issuer);
    } else {
        api__base_url(req, ctx, base, sizeof base);
    }
    const char *issuer = cfg_issuer ? cfg_issuer : base;
    const char *alg = auth_signing_alg(ctx->auth);

    buf_t b;
    buf_init(&b, 16384);
    buf_append_cstr(&b, "{\"issuer\":");
    jsonw_buf_cstr(&b, issuer);
    buf_printf(&b, ",\"jwks_uri\":\"%s/.well-known/jwks.json\"", base);
    buf_printf(&b, ",\"token_endpoint\":\"%s/api/token/\"", base);
    buf_printf(&b, ",\"refresh_endpoint\":\"%s/api/token/refresh/\"", base);
    buf_printf(&b, ",\"revocation_endpoint\":\"%s/api/token/blacklist/\"", base);
    buf_printf(&b, ",\"userinfo_endpoint\":\"%s/api/users/me/\"", base);
    buf_append_cstr(&b, ",\"grant_types_supported\":[\"password\",\"refresh_token\"]"
                        ",\"response_types_supported\":[\"token\"]"
                        ",\"subject_types_supported\":[\"public\"]"
                        ",\"token_endpoint_auth_methods_supported\":[\"none\"]");
    buf_printf(&b, ",\"id_token_signing_alg_values_supported\":[\"%s\"]", alg);
    buf_printf(&b, ",\"token_signing_alg_values_supported\":[\"%s\"]", alg);
    buf_append_cstr(&b, ",\"claims_supported\":[\"token_type\",\"exp\",\"iat\",\"jti\","
                        "\"user_id\",\"sub\",\"sid\",\"username\",\"email\",\"role\","
                        "\"premium\",\"iss\",\"aud\"]}");
    http_resp_header_add(req, "Cache-Control", "public, max-age=300");
    api__respond_buf(req, 200, &b);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/.well-known/jwks.json", on_jwks},
    {HTTP_M_GET, "/.well-known/openid-configuration", on_openid_configuration},
};

/* See routes.h. */
const api_family_t api_wellknown_family = API_FAMILY(ROUTES, NULL);

/* Unit tests for src/root/aliases.c: JWTD_ROUTE_ALIASES resolved against a router. */
#include <string.h>

#include "common/err.h"
#include "http/http_internal.h"
#include "root/root.h"
#include "test.h"

static void h(http_req_t *req)
{
    (void)req;
}

static http_router_t *simplejwt_router(void)
{
    http_router_t *r = http_router_new();
    static const char *const paths[] = {"/api/token/",        "/api/token/refresh/",
                                        "/api/token/verify/", "/api/token/blacklist/",
                                        "/api/token/{x}/y",   "/healthz"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        http_router_add(r, HTTP_M_POST, paths[i], h, NULL);
    http_router_add(r, HTTP_M_OPTIONS, "/api/token/", h, NULL); /* same pattern twice */
    return r;
}

static bool resolves(const http_router_t *r, const char *from, const char *to)
{
    str_t out = http__router_resolve(r, str_cstr(from));
    return str_eq(out, str_cstr(to));
}

TEST(root_route_aliases_exact_with_slash_variants)
{
    http_router_t *r = simplejwt_router();
    char *items[] = {"/login/simpleJWT/=/api/token/",
                     "/login/simpleJWT/refresh=/api/token/refresh/",
                     "/login/simpleJWT=/api/token/verify/"};
    char err[300] = "";
    ASSERT_EQ_INT(root__route_aliases(r, items, 3, err, sizeof err), 0);
    CHECK_TRUE(resolves(r, "/login/simpleJWT/", "/api/token/"));
    /* the variant of item 1 is item 3's own path: the item wins */
    CHECK_TRUE(resolves(r, "/login/simpleJWT", "/api/token/verify/"));
    CHECK_TRUE(resolves(r, "/login/simpleJWT/refresh", "/api/token/refresh/"));
    CHECK_TRUE(resolves(r, "/login/simpleJWT/refresh/", "/api/token/refresh/"));
    CHECK_TRUE(resolves(r, "/login/simpleJWT/verify/", "/login/simpleJWT/verify/"));
    CHECK_EQ_INT(http_router_alias_count(r), 4);
    http_router_free(r);
}

TEST(root_route_aliases_prefix_expands_fixed_routes)
{
    http_router_t *r = simplejwt_router();
    char *items[] = {"/auth/jwt/*=/api/token/*"};
    char err[300] = "";
    ASSERT_EQ_INT(root__route_aliases(r, items, 1, err, sizeof err), 0);
    CHECK_TRUE(resolves(r, "/auth/jwt/", "/api/token/"));
    CHECK_TRUE(resolves(r, "/auth/jwt", "/api/token/"));
    CHECK_TRUE(resolves(r, "/auth/jwt/refresh/", "/api/token/refresh/"));
    CHECK_TRUE(resolves(r, "/auth/jwt/verify", "/api/token/verify/"));
    CHECK_TRUE(resolves(r, "/auth/jwt/blacklist/", "/api/token/blacklist/"));
    CHECK_TRUE(resolves(r, "/auth/jwt/{x}/y", "/auth/jwt/{x}/y")); /* parameters: left out */
    CHECK_EQ_INT(http_router_alias_count(r), 8);
    http_router_free(r);
}

TEST(root_route_aliases_errors_name_the_item)
{
    static const struct {
        const char *item;
        const char *err;
    } bad[] = {
        {"/x/=/api/nothing/", "JWTD_ROUTE_ALIASES: /x/=/api/nothing/: unknown target route "
                              "/api/nothing/"},
        {"/x/=/api/token", "JWTD_ROUTE_ALIASES: /x/=/api/token: unknown target route /api/token "
                           "(did you mean /api/token/?)"},
        {"/x/*=/nothing/*", "JWTD_ROUTE_ALIASES: /x/*=/nothing/*: no route below /nothing/"},
        {"/healthz=/api/token/", "JWTD_ROUTE_ALIASES: /healthz=/api/token/: the path /healthz is "
                                 "already a route or the alias of another target"},
        {"/api/token/refresh/*=/api/token/*",
         "JWTD_ROUTE_ALIASES: /api/token/refresh/*=/api/token/*: the path /api/token/refresh/ is "
         "already a route or the alias of another target"},
        {"nonsense", "JWTD_ROUTE_ALIASES: nonsense: expected ALIAS=TARGET, e.g. "
                     "/login/simpleJWT/=/api/token/"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_router_t *r = simplejwt_router();
        char *items[] = {(char *)bad[i].item};
        char err[300] = "";
        CHECK_EQ_INT(root__route_aliases(r, items, 1, err, sizeof err), ERR_CONFIG);
        CHECK_STR_EQ(err, bad[i].err);
        http_router_free(r);
    }
    /* two items, one path, two targets */
    http_router_t *r = simplejwt_router();
    char *items[] = {"/a/*=/api/token/*", "/a/verify/=/api/token/refresh/"};
    char err[300] = "";
    CHECK_EQ_INT(root__route_aliases(r, items, 2, err, sizeof err), ERR_CONFIG);
    CHECK_STR_EQ(err, "JWTD_ROUTE_ALIASES: /a/verify/=/api/token/refresh/: the path /a/verify/ is "
                      "already a route or the alias of another target");
    http_router_free(r);
}

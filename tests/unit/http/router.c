/* Unit tests for src/http/router.c: matching, params, 404/405 and Allow, HEAD. */
#include "test.h"

#include "common/err.h"
#include "http/http.h"
#include "http/http_internal.h"

static void h_a(http_req_t *req)
{
    (void)req;
}

static void h_b(http_req_t *req)
{
    (void)req;
}

static http_router_t *make(void)
{
    http_router_t *r = http_router_new();
    http_router_add(r, HTTP_M_GET, "/healthz", h_a, (void *)1);
    http_router_add(r, HTTP_M_POST, "/api/token/", h_a, (void *)2);
    http_router_add(r, HTTP_M_GET, "/posts/{id}", h_a, (void *)3);
    http_router_add(r, HTTP_M_DELETE, "/posts/{id}", h_b, (void *)4);
    http_router_add(r, HTTP_M_PUT, "/upload/{id}/part/{n}", h_b, (void *)5);
    http_router_add(r, HTTP_M_POST, "/auth/login", h_b, (void *)6);
    return r;
}

TEST(router_exact_match_and_trailing_slash)
{
    http_router_t *r = make();
    http_handler_fn fn = NULL;
    void *data = NULL;
    http_req_t req = {0};
    CHECK_EQ_INT(http_router_match(r, HTTP_M_GET, STR_LIT("/healthz"), &fn, &data, &req, NULL, 0),
                 0);
    CHECK_TRUE(fn == h_a && data == (void *)1);
    CHECK_EQ_INT(http_router_match(r, HTTP_M_GET, STR_LIT("/healthz/"), &fn, &data, &req, NULL, 0),
                 ERR_NOT_FOUND);
    CHECK_EQ_INT(
        http_router_match(r, HTTP_M_POST, STR_LIT("/api/token/"), &fn, &data, &req, NULL, 0), 0);
    CHECK_EQ_INT(
        http_router_match(r, HTTP_M_POST, STR_LIT("/api/token"), &fn, &data, &req, NULL, 0),
        ERR_NOT_FOUND);
    CHECK_EQ_INT(
        http_router_match(r, HTTP_M_POST, STR_LIT("/auth/login/"), &fn, &data, &req, NULL, 0),
        ERR_NOT_FOUND);
    CHECK_EQ_INT(http_router_match(r, HTTP_M_GET, STR_LIT(""), &fn, &data, &req, NULL, 0),
                 ERR_NOT_FOUND);
    http_router_free(r);
}

TEST(router_params)
{
    http_router_t *r = make();
    http_handler_fn fn = NULL;
    void *data = NULL;
    http_req_t req = {0};
    ASSERT_EQ_INT(
        http_router_match(r, HTTP_M_DELETE, STR_LIT("/posts/42"), &fn, &data, &req, NULL, 0), 0);
    CHECK_TRUE(fn == h_b && data == (void *)4);
    ASSERT_EQ_INT(req.param_count, 1);
    str_t id = http_req_param(&req, "id");
    CHECK_TRUE(str_eq_cstr(id, "42"));
    CHECK_TRUE(http_req_param(&req, "nope").ptr == NULL);
    ASSERT_EQ_INT(
        http_router_match(r, HTTP_M_PUT, STR_LIT("/upload/abc/part/7"), &fn, &data, &req, NULL, 0),
        0);
    CHECK_TRUE(str_eq_cstr(http_req_param(&req, "id"), "abc"));
    CHECK_TRUE(str_eq_cstr(http_req_param(&req, "n"), "7"));
    /* a parameter is one non-empty segment */
    CHECK_EQ_INT(http_router_match(r, HTTP_M_GET, STR_LIT("/posts/"), &fn, &data, &req, NULL, 0),
                 ERR_NOT_FOUND);
    CHECK_EQ_INT(http_router_match(r, HTTP_M_GET, STR_LIT("/posts/1/2"), &fn, &data, &req, NULL, 0),
                 ERR_NOT_FOUND);
    http_router_free(r);
}

TEST(router_405_allow_lists_methods)
{
    http_router_t *r = make();
    http_handler_fn fn = NULL;
    void *data = NULL;
    http_req_t req = {0};
    char allow[96];
    ASSERT_EQ_INT(http_router_match(r, HTTP_M_PUT, STR_LIT("/posts/1"), &fn, &data, &req, allow,
                                    sizeof allow),
                  ERR_METHOD);
    CHECK_STR_EQ(allow, "GET, HEAD, DELETE, OPTIONS");
    ASSERT_EQ_INT(http_router_match(r, HTTP_M_GET, STR_LIT("/api/token/"), &fn, &data, &req, allow,
                                    sizeof allow),
                  ERR_METHOD);
    CHECK_STR_EQ(allow, "POST, OPTIONS");
    http_router_free(r);
}

TEST(router_head_uses_get_route)
{
    http_router_t *r = make();
    http_handler_fn fn = NULL;
    void *data = NULL;
    http_req_t req = {0};
    ASSERT_EQ_INT(http_router_match(r, HTTP_M_HEAD, STR_LIT("/posts/9"), &fn, &data, &req, NULL, 0),
                  0);
    CHECK_TRUE(fn == h_a && data == (void *)3);
    CHECK_TRUE(str_eq_cstr(http_req_param(&req, "id"), "9"));
    http_router_free(r);
}

TEST(router_rejects_bad_patterns)
{
    http_router_t *r = http_router_new();
    CHECK_EQ_INT(http_router_add(r, HTTP_M_GET, "nope", h_a, NULL), ERR_INVALID);
    CHECK_EQ_INT(http_router_add(r, HTTP_M_GET, "/a/{", h_a, NULL), ERR_INVALID);
    CHECK_EQ_INT(http_router_add(r, HTTP_M_GET, "/a/{}", h_a, NULL), ERR_INVALID);
    CHECK_EQ_INT(http_router_add(r, HTTP_M_GET, "/a/x{id}", h_a, NULL), ERR_INVALID);
    CHECK_EQ_INT(http_router_add(r, HTTP_M_GET, "/a/{id}x", h_a, NULL), ERR_INVALID);
    CHECK_EQ_INT(http_router_add(r, HTTP_M_GET, "/{a}/{b}/{c}/{d}/{e}", h_a, NULL), ERR_INVALID);
    CHECK_EQ_INT(http_router_add(r, HTTP_M_OTHER, "/a", h_a, NULL), ERR_INVALID);
    CHECK_EQ_INT(http_router_add(r, HTTP_M_GET, "/{a}/{b}/{c}/{d}", h_a, NULL), 0);
    http_router_free(r);
}

TEST(router_iteration_lists_routes_in_order)
{
    http_router_t *r = make();
    CHECK_EQ_INT((int)http_router_count(r), 6);
    enum http_method m;
    const char *pat = NULL;
    CHECK_EQ_INT(http_router_route(r, 2, &m, &pat), 0);
    CHECK_TRUE(m == HTTP_M_GET);
    CHECK_STR_EQ(pat, "/posts/{id}");
    CHECK_EQ_INT(http_router_route(r, 5, &m, &pat), 0);
    CHECK_STR_EQ(pat, "/auth/login");
    CHECK_EQ_INT(http_router_route(r, 6, &m, &pat), ERR_NOT_FOUND);
    http_router_free(r);
}

TEST(router_alias_serves_the_target_path)
{
    http_router_t *r = make();
    CHECK_EQ_INT(http_router_alias(r, "/login/simpleJWT/", "/api/token/"), 0);
    CHECK_EQ_INT(http_router_alias(r, "/login/simpleJWT/", "/api/token/"), 0); /* idempotent */
    CHECK_EQ_INT(http_router_alias_count(r), 1);
    str_t p = http__router_resolve(r, STR_LIT("/login/simpleJWT/"));
    CHECK_TRUE(str_eq(p, STR_LIT("/api/token/")));
    /* exact paths only: neighbours, prefixes and the slashless form are not aliases */
    static const char *const same[] = {"/login/simpleJWT",   "/login/simpleJWT//", "/login/",
                                       "/login/simpleJWT/x", "/api/token/",        ""};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        str_t in = str_cstr(same[i]);
        str_t out = http__router_resolve(r, in);
        CHECK_TRUE(out.ptr == in.ptr && out.len == in.len);
    }
    /* after resolving, matching is the target's: handler, 405 and Allow */
    http_handler_fn fn = NULL;
    void *data = NULL;
    http_req_t req = {0};
    char allow[64];
    CHECK_EQ_INT(http_router_match(r, HTTP_M_POST, p, &fn, &data, &req, NULL, 0), 0);
    CHECK_TRUE(data == (void *)2);
    CHECK_EQ_INT(http_router_match(r, HTTP_M_GET, p, &fn, &data, &req, allow, sizeof allow),
                 ERR_METHOD);
    CHECK_STR_EQ(allow, "POST, OPTIONS");
    http_router_free(r);
}

TEST(router_alias_refusals)
{
    http_router_t *r = make();
    CHECK_EQ_INT(http_router_alias(r, "/x/", "/api/nothing/"), ERR_NOT_FOUND);
    CHECK_EQ_INT(http_router_alias(r, "/x/", "/api/token"), ERR_NOT_FOUND);
    CHECK_EQ_INT(http_router_alias(r, "/x/", "/posts/{id}"), ERR_INVALID);
    CHECK_EQ_INT(http_router_alias(r, "/x/{id}", "/api/token/"), ERR_INVALID);
    CHECK_EQ_INT(http_router_alias(r, "x/", "/api/token/"), ERR_INVALID);
    CHECK_EQ_INT(http_router_alias(r, NULL, "/api/token/"), ERR_INVALID);
    /* a path a route serves, fixed or with parameters */
    CHECK_EQ_INT(http_router_alias(r, "/healthz", "/api/token/"), ERR_CONFLICT);
    CHECK_EQ_INT(http_router_alias(r, "/posts/7", "/api/token/"), ERR_CONFLICT);
    /* one alias, one target */
    CHECK_EQ_INT(http_router_alias(r, "/x/", "/api/token/"), 0);
    CHECK_EQ_INT(http_router_alias(r, "/x/", "/auth/login"), ERR_CONFLICT);
    CHECK_EQ_INT(http_router_alias_count(r), 1);
    http_router_free(r);
}

static void refuse_a(http_req_t *req, int err)
{
    (void)req;
    (void)err;
}

TEST(router_refusal_answer_per_route)
{
    http_router_t *r = make();
    void *data = NULL;
    /* none set: the server's own answer */
    CHECK_TRUE(http__router_refusal(r, HTTP_M_POST, STR_LIT("/auth/login"), &data) == NULL);
    CHECK_EQ_INT(http_router_set_refusal(r, HTTP_M_POST, "/auth/login", refuse_a), 0);
    CHECK_EQ_INT(http_router_set_refusal(r, HTTP_M_DELETE, "/posts/{id}", refuse_a), 0);
    CHECK_TRUE(http__router_refusal(r, HTTP_M_POST, STR_LIT("/auth/login"), &data) == refuse_a);
    CHECK_TRUE(data == (void *)6);
    CHECK_TRUE(http__router_refusal(r, HTTP_M_DELETE, STR_LIT("/posts/9"), &data) == refuse_a);
    CHECK_TRUE(data == (void *)4);
    /* only the route it was set on: another method, path or a trailing slash keeps the
       server's */
    CHECK_TRUE(http__router_refusal(r, HTTP_M_GET, STR_LIT("/posts/9"), &data) == NULL);
    CHECK_TRUE(http__router_refusal(r, HTTP_M_POST, STR_LIT("/auth/login/"), &data) == NULL);
    CHECK_TRUE(http__router_refusal(r, HTTP_M_POST, STR_LIT("/api/token/"), &data) == NULL);
    /* a route that does not exist */
    CHECK_EQ_INT(http_router_set_refusal(r, HTTP_M_GET, "/auth/login", refuse_a), ERR_NOT_FOUND);
    CHECK_EQ_INT(http_router_set_refusal(r, HTTP_M_POST, "/nothing", refuse_a), ERR_NOT_FOUND);
    http_router_free(r);
}

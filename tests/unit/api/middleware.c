/*
 * Unit tests of src/api/middleware.c: links run in the order added, a link that answers
 * (or goes asynchronous) stops the chain, and api_middleware_continue resumes after the
 * given link and then routes the request to its handler.
 */
#include "api/api.h"

#include <string.h>

#include "common/err.h"
#include "http/http_internal.h"
#include "test.h"

static char g_trace[32];
static size_t g_len;

static void mark(char c)
{
    if (g_len + 1 < sizeof g_trace) {
        g_trace[g_len++] = c;
        g_trace[g_len] = '\0';
    }
}

static int link_pass(http_req_t *req, void *data, uint32_t self)
{
    (void)req;
    (void)self;
    mark(*(const char *)data);
    return ERR_DECLINED;
}

static uint32_t g_async_self = 99;

/* Pretends to go to the pool: records its index and stops the chain. */
static int link_async(http_req_t *req, void *data, uint32_t self)
{
    (void)req;
    mark(*(const char *)data);
    g_async_self = self;
    return 0;
}

static void handler(http_req_t *req)
{
    mark(*(const char *)req->route_data);
}

static void reset_trace(void)
{
    g_len = 0;
    g_trace[0] = '\0';
}

TEST(api_middleware_order_stop_and_continue)
{
    api_middleware_reset();
    http_router_t *r = http_router_new();
    ASSERT_EQ_INT(http_router_add(r, HTTP_M_GET, "/x", handler, "H"), 0);
    ASSERT_EQ_INT(api_middleware_add("a", link_pass, "a"), 0);
    ASSERT_EQ_INT(api_middleware_add("b", link_async, "b"), 0);
    ASSERT_EQ_INT(api_middleware_add("c", link_pass, "c"), 0);
    api_middleware_install(r);
    http_hook_fn before = http__router_before(r);
    ASSERT_TRUE(before != NULL);

    http_req_t req;
    memset(&req, 0, sizeof req);
    req.method = HTTP_M_GET;
    req.path = STR_LIT("/x");
    reset_trace();
    /* the async link stops the chain: the hook reports "handled" */
    CHECK_EQ_INT(before(&req), 0);
    CHECK_STR_EQ(g_trace, "ab");
    CHECK_EQ_INT(g_async_self, 1);
    /* its done callback resumes: the later links, then the route */
    api_middleware_continue(&req, g_async_self);
    CHECK_STR_EQ(g_trace, "abcH");
    CHECK_TRUE(req.route_data != NULL);

    http_router_free(r);
    api_middleware_reset();
}

TEST(api_middleware_all_pass_and_empty_chain)
{
    api_middleware_reset();
    http_router_t *r = http_router_new();
    ASSERT_EQ_INT(api_middleware_add("a", link_pass, "a"), 0);
    ASSERT_EQ_INT(api_middleware_add("c", link_pass, "c"), 0);
    api_middleware_install(r);
    http_req_t req;
    memset(&req, 0, sizeof req);
    reset_trace();
    /* every link passed: the HTTP layer routes as usual */
    CHECK_EQ_INT(http__router_before(r)(&req), ERR_DECLINED);
    CHECK_STR_EQ(g_trace, "ac");
    http_router_free(r);

    api_middleware_reset();
    r = http_router_new();
    api_middleware_install(r);
    CHECK_TRUE(http__router_before(r) == NULL); /* no links: no hook, no cost */
    http_router_free(r);
}

TEST(api_middleware_bounded)
{
    api_middleware_reset();
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++)
        rc = api_middleware_add("x", link_pass, "x");
    CHECK_EQ_INT(rc, ERR_INVALID);
    CHECK_EQ_INT(api_middleware_add("null", NULL, NULL), ERR_INVALID);
    api_middleware_reset();
}

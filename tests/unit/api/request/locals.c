/*
 * Unit tests of src/api/request/locals.c: SimpleJWT's Authorization parsing (the fast path
 * and the split agree), and the per-request state.
 */
#include <string.h>

#include "api/request/req.h"
#include "common/err.h"
#include "reqtest.h"
#include "test.h"

static int bearer_rc(const char *value, str_t *tok)
{
    http_req_t req;
    http_header_t hs[2];
    const char *kv[] = {"Authorization", value, NULL};
    make_req(&req, hs, value ? kv : (const char *[]){NULL});
    return api__bearer(&req, tok);
}

TEST(api_request_bearer_parsing)
{
    str_t t = STR_NULL;
    ASSERT_EQ_INT(bearer_rc("Bearer abc", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "abc"));
    ASSERT_EQ_INT(bearer_rc("  Bearer \t abc  ", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "abc"));
    CHECK_EQ_INT(bearer_rc(NULL, &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("bearer abc", &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("Basic abc", &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("", &t), ERR_NOT_AUTHENTICATED);
    CHECK_EQ_INT(bearer_rc("Bearer", &t), ERR_BAD_AUTH_HEADER);
    CHECK_EQ_INT(bearer_rc("Bearer a b", &t), ERR_BAD_AUTH_HEADER);
    /* the 8-bytes-at-a-time fast path agrees with the split: whitespace in any position of
       a long token, and bytes >= 0x80 or just above ' ' that are not whitespace */
    const char *ws = " \t\r\n\v\f";
    for (size_t pos = 0; pos < 19; pos++) {
        for (const char *w = ws; *w; w++) {
            char v[64];
            snprintf(v, sizeof v, "Bearer %.*s%cabcdefghijklmnopq", (int)pos, "0123456789abcdefghi",
                     *w);
            CHECK_EQ_INT(bearer_rc(v, &t), pos == 0 ? 0 : ERR_BAD_AUTH_HEADER);
        }
    }
    ASSERT_EQ_INT(bearer_rc("Bearer eyJ.\x80\xff!~-_.0123456789", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "eyJ.\x80\xff!~-_.0123456789"));
    ASSERT_EQ_INT(bearer_rc("Bearer abcdefgh ", &t), 0);
    CHECK_TRUE(str_eq_cstr(t, "abcdefgh"));
}

static void h_locals(http_req_t *req)
{
    api_locals_t *a = api__locals(req);
    api_locals_t *b = api__locals(req);
    char body[64];
    snprintf(body, sizeof body, "%s %d", a == b && !a->caller_done ? "same" : "differ",
             a->bearer_rc);
    http_respond(req, 200, "text/plain", str_cstr(http_req_strndup(req, str_cstr(body))));
}

TEST(api_request_locals_are_per_request)
{
    char *res =
        reqtest_run(HTTP_M_GET, "/t", h_locals, NULL, NULL, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_TRUE(strstr(res, "\r\n\r\nsame 0") != NULL);
    free(res);
}

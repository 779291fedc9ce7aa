/*
 * json_scan.c - tests for the strict zero-allocation JSON tokenizer
 * (src/common/json_scan.c): structure and `next` links, RFC 8259 strictness, duplicate
 * members after unescaping, depth and token limits, unescaping and integers.
 */
#include "common/json_scan.h"

#include "test.h"

static int scan(const char *s, json_tok_t *t, size_t max, unsigned depth, size_t *n)
{
    return json_scan(s, strlen(s), t, max, depth, n);
}

TEST(json_scan_structure)
{
    const char *s = " {\"a\": [1, {\"b\": null}], \"c\": \"x\\n\", \"d\": true} ";
    json_tok_t t[32];
    size_t n;
    ASSERT_EQ_INT(scan(s, t, 32, 8, &n), 0);
    ASSERT_EQ_INT(t[0].type, JSON_T_OBJECT);
    ASSERT_EQ_INT(t[0].size, 3);
    ASSERT_EQ_INT(t[0].next, n);
    long a = json_obj_get(s, t, 0, "a"), c = json_obj_get(s, t, 0, "c"),
         d = json_obj_get(s, t, 0, "d");
    ASSERT_TRUE(a > 0 && c > 0 && d > 0);
    ASSERT_EQ_INT(t[a].type, JSON_T_ARRAY);
    ASSERT_EQ_INT(t[a].size, 2);
    ASSERT_EQ_INT(t[d].type, JSON_T_TRUE);
    char out[8];
    size_t len = json_str_unescape(s, &t[c], out, sizeof out);
    ASSERT_EQ_INT(len, 2);
    ASSERT_MEM_EQ(out, "x\n", 2);
    ASSERT_EQ_INT(json_obj_get(s, t, 0, "b"), -1); /* nested members are not top-level */
}

TEST(json_scan_rejects_invalid)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"a\":1,}",
        "[1,]",
        "{\"a\" 1}",
        "{a:1}",
        "'x'",
        "01",
        "1.",
        ".5",
        "1e",
        "-",
        "+1",
        "tru",
        "nul",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"a\tb\"",
        "{} {}",
        "\"\xc3\x28\"",
        "\"\xed\xa0\x80\"",
        "\"\xc0\xaf\"",
        "\xef\xbb\xbf{}",
        "\"\xf4\x90\x80\x80\"",
        "NaN",
        "[1 2]",
        "{\"a\":1 \"b\":2}",
        "\"abc",
    };
    json_tok_t t[32];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!CHECK_EQ_INT(scan(bad[i], t, 32, 8, &n), JSON_E_SYNTAX))
            fprintf(stderr, "    input %zu: %s\n", i, bad[i]);
}

TEST(json_scan_accepts_valid)
{
    static const char *const good[] = {
        "0",
        "-0",
        "1.5e-3",
        "1E+9",
        "\"\"",
        "[]",
        "{}",
        "\"\\u00e9\\ud83d\\ude00\"",
        "\"\xc3\xa9\xf0\x9f\x98\x80\"",
        " [ true , false , null ] ",
        "{\"\":1}",
    };
    json_tok_t t[32];
    size_t n;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!CHECK_EQ_INT(scan(good[i], t, 32, 8, &n), 0))
            fprintf(stderr, "    input %zu: %s\n", i, good[i]);
}

TEST(json_scan_duplicates)
{
    json_tok_t t[32];
    size_t n;
    ASSERT_EQ_INT(scan("{\"a\":1,\"a\":2}", t, 32, 8, &n), JSON_E_DUPKEY);
    ASSERT_EQ_INT(scan("{\"a\":1,\"\\u0061\":2}", t, 32, 8, &n), JSON_E_DUPKEY);
    ASSERT_EQ_INT(scan("{\"x\":{\"b\":1,\"b\":2}}", t, 32, 8, &n), JSON_E_DUPKEY);
    ASSERT_EQ_INT(scan("{\"a\":{\"a\":1},\"b\":{\"a\":1}}", t, 32, 8, &n), 0);
    ASSERT_EQ_INT(scan("{\"ab\":1,\"a\":2,\"\\u00e9\":3,\"\xc3\xa9x\":4}", t, 32, 8, &n), 0);
    ASSERT_EQ_INT(scan("{\"\\u00e9\":1,\"\xc3\xa9\":2}", t, 32, 8, &n), JSON_E_DUPKEY);
}

TEST(json_scan_limits)
{
    json_tok_t t[8];
    size_t n;
    ASSERT_EQ_INT(scan("[[[1]]]", t, 8, 3, &n), 0);
    ASSERT_EQ_INT(scan("[[[[1]]]]", t, 8, 3, &n), JSON_E_DEPTH);
    ASSERT_EQ_INT(scan("[1,2,3,4,5,6,7]", t, 8, 3, &n), 0);
    ASSERT_EQ_INT(scan("[1,2,3,4,5,6,7,8]", t, 8, 3, &n), JSON_E_TOOMANY);
}

TEST(json_scan_int64)
{
    const char *s = "[0,-1,9223372036854775807,-9223372036854775808,9223372036854775808,1.0,1e3]";
    json_tok_t t[16];
    size_t n;
    int64_t v;
    ASSERT_EQ_INT(scan(s, t, 16, 4, &n), 0);
    ASSERT_EQ_INT(json_tok_int64(s, &t[1], &v), 0);
    ASSERT_EQ_INT(v, 0);
    ASSERT_EQ_INT(json_tok_int64(s, &t[2], &v), 0);
    ASSERT_EQ_INT(v, -1);
    ASSERT_EQ_INT(json_tok_int64(s, &t[3], &v), 0);
    ASSERT_TRUE(v == INT64_MAX);
    ASSERT_EQ_INT(json_tok_int64(s, &t[4], &v), 0);
    ASSERT_TRUE(v == INT64_MIN);
    ASSERT_EQ_INT(json_tok_int64(s, &t[5], &v), -1);
    ASSERT_EQ_INT(json_tok_int64(s, &t[6], &v), -1);
    ASSERT_EQ_INT(json_tok_int64(s, &t[7], &v), -1);
}

TEST(json_scan_unescape)
{
    const char *s = "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\ud83d\\ude00\\u0000\"";
    json_tok_t t[2];
    size_t n;
    char out[64];
    ASSERT_EQ_INT(scan(s, t, 2, 1, &n), 0);
    size_t len = json_str_unescape(s, &t[0], out, sizeof out);
    const char want[] = "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xf0\x9f\x98\x80";
    ASSERT_EQ_INT(len, sizeof want); /* includes the decoded \u0000 */
    ASSERT_MEM_EQ(out, want, sizeof want);
    ASSERT_EQ_INT(json_str_unescape(s, &t[0], out, 4), (size_t)-1);
    ASSERT_TRUE(json_str_eq(s, &t[0], want, sizeof want));
    ASSERT_TRUE(!json_str_eq(s, &t[0], want, sizeof want - 1));
}

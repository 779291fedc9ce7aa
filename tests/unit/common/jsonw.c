/* Unit tests for src/common/jsonw.c: the escaper and both sinks. */
#include "test.h"

#include <string.h>

#include "common/jsonw.h"

TEST(jsonw_escapes_quotes_backslashes_and_controls)
{
    buf_t b;
    buf_init(&b, 1024);
    const char in[] = "a\"b\\c\n\t\r\b\f\x01\x1f\x7f\xc3\xa9";
    ASSERT_EQ_INT(jsonw_buf_str(&b, in, sizeof in - 1), 0);
    CHECK_STR_EQ(b.data, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\xc3\xa9\"");
    buf_reset(&b);
    ASSERT_EQ_INT(jsonw_buf_str(&b, "x\0y", 3), 0); /* NUL is a control character too */
    CHECK_STR_EQ(b.data, "\"x\\u0000y\"");
    buf_reset(&b);
    ASSERT_EQ_INT(jsonw_buf_cstr(&b, NULL), 0);
    CHECK_STR_EQ(b.data, "\"\"");
    buf_dispose(&b);
}

TEST(jsonw_fixed_writer_fails_instead_of_overflowing)
{
    char out[16];
    jsonw_t w;
    jsonw_init(&w, out, sizeof out);
    jsonw_raw(&w, "{\"n\":");
    jsonw_int(&w, -42);
    jsonw_raw(&w, "}");
    CHECK_TRUE(!jsonw_failed(&w));
    CHECK_EQ_INT(jsonw_len(&w), 9);
    CHECK_MEM_EQ(out, "{\"n\":-42}", 9);
    jsonw_init(&w, out, sizeof out);
    jsonw_str(&w, "0123456789abcdef"); /* 18 bytes with its quotes */
    CHECK_TRUE(jsonw_failed(&w));
    CHECK_TRUE(jsonw_len(&w) <= sizeof out);
    jsonw_raw(&w, "x"); /* ignored once failed */
    CHECK_TRUE(jsonw_failed(&w));
}

TEST(jsonw_fixed_writer_escapes_strings)
{
    /* the fixed writer escapes as jsonw_buf_str does */
    char buf[64];
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    jsonw_raw(&w, "[");
    jsonw_str(&w, "a\"b\\c\n\x01\xc3\xa9");
    jsonw_raw(&w, ",");
    jsonw_int(&w, -42);
    jsonw_raw(&w, "]");
    ASSERT_TRUE(!jsonw_failed(&w));
    const char *want = "[\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\",-42]";
    CHECK_EQ_INT(jsonw_len(&w), strlen(want));
    CHECK_MEM_EQ(buf, want, strlen(want));
}

TEST(jsonw_member_writes_name_and_escaped_value)
{
    char out[64];
    jsonw_t w;
    jsonw_init(&w, out, sizeof out);
    jsonw_raw(&w, "{\"id\":1");
    jsonw_member(&w, "name", "a\"b");
    jsonw_member(&w, "empty", NULL);
    jsonw_raw(&w, "}");
    ASSERT_TRUE(!jsonw_failed(&w));
    CHECK_MEM_EQ(out, "{\"id\":1,\"name\":\"a\\\"b\",\"empty\":\"\"}", jsonw_len(&w));
    CHECK_EQ_INT(jsonw_len(&w), strlen("{\"id\":1,\"name\":\"a\\\"b\",\"empty\":\"\"}"));
}

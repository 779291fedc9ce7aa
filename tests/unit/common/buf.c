/* Unit tests for src/common/buf.c. */
#include "common/buf.h"
#include "common/err.h"
#include "test.h"

TEST(buf_append_grows_and_terminates)
{
    buf_t b;
    buf_init(&b, 1000);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ_INT(buf_append_cstr(&b, "abcde"), 0);
    ASSERT_EQ_INT(b.len, 500);
    ASSERT_EQ_INT(b.data[500], '\0');
    ASSERT_MEM_EQ(b.data + 495, "abcde", 5);
    buf_dispose(&b);
}

TEST(buf_append_refuses_past_max_and_keeps_contents)
{
    buf_t b;
    buf_init(&b, 8);
    ASSERT_EQ_INT(buf_append_cstr(&b, "12345"), 0);
    ASSERT_EQ_INT(buf_append_cstr(&b, "6789"), ERR_TOO_LARGE);
    ASSERT_EQ_INT(b.len, 5);
    ASSERT_STR_EQ(b.data, "12345");
    ASSERT_EQ_INT(buf_append_cstr(&b, "678"), 0);
    ASSERT_EQ_INT(b.len, 8);
    buf_dispose(&b);
}

TEST(buf_printf_long_and_consume)
{
    buf_t b;
    buf_init(&b, 4096);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ_INT(buf_printf(&b, "%s-%d", big, 42), 0);
    ASSERT_EQ_INT(b.len, 599 + 3);
    buf_consume(&b, 599);
    ASSERT_STR_EQ(b.data, "-42");
    buf_dispose(&b);
}

/* Unit tests for src/common/text.c. */
#include "test.h"

#include "common/text.h"

#define S(lit) str_make(lit, sizeof(lit) - 1)

TEST(text_utf8_valid_accepts_and_refuses)
{
    CHECK_TRUE(text_utf8_valid(S("")));
    CHECK_TRUE(text_utf8_valid(S("plain ascii")));
    CHECK_TRUE(text_utf8_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
    CHECK_TRUE(!text_utf8_valid(S("\xc3")));             /* truncated */
    CHECK_TRUE(!text_utf8_valid(S("\xc0\xaf")));         /* overlong '/' */
    CHECK_TRUE(!text_utf8_valid(S("\xed\xa0\x80")));     /* surrogate */
    CHECK_TRUE(!text_utf8_valid(S("\xf4\x90\x80\x80"))); /* above U+10FFFF */
    CHECK_TRUE(!text_utf8_valid(S("\xff")));
    CHECK_TRUE(!text_utf8_valid(S("a\x80")));
}

TEST(text_utf8_chars_counts_code_points)
{
    CHECK_EQ_INT(text_utf8_chars(S("")), 0);
    CHECK_EQ_INT(text_utf8_chars(S("abc")), 3);
    CHECK_EQ_INT(text_utf8_chars(S("caf\xc3\xa9")), 4);
    CHECK_EQ_INT(text_utf8_chars(S("\xf0\x9f\x98\x80!")), 2);
}

TEST(text_edit_distance_case_insensitive_and_bounded)
{
    CHECK_EQ_INT(text_edit_distance(S("serve"), S("serve")), 0);
    CHECK_EQ_INT(text_edit_distance(S("serv"), S("serve")), 1);
    CHECK_EQ_INT(text_edit_distance(S("LISTEN"), S("listne")), 2);
    CHECK_EQ_INT(text_edit_distance(S(""), S("abc")), 3);
    char long_word[TEXT_EDIT_MAX + 2];
    memset(long_word, 'a', sizeof long_word);
    CHECK_EQ_INT(text_edit_distance(str_make(long_word, sizeof long_word), S("a")),
                 TEXT_EDIT_MAX + 1);
}

TEST(text_put_u64_writes_decimal)
{
    char out[24];
    CHECK_EQ_INT((int)text_put_u64(out, 0), 1);
    CHECK_TRUE(memcmp(out, "0", 1) == 0);
    CHECK_EQ_INT((int)text_put_u64(out, 40213), 5);
    CHECK_TRUE(memcmp(out, "40213", 5) == 0);
    CHECK_EQ_INT((int)text_put_u64(out, UINT64_MAX), 20);
    CHECK_TRUE(memcmp(out, "18446744073709551615", 20) == 0);
}

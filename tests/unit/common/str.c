/*
 * Unit tests for src/common/str.h: trimming, copying a slice into a C string, and the one
 * decimal reader (digits only, bounded, never overflowing).
 */
#include "test.h"

#include <stdint.h>

#include "common/str.h"

TEST(str_trim_spaces_and_tabs)
{
    str_t s = str_trim(STR_LIT(" \t a b\t "));
    CHECK_TRUE(str_eq_cstr(s, "a b"));
    CHECK_EQ_INT(str_trim(STR_LIT("  ")).len, 0);
}

TEST(str_copy_cstr_fits_or_refuses)
{
    char out[4] = "zzz";
    CHECK_TRUE(str_copy_cstr(STR_LIT("abc"), out, sizeof out));
    CHECK_STR_EQ(out, "abc");
    CHECK_TRUE(!str_copy_cstr(STR_LIT("abcd"), out, sizeof out)); /* no room for the NUL */
    CHECK_STR_EQ(out, "abc");                                     /* untouched */
    CHECK_TRUE(str_copy_cstr(STR_LIT(""), out, sizeof out));
    CHECK_STR_EQ(out, "");
}

TEST(str_to_u64_digits_within_bound)
{
    uint64_t v = 7;
    CHECK_TRUE(str_to_u64(STR_LIT("0"), 10, &v) && v == 0);
    CHECK_TRUE(str_to_u64(STR_LIT("0042"), 100, &v) && v == 42);
    CHECK_TRUE(str_to_u64(STR_LIT("65535"), 65535, &v) && v == 65535);
    CHECK_TRUE(!str_to_u64(STR_LIT("65536"), 65535, &v));
    CHECK_TRUE(str_to_u64(STR_LIT("18446744073709551615"), UINT64_MAX, &v) && v == UINT64_MAX);
    CHECK_TRUE(!str_to_u64(STR_LIT("18446744073709551616"), UINT64_MAX, &v)); /* overflow */
    CHECK_TRUE(!str_to_u64(STR_LIT("99999999999999999999999"), UINT64_MAX, &v));
    CHECK_TRUE(str_to_u64(STR_LIT("9223372036854775807"), INT64_MAX, &v) && v == INT64_MAX);
    CHECK_TRUE(!str_to_u64(STR_LIT("9223372036854775808"), INT64_MAX, &v));
    CHECK_TRUE(!str_to_u64(STR_LIT("5"), 4, &v));
    CHECK_TRUE(!str_to_u64(STR_LIT("1"), 0, &v));
    v = 7;
    CHECK_TRUE(!str_to_u64(STR_LIT(""), 10, &v));
    CHECK_TRUE(!str_to_u64(STR_LIT("-1"), 10, &v));
    CHECK_TRUE(!str_to_u64(STR_LIT("+1"), 10, &v));
    CHECK_TRUE(!str_to_u64(STR_LIT(" 1"), 10, &v));
    CHECK_TRUE(!str_to_u64(STR_LIT("1 "), 10, &v));
    CHECK_TRUE(!str_to_u64(STR_LIT("1a"), 10, &v));
    CHECK_TRUE(!str_to_u64(str_make("1\0", 2), 10, &v));
    CHECK_EQ_INT(v, 7); /* untouched on refusal */
}

/* Unit tests for src/http/body.c: percent-decoding, query/form iteration, form -> JSON,
 * JSON depth check. */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>

#include "common/err.h"
#include "http/http.h"

static const char *dec(const char *in, bool plus, char *out)
{
    long n = http_pct_decode(str_cstr(in), out, plus);
    if (n < 0)
        return "(error)";
    out[n] = '\0';
    return out;
}

TEST(http_pct_decode_cases)
{
    char out[64];
    CHECK_STR_EQ(dec("a%20b", false, out), "a b");
    CHECK_STR_EQ(dec("a+b", true, out), "a b");
    CHECK_STR_EQ(dec("a+b", false, out), "a+b");
    CHECK_STR_EQ(dec("%2B%2b%41", true, out), "++A");
    CHECK_STR_EQ(dec("", true, out), "");
    CHECK_STR_EQ(dec("%", true, out), "(error)");
    CHECK_STR_EQ(dec("%4", true, out), "(error)");
    CHECK_STR_EQ(dec("abc%g0", true, out), "(error)");
    CHECK_STR_EQ(dec("%e2%82%ac", true, out), "\xe2\x82\xac");
}

TEST(http_form_next_pairs)
{
    str_t cur = STR_LIT("a=1&&b=&c&=d&e=x=y"), k, v;
    const char *want[][2] = {{"a", "1"}, {"b", ""}, {"c", ""}, {"", "d"}, {"e", "x=y"}};
    size_t i = 0;
    while (http_form_next(&cur, &k, &v)) {
        ASSERT_TRUE(i < 5);
        CHECK_TRUE(str_eq_cstr(k, want[i][0]));
        CHECK_TRUE(str_eq_cstr(v, want[i][1]));
        i++;
    }
    CHECK_EQ_INT(i, 5);
    str_t empty = STR_LIT("");
    CHECK_TRUE(!http_form_next(&empty, &k, &v));
}

TEST(http_form_to_json_decodes_and_last_wins)
{
    json_t *o = NULL;
    ASSERT_EQ_INT(http_form_to_json(STR_LIT("username=a+b&password=p%26%3D%2B&username=c"), &o), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(o, "username")), "c");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "password")), "p&=+");
    json_decref(o);
    CHECK_EQ_INT(http_form_to_json(STR_LIT("a=%zz"), &o), ERR_INVALID);
    CHECK_EQ_INT(http_form_to_json(STR_LIT("a=%ff"), &o), ERR_INVALID); /* not UTF-8 */
    CHECK_EQ_INT(http_form_to_json(STR_LIT("a%00=1"), &o), ERR_INVALID);
}

TEST(http_json_check_depth_counts_outside_strings)
{
    CHECK_EQ_INT(http_json_check_depth(STR_LIT("[[[]]]"), 3), 0);
    CHECK_EQ_INT(http_json_check_depth(STR_LIT("[[[[]]]]"), 3), ERR_INVALID);
    CHECK_EQ_INT(http_json_check_depth(STR_LIT("{\"a\":{\"b\":[1]}}"), 3), 0);
    CHECK_EQ_INT(http_json_check_depth(STR_LIT("[\"[[[[[[\"]"), 1), 0);
    CHECK_EQ_INT(http_json_check_depth(STR_LIT("[\"\\\"[[[[[\"]"), 1), 0);
    CHECK_EQ_INT(http_json_check_depth(STR_LIT("]]]][[["), 3), 0);
    CHECK_EQ_INT(http_json_check_depth(STR_LIT("]]]][[[["), 3), ERR_INVALID);
}

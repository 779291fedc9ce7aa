/*
 * alg.c - tests for jose's algorithm table (src/jose/alg.c): rows by index, name and
 * JWTV_ALG_* bit agree, `none` is never a row, and a claims view names its row.
 */
#include <string.h>

#include "jose/jose.h"
#include "josetest.h"
#include "test.h"

TEST(jose_alg_table_indexes)
{
    unsigned all = 0;
    for (size_t i = 0; i < JOSE_ALG_COUNT; i++) {
        const jose_alg_t *a = jose_alg_at(i);
        ASSERT_TRUE(a != NULL);
        ASSERT_EQ_INT(jose_alg_index(a), i);
        ASSERT_EQ_INT(a->bit, 1u << i); /* rows in JWTV_ALG_* bit order */
        ASSERT_TRUE(jose_alg_by_name(str_cstr(a->name)) == a);
        ASSERT_TRUE(jose_alg_by_bit(a->bit) == a);
        all |= a->bit;
    }
    ASSERT_EQ_INT(all, JWTV_ALG_ALL);
    ASSERT_TRUE(jose_alg_at(JOSE_ALG_COUNT) == NULL);
    ASSERT_TRUE(jose_alg_by_name(STR_LIT("none")) == NULL);
    ASSERT_TRUE(jose_alg_by_name(STR_LIT("es256")) == NULL);
    ASSERT_TRUE(jose_alg_by_name(STR_LIT("ES2566")) == NULL);
    ASSERT_TRUE(jose_alg_is_none(STR_LIT("nOnE")));
}

TEST(jose_alg_of_claims_view)
{
    static jwtv_claims c;
    memset(&c, 0, sizeof c);
    ASSERT_TRUE(jose_claims_alg(&c) == NULL);
    c.alg = "EdDSA";
    ASSERT_TRUE(jose_claims_alg(&c) == josetest_alg("EdDSA"));
    c.alg = "none";
    ASSERT_TRUE(jose_claims_alg(&c) == NULL);
}

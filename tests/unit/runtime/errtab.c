/* Unit tests for src/runtime/errtab.c. */
#include "runtime/errtab.h"
#include "test.h"

TEST(err_table_maps_codes_and_statuses)
{
    ASSERT_STR_EQ(err_name(ERR_TOKEN_INVALID), "token_not_valid");
    ASSERT_EQ_INT(err_http_status(ERR_TOKEN_INVALID), 401);
    ASSERT_EQ_INT(err_http_status(ERR_TOO_LARGE), 413);
    ASSERT_EQ_INT(err_http_status(ERR_UNAVAILABLE), 503);
    ASSERT_STR_EQ(err_name(0), "ok");
    ASSERT_STR_EQ(err_name(12345), "unknown");
    ASSERT_EQ_INT(err_http_status(-999999), 500);
    ASSERT_STR_EQ(err_message(ERR_NOT_FOUND), "Not found.");
    ASSERT_EQ_INT(err_http_status(0), 200);
}

/*
 * Unit tests for the resource wing's cache keys (posts_data.c, order_cache.c): one key per
 * page and page size, one per user and token, never shared between families, the jti cut
 * to its bound, and the orders stored in the group auth drops on the user's refresh.
 */
#include "test.h"

#include <string.h>

#include "auth/auth.h"
#include "resource/resource_internal.h"

TEST(resource_posts_page_keys_differ_by_page_and_size)
{
    char a[64], b[64], c[64];
    resource__posts_page_key(1, 20, a);
    resource__posts_page_key(2, 20, b);
    resource__posts_page_key(1, 2, c);
    CHECK_STR_EQ(a, "posts:1:20");
    CHECK_TRUE(strcmp(a, b) != 0 && strcmp(a, c) != 0 && strcmp(b, c) != 0);
    /* "1:20" and "12:0" must not meet: the separator keeps the two numbers apart. */
    resource__posts_page_key(12, 0, b);
    CHECK_TRUE(strcmp(a, b) != 0);
    resource__posts_page_key(UINT32_MAX, UINT32_MAX, a);
    CHECK_STR_EQ(a, "posts:4294967295:4294967295");
}

TEST(resource_orders_keys_per_user_and_token)
{
    char a[RESOURCE_ORDERS_KEY_MAX], b[RESOURCE_ORDERS_KEY_MAX];
    const char *jti = "0123456789abcdef0123456789abcdef";
    resource__orders_key(7, jti, a);
    CHECK_STR_EQ(a, "orders:7:0123456789abcdef0123456789abcdef");
    resource__orders_key(8, jti, b);
    CHECK_TRUE(strcmp(a, b) != 0);
    resource__orders_key(7, "ffffffffffffffffffffffffffffffff", b);
    CHECK_TRUE(strcmp(a, b) != 0);
    CHECK_TRUE(strncmp(a, "posts:", 6) != 0);

    /* A jti past 64 bytes is cut there; the largest key still fits. */
    char longjti[200];
    memset(longjti, 'a', sizeof longjti - 1);
    longjti[sizeof longjti - 1] = '\0';
    resource__orders_key(INT64_MIN, longjti, a);
    CHECK_EQ_INT(strlen(a), strlen("orders:-9223372036854775808:") + 64);
}

TEST(resource_orders_group_is_the_one_auth_drops)
{
    char group[AUTH_CACHE_GROUP_NAME_MAX];
    auth_cache_group_name("orders:user:", 42, group);
    CHECK_STR_EQ(group, "orders:user:42");
    /* The longest prefix auth accepts (23 bytes) with the widest id still fits. */
    auth_cache_group_name("abcdefghijklmnopqrstuvw", INT64_MIN, group);
    CHECK_STR_EQ(group, "abcdefghijklmnopqrstuvw-9223372036854775808");
}

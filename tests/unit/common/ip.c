/* Unit tests for src/common/ip.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "common/err.h"
#include "common/ip.h"
#include "test.h"

#define S(lit) str_cstr(lit)

/* The 16-byte form of a textual v4 or v6 address. */
static void addr16(const char *text, ip_addr_t *out)
{
    struct in_addr a4;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, &a4) == 1) {
        out->b[10] = out->b[11] = 0xff;
        memcpy(out->b + 12, &a4, 4);
    } else if (inet_pton(AF_INET6, text, out->b) != 1) {
        test__fail(__FILE__, __LINE__, "bad test address %s", text);
    }
}

static bool list_has(const char *list, const char *addr)
{
    ip_net_list_t l;
    ip_addr_t a;
    if (ip_net_list_parse(S(list), &l, NULL) != 0) {
        test__fail(__FILE__, __LINE__, "list did not parse: %s", list);
        return false;
    }
    addr16(addr, &a);
    bool r = ip_net_list_contains(&l, &a);
    ip_net_list_dispose(&l);
    return r;
}

TEST(ip_cidr_parse_forms)
{
    ip_net_t c;
    ASSERT_EQ_INT(ip_net_parse(S("10.0.0.0/8"), &c), 0);
    CHECK_EQ_INT(c.prefix_len, 104);
    CHECK_EQ_INT(c.addr.b[10], 0xff);
    CHECK_EQ_INT(c.addr.b[12], 10);
    ASSERT_EQ_INT(ip_net_parse(S("127.0.0.1"), &c), 0);
    CHECK_EQ_INT(c.prefix_len, 128);
    ASSERT_EQ_INT(ip_net_parse(S("::1"), &c), 0);
    CHECK_EQ_INT(c.prefix_len, 128);
    CHECK_EQ_INT(c.addr.b[15], 1);
    ASSERT_EQ_INT(ip_net_parse(S("10.1.2.3/8"), &c), 0); /* host bits cleared */
    CHECK_EQ_INT(c.addr.b[13], 0);
    CHECK_EQ_INT(c.addr.b[15], 0);
    ASSERT_EQ_INT(ip_net_parse(S("0.0.0.0/0"), &c), 0);
    CHECK_EQ_INT(c.prefix_len, 96);
    static const char *const bad[] = {"",           "10.0.0.0/33", "::1/129",      "10.0.0/8",
                                      "10.0.0.0/",  "10.0.0.0/-1", "fe80::1%eth0", "host.example",
                                      "1.2.3.4/08", "1.2.3.4/8/8", "::1/12a",      "/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!CHECK_EQ_INT(ip_net_parse(S(bad[i]), &c), ERR_INVALID))
            fprintf(stderr, "    input \"%s\"\n", bad[i]);
}

TEST(ip_cidr_list_contains_v4_v6_mapped)
{
    /* v4 */
    CHECK_TRUE(list_has("10.0.0.0/8", "10.255.1.2"));
    CHECK_TRUE(!list_has("10.0.0.0/8", "11.0.0.1"));
    CHECK_TRUE(list_has("192.168.1.0/25", "192.168.1.127"));
    CHECK_TRUE(!list_has("192.168.1.0/25", "192.168.1.128"));
    /* /32 and bare addresses */
    CHECK_TRUE(list_has("127.0.0.1/32", "127.0.0.1"));
    CHECK_TRUE(!list_has("127.0.0.1", "127.0.0.2"));
    /* v4 /0 matches every IPv4 address, but no native IPv6 one */
    CHECK_TRUE(list_has("0.0.0.0/0", "8.8.8.8"));
    CHECK_TRUE(!list_has("0.0.0.0/0", "2001:db8::1"));
    /* v6 */
    CHECK_TRUE(list_has("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK_TRUE(!list_has("2001:db8::/32", "2001:db9::1"));
    CHECK_TRUE(list_has("::1/128", "::1"));
    CHECK_TRUE(list_has("::1", "::1"));
    CHECK_TRUE(!list_has("::1/128", "::2"));
    CHECK_TRUE(list_has("::/0", "2001:db8::1"));
    CHECK_TRUE(list_has("::/0", "10.0.0.1")); /* ::/0 includes v4-mapped space */
    /* v4-mapped spellings meet plain v4 */
    CHECK_TRUE(list_has("10.0.0.0/8", "::ffff:10.1.1.1"));
    CHECK_TRUE(list_has("::ffff:10.0.0.0/104", "10.9.9.9"));
    CHECK_TRUE(!list_has("::ffff:10.0.0.0/104", "11.0.0.1"));
    /* lists */
    CHECK_TRUE(list_has("10.0.0.0/8, ::1/128, 127.0.0.1", "127.0.0.1"));
    CHECK_TRUE(list_has("10.0.0.0/8, ::1/128, 127.0.0.1", "::1"));
    CHECK_TRUE(!list_has("10.0.0.0/8, ::1/128, 127.0.0.1", "172.16.0.1"));
    CHECK_TRUE(!list_has("", "127.0.0.1"));
}

TEST(ip_cidr_list_reports_bad_item)
{
    ip_net_list_t l;
    str_t bad = STR_NULL;
    ASSERT_EQ_INT(ip_net_list_parse(S("10.0.0.0/8, nope ,::1"), &l, &bad), ERR_INVALID);
    CHECK_TRUE(str_eq_cstr(bad, "nope"));
    ASSERT_EQ_INT(ip_net_list_parse(S(" , ,"), &l, &bad), 0);
    CHECK_EQ_INT(l.count, 0);
    ip_net_list_dispose(&l);
}

TEST(ip_addr_from_sockaddr_forms)
{
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    ip_addr_t a, want;
    memset(&in4, 0, sizeof in4);
    in4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", &in4.sin_addr);
    ASSERT_EQ_INT(ip_from_sockaddr((struct sockaddr *)&in4, &a), 0);
    addr16("192.0.2.7", &want);
    CHECK_MEM_EQ(a.b, want.b, 16);
    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::7", &in6.sin6_addr);
    ASSERT_EQ_INT(ip_from_sockaddr((struct sockaddr *)&in6, &a), 0);
    addr16("2001:db8::7", &want);
    CHECK_MEM_EQ(a.b, want.b, 16);
    struct sockaddr other = {.sa_family = AF_UNIX};
    CHECK_EQ_INT(ip_from_sockaddr(&other, &a), ERR_INVALID);
}

TEST(ip_parse_forwarded_forms)
{
    ip_addr_t a, want;
    char text[IP_TEXT_MAX];
    ASSERT_EQ_INT(ip_parse(S(" 192.0.2.1 "), &a), 0);
    addr16("192.0.2.1", &want);
    CHECK_MEM_EQ(a.b, want.b, 16);
    CHECK_TRUE(ip_is_v4(&a));
    CHECK_EQ_INT(ip_format(&a, text), 9);
    CHECK_STR_EQ(text, "192.0.2.1");
    ASSERT_EQ_INT(ip_parse(S("192.0.2.1:8443"), &a), 0);
    CHECK_MEM_EQ(a.b, want.b, 16);
    ASSERT_EQ_INT(ip_parse(S("[2001:db8::1]:443"), &a), 0);
    addr16("2001:db8::1", &want);
    CHECK_MEM_EQ(a.b, want.b, 16);
    CHECK_TRUE(!ip_is_v4(&a));
    ip_format(&a, text);
    CHECK_STR_EQ(text, "2001:db8::1");
    ASSERT_EQ_INT(ip_parse(S("[::1]"), &a), 0);
    ASSERT_EQ_INT(ip_parse(S("2001:db8::2"), &a), 0);
    static const char *const bad[] = {
        "", "unknown", "[::1", "[::1]x", "1.2.3.4:80:90", "300.1.1.1", "1.2.3", "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!CHECK_EQ_INT(ip_parse(S(bad[i]), &a), ERR_INVALID))
            fprintf(stderr, "    input \"%s\"\n", bad[i]);
}

TEST(ip_mask_and_net_format)
{
    ip_addr_t a, m;
    char text[IP_TEXT_MAX + 8];
    addr16("10.20.30.40", &a);
    ip_mask(&a, 96 + 16, &m);
    ip_format(&m, text);
    CHECK_STR_EQ(text, "10.20.0.0");
    addr16("2001:db8:1:2::9", &a);
    ip_mask(&a, 48, &m);
    ip_format(&m, text);
    CHECK_STR_EQ(text, "2001:db8:1::");
    ip_net_t n;
    ASSERT_EQ_INT(ip_net_parse(S("10.1.2.3/8"), &n), 0);
    ip_net_format(&n, text, sizeof text);
    CHECK_STR_EQ(text, "10.0.0.0/8");
    ASSERT_EQ_INT(ip_net_parse(S("2001:db8::/32"), &n), 0);
    ip_net_format(&n, text, sizeof text);
    CHECK_STR_EQ(text, "2001:db8::/32");
}

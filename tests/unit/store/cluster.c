/*
 * Unit tests for src/store/cluster.c: CRC16 and key slots against the Redis Cluster
 * specification's vectors (hash tags included), the MOVED / ASK error parser, and the
 * redis-cluster:// URLs refused before any connection.
 */
#include "test.h"

#include <string.h>

#include "common/err.h"
#include "store/cluster.h"
#include "store/store.h"

#define SLOT(s) store__key_slot(s, strlen(s))

TEST(cluster_crc16_spec_vector)
{
    CHECK_EQ_INT(store__crc16("123456789", 9), 0x31C3);
    CHECK_EQ_INT(store__crc16("", 0), 0);
}

TEST(cluster_key_slot_plain_keys)
{
    /* CLUSTER KEYSLOT of a Redis 7 server */
    CHECK_EQ_INT(SLOT("foo"), 12182);
    CHECK_EQ_INT(SLOT("bar"), 5061);
    CHECK_EQ_INT(SLOT("123456789"), 0x31C3 & 16383);
}

TEST(cluster_key_slot_hash_tags)
{
    /* the specification's examples */
    CHECK_EQ_INT(SLOT("{user1000}.following"), SLOT("user1000"));
    CHECK_EQ_INT(SLOT("{user1000}.followers"), SLOT("user1000"));
    /* an empty first tag: the whole key */
    CHECK_EQ_INT(store__key_slot("foo{}{bar}", 10), store__crc16("foo{}{bar}", 10) & 16383);
    CHECK_EQ_INT(SLOT("foo{{bar}}zap"), SLOT("{bar"));
    CHECK_EQ_INT(SLOT("foo{bar}{zap}"), SLOT("bar"));
    CHECK_EQ_INT(SLOT("no{close"), store__crc16("no{close", 8) & 16383);
    /* jwtd's cluster keys: whatever follows the tag, one slot */
    CHECK_EQ_INT(SLOT("jwtd:{rate}:login:ip:127.0.0.1"), SLOT("jwtd:{rate}:block:x"));
    CHECK_EQ_INT(SLOT("jwtd:{cache}:orders:1:abc"), SLOT("jwtd:{cache}-group:orders:user:1"));
}

TEST(cluster_redirect_moved_and_ask)
{
    struct redirect r;
    const char *m = "MOVED 3999 127.0.0.1:6381";
    ASSERT_EQ_INT(store__redirect_parse(m, strlen(m), &r), REDIRECT_MOVED);
    CHECK_EQ_INT(r.slot, 3999);
    CHECK_STR_EQ(r.host, "127.0.0.1");
    CHECK_EQ_INT(r.port, 6381);
    const char *a = "ASK 16383 redis-2.internal:7000";
    ASSERT_EQ_INT(store__redirect_parse(a, strlen(a), &r), REDIRECT_ASK);
    CHECK_EQ_INT(r.slot, 16383);
    CHECK_STR_EQ(r.host, "redis-2.internal");
    CHECK_EQ_INT(r.port, 7000);
    const char *v6 = "MOVED 0 ::1:7001";
    ASSERT_EQ_INT(store__redirect_parse(v6, strlen(v6), &r), REDIRECT_MOVED);
    CHECK_STR_EQ(r.host, "::1");
    CHECK_EQ_INT(r.port, 7001);
    const char *br = "ASK 5 [fe80::1]:7002";
    ASSERT_EQ_INT(store__redirect_parse(br, strlen(br), &r), REDIRECT_ASK);
    CHECK_STR_EQ(r.host, "fe80::1");
    const char *noh = "MOVED 12 :7003"; /* a node that does not know its address */
    ASSERT_EQ_INT(store__redirect_parse(noh, strlen(noh), &r), REDIRECT_MOVED);
    CHECK_STR_EQ(r.host, "");
    CHECK_EQ_INT(r.port, 7003);
}

TEST(cluster_redirect_rejects_other_errors)
{
    static const char *const bad[] = {
        "NOSCRIPT No matching script",
        "MOVED",
        "MOVED ",
        "MOVED 16384 127.0.0.1:1",
        "MOVED -1 127.0.0.1:1",
        "MOVED 1 127.0.0.1",
        "MOVED 1 127.0.0.1:",
        "MOVED 1 127.0.0.1:0",
        "MOVED 1 127.0.0.1:65536",
        "MOVED 1 127.0.0.1:12a",
        "MOVED 1 a b:1",
        "MOVED 1234567 h:1",
        "ASK x h:1",
        "ASKING",
        "moved 1 h:1",
        "CROSSSLOT Keys in request don't hash to the same slot",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct redirect r;
        if (!CHECK_EQ_INT(store__redirect_parse(bad[i], strlen(bad[i]), &r), REDIRECT_NONE))
            test__fail(__FILE__, __LINE__, "accepted: \"%s\"", bad[i]);
        CHECK_EQ_INT(r.kind, REDIRECT_NONE);
    }
    /* a host longer than the buffer */
    char longm[400] = "MOVED 1 ";
    memset(longm + 8, 'h', 300);
    memcpy(longm + 308, ":1", 3);
    struct redirect r;
    CHECK_EQ_INT(store__redirect_parse(longm, strlen(longm), &r), REDIRECT_NONE);
}

static int url_error(const char *url, char *err, size_t cap)
{
    store_redis_options_t o = {.url = url, .timeout_ms = 50};
    err[0] = '\0';
    return store_redis_ping(&o, err, cap);
}

TEST(cluster_bad_urls_are_config_errors)
{
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"redis-cluster://", "redis-cluster://"},
        {"redis-cluster://:pw@", "redis-cluster://"},
        {"redis-cluster://127.0.0.1:1,", "cluster node address"},
        {"redis-cluster://127.0.0.1:1,,127.0.0.1:2", "cluster node address"},
        {"redis-cluster://127.0.0.1:99999", "cluster node address"},
        {"redis-cluster://127.0.0.1:1/3", "only database 0"},
        {"redis-cluster://127.0.0.1:1?db=2", "only database 0"},
        {"redis-cluster://a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9", "at most 8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256];
        if (!CHECK_EQ_INT(url_error(bad[i].url, err, sizeof err), ERR_CONFIG))
            test__fail(__FILE__, __LINE__, "accepted: %s", bad[i].url);
        else if (!CHECK_TRUE(strstr(err, bad[i].why) != NULL))
            test__fail(__FILE__, __LINE__, "%s: \"%s\"", bad[i].url, err);
    }
    /* well-formed: refused only because nothing listens there (port 1) */
    char err[256];
    CHECK_EQ_INT(url_error("redis-cluster://:p%40ss@127.0.0.1:1,[::1]:1/", err, sizeof err),
                 ERR_UNAVAILABLE);
    CHECK_EQ_INT(url_error("redis-cluster://127.0.0.1:1/0?db=0", err, sizeof err), ERR_UNAVAILABLE);
}

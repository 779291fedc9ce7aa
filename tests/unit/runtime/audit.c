/*
 * audit.c - unit tests for src/runtime/audit.c: bounded copies of untrusted text, the
 * record a sink receives (every field, the context's fallbacks), and the log line (every
 * field present, user text escaped) in text and JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "test.h"

#define LOG_MODULE "audittest"
#include "runtime/audit.h"

static int cap_fd = -1;

static void cap_begin(void)
{
    FILE *f = tmpfile();
    cap_fd = dup(fileno(f));
    fclose(f);
    log_set_fd(cap_fd);
    log_set_level(LOG_INFO);
}

static char *cap_end(void)
{
    off_t end = lseek(cap_fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)end + 1);
    if (pread(cap_fd, s, (size_t)end, 0) != end)
        s[0] = '\0';
    close(cap_fd);
    log_set_fd(2);
    log_set_json(0);
    log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_OFF);
    return s;
}

struct got {
    int n;
    audit_record_t last;
};

static void sink(void *arg, const audit_record_t *r)
{
    struct got *g = arg;
    g->n++;
    g->last = *r;
}

TEST(audit_text_copy_bounds_and_sanitises)
{
    char out[8];
    CHECK_STR_EQ(audit_text_copy(out, sizeof out, "abc", 3), "abc");
    CHECK_STR_EQ(audit_text_copy(out, sizeof out, "abcdefghij", 10), "abcdefg");
    /* "ab" + U+00E9 (2 bytes) x3: cut before a sequence that would not fit */
    const char *e = "ab\xc3\xa9\xc3\xa9\xc3\xa9";
    CHECK_STR_EQ(audit_text_copy(out, sizeof out, e, strlen(e)), "ab\xc3\xa9\xc3\xa9");
    CHECK_STR_EQ(audit_text_copy(out, sizeof out,
                                 "a\xff"
                                 "b",
                                 3),
                 "a?b");
    CHECK_STR_EQ(audit_text_copy(out, sizeof out, "a\0b", 3), "a?b");
    CHECK_STR_EQ(audit_text_copy(out, sizeof out, "\xc3", 1), "?"); /* a cut sequence */
}

TEST(audit_sink_gets_every_field_with_context_fallbacks)
{
    struct got g = {0};
    audit_set_sink(sink, &g);
    log_set_level(LOG_OFF); /* the sink gets records whatever the log level */
    audit_ctx_t req = {.rid = "rid-7", .ip = "192.0.2.1", .ua = STR_LIT("ua/1")};
    audit_info(&req, .event = "login", .outcome = "success", .user_id = 42, .username = "alice",
               .sid = "0123", .reason = "r");
    CHECK_EQ_INT(g.n, 1);
    CHECK_STR_EQ(g.last.event, "login");
    CHECK_STR_EQ(g.last.outcome, "success");
    CHECK_EQ_INT(g.last.user_id, 42);
    CHECK_STR_EQ(g.last.username, "alice");
    CHECK_STR_EQ(g.last.rid, "rid-7");
    CHECK_STR_EQ(g.last.ip, "192.0.2.1");
    CHECK_STR_EQ(g.last.ua, "ua/1");
    CHECK_STR_EQ(g.last.sid, "0123");
    CHECK_STR_EQ(g.last.source, "http");
    CHECK_TRUE(g.last.ts > 0);
    /* no context given: the thread's, else the process default */
    audit_ctx_t cli = {.source = "cli", .actor = "uid=0(root)"};
    audit_ctx_set_default(&cli);
    audit_warn(NULL, .event = "user_revoked", .outcome = "success");
    CHECK_STR_EQ(g.last.source, "cli");
    CHECK_STR_EQ(g.last.actor, "uid=0(root)");
    CHECK_STR_EQ(g.last.ip, "");
    CHECK_EQ_INT(g.last.level, LOG_WARN);
    audit_ctx_set(&req);
    audit_info(NULL, .event = "refresh", .outcome = "success");
    CHECK_STR_EQ(g.last.rid, "rid-7");
    CHECK_STR_EQ(g.last.source, "http");
    audit_ctx_set(NULL);
    audit_ctx_set_default(NULL);
    /* an attempted name is bounded */
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    audit_info(NULL, .event = "login_failed", .outcome = "failure", .username = longname);
    CHECK_EQ_INT((int)strlen(g.last.username), AUDIT_NAME_MAX);
    audit_set_sink(NULL, NULL);
    audit_info(NULL, .event = "login", .outcome = "success");
    CHECK_EQ_INT(g.n, 4);
}

TEST(audit_line_text_carries_every_field_escaped)
{
    cap_begin();
    audit_ctx_t req = {.rid = "r1", .ip = "127.0.0.1", .ua = STR_LIT("ua \"x\"")};
    audit_info(&req, .event = "login_failed", .outcome = "failure", .username = "bob\x01\"",
               .reason = "no_such_user", .detail = "k=v");
    char *s = cap_end();
    CHECK_TRUE(strstr(s, "module=audittest request_id=r1 event=login_failed outcome=failure "
                         "user_id=\"\" ip=\"127.0.0.1\" sid=\"\" source=http actor=\"\" "
                         "reason=\"no_such_user\" k=v username=\"bob\\x01\\\"\" "
                         "user_agent=\"ua \\\"x\\\"\"") != NULL);
    CHECK_TRUE(strchr(s, '\x01') == NULL);
    free(s);
}

TEST(audit_line_json_carries_every_field)
{
    cap_begin();
    log_set_json(1);
    audit_info(NULL, .event = "user_created", .outcome = "success", .user_id = 3,
               .username = "carol");
    char *s = cap_end();
    json_t *j = json_loads(s, 0, NULL);
    CHECK_TRUE(j != NULL);
    if (j) {
        const char *keys[] = {"ts",  "event",  "outcome", "user_id", "username",   "ip",
                              "sid", "source", "actor",   "reason",  "user_agent", "request_id"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            CHECK_TRUE(json_object_get(j, keys[i]) != NULL);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "user_id")), 3);
        CHECK_STR_EQ(json_string_value(json_object_get(j, "username")), "carol");
        CHECK_STR_EQ(json_string_value(json_object_get(j, "request_id")), "");
        json_decref(j);
    }
    free(s);
}

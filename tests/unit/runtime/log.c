/*
 * log.c - unit tests for src/common/log.c: level parsing and filtering, escaping, request
 * ids, and the access line (query strings never logged).
 */
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

#define LOG_MODULE "logtest"
#include "runtime/log.h"

static int cap_fd = -1;

static void cap_begin(enum log_level level)
{
    FILE *f = tmpfile();
    cap_fd = dup(fileno(f));
    fclose(f);
    log_set_fd(cap_fd);
    log_set_level(level);
}

/* Restores the runner's log settings; returns what was logged (caller frees). */
static char *cap_end(void)
{
    off_t end = lseek(cap_fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)end + 1);
    if (pread(cap_fd, s, (size_t)end, 0) != end)
        s[0] = '\0';
    close(cap_fd);
    log_set_fd(2);
    log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_OFF);
    return s;
}

TEST(log_level_parse_names)
{
    enum log_level l;
    CHECK_EQ_INT(log_level_parse("debug", &l), 0);
    CHECK_EQ_INT(l, LOG_DEBUG);
    CHECK_EQ_INT(log_level_parse("WARN", &l), 0);
    CHECK_EQ_INT(l, LOG_WARN);
    CHECK_EQ_INT(log_level_parse("warning", &l), 0);
    CHECK_EQ_INT(l, LOG_WARN);
    CHECK_EQ_INT(log_level_parse("off", &l), 0);
    CHECK_EQ_INT(l, LOG_OFF);
    CHECK_EQ_INT(log_level_parse("verbose", &l), -1);
    CHECK_STR_EQ(log_level_name(LOG_ERROR), "error");
}

TEST(log_level_filters_and_skips_argument_evaluation)
{
    int evaluated = 0;
    cap_begin(LOG_WARN);
    log_info("msg=\"hidden\" n=%d", ++evaluated);
    log_warn("msg=\"shown\" n=%d", ++evaluated);
    log_req_error("0123456789abcdef", "msg=\"req\"");
    char *out = cap_end();
    CHECK_EQ_INT(evaluated, 1); /* the info line's arguments were never evaluated */
    CHECK_TRUE(strstr(out, "hidden") == NULL);
    CHECK_TRUE(strstr(out, " level=warn module=logtest msg=\"shown\" n=1\n") != NULL);
    CHECK_TRUE(
        strstr(out, " level=error module=logtest request_id=0123456789abcdef msg=\"req\"\n") !=
        NULL);
    CHECK_TRUE(strncmp(out, "ts=", 3) == 0);
    free(out);
}

TEST(log_value_escape_quotes_controls_and_truncates)
{
    char out[16];
    log_value_escape(out, sizeof out, "a\"b\\c\n", 6);
    CHECK_STR_EQ(out, "a\\\"b\\\\c\\x0a");
    log_value_escape(out, sizeof out, "0123456789abcdefghij", 20);
    CHECK_STR_EQ(out, "0123456789abcde");
    log_value_escape(out, 4, "\x01\x02", 2); /* an escape that does not fit is dropped whole */
    CHECK_STR_EQ(out, "");
}

TEST(log_rid_new_is_hex_and_unique)
{
    char a[LOG_RID_SIZE], b[LOG_RID_SIZE];
    log_rid_new(a);
    log_rid_new(b);
    CHECK_EQ_INT(strlen(a), 16);
    CHECK_EQ_INT(strspn(a, "0123456789abcdef"), 16);
    CHECK_TRUE(strcmp(a, b) != 0);
}

TEST(log_request_drops_query_string)
{
    cap_begin(LOG_INFO);
    log_request(LOG_INFO, "http", "00000000000000aa", STR_LIT("GET"),
                STR_LIT("/api/verify/?token=eyJhbGciOi.secret.sig"), 200, 15, 84);
    log_request(LOG_DEBUG, "http", NULL, STR_LIT("GET"), STR_LIT("/hidden"), 200, 0, 0);
    log_request(LOG_WARN, "http", NULL, STR_LIT("POST"), STR_LIT("/a\"b\r\n"), 400, 1, 2);
    char *out = cap_end();
    CHECK_TRUE(strstr(out, "eyJ") == NULL);
    CHECK_TRUE(strstr(out, "token") == NULL);
    CHECK_TRUE(strstr(out, "/hidden") == NULL);
    CHECK_TRUE(strstr(out, " level=info module=http request_id=00000000000000aa msg=\"request\" "
                           "method=GET path=\"/api/verify/\" status=200 bytes=15 "
                           "duration_us=84\n") != NULL);
    CHECK_TRUE(strstr(out, "method=POST path=\"/a\\\"b\\x0d\\x0a\" status=400") != NULL);
    free(out);
}

/* Parses every line of out as a JSON object (jansson); returns how many, -1 on a bad one. */
static int json_lines_ok(const char *out, json_t **last_obj)
{
    int n = 0;
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            return -1;
        json_error_t e;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (!json_is_object(o) || !json_is_string(json_object_get(o, "ts")) ||
            !json_is_string(json_object_get(o, "level")) ||
            !json_is_string(json_object_get(o, "module"))) {
            fprintf(stderr, "not a JSON log line: %.*s (%s)\n", (int)(nl - p), p, e.text);
            json_decref(o);
            return -1;
        }
        if (last_obj) {
            json_decref(*last_obj);
            *last_obj = o;
        } else {
            json_decref(o);
        }
        n++;
        p = nl + 1;
    }
    return n;
}

TEST(log_json_members_have_types_and_decoded_values)
{
    cap_begin(LOG_INFO);
    log_set_json(1);
    log_request_user(LOG_INFO, "http", "00000000000000ab", STR_LIT("POST"),
                     STR_LIT("/a\"b\r\n?x=1"), 401, 15, 84, 7);
    char *out = cap_end();
    log_set_json(0);
    json_t *o = NULL;
    CHECK_EQ_INT(json_lines_ok(out, &o), 1);
    CHECK_STR_EQ(json_string_value(json_object_get(o, "level")), "info");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "module")), "http");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "request_id")), "00000000000000ab");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "msg")), "request");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "method")), "POST");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "path")), "/a\"b\r\n");
    CHECK_TRUE(json_is_integer(json_object_get(o, "status")));
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "status")), 401);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "duration_us")), 84);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "user_id")), 7);
    json_decref(o);
    free(out);
}

TEST(log_json_odd_text_stays_valid_json)
{
    cap_begin(LOG_DEBUG);
    log_set_json(1);
    log_info("msg=\"listening\" addr=127.0.0.1:8000 ratio=0.25 neg=-3 zip=007 x=1.");
    log_warn("free words here key=value =orphan \"quoted\" bad\\key=1 empty= end");
    log_warn("latin1=\"caf\xe9\" raw=\xff\xfe ctl=a\tb");
    log_warn("cut=\"abc\\");
    log_warn("cut=\"abc\\x4");
    log_warn("open=\"never closed");
    char big[3000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_warn("msg=\"%s\"", big);
    char ctl[1500];
    memset(ctl, '\x01', sizeof ctl - 1); /* each byte becomes \u0001: 6 bytes of JSON */
    ctl[sizeof ctl - 1] = '\0';
    log_warn("raw=%s", ctl);
    char *out = cap_end();
    log_set_json(0);
    CHECK_EQ_INT(json_lines_ok(out, NULL), 8);
    json_error_t e;
    json_t *o = json_loadb(out, (size_t)(strchr(out, '\n') - out), 0, &e);
    CHECK_TRUE(json_is_string(json_object_get(o, "addr")));
    CHECK_TRUE(json_is_real(json_object_get(o, "ratio")));
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "neg")), -3);
    CHECK_STR_EQ(json_string_value(json_object_get(o, "zip")), "007");
    CHECK_STR_EQ(json_string_value(json_object_get(o, "x")), "1.");
    json_decref(o);
    CHECK_TRUE(strstr(out, "\"text\":\"free words here orphan \\\"quoted\\\" end\"") != NULL);
    CHECK_TRUE(strstr(out, "\"latin1\":\"caf?\"") != NULL);
    CHECK_TRUE(strstr(out, "\"truncated\":true") != NULL);
    free(out);
}

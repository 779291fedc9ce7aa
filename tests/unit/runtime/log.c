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

/* The text access line built without printf has the bytes of the general path. */
TEST(log_request_text_matches_the_general_format)
{
    cap_begin(LOG_INFO);
    log_request_user(LOG_INFO, "http", "00000000000000ab", STR_LIT("DELETE"), STR_LIT("/api/x?y=1"),
                     204, 0, 1234567, 42);
    log_write(LOG_CH_ACCESS, LOG_INFO, "http", "00000000000000ab",
              "msg=\"request\" method=%s path=\"%s\" status=%d bytes=%llu duration_us=%llu "
              "user_id=%d",
              "DELETE", "/api/x", 204, 0ULL, 1234567ULL, 42);
    log_request(LOG_ERROR, "http", NULL, STR_LIT("GET"), STR_LIT("/"), -1, 18446744073709551615ULL,
                0);
    char *out = cap_end();
    char *second = strchr(out, '\n');
    CHECK_TRUE(second != NULL);
    if (second) {
        second++;
        /* the same line after the timestamp ("ts=" and 24 bytes) */
        char *third = strchr(second, '\n');
        CHECK_TRUE(third != NULL &&
                   strncmp(out + 27, second + 27, (size_t)(third - second - 26)) == 0);
        CHECK_TRUE(strstr(third ? third : "", " level=error module=http msg=\"request\" method=GET "
                                              "path=\"/\" status=-1 bytes=18446744073709551615 "
                                              "duration_us=0\n") != NULL);
    }
    CHECK_TRUE(strncmp(out, "ts=2", 4) == 0 && out[26] == 'Z' && out[22] == '.');
    free(out);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Access lines wait in the thread's buffer: out on log_flush, when full, and before a line
   of another channel to the same descriptor; every line whole and in order. */
TEST(log_buffer_holds_access_lines_until_flushed)
{
    cap_begin(LOG_INFO);
    CHECK_EQ_INT(log_buffer_start(1024, 60 * 1000), 0);
    log_thread_buffer_begin();
    log_request(LOG_INFO, "http", NULL, STR_LIT("GET"), STR_LIT("/one"), 200, 1, 1);
    log_request(LOG_INFO, "http", NULL, STR_LIT("GET"), STR_LIT("/two"), 200, 1, 1);
    CHECK_EQ_INT((int)lseek(cap_fd, 0, SEEK_END), 0); /* still buffered */
    log_flush();
    off_t after_flush = lseek(cap_fd, 0, SEEK_END);
    CHECK_TRUE(after_flush > 0);
    log_request(LOG_INFO, "http", NULL, STR_LIT("GET"), STR_LIT("/three"), 200, 1, 1);
    log_warn("msg=\"other channel\""); /* same fd: writes /three first */
    CHECK_TRUE(lseek(cap_fd, 0, SEEK_END) > after_flush);
    for (int i = 0; i < 20; i++) /* about 2 KiB: the 1 KiB buffer fills and is written */
        log_request(LOG_INFO, "http", NULL, STR_LIT("GET"), STR_LIT("/many"), 200, 1, 1);
    log_thread_buffer_end(); /* writes the rest */
    log_buffer_stop();
    log_request(LOG_INFO, "http", NULL, STR_LIT("GET"), STR_LIT("/direct"), 200, 1, 1);
    char *out = cap_end();
    CHECK_EQ_INT(count_lines(out), 2 + 1 + 1 + 20 + 1);
    char *one = strstr(out, "path=\"/one\""), *two = strstr(out, "path=\"/two\"");
    char *three = strstr(out, "path=\"/three\""), *other = strstr(out, "other channel");
    char *direct = strstr(out, "path=\"/direct\"");
    CHECK_TRUE(one && two && three && other && direct);
    CHECK_TRUE(one < two && two < three && three < other && other < direct);
    free(out);
}

/* JSON lines go through the same buffer. */
TEST(log_buffer_json_lines)
{
    cap_begin(LOG_INFO);
    log_set_json(1);
    CHECK_EQ_INT(log_buffer_start(64 * 1024, 60 * 1000), 0);
    log_thread_buffer_begin();
    for (int i = 0; i < 5; i++)
        log_request(LOG_INFO, "http", "00000000000000cd", STR_LIT("GET"), STR_LIT("/j"), 200, 2, 3);
    CHECK_EQ_INT((int)lseek(cap_fd, 0, SEEK_END), 0);
    log_thread_buffer_end();
    log_buffer_stop();
    log_set_json(0);
    char *out = cap_end();
    json_t *last = NULL;
    CHECK_EQ_INT(json_lines_ok(out, &last), 5);
    CHECK_TRUE(last && json_integer_value(json_object_get(last, "status")) == 200);
    json_decref(last);
    free(out);
}

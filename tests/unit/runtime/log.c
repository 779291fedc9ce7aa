/*
 * log.c - unit tests for src/common/log.c: level parsing and filtering, escaping, request
 * ids, and the access line (query strings never logged).
 */
#include <stdlib.h>
#include <unistd.h>

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

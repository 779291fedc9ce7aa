/*
 * procstat.c - unit tests for src/runtime/procstat.c: the /proc/<pid>/stat parser (a
 * command name with spaces and parentheses, short or garbled lines) and a live read.
 */
#include <string.h>
#include <unistd.h>

#include "test.h"

#include "runtime/procstat.h"

TEST(procstat_parse_stat_fields)
{
    /* fields 1..24: utime 14, stime 15, starttime 22, vsize 23, rss 24 */
    const char *line = "4242 (jw td) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
                       "250 75 0 0 20 0 3 0 123456 987654321 2048 18446744073709551615\n";
    uint64_t ut = 0, st = 0, start = 0, vsize = 0;
    int64_t rss = 0;
    CHECK_EQ_INT(procstat_parse_stat(line, strlen(line), &ut, &st, &start, &vsize, &rss), 0);
    CHECK_EQ_INT(ut, 250);
    CHECK_EQ_INT(st, 75);
    CHECK_EQ_INT(start, 123456);
    CHECK_EQ_INT(vsize, 987654321);
    CHECK_EQ_INT(rss, 2048);
    const char *bad[] = {"", "4242 (jwtd", "4242 (jwtd) S 1 2 3",
                         "4242 (jwtd) S 1 4242 4242 0 "
                         "-1 4194560 100 0 0 0 x 75 0 0 20 0 3 0 123456 987654321 2048"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(procstat_parse_stat(bad[i], strlen(bad[i]), &ut, &st, &start, &vsize, &rss),
                     -1);
}

TEST(procstat_read_live_process)
{
    procstat_t p;
    procstat_read(&p);
    CHECK_TRUE(p.ok);
    CHECK_TRUE(p.resident_bytes > 0 && p.virtual_bytes >= p.resident_bytes);
    CHECK_TRUE(p.start_time > 1.6e9); /* after 2020 */
    CHECK_TRUE(p.open_fds >= 3);
    int fd = dup(0);
    procstat_t q;
    procstat_read(&q);
    close(fd);
    CHECK_EQ_INT(q.open_fds, p.open_fds + 1);
    CHECK_TRUE(p.max_fds == -1 || p.max_fds >= p.open_fds);
}

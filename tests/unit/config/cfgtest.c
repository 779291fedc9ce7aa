/*
 * cfgtest.c - the helpers of cfgtest.h, shared by the configuration unit tests. It holds no
 * tests of its own.
 */
#include "config/cfgtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "runtime/log.h"
#include "test.h"

/* See cfgtest.h. */
int cfgtest_tmp_fd(void)
{
    FILE *f = tmpfile();
    int fd = dup(fileno(f));
    fclose(f);
    return fd;
}

/* See cfgtest.h. */
char *cfgtest_slurp_fd(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)end + 1);
    if (pread(fd, s, (size_t)end, 0) != end)
        s[0] = '\0';
    return s;
}

/* See cfgtest.h. */
int cfgtest_load_text(struct cfg *cfg, const char *text, char *err, size_t cap)
{
    int rc = cfg_init_defaults(cfg, err, cap);
    if (rc != 0)
        return rc;
    rc = cfg_apply_buffer(cfg, "test.conf", text, strlen(text), err, cap);
    if (rc == 0)
        rc = cfg_finish(cfg, err, cap);
    return rc;
}

/* See cfgtest.h. */
void cfgtest_expect_error(const char *text, const char *want)
{
    struct cfg c;
    char err[512] = "";
    int rc = cfgtest_load_text(&c, text, err, sizeof err);
    if (!CHECK_EQ_INT(rc, ERR_CONFIG) || !CHECK_STR_EQ(err, want))
        fprintf(stderr, "    config text: %s\n", text);
    cfg_dispose(&c);
}

static int capture_fd = -1;

/* See cfgtest.h. */
void cfgtest_logs_begin(void)
{
    capture_fd = cfgtest_tmp_fd();
    log_set_fd(capture_fd);
    log_set_level(LOG_WARN);
}

/* See cfgtest.h. */
char *cfgtest_logs_end(void)
{
    char *s = cfgtest_slurp_fd(capture_fd);
    log_set_fd(2);
    log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_OFF);
    close(capture_fd);
    capture_fd = -1;
    return s;
}

/*
 * cfgtest.h - helpers the configuration unit tests (tests/unit/config/) share: loading a
 * config text on top of the defaults, expecting an exact error, and capturing what is
 * written to a file descriptor (log lines, `jwtd config` output).
 */
#ifndef JWTD_TEST_CFGTEST_H
#define JWTD_TEST_CFGTEST_H

#include <stddef.h>

#include "config/config.h"

/* A new temporary file's descriptor (already unlinked); the caller closes it. */
int cfgtest_tmp_fd(void);
/* Everything written to fd (a cfgtest_tmp_fd) so far, NUL-terminated; the caller frees. */
char *cfgtest_slurp_fd(int fd);
/*
 * cfg_init_defaults, then text as the config file "test.conf", then cfg_finish. Returns the
 * first failure's code (message in err) or 0. The caller disposes *cfg either way.
 */
int cfgtest_load_text(struct cfg *cfg, const char *text, char *err, size_t cap);
/* Loads text as cfgtest_load_text does and checks that it fails with exactly want. */
void cfgtest_expect_error(const char *text, const char *want);
/* Captures log lines of level warn and up until cfgtest_logs_end, which returns them. */
void cfgtest_logs_begin(void);
char *cfgtest_logs_end(void);

#endif

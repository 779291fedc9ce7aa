/* Unit tests for src/runtime/pidfile.c. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "runtime/pidfile.h"

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

TEST(pidfile_check_write_remove)
{
    char dir[] = "/tmp/jwtd-pidfile-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/jwtd.pid", dir);
    CHECK_EQ_INT(pidfile_read(path), 0); /* missing */
    CHECK_EQ_INT(pidfile_check(path, err, sizeof err), 0);
    ASSERT_EQ_INT(pidfile_write(path, err, sizeof err), 0);
    CHECK_EQ_INT(pidfile_read(path), getpid());
    CHECK_EQ_INT(pidfile_check(path, err, sizeof err), 0); /* names this process */
    pidfile_remove(path);
    CHECK_EQ_INT(access(path, F_OK), -1);
    /* garbage is not a process: replaced */
    put(path, "12ab\n");
    CHECK_EQ_INT(pidfile_read(path), -1);
    CHECK_EQ_INT(pidfile_check(path, err, sizeof err), 0);
    /* another live process (the parent) refuses; a file naming it is not removed */
    char text[32];
    snprintf(text, sizeof text, "%ld\n", (long)getppid());
    put(path, text);
    CHECK_EQ_INT(pidfile_check(path, err, sizeof err), ERR_CONFLICT);
    CHECK_TRUE(strstr(err, "which is running") != NULL);
    pidfile_remove(path);
    CHECK_EQ_INT(pidfile_read(path), getppid());
    /* a process that has exited: stale */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    snprintf(text, sizeof text, "%ld\n", (long)child);
    put(path, text);
    CHECK_EQ_INT(pidfile_check(path, err, sizeof err), 0);
    unlink(path);
    rmdir(dir);
}

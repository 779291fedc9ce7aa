/*
 * pidfile.c - the PID file (see pidfile.h). A process is live when kill(pid, 0) succeeds
 * or fails with EPERM (it exists but belongs to another user).
 */
#include "runtime/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "runtime/fileio.h"

/* See pidfile.h. */
pid_t pidfile_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno || end == buf || (*end && strcmp(end, "\n") != 0) || v <= 0 || v > 0x7fffffffL)
        return -1;
    return (pid_t)v;
}

static bool is_live(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* See pidfile.h. */
int pidfile_check(const char *path, char *err, size_t cap)
{
    pid_t pid = pidfile_read(path);
    if (pid > 0 && pid != getpid() && is_live(pid)) {
        snprintf(err, cap, "JWTD_PID_FILE: %s names process %ld, which is running", path,
                 (long)pid);
        return ERR_CONFLICT;
    }
    return 0;
}

/* See pidfile.h. */
int pidfile_write(const char *path, char *err, size_t cap)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (fileio_write_atomic(path, text, (size_t)n, 0644, true) != 0) {
        snprintf(err, cap, "JWTD_PID_FILE: cannot write %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    return 0;
}

/* See pidfile.h. */
void pidfile_remove(const char *path)
{
    if (pidfile_read(path) == getpid())
        unlink(path);
}

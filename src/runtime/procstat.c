/*
 * procstat.c - the process' resource usage from /proc (see procstat.h).
 */
#include "runtime/procstat.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/fileio.h"

/* Reads up to cap-1 bytes of path into buf, NUL-terminated. Returns the length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = fileio_read_upto(fd, buf, cap - 1);
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* See procstat.h. */
int procstat_parse_stat(const char *text, size_t len, uint64_t *utime, uint64_t *stime,
                        uint64_t *starttime, uint64_t *vsize, int64_t *rss_pages)
{
    /* "pid (comm) state ppid ...": comm may hold spaces and ')', so start after the last
       ')'; the token after it is field 3 (state), utime is field 14. */
    const char *end = text + len, *p = NULL;
    for (const char *q = text; q < end; q++)
        if (*q == ')')
            p = q;
    if (!p)
        return -1;
    p++;
    uint64_t field[25] = {0};
    int got = 0;
    for (int k = 3; k <= 24 && p < end; k++) {
        while (p < end && *p == ' ')
            p++;
        const char *tok = p;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        if (p == tok)
            return -1;
        if (k >= 14) {
            char num[24];
            size_t n = (size_t)(p - tok);
            if (n >= sizeof num)
                return -1;
            memcpy(num, tok, n);
            num[n] = '\0';
            char *e = NULL;
            long long v = strtoll(num, &e, 10);
            if (*e)
                return -1;
            field[k] = (uint64_t)v;
        }
        got = k;
    }
    if (got < 24)
        return -1;
    *utime = field[14];
    *stime = field[15];
    *starttime = field[22];
    *vsize = field[23];
    *rss_pages = (int64_t)field[24];
    return 0;
}

/* The boot time (seconds since the epoch) from the btime line of /proc/stat, or 0. */
static uint64_t boot_time(void)
{
    char buf[8192];
    if (read_small("/proc/stat", buf, sizeof buf) < 0)
        return 0;
    const char *b = strstr(buf, "\nbtime ");
    return b ? strtoull(b + 7, NULL, 10) : 0;
}

static int64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor, open while it is read */
}

/* See procstat.h. */
void procstat_read(procstat_t *out)
{
    memset(out, 0, sizeof *out);
    char buf[1024];
    ssize_t n = read_small("/proc/self/stat", buf, sizeof buf);
    uint64_t ut, st, start, vsize;
    int64_t rss;
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (n > 0 && ticks > 0 && page > 0 &&
        procstat_parse_stat(buf, (size_t)n, &ut, &st, &start, &vsize, &rss) == 0) {
        out->ok = true;
        out->resident_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
        out->virtual_bytes = vsize;
        out->cpu_seconds = (double)(ut + st) / (double)ticks;
        out->start_time = (double)boot_time() + (double)start / (double)ticks;
    }
    out->open_fds = count_fds();
    struct rlimit rl;
    out->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                       ? (int64_t)rl.rlim_cur
                       : -1;
}

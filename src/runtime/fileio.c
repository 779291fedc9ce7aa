/*
 * fileio.c - whole writes, atomic file replacement and mkdir -p (see fileio.h).
 */
#include "runtime/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

/* See fileio.h. */
int fileio_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* See fileio.h. */
size_t fileio_read_upto(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* fsync of the directory holding path, so that a rename or link survives a crash. */
static int sync_dir(const char *path)
{
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return ERR_IO;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ERR_IO;
    int rc = fsync(fd) == 0 ? 0 : ERR_IO;
    close(fd);
    return rc;
}

/* See fileio.h. */
int fileio_write_atomic(const char *path, const void *data, size_t n, mode_t mode, bool replace)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return ERR_IO;
    }
    int fd = mkstemp(tmp);
    if (fd < 0)
        return ERR_IO;
    int rc = fchmod(fd, mode) == 0 ? fileio_write_all(fd, data, n) : ERR_IO;
    if (rc == 0 && fsync(fd) != 0)
        rc = ERR_IO;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = ERR_IO;
        saved = errno;
    }
    if (rc == 0 && replace && rename(tmp, path) != 0) {
        rc = ERR_IO;
        saved = errno;
    }
    if (rc == 0 && !replace && link(tmp, path) != 0) {
        saved = errno;
        rc = errno == EEXIST ? ERR_CONFLICT : ERR_IO;
    }
    if (rc != 0 || !replace)
        unlink(tmp);
    if (rc == 0 && sync_dir(path) != 0) {
        rc = ERR_IO;
        saved = errno;
    }
    errno = saved;
    return rc;
}

/* See fileio.h. */
int fileio_mkdirs(const char *dir, mode_t mode)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return ERR_IO;
    }
    memcpy(p, dir, n + 1);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/' || s[-1] == '/')
            continue;
        *s = '\0';
        int rc = mkdir(p, mode);
        *s = '/';
        if (rc != 0 && errno != EEXIST)
            return ERR_IO;
    }
    struct stat st;
    if (mkdir(p, mode) != 0 && errno != EEXIST)
        return ERR_IO;
    if (stat(p, &st) != 0)
        return ERR_IO;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return ERR_IO;
    }
    return 0;
}

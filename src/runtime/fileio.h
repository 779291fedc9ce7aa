/*
 * fileio.h - the few file operations jwtd repeats: read or write a whole buffer, replace (or
 * create) a file atomically so that a crash never leaves a half-written key, upload
 * sidecar or configuration behind, and create a directory with its parents.
 */
#ifndef JWTD_RUNTIME_FILEIO_H
#define JWTD_RUNTIME_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes all n bytes to fd, retrying on EINTR and short writes. Returns 0 or ERR_IO (errno
   tells why). */
int fileio_write_all(int fd, const void *data, size_t n);

/* Reads from fd into buf until n bytes, end of file or an error, retrying on EINTR and short
   reads. Returns the bytes read (fewer than n at end of file or on an error). */
size_t fileio_read_upto(int fd, void *buf, size_t n);

/*
 * Writes data to path atomically: a temporary file in the same directory (created with
 * mode, before any byte is written), every byte, fsync, then a rename over path (replace)
 * or a link that fails when path exists (!replace), and an fsync of the directory. Readers
 * see the old file or the whole new one, never a part. Returns 0, ERR_CONFLICT (path exists
 * and !replace), or ERR_IO (errno tells why; the temporary file is removed).
 */
int fileio_write_atomic(const char *path, const void *data, size_t n, mode_t mode, bool replace);

/*
 * mkdir -p: creates dir and its missing parents, each with mode (less the umask); what
 * exists already keeps its mode. Returns 0 when dir is a directory then, or ERR_IO (errno
 * tells why: ENOTDIR when dir or a parent is another kind of file).
 */
int fileio_mkdirs(const char *dir, mode_t mode);

#endif

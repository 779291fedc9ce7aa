/* Unit tests for src/runtime/fileio.c. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "runtime/fileio.h"

static char *read_back(const char *path, size_t *len)
{
    static char buf[256];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    *len = n > 0 ? (size_t)n : 0;
    buf[*len] = '\0';
    return buf;
}

TEST(fileio_write_atomic_creates_refuses_and_replaces)
{
    char dir[] = "/tmp/jwtd-fileio-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/key.pem", dir);
    size_t len;
    ASSERT_EQ_INT(fileio_write_atomic(path, "first", 5, 0600, false), 0);
    CHECK_STR_EQ(read_back(path, &len), "first");
    struct stat st;
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    /* create-only: an existing file is kept */
    CHECK_EQ_INT(fileio_write_atomic(path, "second", 6, 0600, false), ERR_CONFLICT);
    CHECK_STR_EQ(read_back(path, &len), "first");
    /* replace */
    ASSERT_EQ_INT(fileio_write_atomic(path, "third!", 6, 0640, true), 0);
    CHECK_STR_EQ(read_back(path, &len), "third!");
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0640);
    /* no temporary file is left behind */
    char cmd[320];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    CHECK_EQ_INT(system(cmd), 0);
    /* a directory that does not exist */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope/key.pem", dir);
    CHECK_EQ_INT(fileio_write_atomic(missing, "x", 1, 0600, true), ERR_IO);
    unlink(path);
    rmdir(dir);
}

TEST(fileio_write_all_writes_everything)
{
    int p[2];
    ASSERT_EQ_INT(pipe(p), 0);
    ASSERT_EQ_INT(fileio_write_all(p[1], "hello", 5), 0);
    char got[8] = {0};
    CHECK_EQ_INT(read(p[0], got, sizeof got), 5);
    CHECK_STR_EQ(got, "hello");
    close(p[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    CHECK_EQ_INT(fileio_write_all(p[1], "x", 1), ERR_IO); /* EPIPE: the reader is gone */
    CHECK_EQ_INT(errno, EPIPE);
    signal(SIGPIPE, old);
    close(p[1]);
}

TEST(fileio_mkdirs_creates_parents_private)
{
    char dir[] = "/tmp/jwtd-mkdirs-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[256], file[256];
    snprintf(path, sizeof path, "%s/a//b/c/", dir);
    ASSERT_EQ_INT(fileio_mkdirs(path, 0700), 0);
    struct stat st;
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_TRUE(S_ISDIR(st.st_mode));
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/a", dir);
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    /* an existing directory is fine and keeps its mode */
    ASSERT_EQ_INT(chmod(path, 0750), 0);
    CHECK_EQ_INT(fileio_mkdirs(path, 0700), 0);
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0750);
    /* a file where a directory should be */
    snprintf(file, sizeof file, "%s/f", dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    errno = 0;
    CHECK_EQ_INT(fileio_mkdirs(file, 0700), ERR_IO);
    CHECK_EQ_INT(errno, ENOTDIR);
    snprintf(path, sizeof path, "%s/f/g", dir);
    CHECK_EQ_INT(fileio_mkdirs(path, 0700), ERR_IO);
    CHECK_EQ_INT(fileio_mkdirs("", 0700), ERR_IO);
    unlink(file);
    static const char *const made[] = {"a/b/c", "a/b", "a"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        rmdir(path);
    }
    rmdir(dir);
}

TEST(fileio_read_upto_stops_at_n_or_end_of_file)
{
    int p[2];
    ASSERT_TRUE(pipe(p) == 0);
    ASSERT_EQ_INT(fileio_write_all(p[1], "abcdefgh", 8), 0);
    char buf[16] = "";
    CHECK_EQ_INT((int)fileio_read_upto(p[0], buf, 3), 3);
    CHECK_TRUE(memcmp(buf, "abc", 3) == 0);
    close(p[1]);
    CHECK_EQ_INT((int)fileio_read_upto(p[0], buf, sizeof buf), 5);
    CHECK_TRUE(memcmp(buf, "defgh", 5) == 0);
    CHECK_EQ_INT((int)fileio_read_upto(p[0], buf, sizeof buf), 0);
    close(p[0]);
}

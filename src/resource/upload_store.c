/*
 * upload_store.c - the storage of uploads: one file per upload in the upload directory,
 * named by a random id (32 hex), next to <id>.json, its metadata (owner, sanitised client
 * filename, size, sha256, content type, time). Bytes are written to <dir>/.<id>.tmp
 * (O_EXCL, 0600) as they arrive; at the end the temp file is fsynced and renamed into place
 * and the metadata written atomically, so a crash never leaves metadata pointing at a
 * partial upload. The client's filename never becomes part of a path.
 *
 * DESIGN: metadata lives in a sidecar file rather than the database so that an upload needs
 * no schema and the directory is self-describing (a backup of the directory is complete).
 * Temp files a crash left behind are removed at start once an hour old: an upload in
 * progress writes its temp file continuously and the body deadline ends it long before
 * that, so this is safe while other instances share the directory.
 */
#define LOG_MODULE "resource"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "resource/resource_internal.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

#define UPLOAD_STALE_S 3600

/* dir/.id.tmp into tmp and dir/id into dst (each cap bytes). */
static void paths(const resource_t *res, const char *id, char *tmp, char *dst, size_t cap)
{
    snprintf(tmp, cap, "%s/.%s.tmp", res->upload_dir, id);
    snprintf(dst, cap, "%s/%s", res->upload_dir, id);
}

/* Removes temp files (.<id>.tmp, <id>.json.tmp-*) not written to for UPLOAD_STALE_S. */
static void sweep_stale_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    time_t now = time(NULL);
    unsigned removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        bool upload_tmp = e->d_name[0] == '.' && n >= 6 && strcmp(e->d_name + n - 4, ".tmp") == 0;
        if (!upload_tmp && !strstr(e->d_name, ".json.tmp-")) /* a sidecar's atomic write */
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            now - st.st_mtime < UPLOAD_STALE_S)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed)
        log_info("msg=\"removed stale upload temp files\" count=%u", removed);
}

/* See resource_internal.h. */
int resource__uploads_init(resource_t *res)
{
    if (fileio_mkdirs(res->upload_dir, 0700) != 0) {
        log_error("msg=\"cannot create upload directory\" dir=\"%s\" errno=%d", res->upload_dir,
                  errno);
        return ERR_IO;
    }
    sweep_stale_tmp(res->upload_dir);
    return 0;
}

/* See resource_internal.h. */
int resource__upload_create(resource_t *res, const char *id)
{
    char tmp[4096], dst[4096];
    paths(res, id, tmp, dst, sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        log_error("msg=\"upload: cannot create file\" errno=%d", errno);
    return fd;
}

/* See resource_internal.h. */
void resource__upload_discard(resource_t *res, const char *id, int fd)
{
    char tmp[4096], dst[4096];
    paths(res, id, tmp, dst, sizeof tmp);
    if (fd < 0)
        return;
    close(fd);
    if (unlink(tmp) != 0 && errno != ENOENT)
        log_error("msg=\"upload: cannot remove temp file\" errno=%d", errno);
}

/* The metadata sidecar of upload id, written atomically. */
static int write_meta(resource_t *res, const char *id, int64_t owner, const char *filename,
                      uint64_t size, const char *sha256, const char *content_type)
{
    json_t *meta = json_pack("{sIsssIsssssI}", "owner", (json_int_t)owner, "filename", filename,
                             "size", (json_int_t)size, "sha256", sha256, "content_type",
                             content_type, "created_at", (json_int_t)clock_now_s());
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    if (!text)
        return ERR_INTERNAL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", res->upload_dir, id);
    int rc = fileio_write_atomic(path, text, strlen(text), 0600, true);
    if (rc != 0)
        log_error("msg=\"upload: cannot store metadata\" errno=%d", errno);
    free(text);
    return rc;
}

/* See resource_internal.h. */
int resource__upload_commit(resource_t *res, const char *id, int fd, int64_t owner,
                            const char *filename, uint64_t size, const char *sha256,
                            const char *content_type)
{
    char tmp[4096], dst[4096];
    paths(res, id, tmp, dst, sizeof tmp);
    int rc = fsync(fd) == 0 ? 0 : ERR_IO;
    if (close(fd) != 0)
        rc = ERR_IO;
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = ERR_IO;
    if (rc != 0) {
        log_error("msg=\"upload: cannot store file\" errno=%d", errno);
        unlink(tmp);
        return rc;
    }
    rc = write_meta(res, id, owner, filename, size, sha256, content_type);
    if (rc != 0)
        unlink(dst);
    return rc;
}

/* See resource_internal.h. */
int resource__upload_meta(resource_t *res, const char *id, int64_t requester, char **json)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", res->upload_dir, id);
    json_error_t e;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!m)
        return access(path, F_OK) == 0 ? ERR_IO : ERR_NOT_FOUND;
    json_t *owner = json_object_get(m, "owner");
    if (!json_is_integer(owner) || json_integer_value(owner) != requester) {
        json_decref(m);
        return ERR_NOT_FOUND;
    }
    json_t *out = json_pack(
        "{sssOsOsOsOsO}", "id", id, "filename", json_object_get(m, "filename"), "size",
        json_object_get(m, "size"), "sha256", json_object_get(m, "sha256"), "content_type",
        json_object_get(m, "content_type"), "created_at", json_object_get(m, "created_at"));
    json_decref(m);
    *json = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    return *json ? 0 : ERR_IO;
}

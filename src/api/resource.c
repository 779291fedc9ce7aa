/*
 * resource.c - the resource-server routes of API.md section 6 (seed 003): GET /,
 * GET /protected, GET /admin/dashboard, POST /upload and GET /upload/{id}.
 *
 * /protected and /admin/dashboard verify the Bearer token on the loop (authn.c) and answer
 * from its claims: no database. The admin check reads the token's `role` claim, which jwtd
 * always issues (the seed's FastAPI peer drops it before its check and so always answers
 * 403; jwtd answers 200 to an admin).
 *
 * Uploads: the body is multipart/form-data with a `file` field, streamed: POST /upload is
 * a streaming route (http_router_add_stream), so the handler runs once the headers are in
 * (authentication, Content-Type) and then takes the body chunk by chunk. Each chunk goes
 * through the streaming multipart parser; the file part's bytes are written on the blocking
 * pool to <upload_dir>/.<id>.tmp (O_EXCL, mode 0600) and hashed (sha256, EVP) there, with
 * the body paused meanwhile, so memory stays at about one read buffer whatever the file
 * size. At the end the temp file is fsynced and renamed to <upload_dir>/<id> (32 random
 * hex) next to <id>.json, its metadata (owner, sanitised client filename, size, sha256,
 * content type, time). The file part is bounded by JWTD_MAX_UPLOAD_BYTES (413 as soon as it
 * goes over), the body by that plus API_UPLOAD_ENVELOPE_BYTES. On any error, abort,
 * deadline or disconnect the temp file is removed before the answer; temp files a crash
 * left behind are removed at the next start once an hour old (sweep_stale_tmp). The client's
 * filename never becomes part of a path, so no traversal is possible; it is only stored, sanitised,
 * as metadata. GET /upload/{id} answers the metadata to the owner and 404 to everybody
 * else (existence is not revealed).
 *
 * DESIGN: metadata lives in a sidecar file rather than the database so that an upload
 * needs no schema change and the directory is self-describing (a backup of the directory
 * is complete). Writes go to a temp name and are renamed into place, so a crash never
 * leaves a metadata file pointing at a partial upload.
 */
#define LOG_MODULE "api"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "api/api.h"
#include "api/svc.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/text.h"
#include "http/multipart.h"
#include "runtime/alloc.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

#define ID_HEX 32
/* Room for the multipart envelope and small fields around the file part. */
#define API_UPLOAD_ENVELOPE_BYTES 65536
/* Bound of the bytes kept between two writes (one read's worth in practice). */
#define API_UPLOAD_PENDING_MAX (4u << 20)

static struct {
    auth_t *auth;
    char *upload_dir;
    uint64_t max_upload_bytes;
} g_res;

/* ==== GET /, /protected, /admin/dashboard ================================================== */

static void on_root(http_req_t *req)
{
    http_respond(req, 200, API_JSON_CT, STR_LIT("{\"status\":\"ok\"}"));
}

/* {"message": msg, "user_id": "<id>", "username": ..., "role": ...} */
static void respond_claims(http_req_t *req, const char *msg, const jwtv_claims *c)
{
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "{\"message\":");
    jsonw_buf_str(&b, msg, strlen(msg));
    buf_append_cstr(&b, ",\"user_id\":");
    jsonw_buf_str(&b, c->user_id, strlen(c->user_id));
    buf_append_cstr(&b, ",\"username\":");
    if (c->username)
        jsonw_buf_str(&b, c->username, strlen(c->username));
    else
        buf_append_cstr(&b, "null");
    buf_append_cstr(&b, ",\"role\":");
    if (c->role)
        jsonw_buf_str(&b, c->role, strlen(c->role));
    else
        buf_append_cstr(&b, "null");
    buf_append_char(&b, '}');
    http_respond(req, 200, API_JSON_CT, buf_str(&b));
    buf_dispose(&b);
}

static void on_protected(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate(req, g_res.auth, c, &uid) != 0)
        return;
    respond_claims(req, "Authenticated", c);
}

static void on_admin_dashboard(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate_role(req, g_res.auth, "admin", c, &uid) != 0)
        return;
    respond_claims(req, "Welcome to the admin dashboard", c);
}

/* ==== POST /upload (streamed) ============================================================== */

enum upload_op { OP_WRITE, OP_FINISH, OP_CLEANUP };

/*
 * One upload in progress. Owned by the request's loop, except while a job runs: then the
 * pool thread owns fd, md, pending and job_rc, and the loop touches none of them (the body
 * is paused, so no chunk arrives meanwhile). Freed once the response is sent.
 */
struct upload {
    http_req_t *req;
    int64_t owner;
    int fd;            /* the temp file; -1 until the first write creates it */
    EVP_MD_CTX *md;    /* sha256 of the file part, updated as it is written */
    buf_t pending;     /* file bytes of the last chunk, not written yet */
    uint64_t size;     /* file bytes received */
    enum upload_op op; /* of the job in flight */
    int job_rc;        /* its result */
    bool job_running;
    bool saw_file;         /* a part named "file" came (the first one counts) */
    uint8_t file_state;    /* 0 not yet, 1 inside the file part, 2 after it */
    int err;               /* first error: answered once the temp file is gone */
    const char *err_field; /* 400: the field the message is about, or NULL */
    char detail[128];      /* the error's message */
    char id[ID_HEX + 1];   /* the stored name, random */
    char filename[256];    /* sanitised client filename (metadata only) */
    char content_type[128];
    char sha256[65];
    http_mp_parser_t mp;
};

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[in[i] >> 4];
        out[2 * i + 1] = h[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* dir/.name.tmp and dir/name. */
static void upload_paths(const char *name, char *tmp, char *dst, size_t cap)
{
    snprintf(tmp, cap, "%s/.%s.tmp", g_res.upload_dir, name);
    snprintf(dst, cap, "%s/%s", g_res.upload_dir, name);
}

/* Creates dir/.name.tmp for writing (O_EXCL, 0600). Returns the fd or -1 (logged). */
static int create_tmp(const char *name)
{
    char tmp[4096], dst[4096];
    upload_paths(name, tmp, dst, sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        log_error("msg=\"upload: cannot create file\" errno=%d", errno);
    return fd;
}

/* fsync + close fd (dir/.name.tmp), then rename it to dir/name; removes it on failure. */
static int commit_tmp(int fd, const char *name)
{
    char tmp[4096], dst[4096];
    upload_paths(name, tmp, dst, sizeof tmp);
    int rc = fsync(fd) == 0 ? 0 : ERR_IO;
    if (close(fd) != 0)
        rc = ERR_IO;
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = ERR_IO;
    if (rc != 0) {
        log_error("msg=\"upload: cannot store file\" errno=%d", errno);
        unlink(tmp);
    }
    return rc;
}

/* Writes data to dir/name via dir/.name.tmp + fsync + rename (the metadata sidecar). */
static int write_file(const char *name, const char *data, size_t len)
{
    int fd = create_tmp(name);
    if (fd < 0)
        return ERR_IO;
    if (fileio_write_all(fd, data, len) != 0) {
        log_error("msg=\"upload: write failed\" errno=%d", errno);
        close(fd);
        char tmp[4096], dst[4096];
        upload_paths(name, tmp, dst, sizeof tmp);
        unlink(tmp);
        return ERR_IO;
    }
    return commit_tmp(fd, name);
}

/* Pool thread: creates the temp file on first use, hashes and appends the pending bytes. */
static int job_write(struct upload *u)
{
    if (u->fd < 0 && (u->fd = create_tmp(u->id)) < 0)
        return ERR_IO;
    if (u->pending.len == 0)
        return 0;
    if (EVP_DigestUpdate(u->md, u->pending.data, u->pending.len) != 1)
        return ERR_INTERNAL;
    int rc = fileio_write_all(u->fd, u->pending.data, u->pending.len);
    if (rc != 0)
        log_error("msg=\"upload: write failed\" errno=%d", errno);
    return rc;
}

/* Pool thread: closes and removes the temp file (error, abort, disconnect). */
static void job_cleanup(struct upload *u)
{
    char tmp[4096], dst[4096];
    upload_paths(u->id, tmp, dst, sizeof tmp);
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
        if (unlink(tmp) != 0 && errno != ENOENT)
            log_error("msg=\"upload: cannot remove temp file\" errno=%d", errno);
    }
}

/* Pool thread: last bytes, sha256, fsync, rename into place, metadata sidecar. */
static int job_finish(struct upload *u)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = job_write(u);
    if (rc == 0 && EVP_DigestFinal_ex(u->md, md, &mdlen) != 1)
        rc = ERR_INTERNAL;
    if (rc != 0) {
        job_cleanup(u);
        return rc;
    }
    hex(md, 32, u->sha256);
    rc = commit_tmp(u->fd, u->id);
    u->fd = -1;
    if (rc != 0)
        return rc;
    char tmp[4096], dst[4096];
    upload_paths(u->id, tmp, dst, sizeof tmp);
    json_t *meta =
        json_pack("{sIsssIsssssI}", "owner", (json_int_t)u->owner, "filename", u->filename, "size",
                  (json_int_t)u->size, "sha256", u->sha256, "content_type", u->content_type,
                  "created_at", (json_int_t)clock_now_s());
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    char name[ID_HEX + 8];
    snprintf(name, sizeof name, "%s.json", u->id);
    rc = text ? write_file(name, text, strlen(text)) : ERR_INTERNAL;
    free(text);
    if (rc != 0)
        unlink(dst);
    return rc;
}

static void upload_work(void *arg)
{
    struct upload *u = arg;
    switch (u->op) {
    case OP_WRITE:
        u->job_rc = job_write(u);
        break;
    case OP_FINISH:
        u->job_rc = job_finish(u);
        break;
    case OP_CLEANUP:
        job_cleanup(u);
        u->job_rc = 0;
        break;
    }
}

static void upload_free(struct upload *u)
{
    EVP_MD_CTX_free(u->md);
    buf_dispose(&u->pending);
    free(u);
}

/* Answers the recorded error and frees u (the temp file is gone by now). */
static void upload_answer_error(struct upload *u)
{
    http_req_t *req = u->req;
    if (u->err == ERR_INVALID)
        api__bad_request(req, u->err_field, u->detail[0] ? u->detail : NULL);
    else if (u->err == ERR_TOO_LARGE || u->err == ERR_TIMEOUT)
        http_respond_error(req, u->err, u->detail[0] ? u->detail : NULL);
    else
        api__failure(req, u->err);
    upload_free(u);
}

static void upload_done(http_req_t *req, void *arg, int status);

/* Queues op on the pool. Returns 0, or ERR_UNAVAILABLE (pool full: nothing queued). */
static int upload_submit(struct upload *u, enum upload_op op)
{
    u->op = op;
    u->job_running = true;
    if (http_pool_submit(u->req, upload_work, upload_done, u) != 0) {
        u->job_running = false;
        return ERR_UNAVAILABLE;
    }
    return 0;
}

/*
 * Records the first error; once no job runs, removes the temp file (on the pool) and
 * answers it. u may be freed when this returns.
 */
static void upload_fail(struct upload *u, int err, const char *field, const char *detail)
{
    if (!u->err) {
        u->err = err;
        u->err_field = field;
        snprintf(u->detail, sizeof u->detail, "%s", detail ? detail : "");
    }
    if (u->job_running)
        return; /* upload_done goes on from here */
    if (u->fd >= 0 && upload_submit(u, OP_CLEANUP) == 0)
        return;
    if (u->fd >= 0) {
        job_cleanup(u); /* pool full: one close + unlink on the loop rather than a leftover */
    }
    upload_answer_error(u);
}

static void upload_done(http_req_t *req, void *arg, int status)
{
    struct upload *u = arg;
    u->job_running = false;
    int rc = status != 0 ? status : u->job_rc;
    if (u->op == OP_CLEANUP) {
        upload_answer_error(u);
        return;
    }
    if (u->op == OP_FINISH) {
        if (rc != 0 || u->err) {
            if (!u->err)
                u->err = rc;
            upload_answer_error(u); /* job_finish removed what it had written */
            return;
        }
        buf_t b;
        buf_init(&b, 4096);
        buf_append_cstr(&b, "{\"id\":");
        jsonw_buf_str(&b, u->id, strlen(u->id));
        buf_append_cstr(&b, ",\"filename\":");
        jsonw_buf_str(&b, u->filename, strlen(u->filename));
        buf_printf(&b, ",\"size\":%" PRIu64 ",\"sha256\":\"%s\"}", u->size, u->sha256);
        http_resp_header_add(req, "Location", http_req_strndup(req, str_cstr(u->id)));
        http_respond(req, 201, API_JSON_CT, buf_str(&b));
        buf_dispose(&b);
        upload_free(u);
        return;
    }
    buf_reset(&u->pending);
    if (rc != 0 || u->err) {
        upload_fail(u, rc ? rc : u->err, NULL, NULL); /* cleans up, then answers */
        return;
    }
    http_req_body_resume(req); /* last: may run the callbacks below, which may free u */
}

/* ---- multipart callbacks: the first part named "file" with a filename is the file ---- */

static int mp_on_part(void *arg, const http_mp_part_t *part)
{
    struct upload *u = arg;
    if (u->saw_file || !str_eq_cstr(part->name, "file"))
        return 0;
    u->saw_file = true;
    if (!part->has_filename)
        return 0; /* a plain field named "file": "No file was submitted." at the end */
    u->file_state = 1;
    http_mp_sanitize_filename(part->filename, u->filename, sizeof u->filename);
    str_t ct = part->content_type;
    if (ct.ptr && ct.len < sizeof u->content_type && text_utf8_valid(ct)) {
        memcpy(u->content_type, ct.ptr, ct.len);
        u->content_type[ct.len] = '\0';
        for (size_t i = 0; i < ct.len; i++) {
            if ((unsigned char)u->content_type[i] < 0x20)
                u->content_type[i] = ' ';
        }
    } else {
        snprintf(u->content_type, sizeof u->content_type, "application/octet-stream");
    }
    return 0;
}

static int mp_on_data(void *arg, str_t data)
{
    struct upload *u = arg;
    if (u->file_state != 1)
        return 0; /* other fields are not kept */
    u->size += data.len;
    if (u->size > g_res.max_upload_bytes)
        return ERR_TOO_LARGE;
    return buf_append_str(&u->pending, data) == 0 ? 0 : ERR_NOMEM;
}

static int mp_on_part_end(void *arg)
{
    struct upload *u = arg;
    if (u->file_state == 1)
        u->file_state = 2;
    return 0;
}

static const http_mp_callbacks_t upload_mp_cb = {mp_on_part, mp_on_data, mp_on_part_end};

/* ---- body callbacks ---------------------------------------------------------------------- */

static int upload_on_chunk(http_req_t *req, void *arg, str_t data)
{
    struct upload *u = arg;
    (void)req;
    int rc = http_mp_feed(&u->mp, data);
    if (rc == ERR_TOO_LARGE) {
        char msg[128];
        snprintf(msg, sizeof msg, "File too large: at most %" PRIu64 " bytes.",
                 g_res.max_upload_bytes);
        upload_fail(u, ERR_TOO_LARGE, NULL, msg);
        return ERR_TOO_LARGE;
    }
    if (rc != 0) {
        upload_fail(u, ERR_INVALID, NULL, "Malformed multipart/form-data body.");
        return ERR_INVALID;
    }
    if (u->pending.len == 0)
        return 0;
    if (upload_submit(u, OP_WRITE) != 0) {
        upload_fail(u, ERR_UNAVAILABLE, NULL, NULL);
        return ERR_UNAVAILABLE;
    }
    return ERR_AGAIN; /* upload_done resumes the body once the bytes are on disk */
}

static void upload_on_end(http_req_t *req, void *arg, int status)
{
    struct upload *u = arg;
    (void)req;
    if (status == ERR_TOO_LARGE) {
        char msg[128];
        snprintf(msg, sizeof msg, "Request body too large: at most %" PRIu64 " bytes.",
                 g_res.max_upload_bytes + API_UPLOAD_ENVELOPE_BYTES);
        upload_fail(u, status, NULL, msg);
    } else if (status == ERR_INVALID) {
        upload_fail(u, status, NULL, "Incomplete or malformed request body.");
    } else if (status != 0) {
        upload_fail(u, status, NULL, NULL); /* deadline, or the client is gone */
    } else if (http_mp_finish(&u->mp) != 0) {
        upload_fail(u, ERR_INVALID, NULL, "Malformed multipart/form-data body.");
    } else if (u->file_state != 2) {
        upload_fail(u, ERR_INVALID, "file", "No file was submitted.");
    } else if (upload_submit(u, OP_FINISH) != 0) {
        upload_fail(u, ERR_UNAVAILABLE, NULL, NULL);
    }
}

static void on_upload(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate(req, g_res.auth, c, &uid) != 0)
        return;
    str_t boundary;
    int rc = http_mp_boundary(http_req_header(req, "content-type"), &boundary);
    if (rc == ERR_UNSUPPORTED_MEDIA) {
        http_respond_error(req, ERR_UNSUPPORTED_MEDIA,
                           "Unsupported media type: expected multipart/form-data.");
        return;
    }
    if (rc != 0) {
        api__bad_request(req, NULL, "Malformed multipart/form-data: missing or bad boundary.");
        return;
    }
    unsigned char rnd[ID_HEX / 2];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        api__failure(req, ERR_INTERNAL);
        return;
    }
    struct upload *u = xcalloc(1, sizeof *u);
    u->req = req;
    u->owner = uid;
    u->fd = -1;
    hex(rnd, sizeof rnd, u->id);
    buf_init(&u->pending, API_UPLOAD_PENDING_MAX);
    u->md = EVP_MD_CTX_new();
    if (!u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1 ||
        http_mp_init(&u->mp, boundary, &upload_mp_cb, u) != 0) {
        upload_free(u);
        api__failure(req, ERR_INTERNAL);
        return;
    }
    rc = http_req_body_read(req, upload_on_chunk, upload_on_end, u);
    if (rc != 0) {
        upload_free(u);
        api__failure(req, rc); /* the client is gone: answered into the void */
    }
}

/* ==== GET /upload/{id} ======================================================================= */

struct meta_job {
    char id[ID_HEX + 1];
    int64_t requester;
    char *json; /* the answer, NULL when not found / not the owner */
    int rc;
};

static void meta_work(void *arg)
{
    struct meta_job *j = arg;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", g_res.upload_dir, j->id);
    json_error_t e;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!m) {
        j->rc = access(path, F_OK) == 0 ? ERR_IO : ERR_NOT_FOUND;
        return;
    }
    json_t *owner = json_object_get(m, "owner");
    if (!json_is_integer(owner) || json_integer_value(owner) != j->requester) {
        j->rc = ERR_NOT_FOUND;
        json_decref(m);
        return;
    }
    json_t *out = json_pack(
        "{sssOsOsOsOsO}", "id", j->id, "filename", json_object_get(m, "filename"), "size",
        json_object_get(m, "size"), "sha256", json_object_get(m, "sha256"), "content_type",
        json_object_get(m, "content_type"), "created_at", json_object_get(m, "created_at"));
    json_decref(m);
    j->json = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    j->rc = j->json ? 0 : ERR_IO;
}

static void meta_done(http_req_t *req, void *arg, int status)
{
    struct meta_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0)
        http_respond(req, 200, API_JSON_CT, str_cstr(j->json));
    else if (rc == ERR_NOT_FOUND)
        http_respond_error(req, ERR_NOT_FOUND, NULL);
    else
        api__failure(req, rc);
    free(j->json);
    free(j);
}

static bool id_ok(str_t id)
{
    if (id.len != ID_HEX)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        char ch = id.ptr[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
    }
    return true;
}

static void on_upload_get(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate(req, g_res.auth, c, &uid) != 0)
        return;
    str_t id = http_req_param(req, "id");
    if (!id_ok(id)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    struct meta_job *j = xcalloc(1, sizeof *j);
    memcpy(j->id, id.ptr, ID_HEX);
    j->requester = uid;
    if (http_pool_submit(req, meta_work, meta_done, j) != 0) {
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

/* ==== registration =========================================================================== */

/* mkdir -p of dir with mode 0700 for the components it creates. */
static int mkdirs(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return ERR_IO;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return ERR_IO;
        *s = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return ERR_IO;
    return 0;
}

/*
 * Removes temp files (.<id>.tmp) that a crashed process left behind: those not written to
 * for UPLOAD_STALE_S. An upload in progress writes its temp file continuously and the body
 * deadline ends it long before that, so this is safe while other instances share the
 * directory and upload into it.
 */
#define UPLOAD_STALE_S 3600

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
        if (e->d_name[0] != '.' || n < 6 || strcmp(e->d_name + n - 4, ".tmp") != 0)
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

/* See api.h. */
int api_resource_register(http_router_t *router, auth_t *auth, const api_service_options_t *o)
{
    g_res.auth = auth;
    free(g_res.upload_dir);
    g_res.upload_dir = xstrdup(o->upload_dir ? o->upload_dir : "var/uploads");
    g_res.max_upload_bytes = o->max_upload_bytes;
    if (mkdirs(g_res.upload_dir) != 0) {
        log_error("msg=\"cannot create upload directory\" dir=\"%s\" errno=%d", g_res.upload_dir,
                  errno);
        return ERR_IO;
    }
    sweep_stale_tmp(g_res.upload_dir);
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_GET, "/", on_root, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/protected", on_protected, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/admin/dashboard", on_admin_dashboard, NULL);
    /* Streamed: bounded by the upload limit plus the multipart envelope, not by
     * JWTD_MAX_BODY_BYTES (which bounds buffered bodies). */
    rc |= http_router_add_stream(router, HTTP_M_POST, "/upload", on_upload, NULL,
                                 (size_t)g_res.max_upload_bytes + API_UPLOAD_ENVELOPE_BYTES);
    rc |= http_router_add(router, HTTP_M_GET, "/upload/{id}", on_upload_get, NULL);
    return rc ? ERR_INVALID : 0;
}

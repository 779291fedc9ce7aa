/*
 * resource.c - the resource-server routes of API.md section 6 (seed 003): GET /,
 * GET /protected, GET /admin/dashboard, POST /upload and GET /upload/{id}.
 *
 * /protected and /admin/dashboard verify the Bearer token on the loop (authn.c) and answer
 * from its claims: no database. The admin check reads the token's `role` claim, which jwtd
 * always issues (the seed's FastAPI peer drops it before its check and so always answers
 * 403; jwtd answers 200 to an admin).
 *
 * Uploads: the body is multipart/form-data with a `file` field. The HTTP layer buffers the
 * whole body (bounded by JWTD_MAX_BODY_BYTES, 413 beyond); the file part is then checked
 * against JWTD_MAX_UPLOAD_BYTES (413) and written on the blocking pool to
 * <upload_dir>/<32 random hex> (O_EXCL, mode 0600) next to <id>.json, its metadata
 * (owner, sanitised client filename, size, sha256, content type, time). The client's
 * filename never becomes part of a path, so no traversal is possible; it is only stored,
 * sanitised, as metadata. GET /upload/{id} answers the metadata to the owner and 404 to
 * everybody else (existence is not revealed).
 *
 * DESIGN: metadata lives in a sidecar file rather than the database so that an upload
 * needs no schema change and the directory is self-describing (a backup of the directory
 * is complete). Writes go to a temp name and are renamed into place, so a crash never
 * leaves a metadata file pointing at a partial upload.
 */
#define LOG_MODULE "api"
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "api/multipart.h"
#include "api/svc.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define ID_HEX 32

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
    api__json_str(&b, msg, strlen(msg));
    buf_append_cstr(&b, ",\"user_id\":");
    api__json_str(&b, c->user_id, strlen(c->user_id));
    buf_append_cstr(&b, ",\"username\":");
    if (c->username)
        api__json_str(&b, c->username, strlen(c->username));
    else
        buf_append_cstr(&b, "null");
    buf_append_cstr(&b, ",\"role\":");
    if (c->role)
        api__json_str(&b, c->role, strlen(c->role));
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

/* ==== POST /upload =========================================================================== */

struct upload_job {
    int64_t owner;
    const char *data; /* the file bytes: a slice of the request body, valid until we respond */
    size_t len;
    char filename[256];
    char content_type[128];
    char id[ID_HEX + 1];
    char sha256[65];
    int rc;
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

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes data to dir/name via dir/.name.tmp + fsync + rename. */
static int write_file(const char *name, const char *data, size_t len)
{
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", g_res.upload_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", g_res.upload_dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_error("msg=\"upload: cannot create file\" errno=%d", errno);
        return ERR_IO;
    }
    int rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = ERR_IO;
    if (close(fd) != 0)
        rc = ERR_IO;
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = ERR_IO;
    if (rc != 0) {
        log_error("msg=\"upload: write failed\" errno=%d", errno);
        unlink(tmp);
    }
    return rc;
}

static void upload_work(void *arg)
{
    struct upload_job *j = arg;
    unsigned char rnd[ID_HEX / 2], md[32];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        j->rc = ERR_INTERNAL;
        return;
    }
    hex(rnd, sizeof rnd, j->id);
    unsigned int mdlen = 0;
    if (EVP_Digest(j->data, j->len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        j->rc = ERR_INTERNAL;
        return;
    }
    hex(md, 32, j->sha256);
    j->rc = write_file(j->id, j->data, j->len);
    if (j->rc != 0)
        return;
    json_t *meta =
        json_pack("{sIsssIsssssI}", "owner", (json_int_t)j->owner, "filename", j->filename, "size",
                  (json_int_t)j->len, "sha256", j->sha256, "content_type", j->content_type,
                  "created_at", (json_int_t)clock_now_s());
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    char name[ID_HEX + 8];
    snprintf(name, sizeof name, "%s.json", j->id);
    j->rc = text ? write_file(name, text, strlen(text)) : ERR_INTERNAL;
    free(text);
    if (j->rc != 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", g_res.upload_dir, j->id);
        unlink(path);
    }
}

static void upload_done(http_req_t *req, void *arg, int status)
{
    struct upload_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc != 0) {
        api__failure(req, rc);
    } else {
        buf_t b;
        buf_init(&b, 4096);
        buf_append_cstr(&b, "{\"id\":");
        api__json_str(&b, j->id, strlen(j->id));
        buf_append_cstr(&b, ",\"filename\":");
        api__json_str(&b, j->filename, strlen(j->filename));
        buf_printf(&b, ",\"size\":%zu,\"sha256\":\"%s\"}", j->len, j->sha256);
        http_resp_header_add(req, "Location", http_req_strndup(req, str_cstr(j->id)));
        http_respond(req, 201, API_JSON_CT, buf_str(&b));
        buf_dispose(&b);
    }
    free(j);
}

static void on_upload(http_req_t *req)
{
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate(req, g_res.auth, c, &uid) != 0)
        return;
    str_t boundary;
    int rc = api_mp_boundary(http_req_header(req, "content-type"), &boundary);
    if (rc == ERR_UNSUPPORTED_MEDIA) {
        http_respond_error(req, ERR_UNSUPPORTED_MEDIA,
                           "Unsupported media type: expected multipart/form-data.");
        return;
    }
    if (rc != 0) {
        api__bad_request(req, NULL, "Malformed multipart/form-data: missing or bad boundary.");
        return;
    }
    size_t pos = 0;
    api_mp_part_t part, file = {0};
    bool found = false;
    while ((rc = api_mp_next(req->body, boundary, &pos, &part)) == 0) {
        if (!found && str_eq_cstr(part.name, "file")) {
            file = part;
            found = true;
        }
    }
    if (rc != ERR_DECLINED) {
        api__bad_request(req, NULL, "Malformed multipart/form-data body.");
        return;
    }
    if (!found || !file.has_filename) {
        api__bad_request(req, "file", "No file was submitted.");
        return;
    }
    if (file.data.len > g_res.max_upload_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg, "File too large: at most %" PRIu64 " bytes.",
                 g_res.max_upload_bytes);
        http_respond_error(req, ERR_TOO_LARGE, msg);
        return;
    }
    struct upload_job *j = xcalloc(1, sizeof *j);
    j->owner = uid;
    j->data = file.data.ptr;
    j->len = file.data.len;
    api_mp_sanitize_filename(file.filename, j->filename, sizeof j->filename);
    if (file.content_type.ptr && file.content_type.len < sizeof j->content_type &&
        api__utf8_valid(file.content_type)) {
        memcpy(j->content_type, file.content_type.ptr, file.content_type.len);
        for (size_t i = 0; i < file.content_type.len; i++) {
            if ((unsigned char)j->content_type[i] < 0x20)
                j->content_type[i] = ' ';
        }
    } else {
        snprintf(j->content_type, sizeof j->content_type, "application/octet-stream");
    }
    if (http_pool_submit(req, upload_work, upload_done, j) != 0) {
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
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
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_GET, "/", on_root, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/protected", on_protected, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/admin/dashboard", on_admin_dashboard, NULL);
    rc |= http_router_add(router, HTTP_M_POST, "/upload", on_upload, NULL);
    rc |= http_router_add(router, HTTP_M_GET, "/upload/{id}", on_upload_get, NULL);
    return rc ? ERR_INVALID : 0;
}

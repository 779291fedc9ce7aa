/*
 * uploads.c - POST /upload and GET /upload/{id}.
 *
 * POST /upload takes multipart/form-data with a `file` field, streamed: it is a streaming
 * route (http_router_add_stream), so the handler runs once the headers are in
 * (authentication, Content-Type) and then takes the body chunk by chunk. Each chunk goes
 * through the streaming multipart parser (http/multipart.h); the file part's bytes are
 * written on the blocking pool (storage: upload_store.c) and hashed (sha256, EVP) there,
 * with the body paused meanwhile, so memory stays at about one read buffer whatever the
 * file size. The file part is bounded by JWTD_MAX_UPLOAD_BYTES (413 as soon as it goes
 * over), the body by that plus UPLOAD_ENVELOPE_BYTES. On any error, abort, deadline or
 * disconnect the temp file is removed before the answer. GET /upload/{id} answers the
 * metadata to the owner and 404 to everybody else (existence is not revealed).
 */
#define LOG_MODULE "resource"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/text.h"
#include "http/multipart.h"
#include "resource/resource_internal.h"
#include "runtime/alloc.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

/* Room for the multipart envelope and small fields around the file part. */
#define UPLOAD_ENVELOPE_BYTES 65536
/* Bound of the bytes kept between two writes (one read's worth in practice). */
#define UPLOAD_PENDING_MAX (4u << 20)

/* ==== POST /upload (streamed) ============================================================ */

enum upload_op { OP_WRITE, OP_FINISH, OP_CLEANUP };

/*
 * One upload in progress. Owned by the request's loop, except while a job runs: then the
 * pool thread owns fd, md, pending and job_rc, and the loop touches none of them (the body
 * is paused, so no chunk arrives meanwhile). Freed once the response is sent.
 */
struct upload {
    http_req_t *req;
    resource_t *res;
    int64_t owner;
    int fd;            /* the temp file; -1 until the first write creates it */
    EVP_MD_CTX *md;    /* sha256 of the file part, updated as it is written */
    buf_t pending;     /* file bytes of the last chunk, not written yet */
    uint64_t size;     /* file bytes received */
    enum upload_op op; /* of the job in flight */
    int job_rc;        /* its result */
    bool job_running;
    bool saw_file;                       /* a part named "file" came (the first one counts) */
    uint8_t file_state;                  /* 0 not yet, 1 inside the file part, 2 after it */
    int err;                             /* first error: answered once the temp file is gone */
    const char *err_field;               /* 400: the field the message is about, or NULL */
    char detail[128];                    /* the error's message */
    char id[RESOURCE_UPLOAD_ID_HEX + 1]; /* the stored name, random */
    char filename[256];                  /* sanitised client filename (metadata only) */
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

/* Pool thread: creates the temp file on first use, hashes and appends the pending bytes. */
static int job_write(struct upload *u)
{
    if (u->fd < 0 && (u->fd = resource__upload_create(u->res, u->id)) < 0)
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
    resource__upload_discard(u->res, u->id, u->fd);
    u->fd = -1;
}

/* Pool thread: last bytes, sha256, then the store commits the file and its metadata. */
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
    rc = resource__upload_commit(u->res, u->id, u->fd, u->owner, u->filename, u->size, u->sha256,
                                 u->content_type);
    u->fd = -1;
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
        api__respond_buf(req, 201, &b);
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
    if (u->size > u->res->max_upload_bytes)
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
                 u->res->max_upload_bytes);
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
                 u->res->max_upload_bytes + UPLOAD_ENVELOPE_BYTES);
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
    resource_t *res = req->route_data;
    const auth_token_ref_t *t = resource__caller(req, NULL);
    if (!t)
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
    unsigned char rnd[RESOURCE_UPLOAD_ID_HEX / 2];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        api__failure(req, ERR_INTERNAL);
        return;
    }
    struct upload *u = xcalloc(1, sizeof *u);
    u->req = req;
    u->res = res;
    u->owner = t->user_id;
    u->fd = -1;
    hex(rnd, sizeof rnd, u->id);
    buf_init(&u->pending, UPLOAD_PENDING_MAX);
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
    resource_t *res;
    char id[RESOURCE_UPLOAD_ID_HEX + 1];
    int64_t requester;
    char *json; /* the answer, NULL when not found / not the owner */
    int rc;
};

static void meta_work(void *arg)
{
    struct meta_job *j = arg;
    j->rc = resource__upload_meta(j->res, j->id, j->requester, &j->json);
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
    if (id.len != RESOURCE_UPLOAD_ID_HEX)
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
    resource_t *res = req->route_data;
    const auth_token_ref_t *t = resource__caller(req, NULL);
    if (!t)
        return;
    str_t id = http_req_param(req, "id");
    if (!id_ok(id)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    struct meta_job *j = xcalloc(1, sizeof *j);
    j->res = res;
    memcpy(j->id, id.ptr, RESOURCE_UPLOAD_ID_HEX);
    j->requester = t->user_id;
    api__submit(req, meta_work, meta_done, j, free);
}

static int uploads_mount(http_router_t *r, void *data)
{
    resource_t *res = data;
    int rc = 0;
    /* Streamed: bounded by the upload limit plus the multipart envelope, not by
     * JWTD_MAX_BODY_BYTES (which bounds buffered bodies). */
    rc |= http_router_add_stream(r, HTTP_M_POST, "/upload", on_upload, res,
                                 (size_t)res->max_upload_bytes + UPLOAD_ENVELOPE_BYTES);
    rc |= http_router_add(r, HTTP_M_GET, "/upload/{id}", on_upload_get, res);
    return rc ? ERR_INVALID : 0;
}

/* See resource_internal.h. */
const api_family_t resource__uploads_family = API_FAMILY_MOUNT(uploads_mount);

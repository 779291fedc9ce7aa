/*
 * static.c - the web UI under /app/ (web/app/ by default, JWTD_WEB_DIR): a tiny static
 * file server that cannot be walked out of.
 *
 * At start every regular file below the directory (no dot-files, bounded count, size and
 * depth) is read into memory and registered as its own exact GET route, "/app/<path>";
 * a directory's index.html also answers "/app/<dir>/". Requests never touch the file
 * system, so "..", encoded slashes or symlink games have nothing to resolve: a path that
 * was not loaded is a 404 from the router. Changing the UI means restarting jwtd.
 *
 * Every answer carries a content type from the extension, a strong ETag (If-None-Match ->
 * 304), Cache-Control: no-cache (always revalidate: cheap with the ETag, never stale after
 * a deploy) and the security headers of the UI: a CSP without inline scripts or styles and
 * with frame-ancestors 'none', X-Frame-Options, Referrer-Policy and
 * Cross-Origin-Opener-Policy. (X-Content-Type-Options: nosniff comes from the "observe"
 * link, the first of the chain, on every answer; the tests check it.)
 */
#define LOG_MODULE "api"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/routes/routes.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define MAX_FILES       256
#define MAX_TOTAL_BYTES (16u << 20)
#define MAX_DEPTH       4

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "                  \
    "form-action 'self'; frame-ancestors 'none'"

struct file {
    char *route;   /* "/app/index.html" */
    char *content; /* file bytes */
    size_t len;
    const char *type;
    char etag[24]; /* "\"<16 hex>\"" */
};

/* The loaded UI (api_ctx_t.ui). */
struct api_static {
    struct file *files[MAX_FILES * 2]; /* a directory's index.html has a second route */
    size_t count;
    size_t total; /* bytes */
};

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".map", "application/json; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    if (dot) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
        }
    }
    return "application/octet-stream";
}

/* FNV-1a 64 of the content: a strong validator for bytes that never change while running. */
static void make_etag(struct file *f)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < f->len; i++) {
        h ^= (unsigned char)f->content[i];
        h *= 1099511628211ull;
    }
    snprintf(f->etag, sizeof f->etag, "\"%016" PRIx64 "\"", h);
}

static bool etag_matches(str_t inm, const char *etag)
{
    size_t el = strlen(etag);
    for (size_t i = 0; i + el <= inm.len; i++) {
        if (memcmp(inm.ptr + i, etag, el) == 0)
            return true;
    }
    return inm.len == 1 && inm.ptr[0] == '*';
}

static void on_file(http_req_t *req)
{
    const struct file *f = req->route_data;
    http_resp_header_add(req, "ETag", f->etag);
    http_resp_header_add(req, "Cache-Control", "no-cache");
    http_resp_header_add(req, "Content-Security-Policy", CSP);
    http_resp_header_add(req, "X-Frame-Options", "DENY");
    http_resp_header_add(req, "Referrer-Policy", "no-referrer");
    http_resp_header_add(req, "Cross-Origin-Opener-Policy", "same-origin");
    str_t inm = http_req_header(req, "if-none-match");
    if (inm.ptr && etag_matches(inm, f->etag)) {
        http_respond(req, 304, NULL, STR_NULL);
        return;
    }
    http_respond(req, 200, f->type, str_make(f->content, f->len));
}

static void on_app_redirect(http_req_t *req)
{
    http_resp_header_add(req, "Location", "/app/");
    http_respond(req, 301, NULL, STR_NULL);
}

/* Whether a name is safe as one route segment (the router matches it literally). */
static bool name_ok(const char *n)
{
    if (n[0] == '.' || !n[0])
        return false;
    for (const char *p = n; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}' || c == '?' || c == '#' || c == '%')
            return false;
    }
    return true;
}

static int read_file(const char *path, size_t size, char **out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ERR_IO;
    char *buf = xmalloc(size + 1);
    size_t n = fread(buf, 1, size, fp);
    fclose(fp);
    if (n != size) {
        free(buf);
        return ERR_IO;
    }
    buf[size] = '\0';
    *out = buf;
    return 0;
}

static int add_route(http_router_t *router, struct api_static *ui, const char *route,
                     struct file *f)
{
    if (ui->count >= sizeof ui->files / sizeof ui->files[0])
        return ERR_TOO_LARGE;
    struct file *copy = f;
    if (strcmp(route, f->route) != 0) {
        copy = xcalloc(1, sizeof *copy);
        *copy = *f;
        copy->route = xstrdup(route);
        copy->content = NULL; /* shares f's bytes; freed through f */
        copy->len = f->len;
    }
    ui->files[ui->count++] = copy;
    const struct file *serve = f;
    return http_router_add(router, HTTP_M_GET, copy->route, on_file, (void *)serve) == 0
               ? 0
               : ERR_INVALID;
}

static int load_dir(http_router_t *router, struct api_static *ui, const char *dir,
                    const char *prefix, int depth, size_t *files)
{
    DIR *d = opendir(dir);
    if (!d)
        return ERR_IO;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!name_ok(e->d_name))
            continue;
        char path[4096], route[1024];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            (size_t)snprintf(route, sizeof route, "%s%s", prefix, e->d_name) >= sizeof route - 2)
            continue;
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth >= MAX_DEPTH)
                continue;
            size_t rl = strlen(route);
            route[rl] = '/';
            route[rl + 1] = '\0';
            rc = load_dir(router, ui, path, route, depth + 1, files);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (*files >= MAX_FILES || ui->total + (size_t)st.st_size > MAX_TOTAL_BYTES) {
            log_error("msg=\"web UI too large\" dir=%s limit_files=%d limit_bytes=%u", dir,
                      MAX_FILES, MAX_TOTAL_BYTES);
            rc = ERR_TOO_LARGE;
            break;
        }
        struct file *f = xcalloc(1, sizeof *f);
        if (read_file(path, (size_t)st.st_size, &f->content) != 0) {
            free(f);
            log_error("msg=\"cannot read web UI file\" path=%s", path);
            rc = ERR_IO;
            break;
        }
        f->len = (size_t)st.st_size;
        f->route = xstrdup(route);
        f->type = content_type(e->d_name);
        make_etag(f);
        ui->total += f->len;
        (*files)++;
        rc = add_route(router, ui, route, f);
        if (rc == 0 && strcmp(e->d_name, "index.html") == 0)
            rc = add_route(router, ui, prefix, f);
    }
    closedir(d);
    return rc;
}

static int static_mount(http_router_t *router, void *data)
{
    api_ctx_t *ctx = data;
    const char *dir = ctx->o.web_dir;
    if (!dir || !*dir)
        return 0;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        log_info("msg=\"no web UI: JWTD_WEB_DIR is not a directory\" dir=%s", dir);
        return 0;
    }
    size_t files = 0;
    ctx->ui = xcalloc(1, sizeof *ctx->ui);
    int rc = load_dir(router, ctx->ui, dir, "/app/", 0, &files);
    if (rc == 0)
        rc = http_router_add(router, HTTP_M_GET, "/app", on_app_redirect, NULL) == 0 ? 0
                                                                                     : ERR_INVALID;
    if (rc == 0)
        log_info("msg=\"web UI loaded\" dir=%s files=%zu bytes=%zu", dir, files, ctx->ui->total);
    return rc;
}

/* See routes.h. */
const api_family_t api_static_family = API_FAMILY_MOUNT(static_mount);

/* See routes.h. */
void api_static_free(struct api_static *ui)
{
    if (!ui)
        return;
    for (size_t i = 0; i < ui->count; i++) {
        free(ui->files[i]->route);
        free(ui->files[i]->content);
        free(ui->files[i]);
    }
    free(ui);
}

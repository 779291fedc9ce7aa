/*
 * http_request.c - libFuzzer target for the whole request path without sockets: bytes ->
 * llhttp glue and limits (conn.c) -> router -> handlers -> serialised responses.
 *
 * The input is fed in up to four pieces (split points taken from the first bytes) so that
 * partial requests, buffering into the connection and slice rebasing are exercised. One
 * route answers asynchronously (after the next piece), like a pool job would, to cover
 * pausing and resuming the parser. Handlers also run the query, form and JSON parsers.
 * A streaming route (/stream/{mode}) takes its body chunk by chunk, pausing on every other
 * chunk until the next piece (back-pressure), starting to read late ("later"), answering
 * before reading ("deny") or in the middle of the body ("quit"); at the end a request still
 * in flight is told its client is gone, as the transport does, and must then be answered.
 * Invariants checked: every response the connection writes starts with "HTTP/1.1 ";
 * streamed chunks are never empty; no request is left unanswered.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "http/http_internal.h"
#include "runtime/log.h"

static http_router_t *router;
static struct http_options opts;
static buf_t captured;
static http_req_t *pending;

static void cap_write(http_conn_t *c, const char *data, size_t len)
{
    (void)c;
    if (len < 9 || memcmp(data, "HTTP/1.1 ", 9) != 0)
        abort();
    buf_append(&captured, data, len);
}

static void cap_close(http_conn_t *c)
{
    c->closed = true;
}

static void cap_pause(http_conn_t *c, bool paused)
{
    (void)c;
    (void)paused;
}

static const struct http_io cap_io = {cap_write, cap_close, cap_pause};

static http_req_t *stream_wait;   /* "later": reads its body after the next piece */
static http_req_t *stream_paused; /* its consumer answered ERR_AGAIN */
static size_t stream_bytes;
static unsigned stream_chunks;

static int st_chunk(http_req_t *req, void *arg, str_t d)
{
    (void)arg;
    if (d.len == 0 || stream_paused)
        abort();
    stream_bytes += d.len;
    if (str_eq_cstr(http_req_param(req, "mode"), "quit") && stream_bytes > 100) {
        http_respond_error(req, ERR_TOO_LARGE, NULL);
        return ERR_TOO_LARGE;
    }
    if (++stream_chunks % 2 == 0) {
        stream_paused = req;
        return ERR_AGAIN;
    }
    return 0;
}

static void st_end(http_req_t *req, void *arg, int status)
{
    (void)arg;
    if (status != 0) {
        http_respond_error(req, status, NULL);
        return;
    }
    char b[32];
    int n = snprintf(b, sizeof b, "%zu", stream_bytes);
    http_respond(req, 201, "text/plain", str_make(b, (size_t)n));
}

static void on_stream(http_req_t *req)
{
    str_t m = http_req_param(req, "mode");
    stream_bytes = 0;
    stream_chunks = 0;
    if (str_eq_cstr(m, "deny")) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return;
    }
    if (str_eq_cstr(m, "later")) {
        stream_wait = req;
        return;
    }
    if (http_req_body_read(req, st_chunk, st_end, NULL) != 0)
        http_respond_error(req, ERR_IO, NULL);
}

static void answer_stream(void)
{
    if (stream_wait) {
        http_req_t *req = stream_wait;
        stream_wait = NULL;
        if (http_req_body_read(req, st_chunk, st_end, NULL) != 0)
            http_respond_error(req, ERR_IO, NULL);
    }
    if (stream_paused) {
        http_req_t *req = stream_paused;
        stream_paused = NULL;
        http_req_body_resume(req);
    }
}

static void on_health(http_req_t *req)
{
    http_respond(req, 200, "application/json", STR_LIT("{\"status\":\"ok\"}"));
}

static void on_post(http_req_t *req)
{
    str_t id = http_req_param(req, "id"), q;
    json_t *o = json_object();
    json_object_set_new(o, "peer", json_string(http_req_peer_str(req)));
    json_object_set_new(o, "id", json_stringn(id.ptr, id.len));
    if (http_req_query(req, "q", &q) == 0)
        json_object_set_new(o, "q", json_stringn(q.ptr, q.len));
    http_respond_json(req, 200, o);
    json_decref(o);
}

static void on_json(http_req_t *req)
{
    json_t *root;
    if (http_req_json(req, &root) != 0)
        return;
    http_respond_json(req, 201, root);
    json_decref(root);
}

static void on_async(http_req_t *req)
{
    pending = req; /* answered after the next piece of input */
}

static void answer_pending(void)
{
    if (!pending)
        return;
    http_req_t *req = pending;
    pending = NULL;
    http_resp_header_add(req, "Set-Cookie", "a=1");
    http_resp_header_add(req, "Set-Cookie", "b=2");
    http_respond(req, 202, "text/plain", req->body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_OFF);
    http_options_defaults(&opts);
    opts.max_header_bytes = 2048;
    opts.max_headers = 20;
    opts.max_url_bytes = 512;
    opts.max_body_bytes = 4096;
    opts.json_max_depth = 8;
    router = http_router_new();
    http_router_add(router, HTTP_M_GET, "/healthz", on_health, NULL);
    http_router_add(router, HTTP_M_GET, "/posts/{id}", on_post, NULL);
    http_router_add(router, HTTP_M_DELETE, "/posts/{id}/", on_post, NULL);
    http_router_add(router, HTTP_M_POST, "/json", on_json, NULL);
    http_router_add(router, HTTP_M_PUT, "/json", on_json, NULL);
    http_router_add(router, HTTP_M_POST, "/async/{a}/{b}", on_async, NULL);
    http_router_add_stream(router, HTTP_M_POST, "/stream/{mode}", on_stream, NULL, 2048);
    buf_init(&captured, (size_t)64 << 20);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static http_worker_t w;
    if (!w.rbuf)
        http__worker_init_common(&w, router, &opts, &cap_io);
    http_conn_t *c = calloc(1, sizeof *c);
    http__conn_init(c, &w);
    (void)ip_parse(STR_LIT("127.0.0.1"), &c->peer);
    size_t cuts[4] = {0, 0, 0, size};
    if (size >= 3) {
        cuts[0] = data[0] % (size + 1);
        cuts[1] = cuts[0] + data[1] % (size - cuts[0] + 1);
        cuts[2] = cuts[1] + data[2] % (size - cuts[1] + 1);
    }
    size_t start = 0;
    for (int i = 0; i < 4; i++) {
        size_t end = cuts[i];
        if (end > start) {
            /* A fresh heap copy per piece, freed right after: like a socket's reused
             * buffer, and ASan reports any slice still pointing into it. */
            char *piece = malloc(end - start);
            memcpy(piece, data + start, end - start);
            http__conn_feed(c, piece, end - start);
            free(piece);
            start = end;
        }
        answer_pending();
        answer_stream();
    }
    http__conn_eof(c);
    answer_pending();
    answer_stream();
    if (http__conn_in_flight(c)) {
        c->closed = true; /* the client is gone, as server.c reports it */
        http__conn_gone(c);
        answer_stream();
        if (http__conn_in_flight(c))
            abort(); /* nobody will ever answer it */
    }
    http__conn_flush(c);
    http__conn_dispose(c);
    buf_dispose(&c->body);
    free(c);
    buf_reset(&captured);
    return 0;
}

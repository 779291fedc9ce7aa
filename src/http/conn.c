/*
 * conn.c - one HTTP/1.1 connection as a socket-free state machine: llhttp glue, limits,
 * request buffering, dispatch to the router, and response serialisation.
 *
 * It is fed bytes (http__conn_feed) and emits responses through the worker's io hooks,
 * so the same code serves sockets (server.c) and the fuzz target (fuzz/http_request.c).
 * Not for: sockets, timers, threads (server.c), routing tables (router.c).
 *
 * DESIGN: see http_internal.h for the buffering scheme. Requests are answered strictly in
 * order: when a handler does not answer before returning, llhttp is paused right after
 * that request (HPE_PAUSED from on_message_complete), the transport stops reading, and
 * the unparsed rest of the input waits in ibuf until the handler responds. Responses of
 * one read (pipelining) are appended to the worker's shared output buffer and written
 * with one write when the read has been processed.
 *
 * Streamed bodies: when a request with a body targets a streaming route, the header
 * section is copied into the arena and the request is dispatched from on_headers_complete.
 * Until the handler calls http_req_body_read, the parser stays paused there (the state is
 * CONN_HANDLER, like an asynchronous handler). Then each on_body piece goes straight to
 * the consumer; when it answers ERR_AGAIN the parser pauses inside on_body, the transport
 * stops reading and the rest of the current read waits in ibuf, so memory stays at one
 * read buffer per upload whatever the body size. Errors while streaming (limit, deadline,
 * framing, EOF, disconnect) go to the consumer's on_end instead of a response of ours: the
 * consumer owns the response (and its cleanup), and the connection closes after it.
 */
#define LOG_MODULE "http"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/text.h"
#include "http/http_internal.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"
#include "runtime/log.h"

/* Where a streamed body is (http_conn.body_state; meaningful while req._stream). */
enum http_body_state {
    BODY_WAIT = 1, /* dispatched after the headers; the handler has not asked for the body */
    BODY_READING,  /* delivered to on_chunk as it arrives */
    BODY_PAUSED,   /* on_chunk returned ERR_AGAIN: parser paused until http_req_body_resume */
    BODY_DONE,     /* complete: on_end(0) was delivered */
    BODY_QUIT,     /* ended early: the consumer stopped, was told of an error, or responded */
};

static llhttp_settings_t parser_settings;

/* ---- worker common state ---------------------------------------------------------------- */

static int on_message_begin(llhttp_t *p);
static int on_url(llhttp_t *p, const char *at, size_t len);
static int on_header_field(llhttp_t *p, const char *at, size_t len);
static int on_header_value(llhttp_t *p, const char *at, size_t len);
static int on_headers_complete(llhttp_t *p);
static int on_body(llhttp_t *p, const char *at, size_t len);
static int on_message_complete(llhttp_t *p);

/* Sets up what conn.c needs in a worker (shared buffers, date). */
void http__worker_init_common(http_worker_t *w, const http_router_t *router,
                              const struct http_options *opts, const struct http_io *io)
{
    if (!parser_settings.on_message_complete) {
        llhttp_settings_t s;
        llhttp_settings_init(&s);
        s.on_message_begin = on_message_begin;
        s.on_url = on_url;
        s.on_header_field = on_header_field;
        s.on_header_value = on_header_value;
        s.on_headers_complete = on_headers_complete;
        s.on_body = on_body;
        s.on_message_complete = on_message_complete;
        parser_settings = s; /* idempotent: every worker writes the same bytes */
    }
    w->router = router;
    w->opts = opts;
    w->io = io;
    w->rbuf = xmalloc(HTTP_READ_BUF);
    buf_init(&w->out, (size_t)1 << 30);
    w->date_sec = -1;
    http__worker_update_date(w, (int64_t)time(NULL));
}

/* Frees what http__worker_init_common allocated. */
void http__worker_dispose_common(http_worker_t *w)
{
    free(w->rbuf);
    w->rbuf = NULL;
    buf_dispose(&w->out);
    while (w->free_chunks) {
        struct http_arena_chunk *ch = w->free_chunks;
        w->free_chunks = ch->next;
        free(ch);
    }
    w->free_chunk_count = 0;
}

/* Regenerates the cached "Date: ...\r\n" line when the second changed. */
void http__worker_update_date(http_worker_t *w, int64_t now_s)
{
    if (now_s == w->date_sec)
        return;
    time_t t = (time_t)now_s;
    struct tm tm;
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    gmtime_r(&t, &tm);
    int n =
        snprintf(w->date_line, sizeof w->date_line, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                 days[tm.tm_wday & 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
    w->date_len = n > 0 && (size_t)n < sizeof w->date_line ? (size_t)n : 0;
    w->date_sec = now_s;
}

/* ---- connection lifecycle --------------------------------------------------------------- */

/* Initialises c (zeroed by the caller) for worker w. */
void http__conn_init(http_conn_t *c, http_worker_t *w)
{
    c->worker = w;
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    c->req._conn = c;
    c->req.worker = w;
    buf_init(&c->body, w->opts->max_body_bytes);
    c->state = CONN_IDLE;
}

/* Frees what the connection holds (not the struct). */
void http__conn_dispose(http_conn_t *c)
{
    http__arena_reset(&c->req);
    buf_dispose(&c->body);
    free(c->ibuf);
    c->ibuf = NULL;
    c->ilen = c->icap = 0;
    free(c->peer_str);
    c->peer_str = NULL;
}

/* Resets the per-request state (keeps the arena chunks released already). */
static void req_clear(http_conn_t *c)
{
    http_req_t *req = &c->req;
    http__arena_reset(req);
    http_worker_t *w = req->worker;
    memset(req, 0, sizeof *req);
    req->_conn = c;
    req->worker = w;
    buf_reset(&c->body);
    c->body_total = 0;
    c->span_end = NULL;
    c->hdr_end = NULL;
    c->last_cb = 0;
}

static inline uint64_t now_ms(const http_worker_t *w)
{
    return w->loop ? uv_now(w->loop) : 0;
}

/* ---- slices and buffers ----------------------------------------------------------------- */

static inline void rebase_one(const char **p, const char *lo, const char *hi, ptrdiff_t delta)
{
    if (*p && (uintptr_t)*p >= (uintptr_t)lo && (uintptr_t)*p <= (uintptr_t)hi)
        *p = (const char *)((uintptr_t)*p + (uintptr_t)delta);
}

/* Moves every slice of the current request that points into [lo, hi] by delta bytes. */
static void rebase(http_conn_t *c, const char *lo, const char *hi, ptrdiff_t delta)
{
    http_req_t *req = &c->req;
    rebase_one(&req->target.ptr, lo, hi, delta);
    for (uint32_t i = 0; i < req->header_count; i++) {
        rebase_one(&req->headers[i].name.ptr, lo, hi, delta);
        rebase_one(&req->headers[i].value.ptr, lo, hi, delta);
    }
    if (!req->_body_owned)
        rebase_one(&req->body.ptr, lo, hi, delta);
    rebase_one(&c->span_end, lo, hi, delta);
    rebase_one(&c->hdr_end, lo, hi, delta);
}

/* Ensures ibuf can hold need bytes, rebasing slices into it when it moves. */
static void ibuf_reserve(http_conn_t *c, size_t need)
{
    if (need <= c->icap && c->ibuf)
        return;
    size_t cap = c->icap ? c->icap : 1024;
    while (cap < need)
        cap *= 2;
    char *old = c->ibuf;
    char *nb = xmalloc(cap);
    if (old) {
        memcpy(nb, old, c->ilen);
        rebase(c, old, old + c->ilen, nb - old);
        free(old);
    }
    c->ibuf = nb;
    c->icap = cap;
}

static void ibuf_release(http_conn_t *c)
{
    free(c->ibuf);
    c->ibuf = NULL;
    c->ilen = c->icap = 0;
}

/* Puts [from, to) at the front of ibuf (it may already be inside ibuf) and rebases. */
static void ibuf_keep(http_conn_t *c, const char *from, const char *to)
{
    size_t n = (size_t)(to - from);
    if (n == 0) {
        ibuf_release(c);
        return;
    }
    bool inside = c->ibuf && from >= c->ibuf && from <= c->ibuf + c->ilen;
    if (inside) {
        if (from != c->ibuf) {
            memmove(c->ibuf, from, n);
            rebase(c, from, to, c->ibuf - from);
        }
        c->ilen = n;
        return;
    }
    c->ilen = 0;
    ibuf_reserve(c, n);
    memcpy(c->ibuf, from, n);
    rebase(c, from, to, c->ibuf - from);
    c->ilen = n;
}

/* Appends new input to ibuf. */
static void ibuf_append(http_conn_t *c, const char *data, size_t len)
{
    ibuf_reserve(c, c->ilen + len);
    memcpy(c->ibuf + c->ilen, data, len);
    c->ilen += len;
}

/* ---- llhttp callbacks ------------------------------------------------------------------- */

static inline void note_end(http_conn_t *c, const char *end)
{
    if (!c->span_end || (uintptr_t)end > (uintptr_t)c->span_end)
        c->span_end = end;
}

static int fail(http_conn_t *c, int err)
{
    c->err = err;
    return HPE_USER;
}

static bool header_section_too_big(const http_conn_t *c, const char *end)
{
    const char *start = c->req.target.ptr;
    return start && (size_t)(end - start) > c->worker->opts->max_header_bytes;
}

static int on_message_begin(llhttp_t *p)
{
    http_conn_t *c = p->data;
    req_clear(c);
    c->state = CONN_HEADERS;
    c->msg_start_ms = now_ms(c->worker);
    if (log_enabled(LOG_INFO) || c->worker->opts->observer)
        c->req._start_ns = uv_hrtime();
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    str_t *t = &c->req.target;
    if (!t->ptr)
        *t = str_make(at, len);
    else if (t->ptr + t->len == at)
        t->len += len;
    else
        return fail(c, ERR_INVALID);
    note_end(c, at + len);
    if (t->len > c->worker->opts->max_url_bytes)
        return fail(c, ERR_URI_TOO_LONG);
    return 0;
}

/* RFC 9110 tchar: what a header name may contain. */
static const char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    http_req_t *req = &c->req;
    if (c->state != CONN_HEADERS)
        return 0; /* a chunked body's trailer: ignored (RFC 9112 7.1.2), never a slice */
    if (header_section_too_big(c, at + len))
        return fail(c, ERR_HEADERS_TOO_LARGE);
    /* llhttp (non-strict build) tolerates spaces in names ("Content-Length : 5"), which
     * front proxies may read differently: refuse anything but tchar (smuggling guard). */
    for (size_t i = 0; i < len; i++)
        if (!tchar[(unsigned char)at[i]]) {
            llhttp_set_error_reason(p, "Invalid character in header name");
            return fail(c, ERR_INVALID);
        }
    if (c->last_cb == 1 && req->header_count) {
        str_t *n = &req->headers[req->header_count - 1].name;
        if (n->ptr + n->len != at)
            return fail(c, ERR_INVALID);
        n->len += len;
    } else {
        if (req->header_count >= c->worker->opts->max_headers)
            return fail(c, ERR_HEADERS_TOO_LARGE);
        if (req->header_count == req->_header_cap) {
            uint32_t cap = req->_header_cap ? req->_header_cap * 2 : 16;
            http_header_t *h = http_req_alloc(req, cap * sizeof *h);
            if (req->header_count)
                memcpy(h, req->headers, req->header_count * sizeof *h);
            req->headers = h;
            req->_header_cap = cap;
        }
        req->headers[req->header_count++] = (http_header_t){str_make(at, len), STR_LIT("")};
        c->last_cb = 1;
    }
    note_end(c, at + len);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    http_req_t *req = &c->req;
    if (c->state != CONN_HEADERS)
        return 0; /* trailer */
    if (header_section_too_big(c, at + len))
        return fail(c, ERR_HEADERS_TOO_LARGE);
    if (!req->header_count)
        return fail(c, ERR_INVALID);
    str_t *v = &req->headers[req->header_count - 1].value;
    if (c->last_cb == 2) {
        if (v->ptr + v->len != at)
            return fail(c, ERR_INVALID);
        v->len += len;
    } else {
        *v = str_make(at, len);
        c->last_cb = 2;
    }
    note_end(c, at + len);
    return 0;
}

static void out_append(http_worker_t *w, http_conn_t *c, const char *s, size_t n);
static void dispatch(http_conn_t *c);

/* Copies the request's bytes (request line to its furthest slice) into its arena and
 * rebases its slices, so they outlive the input buffers. */
static void keep_in_arena(http_conn_t *c)
{
    http_req_t *req = &c->req;
    const char *from = req->target.ptr, *to = c->span_end;
    if (from && to && to > from) {
        size_t n = (size_t)(to - from);
        char *dst = http_req_alloc(req, n);
        memcpy(dst, from, n);
        rebase(c, from, to, dst - from);
    }
}

/* For a request with a body: whether its route streams the body, and the route's limit. */
static bool stream_route(http_conn_t *c, size_t *max_body)
{
    const http_req_t *req = &c->req;
    str_t path = req->target.ptr ? req->target : STR_LIT("");
    const char *q = memchr(path.ptr, '?', path.len);
    if (q)
        path.len = (size_t)(q - path.ptr);
    path = http__router_resolve(c->worker->router, path);
    size_t max = http__router_stream_max(c->worker->router,
                                         http__method_from_llhttp(c->parser.method), path);
    if (max == 0)
        return false;
    *max_body = max;
    return true;
}

/*
 * Dispatches a streaming request from on_headers_complete: its header section moves into
 * the arena (the input buffers will be reused for the body), then the before-hook and the
 * handler run. Parsing goes on only if the handler asked for the body at once.
 */
static int stream_dispatch(http_conn_t *c)
{
    keep_in_arena(c);
    c->body_state = BODY_WAIT;
    c->state = CONN_HANDLER;
    dispatch(c);
    return c->state == CONN_BODY ? 0 : HPE_PAUSED;
}

/*
 * Ends a streamed body early with err: the consumer hears it once (on_end), then the
 * request waits, parser stopped and reading paused, for the consumer's answer, after which
 * the connection closes.
 */
static void stream_fail(http_conn_t *c, int err)
{
    http_req_t *req = &c->req;
    int st = c->body_state;
    c->body_state = BODY_QUIT;
    c->continue_pending = false;
    req->_keep_alive = false;
    if (c->state != CONN_CLOSING)
        c->state = CONN_HANDLER;
    if (!c->closed)
        c->worker->io->pause(c, true);
    if (st == BODY_READING || st == BODY_PAUSED)
        c->body_end(req, c->body_arg, err);
}

static int on_headers_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = &c->req;
    const struct http_options *o = c->worker->opts;
    c->state = CONN_BODY;
    c->headers_done_ms = now_ms(c->worker);
    c->hdr_end = c->span_end;
    req->http_major = p->http_major;
    req->http_minor = p->http_minor;
    /* llhttp also parses HTTP/0.9 and HTTP/2.0 request lines; only HTTP/1.x is spoken here. */
    if (p->http_major != 1 || p->http_minor > 1)
        return fail(c, ERR_HTTP_VERSION);
    req->_keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
    bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    size_t max_body = o->max_body_bytes;
    if (has_body && stream_route(c, &max_body)) {
        req->_stream = true;
        c->body_max = max_body;
        c->continue_pending = false;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > max_body) {
        req->_stream = false; /* answered here, before any handler */
        c->err = ERR_TOO_LARGE;
        return -1;
    }
    if (has_body && p->http_major == 1 && p->http_minor >= 1) {
        str_t e = http_req_header(req, "expect");
        if (e.ptr && str_eq_nocase(str_trim(e), STR_LIT("100-continue"))) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (req->_stream)
                c->continue_pending = true; /* only if the handler wants the body */
            else
                out_append(c->worker, c, cont, sizeof cont - 1);
        }
    }
    return req->_stream ? stream_dispatch(c) : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    http_req_t *req = &c->req;
    c->body_total += len;
    if (req->_stream) {
        if (c->body_total > c->body_max)
            return fail(c, ERR_TOO_LARGE);
        if (len == 0)
            return 0; /* llhttp closes an open span so on a parser run without input */
        if (c->body_state != BODY_READING)
            return HPE_PAUSED; /* not reached: the parser stops when reading stops */
        int rc = c->body_chunk(req, c->body_arg, str_make(at, len));
        if (rc == 0 && c->state == CONN_BODY)
            return 0;
        if (req->_responded)
            return HPE_PAUSED; /* answered early: the connection is closing */
        c->body_state = rc == ERR_AGAIN ? BODY_PAUSED : BODY_QUIT;
        c->state = CONN_HANDLER;
        return HPE_PAUSED;
    }
    if (c->body_total > c->worker->opts->max_body_bytes)
        return fail(c, ERR_TOO_LARGE);
    if (!req->_body_owned) {
        if (!req->body.ptr) {
            req->body = str_make(at, len);
            note_end(c, at + len);
            return 0;
        }
        if (req->body.ptr + req->body.len == at) {
            req->body.len += len;
            note_end(c, at + len);
            return 0;
        }
        req->_body_owned = true;
        if (buf_append_str(&c->body, req->body) != 0)
            return fail(c, ERR_TOO_LARGE);
    }
    if (buf_append(&c->body, at, len) != 0)
        return fail(c, ERR_TOO_LARGE);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = &c->req;
    if (req->_stream) {
        c->state = CONN_HANDLER;
        if (c->body_state == BODY_READING) {
            c->body_state = BODY_DONE;
            c->body_end(req, c->body_arg, 0);
        }
        return c->state == CONN_IDLE ? 0 : HPE_PAUSED;
    }
    keep_in_arena(c);
    if (req->_body_owned)
        req->body = buf_str(&c->body);
    c->state = CONN_HANDLER;
    dispatch(c);
    /* Answered synchronously and keeping the connection: parse on. */
    return c->state == CONN_IDLE ? 0 : HPE_PAUSED;
}

/* ---- output ---------------------------------------------------------------------------- */

static void out_append(http_worker_t *w, http_conn_t *c, const char *s, size_t n)
{
    if (w->out_conn && w->out_conn != c)
        http__conn_flush(w->out_conn);
    w->out_conn = c;
    if (buf_append(&w->out, s, n) != 0)
        log_error("msg=\"response dropped: output buffer\" bytes=%zu", n);
}

/* See http_internal.h. */
void http__conn_flush(http_conn_t *c)
{
    http_worker_t *w = c->worker;
    if (w->out_conn == c && w->out.len) {
        if (!c->closed)
            w->io->write(c, w->out.data, w->out.len);
        buf_reset(&w->out);
    }
    if (w->out_conn == c)
        w->out_conn = NULL;
    if (c->state == CONN_CLOSING && !c->closed)
        w->io->close(c);
}

static const char *status_line(int status)
{
    switch (status) {
    case 100:
        return "HTTP/1.1 100 Continue\r\n";
    case 200:
        return "HTTP/1.1 200 OK\r\n";
    case 201:
        return "HTTP/1.1 201 Created\r\n";
    case 202:
        return "HTTP/1.1 202 Accepted\r\n";
    case 204:
        return "HTTP/1.1 204 No Content\r\n";
    case 301:
        return "HTTP/1.1 301 Moved Permanently\r\n";
    case 302:
        return "HTTP/1.1 302 Found\r\n";
    case 303:
        return "HTTP/1.1 303 See Other\r\n";
    case 304:
        return "HTTP/1.1 304 Not Modified\r\n";
    case 307:
        return "HTTP/1.1 307 Temporary Redirect\r\n";
    case 400:
        return "HTTP/1.1 400 Bad Request\r\n";
    case 401:
        return "HTTP/1.1 401 Unauthorized\r\n";
    case 403:
        return "HTTP/1.1 403 Forbidden\r\n";
    case 404:
        return "HTTP/1.1 404 Not Found\r\n";
    case 405:
        return "HTTP/1.1 405 Method Not Allowed\r\n";
    case 408:
        return "HTTP/1.1 408 Request Timeout\r\n";
    case 409:
        return "HTTP/1.1 409 Conflict\r\n";
    case 410:
        return "HTTP/1.1 410 Gone\r\n";
    case 413:
        return "HTTP/1.1 413 Payload Too Large\r\n";
    case 414:
        return "HTTP/1.1 414 URI Too Long\r\n";
    case 415:
        return "HTTP/1.1 415 Unsupported Media Type\r\n";
    case 422:
        return "HTTP/1.1 422 Unprocessable Entity\r\n";
    case 429:
        return "HTTP/1.1 429 Too Many Requests\r\n";
    case 431:
        return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 500:
        return "HTTP/1.1 500 Internal Server Error\r\n";
    case 502:
        return "HTTP/1.1 502 Bad Gateway\r\n";
    case 503:
        return "HTTP/1.1 503 Service Unavailable\r\n";
    case 504:
        return "HTTP/1.1 504 Gateway Timeout\r\n";
    case 505:
        return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
    default:
        return NULL;
    }
}

static void resume(http_conn_t *c);

/* Ends the current request after its response was serialised (or dropped). */
static void request_finish(http_conn_t *c, bool close)
{
    http_req_t *req = &c->req;
    http__arena_reset(req);
    req->headers = NULL;
    req->header_count = 0;
    req->_header_cap = 0;
    req->_resp_headers = NULL;
    req->_resp_tail = NULL;
    c->ev_fn = NULL;
    c->abandon_fn = NULL;
    c->streaming = false;
    if (c->body.data)
        buf_dispose(&c->body); /* idle connections hold no buffers */
    if (c->closed) {
        c->state = CONN_CLOSING;
        http__conn_release(c);
        return;
    }
    c->state = close ? CONN_CLOSING : CONN_IDLE;
    if (!c->in_parse) {
        /* Answered asynchronously: send it now and go on with buffered input. */
        http__conn_flush(c);
        if (c->state == CONN_IDLE)
            resume(c);
    }
}

/* The access line and the observer of a request that ends with status and bytes of body. */
static void observe_end(http_req_t *req, int status, uint64_t bytes)
{
    http_worker_t *w = req->worker;
    http_observer_fn observer = w->opts->observer;
    if (log_enabled(LOG_INFO) || observer) {
        uint64_t us = req->_start_ns ? (uv_hrtime() - req->_start_ns) / 1000 : 0;
        if (log_enabled(LOG_INFO))
            log_request_user(LOG_INFO, LOG_MODULE, http_req_rid(req),
                             req->method_name.len ? req->method_name : STR_LIT("-"),
                             req->target.ptr ? req->target : STR_LIT("-"), status, bytes, us,
                             req->log_user_id);
        if (observer)
            observer(w->opts->observer_data, req, status, bytes, us);
    }
}

/* Status line, Date, Content-Type and the added headers of req's answer into the output. */
static void write_head(http_conn_t *c, int status, const char *content_type)
{
    http_worker_t *w = c->worker;
    http_req_t *req = &c->req;
    if (w->loop) {
        int64_t sec = (int64_t)(uv_now(w->loop) / 1000);
        if (sec != w->date_tick) {
            w->date_tick = sec;
            http__worker_update_date(w, (int64_t)time(NULL));
        }
    }
    char head[64];
    const char *sl = status_line(status);
    if (sl) {
        out_append(w, c, sl, strlen(sl));
    } else {
        if (status < 100 || status > 999)
            status = 500;
        size_t n = (size_t)snprintf(head, sizeof head, "HTTP/1.1 %d Status\r\n", status);
        out_append(w, c, head, n);
    }
    out_append(w, c, w->date_line, w->date_len);
    if (content_type) {
        out_append(w, c, "Content-Type: ", 14);
        out_append(w, c, content_type, strlen(content_type));
        out_append(w, c, "\r\n", 2);
    }
    for (struct http_resp_header *h = req->_resp_headers; h; h = h->next) {
        out_append(w, c, h->name.ptr, h->name.len);
        out_append(w, c, ": ", 2);
        out_append(w, c, h->value.ptr, h->value.len);
        out_append(w, c, "\r\n", 2);
    }
}

/* See http.h. */
void http_respond(http_req_t *req, int status, const char *content_type, str_t body)
{
    http_conn_t *c = req->_conn;
    http_worker_t *w = req->worker;
    if (req->_responded) {
        log_error("msg=\"handler responded twice\" status=%d", status);
        return;
    }
    req->_responded = true;
    bool close = !req->_keep_alive || w->shutting_down || c->err;
    if (req->_stream && c->body_state != BODY_DONE) {
        close = true; /* the rest of the body is never read: the connection cannot go on */
        c->body_state = BODY_QUIT;
        c->continue_pending = false;
    }
    if (!c->closed) {
        write_head(c, status, content_type);
        char head[64];
        size_t n = 0;
        if (status >= 200 && status != 204 && status != 304) {
            memcpy(head, "Content-Length: ", 16);
            n = 16 + text_put_u64(head + 16, body.len);
            head[n++] = '\r';
            head[n++] = '\n';
        }
        if (close) {
            memcpy(head + n, "Connection: close\r\n", 19);
            n += 19;
        } else if (req->http_minor == 0) {
            memcpy(head + n, "Connection: keep-alive\r\n", 24);
            n += 24;
        }
        head[n++] = '\r';
        head[n++] = '\n';
        out_append(w, c, head, n);
        if (body.len && !req->is_head && status != 204 && status != 304)
            out_append(w, c, body.ptr, body.len);
    }
    observe_end(req, status, body.len);
    request_finish(c, close);
}

/* See http.h. */
void http_resp_header_add(http_req_t *req, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    /* One arena block: the list node, then name and value (this runs on every request
     * for the middleware's security headers). */
    struct http_resp_header *h = http_req_alloc(req, sizeof *h + nl + vl + 2);
    char *n = (char *)(h + 1), *v = n + nl + 1;
    /* Header injection guard: names and values never carry CR or LF. */
    for (size_t i = 0; i < nl; i++)
        n[i] = name[i] == '\r' || name[i] == '\n' || name[i] == ':' ? '-' : name[i];
    n[nl] = '\0';
    for (size_t i = 0; i < vl; i++)
        v[i] = value[i] == '\r' || value[i] == '\n' ? ' ' : value[i];
    v[vl] = '\0';
    h->name = str_make(n, nl);
    h->value = str_make(v, vl);
    h->next = NULL;
    if (req->_resp_tail)
        req->_resp_tail->next = h;
    else
        req->_resp_headers = h;
    req->_resp_tail = h;
}

/* See http.h. */
void http_respond_json(http_req_t *req, int status, const struct json_t *value)
{
    char *s = json_dumps((const json_t *)value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) {
        http_respond_error(req, ERR_INTERNAL, NULL);
        return;
    }
    http_respond(req, status, "application/json", str_cstr(s));
    free(s);
}

/* Appends detail as a JSON string body (without quotes). */
/* See http.h. */
void http_respond_error(http_req_t *req, int err, const char *detail)
{
    char body[4096]; /* a detail of at most 512 bytes, escaped, and the code always fit */
    jsonw_t w;
    if (err == 0)
        err = ERR_INTERNAL;
    const char *d = detail ? detail : err_message(err);
    jsonw_init(&w, body, sizeof body);
    jsonw_raw(&w, "{\"detail\":");
    jsonw_strn(&w, d, strnlen(d, 512));
    jsonw_raw(&w, ",\"code\":");
    jsonw_str(&w, err_name(err));
    jsonw_raw(&w, "}");
    http_respond(req, err_http_status(err), "application/json; charset=utf-8",
                 str_make(body, jsonw_len(&w)));
}

/* ---- dispatch -------------------------------------------------------------------------- */

/* Splits the request target into path (an alias resolved) and query; sets the method. */
static void resolve_target(http_conn_t *c)
{
    http_req_t *req = &c->req;
    http_worker_t *w = c->worker;
    if (!req->target.ptr)
        req->target = STR_LIT(""); /* llhttp never completes a request without one */
    const char *q = memchr(req->target.ptr, '?', req->target.len);
    if (q) {
        req->path = str_make(req->target.ptr, (size_t)(q - req->target.ptr));
        req->query = str_make(q + 1, req->target.len - req->path.len - 1);
    } else {
        req->path = req->target;
        req->query = str_make(req->target.ptr + req->target.len, 0);
    }
    req->path = http__router_resolve(w->router, req->path);
    req->method = http__method_from_llhttp(c->parser.method);
    req->method_name = str_cstr(llhttp_method_name((llhttp_method_t)c->parser.method));
}

static void dispatch(http_conn_t *c)
{
    http_req_t *req = &c->req;
    resolve_target(c);
    if (c->err) {
        http_respond_error(req, c->err, NULL);
        return;
    }
    http_req_route(req);
}

/* See http.h. */
void http_req_route(http_req_t *req)
{
    http_worker_t *w = req->worker;
    if (http__router_run_hooks(w->router, req) != ERR_DECLINED)
        return;
    http_handler_fn fn;
    void *data;
    char allow[96];
    int rc =
        http_router_match(w->router, req->method, req->path, &fn, &data, req, allow, sizeof allow);
    if (rc == 0) {
        req->route_data = data;
        req->is_head = req->method == HTTP_M_HEAD;
        fn(req);
        return;
    }
    if (rc == ERR_METHOD) {
        if (req->method == HTTP_M_OPTIONS) {
            http_options_fn ofn = http__router_options(w->router);
            if (ofn) {
                ofn(req, allow);
                return;
            }
            http_resp_header_add(req, "Allow", allow);
            http_respond(req, 204, NULL, STR_NULL);
            return;
        }
        http_resp_header_add(req, "Allow", allow);
        char detail[128];
        snprintf(detail, sizeof detail, "Method \"%.*s\" not allowed.", STR_FMT(req->method_name));
        http_respond_error(req, ERR_METHOD, detail);
        return;
    }
    http_respond_error(req, ERR_NOT_FOUND, NULL);
}

/* ---- feeding --------------------------------------------------------------------------- */

/* Answers a framing/limit error on the current request and closes. */
static void parse_failed(http_conn_t *c, llhttp_errno_t e)
{
    http_req_t *req = &c->req;
    int err = c->err ? c->err : ERR_INVALID;
    /* A well-formed version llhttp does not know ("HTTP/1.2", "HTTP/3.0"): unsupported, not
     * malformed. Non-digits ("HTTP/x.1") get llhttp's other reasons and stay 400. */
    const char *why = llhttp_get_error_reason(&c->parser);
    if (err == ERR_INVALID && e == HPE_INVALID_VERSION && why &&
        strcmp(why, "Invalid HTTP version") == 0)
        err = ERR_HTTP_VERSION;
    c->err = err;
    char detail[160];
    const char *d = NULL;
    if (err == ERR_INVALID) {
        const char *reason = llhttp_get_error_reason(&c->parser);
        snprintf(detail, sizeof detail, "Malformed HTTP request: %s.",
                 reason && *reason ? reason : llhttp_errno_name(e));
        d = detail;
    }
    req->_keep_alive = false;
    req->is_head = false;
    req->_responded = false;
    req->_stream = false;
    /* Like every routed answer (the api "observe" link), this one carries the request id:
     * the client's X-Request-Id if it got parsed and is sane, else a generated one. */
    str_t rid = http_req_header(req, "x-request-id");
    if (rid.ptr)
        (void)http_req_set_rid(req, str_trim(rid));
    http_resp_header_add(req, "X-Request-Id", http_req_rid(req));
    if (req->http_major == 0) {
        req->http_major = 1;
        req->http_minor = 1;
    }
    c->state = CONN_HANDLER;
    http_refusal_fn refuse = NULL;
    if (err == ERR_TOO_LARGE && req->target.ptr) {
        /* the headers are in: the route may answer in its own shape (OAuth's) */
        resolve_target(c);
        void *data = NULL;
        refuse = http__router_refusal(c->worker->router, req->method, req->path, &data);
        req->route_data = data;
    }
    if (refuse)
        refuse(req, err);
    else
        http_respond_error(req, err, d);
    c->state = CONN_CLOSING;
}

/* Runs the parser over [data, data+len); data is ibuf when in_ibuf. */
static void parse(http_conn_t *c, const char *data, size_t len, bool in_ibuf)
{
    c->in_ibuf = in_ibuf;
    c->in_parse = true;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    c->in_parse = false;
    const char *end = data + len;
    if (e == HPE_OK) {
        http_req_t *req = &c->req;
        if (c->state == CONN_HEADERS && req->target.ptr) {
            if (header_section_too_big(c, end)) {
                c->err = ERR_HEADERS_TOO_LARGE;
                parse_failed(c, HPE_USER);
                ibuf_release(c);
                return;
            }
            ibuf_keep(c, req->target.ptr, end);
        } else if (c->state == CONN_BODY && req->_stream) {
            c->ilen = 0; /* the header section is in the arena, the body went out */
        } else if (c->state == CONN_BODY && req->target.ptr) {
            /* Keep the header section only; the body goes to the body buffer. */
            if (!req->_body_owned) {
                req->_body_owned = true;
                if (req->body.len)
                    buf_append_str(&c->body, req->body);
                req->body = STR_NULL;
                c->span_end = c->hdr_end;
            }
            ibuf_keep(c, req->target.ptr, c->hdr_end ? c->hdr_end : req->target.ptr);
        } else {
            ibuf_release(c);
        }
        return;
    }
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        if (c->state == CONN_HANDLER) {
            const char *pos = llhttp_get_error_pos(&c->parser);
            if (!pos || pos < data || pos > end)
                pos = end;
            if (pos == end) {
                if (c->req._stream)
                    c->ilen = 0; /* paused again soon: keep the buffer, skip malloc/free */
                else
                    ibuf_release(c);
            } else if (in_ibuf) {
                memmove(c->ibuf, pos, (size_t)(end - pos));
                c->ilen = (size_t)(end - pos);
            } else {
                c->ilen = 0;
                ibuf_append(c, pos, (size_t)(end - pos));
            }
            if (!c->closed)
                c->worker->io->pause(c, true);
        } else {
            ibuf_release(c);
        }
        return;
    }
    if (c->req._stream && !c->req._responded) {
        /* Limit or framing error inside a streamed body: its consumer answers. */
        ibuf_release(c);
        stream_fail(c, c->err ? c->err : ERR_INVALID);
        return;
    }
    parse_failed(c, e); /* before ibuf goes: the answer may use the request's slices */
    ibuf_release(c);
}

/* After a handler answered asynchronously: parse what arrived meanwhile, read again. */
static void resume(http_conn_t *c)
{
    llhttp_resume(&c->parser);
    if (!c->closed)
        c->worker->io->pause(c, false);
    if (c->ilen) {
        size_t n = c->ilen;
        parse(c, c->ibuf, n, true);
        http__conn_flush(c);
    } else if (c->req._stream && c->state == CONN_BODY) {
        /* Paused in on_body after the body's last byte: what is left (the end of the
         * message) needs no input, only a parser run. */
        parse(c, "", 0, false);
        http__conn_flush(c);
    }
    http__conn_update_deadline(c);
}

/* See http_internal.h. */
void http__conn_feed(http_conn_t *c, const char *data, size_t len)
{
    if (c->state == CONN_CLOSING || c->closed || len == 0 || c->streaming)
        return; /* a stream's client has nothing more to say: its input is dropped */
    if (c->state == CONN_HANDLER) {
        ibuf_append(c, data, len); /* parsed after the handler answers */
        return;
    }
    if (c->state == CONN_HEADERS && c->ilen) {
        size_t old = c->ilen;
        ibuf_append(c, data, len);
        parse(c, c->ibuf + old, len, true);
    } else {
        parse(c, data, len, false);
    }
    http__conn_flush(c);
    http__conn_update_deadline(c);
}

/* See http_internal.h. */
void http__conn_eof(http_conn_t *c)
{
    if (c->streaming) {
        http__conn_abandon(c); /* the client left the stream */
        return;
    }
    if (c->state == CONN_HANDLER) {
        c->req._keep_alive = false; /* answer, then close */
        return;
    }
    if (c->state == CONN_BODY && c->req._stream && !c->req._responded) {
        stream_fail(c, ERR_INVALID); /* the body can no longer be complete */
        return;
    }
    c->state = CONN_CLOSING;
    http__conn_flush(c);
}

/* See http_internal.h. */
void http__conn_abort(http_conn_t *c, int err)
{
    if (c->state == CONN_HANDLER || c->state == CONN_CLOSING) {
        if (c->state == CONN_CLOSING && !c->closed)
            c->worker->io->close(c);
        return;
    }
    if (c->state == CONN_BODY && c->req._stream && !c->req._responded) {
        stream_fail(c, err ? err : ERR_TIMEOUT); /* its consumer answers, then we close */
        return;
    }
    if (err && c->state != CONN_IDLE) {
        c->err = err;
        parse_failed(c, HPE_USER);
    }
    c->state = CONN_CLOSING;
    http__conn_flush(c);
}

/* See http_internal.h: tells a streamed body's consumer that its client is gone. */
void http__conn_gone(http_conn_t *c)
{
    if (c->req._stream && !c->req._responded &&
        (c->body_state == BODY_READING || c->body_state == BODY_PAUSED))
        stream_fail(c, ERR_IO);
    else
        http__conn_abandon(c);
}

/* ---- answering later ---------------------------------------------------------------------- */

/* See http.h. */
int http_req_timer(http_req_t *req, uint64_t delay_ms, http_req_event_fn fn, void *arg)
{
    http_conn_t *c = req->_conn;
    http_worker_t *w = req->worker;
    if (req->_responded || !w->loop || !fn)
        return ERR_INVALID;
    c->ev_fn = fn;
    c->ev_arg = arg;
    c->ev_due_ms = uv_now(w->loop) + delay_ms;
    http__conn_update_deadline(c);
    return 0;
}

/* See http.h. */
void http_req_on_abandon(http_req_t *req, http_req_event_fn fn, void *arg)
{
    http_conn_t *c = req->_conn;
    if (req->_responded)
        return;
    c->abandon_fn = fn;
    c->abandon_arg = arg;
}

/* See http_internal.h. */
void http__conn_timer_fire(http_conn_t *c)
{
    http_req_event_fn fn = c->ev_fn;
    if (!fn || c->req._responded)
        return;
    c->ev_fn = NULL;
    c->deadline_ms = 0;
    fn(&c->req, c->ev_arg);
}

/* See http_internal.h. The abandon fn answers, which may free c: nothing touches it after. */
void http__conn_abandon(http_conn_t *c)
{
    http_req_event_fn fn = c->abandon_fn;
    if (!fn || c->req._responded)
        return;
    c->abandon_fn = NULL;
    c->ev_fn = NULL;
    fn(&c->req, c->abandon_arg);
}

/* See http.h. */
int http_stream_begin(http_req_t *req, int status, const char *content_type)
{
    http_conn_t *c = req->_conn;
    if (req->_responded || c->streaming || req->_stream)
        return ERR_INVALID;
    if (c->closed)
        return ERR_IO;
    if (req->is_head) {
        http_respond(req, status, content_type, STR_NULL);
        return ERR_IO;
    }
    req->_keep_alive = false;
    c->streaming = true;
    c->stream_status = status;
    c->stream_bytes = 0;
    write_head(c, status, content_type);
    out_append(c->worker, c, "Connection: close\r\n\r\n", 21);
    if (!c->in_parse) {
        http__conn_flush(c);
        c->worker->io->pause(c, false); /* read on: the client's EOF ends the stream */
    }
    return 0;
}

/* See http.h. */
int http_stream_write(http_req_t *req, str_t data)
{
    http_conn_t *c = req->_conn;
    if (!c->streaming || req->_responded)
        return ERR_INVALID;
    if (c->closed)
        return ERR_IO;
    if (c->wq.len > HTTP_STREAM_MAX_QUEUED)
        return ERR_TOO_LARGE;
    out_append(c->worker, c, data.ptr, data.len);
    c->stream_bytes += data.len;
    if (!c->in_parse)
        http__conn_flush(c);
    return 0;
}

/* See http.h. */
void http_stream_end(http_req_t *req)
{
    http_conn_t *c = req->_conn;
    if (!c->streaming || req->_responded)
        return;
    req->_responded = true;
    observe_end(req, c->stream_status, c->stream_bytes);
    request_finish(c, true);
}

/* True while a handler or a body consumer still owns the request (it has to respond). */
bool http__conn_in_flight(const http_conn_t *c)
{
    return !c->req._responded && (c->state == CONN_HANDLER || c->req._stream);
}

/* See http.h. */
int http_req_body_read(http_req_t *req, http_body_chunk_fn on_chunk, http_body_end_fn on_end,
                       void *arg)
{
    http_conn_t *c = req->_conn;
    if (req->_responded || req->_body_read)
        return ERR_INVALID;
    if (req->_stream && (c->body_state != BODY_WAIT || c->closed))
        return c->closed ? ERR_IO : ERR_INVALID;
    req->_body_read = true;
    c->body_chunk = on_chunk;
    c->body_end = on_end;
    c->body_arg = arg;
    c->body_state = BODY_READING;
    if (!req->_stream) {
        /* Already buffered: hand it over at once. */
        if (req->body.len) {
            int rc = on_chunk(req, arg, req->body);
            if (rc != 0) {
                if (!req->_responded)
                    c->body_state = rc == ERR_AGAIN ? BODY_PAUSED : BODY_QUIT;
                return 0;
            }
        }
        c->body_state = BODY_DONE;
        on_end(req, arg, 0);
        return 0;
    }
    if (c->continue_pending) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->continue_pending = false;
        out_append(c->worker, c, cont, sizeof cont - 1);
    }
    c->state = CONN_BODY;
    if (!c->in_parse) {
        /* The handler went asynchronous first: the parser waits after the headers. */
        http__conn_flush(c);
        resume(c);
    }
    return 0;
}

/* See http.h. */
void http_req_body_resume(http_req_t *req)
{
    http_conn_t *c = req->_conn;
    if (!req->_body_read || req->_responded || c->body_state != BODY_PAUSED)
        return;
    if (!req->_stream) {
        c->body_state = BODY_DONE;
        c->body_end(req, c->body_arg, 0);
        return;
    }
    c->body_state = BODY_READING;
    if (c->closed)
        return; /* http__conn_gone tells the consumer when the handles are closed */
    c->state = CONN_BODY;
    resume(c);
}

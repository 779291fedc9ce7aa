/* Unit tests for src/http/conn.c without sockets: bytes in, response bytes out. Covers
 * pipelining order (also with an asynchronous handler), split input, limits and framing
 * errors, HEAD, 100-continue, keep-alive decisions, streamed bodies (back-pressure, route
 * limits, errors told to the consumer, early answers), trailers, X-Request-Id on parser
 * rejections. */
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "http/http_internal.h"
#include "test.h"

static buf_t out;
static bool closed;
static http_req_t *pending;
static struct http_options opts;
static http_router_t *router;
static http_worker_t worker;

static void t_write(http_conn_t *c, const char *d, size_t n)
{
    (void)c;
    buf_append(&out, d, n);
}

static void t_close(http_conn_t *c)
{
    c->closed = true;
    closed = true;
}

static void t_pause(http_conn_t *c, bool p)
{
    (void)c;
    (void)p;
}

static const struct http_io t_io = {t_write, t_close, t_pause};

static void h_ok(http_req_t *req)
{
    http_respond(req, 200, "text/plain", STR_LIT("ok"));
}

static void h_echo(http_req_t *req)
{
    http_respond(req, 200, "text/plain", req->body);
}

static void h_param(http_req_t *req)
{
    http_respond(req, 200, "text/plain", http_req_param(req, "id"));
}

static void h_async(http_req_t *req)
{
    pending = req;
}

/* ---- a streaming route: /up (limit 1000, above the server's 100) ---- */

static struct {
    buf_t got;       /* body bytes received */
    int chunks;      /* on_chunk calls */
    int end_status;  /* on_end status; 1 = not called */
    bool pause_each; /* answer ERR_AGAIN to every chunk */
    bool paused;     /* waiting for http_req_body_resume */
    bool read_later; /* the handler does not read at once */
    http_req_t *req;
} st;

static int st_chunk(http_req_t *req, void *arg, str_t d)
{
    (void)arg;
    CHECK_TRUE(d.len > 0 && !st.paused);
    buf_append_str(&st.got, d);
    st.chunks++;
    if (st.pause_each) {
        st.paused = true;
        return ERR_AGAIN;
    }
    (void)req;
    return 0;
}

static void st_end(http_req_t *req, void *arg, int status)
{
    (void)arg;
    CHECK_EQ_INT(st.end_status, 1);
    st.end_status = status;
    if (status == 0)
        http_respond(req, 201, "text/plain", buf_str(&st.got));
    else
        http_respond_error(req, status, NULL);
}

static void h_stream(http_req_t *req)
{
    st.req = req;
    if (str_eq_cstr(http_req_header(req, "x-deny"), "1")) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return;
    }
    if (!st.read_later)
        CHECK_EQ_INT(http_req_body_read(req, st_chunk, st_end, NULL), 0);
}

static void st_reset(void)
{
    buf_dispose(&st.got);
    memset(&st, 0, sizeof st);
    buf_init(&st.got, 1 << 20);
    st.end_status = 1;
}

/* Resumes the paused consumer until it stops pausing (at most n times). */
static void st_drain(int n)
{
    while (st.paused && n-- > 0) {
        st.paused = false;
        http_req_body_resume(st.req);
    }
}

static void setup_opts_only(void)
{
    http_options_defaults(&opts);
    opts.max_header_bytes = 1024;
    opts.max_headers = 10;
    opts.max_url_bytes = 300;
    opts.max_body_bytes = 100;
}

static http_conn_t *setup(void)
{
    setup_opts_only();
    if (!router) {
        router = http_router_new();
        http_router_add(router, HTTP_M_GET, "/ok", h_ok, NULL);
        http_router_add(router, HTTP_M_POST, "/echo", h_echo, NULL);
        http_router_add(router, HTTP_M_GET, "/p/{id}", h_param, NULL);
        http_router_add(router, HTTP_M_GET, "/async", h_async, NULL);
        http_router_add_stream(router, HTTP_M_POST, "/up", h_stream, NULL, 1000);
    }
    if (!worker.rbuf)
        http__worker_init_common(&worker, router, &opts, &t_io);
    buf_init(&out, 1 << 20);
    closed = false;
    pending = NULL;
    st_reset();
    http_conn_t *c = calloc(1, sizeof *c);
    http__conn_init(c, &worker);
    return c;
}

static void teardown(http_conn_t *c)
{
    http__conn_dispose(c);
    free(c);
    buf_dispose(&out);
}

/* Feeds s, copying it into a temporary buffer that is wiped afterwards. */
static void feed(http_conn_t *c, const char *s, size_t n)
{
    char *tmp = malloc(n ? n : 1);
    memcpy(tmp, s, n);
    http__conn_feed(c, tmp, n);
    memset(tmp, 'Z', n);
    free(tmp);
}

static void feed_cstr(http_conn_t *c, const char *s)
{
    feed(c, s, strlen(s));
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

TEST(conn_pipelined_answers_in_order)
{
    http_conn_t *c = setup();
    feed_cstr(c, "GET /p/1 HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET /p/3 HTTP/1.1\r\n\r\n");
    const char *s = out.data;
    ASSERT_TRUE(s != NULL);
    const char *a = strstr(s, "\r\n\r\n1"), *b = strstr(s, "404 Not Found"),
               *d = strstr(s, "\r\n\r\n3");
    CHECK_TRUE(a && b && d && a < b && b < d);
    CHECK_TRUE(!closed);
    teardown(c);
}

TEST(conn_byte_by_byte_input)
{
    http_conn_t *c = setup();
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /p/"
                      "77 HTTP/1.1\r\n\r\n";
    for (size_t i = 0; i < strlen(req); i++)
        feed(c, req + i, 1);
    CHECK_EQ_INT(count(out.data, "HTTP/1.1 200 OK"), 2);
    CHECK_TRUE(strstr(out.data, "\r\n\r\nhello") != NULL);
    CHECK_TRUE(strstr(out.data, "\r\n\r\n77") != NULL);
    teardown(c);
}

TEST(conn_chunked_body_split)
{
    http_conn_t *c = setup();
    const char *req = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\n"
                      "de\r\n0\r\n\r\n";
    size_t n = strlen(req);
    feed(c, req, 40);
    feed(c, req + 40, n - 40);
    CHECK_TRUE(strstr(out.data, "Content-Length: 5\r\n") != NULL);
    CHECK_TRUE(strstr(out.data, "\r\n\r\nabcde") != NULL);
    teardown(c);
}

TEST(conn_async_handler_holds_pipeline)
{
    http_conn_t *c = setup();
    feed_cstr(c, "GET /async HTTP/1.1\r\n\r\nGET /p/2 HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(out.len, 0); /* the second waits for the first */
    ASSERT_TRUE(pending != NULL);
    CHECK_EQ_INT(c->state, CONN_HANDLER);
    feed_cstr(c, "GET /p/3 HTTP/1.1\r\n\r\n"); /* arrives meanwhile: buffered */
    CHECK_EQ_INT(out.len, 0);
    http_req_t *r = pending;
    pending = NULL;
    CHECK_TRUE(str_eq_cstr(r->path, "/async"));
    http_respond(r, 202, NULL, STR_LIT("late"));
    const char *a = strstr(out.data, "late"), *b = strstr(out.data, "\r\n\r\n2"),
               *d = strstr(out.data, "\r\n\r\n3");
    CHECK_TRUE(a && b && d && a < b && b < d);
    teardown(c);
}

TEST(conn_header_too_large_is_431_and_closes)
{
    http_conn_t *c = setup();
    feed_cstr(c, "GET /ok HTTP/1.1\r\nX-Big: ");
    char big[600];
    memset(big, 'a', sizeof big);
    feed(c, big, sizeof big);
    feed(c, big, sizeof big);
    CHECK_TRUE(out.data && strstr(out.data, "HTTP/1.1 431 ") == out.data);
    CHECK_TRUE(strstr(out.data, "\"code\":\"request_header_fields_too_large\"") != NULL);
    CHECK_TRUE(strstr(out.data, "Connection: close\r\n") != NULL);
    CHECK_TRUE(closed);
    teardown(c);
}

TEST(conn_too_many_headers_is_431)
{
    http_conn_t *c = setup();
    feed_cstr(c, "GET /ok HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH: "
                 "1\r\nI: 1\r\nJ: 1\r\nK: 1\r\n\r\n");
    CHECK_TRUE(out.data && strstr(out.data, "HTTP/1.1 431 ") == out.data);
    teardown(c);
}

TEST(conn_body_too_large_is_413_from_headers_alone)
{
    http_conn_t *c = setup();
    feed_cstr(c, "POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
    CHECK_TRUE(out.data && strstr(out.data, "HTTP/1.1 413 ") == out.data);
    CHECK_TRUE(closed);
    teardown(c);
}

TEST(conn_chunked_too_large_is_413)
{
    http_conn_t *c = setup();
    feed_cstr(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[64];
    memset(chunk, 'x', sizeof chunk);
    feed_cstr(c, "40\r\n");
    feed(c, chunk, 64);
    feed_cstr(c, "\r\n40\r\n");
    CHECK_EQ_INT(out.len, 0);
    feed(c, chunk, 64);
    CHECK_TRUE(out.data && strstr(out.data, "HTTP/1.1 413 ") == out.data);
    teardown(c);
}

TEST(conn_url_too_long_is_414)
{
    http_conn_t *c = setup();
    char req[512];
    snprintf(req, sizeof req, "GET /%0350d HTTP/1.1\r\n\r\n", 0);
    feed_cstr(c, req);
    CHECK_TRUE(out.data && strstr(out.data, "HTTP/1.1 414 ") == out.data);
    teardown(c);
}

TEST(conn_ambiguous_framing_is_400)
{
    const char *bad[] = {
        "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
        "GET /ok HTTP/1.1\r\nBad Header: 1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_conn_t *c = setup();
        feed_cstr(c, bad[i]);
        if (!CHECK_TRUE(out.data && strstr(out.data, "HTTP/1.1 400 ") == out.data))
            fprintf(stderr, "  case %zu: %s\n", i, out.data ? out.data : "(nothing)");
        CHECK_TRUE(closed);
        teardown(c);
    }
}

TEST(conn_head_has_no_body_and_100_continue)
{
    http_conn_t *c = setup();
    feed_cstr(c, "HEAD /ok HTTP/1.1\r\n\r\n");
    CHECK_TRUE(strstr(out.data, "Content-Length: 2\r\n\r\n") != NULL);
    CHECK_TRUE(strstr(out.data, "ok") == NULL);
    buf_reset(&out);
    feed_cstr(c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    CHECK_TRUE(out.data && strcmp(out.data, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
    feed_cstr(c, "hi");
    CHECK_TRUE(strstr(out.data, "\r\n\r\nhi") != NULL);
    teardown(c);
}

TEST(conn_keep_alive_rules)
{
    http_conn_t *c = setup();
    feed_cstr(c, "GET /ok HTTP/1.0\r\n\r\n");
    CHECK_TRUE(strstr(out.data, "Connection: close\r\n") != NULL);
    CHECK_TRUE(closed);
    teardown(c);
    c = setup();
    feed_cstr(c, "GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK_TRUE(strstr(out.data, "Connection: keep-alive\r\n") != NULL);
    CHECK_TRUE(!closed);
    teardown(c);
    c = setup();
    feed_cstr(c, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\nGET /ok HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(count(out.data, "HTTP/1.1 200"), 1); /* nothing after close is served */
    CHECK_TRUE(closed);
    teardown(c);
}

/* ---- the hook chain: a second router and worker with hooks ---- */

static char g_trace[16];
static http_req_t *g_deferred;

static void trace(char ch)
{
    size_t n = strlen(g_trace);
    if (n + 1 < sizeof g_trace)
        g_trace[n] = ch, g_trace[n + 1] = '\0';
}

static int hook_pass(http_req_t *req, void *data)
{
    (void)req;
    trace(*(const char *)data);
    return ERR_DECLINED;
}

static int hook_block(http_req_t *req, void *data)
{
    trace(*(const char *)data);
    if (str_eq_cstr(req->path, "/blocked")) {
        http_respond_error(req, ERR_THROTTLED, NULL);
        return 0;
    }
    return ERR_DECLINED;
}

/* Pretends to wait for a rate-limit lookup: the request resumes with http_req_route. */
static int hook_defer(http_req_t *req, void *data)
{
    trace(*(const char *)data);
    g_deferred = req;
    return 0;
}

static void options_hook(http_req_t *req, const char *allow)
{
    http_resp_header_add(req, "X-Allow-Seen", allow);
    http_respond(req, 200, NULL, STR_LIT(""));
}

static void h_trace(http_req_t *req)
{
    trace('H');
    http_respond(req, 200, "text/plain", http_req_param(req, "id"));
}

/* A connection on a worker whose router has the hooks fns (data: one letter each). */
static http_conn_t *setup_hooks(http_worker_t *w, http_router_t **r, http_hook_fn *fns,
                                const char *names)
{
    setup_opts_only();
    *r = http_router_new();
    http_router_add(*r, HTTP_M_GET, "/p/{id}", h_trace, NULL);
    for (size_t i = 0; names[i]; i++)
        CHECK_EQ_INT(http_router_use(*r, "t", fns[i], (void *)&names[i]), 0);
    http_router_set_options(*r, options_hook);
    memset(w, 0, sizeof *w);
    http__worker_init_common(w, *r, &opts, &t_io);
    buf_init(&out, 1 << 20);
    closed = false;
    g_trace[0] = '\0';
    g_deferred = NULL;
    http_conn_t *c = calloc(1, sizeof *c);
    http__conn_init(c, w);
    return c;
}

static void teardown_hooks(http_conn_t *c, http_worker_t *w, http_router_t *r)
{
    teardown(c);
    http__worker_dispose_common(w);
    http_router_free(r);
}

TEST(conn_hooks_run_in_order_and_may_answer)
{
    http_worker_t w;
    http_router_t *r;
    http_hook_fn fns[] = {hook_pass, hook_block, hook_pass};
    http_conn_t *c = setup_hooks(&w, &r, fns, "abc");
    feed_cstr(c, "GET /blocked HTTP/1.1\r\n\r\nOPTIONS /p/1 HTTP/1.1\r\n\r\n"
                 "GET /p/7 HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(out.data != NULL);
    CHECK_TRUE(strstr(out.data, "HTTP/1.1 429 ") == out.data);
    CHECK_TRUE(strstr(out.data, "\"code\":\"throttled\"") != NULL);
    CHECK_TRUE(strstr(out.data, "X-Allow-Seen: GET, HEAD, OPTIONS\r\n") != NULL);
    CHECK_TRUE(strstr(out.data, "\r\n\r\n7") != NULL);
    /* /blocked stops at b; the OPTIONS and the GET pass every hook, the GET then routes */
    CHECK_STR_EQ(g_trace, "ababcabcH");
    CHECK_EQ_INT(http_router_use(r, "x", NULL, NULL), ERR_INVALID);
    teardown_hooks(c, &w, r);
}

TEST(conn_async_hook_resumes_after_itself)
{
    http_worker_t w;
    http_router_t *r;
    http_hook_fn fns[] = {hook_pass, hook_defer, hook_pass};
    http_conn_t *c = setup_hooks(&w, &r, fns, "abc");
    feed_cstr(c, "GET /p/5 HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(out.len, 0);
    CHECK_STR_EQ(g_trace, "ab");
    ASSERT_TRUE(g_deferred != NULL);
    http_req_t *req = g_deferred;
    g_deferred = NULL;
    http_req_route(req); /* c, then /p/5 answers; /nope is parsed and waits in b */
    CHECK_STR_EQ(g_trace, "abcHab");
    ASSERT_TRUE(g_deferred != NULL);
    req = g_deferred;
    g_deferred = NULL;
    http_req_route(req);
    CHECK_STR_EQ(g_trace, "abcHabc");
    ASSERT_TRUE(out.data != NULL);
    const char *a = strstr(out.data, "\r\n\r\n5"), *b = strstr(out.data, "404 Not Found");
    CHECK_TRUE(a && b && a < b);
    teardown_hooks(c, &w, r);
}

TEST(conn_hook_limit)
{
    http_router_t *r = http_router_new();
    for (int i = 0; i < HTTP_MAX_HOOKS; i++)
        CHECK_EQ_INT(http_router_use(r, "p", hook_pass, "p"), 0);
    CHECK_EQ_INT(http_router_use(r, "p", hook_pass, "p"), ERR_INVALID);
    http_router_free(r);
}

TEST(conn_stream_backpressure_delivers_every_byte_in_order)
{
    for (int split = 1; split < 90; split += 7) {
        http_conn_t *c = setup();
        st.pause_each = true;
        char req[1024];
        char body[500];
        for (size_t i = 0; i < sizeof body; i++)
            body[i] = (char)('a' + i % 26);
        int n = snprintf(req, sizeof req,
                         "POST /up HTTP/1.1\r\nContent-Length: 500\r\n\r\n%.*s"
                         "GET /p/9 HTTP/1.1\r\n\r\n",
                         500, body);
        for (int off = 0; off < n; off += split) {
            feed(c, req + off, (size_t)(n - off < split ? n - off : split));
            CHECK_TRUE(st.end_status == 1 || !st.paused);
            st_drain(1000);
        }
        st_drain(1000);
        CHECK_EQ_INT(st.end_status, 0);
        CHECK_TRUE(str_eq(buf_str(&st.got), str_make(body, sizeof body)));
        const char *a = strstr(out.data, "201"), *b = strstr(out.data, "\r\n\r\n9");
        CHECK_TRUE(a && b && a < b); /* the pipelined request waited for the upload */
        CHECK_TRUE(!closed);
        teardown(c);
    }
}

TEST(conn_stream_chunked_and_late_reader)
{
    http_conn_t *c = setup();
    st.read_later = true;
    feed_cstr(c, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                 "3\r\nabc\r\n");
    CHECK_EQ_INT(c->state, CONN_HANDLER); /* parked after the headers */
    CHECK_EQ_INT(out.len, 0);             /* no 100 Continue before the handler reads */
    feed_cstr(c, "2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n");
    CHECK_EQ_INT(st.chunks, 0);
    CHECK_EQ_INT(http_req_body_read(st.req, st_chunk, st_end, NULL), 0);
    CHECK_EQ_INT(http_req_body_read(st.req, st_chunk, st_end, NULL), ERR_INVALID);
    CHECK_TRUE(strstr(out.data, "HTTP/1.1 100 Continue\r\n\r\n") == out.data);
    CHECK_EQ_INT(st.end_status, 0);
    CHECK_TRUE(str_eq_cstr(buf_str(&st.got), "abcde"));
    CHECK_TRUE(strstr(out.data, "201 Created") != NULL && !closed);
    teardown(c);
}

TEST(conn_stream_limits_and_errors_go_to_the_consumer)
{
    /* Content-Length over the route's limit: 413 before the handler */
    http_conn_t *c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nContent-Length: 1001\r\n\r\n");
    CHECK_TRUE(strstr(out.data, "413") != NULL && closed && st.req == NULL);
    teardown(c);
    /* under it, though above the server's 100: accepted */
    c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nContent-Length: 200\r\n\r\n");
    CHECK_TRUE(st.req != NULL && out.len == 0);
    teardown(c);
    /* chunked over the limit: the consumer hears ERR_TOO_LARGE and answers */
    c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 20 && !closed; i++)
        feed_cstr(c, "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n");
    CHECK_EQ_INT(st.end_status, ERR_TOO_LARGE);
    CHECK_EQ_INT(st.got.len, 960); /* 15 chunks of 64; the 16th goes over */
    CHECK_TRUE(strstr(out.data, "413") != NULL && strstr(out.data, "Connection: close"));
    teardown(c);
    /* bad chunk framing mid-body */
    c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\n");
    CHECK_EQ_INT(st.end_status, ERR_INVALID);
    CHECK_TRUE(strstr(out.data, "400") != NULL);
    teardown(c);
    /* the client closes its side early */
    c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    http__conn_eof(c);
    CHECK_EQ_INT(st.end_status, ERR_INVALID);
    teardown(c);
    /* the connection is gone while the consumer is paused: told once, then it answers */
    c = setup();
    st.pause_each = true;
    feed_cstr(c, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    CHECK_TRUE(st.paused);
    c->closed = true;
    CHECK_TRUE(http__conn_in_flight(c));
    http__conn_gone(c);
    CHECK_EQ_INT(st.end_status, ERR_IO);
    CHECK_TRUE(!http__conn_in_flight(c));
    st.paused = false;
    http_req_body_resume(st.req); /* a no-op now */
    teardown(c);
    /* the deadline while reading */
    c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    http__conn_abort(c, ERR_TIMEOUT);
    CHECK_EQ_INT(st.end_status, ERR_TIMEOUT);
    CHECK_TRUE(strstr(out.data, "408") != NULL);
    teardown(c);
}

TEST(conn_stream_early_answer_closes)
{
    http_conn_t *c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nX-Deny: 1\r\nExpect: 100-continue\r\nContent-Length: 900\r\n"
                 "\r\nsome body");
    CHECK_TRUE(strstr(out.data, "100 Continue") == NULL);
    CHECK_TRUE(strstr(out.data, "403 Forbidden") != NULL);
    CHECK_TRUE(strstr(out.data, "Connection: close") != NULL && closed);
    CHECK_EQ_INT(st.chunks, 0);
    teardown(c);
    /* no body: dispatched as usual, and http_req_body_read hands over the empty body */
    c = setup();
    feed_cstr(c, "POST /up HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /ok HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(st.end_status, 0);
    CHECK_EQ_INT(count(out.data, "HTTP/1.1 2"), 2);
    CHECK_TRUE(!closed);
    teardown(c);
}

TEST(conn_trailers_are_ignored)
{
    http_conn_t *c = setup();
    const char *req = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                      "X-Trailer: one\r\nX-Another: two\r\n\r\nGET /ok HTTP/1.1\r\n\r\n";
    size_t n = strlen(req);
    for (size_t cut = 1; cut < n; cut += 5) {
        http_conn_t *d = setup();
        feed(d, req, cut);
        feed(d, req + cut, n - cut);
        CHECK_TRUE(strstr(out.data, "\r\n\r\nabc") != NULL);
        CHECK_EQ_INT(count(out.data, "200 OK"), 2);
        teardown(d);
    }
    teardown(c);
}

TEST(conn_parser_rejections_carry_a_request_id)
{
    static const char *const reqs[] = {
        "POST /echo HTTP/1.1\r\nX-Request-Id: client-7\r\nContent-Length: 101\r\n\r\n",
        "GET /ok HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "BAD\r\n\r\n",
    };
    for (size_t i = 0; i < 3; i++) {
        http_conn_t *c = setup();
        feed_cstr(c, reqs[i]);
        CHECK_TRUE(closed);
        CHECK_TRUE(strstr(out.data, "\r\nX-Request-Id: ") != NULL);
        if (i == 0)
            CHECK_TRUE(strstr(out.data, "\r\nX-Request-Id: client-7\r\n") != NULL);
        teardown(c);
    }
}

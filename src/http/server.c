/*
 * server.c - the libuv side of the HTTP layer: listeners, worker threads, reads and
 * writes, per-connection deadlines, graceful shutdown.
 *
 * Not for: parsing or responses (conn.c), routing (router.c).
 *
 * DESIGN: N worker threads, each with its own uv_loop_t and its own listening socket
 * bound with SO_REUSEPORT to the same address, so the kernel spreads connections and no
 * state is shared between loops. The main thread binds every socket (the first one decides
 * an ephemeral port), prints the "listening" line, then only waits for signals: SIGTERM/SIGINT
 * tell each worker to stop through a uv_async_t; SIGHUP runs the on_sighup hook there.
 *
 * Each connection has one uv_timer_t driven lazily: the connection stores its current
 * deadline (header, body or idle, from conn.c's state) and the timer is only re-armed when
 * the deadline moves earlier; when it fires early it re-arms for the remainder. On the
 * keep-alive fast path that costs one store per request instead of timer heap operations.
 *
 * Writes: uv_try_write first; what the kernel does not take is copied and handed to
 * uv_write; output produced meanwhile queues in wq. Closing after an error response is
 * "lingering" (nginx): shut down our side, then discard input until EOF or 2 s, so the
 * client reads the response instead of a reset.
 *
 * Shutdown: stop accepting, close idle connections, let requests in progress finish;
 * after shutdown_timeout_ms every connection is closed (a handler still running is
 * answered into the void). The loop ends when its last handle and pool job are done.
 */
#define LOG_MODULE "http"
#include <errno.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "http/http_internal.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define LINGER_MS      2000
#define WQ_PAUSE_BYTES (1u << 20)
#define LISTEN_BACKLOG 4096

struct http_server {
    const struct http_options *opts;
    const http_router_t *router;
    http_worker_t *workers;
    uint32_t nworkers;
    uv_loop_t main_loop;
    uv_signal_t sigterm, sigint, sighup;
    bool stopping;
};

static void on_conn_timer(uv_timer_t *t);
static void close_now(http_conn_t *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_write(uv_write_t *req, int status);
static void maybe_finish_shutdown(http_worker_t *w);

/* ---- options --------------------------------------------------------------------------- */

/* See http.h. */
void http_options_defaults(struct http_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8000;
    o->max_header_bytes = 16 * 1024;
    o->max_headers = 100;
    o->max_url_bytes = 8 * 1024;
    o->max_body_bytes = 1024 * 1024;
    o->json_max_depth = 32;
    o->header_timeout_ms = 10000;
    o->body_timeout_ms = 30000;
    o->idle_timeout_ms = 60000;
    o->shutdown_timeout_ms = 10000;
    o->pool_queue_max = 1024;
}

/* See http.h. */
void http_worker_set_data(http_worker_t *w, void *data)
{
    w->data = data;
}

/* See http.h. */
void *http_worker_data(const http_worker_t *w)
{
    return w->data;
}

/* See http.h. */
uint32_t http_worker_index(const http_worker_t *w)
{
    return w->index;
}

/* ---- wakeups from other threads --------------------------------------------------------- */

static void on_wake(uv_async_t *a)
{
    http_worker_t *w = a->data;
    for (uint32_t i = 0; i < w->nwake; i++)
        w->wake[i].fn(w, w->wake[i].arg);
}

/* See http.h. */
int http_worker_on_wake(http_worker_t *w, http_wake_fn fn, void *arg)
{
    if (!fn || !w->loop || w->nwake >= sizeof w->wake / sizeof w->wake[0])
        return ERR_INVALID;
    w->wake[w->nwake].fn = fn;
    w->wake[w->nwake].arg = arg;
    w->nwake++;
    return 0;
}

/* See http.h. */
void http_worker_wake(http_worker_t *w)
{
    if (!w->loop)
        return;
    uv_mutex_lock(&w->wake_mu);
    if (w->wake_open)
        uv_async_send(&w->wake_async);
    uv_mutex_unlock(&w->wake_mu);
}

/* ---- deadlines ------------------------------------------------------------------------- */

static void set_deadline(http_conn_t *c, uint64_t when)
{
    c->deadline_ms = when;
    if (when == 0 || c->closed)
        return;
    if (!uv_is_active((uv_handle_t *)&c->timer) || when < c->timer_due_ms) {
        uint64_t now = uv_now(c->worker->loop);
        uv_timer_start(&c->timer, on_conn_timer, when > now ? when - now : 1, 0);
        c->timer_due_ms = when;
    }
}

/* Sets the deadline that matches the connection's state (see conn.c). */
void http__conn_update_deadline(http_conn_t *c)
{
    http_worker_t *w = c->worker;
    if (!w->loop || c->closed || c->lingering)
        return;
    const struct http_options *o = w->opts;
    switch (c->state) {
    case CONN_IDLE:
        set_deadline(c, uv_now(w->loop) + o->idle_timeout_ms);
        break;
    case CONN_HEADERS:
        set_deadline(c, c->msg_start_ms + o->header_timeout_ms);
        break;
    case CONN_BODY:
        set_deadline(c, c->headers_done_ms + o->body_timeout_ms);
        break;
    case CONN_HANDLER:
        if (c->ev_fn) /* the handler's timer (http_req_timer) */
            set_deadline(c, c->ev_due_ms);
        else
            c->deadline_ms = 0; /* the handler's own work is not bounded here */
        break;
    case CONN_CLOSING:
        set_deadline(c, uv_now(w->loop) + o->idle_timeout_ms);
        break;
    }
}

static void on_conn_timer(uv_timer_t *t)
{
    http_conn_t *c = t->data;
    uint64_t now = uv_now(c->worker->loop);
    if (c->deadline_ms == 0)
        return;
    if (now + 1 < c->deadline_ms) {
        uv_timer_start(&c->timer, on_conn_timer, c->deadline_ms - now, 0);
        c->timer_due_ms = c->deadline_ms;
        return;
    }
    if (c->state == CONN_HANDLER && c->ev_fn && !c->lingering) {
        http__conn_timer_fire(c); /* may answer, and close; c is not freed while open */
        return;
    }
    if (c->lingering || c->writing || c->state == CONN_CLOSING) {
        close_now(c);
        return;
    }
    if (c->state == CONN_HEADERS || c->state == CONN_BODY)
        log_debug("msg=\"request deadline\" state=%s",
                  c->state == CONN_HEADERS ? "headers" : "body");
    /* A client that missed a deadline gets no lingering close: it may be trickling. */
    c->no_linger = true;
    http__conn_abort(c, c->state == CONN_IDLE ? 0 : ERR_TIMEOUT);
}

/* ---- connection teardown --------------------------------------------------------------- */

static void conn_free(http_conn_t *c)
{
    http_worker_t *w = c->worker;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->conn_count--;
    if (w->opts->conn_observer)
        w->opts->conn_observer(w->opts->observer_data, -1);
    if (w->out_conn == c) {
        buf_reset(&w->out);
        w->out_conn = NULL;
    }
    http__conn_dispose(c);
    buf_dispose(&c->wq);
    free(c->wbuf);
    free(c);
    maybe_finish_shutdown(w);
}

static void on_handle_closed(uv_handle_t *h)
{
    http_conn_t *c = h->data;
    if (--c->handles_open)
        return;
    c->freed_handles = true;
    if (http__conn_in_flight(c)) {
        /* http__conn_release frees it when the handler answers; a body consumer hears
         * that its client is gone, and may answer (and free c) right here. */
        http__conn_gone(c);
        return;
    }
    conn_free(c);
}

/* Called by conn.c when a request finished on a connection already gone. */
void http__conn_release(http_conn_t *c)
{
    if (c->freed_handles)
        conn_free(c);
}

static void close_now(http_conn_t *c)
{
    if (c->closed)
        return;
    c->closed = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn_t *c = req->data;
    free(req); /* also called, with UV_ECANCELED, when the handle closes first */
    if (c->closed)
        return;
    if (status < 0) {
        close_now(c);
        return;
    }
    c->lingering = true;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read); /* discard until EOF */
    uint64_t now = uv_now(c->worker->loop);
    c->deadline_ms = now + LINGER_MS;
    uv_timer_start(&c->timer, on_conn_timer, LINGER_MS, 0);
    c->timer_due_ms = c->deadline_ms;
}

static void begin_close(http_conn_t *c)
{
    if (c->closed || c->lingering || c->shutdown_sent)
        return;
    if (c->no_linger) {
        close_now(c);
        return;
    }
    /* Requests are allocated when needed: idle connections stay small. */
    uv_shutdown_t *req = xmalloc(sizeof *req);
    req->data = c;
    c->shutdown_sent = true;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        close_now(c);
    }
}

/* ---- io hooks for conn.c ---------------------------------------------------------------- */

/* Starts writing c->wbuf (n bytes) with uv_write. */
static void start_write(http_conn_t *c, size_t n)
{
    uv_write_t *req = xmalloc(sizeof *req);
    uv_buf_t b = uv_buf_init(c->wbuf, (unsigned)n);
    req->data = c;
    c->writing = true;
    if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(req);
        c->writing = false;
        close_now(c);
    }
}

static void on_write(uv_write_t *req, int status)
{
    http_conn_t *c = req->data;
    free(req);
    free(c->wbuf);
    c->wbuf = NULL;
    c->writing = false;
    if (c->closed)
        return;
    if (status < 0) {
        close_now(c);
        return;
    }
    if (c->wq.len) {
        c->wbuf = c->wq.data;
        size_t n = c->wq.len;
        buf_init(&c->wq, c->wq.max_len);
        start_write(c, n);
        return;
    }
    if (c->close_after_write) {
        begin_close(c);
        return;
    }
    if (c->worker->shutting_down && c->state == CONN_IDLE) {
        close_now(c); /* shutdown skipped it while its last response was being written */
        return;
    }
    if (c->state != CONN_HANDLER && !c->lingering)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read); /* after WQ_PAUSE_BYTES */
}

static void io_write(http_conn_t *c, const char *data, size_t len)
{
    if (c->closed)
        return;
    if (c->writing) {
        if (buf_append(&c->wq, data, len) != 0) {
            close_now(c);
            return;
        }
        if (c->wq.len > WQ_PAUSE_BYTES)
            uv_read_stop((uv_stream_t *)&c->tcp); /* the client does not read: stop too */
        return;
    }
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)len)
        return;
    if (r < 0 && r != UV_EAGAIN) {
        close_now(c);
        return;
    }
    if (r < 0)
        r = 0;
    size_t rest = len - (size_t)r;
    c->wbuf = xmalloc(rest);
    memcpy(c->wbuf, data + r, rest);
    start_write(c, rest);
}

static void io_close(http_conn_t *c)
{
    if (c->closed || c->close_after_write)
        return;
    c->close_after_write = true;
    if (!c->writing)
        begin_close(c);
}

static void io_pause(http_conn_t *c, bool paused)
{
    if (c->closed || c->lingering)
        return;
    if (paused)
        uv_read_stop((uv_stream_t *)&c->tcp);
    else
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static const struct http_io uv_io = {io_write, io_close, io_pause};

/* ---- reads and accepts ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    http_conn_t *c = h->data;
    *buf = uv_buf_init(c->worker->rbuf, HTTP_READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    http_conn_t *c = s->data;
    if (nread > 0) {
        if (!c->lingering && !c->close_after_write)
            http__conn_feed(c, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return;
    if (nread == UV_EOF && !c->lingering && !c->close_after_write) {
        http__conn_eof(c);
        if (c->state == CONN_HANDLER)
            uv_read_stop(s);
        return;
    }
    close_now(c);
}

static void fill_peer(http_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&c->peer, 0, sizeof c->peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        (void)ip_from_sockaddr((const struct sockaddr *)&ss, &c->peer);
}

static void on_connection(uv_stream_t *server, int status)
{
    http_worker_t *w = server->data;
    if (status < 0) {
        log_warn("msg=\"accept failed\" err=%s", uv_strerror(status));
        return;
    }
    http_conn_t *c = xcalloc(1, sizeof *c);
    http__conn_init(c, w);
    c->aux = server == (uv_stream_t *)&w->aux_listener;
    buf_init(&c->wq, (size_t)64 << 20);
    uv_tcp_init(w->loop, &c->tcp);
    uv_timer_init(w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->conn_count++;
    if (w->opts->conn_observer)
        w->opts->conn_observer(w->opts->observer_data, 1);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        close_now(c);
        return;
    }
    uint32_t maxc = w->opts->max_connections;
    if (maxc && (uint64_t)w->conn_count * w->server->nworkers > maxc) {
        log_warn("msg=\"connection limit reached\" max_connections=%u", maxc);
        close_now(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    fill_peer(c);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    /* The first request must arrive within the header deadline. */
    set_deadline(c, uv_now(w->loop) + w->opts->header_timeout_ms);
}

/* ---- shutdown -------------------------------------------------------------------------- */

static void on_closed_noop(uv_handle_t *h)
{
    (void)h;
}

static void maybe_finish_shutdown(http_worker_t *w)
{
    if (!w->shutting_down || w->conn_count || !w->stop_async.data)
        return;
    w->stop_async.data = NULL; /* once */
    uv_close((uv_handle_t *)&w->shutdown_timer, on_closed_noop);
    uv_close((uv_handle_t *)&w->stop_async, on_closed_noop);
    uv_mutex_lock(&w->wake_mu);
    w->wake_open = false; /* http_worker_wake is a no-op from now on */
    uv_mutex_unlock(&w->wake_mu);
    uv_close((uv_handle_t *)&w->wake_async, on_closed_noop);
    if (w->opts->on_worker_stop)
        w->opts->on_worker_stop(w, w->loop, w->opts->hook_arg);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    http_worker_t *w = t->data;
    log_warn("msg=\"shutdown timeout: closing connections\" open=%u", w->conn_count);
    for (http_conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        close_now(c);
    }
}

static void on_stop(uv_async_t *a)
{
    http_worker_t *w = a->data;
    if (w->shutting_down)
        return;
    w->shutting_down = true;
    uv_close((uv_handle_t *)&w->listener, on_closed_noop);
    if (w->aux_fd >= 0)
        uv_close((uv_handle_t *)&w->aux_listener, on_closed_noop);
    for (http_conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CONN_IDLE && !c->writing)
            close_now(c);
        else if (c->state == CONN_HANDLER)
            http__conn_abandon(c); /* streams and long polls end now, not at the timeout */
    }
    uv_timer_start(&w->shutdown_timer, on_shutdown_timeout, w->opts->shutdown_timeout_ms, 0);
    maybe_finish_shutdown(w);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void worker_main(void *arg)
{
    http_worker_t *w = arg;
    uv_loop_t *loop = w->loop;
    log_thread_buffer_begin(); /* this loop's access lines (JWTD_LOG_BUFFER) */
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        if (e != 0)
            log_warn("msg=\"cannot pin worker to its CPU\" worker=%u cpu=%d err=\"%s\"", w->index,
                     w->cpu, strerror(e));
    }
    int rc = uv_tcp_open(&w->listener, w->listen_fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, LISTEN_BACKLOG, on_connection);
    if (rc != 0)
        log_error("msg=\"listen failed\" worker=%u err=%s", w->index, uv_strerror(rc));
    if (w->aux_fd >= 0) {
        rc = uv_tcp_open(&w->aux_listener, w->aux_fd);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&w->aux_listener, LISTEN_BACKLOG, on_connection);
        if (rc != 0)
            log_error("msg=\"second listener failed\" worker=%u err=%s", w->index, uv_strerror(rc));
    }
    if (w->opts->on_worker_start)
        w->opts->on_worker_start(w, loop, w->opts->hook_arg);
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) == UV_EBUSY) {
        uv_walk(loop, on_walk_close, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
    }
    log_thread_buffer_end();
}

static void on_signal(uv_signal_t *s, int signum)
{
    http_server_t *srv = s->data;
    if (srv->stopping) {
        log_warn("msg=\"second signal: exiting now\" signal=%d", signum);
        log_flush(); /* the access lines buffered so far */
        _exit(1);
    }
    srv->stopping = true;
    log_info("msg=\"shutting down\" signal=%d", signum);
    for (uint32_t i = 0; i < srv->nworkers; i++)
        uv_async_send(&srv->workers[i].stop_async);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sighup, NULL);
    /* libuv restores the default action (terminate) of a signal it stops watching: SIGHUP
       during the drain must not turn a clean exit into a kill. */
    signal(SIGHUP, SIG_IGN);
}

static void on_hup(uv_signal_t *s, int signum)
{
    http_server_t *srv = s->data;
    (void)signum;
    if (srv->opts->on_sighup)
        srv->opts->on_sighup(srv->opts->signal_arg);
    else
        log_info("msg=\"SIGHUP: nothing to do\"");
}

/* ---- listening sockets ----------------------------------------------------------------- */

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return ERR_CONFIG;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    freeaddrinfo(res);
    return 0;
}

static int open_listener(const struct sockaddr_storage *ss, int *out_fd)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    socklen_t len =
        ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (const struct sockaddr *)ss, len) != 0)
        goto fail;
    if (listen(fd, LISTEN_BACKLOG) != 0)
        goto fail;
    *out_fd = fd;
    return 0;
fail:;
    int e = -errno;
    close(fd);
    return e;
}

static uint16_t bound_port(int fd)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_storage ss;
    } u;
    memset(&u, 0, sizeof u);
    socklen_t len = sizeof u;
    if (getsockname(fd, &u.sa, &len) != 0)
        return 0;
    return ntohs(u.sa.sa_family == AF_INET ? u.in.sin_port : u.in6.sin6_port);
}

/*
 * With worker i pinned to CPU i (for every i), a classic BPF program on the SO_REUSEPORT
 * group sends each new connection to the listener of the worker on the CPU that handled
 * its SYN (the n-th socket of the group is worker n's): the connection's packets and its
 * worker then share a CPU and its caches, and a loopback client wakes a loop on its own CPU
 * instead of interrupting the other one. Returns whether the program is attached.
 */
static bool steer_by_cpu(http_server_t *srv)
{
    for (uint32_t i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].cpu != (int)i)
            return false;
    struct sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_CPU)},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    struct sock_fprog prog = {.len = 2, .filter = code};
    if (setsockopt(srv->workers[0].listen_fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                   sizeof prog) != 0) {
        log_warn("msg=\"cannot steer connections by CPU\" err=\"%s\"", strerror(errno));
        return false;
    }
    return true;
}

/* See http.h. */
int http_server_run(const struct http_options *opts, const http_router_t *router)
{
    http_server_t srv = {0};
    srv.opts = opts;
    srv.router = router;
    cpu_set_t allowed;
    int ncpu = 0;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        ncpu = CPU_COUNT(&allowed);
    uint32_t n = opts->workers;
    if (n == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = ncpu > 0 ? (uint32_t)ncpu : cores > 0 ? (uint32_t)cores : 1;
    }
    srv.nworkers = n;
    signal(SIGPIPE, SIG_IGN);
    http__pool_configure(opts->pool_threads, opts->pool_queue_max);

    struct sockaddr_storage ss;
    if (resolve(opts->host, opts->port, &ss) != 0) {
        log_error("msg=\"cannot resolve listen address\" host=%s", opts->host);
        return ERR_CONFIG;
    }
    srv.workers = xcalloc(n, sizeof *srv.workers);
    uint32_t opened = 0;
    int rc = 0;
    uint16_t port = opts->port;
    for (; opened < n; opened++) {
        http_worker_t *w = &srv.workers[opened];
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        rc = open_listener(&ss, &w->listen_fd);
        if (rc != 0) {
            log_error("msg=\"cannot listen\" host=%s port=%u err=\"%s\"", opts->host, port,
                      strerror(-rc));
            rc = ERR_CONFIG;
            break;
        }
        if (opened == 0)
            port = bound_port(w->listen_fd);
    }
    for (uint32_t i = 0; i < n; i++)
        srv.workers[i].aux_fd = -1;
    uint16_t aux_port = 0;
    struct sockaddr_storage aux_ss;
    memset(&aux_ss, 0, sizeof aux_ss);
    if (rc == 0 && opts->aux_host) {
        if (resolve(opts->aux_host, opts->aux_port, &aux_ss) != 0) {
            log_error("msg=\"cannot resolve the second listen address\" host=%s", opts->aux_host);
            rc = ERR_CONFIG;
        } else if ((rc = open_listener(&aux_ss, &srv.workers[0].aux_fd)) != 0) {
            log_error("msg=\"cannot listen\" host=%s port=%u err=\"%s\"", opts->aux_host,
                      opts->aux_port, strerror(-rc));
            rc = ERR_CONFIG;
        } else {
            aux_port = bound_port(srv.workers[0].aux_fd);
        }
    }
    if (rc == 0 && opts->on_ready)
        rc = opts->on_ready(port, opts->signal_arg);
    if (rc != 0) {
        for (uint32_t i = 0; i < opened; i++)
            close(srv.workers[i].listen_fd);
        if (n && srv.workers[0].aux_fd >= 0)
            close(srv.workers[0].aux_fd);
        free(srv.workers);
        return rc;
    }
    bool pin = ncpu > 1 && (opts->affinity == HTTP_AFFINITY_ON ||
                            (opts->affinity == HTTP_AFFINITY_AUTO && n == (uint32_t)ncpu));
    for (uint32_t i = 0, c = 0; i < n; i++) {
        http_worker_t *w = &srv.workers[i];
        w->index = i;
        w->server = &srv;
        w->cpu = -1;
        if (pin) { /* the next CPU the process may use, round robin */
            while (!CPU_ISSET(c, &allowed))
                c = (c + 1) % CPU_SETSIZE;
            w->cpu = (int)c;
            c = (c + 1) % CPU_SETSIZE;
        }
        http__worker_init_common(w, router, opts, &uv_io);
        /* Loop and handles are set up here, before the thread runs, so that a signal
         * arriving at once can already be forwarded to every worker. */
        w->loop = &w->loop_storage;
        uv_loop_init(w->loop);
        w->date_tick = -1;
        uv_tcp_init(w->loop, &w->listener);
        w->listener.data = w;
        if (w->aux_fd >= 0) {
            uv_tcp_init(w->loop, &w->aux_listener);
            w->aux_listener.data = w;
        }
        uv_async_init(w->loop, &w->stop_async, on_stop);
        w->stop_async.data = w;
        uv_async_init(w->loop, &w->wake_async, on_wake);
        w->wake_async.data = w;
        uv_mutex_init(&w->wake_mu);
        w->wake_open = true;
        uv_timer_init(w->loop, &w->shutdown_timer);
        w->shutdown_timer.data = w;
    }
    bool steer = pin && steer_by_cpu(&srv);
    uv_loop_init(&srv.main_loop);
    uv_signal_init(&srv.main_loop, &srv.sigterm);
    uv_signal_init(&srv.main_loop, &srv.sigint);
    uv_signal_init(&srv.main_loop, &srv.sighup);
    srv.sigterm.data = srv.sigint.data = srv.sighup.data = &srv;
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv.sigint, on_signal, SIGINT);
    uv_signal_start(&srv.sighup, on_hup, SIGHUP);

    bool v6 = ss.ss_family == AF_INET6;
    printf("jwtd listening on http://%s%s%s:%u\n", v6 ? "[" : "", opts->host, v6 ? "]" : "", port);
    if (opts->aux_host) {
        bool aux_v6 = aux_ss.ss_family == AF_INET6;
        printf("jwtd metrics listening on http://%s%s%s:%u\n", aux_v6 ? "[" : "", opts->aux_host,
               aux_v6 ? "]" : "", aux_port);
        log_info("msg=\"second listener\" host=%s port=%u", opts->aux_host, aux_port);
    }
    fflush(stdout);
    log_info("msg=\"listening\" host=%s port=%u workers=%u pinned=%s steered=%s", opts->host, port,
             n, pin ? "yes" : "no", steer ? "yes" : "no");

    /* Workers are started after the signal handlers so that they inherit nothing odd. */
    for (uint32_t i = 0; i < n; i++)
        uv_thread_create(&srv.workers[i].thread, worker_main, &srv.workers[i]);
    uv_run(&srv.main_loop, UV_RUN_DEFAULT);
    for (uint32_t i = 0; i < n; i++)
        uv_thread_join(&srv.workers[i].thread);
    uv_loop_close(&srv.main_loop);
    for (uint32_t i = 0; i < n; i++) {
        http__worker_dispose_common(&srv.workers[i]);
        uv_mutex_destroy(&srv.workers[i].wake_mu);
    }
    free(srv.workers);
    log_info("msg=\"stopped\"");
    return 0;
}

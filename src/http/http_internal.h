/*
 * http_internal.h - structures shared by the files of src/http/ (and the http fuzz target).
 * Nothing outside src/http/ and fuzz/ includes this.
 *
 * DESIGN: a connection (conn.c) is a socket-free state machine: bytes go in through
 * http__conn_feed(), responses come out through the worker's io callbacks. server.c wires
 * it to libuv (reads, writes, timers); the fuzz target wires it to a memory buffer.
 *
 * Input buffering: a read lands in the worker's shared read buffer and is parsed in place.
 * Only the bytes of a request still incomplete at the end of the read (from its first
 * slice on) are copied into the connection's own buffer (ibuf), and the request's slices
 * are rebased onto it. When a request completes inside the shared buffer, its bytes are
 * copied into the request arena before the handler runs, so slices stay valid if the
 * handler answers later.
 */
#ifndef JWTD_HTTP_INTERNAL_H
#define JWTD_HTTP_INTERNAL_H

#include <stdint.h>

#include <llhttp.h>
#include <uv.h>

#include "common/buf.h"
#include "common/ip.h"
#include "http/http.h"

#define HTTP_ARENA_CHUNK     4096
#define HTTP_READ_BUF        65536
#define HTTP_CHUNK_CACHE_MAX 256

struct http_arena_chunk {
    struct http_arena_chunk *next;
    size_t cap; /* usable bytes after the header */
    char data[];
};

struct http_arena_big {
    struct http_arena_big *next;
    char data[];
};

struct http_resp_header {
    struct http_resp_header *next;
    str_t name;
    str_t value;
};

/* What the transport does for a connection (server.c: libuv; fuzz: memory). */
struct http_io {
    /* Sends bytes (copy them if they cannot be sent now). */
    void (*write)(http_conn_t *c, const char *data, size_t len);
    /* Closes after everything written has been sent. */
    void (*close)(http_conn_t *c);
    /* Stops / restarts reading while a request is served asynchronously. */
    void (*pause)(http_conn_t *c, bool paused);
};

/* Per-thread server state. Owned by its loop thread. */
struct http_worker {
    uv_loop_t *loop; /* NULL in the fuzz harness */
    uint32_t index;
    const http_router_t *router;
    const struct http_options *opts;
    const struct http_io *io;
    void *data;                           /* http_worker_set_data */
    char *rbuf;                           /* shared read buffer, HTTP_READ_BUF bytes */
    bool rbuf_busy;                       /* handed to libuv and not returned yet */
    buf_t out;                            /* responses of the current batch */
    http_conn_t *out_conn;                /* connection owning out's bytes */
    struct http_arena_chunk *free_chunks; /* cache of arena chunks */
    uint32_t free_chunk_count;
    char date_line[64]; /* "Date: ...\r\n" */
    size_t date_len;
    int64_t date_sec;
    int64_t date_tick; /* uv_now() second of the last check */
    bool shutting_down;
    /* server.c state */
    uv_tcp_t listener;
    uv_tcp_t aux_listener; /* worker 0 only, when http_options.aux_host is set */
    int aux_fd;            /* -1 = none */
    uv_async_t stop_async;
    uv_async_t wake_async; /* http_worker_wake */
    uv_mutex_t wake_mu;    /* guards wake_open against the closing of wake_async */
    bool wake_open;
    struct {
        http_wake_fn fn;
        void *arg;
    } wake[4];
    uint32_t nwake;
    uv_timer_t shutdown_timer;
    int listen_fd;
    int cpu; /* CPU this worker's thread is pinned to; -1 = not pinned */
    uint32_t conn_count;
    struct http_conn *conns; /* intrusive list of open connections */
    uv_thread_t thread;
    uv_loop_t loop_storage;
    struct http_server *server;
};

enum http_conn_state {
    CONN_IDLE = 0, /* between requests */
    CONN_HEADERS,  /* request started, headers incomplete */
    CONN_BODY,     /* headers done, body incomplete */
    CONN_HANDLER,  /* handler running asynchronously; parsing paused */
    CONN_CLOSING,  /* no more requests: flushing then closing */
};

struct http_conn {
    llhttp_t parser;
    http_worker_t *worker;
    http_req_t req;
    enum http_conn_state state;
    /* input */
    char *ibuf;           /* own input buffer (NULL when all input was in the shared one) */
    size_t ilen, icap;    /* bytes held / allocated */
    size_t iparsed;       /* bytes of ibuf already given to the parser */
    bool in_ibuf;         /* the parse in progress reads from ibuf */
    bool aux;             /* accepted on the second listener (http_options.aux_port) */
    bool in_parse;        /* inside llhttp_execute */
    const char *span_end; /* end of the furthest slice of the current request */
    const char *hdr_end;  /* span_end when the headers completed */
    uint8_t last_cb;      /* 1 field, 2 value: extends split header names/values */
    buf_t body;           /* dechunked body when it is not one contiguous slice */
    size_t body_total;
    /* streamed body (req._stream, or http_req_body_read on a buffered one) */
    http_body_chunk_fn body_chunk;
    http_body_end_fn body_end;
    void *body_arg;
    size_t body_max;       /* the streaming route's body limit */
    uint8_t body_state;    /* enum http_body_state (conn.c); valid when req._stream */
    bool body_buffered;    /* http_req_body_read over an already buffered body */
    bool continue_pending; /* "100 Continue" deferred until the handler reads the body */
    /* answering later (http_req_timer, http_req_on_abandon, http_stream_*) */
    http_req_event_fn ev_fn; /* the request's timer; NULL = none */
    void *ev_arg;
    uint64_t ev_due_ms;
    http_req_event_fn abandon_fn;
    void *abandon_arg;
    bool streaming;        /* http_stream_begin: the response is open */
    int stream_status;     /* for the access line at the end */
    uint64_t stream_bytes; /* body bytes written */
    int err;               /* ERR_* that stopped parsing */
    uint64_t msg_start_ms;
    uint64_t headers_done_ms;
    /* transport (server.c) */
    uv_tcp_t tcp;
    uv_timer_t timer;
    uint64_t deadline_ms; /* 0 = none */
    uint64_t timer_due_ms;
    char *wbuf; /* bytes being written by uv_write */
    buf_t wq;   /* bytes waiting for the write in flight */
    bool writing, close_after_write, closed, lingering, freed_handles, no_linger;
    bool shutdown_sent;
    uint8_t handles_open;
    ip_addr_t peer;
    char *peer_str;
    struct http_conn *next, *prev;
};

/* conn.c */
void http__conn_init(http_conn_t *c, http_worker_t *w);
/* Feeds bytes valid only for the call (the shared read buffer or any other). */
void http__conn_feed(http_conn_t *c, const char *data, size_t len);
/* The peer closed its side. */
void http__conn_eof(http_conn_t *c);
/* Frees buffers; the request must not be in flight. */
void http__conn_dispose(http_conn_t *c);
/* Writes the batched output of the worker to the connection. */
void http__conn_flush(http_conn_t *c);
/*
 * Called by the transport when the connection is gone (its handles are closed) and
 * http__conn_in_flight(c): a streamed body's consumer hears ERR_IO. It may respond at
 * once, which releases (frees) c.
 */
void http__conn_gone(http_conn_t *c);
/* True while a handler or a body consumer still owns the request (it has to respond). */
bool http__conn_in_flight(const http_conn_t *c);
/* Asks the connection to stop (timeouts, shutdown): answers err (0 = silently) and closes. */
void http__conn_abort(http_conn_t *c, int err);
/* The request's timer is due (http_req_timer): runs its callback. */
void http__conn_timer_fire(http_conn_t *c);
/* The handler's request is abandoned (shutdown, broken connection): runs its abandon fn. */
void http__conn_abandon(http_conn_t *c);

/* server.c: transport hooks called by conn.c */
void http__conn_release(http_conn_t *c); /* request finished after the conn was gone */
void http__conn_update_deadline(http_conn_t *c);

/* arena (conn.c) */
void http__arena_reset(http_req_t *req);
void http__worker_init_common(http_worker_t *w, const http_router_t *router,
                              const struct http_options *opts, const struct http_io *io);
void http__worker_dispose_common(http_worker_t *w);
void http__worker_update_date(http_worker_t *w, int64_t now_s);

/* router.c */
enum http_method http__method_from_llhttp(uint8_t m);
int http__router_run_hooks(const http_router_t *r, http_req_t *req);
http_options_fn http__router_options(const http_router_t *r);
size_t http__router_stream_max(const http_router_t *r, enum http_method method, str_t path);
/* The refusal answer of the route method + path picks (http_router_set_refusal) and its
   data into *data; NULL when it has none. */
http_refusal_fn http__router_refusal(const http_router_t *r, enum http_method method, str_t path,
                                     void **data);
/* The path a request for path is served as (an alias's target, else path itself). */
str_t http__router_resolve(const http_router_t *r, str_t path);

/* pool.c */
void http__pool_configure(uint32_t threads, uint32_t queue_max);

#endif

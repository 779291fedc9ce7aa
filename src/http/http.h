/*
 * http.h - jwtd's HTTP/1.1 server: listener, router, request and response API, the
 * blocking-work pool, and the body parsers (query string, form, JSON) handlers use.
 *
 * The layer knows nothing about auth, stores or databases: the request layer (src/api/)
 * registers handlers and hooks on an http_router_t and the server calls them with an
 * http_req_t.
 *
 * Handler contract: a handler is called on its worker's loop thread once the request is
 * complete (headers and whole body) -- or, for a streaming route (http_router_add_stream)
 * and a request with a body, as soon as the headers are in; it then reads the body with
 * http_req_body_read. It calls exactly one respond function
 * (http_respond, http_respond_json, http_respond_error), either before returning or later on
 * the same loop (typically from an http_pool_submit done callback). Until it responds, the
 * request and every slice in it stay valid; after it responds, none of them do.
 *
 * Threads: one http_worker_t per thread, each with its own libuv loop. Everything reached
 * from an http_req_t belongs to that worker's thread. The router is built before
 * http_server_run and read-only afterwards.
 */
#ifndef JWTD_HTTP_H
#define JWTD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"
#include "common/str.h"

struct json_t;
struct uv_loop_s;

typedef struct http_router http_router_t;
typedef struct http_server http_server_t;
typedef struct http_worker http_worker_t;
typedef struct http_req http_req_t;
typedef struct http_conn http_conn_t;

/* ---- methods --------------------------------------------------------------------------- */

enum http_method {
    HTTP_M_OTHER = 0,
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_PATCH,
    HTTP_M_OPTIONS,
    HTTP_M__COUNT
};

/* "GET", "POST", ... ; "OTHER" for HTTP_M_OTHER. */
const char *http_method_name(enum http_method m);

/* ---- request ------------------------------------------------------------------------------ */

typedef struct {
    str_t name;
    str_t value;
} http_header_t;

#define HTTP_MAX_PARAMS 4
/* Longest request id accepted from a client (X-Request-Id). */
#define HTTP_RID_MAX 64

/*
 * One request. Fields are read-only for handlers; slices point into connection buffers or
 * the request arena and are valid until the handler responds. Fields starting with _ are
 * private to src/http/.
 */
struct http_req {
    enum http_method method;
    str_t method_name; /* as sent, e.g. "GET" */
    str_t target;      /* raw request target, e.g. "/posts/1?x=2" */
    str_t path;        /* target up to '?', not percent-decoded */
    str_t query;       /* after '?', raw; empty when absent */
    str_t body;        /* complete body (dechunked); empty when none */
    uint8_t http_major, http_minor;
    bool is_head;           /* HEAD served by a GET route: the body is not sent */
    http_header_t *headers; /* in arrival order */
    uint32_t header_count;
    str_t param_names[HTTP_MAX_PARAMS];
    str_t param_values[HTTP_MAX_PARAMS];
    uint32_t param_count;
    void *route_data;      /* the data pointer given at registration */
    http_worker_t *worker; /* the worker (loop thread) serving the request */
    int64_t log_user_id;   /* set by authentication for the access line; 0 = anonymous */
    void *slot; /* the layer above's per-request state (values computed once: the caller's
                   principal, ...), in the arena; NULL until that layer sets it */
    /* --- private --- */
    http_conn_t *_conn;
    struct http_arena_chunk *_arena;   /* current chunk */
    struct http_arena_big *_arena_big; /* large allocations, freed at request end */
    size_t _arena_used;
    struct http_resp_header *_resp_headers; /* added with http_resp_header_add */
    struct http_resp_header *_resp_tail;
    uint64_t _id;
    uint64_t _start_ns;          /* uv_hrtime() at the first byte, when access logging is on */
    char _rid[HTTP_RID_MAX + 1]; /* log request id: generated (LOG_RID_SIZE) or the
                                    client's X-Request-Id (http_req_set_rid) */
    uint32_t _header_cap;
    bool _responded;
    bool _keep_alive;
    bool _expect_continue;
    bool _body_owned;   /* body lives in the connection's body buffer, not the input */
    bool _stream;       /* streaming route: dispatched after the headers, body not buffered */
    bool _body_read;    /* http_req_body_read was called */
    bool _client_done;  /* _client computed */
    uint8_t _hook_next; /* index of the next router hook to run */
    ip_addr_t _client;  /* http_req_client_addr */
    char *_client_str;  /* its text, in the arena, once asked for */
};

/* Case-insensitive lookup of the first header named name; STR_NULL (ptr NULL) if absent. */
str_t http_req_header(const http_req_t *req, const char *name);
/* The value of path parameter {name}; STR_NULL if the route has none by that name. */
str_t http_req_param(const http_req_t *req, const char *name);
/* A process-wide unique, increasing request id (assigned on first call). */
uint64_t http_req_id(http_req_t *req);
/* The request id of log lines (log_req_*(http_req_rid(req), ...)); assigned on first call. */
const char *http_req_rid(http_req_t *req);
/*
 * Uses id as the request's id (a client's X-Request-Id) when it is 1..HTTP_RID_MAX bytes
 * of [A-Za-z0-9._:-] (so it is safe in logs and headers). Returns 0, or ERR_INVALID and
 * the request keeps a generated id. Call before anything logs with the request's id.
 */
int http_req_set_rid(http_req_t *req, str_t id);
/* The peer's address (IPv4 as ::ffff:a.b.c.d). */
const ip_addr_t *http_req_peer_addr(const http_req_t *req);
/* The peer's address as text ("127.0.0.1", "::1"); lives as long as the connection. */
const char *http_req_peer_str(http_req_t *req);
/*
 * The client's address: the peer, or, when the peer is one of the server's trusted proxies
 * (http_options.trusted_proxies), the right-most X-Forwarded-For address that is not a
 * trusted proxy itself (the first hop one of our proxies did not add; an unparsable entry
 * stops the walk at the last believable address). Computed once per request.
 */
const ip_addr_t *http_req_client_addr(http_req_t *req);
/* The same as text, valid until the request ends. */
const char *http_req_client_str(http_req_t *req);
/*
 * Whether the request reached a trusted proxy over https: the peer is one of the server's
 * trusted proxies (the rule of http_req_client_addr) and the last entry of its
 * X-Forwarded-Proto (the one that proxy wrote) is "https", in any case. A header from any
 * other peer is ignored.
 */
bool http_req_forwarded_https(const http_req_t *req);

/* Whether the request came in on the second listener (http_options.aux_host). */
bool http_req_on_aux(const http_req_t *req);
/* The pointer set with http_worker_set_data() for the serving worker (NULL if none). */
void *http_req_worker_data(const http_req_t *req);

/*
 * Request arena: n bytes (8-byte aligned), valid until the handler responds. Never NULL
 * (aborts on OOM like xmalloc).
 */
void *http_req_alloc(http_req_t *req, size_t n);
/* Copies s into the arena and NUL-terminates it. */
char *http_req_strndup(http_req_t *req, str_t s);

/*
 * Query parameter name from the request's query string, percent-decoded ('+' is a space)
 * into the arena. Returns 0 and sets *out, ERR_DECLINED when absent, ERR_INVALID on a bad
 * escape.
 */
int http_req_query(http_req_t *req, const char *name, str_t *out);

/*
 * Parses the request body into *out (owned by the caller: json_decref it). Accepted
 * content types: application/json (or none), and application/x-www-form-urlencoded (turned
 * into an object of strings). An empty body gives an empty object. JSON is parsed with
 * duplicate keys rejected and nesting bounded by the server's json_max_depth.
 * On failure this function has ALREADY RESPONDED (400 invalid_request with a detail like
 * "JSON parse error - ...", or 415) and returns that error; the handler just returns.
 */
int http_req_json(http_req_t *req, struct json_t **out);

/* ---- streamed request bodies -------------------------------------------------------------- */

/*
 * Receives the next piece of the body (dechunked), valid only during the call. Returns 0
 * for more; ERR_AGAIN when the consumer kept (copied) what it needs and is busy (e.g. a
 * write on the blocking pool): reading stops until http_req_body_resume; any other error
 * to stop reading the body (the consumer responds, or will; the connection then closes).
 */
typedef int (*http_body_chunk_fn)(http_req_t *req, void *arg, str_t data);
/*
 * The body ended: status 0 when it is complete, or why it never will be: ERR_TOO_LARGE
 * (over the route's limit), ERR_TIMEOUT (body deadline), ERR_INVALID (bad chunked framing,
 * or the client closed its side early), ERR_IO (the connection is gone). Called once; after
 * an error the consumer must still respond (a no-op when the client is gone) once its
 * cleanup is done: the request stays valid until then.
 */
typedef void (*http_body_end_fn)(http_req_t *req, void *arg, int status);

/*
 * Starts delivering req's body to on_chunk then on_end (with arg), on req's loop. For a
 * request of a streaming route the body is read from the socket as the consumer takes it
 * (a deferred "100 Continue" is sent now); otherwise the buffered body is delivered at
 * once. The callbacks may run (and the consumer respond) before this returns -- always
 * for a buffered body, and for a streamed one unless called from the handler itself -- so
 * touch nothing of the consumer's afterwards. Call once, before responding.
 * Returns 0, or ERR_INVALID (called twice or after responding) / ERR_IO (the client is
 * gone): then no callback runs and the caller responds.
 */
int http_req_body_read(http_req_t *req, http_body_chunk_fn on_chunk, http_body_end_fn on_end,
                       void *arg);
/*
 * After on_chunk returned ERR_AGAIN: delivers what was read meanwhile and reads on. The
 * callbacks may run before this returns. Call on req's loop, never from inside on_chunk. A
 * no-op when the body is not paused (e.g. it already ended with an error).
 */
void http_req_body_resume(http_req_t *req);

/* ---- response ----------------------------------------------------------------------------- */

/*
 * Adds a response header to send with the response (copied; may repeat, e.g. Set-Cookie).
 * Call before responding. Content-Length, Date and Connection are written by the server.
 */
void http_resp_header_add(http_req_t *req, const char *name, const char *value);
/* Sends status, content type (NULL: none) and body. Ends the request. */
void http_respond(http_req_t *req, int status, const char *content_type, str_t body);
/* Serialises value (compact, keys in insertion order) as application/json. */
void http_respond_json(http_req_t *req, int status, const struct json_t *value);
/*
 * Sends the error body of the HTTP contract {"detail": ..., "code": err_name(err)} with status
 * err_http_status(err). detail NULL uses err_message(err).
 */
void http_respond_error(http_req_t *req, int err, const char *detail);

/* ---- answering later: timers, abandoned requests, streamed responses ------------------------ */

typedef void (*http_req_event_fn)(http_req_t *req, void *arg);
/*
 * Runs fn(req, arg) on req's loop delay_ms from now unless the request was answered first:
 * a handler that answers later (a long poll's deadline, a stream's keepalive). One timer
 * per request: a second call replaces the first. The callback runs once; it may set the
 * timer again. Returns 0, or ERR_INVALID (answered already, or no event loop).
 */
int http_req_timer(http_req_t *req, uint64_t delay_ms, http_req_event_fn fn, void *arg);
/*
 * fn(req, arg) runs once, on req's loop, if the request is abandoned while its handler
 * still owns it: the connection broke, the client closed a streamed response, or the server
 * is shutting down. fn MUST answer it (any respond function, or http_stream_end for a
 * stream) and touch nothing of it afterwards. Replaces a previous fn; the request's timer
 * does not run after it.
 */
void http_req_on_abandon(http_req_t *req, http_req_event_fn fn, void *arg);

/*
 * Streamed responses (Server-Sent Events, long-lived answers the loop writes to as events
 * arrive): http_stream_begin sends the status line and headers (those added with
 * http_resp_header_add, content_type, "Connection: close", no Content-Length: the body
 * ends when the connection closes, valid for HTTP/1.0 and 1.1); then http_stream_write
 * sends pieces, and http_stream_end ends the response and closes the connection. Input
 * that arrives meanwhile is discarded; the client's EOF, a broken connection and the
 * server's shutdown reach the handler through http_req_on_abandon (set it before
 * beginning). The connection counts against max_connections like any other.
 *
 * http_stream_begin returns 0, ERR_INVALID (already answered or streaming, or a request
 * whose body is being streamed), or ERR_IO (the client is gone; for HEAD the headers were
 * sent and the response ended): on an error the stream did not begin and the caller answers
 * (a no-op when gone).
 */
int http_stream_begin(http_req_t *req, int status, const char *content_type);
/* Most bytes queued for a slow client before http_stream_write refuses (ERR_TOO_LARGE). */
#define HTTP_STREAM_MAX_QUEUED (256u * 1024u)
/*
 * Sends data now (or queues it behind a write in flight). Returns 0, ERR_INVALID (no
 * stream), ERR_IO (the connection is gone) or ERR_TOO_LARGE (the client does not read:
 * HTTP_STREAM_MAX_QUEUED bytes wait already); after an error the caller ends the stream.
 */
int http_stream_write(http_req_t *req, str_t data);
/* Ends the stream (logged and observed as one request) and closes the connection. */
void http_stream_end(http_req_t *req);

/*
 * Observer of finished requests (metrics, slow-request logs): called on the worker thread
 * right after each response was serialised, with the status, body bytes and the time since
 * the request's first byte in microseconds (http_options.observer).
 */
typedef void (*http_observer_fn)(void *data, http_req_t *req, int status, uint64_t bytes,
                                 uint64_t duration_us);
/*
 * Called with +1 when a connection is accepted and -1 when it is closed, on its worker
 * thread (open-connection gauges; http_options.conn_observer).
 */
typedef void (*http_conn_observer_fn)(void *data, int delta);

/* ---- router ------------------------------------------------------------------------------- */

typedef void (*http_handler_fn)(http_req_t *req);
/*
 * A hook of the router's chain (http_router_use), run before routing for every request:
 * CORS, rate limits, IP rules. It returns ERR_DECLINED to pass the request on, or 0 after
 * it has responded, or after it went asynchronous: then it resumes the request later, on
 * the request's loop, with http_req_route(req) (or responds). data is the hook's own
 * context given at registration.
 */
typedef int (*http_hook_fn)(http_req_t *req, void *data);
/* Most hooks a router holds. */
#define HTTP_MAX_HOOKS 16
/*
 * Runs the hooks that have not run yet for req, then routes it: the handler, or the
 * OPTIONS answer (204 + Allow, or the router's OPTIONS handler), 405 + Allow, 404. The
 * server calls it for every request; a hook that went asynchronous calls it to let the
 * request through.
 */
void http_req_route(http_req_t *req);
/* OPTIONS handler: allow is the "GET, HEAD, POST" list of the matched path. */
typedef void (*http_options_fn)(http_req_t *req, const char *allow);

http_router_t *http_router_new(void);
void http_router_free(http_router_t *r);
/*
 * Registers method + pattern. Pattern segments are literal or {name} (one non-empty path
 * segment, at most HTTP_MAX_PARAMS per route); matching is exact (a trailing slash
 * matters). A GET route also answers HEAD. Returns 0 or ERR_INVALID for a bad pattern.
 */
int http_router_add(http_router_t *r, enum http_method method, const char *pattern,
                    http_handler_fn fn, void *data);
/*
 * Registers a streaming route (POST /upload): a request to it that has a body is
 * dispatched (hooks, then fn) once its headers are in, and fn reads the body with
 * http_req_body_read instead of finding it in req->body. max_body_bytes replaces the
 * server's max_body_bytes for these requests (413 on a larger Content-Length before fn
 * runs; ERR_TOO_LARGE to on_end as soon as a chunked body goes over). Requests without a
 * body are dispatched as usual. Returns 0 or ERR_INVALID.
 */
int http_router_add_stream(http_router_t *r, enum http_method method, const char *pattern,
                           http_handler_fn fn, void *data, size_t max_body_bytes);
/*
 * Appends a hook to the router's chain (hooks run in the order added; name is for
 * documentation and logs). Call before http_server_run. Returns 0 or ERR_INVALID (chain
 * full, no fn).
 */
int http_router_use(http_router_t *r, const char *name, http_hook_fn fn, void *data);
/*
 * Route i (0 <= i < http_router_count(r)) in registration order: OUT: *method, *pattern
 * (owned by the router). For documentation checks (openapi.c). Returns 0 or ERR_NOT_FOUND.
 */
size_t http_router_count(const http_router_t *r);
int http_router_route(const http_router_t *r, size_t i, enum http_method *method,
                      const char **pattern);
/*
 * Serves the exact path alias as the route path target (a literal pattern registered
 * before, for any method): before the hooks run, a request whose path is alias gets
 * target as req->path (req->target keeps what the client sent), so every hook, handler,
 * log line and metric treats it as target. Call after the routes are registered, before
 * http_server_run. Returns 0 (also when alias already maps to target), ERR_INVALID (bad
 * path, or a target with {name} segments), ERR_NOT_FOUND (no route has the pattern target)
 * or ERR_CONFLICT (alias is served by a route, or is an alias of another target).
 */
int http_router_alias(http_router_t *r, const char *alias, const char *target);
/* How many aliases r holds. */
size_t http_router_alias_count(const http_router_t *r);
/* Replaces the default OPTIONS answer (204 with Allow) for paths that exist. */
void http_router_set_options(http_router_t *r, http_options_fn fn);
/*
 * The answer of a request the server refuses before its handler could run, once the
 * request line and headers are in: err is why (ERR_TOO_LARGE: a body over the limit). It
 * runs on the request's loop with req->method, req->path (an alias resolved), the headers
 * and req->route_data (the route's data) set, but no body and no hook run; it must respond.
 * The connection closes after it.
 */
typedef void (*http_refusal_fn)(http_req_t *req, int err);
/*
 * Gives the route method + pattern (registered before) its own refusal answer instead of
 * the server's {"detail","code"} (a protocol whose errors have another shape, e.g. OAuth's).
 * Returns 0 or ERR_NOT_FOUND (no such route).
 */
int http_router_set_refusal(http_router_t *r, enum http_method method, const char *pattern,
                            http_refusal_fn fn);

/*
 * Matching result for method + path. Returns 0 with fn, data and params filled,
 * ERR_NOT_FOUND when no pattern matches the path, ERR_METHOD when some do but not for this
 * method (allow then holds "GET, HEAD, POST"-style text, NUL-terminated, if allow_cap > 0).
 */
int http_router_match(const http_router_t *r, enum http_method method, str_t path,
                      http_handler_fn *fn, void **data, http_req_t *params_out, char *allow,
                      size_t allow_cap);

/* ---- server ------------------------------------------------------------------------------- */

typedef void (*http_worker_hook_fn)(http_worker_t *w, struct uv_loop_s *loop, void *arg);

/* Worker threads pinned to CPUs (worker i on the i-th CPU the process may use): AUTO pins
 * only when there is exactly one worker per such CPU. Measured on 2 cores: unpinned, the
 * scheduler often runs both event loops on one CPU while the other is busy with clients. */
enum http_affinity { HTTP_AFFINITY_AUTO = 0, HTTP_AFFINITY_ON = 1, HTTP_AFFINITY_OFF = 2 };

struct http_options {
    const char *host; /* "127.0.0.1", "::", "0.0.0.0" */
    uint16_t port;    /* 0 = ephemeral */
    uint32_t workers; /* 0 = number of cores */
    enum http_affinity affinity;
    size_t max_header_bytes;
    uint32_t max_headers;
    size_t max_url_bytes;
    size_t max_body_bytes; /* buffered bodies; streaming routes have their own limit */
    uint32_t json_max_depth;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t shutdown_timeout_ms;
    uint32_t max_connections; /* per process; 0 = unlimited */
    uint32_t pool_threads;    /* 0 = cores */
    uint32_t pool_queue_max;
    const ip_net_list_t *trusted_proxies; /* whose X-Forwarded-For is believed (borrowed;
                                             NULL = none): http_req_client_addr */
    http_observer_fn observer;            /* finished requests; NULL = none */
    http_conn_observer_fn conn_observer;  /* accepted / closed connections; NULL = none */
    void *observer_data;                  /* passed to both */
    http_worker_hook_fn on_worker_start;  /* on the worker thread, before serving */
    http_worker_hook_fn on_worker_stop;   /* on the worker thread, after its loop ended */
    void *hook_arg;
    /* After every listener is bound and listening, before the "listening" line: nonzero
       aborts the start (the listeners are closed; http_server_run returns it). NULL = none. */
    int (*on_ready)(uint16_t port, void *arg);
    /* SIGHUP, on the thread that owns signals (never in a signal handler): the process keeps
       serving whatever it does. NULL = SIGHUP is logged and otherwise ignored. */
    void (*on_sighup)(void *arg);
    void *signal_arg; /* passed to on_ready and on_sighup */
    /* A second listener (the metrics address): NULL = none. Bound with the first, served by
       worker 0's loop with the same router; its requests say so (http_req_on_aux), so a hook
       decides what each listener serves. Its address is printed as
       "jwtd metrics listening on http://HOST:PORT" after the first line. */
    const char *aux_host;
    uint16_t aux_port; /* 0 = a free port */
};

/* Fills the documented defaults (16 KiB headers, 100 headers, 8 KiB URL, 1 MiB body...). */
void http_options_defaults(struct http_options *o);

/*
 * Binds the listeners (one SO_REUSEPORT socket per worker), prints
 * "jwtd listening on http://HOST:PORT" on stdout, serves until SIGTERM/SIGINT, then shuts
 * down gracefully (stop accepting, finish in-flight requests within shutdown_timeout_ms).
 * SIGHUP never stops it: on_sighup runs (SIGHUP is ignored once shutting down).
 * The router is borrowed. Returns 0 after a clean shutdown, or an ERR_* when it could not
 * start (the reason is logged).
 */
int http_server_run(const struct http_options *opts, const http_router_t *router);

/* Worker-private pointer (set in on_worker_start, e.g. per-loop Redis/DB state). */
void http_worker_set_data(http_worker_t *w, void *data);
void *http_worker_data(const http_worker_t *w);
/* 0-based index of the worker. */
uint32_t http_worker_index(const http_worker_t *w);

/*
 * Wakeups from other threads: fn(w, arg) runs on w's loop after http_worker_wake(w). Call
 * http_worker_on_wake on w's own thread (at most 4 per worker). http_worker_wake may be
 * called from any thread while the worker runs (a no-op once its loop has stopped): calls
 * made before the loop gets to them are coalesced into one run of every fn.
 */
typedef void (*http_wake_fn)(http_worker_t *w, void *arg);
int http_worker_on_wake(http_worker_t *w, http_wake_fn fn, void *arg);
void http_worker_wake(http_worker_t *w);

/* ---- blocking-work pool ------------------------------------------------------------------- */

/* Runs on a pool thread: must not touch req, the loop or anything owned by the worker. */
typedef void (*http_work_fn)(void *arg);
/*
 * Runs on req's loop after work finished. status is 0, or ERR_UNAVAILABLE when the job was
 * cancelled at shutdown before it ran. Always called exactly once, even if the client went
 * away (then responding is a safe no-op): free arg here.
 */
typedef void (*http_done_fn)(http_req_t *req, void *arg, int status);

/*
 * Queues work(arg) on the bounded pool, then done(req, arg, status) on req's loop. Returns
 * 0, or ERR_UNAVAILABLE when pool_queue_max jobs are already queued or running (the caller
 * answers 503; done is not called).
 */
int http_pool_submit(http_req_t *req, http_work_fn work, http_done_fn done, void *arg);
/* Jobs queued or running, process-wide (for metrics). */
uint32_t http_pool_depth(void);

/* ---- parsers (also used by tests and fuzz targets) ---------------------------------------- */

/*
 * Percent-decodes in into out (capacity >= in.len); plus_is_space turns '+' into ' '
 * (form and query encoding). Returns the decoded length, or -1 on a bad %XX escape.
 */
long http_pct_decode(str_t in, char *out, bool plus_is_space);
/*
 * Iterates "a=1&b=2" pairs: *cursor is advanced; key and value are raw (not decoded); a
 * pair without '=' has an empty value; empty pairs are skipped. Returns false at the end.
 */
bool http_form_next(str_t *cursor, str_t *key, str_t *value);
/*
 * Decodes an application/x-www-form-urlencoded body into a JSON object of strings (the
 * last value wins for a repeated key). Returns 0, or ERR_INVALID (bad escape, or a key
 * or value that is not valid UTF-8 after decoding).
 */
int http_form_to_json(str_t body, struct json_t **out);
/* 0 if the JSON text nests at most max_depth arrays/objects, else ERR_INVALID. */
int http_json_check_depth(str_t text, uint32_t max_depth);

#endif

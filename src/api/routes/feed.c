/*
 * feed.c - the revocation feed for resource servers: GET /auth/revocations/stream
 * (Server-Sent Events) and GET /auth/revocations?since=CURSOR&wait=SECONDS with a verifier
 * key (the long poll; introspect.c hands such requests over, its admin route stays as it
 * was). The events come from the token service's feed (auth.h, "the revocation feed"); this
 * file only adapts them to HTTP. The feed carries ids and times, never a token.
 *
 * A request: the Bearer must be shaped like a verifier key (else 401 at once); the key is
 * checked, and the snapshot read when the client has no servable cursor, in one pool job.
 * Then, on the request's loop:
 *   - a stream begins (http_stream_begin), gets the snapshot or what followed its cursor,
 *     then a ": ready" comment (a client knows it is current from there on), and stays in
 *     its loop's client list; a ": keepalive" comment every 15 s (JWTD_FEED_KEEPALIVE) keeps
 *     idle proxies from closing it, and tells a verifier that a silent connection (a stalled
 *     proxy) is dead;
 *   - a long poll answers at once when there is something newer than its cursor (or a
 *     snapshot), else waits in the list until an event or its deadline (wait <= 60 s).
 * When the feed has new events (a revocation of this process, or the store's pull of other
 * instances' revocations) its subscriber wakes every loop (http_worker_wake), and each loop
 * walks its own list: a stream writes the new events, a waiting poll answers. Nothing is
 * shared between loops but the feed's ring (auth_feed_read copies under its mutex).
 * A client whose cursor falls out of the retained history (a stream that could not keep
 * up) is ended; it reconnects with Last-Event-ID and gets the snapshot.
 *
 * Threads: the lists of a loop are touched on that loop only; the table of workers is read
 * by the waking thread under the feed's mutex, and a worker leaves it when its loop stops
 * (api_worker_stop), so a wake never reaches a worker that is gone.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes/routes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/metrics.h"

#define FEED_MAX_WORKERS 256
#define FEED_MAX_WAIT_S  60u
#define FEED_BATCH       64
#define FEED_EVENT_MAX   256 /* one event as SSE or JSON, bounded by its fields */
#define FEED_WWW         "Bearer realm=\"api\""
#define FEED_WWW_INVALID "Bearer realm=\"api\", error=\"invalid_token\""

struct feed_worker;

/* A stream or a waiting long poll, on its loop's list. */
struct feed_client {
    struct feed_client *next, *prev;
    http_req_t *req;
    struct feed_worker *fw;
    api_ctx_t *ctx;
    uint64_t cursor; /* the client has every event up to it */
    bool stream;
};

struct feed_worker {
    http_worker_t *w; /* set by its loop at its first client, cleared when it stops */
    struct feed_client *clients;
    bool registered; /* its wake handler is installed */
};

struct api_feed {
    auth_t *auth;
    pthread_mutex_t mu; /* guards workers[].w against the waking thread */
    struct feed_worker workers[FEED_MAX_WORKERS];
};

/* ==== the wakeups ============================================================================ */

/* auth_feed_fn: new events; wakes every loop that has had a client. Any thread. */
static void on_feed_events(void *arg)
{
    struct api_feed *f = arg;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < FEED_MAX_WORKERS; i++)
        if (f->workers[i].w)
            http_worker_wake(f->workers[i].w);
    pthread_mutex_unlock(&f->mu);
}

/* See routes.h. */
struct api_feed *api__feed_new(auth_t *auth)
{
    struct api_feed *f = xcalloc(1, sizeof *f);
    f->auth = auth;
    pthread_mutex_init(&f->mu, NULL);
    if (auth && auth_feed_subscribe(auth, on_feed_events, f) != 0)
        log_warn("msg=\"revocation feed: no subscriber slot, streams follow the poll only\"");
    return f;
}

/* See routes.h. */
void api__feed_free(struct api_feed *f)
{
    if (!f)
        return;
    if (f->auth)
        auth_feed_unsubscribe(f->auth, on_feed_events, f);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* See api.h. */
void api_worker_stop(api_ctx_t *ctx, http_worker_t *w)
{
    uint32_t i = http_worker_index(w);
    if (!ctx || !ctx->feed || i >= FEED_MAX_WORKERS)
        return;
    pthread_mutex_lock(&ctx->feed->mu);
    ctx->feed->workers[i].w = NULL;
    pthread_mutex_unlock(&ctx->feed->mu);
}

/* ==== writing events ========================================================================= */

/* One event's JSON object into w. */
static void event_json(jsonw_t *w, const auth_feed_event_t *e, bool with_cursor)
{
    char n[24];
    jsonw_raw(w, "{");
    if (with_cursor) {
        snprintf(n, sizeof n, "%" PRIu64, e->cursor);
        jsonw_raw(w, "\"cursor\":");
        jsonw_str(w, n);
        jsonw_raw(w, ",");
    }
    jsonw_raw(w, "\"type\":");
    jsonw_str(w, auth_feed_kind_name((enum auth_feed_kind)e->kind));
    jsonw_raw(w, ",\"value\":");
    jsonw_str(w, e->value);
    if (e->kind == AUTH_FEED_USER) {
        snprintf(n, sizeof n, "%" PRId64, e->before);
        jsonw_raw(w, ",\"before\":");
        jsonw_raw(w, n);
    }
    snprintf(n, sizeof n, "%" PRId64, e->until);
    jsonw_raw(w, ",\"until\":");
    jsonw_raw(w, n);
    jsonw_raw(w, "}");
}

/* Writes events as SSE to the stream. Returns 0 or the write's error. */
static int stream_events(http_req_t *req, const auth_feed_event_t *ev, size_t n)
{
    char *out = xmalloc(n * FEED_EVENT_MAX + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char data[FEED_EVENT_MAX];
        jsonw_t w;
        jsonw_init(&w, data, sizeof data);
        event_json(&w, &ev[i], false);
        len += (size_t)snprintf(out + len, FEED_EVENT_MAX + 1,
                                "id: %" PRIu64 "\nevent: revocation\ndata: %.*s\n\n", ev[i].cursor,
                                (int)jsonw_len(&w), data);
    }
    int rc = http_stream_write(req, str_make(out, len));
    free(out);
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            metrics_count(METRICS_FEED_EVENTS);
    return rc;
}

/* Answers a long poll: {"events": [...], "cursor": "..."}. */
static void poll_answer(http_req_t *req, const auth_feed_event_t *ev, size_t n, uint64_t cursor)
{
    size_t cap = n * FEED_EVENT_MAX + 64;
    char *out = xmalloc(cap);
    jsonw_t w;
    jsonw_init(&w, out, cap);
    jsonw_raw(&w, "{\"events\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            jsonw_raw(&w, ",");
        event_json(&w, &ev[i], true);
    }
    char c[24];
    snprintf(c, sizeof c, "%" PRIu64, cursor);
    jsonw_raw(&w, "],\"cursor\":");
    jsonw_str(&w, c);
    jsonw_raw(&w, "}");
    for (size_t i = 0; i < n; i++)
        metrics_count(METRICS_FEED_EVENTS);
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "application/json", str_make(out, jsonw_len(&w)));
    free(out);
}

/* ==== clients on a loop ====================================================================== */

static void on_wake(http_worker_t *w, void *arg);

static void client_link(struct feed_client *c)
{
    api_ctx_t *ctx = c->ctx;
    uint32_t i = http_worker_index(c->req->worker);
    struct feed_worker *fw = &ctx->feed->workers[i];
    if (!fw->registered) {
        fw->registered = http_worker_on_wake(c->req->worker, on_wake, fw) == 0;
        pthread_mutex_lock(&ctx->feed->mu);
        fw->w = c->req->worker;
        pthread_mutex_unlock(&ctx->feed->mu);
    }
    c->fw = fw;
    c->prev = NULL;
    c->next = fw->clients;
    if (fw->clients)
        fw->clients->prev = c;
    fw->clients = c;
    metrics_gauge_add(METRICS_G_FEED_CLIENTS, 1);
}

/* Unlinks and frees c (its request is answered by the caller, after). */
static void client_drop(struct feed_client *c)
{
    struct feed_worker *fw = c->fw;
    if (c->prev)
        c->prev->next = c->next;
    else
        fw->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    metrics_gauge_add(METRICS_G_FEED_CLIENTS, -1);
    free(c);
}

/* Ends a stream or answers a waiting poll with nothing new, and drops the client. */
static void client_end(struct feed_client *c)
{
    http_req_t *req = c->req;
    bool stream = c->stream;
    uint64_t cursor = c->cursor;
    client_drop(c);
    if (stream)
        http_stream_end(req);
    else
        poll_answer(req, NULL, 0, cursor);
}

/*
 * Hands c what followed its cursor: a stream writes it (and stays), a poll answers (and
 * leaves). Returns false when c is gone.
 */
static bool client_deliver(struct feed_client *c)
{
    auth_feed_event_t ev[FEED_BATCH];
    for (;;) {
        size_t n = 0;
        int rc = auth_feed_read(c->ctx->auth, c->cursor, ev, FEED_BATCH, &n);
        if (rc != 0) { /* out of the history: the client reconnects and gets the snapshot */
            client_end(c);
            return false;
        }
        if (n == 0)
            return true;
        if (!c->stream) {
            http_req_t *req = c->req;
            uint64_t cursor = ev[n - 1].cursor;
            client_drop(c);
            poll_answer(req, ev, n, cursor);
            return false;
        }
        if (stream_events(c->req, ev, n) != 0) {
            client_end(c);
            return false;
        }
        c->cursor = ev[n - 1].cursor;
        if (n < FEED_BATCH)
            return true;
    }
}

/* http_wake_fn: the feed has new events; every client of this loop gets them. */
static void on_wake(http_worker_t *w, void *arg)
{
    struct feed_worker *fw = arg;
    (void)w;
    for (struct feed_client *c = fw->clients, *next; c; c = next) {
        next = c->next;
        client_deliver(c);
    }
}

/* http_req_on_abandon: the client left, or the server stops. */
static void on_abandon(http_req_t *req, void *arg)
{
    (void)req;
    client_end(arg);
}

/* http_req_timer: a stream's keepalive, or a poll's deadline. */
static void on_timer(http_req_t *req, void *arg)
{
    struct feed_client *c = arg;
    if (!c->stream) {
        client_end(c);
        return;
    }
    if (http_stream_write(req, STR_LIT(": keepalive\n\n")) != 0) {
        client_end(c);
        return;
    }
    http_req_timer(req, c->ctx->o.feed_keepalive_ms, on_timer, c);
}

/* ==== the requests =========================================================================== */

struct feed_job {
    auth_t *auth;
    char key[AUTH_VERIFIER_KEY_MAX];
    size_t key_len;
    uint64_t since;
    bool has_since, stream;
    uint32_t wait_s;
    int64_t now;
    int rc;
    bool snapshot_taken;
    auth_feed_snapshot_t snap;
    api_ctx_t *ctx;
};

static void feed_job_free(void *arg)
{
    struct feed_job *j = arg;
    auth_feed_snapshot_dispose(&j->snap);
    memset(j->key, 0, sizeof j->key);
    free(j);
}

/* Whether the process can tell what followed since (no I/O). */
static bool servable(auth_t *a, uint64_t since)
{
    size_t n;
    return auth_feed_read(a, since, NULL, 0, &n) == 0;
}

static void feed_work(void *arg)
{
    struct feed_job *j = arg;
    j->rc = auth_feed_authorize(j->auth, str_make(j->key, j->key_len), j->now);
    if (j->rc != 0)
        return;
    if (j->has_since && !servable(j->auth, j->since)) {
        (void)auth_feed_refresh(j->auth); /* another instance may be ahead of this one */
        if (servable(j->auth, j->since))
            return;
    } else if (j->has_since) {
        return;
    }
    j->rc = auth_feed_snapshot(j->auth, j->now, &j->snap);
    j->snapshot_taken = j->rc == 0;
    /* the database may be ahead of this process's ring (another process revoked since the
       last pull): catch up, so the client can follow on from the snapshot's cursor */
    if (j->snapshot_taken && j->snap.cursor > auth_feed_head(j->auth))
        (void)auth_feed_refresh(j->auth);
}

static void feed_done(http_req_t *req, void *arg, int status)
{
    struct feed_job *j = arg;
    int rc = status ? status : j->rc;
    if (rc != 0) {
        if (rc == ERR_NOT_AUTHENTICATED) {
            http_resp_header_add(req, "WWW-Authenticate", FEED_WWW_INVALID);
            http_respond_error(req, ERR_NOT_AUTHENTICATED, "Invalid verifier key.");
        } else {
            api__failure(req, rc);
        }
        feed_job_free(j);
        return;
    }
    uint64_t cursor = j->snapshot_taken ? j->snap.cursor : j->since;
    if (!j->stream) {
        if (j->snapshot_taken) {
            poll_answer(req, j->snap.events, j->snap.count, cursor);
            feed_job_free(j);
            return;
        }
    } else {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_resp_header_add(req, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
        if (http_stream_begin(req, 200, "text/event-stream") != 0) {
            feed_job_free(j);
            return; /* HEAD, or the client is gone */
        }
        int wrc = http_stream_write(req, STR_LIT("retry: 1000\n\n"));
        for (size_t i = 0; wrc == 0 && i < j->snap.count; i += FEED_BATCH) {
            size_t n = j->snap.count - i < FEED_BATCH ? j->snap.count - i : FEED_BATCH;
            wrc = stream_events(req, j->snap.events + i, n);
        }
        if (wrc != 0) {
            http_stream_end(req);
            feed_job_free(j);
            return;
        }
    }
    struct feed_client *c = xcalloc(1, sizeof *c);
    c->req = req;
    c->ctx = j->ctx;
    c->cursor = cursor;
    c->stream = j->stream;
    uint32_t wait_s = j->wait_s;
    feed_job_free(j);
    client_link(c);
    http_req_on_abandon(req, on_abandon, c);
    if (!client_deliver(c))
        return; /* answered (a poll with events) or ended */
    if (c->stream && http_stream_write(req, STR_LIT(": ready\n\n")) != 0) {
        client_end(c); /* the snapshot or catch-up is out: what follows is live */
        return;
    }
    if (!c->stream && wait_s == 0) {
        client_end(c);
        return;
    }
    http_req_timer(req, c->stream ? c->ctx->o.feed_keepalive_ms : (uint64_t)wait_s * 1000u,
                   on_timer, c);
}

/* A cursor: 1..20 digits. */
static bool parse_cursor(str_t v, uint64_t *out)
{
    v = str_trim(v);
    return v.len >= 1 && v.len <= 20 && str_to_u64(v, UINT64_MAX, out);
}

static void feed_request(http_req_t *req, bool stream)
{
    api_ctx_t *ctx = req->route_data;
    str_t key;
    int rc = api__bearer(req, &key);
    if (rc != 0 || !auth_verifier_key_shape(key)) {
        http_resp_header_add(req, "WWW-Authenticate", rc == 0 ? FEED_WWW_INVALID : FEED_WWW);
        http_respond_error(req, rc == ERR_BAD_AUTH_HEADER ? rc : ERR_NOT_AUTHENTICATED,
                           rc == ERR_NOT_AUTHENTICATED ? NULL : "Invalid verifier key.");
        return;
    }
    struct feed_job *j = xcalloc(1, sizeof *j);
    j->auth = ctx->auth;
    j->ctx = ctx;
    j->stream = stream;
    j->now = clock_now_s();
    memcpy(j->key, key.ptr, key.len);
    j->key_len = key.len;
    str_t v;
    rc = http_req_query(req, "since", &v);
    if (rc == ERR_DECLINED && stream) {
        v = http_req_header(req, "last-event-id");
        rc = v.ptr ? 0 : ERR_DECLINED;
    }
    if (rc == 0) {
        if (!parse_cursor(v, &j->since)) {
            feed_job_free(j);
            api__bad_request(req, "since", "since must be a cursor of the feed (digits).");
            return;
        }
        j->has_since = true;
    } else if (rc != ERR_DECLINED) {
        feed_job_free(j);
        api__bad_request(req, "since", "since must be a cursor of the feed (digits).");
        return;
    }
    if (!stream && http_req_query(req, "wait", &v) == 0) {
        uint64_t w;
        if (!str_to_u64(str_trim(v), FEED_MAX_WAIT_S, &w)) {
            feed_job_free(j);
            api__bad_request(req, "wait", "wait must be 0 to 60 seconds.");
            return;
        }
        j->wait_s = (uint32_t)w;
    }
    api__submit(req, feed_work, feed_done, j, feed_job_free);
}

/* See routes.h: GET /auth/revocations with a verifier key (the long poll). */
void api__feed_poll(http_req_t *req)
{
    feed_request(req, false);
}

static void on_stream(http_req_t *req)
{
    feed_request(req, true);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/auth/revocations/stream", on_stream},
};

/* See routes.h. */
const api_family_t api_feed_family = API_FAMILY(ROUTES, NULL);

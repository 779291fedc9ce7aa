/*
 * pool.c - the bounded blocking-work pool (password hashing, SQLite, file I/O).
 *
 * A thin layer over libuv's threadpool (uv_queue_work): the pool size comes from
 * UV_THREADPOOL_SIZE, set here from the configuration before the first job, and a
 * process-wide counter caps the jobs queued or running so that overload turns into fast
 * 503s instead of an unbounded queue. Completion runs on the loop that submitted the job.
 *
 * Not for: anything that can be done without blocking (that stays on the loop).
 */
#define LOG_MODULE "http"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "http/http_internal.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

struct job {
    uv_work_t work_req;
    http_req_t *req;
    http_work_fn work;
    http_done_fn done;
    void *arg;
    /* who the job works for, the pool thread's audit context while it runs (audit.h): the
       request's fields copied at submit, so a use case never reads the request off its loop */
    audit_ctx_t actx;
    char rid[HTTP_RID_MAX + 1];
    char ip[AUDIT_IP_MAX + 1];
    char ua[AUDIT_UA_MAX + 1];
};

static atomic_uint pool_depth;
static atomic_llong pool_saturated_logged_s; /* performance log: one line per second at most */
static uint32_t pool_queue_max = 1024;

/* Sets the pool size (0 = cores) and the queue cap. Call before any worker starts. */
void http__pool_configure(uint32_t threads, uint32_t queue_max)
{
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (uint32_t)cores : 4;
    }
    char n[16];
    snprintf(n, sizeof n, "%u", threads);
    setenv("UV_THREADPOOL_SIZE", n, 1);
    pool_queue_max = queue_max ? queue_max : 1;
}

static void on_work(uv_work_t *w)
{
    struct job *j = w->data;
    audit_ctx_set(&j->actx);
    j->work(j->arg);
    audit_ctx_set(NULL);
}

static void on_done(uv_work_t *w, int status)
{
    struct job *j = w->data;
    atomic_fetch_sub(&pool_depth, 1);
    j->done(j->req, j->arg, status == UV_ECANCELED ? ERR_UNAVAILABLE : 0);
    free(j);
}

/* See http.h. Call from a handler that has not responded yet. */
int http_pool_submit(http_req_t *req, http_work_fn work, http_done_fn done, void *arg)
{
    if (!req->worker->loop)
        return ERR_UNAVAILABLE;
    if (atomic_fetch_add(&pool_depth, 1) >= pool_queue_max) {
        atomic_fetch_sub(&pool_depth, 1);
        metrics_count(METRICS_POOL_REJECTED);
        long long now = (long long)time(NULL), prev = atomic_load(&pool_saturated_logged_s);
        if (now != prev && atomic_compare_exchange_strong(&pool_saturated_logged_s, &prev, now))
            log_perf_warn(NULL,
                          "event=pool_saturated depth=%u max=%u msg=\"blocking pool full: 503\"",
                          atomic_load(&pool_depth), pool_queue_max);
        return ERR_UNAVAILABLE;
    }
    struct job *j = xmalloc(sizeof *j);
    *j = (struct job){.req = req, .work = work, .done = done, .arg = arg};
    snprintf(j->rid, sizeof j->rid, "%s", http_req_rid(req));
    snprintf(j->ip, sizeof j->ip, "%s", http_req_client_str(req));
    str_t ua = http_req_header(req, "user-agent");
    size_t ual = ua.len < AUDIT_UA_MAX ? ua.len : AUDIT_UA_MAX;
    if (ua.ptr)
        memcpy(j->ua, ua.ptr, ual);
    j->actx = (audit_ctx_t){.rid = j->rid, .ip = j->ip, .ua = {j->ua, ua.ptr ? ual : 0}};
    j->work_req.data = j;
    if (uv_queue_work(req->worker->loop, &j->work_req, on_work, on_done) != 0) {
        atomic_fetch_sub(&pool_depth, 1);
        free(j);
        return ERR_UNAVAILABLE;
    }
    return 0;
}

/* See http.h. */
uint32_t http_pool_depth(void)
{
    return atomic_load(&pool_depth);
}

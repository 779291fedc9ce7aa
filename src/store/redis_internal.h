/*
 * redis_internal.h - what the two files of the Redis backend share (store_redis.c: the
 * connections, the store thread, pub/sub; store_redis_ops.c: the cache and rate-limit
 * operations). Only src/store/ includes this header; it is the one that sees hiredis.
 */
#ifndef JWTD_STORE_REDIS_INTERNAL_H
#define JWTD_STORE_REDIS_INTERNAL_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "store/store_internal.h"

/* The Lua scripts loaded on every connection (EVALSHA by their SHA-1). */
enum { SCRIPT_RATE, SCRIPT_SET, SCRIPT_DROP, SCRIPT__N };

typedef struct rconn rconn_t;
typedef void (*rop_fn)(rconn_t *rc, void *arg, redisReply *reply);

struct rop {
    struct rop *next;
    uint64_t start_ns;
    rop_fn fn; /* NULL = fire and forget */
    void *arg;
};

enum rc_state { RC_DOWN, RC_CONNECTING, RC_READY };

struct rconn {
    store_redis_t *rd;
    uv_loop_t *loop;
    redisAsyncContext *ac;
    enum rc_state state;
    bool subscriber;
    bool closing;
    bool was_ready;   /* logged as up (to log transitions once) */
    uint32_t backoff; /* ms until the next attempt after a failure */
    uint64_t connect_started_ns, retry_at_ns, ping_ns, scripts_loaded_ns;
    struct rop *head, *tail; /* outstanding commands, oldest first */
    uv_timer_t timer;
};

/* A command queued for the store thread's command connection. */
struct qitem {
    struct qitem *next;
    int argc;
    char **argv;
    size_t *argvlen;
    struct syncwait *wait; /* a blocking GET waiting for the reply, or NULL */
};

struct syncwait {
    pthread_cond_t cv;
    bool done;
    int status;
    char *out;
    size_t cap, len;
};

struct store_redis {
    store_t *st;
    char *host, *unix_path, *password;
    int port, db;
    char prefix[80];
    char channel[128];
    uint32_t timeout_ms;
    char sha[SCRIPT__N][41];
    /* the store thread */
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    pthread_mutex_t qmu; /* guards the queue, stopping, the syncwaits */
    struct qitem *qhead, *qtail;
    size_t qlen;
    bool stopping;
    rconn_t *cmd, *sub;
    atomic_bool cmd_up, sub_up;
    atomic_bool fallback; /* rate limits currently decided locally */
    atomic_uint_fast64_t dropped;
};

/* This event loop's connection (store_loop_attach). */
extern __thread rconn_t *store__tls_rc;

/* Monotonic nanoseconds; wall-clock microseconds. */
uint64_t store__redis_mono_ns(void);
int64_t store__redis_now_us(void);
/* Sends a command when the connection is ready. 0, or -1 (the caller falls back). */
int store__rc_cmd(rconn_t *rc, rop_fn fn, void *arg, int argc, const char **argv,
                  const size_t *argvlen);
/* Queues a command for the store thread (any thread); w: a blocking caller waiting. */
void store__redis_enqueue(store_redis_t *rd, int argc, const char **argv, const size_t *argvlen,
                          struct syncwait *w);
/* Sends on this loop's connection when it is ready, else through the store thread. */
void store__redis_send_any(store_redis_t *rd, int argc, const char **argv, const size_t *argvlen);

#endif

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

#include "store/cluster.h"
#include "store/store_internal.h"

/* The Lua scripts loaded on every connection (EVALSHA by their SHA-1). */
enum { SCRIPT_RATE, SCRIPT_SET, SCRIPT_DROP, SCRIPT_SET_IF, SCRIPT_DEL, SCRIPT_TICKET, SCRIPT__N };

typedef struct rconn rconn_t;
typedef void (*rop_fn)(rconn_t *rc, void *arg, redisReply *reply);

struct rop {
    struct rop *next;
    uint64_t start_ns;
    rop_fn fn; /* NULL = fire and forget */
    void *arg;
};

enum rc_state { RC_DOWN, RC_CONNECTING, RC_READY };

#define CLUSTER_NODES_MAX 64
#define NODE_NONE         0xff

/*
 * Cluster mode: what a router rconn (one per event loop, and the store thread's command
 * connection) holds: one node rconn per master it has heard of, and which one serves each
 * slot. Only its loop's thread touches it.
 */
struct cluster {
    int nnodes;
    rconn_t *node[CLUSTER_NODES_MAX];
    uint8_t slot[CLUSTER_SLOTS]; /* index into node, NODE_NONE = not known */
    bool loaded;                 /* a CLUSTER SLOTS answer was applied */
    bool refresh;                /* a redirect or a failure: read CLUSTER SLOTS again */
    bool refreshing;             /* a CLUSTER SLOTS is outstanding */
    uint32_t backoff;            /* ms */
    uint64_t refresh_at_ns;      /* no CLUSTER SLOTS before this */
};

struct rconn {
    store_redis_t *rd;
    uv_loop_t *loop;
    redisAsyncContext *ac;
    enum rc_state state;
    bool subscriber;
    bool watch;     /* sentinel mode: SUBSCRIBE +switch-master on a sentinel */
    bool reconnect; /* a READONLY reply: reconnect (to the master) at the next tick */
    bool closing;
    unsigned gen;     /* sentinel mode: the master_gen this connection was made for */
    bool was_ready;   /* logged as up (to log transitions once) */
    uint32_t backoff; /* ms until the next attempt after a failure */
    uint64_t connect_started_ns, retry_at_ns, ping_ns, scripts_loaded_ns;
    struct rop *head, *tail; /* outstanding commands, oldest first */
    uv_timer_t timer;
    /* cluster mode */
    struct cluster *cl;  /* a router: routes commands to its node connections */
    rconn_t *parent;     /* a node connection: its router */
    char node_host[256]; /* a node connection, or the subscriber: where it connects */
    int node_port;
};

/* A command queued for the store thread's command connection. */
struct qitem {
    struct qitem *next;
    int argc;
    char **argv;
    size_t *argvlen;
    struct syncwait *wait; /* a blocking caller waiting for the reply, or NULL */
};

/* A blocking command's reply: status 0 and a string reply (an integer as its decimal text)
   copied into out, or ERR_NOT_FOUND (nil, an error, Redis down or too slow). */
struct syncwait {
    pthread_cond_t cv;
    bool done;
    int status;
    char *out;
    size_t cap, len;
};

#define SEED_MAX 8

struct store_redis {
    store_t *st;
    char *host, *unix_path, *password;
    int port, db;
    /* sentinel mode (redis-sentinel://): the master is asked of the sentinels */
    bool sentinel;
    /* cluster mode (redis-cluster://): seed_* are the seed nodes; keys carry hash tags */
    bool cluster;
    int sub_idx; /* cluster mode: the seed the subscriber is (or will be) connected to */
    char *master_name, *sentinel_password;
    char *seed_host[SEED_MAX]; /* the sentinels, or the cluster's seed nodes */
    int seed_port[SEED_MAX];
    int nseeds;
    pthread_mutex_t amu;   /* guards master_host, master_port */
    char master_host[256]; /* "" = not known yet */
    int master_port;
    atomic_uint master_gen;  /* bumped on every change of the master's address */
    atomic_bool rediscover;  /* a connection failed or saw READONLY: ask the sentinels */
    uint64_t discover_at_ns; /* store thread: no discovery before this */
    uint64_t discovered_ns;  /* store thread: last successful discovery */
    uint32_t discover_backoff;
    rconn_t *watch; /* store thread: the +switch-master subscription */
    int watch_idx;  /* the sentinel it is (or will be) connected to */
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

/* The key of a rate bucket or a cache entry or group ("rate", "cache", "cache-group"; the
   versioned fills' "cache-stamp", "cache-group-stamp", "cache-meta"):
   <prefix><kind>:<key>, and in cluster mode <prefix>{rate}:<key>, <prefix>{cache}:<key>,
   <prefix>{cache}-group:<group> (every "cache..." kind in the {cache} slot) so that each
   script's keys share one slot. Returns the length (truncated to cap - 1). */
size_t store__redis_key(const store_redis_t *rd, char *out, size_t cap, const char *kind,
                        const char *key);

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

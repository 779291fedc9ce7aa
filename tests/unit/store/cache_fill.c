/*
 * Unit tests for the versioned cache fills of store.h (store_cache_fill_begin,
 * store_cache_set_if): a fill whose ticket was taken before an invalidation of its key or
 * group stores nothing; a fill without one is a hit later. On the embedded store, and on a
 * real redis-server that the test starts (its own temp dir, a unix socket, no TCP port;
 * skipped when redis-server is not installed), where the same calls run the Lua scripts.
 * The interleaving is made by calling the steps in order: no threads, no sleeps racing.
 */
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "store/store.h"

/* What a fill sees: 1 = hit with want, 0 = miss, -1 = something else. */
static int lookup(store_t *st, const char *key, const char *want)
{
    char out[64];
    size_t len = 0;
    int rc = store_cache_get_sync(st, key, out, sizeof out, &len);
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (rc != 0 || len != strlen(want) || memcmp(out, want, len) != 0)
        return -1;
    return 1;
}

/* The scenarios, on any backend: every key and group is new to st (prefix p). */
static void check_fills(store_t *st, const char *p)
{
    char k1[64], k2[64], k3[64], k4[64], k5[64], g[64];
    snprintf(k1, sizeof k1, "%suser:1", p);
    snprintf(k2, sizeof k2, "%suser:2", p);
    snprintf(k3, sizeof k3, "%sorders:3:a", p);
    snprintf(k4, sizeof k4, "%suser:4", p);
    snprintf(k5, sizeof k5, "%suser:5", p);
    snprintf(g, sizeof g, "%sorders:user:3", p);

    /* the race: begin fill (ticket) -> the writer drops the key -> conditional set -> miss */
    store_fill_t t = store_cache_fill_begin(st);
    CHECK_TRUE(t != STORE_FILL_NONE);
    store_cache_del(st, k1);
    CHECK_TRUE(!store_cache_set_if(st, k1, str_cstr("old"), 60, NULL, t));
    CHECK_EQ_INT(lookup(st, k1, "old"), 0);
    /* the next fill, begun after the drop, stores (and is a hit) */
    t = store_cache_fill_begin(st);
    CHECK_TRUE(store_cache_set_if(st, k1, str_cstr("new"), 60, NULL, t));
    CHECK_EQ_INT(lookup(st, k1, "new"), 1);

    /* unchanged behaviour: a fill without invalidation is a hit later, even when other keys
       are invalidated meanwhile (Redis: per key; embedded: unless they share k2's slot) */
    t = store_cache_fill_begin(st);
    store_cache_del(st, k4);
    CHECK_TRUE(store_cache_set_if(st, k2, str_cstr("v2"), 60, NULL, t));
    CHECK_EQ_INT(lookup(st, k2, "v2"), 1);

    /* the same through a group: begin -> drop the group -> set in that group -> miss */
    t = store_cache_fill_begin(st);
    store_cache_drop_group(st, g);
    CHECK_TRUE(!store_cache_set_if(st, k3, str_cstr("stale"), 60, g, t));
    CHECK_EQ_INT(lookup(st, k3, "stale"), 0);
    t = store_cache_fill_begin(st);
    CHECK_TRUE(store_cache_set_if(st, k3, str_cstr("fresh"), 60, g, t));
    CHECK_EQ_INT(lookup(st, k3, "fresh"), 1);
    store_cache_drop_group(st, g); /* and a group drop still drops its members */
    CHECK_EQ_INT(lookup(st, k3, "fresh"), 0);

    /* a ticket that was never handed out never stores */
    CHECK_TRUE(!store_cache_set_if(st, k5, str_cstr("x"), 60, NULL, STORE_FILL_NONE));
    CHECK_EQ_INT(lookup(st, k5, "x"), 0);
    /* plain sets are not affected by stamps */
    store_cache_set(st, k5, str_cstr("plain"), 60, NULL);
    CHECK_EQ_INT(lookup(st, k5, "plain"), 1);
}

TEST(store_cache_fill_versioned_embedded)
{
    store_t *st;
    ASSERT_EQ_INT(store_mem_open(NULL, &st), 0);
    check_fills(st, "");
    /* an invalidation made before the ticket does not block the fill (it read after it) */
    store_cache_del(st, "user:9");
    store_fill_t t = store_cache_fill_begin(st);
    CHECK_TRUE(store_cache_set_if(st, "user:9", str_cstr("v"), 60, NULL, t));
    CHECK_EQ_INT(lookup(st, "user:9", "v"), 1);
    store_close(st);
}

/* ---- the same on a real redis-server ----------------------------------------------------- */

struct redis_proc {
    pid_t pid;
    char dir[256], sock[300];
};

/* Starts redis-server on a unix socket in a new temp dir. 0, or -1 (not installed: skip). */
static int redis_spawn(struct redis_proc *r)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof r->dir, "%s/jwtd-unit-redis-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    if (!mkdtemp(r->dir))
        return -1;
    snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
    r->pid = fork();
    if (r->pid < 0)
        return -1;
    if (r->pid == 0) {
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->sock, "--dir",
               r->dir, "--save", "", "--appendonly", "no", "--logfile", "redis.log", (char *)NULL);
        _exit(127);
    }
    struct stat sb;
    for (int i = 0; i < 1000; i++) { /* up to ~10 s for the socket to appear */
        if (stat(r->sock, &sb) == 0)
            return 0;
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            return -1;
        }
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }
    return -1;
}

static void redis_stop(struct redis_proc *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
    }
    char path[400];
    snprintf(path, sizeof path, "%s/redis.log", r->dir);
    unlink(path);
    unlink(r->sock);
    rmdir(r->dir);
}

TEST(store_cache_fill_versioned_redis)
{
    struct redis_proc r;
    memset(&r, 0, sizeof r);
    if (redis_spawn(&r) != 0) {
        fprintf(stderr, "  (skipped: no redis-server)\n");
        redis_stop(&r);
        return;
    }
    store_t *st;
    if (!CHECK_EQ_INT(store_mem_open(NULL, &st), 0)) {
        redis_stop(&r);
        return;
    }
    CHECK_EQ_INT(store_start(st), 0);
    char url[400], err[256] = "";
    snprintf(url, sizeof url, "unix://%s", r.sock);
    store_redis_options_t o = {.url = url, .prefix = "t:", .timeout_ms = 2000};
    CHECK_EQ_INT(store_redis_start(st, &o, err, sizeof err), 0);
    for (int i = 0; i < 1000 && !store_redis_up(st); i++) /* connected (a bound, not a check) */
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    if (CHECK_TRUE(store_redis_up(st))) {
        check_fills(st, "");
        /* the sequence lost (Redis restarted empty): a ticket from before never stores */
        store_fill_t t = store_cache_fill_begin(st);
        store_cache_del(st, "user:7");
        store_cache_del(st, "user:7");
        t += 2;
        CHECK_TRUE(!store_cache_set_if(st, "user:7", str_cstr("v"), 60, NULL, t + 1));
        CHECK_TRUE(store_cache_set_if(st, "user:7", str_cstr("v"), 60, NULL, t));
        CHECK_EQ_INT(lookup(st, "user:7", "v"), 1);
    }
    store_close(st);
    redis_stop(&r);
}

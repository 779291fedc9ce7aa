/*
 * root.h - the composition root of jwtd: the one place that reads the configuration
 * (struct cfg) and turns it into a typed options struct per module, then builds and wires
 * the modules a command needs: the database, the key ring, the token service, and for
 * `jwtd serve` the HTTP server with the request layer and the resource wing.
 *
 * Commands (src/cli/) open a root for the parts they need and use the modules through
 * their own headers; nothing outside src/config/ and src/root/ sees struct cfg.
 *
 * Files: root.c (opening, logs, the database, keys, the service), options.c (struct cfg to
 * the typed options), keys.c (the key ring from the key settings and files), serve.c (the
 * server), check.c (`jwtd check`).
 */
#ifndef JWTD_ROOT_H
#define JWTD_ROOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "api/api.h"
#include "auth/auth.h"
#include "db/db.h"
#include "http/http.h"
#include "resource/resource.h"
#include "store/store.h"

struct cfg;
struct jose_keyring;

/* Where the process runs: development is lenient (generated keys, localhost CORS), staging
   and production refuse weak or missing keys. */
enum root_environment { ROOT_ENV_DEVELOPMENT = 0, ROOT_ENV_STAGING = 1, ROOT_ENV_PRODUCTION = 2 };

/* Every module's options, from the configuration. Strings point into the root. */
typedef struct {
    enum root_environment environment;
    const char *data_dir;
    /* logs */
    const char *log_dir; /* NULL = stderr */
    bool log_json;
    size_t log_buffer_bytes; /* access-line buffer per event loop, 0 = unbuffered */
    int64_t log_flush_ms;    /* the longest a buffered line waits */
    const char *pid_file;    /* NULL = none */
    /* backends */
    const char *database_url;
    db_options_t db; /* what a command uses; serve widens the pool */
    bool redis;      /* JWTD_REDIS_URL is set */
    store_redis_options_t redis_opt;
    /* the token service */
    auth_options_t auth;
    /* the server */
    const char *listen;
    struct http_options http; /* host is set by root_serve from listen */
    api_options_t api;
    bool resource_routes;
    resource_options_t resource;
} root_options_t;

/* What a command asks root_open to build. */
enum root_part {
    ROOT_DB = 1u << 0,      /* open the database */
    ROOT_MIGRATE = 1u << 1, /* ... and apply its migrations */
    ROOT_KEYS = 1u << 2,    /* load the key ring and the verification options */
    ROOT_AUTH = 1u << 3,    /* the token service (implies the three above) */
    ROOT_SERVE = 1u << 4,   /* for serving: the service loaded and current, the pool sized */
};

typedef struct root {
    root_options_t opt;
    struct db *db;             /* ROOT_DB */
    struct jose_keyring *ring; /* ROOT_KEYS */
    jwtv_options vopt;         /* ROOT_KEYS: jwtd's own tokens (strings point into the root) */
    auth_t *auth;              /* ROOT_AUTH */
    struct cfg *_cfg;          /* private: the configuration */
} root_t;

/*
 * Loads the configuration the uniform way (defaults, then the file of `--config FILE` in
 * argv if any, then the environment), sets the log level, and builds parts. Prints what is
 * wrong to stderr ("jwtd: configuration error: ..."). OUT: *out (root_close). Returns 0,
 * ERR_INVALID (--config without a FILE: a usage error), ERR_CONFIG or ERR_UNAVAILABLE.
 */
int root_open(int argc, char **argv, unsigned parts, root_t **out);
/*
 * Builds more parts on an open root (a command that checks other things first). Prints
 * what is wrong. Returns 0, ERR_CONFIG or ERR_UNAVAILABLE; on failure the root stays open
 * with what it had.
 */
int root_add(root_t *r, unsigned parts);
/* Releases everything root_open built. NULL is a no-op. */
void root_close(root_t *r);

/*
 * Runs the HTTP server (the root must have ROOT_AUTH | ROOT_SERVE): logs, Redis, the
 * router with the request layer and (JWTD_RESOURCE_ROUTES) the resource wing, then serves
 * until SIGTERM/SIGINT. Returns 0 after a clean shutdown or an ERR_* (printed or logged).
 */
int root_serve(root_t *r);

/*
 * `jwtd check`: loads the configuration (`--config FILE` in argv, then the environment) and
 * checks, writing one line each to out, "NAME: ok" or "NAME: <problem>": config, keys
 * (loaded, none generated), logs (JWTD_LOG_DIR writable), database (opened read-only, schema
 * version read; pending migrations are noted) and redis (a PING, when JWTD_REDIS_URL is set).
 * Creates and writes nothing. Returns the number of problems, or -1 when --config has no
 * FILE (printed to stderr).
 */
int root_check(int argc, char **argv, FILE *out);

/* `jwtd config`: the effective configuration as KEY=VALUE lines (secrets redacted). */
void root_print_config(const root_t *r, int fd);
/* `jwtd config --markdown`: the reference of every setting (docs/config.md). */
void root_print_config_reference(int fd);

/* The value of `--config` in argv (before any `--`), or NULL; *missing when it has none. */
const char *root_config_path(int argc, char **argv, bool *missing);

/* ==== internal to src/root/ ================================================================== */

/*
 * Reports an error that stops the command (root.c): "jwtd: <message>" on stderr, or, once
 * `jwtd serve` has switched the logs to JSON, one JSON line at level error whatever
 * JWTD_LOG_LEVEL says.
 */
void root__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Fills r->opt from r->_cfg (options.c). */
void root__options(root_t *r);
/*
 * Builds the key ring for the configuration (keys.c). OUT: *out (one reference). Returns 0,
 * or ERR_CONFIG with a message naming the variable in err (cap bytes).
 */
int root__keys_load(const struct cfg *cfg, struct jose_keyring **out, char *err, size_t cap);
/*
 * Loads the key ring as root__keys_load does but never creates a file (keys.c). Returns 0
 * with a summary in msg (algorithm, active kid, count), ERR_NOT_FOUND when only the
 * development key is not generated yet (`jwtd serve` would create it; msg says where), or
 * ERR_CONFIG with the problem in msg.
 */
int root__keys_check(const struct cfg *cfg, char *msg, size_t cap);
/* The verification options of jwtd's own tokens (keys.c); strings point into cfg. */
void root__keys_verify_options(const struct cfg *cfg, const struct jose_keyring *ring,
                               jwtv_options *opt);

#endif

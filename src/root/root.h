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
#include "auth/oidc.h"
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
    const char *algorithm;   /* JWTD_ALGORITHM: what `jwtd keys add` generates by default */
    /* backends */
    const char *database_url;
    db_options_t db; /* what a command uses; serve widens the pool */
    bool redis;      /* JWTD_REDIS_URL is set */
    store_redis_options_t redis_opt;
    /* the token service */
    auth_options_t auth;
    /* the server */
    const char *listen;
    const char *metrics_listen; /* JWTD_METRICS_LISTEN, NULL = /metrics on listen */
    struct http_options http;   /* host is set by root_serve from listen */
    int64_t audit_retention_s;  /* JWTD_AUDIT_RETENTION; 0 = audit_log not written */
    api_options_t api;
    bool resource_routes;
    resource_options_t resource;
    char *const *route_aliases; /* JWTD_ROUTE_ALIASES items ("ALIAS=TARGET"), validated */
    size_t route_alias_count;
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
    struct db *db;              /* ROOT_DB */
    struct jose_keyring *ring;  /* ROOT_KEYS */
    jwtv_options vopt;          /* ROOT_KEYS: jwtd's own tokens (strings point into the root) */
    auth_t *auth;               /* ROOT_AUTH */
    struct cfg *_cfg;           /* private: the configuration */
    struct cfg *_live;          /* private: the configuration last reloaded (NULL = _cfg) */
    const char *_config_path;   /* private: `--config FILE` (reloads read it again) */
    char _keys_dir[4096];       /* private: JWTD_KEYS_DIR or <data_dir>/keys */
    char _mail_spool[4096];     /* private: <data_dir>/mail (mail without SMTP) */
    char _mail_link_base[1024]; /* private: JWTD_PUBLIC_URL, else http://<JWTD_LISTEN> */
    char _mail_site[256];       /* private: the host of _mail_link_base */
    char *_mail_password;       /* private: JWTD_SMTP_PASSWORD_FILE's content (wiped) */
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

/* ==== the key set of `jwtd keys` (keyset.c) ================================================== */

#define ROOT_KID_MAX      128
#define ROOT_KEYSET_STATE "keys.state"

/* A key's state in a set: NEXT (published, verifies, does not sign), ACTIVE (signs; one),
   RETIRED (verifies and stays published until its tokens have expired). */
enum root_key_state { ROOT_KEY_NEXT = 0, ROOT_KEY_ACTIVE = 1, ROOT_KEY_RETIRED = 2 };

typedef struct {
    char kid[ROOT_KID_MAX + 1];
    char alg[8];
    enum root_key_state state;
    int64_t created_at, activated_at, retired_at; /* Unix seconds, 0 = never */
} root_key_entry_t;

typedef struct {
    root_key_entry_t *items;
    size_t count;
} root_keyset_t;

/* "next", "active", "retired". */
const char *root_key_state_name(enum root_key_state s);
void root_keyset_dispose(root_keyset_t *ks);
/* Whether kid may name a key of a set (and its file): 1..128 of A-Z a-z 0-9 - _ . , not
   starting with '.' (an RFC 7638 thumbprint may start with '-'). */
bool root_kid_valid(str_t kid);
/* The entry of kid, or NULL. */
root_key_entry_t *root_keyset_find(const root_keyset_t *ks, const char *kid);
/* The ACTIVE entry, or NULL. */
const root_key_entry_t *root_keyset_active(const root_keyset_t *ks);
/* Whether e is retired for keep_s or longer at now: every token it signed has expired. */
bool root_keyset_expired(const root_key_entry_t *e, int64_t now, int64_t keep_s);
/*
 * Parses the state file's text (keyset.c has the format). At most one ACTIVE key; kids
 * unique. OUT: *out (dispose it). Returns 0 or ERR_CONFIG with "line N: why" in err.
 */
int root_keyset_parse(str_t text, root_keyset_t *out, char *err, size_t cap);
/* Appends the state file's text for ks (it parses back to ks). Returns 0 or ERR_TOO_LARGE. */
int root_keyset_format(const root_keyset_t *ks, buf_t *out);
/*
 * Transitions (pure; the caller writes the set). add: a new key, NEXT, or ACTIVE when the
 * set has no active key. activate: a NEXT (or RETIRED, not yet expired) key becomes ACTIVE
 * and the active one RETIRED at now. retire: a NEXT key becomes RETIRED (the active key is
 * refused: activate its successor instead). remove: drops a key at once (a leaked key; not
 * the active one). Return 0, or ERR_NOT_FOUND, ERR_CONFLICT, ERR_INVALID with why in err.
 */
int root_keyset_add(root_keyset_t *ks, const char *kid, const char *alg, int64_t now, char *err,
                    size_t cap);
int root_keyset_activate(root_keyset_t *ks, const char *kid, int64_t now, int64_t keep_s, char *err,
                         size_t cap);
int root_keyset_retire(root_keyset_t *ks, const char *kid, int64_t now, char *err, size_t cap);
int root_keyset_remove(root_keyset_t *ks, const char *kid, char *err, size_t cap);
/* Drops the entries expired at now (root_keyset_expired). Returns how many. */
size_t root_keyset_prune(root_keyset_t *ks, int64_t now, int64_t keep_s);

/* The path of e's key file in dir: <kid>.pem, or <kid>.key for an HMAC secret. */
void root_keyset_key_path(const char *dir, const root_key_entry_t *e, char *out, size_t cap);
/* Reads dir's state file. Returns 0, ERR_NOT_FOUND (no state file) or ERR_CONFIG (err). */
int root_keyset_read(const char *dir, root_keyset_t *out, char *err, size_t cap);
/* Writes dir's state file atomically (0600). Returns 0 or ERR_IO (err). */
int root_keyset_write(const char *dir, const root_keyset_t *ks, char *err, size_t cap);
/*
 * Creates dir (0700) if needed and takes its lock (flock on dir/.lock), held until the
 * returned descriptor is closed, so two commands do not lose each other's change. Returns
 * the descriptor or ERR_IO (err).
 */
int root_keyset_lock(const char *dir, char *err, size_t cap);
/*
 * Generates a key for alg (or imports the PEM private key or secret file from, when not
 * NULL) into dir as its key file (0600, never over an existing one). OUT: kid. Returns 0,
 * ERR_INVALID, ERR_CONFLICT (already there), ERR_IO or ERR_INTERNAL with why in err.
 */
int root_keyset_new_key(const char *dir, const char *alg, const char *from, char *kid,
                        size_t kid_cap, char *err, size_t cap);
/* Deletes the key files in dir that ks no longer holds (after the state file is written). */
size_t root_keyset_clean(const char *dir, const root_keyset_t *ks);
/* How long a retired key stays (the longest token lifetime + leeway) for the configuration. */
int64_t root_keyset_keep_s(const root_t *r);
/* The key set directory of the configuration (JWTD_KEYS_DIR, else <data_dir>/keys). */
const char *root_keys_dir(const root_t *r);

/*
 * SIGHUP's work for `jwtd serve` (serve.c): reads the configuration again (the same
 * `--config FILE`, the environment) and the keys; applies what can change live, logs what
 * needs a restart, keeps everything as it was when anything is invalid (logged). Never
 * exits. Returns 0 when the new configuration is in force, or the error.
 */
int root_reload(root_t *r);

/* The value of `--config` in argv (before any `--`), or NULL; *missing when it has none. */
const char *root_config_path(int argc, char **argv, bool *missing);

/* ==== internal to src/root/ ================================================================== */

/*
 * Reports an error that stops the command (root.c): "jwtd: <message>" on stderr, or, once
 * `jwtd serve` has switched the logs to JSON, one JSON line at level error whatever
 * JWTD_LOG_LEVEL says.
 */
void root__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The relying party of social sign-in (oidc.c) over r->auth, its client secrets read from
 * their files. Prints what is wrong. OUT: *out (auth_oidc_free). 0 or ERR_CONFIG.
 */
int root__oidc_new(root_t *r, struct auth_oidc **out);
/* `jwtd check`'s line: the providers, their secret files read. False with msg on a problem. */
bool root__oidc_check(const root_t *r, char *msg, size_t cap);

/* Fills r->opt from r->_cfg (options.c). */
void root__options(root_t *r);
/*
 * JWTD_SMTP_PASSWORD_FILE's password without its trailing newline (heap; wipe with
 * free_secret), or NULL when the setting is unset. Returns 0, or ERR_CONFIG with why.
 */
int root__smtp_password(const struct cfg *cfg, char **out, char *why, size_t cap);
/*
 * Builds the key ring for the configuration (keys.c). OUT: *out (one reference). Returns 0,
 * or ERR_CONFIG with a message naming the variable in err (cap bytes).
 */
int root__keys_load(const struct cfg *cfg, struct jose_keyring **out, char *err, size_t cap);
/*
 * Loads the key ring as root__keys_load does but never creates a file (keys.c). Returns 0
 * with a summary in msg (algorithm, active kid, count), ERR_NOT_FOUND when only the
 * development key is not generated yet (`jwtd serve` would create it; msg says where), or
 * ERR_CONFIG with the problem in msg. OUT: alg (alg_cap bytes): the active key's algorithm,
 * or the configured one when the development key is not generated yet; "" on ERR_CONFIG.
 */
int root__keys_check(const struct cfg *cfg, char *msg, size_t cap, char *alg, size_t alg_cap);
/* The problem of OpenID Connect clients with an HMAC signing key alg, as serve refuses to
   start and `jwtd check` reports it, into msg (root.c). */
void root__oauth_key_problem(const char *alg, char *msg, size_t cap);
/* The key set directory of cfg into out (keys.c). */
void root__keys_dir(const struct cfg *cfg, char *out, size_t cap);
/* How long a retired key of a set stays for cfg (keys.c). */
int64_t root__keys_keep_s(const struct cfg *cfg);
/*
 * Registers JWTD_ROUTE_ALIASES (items, n) on r, whose routes are all registered
 * (aliases.c): an exact alias ALIAS=TARGET, and its form with or without the trailing
 * slash unless that path is taken; a prefix alias, for every fixed route below TARGET/.
 * Returns 0, or ERR_CONFIG with "JWTD_ROUTE_ALIASES: ..." in err (unknown target, a path
 * that is already a route or another target's alias).
 */
int root__route_aliases(http_router_t *r, char *const *items, size_t n, char *err, size_t cap);
/* The verification options of jwtd's own tokens (keys.c); strings point into cfg. */
void root__keys_verify_options(const struct cfg *cfg, const struct jose_keyring *ring,
                               jwtv_options *opt);

#endif

/*
 * config.h - jwtd's effective configuration: one struct, filled from one table.
 *
 * Every variable of API.md section 9, plus the limits that bound each input path, is a
 * field of struct cfg and a row of the table in table.c (name, type, offset, default,
 * bounds, flags, help). Defaults, env/file parsing, `jwtd config` (secrets redacted),
 * --help and docs/config.md are all generated from that table: adding an option is one
 * field here and one row there.
 *
 * Only src/config/ knows how values are spelled. Other modules take plain C values copied
 * out of struct cfg by the code that wires them (src/cli/serve.c), never struct cfg itself
 * unless they are wiring code.
 *
 * Threads: filled once at start-up by cfg_load(), read-only afterwards.
 */
#ifndef JWTD_CONFIG_H
#define JWTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_environment { CFG_ENV_DEVELOPMENT = 0, CFG_ENV_STAGING = 1, CFG_ENV_PRODUCTION = 2 };

/* A rate such as "5/minute": count requests per period_s seconds. count 0 = unlimited. */
typedef struct {
    uint32_t count;
    uint32_t period_s;
} cfg_rate_t;

/* One CIDR network, IPv4 or IPv6 (IPv4 stored as v4-mapped IPv6). */
typedef struct {
    uint8_t addr[16];
    uint8_t prefix_len; /* 0..128, counted on the 16-byte form */
} cfg_cidr_t;

typedef struct {
    cfg_cidr_t *items;
    size_t count;
} cfg_cidr_list_t;

/* A comma-separated list of strings, already split and trimmed. */
typedef struct {
    char **items;
    size_t count;
} cfg_strlist_t;

struct cfg {
    /* --- server ---------------------------------------------------------------------- */
    char *listen; /* JWTD_LISTEN "host:port" */
    int workers;  /* JWTD_WORKERS, 0 = number of cores */
    enum cfg_environment environment;
    char *data_dir;  /* JWTD_DATA_DIR, default "var" */
    char *log_level; /* JWTD_LOG_LEVEL debug|info|warn|error */
    char *log_dir;   /* JWTD_LOG_DIR, NULL = stderr */
    /* --- backends -------------------------------------------------------------------- */
    char *database_url; /* JWTD_DATABASE_URL */
    char *redis_url;    /* JWTD_REDIS_URL, NULL = embedded store */
    /* --- keys and tokens --------------------------------------------------------------- */
    char *algorithm;         /* JWTD_ALGORITHM */
    char *secret_key;        /* JWTD_SECRET_KEY (SECRET) */
    char *secret_key_file;   /* JWTD_SECRET_KEY_FILE */
    char *signing_key_file;  /* JWTD_SIGNING_KEY_FILE */
    char *trusted_jwks_file; /* JWTD_TRUSTED_JWKS_FILE */
    int64_t access_token_lifetime_s;
    int64_t refresh_token_lifetime_s;
    bool rotate_refresh_tokens;
    int64_t refresh_reuse_grace_s;
    int64_t leeway_s;
    char *issuer;                  /* JWTD_ISSUER, NULL = not set */
    char *audience;                /* JWTD_AUDIENCE, NULL = not set */
    int64_t auto_refresh_window_s; /* 0 disables */
    /* --- browser and abuse ----------------------------------------------------------- */
    cfg_strlist_t cors_allowed_origins;
    cfg_rate_t rate_limit_login;
    cfg_rate_t rate_limit_anon;
    cfg_rate_t rate_limit_user;
    cfg_cidr_list_t trusted_proxies;
    /* --- passwords (argon2id) ------------------------------------------------------------ */
    uint32_t argon2_memory_kib;
    uint32_t argon2_iterations;
    uint32_t argon2_parallelism;
    /* --- HTTP limits and deadlines ----------------------------------------------------- */
    size_t max_body_bytes;   /* JWTD_MAX_BODY_BYTES */
    size_t max_header_bytes; /* request line + all headers */
    uint32_t max_headers;    /* header count */
    size_t max_url_bytes;
    uint32_t json_max_depth;
    int64_t header_timeout_ms;   /* whole header section must arrive within this */
    int64_t body_timeout_ms;     /* whole body must arrive within this */
    int64_t idle_timeout_ms;     /* keep-alive idle */
    int64_t shutdown_timeout_ms; /* graceful shutdown bound */
    uint32_t max_connections;    /* per process */
    uint32_t pool_threads;       /* blocking-work pool size, 0 = cores */
    uint32_t pool_queue_max;     /* queued blocking jobs before 503 */
};

/*
 * Fills *cfg from defaults, then the optional config file (KEY=VALUE lines, keys with or
 * without the JWTD_ prefix), then the environment (env wins). On error, writes a message
 * naming the variable into err (cap bytes) and returns ERR_CONFIG. Unknown JWTD_* names
 * produce a warning in the log, not an error. config_file may be NULL.
 */
int cfg_load(struct cfg *cfg, const char *config_file, char *err, size_t cap);
/* Releases every string and list cfg_load allocated (secrets wiped). */
void cfg_dispose(struct cfg *cfg);
/* Writes the effective configuration as KEY=VALUE lines, secrets redacted. */
void cfg_dump(const struct cfg *cfg, int fd);
/* Whether the address (16-byte v4-mapped/v6 form) is inside one of the networks. */
bool cfg_cidr_list_contains(const cfg_cidr_list_t *list, const uint8_t addr[16]);

#endif

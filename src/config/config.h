/*
 * config.h - jwtd's effective configuration: one struct, filled from one table.
 *
 * Every JWTD_* variable, including the limits that bound each input path, is a
 * field of struct cfg and a row of the table in table.c (name, type, offset, default,
 * bounds, flags, help). Defaults, env/file parsing, `jwtd config` (secrets redacted) and
 * docs/config.md are all generated from that table: adding an option is one field here
 * and one row there.
 *
 * Only src/config/ knows how values are spelled. Other modules take plain C values copied
 * out of struct cfg by the composition root (src/root/), never struct cfg itself.
 *
 * Threads: filled once at start-up by cfg_load(), read-only afterwards.
 */
#ifndef JWTD_CONFIG_H
#define JWTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"
#include "common/str.h"

enum cfg_environment { CFG_ENV_DEVELOPMENT = 0, CFG_ENV_STAGING = 1, CFG_ENV_PRODUCTION = 2 };
/* JWTD_WORKER_AFFINITY, same order as http.h's enum http_affinity. */
enum cfg_affinity { CFG_AFFINITY_AUTO = 0, CFG_AFFINITY_ON = 1, CFG_AFFINITY_OFF = 2 };
/* JWTD_SIGNUP: who may create an account through the API (same order as the table's choices). */
enum cfg_signup { CFG_SIGNUP_OPEN = 0, CFG_SIGNUP_VERIFIED = 1, CFG_SIGNUP_CLOSED = 2 };
enum cfg_samesite { CFG_SAMESITE_LAX = 0, CFG_SAMESITE_STRICT = 1, CFG_SAMESITE_NONE = 2 };
enum cfg_token_messages { CFG_TOKEN_MESSAGES_DISTINCT = 0, CFG_TOKEN_MESSAGES_COMBINED = 1 };
enum cfg_webauthn_uv { CFG_WEBAUTHN_UV_PREFERRED = 0, CFG_WEBAUTHN_UV_REQUIRED = 1 };

/* A rate such as "5/minute": count requests per period_s seconds. count 0 = unlimited. */
typedef struct {
    uint32_t count;
    uint32_t period_s;
} cfg_rate_t;

/* A comma-separated list of strings, already split and trimmed. */
typedef struct {
    char **items;
    size_t count;
} cfg_strlist_t;

/*
 * One OpenID Connect provider jwtd signs users in with (JWTD_OIDC_PROVIDERS lists their
 * names; JWTD_OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET_FILE, _SCOPES and _TRUST_MFA set
 * each one:
 * per-name variables, read by src/config/oidc.c rather than table rows).
 */
struct cfg_oidc_provider {
    char *name;               /* as listed, lower-case: letters, digits, '-', '_' */
    char *issuer;             /* without trailing '/': https://, or http:// on loopback/dev */
    char *client_id;          /* required */
    char *client_secret_file; /* NULL = a public client (PKCE only) */
    char *scopes;             /* space-separated, always with openid */
    bool trust_mfa; /* _TRUST_MFA: an ID token whose amr proves multi-factor sign-in at the
                       provider stands for jwtd's second step (default false) */
};

/* Upper bound on the number of table rows (checked at compile time in table.c). */
#define CFG_MAX_ROWS 160

/* Where a variable's effective value came from. */
enum cfg_source { CFG_SRC_DEFAULT = 0, CFG_SRC_FILE = 1, CFG_SRC_ENV = 2, CFG_SRC_CLI = 3 };

struct cfg {
    /* --- server ---------------------------------------------------------------------- */
    char *listen; /* JWTD_LISTEN "host:port" */
    int workers;  /* JWTD_WORKERS, 0 = number of cores */
    enum cfg_affinity worker_affinity;
    enum cfg_environment environment;
    char *data_dir;  /* JWTD_DATA_DIR, default "var" */
    char *log_level; /* JWTD_LOG_LEVEL debug|info|warn|error */
    char *log_dir;   /* JWTD_LOG_DIR, NULL = stderr */
    char *pid_file;  /* JWTD_PID_FILE, NULL = none */
    /* JWTD_LOG_FORMAT text|json */
    char *log_format;
    size_t log_buffer_bytes; /* JWTD_LOG_BUFFER: access-line buffer per loop, 0 = unbuffered */
    int64_t log_flush_ms;    /* JWTD_LOG_FLUSH: the longest a buffered line waits */
    /* --- backends -------------------------------------------------------------------- */
    char *database_url;        /* JWTD_DATABASE_URL */
    char *redis_url;           /* JWTD_REDIS_URL, NULL = embedded store */
    bool redis_required;       /* JWTD_REDIS_REQUIRED: /readyz fails while Redis is down */
    int64_t redis_timeout_ms;  /* JWTD_REDIS_TIMEOUT: connect and command timeout */
    int64_t user_cache_ttl_s;  /* JWTD_USER_CACHE_TTL: /api/users/me/ user cache lifetime */
    int64_t posts_cache_ttl_s; /* JWTD_POSTS_CACHE_TTL: cached post list pages */
    int64_t api_cache_ttl_s;   /* JWTD_API_CACHE_TTL: cached per-user API answers (orders) */
    char *redis_prefix;        /* JWTD_REDIS_PREFIX: prefix of every key and channel */
    char *redis_sentinel_password_file; /* JWTD_REDIS_SENTINEL_PASSWORD_FILE, NULL = none */
    /* --- keys and tokens --------------------------------------------------------------- */
    char *algorithm;         /* JWTD_ALGORITHM */
    char *secret_key;        /* JWTD_SECRET_KEY (SECRET) */
    char *secret_key_file;   /* JWTD_SECRET_KEY_FILE */
    char *signing_key_file;  /* JWTD_SIGNING_KEY_FILE */
    char *trusted_jwks_file; /* JWTD_TRUSTED_JWKS_FILE */
    char *keys_dir;          /* JWTD_KEYS_DIR, NULL = <data_dir>/keys */
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
    char *cookie_domain;                    /* JWTD_COOKIE_DOMAIN, NULL = host-only cookie */
    bool sliding_session;                   /* JWTD_SLIDING_SESSION */
    char *refresh_cookie_path;              /* JWTD_REFRESH_COOKIE_PATH */
    enum cfg_samesite cookie_samesite;      /* JWTD_COOKIE_SAMESITE */
    enum cfg_token_messages token_messages; /* JWTD_TOKEN_MESSAGES */
    char *web_dir;                          /* JWTD_WEB_DIR, NULL = no web UI */
    enum cfg_signup signup;                 /* JWTD_SIGNUP: open, verified (by e-mail), closed */
    bool resource_routes;                   /* JWTD_RESOURCE_ROUTES: the demo resource API */
    char *upload_dir;                       /* JWTD_UPLOAD_DIR, NULL = <data_dir>/uploads */
    size_t max_upload_bytes;                /* JWTD_MAX_UPLOAD_BYTES */
    cfg_rate_t rate_limit_login;
    cfg_rate_t rate_limit_login_account;    /* failed logins per account, untrusted clients */
    cfg_rate_t rate_limit_login_account_ip; /* the same from one address */
    cfg_rate_t rate_limit_login_device;     /* failed logins per device token */
    int64_t device_token_lifetime_s;        /* JWTD_DEVICE_TOKEN_LIFETIME: 0 = no device tokens */
    cfg_strlist_t mfa_required_roles;       /* JWTD_MFA_REQUIRED_ROLES: role names, empty = none */
    cfg_rate_t rate_limit_anon;
    cfg_rate_t rate_limit_user;
    ip_net_list_t trusted_proxies;
    cfg_rate_t invalid_token_limit; /* JWTD_INVALID_TOKEN_LIMIT: beyond it = suspicious */
    int64_t invalid_token_block_s;  /* JWTD_INVALID_TOKEN_BLOCK: 0 = log only */
    /* --- token binding and IP rules -------------------------------------------------- */
    ip_net_list_t ip_allowlist;        /* JWTD_IP_ALLOWLIST: empty = every client */
    ip_net_list_t admin_ip_allowlist;  /* JWTD_ADMIN_IP_ALLOWLIST: empty = anywhere */
    cfg_strlist_t fingerprint_headers; /* JWTD_FINGERPRINT_HEADERS: empty = no binding */
    bool fingerprint_access;           /* JWTD_FINGERPRINT_ACCESS */
    cfg_strlist_t one_time_routes;     /* JWTD_ONE_TIME_ROUTES: paths, empty = none */
    int64_t refresh_anomaly_window_s;  /* JWTD_REFRESH_ANOMALY_WINDOW: 0 = off */
    uint32_t refresh_anomaly_prefix;   /* JWTD_REFRESH_ANOMALY_PREFIX: IPv4 bits */
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
    /* --- observability -------------------------------------------------------------- */
    int64_t slow_request_ms;   /* JWTD_SLOW_REQUEST: performance log threshold, 0 = off */
    int64_t feed_keepalive_ms; /* JWTD_FEED_KEEPALIVE: comment interval on revocation streams */
    /* --- behind a proxy: public URL, HSTS, route aliases ---------------------------------- */
    char *public_url;             /* JWTD_PUBLIC_URL, NULL = unset; no trailing '/' */
    int64_t hsts_max_age_s;       /* JWTD_HSTS_MAX_AGE: 0 = no HSTS header */
    bool hsts_include_subdomains; /* JWTD_HSTS_INCLUDE_SUBDOMAINS */
    bool hsts_preload;            /* JWTD_HSTS_PRELOAD (needs the two above, 1 year) */
    cfg_strlist_t route_aliases;  /* JWTD_ROUTE_ALIASES: "ALIAS=TARGET" items */
    char *metrics_listen;         /* JWTD_METRICS_LISTEN "host:port", NULL = on JWTD_LISTEN */
    int64_t audit_retention_s;    /* JWTD_AUDIT_RETENTION: audit_log rows kept; 0 = not stored */
    /* --- social sign-in (OpenID Connect relying party) ------------------------------------ */
    cfg_strlist_t oidc_providers;   /* JWTD_OIDC_PROVIDERS: names, empty = none */
    bool oidc_link_by_email;        /* JWTD_OIDC_LINK_BY_EMAIL */
    struct cfg_oidc_provider *oidc; /* one per name of oidc_providers, in its order */
    size_t oidc_count;              /* (filled by cfg_finish from the per-name variables) */
    /* --- e-mail (the account lifecycle) ---------------------------------------------------- */
    char *smtp_url;                /* JWTD_SMTP_URL, NULL = none (.eml files in development) */
    char *smtp_password_file;      /* JWTD_SMTP_PASSWORD_FILE, NULL = the URL's password */
    char *smtp_ca_file;            /* JWTD_SMTP_CA_FILE, NULL = the system's trust store */
    char *mail_from;               /* JWTD_MAIL_FROM */
    char *mail_templates_dir;      /* JWTD_MAIL_TEMPLATES_DIR, NULL = built in */
    int64_t email_link_lifetime_s; /* JWTD_EMAIL_LINK_LIFETIME */
    int64_t mail_retry_s;          /* JWTD_MAIL_RETRY: first retry delay */
    cfg_rate_t rate_limit_mail;    /* JWTD_RATE_LIMIT_MAIL: per address */
    cfg_rate_t rate_limit_mail_ip; /* JWTD_RATE_LIMIT_MAIL_IP: per client address */
    /* --- passkeys (WebAuthn) ----------------------------------------------------------- */
    char *webauthn_rp_id;             /* JWTD_WEBAUTHN_RP_ID, NULL = passkeys off */
    char *webauthn_rp_name;           /* JWTD_WEBAUTHN_RP_NAME */
    cfg_strlist_t webauthn_origins;   /* JWTD_WEBAUTHN_ORIGINS */
    enum cfg_webauthn_uv webauthn_uv; /* JWTD_WEBAUTHN_USER_VERIFICATION */
    int64_t webauthn_timeout_s;       /* JWTD_WEBAUTHN_TIMEOUT: ceremony / challenge life */
    /* --- private to src/config/ ------------------------------------------------------- */
    unsigned char _source[CFG_MAX_ROWS]; /* enum cfg_source of each table row */
    void *_warnings;  /* pending warning lines (buf_t *), logged by cfg_finish() */
    void *_oidc_vars; /* JWTD_OIDC_<NAME>_* values seen while loading (oidc.c) */
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
/*
 * A reload: compares next (just loaded) with running variable by variable (secrets too,
 * never shown) and calls cb(name, reloads, arg) for each one that differs; reloads says
 * whether `jwtd serve` applies a change of it on SIGHUP. A variable that does not reload
 * gets its running value back in next, so next is then what would be in force. Returns how
 * many differ.
 */
size_t cfg_reload_merge(struct cfg *next, const struct cfg *running,
                        void (*cb)(const char *name, bool reloads, void *arg), void *arg);

/* --- the steps of cfg_load, for callers that need them separately (tests, fuzzing) ------ */

/* Zeroes *cfg and applies every row's default. Returns 0 or ERR_CONFIG (a bad default). */
int cfg_init_defaults(struct cfg *cfg, char *err, size_t cap);
/*
 * Applies KEY=VALUE lines from a buffer (the config-file syntax; see docs/config.md).
 * origin names the buffer in messages ("jwtd.conf"). Errors carry "origin:LINE: ". On
 * error, settings from earlier lines stay applied; the caller disposes *cfg.
 */
int cfg_apply_buffer(struct cfg *cfg, const char *origin, const char *data, size_t len, char *err,
                     size_t cap);
/* Reads path (at most 1 MiB) and applies it with cfg_apply_buffer. */
int cfg_apply_file(struct cfg *cfg, const char *path, char *err, size_t cap);
/* Applies every JWTD_* entry of envp (NULL-terminated "NAME=value" strings, like environ). */
int cfg_apply_env(struct cfg *cfg, char *const *envp, char *err, size_t cap);
/*
 * Sets one variable by name (with or without the JWTD_ prefix, case-insensitive) from its
 * textual value, recording src. Returns 0, ERR_NOT_FOUND for an unknown name (err set), or
 * ERR_CONFIG for a bad value.
 */
int cfg_set(struct cfg *cfg, const char *name, str_t value, enum cfg_source src, char *err,
            size_t cap);
/*
 * Environment-dependent defaults and cross-variable checks; the last step of cfg_load.
 * Also logs the warnings gathered while loading (unknown or deprecated variables) unless
 * JWTD_LOG_LEVEL is above warn: they wait until the level is known.
 */
int cfg_finish(struct cfg *cfg, char *err, size_t cap);
/* Where the effective value of variable name came from; -1 for an unknown name. */
int cfg_source_of(const struct cfg *cfg, const char *name);
/* Writes the table as a Markdown reference (docs/config.md is this output). */
void cfg_markdown(int fd);

/* --- value parsers (the same ones the loader uses; each returns 0 or ERR_CONFIG) ------- */

/* true/false, 1/0, yes/no, on/off, case-insensitive. */
int cfg_parse_bool(str_t s, bool *out);
/* "900" (seconds), "500ms", "10s", "15m", "2h", "7d", "1w". OUT: milliseconds. */
int cfg_parse_duration_ms(str_t s, int64_t *out_ms);
/* "1048576", "16k", "1m", "1g" (1024-based; "kb", "kib", "mb", ... also accepted). */
int cfg_parse_size(str_t s, uint64_t *out);
/* "5/minute", "100/hour", "10/second", "1000/day", "5/15m"; "0" = unlimited. */
int cfg_parse_rate(str_t s, cfg_rate_t *out);
/* Comma-separated strings, trimmed, empty items dropped. Release with cfg_strlist_dispose. */
int cfg_parse_strlist(str_t s, cfg_strlist_t *out);
void cfg_strlist_dispose(cfg_strlist_t *list);
/*
 * JWTD_PUBLIC_URL: an absolute http:// or https:// URL (lower-case scheme), a host of
 * letters, digits, '.' and '-' (or an [IPv6] literal), an optional :port (1..65535), an
 * optional path of unreserved characters and '/'; no user info, query, fragment or blank. OUT:
 * *len, the length without trailing slashes (the normalised URL is s.ptr[0..len)), *https.
 * On error writes why (no value quoted) and returns ERR_CONFIG.
 */
int cfg_parse_public_url(str_t s, size_t *len, bool *https, char *why, size_t cap);

/* One item of JWTD_ROUTE_ALIASES: slices of the item, no '*' in them. */
typedef struct {
    str_t alias;  /* "/login/simpleJWT/" */
    str_t target; /* "/api/token/" */
    bool prefix;  /* both sides ended in '/' then '*': every route below target, below alias */
} cfg_route_alias_t;
/*
 * "ALIAS=TARGET" (exact path), or a prefix alias whose two sides end in '/' then '*' (every
 * route below TARGET/, also below ALIAS/; the '*' is not part of the slices). Both sides are
 * absolute paths of letters, digits, '-', '.', '_', '~' and '/', without empty, "." or ".."
 * segments, at most 256 bytes, different from each other. Returns 0 with *out set (slices into
 * item), or ERR_CONFIG with why.
 */
int cfg_parse_route_alias(str_t item, cfg_route_alias_t *out, char *why, size_t cap);

#endif

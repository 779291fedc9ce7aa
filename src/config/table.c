/*
 * table.c - THE configuration table: one row per variable of struct cfg (every JWTD_*
 * setting, including the limits of every input path; docs/config.md lists them).
 *
 * Adding an option is a field in config.h and a row here; defaults, parsing from file and
 * environment, `jwtd config`, and docs/config.md (`jwtd config --markdown`) all follow from
 * the row and its type (types.c). Defaults are strings parsed by the same code as user
 * input, so a default can never bypass a bound. Defaults that depend on JWTD_ENVIRONMENT
 * are applied by cfg_finish() (finish.c) and documented here through def_doc.
 *
 * This file holds data and the few validators that a type cannot express; it does no I/O.
 */
#include "config/table.h"

#include <stdio.h>
#include <string.h>

/* --- validators ------------------------------------------------------------------------ */

/* Whether p is a decimal port number 0..65535 of at most five digits. */
static bool is_port(const char *p)
{
    uint64_t port;
    return strlen(p) <= 5 && str_to_u64(str_cstr(p), 65535, &port);
}

/* "host:port", "[v6]:port" or ":port" (all interfaces); port 0..65535 (0 = any free port). */
static int validate_listen(const char *v, char *why, size_t cap)
{
    const char *colon = strrchr(v, ':');
    const char *reason = NULL;
    if (!colon)
        reason = "expected host:port, e.g. 127.0.0.1:8000 or [::1]:8000";
    else if (v[0] == '[' && colon[-1] != ']')
        reason = "expected [v6-address]:port";
    else if (!is_port(colon + 1))
        reason = "port must be a number 0..65535";
    if (!reason)
        return 0;
    snprintf(why, cap, "%s", reason);
    return -1;
}

/* Accepts v when it is one of schemes (NULL-terminated) followed by something. */
static int scheme_check(const char *v, const char *const *schemes, const char *expected, char *why,
                        size_t cap)
{
    for (size_t i = 0; schemes[i]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(v, schemes[i], n) == 0 && v[n])
            return 0;
    }
    snprintf(why, cap, "%s", expected);
    return -1;
}

/* A comma-separated list of roles (user, instructor, admin), or nothing. */
static int validate_roles(const char *v, char *why, size_t cap)
{
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n && !((n == 4 && strncmp(p, "user", 4) == 0) ||
                   (n == 10 && strncmp(p, "instructor", 10) == 0) ||
                   (n == 5 && strncmp(p, "admin", 5) == 0))) {
            snprintf(why, cap, "unknown role \"%.*s\": expected user, instructor or admin",
                     (int)(n > 32 ? 32 : n), p);
            return -1;
        }
        p += n;
    }
    return 0;
}

static int validate_database_url(const char *v, char *why, size_t cap)
{
    static const char *const schemes[] = {"sqlite:", "postgresql://", "postgres://", NULL};
    return scheme_check(v, schemes, "expected sqlite:PATH or postgresql://user:pass@host/db", why,
                        cap);
}

static int validate_redis_url(const char *v, char *why, size_t cap)
{
    static const char *const schemes[] = {"redis://",          "rediss://",        "unix://",
                                          "redis-sentinel://", "redis-cluster://", NULL};
    return scheme_check(v, schemes,
                        "expected redis://host:port/db, unix:///path, "
                        "redis-sentinel://host:port,host:port/MASTERNAME?db=N or "
                        "redis-cluster://host:port,host:port",
                        why, cap);
}

/* A provider name of JWTD_OIDC_PROVIDERS: it appears in a path (/auth/oidc/NAME/start) and,
   upper-cased with '-' as '_', in the names of its variables. */
static int validate_oidc_name(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 32;
    for (size_t k = 0; ok && k < n; k++) {
        char c = v[k];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    }
    if (ok && strcmp(v, "providers") != 0 && strcmp(v, "identities") != 0)
        return 0;
    snprintf(why, cap,
             "a provider name is 1..32 letters, digits, '-' or '_' (not `providers` "
             "or `identities`: routes of their own)");
    return -1;
}

/* A cookie Path attribute: an absolute path of URL characters, nothing that would end the
   attribute (';', ',') or need quoting. */
static int validate_cookie_path(const char *v, char *why, size_t cap)
{
    if (v[0] != '/') {
        snprintf(why, cap, "expected an absolute path starting with / (e.g. /api/auth/ or /)");
        return -1;
    }
    for (const char *p = v; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch >= 0x7f || ch == ';' || ch == ',' || ch == '"' || ch == '\\') {
            snprintf(why, cap,
                     "a cookie path may not contain spaces, ';', ',', quotes or "
                     "non-ASCII characters");
            return -1;
        }
    }
    return 0;
}

static int validate_public_url(const char *v, char *why, size_t cap)
{
    size_t len;
    bool https;
    return cfg_parse_public_url(str_cstr(v), &len, &https, why, cap) == 0 ? 0 : -1;
}

static int validate_smtp_url(const char *v, char *why, size_t cap)
{
    const char *rest = strncmp(v, "smtps://", 8) == 0  ? v + 8
                       : strncmp(v, "smtp://", 7) == 0 ? v + 7
                                                       : NULL;
    if (!rest) {
        snprintf(why, cap, "must start with smtp:// or smtps://");
        return -1;
    }
    if (!*rest || *rest == '/' || *rest == '?') {
        snprintf(why, cap, "has no host");
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, cap, "may not contain blanks or control characters");
            return -1;
        }
    }
    const char *q = strchr(rest, '?');
    if (q && strcmp(q, "?tls=required") != 0 && strcmp(q, "?tls=opportunistic") != 0) {
        snprintf(why, cap, "the only query is ?tls=required or ?tls=opportunistic");
        return -1;
    }
    return 0;
}

/* "Name <a@b>" or "a@b": printable ASCII, one address with an @. */
static int validate_mail_from(const char *v, char *why, size_t cap)
{
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f) {
            snprintf(why, cap, "must be printable ASCII");
            return -1;
        }
    }
    const char *lt = strchr(v, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    const char *addr = lt ? lt + 1 : v;
    size_t n = lt ? (gt ? (size_t)(gt - addr) : 0) : strlen(v);
    const char *at = memchr(addr, '@', n);
    if ((lt && (!gt || gt[1])) || !at || at == addr || at == addr + n - 1 || memchr(addr, ' ', n)) {
        snprintf(why, cap, "must be `Name <address>` or `address`");
        return -1;
    }
    return 0;
}

/* One item of JWTD_ROUTE_ALIASES (duplicates across items: cfg_finish). */
static int validate_route_alias(const char *v, char *why, size_t cap)
{
    cfg_route_alias_t a;
    return cfg_parse_route_alias(str_cstr(v), &a, why, cap) == 0 ? 0 : -1;
}

/* --- choices --------------------------------------------------------------------------- */

static const char *const environments[] = {"development", "staging", "production", NULL};
static const char *const signups[] = {"open", "verified", "closed", NULL};
static const char *const samesites[] = {"Lax", "Strict", "None", NULL};
static const char *const token_messages[] = {"distinct", "combined", NULL};
static const char *const webauthn_uvs[] = {"preferred", "required", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const affinities[] = {"auto", "on", "off", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const algorithms[] = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                         "RS512", "PS256", "PS384", "PS512", "ES256",
                                         "ES384", "EdDSA", NULL};

/* --- the table ------------------------------------------------------------------------- */

#define OFF(field) offsetof(struct cfg, field)
#define DAY_S      86400LL
#define KIB        1024LL
#define MIB        (1024LL * 1024)

const struct cfg_row cfg_rows[] = {
    /* server */
    {"JWTD_LISTEN", CFG_T_STRING, OFF(listen), "127.0.0.1:8000", 0, 0, 0, NULL, validate_listen,
     "address:port to listen on ([v6]:port for IPv6, :port for all interfaces; port 0 picks a "
     "free port)",
     NULL},
    {"JWTD_WORKERS", CFG_T_INT, OFF(workers), "0", 0, 1024, 0, NULL, NULL,
     "event-loop threads; 0 = number of cores", NULL},
    {"JWTD_WORKER_AFFINITY", CFG_T_ENUM, OFF(worker_affinity), "auto", 0, 0, 0, affinities, NULL,
     "pin event-loop thread i to CPU i: auto = only when there is one worker per CPU the "
     "process may use (the default worker count); on = always (round robin); off = never",
     NULL},
    {"JWTD_ENVIRONMENT", CFG_T_ENUM, OFF(environment), "development", 0, 0, 0, environments, NULL,
     "cookie Secure, CORS defaults, HSTS; production refuses to start with a missing or weak "
     "key",
     NULL},
    {"JWTD_DATA_DIR", CFG_T_PATH, OFF(data_dir), "var", 0, 0, 0, NULL, NULL,
     "where jwtd keeps its state: the default SQLite database and upload directory, the "
     "development keys; created (0700) when first needed",
     "`var` (relative to the working directory) in development, `/var/lib/jwtd` in staging and "
     "production"},
    {"JWTD_LOG_LEVEL", CFG_T_STRING, OFF(log_level), "info", 0, 0, CFG_F_RELOAD, log_levels, NULL,
     "minimum level of log lines written", NULL},
    {"JWTD_LOG_DIR", CFG_T_PATH, OFF(log_dir), NULL, 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "directory for auth.log, api.log, error.log, performance.log; unset = stderr", NULL},
    {"JWTD_LOG_FORMAT", CFG_T_STRING, OFF(log_format), "text", 0, 0, 0, log_formats, NULL,
     "log lines as key=value text or JSON lines (one object per line, same keys)", NULL},
    {"JWTD_LOG_BUFFER", CFG_T_SIZE, OFF(log_buffer_bytes), "64k", 0, 16 * MIB, 0, NULL, NULL,
     "access lines (one per request) are gathered in a buffer of this size per event loop and "
     "written when it fills, every JWTD_LOG_FLUSH and at shutdown or SIGHUP; 0 = one write per "
     "line",
     NULL},
    {"JWTD_LOG_FLUSH", CFG_T_DURATION_MS, OFF(log_flush_ms), "1s", 10, 60 * 1000LL, 0, NULL, NULL,
     "with JWTD_LOG_BUFFER: the longest an access line waits in its buffer", NULL},
    {"JWTD_PID_FILE", CFG_T_PATH, OFF(pid_file), NULL, 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "`jwtd serve` writes its process id here once listening and removes it at exit; it "
     "refuses to start while the file names another running process; unset = none",
     NULL},
    /* backends */
    {"JWTD_DATABASE_URL", CFG_T_STRING, OFF(database_url), "sqlite:var/jwtd.db", 0, 0, CFG_F_URL,
     NULL, validate_database_url, "user database: sqlite:PATH or postgresql://user:pass@host/db",
     "`sqlite:<JWTD_DATA_DIR>/jwtd.db`"},
    {"JWTD_REDIS_URL", CFG_T_STRING, OFF(redis_url), NULL, 0, 0, CFG_F_URL | CFG_F_OPTIONAL, NULL,
     validate_redis_url,
     "redis://host:port/db (or redis-sentinel://host:port,host:port/MASTERNAME?db=N: the master "
     "is asked of the sentinels and followed across failovers; or "
     "redis-cluster://host:port,host:port: Redis Cluster seed nodes, keys hash-tagged, "
     "MOVED/ASK followed): shared state for several instances; unset = embedded store",
     NULL},
    {"JWTD_REDIS_REQUIRED", CFG_T_BOOL, OFF(redis_required), "false", 0, 0, 0, NULL, NULL,
     "with JWTD_REDIS_URL: /readyz answers 503 while Redis is unreachable", NULL},
    {"JWTD_REDIS_TIMEOUT", CFG_T_DURATION_MS, OFF(redis_timeout_ms), "500ms", 10, 60 * 1000LL, 0,
     NULL, NULL, "Redis connect and command timeout (then: reconnect with backoff)", NULL},
    {"JWTD_REDIS_PREFIX", CFG_T_STRING, OFF(redis_prefix), "jwtd:", 0, 64, 0, NULL, NULL,
     "prefix of every Redis key and channel jwtd uses (several deployments, one Redis)", NULL},
    {"JWTD_REDIS_SENTINEL_PASSWORD_FILE", CFG_T_PATH, OFF(redis_sentinel_password_file), NULL, 0, 0,
     CFG_F_OPTIONAL, NULL, NULL,
     "with redis-sentinel://: file holding the sentinels' password (AUTH to the sentinels; the "
     "master's password stays in the URL); instead of ?sentinel_password= in the URL",
     NULL},
    {"JWTD_USER_CACHE_TTL", CFG_T_DURATION_S, OFF(user_cache_ttl_s), "1h", 0, DAY_S, 0, NULL, NULL,
     "cache tier of user objects (the /me routes): in Redis when JWTD_REDIS_URL is set (shared, "
     "dropped there by the request that changes the user), else in memory (changes through this "
     "jwtd drop it at once, other instances' by the database poll or the TTL); 0 = no cache",
     NULL},
    {"JWTD_POSTS_CACHE_TTL", CFG_T_DURATION_S, OFF(posts_cache_ttl_s), "5m", 0, DAY_S, 0, NULL,
     NULL,
     "cache tier of the post list pages (GET /posts), in Redis when JWTD_REDIS_URL is set; every "
     "post write drops them (on every instance with Redis); 0 = no cache",
     NULL},
    {"JWTD_API_CACHE_TTL", CFG_T_DURATION_S, OFF(api_cache_ttl_s), "1m", 0, DAY_S, 0, NULL, NULL,
     "cache tier of per-user API answers (GET /api/orders/), in Redis when JWTD_REDIS_URL is set; "
     "never past the access token's expiry, dropped by a refresh and by any change to the user; "
     "0 = no cache",
     NULL},
    /* keys and tokens */
    {"JWTD_ALGORITHM", CFG_T_STRING, OFF(algorithm), "HS256", 0, 0, CFG_F_RELOAD, algorithms, NULL,
     "signing algorithm of issued tokens", NULL},
    {"JWTD_SECRET_KEY", CFG_T_SECRET, OFF(secret_key), NULL, 32, 0, CFG_F_OPTIONAL | CFG_F_RELOAD,
     NULL, NULL, "HMAC key, at least 32 bytes",
     "unset (development: generated into `JWTD_DATA_DIR`)"},
    {"JWTD_SECRET_KEY_FILE", CFG_T_PATH, OFF(secret_key_file), NULL, 0, 0,
     CFG_F_OPTIONAL | CFG_F_RELOAD, NULL, NULL,
     "file holding the HMAC key (instead of JWTD_SECRET_KEY)", NULL},
    {"JWTD_SIGNING_KEY_FILE", CFG_T_PATH, OFF(signing_key_file), NULL, 0, 0,
     CFG_F_OPTIONAL | CFG_F_RELOAD, NULL, NULL, "PEM private key for RS/PS/ES/EdDSA", NULL},
    {"JWTD_TRUSTED_JWKS_FILE", CFG_T_PATH, OFF(trusted_jwks_file), NULL, 0, 0,
     CFG_F_OPTIONAL | CFG_F_RELOAD, NULL, NULL,
     "extra public keys whose tokens are accepted (e.g. a Django issuer)", NULL},
    {"JWTD_KEYS_DIR", CFG_T_PATH, OFF(keys_dir), NULL, 0, 0, CFG_F_OPTIONAL | CFG_F_RELOAD, NULL,
     NULL, "key set directory of `jwtd keys` (used when no key variable is set)",
     "`JWTD_DATA_DIR`/keys"},
    {"JWTD_ACCESS_TOKEN_LIFETIME", CFG_T_DURATION_S, OFF(access_token_lifetime_s), "15m", 1,
     30 * DAY_S, CFG_F_RELOAD, NULL, NULL, "lifetime of access tokens", NULL},
    {"JWTD_REFRESH_TOKEN_LIFETIME", CFG_T_DURATION_S, OFF(refresh_token_lifetime_s), "7d", 1,
     3650 * DAY_S, CFG_F_RELOAD, NULL, NULL, "lifetime of refresh tokens", NULL},
    {"JWTD_ROTATE_REFRESH_TOKENS", CFG_T_BOOL, OFF(rotate_refresh_tokens), "true", 0, 0, 0, NULL,
     NULL, "issue a new refresh token on every refresh and retire the old one", NULL},
    {"JWTD_REFRESH_REUSE_GRACE", CFG_T_DURATION_S, OFF(refresh_reuse_grace_s), "10s", 0, 3600, 0,
     NULL, NULL,
     "a rotated refresh token presented again within this window yields the same successor", NULL},
    {"JWTD_LEEWAY", CFG_T_DURATION_S, OFF(leeway_s), "0", 0, 3600, 0, NULL, NULL,
     "clock skew tolerated on exp/nbf/iat", NULL},
    {"JWTD_ISSUER", CFG_T_STRING, OFF(issuer), NULL, 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "iss claim of issued tokens, required on verified ones, and the OpenID Connect issuer "
     "(docs/oidc.md); unset = none (the OpenID Connect issuer is then JWTD_PUBLIC_URL)",
     NULL},
    {"JWTD_AUDIENCE", CFG_T_STRING, OFF(audience), NULL, 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "aud claim of issued tokens, required on verified ones; unset = none", NULL},
    {"JWTD_TOKEN_MESSAGES", CFG_T_ENUM, OFF(token_messages), "distinct", 0, 0, 0, token_messages,
     NULL,
     "token error texts: distinct = \"Token is expired\" / \"Token is invalid\" (SimpleJWT 5.3 "
     "and later), combined = \"Token is invalid or expired\" for both (SimpleJWT 5.2 and earlier)",
     NULL},
    {"JWTD_AUTO_REFRESH_WINDOW", CFG_T_DURATION_S, OFF(auto_refresh_window_s), "5m", 0, 30 * DAY_S,
     0, NULL, NULL, "X-New-Access-Token threshold; 0 disables", NULL},
    /* browser and abuse */
    {"JWTD_CORS_ALLOWED_ORIGINS", CFG_T_STRLIST, OFF(cors_allowed_origins), "", 0, 0, 0, NULL, NULL,
     "comma-separated origins allowed by CORS",
     "`http://localhost:3000,http://127.0.0.1:3000` in development, empty otherwise"},
    {"JWTD_COOKIE_DOMAIN", CFG_T_STRING, OFF(cookie_domain), NULL, 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "Domain attribute of the refresh_token cookie (e.g. example.com); unset = host-only", NULL},
    {"JWTD_REFRESH_COOKIE_PATH", CFG_T_STRING, OFF(refresh_cookie_path), "/api/auth/", 1, 256, 0,
     NULL, validate_cookie_path,
     "Path attribute of the refresh_token cookie: the browser sends the cookie only under it. "
     "`/` also lets auto-refresh (X-New-Access-Token) work on every API route, at the price of "
     "sending the refresh token with every request",
     NULL},
    {"JWTD_COOKIE_SAMESITE", CFG_T_ENUM, OFF(cookie_samesite), "Lax", 0, 0, 0, samesites, NULL,
     "SameSite attribute of the refresh_token cookie: Lax, Strict, or None for a front-end on "
     "another site (None always adds Secure, which browsers require)",
     NULL},
    {"JWTD_SLIDING_SESSION", CFG_T_BOOL, OFF(sliding_session), "false", 0, 0, 0, NULL, NULL,
     "auto-refresh also rotates the refresh cookie, so an active session never expires", NULL},
    {"JWTD_WEB_DIR", CFG_T_PATH, OFF(web_dir), "builtin", 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "web UI served under /app/: `builtin` = the files of web/app/ built into jwtd; a "
     "directory = its files instead (read at start); empty or `off` = no UI",
     NULL},
    {"JWTD_SIGNUP", CFG_T_ENUM, OFF(signup), "open", 0, 0, 0, signups, NULL,
     "who may create an account through POST /auth/register: open = anyone, closed = nobody "
     "(403 signup_closed; administrators use `jwtd user create`), verified = anyone, and the "
     "account signs in once its e-mail address is confirmed (needs JWTD_SMTP_URL outside "
     "development)",
     "`open` in development, `closed` in staging and production"},
    {"JWTD_RESOURCE_ROUTES", CFG_T_BOOL, OFF(resource_routes), "true", 0, 0, 0, NULL, NULL,
     "serve the demo resource API (posts, orders, uploads, users, /protected, "
     "/admin/dashboard); off = they answer 404",
     "`true` in development, `false` in staging and production"},
    {"JWTD_UPLOAD_DIR", CFG_T_PATH, OFF(upload_dir), NULL, 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "where POST /upload stores files (random names; created if missing)",
     "`<JWTD_DATA_DIR>/uploads`"},
    {"JWTD_MAX_UPLOAD_BYTES", CFG_T_SIZE, OFF(max_upload_bytes), "1048576", 1, 1024 * MIB, 0, NULL,
     NULL,
     "largest file POST /upload accepts (413 as soon as it goes over; the streamed body may be "
     "64 KiB more, JWTD_MAX_BODY_BYTES does not apply to it)",
     NULL},
    {"JWTD_RATE_LIMIT_LOGIN", CFG_T_RATE, OFF(rate_limit_login), "5/minute", 0, 0, CFG_F_RELOAD,
     NULL, NULL,
     "login attempts per client IP (per device token for a trusted device); 0 = no login "
     "limit at all (the LOGIN_* budgets below too)",
     NULL},
    {"JWTD_RATE_LIMIT_LOGIN_ACCOUNT", CFG_T_RATE, OFF(rate_limit_login_account), "30/hour", 0, 0,
     CFG_F_RELOAD, NULL, NULL,
     "failed logins per account from clients without its device token, all addresses together "
     "(then only such clients are refused); 0 = unlimited",
     NULL},
    {"JWTD_RATE_LIMIT_LOGIN_ACCOUNT_IP", CFG_T_RATE, OFF(rate_limit_login_account_ip), "5/15m", 0,
     0, CFG_F_RELOAD, NULL, NULL,
     "failed logins per account from one address without its device token; keep it below "
     "JWTD_RATE_LIMIT_LOGIN_ACCOUNT so one address cannot lock the account; 0 = unlimited",
     NULL},
    {"JWTD_RATE_LIMIT_LOGIN_DEVICE", CFG_T_RATE, OFF(rate_limit_login_device), "5/15m", 0, 0,
     CFG_F_RELOAD, NULL, NULL,
     "failed logins per device token (then only that device is refused); 0 = unlimited", NULL},
    {"JWTD_DEVICE_TOKEN_LIFETIME", CFG_T_DURATION_S, OFF(device_token_lifetime_s), "180d", 0,
     3650 * DAY_S, 0, NULL, NULL,
     "lifetime of the device token a successful login earns (the device_token cookie or body "
     "field, docs/security.md); 0 = no device tokens",
     NULL},
    {"JWTD_MFA_REQUIRED_ROLES", CFG_T_STRLIST, OFF(mfa_required_roles), "", 0, 0, 0, NULL,
     validate_roles,
     "roles whose users get tokens only after a second factor (docs/mfa.md), e.g. admin; until "
     "they have one, a password login yields only a token that can enroll one",
     "none"},
    {"JWTD_RATE_LIMIT_ANON", CFG_T_RATE, OFF(rate_limit_anon), "100/hour", 0, 0, CFG_F_RELOAD, NULL,
     NULL, "anonymous requests per client IP; 0 = unlimited", NULL},
    {"JWTD_RATE_LIMIT_USER", CFG_T_RATE, OFF(rate_limit_user), "1000/hour", 0, 0, CFG_F_RELOAD,
     NULL, NULL, "authenticated requests per user; 0 = unlimited", NULL},
    {"JWTD_TRUSTED_PROXIES", CFG_T_CIDR_LIST, OFF(trusted_proxies), "", 0, 0, 0, NULL, NULL,
     "CIDRs whose X-Forwarded-For and X-Forwarded-Proto are believed (e.g. 10.0.0.0/8, ::1)",
     "none"},
    {"JWTD_IP_ALLOWLIST", CFG_T_CIDR_LIST, OFF(ip_allowlist), "", 0, 0, 0, NULL, NULL,
     "only clients in these networks are served (403 otherwise, /healthz exempt); empty = all",
     "none"},
    {"JWTD_ADMIN_IP_ALLOWLIST", CFG_T_CIDR_LIST, OFF(admin_ip_allowlist), "", 0, 0, 0, NULL, NULL,
     "tokens with role admin are accepted only from these networks (403 otherwise); empty = "
     "anywhere",
     "none"},
    {"JWTD_FINGERPRINT_HEADERS", CFG_T_STRLIST, OFF(fingerprint_headers), "", 0, 0, 0, NULL, NULL,
     "request headers hashed into a client fingerprint bound into refresh tokens (claim fph; "
     "a refresh from another client is refused), e.g. User-Agent,Accept-Language; empty = off",
     "none"},
    {"JWTD_FINGERPRINT_ACCESS", CFG_T_BOOL, OFF(fingerprint_access), "false", 0, 0, 0, NULL, NULL,
     "also refuse access tokens whose fingerprint differs from the request's", NULL},
    {"JWTD_ONE_TIME_ROUTES", CFG_T_STRLIST, OFF(one_time_routes), "", 0, 0, 0, NULL, NULL,
     "exact paths (e.g. /upload) where an access token is accepted once: a replayed jti gets "
     "401; empty = none",
     "none"},
    {"JWTD_REFRESH_ANOMALY_WINDOW", CFG_T_DURATION_S, OFF(refresh_anomaly_window_s), "0", 0, DAY_S,
     0, NULL, NULL,
     "a refresh family used from a distant network (see JWTD_REFRESH_ANOMALY_PREFIX) within "
     "this window is revoked as stolen; 0 = off",
     NULL},
    {"JWTD_REFRESH_ANOMALY_PREFIX", CFG_T_UINT, OFF(refresh_anomaly_prefix), "16", 8, 32, 0, NULL,
     NULL, "IPv4 prefix length of 'the same network' for the anomaly rule (IPv6: /48)", NULL},
    {"JWTD_INVALID_TOKEN_LIMIT", CFG_T_RATE, OFF(invalid_token_limit), "5/hour", 0, 0, CFG_F_RELOAD,
     NULL, NULL, "invalid tokens per client IP before it is logged as suspicious; 0 = not counted",
     NULL},
    {"JWTD_INVALID_TOKEN_BLOCK", CFG_T_DURATION_S, OFF(invalid_token_block_s), "0", 0, 7 * DAY_S,
     CFG_F_RELOAD, NULL, NULL, "block a suspicious IP (429) for this long; 0 = log only", NULL},
    /* passwords */
    {"JWTD_ARGON2_MEMORY_KIB", CFG_T_UINT, OFF(argon2_memory_kib), "19456", 8, 4 * MIB, 0, NULL,
     NULL, "argon2id memory cost in KiB (OWASP: 19456)", NULL},
    {"JWTD_ARGON2_ITERATIONS", CFG_T_UINT, OFF(argon2_iterations), "2", 1, 100, 0, NULL, NULL,
     "argon2id time cost", NULL},
    {"JWTD_ARGON2_PARALLELISM", CFG_T_UINT, OFF(argon2_parallelism), "1", 1, 64, 0, NULL, NULL,
     "argon2id lanes", NULL},
    /* HTTP limits and deadlines */
    {"JWTD_MAX_BODY_BYTES", CFG_T_SIZE, OFF(max_body_bytes), "1048576", 1, 1024 * MIB, 0, NULL,
     NULL, "largest buffered request body (not POST /upload); larger gets 413 before it is read",
     NULL},
    {"JWTD_MAX_HEADER_BYTES", CFG_T_SIZE, OFF(max_header_bytes), "16384", 1 * KIB, 1 * MIB, 0, NULL,
     NULL, "request line plus all headers; larger gets 431", NULL},
    {"JWTD_MAX_HEADERS", CFG_T_UINT, OFF(max_headers), "100", 1, 10000, 0, NULL, NULL,
     "number of request headers; more gets 431", NULL},
    {"JWTD_MAX_URL_BYTES", CFG_T_SIZE, OFF(max_url_bytes), "8192", 256, 1 * MIB, 0, NULL, NULL,
     "request target length; longer gets 414", NULL},
    {"JWTD_JSON_MAX_DEPTH", CFG_T_UINT, OFF(json_max_depth), "32", 1, 1024, 0, NULL, NULL,
     "nesting depth of JSON request bodies", NULL},
    {"JWTD_HEADER_TIMEOUT", CFG_T_DURATION_MS, OFF(header_timeout_ms), "10s", 10, 3600 * 1000LL, 0,
     NULL, NULL, "the whole header section must arrive within this (slowloris bound)", NULL},
    {"JWTD_BODY_TIMEOUT", CFG_T_DURATION_MS, OFF(body_timeout_ms), "30s", 10, 3600 * 1000LL, 0,
     NULL, NULL, "the whole body must arrive within this", NULL},
    {"JWTD_RATE_LIMIT_MAIL", CFG_T_RATE, OFF(rate_limit_mail), "5/hour", 0, 0, CFG_F_RELOAD, NULL,
     NULL,
     "mails asked for one e-mail address (verification, reset, sign-in code, e-mail change; "
     "code checks count too), whether or not it has an account; 0 = unlimited",
     NULL},
    {"JWTD_RATE_LIMIT_MAIL_IP", CFG_T_RATE, OFF(rate_limit_mail_ip), "20/hour", 0, 0, CFG_F_RELOAD,
     NULL, NULL, "requests of the mail-sending routes per client IP; 0 = unlimited", NULL},
    {"JWTD_IDLE_TIMEOUT", CFG_T_DURATION_MS, OFF(idle_timeout_ms), "60s", 10, 3600 * 1000LL, 0,
     NULL, NULL, "keep-alive connections idle this long are closed", NULL},
    {"JWTD_SHUTDOWN_TIMEOUT", CFG_T_DURATION_MS, OFF(shutdown_timeout_ms), "10s", 0, 3600 * 1000LL,
     0, NULL, NULL, "graceful shutdown waits at most this for in-flight requests", NULL},
    {"JWTD_MAX_CONNECTIONS", CFG_T_UINT, OFF(max_connections), "65536", 1, 10000000, 0, NULL, NULL,
     "open client connections per process", NULL},
    {"JWTD_POOL_THREADS", CFG_T_UINT, OFF(pool_threads), "0", 0, 1024, 0, NULL, NULL,
     "blocking-work pool threads (database calls, files); 0 = auto: the number of cores on SQLite, "
     "4 per core (8 to 32) on PostgreSQL",
     NULL},
    {"JWTD_POOL_QUEUE_MAX", CFG_T_UINT, OFF(pool_queue_max), "1024", 1, 1000000, 0, NULL, NULL,
     "queued blocking jobs before requests get 503", NULL},
    {"JWTD_SLOW_REQUEST", CFG_T_DURATION_MS, OFF(slow_request_ms), "500ms", 0, 3600 * 1000LL, 0,
     NULL, NULL,
     "requests slower than this are logged as event=slow_request (performance log) and "
     "counted in jwtd_slow_requests_total; 0 disables",
     NULL},
    {"JWTD_FEED_KEEPALIVE", CFG_T_DURATION_MS, OFF(feed_keepalive_ms), "15s", 100, 3600 * 1000LL, 0,
     NULL, NULL,
     "a revocation stream (GET /auth/revocations/stream) with nothing to send writes a "
     "\": keepalive\" comment this often, so that proxies keep it open and verifiers can tell "
     "a silent connection from a live one (the helpers reconnect after 40 s of silence)",
     NULL},
    /* behind a proxy */
    {"JWTD_PUBLIC_URL", CFG_T_STRING, OFF(public_url), NULL, 0, 0, CFG_F_URL | CFG_F_OPTIONAL, NULL,
     validate_public_url,
     "external base URL of jwtd, e.g. https://auth.example.com (a trailing slash is dropped): "
     "URLs jwtd generates use it, never the Host header; https:// also makes every answer "
     "https for the Secure cookie and HSTS; unset = from the request (logged as a warning in "
     "staging and production)",
     "unset"},
    /* e-mail */
    {"JWTD_SMTP_URL", CFG_T_STRING, OFF(smtp_url), NULL, 0, 0, CFG_F_URL | CFG_F_OPTIONAL, NULL,
     validate_smtp_url,
     "mail server: smtp://[user:password@]host[:port] (STARTTLS when the server offers it; "
     "add ?tls=required to refuse plain text) or smtps://host[:port] (TLS from the start); "
     "unset = no mail: .eml files in <JWTD_DATA_DIR>/mail in development, the e-mail routes "
     "answer 503 elsewhere",
     "unset"},
    {"JWTD_SMTP_PASSWORD_FILE", CFG_T_PATH, OFF(smtp_password_file), NULL, 0, 0, CFG_F_OPTIONAL,
     NULL, NULL, "file holding the SMTP password (instead of one in JWTD_SMTP_URL)", NULL},
    {"JWTD_SMTP_CA_FILE", CFG_T_PATH, OFF(smtp_ca_file), NULL, 0, 0, CFG_F_OPTIONAL, NULL, NULL,
     "PEM file of the certificate authorities trusted for the mail server's TLS certificate "
     "(STARTTLS or smtps://); the certificate and its host name are always verified",
     "the system's trust store"},
    {"JWTD_MAIL_FROM", CFG_T_STRING, OFF(mail_from), "jwtd <noreply@localhost>", 0, 0, 0, NULL,
     validate_mail_from,
     "sender of the mails: `Name <address>` or `address` (required with JWTD_SMTP_URL outside "
     "development)",
     NULL},
    {"JWTD_MAIL_TEMPLATES_DIR", CFG_T_PATH, OFF(mail_templates_dir), NULL, 0, 0, CFG_F_OPTIONAL,
     NULL, NULL,
     "directory whose <kind>.subject, <kind>.txt and <kind>.html files replace the built-in "
     "mail templates (kinds: verify, reset, email_change, otp, password_changed); read at start",
     "built in"},
    {"JWTD_EMAIL_LINK_LIFETIME", CFG_T_DURATION_S, OFF(email_link_lifetime_s), "30m", 60, 7 * DAY_S,
     0, NULL, NULL,
     "lifetime of e-mailed links (verification, reset, e-mail change; sign-in codes live 10m)",
     NULL},
    {"JWTD_MAIL_RETRY", CFG_T_DURATION_S, OFF(mail_retry_s), "30s", 1, 3600, 0, NULL, NULL,
     "delay before a failed mail is tried again, doubled after each failure (at most 120 "
     "times this); after 10 attempts the mail is given up",
     NULL},
    {"JWTD_HSTS_MAX_AGE", CFG_T_DURATION_S, OFF(hsts_max_age_s), "0", 0, 3650 * DAY_S, 0, NULL,
     NULL,
     "max-age of Strict-Transport-Security, sent only on answers known to be https "
     "(JWTD_PUBLIC_URL https://, or X-Forwarded-Proto: https from a JWTD_TRUSTED_PROXIES peer); "
     "0 = no header",
     "`365d` in production, `0` otherwise"},
    {"JWTD_HSTS_INCLUDE_SUBDOMAINS", CFG_T_BOOL, OFF(hsts_include_subdomains), "false", 0, 0, 0,
     NULL, NULL, "add includeSubDomains to Strict-Transport-Security", NULL},
    {"JWTD_HSTS_PRELOAD", CFG_T_BOOL, OFF(hsts_preload), "false", 0, 0, 0, NULL, NULL,
     "add preload to Strict-Transport-Security; needs JWTD_HSTS_INCLUDE_SUBDOMAINS=true and "
     "JWTD_HSTS_MAX_AGE of at least 365d (refused otherwise)",
     NULL},
    {"JWTD_ROUTE_ALIASES", CFG_T_STRLIST, OFF(route_aliases), "", 0, 0, 0, NULL,
     validate_route_alias,
     "more paths for existing routes, comma-separated: ALIAS=TARGET (one path; answered with "
     "and without its trailing slash) or ALIAS/*=TARGET/* (every route below TARGET/), e.g. "
     "/login/simpleJWT/=/api/token/; an alias behaves exactly like its target (hooks, rate "
     "limits, metrics); an unknown target refuses to start",
     "none"},
    {"JWTD_METRICS_LISTEN", CFG_T_STRING, OFF(metrics_listen), NULL, 0, 0, CFG_F_OPTIONAL, NULL,
     validate_listen,
     "address:port of a second listener that alone serves GET /metrics (the public listener "
     "then answers 404 there); unset = /metrics on JWTD_LISTEN",
     NULL},
    {"JWTD_AUDIT_RETENTION", CFG_T_DURATION_S, OFF(audit_retention_s), "90d", 0, 3650 * DAY_S, 0,
     NULL, NULL,
     "audit records are also stored in the database table audit_log and deleted once older "
     "than this; 0 = not stored (auth.log only)",
     NULL},
    {"JWTD_OIDC_PROVIDERS", CFG_T_STRLIST, OFF(oidc_providers), "", 0, 0, 0, NULL,
     validate_oidc_name,
     "names of the OpenID Connect providers users may sign in with (\"Sign in with ...\"); "
     "each is configured by the JWTD_OIDC_<NAME>_* variables below; empty = none",
     "none"},
    {"JWTD_OIDC_LINK_BY_EMAIL", CFG_T_BOOL, OFF(oidc_link_by_email), "true", 0, 0, 0, NULL, NULL,
     "a first sign-in through a provider that says the e-mail is verified (email_verified) "
     "signs into the local account with that e-mail and links it; false = such a sign-in is "
     "refused (account_exists) while the e-mail belongs to an account",
     NULL},
    /* passkeys (WebAuthn) */
    {"JWTD_WEBAUTHN_RP_ID", CFG_T_STRING, OFF(webauthn_rp_id), NULL, 1, 253, CFG_F_OPTIONAL, NULL,
     NULL,
     "WebAuthn relying party id: the domain passkeys are bound to (e.g. example.com); unset = "
     "the host of JWTD_PUBLIC_URL, or passkeys off when that is unset too",
     "the host of JWTD_PUBLIC_URL"},
    {"JWTD_WEBAUTHN_RP_NAME", CFG_T_STRING, OFF(webauthn_rp_name), "jwtd", 1, 64, 0, NULL, NULL,
     "relying party name the browser shows when a passkey is created", NULL},
    {"JWTD_WEBAUTHN_ORIGINS", CFG_T_STRLIST, OFF(webauthn_origins), "", 0, 0, 0, NULL, NULL,
     "comma-separated origins whose pages may use passkeys (clientDataJSON origin, exact "
     "match)",
     "the origin of JWTD_PUBLIC_URL, else https://<JWTD_WEBAUTHN_RP_ID>"},
    {"JWTD_WEBAUTHN_USER_VERIFICATION", CFG_T_ENUM, OFF(webauthn_uv), "preferred", 0, 0, 0,
     webauthn_uvs, NULL,
     "user verification (PIN, biometrics) asked of authenticators: required = an assertion or "
     "registration without it is refused; preferred = asked, not enforced",
     NULL},
    {"JWTD_WEBAUTHN_TIMEOUT", CFG_T_DURATION_S, OFF(webauthn_timeout_s), "5m", 30, 3600, 0, NULL,
     NULL,
     "how long a passkey ceremony may take: the browser's timeout and the life of its "
     "single-use challenge",
     NULL},
};

const size_t cfg_rows_count = sizeof cfg_rows / sizeof cfg_rows[0];

_Static_assert(sizeof cfg_rows / sizeof cfg_rows[0] <= CFG_MAX_ROWS,
               "raise CFG_MAX_ROWS in config.h");

/*
 * Variables our own test, bench and run scripts set, which are not configuration (no
 * unknown-variable warning). Names starting with JWTD_TEST_ are skipped as well.
 */
const char *const cfg_env_ignored[] = {"JWTD_SRC_ROOT", "JWTD_BIN", "JWTD_BIN_DIR",
                                       "JWTD_TEST_ROUTES", NULL};

/*
 * finish.c - the last step of loading, once every source has been applied: defaults that
 * depend on other variables (JWTD_ENVIRONMENT decides the development CORS origins and the
 * data directory, closes self-registration and the demo resource routes outside development
 * and turns HSTS on in production; the data directory decides where the default SQLite
 * database and the upload directory are), the public URL's trailing slash dropped, checks
 * across variables (HSTS preload, duplicate route aliases), and the warnings queued while
 * loading, which are logged here because only now is JWTD_LOG_LEVEL known.
 *
 * Not here: anything about one variable on its own - its syntax and bounds are its type's
 * (types.c) and its row's (table.c), checked as it is set (apply.c).
 */
#include "config/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "config"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

#define CFG_DEV_CORS_ORIGINS "http://localhost:3000,http://127.0.0.1:3000"
#define CFG_SERVER_DATA_DIR  "/var/lib/jwtd"

/* --- warnings --------------------------------------------------------------------------- */

/* See table.h. */
void cfg__warn_later(struct cfg *cfg, const char *fmt, ...)
{
    va_list ap;
    if (!cfg->_warnings) {
        cfg->_warnings = xmalloc(sizeof(buf_t));
        buf_init(cfg->_warnings, 64 * 1024); /* beyond that, warnings are dropped */
    }
    va_start(ap, fmt);
    if (buf_vprintf(cfg->_warnings, fmt, ap) == 0)
        buf_append_char(cfg->_warnings, '\n');
    va_end(ap);
}

/* See table.h. */
void cfg__warnings_dispose(struct cfg *cfg)
{
    if (cfg->_warnings) {
        buf_dispose(cfg->_warnings);
        free(cfg->_warnings);
        cfg->_warnings = NULL;
    }
}

/* Logs the queued warnings one line each, if JWTD_LOG_LEVEL lets warnings through. */
static void warnings_flush(struct cfg *cfg)
{
    enum log_level level = LOG_INFO;
    buf_t *w = cfg->_warnings;
    if (cfg->log_level)
        log_level_parse(cfg->log_level, &level);
    if (w && w->len && level <= LOG_WARN) {
        str_t rest = buf_str(w);
        while (rest.len) {
            const char *nl = memchr(rest.ptr, '\n', rest.len);
            size_t n = nl ? (size_t)(nl - rest.ptr) : rest.len;
            log_warn("%.*s", (int)n, rest.ptr);
            rest.ptr += n + (nl ? 1 : 0);
            rest.len -= n + (nl ? 1 : 0);
        }
    }
    cfg__warnings_dispose(cfg);
}

/* --- finishing -------------------------------------------------------------------------- */

/* Sets row name to value when no source set it (the default of another environment). */
static int env_default(struct cfg *cfg, const char *name, const char *value, char *err, size_t cap)
{
    int i = cfg__row_find(str_cstr(name));
    if (i < 0 || cfg->_source[i] != CFG_SRC_DEFAULT)
        return 0;
    return cfg__set_row(cfg, (size_t)i, str_cstr(value), CFG_SRC_DEFAULT, "default of ", err, cap);
}

/* The defaults that JWTD_ENVIRONMENT decides (table.c documents them through def_doc). */
static int environment_defaults(struct cfg *cfg, char *err, size_t cap)
{
    int rc = 0;
    if (cfg->environment == CFG_ENV_DEVELOPMENT) {
        if (cfg->cors_allowed_origins.count == 0)
            rc = env_default(cfg, "CORS_ALLOWED_ORIGINS", CFG_DEV_CORS_ORIGINS, err, cap);
        return rc;
    }
    /* staging and production start closed: no self-registration, no demo routes; their
       state lives where a service's does, whatever the working directory */
    if ((rc = env_default(cfg, "SIGNUP", "closed", err, cap)) != 0 ||
        (rc = env_default(cfg, "RESOURCE_ROUTES", "false", err, cap)) != 0)
        return rc;
    if (cfg->environment == CFG_ENV_PRODUCTION &&
        (rc = env_default(cfg, "HSTS_MAX_AGE", "365d", err, cap)) != 0)
        return rc;
    return env_default(cfg, "DATA_DIR", CFG_SERVER_DATA_DIR, err, cap);
}

/*
 * The paths inside the data directory (table.c documents them through def_doc): the SQLite
 * database <data dir>/jwtd.db unless JWTD_DATABASE_URL is set, and the upload directory
 * <data dir>/uploads unless JWTD_UPLOAD_DIR is set to a path (empty means this default).
 */
static int data_dir_defaults(struct cfg *cfg, char *err, size_t cap)
{
    if (!cfg->data_dir)
        return 0;
    size_t n = strlen(cfg->data_dir);
    while (n > 1 && cfg->data_dir[n - 1] == '/')
        n--;
    const char *sep = n == 1 && cfg->data_dir[0] == '/' ? "" : "/";
    int db = cfg__row_find(str_cstr("DATABASE_URL"));
    int up = cfg__row_find(str_cstr("UPLOAD_DIR"));
    int rc = 0;
    buf_t v;
    buf_init(&v, n + 32); /* room for either value */
    if (db >= 0 && cfg->_source[db] == CFG_SRC_DEFAULT) {
        if (memchr(cfg->data_dir, '?', n)) {
            cfg__errf(err, cap, NULL, NULL,
                      "JWTD_DATA_DIR contains '?', which cannot be part of the default "
                      "database URL; set JWTD_DATABASE_URL");
            rc = ERR_CONFIG;
        } else {
            /* sqlite:///abs/path for an absolute directory, sqlite:rel/path otherwise */
            buf_printf(&v, "sqlite:%s%.*s%sjwtd.db", cfg->data_dir[0] == '/' ? "//" : "", (int)n,
                       cfg->data_dir, sep);
            rc = cfg__set_row(cfg, (size_t)db, buf_str(&v), CFG_SRC_DEFAULT, "default of ", err,
                              cap);
        }
    }
    if (rc == 0 && up >= 0 && !cfg->upload_dir) {
        buf_reset(&v);
        buf_printf(&v, "%.*s%suploads", (int)n, cfg->data_dir, sep);
        rc = cfg__set_row(cfg, (size_t)up, buf_str(&v), CFG_SRC_DEFAULT, "default of ", err, cap);
    }
    buf_dispose(&v);
    return rc;
}

/* JWTD_PUBLIC_URL without its trailing slashes (it was validated when set). */
static void public_url_normalise(struct cfg *cfg)
{
    size_t len;
    bool https;
    char why[160];
    if (cfg->public_url &&
        cfg_parse_public_url(str_cstr(cfg->public_url), &len, &https, why, sizeof why) == 0)
        cfg->public_url[len] = '\0';
}

/*
 * Passkeys' defaults (table.c documents them): the relying party id is the host of
 * JWTD_PUBLIC_URL, and the origins the public URL's origin, else https://<rp id>.
 */
static int webauthn_defaults(struct cfg *cfg, char *err, size_t cap)
{
    int id = cfg__row_find(str_cstr("WEBAUTHN_RP_ID"));
    int org = cfg__row_find(str_cstr("WEBAUTHN_ORIGINS"));
    int rc = 0;
    const char *pu = cfg->public_url;
    const char *host = pu ? strstr(pu, "://") : NULL;
    if (host)
        host += 3;
    size_t host_len = host ? strcspn(host, ":/") : 0;
    size_t origin_len = host ? (size_t)(host - pu) + strcspn(host, "/") : 0;
    buf_t v;
    buf_init(&v, 600);
    if (id >= 0 && !cfg->webauthn_rp_id && host_len > 0) {
        buf_append(&v, host, host_len);
        rc = cfg__set_row(cfg, (size_t)id, buf_str(&v), CFG_SRC_DEFAULT, "default of ", err, cap);
    }
    if (rc == 0 && org >= 0 && cfg->webauthn_origins.count == 0 && cfg->webauthn_rp_id) {
        buf_reset(&v);
        if (origin_len > 0)
            buf_append(&v, pu, origin_len);
        else
            buf_printf(&v, "https://%s", cfg->webauthn_rp_id);
        rc = cfg__set_row(cfg, (size_t)org, buf_str(&v), CFG_SRC_DEFAULT, "default of ", err, cap);
    }
    buf_dispose(&v);
    return rc;
}

/* Browsers' preload list requires includeSubDomains and at least a year (hstspreload.org). */
#define HSTS_PRELOAD_MIN_S 31536000

static int hsts_check(struct cfg *cfg, char *err, size_t cap)
{
    if (cfg->hsts_preload &&
        (!cfg->hsts_include_subdomains || cfg->hsts_max_age_s < HSTS_PRELOAD_MIN_S)) {
        cfg__errf(err, cap, NULL, NULL,
                  "JWTD_HSTS_PRELOAD=true needs JWTD_HSTS_INCLUDE_SUBDOMAINS=true and "
                  "JWTD_HSTS_MAX_AGE of at least 365d (31536000 s); got includeSubDomains=%s, "
                  "max-age=%lld",
                  cfg->hsts_include_subdomains ? "true" : "false", (long long)cfg->hsts_max_age_s);
        return ERR_CONFIG;
    }
    if (cfg->hsts_include_subdomains && cfg->hsts_max_age_s == 0)
        cfg__warn_later(cfg, "msg=\"JWTD_HSTS_INCLUDE_SUBDOMAINS has no effect while "
                             "JWTD_HSTS_MAX_AGE is 0 (no Strict-Transport-Security header)\"");
    return 0;
}

/* An alias path compared as the router answers it: with and without its trailing slash. */
static str_t alias_key(const cfg_route_alias_t *a)
{
    str_t p = a->alias;
    if (!a->prefix && p.len > 1 && p.ptr[p.len - 1] == '/')
        p.len--;
    return p;
}

/* Two items of JWTD_ROUTE_ALIASES for the same path (each item was validated when set). */
static int route_aliases_check(const struct cfg *cfg, char *err, size_t cap)
{
    const cfg_strlist_t *l = &cfg->route_aliases;
    char why[160];
    for (size_t i = 0; i < l->count; i++) {
        cfg_route_alias_t a;
        if (cfg_parse_route_alias(str_cstr(l->items[i]), &a, why, sizeof why) != 0)
            continue;
        for (size_t j = 0; j < i; j++) {
            cfg_route_alias_t b;
            if (cfg_parse_route_alias(str_cstr(l->items[j]), &b, why, sizeof why) != 0 ||
                a.prefix != b.prefix || !str_eq(alias_key(&a), alias_key(&b)))
                continue;
            cfg__errf(err, cap, NULL, NULL,
                      "JWTD_ROUTE_ALIASES: duplicate alias path %.*s (items %zu and %zu)",
                      STR_FMT(a.alias), j + 1, i + 1);
            return ERR_CONFIG;
        }
    }
    return 0;
}

/*
 * E-mail outside development: no pretending. Without JWTD_SMTP_URL the e-mail routes answer
 * 503, so a sign-up that needs a confirmed address cannot work and is refused here; with it,
 * links need the public URL and mail a sender of its own.
 */
static int mail_check(const struct cfg *cfg, char *err, size_t cap)
{
    if (cfg->environment == CFG_ENV_DEVELOPMENT)
        return 0;
    bool smtp = cfg->smtp_url && *cfg->smtp_url;
    if (cfg->signup == CFG_SIGNUP_VERIFIED && !smtp) {
        cfg__errf(err, cap, NULL, NULL,
                  "JWTD_SIGNUP=verified needs JWTD_SMTP_URL outside development (the "
                  "confirmation mail could not be sent)");
        return ERR_CONFIG;
    }
    if (smtp && !cfg->public_url) {
        cfg__errf(err, cap, NULL, NULL,
                  "JWTD_SMTP_URL needs JWTD_PUBLIC_URL outside development (the links of "
                  "the mails point to it)");
        return ERR_CONFIG;
    }
    int from = cfg__row_find(str_cstr("MAIL_FROM"));
    if (smtp && from >= 0 && cfg->_source[from] == CFG_SRC_DEFAULT) {
        cfg__errf(err, cap, NULL, NULL,
                  "JWTD_SMTP_URL needs JWTD_MAIL_FROM outside development (the sender of "
                  "the mails)");
        return ERR_CONFIG;
    }
    return 0;
}

/* See config.h. */
int cfg_finish(struct cfg *cfg, char *err, size_t cap)
{
    int rc = environment_defaults(cfg, err, cap);
    if (rc == 0)
        rc = data_dir_defaults(cfg, err, cap);
    if (rc != 0)
        return rc;
    if (cfg->secret_key && cfg->secret_key_file) {
        cfg__errf(err, cap, NULL, NULL,
                  "JWTD_SECRET_KEY and JWTD_SECRET_KEY_FILE are both set; set only one");
        return ERR_CONFIG;
    }
    public_url_normalise(cfg);
    if ((rc = webauthn_defaults(cfg, err, cap)) != 0)
        return rc;
    if ((rc = hsts_check(cfg, err, cap)) != 0 || (rc = route_aliases_check(cfg, err, cap)) != 0)
        return rc;
    if ((rc = cfg__oidc_finish(cfg, err, cap)) != 0)
        return rc;
    if ((rc = mail_check(cfg, err, cap)) != 0)
        return rc;
    warnings_flush(cfg);
    return 0;
}

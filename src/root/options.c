/*
 * options.c - the configuration turned into each module's options (root_options_t): the
 * only code that maps configuration fields to what the modules take. Strings and lists
 * point into the configuration, which lives as long as the root.
 */
#define LOG_MODULE "root"
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "db/db.h"
#include "root/root.h"

static auth_rate_t rate(cfg_rate_t r)
{
    return (auth_rate_t){r.count, r.period_s};
}

static void auth_opts(const struct cfg *c, auth_options_t *o)
{
    auth_options_defaults(o);
    o->access_lifetime_s = c->access_token_lifetime_s;
    o->refresh_lifetime_s = c->refresh_token_lifetime_s;
    o->rotate_refresh_tokens = c->rotate_refresh_tokens;
    o->reuse_grace_s = c->refresh_reuse_grace_s;
    o->leeway_s = c->leeway_s;
    o->issuer = c->issuer;
    o->audience = c->audience;
    o->argon2.memory_kib = c->argon2_memory_kib;
    o->argon2.iterations = c->argon2_iterations;
    o->argon2.parallelism = c->argon2_parallelism;
    o->user_cache_ttl_s = c->user_cache_ttl_s;
    o->hash_dummy = false; /* serving turns it on */
    o->guard.login = rate(c->rate_limit_login);
    o->guard.login_account = rate(c->rate_limit_login_account);
    o->guard.login_account_ip = rate(c->rate_limit_login_account_ip);
    o->guard.login_device = rate(c->rate_limit_login_device);
    o->device_token_lifetime_s = c->device_token_lifetime_s;
    o->mfa_required_roles = 0;
    for (size_t i = 0; i < c->mfa_required_roles.count; i++) {
        enum db_role role;
        const char *name = c->mfa_required_roles.items[i];
        if (db_role_parse(name, strlen(name), &role) == 0)
            o->mfa_required_roles |= 1u << role;
    }
    o->guard.anon = rate(c->rate_limit_anon);
    o->guard.user = rate(c->rate_limit_user);
    o->guard.invalid_token = rate(c->invalid_token_limit);
    o->guard.invalid_block_s = (uint32_t)c->invalid_token_block_s;
    o->signup_closed = c->signup == CFG_SIGNUP_CLOSED;
    o->signup_verified = c->signup == CFG_SIGNUP_VERIFIED;
    o->guard.mail_address = rate(c->rate_limit_mail);
    o->guard.mail_ip = rate(c->rate_limit_mail_ip);
    /* mail: SMTP when configured; .eml files in development; else none (503) */
    bool smtp = c->smtp_url && *c->smtp_url;
    o->mail.enabled = smtp || c->environment == CFG_ENV_DEVELOPMENT;
    o->mail.smtp_url = smtp ? c->smtp_url : NULL;
    o->mail.smtp_ca_file = c->smtp_ca_file;
    o->mail.from = c->mail_from;
    o->mail.templates_dir = c->mail_templates_dir;
    o->mail.link_lifetime_s = c->email_link_lifetime_s;
    o->mail.code_lifetime_s = 600;
    o->mail.retry_base_s = c->mail_retry_s;
    /* smtp_password (the file's), spool_dir, link_base and site_name: root__mail_paths */
    o->webauthn_rp_id = c->webauthn_rp_id;
    o->webauthn_rp_name = c->webauthn_rp_name;
    o->webauthn_origins = c->webauthn_origins.items;
    o->webauthn_origin_count = c->webauthn_origins.count;
    o->webauthn_require_uv = c->webauthn_uv == CFG_WEBAUTHN_UV_REQUIRED;
    o->webauthn_timeout_s = (uint32_t)c->webauthn_timeout_s;
}

/* The cores this process may run on (its affinity mask), as the server counts them. */
static uint32_t cpu_cores(void)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0)
        return (uint32_t)CPU_COUNT(&allowed);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

static void http_opts(const struct cfg *c, struct http_options *o)
{
    http_options_defaults(o);
    o->workers = c->workers > 0 ? (uint32_t)c->workers : 0;
    o->affinity = (enum http_affinity)c->worker_affinity;
    o->max_header_bytes = c->max_header_bytes;
    o->max_headers = c->max_headers;
    o->max_url_bytes = c->max_url_bytes;
    o->max_body_bytes = c->max_body_bytes;
    o->json_max_depth = c->json_max_depth;
    o->header_timeout_ms = (uint64_t)c->header_timeout_ms;
    o->body_timeout_ms = (uint64_t)c->body_timeout_ms;
    o->idle_timeout_ms = (uint64_t)c->idle_timeout_ms;
    o->shutdown_timeout_ms = (uint64_t)c->shutdown_timeout_ms;
    o->max_connections = c->max_connections;
    o->pool_threads = c->pool_threads;
    if (o->pool_threads == 0) /* auto: what the database's calls need (db.h) */
        o->pool_threads = db_pool_threads_for(c->database_url, cpu_cores());
    o->pool_queue_max = c->pool_queue_max;
    o->trusted_proxies = &c->trusted_proxies;
}

static void api_opts(const struct cfg *c, api_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->issuer_from_host = c->environment == CFG_ENV_DEVELOPMENT;
    o->secure_cookie = c->environment != CFG_ENV_DEVELOPMENT;
    o->hsts_max_age_s = c->hsts_max_age_s;
    o->hsts_include_subdomains = c->hsts_include_subdomains;
    o->hsts_preload = c->hsts_preload;
    o->public_url = c->public_url;
    o->cookie_domain = c->cookie_domain;
    o->cookie_path = c->refresh_cookie_path;
    o->cookie_samesite = c->cookie_samesite == CFG_SAMESITE_NONE     ? "None"
                         : c->cookie_samesite == CFG_SAMESITE_STRICT ? "Strict"
                                                                     : "Lax";
    o->combined_token_messages = c->token_messages == CFG_TOKEN_MESSAGES_COMBINED;
    o->refresh_lifetime_s = c->refresh_token_lifetime_s;
    o->device_token_lifetime_s = c->device_token_lifetime_s;
    o->auto_refresh_window_s = c->auto_refresh_window_s;
    o->sliding_session = c->sliding_session;
    o->cors_origins = c->cors_allowed_origins.items;
    o->cors_origin_count = c->cors_allowed_origins.count;
    o->fingerprint_headers = c->fingerprint_headers.items;
    o->fingerprint_header_count = c->fingerprint_headers.count;
    o->fingerprint_access = c->fingerprint_access;
    o->refresh_anomaly_window_s = (uint32_t)c->refresh_anomaly_window_s;
    o->refresh_anomaly_prefix = c->refresh_anomaly_prefix;
    o->ip_allowlist = &c->ip_allowlist;
    o->admin_ip_allowlist = &c->admin_ip_allowlist;
    o->one_time_routes = c->one_time_routes.items;
    o->one_time_route_count = c->one_time_routes.count;
    o->access_lifetime_s = c->access_token_lifetime_s;
    o->revocations_window_s = c->access_token_lifetime_s;
    o->slow_request_ms = (uint64_t)c->slow_request_ms;
    o->feed_keepalive_ms = (uint64_t)c->feed_keepalive_ms;
    o->redis_required = c->redis_required;
    o->metrics_apart = c->metrics_listen && *c->metrics_listen;
    /* JWTD_WEB_DIR: builtin (the default), empty or off = no UI, else a directory */
    if (!c->web_dir || strcmp(c->web_dir, "off") == 0)
        o->web = API_WEB_NONE;
    else if (strcmp(c->web_dir, "builtin") == 0)
        o->web = API_WEB_BUILTIN;
    else
        o->web = API_WEB_DIR;
    o->web_dir = o->web == API_WEB_DIR ? c->web_dir : NULL;
    o->issuer = c->issuer;
}

/* See root.h. */
/* The mail's strings that are derived from other settings: the spool directory, the base
   of the links (the public URL; else the listening address, development only) and the
   site's name in the templates. */
static void mail_paths(root_t *r)
{
    const struct cfg *c = r->_cfg;
    auth_mail_options_t *m = &r->opt.auth.mail;
    snprintf(r->_mail_spool, sizeof r->_mail_spool, "%s/mail", r->opt.data_dir);
    if (c->public_url)
        snprintf(r->_mail_link_base, sizeof r->_mail_link_base, "%s", c->public_url);
    else
        snprintf(r->_mail_link_base, sizeof r->_mail_link_base, "http://%s", r->opt.listen);
    const char *host = strstr(r->_mail_link_base, "://");
    host = host ? host + 3 : r->_mail_link_base;
    size_t n = strcspn(host, "/");
    snprintf(r->_mail_site, sizeof r->_mail_site, "%.*s", (int)n, host);
    m->spool_dir = m->smtp_url ? NULL : r->_mail_spool;
    m->link_base = r->_mail_link_base;
    m->site_name = r->_mail_site;
    m->smtp_password = r->_mail_password;
}

void root__options(root_t *r)
{
    const struct cfg *c = r->_cfg;
    root_options_t *o = &r->opt;
    memset(o, 0, sizeof *o);
    o->environment = (enum root_environment)c->environment;
    o->data_dir = c->data_dir ? c->data_dir : "var";
    o->log_dir = c->log_dir && *c->log_dir ? c->log_dir : NULL;
    o->pid_file = c->pid_file && *c->pid_file ? c->pid_file : NULL;
    o->log_json = c->log_format && strcmp(c->log_format, "json") == 0;
    o->log_buffer_bytes = c->log_buffer_bytes;
    o->log_flush_ms = c->log_flush_ms;
    o->algorithm = c->algorithm ? c->algorithm : "HS256";
    o->database_url = c->database_url;
    o->db.max_connections = 2;
    o->redis = c->redis_url != NULL;
    o->redis_opt.url = c->redis_url;
    o->redis_opt.prefix = c->redis_prefix;
    o->redis_opt.sentinel_password_file = c->redis_sentinel_password_file;
    o->redis_opt.timeout_ms = (uint32_t)c->redis_timeout_ms;
    auth_opts(c, &o->auth);
    o->listen = c->listen ? c->listen : "127.0.0.1:8000";
    o->metrics_listen = c->metrics_listen && *c->metrics_listen ? c->metrics_listen : NULL;
    o->audit_retention_s = c->audit_retention_s;
    http_opts(c, &o->http);
    api_opts(c, &o->api);
    o->resource_routes = c->resource_routes;
    o->route_aliases = c->route_aliases.items;
    o->route_alias_count = c->route_aliases.count;
    o->resource.upload_dir = c->upload_dir; /* <data dir>/uploads unless set (cfg_finish) */
    root__keys_dir(c, r->_keys_dir, sizeof r->_keys_dir);
    o->resource.max_upload_bytes = c->max_upload_bytes;
    mail_paths(r);
    o->resource.posts_cache_ttl_s = (uint32_t)c->posts_cache_ttl_s;
    o->resource.api_cache_ttl_s = (uint32_t)c->api_cache_ttl_s;
}

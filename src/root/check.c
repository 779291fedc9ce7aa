/*
 * check.c - `jwtd check`, like `nginx -t`: would `jwtd serve` start with this configuration?
 * Each check prints one line ("NAME: ok (details)" or "NAME: <problem>") and the checks after
 * the configuration are independent, so one run names every problem. Nothing here creates or
 * writes a file: the keys are loaded without generating any, the database is opened
 * read-only and its schema version read without migrating, Redis only answers a PING, the
 * mail server is connected to (TLS, AUTH) and hung up on without a mail.
 */
#define LOG_MODULE "check"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/oauth.h"
#include "common/err.h"
#include "config/config.h"
#include "jose/jose.h"
#include "root/root.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"
#include "runtime/log.h"

/* Redis answers a PING within this bound or is reported unreachable. */
#define CHECK_REDIS_TIMEOUT_MS 1000

/* Prints "name: ok (detail)" or "name: problem" and counts the problems. */
static void report(FILE *out, int *problems, const char *name, bool ok, const char *text)
{
    if (ok)
        fprintf(out, "%s: ok%s%s%s\n", name, text[0] ? " (" : "", text, text[0] ? ")" : "");
    else
        fprintf(out, "%s: %s\n", name, text);
    if (!ok)
        (*problems)++;
}

/* OUT: alg, the signing algorithm ("" when the keys do not load). */
static void check_keys(const root_t *r, FILE *out, int *problems, char *alg, size_t alg_cap)
{
    char msg[1024];
    int rc = root__keys_check(r->_cfg, msg, sizeof msg, alg, alg_cap);
    report(out, problems, "keys", rc == 0 || rc == ERR_NOT_FOUND, msg);
}

/* OpenID Connect clients with an HMAC signing key: serve refuses to start (root.c). */
static void check_clients(const root_t *r, const char *alg, FILE *out, int *problems)
{
    char msg[512];
    const jose_alg_t *a = jose_alg_by_name(str_cstr(alg));
    int64_t n = 0;
    int version = 0;
    if (!r->db || !a) {
        report(out, problems, "clients", true,
               !r->db ? "not checked: no database" : "not checked: no signing key");
        return;
    }
    if (auth_oauth_client_count(r->db, &n) != 0) {
        /* a schema from before the provider has no client table: serve migrates first */
        bool older = db_schema_version(r->db, &version) == 0 && version < db_schema_latest();
        report(out, problems, "clients", older,
               older ? "none (migrations pending)" : "cannot count the OAuth clients");
        return;
    }
    bool ok = n == 0 || a->family != JOSE_FAMILY_HMAC;
    if (ok)
        snprintf(msg, sizeof msg, "%lld OpenID Connect client%s", (long long)n, n == 1 ? "" : "s");
    else
        root__oauth_key_problem(a->name, msg, sizeof msg);
    report(out, problems, "clients", ok, msg);
}

static void check_logs(const root_t *r, FILE *out, int *problems)
{
    char msg[4200];
    if (!r->opt.log_dir) {
        report(out, problems, "logs", true, "stderr");
        return;
    }
    bool ok = access(r->opt.log_dir, W_OK | X_OK) == 0;
    if (ok)
        snprintf(msg, sizeof msg, "%s", r->opt.log_dir);
    else
        snprintf(msg, sizeof msg, "JWTD_LOG_DIR: %s is not a writable directory", r->opt.log_dir);
    report(out, problems, "logs", ok, msg);
}

/* Opens the database read-only and compares its schema version with this binary's. */
static void check_database(root_t *r, FILE *out, int *problems)
{
    char msg[1024] = "";
    db_options_t o = r->opt.db;
    o.read_only = true;
    int version = 0, latest = db_schema_latest();
    int rc = db_open(r->opt.database_url, &o, &r->db, msg, sizeof msg);
    if (rc != 0) {
        char why[1100];
        snprintf(why, sizeof why, "JWTD_DATABASE_URL: %s", msg[0] ? msg : err_message(rc));
        report(out, problems, "database", false, why);
        return;
    }
    rc = db_schema_version(r->db, &version);
    bool ok = rc == 0 && version <= latest;
    if (rc != 0)
        snprintf(msg, sizeof msg, "JWTD_DATABASE_URL: cannot read the schema version (%s)",
                 err_name(rc));
    else if (version > latest)
        snprintf(msg, sizeof msg,
                 "JWTD_DATABASE_URL: schema version %d is newer than this jwtd (%d)", version,
                 latest);
    else if (version < latest)
        snprintf(msg, sizeof msg,
                 "%s, schema version %d, %d migration%s pending: `jwtd migrate` or `jwtd "
                 "serve` applies them",
                 db_backend_name(r->db), version, latest - version,
                 latest - version == 1 ? "" : "s");
    else
        snprintf(msg, sizeof msg, "%s, schema version %d", db_backend_name(r->db), version);
    report(out, problems, "database", ok, msg);
}

static void check_redis(const root_t *r, FILE *out, int *problems)
{
    if (!r->opt.redis) {
        report(out, problems, "redis", true, "not configured");
        return;
    }
    char msg[1024] = "";
    store_redis_options_t o = r->opt.redis_opt;
    if (!o.timeout_ms || o.timeout_ms > CHECK_REDIS_TIMEOUT_MS)
        o.timeout_ms = CHECK_REDIS_TIMEOUT_MS;
    int rc = store_redis_ping(&o, msg, sizeof msg);
    char why[1100];
    snprintf(why, sizeof why, "JWTD_REDIS_URL: %s", msg);
    report(out, problems, "redis", rc == 0, rc == 0 ? "PONG" : why);
}

/* The mail server as the sender would use it: connected, TLS, AUTH; no mail is sent. */
static void check_smtp(root_t *r, FILE *out, int *problems)
{
    auth_mail_options_t o = r->opt.auth.mail;
    if (!o.smtp_url) {
        report(out, problems, "smtp", true,
               o.enabled ? "not configured: .eml files in the data directory" : "not configured");
        return;
    }
    char *password = NULL, why[4200] = "";
    if (root__smtp_password(r->_cfg, &password, why, sizeof why) != 0) {
        report(out, problems, "smtp", false, why);
        return;
    }
    if (password)
        o.smtp_password = password;
    char msg[1024] = "";
    bool ok = auth_mail_probe(&o, msg, sizeof msg) == 0;
    if (password)
        free_secret(password, strlen(password) + 1);
    if (!ok)
        snprintf(why, sizeof why, "JWTD_SMTP_URL: %s", msg);
    report(out, problems, "smtp", ok, ok ? msg : why);
}

/* See root.h. */
int root_check(int argc, char **argv, FILE *out)
{
    bool missing;
    const char *path = root_config_path(argc, argv, &missing);
    if (missing) {
        fprintf(stderr, "jwtd: --config needs a FILE\n");
        return -1;
    }
    log_set_level(LOG_OFF); /* the lines below say everything; no log line interleaves */
    root_t *r = xcalloc(1, sizeof *r);
    r->_cfg = xcalloc(1, sizeof *r->_cfg);
    char err[512];
    int problems = 0;
    if (cfg_load(r->_cfg, path, err, sizeof err) != 0) {
        report(out, &problems, "config", false, err);
    } else {
        report(out, &problems, "config", true, path ? path : "environment only");
        root__options(r);
        char alg[32];
        check_keys(r, out, &problems, alg, sizeof alg);
        check_logs(r, out, &problems);
        check_database(r, out, &problems);
        check_clients(r, alg, out, &problems);
        check_redis(r, out, &problems);
        check_smtp(r, out, &problems);
        char msg[2048];
        bool ok = root__oidc_check(r, msg, sizeof msg);
        report(out, &problems, "oidc", ok, msg);
    }
    root_close(r);
    return problems;
}

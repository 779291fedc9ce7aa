/*
 * root.c - opening the composition root: the configuration loaded the uniform way (defaults,
 * `--config FILE`, the environment), the log level, then the parts a command asks for: the
 * key ring, the database (migrated), the token service.
 *
 * Order matters beyond dependencies: nothing is written before everything that can be
 * checked without writing has passed. The configuration is validated as it loads; the key
 * ring comes before the database because a production start without a usable key must not
 * leave a created and migrated database (nor its directory) behind. The one file the keys
 * may write, the generated development secret, comes after those checks, and so does the
 * data directory (JWTD_DATA_DIR), created when the database or a key goes into it.
 */
#define LOG_MODULE "root"
#include "root/root.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/oauth.h"
#include "common/err.h"
#include "config/config.h"
#include "jose/jose.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

/* See root.h. */
const char *root_config_path(int argc, char **argv, bool *missing)
{
    const char *path = NULL;
    *missing = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                *missing = true;
                return NULL;
            }
            path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        }
    }
    if (path && !*path)
        *missing = true;
    return path && *path ? path : NULL;
}

/* See root.h. */
void root__fatal(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!log_json_enabled()) {
        fprintf(stderr, "jwtd: %s\n", msg);
        return;
    }
    char esc[1200];
    log_write(LOG_CH_SERVER, LOG_ERROR, LOG_MODULE, NULL, "msg=\"%s\"",
              log_value_escape(esc, sizeof esc, msg, strlen(msg)));
}

static int load_config(int argc, char **argv, struct cfg *cfg, const char **config_path)
{
    char err[512];
    bool missing;
    const char *path = root_config_path(argc, argv, &missing);
    if (missing) {
        fprintf(stderr, "jwtd: --config needs a FILE\n");
        return ERR_INVALID;
    }
    *config_path = path;
    if (cfg_load(cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "jwtd: configuration error: %s\n", err);
        return ERR_CONFIG;
    }
    enum log_level level;
    if (cfg->log_level && log_level_parse(cfg->log_level, &level) == 0)
        log_set_level(level);
    return 0;
}

/*
 * The data directory, when the database is the default one inside it (cfg_finish derived
 * JWTD_DATABASE_URL from JWTD_DATA_DIR): created with its missing parents, 0700, now that
 * the configuration and the keys have passed. Other databases leave it alone: a
 * deployment on PostgreSQL needs no data directory unless something else goes there.
 */
static int make_data_dir(root_t *r)
{
    if (cfg_source_of(r->_cfg, "JWTD_DATABASE_URL") != CFG_SRC_DEFAULT)
        return 0;
    if (fileio_mkdirs(r->opt.data_dir, 0700) != 0) {
        root__fatal("cannot create the data directory %s (JWTD_DATA_DIR): %s", r->opt.data_dir,
                    strerror(errno));
        return ERR_UNAVAILABLE;
    }
    return 0;
}

static int open_db(root_t *r, bool migrate, bool serving)
{
    char err[256] = "";
    if (make_data_dir(r) != 0)
        return ERR_UNAVAILABLE;
    int rc = db_open(r->opt.database_url, &r->opt.db, &r->db, err, sizeof err);
    if (rc != 0) {
        root__fatal("cannot open the database: %s", err[0] ? err : err_message(rc));
        return rc == ERR_CONFIG ? ERR_CONFIG : ERR_UNAVAILABLE;
    }
    if (migrate && (rc = db_migrate(r->db, NULL)) != 0) {
        root__fatal("database migration failed (%s)", err_name(rc));
        return rc == ERR_CONFIG ? ERR_CONFIG : ERR_UNAVAILABLE;
    }
    /* the audit trail needs the migrated table; a read-only inspection writes nothing */
    if (migrate && r->opt.audit_retention_s > 0 &&
        (rc = auth_audit_start(r->db, r->opt.audit_retention_s, serving)) != 0) {
        root__fatal("cannot start the audit writer (%s)", err_name(rc));
        return rc;
    }
    return 0;
}

/* A command's audit records: source=cli and who ran it. */
static void audit_as_command(void)
{
    static char actor[AUDIT_ACTOR_MAX + 1];
    static audit_ctx_t ctx;
    struct passwd pw, *res = NULL;
    char buf[1024];
    uid_t uid = getuid();
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(actor, sizeof actor, "uid=%u(%.32s)", (unsigned)uid, res->pw_name);
    else
        snprintf(actor, sizeof actor, "uid=%u", (unsigned)uid);
    ctx = (audit_ctx_t){.source = "cli", .actor = actor};
    audit_ctx_set_default(&ctx);
}

static int open_keys(root_t *r)
{
    char err[512];
    if (root__keys_load(r->_cfg, &r->ring, err, sizeof err) != 0) {
        root__fatal("configuration error: %s", err);
        return ERR_CONFIG;
    }
    root__keys_verify_options(r->_cfg, r->ring, &r->vopt);
    return 0;
}

/* See root.h. */
int root__smtp_password(const struct cfg *cfg, char **out, char *why, size_t cap)
{
    const char *path = cfg->smtp_password_file;
    *out = NULL;
    if (!path || !*path)
        return 0;
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = fd >= 0 ? fileio_read_upto(fd, buf, sizeof buf) : 0;
    if (fd >= 0)
        close(fd);
    if (fd < 0 || n == 0 || n >= sizeof buf) {
        snprintf(why, cap, "cannot read JWTD_SMTP_PASSWORD_FILE %s (missing, empty or over 1 KiB)",
                 path);
        OPENSSL_cleanse(buf, sizeof buf);
        return ERR_CONFIG;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    *out = xstrndup(buf, n);
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

/* JWTD_SMTP_PASSWORD_FILE: the password, without its trailing newline. */
static int read_smtp_password(root_t *r)
{
    if (r->_mail_password)
        return 0;
    char why[4200];
    if (root__smtp_password(r->_cfg, &r->_mail_password, why, sizeof why) != 0) {
        root__fatal("%s", why);
        return ERR_CONFIG;
    }
    r->opt.auth.mail.smtp_password = r->_mail_password;
    return 0;
}

/* See root.h. */
void root__oauth_key_problem(const char *alg, char *msg, size_t cap)
{
    snprintf(msg, cap,
             "OpenID Connect clients are registered, and ID tokens need an asymmetric signing "
             "key (RS256, ES256, EdDSA, ...), not %s",
             alg);
}

static int open_auth(root_t *r, bool serving)
{
    if (read_smtp_password(r) != 0)
        return ERR_CONFIG;
    r->opt.auth.hash_dummy = serving;
    int rc = auth_new(&r->opt.auth, r->db, r->ring, &r->vopt, &r->auth);
    if (rc != 0) {
        root__fatal("cannot start the token service (%s)", err_name(rc));
        return rc;
    }
    if (serving && (rc = auth_start(r->auth)) != 0) {
        root__fatal("cannot load the revocation index from the database (%s)", err_name(rc));
        return rc;
    }
    if (serving && (rc = auth_oauth_check_keys(r->auth)) != 0) {
        char msg[256];
        root__oauth_key_problem(auth_signing_alg(r->auth), msg, sizeof msg);
        root__fatal("configuration error: %s", msg);
        return rc;
    }
    return 0;
}

/* See root.h. */
int root_add(root_t *r, unsigned parts)
{
    int rc = 0;
    bool serving = parts & ROOT_SERVE;
    if (parts & ROOT_AUTH)
        parts |= ROOT_DB | ROOT_MIGRATE | ROOT_KEYS;
    if (serving) /* one connection per pool thread, and spares; 0 = the database's default */
        r->opt.db.max_connections = r->opt.http.pool_threads ? r->opt.http.pool_threads + 2 : 0;
    if (!r->ring && (parts & ROOT_KEYS))
        rc = open_keys(r);
    if (rc == 0 && !r->db && (parts & ROOT_DB))
        rc = open_db(r, parts & ROOT_MIGRATE, serving);
    if (rc == 0 && !r->auth && (parts & ROOT_AUTH))
        rc = open_auth(r, serving);
    return rc;
}

/* See root.h. */
int root_open(int argc, char **argv, unsigned parts, root_t **out)
{
    root_t *r = xcalloc(1, sizeof *r);
    r->_cfg = xcalloc(1, sizeof *r->_cfg);
    *out = NULL;
    if (!(parts & ROOT_SERVE))
        audit_as_command();
    int rc = load_config(argc, argv, r->_cfg, &r->_config_path);
    if (rc == 0) {
        root__options(r);
        if (parts & ROOT_SERVE) /* every line of the server in one format, start-up included */
            log_set_json(r->opt.log_json);
        rc = root_add(r, parts);
    }
    if (rc != 0) {
        root_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* See root.h. */
void root_close(root_t *r)
{
    if (!r)
        return;
    auth_audit_stop(); /* what was recorded is written before the database closes */
    auth_free(r->auth);
    jose_keyring_release(r->ring);
    db_close(r->db);
    if (r->_mail_password)
        free_secret(r->_mail_password, strlen(r->_mail_password) + 1);
    cfg_dispose(r->_cfg);
    free(r->_cfg);
    if (r->_live) {
        cfg_dispose(r->_live);
        free(r->_live);
    }
    free(r);
}

/* See root.h. */
const char *root_keys_dir(const root_t *r)
{
    return r->_keys_dir;
}

/* See root.h. */
int64_t root_keyset_keep_s(const root_t *r)
{
    return root__keys_keep_s(r->_live ? r->_live : r->_cfg);
}

/* See root.h. */
void root_print_config(const root_t *r, int fd)
{
    cfg_dump(r->_cfg, fd);
}

/* See root.h. */
void root_print_config_reference(int fd)
{
    cfg_markdown(fd);
}

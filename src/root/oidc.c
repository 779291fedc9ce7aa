/*
 * oidc.c - the relying party of social sign-in from the configuration: each provider of
 * JWTD_OIDC_PROVIDERS (struct cfg_oidc_provider, src/config/oidc.c) with its client secret
 * read from JWTD_OIDC_<NAME>_CLIENT_SECRET_FILE (outside development, a file readable by
 * group or others is refused, as key files are), handed to auth_oidc_new; and the check of
 * `jwtd check`, which reads the same files and fetches nothing.
 */
#define LOG_MODULE "root"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "config/config.h"
#include "root/root.h"
#include "runtime/alloc.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

#define SECRET_FILE_MAX 4096

/*
 * Reads a client secret file (trailing blanks and newlines dropped). OUT: *out (heap;
 * free_secret). Returns 0, or ERR_CONFIG with why.
 */
static int read_secret(const char *path, bool strict, char **out, char *why, size_t cap)
{
    struct stat st;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
        return ERR_CONFIG;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SECRET_FILE_MAX) {
        close(fd);
        snprintf(why, cap, "%s is not a regular file of at most %d bytes", path, SECRET_FILE_MAX);
        return ERR_CONFIG;
    }
    if (strict && (st.st_mode & 077)) {
        close(fd);
        snprintf(why, cap, "%s is readable by group or others (mode %03o); run chmod 600 on it",
                 path, (unsigned)(st.st_mode & 0777));
        return ERR_CONFIG;
    }
    char *buf = xmalloc((size_t)st.st_size + 1);
    size_t n = fileio_read_upto(fd, buf, (size_t)st.st_size);
    close(fd);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (n == 0 || memchr(buf, '\n', n)) {
        free_secret(buf, (size_t)st.st_size + 1);
        snprintf(why, cap, "%s must hold the secret on one line", path);
        return ERR_CONFIG;
    }
    *out = buf;
    return 0;
}

/* See root.h. */
int root__oidc_new(root_t *r, auth_oidc_t **out)
{
    const struct cfg *cfg = r->_cfg;
    bool strict = cfg->environment != CFG_ENV_DEVELOPMENT;
    auth_oidc_provider_t *p = xcalloc(cfg->oidc_count + 1, sizeof *p);
    char **secrets = xcalloc(cfg->oidc_count + 1, sizeof *secrets);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg->oidc_count; i++) {
        const struct cfg_oidc_provider *c = &cfg->oidc[i];
        char why[512];
        if (c->client_secret_file &&
            read_secret(c->client_secret_file, strict, &secrets[i], why, sizeof why) != 0) {
            root__fatal("configuration error: JWTD_OIDC_<NAME>_CLIENT_SECRET_FILE of %s: %s",
                        c->name, why);
            rc = ERR_CONFIG;
            break;
        }
        p[i] = (auth_oidc_provider_t){c->name,    c->issuer, c->client_id,
                                      secrets[i], c->scopes, c->trust_mfa};
    }
    if (rc == 0) {
        auth_oidc_options_t o = {.providers = p,
                                 .count = cfg->oidc_count,
                                 .link_by_email = cfg->oidc_link_by_email,
                                 .allow_http = cfg->environment == CFG_ENV_DEVELOPMENT};
        rc = auth_oidc_new(r->auth, &o, out);
    }
    for (size_t i = 0; i < cfg->oidc_count; i++)
        if (secrets[i])
            free_secret(secrets[i], strlen(secrets[i]) + 1);
    free(secrets);
    free(p);
    return rc;
}

/* See root.h. */
bool root__oidc_check(const root_t *r, char *msg, size_t cap)
{
    const struct cfg *cfg = r->_cfg;
    bool strict = cfg->environment != CFG_ENV_DEVELOPMENT;
    size_t used = 0;
    msg[0] = '\0';
    if (cfg->oidc_count == 0) {
        snprintf(msg, cap, "no providers");
        return true;
    }
    for (size_t i = 0; i < cfg->oidc_count; i++) {
        const struct cfg_oidc_provider *c = &cfg->oidc[i];
        if (c->client_secret_file) {
            char *s = NULL, why[512];
            if (read_secret(c->client_secret_file, strict, &s, why, sizeof why) != 0) {
                snprintf(msg, cap, "%s: client secret: %s", c->name, why);
                return false;
            }
            free_secret(s, strlen(s) + 1);
        }
        int n = snprintf(msg + used, cap - used, "%s%s %s%s", i ? ", " : "", c->name, c->issuer,
                         c->client_secret_file ? "" : " (public client)");
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    return true;
}

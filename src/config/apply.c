/*
 * apply.c - filling struct cfg: the defaults, one variable by name (cfg_set), the lines of
 * a config file, the environment, and cfg_load which chains them with cfg_finish; and
 * cfg_dispose which releases what they allocated.
 *
 * Every value goes through cfg__set_row: its type (types.c) parses it, and only a value
 * that parsed replaces the previous one. Messages name the variable and, where it came
 * from a file, the file and line. Not here: the syntax of values (types.c, parse.c), name
 * lookup and suggestions (lookup.c), the checks across variables (finish.c).
 *
 * Config-file syntax (a dotenv subset): one KEY=VALUE per line; blank lines and lines whose
 * first non-blank character is '#' are ignored; KEY may carry the JWTD_ prefix or not, in
 * any case; an optional leading "export " is ignored; VALUE is trimmed and may be wrapped in
 * one pair of matching single or double quotes (kept literally, no escapes).
 *
 * Not thread-safe: configuration is loaded once, before threads start.
 */
#include "config/table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "runtime/alloc.h"

#define CFG_FILE_MAX_BYTES (1024 * 1024)

extern char **environ;

/* --- one variable ----------------------------------------------------------------------- */

/* See table.h. */
void cfg__errf(char *err, size_t cap, const char *where, const char *name, const char *fmt, ...)
{
    if (cap == 0)
        return;
    int n = snprintf(err, cap, "%s%s%s", where ? where : "", name ? name : "", name ? ": " : "");
    if (n < 0 || (size_t)n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* See table.h. */
int cfg__set_row(struct cfg *cfg, size_t i, str_t value, enum cfg_source src, const char *where,
                 char *err, size_t cap)
{
    const struct cfg_row *row = &cfg_rows[i];
    const struct cfg_type_ops *t = &cfg_types[row->type];
    char shown[256], why[1024];
    cfg_value_t v;

    cfg__value_shown(row, value, shown, sizeof shown);
    for (size_t k = 0; k < value.len; k++) {
        unsigned char c = (unsigned char)value.ptr[k];
        if (c < 0x20 || c == 0x7f) {
            cfg__errf(err, cap, where, row->name, "value %s contains a control character", shown);
            return ERR_CONFIG;
        }
    }
    memset(&v, 0, sizeof v);
    if (t->parse(row, value, shown, &v, why, sizeof why) != 0) {
        cfg__errf(err, cap, where, row->name, "%s", why);
        return ERR_CONFIG;
    }
    if (t->release)
        t->release(cfg__field(cfg, row));
    memcpy(cfg__field(cfg, row), &v, t->size);
    cfg->_source[i] = (unsigned char)src;
    if ((row->flags & CFG_F_DEPRECATED) && src != CFG_SRC_DEFAULT)
        cfg__warn_later(cfg, "msg=\"deprecated configuration variable\" name=%s", row->name);
    return 0;
}

/* See config.h. */
int cfg_set(struct cfg *cfg, const char *name, str_t value, enum cfg_source src, char *err,
            size_t cap)
{
    int i = cfg__row_find(str_cstr(name));
    if (i < 0) {
        char q[256];
        const char *hint = cfg__suggest(str_cstr(name));
        cfg__errf(err, cap, NULL, NULL, "unknown configuration variable %s%s%s%s",
                  cfg__quote(q, sizeof q, str_cstr(name)), hint ? " (did you mean " : "",
                  hint ? hint : "", hint ? "?)" : "");
        return ERR_NOT_FOUND;
    }
    return cfg__set_row(cfg, (size_t)i, value, src, "", err, cap);
}

/* --- defaults and release --------------------------------------------------------------- */

/* See config.h. */
int cfg_init_defaults(struct cfg *cfg, char *err, size_t cap)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < cfg_rows_count; i++) {
        if (!cfg_rows[i].def)
            continue;
        int rc = cfg__set_row(cfg, i, str_cstr(cfg_rows[i].def), CFG_SRC_DEFAULT, "default of ",
                              err, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* See config.h. */
void cfg_dispose(struct cfg *cfg)
{
    for (size_t i = 0; i < cfg_rows_count; i++) {
        const struct cfg_type_ops *t = &cfg_types[cfg_rows[i].type];
        if (t->release)
            t->release(cfg__field(cfg, &cfg_rows[i]));
    }
    cfg__warnings_dispose(cfg);
    cfg__oidc_dispose(cfg);
    memset(cfg, 0, sizeof *cfg);
}

/* --- config files ----------------------------------------------------------------------- */

static bool is_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Applies one line (without its newline). where is "origin:LINE: "; it is writable so that
 * an unknown-name warning can drop the trailing ": ".
 */
static int apply_line(struct cfg *cfg, str_t line, char *where, char *err, size_t cap)
{
    if (line.len && line.ptr[line.len - 1] == '\r')
        line.len--;
    line = str_trim(line);
    if (line.len == 0 || line.ptr[0] == '#')
        return 0;
    if (line.len > 7 && memcmp(line.ptr, "export", 6) == 0 &&
        (line.ptr[6] == ' ' || line.ptr[6] == '\t'))
        line = str_trim(str_make(line.ptr + 7, line.len - 7));
    const char *eq = memchr(line.ptr, '=', line.len);
    if (!eq) {
        cfg__errf(err, cap, where, NULL, "expected KEY=VALUE");
        return ERR_CONFIG;
    }
    str_t key = str_trim(str_make(line.ptr, (size_t)(eq - line.ptr)));
    str_t value = str_trim(str_make(eq + 1, (size_t)(line.ptr + line.len - (eq + 1))));
    bool key_ok = key.len > 0 && key.len <= 64;
    for (size_t k = 0; key_ok && k < key.len; k++)
        key_ok = is_key_char(key.ptr[k]);
    if (!key_ok) {
        char q[256];
        cfg__errf(err, cap, where, NULL, "invalid key %s (expected a name such as JWTD_LISTEN)",
                  cfg__quote(q, sizeof q, key));
        return ERR_CONFIG;
    }
    int i = cfg__row_find(key);
    if (value.len && (value.ptr[0] == '"' || value.ptr[0] == '\'')) {
        if (value.len < 2 || value.ptr[value.len - 1] != value.ptr[0]) {
            char k[80];
            snprintf(k, sizeof k, "%.*s", (int)key.len, key.ptr);
            cfg__errf(err, cap, where, i >= 0 ? cfg_rows[i].name : k, "unterminated quote");
            return ERR_CONFIG;
        }
        value = str_make(value.ptr + 1, value.len - 2);
    }
    if (i < 0) {
        int taken = cfg__oidc_take(cfg, key, value, false, err, cap);
        if (taken != 0)
            return taken < 0 ? taken : 0;
        where[strlen(where) - 2] = '\0'; /* "file:12" */
        cfg__warn_unknown(cfg, key, where);
        return 0;
    }
    return cfg__set_row(cfg, (size_t)i, value, CFG_SRC_FILE, where, err, cap);
}

/* See config.h. */
int cfg_apply_buffer(struct cfg *cfg, const char *origin, const char *data, size_t len, char *err,
                     size_t cap)
{
    size_t pos = 0;
    unsigned line_no = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* UTF-8 byte-order mark */
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        str_t line = str_make(data + pos, n);
        char where[300];
        pos += n + (nl ? 1 : 0);
        line_no++;
        snprintf(where, sizeof where, "%s:%u: ", origin, line_no);
        if (memchr(line.ptr, '\0', line.len)) {
            cfg__errf(err, cap, where, NULL, "NUL byte in line");
            return ERR_CONFIG;
        }
        int rc = apply_line(cfg, line, where, err, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* See config.h. */
int cfg_apply_file(struct cfg *cfg, const char *path, char *err, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *data = NULL;
    int rc = ERR_CONFIG;
    if (fd < 0 || fstat(fd, &st) != 0) {
        cfg__errf(err, cap, NULL, NULL, "cannot read config file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CFG_FILE_MAX_BYTES) {
        cfg__errf(err, cap, NULL, NULL, "config file %s: %s", path,
                  S_ISREG(st.st_mode) ? "larger than 1 MiB" : "not a regular file");
        goto out;
    }
    data = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cfg__errf(err, cap, NULL, NULL, "cannot read config file %s: %s", path,
                      strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    rc = cfg_apply_buffer(cfg, path, data, got, err, cap);
out:
    if (data)
        free_secret(data, (size_t)st.st_size + 1); /* may hold JWTD_SECRET_KEY */
    if (fd >= 0)
        close(fd);
    return rc;
}

/* --- the environment -------------------------------------------------------------------- */

/* See config.h. */
int cfg_apply_env(struct cfg *cfg, char *const *envp, char *err, size_t cap)
{
    for (size_t e = 0; envp && envp[e]; e++) {
        const char *entry = envp[e];
        if (strncmp(entry, "JWTD_", 5) != 0)
            continue;
        const char *eq = strchr(entry, '=');
        if (!eq)
            continue;
        str_t name = str_make(entry, (size_t)(eq - entry));
        if (cfg__env_ignored(name))
            continue;
        int i = cfg__row_find_exact(name); /* environment names are exact */
        if (i < 0) {
            int taken = cfg__oidc_take(cfg, name, str_cstr(eq + 1), true, err, cap);
            if (taken < 0)
                return taken;
            if (taken)
                continue;
            cfg__warn_unknown(cfg, name, "environment");
            continue;
        }
        int rc = cfg__set_row(cfg, (size_t)i, str_cstr(eq + 1), CFG_SRC_ENV, "", err, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* --- all of it -------------------------------------------------------------------------- */

/* See config.h. */
int cfg_load(struct cfg *cfg, const char *config_file, char *err, size_t cap)
{
    int rc = cfg_init_defaults(cfg, err, cap);
    if (rc == 0 && config_file)
        rc = cfg_apply_file(cfg, config_file, err, cap);
    if (rc == 0)
        rc = cfg_apply_env(cfg, environ, err, cap);
    if (rc == 0)
        rc = cfg_finish(cfg, err, cap);
    if (rc != 0)
        cfg_dispose(cfg);
    return rc;
}

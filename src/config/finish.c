/*
 * finish.c - the last step of loading, once every source has been applied: defaults that
 * depend on other variables (the development CORS origins follow JWTD_ENVIRONMENT),
 * checks across variables, and the warnings queued while loading, which are logged here
 * because only now is JWTD_LOG_LEVEL known.
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

/* See config.h. */
int cfg_finish(struct cfg *cfg, char *err, size_t cap)
{
    int cors = cfg__row_find(STR_LIT("CORS_ALLOWED_ORIGINS"));
    if (cors >= 0 && cfg->_source[cors] == CFG_SRC_DEFAULT &&
        cfg->environment == CFG_ENV_DEVELOPMENT && cfg->cors_allowed_origins.count == 0) {
        int rc = cfg__set_row(cfg, (size_t)cors, STR_LIT(CFG_DEV_CORS_ORIGINS), CFG_SRC_DEFAULT,
                              "default of ", err, cap);
        if (rc != 0)
            return rc;
    }
    if (cfg->secret_key && cfg->secret_key_file) {
        cfg__errf(err, cap, NULL, NULL,
                  "JWTD_SECRET_KEY and JWTD_SECRET_KEY_FILE are both set; set only one");
        return ERR_CONFIG;
    }
    warnings_flush(cfg);
    return 0;
}

/*
 * log.h - one logging API for jwtd: levelled key=value lines.
 *
 * Each .c file defines LOG_MODULE before including this header (h2o's MODULE_NAME); every
 * line carries ts, level and module, then the caller's key=value text:
 *
 *     ts=2026-11-22T11:00:00.123Z level=info module=http msg="listening" addr=127.0.0.1:8000
 *
 * The macros test the level before evaluating their arguments (Redis serverLog). A line is
 * written with one write(2), so lines from several threads never interleave.
 *
 * Never pass a token, password, cookie, key or Authorization header to these functions:
 * log jti, kid, user id or a short hash prefix instead (log_value_escape helps with
 * user-controlled text).
 */
#ifndef JWTD_COMMON_LOG_H
#define JWTD_COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

extern int log__level;

#ifndef LOG_MODULE
#define LOG_MODULE "jwtd"
#endif

#define log_at(lvl, rid, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) >= log__level)                                                                   \
            log_write((lvl), LOG_MODULE, (rid), __VA_ARGS__);                                      \
    } while (0)

#define log_debug(...) log_at(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, NULL, __VA_ARGS__)

/* Sets the minimum level written. Call before threads start. */
void log_set_level(enum log_level level);
/* Parses "debug|info|warn|error|off". Returns 0 or -1 for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
/* Sends lines to fd instead of stderr (2). Call before threads start. */
void log_set_fd(int fd);
/* Writes one line. rid (request id) may be NULL. Thread-safe. Use the macros instead. */
void log_write(enum log_level level, const char *module, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * Copies untrusted text into out (size cap, NUL-terminated) so that it can be logged as a
 * quoted value: quotes, backslashes and control bytes are escaped, the rest truncated.
 * Returns out.
 */
char *log_value_escape(char *out, size_t cap, const char *in, size_t in_len);

#endif

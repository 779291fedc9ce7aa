/*
 * log.h - one logging API for jwtd: levelled key=value lines.
 *
 * Each .c file defines LOG_MODULE before including this header (h2o's MODULE_NAME); every
 * line carries ts, level and module, then the caller's key=value text:
 *
 *     ts=2026-11-22T11:00:00.123Z level=info module=http msg="listening" addr=127.0.0.1:8000
 *
 * The macros test the level before evaluating their arguments (Redis serverLog). A line is
 * written with one write(2), so lines from several threads never interleave; access lines
 * of the event loops may instead be gathered per thread and written many at a time
 * (log_buffer_start), always whole lines.
 *
 * Never pass a token, password, cookie, key or Authorization header to these functions:
 * log jti, kid, user id or a short hash prefix instead (log_value_escape helps with
 * user-controlled text).
 *
 * Request-scoped lines carry request_id=<rid> after the module: the HTTP layer makes one id
 * per request with log_rid_new(), logs through log_req_*(rid, ...) while handling it, and
 * ends with log_request() (the access line: method, path without its query string, status,
 * bytes, duration). The level comes from JWTD_LOG_LEVEL: the composition root applies it.
 *
 * Files: with log_open_dir() (JWTD_LOG_DIR) lines are split into four files by the channel
 * each line is written to (enum log_channel): api.log (access lines), auth.log (security
 * events: login, logout, refresh_reuse, suspicious_invalid_tokens, throttled, ...),
 * performance.log (slow_request, pool_saturated) and error.log (everything else: start-up,
 * warnings, errors). log_set_json() writes JSON lines instead of key=value
 * text (same keys; numbers stay numbers). log_reopen() reopens the files (logrotate).
 */
#ifndef JWTD_RUNTIME_LOG_H
#define JWTD_RUNTIME_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "common/str.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

extern int log__level;

#ifndef LOG_MODULE
#define LOG_MODULE "jwtd"
#endif

/*
 * Where a line goes (with JWTD_LOG_DIR, one file each; otherwise all to the log fd):
 * SERVER error.log (start-up, warnings, errors), AUDIT auth.log (security events: logins,
 * refreshes, revocations, refusals), ACCESS api.log (one line per request) and PERF
 * performance.log (slow requests, a saturated pool). The channel is an argument of every
 * line, never guessed from its text.
 */
enum log_channel { LOG_CH_SERVER = 0, LOG_CH_AUDIT, LOG_CH_ACCESS, LOG_CH_PERF, LOG_CH__COUNT };

#define log_at(ch, lvl, rid, ...)                                                                  \
    do {                                                                                           \
        if ((lvl) >= log__level)                                                                   \
            log_write((ch), (lvl), LOG_MODULE, (rid), __VA_ARGS__);                                \
    } while (0)

#define log_debug(...) log_at(LOG_CH_SERVER, LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  log_at(LOG_CH_SERVER, LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_CH_SERVER, LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_at(LOG_CH_SERVER, LOG_ERROR, NULL, __VA_ARGS__)

/* The same, for lines about one request: rid is its id (from log_rid_new), may be NULL. */
#define log_req_debug(rid, ...) log_at(LOG_CH_SERVER, LOG_DEBUG, (rid), __VA_ARGS__)
#define log_req_info(rid, ...)  log_at(LOG_CH_SERVER, LOG_INFO, (rid), __VA_ARGS__)
#define log_req_warn(rid, ...)  log_at(LOG_CH_SERVER, LOG_WARN, (rid), __VA_ARGS__)
#define log_req_error(rid, ...) log_at(LOG_CH_SERVER, LOG_ERROR, (rid), __VA_ARGS__)

/* Security events ("event=login_failed ..."), request id or NULL. */
#define log_audit_info(rid, ...) log_at(LOG_CH_AUDIT, LOG_INFO, (rid), __VA_ARGS__)
#define log_audit_warn(rid, ...) log_at(LOG_CH_AUDIT, LOG_WARN, (rid), __VA_ARGS__)
/* Performance events ("event=slow_request ..."). */
#define log_perf_warn(rid, ...) log_at(LOG_CH_PERF, LOG_WARN, (rid), __VA_ARGS__)

/* Whether lines of this level are written (to skip preparing an expensive line). */
#define log_enabled(lvl) ((int)(lvl) >= log__level)

/* Size of a request id: 16 hex digits and a NUL. */
#define LOG_RID_SIZE 17

/* Sets the minimum level written. Call before threads start. */
void log_set_level(enum log_level level);
/* Parses "debug|info|warn|error|off" (any case; "warning" = warn). Returns 0 or -1. */
int log_level_parse(const char *name, enum log_level *out);
/* Sends lines to fd instead of stderr (2). Call before threads start. */
void log_set_fd(int fd);
/*
 * Opens (creating, mode 0600, append) DIR/auth.log, api.log, error.log and performance.log
 * and routes lines to them from now on. Call before threads start. Returns 0, or -1 with a
 * message in err (cap bytes).
 */
int log_open_dir(const char *dir, char *err, size_t cap);
/*
 * Reopens the files of log_open_dir (the server calls it on SIGHUP, for logrotate): each
 * path is opened again and dup2()ed over the old descriptor, so concurrent writers never see
 * a closed one. Only async-signal-safe calls. Returns 0, or -1 when a file could not be
 * reopened (lines keep going to the old one).
 */
int log_reopen(void);
/*
 * Buffered access lines (JWTD_LOG_BUFFER, JWTD_LOG_FLUSH): from now on, the access lines
 * (LOG_CH_ACCESS) of each thread that calls log_thread_buffer_begin() gather in a buffer of
 * bytes bytes of its own, written with one write(2) when the next line would not fit, by a
 * flusher thread every interval_ms, by log_flush() and by log_thread_buffer_end() /
 * log_buffer_stop(). Lines of one thread stay in order, also with its other lines on a shared
 * descriptor (such a line writes out the buffer first). bytes 0 = unbuffered (no-op). Call
 * before threads start, after log_set_fd/log_open_dir. Returns 0, or -1 when the flusher
 * thread could not start (then lines stay unbuffered).
 */
int log_buffer_start(size_t bytes, int64_t interval_ms);
/* Stops the flusher thread and writes out every buffer; later lines are unbuffered. Call
   after the buffering threads have ended (or accept that their late lines go direct). */
void log_buffer_stop(void);
/* The calling thread buffers its access lines (an event loop, at its start). No-op when
   buffering is off, or if the buffer cannot be allocated. */
void log_thread_buffer_begin(void);
/* Writes out and releases the calling thread's buffer (at the end of the thread). */
void log_thread_buffer_end(void);
/*
 * Writes out every thread's buffered lines now (before a log reopen on SIGHUP, before an
 * emergency exit). Thread-safe; not async-signal-safe.
 */
void log_flush(void);
/* JSON lines (true) or key=value text (false, the default). Call before threads start. */
void log_set_json(int on);
/* Whether lines are JSON (log_set_json). */
int log_json_enabled(void);
/* Writes one line to channel ch. rid (request id) may be NULL. Thread-safe. Use the macros. */
void log_write(enum log_channel ch, enum log_level level, const char *module, const char *rid,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * Copies untrusted text into out (size cap, NUL-terminated) so that it can be logged as a
 * quoted value: quotes, backslashes and control bytes are escaped, the rest truncated.
 * Returns out.
 */
char *log_value_escape(char *out, size_t cap, const char *in, size_t in_len);
/* "debug", "info", "warn", "error" or "off". */
const char *log_level_name(enum log_level level);
/*
 * Writes a new request id into out: 16 lowercase hex digits, unique within the process
 * (a random per-process prefix and a counter; not a secret). Thread-safe.
 */
void log_rid_new(char out[LOG_RID_SIZE]);
/*
 * Writes the access line of a finished request at level, if enabled:
 *     ... module=http request_id=<rid> msg="request" method=GET path="/healthz" status=200
 *         bytes=15 duration_us=84
 * target is the request target as received: its query string is dropped (it may carry a
 * token) and the path is escaped and cut at 256 bytes. Thread-safe.
 */
void log_request(enum log_level level, const char *module, const char *rid, str_t method,
                 str_t target, int status, uint64_t bytes, uint64_t duration_us);
/* The same with the authenticated user's id (user_id=N is added when user_id > 0). */
void log_request_user(enum log_level level, const char *module, const char *rid, str_t method,
                      str_t target, int status, uint64_t bytes, uint64_t duration_us,
                      int64_t user_id);

#endif

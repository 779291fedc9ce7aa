/*
 * log.c - levelled key=value lines on one fd (see log.h), request ids and access lines.
 *
 * Each line is formatted into a stack buffer and written with one write(2): no lock, no
 * interleaving between threads. Lines longer than the buffer are cut, never split.
 */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int log__level = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* See log.h. */
void log_set_level(enum log_level level)
{
    log__level = (int)level;
}

/* See log.h. */
int log_level_parse(const char *name, enum log_level *out)
{
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* See log.h. */
const char *log_level_name(enum log_level level)
{
    return level >= LOG_DEBUG && level <= LOG_OFF ? level_names[level] : "unknown";
}

/* See log.h. */
void log_set_fd(int fd)
{
    log_fd = fd;
}

/* See log.h. */
void log_write(enum log_level level, const char *module, const char *rid, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s module=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, level_names[level], module);
    if (rid && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " request_id=%s", rid);
    if (n > 0 && (size_t)n < sizeof line - 1) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2; /* truncated: keep the line whole and newline-terminated */
    line[n++] = '\n';
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(log_fd, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += w;
    }
}

/* See log.h. */
char *log_value_escape(char *out, size_t cap, const char *in, size_t in_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0)
        return out;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '"' || c == '\\') {
            if (o + 2 >= cap)
                break;
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            if (o + 4 >= cap)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            if (o + 1 >= cap)
                break;
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

/* --- request ids and access lines ------------------------------------------------------- */

static uint64_t rid_counter; /* atomic; the high 32 bits are a random per-process prefix */

/* See log.h. */
void log_rid_new(char out[LOG_RID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = __atomic_fetch_add(&rid_counter, 1, __ATOMIC_RELAXED);
    if (v == 0) {
        /* first id of the process: pick the random prefix (a race only costs one id) */
        uint32_t prefix = 0;
        if (getrandom(&prefix, sizeof prefix, GRND_NONBLOCK) != sizeof prefix)
            prefix = (uint32_t)getpid() ^ (uint32_t)time(NULL);
        uint64_t seeded = ((uint64_t)prefix << 32) | 1u;
        uint64_t expected = 1;
        __atomic_compare_exchange_n(&rid_counter, &expected, seeded + 1, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
        v = seeded;
    }
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[v & 15];
        v >>= 4;
    }
    out[16] = '\0';
}

/* See log.h. */
void log_request(enum log_level level, const char *module, const char *rid, str_t method,
                 str_t target, int status, uint64_t bytes, uint64_t duration_us)
{
    char m[40], path[300];
    if (!log_enabled(level))
        return;
    const char *q = target.len ? memchr(target.ptr, '?', target.len) : NULL;
    size_t plen = q ? (size_t)(q - target.ptr) : target.len;
    log_value_escape(m, sizeof m, method.ptr ? method.ptr : "", method.len > 32 ? 32 : method.len);
    log_value_escape(path, sizeof path, target.ptr ? target.ptr : "", plen > 256 ? 256 : plen);
    log_write(level, module, rid,
              "msg=\"request\" method=%s path=\"%s%s\" status=%d bytes=%llu duration_us=%llu", m,
              path, plen > 256 ? "..." : "", status, (unsigned long long)bytes,
              (unsigned long long)duration_us);
}

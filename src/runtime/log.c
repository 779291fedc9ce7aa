/*
 * log.c - levelled key=value lines on one fd (see log.h), request ids and access lines.
 *
 * Each line is formatted into a stack buffer and written with one write(2): no lock, no
 * interleaving between threads. Lines longer than the buffer are cut, never split.
 *
 * With log_open_dir() each line goes to the file of its channel (see log.h). The file
 * descriptors never change once open: log_reopen() (on SIGHUP) opens the paths again and
 * dup2()s the new files over the old descriptors, so a writer racing with a rotation writes
 * either to the old file or to the new one, never to a closed descriptor.
 */
#include "runtime/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "runtime/fileio.h"

int log__level = LOG_INFO;
static int log_fd = 2;

/* Files of log_open_dir, by enum log_channel. */
static const char *const ch_names[LOG_CH__COUNT] = {"error.log", "auth.log", "api.log",
                                                    "performance.log"};
static int ch_fd[LOG_CH__COUNT] = {-1, -1, -1, -1};
static char ch_path[LOG_CH__COUNT][1024];
static int json_lines;

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
void log_set_json(int on)
{
    json_lines = on;
}

static int open_channel(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* See log.h. Async-signal-safe. */
int log_reopen(void)
{
    int rc = 0;
    for (int i = 0; i < LOG_CH__COUNT; i++) {
        if (ch_fd[i] < 0)
            continue;
        int fd = open_channel(ch_path[i]);
        if (fd < 0) {
            rc = -1;
            continue;
        }
        if (fd != ch_fd[i]) {
            dup2(fd, ch_fd[i]);
            close(fd);
        }
    }
    return rc;
}

/* See log.h. */
int log_open_dir(const char *dir, char *err, size_t cap)
{
    for (int i = 0; i < LOG_CH__COUNT; i++) {
        int n = snprintf(ch_path[i], sizeof ch_path[i], "%s/%s", dir, ch_names[i]);
        if (n < 0 || (size_t)n >= sizeof ch_path[i]) {
            snprintf(err, cap, "JWTD_LOG_DIR: path too long");
            return -1;
        }
        int fd = open_channel(ch_path[i]);
        if (fd < 0) {
            snprintf(err, cap, "JWTD_LOG_DIR: cannot open %s: %s", ch_path[i], strerror(errno));
            for (int j = 0; j < i; j++) {
                close(ch_fd[j]);
                ch_fd[j] = -1;
            }
            return -1;
        }
        ch_fd[i] = fd;
    }
    return 0;
}

/*
 * Rewrites the key=value text line in (n bytes, no newline) as one JSON object into out.
 * Values: "quoted" (escapes \" \\ \xNN) become strings, bare integers numbers, other bare
 * words strings; a word without '=' goes under "text". Returns the length or -1.
 */
static int to_json(const char *in, int n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    int i = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 1 >= cap)                                                                          \
            return -1;                                                                             \
        out[o++] = (char)(c);                                                                      \
    } while (0)
    PUT('{');
    bool first = true;
    while (i < n) {
        while (i < n && in[i] == ' ')
            i++;
        if (i >= n)
            break;
        int ks = i;
        while (i < n && in[i] != '=' && in[i] != ' ')
            i++;
        int ke = i;
        if (!first)
            PUT(',');
        first = false;
        PUT('"');
        if (i >= n || in[i] != '=') {
            for (const char *t = "text"; *t; t++)
                PUT(*t);
            i = ks;
        } else {
            for (int k = ks; k < ke; k++)
                PUT(in[k] == '"' || in[k] == '\\' || (unsigned char)in[k] < 0x20 ? '_' : in[k]);
            i++; /* '=' */
        }
        PUT('"');
        PUT(':');
        if (i < n && in[i] == '"') {
            i++;
            PUT('"');
            while (i < n && in[i] != '"') {
                char c = in[i];
                if (c == '\\' && i + 1 < n) {
                    char e = in[i + 1];
                    if (e == 'x' && i + 3 < n) {
                        PUT('\\');
                        PUT('u');
                        PUT('0');
                        PUT('0');
                        PUT(in[i + 2]);
                        PUT(in[i + 3]);
                        i += 4;
                        continue;
                    }
                    PUT('\\');
                    PUT(e);
                    i += 2;
                    continue;
                }
                if ((unsigned char)c < 0x20) {
                    PUT('\\');
                    PUT('u');
                    PUT('0');
                    PUT('0');
                    PUT(hex[(unsigned char)c >> 4]);
                    PUT(hex[c & 15]);
                } else {
                    PUT(c);
                }
                i++;
            }
            i++; /* closing quote */
            PUT('"');
        } else {
            int vs = i;
            while (i < n && in[i] != ' ')
                i++;
            bool num = i > vs && i - vs < 19;
            for (int k = vs; k < i && num; k++)
                if (!((in[k] >= '0' && in[k] <= '9') || (k == vs && in[k] == '-' && i - vs > 1)))
                    num = false;
            if (!num)
                PUT('"');
            for (int k = vs; k < i; k++) {
                char c = in[k];
                if (c == '"' || c == '\\') {
                    PUT('\\');
                    PUT(c);
                } else if ((unsigned char)c < 0x20) {
                    PUT('?');
                } else {
                    PUT(c);
                }
            }
            if (!num)
                PUT('"');
        }
    }
    PUT('}');
#undef PUT
    return (int)o;
}

static void write_all(int fd, const char *p, int n)
{
    (void)fileio_write_all(fd, p, (size_t)n); /* nowhere to report a failed log write */
}

static void emit(int channel, char *line, int n, int text_at);

/* See log.h. */
void log_write(enum log_channel ch, enum log_level level, const char *module, const char *rid,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
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
    int text_at = -1;
    if (n > 0 && (size_t)n < sizeof line - 1) {
        line[n++] = ' ';
        text_at = n;
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        if (m > 0)
            n += m;
    }
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2; /* truncated: keep the line whole and newline-terminated */
    line[n] = '\0';
    if ((unsigned)ch >= LOG_CH__COUNT)
        ch = LOG_CH_SERVER;
    emit(ch, line, n, text_at);
}

/* Writes line (n bytes, NUL at n, room for one more byte) to its destination. */
static void emit(int channel, char *line, int n, int text_at)
{
    int fd = ch_fd[channel] >= 0         ? ch_fd[channel]
             : ch_fd[LOG_CH_SERVER] >= 0 ? ch_fd[LOG_CH_SERVER]
                                         : log_fd;
    if (json_lines) {
        char js[4096];
        int m = to_json(line, n, js, sizeof js - 1);
        (void)text_at;
        if (m > 0) {
            js[m++] = '\n';
            write_all(fd, js, m);
            return;
        }
    }
    line[n++] = '\n';
    write_all(fd, line, n);
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
    log_request_user(level, module, rid, method, target, status, bytes, duration_us, 0);
}

/* See log.h. */
void log_request_user(enum log_level level, const char *module, const char *rid, str_t method,
                      str_t target, int status, uint64_t bytes, uint64_t duration_us,
                      int64_t user_id)
{
    char m[40], path[300];
    if (!log_enabled(level))
        return;
    const char *q = target.len ? memchr(target.ptr, '?', target.len) : NULL;
    size_t plen = q ? (size_t)(q - target.ptr) : target.len;
    log_value_escape(m, sizeof m, method.ptr ? method.ptr : "", method.len > 32 ? 32 : method.len);
    log_value_escape(path, sizeof path, target.ptr ? target.ptr : "", plen > 256 ? 256 : plen);
    char uid[32] = "";
    if (user_id > 0)
        snprintf(uid, sizeof uid, " user_id=%lld", (long long)user_id);
    log_write(LOG_CH_ACCESS, level, module, rid,
              "msg=\"request\" method=%s path=\"%s%s\" status=%d bytes=%llu duration_us=%llu%s", m,
              path, plen > 256 ? "..." : "", status, (unsigned long long)bytes,
              (unsigned long long)duration_us, uid);
}

/*
 * log.c - levelled key=value lines on one fd (see log.h), request ids and access lines.
 *
 * Each line is formatted into a stack buffer and written with one write(2): no lock, no
 * interleaving between threads. Lines longer than the buffer are cut, never split.
 *
 * Access lines (LOG_CH_ACCESS, one per request) of a thread that called
 * log_thread_buffer_begin() (the event loops) are appended to that thread's buffer instead
 * (log_buffer_start) and leave in one write(2) when it fills, when the flusher thread finds
 * it non-empty (every flush interval), on log_flush() (SIGHUP, a second signal), at the end
 * of the thread and at log_buffer_stop(). Each buffer has a mutex, taken by its own thread
 * per line (never contended, but by the flusher once per interval), so another thread can
 * write it out at any time. A line for another channel written by a buffering thread to the
 * same descriptor first writes out the buffer: one thread's lines keep their order.
 *
 * DESIGN: timestamps are formatted once per second per thread (the date and time up to the
 * seconds, cached), the milliseconds appended; the access line in text format is built
 * directly, without printf: the per-request costs of a line that was written for every
 * request (perf: vsnprintf, snprintf, gmtime_r, the write(2) itself).
 *
 * With log_open_dir() each line goes to the file of its channel (see log.h). The file
 * descriptors never change once open: log_reopen() (on SIGHUP) opens the paths again and
 * dup2()s the new files over the old descriptors, so a writer racing with a rotation writes
 * either to the old file or to the new one, never to a closed descriptor.
 */
#include "runtime/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonw.h"
#include "common/text.h"
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

/* See log.h. */
int log_json_enabled(void)
{
    return json_lines;
}

static int open_channel(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
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

/* --- timestamps ------------------------------------------------------------------------ */

/* Length of "2026-11-22T11:00:00.123Z". */
#define TS_LEN 24

/* The thread's last formatted second: "YYYY-MM-DDTHH:MM:SS." (20 bytes). */
static _Thread_local struct {
    time_t sec;
    bool valid;
    char text[20];
} ts_cache;

/* Writes the current UTC time as "2026-11-22T11:00:00.123Z" into out (TS_LEN bytes, no NUL). */
static void timestamp(char out[TS_LEN])
{
    struct timespec tv;
    clock_gettime(CLOCK_REALTIME, &tv);
    if (!ts_cache.valid || tv.tv_sec != ts_cache.sec) {
        struct tm tm;
        char tmp[64];
        gmtime_r(&tv.tv_sec, &tm);
        snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        memcpy(ts_cache.text, tmp, sizeof ts_cache.text);
        ts_cache.sec = tv.tv_sec;
        ts_cache.valid = true;
    }
    unsigned ms = (unsigned)(tv.tv_nsec / 1000000);
    memcpy(out, ts_cache.text, sizeof ts_cache.text);
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
}

/* --- JSON lines ------------------------------------------------------------------------ */

/*
 * The caller's key=value text is turned into JSON members: "quoted" values (with
 * log_value_escape's escapes \" \\ \xNN) become strings, bare numbers numbers, other bare
 * words strings; words without '=' are joined under "text". Bytes that are not UTF-8 become
 * '?': a JSON line must stay valid whatever a client sent.
 */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Appends the n bytes at s as a JSON string, non-UTF-8 bytes replaced by '?' (in place). */
static void json_text(jsonw_t *w, char *s, size_t n)
{
    if (!text_utf8_valid((str_t){s, n}))
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)s[k] >= 0x80)
                s[k] = '?';
    jsonw_strn(w, s, n);
}

/* Decodes the quoted value starting after its opening quote at in[*i] into out (in place is
   fine: it only shrinks); stops at the closing quote or at n (a cut line). */
static size_t unquote(const char *in, int n, int *i, char *out)
{
    size_t o = 0;
    while (*i < n && in[*i] != '"') {
        char c = in[(*i)++];
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        if (*i >= n)
            break; /* a cut escape */
        char e = in[(*i)++];
        if (e == 'x') {
            int hi = *i + 1 < n ? hexval(in[*i]) : -1, lo = hi >= 0 ? hexval(in[*i + 1]) : -1;
            if (lo < 0)
                break;
            out[o++] = (char)(hi << 4 | lo);
            *i += 2;
        } else {
            out[o++] = e;
        }
    }
    if (*i < n)
        (*i)++; /* the closing quote */
    return o;
}

/* Whether v (len bytes) is a JSON number as written by %d, %llu or %.Nf. */
static bool is_number(const char *v, size_t len)
{
    size_t k = v[0] == '-' ? 1 : 0, digits = 0;
    bool dot = false;
    if (len == 0 || len > 24)
        return false;
    for (; k < len; k++) {
        if (v[k] == '.' && !dot && digits) {
            dot = true;
            if (k + 1 == len)
                return false;
        } else if (v[k] >= '0' && v[k] <= '9') {
            digits++;
        } else {
            return false;
        }
    }
    return digits && !(v[v[0] == '-'] == '0' && len > (size_t)(v[0] == '-') + 1 && !dot);
}

/* Appends the members of the key=value text in (n bytes; modified in place) to w. */
static void json_members(jsonw_t *w, char *in, int n)
{
    char words[512];
    size_t wl = 0;
    int i = 0;
    while (i < n) {
        while (i < n && in[i] == ' ')
            i++;
        int ks = i;
        while (i < n && in[i] != '=' && in[i] != ' ')
            i++;
        if (i == ks) { /* "=..." with no key: skip the '=' */
            i++;
            continue;
        }
        if (i >= n || in[i] != '=') { /* a bare word */
            size_t len = (size_t)(i - ks);
            if (wl + len + 1 < sizeof words) {
                if (wl)
                    words[wl++] = ' ';
                memcpy(words + wl, in + ks, len);
                wl += len;
            }
            continue;
        }
        char key[64];
        size_t kl = 0;
        for (int k = ks; k < i && kl < sizeof key - 1; k++) {
            char c = in[k];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.';
            key[kl++] = ok ? c : '_';
        }
        key[kl] = '\0';
        jsonw_raw(w, ",\"");
        jsonw_raw(w, key);
        jsonw_raw(w, "\":");
        i++; /* '=' */
        if (i < n && in[i] == '"') {
            i++;
            char *out = in + i;
            size_t len = unquote(in, n, &i, out);
            json_text(w, out, len);
            continue;
        }
        int vs = i;
        while (i < n && in[i] != ' ')
            i++;
        if (is_number(in + vs, (size_t)(i - vs))) {
            char num[32];
            memcpy(num, in + vs, (size_t)(i - vs)); /* is_number: at most 24 bytes */
            num[i - vs] = '\0';
            jsonw_raw(w, num);
        } else {
            json_text(w, in + vs, (size_t)(i - vs));
        }
    }
    if (wl) {
        jsonw_raw(w, ",\"text\":");
        json_text(w, words, wl);
    }
}

/*
 * Writes one JSON object: ts, level, module, request_id (if any), then the members of the
 * caller's text (msg n bytes, NUL-terminated, modified). If that does not fit in out, the
 * object carries a cut copy of the text under "text" instead. Returns the length.
 */
static int json_line(char *out, size_t cap, const char *ts, enum log_level level,
                     const char *module, const char *rid, char *msg, int n)
{
    char cut[768]; /* at most 6 bytes of JSON each (\u00XX): fits in the 6 KiB line */
    size_t cl = (size_t)n < sizeof cut ? (size_t)n : sizeof cut;
    memcpy(cut, msg, cl);
    for (int pass = 0; pass < 2; pass++) {
        jsonw_t w;
        jsonw_init(&w, out, cap);
        jsonw_raw(&w, "{\"ts\":");
        jsonw_str(&w, ts);
        jsonw_member(&w, "level", level_names[level]);
        jsonw_member(&w, "module", module);
        if (rid)
            jsonw_member(&w, "request_id", rid);
        if (pass == 0) {
            json_members(&w, msg, n);
        } else {
            jsonw_raw(&w, ",\"text\":");
            json_text(&w, cut, cl);
            jsonw_raw(&w, ",\"truncated\":true");
        }
        jsonw_raw(&w, "}");
        if (!jsonw_failed(&w))
            return (int)jsonw_len(&w);
    }
    return -1;
}

static void write_all(int fd, const char *p, int n)
{
    (void)fileio_write_all(fd, p, (size_t)n); /* nowhere to report a failed log write */
}

/* The descriptor of channel ch: its file, else error.log, else the log fd. */
static int channel_fd(enum log_channel ch)
{
    return ch_fd[ch] >= 0 ? ch_fd[ch] : ch_fd[LOG_CH_SERVER] >= 0 ? ch_fd[LOG_CH_SERVER] : log_fd;
}

/* --- buffered access lines ------------------------------------------------------------- */

/* One thread's buffer of access lines (see the top of the file). */
struct log_tbuf {
    pthread_mutex_t mu;
    size_t len;
    char *data; /* buf_cap bytes */
    struct log_tbuf *next;
};

static size_t buf_cap;        /* JWTD_LOG_BUFFER; 0 = unbuffered */
static int64_t flush_ms;      /* JWTD_LOG_FLUSH */
static struct log_tbuf *bufs; /* every live buffer, under bufs_mu */
static pthread_mutex_t bufs_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local struct log_tbuf *my_buf;

static pthread_t flusher;
static bool flusher_running, flusher_stop;
static pthread_mutex_t flusher_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flusher_cv;

/* Writes out b's lines; b->mu held. */
static void tbuf_flush_locked(struct log_tbuf *b)
{
    if (b->len) {
        write_all(channel_fd(LOG_CH_ACCESS), b->data, (int)b->len);
        b->len = 0;
    }
}

static void tbuf_flush(struct log_tbuf *b)
{
    pthread_mutex_lock(&b->mu);
    tbuf_flush_locked(b);
    pthread_mutex_unlock(&b->mu);
}

/* See log.h. */
void log_flush(void)
{
    pthread_mutex_lock(&bufs_mu);
    for (struct log_tbuf *b = bufs; b; b = b->next)
        tbuf_flush(b);
    pthread_mutex_unlock(&bufs_mu);
}

/* The flusher thread: every flush interval, writes out every non-empty buffer. */
static void *flusher_main(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the main loop's */
    pthread_mutex_lock(&flusher_mu);
    while (!flusher_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += flush_ms / 1000;
        until.tv_nsec += (long)(flush_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!flusher_stop && pthread_cond_timedwait(&flusher_cv, &flusher_mu, &until) == 0)
            ;
        pthread_mutex_unlock(&flusher_mu);
        log_flush();
        pthread_mutex_lock(&flusher_mu);
    }
    pthread_mutex_unlock(&flusher_mu);
    return NULL;
}

/* See log.h. */
int log_buffer_start(size_t bytes, int64_t interval_ms)
{
    if (bytes == 0 || buf_cap)
        return 0;
    buf_cap = bytes;
    flush_ms = interval_ms > 0 ? interval_ms : 1000;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&flusher_cv, &ca);
    pthread_condattr_destroy(&ca);
    flusher_stop = false;
    if (pthread_create(&flusher, NULL, flusher_main, NULL) != 0) {
        buf_cap = 0; /* unbuffered rather than lines that wait for the next full buffer */
        pthread_cond_destroy(&flusher_cv);
        return -1;
    }
    flusher_running = true;
    return 0;
}

/* See log.h. */
void log_buffer_stop(void)
{
    if (flusher_running) {
        pthread_mutex_lock(&flusher_mu);
        flusher_stop = true;
        pthread_cond_signal(&flusher_cv);
        pthread_mutex_unlock(&flusher_mu);
        pthread_join(flusher, NULL);
        pthread_cond_destroy(&flusher_cv);
        flusher_running = false;
    }
    log_flush();
    buf_cap = 0; /* threads still running write their lines directly from now on */
}

/* See log.h. */
void log_thread_buffer_begin(void)
{
    if (!buf_cap || my_buf)
        return;
    struct log_tbuf *b = calloc(1, sizeof *b);
    char *data = malloc(buf_cap);
    if (!b || !data) { /* unbuffered: logging never aborts the server */
        free(b);
        free(data);
        return;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->data = data;
    pthread_mutex_lock(&bufs_mu);
    b->next = bufs;
    bufs = b;
    pthread_mutex_unlock(&bufs_mu);
    my_buf = b;
}

/* See log.h. */
void log_thread_buffer_end(void)
{
    struct log_tbuf *b = my_buf;
    if (!b)
        return;
    pthread_mutex_lock(&bufs_mu);
    for (struct log_tbuf **p = &bufs; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    pthread_mutex_unlock(&bufs_mu);
    my_buf = NULL;
    tbuf_flush(b); /* no other thread can reach b any more */
    pthread_mutex_destroy(&b->mu);
    free(b->data);
    free(b);
}

/*
 * Sends one finished line (n bytes, newline included) to channel ch: into the thread's
 * buffer for an access line, else with one write(2), after the thread's buffered lines when
 * both go to the same descriptor.
 */
static void emit(enum log_channel ch, const char *line, size_t n)
{
    struct log_tbuf *b = my_buf;
    if (!b || !buf_cap) {
        write_all(channel_fd(ch), line, (int)n);
        return;
    }
    pthread_mutex_lock(&b->mu);
    if (ch != LOG_CH_ACCESS) {
        if (channel_fd(ch) == channel_fd(LOG_CH_ACCESS))
            tbuf_flush_locked(b);
        pthread_mutex_unlock(&b->mu);
        write_all(channel_fd(ch), line, (int)n);
        return;
    }
    if (b->len + n > buf_cap)
        tbuf_flush_locked(b);
    if (n > buf_cap)
        write_all(channel_fd(ch), line, (int)n);
    else {
        memcpy(b->data + b->len, line, n);
        b->len += n;
    }
    pthread_mutex_unlock(&b->mu);
}

/* See log.h. */
void log_write(enum log_channel ch, enum log_level level, const char *module, const char *rid,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[2048];
    char ts[TS_LEN + 1];
    timestamp(ts);
    ts[TS_LEN] = '\0';
    if ((unsigned)ch >= LOG_CH__COUNT)
        ch = LOG_CH_SERVER;
    if (json_lines) {
        int m = vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        if (m < 0)
            m = 0;
        if ((size_t)m >= sizeof line)
            m = (int)sizeof line - 1; /* cut: vsnprintf left a NUL at the end */
        char js[6144];
        int k = json_line(js, sizeof js - 1, ts, level, module, rid, line, m);
        if (k > 0) {
            js[k++] = '\n';
            emit(ch, js, (size_t)k);
        }
        return;
    }
    int n = snprintf(line, sizeof line, "ts=%s level=%s module=%s", ts, level_names[level], module);
    if (rid && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " request_id=%s", rid);
    if (n > 0 && (size_t)n < sizeof line - 1) {
        line[n++] = ' ';
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        if (m > 0)
            n += m;
    }
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2; /* truncated: keep the line whole and newline-terminated */
    line[n++] = '\n';
    emit(ch, line, (size_t)n);
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

/* Appends v in decimal at out; returns the length. */
static size_t put_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t put(char *out, const char *s, size_t n)
{
    memcpy(out, s, n);
    return n;
}

#define PUT_LIT(p, lit) ((p) += put((p), (lit), sizeof(lit) - 1))

/*
 * The access line in text format, without printf (it is written once per request): the
 * same bytes as log_write(LOG_CH_ACCESS, level, module, rid, "msg=\"request\" ...").
 * m and path are escaped (at most 40 and 300 bytes), module and rid at most 64 bytes.
 */
static void access_text(enum log_level level, const char *module, const char *rid, const char *m,
                        const char *path, bool cut, int status, uint64_t bytes,
                        uint64_t duration_us, int64_t user_id)
{
    char line[1024];
    char *p = line;
    size_t ml = strlen(module), rl = rid ? strlen(rid) : 0;
    PUT_LIT(p, "ts=");
    timestamp(p);
    p += TS_LEN;
    PUT_LIT(p, " level=");
    p += put(p, level_names[level], strlen(level_names[level]));
    PUT_LIT(p, " module=");
    p += put(p, module, ml);
    if (rid) {
        PUT_LIT(p, " request_id=");
        p += put(p, rid, rl);
    }
    PUT_LIT(p, " msg=\"request\" method=");
    p += put(p, m, strlen(m));
    PUT_LIT(p, " path=\"");
    p += put(p, path, strlen(path));
    if (cut)
        PUT_LIT(p, "...");
    PUT_LIT(p, "\" status=");
    if (status < 0) {
        *p++ = '-';
        p += put_u64(p, (uint64_t) - (int64_t)status);
    } else {
        p += put_u64(p, (uint64_t)status);
    }
    PUT_LIT(p, " bytes=");
    p += put_u64(p, bytes);
    PUT_LIT(p, " duration_us=");
    p += put_u64(p, duration_us);
    if (user_id > 0) {
        PUT_LIT(p, " user_id=");
        p += put_u64(p, (uint64_t)user_id);
    }
    *p++ = '\n';
    emit(LOG_CH_ACCESS, line, (size_t)(p - line));
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
    if (!json_lines && (unsigned)level <= LOG_ERROR && strnlen(module, 65) <= 64 &&
        (!rid || strnlen(rid, 65) <= 64)) {
        access_text(level, module, rid, m, path, plen > 256, status, bytes, duration_us, user_id);
        return;
    }
    char uid[32] = "";
    if (user_id > 0)
        snprintf(uid, sizeof uid, " user_id=%lld", (long long)user_id);
    log_write(LOG_CH_ACCESS, level, module, rid,
              "msg=\"request\" method=%s path=\"%s%s\" status=%d bytes=%llu duration_us=%llu%s", m,
              path, plen > 256 ? "..." : "", status, (unsigned long long)bytes,
              (unsigned long long)duration_us, uid);
}

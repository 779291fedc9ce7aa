/*
 * load.c - filling struct cfg from the table: defaults, config file, environment; and
 * writing it back out (`jwtd config`, docs/config.md).
 *
 * Everything here walks cfg_rows[] (table.c); no variable is special-cased except the
 * environment-dependent defaults and cross-variable checks of cfg_finish(). Messages name
 * the variable and quote the bad value, except for SECRET rows (value never printed) and
 * URL rows (password redacted). Unknown JWTD_* names are warnings, never errors, so that
 * an old config keeps working with a newer binary; they are queued and logged by
 * cfg_finish() once JWTD_LOG_LEVEL is known.
 *
 * Config-file syntax (a dotenv subset): one KEY=VALUE per line; blank lines and lines whose
 * first non-blank character is '#' are ignored; KEY may carry the JWTD_ prefix or not, in
 * any case; an optional leading "export " is ignored; VALUE is trimmed and may be wrapped in
 * one pair of matching single or double quotes (kept literally, no escapes).
 *
 * Not thread-safe: configuration is loaded once, before threads start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/table.h"

#define LOG_MODULE "config"
#include "common/err.h"
#include "common/text.h"
#include "runtime/alloc.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

#define CFG_FILE_MAX_BYTES   (1024 * 1024)
#define CFG_DEV_CORS_ORIGINS "http://localhost:3000,http://127.0.0.1:3000"

extern char **environ;

/* --- small helpers --------------------------------------------------------------------- */

/* Writes "where" + "name: " + formatted text into err (cap bytes; cap 0 writes nothing). */
__attribute__((format(printf, 5, 6))) static void errf(char *err, size_t cap, const char *where,
                                                       const char *name, const char *fmt, ...)
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

/* Quotes a value for a message: "..." with escapes, cut after 80 bytes. */
static const char *quoted(char *out, size_t cap, str_t v)
{
    char esc[200];
    bool cut = v.len > 80;
    log_value_escape(esc, sizeof esc, v.ptr, cut ? 80 : v.len);
    snprintf(out, cap, "\"%s%s\"", esc, cut ? "..." : "");
    return out;
}

static void *field(struct cfg *cfg, const struct cfg_row *row)
{
    return (char *)cfg + row->offset;
}

static const void *cfield(const struct cfg *cfg, const struct cfg_row *row)
{
    return (const char *)cfg + row->offset;
}

static bool is_string_type(enum cfg_type t)
{
    return t == CFG_T_STRING || t == CFG_T_PATH || t == CFG_T_SECRET;
}

/* Releases whatever the row's field owns and zeroes it. */
static void release_field(struct cfg *cfg, const struct cfg_row *row)
{
    void *f = field(cfg, row);
    if (is_string_type(row->type)) {
        char **s = f;
        if (*s && (row->flags & CFG_F_SECRET))
            free_secret(*s, strlen(*s));
        else
            free(*s);
        *s = NULL;
    } else if (row->type == CFG_T_CIDR_LIST) {
        ip_net_list_dispose(f);
    } else if (row->type == CFG_T_STRLIST) {
        cfg_strlist_dispose(f);
    }
}

/* Whether a query parameter name is one whose value must not be shown ("password", ...). */
static bool is_secret_param(str_t name)
{
    static const char suffix[] = "password";
    return name.len >= sizeof suffix - 1 &&
           str_eq_nocase(str_make(name.ptr + name.len - (sizeof suffix - 1), sizeof suffix - 1),
                         str_cstr(suffix));
}

/*
 * Appends url with its userinfo password ("user:PASS@") and the values of query parameters
 * named *password replaced by <redacted>. Errs on the side of hiding: the userinfo ends at
 * the last '@' before the query string, even when the password holds a raw '/'.
 */
static int append_redacted_url(buf_t *out, str_t url)
{
    int rc = 0;
    size_t pos = 0;
    const char *query = memchr(url.ptr, '?', url.len);
    size_t head = query ? (size_t)(query - url.ptr) : url.len;
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= head; i++)
        if (memcmp(url.ptr + i, "://", 3) == 0) {
            sep = url.ptr + i + 3;
            break;
        }
    if (sep) {
        const char *at = NULL, *colon = NULL;
        for (const char *p = sep; p < url.ptr + head; p++)
            if (*p == '@')
                at = p;
        if (at)
            colon = memchr(sep, ':', (size_t)(at - sep));
        if (colon) {
            rc |= buf_append(out, url.ptr, (size_t)(colon - url.ptr) + 1);
            rc |= buf_append_cstr(out, "<redacted>");
            pos = (size_t)(at - url.ptr);
        }
    }
    if (!query) {
        rc |= buf_append(out, url.ptr + pos, url.len - pos);
        return rc ? ERR_TOO_LARGE : 0;
    }
    rc |= buf_append(out, url.ptr + pos, head + 1 - pos); /* up to and including '?' */
    str_t rest = str_make(query + 1, url.len - head - 1);
    while (rest.len) {
        const char *amp = memchr(rest.ptr, '&', rest.len);
        str_t param = str_make(rest.ptr, amp ? (size_t)(amp - rest.ptr) : rest.len);
        const char *eq = memchr(param.ptr, '=', param.len);
        if (eq && is_secret_param(str_make(param.ptr, (size_t)(eq - param.ptr)))) {
            rc |= buf_append(out, param.ptr, (size_t)(eq - param.ptr) + 1);
            rc |= buf_append_cstr(out, "<redacted>");
        } else {
            rc |= buf_append_str(out, param);
        }
        if (amp)
            rc |= buf_append_char(out, '&');
        rest.ptr += param.len + (amp ? 1 : 0);
        rest.len -= param.len + (amp ? 1 : 0);
    }
    return rc ? ERR_TOO_LARGE : 0;
}

/* Formats a duration in the largest exact unit ("15m", "7d", "500ms"). */
static int append_duration_ms(buf_t *out, int64_t ms)
{
    static const struct {
        int64_t ms;
        const char *suffix;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    if (ms == 0)
        return buf_append_cstr(out, "0");
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0)
            return buf_printf(out, "%lld%s", (long long)(ms / units[i].ms), units[i].suffix);
    return buf_printf(out, "%lldms", (long long)ms);
}

/* Formats a row's bound (min or max) for a range message. */
static void format_bound(const struct cfg_row *row, int64_t v, char *out, size_t cap)
{
    buf_t b;
    buf_init(&b, 64);
    if (row->type == CFG_T_DURATION_S)
        append_duration_ms(&b, v * 1000);
    else if (row->type == CFG_T_DURATION_MS)
        append_duration_ms(&b, v);
    else
        buf_printf(&b, "%lld", (long long)v);
    snprintf(out, cap, "%s", b.data ? b.data : "");
    buf_dispose(&b);
}

static str_t strip_prefix(str_t name)
{
    if (name.len >= 5 && str_eq_nocase(str_make(name.ptr, 5), STR_LIT("JWTD_")))
        return str_make(name.ptr + 5, name.len - 5);
    return name;
}

/* The closest known name to an unknown one, or NULL when nothing is close. */
static const char *suggest(str_t name)
{
    str_t bare = strip_prefix(name);
    const char *best = NULL;
    size_t best_d = 3; /* suggest only within two edits, and not for very short names */
    for (size_t i = 0; i < cfg_rows_count; i++) {
        size_t d = text_edit_distance(bare, strip_prefix(str_cstr(cfg_rows[i].name)));
        if (d < best_d && d * 3 < bare.len) {
            best_d = d;
            best = cfg_rows[i].name;
        }
    }
    return best;
}

/* Queues a warning line (key=value text after level and module) until cfg_finish(). */
__attribute__((format(printf, 2, 3))) static void warn_later(struct cfg *cfg, const char *fmt, ...)
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

static void warn_unknown(struct cfg *cfg, str_t name, const char *where)
{
    char esc[160];
    const char *hint = suggest(name);
    log_value_escape(esc, sizeof esc, name.ptr, name.len > 100 ? 100 : name.len);
    warn_later(cfg, "msg=\"unknown configuration variable, ignored\" name=\"%s\" source=\"%s\"%s%s",
               esc, where, hint ? " did_you_mean=" : "", hint ? hint : "");
}

/* Drops the queued warnings. */
static void warnings_dispose(struct cfg *cfg)
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
    warnings_dispose(cfg);
}

/* --- lookup ---------------------------------------------------------------------------- */

/* See table.h. */
int cfg__row_find(str_t name)
{
    str_t bare = strip_prefix(name);
    for (size_t i = 0; i < cfg_rows_count; i++)
        if (str_eq_nocase(bare, strip_prefix(str_cstr(cfg_rows[i].name))))
            return (int)i;
    return -1;
}

/* See config.h. */
int cfg_source_of(const struct cfg *cfg, const char *name)
{
    int i = cfg__row_find(str_cstr(name));
    return i < 0 ? -1 : cfg->_source[i];
}

/* --- setting one row ------------------------------------------------------------------- */

/* What a type's syntax is called and an example of it, for syntax errors. */
static void syntax_words(enum cfg_type t, const char **kind, const char **hint)
{
    switch (t) {
    case CFG_T_BOOL:
        *kind = "boolean", *hint = "true/false, 1/0, yes/no, on/off";
        break;
    case CFG_T_INT:
    case CFG_T_UINT:
        *kind = "integer", *hint = "a whole number";
        break;
    case CFG_T_SIZE:
        *kind = "size", *hint = "e.g. 1048576, 16k, 1m";
        break;
    case CFG_T_DURATION_S:
    case CFG_T_DURATION_MS:
        *kind = "duration", *hint = "e.g. 900, 15m, 7d";
        break;
    case CFG_T_RATE:
        *kind = "rate", *hint = "e.g. 5/minute, 100/hour, 0 = unlimited";
        break;
    default:
        *kind = "value", *hint = "see docs/config.md";
        break;
    }
}

/* Parses a signed decimal integer, the whole of s (trimmed). */
static int parse_int64(str_t s, int64_t *out)
{
    char tmp[32];
    s = str_trim(s);
    if (s.len == 0 || s.len >= sizeof tmp)
        return ERR_CONFIG;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    for (size_t i = (tmp[0] == '-'); i < s.len; i++)
        if (tmp[i] < '0' || tmp[i] > '9')
            return ERR_CONFIG;
    if (tmp[0] == '-' && s.len == 1)
        return ERR_CONFIG;
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno)
        return ERR_CONFIG;
    *out = v;
    return 0;
}

/*
 * Parses value for row i and stores it, replacing (and releasing) the previous value only on
 * success. where prefixes messages ("file:12: " or ""). Returns 0 or ERR_CONFIG.
 */
static int set_row(struct cfg *cfg, size_t i, str_t value, enum cfg_source src, const char *where,
                   char *err, size_t cap)
{
    const struct cfg_row *row = &cfg_rows[i];
    const bool secret = (row->flags & CFG_F_SECRET) != 0;
    char q[256], lo[48], hi[48];
    void *f = field(cfg, row);

    /* the text shown for the value in messages: never a secret, never a URL password */
    if (secret) {
        snprintf(q, sizeof q, "(value not shown)");
    } else if (row->flags & CFG_F_URL) {
        buf_t b;
        buf_init(&b, 4096);
        append_redacted_url(&b, value);
        quoted(q, sizeof q, buf_str(&b));
        buf_dispose(&b);
    } else {
        quoted(q, sizeof q, value);
    }
    for (size_t k = 0; k < value.len; k++) {
        unsigned char c = (unsigned char)value.ptr[k];
        if (c < 0x20 || c == 0x7f) {
            errf(err, cap, where, row->name, "value %s contains a control character", q);
            return ERR_CONFIG;
        }
    }

    int64_t num = 0;
    bool is_num = true;
    switch (row->type) {
    case CFG_T_BOOL: {
        bool b;
        if (cfg_parse_bool(value, &b) != 0)
            goto syntax;
        *(bool *)f = b;
        is_num = false;
        break;
    }
    case CFG_T_INT:
    case CFG_T_UINT:
        if (parse_int64(value, &num) != 0)
            goto syntax;
        break;
    case CFG_T_SIZE: {
        uint64_t v;
        if (cfg_parse_size(value, &v) != 0 || v > (uint64_t)INT64_MAX)
            goto syntax;
        num = (int64_t)v;
        break;
    }
    case CFG_T_DURATION_S:
    case CFG_T_DURATION_MS:
        if (cfg_parse_duration_ms(value, &num) != 0)
            goto syntax;
        if (row->type == CFG_T_DURATION_S) {
            if (num % 1000 != 0) {
                errf(err, cap, where, row->name,
                     "%s is not a whole number of seconds (sub-second values are not supported "
                     "here)",
                     q);
                return ERR_CONFIG;
            }
            num /= 1000;
        }
        break;
    case CFG_T_RATE: {
        cfg_rate_t r;
        if (cfg_parse_rate(value, &r) != 0)
            goto syntax;
        *(cfg_rate_t *)f = r;
        is_num = false;
        break;
    }
    case CFG_T_ENUM: {
        str_t v = str_trim(value);
        for (int k = 0; row->values[k]; k++)
            if (str_eq_nocase(v, str_cstr(row->values[k]))) {
                *(int *)f = k;
                is_num = false;
                break;
            }
        if (is_num)
            goto choices;
        break;
    }
    case CFG_T_STRING:
    case CFG_T_PATH:
    case CFG_T_SECRET: {
        is_num = false;
        /* kept as given (a quoted file value may keep blanks); choices match trimmed */
        str_t v = row->values ? str_trim(value) : value;
        const char *canonical = NULL;
        if (v.len == 0) {
            if (!(row->flags & CFG_F_OPTIONAL)) {
                errf(err, cap, where, row->name, "must not be empty");
                return ERR_CONFIG;
            }
            release_field(cfg, row);
            break;
        }
        if (memchr(v.ptr, '\0', v.len)) {
            errf(err, cap, where, row->name, "value contains a NUL byte");
            return ERR_CONFIG;
        }
        if (row->values) {
            for (int k = 0; row->values[k]; k++)
                if (str_eq_nocase(v, str_cstr(row->values[k])))
                    canonical = row->values[k];
            if (!canonical)
                goto choices;
        }
        if ((int64_t)v.len < row->min || (row->max && (int64_t)v.len > row->max)) {
            if (row->max)
                errf(err, cap, where, row->name, "%s must be %lld to %lld bytes long (got %zu)",
                     secret ? "value" : q, (long long)row->min, (long long)row->max, v.len);
            else
                errf(err, cap, where, row->name, "%s is too short (%zu bytes, need at least %lld)",
                     secret ? "value" : q, v.len, (long long)row->min);
            return ERR_CONFIG;
        }
        char *copy = canonical ? xstrdup(canonical) : xstrndup(v.ptr, v.len);
        if (row->validate) {
            char why[200];
            if (row->validate(copy, why, sizeof why) != 0) {
                errf(err, cap, where, row->name, "invalid value %s (%s)", q, why);
                if (secret)
                    free_secret(copy, v.len);
                else
                    free(copy);
                return ERR_CONFIG;
            }
        }
        release_field(cfg, row);
        *(char **)f = copy;
        break;
    }
    case CFG_T_CIDR_LIST: {
        ip_net_list_t list;
        str_t bad = STR_NULL;
        is_num = false;
        if (ip_net_list_parse(value, &list, &bad) != 0) {
            char qb[256];
            errf(err, cap, where, row->name,
                 "invalid CIDR %s (expected e.g. 10.0.0.0/8, ::1/128, 127.0.0.1)",
                 quoted(qb, sizeof qb, bad));
            return ERR_CONFIG;
        }
        release_field(cfg, row);
        *(ip_net_list_t *)f = list;
        break;
    }
    case CFG_T_STRLIST: {
        cfg_strlist_t list;
        is_num = false;
        cfg_parse_strlist(value, &list);
        release_field(cfg, row);
        *(cfg_strlist_t *)f = list;
        break;
    }
    }

    if (is_num) {
        int64_t max = row->max;
        if (row->type == CFG_T_UINT && (max == 0 || max > (int64_t)UINT32_MAX))
            max = (int64_t)UINT32_MAX;
        if (row->type == CFG_T_INT && (max == 0 || max > (int64_t)INT32_MAX))
            max = (int64_t)INT32_MAX;
        if (num < row->min || (max && num > max)) {
            format_bound(row, row->min, lo, sizeof lo);
            format_bound(row, max, hi, sizeof hi);
            errf(err, cap, where, row->name, "%s is out of range (%s..%s)", q, lo, hi);
            return ERR_CONFIG;
        }
        switch (row->type) {
        case CFG_T_INT:
            *(int *)f = (int)num;
            break;
        case CFG_T_UINT:
            *(uint32_t *)f = (uint32_t)num;
            break;
        case CFG_T_SIZE:
            *(size_t *)f = (size_t)num;
            break;
        default:
            *(int64_t *)f = num;
            break;
        }
    }
    cfg->_source[i] = (unsigned char)src;
    if ((row->flags & CFG_F_DEPRECATED) && src != CFG_SRC_DEFAULT)
        warn_later(cfg, "msg=\"deprecated configuration variable\" name=%s", row->name);
    return 0;

syntax : {
    const char *kind, *hint;
    syntax_words(row->type, &kind, &hint);
    errf(err, cap, where, row->name, "invalid %s %s (expected %s)", kind, q, hint);
    return ERR_CONFIG;
}
choices : {
    buf_t b;
    buf_init(&b, 512);
    for (int k = 0; row->values[k]; k++)
        buf_printf(&b, "%s%s", k ? ", " : "", row->values[k]);
    errf(err, cap, where, row->name, "invalid value %s (expected one of: %s)", q,
         b.data ? b.data : "");
    buf_dispose(&b);
    return ERR_CONFIG;
}
}

/* See config.h. */
int cfg_set(struct cfg *cfg, const char *name, str_t value, enum cfg_source src, char *err,
            size_t cap)
{
    int i = cfg__row_find(str_cstr(name));
    if (i < 0) {
        char q[256];
        const char *hint = suggest(str_cstr(name));
        errf(err, cap, NULL, NULL, "unknown configuration variable %s%s%s%s",
             quoted(q, sizeof q, str_cstr(name)), hint ? " (did you mean " : "", hint ? hint : "",
             hint ? "?)" : "");
        return ERR_NOT_FOUND;
    }
    return set_row(cfg, (size_t)i, value, src, "", err, cap);
}

/* --- loading --------------------------------------------------------------------------- */

/* See config.h. */
int cfg_init_defaults(struct cfg *cfg, char *err, size_t cap)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < cfg_rows_count; i++) {
        if (!cfg_rows[i].def)
            continue;
        int rc =
            set_row(cfg, i, str_cstr(cfg_rows[i].def), CFG_SRC_DEFAULT, "default of ", err, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool is_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
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
            errf(err, cap, where, NULL, "NUL byte in line");
            return ERR_CONFIG;
        }
        if (line.len && line.ptr[line.len - 1] == '\r')
            line.len--;
        line = str_trim(line);
        if (line.len == 0 || line.ptr[0] == '#')
            continue;
        if (line.len > 7 && memcmp(line.ptr, "export", 6) == 0 &&
            (line.ptr[6] == ' ' || line.ptr[6] == '\t'))
            line = str_trim(str_make(line.ptr + 7, line.len - 7));
        const char *eq = memchr(line.ptr, '=', line.len);
        if (!eq) {
            errf(err, cap, where, NULL, "expected KEY=VALUE");
            return ERR_CONFIG;
        }
        str_t key = str_trim(str_make(line.ptr, (size_t)(eq - line.ptr)));
        str_t value = str_trim(str_make(eq + 1, (size_t)(line.ptr + line.len - (eq + 1))));
        bool key_ok = key.len > 0 && key.len <= 64;
        for (size_t k = 0; key_ok && k < key.len; k++)
            key_ok = is_key_char(key.ptr[k]);
        if (!key_ok) {
            char q[256];
            errf(err, cap, where, NULL, "invalid key %s (expected a name such as JWTD_LISTEN)",
                 quoted(q, sizeof q, key));
            return ERR_CONFIG;
        }
        int i = cfg__row_find(key);
        if (value.len && (value.ptr[0] == '"' || value.ptr[0] == '\'')) {
            if (value.len < 2 || value.ptr[value.len - 1] != value.ptr[0]) {
                char k[80];
                snprintf(k, sizeof k, "%.*s", (int)key.len, key.ptr);
                errf(err, cap, where, i >= 0 ? cfg_rows[i].name : k, "unterminated quote");
                return ERR_CONFIG;
            }
            value = str_make(value.ptr + 1, value.len - 2);
        }
        if (i < 0) {
            where[strlen(where) - 2] = '\0'; /* "file:12" */
            warn_unknown(cfg, key, where);
            continue;
        }
        int rc = set_row(cfg, (size_t)i, value, CFG_SRC_FILE, where, err, cap);
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
        errf(err, cap, NULL, NULL, "cannot read config file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CFG_FILE_MAX_BYTES) {
        errf(err, cap, NULL, NULL, "config file %s: %s", path,
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
            errf(err, cap, NULL, NULL, "cannot read config file %s: %s", path, strerror(errno));
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

static bool env_ignored(str_t name)
{
    if (str_starts_with(name, STR_LIT("JWTD_TEST_")))
        return true;
    for (size_t i = 0; cfg_env_ignored[i]; i++)
        if (str_eq_cstr(name, cfg_env_ignored[i]))
            return true;
    return false;
}

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
        if (env_ignored(name))
            continue;
        int i = -1;
        for (size_t k = 0; k < cfg_rows_count; k++)
            if (str_eq_cstr(name, cfg_rows[k].name))
                i = (int)k; /* environment names are exact */
        if (i < 0) {
            warn_unknown(cfg, name, "environment");
            continue;
        }
        int rc = set_row(cfg, (size_t)i, str_cstr(eq + 1), CFG_SRC_ENV, "", err, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* See config.h. */
int cfg_finish(struct cfg *cfg, char *err, size_t cap)
{
    int cors = cfg__row_find(STR_LIT("CORS_ALLOWED_ORIGINS"));
    if (cors >= 0 && cfg->_source[cors] == CFG_SRC_DEFAULT &&
        cfg->environment == CFG_ENV_DEVELOPMENT && cfg->cors_allowed_origins.count == 0) {
        int rc = set_row(cfg, (size_t)cors, STR_LIT(CFG_DEV_CORS_ORIGINS), CFG_SRC_DEFAULT,
                         "default of ", err, cap);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < cfg_rows_count; i++) {
        const struct cfg_row *row = &cfg_rows[i];
        if ((row->flags & CFG_F_REQUIRED) && is_string_type(row->type) &&
            *(char *const *)cfield(cfg, row) == NULL) {
            errf(err, cap, NULL, row->name, "is required");
            return ERR_CONFIG;
        }
    }
    if (cfg->secret_key && cfg->secret_key_file) {
        errf(err, cap, NULL, NULL,
             "JWTD_SECRET_KEY and JWTD_SECRET_KEY_FILE are both set; set only one");
        return ERR_CONFIG;
    }
    warnings_flush(cfg);
    return 0;
}

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

/* See config.h. */
void cfg_dispose(struct cfg *cfg)
{
    for (size_t i = 0; i < cfg_rows_count; i++)
        release_field(cfg, &cfg_rows[i]);
    warnings_dispose(cfg);
    memset(cfg, 0, sizeof *cfg);
}

/* --- output ---------------------------------------------------------------------------- */

/* Whether a formatted value would not read back as itself from a config file unquoted. */
static bool needs_quotes(str_t v)
{
    return v.len &&
           (v.ptr[0] == ' ' || v.ptr[0] == '"' || v.ptr[0] == '\'' || v.ptr[v.len - 1] == ' ');
}

/* See table.h. */
int cfg__format_value(const struct cfg *cfg, const struct cfg_row *row, buf_t *out, bool reveal)
{
    const void *f = cfield(cfg, row);
    buf_t v;
    int rc = 0;
    buf_init(&v, out->max_len);
    switch (row->type) {
    case CFG_T_BOOL:
        rc = buf_append_cstr(&v, *(const bool *)f ? "true" : "false");
        break;
    case CFG_T_INT:
        rc = buf_printf(&v, "%d", *(const int *)f);
        break;
    case CFG_T_UINT:
        rc = buf_printf(&v, "%u", *(const uint32_t *)f);
        break;
    case CFG_T_SIZE:
        rc = buf_printf(&v, "%zu", *(const size_t *)f);
        break;
    case CFG_T_DURATION_S:
        rc = append_duration_ms(&v, *(const int64_t *)f * 1000);
        break;
    case CFG_T_DURATION_MS:
        rc = append_duration_ms(&v, *(const int64_t *)f);
        break;
    case CFG_T_ENUM:
        rc = buf_append_cstr(&v, row->values[*(const int *)f]);
        break;
    case CFG_T_STRING:
    case CFG_T_PATH:
    case CFG_T_SECRET: {
        const char *s = *(char *const *)f;
        if ((row->flags & CFG_F_SECRET) && !reveal)
            rc = buf_append_cstr(&v, s ? "<redacted>" : "<unset>");
        else if (s && (row->flags & CFG_F_URL) && !reveal)
            rc = append_redacted_url(&v, str_cstr(s));
        else if (s)
            rc = buf_append_cstr(&v, s);
        break;
    }
    case CFG_T_RATE: {
        const cfg_rate_t *r = f;
        const char *per = r->period_s == 1       ? "second"
                          : r->period_s == 60    ? "minute"
                          : r->period_s == 3600  ? "hour"
                          : r->period_s == 86400 ? "day"
                                                 : NULL;
        if (r->count == 0)
            rc = buf_append_cstr(&v, "0");
        else if (per)
            rc = buf_printf(&v, "%u/%s", r->count, per);
        else {
            rc = buf_printf(&v, "%u/", r->count);
            rc |= append_duration_ms(&v, (int64_t)r->period_s * 1000);
        }
        break;
    }
    case CFG_T_CIDR_LIST: {
        const ip_net_list_t *l = f;
        for (size_t i = 0; i < l->count && rc == 0; i++) {
            char text[IP_TEXT_MAX + 8];
            if (i)
                rc = buf_append_char(&v, ',');
            rc |= buf_append(&v, text, ip_net_format(&l->items[i], text, sizeof text));
        }
        break;
    }
    case CFG_T_STRLIST: {
        const cfg_strlist_t *l = f;
        for (size_t i = 0; i < l->count && rc == 0; i++)
            rc = buf_printf(&v, "%s%s", i ? "," : "", l->items[i]);
        break;
    }
    }
    if (rc == 0) {
        str_t s = buf_str(&v);
        if (needs_quotes(s))
            rc = buf_printf(out, "\"%.*s\"", STR_FMT(s));
        else
            rc = buf_append_str(out, s);
    }
    if (row->flags & CFG_F_SECRET)
        buf_dispose_secret(&v);
    else
        buf_dispose(&v);
    return rc ? ERR_TOO_LARGE : 0;
}

/* See table.h. */
int cfg__format(const struct cfg *cfg, buf_t *out, bool reveal)
{
    for (size_t i = 0; i < cfg_rows_count; i++) {
        int rc = buf_printf(out, "%s=", cfg_rows[i].name);
        rc |= cfg__format_value(cfg, &cfg_rows[i], out, reveal);
        rc |= buf_append_char(out, '\n');
        if (rc)
            return ERR_TOO_LARGE;
    }
    return 0;
}

static void write_all(int fd, str_t s)
{
    (void)fileio_write_all(fd, s.ptr, s.len); /* stdout of `jwtd config`: nothing to do */
}

/* See config.h. */
void cfg_dump(const struct cfg *cfg, int fd)
{
    buf_t b;
    buf_init(&b, 1024 * 1024);
    cfg__format(cfg, &b, false);
    write_all(fd, buf_str(&b));
    buf_dispose(&b);
}

/* The type column of the Markdown reference. */
static const char *type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_T_BOOL:
        return "bool";
    case CFG_T_INT:
    case CFG_T_UINT:
        return "integer";
    case CFG_T_SIZE:
        return "size";
    case CFG_T_DURATION_S:
        return "duration (s)";
    case CFG_T_DURATION_MS:
        return "duration (ms)";
    case CFG_T_STRING:
        return "string";
    case CFG_T_PATH:
        return "path";
    case CFG_T_ENUM:
        return "enum";
    case CFG_T_SECRET:
        return "secret";
    case CFG_T_RATE:
        return "rate";
    case CFG_T_CIDR_LIST:
        return "CIDR list";
    case CFG_T_STRLIST:
        return "list";
    }
    return "?";
}

/* See config.h. */
void cfg_markdown(int fd)
{
    buf_t b;
    buf_init(&b, 1024 * 1024);
    buf_append_cstr(
        &b, "# jwtd configuration reference\n"
            "\n"
            "<!-- Generated by `jwtd config --markdown` from src/config/table.c; do not edit. -->\n"
            "\n"
            "Every variable can be set in the environment or, without or with the `JWTD_` prefix,\n"
            "in a file given by `--config FILE`: one `KEY=VALUE` per line, lines starting with\n"
            "`#` are comments (a `#` after a value is part of the value), a value may be\n"
            "wrapped in single or double quotes to keep blanks. Precedence: environment, then\n"
            "file, then the default below. Unknown names are logged as warnings.\n"
            "`jwtd config` prints the effective values, secrets redacted.\n"
            "\n"
            "Value syntax:\n"
            "\n"
            "- **duration**: `900` (seconds), `500ms`, `10s`, `15m`, `2h`, `7d`, `1w`; a\n"
            "  duration (s) variable rejects sub-second values.\n"
            "- **size**: bytes, `1048576`, or with a 1024-based suffix: `16k`, `1m`, `1g`.\n"
            "- **rate**: `COUNT/PERIOD` with PERIOD `second`, `minute`, `hour`, `day` or a\n"
            "  duration (`5/15m`); `0` = unlimited.\n"
            "- **bool**: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.\n"
            "- **CIDR list**: comma-separated networks, `10.0.0.0/8, ::1/128, 127.0.0.1` (a bare\n"
            "  address is a /32 or /128).\n"
            "- **list**: comma-separated, blanks trimmed.\n"
            "- **secret**: never printed by jwtd; prefer the `_FILE` variant.\n"
            "\n"
            "| variable | type | default | meaning |\n"
            "|---|---|---|---|\n");
    for (size_t i = 0; i < cfg_rows_count; i++) {
        const struct cfg_row *row = &cfg_rows[i];
        buf_printf(&b, "| `%s` | %s", row->name, type_name(row->type));
        if (row->values) {
            buf_append_cstr(&b, ": ");
            for (int k = 0; row->values[k]; k++)
                buf_printf(&b, "%s`%s`", k ? ", " : "", row->values[k]);
        }
        if (row->def_doc)
            buf_printf(&b, " | %s | ", row->def_doc);
        else if (row->def && row->def[0])
            buf_printf(&b, " | `%s` | ", row->def);
        else
            buf_append_cstr(&b, " | unset | ");
        buf_append_cstr(&b, row->help);
        bool numeric = row->type == CFG_T_INT || row->type == CFG_T_UINT ||
                       row->type == CFG_T_SIZE || row->type == CFG_T_DURATION_S ||
                       row->type == CFG_T_DURATION_MS;
        if (numeric && (row->min || row->max)) {
            char lo[48], hi[48];
            format_bound(row, row->min, lo, sizeof lo);
            format_bound(row, row->max, hi, sizeof hi);
            buf_printf(&b, " (%s..%s)", lo, hi);
        }
        buf_append_cstr(&b, " |\n");
    }
    write_all(fd, buf_str(&b));
    buf_dispose(&b);
}

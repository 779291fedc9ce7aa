/*
 * types.c - the value types of the configuration: one row of cfg_types[] per enum cfg_type
 * with everything that differs between types - how text parses into the C field (and the
 * message when it does not), how the field prints back as text that parses to the same
 * value, what releasing it means, what docs/config.md calls it and how it explains the
 * syntax - and how values appear in messages (quoted, secrets hidden, URL passwords
 * redacted).
 *
 * Not here: which variable has which type, default and bounds (table.c); the grammar of
 * durations, sizes, rates and lists (parse.c, shared with tests) and of CIDRs
 * (common/ip.h); storing a parsed value and recording its source (apply.c); the quoting of
 * a whole config-file line (output.c).
 */
#include "config/table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* --- values in messages ----------------------------------------------------------------- */

/* See table.h. */
const char *cfg__quote(char *out, size_t cap, str_t v)
{
    char esc[200];
    bool cut = v.len > 80;
    log_value_escape(esc, sizeof esc, v.ptr, cut ? 80 : v.len);
    snprintf(out, cap, "\"%s%s\"", esc, cut ? "..." : "");
    return out;
}

/* Whether a query parameter name is one whose value must not be shown ("password", ...). */
static bool is_secret_param(str_t name)
{
    static const char suffix[] = "password";
    return name.len >= sizeof suffix - 1 &&
           str_eq_nocase(str_make(name.ptr + name.len - (sizeof suffix - 1), sizeof suffix - 1),
                         str_cstr(suffix));
}

/* Appends the query string rest with the values of *password parameters redacted. */
static int append_redacted_query(buf_t *out, str_t rest)
{
    int rc = 0;
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
    return rc;
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
    rc |= append_redacted_query(out, str_make(query + 1, url.len - head - 1));
    return rc ? ERR_TOO_LARGE : 0;
}

/* See table.h. */
void cfg__value_shown(const struct cfg_row *row, str_t value, char *out, size_t cap)
{
    if (cfg_types[row->type].secret) {
        snprintf(out, cap, "(value not shown)");
    } else if (row->flags & CFG_F_URL) {
        buf_t b;
        buf_init(&b, 4096);
        append_redacted_url(&b, value);
        cfg__quote(out, cap, buf_str(&b));
        buf_dispose(&b);
    } else {
        cfg__quote(out, cap, value);
    }
}

/* The message for text that does not follow the row type's syntax. */
static int syntax_error(const struct cfg_row *row, const char *shown, char *why, size_t cap)
{
    const struct cfg_type_ops *t = &cfg_types[row->type];
    snprintf(why, cap, "invalid %s %s (expected %s)", t->kind, shown, t->hint);
    return ERR_CONFIG;
}

/* --- numbers ---------------------------------------------------------------------------- */

/* Parses a signed decimal integer, the whole of s (trimmed). */
static int parse_int64(str_t s, int64_t *out)
{
    char tmp[32];
    s = str_trim(s);
    if (s.len == 0 || !str_copy_cstr(s, tmp, sizeof tmp))
        return ERR_CONFIG;
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

/* A duration in the largest exact unit ("15m", "7d", "500ms"). */
static int number_ms(int64_t ms, buf_t *out)
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

static int number_seconds(int64_t s, buf_t *out)
{
    return number_ms(s * 1000, out);
}

static int number_plain(int64_t v, buf_t *out)
{
    return buf_printf(out, "%lld", (long long)v);
}

/* Checks n against the row's bounds, capped by what the type's C type holds. */
static int in_range(const struct cfg_row *row, int64_t n, const char *shown, char *why, size_t cap)
{
    const struct cfg_type_ops *t = &cfg_types[row->type];
    int64_t max = row->max;
    if (t->limit && (max == 0 || max > t->limit))
        max = t->limit;
    if (n >= row->min && (max == 0 || n <= max))
        return 0;
    buf_t lo, hi;
    buf_init(&lo, 64);
    buf_init(&hi, 64);
    t->number(row->min, &lo);
    t->number(max, &hi);
    snprintf(why, cap, "%s is out of range (%s..%s)", shown, lo.data ? lo.data : "",
             hi.data ? hi.data : "");
    buf_dispose(&lo);
    buf_dispose(&hi);
    return ERR_CONFIG;
}

/* Whole numbers: int and uint32_t fields. */
static int parse_whole(const struct cfg_row *row, str_t text, const char *shown, int64_t *n,
                       char *why, size_t cap)
{
    if (parse_int64(text, n) != 0)
        return syntax_error(row, shown, why, cap);
    return in_range(row, *n, shown, why, cap);
}

static int parse_int(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                     char *why, size_t cap)
{
    int64_t n;
    int rc = parse_whole(row, text, shown, &n, why, cap);
    if (rc == 0)
        out->i = (int)n;
    return rc;
}

static int format_int(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    return number_plain(*(const int *)field, out);
}

static int parse_uint(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                      char *why, size_t cap)
{
    int64_t n;
    int rc = parse_whole(row, text, shown, &n, why, cap);
    if (rc == 0)
        out->u = (uint32_t)n;
    return rc;
}

static int format_uint(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    return number_plain(*(const uint32_t *)field, out);
}

static int parse_size(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                      char *why, size_t cap)
{
    uint64_t v;
    if (cfg_parse_size(text, &v) != 0 || v > (uint64_t)INT64_MAX)
        return syntax_error(row, shown, why, cap);
    if (in_range(row, (int64_t)v, shown, why, cap) != 0)
        return ERR_CONFIG;
    out->z = (size_t)v;
    return 0;
}

static int format_size(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    return number_plain((int64_t)(*(const size_t *)field), out);
}

/* Durations stored in units of unit_ms milliseconds (1 or 1000). */
static int parse_duration(const struct cfg_row *row, str_t text, const char *shown, int64_t unit_ms,
                          cfg_value_t *out, char *why, size_t cap)
{
    int64_t ms;
    if (cfg_parse_duration_ms(text, &ms) != 0)
        return syntax_error(row, shown, why, cap);
    if (ms % unit_ms != 0) {
        snprintf(why, cap,
                 "%s is not a whole number of seconds (sub-second values are not supported here)",
                 shown);
        return ERR_CONFIG;
    }
    if (in_range(row, ms / unit_ms, shown, why, cap) != 0)
        return ERR_CONFIG;
    out->n = ms / unit_ms;
    return 0;
}

static int parse_duration_s(const struct cfg_row *row, str_t text, const char *shown,
                            cfg_value_t *out, char *why, size_t cap)
{
    return parse_duration(row, text, shown, 1000, out, why, cap);
}

static int format_duration_s(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    return number_seconds(*(const int64_t *)field, out);
}

static int parse_duration_ms(const struct cfg_row *row, str_t text, const char *shown,
                             cfg_value_t *out, char *why, size_t cap)
{
    return parse_duration(row, text, shown, 1, out, why, cap);
}

static int format_duration_ms(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    return number_ms(*(const int64_t *)field, out);
}

/* --- booleans and rates ----------------------------------------------------------------- */

static int parse_bool(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                      char *why, size_t cap)
{
    if (cfg_parse_bool(text, &out->b) != 0)
        return syntax_error(row, shown, why, cap);
    return 0;
}

static int format_bool(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    return buf_append_cstr(out, *(const bool *)field ? "true" : "false");
}

static int parse_rate(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                      char *why, size_t cap)
{
    if (cfg_parse_rate(text, &out->rate) != 0)
        return syntax_error(row, shown, why, cap);
    return 0;
}

/* "0", "5/minute" for the named periods, "5/15m" for any other. */
static int format_rate(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    const cfg_rate_t *r = field;
    const char *per = r->period_s == 1       ? "second"
                      : r->period_s == 60    ? "minute"
                      : r->period_s == 3600  ? "hour"
                      : r->period_s == 86400 ? "day"
                                             : NULL;
    if (r->count == 0)
        return buf_append_cstr(out, "0");
    if (per)
        return buf_printf(out, "%u/%s", r->count, per);
    int rc = buf_printf(out, "%u/", r->count);
    return rc | number_seconds(r->period_s, out);
}

/* --- choices ---------------------------------------------------------------------------- */

/* Index of v (trimmed, any case) in the row's choices; or the message listing them. */
static int choice_of(const struct cfg_row *row, str_t v, const char *shown, int *k, char *why,
                     size_t cap)
{
    v = str_trim(v);
    for (int i = 0; row->values[i]; i++)
        if (str_eq_nocase(v, str_cstr(row->values[i]))) {
            *k = i;
            return 0;
        }
    buf_t b;
    buf_init(&b, 512);
    for (int i = 0; row->values[i]; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", row->values[i]);
    snprintf(why, cap, "invalid value %s (expected one of: %s)", shown, b.data ? b.data : "");
    buf_dispose(&b);
    return ERR_CONFIG;
}

static int parse_enum(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                      char *why, size_t cap)
{
    return choice_of(row, text, shown, &out->i, why, cap);
}

static int format_enum(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    return buf_append_cstr(out, row->values[*(const int *)field]);
}

/* --- strings, paths and secrets --------------------------------------------------------- */

static void release_text(void *field)
{
    char **s = field;
    free(*s);
    *s = NULL;
}

static void release_secret(void *field)
{
    char **s = field;
    if (*s)
        free_secret(*s, strlen(*s));
    *s = NULL;
}

/* The length bounds of a string row (min, max in bytes; max 0 = none). */
static int length_ok(const struct cfg_row *row, str_t v, const char *shown, char *why, size_t cap)
{
    if ((int64_t)v.len >= row->min && (row->max == 0 || (int64_t)v.len <= row->max))
        return 0;
    if (cfg_types[row->type].secret)
        shown = "value";
    if (row->max)
        snprintf(why, cap, "%s must be %lld to %lld bytes long (got %zu)", shown,
                 (long long)row->min, (long long)row->max, v.len);
    else
        snprintf(why, cap, "%s is too short (%zu bytes, need at least %lld)", shown, v.len,
                 (long long)row->min);
    return ERR_CONFIG;
}

/*
 * A string is kept as given (a quoted file value may keep blanks); with choices it is
 * matched trimmed and stored in its canonical spelling. Empty is unset for OPTIONAL rows.
 */
static int parse_text(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                      char *why, size_t cap)
{
    str_t v = row->values ? str_trim(text) : text;
    int k = -1;
    if (v.len == 0) {
        if (!(row->flags & CFG_F_OPTIONAL)) {
            snprintf(why, cap, "must not be empty");
            return ERR_CONFIG;
        }
        out->s = NULL;
        return 0;
    }
    if (row->values && choice_of(row, v, shown, &k, why, cap) != 0)
        return ERR_CONFIG;
    if (length_ok(row, v, shown, why, cap) != 0)
        return ERR_CONFIG;
    out->s = k >= 0 ? xstrdup(row->values[k]) : xstrndup(v.ptr, v.len);
    if (row->validate) {
        char reason[200];
        if (row->validate(out->s, reason, sizeof reason) != 0) {
            snprintf(why, cap, "invalid value %s (%s)", shown, reason);
            cfg_types[row->type].release(&out->s);
            return ERR_CONFIG;
        }
    }
    return 0;
}

static int format_text(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    const char *s = *(char *const *)field;
    if (!s)
        return 0;
    if ((row->flags & CFG_F_URL) && !reveal)
        return append_redacted_url(out, str_cstr(s));
    return buf_append_cstr(out, s);
}

static int format_secret(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    const char *s = *(char *const *)field;
    if (!reveal)
        return buf_append_cstr(out, s ? "<redacted>" : "<unset>");
    return s ? buf_append_cstr(out, s) : 0;
}

/* --- lists ------------------------------------------------------------------------------ */

static int parse_cidr_list(const struct cfg_row *row, str_t text, const char *shown,
                           cfg_value_t *out, char *why, size_t cap)
{
    str_t bad = STR_NULL;
    if (ip_net_list_parse(text, &out->nets, &bad) != 0) {
        char q[256];
        snprintf(why, cap, "invalid CIDR %s (expected e.g. 10.0.0.0/8, ::1/128, 127.0.0.1)",
                 cfg__quote(q, sizeof q, bad));
        return ERR_CONFIG;
    }
    return 0;
}

static int format_cidr_list(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    const ip_net_list_t *l = field;
    int rc = 0;
    for (size_t i = 0; i < l->count && rc == 0; i++) {
        char text[IP_TEXT_MAX + 8];
        if (i)
            rc = buf_append_char(out, ',');
        rc |= buf_append(out, text, ip_net_format(&l->items[i], text, sizeof text));
    }
    return rc;
}

static void release_cidr_list(void *field)
{
    ip_net_list_dispose(field);
}

/* A list; with a validator, each item must pass it. */
static int parse_strlist(const struct cfg_row *row, str_t text, const char *shown, cfg_value_t *out,
                         char *why, size_t cap)
{
    int rc = cfg_parse_strlist(text, &out->list);
    for (size_t i = 0; rc == 0 && row->validate && i < out->list.count; i++) {
        char reason[200], item[100];
        if (row->validate(out->list.items[i], reason, sizeof reason) != 0) {
            cfg__quote(item, sizeof item, str_cstr(out->list.items[i]));
            snprintf(why, cap, "invalid item %s (%s)", item, reason);
            cfg_strlist_dispose(&out->list);
            rc = ERR_CONFIG;
        }
    }
    return rc;
}

static int format_strlist(const struct cfg_row *row, const void *field, bool reveal, buf_t *out)
{
    const cfg_strlist_t *l = field;
    int rc = 0;
    for (size_t i = 0; i < l->count && rc == 0; i++)
        rc = buf_printf(out, "%s%s", i ? "," : "", l->items[i]);
    return rc;
}

static void release_strlist(void *field)
{
    cfg_strlist_dispose(field);
}

/* --- the table -------------------------------------------------------------------------- */

/*
 * See table.h. Syntax texts are docs/config.md's bullets, line breaks included; kind and
 * hint are only needed by types whose parser reports syntax_error().
 */
const struct cfg_type_ops cfg_types[CFG_T_COUNT] = {
    [CFG_T_DURATION_S] = {.name = "duration (s)",
                          .syntax = "**duration**: `900` (seconds), `500ms`, `10s`, `15m`, `2h`, "
                                    "`7d`, `1w`; a\n  duration (s) variable rejects sub-second "
                                    "values.",
                          .kind = "duration",
                          .hint = "e.g. 900, 15m, 7d",
                          .size = sizeof(int64_t),
                          .parse = parse_duration_s,
                          .format = format_duration_s,
                          .number = number_seconds},
    [CFG_T_DURATION_MS] = {.name = "duration (ms)",
                           .kind = "duration",
                           .hint = "e.g. 900, 15m, 7d",
                           .size = sizeof(int64_t),
                           .parse = parse_duration_ms,
                           .format = format_duration_ms,
                           .number = number_ms},
    [CFG_T_SIZE] = {.name = "size",
                    .syntax = "**size**: bytes, `1048576`, or with a 1024-based suffix: `16k`, "
                              "`1m`, `1g`.",
                    .kind = "size",
                    .hint = "e.g. 1048576, 16k, 1m",
                    .size = sizeof(size_t),
                    .parse = parse_size,
                    .format = format_size,
                    .number = number_plain},
    [CFG_T_RATE] = {.name = "rate",
                    .syntax = "**rate**: `COUNT/PERIOD` with PERIOD `second`, `minute`, `hour`, "
                              "`day` or a\n  duration (`5/15m`); `0` = unlimited.",
                    .kind = "rate",
                    .hint = "e.g. 5/minute, 100/hour, 0 = unlimited",
                    .size = sizeof(cfg_rate_t),
                    .parse = parse_rate,
                    .format = format_rate},
    [CFG_T_BOOL] = {.name = "bool",
                    .syntax = "**bool**: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.",
                    .kind = "boolean",
                    .hint = "true/false, 1/0, yes/no, on/off",
                    .size = sizeof(bool),
                    .parse = parse_bool,
                    .format = format_bool},
    [CFG_T_CIDR_LIST] = {.name = "CIDR list",
                         .syntax = "**CIDR list**: comma-separated networks, `10.0.0.0/8, "
                                   "::1/128, 127.0.0.1` (a bare\n  address is a /32 or /128).",
                         .size = sizeof(ip_net_list_t),
                         .parse = parse_cidr_list,
                         .format = format_cidr_list,
                         .release = release_cidr_list},
    [CFG_T_STRLIST] = {.name = "list",
                       .syntax = "**list**: comma-separated, blanks trimmed.",
                       .size = sizeof(cfg_strlist_t),
                       .parse = parse_strlist,
                       .format = format_strlist,
                       .release = release_strlist},
    [CFG_T_SECRET] = {.name = "secret",
                      .syntax = "**secret**: never printed by jwtd; prefer the `_FILE` variant.",
                      .size = sizeof(char *),
                      .secret = true,
                      .parse = parse_text,
                      .format = format_secret,
                      .release = release_secret},
    [CFG_T_INT] = {.name = "integer",
                   .kind = "integer",
                   .hint = "a whole number",
                   .size = sizeof(int),
                   .limit = INT32_MAX,
                   .parse = parse_int,
                   .format = format_int,
                   .number = number_plain},
    [CFG_T_UINT] = {.name = "integer",
                    .kind = "integer",
                    .hint = "a whole number",
                    .size = sizeof(uint32_t),
                    .limit = UINT32_MAX,
                    .parse = parse_uint,
                    .format = format_uint,
                    .number = number_plain},
    [CFG_T_STRING] = {.name = "string",
                      .size = sizeof(char *),
                      .parse = parse_text,
                      .format = format_text,
                      .release = release_text},
    [CFG_T_PATH] = {.name = "path",
                    .size = sizeof(char *),
                    .parse = parse_text,
                    .format = format_text,
                    .release = release_text},
    [CFG_T_ENUM] = {.name = "enum",
                    .size = sizeof(int),
                    .parse = parse_enum,
                    .format = format_enum},
};

/*
 * parse.c - the grammars of jwtd's configuration values: booleans, durations, sizes, rates,
 * string lists, the public URL and route aliases (see config.h for each). CIDR lists are
 * common/ip.h's.
 *
 * Every parser takes a str_t (not NUL-terminated), accepts surrounding blanks, rejects
 * anything it does not fully consume, and checks overflow before it happens. None of them
 * knows variable names, bounds or messages: the value types (types.c) turn a failure into
 * the message, and apply.c names the variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "config/config.h"
#include "runtime/alloc.h"

/* --- helpers --------------------------------------------------------------------------- */

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static bool eq_nocase(str_t s, const char *word)
{
    return str_eq_nocase(s, str_cstr(word));
}

/*
 * Reads the leading decimal digits of *s into *out, advancing *s. Returns 0, or
 * ERR_CONFIG when there are no digits or the number exceeds limit.
 */
static int take_uint(str_t *s, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < s->len && s->ptr[i] >= '0' && s->ptr[i] <= '9') {
        uint64_t d = (uint64_t)(s->ptr[i] - '0');
        if (v > (limit - d) / 10)
            return ERR_CONFIG;
        v = v * 10 + d;
        i++;
    }
    if (i == 0)
        return ERR_CONFIG;
    s->ptr += i;
    s->len -= i;
    *out = v;
    return 0;
}

/* --- booleans -------------------------------------------------------------------------- */

/* See config.h. */
int cfg_parse_bool(str_t s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    s = str_trim(s);
    for (size_t i = 0; i < 4; i++) {
        if (eq_nocase(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (eq_nocase(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return ERR_CONFIG;
}

/* --- durations ------------------------------------------------------------------------- */

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit duration_units[] = {
    {"ms", 1},         {"s", 1000},         {"sec", 1000},          {"m", 60000},
    {"min", 60000},    {"h", 3600000},      {"hour", 3600000},      {"d", 86400000},
    {"day", 86400000}, {"w", 604800000ULL}, {"week", 604800000ULL},
};

/* Multiplier of a duration unit ("" = seconds), or 0 for an unknown unit. */
static uint64_t duration_unit(str_t u)
{
    if (u.len == 0)
        return 1000;
    for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++)
        if (eq_nocase(u, duration_units[i].name))
            return duration_units[i].mult;
    /* plurals: "days", "hours", "mins", "secs", "weeks" */
    if (u.len > 2 && lower(u.ptr[u.len - 1]) == 's') {
        str_t singular = str_make(u.ptr, u.len - 1);
        for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++)
            if (strlen(duration_units[i].name) > 1 && eq_nocase(singular, duration_units[i].name))
                return duration_units[i].mult;
    }
    return 0;
}

/* See config.h. */
int cfg_parse_duration_ms(str_t s, int64_t *out_ms)
{
    uint64_t n;
    s = str_trim(s);
    if (take_uint(&s, (uint64_t)INT64_MAX, &n) != 0)
        return ERR_CONFIG;
    uint64_t mult = duration_unit(str_trim(s));
    if (mult == 0 || (n != 0 && n > (uint64_t)INT64_MAX / mult))
        return ERR_CONFIG;
    *out_ms = (int64_t)(n * mult);
    return 0;
}

/* --- sizes ----------------------------------------------------------------------------- */

/* See config.h. */
int cfg_parse_size(str_t s, uint64_t *out)
{
    uint64_t n, mult = 0;
    s = str_trim(s);
    if (take_uint(&s, UINT64_MAX, &n) != 0)
        return ERR_CONFIG;
    str_t u = str_trim(s);
    if (u.len == 0 || eq_nocase(u, "b")) {
        mult = 1;
    } else {
        /* k, kb, kib (and m, g, t likewise): all 1024-based */
        static const char letters[] = "kmgt";
        const char *p = u.len ? strchr(letters, lower(u.ptr[0])) : NULL;
        if (p && *p) {
            str_t rest = str_make(u.ptr + 1, u.len - 1);
            if (rest.len == 0 || eq_nocase(rest, "b") || eq_nocase(rest, "ib")) {
                mult = 1024;
                for (const char *q = letters; q < p; q++)
                    mult *= 1024;
            }
        }
    }
    if (mult == 0 || (n != 0 && n > UINT64_MAX / mult))
        return ERR_CONFIG;
    *out = n * mult;
    return 0;
}

/* --- rates ----------------------------------------------------------------------------- */

/* See config.h. */
int cfg_parse_rate(str_t s, cfg_rate_t *out)
{
    uint64_t count;
    s = str_trim(s);
    if (take_uint(&s, UINT32_MAX, &count) != 0)
        return ERR_CONFIG;
    s = str_trim(s);
    if (s.len == 0) {
        /* a bare number is only meaningful as 0 = unlimited */
        if (count != 0)
            return ERR_CONFIG;
        out->count = 0;
        out->period_s = 0;
        return 0;
    }
    if (s.ptr[0] != '/')
        return ERR_CONFIG;
    str_t per = str_trim(str_make(s.ptr + 1, s.len - 1));
    static const struct unit periods[] = {
        {"second", 1}, {"sec", 1},     {"s", 1},    {"minute", 60}, {"min", 60},
        {"m", 60},     {"hour", 3600}, {"h", 3600}, {"day", 86400}, {"d", 86400},
    };
    uint64_t period = 0;
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++)
        if (eq_nocase(per, periods[i].name))
            period = periods[i].mult;
    if (period == 0) {
        /* "5/15m": any whole-second duration */
        int64_t ms;
        if (per.len == 0 || per.ptr[0] < '0' || per.ptr[0] > '9' ||
            cfg_parse_duration_ms(per, &ms) != 0 || ms <= 0 || ms % 1000 != 0 ||
            ms / 1000 > (int64_t)UINT32_MAX)
            return ERR_CONFIG;
        period = (uint64_t)(ms / 1000);
    }
    out->count = (uint32_t)count;
    out->period_s = count ? (uint32_t)period : 0;
    return 0;
}

/* --- string lists ---------------------------------------------------------------------- */

/* Upper bound on the number of comma-separated items in s. */
static size_t count_items(str_t s)
{
    size_t n = 1;
    for (size_t i = 0; i < s.len; i++)
        n += s.ptr[i] == ',';
    return n;
}

/* Splits off the next comma-separated item of *rest (trimmed); false when none is left. */
static bool next_item(str_t *rest, str_t *item)
{
    while (rest->len) {
        const char *comma = memchr(rest->ptr, ',', rest->len);
        size_t n = comma ? (size_t)(comma - rest->ptr) : rest->len;
        *item = str_trim(str_make(rest->ptr, n));
        rest->ptr += comma ? n + 1 : n;
        rest->len -= comma ? n + 1 : n;
        if (item->len)
            return true;
    }
    return false;
}

/* See config.h. */
int cfg_parse_strlist(str_t s, cfg_strlist_t *out)
{
    cfg_strlist_t list = {NULL, 0};
    str_t item;
    list.items = xcalloc(count_items(s), sizeof list.items[0]);
    while (next_item(&s, &item))
        list.items[list.count++] = xstrndup(item.ptr, item.len);
    *out = list;
    return 0;
}

/* See config.h. */
void cfg_strlist_dispose(cfg_strlist_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* --- URLs and paths -------------------------------------------------------------------- */

/* RFC 3986 unreserved characters plus '/': what a path of jwtd's configuration may hold. */
static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '/';
}

/*
 * Whether p (starting with '/') has only path_char bytes and no empty (except a final
 * one: a trailing slash), "." or ".." segment. Writes why otherwise.
 */
static bool path_ok(str_t p, char *why, size_t cap)
{
    for (size_t i = 0; i < p.len; i++) {
        if (!path_char(p.ptr[i])) {
            unsigned char c = (unsigned char)p.ptr[i];
            if (c >= 32 && c < 127)
                snprintf(why, cap, "character '%c' not allowed in a path", c);
            else
                snprintf(why, cap, "character 0x%02x not allowed in a path", c);
            return false;
        }
    }
    size_t i = 1;
    while (i <= p.len) {
        size_t j = i;
        while (j < p.len && p.ptr[j] != '/')
            j++;
        str_t seg = str_make(p.ptr + i, j - i);
        if ((seg.len == 0 && j < p.len) || str_eq(seg, STR_LIT(".")) ||
            str_eq(seg, STR_LIT(".."))) {
            snprintf(why, cap, "empty, '.' or '..' path segment");
            return false;
        }
        i = j + 1;
    }
    return true;
}

/* See config.h. */
int cfg_parse_public_url(str_t s, size_t *len, bool *https, char *why, size_t cap)
{
    size_t i;
    if (str_starts_with(s, STR_LIT("https://"))) {
        *https = true;
        i = 8;
    } else if (str_starts_with(s, STR_LIT("http://"))) {
        *https = false;
        i = 7;
    } else {
        snprintf(why, cap,
                 "expected an absolute http:// or https:// URL, e.g. "
                 "https://auth.example.com");
        return ERR_CONFIG;
    }
    for (size_t k = i; k < s.len && s.ptr[k] != '/' && s.ptr[k] != '?' && s.ptr[k] != '#'; k++) {
        if (s.ptr[k] == '@') {
            snprintf(why, cap, "a public URL has no user name or password");
            return ERR_CONFIG;
        }
    }
    /* host: a name or an [IPv6] literal */
    size_t host = i;
    if (i < s.len && s.ptr[i] == '[') {
        while (i < s.len && s.ptr[i] != ']') {
            char c = lower(s.ptr[i]);
            if (i > host &&
                !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.')) {
                snprintf(why, cap, "bad IPv6 literal in the host");
                return ERR_CONFIG;
            }
            i++;
        }
        if (i == s.len || i == host + 1) {
            snprintf(why, cap, "bad IPv6 literal in the host");
            return ERR_CONFIG;
        }
        i++;
    } else {
        while (i < s.len) {
            char c = lower(s.ptr[i]);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
                break;
            i++;
        }
        if (i == host) {
            snprintf(why, cap, "the URL has no host");
            return ERR_CONFIG;
        }
    }
    if (i < s.len && s.ptr[i] == ':') {
        size_t p = ++i;
        uint64_t port = 0;
        while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9' && i - p < 6)
            port = port * 10 + (uint64_t)(s.ptr[i++] - '0');
        if (i == p || port == 0 || port > 65535) {
            snprintf(why, cap, "the port must be a number 1..65535");
            return ERR_CONFIG;
        }
    }
    if (i < s.len && s.ptr[i] != '/') {
        char c = s.ptr[i];
        if (c == '?' || c == '#')
            snprintf(why, cap, "a public URL has no query or fragment");
        else
            snprintf(why, cap, "bad character in the host");
        return ERR_CONFIG;
    }
    str_t path = str_make(s.ptr + i, s.len - i);
    if (memchr(path.ptr, '?', path.len) || memchr(path.ptr, '#', path.len)) {
        snprintf(why, cap, "a public URL has no query or fragment");
        return ERR_CONFIG;
    }
    while (path.len && path.ptr[path.len - 1] == '/') /* dropped, however many */
        path.len--;
    if (path.len && !path_ok(path, why, cap))
        return ERR_CONFIG;
    *len = i + path.len;
    return 0;
}

/* Splits one side of an alias: its path, and whether it ends in a slash then a star. */
static int alias_side(str_t side, const char *what, str_t *path, bool *prefix, char *why,
                      size_t cap)
{
    side = str_trim(side);
    *prefix = side.len >= 2 && side.ptr[side.len - 1] == '*' && side.ptr[side.len - 2] == '/';
    if (*prefix)
        side.len--;
    if (side.len == 0 || side.ptr[0] != '/') {
        snprintf(why, cap, "the %s must be an absolute path starting with '/'", what);
        return ERR_CONFIG;
    }
    if (side.len > 256) {
        snprintf(why, cap, "the %s is longer than 256 bytes", what);
        return ERR_CONFIG;
    }
    char reason[96];
    if (!path_ok(side, reason, sizeof reason)) {
        snprintf(why, cap, "%s: %s", what, reason);
        return ERR_CONFIG;
    }
    *path = side;
    return 0;
}

/* See config.h. */
int cfg_parse_route_alias(str_t item, cfg_route_alias_t *out, char *why, size_t cap)
{
    item = str_trim(item);
    const char *eq = memchr(item.ptr, '=', item.len);
    if (!eq) {
        snprintf(why, cap, "expected ALIAS=TARGET, e.g. /login/simpleJWT/=/api/token/");
        return ERR_CONFIG;
    }
    cfg_route_alias_t a;
    bool pa, pt;
    if (alias_side(str_make(item.ptr, (size_t)(eq - item.ptr)), "alias", &a.alias, &pa, why, cap) !=
            0 ||
        alias_side(str_make(eq + 1, item.len - (size_t)(eq + 1 - item.ptr)), "target", &a.target,
                   &pt, why, cap) != 0)
        return ERR_CONFIG;
    if (pa != pt) {
        snprintf(why, cap,
                 "a prefix alias ends in /* on both sides, e.g. "
                 "/login/simpleJWT/*=/api/token/*");
        return ERR_CONFIG;
    }
    if (str_eq(a.alias, a.target)) {
        snprintf(why, cap, "the alias and the target are the same path");
        return ERR_CONFIG;
    }
    a.prefix = pa;
    *out = a;
    return 0;
}

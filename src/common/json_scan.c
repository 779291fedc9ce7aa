/*
 * json_scan.c - strict zero-allocation JSON tokenizer (see json_scan.h).
 *
 * A recursive-descent validator whose recursion is bounded by max_depth. Strings are
 * checked in one pass: control bytes, escapes (a \u high surrogate must be followed by a
 * \u low surrogate, a lone low surrogate is an error) and UTF-8 (no overlong forms, no
 * encoded surrogates, nothing above U+10FFFF). Duplicate member names are found by
 * comparing each new key with the earlier keys of the same object, after unescaping; the
 * member count is bounded by max_toks, so the quadratic worst case is bounded too.
 */
#include "common/json_scan.h"

#include <string.h>

struct scan {
    const unsigned char *s;
    size_t len;
    size_t pos;
    json_tok_t *toks;
    size_t max_toks;
    size_t n;
    unsigned max_depth;
};

/* 1 for bytes that may appear unescaped in a string and need no further check:
 * printable ASCII except '"' and '\\'. */
static const uint8_t plain_char[256] = {
    ['\x20'] = 1,
    [0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7f] = 1,
};

static inline void skip_ws(struct scan *sc)
{
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        sc->pos++;
    }
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads 4 hex digits at p (caller checked room). Returns the value or -1. */
static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Length of the valid UTF-8 sequence starting at p (n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c >= 0xc2 && c <= 0xdf) {
        if (n >= 2 && (p[1] & 0xc0) == 0x80)
            return 2;
        return 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && p[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && p[1] >= 0xa0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && p[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* Scans a string; sc->pos is at the opening quote. Fills t (start/len/has_escape). */
static int scan_string(struct scan *sc, json_tok_t *t)
{
    const unsigned char *s = sc->s;
    size_t i = sc->pos + 1, n = sc->len;
    uint8_t esc = 0;
    t->type = JSON_T_STRING;
    t->start = (uint32_t)i;
    for (;;) {
        /* fast path: 8 bytes at a time while none is '"', '\\', a control byte or >= 0x80 */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t special = ((w - ones * 0x20) | (q - ones) | (b - ones) | w) & highs;
            if (special)
                break;
            i += 8;
        }
        while (i < n && plain_char[s[i]])
            i++;
        if (i >= n)
            return JSON_E_SYNTAX;
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return JSON_E_SYNTAX;
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);
            if (!k)
                return JSON_E_SYNTAX;
            i += k;
            continue;
        }
        /* backslash */
        esc = 1;
        if (i + 1 >= n)
            return JSON_E_SYNTAX;
        c = s[i + 1];
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
            c == 't') {
            i += 2;
            continue;
        }
        if (c != 'u' || i + 6 > n)
            return JSON_E_SYNTAX;
        long u = hex4(s + i + 2);
        if (u < 0)
            return JSON_E_SYNTAX;
        i += 6;
        if (u >= 0xdc00 && u <= 0xdfff)
            return JSON_E_SYNTAX; /* lone low surrogate */
        if (u >= 0xd800 && u <= 0xdbff) {
            if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
                return JSON_E_SYNTAX;
            long lo = hex4(s + i + 2);
            if (lo < 0xdc00 || lo > 0xdfff)
                return JSON_E_SYNTAX;
            i += 6;
        }
    }
    t->len = (uint32_t)(i - t->start);
    t->has_escape = esc;
    sc->pos = i + 1;
    return 0;
}

static int scan_number(struct scan *sc, json_tok_t *t)
{
    const unsigned char *s = sc->s;
    size_t i = sc->pos, n = sc->len;
    uint8_t is_int = 1;
    t->type = JSON_T_NUMBER;
    t->start = (uint32_t)i;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return JSON_E_SYNTAX;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return JSON_E_SYNTAX;
    }
    if (i < n && s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return JSON_E_SYNTAX;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return JSON_E_SYNTAX;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    t->len = (uint32_t)(i - t->start);
    t->is_int = is_int;
    sc->pos = i;
    return 0;
}

static int scan_literal(struct scan *sc, json_tok_t *t, const char *word, uint8_t type)
{
    size_t wl = strlen(word);
    if (sc->len - sc->pos < wl || memcmp(sc->s + sc->pos, word, wl) != 0)
        return JSON_E_SYNTAX;
    t->type = type;
    t->start = (uint32_t)sc->pos;
    t->len = (uint32_t)wl;
    sc->pos += wl;
    return 0;
}

/* Decodes the next code point of an escaped-or-not string; *i advances. Input is valid. */
static uint32_t next_cp(const unsigned char *s, size_t *i)
{
    unsigned char c = s[*i];
    if (c != '\\') {
        if (c < 0x80) {
            (*i)++;
            return c;
        }
        size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        uint32_t cp = c & (k == 2 ? 0x1f : k == 3 ? 0x0f : 0x07);
        for (size_t j = 1; j < k; j++)
            cp = cp << 6 | (s[*i + j] & 0x3f);
        *i += k;
        return cp;
    }
    c = s[*i + 1];
    *i += 2;
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'u': {
        uint32_t u = (uint32_t)hex4(s + *i);
        *i += 4;
        if (u >= 0xd800 && u <= 0xdbff) {
            uint32_t lo = (uint32_t)hex4(s + *i + 2);
            *i += 6;
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        }
        return u;
    }
    default:
        return c; /* " \ / */
    }
}

/* Compares two string tokens of the same text by value. */
static bool str_tok_eq(const unsigned char *s, const json_tok_t *a, const json_tok_t *b)
{
    if (!a->has_escape && !b->has_escape)
        return a->len == b->len && memcmp(s + a->start, s + b->start, a->len) == 0;
    size_t i = a->start, j = b->start, ea = a->start + a->len, eb = b->start + b->len;
    while (i < ea && j < eb)
        if (next_cp(s, &i) != next_cp(s, &j))
            return false;
    return i == ea && j == eb;
}

static int scan_value(struct scan *sc, unsigned depth);

#define KEY_ESCAPED 0xffffffffu

/* See scan_key: a signature of an object key's raw text, for the duplicate check. */
static inline uint32_t key_signature(const unsigned char *s, const json_tok_t *k)
{
    if (k->has_escape)
        return KEY_ESCAPED;
    if (k->len == 0)
        return 0;
    return (k->len & 0xffff) << 16 | (uint32_t)s[k->start] << 8 | s[k->start + k->len - 1];
}

static json_tok_t *new_tok(struct scan *sc, uint32_t *idx)
{
    if (sc->n >= sc->max_toks)
        return NULL;
    *idx = (uint32_t)sc->n;
    json_tok_t *t = &sc->toks[sc->n++];
    memset(t, 0, sizeof *t);
    return t;
}

#define FAST_KEYS 24

/* After a member or element: 1 on ',' (another follows), 0 on the closing character, -1
   on anything else. Skips the whitespace around. */
static int after_member(struct scan *sc, char close)
{
    skip_ws(sc);
    if (sc->pos >= sc->len)
        return -1;
    char c = sc->s[sc->pos++];
    if (c == ',') {
        skip_ws(sc);
        return 1;
    }
    return c == close ? 0 : -1;
}

/*
 * An object key with its ':' (the next member of object self, which has count members so
 * far), checked against the earlier keys of the object. A key token's `size` holds a cheap
 * signature of its raw bytes (length, first and last byte), or KEY_ESCAPED when it has
 * escapes: equal unescaped keys have equal signatures unless one is escaped, so most pairs
 * are settled without touching the text. The first FAST_KEYS keys keep their signatures
 * in sigs/idxs (no pointer chasing). Returns 0 or a JSON_E_* code.
 */
static int scan_key(struct scan *sc, uint32_t self, uint32_t count, uint32_t sigs[FAST_KEYS],
                    uint32_t idxs[FAST_KEYS])
{
    uint32_t kidx;
    int rc;
    if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
        return JSON_E_SYNTAX;
    json_tok_t *k = new_tok(sc, &kidx);
    if (!k)
        return JSON_E_TOOMANY;
    if ((rc = scan_string(sc, k)) != 0)
        return rc;
    k->next = kidx + 1;
    k->size = key_signature(sc->s, k);
    if (count < FAST_KEYS) {
        for (uint32_t j = 0; j < count; j++)
            if ((sigs[j] == k->size || sigs[j] == KEY_ESCAPED || k->size == KEY_ESCAPED) &&
                str_tok_eq(sc->s, &sc->toks[idxs[j]], k))
                return JSON_E_DUPKEY;
        sigs[count] = k->size;
        idxs[count] = kidx;
    } else {
        for (uint32_t p = self + 1; p < kidx; p = sc->toks[p + 1].next) {
            uint32_t sp = sc->toks[p].size;
            if ((sp == k->size || sp == KEY_ESCAPED || k->size == KEY_ESCAPED) &&
                str_tok_eq(sc->s, &sc->toks[p], k))
                return JSON_E_DUPKEY;
        }
    }
    skip_ws(sc);
    if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
        return JSON_E_SYNTAX;
    sc->pos++;
    skip_ws(sc);
    return 0;
}

/* An object (close '}': key-value members) or an array (close ']': elements) at token
   self; the number of members or elements goes to its size. */
static int scan_container(struct scan *sc, uint32_t self, unsigned depth, char close)
{
    uint32_t count = 0, sigs[FAST_KEYS], idxs[FAST_KEYS];
    int rc = 1;
    sc->pos++; /* '{' or '[' */
    skip_ws(sc);
    if (sc->pos < sc->len && sc->s[sc->pos] == close) {
        sc->pos++;
        rc = 0;
    }
    while (rc > 0) {
        if (close == '}' && (rc = scan_key(sc, self, count, sigs, idxs)) != 0)
            return rc;
        if ((rc = scan_value(sc, depth + 1)) != 0)
            return rc;
        count++;
        if ((rc = after_member(sc, close)) < 0)
            return JSON_E_SYNTAX;
    }
    sc->toks[self].size = count;
    return 0;
}

static int scan_value(struct scan *sc, unsigned depth)
{
    uint32_t idx;
    int rc;
    if (sc->pos >= sc->len)
        return JSON_E_SYNTAX;
    json_tok_t *t = new_tok(sc, &idx);
    if (!t)
        return JSON_E_TOOMANY;
    size_t start = sc->pos;
    switch (sc->s[sc->pos]) {
    case '{':
    case '[':
        if (depth > sc->max_depth)
            return JSON_E_DEPTH;
        t->type = sc->s[sc->pos] == '{' ? JSON_T_OBJECT : JSON_T_ARRAY;
        t->start = (uint32_t)start;
        rc = scan_container(sc, idx, depth, t->type == JSON_T_OBJECT ? '}' : ']');
        if (rc)
            return rc;
        t = &sc->toks[idx];
        t->len = (uint32_t)(sc->pos - start);
        break;
    case '"':
        rc = scan_string(sc, t);
        break;
    case 't':
        rc = scan_literal(sc, t, "true", JSON_T_TRUE);
        break;
    case 'f':
        rc = scan_literal(sc, t, "false", JSON_T_FALSE);
        break;
    case 'n':
        rc = scan_literal(sc, t, "null", JSON_T_NULL);
        break;
    default:
        rc = scan_number(sc, t);
        break;
    }
    if (rc)
        return rc;
    sc->toks[idx].next = (uint32_t)sc->n;
    return 0;
}

/* See json_scan.h. */
int json_scan(const char *text, size_t len, json_tok_t *toks, size_t max_toks, unsigned max_depth,
              size_t *n_toks)
{
    struct scan sc = {(const unsigned char *)text, len, 0, toks, max_toks, 0, max_depth};
    int rc;
    *n_toks = 0;
    if (len > UINT32_MAX - 8)
        return JSON_E_TOOMANY;
    skip_ws(&sc);
    if ((rc = scan_value(&sc, 1)) != 0)
        return rc;
    skip_ws(&sc);
    if (sc.pos != len)
        return JSON_E_SYNTAX;
    *n_toks = sc.n;
    return 0;
}

static size_t put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* See json_scan.h. */
size_t json_str_unescape(const char *text, const json_tok_t *t, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)text;
    if (!t->has_escape) {
        if (t->len > cap)
            return (size_t)-1;
        memcpy(out, text + t->start, t->len);
        return t->len;
    }
    size_t i = t->start, end = t->start + t->len, o = 0;
    while (i < end) {
        if (s[i] != '\\') {
            /* copy a run of raw bytes */
            size_t j = i;
            while (j < end && s[j] != '\\')
                j++;
            if (o + (j - i) > cap)
                return (size_t)-1;
            memcpy(out + o, s + i, j - i);
            o += j - i;
            i = j;
            continue;
        }
        char tmp[4];
        size_t k = put_utf8(next_cp(s, &i), tmp);
        if (o + k > cap)
            return (size_t)-1;
        memcpy(out + o, tmp, k);
        o += k;
    }
    return o;
}

/* See json_scan.h. */
bool json_str_eq(const char *text, const json_tok_t *t, const char *str, size_t n)
{
    if (t->type != JSON_T_STRING)
        return false;
    if (!t->has_escape)
        return t->len == n && memcmp(text + t->start, str, n) == 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = t->start, end = t->start + t->len, o = 0;
    while (i < end) {
        char tmp[4];
        size_t k = put_utf8(next_cp(s, &i), tmp);
        if (o + k > n || memcmp(str + o, tmp, k) != 0)
            return false;
        o += k;
    }
    return o == n;
}

/* See json_scan.h. */
int json_tok_int64(const char *text, const json_tok_t *t, int64_t *out)
{
    if (t->type != JSON_T_NUMBER || !t->is_int)
        return -1;
    const char *p = text + t->start, *e = p + t->len;
    bool neg = false;
    uint64_t v = 0, lim = (uint64_t)INT64_MAX;
    if (*p == '-') {
        neg = true;
        lim++;
        p++;
    }
    for (; p < e; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 0;
}

/* See json_scan.h. */
long json_obj_get(const char *text, const json_tok_t *toks, uint32_t obj, const char *name)
{
    size_t n = strlen(name);
    if (toks[obj].type != JSON_T_OBJECT)
        return -1;
    for (uint32_t k = obj + 1; k < toks[obj].next; k = toks[k + 1].next)
        if (json_str_eq(text, &toks[k], name, n))
            return (long)k + 1;
    return -1;
}

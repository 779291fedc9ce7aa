/*
 * body.c - parsers for what a request carries besides headers: percent-encoding, query
 * strings, application/x-www-form-urlencoded bodies and JSON bodies (with the depth and
 * duplicate-key rules of the API).
 *
 * Everything here is a pure function of its input except http_req_query/http_req_json,
 * which allocate from the request (arena, jansson) and, for http_req_json, respond on error.
 */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* See http.h. */
long http_pct_decode(str_t in, char *out, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        char ch = in.ptr[i];
        if (ch == '%') {
            if (i + 2 >= in.len)
                return -1;
            int hi = hexval(in.ptr[i + 1]), lo = hexval(in.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = ch;
        }
    }
    return (long)o;
}

/* See http.h. */
bool http_form_next(str_t *cursor, str_t *key, str_t *value)
{
    while (cursor->len) {
        const char *p = cursor->ptr;
        const char *amp = memchr(p, '&', cursor->len);
        size_t n = amp ? (size_t)(amp - p) : cursor->len;
        cursor->ptr += amp ? n + 1 : n;
        cursor->len -= amp ? n + 1 : n;
        if (n == 0)
            continue;
        const char *eq = memchr(p, '=', n);
        if (eq) {
            *key = str_make(p, (size_t)(eq - p));
            *value = str_make(eq + 1, n - (size_t)(eq - p) - 1);
        } else {
            *key = str_make(p, n);
            *value = str_make(p + n, 0);
        }
        return true;
    }
    return false;
}

/* See http.h. */
int http_req_query(http_req_t *req, const char *name, str_t *out)
{
    str_t cur = req->query, k, v;
    size_t nl = strlen(name);
    int rc = ERR_DECLINED;
    while (http_form_next(&cur, &k, &v)) {
        char *kb = http_req_alloc(req, k.len + 1);
        long kl = http_pct_decode(k, kb, true);
        if (kl < 0)
            return ERR_INVALID;
        if ((size_t)kl != nl || memcmp(kb, name, nl) != 0)
            continue;
        char *vb = http_req_alloc(req, v.len + 1);
        long vl = http_pct_decode(v, vb, true);
        if (vl < 0)
            return ERR_INVALID;
        vb[vl] = '\0';
        *out = str_make(vb, (size_t)vl);
        rc = 0; /* the last occurrence wins, as for forms */
    }
    return rc;
}

/* See http.h. */
int http_form_to_json(str_t body, json_t **out)
{
    json_t *obj = json_object();
    str_t cur = body, k, v;
    char *kb = NULL, *vb = NULL;
    int rc = ERR_INVALID;
    if (!obj)
        return ERR_NOMEM;
    kb = malloc(body.len + 1);
    vb = malloc(body.len + 1);
    if (!kb || !vb) {
        rc = ERR_NOMEM;
        goto out;
    }
    while (http_form_next(&cur, &k, &v)) {
        long kl = http_pct_decode(k, kb, true);
        long vl = http_pct_decode(v, vb, true);
        if (kl < 0 || vl < 0)
            goto out;
        if (memchr(kb, '\0', (size_t)kl) != NULL)
            goto out;
        kb[kl] = '\0';
        json_t *s = json_stringn(vb, (size_t)vl);
        if (!s)
            goto out; /* not UTF-8 */
        if (json_object_setn_new(obj, kb, (size_t)kl, s) != 0)
            goto out; /* the key is not UTF-8; setn_new released s */
    }
    rc = 0;
out:
    free(kb);
    free(vb);
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* See http.h. */
int http_json_check_depth(str_t text, uint32_t max_depth)
{
    uint32_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < text.len; i++) {
        char ch = text.ptr[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max_depth)
                return ERR_INVALID;
        } else if ((ch == '}' || ch == ']') && depth) {
            depth--;
        }
    }
    return 0;
}

static bool media_type_is(str_t ct, const char *want)
{
    const char *semi = ct.ptr ? memchr(ct.ptr, ';', ct.len) : NULL;
    str_t base = str_trim(semi ? str_make(ct.ptr, (size_t)(semi - ct.ptr)) : ct);
    return str_eq_nocase(base, str_cstr(want));
}

/* See http.h. */
int http_req_json(http_req_t *req, json_t **out)
{
    str_t ct = http_req_header(req, "content-type");
    char detail[256];
    *out = NULL;
    if (req->body.len == 0) {
        *out = json_object();
        return 0;
    }
    if (ct.ptr && media_type_is(ct, "application/x-www-form-urlencoded")) {
        int rc = http_form_to_json(req->body, out);
        if (rc != 0) {
            http_respond_error(req, ERR_INVALID, "Form parse error - invalid encoding");
            return rc;
        }
        return 0;
    }
    if (ct.ptr && !media_type_is(ct, "application/json")) {
        snprintf(detail, sizeof detail, "Unsupported media type \"%.*s\" in request.",
                 (int)(ct.len > 100 ? 100 : ct.len), ct.ptr);
        for (char *s = detail; *s; s++)
            if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                *s = '?';
        http_respond_error(req, ERR_UNSUPPORTED_MEDIA, detail);
        return ERR_UNSUPPORTED_MEDIA;
    }
    uint32_t max_depth = req->worker->opts->json_max_depth;
    if (http_json_check_depth(req->body, max_depth) != 0) {
        snprintf(detail, sizeof detail, "JSON parse error - nesting deeper than %u levels",
                 max_depth);
        http_respond_error(req, ERR_INVALID, detail);
        return ERR_INVALID;
    }
    json_error_t jerr;
    /* "\u0000" is valid JSON: strings keep it (with their length), and the readers of
     * fields decide (a field error for text, an invalid token for tokens). */
    json_t *root =
        json_loadb(req->body.ptr, req->body.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        /* jansson's text may quote the input ("... near '<password>'") and name its own
         * flags: keep the reason only, then the position, as DRF words it. */
        char *cut = strstr(jerr.text, " near ");
        if (cut)
            *cut = '\0';
        if ((cut = strstr(jerr.text, " without JSON_")))
            *cut = '\0';
        snprintf(detail, sizeof detail, "JSON parse error - %s: line %d column %d (char %d)",
                 jerr.text, jerr.line, jerr.column, jerr.position);
        for (char *s = detail; *s; s++)
            if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                *s = '?';
        http_respond_error(req, ERR_INVALID, detail);
        return ERR_INVALID;
    }
    *out = root;
    return 0;
}

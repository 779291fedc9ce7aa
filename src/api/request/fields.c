/*
 * fields.c - request bodies and query parameters as Django REST Framework reads them:
 * DRF's CharField rules and messages for body fields (JSON object or form), the
 * allocation-free fast path of the one-field token bodies, pagination parameters and
 * numeric path parameters.
 */
#define LOG_MODULE "api"
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/request/req.h"
#include "common/err.h"
#include "common/json_scan.h"
#include "common/text.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static str_t trim_ws(str_t s)
{
    while (s.len && is_ws(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && is_ws(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* DRF's answer to a body that is not an object: 400 with non_field_errors. */
static void respond_not_object(http_req_t *req, const json_t *body)
{
    const char *kind = json_is_array(body)     ? "list"
                       : json_is_string(body)  ? "str"
                       : json_is_integer(body) ? "int"
                       : json_is_real(body)    ? "float"
                       : json_is_boolean(body) ? "bool"
                                               : "NoneType";
    char msg[96];
    snprintf(msg, sizeof msg, "Invalid data. Expected a dictionary, but got %s.", kind);
    api__bad_request(req, "non_field_errors", msg);
}

/* The raw value of field f from v, or its error. Numbers become text with `numbers`. */
static void take_value(http_req_t *req, json_t *v, bool numbers, api_field_t *f)
{
    f->value = STR_NULL;
    f->error = NULL;
    if (!v || json_is_null(v)) {
        if (f->required)
            f->error = v ? "This field may not be null." : "This field is required.";
        return;
    }
    if (json_is_string(v)) {
        f->value = str_make(json_string_value(v), json_string_length(v));
    } else if (numbers && (json_is_integer(v) || json_is_real(v))) {
        char num[64];
        if (json_is_integer(v))
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
        f->value = str_cstr(http_req_strndup(req, str_cstr(num)));
    } else {
        f->error = "Not a valid string.";
    }
}

/* DRF's checks of a present value. */
static void check_value(http_req_t *req, api_field_t *f)
{
    str_t s = f->trim ? trim_ws(f->value) : f->value;
    f->value = s;
    if (memchr(s.ptr, '\0', s.len)) {
        if (!f->token)
            f->error = "Null characters are not allowed.";
    } else if (!text_utf8_valid(s)) {
        f->error = "Not valid UTF-8.";
    } else if (s.len == 0 && !f->allow_blank) {
        f->error = "This field may not be blank.";
    } else if (f->max_chars && text_utf8_chars(s) > f->max_chars) {
        char *m = http_req_alloc(req, 96);
        snprintf(m, 96, "Ensure this field has no more than %zu characters.", f->max_chars);
        f->error = m;
    }
}

/* See req.h. */
int api__read_fields(http_req_t *req, api_field_t *f, size_t n, unsigned flags, json_t **body)
{
    if (http_req_json(req, body) != 0)
        return -1;
    if (!json_is_object(*body)) {
        respond_not_object(req, *body);
        json_decref(*body);
        *body = NULL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        take_value(req, json_object_get(*body, f[i].name), flags & API_FIELDS_NUMBERS, &f[i]);
        if (!f[i].error && f[i].value.ptr)
            check_value(req, &f[i]);
    }
    if (api__respond_field_errors(req, f, n)) {
        json_decref(*body);
        *body = NULL;
        return -1;
    }
    return 0;
}

/* See req.h. */
bool api__fast_field(const http_req_t *req, const char *name, str_t *out)
{
    if (req->body.len == 0 || req->body.len > 16384)
        return false;
    str_t ct = http_req_header(req, "content-type");
    if (ct.ptr) {
        str_t json = STR_LIT("application/json");
        if (ct.len < json.len || !str_eq_nocase(str_make(ct.ptr, json.len), json) ||
            (ct.len > json.len && ct.ptr[json.len] != ';' && ct.ptr[json.len] != ' '))
            return false;
    }
    json_tok_t toks[16];
    size_t n = 0;
    if (json_scan(req->body.ptr, req->body.len, toks, 16, 2, &n) != 0 || n == 0 ||
        toks[0].type != JSON_T_OBJECT)
        return false;
    long i = json_obj_get(req->body.ptr, toks, 0, name);
    if (i < 0 || toks[i].type != JSON_T_STRING || toks[i].has_escape || toks[i].len == 0)
        return false;
    str_t v = str_make(req->body.ptr + toks[i].start, toks[i].len);
    if (is_ws(v.ptr[0]) || is_ws(v.ptr[v.len - 1]))
        return false;
    *out = v;
    return true;
}

/* See req.h. */
str_t api__json_string(json_t *body, const char *name)
{
    json_t *v = json_is_object(body) ? json_object_get(body, name) : NULL;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return STR_NULL;
    return str_make(json_string_value(v), json_string_length(v));
}

/* Parses a decimal in [lo, hi]. */
static bool parse_u32(str_t s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (s.len > 9 || !str_to_u64(s, hi, &v) || v < lo)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* See req.h. */
int api__pagination(http_req_t *req, const api_paging_t *paging, uint32_t *page,
                    uint32_t *page_size)
{
    uint32_t max = paging->max_size;
    *page = 1;
    *page_size = paging->def_size;
    str_t v;
    int rc = http_req_query(req, "page", &v);
    if ((rc == 0 && !parse_u32(v, 1, 1000000, page)) || rc == ERR_INVALID) {
        api__bad_request(req, "page", "A valid page number (1 or more) is required.");
        return -1;
    }
    rc = http_req_query(req, "page_size", &v);
    if ((rc == 0 && !parse_u32(v, 1, max, page_size)) || rc == ERR_INVALID) {
        char msg[96];
        snprintf(msg, sizeof msg, "page_size must be an integer between 1 and %u.", max);
        api__bad_request(req, "page_size", msg);
        return -1;
    }
    if ((uint64_t)*page * *page_size > paging->max_offset) {
        api__bad_request(req, "page", "Page is too deep.");
        return -1;
    }
    return 0;
}

/* See req.h. */
bool api__param_id(http_req_t *req, const char *name, int64_t *out)
{
    uint64_t v; /* ids of at most 18 digits */
    if (!str_to_u64(http_req_param(req, name), 999999999999999999ULL, &v) || v == 0)
        return false;
    *out = (int64_t)v;
    return true;
}

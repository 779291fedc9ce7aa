/*
 * Unit tests of src/api/request/fields.c: DRF's field rules and messages on JSON and form
 * bodies, the one-field fast path, pagination and path ids, run through the real request
 * machinery (reqtest.h).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/request/req.h"
#include "common/err.h"
#include "reqtest.h"
#include "test.h"

static unsigned g_flags;

/* Reads username (trimmed, required, <= 5 characters) and password (not trimmed). */
static void h_fields(http_req_t *req)
{
    api_field_t f[2] = {{.name = "username", .required = true, .trim = true, .max_chars = 5},
                        {.name = "password", .required = true}};
    json_t *body;
    if (api__read_fields(req, f, 2, g_flags, &body) != 0)
        return;
    char out[128];
    snprintf(out, sizeof out, "[%.*s][%.*s]", STR_FMT(f[0].value), STR_FMT(f[1].value));
    json_decref(body);
    http_respond(req, 200, "text/plain", str_cstr(http_req_strndup(req, str_cstr(out))));
}

static char *post(const char *ct, const char *body)
{
    char raw[1024];
    snprintf(raw, sizeof raw,
             "POST /t HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s", ct,
             strlen(body), body);
    return reqtest_run(HTTP_M_POST, "/t", h_fields, NULL, NULL, raw);
}

static bool has(char *res, const char *want)
{
    bool ok = strstr(res, want) != NULL;
    if (!ok)
        fprintf(stderr, "    want %s in:\n%s\n", want, res);
    free(res);
    return ok;
}

TEST(api_fields_drf_rules)
{
    g_flags = 0;
    const char *js = "application/json";
    CHECK_TRUE(has(post(js, "{\"username\":\" bob \",\"password\":\" pw \"}"), "[bob][ pw ]"));
    CHECK_TRUE(has(post("application/x-www-form-urlencoded", "username=bob&password=a%20b"),
                   "[bob][a b]"));
    CHECK_TRUE(has(post(js, "{\"password\":\"x\"}"), "\"username\":[\"This field is required.\"]"));
    CHECK_TRUE(has(post(js, "{\"username\":null,\"password\":\"x\"}"),
                   "\"username\":[\"This field may not be null.\"]"));
    CHECK_TRUE(has(post(js, "{\"username\":\"  \",\"password\":\"x\"}"),
                   "\"username\":[\"This field may not be blank.\"]"));
    CHECK_TRUE(has(post("application/x-www-form-urlencoded", "username=a%00b&password=x"),
                   "\"username\":[\"Null characters are not allowed.\"]"));
    CHECK_TRUE(has(post(js, "{\"username\":\"abcdef\",\"password\":\"x\"}"),
                   "Ensure this field has no more than 5 characters."));
    CHECK_TRUE(has(post(js, "{\"username\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\","
                            "\"password\":\"x\"}"),
                   "HTTP/1.1 200")); /* 5 characters, 10 bytes */
    CHECK_TRUE(has(post(js, "{\"username\":12,\"password\":\"x\"}"),
                   "\"username\":[\"Not a valid string.\"]"));
    CHECK_TRUE(has(post(js, "[1]"), "Invalid data. Expected a dictionary, but got list."));
    CHECK_TRUE(has(post(js, "{\"username\":"), "JSON parse error"));
    g_flags = API_FIELDS_NUMBERS; /* DRF CharField: numbers become their text */
    CHECK_TRUE(has(post(js, "{\"username\":12,\"password\":1.5}"), "[12][1.5]"));
}

static void h_fast(http_req_t *req)
{
    str_t v;
    if (api__fast_field(req, "token", &v))
        http_respond(req, 200, "text/plain", str_cstr(http_req_strndup(req, v)));
    else
        http_respond(req, 204, NULL, STR_NULL);
}

static char *fast(const char *ct, const char *body)
{
    char raw[1024];
    snprintf(raw, sizeof raw, "POST /t HTTP/1.1\r\nHost: x\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
             ct ? "Content-Type: " : "", ct ? ct : "", ct ? "\r\n" : "", strlen(body), body);
    return reqtest_run(HTTP_M_POST, "/t", h_fast, NULL, NULL, raw);
}

TEST(api_fields_fast_path_only_for_plain_strings)
{
    CHECK_TRUE(has(fast("application/json", "{\"token\":\"abc.def\"}"), "\r\n\r\nabc.def"));
    CHECK_TRUE(has(fast(NULL, "{\"x\":1,\"token\":\"t\"}"), "\r\n\r\nt"));
    CHECK_TRUE(has(fast("application/json; charset=utf-8", "{\"token\":\"t\"}"), "200"));
    /* everything else takes the full reader */
    CHECK_TRUE(has(fast("application/json", "{\"token\":\"a\\nb\"}"), "204"));
    CHECK_TRUE(has(fast("application/json", "{\"token\":\" t\"}"), "204"));
    CHECK_TRUE(has(fast("application/json", "{\"token\":\"\"}"), "204"));
    CHECK_TRUE(has(fast("application/json", "{\"token\":1}"), "204"));
    CHECK_TRUE(has(fast("application/x-www-form-urlencoded", "token=t"), "204"));
    CHECK_TRUE(has(fast("application/jsonx", "{\"token\":\"t\"}"), "204"));
}

static void h_page(http_req_t *req)
{
    uint32_t page, size;
    int64_t id = -1;
    static const api_paging_t paging = {20, 100, 1000};
    if (api__pagination(req, &paging, &page, &size) != 0)
        return;
    (void)api__param_id(req, "id", &id);
    char out[64];
    snprintf(out, sizeof out, "%u/%u/%lld", page, size, (long long)id);
    http_respond(req, 200, "text/plain", str_cstr(http_req_strndup(req, str_cstr(out))));
}

static char *page(const char *target)
{
    char raw[512];
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    return reqtest_run(HTTP_M_GET, "/p/{id}", h_page, NULL, NULL, raw);
}

TEST(api_fields_pagination_and_ids)
{
    CHECK_TRUE(has(page("/p/7"), "1/20/7"));
    CHECK_TRUE(has(page("/p/7?page=3&page_size=100"), "3/100/7"));
    CHECK_TRUE(has(page("/p/007"), "1/20/7"));
    CHECK_TRUE(has(page("/p/0"), "1/20/-1"));
    CHECK_TRUE(has(page("/p/x1"), "1/20/-1"));
    CHECK_TRUE(has(page("/p/1234567890123456789"), "1/20/-1"));
    CHECK_TRUE(has(page("/p/1?page=0"), "A valid page number (1 or more) is required."));
    CHECK_TRUE(has(page("/p/1?page=%zz"), "\"page\""));
    CHECK_TRUE(has(page("/p/1?page_size=101"), "page_size must be an integer between 1 and 100."));
    CHECK_TRUE(has(page("/p/1?page=11&page_size=100"), "Page is too deep."));
    CHECK_TRUE(has(page("/p/1?page=10&page_size=100"), "10/100/1"));
}

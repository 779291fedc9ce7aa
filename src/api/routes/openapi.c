/*
 * openapi.c - GET /openapi.json: the OpenAPI 3 document of every route jwtd serves.
 *
 * The document is written by hand in docs/openapi.json (the reviewed source of truth) and
 * embedded into the binary at build time (.incbin), so the running server always serves
 * the document it was built with. It is kept true by a check, not by trust: at
 * registration (after every other route family, see serve.c) this file walks the router
 * (http_router_route) and compares each (method, pattern) with the document's `paths`.
 * The served document carries the walk's result in two extension members, `x-jwtd-routes`
 * (every routed method + path) and `x-jwtd-undocumented` (those missing from `paths`, also
 * logged as warnings), and tests/integration/test_openapi.py fails when the latter is not
 * empty. Test-only routes (/_test/...) are not walked; static UI files below /app/ are
 * documented once as /app/.
 */
#define LOG_MODULE "api"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/routes/routes.h"
#include "common/err.h"
#include "runtime/log.h"

/* docs/openapi.json, NUL-terminated, embedded by the assembler (path relative to the
   repository root, where make runs; the Makefile makes openapi.o depend on the file). */
__asm__(".section .rodata\n"
        ".global api__openapi_doc\n"
        ".type api__openapi_doc, @object\n"
        ".balign 16\n"
        "api__openapi_doc:\n"
        ".incbin \"docs/openapi.json\"\n"
        ".byte 0\n"
        ".size api__openapi_doc, . - api__openapi_doc\n"
        ".previous\n");
extern const char api__openapi_doc[];

static void on_openapi(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    http_resp_header_add(req, "Cache-Control", "public, max-age=300");
    http_respond(req, 200, API_JSON_CT, str_make(ctx->openapi, ctx->openapi_len));
}

static int openapi_mount(http_router_t *router, void *data)
{
    api_ctx_t *ctx = data;
    int rc = http_router_add(router, HTTP_M_GET, "/openapi.json", on_openapi, ctx);
    if (rc != 0)
        return ERR_INVALID;
    json_error_t e;
    json_t *doc = json_loads(api__openapi_doc, JSON_REJECT_DUPLICATES, &e);
    json_t *paths = json_object_get(doc, "paths");
    if (!json_is_object(paths)) {
        log_error("msg=\"embedded openapi.json is not valid\" line=%d text=\"%s\"", e.line, e.text);
        json_decref(doc);
        return ERR_INTERNAL;
    }
    json_t *routes = json_array();
    json_t *missing = json_array();
    size_t n = http_router_count(router);
    for (size_t i = 0; i < n; i++) {
        enum http_method m;
        const char *pat;
        if (http_router_route(router, i, &m, &pat) != 0 || strncmp(pat, "/_test/", 7) == 0)
            continue;
        char method[16];
        const char *mn = http_method_name(m);
        size_t k = 0;
        for (; mn[k] && k + 1 < sizeof method; k++)
            method[k] = (char)tolower((unsigned char)mn[k]);
        method[k] = '\0';
        const char *doc_path = strncmp(pat, "/app/", 5) == 0 ? "/app/" : pat;
        char entry[512];
        snprintf(entry, sizeof entry, "%s %s", http_method_name(m), pat);
        json_array_append_new(routes, json_string(entry));
        if (!json_object_get(json_object_get(paths, doc_path), method)) {
            json_array_append_new(missing, json_string(entry));
            log_warn("msg=\"route missing from openapi.json\" route=\"%s\"", entry);
        }
    }
    json_object_set_new(doc, "x-jwtd-routes", routes);
    json_object_set_new(doc, "x-jwtd-undocumented", missing);
    free(ctx->openapi);
    ctx->openapi = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!ctx->openapi)
        return ERR_INTERNAL;
    ctx->openapi_len = strlen(ctx->openapi);
    return 0;
}

/* See routes.h. */
const api_family_t api_openapi_family = API_FAMILY_MOUNT(openapi_mount);

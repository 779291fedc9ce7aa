/*
 * request.c - what a handler reads of its request and where it keeps per-request data:
 * the request arena (4 KiB chunks cached per worker, large allocations freed at request
 * end), headers, path parameters, the request id, and the peer's and the client's
 * addresses (the client behind trusted proxies, computed once). Not for parsing or
 * answering (conn.c).
 */
#define LOG_MODULE "http"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "http/http_internal.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static atomic_uint_fast64_t next_request_id = 1;

/* ---- arena ------------------------------------------------------------------------------ */

static struct http_arena_chunk *chunk_get(http_worker_t *w)
{
    struct http_arena_chunk *ch = w->free_chunks;
    if (ch) {
        w->free_chunks = ch->next;
        w->free_chunk_count--;
        return ch;
    }
    ch = xmalloc(sizeof *ch + HTTP_ARENA_CHUNK);
    ch->cap = HTTP_ARENA_CHUNK;
    return ch;
}

static void chunk_put(http_worker_t *w, struct http_arena_chunk *ch)
{
    if (w->free_chunk_count >= HTTP_CHUNK_CACHE_MAX) {
        free(ch);
        return;
    }
    ch->next = w->free_chunks;
    w->free_chunks = ch;
    w->free_chunk_count++;
}

/* See http.h. */
void *http_req_alloc(http_req_t *req, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0)
        n = 8;
    if (n > HTTP_ARENA_CHUNK / 2) {
        struct http_arena_big *b = xmalloc(sizeof *b + n);
        b->next = req->_arena_big;
        req->_arena_big = b;
        return b->data;
    }
    if (!req->_arena || req->_arena_used + n > req->_arena->cap) {
        struct http_arena_chunk *ch = chunk_get(req->worker);
        ch->next = req->_arena;
        req->_arena = ch;
        req->_arena_used = 0;
    }
    void *p = req->_arena->data + req->_arena_used;
    req->_arena_used += n;
    return p;
}

/* See http.h. */
char *http_req_strndup(http_req_t *req, str_t s)
{
    char *p = http_req_alloc(req, s.len + 1);
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

/* Returns every chunk to the worker cache and frees the large blocks. */
void http__arena_reset(http_req_t *req)
{
    while (req->_arena) {
        struct http_arena_chunk *ch = req->_arena;
        req->_arena = ch->next;
        chunk_put(req->worker, ch);
    }
    while (req->_arena_big) {
        struct http_arena_big *b = req->_arena_big;
        req->_arena_big = b->next;
        free(b);
    }
    req->_arena_used = 0;
}

/* ---- request accessors ----------------------------------------------------------------- */

/* See http.h. */
str_t http_req_header(const http_req_t *req, const char *name)
{
    str_t n = str_cstr(name);
    for (uint32_t i = 0; i < req->header_count; i++)
        if (str_eq_nocase(req->headers[i].name, n))
            return req->headers[i].value;
    return STR_NULL;
}

/* See http.h. */
str_t http_req_param(const http_req_t *req, const char *name)
{
    for (uint32_t i = 0; i < req->param_count; i++)
        if (str_eq_cstr(req->param_names[i], name))
            return req->param_values[i];
    return STR_NULL;
}

/* See http.h. */
uint64_t http_req_id(http_req_t *req)
{
    if (!req->_id)
        req->_id = atomic_fetch_add(&next_request_id, 1);
    return req->_id;
}

/* See http.h. */
int http_req_set_rid(http_req_t *req, str_t id)
{
    if (id.len == 0 || id.len > HTTP_RID_MAX)
        return ERR_INVALID;
    for (size_t i = 0; i < id.len; i++) {
        unsigned char ch = (unsigned char)id.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return ERR_INVALID;
    }
    memcpy(req->_rid, id.ptr, id.len);
    req->_rid[id.len] = '\0';
    return 0;
}

/* See http.h. */
const char *http_req_rid(http_req_t *req)
{
    if (!req->_rid[0])
        log_rid_new(req->_rid);
    return req->_rid;
}

/* See http.h. */
const ip_addr_t *http_req_peer_addr(const http_req_t *req)
{
    return &req->_conn->peer;
}

/* See http.h. */
const char *http_req_peer_str(http_req_t *req)
{
    http_conn_t *c = req->_conn;
    if (!c->peer_str) {
        char s[IP_TEXT_MAX];
        ip_format(&c->peer, s);
        c->peer_str = xstrdup(s);
    }
    return c->peer_str;
}

/*
 * The right-most X-Forwarded-For entry that is not a trusted proxy, walking from the end
 * (entries on the left are written by the client and cannot be believed). *addr holds the
 * peer on entry and the answer on return.
 */
static void forwarded_client(const http_req_t *req, const ip_net_list_t *trusted, ip_addr_t *addr)
{
    str_t xff = http_req_header(req, "x-forwarded-for");
    while (xff.ptr && xff.len) {
        const char *comma = NULL;
        for (size_t i = xff.len; i > 0 && !comma; i--)
            if (xff.ptr[i - 1] == ',')
                comma = xff.ptr + i - 1;
        str_t item = comma ? str_make(comma + 1, xff.len - (size_t)(comma + 1 - xff.ptr)) : xff;
        ip_addr_t a;
        if (ip_parse(item, &a) != 0)
            return; /* garbage: keep the last believable address */
        *addr = a;
        if (!comma || !ip_net_list_contains(trusted, &a))
            return;
        xff.len = (size_t)(comma - xff.ptr);
    }
}

/* See http.h. */
const ip_addr_t *http_req_client_addr(http_req_t *req)
{
    if (!req->_client_done) {
        const ip_net_list_t *trusted = req->worker->opts->trusted_proxies;
        req->_client = req->_conn->peer;
        if (trusted && ip_net_list_contains(trusted, &req->_client))
            forwarded_client(req, trusted, &req->_client);
        req->_client_done = true;
    }
    return &req->_client;
}

/* See http.h. */
bool http_req_forwarded_https(const http_req_t *req)
{
    const ip_net_list_t *trusted = req->worker->opts->trusted_proxies;
    if (!trusted || !ip_net_list_contains(trusted, &req->_conn->peer))
        return false;
    str_t v = http_req_header(req, "x-forwarded-proto");
    if (!v.ptr)
        return false;
    for (size_t i = v.len; i > 0; i--) {
        if (v.ptr[i - 1] == ',') {
            v = str_make(v.ptr + i, v.len - i);
            break;
        }
    }
    return str_eq_nocase(str_trim(v), STR_LIT("https"));
}

/* See http.h. */
bool http_req_on_aux(const http_req_t *req)
{
    return req->_conn && req->_conn->aux;
}

/* See http.h. */
const char *http_req_client_str(http_req_t *req)
{
    if (!req->_client_str) {
        char text[IP_TEXT_MAX];
        size_t n = ip_format(http_req_client_addr(req), text);
        req->_client_str = http_req_strndup(req, str_make(text, n));
    }
    return req->_client_str;
}

/* See http.h. */
void *http_req_worker_data(const http_req_t *req)
{
    return req->worker->data;
}

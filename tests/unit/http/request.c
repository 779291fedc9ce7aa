/*
 * Unit tests for src/http/request.c: the client address behind trusted proxies (the
 * right-most X-Forwarded-For entry a trusted proxy did not add), computed once, and
 * X-Forwarded-Proto believed from trusted proxies only.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "reqtest.h"
#include "test.h"

static void h_client(http_req_t *req)
{
    const char *a = http_req_client_str(req);
    CHECK_TRUE(http_req_client_str(req) == a); /* computed once */
    http_respond(req, 200, "text/plain", str_cstr(a));
}

/* The client address of a request from peer with X-Forwarded-For xff (NULL: none). */
static bool client_is(const char *peer, const char *trusted, const char *xff, const char *want)
{
    ip_net_list_t list = {0};
    CHECK_EQ_INT(ip_net_list_parse(str_cstr(trusted), &list, NULL), 0);
    char raw[512];
    snprintf(raw, sizeof raw, "GET /c HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n",
             xff ? "X-Forwarded-For: " : "", xff ? xff : "", xff ? "\r\n" : "");
    char *res = reqtest_run_from(peer, HTTP_M_GET, "/c", h_client, NULL, &list, raw);
    char tail[64];
    snprintf(tail, sizeof tail, "\r\n\r\n%s", want);
    const char *at = strstr(res, tail);
    bool ok = at && strlen(at) == strlen(tail);
    if (!ok)
        fprintf(stderr, "    peer %s xff %s: want %s, got\n%s\n", peer, xff ? xff : "-", want, res);
    free(res);
    ip_net_list_dispose(&list);
    return ok;
}

TEST(http_client_address_behind_trusted_proxies)
{
    /* an untrusted peer's header is ignored */
    CHECK_TRUE(client_is("203.0.113.9", "", "1.2.3.4", "203.0.113.9"));
    CHECK_TRUE(client_is("203.0.113.9", "10.0.0.0/8", "1.2.3.4", "203.0.113.9"));
    /* a trusted proxy: the right-most address it did not add itself */
    CHECK_TRUE(client_is("10.0.0.2", "10.0.0.0/8", "1.2.3.4", "1.2.3.4"));
    CHECK_TRUE(client_is("10.0.0.2", "10.0.0.0/8", "6.6.6.6, 1.2.3.4, 10.0.0.7", "1.2.3.4"));
    CHECK_TRUE(client_is("10.0.0.2", "10.0.0.0/8", "[2001:db8::5]:443", "2001:db8::5"));
    CHECK_TRUE(client_is("10.0.0.2", "10.0.0.0/8", "1.2.3.4:5678", "1.2.3.4"));
    /* every hop trusted: the left-most; garbage: the last believable address */
    CHECK_TRUE(client_is("10.0.0.2", "10.0.0.0/8", "10.0.0.3,10.0.0.4", "10.0.0.3"));
    CHECK_TRUE(client_is("10.0.0.2", "10.0.0.0/8", "1.2.3.4, unknown", "10.0.0.2"));
    CHECK_TRUE(client_is("10.0.0.2", "10.0.0.0/8", NULL, "10.0.0.2"));
    CHECK_TRUE(client_is("::1", "::1", "198.51.100.1", "198.51.100.1"));
}

static void h_proto(http_req_t *req)
{
    http_respond(req, 200, "text/plain", str_cstr(http_req_forwarded_https(req) ? "https" : "-"));
}

/* Whether a request from peer with X-Forwarded-Proto xfp (NULL: none) counts as https. */
static bool https_is(const char *peer, const char *trusted, const char *xfp, bool want)
{
    ip_net_list_t list = {0};
    CHECK_EQ_INT(ip_net_list_parse(str_cstr(trusted), &list, NULL), 0);
    char raw[512];
    snprintf(raw, sizeof raw, "GET /p HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n",
             xfp ? "X-Forwarded-Proto: " : "", xfp ? xfp : "", xfp ? "\r\n" : "");
    char *res = reqtest_run_from(peer, HTTP_M_GET, "/p", h_proto, NULL, &list, raw);
    const char *tail = want ? "\r\n\r\nhttps" : "\r\n\r\n-";
    const char *at = strstr(res, tail);
    bool ok = at && strlen(at) == strlen(tail);
    if (!ok)
        fprintf(stderr, "    peer %s proto %s: want %d, got\n%s\n", peer, xfp ? xfp : "-", want,
                res);
    free(res);
    ip_net_list_dispose(&list);
    return ok;
}

TEST(http_forwarded_https_only_from_trusted_proxies)
{
    /* an untrusted peer's header is ignored */
    CHECK_TRUE(https_is("203.0.113.9", "", "https", false));
    CHECK_TRUE(https_is("203.0.113.9", "10.0.0.0/8", "https", false));
    /* a trusted proxy: its own (last) entry, any case */
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", "https", true));
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", " HTTPS ", true));
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", "http, https", true));
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", "https, http", false));
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", "http", false));
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", "httpsx", false));
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", "", false));
    CHECK_TRUE(https_is("10.0.0.2", "10.0.0.0/8", NULL, false));
    CHECK_TRUE(https_is("::1", "::1", "https", true));
}

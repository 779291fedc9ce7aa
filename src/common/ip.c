/*
 * ip.c - IP addresses and networks in the 16-byte form (see ip.h). Text conversion goes
 * through inet_pton/inet_ntop; everything else is byte arithmetic.
 */
#include "common/ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* See ip.h. */
void ip_from_v4(const uint8_t v4[4], ip_addr_t *out)
{
    memcpy(out->b, v4_prefix, 12);
    memcpy(out->b + 12, v4, 4);
}

/* See ip.h. */
bool ip_is_v4(const ip_addr_t *a)
{
    return memcmp(a->b, v4_prefix, 12) == 0;
}

/* See ip.h. */
int ip_from_sockaddr(const struct sockaddr *sa, ip_addr_t *out)
{
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        ip_from_v4((const uint8_t *)&in.sin_addr, out);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        memcpy(out->b, &in6.sin6_addr, 16);
        return 0;
    }
    return ERR_INVALID;
}

/* text (NUL-terminated) as IPv4 or IPv6; 0 or ERR_INVALID. */
static int from_text(const char *text, ip_addr_t *out)
{
    uint8_t v4[4];
    if (inet_pton(AF_INET, text, v4) == 1) {
        ip_from_v4(v4, out);
        return 0;
    }
    return inet_pton(AF_INET6, text, out->b) == 1 ? 0 : ERR_INVALID;
}

/* See ip.h. */
int ip_parse(str_t s, ip_addr_t *out)
{
    char buf[IP_TEXT_MAX + 8];
    s = str_trim(s);
    if (s.len == 0 || !str_copy_cstr(s, buf, sizeof buf))
        return ERR_INVALID;
    if (buf[0] == '[') { /* "[v6]" or "[v6]:port" */
        char *rb = strchr(buf, ']');
        if (!rb || (rb[1] != '\0' && rb[1] != ':'))
            return ERR_INVALID;
        *rb = '\0';
        return inet_pton(AF_INET6, buf + 1, out->b) == 1 ? 0 : ERR_INVALID;
    }
    char *colon = strchr(buf, ':');
    if (colon && !strchr(colon + 1, ':')) { /* "a.b.c.d:port": one colon is never IPv6 */
        uint8_t v4[4];
        *colon = '\0';
        if (inet_pton(AF_INET, buf, v4) != 1)
            return ERR_INVALID;
        ip_from_v4(v4, out);
        return 0;
    }
    return from_text(buf, out);
}

/* See ip.h. */
size_t ip_format(const ip_addr_t *a, char out[IP_TEXT_MAX])
{
    const char *r = ip_is_v4(a) ? inet_ntop(AF_INET, a->b + 12, out, IP_TEXT_MAX)
                                : inet_ntop(AF_INET6, a->b, out, IP_TEXT_MAX);
    if (!r) {
        out[0] = '\0';
        return 0;
    }
    return strlen(out);
}

/* See ip.h. */
void ip_mask(const ip_addr_t *a, unsigned prefix_len, ip_addr_t *out)
{
    if (prefix_len > 128)
        prefix_len = 128;
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = prefix_len >= 8 * (i + 1) ? 8 : prefix_len > 8 * i ? prefix_len - 8 * i : 0;
        uint8_t m = keep ? (uint8_t)(0xffu << (8 - keep)) : 0;
        out->b[i] = a->b[i] & m;
    }
}

/* A decimal prefix length without sign or leading zeros, at most max. */
static int parse_prefix(const char *p, unsigned max, unsigned *out)
{
    uint64_t v;
    if ((p[0] == '0' && p[1] != '\0') || !str_to_u64(str_cstr(p), max, &v))
        return ERR_INVALID;
    *out = (unsigned)v;
    return 0;
}

/* See ip.h. */
int ip_net_parse(str_t s, ip_net_t *out)
{
    char text[IP_TEXT_MAX + 8];
    s = str_trim(s);
    if (s.len == 0 || !str_copy_cstr(s, text, sizeof text))
        return ERR_INVALID;
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    ip_addr_t a;
    if (from_text(text, &a) != 0)
        return ERR_INVALID;
    bool v4 = ip_is_v4(&a) && strchr(text, ':') == NULL;
    unsigned prefix = v4 ? 32 : 128;
    if (slash && parse_prefix(slash + 1, v4 ? 32 : 128, &prefix) != 0)
        return ERR_INVALID;
    out->prefix_len = (uint8_t)(v4 ? 96 + prefix : prefix);
    ip_mask(&a, out->prefix_len, &out->addr);
    return 0;
}

/* See ip.h. */
size_t ip_net_format(const ip_net_t *n, char *out, size_t cap)
{
    char text[IP_TEXT_MAX];
    ip_format(&n->addr, text);
    unsigned p = n->prefix_len;
    if (ip_is_v4(&n->addr) && p >= 96)
        p -= 96;
    int w = snprintf(out, cap, "%s/%u", text, p);
    return w < 0 ? 0 : (size_t)w < cap ? (size_t)w : cap - 1;
}

/* See ip.h. */
bool ip_net_contains(const ip_net_t *n, const ip_addr_t *a)
{
    unsigned full = n->prefix_len / 8u, rest = n->prefix_len % 8u;
    if (memcmp(n->addr.b, a->b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (n->addr.b[full] & mask) == (a->b[full] & mask);
}

/* See ip.h. */
bool ip_net_list_contains(const ip_net_list_t *l, const ip_addr_t *a)
{
    for (size_t i = 0; l && i < l->count; i++)
        if (ip_net_contains(&l->items[i], a))
            return true;
    return false;
}

/* See ip.h. */
int ip_net_list_parse(str_t s, ip_net_list_t *out, str_t *bad)
{
    size_t cap = 1;
    for (size_t i = 0; i < s.len; i++)
        cap += s.ptr[i] == ',';
    ip_net_list_t l = {calloc(cap, sizeof(ip_net_t)), 0};
    if (!l.items)
        return ERR_NOMEM;
    while (s.len) {
        const char *comma = memchr(s.ptr, ',', s.len);
        size_t n = comma ? (size_t)(comma - s.ptr) : s.len;
        str_t item = str_trim(str_make(s.ptr, n));
        s.ptr += comma ? n + 1 : n;
        s.len -= comma ? n + 1 : n;
        if (!item.len)
            continue;
        if (ip_net_parse(item, &l.items[l.count]) != 0) {
            if (bad)
                *bad = item;
            free(l.items);
            return ERR_INVALID;
        }
        l.count++;
    }
    *out = l;
    return 0;
}

/* See ip.h. */
void ip_net_list_dispose(ip_net_list_t *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

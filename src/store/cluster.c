/*
 * cluster.c - key slots and redirection errors of Redis Cluster (see cluster.h).
 */
#include "store/cluster.h"

#include <string.h>

/* See cluster.h. Bitwise: a few dozen bytes per key, no table needed. */
uint16_t store__crc16(const char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* See cluster.h. */
unsigned store__key_slot(const char *key, size_t n)
{
    const char *open = memchr(key, '{', n);
    if (open) {
        size_t rest = n - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return store__crc16(open + 1, (size_t)(close - open - 1)) & (CLUSTER_SLOTS - 1);
    }
    return store__crc16(key, n) & (CLUSTER_SLOTS - 1);
}

/* See cluster.h. */
enum redirect_kind store__redirect_parse(const char *s, size_t n, struct redirect *out)
{
    enum redirect_kind kind;
    size_t i;
    out->kind = REDIRECT_NONE;
    if (n > 6 && memcmp(s, "MOVED ", 6) == 0) {
        kind = REDIRECT_MOVED;
        i = 6;
    } else if (n > 4 && memcmp(s, "ASK ", 4) == 0) {
        kind = REDIRECT_ASK;
        i = 4;
    } else {
        return REDIRECT_NONE;
    }
    unsigned slot = 0;
    size_t d = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && d < 6; i++, d++)
        slot = slot * 10 + (unsigned)(s[i] - '0');
    if (d == 0 || slot >= CLUSTER_SLOTS || i >= n || s[i] != ' ')
        return REDIRECT_NONE;
    i++;
    const char *addr = s + i;
    size_t an = n - i;
    const char *colon = NULL;
    for (size_t k = 0; k < an; k++) {
        if (addr[k] == ':')
            colon = addr + k;
        else if (addr[k] == ' ' || addr[k] == '\0' || addr[k] == '\r' || addr[k] == '\n')
            return REDIRECT_NONE;
    }
    if (!colon)
        return REDIRECT_NONE;
    size_t hl = (size_t)(colon - addr);
    const char *ps = colon + 1;
    size_t pl = an - hl - 1;
    if (hl >= sizeof out->host || pl == 0 || pl > 5)
        return REDIRECT_NONE;
    long port = 0;
    for (size_t k = 0; k < pl; k++) {
        if (ps[k] < '0' || ps[k] > '9')
            return REDIRECT_NONE;
        port = port * 10 + (ps[k] - '0');
    }
    if (port <= 0 || port > 65535)
        return REDIRECT_NONE;
    /* "[::1]:7000" from some proxies: drop the brackets */
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        addr++;
        hl -= 2;
    }
    memcpy(out->host, addr, hl);
    out->host[hl] = '\0';
    out->slot = slot;
    out->port = (int)port;
    out->kind = kind;
    return kind;
}

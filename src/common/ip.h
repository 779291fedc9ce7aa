/*
 * ip.h - IP addresses and networks in one form: 16 bytes, IPv4 as the IPv4-mapped IPv6
 * address ::ffff:a.b.c.d, so one compare covers both families.
 *
 * Every place of jwtd that handles an address (the peer of a connection, a trusted-proxy
 * hop of X-Forwarded-For, an allowlist entry, the network of a refresh) uses these
 * functions; nothing else converts IPv4 to the mapped form. Pure functions, no allocation
 * except ip_net_list_parse's array.
 */
#ifndef JWTD_COMMON_IP_H
#define JWTD_COMMON_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/str.h"

struct sockaddr;

/* Longest text form with its NUL ("ffff:ffff:...:255.255.255.255"), INET6_ADDRSTRLEN. */
#define IP_TEXT_MAX 46

typedef struct {
    uint8_t b[16];
} ip_addr_t;

/* A network: the address with its host bits cleared, and the prefix length counted on the
   16-byte form (an IPv4 /24 is 96 + 24 = 120). */
typedef struct {
    ip_addr_t addr;
    uint8_t prefix_len; /* 0..128 */
} ip_net_t;

typedef struct {
    ip_net_t *items;
    size_t count;
} ip_net_list_t;

/* The mapped form of the 4 bytes of an IPv4 address (network order). */
void ip_from_v4(const uint8_t v4[4], ip_addr_t *out);
/* Whether a is an IPv4 address (in the mapped form). */
bool ip_is_v4(const ip_addr_t *a);
/* An AF_INET or AF_INET6 socket address. Returns 0 or ERR_INVALID (other families). */
int ip_from_sockaddr(const struct sockaddr *sa, ip_addr_t *out);
/*
 * Parses an address as proxies write it in X-Forwarded-For: "192.0.2.1", "2001:db8::1",
 * "[2001:db8::1]", "[2001:db8::1]:443" and "192.0.2.1:443" (the port is ignored).
 * Surrounding blanks are ignored. Returns 0 or ERR_INVALID.
 */
int ip_parse(str_t s, ip_addr_t *out);
/* The usual text form ("192.0.2.1", "2001:db8::1") into out; returns its length. */
size_t ip_format(const ip_addr_t *a, char out[IP_TEXT_MAX]);
/* out = a with every bit after the first prefix_len (0..128) cleared. */
void ip_mask(const ip_addr_t *a, unsigned prefix_len, ip_addr_t *out);

/*
 * Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). The prefix is
 * decimal without leading zeros; host bits are cleared ("10.0.0.1/8" is 10.0.0.0/8).
 * Returns 0 or ERR_INVALID.
 */
int ip_net_parse(str_t s, ip_net_t *out);
/* "10.0.0.0/8" / "2001:db8::/32" into out (cap >= IP_TEXT_MAX + 4); returns its length. */
size_t ip_net_format(const ip_net_t *n, char *out, size_t cap);
/* Whether a is inside n. */
bool ip_net_contains(const ip_net_t *n, const ip_addr_t *a);
/* Whether a is inside one of the networks of l (false for an empty list). */
bool ip_net_list_contains(const ip_net_list_t *l, const ip_addr_t *a);
/*
 * Parses a comma-separated list of networks (blank items skipped; "" is an empty list).
 * On success *out owns a new array (ip_net_list_dispose). On error returns ERR_INVALID
 * and, when bad is not NULL, *bad is the offending item.
 */
int ip_net_list_parse(str_t s, ip_net_list_t *out, str_t *bad);
void ip_net_list_dispose(ip_net_list_t *l);

#endif

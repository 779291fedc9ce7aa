/*
 * cluster.h - the pure parts of the Redis Cluster client (store_redis.c): the key slot
 * (CRC16/XMODEM modulo 16384, hash tags honoured) and the parser of MOVED / ASK errors.
 * No I/O, no hiredis: unit-tested and fuzzed on their own. Only src/store/ includes it.
 */
#ifndef JWTD_STORE_CLUSTER_H
#define JWTD_STORE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_SLOTS 16384

/* CRC16 (XMODEM: poly 0x1021, init 0) of n bytes, as the Redis Cluster specification. */
uint16_t store__crc16(const char *p, size_t n);

/* The slot of a key: of the part between the first '{' and the next '}' when it is not
   empty, else of the whole key. */
unsigned store__key_slot(const char *key, size_t n);

enum redirect_kind { REDIRECT_NONE, REDIRECT_MOVED, REDIRECT_ASK };

struct redirect {
    enum redirect_kind kind;
    unsigned slot;
    char host[256]; /* "" when the server does not know its own address (then: the same) */
    int port;
};

/* Parses an error reply "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (host
   may be an IPv6 address: the port is after the last ':'). REDIRECT_NONE for any other
   text or a malformed one (out is then untouched except kind). */
enum redirect_kind store__redirect_parse(const char *s, size_t n, struct redirect *out);

#endif

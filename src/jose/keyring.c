/*
 * keyring.c - a reference-counted, read-only-after-build set of keys with O(1) kid lookup.
 *
 * Keys live in an array in insertion order; an open-addressing table (FNV-1a over the kid,
 * linear probing, load factor <= 1/2) maps kids to array slots and is rebuilt on every
 * add, which only happens while the ring is being built. Roles (jose.h) say which key
 * signs and which are published in the JWKS.
 *
 * DESIGN: a ring is built by one thread, then shared; readers that may outlive a reload
 * take a reference (jose_keyring_retain) and drop it when done. The count is atomic.
 */
#include "jose/jose.h"

#include <stdatomic.h>
#include <string.h>

#include <jansson.h>

#include "jose/jose_internal.h"

struct ring_entry {
    jose_key_t *key;
    enum jose_key_role role;
};

struct jose_keyring {
    _Atomic long refs;
    struct ring_entry *keys;
    size_t count, cap;
    uint32_t *table; /* slot -> index + 1; 0 = empty */
    size_t table_size;
    const jose_key_t *active;
};

/* FNV-1a over the length and the first 16 bytes: kids are thumbprints or short names. */
static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)n;
    for (size_t i = 0; i < n && i < 16; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* See jose.h. */
jose_keyring_t *jose_keyring_new(void)
{
    jose_keyring_t *r = jose__calloc(1, sizeof *r);
    if (r)
        atomic_init(&r->refs, 1);
    return r;
}

/* See jose.h. */
jose_keyring_t *jose_keyring_retain(jose_keyring_t *ring)
{
    atomic_fetch_add(&ring->refs, 1);
    return ring;
}

/* See jose.h. */
void jose_keyring_release(jose_keyring_t *ring)
{
    if (!ring || atomic_fetch_sub(&ring->refs, 1) != 1)
        return;
    for (size_t i = 0; i < ring->count; i++)
        jose_key_free(ring->keys[i].key);
    jose__free(ring->keys);
    jose__free(ring->table);
    jose__free(ring);
}

static int rebuild_table(jose_keyring_t *ring)
{
    size_t size = 8;
    while (size < ring->count * 2)
        size *= 2;
    uint32_t *t = jose__calloc(size, sizeof *t);
    if (!t)
        return JWTV_ENOMEM;
    for (size_t i = 0; i < ring->count; i++) {
        const jose_key_t *k = ring->keys[i].key;
        size_t s = fnv1a(k->kid, k->kid_len) & (size - 1);
        while (t[s])
            s = (s + 1) & (size - 1);
        t[s] = (uint32_t)i + 1;
    }
    jose__free(ring->table);
    ring->table = t;
    ring->table_size = size;
    return 0;
}

/* See jose.h. */
const jose_key_t *jose_keyring_find(const jose_keyring_t *ring, str_t kid)
{
    if (!ring->table || kid.len == 0)
        return NULL;
    size_t mask = ring->table_size - 1, s = fnv1a(kid.ptr, kid.len) & mask;
    for (uint32_t idx; (idx = ring->table[s]) != 0; s = (s + 1) & mask) {
        const jose_key_t *k = ring->keys[idx - 1].key;
        if (k->kid_len == kid.len && memcmp(k->kid, kid.ptr, kid.len) == 0)
            return k;
    }
    return NULL;
}

/* See jose.h. */
int jose_keyring_add(jose_keyring_t *ring, jose_key_t *key, enum jose_key_role role, char *err,
                     size_t cap)
{
    int rc;
    if (role == JOSE_ROLE_ACTIVE) {
        if (ring->active) {
            rc = jose__err(err, cap, JWTV_EKEY, "a key ring has one active signing key");
            goto fail;
        }
        if (!key->has_private) {
            rc = jose__err(err, cap, JWTV_EKEY, "the active key must be a private key");
            goto fail;
        }
    }
    if (jose_keyring_find(ring, str_make(key->kid, key->kid_len))) {
        rc = jose__err(err, cap, JWTV_EKEY, "duplicate kid %s", key->kid);
        goto fail;
    }
    if (ring->count == ring->cap) {
        size_t ncap = ring->cap ? ring->cap * 2 : 4;
        struct ring_entry *n = jose__realloc(ring->keys, ncap * sizeof *n);
        if (!n) {
            rc = JWTV_ENOMEM;
            goto fail;
        }
        ring->keys = n;
        ring->cap = ncap;
    }
    ring->keys[ring->count++] = (struct ring_entry){key, role};
    if ((rc = rebuild_table(ring)) != 0) {
        ring->count--;
        goto fail;
    }
    if (role == JOSE_ROLE_ACTIVE)
        ring->active = key;
    return 0;
fail:
    jose_key_free(key);
    return rc;
}

/* See jose.h. */
int jose_keyring_add_jwks(jose_keyring_t *ring, str_t json, enum jose_key_role role, size_t *added,
                          char *err, size_t cap)
{
    json_error_t jerr;
    json_t *root, *keys, *one[1];
    size_t n_added = 0, n;
    int rc = 0;
    if (added)
        *added = 0;
    if (!(root = json_loadb(json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr)))
        return jose__err(err, cap, JWTV_EJWKS, "JWKS is not valid JSON (line %d): %s", jerr.line,
                         jerr.text);
    if (!json_is_object(root)) {
        rc = jose__err(err, cap, JWTV_EJWKS, "a JWKS must be a JSON object");
        goto out;
    }
    keys = json_object_get(root, "keys");
    if (keys && !json_is_array(keys)) {
        rc = jose__err(err, cap, JWTV_EJWKS, "JWKS keys is not an array");
        goto out;
    }
    n = keys ? json_array_size(keys) : 1;
    one[0] = root;
    for (size_t i = 0; i < n; i++) {
        json_t *jwk = keys ? json_array_get(keys, i) : one[0];
        jose_key_t *k;
        char kerr[256];
        rc = jose__key_from_jwk_obj(jwk, &k, kerr, sizeof kerr);
        if (rc == JWTV_EUNSUPPORTED_ALG) {
            rc = 0;
            continue; /* RFC 7517 §5: ignore keys we do not understand */
        }
        if (rc) {
            jose__errf(err, cap, "key %zu: %s", i, kerr);
            goto out;
        }
        if ((rc = jose_keyring_add(ring, k, role, kerr, sizeof kerr)) != 0) {
            jose__errf(err, cap, "key %zu: %s", i, kerr);
            goto out;
        }
        n_added++;
    }
    if (n_added == 0)
        rc = jose__err(err, cap, JWTV_EJWKS, "the JWKS holds no usable signature key");
out:
    json_decref(root);
    if (added)
        *added = n_added;
    return rc;
}

/* See jose.h. */
const jose_key_t *jose_keyring_active(const jose_keyring_t *ring)
{
    return ring->active;
}

/* See jose.h. */
size_t jose_keyring_count(const jose_keyring_t *ring)
{
    return ring->count;
}

/* See jose.h. */
const jose_key_t *jose_keyring_at(const jose_keyring_t *ring, size_t i, enum jose_key_role *role)
{
    if (i >= ring->count)
        return NULL;
    if (role)
        *role = ring->keys[i].role;
    return ring->keys[i].key;
}

/* See jose.h. */
int jose_keyring_public_jwks(const jose_keyring_t *ring, buf_t *out)
{
    bool first = true;
    int rc;
    if (buf_append_cstr(out, "{\"keys\":["))
        return JWTV_ENOMEM;
    for (size_t i = 0; i < ring->count; i++) {
        const struct ring_entry *e = &ring->keys[i];
        if (e->role == JOSE_ROLE_TRUSTED || e->key->alg->family == JOSE_FAMILY_HMAC)
            continue;
        if (!first && buf_append_char(out, ','))
            return JWTV_ENOMEM;
        if ((rc = jose_key_public_jwk(e->key, out)) != 0)
            return rc;
        first = false;
    }
    return buf_append_cstr(out, "]}") ? JWTV_ENOMEM : 0;
}

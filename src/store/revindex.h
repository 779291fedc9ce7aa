/*
 * revindex.h - the in-memory revocation index consulted on every token verification.
 *
 * Three kinds of entries (the revocation model of docs/api.md): revoked token ids (jti), revoked
 * sessions (sid) and per-user watermarks (tokens of that user issued before the watermark are
 * revoked). A lookup is O(1) and touches no database or network: the index is loaded from
 * the database at start, updated on every revocation (by this process, or by the store's
 * cross-instance feed), and pruned as entries expire.
 *
 * jti and sid values are 32 lowercase hex characters (128 bits); the index stores them as
 * 16 raw bytes. Anything else is not indexable and is reported as such by the parser.
 *
 * DESIGN
 * One reader-writer lock guards three open-addressing tables (linear probing, backward-shift
 * deletion, no tombstones). Readers are the event-loop threads; writers are rare (logout,
 * rotation reuse, admin revocation, prune). An atomic entry count lets the common case -
 * nothing revoked that could match - skip the tables entirely. Keys are unpredictable (we mint
 * them) and only signature-checked tokens are looked up, so a cheap seeded mix is enough
 * for hashing.
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef JWTD_STORE_REVINDEX_H
#define JWTD_STORE_REVINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/str.h"

typedef struct store_revindex store_revindex_t;

/* Raw 128-bit id of a jti or sid. */
typedef struct {
    uint8_t b[16];
} store_id_t;

/* Parses 32 lowercase hex characters into *out. Returns 0, or -1 if s is not of that form. */
int store_id_parse(str_t s, store_id_t *out);
/* Writes the 32-character lowercase hex form plus a NUL into out (33 bytes). */
void store_id_format(const store_id_t *id, char out[33]);

/* Creates an empty index. Never returns NULL (aborts on OOM, as xmalloc). */
store_revindex_t *store_revindex_new(void);
/* Frees the index; NULL is a no-op. No other thread may use it any more. */
void store_revindex_free(store_revindex_t *ix);

/*
 * Marks a token id revoked until exp (unix seconds: after that the token is expired anyway
 * and the entry is pruned). Adding an existing id keeps the later expiry.
 */
void store_revindex_add_jti(store_revindex_t *ix, const store_id_t *jti, int64_t exp);
/* Marks a session revoked until exp (the latest expiry of any token of that session). */
void store_revindex_add_sid(store_revindex_t *ix, const store_id_t *sid, int64_t exp);
/*
 * Raises a user's watermark: tokens with iat < revoke_before are revoked. A lower value
 * than the current one is ignored (watermarks only move forward). keep_until says when the
 * entry may be pruned (revoke_before + the longest token lifetime).
 */
void store_revindex_set_watermark(store_revindex_t *ix, int64_t user_id, int64_t revoke_before,
                                  int64_t keep_until);

/* What a token presents to the index; jti/sid may be NULL when the token lacks them. */
typedef struct {
    const store_id_t *jti;
    const store_id_t *sid;
    int64_t user_id; /* INT64_MIN when the token has no numeric user id */
    int64_t iat;
} store_token_ref_t;

/* Which rule revoked a token (0 = not revoked). */
enum store_revoked_by {
    STORE_NOT_REVOKED = 0,
    STORE_REVOKED_JTI = 1,
    STORE_REVOKED_SID = 2,
    STORE_REVOKED_WATERMARK = 3
};

/* Checks a token against the index. Cheap enough for every request. */
enum store_revoked_by store_revindex_check(store_revindex_t *ix, const store_token_ref_t *tok)
    __attribute__((warn_unused_result));

/* Drops entries whose expiry is before now. Returns how many were removed. */
size_t store_revindex_prune(store_revindex_t *ix, int64_t now);

/* Entry counts, for metrics and tests. */
typedef struct {
    size_t jtis, sids, users;
} store_revindex_stats_t;
void store_revindex_stats(store_revindex_t *ix, store_revindex_stats_t *out);

#endif

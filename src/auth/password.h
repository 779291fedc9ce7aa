/*
 * password.h - password hashing and verification for jwtd.
 *
 * New hashes are argon2id (libargon2) in the PHC string format
 * `$argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt b64>$<hash b64>` with a 16-byte
 * random salt and a 32-byte tag. Verification also accepts the hashes a Django project
 * stores in auth_user.password, so users imported from Django log in with their old
 * password and are rehashed to argon2id on success (auth_password_needs_rehash):
 *   pbkdf2_sha256$<iterations>$<salt>$<b64 hash>      Django's default hasher
 *   pbkdf2_sha1$<iterations>$<salt>$<b64 hash>
 *   argon2$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>   (and argon2i, v=16)
 *   bcrypt_sha256$$2b$<cost>$<salt+hash>              bcrypt over hex(sha256(password))
 *   bcrypt$$2b$<cost>$<salt+hash>
 * Anything else (including Django's unusable "!..." passwords and "") never verifies.
 *
 * Every function here is CPU-heavy and blocking (one argon2id hash at the default
 * m=19 MiB, t=2 costs tens of milliseconds): call them on the blocking pool, never on an
 * event loop. They are thread-safe; each thread keeps one argon2 work area (the configured
 * memory size) and reuses it across hashes instead of mapping fresh memory every time.
 * Passwords are borrowed (ptr + length, not NUL-terminated) and never copied except into
 * wiped buffers; nothing here logs a password or a hash.
 */
#ifndef JWTD_AUTH_PASSWORD_H
#define JWTD_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Buffer size that holds any hash auth_password_hash writes. */
#define AUTH_PASSWORD_HASH_MAX 160

/* argon2id cost parameters (config: argon2_memory_kib, _iterations, _parallelism). */
typedef struct {
    uint32_t memory_kib;  /* 8 * parallelism .. 4194304 */
    uint32_t iterations;  /* 1 .. 64 */
    uint32_t parallelism; /* 1 .. 16 lanes (computed on the calling thread) */
} auth_argon2_params_t;

/* The OWASP minimum jwtd ships with: m=19456 KiB, t=2, p=1. */
#define AUTH_ARGON2_DEFAULTS                                                                       \
    {                                                                                              \
        19456, 2, 1                                                                                \
    }

/*
 * Hashes pw with argon2id at params and a fresh random salt. OUT: out (cap bytes, at least
 * AUTH_PASSWORD_HASH_MAX) receives the NUL-terminated PHC string. Returns 0, ERR_INVALID
 * (params out of range), ERR_NOMEM or ERR_INTERNAL (RNG or libargon2 failure).
 */
int auth_password_hash(const auth_argon2_params_t *params, const char *pw, size_t pw_len, char *out,
                       size_t cap);

/*
 * Whether pw matches the stored hash (any format above). False for a mismatch, an unknown
 * or malformed format, or parameters beyond the verification limits (m > 1 GiB, t > 64,
 * p > 64, PBKDF2 > 10M iterations, which would let a planted hash stall a worker). Fails
 * closed; never crashes on malformed input. Comparisons are constant-time.
 */
__attribute__((warn_unused_result)) bool auth_password_verify(const char *stored, const char *pw,
                                                              size_t pw_len);

/*
 * Whether a hash that just verified should be replaced: true unless it is
 * `$argon2id$v=19$` with memory and iterations at least those of params (Django formats,
 * argon2i and weaker argon2id all need it).
 */
bool auth_password_needs_rehash(const char *stored, const auth_argon2_params_t *params);

/*
 * Makes the dummy hash (argon2id at params, random salt and random tag: no password matches
 * it) that unknown usernames are verified against, so that a login for a missing user costs
 * what a wrong password costs. Computes no hash itself. Call once at start before any thread
 * uses auth_password_verify_dummy(). Returns 0, ERR_INVALID (params out of range) or
 * ERR_INTERNAL (no randomness).
 */
int auth_password_dummy_init(const auth_argon2_params_t *params);
/* Verifies pw against the dummy hash and discards the result (always "no match"). */
void auth_password_verify_dummy(const char *pw, size_t pw_len);

/*
 * Starts n hashing threads under SCHED_IDLE (idempotent; more calls add threads up to n).
 * From then on the functions above compute on those threads while the caller sleeps, so
 * hashing only ever uses CPU time the event loops leave over. The server calls it at
 * start with n = the number of cores; without it (CLI, tests) hashing is inline.
 * Returns 0, or ERR_INTERNAL when no thread could be started (hashing stays inline).
 */
int auth_password_offload_start(unsigned n);

/*
 * Internal, for benchmarks: turns the per-thread argon2 arena on (default) or off (every
 * hash mallocs and frees its work area). Call before threads hash.
 */
void auth__password_use_arena(bool on);

/*
 * Internal, for tests: the work of every argon2 computation (hash or verification) since
 * start, as memory cost in KiB times passes, summed over all threads. A verification
 * against a hash of parameters (m, t) adds exactly m * t: this is how tests show, without
 * a clock, that a login for an unknown user costs what a wrong password costs.
 */
uint64_t auth__password_argon2_work(void);

#endif

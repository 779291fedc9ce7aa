/*
 * jwtv.h - verify JSON Web Tokens issued by jwtd (or any RFC 7515/7519 issuer) in C.
 *
 * jwtv is the small public library that other C services link to check the access tokens
 * jwtd issues: build a verifier once from a JWKS (a file, or a string fetched from
 * `/.well-known/jwks.json`) plus options, then call jwtv_verify() on every request. The
 * result is written into a caller-owned jwtv_claims view; nothing on the verify path
 * allocates on the caller's behalf, and nothing in the library aborts.
 *
 *     jwtv_options opt;
 *     jwtv_options_init(&opt);
 *     opt.issuer = "https://auth.example.com";
 *     opt.token_type = "access";
 *     jwtv_verifier *v;
 *     int rc = jwtv_verifier_new_jwks_file("/etc/app/jwks.json", &opt, &v);
 *     ...
 *     jwtv_claims c;                          // about 13 KiB: fine on a thread's stack
 *     rc = jwtv_verify(v, token, strlen(token), &c);
 *     if (rc != JWTV_OK) { log("%s", jwtv_strerror(rc)); return 401; }
 *     use(c.user_id, c.role, c.exp);
 *
 * Algorithms: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384, EdDSA (Ed25519).
 * `none` is always rejected. Each key carries exactly one algorithm (its JWK `alg`, or the
 * only one its type allows); a token whose `alg` differs from the algorithm of the key its
 * `kid` selects is rejected, so algorithm-confusion attacks cannot work.
 *
 * Key selection: a token's `kid` selects the key. A token without `kid` is only tried
 * against keys whose JWK had no `kid` member (issuers such as Django SimpleJWT do not send
 * one); keys with a `kid` are never matched by a kid-less token. The headers `jku`, `x5u`,
 * `jwk` and `x5c` are rejected (JWTV_EHEADER): keys come from the verifier, never from the
 * token. Any `crit` header is rejected: jwtv understands no extensions.
 *
 * Threads: a verifier is immutable after creation and may be used by any number of threads
 * at once. Each thread keeps a small cache of pre-initialised OpenSSL contexts per key
 * (created on first use, freed at thread exit or by jwtv_thread_cleanup()).
 *
 * Memory: jwtv's own long-lived objects (verifiers, keys, per-thread context caches) are
 * allocated with the functions given to jwtv_set_allocator() (malloc/free by default);
 * short-lived scratch buffers while loading keys use malloc. OpenSSL and jansson use their
 * own allocators. The verify path allocates nothing after a thread's first use of a key.
 *
 * Link with: libjwtv.a (or -ljwtv) plus `pkg-config --libs openssl jansson`.
 */
#ifndef JWTV_JWTV_H
#define JWTV_JWTV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/**
 * Error codes. Every fallible function returns JWTV_OK (0) or one of these negative values.
 * jwtv_strerror() gives a short English message, jwtv_errname() a stable identifier.
 */
#define JWTV_ERRNO_MAP(X)                                                                          \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(EIO, -3, "cannot read file")                                                                 \
    X(EMALFORMED, -4, "malformed token")                                                           \
    X(ETOOLARGE, -5, "token or field too large")                                                   \
    X(EHEADER, -6, "invalid token header")                                                         \
    X(EALG, -7, "algorithm not allowed for this key")                                              \
    X(EUNSUPPORTED_ALG, -8, "unsupported algorithm")                                               \
    X(ECRIT, -9, "unsupported critical header")                                                    \
    X(ENOKEY, -10, "no key matches the token")                                                     \
    X(ESIGNATURE, -11, "signature verification failed")                                            \
    X(EEXPIRED, -12, "token is expired")                                                           \
    X(ENOTYET, -13, "token is not yet valid")                                                      \
    X(EIAT, -14, "token issued in the future")                                                     \
    X(EISSUER, -15, "invalid issuer")                                                              \
    X(EAUDIENCE, -16, "invalid audience")                                                          \
    X(ETOKEN_TYPE, -17, "wrong token type")                                                        \
    X(ECLAIM, -18, "missing or malformed claim")                                                   \
    X(EKEY, -19, "invalid or unsupported key")                                                     \
    X(EJWKS, -20, "malformed JWK set")                                                             \
    X(ECRYPTO, -21, "cryptographic library error")                                                 \
    X(EREVOKED, -22, "token is revoked")

/** The error enum: JWTV_OK and JWTV_EINVAL, JWTV_ENOMEM, ... (see JWTV_ERRNO_MAP). */
enum jwtv_err {
    JWTV_OK = 0,
#define JWTV_ERR_ENUM_(name, val, msg) JWTV_##name = (val),
    JWTV_ERRNO_MAP(JWTV_ERR_ENUM_)
#undef JWTV_ERR_ENUM_
};

/** Short English message for an error code ("token is expired"); never NULL. */
const char *jwtv_strerror(int err);

/** Stable identifier of an error code ("JWTV_EEXPIRED"); "JWTV_OK" for 0; never NULL. */
const char *jwtv_errname(int err);

/* ------------------------------------------------------------------------------------------ */
/* Limits                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Longest compact token accepted, in bytes. Longer tokens fail with JWTV_ETOOLARGE. */
#define JWTV_MAX_TOKEN_BYTES 8192
/** Longest decoded header accepted, in bytes. */
#define JWTV_MAX_HEADER_BYTES 1024
/** Longest decoded payload accepted, in bytes (bounded by JWTV_MAX_TOKEN_BYTES too). */
#define JWTV_MAX_PAYLOAD_BYTES 6144
/** Deepest JSON nesting accepted in header and payload (the top-level object is depth 1). */
#define JWTV_MAX_JSON_DEPTH 16
/** Most JSON values (objects, arrays, members' values, scalars) accepted in a payload. */
#define JWTV_MAX_JSON_TOKENS 512
/** Largest NumericDate accepted (9999-12-31T23:59:59Z); negative dates are rejected too. */
#define JWTV_MAX_NUMERIC_DATE INT64_C(253402300799)

/* ------------------------------------------------------------------------------------------ */
/* Algorithms                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Algorithm bits for jwtv_options.algorithms. */
enum jwtv_alg {
    JWTV_ALG_HS256 = 1u << 0,
    JWTV_ALG_HS384 = 1u << 1,
    JWTV_ALG_HS512 = 1u << 2,
    JWTV_ALG_RS256 = 1u << 3,
    JWTV_ALG_RS384 = 1u << 4,
    JWTV_ALG_RS512 = 1u << 5,
    JWTV_ALG_PS256 = 1u << 6,
    JWTV_ALG_PS384 = 1u << 7,
    JWTV_ALG_PS512 = 1u << 8,
    JWTV_ALG_ES256 = 1u << 9,
    JWTV_ALG_ES384 = 1u << 10,
    JWTV_ALG_EDDSA = 1u << 11,
};
/** Every supported algorithm. */
#define JWTV_ALG_ALL 0xfffu
/** Every asymmetric algorithm (what a service holding only public keys normally wants). */
#define JWTV_ALG_ASYMMETRIC (JWTV_ALG_ALL & ~(JWTV_ALG_HS256 | JWTV_ALG_HS384 | JWTV_ALG_HS512))

/** The jwtv_alg bit for an algorithm name ("ES256"), or 0 when unsupported. Case-sensitive. */
unsigned jwtv_alg_from_name(const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Claims that jwtv_verify() requires to be present (jwtv_options.required). */
enum jwtv_require {
    JWTV_REQUIRE_EXP = 1u << 0,        /**< `exp` (set by jwtv_options_init) */
    JWTV_REQUIRE_IAT = 1u << 1,        /**< `iat` */
    JWTV_REQUIRE_NBF = 1u << 2,        /**< `nbf` */
    JWTV_REQUIRE_JTI = 1u << 3,        /**< `jti` */
    JWTV_REQUIRE_SUB = 1u << 4,        /**< `sub` */
    JWTV_REQUIRE_TOKEN_TYPE = 1u << 5, /**< `token_type` */
    JWTV_REQUIRE_USER_ID = 1u << 6,    /**< `user_id` */
};

/** Behaviour flags (jwtv_options.flags). */
enum jwtv_flag {
    /** Accept any string `jti` up to 255 bytes instead of requiring 32 lowercase hex digits. */
    JWTV_FLAG_ANY_JTI = 1u << 0,
};

/**
 * Verification options. Initialise with jwtv_options_init(), then set what you need. The
 * strings are copied by jwtv_verifier_new_*(); the struct may be discarded afterwards.
 */
typedef struct jwtv_options {
    /** Allowed algorithms (jwtv_alg bits). Default: JWTV_ALG_ALL. */
    unsigned algorithms;
    /** Required `iss`, or NULL to accept any (including none). Default NULL. */
    const char *issuer;
    /**
     * This service's audience, or NULL. When set, `aud` (a string, or an array of strings)
     * must contain it. When NULL, a token that carries `aud` is rejected (RFC 7519 §4.1.3).
     */
    const char *audience;
    /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (0..3600). Default 0. */
    int64_t leeway_s;
    /** Required `token_type` claim ("access"), or NULL for any. Default NULL. */
    const char *token_type;
    /** Required claims (jwtv_require bits). Default JWTV_REQUIRE_EXP. */
    unsigned required;
    /** jwtv_flag bits. Default 0. */
    unsigned flags;
} jwtv_options;

/** Fills *opt with the defaults documented on each field. */
void jwtv_options_init(jwtv_options *opt);

/* ------------------------------------------------------------------------------------------ */
/* Verifier                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/** An immutable set of keys plus options. Thread-safe after creation. */
typedef struct jwtv_verifier jwtv_verifier;

/**
 * Creates a verifier from a JWK Set (RFC 7517 §5: `{"keys": [...]}`) or a single JWK, given
 * as JSON text of `len` bytes (need not be NUL-terminated).
 *
 * Supported keys: RSA (>= 2048 bits), EC P-256 / P-384, OKP Ed25519 and `oct` (HMAC; the
 * JWK must carry `alg`, and the secret must be at least the hash length). Keys with an
 * unknown `kty`/`crv`, with `use` other than "sig", or marked for encryption only, are
 * skipped, as RFC 7517 asks. A key's algorithm is its `alg` member; without one it is
 * RS256 for RSA, ES256/ES384 for P-256/P-384 and EdDSA for Ed25519. A key without `kid`
 * gets its RFC 7638 thumbprint as kid and also matches tokens that carry no `kid`.
 *
 * OUT: *out receives the verifier (free it with jwtv_verifier_free()).
 * Returns JWTV_OK, JWTV_EJWKS (bad JSON or no usable key), JWTV_EKEY (a usable-looking
 * key is malformed or too weak), JWTV_EINVAL (bad options) or JWTV_ENOMEM.
 */
int jwtv_verifier_new_jwks(const char *jwks, size_t len, const jwtv_options *opt,
                           jwtv_verifier **out);

/** Same as jwtv_verifier_new_jwks(), reading the JSON from a file (at most 1 MiB). */
int jwtv_verifier_new_jwks_file(const char *path, const jwtv_options *opt, jwtv_verifier **out);

/** Releases a verifier. No thread may be using it. NULL is a no-op. */
void jwtv_verifier_free(jwtv_verifier *v);

/** Number of keys the verifier holds. */
size_t jwtv_verifier_key_count(const jwtv_verifier *v);

/* ------------------------------------------------------------------------------------------ */
/* Claims view                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** Size of the private storage inside jwtv_claims. */
#define JWTV_CLAIMS_STORAGE_BYTES (2 * JWTV_MAX_PAYLOAD_BYTES + JWTV_MAX_HEADER_BYTES)

/**
 * The verified claims of one token, owned by the caller (stack or heap). Every string
 * points into the struct's own storage, is NUL-terminated, and is NULL when the claim is
 * absent; strings containing a NUL character are rejected (JWTV_ECLAIM). The view stays
 * valid until the struct is reused or goes out of scope. On failure every pointer is NULL
 * except `alg` (see there).
 */
typedef struct jwtv_claims {
    /** `exp`, seconds since the epoch; valid when has_exp. */
    int64_t exp;
    /** `iat`; valid when has_iat. */
    int64_t iat;
    /** `nbf`; valid when has_nbf. */
    int64_t nbf;
    bool has_exp; /**< whether `exp` was present */
    bool has_iat; /**< whether `iat` was present */
    bool has_nbf; /**< whether `nbf` was present */
    /** Whether `premium` was present (a JSON boolean). */
    bool has_premium;
    /** `premium`; false when absent. */
    bool premium;
    /** `user_id` as a string (a JSON integer is given in decimal, for older issuers). */
    const char *user_id;
    /** `sub` (a JSON integer is given in decimal). */
    const char *sub;
    /** `sid`, the session id (a JSON integer is given in decimal). */
    const char *sid;
    /** `jti`. */
    const char *jti;
    /** `token_type` ("access", "refresh"). */
    const char *token_type;
    /** `username`. */
    const char *username;
    /** `email`. */
    const char *email;
    /** `role`. */
    const char *role;
    /** `iss`. */
    const char *iss;
    /**
     * The header's `alg` ("ES256"). Also set when verification fails, as soon as the header
     * decoded to a JSON object whose `alg` names a supported algorithm (even if another rule
     * then failed), so that a rejected token can be logged and counted by algorithm. It is
     * not authenticated then: never base a decision on it. NULL on failure otherwise
     * (`none`, an unknown name, an undecodable header).
     */
    const char *alg;
    /** The header's `kid`, or NULL. */
    const char *kid;
    /** The decoded payload: the whole JSON claims object, NUL-terminated. */
    const char *payload;
    /** Length of payload in bytes. */
    size_t payload_len;
    /** Private storage; do not touch. */
    char _storage[JWTV_CLAIMS_STORAGE_BYTES];
    /** Private: bytes of _storage in use. */
    size_t _used;
} jwtv_claims;

/* ------------------------------------------------------------------------------------------ */
/* Verification                                                                                */
/* ------------------------------------------------------------------------------------------ */

/**
 * Verifies a compact JWS token of `len` bytes (need not be NUL-terminated) with the
 * verifier's keys and options, at the current time. On success fills *out and returns
 * JWTV_OK. Otherwise returns the first rule the token broke (JWTV_EMALFORMED,
 * JWTV_ESIGNATURE, JWTV_EEXPIRED, ...) and clears *out, but for out->alg, which names the
 * token's algorithm whenever its header could be read (see jwtv_claims.alg). The signature is
 * checked before any claim, so a claim error implies an authentic token. Thread-safe; never
 * allocates except for the calling thread's context cache on first use of a key.
 */
int jwtv_verify(const jwtv_verifier *v, const char *token, size_t len, jwtv_claims *out)
    __attribute__((warn_unused_result));

/**
 * Like jwtv_verify(), with per-call overrides: `token_type` replaces the option of the same
 * name when not NULL (pass "" to accept any type), and `now` (seconds since the epoch)
 * replaces the clock when not 0.
 */
int jwtv_verify_ex(const jwtv_verifier *v, const char *token, size_t len, const char *token_type,
                   int64_t now, jwtv_claims *out) __attribute__((warn_unused_result));

/**
 * Reads a string claim that has no field in jwtv_claims (e.g. "first_name") from a verified
 * view. Writes the unescaped, NUL-terminated value into out (cap bytes).
 * Returns JWTV_OK, JWTV_ECLAIM when absent or not a string, JWTV_ETOOLARGE when out is
 * too small.
 */
int jwtv_claims_get_string(const jwtv_claims *c, const char *name, char *out, size_t cap);

/**
 * Reads an integer claim that has no field in jwtv_claims. Returns JWTV_OK, or
 * JWTV_ECLAIM when absent, not an integer, or out of the int64 range.
 */
int jwtv_claims_get_int(const jwtv_claims *c, const char *name, int64_t *out);

/* ------------------------------------------------------------------------------------------ */
/* Revocations                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/**
 * A revocation set: the revocations a service learns from jwtd's revocation feed
 * (GET /auth/revocations/stream, docs/revocation-feed.md) -- token ids (`jti`), sessions
 * (`sid`) and user watermarks (tokens of a user with `iat` before it) -- each kept until
 * the time after which every token it covers has expired. Feed it with
 * jwtv_revset_apply_event() (or the jwtv_revset_add_* functions) from the thread that reads
 * the feed; check tokens with jwtv_verify_revocable() or jwtv_revset_check() from any number
 * of threads at once: a check is O(1) and takes no lock (readers never wait for the
 * writer). Memory: about 48 bytes per entry at a load factor of at most 1/2; tables
 * outgrown by the set are kept until jwtv_revset_free().
 */
typedef struct jwtv_revset jwtv_revset;

/** Creates an empty set. Returns JWTV_OK, JWTV_EINVAL or JWTV_ENOMEM. */
int jwtv_revset_new(jwtv_revset **out);
/** Frees the set; no thread may use it any more. NULL is a no-op. */
void jwtv_revset_free(jwtv_revset *rs);

/**
 * Adds a revocation valid until `until` (seconds since the epoch): a token id, a session id,
 * or a user's watermark (tokens of user_id with iat < before). Adding what is there keeps the
 * later `until` and the higher watermark. Writers are serialised internally. Returns JWTV_OK,
 * JWTV_EINVAL (empty value, until <= 0), JWTV_ETOOLARGE (over 255 bytes), JWTV_ENOMEM.
 */
int jwtv_revset_add_jti(jwtv_revset *rs, const char *jti, int64_t until);
int jwtv_revset_add_sid(jwtv_revset *rs, const char *sid, int64_t until);
int jwtv_revset_add_user(jwtv_revset *rs, const char *user_id, int64_t before, int64_t until);
/**
 * Applies one event of the feed: the JSON of its `data:` line,
 * {"type": "jti"|"sid"|"user", "value": "...", "before": N (user), "until": N}. An unknown
 * type is ignored (JWTV_OK). Returns JWTV_OK, JWTV_EMALFORMED or an error of the add.
 */
int jwtv_revset_apply_event(jwtv_revset *rs, const char *json, size_t len);
/** Forgets the entries whose `until` is before now. Returns how many. */
size_t jwtv_revset_prune(jwtv_revset *rs, int64_t now);
/** Entries in force. */
size_t jwtv_revset_count(const jwtv_revset *rs);

/**
 * Checks verified claims against the set: JWTV_EREVOKED when the token's jti or sid is
 * revoked, or its iat is before its user's watermark; else JWTV_OK. Lock-free, O(1).
 */
int jwtv_revset_check(const jwtv_revset *rs, const jwtv_claims *c);

/**
 * jwtv_verify(), then jwtv_revset_check() (rs may be NULL: no revocations). A revoked token
 * returns JWTV_EREVOKED with *out still filled (who it was, for logs).
 */
int jwtv_verify_revocable(const jwtv_verifier *v, const jwtv_revset *rs, const char *token,
                          size_t len, jwtv_claims *out) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------------------------ */
/* Process and thread housekeeping                                                             */
/* ------------------------------------------------------------------------------------------ */

/**
 * Replaces the allocator for jwtv's own objects (verifiers, keys, context caches). Call
 * before creating any verifier; the three functions must behave like malloc, realloc and
 * free. Passing NULLs restores the defaults.
 */
void jwtv_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                        void (*free_fn)(void *));

/**
 * Frees the calling thread's cache of OpenSSL contexts. Optional: it also happens when the
 * thread exits. Useful before unloading, or in leak checkers for the main thread.
 */
void jwtv_thread_cleanup(void);

/** The library version, "MAJOR.MINOR.PATCH". */
const char *jwtv_version(void);

#ifdef __cplusplus
}
#endif

#endif

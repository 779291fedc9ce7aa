/*
 * mfa.c - multi-factor authentication (mfa.h): TOTP (RFC 6238) and base32, the encryption of
 * TOTP secrets at rest, recovery codes, and the challenge of a login's second step. Owns
 * the statements of its tables (mfa_factors, mfa_recovery_codes, mfa_challenges; created by
 * db's migrations).
 *
 * DESIGN: a TOTP secret is stored as "v1:<kid>:<base64url(nonce | ciphertext | tag)>",
 * AES-256-GCM under a key derived (HKDF-SHA256, jose_key_derive) from the private material
 * of the signing key that was active when it was sealed, named by kid, with the user id as
 * associated data (a row copied to another user does not open). Opening looks the kid up in
 * the key ring (active, next or retired keys); a secret opened with another key than the
 * active one is sealed again under the active one, so factors follow key rotations while
 * they are used. A factor whose key has left the ring cannot be opened any more: its user
 * signs in with a recovery code (hashed with SHA-256, not with the key, so they survive) and
 * enrolls again (docs/mfa.md). Recovery codes carry 80 random bits, so an unsalted SHA-256
 * is enough: there is nothing to guess from the hash.
 *
 * A TOTP code is accepted at most once per factor: the factor remembers the last time step
 * it accepted (last_step) and a code must be of a later step, set by one conditional UPDATE,
 * so two concurrent requests with one code cannot both win. A challenge is used up by one
 * conditional UPDATE as well.
 */
#define LOG_MODULE "mfa"
#include "auth/mfa.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth/auth_internal.h"
#include "common/b64url.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* ==== amr ======================================================================================
 */

static const char *const amr_names[] = {"pwd", "otp", "mfa", "hwk", "user", "ext"};
#define N_AMR (sizeof amr_names / sizeof amr_names[0])

/* See mfa.h. */
void auth_amr_text(unsigned amr, char out[AUTH_AMR_TEXT_MAX])
{
    size_t n = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < N_AMR; i++)
        if (amr & (1u << i))
            n += (size_t)snprintf(out + n, AUTH_AMR_TEXT_MAX - n, "%s%s", n ? " " : "",
                                  amr_names[i]);
}

/* See mfa.h. */
unsigned auth_amr_bit(const char *name, size_t len)
{
    for (unsigned i = 0; i < N_AMR; i++)
        if (strlen(amr_names[i]) == len && memcmp(amr_names[i], name, len) == 0)
            return 1u << i;
    return 0;
}

/* See mfa.h. */
bool auth_recent_auth(int64_t auth_time, int64_t now)
{
    return auth_time > 0 && auth_time <= now + 60 && now - auth_time <= AUTH_REAUTH_WINDOW_S;
}

/* ==== TOTP and base32 ==========================================================================
 */

/* See mfa.h. */
int auth_totp_code(const unsigned char *key, size_t len, int64_t step, uint32_t *code)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    uint64_t c = (uint64_t)step;
    for (int i = 7; i >= 0; i--, c >>= 8)
        msg[i] = (unsigned char)(c & 0xff);
    if (!HMAC(EVP_sha1(), key, (int)len, msg, sizeof msg, mac, &mac_len) || mac_len != 20)
        return ERR_INTERNAL;
    unsigned off = mac[19] & 0x0f; /* RFC 4226 dynamic truncation */
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    *code = bin % 1000000u;
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* See mfa.h. */
void auth_base32_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32[(acc << (5 - bits)) & 31];
    out[o] = '\0';
}

/* See mfa.h. */
int auth_base32_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (ch == ' ' || ch == '-' || ch == '=')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        const char *p = ch ? strchr(b32, ch) : NULL;
        if (!p)
            return ERR_INVALID;
        acc = (acc << 5) | (uint32_t)(p - b32);
        bits += 5;
        if (bits >= 8) {
            if (o >= cap)
                return ERR_INVALID;
            out[o++] = (unsigned char)((acc >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    *out_len = o;
    return 0;
}

/* ==== statements ===============================================================================
 */

enum {
    F_HAS,
    F_INSERT,
    F_PRUNE,
    F_GET,
    F_ACTIVE_TOTP,
    F_USE_STEP,
    F_ACTIVATE,
    F_RESEAL,
    F_LIST,
    F_LIST_BRIEF,
    F_DELETE,
    R_DELETE_ALL,
    R_INSERT,
    R_USE,
    C_INSERT,
    C_PRUNE,
    C_FLUSH,
    C_GET,
    C_USER_FAILURES,
    C_FAIL,
    C_USE,
    MFA__N
};

/* Parameters -> result columns in each comment. */
static const db_stmt_def_t mfa_sql[MFA__N] = {
    /* user_id -> 1 when the user has an active factor */
    [F_HAS] = {.name = "mfa_has",
               .sql = "SELECT 1 FROM mfa_factors WHERE user_id = ?1 AND active = 1 LIMIT 1"},
    /* user_id, name, secret, now -> id */
    [F_INSERT] = {.name = "mfa_factor_insert",
                  .sql =
                      "INSERT INTO mfa_factors (user_id, type, name, secret, active, created_at) "
                      "VALUES (?1, 'totp', ?2, ?3, 0, ?4) RETURNING id"},
    /* user_id, before: drops enrolments never activated */
    [F_PRUNE] = {.name = "mfa_factor_prune",
                 .sql = "DELETE FROM mfa_factors WHERE user_id = ?1 AND active = 0 AND "
                        "created_at < ?2"},
    /* id, user_id -> secret, active, last_step */
    [F_GET] = {.name = "mfa_factor_get",
               .sql = "SELECT secret, active, last_step FROM mfa_factors WHERE id = ?1 AND "
                      "user_id = ?2 AND type = 'totp'"},
    /* user_id -> id, secret, last_step */
    [F_ACTIVE_TOTP] = {.name = "mfa_factor_totp",
                       .sql = "SELECT id, secret, last_step FROM mfa_factors WHERE user_id = ?1 "
                              "AND active = 1 AND type = 'totp' ORDER BY id"},
    /* step, now, id: a later step only */
    [F_USE_STEP] = {.name = "mfa_factor_use",
                    .sql = "UPDATE mfa_factors SET last_step = ?1, last_used_at = ?2 WHERE id = ?3 "
                           "AND (last_step IS NULL OR last_step < ?1)"},
    /* step, id, user_id */
    [F_ACTIVATE] = {.name = "mfa_factor_activate",
                    .sql = "UPDATE mfa_factors SET active = 1, last_step = ?1 WHERE id = ?2 AND "
                           "user_id = ?3 AND active = 0 AND (last_step IS NULL OR last_step < ?1)"},
    /* secret, id */
    [F_RESEAL] = {.name = "mfa_factor_reseal",
                  .sql = "UPDATE mfa_factors SET secret = ?1 WHERE id = ?2"},
    /* user_id -> id, type, name, created_at, last_used_at */
    [F_LIST] = {.name = "mfa_factor_list",
                .sql = "SELECT id, type, name, created_at, last_used_at FROM mfa_factors WHERE "
                       "user_id = ?1 AND active = 1 ORDER BY id"},
    /* user_id -> id, type */
    [F_LIST_BRIEF] = {.name = "mfa_factor_brief",
                      .sql = "SELECT id, type FROM mfa_factors WHERE user_id = ?1 AND active = 1 "
                             "ORDER BY id"},
    /* id, user_id */
    [F_DELETE] = {.name = "mfa_factor_delete",
                  .sql = "DELETE FROM mfa_factors WHERE id = ?1 AND user_id = ?2"},
    /* user_id */
    [R_DELETE_ALL] = {.name = "mfa_recovery_clear",
                      .sql = "DELETE FROM mfa_recovery_codes WHERE user_id = ?1"},
    /* user_id, code_hash, now */
    [R_INSERT] = {.name = "mfa_recovery_insert",
                  .sql = "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES "
                         "(?1, ?2, ?3)"},
    /* now, user_id, code_hash: once */
    [R_USE] = {.name = "mfa_recovery_use",
               .sql = "UPDATE mfa_recovery_codes SET used_at = ?1 WHERE user_id = ?2 AND "
                      "code_hash = ?3 AND used_at IS NULL"},
    /* token_hash, user_id, family, bind, amr, now, expires_at */
    [C_INSERT] = {.name = "mfa_challenge_insert",
                  .sql = "INSERT INTO mfa_challenges (token_hash, user_id, family, bind, amr, "
                         "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    /* user_id, before */
    [C_PRUNE] = {.name = "mfa_challenge_prune",
                 .sql = "DELETE FROM mfa_challenges WHERE user_id = ?1 AND created_at < ?2"},
    /* now, before: expired and older than the per-user attempt window (auth__mfa_flush) */
    [C_FLUSH] = {.name = "mfa_challenge_flush",
                 .sql = "DELETE FROM mfa_challenges WHERE expires_at <= ?1 AND created_at < ?2"},
    /* token_hash -> user_id, family, bind, amr, expires_at, attempts, used_at */
    [C_GET] = {.name = "mfa_challenge_get",
               .sql = "SELECT user_id, family, bind, amr, expires_at, attempts, used_at FROM "
                      "mfa_challenges WHERE token_hash = ?1"},
    /* user_id, since -> failed attempts, oldest created_at among them */
    [C_USER_FAILURES] = {.name = "mfa_challenge_failures",
                         .sql = "SELECT COALESCE(SUM(attempts), 0), COALESCE(MIN(created_at), 0) "
                                "FROM mfa_challenges WHERE user_id = ?1 AND created_at > ?2 AND "
                                "attempts > 0"},
    /* token_hash */
    [C_FAIL] = {.name = "mfa_challenge_fail",
                .sql = "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = ?1"},
    /* now, token_hash, max attempts: once */
    [C_USE] = {.name = "mfa_challenge_use",
               .sql = "UPDATE mfa_challenges SET used_at = ?1 WHERE token_hash = ?2 AND used_at "
                      "IS NULL AND expires_at > ?1 AND attempts < ?3"},
};

#define SQL(id) (&mfa_sql[id])

/* ==== secrets at rest ==========================================================================
 */

#define SEAL_INFO  "jwtd mfa totp secret v1"
#define NONCE_LEN  12
#define TAG_LEN    16
#define SEALED_MAX 256

/* The AES-256 key derived from key. */
static int seal_key(const jose_key_t *key, unsigned char k[32])
{
    return jose_key_derive(key, SEAL_INFO, k, 32) == 0 ? 0 : ERR_INTERNAL;
}

/* Associated data: the owner, so a sealed secret does not open for another user. */
static size_t seal_aad(int64_t user_id, char aad[32])
{
    return (size_t)snprintf(aad, 32, "user:%" PRId64, user_id);
}

/* Seals secret (len bytes) for user_id under the active signing key. out: SEALED_MAX. */
static int seal(const auth_t *a, int64_t user_id, const unsigned char *secret, size_t len,
                char out[SEALED_MAX])
{
    const jose_key_t *key = auth__live(a)->sign_key;
    unsigned char k[32], blob[NONCE_LEN + 64 + TAG_LEN];
    char aad[32];
    size_t aad_len = seal_aad(user_id, aad);
    int outl = 0, fin = 0, rc = ERR_INTERNAL;
    if (len > 64 || seal_key(key, k) != 0 || RAND_bytes(blob, NONCE_LEN) != 1)
        goto out;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, blob) == 1 &&
        EVP_EncryptUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)aad_len) == 1 &&
        EVP_EncryptUpdate(c, blob + NONCE_LEN, &outl, secret, (int)len) == 1 &&
        EVP_EncryptFinal_ex(c, blob + NONCE_LEN + outl, &fin) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, blob + NONCE_LEN + outl + fin) == 1) {
        size_t blob_len = NONCE_LEN + (size_t)(outl + fin) + TAG_LEN;
        int n = snprintf(out, SEALED_MAX, "v1:%s:", jose_key_kid(key));
        char enc[B64URL_ENC_LEN(sizeof blob) + 1];
        size_t enc_len = b64url_encode(blob, blob_len, enc, sizeof enc);
        if (n > 0 && enc_len != (size_t)-1 && (size_t)n + enc_len < SEALED_MAX) {
            memcpy(out + n, enc, enc_len);
            out[n + (int)enc_len] = '\0';
            rc = 0;
        }
    }
    EVP_CIPHER_CTX_free(c);
out:
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

/* One of jwtd's own keys (not another issuer's) with this kid, or NULL. */
static const jose_key_t *own_key(const jose_keyring_t *ring, const char *kid, size_t kid_len)
{
    for (size_t i = 0; i < jose_keyring_count(ring); i++) {
        enum jose_key_role role;
        const jose_key_t *k = jose_keyring_at(ring, i, &role);
        if (role != JOSE_ROLE_TRUSTED && jose_key_can_sign(k) &&
            strlen(jose_key_kid(k)) == kid_len && memcmp(jose_key_kid(k), kid, kid_len) == 0)
            return k;
    }
    return NULL;
}

/*
 * Opens a sealed secret of user_id. OUT: secret (64 bytes), *len, *stale (sealed under a key
 * that is not the active one: seal it again). Returns 0, ERR_NOT_FOUND (its key has left the
 * ring), ERR_INVALID (damaged or another user's).
 */
static int open_sealed(const auth_t *a, int64_t user_id, const char *sealed, unsigned char *secret,
                       size_t *len, bool *stale)
{
    const char *kid = strncmp(sealed, "v1:", 3) == 0 ? sealed + 3 : NULL;
    const char *colon = kid ? strchr(kid, ':') : NULL;
    if (!colon)
        return ERR_INVALID;
    const auth_live_t *l = auth__live(a);
    const jose_key_t *key = own_key(l->ring, kid, (size_t)(colon - kid));
    if (!key)
        return ERR_NOT_FOUND;
    *stale = key != l->sign_key;
    unsigned char blob[NONCE_LEN + 64 + TAG_LEN], k[32];
    size_t blob_len = 0;
    const char *enc = colon + 1;
    if (!b64url_decode(enc, strlen(enc), blob, sizeof blob, &blob_len) ||
        blob_len < NONCE_LEN + TAG_LEN + 1)
        return ERR_INVALID;
    char aad[32];
    size_t aad_len = seal_aad(user_id, aad);
    int outl = 0, fin = 0, rc = ERR_INVALID;
    size_t ct_len = blob_len - NONCE_LEN - TAG_LEN;
    if (seal_key(key, k) != 0)
        return ERR_INTERNAL;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, blob) == 1 &&
        EVP_DecryptUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)aad_len) == 1 &&
        EVP_DecryptUpdate(c, secret, &outl, blob + NONCE_LEN, (int)ct_len) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, blob + NONCE_LEN + ct_len) == 1 &&
        EVP_DecryptFinal_ex(c, secret + outl, &fin) == 1) {
        *len = (size_t)(outl + fin);
        rc = 0;
    }
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

/* ==== codes ====================================================================================
 */

/* Parses a 6-digit code (blanks allowed around and between groups). False when it is none. */
static bool parse_totp(const char *code, uint32_t *out)
{
    uint32_t v = 0;
    int digits = 0;
    for (const char *p = code; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9' || ++digits > AUTH_TOTP_DIGITS)
            return false;
        v = v * 10 + (uint32_t)(*p - '0');
    }
    *out = v;
    return digits == AUTH_TOTP_DIGITS;
}

/* The step in [now_step - 1, now_step + 1] whose code is code and later than last_step, or
   -1. Compared in constant time per candidate. */
static int64_t totp_match(const unsigned char *key, size_t len, uint32_t code, int64_t now,
                          int64_t last_step)
{
    int64_t step = now / AUTH_TOTP_STEP_S, found = -1;
    for (int64_t s = step - 1; s <= step + 1; s++) {
        uint32_t c;
        if (auth_totp_code(key, len, s, &c) != 0)
            return -1;
        if (CRYPTO_memcmp(&c, &code, sizeof c) == 0 && s > last_step && found < 0)
            found = s;
    }
    return found;
}

/* The normalised form of a recovery code (upper-case base32, separators dropped) hashed with
   SHA-256 as 64 hex characters. False when it cannot be a recovery code. */
static bool recovery_hash(const char *code, char hex[65])
{
    char norm[AUTH_RECOVERY_CODE_CHARS + 1];
    size_t n = 0;
    for (const char *p = code; *p; p++) {
        char ch = *p;
        if (ch == '-' || ch == ' ')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (!strchr(b32, ch) || ch == '\0' || n >= 16)
            return false;
        norm[n++] = ch;
    }
    if (n != 16)
        return false;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)norm, n, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return true;
}

/* A new recovery code "XXXX-XXXX-XXXX-XXXX" (80 random bits). */
static int recovery_new(char out[AUTH_RECOVERY_CODE_CHARS + 1])
{
    unsigned char r[10];
    char raw[17];
    if (RAND_bytes(r, sizeof r) != 1)
        return ERR_INTERNAL;
    auth_base32_encode(r, sizeof r, raw);
    snprintf(out, AUTH_RECOVERY_CODE_CHARS + 1, "%.4s-%.4s-%.4s-%.4s", raw, raw + 4, raw + 8,
             raw + 12);
    OPENSSL_cleanse(r, sizeof r);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

/* SHA-256 of an mfa_token as 64 hex characters. */
static void token_hash(const char *token, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* ==== factors ==================================================================================
 */

/* See auth_internal.h. */
int auth__mfa_has_totp(auth_t *a, int64_t user_id, bool *has)
{
    db_param_t p[] = {db_int(user_id)};
    int64_t one = 0;
    int rc = db_query_one(a->db, SQL(F_HAS), p, 1, db_row_read_int, &one);
    *has = rc == 0;
    return rc == ERR_NOT_FOUND ? 0 : auth__map_db(rc);
}

/* See mfa.h. */
int auth_mfa_has_factor(auth_t *a, int64_t user_id, bool *has)
{
    db_param_t p[] = {db_int(user_id)};
    int64_t one = 0;
    int rc = db_query_one(a->db, SQL(F_HAS), p, 1, db_row_read_int, &one);
    *has = rc == 0;
    if (rc == ERR_NOT_FOUND) /* no TOTP factor: a passkey is one too */
        return auth_webauthn_has(a, user_id, has);
    return auth__map_db(rc);
}

/* See mfa.h. */
void auth_totp_enrollment_dispose(auth_totp_enrollment_t *e)
{
    if (!e)
        return;
    free(e->otpauth_uri);
    OPENSSL_cleanse(e, sizeof *e);
}

/* Appends s percent-encoded (RFC 3986 unreserved characters kept) to b. */
static void uri_escape(buf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~')
            buf_append_char(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

/* See mfa.h. */
int auth_mfa_totp_enroll(auth_t *a, int64_t user_id, const char *issuer, int64_t now,
                         auth_totp_enrollment_t *out)
{
    memset(out, 0, sizeof *out);
    db_user_t u;
    memset(&u, 0, sizeof u);
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0)
        return auth__map_db(rc);
    unsigned char secret[AUTH_TOTP_SECRET_LEN];
    char sealed[SEALED_MAX];
    if (RAND_bytes(secret, sizeof secret) != 1 || seal(a, user_id, secret, sizeof secret, sealed)) {
        db_user_dispose(&u);
        OPENSSL_cleanse(secret, sizeof secret);
        return ERR_INTERNAL;
    }
    auth_base32_encode(secret, sizeof secret, out->secret);
    OPENSSL_cleanse(secret, sizeof secret);
    db_param_t prune[] = {db_int(user_id), db_int(now - 3600)};
    (void)db_exec(a->db, SQL(F_PRUNE), prune, 2, NULL);
    db_param_t p[] = {db_int(user_id), db_text("Authenticator app"), db_text(sealed), db_int(now)};
    rc = db_query_one(a->db, SQL(F_INSERT), p, 4, db_row_read_int, &out->factor_id);
    if (rc != 0) {
        db_user_dispose(&u);
        auth_totp_enrollment_dispose(out);
        return auth__map_db(rc) == ERR_NOT_FOUND ? ERR_NOT_FOUND : ERR_UNAVAILABLE;
    }
    const char *iss = issuer && *issuer ? issuer : "jwtd";
    buf_t b;
    buf_init(&b, 4096);
    buf_append_cstr(&b, "otpauth://totp/");
    uri_escape(&b, iss);
    buf_append_char(&b, ':');
    uri_escape(&b, u.username);
    buf_printf(&b, "?secret=%s&issuer=", out->secret);
    uri_escape(&b, iss);
    buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", AUTH_TOTP_DIGITS, AUTH_TOTP_STEP_S);
    out->otpauth_uri = xstrdup(b.data ? b.data : "");
    buf_dispose(&b);
    audit_info(NULL, .event = "mfa_enroll", .outcome = "success", .user_id = user_id,
               .username = u.username, .reason = "totp");
    db_user_dispose(&u);
    return 0;
}

struct factor_row {
    int64_t id;
    char *secret;
    bool active;
    int64_t last_step; /* -1 when none */
};

static int read_factor(void *arg, const db_row_t *row)
{
    struct factor_row *f = arg;
    f->secret = db_row_strdup(row, 0);
    f->active = db_row_int(row, 1) != 0;
    f->last_step = db_row_is_null(row, 2) ? -1 : db_row_int(row, 2);
    return 0;
}

struct activate_tx {
    int64_t user_id, factor_id, step, now;
    char (*codes)[AUTH_RECOVERY_CODE_CHARS + 1];
};

static int activate_body(db_tx_t *tx, void *arg)
{
    struct activate_tx *t = arg;
    int64_t changes = 0;
    db_param_t p[] = {db_int(t->step), db_int(t->factor_id), db_int(t->user_id)};
    int rc = db_tx_exec(tx, SQL(F_ACTIVATE), p, 3, &changes);
    if (rc == 0 && changes != 1)
        return ERR_MFA_CODE_INVALID; /* activated or its step used meanwhile */
    db_param_t q[] = {db_int(t->user_id)};
    if (rc == 0)
        rc = db_tx_exec(tx, SQL(R_DELETE_ALL), q, 1, NULL);
    for (int i = 0; rc == 0 && i < AUTH_RECOVERY_CODES; i++) {
        char hex[65];
        if (recovery_new(t->codes[i]) != 0 || !recovery_hash(t->codes[i], hex))
            return ERR_INTERNAL;
        db_param_t r[] = {db_int(t->user_id), db_text(hex), db_int(t->now)};
        rc = db_tx_exec(tx, SQL(R_INSERT), r, 3, NULL);
    }
    return rc;
}

/* See mfa.h. */
int auth_mfa_totp_activate(auth_t *a, int64_t user_id, int64_t factor_id, const char *code,
                           int64_t now,
                           char codes[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_CHARS + 1])
{
    struct factor_row f = {.id = factor_id};
    db_param_t p[] = {db_int(factor_id), db_int(user_id)};
    int rc = db_query_one(a->db, SQL(F_GET), p, 2, read_factor, &f);
    if (rc != 0)
        return auth__map_db(rc);
    uint32_t want;
    unsigned char secret[64];
    size_t len = 0;
    bool stale = false;
    int64_t step = -1;
    if (f.active) {
        rc = ERR_NOT_FOUND;
    } else if (!parse_totp(code, &want)) {
        rc = ERR_MFA_CODE_INVALID;
    } else if ((rc = open_sealed(a, user_id, f.secret, secret, &len, &stale)) != 0) {
        log_warn("msg=\"TOTP secret cannot be opened\" factor_id=%" PRId64 " err=%s", factor_id,
                 err_name(rc));
        rc = ERR_NOT_FOUND;
    } else if ((step = totp_match(secret, len, want, now, f.last_step)) < 0) {
        rc = ERR_MFA_CODE_INVALID;
    } else {
        struct activate_tx t = {user_id, factor_id, step, now, codes};
        rc = db_transact(a->db, activate_body, &t);
        if (rc != 0 && rc != ERR_MFA_CODE_INVALID && rc != ERR_INTERNAL)
            rc = auth__map_db(rc);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    free(f.secret);
    if (rc == 0)
        audit_info(NULL, .event = "mfa_activate", .outcome = "success", .user_id = user_id,
                   .reason = "totp");
    else if (rc == ERR_MFA_CODE_INVALID)
        audit_warn(NULL, .event = "mfa_activate", .outcome = "failure", .user_id = user_id,
                   .reason = "invalid_code");
    if (rc != 0)
        OPENSSL_cleanse(codes, sizeof(char[AUTH_RECOVERY_CODES][AUTH_RECOVERY_CODE_CHARS + 1]));
    return rc;
}

struct list_ctx {
    buf_t *out;
    bool brief;
    size_t n;
};

static int list_row(void *arg, const db_row_t *row)
{
    struct list_ctx *l = arg;
    buf_t *b = l->out;
    size_t tlen = 0, nlen = 0;
    const char *type = db_row_text(row, 1, &tlen);
    if (l->n++)
        buf_append_char(b, ',');
    buf_printf(b, "{\"id\":\"%" PRId64 "\",\"type\":", db_row_int(row, 0));
    jsonw_buf_str(b, type ? type : "", type ? tlen : 0);
    if (!l->brief) {
        const char *name = db_row_text(row, 2, &nlen);
        buf_append_cstr(b, ",\"name\":");
        jsonw_buf_str(b, name ? name : "", name ? nlen : 0);
        buf_printf(b, ",\"created_at\":%" PRId64 ",\"last_used_at\":", db_row_int(row, 3));
        if (db_row_is_null(row, 4))
            buf_append_cstr(b, "null");
        else
            buf_printf(b, "%" PRId64, db_row_int(row, 4));
    }
    buf_append_char(b, '}');
    return 0;
}

/* Appends the user's active factors, whole or brief ({"id","type"}), as a JSON array. */
static int factors_json(auth_t *a, int64_t user_id, bool brief, buf_t *out)
{
    struct list_ctx l = {out, brief, 0};
    db_param_t p[] = {db_int(user_id)};
    buf_append_char(out, '[');
    int rc = db_query(a->db, SQL(brief ? F_LIST_BRIEF : F_LIST), p, 1, list_row, &l);
    if (rc == 0)
        rc = auth__webauthn_factors(a, user_id, brief, out, &l.n);
    buf_append_char(out, ']');
    return auth__map_db(rc);
}

/* See mfa.h. */
int auth_mfa_factors_json(auth_t *a, int64_t user_id, buf_t *out)
{
    return factors_json(a, user_id, false, out);
}

/* See mfa.h. */
int auth_mfa_factor_delete(auth_t *a, int64_t user_id, int64_t id, int64_t now)
{
    (void)now;
    int64_t changes = 0;
    db_param_t p[] = {db_int(id), db_int(user_id)};
    int rc = db_exec(a->db, SQL(F_DELETE), p, 2, &changes);
    if (rc != 0)
        return auth__map_db(rc);
    if (changes == 0)
        return ERR_NOT_FOUND;
    bool has = true;
    if (auth_mfa_has_factor(a, user_id, &has) == 0 && !has) {
        db_param_t q[] = {db_int(user_id)};
        (void)db_exec(a->db, SQL(R_DELETE_ALL), q, 1, NULL);
    }
    char detail[40];
    snprintf(detail, sizeof detail, "factor_id=%" PRId64, id);
    audit_info(NULL, .event = "mfa_remove", .outcome = "success", .user_id = user_id,
               .detail = detail);
    return 0;
}

/* ==== challenges ===============================================================================
 */

/* See auth_internal.h. A challenge's failed attempts count against its user for
   AUTH_MFA_USER_WINDOW_S after it was made, so it stays that long even when expired. */
int auth__mfa_flush(db_t *db, int64_t now, int64_t *deleted)
{
    db_param_t p[] = {db_int(now), db_int(now - AUTH_MFA_USER_WINDOW_S)};
    return db_exec(db, SQL(C_FLUSH), p, 2, deleted);
}

/* See mfa.h. */
int auth_mfa_challenge_new(auth_t *a, int64_t user_id, unsigned amr, const char *family,
                           const char *bind, int64_t now, char token[AUTH_MFA_TOKEN_LEN + 1],
                           buf_t *factors)
{
    char hex[65];
    if (auth__random_id(token) != 0 || auth__random_id(token + 32) != 0)
        return ERR_INTERNAL;
    token_hash(token, hex);
    db_param_t prune[] = {db_int(user_id), db_int(now - AUTH_MFA_USER_WINDOW_S)};
    (void)db_exec(a->db, SQL(C_PRUNE), prune, 2, NULL);
    char fam[AUTH_MFA_FAMILY_MAX + 1], bnd[AUTH_MFA_BIND_MAX + 1];
    snprintf(fam, sizeof fam, "%s", family ? family : "");
    snprintf(bnd, sizeof bnd, "%s", bind ? bind : "");
    db_param_t p[] = {db_text(hex),
                      db_int(user_id),
                      db_text(fam),
                      db_text(bnd),
                      db_int(amr),
                      db_int(now),
                      db_int(now + AUTH_MFA_TOKEN_TTL_S)};
    int rc = db_exec(a->db, SQL(C_INSERT), p, DB_NPARAMS(p), NULL);
    if (rc == 0 && factors)
        rc = factors_json(a, user_id, true, factors);
    if (rc != 0) {
        OPENSSL_cleanse(token, AUTH_MFA_TOKEN_LEN + 1);
        return auth__map_db(rc) == ERR_NOT_FOUND ? ERR_UNAVAILABLE : auth__map_db(rc);
    }
    return 0;
}

struct challenge_row {
    auth_mfa_challenge_t *c;
    int64_t expires_at, attempts, used_at;
};

static int read_challenge(void *arg, const db_row_t *row)
{
    struct challenge_row *r = arg;
    size_t n = 0;
    r->c->user_id = db_row_int(row, 0);
    const char *fam = db_row_text(row, 1, &n);
    snprintf(r->c->family, sizeof r->c->family, "%.*s", (int)(fam ? n : 0), fam ? fam : "");
    const char *bnd = db_row_text(row, 2, &n);
    snprintf(r->c->bind, sizeof r->c->bind, "%.*s", (int)(bnd ? n : 0), bnd ? bnd : "");
    r->c->amr = (unsigned)db_row_int(row, 3);
    r->expires_at = db_row_int(row, 4);
    r->attempts = db_row_int(row, 5);
    r->used_at = db_row_int(row, 6);
    return 0;
}

struct failures {
    int64_t count, oldest;
};

static int read_failures(void *arg, const db_row_t *row)
{
    struct failures *f = arg;
    f->count = db_row_int(row, 0);
    f->oldest = db_row_int(row, 1);
    return 0;
}

/* See mfa.h. */
int auth_mfa_challenge_find(auth_t *a, const char *token, int64_t now, auth_mfa_challenge_t *c,
                            uint32_t *retry_after_s)
{
    memset(c, 0, sizeof *c);
    if (!token || strlen(token) != AUTH_MFA_TOKEN_LEN)
        return ERR_MFA_TOKEN_INVALID;
    char hex[65];
    token_hash(token, hex);
    struct challenge_row r = {.c = c};
    db_param_t p[] = {db_text(hex)};
    int rc = db_query_one(a->db, SQL(C_GET), p, 1, read_challenge, &r);
    if (rc == ERR_NOT_FOUND)
        return ERR_MFA_TOKEN_INVALID;
    if (rc != 0)
        return auth__map_db(rc);
    if (r.used_at != 0 || r.expires_at <= now || r.attempts >= AUTH_MFA_TOKEN_ATTEMPTS)
        return ERR_MFA_TOKEN_INVALID;
    struct failures f = {0, 0};
    db_param_t q[] = {db_int(c->user_id), db_int(now - AUTH_MFA_USER_WINDOW_S)};
    if ((rc = db_query_one(a->db, SQL(C_USER_FAILURES), q, 2, read_failures, &f)) != 0)
        return auth__map_db(rc);
    if (f.count >= AUTH_MFA_USER_ATTEMPTS) {
        if (retry_after_s) {
            int64_t left = f.oldest + AUTH_MFA_USER_WINDOW_S - now;
            *retry_after_s = left > 0 ? (uint32_t)left : 1;
        }
        return ERR_THROTTLED;
    }
    return 0;
}

/* See mfa.h. */
int auth_mfa_challenge_fail(auth_t *a, const char *token, int64_t now)
{
    (void)now;
    char hex[65];
    token_hash(token, hex);
    db_param_t p[] = {db_text(hex)};
    return auth__map_db(db_exec(a->db, SQL(C_FAIL), p, 1, NULL));
}

/* See mfa.h. */
int auth_mfa_challenge_complete(auth_t *a, const char *token, const auth_mfa_challenge_t *c,
                                unsigned factor_amr, const auth_client_t *client, int64_t now,
                                auth_pair_t *out)
{
    memset(out, 0, sizeof *out);
    char hex[65];
    token_hash(token, hex);
    int64_t changes = 0;
    db_param_t p[] = {db_int(now), db_text(hex), db_int(AUTH_MFA_TOKEN_ATTEMPTS)};
    int rc = db_exec(a->db, SQL(C_USE), p, 3, &changes);
    if (rc != 0)
        return auth__map_db(rc);
    if (changes != 1)
        return ERR_MFA_TOKEN_INVALID;
    db_user_t u;
    memset(&u, 0, sizeof u);
    rc = db_user_find_by_id(a->db, c->user_id, &u);
    if (rc != 0)
        return rc == ERR_NOT_FOUND ? ERR_NO_ACTIVE_ACCOUNT : auth__map_db(rc);
    if (!u.is_active) {
        db_user_dispose(&u);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    rc = auth__issue_session(a, &u, client, now, c->amr | factor_amr | AUTH_AMR_MFA, now, out);
    metrics_count(rc == 0 ? METRICS_LOGIN_SUCCESS : METRICS_LOGIN_ERROR);
    if (rc == 0)
        audit_info(NULL, .event = "login", .outcome = "success", .user_id = u.id,
                   .username = u.username, .sid = out->sid, .reason = "mfa");
    else
        auth_pair_dispose(out);
    if (rc == 0 && (c->amr & AUTH_AMR_PWD) && auth_device_tokens_enabled(a)) {
        /* the password was right: the client earns its device token now, as a login of
           one step does (the login guard's trusted device, device.c) */
        out->device_token = xmalloc(AUTH_TOKEN_MAX + 1);
        if (auth_device_token_issue(a, u.username, now, out->device_token, AUTH_TOKEN_MAX + 1,
                                    &out->device_token_len) != 0) {
            free(out->device_token); /* the login stands; the client stays untrusted */
            out->device_token = NULL;
            out->device_token_len = 0;
        }
    }
    db_user_dispose(&u);
    return rc;
}

struct totp_row {
    int64_t id;
    char *secret;
    int64_t last_step;
};

typedef struct {
    struct totp_row *items;
    size_t count;
} totp_list_t;

static int read_totp(void *arg, const db_row_t *row)
{
    struct totp_row *t = arg;
    t->id = db_row_int(row, 0);
    t->secret = db_row_strdup(row, 1);
    t->last_step = db_row_is_null(row, 2) ? -1 : db_row_int(row, 2);
    return 0;
}

static void totp_row_dispose(void *item)
{
    struct totp_row *t = item;
    if (t->secret)
        OPENSSL_cleanse(t->secret, strlen(t->secret));
    free(t->secret);
}

static const db_list_def_t totp_list_def = {sizeof(struct totp_row), 16, read_totp,
                                            totp_row_dispose};

/*
 * Tries code as a TOTP code of one of user_id's factors. Returns 0 (accepted: its step is
 * used up), ERR_MFA_CODE_INVALID, or the database's error.
 */
static int try_totp(auth_t *a, int64_t user_id, uint32_t code, int64_t now)
{
    totp_list_t list = {NULL, 0}, *l = &list;
    db_param_t p[] = {db_int(user_id)};
    int rc = DB_QUERY_LIST(a->db, SQL(F_ACTIVE_TOTP), p, 1, &totp_list_def, l);
    if (rc != 0)
        return auth__map_db(rc);
    rc = ERR_MFA_CODE_INVALID;
    for (size_t i = 0; i < l->count && rc == ERR_MFA_CODE_INVALID; i++) {
        unsigned char secret[64];
        size_t len = 0;
        bool stale = false;
        int orc = open_sealed(a, user_id, l->items[i].secret, secret, &len, &stale);
        if (orc != 0) {
            log_warn("msg=\"TOTP secret cannot be opened (its key left the key ring?)\" "
                     "factor_id=%" PRId64 " err=%s",
                     l->items[i].id, err_name(orc));
            continue;
        }
        int64_t step = totp_match(secret, len, code, now, l->items[i].last_step);
        if (step >= 0) {
            int64_t changes = 0;
            db_param_t u[] = {db_int(step), db_int(now), db_int(l->items[i].id)};
            int urc = db_exec(a->db, SQL(F_USE_STEP), u, 3, &changes);
            if (urc != 0)
                rc = auth__map_db(urc);
            else if (changes == 1)
                rc = 0;
            char sealed[SEALED_MAX];
            if (rc == 0 && stale && seal(a, user_id, secret, len, sealed) == 0) {
                db_param_t r[] = {db_text(sealed), db_int(l->items[i].id)};
                (void)db_exec(a->db, SQL(F_RESEAL), r, 2, NULL); /* next time, then */
            }
        }
        OPENSSL_cleanse(secret, sizeof secret);
    }
    DB_LIST_RELEASE(&totp_list_def, l);
    return rc;
}

/* Tries code as one of user_id's recovery codes. 0 (used up), ERR_MFA_CODE_INVALID or the
   database's error. */
static int try_recovery(auth_t *a, int64_t user_id, const char *code, int64_t now)
{
    char hex[65];
    if (!recovery_hash(code, hex))
        return ERR_MFA_CODE_INVALID;
    int64_t changes = 0;
    db_param_t p[] = {db_int(now), db_int(user_id), db_text(hex)};
    int rc = db_exec(a->db, SQL(R_USE), p, 3, &changes);
    if (rc != 0)
        return auth__map_db(rc);
    return changes == 1 ? 0 : ERR_MFA_CODE_INVALID;
}

/* See mfa.h. */
int auth_mfa_verify(auth_t *a, const char *token, const char *code, const char *bind,
                    const auth_client_t *client, int64_t now, auth_pair_t *out,
                    char family[AUTH_MFA_FAMILY_MAX + 1], uint32_t *retry_after_s)
{
    memset(out, 0, sizeof *out);
    family[0] = '\0';
    auth_mfa_challenge_t c;
    int rc = auth_mfa_challenge_find(a, token, now, &c, retry_after_s);
    if (rc != 0) {
        if (rc == ERR_THROTTLED)
            audit_warn(NULL, .event = "mfa_verify", .outcome = "failure", .user_id = c.user_id,
                       .reason = "throttled");
        return rc;
    }
    if (c.bind[0] && strcmp(c.bind, bind ? bind : "") != 0) {
        audit_warn(NULL, .event = "mfa_verify", .outcome = "failure", .user_id = c.user_id,
                   .reason = "binding");
        return ERR_MFA_TOKEN_INVALID;
    }
    uint32_t totp;
    unsigned how = AUTH_AMR_OTP;
    rc = parse_totp(code, &totp) ? try_totp(a, c.user_id, totp, now)
                                 : try_recovery(a, c.user_id, code, now);
    if (rc == ERR_MFA_CODE_INVALID) {
        int frc = auth_mfa_challenge_fail(a, token, now);
        audit_warn(NULL, .event = "mfa_verify", .outcome = "failure", .user_id = c.user_id,
                   .reason = "invalid_code");
        return frc != 0 ? frc : ERR_MFA_CODE_INVALID;
    }
    if (rc != 0)
        return rc;
    rc = auth_mfa_challenge_complete(a, token, &c, how, client, now, out);
    if (rc == 0)
        snprintf(family, AUTH_MFA_FAMILY_MAX + 1, "%s", c.family);
    return rc;
}

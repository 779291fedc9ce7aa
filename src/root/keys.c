/*
 * keys.c - builds jwtd's signing/verification key ring from the key settings
 * (JWTD_ALGORITHM, JWTD_SECRET_KEY, JWTD_SECRET_KEY_FILE, JWTD_SIGNING_KEY_FILE,
 * JWTD_TRUSTED_JWKS_FILE, the environment, the data directory; issuer, audience and leeway
 * for the verification options).
 *
 * Wiring code: reads files and struct cfg, hands bytes to jose/ (which owns every
 * cryptographic check: key sizes, curves, alg fit), and adds the policy that only the
 * server cares about: environment-dependent strictness, file permissions, the generated
 * development secret, and the rotation list syntax of the key-file variables.
 *
 * Key sources, in order:
 *   - HS*: JWTD_SECRET_KEY (the bytes of the value) or JWTD_SECRET_KEY_FILE (the file's
 *     bytes, one trailing newline stripped); at least 32 bytes and at least the hash length.
 *     In development with neither set, a random secret is generated once into
 *     <data_dir>/secret.key (mode 0600) and reused on later starts.
 *   - RS*, PS*, ES*, EdDSA: JWTD_SIGNING_KEY_FILE, a PEM private key that fits the
 *     algorithm (RSA >= 2048 bits, the right curve).
 *   Key rotation: JWTD_SECRET_KEY_FILE and JWTD_SIGNING_KEY_FILE accept a comma-separated
 *   list "current.pem,next=new.pem,old.pem": the first entry is the ACTIVE signing key, an
 *   entry prefixed "next=" is pre-published (verifies, appears in the JWKS), any other entry
 *   is a RETIRED key kept for verification until its tokens have expired.
 *   - The key set of `jwtd keys` (keyset.c), in JWTD_KEYS_DIR (default <data_dir>/keys),
 *     when none of the three key variables is set and the directory holds a state file:
 *     every key not yet expired, in its state (active signs, next and retired verify and are
 *     published). The key variables keep their meaning: a set of one active key (or their
 *     rotation list); setting both them and JWTD_KEYS_DIR is refused.
 *   - JWTD_TRUSTED_JWKS_FILE: a JWK Set of other issuers' keys (e.g. a Django issuer during
 *     a migration), accepted for verification, never published. A shared HMAC secret of such
 *     an issuer is an `oct` JWK with `alg` (e.g. {"kty":"oct","alg":"HS256","k":"<base64url
 *     of SIMPLE_JWT SIGNING_KEY>"}); without `kid` it matches the issuer's kid-less tokens.
 *
 * Production (and staging) refuse to start with a missing or weak key, or with a key file
 * (or trusted JWKS file holding secrets) readable by group or others.
 */
#define LOG_MODULE "keys"
#include "root/root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/b64url.h"
#include "common/clock.h"
#include "common/err.h"
#include "config/config.h"
#include "jose/jose.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

#define KEY_FILE_MAX    (1024 * 1024)
#define HMAC_MIN_BYTES  32
#define DEV_SECRET_FILE "secret.key"

struct loader {
    const struct cfg *cfg;
    bool strict; /* staging/production: refuse weak keys and loose permissions */
    char *err;
    size_t cap;
    bool no_generate; /* `jwtd check`: a missing development key is reported, not created */
};

static int fail(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct loader *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err, ld->cap, fmt, ap);
    va_end(ap);
    return ERR_CONFIG;
}

/*
 * Reads a whole key file (at most KEY_FILE_MAX bytes) into a fresh buffer (NUL-terminated;
 * free with free_secret). In strict mode, refuses files readable by group or others.
 */
static int read_key_file(struct loader *ld, const char *var, const char *path, char **out,
                         size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *out = NULL;
    *len = 0;
    if (fd < 0)
        return fail(ld, "%s: cannot open %s: %s", var, path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(ld, "%s: %s is not a regular file", var, path);
    }
    if (st.st_mode & 077) {
        if (ld->strict) {
            close(fd);
            return fail(ld,
                        "%s: %s is readable by group or others (mode %03o); run chmod 600 on it",
                        var, path, (unsigned)(st.st_mode & 0777));
        }
        log_warn("msg=\"key file readable by group or others\" var=%s mode=%03o", var,
                 (unsigned)(st.st_mode & 0777));
    }
    if (st.st_size > KEY_FILE_MAX) {
        close(fd);
        return fail(ld, "%s: %s is larger than %d bytes", var, path, KEY_FILE_MAX);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return fail(ld, "%s: out of memory", var);
    }
    n = fileio_read_upto(fd, buf, (size_t)st.st_size);
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static void free_secret_buf(char *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

/* Secret files are text: one trailing "\n" or "\r\n" is not part of the secret. */
static size_t strip_newline(const char *p, size_t n)
{
    if (n && p[n - 1] == '\n')
        n--;
    if (n && p[n - 1] == '\r')
        n--;
    return n;
}

/*
 * Secrets published as examples (documentation samples, reference projects, tutorials and
 * framework templates) that get copied into real deployments unchanged.
 * Refused whole (exact match, any case).
 */
static const char *const known_examples[] = {
    "your-super-secret-key-at-least-32-characters-long",
    "peer-reference-django-secret-key-not-for-production-0123456789",
    "0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "abcdefghijklmnopqrstuvwxyz012345",
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "qwertyuiopasdfghjklzxcvbnm123456",
};

/* Beginnings that only placeholders have (Django's generated "django-insecure-" keys). */
static const char *const placeholder_prefixes[] = {
    "changeme",    "change-me",   "change_me",    "secret",       "password",   "django-insecure",
    "your-secret", "your_secret", "yoursecret",   "your-super",   "your-jwt",   "your-256-bit",
    "example",     "supersecret", "super-secret", "super_secret", "mysecret",   "my-secret",
    "my_secret",   "jwt-secret",  "jwt_secret",   "insecure",     "replace-me", "replace_me",
};

/* A strict-mode sanity check beyond length: known examples, placeholders, low variety. */
static const char *weak_reason(const unsigned char *p, size_t n)
{
    bool seen[256] = {false};
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (!seen[p[i]]) {
            seen[p[i]] = true;
            distinct++;
        }
    if (distinct < 10)
        return "it uses fewer than 10 distinct characters";
    for (size_t i = 0; i < sizeof known_examples / sizeof known_examples[0]; i++)
        if (n == strlen(known_examples[i]) &&
            strncasecmp((const char *)p, known_examples[i], n) == 0)
            return "it is a published example secret; generate one (openssl rand -base64 48)";
    for (size_t i = 0; i < sizeof placeholder_prefixes / sizeof placeholder_prefixes[0]; i++) {
        size_t k = strlen(placeholder_prefixes[i]);
        if (n >= k && strncasecmp((const char *)p, placeholder_prefixes[i], k) == 0)
            return "it starts with a well-known placeholder";
    }
    return NULL;
}

static int add_secret(struct loader *ld, jose_keyring_t *ring, const jose_alg_t *alg,
                      const char *var, const unsigned char *p, size_t n, enum jose_key_role role)
{
    char jerr[256];
    jose_key_t *key;
    const char *why;
    size_t min = alg->hash_len > HMAC_MIN_BYTES ? alg->hash_len : HMAC_MIN_BYTES;
    if (n < min)
        return fail(ld, "%s: an %s secret needs at least %zu bytes, this one has %zu", var,
                    alg->name, min, n);
    if (ld->strict && (why = weak_reason(p, n)) != NULL)
        return fail(ld, "%s: refusing a weak secret in %s: %s", var,
                    ld->cfg->environment == CFG_ENV_PRODUCTION ? "production" : "staging", why);
    if (jose_key_from_secret(alg, p, n, &key, jerr, sizeof jerr) != 0)
        return fail(ld, "%s: %s", var, jerr);
    if (jose_keyring_add(ring, key, role, jerr, sizeof jerr) != 0)
        return fail(ld, "%s: %s", var, jerr);
    return 0;
}

static int add_pem(struct loader *ld, jose_keyring_t *ring, const jose_alg_t *alg, const char *var,
                   const char *path, enum jose_key_role role)
{
    char *pem;
    size_t len;
    char jerr[256];
    jose_key_t *key = NULL;
    int rc = read_key_file(ld, var, path, &pem, &len);
    if (rc)
        return rc;
    rc = jose_key_from_pem(alg, pem, len, &key, jerr, sizeof jerr);
    free_secret_buf(pem, len);
    if (rc)
        return fail(ld, "%s: %s: %s", var, path, jerr);
    if (role == JOSE_ROLE_ACTIVE && !jose_key_can_sign(key)) {
        jose_key_free(key);
        return fail(ld, "%s: %s is a public key; the signing key must be private", var, path);
    }
    if (jose_keyring_add(ring, key, role, jerr, sizeof jerr) != 0)
        return fail(ld, "%s: %s: %s", var, path, jerr);
    return 0;
}

static int add_secret_file(struct loader *ld, jose_keyring_t *ring, const jose_alg_t *alg,
                           const char *var, const char *path, enum jose_key_role role)
{
    char *data;
    size_t len;
    int rc = read_key_file(ld, var, path, &data, &len);
    if (rc)
        return rc;
    rc =
        add_secret(ld, ring, alg, var, (const unsigned char *)data, strip_newline(data, len), role);
    free_secret_buf(data, len);
    return rc;
}

/*
 * Walks a rotation list "active,next=FILE,retired,...". The first plain entry is ACTIVE;
 * "next=" marks NEXT; later plain entries are RETIRED.
 */
static int add_key_list(struct loader *ld, jose_keyring_t *ring, const jose_alg_t *alg,
                        const char *var, const char *list, bool secret)
{
    char *copy = strdup(list), *p = copy;
    bool have_active = false;
    int rc = 0;
    if (!copy)
        return fail(ld, "%s: out of memory", var);
    while (p && rc == 0) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        str_t e = str_trim(str_cstr(p));
        char path[4096];
        enum jose_key_role role;
        if (e.len == 0) {
            rc = fail(ld, "%s: empty entry in the key list", var);
            break;
        }
        if (str_starts_with(e, STR_LIT("next="))) {
            role = JOSE_ROLE_NEXT;
            e.ptr += 5;
            e.len -= 5;
        } else {
            role = have_active ? JOSE_ROLE_RETIRED : JOSE_ROLE_ACTIVE;
            have_active = true;
        }
        snprintf(path, sizeof path, "%.*s", STR_FMT(e));
        rc = secret ? add_secret_file(ld, ring, alg, var, path, role)
                    : add_pem(ld, ring, alg, var, path, role);
        p = comma ? comma + 1 : NULL;
    }
    free(copy);
    if (rc == 0 && !have_active)
        rc = fail(ld, "%s: the list names no active key (only next= entries)", var);
    return rc;
}

static int ensure_dir(struct loader *ld, const char *dir)
{
    if (fileio_mkdirs(dir, 0700) != 0)
        return fail(ld, "JWTD_DATA_DIR: cannot create %s: %s", dir, strerror(errno));
    return 0;
}

/* Writes data to path with O_EXCL and mode 0600. Returns 0, 1 when it already exists, or err. */
static int write_new_file(struct loader *ld, const char *path, const void *data, size_t n)
{
    int rc = fileio_write_atomic(path, data, n, 0600, false);
    if (rc == ERR_CONFLICT)
        return 1;
    if (rc != 0)
        return fail(ld, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* With no_generate and no development key at path yet: ERR_NOT_FOUND saying so. */
static int not_generated(struct loader *ld, const char *path)
{
    if (!ld->no_generate || access(path, F_OK) == 0)
        return 0;
    snprintf(ld->err, ld->cap, "development key %s not generated yet: `jwtd serve` creates it",
             path);
    return ERR_NOT_FOUND;
}

/* Development only: the HMAC secret in <data_dir>/secret.key, generated on first start. */
static int dev_secret(struct loader *ld, jose_keyring_t *ring, const jose_alg_t *alg)
{
    char path[4096], text[B64URL_ENC_LEN(64) + 2];
    unsigned char raw[64];
    const char *dir = ld->cfg->data_dir ? ld->cfg->data_dir : "var";
    int rc;
    snprintf(path, sizeof path, "%s/%s", dir, DEV_SECRET_FILE);
    if ((rc = not_generated(ld, path)) != 0)
        return rc;
    if ((rc = ensure_dir(ld, dir)) != 0)
        return rc;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return fail(ld, "cannot generate a secret: RAND_bytes failed");
    size_t n = b64url_encode(raw, sizeof raw, text, sizeof text);
    OPENSSL_cleanse(raw, sizeof raw);
    text[n++] = '\n';
    rc = write_new_file(ld, path, text, n);
    OPENSSL_cleanse(text, sizeof text);
    if (rc < 0)
        return rc;
    if (rc == 0)
        log_info("msg=\"generated a development HMAC secret\" path=%s", path);
    return add_secret_file(ld, ring, alg, "JWTD_SECRET_KEY_FILE (generated)", path,
                           JOSE_ROLE_ACTIVE);
}

/* Development only: an asymmetric signing key in <data_dir>/signing-<alg>.pem. */
static int dev_signing_key(struct loader *ld, jose_keyring_t *ring, const jose_alg_t *alg)
{
    char path[4096], jerr[256];
    const char *dir = ld->cfg->data_dir ? ld->cfg->data_dir : "var";
    jose_key_t *key = NULL;
    buf_t pem;
    int rc;
    snprintf(path, sizeof path, "%s/signing-%s.pem", dir, alg->name);
    if ((rc = not_generated(ld, path)) != 0)
        return rc;
    if ((rc = ensure_dir(ld, dir)) != 0)
        return rc;
    if (access(path, F_OK) != 0) {
        if (jose_key_generate(alg, 0, &key, jerr, sizeof jerr) != 0)
            return fail(ld, "cannot generate a %s key: %s", alg->name, jerr);
        buf_init(&pem, 64 * 1024);
        rc = jose_key_private_pem(key, &pem);
        jose_key_free(key);
        if (rc == 0)
            rc = write_new_file(ld, path, pem.data, pem.len);
        buf_dispose_secret(&pem);
        if (rc < 0)
            return rc;
        if (rc > 0)
            return fail(ld, "cannot create %s", path);
        log_info("msg=\"generated a development signing key\" alg=%s path=%s", alg->name, path);
    }
    return add_pem(ld, ring, alg, "JWTD_SIGNING_KEY_FILE (generated)", path, JOSE_ROLE_ACTIVE);
}

static int add_trusted(struct loader *ld, jose_keyring_t *ring, const char *path)
{
    char *data;
    size_t len, added = 0;
    char jerr[256];
    int rc = read_key_file(ld, "JWTD_TRUSTED_JWKS_FILE", path, &data, &len);
    if (rc)
        return rc;
    rc = jose_keyring_add_jwks(ring, str_make(data, len), JOSE_ROLE_TRUSTED, &added, jerr,
                               sizeof jerr);
    free_secret_buf(data, len);
    if (rc)
        return fail(ld, "JWTD_TRUSTED_JWKS_FILE: %s: %s", path, jerr);
    log_info("msg=\"trusted keys loaded\" count=%zu", added);
    return 0;
}

/* See root.h. */
void root__keys_dir(const struct cfg *cfg, char *out, size_t cap)
{
    if (cfg->keys_dir && *cfg->keys_dir)
        snprintf(out, cap, "%s", cfg->keys_dir);
    else
        snprintf(out, cap, "%s/keys", cfg->data_dir ? cfg->data_dir : "var");
}

/* See root.h. */
int64_t root__keys_keep_s(const struct cfg *cfg)
{
    int64_t longest = cfg->access_token_lifetime_s > cfg->refresh_token_lifetime_s
                          ? cfg->access_token_lifetime_s
                          : cfg->refresh_token_lifetime_s;
    return longest + cfg->leeway_s;
}

/* The keys of the set in dir that have not expired, each in its state. */
static int add_key_set(struct loader *ld, jose_keyring_t *ring, const char *dir)
{
    root_keyset_t ks;
    char why[600];
    struct stat st;
    if (stat(dir, &st) == 0 && (st.st_mode & 077)) {
        if (ld->strict)
            return fail(ld,
                        "JWTD_KEYS_DIR: %s is open to group or others (mode %03o); run chmod "
                        "700 on it",
                        dir, (unsigned)(st.st_mode & 0777));
        log_warn("msg=\"key set directory open to group or others\" mode=%03o",
                 (unsigned)(st.st_mode & 0777));
    }
    if (root_keyset_read(dir, &ks, why, sizeof why) != 0)
        return fail(ld, "JWTD_KEYS_DIR: %s", why);
    int64_t now = clock_now_s(), keep = root__keys_keep_s(ld->cfg);
    int rc = 0;
    if (!root_keyset_active(&ks))
        rc = fail(ld,
                  "JWTD_KEYS_DIR: the key set in %s has no active key (`jwtd keys activate "
                  "KID`)",
                  dir);
    for (size_t i = 0; rc == 0 && i < ks.count; i++) {
        const root_key_entry_t *e = &ks.items[i];
        if (root_keyset_expired(e, now, keep)) {
            log_info("msg=\"retired key dropped: every token it signed has expired\" kid=%s",
                     e->kid);
            continue;
        }
        const jose_alg_t *alg = jose_alg_by_name(str_cstr(e->alg));
        enum jose_key_role role = e->state == ROOT_KEY_ACTIVE ? JOSE_ROLE_ACTIVE
                                  : e->state == ROOT_KEY_NEXT ? JOSE_ROLE_NEXT
                                                              : JOSE_ROLE_RETIRED;
        char path[4400];
        size_t before = jose_keyring_count(ring);
        root_keyset_key_path(dir, e, path, sizeof path);
        rc = alg->family == JOSE_FAMILY_HMAC
                 ? add_secret_file(ld, ring, alg, "JWTD_KEYS_DIR", path, role)
                 : add_pem(ld, ring, alg, "JWTD_KEYS_DIR", path, role);
        if (rc == 0 && (jose_keyring_count(ring) != before + 1 ||
                        strcmp(jose_key_kid(jose_keyring_at(ring, before, NULL)), e->kid) != 0))
            rc = fail(ld, "JWTD_KEYS_DIR: %s does not hold the key %s", path, e->kid);
    }
    root_keyset_dispose(&ks);
    return rc;
}

/* Whether the configuration takes its keys from a key set (and the set's directory). */
static bool uses_key_set(const struct cfg *cfg, char *dir, size_t cap)
{
    char path[4200];
    if (cfg->secret_key || cfg->secret_key_file || cfg->signing_key_file)
        return false;
    root__keys_dir(cfg, dir, cap);
    if (cfg->keys_dir && *cfg->keys_dir)
        return true; /* named explicitly: a missing state file is an error, not a fallback */
    snprintf(path, sizeof path, "%s/%s", dir, ROOT_KEYSET_STATE);
    return access(path, F_OK) == 0;
}

/* root__keys_load; generate = false for root__keys_check. */
static int keys_load(const struct cfg *cfg, bool generate, jose_keyring_t **out, char *err,
                     size_t cap)
{
    struct loader ld = {cfg, cfg->environment != CFG_ENV_DEVELOPMENT, err, cap, !generate};
    const char *alg_name = cfg->algorithm ? cfg->algorithm : "HS256";
    const jose_alg_t *alg = jose_alg_by_name(str_cstr(alg_name));
    jose_keyring_t *ring;
    int rc = 0;
    *out = NULL;
    if (err && cap)
        err[0] = '\0';
    if (!alg)
        return fail(&ld, "JWTD_ALGORITHM: unsupported algorithm %s", alg_name);
    if (!(ring = jose_keyring_new()))
        return fail(&ld, "out of memory");
    char dir[4096];
    if (cfg->keys_dir && *cfg->keys_dir &&
        (cfg->secret_key || cfg->secret_key_file || cfg->signing_key_file)) {
        rc = fail(&ld, "set either JWTD_KEYS_DIR (a key set of `jwtd keys`) or the key variables "
                       "JWTD_SECRET_KEY, JWTD_SECRET_KEY_FILE, JWTD_SIGNING_KEY_FILE, not both");
    } else if (uses_key_set(cfg, dir, sizeof dir)) {
        rc = add_key_set(&ld, ring, dir);
    } else if (alg->family == JOSE_FAMILY_HMAC) {
        if (cfg->signing_key_file) {
            rc = fail(&ld,
                      "JWTD_SIGNING_KEY_FILE is for RS/PS/ES/EdDSA keys, but JWTD_ALGORITHM is %s "
                      "(use JWTD_SECRET_KEY or JWTD_SECRET_KEY_FILE)",
                      alg->name);
        } else if (cfg->secret_key && cfg->secret_key_file) {
            rc = fail(&ld, "set only one of JWTD_SECRET_KEY and JWTD_SECRET_KEY_FILE");
        } else if (cfg->secret_key) {
            rc = add_secret(&ld, ring, alg, "JWTD_SECRET_KEY",
                            (const unsigned char *)cfg->secret_key, strlen(cfg->secret_key),
                            JOSE_ROLE_ACTIVE);
        } else if (cfg->secret_key_file) {
            rc = add_key_list(&ld, ring, alg, "JWTD_SECRET_KEY_FILE", cfg->secret_key_file, true);
        } else if (!ld.strict) {
            rc = dev_secret(&ld, ring, alg);
        } else {
            rc = fail(&ld,
                      "no signing key: set JWTD_SECRET_KEY_FILE (or JWTD_SECRET_KEY) for %s, or "
                      "create a key set (`jwtd keys add`); an environment other than development "
                      "never generates one",
                      alg->name);
        }
    } else {
        if (cfg->secret_key || cfg->secret_key_file) {
            rc = fail(&ld,
                      "JWTD_SECRET_KEY/JWTD_SECRET_KEY_FILE are HMAC secrets, but JWTD_ALGORITHM "
                      "is %s (use JWTD_SIGNING_KEY_FILE)",
                      alg->name);
        } else if (cfg->signing_key_file) {
            rc =
                add_key_list(&ld, ring, alg, "JWTD_SIGNING_KEY_FILE", cfg->signing_key_file, false);
        } else if (!ld.strict) {
            rc = dev_signing_key(&ld, ring, alg);
        } else {
            rc = fail(&ld,
                      "no signing key: set JWTD_SIGNING_KEY_FILE to a PEM private key for %s "
                      "(`jwtd keygen --alg %s --out FILE`), or create a key set (`jwtd keys add`)",
                      alg->name, alg->name);
        }
    }
    if (rc == 0 && cfg->trusted_jwks_file)
        rc = add_trusted(&ld, ring, cfg->trusted_jwks_file);
    if (rc) {
        jose_keyring_release(ring);
        return rc;
    }
    log_info("msg=\"keys loaded\" alg=%s kid=%s keys=%zu",
             jose_key_alg(jose_keyring_active(ring))->name, jose_key_kid(jose_keyring_active(ring)),
             jose_keyring_count(ring));
    *out = ring;
    return 0;
}

/* See root.h. */
int root__keys_load(const struct cfg *cfg, jose_keyring_t **out, char *err, size_t cap)
{
    return keys_load(cfg, true, out, err, cap);
}

/* See root.h. */
int root__keys_check(const struct cfg *cfg, char *msg, size_t cap, char *alg, size_t alg_cap)
{
    jose_keyring_t *ring = NULL;
    int rc = keys_load(cfg, false, &ring, msg, cap);
    snprintf(alg, alg_cap, "%s",
             rc == ERR_NOT_FOUND ? (cfg->algorithm ? cfg->algorithm : "HS256") : "");
    if (rc == 0) {
        const jose_key_t *k = jose_keyring_active(ring);
        snprintf(alg, alg_cap, "%s", jose_key_alg(k)->name);
        snprintf(msg, cap, "%s, kid %s, %zu key%s", jose_key_alg(k)->name, jose_key_kid(k),
                 jose_keyring_count(ring), jose_keyring_count(ring) == 1 ? "" : "s");
    }
    jose_keyring_release(ring);
    return rc;
}

/* See root.h. */
void root__keys_verify_options(const struct cfg *cfg, const jose_keyring_t *ring, jwtv_options *opt)
{
    jwtv_options_init(opt);
    opt->algorithms = 0;
    for (size_t i = 0; i < jose_keyring_count(ring); i++)
        opt->algorithms |= jose_key_alg(jose_keyring_at(ring, i, NULL))->bit;
    opt->issuer = cfg->issuer;
    opt->audience = cfg->audience;
    opt->leeway_s = cfg->leeway_s;
    opt->required = JWTV_REQUIRE_EXP | JWTV_REQUIRE_IAT | JWTV_REQUIRE_JTI |
                    JWTV_REQUIRE_TOKEN_TYPE | JWTV_REQUIRE_USER_ID;
}

/*
 * keyset.c - the key set of `jwtd keys`: a directory (JWTD_KEYS_DIR, default
 * <data_dir>/keys, mode 0700) with one file per key (<kid>.pem for RS/PS/ES/EdDSA, <kid>.key
 * for an HMAC secret; mode 0600) and the state file keys.state, which says what each key
 * is for. Every file is written atomically (a temporary file renamed over the old one), so
 * a server reloading at any moment reads the old set or the new one.
 *
 * The state file is text, one key a line, fields separated by blanks:
 *
 *     # jwtd key set: kid alg state created activated retired (Unix seconds, 0 = never)
 *     Zm9v...43 RS256 active 1765000000 1765000000 0
 *
 * States: `next` (published in the JWKS, verifies, does not sign yet), `active` (signs;
 * exactly one), `retired` (verifies and stays published until every token it signed has
 * expired: retired + the longest token lifetime + leeway, after which a load drops it and
 * the next change made by `jwtd keys` deletes its file). HMAC keys have the same states
 * and are never published.
 *
 * The state machine and the file format are pure functions (unit-tested); the directory
 * functions add the files. keys.c loads a set into the key ring; src/cli/keyset.c is the
 * command.
 */
#define LOG_MODULE "keys"
#include "root/root.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/b64url.h"
#include "common/err.h"
#include "jose/jose.h"
#include "runtime/alloc.h"
#include "runtime/fileio.h"

#define KEYSET_MAX_KEYS 64
#define KEY_FILE_MAX    (1024 * 1024)

static const char *const state_names[] = {"next", "active", "retired"};

/* See root.h. */
const char *root_key_state_name(enum root_key_state s)
{
    return (unsigned)s < 3 ? state_names[s] : "?";
}

/* See root.h. */
void root_keyset_dispose(root_keyset_t *ks)
{
    free(ks->items);
    ks->items = NULL;
    ks->count = 0;
}

/* See root.h. */
bool root_kid_valid(str_t kid)
{
    if (kid.len == 0 || kid.len > ROOT_KID_MAX || kid.ptr[0] == '.')
        return false;
    for (size_t i = 0; i < kid.len; i++) {
        char c = kid.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* See root.h. */
root_key_entry_t *root_keyset_find(const root_keyset_t *ks, const char *kid)
{
    for (size_t i = 0; i < ks->count; i++)
        if (strcmp(ks->items[i].kid, kid) == 0)
            return &ks->items[i];
    return NULL;
}

/* See root.h. */
const root_key_entry_t *root_keyset_active(const root_keyset_t *ks)
{
    for (size_t i = 0; i < ks->count; i++)
        if (ks->items[i].state == ROOT_KEY_ACTIVE)
            return &ks->items[i];
    return NULL;
}

/* See root.h. */
bool root_keyset_expired(const root_key_entry_t *e, int64_t now, int64_t keep_s)
{
    return e->state == ROOT_KEY_RETIRED && e->retired_at + keep_s <= now;
}

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return rc;
}

/* The next blank-separated field of *line, or an empty slice. */
static str_t next_field(str_t *line)
{
    size_t i = 0;
    while (i < line->len && (line->ptr[i] == ' ' || line->ptr[i] == '\t'))
        i++;
    size_t start = i;
    while (i < line->len && line->ptr[i] != ' ' && line->ptr[i] != '\t')
        i++;
    str_t f = str_make(line->ptr + start, i - start);
    line->ptr += i;
    line->len -= i;
    return f;
}

static bool parse_time(str_t s, int64_t *out)
{
    int64_t v = 0;
    if (s.len == 0 || s.len > 18)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (s.ptr[i] - '0');
    }
    *out = v;
    return true;
}

/* Parses one line of the state file into e. Returns NULL or why not. */
static const char *parse_line(str_t line, root_key_entry_t *e)
{
    str_t kid = next_field(&line), alg = next_field(&line), state = next_field(&line);
    str_t t[3];
    for (int i = 0; i < 3; i++)
        t[i] = next_field(&line);
    if (next_field(&line).len != 0 || t[2].len == 0)
        return "expected 6 fields: kid alg state created activated retired";
    if (!root_kid_valid(kid))
        return "invalid kid (1 to 128 of A-Z a-z 0-9 - _ .)";
    const jose_alg_t *a = jose_alg_by_name(alg);
    if (!a)
        return "unsupported algorithm";
    memset(e, 0, sizeof *e);
    memcpy(e->kid, kid.ptr, kid.len);
    snprintf(e->alg, sizeof e->alg, "%s", a->name);
    size_t s = 0;
    while (s < 3 && !str_eq_cstr(state, state_names[s]))
        s++;
    if (s == 3)
        return "state must be next, active or retired";
    e->state = (enum root_key_state)s;
    if (!parse_time(t[0], &e->created_at) || !parse_time(t[1], &e->activated_at) ||
        !parse_time(t[2], &e->retired_at))
        return "times must be Unix seconds";
    if (e->state == ROOT_KEY_RETIRED && e->retired_at == 0)
        return "a retired key needs its retirement time";
    return NULL;
}

/* See root.h. */
int root_keyset_parse(str_t text, root_keyset_t *out, char *err, size_t cap)
{
    root_keyset_t ks = {0};
    size_t lineno = 0, actives = 0;
    ks.items = xcalloc(KEYSET_MAX_KEYS, sizeof *ks.items);
    while (text.len) {
        const char *nl = memchr(text.ptr, '\n', text.len);
        size_t n = nl ? (size_t)(nl - text.ptr) : text.len;
        str_t line = str_trim(str_make(text.ptr, n));
        text.ptr += nl ? n + 1 : n;
        text.len -= nl ? n + 1 : n;
        lineno++;
        if (line.len == 0 || line.ptr[0] == '#')
            continue;
        if (ks.count == KEYSET_MAX_KEYS) {
            root_keyset_dispose(&ks);
            return fail(err, cap, ERR_CONFIG, "line %zu: more than %d keys", lineno,
                        KEYSET_MAX_KEYS);
        }
        root_key_entry_t *e = &ks.items[ks.count];
        const char *why = parse_line(line, e);
        if (!why && root_keyset_find(&(root_keyset_t){ks.items, ks.count}, e->kid))
            why = "duplicate kid";
        if (!why && e->state == ROOT_KEY_ACTIVE && ++actives > 1)
            why = "a second active key (exactly one signs)";
        if (why) {
            root_keyset_dispose(&ks);
            return fail(err, cap, ERR_CONFIG, "line %zu: %s", lineno, why);
        }
        ks.count++;
    }
    *out = ks;
    return 0;
}

/* See root.h. */
int root_keyset_format(const root_keyset_t *ks, buf_t *out)
{
    int rc = buf_append_cstr(out, "# jwtd key set, written by `jwtd keys` (docs/key-rotation.md)\n"
                                  "# kid alg state created activated retired (Unix seconds, "
                                  "0 = never)\n");
    for (size_t i = 0; i < ks->count; i++) {
        const root_key_entry_t *e = &ks->items[i];
        rc |= buf_printf(out, "%s %s %s %" PRId64 " %" PRId64 " %" PRId64 "\n", e->kid, e->alg,
                         root_key_state_name(e->state), e->created_at, e->activated_at,
                         e->retired_at);
    }
    return rc ? ERR_TOO_LARGE : 0;
}

/* See root.h. */
int root_keyset_add(root_keyset_t *ks, const char *kid, const char *alg, int64_t now, char *err,
                    size_t cap)
{
    if (!root_kid_valid(str_cstr(kid)) || !jose_alg_by_name(str_cstr(alg)))
        return fail(err, cap, ERR_INVALID, "invalid kid or algorithm");
    if (root_keyset_find(ks, kid))
        return fail(err, cap, ERR_CONFLICT, "key %s is already in the set", kid);
    if (ks->count >= KEYSET_MAX_KEYS)
        return fail(err, cap, ERR_INVALID, "the set already holds %d keys", KEYSET_MAX_KEYS);
    ks->items = xrealloc(ks->items, (ks->count + 1) * sizeof *ks->items);
    root_key_entry_t *e = &ks->items[ks->count++];
    memset(e, 0, sizeof *e);
    snprintf(e->kid, sizeof e->kid, "%s", kid);
    snprintf(e->alg, sizeof e->alg, "%s", alg);
    e->created_at = now;
    if (root_keyset_active(ks)) {
        e->state = ROOT_KEY_NEXT;
    } else { /* the first key of a set signs at once: a set without a signing key is no use */
        e->state = ROOT_KEY_ACTIVE;
        e->activated_at = now;
    }
    return 0;
}

/* See root.h. */
int root_keyset_activate(root_keyset_t *ks, const char *kid, int64_t now, int64_t keep_s, char *err,
                         size_t cap)
{
    root_key_entry_t *e = root_keyset_find(ks, kid);
    if (!e)
        return fail(err, cap, ERR_NOT_FOUND, "no key %s in the set", kid);
    if (e->state == ROOT_KEY_ACTIVE)
        return fail(err, cap, ERR_CONFLICT, "key %s is already active", kid);
    if (root_keyset_expired(e, now, keep_s))
        return fail(err, cap, ERR_INVALID,
                    "key %s was retired too long ago to sign again; add a new key", kid);
    for (size_t i = 0; i < ks->count; i++)
        if (ks->items[i].state == ROOT_KEY_ACTIVE) {
            ks->items[i].state = ROOT_KEY_RETIRED;
            ks->items[i].retired_at = now;
        }
    e->state = ROOT_KEY_ACTIVE;
    e->activated_at = now;
    e->retired_at = 0;
    return 0;
}

/* See root.h. */
int root_keyset_retire(root_keyset_t *ks, const char *kid, int64_t now, char *err, size_t cap)
{
    root_key_entry_t *e = root_keyset_find(ks, kid);
    if (!e)
        return fail(err, cap, ERR_NOT_FOUND, "no key %s in the set", kid);
    if (e->state == ROOT_KEY_ACTIVE)
        return fail(err, cap, ERR_CONFLICT,
                    "key %s is the active key: activate another one first (it retires this one)",
                    kid);
    if (e->state == ROOT_KEY_RETIRED)
        return fail(err, cap, ERR_CONFLICT, "key %s is already retired", kid);
    e->state = ROOT_KEY_RETIRED;
    e->retired_at = now;
    return 0;
}

/* See root.h. */
int root_keyset_remove(root_keyset_t *ks, const char *kid, char *err, size_t cap)
{
    root_key_entry_t *e = root_keyset_find(ks, kid);
    if (!e)
        return fail(err, cap, ERR_NOT_FOUND, "no key %s in the set", kid);
    if (e->state == ROOT_KEY_ACTIVE)
        return fail(err, cap, ERR_CONFLICT, "key %s is the active key: activate another one first",
                    kid);
    size_t i = (size_t)(e - ks->items);
    memmove(e, e + 1, (ks->count - i - 1) * sizeof *e);
    ks->count--;
    return 0;
}

/* ==== the directory ========================================================================= */

/* See root.h. */
void root_keyset_key_path(const char *dir, const root_key_entry_t *e, char *out, size_t cap)
{
    const jose_alg_t *a = jose_alg_by_name(str_cstr(e->alg));
    bool secret = a && a->family == JOSE_FAMILY_HMAC;
    snprintf(out, cap, "%s/%s.%s", dir, e->kid, secret ? "key" : "pem");
}

/* See root.h. */
int root_keyset_read(const char *dir, root_keyset_t *out, char *err, size_t cap)
{
    char path[4200];
    struct stat st;
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/%s", dir, ROOT_KEYSET_STATE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT
                   ? fail(err, cap, ERR_NOT_FOUND, "no key set in %s (`jwtd keys add` creates one)",
                          dir)
                   : fail(err, cap, ERR_CONFIG, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        close(fd);
        return fail(err, cap, ERR_CONFIG, "%s is not a regular file of at most 1 MiB", path);
    }
    char *text = xmalloc((size_t)st.st_size + 1);
    size_t n = fileio_read_upto(fd, text, (size_t)st.st_size);
    close(fd);
    char why[256];
    int rc = root_keyset_parse(str_make(text, n), out, why, sizeof why);
    free(text);
    if (rc != 0)
        return fail(err, cap, ERR_CONFIG, "%s: %s", path, why);
    return 0;
}

/* See root.h. */
int root_keyset_write(const char *dir, const root_keyset_t *ks, char *err, size_t cap)
{
    char path[4200];
    buf_t b;
    snprintf(path, sizeof path, "%s/%s", dir, ROOT_KEYSET_STATE);
    buf_init(&b, 1024 * 1024);
    int rc = root_keyset_format(ks, &b);
    if (rc == 0 && fileio_write_atomic(path, b.data, b.len, 0600, true) != 0)
        rc = fail(err, cap, ERR_IO, "cannot write %s: %s", path, strerror(errno));
    buf_dispose(&b);
    return rc;
}

/* mkdir -p with mode 0700 for what it creates. Returns 0 or -1 (errno). */
static int make_dirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* See root.h. */
int root_keyset_lock(const char *dir, char *err, size_t cap)
{
    char path[4200];
    if (make_dirs(dir) != 0)
        return fail(err, cap, ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, cap, ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX) != 0) {
        close(fd);
        return fail(err, cap, ERR_IO, "cannot lock %s: %s", path, strerror(errno));
    }
    return fd;
}

/* Reads a key file to import (at most 1 MiB). OUT: *data (free_secret), *len. */
static int read_import(const char *path, char **data, size_t *len, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, cap, ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = xmalloc(KEY_FILE_MAX + 1);
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    fclose(f);
    if (n > KEY_FILE_MAX) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        return fail(err, cap, ERR_INVALID, "%s is larger than 1 MiB", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* A key's bytes as its file holds them: PEM (PKCS#8) or the secret's text. OUT: *key. */
static int make_key(const jose_alg_t *alg, const char *from, jose_key_t **key, buf_t *file,
                    char *err, size_t cap)
{
    char jerr[256];
    int rc;
    if (alg->family == JOSE_FAMILY_HMAC) {
        char *data = NULL;
        size_t len = 0;
        if (from) {
            if ((rc = read_import(from, &data, &len, err, cap)) != 0)
                return rc;
            if (len && data[len - 1] == '\n')
                len--;
            if (len && data[len - 1] == '\r')
                len--;
        } else {
            unsigned char raw[64];
            data = xmalloc(B64URL_ENC_LEN(sizeof raw) + 1);
            if (RAND_bytes(raw, sizeof raw) != 1) {
                free(data);
                return fail(err, cap, ERR_INTERNAL, "RAND_bytes failed");
            }
            len = b64url_encode(raw, sizeof raw, data, B64URL_ENC_LEN(sizeof raw) + 1);
            OPENSSL_cleanse(raw, sizeof raw);
        }
        size_t min = alg->hash_len > 32 ? alg->hash_len : 32;
        rc = len < min ? fail(err, cap, ERR_INVALID, "an %s secret needs at least %zu bytes",
                              alg->name, min)
                       : 0;
        if (rc == 0 && jose_key_from_secret(alg, data, len, key, jerr, sizeof jerr) != 0)
            rc = fail(err, cap, ERR_INVALID, "%s", jerr);
        if (rc == 0 && (buf_append(file, data, len) != 0 || buf_append_char(file, '\n') != 0))
            rc = fail(err, cap, ERR_TOO_LARGE, "secret too large");
        OPENSSL_cleanse(data, len);
        free(data);
        return rc;
    }
    if (from) {
        char *pem = NULL;
        size_t len = 0;
        if ((rc = read_import(from, &pem, &len, err, cap)) != 0)
            return rc;
        rc = jose_key_from_pem(alg, pem, len, key, jerr, sizeof jerr);
        OPENSSL_cleanse(pem, len);
        free(pem);
        if (rc != 0)
            return fail(err, cap, ERR_INVALID, "%s: %s", from, jerr);
        if (!jose_key_can_sign(*key)) {
            jose_key_free(*key);
            *key = NULL;
            return fail(err, cap, ERR_INVALID, "%s is a public key; a set holds private keys",
                        from);
        }
    } else if (jose_key_generate(alg, 0, key, jerr, sizeof jerr) != 0) {
        return fail(err, cap, ERR_INTERNAL, "cannot generate a %s key: %s", alg->name, jerr);
    }
    if (jose_key_private_pem(*key, file) != 0) {
        jose_key_free(*key);
        *key = NULL;
        return fail(err, cap, ERR_INTERNAL, "cannot encode the key");
    }
    return 0;
}

/* See root.h. */
int root_keyset_new_key(const char *dir, const char *alg_name, const char *from, char *kid,
                        size_t kid_cap, char *err, size_t cap)
{
    const jose_alg_t *alg = jose_alg_by_name(str_cstr(alg_name));
    if (!alg)
        return fail(err, cap, ERR_INVALID, "unsupported algorithm %s", alg_name);
    jose_key_t *key = NULL;
    buf_t file;
    buf_init(&file, 2 * KEY_FILE_MAX);
    int rc = make_key(alg, from, &key, &file, err, cap);
    if (rc == 0) {
        root_key_entry_t e = {0};
        char path[4400];
        snprintf(e.kid, sizeof e.kid, "%s", jose_key_kid(key));
        snprintf(e.alg, sizeof e.alg, "%s", alg->name);
        root_keyset_key_path(dir, &e, path, sizeof path);
        rc = fileio_write_atomic(path, file.data, file.len, 0600, false);
        if (rc == ERR_CONFLICT)
            rc = fail(err, cap, ERR_CONFLICT, "%s exists already: this key is in the set", path);
        else if (rc != 0)
            rc = fail(err, cap, ERR_IO, "cannot write %s: %s", path, strerror(errno));
        else
            snprintf(kid, kid_cap, "%s", e.kid);
    }
    jose_key_free(key);
    buf_dispose_secret(&file);
    return rc;
}

/* See root.h. */
size_t root_keyset_prune(root_keyset_t *ks, int64_t now, int64_t keep_s)
{
    size_t n = 0;
    for (size_t i = 0; i < ks->count;) {
        root_key_entry_t *e = &ks->items[i];
        if (!root_keyset_expired(e, now, keep_s)) {
            i++;
            continue;
        }
        memmove(e, e + 1, (ks->count - i - 1) * sizeof *e);
        ks->count--;
        n++;
    }
    return n;
}

/* See root.h. */
size_t root_keyset_clean(const char *dir, const root_keyset_t *ks)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        const char *dot = strrchr(de->d_name, '.');
        if (!dot || (strcmp(dot, ".pem") != 0 && strcmp(dot, ".key") != 0))
            continue;
        str_t kid = str_make(de->d_name, (size_t)(dot - de->d_name));
        if (kid.len != JOSE_THUMBPRINT_LEN || !root_kid_valid(kid)) /* only what we named */
            continue;
        char name[ROOT_KID_MAX + 1];
        snprintf(name, sizeof name, "%.*s", STR_FMT(kid));
        if (root_keyset_find(ks, name))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) == 0)
            n++;
    }
    closedir(d);
    return n;
}

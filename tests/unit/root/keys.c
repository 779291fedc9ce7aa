/*
 * keys.c - tests for building the key ring from the configuration (src/auth/keys.c):
 * secrets from env and files, the generated development secret (0600, reused), PEM
 * signing keys that must fit the algorithm, rotation lists, trusted JWKS, and the
 * production refusals (missing key, weak secret, group/other-readable key file).
 */
#include "root/root.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "config/config.h"
#include "jose/jose.h"
#include "test.h"

static char tmpdir[256];

static const char *mktmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/jwtd-keys-XXXXXX");
    return mkdtemp(tmpdir);
}

static void write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd >= 0) {
        if (write(fd, data, strlen(data)) < 0)
            perror("write");
        close(fd);
    }
    chmod(path, mode);
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static const char *vec(const char *rel, char *out, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "vectors/%s", rel);
    return test_data_path(path, out, cap);
}

static void base_cfg(struct cfg *c, enum cfg_environment env, const char *alg, const char *dir)
{
    memset(c, 0, sizeof *c);
    c->environment = env;
    c->algorithm = (char *)alg;
    c->data_dir = (char *)dir;
}

TEST(root_keys_dev_secret_generated_once)
{
    struct cfg c;
    jose_keyring_t *r1, *r2;
    char err[512], path[512];
    struct stat st;
    const char *dir = mktmp();
    char sub[300];
    snprintf(sub, sizeof sub, "%s/data", dir);
    base_cfg(&c, CFG_ENV_DEVELOPMENT, "HS256", sub);
    ASSERT_EQ_INT(root__keys_load(&c, &r1, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/secret.key", sub);
    ASSERT_EQ_INT(stat(path, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ASSERT_TRUE(st.st_size >= 64);
    ASSERT_EQ_INT(root__keys_load(&c, &r2, err, sizeof err), 0);
    ASSERT_STR_EQ(jose_key_kid(jose_keyring_active(r1)), jose_key_kid(jose_keyring_active(r2)));
    jose_keyring_release(r1);
    jose_keyring_release(r2);
    rm_rf(dir);
}

/* Published example secrets and framework placeholders: refused in staging and production
 * with a message that says why (never echoing the secret), accepted in development. */
TEST(root_keys_known_example_secrets_refused)
{
    static const char *const examples[] = {
        "your-super-secret-key-at-least-32-characters-long",
        "YOUR-SUPER-SECRET-KEY-AT-LEAST-32-CHARACTERS-LONG",
        "peer-reference-django-secret-key-not-for-production-0123456789",
        "django-insecure-q8w#z!3v$k@1p^m&x7r(t)2y*u+n=b5c0d9e4f6g",
        "your-256-bit-secret-padded-to-be-long-enough-1234",
        "0123456789abcdef0123456789abcdef",
        "supersecretkey-for-my-app-0123456789abcdef",
    };
    struct cfg c;
    jose_keyring_t *r = NULL;
    char err[512];
    const char *dir = mktmp();
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        base_cfg(&c, i % 2 ? CFG_ENV_STAGING : CFG_ENV_PRODUCTION, "HS256", (char *)dir);
        c.secret_key = (char *)examples[i];
        ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
        ASSERT_TRUE(strstr(err, "JWTD_SECRET_KEY") != NULL);
        ASSERT_TRUE(strstr(err, "weak") != NULL);
        ASSERT_TRUE(strstr(err, examples[i]) == NULL);
        c.environment = CFG_ENV_DEVELOPMENT;
        ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), 0);
        jose_keyring_release(r);
    }
    base_cfg(&c, CFG_ENV_PRODUCTION, "HS256", (char *)dir);
    c.secret_key = "your-super-secret-key-at-least-32-characters-long";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "published example") != NULL);
    /* a random secret that merely contains an example is not one */
    c.secret_key = "Zq7-your-super-secret-key-at-least-32-characters-long";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), 0);
    jose_keyring_release(r);
    rm_rf(dir);
}

TEST(root_keys_production_refusals)
{
    struct cfg c;
    jose_keyring_t *r = NULL;
    char err[512], path[512], pem[512];
    const char *dir = mktmp();
    base_cfg(&c, CFG_ENV_PRODUCTION, "HS256", (char *)dir);
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG); /* no key */
    ASSERT_TRUE(strstr(err, "no signing key") != NULL);
    c.secret_key = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* long but one character */
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "weak") != NULL);
    c.secret_key = "changeme-0123456789abcdefghijklmnopqrstuvwxyz";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    c.secret_key = "short-Secret-123";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "at least 32") != NULL);
    c.secret_key = NULL;
    snprintf(path, sizeof path, "%s/s.key", dir);
    write_file(path, "Vq3xN8pL2mK7wR4tY9bC6dF1gH5jZ0aS8eU3iO7\n", 0644);
    c.secret_key_file = path;
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "chmod 600") != NULL);
    chmod(path, 0600);
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), 0);
    jose_keyring_release(r);
    /* the same file in development only warns about its mode */
    chmod(path, 0644);
    c.environment = CFG_ENV_DEVELOPMENT;
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), 0);
    jose_keyring_release(r);
    /* an asymmetric algorithm without a key file in production */
    c.environment = CFG_ENV_PRODUCTION;
    c.secret_key_file = NULL;
    c.algorithm = "ES256";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "JWTD_SIGNING_KEY_FILE") != NULL);
    /* a key file of the wrong type or a public key */
    char copy[600];
    snprintf(copy, sizeof copy, "cp %s %s/k.pem && chmod 600 %s/k.pem",
             vec("keys/rsa2048.pem", pem, sizeof pem), dir, dir);
    ASSERT_EQ_INT(system(copy), 0);
    snprintf(path, sizeof path, "%s/k.pem", dir);
    c.signing_key_file = path;
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "EC key") != NULL);
    c.algorithm = "RS256";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), 0);
    jose_keyring_release(r);
    snprintf(copy, sizeof copy, "cp %s %s/pub.pem && chmod 600 %s/pub.pem",
             vec("keys/rsa2048.pub.pem", pem, sizeof pem), dir, dir);
    ASSERT_EQ_INT(system(copy), 0);
    snprintf(path, sizeof path, "%s/pub.pem", dir);
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "public key") != NULL);
    rm_rf(dir);
}

TEST(root_keys_mismatched_variables)
{
    struct cfg c;
    jose_keyring_t *r = NULL;
    char err[512];
    base_cfg(&c, CFG_ENV_DEVELOPMENT, "HS256", "/nonexistent");
    c.signing_key_file = "/x.pem";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    base_cfg(&c, CFG_ENV_DEVELOPMENT, "ES256", "/nonexistent");
    c.secret_key = "0123456789abcdef0123456789abcdefXYZ";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    base_cfg(&c, CFG_ENV_DEVELOPMENT, "HS256", "/nonexistent");
    c.secret_key = "0123456789abcdef0123456789abcdefXYZ";
    c.secret_key_file = "/x";
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    base_cfg(&c, CFG_ENV_DEVELOPMENT, "ES512", "/nonexistent");
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    base_cfg(&c, CFG_ENV_DEVELOPMENT, "HS512", "/nonexistent");
    c.secret_key = "0123456789abcdef0123456789abcdefXYZ"; /* 35 bytes < 64 for HS512 */
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    ASSERT_TRUE(strstr(err, "at least 64") != NULL);
}

TEST(root_keys_rotation_list_and_trusted)
{
    struct cfg c;
    jose_keyring_t *r = NULL;
    char err[512], list[2048], a[512], b[512], d[512], trusted[512];
    const char *dir = mktmp();
    char pa[300], pb[300], pd[300];
    snprintf(pa, sizeof pa, "%s/a.key", dir);
    snprintf(pb, sizeof pb, "%s/b.key", dir);
    snprintf(pd, sizeof pd, "%s/d.key", dir);
    write_file(pa, "A-secret-0123456789abcdefghijklmnopqrstuv", 0600);
    write_file(pb, "B-secret-0123456789abcdefghijklmnopqrstuv\r\n", 0600);
    write_file(pd, "D-secret-0123456789abcdefghijklmnopqrstuv\n", 0600);
    (void)a;
    (void)b;
    (void)d;
    snprintf(list, sizeof list, "%s, next=%s,%s", pa, pb, pd);
    base_cfg(&c, CFG_ENV_PRODUCTION, "HS256", (char *)dir);
    c.secret_key_file = list;
    c.trusted_jwks_file = (char *)vec("keys/test-public.jwks", trusted, sizeof trusted);
    /* the committed vector file is 0644: production refuses it, development accepts */
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    c.environment = CFG_ENV_DEVELOPMENT;
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), 0);
    ASSERT_EQ_INT(jose_keyring_count(r), 3 + 5);
    enum jose_key_role role;
    jose_keyring_at(r, 0, &role);
    ASSERT_EQ_INT(role, JOSE_ROLE_ACTIVE);
    jose_keyring_at(r, 1, &role);
    ASSERT_EQ_INT(role, JOSE_ROLE_NEXT);
    jose_keyring_at(r, 2, &role);
    ASSERT_EQ_INT(role, JOSE_ROLE_RETIRED);
    jose_keyring_at(r, 3, &role);
    ASSERT_EQ_INT(role, JOSE_ROLE_TRUSTED);
    /* options cover every algorithm present, and jwtd's required claims */
    jwtv_options opt;
    c.issuer = "https://auth.example";
    root__keys_verify_options(&c, r, &opt);
    ASSERT_TRUE(opt.algorithms & JWTV_ALG_HS256);
    ASSERT_TRUE(opt.algorithms & JWTV_ALG_EDDSA);
    ASSERT_TRUE(!(opt.algorithms & JWTV_ALG_HS512));
    ASSERT_STR_EQ(opt.issuer, "https://auth.example");
    ASSERT_TRUE(opt.required & JWTV_REQUIRE_JTI);
    jose_keyring_release(r);
    /* a list with only next= entries has no active key */
    snprintf(list, sizeof list, "next=%s", pa);
    c.trusted_jwks_file = NULL;
    ASSERT_EQ_INT(root__keys_load(&c, &r, err, sizeof err), ERR_CONFIG);
    rm_rf(dir);
}

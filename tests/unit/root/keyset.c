/*
 * keyset.c - tests for the key set of `jwtd keys` (src/root/keyset.c) and its loading
 * (src/root/keys.c): the state file's format (round trip, every refusal), the state machine
 * (add, activate, retire, remove, prune), and a set on disk loaded into the key ring: each
 * key in its role, expired retired keys dropped, files 0600 in a 0700 directory, a key file
 * that does not match its kid refused, and the production refusals.
 */
#include "root/root.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "config/config.h"
#include "jose/jose.h"
#include "test.h"

static const char *const kid_a = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
static const char *const kid_b = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
static const char *const kid_c = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";

TEST(root_keyset_format_round_trip)
{
    root_keyset_t ks = {0}, back;
    char err[256];
    buf_t b;
    ASSERT_EQ_INT(root_keyset_add(&ks, kid_a, "RS256", 100, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_add(&ks, kid_b, "ES256", 200, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_activate(&ks, kid_b, 300, 1000, err, sizeof err), 0);
    buf_init(&b, 65536);
    ASSERT_EQ_INT(root_keyset_format(&ks, &b), 0);
    ASSERT_EQ_INT(root_keyset_parse(buf_str(&b), &back, err, sizeof err), 0);
    ASSERT_EQ_INT(back.count, 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK_STR_EQ(back.items[i].kid, ks.items[i].kid);
        CHECK_STR_EQ(back.items[i].alg, ks.items[i].alg);
        CHECK_EQ_INT(back.items[i].state, ks.items[i].state);
        CHECK_EQ_INT(back.items[i].created_at, ks.items[i].created_at);
        CHECK_EQ_INT(back.items[i].activated_at, ks.items[i].activated_at);
        CHECK_EQ_INT(back.items[i].retired_at, ks.items[i].retired_at);
    }
    CHECK_TRUE(strstr(b.data, "ES256 active 200 300 0\n") != NULL);
    CHECK_TRUE(strstr(b.data, "RS256 retired 100 100 300\n") != NULL);
    buf_dispose(&b);
    root_keyset_dispose(&back);
    root_keyset_dispose(&ks);
}

TEST(root_keyset_parse_refusals)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"k1 RS256 active 1 1\n", "line 1: expected 6 fields"},
        {"k1 RS256 active 1 1 0 extra\n", "expected 6 fields"},
        {"k/1 RS256 active 1 1 0\n", "invalid kid"},
        {"k1 none active 1 1 0\n", "unsupported algorithm"},
        {"k1 RS256 signing 1 1 0\n", "state must be"},
        {"k1 RS256 active x 1 0\n", "Unix seconds"},
        {"k1 RS256 retired 1 1 0\n", "retirement time"},
        {"# c\n\nk1 RS256 active 1 1 0\nk1 ES256 next 1 0 0\n", "line 4: duplicate kid"},
        {"k1 RS256 active 1 1 0\nk2 RS256 active 1 1 0\n", "second active key"},
    };
    char err[256];
    root_keyset_t ks;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_EQ_INT(root_keyset_parse(str_cstr(cases[i].text), &ks, err, sizeof err), ERR_CONFIG);
        if (!CHECK_TRUE(strstr(err, cases[i].why) != NULL))
            fprintf(stderr, "  case %zu: %s\n", i, err);
    }
    /* comments, blank lines and an empty file are fine (an empty set has no active key:
       the loader says so) */
    ASSERT_EQ_INT(root_keyset_parse(str_cstr("# only a comment\n\n"), &ks, err, sizeof err), 0);
    CHECK_EQ_INT(ks.count, 0);
    root_keyset_dispose(&ks);
}

TEST(root_keyset_state_machine)
{
    root_keyset_t ks = {0};
    char err[256];
    const int64_t keep = 1000;
    /* the first key of an empty set signs; later ones are pre-published */
    ASSERT_EQ_INT(root_keyset_add(&ks, kid_a, "RS256", 10, err, sizeof err), 0);
    CHECK_EQ_INT(ks.items[0].state, ROOT_KEY_ACTIVE);
    CHECK_EQ_INT(ks.items[0].activated_at, 10);
    ASSERT_EQ_INT(root_keyset_add(&ks, kid_b, "RS256", 20, err, sizeof err), 0);
    CHECK_EQ_INT(ks.items[1].state, ROOT_KEY_NEXT);
    CHECK_EQ_INT(root_keyset_add(&ks, kid_b, "RS256", 20, err, sizeof err), ERR_CONFLICT);
    CHECK_EQ_INT(root_keyset_add(&ks, "bad kid", "RS256", 20, err, sizeof err), ERR_INVALID);
    /* activate: exactly one active, the old one retired now */
    CHECK_EQ_INT(root_keyset_activate(&ks, kid_c, 30, keep, err, sizeof err), ERR_NOT_FOUND);
    CHECK_EQ_INT(root_keyset_activate(&ks, kid_a, 30, keep, err, sizeof err), ERR_CONFLICT);
    ASSERT_EQ_INT(root_keyset_activate(&ks, kid_b, 30, keep, err, sizeof err), 0);
    CHECK_EQ_INT(root_keyset_find(&ks, kid_a)->state, ROOT_KEY_RETIRED);
    CHECK_EQ_INT(root_keyset_find(&ks, kid_a)->retired_at, 30);
    CHECK_STR_EQ(root_keyset_active(&ks)->kid, kid_b);
    /* the active key is never retired or removed directly */
    CHECK_EQ_INT(root_keyset_retire(&ks, kid_b, 40, err, sizeof err), ERR_CONFLICT);
    CHECK_TRUE(strstr(err, "activate another") != NULL);
    CHECK_EQ_INT(root_keyset_remove(&ks, kid_b, err, sizeof err), ERR_CONFLICT);
    CHECK_EQ_INT(root_keyset_retire(&ks, kid_a, 40, err, sizeof err), ERR_CONFLICT);
    /* a pre-published key can be withdrawn */
    ASSERT_EQ_INT(root_keyset_add(&ks, kid_c, "ES256", 50, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_retire(&ks, kid_c, 60, err, sizeof err), 0);
    CHECK_EQ_INT(root_keyset_find(&ks, kid_c)->state, ROOT_KEY_RETIRED);
    /* rolling back to a retired key is allowed while its tokens may be alive, not after */
    CHECK_TRUE(!root_keyset_expired(root_keyset_find(&ks, kid_a), 30 + keep - 1, keep));
    CHECK_TRUE(root_keyset_expired(root_keyset_find(&ks, kid_a), 30 + keep, keep));
    CHECK_EQ_INT(root_keyset_activate(&ks, kid_a, 30 + keep, keep, err, sizeof err), ERR_INVALID);
    ASSERT_EQ_INT(root_keyset_activate(&ks, kid_a, 100, keep, err, sizeof err), 0);
    CHECK_EQ_INT(root_keyset_find(&ks, kid_a)->retired_at, 0);
    CHECK_EQ_INT(root_keyset_find(&ks, kid_b)->state, ROOT_KEY_RETIRED);
    /* prune: only retired keys past keep go */
    CHECK_EQ_INT(root_keyset_prune(&ks, 100 + keep - 1, keep), 1); /* kid_c, retired at 60 */
    CHECK_EQ_INT(ks.count, 2);
    CHECK_TRUE(root_keyset_find(&ks, kid_c) == NULL);
    CHECK_EQ_INT(root_keyset_prune(&ks, 100 + keep, keep), 1); /* kid_b, retired at 100 */
    CHECK_EQ_INT(ks.count, 1);
    CHECK_STR_EQ(ks.items[0].kid, kid_a);
    /* remove (a leaked key): gone at once */
    ASSERT_EQ_INT(root_keyset_add(&ks, kid_b, "RS256", 200, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_remove(&ks, kid_b, err, sizeof err), 0);
    CHECK_EQ_INT(ks.count, 1);
    root_keyset_dispose(&ks);
}

/* ---- on disk, loaded ------------------------------------------------------------------- */

static char tmpdir[256];

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static void set_cfg(struct cfg *c, enum cfg_environment env, const char *keys_dir)
{
    memset(c, 0, sizeof *c);
    c->environment = env;
    c->algorithm = (char *)"HS256";
    c->data_dir = tmpdir;
    c->keys_dir = (char *)keys_dir;
    c->access_token_lifetime_s = 900;
    c->refresh_token_lifetime_s = 86400;
}

TEST(root_keyset_on_disk_loads_in_roles)
{
    char err[1024], dir[400], a[ROOT_KID_MAX + 1], b[ROOT_KID_MAX + 1], h[ROOT_KID_MAX + 1],
        path[600];
    struct stat st;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/jwtd-keyset-XXXXXX");
    ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
    snprintf(dir, sizeof dir, "%s/deep/keys", tmpdir);
    int lock = root_keyset_lock(dir, err, sizeof err);
    ASSERT_TRUE(lock >= 0);
    ASSERT_EQ_INT(stat(dir, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    root_keyset_t ks = {0};
    CHECK_EQ_INT(root_keyset_read(dir, &ks, err, sizeof err), ERR_NOT_FOUND);
    int64_t now = clock_now_s();
    ASSERT_EQ_INT(root_keyset_new_key(dir, "ES256", NULL, a, sizeof a, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_new_key(dir, "ES256", NULL, b, sizeof b, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_new_key(dir, "HS256", NULL, h, sizeof h, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_add(&ks, a, "ES256", now - 100, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_add(&ks, b, "ES256", now - 50, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_add(&ks, h, "HS256", now - 40, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_activate(&ks, b, now - 10, 86400, err, sizeof err), 0);
    ASSERT_EQ_INT(root_keyset_write(dir, &ks, err, sizeof err), 0);
    close(lock);
    snprintf(path, sizeof path, "%s/%s.pem", dir, a);
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/%s.key", dir, h);
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/%s", dir, ROOT_KEYSET_STATE);
    ASSERT_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);

    /* loaded in their roles: b signs, a (retired) and h (next) verify; a and b published */
    struct cfg c;
    set_cfg(&c, CFG_ENV_PRODUCTION, dir);
    jose_keyring_t *ring = NULL;
    ASSERT_EQ_INT(root__keys_load(&c, &ring, err, sizeof err), 0);
    CHECK_STR_EQ(jose_key_kid(jose_keyring_active(ring)), b);
    CHECK_EQ_INT(jose_keyring_count(ring), 3);
    enum jose_key_role role;
    for (size_t i = 0; i < jose_keyring_count(ring); i++) {
        const char *kid = jose_key_kid(jose_keyring_at(ring, i, &role));
        if (strcmp(kid, a) == 0)
            CHECK_EQ_INT(role, JOSE_ROLE_RETIRED);
        else if (strcmp(kid, h) == 0)
            CHECK_EQ_INT(role, JOSE_ROLE_NEXT);
    }
    buf_t jwks;
    buf_init(&jwks, 65536);
    ASSERT_EQ_INT(jose_keyring_public_jwks(ring, &jwks), 0);
    buf_append_char(&jwks, '\0');
    CHECK_TRUE(strstr(jwks.data, a) && strstr(jwks.data, b) && !strstr(jwks.data, h));
    buf_dispose(&jwks);
    jose_keyring_release(ring);

    /* past retirement + the longest lifetime, a is dropped */
    c.refresh_token_lifetime_s = 5;
    c.access_token_lifetime_s = 5;
    ASSERT_EQ_INT(root__keys_load(&c, &ring, err, sizeof err), 0);
    CHECK_EQ_INT(jose_keyring_count(ring), 2);
    CHECK_TRUE(jose_keyring_find(ring, str_cstr(a)) == NULL);
    jose_keyring_release(ring);

    /* the key variables and JWTD_KEYS_DIR together are refused */
    set_cfg(&c, CFG_ENV_DEVELOPMENT, dir);
    c.secret_key = (char *)"a-development-secret-that-is-long-enough-0123456789";
    CHECK_EQ_INT(root__keys_load(&c, &ring, err, sizeof err), ERR_CONFIG);
    CHECK_TRUE(strstr(err, "not both") != NULL);

    /* a key file that does not hold its kid */
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/%s.pem", dir, a);
    snprintf(pb, sizeof pb, "%s/%s.pem", dir, b);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", pb, pa);
    ASSERT_EQ_INT(system(cmd), 0);
    set_cfg(&c, CFG_ENV_DEVELOPMENT, dir);
    CHECK_EQ_INT(root__keys_load(&c, &ring, err, sizeof err), ERR_CONFIG);
    CHECK_TRUE(strstr(err, "does not hold the key") != NULL || strstr(err, "duplicate") != NULL);

    /* production refuses a directory open to others */
    ASSERT_EQ_INT(chmod(dir, 0755), 0);
    set_cfg(&c, CFG_ENV_PRODUCTION, dir);
    CHECK_EQ_INT(root__keys_load(&c, &ring, err, sizeof err), ERR_CONFIG);
    CHECK_TRUE(strstr(err, "chmod 700") != NULL);

    /* a named directory without a set is an error, not a fallback */
    snprintf(path, sizeof path, "%s/empty", tmpdir);
    set_cfg(&c, CFG_ENV_DEVELOPMENT, path);
    CHECK_EQ_INT(root__keys_load(&c, &ring, err, sizeof err), ERR_CONFIG);
    CHECK_TRUE(strstr(err, "jwtd keys add") != NULL);

    /* clean: files of keys the set no longer holds go, others stay */
    ASSERT_EQ_INT(chmod(dir, 0700), 0);
    ASSERT_EQ_INT(root_keyset_remove(&ks, h, err, sizeof err), 0);
    CHECK_EQ_INT(root_keyset_clean(dir, &ks), 1);
    snprintf(path, sizeof path, "%s/%s.key", dir, h);
    CHECK_TRUE(access(path, F_OK) != 0);
    CHECK_TRUE(access(pb, F_OK) == 0);
    root_keyset_dispose(&ks);
    rm_rf(tmpdir);
}

/* kids are RFC 7638 thumbprints in base64url: one in 64 starts with '-' (a set refused such a
   key once in a while); '.' stays refused (hidden files, "..") */
TEST(root_kid_valid_accepts_thumbprints)
{
    CHECK_TRUE(root_kid_valid(STR_LIT("-3nYr0yJxuQ9Qd5l8k0wq7Gd3sD2_fkP9aR4oVZ1xHc")));
    CHECK_TRUE(root_kid_valid(STR_LIT("_a.b-c")));
    CHECK_TRUE(!root_kid_valid(STR_LIT(".hidden")));
    CHECK_TRUE(!root_kid_valid(STR_LIT("..")));
    CHECK_TRUE(!root_kid_valid(STR_LIT("a/b")));
    CHECK_TRUE(!root_kid_valid(STR_LIT("")));
}

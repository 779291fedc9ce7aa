/*
 * Unit tests for src/auth/password.c. Known-answer vectors come from independent
 * implementations, never from this code:
 *   - Django 3.2.25 make_password() (Debian python3-django, python3-argon2, python3-bcrypt):
 *       /usr/bin/python3 -c 'import django; from django.conf import settings;
 *         settings.configure(PASSWORD_HASHERS=[...]); django.setup();
 *         from django.contrib.auth.hashers import make_password;
 *         print(make_password("testpass123", hasher="bcrypt_sha256"))'
 *   - Python hashlib.pbkdf2_hmac / bcrypt.hashpw with fixed salts;
 *   - the argon2 reference CLI (Debian `argon2`):
 *       echo -n "correct horse battery staple" | argon2 fixedsalt1234567 -id -t 2 -k 19456 -p 1 -e
 */
#include "test.h"

#include <pthread.h>
#include <stdbool.h>

#include "auth/password.h"
#include "common/err.h"

static const auth_argon2_params_t defaults = AUTH_ARGON2_DEFAULTS;
static const auth_argon2_params_t cheap = {1024, 1, 1};

#define PW(s) (s), strlen(s)

struct vector {
    const char *stored;
    const char *password;
};

static const struct vector vectors[] = {
    /* Django 3.2 make_password("testpass123", hasher=...) */
    {"pbkdf2_sha256$260000$ZbdYZcIJAgKGhg3T44oZU8$Cjjs9jWqh3l7sVNJC0U2XkiEdvcR5j+FxS84huqIr30=",
     "testpass123"},
    {"pbkdf2_sha256$260000$fixedSALTfixedSALT12$hq9e+5s51jAZGfzWBjMMGjxxQJFgo8WeffojD07pLDk=",
     "testpass123"},
    {"pbkdf2_sha1$260000$pIaOkmTgc6vu3gnmkX1kgA$HsHJLuanib5wWDw3nqks79tpaZE=", "testpass123"},
    {"argon2$argon2id$v=19$m=102400,t=2,p=8$bndrYzhWREtzTmZUN0YwRVpKOTZoeg$v/GREPvwNZq+mv+4HNotfQ",
     "testpass123"},
    {"argon2$argon2id$v=19$m=102400,t=2,p=8$Zml4ZWRTQUxUZml4ZWRTQUxUMTI$n+VQXynO9cvL5QfJVmMyPA",
     "p\xc3\xa4ssw\xc3\xb6rd \xc3\xbcn\xc3\xaf"
     "code"},
    {"bcrypt_sha256$$2b$12$akEvB29gj6/.kZcWgKLOLedRgTN8nvTsRugFdeGu1jA0RAdiW3v9C", "testpass123"},
    {"bcrypt$$2b$12$mTAL1Df6wA1I.BhpiHNYQ.QlhWYbxKjzEO1S6uZ/3j2owL2sR41Jm", "testpass123"},
    /* hashlib.pbkdf2_hmac / bcrypt.hashpw with fixed salts */
    {"pbkdf2_sha256$1000$fixedsalt1234567890ab$g//7+kymu5KzM7LdktbLzWuKmCqITjKSrfu40izzZ4w=",
     "correct horse battery staple"},
    {"pbkdf2_sha256$20000$Y5qnK3mBfQ2xU8sW$8Bz5wSZnj0l57ymGh9/mTaJQ2cs2sEzXOVPLWtjT6jE=",
     "p\xc3\xa4ssw\xc3\xb6rd \xc3\xbcn\xc3\xaf"
     "code"},
    {"pbkdf2_sha1$1000$abcdefgh$dRT0moePskpCg75iSBQ9UofkDbY=", "testpass123"},
    {"bcrypt_sha256$$2b$05$abcdefghijklmnopqrstuuo5UaIBysJIH5CaMip.8XQbctZzHcXPa",
     "correct horse battery staple"},
    {"bcrypt_sha256$$2b$04$0123456789ABCDEFGHIJK./TEf88xKCEPdT1PKrhsxpUdiKX2hg2O",
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxx"},
    {"bcrypt$$2b$04$ZYXWVUTSRQPONMLKJIHGF.cQm5vHuVnZClycBg2E8xaMoUSvhiZ46", "testpass123"},
    /* argon2 reference CLI */
    {"$argon2id$v=19$m=19456,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$"
     "vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CFyTNI2wuYEw",
     "correct horse battery staple"},
    {"$argon2id$v=19$m=1024,t=1,p=2$Zml4ZWRzYWx0MTIzNDU2Nw$"
     "0hv8qyA3ULuzQE5+d+myloraCduc1gw5nuNErgd5I2g",
     "correct horse battery staple"},
    {"$argon2i$v=19$m=512,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$g50e0bLkpP7FzmarW/"
     "sON79eIhiCCGfRDYMzCUsIcEs",
     "testpass123"},
    {"$argon2i$v=16$m=512,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$1es/"
     "pyjZyeV3rfo8ZtSsF34d3k5yo4VV7LpIKAwmiMM",
     "testpass123"},
};

TEST(password_known_answer_vectors)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        if (!CHECK_TRUE(auth_password_verify(v->stored, PW(v->password))))
            fprintf(stderr, "    vector %zu: %.40s...\n", i, v->stored);
        /* a one-byte change in the password, and a truncated or extended password, fail */
        char wrong[128];
        snprintf(wrong, sizeof wrong, "%s", v->password);
        wrong[0] ^= 1;
        if (!CHECK_TRUE(!auth_password_verify(v->stored, PW(wrong))))
            fprintf(stderr, "    vector %zu accepted a wrong password\n", i);
        /* the costly Django-default vectors (~0.1-0.3 s each) skip the extra checks */
        bool costly = strstr(v->stored, "260000") || strstr(v->stored, "$2b$12$") ||
                      strstr(v->stored, "m=102400");
        if (!costly) {
            CHECK_TRUE(!auth_password_verify(v->stored, v->password, strlen(v->password) - 1));
            snprintf(wrong, sizeof wrong, "%s!", v->password);
            CHECK_TRUE(!auth_password_verify(v->stored, PW(wrong)));
        }
        /* every imported format wants a rehash except argon2id at or above the params */
        CHECK_TRUE(auth_password_needs_rehash(v->stored, &defaults) ==
                   (strncmp(v->stored, "$argon2id$v=19$m=19456,t=2", 26) != 0));
    }
}

TEST(password_hash_roundtrip_and_format)
{
    char h1[AUTH_PASSWORD_HASH_MAX], h2[AUTH_PASSWORD_HASH_MAX];
    ASSERT_EQ_INT(auth_password_hash(&cheap, PW("hunter2hunter2"), h1, sizeof h1), 0);
    ASSERT_EQ_INT(auth_password_hash(&cheap, PW("hunter2hunter2"), h2, sizeof h2), 0);
    CHECK_TRUE(strncmp(h1, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    CHECK_TRUE(strcmp(h1, h2) != 0); /* random salt */
    /* $argon2id$v=19$m=1024,t=1,p=1$ + 22 salt chars + $ + 43 tag chars */
    CHECK_EQ_INT(strlen(h1), 30 + 22 + 1 + 43);
    CHECK_TRUE(auth_password_verify(h1, PW("hunter2hunter2")));
    CHECK_TRUE(auth_password_verify(h2, PW("hunter2hunter2")));
    CHECK_TRUE(!auth_password_verify(h1, PW("hunter2hunter3")));
    CHECK_TRUE(auth_password_needs_rehash(h1, &defaults)); /* m=1024 < 19456 */
    CHECK_TRUE(!auth_password_needs_rehash(h1, &cheap));
    /* empty password and binary bytes hash and verify too */
    ASSERT_EQ_INT(auth_password_hash(&cheap, "", 0, h1, sizeof h1), 0);
    CHECK_TRUE(auth_password_verify(h1, "", 0));
    CHECK_TRUE(!auth_password_verify(h1, "a", 1));
    ASSERT_EQ_INT(auth_password_hash(&cheap, "a\0b", 3, h1, sizeof h1), 0);
    CHECK_TRUE(auth_password_verify(h1, "a\0b", 3));
    CHECK_TRUE(!auth_password_verify(h1, "a\0c", 3));
}

TEST(password_default_params_hash_verifies)
{
    char h[AUTH_PASSWORD_HASH_MAX];
    ASSERT_EQ_INT(auth_password_hash(&defaults, PW("testpass123"), h, sizeof h), 0);
    CHECK_TRUE(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK_TRUE(auth_password_verify(h, PW("testpass123")));
    CHECK_TRUE(!auth_password_needs_rehash(h, &defaults));
    auth_argon2_params_t stronger = {19456, 3, 1};
    CHECK_TRUE(auth_password_needs_rehash(h, &stronger));
}

TEST(password_bad_params_refused)
{
    char h[AUTH_PASSWORD_HASH_MAX];
    auth_argon2_params_t p0 = {1024, 0, 1}, p1 = {4, 1, 1}, p2 = {1024, 1, 0};
    CHECK_EQ_INT(auth_password_hash(&p0, PW("x"), h, sizeof h), ERR_INVALID);
    CHECK_EQ_INT(auth_password_hash(&p1, PW("x"), h, sizeof h), ERR_INVALID);
    CHECK_EQ_INT(auth_password_hash(&p2, PW("x"), h, sizeof h), ERR_INVALID);
    CHECK_EQ_INT(auth_password_hash(&cheap, PW("x"), h, 10), ERR_INVALID);
}

TEST(password_malformed_and_unknown_formats_fail_closed)
{
    static const char *const bad[] = {
        "",
        "!unusableDjangoPasswordXXXXXXXXXXXXXXXXXXXXXXXX",
        "testpass123",
        "md5$salt$f8ca6b8c6b1fd8e0fb82ea5e0c2ebfa3",
        "sha1$salt$hash",
        "unsalted_md5$x",
        "pbkdf2_sha256$",
        "pbkdf2_sha256$0$salt$hash",
        "pbkdf2_sha256$abc$salt$hash",
        "pbkdf2_sha256$1000$$g//7+kymu5KzM7LdktbLzWuKmCqITjKSrfu40izzZ4w=",
        "pbkdf2_sha256$1000$fixedsalt1234567890ab",
        "pbkdf2_sha256$99999999999$s$h",
        "pbkdf2_sha256$1000$fixedsalt1234567890ab$g//7+kymu5KzM7LdktbLzWuKmCqITjKSrfu40izzZ4w",
        "pbkdf2_sha512$1000$fixedsalt1234567890ab$g//7+kymu5KzM7LdktbLzWuKmCqITjKSrfu40izzZ4w=",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw",
        "$argon2id$v=19$m=19456,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$",
        "$argon2id$v=18$m=19456,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CF",
        "$argon2id$v=19$m=9999999999,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2",
        "$argon2id$v=19$m=4194304,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6",
        "$argon2id$v=19$m=19456,t=0,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CF",
        "$argon2id$v=19$m=19456,t=2,p=0$Zml4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CF",
        "$argon2id$v=19$m=19456,t=2,p=1$Zm*4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CF",
        "$argon2id$v=19$m=19456,t=2,p=1$Zg$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CFyTNI2wuYEw",
        "$argon2id$v=19$m=019456,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CF",
        "$argon2x$v=19$m=19456,t=2,p=1$Zml4ZWRzYWx0MTIzNDU2Nw$vuAd8+oWUpt+UXPLO+mAl8AN5l4c2I6CF",
        "argon2$",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$bndrYzhWREtzTmZUN0YwRVpKOTZoeg",
        "bcrypt_sha256$",
        "bcrypt_sha256$$2b$12$",
        "bcrypt_sha256$$2b$99$akEvB29gj6/.kZcWgKLOLedRgTN8nvTsRugFdeGu1jA0RAdiW3v9C",
        "bcrypt_sha256$$2b$31$akEvB29gj6/.kZcWgKLOLedRgTN8nvTsRugFdeGu1jA0RAdiW3v9C",
        "bcrypt_sha256$$1$12$akEvB29gj6/.kZcWgKLOLedRgTN8nvTsRugFdeGu1jA0RAdiW3v9Cxx",
        "bcrypt_sha256$$2b$12$akEvB29gj6/.kZcWgKLOLedRgTN8nvTsRugFdeGu1jA0RAdiW3v9",
        "bcrypt$$2b$04$ZYXWVUTSRQPONMLKJIHGF.cQm5vHuVnZClycBg2E8xaMoUSvhiZ4",
        "bcrypt$$5$rounds=1000$salt$hash",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!CHECK_TRUE(!auth_password_verify(bad[i], PW("testpass123"))))
            fprintf(stderr, "    accepted: %s\n", bad[i]);
        CHECK_TRUE(auth_password_needs_rehash(bad[i], &defaults));
    }
    CHECK_TRUE(!auth_password_verify(NULL, PW("x")));
    /* bcrypt cannot see a NUL: a password with one never matches */
    CHECK_TRUE(
        !auth_password_verify("bcrypt$$2b$04$ZYXWVUTSRQPONMLKJIHGF.cQm5vHuVnZClycBg2E8xaMoUSvhiZ46",
                              "testpass123\0tail", 16));
}

/* The dummy is written, not hashed: no argon2 work at init (no start-up cost, no work area
   left resident on the starting thread); verifying against it costs one hash at its params. */
TEST(password_dummy_hash_costs_one_verification_and_nothing_at_init)
{
    uint64_t w0 = auth__password_argon2_work();
    ASSERT_EQ_INT(auth_password_dummy_init(&cheap), 0);
    CHECK_TRUE(auth__password_argon2_work() == w0);
    auth_password_verify_dummy(PW("anything"));
    CHECK_TRUE(auth__password_argon2_work() - w0 == (uint64_t)cheap.memory_kib * cheap.iterations);
    auth_argon2_params_t bad = cheap;
    bad.iterations = 0;
    CHECK_EQ_INT(auth_password_dummy_init(&bad), ERR_INVALID);
}

TEST(password_dummy_hash_never_matches)
{
    ASSERT_EQ_INT(auth_password_dummy_init(&cheap), 0);
    auth_password_verify_dummy(PW("anything"));
    auth_password_verify_dummy("", 0);
    ASSERT_EQ_INT(auth_password_dummy_init(&defaults), 0);
    auth_password_verify_dummy(PW("testpass123"));
}

static void *hash_thread(void *arg)
{
    int *ok = arg;
    char h[AUTH_PASSWORD_HASH_MAX];
    *ok = 1;
    for (int i = 0; i < 4; i++) {
        char pw[32];
        snprintf(pw, sizeof pw, "password-%d", i);
        if (auth_password_hash(&cheap, PW(pw), h, sizeof h) != 0 ||
            !auth_password_verify(h, PW(pw)) || auth_password_verify(h, PW("other")))
            *ok = 0;
    }
    return NULL;
}

TEST(password_thread_hashing_uses_private_arenas)
{
    enum { N = 4 };
    pthread_t th[N];
    int ok[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, hash_thread, &ok[i]);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(ok[i], 1);
    }
}

/*
 * reload.c - tests for auth_reload (the live snapshot): a new ring signs at once, tokens of
 * a key still in the ring verify (the verified-token cache does not outlive a change), a
 * token of a key no longer in the ring stops verifying, lifetimes change, a ring that
 * cannot sign is refused with nothing changed, and verifiers on other threads keep working
 * while the snapshot is swapped (run under ASan and TSan: no race, no use after free).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "fx.h"
#include "test.h"

/* A ring holding the secret s as role (and t as ACTIVE when s is not). */
static jose_keyring_t *ring_of(const char *active, const char *other, enum jose_key_role role)
{
    char err[256];
    const jose_alg_t *alg = jose_alg_by_name(STR_LIT("HS256"));
    jose_keyring_t *r = jose_keyring_new();
    jose_key_t *k;
    if (jose_key_from_secret(alg, active, strlen(active), &k, err, sizeof err) != 0 ||
        jose_keyring_add(r, k, JOSE_ROLE_ACTIVE, err, sizeof err) != 0)
        abort();
    if (other && (jose_key_from_secret(alg, other, strlen(other), &k, err, sizeof err) != 0 ||
                  jose_keyring_add(r, k, role, err, sizeof err) != 0))
        abort();
    return r;
}

static void vopts(jwtv_options *v)
{
    jwtv_options_init(v);
    v->algorithms = JWTV_ALG_HS256;
    v->required = JWTV_REQUIRE_EXP | JWTV_REQUIRE_IAT | JWTV_REQUIRE_JTI | JWTV_REQUIRE_TOKEN_TYPE |
                  JWTV_REQUIRE_USER_ID;
}

#define SECRET_A "aaaaaaaa-first-secret-of-the-test-0123456789"
#define SECRET_B "bbbbbbbb-second-secret-of-the-test-987654321"

/* The token's header into kid-containing text and its exp claim. */
static int64_t token_exp(const auth_pair_t *p, char *hdr, size_t cap)
{
    buf_t h, pl;
    buf_init(&h, 4096);
    buf_init(&pl, 8192);
    int64_t exp = -1;
    if (jose_jws_decode_unverified(str_make(p->access, p->access_len), &h, &pl) == 0) {
        snprintf(hdr, cap, "%.*s", (int)h.len, h.data);
        buf_append_char(&pl, '\0');
        const char *e = strstr(pl.data, "\"exp\":");
        if (e)
            exp = strtoll(e + 6, NULL, 10);
    }
    buf_dispose(&h);
    buf_dispose(&pl);
    return exp;
}

static enum auth_verdict reload_verify(auth_t *a, const auth_pair_t *p)
{
    auth_token_ref_t ref;
    return auth_verify_token(a, str_make(p->access, p->access_len), AUTH_TOKEN_ACCESS, 0, &ref);
}

TEST(auth_reload_rotates_the_signing_key)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    auth_options_t o;
    fx_options(&o);
    jwtv_options v;
    vopts(&v);
    auth_client_t c = {0};
    int64_t now = clock_now_s();
    jose_keyring_t *a = ring_of(SECRET_A, NULL, JOSE_ROLE_NEXT);
    ASSERT_EQ_INT(auth_reload(f.auth, &o, a, &v), 0);
    auth_pair_t p1 = {0}, p2 = {0}, p3 = {0};
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "correct horse", 13, &c, now, &p1), 0);
    ASSERT_EQ_INT(reload_verify(f.auth, &p1), AUTH_OK); /* now in this thread's cache */
    char hdr[4096];
    const char *kid_a = jose_key_kid(jose_keyring_active(a));

    /* B signs, A retired: p1 still verifies, new tokens carry B's kid */
    jose_keyring_t *b = ring_of(SECRET_B, SECRET_A, JOSE_ROLE_RETIRED);
    ASSERT_EQ_INT(auth_reload(f.auth, &o, b, &v), 0);
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "correct horse", 13, &c, now, &p2), 0);
    CHECK_TRUE(token_exp(&p2, hdr, sizeof hdr) > now);
    CHECK_TRUE(strstr(hdr, jose_key_kid(jose_keyring_active(b))) != NULL);
    CHECK_TRUE(strstr(hdr, kid_a) == NULL);
    CHECK_EQ_INT(reload_verify(f.auth, &p1), AUTH_OK);
    CHECK_EQ_INT(reload_verify(f.auth, &p2), AUTH_OK);

    /* A dropped: its token (cached before) no longer verifies; B's does */
    jose_keyring_t *b_only = ring_of(SECRET_B, NULL, JOSE_ROLE_NEXT);
    o.access_lifetime_s = 120;
    ASSERT_EQ_INT(auth_reload(f.auth, &o, b_only, &v), 0);
    CHECK_EQ_INT(reload_verify(f.auth, &p1), AUTH_INVALID);
    CHECK_EQ_INT(reload_verify(f.auth, &p2), AUTH_OK);
    CHECK_EQ_INT(auth_access_lifetime(f.auth), 120);
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "correct horse", 13, &c, now, &p3), 0);
    CHECK_EQ_INT(token_exp(&p3, hdr, sizeof hdr) - now, 120);

    /* a ring that cannot sign, or a bad lifetime: refused, nothing changes */
    jose_keyring_t *empty = jose_keyring_new();
    CHECK_EQ_INT(auth_reload(f.auth, &o, empty, &v), ERR_INVALID);
    o.access_lifetime_s = 0;
    CHECK_EQ_INT(auth_reload(f.auth, &o, b_only, &v), ERR_INVALID);
    CHECK_EQ_INT(auth_access_lifetime(f.auth), 120);
    CHECK_EQ_INT(reload_verify(f.auth, &p2), AUTH_OK);

    auth_pair_dispose(&p1);
    auth_pair_dispose(&p2);
    auth_pair_dispose(&p3);
    jose_keyring_release(a);
    jose_keyring_release(b);
    jose_keyring_release(b_only);
    jose_keyring_release(empty);
    fx_close(&f);
}

struct hammer {
    auth_t *auth;
    const auth_pair_t *pair;
    atomic_bool stop;
    atomic_long verified, failed;
};

static void *verifier(void *arg)
{
    struct hammer *h = arg;
    while (!atomic_load(&h->stop)) {
        if (reload_verify(h->auth, h->pair) == AUTH_OK)
            atomic_fetch_add(&h->verified, 1);
        else
            atomic_fetch_add(&h->failed, 1);
        buf_t jwks;
        buf_init(&jwks, 65536);
        (void)auth_jwks_json(h->auth, &jwks);
        buf_dispose(&jwks);
        (void)auth_access_lifetime(h->auth);
    }
    return NULL;
}

/* Verifiers on four threads while the main thread swaps the snapshot 200 times: every token
   of a key kept in every ring verifies throughout. */
TEST(auth_reload_thread_safe_while_verifying)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    auth_options_t o;
    fx_options(&o);
    jwtv_options v;
    vopts(&v);
    auth_client_t c = {0};
    jose_keyring_t *a = ring_of(SECRET_A, NULL, JOSE_ROLE_NEXT);
    ASSERT_EQ_INT(auth_reload(f.auth, &o, a, &v), 0);
    auth_pair_t p = {0};
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "correct horse", 13, &c, clock_now_s(), &p), 0);
    struct hammer h = {.auth = f.auth, .pair = &p};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, verifier, &h), 0);
    for (int i = 0; i < 200; i++) {
        /* let the verifiers run between two swaps (bounded: 10 s) */
        long seen = atomic_load(&h.verified) + atomic_load(&h.failed);
        for (int w = 0; w < 100000 && atomic_load(&h.verified) + atomic_load(&h.failed) <= seen;
             w++)
            usleep(100);
        jose_keyring_t *r = i % 2 ? ring_of(SECRET_A, SECRET_B, JOSE_ROLE_NEXT)
                                  : ring_of(SECRET_B, SECRET_A, JOSE_ROLE_RETIRED);
        o.access_lifetime_s = 60 + i;
        CHECK_EQ_INT(auth_reload(f.auth, &o, r, &v), 0);
        jose_keyring_release(r);
    }
    atomic_store(&h.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_TRUE(atomic_load(&h.verified) > 0);
    CHECK_EQ_INT(atomic_load(&h.failed), 0);
    auth_pair_dispose(&p);
    jose_keyring_release(a);
    fx_close(&f);
}

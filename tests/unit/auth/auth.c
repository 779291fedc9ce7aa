/*
 * Unit tests for src/auth/auth.c (+ jsonw.c, usercache.c): the token service against a
 * temporary SQLite database and a generated HS256 key. Issue/verify claims, wrong type and
 * expiry (time passed in), rotation (rotated, grace re-issue of the same successor,
 * reuse after the grace -> session revoked), rotation disabled, every revocation kind and
 * its effect on the in-memory index, revocations made by another process (pulled) and
 * after a restart, the user cache, and the dummy hash for unknown users.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/auth_internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "db/db.h"
#include "test.h"

static const auth_argon2_params_t cheap = {1024, 1, 1};

struct fx {
    char dir[64];
    char path[128];
    char url[200];
    db_t *db;
    jose_keyring_t *ring;
    auth_t *auth;
    int64_t uid;
};

static void fx_options(auth_options_t *o)
{
    auth_options_defaults(o);
    o->argon2 = cheap;
    o->poll_interval_ms = 60000; /* tests pull explicitly with store_sync */
}

static int fx_auth(struct fx *f, const auth_options_t *o)
{
    jwtv_options v;
    jwtv_options_init(&v);
    v.algorithms = JWTV_ALG_HS256;
    v.required = JWTV_REQUIRE_EXP | JWTV_REQUIRE_IAT | JWTV_REQUIRE_JTI | JWTV_REQUIRE_TOKEN_TYPE |
                 JWTV_REQUIRE_USER_ID;
    int rc = auth_new(o, f->db, f->ring, &v, &f->auth);
    return rc ? rc : auth_start(f->auth);
}

/* A user "alice" / "correct horse" (id in f->uid) plus a key ring and the service. */
static int fx_open(struct fx *f, const auth_options_t *opts)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/jwtd-authtest-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s?synchronous=off", f->path);
    char err[256];
    if (db_open(f->url, NULL, &f->db, err, sizeof err) != 0 || db_migrate(f->db, NULL) != 0)
        return -1;
    char hash[AUTH_PASSWORD_HASH_MAX];
    if (auth_password_hash(&cheap, "correct horse", 13, hash, sizeof hash) != 0)
        return -1;
    db_user_t u = {0};
    u.username = (char *)"alice";
    u.email = (char *)"alice@example.com";
    u.first_name = (char *)"Al\"ice";
    u.last_name = (char *)"Line\nBreak";
    u.role = DB_ROLE_INSTRUCTOR;
    u.premium = true;
    u.is_active = true;
    u.password_hash = hash;
    if (db_user_create(f->db, &u, clock_now_s() - 100, &f->uid) != 0)
        return -1;
    const jose_alg_t *alg = jose_alg_by_name(STR_LIT("HS256"));
    jose_key_t *k;
    if (jose_key_generate(alg, 0, &k, err, sizeof err) != 0)
        return -1;
    f->ring = jose_keyring_new();
    if (jose_keyring_add(f->ring, k, JOSE_ROLE_ACTIVE, err, sizeof err) != 0)
        return -1;
    auth_options_t o;
    fx_options(&o);
    return fx_auth(f, opts ? opts : &o);
}

static void fx_close(struct fx *f)
{
    auth_free(f->auth);
    jose_keyring_release(f->ring);
    db_close(f->db);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
}

static int login(struct fx *f, int64_t now, auth_pair_t *p)
{
    auth_client_t c = {"127.0.0.1", "unit", NULL};
    return auth_login(f->auth, "alice", "correct horse", 13, &c, now, p);
}

static enum auth_verdict verify_access(struct fx *f, const char *tok, size_t len, int64_t now)
{
    jwtv_claims c;
    return auth_verify_access(f->auth, str_make(tok, len), now, &c);
}

static enum auth_verdict verify_refresh(struct fx *f, const char *tok, size_t len, int64_t now,
                                        auth_token_ref_t *ref)
{
    jwtv_claims c;
    enum auth_verdict v = auth_verify_refresh(f->auth, str_make(tok, len), now, &c);
    if (v == AUTH_OK && ref)
        (void)auth_token_ref_from_claims(&c, ref);
    return v;
}

static bool is_hex32(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

TEST(auth_login_issues_claims_of_api_section_1)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    jwtv_claims c;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(p.access, p.access_len), now, &c), AUTH_OK);
    CHECK_STR_EQ(c.token_type, "access");
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)f.uid);
    CHECK_STR_EQ(c.user_id, uid);
    CHECK_STR_EQ(c.sub, uid);
    CHECK_TRUE(is_hex32(c.jti));
    CHECK_TRUE(is_hex32(c.sid));
    CHECK_STR_EQ(c.sid, p.sid);
    CHECK_STR_EQ(c.username, "alice");
    CHECK_STR_EQ(c.email, "alice@example.com");
    CHECK_STR_EQ(c.role, "instructor");
    CHECK_TRUE(c.has_premium && c.premium);
    CHECK_EQ_INT(c.iat, now);
    CHECK_EQ_INT(c.exp - c.iat, 900);
    /* user_id is a JSON string in the payload (SimpleJWT >= 5.5) */
    CHECK_TRUE(strstr(c.payload, "\"user_id\":\"") != NULL);
    char access_jti[33];
    snprintf(access_jti, sizeof access_jti, "%s", c.jti);

    ASSERT_EQ_INT(auth_verify_refresh(f.auth, str_make(p.refresh, p.refresh_len), now, &c),
                  AUTH_OK);
    CHECK_STR_EQ(c.token_type, "refresh");
    CHECK_EQ_INT(c.exp - c.iat, 7 * 86400);
    CHECK_STR_EQ(c.sid, p.sid);
    CHECK_TRUE(c.username == NULL); /* refresh tokens carry no profile claims */
    CHECK_TRUE(strcmp(c.jti, access_jti) != 0);

    /* the user object is valid JSON with escaped strings */
    json_error_t je;
    json_t *u = json_loadb(p.user_json, p.user_json_len, 0, &je);
    ASSERT_TRUE(u != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(u, "id")), f.uid);
    CHECK_STR_EQ(json_string_value(json_object_get(u, "first_name")), "Al\"ice");
    CHECK_STR_EQ(json_string_value(json_object_get(u, "last_name")), "Line\nBreak");
    CHECK_STR_EQ(json_string_value(json_object_get(u, "role")), "instructor");
    CHECK_TRUE(json_is_true(json_object_get(u, "premium")));
    json_decref(u);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_verify_wrong_type_and_expiry_first)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    CHECK_EQ_INT(verify_access(&f, p.refresh, p.refresh_len, now), AUTH_WRONG_TYPE);
    CHECK_EQ_INT(verify_refresh(&f, p.access, p.access_len, now, NULL), AUTH_WRONG_TYPE);
    jwtv_claims c;
    CHECK_EQ_INT(auth_verify_any(f.auth, str_make(p.refresh, p.refresh_len), now, &c), AUTH_OK);
    CHECK_EQ_INT(auth_verify_any(f.auth, str_make(p.access, p.access_len), now, &c), AUTH_OK);
    /* expired: invalid (not wrong type), as SimpleJWT reports expiry before type */
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 900), AUTH_INVALID);
    CHECK_EQ_INT(verify_access(&f, p.refresh, p.refresh_len, now + 7 * 86400), AUTH_INVALID);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 899), AUTH_OK);
    /* tampering */
    p.access[p.access_len - 5] ^= 1;
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_INVALID);
    CHECK_EQ_INT(verify_access(&f, "abc", 3, now), AUTH_INVALID);
    CHECK_STR_EQ(auth_verdict_message(AUTH_INVALID), "Token is invalid or expired");
    CHECK_STR_EQ(auth_verdict_message(AUTH_WRONG_TYPE), "Token has wrong type");
    CHECK_STR_EQ(auth_verdict_message(AUTH_REVOKED), "Token is blacklisted");
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_login_failures_are_indistinguishable)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    auth_client_t c = {NULL, NULL, NULL};
    CHECK_EQ_INT(auth_login(f.auth, "alice", "wrong", 5, &c, now, &p), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_login(f.auth, "nobody", "correct horse", 13, &c, now, &p),
                 ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_login(f.auth, "Alice", "correct horse", 13, &c, now, &p),
                 ERR_NO_ACTIVE_ACCOUNT); /* usernames are case-sensitive */
    ASSERT_EQ_INT(db_user_set_active(f.db, f.uid, false, now), 0);
    CHECK_EQ_INT(login(&f, now, &p), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_issue_for_user(f.auth, "alice", &c, now, &p), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_issue_for_user(f.auth, "nobody", &c, now, &p), ERR_NOT_FOUND);
    auth_pair_dispose(&p);
    fx_close(&f);
}

static double elapsed_ms(uint64_t t0)
{
    return (double)(clock_mono_ns() - t0) / 1e6;
}

TEST(auth_login_unknown_user_costs_a_password_hash)
{
    /* heavier parameters so that a hash dominates the timing */
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    o.argon2.memory_kib = 8192;
    o.argon2.iterations = 3;
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    char hash[AUTH_PASSWORD_HASH_MAX];
    ASSERT_EQ_INT(auth_password_hash(&o.argon2, "correct horse", 13, hash, sizeof hash), 0);
    ASSERT_EQ_INT(db_user_set_password(f.db, f.uid, hash, false, clock_now_s()), 0);
    auth_pair_t p = {0};
    auth_client_t c = {NULL, NULL, NULL};
    double known = 1e9, unknown = 1e9;
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = clock_mono_ns();
        CHECK_EQ_INT(auth_login(f.auth, "alice", "wrong pw", 8, &c, clock_now_s(), &p),
                     ERR_NO_ACTIVE_ACCOUNT);
        double k = elapsed_ms(t0);
        t0 = clock_mono_ns();
        CHECK_EQ_INT(auth_login(f.auth, "nobody", "wrong pw", 8, &c, clock_now_s(), &p),
                     ERR_NO_ACTIVE_ACCOUNT);
        double u = elapsed_ms(t0);
        known = k < known ? k : known;
        unknown = u < unknown ? u : unknown;
    }
    /* the unknown user is verified against the dummy hash: same order of cost */
    if (!CHECK_TRUE(unknown > known * 0.5))
        fprintf(stderr, "known %.2f ms, unknown %.2f ms\n", known, unknown);
    fx_close(&f);
}

TEST(auth_refresh_rotates_then_grace_then_reuse_revokes_session)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, r1 = {0}, r2 = {0}, r3 = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref, ref1;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;

    /* first presentation: rotated, a new refresh token and a new access token */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r1, &v), 0);
    ASSERT_EQ_INT(v, AUTH_OK);
    CHECK_TRUE(r1.refresh_len > 0 && r1.access_len > 0);
    CHECK_TRUE(strcmp(r1.refresh, p.refresh) != 0);
    ASSERT_EQ_INT(verify_refresh(&f, r1.refresh, r1.refresh_len, now, &ref1), AUTH_OK);
    CHECK_TRUE(strcmp(ref1.jti, ref.jti) != 0);
    CHECK_STR_EQ(ref1.sid, ref.sid);
    CHECK_EQ_INT(verify_access(&f, r1.access, r1.access_len, now), AUTH_OK);

    /* within the grace: the SAME successor (same bytes with HS256), a fresh access token */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now + 5, &r2, &v), 0);
    ASSERT_EQ_INT(v, AUTH_OK);
    CHECK_EQ_INT(r2.refresh_len, r1.refresh_len);
    CHECK_STR_EQ(r2.refresh, r1.refresh);
    CHECK_TRUE(strcmp(r2.access, r1.access) != 0);

    /* the used token is blacklisted for /verify's database check */
    CHECK_EQ_INT(auth_refresh_check(f.auth, &ref, now + 5, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    CHECK_EQ_INT(auth_refresh_check(f.auth, &ref1, now + 5, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);

    /* after the grace: reuse -> the whole session is revoked, at once in the index */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now + 11, &r3, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    CHECK_EQ_INT(r3.refresh_len, 0);
    CHECK_EQ_INT(verify_access(&f, r1.access, r1.access_len, now + 11), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 11), AUTH_REVOKED);
    CHECK_EQ_INT(verify_refresh(&f, r1.refresh, r1.refresh_len, now + 11, NULL), AUTH_REVOKED);
    /* and the successor cannot refresh any more (database: session revoked) */
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref1, now + 12, &r3, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    store_stats_t s;
    store_stats(auth_store(f.auth), &s);
    CHECK_EQ_INT(s.index.sids, 1);

    /* an unknown jti is invalid, not blacklisted */
    auth_token_ref_t bogus = ref1;
    memcpy(bogus.jti, "00000000000000000000000000000000", 33);
    ASSERT_EQ_INT(auth_refresh(f.auth, &bogus, now, &r3, &v), 0);
    CHECK_EQ_INT(v, AUTH_INVALID);
    auth_pair_dispose(&p);
    auth_pair_dispose(&r1);
    auth_pair_dispose(&r2);
    auth_pair_dispose(&r3);
    fx_close(&f);
}

struct race {
    struct fx *f;
    auth_token_ref_t ref;
    int64_t now;
    int rc;
    enum auth_verdict v;
    auth_pair_t out;
};

static void *race_main(void *arg)
{
    struct race *r = arg;
    r->rc = auth_refresh(r->f->auth, &r->ref, r->now, &r->out, &r->v);
    return NULL;
}

TEST(auth_refresh_threads_presenting_one_token_get_one_successor)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum { N = 6 };
    struct race *r = calloc(N, sizeof *r);
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i].f = &f;
        r[i].ref = ref;
        r[i].now = now;
        pthread_create(&t[i], NULL, race_main, &r[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(r[i].rc, 0);
        CHECK_EQ_INT(r[i].v, AUTH_OK);
        CHECK_STR_EQ(r[i].out.refresh, r[0].out.refresh);
    }
    for (int i = 0; i < N; i++)
        auth_pair_dispose(&r[i].out);
    free(r);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_refresh_without_rotation_issues_only_access)
{
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    o.rotate_refresh_tokens = false;
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, r = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;
    for (int i = 0; i < 3; i++) { /* the same refresh token works again and again */
        ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now + 60 * i, &r, &v), 0);
        CHECK_EQ_INT(v, AUTH_OK);
        CHECK_EQ_INT(r.refresh_len, 0);
        CHECK_EQ_INT(verify_access(&f, r.access, r.access_len, now + 60 * i), AUTH_OK);
        auth_pair_dispose(&r);
    }
    /* logout still ends it */
    ASSERT_EQ_INT(auth_logout(f.auth, &ref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_logout_revokes_session_in_index_at_once)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, other = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    ASSERT_EQ_INT(login(&f, now, &other), 0); /* a second session of the same user */
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;
    ASSERT_EQ_INT(auth_logout(f.auth, &ref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, other.access, other.access_len, now), AUTH_OK);
    /* twice: blacklisted */
    ASSERT_EQ_INT(auth_logout(f.auth, &ref, now, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    auth_pair_t r = {0};
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0);
    CHECK_EQ_INT(v, AUTH_REVOKED);
    /* by sid and by jti */
    ASSERT_EQ_INT(auth_revoke_session(f.auth, other.sid, now), 0);
    CHECK_EQ_INT(verify_access(&f, other.access, other.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(auth_revoke_session(f.auth, "ffffffffffffffffffffffffffffffff", now),
                 ERR_NOT_FOUND);
    auth_pair_t q = {0};
    ASSERT_EQ_INT(login(&f, now, &q), 0);
    jwtv_claims c;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(q.access, q.access_len), now, &c), AUTH_OK);
    ASSERT_EQ_INT(auth_revoke_jti(f.auth, c.jti, c.exp, now), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_refresh(&f, q.refresh, q.refresh_len, now, NULL), AUTH_OK);
    auth_pair_dispose(&p);
    auth_pair_dispose(&other);
    auth_pair_dispose(&q);
    fx_close(&f);
}

TEST(auth_user_wide_revocations)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, q = {0};
    ASSERT_EQ_INT(login(&f, now - 5, &p), 0);
    ASSERT_EQ_INT(auth_user_revoke_all(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_REVOKED);
    auth_pair_dispose(&p);
    /* a login right after (same second) is valid: watermark is iat < revoke_before */
    ASSERT_EQ_INT(login(&f, now, &q), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now), AUTH_OK);
    auth_pair_dispose(&q);

    /* password change: policy, then everything revoked, new password works */
    auth_policy_result_t pol;
    CHECK_EQ_INT(auth_user_set_password(f.auth, f.uid, "1234567890", 10, now + 1, &pol),
                 ERR_INVALID);
    CHECK_TRUE(pol.count >= 1);
    ASSERT_EQ_INT(login(&f, now + 1, &q), 0);
    ASSERT_EQ_INT(auth_user_set_password(f.auth, f.uid, "new passphrase", 14, now + 2, NULL), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now + 2), AUTH_REVOKED);
    CHECK_EQ_INT(login(&f, now + 2, &p), ERR_NO_ACTIVE_ACCOUNT);
    auth_client_t c = {NULL, NULL, NULL};
    auth_pair_dispose(&q);
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "new passphrase", 14, &c, now + 2, &q), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now + 2), AUTH_OK);

    /* deactivation */
    ASSERT_EQ_INT(auth_user_set_active(f.auth, f.uid, false, now + 3), 0);
    CHECK_EQ_INT(verify_access(&f, q.access, q.access_len, now + 3), AUTH_REVOKED);
    CHECK_EQ_INT(auth_login(f.auth, "alice", "new passphrase", 14, &c, now + 3, &p),
                 ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(auth_user_revoke_all(f.auth, 999999, now), ERR_NOT_FOUND);
    auth_pair_dispose(&p);
    auth_pair_dispose(&q);
    fx_close(&f);
}

TEST(auth_revocations_by_other_processes_and_after_restart)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t a = {0}, b = {0};
    ASSERT_EQ_INT(login(&f, now - 10, &a), 0);
    ASSERT_EQ_INT(login(&f, now - 10, &b), 0);
    jwtv_claims c;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(b.access, b.access_len), now, &c), AUTH_OK);
    char bjti[33];
    snprintf(bjti, sizeof bjti, "%s", c.jti);
    /* another process (the CLI) writes the database directly */
    ASSERT_EQ_INT(db_session_revoke(f.db, a.sid, now, NULL), 0);
    ASSERT_EQ_INT(db_revoked_insert(f.db, bjti, now + 900, now, "admin"), 0);
    CHECK_EQ_INT(verify_access(&f, a.access, a.access_len, now), AUTH_OK); /* not yet seen */
    ASSERT_EQ_INT(store_sync(auth_store(f.auth)), 0);                      /* the poll */
    CHECK_EQ_INT(verify_access(&f, a.access, a.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, b.access, b.access_len, now), AUTH_REVOKED);

    /* restart: a new service on the same database loads every revocation */
    auth_free(f.auth);
    f.auth = NULL;
    auth_options_t o;
    fx_options(&o);
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_EQ_INT(verify_access(&f, a.access, a.access_len, now), AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, b.access, b.access_len, now), AUTH_REVOKED);
    /* watermark from another process */
    auth_pair_t d = {0};
    ASSERT_EQ_INT(login(&f, now - 1, &d), 0);
    ASSERT_EQ_INT(db_user_revoke_all(f.db, f.uid, now, NULL), 0);
    ASSERT_EQ_INT(store_sync(auth_store(f.auth)), 0);
    CHECK_EQ_INT(verify_access(&f, d.access, d.access_len, now), AUTH_REVOKED);
    auth_pair_dispose(&a);
    auth_pair_dispose(&b);
    auth_pair_dispose(&d);
    fx_close(&f);
}

TEST(auth_user_cache_fill_ttl_invalidate)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    char out[512];
    size_t len = 0;
    bool active = false;
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0); /* login fills the cache */
    ASSERT_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_TRUE(active);
    CHECK_EQ_INT(len, p.user_json_len);
    CHECK_MEM_EQ(out, p.user_json, len);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, 4, &len, &active), ERR_TOO_LARGE);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now + 61, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND); /* stale after the TTL */
    auth_user_invalidate(f.auth, f.uid);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    ASSERT_EQ_INT(auth_user_load(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_EQ_INT(auth_user_load(f.auth, 424242, now), ERR_NOT_FOUND);
    /* a deactivation made by this process drops the entry */
    ASSERT_EQ_INT(auth_user_set_active(f.auth, f.uid, false, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    ASSERT_EQ_INT(auth_user_load(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_TRUE(!active);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_usercache_bounded)
{
    auth_ucache_t *c = auth__ucache_new(4);
    for (int64_t i = 1; i <= 10; i++)
        auth__ucache_put(c, i, true, "{}", 2, 100);
    CHECK_TRUE(auth__ucache_count(c) <= 4);
    char out[8];
    size_t len;
    bool active;
    CHECK_EQ_INT(auth__ucache_get(c, 10, 0, out, sizeof out, &len, &active), 0);
    auth__ucache_put(c, 10, false, "{\"a\":1}", 7, 200);
    CHECK_EQ_INT(auth__ucache_get(c, 10, 150, out, sizeof out, &len, &active), 0);
    CHECK_EQ_INT(len, 7);
    CHECK_TRUE(!active);
    CHECK_EQ_INT(auth__ucache_get(c, 10, 201, out, sizeof out, &len, &active), ERR_NOT_FOUND);
    auth__ucache_free(c);
}

TEST(auth_jsonw_escapes_and_bounds)
{
    char buf[64];
    jsonw_t w;
    jsonw_init(&w, buf, sizeof buf);
    jsonw_raw(&w, "[");
    jsonw_str(&w, "a\"b\\c\n\x01\xc3\xa9");
    jsonw_raw(&w, ",");
    jsonw_int(&w, -42);
    jsonw_raw(&w, "]");
    ASSERT_TRUE(!jsonw_failed(&w));
    const char *want = "[\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\",-42]";
    CHECK_EQ_INT(jsonw_len(&w), strlen(want));
    CHECK_MEM_EQ(buf, want, strlen(want));
    jsonw_init(&w, buf, 4);
    jsonw_str(&w, "too long");
    CHECK_TRUE(jsonw_failed(&w));
    CHECK_TRUE(jsonw_len(&w) <= 4);
}

TEST(auth_parse_user_id)
{
    int64_t v;
    CHECK_EQ_INT(auth_parse_user_id("42", &v), 0);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(auth_parse_user_id("", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id("-1", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id("1a", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id("99999999999999999999", &v), ERR_INVALID);
    CHECK_EQ_INT(auth_parse_user_id(NULL, &v), ERR_INVALID);
}

TEST(auth_refresh_zero_grace_makes_any_reuse_fatal)
{
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    o.reuse_grace_s = 0;
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, r = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t ref;
    ASSERT_EQ_INT(verify_refresh(&f, p.refresh, p.refresh_len, now, &ref), AUTH_OK);
    enum auth_verdict v;
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0);
    CHECK_EQ_INT(v, AUTH_OK);
    auth_pair_dispose(&r);
    ASSERT_EQ_INT(auth_refresh(f.auth, &ref, now, &r, &v), 0); /* same second */
    CHECK_EQ_INT(v, AUTH_REVOKED);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_REVOKED);
    auth_pair_dispose(&p);
    fx_close(&f);
}

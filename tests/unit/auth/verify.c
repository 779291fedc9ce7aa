/*
 * Unit tests for src/auth/verify.c and vcache.c: the verdicts (wrong type, expiry reported
 * first, tampering) and their SimpleJWT messages, user id parsing, auth_verify_token for
 * each kind and the reference it fills, a repeated access token (served by the per-thread
 * verified-token cache) still refused at once after a revocation, claims too long for the
 * reference, and one metrics count per verification, cached or not. Against the fixture of
 * fx.h.
 */
#include "fx.h"
#include "jose/jose.h"
#include "runtime/metrics.h"
#include "test.h"

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
    /* expired (not wrong type), as SimpleJWT reports expiry before type */
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 900), AUTH_EXPIRED);
    CHECK_EQ_INT(verify_access(&f, p.refresh, p.refresh_len, now + 7 * 86400), AUTH_EXPIRED);
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now + 899), AUTH_OK);
    /* tampering */
    p.access[p.access_len - 5] ^= 1;
    CHECK_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_INVALID);
    CHECK_EQ_INT(verify_access(&f, "abc", 3, now), AUTH_INVALID);
    CHECK_STR_EQ(auth_verdict_message(AUTH_INVALID), "Token is invalid");
    CHECK_STR_EQ(auth_verdict_message(AUTH_EXPIRED), "Token is expired");
    CHECK_STR_EQ(auth_verdict_message(AUTH_WRONG_TYPE), "Token has wrong type");
    CHECK_STR_EQ(auth_verdict_message(AUTH_REVOKED), "Token is blacklisted");
    auth_pair_dispose(&p);
    fx_close(&f);
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

/* Every field of two references (the user id text, claims and flags included). */
static bool same_ref(const auth_token_ref_t *x, const auth_token_ref_t *y)
{
    return strcmp(x->jti, y->jti) == 0 && strcmp(x->sid, y->sid) == 0 && x->user_id == y->user_id &&
           x->iat == y->iat && x->exp == y->exp && x->is_refresh == y->is_refresh &&
           x->has_user_id == y->has_user_id && x->has_username == y->has_username &&
           x->has_role == y->has_role && strcmp(x->user_id_str, y->user_id_str) == 0 &&
           strcmp(x->username, y->username) == 0 && strcmp(x->role, y->role) == 0 &&
           strcmp(x->fph, y->fph) == 0;
}

static bool zeroed(const auth_token_ref_t *r)
{
    static const auth_token_ref_t zero;
    return memcmp(r, &zero, sizeof zero) == 0;
}

static enum auth_verdict verify_token(struct fx *f, const char *tok, size_t len,
                                      enum auth_token_kind kind, int64_t now, auth_token_ref_t *ref)
{
    memset(ref, 0xa5, sizeof *ref); /* whatever the caller had there */
    return auth_verify_token(f->auth, str_make(tok, len), kind, now, ref);
}

TEST(auth_verify_token_each_kind)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    auth_client_t c = {.ip = "127.0.0.1", .user_agent = "unit", .fph = "AAAAAAAAAAAAAAAAAAAAAA"};
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "correct horse", 13, &c, now, &p), 0);
    jwtv_claims claims;
    ASSERT_EQ_INT(auth_verify_access(f.auth, str_make(p.access, p.access_len), now, &claims),
                  AUTH_OK);
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)f.uid);

    auth_token_ref_t r;
    ASSERT_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now, &r), AUTH_OK);
    CHECK_STR_EQ(r.jti, claims.jti);
    CHECK_STR_EQ(r.sid, p.sid);
    CHECK_EQ_INT(r.user_id, f.uid);
    CHECK_STR_EQ(r.user_id_str, uid);
    CHECK_EQ_INT(r.iat, now);
    CHECK_EQ_INT(r.exp, now + 900);
    CHECK_TRUE(!r.is_refresh);
    CHECK_TRUE(r.has_user_id && r.has_username && r.has_role);
    CHECK_STR_EQ(r.username, "alice");
    CHECK_STR_EQ(r.role, "instructor");
    CHECK_STR_EQ(r.fph, "AAAAAAAAAAAAAAAAAAAAAA");
    auth_token_ref_t any;
    ASSERT_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ANY, now, &any), AUTH_OK);
    CHECK_TRUE(same_ref(&any, &r));
    /* now 0 is the clock */
    ASSERT_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, 0, &any), AUTH_OK);
    CHECK_TRUE(same_ref(&any, &r));

    ASSERT_EQ_INT(verify_token(&f, p.refresh, p.refresh_len, AUTH_TOKEN_REFRESH, now, &r), AUTH_OK);
    CHECK_TRUE(r.is_refresh);
    CHECK_STR_EQ(r.sid, p.sid);
    CHECK_EQ_INT(r.user_id, f.uid);
    CHECK_EQ_INT(r.exp, now + 7 * 86400);
    CHECK_TRUE(!r.has_username && !r.has_role); /* refresh tokens carry no profile */
    CHECK_STR_EQ(r.username, "");
    CHECK_STR_EQ(r.fph, "AAAAAAAAAAAAAAAAAAAAAA"); /* the binding is carried by both */
    ASSERT_EQ_INT(verify_token(&f, p.refresh, p.refresh_len, AUTH_TOKEN_ANY, now, &any), AUTH_OK);
    CHECK_TRUE(same_ref(&any, &r));

    /* refusals leave the reference zeroed */
    CHECK_EQ_INT(verify_token(&f, p.refresh, p.refresh_len, AUTH_TOKEN_ACCESS, now, &r),
                 AUTH_WRONG_TYPE);
    CHECK_TRUE(zeroed(&r));
    CHECK_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_REFRESH, now, &r),
                 AUTH_WRONG_TYPE);
    CHECK_TRUE(zeroed(&r));
    for (int kind = AUTH_TOKEN_ACCESS; kind <= AUTH_TOKEN_ANY; kind++) {
        CHECK_EQ_INT(verify_token(&f, "abc", 3, (enum auth_token_kind)kind, now, &r), AUTH_INVALID);
        CHECK_TRUE(r.tamper && strcmp(r.tamper, "malformed") == 0); /* the audit's class */
        r.tamper = NULL;
        CHECK_TRUE(zeroed(&r));
        CHECK_EQ_INT(verify_token(&f, "", 0, (enum auth_token_kind)kind, now, &r), AUTH_INVALID);
        CHECK_EQ_INT(verify_token(&f, p.access, p.access_len, (enum auth_token_kind)kind,
                                  now + 7 * 86400, &r),
                     AUTH_EXPIRED); /* expired, reported before the type */
        CHECK_TRUE(zeroed(&r));
    }
    /* a revoked session: revoked whatever the kind */
    ASSERT_EQ_INT(auth_revoke_session(f.auth, p.sid, now), 0);
    CHECK_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now, &r),
                 AUTH_REVOKED);
    CHECK_TRUE(zeroed(&r));
    CHECK_EQ_INT(verify_token(&f, p.refresh, p.refresh_len, AUTH_TOKEN_REFRESH, now, &r),
                 AUTH_REVOKED);
    CHECK_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ANY, now, &r), AUTH_REVOKED);
    CHECK_TRUE(zeroed(&r));
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_verify_token_repeated_access_token_revoked_at_once)
{
    /* The second verification of the same bytes is a hit of the verified-token cache (a hit
       cannot be told from a full verification through auth.h but by its cost): it answers
       as the first did, and the revocation index is still asked every time. */
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0}, q = {0}, s = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    ASSERT_EQ_INT(login(&f, now, &q), 0);
    ASSERT_EQ_INT(login(&f, now, &s), 0);
    auth_token_ref_t first, again;
    ASSERT_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now, &first),
                  AUTH_OK);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now + i, &again),
                      AUTH_OK);
        CHECK_TRUE(same_ref(&again, &first));
    }
    /* the session is revoked: the very next (cached) verification refuses it */
    ASSERT_EQ_INT(auth_revoke_session(f.auth, p.sid, now + 2), 0);
    CHECK_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now + 2, &again),
                 AUTH_REVOKED);
    CHECK_TRUE(zeroed(&again));
    CHECK_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now + 3, &again),
                 AUTH_REVOKED);
    /* the same for a revoked access token (jti) */
    ASSERT_EQ_INT(verify_token(&f, q.access, q.access_len, AUTH_TOKEN_ACCESS, now, &first),
                  AUTH_OK);
    ASSERT_EQ_INT(verify_token(&f, q.access, q.access_len, AUTH_TOKEN_ACCESS, now, &again),
                  AUTH_OK);
    ASSERT_EQ_INT(auth_revoke_jti(f.auth, first.jti, first.exp, now), 0);
    CHECK_EQ_INT(verify_token(&f, q.access, q.access_len, AUTH_TOKEN_ACCESS, now, &again),
                 AUTH_REVOKED);
    /* and for a revocation made by another process, once pulled */
    ASSERT_EQ_INT(verify_token(&f, s.access, s.access_len, AUTH_TOKEN_ACCESS, now, &first),
                  AUTH_OK);
    ASSERT_EQ_INT(db_session_revoke(f.db, s.sid, now, NULL), 0);
    CHECK_EQ_INT(verify_token(&f, s.access, s.access_len, AUTH_TOKEN_ACCESS, now, &again),
                 AUTH_OK); /* not seen yet */
    ASSERT_EQ_INT(store_sync(auth_store(f.auth)), 0);
    CHECK_EQ_INT(verify_token(&f, s.access, s.access_len, AUTH_TOKEN_ACCESS, now, &again),
                 AUTH_REVOKED);
    /* a cached token still expires: past exp it is invalid, not served from the cache */
    auth_pair_t t = {0};
    ASSERT_EQ_INT(login(&f, now, &t), 0);
    ASSERT_EQ_INT(verify_token(&f, t.access, t.access_len, AUTH_TOKEN_ACCESS, now, &first),
                  AUTH_OK);
    CHECK_EQ_INT(verify_token(&f, t.access, t.access_len, AUTH_TOKEN_ACCESS, first.exp, &again),
                 AUTH_EXPIRED);
    CHECK_EQ_INT(verify_token(&f, t.access, t.access_len, AUTH_TOKEN_ACCESS, now, &again), AUTH_OK);
    auth_pair_dispose(&p);
    auth_pair_dispose(&q);
    auth_pair_dispose(&s);
    auth_pair_dispose(&t);
    fx_close(&f);
}

/* Signs an access token of alice with the fixture's key; username of n bytes 'u', jti given. */
static size_t sign_access(struct fx *f, int64_t now, size_t n, const char *jti, char *out,
                          size_t cap)
{
    char name[AUTH_CLAIM_NAME_MAX + 16];
    if (n >= sizeof name)
        return 0;
    memset(name, 'u', n);
    name[n] = '\0';
    char payload[2048];
    snprintf(payload, sizeof payload,
             "{\"token_type\":\"access\",\"exp\":%lld,\"iat\":%lld,\"jti\":\"%s\","
             "\"user_id\":\"%lld\",\"sub\":\"%lld\",\"sid\":\"%s\",\"username\":\"%s\","
             "\"email\":\"\",\"role\":\"user\",\"premium\":false}",
             (long long)(now + 900), (long long)now, jti, (long long)f->uid, (long long)f->uid,
             "5ea5ea5ea5ea5ea5ea5ea5ea5ea5ea5e", name);
    size_t len = 0;
    if (jose_jws_sign(jose_keyring_active(f->ring), STR_NULL, str_cstr(payload), out, cap, &len) !=
        0)
        return 0;
    return len;
}

TEST(auth_verify_token_claims_longer_than_the_reference_are_invalid)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    const char *jti = "0123456789abcdef0123456789abcdef";
    char tok[4096];
    auth_token_ref_t r;
    /* the longest username a reference holds */
    size_t len = sign_access(&f, now, AUTH_CLAIM_NAME_MAX, jti, tok, sizeof tok);
    ASSERT_TRUE(len > 0);
    ASSERT_EQ_INT(verify_token(&f, tok, len, AUTH_TOKEN_ACCESS, now, &r), AUTH_OK);
    CHECK_EQ_INT(strlen(r.username), AUTH_CLAIM_NAME_MAX);
    /* one byte more: invalid, by every kind and by the claims view */
    len = sign_access(&f, now, AUTH_CLAIM_NAME_MAX + 1, jti, tok, sizeof tok);
    ASSERT_TRUE(len > 0);
    for (int kind = AUTH_TOKEN_ACCESS; kind <= AUTH_TOKEN_ANY; kind += 2) {
        CHECK_EQ_INT(verify_token(&f, tok, len, (enum auth_token_kind)kind, now, &r), AUTH_INVALID);
        CHECK_TRUE(zeroed(&r));
        CHECK_EQ_INT(verify_token(&f, tok, len, (enum auth_token_kind)kind, now, &r),
                     AUTH_INVALID); /* not cached either */
    }
    CHECK_EQ_INT(verify_access(&f, tok, len, now), AUTH_INVALID);
    /* a jti longer than AUTH_ID_MAX, with verification options that accept any jti (jose
       otherwise requires 32 hex digits) */
    jwtv_options vo;
    jwtv_options_init(&vo);
    vo.algorithms = JWTV_ALG_HS256;
    vo.flags |= JWTV_FLAG_ANY_JTI;
    auth_options_t o;
    fx_options(&o);
    auth_t *any = NULL;
    ASSERT_EQ_INT(auth_new(&o, f.db, f.ring, &vo, &any), 0);
    ASSERT_EQ_INT(auth_start(any), 0);
    char long_jti[AUTH_ID_MAX + 2];
    memset(long_jti, 'j', AUTH_ID_MAX + 1);
    long_jti[AUTH_ID_MAX + 1] = '\0';
    len = sign_access(&f, now, 5, long_jti, tok, sizeof tok);
    if (CHECK_TRUE(len > 0))
        CHECK_EQ_INT(auth_verify_token(any, str_make(tok, len), AUTH_TOKEN_ACCESS, now, &r),
                     AUTH_INVALID);
    long_jti[AUTH_ID_MAX] = '\0';
    len = sign_access(&f, now, 5, long_jti, tok, sizeof tok);
    if (CHECK_TRUE(len > 0)) {
        CHECK_EQ_INT(auth_verify_token(any, str_make(tok, len), AUTH_TOKEN_ACCESS, now, &r),
                     AUTH_OK);
        CHECK_STR_EQ(r.jti, long_jti);
    }
    auth_free(any);
    fx_close(&f);
}

static uint64_t verified(const metrics_snapshot_t *m, enum metrics_result res)
{
    return m->verified[metrics_alg_of(jose_alg_by_name(str_cstr("HS256")))][res];
}

/* All verifications counted, every algorithm and result. */
static uint64_t verified_total(const metrics_snapshot_t *m)
{
    uint64_t n = 0;
    for (int a = 0; a < METRICS__ALGS; a++)
        for (int r = 0; r < METRICS__RESULTS; r++)
            n += m->verified[a][r];
    return n;
}

TEST(auth_verify_token_counted_once_cached_or_not)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0);
    auth_token_ref_t r;
    metrics_snapshot_t m0, m1;
    /* uncached, then cached: one ok each */
    for (int i = 0; i < 2; i++) {
        metrics_snapshot(&m0);
        ASSERT_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now, &r),
                      AUTH_OK);
        metrics_snapshot(&m1);
        CHECK_EQ_INT(verified(&m1, METRICS_R_OK), verified(&m0, METRICS_R_OK) + 1);
        CHECK_EQ_INT(verified_total(&m1), verified_total(&m0) + 1);
    }
    /* never cached: refresh tokens, and the claims view */
    metrics_snapshot(&m0);
    ASSERT_EQ_INT(verify_token(&f, p.refresh, p.refresh_len, AUTH_TOKEN_REFRESH, now, &r), AUTH_OK);
    ASSERT_EQ_INT(verify_access(&f, p.access, p.access_len, now), AUTH_OK);
    metrics_snapshot(&m1);
    CHECK_EQ_INT(verified(&m1, METRICS_R_OK), verified(&m0, METRICS_R_OK) + 2);
    CHECK_EQ_INT(verified_total(&m1), verified_total(&m0) + 2);
    /* refusals: one each, under their class */
    metrics_snapshot(&m0);
    CHECK_EQ_INT(verify_token(&f, p.refresh, p.refresh_len, AUTH_TOKEN_ACCESS, now, &r),
                 AUTH_WRONG_TYPE);
    metrics_snapshot(&m1);
    CHECK_EQ_INT(verified(&m1, METRICS_R_WRONG_TYPE), verified(&m0, METRICS_R_WRONG_TYPE) + 1);
    CHECK_EQ_INT(verified_total(&m1), verified_total(&m0) + 1);
    metrics_snapshot(&m0);
    CHECK_EQ_INT(verify_token(&f, "abc", 3, AUTH_TOKEN_ACCESS, now, &r), AUTH_INVALID);
    metrics_snapshot(&m1);
    CHECK_EQ_INT(verified_total(&m1), verified_total(&m0) + 1);
    /* revoked, uncached and cached */
    ASSERT_EQ_INT(auth_revoke_session(f.auth, p.sid, now), 0);
    for (int i = 0; i < 2; i++) {
        metrics_snapshot(&m0);
        CHECK_EQ_INT(verify_token(&f, p.access, p.access_len, AUTH_TOKEN_ACCESS, now, &r),
                     AUTH_REVOKED);
        metrics_snapshot(&m1);
        CHECK_EQ_INT(verified(&m1, METRICS_R_REVOKED), verified(&m0, METRICS_R_REVOKED) + 1);
        CHECK_EQ_INT(verified(&m1, METRICS_R_OK), verified(&m0, METRICS_R_OK));
        CHECK_EQ_INT(verified_total(&m1), verified_total(&m0) + 1);
    }
    auth_pair_dispose(&p);
    fx_close(&f);
}

/*
 * Unit tests for src/auth/guard.c and device.c on the embedded store (no Redis: every
 * guard answers before its call returns): the login budget per client address, the
 * account's untrusted budgets spent by failed logins only (one address never spends the
 * account's), trusted devices counted against themselves, device tokens, the user and anonymous
 * budgets, the invalid-token budget and its block, one-time tokens, refresh-family networks, and
 * which kinds are limited. Budgets are per hour so that the wall clock never matters. Against the
 * fixture of fx.h.
 */
#include "fx.h"
#include "runtime/metrics.h"
#include "test.h"

struct answer {
    int calls;
    auth_guard_result_t r;
};

static void on_answer(void *arg, const auth_guard_result_t *r)
{
    struct answer *a = arg;
    a->calls++;
    a->r = *r;
}

/* auth_guard_check's decision; calls = 0 would mean the callback did not run. */
static struct answer check(struct fx *f, enum auth_guard_kind kind, const char *client,
                           const char *username, int64_t user_id)
{
    struct answer a = {0};
    auth_guard_check(f->auth, kind, client, username, user_id, on_answer, &a);
    return a;
}

static bool allowed(struct answer a)
{
    return a.calls == 1 && a.r.allowed;
}

/* Refused once, with a Retry-After of at least a second and at most max_s. */
static bool refused(struct answer a, uint32_t max_s)
{
    return a.calls == 1 && !a.r.allowed && a.r.retry_after_s >= 1 && a.r.retry_after_s <= max_s;
}

static int open_guarded(struct fx *f, const auth_guard_options_t *g)
{
    auth_options_t o;
    fx_options(&o);
    o.guard = *g;
    return fx_open(f, &o);
}

/* auth_login as username from client ip (NULL: none) with device id device (NULL: none). */
static int login_from(struct fx *f, const char *ip, const char *device, const char *username,
                      const char *password)
{
    auth_pair_t p = {0};
    auth_client_t c = {.ip = ip, .device = device};
    int rc = auth_login(f->auth, username, password, strlen(password), &c, clock_now_s(), &p);
    auth_pair_dispose(&p);
    return rc;
}

/* auth_guard_login's decision. */
static struct answer attempt(struct fx *f, const char *client, const char *username,
                             const char *device)
{
    struct answer a = {0};
    auth_guard_login(f->auth, client, username, device, on_answer, &a);
    return a;
}

/* One login attempt as the login routes make it: the guard, then (when let through) the
   login. Returns the login's result, or 1 when the guard refused. */
static int sign_in(struct fx *f, const char *ip, const char *device, const char *username,
                   const char *password)
{
    struct answer a = attempt(f, ip, username, device);
    if (a.calls != 1 || !a.r.allowed)
        return 1;
    return login_from(f, ip, device, username, password);
}

TEST(auth_guard_login_attempts_per_address)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.login = (auth_rate_t){3, 3600};
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    /* every attempt counts against the address, whatever the username */
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, "192.0.2.1", "alice", 0)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, "192.0.2.1", "bob", 0)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, "192.0.2.1", NULL, 0)));
    struct answer a = check(&f, AUTH_GUARD_LOGIN, "192.0.2.1", "carol", 0);
    CHECK_TRUE(refused(a, 3600));
    CHECK_TRUE(a.r.local);
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_LOGIN, "192.0.2.1", "", 0), 3600));
    /* another address has its own budget; the other kinds are not limited */
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, "192.0.2.2", "alice", 0)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_ANON, "192.0.2.1", NULL, 0)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_USER, "192.0.2.1", NULL, f.uid)));
    fx_close(&f);
}

/* A fresh client address per call ("198.51.100.<n>"), in ip. */
static const char *next_ip(char ip[32], int *n)
{
    snprintf(ip, 32, "198.51.100.%d", ++*n);
    return ip;
}

TEST(auth_guard_account_budget_only_spent_by_failed_logins)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.login = (auth_rate_t){100, 3600};
    g.login_account = (auth_rate_t){3, 3600};
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    char ip[32];
    int n = 0; /* a fresh address per attempt: only the account's budget is in play */
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(sign_in(&f, next_ip(ip, &n), NULL, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    /* two failures of three: the right password from another address is let through, and
       successful logins, however many, give back what their check reserved */
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(sign_in(&f, next_ip(ip, &n), NULL, "alice", "correct horse"), 0);
    /* an attempt that never reached the login (a full pool) gives its slot back */
    CHECK_TRUE(allowed(attempt(&f, next_ip(ip, &n), "alice", NULL)));
    auth_guard_login_cancel(f.auth, ip, "alice", NULL);
    /* an attempt in flight holds its slot: with it the budget is spent, and refusals
       reserve nothing */
    CHECK_TRUE(allowed(attempt(&f, next_ip(ip, &n), "alice", NULL)));
    CHECK_TRUE(refused(attempt(&f, next_ip(ip, &n), "alice", NULL), 3600));
    CHECK_EQ_INT(login_from(&f, ip, NULL, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    /* past the limit every untrusted attempt for the account is refused, before any
       password is looked at, from addresses that have spent nothing */
    CHECK_TRUE(refused(attempt(&f, next_ip(ip, &n), "alice", NULL), 3600));
    next_ip(ip, &n);
    for (int i = 0; i < 3; i++)
        CHECK_TRUE(refused(attempt(&f, ip, "alice", NULL), 3600));
    /* such an address may still log in as someone else: the refusals did not spend it */
    CHECK_TRUE(allowed(attempt(&f, ip, "bob", NULL)));
    CHECK_TRUE(allowed(attempt(&f, ip, NULL, NULL)));
    /* failures for a username that does not exist count the same way */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(sign_in(&f, next_ip(ip, &n), NULL, "nobody", "whatever"),
                     ERR_NO_ACTIVE_ACCOUNT);
    CHECK_TRUE(refused(attempt(&f, next_ip(ip, &n), "nobody", NULL), 3600));
    fx_close(&f);
}

TEST(auth_guard_one_address_cannot_spend_the_account_budget)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.login = (auth_rate_t){100, 3600};
    g.login_account = (auth_rate_t){4, 3600};
    g.login_account_ip = (auth_rate_t){2, 3600};
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    /* one address guesses: two failures, then refused for this account */
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(sign_in(&f, "203.0.113.1", NULL, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    for (int i = 0; i < 5; i++)
        CHECK_TRUE(refused(attempt(&f, "203.0.113.1", "alice", NULL), 3600));
    /* ...and the owner, from any other address, still signs in */
    CHECK_EQ_INT(sign_in(&f, "192.0.2.10", NULL, "alice", "correct horse"), 0);
    /* the same address may still try other accounts */
    CHECK_TRUE(allowed(attempt(&f, "203.0.113.1", "bob", NULL)));
    /* a second guessing address spends the rest of the account's budget: from then on
       only untrusted clients are refused, from any address */
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(sign_in(&f, "203.0.113.2", NULL, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_TRUE(refused(attempt(&f, "192.0.2.11", "alice", NULL), 3600));
    CHECK_TRUE(allowed(attempt(&f, "192.0.2.11", "alice", "0123456789abcdef0123456789abcdef")));
    fx_close(&f);
}

TEST(auth_guard_trusted_device_counts_against_itself)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.login = (auth_rate_t){3, 3600};
    g.login_account = (auth_rate_t){2, 3600};
    g.login_device = (auth_rate_t){2, 3600};
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    const char *d1 = "11111111111111111111111111111111", *d2 = "22222222222222222222222222222222";
    /* the account's untrusted budget is spent, and the address's attempts too */
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(sign_in(&f, "203.0.113.1", NULL, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_TRUE(refused(attempt(&f, "192.0.2.1", "alice", NULL), 3600));
    CHECK_TRUE(allowed(attempt(&f, "203.0.113.1", "bob", NULL)));
    CHECK_TRUE(refused(attempt(&f, "203.0.113.1", "bob", NULL), 3600));
    /* a trusted device passes, even from that address, and successes cost its failure
       budget nothing */
    CHECK_EQ_INT(sign_in(&f, "203.0.113.1", d1, "alice", "correct horse"), 0);
    CHECK_EQ_INT(sign_in(&f, "203.0.113.1", d1, "alice", "correct horse"), 0);
    /* its failures lock out that device only */
    CHECK_EQ_INT(sign_in(&f, "192.0.2.1", d2, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_EQ_INT(sign_in(&f, "192.0.2.1", d2, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_TRUE(refused(attempt(&f, "192.0.2.1", "alice", d2), 3600));
    CHECK_TRUE(allowed(attempt(&f, "192.0.2.1", "alice", d1)));
    /* and every attempt of a device counts against its own attempt budget (the login
       rate), as an address's would: d1 has made 3 */
    CHECK_TRUE(refused(attempt(&f, "192.0.2.2", "alice", d1), 3600));
    fx_close(&f);
}

TEST(auth_device_tokens_bound_to_username_key_and_lifetime)
{
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    char tok[AUTH_TOKEN_MAX + 1], id[AUTH_DEVICE_ID_LEN + 1];
    size_t len = 0;
    int64_t now = clock_now_s();
    /* off by default: none issued, none accepted */
    CHECK_TRUE(!auth_device_tokens_enabled(f.auth));
    CHECK_EQ_INT(auth_device_token_issue(f.auth, "alice", now, tok, sizeof tok, &len), ERR_INVALID);
    auth_free(f.auth);
    f.auth = NULL;

    o.device_token_lifetime_s = 3600;
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_TRUE(auth_device_tokens_enabled(f.auth));
    ASSERT_EQ_INT(auth_device_token_issue(f.auth, "alice", now, tok, sizeof tok, &len), 0);
    CHECK_EQ_INT(len, strlen(tok));
    str_t t = str_make(tok, len);
    CHECK_TRUE(auth_device_token_check(f.auth, t, "alice", now, id));
    CHECK_EQ_INT(strlen(id), AUTH_DEVICE_ID_LEN);
    /* each token is a device of its own */
    char tok2[AUTH_TOKEN_MAX + 1], id2[AUTH_DEVICE_ID_LEN + 1];
    size_t len2 = 0;
    ASSERT_EQ_INT(auth_device_token_issue(f.auth, "alice", now, tok2, sizeof tok2, &len2), 0);
    CHECK_TRUE(auth_device_token_check(f.auth, str_make(tok2, len2), "alice", now, id2));
    CHECK_TRUE(strcmp(id, id2) != 0);
    /* for exactly that username, until it expires */
    CHECK_TRUE(!auth_device_token_check(f.auth, t, "Alice", now, id));
    CHECK_EQ_INT(id[0], '\0');
    CHECK_TRUE(!auth_device_token_check(f.auth, t, "alic", now, id));
    CHECK_TRUE(!auth_device_token_check(f.auth, t, "", now, id));
    CHECK_TRUE(auth_device_token_check(f.auth, t, "alice", now + 3599, id));
    CHECK_TRUE(!auth_device_token_check(f.auth, t, "alice", now + 3600, id));
    /* a changed signature or payload byte, or no token, is no device */
    tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
    CHECK_TRUE(!auth_device_token_check(f.auth, t, "alice", now, id));
    CHECK_TRUE(!auth_device_token_check(f.auth, STR_LIT("x.y.z"), "alice", now, id));
    CHECK_TRUE(!auth_device_token_check(f.auth, STR_NULL, "alice", now, id));
    /* nor is a token of jwtd's other kinds, signed by the same key */
    auth_pair_t p = {0};
    auth_client_t c = {0};
    ASSERT_EQ_INT(auth_login(f.auth, "alice", "correct horse", 13, &c, now, &p), 0);
    CHECK_TRUE(
        !auth_device_token_check(f.auth, str_make(p.access, p.access_len), "alice", now, id));
    CHECK_TRUE(
        !auth_device_token_check(f.auth, str_make(p.refresh, p.refresh_len), "alice", now, id));
    /* and a device token is no access token */
    auth_token_ref_t ref;
    str_t t2 = str_make(tok2, len2);
    CHECK_TRUE(auth_verify_token(f.auth, t2, AUTH_TOKEN_ACCESS, now, &ref) != AUTH_OK);
    CHECK_TRUE(auth_verify_token(f.auth, t2, AUTH_TOKEN_REFRESH, now, &ref) != AUTH_OK);
    CHECK_TRUE(auth_verify_token(f.auth, t2, AUTH_TOKEN_ANY, now, &ref) != AUTH_OK);
    auth_pair_dispose(&p);
    fx_close(&f);
}

TEST(auth_guard_user_and_anon_budgets)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.user = (auth_rate_t){2, 3600};
    g.anon = (auth_rate_t){3, 3600};
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    /* per user, from any address */
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_USER, "192.0.2.1", NULL, 7)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_USER, "192.0.2.2", NULL, 7)));
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_USER, "192.0.2.3", NULL, 7), 3600));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_USER, "192.0.2.3", NULL, 8)));
    /* per address for requests without a valid token; the user requests above did not
       spend it */
    for (int i = 0; i < 3; i++)
        CHECK_TRUE(allowed(check(&f, AUTH_GUARD_ANON, "192.0.2.1", NULL, 0)));
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_ANON, "192.0.2.1", NULL, 0), 3600));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_ANON, "2001:db8::1", NULL, 0)));
    /* and a user over budget is not an address over budget */
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_ANON, "192.0.2.3", NULL, 0)));
    /* logins are not limited here */
    for (int i = 0; i < 5; i++)
        CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, "192.0.2.1", "alice", 0)));
    fx_close(&f);
}

TEST(auth_guard_invalid_tokens_then_blocked)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.invalid_token = (auth_rate_t){2, 3600};
    g.invalid_block_s = 600;
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    metrics_snapshot_t before, after;
    metrics_snapshot(&before);
    auth_guard_invalid_token(f.auth, "203.0.113.7");
    auth_guard_invalid_token(f.auth, "203.0.113.7");
    /* within the budget: nothing refused */
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_ANON, "203.0.113.7", NULL, 0)));
    metrics_snapshot(&after);
    CHECK_EQ_INT(after.counter[METRICS_RATE_INVALID], before.counter[METRICS_RATE_INVALID]);
    /* past it: the address is blocked for invalid_block_s, whatever it asks */
    auth_guard_invalid_token(f.auth, "203.0.113.7");
    metrics_snapshot(&after);
    CHECK_EQ_INT(after.counter[METRICS_RATE_INVALID], before.counter[METRICS_RATE_INVALID] + 1);
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_ANON, "203.0.113.7", NULL, 0), 600));
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_LOGIN, "203.0.113.7", "alice", 0), 600));
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_USER, "203.0.113.7", NULL, f.uid), 600));
    /* other addresses are not */
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_ANON, "203.0.113.8", NULL, 0)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_USER, "203.0.113.8", NULL, f.uid)));
    fx_close(&f);
}

TEST(auth_guard_invalid_tokens_without_block_are_only_logged)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.invalid_token = (auth_rate_t){2, 3600};
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    metrics_snapshot_t before, after;
    metrics_snapshot(&before);
    for (int i = 0; i < 5; i++)
        auth_guard_invalid_token(f.auth, "203.0.113.9");
    metrics_snapshot(&after);
    CHECK_EQ_INT(after.counter[METRICS_RATE_INVALID], before.counter[METRICS_RATE_INVALID] + 3);
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_ANON, "203.0.113.9", NULL, 0)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, "203.0.113.9", "alice", 0)));
    fx_close(&f);
}

TEST(auth_guard_use_once_allows_the_first_use_only)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0); /* no rate limit configured: one-time tokens still */
    int64_t exp = clock_now_s() + 900;
    const char *jti = "0123456789abcdef0123456789abcdef";
    struct answer a = {0};
    auth_guard_use_once(f.auth, jti, exp, on_answer, &a);
    CHECK_TRUE(allowed(a));
    for (int i = 0; i < 2; i++) {
        memset(&a, 0, sizeof a);
        auth_guard_use_once(f.auth, jti, exp, on_answer, &a);
        CHECK_TRUE(refused(a, 86401));
    }
    memset(&a, 0, sizeof a);
    auth_guard_use_once(f.auth, "fedcba9876543210fedcba9876543210", exp, on_answer, &a);
    CHECK_TRUE(allowed(a));
    /* without an expiry (exp 0): the same */
    memset(&a, 0, sizeof a);
    auth_guard_use_once(f.auth, "00000000000000000000000000000001", 0, on_answer, &a);
    CHECK_TRUE(allowed(a));
    memset(&a, 0, sizeof a);
    auth_guard_use_once(f.auth, "00000000000000000000000000000001", 0, on_answer, &a);
    CHECK_TRUE(refused(a, 86401));
    fx_close(&f);
}

static struct answer family(struct fx *f, const char *sid, const char *net)
{
    struct answer a = {0};
    auth_guard_family_network(f->auth, sid, net, 600, on_answer, &a);
    return a;
}

TEST(auth_guard_family_network_within_window)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    const char *sid = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    struct answer a = family(&f, sid, "192.0.2.0/24");
    CHECK_TRUE(allowed(a)); /* the first network is recorded */
    CHECK_TRUE(a.r.local);
    a = family(&f, sid, "198.51.100.0/24");
    CHECK_EQ_INT(a.calls, 1);
    CHECK_TRUE(!a.r.allowed); /* another one within the window */
    /* the refusal recorded nothing: the first network is still the family's */
    CHECK_TRUE(allowed(family(&f, sid, "192.0.2.0/24")));
    CHECK_TRUE(allowed(family(&f, sid, "192.0.2.0/24")));
    CHECK_TRUE(!family(&f, sid, "198.51.100.0/24").r.allowed);
    /* each family has its own record */
    CHECK_TRUE(allowed(family(&f, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "198.51.100.0/24")));
    fx_close(&f);
}

TEST(auth_guard_limited_by_options)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0); /* no limit: nothing would be counted */
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_LOGIN));
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_ANON));
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_USER));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, "192.0.2.1", "alice", 0)));
    auth_free(f.auth);
    f.auth = NULL;

    auth_options_t o;
    fx_options(&o);
    o.guard.login = (auth_rate_t){5, 60};
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_TRUE(auth_guard_limited(f.auth, AUTH_GUARD_LOGIN));
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_ANON));
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_USER));
    auth_free(f.auth);
    f.auth = NULL;

    /* a count without a period (or a period without a count) limits nothing */
    fx_options(&o);
    o.guard.login = (auth_rate_t){5, 0};
    o.guard.anon = (auth_rate_t){0, 60};
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_LOGIN));
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_ANON));
    auth_free(f.auth);
    f.auth = NULL;

    /* a user or invalid-token budget: a request that is not a login may be counted (its
       token is known only later), a login is not */
    fx_options(&o);
    o.guard.user = (auth_rate_t){5, 60};
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_TRUE(auth_guard_limited(f.auth, AUTH_GUARD_ANON));
    CHECK_TRUE(auth_guard_limited(f.auth, AUTH_GUARD_USER));
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_LOGIN));
    auth_free(f.auth);
    f.auth = NULL;
    fx_options(&o);
    o.guard.invalid_token = (auth_rate_t){5, 60};
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_TRUE(auth_guard_limited(f.auth, AUTH_GUARD_ANON));
    CHECK_TRUE(!auth_guard_limited(f.auth, AUTH_GUARD_LOGIN));
    auth_free(f.auth);
    f.auth = NULL;

    /* a block applies to every request of a blocked address */
    fx_options(&o);
    o.guard.invalid_block_s = 60;
    ASSERT_EQ_INT(fx_auth(&f, &o), 0);
    CHECK_TRUE(auth_guard_limited(f.auth, AUTH_GUARD_LOGIN));
    CHECK_TRUE(auth_guard_limited(f.auth, AUTH_GUARD_ANON));
    CHECK_TRUE(auth_guard_limited(f.auth, AUTH_GUARD_USER));
    fx_close(&f);
}

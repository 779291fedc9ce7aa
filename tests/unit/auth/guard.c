/*
 * Unit tests for src/auth/guard.c on the embedded store (no Redis: every guard answers
 * before its call returns): the login budget per client address and the username's budget
 * consumed by failed logins only, the user and anonymous budgets, the invalid-token budget
 * and its block, one-time tokens, refresh-family networks, and which kinds are limited.
 * Budgets are per hour so that the wall clock never matters. Against the fixture of fx.h.
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

static int login_as(struct fx *f, const char *username, const char *password)
{
    auth_pair_t p = {0};
    auth_client_t c = {NULL, NULL, NULL};
    int rc = auth_login(f->auth, username, password, strlen(password), &c, clock_now_s(), &p);
    auth_pair_dispose(&p);
    return rc;
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

TEST(auth_guard_username_budget_only_spent_by_failed_logins)
{
    struct fx f;
    auth_guard_options_t g = {0};
    g.login = (auth_rate_t){3, 3600};
    ASSERT_EQ_INT(open_guarded(&f, &g), 0);
    char ip[32];
    int n = 0; /* a fresh address per attempt: only the username's budget is in play */
    for (int i = 0; i < 2; i++) {
        CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, next_ip(ip, &n), "alice", 0)));
        CHECK_EQ_INT(login_as(&f, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    }
    /* two failures of three: the right password from another address is let through, and
       successful logins, however many, spend nothing */
    for (int i = 0; i < 5; i++) {
        CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, next_ip(ip, &n), "alice", 0)));
        CHECK_EQ_INT(login_as(&f, "alice", "correct horse"), 0);
    }
    /* the checks themselves did not spend the username's budget either: one more failure
       reaches it */
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, next_ip(ip, &n), "alice", 0)));
    CHECK_EQ_INT(login_as(&f, "alice", "wrong"), ERR_NO_ACTIVE_ACCOUNT);
    /* past the limit every attempt for the username is refused, before any password is
       looked at, from addresses that have spent nothing */
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_LOGIN, next_ip(ip, &n), "alice", 0), 3600));
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_LOGIN, next_ip(ip, &n), "alice", 0), 3600));
    /* such an address may still log in as someone else: the refusals did not spend it */
    next_ip(ip, &n);
    for (int i = 0; i < 3; i++)
        CHECK_TRUE(refused(check(&f, AUTH_GUARD_LOGIN, ip, "alice", 0), 3600));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, ip, "bob", 0)));
    CHECK_TRUE(allowed(check(&f, AUTH_GUARD_LOGIN, ip, NULL, 0)));
    /* failures for a username that does not exist count the same way */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(login_as(&f, "nobody", "whatever"), ERR_NO_ACTIVE_ACCOUNT);
    CHECK_TRUE(refused(check(&f, AUTH_GUARD_LOGIN, next_ip(ip, &n), "nobody", 0), 3600));
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

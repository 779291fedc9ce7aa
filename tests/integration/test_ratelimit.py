"""Rate limits (docs/api.md §11) on one instance (embedded store): login per client IP and
per username (failures of clients without the account's device token; one address alone
never locks the account: docs/security.md, tests/security/test_bruteforce.py), anonymous
per IP, authenticated per user, 429 `throttled` with Retry-After and DRF's message, X-Forwarded-For only from trusted
proxies, suspicious invalid tokens logged and optionally blocked. The same buckets shared
through Redis are tested in test_redis_shared.py."""

import re
import time

from peers import TEST_PASSWORD, tokens  # noqa: F401 (fixture)

THROTTLED = re.compile(r"^Request was throttled\. Expected available in (\d+) seconds?\.$")


def login(j, user="testuser", password=TEST_PASSWORD, xff=None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return j.post("/api/token/", {"username": user, "password": password}, headers=headers)


def assert_throttled(r, max_wait):
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["code"] == "throttled"
    m = THROTTLED.match(body["detail"])
    assert m, body["detail"]
    n = int(r.headers["Retry-After"])
    assert n == int(m.group(1)) and 1 <= n <= max_wait, (n, body)


def test_login_limit_per_ip(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="5/minute")
    codes = [login(j, password="wrong" if i % 2 else TEST_PASSWORD).status_code
             for i in range(5)]
    assert codes == [200, 401, 200, 401, 200]
    r = login(j)
    assert_throttled(r, 60)
    # other routes are not login attempts
    assert j.get("/healthz").status_code == 200
    assert j.verify("x").status_code == 401


def test_login_limit_form_and_cookie_routes_share_the_ip_bucket(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="2/minute")
    assert login(j).status_code == 200
    r = j.post("/api/auth/login/", data={"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    j.http.cookies.clear()  # no refresh cookie: no CSRF check on the next one
    assert_throttled(j.post("/api/auth/login/", {"username": "testuser", "password": "x"}), 60)


def test_username_limit_counts_failures_from_every_ip(tokens):
    j = tokens(users=("testuser", "alice"), JWTD_RATE_LIMIT_LOGIN="5/minute",
               JWTD_RATE_LIMIT_LOGIN_ACCOUNT="5/hour", JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    device = login(j, xff="192.0.2.1").headers["X-Device-Token"]
    for i in range(5):
        assert login(j, password="wrong", xff="203.0.113.%d" % i).status_code == 401
    # the account is now throttled for clients without its device token, from a fresh
    # address too, even with the right password (docs/security.md)
    assert_throttled(login(j, xff="198.51.100.7"), 3600)
    # ...but only that account: alice logs in from the same fresh address
    assert login(j, user="alice", xff="198.51.100.7").status_code == 200
    # ...and the owner's device is not locked out (tests/security/test_bruteforce.py)
    r = j.post("/api/token/", {"username": "testuser", "password": TEST_PASSWORD,
                               "device_token": device},
               headers={"X-Forwarded-For": "198.51.100.7"})
    assert r.status_code == 200, r.text


def test_one_address_cannot_lock_the_account(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="10/minute", JWTD_RATE_LIMIT_LOGIN_ACCOUNT="5/hour",
               JWTD_RATE_LIMIT_LOGIN_ACCOUNT_IP="2/hour", JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    codes = [login(j, password="wrong", xff="203.0.113.1").status_code for _ in range(6)]
    assert codes == [401, 401, 429, 429, 429, 429], codes
    assert_throttled(login(j, password="wrong", xff="203.0.113.1"), 3600)
    # the owner, from any other address, without a device token
    assert login(j, xff="198.51.100.7").status_code == 200


def test_successful_logins_do_not_use_the_username_budget(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="3/minute", JWTD_RATE_LIMIT_LOGIN_ACCOUNT="3/hour",
               JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    for i in range(8):
        r = login(j, xff="192.0.2.%d" % i)
        assert r.status_code == 200, (i, r.text)


def test_forwarded_for_ignored_from_untrusted_peer(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="2/minute")
    assert login(j, xff="192.0.2.1").status_code == 200
    assert login(j, xff="192.0.2.2").status_code == 200
    assert_throttled(login(j, xff="192.0.2.3"), 60)


def test_forwarded_for_rightmost_untrusted_address(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="1/minute",
               JWTD_TRUSTED_PROXIES="127.0.0.1/32, 10.0.0.0/8")
    # the client prepends whatever it likes; our proxy (10.0.0.5) appended the real address
    assert login(j, xff="6.6.6.6, 192.0.2.50, 10.0.0.5").status_code == 200
    assert_throttled(login(j, xff="7.7.7.7, 192.0.2.50, 10.0.0.5"), 60)
    assert login(j, xff="192.0.2.51, 10.0.0.5").status_code == 200


def test_anonymous_limit_per_ip(tokens):
    j = tokens(JWTD_RATE_LIMIT_ANON="3/hour")
    assert [j.verify("x").status_code for _ in range(3)] == [401] * 3
    assert_throttled(j.verify("x"), 3600)
    # exempt: health, readiness, keys
    for path in ("/healthz", "/readyz", "/.well-known/jwks.json"):
        assert j.get(path).status_code == 200, path


def test_authenticated_limit_per_user(tokens):
    j = tokens(users=("testuser", "alice"), JWTD_RATE_LIMIT_USER="3/hour")
    t = j.login()
    a = j.login("alice")
    assert [j.me(t["access"]).status_code for _ in range(3)] == [200] * 3
    assert_throttled(j.me(t["access"]), 3600)
    assert j.me(a["access"]).status_code == 200  # another user: another bucket


def test_invalid_tokens_logged_as_suspicious_and_blocked(tokens):
    j = tokens(JWTD_INVALID_TOKEN_LIMIT="5/hour", JWTD_INVALID_TOKEN_BLOCK="60s")
    t = j.login()
    for _ in range(5):
        assert j.me("not.a.token").status_code == 401
    assert "suspicious" not in j.srv.stderr()
    # the 6th: over the limit (answered 401, or already 429 when the block landed first)
    assert j.me("not.a.token").status_code in (401, 429)
    time.sleep(0.1)
    assert re.search(r'event=suspicious_invalid_tokens .*ip="127\.0\.0\.1"', j.srv.stderr())
    # blocked now, even with a valid token
    assert_throttled(j.me(t["access"]), 60)


def test_invalid_tokens_only_logged_by_default(tokens):
    j = tokens()
    t = j.login()
    for _ in range(7):
        assert j.me("not.a.token").status_code == 401
    time.sleep(0.1)
    assert "event=suspicious_invalid_tokens" in j.srv.stderr()
    assert j.me(t["access"]).status_code == 200


def test_zero_disables(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="0", JWTD_RATE_LIMIT_ANON="0", JWTD_RATE_LIMIT_USER="0")
    for _ in range(12):
        assert login(j).status_code == 200

"""GET /auth/introspect (docs/api.md §9), nginx's auth_request target: 204 + X-User-Id,
X-Username, X-User-Role for a valid access token; 401 for anything else (no token, bad
scheme, refresh token, tampered, expired, revoked - at once after logout); never a body
that leaks details; and the 401 carries WWW-Authenticate."""

import time

from peers import SHARED_SECRET, resign, tamper_payload, wait_until_expired
from svc_helpers import check_error, svc, svc_factory  # noqa: F401 (fixtures)


def intro(svc, token=None, auth=None):
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    if auth:
        h["Authorization"] = auth
    return svc.http.get(svc.url + "/auth/introspect", headers=h, timeout=10)


def test_valid_token_204_with_user_headers(svc):
    for role in ("user", "instructor", "admin"):
        t = svc.auth_login("u_" + role)
        r = intro(svc, t["access_token"])
        assert r.status_code == 204 and r.content == b""
        assert r.headers["X-User-Id"] == str(t["user"]["id"])
        assert r.headers["X-Username"] == "u_" + role
        assert r.headers["X-User-Role"] == role


def test_invalid_tokens_401(svc):
    t = svc.auth_login("u_user")
    now = int(time.time())
    check_error(intro(svc), 401, "not_authenticated")
    check_error(intro(svc, auth="Basic dXNlcjpwYXNz"), 401, "not_authenticated")
    check_error(intro(svc, auth="Bearer a b"), 401, "bad_authorization_header")
    for bad in ("garbage", t["refresh_token"], tamper_payload(t["access_token"], role="admin"),
                resign(t["access_token"], SHARED_SECRET, exp=now - 60, iat=now - 1000),
                resign(t["access_token"], "another-secret-of-at-least-32-bytes!!")):
        r = intro(svc, bad)
        check_error(r, 401, "token_not_valid")
        assert "X-User-Id" not in r.headers


def test_revoked_rejected_immediately(svc):
    t = svc.auth_login("u_user")
    assert intro(svc, t["access_token"]).status_code == 204
    assert svc.req("POST", "/auth/logout", t["access_token"]).status_code == 204
    check_error(intro(svc, t["access_token"]), 401, "token_not_valid")


def test_repeated_token_still_checked_for_revocation_and_expiry(svc):
    """Each loop thread caches accepted tokens (the per-request cost): a token seen many
    times on one keep-alive connection must still be refused at once when its session or
    its user is revoked, and as soon as it expires."""
    a, b = svc.auth_login("u_user"), svc.auth_login("u_admin")
    for _ in range(5):
        r = intro(svc, a["access_token"])
        assert r.status_code == 204 and r.headers["X-Username"] == "u_user"
        r = intro(svc, b["access_token"])
        assert r.status_code == 204 and r.headers["X-User-Role"] == "admin"
    assert svc.http.get(svc.url + "/auth/introspect?role=admin", timeout=10, headers={
        "Authorization": "Bearer " + a["access_token"]}).status_code == 403
    assert svc.req("POST", "/auth/logout-all", b["access_token"]).status_code == 204
    assert svc.req("POST", "/auth/logout", a["access_token"]).status_code == 204
    for _ in range(3):
        check_error(intro(svc, a["access_token"]), 401, "token_not_valid")
        check_error(intro(svc, b["access_token"]), 401, "token_not_valid")
    c = svc.auth_login("u_user")
    # exp in whole seconds: 5 s leave a slow machine time for the three checks before it
    short = resign(c["access_token"], SHARED_SECRET, exp=int(time.time()) + 5)
    for _ in range(3):
        assert intro(svc, short).status_code == 204
    wait_until_expired(short)
    check_error(intro(svc, short), 401, "token_not_valid")


def test_control_characters_in_claims_never_reach_headers(svc):
    t = svc.auth_login("u_user")
    evil = resign(t["access_token"], SHARED_SECRET, username="x\r\nX-User-Role: admin")
    r = intro(svc, evil)
    assert r.status_code == 401
    assert "X-User-Role" not in r.headers


def test_only_get(svc):
    r = svc.http.post(svc.url + "/auth/introspect", timeout=10)
    assert r.status_code == 405


def test_revocation_feed_for_edge_verifiers(svc):
    admin = svc.auth_login("u_admin")["access_token"]
    user = svc.auth_login("u_user")
    since = int(time.time()) - 1
    assert svc.req("POST", "/auth/logout", user["access_token"]).status_code == 204
    r = svc.req("GET", "/auth/revocations?since=%d" % since, admin)
    assert r.status_code == 200, r.text
    feed = r.json()
    assert set(feed) == {"now", "since", "jtis", "sids", "users"} and feed["since"] == since
    from peers import claims
    c = claims(user["access_token"])
    assert c["sid"] in [s["sid"] for s in feed["sids"]]
    assert c["jti"] in [j["jti"] for j in feed["jtis"]]
    # default window, bad since, and only admins
    assert svc.req("GET", "/auth/revocations", admin).status_code == 200
    check_error(svc.req("GET", "/auth/revocations?since=abc", admin), 400, "invalid_request")
    check_error(svc.req("GET", "/auth/revocations", svc.auth_login("u_user")["access_token"]),
                403, "permission_denied")
    check_error(svc.req("GET", "/auth/revocations"), 401, "not_authenticated")


def test_introspect_is_not_rate_limited(svc_factory):
    """nginx sends one subrequest per proxied request, all from its own address: the
    per-IP and per-user limits must not turn a busy upstream into 429s."""
    s = svc_factory(JWTD_RATE_LIMIT_ANON="3/hour", JWTD_RATE_LIMIT_USER="3/hour")
    t = s.auth_login("u_user")["access_token"]
    for _ in range(20):
        assert intro(s, t).status_code == 204
    for _ in range(4):  # a limited route still is
        r = s.req("GET", "/auth/me", t)
    assert r.status_code == 429

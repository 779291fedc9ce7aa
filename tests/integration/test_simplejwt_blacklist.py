"""POST /api/token/blacklist/ (docs/api.md §4 and §10; golden cases 27-31): logout of a
session. Unlike Django (golden 31: the access token keeps working until it expires), the
session's access tokens are rejected at once, on /api/users/me/ and /api/token/verify/."""

import time

from peers import (INVALID, NOT_VALID_ANY, SHARED_SECRET, check_error, claims, resign,
                   shared_jwtd)  # noqa: F401 (fixtures)

BLACKLISTED = {"detail": "Token is blacklisted", "code": "token_not_valid"}


def me_blacklisted(r):
    assert r.status_code == 401, "revoked access token accepted: %d %s" % (r.status_code,
                                                                           r.text)
    b = r.json()
    assert b["code"] == "token_not_valid" and b["detail"] == NOT_VALID_ANY, b
    assert b["messages"] == [{"token_class": "AccessToken", "token_type": "access",
                              "message": "Token is blacklisted"}], b
    www = r.headers.get("WWW-Authenticate", "")
    assert www.startswith('Bearer realm="api"') and 'error="invalid_token"' in www, www


def test_27_blacklist_success(shared_jwtd):
    pair = shared_jwtd.login()
    r = shared_jwtd.blacklist(pair["refresh"])
    assert r.status_code == 200, r.text
    assert r.json() == {}


def test_28_blacklist_again(shared_jwtd):
    pair = shared_jwtd.login()
    assert shared_jwtd.blacklist(pair["refresh"]).status_code == 200
    check_error(shared_jwtd.blacklist(pair["refresh"]), 28)


def test_29_refresh_after_blacklist(shared_jwtd):
    pair = shared_jwtd.login()
    assert shared_jwtd.blacklist(pair["refresh"]).status_code == 200
    check_error(shared_jwtd.refresh(pair["refresh"]), 29)


def test_29_rotated_successor_dead_after_blacklist(shared_jwtd):
    """Blacklisting the CURRENT refresh token kills the session: the rotated-out parent
    (still inside its reuse grace) must not resurrect it."""
    pair = shared_jwtd.login()
    r1 = shared_jwtd.refresh(pair["refresh"]).json()
    assert shared_jwtd.blacklist(r1["refresh"]).status_code == 200
    again = shared_jwtd.refresh(pair["refresh"])
    assert again.status_code == 401, again.text
    assert again.json()["code"] == "token_not_valid"
    assert shared_jwtd.refresh(r1["refresh"]).status_code == 401


def test_30_blacklist_access_token(shared_jwtd):
    pair = shared_jwtd.login()
    check_error(shared_jwtd.blacklist(pair["access"]), 30)
    assert shared_jwtd.me(pair["access"]).status_code == 200  # nothing was revoked


def test_blacklist_missing_field(shared_jwtd):
    r = shared_jwtd.post("/api/token/blacklist/", {})
    assert r.status_code == 400, r.text
    assert r.json() == {"refresh": ["This field is required."], "code": "invalid_request",
                        "detail": r.json().get("detail")}
    assert r.json()["detail"]


def test_blacklist_garbage_and_expired(shared_jwtd):
    check_error(shared_jwtd.blacklist("not.a.jwt"), 12)
    pair = shared_jwtd.login()
    now = int(time.time())
    expired = resign(pair["refresh"], SHARED_SECRET, iat=now - 8 * 86400, exp=now - 60)
    r = shared_jwtd.blacklist(expired)
    assert r.status_code == 401 and r.json() == {"detail": INVALID, "code": "token_not_valid"}


def test_31_access_token_rejected_at_once_after_blacklist(shared_jwtd):
    """Golden 31 is 200 for Django; jwtd rejects the session's access tokens at once (no
    sleep: the in-memory revocation index is updated by the blacklist request itself)."""
    pair = shared_jwtd.login()
    rotated = shared_jwtd.refresh(pair["refresh"]).json()
    for access in (pair["access"], rotated["access"]):
        assert shared_jwtd.me(access).status_code == 200
    assert shared_jwtd.blacklist(rotated["refresh"]).status_code == 200
    for access in (pair["access"], rotated["access"]):
        me_blacklisted(shared_jwtd.me(access))
        v = shared_jwtd.verify(access)
        assert v.status_code == 401 and v.json() == BLACKLISTED, v.text


def test_blacklist_leaves_other_sessions_alone(shared_jwtd):
    a = shared_jwtd.login()
    b = shared_jwtd.login()
    other = shared_jwtd.login("alice")
    assert claims(a["access"])["sid"] != claims(b["access"])["sid"]
    assert shared_jwtd.blacklist(a["refresh"]).status_code == 200
    assert shared_jwtd.me(a["access"]).status_code == 401
    assert shared_jwtd.me(b["access"]).status_code == 200
    assert shared_jwtd.me(other["access"]).status_code == 200
    assert shared_jwtd.refresh(b["refresh"]).status_code == 200

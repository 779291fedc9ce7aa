"""GET /api/users/me/ (docs/api.md §2 and §4; golden cases 32-41): SimpleJWT's
JWTAuthentication behaviour - Bearer parsing (case-sensitive scheme, exactly two parts),
the 401 bodies with `messages`, expiry reported before type, WWW-Authenticate."""

import time

import pytest

from peers import (SHARED_SECRET, check_error, resign, shared_jwtd, tamper_payload, tokens,
                   wait_until_expired)  # noqa: F401 (fixtures)


def test_32_me_success(shared_jwtd):
    pair = shared_jwtd.login()
    r = shared_jwtd.me(pair["access"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    expected = {"id": 1, "username": "testuser", "email": "test@example.com",
                "first_name": "Test", "last_name": "User"}
    assert {k: body.get(k) for k in expected} == expected, body
    # docs/api.md §4: "the user object" of /api/token/ (role, premium too)
    assert body == pair["user"], (body, pair["user"])


def test_me_other_user(shared_jwtd):
    pair = shared_jwtd.login("alice")
    r = shared_jwtd.me(pair["access"])
    assert r.status_code == 200 and r.json()["username"] == "alice", r.text
    assert r.json()["id"] == pair["user"]["id"] != 1


def test_33_me_no_header(shared_jwtd):
    check_error(shared_jwtd.get("/api/users/me/"), 33)


def test_34_me_bad_token(shared_jwtd):
    check_error(shared_jwtd.me("abc.def.ghi"), 34, token_presented=True)


def test_35_me_expired_refresh_as_access(shared_jwtd):
    """Expiry is reported before the type."""
    pair = shared_jwtd.login()
    now = int(time.time())
    expired = resign(pair["refresh"], SHARED_SECRET, iat=now - 8 * 86400, exp=now - 60)
    check_error(shared_jwtd.me(expired), 35, token_presented=True)


def test_36_me_valid_refresh_as_access(shared_jwtd):
    pair = shared_jwtd.login()
    check_error(shared_jwtd.me(pair["refresh"]), 36, token_presented=True)


def test_37_me_expired(shared_jwtd):
    pair = shared_jwtd.login()
    now = int(time.time())
    expired = resign(pair["access"], SHARED_SECRET, iat=now - 960, exp=now - 60)
    check_error(shared_jwtd.me(expired), 37, token_presented=True)


def test_37_me_expires_for_real(tokens):
    """A real access token stops working once its `exp` has passed. The lifetime leaves a
    slow login (ASan, PostgreSQL, a loaded machine) seconds to spare before the first use:
    `exp` is in whole seconds, so a 1 s lifetime could be over before the token is used."""
    j = tokens(JWTD_ACCESS_TOKEN_LIFETIME="4s")
    pair = j.login()
    assert j.me(pair["access"]).status_code == 200
    wait_until_expired(pair["access"])
    check_error(j.me(pair["access"]), 37, token_presented=True)


def test_38_me_tampered(shared_jwtd):
    pair = shared_jwtd.login()
    bad = tamper_payload(pair["access"], user_id="2", sub="2", role="admin")
    check_error(shared_jwtd.me(bad), 38, token_presented=True)


def test_39_me_three_parts(shared_jwtd):
    check_error(shared_jwtd.get("/api/users/me/", auth="Bearer a b"), 39)


def test_39_me_bearer_without_token(shared_jwtd):
    # SimpleJWT: any part count other than two after the Bearer keyword
    check_error(shared_jwtd.get("/api/users/me/", auth="Bearer"), 39)


def test_40_me_other_scheme(shared_jwtd):
    pair = shared_jwtd.login()
    check_error(shared_jwtd.get("/api/users/me/", auth="Token " + pair["access"]), 40)


def test_41_me_lowercase_bearer(shared_jwtd):
    pair = shared_jwtd.login()
    check_error(shared_jwtd.get("/api/users/me/", auth="bearer " + pair["access"]), 41)


@pytest.mark.parametrize("scheme", ["Basic dXNlcjpwYXNz", "JWT x.y.z"])
def test_me_non_bearer_schemes_anonymous(shared_jwtd, scheme):
    check_error(shared_jwtd.get("/api/users/me/", auth=scheme), 40)


def test_me_unknown_user_id(shared_jwtd):
    """A validly signed access token for a user that does not exist: 401, not 500."""
    pair = shared_jwtd.login()
    ghost = resign(pair["access"], SHARED_SECRET, user_id="99999", sub="99999")
    r = shared_jwtd.me(ghost)
    assert r.status_code == 401, r.text
    assert r.json()["code"] in ("token_not_valid", "user_not_found", "not_authenticated")


def test_me_deactivated_user(tokens):
    """Deactivation revokes the user's tokens (issue 4, item 3) within the poll bound."""
    j = tokens(users=("testuser", "carol"))
    pair = j.login("carol")
    assert j.me(pair["access"]).status_code == 200
    j.cli("user", "disable", "carol")
    deadline = time.monotonic() + 5
    status = 200
    while time.monotonic() < deadline:
        status = j.me(pair["access"]).status_code
        if status == 401:
            break
        time.sleep(0.1)
    assert status == 401, "access token of a disabled user still accepted after 5 s"

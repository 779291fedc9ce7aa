"""One-time-use access tokens for chosen routes (issue 9, jti replay
protection): with JWTD_ONE_TIME_ROUTES a valid access token is accepted once on those
paths; a replay of the same jti is refused (401, logged), other routes are unaffected, a
fresh token works, and a forged token cannot burn someone else's jti."""

import pytest

from attack import parts
from peers import resign, tokens  # noqa: F401 (fixture)


def test_replay_refused_on_listed_routes_only(tokens):
    j = tokens(JWTD_ONE_TIME_ROUTES="/protected")
    a = j.login()["access"]
    r = j.get("/protected", token=a)
    assert r.status_code == 200, r.text
    for _ in range(3):
        r = j.get("/protected", token=a)
        assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
        assert "already been used" in r.json()["detail"]
    # the same token is still fine on ordinary routes
    assert j.me(a).status_code == 200
    assert j.me(a).status_code == 200
    # a new access token (refresh) may be used once more
    b = j.login()["access"]
    assert j.get("/protected", token=b).status_code == 200
    assert j.get("/protected", token=b).status_code == 401


def test_forged_token_does_not_burn_a_jti(tokens):
    j = tokens(JWTD_ONE_TIME_ROUTES="/protected")
    a = j.login()["access"]
    forged = resign(a, "attacker-secret-attacker-secret-0123456789")  # same jti, wrong key
    assert j.get("/protected", token=forged).status_code == 401
    assert j.get("/protected", token=forged).status_code == 401
    assert j.get("/protected", token=a).status_code == 200  # the owner's first use


def test_off_by_default(tokens):
    j = tokens()
    a = j.login()["access"]
    for _ in range(3):
        assert j.get("/protected", token=a).status_code == 200

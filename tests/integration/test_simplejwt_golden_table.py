"""The golden table (peers.GOLDEN), replayed live against Django and jwtd.

Every numbered case of the SimpleJWT wire format (obtain, refresh, verify, blacklist,
/api/users/me/) is sent, in the same order, to the test Django site (tests/peers/django_site:
Django 3.2 + SimpleJWT 5.2.2, rotation and blacklist-after-rotation on) and to jwtd, both
signing HS256 with the same secret and both holding testuser as id 1. Then:
  * Django's status, body and WWW-Authenticate presence must equal peers.GOLDEN: the
    table the other SimpleJWT tests hold jwtd to is what SimpleJWT really answers;
  * jwtd must answer every case like Django (peers.check_error: same status and texts plus
    `code`), except the deliberate differences listed in docs/api.md, which are asserted
    here as jwtd's own behaviour.
A missing Debian package fails the module with its name (peers.require_packages)."""

import time

import pytest
import requests

import peers
from peers import (GOLDEN, SHARED_SECRET, TEST_PASSWORD, alg_none, check_error, claims,
                   flip_data_bit, flip_padding_bits, resign, tamper_payload)

# Cases where jwtd answers differently on purpose (docs/api.md, "Differences from SimpleJWT").
DELIBERATE = {11, 19, 22, 31}
BEARER_CASES = {34, 35, 36, 37, 38}  # a Bearer token was presented and refused


class Client:
    def __init__(self, url):
        self.url = url
        self.http = requests.Session()

    def post(self, path, body):
        return self.http.post(self.url + path, json=body, timeout=60)

    def get(self, path, auth=None):
        headers = {"Authorization": auth} if auth is not None else {}
        return self.http.get(self.url + path, headers=headers, timeout=60)


def replay(c):
    """Sends every golden case to the server behind c; returns {case: response}."""
    r = {}
    past = int(time.time()) - 60
    r[2] = c.post("/api/token/", {"username": "testuser", "password": "wrongpass123"})
    r[3] = c.post("/api/token/", {"username": "nosuchuser", "password": TEST_PASSWORD})
    r[4] = c.post("/api/token/", {"username": "testuser"})
    r[5] = c.post("/api/token/", {})
    r[8] = c.get("/api/token/")
    first = c.post("/api/token/", {"username": "testuser", "password": TEST_PASSWORD})
    assert first.status_code == 200, first.text
    first = first.json()
    rotated = c.post("/api/token/refresh/", {"refresh": first["refresh"]})
    assert rotated.status_code == 200, rotated.text
    r["rotated"] = rotated
    second = rotated.json()
    r[11] = c.post("/api/token/refresh/", {"refresh": first["refresh"]})
    r[12] = c.post("/api/token/refresh/", {"refresh": "not.a.jwt"})
    r[13] = c.post("/api/token/refresh/", {"refresh": first["access"]})
    r[14] = c.post("/api/token/refresh/", {})
    r[15] = c.post("/api/token/refresh/",
                   {"refresh": resign(second["refresh"], SHARED_SECRET, exp=past)})
    access = first["access"]
    r[17] = c.post("/api/token/verify/", {"token": access})
    r[18] = c.post("/api/token/verify/", {"token": second["refresh"]})
    r[19] = c.post("/api/token/verify/", {"token": first["refresh"]})
    r[20] = c.post("/api/token/verify/",
                   {"token": tamper_payload(access, role="admin", user_id=2)})
    r[21] = c.post("/api/token/verify/", {"token": flip_data_bit(access)})
    r[22] = c.post("/api/token/verify/", {"token": flip_padding_bits(access)})
    r[23] = c.post("/api/token/verify/", {"token": resign(access, SHARED_SECRET, exp=past)})
    r[24] = c.post("/api/token/verify/", {"token": alg_none(access)})
    r[25] = c.post("/api/token/verify/", {"token": "garbage"})
    r[26] = c.post("/api/token/verify/", {})
    r[27] = c.post("/api/token/blacklist/", {"refresh": second["refresh"]})
    r[28] = c.post("/api/token/blacklist/", {"refresh": second["refresh"]})
    r[29] = c.post("/api/token/refresh/", {"refresh": second["refresh"]})
    r[30] = c.post("/api/token/blacklist/", {"refresh": access})
    r[31] = c.get("/api/users/me/", "Bearer " + second["access"])
    fresh = c.post("/api/token/", {"username": "testuser", "password": TEST_PASSWORD}).json()
    r[32] = c.get("/api/users/me/", "Bearer " + fresh["access"])
    r[33] = c.get("/api/users/me/")
    r[34] = c.get("/api/users/me/", "Bearer garbage")
    r[35] = c.get("/api/users/me/",
                  "Bearer " + resign(fresh["refresh"], SHARED_SECRET, exp=past))
    r[36] = c.get("/api/users/me/", "Bearer " + fresh["refresh"])
    r[37] = c.get("/api/users/me/", "Bearer " + resign(fresh["access"], SHARED_SECRET,
                                                       exp=past))
    r[38] = c.get("/api/users/me/", "Bearer " + tamper_payload(fresh["access"], user_id=2))
    r[39] = c.get("/api/users/me/", "Bearer a b")
    r[40] = c.get("/api/users/me/", "Token " + fresh["access"])
    r[41] = c.get("/api/users/me/", "bearer " + fresh["access"])
    return r


@pytest.fixture(scope="module")
def django_answers():
    peer = peers.DjangoPeer(secret=SHARED_SECRET, alg="HS256").start()
    try:
        yield replay(Client(peer.url))
    finally:
        peer.stop()


@pytest.fixture(scope="module")
def jwtd_answers():
    servers = peers.TokenServers()
    try:
        yield replay(Client(servers().url))
    finally:
        servers.close()


def seen(resp):
    www = "WWW-Authenticate" in resp.headers
    return resp.status_code, resp.json(), www


def test_every_case_is_replayed(django_answers):
    assert set(GOLDEN) <= set(django_answers)


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_django_answers_the_golden_table(django_answers, case):
    assert seen(django_answers[case]) == GOLDEN[case], (
        "Django's answer to case %02d differs from peers.GOLDEN" % case)


@pytest.mark.parametrize("case", sorted(set(GOLDEN) - DELIBERATE))
def test_jwtd_answers_like_django(jwtd_answers, case):
    status, body, _ = GOLDEN[case]
    resp = jwtd_answers[case]
    if status == 200:
        assert resp.status_code == 200, (case, resp.text)
        got = resp.json()
        if case == 32:  # jwtd's user object adds role and premium (docs/api.md, Users)
            assert (got.pop("role"), got.pop("premium")) == ("user", False), resp.text
        assert got == body, (case, resp.text)
    else:
        check_error(resp, case, token_presented=case in BEARER_CASES)


def test_jwtd_deliberate_differences(jwtd_answers):
    r = jwtd_answers
    # 11: an immediate reuse of the rotated refresh token is inside the reuse grace: the
    # same successor again, not "Token is blacklisted"
    assert r[11].status_code == 200, r[11].text
    assert claims(r[11].json()["refresh"])["jti"] == claims(r["rotated"].json()["refresh"])["jti"]
    # 19: verify of a rotated-out (blacklisted) refresh token: 401, not a 400 field error
    # 22: a signature whose base64url padding bits changed is not the signature jwtd issued
    for case in (19, 22):
        assert r[case].status_code == 401, (case, r[case].text)
        assert r[case].json()["code"] == "token_not_valid"
    # 31: an access token of a blacklisted session stops working at once
    assert r[31].status_code == 401, r[31].text
    assert r[31].json()["code"] == "token_not_valid"
    assert 'error="invalid_token"' in r[31].headers["WWW-Authenticate"]

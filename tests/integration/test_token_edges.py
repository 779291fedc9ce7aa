"""Edges of the token answers:

* a JSON string holding "\\u0000" is valid JSON: a token field that holds one is an invalid
  token (401 token_not_valid, as any invalid token), a text field gets its field error (400
  naming the field), never a JSON parse error;
* an expired token and a tampered one get SimpleJWT 5.2.2's one message, "Token is invalid or
  expired" (5.2.2 maps both PyJWT errors to it), on the Bearer path, the body-token routes and
  the cookie flow;
* each request that carries a token adds exactly 1 to jwtd_tokens_verified_total, whatever the
  route kind (Bearer, body token, introspection, the cookie flow's verify and check).
"""

import re
import time

import pytest
import requests

from peers import INVALID, SHARED_SECRET, TokenServers, resign, tamper_payload


@pytest.fixture(scope="module")
def j():
    servers = TokenServers()
    yield servers(users=("testuser",))
    servers.close()


def raw_post(j, path, body, **headers):
    headers.setdefault("Content-Type", "application/json")
    if path.startswith("/api/auth/"):
        headers.setdefault("Origin", j.url)  # the cookie flow's CSRF check
    return requests.post(j.url + path, data=body.encode(), headers=headers, timeout=30)


# --- NUL inside JSON strings ------------------------------------------------------------------

@pytest.mark.parametrize("path,field", [
    ("/api/token/verify/", "token"),
    ("/api/token/refresh/", "refresh"),
    ("/api/token/blacklist/", "refresh"),
    ("/api/auth/refresh/", "refresh"),
    ("/api/auth/check/", "token"),
    ("/auth/refresh", "refresh_token"),
])
def test_nul_in_a_token_field_is_an_invalid_token(j, path, field):
    good = j.login()["refresh" if field == "refresh" else "access"]
    for value in ("abc\\u0000def", good + "\\u0000", good[:20] + "\\u0000" + good[20:]):
        r = raw_post(j, path, '{"%s": "%s"}' % (field, value))
        assert r.status_code == 401, (path, value[:30], r.status_code, r.text)
        body = r.json()
        assert body["code"] == "token_not_valid", body
        assert "JSON parse error" not in r.text
    # the token itself still works afterwards (nothing was revoked by the refusals)
    assert j.verify(good).status_code == 200


def test_nul_in_a_text_field_is_that_fields_error(j):
    r = raw_post(j, "/api/token/", '{"username": "test\\u0000user", "password": "x"}')
    assert r.status_code == 400, r.text
    assert r.json()["username"] == ["Null characters are not allowed."]
    r = raw_post(j, "/api/token/", '{"username": "testuser", "password": "testpass123\\u0000"}')
    assert r.status_code == 400, r.text
    assert r.json()["password"] == ["Null characters are not allowed."]
    r = raw_post(j, "/api/auth/login/", '{"username": "testuser\\u0000", "password": "x"}')
    assert r.status_code == 400 and r.json()["code"] == "invalid_request", r.text
    assert "username" in r.json()["detail"]
    r = raw_post(j, "/api/auth/login/", '{"username": "testuser", "password": "p\\u0000"}')
    assert r.status_code == 400 and "password" in r.json()["detail"], r.text


# --- expired vs invalid: SimpleJWT 5.2.2's messages ----------------------------------------------

def test_expired_and_tampered_tokens_answer_simplejwt_5_2_2_messages(j):
    pair = j.login()
    expired = resign(pair["access"], SHARED_SECRET, exp=int(time.time()) - 60)
    tampered = tamper_payload(pair["access"], user_id="999")
    for bad in (expired, tampered):
        r = j.me(bad)
        assert r.status_code == 401
        assert r.json()["messages"][0]["message"] == INVALID, r.text
        r = j.verify(bad)
        assert r.status_code == 401 and r.json()["detail"] == INVALID, r.text
        r = raw_post(j, "/api/auth/check/", '{"token": "%s"}' % bad)
        assert r.status_code == 401 and r.json()["message"] == INVALID, r.text


# --- one verification, one count -----------------------------------------------------------------

def verified_total(j):
    r = requests.get(j.url + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    n = 0
    for line in r.text.splitlines():
        m = re.match(r"^jwtd_tokens_verified_total\{[^}]*\} (\S+)$", line)
        if m:
            n += float(m.group(1))
    return n


def test_each_request_counts_one_verification(j):
    pair = j.login()
    access, refresh = pair["access"], pair["refresh"]
    bearer = {"Authorization": "Bearer " + access}
    cases = [
        ("bearer /me", lambda: j.me(access)),
        ("bearer /me, invalid", lambda: j.me(access[:-4] + "AAAA")),
        ("verify access", lambda: j.verify(access)),
        ("verify refresh", lambda: j.verify(refresh)),
        ("verify garbage", lambda: j.verify("garbage")),
        ("introspect", lambda: requests.get(j.url + "/auth/introspect", headers=bearer,
                                            timeout=30)),
        ("cookie verify", lambda: requests.get(j.url + "/api/auth/verify/", headers=bearer,
                                               timeout=30)),
        ("cookie check", lambda: raw_post(j, "/api/auth/check/", '{"token": "%s"}' % access)),
        ("refresh", lambda: j.refresh(refresh)),
        ("refresh, padded", lambda: j.refresh(" %s\n" % j.login()["refresh"])),
        ("cookie refresh", lambda: raw_post(j, "/api/auth/refresh/",
                                            '{"refresh": "%s"}' % j.login()["refresh"])),
    ]
    for name, call in cases:
        before = verified_total(j)
        r = call()
        assert r.status_code < 500, (name, r.status_code, r.text)
        assert verified_total(j) - before == 1, (name, r.status_code, r.text)

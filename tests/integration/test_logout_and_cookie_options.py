"""Signing out with the refresh cookie alone, the refresh cookie's Path and SameSite options,
distinct messages for expired and invalid tokens, and auto-refresh dropping the user's caches.

- POST /api/auth/logout/ is authenticated by either credential of the session: the refresh
  cookie (CSRF-checked) is enough, so a browser whose access token has expired still signs
  out: the session is revoked and the cookie cleared. Before, that answered 401 and kept both.
- JWTD_REFRESH_COOKIE_PATH and JWTD_COOKIE_SAMESITE shape the cookie; SameSite=None always
  carries Secure (browsers drop it otherwise); a bad path refuses to start.
- JWTD_TOKEN_MESSAGES: "Token is expired" and "Token is invalid" by default (SimpleJWT 5.3 and
  later); "combined" keeps SimpleJWT 5.2's single "Token is invalid or expired".
- Auto-refresh (X-New-Access-Token) mints a new access token, and, as a refresh does, drops
  the user's cached entries (the orders cache).
"""
import subprocess

import pytest

from conftest import jwtd_bin
from peers import SHARED_SECRET, claims, resign, tamper_payload, token_env, tokens  # noqa: F401
from test_cookie_flow import cookie_login, get, post, set_cookie


def session_is_dead(j, access, cookie):
    assert get(j, "/api/auth/verify/", bearer=access).status_code == 401
    assert post(j, "/api/auth/refresh/", cookie=cookie).status_code == 401


def test_logout_with_the_refresh_cookie_alone(tokens):  # noqa: F811
    j = tokens()
    access, cookie = cookie_login(j)
    r = post(j, "/api/auth/logout/", cookie=cookie)
    assert r.status_code == 200, r.text
    value, attrs = set_cookie(r)
    assert value == "" and attrs["max-age"] == "0"
    session_is_dead(j, access, cookie)


def test_logout_with_an_expired_access_token_and_the_cookie(tokens):  # noqa: F811
    j = tokens()
    access, cookie = cookie_login(j)
    expired = resign(access, SHARED_SECRET, exp=claims(access)["iat"] - 10)
    assert get(j, "/api/auth/verify/", bearer=expired).status_code == 401
    r = post(j, "/api/auth/logout/", bearer=expired, cookie=cookie)
    assert r.status_code == 200, r.text
    assert set_cookie(r)[0] == ""
    session_is_dead(j, access, cookie)


def test_logout_by_cookie_is_csrf_checked(tokens):  # noqa: F811
    j = tokens()
    access, cookie = cookie_login(j)
    r = post(j, "/api/auth/logout/", cookie=cookie, origin="https://evil.example")
    assert r.status_code == 403
    r = post(j, "/api/auth/logout/", cookie=cookie, origin=None)
    assert r.status_code == 403
    # nothing was revoked
    assert get(j, "/api/auth/verify/", bearer=access).status_code == 200
    assert post(j, "/api/auth/refresh/", cookie=cookie).status_code == 200


def test_logout_with_a_forged_cookie_and_no_bearer_is_refused(tokens):  # noqa: F811
    j = tokens()
    access, cookie = cookie_login(j)
    forged = tamper_payload(cookie, user_id=999)
    r = post(j, "/api/auth/logout/", cookie=forged)
    assert r.status_code == 401 and r.json()["code"] == "token_not_valid"
    r = post(j, "/api/auth/logout/")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert get(j, "/api/auth/verify/", bearer=access).status_code == 200


def test_logout_twice_with_the_cookie_is_harmless(tokens):  # noqa: F811
    j = tokens()
    _, cookie = cookie_login(j)
    assert post(j, "/api/auth/logout/", cookie=cookie).status_code == 200
    r = post(j, "/api/auth/logout/", cookie=cookie)
    assert r.status_code == 200 and set_cookie(r)[0] == ""


def test_logout_with_the_mobile_refresh_token_in_the_body(tokens):  # noqa: F811
    j = tokens()
    r = post(j, "/api/auth/mobile/login/", {"username": "testuser", "password": "testpass123"},
             origin=None)
    assert r.status_code == 200
    b = r.json()
    r = post(j, "/api/auth/logout/", {"refresh": b["refresh"]}, origin=None)
    assert r.status_code == 200, r.text
    assert get(j, "/api/auth/verify/", bearer=b["access"]).status_code == 401


def test_cookie_path_and_samesite_options(tokens):  # noqa: F811
    j = tokens()
    _, attrs = set_cookie(post(j, "/api/auth/login/", {"username": "testuser",
                                                       "password": "testpass123"}))
    assert attrs["path"] == "/api/auth/" and attrs["samesite"] == "Lax" and "secure" not in attrs
    j = tokens(JWTD_REFRESH_COOKIE_PATH="/", JWTD_COOKIE_SAMESITE="None")
    r = post(j, "/api/auth/login/", {"username": "testuser", "password": "testpass123"})
    value, attrs = set_cookie(r)
    assert attrs["path"] == "/" and attrs["samesite"] == "None"
    assert attrs.get("secure") is True, "SameSite=None needs Secure, even in development"
    r = post(j, "/api/auth/logout/", cookie=value)
    _, attrs = set_cookie(r)
    assert attrs["path"] == "/" and attrs["samesite"] == "None", "cleared with the same attributes"
    j = tokens(JWTD_COOKIE_SAMESITE="Strict", JWTD_ENVIRONMENT="staging")
    r = post(j, "/api/auth/login/", {"username": "testuser", "password": "testpass123"})
    _, attrs = set_cookie(r)
    assert attrs["samesite"] == "Strict" and attrs.get("secure") is True


@pytest.mark.parametrize("name,value,why", [
    ("JWTD_REFRESH_COOKIE_PATH", "api/auth", "absolute path"),
    ("JWTD_REFRESH_COOKIE_PATH", "/a;Domain=evil.example", "may not contain"),
    ("JWTD_COOKIE_SAMESITE", "none-please", "JWTD_COOKIE_SAMESITE"),
    ("JWTD_TOKEN_MESSAGES", "verbose", "JWTD_TOKEN_MESSAGES"),
])
def test_bad_cookie_options_refuse_to_start(tmp_path, name, value, why):
    env = token_env(**{name: value})
    env["JWTD_DATA_DIR"] = str(tmp_path)
    p = subprocess.run([jwtd_bin(), "check"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert name in out and why in out, out


def test_expired_and_invalid_tokens_get_distinct_messages(tokens):  # noqa: F811
    j = tokens(JWTD_TOKEN_MESSAGES="distinct")
    t = j.login()
    expired = resign(t["access"], SHARED_SECRET, exp=claims(t["access"])["iat"] - 10)
    tampered = tamper_payload(t["access"], user_id=2)
    for tok, msg in ((expired, "Token is expired"), (tampered, "Token is invalid")):
        r = j.post("/api/token/verify/", {"token": tok})
        assert r.status_code == 401 and r.json() == {"detail": msg, "code": "token_not_valid"}
        r = get(j, "/api/users/me/", bearer=tok)
        assert r.status_code == 401
        assert r.json()["messages"][0]["message"] == msg
    r = j.post("/api/token/refresh/", {"refresh": resign(
        t["refresh"], SHARED_SECRET, exp=claims(t["refresh"])["iat"] - 10)})
    assert r.status_code == 401 and r.json()["detail"] == "Token is expired"


def test_combined_messages_as_simplejwt_5_2(tokens):  # noqa: F811
    j = tokens(JWTD_TOKEN_MESSAGES="combined")
    t = j.login()
    expired = resign(t["access"], SHARED_SECRET, exp=claims(t["access"])["iat"] - 10)
    tampered = tamper_payload(t["access"], user_id=2)
    for tok in (expired, tampered):
        r = j.post("/api/token/verify/", {"token": tok})
        assert r.json() == {"detail": "Token is invalid or expired", "code": "token_not_valid"}


def test_auto_refresh_drops_the_users_caches(tokens):  # noqa: F811
    j = tokens(users=("testuser", "alice"), JWTD_AUTO_REFRESH_WINDOW="3600")
    access, cookie = cookie_login(j)
    other = j.login("alice")["access"]
    for tok in (access, other):
        assert get(j, "/api/orders/", bearer=tok).json()["cached"] is False
        assert get(j, "/api/orders/", bearer=tok).json()["cached"] is True
    r = get(j, "/api/auth/verify/", bearer=access, cookie=cookie)
    assert r.status_code == 200 and r.headers.get("X-New-Access-Token")
    assert get(j, "/api/orders/", bearer=access).json()["cached"] is False
    assert get(j, "/api/orders/", bearer=other).json()["cached"] is True  # another user

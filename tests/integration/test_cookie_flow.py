"""The browser cookie flow of API.md section 4 (seed 004; golden cases 42-65) under each
JWTD_ENVIRONMENT: login sets the HttpOnly refresh cookie (Secure outside development, Domain
when configured), refresh from the cookie rotates it, mobile login/refresh carry the refresh
token in the body, logout revokes the session at once (its access tokens too), clears the
cookie with the same attributes and is harmless the second time (the Django peer answers
400), verify/check, and auto-refresh (X-New-Access-Token, sliding session).

jwtd differs from the peer on purpose: every error body also has `detail` and `code`; a
rotated cookie presented again within JWTD_REFRESH_REUSE_GRACE gets the same successor;
cookie-authenticated POSTs need an allowed Origin (test_cors_csrf.py)."""

import time

import pytest
import requests

from peers import SHARED_SECRET, TEST_PASSWORD, claims, resign, tokens  # noqa: F401 (fixture)

ENVS = ["development", "staging", "production"]
LIFETIME_7D = 7 * 24 * 3600


def post(j, path, json=None, cookie=None, bearer=None, origin="self", headers=None):
    h = dict(headers or {})
    if cookie is not None:
        h["Cookie"] = "refresh_token=" + cookie
    if bearer is not None:
        h["Authorization"] = "Bearer " + bearer
    if origin == "self":
        h["Origin"] = j.url
    elif origin is not None:
        h["Origin"] = origin
    return requests.post(j.url + path, json=json, headers=h, timeout=30)


def get(j, path, bearer=None, cookie=None):
    h = {}
    if bearer is not None:
        h["Authorization"] = "Bearer " + bearer
    if cookie is not None:
        h["Cookie"] = "refresh_token=" + cookie
    return requests.get(j.url + path, headers=h, timeout=30)


def set_cookie(resp):
    """(value, {attr-lower: value-or-True}) of the refresh_token Set-Cookie; None if absent."""
    raw = [v for k, v in resp.raw.headers.items() if k.lower() == "set-cookie"]
    raw = [c for c in raw if c.startswith("refresh_token=")]
    if not raw:
        return None
    assert len(raw) == 1, raw
    parts = [p.strip() for p in raw[0].split(";")]
    value = parts[0].split("=", 1)[1]
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v if _ else True
    return value, attrs


def cookie_login(j, username="testuser"):
    r = post(j, "/api/auth/login/", {"username": username, "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    value, _ = set_cookie(r)
    return r.json()["access"], value


def env_server(tokens, env, **extra):  # noqa: F811
    return tokens(users=("testuser", "alice"), JWTD_ENVIRONMENT=env, **extra)


@pytest.mark.parametrize("env", ENVS)
def test_login_cookie_attributes_per_environment(tokens, env):  # noqa: F811
    j = env_server(tokens, env)
    r = post(j, "/api/auth/login/", {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access", "user"}, "no refresh token in a browser login body"
    assert claims(body["access"])["token_type"] == "access"
    assert body["user"]["username"] == "testuser"
    assert {"id", "username", "email"} <= set(body["user"])
    assert r.headers["Cache-Control"] == "no-store"
    value, attrs = set_cookie(r)
    assert claims(value)["token_type"] == "refresh"
    assert claims(value)["sid"] == claims(body["access"])["sid"]
    assert attrs["path"] == "/api/auth/"
    assert attrs["httponly"] is True
    assert attrs["samesite"] == "Lax"
    assert attrs["max-age"] == str(LIFETIME_7D)
    assert ("secure" in attrs) == (env != "development")
    assert "domain" not in attrs
    # production: HSTS on every answer
    assert ("Strict-Transport-Security" in r.headers) == (env == "production")


def test_cookie_domain_and_lifetime_follow_config(tokens):  # noqa: F811
    j = tokens(JWTD_COOKIE_DOMAIN="example.test", JWTD_REFRESH_TOKEN_LIFETIME="2d")
    r = post(j, "/api/auth/login/", {"username": "testuser", "password": TEST_PASSWORD})
    value, attrs = set_cookie(r)
    assert attrs["domain"] == "example.test"
    assert attrs["max-age"] == str(2 * 24 * 3600)
    out = post(j, "/api/auth/logout/", bearer=r.json()["access"], cookie=value)
    assert out.status_code == 200
    _, cleared = set_cookie(out)
    assert cleared["domain"] == "example.test" and cleared["max-age"] == "0"


def test_login_errors(tokens):  # noqa: F811
    j = tokens()
    wrong = post(j, "/api/auth/login/", {"username": "testuser", "password": "wrong"})
    unknown = post(j, "/api/auth/login/", {"username": "nobody", "password": "wrong"})
    for r in (wrong, unknown):  # golden 43; no user enumeration
        assert r.status_code == 401
        assert r.json() == {"error": "Invalid credentials", "detail": "Invalid credentials",
                            "code": "no_active_account"}
        assert set_cookie(r) is None
    for body in ({"username": "testuser"}, {"password": "x"}, {}, {"username": "", "password": ""}):
        r = post(j, "/api/auth/login/", body)  # golden 44
        assert r.status_code == 400
        assert r.json()["error"] == "Username and password are required"
        assert r.json()["code"] == "invalid_request"
    r = requests.post(j.url + "/api/auth/login/", data="{bad", timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400


@pytest.mark.parametrize("env", ENVS)
def test_refresh_from_cookie_rotates_it(tokens, env):  # noqa: F811
    j = env_server(tokens, env)
    access, cookie = cookie_login(j)
    r = post(j, "/api/auth/refresh/", cookie=cookie)  # golden 47
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access"}, "the refresh token stays in the cookie"
    new, attrs = set_cookie(r)
    assert new != cookie
    assert claims(new)["sid"] == claims(cookie)["sid"] == claims(r.json()["access"])["sid"]
    assert attrs["httponly"] is True and attrs["path"] == "/api/auth/"
    assert ("secure" in attrs) == (env != "development")
    # within the reuse grace the old cookie yields the SAME successor (two tabs racing)
    again = post(j, "/api/auth/refresh/", cookie=cookie)
    assert again.status_code == 200
    assert set_cookie(again)[0] == new
    # the successor works
    assert post(j, "/api/auth/refresh/", cookie=new).status_code == 200


def test_refresh_old_cookie_after_grace_kills_the_session(tokens):  # noqa: F811
    j = tokens(JWTD_REFRESH_REUSE_GRACE="0")
    _, cookie = cookie_login(j)
    r = post(j, "/api/auth/refresh/", cookie=cookie)
    new = set_cookie(r)[0]
    time.sleep(1.1)
    old = post(j, "/api/auth/refresh/", cookie=cookie)  # golden 48
    assert old.status_code == 401
    assert old.json()["error"] == "Invalid or expired refresh token"
    assert old.json()["code"] == "token_not_valid"
    # reuse detected: the whole session is revoked, the successor too
    assert post(j, "/api/auth/refresh/", cookie=new).status_code == 401


def test_refresh_missing_or_garbage(tokens):  # noqa: F811
    j = tokens()
    r = post(j, "/api/auth/refresh/")  # golden 49
    assert r.status_code == 401
    assert r.json()["error"] == "Refresh token not found"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ("garbage", resign(cookie_login(j)[1], "another-secret-0123456789abcdef-xyz!")):
        r = post(j, "/api/auth/refresh/", cookie=bad)  # golden 50
        assert r.status_code == 401
        assert r.json()["error"] == "Invalid or expired refresh token"
    access, _ = cookie_login(j)
    r = post(j, "/api/auth/refresh/", cookie=access)  # an access token is not a refresh token
    assert r.status_code == 401


@pytest.mark.parametrize("env", ENVS)
def test_mobile_login_and_body_refresh(tokens, env):  # noqa: F811
    j = env_server(tokens, env)
    r = post(j, "/api/auth/mobile/login/", {"username": "testuser", "password": TEST_PASSWORD},
             origin=None)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access", "refresh", "user"}
    assert set_cookie(r) is None, "mobile clients keep the refresh token in secure storage"
    r2 = post(j, "/api/auth/refresh/", {"refresh": body["refresh"]}, origin=None)
    assert r2.status_code == 200, r2.text
    assert set(r2.json()) == {"access", "refresh"}
    assert r2.json()["refresh"] != body["refresh"]
    assert set_cookie(r2) is None
    bad = post(j, "/api/auth/mobile/login/", {"username": "testuser", "password": "nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize("env", ENVS)
def test_logout_revokes_at_once_clears_cookie_and_is_idempotent(tokens, env):  # noqa: F811
    j = env_server(tokens, env)
    access, cookie = cookie_login(j)
    assert get(j, "/api/auth/verify/", bearer=access).status_code == 200
    # golden 59: the peer answers 401 to a logout with the cookie alone; jwtd signs out with
    # it (an expired access token must not keep a session alive): see
    # test_logout_and_cookie_options.py
    r = post(j, "/api/auth/logout/", bearer=access, cookie=cookie)  # golden 60
    assert r.status_code == 200
    assert r.json() == {"message": "Logout successful"}
    value, attrs = set_cookie(r)
    assert value == "" and attrs["max-age"] == "0"
    assert attrs["path"] == "/api/auth/" and attrs["httponly"] is True
    assert attrs["samesite"] == "Lax"
    assert ("secure" in attrs) == (env != "development")
    # the session is dead at once (the peer keeps accepting the access token: golden 62/63)
    assert post(j, "/api/auth/refresh/", cookie=cookie).status_code == 401  # golden 61
    v = get(j, "/api/auth/verify/", bearer=access)
    assert v.status_code == 401 and v.json()["code"] == "token_not_valid"
    assert get(j, "/api/users/me/", bearer=access).status_code == 401
    assert post(j, "/api/token/verify/", {"token": access}).status_code == 401
    # golden 64: the peer answers 400 "Logout failed"; a second logout is harmless here
    again = post(j, "/api/auth/logout/", bearer=access, cookie=cookie)
    assert again.status_code == 200
    assert set_cookie(again)[1]["max-age"] == "0"
    # a forged token may not log out
    forged = resign(access, "not-the-secret-0123456789abcdef-xyz!!")
    assert post(j, "/api/auth/logout/", bearer=forged).status_code == 401


def test_logout_without_cookie_revokes_the_bearer_session(tokens):  # noqa: F811
    j = tokens()
    access, cookie = cookie_login(j)
    other_access, other_cookie = cookie_login(j)
    r = post(j, "/api/auth/logout/", bearer=access)  # golden 65
    assert r.status_code == 200
    assert set_cookie(r)[1]["max-age"] == "0"
    assert post(j, "/api/auth/refresh/", cookie=cookie).status_code == 401
    assert get(j, "/api/auth/verify/", bearer=access).status_code == 401
    # another session of the same user is untouched
    assert get(j, "/api/auth/verify/", bearer=other_access).status_code == 200
    assert post(j, "/api/auth/refresh/", cookie=other_cookie).status_code == 200


def test_logout_with_body_refresh_mobile(tokens):  # noqa: F811
    j = tokens()
    body = post(j, "/api/auth/mobile/login/", {"username": "testuser",
                                               "password": TEST_PASSWORD}).json()
    r = post(j, "/api/auth/logout/", {"refresh": body["refresh"]}, bearer=body["access"],
             origin=None)
    assert r.status_code == 200
    assert post(j, "/api/auth/refresh/", {"refresh": body["refresh"]}).status_code == 401


def test_verify_and_check(tokens):  # noqa: F811
    j = tokens()
    access, cookie = cookie_login(j)
    r = get(j, "/api/auth/verify/", bearer=access)  # golden 51
    assert r.status_code == 200
    assert r.json()["valid"] is True
    assert r.json()["user"]["username"] == "testuser"
    r = get(j, "/api/auth/verify/")  # golden 52
    assert r.status_code == 401
    assert r.json()["detail"] == "Authentication credentials were not provided."
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    expired = resign(access, SHARED_SECRET, exp=int(time.time()) - 60)
    r = get(j, "/api/auth/verify/", bearer=expired)  # golden 53
    assert r.status_code == 401
    assert r.json()["code"] == "token_not_valid"
    assert r.json()["messages"][0]["message"] == "Token is invalid or expired"

    r = post(j, "/api/auth/check/", {"token": access})  # golden 54
    assert r.status_code == 200
    assert r.json() == {"valid": True, "message": "Token is valid"}
    tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    for tok, why in ((tampered, "Token is invalid or expired"),  # golden 55
                     (expired, "Token is invalid or expired"),  # golden 56
                     (cookie, "Token has wrong type")):  # golden 57
        r = post(j, "/api/auth/check/", {"token": tok})
        assert r.status_code == 401, tok
        b = r.json()
        assert b["valid"] is False and b["message"] == "Token is invalid or expired"
        assert b["error"] == why and b["code"] == "token_not_valid"
    r = post(j, "/api/auth/check/", {})  # golden 58
    assert r.status_code == 400
    assert r.json()["error"] == "Token is required"


def test_auto_refresh_header(tokens):  # noqa: F811
    j = tokens(users=("testuser", "alice"), JWTD_AUTO_REFRESH_WINDOW="3600")
    access, cookie = cookie_login(j)
    time.sleep(1.1)  # a new token has a later iat
    r = get(j, "/api/auth/verify/", bearer=access, cookie=cookie)
    assert r.status_code == 200
    fresh = r.headers.get("X-New-Access-Token")
    assert fresh and fresh != access
    c = claims(fresh)
    assert c["token_type"] == "access" and c["sid"] == claims(access)["sid"]
    assert c["exp"] > claims(access)["exp"]
    assert set_cookie(r) is None, "without a sliding session the refresh token is not rotated"
    assert get(j, "/api/auth/verify/", bearer=fresh).status_code == 200
    # the cookie was not used up: it still refreshes
    assert post(j, "/api/auth/refresh/", cookie=cookie).status_code == 200
    # no cookie, or the cookie of another session (another user): no header
    assert "X-New-Access-Token" not in get(j, "/api/auth/verify/", bearer=access).headers
    _, alice_cookie = cookie_login(j, "alice")
    r = get(j, "/api/auth/verify/", bearer=access, cookie=alice_cookie)
    assert r.status_code == 200 and "X-New-Access-Token" not in r.headers


def test_auto_refresh_only_inside_the_window(tokens):  # noqa: F811
    j = tokens()  # default window 5 min, access lifetime 15 min
    access, cookie = cookie_login(j)
    r = get(j, "/api/auth/verify/", bearer=access, cookie=cookie)
    assert r.status_code == 200 and "X-New-Access-Token" not in r.headers
    j2 = tokens(JWTD_AUTO_REFRESH_WINDOW="0", JWTD_ACCESS_TOKEN_LIFETIME="60")
    access, cookie = cookie_login(j2)
    r = get(j2, "/api/auth/verify/", bearer=access, cookie=cookie)
    assert r.status_code == 200 and "X-New-Access-Token" not in r.headers


def test_auto_refresh_not_after_logout(tokens):  # noqa: F811
    j = tokens(JWTD_AUTO_REFRESH_WINDOW="3600")
    access, cookie = cookie_login(j)
    other, _ = cookie_login(j)
    assert post(j, "/api/auth/logout/", bearer=access, cookie=cookie).status_code == 200
    # a valid Bearer of another session + the revoked cookie: no new token for the dead session
    r = get(j, "/api/auth/verify/", bearer=other, cookie=cookie)
    assert r.status_code == 200 and "X-New-Access-Token" not in r.headers


def test_sliding_session_rotates_the_cookie(tokens):  # noqa: F811
    j = tokens(JWTD_AUTO_REFRESH_WINDOW="3600", JWTD_SLIDING_SESSION="true")
    access, cookie = cookie_login(j)
    time.sleep(1.1)
    r = get(j, "/api/auth/verify/", bearer=access, cookie=cookie)
    assert r.status_code == 200
    assert r.headers.get("X-New-Access-Token")
    new, attrs = set_cookie(r)
    assert new != cookie and claims(new)["sid"] == claims(cookie)["sid"]
    assert claims(new)["exp"] > claims(cookie)["exp"], "the session slid forward"
    assert attrs["max-age"] == str(LIFETIME_7D)
    assert post(j, "/api/auth/refresh/", cookie=new).status_code == 200


def test_sessions_api(tokens):  # noqa: F811
    j = tokens(users=("testuser", "alice"))
    a1, c1 = cookie_login(j)
    a2, c2 = cookie_login(j)
    alice, _ = cookie_login(j, "alice")
    r = get(j, "/auth/sessions", bearer=a1)
    assert r.status_code == 200
    sessions = r.json()["sessions"]
    assert len(sessions) == 2
    assert sorted(s["current"] for s in sessions) == [False, True]
    sid2 = claims(a2)["sid"]
    assert sid2 in {s["sid"] for s in sessions}
    # another user's session is not found, not revoked
    alice_sid = claims(alice)["sid"]
    h = {"Authorization": "Bearer " + a1}
    assert requests.delete(j.url + "/auth/sessions/" + alice_sid, headers=h,
                           timeout=10).status_code == 404
    assert get(j, "/api/auth/verify/", bearer=alice).status_code == 200
    # sign out one session: its tokens fail at once
    assert requests.delete(j.url + "/auth/sessions/" + sid2, headers=h,
                           timeout=10).status_code == 204
    assert get(j, "/api/auth/verify/", bearer=a2).status_code == 401
    assert post(j, "/api/auth/refresh/", cookie=c2).status_code == 401
    assert len(get(j, "/auth/sessions", bearer=a1).json()["sessions"]) == 1
    # sign out everywhere
    assert requests.delete(j.url + "/auth/sessions", headers=h, timeout=10).status_code == 204
    assert get(j, "/api/auth/verify/", bearer=a1).status_code == 401
    assert post(j, "/api/auth/refresh/", cookie=c1).status_code == 401
    assert get(j, "/auth/sessions").status_code == 401

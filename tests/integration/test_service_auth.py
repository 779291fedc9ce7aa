"""The service routes of docs/api.md §7: /auth/register, /auth/login (JSON
and the OAuth2 password form), /auth/refresh, /auth/logout, /auth/logout-all, /auth/me,
with the error bodies of section 2."""

import time

from peers import claims
from svc_helpers import check_error, svc, svc_factory  # noqa: F401 (fixtures)

PW = "correct-horse-battery"


def register(svc, username, email=None, password=PW, **extra):
    body = {"username": username, "email": email or "%s@example.org" % username,
            "password": password}
    body.update(extra)
    return svc.post("/auth/register", body)


def test_register_201_returns_user_and_can_login(svc):
    r = register(svc, "neo", first_name="Thomas", last_name="Anderson")
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["username"] == "neo" and u["email"] == "neo@example.org"
    assert u["role"] == "user" and u["premium"] is False and isinstance(u["id"], int)
    assert u["first_name"] == "Thomas" and "password" not in u
    t = svc.auth_login("neo", PW)
    assert t["user"] == u


def test_register_conflicts_409(svc):
    assert register(svc, "trinity").status_code == 201
    body = check_error(register(svc, "trinity", email="other@example.org"), 409, "conflict")
    assert "username" in body
    body = check_error(register(svc, "trinity2", email="TRINITY@example.org"), 409, "conflict")
    assert "email" in body


def test_register_validation_400(svc):
    body = check_error(svc.post("/auth/register", {}), 400, "invalid_request")
    for f in ("username", "email", "password"):
        assert body[f] == ["This field is required."], body
    body = check_error(register(svc, "bad name!", email="nope", password="123"), 400,
                       "invalid_request")
    assert "username" in body and "email" in body
    assert "This password is too short. It must contain at least 8 characters." in body["password"]
    assert "This password is entirely numeric." in body["password"]
    body = check_error(register(svc, "morpheus", password="morpheus"), 400, "invalid_request")
    assert body["password"]
    body = check_error(register(svc, "x" * 151), 400, "invalid_request")
    assert "150" in body["username"][0]
    body = check_error(register(svc, "numeric", password=12345678), 400, "invalid_request")
    assert body["password"] == ["Not a valid string."]


def test_register_bad_json_and_media_type(svc):
    r = svc.http.post(svc.url + "/auth/register", data=b"{nope",
                      headers={"Content-Type": "application/json"})
    check_error(r, 400, "invalid_request")
    r = svc.http.post(svc.url + "/auth/register", data=b"x",
                      headers={"Content-Type": "text/plain"})
    check_error(r, 415, "unsupported_media_type")
    r = svc.http.post(svc.url + "/auth/register", data=b'{"username":"a\\u0000b"}',
                      headers={"Content-Type": "application/json"})
    check_error(r, 400, "invalid_request")


def test_login_json_shape(svc):
    t = svc.auth_login("u_user")
    assert set(t) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert t["token_type"] == "bearer" and t["expires_in"] == 900
    c = claims(t["access_token"])
    assert c["token_type"] == "access" and c["user_id"] == str(t["user"]["id"])
    assert c["role"] == "user" and c["username"] == "u_user"
    assert claims(t["refresh_token"])["token_type"] == "refresh"


def test_login_oauth2_password_form(svc):
    r = svc.http.post(svc.url + "/auth/login",
                      data={"grant_type": "password", "username": "u_admin",
                            "password": "testpass123", "scope": ""})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    assert r.headers["Cache-Control"] == "no-store"
    r = svc.http.post(svc.url + "/auth/login",
                      data={"grant_type": "client_credentials", "username": "u_admin",
                            "password": "testpass123"})
    check_error(r, 400, "invalid_request")


def test_login_wrong_password_and_missing_fields(svc):
    body = check_error(svc.post("/auth/login", {"username": "u_user", "password": "nope-nope"}),
                       401, "no_active_account")
    assert body["detail"] == "No active account found with the given credentials"
    check_error(svc.post("/auth/login", {"username": "ghost", "password": "nope-nope"}), 401,
                "no_active_account")
    body = check_error(svc.post("/auth/login", {"username": "u_user"}), 400, "invalid_request")
    assert body["password"] == ["This field is required."]


def test_refresh_rotates_same_shape(svc):
    t = svc.auth_login("u_user")
    r = svc.post("/auth/refresh", {"refresh_token": t["refresh_token"]})
    assert r.status_code == 200, r.text
    n = r.json()
    assert set(n) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert n["refresh_token"] != t["refresh_token"]
    assert claims(n["refresh_token"])["sid"] == claims(t["refresh_token"])["sid"]
    assert svc.req("GET", "/auth/me", n["access_token"]).status_code == 200


def test_refresh_errors(svc):
    t = svc.auth_login("u_user")
    check_error(svc.post("/auth/refresh", {}), 400, "invalid_request")
    check_error(svc.post("/auth/refresh", {"refresh_token": "a.b.c"}), 401, "token_not_valid")
    body = check_error(svc.post("/auth/refresh", {"refresh_token": t["access_token"]}), 401,
                       "token_not_valid")
    assert body["detail"] == "Token has wrong type"


def test_refresh_reuse_after_grace_revokes_session(svc_factory):
    s = svc_factory(JWTD_REFRESH_REUSE_GRACE="0")
    t = s.auth_login("u_user")
    n = s.post("/auth/refresh", {"refresh_token": t["refresh_token"]}).json()
    body = check_error(s.post("/auth/refresh", {"refresh_token": t["refresh_token"]}), 401,
                       "token_not_valid")
    assert body["detail"] == "Token is blacklisted"
    # the whole family is gone: the successor and its access token too
    check_error(s.post("/auth/refresh", {"refresh_token": n["refresh_token"]}), 401,
                "token_not_valid")
    check_error(s.req("GET", "/auth/me", n["access_token"]), 401, "token_not_valid")


def test_logout_revokes_session_and_its_access_tokens(svc):
    a = svc.auth_login("u_user")
    b = svc.auth_login("u_user")  # another session of the same user
    r = svc.req("POST", "/auth/logout", a["access_token"])
    assert r.status_code == 204 and r.content == b""
    check_error(svc.req("GET", "/auth/me", a["access_token"]), 401, "token_not_valid")
    check_error(svc.post("/auth/refresh", {"refresh_token": a["refresh_token"]}), 401,
                "token_not_valid")
    assert svc.req("GET", "/auth/me", b["access_token"]).status_code == 200


def test_logout_all_revokes_every_session(svc):
    a = svc.auth_login("u_instructor")
    b = svc.auth_login("u_instructor")
    other = svc.auth_login("u_user")
    time.sleep(1.05)  # the watermark is in whole seconds; tokens issued before it die
    r = svc.req("POST", "/auth/logout-all", a["access_token"])
    assert r.status_code == 204
    for t in (a, b):
        check_error(svc.req("GET", "/auth/me", t["access_token"]), 401, "token_not_valid")
        check_error(svc.post("/auth/refresh", {"refresh_token": t["refresh_token"]}), 401,
                    "token_not_valid")
    assert svc.req("GET", "/auth/me", other["access_token"]).status_code == 200
    # a fresh login works again
    assert svc.req("GET", "/auth/me", svc.auth_login("u_instructor")["access_token"]).status_code == 200


def test_logout_requires_bearer(svc):
    check_error(svc.req("POST", "/auth/logout"), 401, "not_authenticated")
    check_error(svc.req("POST", "/auth/logout-all", headers={"Authorization": "Bearer a b"}), 401,
                "bad_authorization_header")
    t = svc.auth_login("u_user")
    check_error(svc.req("POST", "/auth/logout", t["refresh_token"]), 401, "token_not_valid")


def test_me(svc):
    t = svc.auth_login("u_admin")
    r = svc.req("GET", "/auth/me", t["access_token"])
    assert r.status_code == 200 and r.json() == t["user"]
    assert r.json()["role"] == "admin"
    check_error(svc.req("GET", "/auth/me"), 401, "not_authenticated")
    check_error(svc.req("GET", "/auth/me", "x.y.z"), 401, "token_not_valid")


def test_method_not_allowed(svc):
    r = svc.req("GET", "/auth/login")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    assert r.json()["code"] == "method_not_allowed"

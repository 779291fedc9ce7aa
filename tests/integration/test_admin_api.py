"""The administration API (issue 16, part 2): /admin/users search, create, read, change,
delete, revoke and sessions, admin role only, every call in the audit trail; a role change,
a deactivation or a deletion reaches the user's existing access tokens at once. DELETE
/auth/me deletes one's own account with its password, rate-limited like a login. The
`jwtd user delete|set-role` commands. Runs on PostgreSQL too with JWTD_TEST_DB=pg."""

import time

import pytest

import pgdb
from peers import TEST_PASSWORD, token_env
from svc_helpers import check_error, svc_factory  # noqa: F401 (fixture)

NEW_PASSWORD = "Adm1n-created-pass"


def admin_token(s):
    return s.auth_login("u_admin")["access_token"]


def audit_events(s, event, want=1, timeout=10.0):
    """The audit_log rows of event (the writer is asynchronous: wait for want rows)."""
    deadline = time.monotonic() + timeout
    while True:
        p = s.cli("audit", "--json", "--limit", "1000", "--event", event)
        import json
        rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def create(s, tok, **body):
    body.setdefault("password", NEW_PASSWORD)
    return s.req("POST", "/admin/users", tok, json=body)


@pytest.fixture
def svc(svc_factory):  # noqa: F811
    return svc_factory(JWTD_LOG_LEVEL="warn")


def test_authz_every_route(svc):
    s = svc
    user_tok = s.auth_login("u_user")["access_token"]
    routes = [("GET", "/admin/users"), ("POST", "/admin/users"), ("GET", "/admin/users/1"),
              ("PATCH", "/admin/users/1"), ("DELETE", "/admin/users/1"),
              ("POST", "/admin/users/1/revoke"), ("GET", "/admin/users/1/sessions")]
    for method, path in routes:
        r = s.req(method, path, json={})
        check_error(r, 401, "not_authenticated")
        r = s.req(method, path, user_tok, json={"role": "admin"})
        check_error(r, 403, "permission_denied")
    # the refusals are audited
    rows = audit_events(s, "admin_action", want=len(routes))
    assert sum(1 for r in rows if r["outcome"] == "failure" and r["reason"] == "not_admin") \
        >= len(routes), rows
    # nothing changed for the user who tried
    assert s.req("GET", "/auth/me", user_tok).json()["role"] == "user"


def test_list_search_paginate(svc):
    s = svc
    tok = admin_token(s)
    for i in range(5):
        assert create(s, tok, username="member%d" % i,
                      email="Member%d@Corp.example" % i).status_code == 201
    r = s.req("GET", "/admin/users", tok)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 8 and body["page"] == 1 and len(body["results"]) == 8
    ids = [u["id"] for u in body["results"]]
    assert ids == sorted(ids)
    first = body["results"][0]
    for k in ("id", "username", "email", "role", "is_active", "email_verified", "created_at",
              "last_login"):
        assert k in first, first
    assert "password" not in r.text and "argon2" not in r.text
    # search by username or e-mail, case-insensitively; % and _ are literal
    r = s.req("GET", "/admin/users", tok, params={"q": "MEMBER"})
    assert r.json()["count"] == 5
    r = s.req("GET", "/admin/users", tok, params={"q": "corp.EXAMPLE"})
    assert r.json()["count"] == 5
    r = s.req("GET", "/admin/users", tok, params={"q": "admin@"})
    assert [u["username"] for u in r.json()["results"]] == ["u_admin"]
    assert s.req("GET", "/admin/users", tok, params={"q": "%"}).json()["count"] == 0
    assert s.req("GET", "/admin/users", tok, params={"q": "u_"}).json()["count"] == 3
    # pages
    r = s.req("GET", "/admin/users", tok, params={"q": "member", "page": 2, "page_size": 2})
    b = r.json()
    assert b["count"] == 5 and [u["username"] for u in b["results"]] == ["member2", "member3"]
    r = s.req("GET", "/admin/users", tok, params={"q": "member", "page": 9, "page_size": 2})
    assert r.json()["count"] == 5 and r.json()["results"] == []
    check_error(s.req("GET", "/admin/users", tok, params={"page": "0"}), 400, "invalid_request")
    check_error(s.req("GET", "/admin/users", tok, params={"page_size": "100000"}), 400,
                "invalid_request")
    rows = audit_events(s, "admin_user_list", want=1)
    assert rows and rows[0]["source"] == "http" and rows[0]["actor"].startswith("user_id=")


def test_create_validation_and_conflicts(svc):
    s = svc
    tok = admin_token(s)
    r = create(s, tok, username="carol", email="carol@example.com", role="instructor",
               first_name="Carol")
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["username"] == "carol" and u["role"] == "instructor" and u["is_active"] is True
    assert u["first_name"] == "Carol" and u["last_login"] is None
    assert u["email_verified"] is True  # an administrator's account, as `jwtd user create`'s
    r = create(s, tok, username="unconfirmed", email="unc@example.com", email_verified=False)
    assert r.status_code == 201 and r.json()["email_verified"] is False
    # the new user can sign in with the password the admin set
    assert s.auth_login("carol", NEW_PASSWORD)["user"]["role"] == "instructor"
    # inactive at creation
    r = create(s, tok, username="dormant", is_active=False)
    assert r.status_code == 201 and r.json()["is_active"] is False
    r = s.post("/auth/login", {"username": "dormant", "password": NEW_PASSWORD})
    assert r.status_code == 401
    # the password policy of every other path
    b = check_error(create(s, tok, username="weak", password="12345678"), 400, "invalid_request")
    assert b["password"], b
    b = check_error(create(s, tok, username="samesame1", password="samesame1"), 400,
                    "invalid_request")
    assert b["password"]
    b = check_error(create(s, tok, username="bad name!"), 400, "invalid_request")
    assert "username" in b
    b = check_error(create(s, tok, username="x1", email="not-an-email"), 400, "invalid_request")
    assert "email" in b
    b = check_error(create(s, tok, username="x2", role="root"), 400, "invalid_request")
    assert "role" in b
    b = check_error(create(s, tok, username="x3", is_active="maybe"), 400, "invalid_request")
    assert "is_active" in b
    check_error(s.req("POST", "/admin/users", tok, data="{", headers={
        "Content-Type": "application/json"}), 400, "invalid_request")
    b = check_error(s.req("POST", "/admin/users", tok, json={}), 400, "invalid_request")
    assert "username" in b and "password" in b
    # duplicates: 409 naming the field
    b = check_error(create(s, tok, username="carol"), 409, "conflict")
    assert "username" in b
    b = check_error(create(s, tok, username="carol2", email="CAROL@example.com"), 409,
                    "conflict")
    assert "email" in b
    rows = audit_events(s, "admin_user_create", want=2)
    assert any(r["outcome"] == "success" and r["username"] == "carol" for r in rows), rows


def test_get_patch_and_errors(svc):
    s = svc
    tok = admin_token(s)
    uid = create(s, tok, username="dave", email="dave@example.com").json()["id"]
    r = s.req("GET", "/admin/users/%d" % uid, tok)
    assert r.status_code == 200 and r.json()["username"] == "dave"
    check_error(s.req("GET", "/admin/users/999999", tok), 404, "not_found")
    check_error(s.req("GET", "/admin/users/abc", tok), 404, "not_found")
    check_error(s.req("PATCH", "/admin/users/999999", tok, json={"role": "user"}), 404,
                "not_found")
    # e-mail change and clearing
    assert r.json()["email_verified"] is True
    r = s.req("PATCH", "/admin/users/%d" % uid, tok, json={"email": "dave@new.example"})
    assert r.status_code == 200 and r.json()["email"] == "dave@new.example"
    assert r.json()["email_verified"] is False  # a new address is not verified
    r = s.req("PATCH", "/admin/users/%d" % uid, tok, json={"email_verified": True})
    assert r.status_code == 200 and r.json()["email_verified"] is True
    r = s.req("PATCH", "/admin/users/%d" % uid, tok,
              json={"email": "dave@newer.example", "email_verified": True})
    assert r.json()["email"] == "dave@newer.example" and r.json()["email_verified"] is True
    b = check_error(s.req("PATCH", "/admin/users/%d" % uid, tok, json={"email_verified": 3}),
                    400, "invalid_request")
    assert "email_verified" in b
    b = check_error(s.req("PATCH", "/admin/users/%d" % uid, tok,
                          json={"email": "USER@example.com"}), 409, "conflict")
    assert "email" in b
    b = check_error(s.req("PATCH", "/admin/users/%d" % uid, tok, json={"email": "nope"}), 400,
                    "invalid_request")
    assert "email" in b
    b = check_error(s.req("PATCH", "/admin/users/%d" % uid, tok, json={"role": "god"}), 400,
                    "invalid_request")
    assert "role" in b
    b = check_error(s.req("PATCH", "/admin/users/%d" % uid, tok, json={"is_active": "x"}), 400,
                    "invalid_request")
    assert "is_active" in b
    b = check_error(s.req("PATCH", "/admin/users/%d" % uid, tok, json={"username": "eve"}), 400,
                    "invalid_request")
    assert "username" in b
    check_error(s.req("PATCH", "/admin/users/%d" % uid, tok, json={}), 400, "invalid_request")
    r = s.req("PATCH", "/admin/users/%d" % uid, tok, json={"email": ""})
    assert r.status_code == 200 and r.json()["email"] == ""
    rows = audit_events(s, "admin_user_update", want=2)
    assert any(r["outcome"] == "success" for r in rows)
    assert audit_events(s, "admin_user_view", want=1)


def test_role_change_and_deactivation_take_effect_at_once(svc):
    s = svc
    tok = admin_token(s)
    uid = create(s, tok, username="frank", email="frank@example.com", role="admin").json()["id"]
    frank = s.auth_login("frank", NEW_PASSWORD)
    ftok = frank["access_token"]
    assert s.req("GET", "/admin/users", ftok).status_code == 200  # verified, now cached
    r = s.req("PATCH", "/admin/users/%d" % uid, tok, json={"role": "user"})
    assert r.status_code == 200 and r.json()["role"] == "user"
    # the old admin token is refused at once, as is its refresh token
    check_error(s.req("GET", "/admin/users", ftok), 401, "token_not_valid")
    check_error(s.req("GET", "/auth/me", ftok), 401, "token_not_valid")
    assert s.post("/auth/refresh", {"refresh_token": frank["refresh_token"]}).status_code == 401
    # a new login carries the new role and is no admin
    ftok = s.auth_login("frank", NEW_PASSWORD)["access_token"]
    check_error(s.req("GET", "/admin/users", ftok), 403, "permission_denied")
    # deactivation
    assert s.req("GET", "/auth/me", ftok).status_code == 200
    r = s.req("PATCH", "/admin/users/%d" % uid, tok, json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    check_error(s.req("GET", "/auth/me", ftok), 401, "token_not_valid")
    assert s.post("/api/token/verify/", {"token": ftok}).status_code == 401
    assert s.post("/auth/login", {"username": "frank", "password": NEW_PASSWORD}).status_code \
        == 401
    r = s.req("PATCH", "/admin/users/%d" % uid, tok, json={"is_active": True})
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert s.auth_login("frank", NEW_PASSWORD)


def test_sessions_revoke_delete(svc):
    s = svc
    tok = admin_token(s)
    uid = create(s, tok, username="gina", email="gina@example.com").json()["id"]
    a = s.auth_login("gina", NEW_PASSWORD)
    b = s.auth_login("gina", NEW_PASSWORD)
    r = s.req("GET", "/admin/users/%d/sessions" % uid, tok)
    assert r.status_code == 200, r.text
    sids = {x["sid"] for x in r.json()["sessions"]}
    assert len(sids) == 2
    check_error(s.req("GET", "/admin/users/999999/sessions", tok), 404, "not_found")
    # revoke: every session and access token
    r = s.req("POST", "/admin/users/%d/revoke" % uid, tok)
    assert r.status_code == 204, r.text
    for t in (a, b):
        check_error(s.req("GET", "/auth/me", t["access_token"]), 401, "token_not_valid")
        assert s.post("/auth/refresh", {"refresh_token": t["refresh_token"]}).status_code == 401
    assert s.req("GET", "/admin/users/%d/sessions" % uid, tok).json()["sessions"] == []
    check_error(s.req("POST", "/admin/users/999999/revoke", tok), 404, "not_found")
    # delete: the user, its sessions and tokens are gone
    c = s.auth_login("gina", NEW_PASSWORD)
    assert s.req("GET", "/auth/me", c["access_token"]).status_code == 200
    r = s.req("DELETE", "/admin/users/%d" % uid, tok)
    assert r.status_code == 204, r.text
    check_error(s.req("GET", "/auth/me", c["access_token"]), 401, "token_not_valid")
    assert s.post("/api/token/verify/", {"token": c["access_token"]}).status_code == 401
    assert s.post("/auth/refresh", {"refresh_token": c["refresh_token"]}).status_code == 401
    check_error(s.req("GET", "/admin/users/%d" % uid, tok), 404, "not_found")
    check_error(s.req("DELETE", "/admin/users/%d" % uid, tok), 404, "not_found")
    url = s.env["JWTD_DATABASE_URL"]
    assert pgdb.db_query(url, "SELECT count(*) FROM sessions WHERE user_id = ?", uid)[0][0] == 0
    assert pgdb.db_query(url, "SELECT count(*) FROM user_tombstones WHERE user_id = ?",
                         uid)[0][0] == 1
    # the name is free again, the id is not reused
    nid = create(s, tok, username="gina", email="gina@example.com").json()["id"]
    assert nid > uid
    for ev in ("admin_user_sessions", "admin_user_revoke", "admin_user_delete"):
        rows = audit_events(s, ev, want=1)
        assert any(r["outcome"] == "success" and r["user_id"] == uid for r in rows), (ev, rows)


def test_deleted_user_tokens_refused_after_restart(tmp_path):
    from conftest import JwtdServer
    from svc_helpers import Svc
    env = token_env(JWTD_DATABASE_URL=pgdb.default_url(str(tmp_path)))
    first = JwtdServer(env=env)
    s = Svc(first)
    s.create_user("u_admin", email="admin@example.com", role="admin")
    s.create_user("u_user", email="user@example.com")
    first.start()
    try:
        tok = admin_token(s)
        victim = s.auth_login("u_user")
        uid = victim["user"]["id"]
        assert s.req("DELETE", "/admin/users/%d" % uid, tok).status_code == 204
    finally:
        first.stop()
    # a new process on the same database: the index reloads the tombstone, so the access
    # token, still unexpired, stays refused
    second = JwtdServer(env=env)
    second.start()
    try:
        s2 = Svc(second)
        r = s2.post("/api/token/verify/", {"token": victim["access_token"]})
        assert r.status_code == 401, r.text
        r = s2.req("GET", "/auth/introspect", victim["access_token"])
        assert r.status_code == 401
        assert s2.req("GET", "/admin/users", tok).status_code == 200
    finally:
        second.stop()


def test_delete_me(svc_factory):  # noqa: F811
    s = svc_factory(JWTD_RATE_LIMIT_LOGIN="5/minute")
    me = s.auth_login("u_instructor")
    other = s.auth_login("u_instructor")
    tok = me["access_token"]
    check_error(s.req("DELETE", "/auth/me", json={"password": TEST_PASSWORD}), 401,
                "not_authenticated")
    b = check_error(s.req("DELETE", "/auth/me", tok, json={}), 400, "invalid_request")
    assert "password" in b
    b = check_error(s.req("DELETE", "/auth/me", tok, json={"password": "wrong-password"}), 400,
                    "invalid_request")
    assert b["password"] == ["The password is not correct."]
    assert s.req("GET", "/auth/me", tok).status_code == 200  # nothing happened
    r = s.req("DELETE", "/auth/me", tok, json={"password": TEST_PASSWORD})
    assert r.status_code == 204, r.text
    for t in (me, other):
        check_error(s.req("GET", "/auth/me", t["access_token"]), 401, "token_not_valid")
        assert s.post("/auth/refresh", {"refresh_token": t["refresh_token"]}).status_code == 401
    r = s.post("/auth/login", {"username": "u_instructor", "password": TEST_PASSWORD})
    assert r.status_code in (401, 429)
    rows = audit_events(s, "account_deleted", want=2)
    assert {r["outcome"] for r in rows} == {"success", "failure"}, rows


def test_delete_me_is_throttled_like_a_login(svc_factory):  # noqa: F811
    s = svc_factory(JWTD_RATE_LIMIT_LOGIN="3/minute")
    tok = s.auth_login("u_user")["access_token"]
    codes = [s.req("DELETE", "/auth/me", tok, json={"password": "wrong-%d" % i}).status_code
             for i in range(6)]
    assert codes[0] == 400 and 429 in codes, codes
    r = s.req("DELETE", "/auth/me", tok, json={"password": "wrong"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert s.req("GET", "/auth/me", tok).status_code == 200


def test_cli_delete_and_set_role(svc):
    s = svc
    tok = admin_token(s)
    create(s, tok, username="hank", email="hank@example.com")
    hank = s.auth_login("hank", NEW_PASSWORD)
    p = s.cli("user", "set-role", "hank", "admin")
    assert "admin" in p.stdout
    # the role is in the token: the old ones are revoked (through the database poll)
    deadline = time.monotonic() + 10
    while s.req("GET", "/auth/me", hank["access_token"]).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    htok = s.auth_login("hank", NEW_PASSWORD)["access_token"]
    assert s.req("GET", "/admin/users", htok).status_code == 200
    p = s.cli("user", "set-role", "hank", "wizard", check=False)
    assert p.returncode == 2 and "role" in p.stderr
    p = s.cli("user", "set-role", "nobody", "user", check=False)
    assert p.returncode == 1 and "no such user" in p.stderr
    uid = s.req("GET", "/admin/users", htok, params={"q": "hank"}).json()["results"][0]["id"]
    p = s.cli("user", "verify-email", "hank", "--unverified")
    assert "unverified" in p.stdout
    assert s.req("GET", "/admin/users/%d" % uid, htok).json()["email_verified"] is False
    s.cli("user", "verify-email", "hank")
    assert s.req("GET", "/admin/users/%d" % uid, htok).json()["email_verified"] is True
    p = s.cli("user", "verify-email", "nobody", check=False)
    assert p.returncode == 1 and "no such user" in p.stderr
    p = s.cli("user", "delete", "nobody", check=False)
    assert p.returncode == 1 and "no such user" in p.stderr
    p = s.cli("user", "delete", "hank")
    assert "deleted" in p.stdout
    deadline = time.monotonic() + 10
    while s.req("GET", "/auth/me", htok).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert s.post("/auth/login", {"username": "hank", "password": NEW_PASSWORD}).status_code \
        == 401
    assert "hank" not in s.cli("user", "list").stdout

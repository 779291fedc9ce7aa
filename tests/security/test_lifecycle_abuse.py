"""Token-lifecycle abuse: token type confusion (a refresh token as a Bearer access token,
an access token at the refresh and blacklist endpoints, a refresh token re-typed by
re-signing is impossible without the key so the confusion is checked both ways), replay of
refresh and access tokens after logout (blacklist, cookie logout), after rotation (reuse
outside the grace revokes the whole session: the successor dies too), after a password
change, and a forged token for a session that was revoked."""

import subprocess

import pytest

from attack import check_no_leak, parts


@pytest.fixture(scope="module")
def t(targets):
    return targets("HS256", JWTD_REFRESH_REUSE_GRACE="0")


def test_token_type_confusion(t):
    pair = t.login().json()
    # refresh token as access: every Bearer route refuses it with "wrong type"
    r = t.me(pair["refresh"])
    assert r.status_code == 401 and "wrong type" in r.text, r.text
    r = t.http.get(t.url + "/api/auth/verify/",
                   headers={"Authorization": "Bearer " + pair["refresh"]}, timeout=30)
    check_no_leak(r)
    assert r.status_code == 401, r.text
    # access token where a refresh token is expected
    r = t.refresh(pair["access"])
    assert r.status_code == 401 and "wrong type" in r.text, r.text
    r = t.post("/api/token/blacklist/", {"refresh": pair["access"]})
    assert r.status_code == 401, r.text
    r = t.post("/api/auth/refresh/", {"refresh": pair["access"]})
    assert r.status_code == 401, r.text
    # the session is untouched by these attempts: the genuine pair still works
    assert t.me(pair["access"]).status_code == 200
    assert t.refresh(pair["refresh"]).status_code == 200
    # forged type swap with the real key: an access payload typed "refresh" is not in the
    # refresh table, so it cannot be used to mint tokens
    forged = t.forge(payload=dict(parts(pair["access"])[1], token_type="refresh"))
    r = t.refresh(forged)
    assert r.status_code == 401, r.text
    t.check_healthy()


def test_replay_after_logout(t):
    pair = t.login().json()
    assert t.post("/api/token/blacklist/", {"refresh": pair["refresh"]}).status_code == 200
    for _ in range(3):
        assert t.refresh(pair["refresh"]).status_code == 401
        assert t.me(pair["access"]).status_code == 401
        assert t.verify(pair["access"]).status_code == 401
        assert t.verify(pair["refresh"]).status_code == 401
    # a forged token for the revoked session (real key, fresh jti) is refused as well
    c = parts(pair["access"])[1]
    assert t.me(t.forge(payload=dict(c, jti="f" * 32))).status_code == 401
    t.check_healthy()


def test_replay_after_cookie_logout(t):
    r = t.post("/api/auth/login/", {"username": "testuser", "password": "testpass123"},
               headers={"Origin": "http://localhost:3000"})
    assert r.status_code == 200, r.text
    access = r.json()["access"]
    cookie = r.cookies.get("refresh_token")
    assert cookie
    r = t.http.post(t.url + "/api/auth/logout/", headers={
        "Authorization": "Bearer " + access, "Origin": "http://localhost:3000"}, timeout=30)
    assert r.status_code == 200, r.text
    assert t.me(access).status_code == 401
    assert t.refresh(cookie).status_code == 401
    t.check_healthy()


def test_replay_after_rotation_revokes_family(t):
    pair = t.login().json()
    r1 = t.refresh(pair["refresh"])
    assert r1.status_code == 200
    succ = r1.json()
    # grace 0: the old refresh token again is reuse -> the whole session is revoked
    r2 = t.refresh(pair["refresh"])
    assert r2.status_code == 401, r2.text
    assert t.refresh(succ["refresh"]).status_code == 401, "successor survived reuse"
    assert t.me(succ["access"]).status_code == 401, "access of a revoked family survived"
    assert t.me(pair["access"]).status_code == 401
    t.check_healthy()


def test_replay_after_password_change(t):
    pair = t.j.login("alice")
    p = subprocess.run([__import__("attack").jwtd_bin(), "user", "passwd", "alice",
                        "--password-stdin"], input="another-pass-456", env=t.j.env,
                       capture_output=True, text=True, timeout=60, cwd=t.srv.data_dir)
    assert p.returncode == 0, p.stderr
    import time
    deadline = time.time() + 5  # other-process revocations arrive by the database poll
    while time.time() < deadline and t.me(pair["access"]).status_code == 200:
        time.sleep(0.1)
    assert t.me(pair["access"]).status_code == 401
    assert t.refresh(pair["refresh"]).status_code == 401
    assert t.login("alice", "another-pass-456").status_code == 200
    t.check_healthy()

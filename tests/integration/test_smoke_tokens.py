"""Smoke test of the token lifecycle, end to end against the real binary.

login -> /api/users/me/ -> refresh (rotation) -> verify -> blacklist -> /api/users/me/
rejected; plus `jwtd token issue` and `jwtd revoke` reaching a running server through the
database (the revocation poll). The exhaustive route-by-route checks live in
test_simplejwt_*.py; this file proves the pieces are wired together.
"""

import json
import subprocess
import time

import requests

from conftest import jwtd_bin

FAST_ARGON2 = {"JWTD_ARGON2_MEMORY_KIB": "1024", "JWTD_ARGON2_ITERATIONS": "1"}


def cli(srv, *args, stdin=None):
    return subprocess.run([jwtd_bin()] + list(args), env=srv.env, cwd=srv.data_dir,
                          input=stdin, capture_output=True, text=True, timeout=60)


def create_user(srv, name, password):
    r = cli(srv, "user", "create", name, "--email", name + "@example.com", "--first-name",
            "Smoke", "--last-name", "Test", "--password-stdin", stdin=password + "\n")
    assert r.returncode == 0, r.stderr


def bearer(token):
    return {"Authorization": "Bearer " + token}


def test_login_me_refresh_verify_blacklist(jwtd_server):
    srv = jwtd_server(env=FAST_ARGON2)
    create_user(srv, "smoke", "smokepass123")
    u = srv.url

    r = requests.post(u + "/api/token/", json={"username": "smoke", "password": "smokepass123"})
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert set(body) == {"refresh", "access", "user"}
    assert body["user"]["username"] == "smoke"
    assert body["user"]["role"] == "user"
    assert isinstance(body["user"]["id"], int)
    access, refresh = body["access"], body["refresh"]

    r = requests.get(u + "/api/users/me/", headers=bearer(access))
    assert r.status_code == 200, r.text
    assert r.json() == body["user"]

    r = requests.post(u + "/api/token/refresh/", json={"refresh": refresh})
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert set(rotated) == {"access", "refresh"}
    assert rotated["refresh"] != refresh
    # within the grace period the old token yields the same successor
    again = requests.post(u + "/api/token/refresh/", json={"refresh": refresh}).json()
    assert again["refresh"] == rotated["refresh"]

    for tok in (rotated["access"], rotated["refresh"]):
        r = requests.post(u + "/api/token/verify/", json={"token": tok})
        assert r.status_code == 200 and r.json() == {}, r.text
    r = requests.post(u + "/api/token/verify/", json={"token": refresh})  # used: blacklisted
    assert r.status_code == 401
    assert r.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}

    r = requests.post(u + "/api/token/blacklist/", json={"refresh": rotated["refresh"]})
    assert r.status_code == 200 and r.json() == {}, r.text

    # logout is enforced at once for every access token of the session
    for tok in (access, rotated["access"]):
        r = requests.get(u + "/api/users/me/", headers=bearer(tok))
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
        assert r.json()["messages"][0]["message"] == "Token is blacklisted"
    r = requests.post(u + "/api/token/refresh/", json={"refresh": rotated["refresh"]})
    assert r.status_code == 401
    assert r.json()["detail"] == "Token is blacklisted"


def test_cli_issue_and_revoke_reach_the_running_server(jwtd_server):
    srv = jwtd_server(env=FAST_ARGON2)
    create_user(srv, "operator", "operatorpass1")
    r = cli(srv, "token", "issue", "--user", "operator")
    assert r.returncode == 0, r.stderr
    pair = json.loads(r.stdout)
    me = requests.get(srv.url + "/api/users/me/", headers=bearer(pair["access"]))
    assert me.status_code == 200 and me.json()["username"] == "operator"

    r = cli(srv, "revoke", "--user", "operator")
    assert r.returncode == 0, r.stderr
    revoked_at = time.monotonic()
    while True:  # the server polls the database every second
        me = requests.get(srv.url + "/api/users/me/", headers=bearer(pair["access"]))
        if me.status_code == 401:
            break
        assert time.monotonic() - revoked_at < 3.0, "revocation not applied within 3 s"
        time.sleep(0.05)
    r = requests.post(srv.url + "/api/token/refresh/", json={"refresh": pair["refresh"]})
    assert r.status_code == 401

    assert cli(srv, "token", "issue", "--user", "nobody").returncode == 1


def test_wellknown_routes(jwtd_server):
    srv = jwtd_server(env=FAST_ARGON2)
    r = requests.get(srv.url + "/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.json() == {"keys": []}  # HS256: the secret is never published
    assert "max-age" in r.headers["Cache-Control"]
    r = requests.get(srv.url + "/.well-known/openid-configuration")
    assert r.status_code == 200
    doc = r.json()
    assert doc["jwks_uri"].endswith("/.well-known/jwks.json")
    assert doc["token_endpoint"].endswith("/oauth/token")  # the OpenID Connect provider
    assert doc["refresh_endpoint"].endswith("/api/token/refresh/")
    # an HS-only deployment signs no ID token (they need an asymmetric key)
    assert doc["id_token_signing_alg_values_supported"] == []

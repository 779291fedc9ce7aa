"""IP allowlists (issue 9, token binding options): JWTD_IP_ALLOWLIST for the whole
deployment and JWTD_ADMIN_IP_ALLOWLIST for admin tokens, with X-Forwarded-For believed only
from JWTD_TRUSTED_PROXIES (a client cannot spoof its way in with the header)."""

import requests

from peers import TEST_PASSWORD, tokens  # noqa: F401 (fixture)


def test_deployment_allowlist_and_xff_trust(tokens):
    j = tokens(JWTD_IP_ALLOWLIST="10.0.0.0/8, 192.168.1.0/24")
    r = requests.get(j.url + "/api/users/me/", timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied", r.text
    assert j.post("/api/token/", {"username": "testuser",
                                  "password": "testpass123"}).status_code == 403
    assert requests.get(j.url + "/healthz", timeout=30).status_code == 200  # LB probe
    # X-Forwarded-For from an untrusted peer (no JWTD_TRUSTED_PROXIES) is ignored
    r = requests.post(j.url + "/api/token/", json={"username": "testuser",
                                                  "password": "testpass123"},
                      headers={"X-Forwarded-For": "10.1.2.3"}, timeout=30)
    assert r.status_code == 403, r.text


def test_deployment_allowlist_behind_trusted_proxy(tokens):
    j = tokens(JWTD_IP_ALLOWLIST="10.0.0.0/8", JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    ok = {"X-Forwarded-For": "10.1.2.3"}
    r = requests.post(j.url + "/api/token/", json={"username": "testuser",
                                                  "password": "testpass123"}, headers=ok,
                      timeout=30)
    assert r.status_code == 200, r.text
    tok = r.json()["access"]
    assert requests.get(j.url + "/api/users/me/", headers=dict(
        ok, Authorization="Bearer " + tok), timeout=30).status_code == 200
    # the proxy says the client is outside: refused, even with a valid token
    for xff in ("11.0.0.1", "10.1.2.3, 11.0.0.1", "garbage"):
        r = requests.get(j.url + "/api/users/me/", headers={
            "X-Forwarded-For": xff, "Authorization": "Bearer " + tok}, timeout=30)
        assert r.status_code == 403, (xff, r.status_code)
    # a spoofed left-most entry does not help: the right-most untrusted hop counts
    r = requests.get(j.url + "/api/users/me/", headers={
        "X-Forwarded-For": "10.9.9.9, 8.8.8.8", "Authorization": "Bearer " + tok}, timeout=30)
    assert r.status_code == 403


def test_admin_tokens_only_from_admin_networks(tokens):
    j = tokens(users=("testuser",), JWTD_ADMIN_IP_ALLOWLIST="10.0.0.0/8",
               JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    j.create_user("boss", email="boss@example.com", first="B", last="Oss", role="admin")
    import time
    time.sleep(1.2)  # the user cache / db poll
    admin = j.login("boss")["access"]
    user = j.login()["access"]
    r = j.me(admin)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied", r.text
    assert j.get("/api/users/me/", token=admin,
                 headers={"X-Forwarded-For": "10.0.0.5"}).status_code == 200
    r = j.get("/admin/dashboard", token=admin)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied", r.text
    assert j.get("/admin/dashboard", token=admin,
                 headers={"X-Forwarded-For": "10.0.0.5"}).status_code == 200
    assert j.me(user).status_code == 200  # other roles: anywhere

"""Revocation (docs/api.md §10; issue 4 items 3-4): a revoked token is rejected by every
request - at once after a logout, on every worker; the whole session dies on refresh-token
reuse after the grace; revocations survive a restart; `jwtd revoke --user`, `jwtd user
passwd` and `jwtd user disable` run while the server runs reach it within a bounded delay
(the server polls the database about every second)."""

import os
import threading
import time

import requests

import pgdb
from peers import (NOT_VALID_ANY, SHARED_SECRET, TEST_PASSWORD, claims, resign,
                   tokens)  # noqa: F401 (fixtures)

BLACKLISTED = {"detail": "Token is blacklisted", "code": "token_not_valid"}
POLL_BOUND_S = 5.0  # generous for ASan and a busy machine; typical is about 1 s


def fresh_me(url, token):
    """/api/users/me/ on a NEW connection (SO_REUSEPORT spreads them over the workers)."""
    return requests.get(url + "/api/users/me/", headers={
        "Authorization": "Bearer " + token, "Connection": "close"}, timeout=30)


def wait_rejected(j, token, bound=POLL_BOUND_S):
    """Polls until the token is rejected on /api/users/me/; returns the delay in seconds."""
    t0 = time.monotonic()
    while True:
        r = fresh_me(j.url, token)
        if r.status_code == 401:
            return time.monotonic() - t0, r
        assert r.status_code == 200, r.text
        if time.monotonic() - t0 > bound:
            raise AssertionError("token still accepted %.1f s after the revocation" % bound)
        time.sleep(0.05)


def assert_dead(j, access=(), refresh=()):
    for a in access:
        r = fresh_me(j.url, a)
        assert r.status_code == 401, "access token accepted: %s" % r.text
        assert r.json()["code"] == "token_not_valid" and r.json()["detail"] == NOT_VALID_ANY
        v = j.verify(a)
        assert v.status_code == 401 and v.json()["code"] == "token_not_valid", v.text
    for t in refresh:
        r = j.refresh(t)
        assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text


def assert_alive(j, access=(), refresh=()):
    for a in access:
        assert fresh_me(j.url, a).status_code == 200
    for t in refresh:
        r = j.refresh(t)
        assert r.status_code == 200, r.text


def test_logout_rejects_access_at_once_on_every_worker(tokens):
    j = tokens(workers=2)
    pair = j.login()
    for _ in range(6):
        assert fresh_me(j.url, pair["access"]).status_code == 200
    r = j.blacklist(pair["refresh"])
    assert r.status_code == 200, r.text
    # no sleep: 20 new connections, so both workers answer some of them
    for _ in range(20):
        r = fresh_me(j.url, pair["access"])
        assert r.status_code == 401, "revoked access token accepted: %s" % r.text
        assert r.json()["messages"][0]["message"] == "Token is blacklisted", r.text
    v = j.verify(pair["access"])
    assert v.status_code == 401 and v.json() == BLACKLISTED, v.text


def test_verify_route_cache_sees_a_logout_at_once(tokens):
    """The verify route answers a known access token from the verified-token cache: the
    revocation index is still consulted on every hit, on every worker."""
    j = tokens(workers=2)
    pair = j.login()
    for _ in range(6):  # new connections: both workers cache it
        r = requests.post(j.url + "/api/token/verify/", json={"token": pair["access"]},
                          headers={"Connection": "close"}, timeout=30)
        assert r.status_code == 200, r.text
    assert j.verify(pair["refresh"]).status_code == 200  # a refresh token: never cached
    assert j.blacklist(pair["refresh"]).status_code == 200
    for _ in range(20):
        r = requests.post(j.url + "/api/token/verify/", json={"token": pair["access"]},
                          headers={"Connection": "close"}, timeout=30)
        assert r.status_code == 401 and r.json() == BLACKLISTED, r.text
    r = j.verify(pair["refresh"])
    assert r.status_code == 401 and r.json() == BLACKLISTED, r.text


def test_reuse_after_grace_kills_the_session(tokens):
    j = tokens(JWTD_REFRESH_REUSE_GRACE="1s")
    s0 = j.login()
    other = j.login()  # another session of the same user
    r1 = j.refresh(s0["refresh"])
    assert r1.status_code == 200, r1.text
    s1 = r1.json()
    assert j.me(s1["access"]).status_code == 200
    time.sleep(2.2)  # past the 1 s grace
    reuse = j.refresh(s0["refresh"])
    assert reuse.status_code == 401, "reuse after the grace accepted: %s" % reuse.text
    assert reuse.json() == BLACKLISTED, reuse.text
    assert reuse.headers["WWW-Authenticate"].startswith('Bearer realm="api"')
    # the whole session is dead: the successor and every access token of the session
    assert_dead(j, access=[s0["access"], s1["access"]], refresh=[s1["refresh"]])
    assert j.refresh(s0["refresh"]).status_code == 401  # and stays dead
    # other sessions are not touched
    assert_alive(j, access=[other["access"]], refresh=[other["refresh"]])


def test_reuse_of_grandparent_kills_the_descendants(tokens):
    """R0 -> R1 -> R2; R1 presented again after the grace: R2 (the live end of the chain)
    and every access token of the session are dead."""
    j = tokens(JWTD_REFRESH_REUSE_GRACE="1s")
    s0 = j.login()
    s1 = j.refresh(s0["refresh"]).json()
    s2 = j.refresh(s1["refresh"]).json()
    time.sleep(2.2)
    reuse = j.refresh(s1["refresh"])
    assert reuse.status_code == 401 and reuse.json() == BLACKLISTED, reuse.text
    assert_dead(j, access=[s0["access"], s1["access"], s2["access"]], refresh=[s2["refresh"]])


def test_blacklist_racing_refresh_leaves_no_live_successor(tokens):
    """A logout racing 8 refreshes of the same token: whatever the interleaving, once the
    logout answered 200 no token of the session works (no successor escapes)."""
    j = tokens()
    pair = j.login()
    barrier = threading.Barrier(9)
    out = {"refresh": [], "blacklist": None}

    def refresher():
        s = requests.Session()
        s.get(j.url + "/healthz", timeout=30)
        barrier.wait()
        r = s.post(j.url + "/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=60)
        out["refresh"].append((r.status_code, r.json()))

    def logout():
        s = requests.Session()
        s.get(j.url + "/healthz", timeout=30)
        barrier.wait()
        r = s.post(j.url + "/api/token/blacklist/", json={"refresh": pair["refresh"]},
                   timeout=60)
        out["blacklist"] = (r.status_code, r.json())

    threads = [threading.Thread(target=refresher) for _ in range(8)]
    threads.append(threading.Thread(target=logout))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for status, body in out["refresh"]:
        assert status in (200, 401), (status, body)
    live = [b for s, b in out["refresh"] if s == 200]
    assert len({claims(b["refresh"])["jti"] for b in live}) <= 1, "forked under the race"
    if out["blacklist"][0] != 200:
        # the rotation won: the presented token was already rotated out (golden 28 text);
        # the client logs out with the successor it got
        assert out["blacklist"] == (401, BLACKLISTED), out["blacklist"]
        assert live, "logout refused but no refresh succeeded"
        assert j.blacklist(live[0]["refresh"]).status_code == 200
    assert_dead(j, access=[pair["access"]] + [b["access"] for b in live],
                refresh=[b["refresh"] for b in live])


def test_reuse_with_zero_grace(tokens):
    """JWTD_REFRESH_REUSE_GRACE=0: any second presentation is reuse (golden 11 status and
    body), and it also kills the session (Django does not)."""
    j = tokens(JWTD_REFRESH_REUSE_GRACE="0")
    s0 = j.login()
    s1 = j.refresh(s0["refresh"]).json()
    reuse = j.refresh(s0["refresh"])
    assert reuse.status_code == 401 and reuse.json() == BLACKLISTED, reuse.text
    assert_dead(j, access=[s1["access"]], refresh=[s1["refresh"]])


def test_revocations_survive_restart(tokens, tmp_path):
    db = pgdb.new_url() if pgdb.enabled() else "sqlite:%s" % os.path.join(str(tmp_path), "jwtd.db")
    j1 = tokens(users=("testuser", "alice"), JWTD_DATABASE_URL=db)
    logged_out, kept = j1.login(), j1.login()
    rotated = j1.refresh(kept["refresh"]).json()
    alice = j1.login("alice")
    assert j1.blacklist(logged_out["refresh"]).status_code == 200
    j1.cli("revoke", "--user", "alice")
    wait_rejected(j1, alice["access"])
    j1.srv.stop()

    j2 = tokens(users=(), JWTD_DATABASE_URL=db)
    assert_dead(j2, access=[logged_out["access"], alice["access"]],
                refresh=[logged_out["refresh"], alice["refresh"]])
    # the session that was not logged out survives the restart
    assert_alive(j2, access=[kept["access"], rotated["access"]], refresh=[rotated["refresh"]])
    time.sleep(1.1)  # the watermark has second resolution: log in after it
    assert_alive(j2, access=[j2.login("alice")["access"]])


def test_cli_revoke_reaches_running_server(tokens):
    j = tokens(users=("testuser", "alice"))
    a, b = j.login(), j.login()
    alice = j.login("alice")
    t0 = time.monotonic()
    p = j.cli("revoke", "--user", "testuser")
    cli_s = time.monotonic() - t0
    delay, r = wait_rejected(j, a["access"])
    print("jwtd revoke --user: CLI %.2f s, then rejected by the server after %.2f s"
          % (cli_s, delay))
    assert r.json()["code"] == "token_not_valid"
    assert_dead(j, access=[a["access"], b["access"]], refresh=[a["refresh"], b["refresh"]])
    assert_alive(j, access=[alice["access"]], refresh=[alice["refresh"]])
    time.sleep(1.1)
    fresh = j.login()
    assert_alive(j, access=[fresh["access"]], refresh=[fresh["refresh"]])
    assert p.returncode == 0


def test_cli_revoke_unknown_user_fails(tokens):
    j = tokens()
    p = j.cli("revoke", "--user", "nobody", check=False)
    assert p.returncode != 0
    assert "nobody" in (p.stderr + p.stdout)


def test_password_change_revokes_all_sessions(tokens):
    j = tokens()
    a, b = j.login(), j.login()
    new_password = "a-new-passphrase-42"
    j.cli("user", "passwd", "testuser", "--password-stdin", stdin=new_password)
    wait_rejected(j, a["access"])
    assert_dead(j, access=[b["access"]], refresh=[a["refresh"], b["refresh"]])
    r = j.post("/api/token/", {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "no_active_account", r.text
    time.sleep(1.1)
    fresh = j.login("testuser", new_password)
    assert_alive(j, access=[fresh["access"]])


def test_disable_revokes_and_blocks_login(tokens):
    j = tokens(users=("testuser", "bob"))
    bob = j.login("bob")
    j.cli("user", "disable", "bob")
    wait_rejected(j, bob["access"])
    assert_dead(j, refresh=[bob["refresh"]])
    r = j.post("/api/token/", {"username": "bob", "password": TEST_PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "no_active_account", r.text


def test_revoked_token_stays_rejected_after_forged_extension(tokens):
    """Re-signing a revoked session's access token with a later exp (as if the key had
    leaked) does not escape the session revocation: the sid is revoked, not the string."""
    j = tokens()
    pair = j.login()
    assert j.blacklist(pair["refresh"]).status_code == 200
    c = claims(pair["access"])
    forged = resign(pair["access"], SHARED_SECRET, jti="f" * 32, exp=c["exp"] + 600)
    r = fresh_me(j.url, forged)
    assert r.status_code == 401, r.text


def test_concurrent_revocations_of_one_user(tokens):
    """A logout, a logout-all, a password change and a blacklist of one user's four sessions,
    sent at once, many times: none answers 5xx (on PostgreSQL they once deadlocked on the
    revocation feed's lock: 40P01, 503), and what each one that answered success revoked
    stays revoked. The logout-all and the password change revoke each other's session, so
    at least one of them succeeds: the one that does decides which sessions must be dead."""
    j = tokens()
    password = TEST_PASSWORD
    clients = [requests.Session() for _ in range(4)]
    for c in clients:
        c.get(j.url + "/healthz", timeout=30)

    def bearer(token):
        return {"Authorization": "Bearer " + token}

    for rnd in range(12):
        s = [j.login("testuser", password) for _ in range(4)]
        new_password = "rotating-Secret-%02d" % rnd
        calls = [
            lambda c: c.post(j.url + "/auth/logout", headers=bearer(s[0]["access"]), timeout=60),
            lambda c: c.post(j.url + "/auth/logout-all", headers=bearer(s[1]["access"]),
                             timeout=60),
            lambda c: c.post(j.url + "/auth/password/change", headers=bearer(s[2]["access"]),
                             json={"current_password": password, "new_password": new_password},
                             timeout=60),
            lambda c: c.post(j.url + "/api/token/blacklist/", json={"refresh": s[3]["refresh"]},
                             timeout=60),
        ]
        barrier = threading.Barrier(len(calls))
        out = [None] * len(calls)

        def run(i):
            barrier.wait()
            out[i] = calls[i](clients[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        st = [r.status_code for r in out]
        for r in out:
            assert r.status_code < 500, (rnd, r.status_code, r.text)
        assert st[0] in (204, 401) and st[1] in (204, 401), (rnd, st)
        assert st[2] in (200, 401) and st[3] in (200, 401), (rnd, st)
        assert st[1] == 204 or st[2] == 200, (rnd, st)
        if st[2] == 200:
            password = new_password
        if st[1] == 204:  # logout-all: every session of the four
            assert_dead(j, access=[p["access"] for p in s], refresh=[p["refresh"] for p in s])
        else:  # the password change alone: every session but its own
            assert_dead(j, access=[p["access"] for p in s[:2] + s[3:]],
                        refresh=[p["refresh"] for p in s[:2] + s[3:]])
            assert_alive(j, access=[s[2]["access"]])

"""The revocation feed (issue 20): GET /auth/revocations/stream and the long poll of
GET /auth/revocations, read with a verifier key from `jwtd verifier create`, followed by
  * a FastAPI service using clients/python (jwtd_verifier) as its README shows
    (feed_fastapi_service.py), and
  * examples/resource-server-c with --feed-url (libjwtv's revocation set),
both verifying jwtd's RS256 tokens locally.

* a logout, a logout-all, a password change (the CLI) and a refresh-token reuse each make
  both verifiers refuse the affected tokens, and only those;
* restarting jwtd (with a revocation made by the CLI while it is down), restarting the
  verifier, and a feed connection cut mid-stream lose no revocation;
* a wrong or missing credential is refused; the feed never carries token text;
* cursors: the long poll answers events after a cursor, waits for new ones, and a cursor
  from before the retained history gets the snapshot;
* two jwtd instances on one Redis: a logout on one reaches a verifier following the other.
Runs on SQLite, and on PostgreSQL with JWTD_TEST_DB=pg (Makefile PG_TESTS).
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import jwt
import pytest
import requests

from conftest import JwtdServer
from peers import TEST_PASSWORD, jwtd_bin, token_env
from redis_util import RedisServer, free_port
from svc_helpers import Svc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
RS_BIN = os.path.join(os.path.dirname(os.path.abspath(jwtd_bin())), "resource-server")
TIMEOUT = 10.0
START_TIMEOUT = 60.0  # a verifier's start (imports, first snapshot) on a loaded machine


def wait_until(fn, timeout=TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


# ---- the verifiers ------------------------------------------------------------------------

class FastApiVerifier:
    """feed_fastapi_service.py (uvicorn) following jwtd's feed."""

    name = "fastapi"

    def __init__(self, jwtd_url, key, **env):
        self.tmp = tempfile.mkdtemp(prefix="jwtd-feed-fastapi-")
        self.port_file = os.path.join(self.tmp, "port")
        e = dict(os.environ)
        e.update({"JWTD_URL": jwtd_url, "JWTD_VERIFIER_KEY": key, "PORT_FILE": self.port_file,
                  "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "clients", "python"), HERE])})
        e.update(env)
        self.log = open(os.path.join(self.tmp, "log"), "wb")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "feed_fastapi_service.py")],
                                     env=e, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: os.path.exists(self.port_file) or self.proc.poll() is not None,
                   timeout=START_TIMEOUT, what="the FastAPI service")
        assert self.proc.poll() is None, open(os.path.join(self.tmp, "log")).read()
        with open(self.port_file) as f:
            self.url = "http://127.0.0.1:%s" % f.read().strip()
        wait_until(self._ready, timeout=START_TIMEOUT, what="the FastAPI service's feed")

    def _ready(self):
        try:
            return requests.get(self.url + "/_feed", timeout=5).json()["ready"]
        except requests.RequestException:
            return False

    def feed(self):
        return requests.get(self.url + "/_feed", timeout=5).json()

    def status(self, token):
        return requests.get(self.url + "/protected", headers={"Authorization": "Bearer " + token},
                            timeout=10).status_code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class CVerifier:
    """examples/resource-server-c with --feed-url: libjwtv's revocation set."""

    name = "c"

    def __init__(self, jwtd_url, key, **env):
        self.proc = subprocess.Popen(
            [RS_BIN, "--listen", "127.0.0.1:0", "--threads", "2",
             "--jwks-url", jwtd_url + "/.well-known/jwks.json",
             "--feed-url", jwtd_url + "/auth/revocations/stream"],
            env=dict(os.environ, JWTD_VERIFIER_KEY=key), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if "listening on " not in line:
            self.proc.kill()
            raise RuntimeError("resource-server did not start: %r %s"
                               % (line, self.proc.stderr.read().decode()))
        self.url = line.split("listening on ", 1)[1]
        wait_until(lambda: self.feed().get("feed_ready"), timeout=START_TIMEOUT,
                   what="the C server's feed")

    def feed(self):
        return requests.get(self.url + "/_stats", timeout=5).json()

    def status(self, token):
        return requests.get(self.url + "/protected", headers={"Authorization": "Bearer " + token},
                            timeout=10).status_code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


VERIFIERS = [FastApiVerifier, CVerifier]


# ---- jwtd ---------------------------------------------------------------------------------

class Jwtd:
    """A jwtd signing RS256 on a fixed port (so that it can restart where verifiers expect it),
    with users and a verifier key."""

    def __init__(self, tmp, extra_env=None, key_file=None, create_users=True):
        self.key_file = key_file or os.path.join(tmp, "signing.pem")
        if not key_file:
            subprocess.run([jwtd_bin(), "keygen", "--alg", "RS256", "--out", self.key_file],
                           check=True, capture_output=True)
        env = token_env(JWTD_ALGORITHM="RS256", JWTD_SECRET_KEY=None,
                        JWTD_SIGNING_KEY_FILE=self.key_file, JWTD_REFRESH_REUSE_GRACE="0",
                        JWTD_LISTEN="127.0.0.1:%d" % free_port())
        env.update(extra_env or {})
        self.srv = JwtdServer(env=env)
        self.svc = Svc(self.srv)
        if create_users:
            for name in ("alice", "bob", "carol"):
                self.svc.create_user(name, email=name + "@example.com")
        self.srv.start()
        self.url = self.srv.url

    def verifier_key(self, name="rs"):
        return self.svc.cli("verifier", "create", name).stdout.strip()

    def login(self, name):
        r = self.svc.post("/api/token/", {"username": name, "password": TEST_PASSWORD})
        assert r.status_code == 200, r.text
        return r.json()

    def restart(self):
        self.srv.signal(signal.SIGTERM)
        assert self.srv.wait() == 0, self.srv.stderr()
        self.srv.proc.stdout.close()
        self.srv._stderr.close()
        self.srv.start()
        assert self.srv.url == self.url

    def stop(self):
        self.srv.stop()


@pytest.fixture
def jwtd(tmp_path):
    j = Jwtd(str(tmp_path))
    yield j
    j.stop()


@pytest.fixture
def verifiers():
    started = []
    yield started
    for v in started:
        v.stop()


def poll(url, key, since=None, wait=None, raw=False):
    params = {}
    if since is not None:
        params["since"] = since
    if wait is not None:
        params["wait"] = wait
    r = requests.get(url + "/auth/revocations", params=params,
                     headers={"Authorization": "Bearer " + key}, timeout=70)
    return r if raw else r.json()


# ---- tests --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", VERIFIERS, ids=lambda k: k.name)
def test_revocations_reach_the_verifier_and_only_the_affected_tokens(jwtd, verifiers, kind):
    key = jwtd.verifier_key()
    v = kind(jwtd.url, key)
    verifiers.append(v)
    a1, a2, b1, c1 = (jwtd.login("alice"), jwtd.login("alice"), jwtd.login("bob"),
                      jwtd.login("carol"))
    live = {"a1": a1["access"], "a2": a2["access"], "b1": b1["access"], "c1": c1["access"]}
    for name, t in live.items():
        assert v.status(t) == 200, name

    def expect(revoked):
        for name in revoked:
            wait_until(lambda: v.status(live[name]) == 401, what=name + " refused")
        for name in set(live) - set(revoked):
            assert v.status(live[name]) == 200, name + " must stay valid"

    # a logout (SimpleJWT's blacklist of the refresh token): that session only
    assert jwtd.svc.blacklist(a1["refresh"]).status_code == 200
    expect({"a1"})

    # a refresh-token reuse: bob's whole session, the rotated successor's access token too
    r = jwtd.svc.refresh(b1["refresh"])
    assert r.status_code == 200
    live["b2"] = r.json()["access"]
    assert v.status(live["b2"]) == 200
    assert jwtd.svc.refresh(b1["refresh"]).status_code == 401  # reuse
    expect({"a1", "b1", "b2"})

    # logout-all: every token of alice
    r = jwtd.svc.http.post(jwtd.url + "/auth/logout-all",
                           headers={"Authorization": "Bearer " + a2["access"]}, timeout=10)
    assert r.status_code in (200, 204), r.text
    expect({"a1", "b1", "b2", "a2"})

    # a password change with the CLI (another process: reaches jwtd through the database)
    jwtd.svc.cli("user", "passwd", "carol", "--password-stdin", stdin="An0ther-pass-word")
    expect({"a1", "b1", "b2", "a2", "c1"})

    # a new login after all that is valid
    fresh = jwtd.login("alice")["access"]
    assert v.status(fresh) == 200


def test_feed_contents_credentials_and_cursors(jwtd):
    key = jwtd.verifier_key()
    url = jwtd.url
    # wrong, missing and malformed credentials: 401 with the contract's body
    for headers in ({}, {"Authorization": "Bearer jwtdv_" + "0" * 64},
                    {"Authorization": "Bearer " + key[:-1] + "x"}, {"Authorization": "Basic abc"}):
        for path in ("/auth/revocations/stream", "/auth/revocations?since=0"):
            r = requests.get(url + path, headers=headers, timeout=10)
            assert r.status_code == 401, (path, headers, r.text)
            assert r.json()["code"] in ("not_authenticated", "bad_authorization_header",
                                        "token_not_valid")
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # a user's access token is not a verifier credential on the stream
    t = jwtd.login("bob")
    r = requests.get(url + "/auth/revocations/stream", timeout=10,
                     headers={"Authorization": "Bearer " + t["access"]})
    assert r.status_code == 401
    # a deleted verifier's key is refused
    other = jwtd.verifier_key("gone")
    assert poll(url, other, since=0, raw=True).status_code == 200
    jwtd.svc.cli("verifier", "delete", "gone")
    assert poll(url, other, since=0, raw=True).status_code == 401
    listing = jwtd.svc.cli("verifier", "list").stdout
    assert "rs" in listing and "gone" not in listing and key not in listing
    # bad input
    for q in ("since=abc", "since=-1", "since=0&wait=61", "since=0&wait=x"):
        r = requests.get(url + "/auth/revocations?" + q, timeout=10,
                         headers={"Authorization": "Bearer " + key})
        assert r.status_code == 400 and r.json()["code"] == "invalid_request", q

    # cursors: a snapshot without one, then events after a cursor, then a long poll
    snap = poll(url, key)
    c0 = snap["cursor"]
    tokens = [jwtd.login("alice"), jwtd.login("carol")]
    assert jwtd.svc.blacklist(tokens[0]["refresh"]).status_code == 200
    got = poll(url, key, since=c0)
    assert [e["type"] for e in got["events"]] == ["sid"]
    ev = got["events"][0]
    assert int(ev["cursor"]) > int(c0) and ev["until"] > time.time()
    assert got["cursor"] == ev["cursor"]
    assert poll(url, key, since=got["cursor"], wait=0)["events"] == []

    result = {}

    def waiter():
        t0 = time.monotonic()
        result["r"] = poll(url, key, since=got["cursor"], wait=30)
        result["t"] = time.monotonic() - t0

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)
    jwtd.svc.cli("revoke", "--user", "carol")  # another process: the database poll
    th.join(40)
    kinds = sorted(e["type"] for e in result["r"]["events"])
    assert "user" in kinds and result["t"] < 30
    user_ev = [e for e in result["r"]["events"] if e["type"] == "user"][0]
    assert user_ev["value"] == str(tokens[1]["user"]["id"]) and user_ev["before"] > 0

    # a cursor the server cannot place (ahead of every event): the snapshot, which holds
    # everything still in force
    snap = poll(url, key, since=10 ** 12)
    values = {(e["type"], e["value"]) for e in snap["events"]}
    assert ("sid", ev["value"]) in values and ("user", user_ev["value"]) in values

    # the stream: the same events, then ": ready"; never any token text
    with requests.get(url + "/auth/revocations/stream", stream=True, timeout=10,
                      headers={"Authorization": "Bearer " + key}) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        body = b""
        for chunk in r.iter_content(chunk_size=1):
            body += chunk
            if body.endswith(b": ready\n\n"):
                break
    text = body.decode()
    assert "event: revocation" in text and ev["value"] in text
    everything = text + json.dumps(snap) + json.dumps(got) + json.dumps(result["r"])
    for t in tokens:
        for part in (t["access"], t["refresh"]):
            for segment in part.split("."):
                assert segment not in everything
    # metrics
    m = requests.get(url + "/metrics", timeout=10).text
    assert "jwtd_revocation_feed_events_total" in m and "jwtd_revocation_feed_clients" in m


@pytest.mark.parametrize("kind", VERIFIERS, ids=lambda k: k.name)
def test_restarts_and_cut_connections_lose_nothing(jwtd, verifiers, kind):
    key = jwtd.verifier_key()
    v = kind(jwtd.url, key)
    verifiers.append(v)
    a, b, c = jwtd.login("alice"), jwtd.login("bob"), jwtd.login("carol")
    assert v.status(a["access"]) == 200

    # jwtd stops; the CLI revokes alice meanwhile; jwtd comes back: the verifier reconnects
    # with its last cursor and gets the revocation it missed
    jwtd.srv.signal(signal.SIGTERM)
    assert jwtd.srv.wait() == 0
    jwtd.svc.cli("revoke", "--user", "alice")
    assert v.status(a["access"]) == 200  # it cannot know yet: keeps the last state
    jwtd.srv.proc.stdout.close()
    jwtd.srv._stderr.close()
    jwtd.srv.start()
    wait_until(lambda: v.status(a["access"]) == 401, what="alice refused after the restart")
    assert v.status(b["access"]) == 200

    # the feed connection cut mid-stream (jwtd restarts again); a revocation right after
    jwtd.restart()
    assert jwtd.svc.blacklist(b["refresh"]).status_code == 200
    wait_until(lambda: v.status(b["access"]) == 401, what="bob refused after the cut")
    assert v.status(c["access"]) == 200

    # the verifier restarts: the snapshot brings back everything still in force
    v.stop()
    verifiers.remove(v)
    v2 = kind(jwtd.url, key)
    verifiers.append(v2)
    assert v2.status(a["access"]) == 401
    assert v2.status(b["access"]) == 401
    assert v2.status(c["access"]) == 200


def test_python_helper_staleness_and_fail_closed(jwtd, verifiers):
    """clients/python: staleness is exposed; fail_closed refuses (503) beyond the bound."""
    key = jwtd.verifier_key()
    v = FastApiVerifier(jwtd.url, key, VERIFIER_FAIL_CLOSED="1", VERIFIER_MAX_STALENESS="0.5")
    verifiers.append(v)
    t = jwtd.login("bob")["access"]
    assert v.status(t) == 200 and v.feed()["staleness"] == 0
    jwtd.srv.signal(signal.SIGTERM)
    assert jwtd.srv.wait() == 0
    wait_until(lambda: v.status(t) == 503, what="fail closed")
    assert v.feed()["staleness"] > 0.5
    jwtd.srv.proc.stdout.close()
    jwtd.srv._stderr.close()
    jwtd.srv.start()
    wait_until(lambda: v.status(t) == 200, what="recovered")
    # a wrong key: the helper never becomes ready and, failing closed, refuses
    bad = FastApiVerifier.__new__(FastApiVerifier)
    with pytest.raises(AssertionError):
        FastApiVerifier.__init__(bad, jwtd.url, "jwtdv_" + "1" * 64, VERIFIER_FAIL_CLOSED="1")
    bad.stop()


@pytest.mark.skipif(os.environ.get("JWTD_TEST_DB") == "pg", reason="Redis pair: SQLite run only")
def test_two_instances_on_one_redis(tmp_path, verifiers):
    """A logout on instance A reaches a verifier that follows instance B (Redis pub/sub)."""
    redis = RedisServer().start()
    db = os.path.join(str(tmp_path), "shared.db")
    try:
        env = {"JWTD_REDIS_URL": redis.url, "JWTD_DATABASE_URL": "sqlite:" + db}
        a = Jwtd(str(tmp_path), extra_env=env)
        b = Jwtd(str(tmp_path), extra_env=env, key_file=a.key_file, create_users=False)
        try:
            key = a.verifier_key()
            for kind in VERIFIERS:
                verifiers.append(kind(b.url, key))
            t = a.login("alice")
            for v in verifiers:
                assert v.status(t["access"]) == 200
            assert a.svc.blacklist(t["refresh"]).status_code == 200
            for v in verifiers:
                wait_until(lambda: v.status(t["access"]) == 401, what=v.name + " via B")
        finally:
            a.stop()
            b.stop()
    finally:
        redis.stop()


def test_deleted_user_is_a_feed_event(jwtd):
    """Deleting a user takes its sessions with it (no session event is left to send): its
    tombstone is the revocation the feed carries, a user watermark verifiers apply."""
    key = jwtd.verifier_key()
    t = jwtd.login("carol")
    c0 = poll(jwtd.url, key)["cursor"]
    uid = str(jwt.decode(t["access"], options={"verify_signature": False})["user_id"])
    jwtd.svc.cli("user", "delete", "carol")
    got = poll(jwtd.url, key, since=c0, wait=10)
    users = [e for e in got["events"] if e["type"] == "user"]
    assert [e["value"] for e in users] == [uid], got
    assert users[0]["before"] >= int(time.time()) - 5, users

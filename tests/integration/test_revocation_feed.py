"""The revocation feed (issue 20): GET /auth/revocations/stream and the long poll of
GET /auth/revocations, read with a verifier key from `jwtd verifier create`, followed by
  * a FastAPI service using clients/python (jwtd_verifier) as its README shows
    (feed_fastapi_service.py), and
  * examples/resource-server-c with --feed-url (libjwtv's revocation set),
both verifying jwtd's RS256 tokens locally.

* a logout, a logout-all, a password change (the CLI) and a refresh-token reuse each make
  both verifiers refuse the affected tokens, and only those;
* restarting jwtd (with a revocation made by the CLI while it is down) and restarting the
  verifier lose no revocation;
* through a proxy (FeedProxy) that cuts the feed's connections, after some events and in
  the middle of an event's bytes, and that stalls: no revocation lost, none applied twice
  or in part, Last-Event-ID resumes, and a silent connection (jwtd writes keepalive
  comments) is dropped and reconnected by both verifiers;
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
import threading
import time

import jwt
import pytest
import requests

from conftest import JwtdServer
from feed_verifiers import VERIFIERS, FastApiVerifier, wait_until
from peers import TEST_PASSWORD, jwtd_bin, token_env
from redis_util import RedisServer, free_port
from svc_helpers import Svc

KEEPALIVE = "250ms"  # JWTD_FEED_KEEPALIVE: the streams' comment interval (15 s by default)


# ---- a proxy the test can cut and stall ----------------------------------------------------

class FeedProxy:
    """A TCP proxy on 127.0.0.1 (ephemeral port) in front of jwtd, one thread per connection.

    down(): every connection is closed and new ones are closed at once, until up().
    cut_next_event(where): the next event jwtd sends is forwarded in part, then every
    connection is closed and the proxy is down: where="in_data" cuts inside its data line,
    "before_end" after its data line, before the blank line that completes it.
    stall(): the connections open now, and those accepted until up(), forward nothing more in
    either direction (a hung proxy); only the client closing them ends them.
    Each connection is recorded: what the client sent (the request), what was forwarded to
    it (down), and whether the client closed it (client_closed)."""

    def __init__(self, upstream_url):
        host, port = upstream_url.split("//", 1)[1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.05)
        self.url = "http://127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.mode = "up"  # up, down, stall
        self.cut = None
        self.records = []
        self._socks = []
        self._closing = False
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self):
        while not self._closing:
            try:
                client, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                mode = self.mode
            if mode == "down":
                client.close()
                continue
            rec = {"request": b"", "down": b"", "client_closed": False, "stalled": mode == "stall"}
            with self.lock:
                self.records.append(rec)
            th = threading.Thread(target=self._pair, args=(client, rec), daemon=True)
            self._threads.append(th)
            th.start()

    def _pair(self, client, rec):
        try:
            up = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        with self.lock:
            self._socks += [client, up]
        pending = b""  # held back while a cut is armed
        try:
            while not self._closing:
                socks = [client] if rec["stalled"] else [client, up]
                r, _, _ = select.select(socks, [], [], 0.05)
                if client in r:
                    data = client.recv(65536)
                    if not data:
                        rec["client_closed"] = True
                        return
                    rec["request"] += data
                    if not rec["stalled"]:
                        up.sendall(data)
                if up in r and not rec["stalled"]:
                    data = up.recv(65536)
                    if not data:
                        return
                    pending += data
                    with self.lock:
                        where = self.cut if b"/auth/revocations/stream" in rec["request"] else None
                    n = self._cut_at(pending, where) if where else len(pending)
                    if n is None:
                        continue  # the whole event is not in yet
                    client.sendall(pending[:n])
                    rec["down"] += pending[:n]
                    pending = pending[n:]
                    if where:
                        with self.lock:
                            self.cut = None
                        self.down()
                        return
        except OSError:
            return
        finally:
            client.close()
            up.close()

    @staticmethod
    def _cut_at(buf, where):
        """Where to cut buf for a cut in the first event: None until its data line is in."""
        i = buf.find(b"\ndata: ")
        j = buf.find(b"\n", i + 1) if i >= 0 else -1
        if j < 0:
            return None
        return i + len(b"\ndata: ") + 8 if where == "in_data" else j + 1

    def _close_all(self):
        with self.lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self):
        with self.lock:
            self.mode = "down"
        self._close_all()

    def up(self):
        with self.lock:
            self.mode = "up"

    def stall(self):
        with self.lock:
            self.mode = "stall"
            for rec in self.records:
                rec["stalled"] = True

    def cut_next_event(self, where):
        with self.lock:
            self.cut = where

    def feed_records(self, verifier):
        """The feed connections of one verifier (the C one names itself in User-Agent)."""
        c = verifier.name == "c"
        with self.lock:
            return [r for r in self.records if b"/auth/revocations/stream" in r["request"] and
                    (b"jwtd-resource-server-c" in r["request"]) == c]

    def close(self):
        self._closing = True
        self.lsock.close()
        self._close_all()
        for th in self._threads:
            th.join(5)


def complete_events(down):
    """The ids of the whole events (ended by their blank line) in a stream's bytes as
    forwarded: what a correct client applies; a cut event at the end is not among them."""
    body = down.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in down else b""
    ids = []
    for block in body.split(b"\n\n")[:-1]:
        lines = block.split(b"\n")
        if any(line.startswith(b"data: ") for line in lines):
            ids.append(next((line[4:].decode() for line in lines if line.startswith(b"id: ")),
                            None))
    return ids


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
                        JWTD_LISTEN="127.0.0.1:%d" % free_port(),
                        JWTD_FEED_KEEPALIVE=KEEPALIVE)
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
def test_restarts_lose_nothing(jwtd, verifiers, kind):
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

    assert jwtd.svc.blacklist(b["refresh"]).status_code == 200
    wait_until(lambda: v.status(b["access"]) == 401, what="bob refused")
    assert v.status(c["access"]) == 200

    # the verifier restarts: the snapshot brings back everything still in force
    v.stop()
    verifiers.remove(v)
    v2 = kind(jwtd.url, key)
    verifiers.append(v2)
    assert v2.status(a["access"]) == 401
    assert v2.status(b["access"]) == 401
    assert v2.status(c["access"]) == 200


def test_proxy_cut_and_stall_lose_nothing(jwtd, verifiers):
    """Both verifiers follow the feed through a proxy that cuts every connection (after some
    events, and in the middle of an event's bytes) and that stalls: every revocation made
    meanwhile reaches them once the proxy is back, each whole event is applied once and a
    partial one never, every reconnection resumes with Last-Event-ID, and a silent
    connection is dropped."""
    key = jwtd.verifier_key()
    proxy = FeedProxy(jwtd.url)
    try:
        for kind in VERIFIERS:
            verifiers.append(kind(jwtd.url, key, feed_url=proxy.url, feed_timeout=1))
        t = {n: jwtd.login("alice") for n in "abcdefgh"}  # a session each

        def revoke(n):
            assert jwtd.svc.blacklist(t[n]["refresh"]).status_code == 200

        def status(n):
            return [v.status(t[n]["access"]) for v in verifiers]

        def refused(n):
            for v in verifiers:
                wait_until(lambda: v.status(t[n]["access"]) == 401, what=n + " refused")

        assert all(status(n) == [200, 200] for n in t)
        # events flow; then the proxy cuts every connection and refuses new ones
        revoke("a")
        refused("a")
        proxy.down()
        revoke("b")
        assert status("b") == [200, 200]  # they cannot know yet
        proxy.up()
        refused("b")

        # an event cut inside its data line, then one cut just before its blank line; a
        # revocation while the proxy is down after each
        for cut, meanwhile, where in (("c", "d", "in_data"), ("e", "f", "before_end")):
            proxy.cut_next_event(where)
            revoke(cut)
            wait_until(lambda: proxy.mode == "down", what="the cut (%s)" % where)
            revoke(meanwhile)
            assert status(meanwhile) == [200, 200]
            proxy.up()
            refused(cut)
            refused(meanwhile)

        # jwtd writes keepalive comments on the stream; a proxy that stalls (the open
        # connections and the next ones forward nothing) is noticed by the silence, and the
        # verifiers reconnect once the proxy forwards again
        for v in verifiers:
            wait_until(lambda: b": keepalive\n\n" in proxy.feed_records(v)[-1]["down"],
                       what="a keepalive comment to " + v.name)
            wait_until(v.connected, what=v.name + " connected")
        n = {v.name: len(proxy.feed_records(v)) for v in verifiers}
        proxy.stall()
        revoke("g")
        for v in verifiers:
            wait_until(lambda: not v.connected(), what=v.name + " dropping the silent feed")
            wait_until(lambda: any(r["client_closed"] for r in proxy.feed_records(v)[n[v.name]:]),
                       what=v.name + " giving up a connection into the stall")
        assert verifiers[0].feed()["staleness"] > 0
        assert status("g") == [200, 200]
        proxy.up()
        refused("g")
        assert status("h") == [200, 200]  # never revoked: still valid

        # every reconnection resumed after the last whole event it had been given; each
        # whole event was applied once, and nothing else
        for v in verifiers:
            seen, applied = [], 0
            for rec in proxy.feed_records(v):
                if seen:
                    assert b"\r\nlast-event-id: %s\r\n" % seen[-1].encode() in \
                        rec["request"].lower(), (v.name, seen[-1], rec["request"])
                ids = complete_events(rec["down"])
                applied += len(ids)
                seen += [i for i in ids if i]
            state = v.feed()
            assert state.get("events", state.get("feed_events")) == applied, (v.name, state)
    finally:
        proxy.close()


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
    # a wrong key: the helper is refused, never becomes ready and, failing closed, refuses
    bad = FastApiVerifier(jwtd.url, "jwtdv_" + "1" * 64, wait_ready=False,
                          VERIFIER_FAIL_CLOSED="1")
    verifiers.append(bad)
    wait_until(lambda: "verifier key refused" in bad.log_text(), what="the key refused")
    assert bad.feed()["ready"] is False and bad.status(t) == 503


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

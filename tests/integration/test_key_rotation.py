"""Live key rotation and SIGHUP reload (docs/key-rotation.md, docs/operations.md).

A running jwtd with a key set (JWTD_KEYS_DIR, `jwtd keys`): `keys add` + SIGHUP publishes
the new key while tokens are still signed by the old one; `keys activate` + SIGHUP signs
with the new kid while tokens of the old key still verify (verify route, /api/users/me/,
refresh) and the JWKS shows both; a retired key verifies until its tokens have expired and
is dropped after that. SIGHUP with an invalid configuration file or key set keeps the
process and the running configuration (logged error); a changed live setting (access
lifetime, log level) applies, a restart-only one is logged as needing a restart. The
process is the same PID throughout.
"""

import base64
import json
import os
import signal
import subprocess
import time

import pytest
import requests

from conftest import JwtdServer, jwtd_bin

RELOADED = "configuration and keys reloaded"
PASSWORD = "rotation-pass-123"


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def header(token):
    return b64json(token.split(".")[0])


def claims(token):
    return b64json(token.split(".")[1])


class Rotating:
    """A jwtd with a key set and a config file, plus the `jwtd` command in its env."""

    def __init__(self, alg="RS256", config="JWTD_LOG_LEVEL=info\n", env=None):
        # cheap hashing (as peers.py): logins are not what these tests measure
        base = {"JWTD_ALGORITHM": alg, "JWTD_ARGON2_MEMORY_KIB": "64",
                "JWTD_ARGON2_ITERATIONS": "1", "JWTD_ARGON2_PARALLELISM": "1"}
        base.update(env or {})
        self.srv = JwtdServer(env=base)
        del self.srv.env["JWTD_LOG_LEVEL"]  # from the config file, so that it can change
        self.srv.env["JWTD_PID_FILE"] = os.path.join(self.srv.data_dir, "jwtd.pid")
        self.config = os.path.join(self.srv.data_dir, "jwtd.conf")
        self.write_config(config)
        self.srv.args = ["--config", self.config]
        self.keys_dir = os.path.join(self.srv.data_dir, "keys")

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def run(self, *args, stdin=None, check=True):
        p = subprocess.run([jwtd_bin()] + list(args) + ["--config", self.config],
                           env=self.srv.env, cwd=self.srv.data_dir, input=stdin,
                           capture_output=True, text=True, timeout=120)
        if check:
            assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p

    def keys(self, sub, *rest, check=True):
        """`jwtd keys SUB [--flags] -- [KID]`: a kid is a base64url thumbprint and may start
        with '-', so it goes after `--` (as docs/key-rotation.md tells operators)."""
        flags = [a for a in rest if a.startswith("--")]
        kids = [a for a in rest if not a.startswith("--")]
        args = ["keys", sub] + flags + ["--config", self.config] + (["--"] + kids if kids else [])
        p = subprocess.run([jwtd_bin()] + args, env=self.srv.env, cwd=self.srv.data_dir,
                           capture_output=True, text=True, timeout=120)
        if check:
            assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p

    def start(self):
        self.run("user", "create", "alice", "--email", "alice@example.com", "--password-stdin",
                 stdin=PASSWORD + "\n")
        self.srv.start()
        self.pid = self.srv.proc.pid
        return self

    def reloads(self):
        return self.srv.stderr().count(RELOADED)

    def wait_log(self, text, count=1, bound=20.0):
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if self.srv.stderr().count(text) >= count:
                return
            time.sleep(0.05)
        raise AssertionError("no %r in the log:\n%s" % (text, self.srv.stderr()))

    def hup(self):
        """SIGHUP, then wait for the reload's outcome line."""
        before = self.srv.stderr().count("SIGHUP: ")
        self.srv.signal(signal.SIGHUP)
        self.wait_log("SIGHUP: ", before + 1)
        time.sleep(0.05)  # the rest of the reload's lines
        assert self.srv.proc.poll() is None and self.srv.proc.pid == self.pid

    def post(self, path, body, token=None):
        h = {"Authorization": "Bearer " + token} if token else {}
        return requests.post(self.srv.url + path, json=body, headers=h, timeout=60)

    def login(self):
        r = self.post("/api/token/", {"username": "alice", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return r.json()

    def verify(self, token):
        return self.post("/api/token/verify/", {"token": token}).status_code

    def me(self, token):
        return requests.get(self.srv.url + "/api/users/me/",
                            headers={"Authorization": "Bearer " + token}, timeout=60).status_code

    def jwks_kids(self):
        r = requests.get(self.srv.url + "/.well-known/jwks.json", timeout=60)
        assert r.status_code == 200
        return sorted(k["kid"] for k in r.json()["keys"])

    def state(self):
        rows = {}
        with open(os.path.join(self.keys_dir, "keys.state")) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    kid, alg, state = line.split()[:3]
                    rows[kid] = (alg, state)
        return rows

    def kid_in(self, state):
        (kid,) = [k for k, v in self.state().items() if v[1] == state]
        return kid


@pytest.fixture
def rotating():
    made = []

    def factory(**kw):
        r = Rotating(**kw)
        made.append(r)
        return r

    yield factory
    for r in made:
        r.srv.stop()


def test_add_activate_retire_without_restart(rotating):
    rt = rotating()
    out = rt.keys("add").stdout
    k1 = rt.kid_in("active")
    assert "as active" in out and k1 in out
    rt.start()
    old = rt.login()
    assert header(old["access"])["kid"] == k1
    assert rt.jwks_kids() == [k1]

    # add: pre-published, not signing; the command signals the server itself (PID file)
    before = rt.reloads()
    out = rt.keys("add").stdout
    assert "sent SIGHUP to jwtd (pid %d" % rt.pid in out, out
    rt.wait_log(RELOADED, before + 1)
    k2 = rt.kid_in("next")
    assert rt.jwks_kids() == sorted([k1, k2])
    assert header(rt.login()["access"])["kid"] == k1

    # activate: the new kid signs; the old key's tokens still verify; both are published
    before = rt.reloads()
    rt.keys("activate", k2)
    rt.wait_log(RELOADED, before + 1)
    assert rt.state()[k1][1] == "retired" and rt.state()[k2][1] == "active"
    new = rt.login()
    assert header(new["access"])["kid"] == k2
    assert header(new["refresh"])["kid"] == k2
    assert rt.verify(old["access"]) == 200
    assert rt.verify(old["refresh"]) == 200
    assert rt.me(old["access"]) == 200
    assert rt.me(new["access"]) == 200
    assert rt.jwks_kids() == sorted([k1, k2])
    # a refresh token of the old key is still good, and what it earns is signed by the new
    r = rt.post("/api/token/refresh/", {"refresh": old["refresh"]})
    assert r.status_code == 200, r.text
    assert header(r.json()["access"])["kid"] == k2

    # retired: listed with the time until which it verifies; a later reload keeps it
    listing = rt.keys("list").stdout
    (line,) = [ln for ln in listing.splitlines() if ln.startswith(k1)]
    assert " retired " in line and "expired" not in line
    rt.hup()
    assert rt.verify(old["access"]) == 200 and rt.me(old["access"]) == 200
    assert rt.jwks_kids() == sorted([k1, k2])

    # a pre-published key can be withdrawn: retired, it still verifies until it expires
    rt.keys("add")
    k3 = rt.kid_in("next")
    rt.keys("retire", k3)
    assert rt.state()[k3][1] == "retired"
    # the active key cannot be retired (activate its successor instead)
    p = rt.keys("retire", k2, check=False)
    assert p.returncode != 0 and "active key" in p.stderr
    assert rt.srv.proc.pid == rt.pid


def test_retired_key_is_dropped_after_its_tokens_expire(rotating):
    # ES256: keys are generated fast, so the short lifetimes leave room for the steps
    rt = rotating(alg="ES256", config="JWTD_LOG_LEVEL=info\nJWTD_ACCESS_TOKEN_LIFETIME=3s\n"
                  "JWTD_REFRESH_TOKEN_LIFETIME=5s\n")
    rt.keys("add")
    k1 = rt.kid_in("active")
    rt.start()
    old = rt.login()
    rt.keys("add")
    k2 = rt.kid_in("next")
    rt.keys("activate", k2)
    retired_at = time.time()
    rt.wait_log(RELOADED, 2)
    assert rt.verify(old["refresh"]) == 200
    assert rt.jwks_kids() == sorted([k1, k2])
    # past retirement + the longest lifetime (5 s) + leeway (0)
    time.sleep(max(0.0, retired_at + 6.2 - time.time()))
    rt.hup()
    assert "retired key dropped" in rt.srv.stderr()
    assert rt.jwks_kids() == [k2]
    assert rt.verify(old["refresh"]) == 401  # expired anyway, and its key is gone
    (line,) = [ln for ln in rt.keys("list").stdout.splitlines() if ln.startswith(k1)]
    assert line.endswith("expired (dropped)"), line
    assert header(rt.login()["access"])["kid"] == k2
    # the next change made by `jwtd keys` removes it from the set and its file
    rt.keys("add")
    assert k1 not in rt.state()
    assert not os.path.exists(os.path.join(rt.keys_dir, k1 + ".pem"))
    assert os.path.exists(os.path.join(rt.keys_dir, k2 + ".pem"))


def test_compromised_key_stops_verifying_at_once(rotating):
    rt = rotating()
    rt.keys("add")
    k1 = rt.kid_in("active")
    rt.start()
    leaked = rt.login()
    rt.keys("add")
    k2 = rt.kid_in("next")
    rt.keys("activate", k2)
    p = rt.keys("retire", k1, "--compromised")
    assert "dropped" in p.stdout
    rt.wait_log(RELOADED, 3)
    assert rt.verify(leaked["access"]) == 401
    assert rt.me(leaked["access"]) == 401
    assert rt.jwks_kids() == [k2]
    assert not os.path.exists(os.path.join(rt.keys_dir, k1 + ".pem"))


def test_hmac_key_set_rotates_and_is_never_published(rotating):
    rt = rotating(alg="HS256")
    rt.keys("add")
    k1 = rt.kid_in("active")
    assert os.stat(os.path.join(rt.keys_dir, k1 + ".key")).st_mode & 0o777 == 0o600
    assert os.stat(rt.keys_dir).st_mode & 0o777 == 0o700
    rt.start()
    old = rt.login()
    rt.keys("add")
    k2 = rt.kid_in("next")
    rt.keys("activate", k2)
    rt.wait_log(RELOADED, 2)
    new = rt.login()
    assert header(new["access"])["kid"] == k2 and header(old["access"])["kid"] == k1
    assert rt.verify(old["access"]) == 200 and rt.me(new["access"]) == 200
    assert rt.jwks_kids() == []


def test_invalid_configuration_keeps_the_running_one(rotating):
    rt = rotating(config="JWTD_LOG_LEVEL=info\nJWTD_ACCESS_TOKEN_LIFETIME=10m\n")
    rt.keys("add")
    rt.start()
    t = claims(rt.login()["access"])
    assert t["exp"] - t["iat"] == 600
    rt.write_config("JWTD_LOG_LEVEL=info\nJWTD_ACCESS_TOKEN_LIFETIME=banana\n")
    rt.hup()
    rt.wait_log("invalid configuration, the running one stays in force")
    assert "JWTD_ACCESS_TOKEN_LIFETIME" in rt.srv.stderr()
    assert requests.get(rt.srv.url + "/healthz", timeout=10).status_code == 200
    t = claims(rt.login()["access"])
    assert t["exp"] - t["iat"] == 600

    # a key set that does not load: the running keys stay
    kid = rt.kid_in("active")
    before = rt.jwks_kids()
    with open(os.path.join(rt.keys_dir, "keys.state"), "a") as f:
        f.write("not a valid line\n")
    rt.write_config("JWTD_LOG_LEVEL=info\nJWTD_ACCESS_TOKEN_LIFETIME=10m\n")
    rt.hup()
    rt.wait_log("keys not reloaded, the running keys and configuration stay in force")
    assert rt.jwks_kids() == before
    pair = rt.login()
    assert header(pair["access"])["kid"] == kid and rt.me(pair["access"]) == 200
    assert rt.srv.proc.pid == rt.pid


def test_live_settings_apply_and_restart_ones_are_reported(rotating):
    rt = rotating(config="JWTD_LOG_LEVEL=warn\nJWTD_ACCESS_TOKEN_LIFETIME=15m\n"
                  "JWTD_MAX_BODY_BYTES=64k\n")
    rt.keys("add")
    rt.start()
    t = claims(rt.login()["access"])
    assert t["exp"] - t["iat"] == 900
    assert RELOADED not in rt.srv.stderr()
    rt.write_config("JWTD_LOG_LEVEL=info\nJWTD_ACCESS_TOKEN_LIFETIME=2m\n"
                    "JWTD_MAX_BODY_BYTES=32k\n")
    rt.srv.signal(signal.SIGHUP)
    rt.wait_log(RELOADED)  # an info line: the new log level is in force
    log = rt.srv.stderr()
    assert "needs a restart" in log and "JWTD_MAX_BODY_BYTES" in log
    assert "JWTD_ACCESS_TOKEN_LIFETIME" in log
    pair = rt.login()
    t = claims(pair["access"])
    assert t["exp"] - t["iat"] == 120
    r = rt.post("/auth/login", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["expires_in"] == 120, r.text
    assert rt.srv.proc.pid == rt.pid

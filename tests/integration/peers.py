"""Helpers for the token-lifecycle integration tests and benchmarks.

Two halves:

* jwtd side: `Jwtd` wraps a server started by conftest's `jwtd_server` factory together
  with the environment the CLI needs to reach the same database (`cli()`), users created
  with `jwtd user create` (`create_user()`), and small HTTP helpers (`login()`,
  `refresh()`, `verify()`, `me()`), plus JWT helpers to decode, re-sign and tamper tokens.
  `token_env()` is the base configuration of these tests: a fixed HS256 secret, no rate
  limits, cheap argon2 parameters (tests that measure hashing pass their own).
* Django side: `DjangoPeer` runs the SimpleJWT reference peer of /work/shared/peers. That
  directory is read-only (run-peers.sh writes `.run/` next to itself), so the tree is
  copied into a temp dir and started from there, on free ports (never the peers' defaults
  18000/18001/18379, never 2024), with its own SQLite database. `peer_packages_missing()`
  says which Debian packages are missing when the peer cannot run.

Also usable from the command line (bench/run-tokens uses it):

    python3 tests/integration/peers.py start --dir DIR [--secret S]   # prints the URL
    python3 tests/integration/peers.py stop --dir DIR
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

import pytest
import requests

# The peers ship in shared/ beside the repository (CI clones the repo next to it); the
# absolute path is this machine's copy, for a checkout kept elsewhere.
_BESIDE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "..", "shared", "peers"))
PEERS_SRC = os.environ.get("JWTD_PEERS_DIR") or (
    _BESIDE if os.path.isdir(_BESIDE) else "/work/shared/peers")
PY = "/usr/bin/python3"

# HS256 secret shared by jwtd and the Django peer in the tests (>= 32 bytes).
SHARED_SECRET = "interop-test-hs256-shared-secret-0123456789abcdef"
TEST_PASSWORD = "testpass123"

# Debian packages the Django peer needs (run-peers.sh / install-deps.sh).
PEER_PACKAGES = ["python3-django", "python3-djangorestframework",
                 "python3-djangorestframework-simplejwt", "python3-django-redis",
                 "python3-fastapi", "python3-uvicorn", "gunicorn", "redis-server"]


# --- JWT helpers -----------------------------------------------------------------------------


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def jwt_parts(token):
    """(header dict, payload dict) of a compact JWS, without verifying it."""
    h, p, _ = token.split(".")
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p))


def claims(token):
    return jwt_parts(token)[1]


def wait_until_expired(token):
    """Sleeps until the token's own `exp` has passed. jwtd rejects a token once its clock,
    in whole seconds, reaches `exp`; waiting on the token's claim rather than on the
    lifetime it was asked for keeps the test right however long issuing it took."""
    time.sleep(max(0.0, claims(token)["exp"] - time.time()) + 0.2)


def hs256_sign(header, payload, secret):
    import hmac
    if isinstance(secret, str):
        secret = secret.encode()
    h = b64u(json.dumps(header, separators=(",", ":")).encode())
    p = b64u(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret, ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64u(sig))


def resign(token, secret, **changes):
    """The token with claims changed (None deletes) and a VALID HS256 signature by secret:
    used to mint expired tokens and wrong-key tokens with a real header (same kid)."""
    header, payload = jwt_parts(token)
    for k, v in changes.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    return hs256_sign(header, payload, secret)


def tamper_payload(token, **changes):
    """The token with claims changed and the ORIGINAL signature (golden 20/38)."""
    h, p, s = token.split(".")
    payload = json.loads(b64u_decode(p))
    payload.update(changes)
    return "%s.%s.%s" % (h, b64u(json.dumps(payload, separators=(",", ":")).encode()), s)


B64U_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def flip_padding_bits(token):
    """Changes only the unused low bits of the signature's last base64url character
    (golden 22): a different string that decodes to the same signature bytes."""
    h, p, s = token.split(".")
    pad_bits = {2: 4, 3: 2}.get(len(s) % 4, 0)  # 43 chars (HS256): 2 bits; 342 (RS256): 4
    assert pad_bits, "signature length %d has no padding bits" % len(s)
    v = B64U_ALPHABET.index(s[-1])
    nv = v ^ ((1 << pad_bits) - 1)
    out = "%s.%s.%s" % (h, p, s[:-1] + B64U_ALPHABET[nv])
    assert out != token and b64u_decode(out.split(".")[2]) == b64u_decode(s)
    return out


def flip_data_bit(token):
    """Changes a data bit of the signature's last character (golden 21): a bad signature."""
    h, p, s = token.split(".")
    pad_bits = {2: 4, 3: 2}.get(len(s) % 4, 0)
    v = B64U_ALPHABET.index(s[-1])
    nv = v ^ (1 << pad_bits)
    return "%s.%s.%s" % (h, p, s[:-1] + B64U_ALPHABET[nv])


def alg_none(token):
    """Golden 24: header {"alg":"none","typ":"JWT"}, same payload, empty signature."""
    _, p, _ = token.split(".")
    h = b64u(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")).encode())
    return "%s.%s." % (h, p)


def oct_thumbprint(secret):
    """RFC 7638 thumbprint of an HMAC secret as an `oct` JWK (API.md section 1: kid)."""
    if isinstance(secret, str):
        secret = secret.encode()
    canon = '{"k":"%s","kty":"oct"}' % b64u(secret)
    return b64u(hashlib.sha256(canon.encode()).digest())


# --- jwtd side -------------------------------------------------------------------------------


def token_env(**extra):
    """Base environment of a token-lifecycle server: fixed secret, no throttling, cheap
    argon2 (tests that measure hashing override JWTD_ARGON2_*)."""
    env = {
        "JWTD_SECRET_KEY": SHARED_SECRET,
        "JWTD_ALGORITHM": "HS256",
        "JWTD_RATE_LIMIT_LOGIN": "0",
        "JWTD_RATE_LIMIT_ANON": "0",
        "JWTD_RATE_LIMIT_USER": "0",
        "JWTD_ARGON2_MEMORY_KIB": "64",
        "JWTD_ARGON2_ITERATIONS": "1",
        "JWTD_ARGON2_PARALLELISM": "1",
        "JWTD_LOG_LEVEL": "warn",
        # these tests hold jwtd to the transcripts of SimpleJWT 5.2 (Debian 12's), which words
        # an expired and an invalid token alike; test_logout_and_cookie_options.py checks the
        # default, distinct messages
        "JWTD_TOKEN_MESSAGES": "combined",
    }
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def jwtd_bin():
    from conftest import jwtd_bin as b
    return b()


class Jwtd:
    """A running jwtd plus the CLI environment of its database."""

    def __init__(self, srv):
        self.srv = srv
        self.env = dict(srv.env)
        self.http = requests.Session()

    @property
    def url(self):
        return self.srv.url

    # CLI --------------------------------------------------------------------------------
    def cli(self, *args, stdin=None, check=True, timeout=60):
        """Runs `jwtd ARGS` against the server's database and configuration."""
        p = subprocess.run([jwtd_bin()] + list(args), env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=timeout,
                           cwd=self.srv.data_dir)
        if check:
            assert p.returncode == 0, "jwtd %s -> exit %d\nstdout: %s\nstderr: %s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr)
        return p

    def create_user(self, name="testuser", password=TEST_PASSWORD, email="test@example.com",
                    first="Test", last="User", role=None):
        args = ["user", "create", name, "--email", email, "--first-name", first,
                "--last-name", last, "--password-stdin"]
        if role:
            args += ["--role", role]
        return self.cli(*args, stdin=password)

    # HTTP -------------------------------------------------------------------------------
    def post(self, path, body=None, **kw):
        if body is not None and "data" not in kw:
            kw["json"] = body
        return self.http.post(self.url + path, timeout=30, **kw)

    def get(self, path, token=None, auth=None, **kw):
        headers = kw.pop("headers", {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        if auth is not None:
            headers["Authorization"] = auth
        return self.http.get(self.url + path, headers=headers, timeout=30, **kw)

    def login(self, username="testuser", password=TEST_PASSWORD):
        r = self.post("/api/token/", {"username": username, "password": password})
        assert r.status_code == 200, "login %s: %d %s" % (username, r.status_code, r.text)
        return r.json()

    def refresh(self, refresh):
        return self.post("/api/token/refresh/", {"refresh": refresh})

    def verify(self, token):
        return self.post("/api/token/verify/", {"token": token})

    def blacklist(self, refresh):
        return self.post("/api/token/blacklist/", {"refresh": refresh})

    def me(self, token):
        return self.get("/api/users/me/", token=token)


class TokenServers:
    """Starts token-lifecycle servers (conftest.JwtdServer) with token_env() and users
    created by the CLI BEFORE the server starts; stops them all (exit status 0) in close()."""

    def __init__(self):
        self.started = []

    def __call__(self, users=("testuser",), workers=2, **env):
        from conftest import JwtdServer
        srv = JwtdServer(env=token_env(**env), workers=workers)
        j = Jwtd(srv)
        for u in users:
            if u == "testuser":
                j.create_user()
            else:
                j.create_user(u, email="%s@example.com" % u, first=u.capitalize(),
                              last="Tester")
        srv.start()
        self.started.append(j)
        return j

    def close(self):
        errors = []
        for j in self.started:
            try:
                j.srv.stop()
            except AssertionError as e:
                errors.append(str(e))
        self.started = []
        assert not errors, "\n".join(errors)


@pytest.fixture
def tokens():
    """Factory: tokens(users=("testuser",), workers=2, JWTD_X=...) -> running Jwtd."""
    f = TokenServers()
    yield f
    f.close()


@pytest.fixture(scope="module")
def shared_jwtd():
    """One server per test module (testuser + alice), default token settings."""
    f = TokenServers()
    yield f(users=("testuser", "alice"))
    f.close()


# --- golden transcripts ----------------------------------------------------------------------
#
# What the Django peer answered in /work/shared/peers/golden/hs256/NN_*.txt (status, body,
# whether WWW-Authenticate was sent), transcribed here so the tests also run where the peers
# tree is absent; test_simplejwt_golden_table.py checks this table against the transcripts
# when they exist. Token-bearing 200 bodies are checked by shape in the tests instead.
#
# jwtd differs on purpose (API.md): every error body also has `code`; 19 (verify of a
# blacklisted token) is 401 token_not_valid; 22 (signature padding bits) is rejected; 31
# (access token of a blacklisted session) is rejected; 11 (immediate reuse of a rotated
# refresh token) is inside the reuse grace, so it returns the same successor.

INVALID = "Token is invalid or expired"
NOT_PROVIDED = "Authentication credentials were not provided."
NOT_VALID_ANY = "Given token not valid for any token type"
NO_ACCOUNT = "No active account found with the given credentials"
REQUIRED = ["This field is required."]


def _me_error(message):
    return {"detail": NOT_VALID_ANY, "code": "token_not_valid",
            "messages": [{"token_class": "AccessToken", "token_type": "access",
                          "message": message}]}


GOLDEN = {
    2: (401, {"detail": NO_ACCOUNT}, True),
    3: (401, {"detail": NO_ACCOUNT}, True),
    4: (400, {"password": REQUIRED}, False),
    5: (400, {"username": REQUIRED, "password": REQUIRED}, False),
    8: (405, {"detail": 'Method "GET" not allowed.'}, False),
    11: (401, {"detail": "Token is blacklisted", "code": "token_not_valid"}, True),
    12: (401, {"detail": INVALID, "code": "token_not_valid"}, True),
    13: (401, {"detail": "Token has wrong type", "code": "token_not_valid"}, True),
    14: (400, {"refresh": REQUIRED}, False),
    15: (401, {"detail": INVALID, "code": "token_not_valid"}, True),
    17: (200, {}, False),
    18: (200, {}, False),
    19: (400, {"non_field_errors": ["Token is blacklisted"]}, False),
    20: (401, {"detail": INVALID, "code": "token_not_valid"}, True),
    21: (401, {"detail": INVALID, "code": "token_not_valid"}, True),
    22: (200, {}, False),
    23: (401, {"detail": INVALID, "code": "token_not_valid"}, True),
    24: (401, {"detail": INVALID, "code": "token_not_valid"}, True),
    25: (401, {"detail": INVALID, "code": "token_not_valid"}, True),
    26: (400, {"token": REQUIRED}, False),
    27: (200, {}, False),
    28: (401, {"detail": "Token is blacklisted", "code": "token_not_valid"}, True),
    29: (401, {"detail": "Token is blacklisted", "code": "token_not_valid"}, True),
    30: (401, {"detail": "Token has wrong type", "code": "token_not_valid"}, True),
    32: (200, {"id": 1, "username": "testuser", "email": "test@example.com",
               "first_name": "Test", "last_name": "User"}, False),
    31: (200, {"id": 1, "username": "testuser", "email": "test@example.com",
               "first_name": "Test", "last_name": "User"}, False),
    33: (401, {"detail": NOT_PROVIDED}, True),
    34: (401, _me_error(INVALID), True),
    35: (401, _me_error(INVALID), True),
    36: (401, _me_error("Token has wrong type"), True),
    37: (401, _me_error(INVALID), True),
    38: (401, _me_error(INVALID), True),
    39: (401, {"detail": "Authorization header must contain two space-delimited values",
               "code": "bad_authorization_header"}, True),
    40: (401, {"detail": NOT_PROVIDED}, True),
    41: (401, {"detail": NOT_PROVIDED}, True),
}

# The `code` jwtd adds where Django's body has none (API.md section 2).
GOLDEN_CODE = {2: "no_active_account", 3: "no_active_account", 4: "invalid_request",
               5: "invalid_request", 8: "method_not_allowed", 14: "invalid_request",
               26: "invalid_request", 33: "not_authenticated", 40: "not_authenticated",
               41: "not_authenticated"}


def expected_error(case):
    """(status, body) jwtd must answer for golden error case `case` (not for the deliberate
    differences, which the tests spell out)."""
    status, body, _ = GOLDEN[case]
    body = dict(body)
    if case in GOLDEN_CODE:
        body["code"] = GOLDEN_CODE[case]
    return status, body


def check_error(resp, case, token_presented=False):
    """Asserts resp is jwtd's version of golden error `case`: same status, same fields and
    texts, plus `code`; a 400 field map also has a `detail`; 401 carries WWW-Authenticate
    (with error="invalid_token" when a Bearer token was presented)."""
    status, body = expected_error(case)
    assert resp.status_code == status, "golden %02d: status %d, expected %d; body %s" % (
        case, resp.status_code, status, resp.text)
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), "golden %02d: Content-Type %r" % (case, ctype)
    got = resp.json()
    if status == 400:
        detail = got.pop("detail", None)
        assert isinstance(detail, str) and detail, "golden %02d: 400 without detail: %r" % (
            case, resp.text)
    assert got == body, "golden %02d: body %s, expected %s" % (case, json.dumps(got),
                                                                json.dumps(body))
    www = resp.headers.get("WWW-Authenticate")
    if status == 401:
        assert www and www.startswith('Bearer realm="api"'), (
            "golden %02d: WWW-Authenticate %r" % (case, www))
        if token_presented:
            assert 'error="invalid_token"' in www, (
                "golden %02d: Bearer token presented but WWW-Authenticate is %r" % (case, www))
        elif body.get("code") in ("not_authenticated", "no_active_account"):
            assert www == 'Bearer realm="api"', "golden %02d: WWW-Authenticate %r" % (case, www)


# --- Django side -----------------------------------------------------------------------------


def peer_packages_missing():
    missing = []
    for p in PEER_PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                           text=True)
        if "install ok installed" not in r.stdout:
            missing.append(p)
    return missing


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_writable(root):
    for d, dirs, files in os.walk(root):
        os.chmod(d, os.stat(d).st_mode | stat.S_IWUSR)
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)


class DjangoPeer:
    """The Django/SimpleJWT peer (plus its redis and FastAPI, as run-peers.sh starts them)
    run from a private copy of the peers tree."""

    def __init__(self, workdir=None, secret=SHARED_SECRET, alg="HS256", bulk_users=0,
                 env=None):
        self.own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="jwtd-peer-")
        self.tree = os.path.join(self.workdir, "peers")
        self.secret = secret
        self.alg = alg
        self.bulk_users = bulk_users
        self.extra_env = env or {}
        self.url = None
        self.env = None

    def start(self, timeout=120):
        if not os.path.isdir(self.tree):
            shutil.copytree(PEERS_SRC, self.tree, symlinks=True,
                            ignore=shutil.ignore_patterns(".run", "db.sqlite3", "results",
                                                          "__pycache__"))
            _make_writable(self.tree)
        ports = {"DJANGO_PORT": free_port(), "FASTAPI_PORT": free_port(),
                 "REDIS_PORT": free_port()}
        env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
        env.update({k: str(v) for k, v in ports.items()})
        env.update({
            "JWT_ALG": self.alg,
            "BULK_USERS": str(self.bulk_users),
            "DJANGO_DB_PATH": os.path.join(self.workdir, "django.sqlite3"),
            "REDIS_URL": "redis://127.0.0.1:%d/1" % ports["REDIS_PORT"],
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin:" + os.environ.get("PATH", ""),
        })
        if self.alg == "HS256":
            env["JWT_SECRET_KEY"] = self.secret
        env.update(self.extra_env)
        self.env = env
        p = subprocess.run([os.path.join(self.tree, "run-peers.sh"), "--fresh"], env=env,
                           capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            logs = ""
            for f in ("django.log", "redis.log", "fastapi.log"):
                path = os.path.join(self.tree, ".run", f)
                if os.path.exists(path):
                    with open(path) as fh:
                        logs += "--- %s\n%s\n" % (f, fh.read()[-3000:])
            self.stop()
            raise RuntimeError("run-peers.sh failed (%d):\n%s\n%s\n%s"
                               % (p.returncode, p.stdout, p.stderr, logs))
        self.url = "http://127.0.0.1:%d" % ports["DJANGO_PORT"]
        self.fastapi_url = "http://127.0.0.1:%d" % ports["FASTAPI_PORT"]
        return self

    def pids(self):
        out = []
        for n in ("django", "fastapi", "redis"):
            f = os.path.join(self.tree, ".run", n + ".pid")
            if os.path.exists(f):
                with open(f) as fh:
                    out.append(int(fh.read().strip()))
        return out

    def manage(self, *args, timeout=600):
        """manage.py ARGS with the running peer's settings; returns stdout."""
        p = subprocess.run([PY, "manage.py"] + list(args), env=self.env,
                           cwd=os.path.join(self.tree, "django_simplejwt"),
                           capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, "manage.py %s: %s" % (" ".join(args), p.stderr)
        return p.stdout

    def login(self, username="testuser", password=TEST_PASSWORD):
        r = requests.post(self.url + "/api/token/",
                          json={"username": username, "password": password}, timeout=60)
        assert r.status_code == 200, "django login: %d %s" % (r.status_code, r.text)
        return r.json()

    def me(self, token):
        return requests.get(self.url + "/api/users/me/",
                            headers={"Authorization": "Bearer " + token}, timeout=60)

    def stop(self):
        if os.path.isdir(self.tree):
            subprocess.run([os.path.join(self.tree, "stop-peers.sh")], capture_output=True,
                           text=True, timeout=60, env=self.env or os.environ)
        if self.own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="run the Django peer from a private copy")
    ap.add_argument("cmd", choices=["start", "stop"])
    ap.add_argument("--dir", required=True, help="work dir (the copy and its database)")
    ap.add_argument("--secret", default=SHARED_SECRET)
    ap.add_argument("--bulk", type=int, default=0)
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    peer = DjangoPeer(workdir=a.dir, secret=a.secret, bulk_users=a.bulk)
    if a.cmd == "start":
        peer.start()
        with open(os.path.join(a.dir, "peer.env"), "w") as f:
            for k in ("JWT_ALG", "JWT_SECRET_KEY", "DJANGO_DB_PATH", "REDIS_URL", "DJANGO_PORT",
                      "FASTAPI_PORT", "REDIS_PORT"):
                if k in peer.env:
                    f.write("export %s=%s\n" % (k, peer.env[k]))
            f.write("export DJANGO_URL=%s\n" % peer.url)
            f.write("export PEER_TREE=%s\n" % peer.tree)
        print(peer.url)
    else:
        peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

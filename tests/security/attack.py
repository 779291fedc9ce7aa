"""Token forging toolkit of the attack suite.

A Target is a running jwtd whose signing key the suite generated with `jwtd keygen` (or,
for HMAC, a secret it chose), so a test can build ANY token byte by byte: arbitrary
header and payload bytes, a correct signature by the real key, or a deliberately broken
one. `Target.forge()` signs with the real key; a test first proves that an honestly forged
token IS accepted (so the rejections that follow are meaningful), then checks each
attack is refused with 401 token_not_valid, that nothing 5xx'd, and that the server is
still healthy (`Target.check_healthy()`: /healthz, a known user logs in, its token works,
the user and session rows are intact).
"""

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from peers import SHARED_SECRET, TEST_PASSWORD, Jwtd, token_env

import hmac as _hmac
import hashlib

HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
CHASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}

# The checkout's own directory: a source or build path in an answer is a leak.
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Strings that must never appear in an answer body: internals (SQL, paths, sources, stack
# traces, library names) and the suite's secrets.
LEAK_MARKERS = ["sqlite", "select ", "insert ", "update ", "syntax error", "postgres",
                SOURCE_ROOT + "/", "/tmp/", ".c:", "traceback", "segmentation", "asan", "addresssanitizer",
                "openssl", "jansson", "errno", "assert", "private key", "-----begin",
                SHARED_SECRET.lower(), TEST_PASSWORD]


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def jdump(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def parts(token):
    h, p, s = token.split(".")
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p)), b64u_decode(s)


def assemble(header, payload, sig):
    """header/payload: dict (compact JSON) or raw bytes; sig: raw bytes."""
    h = header if isinstance(header, bytes) else jdump(header)
    p = payload if isinstance(payload, bytes) else jdump(payload)
    return "%s.%s.%s" % (b64u(h), b64u(p), b64u(sig))


def check_no_leak(resp):
    """The body of any error answer is free of internals and secrets; never a 5xx."""
    assert resp.status_code < 500, "5xx: %d %s" % (resp.status_code, resp.text[:300])
    if resp.status_code < 400:
        return  # success bodies carry tokens: base64 text may spell anything
    text = resp.text.lower()
    for m in LEAK_MARKERS:
        assert m.lower() not in text, "answer leaks %r: %s" % (m, resp.text[:300])


def jwtd_bin():
    from conftest import jwtd_bin as b
    return b()


class Target:
    """A jwtd signing with a key the suite holds (see module doc)."""

    def __init__(self, alg, srv, keydir, keyfile):
        self.alg = alg
        self.srv = srv
        self.j = Jwtd(srv)
        self.keydir = keydir
        self.keyfile = keyfile
        self.priv = None
        self.secret = None
        self.http = requests.Session()

    # --- lifecycle ---------------------------------------------------------------------
    @classmethod
    def start(cls, alg, **env):
        from conftest import JwtdServer
        keydir = tempfile.mkdtemp(prefix="jwtd-sec-")
        keyfile = None
        if alg.startswith("HS"):
            e = token_env(JWTD_ALGORITHM=alg, **env)
        else:
            keyfile = os.path.join(keydir, "signing.pem")
            p = subprocess.run([jwtd_bin(), "keygen", "--alg", alg, "--out", keyfile],
                               capture_output=True, text=True, timeout=120)
            assert p.returncode == 0, p.stderr
            e = token_env(JWTD_ALGORITHM=alg, JWTD_SIGNING_KEY_FILE=keyfile,
                          JWTD_SECRET_KEY=None, **env)
        srv = JwtdServer(env=e, workers=2)
        t = cls(alg, srv, keydir, keyfile)
        t.j.create_user()
        t.j.create_user("alice", email="alice@example.com", first="Alice", last="Tester")
        srv.start()
        if keyfile:
            with open(keyfile, "rb") as f:
                t.priv = serialization.load_pem_private_key(f.read(), None)
        else:
            t.secret = SHARED_SECRET.encode()
        t.pair = t.j.login()
        t.header, t.claims, _ = parts(t.pair["access"])
        t.kid = t.header["kid"]
        t.refresh_claims = parts(t.pair["refresh"])[1]
        t.baseline_rows = t.rows()
        return t

    def stop(self):
        try:
            self.srv.stop()
        finally:
            shutil.rmtree(self.keydir, ignore_errors=True)

    @property
    def url(self):
        return self.srv.url

    # --- signing -----------------------------------------------------------------------
    def raw_sign(self, msg, alg=None):
        """Signature of msg (bytes) by the real key, in JWS form."""
        alg = alg or self.alg
        bits = alg[2:] if alg != "EdDSA" else None
        if alg.startswith("HS"):
            return _hmac.new(self.secret, msg, HASHES[bits]).digest()
        if alg.startswith("RS"):
            return self.priv.sign(msg, padding.PKCS1v15(), CHASHES[bits]())
        if alg.startswith("PS"):
            h = CHASHES[bits]()
            return self.priv.sign(msg, padding.PSS(padding.MGF1(h), h.digest_size), h)
        if alg.startswith("ES"):
            r, s = decode_dss_signature(self.priv.sign(msg, ec.ECDSA(CHASHES[bits]())))
            n = (self.priv.curve.key_size + 7) // 8
            return r.to_bytes(n, "big") + s.to_bytes(n, "big")
        if alg == "EdDSA":
            return self.priv.sign(msg)
        raise ValueError(alg)

    def forge(self, header=None, payload=None, sig=None, **claims):
        """A token with the given header/payload (dict or raw bytes; default: the real ones)
        and, unless sig is given, a CORRECT signature by the real key. claims update a copy
        of the real access claims (None deletes)."""
        if header is None:
            header = dict(self.header)
        if payload is None:
            payload = dict(self.claims)
            for k, v in claims.items():
                if v is None:
                    payload.pop(k, None)
                else:
                    payload[k] = v
        h = header if isinstance(header, bytes) else jdump(header)
        p = payload if isinstance(payload, bytes) else jdump(payload)
        signing_input = ("%s.%s" % (b64u(h), b64u(p))).encode()
        if sig is None:
            sig = self.raw_sign(signing_input)
        return "%s.%s" % (signing_input.decode(), b64u(sig))

    def signing_input_of(self, token):
        return token.rsplit(".", 1)[0].encode()

    def public_key(self):
        return self.priv.public_key()

    # --- HTTP --------------------------------------------------------------------------
    def me(self, token):
        r = self.http.get(self.url + "/api/users/me/",
                          headers={"Authorization": "Bearer " + token}, timeout=30)
        check_no_leak(r)
        return r

    def verify(self, token):
        r = self.http.post(self.url + "/api/token/verify/", json={"token": token}, timeout=30)
        check_no_leak(r)
        return r

    def refresh(self, token):
        r = self.http.post(self.url + "/api/token/refresh/", json={"refresh": token},
                           timeout=30)
        check_no_leak(r)
        return r

    def post(self, path, body=None, **kw):
        if body is not None and "data" not in kw:
            kw["json"] = body
        r = self.http.post(self.url + path, timeout=30, **kw)
        check_no_leak(r)
        return r

    def login(self, username="testuser", password=TEST_PASSWORD):
        return self.post("/api/token/", {"username": username, "password": password})

    def assert_accepted(self, token):
        r = self.me(token)
        assert r.status_code == 200, "honest token refused: %d %s" % (r.status_code, r.text)
        r = self.verify(token)
        assert r.status_code == 200, "honest token refused by verify: %s" % r.text

    def assert_rejected(self, token, what="", statuses=(401,), verify_too=True):
        """Refused as a Bearer token on a protected route AND (verify_too) by
        /api/token/verify/. A token with CR/LF/NUL cannot travel in a header: body only."""
        if not set("\r\n\x00") & set(token):
            r = self.me(token)
            assert r.status_code in statuses, (
                "%s: ACCEPTED or odd answer on /api/users/me/: %d %s" % (
                    what, r.status_code, r.text[:300]))
            if r.status_code == 401:
                code = r.json().get("code")
                assert code in ("token_not_valid", "bad_authorization_header", "user_not_found"), (
                    what, r.text)
        if not verify_too:
            return
        r = self.verify(token)
        assert r.status_code in statuses + (400,), "%s: verify answered %d %s" % (
            what, r.status_code, r.text[:300])

    # --- state -------------------------------------------------------------------------
    def rows(self):
        """Row counts of the tables an attack must not touch (read straight from SQLite)."""
        db = sqlite3.connect(os.path.join(self.srv.data_dir, "jwtd.db"), timeout=10)
        try:
            out = {}
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                      "AND name NOT LIKE 'sqlite_%'"):
                out[name] = db.execute('SELECT COUNT(*) FROM "%s"' % name).fetchone()[0]
            out["_usernames"] = sorted(r[0] for r in db.execute("SELECT username FROM users"))
            return out
        finally:
            db.close()

    def check_healthy(self):
        """The server still serves, a known user still logs in and its token works, and no
        user row was lost or added."""
        r = self.http.get(self.url + "/healthz", timeout=30)
        assert r.status_code == 200, r.text
        r = self.login()
        assert r.status_code == 200, "known user cannot log in any more: %s" % r.text
        assert self.me(r.json()["access"]).status_code == 200
        rows = self.rows()
        assert rows["_usernames"] == self.baseline_rows["_usernames"], rows
        assert self.srv.proc.poll() is None, "jwtd died"

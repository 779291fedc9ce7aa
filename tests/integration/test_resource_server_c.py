"""examples/resource-server-c (resource-server, built beside jwtd): a C service that verifies jwtd's
tokens locally with libjwtv against jwtd's JWKS, fetched over HTTP.

* end to end with a real jwtd signing RS256 and ES256: /protected, the /admin/dashboard
  RBAC matrix, refresh tokens and foreign tokens refused;
* key rotation and fetch-storm protection against a JWKS server the test controls: an
  unknown kid triggers one refetch (the new key is then accepted), and a flood of tokens
  with unknown kids costs at most one fetch per cooldown;
* the FastAPI recipe: the FastAPI + PyJWT test service (tests/peers/fastapi_service) pointed
  at jwtd's public key answers like this C service.
"""

import base64
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from feed_verifiers import RS_BIN, start_resource_server, stop_process
from peers import jwtd_bin, token_env
from svc_helpers import ROLES, Svc
import peers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = RS_BIN


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class ResourceServer:
    def __init__(self, *args):
        self.proc, self.url = start_resource_server(args)

    def get(self, path, token=None, **kw):
        h = {"Authorization": "Bearer " + token} if token else {}
        return requests.get(self.url + path, headers=h, timeout=10, **kw)

    def stats(self):
        return self.get("/_stats").json()

    def stop(self):
        stop_process(self.proc)


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.stop()


def start_jwtd(alg, tmp):
    from conftest import JwtdServer
    key = os.path.join(tmp, "signing.pem")
    subprocess.run([jwtd_bin(), "keygen", "--alg", alg, "--out", key], check=True,
                   capture_output=True)
    srv = JwtdServer(env=token_env(JWTD_ALGORITHM=alg, JWTD_SECRET_KEY=None,
                                   JWTD_SIGNING_KEY_FILE=key))
    s = Svc(srv)
    for role in ROLES:
        s.create_user("u_" + role, email="%s@example.com" % role, role=role)
    srv.start()
    return s, key


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_end_to_end_with_jwtd(servers, alg, tmp_path):
    s, _ = start_jwtd(alg, str(tmp_path))
    try:
        rs = ResourceServer("--jwks-url", s.url + "/.well-known/jwks.json")
        servers.append(rs)
        assert rs.get("/").json() == {"status": "ok"}
        for role in ROLES:
            t = s.auth_login("u_" + role)
            r = rs.get("/protected", t["access_token"])
            assert r.status_code == 200, r.text
            assert r.json() == {"message": "Authenticated", "user_id": str(t["user"]["id"]),
                                "username": "u_" + role, "role": role}
            r = rs.get("/admin/dashboard", t["access_token"])
            assert r.status_code == (200 if role == "admin" else 403), (role, r.text)
            # a refresh token is not an access token
            r = rs.get("/protected", t["refresh_token"])
            assert r.status_code == 401 and r.json()["code"] == "token_not_valid"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = rs.get("/protected")
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
        r = requests.get(rs.url + "/protected", headers={"Authorization": "Bearer a b"},
                         timeout=10)
        assert r.json()["code"] == "bad_authorization_header"
        r = rs.get("/protected", t["access_token"][:-4] + "AAAA")
        assert r.status_code == 401
        assert rs.stats()["jwks_fetches"] == 1 and rs.stats()["kid_refetches"] == 0
    finally:
        s.srv.stop()


# ---- rotation and storm protection, against a JWKS server the test controls -------------------


class Keys:
    def __init__(self):
        self.keys = []
        self.fetches = 0
        self.lock = threading.Lock()

    def add(self):
        k = ec.generate_private_key(ec.SECP256R1())
        n = k.public_key().public_numbers()
        kid = uuid.uuid4().hex
        jwk = {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
               "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
        with self.lock:
            self.keys.append((kid, k, jwk))
        return kid, k

    def jwks(self):
        with self.lock:
            self.fetches += 1
            return json.dumps({"keys": [j for _, _, j in self.keys]}).encode()


def sign_es256(key, kid, **claims):
    now = int(time.time())
    payload = {"token_type": "access", "exp": now + 300, "iat": now, "jti": uuid.uuid4().hex,
               "user_id": "7", "sub": "7", "username": "kid-test", "role": "user"}
    payload.update(claims)
    h = b64u(json.dumps({"alg": "ES256", "typ": "JWT", "kid": kid}).encode())
    p = b64u(json.dumps(payload).encode())
    der = key.sign(("%s.%s" % (h, p)).encode(), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    return "%s.%s.%s" % (h, p, b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big")))


@pytest.fixture
def jwks_server():
    keys = Keys()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = keys.jwks()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    keys.url = "http://127.0.0.1:%d/.well-known/jwks.json" % srv.server_address[1]
    yield keys
    srv.shutdown()
    srv.server_close()


def test_unknown_kid_refetches_once_then_accepts(servers, jwks_server):
    kid1, k1 = jwks_server.add()
    rs = ResourceServer("--jwks-url", jwks_server.url, "--cooldown", "2", "--refresh", "3600")
    servers.append(rs)
    assert rs.get("/protected", sign_es256(k1, kid1)).status_code == 200
    assert jwks_server.fetches == 1
    kid2, k2 = jwks_server.add()  # the issuer rotates
    r = rs.get("/protected", sign_es256(k2, kid2))
    assert r.status_code == 200, r.text
    assert jwks_server.fetches == 2 and rs.stats()["kid_refetches"] == 1
    assert rs.get("/protected", sign_es256(k1, kid1)).status_code == 200  # old key still listed


def test_unknown_kid_flood_is_not_a_fetch_storm(servers, jwks_server):
    kid1, k1 = jwks_server.add()
    rs = ResourceServer("--jwks-url", jwks_server.url, "--cooldown", "30", "--refresh", "3600")
    servers.append(rs)
    rogue = ec.generate_private_key(ec.SECP256R1())
    sess = requests.Session()
    for _ in range(200):
        t = sign_es256(rogue, uuid.uuid4().hex)
        r = sess.get(rs.url + "/protected", headers={"Authorization": "Bearer " + t}, timeout=10)
        assert r.status_code == 401
    # one initial fetch + at most one refetch within the cooldown
    assert jwks_server.fetches <= 2, jwks_server.fetches
    assert rs.stats()["kid_refetches"] == 1
    assert rs.get("/protected", sign_es256(k1, kid1)).status_code == 200


def test_periodic_refresh_and_fetch_failure_keeps_keys(servers, jwks_server):
    kid1, k1 = jwks_server.add()
    rs = ResourceServer("--jwks-url", jwks_server.url, "--refresh", "1", "--cooldown", "3600")
    servers.append(rs)
    kid2, k2 = jwks_server.add()
    deadline = time.monotonic() + 10
    while rs.stats()["keys"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rs.stats()["keys"] == 2
    assert rs.get("/protected", sign_es256(k2, kid2)).status_code == 200


def test_pipelining_and_half_close(servers, tmp_path):
    """The I/O loop reads only until a short read (no read just to see EAGAIN): pipelined
    requests still all get answers in order, a request split across segments is answered,
    and a client that sends its request and its FIN together (shutdown(SHUT_WR)) gets the
    answer and then a closed connection, every time."""
    jwk = tmp_path / "hs.jwk"
    jwk.write_text(json.dumps({"kty": "oct", "alg": "HS256", "k": b64u(b"k" * 32)}))
    rs = ResourceServer("--jwks-file", str(jwk))
    servers.append(rs)
    host, port = rs.url.split("//")[1].split(":")
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

    def read_all(s):
        s.settimeout(5)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                return data
            data += d

    with socket.create_connection((host, int(port))) as s:
        s.sendall(req * 50 + req.replace(b"GET / ", b"GET /nope "))
        s.sendall(req[:7])
        time.sleep(0.05)
        s.sendall(req[7:] + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_all(s)
    statuses = [r[:3] for r in data.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [b"200"] * 50 + [b"404"] + [b"200"] * 2
    for _ in range(20):
        with socket.create_connection((host, int(port))) as s:
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s).startswith(b"HTTP/1.1 200 OK")  # then EOF, not a timeout


def test_refuses_to_start_without_keys():
    p = subprocess.run([BIN, "--jwks-url", "http://127.0.0.1:1/jwks.json", "--listen",
                        "127.0.0.1:0"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "no keys" in p.stderr


# ---- the FastAPI recipe ------------------------------------------------------------------------


def test_fastapi_service_verifies_jwtd_rs256_tokens(tmp_path):
    """Recipe: export jwtd's public key, point the FastAPI service's JWT_PUBLIC_KEY_FILE at it;
    it answers /protected and /admin/dashboard like resource-server."""
    s, key = start_jwtd("RS256", str(tmp_path))
    pub = os.path.join(str(tmp_path), "public.pem")
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
    svc = peers.FastApiService(os.path.join(str(tmp_path), "fastapi"), "RS256",
                               public_key_file=pub)
    try:
        svc.start()
        for role in ROLES:
            t = s.auth_login("u_" + role)
            r = svc.get("/protected", t["access_token"])
            assert r.status_code == 200, r.text
            assert r.json() == {"message": "Authenticated", "user_id": str(t["user"]["id"]),
                                "username": "u_" + role, "role": role}
            r = svc.get("/admin/dashboard", t["access_token"])
            assert r.status_code == (200 if role == "admin" else 403), (role, r.text)
            assert s.req("GET", "/admin/dashboard", t["access_token"]).status_code == \
                r.status_code
            r = svc.get("/protected", t["refresh_token"])
            assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
        # a token nobody signed is refused
        r = svc.get("/protected", "x.y.z")
        assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
        assert svc.get("/protected").json()["code"] == "not_authenticated"
    finally:
        svc.stop()
        s.srv.stop()

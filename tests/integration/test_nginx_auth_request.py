"""examples/nginx/jwtd-auth-request.conf run by a real nginx (Debian nginx-light) in front
of jwtd and a small upstream that echoes the headers it receives: a valid token reaches the
upstream with X-User-Id / X-Username / X-User-Role (client-forged copies overwritten, the
token itself not forwarded), invalid / expired / refresh tokens get 401, a revoked token is
rejected on the very next request, /admin/ requires role admin (403), and when jwtd is down
nginx fails closed (500)."""

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from peers import SHARED_SECRET, resign
from svc_helpers import svc_factory  # noqa: F401 (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "nginx", "jwtd-auth-request.conf")

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Nginx:
    def __init__(self, jwtd_port, app_port):
        self.dir = tempfile.mkdtemp(prefix="jwtd-it-nginx-")
        self.port = free_port()
        with open(EXAMPLE) as f:
            site = f.read()
        for a, b in (("127.0.0.1:8000", "127.0.0.1:%d" % jwtd_port),
                     ("127.0.0.1:9000", "127.0.0.1:%d" % app_port),
                     ("127.0.0.1:8080", "127.0.0.1:%d" % self.port)):
            assert a in site
            site = site.replace(a, b)
        with open(os.path.join(self.dir, "site.conf"), "w") as f:
            f.write(site)
        os.makedirs(os.path.join(self.dir, "tmp"))
        conf = """worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/site.conf;
}}
""".format(d=self.dir)
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        t = subprocess.run(["nginx", "-t", "-p", self.dir, "-c", self.conf, "-g", "daemon off;"],
                           capture_output=True, text=True)
        assert t.returncode == 0, t.stderr
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf,
                                      "-g", "daemon off;"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def stack(svc_factory):
    s = svc_factory()
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    th = threading.Thread(target=app.serve_forever, daemon=True)
    th.start()
    ngx = Nginx(s.srv.port, app.server_address[1])
    yield s, ngx
    ngx.stop()
    app.shutdown()
    app.server_close()


def get(ngx, path, token=None, **headers):
    if token:
        headers["Authorization"] = "Bearer " + token
    return requests.get(ngx.url + path, headers=headers, timeout=10)


def test_valid_token_reaches_upstream_with_user_headers(stack):
    s, ngx = stack
    t = s.auth_login("u_instructor")
    r = get(ngx, "/app/data?x=1", t["access_token"], **{"X-User-Role": "admin",
                                                         "X-User-Id": "1"})
    assert r.status_code == 200, r.text
    h = r.json()["headers"]
    assert r.json()["path"] == "/app/data?x=1"
    assert h["x-user-id"] == str(t["user"]["id"])   # forged copies overwritten
    assert h["x-username"] == "u_instructor"
    assert h["x-user-role"] == "instructor"
    assert "authorization" not in h                  # the token is not forwarded


def test_invalid_tokens_get_401(stack):
    s, ngx = stack
    t = s.auth_login("u_user")
    now = int(time.time())
    for bad in (None, "garbage", t["refresh_token"],
                resign(t["access_token"], SHARED_SECRET, exp=now - 60, iat=now - 900)):
        r = get(ngx, "/anything", bad)
        assert r.status_code == 401, (bad, r.status_code, r.text)
        assert r.json()["code"] == "not_authenticated"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = get(ngx, "/anything", Authorization="Basic Zm9vOmJhcg==")
    assert r.status_code == 401


def test_revoked_token_rejected_immediately(stack):
    s, ngx = stack
    t = s.auth_login("u_user")
    assert get(ngx, "/x", t["access_token"]).status_code == 200
    # logout through nginx (jwtd's routes are proxied as they are)
    r = requests.post(ngx.url + "/auth/logout",
                      headers={"Authorization": "Bearer " + t["access_token"]}, timeout=10)
    assert r.status_code == 204
    assert get(ngx, "/x", t["access_token"]).status_code == 401
    # logout-all of another user's sessions, too
    a, b = s.auth_login("u_admin"), s.auth_login("u_admin")
    assert get(ngx, "/x", b["access_token"]).status_code == 200
    time.sleep(1.05)
    assert s.req("POST", "/auth/logout-all", a["access_token"]).status_code == 204
    assert get(ngx, "/x", b["access_token"]).status_code == 401


def test_admin_location_requires_role(stack):
    s, ngx = stack
    for role, want in (("user", 403), ("instructor", 403), ("admin", 200)):
        r = get(ngx, "/admin/panel", s.auth_login("u_" + role)["access_token"])
        assert r.status_code == want, (role, r.status_code, r.text)
    assert get(ngx, "/admin/panel").status_code == 401


def test_internal_location_not_reachable(stack):
    s, ngx = stack
    t = s.auth_login("u_user")
    assert get(ngx, "/_jwtd_introspect", t["access_token"]).status_code == 404
    assert get(ngx, "/_jwtd_introspect_admin", t["access_token"]).status_code == 404


def test_jwtd_down_fails_closed(stack):
    s, ngx = stack
    t = s.auth_login("u_user")
    assert get(ngx, "/x", t["access_token"]).status_code == 200
    s.srv.stop()
    r = get(ngx, "/x", t["access_token"])
    assert r.status_code == 500, r.status_code

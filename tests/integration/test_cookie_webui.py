"""The web UI of the cookie flow, served by jwtd under /app/ (src/api/static.c): content
types, ETag / 304, Cache-Control, the security headers (CSP without inline scripts and with
frame-ancestors 'none', nosniff, Referrer-Policy, X-Frame-Options), no way out of the UI
directory, and no UI at all when JWTD_WEB_DIR does not exist."""

import os
import socket

import pytest
import requests

from conftest import ROOT
from peers import tokens  # noqa: F401 (fixture)

WEB_DIR = os.path.join(ROOT, "web", "app")


@pytest.fixture
def ui(tokens):  # noqa: F811
    return tokens(JWTD_WEB_DIR=WEB_DIR)


def raw_get(j, target):
    """Sends the request target as-is (requests would normalize '..')."""
    host, port = j.url[len("http://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_pages_and_content_types(ui):
    for path, ctype in (("/app/", "text/html"), ("/app/index.html", "text/html"),
                        ("/app/dashboard.html", "text/html"), ("/app/app.css", "text/css"),
                        ("/app/signin.js", "text/javascript"),
                        ("/app/jwtd-client.js", "text/javascript")):
        r = requests.get(ui.url + path, timeout=10)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith(ctype), path
    with open(os.path.join(WEB_DIR, "index.html"), "rb") as f:
        assert requests.get(ui.url + "/app/", timeout=10).content == f.read()
    r = requests.get(ui.url + "/app", timeout=10, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/app/"


def test_security_headers_and_no_inline_scripts(ui):
    r = requests.get(ui.url + "/app/dashboard.html", timeout=10)
    csp = r.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'", "no inline or eval scripts"
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'none'"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"]
    # and the pages really have no inline script or handler attributes
    for name in os.listdir(WEB_DIR):
        if name.endswith(".html"):
            with open(os.path.join(WEB_DIR, name)) as f:
                html = f.read().lower()
            assert "<script>" not in html and "onclick=" not in html and "onload=" not in html
            assert "<script type=\"module\" src=" in html
            assert "http://" not in html and "https://" not in html, "no CDN"


def test_etag_and_revalidation(ui):
    r = requests.get(ui.url + "/app/app.css", timeout=10)
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert r.headers["Cache-Control"] == "no-cache"
    r2 = requests.get(ui.url + "/app/app.css", headers={"If-None-Match": etag}, timeout=10)
    assert r2.status_code == 304 and r2.content == b""
    assert r2.headers["ETag"] == etag
    r3 = requests.get(ui.url + "/app/app.css", headers={"If-None-Match": '"other"'}, timeout=10)
    assert r3.status_code == 200
    h = requests.head(ui.url + "/app/app.css", timeout=10)
    assert h.status_code == 200 and h.content == b""


def test_no_way_out_of_the_ui_directory(ui):
    for target in ("/app/../Makefile", "/app/%2e%2e/Makefile", "/app/..%2fMakefile",
                   "/app/%2e%2e%2fsrc%2fmain.c", "/app//etc/passwd", "/app/.gitignore",
                   "/app/..\\Makefile", "/app/nope.html", "/app/index.html/",
                   "/app/jwtd-client.js/../../../Makefile"):
        assert raw_get(ui, target) == 404, target
    assert requests.post(ui.url + "/app/index.html", timeout=10).status_code == 405


def test_no_ui_when_the_directory_is_missing(tokens):  # noqa: F811
    j = tokens(JWTD_WEB_DIR="/nonexistent/jwtd-ui")
    assert requests.get(j.url + "/app/", timeout=10).status_code == 404
    assert requests.get(j.url + "/healthz", timeout=10).status_code == 200

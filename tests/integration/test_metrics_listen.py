"""JWTD_METRICS_LISTEN (issue 14, item 5): with a metrics address, GET /metrics is served on
that second listener only (the public listener answers 404 there, in the contract's error
format) and the second listener serves nothing else; unset, /metrics stays on the public
listener. A bad address is refused at load."""

import os
import select
import subprocess
import time

import requests

from conftest import jwtd_bin


def metrics_url(srv):
    """The second line jwtd prints: "jwtd metrics listening on http://HOST:PORT"."""
    line = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        r, _, _ = select.select([srv.proc.stdout], [], [], 0.2)
        if r:
            ch = os.read(srv.proc.stdout.fileno(), 1)
            if not ch:
                break
            line += ch
    text = line.decode().strip()
    assert text.startswith("jwtd metrics listening on http://"), text
    return text.split(" on ", 1)[1]


def test_metrics_on_their_own_listener(jwtd_server):
    srv = jwtd_server(env={"JWTD_METRICS_LISTEN": "127.0.0.1:0"})
    murl = metrics_url(srv)
    assert murl != srv.url
    r = requests.get(murl + "/metrics", timeout=10)
    assert r.status_code == 200
    assert "# TYPE jwtd_build_info gauge" in r.text and "process_start_time_seconds" in r.text
    # the public listener: 404 for /metrics, everything else as before
    r = requests.get(srv.url + "/metrics", timeout=10)
    assert r.status_code == 404
    assert r.json() == {"detail": "Not found.", "code": "not_found"}
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
    # the metrics listener serves nothing else
    assert requests.get(murl + "/healthz", timeout=10).status_code == 404
    assert requests.post(murl + "/api/token/", json={}, timeout=10).status_code == 404
    # requests made on the public listener are counted on the metrics one
    text = requests.get(murl + "/metrics", timeout=10).text
    assert any(l.startswith("jwtd_http_requests_total") for l in text.splitlines())


def test_metrics_on_the_public_listener_when_unset(jwtd_server):
    srv = jwtd_server()
    r = requests.get(srv.url + "/metrics", timeout=10)
    assert r.status_code == 200 and "jwtd_build_info" in r.text


def test_bad_metrics_address_refused_at_load(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    env.update({"JWTD_DATA_DIR": str(tmp_path), "JWTD_LISTEN": "127.0.0.1:0",
                "JWTD_METRICS_LISTEN": "127.0.0.1"})
    p = subprocess.run([jwtd_bin(), "serve"], env=env, capture_output=True, text=True,
                       timeout=30, cwd=str(tmp_path))
    assert p.returncode != 0
    assert "JWTD_METRICS_LISTEN" in p.stderr and "host:port" in p.stderr

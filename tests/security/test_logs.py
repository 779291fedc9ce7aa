"""Logs (issue 9, part 4): with JWTD_LOG_DIR the four files exist and hold what
they should -- api.log one line per request (method, path, status, duration, user id,
request id, a client's X-Request-Id kept), auth.log the security events (login, failed
login, refresh reuse, logout, invalid tokens), performance.log slow requests, error.log the
rest; SIGHUP reopens them (logrotate's rename + signal); JWTD_LOG_FORMAT=json writes one
JSON object per line; and after a full scenario NO file contains a token, a token's
signature, a password, the refresh cookie or the signing secret."""

import json
import os
import re
import signal
import tempfile
import time

import pytest
import requests

from attack import parts
from peers import SHARED_SECRET, TEST_PASSWORD, Jwtd, token_env

ORIGIN = {"Origin": "http://localhost:3000"}


def start(logdir, **env):
    from conftest import JwtdServer
    srv = JwtdServer(env=token_env(JWTD_LOG_DIR=logdir, JWTD_LOG_LEVEL="info",
                                   JWTD_REFRESH_REUSE_GRACE="0", **env))
    j = Jwtd(srv)
    j.create_user()
    srv.start()
    return j


def read(logdir, name):
    with open(os.path.join(logdir, name), encoding="utf-8", errors="replace") as f:
        return f.read()


def wait_for(logdir, name, pattern, timeout=10):
    """Whether the log file shows pattern within timeout (the writer is asynchronous)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(os.path.join(logdir, name)) and re.search(pattern, read(logdir, name)):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def logdir():
    d = tempfile.mkdtemp(prefix="jwtd-logs-")
    yield d
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def scenario(j):
    """Logins, refresh, reuse, logout, cookie flow, bad tokens: returns every secret used."""
    secrets = [TEST_PASSWORD, SHARED_SECRET, "wrong-password-xyz"]
    pair = j.login()
    secrets += [pair["access"], pair["refresh"]]
    assert j.post("/api/token/", {"username": "testuser",
                                  "password": "wrong-password-xyz"}).status_code == 401
    assert j.me(pair["access"]).status_code == 200
    r = j.refresh(pair["refresh"])
    assert r.status_code == 200
    secrets += [r.json()["access"], r.json()["refresh"]]
    assert j.refresh(pair["refresh"]).status_code == 401  # reuse: session revoked
    p2 = j.login()
    secrets += [p2["access"], p2["refresh"]]
    assert j.blacklist(p2["refresh"]).status_code == 200
    r = requests.post(j.url + "/api/auth/login/", json={"username": "testuser",
                                                        "password": TEST_PASSWORD},
                      headers=ORIGIN, timeout=30)
    assert r.status_code == 200
    secrets += [r.json()["access"], r.cookies["refresh_token"]]
    r2 = requests.post(j.url + "/api/auth/refresh/", cookies={"refresh_token": r.cookies[
        "refresh_token"]}, headers=ORIGIN, timeout=30)
    secrets += [r2.json().get("access", "x" * 40)]
    for bad in ("garbage.token.here", pair["access"][:-3] + "AAA"):
        j.get("/api/users/me/", token=bad)
        j.verify(bad)
    r = requests.get(j.url + "/api/users/me/", headers={
        "Authorization": "Bearer " + r.json()["access"], "X-Request-Id": "trace-42"}, timeout=30)
    assert r.status_code == 200 and r.headers["X-Request-Id"] == "trace-42"
    # tokens in query strings are not logged either
    requests.get(j.url + "/healthz?token=" + pair["access"], timeout=30)
    return secrets


def test_four_files_contents_and_no_secrets(logdir):
    j = start(logdir, JWTD_SLOW_REQUEST="1ms")
    try:
        secrets = scenario(j)
        # the last line of each file the scenario writes (the query-string request last)
        assert wait_for(logdir, "api.log", r'path="/healthz"')
        assert wait_for(logdir, "auth.log", "event=logout")
        assert wait_for(logdir, "performance.log", "event=slow_request")
        for name in ("auth.log", "api.log", "error.log", "performance.log"):
            assert os.path.exists(os.path.join(logdir, name)), name
        api = read(logdir, "api.log")
        assert re.search(r'request_id=trace-42 msg="request" method=GET path="/api/users/me/" '
                         r'status=200 bytes=\d+ duration_us=\d+ user_id=1', api), api[-2000:]
        assert re.search(r'method=POST path="/api/token/" status=401', api)
        assert "event=" not in api
        auth = read(logdir, "auth.log")
        for ev in ("event=login ", "event=login_failed", "event=refresh_reuse", "event=logout"):
            assert ev in auth, (ev, auth[-2000:])
        assert 'msg="request"' not in auth
        perf = read(logdir, "performance.log")
        assert "event=slow_request" in perf  # threshold 1 ms: the argon2 logins are slower
        # nothing secret anywhere: whole tokens, their signatures, passwords, cookie, key
        everything = "".join(read(logdir, n) for n in os.listdir(logdir))
        for s in secrets:
            assert s not in everything, "secret in logs: %s..." % s[:20]
            if s.count(".") == 2:
                sig = s.split(".")[2]
                assert sig not in everything, "token signature in logs"
                assert s.split(".")[1] not in everything, "token payload in logs"
    finally:
        j.srv.stop()


def test_sighup_reopens_files(logdir):
    j = start(logdir)
    try:
        requests.get(j.url + "/healthz", headers={"X-Request-Id": "before-rotation"}, timeout=30)
        assert wait_for(logdir, "api.log", "before-rotation")
        os.rename(os.path.join(logdir, "api.log"), os.path.join(logdir, "api.log.1"))
        os.rename(os.path.join(logdir, "auth.log"), os.path.join(logdir, "auth.log.1"))
        j.srv.proc.send_signal(signal.SIGHUP)
        assert wait_for(logdir, "api.log", "") and wait_for(logdir, "auth.log", "")  # reopened
        requests.get(j.url + "/healthz", headers={"X-Request-Id": "after-rotation"}, timeout=30)
        j.login()
        assert wait_for(logdir, "api.log", "after-rotation")
        assert wait_for(logdir, "auth.log", "event=login ")
        with open(os.path.join(logdir, "api.log.1")) as f:
            old = f.read()
        assert "before-rotation" in old and "after-rotation" not in old
        assert j.srv.proc.poll() is None, "SIGHUP killed jwtd"
    finally:
        j.srv.stop()


def test_json_lines(logdir):
    j = start(logdir, JWTD_LOG_FORMAT="json")
    try:
        j.login()
        requests.get(j.url + "/healthz?x=1", headers={"X-Request-Id": "json-1"}, timeout=30)
        assert wait_for(logdir, "api.log", "json-1")
        n = 0
        for name in ("api.log", "auth.log", "error.log"):
            for line in read(logdir, name).splitlines():
                obj = json.loads(line)
                assert {"ts", "level", "module"} <= set(obj), line
                n += 1
        api = [json.loads(x) for x in read(logdir, "api.log").splitlines()]
        hit = [o for o in api if o.get("request_id") == "json-1"]
        assert hit and hit[0]["path"] == "/healthz" and hit[0]["status"] == 200
        assert isinstance(hit[0]["duration_us"], int)
        assert n >= 3
    finally:
        j.srv.stop()


def test_unwritable_log_dir_is_a_clear_startup_error(tmp_path):
    from conftest import JwtdServer
    srv = JwtdServer(env=token_env(JWTD_LOG_DIR=str(tmp_path / "missing" / "dir")))
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "JWTD_LOG_DIR" in str(e.value)
    import shutil
    shutil.rmtree(srv.data_dir, ignore_errors=True)

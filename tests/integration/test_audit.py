"""The audit trail (issue 14, item 5): every security event is ONE structured record with the
same fields in auth.log (key=value text and JSON lines) and in the audit_log table, read back
with `jwtd audit`: time, event, outcome, user id or attempted username, client IP, request
id (the X-Request-Id the answer echoes), session id and user agent. Events of the HTTP API
(login, failed logins, refresh, reuse, logout, logout-all, session revocation, tamper
detections, signup, throttling, admin routes) and of the commands (user passwd / disable /
enable, token issue, revoke, keygen). `jwtd audit` filters; JWTD_AUDIT_RETENTION's sweep.
Runs on PostgreSQL too with JWTD_TEST_DB=pg."""

import json
import os
import re
import shutil
import tempfile
import time

import pytest
import requests

import pgdb
from peers import TEST_PASSWORD, Jwtd, claims, flip_data_bit, token_env

UA = "audit-test/1.0 (\"quoted\")"
FIELDS = ("event", "outcome", "user_id", "username", "ip", "request_id", "sid", "user_agent",
          "source", "actor", "reason")
KV = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def unquote(v):
    if not v.startswith('"'):
        return v
    v = v[1:-1]
    return re.sub(r'\\x([0-9a-f]{2})|\\(.)',
                  lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), v)


def parse_line(line):
    """One auth.log line as a dict, text or JSON."""
    line = line.strip()
    if line.startswith("{"):
        return json.loads(line)
    return {k: unquote(v) for k, v in KV.findall(line)}


def records(logdir):
    path = os.path.join(logdir, "auth.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [parse_line(l) for l in f if l.strip()]


def start(logdir, fmt="text", **env):
    """A server whose database outlives it (SQLite in logdir, or a PostgreSQL database)."""
    from conftest import JwtdServer
    srv = JwtdServer(env=token_env(JWTD_LOG_DIR=logdir, JWTD_LOG_LEVEL="info",
                                   JWTD_LOG_FORMAT=fmt, JWTD_REFRESH_REUSE_GRACE="0",
                                   JWTD_SIGNUP="open",
                                   JWTD_DATABASE_URL=pgdb.default_url(logdir), **env))
    j = Jwtd(srv)
    j.create_user()
    j.create_user("boss", email="boss@example.com", role="admin")
    srv.start()
    j.servers = [srv]
    return j


def halt(j):
    """Stops the server (SIGTERM: the audit writer flushes at exit), keeping its files."""
    j.srv.signal()
    assert j.srv.wait() == 0


def restart(j):
    """A new server on the same database and log directory."""
    from conftest import JwtdServer
    env = {k: v for k, v in j.srv.env.items() if k != "JWTD_DATA_DIR"}
    j.srv = JwtdServer(env=env)
    j.servers.append(j.srv)
    j.srv.start()


def stop_all(j):
    for srv in j.servers:
        srv.stop(check=False)


@pytest.fixture
def logdir():
    d = tempfile.mkdtemp(prefix="jwtd-audit-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def call(j, method, path, rid, token=None, **kw):
    headers = {"X-Request-Id": rid, "User-Agent": UA}
    if token:
        headers["Authorization"] = "Bearer " + token
    r = requests.request(method, j.url + path, headers=headers, timeout=30, **kw)
    assert r.headers.get("X-Request-Id") == rid
    return r


def audit_rows(j, *args):
    p = j.cli("audit", "--json", "--limit", "1000", *args)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def one(recs, event, rid=None, **where):
    """The one record of event (for request rid); fails when there are none or several."""
    found = [r for r in recs if r.get("event") == event and
             (rid is None or r.get("request_id") == rid) and
             all(str(r.get(k)) == str(v) for k, v in where.items())]
    assert len(found) == 1, "%s %s: %d records\n%s" % (event, rid, len(found), found)
    return found[0]


def http_scenario(j):
    """Each security event of the HTTP API once, under its own request id."""
    r = call(j, "POST", "/api/token/", "r-login",
             json={"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200
    pair = r.json()
    assert call(j, "POST", "/api/token/", "r-badpw",
                json={"username": "testuser", "password": "wrong-password"}).status_code == 401
    ghost = 'ghost"\x01' + "x" * 300
    assert call(j, "POST", "/api/token/", "r-unknown",
                json={"username": ghost, "password": "whatever1"}).status_code == 401
    r = call(j, "POST", "/api/token/refresh/", "r-refresh", json={"refresh": pair["refresh"]})
    assert r.status_code == 200
    assert call(j, "POST", "/api/token/refresh/", "r-reuse",
                json={"refresh": pair["refresh"]}).status_code == 401
    p2 = call(j, "POST", "/api/token/", "r-login2",
              json={"username": "testuser", "password": TEST_PASSWORD}).json()
    assert call(j, "POST", "/api/token/blacklist/", "r-logout",
                json={"refresh": p2["refresh"]}).status_code == 200
    assert call(j, "GET", "/api/users/me/", "r-tamper",
                token=flip_data_bit(p2["access"])).status_code == 401
    assert call(j, "POST", "/auth/register", "r-signup",
                json={"username": "newbie", "email": "newbie@example.org",
                      "password": "correct-horse-battery"}).status_code == 201
    p3 = call(j, "POST", "/api/token/", "r-login3",
              json={"username": "testuser", "password": TEST_PASSWORD}).json()
    p4 = call(j, "POST", "/api/token/", "r-login4",
              json={"username": "testuser", "password": TEST_PASSWORD}).json()
    sid4 = claims(p4["access"])["sid"]
    assert call(j, "DELETE", "/auth/sessions/" + sid4, "r-sessdel",
                token=p3["access"]).status_code in (200, 204)
    assert call(j, "GET", "/auth/revocations", "r-notadmin",
                token=p3["access"]).status_code == 403
    assert call(j, "POST", "/auth/logout-all", "r-logoutall",
                token=p3["access"]).status_code in (200, 204)
    return pair, sid4


def cli_scenario(j):
    j.cli("user", "passwd", "testuser", "--password-stdin", stdin="another-pass-123")
    j.cli("user", "disable", "testuser")
    j.cli("user", "enable", "testuser")
    j.cli("token", "issue", "--user", "testuser")
    j.cli("revoke", "--user", "testuser")
    assert j.cli("revoke", "--user", "nobody-here", check=False).returncode != 0
    j.cli("keygen", "--alg", "ES256", "--out", os.path.join(j.srv.data_dir, "k.pem"))


def check_http(recs, pair):
    base = {"ip": "127.0.0.1", "user_agent": UA, "source": "http"}
    r = one(recs, "login", "r-login", outcome="success", user_id=1, username="testuser", **base)
    assert re.fullmatch(r"[0-9a-f]{32}", r["sid"])
    one(recs, "login_failed", "r-badpw", outcome="failure", user_id=1, username="testuser",
        reason="bad_password", **base)
    r = one(recs, "login_failed", "r-unknown", outcome="failure", reason="no_such_user", **base)
    assert r["user_id"] in ("", None)
    # the attempted name: recorded, bounded (150 bytes), control byte and quote intact
    assert r["username"].startswith('ghost"\x01xxx') and len(r["username"]) == 150
    sid = claims(pair["refresh"])["sid"]
    one(recs, "refresh", "r-refresh", outcome="success", reason="rotated", sid=sid, user_id=1,
        **base)
    one(recs, "refresh_reuse", "r-reuse", outcome="detected", sid=sid, user_id=1, **base)
    one(recs, "logout", "r-logout", outcome="success", user_id=1, **base)
    one(recs, "token_invalid", "r-tamper", outcome="detected", reason="bad_signature", **base)
    one(recs, "signup", "r-signup", outcome="success", username="newbie", **base)
    one(recs, "session_revoked", "r-sessdel", outcome="success", **base)
    one(recs, "admin_action", "r-notadmin", outcome="failure", reason="not_admin",
        username="testuser", **base)
    one(recs, "logout_all", "r-logoutall", outcome="success", user_id=1, **base)
    for rid in ("r-login", "r-badpw", "r-unknown", "r-refresh", "r-reuse", "r-logout",
                "r-tamper", "r-signup", "r-sessdel", "r-notadmin", "r-logoutall"):
        assert len([x for x in recs if x.get("request_id") == rid]) == 1, rid


def check_cli(recs):
    cli = {"source": "cli", "ip": "", "request_id": ""}
    for event in ("password_changed", "user_deactivated", "user_activated", "token_issued"):
        r = one(recs, event, outcome="success", username="testuser", **cli)
        assert r["actor"].startswith("uid=")
    one(recs, "user_revoked", outcome="success", username="testuser", **cli)
    one(recs, "user_revoked", outcome="failure", username="nobody-here", reason="no_such_user",
        **cli)
    one(recs, "key_generated", outcome="success", **cli)
    one(recs, "user_created", username="boss", **cli)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_each_event_one_record_in_log_and_table(logdir, fmt):
    j = start(logdir, fmt)
    try:
        pair, _ = http_scenario(j)
        halt(j)  # the writer's queue is flushed at exit
        logged = records(logdir)
        for r in logged:  # every record carries every field, in both formats
            if r.get("event") and "outcome" in r:
                for f in FIELDS:
                    assert f in r, (f, r)
        if fmt == "json":
            assert all(isinstance(r, dict) for r in logged)
        check_http(logged, pair)
        # the table holds the same records (the CLI reads it back)
        table = audit_rows(j)
        check_http(table, pair)
        for r in table:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["time"])
        # administrative commands: in the command's log (stderr) and in the table
        j.env["JWTD_LOG_LEVEL"] = "info"
        j.env["JWTD_LOG_FORMAT"] = fmt
        j.env.pop("JWTD_LOG_DIR", None)
        cli_scenario(j)
        check_cli(audit_rows(j))
        p = j.cli("revoke", "--user", "testuser")
        cli_logged = [parse_line(l) for l in p.stderr.splitlines() if "user_revoked" in l]
        assert len(cli_logged) == 1 and cli_logged[0]["source"] == "cli"
    finally:
        stop_all(j)


def test_audit_command_filters(logdir):
    j = start(logdir)
    try:
        http_scenario(j)
        halt(j)
        every = audit_rows(j)
        assert len(every) >= 15
        assert [r["ts"] for r in every] == sorted((r["ts"] for r in every), reverse=True)
        failed = audit_rows(j, "--event", "login_failed")
        assert {r["reason"] for r in failed} == {"bad_password", "no_such_user"}
        by_user = audit_rows(j, "--user", "1")
        assert by_user and all(r["user_id"] == 1 for r in by_user)
        by_name = audit_rows(j, "--user", "newbie")
        assert [r["event"] for r in by_name] == ["signup"]
        assert audit_rows(j, "--ip", "127.0.0.1") and not audit_rows(j, "--ip", "10.9.9.9")
        assert len(audit_rows(j, "--limit", "3")[:10]) == len(every[:3])
        p = j.cli("audit", "--limit", "2")
        assert len(p.stdout.splitlines()) == 3 and p.stdout.startswith("TIME")
        now = int(time.time())
        assert not audit_rows(j, "--until", str(now - 3600))
        assert len(audit_rows(j, "--since", "1h")) == len(every)
        assert not audit_rows(j, "--since", str(now + 3600))
        assert audit_rows(j, "--since", time.strftime("%Y-%m-%d", time.gmtime(now - 86400)))
        bad = j.cli("audit", "--since", "yesterday-ish", check=False)
        assert bad.returncode == 2 and "--since" in bad.stderr
        assert j.cli("audit", "--limit", "0", check=False).returncode == 2
    finally:
        stop_all(j)


def test_retention_sweep_deletes_old_rows(logdir):
    j = start(logdir, JWTD_AUDIT_RETENTION="1d")
    try:
        http_scenario(j)
        halt(j)
        before = audit_rows(j)
        old = [r for r in before if r["event"] == "login_failed"]
        assert len(old) == 2
        # two days ago: past the retention
        pgdb.db_query(j.env["JWTD_DATABASE_URL"],
                      "UPDATE audit_log SET ts = ts - 172800 WHERE event = 'login_failed'")
        restart(j)  # the server sweeps at start
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and audit_rows(j, "--event", "login_failed"):
            time.sleep(0.1)
        assert not audit_rows(j, "--event", "login_failed")
        after = audit_rows(j)
        assert len(after) == len(before) - 2
    finally:
        stop_all(j)


def test_retention_zero_stores_nothing(logdir):
    j = start(logdir, JWTD_AUDIT_RETENTION="0")
    try:
        r = call(j, "POST", "/api/token/", "r-login",
                 json={"username": "testuser", "password": TEST_PASSWORD})
        assert r.status_code == 200
        halt(j)
        one(records(logdir), "login", "r-login")  # still in auth.log
        assert pgdb.db_query(j.env["JWTD_DATABASE_URL"], "SELECT count(*) FROM audit_log")[0][0] \
            == 0
    finally:
        stop_all(j)


def test_rate_limit_block_is_recorded(logdir):
    j = start(logdir, JWTD_RATE_LIMIT_LOGIN="2/minute")
    try:
        codes = [call(j, "POST", "/api/token/", "r-t%d" % i,
                      json={"username": "testuser", "password": "wrong-password"}).status_code
                 for i in range(4)]
        assert 429 in codes
        halt(j)
        blocked = [r for r in records(logdir) if r.get("event") == "throttled"]
        assert blocked and len(blocked) == codes.count(429)
        r = blocked[0]
        assert r["outcome"] == "blocked" and r["reason"] == "login"
        assert r["ip"] == "127.0.0.1" and r["user_agent"] == UA and r["request_id"].startswith("r-t")
        assert len(audit_rows(j, "--event", "throttled")) == len(blocked)
    finally:
        stop_all(j)


def test_tamper_flood_is_sampled(logdir):
    """A flood of forged tokens from one address costs a bounded number of records."""
    j = start(logdir)
    try:
        bad = flip_data_bit(j.login()["access"])
        for i in range(30):
            call(j, "GET", "/api/users/me/", "f-%d" % i, token=bad)
        halt(j)
        tampered = [r for r in records(logdir) if r.get("event") == "token_invalid"]
        assert 1 <= len(tampered) <= 10 + 10  # at most 10 a minute (two minutes at a boundary)
        assert len(audit_rows(j, "--event", "token_invalid")) == len(tampered)
    finally:
        stop_all(j)

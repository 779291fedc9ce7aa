"""`jwtd db copy` (issue 19, growing out of one machine): a SQLite database filled through
jwtd's HTTP API (users, sessions, rotated refresh tokens, revocations, a deleted user's
tombstone, posts, the audit trail) is copied into PostgreSQL in one verified transaction;
jwtd started on the copy accepts the same logins and refresh tokens and refuses the same
revoked tokens; identity sequences continue past the copied ids; a non-empty target is
refused without --force. Always needs PostgreSQL (skipped when it is not installed)."""

import re
import subprocess

import pytest

import pgdb
from conftest import JwtdServer, jwtd_bin
from peers import TEST_PASSWORD, token_env
from svc_helpers import Svc

pytestmark = pytest.mark.skipif(not pgdb.available(), reason="PostgreSQL is not installed")


def run(env, *args, check=True):
    p = subprocess.run([jwtd_bin()] + list(args), env=env, capture_output=True, text=True,
                       timeout=120)
    if check:
        assert p.returncode == 0, "jwtd %s -> %d\n%s%s" % (" ".join(args), p.returncode,
                                                          p.stdout, p.stderr)
    return p


def report(stdout):
    """{table: (source_rows, target_rows, result)} from the command's table."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{16})\s+(\w+)$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(5))
    return rows


def fill(tmp_path):
    """A SQLite database with data of every kind, made through the HTTP API; returns what the
    copy must preserve."""
    url = "sqlite:%s/src.db" % tmp_path
    env = token_env(JWTD_DATABASE_URL=url, JWTD_SIGNUP="open", JWTD_REFRESH_REUSE_GRACE="0")
    srv = JwtdServer(env=env)
    s = Svc(srv)
    s.create_user("boss", email="boss@example.com", role="admin")
    srv.start()
    out = {"url": url, "env": env}
    try:
        users = []
        for i in range(4):
            r = s.post("/auth/register", {"username": "user%d" % i,
                                          "email": "user%d@example.com" % i,
                                          "password": TEST_PASSWORD})
            assert r.status_code == 201, r.text
            users.append(r.json()["id"])
        a = s.auth_login("user0")
        r = s.post("/auth/refresh", {"refresh_token": a["refresh_token"]})
        assert r.status_code == 200
        out["live_refresh"] = r.json()["refresh_token"]
        out["used_refresh"] = a["refresh_token"]
        b = s.auth_login("user1")
        assert s.req("POST", "/auth/logout", b["access_token"]).status_code == 204
        out["logged_out_access"] = b["access_token"]
        out["logged_out_refresh"] = b["refresh_token"]
        c = s.auth_login("user2")
        for i in range(3):
            r = s.req("POST", "/posts", c["access_token"],
                      json={"title": "post %d" % i, "body": "ünïcødé body\n'quoted' \"x\""})
            assert r.status_code == 201, r.text
        admin = s.auth_login("boss")["access_token"]
        d = s.auth_login("user3")
        assert s.req("DELETE", "/admin/users/%d" % users[3], admin).status_code == 204
        out["deleted_access"] = d["access_token"]
        out["max_user_id"] = users[3]  # deleted: the highest id, never to be reused
    finally:
        srv.stop()
    return out


def test_copy_sqlite_to_postgresql(tmp_path):
    src = fill(tmp_path)
    dst = pgdb.new_url()
    env = dict(src["env"])
    p = run(env, "db", "copy", "--from", src["url"], "--to", dst)
    rep = report(p.stdout)
    for table in ("users", "sessions", "refresh_tokens", "revoked_tokens", "posts", "audit_log",
                  "user_tombstones"):
        assert table in rep, (table, p.stdout)
        assert rep[table][0] == rep[table][1] and rep[table][2] == "ok", (table, rep)
    assert rep["users"][0] == 4 and rep["posts"][0] == 3 and rep["user_tombstones"][0] == 1
    assert rep["audit_log"][0] > 0
    assert "counts and checksums match" in p.stdout
    # row by row, the tables are the same
    for table, key in (("users", "id"), ("sessions", "id"), ("posts", "id")):
        a = pgdb.db_query(src["url"], "SELECT * FROM %s ORDER BY %s" % (table, key))
        b = pgdb.db_query(dst, "SELECT * FROM %s ORDER BY %s" % (table, key))
        norm = [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in b]
        assert a == norm, table

    # jwtd on the copy: same logins, same refresh tokens, same revocations
    env2 = token_env(JWTD_DATABASE_URL=dst, JWTD_REFRESH_REUSE_GRACE="0")
    srv = JwtdServer(env=env2)
    srv.start()
    try:
        s = Svc(srv)
        assert s.auth_login("user0")["user"]["username"] == "user0"
        r = s.post("/auth/refresh", {"refresh_token": src["live_refresh"]})
        assert r.status_code == 200, r.text
        assert s.post("/auth/refresh", {"refresh_token": src["used_refresh"]}).status_code == 401
        assert s.post("/auth/refresh",
                      {"refresh_token": src["logged_out_refresh"]}).status_code == 401
        assert s.post("/api/token/verify/",
                      {"token": src["logged_out_access"]}).status_code == 401
        assert s.post("/api/token/verify/", {"token": src["deleted_access"]}).status_code == 401
        assert s.post("/auth/login", {"username": "user3", "password": TEST_PASSWORD}) \
            .status_code == 401
        # the sequences continue past the copied ids (and the deleted user's)
        r = s.post("/auth/register", {"username": "newcomer", "email": "new@example.com",
                                      "password": TEST_PASSWORD})
        assert r.status_code == 201, r.text
        assert r.json()["id"] > src["max_user_id"]
        tok = s.auth_login("user2")["access_token"]
        r = s.req("POST", "/posts", tok, json={"title": "after", "body": "the copy"})
        assert r.status_code == 201 and r.json()["id"] > 3, r.text
        r = s.req("GET", "/posts", tok)
        assert r.status_code == 200 and "ünïcødé" in r.text
    finally:
        srv.stop()

    # a non-empty target is refused, and left as it was
    before = pgdb.db_query(dst, "SELECT count(*) FROM users")[0][0]
    p = run(env, "db", "copy", "--from", src["url"], "--to", dst, check=False)
    assert p.returncode == 1 and "not empty" in p.stderr and "--force" in p.stderr
    assert pgdb.db_query(dst, "SELECT count(*) FROM users")[0][0] == before == 5
    # --force replaces it
    p = run(env, "db", "copy", "--from", src["url"], "--to", dst, "--force")
    assert report(p.stdout)["users"] == (4, 4, "ok")
    assert pgdb.db_query(dst, "SELECT count(*) FROM users WHERE username = 'newcomer'")[0][0] \
        == 0


def test_copy_refusals(tmp_path):
    url = "sqlite:%s/old.db" % tmp_path
    env = token_env(JWTD_DATABASE_URL=url)
    run(env, "migrate")
    dst = pgdb.new_url()
    p = run(env, "db", "copy", "--from", dst, "--to", url, check=False)
    assert p.returncode == 1 and "--from must be a SQLite database" in p.stderr
    p = run(env, "db", "copy", "--from", url, "--to", "sqlite:%s/x.db" % tmp_path, check=False)
    assert p.returncode == 1 and "--to must be a PostgreSQL database" in p.stderr
    p = run(env, "db", "copy", "--from", url, check=False)
    assert p.returncode == 2 and "--to" in p.stderr
    p = run(env, "db", "copy", "--from", "sqlite:%s/missing/none.db" % tmp_path, "--to", dst,
            check=False)
    assert p.returncode == 1
    # an empty (migrated) source copies as empty tables
    p = run(env, "db", "copy", "--from", url, "--to", dst)
    assert report(p.stdout)["users"] == (0, 0, "ok")
    # a source the binary would migrate further is refused, not silently upgraded
    pgdb.db_query(url, "DELETE FROM schema_version WHERE version = "
                  "(SELECT MAX(version) FROM schema_version)")
    p = run(env, "db", "copy", "--from", url, "--to", pgdb.new_url(), check=False)
    assert p.returncode == 1 and "jwtd migrate" in p.stderr

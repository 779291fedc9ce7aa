"""PostgreSQL-only behaviour of jwtd (issue 6, item 1), against real servers started here.

The rest of the suite runs on PostgreSQL too (JWTD_TEST_DB=pg, `make test-pg`); this file
covers what only a client/server database has:
  * the database goes away under a running jwtd: every route that needs it answers 503
    `unavailable` (never 401 or 500), routes that do not (verify, /me from the user
    cache) keep working, and jwtd recovers by itself when the server is back;
  * an unreachable database at start is a clear error that never shows the password;
  * `jwtd migrate` run concurrently by several processes applies each migration once;
  * the same schema: jwtd's tables and columns on PostgreSQL match SQLite's.
"""

import concurrent.futures
import os
import subprocess
import time

import pytest

import pgdb
from conftest import JwtdServer, jwtd_bin
from peers import TEST_PASSWORD, Jwtd, token_env

pytestmark = pytest.mark.skipif(not pgdb.available(),
                                reason="PostgreSQL server binaries not installed")


@pytest.fixture
def own_pg():
    """A PostgreSQL server for one test (it gets stopped and restarted)."""
    srv = pgdb.PgServer().start()
    yield srv
    srv.stop()


def start_jwtd(url, **env):
    srv = JwtdServer(env=token_env(JWTD_DATABASE_URL=url, **env))
    j = Jwtd(srv)
    j.create_user()
    srv.start()
    return j


def assert_unavailable(r):
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "unavailable", r.text


def test_lost_database_is_503_and_recovers(own_pg):
    url = own_pg.url(own_pg.create_database()) + "?connect_timeout=2"
    j = start_jwtd(url)
    try:
        pair = j.login()
        assert j.me(pair["access"]).status_code == 200
        own_pg.halt()
        # every DB-backed route: 503 unavailable, never 401/500
        assert_unavailable(j.post("/api/token/", {"username": "testuser",
                                                  "password": TEST_PASSWORD}))
        assert_unavailable(j.refresh(pair["refresh"]))
        assert_unavailable(j.post("/api/token/", {"username": "nobody",
                                                  "password": TEST_PASSWORD}))
        r = j.get("/readyz")
        assert r.status_code == 503, r.text
        # the hot path does not query the database: verify, and /me from the user cache
        assert j.verify(pair["access"]).status_code == 200
        r = j.me(pair["access"])
        assert r.status_code == 200 and r.json()["username"] == "testuser", r.text
        # back: jwtd recovers by itself (no restart), on every pooled connection
        own_pg.resume()
        deadline = time.monotonic() + 20
        while True:
            r = j.post("/api/token/", {"username": "testuser", "password": TEST_PASSWORD})
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200, r.text
        for _ in range(8):
            assert j.login()["access"]
        r = j.refresh(pair["refresh"])
        assert r.status_code == 200, r.text
        assert j.get("/readyz").status_code == 200
    finally:
        j.srv.stop()


def test_restart_while_idle_is_invisible(own_pg):
    """A database restart between requests costs no failed request: the pool's health
    check sees the closed connections before using them and reconnects."""
    url = own_pg.url(own_pg.create_database())
    j = start_jwtd(url)
    try:
        pairs = [j.login() for _ in range(4)]
        own_pg.halt()
        own_pg.resume()
        for p in pairs:
            r = j.refresh(p["refresh"])
            assert r.status_code == 200, r.text
        assert j.login()["access"]
    finally:
        j.srv.stop()


def test_unreachable_database_at_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    env.update(token_env(JWTD_DATABASE_URL="postgresql://jwtd:hunter2-secret@127.0.0.1:1/x",
                         JWTD_LISTEN="127.0.0.1:0", JWTD_DATA_DIR=str(tmp_path)))
    p = subprocess.run([jwtd_bin(), "serve"], env=env, capture_output=True, text=True,
                       timeout=60, cwd=str(tmp_path))
    assert p.returncode != 0
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/x" in p.stderr, p.stderr
    assert "hunter2" not in p.stderr + p.stdout
    p = subprocess.run([jwtd_bin(), "migrate"], env=env, capture_output=True, text=True,
                       timeout=60, cwd=str(tmp_path))
    assert p.returncode == 1 and "hunter2" not in p.stderr


def test_concurrent_migrate_applies_once(tmp_path):
    url = pgdb.new_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    env.update({"JWTD_DATABASE_URL": url, "JWTD_LOG_LEVEL": "warn"})

    def migrate(_):
        return subprocess.run([jwtd_bin(), "migrate"], env=env, capture_output=True,
                              text=True, timeout=120, cwd=str(tmp_path))

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        results = list(ex.map(migrate, range(6)))
    for p in results:
        assert p.returncode == 0, p.stderr
    applied = sum(int(p.stdout.split("(")[1].split()[0]) for p in results)
    latest = int(results[0].stdout.split("version ")[1].split()[0])
    assert applied == latest, [p.stdout for p in results]
    rows = pgdb.db_query(url, "SELECT version FROM schema_version ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, latest + 1))


def test_same_schema_as_sqlite(tmp_path):
    """Same tables and columns (names, order, nullability) on both backends."""
    sqlite_url = "sqlite:%s/s.db" % tmp_path
    pg_url = pgdb.new_url()
    for url in (sqlite_url, pg_url):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
        env["JWTD_DATABASE_URL"] = url
        subprocess.run([jwtd_bin(), "migrate"], env=env, check=True, capture_output=True,
                       cwd=str(tmp_path))
    tables = [r[0] for r in pgdb.db_query(
        sqlite_url, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
        "'sqlite_%' ORDER BY name")]
    pg_tables = [r[0] for r in pgdb.db_query(
        pg_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = "
        "'public' ORDER BY table_name")]
    assert tables == pg_tables
    for t in tables:
        cols = [(r[1], bool(r[3]) or bool(r[5])) for r in pgdb.db_query(
            sqlite_url, "SELECT * FROM pragma_table_info('%s')" % t)]
        pg_cols = [(r[0], r[1] == "NO") for r in pgdb.db_query(
            pg_url, "SELECT column_name, is_nullable FROM information_schema.columns WHERE "
            "table_name = ? ORDER BY ordinal_position", t)]
        assert cols == pg_cols, t

"""`jwtd check` (docs/operations.md): one line per check, exit 0, or exit 1 naming each
problem; it never creates a file. Redis is a real redis-server on an ephemeral port."""

import os
import sqlite3
import subprocess

import pytest

import pgdb
from conftest import jwtd_bin
from redis_util import free_port, redis_server  # noqa: F401 (fixture)

SECRET = "k" * 48


def run(cwd, env, *args):
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    base.update(env)
    p = subprocess.run([jwtd_bin(), "check"] + list(args), cwd=cwd, env=base,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def lines(out):
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def migrated(tmp_path, **extra):
    env = {"JWTD_DATA_DIR": str(tmp_path), "JWTD_SECRET_KEY": SECRET,
           "JWTD_DATABASE_URL": "sqlite:%s" % (tmp_path / "jwtd.db")}
    env.update(extra)
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    subprocess.run([jwtd_bin(), "migrate"], env={**base, **env}, check=True, timeout=60,
                   capture_output=True)
    return env


def test_good_setup_with_redis(tmp_path, redis_server):  # noqa: F811
    redis = redis_server()
    env = migrated(tmp_path, JWTD_REDIS_URL=redis.url, JWTD_LOG_DIR=str(tmp_path))
    before = sorted(os.listdir(tmp_path))
    rc, out, err = run(tmp_path, env)
    assert rc == 0, out + err
    got = lines(out)
    for name in ("config", "keys", "logs", "database", "redis"):
        assert got[name].startswith("ok"), (name, out)
    assert "schema version" in got["database"] and "pending" not in got["database"]
    assert out.splitlines()[-1] == "jwtd check: ok"
    assert sorted(os.listdir(tmp_path)) == before


def test_config_file_with_a_bad_value(tmp_path):
    conf = tmp_path / "jwtd.conf"
    conf.write_text("JWTD_ACCESS_TOKEN_LIFETIME=soon\n")
    rc, out, _ = run(tmp_path, {}, "--config", str(conf))
    assert rc == 1
    assert "JWTD_ACCESS_TOKEN_LIFETIME" in lines(out)["config"]
    assert out.splitlines()[-1] == "jwtd check: 1 problem: config"


def test_production_without_a_key_and_unreachable_redis(tmp_path):
    env = migrated(tmp_path, JWTD_ENVIRONMENT="production",
                   JWTD_REDIS_URL="redis://127.0.0.1:%d" % free_port())
    del env["JWTD_SECRET_KEY"]
    rc, out, _ = run(tmp_path, env)
    assert rc == 1, out
    got = lines(out)
    assert "no signing key" in got["keys"] and "JWTD_SECRET_KEY_FILE" in got["keys"]
    assert "JWTD_REDIS_URL" in got["redis"] and "cannot connect" in got["redis"]
    assert got["database"].startswith("ok")
    assert out.splitlines()[-1] == "jwtd check: 2 problems: keys redis"


def test_unreachable_postgresql(tmp_path):
    closed = free_port()
    env = {"JWTD_DATA_DIR": str(tmp_path), "JWTD_SECRET_KEY": SECRET,
           "JWTD_DATABASE_URL": "postgresql://jwtd@127.0.0.1:%d/jwtd" % closed}
    rc, out, _ = run(tmp_path, env)
    assert rc == 1
    assert lines(out)["database"].startswith("JWTD_DATABASE_URL: ")
    assert out.splitlines()[-1] == "jwtd check: 1 problem: database"


def test_missing_sqlite_file_creates_nothing(tmp_path):
    """In development without any key either: nothing is generated, nothing created."""
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"JWTD_DATA_DIR": str(empty / "var"),
           "JWTD_DATABASE_URL": "sqlite:%s" % (empty / "var" / "jwtd.db")}
    rc, out, _ = run(empty, env)
    assert rc == 1
    got = lines(out)
    assert "not generated yet" in got["keys"] and got["keys"].startswith("ok")
    assert "cannot open SQLite database" in got["database"]
    assert out.splitlines()[-1] == "jwtd check: 1 problem: database"
    assert os.listdir(empty) == []


def test_pending_migrations_are_noted(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)  # a database jwtd has never migrated
    con.execute("CREATE TABLE unrelated (x)")
    con.close()
    env = {"JWTD_DATA_DIR": str(tmp_path), "JWTD_SECRET_KEY": SECRET,
           "JWTD_DATABASE_URL": "sqlite:%s" % db}
    rc, out, _ = run(tmp_path, env)
    assert rc == 0, out
    assert "schema version 0" in lines(out)["database"]
    assert "pending" in lines(out)["database"]
    con = sqlite3.connect(db)  # and check wrote nothing: no schema_version table
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    con.close()
    assert names == ["unrelated"]
    assert sorted(os.listdir(tmp_path)) == ["old.db"]


def test_help_lists_the_checks():
    p = subprocess.run([jwtd_bin(), "check", "--help"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0
    assert "usage: jwtd check [--config FILE]" in p.stdout
    for name in ("config", "keys", "logs", "database", "redis"):
        assert "  %s " % name in p.stdout


@pytest.mark.skipif(not pgdb.available(), reason="PostgreSQL server binaries not installed")
def test_postgresql_read_only_then_migrated(tmp_path):
    url = pgdb.new_url()
    env = {"JWTD_DATA_DIR": str(tmp_path), "JWTD_SECRET_KEY": SECRET, "JWTD_DATABASE_URL": url}
    rc, out, _ = run(tmp_path, env)
    assert rc == 0, out
    assert "postgresql, schema version 0" in lines(out)["database"]
    tables = pgdb.db_query(url, "SELECT table_name FROM information_schema.tables "
                                "WHERE table_schema = current_schema()")
    assert tables == []  # nothing created, not even schema_version
    subprocess.run([jwtd_bin(), "migrate"], env={**os.environ, **env}, check=True, timeout=60,
                   capture_output=True)
    rc, out, _ = run(tmp_path, env)
    assert rc == 0 and "pending" not in lines(out)["database"], out

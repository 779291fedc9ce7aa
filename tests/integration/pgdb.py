"""One test suite, two databases: a real PostgreSQL server for the integration tests.

`JWTD_TEST_DB=pg` makes every jwtd server the harness starts (conftest.JwtdServer) use a
fresh database on one PostgreSQL server shared by the whole pytest session, instead of its
own SQLite file; `make test` runs the database-touching test files a second time that way
(Makefile target `integration-pg`). Tests that always need PostgreSQL (test_pg_*.py,
import-django from a PostgreSQL Django database) use `server()` directly.

The server is started lazily by tests/pg/pg-server (initdb + pg_ctl into a temp dir, on
127.0.0.1 and a free port, trust auth, run as the unprivileged `postgres` user when the
tests run as root, fsync off: test data need no durability) and stopped at exit.

Helpers:
    enabled()                 JWTD_TEST_DB=pg is set
    available()               the server binaries are installed (tests skip when not)
    server()                  the shared PgServer (.admin_url, .port, .halt(), .resume())
    new_url(server=None)      a fresh empty database on it -> its postgresql:// URL
    default_url(data_dir)     what a jwtd server gets by default: SQLite file or new_url()
    db_query(url, sql, *args) runs SQL with `?` placeholders on a sqlite: or postgresql:
                              URL and returns the rows (tests that inspect the tables)
"""

import atexit
import itertools
import os
import sqlite3
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_SERVER = os.path.join(ROOT, "tests", "pg", "pg-server")

_server = None
_seq = itertools.count(1)


def enabled():
    return os.environ.get("JWTD_TEST_DB", "sqlite") == "pg"


def available():
    return subprocess.run([PG_SERVER, "available"]).returncode == 0


class PgServer:
    def __init__(self, opts="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"):
        self.dir = tempfile.mkdtemp(prefix="jwtd-pg-")
        self.opts = opts
        self.admin_url = None
        self.port = None

    def start(self, port=None):
        args = [PG_SERVER, "start", self.dir] + ([str(port)] if port else [])
        env = dict(os.environ, PG_SERVER_OPTS=self.opts)
        p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=180)
        if p.returncode != 0:
            raise RuntimeError("cannot start PostgreSQL: %s%s" % (p.stdout, p.stderr))
        self.admin_url = p.stdout.strip()
        self.port = int(self.admin_url.rsplit(":", 1)[1].split("/")[0])
        return self

    def halt(self):
        subprocess.run([PG_SERVER, "halt", self.dir], check=True, timeout=120)

    def resume(self):
        return self.start(self.port)

    def stop(self):
        subprocess.run([PG_SERVER, "stop", self.dir], timeout=120)

    def url(self, dbname, user="jwtd"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (user, self.port, dbname)

    def execute(self, sql, dbname="postgres"):
        import psycopg2
        con = psycopg2.connect(self.url(dbname))
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else None
        finally:
            con.close()

    def create_database(self, prefix="jwtd_t"):
        name = "%s_%d_%d" % (prefix, os.getpid(), next(_seq))
        self.execute("CREATE DATABASE %s" % name)
        return name


def server():
    global _server
    if _server is None:
        s = PgServer().start()
        _server = s
        atexit.register(s.stop)
    return _server


def new_url(srv=None):
    srv = srv or server()
    return srv.url(srv.create_database()) + "?synchronous=off"


def default_url(data_dir):
    if enabled():
        return new_url()
    return "sqlite:%s/jwtd.db" % data_dir


def _pg_dsn(url):
    return url.split("?", 1)[0]


def db_query(url, sql, *args):
    if url.startswith("sqlite:"):
        path = url[len("sqlite:"):].split("?", 1)[0]
        if path.startswith("//"):
            path = path[2:]
        con = sqlite3.connect(path, timeout=10)
        try:
            rows = con.execute(sql, args).fetchall()
            con.commit()
            return rows
        finally:
            con.close()
    import psycopg2
    con = psycopg2.connect(_pg_dsn(url))
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), args)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()

"""Integration tests for the database admin commands of the real jwtd binary:
`jwtd migrate`, `jwtd user create|list|passwd|disable|enable`, `jwtd flush-expired`.

Each test gets a temp directory and JWTD_DATABASE_URL=sqlite:<tmp>/jwtd.db; the database is
inspected with Python's sqlite3 module (the schema is the contract of src/db/db_sqlite.c).
JWTD_BIN (default build/jwtd) is the binary under test. Passwords are hashed at small argon2
parameters (JWTD_ARGON2_*) to keep the tests fast, except where the defaults are checked.
"""

import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHC_RE = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")


def jwtd_bin():
    path = os.environ.get("JWTD_BIN", "build/jwtd")
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


@pytest.fixture
def env(tmp_path):
    e = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    e.update({
        "JWTD_DATABASE_URL": "sqlite:%s/jwtd.db" % tmp_path,
        "JWTD_DATA_DIR": str(tmp_path),
        "JWTD_LOG_LEVEL": "warn",
        "JWTD_ARGON2_MEMORY_KIB": "1024",
        "JWTD_ARGON2_ITERATIONS": "1",
    })
    e["_db_path"] = str(tmp_path / "jwtd.db")
    return e


def run(env, *args, stdin=None, timeout=60):
    e = {k: v for k, v in env.items() if not k.startswith("_")}
    return subprocess.run([jwtd_bin()] + list(args), input=stdin, env=e, cwd=os.path.dirname(env["_db_path"]),
                          capture_output=True, text=True, timeout=timeout)


def db(env):
    conn = sqlite3.connect(env["_db_path"])
    conn.row_factory = sqlite3.Row
    return conn


def create(env, name, password="testpass123", *extra):
    r = run(env, "user", "create", name, "--password-stdin", *extra, stdin=password + "\n")
    assert r.returncode == 0, r.stderr
    return r


def add_session(env, sid, username, refresh_expires, jti=None, revoked_at=None, last_used=None):
    with db(env) as c:
        uid = c.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()[0]
        now = int(time.time())
        c.execute("INSERT INTO sessions (id, user_id, created_at, last_used_at, revoked_at) VALUES (?,?,?,?,?)",
                  (sid, uid, now - 10, last_used if last_used is not None else now - 10, revoked_at))
        if jti:
            c.execute("INSERT INTO refresh_tokens (jti, sid, issued_at, expires_at) VALUES (?,?,?,?)",
                      (jti, sid, now - 10, refresh_expires))


def test_migrate_is_idempotent(env):
    r = run(env, "migrate")
    assert r.returncode == 0, r.stderr
    assert re.match(r"database schema at version (\d+) \((\d+) migrations? applied\)", r.stdout)
    version = int(re.search(r"version (\d+)", r.stdout).group(1))
    assert version >= 1
    r2 = run(env, "migrate")
    assert r2.returncode == 0
    assert r2.stdout.strip() == "database schema at version %d (0 migrations applied)" % version
    with db(env) as c:
        assert c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == version
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "sessions", "refresh_tokens", "revoked_tokens", "schema_version"} <= tables


def test_create_and_list(env):
    r = create(env, "testuser", "testpass123", "--email", "test@example.com", "--first-name", "Test",
               "--last-name", "User")
    assert re.match(r"created user testuser \(id 1, role user\)", r.stdout)
    create(env, "teach", "another-pass", "--role", "instructor", "--premium")
    with db(env) as c:
        u = c.execute("SELECT * FROM users WHERE username='testuser'").fetchone()
        assert (u["email"], u["first_name"], u["last_name"], u["role"], u["premium"], u["is_active"]) == \
            ("test@example.com", "Test", "User", "user", 0, 1)
        assert PHC_RE.match(u["password"]), u["password"]
        assert PHC_RE.match(u["password"]).groups() == ("1024", "1", "1")
        assert u["revoke_before"] == 0 and u["last_login"] is None
        assert abs(u["created_at"] - time.time()) < 60
        t = c.execute("SELECT role, premium FROM users WHERE username='teach'").fetchone()
        assert (t["role"], t["premium"]) == ("instructor", 1)
    r = run(env, "user", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "USERNAME", "EMAIL", "ROLE", "PREMIUM", "ACTIVE", "LAST_LOGIN"]
    assert lines[1].split() == ["1", "testuser", "test@example.com", "user", "no", "yes", "-"]
    assert lines[2].split() == ["2", "teach", "-", "instructor", "yes", "yes", "-"]
    assert len(lines) == 3


def test_default_argon2_parameters(env):
    e = dict(env)
    del e["JWTD_ARGON2_MEMORY_KIB"], e["JWTD_ARGON2_ITERATIONS"]
    create(e, "alice")
    with db(env) as c:
        h = c.execute("SELECT password FROM users").fetchone()[0]
    assert PHC_RE.match(h).groups() == ("19456", "2", "1")


def test_duplicates_are_conflicts(env):
    create(env, "alice", "testpass123", "--email", "Alice@Example.com")
    r = run(env, "user", "create", "alice", "--password-stdin", stdin="testpass123\n")
    assert r.returncode == 1
    assert "already exists" in r.stderr
    r = run(env, "user", "create", "alice2", "--email", "alice@example.COM", "--password-stdin",
            stdin="testpass123\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    # usernames are case-sensitive, as in Django
    create(env, "Alice")
    with db(env) as c:
        assert c.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 2


@pytest.mark.parametrize("password,messages", [
    ("short", ["This password is too short. It must contain at least 8 characters."]),
    ("1234567890", ["This password is entirely numeric."]),
    ("123", ["This password is too short. It must contain at least 8 characters.",
             "This password is entirely numeric."]),
    ("NewUserName", ["The password is too similar to the username."]),
    ("x" * 4097, ["This password is too long. It must contain at most 4096 characters."]),
])
def test_password_policy(env, password, messages):
    assert run(env, "migrate").returncode == 0
    r = run(env, "user", "create", "newusername", "--password-stdin", stdin=password + "\n")
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["jwtd user create: " + m for m in messages]
    with db(env) as c:
        assert c.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0


@pytest.mark.parametrize("args,needle", [
    (["bad name"], "Enter a valid username"),
    (["x" * 151], "Enter a valid username"),
    (["bob", "--role", "root"], "--role must be user, instructor or admin"),
    (["bob", "--email", "not-an-email"], "Enter a valid email address."),
    (["bob", "--bogus"], "unknown option --bogus"),
    ([], "usage: jwtd user create"),
])
def test_create_usage_errors(env, args, needle):
    r = run(env, "user", "create", *args, "--password-stdin", stdin="testpass123\n")
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr


def test_password_from_stdin_edge_cases(env):
    r = run(env, "user", "create", "bob", "--password-stdin", stdin="")
    assert r.returncode == 1 and "no password on standard input" in r.stderr
    # CRLF line ends are stripped; the password is the first line only
    create(env, "bob", "testpass123\r\nsecond line")
    # no terminal and no --password-stdin: refuse rather than read a password visibly
    r = run(env, "user", "create", "carol", stdin="testpass123\n")
    assert r.returncode == 1 and "use --password-stdin" in r.stderr


def _pty_run(env, args, answers):
    """Runs jwtd on a pseudo-terminal, answering each prompt; returns (status, output)."""
    e = {k: v for k, v in env.items() if not k.startswith("_")}
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(os.path.dirname(env["_db_path"]))
        os.execve(jwtd_bin(), [jwtd_bin()] + args, e)
    out = b""
    pending = list(answers)
    answered = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            # answer each prompt once, after it is fully printed (echo is off by then)
            if pending and out.count(b"Password") > answered and out.endswith(b": "):
                answered += 1
                os.write(fd, pending.pop(0).encode() + b"\n")
    # Never block forever on a child that is still waiting for input: reap it, killing it
    # once the deadline has passed (the test then fails on its status and output).
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.05)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_interactive_prompt_twice_without_echo(env):
    status, out = _pty_run(env, ["user", "create", "tty-user"], ["s3cret-pass", "s3cret-pass"])
    assert status == 0, out
    assert "Password: " in out and "Password (again): " in out
    assert "s3cret-pass" not in out  # echo was off
    assert "created user tty-user" in out
    status, out = _pty_run(env, ["user", "create", "tty-user2"], ["s3cret-pass", "different1"])
    assert status == 1
    assert "the two passwords do not match" in out
    with db(env) as c:
        assert [r[0] for r in c.execute("SELECT username FROM users")] == ["tty-user"]


def test_passwd_changes_hash_and_revokes_sessions(env):
    create(env, "alice")
    create(env, "bob")
    now = int(time.time())
    add_session(env, "s-alice-1", "alice", now + 3600, jti="r1")
    add_session(env, "s-alice-2", "alice", now + 3600, jti="r2")
    add_session(env, "s-bob", "bob", now + 3600, jti="r3")
    with db(env) as c:
        old = c.execute("SELECT password FROM users WHERE username='alice'").fetchone()[0]
    r = run(env, "user", "passwd", "alice", "--password-stdin", stdin="brand-new-pass\n")
    assert r.returncode == 0, r.stderr
    assert "every session of the user is revoked" in r.stdout
    with db(env) as c:
        u = c.execute("SELECT password, revoke_before FROM users WHERE username='alice'").fetchone()
        assert u["password"] != old and PHC_RE.match(u["password"])
        assert abs(u["revoke_before"] - now) <= 5
        revoked = dict(c.execute("SELECT id, revoked_at FROM sessions").fetchall())
    assert revoked["s-alice-1"] and revoked["s-alice-2"]
    assert revoked["s-bob"] is None
    # policy applies to passwd too (here: equal to the username)
    r = run(env, "user", "passwd", "alice", "--password-stdin", stdin="ALICE\n")
    assert r.returncode == 1
    assert "The password is too similar to the username." in r.stderr
    r = run(env, "user", "passwd", "nobody", "--password-stdin", stdin="brand-new-pass\n")
    assert r.returncode == 1 and "no such user" in r.stderr


def test_disable_and_enable(env):
    create(env, "alice")
    add_session(env, "s1", "alice", int(time.time()) + 3600, jti="r1")
    r = run(env, "user", "disable", "alice")
    assert r.returncode == 0, r.stderr
    with db(env) as c:
        assert c.execute("SELECT is_active FROM users").fetchone()[0] == 0
        assert c.execute("SELECT revoked_at FROM sessions WHERE id='s1'").fetchone()[0] is not None
    r = run(env, "user", "list")
    assert r.stdout.splitlines()[1].split()[5] == "no"
    r = run(env, "user", "enable", "alice")
    assert r.returncode == 0
    with db(env) as c:
        assert c.execute("SELECT is_active FROM users").fetchone()[0] == 1
        # re-enabling does not resurrect the old sessions
        assert c.execute("SELECT revoked_at FROM sessions WHERE id='s1'").fetchone()[0] is not None
    r = run(env, "user", "disable", "nobody")
    assert r.returncode == 1 and "no such user" in r.stderr


def test_flush_expired(env):
    create(env, "alice")
    now = int(time.time())
    # s-live: valid refresh token; s-dead: token expired long ago, revoked long ago;
    # s-recent: revoked a minute ago, token expired: kept (access tokens may still be live)
    add_session(env, "s-live", "alice", now + 3600, jti="live")
    add_session(env, "s-dead", "alice", now - 7200, jti="dead", revoked_at=now - 7200, last_used=now - 7200)
    add_session(env, "s-recent", "alice", now - 5, jti="recent", revoked_at=now - 60, last_used=now - 60)
    with db(env) as c:
        c.execute("INSERT INTO revoked_tokens VALUES ('old', ?, ?, 'logout')", (now - 1, now - 100))
        c.execute("INSERT INTO revoked_tokens VALUES ('new', ?, ?, 'logout')", (now + 900, now))
    r = run(env, "flush-expired")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "deleted 2 refresh tokens, 1 access-token revocations, 1 sessions"
    with db(env) as c:
        assert sorted(r[0] for r in c.execute("SELECT id FROM sessions")) == ["s-live", "s-recent"]
        assert [r[0] for r in c.execute("SELECT jti FROM refresh_tokens")] == ["live"]
        assert [r[0] for r in c.execute("SELECT jti FROM revoked_tokens")] == ["new"]
    r = run(env, "flush-expired")
    assert r.stdout.strip() == "deleted 0 refresh tokens, 0 access-token revocations, 0 sessions"


def test_config_file_and_bad_urls(env, tmp_path):
    cfg = tmp_path / "jwtd.conf"
    other = tmp_path / "other.db"
    cfg.write_text("DATABASE_URL=sqlite:%s\n" % other)
    e = {k: v for k, v in env.items() if k != "JWTD_DATABASE_URL"}
    r = run(e, "user", "create", "alice", "--config", str(cfg), "--password-stdin", stdin="testpass123\n")
    assert r.returncode == 0, r.stderr
    assert sqlite3.connect(str(other)).execute("SELECT username FROM users").fetchone()[0] == "alice"
    e["JWTD_DATABASE_URL"] = "postgresql://u:p@127.0.0.1:1/x"  # nothing listens on port 1
    r = run(e, "migrate")
    assert r.returncode == 1
    assert "cannot open the database" in r.stderr
    assert "u:p@" not in r.stderr  # the password never reaches the output
    e["JWTD_DATABASE_URL"] = "mysql://x"
    r = run(e, "migrate")
    assert r.returncode == 1 and "JWTD_DATABASE_URL" in r.stderr
    e["JWTD_DATABASE_URL"] = "sqlite:%s/missing-dir/a/b.db" % tmp_path
    r = run(e, "user", "list")
    assert r.returncode == 1 and "cannot open the database" in r.stderr

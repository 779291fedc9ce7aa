"""Paths that do not depend on the working directory (docs/config.md, docs/deployment.md):
the web UI is built into the binary, so /app/ works from any directory (JWTD_WEB_DIR=builtin,
the default), a directory given in JWTD_WEB_DIR replaces it and an empty value or `off`
turns it off; JWTD_DATA_DIR is where the default SQLite database and the uploads go
(created 0700, files 0600), `var` in development and /var/lib/jwtd in staging and
production (checked through `jwtd config`, nothing is written there), and a start that
fails its checks writes nothing into the data directory.

Every jwtd here runs in a temporary working directory that is not the repository
(conftest.JwtdServer starts it in its own temp dir)."""

import os
import stat
import subprocess

import pytest
import requests

from conftest import ROOT, JwtdServer, jwtd_bin
from peers import Jwtd, token_env

WEB_APP = os.path.join(ROOT, "web", "app")
# the files the UI loads: its pages, script modules, style sheet and the JS client
UI_FILES = [("index.html", "text/html"), ("dashboard.html", "text/html"),
            ("app.css", "text/css"), ("signin.js", "text/javascript"),
            ("dashboard.js", "text/javascript"), ("session.js", "text/javascript"),
            ("jwtd-client.js", "text/javascript")]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def repo_bytes(name):
    with open(os.path.join(WEB_APP, name), "rb") as f:
        return f.read()


@pytest.fixture
def start():
    """start(drop=(), users=(), **env) -> a running Jwtd in a temp working directory, with
    token_env() plus env, and without the harness variables named in drop (so that jwtd
    derives them). Users are created by the CLI (same environment) before the start."""
    started = []

    def factory(drop=(), users=(), **env):
        srv = JwtdServer(env=token_env(**env))
        for k in drop:
            srv.env.pop(k, None)
        j = Jwtd(srv)
        for u in users:
            j.create_user(u, email="%s@example.com" % u)
        srv.start()
        started.append(srv)
        return j

    yield factory
    errors = []
    for srv in started:
        try:
            srv.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


def config(cwd, **env):
    """`jwtd config` with only the given JWTD_* variables, in cwd -> {name: value}."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    full.update(env)
    p = subprocess.run([jwtd_bin(), "config"], env=full, cwd=cwd, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return dict(line.split("=", 1) for line in p.stdout.splitlines())


def run_serve(cwd, **env):
    """`jwtd serve` with only the given JWTD_* variables, in cwd; for starts that must fail."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    full.update({"JWTD_LISTEN": "127.0.0.1:0", "JWTD_LOG_LEVEL": "warn"}, **env)
    return subprocess.run([jwtd_bin(), "serve"], env=full, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


# ---- the web UI built into the binary ---------------------------------------------------------


def test_builtin_ui_served_from_any_working_directory(start):
    j = start(drop=("JWTD_WEB_DIR",))
    assert os.path.realpath(j.srv.data_dir) != os.path.realpath(ROOT)
    assert not os.path.exists(os.path.join(j.srv.data_dir, "web"))
    r = requests.get(j.url + "/app/", timeout=10)
    assert r.status_code == 200, r.text
    assert r.content == repo_bytes("index.html")
    assert r.headers["Content-Type"].startswith("text/html")
    for name, ctype in UI_FILES:
        r = requests.get(j.url + "/app/" + name, timeout=10)
        assert r.status_code == 200, name
        assert r.content == repo_bytes(name), name
        assert r.headers["Content-Type"].startswith(ctype), name
    # the security properties of a directory's UI: headers, validators, no way out
    r = requests.get(j.url + "/app/app.css", timeout=10)
    assert r.headers["Cache-Control"] == "no-cache"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    r2 = requests.get(j.url + "/app/app.css", headers={"If-None-Match": r.headers["ETag"]},
                      timeout=10)
    assert r2.status_code == 304 and r2.content == b""
    r = requests.get(j.url + "/app", timeout=10, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/app/"
    for path in ("/app/nope.html", "/app/../Makefile", "/app/%2e%2e/Makefile"):
        r = requests.get(j.url + path, timeout=10)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path


def test_builtin_ui_etag_is_the_directory_ones(start):
    """Same bytes, same validator, whether built in or read from web/app/."""
    built_in = start(drop=("JWTD_WEB_DIR",))
    from_dir = start(JWTD_WEB_DIR=WEB_APP)
    for name, _ in UI_FILES:
        a = requests.get(built_in.url + "/app/" + name, timeout=10)
        b = requests.get(from_dir.url + "/app/" + name, timeout=10)
        assert a.status_code == b.status_code == 200, name
        assert a.headers["ETag"] == b.headers["ETag"], name
        assert a.content == b.content, name


def test_web_dir_overrides_the_builtin_ui(start, tmp_path):
    ui = tmp_path / "ui"
    (ui / "sub").mkdir(parents=True)
    (ui / "index.html").write_bytes(b"<!doctype html><title>mine</title>\n")
    (ui / "sub" / "index.html").write_bytes(b"<!doctype html><title>sub</title>\n")
    j = start(JWTD_WEB_DIR=str(ui))
    r = requests.get(j.url + "/app/", timeout=10)
    assert r.status_code == 200 and r.content == b"<!doctype html><title>mine</title>\n"
    assert requests.get(j.url + "/app/sub/", timeout=10).content.endswith(b"sub</title>\n")
    # only that directory's files: none of the built-in ones
    assert requests.get(j.url + "/app/app.css", timeout=10).status_code == 404
    assert requests.get(j.url + "/app/jwtd-client.js", timeout=10).status_code == 404


@pytest.mark.parametrize("value", ["", "off", "/nonexistent/jwtd-ui"])
def test_web_dir_off_empty_or_missing_means_no_ui(start, value):
    j = start(JWTD_WEB_DIR=value)
    r = requests.get(j.url + "/app/", timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert requests.get(j.url + "/app", timeout=10, allow_redirects=False).status_code == 404
    assert requests.get(j.url + "/healthz", timeout=10).status_code == 200


# ---- the data directory ---------------------------------------------------------------------------


def test_data_dir_holds_the_database_and_the_uploads(start, tmp_path):
    data = tmp_path / "state" / "jwtd"  # neither level exists yet
    j = start(drop=("JWTD_DATABASE_URL", "JWTD_UPLOAD_DIR"), users=("alice",),
              JWTD_DATA_DIR=str(data))
    db = data / "jwtd.db"
    assert db.is_file()
    assert mode(db) == 0o600
    assert mode(data) == 0o700 and mode(tmp_path / "state") == 0o700
    # nothing in the working directory: no var/ beside it
    assert not os.path.exists(os.path.join(j.srv.data_dir, "var"))
    assert not os.path.exists(os.path.join(j.srv.data_dir, "jwtd.db"))
    # the database there is the one the server uses: the user the CLI created logs in
    token = j.login("alice")["access"]
    r = requests.post(j.url + "/upload", headers={"Authorization": "Bearer " + token},
                      files={"file": ("notes.txt", b"kept in the data directory")}, timeout=30)
    assert r.status_code == 201, r.text
    uploads = data / "uploads"
    assert mode(uploads) == 0o700
    stored = uploads / r.json()["id"]
    assert stored.read_bytes() == b"kept in the data directory"
    assert mode(stored) == 0o600


def test_upload_dir_still_overrides_the_data_dir(start, tmp_path):
    j = start(drop=("JWTD_DATABASE_URL",), users=("alice",), JWTD_DATA_DIR=str(tmp_path / "d"),
              JWTD_UPLOAD_DIR=str(tmp_path / "files"))
    token = j.login("alice")["access"]
    r = requests.post(j.url + "/upload", headers={"Authorization": "Bearer " + token},
                      files={"file": ("a.txt", b"elsewhere")}, timeout=30)
    assert r.status_code == 201, r.text
    assert (tmp_path / "files" / r.json()["id"]).read_bytes() == b"elsewhere"
    assert not (tmp_path / "d" / "uploads").exists()
    assert (tmp_path / "d" / "jwtd.db").is_file()


def test_default_data_dir_per_environment(tmp_path):
    d = config(tmp_path)
    assert d["JWTD_DATA_DIR"] == "var"
    assert d["JWTD_DATABASE_URL"] == "sqlite:var/jwtd.db"
    assert d["JWTD_UPLOAD_DIR"] == "var/uploads"
    assert d["JWTD_WEB_DIR"] == "builtin"
    for env in ("staging", "production"):
        d = config(tmp_path, JWTD_ENVIRONMENT=env)
        assert d["JWTD_DATA_DIR"] == "/var/lib/jwtd", env
        assert d["JWTD_DATABASE_URL"] == "sqlite:///var/lib/jwtd/jwtd.db", env
        assert d["JWTD_UPLOAD_DIR"] == "/var/lib/jwtd/uploads", env
    # the derived values follow the data directory; what is set wins
    d = config(tmp_path, JWTD_ENVIRONMENT="production", JWTD_DATA_DIR="/srv/jwtd",
               JWTD_UPLOAD_DIR="/srv/files")
    assert d["JWTD_DATABASE_URL"] == "sqlite:///srv/jwtd/jwtd.db"
    assert d["JWTD_UPLOAD_DIR"] == "/srv/files"
    assert os.listdir(tmp_path) == []  # `jwtd config` writes nothing


@pytest.mark.parametrize("precreated", [False, True], ids=["missing", "existing-empty"])
def test_failed_production_start_writes_nothing_into_the_data_dir(tmp_path, precreated):
    data = tmp_path / "data"
    if precreated:
        data.mkdir(mode=0o700)
    loose = tmp_path / "loose.key"
    loose.write_text("k" * 48 + "\n")
    os.chmod(loose, 0o644)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for env in ({},  # no key at all
                {"JWTD_SECRET_KEY_FILE": str(loose)}):  # a key file others can read
        p = run_serve(cwd, JWTD_ENVIRONMENT="production", JWTD_DATA_DIR=str(data), **env)
        assert p.returncode != 0
        assert "configuration error" in p.stderr, p.stderr
        assert data.exists() == precreated
        if precreated:
            assert os.listdir(data) == []
        assert os.listdir(cwd) == []

"""Deployment defaults (docs/deployment.md): staging and production start closed (no
self-registration, no demo resource routes) until the operator opens them, every file and
directory jwtd creates is private (0600 / 0700), and a start that fails a check of its
configuration or keys writes nothing at all."""

import os
import stat
import subprocess

import pytest

import pgdb
from conftest import jwtd_bin
from svc_helpers import svc_factory  # noqa: F401 (fixture)

PRODUCTION = {"JWTD_ENVIRONMENT": "production",
              "JWTD_CORS_ALLOWED_ORIGINS": "https://app.example.com"}
NEW_ACCOUNT = {"username": "walkin", "email": "walkin@example.com",
               "password": "a-Long-and-fresh-passw0rd"}
# the demo resource API: every route an operator must opt into with JWTD_RESOURCE_ROUTES
RESOURCE_ROUTES = [("POST", "/upload"), ("GET", "/posts"), ("GET", "/users"),
                   ("GET", "/api/orders/"), ("GET", "/protected"), ("GET", "/admin/dashboard")]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def run_serve(cwd, **env):
    """`jwtd serve` with only the given JWTD_* variables, in cwd; for starts that must fail."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    full.update({"JWTD_LISTEN": "127.0.0.1:0", "JWTD_LOG_LEVEL": "warn"}, **env)
    return subprocess.run([jwtd_bin(), "serve"], env=full, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


# ---- nothing written before validation -------------------------------------------------------


@pytest.mark.parametrize("env,named", [
    ({"JWTD_ENVIRONMENT": "production"}, "JWTD_SECRET_KEY"),
    ({"JWTD_ENVIRONMENT": "staging", "JWTD_SECRET_KEY": "changeme" * 8}, "JWTD_SECRET_KEY"),
    ({"JWTD_ENVIRONMENT": "production", "JWTD_SIGNUP": "verified"}, "JWTD_SIGNUP=verified"),
], ids=["production-without-key", "staging-weak-key", "signup-verified"])
def test_failed_start_creates_no_file_and_no_directory(tmp_path, env, named):
    # the default database (sqlite:<data dir>/jwtd.db) would go into JWTD_DATA_DIR, below tmp_path
    p = run_serve(tmp_path, JWTD_DATA_DIR=str(tmp_path / "data"), **env)
    assert p.returncode != 0
    assert "configuration error" in p.stderr and named in p.stderr, p.stderr
    assert os.listdir(tmp_path) == []


# ---- closed by default outside development ---------------------------------------------------


def test_production_signup_closed_and_resource_routes_off(svc_factory):
    s = svc_factory(**PRODUCTION)
    r = s.post("/auth/register", NEW_ACCOUNT)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "signup_closed" and r.json()["detail"]
    # refused before the body is looked at: a bad one gets the same answer
    r = s.post("/auth/register", {"username": ""})
    assert r.status_code == 403 and r.json()["code"] == "signup_closed"
    # the administrator's way stays open, and the account works
    s.create_user("hired", email="hired@example.com")
    s.login("hired")
    t = s.auth_login("u_admin")["access_token"]
    for method, path in RESOURCE_ROUTES:
        r = s.req(method, path, t)
        assert r.status_code == 404 and r.json()["code"] == "not_found", (path, r.text)


def test_production_operator_opens_signup_and_resource_routes(svc_factory):
    s = svc_factory(JWTD_SIGNUP="open", JWTD_RESOURCE_ROUTES="on", **PRODUCTION)
    r = s.post("/auth/register", NEW_ACCOUNT)
    assert r.status_code == 201, r.text
    s.login("walkin", NEW_ACCOUNT["password"])
    t = s.auth_login("u_admin")["access_token"]
    for method, path in RESOURCE_ROUTES:
        r = s.req(method, path, t)
        assert r.status_code != 404, (path, r.text)


def test_development_keeps_signup_open_and_closed_on_request(svc_factory):
    s = svc_factory(JWTD_SIGNUP="closed")
    r = s.post("/auth/register", NEW_ACCOUNT)
    assert r.status_code == 403 and r.json()["code"] == "signup_closed"
    t = s.auth_login("u_admin")["access_token"]
    assert s.req("GET", "/admin/dashboard", t).status_code == 200
    s = svc_factory()
    assert s.post("/auth/register", NEW_ACCOUNT).status_code == 201


# ---- private files ---------------------------------------------------------------------------


def test_files_jwtd_creates_are_private(svc_factory, tmp_path):
    data = tmp_path / "state"  # created by jwtd itself
    logs = tmp_path / "logs"  # the operator's directory; jwtd creates the files in it
    logs.mkdir(mode=0o755)
    env = {"JWTD_DATA_DIR": str(data), "JWTD_LOG_DIR": str(logs),
           "JWTD_SECRET_KEY": None}  # development: a generated key
    if not pgdb.enabled():
        env["JWTD_DATABASE_URL"] = "sqlite:%s/jwtd.db" % data
    s = svc_factory(**env)
    assert s.post("/auth/register", NEW_ACCOUNT).status_code == 201  # a write: WAL in use
    t = s.auth_login("u_user")["access_token"]
    r = s.req("POST", "/upload", t, files={"file": ("note.txt", b"private words")})
    assert r.status_code == 201, r.text
    uploads = data / "uploads"
    assert mode(data) == 0o700
    assert mode(uploads) == 0o700
    assert mode(data / "secret.key") == 0o600
    assert mode(uploads / r.json()["id"]) == 0o600
    if not pgdb.enabled():
        for name in ("jwtd.db", "jwtd.db-wal", "jwtd.db-shm"):
            assert mode(data / name) == 0o600, name
    loose = [str(p) for p in data.rglob("*") if mode(p) & 0o077]
    assert loose == []
    assert sorted(os.listdir(logs)) == ["api.log", "auth.log", "error.log", "performance.log"]
    for name in os.listdir(logs):
        assert mode(logs / name) == 0o600, name

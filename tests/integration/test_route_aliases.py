"""JWTD_ROUTE_ALIASES: a Django project's own URL layout served unchanged.

A project that mounts SimpleJWT at /login/simpleJWT, /login/simpleJWT/refresh and
/login/simpleJWT/verify points its clients there; with the aliases those paths answer
exactly like jwtd's /api/token/ routes (same bodies, errors, methods, rate limits, metrics
family), with and without the trailing slash. A configuration that cannot work (unknown
target, duplicate path, an alias that is already a route, bad characters) refuses to
start with a message naming JWTD_ROUTE_ALIASES.
"""

import os
import re
import subprocess
import tempfile

import pytest
import requests

from peers import TEST_PASSWORD, claims, jwtd_bin, token_env, tokens  # noqa: F401 (fixture)

DJANGO_LAYOUT = ("/login/simpleJWT/=/api/token/,"
                 "/login/simpleJWT/refresh/=/api/token/refresh/,"
                 "/login/simpleJWT/verify/=/api/token/verify/")


def post(j, path, body):
    return requests.post(j.url + path, json=body, timeout=30)


def family_count(j, family):
    text = requests.get(j.url + "/metrics", timeout=30).text
    total = 0
    for m in re.finditer(r'^jwtd_http_requests_total\{family="%s",code="[^"]+"\} (\d+)$'
                         % family, text, re.M):
        total += int(m.group(1))
    return total


@pytest.mark.parametrize("slash", ["/", ""])
def test_simplejwt_family_under_django_paths(tokens, slash):  # noqa: F811
    j = tokens(JWTD_ROUTE_ALIASES=DJANGO_LAYOUT)
    base = "/login/simpleJWT"
    # obtain: SimpleJWT's body, SimpleJWT's answer
    r = post(j, base + slash, {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert list(pair) == ["refresh", "access", "user"]
    assert claims(pair["access"])["token_type"] == "access"
    # verify and refresh
    r = post(j, base + "/verify" + slash, {"token": pair["access"]})
    assert r.status_code == 200 and r.json() == {}, r.text
    r = post(j, base + "/refresh" + slash, {"refresh": pair["refresh"]})
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"access", "refresh"}
    assert claims(r.json()["access"])["sid"] == claims(pair["access"])["sid"]
    # the target paths still answer
    r = post(j, "/api/token/verify/", {"token": pair["access"]})
    assert r.status_code == 200, r.text


def test_alias_errors_and_methods_are_the_targets(tokens):  # noqa: F811
    j = tokens(JWTD_ROUTE_ALIASES=DJANGO_LAYOUT)
    cases = [("/login/simpleJWT/", "/api/token/", {"username": "testuser", "password": "no"}),
             ("/login/simpleJWT/", "/api/token/", {}),
             ("/login/simpleJWT/verify/", "/api/token/verify/", {"token": "abc"}),
             ("/login/simpleJWT/refresh", "/api/token/refresh/", {"refresh": ""})]
    for alias, target, body in cases:
        a, t = post(j, alias, body), post(j, target, body)
        assert a.status_code == t.status_code and a.status_code >= 400, (alias, a.text)
        assert a.json() == t.json(), (alias, a.text, t.text)
    a = requests.get(j.url + "/login/simpleJWT/", timeout=30)
    t = requests.get(j.url + "/api/token/", timeout=30)
    assert a.status_code == t.status_code == 405
    assert a.headers["Allow"] == t.headers["Allow"]
    assert a.json()["code"] == "method_not_allowed"
    # only the configured paths: neighbours stay 404
    for path in ("/login/simpleJWT/blacklist/", "/login/", "/login/simpleJWT//"):
        r = post(j, path, {})
        assert r.status_code == 404, path
        assert r.json() == {"detail": "Not found.", "code": "not_found"}


def test_prefix_alias_mounts_the_whole_family(tokens):  # noqa: F811
    j = tokens(JWTD_ROUTE_ALIASES="/auth/jwt/*=/api/token/*")
    r = post(j, "/auth/jwt/", {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert post(j, "/auth/jwt/verify/", {"token": pair["access"]}).status_code == 200
    assert post(j, "/auth/jwt/verify", {"token": pair["access"]}).status_code == 200
    r = post(j, "/auth/jwt/blacklist/", {"refresh": pair["refresh"]})
    assert r.status_code == 200, r.text
    # blacklisted through the alias means blacklisted for the target too
    r = post(j, "/api/token/refresh/", {"refresh": pair["refresh"]})
    assert r.status_code == 401, r.text


def test_alias_has_the_targets_rate_limit_and_metrics_family(tokens):  # noqa: F811
    j = tokens(JWTD_ROUTE_ALIASES=DJANGO_LAYOUT, JWTD_RATE_LIMIT_LOGIN="3/minute")
    before_token, before_other = family_count(j, "token"), family_count(j, "other")
    for _ in range(2):
        r = post(j, "/login/simpleJWT/", {"username": "testuser", "password": "wrong"})
        assert r.status_code == 401, r.text
    r = post(j, "/login/simpleJWT", {"username": "testuser", "password": "wrong"})
    assert r.status_code == 401, r.text
    # the login budget of the client address is the target's: the alias used it up
    r = post(j, "/api/token/", {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 429, r.text
    r = post(j, "/login/simpleJWT/", {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 429, r.text
    assert family_count(j, "token") - before_token == 5
    assert family_count(j, "other") == before_other


def serve_fails(env):
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
        base.update(token_env(JWTD_LISTEN="127.0.0.1:0", JWTD_DATA_DIR=tmp,
                              JWTD_DATABASE_URL="sqlite:%s/jwtd.db" % tmp))
        base.update(env)
        p = subprocess.run([jwtd_bin(), "serve"], env=base, capture_output=True, text=True,
                           timeout=60, cwd=tmp)
    assert p.returncode != 0, "jwtd started with %r" % env
    assert "listening" not in p.stdout
    return p.stderr


@pytest.mark.parametrize("value, message", [
    ("/login/=/api/nothing/", "unknown target route /api/nothing/"),
    ("/login/=/api/token", "unknown target route /api/token (did you mean /api/token/?)"),
    ("/x/*=/nothing/*", "no route below /nothing/"),
    ("/api/token/verify/=/api/token/", "the path /api/token/verify/ is already a route"),
    ("/login/=/api/token/,/login=/api/token/verify/", "duplicate alias path /login"),
    ("/login/simple JWT/=/api/token/", "character ' ' not allowed"),
    ("/login/?x=/api/token/", "character '?' not allowed"),
    ("/login/../api/=/api/token/", "'..' path segment"),
    ("login/=/api/token/", "must be an absolute path"),
    ("/login/", "expected ALIAS=TARGET"),
    ("/login/*=/api/token/", "ends in /* on both sides"),
])
def test_invalid_aliases_refuse_to_start(value, message):
    err = serve_fails({"JWTD_ROUTE_ALIASES": value})
    assert "JWTD_ROUTE_ALIASES" in err, err
    assert message in err, err

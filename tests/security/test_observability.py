"""Tamper classification, metrics and response headers (issue 9, parts 2-3):

* every rejected token is counted in jwtd_tokens_verified_total under its class
  (malformed, bad_alg, bad_signature, unknown_kid, expired, wrong_type, revoked), by alg;
* logins, refreshes, reuse detections and revocations are counted;
* /metrics accounts for every answered request (jwtd_http_requests_total grows by exactly
  the number of requests made), has a duration histogram per route family, the pool depth,
  open connections, database status and latency;
* X-Request-Id: a sane client value is echoed, an insane one replaced by a generated id;
  X-Content-Type-Options: nosniff on answers; Cache-Control: no-store on every answer that
  carries a token.
"""

import os
import re
import time

import pytest
import requests

from attack import parts
from peers import tokens  # noqa: F401 (fixture)


def scrape(t):
    r = requests.get(t.url + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$", line)
        assert m, "bad exposition line %r" % line
        out[m.group(1)] = float(m.group(2))
    return out


def total(m, prefix):
    return sum(v for k, v in m.items() if k.startswith(prefix))


@pytest.fixture(scope="module")
def t(targets):
    return targets("ES256", JWTD_REFRESH_REUSE_GRACE="0")


def test_rejections_are_classified(t):
    before = scrape(t)
    pair = t.login().json()
    good = pair["access"]
    h, p, s = good.split(".")
    cases = {
        "malformed": ["not-a-token", good + ".x", t.forge(header={"alg": "ES256", "kid": t.kid,
                                                                  "crit": ["x"]})],
        "bad_signature": [t.forge(sig=b"\x01" * 64)],
        "unknown_kid": [t.forge(header={"alg": "ES256", "typ": "JWT", "kid": "nope"})],
        "bad_alg": [t.forge(header={"alg": "HS256", "typ": "JWT", "kid": t.kid}),
                    t.forge(header={"alg": "none", "typ": "JWT", "kid": t.kid}, sig=b"")],
        "expired": [t.forge(exp=int(time.time()) - 100)],
        "wrong_type": [pair["refresh"]],
    }
    for cls, toks in cases.items():
        for tok in toks:
            assert t.me(tok).status_code == 401, cls
    # revoked: log out, then use the access token
    assert t.post("/api/token/blacklist/", {"refresh": pair["refresh"]}).status_code == 200
    assert t.me(good).status_code == 401
    after = scrape(t)
    for cls, toks in cases.items():
        key = 'result="%s"' % cls
        grown = sum(v for k, v in after.items() if k.startswith("jwtd_tokens_verified_total")
                    and key in k) - sum(v for k, v in before.items()
                                        if k.startswith("jwtd_tokens_verified_total") and key in k)
        assert grown >= len(toks), (cls, grown)
    k = 'jwtd_tokens_verified_total{alg="ES256",result="revoked"}'
    assert after.get(k, 0) - before.get(k, 0) >= 1
    k = 'jwtd_tokens_verified_total{alg="ES256",result="bad_signature"}'
    assert after.get(k, 0) - before.get(k, 0) >= 1
    k = 'jwtd_tokens_verified_total{alg="ES256",result="ok"}'
    assert after.get(k, 0) >= 1
    assert after['jwtd_revocations_total{kind="session"}'] >= before[
        'jwtd_revocations_total{kind="session"}'] + 1


def test_logins_refreshes_reuse_counted(t):
    b = scrape(t)
    pair = t.login().json()
    assert t.login("testuser", "wrong-password").status_code == 401
    assert t.login("nobody", "wrong-password").status_code == 401
    r = t.refresh(pair["refresh"])
    assert r.status_code == 200
    assert t.refresh(pair["refresh"]).status_code == 401  # reuse (grace 0)
    a = scrape(t)
    assert a['jwtd_logins_total{result="success"}'] - b['jwtd_logins_total{result="success"}'] == 1
    assert a['jwtd_logins_total{result="failure"}'] - b['jwtd_logins_total{result="failure"}'] == 2
    assert a['jwtd_refreshes_total{result="rotated"}'] - b['jwtd_refreshes_total{result="rotated"}'] == 1
    assert a["jwtd_refresh_reuse_detections_total"] - b["jwtd_refresh_reuse_detections_total"] == 1
    issued = 'jwtd_tokens_issued_total{alg="ES256",type="access"}'
    assert a[issued] - b.get(issued, 0) == 2  # login + rotation


def test_metrics_account_for_every_request(t):
    s = requests.Session()
    b = scrape(t)
    n = 0
    pair = t.login().json()
    n += 1
    for _ in range(40):
        assert s.get(t.url + "/healthz", timeout=30).status_code == 200
        s.post(t.url + "/api/token/verify/", json={"token": pair["access"]}, timeout=30)
        s.get(t.url + "/nope", timeout=30)
        n += 3
    a = scrape(t)
    # the scrape `b` itself was answered after its snapshot: it is counted in `a`
    grown = total(a, "jwtd_http_requests_total") - total(b, "jwtd_http_requests_total")
    assert grown == n + 1, (grown, n)
    assert a['jwtd_http_request_duration_seconds_count{family="platform"}'] >= 40
    assert 'jwtd_http_request_duration_seconds_bucket{family="token",le="+Inf"}' in a
    assert a["jwtd_database_up"] == 1
    assert a["jwtd_database_ping_seconds"] >= 0
    assert a["jwtd_http_pool_depth"] >= 0
    assert a["jwtd_http_open_connections"] >= 1
    assert a["process_resident_memory_bytes"] > 1e6


def test_request_id_and_headers(t):
    r = requests.get(t.url + "/healthz", headers={"X-Request-Id": "client-id_1.2:3"}, timeout=30)
    assert r.headers["X-Request-Id"] == "client-id_1.2:3"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    for bad in ("a b", "x" * 65, "<script>", "id\u00e9"):
        r = requests.get(t.url + "/healthz", headers={"X-Request-Id": bad.encode("utf-8")},
                         timeout=30)
        rid = r.headers["X-Request-Id"]
        assert rid != bad and re.match(r"^[0-9a-f]{16}$", rid), rid
    r1 = requests.get(t.url + "/healthz", timeout=30).headers["X-Request-Id"]
    r2 = requests.get(t.url + "/healthz", timeout=30).headers["X-Request-Id"]
    assert r1 != r2
    # errors too
    r = requests.get(t.url + "/api/users/me/", timeout=30)
    assert r.status_code == 401 and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers.get("X-Request-Id")


def test_token_answers_are_not_cacheable(t):
    origin = {"Origin": "http://localhost:3000"}
    pair = t.login()
    answers = [pair,
               t.refresh(pair.json()["refresh"]),
               t.post("/api/auth/login/", {"username": "testuser", "password": "testpass123"},
                      headers=origin)]
    for r in answers:
        assert r.status_code == 200, r.text
        assert "no-store" in r.headers.get("Cache-Control", ""), (r.url, r.headers)


def test_readyz(t):
    r = requests.get(t.url + "/readyz", timeout=30)
    assert r.status_code == 200 and r.json()["database"] == "ok", r.text


def test_jwtd_stats_cli(t):
    import subprocess
    from attack import jwtd_bin
    t.login()
    t.me("bad.token.here")
    p = subprocess.run([jwtd_bin(), "stats", "--url", t.url], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("jwtd at http://127.0.0.1:%d" % t.srv.port), out
    m = re.search(r"logins\s+success (\d+)", out)
    assert m and int(m.group(1)) >= 1, out
    assert re.search(r"verifications\s+\d+\s+\(ok \d+, rejected [1-9]\d*; malformed", out), out
    assert "database up" in out and "redis not configured" in out, out
    m = re.search(r"RSS (\d+\.\d) MiB", out)
    assert m and float(m.group(1)) > 1, out
    # JWTD_LISTEN is the default target; a dead instance is a clear failure
    p = subprocess.run([jwtd_bin(), "stats"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, JWTD_LISTEN="127.0.0.1:%d" % t.srv.port))
    assert p.returncode == 0 and "requests" in p.stdout, p.stderr
    p = subprocess.run([jwtd_bin(), "stats", "--url", "http://127.0.0.1:1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "cannot connect" in p.stderr, p.stderr


def test_rate_limit_hits_counted(tokens):
    j = tokens(JWTD_RATE_LIMIT_LOGIN="1/minute", JWTD_INVALID_TOKEN_LIMIT="1/hour")
    assert j.post("/api/token/", {"username": "testuser",
                                  "password": "testpass123"}).status_code == 200
    assert j.post("/api/token/", {"username": "testuser",
                                  "password": "testpass123"}).status_code == 429
    for _ in range(3):
        j.me("bad.token.value")
    m = requests.get(j.url + "/metrics", timeout=30).text
    assert 'jwtd_rate_limit_hits_total{limit="login"} 1' in m, m
    assert re.search(r'jwtd_rate_limit_hits_total\{limit="invalid_token"\} [1-9]', m), m

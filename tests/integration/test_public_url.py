"""Behind a proxy: JWTD_PUBLIC_URL, X-Forwarded-Proto and the HSTS options.

* With JWTD_PUBLIC_URL, the URLs jwtd generates (OpenID discovery) start with it whatever
  the Host header says; without it they come from the Host header, with https only when
  the request is known to be https.
* A request is https when the public URL is https://, or when a JWTD_TRUSTED_PROXIES peer
  says X-Forwarded-Proto: https (its last entry). The same header from any other peer is
  ignored. An https request gets the Secure refresh cookie (also in development) and,
  when JWTD_HSTS_MAX_AGE is set (365d by default in production), Strict-Transport-Security
  with the configured includeSubDomains and preload; a plain http answer never has HSTS.
* Bad values refuse to start with a message naming the variable.
"""

import os
import subprocess
import tempfile

import pytest
import requests

from peers import TEST_PASSWORD, jwtd_bin, token_env, tokens  # noqa: F401 (fixture)

PUBLIC = "https://auth.example.com"
HSTS = "Strict-Transport-Security"


def discovery(j, **headers):
    r = requests.get(j.url + "/.well-known/openid-configuration", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def cookie_login(j, **headers):
    r = requests.post(j.url + "/api/auth/login/",
                      json={"username": "testuser", "password": TEST_PASSWORD},
                      headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    cookie = r.headers.get("Set-Cookie", "")
    assert cookie.startswith("refresh_token="), cookie
    return r, [a.strip().lower() for a in cookie.split(";")]


def test_public_url_in_generated_urls_whatever_the_host(tokens):  # noqa: F811
    j = tokens(JWTD_PUBLIC_URL=PUBLIC + "/")  # the trailing slash is dropped
    for host in ("evil.example", "127.0.0.1:1", None):
        d = discovery(j, **({"Host": host} if host else {}))
        assert d["jwks_uri"] == PUBLIC + "/.well-known/jwks.json", d
        assert d["token_endpoint"] == PUBLIC + "/oauth/token"
        assert d["authorization_endpoint"] == PUBLIC + "/oauth/authorize"
        assert d["refresh_endpoint"] == PUBLIC + "/api/token/refresh/"
        assert d["revocation_endpoint"] == PUBLIC + "/oauth/revoke"
        assert d["userinfo_endpoint"] == PUBLIC + "/oauth/userinfo"
        assert d["issuer"] == PUBLIC
    # a path prefix is kept (jwtd mounted below /auth by the proxy)
    k = tokens(JWTD_PUBLIC_URL="http://proxy.example:8080/auth/")
    assert discovery(k, Host="x")["token_endpoint"] == "http://proxy.example:8080/auth/oauth/token"


def test_without_public_url_host_and_trusted_proto(tokens):  # noqa: F811
    trusted = tokens(JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    d = discovery(trusted, Host="auth.test:8443")
    assert d["token_endpoint"] == "http://auth.test:8443/oauth/token"
    d = discovery(trusted, Host="auth.test", **{"X-Forwarded-Proto": "https"})
    assert d["token_endpoint"] == "https://auth.test/oauth/token"
    # the proxy nearest to jwtd writes the last entry
    d = discovery(trusted, Host="auth.test", **{"X-Forwarded-Proto": "http, HTTPS"})
    assert d["token_endpoint"] == "https://auth.test/oauth/token"
    d = discovery(trusted, Host="auth.test", **{"X-Forwarded-Proto": "https, http"})
    assert d["token_endpoint"] == "http://auth.test/oauth/token"
    untrusted = tokens(JWTD_TRUSTED_PROXIES="10.0.0.0/8")
    d = discovery(untrusted, Host="auth.test", **{"X-Forwarded-Proto": "https"})
    assert d["token_endpoint"] == "http://auth.test/oauth/token"


def test_secure_cookie_and_hsts_follow_trusted_forwarded_proto(tokens):  # noqa: F811
    # production sends HSTS by default, but only on answers known to be https
    trusted = tokens(JWTD_ENVIRONMENT="production", JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    r, attrs = cookie_login(trusted, **{"X-Forwarded-Proto": "https"})
    assert "secure" in attrs
    assert r.headers[HSTS] == "max-age=31536000"
    r = requests.get(trusted.url + "/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert r.headers[HSTS] == "max-age=31536000"
    for proto in (None, "http"):
        h = {"X-Forwarded-Proto": proto} if proto else {}
        r = requests.get(trusted.url + "/healthz", headers=h, timeout=30)
        assert HSTS not in r.headers, proto
    # the same header from a peer that is not a trusted proxy is ignored
    untrusted = tokens(JWTD_ENVIRONMENT="production", JWTD_TRUSTED_PROXIES="10.0.0.0/8")
    r = requests.get(untrusted.url + "/healthz", headers={"X-Forwarded-Proto": "https"},
                     timeout=30)
    assert HSTS not in r.headers


def test_development_cookie_secure_only_when_https(tokens):  # noqa: F811
    trusted = tokens(JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    _, attrs = cookie_login(trusted, **{"X-Forwarded-Proto": "https"})
    assert "secure" in attrs
    r, attrs = cookie_login(trusted)
    assert "secure" not in attrs and HSTS not in r.headers
    untrusted = tokens(JWTD_TRUSTED_PROXIES="10.0.0.0/8")
    _, attrs = cookie_login(untrusted, **{"X-Forwarded-Proto": "https"})
    assert "secure" not in attrs
    # an https public URL: every answer is https
    public = tokens(JWTD_PUBLIC_URL=PUBLIC)
    r, attrs = cookie_login(public)
    assert "secure" in attrs
    assert HSTS not in r.headers  # development: JWTD_HSTS_MAX_AGE defaults to 0


def test_hsts_options(tokens):  # noqa: F811
    j = tokens(JWTD_PUBLIC_URL=PUBLIC, JWTD_HSTS_MAX_AGE="730d",
               JWTD_HSTS_INCLUDE_SUBDOMAINS="true", JWTD_HSTS_PRELOAD="true")
    for path in ("/healthz", "/nope", "/.well-known/jwks.json"):
        r = requests.get(j.url + path, timeout=30)
        assert r.headers[HSTS] == "max-age=63072000; includeSubDomains; preload", path
    k = tokens(JWTD_PUBLIC_URL=PUBLIC, JWTD_ENVIRONMENT="staging", JWTD_HSTS_MAX_AGE="1h")
    r = requests.get(k.url + "/healthz", timeout=30)
    assert r.headers[HSTS] == "max-age=3600"
    off = tokens(JWTD_PUBLIC_URL=PUBLIC, JWTD_ENVIRONMENT="production", JWTD_HSTS_MAX_AGE="0")
    assert HSTS not in requests.get(off.url + "/healthz", timeout=30).headers


def test_public_origin_passes_the_csrf_check(tokens):  # noqa: F811
    j = tokens(JWTD_PUBLIC_URL=PUBLIC)
    r, _ = cookie_login(j)
    cookie = r.cookies.get("refresh_token") or r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    for origin, ok in ((PUBLIC, True), ("https://evil.example", False)):
        r = requests.post(j.url + "/api/auth/refresh/", cookies={"refresh_token": cookie},
                          headers={"Origin": origin}, timeout=30)
        if ok:
            assert r.status_code == 200, r.text
            cookie = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        else:
            assert r.status_code == 403, r.text
            assert "CSRF" in r.json()["detail"]


def test_staging_without_public_url_warns(tokens):  # noqa: F811
    j = tokens(JWTD_ENVIRONMENT="staging")
    assert "JWTD_PUBLIC_URL is unset" in j.srv.stderr()
    k = tokens(JWTD_ENVIRONMENT="staging", JWTD_PUBLIC_URL=PUBLIC)
    assert "JWTD_PUBLIC_URL" not in k.srv.stderr()


def serve_fails(env):
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
        base.update(token_env(JWTD_LISTEN="127.0.0.1:0", JWTD_DATA_DIR=tmp,
                              JWTD_DATABASE_URL="sqlite:%s/jwtd.db" % tmp))
        base.update(env)
        p = subprocess.run([jwtd_bin(), "serve"], env=base, capture_output=True, text=True,
                           timeout=60, cwd=tmp)
    assert p.returncode != 0, "jwtd started with %r" % env
    return p.stderr


@pytest.mark.parametrize("env, message", [
    ({"JWTD_PUBLIC_URL": "auth.example.com"}, "expected an absolute http:// or https:// URL"),
    ({"JWTD_PUBLIC_URL": "ftp://auth.example.com"}, "expected an absolute http://"),
    ({"JWTD_PUBLIC_URL": "https://auth.example.com/?next=1"}, "no query or fragment"),
    ({"JWTD_PUBLIC_URL": "https://auth.example.com#top"}, "no query or fragment"),
    ({"JWTD_PUBLIC_URL": "https://user:pw@auth.example.com"}, "no user name or password"),
    ({"JWTD_PUBLIC_URL": "https://"}, "the URL has no host"),
    ({"JWTD_PUBLIC_URL": "https://auth.example.com:99999"}, "port must be a number"),
    ({"JWTD_HSTS_PRELOAD": "true", "JWTD_HSTS_MAX_AGE": "365d"},
     "JWTD_HSTS_PRELOAD=true needs JWTD_HSTS_INCLUDE_SUBDOMAINS=true"),
    ({"JWTD_HSTS_PRELOAD": "true", "JWTD_HSTS_MAX_AGE": "30d",
      "JWTD_HSTS_INCLUDE_SUBDOMAINS": "true"}, "at least 365d"),
    ({"JWTD_HSTS_MAX_AGE": "-1"}, "JWTD_HSTS_MAX_AGE"),
])
def test_bad_values_refuse_to_start(env, message):
    err = serve_fails(env)
    assert message in err, err
    name = next(iter(env))
    assert name in err, err
    assert "pw@" not in err

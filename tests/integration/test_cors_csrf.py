"""CORS and CSRF of the browser flow (docs/api.md §5) under each JWTD_ENVIRONMENT.

CORS: development allows the localhost:3000 origins by default, staging and production
nothing unless JWTD_CORS_ALLOWED_ORIGINS lists them; a listed origin gets its own origin
back with credentials and X-New-Access-Token exposed, others get no CORS header (the browser
hides the answer); preflights are answered (204 / 403); "*" allows any origin without
credentials; Vary: Origin.

CSRF: a POST carrying the refresh cookie is accepted only when Origin (else Referer) is the
server itself or a listed origin; neither header -> 403. Requests without the cookie (mobile:
refresh token in the body) are not affected."""

import pytest
import requests

from peers import TEST_PASSWORD, tokens  # noqa: F401 (fixture)

ENVS = ["development", "staging", "production"]
DEV_ORIGINS = ["http://localhost:3000", "http://127.0.0.1:3000"]
APP = "https://app.example.com"
EVIL = "https://evil.example.com"


def server(tokens, env, **extra):  # noqa: F811
    return tokens(JWTD_ENVIRONMENT=env, **extra)


def login_cookie(j):
    r = requests.post(j.url + "/api/auth/login/", timeout=30,
                      json={"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    return r.cookies["refresh_token"], r.json()["access"]


def refresh(j, cookie, **headers):
    return requests.post(j.url + "/api/auth/refresh/", timeout=30,
                         headers=dict(headers, Cookie="refresh_token=" + cookie))


def preflight(j, origin, path="/api/auth/login/", method="POST"):
    return requests.options(j.url + path, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type, authorization"})


def assert_cors_allowed(r, origin):
    assert r.headers.get("Access-Control-Allow-Origin") == origin
    assert r.headers.get("Access-Control-Allow-Credentials") == "true"
    assert "X-New-Access-Token" in r.headers.get("Access-Control-Expose-Headers", "")
    assert "Origin" in r.headers.get("Vary", "")


def assert_cors_denied(r):
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Credentials" not in r.headers


@pytest.mark.parametrize("env", ENVS)
def test_default_origins_per_environment(tokens, env):  # noqa: F811
    j = server(tokens, env)
    for origin in DEV_ORIGINS:
        r = requests.get(j.url + "/healthz", headers={"Origin": origin}, timeout=10)
        assert r.status_code == 200
        if env == "development":
            assert_cors_allowed(r, origin)
        else:
            assert_cors_denied(r)
            assert r.headers.get("Vary") == "Origin"
    r = requests.get(j.url + "/healthz", headers={"Origin": EVIL}, timeout=10)
    assert_cors_denied(r)


@pytest.mark.parametrize("env", ENVS)
def test_configured_origins_and_preflight(tokens, env):  # noqa: F811
    j = server(tokens, env, JWTD_CORS_ALLOWED_ORIGINS=APP + ",https://admin.example.com/")
    for origin in (APP, "https://admin.example.com"):
        p = preflight(j, origin)
        assert p.status_code == 204
        assert_cors_allowed(p, origin)
        assert "POST" in p.headers["Access-Control-Allow-Methods"]
        allow_headers = p.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allow_headers and "content-type" in allow_headers
        assert int(p.headers["Access-Control-Max-Age"]) > 0
    # the dev defaults are replaced, not added to
    for origin in [EVIL, "http://localhost:3000", APP + ".evil.net", "null"]:
        p = preflight(j, origin)
        assert p.status_code == 403, origin
        assert p.json()["code"] == "permission_denied"
        assert_cors_denied(p)
    # a real cross-origin login from the app: credentialed CORS answer + cookie
    r = requests.post(j.url + "/api/auth/login/", timeout=30, headers={"Origin": APP},
                      json={"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200
    assert_cors_allowed(r, APP)
    assert "refresh_token" in r.cookies
    # errors carry the CORS headers too, so the app can read them
    r = requests.post(j.url + "/api/auth/login/", timeout=30, headers={"Origin": APP},
                      json={"username": "testuser", "password": "wrong"})
    assert r.status_code == 401
    assert_cors_allowed(r, APP)


def test_wildcard_origin_without_credentials(tokens):  # noqa: F811
    j = tokens(JWTD_CORS_ALLOWED_ORIGINS="*")
    r = requests.get(j.url + "/healthz", headers={"Origin": EVIL}, timeout=10)
    assert r.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert preflight(j, EVIL).status_code == 204
    # "*" never satisfies the CSRF check: credentials are for listed origins only
    cookie, _ = login_cookie(j)
    assert refresh(j, cookie, Origin=EVIL).status_code == 403


@pytest.mark.parametrize("env", ENVS)
def test_csrf_origin_check_on_cookie_posts(tokens, env):  # noqa: F811
    j = server(tokens, env, JWTD_CORS_ALLOWED_ORIGINS=APP)
    cookie, access = login_cookie(j)
    # neither Origin nor Referer
    r = refresh(j, cookie)
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied"
    assert "set-cookie" not in r.headers
    # a foreign origin, even a same-site one (another port of the same host)
    host, port = j.url.rsplit(":", 1)
    for bad in (EVIL, "null", "%s:%d" % (host, int(port) + 1), "https://app.example.com.evil.net"):
        r = refresh(j, cookie, Origin=bad)
        assert r.status_code == 403, bad
    # a foreign Referer when Origin is absent
    assert refresh(j, cookie, Referer=EVIL + "/page").status_code == 403
    # a listed Origin overrides nothing: Origin wins over a good Referer
    assert refresh(j, cookie, Origin=EVIL, Referer=APP + "/x").status_code == 403
    # the cookie is still unused after all those refusals
    r = refresh(j, cookie, Origin=APP)
    assert r.status_code == 200, r.text
    cookie = r.cookies["refresh_token"]
    # Referer of a listed origin (no Origin header)
    r = refresh(j, cookie, Referer=APP + "/dashboard?x=1")
    assert r.status_code == 200
    cookie = r.cookies["refresh_token"]
    # the server itself (the /app/ UI is same-origin)
    r = refresh(j, cookie, Origin=j.url)
    assert r.status_code == 200
    cookie = r.cookies["refresh_token"]
    # logout with the cookie is state-changing too
    r = requests.post(j.url + "/api/auth/logout/", timeout=10, headers={
        "Authorization": "Bearer " + access, "Cookie": "refresh_token=" + cookie,
        "Origin": EVIL})
    assert r.status_code == 403
    # GET with the cookie is not state-changing: no check
    r = requests.get(j.url + "/api/auth/verify/", timeout=10, headers={
        "Authorization": "Bearer " + access, "Cookie": "refresh_token=" + cookie})
    assert r.status_code == 200


@pytest.mark.parametrize("env", ENVS)
def test_requests_without_the_cookie_need_no_origin(tokens, env):  # noqa: F811
    j = server(tokens, env)
    r = requests.post(j.url + "/api/auth/mobile/login/", timeout=30,
                      json={"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200
    r = requests.post(j.url + "/api/auth/refresh/", timeout=30,
                      json={"refresh": r.json()["refresh"]})
    assert r.status_code == 200
    r = requests.post(j.url + "/api/token/", timeout=30,
                      json={"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200


def test_preflight_from_own_origin_and_plain_options(tokens):  # noqa: F811
    j = tokens()
    assert preflight(j, j.url).status_code == 204
    r = requests.options(j.url + "/api/auth/login/", timeout=10)
    assert r.status_code == 204
    assert "POST" in r.headers["Allow"]

"""jwtd as an OAuth 2.0 / OpenID Connect provider (docs/oidc.md), over HTTP.

The browser part of the authorization code flow is played with requests (the web UI's
cookie login, then POST /oauth/session for the OAuth browser session cookie, then
/oauth/authorize and the consent form). A second client implementation that is not ours,
Debian's python3-authlib, runs client_credentials, introspection and revocation. ID tokens
are checked with PyJWT against the published JWKS. The full browser flow with npm
openid-client is tests/e2e/oidc-provider.test.js.

Runs on SQLite and, with JWTD_TEST_DB=pg, on PostgreSQL (PG_TESTS).
"""

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import time
import urllib.parse

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import JwtdServer, Reader, connect, jwtd_bin, send_raw

PW = "correct-horse-battery"
APP_CB = "http://127.0.0.1:9/cb"
SPA_CB = "http://localhost:9/spa"
LOGOUT_CB = "http://127.0.0.1:9/bye"
FAST = {"JWTD_ARGON2_MEMORY_KIB": "64", "JWTD_ARGON2_ITERATIONS": "1",
        "JWTD_ARGON2_PARALLELISM": "1"}


def cli(srv, *args, check=True, stdin=None):
    r = subprocess.run([jwtd_bin(), *args], env=srv.env, cwd=srv.data_dir, input=stdin,
                       capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("jwtd %s: %d\n%s" % (" ".join(args), r.returncode, r.stderr))
    return r


def es256_key(path):
    k = ec.generate_private_key(ec.SECP256R1())
    with open(path, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    os.chmod(path, 0o600)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def pkce():
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


@pytest.fixture(scope="module")
def op():
    srv = JwtdServer(env=dict(FAST, JWTD_ALGORITHM="ES256", JWTD_ACCESS_TOKEN_LIFETIME="300",
                              JWTD_REFRESH_REUSE_GRACE="0"))
    key = os.path.join(srv.data_dir, "signing.pem")
    es256_key(key)
    srv.env["JWTD_SIGNING_KEY_FILE"] = key
    for name, role in (("alice", "user"), ("bob", "user"), ("root", "admin")):
        cli(srv, "user", "create", name, "--email", name + "@example.com", "--role", role,
            "--password-stdin", stdin=PW)
    app = json.loads(cli(srv, "client", "create", "--name", "Photo <App>", "--redirect-uri",
                         APP_CB, "--post-logout-redirect-uri", LOGOUT_CB).stdout)
    spa = json.loads(cli(srv, "client", "create", "--name", "Our SPA", "--public",
                         "--first-party", "--redirect-uri", SPA_CB).stdout)
    srv.start()
    srv.app, srv.spa = app, spa
    yield srv
    srv.stop()


def login(op, username="alice"):
    """The web UI's sign-in, then the OAuth browser session: a requests.Session as a browser."""
    s = requests.Session()
    r = s.post(op.url + "/api/auth/login/", json={"username": username, "password": PW},
               headers={"Origin": op.url})
    assert r.status_code == 200, r.text
    r = s.post(op.url + "/oauth/session",
               headers={"Authorization": "Bearer " + r.json()["access"]})
    assert r.status_code == 204, r.text
    assert any(c.name == "jwtd_oauth" and c.path == "/oauth/" for c in s.cookies)
    return s


def authorize(op, s, client, **extra):
    params = {"client_id": client["client_id"], "redirect_uri": client["redirect_uris"][0],
              "response_type": "code", "scope": "openid profile email offline_access",
              "state": "st-" + secrets.token_hex(4), "nonce": "n-" + secrets.token_hex(4)}
    params.update(extra)
    params = {k: v for k, v in params.items() if v is not None}
    return params, s.get(op.url + "/oauth/authorize", params=params, allow_redirects=False)


def consent(op, s, page, decision="allow"):
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    fields = {k: v.replace("&amp;", "&").replace("&quot;", '"') for k, v in fields.items()}
    fields["decision"] = decision
    return s.post(op.url + "/oauth/authorize", data=fields, allow_redirects=False,
                  headers={"Origin": op.url})


def redirected(r):
    assert r.status_code == 302, (r.status_code, r.text)
    u = urllib.parse.urlsplit(r.headers["Location"])
    return u, dict(urllib.parse.parse_qsl(u.query))


def code_for(op, s, client, **extra):
    params, r = authorize(op, s, client, **extra)
    if r.status_code == 200 and "Allow access?" in r.text:
        r = consent(op, s, r.text)
    u, q = redirected(r)
    assert q.get("state") == params["state"], q
    assert "code" in q, q
    return params, q["code"]


def token(op, data, auth=None):
    return requests.post(op.url + "/oauth/token", data=data, auth=auth)


def test_discovery_metadata(op):
    d = requests.get(op.url + "/.well-known/openid-configuration").json()
    assert d["issuer"] == op.url
    for k, path in (("authorization_endpoint", "/oauth/authorize"),
                    ("token_endpoint", "/oauth/token"), ("userinfo_endpoint", "/oauth/userinfo"),
                    ("jwks_uri", "/.well-known/jwks.json"), ("revocation_endpoint", "/oauth/revoke"),
                    ("introspection_endpoint", "/oauth/introspect"),
                    ("end_session_endpoint", "/oauth/logout")):
        assert d[k] == op.url + path
    assert d["response_types_supported"] == ["code"]
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["grant_types_supported"] == ["authorization_code", "refresh_token",
                                          "client_credentials"]
    assert set(d["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "none"}
    assert d["id_token_signing_alg_values_supported"] == ["ES256"]
    assert d["authorization_response_iss_parameter_supported"] is True
    # the issuer never follows a forged Host when fixed by configuration is tested in
    # test_issuer_never_from_host_outside_development


def test_code_flow_consent_id_token_userinfo_refresh(op):
    s = login(op)
    params, r = authorize(op, s, op.app)
    # a third-party client: the consent page names the app (escaped) and the scopes
    assert r.status_code == 200 and "Photo &lt;App&gt;" in r.text, r.text
    assert "offline_access" in r.text and 'name="csrf_token"' in r.text
    assert r.headers["X-Frame-Options"] == "DENY"
    u, q = redirected(consent(op, s, r.text))
    assert f"{u.scheme}://{u.netloc}{u.path}" == APP_CB
    assert q["state"] == params["state"] and q["iss"] == op.url
    auth = (op.app["client_id"], op.app["client_secret"])
    r = token(op, {"grant_type": "authorization_code", "code": q["code"],
                   "redirect_uri": APP_CB}, auth=auth)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    t = r.json()
    assert t["token_type"] == "Bearer" and t["expires_in"] == 300
    assert t["scope"] == "openid profile email offline_access"
    # the ID token, verified against the published key
    jwks = jwt.PyJWKClient(op.url + "/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(t["id_token"])
    c = jwt.decode(t["id_token"], key.key, algorithms=["ES256"], audience=op.app["client_id"],
                   issuer=op.url)
    assert c["nonce"] == params["nonce"] and c["amr"] == ["pwd"]
    assert c["auth_time"] <= c["iat"] and c["sub"].isdigit()
    digest = hashlib.sha256(t["access_token"].encode()).digest()
    assert c["at_hash"] == b64url(digest[:16])
    # userinfo by scope
    ui = requests.get(op.url + "/oauth/userinfo",
                      headers={"Authorization": "Bearer " + t["access_token"]})
    assert ui.status_code == 200, ui.text
    assert ui.json() == {"sub": c["sub"], "preferred_username": "alice", "name": "alice",
                         "email": "alice@example.com", "email_verified": False}
    # a second authorization: consent remembered, no page
    _, r = authorize(op, s, op.app)
    assert r.status_code == 302 and "code=" in r.headers["Location"]
    # refresh rotates; the old refresh token presented again is reuse: the family dies
    r1 = token(op, {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}, auth=auth)
    assert r1.status_code == 200, r1.text
    assert r1.json()["refresh_token"] != t["refresh_token"]
    time.sleep(1.1)
    r2 = token(op, {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}, auth=auth)
    assert r2.status_code == 400 and r2.json()["error"] == "invalid_grant"
    r3 = token(op, {"grant_type": "refresh_token", "refresh_token": r1.json()["refresh_token"]},
               auth=auth)
    assert r3.status_code == 400 and r3.json()["error"] == "invalid_grant"


def test_public_client_pkce_and_client_secret_post(op):
    s = login(op)
    verifier, challenge = pkce()
    # first party: no consent page
    _, code = code_for(op, s, op.spa, code_challenge=challenge, code_challenge_method="S256")
    # a wrong verifier is refused, and the code is spent
    r = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": SPA_CB,
                   "client_id": op.spa["client_id"], "code_verifier": pkce()[0]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    _, code = code_for(op, s, op.spa, code_challenge=challenge, code_challenge_method="S256")
    r = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": SPA_CB,
                   "client_id": op.spa["client_id"], "code_verifier": verifier})
    assert r.status_code == 200, r.text
    # redirect_uri left out of both requests (the client has exactly one)
    _, code = code_for(op, s, op.spa, redirect_uri=None, code_challenge=challenge,
                       code_challenge_method="S256")
    r = token(op, {"grant_type": "authorization_code", "code": code,
                   "client_id": op.spa["client_id"], "code_verifier": verifier})
    assert r.status_code == 200, r.text
    # ... but given in the authorization request, it is required in the token request
    _, code = code_for(op, s, op.spa, code_challenge=challenge, code_challenge_method="S256")
    r = token(op, {"grant_type": "authorization_code", "code": code,
                   "client_id": op.spa["client_id"], "code_verifier": verifier})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    # client_secret_post works for the confidential client
    _, code = code_for(op, s, op.app)
    r = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CB,
                   "client_id": op.app["client_id"], "client_secret": op.app["client_secret"]})
    assert r.status_code == 200, r.text


def test_public_client_without_pkce_is_refused_by_redirect(op):
    s = login(op)
    params, r = authorize(op, s, op.spa)
    u, q = redirected(r)
    assert f"{u.scheme}://{u.netloc}{u.path}" == SPA_CB
    assert q["error"] == "invalid_request" and "PKCE" in q["error_description"]
    assert q["state"] == params["state"] and q["iss"] == op.url
    _, r = authorize(op, s, op.spa, code_challenge=pkce()[1], code_challenge_method="plain")
    assert redirected(r)[1]["error"] == "invalid_request"


def test_mismatched_redirect_uri_gets_an_error_page_never_a_redirect(op):
    s = login(op)
    for bad in ("http://127.0.0.1:9/cb/", "https://evil.example/cb", APP_CB + "?x=1"):
        _, r = authorize(op, s, op.app, redirect_uri=bad)
        assert r.status_code == 400 and "Location" not in r.headers, r.headers
        assert "not registered" in r.text and r.headers["Content-Type"].startswith("text/html")
    _, r = authorize(op, s, {"client_id": "0" * 32, "redirect_uris": [APP_CB]})
    assert r.status_code == 400 and "Location" not in r.headers and "Unknown client" in r.text


def test_replayed_code_revokes_what_it_issued(op):
    s = login(op)
    _, code = code_for(op, s, op.app)
    auth = (op.app["client_id"], op.app["client_secret"])
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CB}
    first = token(op, data, auth=auth)
    assert first.status_code == 200
    at = first.json()["access_token"]
    assert requests.get(op.url + "/oauth/userinfo",
                        headers={"Authorization": "Bearer " + at}).status_code == 200
    again = token(op, data, auth=auth)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # what the first exchange issued is revoked
    r = requests.get(op.url + "/oauth/userinfo", headers={"Authorization": "Bearer " + at})
    assert r.status_code == 401
    r = token(op, {"grant_type": "refresh_token",
                   "refresh_token": first.json()["refresh_token"]}, auth=auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_401_with_www_authenticate(op):
    s = login(op)
    _, code = code_for(op, s, op.app)
    r = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CB},
              auth=(op.app["client_id"], "not-the-secret"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    # the code was not spent by a client that failed to authenticate
    r = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CB},
              auth=(op.app["client_id"], op.app["client_secret"]))
    assert r.status_code == 200, r.text
    r = token(op, {"grant_type": "unknown"}, auth=(op.app["client_id"], op.app["client_secret"]))
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_prompt_none_without_session_is_login_required(op):
    params, r = authorize(op, requests.Session(), op.app, prompt="none")
    u, q = redirected(r)
    assert q["error"] == "login_required" and q["state"] == params["state"]
    assert q["iss"] == op.url
    # without prompt=none: to the web UI's sign-in, with the way back
    _, r = authorize(op, requests.Session(), op.app)
    u, q = redirected(r)
    assert u.path == "/app/" and q["next"].startswith("/oauth/authorize?")
    # prompt=login with a session: a forced sign-in, the way back without prompt=login
    _, r = authorize(op, login(op), op.app, prompt="login")
    u, q = redirected(r)
    assert u.path == "/app/" and q["login"] == "1" and "prompt" not in q["next"]
    # max_age older than the sign-in: the same; a fresh enough sign-in goes on
    s = login(op)
    _, r = authorize(op, s, op.app, max_age="3600")
    assert ("Allow access?" in r.text if r.status_code == 200   # consent asked, or
            else "code=" in r.headers["Location"])                 # remembered
    time.sleep(1.1)
    _, r = authorize(op, s, op.app, max_age="0")
    u, q = redirected(r)
    assert u.path == "/app/" and q["login"] == "1" and "max_age" not in q["next"]
    params, r = authorize(op, s, op.app, max_age="0", prompt="none")
    assert redirected(r)[1]["error"] == "login_required"
    _, r = authorize(op, s, op.app, max_age="-1")
    assert r.status_code == 400 and "Location" not in r.headers


def test_consent_denied_and_csrf(op):
    s = login(op, "bob")
    params, r = authorize(op, s, op.app, scope="openid")
    assert r.status_code == 200
    u, q = redirected(consent(op, s, r.text, decision="deny"))
    assert q["error"] == "access_denied" and q["state"] == params["state"]
    # a forged form (another browser's token) is refused with a page
    page = r.text.replace('name="csrf_token" value="', 'name="csrf_token" value="x')
    r2 = consent(op, s, page)
    assert r2.status_code == 403 and "Location" not in r2.headers


def test_client_credentials_introspection_revocation_with_authlib(op):
    url = op.url
    cid, secret = op.app["client_id"], op.app["client_secret"]
    sess = OAuth2Session(cid, secret, scope="profile")
    tok = sess.fetch_token(url + "/oauth/token", grant_type="client_credentials")
    assert tok["token_type"] == "Bearer" and "refresh_token" not in tok
    claims = jwt.decode(tok["access_token"], options={"verify_signature": False})
    assert claims["sub"] == cid and claims["client_id"] == cid and claims["scope"] == "profile"
    # a client token is not a user's: user routes refuse it
    assert requests.get(url + "/oauth/userinfo",
                        headers={"Authorization": "Bearer " + tok["access_token"]}).status_code == 401
    r = sess.introspect_token(url + "/oauth/introspect", token=tok["access_token"])
    body = r.json()
    assert r.status_code == 200 and body["active"] is True
    assert body["client_id"] == cid and body["scope"] == "profile" and body["sub"] == cid
    # a user's token from the code flow, introspected by the same client
    s = login(op)
    _, code = code_for(op, s, op.app)
    user_tok = token(op, {"grant_type": "authorization_code", "code": code,
                          "redirect_uri": APP_CB}, auth=(cid, secret)).json()
    body = sess.introspect_token(url + "/oauth/introspect", token=user_tok["access_token"]).json()
    assert body["active"] is True and body["username"] == "alice" and body["client_id"] == cid
    body = sess.introspect_token(url + "/oauth/introspect", token=user_tok["refresh_token"],
                                 token_type_hint="refresh_token").json()
    assert body["active"] is True and body["token_type"] == "refresh_token"
    # revocation (RFC 7009), then introspection says inactive
    r = sess.revoke_token(url + "/oauth/revoke", token=user_tok["refresh_token"],
                          token_type_hint="refresh_token")
    assert r.status_code == 200
    for t in (user_tok["refresh_token"], user_tok["access_token"]):
        assert sess.introspect_token(url + "/oauth/introspect", token=t).json() == {"active": False}
    r = sess.revoke_token(url + "/oauth/revoke", token=tok["access_token"])
    assert r.status_code == 200
    assert sess.introspect_token(url + "/oauth/introspect",
                                 token=tok["access_token"]).json() == {"active": False}
    # garbage is inactive; a public client may not introspect; a bad secret is 401
    assert sess.introspect_token(url + "/oauth/introspect", token="x.y.z").json() == {
        "active": False}
    r = requests.post(url + "/oauth/introspect",
                      data={"token": "x", "client_id": op.spa["client_id"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = requests.post(url + "/oauth/introspect", data={"token": "x"}, auth=(cid, "wrong"))
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_connected_apps_revoke(op):
    s = login(op)
    _, code = code_for(op, s, op.app)
    tok = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CB},
                auth=(op.app["client_id"], op.app["client_secret"])).json()
    access = requests.post(op.url + "/api/auth/login/",
                           json={"username": "alice", "password": PW}).json()["access"]
    h = {"Authorization": "Bearer " + access}
    apps = requests.get(op.url + "/auth/apps", headers=h).json()["apps"]
    mine = [a for a in apps if a["client_id"] == op.app["client_id"]]
    assert mine and mine[0]["name"] == "Photo <App>" and mine[0]["active_sessions"] >= 1
    r = requests.delete(op.url + "/auth/apps/" + op.app["client_id"], headers=h)
    assert r.status_code == 200, r.text
    ui = requests.get(op.url + "/oauth/userinfo",
                      headers={"Authorization": "Bearer " + tok["access_token"]})
    assert ui.status_code == 401
    apps = requests.get(op.url + "/auth/apps", headers=h).json()["apps"]
    assert not [a for a in apps if a["client_id"] == op.app["client_id"]]
    # consent was forgotten: the page comes back
    _, r = authorize(op, s, op.app)
    assert r.status_code == 200 and "Allow access?" in r.text
    assert requests.delete(op.url + "/auth/apps/" + "f" * 32, headers=h).status_code == 404


def test_rp_initiated_logout(op):
    s = login(op)
    _, code = code_for(op, s, op.app)
    tok = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CB},
                auth=(op.app["client_id"], op.app["client_secret"])).json()
    r = s.get(op.url + "/oauth/logout", params={"id_token_hint": tok["id_token"],
                                                "post_logout_redirect_uri": "https://evil.example/",
                                                "state": "s1"}, allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers
    r = s.get(op.url + "/oauth/logout", params={"id_token_hint": tok["id_token"],
                                                "post_logout_redirect_uri": LOGOUT_CB,
                                                "state": "s1"}, allow_redirects=False)
    u, q = redirected(r)
    assert f"{u.scheme}://{u.netloc}{u.path}" == LOGOUT_CB and q == {"state": "s1"}
    # the browser session is over: prompt=none now needs a login
    s.cookies.clear()
    _, r = authorize(op, s, op.app, prompt="none")
    assert redirected(r)[1]["error"] == "login_required"


def test_logout_without_hint_asks_first(op):
    s = login(op, "bob")
    q = {"client_id": op.app["client_id"], "post_logout_redirect_uri": LOGOUT_CB, "state": "s2"}
    r = s.get(op.url + "/oauth/logout", params=q, allow_redirects=False)
    assert r.status_code == 200 and "Sign out?" in r.text and "Location" not in r.headers
    # nothing happened yet: the browser session still works
    _, a = authorize(op, s, op.app, prompt="none", scope="openid")
    assert "login_required" not in a.headers.get("Location", "")
    # a forged confirmation is refused
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', r.text))
    forged = dict(fields, csrf_token="x" * 43)
    assert s.post(op.url + "/oauth/logout", data=forged, allow_redirects=False,
                  headers={"Origin": op.url}).status_code == 403
    r = s.post(op.url + "/oauth/logout", data=fields, allow_redirects=False,
               headers={"Origin": op.url})
    u, got = redirected(r)
    assert f"{u.scheme}://{u.netloc}{u.path}" == LOGOUT_CB and got == {"state": "s2"}
    s.cookies.clear()
    _, a = authorize(op, s, op.app, prompt="none")
    assert redirected(a)[1]["error"] == "login_required"


def test_admin_clients_api(op):
    access = requests.post(op.url + "/api/auth/login/",
                           json={"username": "root", "password": PW}).json()["access"]
    h = {"Authorization": "Bearer " + access}
    user = requests.post(op.url + "/api/auth/login/",
                         json={"username": "bob", "password": PW}).json()["access"]
    assert requests.get(op.url + "/admin/clients",
                        headers={"Authorization": "Bearer " + user}).status_code == 403
    r = requests.post(op.url + "/admin/clients", headers=h,
                      json={"name": "Grafana", "redirect_uris": ["https://grafana.example/login/generic_oauth"],
                            "first_party": True})
    assert r.status_code == 201, r.text
    c = r.json()
    assert len(c["client_secret"]) == 43 and c["first_party"] is True
    got = requests.get(op.url + "/admin/clients/" + c["client_id"], headers=h).json()
    assert "client_secret" not in got and got["name"] == "Grafana"
    ids = [x["client_id"] for x in requests.get(op.url + "/admin/clients", headers=h).json()["clients"]]
    assert c["client_id"] in ids
    r = requests.post(op.url + "/admin/clients", headers=h,
                      json={"name": "Bad", "redirect_uris": ["http://evil.example/cb"]})
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    assert requests.delete(op.url + "/admin/clients/" + c["client_id"], headers=h).status_code == 200
    assert requests.get(op.url + "/admin/clients/" + c["client_id"], headers=h).status_code == 404
    # audited
    out = cli(op, "audit", "--event", "oauth_client_created", "--json").stdout
    assert c["client_id"] in out


def test_hs_only_deployment_with_clients_refuses_to_start(jwtd_server):
    srv = JwtdServer(env=dict(FAST, JWTD_SECRET_KEY="an-hs256-secret-for-tests-0123456789abcdef"))
    # no client yet: `jwtd check` has nothing against the HMAC key
    cli(srv, "migrate")
    r = cli(srv, "check")
    assert "clients: ok (0 OpenID Connect clients)" in r.stdout, r.stdout
    cli(srv, "client", "create", "--name", "x", "--redirect-uri", APP_CB)
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "asymmetric" in str(e.value)
    # `jwtd check` names the same problem, in the words serve used
    r = cli(srv, "check", check=False)
    assert r.returncode == 1, r.stdout
    got = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    assert "asymmetric signing key" in got["clients"] and "not HS256" in got["clients"]
    assert got["clients"] in str(e.value)
    assert r.stdout.splitlines()[-1] == "jwtd check: 1 problem: clients"


def test_issuer_never_from_host_outside_development(jwtd_server):
    srv = jwtd_server(env={"JWTD_ENVIRONMENT": "staging", "JWTD_PUBLIC_URL": "https://auth.example.com",
                           "JWTD_SECRET_KEY": "Zk3-staging-secret-for-tests-q8W2x7Lm4Np6Rt9Vb1"})
    d = requests.get(srv.url + "/.well-known/openid-configuration",
                     headers={"Host": "evil.example"}).json()
    assert d["issuer"] == "https://auth.example.com"
    assert d["authorization_endpoint"] == "https://auth.example.com/oauth/authorize"


def decode_id_token(op, id_token, aud):
    key = jwt.PyJWKClient(op.url + "/.well-known/jwks.json").get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["ES256"], audience=aud, issuer=op.url)


def test_refresh_returns_a_new_id_token_checked_by_authlib(op):
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as ajwt
    from authlib.oidc.core import CodeIDToken, IDToken

    s = login(op)
    params, code = code_for(op, s, op.app)
    sess = OAuth2Session(op.app["client_id"], op.app["client_secret"],
                         token_endpoint_auth_method="client_secret_basic")
    t1 = sess.fetch_token(op.url + "/oauth/token", grant_type="authorization_code", code=code,
                          redirect_uri=APP_CB)
    t2 = sess.refresh_token(op.url + "/oauth/token", refresh_token=t1["refresh_token"])
    assert t2["id_token"] and t2["id_token"] != t1["id_token"]
    # authlib's OpenID Connect validation: signature with the JWKS, iss, aud, exp, iat, and
    # at_hash against the new access token; the first one also with its nonce
    jwks = JsonWebKey.import_key_set(requests.get(op.url + "/.well-known/jwks.json").json())
    opts = {"iss": {"essential": True, "value": op.url},
            "aud": {"essential": True, "value": op.app["client_id"]}}
    c1 = ajwt.decode(t1["id_token"], jwks, claims_cls=CodeIDToken, claims_options=opts,
                     claims_params={"nonce": params["nonce"],
                                    "access_token": t1["access_token"]})
    c1.validate()
    c2 = ajwt.decode(t2["id_token"], jwks, claims_cls=IDToken, claims_options=opts,
                     claims_params={"access_token": t2["access_token"]})
    c2.validate()
    # OpenID Connect Core 12.2: same authentication, new token
    for k in ("iss", "sub", "aud", "azp", "auth_time", "amr", "sid"):
        assert c2[k] == c1[k], k
    assert c2["iat"] >= c1["iat"] and c2["exp"] >= c1["exp"]  # issued now (whole seconds)
    assert "nonce" not in c2 and c1["nonce"] == params["nonce"]
    digest = hashlib.sha256(t2["access_token"].encode()).digest()
    assert c2["at_hash"] == b64url(digest[:16]) != c1["at_hash"]
    # without the openid scope, a refresh answers no ID token
    params, code = code_for(op, s, op.app, scope="profile offline_access")
    t3 = sess.fetch_token(op.url + "/oauth/token", grant_type="authorization_code", code=code,
                          redirect_uri=APP_CB)
    assert "id_token" not in t3
    t4 = sess.refresh_token(op.url + "/oauth/token", refresh_token=t3["refresh_token"])
    assert "id_token" not in t4 and t4["scope"] == "profile offline_access"


def test_roles_scope_in_id_token_and_userinfo(op):
    d = requests.get(op.url + "/.well-known/openid-configuration").json()
    assert "roles" in d["scopes_supported"]
    assert {"role", "roles"} <= set(d["claims_supported"])
    auth = (op.app["client_id"], op.app["client_secret"])
    for user, role in (("root", "admin"), ("bob", "user")):
        s = login(op, user)
        _, r = authorize(op, s, op.app, scope="openid roles offline_access")
        assert r.status_code == 200 and "See your role" in r.text, r.text  # consent names it
        _, q = redirected(consent(op, s, r.text))
        t = token(op, {"grant_type": "authorization_code", "code": q["code"],
                       "redirect_uri": APP_CB}, auth=auth).json()
        assert t["scope"] == "openid roles offline_access"
        c = decode_id_token(op, t["id_token"], op.app["client_id"])
        assert c["role"] == role and c["roles"] == [role]
        ui = requests.get(op.url + "/oauth/userinfo",
                          headers={"Authorization": "Bearer " + t["access_token"]}).json()
        assert ui == {"sub": c["sub"], "role": role, "roles": [role]}
        # the refreshed ID token carries it too
        t2 = token(op, {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]},
                   auth=auth).json()
        assert decode_id_token(op, t2["id_token"], op.app["client_id"])["roles"] == [role]
    # without the scope, no role claim anywhere
    s = login(op, "root")
    _, code = code_for(op, s, op.app, scope="openid profile")
    t = token(op, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CB},
              auth=auth).json()
    c = decode_id_token(op, t["id_token"], op.app["client_id"])
    assert "role" not in c and "roles" not in c
    ui = requests.get(op.url + "/oauth/userinfo",
                      headers={"Authorization": "Bearer " + t["access_token"]}).json()
    assert "role" not in ui and "roles" not in ui and ui["preferred_username"] == "root"


def assert_oauth_400(r, *words):
    """RFC 6749 §5.2's shape: 400, invalid_request with a description, never cached."""
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["error"] == "invalid_request", body
    for w in words:
        assert w in body["error_description"], body


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_form_errors_have_the_rfc6749_shape(op, path):
    url = op.url + path
    auth = (op.app["client_id"], op.app["client_secret"])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ok = "grant_type=client_credentials" if path == "/oauth/token" else "token=abc"
    # the well-formed request is accepted, so each error below is the form's
    assert requests.post(url, data=ok, headers=form, auth=auth).status_code == 200
    # a wrong Content-Type (JSON is jwtd's own API's, not OAuth's), or none with a body
    assert_oauth_400(requests.post(url, json={"grant_type": "client_credentials", "token": "a"},
                                   auth=auth), "application/x-www-form-urlencoded")
    assert_oauth_400(requests.post(url, data=ok, headers={"Content-Type": "text/plain"},
                                   auth=auth), "application/x-www-form-urlencoded")
    assert_oauth_400(requests.post(url, data=ok.encode(), auth=auth),
                     "application/x-www-form-urlencoded")
    # malformed: a bad %-escape, text that is not UTF-8
    for bad in (ok + "&scope=%zz", ok + "&scope=%ff%fe", ok + "&%ff=1"):
        assert_oauth_400(requests.post(url, data=bad, headers=form, auth=auth), "malformed")
    # a parameter more than once (RFC 6749 §3.2), even with the same value
    name = ok.split("=")[0]
    assert_oauth_400(requests.post(url, data=ok + "&" + ok, headers=form, auth=auth),
                     "repeated: " + name)
    assert_oauth_400(requests.post(url, data=ok + "&client_id=a&client_id=a", headers=form),
                     "repeated: client_id")
    # oversized
    assert_oauth_400(requests.post(url, data=ok + "&pad=" + "a" * 70000, headers=form, auth=auth),
                     "64 KiB")
    # the required parameter missing
    missing = "grant_type is required" if path == "/oauth/token" else "token is required"
    assert_oauth_400(requests.post(url, data="", headers=form, auth=auth), missing)
    assert_oauth_400(requests.post(url, data="scope=openid", headers=form, auth=auth), missing)


# ---- jwtd client update / rotate-secret (the CLI against the running server's database) ----

def client_create(op, *args):
    return json.loads(cli(op, "client", "create", *args).stdout)


def client_cmd(op, *args):
    """Runs `jwtd client ARGS` expecting success: the JSON it prints."""
    out = json.loads(cli(op, "client", *args).stdout)
    assert "client_secret" not in out or args[0] == "rotate-secret", out
    return out


def test_client_update_scope_is_honoured_by_authorize_and_token(op):
    cb = "http://127.0.0.1:9/legacy"
    c = client_create(op, "--name", "Legacy", "--redirect-uri", cb, "--scope",
                      "openid profile email offline_access")
    auth = (c["client_id"], c["client_secret"])
    s = login(op, "bob")
    # before: roles is not among the client's scopes
    _, r = authorize(op, s, c, scope="openid roles")
    assert redirected(r)[1]["error"] == "invalid_scope"
    r = token(op, {"grant_type": "client_credentials", "scope": "roles"}, auth=auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
    u = client_cmd(op, "update", c["client_id"], "--scope",
                   "openid profile email offline_access roles")
    assert u["scopes"] == ["openid", "profile", "email", "offline_access", "roles"]
    # only the scopes changed
    for k in ("client_id", "name", "redirect_uris", "post_logout_redirect_uris", "public",
              "first_party", "grant_types", "created_at"):
        assert u[k] == c[k], k
    assert client_cmd(op, "show", c["client_id"]) == u
    # after: the consent page asks for the role, the token carries the scope
    _, r = authorize(op, s, c, scope="openid roles")
    assert r.status_code == 200 and "See your role" in r.text, r.text
    _, q = redirected(consent(op, s, r.text))
    t = token(op, {"grant_type": "authorization_code", "code": q["code"], "redirect_uri": cb},
              auth=auth)
    assert t.status_code == 200, t.text
    assert t.json()["scope"] == "openid roles"
    assert decode_id_token(op, t.json()["id_token"], c["client_id"])["roles"] == ["user"]
    r = token(op, {"grant_type": "client_credentials", "scope": "roles"}, auth=auth)
    assert r.status_code == 200 and r.json()["scope"] == "roles", r.text
    # narrowing it again refuses roles at once
    client_cmd(op, "update", c["client_id"], "--scope", "openid")
    _, r = authorize(op, s, c, scope="openid roles")
    assert redirected(r)[1]["error"] == "invalid_scope"


def test_client_update_replaces_redirect_uris_and_other_fields(op):
    old, new1, new2 = ("http://127.0.0.1:9/old", "https://app.example/cb",
                       "http://localhost:9/new")
    c = client_create(op, "--name", "Mover", "--redirect-uri", old,
                      "--post-logout-redirect-uri", LOGOUT_CB)
    u = client_cmd(op, "update", c["client_id"], "--redirect-uri", new1, "-r", new2)
    assert u["redirect_uris"] == [new1, new2]          # replaced, not appended
    assert u["post_logout_redirect_uris"] == [LOGOUT_CB] and u["name"] == "Mover"
    s = login(op)
    _, r = authorize(op, s, c, redirect_uri=old)
    assert r.status_code == 400 and "Location" not in r.headers and "not registered" in r.text
    _, r = authorize(op, s, c, redirect_uri=new2)
    assert r.status_code == 200 and "Allow access?" in r.text   # third-party: consent
    # name and first-party: no consent asked any more; the page would have named it
    u = client_cmd(op, "update", c["client_id"], "--name", "Mover Two", "--first-party")
    assert u["name"] == "Mover Two" and u["first_party"] is True
    assert u["redirect_uris"] == [new1, new2]
    _, r = authorize(op, s, c, redirect_uri=new2)
    u2, q = redirected(r)
    assert f"{u2.scheme}://{u2.netloc}{u2.path}" == new2 and "code" in q
    u = client_cmd(op, "update", c["client_id"], "--no-first-party",
                   "--post-logout-redirect-uri", "")
    assert u["first_party"] is False and u["post_logout_redirect_uris"] == []
    # without the authorization code grant, the redirect URIs may go
    u = client_cmd(op, "update", c["client_id"], "--grant-types", "client_credentials")
    assert u["grant_types"] == ["client_credentials"]
    _, r = authorize(op, s, c, redirect_uri=new2)
    assert redirected(r)[1]["error"] == "unauthorized_client"
    out = cli(op, "audit", "--event", "oauth_client_updated", "--json").stdout
    assert c["client_id"] in out


def test_client_rotate_secret(op):
    c = client_create(op, "--name", "Rotator", "--redirect-uri", "http://127.0.0.1:9/rot")
    old = (c["client_id"], c["client_secret"])
    data = {"grant_type": "client_credentials", "scope": "profile"}
    assert token(op, data, auth=old).status_code == 200
    r = cli(op, "client", "rotate-secret", c["client_id"])
    rot = json.loads(r.stdout)
    assert set(rot) == {"client_id", "client_secret"} and rot["client_id"] == c["client_id"]
    assert len(rot["client_secret"]) == 43 and rot["client_secret"] != c["client_secret"]
    assert "not shown again" in r.stderr
    new = (c["client_id"], rot["client_secret"])
    # the old secret stops working at once; the new one works, in the header and the body
    r = token(op, data, auth=old)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
    assert token(op, data, auth=new).status_code == 200
    r = token(op, dict(data, client_id=new[0], client_secret=new[1]))
    assert r.status_code == 200, r.text
    # the code exchange too
    s = login(op)
    _, code = code_for(op, s, c, scope="openid")
    cb = {"grant_type": "authorization_code", "code": code,
          "redirect_uri": "http://127.0.0.1:9/rot"}
    assert token(op, cb, auth=old).status_code == 401
    assert token(op, cb, auth=new).status_code == 200
    shown = client_cmd(op, "show", c["client_id"])
    assert "client_secret" not in shown and shown["name"] == "Rotator"
    out = cli(op, "audit", "--event", "oauth_client_secret_rotated", "--json").stdout
    assert c["client_id"] in out and c["client_secret"] not in out
    assert rot["client_secret"] not in out


def test_client_update_and_rotate_errors(op):
    unknown = "0" * 32
    for args in (("update", unknown, "--name", "X"), ("rotate-secret", unknown)):
        r = cli(op, "client", *args, check=False)
        assert r.returncode != 0 and "no client " + unknown in r.stderr, r.stderr
        assert r.stdout == ""
    # a public client has no secret to rotate
    r = cli(op, "client", "rotate-secret", op.spa["client_id"], check=False)
    assert r.returncode != 0 and "public client" in r.stderr and r.stdout == ""
    c = client_create(op, "--name", "Strict", "--redirect-uri", "http://127.0.0.1:9/strict")
    before = client_cmd(op, "show", c["client_id"])
    bad = (
        (("--redirect-uri", "http://evil.example/cb"), "redirect_uri"),
        (("--redirect-uri", "https://app.example/cb#frag"), "redirect_uri"),
        (("--post-logout-redirect-uri", "javascript:alert(1)"), "post_logout_redirect_uri"),
        (("--scope", "openid admin"), "scope"),
        (("--grant-types", "password"), "grant_types"),
        (("--grant-types", "authorization_code", "--redirect-uri", ""), "redirect_uri"),
        (("--name", ""), "name"),
    )
    for args, word in bad:
        r = cli(op, "client", "update", c["client_id"], *args, check=False)
        assert r.returncode != 0 and word in r.stderr and r.stdout == "", (args, r.stderr)
    # a public client cannot be given client_credentials
    r = cli(op, "client", "update", op.spa["client_id"], "--grant-types",
            "authorization_code client_credentials", check=False)
    assert r.returncode != 0 and "public client" in r.stderr
    for args in ((), ("--first-party", "--no-first-party")):
        r = cli(op, "client", "update", c["client_id"], *args, check=False)
        assert r.returncode == 2, r.stderr
    assert client_cmd(op, "show", c["client_id"]) == before   # nothing changed
    assert "rotate-secret" in cli(op, "client", "--help").stdout


def _oauth_413(sock):
    """A body over JWTD_MAX_BODY_BYTES: RFC 6749's invalid_request (status 413, the body was
    never read), never cached, then the connection closes."""
    rd = Reader(sock)
    r = rd.read_response()
    assert r.status == 413, r
    assert r.header("content-type").startswith("application/json")
    assert r.header("cache-control") == "no-store"
    assert r.header("connection") == "close"
    body = r.json()
    assert body["error"] == "invalid_request", body
    assert "too large" in body["error_description"], body
    assert rd.closed()


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_body_over_max_body_bytes_has_the_rfc6749_shape(op, path):
    head = ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            % path)
    # a Content-Length over the limit (1 MiB): answered before a byte of the body is sent
    with connect(op) as s:
        send_raw(s, head + "Content-Length: 104857600\r\n\r\n")
        _oauth_413(s)
    # a chunked body that goes over it while it streams
    with connect(op) as s:
        send_raw(s, head + "Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
        try:
            for _ in range(17):  # 1.06 MiB; never terminated
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        _oauth_413(s)
    # jwtd's own routes keep jwtd's shape
    with connect(op) as s:
        send_raw(s, "POST /api/auth/login/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                    "\r\nContent-Length: 104857600\r\n\r\n")
        r = Reader(s).read_response()
        assert r.status == 413 and r.json()["code"] == "payload_too_large", r
        assert "error" not in r.json()

"""Social sign-in (jwtd as an OpenID Connect relying party) at the protocol level.

A small OpenID provider written here (discovery, authorization endpoint, token endpoint with
PKCE S256 and client_secret_basic, JWKS; RS256 keys from `cryptography`, tokens by PyJWT)
runs on 127.0.0.1 beside jwtd, so each test can make it misbehave in one precise way: a
wrong nonce, a key that is not in its JWKS, another issuer, another audience, HS256, `none`.
The full browser flow against a real provider (npm oidc-provider) is tests/e2e/oidc-rp.test.js.

Covered: sign-in creating an account; linking by verified e-mail (and not by an unverified
one); JWTD_OIDC_LINK_BY_EMAIL=false; sign-up closed; a forged (unknown or tampered) state;
a replayed callback; a callback from another browser (no binding cookie); provider error=;
wrong nonce; unknown key (and the JWKS refetched for a rotated key); issuer mismatch in
discovery and in the token; wrong audience; HS256 and none; open-redirect `next` values;
identities listed and unlinked (the last way to sign in refused); the configuration checks.
"""

import base64
import hashlib
import http.server
import json
import os
import threading
import time
import urllib.parse

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from peers import TEST_PASSWORD, Jwtd, token_env

CLIENT_ID = "jwtd-test"
CLIENT_SECRET = "s3cret-of-the-test-client"


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key, kid):
    pub = key.public_key().public_numbers()

    def b64(n):
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(pub.n),
            "e": b64(pub.e)}


class Idp:
    """The test's provider. `mode` picks one misbehaviour of the next ID token; `user` is
    the account that signs in at the authorization endpoint."""

    def __init__(self):
        self.key = _rsa()
        self.kid = "key-1"
        self.other_key = _rsa()  # never published unless rotated in
        self.published = [(self.key, self.kid)]
        self.mode = None
        self.discovery_issuer = None  # None = the real one
        self.user = {"sub": "alice-sub", "email": "alice@idp.test", "email_verified": True,
                     "preferred_username": "alice"}
        self.codes = {}
        self.jwks_fetches = 0
        self.userinfo_requests = 0
        self.userinfo_sub = None  # None = the ID token's
        self.auth_methods = ["client_secret_basic"]
        self.algs = ["RS256", "HS256"]
        self.token_requests = []
        self.amr = None  # the ID token's amr, None = none
        handler = self._handler()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.issuer = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def id_token(self, nonce):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": self.user["sub"], "aud": CLIENT_ID, "iat": now,
                  "exp": now + 300, "nonce": nonce}
        for k in ("email", "email_verified", "preferred_username"):
            if k in self.user and self.mode != "claims_in_userinfo":
                claims[k] = self.user[k]
        if self.amr is not None:
            claims["amr"] = self.amr
        key, kid, alg = self.key, self.kid, "RS256"
        m = self.mode
        if m == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif m == "no_nonce":
            del claims["nonce"]
        elif m == "unknown_key":
            key, kid = self.other_key, "key-unknown"
        elif m == "wrong_iss":
            claims["iss"] = "http://evil.example"
        elif m == "wrong_aud":
            claims["aud"] = "someone-else"
        elif m == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        elif m == "azp":
            claims["aud"] = [CLIENT_ID, "other"]
            claims["azp"] = "other"
        if m == "hs256":
            return jwt.encode(claims, CLIENT_SECRET, algorithm="HS256", headers={"kid": kid})
        if m == "none":
            h = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": kid}).encode())
            p = base64.urlsafe_b64encode(json.dumps(claims).encode())
            return (h.rstrip(b"=") + b"." + p.rstrip(b"=") + b".").decode()
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def _handler(self):
        idp = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                if u.path == "/.well-known/openid-configuration":
                    self._json(200, {
                        "issuer": idp.discovery_issuer or idp.issuer,
                        "authorization_endpoint": idp.issuer + "/authorize",
                        "token_endpoint": idp.issuer + "/token",
                        "jwks_uri": idp.issuer + "/jwks",
                        "userinfo_endpoint": idp.issuer + "/userinfo",
                        "response_types_supported": ["code"],
                        "id_token_signing_alg_values_supported": idp.algs,
                        "token_endpoint_auth_methods_supported": idp.auth_methods,
                        "code_challenge_methods_supported": ["S256"],
                    })
                elif u.path == "/jwks":
                    idp.jwks_fetches += 1
                    self._json(200, {"keys": [_jwk(k, kid) for k, kid in idp.published]})
                elif u.path == "/userinfo":
                    if self.headers.get("Authorization") != "Bearer at":
                        return self._json(401, {"error": "invalid_token"})
                    idp.userinfo_requests += 1
                    answer = dict(idp.user)
                    if idp.userinfo_sub:
                        answer["sub"] = idp.userinfo_sub
                    self._json(200, answer)
                elif u.path == "/authorize":
                    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
                    assert q["code_challenge_method"] == "S256"
                    code = base64.urlsafe_b64encode(os.urandom(18)).decode()
                    idp.codes[code] = q
                    loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": code, "state": q["state"]})
                    self.send_response(302)
                    self.send_header("Location", loc)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
                idp.token_requests.append((dict(self.headers), form))
                auth = self.headers.get("Authorization", "")
                want = "Basic " + base64.b64encode(
                    ("%s:%s" % (CLIENT_ID, CLIENT_SECRET)).encode()).decode()
                if "client_secret_basic" in idp.auth_methods:
                    ok = auth == want
                else:  # client_secret_post
                    ok = not auth and form.get("client_id") == CLIENT_ID and \
                        form.get("client_secret") == CLIENT_SECRET
                if not ok:
                    return self._json(401, {"error": "invalid_client"})
                q = idp.codes.pop(form.get("code"), None)
                if not q or form.get("redirect_uri") != q["redirect_uri"]:
                    return self._json(400, {"error": "invalid_grant"})
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != q["code_challenge"]:
                    return self._json(400, {"error": "invalid_grant"})
                self._json(200, {"access_token": "at", "token_type": "Bearer",
                                 "id_token": idp.id_token(q["nonce"])})

        return H


@pytest.fixture
def idp():
    p = Idp()
    yield p
    p.close()


class Rp:
    """jwtd configured with the test provider, and a browser-like session."""

    def __init__(self, srv, idp):
        self.srv, self.idp = srv, idp
        self.j = Jwtd(srv)

    @property
    def url(self):
        return self.srv.url

    def browser(self):
        return requests.Session()

    def start(self, b, next_=None):
        path = "/auth/oidc/test/start" + ("?" + urllib.parse.urlencode({"next": next_})
                                         if next_ is not None else "")
        return b.get(self.url + path, allow_redirects=False, timeout=30)

    def to_callback(self, b, next_="/app/dashboard.html"):
        """start, then the provider's redirect: returns the callback URL (not followed)."""
        r = self.start(b, next_)
        assert r.status_code == 302, r.text
        r = b.get(r.headers["Location"], allow_redirects=False, timeout=30)
        assert r.status_code == 302
        return r.headers["Location"]

    def callback(self, b, url):
        return b.get(url, allow_redirects=False, timeout=30)

    def sign_in(self, b, next_="/app/dashboard.html"):
        return self.callback(b, self.to_callback(b, next_))

    def access(self, b):
        r = b.post(self.url + "/api/auth/refresh/", headers={"Origin": self.url}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["access"]

    def me(self, b):
        tok = self.access(b)
        return self.j.get("/auth/me", token=tok).json(), tok


@pytest.fixture
def rp_factory(idp, tmp_path):
    started = []

    def make(users=(), secret=CLIENT_SECRET, **env):
        from conftest import JwtdServer
        secret_value = secret
        secret = tmp_path / "client_secret"
        secret.write_text(secret_value + "\n")
        os.chmod(secret, 0o600)
        e = token_env(**dict({"JWTD_OIDC_PROVIDERS": "test", "JWTD_OIDC_TEST_ISSUER": idp.issuer,
                              "JWTD_OIDC_TEST_CLIENT_ID": CLIENT_ID,
                              "JWTD_OIDC_TEST_CLIENT_SECRET_FILE": str(secret),
                              "JWTD_SIGNUP": "open", "JWTD_ENVIRONMENT": "development"}, **env))
        srv = JwtdServer(env=e)
        j = Jwtd(srv)
        for name, email in users:
            j.create_user(name, email=email)
        srv.start()
        started.append(srv)
        return Rp(srv, idp)

    yield make
    errors = []
    for s in started:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


def error_of(r):
    assert r.status_code == 302, (r.status_code, r.text)
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.path == "/app/" and not loc.netloc, r.headers["Location"]
    return dict(urllib.parse.parse_qsl(loc.query)).get("oidc_error")


# --- the happy paths -------------------------------------------------------------------------


def test_providers_listed(rp_factory):
    rp = rp_factory()
    r = requests.get(rp.url + "/auth/oidc/providers", timeout=30)
    assert r.status_code == 200
    assert r.json() == {"providers": [{"name": "test", "start": "/auth/oidc/test/start"}]}


def test_start_redirects_with_state_nonce_pkce(rp_factory, idp):
    rp = rp_factory()
    b = rp.browser()
    r = rp.start(b, "/app/dashboard.html")
    assert r.status_code == 302
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.scheme + "://" + loc.netloc == idp.issuer and loc.path == "/authorize"
    q = dict(urllib.parse.parse_qsl(loc.query))
    assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
    assert q["scope"] == "openid email profile"
    assert q["redirect_uri"] == rp.url + "/auth/oidc/test/callback"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) == 43 and len(q["nonce"]) == 43 and q["state"] != q["nonce"]
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("jwtd_oidc=") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Path=/auth/oidc/" in cookie and "Max-Age=600" in cookie
    # a second start: other values
    q2 = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        rp.start(b).headers["Location"]).query))
    assert q2["state"] != q["state"] and q2["nonce"] != q["nonce"]
    assert q2["code_challenge"] != q["code_challenge"]


def test_sign_in_creates_account(rp_factory, idp):
    rp = rp_factory()
    b = rp.browser()
    r = rp.sign_in(b)
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == "/app/dashboard.html"
    cookies = r.headers["Set-Cookie"]
    assert "refresh_token=" in cookies and "HttpOnly" in cookies
    me, _ = rp.me(b)
    assert me["username"] == "alice" and me["email"] == "alice@idp.test"
    # the token request: basic auth, the PKCE verifier, no secret in the body
    headers, form = idp.token_requests[-1]
    assert form["grant_type"] == "authorization_code" and len(form["code_verifier"]) == 43
    assert "client_secret" not in form
    # a second sign-in finds the same account by iss+sub (even with another e-mail now)
    idp.user = dict(idp.user, email="alice.new@idp.test")
    b2 = rp.browser()
    assert rp.sign_in(b2).status_code == 302
    me2, _ = rp.me(b2)
    assert me2["id"] == me["id"] and me2["username"] == "alice"


def _step_of(r):
    """The redirect to the sign-in page's second step: (next, fragment parameters)."""
    assert r.status_code == 302, r.text
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.path == "/app/" and not loc.netloc, r.headers["Location"]
    assert "refresh_token=" not in r.headers.get("Set-Cookie", "")  # no session yet
    return dict(urllib.parse.parse_qsl(loc.query))["next"], dict(urllib.parse.parse_qsl(
        loc.fragment))


def _amr(access):
    return jwt.decode(access, options={"verify_signature": False})["amr"]


def test_second_factor_after_social_sign_in(rp_factory, idp):
    import pyotp
    rp = rp_factory()
    b = rp.browser()
    assert rp.sign_in(b).status_code == 302
    access = rp.access(b)
    assert _amr(access) == ["ext"]  # the provider's sign-in: one factor
    # the user sets up TOTP at jwtd
    auth = {"Authorization": "Bearer " + access}
    e = requests.post(rp.url + "/auth/mfa/totp/enroll", headers=auth, timeout=30).json()
    totp = pyotp.TOTP(e["secret"])
    r = requests.post(rp.url + "/auth/mfa/totp/activate", headers=auth, timeout=30,
                      json={"factor_id": e["factor_id"], "code": totp.now()})
    assert r.status_code == 200, r.text
    # the next social sign-in asks for it, as a password login does, even when the
    # provider says it asked for more (it is not trusted for that by default)
    idp.amr = ["pwd", "mfa"]
    b = rp.browser()
    next_, step = _step_of(rp.sign_in(b, "/app/dashboard.html"))
    assert next_ == "/app/dashboard.html" and step["factors"] == "totp"
    assert len(step["mfa_token"]) == 64
    r = b.post(rp.url + "/auth/mfa/verify", headers={"Origin": rp.url}, timeout=30,
               json={"mfa_token": step["mfa_token"], "code": totp.at(time.time() + 30)})
    assert r.status_code == 200, r.text  # the browser flow's answer and its cookie
    assert "refresh_token=" in r.headers["Set-Cookie"] and set(r.json()) == {"access", "user"}
    assert _amr(r.json()["access"]) == ["otp", "mfa", "ext"]
    assert _amr(rp.access(b)) == ["otp", "mfa", "ext"]  # kept by the session
    # the token is single-use
    r = b.post(rp.url + "/auth/mfa/verify", headers={"Origin": rp.url}, timeout=30,
               json={"mfa_token": step["mfa_token"], "code": totp.now()})
    assert r.status_code == 401 and r.json()["code"] == "mfa_token_invalid"


def test_provider_trusted_for_mfa(rp_factory, idp):
    import pyotp
    rp = rp_factory(JWTD_OIDC_TEST_TRUST_MFA="true", JWTD_MFA_REQUIRED_ROLES="user")
    b = rp.browser()
    # a role that requires MFA: the provider's amr proves it, so the session is full
    idp.amr = ["pwd", "otp"]
    assert rp.sign_in(b).headers["Location"] == "/app/dashboard.html"
    access = rp.access(b)
    assert _amr(access) == ["mfa", "ext"]
    # without that proof: the enrolment token first (no factor yet) ...
    idp.amr = ["pwd"]
    _, step = _step_of(rp.sign_in(rp.browser()))
    enroll = step["enroll_token"]
    assert jwt.decode(enroll, options={"verify_signature": False})["token_type"] == "mfa_enroll"
    e = requests.post(rp.url + "/auth/mfa/totp/enroll", timeout=30,
                      headers={"Authorization": "Bearer " + enroll}).json()
    totp = pyotp.TOTP(e["secret"])
    r = requests.post(rp.url + "/auth/mfa/totp/activate", timeout=30,
                      headers={"Authorization": "Bearer " + enroll},
                      json={"factor_id": e["factor_id"], "code": totp.now()})
    assert r.status_code == 200, r.text
    # ... then the second step; with the proof, none
    _, step = _step_of(rp.sign_in(rp.browser()))
    assert step["factors"] == "totp" and len(step["mfa_token"]) == 64
    idp.amr = ["mfa"]
    b = rp.browser()
    assert rp.sign_in(b).headers["Location"] == "/app/dashboard.html"
    assert _amr(rp.access(b)) == ["mfa", "ext"]


def test_client_secret_post_when_basic_is_not_offered(rp_factory, idp):
    idp.auth_methods = ["client_secret_post"]
    rp = rp_factory()
    assert rp.sign_in(rp.browser()).headers["Location"] == "/app/dashboard.html"
    headers, form = idp.token_requests[-1]
    assert "Authorization" not in headers
    assert form["client_id"] == CLIENT_ID and form["client_secret"] == CLIENT_SECRET


def test_alg_outside_discovery_list_refused(rp_factory, idp):
    idp.algs = ["ES256"]  # the provider says it signs ID tokens with ES256 only
    rp = rp_factory()
    assert error_of(rp.sign_in(rp.browser())) == "invalid_id_token"


def test_wrong_client_secret(rp_factory, idp):
    rp = rp_factory(secret="not-the-secret")
    assert error_of(rp.sign_in(rp.browser())) == "exchange_failed"


def test_username_made_unique(rp_factory, idp):
    rp = rp_factory(users=[("alice", "someone@example.com")])
    idp.user = {"sub": "s-1", "email": "alice2@idp.test", "email_verified": True,
                "preferred_username": "alice"}
    b = rp.browser()
    assert rp.sign_in(b).status_code == 302
    me, _ = rp.me(b)
    assert me["username"] == "alice2" and me["email"] == "alice2@idp.test"


def test_link_by_verified_email(rp_factory, idp):
    rp = rp_factory(users=[("bob", "Bob@Example.com")])
    idp.user = {"sub": "bob-at-idp", "email": "bob@example.com", "email_verified": True}
    b = rp.browser()
    r = rp.sign_in(b)
    assert r.status_code == 302 and r.headers["Location"] == "/app/dashboard.html"
    me, tok = rp.me(b)
    assert me["username"] == "bob"
    ids = rp.j.get("/auth/oidc/identities", token=tok).json()
    assert [(i["provider"], i["email"]) for i in ids] == [("test", "bob@example.com")]


def test_claims_from_userinfo(rp_factory, idp):
    """A provider that keeps scope claims out of the ID token: e-mail and name come from
    userinfo (for the same sub), and linking by verified e-mail still works."""
    rp = rp_factory(users=[("frank", "frank@example.com")])
    idp.mode = "claims_in_userinfo"
    idp.user = {"sub": "frank-sub", "email": "frank@example.com", "email_verified": True}
    b = rp.browser()
    assert rp.sign_in(b).headers["Location"] == "/app/dashboard.html"
    me, _ = rp.me(b)
    assert me["username"] == "frank" and idp.userinfo_requests == 1
    # userinfo for another sub is ignored: a new account, without that e-mail
    idp.user = {"sub": "grace-sub", "email": "grace@idp.test", "email_verified": True,
                "preferred_username": "grace"}
    idp.userinfo_sub = "someone-else"
    b = rp.browser()
    assert rp.sign_in(b).status_code == 302
    me, _ = rp.me(b)
    assert me["email"] == "" and me["username"] == "user"


def test_unverified_email_is_not_linked(rp_factory, idp):
    rp = rp_factory(users=[("carol", "carol@example.com")])
    idp.user = {"sub": "carol-at-idp", "email": "carol@example.com", "email_verified": False,
                "preferred_username": "carol"}
    b = rp.browser()
    assert rp.sign_in(b).status_code == 302
    me, _ = rp.me(b)
    # a new account, without the unverified address
    assert me["username"] == "carol2" and me["email"] == ""


def test_link_by_email_off(rp_factory, idp):
    rp = rp_factory(users=[("dave", "dave@example.com")], JWTD_OIDC_LINK_BY_EMAIL="false")
    idp.user = {"sub": "dave-at-idp", "email": "dave@example.com", "email_verified": True}
    assert error_of(rp.sign_in(rp.browser())) == "account_exists"


def test_signup_closed(rp_factory, idp):
    rp = rp_factory(JWTD_SIGNUP="closed")
    assert error_of(rp.sign_in(rp.browser())) == "signup_closed"


def test_unlink_identity(rp_factory, idp):
    rp = rp_factory(users=[("erin", "erin@example.com")])
    idp.user = {"sub": "erin-sub", "email": "erin@example.com", "email_verified": True}
    b = rp.browser()
    assert rp.sign_in(b).status_code == 302
    _, tok = rp.me(b)
    ids = rp.j.get("/auth/oidc/identities", token=tok).json()
    assert len(ids) == 1
    r = requests.delete(rp.url + "/auth/oidc/identities/%d" % ids[0]["id"],
                        headers={"Authorization": "Bearer " + tok}, timeout=30)
    assert r.status_code == 204
    assert rp.j.get("/auth/oidc/identities", token=tok).json() == []
    r = requests.delete(rp.url + "/auth/oidc/identities/%d" % ids[0]["id"],
                        headers={"Authorization": "Bearer " + tok}, timeout=30)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert requests.get(rp.url + "/auth/oidc/identities", timeout=30).status_code == 401


def test_unlink_last_way_to_sign_in_refused(rp_factory, idp):
    rp = rp_factory()
    b = rp.browser()
    assert rp.sign_in(b).status_code == 302
    _, tok = rp.me(b)
    ids = rp.j.get("/auth/oidc/identities", token=tok).json()
    r = requests.delete(rp.url + "/auth/oidc/identities/%d" % ids[0]["id"],
                        headers={"Authorization": "Bearer " + tok}, timeout=30)
    assert r.status_code == 409 and r.json()["code"] == "last_sign_in_method"
    assert len(rp.j.get("/auth/oidc/identities", token=tok).json()) == 1


# --- state, binding, replay --------------------------------------------------------------------


def _with_query(url, **changes):
    u = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(u.query))
    q.update(changes)
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))


def test_forged_state(rp_factory, idp):
    rp = rp_factory()
    b = rp.browser()
    cb = rp.to_callback(b)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(cb).query))["state"]
    tampered = state[:-1] + ("A" if state[-1] != "A" else "B")
    assert error_of(rp.callback(b, _with_query(cb, state=tampered))) == "invalid_state"
    assert error_of(rp.callback(b, _with_query(cb, state="made-up"))) == "invalid_state"
    u = urllib.parse.urlsplit(cb)
    q = dict(urllib.parse.parse_qsl(u.query))
    del q["state"]
    no_state = urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))
    assert error_of(rp.callback(b, no_state)) == "invalid_state"
    assert not idp.token_requests  # no code was ever exchanged


def test_replayed_callback(rp_factory, idp):
    rp = rp_factory()
    b = rp.browser()
    cb = rp.to_callback(b)
    r = rp.callback(b, cb)
    assert r.status_code == 302 and r.headers["Location"] == "/app/dashboard.html"
    # the same callback again, even with a fresh binding cookie of the same browser
    rp.start(b)
    assert error_of(rp.callback(b, cb)) == "invalid_state"
    assert len(idp.token_requests) == 1


def test_callback_from_another_browser(rp_factory, idp):
    rp = rp_factory()
    victim, attacker = rp.browser(), rp.browser()
    cb = rp.to_callback(attacker)  # the attacker's own authorization response...
    rp.start(victim)  # ...delivered to a victim who has a binding cookie of its own
    assert error_of(rp.callback(victim, cb)) == "invalid_state"
    # and without any cookie at all
    cb2 = rp.to_callback(attacker)
    assert error_of(rp.callback(rp.browser(), cb2)) == "invalid_state"
    assert not idp.token_requests


def test_provider_error(rp_factory, idp):
    rp = rp_factory()
    b = rp.browser()
    r = rp.start(b)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))["state"]
    url = rp.url + "/auth/oidc/test/callback?" + urllib.parse.urlencode(
        {"error": "access_denied", "error_description": "<script>", "state": state})
    assert error_of(rp.callback(b, url)) == "provider_error"
    url = rp.url + "/auth/oidc/test/callback?error=access_denied"
    assert error_of(rp.callback(b, url)) == "invalid_state"


def test_unknown_provider(rp_factory):
    rp = rp_factory()
    for path in ("/auth/oidc/nope/start", "/auth/oidc/nope/callback?state=x&code=y"):
        r = requests.get(rp.url + path, allow_redirects=False, timeout=30)
        assert r.status_code == 404 and r.json()["code"] == "not_found"


# --- the ID token --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["wrong_nonce", "no_nonce", "unknown_key", "wrong_iss",
                                  "wrong_aud", "expired", "azp", "hs256", "none"])
def test_bad_id_token(rp_factory, idp, mode):
    rp = rp_factory()
    idp.mode = mode
    b = rp.browser()
    assert error_of(rp.sign_in(b)) == "invalid_id_token"
    r = b.post(rp.url + "/api/auth/refresh/", headers={"Origin": rp.url}, timeout=30)
    assert r.status_code == 401  # no session was started


def test_unknown_kid_refetches_jwks_at_most_once_a_minute(rp_factory, idp):
    rp = rp_factory()
    assert rp.sign_in(rp.browser()).status_code == 302
    assert idp.jwks_fetches == 1
    # the provider rotates: a token under a new key, now published
    idp.key, idp.kid = idp.other_key, "key-2"
    idp.published.append((idp.key, idp.kid))
    # the JWKS was fetched less than a minute ago: no refetch, the token is refused
    assert error_of(rp.sign_in(rp.browser())) == "invalid_id_token"
    assert idp.jwks_fetches == 1


def test_rotated_key_accepted_after_refetch(rp_factory, idp):
    rp = rp_factory()
    idp.mode = None
    # first contact happens with the new key already published: one fetch, accepted
    idp.published = [(idp.other_key, "key-2")]
    idp.key, idp.kid = idp.other_key, "key-2"
    assert rp.sign_in(rp.browser()).status_code == 302
    assert idp.jwks_fetches == 1


def test_discovery_issuer_mismatch(rp_factory, idp):
    rp = rp_factory()
    idp.discovery_issuer = "http://127.0.0.1:1/someone-else"
    r = rp.start(rp.browser())
    assert error_of(r) == "provider_unavailable"
    assert "jwtd_oidc" not in r.headers.get("Set-Cookie", "")


# --- next ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                 "http:/evil", "evil", "/app/\\x", "/app/ x", "//", "/\t/evil"])
def test_open_redirect_next_refused(rp_factory, bad):
    rp = rp_factory()
    r = rp.start(rp.browser(), bad)
    assert r.status_code == 400, (bad, r.status_code)
    assert r.json()["code"] == "invalid_request"
    assert "Location" not in r.headers


def test_next_default_and_kept(rp_factory):
    rp = rp_factory()
    b = rp.browser()
    cb = rp.to_callback(b, None)
    assert rp.callback(b, cb).headers["Location"] == "/app/"
    b = rp.browser()
    cb = rp.to_callback(b, "/app/dashboard.html?tab=security")
    assert rp.callback(b, cb).headers["Location"] == "/app/dashboard.html?tab=security"


# --- configuration --------------------------------------------------------------------------------


def _config(env):
    from conftest import jwtd_bin
    import subprocess
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    base.update(env)
    return subprocess.run([jwtd_bin(), "config"], env=base, capture_output=True, text=True,
                          timeout=30)


def test_config_per_provider_variables():
    r = _config({"JWTD_OIDC_PROVIDERS": "google,my-idp",
                 "JWTD_OIDC_GOOGLE_ISSUER": "https://accounts.google.com",
                 "JWTD_OIDC_GOOGLE_CLIENT_ID": "g-id",
                 "JWTD_OIDC_GOOGLE_TRUST_MFA": "yes",
                 "JWTD_OIDC_MY_IDP_ISSUER": "https://id.example.com/realms/x",
                 "JWTD_OIDC_MY_IDP_CLIENT_ID": "m-id",
                 "JWTD_OIDC_MY_IDP_SCOPES": "openid email",
                 "JWTD_OIDC_OTHER_ISSUER": "https://x.example"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "JWTD_OIDC_GOOGLE_ISSUER=https://accounts.google.com" in lines
    assert "JWTD_OIDC_GOOGLE_SCOPES=openid email profile" in lines
    assert "JWTD_OIDC_MY_IDP_SCOPES=openid email" in lines
    assert "JWTD_OIDC_GOOGLE_TRUST_MFA=true" in lines
    assert "JWTD_OIDC_MY_IDP_TRUST_MFA=false" in lines  # the default
    assert "JWTD_OIDC_LINK_BY_EMAIL=true" in lines
    assert not any(x.startswith("JWTD_OIDC_OTHER_") for x in lines)
    assert "JWTD_OIDC_OTHER_ISSUER" in r.stderr  # warned: not a listed provider


@pytest.mark.parametrize("env,needle", [
    ({"JWTD_OIDC_PROVIDERS": "g"}, "JWTD_OIDC_G_ISSUER"),
    ({"JWTD_OIDC_PROVIDERS": "g", "JWTD_OIDC_G_ISSUER": "ftp://x", "JWTD_OIDC_G_CLIENT_ID": "c"},
     "JWTD_OIDC_G_ISSUER"),
    ({"JWTD_ENVIRONMENT": "production", "JWTD_OIDC_PROVIDERS": "g",
      "JWTD_OIDC_G_ISSUER": "http://idp.example", "JWTD_OIDC_G_CLIENT_ID": "c"}, "http://"),
    ({"JWTD_OIDC_PROVIDERS": "g", "JWTD_OIDC_G_ISSUER": "https://x", "JWTD_OIDC_G_CLIENT_ID": "c",
      "JWTD_OIDC_G_SCOPES": "email profile"}, "openid"),
    ({"JWTD_OIDC_PROVIDERS": "g", "JWTD_OIDC_G_ISSUER": "https://x", "JWTD_OIDC_G_CLIENT_ID": "c",
      "JWTD_OIDC_G_TRUST_MFA": "maybe"}, "JWTD_OIDC_G_TRUST_MFA"),
    ({"JWTD_OIDC_PROVIDERS": "a b"}, "JWTD_OIDC_PROVIDERS"),
    ({"JWTD_OIDC_PROVIDERS": "g,G", "JWTD_OIDC_G_ISSUER": "https://x",
      "JWTD_OIDC_G_CLIENT_ID": "c"}, "twice"),
])
def test_config_refused(env, needle):
    r = _config(env)
    assert r.returncode != 0
    assert needle in r.stderr, r.stderr


def test_check_reports_providers(tmp_path):
    from conftest import jwtd_bin
    import subprocess
    secret = tmp_path / "s"
    secret.write_text("x\n")
    os.chmod(secret, 0o644)
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    base.update({"JWTD_DATA_DIR": str(tmp_path), "JWTD_ENVIRONMENT": "staging",
                 "JWTD_SECRET_KEY": "k" * 20 + "Zq9!xY2#mN8$vB4%wE6&",
                 "JWTD_OIDC_PROVIDERS": "g", "JWTD_OIDC_G_ISSUER": "https://x.example",
                 "JWTD_OIDC_G_CLIENT_ID": "c", "JWTD_OIDC_G_CLIENT_SECRET_FILE": str(secret)})
    r = subprocess.run([jwtd_bin(), "check"], env=base, capture_output=True, text=True,
                       timeout=30, cwd=str(tmp_path))
    line = [x for x in r.stdout.splitlines() if x.startswith("oidc:")]
    assert line and "readable by group or others" in line[0], r.stdout
    os.chmod(secret, 0o600)
    r = subprocess.run([jwtd_bin(), "check"], env=base, capture_output=True, text=True,
                       timeout=30, cwd=str(tmp_path))
    line = [x for x in r.stdout.splitlines() if x.startswith("oidc:")]
    assert line == ["oidc: ok (g https://x.example)"], r.stdout

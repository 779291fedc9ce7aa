"""Transport and startup defences (issue 9, part 3), as an operator would meet them:

* production refuses to start without a key, with a short HMAC secret, a placeholder-like
  secret, an RSA key under 2048 bits, or a key file readable by group/others -- each with a
  clear message naming the variable, and never echoing the secret;
* in production (behind https: JWTD_PUBLIC_URL https://) every answer carries
  Strict-Transport-Security and X-Content-Type-Options, token answers Cache-Control: no-store, and the refresh cookie is
  always Secure + HttpOnly; development leaves HSTS off (plain http on localhost).
"""

import os
import subprocess
import tempfile

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from attack import jwtd_bin
from peers import Jwtd, token_env

PROD = {"JWTD_ENVIRONMENT": "production", "JWTD_CORS_ALLOWED_ORIGINS": "https://app.example.com"}
# HSTS goes only on answers known to be https: an https public URL makes every answer so
PROD_HTTPS = dict(PROD, JWTD_PUBLIC_URL="https://auth.example.com")


def serve_fails(env, tmp):
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    base.update({"JWTD_LISTEN": "127.0.0.1:0", "JWTD_DATA_DIR": tmp,
                 "JWTD_DATABASE_URL": "sqlite:%s/jwtd.db" % tmp, "JWTD_LOG_LEVEL": "warn"})
    base.update(env)
    for k in [k for k, v in base.items() if v is None]:
        del base[k]
    p = subprocess.run([jwtd_bin(), "serve"], env=base, capture_output=True, text=True,
                       timeout=60, cwd=tmp)
    assert p.returncode != 0, "jwtd started with %r" % env
    return p.stderr


def test_production_refuses_missing_and_weak_keys():
    with tempfile.TemporaryDirectory() as tmp:
        err = serve_fails(dict(PROD), tmp)
        assert "JWTD_SECRET_KEY" in err or "key" in err.lower(), err
        short = "s" * 20
        err = serve_fails(dict(PROD, JWTD_SECRET_KEY=short), tmp)
        assert "JWTD_SECRET_KEY" in err and short not in err, err
        weak = "changeme" * 5
        err = serve_fails(dict(PROD, JWTD_SECRET_KEY=weak), tmp)
        assert "weak" in err.lower() and weak not in err, err
        # a key file readable by others
        kf = os.path.join(tmp, "secret.key")
        with open(kf, "w") as f:
            f.write("k" * 10 + os.urandom(32).hex())
        os.chmod(kf, 0o644)
        err = serve_fails(dict(PROD, JWTD_SECRET_KEY_FILE=kf), tmp)
        assert "chmod 600" in err or "readable" in err, err
        # RSA 1024
        k = rsa.generate_private_key(65537, 1024)
        pem = os.path.join(tmp, "rsa1024.pem")
        with open(pem, "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        os.chmod(pem, 0o600)
        err = serve_fails(dict(PROD, JWTD_ALGORITHM="RS256", JWTD_SIGNING_KEY_FILE=pem), tmp)
        assert "2048" in err or "weak" in err.lower() or "small" in err.lower(), err


@pytest.fixture(scope="module")
def prod():
    from conftest import JwtdServer
    kdir = tempfile.mkdtemp(prefix="jwtd-sec-prod-")
    kf = os.path.join(kdir, "es256.pem")
    p = subprocess.run([jwtd_bin(), "keygen", "--alg", "ES256", "--out", kf],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    srv = JwtdServer(env=token_env(JWTD_ALGORITHM="ES256", JWTD_SIGNING_KEY_FILE=kf,
                                   JWTD_SECRET_KEY=None, JWTD_TEST_ROUTES=None, **PROD_HTTPS))
    j = Jwtd(srv)
    j.create_user()
    srv.start()
    yield j
    srv.stop()


def test_production_headers_on_every_answer(prod):
    s = requests.Session()
    answers = [s.get(prod.url + "/healthz", timeout=30),
               s.get(prod.url + "/nope", timeout=30),
               s.get(prod.url + "/api/users/me/", timeout=30),
               s.post(prod.url + "/api/token/", json={"username": "testuser",
                                                      "password": "testpass123"}, timeout=30),
               s.post(prod.url + "/api/token/verify/", json={"token": "x"}, timeout=30),
               s.get(prod.url + "/.well-known/jwks.json", timeout=30)]
    for r in answers:
        assert r.headers.get("Strict-Transport-Security", "").startswith("max-age="), r.url
        assert r.headers.get("X-Content-Type-Options") == "nosniff", r.url
    assert "no-store" in answers[3].headers.get("Cache-Control", "")


def test_production_cookie_is_secure(prod):
    r = requests.post(prod.url + "/api/auth/login/", json={"username": "testuser",
                                                           "password": "testpass123"},
                      headers={"Origin": "https://app.example.com"}, timeout=30)
    assert r.status_code == 200, r.text
    cookies = r.headers.get("Set-Cookie", "")
    assert "refresh_token=" in cookies
    attrs = [a.strip().lower() for a in cookies.split(";")]
    assert "secure" in attrs and "httponly" in attrs, cookies
    assert "no-store" in r.headers.get("Cache-Control", "")


def test_development_has_no_hsts(jwtd_server):
    srv = jwtd_server(env=token_env())
    r = requests.get(srv.url + "/healthz", timeout=30)
    assert "Strict-Transport-Security" not in r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff"

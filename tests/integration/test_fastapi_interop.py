"""Interop with Django + SimpleJWT and a FastAPI + PyJWT resource service, asymmetric keys
(issue 6, item 4).

The test fixtures of tests/peers (peers.DjangoPeer: Django 3.2 + SimpleJWT 5.2.2;
peers.FastApiService: FastAPI + PyJWT) are configured the way a project migrating to jwtd
would configure them:
  * SimpleJWT's VERIFYING_KEY (JWT_PUBLIC_KEY_FILE) and FastAPI's public key are jwtd's
    public key: jwtd's RS256 / ES256 access tokens are accepted by Django's
    JWTAuthentication on /api/users/me/ (same user id: the ids are the same on both sides
    after `jwtd import-django`; here testuser is id 1 on both) and by FastAPI's /protected;
  * jwtd trusts Django's public key (JWTD_TRUSTED_JWKS_FILE), so tokens Django still issues
    during the migration work on jwtd too: both run side by side;
  * PyJWT's PyJWKClient, and the FastAPI service pointed at JWKS_URL, verify jwtd's tokens
    from jwtd's /.well-known/jwks.json alone;
  * tampered tokens and tokens from a foreign key are refused everywhere.
A missing Debian package fails the module with its name (peers.require_packages).
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import peers
from peers import TEST_PASSWORD, claims, jwt_parts, tamper_payload, tokens  # noqa: F401

def b64u_int(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(pem_bytes, alg):
    key = serialization.load_pem_public_key(pem_bytes)
    if isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers()
        return {"kty": "RSA", "alg": alg, "use": "sig", "n": b64u_int(n.n), "e": b64u_int(n.e)}
    n = key.public_numbers()
    return {"kty": "EC", "alg": alg, "use": "sig", "crv": "P-256",
            "x": base64.urlsafe_b64encode(n.x.to_bytes(32, "big")).rstrip(b"=").decode(),
            "y": base64.urlsafe_b64encode(n.y.to_bytes(32, "big")).rstrip(b"=").decode()}


def pem_public(private_pem_path, out_path):
    subprocess.run(["openssl", "pkey", "-in", private_pem_path, "-pubout", "-out", out_path],
                   check=True, capture_output=True)
    with open(out_path, "rb") as f:
        return f.read()


class Setup:
    pass


@pytest.fixture(scope="module", params=["RS256", "ES256"])
def setup(request):
    alg = request.param
    s = Setup()
    s.alg = alg
    s.dir = tempfile.mkdtemp(prefix="jwtd-fastapi-interop-")
    # jwtd's signing key and its public PEM (what the migrating project deploys)
    s.jwtd_key = os.path.join(s.dir, "jwtd-key.pem")
    subprocess.run([peers.jwtd_bin(), "keygen", "--alg", alg, "--out", s.jwtd_key],
                   check=True, capture_output=True)
    s.jwtd_pub = os.path.join(s.dir, "jwtd-public.pem")
    pem_public(s.jwtd_key, s.jwtd_pub)
    # Django keeps its own private key; its public key goes into jwtd's trusted JWKS
    env = {"JWT_PUBLIC_KEY_FILE": s.jwtd_pub}
    django_priv = os.path.join(s.dir, "django-private.pem")
    if alg == "ES256":
        k = ec.generate_private_key(ec.SECP256R1())
    else:
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(django_priv, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    env["JWT_PRIVATE_KEY_FILE"] = django_priv
    django_pub = pem_public(django_priv, os.path.join(s.dir, "django-public.pem"))
    s.trusted = os.path.join(s.dir, "trusted-jwks.json")
    with open(s.trusted, "w") as f:
        json.dump({"keys": [public_jwk(django_pub, alg)]}, f)

    s.peer = peers.DjangoPeer(workdir=os.path.join(s.dir, "django"), alg=alg, env=env)
    s.fastapi = peers.FastApiService(os.path.join(s.dir, "fastapi"), alg,
                                     public_key_file=s.jwtd_pub)
    try:
        s.peer.start()
        s.fastapi.start()
        yield s
    finally:
        s.fastapi.stop()
        s.peer.stop()
        shutil.rmtree(s.dir, ignore_errors=True)


@pytest.fixture
def jwtd(tokens, setup):
    return tokens(JWTD_ALGORITHM=setup.alg, JWTD_SIGNING_KEY_FILE=setup.jwtd_key,
                  JWTD_SECRET_KEY=None, JWTD_TRUSTED_JWKS_FILE=setup.trusted)


def fastapi(setup, token):
    return setup.fastapi.get("/protected", token)


def test_jwtd_tokens_accepted_by_django_and_fastapi(jwtd, setup):
    pair = jwtd.login()
    access = pair["access"]
    h, c = jwt_parts(access)
    assert h["alg"] == setup.alg and h.get("kid")
    # Django's JWTAuthentication with VERIFYING_KEY = jwtd's public key
    r = setup.peer.me(access)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == int(c["user_id"]) == 1
    assert r.json()["username"] == "testuser"
    # the FastAPI resource service with jwtd's public key
    r = fastapi(setup, access)
    assert r.status_code == 200, r.text
    assert str(r.json()["user_id"]) == str(c["user_id"])
    assert r.json()["username"] == "testuser"
    # after a rotation too
    new = jwtd.refresh(pair["refresh"]).json()
    assert setup.peer.me(new["access"]).status_code == 200
    assert fastapi(setup, new["access"]).status_code == 200


def test_tampered_and_foreign_tokens_refused(jwtd, setup):
    access = jwtd.login()["access"]
    forged = tamper_payload(access, user_id="2", username="user00001")
    assert setup.peer.me(forged).status_code == 401
    assert fastapi(setup, forged).status_code == 401
    # a token from a key nobody trusts
    other = os.path.join(setup.dir, "other.pem")
    if not os.path.exists(other):
        subprocess.run([peers.jwtd_bin(), "keygen", "--alg", setup.alg, "--out", other],
                       check=True, capture_output=True)
    with open(other, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    foreign = jwt.encode(claims(access), key, algorithm=setup.alg,
                         headers={"kid": jwt_parts(access)[0]["kid"]})
    assert setup.peer.me(foreign).status_code == 401
    assert fastapi(setup, foreign).status_code == 401
    assert jwtd.me(foreign).status_code == 401


def test_django_tokens_accepted_by_jwtd_side_by_side(jwtd, setup, tokens):
    """During the migration Django still issues tokens (its own key); jwtd trusts its
    public key, so a client holding a Django token keeps working against jwtd."""
    d = setup.peer.login()
    h, c = jwt_parts(d["access"])
    assert h["alg"] == setup.alg and c["user_id"] == 1
    r = jwtd.me(d["access"])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == 1 and r.json()["username"] == "testuser"
    # a jwtd that does not trust Django's key refuses it
    plain = tokens(JWTD_ALGORITHM=setup.alg, JWTD_SIGNING_KEY_FILE=setup.jwtd_key,
                   JWTD_SECRET_KEY=None)
    r = plain.me(d["access"])
    assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text


def test_pyjwkclient_against_jwtd_jwks(jwtd, setup):
    access = jwtd.login()["access"]
    client = jwt.PyJWKClient(jwtd.url + "/.well-known/jwks.json")
    key = client.get_signing_key_from_jwt(access)
    payload = jwt.decode(access, key.key, algorithms=[setup.alg])
    assert payload["username"] == "testuser" and payload["token_type"] == "access"
    # the JWKS publishes public keys only
    jwks = requests.get(jwtd.url + "/.well-known/jwks.json", timeout=10).json()
    for k in jwks["keys"]:
        assert "d" not in k and "k" not in k
    # a tampered token fails PyJWT's verification with the published key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tamper_payload(access, username="x"), key.key, algorithms=[setup.alg])


def test_fastapi_service_with_jwtd_jwks(jwtd, setup, tmp_path):
    """The FastAPI service configured with JWKS_URL only (no key file): keys by kid."""
    svc = peers.FastApiService(str(tmp_path / "fastapi-jwks"), setup.alg,
                               jwks_url=jwtd.url + "/.well-known/jwks.json").start()
    try:
        pair = jwtd.login()
        r = svc.get("/protected", pair["access"])
        assert r.status_code == 200, r.text
        assert r.json() == {"message": "Authenticated", "user_id": "1",
                            "username": "testuser", "role": "user"}
        r = svc.get("/admin/dashboard", pair["access"])
        assert r.status_code == 403 and r.json()["code"] == "permission_denied", r.text
        # a refresh token, a tampered token, no header: jwtd's error shapes
        r = svc.get("/protected", pair["refresh"])
        assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
        r = svc.get("/protected", tamper_payload(pair["access"], role="admin"))
        assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
        r = svc.get("/protected")
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated", r.text
        r = svc.get("/protected", auth="Bearer a b")
        assert r.json()["code"] == "bad_authorization_header", r.text
    finally:
        svc.stop()

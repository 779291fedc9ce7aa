"""GET /.well-known/jwks.json and /.well-known/openid-configuration (docs/api.md §9):
with an asymmetric key (ES256, RS256) the published keys verify the issued tokens with
PyJWT and their kid is the RFC 7638 thumbprint; with HS256 no secret is ever published.
Also: the RS256 public key used as an HMAC secret (alg confusion) is rejected, and
configured iss/aud are issued and required."""

import hashlib
import json
import os

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from peers import (SHARED_SECRET, b64u, check_error, hs256_sign, jwt_parts, shared_jwtd,
                   tokens)  # noqa: F401 (fixtures)

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k", "oth")


def write_key(tmp_path, alg):
    if alg.startswith("ES"):
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path = os.path.join(str(tmp_path), "signing-%s.pem" % alg)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path, key


def thumbprint(jwk):
    req = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
           "OKP": ("crv", "kty", "x"), "oct": ("k", "kty")}[jwk["kty"]]
    canon = json.dumps({k: jwk[k] for k in req}, separators=(",", ":"), sort_keys=True)
    return b64u(hashlib.sha256(canon.encode()).digest())


def asym_server(tokens, tmp_path, alg, **env):
    path, key = write_key(tmp_path, alg)
    j = tokens(JWTD_ALGORITHM=alg, JWTD_SIGNING_KEY_FILE=path, JWTD_SECRET_KEY=None, **env)
    return j, key


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_jwks_verifies_issued_tokens(tokens, tmp_path, alg):
    j, key = asym_server(tokens, tmp_path, alg)
    pair = j.login()
    r = j.get("/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Cache-Control"), "JWKS without Cache-Control"
    keys = r.json()["keys"]
    assert keys, r.text
    for k in keys:
        leaked = [m for m in PRIVATE_MEMBERS if m in k]
        assert not leaked, "JWKS publishes private members %s" % leaked
        assert k["kid"] == thumbprint(k), k
    for kind in ("access", "refresh"):
        header, c = jwt_parts(pair[kind])
        assert header["alg"] == alg and header["typ"] == "JWT", header
        (jwk,) = [k for k in keys if k["kid"] == header["kid"]]
        if "alg" in jwk:
            assert jwk["alg"] == alg
        pub = jwt.PyJWK(jwk, algorithm=alg).key
        assert jwt.decode(pair[kind], pub, algorithms=[alg]) == c
    # the published key is the configured one
    (jwk,) = [k for k in keys if k["kid"] == jwt_parts(pair["access"])[0]["kid"]]
    ours = jwt.PyJWK(jwk, algorithm=alg).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert ours == key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # the server accepts its own tokens
    assert j.me(pair["access"]).status_code == 200
    assert j.verify(pair["refresh"]).status_code == 200
    assert j.refresh(pair["refresh"]).status_code == 200


def test_rs256_alg_confusion_rejected(tokens, tmp_path):
    """HS256 signed with the server's PUBLIC key bytes (the classic confusion attack)."""
    j, key = asym_server(tokens, tmp_path, "RS256")
    pair = j.login()
    header, payload = jwt_parts(pair["access"])
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    header["alg"] = "HS256"
    forged = hs256_sign(header, payload, pem)
    check_error(j.verify(forged), 20)
    check_error(j.me(forged), 38, token_presented=True)
    # and an ES256 token on an RS256 key (alg not matching the key type)
    header["alg"] = "ES256"
    check_error(j.verify(hs256_sign(header, payload, pem)), 20)


def test_hs256_jwks_leaks_no_secret(shared_jwtd):
    r = shared_jwtd.get("/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body.get("keys"), list), body
    for k in body["keys"]:
        assert k.get("kty") != "oct" and "k" not in k, "JWKS publishes a secret: %s" % k
    assert SHARED_SECRET not in r.text and b64u(SHARED_SECRET.encode()) not in r.text


def test_openid_configuration(shared_jwtd):
    r = shared_jwtd.get("/.well-known/openid-configuration")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    c = r.json()
    assert isinstance(c["issuer"], str) and c["issuer"], c
    assert c["jwks_uri"].endswith("/.well-known/jwks.json"), c
    assert isinstance(c["token_endpoint"], str) and c["token_endpoint"], c


def test_issuer_and_audience(tokens, tmp_path):
    iss, aud = "https://auth.example.test", "jwtd-tests"
    j, key = asym_server(tokens, tmp_path, "ES256", JWTD_ISSUER=iss, JWTD_AUDIENCE=aud)
    pair = j.login()
    c = jwt_parts(pair["access"])[1]
    assert c["iss"] == iss and (c["aud"] == aud or c["aud"] == [aud]), c
    conf = j.get("/.well-known/openid-configuration").json()
    assert conf["issuer"] == iss, conf
    assert conf["jwks_uri"] == iss + "/.well-known/jwks.json", conf
    jwks = j.get("/.well-known/jwks.json").json()["keys"]
    pub = jwt.PyJWK(jwks[0], algorithm="ES256").key
    jwt.decode(pair["access"], pub, algorithms=["ES256"], issuer=iss, audience=aud)
    # a token without the configured issuer, signed with the right key, is rejected
    header, payload = jwt_parts(pair["access"])
    payload["iss"] = "https://evil.example.test"
    forged = jwt.encode(payload, key, algorithm="ES256", headers={"kid": header["kid"]})
    check_error(j.verify(forged), 20)
    payload["iss"] = iss
    payload["aud"] = "someone-else"
    forged = jwt.encode(payload, key, algorithm="ES256", headers={"kid": header["kid"]})
    check_error(j.verify(forged), 20)
    # the same claims, correctly re-signed, pass (the forgery check above can fail)
    payload["aud"] = c["aud"]
    good = jwt.encode(payload, key, algorithm="ES256", headers={"kid": header["kid"]})
    assert j.verify(good).status_code == 200

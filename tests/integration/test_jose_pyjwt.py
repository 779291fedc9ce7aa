"""PyJWT interop for every algorithm (tests/integration, run by `make test`).

For each of HS256/384/512, RS256/384/512, PS256/384/512, ES256/384 and EdDSA, with a key
made by `jwtd keygen`:
  - a token signed by jwtd (`jwtd token sign`) verifies in PyJWT (Debian python3-jwt 2.6),
    and PyJWT rejects it once tampered;
  - a token signed by PyJWT with the same key verifies in jwtd (`jwtd token verify`, exit 0
    and the claims on stdout), and jwtd rejects it once tampered (exit 1).
Plus: the public key PyJWT uses comes from `jwtd jwks` (asymmetric algorithms), the kid in
jwtd's header is the RFC 7638 thumbprint PyJWT computes, and a kid-less PyJWT token is
refused by jwtd.
"""

import base64
import json
import os
import secrets
import subprocess
import tempfile
import time

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization

from conftest import jwtd_bin

ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "EdDSA"]


def run(args, env, stdin=None):
    return subprocess.run([jwtd_bin()] + args, env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def tamper(token):
    """Flips one character in the middle of the signature (keeping base64url canonical)."""
    h, p, s = token.split(".")
    i = len(s) // 2
    c = "A" if s[i] != "A" else "B"
    return "%s.%s.%s" % (h, p, s[:i] + c + s[i + 1:])


@pytest.fixture(scope="module", params=ALGS)
def keyed(request):
    alg = request.param
    tmp = tempfile.mkdtemp(prefix="jwtd-jose-")
    key_path = os.path.join(tmp, "key")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    env.update({"JWTD_ALGORITHM": alg, "JWTD_DATA_DIR": tmp, "JWTD_LOG_LEVEL": "error",
                "JWTD_ENVIRONMENT": "production"})
    r = run(["keygen", "--alg", alg, "--out", key_path], env)
    assert r.returncode == 0, r.stderr
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    if alg.startswith("HS"):
        env["JWTD_SECRET_KEY_FILE"] = key_path
        with open(key_path, "rb") as f:
            secret = f.read().rstrip(b"\n")
        sign_key = verify_key = secret
        kid = b64(hashes_sha256(json.dumps({"k": b64(secret), "kty": "oct"},
                                           separators=(",", ":")).encode()))
    else:
        env["JWTD_SIGNING_KEY_FILE"] = key_path
        with open(key_path, "rb") as f:
            sign_key = serialization.load_pem_private_key(f.read(), None)
        r = run(["jwks"], env)
        assert r.returncode == 0, r.stderr
        jwks = json.loads(r.stdout)
        assert len(jwks["keys"]) == 1
        jwk = jwks["keys"][0]
        assert jwk["alg"] == alg and jwk["use"] == "sig"
        assert "d" not in jwk and "p" not in jwk
        verify_key = jwt.PyJWK(jwk, alg).key
        kid = jwk["kid"]
        # the kid is the RFC 7638 thumbprint, as PyJWT/cryptography compute it
        members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
                   "OKP": ("crv", "kty", "x")}[jwk["kty"]]
        canon = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
        assert kid == b64(hashes_sha256(canon.encode()))
    yield alg, env, sign_key, verify_key, kid
    subprocess.run(["rm", "-rf", tmp])


def hashes_sha256(data):
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


def claims(now=None):
    now = now or int(time.time())
    return {"token_type": "access", "exp": now + 600, "iat": now, "jti": secrets.token_hex(16),
            "user_id": "5", "sub": "5", "sid": secrets.token_hex(16), "username": "zoë",
            "email": "zoe@example.com", "role": "user", "premium": True}


def test_jwtd_token_verifies_in_pyjwt(keyed):
    alg, env, _, verify_key, kid = keyed
    c = claims()
    r = run(["token", "sign", "--claims", json.dumps(c)], env)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    header = jwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "JWT", "kid": kid}
    assert jwt.decode(token, verify_key, algorithms=[alg]) == c
    with pytest.raises((jwt.InvalidSignatureError, jwt.DecodeError)):
        jwt.decode(tamper(token), verify_key, algorithms=[alg])
    # and jwtd itself agrees on both
    assert run(["token", "verify", token], env).returncode == 0
    bad = run(["token", "verify", tamper(token)], env)
    assert bad.returncode == 1 and "invalid token" in bad.stderr


def test_pyjwt_token_verifies_in_jwtd(keyed):
    alg, env, sign_key, _, kid = keyed
    c = claims()
    token = jwt.encode(c, sign_key, algorithm=alg, headers={"kid": kid})
    r = run(["token", "verify", token], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == c
    # from stdin too
    r = run(["token", "verify", "-"], env, stdin=token + "\n")
    assert r.returncode == 0, r.stderr
    bad = run(["token", "verify", tamper(token)], env)
    assert bad.returncode == 1
    assert "signature verification failed" in bad.stderr
    # a token of another type when one is required
    r = run(["token", "verify", "--type", "refresh", token], env)
    assert r.returncode == 1 and "wrong token type" in r.stderr


def test_pyjwt_token_without_kid_is_refused(keyed):
    alg, env, sign_key, _, _ = keyed
    token = jwt.encode(claims(), sign_key, algorithm=alg)
    r = run(["token", "verify", token], env)
    assert r.returncode == 1 and "no key matches" in r.stderr


def test_pyjwt_expired_token_is_refused(keyed):
    alg, env, sign_key, _, kid = keyed
    c = claims(int(time.time()) - 3600)
    token = jwt.encode(c, sign_key, algorithm=alg, headers={"kid": kid})
    r = run(["token", "verify", token], env)
    assert r.returncode == 1 and "expired" in r.stderr


def test_inspect_is_labelled_unverified(keyed):
    alg, env, sign_key, _, kid = keyed
    c = claims()
    token = jwt.encode(c, sign_key, algorithm=alg, headers={"kid": kid})
    r = run(["token", "inspect", tamper(token)], env)
    assert r.returncode == 0
    assert "UNVERIFIED" in r.stderr
    out = json.loads(r.stdout)
    assert out["claims"] == c and out["header"]["kid"] == kid

"""The key and token commands (src/cli/keys.c, src/auth/keys.c) against the real binary:
`jwtd keygen` (mode 0600, refuses to overwrite without --force, every algorithm's key loads
back), `jwtd jwks` (public keys only; empty for HMAC), `jwtd token inspect|verify|sign`
error paths, and the key-loading rules of auth_keys_load (production refusals, the
development secret generated once with mode 0600, rotation lists, trusted JWKS).
"""

import json
import os
import stat
import subprocess
import tempfile

import pytest

from conftest import jwtd_bin, ROOT


def run(args, env, stdin=None):
    return subprocess.run([jwtd_bin()] + args, env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="jwtd-jose-cli-")
    yield d
    subprocess.run(["rm", "-rf", d])


def base_env(tmp, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    env.update({"JWTD_DATA_DIR": tmp, "JWTD_LOG_LEVEL": "error"})
    env.update(kw)
    return env


CLAIMS = json.dumps({"token_type": "access", "exp": 4102444800, "iat": 1700000000,
                     "jti": "0123456789abcdef0123456789abcdef", "user_id": "1"})


def test_keygen_refuses_overwrite_and_forces(tmp):
    env = base_env(tmp)
    out = os.path.join(tmp, "k.pem")
    assert run(["keygen", "--alg", "EdDSA", "--out", out], env).returncode == 0
    first = open(out).read()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert first.startswith("-----BEGIN PRIVATE KEY-----")
    r = run(["keygen", "--alg", "EdDSA", "--out", out], env)
    assert r.returncode == 1 and "--force" in r.stderr
    assert open(out).read() == first
    assert run(["keygen", "--alg", "EdDSA", "--out", out, "--force"], env).returncode == 0
    assert open(out).read() != first
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_keygen_usage_errors(tmp):
    env = base_env(tmp)
    assert run(["keygen", "--alg", "ES512", "--out", os.path.join(tmp, "x")], env).returncode == 2
    assert run(["keygen", "--alg", "none", "--out", os.path.join(tmp, "x")], env).returncode == 2
    assert run(["keygen", "--out", os.path.join(tmp, "x")], env).returncode == 2
    assert run(["keygen", "--alg", "RS256", "--bits", "1024", "--out",
                os.path.join(tmp, "x")], env).returncode == 2
    assert not os.path.exists(os.path.join(tmp, "x"))


@pytest.mark.parametrize("alg", ["RS256", "PS512", "ES256", "ES384", "EdDSA", "HS512"])
def test_keygen_key_loads_and_signs(tmp, alg):
    out = os.path.join(tmp, "key")
    env = base_env(tmp, JWTD_ENVIRONMENT="production", JWTD_ALGORITHM=alg)
    assert run(["keygen", "--alg", alg, "--out", out], env).returncode == 0
    env["JWTD_SECRET_KEY_FILE" if alg.startswith("HS") else "JWTD_SIGNING_KEY_FILE"] = out
    r = run(["token", "sign", "--claims", CLAIMS], env)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    r = run(["token", "verify", token], env)
    assert r.returncode == 0, r.stderr
    jwks = json.loads(run(["jwks"], env).stdout)
    if alg.startswith("HS"):
        assert jwks == {"keys": []}  # secrets are never published
    else:
        assert [k["alg"] for k in jwks["keys"]] == [alg]
        header = json.loads(run(["token", "inspect", token], env).stdout)["header"]
        assert header["kid"] == jwks["keys"][0]["kid"]


def test_production_refusals(tmp):
    env = base_env(tmp, JWTD_ENVIRONMENT="production", JWTD_ALGORITHM="HS256")
    r = run(["jwks"], env)
    assert r.returncode == 1 and "no signing key" in r.stderr
    key = os.path.join(tmp, "s.key")
    assert run(["keygen", "--alg", "HS256", "--out", key], env).returncode == 0
    os.chmod(key, 0o640)
    env["JWTD_SECRET_KEY_FILE"] = key
    r = run(["jwks"], env)
    assert r.returncode == 1 and "chmod 600" in r.stderr
    os.chmod(key, 0o600)
    assert run(["jwks"], env).returncode == 0
    del env["JWTD_SECRET_KEY_FILE"]
    env["JWTD_SECRET_KEY"] = "x" * 40
    r = run(["jwks"], env)
    assert r.returncode == 1 and "weak" in r.stderr
    env["JWTD_SECRET_KEY"] = "too-Short-1234"
    r = run(["jwks"], env)
    assert r.returncode == 1
    env = base_env(tmp, JWTD_ENVIRONMENT="production", JWTD_ALGORITHM="ES256",
                   JWTD_SIGNING_KEY_FILE=os.path.join(ROOT, "tests/vectors/keys/rsa2048.pem"))
    r = run(["jwks"], env)
    assert r.returncode == 1  # wrong key type (and a 0644 file)


def test_development_secret_generated_once(tmp):
    env = base_env(tmp, JWTD_ENVIRONMENT="development", JWTD_ALGORITHM="HS256")
    r1 = run(["token", "sign", "--claims", CLAIMS], env)
    assert r1.returncode == 0, r1.stderr
    path = os.path.join(tmp, "secret.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = open(path).read()
    r2 = run(["token", "sign", "--claims", CLAIMS], env)
    assert open(path).read() == secret
    assert r1.stdout == r2.stdout  # same key, same claims: same HMAC token
    assert run(["token", "verify", r1.stdout.strip()], env).returncode == 0


def test_rotation_next_and_retired_keys(tmp):
    env = base_env(tmp, JWTD_ENVIRONMENT="production", JWTD_ALGORITHM="ES256")
    old, cur, nxt = (os.path.join(tmp, n) for n in ("old.pem", "cur.pem", "next.pem"))
    for p in (old, cur, nxt):
        assert run(["keygen", "--alg", "ES256", "--out", p], env).returncode == 0
    # a token signed while "old" was active
    env["JWTD_SIGNING_KEY_FILE"] = old
    old_token = run(["token", "sign", "--claims", CLAIMS], env).stdout.strip()
    # rotate: cur active, next pre-published, old retired
    env["JWTD_SIGNING_KEY_FILE"] = "%s,next=%s,%s" % (cur, nxt, old)
    jwks = json.loads(run(["jwks"], env).stdout)
    assert len(jwks["keys"]) == 3
    assert run(["token", "verify", old_token], env).returncode == 0
    new_token = run(["token", "sign", "--claims", CLAIMS], env).stdout.strip()
    assert json.loads(run(["token", "inspect", new_token], env).stdout)["header"]["kid"] == \
        jwks["keys"][0]["kid"]
    # once "old" is dropped, its tokens are refused
    env["JWTD_SIGNING_KEY_FILE"] = "%s,next=%s" % (cur, nxt)
    r = run(["token", "verify", old_token], env)
    assert r.returncode == 1 and "no key matches" in r.stderr


def test_trusted_jwks_for_a_kidless_hmac_issuer(tmp):
    # a Django SimpleJWT issuer: HS256, no kid, shared secret given as an oct JWK
    env = base_env(tmp, JWTD_ENVIRONMENT="development", JWTD_ALGORITHM="ES256",
                   JWTD_TRUSTED_JWKS_FILE=os.path.join(ROOT, "tests/vectors/keys/nokid.jwks"))
    import jwt
    secret_b64 = json.load(open(os.path.join(ROOT, "tests/vectors/keys/nokid.jwks")))["keys"][0]["k"]
    import base64
    secret = base64.urlsafe_b64decode(secret_b64 + "=" * (-len(secret_b64) % 4))
    token = jwt.encode(json.loads(CLAIMS), secret, algorithm="HS256")
    r = run(["token", "verify", token], env)
    assert r.returncode == 0, r.stderr
    jwks = json.loads(run(["jwks"], env).stdout)
    assert all(k["kty"] != "oct" for k in jwks["keys"])  # trusted keys are not published


def test_token_command_errors(tmp):
    env = base_env(tmp, JWTD_ALGORITHM="HS256")
    r = run(["token", "inspect", "not-a-token"], env)
    assert r.returncode == 1 and "malformed" in r.stderr
    r = run(["token", "verify", "a.b.c"], env)
    assert r.returncode == 1 and "invalid token" in r.stderr
    r = run(["token", "sign", "--claims", "[1,2]"], env)
    assert r.returncode == 1 and "JSON object" in r.stderr
    assert run(["token", "frobnicate"], env).returncode == 2
    assert run(["token", "verify"], env).returncode == 2


def test_keygen_creates_no_database(tmp):
    """keygen needs no database: run with the default configuration in a fresh working
    directory, it writes the key file and nothing else (no var/jwtd.db there, nothing in the
    data directory); with an existing database its audit row goes there too."""
    cwd = os.path.join(tmp, "work")
    data = os.path.join(tmp, "data")
    os.mkdir(cwd)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    env.update({"JWTD_LOG_LEVEL": "error", "JWTD_DATA_DIR": data})
    r = subprocess.run([jwtd_bin(), "keygen", "--alg", "ES256", "--out", "k.pem"], env=env,
                       cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(cwd)) == ["k.pem"]
    assert not os.path.exists(data)
    db = os.path.join(tmp, "existing.db")
    env["JWTD_DATABASE_URL"] = "sqlite:" + db
    assert run(["migrate"], env).returncode == 0
    r = subprocess.run([jwtd_bin(), "keygen", "--alg", "ES256", "--out", "k2.pem"], env=env,
                       cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    a = run(["audit", "--event", "key_generated", "--json"], env)
    assert a.returncode == 0 and "k2.pem" in a.stdout, a.stdout + a.stderr

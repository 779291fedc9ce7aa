"""Header attacks on every signing algorithm: `alg` none and its spellings, HS/RS and
HS/ES/HS-EdDSA key confusion with the public key as PEM, DER and JWK, `kid` injection
(traversal, SQL-ish, huge, NUL, wrong type), key-carrying headers (`jku`, `x5u`, `jwk`,
`x5c`) -- with a live HTTP listener proving jwtd never fetches them -- and `crit`.

Each module-scoped server signs with a key made by `jwtd keygen`; every test first shows
that an honestly forged token is accepted, then that each attack is refused (401
token_not_valid on /api/users/me/ and /api/token/verify/), and ends with the server
healthy and its data intact."""

import http.server
import json
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from attack import b64u, jdump

ASYM = ["RS256", "PS256", "ES256", "ES384", "EdDSA"]
ALL = ["HS256"] + ASYM


@pytest.fixture(scope="module", params=ALL)
def target(request, targets):
    return targets(request.param)


def test_honest_forgery_is_accepted(target):
    # The suite's own signing is right: without this the rejections below prove nothing.
    target.assert_accepted(target.forge())
    target.assert_accepted(target.forge(jti="a" * 32))


NONE_SPELLINGS = ["none", "None", "NONE", "nOnE", "none ", " none", "none\u0000", "non\u0065"]


def test_alg_none_and_spellings(target):
    for alg in NONE_SPELLINGS:
        for with_kid in (True, False):
            h = {"alg": alg, "typ": "JWT"}
            if with_kid:
                h["kid"] = target.kid
            for sig in (b"", target.raw_sign(b"x")):
                tok = target.forge(header=h, sig=sig)
                if sig == b"":
                    tok = tok.rstrip(".") + "."
                target.assert_rejected(tok, "alg=%r kid=%s sig=%d" % (alg, with_kid, len(sig)))
    # alg missing, empty, null, a list, a number, an unknown name, a lower-case real name
    for h in ({"typ": "JWT", "kid": target.kid}, {"alg": "", "kid": target.kid},
              {"alg": None, "kid": target.kid}, {"alg": [target.alg], "kid": target.kid},
              {"alg": 256, "kid": target.kid}, {"alg": "HS1", "kid": target.kid},
              {"alg": target.alg.lower(), "kid": target.kid},
              {"alg": target.alg + " ", "kid": target.kid}):
        target.assert_rejected(target.forge(header=h), "header %r" % h)
    target.check_healthy()


def _public_forms(target):
    """The public key as an attacker finds it: PEM (SPKI, PKCS#1 for RSA), DER, the JWK
    jwtd publishes (as served, compact, sorted), raw key bytes."""
    pub = target.public_key()
    forms = {
        "pem": pub.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": pub.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo),
    }
    forms["pem-no-newline"] = forms["pem"].rstrip(b"\n")
    if isinstance(pub, rsa.RSAPublicKey):
        forms["pkcs1-pem"] = pub.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.PKCS1)
        forms["pkcs1-der"] = pub.public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.PKCS1)
        n = pub.public_numbers().n
        forms["n"] = n.to_bytes((n.bit_length() + 7) // 8, "big")
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        forms["point"] = pub.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    elif isinstance(pub, ed25519.Ed25519PublicKey):
        forms["raw"] = pub.public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    r = target.http.get(target.url + "/.well-known/jwks.json", timeout=30)
    assert r.status_code == 200
    keys = [k for k in r.json()["keys"] if k.get("kid") == target.kid]
    assert keys, "the signing key is not in the JWKS"
    jwk = keys[0]
    forms["jwk-compact"] = jdump(jwk)
    forms["jwk-sorted"] = json.dumps(jwk, sort_keys=True).encode()
    forms["jwks-as-served"] = r.content
    return forms


@pytest.mark.parametrize("alg", ASYM)
def test_hmac_key_confusion_with_public_key(targets, alg):
    t = targets(alg)
    t.assert_accepted(t.forge())
    forms = _public_forms(t)
    for name, keybytes in forms.items():
        for hs in ("HS256", "HS384", "HS512"):
            for with_kid in (True, False):
                h = {"alg": hs, "typ": "JWT"}
                if with_kid:
                    h["kid"] = t.kid
                import hmac
                import hashlib
                hp = "%s.%s" % (b64u(jdump(h)), b64u(jdump(t.claims)))
                dig = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                       "HS512": hashlib.sha512}[hs]
                sig = hmac.new(keybytes, hp.encode(), dig).digest()
                tok = "%s.%s" % (hp, b64u(sig))
                t.assert_rejected(tok, "%s keyed with the %s public key (%s, kid=%s)" % (
                    hs, alg, name, with_kid))
    # the other direction: an asymmetric alg name over the real key's kid with a foreign
    # algorithm's signature (e.g. ES256 over an RSA key's kid)
    for other in ("RS256", "PS256", "ES256", "ES384", "EdDSA"):
        if other == alg:
            continue
        tok = t.forge(header={"alg": other, "typ": "JWT", "kid": t.kid})
        t.assert_rejected(tok, "alg %s over a %s key's kid" % (other, alg))
    t.check_healthy()


def test_hs_key_confusion_on_hmac_server(targets):
    # an HMAC server: asymmetric alg names over the HMAC kid, signed with the secret
    t = targets("HS256")
    for other in ("RS256", "PS256", "ES256", "EdDSA", "HS384", "HS512"):
        tok = t.forge(header={"alg": other, "typ": "JWT", "kid": t.kid})
        t.assert_rejected(tok, "alg %s over the HS256 kid" % other)
    t.check_healthy()


KID_INJECTIONS = [
    "../../../../../../dev/null", "/dev/null", "..%2f..%2fetc%2fpasswd", "file:///etc/passwd",
    "' OR '1'='1", "x' UNION SELECT 'secret' --", "\"; DROP TABLE users; --",
    "%s\u0000" % "KID", "\u0000", "*", "$(id)", "`id`", "\n", "A" * 200, "A" * 5000,
]


def test_kid_injection(target):
    for kid in KID_INJECTIONS + [target.kid + "\u0000", target.kid + "/../" + target.kid,
                                 target.kid.upper(), target.kid + " "]:
        if kid == target.kid:
            continue
        tok = target.forge(header={"alg": target.alg, "typ": "JWT", "kid": kid})
        target.assert_rejected(tok, "kid %r" % kid[:40], statuses=(401, 413, 431))
    for kid in (123, None, [target.kid], {"kid": target.kid}, True):
        tok = target.forge(header={"alg": target.alg, "typ": "JWT", "kid": kid})
        target.assert_rejected(tok, "kid of type %s" % type(kid).__name__)
    # huge kid: far past any limit (header bytes, then the HTTP header limit)
    for n in (20000, 200000):
        tok = target.forge(header={"alg": target.alg, "typ": "JWT", "kid": "K" * n})
        target.assert_rejected(tok, "kid of %d bytes" % n, statuses=(401, 413, 431))
    target.check_healthy()


class _Trap(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):  # noqa: N802
        _Trap.hits.append(self.path)
        body = b'{"keys":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def trap():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def _attacker_key(alg):
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(65537, 2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


def _attacker_jwk(key):
    import jwt.algorithms as ja
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        return json.loads(ja.RSAAlgorithm.to_jwk(pub))
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return json.loads(ja.ECAlgorithm.to_jwk(pub))
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}


def test_key_carrying_headers_are_refused_and_never_fetched(target, trap):
    import time
    _Trap.hits.clear()
    alg = target.alg
    if alg.startswith("HS"):
        alg = "ES256"  # an attacker on an HMAC server brings an asymmetric key
    akey = _attacker_key(alg)
    ajwk = _attacker_jwk(akey)
    forger = type(target).__new__(type(target))
    forger.__dict__.update(target.__dict__)
    forger.priv, forger.alg = akey, alg
    cert_b64 = b64u(b"\x30\x82not-a-cert")
    headers = [
        {"alg": alg, "jku": trap + "/jwks.json"},
        {"alg": alg, "jku": trap + "/jwks.json", "kid": target.kid},
        {"alg": alg, "x5u": trap + "/cert.pem"},
        {"alg": alg, "x5u": trap + "/cert.pem", "kid": target.kid},
        {"alg": alg, "jwk": ajwk},
        {"alg": alg, "jwk": ajwk, "kid": target.kid},
        {"alg": alg, "jwk": dict(ajwk, kid=target.kid), "kid": target.kid},
        {"alg": alg, "x5c": [cert_b64]},
        {"alg": alg, "x5c": [cert_b64], "kid": target.kid},
    ]
    for h in headers:
        h["typ"] = "JWT"
        target.assert_rejected(forger.forge(header=h), "attacker-signed %s" % sorted(h))
    # the REAL key's signature with a jku/x5u/jwk/x5c member: refused too (jwtd never takes
    # keys from a token, and says so instead of silently ignoring the member)
    for extra in ({"jku": trap + "/real"}, {"x5u": trap + "/real"}, {"jwk": ajwk},
                  {"x5c": [cert_b64]}):
        h = dict(target.header, **extra)
        target.assert_rejected(target.forge(header=h), "real signature with %s" % list(extra))
    time.sleep(0.5)
    assert _Trap.hits == [], "jwtd fetched a URL from a token header: %r" % _Trap.hits
    target.check_healthy()


def test_crit(target):
    for crit in (["exp"], ["x-custom"], [], "exp", None, ["b64"], [target.kid]):
        h = dict(target.header, crit=crit)
        if crit == ["x-custom"]:
            h["x-custom"] = True
        target.assert_rejected(target.forge(header=h), "crit %r" % (crit,))
    target.check_healthy()


def test_header_type_and_shape(target):
    # header not an object; typ/cty oddities are harmless but a JWE/nested JWT is not a JWS
    for raw in (b"[]", b'"x"', b"null", b"1", b"", b"{", b"{}",
                jdump({"alg": target.alg, "kid": target.kid, "enc": "A256GCM"})[:-1] + b","):
        target.assert_rejected(target.forge(header=raw), "header bytes %r" % raw[:40])
    target.check_healthy()

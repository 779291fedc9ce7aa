"""softauthn.py - a software WebAuthn authenticator for jwtd's tests.

Builds what a browser and an authenticator send to a relying party: clientDataJSON,
attestation objects ("none", "packed" self and "packed" x5c) and assertions, with ES256,
RS256 and EdDSA credentials, using Python's cryptography for keys, signatures and
certificates and a small CBOR encoder (canonical, definite lengths) of its own. Used by
gen_vectors.py (the unit-test fixtures) and by the integration tests.
"""
import base64
import datetime
import hashlib
import json
import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

ES256, EDDSA, RS256 = -7, -8, -257
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ---- CBOR -------------------------------------------------------------------------------------

def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    return bytes([major << 5 | 27]) + struct.pack(">Q", n)


def cbor(v):
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(type(v))


# ---- keys -------------------------------------------------------------------------------------

def new_key(alg):
    if alg == ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    if alg == RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(alg)


def cose_key(key, alg):
    pub = key.public_key()
    if alg == ES256:
        n = pub.public_numbers()
        return cbor({1: 2, 3: ES256, -1: 1, -2: n.x.to_bytes(32, "big"),
                     -3: n.y.to_bytes(32, "big")})
    if alg == EDDSA:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cbor({1: 1, 3: EDDSA, -1: 6, -2: raw})
    n = pub.public_numbers()
    return cbor({1: 3, 3: RS256, -1: n.n.to_bytes((n.n.bit_length() + 7) // 8, "big"),
                 -2: n.e.to_bytes(3, "big")})


def sign(key, alg, msg):
    if alg == ES256:
        return key.sign(msg, ec.ECDSA(hashes.SHA256()))
    if alg == EDDSA:
        return key.sign(msg)
    return key.sign(msg, padding.PKCS1v15(), hashes.SHA256())


# ---- attestation certificates -----------------------------------------------------------------

def attestation_chain(aaguid, ou="Authenticator Attestation", ca=False, aaguid_ext=True,
                      critical=False):
    """A root CA and a packed attestation certificate it signed: (leaf key, [leaf, root] DER)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    t0 = datetime.datetime(2020, 1, 1)
    t1 = datetime.datetime(2099, 1, 1)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwtd test attestation root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(1)
            .not_valid_before(t0).not_valid_after(t1)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jwtd tests"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, "jwtd soft authenticator"),
    ])
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(root_name)
         .public_key(leaf_key.public_key()).serial_number(2)
         .not_valid_before(t0).not_valid_after(t1)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if aaguid_ext:
        der = b"\x04\x10" + aaguid
        b = b.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), der), critical=critical)
    leaf = b.sign(root_key, hashes.SHA256())
    return leaf_key, [leaf.public_bytes(serialization.Encoding.DER),
                      root.public_bytes(serialization.Encoding.DER)]


# ---- ceremonies -------------------------------------------------------------------------------

def client_data(typ, challenge, origin, cross_origin=None, extra=None):
    d = {"type": typ, "challenge": b64u(challenge), "origin": origin}
    if cross_origin is not None:
        d["crossOrigin"] = cross_origin
    if extra:
        d.update(extra)
    return json.dumps(d, separators=(",", ":")).encode()


def auth_data(rp_id, flags, count, attested=None, extensions=None):
    ad = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count)
    if attested:
        aaguid, cred_id, cose = attested
        ad += aaguid + struct.pack(">H", len(cred_id)) + cred_id + cose
    if extensions is not None:
        ad += cbor(extensions)
    return ad


class Credential:
    def __init__(self, alg=ES256, rp_id="localhost", user_handle=b"", cred_id=None,
                 aaguid=bytes(16)):
        self.alg = alg
        self.key = new_key(alg)
        self.rp_id = rp_id
        self.id = cred_id if cred_id is not None else os.urandom(16)
        self.user_handle = user_handle
        self.aaguid = aaguid
        self.count = 0

    def cose(self):
        return cose_key(self.key, self.alg)

    def register(self, challenge, origin, fmt="none", flags=UP | UV | AT, cdj=None,
                 rp_id=None, count=0, chain=None):
        """(clientDataJSON, attestationObject) of a registration."""
        cdj = cdj if cdj is not None else client_data("webauthn.create", challenge, origin)
        ad = auth_data(rp_id or self.rp_id, flags, count, (self.aaguid, self.id, self.cose()),
                       {"credProtect": 2} if flags & ED else None)
        cdh = hashlib.sha256(cdj).digest()
        if fmt == "none":
            stmt = {}
        elif fmt == "packed":
            stmt = {"alg": self.alg, "sig": sign(self.key, self.alg, ad + cdh)}
        elif fmt == "packed-x5c":
            leaf_key, certs = chain or attestation_chain(self.aaguid)
            stmt = {"alg": ES256, "sig": sign(leaf_key, ES256, ad + cdh), "x5c": certs}
            fmt = "packed"
        else:
            raise ValueError(fmt)
        return cdj, cbor({"fmt": fmt, "attStmt": stmt, "authData": ad})

    def assert_(self, challenge, origin, flags=UP | UV, count=None, cdj=None, rp_id=None):
        """(clientDataJSON, authenticatorData, signature) of an assertion."""
        if count is None:
            self.count += 1
            count = self.count
        cdj = cdj if cdj is not None else client_data("webauthn.get", challenge, origin)
        ad = auth_data(rp_id or self.rp_id, flags, count)
        return cdj, ad, sign(self.key, self.alg, ad + hashlib.sha256(cdj).digest())

    # the JSON forms of WebAuthn Level 3 (RegistrationResponseJSON, AuthenticationResponseJSON)
    def registration_json(self, challenge, origin, **kw):
        cdj, att = self.register(challenge, origin, **kw)
        return {"id": b64u(self.id), "rawId": b64u(self.id), "type": "public-key",
                "response": {"clientDataJSON": b64u(cdj), "attestationObject": b64u(att),
                             "transports": ["internal"]},
                "clientExtensionResults": {}, "authenticatorAttachment": "platform"}

    def assertion_json(self, challenge, origin, **kw):
        cdj, ad, sig = self.assert_(challenge, origin, **kw)
        resp = {"clientDataJSON": b64u(cdj), "authenticatorData": b64u(ad),
                "signature": b64u(sig)}
        if self.user_handle:
            resp["userHandle"] = b64u(self.user_handle)
        return {"id": b64u(self.id), "rawId": b64u(self.id), "type": "public-key",
                "response": resp, "clientExtensionResults": {},
                "authenticatorAttachment": "platform"}

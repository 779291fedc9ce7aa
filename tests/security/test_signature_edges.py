"""Signature edge cases for every algorithm, with the server's real key:

* ECDSA (ES256, ES384): r or s = 0, r or s = n (and n+1 where it fits), all-zero, the
  DER encoding instead of the raw r||s form (a valid signature, wrong format), wrong
  lengths (one byte short/long, zero-padded), high-s twin of a valid signature;
* RSA (RS256, PS256): the integers 0, 1, n-1, n, n+1 as signatures, wrong lengths (valid
  signature with a byte cut or a 0x00 prepended), a PKCS#1 v1.5 signature over a foreign
  DigestInfo (SHA-1, SHA-512 for RS256), Bleichenbacher-2006 style garbage after the hash,
  RS256 signature presented as PS256 and vice versa;
* Ed25519: non-canonical S (S + L), small-order R (identity, order-2 and order-4 points)
  with S = 0, the all-zero signature;
* HMAC: truncated, extended, empty, wrong hash size.
Each case must be refused; the honest signature must be accepted."""

import hashlib

import pytest

from attack import b64u

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_N = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
             "581A0DB248B0A77AECEC196ACCC52973", 16)
ED_L = 2 ** 252 + 27742317777372353535851937790883648493


def _with_sig(target, sig, header=None):
    tok = target.forge(header=header)
    return tok.rsplit(".", 1)[0] + "." + b64u(sig)


@pytest.mark.parametrize("alg,n", [("ES256", P256_N), ("ES384", P384_N)])
def test_ecdsa_edges(targets, alg, n):
    t = targets(alg)
    size = 32 if alg == "ES256" else 48
    tok = t.forge()
    t.assert_accepted(tok)
    msg = t.signing_input_of(tok)
    good = t.raw_sign(msg)
    r = int.from_bytes(good[:size], "big")
    s = int.from_bytes(good[size:], "big")

    def enc(a, b):
        return a.to_bytes(size, "big") + b.to_bytes(size, "big")

    cases = {"r=0": enc(0, s), "s=0": enc(r, 0), "r=s=0": enc(0, 0), "r=n": enc(n, s),
             "s=n": enc(r, n), "r=n,s=n": enc(n, n), "s=n+1": enc(r, n + 1) if n + 1 < 2 ** (8 * size) else enc(r, n),
             "r=1,s=1": enc(1, 1), "r=n-1,s=n-1": enc(n - 1, n - 1)}
    if r + n < 2 ** (8 * size):
        cases["r+n"] = enc(r + n, s)
    if s + n < 2 ** (8 * size):
        cases["s+n"] = enc(r, s + n)
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    cases["der"] = encode_dss_signature(r, s)
    cases["short"] = good[:-1]
    cases["long"] = good + b"\x00"
    cases["zero-padded"] = b"\x00" + good
    cases["half"] = good[:size]
    cases["doubled"] = good + good
    cases["empty-ish"] = b"\x00"
    for name, sig in cases.items():
        t.assert_rejected(_with_sig(t, sig), "%s %s" % (alg, name))
    t.check_healthy()


def _rsa_k(t):
    n = t.public_key().public_numbers().n
    return n, (n.bit_length() + 7) // 8


DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _raw_rsa_sign(t, em):
    d = t.priv.private_numbers().d
    n, k = _rsa_k(t)
    return pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")


def _pkcs1_em(k, digest_info_and_hash, garbage=b""):
    t = digest_info_and_hash + garbage
    ps = b"\xff" * (k - len(t) - 3)
    return b"\x00\x01" + ps + b"\x00" + t


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_edges(targets, alg):
    t = targets(alg)
    tok = t.forge()
    t.assert_accepted(tok)
    msg = t.signing_input_of(tok)
    good = t.raw_sign(msg)
    n, k = _rsa_k(t)
    cases = {}
    for name, v in (("0", 0), ("1", 1), ("n-1", n - 1), ("2", 2)):
        cases["sig=" + name] = v.to_bytes(k, "big")
    cases["sig=n"] = n.to_bytes(k, "big")
    cases["sig=n+1"] = (n + 1).to_bytes(k, "big")
    cases["all-ff"] = b"\xff" * k
    cases["short"] = good[1:]
    cases["zero-prefixed"] = b"\x00" + good
    cases["long"] = good + b"\x00"
    cases["half"] = good[: k // 2]
    cases["sig+n"] = (int.from_bytes(good, "big") + n).to_bytes(k + 1, "big")
    h256 = hashlib.sha256(msg).digest()
    cases["digestinfo-sha1"] = _raw_rsa_sign(t, _pkcs1_em(k, DIGEST_INFO["sha1"] +
                                                          hashlib.sha1(msg).digest()))
    cases["digestinfo-sha512"] = _raw_rsa_sign(t, _pkcs1_em(k, DIGEST_INFO["sha512"] +
                                                            hashlib.sha512(msg).digest()))
    cases["bare-hash-no-digestinfo"] = _raw_rsa_sign(t, _pkcs1_em(k, h256))
    # Bleichenbacher 2006: short padding, the right DigestInfo+hash, garbage after it
    di = DIGEST_INFO["sha256"] + h256
    em = b"\x00\x01" + b"\xff" * 8 + b"\x00" + di
    em += b"\x00" * (k - len(em))
    cases["bb06-garbage-after-hash"] = _raw_rsa_sign(t, em)
    cases["block-type-2"] = _raw_rsa_sign(t, b"\x00\x02" + _pkcs1_em(k, di)[2:])
    for name, sig in cases.items():
        t.assert_rejected(_with_sig(t, sig), "%s %s" % (alg, name))
    # RS <-> PS: a valid signature of the other RSA scheme under this key
    other = "PS256" if alg == "RS256" else "RS256"
    sig_other = t.raw_sign(msg, alg=other)
    t.assert_rejected(_with_sig(t, sig_other), "%s signature presented as %s" % (other, alg))
    # ... and the other scheme's NAME over this key's kid with that valid signature
    hdr = dict(t.header, alg=other)
    forged = t.forge(header=hdr)
    t.assert_rejected(forged, "alg %s over a %s key" % (other, alg))
    t.check_healthy()


def test_eddsa_edges(targets):
    t = targets("EdDSA")
    tok = t.forge()
    t.assert_accepted(tok)
    msg = t.signing_input_of(tok)
    good = t.raw_sign(msg)
    R, S = good[:32], int.from_bytes(good[32:], "little")
    assert S + ED_L < 2 ** 256
    cases = {
        "S+L (non-canonical)": R + (S + ED_L).to_bytes(32, "little"),
        "S=L": R + ED_L.to_bytes(32, "little"),
        "S=2^256-1": R + b"\xff" * 32,
        "zero": b"\x00" * 64,
        # small-order points as R, S = 0: [0]B == R + [k]A only for a small-order A
        "R=identity,S=0": bytes([1]) + b"\x00" * 31 + b"\x00" * 32,
        "R=order2,S=0": bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
        + b"\x00" * 32,
        "R=order4,S=0": b"\x00" * 32 + b"\x00" * 32,
        "R=order8,S=0": bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
        + b"\x00" * 32,
        "R non-canonical y": b"\xed" + b"\xff" * 30 + b"\x7f" + good[32:],
        "short": good[:-1],
        "long": good + b"\x00",
    }
    for name, sig in cases.items():
        t.assert_rejected(_with_sig(t, sig), "EdDSA %s" % name)
    t.check_healthy()


def test_hmac_edges(targets):
    t = targets("HS256")
    tok = t.forge()
    t.assert_accepted(tok)
    good = t.raw_sign(t.signing_input_of(tok))
    for name, sig in {"truncated-16": good[:16], "truncated-31": good[:31],
                      "extended": good + b"\x00", "zero": b"\x00" * 32,
                      "hs512-sized": good + good, "one-byte": good[:1],
                      "hs384 of same input": t.raw_sign(t.signing_input_of(tok), "HS384")}.items():
        t.assert_rejected(_with_sig(t, sig), "HS256 %s" % name)
    # the empty signature segment
    t.assert_rejected(tok.rsplit(".", 1)[0] + ".", "empty signature")
    t.check_healthy()

#!/usr/bin/python3
"""gen_vectors.py - writes webauthn.vec, the fixtures of tests/unit/auth/webauthn.c.

Run from anywhere: /usr/bin/python3 tests/vectors/webauthn/gen_vectors.py
Keys are fresh on each run; the file is committed, so the unit tests need no Python.

Format: blocks separated by a blank line; each line "key value", value in hex except for
name, kind, expect, rp_id, origin, uv and the integers alg, count, stored. kind is "reg"
(challenge, cdj, att) or "get" (challenge, cdj, authdata, sig, cose, alg, stored); expect is
"ok", "invalid" or "counter"; for "ok" registrations alg, count and cred_id are the
credential's expected values; "get" blocks with "ok" give the new counter as count.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from softauthn import (AT, BE, BS, ED, ES256, EDDSA, RS256, UP, UV, Credential,  # noqa: E402
                       attestation_chain, cbor, client_data)

RP, ORIGIN = "example.com", "https://example.com"
CH = bytes(range(32))
blocks = []


def reg(name, cred, expect="ok", uv=1, **kw):
    cdj, att = cred.register(CH, ORIGIN, **kw)
    b = {"name": name, "kind": "reg", "expect": expect, "rp_id": RP, "origin": ORIGIN,
         "uv": str(uv), "challenge": CH.hex(), "cdj": cdj.hex(), "att": att.hex()}
    if expect == "ok":
        b.update(alg=str(cred.alg), count=str(kw.get("count", 0)), cred_id=cred.id.hex())
    blocks.append(b)


def get(name, cred, stored, expect="ok", uv=1, **kw):
    cdj, ad, sig = cred.assert_(CH, ORIGIN, **kw)
    b = {"name": name, "kind": "get", "expect": expect, "rp_id": RP, "origin": ORIGIN,
         "uv": str(uv), "challenge": CH.hex(), "cdj": cdj.hex(), "authdata": ad.hex(),
         "sig": sig.hex(), "cose": cred.cose().hex(), "alg": str(cred.alg), "stored": str(stored)}
    if expect == "ok":
        b["count"] = str(kw["count"])
    blocks.append(b)


es = Credential(ES256, RP)
ed = Credential(EDDSA, RP)
rs = Credential(RS256, RP)
aaguid = bytes.fromhex("00112233445566778899aabbccddeeff")
hw = Credential(ES256, RP, aaguid=aaguid)

# registrations that verify
reg("none_es256", es, fmt="none")
reg("packed_self_es256", es, fmt="packed", count=3)
reg("packed_self_eddsa", ed, fmt="packed")
reg("packed_self_rs256", rs, fmt="packed")
reg("none_rs256", rs, fmt="none")
reg("packed_x5c", hw, fmt="packed-x5c", flags=UP | UV | AT | BE | BS)
reg("none_with_extensions", ed, fmt="none", flags=UP | UV | AT | ED)
reg("uv_preferred_without_uv", es, uv=0, fmt="none", flags=UP | AT)
# registrations that must fail
reg("wrong_origin", es, "invalid", cdj=client_data("webauthn.create", CH, "https://evil.example"))
reg("wrong_type", es, "invalid", cdj=client_data("webauthn.get", CH, ORIGIN))
reg("wrong_challenge", es, "invalid", cdj=client_data("webauthn.create", bytes(32), ORIGIN))
reg("cross_origin", es, "invalid", cdj=client_data("webauthn.create", CH, ORIGIN, True))
reg("wrong_rp_id", es, "invalid", rp_id="evil.example")
reg("no_user_presence", es, "invalid", flags=UV | AT)
reg("uv_required_missing", es, "invalid", flags=UP | AT)
reg("backup_state_without_eligible", es, "invalid", flags=UP | UV | AT | BS)
reg("no_attested_data", es, "invalid", flags=UP | UV)
reg("packed_self_bad_sig", es, "invalid", fmt="packed", cdj=None)
blocks[-1]["cdj"] = client_data("webauthn.create", CH, ORIGIN, extra={"x": 1}).hex()
reg("x5c_wrong_ou", hw, "invalid", fmt="packed-x5c", chain=attestation_chain(aaguid, ou="Other"))
reg("x5c_is_ca", hw, "invalid", fmt="packed-x5c", chain=attestation_chain(aaguid, ca=True))
reg("x5c_aaguid_mismatch", hw, "invalid", fmt="packed-x5c",
    chain=attestation_chain(bytes(16)))
reg("x5c_aaguid_critical", hw, "invalid", fmt="packed-x5c",
    chain=attestation_chain(aaguid, critical=True))
# an attestation object with a byte after it, and a "none" statement that is not empty
cdj, att = es.register(CH, ORIGIN)
blocks.append({"name": "trailing_garbage", "kind": "reg", "expect": "invalid", "rp_id": RP,
               "origin": ORIGIN, "uv": "1", "challenge": CH.hex(), "cdj": cdj.hex(),
               "att": (att + b"\x00").hex()})
cdj, att = es.register(CH, ORIGIN, fmt="packed")
blocks.append({"name": "unsupported_format", "kind": "reg", "expect": "invalid", "rp_id": RP,
               "origin": ORIGIN, "uv": "1", "challenge": CH.hex(), "cdj": cdj.hex(),
               "att": att.replace(b"fpacked", b"ftpm\x00\x00\x00").hex()})

# assertions
get("get_es256", es, 0, count=1)
get("get_eddsa", ed, 5, count=6)
get("get_rs256", rs, 0, count=1)
get("get_counter_zero_authenticator", es, 0, count=0)
get("get_counter_backwards", es, 10, "counter", count=9)
get("get_counter_equal", es, 10, "counter", count=10)
get("get_counter_zero_after_nonzero", es, 10, "counter", count=0)
get("get_no_user_presence", es, 0, "invalid", count=1, flags=UV)
get("get_uv_required_missing", es, 0, "invalid", count=1, flags=UP)
get("get_uv_preferred_without_uv", es, 0, uv=0, count=1, flags=UP)
get("get_wrong_origin", es, 0, "invalid", count=1,
    cdj=client_data("webauthn.get", CH, "http://example.com"))
get("get_wrong_type", es, 0, "invalid", count=1, cdj=client_data("webauthn.create", CH, ORIGIN))
get("get_wrong_rp_id", es, 0, "invalid", count=1, rp_id="example.org")
get("get_top_origin", es, 0, "invalid", count=1,
    cdj=client_data("webauthn.get", CH, ORIGIN, extra={"topOrigin": "https://a.example"}))
get("get_with_attested_data", es, 0, "invalid", count=1, flags=UP | UV | AT)
get("get_bad_signature", es, 0, "invalid", count=1)
sig = bytearray.fromhex(blocks[-1]["sig"])
sig[-1] ^= 1
blocks[-1]["sig"] = sig.hex()
get("get_other_key", es, 0, "invalid", count=1)
blocks[-1]["cose"] = Credential(ES256, RP).cose().hex()
get("get_alg_mismatch", ed, 0, "invalid", count=1)
blocks[-1]["alg"] = str(ES256)

# COSE keys that must be refused (kind "cose": cose, expect)
bad_cose = {
    "cose_es256_not_on_curve": cbor({1: 2, 3: -7, -1: 1, -2: bytes(32), -3: bytes(31) + b"\x01"}),
    "cose_es256_wrong_curve": cbor({1: 2, 3: -7, -1: 2, -2: bytes(48), -3: bytes(48)}),
    "cose_unknown_alg": cbor({1: 2, 3: -35, -1: 2, -2: bytes(48), -3: bytes(48)}),
    "cose_no_alg": cbor({1: 1, -1: 6, -2: bytes(32)}),
    "cose_rsa_1024": cbor({1: 3, 3: -257, -1: b"\xc1" * 128, -2: b"\x01\x00\x01"}),
    "cose_duplicate_member": bytes.fromhex("a4") + cbor(1)[0:1] + b"\x01" + b"\x03\x27"
    + b"\x20\x06" + b"\x01\x01",
    "cose_trailing": cbor({1: 1, 3: -8, -1: 6, -2: bytes(32)}) + b"\x00",
    "cose_kty_mismatch": cbor({1: 2, 3: -8, -1: 6, -2: bytes(32)}),
}
for name, c in bad_cose.items():
    blocks.append({"name": name, "kind": "cose", "expect": "invalid", "cose": c.hex()})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "webauthn.vec")
with open(out, "w") as f:
    f.write("# generated by gen_vectors.py; see its header for the format\n\n")
    for b in blocks:
        f.write("".join(f"{k} {v}\n" for k, v in b.items()) + "\n")
print(f"{len(blocks)} vectors -> {out}")

#!/usr/bin/python3
"""gen_vectors.py - writes the JOSE test vectors of tests/vectors/ (run from anywhere).

The RFC vectors (RFC 7515 A.1-A.3, RFC 7520 4.1-4.4, RFC 8037 A.4/A.5, RFC 7638 3.1) are
copied from the RFCs. The negative vectors are crafted here with the test keys in keys/
(generated once with openssl; see README.md), one file per rejection rule, so that every
rule of src/jose/ has a token that breaks exactly that rule. Output is deterministic except
for ECDSA/PSS signatures; the committed files are the reference, re-running is only needed
when adding vectors.

Vector file format (*.vec): "field: value" lines, '#' comments.
  mode:       jws (signature only, any payload) | jwt (signature + claims)
  jwks:       JWK Set file, relative to tests/vectors
  token:      compact token
  expect:     OK or a jwtv error name (JWTV_ESIGNATURE, ...)
  payload:    (jws, OK) expected payload, base64url
  sign:       yes = re-sign the signing input with the private JWK and expect the same
              signature (deterministic algorithms only)
  now, leeway, iss, aud, type, require, algs: jwt options (require: comma list of
              exp,iat,nbf,jti,sub,token_type,user_id; algs: comma list)
  thumbprint: (with jwk:) expected RFC 7638 thumbprint of the single JWK in `jwk`
"""
import base64, hashlib, hmac, json, os, sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1700000000
EXP = 4102444800  # 2100-01-01


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ub64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def intb(i, n=None):
    n = n or (i.bit_length() + 7) // 8
    return i.to_bytes(n, "big")


def load(name):
    with open(os.path.join(HERE, "keys", name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def jwk_of(key, kid=None, alg=None, private=False):
    if isinstance(key, rsa.RSAPrivateKey):
        pn = key.private_numbers()
        pub = pn.public_numbers
        j = {"kty": "RSA", "n": b64(intb(pub.n)), "e": b64(intb(pub.e))}
        if private:
            j.update(d=b64(intb(pn.d)), p=b64(intb(pn.p)), q=b64(intb(pn.q)),
                     dp=b64(intb(pn.dmp1)), dq=b64(intb(pn.dmq1)), qi=b64(intb(pn.iqmp)))
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        pub = key.public_key().public_numbers()
        j = {"kty": "EC", "crv": {256: "P-256", 384: "P-384"}[key.curve.key_size],
             "x": b64(intb(pub.x, size)), "y": b64(intb(pub.y, size))}
        if private:
            j["d"] = b64(intb(key.private_numbers().private_value, size))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        j = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
        if private:
            j["d"] = b64(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption()))
    else:
        raise TypeError(key)
    if kid:
        j["kid"] = kid
    if alg:
        j["alg"] = alg
    return j


HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def sign(alg, key, msg):
    h = HASH.get(alg[2:], None) if alg != "EdDSA" else None
    if alg.startswith("HS"):
        return hmac.new(key, msg, getattr(hashlib, "sha" + alg[2:])).digest()
    if alg.startswith("RS"):
        return key.sign(msg, padding.PKCS1v15(), h())
    if alg.startswith("PS"):
        return key.sign(msg, padding.PSS(padding.MGF1(h()), h.digest_size), h())
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(h())))
        n = (key.curve.key_size + 7) // 8
        return intb(r, n) + intb(s, n)
    if alg == "EdDSA":
        return key.sign(msg)
    raise ValueError(alg)


def compact(header, payload, alg, key, raw_header=None, raw_payload=None, sig_mangle=None):
    h = b64(raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode())
    p = b64(raw_payload if raw_payload is not None else json.dumps(payload, separators=(",", ":")).encode())
    si = (h + "." + p).encode()
    sig = sign(alg, key, si) if key is not None else b""
    if sig_mangle:
        sig = sig_mangle(sig)
    return h + "." + p + "." + b64(sig)


def write_json(rel, obj):
    with open(os.path.join(HERE, rel), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def write_vec(rel, comment, **fields):
    os.makedirs(os.path.dirname(os.path.join(HERE, rel)), exist_ok=True)
    with open(os.path.join(HERE, rel), "w") as f:
        for line in comment.strip().splitlines():
            f.write("# " + line + "\n")
        for k, v in fields.items():
            f.write("%s: %s\n" % (k, v))


# ------------------------------------------------------------------------------------------
# RFC vectors
# ------------------------------------------------------------------------------------------
RFC7515_A1_KEY = {"kty": "oct", "alg": "HS256",
                  "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}
RFC7515_PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
RFC7515_A2_KEY = {
    "kty": "RSA", "alg": "RS256",
    "n": "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    "e": "AQAB",
    "d": "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
    "p": "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
    "q": "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
    "dp": "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
    "dq": "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
    "qi": "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"}
RFC7515_A3_KEY = {"kty": "EC", "crv": "P-256",
                  "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                  "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                  "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}
RFC7520_RSA = {
    "kty": "RSA", "kid": "bilbo.baggins@hobbiton.example", "use": "sig",
    "n": "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw",
    "e": "AQAB",
    "d": "bWUC9B-EFRIo8kpGfh0ZuyGPvMNKvYWNtB_ikiH9k20eT-O1q_I78eiZkpXxXQ0UTEs2LsNRS-8uJbvQ-A1irkwMSMkK1J3XTGgdrhCku9gRldY7sNA_AKZGh-Q661_42rINLRCe8W-nZ34ui_qOfkLnK9QWDDqpaIsA-bMwWWSDFu2MUBYwkHTMEzLYGqOe04noqeq1hExBTHBOBdkMXiuFhUq1BU6l-DqEiWxqg82sXt2h-LMnT3046AOYJoRioz75tSUQfGCshWTBnP5uDjd18kKhyv07lhfSJdrPdM5Plyl21hsFf4L_mHCuoFau7gdsPfHPxxjVOcOpBrQzwQ",
    "p": "3Slxg_DwTXJcb6095RoXygQCAZ5RnAvZlno1yhHtnUex_fp7AZ_9nRaO7HX_-SFfGQeutao2TDjDAWU4Vupk8rw9JR0AzZ0N2fvuIAmr_WCsmGpeNqQnev1T7IyEsnh8UMt-n5CafhkikzhEsrmndH6LxOrvRJlsPp6Zv8bUq0k",
    "q": "uKE2dh-cTf6ERF4k4e_jy78GfPYUIaUyoSSJuBzp3Cubk3OCqs6grT8bR_cu0Dm1MZwWmtdqDyI95HrUeq3MP15vMMON8lHTeZu2lmKvwqW7anV5UzhM1iZ7z4yMkuUwFWoBvyY898EXvRD-hdqRxHlSqAZ192zB3pVFJ0s7pFc",
    "dp": "B8PVvXkvJrj2L-GYQ7v3y9r6Kw5g9SahXBwsWUzp19TVlgI-YV85q1NIb1rxQtD-IsXXR3-TanevuRPRt5OBOdiMGQp8pbt26gljYfKU_E9xn-RULHz0-ed9E9gXLKD4VGngpz-PfQ_q29pk5xWHoJp009Qf1HvChixRX59ehik",
    "dq": "CLDmDGduhylc9o7r84rEUVn7pzQ6PF83Y-iBZx5NT-TpnOZKF1pErAMVeKzFEl41DlHHqqBLSM0W1sOFbwTxYWZDm6sI6og5iTbwQGIC3gnJKbi_7k_vJgGHwHxgPaX2PnvP-zyEkDERuf-ry4c_Z11Cq9AqC2yeL6kdKT1cYF8",
    "qi": "3PiqvXQN0zwMeE-sBvZgi289XP9XCQF3VWqPzMKnIgQp7_Tugo6-NZBKCQsMf3HaEGBjTVJs_jcK8-TRXvaKe-7ZMaQj8VfBdYkssbu0NKDDhjJ-GtiseaDVWt7dcH0cfwxgFUHpQh7FoCrjFJ6h6ZEpMF6xmujs4qMpPz8aaI4"}
RFC7520_EC521 = {"kty": "EC", "kid": "bilbo.baggins@hobbiton.example", "use": "sig", "crv": "P-521",
                 "x": "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
                 "y": "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"}
RFC7520_HMAC = {"kty": "oct", "kid": "018c0ae5-4d9b-471b-bfd6-eef314bc7037", "use": "sig", "alg": "HS256",
                "k": "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}
RFC7520_PAYLOAD = ("SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IH"
                   "lvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBk"
                   "b24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcm"
                   "UgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4")
RFC8037_KEY = {"kty": "OKP", "crv": "Ed25519",
               "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
               "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC7638_KEY = {"kty": "RSA", "alg": "RS256", "kid": "2011-04-29", "e": "AQAB",
               "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}


def rfc_vectors():
    os.makedirs(os.path.join(HERE, "rfc"), exist_ok=True)
    write_json("rfc/rfc7515-a1.jwks", {"keys": [RFC7515_A1_KEY]})
    write_vec("rfc/rfc7515-a1-hs256.vec", "RFC 7515 A.1: HS256 (deterministic: re-signed)", mode="jws",
              jwks="rfc/rfc7515-a1.jwks",
              token="eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + RFC7515_PAYLOAD +
              ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
              expect="OK", payload=RFC7515_PAYLOAD, sign="yes")
    write_vec("rfc/rfc7515-a1-hs256-jwt.vec",
              "RFC 7515 A.1 as a JWT: valid just before exp, expired at exp", mode="jwt",
              jwks="rfc/rfc7515-a1.jwks",
              token="eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + RFC7515_PAYLOAD +
              ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
              now="1300819379", iss="joe", expect="OK")
    write_vec("rfc/rfc7515-a1-hs256-expired.vec", "RFC 7515 A.1 at its exp second: expired", mode="jwt",
              jwks="rfc/rfc7515-a1.jwks",
              token="eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + RFC7515_PAYLOAD +
              ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
              now="1300819380", expect="JWTV_EEXPIRED")
    write_json("rfc/rfc7515-a2.jwks", {"keys": [RFC7515_A2_KEY]})
    a2 = ("eyJhbGciOiJSUzI1NiJ9." + RFC7515_PAYLOAD +
          ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw")
    write_vec("rfc/rfc7515-a2-rs256.vec", "RFC 7515 A.2: RS256 (deterministic: re-signed)", mode="jws",
              jwks="rfc/rfc7515-a2.jwks", token=a2, expect="OK", payload=RFC7515_PAYLOAD, sign="yes")
    write_json("rfc/rfc7515-a3.jwks", {"keys": [RFC7515_A3_KEY]})
    a3 = ("eyJhbGciOiJFUzI1NiJ9." + RFC7515_PAYLOAD +
          ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
    write_vec("rfc/rfc7515-a3-es256.vec", "RFC 7515 A.3: ES256 (random k: verify only)", mode="jws",
              jwks="rfc/rfc7515-a3.jwks", token=a3, expect="OK", payload=RFC7515_PAYLOAD)
    # RFC 7520 4.1-4.4: one key per algorithm (a jwtd key carries exactly one alg)
    rs = dict(RFC7520_RSA, alg="RS256")
    ps = dict(RFC7520_RSA, alg="PS384")
    write_json("rfc/rfc7520-rs256.jwks", {"keys": [rs]})
    write_json("rfc/rfc7520-ps384.jwks", {"keys": [ps]})
    write_json("rfc/rfc7520-es512.jwks", {"keys": [RFC7520_EC521]})
    write_json("rfc/rfc7520-hs256.jwks", {"keys": [RFC7520_HMAC]})
    write_vec("rfc/rfc7520-4.1-rs256.vec", "RFC 7520 4.1: RSA v1.5 (RS256), deterministic", mode="jws",
              jwks="rfc/rfc7520-rs256.jwks",
              token="eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." + RFC7520_PAYLOAD +
              ".MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg",
              expect="OK", payload=RFC7520_PAYLOAD, sign="yes")
    write_vec("rfc/rfc7520-4.2-ps384.vec", "RFC 7520 4.2: RSA-PSS (PS384), verify only", mode="jws",
              jwks="rfc/rfc7520-ps384.jwks",
              token="eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." + RFC7520_PAYLOAD +
              ".cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw",
              expect="OK", payload=RFC7520_PAYLOAD)
    write_vec("rfc/rfc7520-4.2-ps384-as-rs256.vec",
              "RFC 7520 4.2 token against the same RSA key configured for RS256: alg mismatch",
              mode="jws", jwks="rfc/rfc7520-rs256.jwks",
              token="eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." + RFC7520_PAYLOAD +
              ".cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw",
              expect="JWTV_EALG")
    write_vec("rfc/rfc7520-4.3-es512.vec",
              "RFC 7520 4.3: ES512 is not supported (the P-521 key is skipped, the alg unsupported)",
              mode="jws", jwks="rfc/rfc7520-hs256.jwks",
              token="eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." + RFC7520_PAYLOAD +
              ".AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2",
              expect="JWTV_EUNSUPPORTED_ALG")
    write_vec("rfc/rfc7520-4.3-es512-jwks.vec",
              "RFC 7520 3.1/3.2: a JWKS with only a P-521 key has no usable key",
              mode="jwks", jwks="rfc/rfc7520-es512.jwks", expect="JWTV_EJWKS")
    write_vec("rfc/rfc7520-4.4-hs256.vec", "RFC 7520 4.4: HMAC-SHA2 (HS256), deterministic", mode="jws",
              jwks="rfc/rfc7520-hs256.jwks",
              token="eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9." +
              RFC7520_PAYLOAD + ".s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0",
              expect="OK", payload=RFC7520_PAYLOAD, sign="yes")
    write_json("rfc/rfc8037-a4.jwks", {"keys": [RFC8037_KEY]})
    write_vec("rfc/rfc8037-a4-eddsa.vec", "RFC 8037 A.4: Ed25519 signing (deterministic)", mode="jws",
              jwks="rfc/rfc8037-a4.jwks",
              token="eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
                    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
              expect="OK", payload="RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc", sign="yes")
    write_vec("rfc/rfc8037-a5-eddsa-tampered.vec", "RFC 8037 A.5 (verification) with a modified payload",
              mode="jws", jwks="rfc/rfc8037-a4.jwks",
              token="eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmg."
                    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
              expect="JWTV_ESIGNATURE")
    write_json("rfc/rfc8037-a3.jwk", {k: RFC8037_KEY[k] for k in ("kty", "crv", "x")})
    write_vec("rfc/rfc8037-a3-thumbprint.vec", "RFC 8037 A.3: Ed25519 JWK thumbprint", mode="thumbprint",
              jwk="rfc/rfc8037-a3.jwk", thumbprint="kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    write_json("rfc/rfc7638.jwk", RFC7638_KEY)
    write_vec("rfc/rfc7638-thumbprint.vec", "RFC 7638 3.1: RSA JWK thumbprint", mode="thumbprint",
              jwk="rfc/rfc7638.jwk", thumbprint="NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")


# ------------------------------------------------------------------------------------------
# Negative (and boundary) vectors with our test keys
# ------------------------------------------------------------------------------------------
def neg_vectors():
    os.makedirs(os.path.join(HERE, "neg"), exist_ok=True)
    with open(os.path.join(HERE, "keys", "hs256.secret"), "rb") as f:
        secret = f.read().strip()
    rsa_k, p256, p384, edk = load("rsa2048.pem"), load("p256.pem"), load("p384.pem"), load("ed25519.pem")
    oct_jwk = {"kty": "oct", "alg": "HS256", "kid": "hs", "k": b64(secret)}
    keys = {
        "HS256": (oct_jwk, secret),
        "RS256": (jwk_of(rsa_k, "rs", "RS256"), rsa_k),
        "PS256": (jwk_of(rsa_k, "ps", "PS256"), rsa_k),
        "ES256": (jwk_of(p256, "es", "ES256"), p256),
        "ES384": (jwk_of(p384, "es384", "ES384"), p384),
        "EdDSA": (jwk_of(edk, "ed", "EdDSA"), edk),
    }
    write_json("keys/test.jwks", {"keys": [v[0] for v in keys.values()]})
    write_json("keys/test-public.jwks", {"keys": [v[0] for k, v in keys.items() if k != "HS256"]})
    # the same HMAC secret without kid: matches kid-less tokens (Django SimpleJWT style)
    write_json("keys/nokid.jwks", {"keys": [{"kty": "oct", "alg": "HS256", "k": b64(secret)}]})
    private = {"keys": [dict(jwk_of(rsa_k, "rs", "RS256", True)), jwk_of(p256, "es", "ES256", True),
                        jwk_of(edk, "ed", "EdDSA", True)]}
    write_json("keys/test-private.jwks", private)

    good = {"token_type": "access", "exp": EXP, "iat": NOW - 10, "jti": "0123456789abcdef0123456789abcdef",
            "user_id": "42", "sub": "42", "sid": "s1", "username": "alice", "email": "alice@example.com",
            "role": "user", "premium": False}

    def hdr(alg, kid, **extra):
        h = {"alg": alg, "typ": "JWT", "kid": kid}
        h.update(extra)
        return h

    def vec(name, comment, token, expect, **kw):
        fields = dict(mode=kw.pop("mode", "jwt"), jwks=kw.pop("jwks", "keys/test.jwks"), token=token)
        if fields["mode"] == "jwt":
            fields["now"] = str(kw.pop("now", NOW))
        fields.update(kw)
        fields["expect"] = expect
        write_vec("neg/%s.vec" % name, comment, **fields)

    # every algorithm: a valid token, and the same token tampered
    for alg, (jwk, key) in keys.items():
        kid = jwk["kid"]
        t = compact(hdr(alg, kid), good, alg, key)
        vec("ok-" + alg.lower(), "valid %s token" % alg, t, "OK", type="access",
            require="exp,iat,jti,token_type,user_id")
        h, p, s = t.split(".")
        tp = b64(json.dumps(dict(good, user_id="1"), separators=(",", ":")).encode())
        vec("tampered-payload-" + alg.lower(), "%s: payload changed after signing" % alg,
            h + "." + tp + "." + s, "JWTV_ESIGNATURE")
        sig = bytearray(ub64(s))
        sig[len(sig) // 2] ^= 0x01
        vec("tampered-sig-" + alg.lower(), "%s: one signature bit flipped" % alg,
            h + "." + p + "." + b64(bytes(sig)), "JWTV_ESIGNATURE")

    hs = lambda header, payload=good, **kw: compact(header, payload, "HS256", secret, **kw)
    es = lambda header, payload=good, **kw: compact(header, payload, "ES256", p256, **kw)
    H = hdr("HS256", "hs")

    # alg none, every spelling
    for spelling in ("none", "None", "NONE", "nOnE"):
        vec("alg-none-" + spelling, "alg %s is always rejected" % spelling,
            compact({"alg": spelling, "typ": "JWT", "kid": "hs"}, good, None, None), "JWTV_EALG")
    vec("alg-none-signed", "alg none with a signature appended",
        b64(b'{"alg":"none","kid":"hs"}') + "." + b64(json.dumps(good).encode()) + "." + b64(b"x" * 32),
        "JWTV_EALG")
    # algorithm confusion: RSA public key (PEM) used as an HMAC secret, kid of the RSA key
    pub_pem = rsa_k.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    vec("alg-confusion-rs-as-hs", "HS256 token signed with the RSA public key, kid of the RSA key",
        compact(hdr("HS256", "rs"), good, "HS256", pub_pem), "JWTV_EALG")
    vec("alg-swap-es-kid-rs", "ES256 token presenting the RS256 key's kid",
        es(hdr("ES256", "rs")), "JWTV_EALG")
    vec("alg-swap-ps-for-rs", "PS256 token with the RS256 key's kid",
        compact(hdr("PS256", "rs"), good, "PS256", rsa_k), "JWTV_EALG")
    vec("alg-not-allowed", "ES256 token while the verifier allows only HS256",
        es(hdr("ES256", "es")), "JWTV_EALG", algs="HS256")
    vec("alg-unsupported-es512", "ES512 is not supported", hs(hdr("ES512", "hs")),
        "JWTV_EUNSUPPORTED_ALG")
    vec("alg-unsupported-lowercase", "alg names are case-sensitive", hs(hdr("hs256", "hs")),
        "JWTV_EUNSUPPORTED_ALG")
    vec("alg-not-string", "alg must be a string", hs({"alg": 256, "kid": "hs"}), "JWTV_EHEADER")
    vec("alg-missing", "no alg", hs({"typ": "JWT", "kid": "hs"}), "JWTV_EHEADER")
    vec("header-array", "the header must be an object", hs(None, raw_header=b'["HS256"]'),
        "JWTV_EHEADER")
    vec("header-not-json", "the header must be JSON", hs(None, raw_header=b'{"alg":"HS256",}'),
        "JWTV_EMALFORMED")
    vec("header-dup-alg", "duplicate alg member",
        hs(None, raw_header=b'{"alg":"none","alg":"HS256","kid":"hs"}'), "JWTV_EMALFORMED")
    vec("header-dup-alg-escaped", "duplicate alg member spelled with an escape",
        hs(None, raw_header=b'{"alg":"HS256","\\u0061lg":"none","kid":"hs"}'), "JWTV_EMALFORMED")
    vec("header-escaped-ok", "escaped member names and values are decoded",
        hs(None, raw_header=b'{"\\u0061lg":"HS\\u00325\\u0036","kid":"h\\u0073"}'), "OK")
    vec("crit-unknown", "crit naming an unknown extension", hs(hdr("HS256", "hs", crit=["exp"], exp=1)),
        "JWTV_ECRIT")
    vec("crit-b64", "crit b64 (RFC 7797) is not supported",
        hs(hdr("HS256", "hs", crit=["b64"], b64=False)), "JWTV_ECRIT")
    ed_pub = keys["EdDSA"][0]
    vec("header-jwk", "an embedded jwk never selects a key: rejected",
        hs(hdr("HS256", "hs", jwk=ed_pub)), "JWTV_EHEADER")
    vec("header-jwk-attacker", "attacker key embedded as jwk, token signed with it",
        compact({"alg": "EdDSA", "jwk": ed_pub}, good, "EdDSA", edk), "JWTV_EHEADER",
        jwks="keys/nokid.jwks")
    vec("header-jku", "jku is rejected", hs(hdr("HS256", "hs", jku="https://evil.example/jwks")),
        "JWTV_EHEADER")
    vec("header-x5u", "x5u is rejected", hs(hdr("HS256", "hs", x5u="https://evil.example/x")),
        "JWTV_EHEADER")
    vec("header-x5c", "x5c is rejected", hs(hdr("HS256", "hs", x5c=["MIIB"])), "JWTV_EHEADER")
    vec("header-extra-ok", "unknown non-critical header members are ignored",
        hs(hdr("HS256", "hs", cty="JWT", x5t="abc")), "OK")
    # kid
    vec("kid-unknown", "kid not in the key set", hs(hdr("HS256", "nope")), "JWTV_ENOKEY")
    vec("kid-missing", "no kid, and every key has one", hs({"alg": "HS256", "typ": "JWT"}),
        "JWTV_ENOKEY")
    vec("kid-missing-nokid-key", "no kid, key configured without kid (SimpleJWT style)",
        hs({"alg": "HS256", "typ": "JWT"}), "OK", jwks="keys/nokid.jwks")
    vec("kid-present-nokid-key", "a kid that no key has, even though a kid-less key exists",
        hs(hdr("HS256", "hs")), "JWTV_ENOKEY", jwks="keys/nokid.jwks")
    vec("kid-not-string", "kid must be a string", hs({"alg": "HS256", "kid": 1}), "JWTV_EHEADER")
    vec("kid-too-long", "kid longer than any key's", hs(hdr("HS256", "k" * 200)), "JWTV_ENOKEY")
    # compact syntax and base64url
    t = hs(H)
    h, p, s = t.split(".")
    vec("segments-two", "two segments", h + "." + p, "JWTV_EMALFORMED")
    vec("segments-four", "four segments", t + ".", "JWTV_EMALFORMED")
    vec("segments-five-jwe", "five segments (JWE shape)", t + ".abc.def", "JWTV_EMALFORMED")
    vec("segment-empty-header", "empty header", "." + p + "." + s, "JWTV_EMALFORMED")
    vec("segment-empty-payload", "empty payload", h + ".." + s, "JWTV_EMALFORMED")
    vec("segment-empty-signature", "empty signature (unsecured)", h + "." + p + ".", "JWTV_EMALFORMED")
    vec("leading-space", "a leading space", " " + t, "JWTV_EMALFORMED")
    vec("trailing-newline", "a trailing newline", t + "\\n", "JWTV_EMALFORMED")
    vec("b64-padding", "base64 padding on the signature", t + "=", "JWTV_EMALFORMED")
    vec("b64-std-alphabet", "'+' instead of '-' in the signature",
        h + "." + p + "." + s.replace("-", "+").replace("_", "/") if ("-" in s or "_" in s)
        else h + "." + p + "." + "+" + s[1:], "JWTV_EMALFORMED")
    # non-canonical last character: the 32-byte HS256 signature is 43 chars, 2 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(s[-1])
    s2 = s[:-1] + alphabet[last | 1 if not last & 1 else last & ~1]
    vec("b64-noncanonical-sig", "signature's last character differs only in its unused bits "
        "(Django + SimpleJWT accepts this: case 22 of the golden table, tests/integration/peers.py)",
        h + "." + p + "." + s2, "JWTV_EMALFORMED")
    p_raw = json.dumps(good, separators=(",", ":")).encode()
    while len(p_raw) % 3 != 1:  # make the payload leave 4 unused bits
        p_raw += b" "
    t2 = hs(H, raw_payload=p_raw)
    h2, pp, s3 = t2.split(".")
    pl = alphabet.index(pp[-1])
    bad_pl = pp[:-1] + alphabet[pl | 1]
    bad_si = (h2 + "." + bad_pl).encode()
    vec("b64-noncanonical-payload", "payload's last character with non-zero unused bits, "
        "correctly signed over those characters",
        h2 + "." + bad_pl + "." + b64(sign("HS256", secret, bad_si)), "JWTV_EMALFORMED")
    vec("b64-length-1-mod-4", "a segment of length 1 mod 4 cannot be base64url",
        h + "." + p + "." + s + "AAAAA"[: (1 - len(s)) % 4 or 4], "JWTV_EMALFORMED")
    vec("header-too-large", "header over 1024 bytes once decoded",
        hs(hdr("HS256", "hs", pad="x" * 1100)), "JWTV_ETOOLARGE")
    vec("header-too-deep", "header nested deeper than 4",
        hs(hdr("HS256", "hs", x=[[[[1]]]])), "JWTV_ETOOLARGE")
    vec("token-too-large", "token over 8192 bytes",
        hs(H, dict(good, pad="x" * 8200)), "JWTV_ETOOLARGE")
    # ECDSA signature shape
    t = es(hdr("ES256", "es"))
    h, p, s = t.split(".")
    raw = ub64(s)
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    vec("es256-sig-short", "ES256 signature of 63 bytes", h + "." + p + "." + b64(raw[:-1]),
        "JWTV_ESIGNATURE")
    vec("es256-sig-long", "ES256 signature of 65 bytes", h + "." + p + "." + b64(raw + b"\0"),
        "JWTV_ESIGNATURE")
    vec("es256-sig-der", "ES256 signature in DER instead of raw r||s",
        h + "." + p + "." + b64(p256.sign((h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))),
        "JWTV_ESIGNATURE")
    vec("es256-r-zero", "r = 0", h + "." + p + "." + b64(b"\0" * 32 + raw[32:]), "JWTV_ESIGNATURE")
    vec("es256-s-zero", "s = 0", h + "." + p + "." + b64(raw[:32] + b"\0" * 32), "JWTV_ESIGNATURE")
    vec("es256-s-order", "s = n", h + "." + p + "." + b64(raw[:32] + intb(order, 32)), "JWTV_ESIGNATURE")
    s_int = int.from_bytes(raw[32:], "big")
    vec("es256-s-plus-order", "s + n (same value mod n, out of range)",
        h + "." + p + "." + b64(raw[:32] + intb((s_int + order) % (1 << 256), 32)) if s_int + order < (1 << 256)
        else h + "." + p + "." + b64(raw[:32] + intb(order + 1, 32)), "JWTV_ESIGNATURE")
    vec("es256-high-s-ok", "s and n - s both verify (JOSE does not require low-S)",
        h + "." + p + "." + b64(raw[:32] + intb(order - s_int, 32)), "OK")
    # RSA signature length
    t = compact(hdr("RS256", "rs"), good, "RS256", rsa_k)
    h, p, s = t.split(".")
    raw = ub64(s)
    vec("rs256-sig-short", "RSA signature one byte shorter than the modulus",
        h + "." + p + "." + b64(raw[1:]), "JWTV_ESIGNATURE")
    vec("rs256-sig-long", "RSA signature with a leading zero byte",
        h + "." + p + "." + b64(b"\0" + raw), "JWTV_ESIGNATURE")
    vec("eddsa-sig-short", "Ed25519 signature of 63 bytes",
        ".".join(compact(hdr("EdDSA", "ed"), good, "EdDSA", edk).split(".")[:2]) + "." +
        b64(ub64(compact(hdr("EdDSA", "ed"), good, "EdDSA", edk).split(".")[2])[:-1]), "JWTV_ESIGNATURE")
    vec("hs256-sig-truncated", "HMAC truncated to 16 bytes",
        ".".join(hs(H).split(".")[:2]) + "." + b64(ub64(hs(H).split(".")[2])[:16]), "JWTV_ESIGNATURE")

    # claims
    def c(name, comment, payload, expect, raw=None, **kw):
        vec("claims-" + name, comment, hs(H, payload, raw_payload=raw), expect, **kw)

    c("ok-minimal", "only exp", {"exp": EXP}, "OK")
    c("exp-missing", "exp is required by default", {"iat": NOW}, "JWTV_ECLAIM")
    c("exp-missing-not-required", "exp not required", {"iat": NOW}, "OK", require="")
    c("exp-past", "expired", dict(good, exp=NOW - 1), "JWTV_EEXPIRED")
    c("exp-equal-now", "exp == now is expired", dict(good, exp=NOW), "JWTV_EEXPIRED")
    c("exp-now-plus-1", "exp == now + 1 is valid", dict(good, exp=NOW + 1), "OK")
    c("exp-past-leeway", "expired 5 s ago, leeway 10", dict(good, exp=NOW - 5), "OK", leeway="10")
    c("exp-past-leeway-edge", "expired 10 s ago, leeway 10", dict(good, exp=NOW - 10), "JWTV_EEXPIRED",
      leeway="10")
    c("exp-float", "exp with a fraction", None, "JWTV_ECLAIM", raw=b'{"exp":4102444800.5}')
    c("exp-exponent", "exp written with an exponent", None, "JWTV_ECLAIM", raw=b'{"exp":4.1e9}')
    c("exp-string", "exp as a string", dict(good, exp=str(EXP)), "JWTV_ECLAIM")
    c("exp-negative", "negative exp", dict(good, exp=-1), "JWTV_ECLAIM")
    c("exp-huge", "exp beyond year 9999", dict(good, exp=253402300800), "JWTV_ECLAIM")
    c("exp-overflow", "exp beyond int64", None, "JWTV_ECLAIM", raw=b'{"exp":99999999999999999999999}')
    c("exp-null", "exp null", dict(good, exp=None), "JWTV_ECLAIM")
    c("nbf-future", "nbf in the future", dict(good, nbf=NOW + 60), "JWTV_ENOTYET")
    c("nbf-future-leeway", "nbf 30 s ahead, leeway 60", dict(good, nbf=NOW + 30), "OK", leeway="60")
    c("nbf-now", "nbf == now is valid", dict(good, nbf=NOW), "OK")
    c("iat-future", "iat in the future", dict(good, iat=NOW + 60), "JWTV_EIAT")
    c("iat-future-leeway", "iat 5 s ahead, leeway 10", dict(good, iat=NOW + 5), "OK", leeway="10")
    c("iat-missing-required", "iat required and missing", {"exp": EXP}, "JWTV_ECLAIM", require="exp,iat")
    c("iss-ok", "iss matches", dict(good, iss="https://auth.example"), "OK", iss="https://auth.example")
    c("iss-wrong", "iss differs", dict(good, iss="https://evil.example"), "JWTV_EISSUER",
      iss="https://auth.example")
    c("iss-missing", "iss required by options", good, "JWTV_EISSUER", iss="https://auth.example")
    c("iss-not-string", "iss as a number", dict(good, iss=1), "JWTV_ECLAIM")
    c("aud-string-ok", "aud string matches", dict(good, aud="api"), "OK", aud="api")
    c("aud-array-ok", "aud array contains ours", dict(good, aud=["web", "api"]), "OK", aud="api")
    c("aud-wrong", "aud differs", dict(good, aud="web"), "JWTV_EAUDIENCE", aud="api")
    c("aud-array-wrong", "aud array without ours", dict(good, aud=["web"]), "JWTV_EAUDIENCE", aud="api")
    c("aud-missing", "aud required by options", good, "JWTV_EAUDIENCE", aud="api")
    c("aud-unexpected", "aud present, no audience configured (RFC 7519 4.1.3)", dict(good, aud="api"),
      "JWTV_EAUDIENCE")
    c("aud-array-number", "aud array with a number", dict(good, aud=["api", 1]), "JWTV_ECLAIM", aud="api")
    c("aud-object", "aud as an object", dict(good, aud={"a": 1}), "JWTV_ECLAIM", aud="api")
    c("type-wrong", "refresh token where access is required", dict(good, token_type="refresh"),
      "JWTV_ETOKEN_TYPE", type="access")
    c("type-missing", "no token_type where one is required", {k: v for k, v in good.items()
                                                             if k != "token_type"},
      "JWTV_ETOKEN_TYPE", type="access")
    c("type-not-string", "token_type as a number", dict(good, token_type=1), "JWTV_ECLAIM")
    c("jti-uppercase", "jti must be lowercase hex", dict(good, jti="0123456789ABCDEF0123456789ABCDEF"),
      "JWTV_ECLAIM")
    c("jti-short", "jti of 31 hex digits", dict(good, jti="0123456789abcdef0123456789abcde"), "JWTV_ECLAIM")
    c("jti-uuid", "jti with dashes", dict(good, jti="01234567-89ab-cdef-0123-456789abcdef"), "JWTV_ECLAIM")
    c("jti-number", "jti as a number", dict(good, jti=1), "JWTV_ECLAIM")
    c("user-id-int", "user_id as an integer (older SimpleJWT) is accepted", dict(good, user_id=42), "OK")
    c("user-id-float", "user_id as a float", dict(good, user_id=4.2), "JWTV_ECLAIM")
    c("premium-string", "premium must be a boolean", dict(good, premium="yes"), "JWTV_ECLAIM")
    c("string-nul", "a string claim containing NUL", dict(good, username="ali\u0000ce"), "JWTV_ECLAIM")
    c("payload-array", "payload must be an object", None, "JWTV_EMALFORMED", raw=b'[1,2]')
    c("payload-not-json", "payload must be JSON", None, "JWTV_EMALFORMED", raw=b'{"exp":1,}')
    c("payload-trailing", "payload with trailing bytes", None, "JWTV_EMALFORMED", raw=b'{"exp":4102444800}x')
    c("payload-dup-exp", "duplicate exp member", None, "JWTV_EMALFORMED",
      raw=b'{"exp":4102444800,"exp":1}')
    c("payload-dup-nested", "duplicate member in a nested object", None, "JWTV_EMALFORMED",
      raw=b'{"exp":4102444800,"x":{"a":1,"a":2}}')
    c("payload-deep", "nesting deeper than 16", None, "JWTV_ETOOLARGE",
      raw=b'{"exp":4102444800,"x":' + b"[" * 20 + b"]" * 20 + b"}")
    c("payload-too-many-values", "more than 512 JSON values in the payload", None, "JWTV_ETOOLARGE",
      raw=b'{"exp":4102444800,"x":[' + b",".join([b"1"] * 600) + b"]}")
    c("payload-invalid-utf8", "invalid UTF-8 in a string", None, "JWTV_EMALFORMED",
      raw=b'{"exp":4102444800,"name":"\xc3\x28"}')
    c("payload-lone-surrogate", "lone surrogate escape", None, "JWTV_EMALFORMED",
      raw=b'{"exp":4102444800,"name":"\\ud800"}')
    c("payload-bom", "UTF-8 BOM before the object", None, "JWTV_EMALFORMED",
      raw=b'\xef\xbb\xbf{"exp":4102444800}')
    c("payload-unicode-ok", "non-ASCII strings are fine", dict(good, username="zo\u00eb \U0001F600"), "OK")


def jwtv_standalone():
    """Files for tests/jwtv/standalone.c: a public JWKS and a token valid until 2100."""
    os.makedirs(os.path.join(HERE, "jwtv"), exist_ok=True)
    p256 = load("p256.pem")
    write_json("jwtv/jwks.json", {"keys": [jwk_of(p256, "es", "ES256")]})
    claims = {"token_type": "access", "exp": EXP, "iat": NOW, "jti": "00112233445566778899aabbccddeeff",
              "user_id": "7", "sub": "7", "sid": "abc", "username": "bob", "role": "admin", "premium": True}
    with open(os.path.join(HERE, "jwtv/token.txt"), "w") as f:
        f.write(compact({"alg": "ES256", "typ": "JWT", "kid": "es"}, claims, "ES256", p256) + "\n")


if __name__ == "__main__":
    rfc_vectors()
    neg_vectors()
    jwtv_standalone()
    print("vectors written")

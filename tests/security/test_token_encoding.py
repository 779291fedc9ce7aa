"""Encoding and claim attacks with CORRECT signatures by the real key (so only the parser
and the claim rules stand between the attacker and acceptance):

* non-canonical base64url: '=' padding, the standard alphabet ('+' '/'), whitespace,
  changed unused low bits in any segment, extra segments, JWE-like 5 segments;
* JSON: duplicate members in header and payload (alg, kid, token_type, user_id, exp),
  deep nesting, huge numbers, invalid UTF-8, BOM, trailing garbage, a payload that is not
  an object;
* claim type confusion: exp/iat/nbf as strings, floats, booleans, null, huge; user_id,
  sid, jti, token_type of the wrong type; missing required claims.
"""

import pytest

from attack import b64u, b64u_decode, jdump

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module", params=["HS256", "ES256"])
def target(request, targets):
    return targets(request.param)


def _flip_low_bits(seg):
    pad = {2: 4, 3: 2}.get(len(seg) % 4, 0)
    if not pad:
        return None
    v = B64.index(seg[-1])
    return seg[:-1] + B64[v ^ ((1 << pad) - 1)]


def test_non_canonical_base64url(target):
    tok = target.forge()
    target.assert_accepted(tok)
    h, p, s = tok.split(".")
    bad = {
        "padded-sig": "%s.%s.%s" % (h, p, s + "=" * (-len(s) % 4 or 4)),
        "padded-header": "%s.%s.%s" % (h + "=" * (-len(h) % 4 or 4), p, s),
        "padded-payload": "%s.%s.%s" % (h, p + "=" * (-len(p) % 4 or 4), s),
        "std-alphabet-sig": "%s.%s.%s" % (h, p, s.replace("-", "+").replace("_", "/")),
        "space-in-sig": "%s.%s.%s" % (h, p, s[:5] + " " + s[5:]),
        "newline-in-payload": "%s.%s.%s" % (h, p[:7] + "\n" + p[7:], s),
        "4-segments": tok + ".",
        "5-segments (JWE-like)": "%s.%s.%s.%s.%s" % (h, "", p, "", s),
        "2-segments": "%s.%s" % (h, p),
        "leading-dot": "." + tok,
        "bad-char": "%s.%s.%s" % (h, p, s[:-1] + "*"),
        "len%4==1": "%s.%s.%s" % (h, p, s + "A" if len(s) % 4 != 0 else s + "A"),
    }
    if "-" not in s and "_" not in s:
        bad.pop("std-alphabet-sig")
    for seg_i, seg in enumerate((h, p, s)):
        f = _flip_low_bits(seg)
        if f:
            segs = [h, p, s]
            segs[seg_i] = f
            bad["low-bits-of-segment-%d" % seg_i] = ".".join(segs)
    for name, t in bad.items():
        if t == tok:
            continue
        target.assert_rejected(t, name)
    # a header/payload re-encoded with a padded/standard-alphabet base64 then signed
    # correctly: the signature covers the odd text, the decoder must still refuse it
    import base64
    hb = base64.b64encode(jdump(target.header)).decode()
    pb = base64.b64encode(jdump(target.claims)).decode()
    si = ("%s.%s" % (hb, pb)).encode()
    target.assert_rejected("%s.%s" % (si.decode(), b64u(target.raw_sign(si))), "std base64")
    target.check_healthy()


def test_json_duplicates_and_structure(target):
    c = target.claims
    H = '{"alg":"%s","typ":"JWT","kid":"%s"' % (target.alg, target.kid)

    def payload_with(extra_members):
        body = jdump(c)[:-1].decode()
        return (body + "," + extra_members + "}").encode()

    cases = {
        "dup alg in header (none last)": (H + ',"alg":"none"}').encode(),
        "dup alg in header (none first)": ('{"alg":"none",' + H[1:] + "}").encode(),
        "dup kid in header": (H + ',"kid":"other"}').encode(),
    }
    for name, hdr in cases.items():
        target.assert_rejected(target.forge(header=hdr), name)
    pcases = {
        "dup token_type": payload_with('"token_type":"refresh"'),
        "dup user_id": payload_with('"user_id":"999"'),
        "dup exp": payload_with('"exp":9999999999'),
        "dup sid": payload_with('"sid":"%s"' % ("0" * 32)),
        "dup jti": payload_with('"jti":"%s"' % ("1" * 32)),
        "escaped dup exp": payload_with('"\\u0065xp":9999999999'),
        "trailing garbage": jdump(c) + b"x",
        "two objects": jdump(c) + jdump(c),
        "bom": b"\xef\xbb\xbf" + jdump(c),
        "invalid utf-8": payload_with('"x":"\xff"'.encode("latin-1").decode("latin-1")).replace(
            b"\xc3\xbf", b"\xff"),
        "array": b"[" + jdump(c) + b"]",
        "string": b'"x"',
        "null": b"null",
        "nested 10000": payload_with('"n":' + "[" * 10000 + "]" * 10000),
        "nested 200 objects": payload_with('"n":' + '{"a":' * 200 + "1" + "}" * 200),
        "comment": jdump(c)[:-1] + b"/*x*/}",
        "single quotes": jdump(c).replace(b'"token_type"', b"'token_type'"),
        "unescaped control": payload_with('"x":"a\x01b"'),
        "lone surrogate": payload_with('"x":"\\ud800"'),
    }
    for name, pl in pcases.items():
        target.assert_rejected(target.forge(payload=pl), name, statuses=(401, 413, 431))
    # a huge number in a claim jwtd does not read is valid JSON: either answer, never a 5xx
    for pl in (payload_with('"n":1' + "0" * 5000), payload_with('"n":1e999999')):
        assert target.me(target.forge(payload=pl)).status_code in (200, 401)
    target.check_healthy()


def test_claim_type_confusion(target):
    now = target.claims["iat"]
    future = now + 3600
    cases = {
        "exp string": {"exp": str(future)},
        "exp float past": {"exp": now - 10.5},
        "exp bool": {"exp": True},
        "exp null": {"exp": None},
        "exp array": {"exp": [future]},
        "exp object": {"exp": {"v": future}},
        "exp huge": {"exp": 1e300},
        "exp negative": {"exp": -1},
        "exp missing": {"exp": "__del__"},
        "exp past": {"exp": now - 100},
        "iat string": {"iat": str(now)},
        "iat object": {"iat": {}},
        "nbf future": {"nbf": future},
        "nbf string": {"nbf": "0"},
        "user_id object": {"user_id": {"id": "1"}},
        "user_id array": {"user_id": ["1"]},
        "user_id bool": {"user_id": True},
        "user_id null": {"user_id": None},
        "user_id missing": {"user_id": "__del__"},
        "token_type array": {"token_type": ["access"]},
        "token_type null": {"token_type": None},
        "token_type missing": {"token_type": "__del__"},
        "token_type nul": {"token_type": "access\u0000"},
        "jti number": {"jti": 12345},
        "jti missing": {"jti": "__del__"},
        "sid object": {"sid": {}},
    }
    for name, ch in cases.items():
        claims = dict(target.claims)
        for k, v in ch.items():
            if v == "__del__":
                claims.pop(k)
            else:
                claims[k] = v
        target.assert_rejected(target.forge(payload=claims), name)
    # well-typed but naming no user (only the key holder can mint these): the signature
    # check passes, so /api/token/verify/ may say 200, but no protected route serves them
    for tt in ("Access", "ACCESS", "access ", "refresh", "id", ""):
        target.assert_rejected(target.forge(token_type=tt), "token_type %r" % tt,
                               verify_too=False)
    # a member whose name only starts with "token_type" (NUL, escapes) is another member:
    # a refresh payload with "token_type\u0000":"access" appended is still a refresh token
    rp = jdump(dict(target.claims, token_type="refresh"))[:-1] + b',"token_type\\u0000":"access"}'
    target.assert_rejected(target.forge(payload=rp), "token_type NUL twin", verify_too=False)
    rp = jdump(dict(target.claims, token_type="refresh"))[:-1] + b',"token_typ\\u0065":"access"}'
    target.assert_rejected(target.forge(payload=rp), "escaped token_type duplicate")
    for uid in ("1 OR 1=1", "-1", "9" * 40, "0", "999", "1\u0000", " 1", "1 ", "+1", "0x1", "1.0"):
        tok = target.forge(user_id=uid, sub=uid)
        target.assert_rejected(tok, "user_id %r" % uid, verify_too=False)
    target.check_healthy()


def test_oversized_tokens(target):
    # padding claims up to and past every limit: refused, never a crash or a 5xx
    for n in (8 * 1024, 64 * 1024, 900 * 1024):
        tok = target.forge(pad="x" * n)
        target.assert_rejected(tok, "token with %d bytes of claims" % n,
                               statuses=(400, 401, 413, 431))
    target.check_healthy()

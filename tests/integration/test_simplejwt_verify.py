"""POST /api/token/verify/ (docs/api.md §2-4; golden cases 17-26): any token type,
signature/format/alg/expiry checks, and the deliberate differences from Django: a token
whose signature's padding bits were changed is REJECTED (golden 22 is 200 for Django), and
a blacklisted token is 401 token_not_valid "Token is blacklisted" (golden 19 is 400)."""

import time

import pytest

from peers import (SHARED_SECRET, alg_none, b64u, check_error, flip_data_bit,
                   flip_padding_bits, hs256_sign, jwt_parts, resign, shared_jwtd,
                   tamper_payload)  # noqa: F401 (fixtures)


def test_17_verify_access(shared_jwtd):
    pair = shared_jwtd.login()
    r = shared_jwtd.verify(pair["access"])
    assert r.status_code == 200, r.text
    assert r.json() == {}


def test_18_verify_refresh_token(shared_jwtd):
    pair = shared_jwtd.login()
    rotated = shared_jwtd.refresh(pair["refresh"]).json()["refresh"]
    r = shared_jwtd.verify(rotated)
    assert r.status_code == 200, r.text
    assert r.json() == {}


def test_19_verify_blacklisted_refresh_is_401(shared_jwtd):
    pair = shared_jwtd.login()
    assert shared_jwtd.blacklist(pair["refresh"]).status_code == 200
    r = shared_jwtd.verify(pair["refresh"])
    # Django: 400 {"non_field_errors":["Token is blacklisted"]}; docs/api.md §4: 401
    assert r.status_code == 401, r.text
    assert r.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="api"')


def test_20_verify_tampered_payload(shared_jwtd):
    pair = shared_jwtd.login()
    bad = tamper_payload(pair["access"], user_id="2", role="admin")
    check_error(shared_jwtd.verify(bad), 20)


def test_21_verify_tampered_last_char(shared_jwtd):
    pair = shared_jwtd.login()
    check_error(shared_jwtd.verify(flip_data_bit(pair["access"])), 21)


def test_22_padding_bits_flipped_rejected(shared_jwtd):
    """A different token string that decodes to the same signature: Django accepts it
    (golden 22: 200); jwtd requires canonical base64url and rejects it."""
    pair = shared_jwtd.login()
    for tok in (pair["access"], pair["refresh"]):
        r = shared_jwtd.verify(flip_padding_bits(tok))
        assert r.status_code == 401, "padding-bit variant accepted: %d %s" % (r.status_code,
                                                                             r.text)
        assert r.json() == {"detail": "Token is invalid or expired", "code": "token_not_valid"}
    assert shared_jwtd.verify(pair["access"]).status_code == 200


def test_23_verify_expired(shared_jwtd):
    pair = shared_jwtd.login()
    now = int(time.time())
    expired = resign(pair["access"], SHARED_SECRET, iat=now - 960, exp=now - 60)
    check_error(shared_jwtd.verify(expired), 23)


def test_24_verify_alg_none(shared_jwtd):
    pair = shared_jwtd.login()
    check_error(shared_jwtd.verify(alg_none(pair["access"])), 24)
    # also with the real kid kept in the header
    h, p, _ = pair["access"].split(".")
    header = jwt_parts(pair["access"])[0]
    header["alg"] = "none"
    import json
    tok = "%s.%s." % (b64u(json.dumps(header).encode()), p)
    check_error(shared_jwtd.verify(tok), 24)


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "", "...", "x" * 5000,
                                     "eyJhbGciOiJIUzI1NiJ9.e30.", "a.b.c.d.e"])
def test_25_verify_garbage(shared_jwtd, garbage):
    r = shared_jwtd.verify(garbage)
    if garbage == "":
        # blank: a field error, DRF's "This field may not be blank."
        assert r.status_code == 400, r.text
        assert r.json()["token"] == ["This field may not be blank."]
        assert r.json()["code"] == "invalid_request"
        return
    check_error(r, 25)


def test_26_verify_missing_field(shared_jwtd):
    check_error(shared_jwtd.post("/api/token/verify/", {}), 26)


def test_verify_wrong_key_same_kid(shared_jwtd):
    pair = shared_jwtd.login()
    forged = resign(pair["access"], "another-secret-of-at-least-32-bytes-xxxxxxxx")
    check_error(shared_jwtd.verify(forged), 20)


def test_verify_future_expiry_forged_rejected(shared_jwtd):
    """Extending exp without the key: signature no longer matches."""
    pair = shared_jwtd.login()
    bad = tamper_payload(pair["access"], exp=int(time.time()) + 10 * 365 * 86400)
    check_error(shared_jwtd.verify(bad), 20)


def test_verify_unknown_crit_header_rejected(shared_jwtd):
    pair = shared_jwtd.login()
    header, payload = jwt_parts(pair["access"])
    header["crit"] = ["x-unknown"]
    header["x-unknown"] = 1
    tok = hs256_sign(header, payload, SHARED_SECRET)
    check_error(shared_jwtd.verify(tok), 20)


def test_verify_alg_mismatch_rejected(shared_jwtd):
    """The header says HS512 for an HS256 key: not accepted (docs/api.md §3)."""
    pair = shared_jwtd.login()
    import hashlib
    import hmac
    import json
    header, payload = jwt_parts(pair["access"])
    header["alg"] = "HS512"
    h = b64u(json.dumps(header, separators=(",", ":")).encode())
    p = b64u(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(SHARED_SECRET.encode(), ("%s.%s" % (h, p)).encode(), hashlib.sha512).digest()
    check_error(shared_jwtd.verify("%s.%s.%s" % (h, p, b64u(sig))), 20)


def test_verify_wrong_kid_rejected(shared_jwtd):
    pair = shared_jwtd.login()
    header, payload = jwt_parts(pair["access"])
    header["kid"] = "not-a-known-kid"
    check_error(shared_jwtd.verify(hs256_sign(header, payload, SHARED_SECRET)), 20)

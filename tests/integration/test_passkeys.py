"""Passkeys (WebAuthn Level 3) through the HTTP routes: registration and sign-in options in
the standard JSON form, registration with attestation none / packed self / packed x5c over
ES256, EdDSA and RS256 credentials, username-less and username sign-in answered as
/auth/login, and the refusals: a replayed or foreign challenge, the wrong origin, a cloned
authenticator (counter going backwards), an unknown credential, a missing userHandle,
user verification when required, malformed bodies, passkeys switched off.

The authenticator is tests/vectors/webauthn/softauthn.py (Python's cryptography); the
Chromium tests (tests/e2e/passkey.test.js) drive a real browser's virtual authenticator."""

import os
import sys
import time

import pytest

from peers import claims
from svc_helpers import check_error, svc_factory  # noqa: F401 (fixture)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "vectors", "webauthn"))
from softauthn import (AT, EDDSA, ES256, RS256, UP, UV, Credential, b64u,  # noqa: E402
                       client_data, unb64u)

RP = "localhost"
ORIGIN = "http://localhost:8000"


@pytest.fixture
def pk(svc_factory):  # noqa: F811
    return svc_factory(JWTD_WEBAUTHN_RP_ID=RP, JWTD_WEBAUTHN_ORIGINS=ORIGIN + ",https://other.test")


def token_of(s, name="u_user"):
    return s.auth_login(name)["access_token"]


def reg_options(s, tok):
    r = s.req("POST", "/auth/webauthn/register/options", tok)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()


def register(s, tok, cred=None, name="My key", **kw):
    o = reg_options(s, tok)
    cred = cred or Credential(ES256, RP)
    cred.user_handle = unb64u(o["user"]["id"])
    body = cred.registration_json(unb64u(o["challenge"]), ORIGIN, **kw)
    body["name"] = name
    return cred, s.req("POST", "/auth/webauthn/register", tok, json=body)


def login_options(s, body=None):
    r = s.post("/auth/webauthn/login/options", body if body is not None else {})
    assert r.status_code == 200, r.text
    return r.json()


def login(s, cred, o=None, **kw):
    o = o or login_options(s)
    body = {"challenge_id": o["challenge_id"],
            "credential": cred.assertion_json(unb64u(o["challenge"]), ORIGIN, **kw)}
    return s.post("/auth/webauthn/login", body)


def test_options_are_standard_json(pk):
    tok = token_of(pk)
    o = reg_options(pk, tok)
    assert o["rp"] == {"id": RP, "name": "jwtd"}
    assert len(unb64u(o["challenge"])) == 32 and len(unb64u(o["user"]["id"])) == 32
    assert o["user"]["name"] == "u_user" and o["user"]["displayName"] == "User Tester"
    assert [p["alg"] for p in o["pubKeyCredParams"]] == [-8, -7, -257]
    assert o["authenticatorSelection"]["residentKey"] == "required"
    assert o["authenticatorSelection"]["userVerification"] == "preferred"
    assert o["excludeCredentials"] == [] and o["attestation"] == "none"
    assert o["timeout"] == 300000
    # every challenge is new
    assert reg_options(pk, tok)["challenge"] != o["challenge"]
    lo = login_options(pk)
    assert lo["rpId"] == RP and lo["allowCredentials"] == [] and len(lo["challenge_id"]) == 32
    check_error(pk.post("/auth/webauthn/register/options"), 401, "not_authenticated")


def test_register_then_sign_in_without_username(pk):
    tok = token_of(pk)
    cred, r = register(pk, tok)
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["type"] == "webauthn" and f["name"] == "My key" and f["last_used_at"] is None
    assert f["transports"] == ["internal"] and isinstance(f["id"], int)
    r = login(pk, cred)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["token_type"] == "bearer" and t["user"]["username"] == "u_user"
    assert claims(t["access_token"])["username"] == "u_user"
    assert pk.get("/auth/me", t["access_token"]).json()["username"] == "u_user"
    # the refresh token is a normal one
    r = pk.post("/auth/refresh", {"refresh_token": t["refresh_token"]})
    assert r.status_code == 200, r.text
    lst = pk.req("GET", "/auth/webauthn/credentials", tok).json()
    assert len(lst) == 1 and lst[0]["last_used_at"] is not None
    # the user handle stays the user's, and the credential is now excluded
    o = reg_options(pk, tok)
    assert unb64u(o["user"]["id"]) == cred.user_handle
    assert [c["id"] for c in o["excludeCredentials"]] == [b64u(cred.id)]


@pytest.mark.parametrize("alg,fmt", [(ES256, "packed"), (EDDSA, "packed"), (RS256, "packed"),
                                     (EDDSA, "none"), (ES256, "packed-x5c")])
def test_algorithms_and_attestations(pk, alg, fmt):
    tok = token_of(pk)
    cred, r = register(pk, tok, Credential(alg, RP), fmt=fmt)
    assert r.status_code == 201, r.text
    o = login_options(pk, {"username": "u_user"})
    assert b64u(cred.id) in [c["id"] for c in o["allowCredentials"]]
    r = login(pk, cred, o)
    assert r.status_code == 200, r.text


def test_replayed_challenge(pk):
    tok = token_of(pk)
    o = reg_options(pk, tok)
    cred = Credential(ES256, RP, user_handle=unb64u(o["user"]["id"]))
    body = cred.registration_json(unb64u(o["challenge"]), ORIGIN)
    assert pk.req("POST", "/auth/webauthn/register", tok, json=body).status_code == 201
    r = pk.req("POST", "/auth/webauthn/register", tok, json=body)
    check_error(r, 400, "challenge_invalid")
    lo = login_options(pk)
    body = {"challenge_id": lo["challenge_id"],
            "credential": cred.assertion_json(unb64u(lo["challenge"]), ORIGIN)}
    assert pk.post("/auth/webauthn/login", body).status_code == 200
    # the same response again, and a fresh signature over the used challenge
    check_error(pk.post("/auth/webauthn/login", body), 400, "challenge_invalid")
    body["credential"] = cred.assertion_json(unb64u(lo["challenge"]), ORIGIN)
    check_error(pk.post("/auth/webauthn/login", body), 400, "challenge_invalid")
    # an id never issued
    body["challenge_id"] = "0" * 32
    check_error(pk.post("/auth/webauthn/login", body), 400, "challenge_invalid")


def test_registration_challenge_belongs_to_its_user(pk):
    a, b = token_of(pk), token_of(pk, "u_admin")
    o = reg_options(pk, a)
    cred = Credential(ES256, RP)
    body = cred.registration_json(unb64u(o["challenge"]), ORIGIN)
    check_error(pk.req("POST", "/auth/webauthn/register", b, json=body), 400, "challenge_invalid")


def test_wrong_origin_and_rp(pk):
    tok = token_of(pk)
    o = reg_options(pk, tok)
    cred = Credential(ES256, RP, user_handle=unb64u(o["user"]["id"]))
    body = cred.registration_json(unb64u(o["challenge"]), "http://evil.test:8000")
    body_ = check_error(pk.req("POST", "/auth/webauthn/register", tok, json=body), 400,
                        "passkey_rejected")
    assert "origin" in body_["detail"]
    # a second listed origin is accepted
    o = reg_options(pk, tok)
    cred.user_handle = unb64u(o["user"]["id"])  # none stored yet: a new handle
    body = cred.registration_json(unb64u(o["challenge"]), "https://other.test")
    assert pk.req("POST", "/auth/webauthn/register", tok, json=body).status_code == 201
    o = login_options(pk)
    body = {"challenge_id": o["challenge_id"],
            "credential": cred.assertion_json(unb64u(o["challenge"]), "https://evil.test")}
    check_error(pk.post("/auth/webauthn/login", body), 401, "passkey_rejected")
    o = login_options(pk)
    body = {"challenge_id": o["challenge_id"],
            "credential": cred.assertion_json(unb64u(o["challenge"]), ORIGIN,
                                              rp_id="evil.test")}
    b = check_error(pk.post("/auth/webauthn/login", body), 401, "passkey_rejected")
    assert "rpIdHash" in b["detail"]


def test_cloned_authenticator(pk):
    tok = token_of(pk)
    cred, r = register(pk, tok)
    assert r.status_code == 201
    assert login(pk, cred, count=5).status_code == 200
    check_error(login(pk, cred, count=5), 401, "passkey_cloned")
    check_error(login(pk, cred, count=3), 401, "passkey_cloned")
    assert login(pk, cred, count=6).status_code == 200


def test_counter_zero_authenticator_is_accepted(pk):
    tok = token_of(pk)
    cred, r = register(pk, tok)
    assert r.status_code == 201
    for _ in range(2):
        assert login(pk, cred, count=0).status_code == 200


def test_unknown_credential_and_user_handle(pk):
    tok = token_of(pk)
    cred, r = register(pk, tok)
    assert r.status_code == 201
    stranger = Credential(ES256, RP, user_handle=cred.user_handle)
    check_error(login(pk, stranger), 401, "passkey_rejected")
    # username-less sign-in needs the userHandle, and it must be the credential's
    handle = cred.user_handle
    cred.user_handle = b""
    check_error(login(pk, cred), 401, "passkey_rejected")
    cred.user_handle = b"x" * 32
    check_error(login(pk, cred), 401, "passkey_rejected")
    cred.user_handle = handle
    # options for another user: this credential cannot answer them
    o = login_options(pk, {"username": "u_admin"})
    assert o["allowCredentials"] == []
    check_error(login(pk, cred, o), 401, "passkey_rejected")
    # an unknown username gets the same shape of answer
    o = login_options(pk, {"username": "nobody-here"})
    assert o["allowCredentials"] == []
    check_error(login(pk, cred, o), 401, "passkey_rejected")
    assert login(pk, cred).status_code == 200


def test_user_presence_and_verification(svc_factory):  # noqa: F811
    s = svc_factory(JWTD_WEBAUTHN_RP_ID=RP, JWTD_WEBAUTHN_ORIGINS=ORIGIN,
                    JWTD_WEBAUTHN_USER_VERIFICATION="required")
    tok = token_of(s)
    assert reg_options(s, tok)["authenticatorSelection"]["userVerification"] == "required"
    _, r = register(s, tok, flags=UP | AT)
    b = check_error(r, 400, "passkey_rejected")
    assert "verify the user" in b["detail"]
    cred, r = register(s, tok)
    assert r.status_code == 201
    check_error(login(s, cred, flags=UP), 401, "passkey_rejected")
    check_error(login(s, cred, flags=UV), 401, "passkey_rejected")
    assert login(s, cred, flags=UP | UV).status_code == 200


def test_remove_passkey(pk):
    tok, other = token_of(pk), token_of(pk, "u_admin")
    cred, r = register(pk, tok)
    fid = r.json()["id"]
    check_error(pk.req("DELETE", "/auth/webauthn/credentials/%d" % fid, other), 404, "not_found")
    assert pk.req("DELETE", "/auth/webauthn/credentials/%d" % fid, tok).status_code == 204
    assert pk.req("GET", "/auth/webauthn/credentials", tok).json() == []
    check_error(login(pk, cred), 401, "passkey_rejected")
    check_error(pk.req("DELETE", "/auth/webauthn/credentials/%d" % fid, tok), 404, "not_found")


def test_malformed_requests(pk):
    tok = token_of(pk)
    r = pk.req("POST", "/auth/webauthn/register", tok, json={"id": "AA"})
    check_error(r, 400, "invalid_request")
    r = pk.req("POST", "/auth/webauthn/register", tok, data=b"{nope",
               headers={"Content-Type": "application/json"})
    check_error(r, 400, "invalid_request")
    o = reg_options(pk, tok)
    cred = Credential(ES256, RP)
    body = cred.registration_json(unb64u(o["challenge"]), ORIGIN)
    body["response"]["attestationObject"] += "=="
    check_error(pk.req("POST", "/auth/webauthn/register", tok, json=body), 400, "invalid_request")
    body = cred.registration_json(unb64u(o["challenge"]), ORIGIN)
    body["name"] = "n" * 65
    check_error(pk.req("POST", "/auth/webauthn/register", tok, json=body), 400, "invalid_request")
    # garbage after the attestation object is refused, not ignored
    cdj, att = cred.register(unb64u(o["challenge"]), ORIGIN)
    body = cred.registration_json(unb64u(o["challenge"]), ORIGIN)
    body["response"]["attestationObject"] = b64u(att + b"\x00")
    b = check_error(pk.req("POST", "/auth/webauthn/register", tok, json=body), 400,
                    "passkey_rejected")
    assert "trailing" in b["detail"]
    check_error(pk.post("/auth/webauthn/login", {}), 400, "invalid_request")
    check_error(pk.post("/auth/webauthn/login", {"challenge_id": "a" * 32}), 400,
                "invalid_request")
    check_error(pk.post("/auth/webauthn/login/options", {"username": 5}), 400, "invalid_request")
    cd = client_data("webauthn.get", b"x" * 32, ORIGIN)
    body = {"challenge_id": "a" * 32, "credential": {
        "id": "AA", "rawId": "AQ", "type": "public-key",
        "response": {"clientDataJSON": b64u(cd), "authenticatorData": "AA", "signature": "AA"}}}
    check_error(pk.post("/auth/webauthn/login", body), 400, "invalid_request")


def test_passkeys_off_without_rp_id(svc_factory):  # noqa: F811
    s = svc_factory()
    tok = token_of(s)
    check_error(s.req("POST", "/auth/webauthn/register/options", tok), 404, "passkeys_disabled")
    check_error(s.post("/auth/webauthn/login/options", {}), 404, "passkeys_disabled")


def test_rp_id_defaults_to_public_url(svc_factory):  # noqa: F811
    s = svc_factory(JWTD_PUBLIC_URL="https://auth.example.test/")
    o = login_options(s)
    assert o["rpId"] == "auth.example.test"
    tok = token_of(s)
    opts = reg_options(s, tok)
    cred = Credential(ES256, "auth.example.test")
    body = cred.registration_json(unb64u(opts["challenge"]), "https://auth.example.test")
    assert s.req("POST", "/auth/webauthn/register", tok, json=body).status_code == 201


# ---- with the MFA step of password logins ------------------------------------------------------

def test_passkey_sign_in_claims(pk):
    tok = token_of(pk)
    cred, r = register(pk, tok)
    assert r.status_code == 201
    t = login(pk, cred).json()
    c = claims(t["access_token"])
    assert c["amr"] == ["hwk", "user"] and isinstance(c["auth_time"], int)


def test_passkey_is_a_second_factor(pk):
    tok = token_of(pk)
    cred, r = register(pk, tok)
    fid = "webauthn-%d" % r.json()["id"]
    # a password login now needs the second step, and names the passkey as a factor
    r = pk.post("/auth/login", {"username": "u_user", "password": "testpass123"})
    b = check_error(r, 401, "mfa_required")
    assert {"id": fid, "type": "webauthn"} in b["factors"]
    o = login_options(pk, {"mfa_token": b["mfa_token"]})
    assert [c["id"] for c in o["allowCredentials"]] == [b64u(cred.id)]
    r = login(pk, cred, o)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["token_type"] == "bearer"  # the shape of the login that started it
    c = claims(t["access_token"])
    assert set(c["amr"]) == {"pwd", "hwk", "mfa"}
    # the mfa_token is used up: its options cannot be asked for again
    check_error(pk.post("/auth/webauthn/login/options", {"mfa_token": b["mfa_token"]}), 401,
                "mfa_token_invalid")
    # SimpleJWT's family answers in its own shape
    r = pk.post("/api/token/", {"username": "u_user", "password": "testpass123"})
    b = check_error(r, 401, "mfa_required")
    r = login(pk, cred, login_options(pk, {"mfa_token": b["mfa_token"]}))
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"access", "refresh"}
    # the factor list has it; removing it there ends the second step
    lst = pk.req("GET", "/auth/mfa/factors", tok).json()
    assert [f["id"] for f in lst] == [fid] and lst[0]["name"] == "My key"
    assert pk.req("DELETE", "/auth/mfa/factors/" + fid, tok).status_code == 204
    assert pk.req("GET", "/auth/mfa/factors", tok).json() == []
    assert pk.auth_login("u_user")["access_token"]


def test_mfa_step_only_for_its_user(pk):
    tok, other = token_of(pk), token_of(pk, "u_admin")
    cred, r = register(pk, tok)
    assert r.status_code == 201
    cred2, r = register(pk, other)
    assert r.status_code == 201
    b = check_error(pk.post("/auth/login", {"username": "u_user", "password": "testpass123"}),
                    401, "mfa_required")
    o = login_options(pk, {"mfa_token": b["mfa_token"]})
    # another user's passkey cannot finish u_user's step
    check_error(login(pk, cred2, o), 401, "passkey_rejected")
    check_error(pk.post("/auth/webauthn/login/options", {"mfa_token": "0" * 64}), 401,
                "mfa_token_invalid")


def test_required_roles_and_user_verification(svc_factory):  # noqa: F811
    """JWTD_MFA_REQUIRED_ROLES: a passkey that verified its user (UV: PIN or biometric) is a
    multi-factor authenticator and gives full tokens; without UV it is one factor, so the
    user gets the enrolment token, or the second step once they have a TOTP factor."""
    import pyotp
    s = svc_factory(JWTD_WEBAUTHN_RP_ID=RP, JWTD_WEBAUTHN_ORIGINS=ORIGIN,
                    JWTD_MFA_REQUIRED_ROLES="admin")
    cred, r = register(s, token_of(s))
    assert r.status_code == 201, r.text
    s.cli("user", "set-role", "u_user", "admin")
    # with UV: full tokens, a passkey sign-in's amr
    r = login(s, cred, flags=UP | UV)
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["amr"] == ["hwk", "user"]
    assert r.json()["user"]["role"] == "admin"
    # without UV and without another factor: only the token that enrolls one
    b = check_error(login(s, cred, flags=UP), 403, "mfa_enrollment_required")
    enroll = b["enroll_token"]
    assert claims(enroll)["token_type"] == "mfa_enroll" and "access_token" not in b
    e = s.req("POST", "/auth/mfa/totp/enroll", enroll).json()
    totp = pyotp.TOTP(e["secret"])
    r = s.req("POST", "/auth/mfa/totp/activate", enroll,
              json={"factor_id": e["factor_id"], "code": totp.now()})
    assert r.status_code == 200, r.text
    # without UV, with a TOTP factor: the second step, which the passkey cannot take itself
    b = check_error(login(s, cred, flags=UP), 401, "mfa_required")
    assert {"totp"} <= {f["type"] for f in b["factors"]}
    check_error(login(s, cred, login_options(s, {"mfa_token": b["mfa_token"]})), 401,
                "mfa_token_invalid")
    r = s.post("/auth/mfa/verify", {"mfa_token": b["mfa_token"],
                                    "code": totp.at(time.time() + 30)})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"  # the shape a passkey sign-in answers in
    assert set(claims(r.json()["access_token"])["amr"]) == {"hwk", "user", "otp", "mfa"}
    # a user of another role is not concerned: one factor without UV is enough
    cred2, r = register(s, token_of(s, "u_instructor"))
    assert r.status_code == 201, r.text
    r = login(s, cred2, flags=UP)
    assert r.status_code == 200, r.text

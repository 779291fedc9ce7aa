"""Multi-factor authentication (docs/mfa.md): TOTP enrolment and activation, the second step
of every password login family, recovery codes, the limits of an mfa_token, amr/auth_time
in tokens and across refreshes, step-up on factor removal and JWTD_MFA_REQUIRED_ROLES.

TOTP codes are computed by pyotp (Debian's python3-pyotp), not by jwtd's code. A factor
accepts each time step once, so each test that signs in more than once with TOTP uses a
code of another step (pyotp's at(now +/- 30)) or a user of its own.
"""

import sqlite3
import time
import uuid

import jwt
import pyotp
import pytest

from peers import TEST_PASSWORD
from svc_helpers import check_error, svc_factory  # noqa: F401  (fixture)


def new_user(s, role=None):
    name = "mfa_" + uuid.uuid4().hex[:10]
    s.create_user(name, email=name + "@example.com", role=role)
    return name


def password_login(s, name):
    r = s.post("/api/token/", {"username": name, "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token):
    return {"Authorization": "Bearer " + token}


def enroll(s, token):
    """Enrolls and activates TOTP with the caller's token: (pyotp.TOTP, factor id, codes)."""
    r = s.post("/auth/mfa/totp/enroll", headers=bearer(token))
    assert r.status_code == 200, r.text
    e = r.json()
    assert set(e) == {"factor_id", "secret", "otpauth_uri", "qr_svg"}, e
    assert e["qr_svg"].startswith("<svg") and e["qr_svg"].endswith("</svg>")
    parsed = pyotp.parse_uri(e["otpauth_uri"])
    assert parsed.secret == e["secret"] and parsed.digits == 6 and parsed.interval == 30
    totp = pyotp.TOTP(e["secret"])
    # not active yet: a login is still one step
    r = s.post("/auth/mfa/totp/activate", {"factor_id": e["factor_id"], "code": "000000"
                                           if totp.now() != "000000" else "111111"},
               headers=bearer(token))
    check_error(r, 400, "invalid_code")
    r = s.post("/auth/mfa/totp/activate", {"factor_id": e["factor_id"], "code": totp.now()},
               headers=bearer(token))
    assert r.status_code == 200, r.text
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    return totp, e["factor_id"], codes


def enrolled_user(s, role=None):
    name = new_user(s, role)
    tokens = password_login(s, name)
    totp, fid, codes = enroll(s, tokens["access"])
    return name, totp, fid, codes


def next_code(totp):
    """A code of the next time step: accepted once (within +/- 1 step), later than now's."""
    return totp.at(time.time() + 30)


def mfa_step(r):
    body = check_error(r, 401, "mfa_required")
    assert len(body["mfa_token"]) == 64
    assert body["factors"] and all(set(f) == {"id", "type"} for f in body["factors"])
    assert "access" not in body and "refresh" not in body and "access_token" not in body
    return body


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_enroll_activate_list_and_simplejwt_login(svc_factory):
    s = svc_factory()
    name, totp, fid, codes = enrolled_user(s)
    r = s.get("/auth/mfa/factors", token=password_login_after_mfa(s, name, totp)["access"])
    assert r.status_code == 200, r.text
    factors = r.json()
    assert [f["id"] for f in factors] == [fid]
    assert factors[0]["type"] == "totp" and factors[0]["last_used_at"] is not None
    assert factors[0]["created_at"] <= time.time() + 1
    # the secret is stored encrypted, never in clear
    db = s.env["JWTD_DATABASE_URL"]
    if db.startswith("sqlite:"):
        con = sqlite3.connect(db[len("sqlite:"):].replace("///", "/", 1))
        stored = con.execute("SELECT secret FROM mfa_factors").fetchall()
        con.close()
        assert stored and all(row[0].startswith("v1:") for row in stored)
        secret = pyotp.parse_uri(totp.provisioning_uri("x")).secret
        assert all(secret not in row[0] for row in stored)
    assert secret_not_in_logs(s, totp.secret)


def password_login_after_mfa(s, name, totp, code=None):
    r = s.post("/api/token/", {"username": name, "password": TEST_PASSWORD})
    body = mfa_step(r)
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": code or next_code(totp)})
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"refresh", "access", "user"}
    return out


def secret_not_in_logs(s, secret):
    return secret not in s.srv.stderr()


def test_every_login_family_asks_for_the_second_step(svc_factory):
    s = svc_factory()
    # SimpleJWT
    name, totp, _, _ = enrolled_user(s)
    out = password_login_after_mfa(s, name, totp)
    c = claims(out["access"])
    assert c["amr"] == ["pwd", "otp", "mfa"] and abs(c["auth_time"] - time.time()) < 60
    assert c["token_type"] == "access" and c["user_id"] == out["user"]["id"].__str__()
    # the service family: its shape
    name, totp, _, _ = enrolled_user(s)
    r = s.post("/auth/login", {"username": name, "password": TEST_PASSWORD})
    body = mfa_step(r)
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": next_code(totp)})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer" and "access_token" in r.json()
    assert claims(r.json()["access_token"])["amr"] == ["pwd", "otp", "mfa"]
    # the OAuth2 password form of the same route
    name, totp, _, _ = enrolled_user(s)
    r = s.post("/auth/login", data={"username": name, "password": TEST_PASSWORD,
                                    "grant_type": "password"})
    mfa_step(r)
    # the mobile login: refresh in the body, no cookie
    name, totp, _, _ = enrolled_user(s)
    r = s.post("/api/auth/mobile/login/", {"username": name, "password": TEST_PASSWORD})
    body = mfa_step(r)
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": next_code(totp)})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access", "refresh", "user"} and "refresh_token" not in r.cookies
    # the cookie flow: the verify answer sets the refresh cookie
    name, totp, _, _ = enrolled_user(s)
    origin = s.url
    r = s.post("/api/auth/login/", {"username": name, "password": TEST_PASSWORD},
               headers={"Origin": origin})
    body = mfa_step(r)
    assert body["error"] and "refresh_token" not in r.cookies
    # bound to the Origin of the login
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": next_code(totp)},
               headers={"Origin": "http://evil.example"})
    check_error(r, 401, "mfa_token_invalid")
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": next_code(totp)},
               headers={"Origin": origin})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access", "user"}
    assert "refresh_token" in r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in r.headers["Set-Cookie"]


def test_totp_code_is_accepted_once(svc_factory):
    s = svc_factory()
    name, totp, _, _ = enrolled_user(s)
    code = next_code(totp)
    password_login_after_mfa(s, name, totp, code)
    body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": code})
    check_error(r, 401, "invalid_code")
    # an earlier step than the one used is refused too (the factor only moves forward)
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": totp.now()})
    check_error(r, 401, "invalid_code")


def test_recovery_code_is_single_use(svc_factory):
    s = svc_factory()
    name, totp, _, codes = enrolled_user(s)
    body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[0].lower()})
    assert r.status_code == 200, r.text
    assert claims(r.json()["access"])["amr"] == ["pwd", "otp", "mfa"]
    body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[0]})
    check_error(r, 401, "invalid_code")
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[1]})
    assert r.status_code == 200, r.text


def test_mfa_token_is_single_use_and_bounded(svc_factory):
    s = svc_factory()
    name, totp, _, codes = enrolled_user(s)
    body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[0]})
    assert r.status_code == 200, r.text
    # used: even with a right code
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[1]})
    check_error(r, 401, "mfa_token_invalid")
    # unknown
    r = s.post("/auth/mfa/verify", {"mfa_token": "0" * 64, "code": codes[1]})
    check_error(r, 401, "mfa_token_invalid")
    # missing fields
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"]})
    check_error(r, 400, "invalid_request")
    # five wrong codes kill the token, whatever comes next
    body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
    for _ in range(5):
        r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": "abcd-efgh"})
        check_error(r, 401, "invalid_code")
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[1]})
    check_error(r, 401, "mfa_token_invalid")


def test_wrong_codes_are_limited_per_user(svc_factory):
    s = svc_factory()
    name, totp, _, codes = enrolled_user(s)
    # ten wrong codes over several tokens: then even a right code waits
    for _ in range(2):
        body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
        for _ in range(5):
            r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": "zzzz-zzzz"})
            check_error(r, 401, "invalid_code")
    body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[0]})
    check_error(r, 429, "throttled")
    assert int(r.headers["Retry-After"]) > 0
    # another user is not affected
    other, totp2, _, _ = enrolled_user(s)
    password_login_after_mfa(s, other, totp2)


def test_expired_mfa_token(svc_factory):
    s = svc_factory()
    name, totp, _, codes = enrolled_user(s)
    body = mfa_step(s.post("/api/token/", {"username": name, "password": TEST_PASSWORD}))
    db = s.env["JWTD_DATABASE_URL"]
    if not db.startswith("sqlite:"):
        import pgdb
        pgdb.execute(db, "UPDATE mfa_challenges SET expires_at = expires_at - 301")
    else:
        con = sqlite3.connect(db[len("sqlite:"):].replace("///", "/", 1))
        con.execute("UPDATE mfa_challenges SET expires_at = expires_at - 301")
        con.commit()
        con.close()
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": codes[0]})
    check_error(r, 401, "mfa_token_invalid")


def test_amr_and_auth_time_are_kept_on_refresh(svc_factory):
    s = svc_factory()
    # a password-only login: amr ["pwd"]
    name = new_user(s)
    out = password_login(s, name)
    c = claims(out["access"])
    assert c["amr"] == ["pwd"] and isinstance(c["auth_time"], int)
    r = s.post("/api/token/refresh/", {"refresh": out["refresh"]})
    assert r.status_code == 200, r.text
    c2 = claims(r.json()["access"])
    assert c2["amr"] == ["pwd"] and c2["auth_time"] == c["auth_time"]
    # after MFA, through two rotations and both refresh routes
    name, totp, _, _ = enrolled_user(s)
    out = password_login_after_mfa(s, name, totp)
    first = claims(out["access"])
    r = s.post("/api/token/refresh/", {"refresh": out["refresh"]})
    assert r.status_code == 200, r.text
    r = s.post("/auth/refresh", {"refresh_token": r.json()["refresh"]})
    assert r.status_code == 200, r.text
    last = claims(r.json()["access_token"])
    assert last["amr"] == ["pwd", "otp", "mfa"] and last["auth_time"] == first["auth_time"]
    assert claims(r.json()["refresh_token"])["auth_time"] == first["auth_time"]


def test_removing_a_factor_needs_a_recent_sign_in(svc_factory):
    s = svc_factory()
    name, totp, fid, codes = enrolled_user(s)
    out = password_login_after_mfa(s, name, totp)
    # an access token whose sign-in is older than 10 minutes (signed with the test secret)
    old = claims(out["access"])
    old["auth_time"] -= 601
    kid = jwt.get_unverified_header(out["access"])["kid"]
    stale = jwt.encode(old, s.env["JWTD_SECRET_KEY"], algorithm="HS256", headers={"kid": kid})
    r = s.req("DELETE", "/auth/mfa/factors/" + fid, token=stale)
    check_error(r, 401, "reauthentication_required")
    # a token without auth_time at all (issued by `jwtd token issue`) is not recent either
    del old["auth_time"]
    r = s.req("DELETE", "/auth/mfa/factors/" + fid,
              token=jwt.encode(old, s.env["JWTD_SECRET_KEY"], algorithm="HS256",
                               headers={"kid": kid}))
    check_error(r, 401, "reauthentication_required")
    r = s.req("DELETE", "/auth/mfa/factors/999999", token=out["access"])
    check_error(r, 404, "not_found")
    r = s.req("DELETE", "/auth/mfa/factors/" + fid, token=out["access"])
    assert r.status_code == 204, r.text
    # no factor left: a password login is one step again, and the recovery codes are gone
    assert s.get("/auth/mfa/factors", token=out["access"]).json() == []
    password_login(s, name)


def test_other_users_factor_is_not_found(svc_factory):
    s = svc_factory()
    _, _, fid, _ = enrolled_user(s)
    other = password_login(s, new_user(s))
    r = s.req("DELETE", "/auth/mfa/factors/" + fid, token=other["access"])
    check_error(r, 404, "not_found")
    r = s.post("/auth/mfa/totp/activate", {"factor_id": fid, "code": "123456"},
               headers=bearer(other["access"]))
    check_error(r, 404, "not_found")


def test_mfa_routes_need_a_token(svc_factory):
    s = svc_factory()
    check_error(s.post("/auth/mfa/totp/enroll"), 401, "not_authenticated")
    check_error(s.get("/auth/mfa/factors"), 401, "not_authenticated")
    check_error(s.req("DELETE", "/auth/mfa/factors/1"), 401, "not_authenticated")


def test_required_roles_get_only_an_enrolment_token(svc_factory):
    s = svc_factory(JWTD_MFA_REQUIRED_ROLES="admin")
    # other roles are not concerned
    assert password_login(s, "u_user")["access"]
    r = s.post("/api/token/", {"username": "u_admin", "password": TEST_PASSWORD})
    body = check_error(r, 403, "mfa_enrollment_required")
    enroll_token = body["enroll_token"]
    assert "access" not in body and "refresh" not in body
    assert claims(enroll_token)["token_type"] == "mfa_enroll"
    # every other route refuses it
    for path in ("/auth/me", "/api/users/me/", "/protected", "/admin/dashboard", "/auth/sessions"):
        r = s.get(path, token=enroll_token)
        assert r.status_code == 401, (path, r.status_code, r.text)
    r = s.get("/auth/introspect", token=enroll_token)
    assert r.status_code == 401
    # it enrolls a factor; then the login asks for the second step and gives full tokens
    totp, fid, codes = enroll(s, enroll_token)
    r = s.post("/auth/login", {"username": "u_admin", "password": TEST_PASSWORD})
    body = mfa_step(r)
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": next_code(totp)})
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    assert s.get("/admin/dashboard", token=access).status_code == 200
    # it cannot remove the factor (no step-up with an enrolment token)
    r = s.req("DELETE", "/auth/mfa/factors/" + fid, token=enroll_token)
    assert r.status_code == 401

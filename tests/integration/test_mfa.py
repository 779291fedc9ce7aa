"""Multi-factor authentication (docs/mfa.md): TOTP enrolment and activation, the second step
of every password login family, recovery codes, the limits of an mfa_token, amr/auth_time
in tokens and across refreshes, step-up on factor removal and JWTD_MFA_REQUIRED_ROLES.

TOTP codes are computed by pyotp (Debian's python3-pyotp), not by jwtd's code. A factor
accepts each time step once, so each test that signs in more than once with TOTP uses a
code of another step (pyotp's at(now +/- 30)) or a user of its own.
"""

import time
import uuid

import jwt
import pyotp

import pgdb
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
    # the secret is stored encrypted, never in clear; recovery codes only hashed
    db = s.env["JWTD_DATABASE_URL"]
    stored = pgdb.db_query(db, "SELECT secret FROM mfa_factors")
    assert stored and all(row[0].startswith("v1:") for row in stored)
    assert all(totp.secret not in row[0] and totp.secret.lower() not in row[0] for row in stored)
    hashes = [row[0] for row in pgdb.db_query(db, "SELECT code_hash FROM mfa_recovery_codes")]
    assert len(hashes) == 10 and not set(hashes) & {c.replace("-", "") for c in codes}
    # and the session records how it was authenticated
    rows = pgdb.db_query(db, "SELECT amr FROM sessions WHERE amr IS NOT NULL")
    assert ("pwd otp mfa",) in [tuple(r) for r in rows]
    assert totp.secret not in s.srv.stderr()


def password_login_after_mfa(s, name, totp, code=None):
    r = s.post("/api/token/", {"username": name, "password": TEST_PASSWORD})
    body = mfa_step(r)
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": code or next_code(totp)})
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"refresh", "access", "user"}
    return out


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
    # five minutes later (the database clock of the challenge moved back, not the server's)
    pgdb.db_query(s.env["JWTD_DATABASE_URL"],
                  "UPDATE mfa_challenges SET expires_at = expires_at - 301")
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


def device_for(token):
    """The username a device token vouches for (its payload; jwtd checks the signature)."""
    c = jwt.decode(token, options={"verify_signature": False})
    assert len(c["device"]) == 32 and c["exp"] > time.time()
    return c["for"]


def test_second_step_earns_the_device_token(svc_factory):
    s = svc_factory()
    # a login of one step earns it (the control)
    r = s.post("/api/token/", {"username": "u_user", "password": TEST_PASSWORD})
    assert r.status_code == 200 and device_for(r.headers["X-Device-Token"]) == "u_user"
    # a login finished by its second step earns it too, in the family's way: the header...
    name, totp, _, _ = enrolled_user(s)
    r = s.post("/api/token/", {"username": name, "password": TEST_PASSWORD})
    body = mfa_step(r)
    assert "X-Device-Token" not in r.headers  # not for the password alone
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": next_code(totp)})
    assert r.status_code == 200, r.text
    assert device_for(r.headers["X-Device-Token"]) == name
    # ...or the cookie of the browser flow; and it is the login guard's: a trusted device
    name, totp, _, _ = enrolled_user(s)
    r = s.post("/api/auth/login/", {"username": name, "password": TEST_PASSWORD},
               headers={"Origin": s.url})
    body = mfa_step(r)
    r = s.post("/auth/mfa/verify", {"mfa_token": body["mfa_token"], "code": next_code(totp)},
               headers={"Origin": s.url})
    assert r.status_code == 200, r.text
    cookie = [c for c in r.headers["Set-Cookie"].split(", ") if c.startswith("device_token=")]
    assert cookie and "HttpOnly" in cookie[0]
    assert device_for(cookie[0].split(";")[0].split("=", 1)[1]) == name


def test_flush_expired_deletes_the_auth_tables(svc_factory):
    s = svc_factory()
    url = s.env["JWTD_DATABASE_URL"]
    now = int(time.time())
    uid = pgdb.db_query(url, "SELECT id FROM users WHERE username = ?", "u_user")[0][0]
    q = lambda sql, *a: pgdb.db_query(url, sql, *a)  # noqa: E731
    # MFA challenges: expired beyond the per-user attempt window (gone), expired within it
    # (kept: its wrong codes still count), live (kept)
    for h, created, expires in (("old", now - 2000, now - 1700), ("recent", now - 400, now - 100),
                                ("live", now, now + 300)):
        q("INSERT INTO mfa_challenges (token_hash, user_id, family, bind, amr, created_at, "
          "expires_at, attempts) VALUES (?, ?, 'simplejwt', '', '1', ?, ?, 1)",
          h, uid, created, expires)
    # OAuth codes: expired for more than an hour (gone), for a minute (kept: a replay is
    # still recognised)
    q("INSERT INTO oauth_clients (client_id, name, created_at) VALUES ('c1', 'c', ?)", now)
    for h, expires in (("old", now - 4000), ("recent", now - 60)):
        q("INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, auth_time, "
          "created_at, expires_at) VALUES (?, 'c1', ?, 'https://c.test/cb', ?, ?, ?)",
          h, uid, now, expires - 60, expires)
    # social sign-ins in progress: expired (gone), live (kept)
    for h, expires in (("old", now - 10), ("live", now + 600)):
        q("INSERT INTO oidc_states (state_hash, provider, bind_hash, nonce, verifier, "
          "redirect_uri, next, expires_at) VALUES (?, 'p', 'b', 'n', 'v', 'r', '/app/', ?)",
          h, expires)
    # e-mailed links: expired two days ago (gone), an hour ago (kept)
    for h, expires in (("old", now - 2 * 86400), ("recent", now - 3600)):
        q("INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at) "
          "VALUES (?, ?, 'verify', ?, ?)", h, uid, expires - 3600, expires)
    # mails: sent eight days ago (gone), pending that long (kept; its next attempt is later,
    # so that the server's sender leaves it alone here), sent today (kept)
    for state, created in (("sent", now - 8 * 86400), ("pending", now - 8 * 86400),
                           ("sent", now - 60)):
        q("INSERT INTO mail_outbox (kind, recipient, message, state, created_at, "
          "next_attempt_at) VALUES ('verify', 'a@b.test', 'm', ?, ?, ?)", state, created,
          now + 86400)
    out = s.cli("flush-expired").stdout.strip()
    assert out.startswith("deleted ") and out.endswith(
        ", 1 MFA challenges, 1 OAuth codes, 1 social sign-in states, 1 e-mailed links, 1 mails"), out
    assert sorted(r[0] for r in q("SELECT token_hash FROM mfa_challenges")) == ["live", "recent"]
    assert [r[0] for r in q("SELECT code_hash FROM oauth_codes")] == ["recent"]
    assert [r[0] for r in q("SELECT state_hash FROM oidc_states")] == ["live"]
    assert [r[0] for r in q("SELECT token_hash FROM email_tokens")] == ["recent"]
    assert sorted(r[0] for r in q("SELECT state FROM mail_outbox")) == ["pending", "sent"]
    # nothing left to delete
    out = s.cli("flush-expired").stdout.strip()
    assert "MFA" not in out and "OAuth" not in out and "mails" not in out, out

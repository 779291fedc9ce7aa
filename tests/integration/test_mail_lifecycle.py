"""The account lifecycle over real e-mail (docs/mail.md): every flow end to end over HTTP
against a real SMTP server (aiosmtpd on loopback, mailsink.py), reading the mail it received
and following its link or code. Also: link reuse, expiry and purpose, five wrong codes, the
enumeration and timing check, the mail rate limits, templates and escaping, and the outbox
surviving a mail-server outage and a restart of jwtd. Runs on SQLite and PostgreSQL."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

import pgdb
from conftest import JwtdServer, jwtd_bin
from mailsink import MailSink, code_of, mail_html, mail_text, token_of
from peers import token_env

PW = "correct-horse-battery"
NEW_PW = "tr0ub4dor-and-3-more"


class Mailer:
    """A jwtd with a real SMTP server behind it."""

    def __init__(self, srv, sink):
        self.srv = srv
        self.sink = sink
        self.http = requests.Session()

    @property
    def url(self):
        return self.srv.url

    def post(self, path, body=None, token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return self.http.post(self.url + path, json=body, headers=headers, timeout=30)

    def get(self, path, token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return self.http.get(self.url + path, headers=headers, timeout=30)

    def register(self, name, email=None, password=PW):
        r = self.post("/auth/register", {"username": name, "email": email or name + "@example.org",
                                         "password": password})
        assert r.status_code == 201, r.text
        return r.json()

    def login(self, name, password=PW):
        return self.post("/auth/login", {"username": name, "password": password})

    def mails_to(self, addr, n=1, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.sink.to(addr)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError("expected %d mails to %s, got %d" % (n, addr, len(self.sink.to(addr))))

    def metric(self, name):
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0


def mail_env(sink_url, **extra):
    env = token_env(JWTD_SMTP_URL=sink_url, JWTD_MAIL_FROM="Example Auth <auth@example.org>",
                    JWTD_PUBLIC_URL="http://auth.example.test", JWTD_RATE_LIMIT_MAIL="0",
                    JWTD_RATE_LIMIT_MAIL_IP="0", JWTD_MAIL_RETRY="1s")
    env.update(extra)
    return env


@pytest.fixture
def mailer(jwtd_server):
    sinks = []

    def factory(**env):
        sink = MailSink().start()
        sinks.append(sink)
        srv = jwtd_server(env=mail_env(sink.url, **env))
        return Mailer(srv, sink)

    yield factory
    for s in sinks:
        s.stop()


def check_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


# ---- sign-up and verification ---------------------------------------------------------------


def test_signup_verified_mail_link_then_login(mailer):
    m = mailer(JWTD_SIGNUP="verified")
    m.register("alice")
    check_error(m.login("alice"), 401, "email_not_verified")
    # a wrong password still gets the answer that reveals nothing
    check_error(m.login("alice", "wrong-password-1"), 401, "no_active_account")
    (msg,) = m.mails_to("alice@example.org")
    # a proper MIME message: both parts, the headers of RFC 5322
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["From"] == "Example Auth <auth@example.org>" and msg["To"] == "alice@example.org"
    assert msg["Date"] and msg["Message-ID"].endswith("@example.org>")
    assert "alice" in mail_text(msg) and "alice" in mail_html(msg)
    link = [u for u in mail_text(msg).split() if "#token=" in u][0]
    assert link.startswith("http://auth.example.test/app/verify-email.html#token=")
    token = token_of(msg)
    assert len(token) == 43  # 256 bits, base64url
    r = m.post("/auth/email/verify", {"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "alice"
    check_error(m.post("/auth/email/verify", {"token": token}), 400, "invalid_link")
    r = m.login("alice")
    assert r.status_code == 200, r.text


def test_resend_only_to_unverified_accounts_and_same_answer(mailer):
    m = mailer(JWTD_SIGNUP="verified")
    m.register("bob")
    m.mails_to("bob@example.org", 1)
    for addr in ("bob@example.org", "nobody@example.org", "BOB@example.org"):
        r = m.post("/auth/email/resend", {"email": addr})
        assert r.status_code == 202 and r.json() == {}, r.text
    first, second, third = m.mails_to("bob@example.org", 3)
    # the newest link works, the earlier ones were retired by it
    check_error(m.post("/auth/email/verify", {"token": token_of(first)}), 400, "invalid_link")
    assert m.post("/auth/email/verify", {"token": token_of(third)}).status_code == 200
    # verified now: a resend sends nothing more
    assert m.post("/auth/email/resend", {"email": "bob@example.org"}).status_code == 202
    time.sleep(1.0)
    assert len(m.sink.to("bob@example.org")) == 3
    assert m.sink.to("nobody@example.org") == []
    check_error(m.post("/auth/email/resend", {"email": "not-an-address"}), 400, "invalid_request")


def test_signup_open_and_closed(mailer):
    m = mailer(JWTD_SIGNUP="open")
    m.register("carol")
    assert m.login("carol").status_code == 200  # open: no confirmation needed
    time.sleep(0.5)
    assert m.sink.messages == []
    c = mailer(JWTD_SIGNUP="closed")
    check_error(c.post("/auth/register", {"username": "dave", "email": "d@example.org",
                                          "password": PW}), 403, "signup_closed")


# ---- password reset ----------------------------------------------------------------------------


def test_forgot_reset_revokes_every_token_at_once(mailer):
    m = mailer()
    m.register("erin")
    t1 = m.login("erin").json()
    t2 = m.login("erin").json()
    assert m.get("/auth/me", t1["access_token"]).status_code == 200
    r = m.post("/auth/password/forgot", {"email": "erin@example.org"})
    assert r.status_code == 202 and r.json() == {}
    (msg,) = m.mails_to("erin@example.org")
    assert "reset" in msg["Subject"].lower()
    token = token_of(msg, "reset-password.html")
    # a refused password leaves the link usable
    body = check_error(m.post("/auth/password/reset", {"token": token, "password": "123"}),
                       400, "invalid_request")
    assert body["password"]
    r = m.post("/auth/password/reset", {"token": token, "password": NEW_PW})
    assert r.status_code == 200 and r.json() == {}, r.text
    # every access token of the user fails at once, on every route, and every refresh token
    for t in (t1, t2):
        assert m.get("/auth/me", t["access_token"]).status_code == 401
        assert m.post("/auth/refresh", {"refresh_token": t["refresh_token"]}).status_code == 401
        check = m.post("/api/token/verify/", {"token": t["access_token"]})
        assert check.status_code == 401
    check_error(m.post("/auth/password/reset", {"token": token, "password": NEW_PW + "x"}),
                400, "invalid_link")
    check_error(m.login("erin"), 401, "no_active_account")
    assert m.login("erin", NEW_PW).status_code == 200


def test_links_are_bound_to_their_purpose(mailer):
    m = mailer(JWTD_SIGNUP="verified")
    m.register("frank")
    verify_token = token_of(m.mails_to("frank@example.org", 1)[0])
    assert m.post("/auth/password/forgot", {"email": "frank@example.org"}).status_code == 202
    reset_token = token_of(m.mails_to("frank@example.org", 2)[1])
    check_error(m.post("/auth/password/reset", {"token": verify_token, "password": NEW_PW}), 400,
                "invalid_link")
    check_error(m.post("/auth/email/verify", {"token": reset_token}), 400, "invalid_link")
    check_error(m.post("/auth/otp/verify", {"token": reset_token}), 400, "invalid_link")
    for bad in ("", "x" * 43, "short", "A" * 300):
        r = m.post("/auth/email/verify", {"token": bad})
        assert r.status_code == 400, r.text
    # both still work for their own purpose
    assert m.post("/auth/email/verify", {"token": verify_token}).status_code == 200
    assert m.post("/auth/password/reset", {"token": reset_token,
                                           "password": NEW_PW}).status_code == 200


def test_expired_link_is_refused(mailer):
    m = mailer()
    m.register("gina")
    assert m.post("/auth/password/forgot", {"email": "gina@example.org"}).status_code == 202
    token = token_of(m.mails_to("gina@example.org")[0])
    pgdb.db_query(m.srv.env["JWTD_DATABASE_URL"],
                  "UPDATE email_tokens SET expires_at = expires_at - 3600")
    check_error(m.post("/auth/password/reset", {"token": token, "password": NEW_PW}), 400,
                "invalid_link")


# ---- signed-in changes ------------------------------------------------------------------------


def test_password_change_keeps_this_session_revokes_others_and_notifies(mailer):
    m = mailer()
    m.register("hank")
    mine = m.login("hank").json()
    other = m.login("hank").json()
    body = check_error(m.post("/auth/password/change", {"current_password": "wrong-one-here",
                                                        "new_password": NEW_PW},
                              mine["access_token"]), 400, "invalid_request")
    assert body["current_password"]
    body = check_error(m.post("/auth/password/change", {"current_password": PW,
                                                        "new_password": "hank"},
                              mine["access_token"]), 400, "invalid_request")
    assert body["new_password"]
    check_error(m.post("/auth/password/change", {"current_password": PW, "new_password": NEW_PW}),
                401, "not_authenticated")
    r = m.post("/auth/password/change", {"current_password": PW, "new_password": NEW_PW},
               mine["access_token"])
    assert r.status_code == 200 and r.json() == {}, r.text
    assert m.get("/auth/me", mine["access_token"]).status_code == 200
    assert m.post("/auth/refresh", {"refresh_token": mine["refresh_token"]}).status_code == 200
    assert m.get("/auth/me", other["access_token"]).status_code == 401
    assert m.post("/auth/refresh", {"refresh_token": other["refresh_token"]}).status_code == 401
    (notice,) = m.mails_to("hank@example.org")
    assert "password was changed" in notice["Subject"].lower()
    assert "forgot-password.html" in mail_text(notice)
    assert m.login("hank", NEW_PW).status_code == 200


def test_email_change_confirmed_at_the_new_address(mailer):
    m = mailer()
    m.register("ivy")
    m.register("jack")
    tok = m.login("ivy").json()["access_token"]
    body = check_error(m.post("/auth/email/change", {"new_email": "ivy2@example.org",
                                                     "password": "not-my-password"}, tok),
                       400, "invalid_request")
    assert body["password"]
    check_error(m.post("/auth/email/change", {"new_email": "nope", "password": PW}, tok), 400,
                "invalid_request")
    # an address with an account: the same answer, and no mail
    r = m.post("/auth/email/change", {"new_email": "jack@example.org", "password": PW}, tok)
    assert r.status_code == 202 and r.json() == {}
    r = m.post("/auth/email/change", {"new_email": "ivy2@example.org", "password": PW}, tok)
    assert r.status_code == 202 and r.json() == {}
    (msg,) = m.mails_to("ivy2@example.org")
    assert "ivy2@example.org" in mail_text(msg)
    assert m.get("/auth/me", tok).json()["email"] == "ivy@example.org"  # not before the link
    r = m.post("/auth/email/verify", {"token": token_of(msg)})
    assert r.status_code == 200 and r.json()["email"] == "ivy2@example.org", r.text
    assert m.get("/auth/me", tok).json()["email"] == "ivy2@example.org"
    assert m.sink.to("jack@example.org") == []


def test_html_part_escapes_inserted_values(mailer):
    m = mailer()
    m.register("kim")
    tok = m.login("kim").json()["access_token"]
    addr = "o'neil&co@example.org"
    r = m.post("/auth/email/change", {"new_email": addr, "password": PW}, tok)
    assert r.status_code == 202, r.text
    (msg,) = m.mails_to(addr)
    html = mail_html(msg)
    assert "o&#39;neil&amp;co@example.org" in html
    assert "o'neil&co" not in html
    assert addr in mail_text(msg)


def test_templates_from_a_directory(mailer, tmp_path):
    (tmp_path / "reset.subject").write_text("Passwort zurücksetzen für {{username}}\n")
    (tmp_path / "reset.html").write_text("<p>Hallo {{username}}: <a href=\"{{link}}\">x</a></p>")
    m = mailer(JWTD_MAIL_TEMPLATES_DIR=str(tmp_path))
    m.register("lena")
    assert m.post("/auth/password/forgot", {"email": "lena@example.org"}).status_code == 202
    (msg,) = m.mails_to("lena@example.org")
    assert str(msg["Subject"]) == "Passwort zurücksetzen für lena"
    assert "=?UTF-8?B?" in m.sink.raw[-1].decode()  # an encoded header, not raw UTF-8
    assert mail_html(msg).startswith("<p>Hallo lena: <a href=\"http://auth.example.test/app/")
    assert "reset-password.html#token=" in mail_text(msg)  # the built-in text part


# ---- sign-in by e-mailed code -------------------------------------------------------------------


def test_otp_code_and_link_sign_in(mailer):
    m = mailer(JWTD_SIGNUP="verified")
    m.register("mia")
    m.mails_to("mia@example.org", 1)
    assert m.post("/auth/otp", {"email": "mia@example.org"}).status_code == 202
    msg = m.mails_to("mia@example.org", 2)[1]
    code = code_of(msg)
    assert code in msg["Subject"]
    r = m.post("/auth/otp/verify", {"email": "mia@example.org", "code": code})
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["token_type"] == "bearer" and t["user"]["username"] == "mia"
    assert m.get("/auth/me", t["access_token"]).status_code == 200
    check_error(m.post("/auth/otp/verify", {"email": "mia@example.org", "code": code}), 400,
                "invalid_link")
    # the code proved the mailbox: password sign-in works now too
    assert m.login("mia").status_code == 200
    # the link of a new mail signs in once
    assert m.post("/auth/otp", {"email": "mia@example.org"}).status_code == 202
    token = token_of(m.mails_to("mia@example.org", 3)[2], "code-signin.html")
    assert m.post("/auth/otp/verify", {"token": token}).status_code == 200
    check_error(m.post("/auth/otp/verify", {"token": token}), 400, "invalid_link")
    check_error(m.post("/auth/otp/verify", {"email": "mia@example.org"}), 400, "invalid_request")


def test_otp_sign_in_of_an_account_with_totp_asks_for_the_second_factor(mailer):
    """The e-mailed code is the first step only; with set_cookie (the web UI) the second step,
    from the same origin, sets the refresh cookie."""
    import pyotp
    m = mailer()
    m.register("otto")
    r = m.login("otto")
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    r = m.http.post(m.url + "/auth/mfa/totp/enroll", headers={"Authorization": "Bearer " + access},
                    timeout=30)
    assert r.status_code == 200, r.text
    e = r.json()
    totp = pyotp.TOTP(e["secret"])
    r = m.post("/auth/mfa/totp/activate", {"factor_id": e["factor_id"], "code": totp.now()}, access)
    assert r.status_code == 200, r.text
    # the second steps: the app's next code (this step's was the activation's), a recovery code
    second = [totp.at(time.time() + 30), r.json()["recovery_codes"][0]]
    for n, set_cookie in ((1, False), (2, True)):
        assert m.post("/auth/otp", {"email": "otto@example.org"}).status_code == 202
        code = code_of(m.mails_to("otto@example.org", n)[n - 1])
        body = {"email": "otto@example.org", "code": code}
        if set_cookie:
            body["set_cookie"] = True
        r = m.http.post(m.url + "/auth/otp/verify", json=body, timeout=30,
                        headers={"Origin": m.url})
        check_error(r, 401, "mfa_required")
        assert "access" not in r.json() and "access_token" not in r.json()
        assert "refresh_token" not in r.headers.get("Set-Cookie", "")
        assert [f["type"] for f in r.json()["factors"]] == ["totp"]
        r = m.http.post(m.url + "/auth/mfa/verify", timeout=30, headers={"Origin": m.url},
                        json={"mfa_token": r.json()["mfa_token"],
                              "code": second[n - 1]})
        assert r.status_code == 200, r.text
        if set_cookie:  # the browser flow's answer: the refresh token only in the cookie
            assert r.headers.get("Set-Cookie", "").startswith("refresh_token=")
            assert "access" in r.json() and "refresh" not in r.json()
        else:  # the /auth/login answer
            assert "refresh_token=" not in r.headers.get("Set-Cookie", "")
            assert r.json()["access_token"] and r.json()["refresh_token"]


def test_otp_five_wrong_codes_retire_the_code(mailer):
    m = mailer()
    m.register("noah")
    assert m.post("/auth/otp", {"email": "noah@example.org"}).status_code == 202
    code = code_of(m.mails_to("noah@example.org")[0])
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    for _ in range(5):
        check_error(m.post("/auth/otp/verify", {"email": "noah@example.org", "code": wrong}), 400,
                    "invalid_link")
    check_error(m.post("/auth/otp/verify", {"email": "noah@example.org", "code": code}), 400,
                "invalid_link")
    check_error(m.post("/auth/otp/verify", {"email": "nobody@example.org", "code": code}), 400,
                "invalid_link")


# ---- no enumeration ---------------------------------------------------------------------------


def test_unknown_address_same_answer_and_timing(mailer):
    m = mailer()
    m.register("olga")
    known, unknown = [], []
    for i in range(15):
        for addr, out in (("olga@example.org", known), ("ghost%d@example.org" % i, unknown)):
            t0 = time.perf_counter()
            r = m.post("/auth/password/forgot", {"email": addr})
            out.append(time.perf_counter() - t0)
            assert (r.status_code, r.text) == (202, "{}")
            assert r.headers["Content-Type"].startswith("application/json")
    # the fastest of each side: the same work is done, so neither is far from the other (a
    # generous bound: an SMTP conversation or a password hash in the answer would break it)
    k, u = min(known), min(unknown)
    assert abs(k - u) < max(0.010, 0.6 * max(k, u)), (k, u)
    assert len(m.mails_to("olga@example.org", 15)) == 15
    time.sleep(0.5)
    assert all("ghost" not in rc for (_, rcpts, _) in m.sink.messages for rc in rcpts)


# ---- abuse limits ---------------------------------------------------------------------------------


def test_mail_routes_are_rate_limited_per_address_and_ip(mailer):
    m = mailer(JWTD_RATE_LIMIT_MAIL="2/hour", JWTD_RATE_LIMIT_MAIL_IP="5/hour")
    m.register("pia")
    for _ in range(2):
        assert m.post("/auth/password/forgot", {"email": "pia@example.org"}).status_code == 202
    r = m.post("/auth/otp", {"email": "PIA@example.org"})  # the same address, another route
    check_error(r, 429, "throttled")
    assert int(r.headers["Retry-After"]) > 0
    # unknown addresses are counted the same way
    for _ in range(2):
        assert m.post("/auth/password/forgot", {"email": "x@example.org"}).status_code == 202
    # a refused request spends nothing: 4 of the client address's 5 are spent
    assert m.post("/auth/password/forgot", {"email": "y@example.org"}).status_code == 202
    check_error(m.post("/auth/password/forgot", {"email": "z@example.org"}), 429, "throttled")
    assert m.metric('jwtd_rate_limit_hits_total{limit="mail"}') >= 2
    assert len(m.mails_to("pia@example.org", 2)) == 2


# ---- the outbox ------------------------------------------------------------------------------------


def test_outbox_survives_mail_outage_and_restart(tmp_path):
    """SMTP down, mails triggered, jwtd restarted, SMTP up: each mail arrives exactly once."""
    sink = MailSink()  # its port, not listening yet
    data = tempfile.mkdtemp(prefix="jwtd-outbox-")
    db_url = pgdb.default_url(data)
    env = mail_env(sink.url, JWTD_DATABASE_URL=db_url, JWTD_LOG_LEVEL="info")
    srv = JwtdServer(env=env).start()
    try:
        m = Mailer(srv, sink)
        users = ["q%d" % i for i in range(3)]
        for u in users:
            m.register(u)
            assert m.post("/auth/password/forgot", {"email": u + "@example.org"}).status_code == 202
        deadline = time.monotonic() + 20
        while m.metric('jwtd_mails_total{result="retried"}') < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert m.metric('jwtd_mails_total{result="retried"}') >= 3
        assert m.metric('jwtd_mails_total{result="sent"}') == 0
    finally:
        srv.stop()
    rows = pgdb.db_query(db_url, "SELECT state, attempts FROM mail_outbox ORDER BY id")
    assert [r[0] for r in rows] == ["pending"] * 3 and all(r[1] >= 1 for r in rows)
    srv = JwtdServer(env=env).start()
    try:
        sink.start()
        got = sink.wait_for(3, timeout=60)
        time.sleep(2.0)  # nothing more comes
        rcpts = sorted(r for (_, rs, _) in sink.messages for r in rs)
        assert rcpts == sorted(u + "@example.org" for u in users)
        assert len({str(msg["Message-ID"]) for (_, _, msg) in got}) == 3
        rows = pgdb.db_query(db_url, "SELECT state, message FROM mail_outbox ORDER BY id")
        assert [r[0] for r in rows] == ["sent"] * 3
        assert all(r[1] == "" for r in rows)  # the sent text (a live link) is not kept
    finally:
        sink.stop()
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)


def test_smtp_authentication_with_a_password_file(jwtd_server, tmp_path):
    sink = MailSink(credentials=("mailer", "s3cret pass")).start()
    try:
        pw = tmp_path / "smtp-password"
        pw.write_text("s3cret pass\n")
        url = "smtp://mailer@127.0.0.1:%d" % sink.port
        srv = jwtd_server(env=mail_env(url, JWTD_SMTP_PASSWORD_FILE=str(pw)))
        m = Mailer(srv, sink)
        m.register("sven")
        assert m.post("/auth/password/forgot", {"email": "sven@example.org"}).status_code == 202
        m.mails_to("sven@example.org")
        assert sink.logins and sink.logins[-1][1] == "mailer"
        assert "s3cret" not in srv.stderr()
    finally:
        sink.stop()


def test_smtp_authentication_refused_is_retried_not_lost(jwtd_server):
    sink = MailSink(credentials=("mailer", "right")).start()
    try:
        srv = jwtd_server(env=mail_env("smtp://mailer:wrong@127.0.0.1:%d" % sink.port))
        m = Mailer(srv, sink)
        m.register("tove")
        assert m.post("/auth/password/forgot", {"email": "tove@example.org"}).status_code == 202
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not m.metric('jwtd_mails_total{result="retried"}'):
            time.sleep(0.2)
        assert m.metric('jwtd_mails_total{result="retried"}') >= 1
        assert m.metric('jwtd_mails_total{result="failed"}') == 0
        assert sink.messages == []
        rows = pgdb.db_query(srv.env["JWTD_DATABASE_URL"], "SELECT state FROM mail_outbox")
        assert rows == [("pending",)]
        assert "wrong" not in srv.stderr()  # the URL's password is never logged
    finally:
        sink.stop()


def test_two_instances_on_one_database_send_each_mail_once():
    """Two jwtd processes share the database (and so the outbox): each mail goes out once."""
    sink = MailSink().start()
    data = tempfile.mkdtemp(prefix="jwtd-outbox2-")
    db_url = pgdb.default_url(data)
    env = mail_env(sink.url, JWTD_DATABASE_URL=db_url)
    servers = []
    try:
        servers = [JwtdServer(env=env).start(), JwtdServer(env=env).start()]
        a, b = (Mailer(srv, sink) for srv in servers)
        users = ["w%d" % i for i in range(12)]
        for u in users:
            a.register(u)
        for i, u in enumerate(users):
            r = (a, b)[i % 2].post("/auth/password/forgot", {"email": u + "@example.org"})
            assert r.status_code == 202
        sink.wait_for(len(users), timeout=60)
        time.sleep(2.0)  # no second copy arrives
        rcpts = sorted(r for (_, rs, _) in sink.messages for r in rs)
        assert rcpts == sorted(u + "@example.org" for u in users)
        sent = sum(m.metric('jwtd_mails_total{result="sent"}') for m in (a, b))
        assert sent == len(users)
    finally:
        for srv in servers:
            srv.stop()
        sink.stop()
        shutil.rmtree(data, ignore_errors=True)


# ---- without SMTP --------------------------------------------------------------------------------


def test_development_without_smtp_writes_eml_files_and_logs_links(jwtd_server):
    srv = jwtd_server(env=token_env(JWTD_LOG_LEVEL="info", JWTD_RATE_LIMIT_MAIL="0",
                                    JWTD_RATE_LIMIT_MAIL_IP="0"))
    m = Mailer(srv, None)
    m.register("rita")
    assert m.post("/auth/password/forgot", {"email": "rita@example.org"}).status_code == 202
    spool = os.path.join(srv.data_dir, "mail")
    deadline = time.monotonic() + 20

    def emls():
        return [n for n in os.listdir(spool) if n.endswith(".eml")] if os.path.isdir(spool) else []

    while time.monotonic() < deadline and not emls():
        time.sleep(0.1)
    (name,) = emls()
    import email
    import email.policy
    with open(os.path.join(spool, name), "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    token = token_of(msg, "reset-password.html")
    assert token in srv.stderr()  # the link is logged in development
    assert m.post("/auth/password/reset", {"token": token, "password": NEW_PW}).status_code == 200


def test_outside_development_no_pretending():
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    d = tempfile.mkdtemp(prefix="jwtd-mailcfg-")
    try:
        env = dict(base, JWTD_ENVIRONMENT="production", JWTD_DATA_DIR=d, JWTD_SIGNUP="verified")
        p = subprocess.run([jwtd_bin(), "config"], env=env, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode != 0 and "JWTD_SIGNUP=verified needs JWTD_SMTP_URL" in p.stderr
        env = dict(base, JWTD_ENVIRONMENT="production", JWTD_DATA_DIR=d,
                   JWTD_SMTP_URL="smtp://127.0.0.1:1")
        p = subprocess.run([jwtd_bin(), "config"], env=env, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode != 0 and "JWTD_PUBLIC_URL" in p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_mail_routes_answer_503_without_mail(jwtd_server):
    srv = jwtd_server(env=token_env(JWTD_ENVIRONMENT="staging", JWTD_SIGNUP="open",
                                    JWTD_SECRET_KEY="Zq8#mV2$kL9@pX4!wR7&nT1^bY6*cH3%"))
    m = Mailer(srv, None)
    check_error(m.post("/auth/password/forgot", {"email": "a@example.org"}), 503, "unavailable")
    check_error(m.post("/auth/otp", {"email": "a@example.org"}), 503, "unavailable")

"""Mail over TLS (docs/mail.md) against a real TLS mail server: aiosmtpd with STARTTLS
(required) and with implicit TLS (smtps://), a CA and server certificates made here with
python3-cryptography, JWTD_SMTP_CA_FILE. A wrong CA, a wrong host name, a server without
STARTTLS under ?tls=required and a wrong password each fail the delivery, and the mail stays
queued and is retried. Also `jwtd check`'s SMTP probe (no mail sent)."""

import datetime
import ipaddress
import os
import shutil
import ssl
import subprocess
import tempfile
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import pgdb
from conftest import JwtdServer, jwtd_bin
from mailsink import MailSink
from test_mail_lifecycle import Mailer, mail_env

PASSWORD = "tls s3cret pass"


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, issuer_key, ca, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    else:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), False)
    return b.sign(issuer_key, hashes.SHA256())


class Pki:
    """A CA, an unrelated CA, and two server certificates of the CA: one for 127.0.0.1, one
    for another host name."""

    def __init__(self, d):
        self.dir = d
        ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
            ec.SECP256R1())
        ca = _cert("jwtd test CA", ca_key, "jwtd test CA", ca_key, True)
        other = _cert("some other CA", other_key, "some other CA", other_key, True)
        self.ca_file = self._pem("ca.pem", ca)
        self.other_ca_file = self._pem("other-ca.pem", other)
        self.loopback = self._server("loopback", ca_key, [x509.IPAddress(
            ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
        self.elsewhere = self._server("elsewhere", ca_key, [x509.DNSName("mail.elsewhere.test")])

    def _pem(self, name, cert, key=None):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            if key:
                f.write(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        return path

    def _server(self, name, ca_key, sans):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name, key, "jwtd test CA", ca_key, False, sans)
        return self._pem(name + ".pem", cert, key)

    def context(self, which="loopback"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(getattr(self, which))
        return ctx


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="jwtd-mailtls-")
    try:
        yield Pki(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sinks():
    started = []

    def factory(**kw):
        s = MailSink(**kw).start()
        started.append(s)
        return s

    yield factory
    for s in started:
        s.stop()


def password_file(tmp_path, text=PASSWORD):
    p = tmp_path / "smtp-password"
    p.write_text(text + "\n")
    return str(p)


def forgot(m, name):
    m.register(name)
    r = m.post("/auth/password/forgot", {"email": name + "@example.org"})
    assert r.status_code == 202, r.text


def wait_retried(m, n=1, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and m.metric('jwtd_mails_total{result="retried"}') < n:
        time.sleep(0.1)
    assert m.metric('jwtd_mails_total{result="retried"}') >= n
    assert m.metric('jwtd_mails_total{result="sent"}') == 0
    assert m.metric('jwtd_mails_total{result="failed"}') == 0


def outbox(srv):
    return pgdb.db_query(srv.env["JWTD_DATABASE_URL"],
                         "SELECT state, attempts, last_error FROM mail_outbox")


def check(env):
    p = subprocess.run([jwtd_bin(), "check"], env=env, capture_output=True, text=True,
                       timeout=120)
    got = dict(line.split(": ", 1) for line in p.stdout.splitlines() if ": " in line)
    return p.returncode, got.get("smtp", ""), p.stdout + p.stderr


# ---- delivered over TLS --------------------------------------------------------------------------


def test_starttls_required_with_auth_and_the_ca_file(jwtd_server, sinks, pki, tmp_path):
    sink = sinks(starttls=pki.context(), credentials=("mailer", PASSWORD))
    url = "smtp://mailer@127.0.0.1:%d?tls=required" % sink.port
    srv = jwtd_server(env=mail_env(url, JWTD_SMTP_CA_FILE=pki.ca_file,
                                   JWTD_SMTP_PASSWORD_FILE=password_file(tmp_path)))
    m = Mailer(srv, sink)
    forgot(m, "tess")
    m.mails_to("tess@example.org")
    assert sink.tls == [True]
    assert sink.logins and sink.logins[-1][1] == "mailer"
    # jwtd check: the same connection, login included, and no mail
    logins = len(sink.logins)
    rc, line, out = check(srv.env)
    assert line.startswith("ok") and "STARTTLS" in line and "AUTH" in line, out
    assert len(sink.logins) == logins + 1 and len(sink.messages) == 1
    assert "s3cret" not in out and "s3cret" not in srv.stderr()


def test_implicit_tls_smtps(jwtd_server, sinks, pki):
    sink = sinks(smtps=pki.context())
    assert sink.url.startswith("smtps://")
    srv = jwtd_server(env=mail_env(sink.url, JWTD_SMTP_CA_FILE=pki.ca_file))
    m = Mailer(srv, sink)
    forgot(m, "ivo")
    m.mails_to("ivo@example.org")
    assert sink.tls == [True]
    rc, line, out = check(srv.env)
    assert line.startswith("ok") and "implicit TLS" in line, out


# ---- refused: the mail stays queued and is retried --------------------------------------------


def test_wrong_ca_fails_then_the_queued_mail_goes_out_with_the_right_one(sinks, pki):
    """The certificate does not verify: no mail, retried; jwtd restarted with the right CA
    sends the same queued mail."""
    sink = sinks(starttls=pki.context())
    data = tempfile.mkdtemp(prefix="jwtd-mailtls-ca-")
    env = mail_env(sink.url, JWTD_DATABASE_URL=pgdb.default_url(data),
                   JWTD_SMTP_CA_FILE=pki.other_ca_file)
    srv = JwtdServer(env=env).start()
    try:
        m = Mailer(srv, sink)
        forgot(m, "cora")
        wait_retried(m, 2)
        assert sink.messages == []
        ((state, attempts, why),) = outbox(srv)
        assert state == "pending" and attempts >= 2
        assert "certificate" in why.lower() or "ssl" in why.lower(), why
        rc, line, out = check(srv.env)
        assert rc == 1 and "certificate" in line.lower(), out
        srv.stop()
        env["JWTD_SMTP_CA_FILE"] = pki.ca_file
        srv = JwtdServer(env=env).start()
        (msg,) = Mailer(srv, sink).mails_to("cora@example.org")
        assert msg["To"] == "cora@example.org" and sink.tls == [True]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and outbox(srv)[0][0] != "sent":
            time.sleep(0.05)
        assert [r[0] for r in outbox(srv)] == ["sent"]
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)


def test_wrong_host_name_fails_and_is_retried(jwtd_server, sinks, pki):
    sink = sinks(smtps=pki.context("elsewhere"))  # a good CA's certificate for another host
    srv = jwtd_server(env=mail_env(sink.url, JWTD_SMTP_CA_FILE=pki.ca_file))
    m = Mailer(srv, sink)
    forgot(m, "hugo")
    wait_retried(m, 2)
    assert sink.messages == []
    ((state, attempts, why),) = outbox(srv)
    assert state == "pending" and attempts >= 2
    rc, line, out = check(srv.env)
    assert rc == 1 and line and not line.startswith("ok"), out


def test_tls_required_but_no_starttls_offered_sends_nothing_in_clear(jwtd_server, sinks, pki):
    sink = sinks()  # plain SMTP, no STARTTLS
    srv = jwtd_server(env=mail_env(sink.url + "?tls=required", JWTD_SMTP_CA_FILE=pki.ca_file))
    m = Mailer(srv, sink)
    forgot(m, "nils")
    wait_retried(m, 2)
    assert sink.messages == [] and sink.raw == []
    ((state, _, _),) = outbox(srv)
    assert state == "pending"
    rc, line, out = check(srv.env)
    assert rc == 1 and not line.startswith("ok"), out
    # without ?tls=required the same server gets the mail (STARTTLS only when offered)
    rc, line, out = check(dict(srv.env, JWTD_SMTP_URL=sink.url))
    assert rc == 0 and "STARTTLS if offered" in line, out


def test_wrong_password_over_tls_fails_and_is_retried(jwtd_server, sinks, pki, tmp_path):
    sink = sinks(starttls=pki.context(), credentials=("mailer", PASSWORD))
    url = "smtp://mailer@127.0.0.1:%d?tls=required" % sink.port
    srv = jwtd_server(env=mail_env(url, JWTD_SMTP_CA_FILE=pki.ca_file,
                                   JWTD_SMTP_PASSWORD_FILE=password_file(tmp_path, "not-it-9")))
    m = Mailer(srv, sink)
    forgot(m, "wilma")
    wait_retried(m, 2)
    assert sink.messages == []
    assert len(sink.logins) >= 2 and all(u == "mailer" for (_, u) in sink.logins)
    ((state, attempts, _),) = outbox(srv)
    assert state == "pending" and attempts >= 2
    rc, line, out = check(srv.env)
    assert rc == 1 and "login" in line.lower(), out
    assert "not-it-9" not in out and "not-it-9" not in srv.stderr()


# ---- jwtd check ------------------------------------------------------------------------------


def test_check_reports_a_refused_connection(jwtd_server, pki):
    closed = MailSink()  # a free port nobody listens on
    srv = jwtd_server(env=mail_env("smtp://mailer:pw-in-url-7@127.0.0.1:%d" % closed.port))
    rc, line, out = check(srv.env)
    assert rc == 1, out
    assert line.startswith("JWTD_SMTP_URL: 127.0.0.1:%d" % closed.port), out
    assert "connect" in line.lower(), out
    assert "pw-in-url-7" not in out
    assert out.splitlines()[-1].startswith("jwtd check: 1 problem: smtp")

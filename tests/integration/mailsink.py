"""A real SMTP server for the tests (Debian's python3-aiosmtpd) that keeps what it receives.

    sink = MailSink(port=None)   # an ephemeral loopback port unless given
    MailSink(starttls=ctx)       # offers STARTTLS and requires it; MailSink(smtps=ctx): TLS
                                 # from the first byte (ctx: a server ssl.SSLContext)
    sink.start(); ...; sink.stop()
    sink.messages                # [(envelope_from, [rcpts], email.message.Message)], in order
    sink.tls                     # for each message: whether it came over TLS
    sink.wait_for(n, timeout)    # until n messages arrived
    mail_text(msg), mail_html(msg), link_of(msg, page), code_of(msg)

As a script (the Chromium tests start it): mailsink.py PORT DIR writes each message to
DIR/<n>.eml and prints "ready" once it listens; SIGTERM stops it.
"""

import email
import email.policy
import os
import re
import signal
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.sink.cond:
            self.sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
            self.sink.raw.append(envelope.original_content)
            self.sink.tls.append(server.transport.get_extra_info("ssl_object") is not None)
            self.sink.cond.notify_all()
        if self.sink.spool:
            path = os.path.join(self.sink.spool, "%04d.eml" % len(self.sink.raw))
            with open(path + ".tmp", "wb") as f:
                f.write(envelope.original_content)
            os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


class MailSink:
    def __init__(self, port=None, spool=None, credentials=None, starttls=None, smtps=None):
        self.port = port or free_port()
        self.spool = spool
        self.credentials = credentials  # (user, password): AUTH required, checked
        self.starttls = starttls
        self.smtps = smtps
        self.logins = []
        self.messages = []
        self.raw = []
        self.tls = []
        self.cond = threading.Condition()
        self.controller = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("smtps" if self.smtps else "smtp", self.port)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((mechanism, user))
        # handled=False: aiosmtpd answers a refusal itself (535); handled=True would leave the
        # client waiting for an answer that never comes
        return AuthResult(success=(user, password) == self.credentials, handled=False)

    def start(self):
        kw = {}
        if self.credentials:
            kw = {"authenticator": self._authenticate, "auth_required": True,
                  "auth_require_tls": bool(self.starttls)}  # smtps: TLS from the start
        if self.starttls:
            kw.update(tls_context=self.starttls, require_starttls=True)
        if self.smtps:
            kw["ssl_context"] = self.smtps
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def wait_for(self, n, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("expected %d mails, got %d" % (n, len(self.messages)))
                self.cond.wait(left)
            return list(self.messages)

    def to(self, addr):
        return [m for (_, rcpts, m) in self.messages if addr in rcpts]


def mail_text(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


def mail_html(msg):
    return msg.get_body(preferencelist=("html",)).get_content()


def link_of(msg, page=None):
    links = re.findall(r"https?://\S+?/app/[\w.-]+#token=[\w-]+", mail_text(msg))
    if page:
        links = [u for u in links if "/app/%s#" % page in u]
    assert links, "no link in the mail"
    return links[0]


def token_of(msg, page=None):
    return link_of(msg, page).split("#token=", 1)[1]


def code_of(msg):
    m = re.search(r"\b(\d{6})\b", mail_text(msg))
    assert m, "no code in the mail"
    return m.group(1)


if __name__ == "__main__":
    sink = MailSink(port=int(sys.argv[1]), spool=sys.argv[2]).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    sink.stop()

"""Integration-test harness: start the real jwtd binary and talk HTTP to it.

Fixtures (usable by every tests/integration/test_*.py):

    jwtd_server(env={...}, workers=2)   factory; each call starts a fresh server on an
                                        ephemeral loopback port with its own temp data dir
                                        and returns a JwtdServer (.url, .host, .port, .proc,
                                        .data_dir, .stop()). Servers still running at the
                                        end of the test are stopped with SIGTERM and must
                                        exit with status 0 (under ASan a leak makes it
                                        non-zero: that fails the test, on purpose).
    server                              one shared server for the whole session (test
                                        routes on, default limits) for tests that need no
                                        special configuration.

Helpers for raw-socket tests: connect(server), send_raw(), read_response(sock) and
request() (one raw request -> (status, headers, body)).

Environment: JWTD_BIN (default build/jwtd) is the binary under test; `make test` points it
at build/asan/jwtd.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import pgdb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 30.0


def jwtd_bin():
    path = os.environ.get("JWTD_BIN", "build/jwtd")
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


class JwtdServer:
    """One running jwtd process. Start with start(); stop with stop()."""

    def __init__(self, env=None, workers=2, args=None):
        self.data_dir = tempfile.mkdtemp(prefix="jwtd-it-")
        self.stderr_path = os.path.join(self.data_dir, "stderr.log")
        base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
        base.update({
            "JWTD_LISTEN": "127.0.0.1:0",
            "JWTD_WORKERS": str(workers),
            "JWTD_DATA_DIR": self.data_dir,
            # SQLite file, or a fresh PostgreSQL database with JWTD_TEST_DB=pg (pgdb.py)
            "JWTD_DATABASE_URL": pgdb.default_url(self.data_dir),
            "JWTD_LOG_LEVEL": "warn",
            "JWTD_TEST_ROUTES": "1",
            # issue 5: rate limits off unless a test sets them (the defaults, e.g. 5 logins
            # a minute, would throttle tests that log in many times from 127.0.0.1);
            # tests/integration/test_ratelimit*.py set strict ones
            "JWTD_RATE_LIMIT_LOGIN": "0",
            "JWTD_RATE_LIMIT_ANON": "0",
            "JWTD_RATE_LIMIT_USER": "0",
        })
        base.update(env or {})
        self.env = base
        self.args = args or []
        self.proc = None
        self.url = self.host = self.port = None
        self.exit_status = None

    def start(self):
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([jwtd_bin(), "serve"] + self.args, env=self.env,
                                     stdout=subprocess.PIPE, stderr=self._stderr,
                                     cwd=self.data_dir)
        deadline = time.monotonic() + START_TIMEOUT_S
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    break
                line += ch
                if ch == b"\n":
                    break
            elif self.proc.poll() is not None:
                break
        text = line.decode(errors="replace").strip()
        if not text.startswith("jwtd listening on http://"):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("jwtd did not start (%r); stderr:\n%s" % (text, self.stderr()))
        self.url = text.split(" on ", 1)[1]
        hostport = self.url[len("http://"):]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        return self

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT_S):
        try:
            self.exit_status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("jwtd did not exit within %ss; stderr:\n%s"
                                 % (timeout, self.stderr()))
        return self.exit_status

    def stop(self, check=True):
        """SIGTERM, wait, and (check) assert exit status 0. Idempotent."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        status = self.wait()
        self.proc.stdout.close()
        self._stderr.close()
        err = self.stderr()
        self.proc = None
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if check:
            assert status == 0, "jwtd exited with %s; stderr:\n%s" % (status, err)
        return status


@pytest.fixture
def jwtd_server():
    started = []

    def factory(env=None, workers=2, args=None):
        srv = JwtdServer(env=env, workers=workers, args=args).start()
        started.append(srv)
        return srv

    yield factory
    errors = []
    for srv in started:
        try:
            srv.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="session")
def server():
    srv = JwtdServer().start()
    yield srv
    srv.stop()


# --- raw HTTP helpers -------------------------------------------------------------------


def connect(srv, timeout=10.0):
    s = socket.create_connection((srv.host, srv.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_raw(sock, data):
    if isinstance(data, str):
        data = data.encode()
    sock.sendall(data)


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d %r %r)" % (self.status, self.headers, self.body[:200])


class Reader:
    """Buffered reader of HTTP responses over one socket (keeps leftovers)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def read_response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        proto, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        assert proto == "HTTP/1.1", lines[0]
        headers = []
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        status = int(status)
        length = 0
        for k, v in headers:
            if k == "content-length":
                length = int(v)
        if head or status in (100, 204, 304):
            length = 0
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status, reason, headers, body)

    def closed(self, timeout=5.0):
        """True when the server closes the connection within timeout (reads, discarding)."""
        self.sock.settimeout(timeout)
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False


def read_response(sock, head=False):
    return Reader(sock).read_response(head=head)


def request(srv, data, head=False, timeout=10.0):
    """Sends one raw request on a new connection and returns its response."""
    with connect(srv, timeout) as s:
        send_raw(s, data)
        return read_response(s, head=head)

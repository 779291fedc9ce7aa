"""A real redis-server for the integration tests of the shared store (issue 5).

    RedisServer(persist=False).start()   ephemeral loopback port, its own temp dir;
                                         persist=False: --save '' --appendonly no;
                                         persist=True: appendonly (survives kill + restart)
    .url  .port  .kill() (SIGKILL)  .stop() (SIGTERM)  .restart() (same port and dir)
    .cli(*args) -> stdout of one command (redis-cli is not needed: a tiny RESP client)

Fixture `redis_server`: factory; every server it started is stopped afterwards.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RedisServer:
    def __init__(self, persist=False, password=None):
        self.dir = tempfile.mkdtemp(prefix="jwtd-redis-")
        self.persist = persist
        self.password = password
        self.port = None
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def _spawn(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log"),
                "--protected-mode", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        else:
            args += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.cli("PING") == "PONG":
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def start(self):
        for _ in range(5):
            self.port = free_port()
            if self._spawn():
                return self
            self._reap()
        raise RuntimeError("redis-server did not start")

    def restart(self):
        assert self.proc is None or self.proc.poll() is not None
        if not self._spawn():
            raise RuntimeError("redis-server did not restart on port %d" % self.port)
        return self

    def _reap(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args, db=0):
        """One command over RESP (after AUTH / SELECT when needed); returns str, int, list
        or None."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rb")
            pre = []
            if self.password:
                pre.append(("AUTH", self.password))
            if db:
                pre.append(("SELECT", db))
            for cmd in pre + [args]:
                out = b"*%d\r\n" % len(cmd)
                for a in cmd:
                    a = a if isinstance(a, bytes) else str(a).encode()
                    out += b"$%d\r\n%s\r\n" % (len(a), a)
                s.sendall(out)
                reply = _read(f)
            return reply


def _read(f):
    line = f.readline()
    if not line:
        raise OSError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise OSError("bad reply %r" % line)


@pytest.fixture
def redis_server():
    started = []

    def factory(persist=False, password=None):
        r = RedisServer(persist=persist, password=password).start()
        started.append(r)
        return r

    yield factory
    for r in started:
        r.stop()

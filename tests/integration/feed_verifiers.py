"""The verifiers that follow jwtd's revocation feed, as the tests start them (one place for
test_revocation_feed.py and test_resource_server_c.py):

  * FastApiVerifier: feed_fastapi_service.py (uvicorn + clients/python's jwtd_verifier);
  * CVerifier: examples/resource-server-c with --feed-url (libjwtv's revocation set);
  * start_resource_server / stop_process: the resource-server binary built beside the jwtd
    under test, and the stop every wrapper shares.

Both verifiers take the feed's base URL apart from the JWKS URL (feed_url), so that a test
can put a proxy on the feed alone, and a silence bound (feed_timeout, seconds: how long a
connection may say nothing before the verifier drops it).
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

import requests

from peers import jwtd_bin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
# Built next to the jwtd under test (JWTD_BIN), so a sanitizer build tests its own copy.
RS_BIN = os.path.join(os.path.dirname(os.path.abspath(jwtd_bin())), "resource-server")
TIMEOUT = 10.0
START_TIMEOUT = 60.0  # a verifier's start (imports, first snapshot) on a loaded machine


def wait_until(fn, timeout=TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Signals proc (if still running) and reaps it, killing it after timeout seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_resource_server(args, env=None):
    """Starts resource-server on an ephemeral port; returns (process, base URL)."""
    proc = subprocess.Popen([RS_BIN, "--listen", "127.0.0.1:0", "--threads", "2"] + list(args),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline().decode().strip()
    if "listening on " not in line:
        proc.kill()
        raise RuntimeError("resource-server did not start: %r %s"
                           % (line, proc.stderr.read().decode()))
    return proc, line.split("listening on ", 1)[1]


class _Verifier:
    url = None
    proc = None

    def status(self, token):
        return requests.get(self.url + "/protected", headers={"Authorization": "Bearer " + token},
                            timeout=10).status_code

    def stop(self):
        stop_process(self.proc)


class FastApiVerifier(_Verifier):
    """feed_fastapi_service.py (uvicorn) following jwtd's feed. feed() is its /_feed:
    ready, connected, staleness, last_event_id, events, entries."""

    name = "fastapi"

    def __init__(self, jwtd_url, key, feed_url=None, feed_timeout=None, wait_ready=True, **env):
        self.tmp = tempfile.mkdtemp(prefix="jwtd-feed-fastapi-")
        self.port_file = os.path.join(self.tmp, "port")
        e = dict(os.environ)
        # the helper reads the JWKS and the feed from one base URL: a proxy carries both
        e.update({"JWTD_URL": feed_url or jwtd_url, "JWTD_VERIFIER_KEY": key,
                  "PORT_FILE": self.port_file,
                  "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "clients", "python"), HERE])})
        if feed_timeout:
            e["VERIFIER_KEEPALIVE_TIMEOUT"] = str(feed_timeout)
        e.update(env)
        self.log = open(os.path.join(self.tmp, "log"), "wb")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "feed_fastapi_service.py")],
                                     env=e, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: os.path.exists(self.port_file) or self.proc.poll() is not None,
                   timeout=START_TIMEOUT, what="the FastAPI service")
        assert self.proc.poll() is None, open(os.path.join(self.tmp, "log")).read()
        with open(self.port_file) as f:
            self.url = "http://127.0.0.1:%s" % f.read().strip()
        if wait_ready:
            wait_until(self._ready, timeout=START_TIMEOUT, what="the FastAPI service's feed")
        else:
            wait_until(lambda: self._ready() is not None, timeout=START_TIMEOUT,
                       what="the FastAPI service")

    def log_text(self):
        with open(os.path.join(self.tmp, "log"), errors="replace") as f:
            return f.read()

    def _ready(self):
        """Whether the feed is in (None: the service does not answer yet)."""
        try:
            return requests.get(self.url + "/_feed", timeout=5).json()["ready"]
        except requests.RequestException:
            return None

    def feed(self):
        return requests.get(self.url + "/_feed", timeout=5).json()

    def connected(self):
        return self.feed()["connected"]

    def stop(self):
        super().stop()
        self.log.close()


class CVerifier(_Verifier):
    """examples/resource-server-c with --feed-url: libjwtv's revocation set. feed() is its
    /_stats: feed_ready, feed_connected, feed_events, revoked."""

    name = "c"

    def __init__(self, jwtd_url, key, feed_url=None, feed_timeout=None):
        args = ["--jwks-url", jwtd_url + "/.well-known/jwks.json",
                "--feed-url", (feed_url or jwtd_url) + "/auth/revocations/stream"]
        if feed_timeout:
            args += ["--feed-timeout", str(feed_timeout)]
        self.proc, self.url = start_resource_server(args,
                                                    env=dict(os.environ, JWTD_VERIFIER_KEY=key))
        wait_until(lambda: self.feed().get("feed_ready"), timeout=START_TIMEOUT,
                   what="the C server's feed")

    def feed(self):
        return requests.get(self.url + "/_stats", timeout=5).json()

    def connected(self):
        return self.feed()["feed_connected"]


VERIFIERS = [FastApiVerifier, CVerifier]

"""Signals and the PID file of `jwtd serve` (docs/operations.md).

SIGHUP never stops jwtd, whether it logs to stderr or to JWTD_LOG_DIR (where it reopens the
files); SIGTERM still drains and exits 0. JWTD_PID_FILE is written with the server's pid
once it listens, removed at a clean exit; a file naming another live process refuses the
start, a stale one is replaced.
"""

import os
import signal
import subprocess
import time

import pytest
import requests

from conftest import JwtdServer


def healthz(srv):
    return requests.get(srv.url + "/healthz", timeout=10).status_code


def wait_for_text(path, text, bound=10.0):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                if text in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("logging", ["stderr", "files"])
def test_sighup_keeps_serving_and_sigterm_exits_0(jwtd_server, logging, tmp_path):
    logdir = str(tmp_path)
    env = {"JWTD_LOG_LEVEL": "info"}
    if logging == "files":
        env["JWTD_LOG_DIR"] = logdir
    srv = jwtd_server(env=env)
    log = os.path.join(logdir, "error.log") if logging == "files" else srv.stderr_path
    want = "log files reopened" if logging == "files" else "nothing to reopen"
    for i in range(3):
        if logging == "files":  # logrotate: rename, then signal
            os.rename(log, log + ".%d" % i)
        srv.signal(signal.SIGHUP)
        assert wait_for_text(log, want), "no SIGHUP line in %s" % log
        assert srv.proc.poll() is None, "SIGHUP stopped jwtd"
        assert healthz(srv) == 200
    srv.signal(signal.SIGTERM)
    assert srv.wait() == 0
    assert wait_for_text(log, 'msg="stopped"')
    assert srv.stop() == 0


def test_pid_file_written_and_removed(jwtd_server, tmp_path):
    path = str(tmp_path / "jwtd.pid")
    srv = jwtd_server(env={"JWTD_PID_FILE": path})
    with open(path) as f:
        assert f.read() == "%d\n" % srv.proc.pid
    assert os.stat(path).st_mode & 0o777 == 0o644
    srv.signal(signal.SIGHUP)  # reloading keeps it
    assert healthz(srv) == 200 and os.path.exists(path)
    assert srv.stop() == 0
    assert not os.path.exists(path)


def test_pid_file_of_a_live_process_refuses_start(jwtd_server, tmp_path):
    path = str(tmp_path / "jwtd.pid")
    first = jwtd_server(env={"JWTD_PID_FILE": path})
    second = JwtdServer(env={"JWTD_PID_FILE": path})
    with pytest.raises(RuntimeError, match="names process %d, which is running" % first.proc.pid):
        second.start()
    assert second.proc.returncode == 1
    with open(path) as f:  # untouched
        assert f.read() == "%d\n" % first.proc.pid
    assert healthz(first) == 200


def test_stale_pid_file_is_replaced(jwtd_server, tmp_path):
    path = str(tmp_path / "jwtd.pid")
    gone = subprocess.Popen(["true"])
    gone.wait()
    with open(path, "w") as f:
        f.write("%d\n" % gone.pid)
    srv = jwtd_server(env={"JWTD_PID_FILE": path})
    with open(path) as f:
        assert f.read() == "%d\n" % srv.proc.pid
    assert srv.stop() == 0
    assert not os.path.exists(path)

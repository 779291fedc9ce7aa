"""Buffered access lines (JWTD_LOG_BUFFER, JWTD_LOG_FLUSH; docs/observability.md).

Each event loop gathers its access lines and writes them when its buffer fills, every flush
interval, on SIGHUP (before the log files are reopened) and at a clean stop. These tests
send bursts on keep-alive connections (one connection is served by one loop, so its lines
must appear in request order) and check that every line arrives whole, in order, in text and
JSON format, and that JWTD_LOG_BUFFER=0 still writes each line at once. Nothing here
asserts a duration: waits poll with generous bounds, and the "still buffered" checks use a
flush interval of one minute, far beyond the length of a test.
"""

import json
import os
import re
import signal
import threading
import time

import pytest
import requests

N_PER_CONN = 150
TEXT_RE = re.compile(
    r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info module=http '
    r'request_id=[0-9a-f]{16} msg="request" method=GET path="(/[^"]*)" status=404 '
    r'bytes=\d+ duration_us=\d+$')


def burst(srv, tags, n=N_PER_CONN):
    """n GET /lb/<tag>/<i> on one keep-alive connection per tag, the tags in parallel."""
    errors = []

    def run(tag):
        try:
            with requests.Session() as s:
                for i in range(n):
                    r = s.get("%s/lb/%s/%d" % (srv.url, tag, i), timeout=30)
                    assert r.status_code == 404
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(t,)) for t in tags]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode()
    except FileNotFoundError:
        return ""


def burst_paths(text, fmt):
    """The /lb/ paths of the access lines in text, in file order; every line must be whole."""
    assert text == "" or text.endswith("\n"), "a cut line at the end: %r" % text[-200:]
    paths = []
    for line in text.splitlines():
        if fmt == "json":
            obj = json.loads(line)  # every line is a whole JSON object
            if obj.get("msg") != "request" or not obj.get("path", "").startswith("/lb/"):
                continue
            assert obj["level"] == "info" and obj["module"] == "http"
            assert obj["method"] == "GET" and obj["status"] == 404
            assert isinstance(obj["bytes"], int) and isinstance(obj["duration_us"], int)
            assert re.fullmatch(r"[0-9a-f]{16}", obj["request_id"])
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["ts"])
            paths.append(obj["path"])
        else:
            if 'msg="request"' not in line or 'path="/lb/' not in line:
                continue
            m = TEXT_RE.match(line)
            assert m, "incomplete access line: %r" % line
            paths.append(m.group(1))
    return paths


def check_complete(paths, tags, n=N_PER_CONN):
    """Every request of every tag exactly once, each tag's in request order."""
    for tag in tags:
        got = [p for p in paths if p.startswith("/lb/%s/" % tag)]
        assert got == ["/lb/%s/%d" % (tag, i) for i in range(n)], \
            "tag %s: %d lines, first differences %r" % (tag, len(got), got[:5])


def poll_complete(path, fmt, tags, bound=30.0):
    """Waits (polling) until every burst line is in path; returns the paths found last."""
    deadline = time.monotonic() + bound
    while True:
        paths = burst_paths(read(path), fmt)
        if len(paths) >= len(tags) * N_PER_CONN or time.monotonic() > deadline:
            return paths
        time.sleep(0.05)


def start(jwtd_server, tmp_path, fmt, files, **extra):
    env = {"JWTD_LOG_LEVEL": "info", "JWTD_LOG_FORMAT": fmt}
    env.update(extra)
    if files:
        env["JWTD_LOG_DIR"] = str(tmp_path)
    srv = jwtd_server(env=env)
    log = os.path.join(str(tmp_path), "api.log") if files else srv.stderr_path
    return srv, log


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("files", [False, True], ids=["stderr", "logdir"])
def test_burst_is_flushed_by_time_without_traffic(jwtd_server, tmp_path, fmt, files):
    srv, log = start(jwtd_server, tmp_path, fmt, files, JWTD_LOG_FLUSH="200ms")
    tags = ["a", "b"]
    burst(srv, tags)
    # no request after the burst: only the flusher can write the lines out
    check_complete(poll_complete(log, fmt, tags), tags)
    assert srv.stop() == 0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_all_lines_written_at_sigterm(jwtd_server, tmp_path, fmt):
    srv, log = start(jwtd_server, tmp_path, fmt, True, JWTD_LOG_FLUSH="1m")
    tags = ["a", "b"]
    burst(srv, tags)
    # a 64 KiB buffer per loop holds the whole burst and the flusher waits a minute
    assert burst_paths(read(log), fmt) == [], "access lines were not buffered"
    srv.signal(signal.SIGTERM)
    assert srv.wait() == 0
    check_complete(burst_paths(read(log), fmt), tags)
    assert srv.stop() == 0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_sighup_writes_buffers_before_reopening(jwtd_server, tmp_path, fmt):
    srv, log = start(jwtd_server, tmp_path, fmt, True, JWTD_LOG_FLUSH="1m")
    burst(srv, ["a", "b"])
    assert burst_paths(read(log), fmt) == [], "access lines were not buffered"
    os.rename(log, log + ".1")  # logrotate: rename, then SIGHUP
    srv.signal(signal.SIGHUP)
    # the lines written before the rotation land in the renamed file
    check_complete(poll_complete(log + ".1", fmt, ["a", "b"]), ["a", "b"])
    burst(srv, ["c"])
    srv.signal(signal.SIGTERM)
    assert srv.wait() == 0
    check_complete(burst_paths(read(log), fmt), ["c"])
    assert burst_paths(read(log), fmt) == ["/lb/c/%d" % i for i in range(N_PER_CONN)]
    assert srv.stop() == 0


def test_full_buffer_is_written_without_waiting(jwtd_server, tmp_path):
    srv, log = start(jwtd_server, tmp_path, "text", True, JWTD_LOG_BUFFER="4k",
                     JWTD_LOG_FLUSH="1m")
    burst(srv, ["a", "b"])
    # each loop holds less than 4 KiB (under 40 lines of this size) until the next flush
    paths = burst_paths(read(log), "text")
    assert len(paths) >= 2 * N_PER_CONN - 2 * 40, "only %d lines written" % len(paths)
    for tag in ("a", "b"):
        got = [p for p in paths if p.startswith("/lb/%s/" % tag)]
        assert got == ["/lb/%s/%d" % (tag, i) for i in range(len(got))]
    srv.signal(signal.SIGTERM)
    assert srv.wait() == 0
    check_complete(burst_paths(read(log), "text"), ["a", "b"])
    assert srv.stop() == 0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_unbuffered_writes_each_line_at_once(jwtd_server, tmp_path, fmt):
    srv, log = start(jwtd_server, tmp_path, fmt, True, JWTD_LOG_BUFFER="0",
                     JWTD_LOG_FLUSH="1m")
    with requests.Session() as s:
        for i in range(20):
            assert s.get("%s/lb/u/%d" % (srv.url, i), timeout=30).status_code == 404
            # the line of the answer just received is already in the file
            assert burst_paths(read(log), fmt)[-1:] == ["/lb/u/%d" % i]
    assert srv.stop() == 0


def test_invalid_buffer_settings_are_refused(jwtd_server, tmp_path):
    for env in ({"JWTD_LOG_BUFFER": "-1"}, {"JWTD_LOG_BUFFER": "1g"},
                {"JWTD_LOG_FLUSH": "0"}, {"JWTD_LOG_FLUSH": "soon"}):
        with pytest.raises(RuntimeError) as e:
            jwtd_server(env=env)
        assert list(env)[0] in str(e.value)

"""GET /metrics is valid Prometheus text (checked strictly here, then by prometheus_client's
own parser) with jwtd_build_info and the process_* families; with JWTD_LOG_FORMAT=json every
line jwtd writes -- on stderr, or in the four files of JWTD_LOG_DIR -- is one JSON object.

One server per log destination; each drives the same scenario (login, refresh, failed
logins up to the login rate limit, a 404, requests slower than a 1 ms threshold), then
stops, so every line of the run (start-up to shutdown) is checked."""

import json
import math
import os
import re
import shutil
import tempfile

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import JwtdServer
from peers import TEST_PASSWORD, Jwtd, token_env

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^\n]*\})? (\S+)\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
PROCESS = ["process_resident_memory_bytes", "process_virtual_memory_bytes",
           "process_cpu_seconds_total", "process_open_fds", "process_max_fds",
           "process_start_time_seconds"]


def start(**env):
    srv = JwtdServer(env=token_env(JWTD_LOG_FORMAT="json", JWTD_LOG_LEVEL="debug",
                                   JWTD_SLOW_REQUEST="1ms", JWTD_RATE_LIMIT_LOGIN="3/minute",
                                   **env))
    j = Jwtd(srv)
    j.create_user()
    srv.start()
    return j


def stop(j):
    """Stops the server (exit status 0) and returns all it wrote on stderr."""
    j.srv.signal()
    j.srv.wait()
    text = j.srv.stderr()
    j.srv.stop()
    return text


def scenario(j):
    pair = j.login()
    assert j.refresh(pair["refresh"]).status_code == 200
    codes = [j.post("/api/token/", {"username": "testuser", "password": "wrong-pw"}).status_code
             for _ in range(4)]
    assert codes[0] == 401 and codes[-1] == 429, codes
    assert j.get("/no/such/route").status_code == 404


def parse_labels(text):
    """{a="x",b="y\\"z"} -> [("a", 'x'), ("b", 'y"z')]; AssertionError if malformed."""
    assert text[0] == "{" and text[-1] == "}", text
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        m = re.compile(r'([^=]*)="').match(body, i)
        assert m and LABEL_NAME.match(m.group(1)) and not m.group(1).startswith("__"), text
        i, value = m.end(), ""
        while True:
            assert i < len(body), "unterminated label value: " + text
            c = body[i]
            if c == "\\":
                assert body[i + 1:i + 2] in ('"', "\\", "n"), text
                value += {"n": "\n"}.get(body[i + 1], body[i + 1])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                assert c != "\n", text
                value += c
                i += 1
        out.append((m.group(1), value))
        if i < len(body):
            assert body[i] == "," and i + 1 < len(body), "bad label separator: " + text
            i += 1
    return out


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def check_exposition(text):
    """The text format 0.0.4, strictly: returns {family: type} and {series: value}."""
    assert text.endswith("\n") and "\n\n" not in text
    helps, types, series, done, current = {}, {}, {}, set(), None
    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            parts = line.split(" ", 3)
            assert parts[1] in ("HELP", "TYPE") and len(parts) == 4, line
            name = parts[2]
            assert NAME.match(name), line
            table = helps if parts[1] == "HELP" else types
            assert name not in table, "second %s for %s" % (parts[1], name)
            assert parts[3].strip(), "empty %s: %s" % (parts[1], line)
            if parts[1] == "TYPE":
                assert parts[3] in TYPES, line
            if name != current:
                assert name not in done, "family %s is split" % name
                if current:
                    done.add(current)
                current = name
            table[name] = parts[3]
            continue
        m = SAMPLE.match(line)
        assert m, "bad sample line: %r" % line
        fam = family_of(m.group(1), types)
        assert fam == current, "sample %s outside its family block (%s)" % (line, current)
        assert fam in helps and fam in types, "no HELP/TYPE before " + line
        labels = parse_labels(m.group(2)) if m.group(2) else []
        assert len({k for k, _ in labels}) == len(labels), "repeated label: " + line
        value = float(m.group(3))  # also +Inf, -Inf, NaN
        key = (m.group(1), tuple(sorted(labels)))
        assert key not in series, "duplicate series: " + line
        series[key] = value
    assert set(helps) == set(types), set(helps) ^ set(types)
    for fam, t in types.items():
        if t == "counter":
            assert fam.endswith("_total"), "counter without _total: " + fam
            assert all(v >= 0 for (n, _), v in series.items() if n == fam)
    check_histograms(types, series)
    return types, series


def check_histograms(types, series):
    for fam in (f for f, t in types.items() if t == "histogram"):
        groups = {}
        for (name, labels), v in series.items():
            if name == fam + "_bucket":
                rest = tuple(kv for kv in labels if kv[0] != "le")
                groups.setdefault(rest, []).append((float(dict(labels)["le"]), v))
        for rest, buckets in groups.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            assert buckets[-1][0] == math.inf and counts == sorted(counts), (fam, rest)
            assert series[(fam + "_count", rest)] == counts[-1], (fam, rest)
            assert (fam + "_sum", rest) in series


@pytest.fixture(scope="module")
def stderr_run():
    j = start()
    try:
        scenario(j)
        metrics = requests.get(j.url + "/metrics", timeout=30)
    finally:
        stderr = stop(j)
    return stderr, metrics


def test_metrics_exposition_is_strictly_valid(stderr_run):
    _, r = stderr_run
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    types, series = check_exposition(r.text)
    assert len(types) >= 27
    info = [(labels, v) for (n, labels), v in series.items() if n == "jwtd_build_info"]
    assert types["jwtd_build_info"] == "gauge" and len(info) == 1 and info[0][1] == 1
    labels = dict(info[0][0])
    assert re.match(r"\d+\.\d+\.\d+", labels["version"]) and labels["openssl"].startswith("3.")
    for name in PROCESS:
        assert types[name] == ("counter" if name.endswith("_total") else "gauge"), name
        assert series[(name, ())] >= 0, name
    assert series[("process_resident_memory_bytes", ())] > 1e6
    assert series[("process_open_fds", ())] <= series[("process_max_fds", ())]
    assert series[("jwtd_rate_limit_hits_total", (("limit", "login"),))] >= 1
    assert series[("jwtd_slow_requests_total", ())] >= 1
    # prometheus_client's own parser agrees on every family and its type
    parsed = {f.name: f.type for f in text_string_to_metric_families(r.text)}
    expect = {(n[:-6] if t == "counter" else n): t for n, t in types.items()}
    assert parsed == expect


def test_exposition_checker_rejects_bad_text():
    good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n"
    check_exposition(good)
    for bad in [good.replace("# HELP a_total A.\n", ""),            # no HELP
                good + "a_total{x=\"1\"} 4\n",                         # duplicate series
                good.replace("a_total", "a"),                          # counter without _total
                good.replace('{x="1"}', '{x="1",}'),                   # trailing comma
                good.replace('{x="1"}', '{1x="1"}'),                   # bad label name
                good + "# HELP b B.\n# TYPE b gauge\nb 1\na_total 2\n"]:  # split family
        with pytest.raises((AssertionError, KeyError, ValueError)):
            check_exposition(bad)


def json_lines(text, where):
    objs = []
    for line in text.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict), "%s: %r" % (where, line)
        assert {"ts", "level", "module"} <= set(obj), "%s: %r" % (where, line)
        objs.append(obj)
    return objs


def check_scenario_lines(objs):
    access = [o for o in objs if o.get("msg") == "request"]
    assert any(o["path"] == "/no/such/route" and o["status"] == 404 for o in access)
    assert all(isinstance(o["status"], int) and isinstance(o["duration_us"], int)
               and isinstance(o["request_id"], str) for o in access)
    events = {o.get("event") for o in objs}
    assert {"slow_request", "throttled"} <= events, events
    assert all(TEST_PASSWORD not in json.dumps(o) for o in objs)


def test_json_logs_on_stderr(stderr_run):
    objs = json_lines(stderr_run[0], "stderr")
    check_scenario_lines(objs)
    assert any(o["level"] == "info" and o["module"] not in ("http", "observe") for o in objs)


def test_json_logs_in_log_dir_files():
    logdir = tempfile.mkdtemp(prefix="jwtd-jsonlogs-")
    j = start(JWTD_LOG_DIR=logdir)
    try:
        scenario(j)
    finally:
        stderr = stop(j)
    try:
        every = []
        for name in ("error.log", "auth.log", "api.log", "performance.log"):
            with open(os.path.join(logdir, name), encoding="utf-8") as f:
                objs = json_lines(f.read(), name)
            assert objs, name + " is empty"
            every += objs
        every += json_lines(stderr, "stderr")
        check_scenario_lines(every)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)

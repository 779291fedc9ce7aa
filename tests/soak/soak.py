#!/usr/bin/python3
"""Soak test of issue 9's "Done when": jwtd under a mixed wrk load for DURATION seconds
(default 60) answers every request correctly, keeps RSS flat and accounts for every request
in /metrics.

    tests/soak/soak.py [--duration 60] [--connections 32] [--bin build/jwtd] [--bench-md]

The mix (tests/soak/mix.lua): token verification (POST /api/token/verify/), Bearer
requests (GET /api/users/me/), refresh with rotation (POST /api/token/refresh/, the same
token repeated inside a long JWTD_REFRESH_REUSE_GRACE, so each is a real rotation
transaction that returns the recorded successor), logins (good and bad password), and bad
tokens of every kind (tampered signature, alg none, expired, wrong key, refresh token as
access token, garbage) that must all get 401. Checks, exit status 1 on any failure:
  - no 5xx, no answer whose status differs from the expected one (a bad token accepted or a
    good one refused), no socket errors;
  - RSS (VmRSS sampled every second) flat: the last quarter's median within 10% (+2 MiB)
    of the median of the second quarter (warm-up excluded);
  - /metrics: jwtd_http_requests_total grew by exactly what wrk completed, plus at most one
    in-flight request per connection cut by wrk's stop, plus the scrape itself; no 5xx
    class; the tamper counters saw the bad tokens.
--bench-md writes the results into BENCH.md between <!-- BEGIN soak --> and
<!-- END soak -->. The wrk run holds /tmp/bench.lock (flock), as every benchmark here.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import requests  # noqa: E402

from conftest import JwtdServer  # noqa: E402
from peers import SHARED_SECRET, TEST_PASSWORD, Jwtd, token_env  # noqa: E402


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(header, payload, key):
    h = b64u(json.dumps(header, separators=(",", ":")).encode())
    p = b64u(json.dumps(payload, separators=(",", ":")).encode())
    s = hmac.new(key, ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64u(s))


def parts(tok):
    h, p, _ = tok.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(h))),
            json.loads(base64.urlsafe_b64decode(pad(p))))


def scrape(url):
    out = {}
    for line in requests.get(url + "/metrics", timeout=30).text.splitlines():
        m = re.match(r"^(\S+) (\S+)$", line)
        if m and not line.startswith("#"):
            out[m.group(1)] = float(m.group(2))
    return out


def total(m, prefix):
    return sum(v for k, v in m.items() if k.startswith(prefix))


def build_plan(j, path, users):
    pairs = [j.login(u) for u in users]
    rows = []
    for pr in pairs:
        acc, ref = pr["access"], pr["refresh"]
        hdr, cl = parts(acc)
        bearer = "Bearer " + acc
        rows += [("200", "POST", "/api/token/verify/", json.dumps({"token": acc}), "-")] * 4
        rows += [("200", "GET", "/api/users/me/", "-", bearer)] * 4
        rows += [("200", "POST", "/api/token/refresh/", json.dumps({"refresh": ref}), "-")]
        bad = {
            "tampered": acc[:-4] + ("AAAA" if not acc.endswith("AAAA") else "BBBB"),
            "none": b64u(b'{"alg":"none","typ":"JWT"}') + "." + acc.split(".")[1] + ".",
            "expired": sign(hdr, dict(cl, exp=int(time.time()) - 60), SHARED_SECRET.encode()),
            "wrong-key": sign(hdr, cl, b"another-secret-of-the-attacker-0123456789"),
            "refresh-as-access": ref,
            "garbage": "not.a.token",
        }
        for tok in bad.values():
            rows.append(("401", "GET", "/api/users/me/", "-", "Bearer " + tok))
        rows.append(("401", "POST", "/api/token/verify/", json.dumps({"token": bad["none"]}), "-"))
    rows.append(("200", "POST", "/api/token/", json.dumps(
        {"username": users[0], "password": TEST_PASSWORD}), "-"))
    rows.append(("401", "POST", "/api/token/", json.dumps(
        {"username": users[0], "password": "wrong-password"}), "-"))
    with open(path, "w") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
    return rows


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "jwtd"))
    ap.add_argument("--bench-md", action="store_true")
    a = ap.parse_args()
    os.environ["JWTD_BIN"] = os.path.abspath(a.bin)

    users = ["testuser"] + ["soak%02d" % i for i in range(7)]
    srv = JwtdServer(env=token_env(JWTD_REFRESH_REUSE_GRACE="3600", JWTD_LOG_LEVEL="warn",
                                   JWTD_TEST_ROUTES=None, JWTD_INVALID_TOKEN_LIMIT="0"),
                     workers=a.workers)
    j = Jwtd(srv)
    for u in users:
        if u == "testuser":
            j.create_user()
        else:
            j.create_user(u, email="%s@example.com" % u, first="S", last="Oak")
    srv.start()
    failures = []
    try:
        plan = os.path.join(srv.data_dir, "plan.tsv")
        rows = build_plan(j, plan, users)
        before = scrape(srv.url)
        samples = []
        stop = threading.Event()

        def sampler():
            while not stop.wait(1.0):
                samples.append(rss_kib(srv.proc.pid))

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        env = dict(os.environ, SOAK_PLAN=plan)
        cmd = ["flock", "/tmp/bench.lock", "wrk", "-t%d" % a.threads, "-c%d" % a.connections,
               "-d%ds" % a.duration, "--timeout", "10s", "-s", os.path.join(HERE, "mix.lua"),
               srv.url]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=a.duration + 600)
        stop.set()
        th.join()
        if p.returncode != 0:
            failures.append("wrk failed: %s" % p.stderr)
            print(p.stdout, p.stderr)
            return 1
        res = json.loads([x for x in p.stdout.splitlines() if x.startswith("{")][-1])
        after = scrape(srv.url)
        grown = total(after, "jwtd_http_requests_total") - total(before, "jwtd_http_requests_total")
        extra = grown - 1 - res["requests"]  # -1: the `before` scrape is counted in `after`
        if not (0 <= extra <= a.connections):
            failures.append("metrics counted %d requests, wrk completed %d" % (grown - 1,
                                                                               res["requests"]))
        if total({k: v for k, v in after.items() if 'code="5xx"' in k}, "jwtd_http_requests"):
            failures.append("5xx in /metrics")
        for k in ("wrong", "fivexx", "unmatched", "errors_connect", "errors_read",
                  "errors_write", "errors_timeout"):
            if res[k]:
                failures.append("%s = %d (%s)" % (k, res[k], res["first_wrong"]))
        q = max(1, len(samples) // 4)
        warm = statistics.median(samples[q:2 * q]) if len(samples) >= 4 else samples[0]
        last = statistics.median(samples[-q:])
        if last > warm * 1.10 + 2048:
            failures.append("RSS grew: %d KiB -> %d KiB" % (warm, last))
        rejected = {}
        for k, v in after.items():
            m = re.match(r'jwtd_tokens_verified_total\{alg="[^"]+",result="([a-z_]+)"\}', k)
            if m:
                rejected[m.group(1)] = rejected.get(m.group(1), 0) + v - before.get(k, 0)
        rps = res["requests"] / (res["duration_us"] / 1e6)
        summary = {
            "duration_s": a.duration, "connections": a.connections, "workers": a.workers,
            "requests": res["requests"], "rps": round(rps), "p50_ms": res["p50_us"] / 1000,
            "p99_ms": res["p99_us"] / 1000, "wrong": res["wrong"], "fivexx": res["fivexx"],
            "metrics_counted": int(grown - 1), "cut_in_flight": int(extra),
            "rss_kib_warm": int(warm), "rss_kib_end": int(last),
            "rss_kib_max": max(samples) if samples else 0,
            "verify_results": {k: int(v) for k, v in sorted(rejected.items()) if v},
            "mix_rows": len(rows),
        }
        print(json.dumps(summary, indent=1))
        if a.bench_md:
            write_bench(summary, failures)
    finally:
        srv.stop()
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def write_bench(s, failures):
    path = os.path.join(ROOT, "BENCH.md")
    vr = ", ".join("%s %d" % kv for kv in s["verify_results"].items())
    text = """<!-- BEGIN soak -->
## Soak under a mixed attack load (issue 9)

`tests/soak/soak.py --duration {duration_s} --connections {connections} --bench-md` ({workers}
workers, wrk {connections} connections): a mix of token verification, Bearer requests,
refresh rotations (one SQLite transaction each), logins with good and bad passwords, and
bad tokens (tampered signature, `alg` none, expired, foreign key, refresh-as-access,
garbage), every request tagged with its expected status through `X-Request-Id`.

| requests | req/s | p50 | p99 | wrong answers | 5xx | counted by /metrics | RSS warm -> end (max) |
|---|---|---|---|---|---|---|---|
| {requests} | {rps} | {p50_ms:.2f} ms | {p99_ms:.2f} ms | {wrong} | {fivexx} | {metrics_counted} (+{cut_in_flight} cut in flight) | {rss_kib_warm} -> {rss_kib_end} KiB ({rss_kib_max}) |

Verification results counted by `jwtd_tokens_verified_total` during the run: {vr}.
Verdict: {verdict}.
<!-- END soak -->""".format(vr=vr, verdict="PASS" if not failures else "FAIL: " + "; ".join(failures),
                           **s)
    with open(path) as f:
        md = f.read()
    if "<!-- BEGIN soak -->" in md:
        md = re.sub(r"<!-- BEGIN soak -->.*?<!-- END soak -->", lambda m: text, md, flags=re.S)
    else:
        md = md.rstrip("\n") + "\n\n" + text + "\n"
    with open(path, "w") as f:
        f.write(md)


if __name__ == "__main__":
    sys.exit(main())

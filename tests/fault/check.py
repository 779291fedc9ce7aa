#!/usr/bin/python3
"""Checks the history written by tests/fault/run.py (JSON lines, monotonic seconds) and
prints the report (docs/reliability.md). Exit 0 when no invariant is violated, 1 otherwise.

    /usr/bin/python3 tests/fault/check.py HISTORY [--json REPORT.json]

Invariants (a request's outcome counts at its answer t1, a request "starts" at t0):
 1. revoked_never_accepted: once a revocation was acknowledged (logout 200, logout-all 204,
    `jwtd user passwd` exit 0, a refresh reuse answered 401), no instance accepts a token
    of a revoked session (/api/users/me/ 200, refresh 200) in a request started more than
    BOUND_S later. BOUND_S is the documented propagation bound (the database poll, ~1 s,
    which also covers Redis being down), with margin: 2 s.
 2. one_successor: a refresh token has at most one distinct successor; a presentation
    started more than the grace after its first acknowledged rotation is refused (401), and
    that reuse revokes the family (checked by 1).
 3. nothing_lost: an acknowledged login or rotation stays valid: a refresh or /me answered
    401 must be explained by a revocation that may have happened (started before the
    answer), by an earlier presentation of the same refresh token that may have been its
    rotation more than the grace before, or it is a lost write. A password change
    acknowledged by the CLI is never lost: the old password is refused and the new one
    accepted once BOUND_S has passed.
 4. no_5xx_outside_faults: a 5xx or a connection failure only happens inside a fault window
    [injected, healed + SETTLE_S]; per window the share of failed requests and the
    recovery time (from the injection to the answer of the last failed request) are reported.
"""

import base64
import json
import sys
from collections import defaultdict

BOUND_S = 2.0
SETTLE_S = 5.0
MAX_SHOWN = 20


def claims(token):
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, AttributeError):
        return {}


def failed(r):
    return r.get("status") is None or r["status"] >= 500


def check(records):
    reqs = [r for r in records if r["k"] == "req"]
    faults = [r for r in records if r["k"] == "fault"]
    passwds = [r for r in records if r["k"] == "passwd"]
    meta = next((r for r in records if r["k"] == "meta"), {})
    grace = float(meta.get("grace_s", 2))
    violations = defaultdict(list)
    for r in records:
        if r["k"] == "load_error":
            violations["load_error"].append(r)
        if r["k"] == "crash":  # an instance exited without being killed by the test
            violations["no_crash"].append(r)

    sid_of = {}       # token -> sid
    sid_issued = {}   # sid -> (t0 of the request that created it, t1 of its answer)
    sid_user = {}
    for r in reqs:
        if r.get("status") == 200 and "body" in r:
            for k in ("access", "refresh"):
                if k in r["body"]:
                    sid = claims(r["body"][k]).get("sid")
                    sid_of[r["body"][k]] = sid
                    if r["op"] == "login" and sid not in sid_issued:
                        sid_issued[sid] = (r["t0"], r["t1"])
                        sid_user[sid] = r["user"]
        if r.get("tok"):
            sid_of.setdefault(r["tok"], claims(r["tok"]).get("sid"))

    # revocations: must[sid] = earliest acknowledgement covering it; may[sid] = earliest
    # start of an operation that may have revoked it
    must, may = {}, {}

    def revoke(sid, t_start, t_ack, certain):
        if sid is None:
            return
        may[sid] = min(may.get(sid, t_start), t_start)
        if certain and t_ack is not None:
            must[sid] = min(must.get(sid, t_ack), t_ack)

    def user_sessions(user, t0, t1):
        for sid, (a, b) in sid_issued.items():
            if sid_user.get(sid) != user:
                continue
            if b < t0:
                yield sid, True
            elif a < t1:
                yield sid, False

    first_ok = {}  # refresh token -> first 200 answer
    for r in sorted(reqs, key=lambda x: x["t1"]):
        if r["op"] == "refresh" and r.get("status") == 200 and r["tok"] not in first_ok:
            first_ok[r["tok"]] = r
    presentations = defaultdict(list)
    for r in reqs:
        if r["op"] == "refresh":
            presentations[r["tok"]].append(r)

    for r in reqs:
        sid = sid_of.get(r.get("tok"))
        if r["op"] == "logout":
            revoke(sid, r["t0"], r["t1"], r.get("status") == 200)
            if r.get("status") != 200:
                revoke(sid, r["t0"], None, False)
        elif r["op"] == "logout_all":
            for s, certain in user_sessions(r["user"], r["t0"], r["t1"]):
                revoke(s, r["t0"], r["t1"], certain and r.get("status") == 204)
        elif r["op"] == "refresh":
            # a presentation after the grace of a rotation that may have happened: reuse
            if any(e is not r and e["t0"] + grace < r["t0"] + 0.2
                   for e in presentations[r["tok"]]):
                revoke(sid, r["t0"], r["t1"], False)
            fo = first_ok.get(r["tok"])
            if fo and r["t0"] > fo["t1"] + grace and r.get("status") == 401:
                revoke(sid, r["t0"], r["t1"], True)
    for p in passwds:
        for s, certain in user_sessions(p["user"], p["t0"], p["t1"]):
            revoke(s, p["t0"], p["t1"], certain and p.get("ok"))

    # 1 -------------------------------------------------------------------------------------
    for r in reqs:
        if r.get("status") != 200 or r["op"] not in ("me", "refresh"):
            continue
        sid = sid_of.get(r.get("tok"))
        if sid in must and r["t0"] > must[sid] + BOUND_S:
            violations["revoked_never_accepted"].append(
                {"op": r["op"], "via": r["via"], "sid": sid, "t0": r["t0"],
                 "revoked_at": must[sid], "late_s": round(r["t0"] - must[sid], 3)})

    # 2 -------------------------------------------------------------------------------------
    for tok, ps in presentations.items():
        succ = {p["body"].get("refresh") for p in ps if p.get("status") == 200 and "body" in p}
        if len(succ) > 1:
            violations["one_successor"].append({"sid": sid_of.get(tok), "successors": len(succ)})
        fo = first_ok.get(tok)
        for p in ps:
            if fo and p.get("status") == 200 and p["t0"] > fo["t1"] + grace + 0.5:
                violations["one_successor"].append(
                    {"sid": sid_of.get(tok), "reuse_after_grace_accepted_s":
                     round(p["t0"] - fo["t1"], 3), "via": p["via"]})

    # 3 -------------------------------------------------------------------------------------
    for r in reqs:
        if r.get("status") != 401 or r["op"] not in ("me", "refresh"):
            continue
        sid = sid_of.get(r.get("tok"))
        if sid in may and may[sid] < r["t1"]:
            continue
        if r["op"] == "refresh" and any(e is not r and e["t0"] + grace < r["t0"] + 0.2
                                        for e in presentations[r["tok"]]):
            continue
        violations["nothing_lost"].append({"op": r["op"], "via": r["via"], "sid": sid,
                                           "t0": r["t0"], "code": r.get("body", {}).get("code")})
    by_user = defaultdict(list)
    for p in passwds:
        by_user[p["user"]].append(p)
    for r in reqs:
        if r["op"] != "login" or "pw" not in r or r.get("status") not in (200, 401):
            continue
        ps = sorted(by_user.get(r["user"], []), key=lambda p: p["t1"])
        done = [p for p in ps if p.get("ok") and p["t1"] + BOUND_S < r["t0"]]
        pending = [p for p in ps if p["t0"] < r["t1"] and p["t1"] + BOUND_S >= r["t0"]]
        if not done or pending:
            continue
        current = done[-1]["new"]
        if r["status"] == 200 and r["pw"] != current:
            violations["nothing_lost"].append({"op": "login with the old password accepted",
                                               "user": r["user"], "t0": r["t0"]})
        if r["status"] == 401 and r["pw"] == current:
            violations["nothing_lost"].append({"op": "login with the new password refused",
                                               "user": r["user"], "t0": r["t0"]})

    # 4 -------------------------------------------------------------------------------------
    windows = [(f["t0"], f["t1"] + SETTLE_S, f) for f in faults]
    per = [{"fault": f["name"], "what": f.get("what", ""), "healed_s": round(f["t1"] - f["t0"], 2),
            "requests": 0, "failed": 0, "recovery_s": 0.0,
            "lb_requests": 0, "lb_failed": 0, "lb_recovery_s": 0.0} for _, _, f in windows]
    for r in reqs:
        inside = [i for i, (a, b, _) in enumerate(windows) if a <= r["t1"] and r["t0"] <= b]
        for i in inside:
            per[i]["requests"] += 1
            if failed(r):
                per[i]["failed"] += 1
                per[i]["recovery_s"] = max(per[i]["recovery_s"],
                                           round(r["t1"] - windows[i][0], 2))
            if r.get("via") == "lb":  # what a client behind HAProxy saw
                per[i]["lb_requests"] += 1
                if failed(r):
                    per[i]["lb_failed"] += 1
                    per[i]["lb_recovery_s"] = max(per[i]["lb_recovery_s"],
                                                  round(r["t1"] - windows[i][0], 2))
        if failed(r) and not inside:
            violations["no_5xx_outside_faults"].append(
                {"op": r["op"], "via": r["via"], "status": r.get("status"),
                 "error": r.get("error"), "t0": r["t0"]})
    for p in per:
        p["availability"] = round(1 - p["failed"] / p["requests"], 4) if p["requests"] else 1.0
    # the run must have injected every kind it knows (runs from before the list was recorded
    # in the meta line are not checked)
    for kind in meta.get("fault_kinds", []):
        if not any(f["name"] == kind for f in faults):
            violations["every_fault_kind"].append({"missing": kind})
    kinds = {}
    for p in per:
        k = kinds.setdefault(p["fault"], {"times": 0, "requests": 0, "failed": 0,
                                          "lb_requests": 0, "lb_failed": 0, "recovery_s": 0.0,
                                          "lb_recovery_s": 0.0, "healed_s": []})
        k["times"] += 1
        k["healed_s"].append(p["healed_s"])
        for f in ("requests", "failed", "lb_requests", "lb_failed"):
            k[f] += p[f]
        for f in ("recovery_s", "lb_recovery_s"):
            k[f] = max(k[f], p[f])

    t_start = meta.get("t", min((r["t0"] for r in reqs), default=0))
    t_end = max((r["t1"] for r in reqs), default=t_start)
    ops = defaultdict(lambda: defaultdict(int))
    for r in reqs:
        ops[r["op"]][str(r.get("status"))] += 1
    return {
        "seconds": round(t_end - t_start, 1),
        "requests": len(reqs),
        "requests_per_op": {k: dict(v) for k, v in sorted(ops.items())},
        "password_changes": sum(1 for p in passwds if p.get("ok")),
        "faults": per,
        "fault_kinds": kinds,
        "violations": {k: len(v) for k, v in violations.items()},
        "violation_examples": {k: v[:MAX_SHOWN] for k, v in violations.items()},
        "bound_s": BOUND_S, "settle_s": SETTLE_S, "grace_s": grace,
    }


def render(rep):
    out = ["jwtd fault-injection run: %.0f s, %d requests, %d password changes"
           % (rep["seconds"], rep["requests"], rep["password_changes"]), ""]
    out.append("requests by operation and status:")
    for op, st in rep["requests_per_op"].items():
        out.append("  %-11s %s" % (op, ", ".join("%s: %d" % kv for kv in sorted(st.items()))))
    out += ["", "%-18s %-38s %8s %8s %7s %12s %10s" % ("fault", "what", "healed", "requests",
                                                     "failed", "availability", "recovery")]
    for f in rep["faults"]:
        out.append("%-18s %-38s %7.1fs %8d %7d %11.2f%% %9.2fs"
                   % (f["fault"], f["what"][:38], f["healed_s"], f["requests"], f["failed"],
                      100 * f["availability"], f["recovery_s"]))
    out += ["", "%-18s %5s %15s %13s %13s %15s %13s" % (
        "per kind", "times", "failed/total", "availability", "recovery max", "HAProxy f/t",
        "HAProxy avail")]
    for name, k in rep["fault_kinds"].items():
        out.append("%-18s %5d %15s %12.2f%% %12.2fs %15s %12.2f%%" % (
            name, k["times"], "%d/%d" % (k["failed"], k["requests"]),
            100 * (1 - k["failed"] / k["requests"]) if k["requests"] else 100,
            k["recovery_s"], "%d/%d" % (k["lb_failed"], k["lb_requests"]),
            100 * (1 - k["lb_failed"] / k["lb_requests"]) if k["lb_requests"] else 100))
    out.append("")
    total = sum(rep["violations"].values())
    out.append("invariant violations: %d" % total)
    for k in ("revoked_never_accepted", "one_successor", "nothing_lost", "no_5xx_outside_faults",
              "no_crash", "every_fault_kind", "load_error"):
        if k in rep["violations"] or k != "load_error":
            out.append("  %-24s %d" % (k, rep["violations"].get(k, 0)))
    for k, ex in rep["violation_examples"].items():
        for e in ex:
            out.append("    %s: %s" % (k, json.dumps(e)))
    return "\n".join(out)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    with open(argv[1]) as f:
        records = [json.loads(line) for line in f if line.strip()]
    rep = check(records)
    print(render(rep))
    if "--json" in argv:
        with open(argv[argv.index("--json") + 1], "w") as f:
            json.dump(rep, f, indent=1)
    if not any(r["k"] == "fault" for r in records) or not rep["requests"]:
        print("no fault or no request in the history: nothing was tested")
        return 1
    return 1 if sum(rep["violations"].values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""tests/fault/check.py on small hand-made histories: the per-kind availability (all
requests and those through HAProxy) and the rule that every fault kind of the run was
injected. No server is started (the whole system runs in `make fault-test`)."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("fault_check",
                                              os.path.join(ROOT, "tests", "fault", "check.py"))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def req(t0, t1, via, status, op="logout"):
    return {"k": "req", "w": 0, "user": "u", "op": op, "via": via, "tok": "", "t0": t0,
            "t1": t1, "status": status}


def history(kinds=("jwtd_kill", "pg_restart")):
    return [
        {"k": "meta", "seconds": 30, "grace_s": 2, "t": 0.0, "fault_kinds": list(kinds)},
        {"k": "fault", "name": "jwtd_kill", "what": "instance 0", "t0": 10.0, "t1": 12.0},
        req(10.5, 10.6, "lb", 503),      # failed, through HAProxy, 0.6 s after injection
        req(10.7, 11.0, "i0", None),     # no answer, straight to the instance
        req(11.0, 11.1, "lb", 200),
        req(16.0, 16.1, "i1", 200),      # inside the window (healed + 5 s)
        req(25.0, 25.1, "lb", 200),      # outside
        {"k": "end", "t": 30.0},
    ]


def test_per_kind_counts_and_haproxy_share():
    rep = check.check(history(kinds=("jwtd_kill",)))
    k = rep["fault_kinds"]["jwtd_kill"]
    assert (k["times"], k["requests"], k["failed"]) == (1, 4, 2)
    assert (k["lb_requests"], k["lb_failed"]) == (2, 1)
    assert k["recovery_s"] == 1.0 and k["lb_recovery_s"] == 0.6
    assert k["healed_s"] == [2.0]
    assert rep["violations"].get("every_fault_kind", 0) == 0
    assert sum(rep["violations"].values()) == 0
    text = check.render(rep)
    assert "jwtd_kill" in text and "1/2" in text


def test_a_kind_never_injected_is_a_violation():
    rep = check.check(history())
    assert rep["violations"]["every_fault_kind"] == 1
    assert rep["violation_examples"]["every_fault_kind"] == [{"missing": "pg_restart"}]


def test_a_failure_outside_every_window_is_a_violation():
    h = history(kinds=("jwtd_kill",))
    h.insert(-1, req(26.0, 26.1, "lb", 502))
    rep = check.check(h)
    assert rep["violations"]["no_5xx_outside_faults"] == 1

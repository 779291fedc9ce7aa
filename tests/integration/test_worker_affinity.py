"""JWTD_WORKER_AFFINITY: event-loop threads pinned to CPUs (src/http/server.c).

A pinned thread is one whose Cpus_allowed_list (/proc/PID/task/TID/status) names a single
CPU while the process as a whole may use several. The blocking pool and the main thread are
never pinned, so the number of pinned threads is the number of pinned workers.
"""

import os
import time

import pytest

ALLOWED = sorted(os.sched_getaffinity(0))

pytestmark = pytest.mark.skipif(len(ALLOWED) < 2, reason="needs at least 2 CPUs")


def pinned_cpus(srv):
    """The CPU of every thread of srv that may run on one CPU only, sorted."""
    cpus = []
    task_dir = "/proc/%d/task" % srv.proc.pid
    for tid in os.listdir(task_dir):
        with open(os.path.join(task_dir, tid, "status")) as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    value = line.split(":", 1)[1].strip()
                    if "," not in value and "-" not in value:
                        cpus.append(int(value))
    return sorted(cpus)


def settled_pins(srv, expected_count):
    """pinned_cpus once expected_count threads are pinned (workers start after the
    "listening" line), or after 3 s: whatever it is then."""
    deadline = time.monotonic() + 3.0
    while True:
        cpus = pinned_cpus(srv)
        if len(cpus) >= expected_count or time.monotonic() > deadline:
            return cpus
        time.sleep(0.05)


def test_on_pins_each_worker_to_its_own_cpu(jwtd_server):
    srv = jwtd_server(env={"JWTD_WORKER_AFFINITY": "on"}, workers=2)
    assert settled_pins(srv, 2) == ALLOWED[:2]


def test_on_with_more_workers_than_cpus_goes_round_robin(jwtd_server):
    n = len(ALLOWED) + 1
    srv = jwtd_server(env={"JWTD_WORKER_AFFINITY": "on"}, workers=n)
    assert settled_pins(srv, n) == sorted(ALLOWED + ALLOWED[:1])


def test_off_pins_nothing(jwtd_server):
    srv = jwtd_server(env={"JWTD_WORKER_AFFINITY": "off"}, workers=len(ALLOWED))
    time.sleep(0.5)
    assert pinned_cpus(srv) == []


def test_auto_pins_only_with_one_worker_per_cpu(jwtd_server):
    srv = jwtd_server(env={"JWTD_WORKER_AFFINITY": "auto"}, workers=len(ALLOWED))
    assert settled_pins(srv, len(ALLOWED)) == ALLOWED
    fewer = jwtd_server(env={"JWTD_WORKER_AFFINITY": "auto"}, workers=1)
    time.sleep(0.5)
    assert pinned_cpus(fewer) == []


def test_bad_value_is_a_clear_config_error(jwtd_server):
    import subprocess

    from conftest import jwtd_bin

    env = dict(os.environ, JWTD_WORKER_AFFINITY="sometimes")
    res = subprocess.run([jwtd_bin(), "config"], env=env, capture_output=True, text=True,
                         timeout=10)
    assert res.returncode != 0
    assert "JWTD_WORKER_AFFINITY" in res.stderr

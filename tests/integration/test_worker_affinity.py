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


def thread_ticks(srv):
    """{cpu: utime+stime ticks} of the threads pinned to a single CPU."""
    out = {}
    task_dir = "/proc/%d/task" % srv.proc.pid
    for tid in os.listdir(task_dir):
        with open(os.path.join(task_dir, tid, "status")) as f:
            cpus = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("Cpus_allowed_list:")]
        if not cpus or "," in cpus[0] or "-" in cpus[0]:
            continue
        with open(os.path.join(task_dir, tid, "stat")) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(cpus[0])] = int(fields[11]) + int(fields[12])
    return out


def test_connections_go_to_the_worker_on_the_clients_cpu(jwtd_server):
    """Pinned workers steer each new connection to the worker on the CPU that handled its
    SYN (for loopback: the connecting thread's CPU). A client confined to the last CPU is
    then served by that CPU's worker: it does nearly all the work."""
    import socket

    srv = jwtd_server(env={"JWTD_WORKER_AFFINITY": "on"}, workers=len(ALLOWED))
    settled_pins(srv, len(ALLOWED))
    target = ALLOWED[-1]
    before = thread_ticks(srv)
    old_mask = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {target})
    try:
        req = ("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").encode() * 50
        for _ in range(8):
            s = socket.create_connection((srv.host, srv.port))
            for _ in range(400):
                s.sendall(req)
                got = b""
                while got.count(b"HTTP/1.1 200") < 50:
                    chunk = s.recv(65536)
                    assert chunk, "connection closed"
                    got += chunk
            s.close()
    finally:
        os.sched_setaffinity(0, old_mask)
    after = thread_ticks(srv)
    used = {cpu: after[cpu] - before.get(cpu, 0) for cpu in after}
    others = sum(v for cpu, v in used.items() if cpu != target)
    print("thread ticks by cpu", used)
    assert used[target] >= 5 and used[target] >= 4 * others, used

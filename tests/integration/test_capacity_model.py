"""bench/capacity-model's arithmetic on a fixed set of costs (docs/capacity.md).

The costs below are round numbers, not measurements: every figure the model prints is worked
out by hand in the comments and checked. No server is started.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "bench", "capacity-model")

COSTS = {
    "measured": "2026-01-01 00:00 UTC", "machine": "test, 2 CPUs",
    "argon2": {"algorithm": "argon2id", "memory_kib": 19456, "iterations": 2, "parallelism": 1},
    "revindex": {"mib_per_million_sids": 64.0, "mib_per_million_jtis": 64.0},
    "configs": {"pg+redis": {
        "verify": {"cpu_us": 20, "pg_commits": 0, "pg_statements": 0, "pg_wal_bytes": 0,
                   "redis_roundtrips": 1, "redis_commands": 4, "redis_cpu_us": 5,
                   "redis_net_input_bytes": 100, "redis_net_output_bytes": 20},
        "login": {"cpu_us": 50500},
        "login_cheap_hash": {"cpu_us": 500, "pg_commits": 2, "pg_statements": 8,
                             "pg_rows_inserted": 2, "pg_rows_updated": 1, "pg_rows_deleted": 0,
                             "pg_wal_bytes": 1000, "redis_roundtrips": 3, "redis_commands": 16,
                             "redis_cpu_us": 10, "redis_net_input_bytes": 500,
                             "redis_net_output_bytes": 50},
        "refresh": {"cpu_us": 300, "pg_commits": 1, "pg_statements": 4, "pg_rows_inserted": 1,
                    "pg_rows_updated": 1, "pg_wal_bytes": 1500, "redis_roundtrips": 2,
                    "redis_commands": 7, "redis_cpu_us": 8, "redis_net_input_bytes": 250,
                    "redis_net_output_bytes": 30},
        "logout": {"cpu_us": 400, "pg_commits": 2, "pg_statements": 10, "pg_rows_inserted": 1,
                   "pg_rows_updated": 2, "pg_wal_bytes": 1200, "redis_roundtrips": 2,
                   "redis_commands": 5, "redis_cpu_us": 6, "redis_net_input_bytes": 230,
                   # 30 bytes of replies + the message (90 bytes) to 2 subscribers
                   "redis_net_output_bytes": 210},
        "idle_per_s": {"pg_statements": 2, "pg_commits": 1},
        "fanout": {"messages_per_logout_per_subscriber": 1.0, "bytes_per_message": 90.0,
                   "jwtd_subscribers": 1},
    }},
}

LOAD = ["--logins", "1000", "--refreshes", "10000", "--verifications", "100000",
        "--logouts", "100", "--headroom", "0.5", "--cores-per-instance", "4",
        "--pg-commit-limit", "20000", "--revocation-horizon", "911"]


@pytest.fixture(scope="module")
def costs(tmp_path_factory):
    path = tmp_path_factory.mktemp("capacity") / "costs.json"
    path.write_text(json.dumps(COSTS))
    return str(path)


def run(*args):
    return subprocess.run([sys.executable, MODEL] + list(args), capture_output=True, text=True,
                          timeout=30)


def test_model_arithmetic(costs):
    p = run("--costs", costs, "--json", *LOAD)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    j = r["jwtd"]
    # verify 100000 x 20 us = 2.0, login 1000 x 500 us = 0.5, refresh 10000 x 300 us = 3.0,
    # logout 100 x 400 us = 0.04 cores
    assert j["cores_busy_by_op"] == {"verify": 2.0, "login": 0.5, "refresh": 3.0,
                                     "logout": 0.04}
    assert j["request_cores_busy"] == 5.54
    # the hash: 50500 - 500 us = 50 ms; 1000 logins/s -> 50 cores
    assert j["argon2_hash_cpu_ms"] == 50.0
    assert j["argon2_cores_busy"] == 50.0
    # 55.54 busy at 50 % -> 111.08 -> 112 cores, 28 instances of 4
    assert j["cores_busy"] == 55.54
    assert j["cores_needed"] == 112
    assert j["instances"] == 28

    pg = r["postgresql"]
    # 2000 + 10000 + 200 by the operations, 28 instances x 1 in the background
    assert pg["commits_per_s"] == 12228
    assert pg["commits_by_op"] == {"verify": 0, "login": 2000, "refresh": 10000, "logout": 200}
    assert pg["statements_per_s"] == 8000 + 40000 + 1000 + 28 * 2
    assert pg["background_statements_per_s"] == 56
    assert pg["rows_written_per_s"] == 3000 + 20000 + 300
    assert pg["wal_bytes_per_s"] == 1000000 + 15000000 + 120000

    rd = r["redis"]
    assert rd["roundtrips_per_s"] == 100000 + 3000 + 20000 + 200
    assert rd["commands_per_s"] == 400000 + 16000 + 70000 + 500
    # Redis CPU per command = verify's 5 us / 4 commands = 1.25 us; login 16 commands x 1000,
    # refresh 7 x 10000, logout 5 x 100, verify 4 x 100000:
    # 0.5 + 0.02 + 0.0875 + 0.000625 = 0.608 cores: above one core at 50 % -> 3 masters
    assert rd["cpu_us_per_command"] == 1.25
    assert rd["cpu_cores_by_op"] == {"verify": 0.5, "login": 0.02, "refresh": 0.09,
                                     "logout": 0.0}
    assert rd["cpu_cores_busy"] == 0.61
    assert rd["masters"] == 3
    assert "(3 masters' worth)" in rd["topology"]
    assert "does not spread it" in rd["topology"]
    # in: 1e7 + 5e5 + 2.5e6 + 23000 bytes/s
    assert rd["in_mbit_per_s"] == round(13023000 * 8 / 1e6, 1)
    # out: 2e6 + 5e4 + 3e5 + 21000, less the 2 deliveries measured (100 x 2 x 90), plus one
    # per instance (100 x 28 x 90)
    assert rd["out_mbit_per_s"] == round((2371000 - 18000 + 252000) * 8 / 1e6, 1)
    assert rd["fanout_messages_per_s"] == 2800

    # 100 logouts/s x 911 s = 91100 sessions in the index, 64 MiB a million
    assert r["revocation_index"]["live_entries"] == 91100
    assert r["revocation_index"]["mib_per_instance"] == 5.8

    # Redis at 0.608125 / 0.5 = 1.216x of one master, PostgreSQL at 12228 / (20000 x 0.5) =
    # 1.2228x: PostgreSQL first
    b = r["first_bottleneck"]
    assert b["component"] == "PostgreSQL primary commits"
    assert b["load_vs_single_node"] == 1.22
    assert b["all"] == {"Redis master CPU (one thread)": 1.22, "PostgreSQL primary commits": 1.22}


def test_redis_cpu_measured_per_operation(costs):
    p = run("--costs", costs, "--json", "--redis-cpu", "measured", *LOAD)
    assert p.returncode == 0, p.stderr
    rd = json.loads(p.stdout)["redis"]
    # each operation's own figure: 100000 x 5 + 1000 x 10 + 10000 x 8 + 100 x 6 us
    assert rd["cpu_cores_by_op"] == {"verify": 0.5, "login": 0.01, "refresh": 0.08,
                                     "logout": 0.0}
    assert rd["cpu_cores_busy"] == 0.59
    assert rd["masters"] == 3


def test_small_load_fits_one_redis_master(costs):
    p = run("--costs", costs, "--json", *(LOAD + ["--verifications", "1000"]))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    # 0.005 + 0.02 + 0.0875 + 0.000625 cores of Redis: one master (and Sentinel) is enough
    assert r["redis"]["masters"] == 1
    assert "Sentinel" in r["redis"]["topology"]
    assert r["first_bottleneck"]["component"] == "PostgreSQL primary commits"


def test_text_report_and_errors(costs):
    p = run("--costs", costs, *LOAD)
    assert p.returncode == 0, p.stderr
    assert "112 cores at 50% -> 28 instances of 4 cores" in p.stdout
    assert "m=19456 KiB, t=2, p=1: 50.0 ms CPU per hash" in p.stdout
    assert "First bottleneck: PostgreSQL primary commits" in p.stdout
    p = run("--costs", costs, "--deployment", "nosuch")
    assert p.returncode != 0 and "no deployment 'nosuch'" in p.stderr
    p = run("--costs", costs, "--headroom", "0")
    assert p.returncode != 0 and "--headroom" in p.stderr


def test_committed_costs_are_complete():
    """The committed measurements hold every input the model reads, for every deployment."""
    with open(os.path.join(ROOT, "bench", "results-costs.json")) as f:
        data = json.load(f)
    assert set(data["configs"]) == {"sqlite", "sqlite+redis", "pg", "pg+redis"}
    for name, c in data["configs"].items():
        for op in ("verify", "login", "login_cheap_hash", "refresh", "logout"):
            assert c[op]["cpu_us"] > 0, (name, op)
        assert c["login"]["cpu_us"] > c["login_cheap_hash"]["cpu_us"]
        if name.startswith("pg"):
            assert c["refresh"]["pg_commits"] > 0 and c["refresh"]["pg_wal_bytes"] > 0
        if name.endswith("+redis"):
            assert c["fanout"]["messages_per_logout_per_subscriber"] >= 1
    assert data["revindex"]["mib_per_million_sids"] > 0
    for deployment in data["configs"]:
        p = run("--deployment", deployment)
        assert p.returncode == 0, p.stderr

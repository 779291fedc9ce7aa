"""Redis Sentinel (JWTD_REDIS_URL=redis-sentinel://...): a master, a replica and 3 sentinels
started by the tests on ephemeral loopback ports (redis_util.SentinelSet).

- the shared-store tests of test_redis_shared.py run again, on Sentinel (their `redis_server`
  fixture is replaced here by one that starts a SentinelSet: kill()/restart() take every
  data node down and up, as for a single Redis);
- a graceful failover (SENTINEL failover) and a kill -9 of the master while both instances
  keep answering: no 5xx, revocations made before and after still hold everywhere, the push
  works again on the new master (the median propagation stays far below the 1 s poll), the
  shared cache and rate limits live on the new master;
- the sentinels' password (in a file or in the URL) and the master's password; a wrong
  sentinel password is reported by `jwtd check` and /readyz, never printed.
"""

import os
import statistics
import subprocess
import threading
import time

import pytest
import requests

import test_redis_shared as shared
from conftest import JwtdServer, jwtd_bin
from peers import TEST_PASSWORD, token_env, tokens  # noqa: F401 (fixture)
from redis_util import SentinelSet, sentinel_set  # noqa: F401 (fixture)
from test_redis_shared import (  # noqa: F401 (the shared-store tests, run again here)
    PROPAGATION_CI_BOUND_S, me_status, pair, readyz, test_concurrent_refresh_on_a_and_b_one_successor,
    test_keys_are_prefixed_and_expire, test_logout_all_on_a_rejected_on_b,
    test_logout_on_a_rejected_on_b_propagation, test_orders_cache_shared_and_dropped_on_refresh,
    test_rate_limit_falls_back_to_local_counters, test_rate_limit_shared_between_instances,
    test_redis_down_at_start, test_redis_killed_and_restarted,
    test_redis_not_required_is_ready_without_it, test_sessions_list_and_revoke_across_instances,
    wait_status)

MASTER_PW = "m4ster-pw"
SENTINEL_PW = "s3ntinel-pw"


@pytest.fixture
def redis_server():
    """Replaces test_redis_shared's single Redis by a Sentinel set (same interface)."""
    started = []

    def factory(persist=False, password=None):
        s = SentinelSet(password=password).start()
        started.append(s)
        return s

    yield factory
    for s in started:
        s.stop()


@pytest.fixture
def module_cluster():
    """The shared tests' cluster runs belong to test_redis_shared.py: here `pair` is on
    Sentinel only, so a cluster run skips."""

    def get():
        pytest.skip("the cluster runs are test_redis_shared.py's")

    return get


class Load:
    """Both instances answer /me for a live token and reject a revoked one, all the time;
    every answer is kept (status, instance)."""

    def __init__(self, p, live, revoked):
        self.p, self.live, self.revoked = p, live, revoked
        self.answers, self.accepted_revoked = [], []
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self.run)
        self.th.start()

    def run(self):
        sessions = {j.url: requests.Session() for j in (self.p.a, self.p.b)}
        while not self.stop_ev.is_set():
            for url, s in sessions.items():
                try:
                    self.answers.append((url, me_status(s, url, self.live)))
                    st = me_status(s, url, self.revoked)
                    if st != 401:
                        self.accepted_revoked.append((url, st))
                except requests.RequestException as e:
                    self.answers.append((url, repr(e)))

    def stop(self):
        self.stop_ev.set()
        self.th.join()
        bad = [a for a in self.answers if a[1] != 200]
        assert not bad, "answers other than 200 during the failover: %s" % bad[:10]
        assert not self.accepted_revoked, "revoked token accepted: %s" % self.accepted_revoked
        assert len(self.answers) > 20


def propagation_median(p, n=10):
    sb = requests.Session()
    delays = []
    for _ in range(n):
        t = p.a.login()
        r = p.a.blacklist(t["refresh"])
        assert r.status_code == 200, r.text
        t0 = time.monotonic()
        while me_status(sb, p.b.url, t["access"]) != 401:
            assert time.monotonic() - t0 < PROPAGATION_CI_BOUND_S, "B still accepts"
        delays.append(time.monotonic() - t0)
    return statistics.median(delays)


def sentinel_pair(pair, s, **env):  # noqa: F811
    env.setdefault("JWTD_REDIS_URL", s.url_with(password=MASTER_PW, db=2))
    env.setdefault("JWTD_REDIS_TIMEOUT", "300ms")
    return pair(redis=s, **env)


def pw_file(tmp_path, value=SENTINEL_PW):
    f = tmp_path / "sentinel-pw"
    f.write_text(value + "\n")
    return str(f)


def check_failover(p, s, fail_over):
    sb = requests.Session()
    before = p.a.login()
    assert p.a.blacklist(before["refresh"]).status_code == 200
    wait_status(sb, p.b.url, before["access"], 401, PROPAGATION_CI_BOUND_S)
    live = p.b.login()
    load = Load(p, live["access"], before["access"])
    old_port = s.master().port
    during = p.a.login()
    fail_over()
    assert s.master().port != old_port
    # logins and refreshes never fail, even while the master moves
    r = p.b.refresh(during["refresh"])
    assert r.status_code == 200, r.text
    # both instances follow the new master: ready again, the push works again
    t0 = time.monotonic()
    while readyz(p.a).status_code != 200 or readyz(p.b).status_code != 200:
        assert time.monotonic() - t0 < 15, "not ready again on the new master"
        time.sleep(0.05)
    load.stop()
    after = p.a.login()
    assert p.a.blacklist(after["refresh"]).status_code == 200
    for tok in (before["access"], after["access"]):
        wait_status(sb, p.b.url, tok, 401, PROPAGATION_CI_BOUND_S)
        assert me_status(p.a.http, p.a.url, tok) == 401
    med = propagation_median(p)
    assert med < 0.2, "median %.3f s after the failover: the push is not working" % med
    # the shared cache is on the new master: A fills it, B reads it
    t = p.a.login()
    assert p.a.get("/api/orders/", token=t["access"]).json()["cached"] is False
    assert shared.cached(p.b, t["access"], True)["cached"] is True
    assert s.cli("DBSIZE", db=2) > 0
    for j in (p.a, p.b):
        assert "redis master changed" in j.srv.stderr()
        assert MASTER_PW not in j.srv.stderr() and SENTINEL_PW not in j.srv.stderr()


def test_sentinel_graceful_failover(pair, sentinel_set, tmp_path):  # noqa: F811
    s = sentinel_set(password=MASTER_PW, sentinel_password=SENTINEL_PW)
    p = sentinel_pair(pair, s, JWTD_REDIS_REQUIRED="true",
                      JWTD_REDIS_SENTINEL_PASSWORD_FILE=pw_file(tmp_path))
    assert readyz(p.a).json()["redis"] == "ok"
    check_failover(p, s, s.failover)


def test_sentinel_master_killed(pair, sentinel_set):  # noqa: F811
    s = sentinel_set(password=MASTER_PW, sentinel_password=SENTINEL_PW)
    url = s.url_with(password=MASTER_PW, db=2, sentinel_password=SENTINEL_PW)
    p = sentinel_pair(pair, s, JWTD_REDIS_URL=url, JWTD_REDIS_REQUIRED="true")
    assert readyz(p.b).json()["redis"] == "ok"
    check_failover(p, s, s.kill_master)
    # and back: the restarted old master is a replica now; a second failover returns to it
    check_failover(p, s, s.failover)


def test_sentinel_master_paused_then_failed_over(pair, sentinel_set):  # noqa: F811
    """SIGSTOP of the master: commands time out, the sentinels fail over; SIGCONT brings the
    old master back as a replica (writes to it answer READONLY): nothing is lost."""
    s = sentinel_set()
    p = sentinel_pair(pair, s, JWTD_REDIS_URL=s.url_with(db=2), JWTD_REDIS_REQUIRED="true")
    sb = requests.Session()
    before = p.a.login()
    assert p.a.blacklist(before["refresh"]).status_code == 200
    wait_status(sb, p.b.url, before["access"], 401, PROPAGATION_CI_BOUND_S)
    old = s.pause_master()
    try:
        s._new_master(old.port)
    finally:
        s.resume()
    s._wait(s._settled, 40, "the old master did not rejoin as a replica")
    t0 = time.monotonic()
    while readyz(p.a).status_code != 200 or readyz(p.b).status_code != 200:
        assert time.monotonic() - t0 < 15
        time.sleep(0.05)
    assert me_status(sb, p.b.url, before["access"]) == 401
    med = propagation_median(p, n=6)
    assert med < 0.2, "median %.3f s: the push is not working" % med


def test_sentinel_password_and_check(sentinel_set, tmp_path, tokens):  # noqa: F811
    s = sentinel_set(password=MASTER_PW, sentinel_password=SENTINEL_PW)
    good = s.url_with(password=MASTER_PW, db=1)
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    env = dict(base, JWTD_DATA_DIR=str(tmp_path), JWTD_SECRET_KEY="k" * 48,
               JWTD_DATABASE_URL="sqlite:%s" % (tmp_path / "jwtd.db"), JWTD_REDIS_URL=good,
               JWTD_REDIS_SENTINEL_PASSWORD_FILE=pw_file(tmp_path))
    subprocess.run([jwtd_bin(), "migrate"], env=env, check=True, timeout=60, capture_output=True)

    def check(**over):
        p = subprocess.run([jwtd_bin(), "check"], env=dict(env, **over), capture_output=True,
                           text=True, timeout=60, cwd=str(tmp_path))
        return p.returncode, p.stdout + p.stderr

    rc, out = check()
    assert rc == 0, out
    assert "redis: ok" in out or "PONG" in out, out
    # the sentinel password in the URL instead of the file
    rc, out = check(JWTD_REDIS_URL=s.url_with(password=MASTER_PW, sentinel_password=SENTINEL_PW),
                    JWTD_REDIS_SENTINEL_PASSWORD_FILE="")
    assert rc == 0, out
    rc, out = check(JWTD_REDIS_SENTINEL_PASSWORD_FILE=pw_file(tmp_path, "wrong"))
    assert rc == 1 and "redis" in out.splitlines()[-1], out
    rc, out = check(JWTD_REDIS_URL=s.url_with(password="wrong-master-pw"))
    assert rc == 1 and "redis" in out.splitlines()[-1], out
    assert "wrong" not in out and MASTER_PW not in out and SENTINEL_PW not in out
    # `jwtd config` hides both passwords
    p = subprocess.run([jwtd_bin(), "config"],
                       env=dict(env, JWTD_REDIS_URL=s.url_with(password=MASTER_PW,
                                                                sentinel_password=SENTINEL_PW)),
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "redis-sentinel://" in p.stdout
    assert MASTER_PW not in p.stdout and SENTINEL_PW not in p.stdout
    # a server with the wrong sentinel password: serving, not ready, nothing printed
    j = tokens(JWTD_REDIS_URL=good, JWTD_REDIS_REQUIRED="true", JWTD_REDIS_TIMEOUT="100ms",
               JWTD_REDIS_SENTINEL_PASSWORD_FILE=pw_file(tmp_path, "wrong"))
    r = readyz(j)
    assert r.status_code == 503 and r.json()["redis"] == "unavailable", r.text
    assert j.me(j.login()["access"]).status_code == 200
    assert SENTINEL_PW not in j.srv.stderr() and "wrong" not in j.srv.stderr()
    # the right one: ready
    k = tokens(JWTD_REDIS_URL=good, JWTD_REDIS_REQUIRED="true",
               JWTD_REDIS_SENTINEL_PASSWORD_FILE=pw_file(tmp_path))
    t0 = time.monotonic()
    while readyz(k).status_code != 200:
        assert time.monotonic() - t0 < 10, readyz(k).text
        time.sleep(0.05)


def test_sentinel_bad_urls_are_config_errors(tmp_path):
    for url, want in [("redis-sentinel://127.0.0.1:1", "MASTERNAME"),
                      ("redis-sentinel://127.0.0.1:1/m?db=x", "database number"),
                      ("redis-cluster://127.0.0.1:1/2", "only database 0")]:
        srv = JwtdServer(env=token_env(JWTD_REDIS_URL=url))
        with pytest.raises(RuntimeError) as e:
            srv.start()
        assert want in str(e.value), str(e.value)
    srv = JwtdServer(env=token_env(JWTD_REDIS_URL="redis-sentinel://127.0.0.1:1/m",
                                   JWTD_REDIS_SENTINEL_PASSWORD_FILE=str(tmp_path / "missing")))
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "JWTD_REDIS_SENTINEL_PASSWORD_FILE" in str(e.value)

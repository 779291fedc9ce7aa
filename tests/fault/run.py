#!/usr/bin/python3
"""Fault-injection test of a whole jwtd deployment (`make fault-test`, docs/reliability.md).

Started here, on 127.0.0.1 and ephemeral ports, in temp dirs: PostgreSQL (tests/pg/pg-server),
Redis with a replica and 3 sentinels (tests/integration/redis_util.SentinelSet), 3 jwtd
instances on both (JWTD_REDIS_URL=redis-sentinel://...), and HAProxy (tests/fault/haproxy.cfg.in)
in front of them. A mixed load runs for FAULT_SECONDS (default 60) while faults are injected
one after the other, in this order, again and again (and past FAULT_SECONDS until every
kind has been injected once; the checker fails a history that misses one):

    jwtd_kill         kill -9 of one instance, restarted 2 s later
    redis_master_kill kill -9 of the Redis master: Sentinel fails over; the old one restarts
    redis_pause       SIGSTOP of the Redis master for 3 s (Sentinel fails over), SIGCONT
    pg_restart        PostgreSQL stopped (fast) and started again on the same port
    jwtd_kill_rotate  kill -9 of one instance while refreshes are in flight on it

Every request and answer is written with monotonic timestamps to a history (JSON lines,
FAULT_HISTORY, default a temp file), with the fault windows; tests/fault/check.py then
checks the invariants and prints the report. Exit status: the checker's (0 = no violation).

Environment: JWTD_BIN (default build/jwtd), FAULT_SECONDS, FAULT_WORKERS (default 4),
FAULT_HISTORY, FAULT_REPORT (the checker's JSON report, optional), FAULT_SEED.
"""

import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import pgdb  # noqa: E402
from redis_util import SentinelSet, free_port  # noqa: E402

SECRET = "fault-test-hs256-secret-0123456789abcdef0123456789"
PASSWORD = "Fault-pass-0"
GRACE_S = 2  # JWTD_REFRESH_REUSE_GRACE of the instances
INSTANCES = 3


def jwtd_bin():
    return os.environ.get("JWTD_BIN", os.path.join(ROOT, "build", "jwtd"))


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class History:
    """Thread-safe JSON-lines writer; t = time.monotonic()."""

    def __init__(self, path):
        self.f = open(path, "w")
        self.mu = threading.Lock()

    def write(self, rec):
        line = json.dumps(rec, separators=(",", ":"))
        with self.mu:
            self.f.write(line + "\n")

    def close(self):
        with self.mu:
            self.f.close()


class Instance:
    """One jwtd; .expected_down while the test itself killed it, .ended the processes the
    test killed or stopped (a process is only a crash if it is not among them: the flag
    alone raced with a restart, the watcher seeing the old process dead and the flag
    already cleared)."""

    def __init__(self, idx, env):
        self.idx = idx
        self.dir = tempfile.mkdtemp(prefix="jwtd-fault-%d-" % idx)
        self.port = free_port()
        self.env = dict(env, JWTD_DATA_DIR=self.dir, JWTD_LISTEN="127.0.0.1:%d" % self.port)
        self.proc = None
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.expected_down = False
        self.ended = set()

    def start(self):
        self.proc = subprocess.Popen([jwtd_bin(), "serve"], env=self.env, cwd=self.dir,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.expected_down = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code in (200, 503):
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("jwtd %d did not start:\n%s" % (self.idx, self.stderr()[-3000:]))

    def kill(self):
        self.expected_down = True
        self.ended.add(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.expected_down = True
        if self.proc:
            self.ended.add(self.proc.pid)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stderr(self):
        with open(os.path.join(self.dir, "stderr.log"), "rb") as f:
            return f.read().decode(errors="replace")


class HAProxy:
    def __init__(self, instances):
        self.dir = tempfile.mkdtemp(prefix="jwtd-haproxy-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        with open(os.path.join(HERE, "haproxy.cfg.in")) as f:
            cfg = f.read()
        servers = "\n".join("    server jwtd%d 127.0.0.1:%d check" % (i.idx, i.port)
                            for i in instances)
        cfg = cfg.replace("@LISTEN@", "127.0.0.1:%d" % self.port).replace("@SERVERS@", servers)
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        self.proc = None

    def start(self):
        self.log = os.path.join(self.dir, "haproxy.log")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.cfg],
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        with open(self.log) as f:
            raise RuntimeError("haproxy did not start:\n" + f.read()[-3000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Worker(threading.Thread):
    """One user's sessions: sign-in, refresh (sometimes twice at once, sometimes a rotated
    token again after the grace), verification on every instance, logout, logout-all, and
    now and then a password change with `jwtd user passwd`."""

    def __init__(self, n, sys_, hist, stop, seed):
        super().__init__(daemon=True)
        self.n, self.sys, self.h, self.stop_ev = n, sys_, hist, stop
        self.rnd = random.Random(seed)
        self.user = "fault%d" % n
        self.password = PASSWORD
        self.http = requests.Session()
        self.cur = None          # {"access", "refresh"}
        self.used = []           # (refresh token, time its successor was acknowledged)
        self.revoked = []        # access tokens whose revocation was acknowledged
        self.last_passwd = time.monotonic()

    # one request, recorded -----------------------------------------------------------------
    def req(self, op, method, base, path, body=None, token=None, via="lb", tok=None, pw=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        rec = {"k": "req", "w": self.n, "user": self.user, "op": op, "via": via,
               "tok": tok if tok is not None else token}
        if pw is not None:
            rec["pw"] = pw
        rec["t0"] = time.monotonic()
        try:
            r = self.http.request(method, base + path, json=body, headers=headers, timeout=10)
            rec["status"] = r.status_code
            try:
                js = r.json()
            except ValueError:
                js = None
            if isinstance(js, dict):
                rec["body"] = {k: js[k] for k in ("access", "refresh", "code") if k in js}
        except requests.RequestException as e:
            rec["status"] = None
            rec["error"] = type(e).__name__
            self.http = requests.Session()
        rec["t1"] = time.monotonic()
        self.h.write(rec)
        return rec

    def login(self, password=None):
        pw = password or self.password
        return self.req("login", "POST", self.sys.lb, "/api/token/",
                        {"username": self.user, "password": pw}, tok="", pw=pw)

    def refresh(self, token, base=None, via="lb"):
        return self.req("refresh", "POST", base or self.sys.lb, "/api/token/refresh/",
                        {"refresh": token}, tok=token, via=via)

    # the load --------------------------------------------------------------------------------
    def ensure_session(self):
        if self.cur:
            return True
        r = self.login()
        if r["status"] == 200:
            self.cur = dict(r["body"])
            return True
        return False

    def step(self):
        if not self.ensure_session():
            time.sleep(0.05)
            return
        x = self.rnd.random()
        if x < 0.35:  # verification on every instance
            for i in self.sys.instances:
                self.req("me", "GET", i.url, "/api/users/me/", token=self.cur["access"],
                         via="i%d" % i.idx)
            if self.revoked:  # revoked tokens stay rejected
                t = self.rnd.choice(self.revoked[-20:])
                i = self.rnd.choice(self.sys.instances)
                self.req("me", "GET", i.url, "/api/users/me/", token=t, via="i%d" % i.idx)
        elif x < 0.62:  # refresh
            old = self.cur["refresh"]
            if self.rnd.random() < 0.25:
                out = [None, None]
                bases = self.rnd.sample(self.sys.instances, 2)

                def go(k):
                    out[k] = self.refresh(old, base=bases[k].url, via="i%d" % bases[k].idx)
                ts = [threading.Thread(target=go, args=(k,)) for k in (0, 1)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
            else:
                out = [self.refresh(old)]
                if out[0]["status"] is None or out[0]["status"] >= 500:
                    out.append(self.refresh(old))  # the answer was lost: again, in the grace
            ok = [r for r in out if r["status"] == 200]
            if ok:
                self.cur = dict(ok[0]["body"])
                self.used.append((old, time.monotonic()))
            elif any(r["status"] == 401 for r in out):
                self.cur = None
        elif x < 0.72 and self.used:  # a rotated token again, after the grace: reuse
            old, at = self.used[0]
            if time.monotonic() - at > GRACE_S + 1:
                self.used.pop(0)
                r = self.refresh(old)
                if r["status"] == 401:
                    # the family is dead: its current tokens must now be rejected too
                    fam = claims(old).get("sid")
                    if self.cur and claims(self.cur["refresh"]).get("sid") == fam:
                        self.revoked.append(self.cur["access"])
                        self.refresh(self.cur["refresh"])  # must fail: the family is revoked
                        self.cur = None
        elif x < 0.80:  # logout
            r = self.req("logout", "POST", self.sys.lb, "/api/token/blacklist/",
                         {"refresh": self.cur["refresh"]}, tok=self.cur["refresh"])
            if r["status"] == 200:
                self.revoked.append(self.cur["access"])
                self.cur = None
        elif x < 0.83:  # logout everywhere
            r = self.req("logout_all", "DELETE", self.sys.lb, "/auth/sessions",
                         token=self.cur["access"])
            if r["status"] == 204:
                self.revoked.append(self.cur["access"])
                self.cur = None
        elif x < 0.84 and time.monotonic() - self.last_passwd > 8:
            self.passwd()
        else:  # a second device signs in and out
            r = self.login()
            if r["status"] == 200:
                self.req("me", "GET", self.sys.lb, "/api/users/me/", token=r["body"]["access"])

    def passwd(self):
        self.last_passwd = time.monotonic()
        new = "Fault-pass-%d" % self.rnd.randrange(10**9)
        rec = {"k": "passwd", "w": self.n, "user": self.user, "t0": time.monotonic()}
        p = subprocess.run([jwtd_bin(), "user", "passwd", self.user, "--password-stdin"],
                           input=new, env=self.sys.cli_env, capture_output=True, text=True,
                           timeout=60, cwd=self.sys.dir)
        rec["t1"] = time.monotonic()
        rec["ok"] = p.returncode == 0
        rec["old"], rec["new"] = self.password, new
        self.h.write(rec)
        if p.returncode == 0:
            old = self.password
            self.password = new
            if self.cur:
                self.revoked.append(self.cur["access"])
            self.cur = None
            time.sleep(1.5)  # the documented bound for a CLI change (the database poll)
            self.login(password=old)  # must be refused now
            for i in self.sys.instances:  # and the old session nowhere accepted
                if self.revoked:
                    self.req("me", "GET", i.url, "/api/users/me/", token=self.revoked[-1],
                             via="i%d" % i.idx)

    def run(self):
        while not self.stop_ev.is_set():
            try:
                self.step()
            except Exception as e:  # a bug of the load itself must not pass silently
                self.h.write({"k": "load_error", "w": self.n, "t": time.monotonic(),
                              "error": repr(e)})
                raise
            time.sleep(self.rnd.uniform(0.005, 0.03))


class System:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jwtd-fault-")
        self.pg = self.redis = self.lb = self.haproxy = None
        self.instances = []

    def start(self):
        self.pg = pgdb.PgServer().start()
        db_url = self.pg.url(self.pg.create_database("jwtd_fault"))
        self.redis = SentinelSet().start()
        base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
        env = dict(base, JWTD_SECRET_KEY=SECRET, JWTD_ALGORITHM="HS256",
                   JWTD_DATABASE_URL=db_url, JWTD_REDIS_URL=self.redis.url_with(db=0),
                   JWTD_REDIS_TIMEOUT="300ms", JWTD_WORKERS="2",
                   JWTD_RATE_LIMIT_LOGIN="0", JWTD_RATE_LIMIT_ANON="0",
                   JWTD_RATE_LIMIT_USER="0", JWTD_ARGON2_MEMORY_KIB="64",
                   JWTD_ARGON2_ITERATIONS="1", JWTD_ARGON2_PARALLELISM="1",
                   JWTD_REFRESH_REUSE_GRACE="%ds" % GRACE_S, JWTD_LOG_LEVEL="info",
                   JWTD_TRUSTED_PROXIES="127.0.0.1/32")
        self.cli_env = dict(env, JWTD_DATA_DIR=self.dir)
        subprocess.run([jwtd_bin(), "migrate"], env=self.cli_env, check=True,
                       capture_output=True, timeout=60, cwd=self.dir)
        for n in range(int(os.environ.get("FAULT_WORKERS", "4"))):
            subprocess.run([jwtd_bin(), "user", "create", "fault%d" % n, "--email",
                            "fault%d@example.com" % n, "--password-stdin"], input=PASSWORD,
                           env=self.cli_env, check=True, capture_output=True, text=True,
                           timeout=60, cwd=self.dir)
        for i in range(INSTANCES):
            inst = Instance(i, env)
            inst.start()
            self.instances.append(inst)
        self.haproxy = HAProxy(self.instances)
        self.haproxy.start()
        self.lb = self.haproxy.url

    def stop(self):
        if self.haproxy:
            self.haproxy.stop()
        for i in self.instances:
            i.stop()
        if self.redis:
            self.redis.stop()
        if self.pg:
            self.pg.stop()

    def logs(self):
        return {i.idx: i.stderr() for i in self.instances}


# faults -------------------------------------------------------------------------------------

def wait_ready(sys_, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if all(requests.get(i.url + "/readyz", timeout=1).status_code == 200
                   for i in sys_.instances):
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)


def fault_jwtd_kill(sys_, rnd):
    inst = rnd.choice(sys_.instances)
    inst.kill()
    time.sleep(2)
    inst.start()
    return "instance %d" % inst.idx


def fault_jwtd_kill_rotate(sys_, rnd, hist):
    """Refreshes in flight on one instance (its own sessions), then kill -9 of it."""
    inst = rnd.choice(sys_.instances)
    s = requests.Session()
    toks = []
    # sessions of a dedicated user whose password never changes
    for _ in range(8):
        try:
            r = s.post(inst.url + "/api/token/", json={"username": "rotator",
                                                      "password": PASSWORD}, timeout=5)
            if r.status_code == 200:
                toks.append(r.json()["refresh"])
        except requests.RequestException:
            pass

    def rotate(tok):
        w = Worker(-1, sys_, hist, threading.Event(), 0)
        w.user = "rotator"
        w.refresh(tok, base=inst.url, via="i%d" % inst.idx)

    ths = [threading.Thread(target=rotate, args=(t,)) for t in toks]
    for t in ths:
        t.start()
    time.sleep(0.005)
    inst.kill()
    for t in ths:
        t.join()
    # every token again through the balancer: rotated once at most, or not at all
    for t in toks:
        w = Worker(-1, sys_, hist, threading.Event(), 0)
        w.user = "rotator"
        w.refresh(t)
    inst.start()
    return "instance %d, %d refreshes in flight" % (inst.idx, len(toks))


def settle_redis(sys_):
    """After the fault is healed: the old master back as a replica, the set as at start."""
    sys_.redis._wait(sys_.redis._settled, 60, "redis did not settle")


def fault_redis_master_kill(sys_, rnd):
    """Healed when the sentinels name a new master that says so; the old one then restarts
    (and is made a replica)."""
    old = sys_.redis.kill_master(restart=False)
    return "master on port %d" % old.port, lambda: (old.restart(), settle_redis(sys_))


def fault_redis_pause(sys_, rnd):
    m = sys_.redis.pause_master()
    time.sleep(3)
    sys_.redis.resume()
    return "master on port %d paused 3 s" % m.port, lambda: settle_redis(sys_)


def fault_pg_restart(sys_, rnd):
    sys_.pg.halt()
    time.sleep(1)
    sys_.pg.resume()
    return "port %d" % sys_.pg.port


FAULTS = ["jwtd_kill", "redis_master_kill", "redis_pause", "pg_restart", "jwtd_kill_rotate"]


def main():
    seconds = float(os.environ.get("FAULT_SECONDS", "60"))
    seed = int(os.environ.get("FAULT_SEED", str(int(time.time()))))
    hist_path = os.environ.get("FAULT_HISTORY") or os.path.join(
        tempfile.gettempdir(), "jwtd-fault-history-%d.jsonl" % os.getpid())
    rnd = random.Random(seed)
    sys_ = System()
    hist = History(hist_path)
    stop = threading.Event()
    workers = []
    rc = 1
    try:
        sys_.start()
        subprocess.run([jwtd_bin(), "user", "create", "rotator", "--email", "r@example.com",
                        "--password-stdin"], input=PASSWORD, env=sys_.cli_env, check=True,
                       capture_output=True, text=True, timeout=60, cwd=sys_.dir)
        hist.write({"k": "meta", "seconds": seconds, "seed": seed, "grace_s": GRACE_S,
                    "wall": time.time(),
                    "instances": INSTANCES, "fault_kinds": FAULTS, "workers": int(os.environ.get("FAULT_WORKERS", "4")),
                    "t": time.monotonic()})
        workers = [Worker(n, sys_, hist, stop, seed + n)
                   for n in range(int(os.environ.get("FAULT_WORKERS", "4")))]
        for w in workers:
            w.start()

        def watch():  # an instance that exits without being killed by the test crashed
            seen = set()
            while not stop.is_set():
                for i in sys_.instances:
                    p = i.proc
                    if (p and p.poll() is not None and not i.expected_down
                            and p.pid not in i.ended and p.pid not in seen):
                        seen.add(p.pid)
                        hist.write({"k": "crash", "instance": i.idx, "status": p.returncode,
                                    "t": time.monotonic()})
                time.sleep(0.1)
        threading.Thread(target=watch, daemon=True).start()
        t_end = time.monotonic() + seconds
        quiet = 6.0  # seconds of normal operation between two faults
        k = 0
        time.sleep(min(quiet, seconds / 6))
        # Round robin over FAULTS, and past the end of the run if need be so that every kind
        # is injected at least once whatever FAULT_SECONDS is.
        while time.monotonic() < t_end - 5 or k < len(FAULTS):
            name = FAULTS[k % len(FAULTS)]
            k += 1
            t0 = time.monotonic()
            fn = globals()["fault_" + name]
            what = fn(sys_, rnd, hist) if name == "jwtd_kill_rotate" else fn(sys_, rnd)
            healed = time.monotonic()
            after = None
            if isinstance(what, tuple):
                what, after = what
            hist.write({"k": "fault", "name": name, "what": what, "t0": t0, "t1": healed})
            print("fault %-18s %-40s healed in %5.1f s" % (name, what, healed - t0), flush=True)
            if after:
                after()
            wait_ready(sys_)
            # the quiet time in full while kinds remain (past the end too), so that each
            # fault's window (healing + 5 s) does not take in the next fault's failures
            left = quiet if k < len(FAULTS) else max(0.0, t_end - time.monotonic())
            time.sleep(min(quiet, left))
        stop.set()
        for w in workers:
            w.join(timeout=30)
        hist.write({"k": "end", "t": time.monotonic()})
        hist.close()
        report = os.environ.get("FAULT_REPORT")
        args = [sys.executable, os.path.join(HERE, "check.py"), hist_path]
        if report:
            args += ["--json", report]
        rc = subprocess.run(args).returncode
        crashed = [i.idx for i in sys_.instances if "AddressSanitizer" in i.stderr()
                   or "runtime error" in i.stderr()]
        if crashed:
            print("sanitizer reports in instance(s) %s" % crashed)
            for i in crashed:
                print(sys_.instances[i].stderr()[-4000:])
            rc = 1
        print("history: %s" % hist_path)
        logs = hist_path + ".logs"
        os.makedirs(logs, exist_ok=True)
        for i in sys_.instances:
            shutil.copy(os.path.join(i.dir, "stderr.log"), os.path.join(logs, "jwtd%d.log" % i.idx))
        shutil.copy(sys_.haproxy.log, os.path.join(logs, "haproxy.log"))
        print("logs: %s" % logs)
    finally:
        stop.set()
        if rc != 0:
            for idx, log in sys_.logs().items():
                print("---- jwtd %d (last lines) ----\n%s" % (idx, log[-2500:]))
        sys_.stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())

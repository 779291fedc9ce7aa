"""A real redis-server for the integration tests of the shared store (issue 5).

    RedisServer(persist=False).start()   ephemeral loopback port, its own temp dir;
                                         persist=False: --save '' --appendonly no;
                                         persist=True: appendonly (survives kill + restart)
    .url  .port  .kill() (SIGKILL)  .stop() (SIGTERM)  .restart() (same port and dir)
    .cli(*args) -> stdout of one command (redis-cli is not needed: a tiny RESP client)

Fixture `redis_server`: factory; every server it started is stopped afterwards.

    SentinelSet(password=None, sentinel_password=None).start()
                                         a master, a replica and 3 sentinels (redis-server
                                         --sentinel), all on ephemeral loopback ports; quorum 2,
                                         down-after 1 s
    .url (redis-sentinel://...)  .url_with(db=, password=, sentinel_password=)
    .master() the RedisServer the sentinels name  .cli(*args) on it
    .failover() SENTINEL failover, waits for the new master
    .kill_master() kill -9 of the master, waits for the failover, restarts the old one
    .kill() / .restart() every data node (as RedisServer for the shared-store tests)
    .pause_master() / .resume() SIGSTOP / SIGCONT

Fixture `sentinel_set`: factory, like redis_server.

    RedisCluster(masters=3, password=None).start()
                                         3 redis-server --cluster-enabled yes on ephemeral
                                         loopback ports, slots assigned, CLUSTER MEET
    .url (redis-cluster://...)  .cli(*args) (to the key's node)  .keys()  .owner(slot)
    .start_migration / .move_keys / .finish_migration: one slot moved while jwtd runs

Fixture `redis_cluster`: factory, like redis_server. key_slot(key): a key's slot.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RedisServer:
    def __init__(self, persist=False, password=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="jwtd-redis-")
        self.persist = persist
        self.password = password
        self.extra = list(extra)
        self.port = None
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def _spawn(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log"),
                "--protected-mode", "no"]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        args += self.extra
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        else:
            args += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.cli("PING") == "PONG":
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def start(self):
        for _ in range(5):
            self.port = free_port()
            if self._spawn():
                return self
            self._reap()
        raise RuntimeError("redis-server did not start")

    def restart(self):
        assert self.proc is None or self.proc.poll() is not None
        if not self._spawn():
            raise RuntimeError("redis-server did not restart on port %d" % self.port)
        return self

    def _reap(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args, db=0):
        """One command over RESP (after AUTH / SELECT when needed); returns str, int, list
        or None."""
        return resp(self.port, args, password=self.password, db=db)


def resp(port, args, password=None, db=0, timeout=5, pre=()):
    """One command to 127.0.0.1:port (after AUTH / SELECT when needed, then pre)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        first = []
        if password:
            first.append(("AUTH", password))
        if db:
            first.append(("SELECT", db))
        for cmd in first + list(pre) + [tuple(args)]:
            out = b"*%d\r\n" % len(cmd)
            for a in cmd:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            reply = _read(f)
        return reply


def _read(f):
    line = f.readline()
    if not line:
        raise OSError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise OSError("bad reply %r" % line)


class SentinelSet:
    """A master, a replica and 3 sentinels watching them (quorum 2)."""

    NAME = "jwtdmaster"

    def __init__(self, password=None, sentinel_password=None, down_after_ms=1000):
        self.password = password
        self.sentinel_password = sentinel_password
        self.down_after_ms = down_after_ms
        self.nodes = []
        self.sentinels = []  # [(port, proc, dir)]

    def start(self):
        first = RedisServer(password=self.password).start()
        self.nodes.append(first)
        replica = RedisServer(password=self.password,
                              extra=["--replicaof", "127.0.0.1", str(first.port)]).start()
        self.nodes.append(replica)
        for _ in range(3):
            self.sentinels.append(self._spawn_sentinel(first.port))
        self._wait(lambda: self._settled(), 30, "the sentinels did not see each other")
        return self

    def _spawn_sentinel(self, master_port):
        for _ in range(5):
            d = tempfile.mkdtemp(prefix="jwtd-sentinel-")
            port = free_port()
            conf = os.path.join(d, "sentinel.conf")
            lines = ["port %d" % port, "bind 127.0.0.1", "protected-mode no", "dir %s" % d,
                     "logfile %s" % os.path.join(d, "sentinel.log"),
                     "sentinel monitor %s 127.0.0.1 %d 2" % (self.NAME, master_port),
                     "sentinel down-after-milliseconds %s %d" % (self.NAME, self.down_after_ms),
                     "sentinel failover-timeout %s 4000" % self.NAME,
                     "sentinel parallel-syncs %s 1" % self.NAME]
            if self.password:
                lines.append("sentinel auth-pass %s %s" % (self.NAME, self.password))
            if self.sentinel_password:
                lines += ["requirepass %s" % self.sentinel_password,
                          "sentinel sentinel-pass %s" % self.sentinel_password]
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            proc = subprocess.Popen(["redis-server", conf, "--sentinel"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if resp(port, ["PING"], password=self.sentinel_password) == "PONG":
                        return (port, proc, d)
                except OSError:
                    time.sleep(0.02)
            proc.kill()
            proc.wait()
            shutil.rmtree(d, ignore_errors=True)
        raise RuntimeError("redis sentinel did not start")

    @staticmethod
    def _wait(cond, seconds, what):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if cond():
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.1)
        raise RuntimeError(what)

    def sentinel_cli(self, *args, i=0):
        return resp(self.sentinels[i][0], args, password=self.sentinel_password)

    def _settled(self):
        """Every sentinel knows the master, its replica (linked) and the 2 other sentinels."""
        for i in range(len(self.sentinels)):
            if len(self.sentinel_cli("SENTINEL", "sentinels", self.NAME, i=i)) != 2:
                return False
            reps = self.sentinel_cli("SENTINEL", "replicas", self.NAME, i=i)
            ok = [r for r in reps
                  if "s_down" not in dict(zip(r[::2], r[1::2])).get("flags", "s_down")
                  and dict(zip(r[::2], r[1::2])).get("master-link-status") == "ok"]
            if not ok:
                return False
        return True

    def master_port(self, i=0):
        return int(self.sentinel_cli("SENTINEL", "get-master-addr-by-name", self.NAME, i=i)[1])

    def master(self):
        port = self.master_port()
        return [n for n in self.nodes if n.port == port][0]

    def replica(self):
        port = self.master_port()
        return [n for n in self.nodes if n.port != port][0]

    @property
    def port(self):
        return self.master().port

    @property
    def url(self):
        return self.url_with()

    def url_with(self, db=0, password=None, sentinel_password=None):
        auth = ":%s@" % password if password else ""
        hosts = ",".join("127.0.0.1:%d" % p for p, _, _ in self.sentinels)
        q = "?db=%d" % db
        if sentinel_password:
            q += "&sentinel_password=%s" % sentinel_password
        return "redis-sentinel://%s%s/%s%s" % (auth, hosts, self.NAME, q)

    def cli(self, *args, db=0):
        return self.master().cli(*args, db=db)

    def _role(self, node):
        try:
            return node.cli("ROLE")[0]
        except (OSError, RuntimeError, TypeError):
            return None

    def _new_master(self, old_port, seconds=30):
        """Waits until every sentinel names a master other than old_port that says so."""
        def done():
            ports = {self.master_port(i) for i in range(len(self.sentinels))}
            if len(ports) != 1 or old_port in ports:
                return False
            return self._role([n for n in self.nodes if n.port in ports][0]) == "master"
        self._wait(done, seconds, "no failover away from port %d" % old_port)

    def failover(self):
        """SENTINEL failover (a graceful switch); returns once the replica is the master and
        the old master its replica again."""
        old = self.master()
        self.sentinel_cli("SENTINEL", "failover", self.NAME)
        self._new_master(old.port)
        self._wait(self._settled, 30, "the old master did not rejoin as a replica")

    def kill_master(self, restart=True):
        """kill -9 of the master: the sentinels fail over to the replica; the old master is
        then restarted (the sentinels make it a replica)."""
        old = self.master()
        old.kill()
        self._new_master(old.port)
        if restart:
            old.restart()
            self._wait(self._settled, 40, "the old master did not rejoin as a replica")
        return old

    def pause_master(self):
        m = self.master()
        m.proc.send_signal(signal.SIGSTOP)
        self._paused = m
        return m

    def resume(self):
        self._paused.proc.send_signal(signal.SIGCONT)

    def kill(self):
        for n in self.nodes:
            n.kill()

    def restart(self):
        for n in self.nodes:
            n.restart()
        return self

    def stop(self):
        for port, proc, d in self.sentinels:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            shutil.rmtree(d, ignore_errors=True)
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                try:
                    n.proc.send_signal(signal.SIGCONT)
                except OSError:
                    pass
            n.stop()


@pytest.fixture
def sentinel_set():
    started = []

    def factory(password=None, sentinel_password=None, **kw):
        s = SentinelSet(password=password, sentinel_password=sentinel_password, **kw).start()
        started.append(s)
        return s

    yield factory
    for s in started:
        s.stop()


@pytest.fixture
def redis_server():
    started = []

    def factory(persist=False, password=None):
        r = RedisServer(persist=persist, password=password).start()
        started.append(r)
        return r

    yield factory
    for r in started:
        r.stop()


def key_slot(key):
    """The Redis Cluster slot of a key (CRC16/XMODEM mod 16384, hash tags honoured)."""
    k = key.encode() if isinstance(key, str) else key
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    crc = 0
    for b in k:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % 16384


class RedisCluster:
    """3 masters (redis-server --cluster-enabled yes, no replicas) on ephemeral loopback
    ports, slots split in three with CLUSTER ADDSLOTSRANGE and joined with CLUSTER MEET.

        .url (redis-cluster://...)  .nodes [RedisServer]  .node_for(key)
        .cli(*args) follows MOVED/ASK for one keyed command (args[1] is the key)
        .keys() every key of every node  .migrate_slot(slot, to) (MIGRATING/IMPORTING,
        MIGRATE the keys, SETSLOT NODE everywhere) in steps the test can interleave
    """

    def __init__(self, masters=3, password=None):
        self.masters = masters
        self.password = password
        self.nodes = []

    def start(self):
        for _ in range(self.masters):
            self.nodes.append(RedisServer(password=self.password, extra=[
                "--cluster-enabled", "yes",
                "--cluster-node-timeout", "2000",
                "--cluster-require-full-coverage", "no"]).start())
        per = 16384 // self.masters
        for i, n in enumerate(self.nodes):
            end = 16383 if i == self.masters - 1 else (i + 1) * per - 1
            n.cli("CLUSTER", "ADDSLOTSRANGE", i * per, end)
        for n in self.nodes[1:]:
            n.cli("CLUSTER", "MEET", "127.0.0.1", self.nodes[0].port)
        SentinelSet._wait(self._settled, 30, "the cluster did not form")
        return self

    def _settled(self):
        for n in self.nodes:
            info = n.cli("CLUSTER", "INFO")
            if "cluster_state:ok" not in info or \
                    "cluster_known_nodes:%d" % self.masters not in info:
                return False
            ranges = n.cli("CLUSTER", "SLOTS")
            if sum(e - s + 1 for s, e, *_ in ranges) != 16384 or \
                    len({r[2][1] for r in ranges}) != self.masters:
                return False
        return True

    @property
    def url(self):
        auth = ":%s@" % self.password if self.password else ""
        return "redis-cluster://%s%s" % (
            auth, ",".join("127.0.0.1:%d" % n.port for n in self.nodes))

    @property
    def port(self):
        return self.nodes[0].port

    def node_id(self, node):
        return node.cli("CLUSTER", "MYID")

    def owner(self, slot):
        for start, end, master, *_ in self.nodes[0].cli("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return [n for n in self.nodes if n.port == master[1]][0]
        raise KeyError(slot)

    def node_for(self, key):
        return self.owner(key_slot(key))

    def cli(self, *args, db=0):
        """A keyless command on the first node, else the command on the key's node
        (following one MOVED / ASK)."""
        if len(args) < 2:
            return self.nodes[0].cli(*args)
        node = self.node_for(str(args[1]))
        try:
            return node.cli(*args)
        except RuntimeError as e:
            kind, _, addr = str(e).split(" ", 2)
            if kind not in ("MOVED", "ASK"):
                raise
            port = int(addr.rsplit(":", 1)[1])
            target = [n for n in self.nodes if n.port == port][0]
            if kind == "ASK":
                return resp(port, args, password=self.password, pre=[("ASKING",)])
            return target.cli(*args)

    def keys(self, pattern="*"):
        out = []
        for n in self.nodes:
            out += n.cli("KEYS", pattern)
        return out

    def start_migration(self, slot, dst):
        src = self.owner(slot)
        dst.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", self.node_id(src))
        src.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", self.node_id(dst))
        return src

    def move_keys(self, slot, src, dst, batch=100):
        while True:
            keys = src.cli("CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                return
            args = ["MIGRATE", "127.0.0.1", dst.port, "", 0, 5000]
            if self.password:
                args += ["AUTH", self.password]
            src.cli(*(args + ["KEYS"] + keys))

    def finish_migration(self, slot, dst):
        dst_id = self.node_id(dst)
        for n in [dst] + [n for n in self.nodes if n is not dst]:
            n.cli("CLUSTER", "SETSLOT", slot, "NODE", dst_id)

    def kill(self):
        for n in self.nodes:
            n.kill()

    def restart(self):
        for n in self.nodes:
            n.restart()
        SentinelSet._wait(self._settled, 30, "the cluster did not come back")
        return self

    def stop(self):
        for n in self.nodes:
            n.stop()


@pytest.fixture
def redis_cluster():
    started = []

    def factory(**kw):
        c = RedisCluster(**kw).start()
        started.append(c)
        return c

    yield factory
    for c in started:
        c.stop()

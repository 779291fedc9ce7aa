"""The Debian packages of `make deb`, installed on this machine and purged (needs root).

One module-scoped installation: `dpkg -i` of jwtd, libjwtv0 and libjwtv-dev; then the
checks of what the packages installed and created (user, modes, generated key, unit),
jwtd started exactly as the unit's ExecStart starts it (its user, environment and
arguments; systemd is not PID 1 here) with a temporary data directory and an ephemeral
port, a C program built against the installed libjwtv-dev; and last `dpkg --purge`, after
which nothing may remain: no file, no directory, no user, no group, no mode override.
The purge runs even when a check fails, so the machine is left as it was.
"""

import glob
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from pkg_helpers import ROOT, SOVERSION, VERSION, deb_dir, read_unit, run, unit_environment

PACKAGES = ["jwtd", "libjwtv0", "libjwtv-dev"]
UNIT = "/lib/systemd/system/jwtd.service"
CONF = "/etc/jwtd/jwtd.conf"
KEY = "/etc/jwtd/signing-key.pem"
MULTIARCH = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                           text=True).stdout.strip()
# Everything the packages or the service may create; none of it may survive the purge.
LEFTOVERS = ["/usr/bin/jwtd", "/etc/jwtd", "/etc/logrotate.d/jwtd", UNIT, "/var/lib/jwtd",
             "/var/log/jwtd", "/run/jwtd", "/usr/share/man/man1/jwtd.1.gz",
             "/usr/share/man/man5/jwtd.conf.5.gz", "/usr/share/doc/jwtd", "/usr/include/jwtv",
             "/usr/lib/%s/libjwtv.so.%s" % (MULTIARCH, SOVERSION),
             "/usr/lib/%s/pkgconfig/jwtv.pc" % MULTIARCH]
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return p.returncode == 0 and "installed" in p.stdout.split()[-1:]


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def debs():
    found = {}
    for pkg in PACKAGES:
        paths = glob.glob(os.path.join(deb_dir(), "%s_%s_*.deb" % (pkg, VERSION)))
        if len(paths) != 1:
            pytest.fail("no %s_%s_*.deb in %s: run `make deb` (make package-test does)"
                        % (pkg, VERSION, deb_dir()))
        found[pkg] = paths[0]
    return found


def purge():
    return run(["dpkg", "--purge"] + PACKAGES, check=False)


@pytest.fixture(scope="module")
def system():
    """Installs the packages on this machine; purges them afterwards (see test_purge_*)."""
    if os.geteuid() != 0:
        pytest.fail("the package test installs packages with dpkg: run it as root")
    if shutil.which("dpkg") is None or run(["dpkg", "--audit"], check=False).returncode != 0:
        pytest.fail("dpkg is unusable on this machine (dpkg --audit failed)")
    for pkg in PACKAGES:
        if installed(pkg):
            pytest.fail("%s is already installed on this machine; the test would replace and "
                        "purge it: remove it first (dpkg --purge %s)" % (pkg, pkg))
    if user_exists("jwtd") or group_exists("jwtd"):
        pytest.fail("a jwtd user or group exists already; the test checks the package "
                    "creates and removes it: remove it first")
    paths = debs()
    try:
        p = run(["dpkg", "-i"] + [paths[p] for p in PACKAGES], check=False)
        assert p.returncode == 0, "dpkg -i failed:\n" + p.stdout + p.stderr
        yield p
    finally:
        purge()


def test_install_creates_user_modes_and_key(system):
    assert "generated the ES256 signing key %s" % KEY in system.stdout
    for pkg in PACKAGES:
        assert installed(pkg), pkg
    u = pwd.getpwnam("jwtd")
    assert u.pw_uid < 1000 and u.pw_dir == "/var/lib/jwtd"
    assert u.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    g = grp.getgrnam("jwtd")
    assert u.pw_gid == g.gr_gid
    st = os.stat(CONF)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, g.gr_gid, 0o640)
    st = os.stat(KEY)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (u.pw_uid, 0o600)
    assert open(KEY).read().startswith("-----BEGIN PRIVATE KEY-----")
    for d, mode in (("/var/lib/jwtd", 0o700), ("/var/log/jwtd", 0o750)):
        st = os.stat(d)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (u.pw_uid, mode), d
    assert run(["dpkg-query", "-W", "-f=${Conffiles}", "jwtd"]).stdout.count("/etc/") == 2
    assert run(["/usr/bin/jwtd", "version"]).stdout.startswith("jwtd %s" % VERSION)


def test_installed_unit_verifies_and_is_hardened(system):
    p = run(["systemd-analyze", "verify", UNIT], check=False)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run(["systemd-analyze", "security", "--offline=true", "--no-pager", UNIT], check=False)
    m = re.search(r"Overall exposure level for jwtd.service: (\d+\.\d+)", p.stdout)
    assert m, p.stdout + p.stderr
    print("systemd-analyze security: %s" % m.group(1))
    assert float(m.group(1)) <= 2.0, p.stdout  # "OK" is below 4.5; this unit reaches 1.x


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url):
    try:
        with _OPENER.open(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class UnitProcess:
    """jwtd started as the unit's ExecStart, as the unit's user, with its environment."""

    def __init__(self):
        self.service = read_unit(UNIT)
        self.tmp = tempfile.mkdtemp(prefix="jwtd-pkg-")
        os.chmod(self.tmp, 0o755)  # the jwtd user must reach its directories inside
        u = pwd.getpwnam(self.service["User"][0])
        self.uid, self.gid = u.pw_uid, grp.getgrnam(self.service["Group"][0]).gr_gid
        self.dirs = {}
        # StateDirectory, LogsDirectory, RuntimeDirectory, owned by the user, as systemd
        # makes them (temporary stand-ins for /var/lib/jwtd, /var/log/jwtd, /run/jwtd).
        for name, mode in (("state", 0o700), ("logs", 0o750), ("run", 0o755)):
            d = os.path.join(self.tmp, name)
            os.mkdir(d, mode)
            os.chown(d, self.uid, self.gid)
            self.dirs[name] = d
        # systemd's environment for a system service, then the unit's Environment= ...
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8", "HOME": u.pw_dir, "USER": u.pw_name, "LOGNAME": u.pw_name,
               "SHELL": u.pw_shell}
        env.update(unit_environment(self.service))
        self.unit_env = dict(env)
        # ... with the unit's directories moved to the temporary ones, and a free port.
        env.update({
            "JWTD_DATA_DIR": self.dirs["state"],
            "JWTD_PID_FILE": os.path.join(self.dirs["run"], "jwtd.pid"),
            "JWTD_DATABASE_URL": "sqlite:%s/jwtd.db" % self.dirs["state"],
            "JWTD_LOG_DIR": self.dirs["logs"],
            "JWTD_LISTEN": "127.0.0.1:0",
            "JWTD_WORKERS": "2",
        })
        self.env = env
        self.argv = self.service["ExecStart"][0].split()

    def popen(self, argv, **kw):
        return subprocess.Popen(argv, env=self.env, cwd="/", user=self.uid, group=self.gid,
                                extra_groups=[], umask=0o077, **kw)

    def start(self):
        self.proc = self.popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(rb"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1).decode()
                return
            if not line and self.proc.poll() is not None:
                break
        self.proc.kill()
        raise AssertionError("jwtd did not start as the unit starts it: %s\nstderr:\n%s"
                             % (line, self.proc.stderr.read().decode(errors="replace")))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def served(system):
    jwtd = UnitProcess()
    yield jwtd
    if jwtd.proc.poll() is None:
        jwtd.proc.kill()
        jwtd.proc.wait()
    shutil.rmtree(jwtd.tmp, ignore_errors=True)


def test_unit_runs_the_installed_binary_as_its_user(system, served):
    assert served.argv == ["/usr/bin/jwtd", "serve", "--config", CONF]
    assert served.service["User"] == ["jwtd"]
    assert served.unit_env["JWTD_DATA_DIR"] == "/var/lib/jwtd"
    assert served.unit_env["JWTD_PID_FILE"] == "/run/jwtd/jwtd.pid"


def test_server_started_as_the_unit_does_serves_healthz(system, served):
    served.start()
    status, body = _get(served.url + "/healthz")
    assert status == 200, body
    # The process runs as jwtd, in production (the configuration file was read).
    with open("/proc/%d/status" % served.proc.pid) as f:
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", f.read(), re.M).groups()
    assert uids == (str(served.uid), str(served.uid))
    pid_file = served.env["JWTD_PID_FILE"]
    assert open(pid_file).read() == "%d\n" % served.proc.pid
    # ExecReload: SIGHUP reopens the logs, never stops the server.
    served.proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    assert _get(served.url + "/healthz")[0] == 200


def test_server_started_as_the_unit_does_serves_the_web_ui(system, served):
    # The web UI under /app/, from the installed package alone: it is built into the binary
    # (scripts/embed-web), the package installs no web file, and the working directory is /.
    if getattr(served, "proc", None) is None or served.proc.poll() is not None:
        pytest.fail("the server of the previous test is not running")
    status, body = _get(served.url + "/app/")
    assert status == 200, "GET /app/ from the installed package: %d %r" % (status, body[:200])


def test_server_stops_cleanly_and_leaves_private_files(system, served):
    if getattr(served, "proc", None) is None:
        served.start()
    assert served.stop() == 0
    assert not os.path.exists(served.env["JWTD_PID_FILE"])
    for name in ("jwtd.db", ):
        st = os.stat(os.path.join(served.dirs["state"], name))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (served.uid, 0o600)
    logs = sorted(os.listdir(served.dirs["logs"]))
    assert logs == ["api.log", "auth.log", "error.log", "performance.log"]
    for name in logs:
        st = os.stat(os.path.join(served.dirs["logs"], name))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (served.uid, 0o600)
    assert "SIGHUP" in open(os.path.join(served.dirs["logs"], "error.log")).read()
    # `jwtd check` with the same configuration, as the same user: everything ok.
    p = served.popen(["/usr/bin/jwtd", "check", "--config", CONF], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, out + err
    assert "keys: ok (ES256" in out


def test_program_builds_against_the_installed_dev_package(system, tmp_path):
    flags = run(["pkg-config", "--cflags", "--libs", "jwtv"]).stdout.split()
    assert flags == ["-ljwtv"]  # headers and library in the default paths
    exe = str(tmp_path / "standalone")
    run(["cc", "-o", exe, os.path.join(ROOT, "tests/jwtv/standalone.c")] + flags)
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    ldd = run(["ldd", exe], env=env).stdout
    # /lib is /usr/lib on a merged-/usr system: ldd may name either.
    assert re.search(r"libjwtv\.so\.%s => (/usr)?/lib/%s/libjwtv\.so\.%s "
                     % (SOVERSION, MULTIARCH, SOVERSION), ldd), ldd
    run([exe, os.path.join(ROOT, "tests/vectors")], env=env)


def test_purge_leaves_nothing(system, served):
    # Runs last (file order); the fixture's purge at the end of the module is then a no-op.
    p = purge()
    assert p.returncode == 0, p.stdout + p.stderr
    for pkg in PACKAGES:
        assert not installed(pkg), pkg
    left = [path for path in LEFTOVERS if os.path.lexists(path)]
    assert left == []
    assert not user_exists("jwtd") and not group_exists("jwtd")
    p = run(["dpkg-statoverride", "--list", CONF], check=False)
    assert p.stdout == ""

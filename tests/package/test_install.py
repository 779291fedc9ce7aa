"""`make install` and `make uninstall` into temporary trees (docs/install.md).

Checks the tree `make install DESTDIR=... PREFIX=/usr` produces, that a C program compiles
and links against the installed libjwtv through pkg-config and runs, the SONAME, the man
pages (lint-clean, complete: every command and every JWTD_* variable of the binary), the
sample configuration (loads as is), the unit (systemd-analyze verify), that an existing
configuration is never overwritten, and that uninstall leaves only edited configuration.
"""

import os
import re
import shutil
import stat
import tempfile

import pytest

from pkg_helpers import ROOT, SOVERSION, VERSION, build_dir, make, read_unit, run

HEADERS = sorted(os.listdir(os.path.join(ROOT, "include", "jwtv")))

EXPECTED_FILES = {
    "usr/bin/jwtd": 0o755,
    "usr/lib/libjwtv.a": 0o644,
    "usr/lib/libjwtv.so.%s" % VERSION: 0o644,
    "usr/lib/pkgconfig/jwtv.pc": 0o644,
    "usr/share/man/man1/jwtd.1": 0o644,
    "usr/share/man/man5/jwtd.conf.5": 0o644,
    "usr/lib/systemd/system/jwtd.service": 0o644,
    "etc/jwtd/jwtd.conf": 0o640,
    "etc/logrotate.d/jwtd": 0o644,
}
EXPECTED_FILES.update({"usr/include/jwtv/" + h: 0o644 for h in HEADERS})
EXPECTED_LINKS = {
    "usr/lib/libjwtv.so.%s" % SOVERSION: "libjwtv.so.%s" % VERSION,
    "usr/lib/libjwtv.so": "libjwtv.so.%s" % SOVERSION,
}


def tree(root):
    """{relative path: lstat} of every file and symlink under root."""
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            out[os.path.relpath(path, root)] = os.lstat(path)
    return out


@pytest.fixture(scope="module")
def dest():
    d = tempfile.mkdtemp(prefix="jwtd-install-")
    make("install", DESTDIR=d, PREFIX="/usr")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_tree_is_exactly_the_expected_files(dest):
    t = tree(dest)
    assert sorted(t) == sorted(list(EXPECTED_FILES) + list(EXPECTED_LINKS))
    for path, mode in EXPECTED_FILES.items():
        assert stat.S_ISREG(t[path].st_mode), path
        assert stat.S_IMODE(t[path].st_mode) == mode, path
    for path, target in EXPECTED_LINKS.items():
        assert stat.S_ISLNK(t[path].st_mode), path
        assert os.readlink(os.path.join(dest, path)) == target


def test_shared_library_has_its_soname(dest):
    out = run(["readelf", "-d", os.path.join(dest, "usr/lib/libjwtv.so.%s" % VERSION)]).stdout
    assert re.search(r"\(SONAME\)\s+Library soname: \[libjwtv\.so\.%s\]" % SOVERSION, out), out
    # The build's own copy carries it as well, with its link for LD_LIBRARY_PATH=build.
    out = run(["readelf", "-d", os.path.join(build_dir(), "libjwtv.so")]).stdout
    assert "[libjwtv.so.%s]" % SOVERSION in out
    assert os.readlink(os.path.join(build_dir(), "libjwtv.so.%s" % SOVERSION)) == "libjwtv.so"


def test_program_builds_with_pkg_config_and_runs_on_the_installed_library(dest, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(dest, "usr/lib/pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=dest)
    assert run(["pkg-config", "--modversion", "jwtv"], env=env).stdout.strip() == VERSION
    flags = run(["pkg-config", "--cflags", "--libs", "jwtv"], env=env).stdout.split()
    assert "-ljwtv" in flags
    assert "-L" + os.path.join(dest, "usr/lib") in flags
    exe = str(tmp_path / "standalone")
    # An ASan build's library (JWTD_BUILD=build/asan) needs the sanitizer runtime linked first.
    lib = os.path.join(dest, "usr/lib/libjwtv.so.%s" % VERSION)
    if "[libasan.so" in run(["readelf", "-d", lib]).stdout:
        flags = ["-fsanitize=address,undefined"] + flags
    run(["cc", "-o", exe, os.path.join(ROOT, "tests/jwtv/standalone.c")] + flags)
    needed = run(["readelf", "-d", exe]).stdout
    assert "Shared library: [libjwtv.so.%s]" % SOVERSION in needed  # the .so, not the .a
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(dest, "usr/lib"))
    lib = os.path.join(dest, "usr/lib", "libjwtv.so.%s" % SOVERSION)
    assert "libjwtv.so.%s => %s " % (SOVERSION, lib) in run(["ldd", exe], env=env).stdout
    # It verifies the vectors' token and rejects the bad ones (exit 0).
    run([exe, os.path.join(ROOT, "tests/vectors")], env=env)


def test_pkg_config_file_names_the_prefix_of_a_plain_install(tmp_path):
    prefix, etc = str(tmp_path / "prefix"), str(tmp_path / "etc")
    make("install", PREFIX=prefix, SYSCONFDIR=etc)
    pc = open(os.path.join(prefix, "lib/pkgconfig/jwtv.pc")).read()
    assert "prefix=%s\n" % prefix in pc
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib/pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "jwtv"], env=env).stdout.split()
    assert flags == ["-I%s/include" % prefix, "-L%s/lib" % prefix, "-ljwtv"]
    unit = read_unit(os.path.join(prefix, "lib/systemd/system/jwtd.service"))
    assert unit["ExecStart"] == ["%s/bin/jwtd serve --config %s/jwtd/jwtd.conf" % (prefix, etc)]
    assert "JWTD_SIGNING_KEY_FILE=%s/jwtd/signing-key.pem" % etc in \
        open(os.path.join(etc, "jwtd/jwtd.conf")).read()


def _render(page):
    p = run(["man", "-l", page], env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="",
                                          MANROFFOPT="-ww"))
    assert p.stderr == "", p.stderr
    return p.stdout


@pytest.mark.parametrize("page", ["usr/share/man/man1/jwtd.1", "usr/share/man/man5/jwtd.conf.5"])
def test_man_page_is_lint_clean(dest, page):
    path = os.path.join(dest, page)
    if shutil.which("mandoc") is None:
        pytest.fail("mandoc is missing (scripts/bootstrap test installs it)")
    p = run(["mandoc", "-T", "lint", "-W", "warning", path], check=False)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p.stdout + p.stderr
    p = run(["groff", "-ww", "-z", "-man", path])
    assert p.stderr == ""
    text = _render(path)
    assert text.startswith(("JWTD(1)", "JWTD.CONF(5)"))
    assert "NAME" in text and "jwtd %s" % VERSION in text


def test_jwtd_1_describes_every_command(dest):
    jwtd = os.path.join(build_dir(), "jwtd")
    usage = run([jwtd, "--help"]).stdout
    commands = re.findall(r"^  (\S+) ", usage.split("commands:")[1], re.M)
    assert "serve" in commands and "check" in commands
    text = _render(os.path.join(dest, "usr/share/man/man1/jwtd.1"))
    for c in commands:
        if c == "help":
            continue
        assert re.search(r"^   %s$" % re.escape(c), text, re.M), "no section for " + c
        first = run([jwtd, "help", c]).stdout.splitlines()[0]
        assert first in text, "jwtd help %s is not in the page" % c
    for section in ("SIGNALS", "EXIT STATUS", "FILES", "SEE ALSO"):
        assert re.search(r"^%s$" % section, text, re.M)


def test_jwtd_conf_5_describes_every_variable(dest):
    dump = run([os.path.join(build_dir(), "jwtd"), "config"],
               env={k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}).stdout
    names = re.findall(r"^(JWTD_[A-Z0-9_]+)=", dump, re.M)
    assert len(names) > 40
    text = _render(os.path.join(dest, "usr/share/man/man5/jwtd.conf.5"))
    for name in names:
        assert re.search(r"^       %s$" % name, text, re.M), name + " is not in jwtd.conf(5)"
    assert "Type: duration (s); default: 15m." in text  # JWTD_ACCESS_TOKEN_LIFETIME's row


def test_sample_configuration_loads_as_is(dest):
    conf = os.path.join(dest, "etc/jwtd/jwtd.conf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    p = run([os.path.join(build_dir(), "jwtd"), "config", "--config", conf], env=env)
    assert p.stderr == ""  # no unknown name, no warning
    for line in ("JWTD_ENVIRONMENT=production", "JWTD_ALGORITHM=ES256",
                 "JWTD_SIGNING_KEY_FILE=/etc/jwtd/signing-key.pem",
                 "JWTD_DATABASE_URL=sqlite:/var/lib/jwtd/jwtd.db", "JWTD_LOG_DIR=/var/log/jwtd"):
        assert line in p.stdout.splitlines()


def test_unit_verifies(dest, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (scripts/bootstrap test installs systemd)")
    # The unit as installed, its binary pointed into the tree (it is not installed here).
    unit = tmp_path / "jwtd.service"
    text = open(os.path.join(dest, "usr/lib/systemd/system/jwtd.service")).read()
    unit.write_text(text.replace("=/usr/bin/jwtd ", "=%s/usr/bin/jwtd " % dest))
    p = run(["systemd-analyze", "verify", "--man=no", str(unit)], check=False)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    service = read_unit(str(unit))
    assert service["Type"] == ["exec"]  # jwtd does not speak sd_notify
    assert service["User"] == ["jwtd"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    env = dict(e.split("=", 1) for e in service["Environment"])
    assert env["JWTD_DATA_DIR"] == "/var/lib/jwtd"
    assert env["JWTD_PID_FILE"] == "/run/jwtd/jwtd.pid"
    for key in ("ProtectSystem", "NoNewPrivileges", "PrivateTmp", "PrivateDevices",
                "MemoryDenyWriteExecute", "SystemCallFilter", "RestrictAddressFamilies"):
        assert key in service


def test_existing_configuration_is_kept_and_uninstall_removes_the_rest(tmp_path):
    d = str(tmp_path / "root")
    make("install", DESTDIR=d, PREFIX="/usr")
    conf = os.path.join(d, "etc/jwtd/jwtd.conf")
    with open(conf, "a") as f:
        f.write("JWTD_ISSUER=https://auth.example.com\n")
    edited = open(conf).read()
    out = make("install", DESTDIR=d, PREFIX="/usr").stdout
    assert "kept the existing %s" % conf in out
    assert open(conf).read() == edited
    out = make("uninstall", DESTDIR=d, PREFIX="/usr").stdout
    assert "kept the edited %s" % conf in out
    assert sorted(tree(d)) == ["etc/jwtd/jwtd.conf"]
    # Only directories the install created empty remain (none under include/jwtv).
    assert not os.path.exists(os.path.join(d, "usr/include/jwtv"))
    # A configuration still as installed goes too.
    d2 = str(tmp_path / "root2")
    make("install", DESTDIR=d2, PREFIX="/usr")
    make("uninstall", DESTDIR=d2, PREFIX="/usr")
    assert tree(d2) == {}
    assert not os.path.exists(os.path.join(d2, "etc/jwtd"))


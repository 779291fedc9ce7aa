"""Helpers shared by the packaging tests (tests/package): paths, commands, the unit file.

Environment: JWTD_BUILD (default build/) is the build whose jwtd and libjwtv `make install`
installs (build/asan: with SAN=asan, or JWTD_SAN); JWTD_DEB_DIR (default build/deb/) holds the packages of `make deb`.
"""

import os
import shlex
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
SOVERSION = VERSION.split(".")[0]


def build_dir():
    path = os.environ.get("JWTD_BUILD", "build")
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


def deb_dir():
    path = os.environ.get("JWTD_DEB_DIR", "build/deb")
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


def run(argv, check=True, **kw):
    """Runs argv, capturing text output; on an unexpected status the message shows both."""
    kw.setdefault("timeout", 300)
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (shlex.join(argv), p.returncode, p.stdout, p.stderr))
    return p


def make(*targets, **variables):
    """`make -C ROOT TARGETS VAR=value...` with BUILD set to the build under test."""
    argv = ["make", "--no-print-directory", "-C", ROOT,
            "BUILD=" + os.path.relpath(build_dir(), ROOT)]
    # A sanitizer build relinks with its own flags (make asan = BUILD=build/asan SAN=asan).
    san = os.environ.get("JWTD_SAN", os.path.basename(build_dir()))
    if san in ("asan", "tsan"):
        argv.append("SAN=" + san)
    argv += ["%s=%s" % kv for kv in variables.items()] + list(targets)
    # Not the jobserver of a `make package-test` above us: its descriptors are not inherited.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return run(argv, env=env)


def read_unit(path):
    """The [Service] section of a unit file: {key: [values in order]} (keys may repeat)."""
    service, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]":
                key, _, value = line.partition("=")
                service.setdefault(key.strip(), []).append(value.strip())
    return service


def unit_environment(service):
    """The Environment= assignments of a [Service] section, as a dict."""
    env = {}
    for line in service.get("Environment", []):
        for word in shlex.split(line):
            name, _, value = word.partition("=")
            env[name] = value
    return env

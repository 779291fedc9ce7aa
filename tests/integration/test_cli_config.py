"""Integration tests for the command dispatcher and `jwtd config` of the real jwtd binary:
precedence of the real process environment over --config FILE over the defaults, secret
redaction, errors naming the variable, unknown-variable warnings, exit codes, help and
version, and docs/config.md matching `jwtd config --markdown`.

JWTD_BIN (default build/jwtd) is the binary under test. No server is started.
"""

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def jwtd_bin():
    path = os.environ.get("JWTD_BIN", "build/jwtd")
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


def run(*args, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
    base.update(env or {})
    p = subprocess.run([jwtd_bin(), *args], env=base, capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


def dump(stdout):
    return dict(line.split("=", 1) for line in stdout.splitlines())


def test_env_over_file_over_default(tmp_path):
    conf = tmp_path / "jwtd.conf"
    conf.write_text("# test\nWORKERS=3\nJWTD_LEEWAY=30s\nissuer = \"file issuer\"\n")
    rc, out, err = run("config", "--config", str(conf), env={"JWTD_WORKERS": "5"})
    assert rc == 0, err
    d = dump(out)
    assert d["JWTD_WORKERS"] == "5"
    assert d["JWTD_LEEWAY"] == "30s"
    assert d["JWTD_ISSUER"] == "file issuer"
    assert d["JWTD_LISTEN"] == "127.0.0.1:8000"
    assert d["JWTD_ACCESS_TOKEN_LIFETIME"] == "15m"


def test_secrets_redacted(tmp_path):
    rc, out, err = run("config", env={
        "JWTD_SECRET_KEY": "k" * 40 + "-hunter2",
        "JWTD_DATABASE_URL": "postgresql://jwtd:pg-hunter2@db/jwtd",
    })
    assert rc == 0, err
    assert "hunter2" not in out + err
    d = dump(out)
    assert d["JWTD_SECRET_KEY"] == "<redacted>"
    assert d["JWTD_DATABASE_URL"] == "postgresql://jwtd:<redacted>@db/jwtd"


def test_bad_value_exits_1_naming_variable(tmp_path):
    rc, out, err = run("config", env={"JWTD_ACCESS_TOKEN_LIFETIME": "15x"})
    assert rc == 1
    assert out == ""
    assert ('JWTD_ACCESS_TOKEN_LIFETIME: invalid duration "15x" (expected e.g. 900, 15m, 7d)'
            in err)
    conf = tmp_path / "bad.conf"
    conf.write_text("LISTEN=127.0.0.1:1\n\nMAX_BODY_BYTES=huge\n")
    rc, out, err = run("config", "--config=%s" % conf)
    assert rc == 1
    assert "%s:3: JWTD_MAX_BODY_BYTES: invalid size \"huge\"" % conf in err
    rc, out, err = run("config", env={"JWTD_SECRET_KEY": "short-hunter2"})
    assert rc == 1
    assert "JWTD_SECRET_KEY" in err and "hunter2" not in err


def test_unknown_variable_warns_with_suggestion():
    rc, out, err = run("config", env={"JWTD_LISTN": "0.0.0.0:1"})
    assert rc == 0
    assert "level=warn" in err
    assert 'name="JWTD_LISTN"' in err and "did_you_mean=JWTD_LISTEN" in err
    assert dump(out)["JWTD_LISTEN"] == "127.0.0.1:8000"


def test_log_level_error_silences_warnings():
    rc, out, err = run("config", env={"JWTD_LISTN": "x", "JWTD_LOG_LEVEL": "error"})
    assert rc == 0
    assert err == ""
    assert dump(out)["JWTD_LOG_LEVEL"] == "error"


def test_missing_config_file():
    rc, out, err = run("config", "--config", "/nonexistent/jwtd.conf")
    assert rc == 1
    assert "cannot read config file /nonexistent/jwtd.conf" in err


def test_usage_help_and_unknown_command():
    rc, out, err = run("--help")
    assert rc == 0 and "usage: jwtd <command>" in out and "  config " in out
    rc, out, err = run()
    assert rc == 2 and "usage: jwtd <command>" in err
    rc, out, err = run("help", "config")
    assert rc == 0 and out.startswith("usage: jwtd config")
    rc, out, err = run("config", "--help")
    assert rc == 0 and out.startswith("usage: jwtd config")
    rc, out, err = run("confg")
    assert rc == 2 and "unknown command: confg (did you mean config?)" in err
    rc, out, err = run("config", "--bogus")
    assert rc == 2 and "unknown option --bogus" in err


def test_version():
    rc, out, err = run("version")
    assert rc == 0
    first, *libs = out.splitlines()
    assert first.startswith("jwtd ")
    text = "\n".join(libs)
    for lib in ("OpenSSL", "libuv", "jansson", "SQLite"):
        assert lib in text
    rc2, out2, _ = run("--version")
    assert rc2 == 0 and out2 == out


def source_version():
    """What the Makefile passes as JWTD_VERSION, without the .dirty mark: the VERSION file,
    plus "+g<commit>" in a git checkout that is not the release tag v<VERSION>."""
    with open(os.path.join(ROOT, "VERSION")) as f:
        base = f.read().strip()
    if not os.path.exists(os.path.join(ROOT, ".git")):
        return base
    tagged = subprocess.run(["git", "-C", ROOT, "describe", "--tags", "--exact-match",
                             "--match", "v" + base], capture_output=True, timeout=30)
    if tagged.returncode == 0:
        return base
    p = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--abbrev=7", "--exclude",
                        "*"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return base + "+g" + p.stdout.strip()


def test_version_comes_from_the_source():
    rc, out, _ = run("--version")
    assert rc == 0
    built = out.splitlines()[0].removeprefix("jwtd ")
    assert re.fullmatch(r"\d+\.\d+\.\d+(\+g[0-9a-f]{7,}(\.dirty)?)?", built), built
    # edits after the build change only the .dirty mark, not the commit
    assert built.removesuffix(".dirty") == source_version(), built


def test_docs_config_md_is_generated_from_the_table():
    rc, out, err = run("config", "--markdown")
    assert rc == 0
    with open(os.path.join(ROOT, "docs", "config.md")) as f:
        assert f.read() == out, "regenerate: build/jwtd config --markdown > docs/config.md"

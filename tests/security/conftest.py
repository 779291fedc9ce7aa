"""Fixtures of the attack suite (tests/security/): the integration harness reused as is.

tests/integration/conftest.py (JwtdServer, jwtd_server, server, raw-socket helpers) and
tests/integration/peers.py (Jwtd, token_env, the `tokens` factory) are loaded from their
directory, so the security tests start real jwtd processes exactly as the integration
tests do; `make test` runs both suites against build/asan/jwtd.

Added here:

    attack_target(alg)   module-scoped factory (via the `targets` fixture): a jwtd signing
                         with a key made by `jwtd keygen --alg ALG` in a temp dir, so the
                         tests hold the PRIVATE key and can forge any token the real key
                         could sign (attack.Target).
"""

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
IT_DIR = os.path.join(os.path.dirname(HERE), "integration")
if IT_DIR not in sys.path:
    sys.path.insert(0, IT_DIR)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _load_integration_conftest():
    name = "jwtd_integration_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(IT_DIR, "conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


_it = _load_integration_conftest()

# Re-exported, every public name: when tests/integration and tests/security run in one
# pytest session, `from conftest import X` (in peers.py and the integration tests) may
# resolve to this module, so it offers everything the integration conftest does.
for _name in dir(_it):
    if not _name.startswith(("__", "pytest_")):  # hooks stay with their conftest
        globals()[_name] = getattr(_it, _name)
JwtdServer = _it.JwtdServer
jwtd_bin = _it.jwtd_bin

import attack  # noqa: E402


@pytest.fixture(scope="module")
def targets():
    """Factory: targets("RS256", **env) -> attack.Target (one server per call, all stopped
    at the end of the module)."""
    started = []

    def factory(alg, **env):
        t = attack.Target.start(alg, **env)
        started.append(t)
        return t

    yield factory
    errors = []
    for t in started:
        try:
            t.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)

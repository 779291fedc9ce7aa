"""Helpers for the service/resource integration tests (test_service_*, test_posts*,
test_resource*, test_introspect*, test_nginx*, test_openapi*, test_resource_server_c*):
a `svc` fixture factory that starts jwtd with token_env() and users of each role created by
the CLI, plus small HTTP helpers for the /auth/* routes."""

import pytest
import requests

from peers import TEST_PASSWORD, Jwtd, token_env

ROLES = ("user", "instructor", "admin")


class Svc(Jwtd):
    """A running jwtd with users `u_user`, `u_instructor`, `u_admin` (password testpass123)."""

    def auth_login(self, username, password=TEST_PASSWORD):
        r = self.post("/auth/login", {"username": username, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    def bearer(self, token):
        return {"Authorization": "Bearer " + token}

    def req(self, method, path, token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return self.http.request(method, self.url + path, headers=headers, timeout=30, **kw)


class SvcServers:
    def __init__(self):
        self.started = []

    def __call__(self, workers=2, **env):
        from conftest import JwtdServer
        srv = JwtdServer(env=token_env(**env), workers=workers)
        s = Svc(srv)
        for role in ROLES:
            s.create_user("u_" + role, email="%s@example.com" % role, first=role.capitalize(),
                          last="Tester", role=role)
        srv.start()
        self.started.append(s)
        return s

    def close(self):
        errors = []
        for s in self.started:
            try:
                s.srv.stop()
            except AssertionError as e:
                errors.append(str(e))
        self.started = []
        assert not errors, "\n".join(errors)


@pytest.fixture
def svc_factory():
    f = SvcServers()
    yield f
    f.close()


@pytest.fixture(scope="module")
def svc():
    f = SvcServers()
    yield f()
    f.close()


def check_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    if status == 401:
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer realm=\"api\""), r.headers
    return body


__all__ = ["Svc", "svc", "svc_factory", "check_error", "ROLES", "TEST_PASSWORD", "requests"]

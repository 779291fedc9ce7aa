"""`jwtd user passwd` / `jwtd user disable` with Redis configured: the CLI publishes the
revocation on the channel the servers listen to, so they apply it at once, even when the
database goes away right after the change (found by the fault-injection test, tests/fault:
a password change acknowledged just before a PostgreSQL restart was accepted for seconds,
until the servers' database poll could run again). Without Redis the poll still does it.
"""

import time

import pytest
import requests

import pgdb
from conftest import JwtdServer
from peers import TEST_PASSWORD, Jwtd, token_env
from redis_util import redis_server  # noqa: F401 (fixture)


@pytest.fixture
def own_pg():
    if not pgdb.available():
        pytest.fail("PostgreSQL server binaries are not installed (postgresql package)")
    srv = pgdb.PgServer().start()
    yield srv
    srv.stop()


def me(url, token):
    return requests.get(url + "/api/users/me/", headers={"Authorization": "Bearer " + token},
                        timeout=10).status_code


@pytest.mark.parametrize("command", [("user", "passwd", "testuser", "--password-stdin"),
                                     ("user", "disable", "testuser")])
def test_cli_revocation_reaches_servers_with_the_database_down(own_pg, redis_server,  # noqa: F811
                                                               command):
    redis = redis_server()
    url = own_pg.url(own_pg.create_database())
    srv = JwtdServer(env=token_env(JWTD_DATABASE_URL=url, JWTD_REDIS_URL=redis.url))
    j = Jwtd(srv)
    j.create_user()
    srv.start()
    try:
        t = j.login()
        assert me(j.url, t["access"]) == 200
        p = j.cli(*command, stdin="Another-pass-1" if "passwd" in command else None)
        assert "redis" not in p.stderr, p.stderr
        own_pg.halt()  # at once: the servers' next database poll cannot run
        try:
            t0 = time.monotonic()
            while me(j.url, t["access"]) != 401:
                assert time.monotonic() - t0 < 0.5, "the revocation waits for the database"
                time.sleep(0.01)
        finally:
            own_pg.resume()
        # and after the database is back, it holds (the poll brings the same)
        time.sleep(1.5)
        assert me(j.url, t["access"]) == 401
        r = j.post("/api/token/", {"username": "testuser", "password": TEST_PASSWORD})
        assert r.status_code == 401
    finally:
        srv.stop()

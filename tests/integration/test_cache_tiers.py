"""The cache tiers (user objects, post list pages, per-user API answers): in Redis when it is
configured, shared by two instances A and B, dropped there by the writing request (so B
sees a write made on A at once, not after a TTL), their TTLs set by JWTD_USER_CACHE_TTL,
JWTD_POSTS_CACHE_TTL and JWTD_API_CACHE_TTL (read from Redis with the test's own client),
the API still answering with Redis down; and, without Redis, the in-process post-list tier
following its setting.
"""

import time

import pytest
import requests

from conftest import JwtdServer
from peers import Jwtd, token_env
from redis_util import redis_server  # noqa: F401 (fixture)
from test_redis_shared import Pair

TTLS = {"JWTD_USER_CACHE_TTL": "1234s", "JWTD_POSTS_CACHE_TTL": "321s",
        "JWTD_API_CACHE_TTL": "45s"}


@pytest.fixture(scope="module")
def tiers():
    """A and B on one Redis and one SQLite file, with testuser and an admin."""
    import redis_util
    redis = redis_util.RedisServer().start()
    p = None
    try:
        p = Pair(redis, users=("testuser", "boss"), **TTLS)
        p.a.cli("user", "set-role", "boss", "admin")
        p.redis = redis
        yield p
    finally:
        if p:
            p.stop()
        redis.stop()


def bearer(t):
    return {"Authorization": "Bearer " + t}


def user_id(j, token):
    return j.me(token).json()["id"]


def wait_key(redis, pattern):
    """The first key matching pattern: an entry is written asynchronously, just after the
    instance that computed it answered."""
    deadline = time.monotonic() + 5
    while True:
        keys = redis.cli("KEYS", pattern)
        if keys:
            return keys[0]
        assert time.monotonic() < deadline, "no key %s in Redis" % pattern
        time.sleep(0.01)


def test_user_tier_in_redis_with_its_ttl(tiers):
    p = tiers
    t = p.b.login()
    uid = user_id(p.b, t["access"])
    key = wait_key(p.redis, "jwtd:cache:user:%d" % uid)
    ttl = p.redis.cli("TTL", key)
    assert 1200 < ttl <= 1234, ttl
    # the value is the user object the /me routes answer
    assert p.redis.cli("GET", key)[1:] == p.a.me(t["access"]).text


def test_change_on_a_seen_by_b_at_once(tiers):
    p = tiers
    admin = p.a.login("boss")["access"]
    t = p.b.login()
    uid = user_id(p.b, t["access"])
    for i in range(5):
        assert p.b.me(t["access"]).status_code == 200  # B serves it from Redis
        email = "changed%d@example.com" % i
        r = p.a.http.patch(p.a.url + "/admin/users/%d" % uid, json={"email": email},
                           headers=bearer(admin), timeout=10)
        assert r.status_code == 200, r.text
        # dropped in Redis before A answered: B's very next /me reads the new row
        assert p.b.me(t["access"]).json()["email"] == email


def test_change_stamps_the_key_and_the_next_fill_stores(tiers):
    """Versioned fills: a drop leaves a short-lived stamp (the sequence value it took), so a
    fill whose ticket predates it is refused; a fill begun after it stores as before."""
    p = tiers
    admin = p.a.login("boss")["access"]
    t = p.b.login()["access"]
    uid = user_id(p.b, t)
    r = p.a.http.patch(p.a.url + "/admin/users/%d" % uid, json={"email": "stamped@example.com"},
                       headers=bearer(admin), timeout=10)
    assert r.status_code == 200, r.text
    stamp = "jwtd:cache-stamp:user:%d" % uid
    assert 0 < p.redis.cli("TTL", stamp) <= 30
    assert 0 < int(p.redis.cli("GET", stamp)) <= int(p.redis.cli("GET", "jwtd:cache-meta:seq"))
    assert p.redis.cli("EXISTS", "jwtd:cache:user:%d" % uid) == 0
    assert p.b.me(t).json()["email"] == "stamped@example.com"  # a miss, filled after the drop
    key = wait_key(p.redis, "jwtd:cache:user:%d" % uid)  # ... so it was stored
    assert '"email":"stamped@example.com"' in p.redis.cli("GET", key)


def test_role_change_on_a_seen_by_b_at_once(tiers):
    p = tiers
    admin = p.a.login("boss")["access"]
    t = p.b.login()
    me = p.b.me(t["access"]).json()
    assert me["role"] == "user"
    r = p.a.http.patch(p.a.url + "/admin/users/%d" % me["id"], json={"role": "instructor"},
                       headers=bearer(admin), timeout=10)
    assert r.status_code == 200, r.text
    t2 = p.a.login()  # the role is a claim: the change revoked the old tokens
    assert p.b.me(t2["access"]).json()["role"] == "instructor"
    r = p.a.http.patch(p.a.url + "/admin/users/%d" % me["id"], json={"role": "user"},
                       headers=bearer(admin), timeout=10)
    assert r.status_code == 200, r.text
    assert p.b.me(p.b.login()["access"]).json()["role"] == "user"


def test_post_created_on_a_in_b_list_at_once(tiers):
    p = tiers
    ta, tb = p.a.login()["access"], p.b.login()["access"]
    first = p.b.get("/posts", token=tb)
    assert first.status_code == 200
    key = wait_key(p.redis, "jwtd:cache:posts:*")
    assert 300 < p.redis.cli("TTL", key) <= 321
    assert p.b.get("/posts", token=tb).headers["X-Cache"] == "HIT"
    for i in range(3):
        r = p.a.http.post(p.a.url + "/posts", json={"title": "from A %d" % i, "body": "x"},
                          headers=bearer(ta), timeout=10)
        assert r.status_code == 201, r.text
        page = p.b.get("/posts", token=tb)
        assert page.headers["X-Cache"] == "MISS"
        assert page.json()["total"] == first.json()["total"] + i + 1
        assert page.json()["items"][0]["id"] == r.json()["id"]
        assert p.a.get("/posts", token=ta).headers["X-Cache"] == "HIT"  # B's copy, shared
    pid = r.json()["id"]
    r = p.a.http.put(p.a.url + "/posts/%d" % pid, json={"title": "renamed"}, headers=bearer(ta),
                     timeout=10)
    assert r.status_code == 200
    assert p.b.get("/posts", token=tb).json()["items"][0]["title"] == "renamed"
    assert p.a.http.delete(p.a.url + "/posts/%d" % pid, headers=bearer(ta),
                           timeout=10).status_code == 204
    assert pid not in [x["id"] for x in p.b.get("/posts", token=tb).json()["items"]]


def test_api_tier_ttl_and_dropped_by_user_writes(tiers):
    p = tiers
    admin = p.a.login("boss")["access"]
    t = p.a.login()
    uid = user_id(p.a, t["access"])
    assert p.a.get("/api/orders/", token=t["access"]).json()["cached"] is False
    key = wait_key(p.redis, "jwtd:cache:orders:%d:*" % uid)
    assert 30 < p.redis.cli("TTL", key) <= 45
    assert p.b.get("/api/orders/", token=t["access"]).json()["cached"] is True
    # a change to the user (here its e-mail, which revokes nothing) drops its answers
    r = p.a.http.patch(p.a.url + "/admin/users/%d" % uid, json={"email": "o@example.com"},
                       headers=bearer(admin), timeout=10)
    assert r.status_code == 200, r.text
    assert p.redis.cli("EXISTS", key) == 0
    assert p.b.get("/api/orders/", token=t["access"]).json()["cached"] is False


def test_redis_down_api_still_answers(tiers):
    p = tiers
    t = p.a.login()
    tb = p.b.login()["access"]
    p.redis.kill()
    try:
        for j, tok in ((p.a, t["access"]), (p.b, tb)):
            r = j.me(tok)
            assert r.status_code == 200 and r.json()["username"] == "testuser"
            assert j.get("/posts", token=tok).status_code == 200
            assert j.get("/api/orders/", token=tok).json()["cached"] is False
        r = p.a.http.post(p.a.url + "/posts", json={"title": "no redis", "body": "x"},
                          headers=bearer(t["access"]), timeout=10)
        assert r.status_code == 201, r.text
        assert p.b.get("/posts", token=tb).json()["items"][0]["title"] == "no redis"
        assert p.a.refresh(t["refresh"]).status_code == 200
    finally:
        p.redis.restart()
    # back: the tiers are shared again (the connections reconnect by themselves)
    deadline = time.monotonic() + 10
    while not p.redis.cli("KEYS", "jwtd:cache:user:*"):
        assert time.monotonic() < deadline, "the user tier did not come back"
        p.b.me(p.b.login()["access"])
        time.sleep(0.05)


def test_tier_off_is_never_cached(redis_server):  # noqa: F811
    redis = redis_server()
    p = Pair(redis, JWTD_USER_CACHE_TTL="0", JWTD_POSTS_CACHE_TTL="0", JWTD_API_CACHE_TTL="0")
    try:
        t = p.a.login()["access"]
        for _ in range(2):
            assert p.b.me(t).status_code == 200
            assert p.b.get("/posts", token=t).headers["X-Cache"] == "MISS"
            assert p.b.get("/api/orders/", token=t).json()["cached"] is False
        assert redis.cli("KEYS", "jwtd:cache:*") == []
    finally:
        p.stop()


def test_embedded_posts_ttl_follows_the_setting():
    srv = JwtdServer(env=token_env(JWTD_POSTS_CACHE_TTL="1s"))
    j = Jwtd(srv)
    j.create_user()
    srv.start()
    try:
        t = j.login()["access"]
        s = requests.Session()
        assert s.get(j.url + "/posts", headers=bearer(t), timeout=10).headers["X-Cache"] == "MISS"
        assert s.get(j.url + "/posts", headers=bearer(t), timeout=10).headers["X-Cache"] == "HIT"
        time.sleep(2.1)  # past the 1 s setting (the former fixed lifetime was 30 s)
        assert s.get(j.url + "/posts", headers=bearer(t), timeout=10).headers["X-Cache"] == "MISS"
    finally:
        srv.stop()

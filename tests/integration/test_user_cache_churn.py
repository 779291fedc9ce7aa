"""/api/users/me/ while the user's cache entry is dropped again and again (found by the
fault-injection test, tests/fault): a change to the user on any instance (a watermark, a
profile change: the "u <id>" message on the Redis channel) drops the entry everywhere, also
between the pool job that loaded the user and the loop that answers from the cache. That
answered 503 while every backend was healthy; the user is now loaded again.
"""

import threading
import time

import requests

from peers import tokens  # noqa: F401 (fixture)
from redis_util import redis_server  # noqa: F401 (fixture)


def test_me_never_503_while_the_user_cache_churns(redis_server, tokens):  # noqa: F811
    redis = redis_server()
    j = tokens(JWTD_REDIS_URL=redis.url, workers=2)
    t = j.login()
    uid = j.me(t["access"]).json()["id"]
    stop = threading.Event()
    published = [0]

    def churn():  # what another instance sends when it changes the user
        while not stop.is_set():
            redis.cli("PUBLISH", "jwtd:revocations", "u %d" % uid)
            published[0] += 1

    statuses = []

    def me():
        s = requests.Session()
        while not stop.is_set():
            statuses.append(s.get(j.url + "/api/users/me/",
                                  headers={"Authorization": "Bearer " + t["access"]},
                                  timeout=10).status_code)

    ths = [threading.Thread(target=churn) for _ in range(2)] + \
          [threading.Thread(target=me) for _ in range(4)]
    for th in ths:
        th.start()
    time.sleep(6)
    stop.set()
    for th in ths:
        th.join()
    assert published[0] > 100 and len(statuses) > 200, (published, len(statuses))
    bad = {s: statuses.count(s) for s in set(statuses) if s != 200}
    assert not bad, "answers other than 200 out of %d: %s" % (len(statuses), bad)

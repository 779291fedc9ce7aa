"""The token-binding rules hold across instances sharing Redis (issue 9): a one-time token
used on instance A is refused on instance B, and a refresh family seen from one network on
A is revoked when it shows up from a distant network on B."""

import requests

from peers import token_env  # noqa: F401
from redis_util import redis_server  # noqa: F401 (fixture)
from test_redis_shared import Pair, module_cluster, pair  # noqa: F401 (fixtures)


def test_one_time_token_replayed_on_another_instance(pair):  # noqa: F811
    p = pair(JWTD_ONE_TIME_ROUTES="/protected")
    a = p.a.login()["access"]
    assert p.a.get("/protected", token=a).status_code == 200
    r = p.b.get("/protected", token=a)
    assert r.status_code == 401 and "already been used" in r.text, r.text


def test_refresh_anomaly_across_instances(pair):  # noqa: F811
    p = pair(JWTD_REFRESH_ANOMALY_WINDOW="5m", JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    tok = p.a.login()
    r = requests.post(p.a.url + "/api/token/refresh/", json={"refresh": tok["refresh"]},
                      headers={"X-Forwarded-For": "10.1.2.3"}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(p.b.url + "/api/token/refresh/", json={"refresh": r.json()["refresh"]},
                      headers={"X-Forwarded-For": "172.16.1.1"}, timeout=30)
    assert r.status_code == 401, r.text

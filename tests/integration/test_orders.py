"""GET /api/orders/ (docs/api.md §8) on one instance (embedded store): the
per-user, per-token cache ({"cached": false} then {"cached": true} with the same orders),
all of the user's entries dropped on a refresh, and no login priming the orders key with
user data (a known bug of the Django original this route imitates).
The same semantics across two instances on Redis: test_redis_shared.py."""

from peers import NOT_PROVIDED, shared_jwtd, tokens  # noqa: F401 (fixtures)

ORDERS = [{"id": 1, "product": "노트북", "user": "testuser"},
          {"id": 2, "product": "마우스", "user": "testuser"}]


def orders(j, token):
    return j.get("/api/orders/", token=token)


def test_first_miss_then_hit(tokens):
    j = tokens()
    t = j.login()
    r = orders(j, t["access"])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"cached": False, "data": ORDERS}  # the login did not prime the cache
    assert orders(j, t["access"]).json() == {"cached": True, "data": ORDERS}  # golden 46


def test_cached_per_token_and_per_user(tokens):
    j = tokens(users=("testuser", "alice"))
    t1, t2, a = j.login(), j.login(), j.login("alice")
    assert orders(j, t1["access"]).json()["cached"] is False
    assert orders(j, t2["access"]).json()["cached"] is False
    r = orders(j, a["access"]).json()
    assert r["cached"] is False and {o["user"] for o in r["data"]} == {"alice"}
    assert orders(j, t1["access"]).json()["cached"] is True


def test_refresh_drops_all_of_the_users_entries(tokens):
    j = tokens(users=("testuser", "alice"))
    t1, t2, a = j.login(), j.login(), j.login("alice")
    for t in (t1, t2, a):
        orders(j, t["access"])
    r = j.refresh(t1["refresh"])
    assert r.status_code == 200
    new = r.json()["access"]
    assert orders(j, t1["access"]).json()["cached"] is False
    assert orders(j, t2["access"]).json()["cached"] is False
    assert orders(j, a["access"]).json()["cached"] is True  # another user: untouched
    assert orders(j, new).json() == {"cached": False, "data": ORDERS}


def test_needs_a_valid_access_token(tokens):
    j = tokens()
    r = j.get("/api/orders/")
    assert r.status_code == 401 and r.json()["detail"] == NOT_PROVIDED
    t = j.login()
    r = orders(j, t["refresh"])
    assert r.status_code == 401 and r.json()["code"] == "token_not_valid"
    assert j.blacklist(t["refresh"]).status_code == 200
    r = orders(j, t["access"])
    assert r.status_code == 401 and r.json()["messages"][0]["message"] == "Token is blacklisted"

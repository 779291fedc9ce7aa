"""POST /api/token/refresh/ (docs/api.md §4 and §10; golden cases 10-15): rotation, the
reuse grace (a rotated token presented again within JWTD_REFRESH_REUSE_GRACE yields the
SAME successor: golden 11 is 401 for Django, 200 here), token errors, and the rotation
race: N concurrent refreshes of one token all get the same successor and the database
holds exactly one successor (one family)."""

import threading
import time

import jwt
import requests

import pgdb
from peers import (SHARED_SECRET, TEST_PASSWORD, check_error, claims, jwt_parts, resign,
                   shared_jwtd, tokens)  # noqa: F401 (fixtures)


def db_query(j, sql, *args):
    """SQL on the server's database, SQLite or PostgreSQL (JWTD_TEST_DB=pg; pgdb.py)."""
    return pgdb.db_query(j.env["JWTD_DATABASE_URL"], sql, *args)


def test_10_refresh_success(shared_jwtd):
    pair = shared_jwtd.login()
    r = shared_jwtd.refresh(pair["refresh"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body.keys()) == ["access", "refresh"], body
    old, new, access = claims(pair["refresh"]), claims(body["refresh"]), claims(body["access"])
    jwt.decode(body["access"], SHARED_SECRET, algorithms=["HS256"])
    jwt.decode(body["refresh"], SHARED_SECRET, algorithms=["HS256"])
    assert new["token_type"] == "refresh" and access["token_type"] == "access"
    assert new["jti"] != old["jti"] and access["jti"] not in (old["jti"], new["jti"])
    assert new["sid"] == old["sid"] == access["sid"], "rotation must stay in the session"
    assert new["user_id"] == old["user_id"] == access["user_id"] == access["sub"]
    assert access["username"] == "testuser"
    assert jwt_parts(body["access"])[0]["kid"] == jwt_parts(pair["access"])[0]["kid"]
    # the new access token works
    me = shared_jwtd.me(body["access"])
    assert me.status_code == 200, me.text
    # and the successor rotates again (a chain, same session)
    r2 = shared_jwtd.refresh(body["refresh"])
    assert r2.status_code == 200, r2.text
    assert claims(r2.json()["refresh"])["sid"] == old["sid"]
    assert claims(r2.json()["refresh"])["jti"] not in (old["jti"], new["jti"])


def test_10_form_encoded_refresh(shared_jwtd):
    pair = shared_jwtd.login()
    r = shared_jwtd.post("/api/token/refresh/", data={"refresh": pair["refresh"]})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access", "refresh"}


def test_11_reuse_within_grace_returns_same_successor(shared_jwtd):
    """Django answers 401 "Token is blacklisted" (golden 11); jwtd's grace (default 10 s)
    returns the same successor to a second tab instead of forking or failing."""
    pair = shared_jwtd.login()
    first = shared_jwtd.refresh(pair["refresh"])
    assert first.status_code == 200, first.text
    again = shared_jwtd.refresh(pair["refresh"])
    assert again.status_code == 200, again.text
    c1, c2 = claims(first.json()["refresh"]), claims(again.json()["refresh"])
    assert c1["jti"] == c2["jti"], "a second presentation within the grace forked the family"
    assert c1["sid"] == c2["sid"]
    assert shared_jwtd.me(again.json()["access"]).status_code == 200


def test_12_refresh_garbage(shared_jwtd):
    check_error(shared_jwtd.refresh("not.a.jwt"), 12)


def test_13_refresh_with_access_token(shared_jwtd):
    pair = shared_jwtd.login()
    check_error(shared_jwtd.refresh(pair["access"]), 13)


def test_14_refresh_missing_field(shared_jwtd):
    check_error(shared_jwtd.post("/api/token/refresh/", {}), 14)


def test_refresh_blank_field(shared_jwtd):
    r = shared_jwtd.post("/api/token/refresh/", {"refresh": ""})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_request"
    assert r.json()["refresh"] == ["This field may not be blank."]


def test_15_refresh_expired(shared_jwtd):
    pair = shared_jwtd.login()
    now = int(time.time())
    expired = resign(pair["refresh"], SHARED_SECRET, iat=now - 7 * 86400 - 60, exp=now - 60)
    check_error(shared_jwtd.refresh(expired), 15)
    # the genuine token of that session is untouched
    assert shared_jwtd.refresh(pair["refresh"]).status_code == 200


def test_refresh_wrong_key(shared_jwtd):
    pair = shared_jwtd.login()
    forged = resign(pair["refresh"], "another-secret-of-at-least-32-bytes-xxxxxxxx")
    check_error(shared_jwtd.refresh(forged), 12)


def test_refresh_unknown_jti_rejected(shared_jwtd):
    """Correctly signed but never issued (jti not in the database): not accepted."""
    pair = shared_jwtd.login()
    forged = resign(pair["refresh"], SHARED_SECRET, jti="0123456789abcdef0123456789abcdef")
    r = shared_jwtd.refresh(forged)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "token_not_valid"


def test_refresh_without_rotation(tokens):
    j = tokens(JWTD_ROTATE_REFRESH_TOKENS="false")
    pair = j.login()
    for _ in range(3):
        r = j.refresh(pair["refresh"])
        assert r.status_code == 200, r.text
        assert list(r.json().keys()) == ["access"], r.json()
        assert claims(r.json()["access"])["sid"] == claims(pair["refresh"])["sid"]


def _concurrent_refresh(url, token, n):
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        s = requests.Session()
        s.get(url + "/healthz", timeout=30)  # connect first, so the POSTs start together
        barrier.wait()
        r = s.post(url + "/api/token/refresh/", json={"refresh": token}, timeout=60)
        results[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_rotation_race_one_successor(tokens):
    """16 concurrent refreshes of one token: all 200 with the same successor; exactly one
    successor row in the database; the successor rotates once more, again one child."""
    j = tokens(workers=2)
    pair = j.login()
    r0 = claims(pair["refresh"])
    n = 16
    results = _concurrent_refresh(j.url, pair["refresh"], n)
    statuses = [s for s, _ in results]
    assert statuses == [200] * n, results
    successors = {claims(b["refresh"])["jti"] for _, b in results}
    assert len(successors) == 1, "forked: %d different successors" % len(successors)
    (r1_jti,) = successors
    assert all(claims(b["refresh"])["sid"] == r0["sid"] for _, b in results)
    assert all(j.me(b["access"]).status_code == 200 for _, b in results[:3])

    # black-box is not enough to prove "one family": the database must hold one child
    children = db_query(j, "SELECT jti FROM refresh_tokens WHERE parent_jti = ?", r0["jti"])
    assert [c[0] for c in children] == [r1_jti], children
    fam = db_query(j, "SELECT count(*) FROM refresh_tokens WHERE sid = ?", r0["sid"])
    assert fam[0][0] == 2, "session holds %d refresh tokens, expected 2" % fam[0][0]

    # the successor works, once: another concurrent burst yields one grandchild
    r1 = results[0][1]["refresh"]
    results2 = _concurrent_refresh(j.url, r1, 8)
    assert [s for s, _ in results2] == [200] * 8, results2
    grand = {claims(b["refresh"])["jti"] for _, b in results2}
    assert len(grand) == 1 and r1_jti not in grand
    children = db_query(j, "SELECT jti FROM refresh_tokens WHERE parent_jti = ?", r1_jti)
    assert [c[0] for c in children] == list(grand), children
    fam = db_query(j, "SELECT count(*) FROM refresh_tokens WHERE sid = ?", r0["sid"])
    assert fam[0][0] == 3
    sessions = db_query(j, "SELECT count(*) FROM sessions WHERE id = ?", r0["sid"])
    assert sessions[0][0] == 1


def test_race_between_sessions_independent(tokens):
    """Concurrent refreshes of two different sessions' tokens do not interfere."""
    j = tokens()
    a, b = j.login(), j.login("testuser", TEST_PASSWORD)
    ra = _concurrent_refresh(j.url, a["refresh"], 6)
    rb = _concurrent_refresh(j.url, b["refresh"], 6)
    assert all(s == 200 for s, _ in ra + rb)
    sa = {claims(x["refresh"])["jti"] for _, x in ra}
    sb = {claims(x["refresh"])["jti"] for _, x in rb}
    assert len(sa) == len(sb) == 1 and sa != sb

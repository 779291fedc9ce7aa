"""Posts of docs/api.md §8: CRUD with Bearer, pagination bounds, author-or-
admin for PUT/DELETE (403 otherwise), validation (lengths, UTF-8, types), JSON-safe output,
and the list cache dropped on every write."""

import json

from svc_helpers import check_error, svc, svc_factory  # noqa: F401 (fixtures)


def tok(svc, role):
    return svc.auth_login("u_" + role)["access_token"]


def create(svc, t, title="hello", body="world"):
    return svc.req("POST", "/posts", t, json={"title": title, "body": body})


def test_crud_roundtrip(svc):
    t = tok(svc, "user")
    r = create(svc, t, "First", "Body with <b>html</b> & \"quotes\" \u00e9 \U0001F600")
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["title"] == "First" and p["author"] == "u_user" and p["id"] > 0
    assert p["body"] == "Body with <b>html</b> & \"quotes\" \u00e9 \U0001F600"
    assert p["created_at"] == p["updated_at"]
    g = svc.req("GET", "/posts/%d" % p["id"], t)
    assert g.status_code == 200 and g.json() == p
    u = svc.req("PUT", "/posts/%d" % p["id"], t, json={"title": "Renamed"})
    assert u.status_code == 200 and u.json()["title"] == "Renamed" and u.json()["body"] == p["body"]
    d = svc.req("DELETE", "/posts/%d" % p["id"], t)
    assert d.status_code == 204 and d.content == b""
    check_error(svc.req("GET", "/posts/%d" % p["id"], t), 404, "not_found")
    check_error(svc.req("DELETE", "/posts/%d" % p["id"], t), 404, "not_found")


def test_author_or_admin(svc):
    author, other, inst, admin = (tok(svc, "user"), tok(svc, "instructor"),
                                  tok(svc, "instructor"), tok(svc, "admin"))
    pid = create(svc, author).json()["id"]
    # anyone authenticated can read
    assert svc.req("GET", "/posts/%d" % pid, other).status_code == 200
    check_error(svc.req("PUT", "/posts/%d" % pid, other, json={"title": "x"}), 403,
                "permission_denied")
    check_error(svc.req("DELETE", "/posts/%d" % pid, inst), 403, "permission_denied")
    assert svc.req("PUT", "/posts/%d" % pid, admin, json={"body": "moderated"}).json()["body"] \
        == "moderated"
    assert svc.req("DELETE", "/posts/%d" % pid, admin).status_code == 204
    for m in ("GET", "PUT", "DELETE"):
        check_error(svc.req(m, "/posts/%d" % pid), 401, "not_authenticated")
    check_error(svc.req("POST", "/posts", json={"title": "a", "body": "b"}), 401,
                "not_authenticated")


def test_validation(svc):
    t = tok(svc, "user")
    body = check_error(svc.req("POST", "/posts", t, json={}), 400, "invalid_request")
    assert body["title"] == ["This field is required."] and body["body"]
    check_error(create(svc, t, title="x" * 201), 400, "invalid_request")
    assert create(svc, t, title="é" * 200).status_code == 201  # characters, not bytes
    check_error(create(svc, t, body="y" * 10001), 400, "invalid_request")
    check_error(create(svc, t, title="   "), 400, "invalid_request")
    check_error(svc.req("POST", "/posts", t, json={"title": 5, "body": "b"}), 400,
                "invalid_request")
    check_error(svc.req("POST", "/posts", t, data=b'{"title":"a\\u0000","body":"b"}',
                        headers={"Content-Type": "application/json"}), 400, "invalid_request")
    check_error(svc.req("POST", "/posts", t, data=b'{"title":"\\ud800","body":"b"}',
                        headers={"Content-Type": "application/json"}), 400, "invalid_request")
    check_error(svc.req("POST", "/posts", t, data=b"{bad json",
                        headers={"Content-Type": "application/json"}), 400, "invalid_request")
    pid = create(svc, t).json()["id"]
    check_error(svc.req("PUT", "/posts/%d" % pid, t, json={}), 400, "invalid_request")
    for bad in ("0", "-1", "abc", "99999999999999999999"):
        check_error(svc.req("GET", "/posts/" + bad, t), 404, "not_found")


def test_pagination_and_bounds(svc_factory):
    s = svc_factory()
    t = tok(s, "user")
    ids = [create(s, t, "p%d" % i).json()["id"] for i in range(7)]
    r = s.req("GET", "/posts?page=1&page_size=3", t).json()
    assert [p["id"] for p in r["items"]] == ids[::-1][:3]
    assert r["total"] == 7 and r["page"] == 1 and r["page_size"] == 3
    r = s.req("GET", "/posts?page=3&page_size=3", t).json()
    assert [p["id"] for p in r["items"]] == [ids[0]]
    assert s.req("GET", "/posts?page=9&page_size=3", t).json()["items"] == []
    assert len(s.req("GET", "/posts", t).json()["items"]) == 7  # default page size 20
    for bad in ("page=0", "page=-2", "page=x", "page_size=0", "page_size=101", "page_size=1e3",
                "page=%zz"):
        check_error(s.req("GET", "/posts?" + bad, t), 400, "invalid_request")
    check_error(s.req("GET", "/posts?page=100000&page_size=100", t), 400, "invalid_request")


def test_list_cache_dropped_on_every_write(svc_factory):
    s = svc_factory()
    t, admin = tok(s, "user"), tok(s, "admin")
    create(s, t, "one")
    r1 = s.req("GET", "/posts", t)
    assert r1.headers["X-Cache"] == "MISS"
    r2 = s.req("GET", "/posts", t)
    assert r2.headers["X-Cache"] == "HIT" and r2.json() == r1.json()
    pid = create(s, t, "two").json()["id"]  # create drops it
    r = s.req("GET", "/posts", t)
    assert r.headers["X-Cache"] == "MISS" and r.json()["total"] == 2
    assert s.req("GET", "/posts", t).headers["X-Cache"] == "HIT"
    s.req("PUT", "/posts/%d" % pid, t, json={"title": "two!"})  # update drops it
    r = s.req("GET", "/posts", t)
    assert r.headers["X-Cache"] == "MISS" and r.json()["items"][0]["title"] == "two!"
    s.req("DELETE", "/posts/%d" % pid, admin)  # delete drops it
    r = s.req("GET", "/posts", t)
    assert r.headers["X-Cache"] == "MISS" and r.json()["total"] == 1
    # a refused write does not touch the cache
    assert s.req("GET", "/posts", t).headers["X-Cache"] == "HIT"
    other = tok(s, "instructor")
    s.req("DELETE", "/posts/%d" % r.json()["items"][0]["id"], other)
    assert s.req("GET", "/posts", t).headers["X-Cache"] == "HIT"


def test_output_is_json_escaped(svc):
    t = tok(svc, "user")
    evil = "</script><script>alert(1)</script>\n\t\u2028"
    pid = create(svc, t, "x", evil).json()["id"]
    raw = svc.req("GET", "/posts/%d" % pid, t).content
    assert b"\n" not in raw and b"\t" not in raw
    assert json.loads(raw)["body"] == evil

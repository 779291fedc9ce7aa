"""GET /users/{id} (self or admin) and GET /users (admin, paginated) of docs/api.md §7."""

from svc_helpers import check_error, svc  # noqa: F401 (fixtures)


def test_user_self_or_admin(svc):
    u = svc.auth_login("u_user")
    i = svc.auth_login("u_instructor")
    a = svc.auth_login("u_admin")
    uid = u["user"]["id"]
    r = svc.req("GET", "/users/%d" % uid, u["access_token"])
    assert r.status_code == 200 and r.json() == u["user"]
    assert svc.req("GET", "/users/%d" % uid, a["access_token"]).json() == u["user"]
    check_error(svc.req("GET", "/users/%d" % uid, i["access_token"]), 403, "permission_denied")
    # no enumeration for non-admins: a missing id is also 403
    check_error(svc.req("GET", "/users/999999", u["access_token"]), 403, "permission_denied")
    check_error(svc.req("GET", "/users/999999", a["access_token"]), 404, "not_found")
    check_error(svc.req("GET", "/users/abc", a["access_token"]), 404, "not_found")
    check_error(svc.req("GET", "/users/%d" % uid), 401, "not_authenticated")


def test_users_list_admin_paginated(svc):
    a = svc.auth_login("u_admin")["access_token"]
    for k in range(5):
        assert svc.post("/auth/register", {"username": "pg%d" % k, "email": "pg%d@x.org" % k,
                                           "password": "long-enough-pw"}).status_code == 201
    r = svc.req("GET", "/users?page_size=3", a)
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["page"] == 1 and b["page_size"] == 3 and len(b["items"]) == 3 and b["has_next"]
    seen = [u["id"] for u in b["items"]]
    page = 2
    while b["has_next"]:
        b = svc.req("GET", "/users?page=%d&page_size=3" % page, a).json()
        seen += [u["id"] for u in b["items"]]
        page += 1
    assert seen == sorted(seen) and len(seen) == len(set(seen)) >= 8
    assert all("password" not in u for u in b["items"])
    for bad in ("page=0", "page=x", "page_size=0", "page_size=101", "page_size=-1"):
        check_error(svc.req("GET", "/users?" + bad, a), 400, "invalid_request")
    check_error(svc.req("GET", "/users", svc.auth_login("u_user")["access_token"]), 403,
                "permission_denied")

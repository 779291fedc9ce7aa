"""GET /openapi.json: a valid OpenAPI 3 document that documents every route the running
server has registered. The server walks its own router at start and publishes the walk in
`x-jwtd-routes` / `x-jwtd-undocumented`; this test fails when any route is undocumented,
and cross-checks the walk by calling each listed route (it must not 404)."""

import json
import os

from svc_helpers import svc  # noqa: F401 (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_document_is_openapi3_and_matches_the_source(svc):
    r = svc.req("GET", "/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "jwtd"
    with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
        src = json.load(f)
    assert doc["paths"] == src["paths"]  # the binary embeds docs/openapi.json
    for path, ops in doc["paths"].items():
        assert path.startswith("/")
        for method, op in ops.items():
            assert method in ("get", "post", "put", "delete", "patch"), (path, method)
            assert op["responses"], (path, method)
            for ref in json.dumps(op).split('"$ref": "')[1:]:
                name = ref.split('"')[0].split("/")
                assert name[3] in doc["components"][name[2]], ref


def test_every_routed_path_is_documented(svc):
    doc = svc.req("GET", "/openapi.json").json()
    routes = doc["x-jwtd-routes"]
    assert doc["x-jwtd-undocumented"] == [], doc["x-jwtd-undocumented"]
    assert len(routes) >= 30
    for must in ("POST /auth/register", "POST /auth/login", "GET /auth/introspect",
                 "GET /protected", "GET /admin/dashboard", "POST /upload", "GET /openapi.json",
                 "POST /api/token/"):
        assert must in routes, must
    for entry in routes:
        method, path = entry.split(" ", 1)
        assert path in doc["paths"] or path.startswith("/app/"), entry
        assert method.lower() in doc["paths"].get(path, {"get": 1}), entry


def test_walk_is_real(svc):
    """Each route the server lists answers something other than 404 for its method."""
    doc = svc.req("GET", "/openapi.json").json()
    for entry in doc["x-jwtd-routes"]:
        method, path = entry.split(" ", 1)
        path = path.replace("{id}", "1").replace("{sid}", "0" * 32)
        if method not in ("GET", "POST", "PUT", "DELETE"):
            continue
        r = svc.req(method, path, data=b"", headers={"Content-Type": "application/json"})
        if path.endswith("/1") or path.endswith("0" * 32):
            continue  # the parameter may legitimately name nothing
        assert r.status_code != 404 or r.json().get("code") != "not_found" or "{" in entry, entry
        assert r.status_code != 405, entry

"""Resource routes of docs/api.md §8: GET /, /protected, /admin/dashboard with
the RBAC matrix user/instructor/admin x route, and POST /upload + GET /upload/{id}: sizes,
names, traversal attempts, ownership (404 for others), malformed multipart bodies."""

import hashlib
import os

import pytest

from svc_helpers import ROLES, check_error, svc, svc_factory  # noqa: F401 (fixtures)

# route -> roles that get 200 (every other role: 403)
MATRIX = {
    ("GET", "/protected"): set(ROLES),
    ("GET", "/admin/dashboard"): {"admin"},
    ("GET", "/auth/me"): set(ROLES),
    ("GET", "/users"): {"admin"},
    ("GET", "/posts"): set(ROLES),
    ("POST", "/auth/introspect"): None,  # GET only (405), checked below
}


def test_root(svc):
    r = svc.req("GET", "/")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", [("GET", "/protected"), ("GET", "/admin/dashboard"),
                                   ("GET", "/auth/me"), ("GET", "/users"), ("GET", "/posts")])
def test_rbac_matrix(svc, role, route):
    method, path = route
    t = svc.auth_login("u_" + role)["access_token"]
    r = svc.req(method, path, t)
    assert r.status_code != 404, "%s %s is not routed (JWTD_RESOURCE_ROUTES?)" % (method, path)
    if role in MATRIX[route]:
        assert r.status_code == 200, (role, path, r.text)
    else:
        check_error(r, 403, "permission_denied")
    # and without a token: 401 everywhere
    check_error(svc.req(method, path), 401, "not_authenticated")


def test_protected_body_and_admin_gets_200_where_the_peer_403s(svc):
    t = svc.auth_login("u_admin")
    r = svc.req("GET", "/protected", t["access_token"])
    assert r.json() == {"message": "Authenticated", "user_id": str(t["user"]["id"]),
                        "username": "u_admin", "role": "admin"}
    r = svc.req("GET", "/admin/dashboard", t["access_token"])
    assert r.status_code == 200 and r.json()["role"] == "admin"


def test_protected_rejects_refresh_expired_and_revoked(svc):
    t = svc.auth_login("u_user")
    check_error(svc.req("GET", "/protected", t["refresh_token"]), 401, "token_not_valid")
    assert svc.req("POST", "/auth/logout", t["access_token"]).status_code == 204
    body = check_error(svc.req("GET", "/protected", t["access_token"]), 401, "token_not_valid")
    assert body["messages"][0]["message"] == "Token is blacklisted"


# ---- upload ----------------------------------------------------------------------------------


def upload(svc, token, name, data, field="file", ctype=None):
    f = (name, data) if ctype is None else (name, data, ctype)
    return svc.req("POST", "/upload", token, files={field: f})


def stored_files(svc):
    d = os.path.join(svc.srv.data_dir, "uploads")
    return sorted(os.listdir(d))


def test_upload_roundtrip_and_metadata(svc):
    t = svc.auth_login("u_user")["access_token"]
    data = os.urandom(50000)
    r = upload(svc, t, "report.pdf", data, ctype="application/pdf")
    assert r.status_code == 201, r.text
    b = r.json()
    assert set(b) == {"id", "filename", "size", "sha256"}
    assert b["filename"] == "report.pdf" and b["size"] == len(data)
    assert b["sha256"] == hashlib.sha256(data).hexdigest()
    path = os.path.join(svc.srv.data_dir, "uploads", b["id"])
    with open(path, "rb") as f:
        assert f.read() == data
    assert os.stat(path).st_mode & 0o777 == 0o600
    m = svc.req("GET", "/upload/" + b["id"], t)
    assert m.status_code == 200, m.text
    assert m.json()["content_type"] == "application/pdf" and m.json()["size"] == len(data)


@pytest.mark.parametrize("name,expect", [
    ("../../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\evil.dll", "evil.dll"),
    ("/abs/path/x.txt", "x.txt"),
    ("..", "upload"),
    (".hidden", "hidden"),
    ("what?<>|*.txt", "what.txt"),
    ("名前.txt", "名前.txt"),
])
def test_upload_names_never_reach_the_filesystem(svc, name, expect):
    t = svc.auth_login("u_user")["access_token"]
    before = set(stored_files(svc))
    r = upload(svc, t, name, b"data")
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == expect
    new = set(stored_files(svc)) - before
    assert new == {r.json()["id"], r.json()["id"] + ".json"}
    assert all(len(n.split(".")[0]) == 32 for n in new)


def test_upload_ids_are_random(svc):
    t = svc.auth_login("u_user")["access_token"]
    ids = {upload(svc, t, "same.txt", b"same").json()["id"] for _ in range(5)}
    assert len(ids) == 5


def test_upload_size_limits(svc_factory):
    s = svc_factory(JWTD_MAX_UPLOAD_BYTES="1000", JWTD_MAX_BODY_BYTES="4096")
    t = s.auth_login("u_user")["access_token"]
    assert upload(s, t, "ok.bin", b"x" * 1000).status_code == 201
    check_error(upload(s, t, "big.bin", b"x" * 1001), 413, "payload_too_large")
    r = upload(s, t, "huge.bin", b"x" * 10000)  # over the body limit: the HTTP layer's 413
    assert r.status_code == 413
    assert [n for n in stored_files(s) if not n.endswith(".json")].__len__() == 1


def test_upload_ownership_404_for_others(svc):
    a = svc.auth_login("u_user")["access_token"]
    b = svc.auth_login("u_admin")["access_token"]
    fid = upload(svc, a, "mine.txt", b"secret").json()["id"]
    assert svc.req("GET", "/upload/" + fid, a).status_code == 200
    check_error(svc.req("GET", "/upload/" + fid, b), 404, "not_found")
    check_error(svc.req("GET", "/upload/" + "0" * 32, a), 404, "not_found")
    check_error(svc.req("GET", "/upload/..%2f..%2fetc%2fpasswd", a), 404, "not_found")
    check_error(svc.req("GET", "/upload/" + fid), 401, "not_authenticated")


def test_upload_bad_requests(svc):
    t = svc.auth_login("u_user")["access_token"]
    check_error(svc.req("POST", "/upload"), 401, "not_authenticated")
    check_error(upload(svc, t, "x.txt", b"x", field="other"), 400, "invalid_request")
    r = svc.req("POST", "/upload", t, json={"file": "x"})
    check_error(r, 415, "unsupported_media_type")
    h = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    for body in [b"garbage", b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                 b"filename=\"a\"\r\n\r\nno closing delimiter",
                 b"--XyZ\r\nno-colon-header\r\n\r\ndata\r\n--XyZ--\r\n"]:
        check_error(svc.req("POST", "/upload", t, data=body, headers=h), 400, "invalid_request")
    check_error(svc.req("POST", "/upload", t, data=b"x",
                        headers={"Content-Type": "multipart/form-data"}), 400, "invalid_request")
    # a field without filename is not a file
    body = b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ntext\r\n--B--\r\n"
    check_error(svc.req("POST", "/upload", t, data=body,
                        headers={"Content-Type": "multipart/form-data; boundary=B"}), 400,
                "invalid_request")


def test_upload_raw_filename_with_crlf_and_quotes(svc):
    t = svc.auth_login("u_user")["access_token"]
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; "
            b"filename=\"a\\\"b\x01c/../d\te.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            b"hello\r\n--B--\r\n")
    r = svc.req("POST", "/upload", t, data=body,
                headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "de.txt" and r.json()["size"] == 5

"""HTTP/1.1 protocol behaviour of jwtd's HTTP layer: keep-alive, pipelining, HTTP/1.0,
routing (404/405/HEAD/OPTIONS/params), bodies (chunked, 100-continue, JSON, forms) and
framing errors. Raw sockets, so that exactly what goes on the wire is checked."""

import json
import socket

import requests

from conftest import Reader, connect, request, send_raw


def get(path, extra=""):
    return "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, extra)


def post_json(path, body, extra=""):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    return ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n%s" % (path, len(body.encode()), extra, body))


def test_healthz(server):
    r = requests.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["Content-Type"] == "application/json"
    assert "Date" in r.headers


def test_keep_alive_many_requests_one_connection(server):
    with connect(server) as s:
        rd = Reader(s)
        for _ in range(50):
            send_raw(s, get("/healthz"))
            r = rd.read_response()
            assert r.status == 200 and r.json() == {"status": "ok"}
            assert r.header("connection") is None


def test_pipelining_three_requests_in_one_write_answered_in_order(server):
    with connect(server) as s:
        send_raw(s, get("/_test/items/1/sub/a") + get("/nope") + get("/_test/items/3/sub/c"))
        rd = Reader(s)
        r1, r2, r3 = rd.read_response(), rd.read_response(), rd.read_response()
    assert (r1.status, r1.json()["id"]) == (200, "1")
    assert r2.status == 404
    assert (r3.status, r3.json()["id"]) == (200, "3")


def test_pipelining_waits_for_async_handler(server):
    # The first request is served on the blocking pool; the next ones must wait for it.
    with connect(server) as s:
        send_raw(s, get("/_test/sleep?ms=200") + get("/healthz") + get("/_test/items/2/sub/b"))
        rd = Reader(s)
        r1, r2, r3 = rd.read_response(), rd.read_response(), rd.read_response()
    assert r1.json() == {"slept_ms": 200, "status": 0}
    assert r2.json() == {"status": "ok"}
    assert r3.json()["id"] == "2"


def test_pipelined_bytes_split_anywhere(server):
    data = (get("/healthz") + post_json("/_test/echo", {"a": [1, 2]}) + get("/healthz")).encode()
    for cut in (1, 10, 30, 45, 60, 90, len(data) - 1):
        with connect(server) as s:
            s.sendall(data[:cut])
            s.sendall(data[cut:])
            rd = Reader(s)
            assert rd.read_response().status == 200
            r = rd.read_response()
            assert r.json()["body"] == {"a": [1, 2]}
            assert rd.read_response().status == 200


def test_connection_close_is_honoured(server):
    with connect(server) as s:
        send_raw(s, get("/healthz", "Connection: close\r\n"))
        rd = Reader(s)
        r = rd.read_response()
        assert r.status == 200 and r.header("connection") == "close"
        assert rd.closed()


def test_http10_closes_unless_keep_alive(server):
    with connect(server) as s:
        send_raw(s, "GET /healthz HTTP/1.0\r\n\r\n")
        rd = Reader(s)
        assert rd.read_response().header("connection") == "close"
        assert rd.closed()
    with connect(server) as s:
        rd = Reader(s)
        for _ in range(3):
            send_raw(s, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = rd.read_response()
            assert r.status == 200 and r.header("connection") == "keep-alive"


def test_404_body_shape(server):
    r = requests.get(server.url + "/does-not-exist", timeout=5)
    assert r.status_code == 404
    assert r.json() == {"detail": "Not found.", "code": "not_found"}
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"


def test_trailing_slash_matters(server):
    assert requests.get(server.url + "/healthz/", timeout=5).status_code == 404


def test_405_lists_allowed_methods(server):
    r = requests.post(server.url + "/healthz", timeout=5)
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    r = requests.get(server.url + "/_test/echo", timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST, PUT, OPTIONS"


def test_head_for_get_route(server):
    with connect(server) as s:
        send_raw(s, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + get("/healthz"))
        rd = Reader(s)
        h = rd.read_response(head=True)
        assert h.status == 200 and h.header("content-length") == "15" and h.body == b""
        assert rd.read_response().json() == {"status": "ok"}


def test_options_default_answer(server):
    r = requests.options(server.url + "/_test/echo", timeout=5)
    assert r.status_code == 204
    assert r.headers["Allow"] == "POST, PUT, OPTIONS"


def test_path_params_and_query_decoding(server):
    r = requests.get(server.url + "/_test/items/42/sub/x-y?q=a%20b+c%2B&z=1", timeout=5)
    assert r.json() == {"id": "42", "name": "x-y", "q": "a b c+"}
    r = requests.delete(server.url + "/_test/items/7/sub/n", timeout=5)
    assert r.json()["id"] == "7"
    assert requests.get(server.url + "/_test/items//sub/x", timeout=5).status_code == 404
    r = request(server, get("/_test/items/1/sub/x?q=%zz"))  # raw: requests would re-encode
    assert r.status == 400 and r.json()["code"] == "invalid_request"


def test_json_body_echo_and_response_headers(server):
    r = requests.post(server.url + "/_test/echo", json={"username": "a", "n": [1, {"b": None}]},
                      timeout=5)
    assert r.status_code == 200
    assert r.json()["body"] == {"username": "a", "n": [1, {"b": None}]}
    assert r.json()["peer"] == "127.0.0.1"
    assert r.headers["X-Test"] == "1"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_form_body_is_accepted_like_json(server):
    r = requests.post(server.url + "/_test/echo", data={"username": "a b", "password": "p&=+"},
                      timeout=5)
    assert r.status_code == 200
    assert r.json()["body"] == {"username": "a b", "password": "p&=+"}


def test_bad_json_is_400(server):
    r = requests.post(server.url + "/_test/echo", data=b'{"a": ', timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid_request"
    assert body["detail"].startswith("JSON parse error - ")


def test_duplicate_json_keys_and_depth_are_400(server):
    r = request(server, post_json("/_test/echo", '{"a": 1, "a": 2}'))
    assert r.status == 400 and r.json()["detail"].startswith("JSON parse error - ")
    r = request(server, post_json("/_test/echo", "[" * 33 + "]" * 33))
    assert r.status == 400 and "nesting" in r.json()["detail"]
    r = request(server, post_json("/_test/echo", "[" * 32 + "]" * 32))
    assert r.status == 200


def test_unsupported_media_type_is_415(server):
    r = requests.post(server.url + "/_test/echo", data=b"<a/>", timeout=5,
                      headers={"Content-Type": "application/xml"})
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_media_type"


def test_chunked_body(server):
    body = '{"chunked": true, "n": 12345}'
    chunks = "".join("%x\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5])
                     for i in range(0, len(body), 5))
    raw = ("POST /_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n")
    with connect(server) as s:
        # byte-split delivery exercises the buffering of partial chunks
        for i in range(0, len(raw), 7):
            s.sendall(raw[i:i + 7].encode())
        r = Reader(s).read_response()
    assert r.status == 200
    assert r.json()["body"] == {"chunked": True, "n": 12345}
    assert r.json()["body_bytes"] == len(body)


def test_expect_100_continue(server):
    body = b'{"x": 1}'
    with connect(server) as s:
        send_raw(s, "POST /_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
        rd = Reader(s)
        cont = rd.read_response()
        assert cont.status == 100
        s.sendall(body)
        r = rd.read_response()
        assert r.status == 200 and r.json()["body"] == {"x": 1}


def _expect_400_and_close(server, raw):
    with connect(server) as s:
        send_raw(s, raw)
        rd = Reader(s)
        r = rd.read_response()
        assert r.status == 400, r
        assert r.json()["code"] == "invalid_request"
        assert r.header("connection") == "close"
        assert rd.closed()


def test_content_length_with_transfer_encoding_is_400(server):
    _expect_400_and_close(server, "POST /_test/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")


def test_duplicate_content_length_is_400(server):
    _expect_400_and_close(server, "POST /_test/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                                  "Content-Length: 2\r\n\r\n{}")


def test_invalid_content_length_is_400(server):
    _expect_400_and_close(server, "POST /_test/echo HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 1x\r\n\r\n{}")


def test_invalid_chunked_framing_is_400(server):
    _expect_400_and_close(server, "POST /_test/echo HTTP/1.1\r\nHost: t\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")


def test_garbage_request_line_is_400(server):
    _expect_400_and_close(server, "HELLO\r\n\r\n")


def test_unsupported_http_versions_are_505_and_close(server):
    for version in ("HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTP/1.2", "HTTP/1.9", "HTTP/9.9"):
        with connect(server) as s:
            # a second request behind it must not be answered: the connection closes
            send_raw(s, "GET /healthz %s\r\nHost: t\r\nX-Request-Id: v-1\r\n\r\n%s"
                     % (version, get("/healthz")))
            rd = Reader(s)
            r = rd.read_response()
            assert r.status == 505, (version, r)
            assert r.reason == "HTTP Version Not Supported"
            body = r.json()
            assert body["code"] == "http_version_not_supported", body
            assert "HTTP/1.1" in body["detail"]
            assert r.header("content-type") == "application/json; charset=utf-8"
            assert r.header("connection") == "close"
            if version in ("HTTP/2.0", "HTTP/0.9"):  # parsed up to the end of the headers
                assert r.header("x-request-id") == "v-1"
            else:  # llhttp stops at the request line: a generated id
                assert r.header("x-request-id")
            assert rd.closed(), version
    # a version that is not digits is malformed, not unsupported
    _expect_400_and_close(server, "GET /healthz HTTP/x.1\r\nHost: t\r\n\r\n")
    # HTTP/1.0 and HTTP/1.1 still work
    for version in ("HTTP/1.0", "HTTP/1.1"):
        r = request(server, "GET /healthz %s\r\nHost: t\r\n\r\n" % version)
        assert r.status == 200, (version, r)


def test_server_survives_abrupt_disconnects(server):
    for raw in (get("/healthz")[:10], post_json("/_test/echo", {"a": 1})[:-3]):
        s = connect(server)
        send_raw(s, raw)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def test_space_in_header_name_is_400(server):
    # "Content-Length : 5" is read differently by some proxies: refuse it (smuggling guard)
    _expect_400_and_close(server, "POST /_test/echo HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length : 5\r\n\r\nhello")


def test_large_responses_to_a_slow_reader(server):
    # 8 pipelined 700 KB echoes (5.6 MB of responses) to a client that waits before reading:
    # the kernel takes only part of it, so the rest goes through uv_write and the write
    # queue (and reading pauses while the queue is long). Every response must come out
    # whole and in order.
    import threading
    import time
    n = 8
    bodies = [json.dumps({"i": i, "a": chr(97 + i) * 700000}) for i in range(n)]
    data = "".join(post_json("/_test/echo", b) for b in bodies) + get("/healthz")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(20)
    s.connect((server.host, server.port))
    with s:
        sender = threading.Thread(target=s.sendall, args=(data.encode(),))
        sender.start()
        time.sleep(0.5)
        rd = Reader(s)
        for i in range(n):
            r = rd.read_response()
            assert r.status == 200
            assert r.json()["body"] == {"i": i, "a": chr(97 + i) * 700000}
        assert rd.read_response().json() == {"status": "ok"}
        sender.join()

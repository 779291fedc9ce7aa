"""Request limits of the HTTP layer: header bytes/count (431), URL length (414), body
size (413, answered before the body is read), each followed by a close."""

from conftest import Reader, connect, send_raw


def _expect_status_and_close(sock, status, code):
    rd = Reader(sock)
    r = rd.read_response()
    assert r.status == status, r
    assert r.json()["code"] == code
    assert r.header("content-type") == "application/json; charset=utf-8"
    assert r.header("connection") == "close"
    assert rd.closed()
    return r


def test_one_megabyte_header_is_431(server):
    with connect(server) as s:
        send_raw(s, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ")
        try:
            for _ in range(64):
                s.sendall(b"a" * 16384)  # 1 MiB; the server stops reading at 16 KiB
            s.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        _expect_status_and_close(s, 431, "request_header_fields_too_large")


def test_too_many_headers_is_431(server):
    with connect(server) as s:
        send_raw(s, "GET /healthz HTTP/1.1\r\n" + "".join("X-%d: 1\r\n" % i for i in range(101))
                 + "\r\n")
        _expect_status_and_close(s, 431, "request_header_fields_too_large")


def test_header_just_under_limit_is_fine(server):
    with connect(server) as s:
        send_raw(s, "GET /healthz HTTP/1.1\r\nX-Big: %s\r\n\r\n" % ("a" * 15000))
        assert Reader(s).read_response().status == 200


def test_long_url_is_414(server):
    with connect(server) as s:
        send_raw(s, "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % ("a" * 9000))
        _expect_status_and_close(s, 414, "uri_too_long")


def test_body_over_limit_is_413_before_body_is_sent(server):
    with connect(server) as s:
        # Only the headers: the answer must come without a single body byte sent.
        send_raw(s, "POST /_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    "Content-Length: 104857600\r\n\r\n")
        r = _expect_status_and_close(s, 413, "payload_too_large")
        assert r.json()["detail"] == "Request body is too large."


def test_chunked_body_over_limit_is_413_while_streaming(server):
    with connect(server) as s:
        send_raw(s, "POST /_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
        try:
            for _ in range(17):  # 1.06 MiB > 1 MiB limit; never terminated
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        _expect_status_and_close(s, 413, "payload_too_large")


def test_body_at_limit_is_accepted(jwtd_server):
    srv = jwtd_server(env={"JWTD_MAX_BODY_BYTES": "2048"})
    body = '{"a": "%s"}' % ("x" * (2048 - 9))
    assert len(body) == 2048
    with connect(srv) as s:
        send_raw(s, "POST /_test/echo HTTP/1.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert Reader(s).read_response().status == 200
    with connect(srv) as s:
        send_raw(s, "POST /_test/echo HTTP/1.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: 2049\r\n\r\n")
        _expect_status_and_close(s, 413, "payload_too_large")

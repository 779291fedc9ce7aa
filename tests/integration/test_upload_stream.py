"""POST /upload streamed to disk (docs/api.md §8; the HTTP layer's streaming routes):
server memory does not grow with the upload size, a client that disconnects mid-upload
leaves no temp file, chunked transfer encoding, limits as the body streams in (413 as soon
as the file part or a chunked body goes over), the body deadline, an early 401 without
"100 Continue", and X-Request-Id on answers the HTTP parser gives before any route runs."""

import hashlib
import os
import socket
import time

from conftest import Reader, connect, request
from svc_helpers import svc, svc_factory  # noqa: F401 (fixtures)

BOUNDARY = "----jwtdStreamTest7MA4YWxkTrZu0gW"


def envelope(filename="big.bin", ctype="application/octet-stream"):
    head = ("--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: %s\r\n\r\n" % (BOUNDARY, BOUNDARY, filename, ctype)).encode()
    tail = ("\r\n--%s--\r\n" % BOUNDARY).encode()
    return head, tail


def request_head(svc, token, length=None, chunked=False, extra=""):
    h = ("POST /upload HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
         "Content-Type: multipart/form-data; boundary=%s\r\n" % (svc.srv.host, svc.srv.port,
                                                                  token, BOUNDARY))
    h += "Transfer-Encoding: chunked\r\n" if chunked else "Content-Length: %d\r\n" % length
    return (h + extra + "\r\n").encode()


def pattern_block(i, n=1 << 16):
    """Deterministic pseudo-random 64 KiB blocks (cheap to regenerate and hash)."""
    return hashlib.sha256(b"%d" % i).digest() * (n // 32)


def upload_dir_entries(svc):
    return sorted(os.listdir(os.path.join(svc.srv.data_dir, "uploads")))


def vm_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_large_upload_keeps_server_memory_flat(svc_factory):
    size = 50 * 1024 * 1024
    s = svc_factory(JWTD_MAX_UPLOAD_BYTES=str(size), workers=1)
    t = s.auth_login("u_user")["access_token"]
    # warm up: one small upload so every lazily allocated buffer exists already
    head, tail = envelope("warm.bin")
    body = head + b"w" * 100000 + tail
    with connect(s.srv) as sock:
        sock.sendall(request_head(s, t, len(body)) + body)
        assert Reader(sock).read_response().status == 201
    pid = s.srv.proc.pid
    hwm_before = vm_kib(pid, "VmHWM")
    head, tail = envelope()
    blocks = size // (1 << 16)
    digest = hashlib.sha256()
    with connect(s.srv, timeout=60) as sock:
        sock.sendall(request_head(s, t, len(head) + size + len(tail)) + head)
        for i in range(blocks):
            b = pattern_block(i)
            digest.update(b)
            sock.sendall(b)
        sock.sendall(tail)
        r = Reader(sock).read_response()
    assert r.status == 201, r
    b = r.json()
    assert b["size"] == size and b["sha256"] == digest.hexdigest() and b["filename"] == "big.bin"
    growth = vm_kib(pid, "VmHWM") - hwm_before
    print("upload of %d MiB: peak RSS grew by %d KiB" % (size >> 20, growth))
    assert growth < 8 * 1024, "peak RSS grew by %d KiB for a 50 MiB upload" % growth
    path = os.path.join(s.srv.data_dir, "uploads", b["id"])
    assert os.path.getsize(path) == size
    assert not [n for n in upload_dir_entries(s) if n.endswith(".tmp")]


def test_disconnect_mid_upload_leaves_no_temp_file(svc_factory):
    s = svc_factory(JWTD_MAX_UPLOAD_BYTES=str(64 << 20))
    t = s.auth_login("u_user")["access_token"]
    before = upload_dir_entries(s)
    for abort_with_reset in (False, True):
        head, tail = envelope()
        sock = connect(s.srv)
        sock.sendall(request_head(s, t, len(head) + (32 << 20) + len(tail)) + head)
        for i in range(64):  # 4 MiB of 32
            sock.sendall(pattern_block(i))
        # the temp file exists while the upload runs
        assert wait_for(lambda: any(n.endswith(".tmp") for n in upload_dir_entries(s))), \
            upload_dir_entries(s)
        if abort_with_reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
        assert wait_for(lambda: upload_dir_entries(s) == before), upload_dir_entries(s)
    # and the server is fine
    assert s.req("GET", "/").status_code == 200
    r = s.req("POST", "/upload", t, files={"file": ("after.txt", b"still works")})
    assert r.status_code == 201, r.text


def test_chunked_upload(svc):
    t = svc.auth_login("u_user")["access_token"]
    head, tail = envelope("chunked.bin", "application/x-test")
    data = os.urandom(300000)
    body = head + data + tail
    with connect(svc.srv) as sock:
        sock.sendall(request_head(svc, t, chunked=True))
        i, sizes = 0, [1, 7, 4096, 65536, 3, 100000, 17]
        k = 0
        while i < len(body):
            n = sizes[k % len(sizes)]
            k += 1
            piece = body[i:i + n]
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            i += n
        sock.sendall(b"0\r\n\r\n")
        rd = Reader(sock)
        r = rd.read_response()
        assert r.status == 201, r
        assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
        assert r.json()["size"] == len(data)
        # keep-alive: the connection serves the next request
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rd.read_response().status == 200
    m = svc.req("GET", "/upload/" + r.json()["id"], t).json()
    assert m["content_type"] == "application/x-test"


def test_limits_while_streaming(svc_factory):
    s = svc_factory(JWTD_MAX_UPLOAD_BYTES="100000", JWTD_BODY_TIMEOUT="1s")
    t = s.auth_login("u_user")["access_token"]
    before = upload_dir_entries(s)
    head, tail = envelope()
    # the file part goes over: 413 as soon as it does, though the client sends more
    with connect(s.srv) as sock:
        sock.sendall(request_head(s, t, len(head) + 150000 + len(tail)) + head)
        sock.sendall(b"x" * 120000)
        r = Reader(sock).read_response()
        assert r.status == 413 and r.json()["code"] == "payload_too_large", r
        assert r.header("connection") == "close"
    # a Content-Length over the route's limit (upload limit + envelope): before any handler
    with connect(s.srv) as sock:
        sock.sendall(request_head(s, t, 100000 + 65536 + 1, extra="X-Request-Id: big-1\r\n"))
        r = Reader(sock).read_response()
        assert r.status == 413 and r.header("x-request-id") == "big-1", r
    # a chunked body over the route's limit: 413 once the total goes over
    with connect(s.srv) as sock:
        sock.sendall(request_head(s, t, chunked=True) + b"%x\r\n" % len(head) + head + b"\r\n")
        for _ in range(5):
            sock.sendall(b"8000\r\n" + b"\r\n--" * (0x8000 // 4) + b"\r\n")
        r = Reader(sock).read_response()
        assert r.status in (400, 413), r
    # the body deadline: a client that stops sending gets 408 and its temp file goes
    with connect(s.srv) as sock:
        sock.sendall(request_head(s, t, len(head) + 50000 + len(tail)) + head + b"y" * 1000)
        assert wait_for(lambda: any(n.endswith(".tmp") for n in upload_dir_entries(s)))
        r = Reader(sock).read_response()
        assert r.status == 408 and r.json()["code"] == "timeout", r
    # a body that ends before its closing delimiter
    body = head + b"z" * 10
    with connect(s.srv) as sock:
        sock.sendall(request_head(s, t, len(body)) + body)
        check = Reader(sock).read_response()
        assert check.status == 400 and check.json()["code"] == "invalid_request", check
    assert wait_for(lambda: upload_dir_entries(s) == before), upload_dir_entries(s)


def test_early_answer_skips_100_continue(svc):
    head, tail = envelope()
    with connect(svc.srv) as sock:
        sock.sendall(request_head(svc, "not-a-token", 1000000, extra="Expect: 100-continue\r\n"))
        r = Reader(sock).read_response()
        assert r.status == 401, r  # the final answer, no "100 Continue" first
        assert r.header("connection") == "close"
    t = svc.auth_login("u_user")["access_token"]
    body = head + b"data" + tail
    with connect(svc.srv) as sock:
        sock.sendall(request_head(svc, t, len(body), extra="Expect: 100-continue\r\n"))
        rd = Reader(sock)
        assert rd.read_response().status == 100
        sock.sendall(body)
        r = rd.read_response()
        assert r.status == 201 and r.json()["size"] == 4, r


def test_parser_rejections_carry_a_request_id(jwtd_server):
    srv = jwtd_server(env={"JWTD_MAX_BODY_BYTES": "1000", "JWTD_MAX_URL_BYTES": "256",
                           "JWTD_MAX_HEADER_BYTES": "2048", "JWTD_HEADER_TIMEOUT": "1s"})
    cases = [
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST /api/token/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413),
        (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 3000 + b"\r\n\r\n", 431),
        (b"NOT A REQUEST\r\n\r\n", 400),
    ]
    seen = set()
    for raw, status in cases:
        r = request(srv, raw)
        assert r.status == status, (raw[:40], r)
        rid = r.header("x-request-id")
        assert rid and 1 <= len(rid) <= 64, r
        seen.add(rid)
    assert len(seen) == len(cases)  # one id per request
    # a sane client id is echoed when the parser got that far
    r = request(srv, b"POST /api/token/ HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n"
                b"Content-Length: 5000\r\n\r\n")
    assert r.status == 413 and r.header("x-request-id") == "abc-123", r
    # and the header-deadline answer (408) has one too
    with connect(srv) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        srv_timeout = Reader(sock)
        sock.settimeout(30)
        r = srv_timeout.read_response()
        assert r.status == 408 and r.header("x-request-id"), r


def test_concurrent_uploads(svc_factory):
    s = svc_factory(JWTD_MAX_UPLOAD_BYTES=str(8 << 20), JWTD_POOL_THREADS="2")
    t = s.auth_login("u_user")["access_token"]
    import concurrent.futures

    def one(i):
        data = b"".join(pattern_block(i * 100 + k) for k in range(40))  # 2.5 MiB
        head, tail = envelope("c%d.bin" % i)
        with connect(s.srv, timeout=60) as sock:
            sock.sendall(request_head(s, t, len(head) + len(data) + len(tail)) + head)
            for k in range(0, len(data), 100000):
                sock.sendall(data[k:k + 100000])
            sock.sendall(tail)
            r = Reader(sock).read_response()
        assert r.status == 201, r
        assert r.json()["sha256"] == hashlib.sha256(data).hexdigest(), i
        return r.json()["id"]

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ids = list(ex.map(one, range(8)))
    assert len(set(ids)) == 8
    names = upload_dir_entries(s)
    assert all(i in names and i + ".json" in names for i in ids)
    assert not [n for n in names if n.endswith(".tmp")]


def test_stale_temp_files_swept_at_start(jwtd_server, tmp_path):
    """A crash mid-upload leaves .<id>.tmp behind: the next start removes the ones not
    written to for an hour, and leaves fresh temp files (another instance may be writing
    them), stored uploads and anything else alone."""
    d = tmp_path / "uploads"
    d.mkdir()
    old = time.time() - 2 * 3600
    for name in (".deadbeef.tmp", ".cafe.tmp"):
        (d / name).write_bytes(b"partial")
        os.utime(d / name, (old, old))
    (d / ".fresh.tmp").write_bytes(b"in progress elsewhere")
    (d / "0123abcd").write_bytes(b"a stored upload")
    os.utime(d / "0123abcd", (old, old))
    (d / "notes.tmp").write_bytes(b"not ours: no leading dot")
    os.utime(d / "notes.tmp", (old, old))
    jwtd_server(env={"JWTD_UPLOAD_DIR": str(d)})
    assert sorted(os.listdir(d)) == [".fresh.tmp", "0123abcd", "notes.tmp"]

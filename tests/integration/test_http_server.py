"""Process-level behaviour: graceful shutdown with a request in flight, the bounded
blocking pool (503 when full), workers, and 10 000 idle keep-alive connections."""

import resource
import signal
import socket
import threading
import time

import requests

from conftest import Reader, connect, send_raw


def test_graceful_shutdown_finishes_in_flight_request(jwtd_server):
    srv = jwtd_server()
    idle = connect(srv)
    send_raw(idle, "GET /healthz HTTP/1.1\r\n\r\n")
    idle_rd = Reader(idle)
    assert idle_rd.read_response().status == 200
    busy = connect(srv)
    send_raw(busy, "GET /_test/sleep?ms=700 HTTP/1.1\r\n\r\n")
    time.sleep(0.2)
    srv.signal(signal.SIGTERM)
    rd = Reader(busy)
    r = rd.read_response()
    assert r.status == 200 and r.json() == {"slept_ms": 700, "status": 0}
    assert r.header("connection") == "close"
    assert rd.closed()
    assert idle_rd.closed()  # idle keep-alive connections are closed at once
    assert srv.wait() == 0
    # new connections are refused once the listeners are closed
    try:
        socket.create_connection((srv.host, srv.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused
    busy.close()
    idle.close()


def test_shutdown_timeout_bounds_the_wait(jwtd_server):
    srv = jwtd_server(env={"JWTD_SHUTDOWN_TIMEOUT": "300ms"})
    busy = connect(srv)
    # the request would hold the connection 6 s; a 300 ms shutdown timeout closes it long
    # before (5 s: room for a slow machine, still well short of the request's end)
    send_raw(busy, "GET /_test/sleep?ms=6000 HTTP/1.1\r\n\r\n")
    time.sleep(0.2)
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    assert Reader(busy).closed(timeout=5)
    assert time.monotonic() - t0 < 5.0
    assert srv.wait() == 0  # the pool job still completes (into the void) before exit
    busy.close()


def test_pool_queue_full_is_503(jwtd_server):
    srv = jwtd_server(env={"JWTD_POOL_THREADS": "1", "JWTD_POOL_QUEUE_MAX": "1"})
    first = connect(srv)
    send_raw(first, "GET /_test/sleep?ms=500 HTTP/1.1\r\n\r\n")
    time.sleep(0.15)
    r = requests.get(srv.url + "/_test/sleep?ms=1", timeout=5)
    assert r.status_code == 503
    assert r.json()["code"] == "unavailable"
    assert Reader(first).read_response().status == 200
    assert requests.get(srv.url + "/_test/sleep?ms=1", timeout=5).status_code == 200
    first.close()


def test_concurrent_clients(server):
    errors = []

    def worker():
        try:
            with requests.Session() as s:
                for _ in range(50):
                    assert s.get(server.url + "/healthz", timeout=5).status_code == 200
        except Exception as e:  # noqa: BLE001 - collected for the assert below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_ten_thousand_idle_keep_alive_connections(jwtd_server):
    n = 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    srv = jwtd_server()
    before = srv.rss_kib()
    conns = []
    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(True)
            s.connect((srv.host, srv.port))
            conns.append(s)
        # one request on every connection, so each has been through the request path
        req = b"GET /healthz HTTP/1.1\r\n\r\n"
        for s in conns:
            s.sendall(req)
        for s in conns:
            s.settimeout(10)
            data = b""
            while b'{"status":"ok"}' not in data:
                chunk = s.recv(4096)
                assert chunk, "server closed an idle connection"
                data += chunk
        time.sleep(0.5)
        after = srv.rss_kib()
        growth = after - before
        print("\n10k idle keep-alive connections: RSS %d KiB -> %d KiB, growth %d KiB "
              "(%.0f bytes/connection)" % (before, after, growth, growth * 1024.0 / n))
        # still serving
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
        # a sample of the idle connections still works
        for s in conns[::1000]:
            s.sendall(req)
            assert Reader(s).read_response().status == 200
        # release builds use ~1 KiB per connection; ASan's allocator adds redzones
        assert growth < 80 * 1024, growth
    finally:
        for s in conns:
            s.close()

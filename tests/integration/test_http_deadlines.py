"""Deadlines: header deadline (slowloris), body deadline, idle keep-alive timeout; and
normal requests keep being served while slow clients are being dropped."""

import threading
import time

import requests

from conftest import Reader, connect, send_raw

SHORT = {"JWTD_HEADER_TIMEOUT": "1s", "JWTD_BODY_TIMEOUT": "1s", "JWTD_IDLE_TIMEOUT": "1500ms"}


def _trickle(srv, data, interval, result, key):
    s = connect(srv, timeout=10)
    start = time.monotonic()
    try:
        for b in data:
            s.sendall(bytes([b]))
            time.sleep(interval)
        result[key] = ("finished", time.monotonic() - start)
    except (BrokenPipeError, ConnectionResetError):
        result[key] = ("dropped", time.monotonic() - start)
    finally:
        s.close()


def test_slowloris_dropped_within_header_deadline_while_others_served(jwtd_server):
    srv = jwtd_server(env=SHORT)
    result = {}
    data = b"GET /healthz HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    threads = [threading.Thread(target=_trickle, args=(srv, data, 0.05, result, i))
               for i in range(5)]
    for t in threads:
        t.start()
    served = 0
    t0 = time.monotonic()
    while any(t.is_alive() for t in threads) and time.monotonic() - t0 < 8:
        assert requests.get(srv.url + "/healthz", timeout=2).status_code == 200
        served += 1
        time.sleep(0.02)
    for t in threads:
        t.join(10)
    assert served > 20
    for i in range(5):
        state, elapsed = result[i]
        assert state == "dropped", result
        assert elapsed < 3.0, result  # deadline 1 s (+ detection of the closed socket)


def test_slow_header_is_answered_408_and_closed(jwtd_server):
    srv = jwtd_server(env=SHORT)
    with connect(srv) as s:
        send_raw(s, "GET /healthz HTTP/1.1\r\nX-A: 1\r\n")
        t0 = time.monotonic()
        rd = Reader(s)
        r = rd.read_response()
        assert r.status == 408 and r.json()["code"] == "timeout"
        assert 0.8 < time.monotonic() - t0 < 3.0
        assert rd.closed()


def test_body_deadline(jwtd_server):
    srv = jwtd_server(env=SHORT)
    with connect(srv) as s:
        send_raw(s, "POST /_test/echo HTTP/1.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100\r\n\r\n{\"a\":")
        t0 = time.monotonic()
        rd = Reader(s)
        r = rd.read_response()
        assert r.status == 408
        assert 0.8 < time.monotonic() - t0 < 3.0
        assert rd.closed()


def test_idle_keep_alive_timeout(jwtd_server):
    srv = jwtd_server(env=SHORT)
    with connect(srv) as s:
        rd = Reader(s)
        send_raw(s, "GET /healthz HTTP/1.1\r\n\r\n")
        assert rd.read_response().status == 200
        time.sleep(0.7)  # activity resets the idle clock
        send_raw(s, "GET /healthz HTTP/1.1\r\n\r\n")
        assert rd.read_response().status == 200
        t0 = time.monotonic()
        assert rd.closed(timeout=5)
        assert 1.2 < time.monotonic() - t0 < 3.5


def test_connection_that_never_sends_is_closed(jwtd_server):
    srv = jwtd_server(env=SHORT)
    with connect(srv) as s:
        t0 = time.monotonic()
        assert Reader(s).closed(timeout=5)
        assert time.monotonic() - t0 < 3.0

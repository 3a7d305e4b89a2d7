"""Upstream failures map to honest statuses: refused → 503, reset before a
response → 502, silent past the route timeout → 504, reset mid-response →
the client's connection is cut (never a fake success)."""

import json
import socket
import threading
import time

from harness import Backend, parse_responses, raw_exchange, rampart_config


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_upstream_down_is_503(rampart_factory):
    proxy = rampart_factory(rampart_config([free_port()]))
    status, _, body = proxy.request("GET", "/")
    assert status == 503
    assert json.loads(body)["error"] == "connect_failed"
    assert proxy.metric("rampart_upstream_connect_failures_total") == 1


def test_upstream_reset_before_response_is_502(backend_factory, rampart_factory):
    b = backend_factory(lambda req: req.reset())
    proxy = rampart_factory(rampart_config([b.port]))
    status, _, body = proxy.request("GET", "/")
    assert status == 502
    assert json.loads(body)["error"] == "reset_before_response"


def test_upstream_close_before_response_is_502(backend_factory, rampart_factory):
    b = backend_factory(lambda req: req.close())
    proxy = rampart_factory(rampart_config([b.port]))
    assert proxy.request("GET", "/")[0] == 502


def test_upstream_garbage_is_502(backend_factory, rampart_factory):
    def garbage(req):
        req.h.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
        req.close()
    b = backend_factory(garbage)
    proxy = rampart_factory(rampart_config([b.port]))
    status, _, body = proxy.request("GET", "/")
    assert status == 502 and json.loads(body)["error"] == "protocol_error"


def test_upstream_silent_past_route_timeout_is_504(backend_factory, rampart_factory):
    release = threading.Event()
    b = backend_factory(lambda req: (release.wait(10), req.respond(200, "late")))
    routes = "  - {name: all, match: {path_prefix: /}, cluster: c, timeout: 300ms}\n"
    proxy = rampart_factory(rampart_config([b.port], routes=routes))
    start = time.monotonic()
    status, _, body = proxy.request("GET", "/")
    elapsed = time.monotonic() - start
    release.set()
    assert status == 504 and json.loads(body)["error"] == "upstream_timeout"
    assert elapsed < 5
    assert proxy.metric("rampart_upstream_timeouts_total") == 1
    # The timed-out upstream connection is not reused for the next request.
    assert proxy.request("GET", "/")[0] in (200, 504)


def test_upstream_reset_mid_response_cuts_the_client(backend_factory, rampart_factory):
    def half(req):
        req.h.send_response(200)
        req.h.send_header("Content-Length", "100000")
        req.h.end_headers()
        req.h.wfile.write(b"x" * 1000)
        req.h.wfile.flush()
        time.sleep(0.1)
        req.reset()
    b = backend_factory(half)
    proxy = rampart_factory(rampart_config([b.port]))
    data = raw_exchange(proxy.address(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200")
    body = data.split(b"\r\n\r\n", 1)[1]
    assert len(body) < 100000  # truncated, and the connection was closed
    assert proxy.metric("rampart_upstream_resets_total") == 1


def test_upstream_closes_keepalive_between_requests(backend_factory, rampart_factory):
    # The backend closes every connection after answering: the proxy must not reuse it.
    def one_shot(req):
        req.h.close_connection = True
        req.respond(200, "ok", {"Connection": "close"})
    b = backend_factory(one_shot)
    proxy = rampart_factory(rampart_config([b.port]))
    conn = proxy.connection()
    for _ in range(10):
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"ok"
    assert b.connections == 10


def test_close_delimited_upstream_response(backend_factory, rampart_factory):
    def http10(req):
        req.h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close")
        req.close()
    b = backend_factory(http10)
    proxy = rampart_factory(rampart_config([b.port]))
    status, headers, body = proxy.request("GET", "/")
    assert status == 200 and body == b"until-close"


def test_every_request_gets_one_response_under_mixed_faults(backend_factory, rampart_factory):
    counter = {"n": 0}
    lock = threading.Lock()

    def mixed(req):
        with lock:
            counter["n"] += 1
            n = counter["n"]
        if n % 4 == 0:
            req.reset()
        elif n % 4 == 1:
            req.close()
        else:
            req.respond(200, "fine")
    b = backend_factory(mixed)
    proxy = rampart_factory(rampart_config([b.port], workers=2))
    results = []

    def client():
        for _ in range(25):
            try:
                results.append(proxy.request("GET", "/", timeout=10)[0])
            except Exception as e:  # a lost request would show up here
                results.append(repr(e))
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200
    assert set(results) <= {200, 502}, set(results)
    assert results.count(200) >= 50

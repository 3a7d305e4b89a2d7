"""Bad input gets a clear, protocol-correct error and never a crash, a hang or
a lost request: 400, 431, 413, 408, smuggling shapes, and the proxy keeps serving."""

import json
import socket
import time

import pytest

from harness import parse_responses, raw_exchange, rampart_config


def alive(proxy):
    status, _, _ = proxy.request("GET", "/still-alive")
    return status == 200


def first_status(data):
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"G\x00T / HTTP/1.1\r\n\r\n",
])
def test_malformed_request_is_400_and_closed(proxy, backend, raw):
    data = raw_exchange(proxy.address(), raw)
    assert first_status(data) == 400, data
    assert b"connection: close" in data.lower()
    assert len(backend.requests) == 0
    assert alive(proxy)


@pytest.mark.parametrize("raw", [
    # Content-Length and Transfer-Encoding together.
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # Conflicting Content-Lengths.
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    # A chunk size that is not hex.
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    # A chunk size that overflows.
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    # Transfer-Encoding that is not chunked last.
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
])
def test_smuggling_shapes_are_400_and_closed(proxy, backend, raw):
    # A smuggled second request must never reach the backend.
    data = raw_exchange(proxy.address(), raw + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
    responses = parse_responses(data)
    assert responses and responses[-1][0] == 400, data
    assert all(r.path != "/smuggled" for r in backend.requests)
    assert alive(proxy)


def test_headers_over_the_limit_are_431(backend, rampart_factory):
    proxy = rampart_factory(rampart_config([backend.port], limits=", max_header_bytes: 4KiB"))
    ok = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\nConnection: close\r\n\r\n"
    assert first_status(raw_exchange(proxy.address(), ok)) == 200
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    data = raw_exchange(proxy.address(), big)
    assert first_status(data) == 431
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(600)) + b"\r\n"
    assert first_status(raw_exchange(proxy.address(), many)) == 431
    assert proxy.metric("rampart_downstream_headers_too_large_total") == 2
    assert alive(proxy)


def test_body_over_the_limit_is_413(backend, rampart_factory):
    proxy = rampart_factory(rampart_config([backend.port], limits=", max_body_bytes: 1KiB"))
    # Declared too large: refused before the body is read, even while the client keeps sending.
    s = socket.create_connection(proxy.address(), timeout=5)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    s.sendall(b"x" * 50000)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    s.close()
    assert first_status(data) == 413
    # Chunked over the limit: discovered while streaming.
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"200\r\n" + b"y" * 512 + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
    data = raw_exchange(proxy.address(), raw)
    assert first_status(data) == 413
    # At the limit is fine.
    status, _, body = proxy.request("POST", "/", body=b"z" * 1024)
    assert status == 200 and json.loads(body)["body_length"] == 1024
    assert proxy.metric("rampart_downstream_body_too_large_total") == 2


def test_slow_headers_get_408(proxy, backend):
    s = socket.create_connection(proxy.address(), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
    start = time.monotonic()
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    elapsed = time.monotonic() - start
    s.close()
    assert first_status(data) == 408
    assert elapsed < 9  # header_timeout is 2s in the test config
    assert len(backend.requests) == 0
    assert proxy.metric("rampart_downstream_timeouts_total") == 1


def test_stalled_body_gets_408(backend, rampart_factory):
    proxy = rampart_factory(rampart_config([backend.port]).replace("idle_timeout: 10s", "idle_timeout: 1s"))
    s = socket.create_connection(proxy.address(), timeout=10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert first_status(data) == 408


def test_idle_keepalive_connection_is_closed_silently(backend, rampart_factory):
    proxy = rampart_factory(rampart_config([backend.port]).replace("idle_timeout: 10s", "idle_timeout: 1s"))
    s = socket.create_connection(proxy.address(), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):
        first += s.recv(65536)
    assert first_status(first) == 200
    rest = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        rest += chunk
    s.close()
    assert rest == b""  # closed without a 408


def test_client_disconnect_mid_request_does_not_hurt(proxy, backend):
    for _ in range(20):
        s = socket.create_connection(proxy.address(), timeout=5)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        s.close()
    assert alive(proxy)


def test_random_garbage_never_crashes(proxy):
    import random
    rng = random.Random(7)
    for i in range(200):
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        if i % 3 == 0:
            blob = b"GET /" + blob
        raw_exchange(proxy.address(), blob, timeout=3)
    assert alive(proxy)
    assert proxy.proc.poll() is None


def test_max_connections_refuses_extra(backend, rampart_factory):
    proxy = rampart_factory(rampart_config([backend.port], limits=", max_connections: 3"))
    held = [socket.create_connection(proxy.address(), timeout=5) for _ in range(3)]
    for s in held:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert first_status(s.recv(65536)) == 200
    extra = socket.create_connection(proxy.address(), timeout=5)
    extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        assert extra.recv(100) == b""
    except ConnectionResetError:
        pass
    assert proxy.metric("rampart_downstream_connections_refused_total") == 1
    for s in held:
        s.close()
    time.sleep(0.2)
    assert alive(proxy)

"""Large bodies stream through with bounded memory and backpressure: a 1 GiB
upload and a 1 GiB download each pass with the proxy's RSS growing < 64 MiB."""

import json
import select
import socket
import subprocess
import threading
import time

import pytest

from harness import GPU_BACKEND, rampart_config

GIB = 1 << 30
RSS_BUDGET_KIB = 64 * 1024


class RssSampler:
    """Samples the proxy's RSS every few milliseconds while a transfer runs."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.baseline = proxy.rss_kib()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proxy.rss_kib())
            time.sleep(0.005)

    def growth_kib(self):
        self._stop.set()
        self._thread.join()
        return self.peak - self.baseline


def test_1gib_upload_streams_with_bounded_memory(backend_factory, rampart_factory):
    received = {}

    def sink(req):
        received["bytes"] = req.body(discard=True)
        req.respond(200, json.dumps({"received": received["bytes"]}))
    b = backend_factory(sink)
    proxy = rampart_factory(rampart_config([b.port], limits=", max_body_bytes: 2GiB"))
    sampler = RssSampler(proxy)
    s = socket.create_connection(proxy.address(), timeout=60)
    s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % GIB)
    chunk = b"u" * (1 << 20)
    for _ in range(GIB // len(chunk)):
        s.sendall(chunk)
    data = b""
    while b"}" not in data:
        part = s.recv(65536)
        if not part:
            break
        data += part
    s.close()
    growth = sampler.growth_kib()
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert received["bytes"] == GIB
    assert growth < RSS_BUDGET_KIB, f"RSS grew {growth} KiB"


def test_1gib_chunked_upload_streams(backend_factory, rampart_factory):
    received = {}

    def sink(req):
        received["bytes"] = req.body(discard=True)
        req.respond(200, "done")
    b = backend_factory(sink)
    proxy = rampart_factory(rampart_config([b.port], limits=", max_body_bytes: 2GiB"))
    sampler = RssSampler(proxy)
    host, port = proxy.address()
    proc = subprocess.Popen(["curl", "-s", "-T", "-", "-H", "Transfer-Encoding: chunked",
                             f"http://{host}:{port}/sink"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    chunk = b"c" * (1 << 20)
    for _ in range(GIB // len(chunk)):
        proc.stdin.write(chunk)
    proc.stdin.close()
    out = proc.stdout.read()
    proc.wait(60)
    growth = sampler.growth_kib()
    assert out == b"done"
    assert received["bytes"] == GIB
    assert growth < RSS_BUDGET_KIB, f"RSS grew {growth} KiB"


@pytest.fixture
def gpu_backend():
    proc = subprocess.Popen([GPU_BACKEND, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    assert ready
    port = int(json.loads(proc.stdout.readline())["listening"].rsplit(":", 1)[1])
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("query", ["", "?chunked=1"])
def test_1gib_download_streams_to_a_slow_reader(gpu_backend, rampart_factory, query):
    proxy = rampart_factory(rampart_config([gpu_backend]))
    sampler = RssSampler(proxy)
    s = socket.create_connection(proxy.address(), timeout=60)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /bytes/%d%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (GIB, query.encode()))
    total = 0
    slow_until = time.monotonic() + 1.0  # read slowly at first so backpressure must hold
    tail = b""
    while True:
        part = s.recv(1 << 20)
        if not part:
            break
        total += len(part)
        tail = (tail + part)[-64:]
        if time.monotonic() < slow_until:
            time.sleep(0.01)
    s.close()
    growth = sampler.growth_kib()
    # Headers plus exactly 1 GiB of body (plus chunk framing when chunked).
    assert total >= GIB
    assert growth < RSS_BUDGET_KIB, f"RSS grew {growth} KiB"
    if not query:
        expected_last = bytes(ord("a") + i % 26 for i in range(GIB - 16, GIB))
        assert tail.endswith(expected_last)

"""Process lifecycle: config validation on the command line, SIGTERM drain
with requests in flight (none lost), readiness, and structured logs."""

import json
import os
import signal
import socket
import subprocess
import threading
import time

from harness import RAMPART, SOURCE_DIR, Rampart, rampart_config, wait_until


def test_validate_accepts_default_and_rejects_bad_configs(tmp_path):
    ok = subprocess.run([RAMPART, "--validate", os.path.join(SOURCE_DIR, "configs", "rampart.yaml")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("listeners:\n  - name: in\n    adress: 127.0.0.1:1\n"
                   "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n"
                   "routes: [{name: r, cluster: missing}]\n")
    result = subprocess.run([RAMPART, "--validate", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{bad}:3:5: unknown key 'listeners[].adress'" in result.stderr
    assert "refers to unknown cluster 'missing'" in result.stderr


def test_invalid_config_at_start_exits_nonzero_with_location(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("workers: -3\n")
    result = subprocess.run([RAMPART, "--config", str(bad)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert f"{bad}:1:10:" in result.stderr


def test_port_in_use_fails_at_start(rampart_factory, backend):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    config = rampart_config([backend.port]).replace("address: 127.0.0.1:0}]", f"address: 127.0.0.1:{port}}}]")
    # SO_REUSEPORT is not set on the holder, so the bind must fail.
    r = Rampart(config, expect_ready=False)
    assert r.wait(10) == 1
    assert r.find_log("cannot listen")
    holder.close()


def test_sigterm_drains_in_flight_requests(backend_factory, rampart_factory):
    release = threading.Event()
    arrived = threading.Semaphore(0)

    def slow(req):
        arrived.release()
        release.wait(10)
        req.respond(200, "finished")
    b = backend_factory(slow)
    proxy = rampart_factory(rampart_config([b.port], workers=2))
    results = []

    def client():
        results.append(proxy.request("GET", "/slow", timeout=20)[:3:2])
    clients = [threading.Thread(target=client) for _ in range(6)]
    for t in clients:
        t.start()
    for _ in range(6):
        assert arrived.acquire(timeout=10)
    # An idle keep-alive connection is closed at once when the drain starts.
    idle = socket.create_connection(proxy.address(), timeout=5)
    proxy.signal(signal.SIGTERM)
    wait_until(lambda: proxy.find_log("draining"), what="drain start")
    assert proxy.admin("/ready")[0] == 503
    assert idle.recv(10) == b""
    # New connections are no longer accepted.
    wait_until(lambda: _refused(proxy.address()), what="listener closed")
    release.set()
    for t in clients:
        t.join(20)
    assert results == [(200, b"finished")] * 6
    assert proxy.wait(20) == 0
    assert proxy.find_log("stopped")


def _refused(address):
    try:
        s = socket.create_connection(address, timeout=1)
    except OSError:
        return True
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(10) == b""
    except OSError:
        return True
    finally:
        s.close()


def test_drain_timeout_bounds_shutdown(backend_factory, rampart_factory):
    b = backend_factory(lambda req: time.sleep(30))
    config = rampart_config([b.port]).replace("drain_timeout: 10s", "drain_timeout: 500ms")
    proxy = rampart_factory(config)
    s = socket.create_connection(proxy.address(), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: len(b.requests) == 1, what="request upstream")
    start = time.monotonic()
    proxy.signal(signal.SIGTERM)
    assert proxy.wait(10) == 0
    assert time.monotonic() - start < 5
    assert proxy.find_log("drain timeout: closing remaining connections")
    s.close()


def test_logs_are_json_lines(proxy):
    proxy.request("GET", "/")
    assert proxy.find_log("listening")
    assert proxy.find_log("ready")
    for entry in proxy.logs():
        assert entry.get("msg") != "<text>", entry
        assert {"ts", "level", "msg"} <= set(entry)

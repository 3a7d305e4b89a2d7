"""HTTP/2 end to end through the real binary (issue 3): h2c with prior knowledge beside
HTTP/1.1 on one listener, many streams per connection (nghttp, h2load), flow control
and backpressure both ways, trailers, RST_STREAM and GOAWAY from the client, graceful
GOAWAY on drain, the h2 upstream pool (multiplexing, SETTINGS_MAX_CONCURRENT_STREAMS,
GOAWAY retirement), protocol translation both ways, limits, and the known floods.

Clients: curl, nghttp, h2load and a frame-level python3-h2 client (harness.H2Client);
h2 backends: harness.H2Backend (python3-h2)."""

import hashlib
import json
import re
import select
import signal
import socket
import subprocess
import threading
import time

import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import (GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame,
                              SettingsFrame)

from harness import H2Client, h2_rampart_config, wait_until

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def url(proxy, path="/"):
    host, port = proxy.address()
    return f"http://{host}:{port}{path}"


def curl(*args, timeout=20, stdin=None):
    """curl -s with a `%{http_version} %{http_code}` trailer line; returns (version, code, body)."""
    p = subprocess.run(["curl", "-s", "-S", "-w", "\n%{http_version} %{http_code}", *args],
                       capture_output=True, timeout=timeout, input=stdin)
    out = p.stdout
    body, _, tail = out.rpartition(b"\n")
    version, _, code = tail.decode().partition(" ")
    return version, int(code or 0), body


def listener_metric(proxy, name):
    return proxy.metric(name, listener="in")


class Tracker:
    """Counts requests in flight at an HTTP/1 backend and the peak."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.count = 0

    def __enter__(self):
        with self.lock:
            self.active += 1
            self.count += 1
            self.peak = max(self.peak, self.active)

    def __exit__(self, *exc):
        with self.lock:
            self.active -= 1


def wait_for_cancel(req, seconds):
    """Sleeps up to `seconds` on an HTTP/1 backend request; True if the proxy closed it."""
    sock = req.h.connection
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.02)
        if readable:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:
                return True
    return False


# ---------------------------------------------------------------- downstream h2c --


def test_h2c_prior_knowledge_and_http1_share_one_listener(backend, rampart_factory):
    proxy = rampart_factory(h2_rampart_config(backend.port))
    version, code, body = curl("--http2-prior-knowledge", url(proxy, "/via/h2?q=1"))
    assert (version, code) == ("2", 200)
    seen = json.loads(body)
    assert seen["path"] == "/via/h2?q=1"
    assert seen["headers"]["host"] == "%s:%d" % proxy.address()  # :authority became Host
    version, code, body = curl("--http1.1", url(proxy, "/via/h1"))
    assert (version, code) == ("1.1", 200)
    assert json.loads(body)["path"] == "/via/h1"

    wait_until(lambda: listener_metric(proxy, "rampart_downstream_http2_requests_total") == 1,
               what="one h2 request counted")
    assert listener_metric(proxy, "rampart_downstream_http1_requests_total") == 1
    assert listener_metric(proxy, "rampart_downstream_http2_connections_total") == 1
    protocols = {e["path"]: e["protocol"] for e in proxy.logs("access")}
    assert protocols == {"/via/h2?q=1": "h2", "/via/h1": "http/1.1"}


def test_nghttp_runs_many_concurrent_streams_on_one_connection(backend_factory, rampart_factory):
    tracker = Tracker()

    def slow(req):
        with tracker:
            time.sleep(0.4)
            req.respond(200, "slow-ok")
    b = backend_factory(slow)
    proxy = rampart_factory(h2_rampart_config(b.port))
    started = time.monotonic()
    p = subprocess.run(["nghttp", "-v", "-n", "-m", "40", url(proxy, "/slow")],
                       capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - started
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(re.findall(r":status: 200", p.stdout)) == 40
    # 40 x 0.4 s one after another would take 16 s; multiplexed they overlap.
    assert elapsed < 4.0, f"40 streams took {elapsed:.1f} s"
    assert tracker.peak >= 20, f"only {tracker.peak} requests were in flight at once"
    assert listener_metric(proxy, "rampart_downstream_http2_connections_total") == 1
    assert listener_metric(proxy, "rampart_downstream_http2_requests_total") == 40


def test_h2load_many_streams_over_few_connections(backend, rampart_factory):
    proxy = rampart_factory(h2_rampart_config(backend.port))
    p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "50", url(proxy, "/load")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"requests: 2000 total, 2000 started, 2000 done, 2000 succeeded", p.stdout), \
        p.stdout
    assert re.search(r"status codes: 2000 2xx", p.stdout), p.stdout
    assert listener_metric(proxy, "rampart_downstream_http2_connections_total") == 4
    assert listener_metric(proxy, "rampart_downstream_http2_requests_total") == 2000


def test_large_bodies_both_ways_through_small_windows(backend_factory, rampart_factory):
    def mirror(req):
        body = req.body()
        req.respond(200, body[::-1], {"x-sha256": hashlib.sha256(body).hexdigest()})
    b = backend_factory(mirror)
    proxy = rampart_factory(h2_rampart_config(
        b.port, listener_extra=", http2: {initial_stream_window: 64KiB, connection_window: 128KiB}"))
    payload = bytes(range(256)) * (4 * 4096)  # 4 MiB
    c = H2Client(proxy.address())
    try:
        sid = c.request("POST", "/mirror", body=payload)
        r = c.response(sid, timeout=30)
    finally:
        c.close()
    assert r.status == 200
    assert r.headers["x-sha256"] == hashlib.sha256(payload).hexdigest()
    assert r.data == payload[::-1]
    assert c.h2.remote_settings.initial_window_size == 64 * 1024


def test_slow_reader_on_one_stream_stalls_neither_others_nor_memory(gpu_factory, rampart_factory):
    gpu = gpu_factory()
    proxy = rampart_factory(h2_rampart_config(gpu.port))
    baseline = proxy.rss_kib()
    size = 64 << 20
    # Plenty of connection window, the default 64 KiB per stream: only the big stream stalls.
    c = H2Client(proxy.address(), connection_window=64 << 20)
    try:
        big = c.request("GET", "/bytes/%d" % size)
        c.hold.add(big)
        c.wait(lambda: c.streams[big].headers is not None, what="big stream headers")
        peak = proxy.rss_kib()
        started = time.monotonic()
        small = [c.request("GET", "/bytes/1000") for _ in range(20)]
        for sid in small:
            r = c.response(sid, timeout=5)
            assert r.status == 200 and len(r.data) == 1000
            peak = max(peak, proxy.rss_kib())
        assert time.monotonic() - started < 3.0
        # Hold the big stream for a while: the proxy must stop reading its upstream.
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            c.pump(0.05)
            peak = max(peak, proxy.rss_kib())
        assert len(c.streams[big].data) <= 256 << 10, "more than the stream window arrived"
        assert peak - baseline < 24 * 1024, f"RSS grew {peak - baseline} KiB while a reader stalled"
        c.release(big)
        r = c.response(big, timeout=40)
        assert r.status == 200 and len(r.data) == size
    finally:
        c.close()


def test_response_trailers_reach_an_h2_client(h2_backend_factory, rampart_factory):
    def with_trailers(req):
        req.respond(200, b"payload", {"content-type": "text/plain"},
                    trailers={"x-checksum": "abc123", "x-rows": "7"})
    b = h2_backend_factory(with_trailers)
    proxy = rampart_factory(h2_rampart_config(b.port, protocol="h2"))
    c = H2Client(proxy.address())
    try:
        r = c.response(c.request("GET", "/t", headers=[("te", "trailers")]))
    finally:
        c.close()
    assert r.status == 200 and r.data == b"payload"
    assert r.trailers == {"x-checksum": "abc123", "x-rows": "7"}
    # The backend was asked with te: trailers (the one TE value h2 allows).
    assert b.requests[0].headers.get("te") == "trailers"


def test_client_rst_stream_cancels_only_that_stream(backend_factory, rampart_factory):
    cancelled = threading.Event()
    arrived = threading.Event()

    def handler(req):
        if req.path == "/slow":
            arrived.set()
            if wait_for_cancel(req, 5.0):
                cancelled.set()
                return
            req.respond(200, "late")
        else:
            req.respond(200, "fast")
    b = backend_factory(handler)
    proxy = rampart_factory(h2_rampart_config(b.port))
    c = H2Client(proxy.address())
    try:
        slow = c.request("GET", "/slow")
        assert arrived.wait(5)
        reset_at = time.monotonic()
        c.reset(slow)
        assert cancelled.wait(2), "the upstream request was not cancelled after RST_STREAM"
        assert time.monotonic() - reset_at < 1.0
        r = c.response(c.request("GET", "/fast"))
        assert r.status == 200 and r.data == b"fast"
        assert not c.streams[slow].headers
    finally:
        c.close()
    assert listener_metric(proxy, "rampart_downstream_http2_protocol_errors_total") == 0


def test_client_goaway_lets_the_in_flight_stream_finish(backend_factory, rampart_factory):
    def handler(req):
        time.sleep(0.5)
        req.respond(200, "finished")
    b = backend_factory(handler)
    proxy = rampart_factory(h2_rampart_config(b.port))
    c = H2Client(proxy.address())
    try:
        sid = c.request("GET", "/slow")
        c.wait(lambda: len(b.requests) == 1, what="request upstream")
        goaway = GoAwayFrame(0)
        goaway.last_stream_id = 0
        goaway.error_code = 0
        c.send_raw(goaway.serialize())
        r = c.response(sid, timeout=5)
        assert r.status == 200 and r.data == b"finished"
    finally:
        c.close()
    assert proxy.proc.poll() is None




# ----------------------------------------------------------- upstream h2 and translation --


def test_http1_client_to_h2_backend(h2_backend_factory, rampart_factory):
    b = h2_backend_factory()
    proxy = rampart_factory(h2_rampart_config(b.port, protocol="h2"))
    body = b"x" * 100_000
    version, code, out = curl("--http1.1", "-X", "POST", "--data-binary", "@-",
                              "-H", "Transfer-Encoding: chunked", "-H", "Keep-Alive: timeout=5",
                              "-H", "X-Custom: kept", url(proxy, "/up?x=1"), stdin=body)
    assert (version, code) == ("1.1", 200), out[:300]
    seen = json.loads(out)
    assert seen["method"] == "POST" and seen["path"] == "/up?x=1"
    assert seen["body_length"] == len(body)
    h = seen["headers"]
    assert h[":authority"] == "%s:%d" % proxy.address() and h[":scheme"] == "http"
    assert h["x-custom"] == "kept"
    for banned in ("connection", "keep-alive", "transfer-encoding", "upgrade", "host"):
        assert banned not in h, f"connection-specific header {banned} sent over h2"
    assert not b.protocol_errors


def test_http1_client_body_to_h2_backend(h2_backend_factory, rampart_factory):
    b = h2_backend_factory()
    proxy = rampart_factory(h2_rampart_config(b.port, protocol="h2"))
    body = bytes(range(256)) * 4096  # 1 MiB, more than one stream window
    status, _, out = proxy.request("POST", "/upload", body=body)
    assert status == 200
    seen = json.loads(out)
    assert seen["body_length"] == len(body)
    assert hashlib.sha256(b.requests[0].body).digest() == hashlib.sha256(body).digest()
    # Ten more requests on new downstream connections reuse the one upstream connection.
    for i in range(10):
        assert proxy.request("GET", f"/again/{i}")[0] == 200
    assert len(b.connections) == 1
    assert proxy.metric("rampart_upstream_connections_total", cluster="c") == 1


def test_h2_client_to_http1_backend_keeps_headers_and_body(backend, rampart_factory):
    proxy = rampart_factory(h2_rampart_config(backend.port))
    c = H2Client(proxy.address())
    try:
        r = c.response(c.request("PUT", "/h1", headers=[("x-a", "1"), ("x-a", "2"),
                                                        ("cookie", "a=1"), ("cookie", "b=2")],
                                 body=b"hello-h1"))
    finally:
        c.close()
    assert r.status == 200
    seen = json.loads(r.data)
    assert seen["method"] == "PUT" and seen["body"] == "hello-h1"
    assert seen["headers"]["host"] == "localhost"
    # Repeated h2 cookie fields are joined with "; " for HTTP/1.1 (RFC 9113 8.2.3).
    assert seen["headers"]["cookie"] == "a=1; b=2"
    assert [v for k, v in seen["header_list"] if k == "x-a"] in (["1", "2"], ["1, 2"])


def test_h2_upstream_multiplexes_concurrent_requests(h2_backend_factory, rampart_factory):
    def slow(req):
        time.sleep(0.5)
        req.respond(200, "m")
    b = h2_backend_factory(slow)
    proxy = rampart_factory(h2_rampart_config(b.port, protocol="h2"))
    c = H2Client(proxy.address())
    try:
        started = time.monotonic()
        sids = [c.request("GET", f"/m/{i}") for i in range(30)]
        for sid in sids:
            assert c.response(sid, timeout=10).status == 200
        elapsed = time.monotonic() - started
    finally:
        c.close()
    assert elapsed < 2.5, f"30 streams took {elapsed:.1f} s"
    assert len(b.connections) == 1
    assert b.connections[0].peak_active >= 20
    assert proxy.metric("rampart_upstream_connections_total", cluster="c") == 1




def test_h2_pool_retires_connections_after_goaway(h2_backend_factory, rampart_factory):
    b = h2_backend_factory(goaway_after=3)
    proxy = rampart_factory(h2_rampart_config(b.port, protocol="h2"))
    statuses = [proxy.request("GET", f"/g/{i}")[0] for i in range(10)]
    assert statuses == [200] * 10
    assert b.goaways_sent >= 3
    assert b.streams_after_goaway == 0, "a stream was opened on a connection after its GOAWAY"
    assert len(b.connections) == 4
    assert [c.received for c in b.connections] == [3, 3, 3, 1]
    # A GOAWAY while idle: the next request goes on a fresh connection, no error.
    b.goaway_all()
    time.sleep(0.2)
    assert proxy.request("GET", "/after-idle-goaway")[0] == 200
    assert b.streams_after_goaway == 0
    assert len(b.connections) == 5


def test_h2_backend_stream_reset_is_a_502_not_a_hang(h2_backend_factory, rampart_factory):
    def handler(req):
        if req.path == "/reset":
            req.reset(ErrorCodes.INTERNAL_ERROR)
        else:
            h2_echo_ok(req)
    b = h2_backend_factory(handler)
    proxy = rampart_factory(h2_rampart_config(b.port, protocol="h2"))
    status, _, _ = proxy.request("GET", "/reset", timeout=5)
    assert status in (502, 503)
    assert proxy.request("GET", "/ok")[0] == 200
    assert len(b.connections) == 1, "a stream reset must not cost the whole connection"


def h2_echo_ok(req):
    req.respond(200, "ok")


# ------------------------------------------------------------------ limits and abuse --




def test_header_list_over_the_limit_gets_431_and_the_connection_survives(backend,
                                                                         rampart_factory):
    proxy = rampart_factory(h2_rampart_config(
        backend.port, listener_extra=", http2: {max_header_list_bytes: 8KiB}"))
    c = H2Client(proxy.address())
    try:
        c.wait(lambda: c.remote_settings_seen, what="SETTINGS")
        assert c.h2.remote_settings.max_header_list_size == 8192
        r = c.response(c.request("GET", "/big", headers=[("x-big", "b" * 16384)]))
        assert r.status == 431
        r = c.response(c.request("GET", "/small", headers=[("x-small", "s" * 100)]))
        assert r.status == 200
    finally:
        c.close()
    assert [req.path for req in backend.requests] == ["/small"]
    version, code, _ = curl("--http2-prior-knowledge", "-H", "x-big: " + "c" * 16384,
                            url(proxy, "/curl-big"))
    assert (version, code) == ("2", 431)
    assert listener_metric(proxy, "rampart_downstream_headers_too_large_total") == 2


class GoodClient:
    """A well-behaved h2 client (and an HTTP/1.1 one) that keeps requesting in a thread
    while an abuser attacks; every request must succeed."""

    def __init__(self, proxy, h2_path="/good", h1_path="/good-h1"):
        self.proxy = proxy
        self.h2_path, self.h1_path = h2_path, h1_path
        self.ok = 0
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            c = H2Client(self.proxy.address())
        except OSError as e:
            self.failures.append(repr(e))
            return
        try:
            while not self._stop.is_set():
                try:
                    r = c.response(c.request("GET", self.h2_path), timeout=5)
                    if r.status == 200:
                        self.ok += 1
                    else:
                        self.failures.append(f"h2 status {r.status} reset {r.reset_code}")
                    status = self.proxy.request("GET", self.h1_path, timeout=5)[0]
                    if status == 200:
                        self.ok += 1
                    else:
                        self.failures.append(f"h1 status {status}")
                except (AssertionError, OSError) as e:
                    self.failures.append(repr(e))
                    return
                time.sleep(0.01)
        finally:
            c.close()

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        return self.ok, self.failures


def attack(proxy, frames, read_timeout=8):
    """Opens a raw h2c connection, writes the preface, SETTINGS and frames in one go, and
    reads until the proxy closes it. Returns (closed, GOAWAY error code or None, seconds)."""
    s = socket.create_connection(proxy.address(), timeout=read_timeout)
    started = time.monotonic()
    try:
        try:
            s.sendall(PREFACE + SettingsFrame(0).serialize() + frames)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        closed = False
        while time.monotonic() - started < read_timeout:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
        return closed, goaway_code(data), time.monotonic() - started
    finally:
        s.close()


def goaway_code(data):
    """The error code of the first GOAWAY frame in a server's byte stream, or None."""
    pos = 0
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos:pos + 3], "big")
        kind = data[pos + 3]
        if kind == 0x7 and pos + 9 + 8 <= len(data):
            return int.from_bytes(data[pos + 13:pos + 17], "big")
        pos += 9 + length
    return None


def headers_block(stream_id, path="/flood"):
    from hpack import Encoder
    frame = HeadersFrame(stream_id)
    frame.data = Encoder().encode([(":method", "GET"), (":path", path), (":scheme", "http"),
                                   (":authority", "localhost")])
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    return frame.serialize()


def flood_kinds(proxy):
    return [e.get("kind") for e in proxy.logs("http2 protocol error")]


@pytest.fixture
def flood_target(backend_factory, rampart_factory):
    def handler(req):
        if req.path.startswith("/flood"):
            time.sleep(0.05)
        req.respond(200, "ok")
    b = backend_factory(handler)
    proxy = rampart_factory(h2_rampart_config(b.port))
    return proxy, b


def test_rapid_reset_flood_is_closed_and_others_keep_being_served(flood_target):
    proxy, b = flood_target
    good = GoodClient(proxy)
    frames = b"".join(headers_block(2 * i + 1) + RstStreamFrame(2 * i + 1, error_code=0x8)
                      .serialize() for i in range(3000))
    closed, code, seconds = attack(proxy, frames)
    ok, failures = good.stop()
    assert closed and code is not None, "no GOAWAY for a rapid-reset flood"
    assert code in (ErrorCodes.ENHANCE_YOUR_CALM, ErrorCodes.PROTOCOL_ERROR), code
    assert seconds < 5
    assert len([r for r in b.requests if r.path.startswith("/flood")]) < 1000
    assert not failures and ok > 0, failures
    assert listener_metric(proxy, "rampart_downstream_http2_protocol_errors_total") >= 1
    assert "rapid_reset" in flood_kinds(proxy)
    assert proxy.request("GET", "/after")[0] == 200


@pytest.mark.parametrize("kind,frame,count", [
    ("ping_flood", PingFrame(0, opaque_data=b"12345678").serialize(), 20000),
    ("settings_flood", SettingsFrame(0).serialize(), 5000),
])
def test_control_frame_floods_are_closed_with_goaway(flood_target, kind, frame, count):
    proxy, _ = flood_target
    good = GoodClient(proxy)
    closed, code, seconds = attack(proxy, frame * count)
    ok, failures = good.stop()
    assert closed and code == ErrorCodes.ENHANCE_YOUR_CALM, (closed, code)
    assert seconds < 5
    assert not failures and ok > 0, failures
    assert listener_metric(proxy, "rampart_downstream_http2_protocol_errors_total") >= 1
    assert kind in flood_kinds(proxy)


def test_drain_sends_graceful_goaway_and_finishes_in_flight_streams(backend_factory,
                                                                     rampart_factory):
    def handler(req):
        time.sleep(1.0)
        req.respond(200, "drained-ok")
    b = backend_factory(handler)
    proxy = rampart_factory(h2_rampart_config(b.port))
    # nghttp fetches the three URLs as concurrent streams of one connection and, with -v,
    # prints every frame it receives.
    client = subprocess.Popen(["nghttp", "-v"] + [url(proxy, "/slow/%d" % i)
                                                       for i in range(3)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        while len(b.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(b.requests) == 3, "the three streams did not reach the backend"
        proxy.signal(signal.SIGTERM)
        out, _ = client.communicate(timeout=15)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, out
    goaways = [line for line in out.splitlines() if "recv GOAWAY" in line]
    assert goaways, out
    # The notice first (last_stream_id 2^31-1), then the real last stream.
    assert "last_stream_id=2147483647" in out and "error_code=NO_ERROR" in out, out
    assert out.count(":status: 200") == 3 and out.count("drained-ok") == 3, out
    last = max(int(m) for m in re.findall(r"send HEADERS frame <[^>]*stream_id=(\d+)>", out))
    assert f"last_stream_id={last}," in out, out
    assert "RST_STREAM" not in out, out
    assert proxy.wait(10) == 0


def test_h2_pool_opens_another_connection_when_streams_are_full(h2_backend_factory,
                                                                rampart_factory):
    def slow(req):
        time.sleep(0.0 if req.path == "/warm" else 0.6)
        req.respond(200, "p")
    b = h2_backend_factory(slow, max_concurrent_streams=4)
    proxy = rampart_factory(h2_rampart_config(b.port, protocol="h2"))
    assert proxy.request("GET", "/warm")[0] == 200  # the first connection knows the limit now
    c = H2Client(proxy.address())
    try:
        sids = [c.request("GET", f"/p/{i}") for i in range(12)]
        statuses = [c.response(sid, timeout=10).status for sid in sids]
    finally:
        c.close()
    assert statuses == [200] * 12, proxy.log_text()[-4000:]
    assert b.refused == 0, "Rampart opened streams beyond the backend's advertised limit"
    assert all(conn.peak_active <= 4 for conn in b.connections)
    assert len(b.connections) >= 3
    assert proxy.metric("rampart_upstream_connections_total", cluster="c") == len(b.connections)


def test_max_concurrent_streams_is_advertised_and_enforced(backend_factory, rampart_factory):
    tracker = Tracker()

    def slow(req):
        with tracker:
            time.sleep(0.2)
            req.respond(200, "c")
    b = backend_factory(slow)
    proxy = rampart_factory(h2_rampart_config(
        b.port, listener_extra=", http2: {max_concurrent_streams: 5}"))
    # h2load opens its -m streams before the server's SETTINGS can arrive, and streams
    # over an advertised limit are refused (RFC 9113 5.1.2), so it is run at the limit.
    p = subprocess.run(["h2load", "-n", "40", "-c", "1", "-m", "5", url(proxy, "/c")],
                       capture_output=True, text=True, timeout=30)
    assert "40 succeeded" in p.stdout, p.stdout
    assert tracker.peak <= 5, f"{tracker.peak} streams of one connection ran at once"

    # A client that ignores the limit: its extra streams are refused, not served.
    c = H2Client(proxy.address())
    other = H2Client(proxy.address())
    try:
        c.wait(lambda: c.remote_settings_seen, what="SETTINGS")
        assert c.h2.remote_settings.max_concurrent_streams == 5
        c.h2.remote_settings._settings[SettingCodes.MAX_CONCURRENT_STREAMS][0] = 1000
        # Past an acknowledged limit nghttp2 ends the connection (GOAWAY PROTOCOL_ERROR),
        # which may come while this client is still writing.
        sids = []
        try:
            for i in range(10):
                sids.append(c.request("GET", f"/over/{i}"))
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not c.closed and \
                not all(c.streams[s].done for s in sids):
            try:
                c.pump(0.1)
            except (BrokenPipeError, ConnectionResetError):
                break
        served = [s for s in sids if c.streams[s].status == 200]
        assert len(served) <= 5
        refused = [s for s in sids if c.streams[s].reset_code is not None]
        assert len(served) + len(refused) == 10 or c.closed or c.goaway is not None
        assert tracker.peak <= 5
        # Another connection is unaffected.
        assert other.response(other.request("GET", "/other")).status == 200
    finally:
        c.close()
        other.close()


def test_malformed_frames_get_goaway_protocol_error(flood_target):
    proxy, _ = flood_target
    # A DATA frame on stream 0 is a connection error of type PROTOCOL_ERROR (RFC 9113 6.1).
    bad = (4).to_bytes(3, "big") + b"\x00\x00" + (0).to_bytes(4, "big") + b"oops"
    closed, code, _ = attack(proxy, bad)
    assert closed and code == ErrorCodes.PROTOCOL_ERROR
    assert listener_metric(proxy, "rampart_downstream_http2_protocol_errors_total") == 1
    assert "malformed" in flood_kinds(proxy)
    assert proxy.request("GET", "/after")[0] == 200


def test_zero_window_stall_is_closed_with_goaway_and_releases_the_upstream(gpu_factory,
                                                                           rampart_factory):
    gpu = gpu_factory()
    proxy = rampart_factory(h2_rampart_config(gpu.port, limits="", extra=""
                                              ).replace("idle_timeout: 10s", "idle_timeout: 2s"))
    baseline = proxy.rss_kib()
    c = H2Client(proxy.address(), settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    good = GoodClient(proxy, "/v2/health/ready", "/v2/health/ready")
    try:
        sid = c.request("GET", "/bytes/%d" % (32 << 20))
        c.wait(lambda: c.streams[sid].headers is not None, what="headers of the stalled stream")
        assert c.streams[sid].data == b""
        stalled_at = time.monotonic()
        # Never open the window. The proxy must give up on this client (issue 3: the
        # connection is closed with GOAWAY and counted) within idle_timeout + its check.
        closed = c.wait_closed(12)
        waited = time.monotonic() - stalled_at
        assert proxy.rss_kib() - baseline < 16 * 1024
    finally:
        c.close()
        ok, failures = good.stop()
    assert not failures and ok > 0, failures
    assert closed, f"the stalled connection was still open after {waited:.1f} s " \
                   f"(stream reset code: {c.streams[sid].reset_code})"
    assert c.goaway is not None, "closed without GOAWAY"
    assert c.goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert listener_metric(proxy, "rampart_downstream_http2_protocol_errors_total") == 1
    assert "zero_window_stall" in flood_kinds(proxy)

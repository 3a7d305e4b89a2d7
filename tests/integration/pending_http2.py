"""HTTP/2 behaviours issue 3 asks for that the proxy does not get right yet; these FAIL
today and are kept out of the suite (not collected) until fixed. Run with:
  pytest tests/integration/pending_http2.py
"""
import signal
import subprocess
import time

from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from harness import H2Client, h2_rampart_config
# flood_target is a fixture: importing it registers it here without re-collecting test_http2.
from test_http2 import GoodClient, Tracker, attack, flood_kinds, flood_target, listener_metric, url  # noqa: F401


def test_drain_sends_graceful_goaway_and_finishes_in_flight_streams(backend_factory,
                                                                     rampart_factory):
    def handler(req):
        time.sleep(1.0)
        req.respond(200, "drained-ok")
    b = backend_factory(handler)
    proxy = rampart_factory(h2_rampart_config(b.port))
    c = H2Client(proxy.address())
    try:
        sids = [c.request("GET", "/slow/%d" % i) for i in range(3)]
        c.wait(lambda: len(b.requests) == 3, what="requests upstream")
        proxy.signal(signal.SIGTERM)
        signalled = time.monotonic()
        c.wait(lambda: c.goaway is not None, timeout=2, what="GOAWAY on drain")
        assert time.monotonic() - signalled < 0.5
        assert c.goaway.error_code == ErrorCodes.NO_ERROR
        assert c.goaway.last_stream_id >= max(sids)
        for sid in sids:
            r = c.response(sid, timeout=5)
            assert r.status == 200 and r.data == b"drained-ok"
        assert c.wait_closed(5), "connection not closed after the drain"
    finally:
        c.close()
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
    assert statuses == [200] * 12
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
    p = subprocess.run(["h2load", "-n", "40", "-c", "1", "-m", "20", url(proxy, "/c")],
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
        sids = [c.request("GET", f"/over/{i}") for i in range(10)]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not c.closed and \
                not all(c.streams[s].done for s in sids):
            c.pump(0.1)
        served = [s for s in sids if c.streams[s].status == 200]
        assert len(served) <= 5
        refused = [s for s in sids if c.streams[s].reset_code is not None]
        assert len(served) + len(refused) == 10 or c.goaway is not None
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
    good = GoodClient(proxy)
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
    assert listener_metric(proxy, "rampart_downstream_http2_protocol_errors_total") >= 1



"""Integration tests for bench/loadgen (rampart_loadgen): it must keep its
arrival rate whatever the server does (open loop), measure latency from each
request's intended start (no coordinated omission) and count every outcome
in the right place. Real binaries, real sockets; about 15 s in all.

Timing assertions are generous ratios of the configured delays: the machine
is shared.
"""

import json
import os
import select
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BUILD_DIR = os.environ.get("RAMPART_BUILD_DIR",
                           os.path.join(os.path.dirname(__file__), "..", "..", "build"))
LOADGEN = os.path.join(BUILD_DIR, "bench", "loadgen", "rampart_loadgen")
BACKEND = os.path.join(BUILD_DIR, "examples", "gpu_backend")

pytestmark = pytest.mark.skipif(not (os.access(LOADGEN, os.X_OK) and os.access(BACKEND, os.X_OK)),
                                reason="rampart_loadgen or gpu_backend not built")


@pytest.fixture
def backend():
    """Starts gpu_backend with the given flags on an ephemeral port; returns the port."""
    started = []

    def start(*flags):
        proc = subprocess.Popen([BACKEND, "--port", "0", *flags], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        started.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "gpu_backend printed no listening line"
        return int(json.loads(proc.stdout.readline())["listening"].rsplit(":", 1)[1])

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def loadgen(*args, timeout=60):
    """Runs rampart_loadgen and returns its JSON report."""
    p = subprocess.run([LOADGEN, *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def closed_port():
    """A port on 127.0.0.1 with nothing listening (bound a moment ago, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_keeps_the_arrival_rate_when_every_response_is_slow(backend):
    # Every response takes 200 ms; at 200 req/s about 40 requests are always in
    # flight. A closed loop would slow down; an open loop opens connections.
    port = backend()
    r = loadgen("--url", f"http://127.0.0.1:{port}/delay/200", "--rate", "200",
                "--duration", "2s", "--arrival", "uniform")
    t = r["totals"]
    assert t["sent"] == 400 and t["ok"] == 400 and t["success_rate"] == 1.0
    assert [iv["sent"] for iv in r["timeline"]] == [200, 200]
    lat = t["latency_ms"]["ok"]
    assert 195 <= lat["p50"] <= 300, lat
    assert lat["max"] < 1000, lat
    assert r["connections"]["peak_open"] >= 30, r["connections"]
    assert r["connections"]["cap_hits"] == 0
    assert r["schedule_lag_ms"]["p50"] < 5, r["schedule_lag_ms"]


def test_latency_includes_queueing_at_a_saturated_server(backend):
    # One request at a time, 20 ms each: 50 req/s of capacity. Offered 100 req/s
    # for 2 s, the queue grows by 50 a second: the last request waits ~2 s. A
    # generator that measured from the actual send, or waited for responses,
    # would report ~20 ms.
    port = backend("--base-latency-ms", "20", "--per-item-ms", "0")
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1]}]})
    r = loadgen("--url", f"http://127.0.0.1:{port}/v2/models/m/infer", "--body", body,
                "--rate", "100", "--duration", "2s", "--arrival", "uniform")
    t = r["totals"]
    assert t["sent"] == 200 and t["ok"] == 200
    assert r["config"]["method"] == "POST"
    lat = t["latency_ms"]["ok"]
    assert lat["max"] >= 1500, lat
    assert 600 <= lat["p50"] <= 2000, lat
    # Completions are the server's capacity, not the offered rate.
    assert 35 <= r["timeline"][1]["finished_ok"] <= 60, r["timeline"]
    assert r["elapsed_s"] >= 3.5


def test_counts_statuses_timeouts_and_connect_errors(backend):
    port = backend()
    r = loadgen("--url", f"http://127.0.0.1:{port}/status/503", "--rate", "100",
                "--duration", "1s", "--arrival", "uniform")
    assert r["totals"]["sent"] == 100 and r["totals"]["ok"] == 0
    assert r["totals"]["by_status"] == {"503": 100} and r["totals"]["non2xx"] == 100
    assert r["totals"]["latency_ms"]["ok"]["count"] == 0
    assert r["totals"]["latency_ms"]["all"]["count"] == 100

    r = loadgen("--url", f"http://127.0.0.1:{port}/delay/3000", "--rate", "50",
                "--duration", "1s", "--timeout", "300ms", "--arrival", "uniform")
    t = r["totals"]
    assert t["errors"]["timeout"] == 50 and t["ok"] == 0
    assert 295 <= t["latency_ms"]["all"]["p50"] <= 450, t["latency_ms"]["all"]
    assert r["elapsed_s"] < 2.5

    r = loadgen("--url", f"http://127.0.0.1:{closed_port()}/", "--rate", "50",
                "--duration", "1s", "--arrival", "uniform")
    assert r["totals"]["errors"]["connect"] == 50 and r["totals"]["ok"] == 0


def test_warmup_is_in_the_timeline_but_not_the_totals(backend):
    port = backend()
    r = loadgen("--url", f"http://127.0.0.1:{port}/v2/health/ready", "--rate", "100",
                "--warmup", "1s", "--duration", "1s", "--arrival", "uniform",
                "--timeline-interval", "500ms")
    assert r["totals"]["sent"] == 100 and r["totals"]["ok"] == 100
    assert [iv["t"] for iv in r["timeline"]] == [0.0, 0.5, 1.0, 1.5]
    assert sum(iv["sent"] for iv in r["timeline"]) == 200
    assert sum(iv["ok"] for iv in r["timeline"]) == 200


def test_poisson_arrivals_average_the_rate(backend):
    port = backend()
    r = loadgen("--url", f"http://127.0.0.1:{port}/v2/health/ready", "--rate", "2000",
                "--duration", "1s", "--seed", "7")
    assert 1850 <= r["totals"]["sent"] <= 2150
    assert r["totals"]["ok"] == r["totals"]["sent"]
    # The generator is not the bottleneck: requests leave on time.
    assert r["schedule_lag_ms"]["p50"] < 2, r["schedule_lag_ms"]


class PriorityHandler(BaseHTTPRequestHandler):
    """200 for x-priority: critical, 503 for anything else; keep-alive HTTP/1.1."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status = 200 if self.headers.get("x-priority") == "critical" else 503
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_priority_mix_sets_the_header_and_splits_the_figures():
    server = ThreadingHTTPServer(("127.0.0.1", 0), PriorityHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        r = loadgen("--url", f"http://127.0.0.1:{server.server_address[1]}/", "--rate", "200",
                    "--duration", "1s", "--priority-mix", "critical=0.25,normal=0.75")
    finally:
        server.shutdown()
        server.server_close()
    prio = r["priorities"]
    assert set(prio) == {"critical", "normal"}
    assert prio["critical"]["sent"] + prio["normal"]["sent"] == r["totals"]["sent"]
    assert prio["critical"]["success_rate"] == 1.0
    assert prio["normal"]["ok"] == 0
    assert prio["normal"]["by_status"] == {"503": prio["normal"]["sent"]}
    share = prio["critical"]["sent"] / r["totals"]["sent"]
    assert 0.12 <= share <= 0.40, share


def test_bad_options_exit_2_with_a_message():
    p = subprocess.run([LOADGEN, "--url", "http://127.0.0.1:1/"], capture_output=True, text=True)
    assert p.returncode == 2 and "--rate is required" in p.stderr
    p = subprocess.run([LOADGEN, "--rate", "10", "--priority-mix", "a=x"], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "priority-mix" in p.stderr
    p = subprocess.run([LOADGEN, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "open-loop" in p.stdout

"""Integration tests for examples/gpu_backend: start the real binary on an
ephemeral port and check every endpoint and fault with real HTTP requests.

Timing assertions use generous ratios against the configured simulated
latency, never tight absolute times: the machine is shared.
"""

import hashlib
import http.client
import json
import math
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest

BUILD_DIR = os.environ.get("RAMPART_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
BINARY = os.path.join(BUILD_DIR, "examples", "gpu_backend")


class Backend:
    """One gpu_backend process on an ephemeral port."""

    def __init__(self, *flags):
        self.proc = subprocess.Popen(
            [BINARY, "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        assert ready, "gpu_backend printed no listening line"
        line = self.proc.stdout.readline().decode()
        self.listening = json.loads(line)["listening"]
        self.host, port = self.listening.rsplit(":", 1)
        self.port = int(port)

    def connection(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        conn = self.connection(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, timeout=10):
        status, _, data = self.request(method, path, body, headers, timeout)
        return status, (json.loads(data) if data else None)

    def stats(self):
        return self.json("GET", "/stats")[1]

    def control(self, **settings):
        status, body = self.json("POST", "/control", settings)
        assert status == 200, body
        return body

    def close(self):
        """Stops the process; returns (exit code, stderr text)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, stderr


@pytest.fixture
def start():
    """Starts backends with the given flags; every one is stopped at teardown."""
    started = []

    def _start(*flags):
        backend = Backend(*flags)
        started.append(backend)
        return backend

    yield _start
    for backend in started:
        code, stderr = backend.close()
        # A clean SIGTERM exit, and nothing from ASan/UBSan when the build is sanitized.
        assert code == 0, stderr
        assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr


def kserve(rows, name="input0", datatype="FP32"):
    """A KServe v2 request body with one input of the given rows."""
    width = len(rows[0]) if rows and isinstance(rows[0], list) else 1
    return {"inputs": [{"name": name, "shape": [len(rows), width], "datatype": datatype, "data": rows}]}


def in_parallel(calls):
    """Runs the callables at the same moment; returns [(result, seconds)] in call order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        t0 = time.monotonic()
        value = fn()
        results[i] = (value, time.monotonic() - t0)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def timed(fn):
    t0 = time.monotonic()
    value = fn()
    return value, time.monotonic() - t0


# --- process, flags ---------------------------------------------------------------------------


def test_prints_exactly_one_listening_line_and_exits_cleanly(start):
    backend = start()
    assert backend.listening == f"127.0.0.1:{backend.port}"
    assert backend.port > 0
    assert backend.request("GET", "/v2/health/live")[0] == 200
    backend.proc.terminate()
    assert backend.proc.wait(5) == 0
    assert backend.proc.stdout.read() == b""  # nothing after the listening line


def test_help_and_bad_flags():
    out = subprocess.run([BINARY, "--help"], capture_output=True, timeout=10)
    assert out.returncode == 0
    for flag in (b"--port", b"--base-latency-ms", b"--per-item-ms", b"--max-batch", b"--models",
                 b"--embedding-dims", b"--error-rate", b"--error-status", b"--slow-factor", b"--hang",
                 b"--reset-rate", b"--capacity", b"--fail-health", b"--seed", b"--poison-value", b"--log"):
        assert flag in out.stdout, flag
    for bad in (["--nope", "1"], ["--error-rate", "2"], ["--port", "x"], ["--capacity", "1.5"], ["--hang=maybe"]):
        out = subprocess.run([BINARY, *bad], capture_output=True, timeout=10)
        assert out.returncode == 2, bad
        assert out.stdout == b""
        assert out.stderr


def test_fault_flags_are_the_initial_control_settings(start):
    backend = start("--error-rate", "0.25", "--error-status=429", "--capacity", "3", "--hang",
                    "--slow-factor", "2.5", "--reset-rate", "0.1", "--fail-health", "--seed", "42",
                    "--base-latency-ms", "3", "--per-item-ms", "0.5")
    status, settings = backend.json("GET", "/control")
    assert status == 200
    assert settings == {"base_latency_ms": 3.0, "per_item_ms": 0.5, "slow_factor": 2.5, "error_rate": 0.25,
                        "error_status": 429, "hang": True, "reset_rate": 0.1, "capacity": 3,
                        "fail_health": True, "seed": 42}


def test_log_flag_writes_one_stderr_line_per_request(start):
    backend = start("--log", "--base-latency-ms", "0")
    for _ in range(3):
        assert backend.request("GET", "/headers")[0] == 200
    backend.proc.terminate()
    backend.proc.wait(5)
    lines = [l for l in backend.proc.stderr.read().decode().splitlines() if "/headers" in l]
    assert len(lines) == 3 and all(" 200 " in l for l in lines)


# --- health and metadata ----------------------------------------------------------------------


def test_health_and_metadata(start):
    backend = start()
    assert backend.json("GET", "/v2/health/ready") == (200, {"ready": True})
    assert backend.json("GET", "/v2/health/live") == (200, {"live": True})
    status, server = backend.json("GET", "/v2")
    assert status == 200 and "name" in server
    status, meta = backend.json("GET", "/v2/models/resnet")
    assert status == 200 and meta["name"] == "resnet"
    assert [o["name"] for o in meta["outputs"]] == ["output0", "row_sum"]
    status, meta = backend.json("GET", "/v2/models/resnet/versions/7")
    assert status == 200 and meta["versions"] == ["7"]
    assert backend.json("GET", "/v2/models/resnet/ready") == (200, {"name": "resnet", "ready": True})
    status, tf = backend.json("GET", "/v1/models/resnet")
    assert status == 200 and tf["model_version_status"][0]["state"] == "AVAILABLE"


def test_models_flag_limits_served_names(start):
    backend = start("--models", "resnet,bert", "--base-latency-ms", "0")
    assert backend.json("GET", "/v2/models/bert")[0] == 200
    assert backend.json("GET", "/v2/models/gpt")[0] == 404
    assert backend.json("GET", "/v2/models/gpt/ready")[0] == 404
    status, body = backend.json("POST", "/v2/models/gpt/infer", kserve([[1.0]]))
    assert status == 404 and "gpt" in body["error"]
    assert backend.json("POST", "/v1/models/gpt:predict", {"instances": [1]})[0] == 404
    status, body = backend.json("POST", "/v1/embeddings", {"model": "gpt", "input": "x"})
    assert status == 404 and body["error"]["code"] == "model_not_found"
    assert backend.json("POST", "/v2/models/resnet/infer", kserve([[1.0]]))[0] == 200
    assert backend.json("POST", "/v1/embeddings", {"model": "bert", "input": "x"})[0] == 200


def test_unknown_path_and_wrong_method(start):
    backend = start()
    status, body = backend.json("GET", "/nope")
    assert status == 404 and "error" in body
    status, headers, _ = backend.request("GET", "/v2/models/resnet/infer")
    assert status == 405 and headers["allow"] == "POST"
    assert backend.request("POST", "/v2/health/ready", body="")[0] == 405
    assert backend.request("GET", "/stats/reset")[0] == 405


# --- KServe v2 --------------------------------------------------------------------------------


def test_kserve_values_per_row_across_inputs(start):
    backend = start("--base-latency-ms", "0")
    request = {
        "id": "req-17",
        "inputs": [
            {"name": "a", "shape": [3, 2], "datatype": "FP32", "data": [[1, 2], [3, 4], [5.5, -6]]},
            {"name": "b", "shape": [3], "datatype": "INT64", "data": [10, 20, 30]},
            {"name": "c", "shape": [3, 1, 2], "datatype": "FP64", "data": [0.5, 0.5, 1, 1, 2, 2]},
        ],
    }
    status, body = backend.json("POST", "/v2/models/resnet/versions/3/infer", request)
    assert status == 200, body
    assert body["model_name"] == "resnet" and body["model_version"] == "3" and body["id"] == "req-17"
    out0, row_sum = body["outputs"]
    assert out0["name"] == "output0" and out0["datatype"] == "FP32" and out0["shape"] == [3, 2]
    assert out0["data"] == [3, 5, 7, 9, 12, -11]
    assert row_sum["name"] == "row_sum" and row_sum["shape"] == [3, 1]
    assert row_sum["data"] == [1 + 2 + 10 + 1, 3 + 4 + 20 + 2, 5.5 - 6 + 30 + 4]


def test_kserve_flat_and_nested_data_agree_and_outputs_can_be_selected(start):
    backend = start("--base-latency-ms", "0")
    nested = kserve([[1, 2, 3], [4, 5, 6]])
    flat = kserve([[1, 2, 3], [4, 5, 6]])
    flat["inputs"][0]["data"] = [1, 2, 3, 4, 5, 6]
    a = backend.json("POST", "/v2/models/m/infer", nested)
    b = backend.json("POST", "/v2/models/m/infer", flat)
    assert a == b and a[0] == 200
    assert "id" not in a[1] and a[1]["model_version"] == "1"
    only = dict(flat, outputs=[{"name": "row_sum"}])
    status, body = backend.json("POST", "/v2/models/m/infer", only)
    assert status == 200 and [o["name"] for o in body["outputs"]] == ["row_sum"]
    assert body["outputs"][0]["data"] == [6, 15]


@pytest.mark.parametrize("request_body, fragment", [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "object"),
    ({"inputs": []}, "inputs"),
    ({"inputs": [{"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}, "needs 4 values"),
    ({"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                 {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]}, "same batch size"),
    ({"inputs": [{"name": "a", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}, "BYTES"),
    ({"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": ["x"]}]}, "numbers"),
    ({"inputs": [{"name": "a", "shape": [-1], "datatype": "FP32", "data": [1]}]}, "non-negative"),
    ({"inputs": [{"name": "a", "shape": [0, 2], "datatype": "FP32", "data": []}]}, "at least 1"),
    ({"inputs": [{"name": "a", "shape": [5, 1], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}, "max batch"),
    ({"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "zz"}]},
     "unknown output"),
])
def test_kserve_rejects_bad_requests_with_400_json(start, request_body, fragment):
    backend = start("--max-batch", "4", "--base-latency-ms", "0")
    status, body = backend.json("POST", "/v2/models/m/infer", request_body)
    assert status == 400
    assert fragment in body["error"]
    stats = backend.stats()
    assert stats["bad_requests"] == 1 and stats["batches"] == 0


def test_poison_input_fails_the_whole_batch(start):
    backend = start("--base-latency-ms", "0")
    good = kserve([[1.0], [2.0], [3.0]])
    bad = kserve([[1.0], [-999], [3.0]])
    assert backend.json("POST", "/v2/models/m/infer", good)[0] == 200
    assert backend.json("POST", "/v2/models/m/infer", bad) == (500, {"error": "poison input in batch"})
    assert backend.json("POST", "/v1/models/m:predict", {"instances": [[1, {"x": -999}]]})[0] == 500
    stats = backend.stats()
    assert stats["poisoned_batches"] == 2 and stats["batches"] == 3  # the failed batch still ran

    custom = start("--poison-value", "7", "--base-latency-ms", "0")
    assert custom.json("POST", "/v2/models/m/infer", bad)[0] == 200
    assert custom.json("POST", "/v2/models/m/infer", kserve([[7]]))[0] == 500


# --- TF Serving and OpenAI embeddings ---------------------------------------------------------


def test_tf_serving_predict(start):
    backend = start("--base-latency-ms", "0")
    instances = [1, [2, 3.5], {"a": 4, "b": [5, {"c": 6}], "s": "text", "t": True, "n": None}]
    status, body = backend.json("POST", "/v1/models/resnet:predict", {"instances": instances})
    assert status == 200
    assert body == {"predictions": [3, [5, 8], {"a": 9, "b": [11, {"c": 13}], "s": "text", "t": True, "n": None}]}
    status, body = backend.json("POST", "/v1/models/resnet/versions/2:predict", {"instances": [[0], [1]]})
    assert status == 200 and body["predictions"] == [[1], [3]]
    status, body = backend.json("POST", "/v1/models/resnet:predict", {"inputs": {"x": [1, 2]}})
    assert status == 200 and body == {"outputs": {"x": [3, 5]}}
    assert backend.stats()["batches_by_size"] == {"3": 1, "2": 2}
    for bad in ({}, {"instances": []}, {"instances": 5}, {"instances": [1], "inputs": [1]}):
        status, body = backend.json("POST", "/v1/models/resnet:predict", bad)
        assert status == 400 and "error" in body, bad
    assert backend.request("POST", "/v1/models/resnet:classify", body="{}")[0] == 404


def test_openai_embeddings(start):
    backend = start("--base-latency-ms", "0", "--embedding-dims", "16")
    texts = ["the quick brown fox", "hello", "", "hello"]
    status, body = backend.json("POST", "/v1/embeddings", {"model": "emb", "input": texts})
    assert status == 200
    assert body["object"] == "list" and body["model"] == "emb"
    assert [d["index"] for d in body["data"]] == [0, 1, 2, 3]
    vectors = [d["embedding"] for d in body["data"]]
    assert all(len(v) == 16 for v in vectors)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-9 for v in vectors)
    assert vectors[1] == vectors[3] and vectors[0] != vectors[1]
    assert body["usage"] == {"prompt_tokens": 6, "total_tokens": 6}
    # An input's vector does not depend on its batch or position.
    status, single = backend.json("POST", "/v1/embeddings", {"model": "emb", "input": "hello"})
    assert status == 200 and single["data"][0]["embedding"] == vectors[1]
    status, small = backend.json("POST", "/v1/embeddings", {"model": "emb", "input": "hello", "dimensions": 4})
    assert len(small["data"][0]["embedding"]) == 4
    assert backend.stats()["batches_by_size"] == {"4": 1, "1": 2}
    for bad in ({"input": "x"}, {"model": "emb"}, {"model": "emb", "input": []}, {"model": "emb", "input": [1]},
                {"model": "emb", "input": "x", "encoding_format": "base64"}):
        status, body = backend.json("POST", "/v1/embeddings", bad)
        assert status == 400 and body["error"]["type"] == "invalid_request_error", bad


# --- the simulated GPU ------------------------------------------------------------------------


def test_one_batch_executes_at_a_time(start):
    backend = start("--base-latency-ms", "200", "--per-item-ms", "0")
    infer = lambda: backend.json("POST", "/v2/models/m/infer", kserve([[1.0]]))
    (_, single) = timed(infer)
    assert single >= 0.19
    backend.json("POST", "/stats/reset")
    results = in_parallel([infer, infer])
    assert all(r[0][0] == 200 for r in results)
    first, second = sorted(t for _, t in results)
    assert first >= 0.19
    assert second >= 1.7 * 0.2  # the second waited for the first batch
    stats = backend.stats()
    assert stats["batches"] == 2 and stats["max_queue"] == 1
    assert 390 <= stats["busy_ms"] <= 410


def test_cost_grows_per_item(start):
    backend = start("--base-latency-ms", "0", "--per-item-ms", "5")
    (_, small) = timed(lambda: backend.json("POST", "/v2/models/m/infer", kserve([[1.0]])))
    (status, _), big = timed(lambda: backend.json("POST", "/v2/models/m/infer", kserve([[1.0]] * 80)))
    assert status == 200
    assert big >= 0.38  # 80 x 5 ms
    assert big > 4 * small
    assert backend.stats()["busy_ms"] == pytest.approx(405, abs=1)


def test_fifo_queue_and_stats(start):
    backend = start("--base-latency-ms", "100", "--per-item-ms", "0")
    sizes = [1, 2, 3, 2, 8, 1]
    calls = [lambda n=n: backend.json("POST", "/v2/models/m/infer", kserve([[float(i)] for i in range(n)]))
             for n in sizes]
    results = in_parallel(calls)
    for (status, body), _ in results:
        assert status == 200
    times = sorted(t for _, t in results)
    for i, t in enumerate(times):  # the i-th completion waited for i earlier 100 ms batches
        assert t >= 0.09 * (i + 1), times
    stats = backend.stats()
    assert stats["requests"] == 6 and stats["batches"] == 6 and stats["items"] == sum(sizes)
    assert stats["batches_by_size"] == {"1": 2, "2": 2, "3": 1, "8": 1}
    assert stats["max_queue"] >= 3
    assert stats["queue_length"] == 0 and stats["in_flight"] == 0
    assert stats["busy_ms"] == pytest.approx(600, abs=1)
    status, zeroed = backend.json("POST", "/stats/reset")
    assert status == 200
    assert zeroed["requests"] == 0 and zeroed["items"] == 0 and zeroed["batches_by_size"] == {}
    assert zeroed["max_queue"] == 0 and zeroed["busy_ms"] == 0
    assert backend.stats()["batches"] == 0


def test_latency_changes_at_runtime(start):
    backend = start("--base-latency-ms", "20", "--per-item-ms", "0")
    infer = lambda: backend.json("POST", "/v2/models/m/infer", kserve([[1.0]]))
    backend.control(slow_factor=10)
    (_, slow) = timed(infer)
    assert slow >= 0.19
    backend.control(slow_factor=1, base_latency_ms=0)
    (_, fast) = timed(infer)
    assert fast < slow / 3


# --- faults -----------------------------------------------------------------------------------


def statuses(backend, n):
    return [backend.json("POST", "/v2/models/m/infer", kserve([[1.0]]))[0] for _ in range(n)]


def test_error_rate_is_deterministic_by_seed(start):
    a = start("--error-rate", "0.5", "--seed", "7", "--base-latency-ms", "0")
    b = start("--error-rate", "0.5", "--seed", "7", "--base-latency-ms", "0")
    seq_a, seq_b = statuses(a, 60), statuses(b, 60)
    assert seq_a == seq_b
    assert set(seq_a) == {200, 503}
    assert 15 <= seq_a.count(503) <= 45
    assert a.stats()["errors_injected"] == seq_a.count(503)
    a.control(seed=7)  # restarting the seed restarts the sequence
    assert statuses(a, 60) == seq_a
    a.control(error_rate=1, error_status=429)
    assert statuses(a, 5) == [429] * 5
    a.control(error_rate=0)
    assert statuses(a, 5) == [200] * 5


def test_faults_spare_control_stats_health_and_utilities(start):
    backend = start("--error-rate", "1", "--base-latency-ms", "0")
    assert backend.json("POST", "/v2/models/m/infer", kserve([[1.0]])) == (503, {"error": "injected fault"})
    assert backend.json("POST", "/v1/embeddings", {"model": "e", "input": "x"})[0] == 503
    for path in ("/v2/health/ready", "/v2/health/live", "/stats", "/control", "/headers", "/v2/models/m"):
        assert backend.request("GET", path)[0] == 200, path
    assert backend.request("POST", "/echo", body="x")[0] == 200


def test_fail_health(start):
    backend = start("--base-latency-ms", "0")
    backend.control(fail_health=True)
    assert backend.json("GET", "/v2/health/ready") == (503, {"ready": False})
    assert backend.json("GET", "/v2/health/live") == (503, {"live": False})
    assert backend.json("GET", "/v2/models/m/ready")[0] == 503
    assert backend.json("POST", "/v2/models/m/infer", kserve([[1.0]]))[0] == 200
    assert backend.request("GET", "/stats")[0] == 200
    backend.control(fail_health=False)
    assert backend.json("GET", "/v2/health/ready")[0] == 200


def test_hang_holds_requests_and_frees_them_when_the_client_leaves(start):
    backend = start("--base-latency-ms", "0")
    backend.control(hang=True)
    with pytest.raises((socket.timeout, TimeoutError)):
        backend.request("POST", "/v2/models/m/infer", kserve([[1.0]]), timeout=0.5)
    with pytest.raises((socket.timeout, TimeoutError)):
        backend.request("POST", "/v1/models/m:predict", {"instances": [1]}, timeout=0.3)
    stats = backend.stats()
    assert stats["hangs_injected"] == 2 and stats["batches"] == 0
    # The clients closed their sockets on timeout; the sweep releases the connections.
    deadline = time.monotonic() + 5
    while backend.stats()["hung_now"] != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.stats()["hung_now"] == 0
    assert backend.request("GET", "/v2/health/ready")[0] == 200  # health is not hung
    backend.control(hang=False)
    assert backend.json("POST", "/v2/models/m/infer", kserve([[1.0]]))[0] == 200


def read_raw_response(port, request, timeout=5):
    """Sends raw bytes; returns (bytes received, error raised while reading or None)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(request)
    data, error = b"", None
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        error = e
    sock.close()
    return data, error


def test_reset_rate_cuts_responses_mid_way(start):
    backend = start("--base-latency-ms", "0")
    backend.control(reset_rate=1)
    with pytest.raises((http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionResetError)):
        backend.request("POST", "/v2/models/m/infer", kserve([[1.0, 2.0]] * 4))
    body = json.dumps(kserve([[1.0, 2.0]] * 4)).encode()
    data, _ = read_raw_response(
        backend.port,
        b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    head, _, partial = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    assert 0 < len(partial) < length
    stats = backend.stats()
    assert stats["resets_injected"] == 2 and stats["batches"] == 2
    backend.control(reset_rate=0)
    assert backend.json("POST", "/v2/models/m/infer", kserve([[1.0]]))[0] == 200


def test_reset_rate_fraction_is_seeded(start):
    backend = start("--base-latency-ms", "0", "--reset-rate", "0.3", "--seed", "3")
    outcomes = []
    for _ in range(40):
        try:
            outcomes.append(backend.json("POST", "/v2/models/m/infer", kserve([[1.0]]))[0])
        except (http.client.HTTPException, ConnectionError):
            outcomes.append("reset")
    resets = outcomes.count("reset")
    assert 3 <= resets <= 25
    assert backend.stats()["resets_injected"] == resets


def test_capacity_rejects_beyond_the_limit_at_once(start):
    backend = start("--base-latency-ms", "300", "--per-item-ms", "0", "--capacity", "2")
    infer = lambda: backend.request("POST", "/v2/models/m/infer", json.dumps(kserve([[1.0]])))
    results = in_parallel([infer] * 4)
    ok = [t for (status, _, _), t in results if status == 200]
    rejected = [(h, t) for (status, h, _), t in results if status == 503]
    assert len(ok) == 2 and len(rejected) == 2
    assert all(t < min(ok) for _, t in rejected)  # refused at once, not after queueing
    assert all(h.get("retry-after") == "1" for h, _ in rejected)
    assert max(ok) >= 0.55
    assert backend.stats()["rejected_over_capacity"] == 2
    backend.control(capacity=0, base_latency_ms=50)  # unlimited: everything queues
    results = in_parallel([infer] * 4)
    assert all(status == 200 for (status, _, _), _ in results)


# --- /control ---------------------------------------------------------------------------------


def test_control_round_trip_and_validation(start):
    backend = start()
    status, defaults = backend.json("GET", "/control")
    assert status == 200
    assert defaults == {"base_latency_ms": 8.0, "per_item_ms": 0.25, "slow_factor": 1.0, "error_rate": 0.0,
                        "error_status": 503, "hang": False, "reset_rate": 0.0, "capacity": 0,
                        "fail_health": False, "seed": 1}
    updated = backend.control(error_rate=0.2, capacity=5)
    assert updated == dict(defaults, error_rate=0.2, capacity=5)
    assert backend.json("GET", "/control")[1] == updated
    for bad in ({"nope": 1}, {"error_rate": 1.5}, {"error_rate": "high"}, {"hang": 1}, {"capacity": -1},
                {"capacity": 2.5}, {"error_status": 99}, {"error_rate": 0.1, "bogus": True}, [1]):
        status, body = backend.json("POST", "/control", bad)
        assert status == 400 and body["error"], bad
    status, body = backend.json("POST", "/control", "{broken")
    assert status == 400 and "invalid JSON" in body["error"]
    assert backend.json("GET", "/control")[1] == updated  # failed patches change nothing
    assert backend.request("PUT", "/control", body="{}")[0] == 405


# --- utility endpoints ------------------------------------------------------------------------


def test_echo(start):
    backend = start()
    body = os.urandom(100_000)
    status, echo = backend.json("POST", "/echo/sub/path?a=1&b=two%20words", body,
                                headers={"X-Custom-Header": "Value", "Content-Type": "application/octet-stream"})
    assert status == 200
    assert echo["method"] == "POST" and echo["path"] == "/echo/sub/path"
    assert echo["query"] == "a=1&b=two%20words" and echo["args"] == {"a": "1", "b": "two words"}
    assert echo["headers"]["x-custom-header"] == "Value"
    assert echo["headers"]["content-length"] == str(len(body))
    assert echo["body_length"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS"):
        status, echo = backend.json(method, "/echo")
        assert status == 200 and echo["method"] == method and echo["body_length"] == 0
        assert echo["body_sha256"] == hashlib.sha256(b"").hexdigest()
    status, headers = backend.json("GET", "/headers", headers={"X-A": "1"})
    assert status == 200 and headers["headers"]["x-a"] == "1"


def test_keep_alive_reuses_one_connection(start):
    backend = start("--base-latency-ms", "0")
    conn = backend.connection()
    conn.connect()
    sock = conn.sock
    paths = ["/echo", "/headers", "/bytes/10", "/status/404", "/v2/health/ready", "/delay/1"] * 20
    for path in paths:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        assert resp.status in (200, 404)
        conn.request("POST", "/v2/models/m/infer", body=json.dumps(kserve([[1.0]])))
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    assert conn.sock is sock  # never reconnected
    conn.close()


def test_pipelined_requests_are_answered_in_order(start):
    backend = start("--base-latency-ms", "30", "--per-item-ms", "0")
    body = json.dumps(kserve([[5.0]])).encode()
    infer = b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    request = (b"GET /delay/80 HTTP/1.1\r\nHost: x\r\n\r\n" + infer +
               b"GET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, error = read_raw_response(backend.port, request)
    assert error is None
    statuses_seen = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)  # bodies end without CRLF
    assert statuses_seen == [b"200", b"200", b"201"]
    assert data.index(b"delayed_ms") < data.index(b"row_sum")


def expected_bytes(n):
    return bytes(97 + i % 26 for i in range(n))


def test_bytes_content_length_and_chunked(start):
    backend = start()
    status, headers, data = backend.request("GET", "/bytes/100")
    assert status == 200 and data == expected_bytes(100)
    assert headers["content-length"] == "100" and "transfer-encoding" not in headers
    status, headers, data = backend.request("GET", "/bytes/200000?chunked=1")
    assert status == 200 and data == expected_bytes(200_000)
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    status, headers, data = backend.request("GET", "/bytes/0")
    assert status == 200 and data == b"" and headers["content-length"] == "0"
    status, headers, data = backend.request("HEAD", "/bytes/5000")
    assert status == 200 and data == b"" and headers["content-length"] == "5000"
    assert backend.request("GET", "/bytes/abc")[0] == 400


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_large_bytes_stream_in_bounded_memory(start):
    backend = start()
    n = 256 * 1024 * 1024
    unit = expected_bytes(26 * 4096)  # the pattern repeats every 26 bytes
    conn = backend.connection(timeout=60)
    conn.request("GET", f"/bytes/{n}")
    resp = conn.getresponse()
    received = 0
    while True:
        chunk = resp.read(len(unit))
        if not chunk:
            break
        phase = received % 26
        assert chunk == unit[phase:phase + len(chunk)]
        received += len(chunk)
    conn.close()
    assert received == n
    assert vm_hwm_kib(backend.proc.pid) < 64 * 1024  # streamed, never held in memory


def test_client_leaving_mid_stream_does_not_hurt_the_server(start):
    backend = start()
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", backend.port))
        sock.sendall(b"GET /bytes/100000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(100_000)
        sock.close()
    time.sleep(0.2)
    assert backend.request("GET", "/bytes/1000")[2] == expected_bytes(1000)
    assert backend.proc.poll() is None


def test_sink_counts_bodies(start):
    backend = start()
    body = b"z" * (8 * 1024 * 1024 + 3)
    assert backend.json("POST", "/sink", body) == (200, {"received": len(body)})
    assert backend.json("PUT", "/sink", b"") == (200, {"received": 0})
    conn = backend.connection()
    conn.request("POST", "/sink", body=iter([b"a" * 1000, b"b" * 2345]), encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"received": 3345}
    conn.close()
    assert backend.request("GET", "/sink")[0] == 405


def test_status_and_delay(start):
    backend = start()
    for code in (200, 201, 302, 404, 418, 500, 503, 599):
        status, _, body = backend.request("GET", f"/status/{code}")
        assert status == code and json.loads(body) == {"status": code}
    status, _, body = backend.request("POST", "/status/204", body="x")
    assert status == 204 and body == b""
    assert backend.request("GET", "/status/99")[0] == 400
    assert backend.request("GET", "/status/x")[0] == 400
    (status, body), took = timed(lambda: backend.json("GET", "/delay/150"))
    assert status == 200 and body == {"delayed_ms": 150} and took >= 0.14
    # Delays run concurrently: they are timers, not a queue.
    results = in_parallel([lambda: backend.json("GET", "/delay/200")] * 5)
    assert all(r[0][0] == 200 for r in results) and max(t for _, t in results) < 0.9
    assert backend.request("GET", "/delay/9999999")[0] == 400


# --- throughput -------------------------------------------------------------------------------


def sanitized_or_debug_build():
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            cache = f.read()
    except OSError:
        return False
    return "RAMPART_SANITIZE:BOOL=ON" in cache or "CMAKE_BUILD_TYPE:STRING=Debug" in cache


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk")
@pytest.mark.skipif(sanitized_or_debug_build(), reason="throughput is only meaningful in an optimised build")
def test_small_requests_per_cpu_second(start, tmp_path):
    """Measured in the backend's own CPU time, so other load on the machine does not matter."""
    backend = start("--base-latency-ms", "0", "--per-item-ms", "0")
    script = tmp_path / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.body = \'%s\'\n' % json.dumps(kserve([[1.0, 2.0, 3.0, 4.0]])))
    url = f"http://127.0.0.1:{backend.port}"
    rates = {}
    for name, args in (("health", [f"{url}/v2/health/ready"]),
                       ("infer", ["-s", str(script), f"{url}/v2/models/m/infer"])):
        cpu0 = cpu_seconds(backend.proc.pid)
        out = subprocess.run(["wrk", "-t1", "-c16", "-d2s", *args], capture_output=True, text=True, timeout=60)
        cpu = cpu_seconds(backend.proc.pid) - cpu0
        requests = int(next(l for l in out.stdout.splitlines() if "requests in" in l).split()[0])
        assert "Non-2xx" not in out.stdout
        rates[name] = requests / max(cpu, 0.01)
    # Measured ~40k (health) and ~27k (infer) per CPU-second; the floor leaves room for slow CI.
    assert rates["health"] >= 10_000, rates
    assert rates["infer"] >= 8_000, rates

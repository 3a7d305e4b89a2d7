"""Learned resilience policies through the real binary, against the simulated
GPU backend with switchable faults: retries in a budget, learned timeouts,
deadlines, hedging, outlier ejection (errors and latency), health checks,
p2c_ewma balancing, adaptive load shedding with priorities, shadow modes,
and the /policies view that explains each of them."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import kserve_body, wait_until

INFER = "/v2/models/m/infer"


def config(ports, cluster="", route="", workers=1, access_log=True):
    eps = ", ".join(f"127.0.0.1:{p}" for p in ports)
    return (f"admin: {{address: 127.0.0.1:0}}\nworkers: {workers}\naccess_log: {str(access_log).lower()}\n"
            "listeners: [{name: in, address: 127.0.0.1:0}]\n"
            f"clusters:\n  - {{name: gpu, endpoints: [{eps}]{cluster}}}\n"
            f"routes:\n  - {{name: infer, match: {{path_prefix: /}}, cluster: gpu{route}}}\n")


def infer(proxy, headers=None, timeout=10):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return proxy.request("POST", INFER, body=kserve_body(), headers=h, timeout=timeout)


def run_concurrently(fn, n, workers=16):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda _: fn(), range(n)))


def policies(proxy):
    wait_until(lambda: json.loads(proxy.admin("/policies")[1])["generation"] > 0, what="a policy tick")
    return json.loads(proxy.admin("/policies")[1])


def test_retries_go_to_another_endpoint(gpu_factory, rampart_factory):
    bad = gpu_factory("--base-latency-ms", "1", "--per-item-ms", "0", "--error-rate", "1")
    good = gpu_factory("--base-latency-ms", "1", "--per-item-ms", "0")
    proxy = rampart_factory(config(
        [bad.port, good.port], cluster=", lb: round_robin",
        route=", retry: {attempts: 2, on: [5xx], methods: [POST], budget: {ratio: 1.0, min_per_second: 100}}"))
    statuses = [infer(proxy)[0] for _ in range(40)]
    assert statuses == [200] * 40
    retried = [e for e in proxy.logs("access") if e["retries"] == 1]
    assert len(retried) >= 15  # round robin sends about half the first attempts to the bad one
    assert all(e["endpoint"] == f"127.0.0.1:{good.port}" for e in retried)
    assert proxy.metric("rampart_retries_total", route="infer") == len(retried)
    assert good.stats()["requests"] == 40


def test_post_is_not_retried_unless_allowed(gpu_factory, rampart_factory):
    bad = gpu_factory("--base-latency-ms", "1", "--error-rate", "1")
    good = gpu_factory("--base-latency-ms", "1")
    proxy = rampart_factory(config([bad.port, good.port], cluster=", lb: round_robin",
                                   route=", retry: {attempts: 3, on: [5xx]}"))
    statuses = [infer(proxy)[0] for _ in range(10)]
    assert statuses.count(503) == 5  # the 503s of the bad endpoint pass through unretried
    assert proxy.metric("rampart_retries_total") == 0


def test_retry_budget_stops_a_retry_storm(gpu_factory, rampart_factory):
    backends = [gpu_factory("--base-latency-ms", "1", "--per-item-ms", "0", "--error-rate", "1")
                for _ in range(2)]
    proxy = rampart_factory(config(
        [b.port for b in backends],
        route=", retry: {attempts: 3, on: [5xx], methods: [POST], budget: {ratio: 0.2, min_per_second: 1}}"))
    n = 200
    statuses = run_concurrently(lambda: infer(proxy)[0], n, workers=8)
    assert statuses.count(503) == n
    attempts = sum(b.stats()["requests"] for b in backends)
    # retries <= ratio x requests + floor x ttl (10 s): never the 3x a naive retry policy sends.
    assert attempts <= n * 1.2 + 10, attempts
    assert proxy.metric("rampart_retries_budget_exhausted_total") > 0


def test_learned_timeout_learns_and_cuts_a_slow_endpoint(gpu_factory, rampart_factory):
    a = gpu_factory("--base-latency-ms", "5", "--per-item-ms", "0")
    b = gpu_factory("--base-latency-ms", "5", "--per-item-ms", "0")
    route = (", timeout: {quantile: 0.99, multiplier: 3, min: 30ms, max: 5s},"
             " retry: {attempts: 2, on: [timeout, 5xx], methods: [POST], budget: {ratio: 1.0, min_per_second: 50}}")
    proxy = rampart_factory(config([a.port, b.port], cluster=", lb: round_robin", route=route))
    for _ in range(80):
        assert infer(proxy)[0] == 200
    def learned():
        t = policies(proxy)["routes"][0]["timeout"]
        return t if t["source"] == "learned" else None
    t = wait_until(learned, timeout=10, what="a learned timeout")
    assert 30 <= t["attempt_timeout_ms"] < 200, t
    assert t["samples"] >= 50
    # One endpoint becomes 100x slower: its attempts time out and are retried on the other.
    a.control(slow_factor=100)
    start = time.monotonic()
    statuses = [infer(proxy)[0] for _ in range(10)]
    elapsed = time.monotonic() - start
    assert statuses == [200] * 10
    assert elapsed < 5  # without the learned timeout each slow call would take 500 ms
    assert proxy.metric("rampart_attempt_timeouts_total", route="infer") >= 1
    assert any(e["reason"] == "" and e["retries"] == 1 for e in proxy.logs("access"))


def test_caller_deadline_caps_the_timeout_and_is_propagated(backend_factory, rampart_factory):
    seen = {}

    def slow(req):
        seen["deadline"] = req.headers.get("x-request-timeout-ms")
        time.sleep(0.5)
        req.respond(200, "late")
    b = backend_factory(slow)
    proxy = rampart_factory(config([b.port], route=", timeout: 10s"))
    start = time.monotonic()
    status, _, body = proxy.request("GET", "/", headers={"x-request-timeout-ms": "150"})
    assert status == 504 and time.monotonic() - start < 0.45
    assert 100 <= int(seen["deadline"]) <= 150
    status, _, _ = proxy.request("GET", "/", headers={"grpc-timeout": "100m"})
    assert status == 504


def test_hedging_rescues_a_slow_endpoint(gpu_factory, rampart_factory):
    slow = gpu_factory("--base-latency-ms", "300", "--per-item-ms", "0")
    fast = gpu_factory("--base-latency-ms", "2", "--per-item-ms", "0")
    route = (", hedge: {after: 20ms, max_extra: 1, budget_ratio: 1.0, budget_min_per_second: 50},"
             " retry: {attempts: 1, methods: [POST]}")
    proxy = rampart_factory(config([slow.port, fast.port], cluster=", lb: round_robin", route=route))
    latencies = []
    for _ in range(10):
        start = time.monotonic()
        assert infer(proxy)[0] == 200
        latencies.append(time.monotonic() - start)
    assert max(latencies) < 0.25  # a slow attempt is overtaken by its hedge
    assert proxy.metric("rampart_hedges_total") >= 4
    assert proxy.metric("rampart_hedges_won_total") >= 4
    assert any(e["hedge_won"] for e in proxy.logs("access"))


def test_hedge_shadow_counts_but_sends_nothing(gpu_factory, rampart_factory):
    slow = gpu_factory("--base-latency-ms", "60", "--per-item-ms", "0")
    route = ", hedge: {after: 10ms, shadow: true, budget_ratio: 1.0}, retry: {attempts: 1, methods: [POST]}"
    proxy = rampart_factory(config([slow.port], route=route))
    for _ in range(3):
        assert infer(proxy)[0] == 200
    assert slow.stats()["requests"] == 3
    assert proxy.metric("rampart_hedges_shadow_total") == 3
    assert proxy.metric("rampart_hedges_total") == 0


def test_consecutive_failures_eject_and_traffic_moves(gpu_factory, rampart_factory):
    bad = gpu_factory("--base-latency-ms", "1", "--error-rate", "1")
    good = gpu_factory("--base-latency-ms", "1")
    proxy = rampart_factory(config(
        [bad.port, good.port],
        cluster=", lb: round_robin, outlier_detection: {consecutive_failures: 3, base_ejection: 30s}"))
    statuses = [infer(proxy)[0] for _ in range(40)]
    assert statuses.count(503) == 3  # three strikes, then the bad endpoint is out
    assert proxy.metric("rampart_endpoint_ejected", endpoint=f"127.0.0.1:{bad.port}") == 1
    assert proxy.metric("rampart_outlier_ejections_consecutive_total") == 1
    assert proxy.find_log("endpoint ejected", reason="consecutive_failures")
    ep = policies(proxy)["clusters"][0]["endpoints"][0]["workers"][0]
    assert ep["ejected"] and ep["outlier"]["reason"] == "consecutive_failures"


def test_a_slow_endpoint_is_ejected_for_latency(gpu_factory, rampart_factory):
    backends = [gpu_factory("--base-latency-ms", "2", "--per-item-ms", "0") for _ in range(3)]
    backends[0].control(slow_factor=20)
    proxy = rampart_factory(config(
        [b.port for b in backends],
        cluster=(", lb: round_robin, outlier_detection: {consecutive_failures: 0, success_rate: false,"
                 " latency: true, min_requests: 5, interval: 500ms, base_ejection: 30s}")))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not proxy.metric("rampart_outlier_ejections_latency_total"):
        run_concurrently(lambda: infer(proxy)[0], 30, workers=3)
    assert proxy.metric("rampart_outlier_ejections_latency_total",
                        endpoint=f"127.0.0.1:{backends[0].port}") == 1
    assert proxy.metric("rampart_outlier_ejections_latency_total") == 1  # nobody else


def test_outlier_shadow_reports_without_ejecting(gpu_factory, rampart_factory):
    bad = gpu_factory("--base-latency-ms", "1", "--error-rate", "1")
    good = gpu_factory("--base-latency-ms", "1")
    proxy = rampart_factory(config(
        [bad.port, good.port],
        cluster=", lb: round_robin, outlier_detection: {consecutive_failures: 2, shadow: true}"))
    statuses = [infer(proxy)[0] for _ in range(20)]
    assert statuses.count(503) == 10  # still in rotation
    assert proxy.find_log("endpoint would be ejected (shadow)")


def test_health_checks_take_an_endpoint_out(gpu_factory, rampart_factory):
    a = gpu_factory("--base-latency-ms", "1")
    b = gpu_factory("--base-latency-ms", "1")
    proxy = rampart_factory(config(
        [a.port, b.port],
        cluster=(", lb: round_robin, health_check: {path: /v2/health/ready, interval: 100ms,"
                 " timeout: 100ms, unhealthy_threshold: 2, healthy_threshold: 2}")))
    a.control(fail_health=True)
    wait_until(lambda: proxy.find_log("endpoint unhealthy"), what="unhealthy")
    before = a.stats()["requests"]
    assert [infer(proxy)[0] for _ in range(10)] == [200] * 10
    assert a.stats()["requests"] == before
    ep = policies(proxy)["clusters"][0]["endpoints"][0]
    assert ep["health"]["healthy"] is False
    a.control(fail_health=False)
    wait_until(lambda: proxy.find_log("endpoint healthy"), what="healthy again")


def test_p2c_ewma_prefers_the_fast_endpoint(gpu_factory, rampart_factory):
    slow = gpu_factory("--base-latency-ms", "40", "--per-item-ms", "0")
    fast = gpu_factory("--base-latency-ms", "2", "--per-item-ms", "0")
    proxy = rampart_factory(config([slow.port, fast.port], cluster=", lb: p2c_ewma"))
    for _ in range(60):
        assert infer(proxy)[0] == 200
    assert fast.stats()["requests"] >= 50, (fast.stats()["requests"], slow.stats()["requests"])


def test_load_shedding_with_priorities(gpu_factory, rampart_factory):
    gpu = gpu_factory("--base-latency-ms", "20", "--per-item-ms", "0")
    route = (", timeout: 10s, load_shedding: {mode: fixed, max_limit: 2, max_queue: 4,"
             " max_queue_wait: 100ms, priority_header: x-priority}")
    proxy = rampart_factory(config([gpu.port], route=route))
    results = {"critical": [], "sheddable": []}
    lock = threading.Lock()

    def client(priority):
        for _ in range(6):
            status, headers, _ = infer(proxy, headers={"x-priority": priority})
            with lock:
                results[priority].append((status, headers.get("retry-after")))
    threads = [threading.Thread(target=client, args=(p,)) for p in ["critical"] * 4 + ["sheddable"] * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    crit_ok = sum(1 for s, _ in results["critical"] if s == 200) / len(results["critical"])
    shed_ok = sum(1 for s, _ in results["sheddable"] if s == 200) / len(results["sheddable"])
    refused = [r for r in results["critical"] + results["sheddable"] if r[0] == 503]
    assert refused and all(ra == "1" for _, ra in refused)
    assert crit_ok > shed_ok
    assert crit_ok >= 0.9
    assert proxy.metric("rampart_shed_total") == len(refused)
    assert gpu.stats()["max_queue"] <= 2  # the backend never saw more than the limit
    view = policies(proxy)["routes"][0]["load_shedding"]
    assert view["per_worker"][0]["limit"] == 2
    assert proxy.find_log("access", settle=True, status=503)["policy"].count("shed_reason=") == 1


def test_load_shedding_shadow_refuses_nothing(gpu_factory, rampart_factory):
    gpu = gpu_factory("--base-latency-ms", "20", "--per-item-ms", "0")
    route = ", load_shedding: {mode: fixed, max_limit: 1, max_queue: 1, max_queue_wait: 10ms, shadow: true}"
    proxy = rampart_factory(config([gpu.port], route=route))
    statuses = run_concurrently(lambda: infer(proxy)[0], 16, workers=8)
    assert statuses == [200] * 16
    assert proxy.metric("rampart_shed_shadow_total") > 0
    assert proxy.metric("rampart_shed_total") == 0


def test_adaptive_limit_learns_and_is_explained(gpu_factory, rampart_factory):
    gpu = gpu_factory("--base-latency-ms", "2", "--per-item-ms", "0")
    proxy = rampart_factory(config([gpu.port], route=", load_shedding: {mode: adaptive, min_limit: 2, max_limit: 64}"))
    run_concurrently(lambda: infer(proxy)[0], 300, workers=8)
    view = wait_until(lambda: policies(proxy)["routes"][0].get("load_shedding"), what="shedding view")
    worker = view["per_worker"][0]
    assert 2 <= worker["limit"] <= 64
    assert worker["samples"] >= 100 and worker["no_load_rtt_ms"] > 0
    assert 2 <= proxy.metric("rampart_concurrency_limit", route="infer") <= 64

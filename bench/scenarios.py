#!/usr/bin/python3
"""Resilience scenarios: Rampart against HAProxy (and direct) under backend faults, open loop.

Three gpu_backend processes serve a ~2 ms model; each (scenario, proxy) run
gets fresh backends on the same fixed ports, a freshly started proxy pinned to
its own core, and rampart_loadgen sending a constant arrival rate (Poisson)
for the whole run while this driver injects the scenario's faults through the
backends' POST /control, SIGKILL and restart. Everything after the learning
period (5 s) is judged against issue 4's targets. See bench/README.md,
"Resilience scenarios".

Standard library only; run by /usr/bin/python3 (Debian 12: Python 3.11).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_bench import (Processes, command_output, core_times, cpu_seconds,  # noqa: E402
                         free_port, on_signal, pinning, tail)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TEMPLATE_DIR = BENCH_DIR / "scenarios"
INFER_PATH = "/v2/models/m/infer"
INFER_BODY = json.dumps({"inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP32",
                                     "data": [1.0, 2.0, 3.0, 4.0]}]})
PRIORITY_MIX = "critical=0.1,normal=0.6,sheddable=0.3"
PROXIES = ["direct", "rampart", "haproxy"]
READY_TIMEOUT_S = 15.0
RETRY_BUDGET = 0.2  # Rampart's retry budget ratio; the attempts target is 1 + this
FOREIGN_CPU_WARN_PCT = 5.0  # other processes' share of the cores that makes a run suspect
HEALTHY = {"error_rate": 0.0, "slow_factor": 1.0, "hang": False, "fail_health": False}


# ------------------------------------------------------------ settings --


@dataclass
class Settings:
    """Everything that shapes a run (from the command line)."""

    duration: float  # seconds per run, learning period included
    learning: float  # seconds at the start of a run that are not judged
    utilization: float  # offered load as a share of the measured total capacity
    overload: float  # offered load of the overload scenario, in capacities
    base_latency_ms: float
    flap_mode: str  # "error" or "hang"
    haproxy_timeout_server: str
    haproxy_timeout_queue: str
    haproxy_server_maxconn: int
    proxy_cpu: Optional[int]
    load_cpu: Optional[int]
    rampart: str
    backend: str
    loadgen: str
    workdir: Path
    backend_ports: list[int] = field(default_factory=list)
    max_connections: int = 10000

    def fault_at(self) -> float:
        """When a mid-run fault starts: at the end of the learning period."""
        return self.learning

    def restart_at(self) -> float:
        """When a killed backend comes back: half-way through the judged part."""
        return self.learning + (self.duration - self.learning) / 2


# ----------------------------------------------------------- scenarios --

# A fault: (seconds after the load started, backend index, action, argument).
Fault = tuple[float, int, str, Optional[dict]]


@dataclass(frozen=True)
class Scenario:
    """One fault pattern; faults(settings) gives its timed actions."""

    key: str
    title: str
    faults: Callable[[Settings], list[Fault]]
    overload: bool = False  # 2x capacity with the priority mix, no fault


def flap_faults(s: Settings) -> list[Fault]:
    """Backend 0 fails for 2 s, recovers for 2 s, and so on, from t = 2 s."""
    fail = {"error_rate": 1.0} if s.flap_mode == "error" else {"hang": True}
    faults, t, failing = [], 2.0, True
    while t < s.duration:
        faults.append((t, 0, "control", fail if failing else dict(HEALTHY)))
        t, failing = t + 2.0, not failing
    return faults


SCENARIOS = [
    Scenario("baseline", "all healthy", lambda s: []),
    Scenario("error503", "one backend: 503 for half its requests",
             lambda s: [(0.0, 0, "control", {"error_rate": 0.5})]),
    Scenario("slow20x", "one backend 20x slower from t=5 s",
             lambda s: [(s.fault_at(), 0, "control", {"slow_factor": 20.0})]),
    Scenario("hang", "one backend hangs from t=5 s",
             lambda s: [(s.fault_at(), 0, "control", {"hang": True})]),
    Scenario("killed", "one backend SIGKILLed at t=5 s, restarted at t=15 s",
             lambda s: [(s.fault_at(), 0, "kill", None), (s.restart_at(), 0, "restart", None)]),
    Scenario("flap", "one backend fails / recovers every 2 s", flap_faults),
    Scenario("overload", "2x capacity, priority mix", lambda s: [], overload=True),
]


# ------------------------------------------------------------ backends --


def http_json(port: int, method: str, path: str, body: Optional[dict | str] = None,
              timeout: float = 2.0, headers: Optional[dict] = None) -> tuple[int, str]:
    """One request on a fresh connection; (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = body if isinstance(body, str) or body is None else json.dumps(body)
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


class Backends:
    """Three gpu_backend processes on the run's fixed ports (a restart keeps the port)."""

    def __init__(self, settings: Settings, procs: Processes, run_dir: Path):
        self.settings = settings
        self.procs = procs
        self.dir = run_dir
        self.running: dict[int, subprocess.Popen] = {}
        self.carried_requests = 0  # requests counted by backends before they were killed

    def start(self, i: int) -> None:
        """Starts backend i healthy on its port and waits until it is ready."""
        port = self.settings.backend_ports[i]
        argv = [self.settings.backend, "--port", str(port), "--base-latency-ms",
                str(self.settings.base_latency_ms), "--per-item-ms", "0"]
        log = self.dir / f"backend{i}.log"
        self.running[i] = self.procs.start(argv, log, self.settings.load_cpu)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self.running[i].poll() is not None:
                raise RuntimeError(f"backend {i} exited: {tail(log)}")
            try:
                if http_json(port, "GET", "/v2/health/ready", timeout=0.5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"backend {i} not ready on port {port}")

    def kill(self, i: int) -> None:
        """SIGKILL backend i (its counters are kept for the attempts figure)."""
        self.carried_requests += self.requests(i) or 0
        proc = self.running.pop(i)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        self.procs.stop(proc)

    def control(self, i: int, settings: dict) -> None:
        """POST /control to backend i; raises when it is refused."""
        status, text = http_json(self.settings.backend_ports[i], "POST", "/control", settings)
        if status != 200:
            raise RuntimeError(f"backend {i} refused /control {settings}: {status} {text}")

    def requests(self, i: int) -> Optional[int]:
        """Inference requests backend i has seen since its start or the last reset."""
        try:
            status, text = http_json(self.settings.backend_ports[i], "GET", "/stats")
            return json.loads(text)["requests"] if status == 200 else None
        except (OSError, ValueError, KeyError):
            return None

    def reset_stats(self) -> None:
        """Zeroes every running backend's /stats (readiness probes are not load)."""
        for i in self.running:
            http_json(self.settings.backend_ports[i], "POST", "/stats/reset")

    def total_requests(self) -> int:
        """Inference requests seen by all backends, including killed ones."""
        return self.carried_requests + sum(self.requests(i) or 0 for i in self.running)

    def stop_all(self) -> None:
        """Stops every backend still running."""
        for proc in self.running.values():
            self.procs.stop(proc)
        self.running.clear()


# ------------------------------------------------------------- proxies --


def render(template: str, out: Path, values: dict[str, str]) -> Path:
    """Writes scenarios/<template> to out with every @KEY@ replaced; a leftover is an error."""
    text = (TEMPLATE_DIR / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.search(r"@[A-Z0-9_]+@", text)
    if leftover:
        raise ValueError(f"{template}: no value for {leftover.group(0)}")
    out.write_text(text)
    return out


@dataclass
class RunningProxy:
    """A started proxy: where to send load and how to read its counters."""

    port: int
    proc: Optional[subprocess.Popen] = None
    log: Optional[Path] = None
    admin_port: Optional[int] = None  # rampart
    stats_socket: Optional[Path] = None  # haproxy


def template_values(settings: Settings, d: Path, port: int) -> dict[str, str]:
    """The placeholders both templates share."""
    values = {"PORT": str(port), "DIR": str(d), "MAX_CONNECTIONS": str(settings.max_connections),
              "SERVER_TIMEOUT": settings.haproxy_timeout_server,
              "QUEUE_TIMEOUT": settings.haproxy_timeout_queue,
              "SERVER_MAXCONN": str(settings.haproxy_server_maxconn),
              "RETRY_BUDGET": str(RETRY_BUDGET)}
    for i, p in enumerate(settings.backend_ports):
        values[f"BACKEND{i + 1}"] = str(p)
    return values


def rampart_unavailable(settings: Settings) -> Optional[str]:
    """Why Rampart cannot run the scenarios (missing, or its config is refused), or None."""
    if not os.access(settings.rampart, os.X_OK):
        return f"{settings.rampart} not found"
    d = settings.workdir / "rampart-validate"
    d.mkdir(parents=True, exist_ok=True)
    values = template_values(settings, d, free_port())
    values["ADMIN_PORT"] = str(free_port())
    conf = render("rampart.yaml", d / "rampart.yaml", values)
    p = subprocess.run([settings.rampart, "--validate", str(conf)], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        why = " | ".join((p.stderr + p.stdout).strip().splitlines()[-3:])
        return why.replace(str(conf), "rampart.yaml") or f"--validate exited {p.returncode}"
    return None


def start_proxy(name: str, settings: Settings, procs: Processes, d: Path) -> RunningProxy:
    """Starts rampart or haproxy pinned to the proxy core, or returns direct's target."""
    if name == "direct":
        return RunningProxy(settings.backend_ports[0])
    port = free_port()
    values = template_values(settings, d, port)
    log = d / f"{name}.log"
    if name == "rampart":
        admin = free_port()
        values["ADMIN_PORT"] = str(admin)
        conf = render("rampart.yaml", d / "rampart.yaml", values)
        proc = procs.start([settings.rampart, "--config", str(conf)], log, settings.proxy_cpu)
        return RunningProxy(port, proc, log, admin_port=admin)
    conf = render("haproxy.cfg", d / "haproxy.cfg", values)
    proc = procs.start(["haproxy", "-db", "-f", str(conf)], log, settings.proxy_cpu)
    return RunningProxy(port, proc, log, stats_socket=d / "haproxy.sock")


def wait_ready(proxy: RunningProxy) -> None:
    """Returns once an inference request through the proxy answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    why = "no answer"
    while time.monotonic() < deadline:
        if proxy.proc is not None and proxy.proc.poll() is not None:
            raise RuntimeError(f"exited with {proxy.proc.returncode} {tail(proxy.log)}".strip())
        try:
            status, _ = http_json(proxy.port, "POST", INFER_PATH, INFER_BODY, timeout=1.0,
                                  headers={"Content-Type": "application/json"})
            if status == 200:
                return
            why = f"HTTP {status}"
        except (OSError, http.client.HTTPException) as e:
            why = f"{type(e).__name__}: {e}"
        time.sleep(0.05)
    raise RuntimeError(f"not ready after {READY_TIMEOUT_S:.0f} s ({why}) {tail(proxy.log)}")


def rampart_attempts(admin_port: int) -> Optional[int]:
    """Sum of rampart_upstream_requests_total over every label set on /metrics."""
    try:
        status, text = http_json(admin_port, "GET", "/metrics")
    except OSError:
        return None
    if status != 200:
        return None
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"rampart_upstream_requests_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)", line)
        if m:
            total += float(m.group(1))
    return int(total)


def haproxy_stats(sock: Path) -> dict[str, dict[str, str]]:
    """`show stat` of backend gpu over the stats socket: svname -> column -> value."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    lines = b"".join(chunks).decode(errors="replace").splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = {}
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) >= len(header) and cells[0] == "gpu":
            rows[cells[1]] = dict(zip(header, cells))
    return rows


def haproxy_attempts(sock: Path) -> Optional[int]:
    """Requests HAProxy sent to servers: the sum of the servers' `stot`. A server
    counts every attempt it is given, retries to it and redispatches to it
    included (checked against the backends' own counters: equal)."""
    try:
        rows = haproxy_stats(sock)
    except (OSError, IndexError):
        return None
    return sum(int(r.get("stot") or 0) for name, r in rows.items()
               if name not in ("BACKEND", "FRONTEND"))


def snapshot(name: str, proxy: RunningProxy, d: Path) -> None:
    """Saves what the proxy says about itself after a run (Rampart: /metrics and
    /policies; HAProxy: show stat) beside the run's logs, for whoever debugs it."""
    try:
        if name == "rampart" and proxy.admin_port:
            for path, out in (("/metrics", "metrics.txt"), ("/policies", "policies.json")):
                status, text = http_json(proxy.admin_port, "GET", path)
                (d / out).write_text(f"HTTP {status}\n{text}")
        elif name == "haproxy" and proxy.stats_socket:
            rows = haproxy_stats(proxy.stats_socket)
            (d / "haproxy_stats.json").write_text(json.dumps(rows, indent=1))
    except (OSError, IndexError, http.client.HTTPException):
        pass


def proxy_attempts(name: str, proxy: RunningProxy) -> Optional[int]:
    """The proxy's own count of upstream attempts, or None (direct, or unreadable)."""
    if name == "rampart" and proxy.admin_port:
        return rampart_attempts(proxy.admin_port)
    if name == "haproxy" and proxy.stats_socket:
        return haproxy_attempts(proxy.stats_socket)
    return None


# ------------------------------------------------------------- loadgen --


def loadgen_argv(settings: Settings, port: int, rate: float, duration: float, warmup: float,
                 interval: float = 1.0, priorities: bool = False) -> list[str]:
    """rampart_loadgen's command line for one run against 127.0.0.1:port."""
    argv = [settings.loadgen, "--url", f"http://127.0.0.1:{port}{INFER_PATH}",
            "--body", INFER_BODY, "--header", "Content-Type: application/json",
            "--rate", f"{rate:.3f}", "--duration", f"{duration:g}s", "--warmup", f"{warmup:g}s",
            "--timeout", "10s", "--timeline-interval", f"{interval:g}s"]
    if priorities:
        argv += ["--priority-mix", PRIORITY_MIX]
    return argv


def run_loadgen(settings: Settings, procs: Processes, argv: list[str], seconds: float, out: Path,
                faults: list[Fault], backends: Optional[Backends]) -> dict:
    """Runs the load generator (seconds long) on the load core while applying
    faults at their times (seconds after its start); returns its JSON report."""
    with open(out, "wb") as stdout:
        if settings.load_cpu is not None:
            argv = ["taskset", "-c", str(settings.load_cpu)] + argv
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.PIPE, start_new_session=True)
    procs.running.append(proc)
    started = time.monotonic()
    try:
        for at, i, action, arg in sorted(faults, key=lambda f: f[0]):
            time.sleep(max(0.0, started + at - time.monotonic()))
            if action == "control":
                backends.control(i, arg)
            elif action == "kill":
                backends.kill(i)
            elif action == "restart":
                backends.start(i)
        _, err = proc.communicate(timeout=seconds + 60)
    finally:
        procs.stop(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"rampart_loadgen exited {proc.returncode}: {err.decode()[-300:]}")
    return json.loads(out.read_text())


# ---------------------------------------------------------- calibration --


@dataclass
class Calibration:
    """One backend measured directly before the scenarios."""

    capacity: float  # successful requests per second of one backend, saturated
    unloaded_p50_ms: float
    unloaded_p99_ms: float

    def total(self) -> float:
        """Healthy capacity of the three backends."""
        return 3 * self.capacity


def calibrate(settings: Settings, procs: Processes) -> Calibration:
    """Unloaded latency at 10 % of nominal load, then capacity at 150 % of it."""
    d = settings.workdir / "calibration"
    d.mkdir(parents=True)
    backends = Backends(settings, procs, d)
    nominal = 1000.0 / settings.base_latency_ms
    try:
        backends.start(0)
        port = settings.backend_ports[0]
        quiet = run_loadgen(settings, procs, loadgen_argv(settings, port, 0.1 * nominal, 5, 0.5),
                            5.5, d / "unloaded.json", [], None)
        saturated = run_loadgen(settings, procs,
                                loadgen_argv(settings, port, 1.5 * nominal, 4, 0, interval=0.5),
                                4, d / "capacity.json", [], None)
    finally:
        backends.stop_all()
    # The backend's queue never empties after the first second: completions per
    # second are its capacity.
    done = [iv["finished_ok"] / 0.5 for iv in saturated["timeline"] if 1.0 <= iv["t"] < 4.0]
    lat = quiet["totals"]["latency_ms"]["ok"]
    return Calibration(statistics.median(done), lat["p50"], lat["p99"])


# ------------------------------------------------------------------ run --


def children_cpu() -> float:
    """CPU seconds of every child this driver has reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """How much CPU went to processes this suite did not start, during one run:
    every core's busy time minus the proxy's, the backends' and the load
    generator's (reaped children count whole, live ones by difference)."""

    def __init__(self, pids: list[int]):
        self.cores = core_times()
        self.children = children_cpu()
        self.own = {pid: self.cpu(pid) for pid in pids}

    @staticmethod
    def cpu(pid: int) -> float:
        """utime + stime of pid, 0 when it is gone."""
        try:
            return cpu_seconds(pid)
        except (OSError, IndexError):
            return 0.0

    def foreign_pct(self, pids: list[int]) -> Optional[float]:
        """Other processes' CPU since the start, in % of all cores; pids are ours, alive now."""
        after = core_times()
        tck = os.sysconf("SC_CLK_TCK")
        busy = sum(after[c][0] - self.cores[c][0] for c in after if c in self.cores) / tck
        total = sum(after[c][1] - self.cores[c][1] for c in after if c in self.cores) / tck
        own = children_cpu() - self.children
        own += sum(self.cpu(pid) - self.own.get(pid, 0.0) for pid in pids)
        return max(0.0, busy - own) / total * 100 if total > 0 else None



@dataclass
class Result:
    """One (scenario, proxy) run, or why there is none."""

    scenario: Scenario
    proxy: str
    unavailable: Optional[str] = None
    load: dict = field(default_factory=dict)
    rate: float = 0.0
    requests: int = 0  # everything the load generator sent, learning period included
    attempts_proxy: Optional[int] = None
    attempts_backends: Optional[int] = None
    foreign_cpu_pct: Optional[float] = None  # other processes' share of the cores meanwhile

    def totals(self) -> dict:
        """The load generator's totals after the learning period."""
        return self.load["totals"]

    def success(self) -> float:
        """Share of requests after the learning period that got a 2xx."""
        return self.totals()["success_rate"]

    def p50_ms(self) -> float:
        """Median latency of every request after the learning period (errors included)."""
        return self.totals()["latency_ms"]["all"]["p50"]

    def p99_ms(self) -> float:
        """p99 of every request after the learning period (errors at the time they failed)."""
        return self.totals()["latency_ms"]["all"]["p99"]

    def p99_ok_ms(self) -> float:
        """p99 of the successful requests after the learning period (overload: admitted ones)."""
        return self.totals()["latency_ms"]["ok"]["p99"]

    def worst_second(self, learning: float) -> float:
        """Lowest one-second success rate after the learning period."""
        rates = [iv["ok"] / iv["sent"] for iv in self.load["timeline"]
                 if iv["t"] >= learning and iv["sent"]]
        return min(rates) if rates else 0.0

    def goodput(self) -> float:
        """2xx responses per second after the learning period."""
        return self.totals()["ok"] / self.load["config"]["duration_s"]


def run_one(scenario: Scenario, proxy_name: str, settings: Settings, procs: Processes,
            cal: Calibration) -> Result:
    """Fresh backends and proxy, readiness, then the load with the scenario's faults."""
    result = Result(scenario, proxy_name)
    d = settings.workdir / f"{scenario.key}-{proxy_name}"
    d.mkdir(parents=True)
    backends = Backends(settings, procs, d)
    proxy = None
    rate = (settings.overload if scenario.overload else settings.utilization) * cal.total()
    if proxy_name == "direct":  # one backend at the same per-backend load
        rate /= 3
    result.rate = rate
    try:
        for i in range(3):
            backends.start(i)
        proxy = start_proxy(proxy_name, settings, procs, d)
        try:
            wait_ready(proxy)
        except RuntimeError as e:
            result.unavailable = str(e)[:300]
            return result
        backends.reset_stats()
        before = proxy_attempts(proxy_name, proxy)
        argv = loadgen_argv(settings, proxy.port, rate, settings.duration - settings.learning,
                            settings.learning, priorities=scenario.overload)
        faults = [] if proxy_name == "direct" else scenario.faults(settings)

        def ours() -> list[int]:
            return [p.pid for p in [proxy.proc, *backends.running.values()] if p is not None]

        meter = CpuMeter(ours())
        result.load = run_loadgen(settings, procs, argv, settings.duration, d / "load.json",
                                  faults, backends)
        result.foreign_cpu_pct = meter.foreign_pct(ours())
        after = proxy_attempts(proxy_name, proxy)
        snapshot(proxy_name, proxy, d)
        if before is not None and after is not None:
            result.attempts_proxy = after - before
        result.attempts_backends = backends.total_requests()
        result.requests = sum(iv["sent"] for iv in result.load["timeline"])
        if proxy.proc is not None and proxy.proc.poll() is not None:
            result.unavailable = f"exited during the run {tail(proxy.log)}"
    finally:
        if proxy is not None and proxy.proc is not None:
            procs.stop(proxy.proc)
        backends.stop_all()
    return result


# ------------------------------------------------------------- targets --


def attempts_ratio(r: Result) -> Optional[float]:
    """Upstream attempts per request: the proxy's own count, else the backends'."""
    attempts = r.attempts_proxy if r.attempts_proxy is not None else r.attempts_backends
    return attempts / r.requests if attempts is not None and r.requests else None


def checks(r: Result, baseline_p99: Optional[float], cal: Calibration) -> list[tuple[str, bool]]:
    """Issue 4's targets for this run: (what, passed)."""
    ratio = attempts_ratio(r)
    out = []
    if r.scenario.overload:
        crit = r.load["priorities"].get("critical", {}).get("success_rate", 0.0)
        out += [("goodput ≥ 90% cap", r.goodput() >= 0.9 * cal.total()),
                ("p99 ≤ 2× unloaded", r.p99_ok_ms() <= 2 * cal.unloaded_p99_ms),
                ("critical ≥ 99%", crit >= 0.99)]
    else:
        out.append(("success ≥ 99.9%", r.success() >= 0.999))
        if baseline_p99:
            out.append(("p99 ≤ 2× baseline", r.p99_ms() <= 2 * baseline_p99))
    if ratio is not None:
        out.append((f"attempts ≤ {1 + RETRY_BUDGET:g}×", ratio <= 1 + RETRY_BUDGET))
    return out


def versus(mine: Result, ref: Optional[Result]) -> str:
    """Rampart against HAProxy in one scenario: better on success rate and on p99?"""
    if ref is None or ref.unavailable or not ref.load:
        return "n/a"
    if mine.scenario.overload:
        pairs = [("goodput", mine.goodput() >= ref.goodput()),
                 ("p99", mine.p99_ok_ms() < ref.p99_ok_ms())]
    else:
        pairs = [("success", mine.success() >= ref.success()),
                 ("p99", mine.p99_ms() < ref.p99_ms())]
    worse = [name for name, ok in pairs if not ok]
    return "better" if not worse else "worse: " + ", ".join(worse)


def verdict(items: list[tuple[str, bool]]) -> str:
    """PASS, or FAIL with the targets missed."""
    failed = [name for name, ok in items if not ok]
    return "PASS" if not failed else "FAIL: " + "; ".join(failed)


# -------------------------------------------------------------- report --


def failures_cell(r: Result) -> str:
    """Non-2xx statuses and socket errors after the learning period."""
    t = r.totals()
    parts = [f"{status}×{n}" for status, n in t["by_status"].items() if not status.startswith("2")]
    parts += [f"{kind} {n}" for kind, n in t["errors"].items() if n]
    return ", ".join(parts) or "0"


def attempts_cell(r: Result) -> str:
    """Attempts per request as the proxy counts them · as the backends saw them."""
    def one(v: Optional[int]) -> str:
        return f"{v / r.requests:.2f}" if v is not None and r.requests else "–"
    return f"{one(r.attempts_proxy)} · {one(r.attempts_backends)}"


def baseline_p99(results: list[Result], proxy: str) -> tuple[Optional[float], str]:
    """The healthy baseline p99: direct's, else this proxy's own baseline run."""
    for name in ("direct", proxy):
        for r in results:
            if r.scenario.key == "baseline" and r.proxy == name and r.load and not r.unavailable:
                return r.p99_ms(), name
    return None, ""


def main_table(results: list[Result], cal: Calibration, settings: Settings) -> list[str]:
    """Every scenario but overload: one row per proxy."""
    head = ["scenario", "proxy", "req/s", f"success after {settings.learning:g} s", "worst 1 s",
            "p50 ms", "p99 ms", "p99 / baseline", "attempts/req (proxy · backends)",
            "failures", "targets", "vs HAProxy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    refs = {r.scenario.key: r for r in results if r.proxy == "haproxy"}
    for r in results:
        if r.scenario.overload:
            continue
        if r.unavailable or not r.load:
            cells = [r.scenario.key, r.proxy, f"not available: {r.unavailable}"]
            lines.append("| " + " | ".join(cells + [""] * (len(head) - 3)) + " |")
            continue
        base, base_name = baseline_p99(results, r.proxy)
        reference = r.proxy == "direct"
        cells = [r.scenario.key, r.proxy, f"{r.rate:.0f}", f"{r.success() * 100:.3f}%",
                 f"{r.worst_second(settings.learning) * 100:.1f}%",
                 f"{r.p50_ms():.2f}", f"{r.p99_ms():.2f}",
                 f"{r.p99_ms() / base:.2f}×" + ("" if base_name == "direct" else " (own)")
                 if base else "–",
                 attempts_cell(r), failures_cell(r),
                 "reference" if reference else verdict(checks(r, base, cal)),
                 versus(r, refs.get(r.scenario.key)) if r.proxy == "rampart" else ""]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return lines


def overload_table(results: list[Result], cal: Calibration) -> list[str]:
    """The overload scenario: goodput, admitted p99 and per-priority success."""
    rows = [r for r in results if r.scenario.overload]
    if not rows:
        return []
    head = ["proxy", "offered req/s", "goodput req/s", "goodput / capacity", "p99 admitted ms",
            "p99 / unloaded", "critical", "normal", "sheddable", "attempts/req (proxy · backends)",
            "targets", "vs HAProxy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ref = next((r for r in rows if r.proxy == "haproxy"), None)
    for r in rows:
        if r.unavailable or not r.load:
            lines.append("| " + " | ".join([r.proxy, f"not available: {r.unavailable}"] +
                                           [""] * (len(head) - 2)) + " |")
            continue
        prio = r.load["priorities"]
        cells = [r.proxy, f"{r.rate:.0f}", f"{r.goodput():.0f}",
                 f"{r.goodput() / cal.total() * 100:.1f}%", f"{r.p99_ok_ms():.2f}",
                 f"{r.p99_ok_ms() / cal.unloaded_p99_ms:.2f}×"]
        cells += [f"{prio[p]['success_rate'] * 100:.2f}%" if p in prio else "–"
                  for p in ("critical", "normal", "sheddable")]
        cells += [attempts_cell(r), verdict(checks(r, None, cal)),
                  versus(r, ref) if r.proxy == "rampart" else ""]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def timelines(results: list[Result]) -> list[str]:
    """Per-second success % and p99 of every run: how fast each proxy reacted."""
    lines = []
    for r in results:
        if not r.load:
            continue
        cells = [f"{iv['t']:g}s {iv['ok'] / iv['sent'] * 100 if iv['sent'] else 0:.1f}%/"
                 f"{iv['p99_ms']:.0f}ms" for iv in r.load["timeline"]]
        other = ("" if r.foreign_cpu_pct is None
                 else f" (other processes: {r.foreign_cpu_pct:.0f}% of the cores)")
        lines.append(f"- {r.scenario.key} / {r.proxy}{other}: " + " ".join(cells))
    return lines


def environment(settings: Settings, cal: Calibration) -> list[str]:
    """Machine, tools, pinning and the calibrated load."""
    cpu_model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    pin = (f"proxy on CPU {settings.proxy_cpu}; load generator and backends on CPU "
           f"{settings.load_cpu}" if settings.proxy_cpu is not None else "NOT pinned")
    rev = command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return [
        f"- host: {platform.node()}, {cpu_model}, {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}",
        f"- pinning: {pin}",
        f"- tools: {command_output(['haproxy', '-v'])}; rampart {settings.rampart} at git {rev}",
        f"- backends: 3 × gpu_backend, base latency {settings.base_latency_ms:g} ms, one request "
        f"at a time; measured capacity {cal.capacity:.0f} req/s each, {cal.total():.0f} total",
        f"- unloaded (direct, 10% load): p50 {cal.unloaded_p50_ms:.2f} ms, "
        f"p99 {cal.unloaded_p99_ms:.2f} ms",
        f"- load: rampart_loadgen, Poisson arrivals, {settings.utilization * 100:.0f}% of capacity "
        f"({settings.utilization * cal.total():.0f} req/s; direct: a third of it to one backend), "
        f"overload {settings.overload:g}× ({settings.overload * cal.total():.0f} req/s, "
        f"{PRIORITY_MIX}); {settings.duration:g} s per run, the first {settings.learning:g} s "
        "not judged; timeout 10 s",
        f"- HAProxy: timeout server {settings.haproxy_timeout_server}, timeout queue "
        f"{settings.haproxy_timeout_queue}, maxconn {settings.haproxy_server_maxconn} per server",
    ]


def report(results: list[Result], cal: Calibration, settings: Settings, elapsed: float,
           load_before: float) -> str:
    """The markdown report."""
    lines = [f"# Resilience scenarios, {datetime.datetime.now():%Y-%m-%d %H:%M}", ""]
    lines += environment(settings, cal)
    lines += [f"- load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}; "
              f"suite took {elapsed / 60:.1f} min", ""]
    busy = [r for r in results if (r.foreign_cpu_pct or 0) > FOREIGN_CPU_WARN_PCT]
    if busy:
        worst = max(r.foreign_cpu_pct for r in busy)
        lines += [f"Warning: the machine was not quiet: in {len(busy)} of {len(results)} runs "
                  f"other processes used more than {FOREIGN_CPU_WARN_PCT:.0f}% of the cores (up "
                  f"to {worst:.0f}%); latencies and failures there are skewed (rerun when idle).",
                  ""]
    lines += main_table(results, cal, settings) + [""]
    over = overload_table(results, cal)
    if over:
        lines += ["Overload (offered load above the total healthy capacity):", ""] + over + [""]
    lines += ["Targets (issue 4): success ≥ 99.9% after the learning period, p99 ≤ 2× the "
              "healthy baseline (direct), upstream attempts ≤ (1 + budget ratio) × requests; "
              "overload: goodput ≥ 90% of capacity, admitted p99 ≤ 2× unloaded p99, critical "
              "success ≥ 99%. 'vs HAProxy': success (overload: goodput) not lower and p99 "
              "lower.", ""]
    lines += ["Per-second success / p99 (all requests, by intended start):", ""]
    lines += timelines(results) + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------- main --


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (see bench/README.md, "Resilience scenarios")."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only-scenarios",
                   help="comma-separated: " + ",".join(s.key for s in SCENARIOS))
    p.add_argument("--only-proxies", help="comma-separated: " + ",".join(PROXIES))
    p.add_argument("--quick", action="store_true", help="smoke test: 10 s runs, 3 s learning")
    p.add_argument("--duration", type=float, default=25.0, help="seconds per run (25)")
    p.add_argument("--learning", type=float, default=5.0, help="seconds not judged (5)")
    p.add_argument("--utilization", type=float, default=0.55, help="load / capacity (0.55)")
    p.add_argument("--overload", type=float, default=2.0, help="overload / capacity (2.0)")
    p.add_argument("--base-latency-ms", type=float, default=2.0, help="backend cost (2)")
    p.add_argument("--flap-mode", choices=["error", "hang"], default="error",
                   help="what a flapping backend does while down (error: 503 to everything)")
    p.add_argument("--haproxy-timeout-server", default="500ms")
    p.add_argument("--haproxy-timeout-queue", default="50ms")
    p.add_argument("--haproxy-maxconn", type=int, default=2, help="HAProxy maxconn per server (2)")
    p.add_argument("--proxy-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--build", default=str(ROOT / "build"), help="build dir for the binaries")
    p.add_argument("--rampart", help="rampart binary (BUILD/proxy/rampart)")
    p.add_argument("--backend", help="gpu_backend binary (BUILD/examples/gpu_backend)")
    p.add_argument("--loadgen", help="rampart_loadgen binary (BUILD/bench/loadgen/rampart_loadgen)")
    p.add_argument("--out", help="markdown file (bench/results/scenarios_<date>.md)")
    p.add_argument("--keep-tmp", action="store_true", help="keep configs, logs and loadgen JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.learning = 10.0, 3.0
    if not 0 < args.learning < args.duration:
        p.error("need 0 < --learning < --duration")
    return args


def pick(names: Optional[str], known: list[str], what: str) -> list[str]:
    """The subset named on the command line, in the canonical order."""
    if not names:
        return known
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        sys.exit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return [k for k in known if k in wanted]


def make_settings(args: argparse.Namespace, workdir: Path) -> Settings:
    """Settings from the command line; three fixed backend ports for the whole suite."""
    build = Path(args.build)
    proxy_cpu, load_cpu = pinning(args.proxy_cpu, args.load_cpu)
    s = Settings(args.duration, args.learning, args.utilization, args.overload,
                 args.base_latency_ms, args.flap_mode, args.haproxy_timeout_server,
                 args.haproxy_timeout_queue, args.haproxy_maxconn, proxy_cpu, load_cpu,
                 args.rampart or str(build / "proxy/rampart"),
                 args.backend or str(build / "examples/gpu_backend"),
                 args.loadgen or str(build / "bench/loadgen/rampart_loadgen"), workdir)
    s.backend_ports = [free_port() for _ in range(3)]
    s.max_connections = max(1024, min(100000, (os.sysconf("SC_OPEN_MAX") - 64) // 2))
    return s


def run_all(scenarios: list[Scenario], proxies: list[str], settings: Settings,
            procs: Processes, cal: Calibration) -> list[Result]:
    """Every (scenario, proxy); direct only in the baseline (it is the healthy reference)."""
    rampart_why = rampart_unavailable(settings) if "rampart" in proxies else None
    if rampart_why:
        print(f"rampart: not available: {rampart_why}", file=sys.stderr)
    haproxy_why = None if shutil.which("haproxy") else "haproxy not found"
    results = []
    for scenario in scenarios:
        for name in proxies:
            if name == "direct" and scenario.key != "baseline":
                continue
            why = {"rampart": rampart_why, "haproxy": haproxy_why}.get(name)
            if why:
                results.append(Result(scenario, name, unavailable=why))
                continue
            started = time.monotonic()
            try:
                r = run_one(scenario, name, settings, procs, cal)
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                r = Result(scenario, name, unavailable=f"run failed: {e}"[:300])
            results.append(r)
            summary = r.unavailable or (f"success {r.success() * 100:.3f}%, p99 "
                                        f"{r.p99_ms():.2f} ms, ok p99 {r.p99_ok_ms():.2f} ms, "
                                        f"other processes {r.foreign_cpu_pct or 0:.0f}% CPU")
            print(f"[{scenario.key} / {name}] {summary} ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr)
    return results


def keep_runs(workdir: Path, dest: Path) -> None:
    """Copies every run's loadgen JSON, configs, logs and proxy snapshots (not
    sockets) next to the report."""
    if workdir.exists():
        shutil.copytree(workdir, dest, ignore=shutil.ignore_patterns("*.sock", "*.pid"),
                        dirs_exist_ok=True)


def main(argv: list[str]) -> int:
    """Calibrates, runs every scenario against every proxy, prints and saves the report."""
    args = parse_args(argv)
    scenarios = [s for s in SCENARIOS
                 if s.key in pick(args.only_scenarios, [s.key for s in SCENARIOS], "scenario")]
    proxies = pick(args.only_proxies, PROXIES, "proxy")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="rampart-scenarios-"))
    settings = make_settings(args, workdir)
    for tool in (settings.backend, settings.loadgen):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} is missing: cmake --build {args.build} --target gpu_backend "
                     "rampart_loadgen")
    procs = Processes()
    started, load_before = time.monotonic(), os.getloadavg()[0]
    stamp = f"{datetime.datetime.now():%Y-%m-%d_%H%M%S}"
    out = Path(args.out) if args.out else BENCH_DIR / "results" / f"scenarios_{stamp}.md"
    try:
        cal = calibrate(settings, procs)
        print(f"capacity {cal.capacity:.0f} req/s per backend; unloaded p99 "
              f"{cal.unloaded_p99_ms:.2f} ms", file=sys.stderr)
        results = run_all(scenarios, proxies, settings, procs, cal)
    except RuntimeError as e:  # the calibration backend failed: nothing can be measured
        print(f"calibration failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; stopped every process this run started", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        keep_runs(workdir, out.with_suffix(""))
        if args.keep_tmp:
            print(f"kept configs, logs and loadgen JSON in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(results, cal, settings, time.monotonic() - started, load_before)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"results written to {out}; each run's loadgen JSON, configs and logs in "
          f"{out.with_suffix('')}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

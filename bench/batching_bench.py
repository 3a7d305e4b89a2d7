#!/usr/bin/python3
"""Batching benchmark: unbatched proxying vs the best static batching setting vs the learned window.

Two gpu_backend processes (8 ms + 0.25 ms per item, one batch at a time) sit
behind Rampart; rampart_loadgen sends open-loop (Poisson) single-item KServe v2
requests at a low, a medium and a high rate, and every run is judged against a
100 ms SLO (issue 5). Per rate the driver runs:

  * unbatched proxying (the route has no batching block),
  * a sweep of Triton's static rule (max batch 4..64 x max delay 1..20 ms) in
    short runs, then the best setting again at full length,
  * the learned window (mode: learned, max_batch_size 64, slo 100ms),

each with a fresh Rampart and fresh backends, while a low-rate verifying client
sends requests with distinct values and ids through the same route and checks
every answer (output0 = 2x+1, row_sum, id): a mis-split batch shows up there.
The high rate is searched first: the highest rate at which the learned window
still answers 99 % of requests with 200 within the SLO. See bench/README.md,
"Batching".

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
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TEMPLATE = BENCH_DIR / "batching" / "rampart.yaml"
MODEL_PATH = "/v2/models/m/infer"
WIDTH = 4  # elements per row of every request (loadgen's and the verifier's alike)
LOAD_BODY = json.dumps({"inputs": [{"name": "input0", "shape": [1, WIDTH], "datatype": "FP32",
                                    "data": [1.0, 2.0, 3.0, 4.0]}]})
JSON_HEADERS = {"Content-Type": "application/json"}
READY_TIMEOUT_S = 15.0
WITHIN_SLO_TO_MEET = 0.99  # share of requests that must be 200 within the SLO ("meets the SLO")
FOREIGN_CPU_WARN_PCT = 5.0  # other processes' share of the two cores that makes a run suspect


# ------------------------------------------------------------ settings --


@dataclass
class Settings:
    """Everything that shapes the run (from the command line)."""

    duration: float  # measured seconds of a full cell
    warmup: float  # seconds before it (sent, not counted)
    sweep_duration: float  # measured seconds of a sweep or search run
    sweep_warmup: float
    slo_ms: float
    timeout_s: float  # the load generator's per-request timeout
    workers: int
    learned_max_batch: int
    sweep_batches: list[int]
    sweep_delays_ms: list[float]
    verify_rate: float  # verifying client's requests per second
    base_latency_ms: float
    per_item_ms: float
    proxy_cpu: Optional[int]
    load_cpu: Optional[int]
    rampart: str
    backend: str
    loadgen: str
    outdir: Path
    seed: int = 1


@dataclass(frozen=True)
class Mode:
    """What the route does: unbatched, static (batch, delay) or learned."""

    kind: str  # "unbatched" | "static" | "learned"
    batch: int = 0
    delay_ms: float = 0.0

    def label(self) -> str:
        """Short name for tables and file names."""
        if self.kind == "static":
            return f"static b{self.batch} d{self.delay_ms:g}ms"
        return self.kind

    def slug(self) -> str:
        """The label as a file name."""
        return self.label().replace(" ", "_")

    def batching_block(self, s: Settings) -> str:
        """The route's batching line for the config template ('' = none)."""
        if self.kind == "unbatched":
            return ""
        if self.kind == "static":
            return (f"batching: {{format: kserve_v2, mode: static, max_batch_size: {self.batch}, "
                    f"max_delay: {self.delay_ms:g}ms, slo: {s.slo_ms:g}ms}}")
        return (f"batching: {{format: kserve_v2, mode: learned, "
                f"max_batch_size: {s.learned_max_batch}, slo: {s.slo_ms:g}ms}}")


# ----------------------------------------------------------- processes --


class Processes:
    """Every process the run starts, each in its own process group, so that any
    exit of the driver (normal, exception, Ctrl-C, SIGTERM) can stop them all."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: Path, cpu: Optional[int],
              stdout_pipe: bool = False) -> subprocess.Popen:
        """Starts argv pinned to cpu (taskset execs, so the pid is the program's)."""
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        with open(log, "ab") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE if stdout_pipe else err, stderr=err,
                                    start_new_session=True)
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM to the group, SIGKILL after 5 s; forgets the process."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if proc.stdout:
            proc.stdout.close()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        """Stops everything still running, newest first."""
        for proc in reversed(list(self.running)):
            self.stop(proc)


def on_signal(signum: int, _frame: object) -> None:
    """Turns SIGTERM/SIGHUP into an exception so that the cleanup in main() runs."""
    raise SystemExit(128 + signum)


def free_port() -> int:
    """A port the kernel considers free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Optional[Path], lines: int = 3) -> str:
    """The last lines of a log, for error messages."""
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except (OSError, AttributeError):
        return ""


def http_call(port: int, method: str, path: str, body: Optional[str] = None,
              timeout: float = 2.0) -> tuple[int, str]:
    """One request on a fresh connection; (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=JSON_HEADERS if body else {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all threads), in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tcp_counters() -> dict[str, int]:
    """TcpExt counters of the network namespace (SYN retransmits and listen queue
    overflows: a dropped SYN costs its sender a 1 s retransmission timeout)."""
    keys, values = [], []
    for line in Path("/proc/net/netstat").read_text().splitlines():
        if line.startswith("TcpExt:"):
            (keys if not keys else values).extend(line.split()[1:])
    table = dict(zip(keys, values))
    return {k: int(table.get(k, 0)) for k in ("TCPSynRetrans", "ListenOverflows")}


def busy_seconds() -> float:
    """Busy time of every core together (not idle, not iowait), in seconds."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu "):
            ticks = [int(t) for t in line.split()[1:9]]
            return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return 0.0


# ------------------------------------------------------------- backends --


def start_backend(s: Settings, procs: Processes, log: Path) -> tuple[subprocess.Popen, int]:
    """Starts one gpu_backend on an ephemeral port; returns it and its port once ready."""
    argv = [s.backend, "--port", "0", "--base-latency-ms", f"{s.base_latency_ms:g}",
            "--per-item-ms", f"{s.per_item_ms:g}", "--models", "m"]
    proc = procs.start(argv, log, s.load_cpu, stdout_pipe=True)
    ready, _, _ = select.select([proc.stdout], [], [], 10.0)
    line = proc.stdout.readline().decode() if ready else ""
    m = re.search(r'"listening"\s*:\s*"[^"]*:(\d+)"', line)
    if not m:
        procs.stop(proc)
        raise RuntimeError(f"gpu_backend did not start: {line.strip()} {tail(log)}")
    return proc, int(m.group(1))


def backend_stats(port: int) -> dict:
    """GET /stats of one backend ({} when unreadable)."""
    try:
        status, text = http_call(port, "GET", "/stats")
        return json.loads(text) if status == 200 else {}
    except (OSError, ValueError, http.client.HTTPException):
        return {}


# -------------------------------------------------------------- rampart --


def render_config(s: Settings, mode: Mode, path: Path, port: int, admin: int,
                  backends: list[int]) -> Path:
    """Writes the template with every @KEY@ filled; a leftover placeholder is an error."""
    values = {"ADMIN_PORT": str(admin), "PORT": str(port), "WORKERS": str(s.workers),
              "BACKEND1": str(backends[0]), "BACKEND2": str(backends[1]),
              "BATCHING": mode.batching_block(s)}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.search(r"@[A-Z0-9_]+@", text)
    if leftover:
        raise ValueError(f"{TEMPLATE.name}: no value for {leftover.group(0)}")
    path.write_text(text)
    return path


def wait_ready(proc: subprocess.Popen, port: int, log: Path) -> None:
    """Returns once an inference request through Rampart answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    why = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rampart exited with {proc.returncode}: {tail(log)}")
        try:
            status, text = http_call(port, "POST", MODEL_PATH, LOAD_BODY, timeout=1.0)
            if status == 200:
                return
            why = f"HTTP {status} {text[:120]}"
        except (OSError, http.client.HTTPException) as e:
            why = f"{type(e).__name__}: {e}"
        time.sleep(0.05)
    raise RuntimeError(f"rampart not ready after {READY_TIMEOUT_S:.0f} s ({why}) {tail(log)}")


def validate(s: Settings) -> None:
    """Fails early when Rampart is missing or refuses any config the run will use."""
    for tool in (s.rampart, s.backend, s.loadgen):
        if not os.access(tool, os.X_OK):
            raise SystemExit(f"not found: {tool} (build: cmake --build <dir> -j2 --target "
                             "rampart gpu_backend rampart_loadgen)")
    d = s.outdir / "validate"
    d.mkdir(parents=True, exist_ok=True)
    for mode in (Mode("unbatched"), Mode("static", 4, 1), Mode("learned")):
        conf = render_config(s, mode, d / f"{mode.slug()}.yaml", 1, 2, [3, 4])
        p = subprocess.run([s.rampart, "--validate", str(conf)], capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise SystemExit(f"rampart --validate refused {conf}: {(p.stderr + p.stdout).strip()}")


def metric_total(text: str, name: str) -> float:
    """Sum of one Prometheus metric over all its label sets."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"{name}(?:\{{[^}}]*\}})?\s+([0-9.eE+-]+)$", line)
        if m:
            total += float(m.group(1))
    return total


# ------------------------------------------------------------- verifier --


@dataclass
class VerifyCounts:
    """What the verifying client saw in one run."""

    sent: int = 0
    checked: int = 0  # 200 answers whose id and rows were checked
    mismatched: int = 0  # 200 answers with someone else's rows, a wrong id or a broken body
    non200: int = 0  # other statuses (not mis-splits; counted separately)
    errors: int = 0  # socket errors and timeouts
    examples: list[str] = field(default_factory=list)

    def add(self, other: "VerifyCounts") -> None:
        """Adds another run's counts (keeps the first few examples)."""
        self.sent += other.sent
        self.checked += other.checked
        self.mismatched += other.mismatched
        self.non200 += other.non200
        self.errors += other.errors
        self.examples = (self.examples + other.examples)[:10]


class Verifier:
    """A low-rate client beside the load: every request carries its own values
    (integers, exact in FP32, never repeated in the whole run) and its own id,
    and every 200 answer must carry exactly that id, output0 = 2x + 1 for its
    own row and row_sum = the sum of its own row. Two threads with keep-alive
    connections, each paced at half the rate (a slow answer delays that
    thread's next request, so it never piles load onto an overloaded proxy)."""

    _next_value = 1000  # shared across runs: values are never reused

    def __init__(self, port: int, rate: float, tag: str, timeout: float) -> None:
        self.port = port
        self.period = 2.0 / rate if rate > 0 else 0.0
        self.tag = tag
        self.timeout = timeout
        self.counts = VerifyCounts()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                        for i in range(2 if rate > 0 else 0)]

    def start(self) -> None:
        """Starts sending."""
        for t in self.threads:
            t.start()

    def stop(self) -> VerifyCounts:
        """Stops sending (waits for answers in flight) and returns the counts."""
        self.stopping.set()
        for t in self.threads:
            t.join(self.timeout + 2)
        return self.counts

    def _take(self) -> int:
        with self.lock:
            n = Verifier._next_value
            Verifier._next_value += 1
            return n

    def _loop(self, index: int) -> None:
        conn: Optional[http.client.HTTPConnection] = None
        due = time.monotonic() + index * self.period / 2
        while not self.stopping.wait(max(0.0, due - time.monotonic())):
            due = max(due + self.period, time.monotonic())
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            if not self._one(conn):
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _one(self, conn: http.client.HTTPConnection) -> bool:
        """Sends one request and checks its answer; False when the connection is unusable."""
        n = self._take()
        values = [float(n * WIDTH + k) for k in range(WIDTH)]
        rid = f"verify-{self.tag}-{n}"
        body = json.dumps({"id": rid, "inputs": [{"name": "input0", "shape": [1, WIDTH],
                                                  "datatype": "FP32", "data": values}]})
        with self.lock:
            self.counts.sent += 1
        try:
            conn.request("POST", MODEL_PATH, body=body, headers=JSON_HEADERS)
            resp = conn.getresponse()
            status, text = resp.status, resp.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.counts.errors += 1
            return False
        problem = check_answer(rid, values, text) if status == 200 else None
        with self.lock:
            if status != 200:
                self.counts.non200 += 1
            elif problem:
                self.counts.mismatched += 1
                if len(self.counts.examples) < 10:
                    self.counts.examples.append(f"{rid}: {problem}")
            else:
                self.counts.checked += 1
        return not resp.will_close


def check_answer(rid: str, values: list[float], text: str) -> Optional[str]:
    """Why a 200 answer is not this request's own (None when it is)."""
    try:
        out = json.loads(text)
        outputs = {o["name"]: o for o in out["outputs"]}
        output0, row_sum = outputs["output0"], outputs["row_sum"]
    except (ValueError, KeyError, TypeError) as e:
        return f"unreadable body ({type(e).__name__}): {text[:200]}"
    want0 = [2 * x + 1 for x in values]
    if out.get("id") != rid:
        return f"id {out.get('id')!r}"
    if output0.get("shape") != [1, WIDTH] or not close(output0.get("data"), want0):
        return f"output0 {output0.get('shape')} {output0.get('data')} != {want0}"
    if row_sum.get("shape") != [1, 1] or not close(row_sum.get("data"), [sum(values)]):
        return f"row_sum {row_sum.get('data')} != {[sum(values)]}"
    return None


def close(got: object, want: list[float]) -> bool:
    """Element-wise equality within FP32 rounding."""
    if not isinstance(got, list) or len(got) != len(want):
        return False
    try:
        return all(abs(float(g) - w) <= 1e-6 * max(1.0, abs(w)) for g, w in zip(got, want))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------ one cell --


@dataclass
class Cell:
    """One measured run: a mode at a rate."""

    mode: Mode
    rate: float
    duration: float
    kind: str  # "full", "sweep" or "search"
    error: Optional[str] = None
    sent: int = 0
    ok: int = 0
    within: float = 0.0  # estimated 200s within the SLO (see within_slo)
    within_lo: float = 0.0
    within_hi: float = 0.0
    p50: float = 0.0  # ms, every request (failures at the time they failed)
    p99: float = 0.0
    p50_ok: float = 0.0
    non2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0
    mean_batch: float = 0.0  # items / batches at the backends, measured part only
    max_batch: int = 0
    proxy_cpu_pct: float = 0.0
    foreign_cpu_pct: float = 0.0  # other processes' share of both cores, in % of one core
    verify: VerifyCounts = field(default_factory=VerifyCounts)
    rampart_refused: float = 0.0
    lag_p99: float = 0.0  # load generator's own lateness (ms, p99): stalls on the load core
    syn_retrans: int = 0  # SYN retransmits on the machine during the run (any process)
    listen_overflows: int = 0

    def goodput(self) -> float:
        """Requests per second answered 200 within the SLO (estimate)."""
        return self.within / self.duration if self.duration else 0.0

    def within_share(self) -> float:
        """Share of sent requests answered 200 within the SLO."""
        return self.within / self.sent if self.sent else 0.0

    def meets_slo(self) -> bool:
        """At least 99 % of the requests answered 200 within the SLO."""
        return self.error is None and self.within_share() >= WITHIN_SLO_TO_MEET


def within_slo(latency: dict, slo_ms: float) -> tuple[float, float, float]:
    """Share of a latency histogram at or below slo_ms: (estimate, lower, upper bound).
    rampart_loadgen reports p50/p90/p99/p999/max; the share is exact when max <= SLO,
    else it lies between the two quantiles around the SLO and is linearly interpolated."""
    if not latency or not latency.get("count"):
        return 0.0, 0.0, 0.0
    points = [(0.5, latency["p50"]), (0.9, latency["p90"]), (0.99, latency["p99"]),
              (0.999, latency["p999"]), (1.0, latency["max"])]
    q0, v0 = 0.0, 0.0
    for q, v in points:
        if slo_ms < v:
            est = q0 + (q - q0) * (slo_ms - v0) / (v - v0) if v > v0 else q0
            return est, q0, q
        q0, v0 = q, v
    return 1.0, 1.0, 1.0


def run_cell(s: Settings, procs: Processes, mode: Mode, rate: float, kind: str,
             repeat: int = 0) -> Cell:
    """Fresh backends and Rampart, the load with the verifier beside it, the numbers."""
    full = kind in ("full", "search")  # the high rate must hold for a full-length run
    duration, warmup = (s.duration, s.warmup) if full else (s.sweep_duration, s.sweep_warmup)
    cell = Cell(mode, rate, duration, kind)
    d = s.outdir / f"{kind}_{rate:g}_{mode.slug()}" / f"r{repeat}"
    d.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen] = []
    try:
        backends = []
        for i in range(2):
            proc, port = start_backend(s, procs, d / f"backend{i}.log")
            started.append(proc)
            backends.append((proc, port))
        ports = [p for _, p in backends]
        port, admin = free_port(), free_port()
        conf = render_config(s, mode, d / "rampart.yaml", port, admin, ports)
        log = d / "rampart.log"
        rampart = procs.start([s.rampart, "--config", str(conf)], log, s.proxy_cpu)
        started.append(rampart)
        wait_ready(rampart, port, log)
        measure(s, procs, cell, d, port, ports, [rampart.pid] + [p.pid for p, _ in backends],
                rampart.pid, warmup)
        if full:
            for path, name in (("/metrics", "metrics.txt"), ("/policies", "policies.json")):
                try:
                    (d / name).write_text(http_call(admin, "GET", path)[1])
                except (OSError, http.client.HTTPException):
                    pass
            metrics = (d / "metrics.txt").read_text() if (d / "metrics.txt").exists() else ""
            cell.rampart_refused = metric_total(metrics, "rampart_batch_refused_total")
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        cell.error = str(e)[:300]
    finally:
        for proc in reversed(started):
            procs.stop(proc)
    return cell


def measure(s: Settings, procs: Processes, cell: Cell, d: Path, port: int, backend_ports: list[int],
            pids: list[int], proxy_pid: int, warmup: float) -> None:
    """Runs the load generator (warm-up + measured part) with the verifier beside it;
    zeroes the backends' /stats and samples CPU at the end of the warm-up."""
    argv = [s.loadgen, "--url", f"http://127.0.0.1:{port}{MODEL_PATH}", "--body", LOAD_BODY,
            "--header", "Content-Type: application/json", "--rate", f"{cell.rate:g}",
            "--duration", f"{cell.duration:g}s", "--warmup", f"{warmup:g}s",
            "--timeout", f"{s.timeout_s:g}s", "--seed", str(s.seed)]
    if s.load_cpu is not None:
        argv = ["taskset", "-c", str(s.load_cpu)] + argv
    out = d / "loadgen.json"
    verifier = Verifier(port, s.verify_rate, f"{cell.kind}-{cell.rate:g}-{cell.mode.slug()}",
                        timeout=s.timeout_s + 1)
    with open(out, "wb") as stdout, open(d / "loadgen.err", "wb") as stderr:
        gen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                               start_new_session=True)
    procs.running.append(gen)
    t0 = time.monotonic()
    tcp0 = tcp_counters()
    verifier.start()
    try:
        time.sleep(max(0.0, t0 + warmup - time.monotonic()))
        for p in backend_ports:
            http_call(p, "POST", "/stats/reset")
        watched = pids + [gen.pid, os.getpid()]
        cpu0 = {pid: cpu_seconds(pid) for pid in watched}
        busy0, wall0 = busy_seconds(), time.monotonic()
        # Sample just before the end: the load generator is still alive to be read.
        time.sleep(max(0.0, t0 + warmup + cell.duration - 0.3 - time.monotonic()))
        cpu1 = {pid: cpu_seconds(pid) for pid in watched}
        busy1, wall1 = busy_seconds(), time.monotonic()
        gen.wait(timeout=cell.duration + s.timeout_s + 30)
        tcp1 = tcp_counters()
        cell.syn_retrans = tcp1["TCPSynRetrans"] - tcp0["TCPSynRetrans"]
        cell.listen_overflows = tcp1["ListenOverflows"] - tcp0["ListenOverflows"]
    finally:
        procs.stop(gen)
        cell.verify = verifier.stop()
    if gen.returncode != 0:
        raise RuntimeError(f"rampart_loadgen exited {gen.returncode}: {tail(d / 'loadgen.err')}")
    report = json.loads(out.read_text())
    stats = [backend_stats(p) for p in backend_ports]
    (d / "backend_stats.json").write_text(json.dumps(stats, indent=1))
    summarize(s, cell, report, stats)
    wall = max(wall1 - wall0, 1e-6)
    ours = sum(cpu1[p] - cpu0[p] for p in watched)
    cell.proxy_cpu_pct = 100.0 * (cpu1[proxy_pid] - cpu0[proxy_pid]) / wall
    cell.foreign_cpu_pct = max(0.0, 100.0 * ((busy1 - busy0) - ours) / wall)


def summarize(s: Settings, cell: Cell, report: dict, stats: list[dict]) -> None:
    """Fills a cell from the load generator's JSON and the backends' /stats."""
    totals = report["totals"]
    cell.sent, cell.ok, cell.non2xx = totals["sent"], totals["ok"], totals["non2xx"]
    errors = totals["errors"]
    cell.timeouts = errors.get("timeout", 0)
    cell.socket_errors = sum(errors.values())
    lat_all, lat_ok = totals["latency_ms"]["all"], totals["latency_ms"]["ok"]
    cell.p50, cell.p99, cell.p50_ok = lat_all["p50"], lat_all["p99"], lat_ok["p50"]
    cell.lag_p99 = report.get("schedule_lag_ms", {}).get("p99", 0.0)
    est, lo, hi = within_slo(lat_ok, s.slo_ms)
    cell.within, cell.within_lo, cell.within_hi = cell.ok * est, cell.ok * lo, cell.ok * hi
    items = sum(st.get("items", 0) for st in stats)
    batches = sum(st.get("batches", 0) for st in stats)
    cell.mean_batch = items / batches if batches else 0.0
    sizes = [int(k) for st in stats for k in st.get("batches_by_size", {})]
    cell.max_batch = max(sizes, default=0)


# ------------------------------------------------------------ the suite --




def log_cell(cell: Cell) -> None:
    """One progress line per run on stderr."""
    if cell.error:
        print(f"  {cell.kind:6} {cell.rate:>6g}/s {cell.mode.label():22} ERROR {cell.error}",
              file=sys.stderr, flush=True)
        return
    v = cell.verify
    print(f"  {cell.kind:6} {cell.rate:>6g}/s {cell.mode.label():22} goodput {cell.goodput():7.1f}"
          f" ({100 * cell.within_share():5.1f}% in SLO) p50 {cell.p50:6.1f} p99 {cell.p99:7.1f} ms"
          f" batch {cell.mean_batch:4.1f} proxy {cell.proxy_cpu_pct:3.0f}% other"
          f" {cell.foreign_cpu_pct:3.0f}% lag {cell.lag_p99:5.1f} verify {v.checked}/{v.sent}"
          f" bad {v.mismatched} syn {cell.syn_retrans}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    """The median (mean of the middle two for an even count); 0 for none."""
    xs = sorted(values)
    if not xs:
        return 0.0
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


@dataclass
class Summary:
    """The repeats of one mode at one rate: medians of every figure."""

    mode: Mode
    rate: float
    cells: list[Cell]

    def good(self) -> list[Cell]:
        """The repeats that ran to the end."""
        return [c for c in self.cells if c.error is None]

    def med(self, fn) -> float:
        """Median of fn over the completed repeats."""
        return median([fn(c) for c in self.good()])

    def goodput(self) -> float:
        """Median goodput (req/s answered 200 within the SLO)."""
        return self.med(Cell.goodput)

    def goodput_range(self) -> tuple[float, float]:
        """Lowest and highest goodput over the repeats."""
        g = [c.goodput() for c in self.good()] or [0.0]
        return min(g), max(g)

    def p50(self) -> float:
        """Median over repeats of p50 (ms)."""
        return self.med(lambda c: c.p50)

    def p99(self) -> float:
        """Median over repeats of p99 (ms)."""
        return self.med(lambda c: c.p99)

    def error(self) -> Optional[str]:
        """Why no repeat completed, or None."""
        if self.good():
            return None
        return self.cells[0].error if self.cells else "not run"

    def verify(self) -> VerifyCounts:
        """Verifier counts summed over the repeats."""
        total = VerifyCounts()
        for c in self.cells:
            total.add(c.verify)
        return total


@dataclass
class Suite:
    """Everything measured in one run of the driver."""

    settings: Settings
    repeat: int
    search: list[Cell] = field(default_factory=list)
    high_rate: float = 0.0
    sweeps: dict[float, list[Cell]] = field(default_factory=dict)
    # rate -> "unbatched" | "learned" | "static" (the best) | "static2".. -> Summary
    full: dict[float, dict[str, Summary]] = field(default_factory=dict)
    seconds: float = 0.0

    def all_cells(self) -> list[Cell]:
        """Every run, for the mis-split total."""
        cells = list(self.search)
        for sweep in self.sweeps.values():
            cells += sweep
        for row in self.full.values():
            for summary in row.values():
                cells += summary.cells
        return cells


def find_high_rate(s: Settings, procs: Processes, suite: Suite, candidates: list[float]) -> float:
    """The highest rate at which the learned window meets the SLO in full-length runs:
    the candidates ascending until one fails (a failure is retried once: a stall
    of the shared machine can sink one run), then one step half-way between the
    last pass and the first failure."""

    def passes(rate: float) -> bool:
        for attempt in range(2):
            cell = run_cell(s, procs, Mode("learned"), rate, "search", attempt)
            suite.search.append(cell)
            log_cell(cell)
            if cell.meets_slo():
                return True
        return False

    best, failed = 0.0, None
    for rate in candidates:
        if not passes(rate):
            failed = rate
            break
        best = rate
    if best and failed:
        mid = round((best + failed) / 2 / 50) * 50
        if best < mid < failed and passes(mid):
            best = mid
    return best


def rank_static(cells: list[Cell]) -> list[Cell]:
    """The sweep, best first: the highest goodput; within 1 % of the top, the lowest p99, then p50."""
    ok = [c for c in cells if c.error is None]
    if not ok:
        return []
    top = max(c.goodput() for c in ok)

    def key(c: Cell) -> tuple:
        if c.goodput() >= 0.99 * top:
            return (0, c.p99, c.p50)
        return (1, -c.goodput(), c.p99)
    return sorted(ok, key=key)


def best_of(summaries: list[Summary]) -> Optional[Summary]:
    """The static finalist with the highest median goodput (within 1 %: the lower p99)."""
    ok = [x for x in summaries if x.error() is None]
    if not ok:
        return None
    top = max(x.goodput() for x in ok)
    return min((x for x in ok if x.goodput() >= 0.99 * top), key=lambda x: (x.p99(), x.p50()))


def run_rate(s: Settings, procs: Processes, suite: Suite, rate: float, finalists: int) -> None:
    """The static sweep at one rate, then `repeat` rounds of full runs of unbatched,
    the sweep's finalists and learned (rounds as the outer loop, so a slow phase
    of the machine hits every mode alike)."""
    print(f"rate {rate:g}/s: static sweep ({len(s.sweep_batches) * len(s.sweep_delays_ms)}"
          " short runs)", file=sys.stderr, flush=True)
    sweep = []
    for batch in s.sweep_batches:
        for delay in s.sweep_delays_ms:
            cell = run_cell(s, procs, Mode("static", batch, delay), rate, "sweep")
            sweep.append(cell)
            log_cell(cell)
    suite.sweeps[rate] = sweep
    chosen = [c.mode for c in rank_static(sweep)[:finalists]]
    modes = [Mode("unbatched")] + chosen + [Mode("learned")]
    runs: dict[Mode, list[Cell]] = {m: [] for m in modes}
    for r in range(suite.repeat):
        print(f"rate {rate:g}/s: full runs, round {r + 1} of {suite.repeat}", file=sys.stderr,
              flush=True)
        for mode in modes:
            cell = run_cell(s, procs, mode, rate, "full", r)
            runs[mode].append(cell)
            log_cell(cell)
    row = {"unbatched": Summary(modes[0], rate, runs[modes[0]]),
           "learned": Summary(modes[-1], rate, runs[modes[-1]])}
    statics = [Summary(m, rate, runs[m]) for m in chosen]
    best = best_of(statics)
    if best:
        row["static"] = best
    for i, other in enumerate(x for x in statics if x is not best):
        row[f"static{i + 2}"] = other
    suite.full[rate] = row


def run_suite(s: Settings, procs: Processes, rates: list[float], search: list[float],
              high_rate: Optional[float], repeat: int, finalists: int) -> Suite:
    """The search for the high rate (unless given), then every rate."""
    suite = Suite(s, repeat)
    start = time.monotonic()
    if high_rate is None and search:
        print("high rate search (learned window, full-length runs):", file=sys.stderr, flush=True)
        high_rate = find_high_rate(s, procs, suite, search)
        if high_rate == 0.0:
            high_rate = search[0]
            print(f"  learned met the SLO at no candidate; using {high_rate:g}/s",
                  file=sys.stderr, flush=True)
    suite.high_rate = high_rate or 0.0
    for rate in rates + ([suite.high_rate] if suite.high_rate else []):
        run_rate(s, procs, suite, rate, finalists)
    suite.seconds = time.monotonic() - start
    return suite


# --------------------------------------------------------------- report --


def fmt_ms(v: float) -> str:
    """Milliseconds with a sensible number of digits."""
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def summary_row(role: str, x: Summary) -> str:
    """One table row: medians over the repeats."""
    setting = x.mode.label().replace("static ", "") if x.mode.kind == "static" else "–"
    if x.error():
        return f"| {role} | {setting} | error: {x.error()} | | | | | | | |"
    lo, hi = x.goodput_range()
    spread = f" ({lo:.0f}–{hi:.0f})" if len(x.good()) > 1 else ""
    timeouts = any(c.timeouts > 0.01 * max(c.sent, 1) for c in x.good())
    v = x.verify()
    return (f"| {role} | {setting} | {x.goodput():.1f}{spread} | "
            f"{100 * x.med(Cell.within_share):.1f} % | {fmt_ms(x.p50())} | "
            f"{fmt_ms(x.p99())}{' (timeouts)' if timeouts else ''} | "
            f"{x.med(lambda c: c.mean_batch):.1f} (max {max(c.max_batch for c in x.good())}) | "
            f"{v.mismatched} / {v.checked + v.mismatched} | "
            f"{x.med(lambda c: c.proxy_cpu_pct):.0f} % | {x.med(lambda c: c.foreign_cpu_pct):.0f} %"
            f" / {x.med(lambda c: c.lag_p99):.1f} ms |")


def ratio(a: float, b: float) -> float:
    """a / b, infinity when b is 0 and a is not."""
    if b > 0:
        return a / b
    return float("inf") if a > 0 else 0.0


def checks(suite: Suite) -> list[tuple[str, bool, str]]:
    """Issue 5's targets: (what, passed, the numbers)."""
    out = []
    rates = sorted(suite.full)
    for rate in rates:
        row = suite.full[rate]
        learned, static = row.get("learned"), row.get("static")
        what = f"{rate:g}/s: learned goodput ≥ 0.95× best static"
        if learned and static and not learned.error() and not static.error():
            r = ratio(learned.goodput(), static.goodput())
            out.append((what, r >= 0.95, f"{learned.goodput():.1f} vs {static.goodput():.1f} "
                        f"({static.mode.label()}) = {r:.3f}×"))
        else:
            out.append((what, False, "a run failed"))
    if not rates:
        return out
    top, low = suite.full[rates[-1]], suite.full[rates[0]]
    learned, unbatched = top.get("learned"), top.get("unbatched")
    if learned and unbatched and not learned.error() and not unbatched.error():
        r = ratio(learned.goodput(), unbatched.goodput())
        out.append((f"highest rate {rates[-1]:g}/s: learned goodput ≥ 10× unbatched", r >= 10,
                    f"{learned.goodput():.1f} vs {unbatched.goodput():.1f} = {r:.1f}×"))
        s = suite.settings
        ceiling = 2 * 1000.0 / (s.base_latency_ms + s.per_item_ms)
        r2 = ratio(learned.goodput(), ceiling)
        out.append(("(stricter) highest-rate learned goodput ≥ 10× the most unbatched proxying "
                    f"can ever serve (2 backends × 1 / {s.base_latency_ms + s.per_item_ms:g} ms)",
                    r2 >= 10, f"{learned.goodput():.1f} vs {ceiling:.1f} = {r2:.1f}×"))
    learned, unbatched = low.get("learned"), low.get("unbatched")
    if learned and unbatched and not learned.error() and not unbatched.error():
        r = ratio(learned.p50(), unbatched.p50())
        out.append((f"lowest rate {rates[0]:g}/s: learned p50 ≤ 1.1× unbatched p50", r <= 1.1,
                    f"{learned.p50():.2f} vs {unbatched.p50():.2f} ms = {r:.3f}×"))
    cells = suite.all_cells()
    bad = sum(c.verify.mismatched for c in cells)
    checked = sum(c.verify.checked + c.verify.mismatched for c in cells)
    out.append(("zero mis-split responses (every run: search, sweep, full)", bad == 0,
                f"{bad} of {checked} checked answers"))
    return out


def sweep_table(s: Settings, cells: list[Cell], finalists: list[Mode], best: Optional[Mode]) -> list[str]:
    """The sweep as a grid: goodput (p99 ms) per max batch × max delay; finalists
    marked *, the best at full length in bold."""
    by = {(c.mode.batch, c.mode.delay_ms): c for c in cells}
    lines = ["| max batch \\ max delay | " + " | ".join(f"{d:g} ms" for d in s.sweep_delays_ms)
             + " |", "|---" * (len(s.sweep_delays_ms) + 1) + "|"]
    for b in s.sweep_batches:
        row = [f"| {b} "]
        for dly in s.sweep_delays_ms:
            c = by.get((b, dly))
            if c is None:
                row.append("| ")
            elif c.error:
                row.append("| error ")
            else:
                text = f"{c.goodput():.0f} ({fmt_ms(c.p99)})"
                if c.mode in finalists:
                    text += "*"
                if c.mode == best:
                    text = f"**{text}**"
                row.append(f"| {text} ")
        lines.append("".join(row) + "|")
    return lines


def machine_notes() -> str:
    """CPU, kernel."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor()}, {os.cpu_count()} cores, Linux {platform.release()}"


def report(suite: Suite, rates_named: dict[float, str], load_before: float) -> str:
    """The markdown report."""
    s = suite.settings
    lines = [f"# Batching benchmark — {datetime.datetime.now():%Y-%m-%d %H:%M}", "",
             f"- machine: {machine_notes()}; load average {load_before:.2f} before, "
             f"{os.getloadavg()[0]:.2f} after",
             f"- backends: 2 × gpu_backend ({s.base_latency_ms:g} ms + {s.per_item_ms:g} ms per "
             f"item, one batch at a time) and rampart_loadgen and this driver (with the verifier) "
             f"on CPU {s.load_cpu}; Rampart `workers: {s.workers}` on CPU {s.proxy_cpu}",
             f"- load: open loop, Poisson (seed {s.seed}), single-item KServe v2 requests "
             f"([1, {WIDTH}] FP32); SLO {s.slo_ms:g} ms; full and search runs {s.warmup:g} s warm-up"
             f" + {s.duration:g} s, full runs in {suite.repeat} rounds (medians shown); sweep runs "
             f"{s.sweep_warmup:g} s + {s.sweep_duration:g} s; load generator timeout {s.timeout_s:g} s",
             f"- learned: `mode: learned, max_batch_size: {s.learned_max_batch}, slo: "
             f"{s.slo_ms:g}ms`; static sweep: max batch {', '.join(map(str, s.sweep_batches))} × "
             f"max delay {', '.join(f'{d:g}' for d in s.sweep_delays_ms)} ms, the sweep's best "
             "re-measured at full length",
             f"- verifying client: {s.verify_rate:g} req/s beside the load in every run, distinct "
             "values and ids, every 200 checked (id, output0 = 2x+1, row_sum)",
             f"- run time: {suite.seconds / 60:.1f} min", ""]
    if suite.search:
        lines += [f"## Highest rate at which the learned window meets the SLO: {suite.high_rate:g}"
                  " req/s", "", "Full-length runs of the learned window; meets = ≥ 99 % of requests "
                  "answered 200 within the SLO; a failure is retried once, and after the first "
                  "failing candidate one rate half-way is tried.", "",
                  "| rate | within SLO | goodput | p50 ms | p99 ms | mean batch | proxy CPU |",
                  "|---|---|---|---|---|---|---|"]
        for c in suite.search:
            lines.append(f"| {c.rate:g} | error: {c.error} | | | | | |" if c.error else
                         f"| {c.rate:g} | {100 * c.within_share():.1f} % | {c.goodput():.0f} | "
                         f"{fmt_ms(c.p50)} | {fmt_ms(c.p99)} | {c.mean_batch:.1f} | "
                         f"{c.proxy_cpu_pct:.0f} % |")
        lines.append("")
    for rate in sorted(suite.full):
        name = rates_named.get(rate, "")
        row = suite.full[rate]
        lines += [f"## {name + ': ' if name else ''}{rate:g} req/s offered", "",
                  "| mode | setting | goodput req/s (range) | 200 within SLO | p50 ms | p99 ms | "
                  "mean batch at backends | mis-split / checked | proxy CPU | other CPU / "
                  "load lag p99 |", "|---|---|---|---|---|---|---|---|---|---|"]
        for role in ["unbatched", "static", "learned"] + sorted(k for k in row if k[:6] == "static"
                                                                and k != "static"):
            if role in row:
                label = {"static": "best static", "unbatched": "unbatched",
                         "learned": "**learned**"}.get(role, "(other finalist)")
                lines.append(summary_row(label, row[role]))
        lines.append("")
    lines += ["## Targets (issue 5)", "", "| target | result | numbers |", "|---|---|---|"]
    for what, ok, numbers in checks(suite):
        lines.append(f"| {what} | {'PASS' if ok else 'FAIL'} | {numbers} |")
    lines.append("")
    suspect = [c for c in suite.all_cells() if c.kind == "full" and c.error is None
               and c.foreign_cpu_pct > FOREIGN_CPU_WARN_PCT]
    if suspect:
        lines += [f"**Shared machine**: in {len(suspect)} of "
                  f"{sum(1 for c in suite.all_cells() if c.kind == 'full')} full runs other "
                  f"processes used more than {FOREIGN_CPU_WARN_PCT:g} % of a core (median "
                  f"{median([c.foreign_cpu_pct for c in suspect]):.0f} %); their p99s carry "
                  "scheduling stalls (see load lag: the load generator's own lateness).", ""]
    examples = [e for c in suite.all_cells() for e in c.verify.examples]
    if examples:
        lines += ["Mis-split examples:", ""] + [f"- `{e}`" for e in examples[:10]] + [""]
    lines += ["## Static sweeps", "", "Goodput req/s (p99 ms) of each short run; * = finalist "
              "re-measured at full length, bold = the best of them.", ""]
    for rate in sorted(suite.sweeps):
        row = suite.full.get(rate, {})
        finalists = [x.mode for k, x in row.items() if k.startswith("static")]
        best = row["static"].mode if "static" in row else None
        lines += [f"### {rate:g} req/s", ""] + sweep_table(s, suite.sweeps[rate], finalists, best)
        lines.append("")
    lines += ["Goodput = requests answered 200 within the SLO per second of the measured part. "
              "The share within the SLO is exact when the slowest answer is within it, else "
              "interpolated between the load generator's latency quantiles (p50/p90/p99/p99.9/max) "
              "around the SLO. p50 / p99 cover every request, failures at the time they failed. "
              "Mean batch = items / batches executed by the two backends in the measured part. "
              "Other CPU = busy time of both cores not used by Rampart, the backends, the load "
              "generator or this driver, in % of one core.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------- main --


def parse_list(text: str, kind=float) -> list:
    """'1,2,5' -> [1.0, 2.0, 5.0]."""
    return [kind(x) for x in text.split(",") if x.strip()]


def parse_args() -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--build", default="build", help="build dir with the three binaries")
    p.add_argument("--rampart", help="Rampart binary (default: BUILD/proxy/rampart)")
    p.add_argument("--backend", help="gpu_backend (default: BUILD/examples/gpu_backend)")
    p.add_argument("--loadgen", help="default: BUILD/bench/loadgen/rampart_loadgen")
    p.add_argument("--workers", type=int, default=1, help="Rampart worker threads")
    p.add_argument("--rates", default="20,400", help="low and medium rates, req/s")
    p.add_argument("--high-rate", type=float, help="fix the high rate (skips the search)")
    p.add_argument("--search", default="3000,4000,4500,5000",
                   help="high-rate candidates for the learned window, ascending (full-length "
                        "runs; after the first failure one more half-way)")
    p.add_argument("--duration", type=float, default=10.0, help="measured s of a full run")
    p.add_argument("--warmup", type=float, default=3.0, help="warm-up s of a full run")
    p.add_argument("--repeat", type=int, default=3, help="rounds of full runs (medians shown)")
    p.add_argument("--finalists", type=int, default=2,
                   help="best sweep settings re-measured at full length")
    p.add_argument("--sweep-duration", type=float, default=4.0, help="measured s, sweep runs")
    p.add_argument("--sweep-warmup", type=float, default=2.0, help="warm-up s, sweep runs")
    p.add_argument("--sweep-batch", default="4,8,16,32,64")
    p.add_argument("--sweep-delay", default="1,2,5,10,20", help="ms")
    p.add_argument("--learned-max-batch", type=int, default=64)
    p.add_argument("--slo-ms", type=float, default=100.0)
    p.add_argument("--timeout", type=float, default=2.0, help="load generator timeout, s")
    p.add_argument("--verify-rate", type=float, default=5.0, help="verifier req/s (0 = off)")
    p.add_argument("--base-latency-ms", type=float, default=8.0)
    p.add_argument("--per-item-ms", type=float, default=0.25)
    p.add_argument("--proxy-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--seed", type=int, default=1, help="arrival sequence (same for every run)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test of the driver: sweep {8,64}x{2,10} ms, 1 round of 4 s runs")
    p.add_argument("--out", help="report file (default bench/results/batching_<date>.md)")
    args = p.parse_args()
    if args.quick:
        args.sweep_batch, args.sweep_delay, args.repeat, args.finalists = "8,64", "2,10", 1, 1
        args.duration, args.warmup, args.sweep_duration, args.sweep_warmup = 4, 2, 2, 1
    return args


def main() -> int:
    args = parse_args()
    build = Path(args.build) if Path(args.build).is_absolute() else ROOT / args.build
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S")
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"batching_{stamp}.md"
    outdir = out.with_suffix("")
    outdir.mkdir(parents=True, exist_ok=True)
    proxy_cpu, load_cpu = args.proxy_cpu, args.load_cpu
    if {proxy_cpu, load_cpu} <= os.sched_getaffinity(0) and proxy_cpu != load_cpu:
        os.sched_setaffinity(0, {load_cpu})  # the driver and its verifier share the load core
    else:
        print(f"warning: cannot pin to CPUs {proxy_cpu}/{load_cpu}; running unpinned",
              file=sys.stderr)
        proxy_cpu = load_cpu = None
    s = Settings(args.duration, args.warmup, args.sweep_duration, args.sweep_warmup, args.slo_ms,
                 args.timeout, args.workers, args.learned_max_batch,
                 parse_list(args.sweep_batch, int), parse_list(args.sweep_delay),
                 args.verify_rate, args.base_latency_ms, args.per_item_ms, proxy_cpu, load_cpu,
                 args.rampart or str(build / "proxy" / "rampart"),
                 args.backend or str(build / "examples" / "gpu_backend"),
                 args.loadgen or str(build / "bench" / "loadgen" / "rampart_loadgen"),
                 outdir, args.seed)
    rates = parse_list(args.rates)
    named = dict(zip(rates, ["low", "medium"]))
    validate(s)
    load_before = os.getloadavg()[0]
    procs = Processes()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        suite = run_suite(s, procs, rates, parse_list(args.search), args.high_rate, args.repeat,
                          args.finalists)
    finally:
        procs.stop_all()
    named[suite.high_rate] = "high"
    text = report(suite, named, load_before)
    out.write_text(text)
    print(text)
    print(f"report: {out}\nruns: {outdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

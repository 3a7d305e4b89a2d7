#!/usr/bin/python3
"""Proxy comparison benchmark: direct, Rampart, HAProxy, nginx and nghttpx in one run.

Every proxy runs with one worker, pinned to one core, in front of the same
upstream nginx; the load generator and the upstream share the other core.
Each (case, proxy, repeat) gets a freshly started proxy, a readiness check,
an idle-RSS reading, a warm-up and a measured run. The result is a markdown
table with ratios to HAProxy. See bench/README.md for the method.

Standard library only; run by /usr/bin/python3 (Debian 12: Python 3.11).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CONFIG_DIR = BENCH_DIR / "configs"
READY_TIMEOUT_S = 10.0
SMALL_BODY = b"ok\n"
BODY_4K = (b"0123456789abcdef" * 256)[:4096]
REFERENCE = "haproxy"


# ---------------------------------------------------------------- cases --


@dataclass(frozen=True)
class Case:
    """One load shape. `frontend` is the protocol the load generator speaks to
    the proxy; a proxy that does not list it gets a "not available" row."""

    key: str  # name for --cases
    title: str  # row label
    path: str  # request path (the upstream serves /small and /4k)
    body: bytes  # the body every response must carry
    headers: tuple[str, ...] = ()  # extra request headers
    frontend: str = "http1"  # http1, h2c (prior knowledge), https (HTTP/1.1 over TLS), h2-tls
    loadgen: str = "wrk"  # key into LOADGENS
    keepalive: bool = True  # the Rampart targets apply to keep-alive cases
    h2_clients: int = 8  # h2load connections
    streams: int = 32  # h2load concurrent streams per connection

    @property
    def tls(self) -> bool:
        return self.frontend in TLS_FRONTENDS


TLS_FRONTENDS = frozenset({"https", "h2-tls"})

CASES = [
    Case("small", "small body, keep-alive", "/small", SMALL_BODY),
    Case("4k", "4 KiB body, keep-alive", "/4k", BODY_4K),
    Case("close", "new connection per request", "/small", SMALL_BODY,
         headers=("Connection: close",), keepalive=False),
    Case("h2c-small", "h2c small body, 8 conns × 32 streams", "/small", SMALL_BODY,
         frontend="h2c", loadgen="h2load"),
    Case("h2c-4k", "h2c 4 KiB body, 8 conns × 32 streams", "/4k", BODY_4K,
         frontend="h2c", loadgen="h2load"),
    Case("tls-h1", "TLS HTTP/1.1, keep-alive", "/small", SMALL_BODY, frontend="https"),
    Case("tls-h2", "TLS h2, 8 conns × 32 streams", "/small", SMALL_BODY, frontend="h2-tls",
         loadgen="h2load"),
    # Every request is a new connection and a full handshake (wrk does not resume):
    # req/s here is handshakes/s.
    Case("tls-handshake", "TLS HTTP/1.1, new handshake per request", "/small", SMALL_BODY,
         headers=("Connection: close",), frontend="https", keepalive=False),
]


# ------------------------------------------------------------ processes --


class Processes:
    """Every process this script started, so all of them die on any exit.

    Each child gets its own session (process group == its pid), so stopping
    it also stops the workers it forked (nginx, nghttpx)."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: Path, cpu: Optional[int]) -> subprocess.Popen:
        """Starts argv (pinned to cpu when given) with output to log."""
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM to the child's group, SIGKILL after 5 s; idempotent."""
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers left in the group
        except ProcessLookupError:
            pass
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        """Stops every process still running, newest first."""
        for proc in reversed(list(self.running)):
            self.stop(proc)


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """PIDs whose parent is pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def worker_pid(pid: int) -> int:
    """The process doing the work: follows single children (taskset has
    exec'd; nginx and nghttpx masters fork exactly one worker)."""
    kids = children(pid)
    while len(kids) == 1:
        pid = kids[0]
        kids = children(pid)
    return pid


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads) in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_times() -> dict[int, tuple[int, int]]:
    """Per-core (busy, total) jiffies from /proc/stat; busy excludes idle and iowait."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        m = re.match(r"cpu(\d+)\s+(.*)", line)
        if m:
            ticks = [int(t) for t in m.group(2).split()[:8]]
            times[int(m.group(1))] = (sum(ticks) - ticks[3] - ticks[4], sum(ticks))
    return times


def busy_pct(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]],
             cpu: Optional[int]) -> Optional[float]:
    """How busy one core was between two core_times() readings, in %."""
    if cpu is None or cpu not in before or cpu not in after:
        return None
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return busy / total * 100.0 if total > 0 else None


def status_mib(pid: int, key: str) -> float:
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    raise KeyError(key)


def probe(port: int, case: Case) -> Optional[str]:
    """None when GET case.path answers 200 with the expected body, else why not."""
    if case.tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=1.0,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", case.path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return f"HTTP {resp.status}"
        if body != case.body:
            return f"wrong body ({len(body)} bytes)"
        return None
    except (OSError, http.client.HTTPException) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        conn.close()


def wait_ready(proc: Optional[subprocess.Popen], port: int, case: Case,
               log: Optional[Path]) -> None:
    """Returns once the server answers case correctly; raises RuntimeError otherwise."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    why = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} {tail(log)}".strip())
        why = probe(port, case)
        if why is None:
            return
        time.sleep(0.05)
    raise RuntimeError(f"not ready after {READY_TIMEOUT_S:.0f} s ({why}) {tail(log)}".strip())


def tail(log: Optional[Path], lines: int = 3) -> str:
    """The last lines of a log file on one line, for error messages."""
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return " | ".join(t.strip() for t in text)


# ------------------------------------------------------------- configs --


def render(template: str, out: Path, values: dict[str, str]) -> Path:
    """Writes configs/<template> to out with every @KEY@ replaced; a leftover
    placeholder is a bug in the template or the caller."""
    text = (CONFIG_DIR / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.search(r"@[A-Z0-9_]+@", text)
    if leftover:
        raise ValueError(f"{template}: no value for {leftover.group(0)}")
    out.write_text(text)
    return out


def nginx_argv(conf: Path, prefix: Path) -> list[str]:
    """nginx with everything (prefix, config, early error log) under prefix."""
    return ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error_early.log")]


# ------------------------------------------------------------- servers --


@dataclass
class Server:
    """A proxy under test (or `direct`, which is no proxy at all)."""

    name: str
    binary: str  # looked up on PATH unless absolute
    template: Optional[str]  # file in configs/, None for direct
    argv: Callable[[Path, Path], list[str]]  # (config, workdir) -> command line
    frontends: frozenset[str] = frozenset({"http1"})  # protocols it accepts
    tls_template: Optional[str] = None  # file in configs/ for the TLS frontends

    def missing(self) -> Optional[str]:
        """Why this server cannot run at all, or None."""
        if self.template is None:
            return None
        found = self.binary if os.path.isabs(self.binary) else shutil.which(self.binary)
        if not found or not os.access(found, os.X_OK):
            return f"{self.binary} not found"
        return None


def make_servers(rampart: str) -> list[Server]:
    """The line-up, in table order. nginx is left out of h2c: its cleartext
    http2 listener cannot also serve HTTP/1.1, so it would not be the same proxy."""
    every = frozenset({"http1", "h2c", "https", "h2-tls"})
    return [
        Server("direct", "", None, lambda c, d: []),
        Server("rampart", rampart, "rampart.yaml", lambda c, d: [rampart, "--config", str(c)],
               every, "rampart_tls.yaml"),
        Server("rampart+policies", rampart, "rampart_policies.yaml",
               lambda c, d: [rampart, "--config", str(c)], frozenset({"http1", "h2c"})),
        Server("haproxy", "haproxy", "haproxy.cfg", lambda c, d: ["haproxy", "-db", "-f", str(c)],
               every, "haproxy_tls.cfg"),
        Server("nginx", "nginx", "nginx.conf", lambda c, d: nginx_argv(c, d),
               frozenset({"http1", "https", "h2-tls"}), "nginx_tls.conf"),
        Server("nghttpx", "nghttpx", "nghttpx.conf", lambda c, d: ["nghttpx", f"--conf={c}"],
               every, "nghttpx_tls.conf"),
    ]


@dataclass
class Settings:
    """Everything that shapes a run (from the command line)."""

    duration: int
    warmup: int
    connections: int
    threads: int
    timeout: str
    repeat: int
    proxy_cpu: Optional[int]
    load_cpu: Optional[int]
    workdir: Path
    base_values: dict[str, str] = field(default_factory=dict)


def start_server(server: Server, case: Case, settings: Settings, procs: Processes,
                 upstream_port: int, run_id: str) -> tuple[subprocess.Popen, int, Path]:
    """Starts a fresh instance of server for case; returns (process, port, log)."""
    port = free_port()
    d = settings.workdir / run_id
    d.mkdir(parents=True)
    if server.name == "nginx":  # it refuses to start without its temp dirs
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / "nginx_tmp" / sub).mkdir(parents=True)
    values = dict(settings.base_values, PORT=str(port), UPSTREAM_PORT=str(upstream_port),
                  DIR=str(d))
    template = server.tls_template if case.tls else server.template
    conf = render(template, d / template, values)
    log = d / "output.log"
    return procs.start(server.argv(conf, d), log, settings.proxy_cpu), port, log


def start_upstream(settings: Settings, procs: Processes) -> int:
    """Starts the upstream nginx on the load core; returns its port."""
    port = free_port()
    d = settings.workdir / "upstream"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (d / "upstream_nginx_tmp" / sub).mkdir(parents=True)
    (d / "www").mkdir()
    (d / "www" / "4k").write_bytes(BODY_4K)
    values = dict(settings.base_values, PORT=str(port), DIR=str(d))
    conf = render("upstream_nginx.conf", d / "upstream_nginx.conf", values)
    log = d / "output.log"
    proc = procs.start(nginx_argv(conf, d), log, settings.load_cpu)
    for case in CASES:
        if not case.tls:  # the upstream itself is cleartext HTTP/1.1
            wait_ready(proc, port, case, log)
    return port


# ------------------------------------------------------------ load gen --


@dataclass
class LoadResult:
    """What one load-generator run reports."""

    rps: float = 0.0  # completed requests per second (any status)
    p50_s: float = 0.0
    p99_s: float = 0.0
    requests: int = 0
    bytes_read: float = 0.0
    non2xx: int = 0  # responses with status >= 400
    socket_errors: int = 0  # connect + read + write + timeout
    failure: Optional[str] = None  # the tool failed or printed nothing usable


UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
UNIT_B = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}


def parse_wrk(text: str) -> LoadResult:
    """Parses `wrk --latency` output (latencies in us/ms/s/m, sizes in B..TB)."""
    r = LoadResult()
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if not m:
        r.failure = "no Requests/sec in wrk output: " + " | ".join(text.strip().splitlines()[-3:])
        return r
    r.rps = float(m.group(1))
    for pct, attr in (("50", "p50_s"), ("99", "p99_s")):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
        if m:
            setattr(r, attr, float(m.group(1)) * UNIT_S[m.group(2)])
        else:
            r.failure = f"no {pct}% latency in wrk output"
    m = re.search(r"^\s*(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB|TB|PB) read", text, re.M)
    if m:
        r.requests = int(m.group(1))
        r.bytes_read = float(m.group(2)) * UNIT_B[m.group(3)]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r.socket_errors = sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r.non2xx = int(m.group(1))
    return r


def run_wrk(url: str, case: Case, seconds: int, settings: Settings, procs: Processes) -> LoadResult:
    """One wrk run on the load core; its output goes through parse_wrk."""
    argv = ["wrk", "-t", str(settings.threads), "-c", str(settings.connections),
            "-d", f"{seconds}s", "--timeout", settings.timeout, "--latency"]
    for h in case.headers:
        argv += ["-H", h]
    argv.append(url)
    log = settings.workdir / "wrk.log"
    log.write_text("")
    proc = procs.start(argv, log, settings.load_cpu)
    try:
        proc.wait(timeout=seconds + 60)
    finally:
        procs.stop(proc)
    result = parse_wrk(log.read_text(errors="replace"))
    if proc.returncode != 0 and result.failure is None:
        result.failure = f"wrk exited with {proc.returncode}"
    return result


def parse_h2load(text: str, latencies_us: list[int]) -> LoadResult:
    """Parses h2load's summary; p50/p99 come from its per-request log (h2load
    prints no percentiles)."""
    r = LoadResult()
    m = re.search(r"^finished in [\d.]+\w+, ([\d.]+) req/s", text, re.M)
    counts = re.search(r"^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    if not m or not counts:
        r.failure = "no summary in h2load output: " + " | ".join(text.strip().splitlines()[-3:])
        return r
    r.rps = float(m.group(1))
    r.requests = int(counts.group(2))
    r.socket_errors = int(counts.group(5)) + int(counts.group(6))
    m = re.search(r"^status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    if m:
        r.non2xx = int(m.group(1)) + int(m.group(2))
    m = re.search(r"^traffic: [\d.]+\w+ \((\d+)\) total", text, re.M)
    if m:
        r.bytes_read = float(m.group(1))
    if not latencies_us:
        r.failure = "h2load logged no requests"
        return r
    latencies_us.sort()
    r.p50_s = latencies_us[len(latencies_us) // 2] / 1e6
    r.p99_s = latencies_us[min(len(latencies_us) - 1, int(len(latencies_us) * 0.99))] / 1e6
    return r


def run_h2load(url: str, case: Case, seconds: int, settings: Settings,
               procs: Processes) -> LoadResult:
    """One h2load run on the load core: h2c prior knowledge for http://, ALPN h2
    for https://, case.h2_clients connections with case.streams streams each."""
    log = settings.workdir / "h2load.log"
    per_request = settings.workdir / "h2load_requests.tsv"
    log.write_text("")
    per_request.unlink(missing_ok=True)
    argv = ["h2load", "-t", "1", "-c", str(case.h2_clients), "-m", str(case.streams),
            "-D", str(seconds), f"--log-file={per_request}"]
    for h in case.headers:
        argv += ["-H", h]
    argv.append(url)
    proc = procs.start(argv, log, settings.load_cpu)
    try:
        proc.wait(timeout=seconds + 60)
    finally:
        procs.stop(proc)
    latencies = []
    if per_request.exists():
        with open(per_request) as f:
            for line in f:  # start (µs since epoch), status, µs to the end of the response
                parts = line.split("\t")
                if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) > 0:
                    latencies.append(int(parts[2]))
    result = parse_h2load(log.read_text(errors="replace"), latencies)
    if proc.returncode != 0 and result.failure is None:
        result.failure = f"h2load exited with {proc.returncode}"
    return result


LOADGENS: dict[str, Callable[[str, Case, int, Settings, Processes], LoadResult]] = {
    "wrk": run_wrk,
    "h2load": run_h2load,
}


# ------------------------------------------------------------- measure --


@dataclass
class Sample:
    """One measured run of one case against one server."""

    load: LoadResult
    cpu_pct: Optional[float] = None  # proxy utime+stime over the run, % of one core
    cpu_us_per_req: Optional[float] = None  # the same CPU time per completed request
    proxy_core_busy: Optional[float] = None  # % busy of the proxy's core, by anyone
    load_core_busy: Optional[float] = None  # % busy of the wrk + upstream core
    peak_rss_mib: Optional[float] = None  # VmHWM after the run
    idle_rss_mib: Optional[float] = None  # VmRSS after start and one request, before load


def measure(server: Server, case: Case, settings: Settings, procs: Processes, upstream_port: int,
            run_id: str) -> Sample:
    """Starts server fresh, checks it serves case, then observe()s it and stops
    it. Raises RuntimeError when the server cannot start or serve; a failure
    after that is a failed sample."""
    if server.template is None:
        return observe(None, None, f"http://127.0.0.1:{upstream_port}{case.path}", case, settings,
                       procs)
    proc, port, log = start_server(server, case, settings, procs, upstream_port, run_id)
    scheme = "https" if case.tls else "http"
    try:
        wait_ready(proc, port, case, log)
        sample = observe(proc, worker_pid(proc.pid), f"{scheme}://127.0.0.1:{port}{case.path}",
                         case, settings, procs)
        if proc.poll() is not None and sample.load.failure is None:
            sample.load.failure = f"exited during the run {tail(log)}".strip()
        return sample
    finally:
        procs.stop(proc)


def observe(proc: Optional[subprocess.Popen], pid: Optional[int], url: str, case: Case,
            settings: Settings, procs: Processes) -> Sample:
    """Idle RSS, warm-up, then the measured run with CPU and core readings
    around it. pid is the process to watch (None for direct)."""
    loadgen = LOADGENS[case.loadgen]
    sample = Sample(LoadResult())
    try:
        time.sleep(0.2)  # let start-up work (lazy allocations after the first request) settle
        if pid is not None:
            sample.idle_rss_mib = status_mib(pid, "VmRSS")
        if settings.warmup > 0:
            loadgen(url, case, settings.warmup, settings, procs)
        cpu_before = cpu_seconds(pid) if pid is not None else 0.0
        cores_before = core_times()
        started = time.monotonic()
        sample.load = loadgen(url, case, settings.duration, settings, procs)
        wall = time.monotonic() - started
        cores_after = core_times()
        sample.proxy_core_busy = busy_pct(cores_before, cores_after, settings.proxy_cpu)
        sample.load_core_busy = busy_pct(cores_before, cores_after, settings.load_cpu)
        if pid is not None:
            used = cpu_seconds(pid) - cpu_before
            sample.cpu_pct = used / wall * 100.0
            if sample.load.requests:
                sample.cpu_us_per_req = used / sample.load.requests * 1e6
            sample.peak_rss_mib = status_mib(pid, "VmHWM")
    except (OSError, KeyError):  # its /proc entry is gone or a zombie's: it died
        sample.load.failure = "the process died during the run"
    return sample


# ------------------------------------------------------------- report --


@dataclass
class Row:
    """All repeats of one (case, server) cell, or why there are none."""

    case: Case
    server: str
    samples: list[Sample] = field(default_factory=list)
    unavailable: Optional[str] = None

    def good(self) -> list[Sample]:
        """Samples whose load generator produced numbers."""
        return [s for s in self.samples if s.load.failure is None]

    def median(self, get: Callable[[Sample], Optional[float]]) -> Optional[float]:
        """Median of one metric over the good samples (None if it has no value)."""
        values = [v for v in (get(s) for s in self.good()) if v is not None]
        return statistics.median(values) if values else None

    def goodput(self, s: Sample) -> float:
        """Requests/s that got a 2xx/3xx: a proxy answering 502 fast gets ~0."""
        load = s.load
        ok = max(load.requests - load.non2xx, 0)
        return load.rps * ok / load.requests if load.requests else 0.0

    def errors(self) -> tuple[int, int]:
        """(non-2xx + socket errors, requests) summed over the good samples."""
        good = self.good()
        return (sum(s.load.non2xx + s.load.socket_errors for s in good),
                sum(s.load.requests for s in good))

    def short_bodies(self) -> bool:
        """True when responses averaged fewer bytes than the body alone."""
        return any(s.load.requests and s.load.bytes_read / s.load.requests < len(self.case.body)
                   for s in self.good())

    def failed(self) -> int:
        """Runs that produced no numbers (tool failure, the proxy died)."""
        return len(self.samples) - len(self.good())

    def trustworthy(self) -> bool:
        """No failed runs, error rate <= 0.1 % and bodies were complete."""
        bad, total = self.errors()
        return (bool(self.good()) and not self.failed() and total > 0 and bad <= total * 0.001
                and not self.short_bodies())


def fmt(value: Optional[float], spec: str) -> str:
    """value formatted, or an en dash when there is none."""
    return "–" if value is None else format(value, spec)


def rps_cell(row: Row) -> str:
    """Median goodput, plus the half-range across repeats when there are several."""
    rps = [row.goodput(s) for s in row.good()]
    med = statistics.median(rps)
    cell = f"{med:,.0f}"
    if len(rps) > 1 and med > 0:
        cell += f" ±{(max(rps) - min(rps)) / 2 / med * 100:.1f}%"
    return cell


def error_cell(row: Row) -> str:
    """Error count and rate, or 0."""
    bad, total = row.errors()
    cell = "0" if bad == 0 else f"{bad:,} ({bad / max(total, 1) * 100:.2f}%)"
    if row.short_bodies():
        cell += ", short bodies"
    if row.failed():
        failures = sorted({s.load.failure or "" for s in row.samples if s.load.failure})
        cell += f", {row.failed()} failed run(s): {'; '.join(failures)}"
    return cell


def ratio_cells(row: Row, ref: Optional[Row]) -> list[str]:
    """req/s and p99 relative to the reference row (HAProxy)."""
    if ref is None or not ref.good() or not ref.trustworthy():
        return ["n/a", "n/a"]
    if not row.trustworthy():
        return ["invalid (errors)", "invalid (errors)"]
    mine_rps = row.median(row.goodput)
    ref_rps = ref.median(ref.goodput)
    mine_p99 = row.median(lambda s: s.load.p99_s)
    ref_p99 = ref.median(lambda s: s.load.p99_s)
    return [f"{mine_rps / ref_rps:.2f}×" if ref_rps else "n/a",
            f"{mine_p99 / ref_p99:.2f}×" if ref_p99 and mine_p99 is not None else "n/a"]


HEADER = ["case", "proxy", "req/s", "p50 ms", "p99 ms", "proxy CPU %", "CPU µs/req",
          "peak RSS MiB", "idle RSS MiB", "errors", "cores busy % proxy/load",
          "req/s vs HAProxy", "p99 vs HAProxy"]


def table(rows: list[Row]) -> str:
    """The results as a markdown table, one line per (case, server)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    refs = {r.case.key: r for r in rows if r.server == REFERENCE}
    for row in rows:
        if row.unavailable or not row.good():
            why = row.unavailable or "; ".join(sorted({s.load.failure or "" for s in row.samples}))
            cells = [row.case.title, row.server, f"not available: {why}"] + [""] * (len(HEADER) - 3)
        else:
            cells = [row.case.title, row.server, rps_cell(row),
                     fmt(row.median(lambda s: s.load.p50_s * 1e3), ".3f"),
                     fmt(row.median(lambda s: s.load.p99_s * 1e3), ".3f"),
                     fmt(row.median(lambda s: s.cpu_pct), ".0f"),
                     fmt(row.median(lambda s: s.cpu_us_per_req), ".1f"),
                     fmt(row.median(lambda s: s.peak_rss_mib), ".1f"),
                     fmt(row.median(lambda s: s.idle_rss_mib), ".1f"),
                     error_cell(row),
                     fmt(row.median(lambda s: s.proxy_core_busy), ".0f") + "/" +
                     fmt(row.median(lambda s: s.load_core_busy), ".0f")]
            cells += ratio_cells(row, refs.get(row.case.key))
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


FOREIGN_LOAD_WARN_PCT = 10.0


def contention_warnings(rows: list[Row]) -> list[str]:
    """Rows where something other than the proxy used > 10 % of the proxy's
    core (for direct: anything at all): their numbers are not clean."""
    flagged = []
    measured = [row for row in rows if row.good()]
    for row in measured:
        foreign = row.median(lambda s: None if s.proxy_core_busy is None
                             else s.proxy_core_busy - (s.cpu_pct or 0.0))
        if foreign is not None and foreign > FOREIGN_LOAD_WARN_PCT:
            flagged.append((row, foreign))
    if flagged and len(flagged) == len(measured):
        low, high = min(f for _, f in flagged), max(f for _, f in flagged)
        return [f"- every cell: other processes used {low:.0f}–{high:.0f}% of the proxy core"]
    return [f"- {row.case.title} / {row.server}: other processes used ~{foreign:.0f}% of the "
            "proxy core" for row, foreign in flagged]


def target_check(rows: list[Row]) -> list[str]:
    """Rampart against its targets: keep-alive req/s >= 1.0x and p99 <= 1.0x
    HAProxy's, idle RSS <= HAProxy's. Empty when either side is missing."""
    out = []
    by = {(r.case.key, r.server): r for r in rows}
    for case in {r.case.key: r.case for r in rows}.values():
        mine, ref = by.get((case.key, "rampart")), by.get((case.key, REFERENCE))
        if not mine or not ref or not mine.good() or not ref.good():
            continue
        checks = []
        if case.keepalive:
            rps_ok = mine.trustworthy() and mine.median(mine.goodput) >= ref.median(ref.goodput)
            p99_ok = mine.trustworthy() and mine.median(lambda s: s.load.p99_s) <= ref.median(
                lambda s: s.load.p99_s)
            checks += [("req/s ≥ HAProxy", rps_ok), ("p99 ≤ HAProxy", p99_ok)]
        idle_ok = mine.median(lambda s: s.idle_rss_mib) <= ref.median(lambda s: s.idle_rss_mib)
        checks.append(("idle RSS ≤ HAProxy", idle_ok))
        policies = by.get((case.key, "rampart+policies"))
        if policies and policies.good() and case.keepalive:
            ratio = policies.median(policies.goodput) / mine.median(mine.goodput)
            checks.append((f"all policies ≥ 85% of plain ({ratio:.2f})", ratio >= 0.85))
        if case.frontend == "h2c":
            peer = by.get((case.key, "nghttpx"))
            if peer and peer.good():
                checks.append(("req/s ≥ nghttpx", mine.trustworthy() and
                               mine.median(mine.goodput) >= peer.median(peer.goodput)))
                checks.append(("p99 ≤ nghttpx", mine.trustworthy() and
                               mine.median(lambda s: s.load.p99_s) <=
                               peer.median(lambda s: s.load.p99_s)))
        if case.key == "tls-handshake":
            checks.append(("handshakes/s ≥ HAProxy", mine.trustworthy() and
                           mine.median(mine.goodput) >= ref.median(ref.goodput)))
        out.append(f"- {case.title}: " + ", ".join(f"{name} {'PASS' if ok else 'FAIL'}"
                                                   for name, ok in checks))
    return out


def command_output(argv: list[str]) -> str:
    """First line a tool prints about itself (stdout or stderr), or 'missing'."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    lines = (p.stdout + p.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def environment(settings: Settings, rampart: str) -> list[str]:
    """Lines describing the machine, the tools and the settings."""
    cpu_model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    pin = (f"proxy on CPU {settings.proxy_cpu}, wrk + upstream nginx on CPU {settings.load_cpu}"
           if settings.proxy_cpu is not None else "NOT pinned (fewer than 2 usable CPUs)")
    rev = command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return [
        f"- host: {platform.node()}, {cpu_model}, {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}",
        f"- pinning: {pin}",
        f"- load: wrk -t {settings.threads} -c {settings.connections}, "
        f"warm-up {settings.warmup} s, measured {settings.duration} s, "
        f"{settings.repeat} repeat(s) (median; ± is half the range); h2 cases: h2load -t 1, "
        "connections × streams as in the case name, p50/p99 from its per-request log",
        "- TLS: ECDSA P-256 self-signed certificate, each proxy's default ciphers and protocol "
        "versions",
        f"- tools: {command_output(['haproxy', '-v'])}; {command_output(['nginx', '-v'])}; "
        f"{command_output(['nghttpx', '--version'])}; {command_output(['wrk', '-v'])}; "
        f"{command_output(['h2load', '--version'])}",
        f"- rampart: {rampart} at git {rev}",
    ]


# ---------------------------------------------------------------- main --


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (see bench/README.md)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated servers: direct,rampart,rampart+policies,haproxy,nginx,nghttpx")
    p.add_argument("--cases", help="comma-separated cases: " + ",".join(c.key for c in CASES))
    p.add_argument("--duration", type=int, default=10, help="measured seconds per run (10)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each run (2)")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections (64)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1: one load core)")
    p.add_argument("--timeout", default="10s", help="wrk per-request timeout (10s)")
    p.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is shown (3)")
    p.add_argument("--proxy-cpu", type=int, default=0, help="core for the proxy (0)")
    p.add_argument("--load-cpu", type=int, default=1, help="core for wrk and the upstream (1)")
    p.add_argument("--rampart", default=str(ROOT / "build/proxy/rampart"), help="rampart binary")
    p.add_argument("--out", help="markdown file for the results (bench/results/<date>.md)")
    p.add_argument("--keep-tmp", action="store_true", help="keep configs and logs for debugging")
    args = p.parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.repeat) < 1 or args.warmup < 0:
        p.error("--duration, --connections, --threads and --repeat must be >= 1")
    if args.threads > args.connections:
        p.error("--threads must not exceed --connections")
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


def pinning(proxy_cpu: int, load_cpu: int) -> tuple[Optional[int], Optional[int]]:
    """The two cores to use, or (None, None) with a warning if they are not usable."""
    usable = os.sched_getaffinity(0)
    if proxy_cpu != load_cpu and {proxy_cpu, load_cpu} <= usable and shutil.which("taskset"):
        return proxy_cpu, load_cpu
    print(f"warning: cannot pin to CPUs {proxy_cpu} and {load_cpu} (usable: {sorted(usable)}); "
          "running unpinned, results are not comparable", file=sys.stderr)
    return None, None


def run_all(servers: list[Server], cases: list[Case], settings: Settings,
            procs: Processes) -> list[Row]:
    """Measures every (case, server) settings.repeat times. Repeats are the
    outer loop so that slow drift on the machine hits every server alike."""
    rows = {(c.key, s.name): Row(c, s.name) for c in cases for s in servers}
    for s in servers:
        why = s.missing()
        for c in cases:
            if why:
                rows[(c.key, s.name)].unavailable = why
            elif c.frontend not in s.frontends:
                rows[(c.key, s.name)].unavailable = f"does not speak {c.frontend}"
    print("starting upstream nginx", file=sys.stderr)
    upstream_port = start_upstream(settings, procs)
    todo = [(r, c, s) for r in range(settings.repeat) for c in cases for s in servers]
    for i, (rep, case, server) in enumerate(todo, 1):
        row = rows[(case.key, server.name)]
        if row.unavailable:
            continue
        label = f"[{i}/{len(todo)}] {case.key} {server.name} #{rep + 1}"
        try:
            sample = measure(server, case, settings, procs, upstream_port,
                             f"{server.name}-{case.key}-{rep}")
        except RuntimeError as e:
            row.unavailable = str(e)[:300]  # skip its later runs: it cannot start or serve
            print(f"{label}: not available: {row.unavailable}", file=sys.stderr)
            continue
        row.samples.append(sample)
        load = sample.load
        errors = load.non2xx + load.socket_errors
        summary = load.failure or f"{load.rps:,.0f} req/s, p99 {load.p99_s * 1e3:.3f} ms"
        print(f"{label}: {summary}{f', {errors} errors' if errors else ''}", file=sys.stderr)
    return [rows[(c.key, s.name)] for c in cases for s in servers]


def on_signal(signum: int, _frame: object) -> None:
    """Turns SIGTERM/SIGHUP into an exception so the cleanup in main() runs."""
    raise SystemExit(128 + signum)


def make_certificate(workdir: Path) -> dict[str, str]:
    """A fresh self-signed ECDSA P-256 certificate for 127.0.0.1 (the usual mesh
    key type), as template values: CERT, KEY and PEM (both in one file, for HAProxy)."""
    cert, key, pem = workdir / "server.crt", workdir / "server.key", workdir / "server.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    pem.write_text(cert.read_text() + key.read_text())
    return {"CERT": str(cert), "KEY": str(key), "PEM": str(pem)}


def make_settings(args: argparse.Namespace, workdir: Path) -> Settings:
    """Settings from the command line, with the values every template shares."""
    proxy_cpu, load_cpu = pinning(args.proxy_cpu, args.load_cpu)
    max_conn = max(1024, min(100000, (os.sysconf("SC_OPEN_MAX") - 64) // 2))
    # As root, nginx would switch its workers to `nobody`; keep the current user.
    user = "" if os.geteuid() != 0 else f"user {pwd.getpwuid(os.geteuid()).pw_name};"
    base = {"MAX_CONNECTIONS": str(max_conn), "UPSTREAM_POOL": str(max(64, args.connections)),
            "USER_DIRECTIVE": user}
    base.update(make_certificate(workdir))
    return Settings(args.duration, args.warmup, args.connections, args.threads, args.timeout,
                    args.repeat, proxy_cpu, load_cpu, workdir, base)


def report(rows: list[Row], settings: Settings, rampart: str, elapsed: float,
           load_before: float) -> str:
    """The whole markdown report: environment, table, warnings, Rampart's targets."""
    lines = [f"# Proxy comparison, {datetime.datetime.now():%Y-%m-%d %H:%M}", ""]
    lines += environment(settings, rampart)
    lines += [f"- load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}; "
              f"run took {elapsed / 60:.1f} min", "", table(rows), ""]
    warnings = contention_warnings(rows)
    if warnings:
        lines += ["Warning: the machine was not quiet; these cells are skewed (rerun when idle):",
                  ""] + warnings + [""]
    checks = target_check(rows)
    if checks:
        lines += ["Rampart targets (keep-alive: req/s ≥ 1.0× and p99 ≤ 1.0× HAProxy; idle RSS ≤ "
                  "HAProxy; h2c: req/s ≥ 1.0× and p99 ≤ 1.0× nghttpx; TLS handshakes/s ≥ "
                  "HAProxy):", ""] + checks + [""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Runs the benchmark, prints the report and writes it to the results file."""
    args = parse_args(argv)
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is required (apt-get install wrk nginx haproxy nghttp2-proxy)")
    all_servers = make_servers(args.rampart)
    names = pick(args.only, [s.name for s in all_servers], "server")
    servers = [s for s in all_servers if s.name in names]
    keys = pick(args.cases, [c.key for c in CASES], "case")
    cases = [c for c in CASES if c.key in keys]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="rampart-bench-"))
    settings = make_settings(args, workdir)
    procs = Processes()
    started, load_before = time.monotonic(), os.getloadavg()[0]
    if load_before > 0.5:
        print(f"warning: load average is {load_before:.2f}: other work will skew the numbers",
              file=sys.stderr)
    try:
        rows = run_all(servers, cases, settings, procs)
    except RuntimeError as e:  # only the upstream's failure gets here
        print(f"upstream nginx failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; stopped every process this run started", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        if args.keep_tmp:
            print(f"kept configs and logs in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(rows, settings, args.rampart, time.monotonic() - started, load_before)
    print(text)
    stamp = f"{datetime.datetime.now():%Y-%m-%d_%H%M%S}"
    out = Path(args.out) if args.out else BENCH_DIR / "results" / f"{stamp}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

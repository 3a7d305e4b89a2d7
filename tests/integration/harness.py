"""Shared pieces for Rampart's integration tests: start the real binary with a
config written by the test, start real backends on 127.0.0.1 ephemeral ports,
and talk to both over real sockets. Standard library only (run by /usr/bin/python3)."""

import http.client
import json
import os
import re
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler

BUILD_DIR = os.environ.get("RAMPART_BUILD_DIR",
                           os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("RAMPART_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
RAMPART = os.path.join(BUILD_DIR, "proxy", "rampart")
GPU_BACKEND = os.path.join(BUILD_DIR, "examples", "gpu_backend")


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls `predicate` until it is truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class Rampart:
    """The real rampart binary, configured from a YAML string."""

    def __init__(self, config_yaml, extra_args=(), expect_ready=True):
        self.dir = tempfile.mkdtemp(prefix="rampart-test-")
        self.config_path = os.path.join(self.dir, "rampart.yaml")
        with open(self.config_path, "w") as f:
            f.write(config_yaml)
        self.lines = []
        self.listeners = {}
        self.admin_address = None
        self._lock = threading.Lock()
        self.proc = subprocess.Popen([RAMPART, "--config", self.config_path, *extra_args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_logs, daemon=True)
        self._reader.start()
        if expect_ready:
            wait_until(lambda: self.find_log("ready") or self.proc.poll() is not None,
                       timeout=15, what="rampart ready")
            assert self.proc.poll() is None, "rampart exited at start:\n" + self.log_text()

    def _read_logs(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"msg": "<text>", "text": line}
            with self._lock:
                self.lines.append(entry)
            if entry.get("msg") == "listening":
                host, port = entry["address"].rsplit(":", 1)
                self.listeners[entry["listener"]] = (host, int(port))
            elif entry.get("msg") == "admin listening":
                host, port = entry["address"].rsplit(":", 1)
                self.admin_address = (host, int(port))

    def find_log(self, msg, settle=False, **fields):
        """The first log line with `msg` and these fields; with settle, after the pipe is quiet."""
        if settle:
            self._settle()
        with self._lock:
            for entry in self.lines:
                if entry.get("msg") == msg and all(entry.get(k) == v for k, v in fields.items()):
                    return entry
        return None

    def _settle(self, quiet=0.1, limit=2.0):
        """Waits until no new log line arrived for `quiet` seconds: a line written just
        before a response may still be in the pipe when the client has the response."""
        deadline = time.monotonic() + limit
        seen = -1
        while time.monotonic() < deadline:
            with self._lock:
                count = len(self.lines)
            if count == seen:
                return
            seen = count
            time.sleep(quiet)

    def logs(self, msg=None):
        self._settle()
        with self._lock:
            return [e for e in self.lines if msg is None or e.get("msg") == msg]

    def log_text(self):
        with self._lock:
            return "\n".join(json.dumps(e) for e in self.lines)

    @property
    def port(self):
        return next(iter(self.listeners.values()))[1]

    def address(self, listener=None):
        return self.listeners[listener] if listener else next(iter(self.listeners.values()))

    def connection(self, timeout=10, listener=None):
        host, port = self.address(listener)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a new connection: (status, headers with lower-case names, body)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def admin(self, path, timeout=5):
        conn = http.client.HTTPConnection(*self.admin_address, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def metrics(self):
        """Parses /metrics into {(name, frozenset(labels)): value}."""
        status, text = self.admin("/metrics")
        assert status == 200
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r'^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)$', line)
            if not m:
                continue
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
            out[(m.group(1), labels)] = float(m.group(4))
        return out

    def metric(self, name, **labels):
        """The sum of `name` over series whose labels include `labels`."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.metrics().items() if n == name and want <= set(ls))

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=30):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(timeout=5)
        return self.proc.returncode


def rampart_config(endpoints, routes=None, workers=1, extra="", cluster_extra="", limits=""):
    """A config with one listener on an ephemeral port and one cluster `c`."""
    eps = ", ".join(f"127.0.0.1:{p}" for p in endpoints)
    routes = routes or "  - {name: all, match: {path_prefix: /}, cluster: c, timeout: 5s}\n"
    return (f"admin: {{address: 127.0.0.1:0}}\n"
            f"workers: {workers}\n"
            f"drain_timeout: 10s\n"
            f"{extra}"
            f"limits: {{header_timeout: 2s, idle_timeout: 10s{limits}}}\n"
            f"listeners: [{{name: in, address: 127.0.0.1:0}}]\n"
            f"clusters:\n  - {{name: c, endpoints: [{eps}]{cluster_extra}}}\n"
            f"routes:\n{routes}")


class _ThreadingServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class Backend:
    """A real HTTP/1.1 server on 127.0.0.1:0 whose behaviour a test sets with a
    handler function: handler(req) where req is a BackendRequest."""

    def __init__(self, handler=None):
        self.handler = handler or echo
        self.requests = []
        self.connections = 0
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                # Headers and body go out in separate writes: without NODELAY, Nagle and
                # delayed ACKs would add 40 ms to every response.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().setup()
                with backend._lock:
                    backend.connections += 1

            def log_message(self, *args):
                pass

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except (ConnectionError, socket.timeout):
                    self.close_connection = True

            def _any(self):
                req = BackendRequest(self)
                with backend._lock:
                    backend.requests.append(req)
                backend.handler(req)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _any

        self.server = _ThreadingServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class BackendRequest:
    """What a backend handler sees and how it answers."""

    def __init__(self, h):
        self.h = h
        self.method = h.command
        self.path = h.path
        self.headers = {k.lower(): v for k, v in h.headers.items()}
        self.header_list = [(k.lower(), v) for k, v in h.headers.items()]
        self._body = None

    def body(self, discard=False):
        """Reads the request body (content-length or chunked). With discard, returns its length."""
        if self._body is not None:
            return self._body
        rfile = self.h.rfile
        total = 0
        parts = []
        if "chunked" in self.headers.get("transfer-encoding", ""):
            while True:
                size = int(rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunk = rfile.read(size)
                rfile.readline()
                total += len(chunk)
                if not discard:
                    parts.append(chunk)
        else:
            remaining = int(self.headers.get("content-length", "0"))
            while remaining > 0:
                chunk = rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
                total += len(chunk)
                if not discard:
                    parts.append(chunk)
        self._body = total if discard else b"".join(parts)
        return self._body

    def respond(self, status=200, body=b"", headers=None, chunked=False):
        if isinstance(body, str):
            body = body.encode()
        h = self.h
        h.send_response(status)
        headers = dict(headers or {})
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif "Content-Length" not in headers and status not in (204, 304):
            headers["Content-Length"] = str(len(body))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        if self.method == "HEAD" or status in (204, 304):
            return
        if chunked:
            for i in range(0, len(body), 7):
                part = body[i:i + 7]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            h.wfile.write(b"0\r\n\r\n")
        else:
            h.wfile.write(body)

    def close(self):
        """Drops the connection without answering."""
        self.h.close_connection = True
        try:
            self.h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def reset(self):
        """Drops the connection with a TCP reset."""
        import struct
        self.h.close_connection = True
        self.h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.h.connection.close()


def echo(req):
    """Answers with a JSON description of the request it got."""
    body = req.body()
    out = {"method": req.method, "path": req.path, "headers": req.headers,
           "header_list": req.header_list, "body": body.decode(errors="replace"),
           "body_length": len(body)}
    req.respond(200, json.dumps(out), {"Content-Type": "application/json"})


def raw_exchange(address, data, timeout=5.0, read_until_close=True, shutdown=False):
    """Sends raw bytes, returns everything read until the peer closes (or timeout)."""
    s = socket.create_connection(address, timeout=timeout)
    try:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)
    finally:
        s.close()


def parse_responses(data):
    """Splits raw HTTP/1.1 response bytes into [(status, headers, body)] (content-length or chunked)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode(errors="replace").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    _, _, rest = rest.partition(b"\r\n")
                    break
                body += rest[:size]
                rest = rest[size + 2:]
            data = rest
        else:
            body, data = rest, b""
        out.append((status, headers, body))
    return out


class GpuBackend:
    """The simulated GPU inference server (examples/gpu_backend) on an ephemeral port."""

    def __init__(self, *flags, port=0):
        import select
        self.proc = subprocess.Popen([GPU_BACKEND, "--port", str(port), *flags],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        assert ready, "gpu_backend did not start"
        self.port = int(json.loads(self.proc.stdout.readline())["listening"].rsplit(":", 1)[1])

    def _call(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def control(self, **settings):
        status, body = self._call("POST", "/control", settings)
        assert status == 200, body
        return body

    def stats(self):
        return self._call("GET", "/stats")[1]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def kserve_body(values=(1, 2, 3, 4)):
    return json.dumps({"inputs": [{"name": "x", "shape": [1, len(values)], "datatype": "FP32",
                                   "data": list(values)}]})

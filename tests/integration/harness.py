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


# ------------------------------------------------------------------------------------------
# HTTP/2, TLS and gRPC helpers (tests/integration/test_http2.py, test_tls.py, test_grpc.py).
# They need python3-h2 (Debian), imported lazily so the HTTP/1 tests run without it.
# ------------------------------------------------------------------------------------------

class Pki:
    """Throwaway certificates made with the openssl CLI in a temp dir, never committed.

    ca / other_ca: two unrelated CAs. Leaf certs (EC P-256, 2 days), each with .pem/.key:
      server        DNS:localhost, IP:127.0.0.1 (Rampart's listener), by ca
      backend       DNS:backend.svc (upstream servers; Rampart must send SNI backend.svc), by ca
      client        URI:spiffe://test/ns/x/sa/y (the allowed identity), by ca
      client_z      URI:spiffe://test/ns/x/sa/z (another identity), by ca
      subject_only  no SAN, subject CN=subject-only,O=Rampart Test, by ca
      rogue         URI:spiffe://test/ns/x/sa/y but signed by other_ca
      proxy         URI:spiffe://test/ns/rampart/sa/proxy (Rampart's own client cert), by ca"""

    LEAVES = {
        "server": ("/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1", "serverAuth", "ca"),
        "backend": ("/CN=backend.svc", "subjectAltName=DNS:backend.svc", "serverAuth", "ca"),
        "client": ("/CN=client-y", "subjectAltName=URI:spiffe://test/ns/x/sa/y", "clientAuth", "ca"),
        "client_z": ("/CN=client-z", "subjectAltName=URI:spiffe://test/ns/x/sa/z", "clientAuth", "ca"),
        "subject_only": ("/O=Rampart Test/CN=subject-only", None, "clientAuth", "ca"),
        "rogue": ("/CN=rogue", "subjectAltName=URI:spiffe://test/ns/x/sa/y", "clientAuth", "other_ca"),
        "proxy": ("/CN=rampart", "subjectAltName=URI:spiffe://test/ns/rampart/sa/proxy", "clientAuth",
                  "ca"),
    }

    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="rampart-pki-")
        for ca in ("ca", "other_ca"):
            self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-keyout", self.key(ca), "-out", self.pem(ca), "-days", "2",
                          "-subj", f"/O=Rampart Test/CN={ca}", "-addext",
                          "basicConstraints=critical,CA:TRUE", "-addext",
                          "keyUsage=critical,keyCertSign,cRLSign")
        for name, (subject, san, usage, ca) in self.LEAVES.items():
            csr = os.path.join(self.dir, name + ".csr")
            self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-keyout", self.key(name), "-out", csr, "-subj", subject)
            ext = os.path.join(self.dir, name + ".ext")
            with open(ext, "w") as f:
                f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                        f"extendedKeyUsage={usage}\n" + (san + "\n" if san else ""))
            self._openssl("x509", "-req", "-in", csr, "-CA", self.pem(ca), "-CAkey", self.key(ca),
                          "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", self.pem(name))

    def _openssl(self, *args):
        p = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=self.dir)
        assert p.returncode == 0, f"openssl {' '.join(args)}: {p.stderr}"

    def pem(self, name):
        return os.path.join(self.dir, name + ".pem")

    def key(self, name):
        return os.path.join(self.dir, name + ".key")

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def server_context(self, name="backend", alpn=("h2", "http/1.1"), client_ca=None):
        """An ssl.SSLContext for a test server with `name`'s cert; client_ca requires client certs."""
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pem(name), self.key(name))
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.pem(client_ca))
        return ctx

    def client_context(self, cert=None, ca="ca", alpn=("h2",)):
        """An ssl.SSLContext that trusts `ca` and presents `cert` (a leaf name) when given."""
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pem(ca))
        if cert:
            ctx.load_cert_chain(self.pem(cert), self.key(cert))
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx


class TlsBackend(Backend):
    """Backend (HTTP/1.1) behind TLS: records the SNI each handshake carried and the
    client certificate's subjectAltName of each request (req.peer_cert)."""

    def __init__(self, handler, context):
        self.server_names = []
        self.handshake_errors = 0
        context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        super().__init__(handler)
        # Wrap before any client connects; the handshake runs on each connection's thread.
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        backend = self
        orig = self.server.finish_request

        def finish_request(request, client_address):
            try:
                request.do_handshake()
            except (OSError, ValueError):
                backend.handshake_errors += 1
                return
            orig(request, client_address)
        self.server.finish_request = finish_request


class H2Request:
    """One request stream as an H2Backend handler sees it, and how it answers."""

    def __init__(self, conn, stream_id, headers):
        self.conn = conn
        self.stream_id = stream_id
        self.header_list = [(k, v) for k, v in headers]
        self.headers = {}
        for k, v in headers:
            self.headers[k] = v if k not in self.headers or k.startswith(":") else \
                self.headers[k] + "," + v
        self.method = self.headers.get(":method")
        self.path = self.headers.get(":path")
        self.body = b""
        self.trailers = None
        self.reset_by_peer = False
        self.connection_index = conn.index

    def respond(self, status=200, body=b"", headers=None, trailers=None):
        """Sends a whole response (headers, body honouring flow control, optional trailers)."""
        if isinstance(body, str):
            body = body.encode()
        hdrs = [(":status", str(status))] + list((headers or {}).items())
        if trailers is None:
            hdrs.append(("content-length", str(len(body))))
        end_on_headers = not body and not trailers
        self.conn.send_headers(self.stream_id, hdrs, end_on_headers)
        if body:
            self.conn.send_data(self.stream_id, body, end=not trailers)
        if trailers:
            self.conn.send_headers(self.stream_id, list(trailers.items()), True)
        self.conn.stream_done(self.stream_id)

    def send_headers(self, status=200, headers=None, end=False):
        self.conn.send_headers(self.stream_id, [(":status", str(status))] +
                               list((headers or {}).items()), end)

    def send_data(self, data, end=False):
        """Sends DATA honouring flow control; False when the stream or connection is gone."""
        ok = self.conn.send_data(self.stream_id, data, end)
        if end:
            self.conn.stream_done(self.stream_id)
        return ok

    def reset(self, code=0x2):
        """Sends RST_STREAM (default INTERNAL_ERROR)."""
        self.conn.reset(self.stream_id, code)
        self.conn.stream_done(self.stream_id)


def h2_echo(req):
    """H2Backend's default: a JSON description of the request."""
    body = json.dumps({"method": req.method, "path": req.path, "headers": req.headers,
                       "body": req.body.decode(errors="replace"), "body_length": len(req.body),
                       "connection": req.connection_index})
    req.respond(200, body, {"content-type": "application/json"})


class _H2ServerConnection:
    """One accepted connection of an H2Backend: a reader thread feeding python-h2,
    a handler thread per request, writes under one lock."""

    def __init__(self, backend, sock, index):
        import h2.config
        import h2.connection
        import h2.settings
        import collections
        self.backend = backend
        self.sock = sock
        self.index = index
        self.cond = threading.Condition()
        self.active = set()
        self.requests = {}
        self.received = 0
        self.finished = 0
        self.peak_active = 0
        self.goaway_sent = False
        self.closed = False
        self.highest_stream = 0
        self.sni = None
        self.peer_cert = None
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                        validate_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(cfg)
        codes = h2.settings.SettingCodes
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
            codes.MAX_CONCURRENT_STREAMS: backend.max_concurrent_streams,
            codes.MAX_HEADER_LIST_SIZE: 1 << 20})
        self.h2.initiate_connection()
        # Advertise the limit but let this class enforce it the way RFC 9113 5.1.2 allows
        # (RST_STREAM REFUSED_STREAM) instead of python-h2's connection error.
        self.h2.local_settings._settings[codes.MAX_CONCURRENT_STREAMS] = collections.deque([1 << 30])
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _flush(self):
        data = self.h2.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def _run(self):
        import h2.events
        import h2.exceptions
        try:
            if self.backend.tls_context is not None:
                self.sock.do_handshake()
                self.peer_cert = self.sock.getpeercert()
            with self.cond:
                self._flush()
            while not self.closed:
                try:
                    data = self.sock.recv(65536)
                except (OSError, ValueError):
                    break
                if not data:
                    break
                with self.cond:
                    try:
                        events = self.h2.receive_data(data)
                    except h2.exceptions.ProtocolError as e:
                        self.backend.protocol_errors.append(repr(e))
                        self._flush()
                        break
                    for ev in events:
                        self._on_event(ev)
                    self._flush()
                    self.cond.notify_all()
        except (OSError, ValueError) as e:
            self.backend.handshake_errors.append(repr(e))
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()
            try:
                self.sock.close()
            except OSError:
                pass

    def _on_event(self, ev):
        import h2.errors
        import h2.events
        b = self.backend
        if isinstance(ev, h2.events.RequestReceived):
            self.highest_stream = max(self.highest_stream, ev.stream_id)
            if self.goaway_sent:
                b.streams_after_goaway += 1
                self.h2.reset_stream(ev.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                return
            if len(self.active) >= b.max_concurrent_streams:
                b.refused += 1
                self.h2.reset_stream(ev.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                return
            req = H2Request(self, ev.stream_id, ev.headers)
            self.requests[ev.stream_id] = req
            self.active.add(ev.stream_id)
            self.received += 1
            self.peak_active = max(self.peak_active, len(self.active))
            # GOAWAY goes out with the Nth request, before its response, so the proxy
            # cannot race a new stream onto this connection (RFC 9113 6.8).
            if b.goaway_after and self.received >= b.goaway_after:
                self.send_graceful_goaway()
            with b.lock:
                b.requests.append(req)
                b.active += 1
                b.peak_active = max(b.peak_active, b.active)
        elif isinstance(ev, h2.events.DataReceived):
            req = self.requests.get(ev.stream_id)
            if req is not None:
                req.body += ev.data
            if ev.flow_controlled_length:
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            req = self.requests.get(ev.stream_id)
            if req is not None:
                req.trailers = dict(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            req = self.requests.get(ev.stream_id)
            if req is not None:
                threading.Thread(target=self._handle, args=(req,), daemon=True).start()
        elif isinstance(ev, h2.events.StreamReset):
            req = self.requests.get(ev.stream_id)
            if req is not None:
                req.reset_by_peer = True
                b.resets_received += 1
                self._release(ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            b.goaways_received += 1

    def _handle(self, req):
        try:
            self.backend.handler(req)
        except Exception as e:  # a handler bug must show in the test, not hang it
            self.backend.handler_errors.append(repr(e))
            try:
                req.reset()
            except Exception:
                pass

    def _release(self, stream_id):
        if stream_id in self.active:
            self.active.discard(stream_id)
            self.finished += 1
            with self.backend.lock:
                self.backend.active -= 1

    def send_headers(self, stream_id, headers, end):
        with self.cond:
            if self.closed:
                return False
            try:
                self.h2.send_headers(stream_id, headers, end_stream=end)
            except Exception:
                return False
            self._flush()
            return True

    def send_data(self, stream_id, data, end=False):
        import h2.exceptions
        with self.cond:
            view = memoryview(data)
            while True:
                if self.closed:
                    return False
                try:
                    window = self.h2.local_flow_control_window(stream_id)
                except h2.exceptions.StreamClosedError:
                    return False
                n = min(window, len(view), self.h2.max_outbound_frame_size)
                if n > 0 or (not view and end):
                    try:
                        self.h2.send_data(stream_id, bytes(view[:n]),
                                          end_stream=end and n == len(view))
                    except h2.exceptions.StreamClosedError:
                        return False
                    view = view[n:]
                    self._flush()
                    if not view:
                        return True
                else:
                    self.cond.wait(0.2)

    def reset(self, stream_id, code):
        with self.cond:
            try:
                self.h2.reset_stream(stream_id, code)
            except Exception:
                pass
            self._flush()

    def stream_done(self, stream_id):
        """The handler finished this stream; maybe send the configured GOAWAY."""
        with self.cond:
            self._release(stream_id)
            if self.goaway_sent and not self.active and not self.closed:
                self._flush()
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def send_graceful_goaway(self):
        """GOAWAY(NO_ERROR) as a restarting server sends it: streams up to the last one
        received still finish; new ones must go elsewhere. Caller holds self.cond."""
        from hyperframe.frame import GoAwayFrame
        if self.closed or self.goaway_sent:
            return
        self.goaway_sent = True
        frame = GoAwayFrame(0)
        frame.last_stream_id = self.highest_stream
        self._flush()
        try:
            self.sock.sendall(frame.serialize())
        except OSError:
            pass
        self.backend.goaways_sent += 1

    def close(self):
        with self.cond:
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class H2Backend:
    """A real HTTP/2 server on 127.0.0.1:0 built on python3-h2: h2c (prior knowledge),
    or h2 over TLS with a given ssl.SSLContext. handler(req: H2Request) answers.

    It advertises max_concurrent_streams and refuses streams beyond it with
    REFUSED_STREAM (counted in .refused). With goaway_after=N, a connection sends a
    graceful GOAWAY once it has received N requests and closes when they are done; a
    request arriving after that is counted in .streams_after_goaway and refused."""

    def __init__(self, handler=None, max_concurrent_streams=100, tls_context=None,
                 goaway_after=None):
        self.handler = handler or h2_echo
        self.max_concurrent_streams = max_concurrent_streams
        self.tls_context = tls_context
        self.goaway_after = goaway_after
        self.lock = threading.Lock()
        self.requests = []
        self.connections = []
        self.server_names = []
        self.active = 0
        self.peak_active = 0
        self.refused = 0
        self.streams_after_goaway = 0
        self.goaways_sent = 0
        self.goaways_received = 0
        self.resets_received = 0
        self.protocol_errors = []
        self.handshake_errors = []
        self.handler_errors = []
        if tls_context is not None:
            tls_context.sni_callback = lambda _s, name, _c: self.server_names.append(name)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stopping:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls_context is not None:
                sock = self.tls_context.wrap_socket(sock, server_side=True,
                                                    do_handshake_on_connect=False)
            # Listed before it serves anything, so a test that has seen a response also
            # sees the connection that carried it.
            with self.lock:
                conn = _H2ServerConnection(self, sock, len(self.connections))
                self.connections.append(conn)
            conn.thread.start()

    def goaway_all(self):
        """Sends a graceful GOAWAY on every open connection now (they close once idle)."""
        for c in list(self.connections):
            with c.cond:
                if c.closed or c.goaway_sent:
                    continue
                c.send_graceful_goaway()
                if not c.active:
                    try:
                        c.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def close(self):
        self._stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self.connections):
            c.close()


class H2Response:
    """What an H2Client collected for one stream."""

    def __init__(self):
        self.headers = None  # dict, pseudo-headers included
        self.header_list = None
        self.informational = []
        self.data = bytearray()  # appended per DATA frame: bytes would copy quadratically
        self.trailers = None
        self.ended = False
        self.reset_code = None
        self.first_data_at = None

    @property
    def status(self):
        return int(self.headers[":status"]) if self.headers else None

    @property
    def done(self):
        return self.ended or self.reset_code is not None


class H2Client:
    """A single-threaded HTTP/2 client on python3-h2 for frame-level tests: h2c prior
    knowledge, or TLS with ALPN h2. Flow control is acknowledged automatically except
    for streams in .hold (a slow reader), whose unacknowledged bytes pile up in .held."""

    def __init__(self, address, tls_context=None, server_hostname="localhost", settings=None,
                 connection_window=None, timeout=10):
        import h2.config
        import h2.connection
        import h2.settings
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname=server_hostname)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(cfg)
        if settings:
            values = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                      h2.settings.SettingCodes.ENABLE_PUSH: 0}
            values.update(settings)
            self.h2.local_settings = h2.settings.Settings(client=True, initial_values=values)
        self.h2.initiate_connection()
        if connection_window:
            self.h2.increment_flow_control_window(connection_window)
        self.streams = {}
        self.hold = set()
        self.held = {}
        self.goaway = None  # the ConnectionTerminated event
        self.closed = False
        self.remote_settings_seen = False
        self.flush()

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data):
        """Writes bytes as they are (frames built by hand)."""
        self.sock.sendall(data)

    def request(self, method="GET", path="/", headers=(), body=None, end_stream=True,
                authority="localhost"):
        """Opens a stream; returns its id. body (bytes) is sent honouring flow control."""
        sid = self.h2.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", authority)] + list(headers)
        self.streams[sid] = H2Response()
        self.h2.send_headers(sid, hdrs, end_stream=end_stream and body is None)
        self.flush()
        if body is not None:
            self.send_body(sid, body, end_stream)
        return sid

    def send_body(self, sid, body, end_stream=True, timeout=30):
        view = memoryview(body)
        deadline = time.monotonic() + timeout
        while view:
            window = self.h2.local_flow_control_window(sid)
            n = min(window, len(view), self.h2.max_outbound_frame_size)
            if n == 0:
                if self.closed or self.streams[sid].done or time.monotonic() > deadline:
                    raise AssertionError(f"stream {sid}: no flow-control window to send")
                self.pump(0.2)
                continue
            self.h2.send_data(sid, bytes(view[:n]))
            view = view[n:]
            self.flush()
        if end_stream:
            self.h2.end_stream(sid)
            self.flush()

    def reset(self, sid, code=0x8):
        """RST_STREAM (default CANCEL)."""
        self.h2.reset_stream(sid, code)
        self.flush()

    def release(self, sid):
        """Stops holding sid: acknowledges every byte held so far."""
        self.hold.discard(sid)
        n = self.held.pop(sid, 0)
        if n:
            self.h2.acknowledge_received_data(n, sid)
            self.flush()

    def pump(self, timeout=0.2):
        """Reads once (up to timeout) and processes what arrived; False when closed."""
        import h2.events
        import h2.exceptions
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return True
        except (ConnectionError, OSError):
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.closed = True
            return False
        for ev in events:
            r = self.streams.get(getattr(ev, "stream_id", 0))
            if isinstance(ev, h2.events.ResponseReceived) and r is not None:
                r.headers = dict(ev.headers)
                r.header_list = list(ev.headers)
            elif isinstance(ev, h2.events.InformationalResponseReceived) and r is not None:
                r.informational.append(dict(ev.headers))
            elif isinstance(ev, h2.events.DataReceived):
                if r is not None:
                    r.data += ev.data
                    if r.first_data_at is None:
                        r.first_data_at = time.monotonic()
                if ev.stream_id in self.hold:
                    self.held[ev.stream_id] = self.held.get(ev.stream_id, 0) + \
                        ev.flow_controlled_length
                elif ev.flow_controlled_length:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived) and r is not None:
                r.trailers = dict(ev.headers)
            elif isinstance(ev, h2.events.StreamEnded) and r is not None:
                r.ended = True
            elif isinstance(ev, h2.events.StreamReset) and r is not None:
                r.reset_code = int(ev.error_code)
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                self.remote_settings_seen = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev
        try:
            self.flush()
        except OSError:
            self.closed = True
        return True

    def wait(self, predicate, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            if not self.pump(min(0.2, max(0.01, deadline - time.monotonic()))) and not predicate():
                raise AssertionError(f"connection closed while waiting for {what}")
        return True

    def response(self, sid, timeout=10):
        """Waits until stream sid ended or was reset; returns its H2Response."""
        self.wait(lambda: self.streams[sid].done, timeout, f"stream {sid}")
        return self.streams[sid]

    def wait_closed(self, timeout=10):
        """Reads until the peer closes; True if it did within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pump(0.2):
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def h2_rampart_config(cluster_port, protocol="http1", listener_extra="", cluster_extra="",
                      routes=None, extra="", limits="", workers=1):
    """One listener `in` (listener_extra goes inside its map, e.g. ', http2: {...}'),
    one cluster `c` with the given protocol, access log on."""
    routes = routes or "  - {name: all, match: {path_prefix: /}, cluster: c, timeout: 5s}\n"
    return (f"admin: {{address: 127.0.0.1:0}}\n"
            f"workers: {workers}\n"
            f"drain_timeout: 10s\n"
            f"access_log: true\n"
            f"{extra}"
            f"limits: {{header_timeout: 2s, idle_timeout: 10s{limits}}}\n"
            f"listeners: [{{name: in, address: 127.0.0.1:0{listener_extra}}}]\n"
            f"clusters:\n  - {{name: c, protocol: {protocol}, "
            f"endpoints: [127.0.0.1:{cluster_port}]{cluster_extra}}}\n"
            f"routes:\n{routes}")

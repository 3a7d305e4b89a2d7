"""A small gRPC test service for Rampart's integration tests, built from
python3-grpcio's generic handlers so no .proto and no protoc step is needed:
messages are raw bytes (identity serializers).

Service `rampart.test.Echo`:
  Unary         echoes the request bytes
  ServerStream  request b"N:payload" -> N messages b"payload-<i>"
  ClientStream  concatenates every request message (reply: b"<count>:<joined>")
  Bidi          answers each message at once with b"echo:" + message

Behaviour a test asks for through request metadata:
  x-sleep-ms: N            sleep N ms before answering (unary and client-streaming)
  x-fail: CODE[:message]   abort with that grpc.StatusCode name (e.g. UNAVAILABLE)
  x-fail-times: K          with x-fail and x-key: fail only the first K calls of that key
  x-key: KEY               groups calls for x-fail-times

Every call gets initial metadata x-served-by and trailing metadata
x-trailer-echo (the request's x-echo-trailer value, or "none") and a binary
trailer x-bin-trailer-bin.

Must be imported by /usr/bin/python3 (Debian's python3-grpcio)."""

import threading
import time
from concurrent import futures

import grpc

SERVICE = "rampart.test.Echo"
BIN_TRAILER = bytes(range(256))


def _identity(x):
    return x


class EchoService:
    """The handlers and what they observed (every call's metadata, timings)."""

    def __init__(self, name="echo"):
        self.name = name
        self.calls = []  # (method, {metadata}) per call, in arrival order
        self.cancelled = []  # methods whose context became inactive before the answer
        self._fail_counts = {}
        self._lock = threading.Lock()

    # ---- plumbing ----

    def _begin(self, method, context):
        md = {}
        for key, value in context.invocation_metadata():
            md[key] = value
        with self._lock:
            self.calls.append((method, md))
        context.send_initial_metadata((("x-served-by", self.name),))
        context.set_trailing_metadata((
            ("x-trailer-echo", md.get("x-echo-trailer", "none")),
            ("x-bin-trailer-bin", BIN_TRAILER),
        ))
        self._maybe_fail(md, context)
        return md

    def _maybe_fail(self, md, context):
        spec = md.get("x-fail")
        if not spec:
            return
        code_name, _, message = spec.partition(":")
        times = md.get("x-fail-times")
        if times is not None:
            key = md.get("x-key", "")
            with self._lock:
                seen = self._fail_counts.get(key, 0)
                self._fail_counts[key] = seen + 1
            if seen >= int(times):
                return
        context.abort(getattr(grpc.StatusCode, code_name), message or code_name.lower())

    def _sleep(self, md, context):
        ms = int(md.get("x-sleep-ms", "0"))
        deadline = time.monotonic() + ms / 1000.0
        while time.monotonic() < deadline:
            if not context.is_active():
                with self._lock:
                    self.cancelled.append(md.get("x-key", ""))
                return False
            time.sleep(0.005)
        return True

    def calls_of(self, method):
        with self._lock:
            return [md for m, md in self.calls if m == method]

    # ---- handlers ----

    def unary(self, request, context):
        md = self._begin("Unary", context)
        self._sleep(md, context)
        return request

    def server_stream(self, request, context):
        self._begin("ServerStream", context)
        count, _, payload = request.partition(b":")
        for i in range(int(count)):
            yield payload + b"-%d" % i

    def client_stream(self, request_iterator, context):
        md = self._begin("ClientStream", context)
        parts = [m for m in request_iterator]
        self._sleep(md, context)
        return b"%d:" % len(parts) + b"".join(parts)

    def bidi(self, request_iterator, context):
        self._begin("Bidi", context)
        for message in request_iterator:
            yield b"echo:" + message

    def handler(self):
        """The generic handler to add to a grpc.Server."""
        kw = dict(request_deserializer=_identity, response_serializer=_identity)
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary, **kw),
            "ServerStream": grpc.unary_stream_rpc_method_handler(self.server_stream, **kw),
            "ClientStream": grpc.stream_unary_rpc_method_handler(self.client_stream, **kw),
            "Bidi": grpc.stream_stream_rpc_method_handler(self.bidi, **kw),
        })


class EchoServer:
    """A grpc.Server on 127.0.0.1:0 (insecure, or TLS with server credentials)."""

    def __init__(self, name="echo", credentials=None, workers=64, options=()):
        self.service = EchoService(name)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                                  options=list(options))
        self.server.add_generic_rpc_handlers((self.service.handler(),))
        if credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.server.start()

    def close(self):
        self.server.stop(grace=None).wait(5)


class EchoClient:
    """Typed call helpers on a channel, with bytes in and out."""

    def __init__(self, channel):
        self.channel = channel
        kw = dict(request_serializer=_identity, response_deserializer=_identity)
        self.unary = channel.unary_unary(f"/{SERVICE}/Unary", **kw)
        self.server_stream = channel.unary_stream(f"/{SERVICE}/ServerStream", **kw)
        self.client_stream = channel.stream_unary(f"/{SERVICE}/ClientStream", **kw)
        self.bidi = channel.stream_stream(f"/{SERVICE}/Bidi", **kw)

    def close(self):
        self.channel.close()

"""HTTP/1.1 proxying through the real binary: framing, keep-alive, pipelining,
header rewriting, routing. Each test talks over real sockets."""

import json
import socket
import time

from harness import (Backend, parse_responses, raw_exchange, rampart_config, wait_until)


def test_get_is_proxied_with_forwarding_headers(proxy, backend):
    status, headers, body = proxy.request("GET", "/v2/models/resnet?x=1",
                                          headers={"X-Custom": "kept", "Connection": "close, X-Drop",
                                                   "X-Drop": "gone", "Keep-Alive": "timeout=5",
                                                   "Proxy-Connection": "keep-alive"})
    assert status == 200
    seen = json.loads(body)
    assert seen["path"] == "/v2/models/resnet?x=1"
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    for hop in ("x-drop", "keep-alive", "proxy-connection"):
        assert hop not in seen["headers"], hop
    # A request id is generated, passed upstream, and returned.
    request_id = seen["headers"]["x-request-id"]
    assert len(request_id) == 36 and request_id[14] == "4"
    assert headers["x-request-id"] == request_id


def test_incoming_request_id_and_forwarded_for_are_kept(proxy):
    _, _, body = proxy.request("GET", "/", headers={"X-Request-Id": "abc-123",
                                                     "X-Forwarded-For": "10.0.0.1"})
    seen = json.loads(body)
    assert seen["headers"]["x-request-id"] == "abc-123"
    assert seen["headers"]["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"


def test_post_body_with_content_length(proxy):
    payload = b"x" * 100000
    status, _, body = proxy.request("POST", "/infer", body=payload,
                                    headers={"Content-Type": "application/octet-stream"})
    assert status == 200
    assert json.loads(body)["body_length"] == len(payload)


def test_chunked_request_body_reaches_upstream_intact(proxy):
    chunks = [b"hello ", b"chunked ", b"world" * 1000]
    raw = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    for c in chunks:
        raw += b"%x;ext=1\r\n%s\r\n" % (len(c), c)
    raw += b"0\r\nX-Trailer: t\r\n\r\n"
    responses = parse_responses(raw_exchange(proxy.address(), raw))
    assert len(responses) == 1 and responses[0][0] == 200
    assert json.loads(responses[0][2])["body"] == b"".join(chunks).decode()


def test_chunked_response_is_relayed(backend_factory, rampart_factory):
    payload = "".join(str(i) for i in range(3000))
    b = backend_factory(lambda req: req.respond(200, payload, chunked=True))
    proxy = rampart_factory(rampart_config([b.port]))
    status, headers, body = proxy.request("GET", "/")
    assert status == 200 and body.decode() == payload
    assert headers.get("transfer-encoding") == "chunked"


def test_keep_alive_reuses_both_connections(proxy, backend):
    conn = proxy.connection()
    for i in range(20):
        conn.request("GET", f"/k{i}")
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read())["path"] == f"/k{i}"
    conn.close()
    assert backend.connections == 1, "the upstream connection should be pooled and reused"
    assert proxy.metric("rampart_downstream_connections_total") == 1


def test_pipelined_requests_are_answered_in_order(proxy):
    raw = b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
    raw += b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    responses = parse_responses(raw_exchange(proxy.address(), raw))
    paths = [json.loads(body)["path"] for _, _, body in responses]
    assert paths == ["/p0", "/p1", "/p2", "/p3", "/p4", "/last"]
    assert responses[-1][1]["connection"] == "close"


def test_connection_close_closes_after_response(proxy):
    data = raw_exchange(proxy.address(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    responses = parse_responses(data)
    assert len(responses) == 1 and responses[0][0] == 200
    assert responses[0][1]["connection"] == "close"


def test_http10_client_gets_close_delimited_or_length(proxy):
    data = raw_exchange(proxy.address(), b"GET /ten HTTP/1.0\r\n\r\n")
    responses = parse_responses(data)
    assert responses[0][0] == 200
    assert json.loads(responses[0][2])["path"] == "/ten"


def test_head_204_304_have_no_body(backend_factory, rampart_factory):
    def handler(req):
        if req.path == "/204":
            req.respond(204)
        elif req.path == "/304":
            req.respond(304, headers={"ETag": '"v1"'})
        else:
            req.respond(200, "0123456789")
    b = backend_factory(handler)
    proxy = rampart_factory(rampart_config([b.port]))
    raw = (b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /304 HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = raw_exchange(proxy.address(), raw)
    # HEAD keeps the length header but carries no body; then 204, 304 and a normal response.
    assert data.count(b"HTTP/1.1 ") == 4
    head_part, rest = data.split(b"\r\n\r\n", 1)
    assert b"content-length: 10" in head_part.lower()
    assert rest.startswith(b"HTTP/1.1 204")
    assert b"HTTP/1.1 304" in rest
    assert rest.endswith(b"0123456789")


def test_expect_100_continue(proxy):
    s = socket.create_connection(proxy.address(), timeout=5)
    s.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = s.recv(100)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(b"hello")
    data = b""
    while b"}" not in data:
        data += s.recv(65536)
    s.close()
    final = parse_responses(data.split(b"\r\n\r\n", 1)[1] if data.startswith(b"HTTP/1.1 100") else data)
    assert final[0][0] == 200
    seen = json.loads(final[0][2])
    assert seen["body"] == "hello" and "expect" not in seen["headers"]


def test_curl_expect_continue_large_upload(proxy):
    import subprocess
    host, port = proxy.address()
    out = subprocess.run(["curl", "-s", "-H", "Expect: 100-continue", "--data-binary", "@-",
                          f"http://{host}:{port}/up"], input=b"z" * 2000000,
                         capture_output=True, timeout=20)
    assert json.loads(out.stdout)["body_length"] == 2000000


def test_no_route_is_404_never_an_open_proxy(backend, rampart_factory):
    routes = "  - {name: models, match: {path_prefix: /v2/, methods: [POST]}, cluster: c}\n"
    proxy = rampart_factory(rampart_config([backend.port], routes=routes))
    status, _, body = proxy.request("GET", "/v2/models")
    assert status == 404 and json.loads(body)["error"] == "no_route"
    # The absolute form routes by its path, like the origin form; it never proxies elsewhere.
    status, _, _ = proxy.request("GET", "http://example.com/v2/x")
    assert status == 404
    status, _, body = proxy.request("POST", "http://example.com/v2/models/a/infer", body=b"{}")
    assert status == 200
    assert backend.requests[-1].path == "/v2/models/a/infer"
    assert backend.requests[-1].headers["host"] == "example.com"
    status, _, _ = proxy.request("POST", "/v2/models/a/infer", body=b"{}")
    assert status == 200
    assert len(backend.requests) == 2
    assert proxy.metric("rampart_requests_total", route="none", code_class="4xx") == 2


def test_route_matching_by_header_host_and_weights(backend_factory, rampart_factory):
    a = backend_factory(lambda req: req.respond(200, "a"))
    b = backend_factory(lambda req: req.respond(200, "b"))
    config = (
        "admin: {address: 127.0.0.1:0}\nworkers: 1\n"
        "listeners: [{name: in, address: 127.0.0.1:0}]\n"
        f"clusters:\n  - {{name: a, endpoints: [127.0.0.1:{a.port}]}}\n"
        f"  - {{name: b, endpoints: [127.0.0.1:{b.port}]}}\n"
        "routes:\n"
        "  - {name: tenant-b, match: {path_prefix: /, headers: {x-tenant: b}}, cluster: b}\n"
        "  - {name: host-b, match: {path_prefix: /, host: B.example}, cluster: b}\n"
        "  - {name: exact, match: {path_exact: /only-a}, cluster: a}\n"
        "  - {name: split, match: {path_prefix: /}, clusters: [{name: a, weight: 3}, {name: b, weight: 1}]}\n")
    proxy = rampart_factory(config)
    assert proxy.request("GET", "/x", headers={"X-Tenant": "b"})[2] == b"b"
    assert proxy.request("GET", "/x", headers={"Host": "b.example:8080"})[2] == b"b"
    assert proxy.request("GET", "/only-a?q=1")[2] == b"a"
    conn = proxy.connection()
    counts = {b"a": 0, b"b": 0}
    for _ in range(400):
        conn.request("GET", "/split")
        counts[conn.getresponse().read()] += 1
    assert 0.65 < counts[b"a"] / 400 < 0.85, counts


def test_round_robin_over_endpoints(backend_factory, rampart_factory):
    backends = [backend_factory(lambda req, i=i: req.respond(200, str(i))) for i in range(3)]
    proxy = rampart_factory(rampart_config([b.port for b in backends]))
    conn = proxy.connection()
    seen = []
    for _ in range(30):
        conn.request("GET", "/")
        seen.append(conn.getresponse().read())
    assert {seen.count(x) for x in (b"0", b"1", b"2")} == {10}


def test_multiple_workers_all_serve(backend, rampart_factory):
    proxy = rampart_factory(rampart_config([backend.port], workers=2, extra="access_log: true\n"))
    for _ in range(60):
        assert proxy.request("GET", "/")[0] == 200
    workers = {e["worker"] for e in proxy.logs("access")}
    assert workers == {0, 1}, "SO_REUSEPORT should spread connections over both workers"


def test_wrk_load_through_two_workers_has_no_errors(backend_factory, rampart_factory):
    import shutil
    import subprocess
    if not shutil.which("wrk"):
        import pytest
        pytest.skip("wrk not installed")
    b = backend_factory(lambda req: req.respond(200, "ok"))
    proxy = rampart_factory(rampart_config([b.port], workers=2))
    host, port = proxy.address()
    out = subprocess.run(["wrk", "-t2", "-c16", "-d2s", f"http://{host}:{port}/"],
                         capture_output=True, text=True, timeout=30).stdout
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    total = int(out.split(" requests in")[0].split()[-1])
    assert total > 100
    assert proxy.metric("rampart_requests_total", code_class="2xx") == total or \
        proxy.metric("rampart_requests_total", code_class="2xx") >= total


def test_admin_endpoints(proxy):
    assert proxy.admin("/healthz") == (200, "ok\n")
    assert proxy.admin("/ready")[0] == 200
    status, body = proxy.admin("/config")
    config = json.loads(body)
    assert status == 200 and config["limits"]["max_header_bytes"] == 65536
    assert config["routes"][0]["timeout"] == "5s"
    proxy.request("GET", "/")
    status, text = proxy.admin("/metrics")
    assert "# TYPE rampart_requests_total counter" in text
    assert 'rampart_requests_total{route="all",cluster="c",code_class="2xx"} 1' in text
    assert "rampart_request_duration_seconds_bucket" in text
    assert proxy.metric("rampart_downstream_bytes_received_total") > 0
    assert proxy.metric("rampart_upstream_connections_active", cluster="c") == 1
    assert proxy.metric("rampart_downstream_connections_active") == 0

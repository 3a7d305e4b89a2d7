// Endpoints for the proxy's own tests: echo, byte streams, a body sink, any
// status, a delay. None of them touches the simulated GPU or the faults.

#include <event2/buffer.h>

#include <algorithm>
#include <array>

#include "examples/gpu_backend/backend_server.h"
#include "examples/gpu_backend/http_util.h"
#include "examples/gpu_backend/sha256.h"

namespace rampart::gpu_backend {
namespace {

// /bytes writes at most this much per chunk, then waits for the socket to drain.
constexpr uint64_t kChunkBytes = 64 * 1024;
// The longest /delay accepted.
constexpr uint64_t kMaxDelayMs = 600'000;

// Byte i of every /bytes body is 'a' + i % 26; this holds one chunk of it
// from any starting phase, so chunks are added by reference, never copied.
const std::array<char, kChunkBytes + 26>& pattern() {
  static const auto kPattern = [] {
    std::array<char, kChunkBytes + 26> p{};
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>('a' + i % 26);
    return p;
  }();
  return kPattern;
}

}  // namespace

void BackendServer::handleEcho(evhttp_request* req) {
  const std::string query = requestQuery(req);
  evbuffer* input = evhttp_request_get_input_buffer(req);
  Sha256 sha;
  // Hash the body in place, segment by segment, without copying it.
  const int segments = evbuffer_peek(input, -1, nullptr, nullptr, 0);
  std::vector<evbuffer_iovec> iov(static_cast<size_t>(std::max(segments, 0)));
  evbuffer_peek(input, -1, nullptr, iov.data(), segments);
  for (const evbuffer_iovec& v : iov) sha.update(v.iov_base, v.iov_len);
  const nlohmann::json echo = {{"method", methodName(req)},
                               {"path", requestPath(req)},
                               {"query", query},
                               {"args", queryArgs(query)},
                               {"headers", headersJson(req)},
                               {"body_length", evbuffer_get_length(input)},
                               {"body_sha256", sha.hexDigest()}};
  reply(req, 200, echo.dump());
}

void BackendServer::handleHeaders(evhttp_request* req) {
  if (!isGet(req)) return replyMethodNotAllowed(req, "GET, HEAD");
  reply(req, 200, nlohmann::json{{"headers", headersJson(req)}}.dump());
}

void BackendServer::handleSink(evhttp_request* req) {
  const auto command = evhttp_request_get_command(req);
  if (command != EVHTTP_REQ_POST && command != EVHTTP_REQ_PUT) {
    return replyMethodNotAllowed(req, "POST, PUT");
  }
  const size_t received = evbuffer_get_length(evhttp_request_get_input_buffer(req));
  reply(req, 200, nlohmann::json{{"received", received}}.dump());
}

void BackendServer::handleStatus(evhttp_request* req, const Route& route) {
  if (!route.number || *route.number < 200 || *route.number > 599) {
    return reply(req, 400, errorBody("status must be 200..599"));
  }
  const int status = static_cast<int>(*route.number);
  reply(req, status, nlohmann::json{{"status", status}}.dump());
}

void BackendServer::handleDelay(evhttp_request* req, const Route& route) {
  if (!route.number || *route.number > kMaxDelayMs) {
    return reply(req, 400, errorBody("delay must be 0..600000 ms"));
  }
  const uint64_t ms = *route.number;
  pauseReading(req);
  timers_.after(std::chrono::milliseconds(ms), [this, req, ms] {
    reply(req, 200, nlohmann::json{{"delayed_ms", ms}}.dump());
  });
}

void BackendServer::handleBytes(evhttp_request* req, const Route& route) {
  if (!isGet(req)) return replyMethodNotAllowed(req, "GET, HEAD");
  if (!route.number) return reply(req, 400, errorBody("/bytes/{n}: n must be a number"));
  const uint64_t n = *route.number;
  const bool chunked = queryArgs(requestQuery(req)).value("chunked", "0") == "1";
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", "application/octet-stream");
  if (!chunked) evhttp_add_header(headers, "Content-Length", std::to_string(n).c_str());
  if (options_.log)
    std::fprintf(stderr, "GET /bytes/%llu 200\n", static_cast<unsigned long long>(n));
  if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD || n == 0) {
    if (chunked) {  // a chunked reply with no chunks: just the terminator
      evhttp_send_reply_start(req, 200, nullptr);
      evhttp_send_reply_end(req);
      return;
    }
    evhttp_send_reply(req, 200, nullptr, nullptr);
    return;
  }
  evhttp_send_reply_start(req, 200, nullptr);
  evhttp_connection* conn = evhttp_request_get_connection(req);
  auto stream = std::make_unique<ByteStream>(ByteStream{this, req, conn, n, 0});
  ByteStream* raw = stream.get();
  streams_[conn] = std::move(stream);
  evhttp_connection_set_closecb(conn, &BackendServer::onStreamConnectionClosed, this);
  pumpStream(raw);
}

void BackendServer::pumpStream(ByteStream* stream) {
  if (stream->remaining == 0) {
    evhttp_request* req = stream->req;
    evhttp_connection_set_closecb(stream->conn, nullptr, nullptr);
    streams_.erase(stream->conn);  // destroys *stream
    evhttp_send_reply_end(req);
    return;
  }
  const uint64_t size = std::min(stream->remaining, kChunkBytes);
  EvbufferPtr chunk(evbuffer_new());
  evbuffer_add_reference(chunk.get(), pattern().data() + stream->offset % 26, size, nullptr,
                         nullptr);
  stream->offset += size;
  stream->remaining -= size;
  evhttp_send_reply_chunk_with_cb(stream->req, chunk.get(), &BackendServer::onStreamWritten,
                                  stream);
}

void BackendServer::onStreamWritten(evhttp_connection*, void* arg) {
  auto* stream = static_cast<ByteStream*>(arg);
  stream->server->pumpStream(stream);
}

void BackendServer::onStreamConnectionClosed(evhttp_connection* conn, void* arg) {
  // The client went away mid-stream. evhttp has detached the unfinished request
  // from the dying connection and left it to us; ending it frees it.
  auto* self = static_cast<BackendServer*>(arg);
  auto it = self->streams_.find(conn);
  if (it == self->streams_.end()) return;
  evhttp_request* req = it->second->req;
  self->streams_.erase(it);
  if (evhttp_request_get_connection(req) == nullptr) evhttp_send_reply_end(req);
}

}  // namespace rampart::gpu_backend

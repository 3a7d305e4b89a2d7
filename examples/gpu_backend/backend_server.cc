#include "examples/gpu_backend/backend_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>

#include "examples/gpu_backend/http_util.h"

namespace rampart::gpu_backend {

BackendServer::BackendServer(event_base* base, Options options)
    : base_(base),
      options_(std::move(options)),
      catalog_(options_.models),
      formats_{options_.maxBatch, options_.poisonValue, options_.embeddingDims},
      faults_(options_.control.seed),
      timers_(base),
      gpu_(timers_, [this](uint64_t n) { return batchCost(options_.control, n); }),
      hangSweep_(event_new(base, -1, EV_PERSIST, &BackendServer::onHangSweep, this)),
      http_(evhttp_new(base)) {
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
  evhttp_set_default_content_type(http_.get(), "application/json");
  if (options_.maxBodyBytes >= 0) evhttp_set_max_body_size(http_.get(), options_.maxBodyBytes);
  evhttp_set_gencb(http_.get(), &BackendServer::onRequest, this);
}

BackendServer::~BackendServer() {
  // evhttp_free closes every connection; streams must not hear about it after
  // this object starts dying, and it must run before the timers and queues go.
  for (auto& [conn, stream] : streams_) evhttp_connection_set_closecb(conn, nullptr, nullptr);
  http_.reset();
}

std::optional<uint16_t> BackendServer::listen(std::string& error) {
  evhttp_bound_socket* bound =
      evhttp_bind_socket_with_handle(http_.get(), options_.address.c_str(), options_.port);
  if (bound == nullptr) {
    error = "cannot listen on " + options_.address + ":" + std::to_string(options_.port);
    return std::nullopt;
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&addr), &len) !=
      0) {
    error = "getsockname failed";
    return std::nullopt;
  }
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void BackendServer::onRequest(evhttp_request* req, void* arg) {
  static_cast<BackendServer*>(arg)->dispatch(req);
}

void BackendServer::dispatch(evhttp_request* req) {
  counters_.httpRequests += 1;
  const Route route = matchRoute(requestPath(req));
  switch (route.endpoint) {
    case Endpoint::kHealthReady:
    case Endpoint::kHealthLive:
      return handleHealth(req, route.endpoint);
    case Endpoint::kServerMetadata:
      if (!isGet(req)) return replyMethodNotAllowed(req, "GET, HEAD");
      return reply(req, 200,
                   nlohmann::json{{"name", "rampart-gpu-backend"},
                                  {"version", "1.0"},
                                  {"extensions", nlohmann::json::array()}}
                       .dump());
    case Endpoint::kModelMetadata:
    case Endpoint::kModelReady:
    case Endpoint::kTfModelStatus:
      return handleModelInfo(req, route);
    case Endpoint::kKServeInfer:
    case Endpoint::kTfPredict:
    case Endpoint::kEmbeddings:
      return handleInference(req, route);
    case Endpoint::kStats:
      return handleStats(req);
    case Endpoint::kStatsReset:
      return handleStatsReset(req);
    case Endpoint::kControl:
      return handleControl(req);
    case Endpoint::kEcho:
      return handleEcho(req);
    case Endpoint::kHeaders:
      return handleHeaders(req);
    case Endpoint::kBytes:
      return handleBytes(req, route);
    case Endpoint::kSink:
      return handleSink(req);
    case Endpoint::kStatus:
      return handleStatus(req, route);
    case Endpoint::kDelay:
      return handleDelay(req, route);
    case Endpoint::kNotFound:
      break;
  }
  reply(req, 404, errorBody("no such endpoint: " + requestPath(req)));
}

void BackendServer::reply(evhttp_request* req, int status, std::string_view body,
                          std::string_view contentType) {
  if (options_.log) {
    const char* uri = evhttp_request_get_uri(req);
    std::fprintf(stderr, "%.*s %s %d %zu\n", static_cast<int>(methodName(req).size()),
                 methodName(req).data(), uri != nullptr ? uri : "-", status, body.size());
  }
  sendReply(req, status, body, contentType);
}

void BackendServer::replyMethodNotAllowed(evhttp_request* req, const char* allow) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
  reply(req, 405, errorBody(std::string("method not allowed; use ") + allow));
}

bool BackendServer::isGet(evhttp_request* req) const {
  const auto command = evhttp_request_get_command(req);
  return command == EVHTTP_REQ_GET || command == EVHTTP_REQ_HEAD;
}

bool BackendServer::isPost(evhttp_request* req) const {
  return evhttp_request_get_command(req) == EVHTTP_REQ_POST;
}

void BackendServer::handleHealth(evhttp_request* req, Endpoint endpoint) {
  if (!isGet(req)) return replyMethodNotAllowed(req, "GET, HEAD");
  const char* field = endpoint == Endpoint::kHealthLive ? "live" : "ready";
  const bool healthy = !options_.control.faults.failHealth;
  reply(req, healthy ? 200 : 503, nlohmann::json{{field, healthy}}.dump());
}

void BackendServer::handleModelInfo(evhttp_request* req, const Route& route) {
  if (!isGet(req)) return replyMethodNotAllowed(req, "GET, HEAD");
  if (!catalog_.serves(route.model)) {
    return reply(req, 404, errorBody("model '" + route.model + "' is not served"));
  }
  switch (route.endpoint) {
    case Endpoint::kModelReady: {
      const bool healthy = !options_.control.faults.failHealth;
      return reply(req, healthy ? 200 : 503,
                   nlohmann::json{{"name", route.model}, {"ready", healthy}}.dump());
    }
    case Endpoint::kTfModelStatus:
      return reply(req, 200, tfModelStatus(route.version).dump());
    default:
      return reply(req, 200, kserveModelMetadata(route.model, route.version, formats_).dump());
  }
}

}  // namespace rampart::gpu_backend

// The model endpoints: validation, the fault switches, the GPU queue, and the
// two ways a response can fail on purpose (poison input, connection reset).

#include <event2/bufferevent.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdio>

#include "examples/gpu_backend/backend_server.h"
#include "examples/gpu_backend/http_util.h"

namespace rampart::gpu_backend {
namespace {

// How often hung requests are checked for a client that has gone away.
constexpr timeval kHangSweepInterval{0, 200'000};

// Classifies a connection by peeking at its socket without consuming data.
bool peerClosed(evhttp_connection* conn) {
  const int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
  if (fd < 0) return true;
  char byte = 0;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // more requests pipelined behind the hung one
  if (n == 0) return true;  // orderly close
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace

void BackendServer::handleInference(evhttp_request* req, const Route& route) {
  if (!isPost(req)) return replyMethodNotAllowed(req, "POST");
  if (route.endpoint != Endpoint::kEmbeddings && !catalog_.serves(route.model)) {
    return reply(req, 404, errorBody("model '" + route.model + "' is not served"));
  }
  counters_.inferenceRequests += 1;
  const FaultConfig& faults = options_.control.faults;
  if (faults.hang) return holdForever(req);
  const FaultDecision decision = faults_.decide(faults);
  if (decision.error) {
    counters_.errorsInjected += 1;
    return reply(req, faults.errorStatus, errorBody("injected fault"));
  }
  PrepareResult prepared = prepare(req, route);
  if (auto* error = std::get_if<RequestError>(&prepared)) {
    counters_.badRequests += 1;
    return reply(req, error->status, error->body);
  }
  if (faults.capacity > 0 && gpu_.inFlight() >= faults.capacity) {
    counters_.rejectedCapacity += 1;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    return reply(req, 503, errorBody("over capacity"));
  }
  auto& job = std::get<PreparedInference>(prepared);
  pauseReading(req);
  gpu_.submit(job.batchSize,
              [this, req, body = std::move(job.responseBody), poisoned = job.poisoned,
               reset = decision.reset] { finishInference(req, body, poisoned, reset); });
}

PrepareResult BackendServer::prepare(evhttp_request* req, const Route& route) const {
  const std::string body = requestBody(req);
  switch (route.endpoint) {
    case Endpoint::kKServeInfer:
      return prepareKServeInfer(body, route.model, route.version, formats_);
    case Endpoint::kTfPredict:
      return prepareTfPredict(body, formats_);
    default:
      return prepareEmbeddings(body, catalog_, formats_);
  }
}

void BackendServer::finishInference(evhttp_request* req, const std::string& body, bool poisoned,
                                    bool reset) {
  // A poisoned batch fails as a whole, as a real model does when one item is bad.
  const int status = poisoned ? 500 : 200;
  const std::string& payload = poisoned ? errorBody("poison input in batch") : body;
  if (poisoned) counters_.poisonedBatches += 1;
  if (reset) {
    counters_.resetsInjected += 1;
    return abortMidResponse(req, status, payload);
  }
  reply(req, status, payload);
}

void BackendServer::abortMidResponse(evhttp_request* req, int status, const std::string& body) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (conn == nullptr) {  // the client is already gone; just release the request
    evhttp_request_free(req);
    return;
  }
  // The status line, all headers and half the body go straight to the socket
  // (nothing else is queued on it: evhttp flushed the previous response before
  // reading this request). Then a zero linger turns the close into a reset.
  std::string partial =
      "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Internal Server Error") +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  partial.append(body, 0, body.size() / 2);
  const int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
  if (fd >= 0) {
    [[maybe_unused]] const ssize_t sent =
        ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    const linger abortive{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
  }
  if (options_.log) std::fprintf(stderr, "reset mid-response (%zu bytes sent)\n", partial.size());
  evhttp_connection_free(conn);  // also frees req
}

void BackendServer::holdForever(evhttp_request* req) {
  counters_.hangsInjected += 1;
  pauseReading(req);
  hung_.push_back(req);
  if (hung_.size() == 1) event_add(hangSweep_.get(), &kHangSweepInterval);
}

void BackendServer::onHangSweep(evutil_socket_t, short, void* arg) {
  static_cast<BackendServer*>(arg)->sweepHung();
}

void BackendServer::sweepHung() {
  // A hung request is never answered, but its connection must not outlive the
  // client, or a long fault test would run out of file descriptors.
  std::vector<evhttp_request*> still;
  for (evhttp_request* req : hung_) {
    evhttp_connection* conn = evhttp_request_get_connection(req);
    if (conn == nullptr) {
      evhttp_request_free(req);
    } else if (peerClosed(conn)) {
      evhttp_connection_free(conn);
    } else {
      still.push_back(req);
    }
  }
  hung_ = std::move(still);
  if (hung_.empty()) event_del(hangSweep_.get());
}

}  // namespace rampart::gpu_backend

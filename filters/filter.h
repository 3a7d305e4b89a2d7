#pragma once
// The per-route filter chain, in Envoy's shape at a fraction of its size:
// each request gets one instance of every filter on its route; decodeHeaders()
// runs in order and a filter may stop the chain (to wait, or because it
// answered) and later resume it; onComplete() tells every filter how the
// request ended, so permits and samples are released exactly once.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/time.h"
#include "proxy/event/buffer.h"
#include "proxy/http/message.h"

namespace rampart::filters {

// What a filter wants after seeing the request head.
enum class FilterStatus {
  Continue,       // run the next filter, then route upstream
  StopIteration,  // hold the request; the filter will call continueDecoding() or answer
};

// How the request ended, for every filter.
struct RequestOutcome {
  int status = 0;                 // the status sent downstream (0: none, the client left)
  bool local_reply = false;       // Rampart answered (shed, no route, 5xx for an upstream failure)
  bool upstream_timeout = false;  // an attempt or the deadline expired
  policy::Duration duration{};    // head received → response complete
  policy::Duration upstream_rtt{};  // the answering attempt: sent → response complete (0: none)
};

// What a filter may ask of the request that runs it.
class FilterCallbacks {
 public:
  virtual ~FilterCallbacks() = default;
  // Resumes the chain after StopIteration (safe to call from any callback; runs later).
  virtual void continueDecoding() = 0;
  // Answers the request locally and ends the chain; extra headers are added to the response.
  virtual void sendLocalReply(int status, std::string_view code, std::string_view message,
                              std::vector<std::pair<std::string, std::string>> headers = {}) = 0;
  // When the caller wants its answer by (TimePoint::max() when unbounded).
  virtual policy::TimePoint deadline() const = 0;
  // Adds a field to the request's access log line ("shed_reason": "queue_full").
  virtual void annotate(std::string_view key, std::string value) = 0;
  // The request body received so far while the chain is stopped.
  virtual const event::Buffer& bufferedBody() const = 0;
  // Lets the chain hold up to `bytes` of body while stopped (default 1 MiB), before
  // the client is paused; a filter that needs the whole body raises it.
  virtual void setBodyBufferLimit(uint64_t bytes) = 0;
  // Answers the request with a complete response (status, headers, body) and ends the chain.
  virtual void sendResponse(int status, std::vector<std::pair<std::string, std::string>> headers,
                            std::string body) = 0;
  // The route's name (for metrics and logs).
  virtual std::string_view routeName() const = 0;
};

class StreamFilter {
 public:
  virtual ~StreamFilter() = default;
  // Called once, before decodeHeaders().
  virtual void setCallbacks(FilterCallbacks& callbacks) = 0;
  // The request head; end_stream when there is no body.
  virtual FilterStatus decodeHeaders(http::RequestHead& head, bool end_stream) = 0;
  // Body bytes for the filter that stopped the chain (only it sees them); the body is
  // also kept in bufferedBody(). The filter calls continueDecoding() or answers when done.
  virtual void decodeData(std::string_view data, bool end_stream) {}
  // The request is over (answered, failed, or abandoned). Called exactly once.
  virtual void onComplete(const RequestOutcome& outcome) = 0;
};

// Makes a route's filter for each request. One factory per route per worker.
class FilterFactory {
 public:
  virtual ~FilterFactory() = default;
  virtual std::unique_ptr<StreamFilter> create() = 0;
};

}  // namespace rampart::filters

#pragma once
// BackendServer: the HTTP face of the simulated GPU. One evhttp server on one
// event loop; every request is answered from a callback or a timer, never by
// blocking. Handlers are split by topic across backend_server.cc (dispatch,
// health, metadata), inference.cc (the model endpoints and their faults),
// control.cc (/stats, /control) and utility.cc (/echo, /bytes, /sink, ...).
//
// Request lifetime: once a request's callback returns without replying, the
// server keeps its evhttp_request* and stops reading from its connection
// (pauseReading), so evhttp cannot free it behind our back; the pointer stays
// valid until we reply. Streams (/bytes) are the exception: evhttp reads for
// close detection while writing, so a stream registers a close callback.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "examples/gpu_backend/event_handles.h"
#include "examples/gpu_backend/faults.h"
#include "examples/gpu_backend/flags.h"
#include "examples/gpu_backend/gpu_executor.h"
#include "examples/gpu_backend/model_formats.h"
#include "examples/gpu_backend/routes.h"
#include "examples/gpu_backend/timer_set.h"

namespace rampart::gpu_backend {

// Request counters outside the GPU's own statistics; reset with /stats/reset.
struct ServerCounters {
  uint64_t httpRequests = 0;       // every request, any endpoint
  uint64_t inferenceRequests = 0;  // requests to a served model's inference endpoint
  uint64_t badRequests = 0;        // inference requests rejected by validation (4xx)
  uint64_t errorsInjected = 0;     // answered error_status by error_rate
  uint64_t resetsInjected = 0;     // responses cut off by reset_rate
  uint64_t hangsInjected = 0;      // requests held forever by hang
  uint64_t rejectedCapacity = 0;   // answered 503 because capacity was full
  uint64_t poisonedBatches = 0;    // batches failed by a poison input
};

class BackendServer {
 public:
  // A server on `base` (which must outlive it) configured by `options`.
  BackendServer(event_base* base, Options options);
  ~BackendServer();
  BackendServer(const BackendServer&) = delete;
  BackendServer& operator=(const BackendServer&) = delete;

  // Binds options.address:options.port; returns the bound port, or nullopt and sets `error`.
  std::optional<uint16_t> listen(std::string& error);

 private:
  // One /bytes response being written chunk by chunk as the socket drains.
  struct ByteStream {
    BackendServer* server = nullptr;
    evhttp_request* req = nullptr;
    evhttp_connection* conn = nullptr;
    uint64_t remaining = 0;  // bytes still to queue
    uint64_t offset = 0;     // bytes queued so far (position in the pattern)
  };

  static void onRequest(evhttp_request* req, void* arg);
  void dispatch(evhttp_request* req);
  // Sends one complete reply (and logs it with --log).
  void reply(evhttp_request* req, int status, std::string_view body,
             std::string_view contentType = "application/json");
  // 405 with an Allow header.
  void replyMethodNotAllowed(evhttp_request* req, const char* allow);
  bool isGet(evhttp_request* req) const;
  bool isPost(evhttp_request* req) const;

  // backend_server.cc: health and metadata.
  void handleHealth(evhttp_request* req, Endpoint endpoint);
  void handleModelInfo(evhttp_request* req, const Route& route);

  // inference.cc: the model endpoints, the GPU queue and the faults.
  void handleInference(evhttp_request* req, const Route& route);
  PrepareResult prepare(evhttp_request* req, const Route& route) const;
  void finishInference(evhttp_request* req, const std::string& body, bool poisoned, bool reset);
  void abortMidResponse(evhttp_request* req, int status, const std::string& body);
  void holdForever(evhttp_request* req);
  static void onHangSweep(evutil_socket_t, short, void* arg);
  void sweepHung();

  // control.cc: /stats and /control.
  void handleStats(evhttp_request* req);
  void handleStatsReset(evhttp_request* req);
  void handleControl(evhttp_request* req);
  nlohmann::json statsJson() const;

  // utility.cc: endpoints for proxy tests.
  void handleEcho(evhttp_request* req);
  void handleHeaders(evhttp_request* req);
  void handleBytes(evhttp_request* req, const Route& route);
  void handleSink(evhttp_request* req);
  void handleStatus(evhttp_request* req, const Route& route);
  void handleDelay(evhttp_request* req, const Route& route);
  void pumpStream(ByteStream* stream);
  static void onStreamWritten(evhttp_connection* conn, void* arg);
  static void onStreamConnectionClosed(evhttp_connection* conn, void* arg);

  event_base* base_;
  Options options_;
  ModelCatalog catalog_;
  FormatOptions formats_;
  FaultInjector faults_;
  ServerCounters counters_;
  TimerSet timers_;
  GpuExecutor gpu_;
  std::vector<evhttp_request*> hung_;  // requests held by the hang fault
  EventPtr hangSweep_;                 // frees hung requests whose client has gone
  std::unordered_map<evhttp_connection*, std::unique_ptr<ByteStream>> streams_;
  EvhttpPtr http_;  // last member: freed first (see the destructor)
};

}  // namespace rampart::gpu_backend

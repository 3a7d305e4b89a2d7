// /stats and /control: what tests read to prove what the backend did, and the
// switches they flip while it runs.

#include "examples/gpu_backend/backend_server.h"
#include "examples/gpu_backend/http_util.h"

namespace rampart::gpu_backend {

nlohmann::json BackendServer::statsJson() const {
  const GpuStats& gpu = gpu_.stats();
  nlohmann::json bySize = nlohmann::json::object();
  for (const auto& [size, count] : gpu.batchesBySize) bySize[std::to_string(size)] = count;
  return nlohmann::json{
      {"requests", counters_.inferenceRequests},
      {"items", gpu.items},
      {"batches", gpu.batches},
      {"batches_by_size", std::move(bySize)},
      {"max_queue", gpu.maxQueue},
      {"busy_ms", std::chrono::duration<double, std::milli>(gpu.busy).count()},
      {"queue_length", gpu_.queued()},
      {"in_flight", gpu_.inFlight()},
      {"hung_now", hung_.size()},
      {"http_requests", counters_.httpRequests},
      {"bad_requests", counters_.badRequests},
      {"errors_injected", counters_.errorsInjected},
      {"resets_injected", counters_.resetsInjected},
      {"hangs_injected", counters_.hangsInjected},
      {"rejected_over_capacity", counters_.rejectedCapacity},
      {"poisoned_batches", counters_.poisonedBatches},
  };
}

void BackendServer::handleStats(evhttp_request* req) {
  if (!isGet(req)) return replyMethodNotAllowed(req, "GET, HEAD");
  reply(req, 200, statsJson().dump());
}

void BackendServer::handleStatsReset(evhttp_request* req) {
  if (!isPost(req)) return replyMethodNotAllowed(req, "POST");
  gpu_.resetStats();
  counters_ = ServerCounters{};
  reply(req, 200, statsJson().dump());
}

void BackendServer::handleControl(evhttp_request* req) {
  if (isGet(req)) return reply(req, 200, controlToJson(options_.control).dump());
  if (!isPost(req)) return replyMethodNotAllowed(req, "GET, HEAD, POST");
  nlohmann::json patch;
  try {
    patch = nlohmann::json::parse(requestBody(req));
  } catch (const nlohmann::json::exception& e) {
    return reply(req, 400, errorBody(std::string("invalid JSON: ") + e.what()));
  }
  if (auto error = applyControlJson(patch, options_.control)) {
    return reply(req, 400, errorBody(*error));
  }
  if (patch.contains("seed")) faults_.reseed(options_.control.seed);
  if (options_.log) std::fprintf(stderr, "control: %s\n", patch.dump().c_str());
  reply(req, 200, controlToJson(options_.control).dump());
}

}  // namespace rampart::gpu_backend

#pragma once
// Maps a request path to one of the backend's endpoints. Pure string work, no
// libevent, so the table is easy to read and to test.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::gpu_backend {

enum class Endpoint {
  kNotFound,        // no endpoint has this path
  kHealthReady,     // GET /v2/health/ready
  kHealthLive,      // GET /v2/health/live
  kServerMetadata,  // GET /v2
  kModelMetadata,   // GET /v2/models/{m}[/versions/{v}]
  kModelReady,      // GET /v2/models/{m}[/versions/{v}]/ready
  kKServeInfer,     // POST /v2/models/{m}[/versions/{v}]/infer
  kTfModelStatus,   // GET /v1/models/{m}[/versions/{v}]
  kTfPredict,       // POST /v1/models/{m}[/versions/{v}]:predict
  kEmbeddings,      // POST /v1/embeddings
  kStats,           // GET /stats
  kStatsReset,      // POST /stats/reset
  kControl,         // GET|POST /control
  kEcho,            // any method, /echo or /echo/...
  kBytes,           // GET /bytes/{n}
  kSink,            // POST|PUT /sink
  kStatus,          // any method, /status/{code}
  kDelay,           // any method, /delay/{ms}
  kHeaders,         // GET /headers
};

// The endpoint a path names, with the pieces taken from the path.
struct Route {
  Endpoint endpoint = Endpoint::kNotFound;
  std::string model;               // {m}, for model endpoints
  std::string version;             // {v}, empty when the path has none
  std::optional<uint64_t> number;  // {n}/{code}/{ms}; nullopt when absent or not a number
};

// Finds the endpoint for a raw (not percent-decoded) path without the query.
Route matchRoute(std::string_view path);

// True for the endpoints that run on the simulated GPU (faults apply to these).
bool isInference(Endpoint endpoint);

}  // namespace rampart::gpu_backend

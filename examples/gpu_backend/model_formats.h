#pragma once
// The wire formats the simulated model speaks, as pure functions from a request
// body to a validated, ready-to-send answer (no libevent, no clock).
//
// The model is arithmetic so that any mis-split or mis-ordered merge by a proxy
// shows in the values:
//   KServe v2:  output0 row i = input0 row i with x -> 2x+1;
//               row_sum[i]    = sum of every input's row-i elements.
//   TF Serving: predictions[i] = instances[i] with every number x -> 2x+1.
//   OpenAI:     embedding i    = a unit vector derived from a hash of input i's text.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace rampart::gpu_backend {

// Which model names are served.
class ModelCatalog {
 public:
  // Serves exactly `names`, or any name when `names` is empty.
  explicit ModelCatalog(std::vector<std::string> names) : names_(std::move(names)) {}
  // True when requests for `name` are served.
  bool serves(std::string_view name) const;
  // The configured names (empty = any).
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::string> names_;
};

// Limits and knobs the formats need.
struct FormatOptions {
  uint64_t maxBatch = 1024;    // largest batch a request may carry
  double poisonValue = -999;   // an input value equal to this poisons the batch
  uint32_t embeddingDims = 8;  // default embedding length
};

// A validated inference call: how much GPU work it is and what to answer.
struct PreparedInference {
  uint64_t batchSize = 0;    // items the GPU executes for this request
  bool poisoned = false;     // an input equals the poison value: the batch fails with 500
  std::string responseBody;  // JSON answered with 200 when the batch succeeds
};

// A request the model rejects before it reaches the GPU.
struct RequestError {
  int status = 400;  // HTTP status to answer
  std::string body;  // JSON error body in the protocol's own shape
};

using PrepareResult = std::variant<PreparedInference, RequestError>;

// POST /v2/models/{model}[/versions/{version}]/infer.
PrepareResult prepareKServeInfer(std::string_view body, std::string_view model,
                                 std::string_view version, const FormatOptions& options);
// POST /v1/models/{model}[/versions/{version}]:predict.
PrepareResult prepareTfPredict(std::string_view body, const FormatOptions& options);
// POST /v1/embeddings (the model name is in the body and checked against `catalog`).
PrepareResult prepareEmbeddings(std::string_view body, const ModelCatalog& catalog,
                                const FormatOptions& options);

// GET /v2/models/{model}[/versions/{version}] metadata.
nlohmann::json kserveModelMetadata(std::string_view model, std::string_view version,
                                   const FormatOptions& options);
// GET /v1/models/{model}[/versions/{version}] status.
nlohmann::json tfModelStatus(std::string_view version);

// The deterministic unit-length embedding of `text` with `dims` components.
std::vector<double> embedText(std::string_view text, uint32_t dims);

// {"error": message} as a string.
std::string errorBody(std::string_view message);

}  // namespace rampart::gpu_backend

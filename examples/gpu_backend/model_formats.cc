#include "examples/gpu_backend/model_formats.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

namespace rampart::gpu_backend {
namespace {

using nlohmann::json;

// Deeper nesting than this is refused rather than recursed into.
constexpr int kMaxDepth = 64;
// The largest tensor (in elements) one request may carry.
constexpr uint64_t kMaxElements = uint64_t{1} << 27;

RequestError badRequest(std::string_view message) {
  return RequestError{400, errorBody(message)};
}

// Parses `body` as JSON; on failure fills `error` and returns a discarded value.
json parseBody(std::string_view body, std::string& error) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    error = std::string("invalid JSON: ") + e.what();
    return json(json::value_t::discarded);
  }
}

bool isNumericDatatype(std::string_view type) {
  static constexpr std::array<std::string_view, 13> kTypes = {
      "BOOL",  "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
      "INT32", "INT64", "FP16",   "FP32",   "FP64",   "BF16"};
  return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end();
}

// One validated KServe input tensor, flattened row-major.
struct Tensor {
  std::string name;
  std::vector<uint64_t> shape;
  std::vector<double> values;
  uint64_t rowLength() const {
    uint64_t n = 1;
    for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return n;
  }
};

// Appends every leaf of a flat or nested `data` array to `out`.
bool flattenData(const json& data, bool allowBool, int depth, std::vector<double>& out) {
  if (depth > kMaxDepth || out.size() > kMaxElements) return false;
  for (const json& item : data) {
    if (item.is_array()) {
      if (!flattenData(item, allowBool, depth + 1, out)) return false;
    } else if (item.is_number()) {
      out.push_back(item.get<double>());
    } else if (allowBool && item.is_boolean()) {
      out.push_back(item.get<bool>() ? 1.0 : 0.0);
    } else {
      return false;
    }
  }
  return true;
}

// Validates one entry of "inputs"; returns an error message or fills `tensor`.
std::optional<std::string> readTensor(const json& input, Tensor& tensor) {
  if (!input.is_object()) return "each input must be an object";
  const auto name = input.find("name");
  if (name == input.end() || !name->is_string()) return "each input needs a string \"name\"";
  tensor.name = name->get<std::string>();
  const std::string where = "input '" + tensor.name + "': ";
  const auto datatype = input.find("datatype");
  if (datatype == input.end() || !datatype->is_string()) return where + "needs a \"datatype\"";
  const std::string type = datatype->get<std::string>();
  if (!isNumericDatatype(type)) return where + "datatype " + type + " is not supported";
  const auto shape = input.find("shape");
  if (shape == input.end() || !shape->is_array() || shape->empty()) {
    return where + "\"shape\" must be a non-empty array";
  }
  uint64_t elements = 1;
  for (const json& dim : *shape) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      return where + "shape dimensions must be non-negative integers";
    }
    const auto d = dim.get<uint64_t>();
    if (d > kMaxElements || (d != 0 && elements > kMaxElements / d)) return where + "too large";
    elements *= d;
    tensor.shape.push_back(d);
  }
  const auto data = input.find("data");
  if (data == input.end() || !data->is_array()) return where + "\"data\" must be an array";
  tensor.values.reserve(elements);
  if (!flattenData(*data, type == "BOOL", 0, tensor.values)) {
    return where + "\"data\" must hold numbers only";
  }
  if (tensor.values.size() != elements) {
    return where + "shape " + json(tensor.shape).dump() + " needs " + std::to_string(elements) +
           " values, got " + std::to_string(tensor.values.size());
  }
  return std::nullopt;
}

// Reads the optional "outputs" selection; both outputs when absent.
std::optional<std::string> readOutputSelection(const json& request, bool& wantOutput0,
                                               bool& wantRowSum) {
  const auto outputs = request.find("outputs");
  if (outputs == request.end()) {
    wantOutput0 = wantRowSum = true;
    return std::nullopt;
  }
  if (!outputs->is_array()) return "\"outputs\" must be an array";
  wantOutput0 = wantRowSum = false;
  for (const json& out : *outputs) {
    const auto name = out.is_object() ? out.find("name") : out.end();
    if (!out.is_object() || name == out.end() || !name->is_string()) {
      return "each requested output needs a \"name\"";
    }
    const std::string n = name->get<std::string>();
    if (n == "output0") {
      wantOutput0 = true;
    } else if (n == "row_sum") {
      wantRowSum = true;
    } else {
      return "unknown output '" + n + "' (outputs: output0, row_sum)";
    }
  }
  return std::nullopt;
}

// Builds the KServe response from validated tensors of batch size n.
std::string kserveResponse(const json& request, const std::vector<Tensor>& inputs, uint64_t n,
                           std::string_view model, std::string_view version, bool wantOutput0,
                           bool wantRowSum) {
  json response = json::object();
  response["model_name"] = model;
  response["model_version"] = version.empty() ? std::string_view("1") : version;
  if (auto id = request.find("id"); id != request.end()) response["id"] = *id;
  json outputs = json::array();
  if (wantOutput0) {
    const Tensor& first = inputs.front();
    std::vector<double> doubled(first.values.size());
    std::transform(first.values.begin(), first.values.end(), doubled.begin(),
                   [](double x) { return 2 * x + 1; });
    outputs.push_back({{"name", "output0"},
                       {"datatype", "FP32"},
                       {"shape", {n, first.rowLength()}},
                       {"data", std::move(doubled)}});
  }
  if (wantRowSum) {
    std::vector<double> sums(n, 0.0);
    for (const Tensor& t : inputs) {
      const uint64_t row = t.rowLength();
      for (uint64_t i = 0; i < n; ++i) {
        for (uint64_t j = 0; j < row; ++j) sums[i] += t.values[i * row + j];
      }
    }
    outputs.push_back(
        {{"name", "row_sum"}, {"datatype", "FP32"}, {"shape", {n, 1}}, {"data", std::move(sums)}});
  }
  response["outputs"] = std::move(outputs);
  return response.dump();
}

// x -> 2x+1 through arrays and object values; other leaves unchanged.
bool transformInstance(const json& in, double poison, int depth, bool& poisoned, json& out) {
  if (depth > kMaxDepth) return false;
  if (in.is_number()) {
    const double x = in.get<double>();
    if (x == poison) poisoned = true;
    out = 2 * x + 1;
  } else if (in.is_array()) {
    out = json::array();
    for (const json& item : in) {
      json mapped;
      if (!transformInstance(item, poison, depth + 1, poisoned, mapped)) return false;
      out.push_back(std::move(mapped));
    }
  } else if (in.is_object()) {
    out = json::object();
    for (const auto& [key, value] : in.items()) {
      if (!transformInstance(value, poison, depth + 1, poisoned, out[key])) return false;
    }
  } else {
    out = in;
  }
  return true;
}

RequestError openAiError(int status, std::string_view message, std::string_view param,
                         std::string_view code) {
  json error = {{"message", message}, {"type", "invalid_request_error"}};
  error["param"] = param.empty() ? json(nullptr) : json(param);
  error["code"] = code.empty() ? json(nullptr) : json(code);
  return RequestError{status, json{{"error", std::move(error)}}.dump()};
}

uint64_t countWords(std::string_view text) {
  uint64_t words = 0;
  bool inWord = false;
  for (char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !inWord) ++words;
    inWord = !space;
  }
  return words;
}

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

bool ModelCatalog::serves(std::string_view name) const {
  if (name.empty()) return false;
  if (names_.empty()) return true;
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

std::string errorBody(std::string_view message) {
  return json{{"error", message}}.dump();
}

PrepareResult prepareKServeInfer(std::string_view body, std::string_view model,
                                 std::string_view version, const FormatOptions& options) {
  std::string error;
  const json request = parseBody(body, error);
  if (!error.empty()) return badRequest(error);
  if (!request.is_object()) return badRequest("request must be a JSON object");
  const auto inputs = request.find("inputs");
  if (inputs == request.end() || !inputs->is_array() || inputs->empty()) {
    return badRequest("\"inputs\" must be a non-empty array");
  }
  std::vector<Tensor> tensors(inputs->size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (auto failure = readTensor((*inputs)[i], tensors[i])) return badRequest(*failure);
  }
  const uint64_t n = tensors.front().shape.front();
  for (const Tensor& t : tensors) {
    if (t.shape.front() != n) {
      return badRequest("all inputs must have the same batch size (shape[0]): input '" + t.name +
                        "' has " + std::to_string(t.shape.front()) + ", expected " +
                        std::to_string(n));
    }
  }
  if (n == 0) return badRequest("batch size (shape[0]) must be at least 1");
  if (n > options.maxBatch) {
    return badRequest("batch size " + std::to_string(n) + " exceeds the model's max batch " +
                      std::to_string(options.maxBatch));
  }
  bool wantOutput0 = true;
  bool wantRowSum = true;
  if (auto failure = readOutputSelection(request, wantOutput0, wantRowSum)) {
    return badRequest(*failure);
  }
  PreparedInference prepared;
  prepared.batchSize = n;
  for (const Tensor& t : tensors) {
    prepared.poisoned = prepared.poisoned || std::find(t.values.begin(), t.values.end(),
                                                       options.poisonValue) != t.values.end();
  }
  prepared.responseBody =
      kserveResponse(request, tensors, n, model, version, wantOutput0, wantRowSum);
  return prepared;
}

PrepareResult prepareTfPredict(std::string_view body, const FormatOptions& options) {
  std::string error;
  const json request = parseBody(body, error);
  if (!error.empty()) return badRequest(error);
  if (!request.is_object()) return badRequest("request must be a JSON object");
  const bool hasInstances = request.contains("instances");
  const bool hasInputs = request.contains("inputs");
  if (hasInstances == hasInputs) {
    return badRequest("request must have exactly one of \"instances\" or \"inputs\"");
  }
  const json& payload = hasInstances ? request["instances"] : request["inputs"];
  uint64_t n = 1;
  if (payload.is_array()) {
    n = payload.size();
  } else if (hasInstances) {
    return badRequest("\"instances\" must be an array");
  } else if (payload.is_object() && !payload.empty() && payload.begin()->is_array()) {
    n = payload.begin()->size();  // columnar: the first named tensor's outer dimension
  }
  if (n == 0) return badRequest("batch must hold at least one instance");
  if (n > options.maxBatch) {
    return badRequest("batch size " + std::to_string(n) + " exceeds the model's max batch " +
                      std::to_string(options.maxBatch));
  }
  PreparedInference prepared;
  prepared.batchSize = n;
  json mapped;
  if (!transformInstance(payload, options.poisonValue, 0, prepared.poisoned, mapped)) {
    return badRequest("input nested too deeply");
  }
  prepared.responseBody =
      json{{hasInstances ? "predictions" : "outputs", std::move(mapped)}}.dump();
  return prepared;
}

PrepareResult prepareEmbeddings(std::string_view body, const ModelCatalog& catalog,
                                const FormatOptions& options) {
  std::string error;
  const json request = parseBody(body, error);
  if (!error.empty()) return openAiError(400, error, "", "");
  if (!request.is_object()) return openAiError(400, "request must be a JSON object", "", "");
  const auto model = request.find("model");
  if (model == request.end() || !model->is_string()) {
    return openAiError(400, "'model' must be a string", "model", "");
  }
  const std::string modelName = model->get<std::string>();
  if (!catalog.serves(modelName)) {
    return openAiError(404, "The model '" + modelName + "' does not exist", "model",
                       "model_not_found");
  }
  std::vector<std::string> texts;
  const auto input = request.find("input");
  if (input != request.end() && input->is_string()) {
    texts.push_back(input->get<std::string>());
  } else if (input != request.end() && input->is_array() && !input->empty() &&
             std::all_of(input->begin(), input->end(),
                         [](const json& s) { return s.is_string(); })) {
    for (const json& s : *input) texts.push_back(s.get<std::string>());
  } else {
    return openAiError(400, "'input' must be a string or a non-empty array of strings", "input",
                       "");
  }
  if (texts.size() > options.maxBatch) {
    return openAiError(400, "too many inputs: at most " + std::to_string(options.maxBatch), "input",
                       "");
  }
  uint32_t dims = options.embeddingDims;
  if (auto d = request.find("dimensions"); d != request.end()) {
    if (!d->is_number_integer() || d->get<int64_t>() < 1 || d->get<int64_t>() > 65536) {
      return openAiError(400, "'dimensions' must be an integer in 1..65536", "dimensions", "");
    }
    dims = d->get<uint32_t>();
  }
  if (auto f = request.find("encoding_format");
      f != request.end() && !(f->is_string() && f->get<std::string>() == "float")) {
    return openAiError(400, "only encoding_format 'float' is supported", "encoding_format", "");
  }
  json data = json::array();
  uint64_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    tokens += countWords(texts[i]);
    data.push_back(
        {{"object", "embedding"}, {"index", i}, {"embedding", embedText(texts[i], dims)}});
  }
  PreparedInference prepared;
  prepared.batchSize = texts.size();
  prepared.responseBody = json{{"object", "list"},
                               {"model", modelName},
                               {"data", std::move(data)},
                               {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}
                              .dump();
  return prepared;
}

nlohmann::json kserveModelMetadata(std::string_view model, std::string_view version,
                                   const FormatOptions& options) {
  return json{{"name", model},
              {"versions", {version.empty() ? std::string_view("1") : version}},
              {"platform", "rampart_simulated_gpu"},
              {"max_batch_size", options.maxBatch},
              {"inputs", {{{"name", "input0"}, {"datatype", "FP32"}, {"shape", {-1, -1}}}}},
              {"outputs",
               {{{"name", "output0"}, {"datatype", "FP32"}, {"shape", {-1, -1}}},
                {{"name", "row_sum"}, {"datatype", "FP32"}, {"shape", {-1, 1}}}}}};
}

nlohmann::json tfModelStatus(std::string_view version) {
  return json{{"model_version_status",
               {{{"version", version.empty() ? std::string_view("1") : version},
                 {"state", "AVAILABLE"},
                 {"status", {{"error_code", "OK"}, {"error_message", ""}}}}}}};
}

std::vector<double> embedText(std::string_view text, uint32_t dims) {
  // FNV-1a over the text, then one splitmix64 finalisation per component.
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  std::vector<double> v(dims);
  double norm = 0;
  for (uint32_t d = 0; d < dims; ++d) {
    const uint64_t bits = mix64(hash + 0x9E3779B97F4A7C15ull * (d + 1));
    v[d] = static_cast<double>(bits >> 11) * 0x1.0p-52 - 1.0;  // uniform in [-1, 1)
    norm += v[d] * v[d];
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (double& x : v) x /= norm;
  }
  return v;
}

}  // namespace rampart::gpu_backend

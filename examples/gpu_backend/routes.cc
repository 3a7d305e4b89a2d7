#include "examples/gpu_backend/routes.h"

#include <charconv>
#include <vector>

namespace rampart::gpu_backend {
namespace {

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

std::optional<uint64_t> parseNumber(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

// /v2/models/{m}[/versions/{v}][/ready|/infer]
Route matchKServeModel(const std::vector<std::string_view>& parts) {
  Route route;
  route.model = std::string(parts[2]);
  size_t next = 3;
  if (parts.size() > 4 && parts[3] == "versions") {
    route.version = std::string(parts[4]);
    next = 5;
  }
  if (parts.size() == next) {
    route.endpoint = Endpoint::kModelMetadata;
  } else if (parts.size() == next + 1 && parts[next] == "ready") {
    route.endpoint = Endpoint::kModelReady;
  } else if (parts.size() == next + 1 && parts[next] == "infer") {
    route.endpoint = Endpoint::kKServeInfer;
  }
  return route;
}

// /v1/models/{m}[/versions/{v}][:predict]
Route matchTfModel(const std::vector<std::string_view>& parts) {
  Route route;
  std::string_view last = parts.back();
  bool predict = false;
  if (size_t colon = last.rfind(':'); colon != std::string_view::npos) {
    if (last.substr(colon) != ":predict") return route;
    predict = true;
    last = last.substr(0, colon);
  }
  if (last.empty()) return route;
  if (parts.size() == 3) {
    route.model = std::string(last);
  } else if (parts.size() == 5 && parts[3] == "versions") {
    route.model = std::string(parts[2]);
    route.version = std::string(last);
  } else {
    return route;
  }
  route.endpoint = predict ? Endpoint::kTfPredict : Endpoint::kTfModelStatus;
  return route;
}

Route withNumber(Endpoint endpoint, const std::vector<std::string_view>& parts) {
  Route route;
  if (parts.size() != 2) return route;
  route.endpoint = endpoint;
  route.number = parseNumber(parts[1]);
  return route;
}

}  // namespace

Route matchRoute(std::string_view path) {
  const std::vector<std::string_view> parts = splitPath(path);
  Route none;
  if (parts.empty()) return none;
  const std::string_view head = parts[0];
  const size_t n = parts.size();
  if (head == "v2") {
    if (n == 1) return Route{Endpoint::kServerMetadata, {}, {}, {}};
    if (n == 3 && parts[1] == "health" && parts[2] == "ready") {
      return Route{Endpoint::kHealthReady, {}, {}, {}};
    }
    if (n == 3 && parts[1] == "health" && parts[2] == "live") {
      return Route{Endpoint::kHealthLive, {}, {}, {}};
    }
    if (n >= 3 && parts[1] == "models") return matchKServeModel(parts);
    return none;
  }
  if (head == "v1") {
    if (n == 2 && parts[1] == "embeddings") return Route{Endpoint::kEmbeddings, {}, {}, {}};
    if (n >= 3 && parts[1] == "models") return matchTfModel(parts);
    return none;
  }
  if (head == "stats") {
    if (n == 1) return Route{Endpoint::kStats, {}, {}, {}};
    if (n == 2 && parts[1] == "reset") return Route{Endpoint::kStatsReset, {}, {}, {}};
    return none;
  }
  if (head == "control" && n == 1) return Route{Endpoint::kControl, {}, {}, {}};
  if (head == "echo") return Route{Endpoint::kEcho, {}, {}, {}};
  if (head == "sink" && n == 1) return Route{Endpoint::kSink, {}, {}, {}};
  if (head == "headers" && n == 1) return Route{Endpoint::kHeaders, {}, {}, {}};
  if (head == "bytes") return withNumber(Endpoint::kBytes, parts);
  if (head == "status") return withNumber(Endpoint::kStatus, parts);
  if (head == "delay") return withNumber(Endpoint::kDelay, parts);
  return none;
}

bool isInference(Endpoint endpoint) {
  return endpoint == Endpoint::kKServeInfer || endpoint == Endpoint::kTfPredict ||
         endpoint == Endpoint::kEmbeddings;
}

}  // namespace rampart::gpu_backend

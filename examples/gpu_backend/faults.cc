#include "examples/gpu_backend/faults.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace rampart::gpu_backend {
namespace {

enum class KeyType {
  kNumber,   // a real number within [min, max]
  kInteger,  // a whole number within [min, max]
  kBool,     // true / false
};

// One runtime setting: how to read it, check it and store it.
struct ControlKey {
  std::string_view name;
  KeyType type;
  double min;
  double max;
  std::string_view help;
  double (*get)(const ControlSettings&);
  void (*set)(ControlSettings&, double);
};

// Seeds stay below 2^53 so they survive the trip through a JSON double.
constexpr double kMaxSeed = 9007199254740991.0;

const std::array<ControlKey, 10> kKeys = {{
    {"base_latency_ms", KeyType::kNumber, 0, 600000, "fixed cost of one batch (ms)",
     [](const ControlSettings& s) { return s.latency.baseMs; },
     [](ControlSettings& s, double v) { s.latency.baseMs = v; }},
    {"per_item_ms", KeyType::kNumber, 0, 600000, "added cost per item in a batch (ms)",
     [](const ControlSettings& s) { return s.latency.perItemMs; },
     [](ControlSettings& s, double v) { s.latency.perItemMs = v; }},
    {"slow_factor", KeyType::kNumber, 0, 10000, "multiplies every batch's execution time",
     [](const ControlSettings& s) { return s.faults.slowFactor; },
     [](ControlSettings& s, double v) { s.faults.slowFactor = v; }},
    {"error_rate", KeyType::kNumber, 0, 1, "fraction of inference requests answered error_status",
     [](const ControlSettings& s) { return s.faults.errorRate; },
     [](ControlSettings& s, double v) { s.faults.errorRate = v; }},
    {"error_status", KeyType::kInteger, 200, 599, "status for error_rate (default 503)",
     [](const ControlSettings& s) { return static_cast<double>(s.faults.errorStatus); },
     [](ControlSettings& s, double v) { s.faults.errorStatus = static_cast<int>(v); }},
    {"hang", KeyType::kBool, 0, 1, "accept inference requests and never answer",
     [](const ControlSettings& s) { return s.faults.hang ? 1.0 : 0.0; },
     [](ControlSettings& s, double v) { s.faults.hang = v != 0; }},
    {"reset_rate", KeyType::kNumber, 0, 1, "fraction of responses cut off by a connection reset",
     [](const ControlSettings& s) { return s.faults.resetRate; },
     [](ControlSettings& s, double v) { s.faults.resetRate = v; }},
    {"capacity", KeyType::kInteger, 0, 1e9, "max queued+executing requests, 503 beyond (0 = off)",
     [](const ControlSettings& s) { return static_cast<double>(s.faults.capacity); },
     [](ControlSettings& s, double v) { s.faults.capacity = static_cast<uint64_t>(v); }},
    {"fail_health", KeyType::kBool, 0, 1, "health and model-ready endpoints answer 503",
     [](const ControlSettings& s) { return s.faults.failHealth ? 1.0 : 0.0; },
     [](ControlSettings& s, double v) { s.faults.failHealth = v != 0; }},
    {"seed", KeyType::kInteger, 0, kMaxSeed, "seed of the fault generator",
     [](const ControlSettings& s) { return static_cast<double>(s.seed); },
     [](ControlSettings& s, double v) { s.seed = static_cast<uint64_t>(v); }},
}};

const ControlKey* findKey(std::string_view name) {
  for (const ControlKey& key : kKeys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

// Checks a value against its key's type and bounds.
std::optional<std::string> checkRange(const ControlKey& key, double value) {
  if (!std::isfinite(value) || value < key.min || value > key.max) {
    return std::string(key.name) + ": must be between " + nlohmann::json(key.min).dump() + " and " +
           nlohmann::json(key.max).dump();
  }
  if (key.type == KeyType::kInteger && std::floor(value) != value) {
    return std::string(key.name) + ": must be a whole number";
  }
  return std::nullopt;
}

// Reads a JSON value for `key` into a double; returns an error message on a type mismatch.
std::optional<std::string> readJson(const ControlKey& key, const nlohmann::json& value,
                                    double& out) {
  if (key.type == KeyType::kBool) {
    if (!value.is_boolean()) return std::string(key.name) + ": must be true or false";
    out = value.get<bool>() ? 1 : 0;
    return std::nullopt;
  }
  if (!value.is_number()) return std::string(key.name) + ": must be a number";
  out = value.get<double>();
  return checkRange(key, out);
}

}  // namespace

std::chrono::microseconds batchCost(const ControlSettings& settings, uint64_t batchSize) {
  const double ms =
      (settings.latency.baseMs + settings.latency.perItemMs * static_cast<double>(batchSize)) *
      settings.faults.slowFactor;
  return std::chrono::microseconds(static_cast<int64_t>(std::llround(ms * 1000.0)));
}

nlohmann::json controlToJson(const ControlSettings& settings) {
  nlohmann::json out = nlohmann::json::object();
  for (const ControlKey& key : kKeys) {
    const double v = key.get(settings);
    switch (key.type) {
      case KeyType::kBool:
        out[std::string(key.name)] = v != 0;
        break;
      case KeyType::kInteger:
        out[std::string(key.name)] = static_cast<uint64_t>(v);
        break;
      case KeyType::kNumber:
        out[std::string(key.name)] = v;
        break;
    }
  }
  return out;
}

std::optional<std::string> applyControlJson(const nlohmann::json& patch,
                                            ControlSettings& settings) {
  if (!patch.is_object()) return std::string("control body must be a JSON object");
  ControlSettings next = settings;
  for (const auto& [name, value] : patch.items()) {
    const ControlKey* key = findKey(name);
    if (key == nullptr) return "unknown control key '" + name + "'";
    double parsed = 0;
    if (auto error = readJson(*key, value, parsed)) return error;
    key->set(next, parsed);
  }
  settings = next;
  return std::nullopt;
}

std::optional<std::string> applyControlText(std::string_view name, std::string_view text,
                                            ControlSettings& settings, bool& known) {
  const ControlKey* key = findKey(name);
  known = key != nullptr;
  if (key == nullptr) return "unknown option";
  double value = 0;
  if (key->type == KeyType::kBool) {
    if (text.empty() || text == "true" || text == "1") {
      value = 1;
    } else if (text == "false" || text == "0") {
      value = 0;
    } else {
      return std::string(name) + ": must be true or false";
    }
  } else {
    const std::string copy(text);
    char* end = nullptr;
    value = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size()) {
      return std::string(name) + ": '" + copy + "' is not a number";
    }
    if (auto error = checkRange(*key, value)) return error;
  }
  key->set(settings, value);
  return std::nullopt;
}

std::string controlFlagsHelp() {
  std::string out;
  for (const ControlKey& key : kKeys) {
    std::string flag = "--" + std::string(key.name);
    for (char& c : flag) {
      if (c == '_') c = '-';
    }
    if (key.type != KeyType::kBool) flag += " X";
    out += "  " + flag;
    out.append(flag.size() < 24 ? 24 - flag.size() : 1, ' ');
    out += std::string(key.help) + "\n";
  }
  return out;
}

FaultDecision FaultInjector::decide(const FaultConfig& config) {
  const double errorDraw = rng_.uniform();
  const double resetDraw = rng_.uniform();
  return FaultDecision{errorDraw < config.errorRate, resetDraw < config.resetRate};
}

}  // namespace rampart::gpu_backend

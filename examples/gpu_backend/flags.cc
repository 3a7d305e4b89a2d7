#include "examples/gpu_backend/flags.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace rampart::gpu_backend {
namespace {

bool parseUnsigned(std::string_view text, uint64_t max, uint64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && ptr == end && out <= max;
}

std::vector<std::string> splitModels(std::string_view list) {
  std::vector<std::string> models;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    if (comma > start) models.emplace_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return models;
}

// Options that take no value.
bool isBareFlag(std::string_view name) {
  return name == "log" || name == "help" || name == "hang" || name == "fail-health";
}

// Applies one backend (non-/control) option; returns false when `name` is not one.
bool applyBackendOption(std::string_view name, std::string_view value, Options& options,
                        std::string& error) {
  uint64_t number = 0;
  if (name == "address") {
    if (value.empty()) error = "--address needs a value";
    options.address = std::string(value);
  } else if (name == "port") {
    if (!parseUnsigned(value, 65535, number)) error = "--port must be 0..65535";
    options.port = static_cast<uint16_t>(number);
  } else if (name == "max-batch") {
    if (!parseUnsigned(value, 1u << 24, number) || number == 0) error = "--max-batch must be >= 1";
    options.maxBatch = number;
  } else if (name == "models") {
    options.models = splitModels(value);
  } else if (name == "embedding-dims") {
    if (!parseUnsigned(value, 65536, number) || number == 0) {
      error = "--embedding-dims must be 1..65536";
    }
    options.embeddingDims = static_cast<uint32_t>(number);
  } else if (name == "poison-value") {
    const std::string copy(value);
    char* end = nullptr;
    options.poisonValue = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size()) error = "--poison-value: not a number";
  } else if (name == "max-body-bytes") {
    if (!parseUnsigned(value, uint64_t{1} << 62, number)) error = "--max-body-bytes: bad size";
    options.maxBodyBytes = number == 0 ? -1 : static_cast<int64_t>(number);
  } else if (name == "log") {
    options.log = value.empty() || value == "true" || value == "1";
  } else {
    return false;
  }
  return true;
}

}  // namespace

FlagResult parseFlags(int argc, const char* const* argv) {
  FlagResult result;
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, 2) != "--") {
      result.error = "unexpected argument '" + std::string(arg) + "'";
      return result;
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::string_view value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (!isBareFlag(name)) {
      if (i + 1 >= argc) {
        result.error = "--" + std::string(name) + " needs a value";
        return result;
      }
      value = argv[++i];
    }
    if (name == "help") {
      result.help = true;
      return result;
    }
    std::string error;
    if (!applyBackendOption(name, value, options, error)) {
      std::string key(name);
      for (char& c : key) {
        if (c == '-') c = '_';
      }
      bool known = false;
      if (auto failure = applyControlText(key, value, options.control, known)) {
        error = known ? "--" + std::string(name) + ": " + *failure
                      : "unknown option --" + std::string(name);
      }
    }
    if (!error.empty()) {
      result.error = error;
      return result;
    }
  }
  result.options = std::move(options);
  return result;
}

std::string usage() {
  return "gpu_backend: a simulated GPU inference server (KServe v2, TF Serving, OpenAI\n"
         "embeddings) with fault switches and utility endpoints for proxy tests.\n\n"
         "Usage: gpu_backend [--flag value | --flag=value]...\n\n"
         "  --address A             listen address (default 127.0.0.1)\n"
         "  --port N                listen port, 0 = ephemeral (default 8000); prints\n"
         "                          {\"listening\":\"ADDR:PORT\"} on stdout once bound\n"
         "  --max-batch N           largest batch one request may carry (default 1024)\n"
         "  --models a,b,...        served model names (default: any name)\n"
         "  --embedding-dims N      /v1/embeddings vector length (default 8)\n"
         "  --poison-value X        an input equal to X fails its batch with 500 (default -999)\n"
         "  --max-body-bytes N      request body limit, 413 beyond (default unlimited)\n"
         "  --log                   one stderr line per request\n"
         "  --help                  this text\n\n"
         "Latency and faults (also settable at runtime with POST /control):\n" +
         controlFlagsHelp() +
         "\nDefaults: --base-latency-ms 8 --per-item-ms 0.25 --slow-factor 1 --error-status 503\n"
         "--seed 1; every fault off.\n";
}

}  // namespace rampart::gpu_backend

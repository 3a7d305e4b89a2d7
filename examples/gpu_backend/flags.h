#pragma once
// Command-line options of gpu_backend. Fault and latency flags are the
// /control keys with dashes (--error-rate = "error_rate"), parsed by the same
// table, so they take the same values.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "examples/gpu_backend/faults.h"

namespace rampart::gpu_backend {

// Everything the backend is started with.
struct Options {
  std::string address = "127.0.0.1";  // listen address
  uint16_t port = 8000;               // listen port; 0 = ephemeral
  uint64_t maxBatch = 1024;           // largest batch an inference request may carry
  std::vector<std::string> models;    // served model names; empty = any name
  uint32_t embeddingDims = 8;         // default length of /v1/embeddings vectors
  double poisonValue = -999;          // a KServe/TF value equal to this fails the whole batch
  int64_t maxBodyBytes = -1;          // request body limit (413 beyond); -1 = unlimited
  bool log = false;                   // one stderr line per request
  ControlSettings control;            // initial latency curve and faults
};

// The outcome of parsing argv: options, a request for help, or an error.
struct FlagResult {
  std::optional<Options> options;  // set when parsing succeeded
  bool help = false;               // --help was given
  std::string error;               // set when parsing failed
};

// Parses `--name value` and `--name=value` flags; bare boolean flags mean true.
FlagResult parseFlags(int argc, const char* const* argv);

// The --help text.
std::string usage();

}  // namespace rampart::gpu_backend

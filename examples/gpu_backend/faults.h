#pragma once
// Runtime settings the tests and benchmarks change while the backend runs:
// the latency curve and the fault switches. One table declares every key
// (name, type, bounds, help), and both the command-line flags and
// POST /control go through it, so a flag and its /control key can never
// disagree.
//
// FaultInjector turns the rates into per-request decisions with a seeded
// generator: it draws exactly two numbers per inference request (error, reset)
// whatever the rates are, so equal seeds give equal fault sequences.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "policy/random.h"

namespace rampart::gpu_backend {

// Switches that make the backend misbehave; all off by default.
struct FaultConfig {
  double errorRate = 0;     // fraction of inference requests answered errorStatus at once
  int errorStatus = 503;    // status used by errorRate
  double slowFactor = 1;    // multiplies every batch's execution time
  bool hang = false;        // accept inference requests and never answer them
  double resetRate = 0;     // fraction of responses cut off mid-way by closing the connection
  uint64_t capacity = 0;    // max queued + executing requests; 0 = unlimited
  bool failHealth = false;  // health and model-ready endpoints answer 503
};

// The simulated GPU's cost curve: base + perItem * n, times the slow factor.
struct LatencyConfig {
  double baseMs = 8;        // fixed cost of one batch
  double perItemMs = 0.25;  // added cost per item in the batch
};

// Everything /control reads and writes.
struct ControlSettings {
  LatencyConfig latency;
  FaultConfig faults;
  uint64_t seed = 1;  // seeds the fault generator; setting it restarts the sequence
};

// Execution time of one batch of `batchSize` items under `settings`.
std::chrono::microseconds batchCost(const ControlSettings& settings, uint64_t batchSize);

// The settings as the JSON object GET /control returns.
nlohmann::json controlToJson(const ControlSettings& settings);

// Applies a JSON object of known keys; all-or-nothing. Returns an error message
// (unknown key, wrong type, out of range) and leaves `settings` unchanged on failure.
std::optional<std::string> applyControlJson(const nlohmann::json& patch, ControlSettings& settings);

// Applies one key from text (a command-line flag value; "" for a bare boolean flag).
// Returns an error message on failure. `known` is set false when no key has this name.
std::optional<std::string> applyControlText(std::string_view key, std::string_view text,
                                            ControlSettings& settings, bool& known);

// One line per key ("  --error-rate X   fraction of ..."), for --help.
std::string controlFlagsHelp();

// The faults chosen for one inference request.
struct FaultDecision {
  bool error = false;  // answer errorStatus now
  bool reset = false;  // cut the response off mid-way
};

class FaultInjector {
 public:
  // A generator seeded with `seed`.
  explicit FaultInjector(uint64_t seed) : rng_(seed) {}
  // Restarts the decision sequence from `seed`.
  void reseed(uint64_t seed) { rng_.reseed(seed); }
  // Draws the decision for the next inference request (always two draws).
  FaultDecision decide(const FaultConfig& config);

 private:
  policy::Rng rng_;
};

}  // namespace rampart::gpu_backend

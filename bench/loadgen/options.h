#pragma once
// Command-line options of rampart_loadgen, parsed into one immutable struct.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rampart::loadgen {

using Nanos = std::chrono::nanoseconds;

// How request start times are spaced.
enum class Arrival {
  kExponential,  // Poisson process: independent exponential gaps with mean 1/rate
  kUniform,      // fixed gaps of exactly 1/rate
};

// One priority class of --priority-mix: the header value and its share of requests.
struct PriorityClass {
  std::string name;     // value sent in the priority header, e.g. "critical"
  double weight = 0.0;  // relative share (the mix need not sum to 1)
};

// Everything that shapes one run.
struct Options {
  std::string host = "127.0.0.1";  // IPv4 literal or a resolvable name
  uint16_t port = 80;
  std::string path = "/";
  std::string method = "GET";
  std::string body;
  std::vector<std::string> headers;          // "Name: value" lines, sent as given
  double rate = 0.0;                         // intended requests per second (> 0)
  Nanos duration{std::chrono::seconds(10)};  // measured seconds, after the warm-up
  Nanos warmup{0};                           // sent and in the timeline, but not in the totals
  Nanos timeout{std::chrono::seconds(10)};   // per request, from its intended start
  Nanos timelineInterval{std::chrono::seconds(1)};
  Arrival arrival = Arrival::kExponential;
  std::vector<PriorityClass> priorities;  // empty: no priority header
  std::string priorityHeader = "x-priority";
  size_t maxConnections = 2000;  // open connections at most; beyond, requests wait (counted)
  uint64_t seed = 1;             // arrival gaps and priority draws
};

// The outcome of parsing: options, or help requested, or an error message.
struct ParseResult {
  std::optional<Options> options;  // set on success
  bool help = false;               // --help was given
  std::string error;               // why parsing failed (when neither of the above)
};

// Parses argv (argv[0] is skipped).
ParseResult parseOptions(int argc, const char* const* argv);

// The --help text.
std::string usage();

// Parses "250ms", "2s", "1.5s", "1m", "500us" or a bare number of seconds; nullopt if malformed.
std::optional<Nanos> parseDuration(const std::string& text);

}  // namespace rampart::loadgen
